//! The metrics benchmark (`bash bench/metrics.sh`): fills a fresh store with `--reports` first
//! reports from `--orgs` organisations (objects of 1,000 IPv4 observables, three in ten drawn
//! from a shared hot set so that members overlap; one object in thirty names C2 servers),
//! then measures
//! - a full recomputation of coverage and lead times from the reports (target: under 30 s at
//!   10,000,000 reports);
//! - the incremental update: envelopes of 100 indicators (one address each, one in ten a C2
//!   server's) posted with
//!   metrics, beside the same shape of envelope posted without (the peer: what ingest costs
//!   anyway); the difference is the metrics' share (target: under 5 ms an envelope);
//! - the queries the API answers (coverage, lead times, a month of daily counts).

use std::io::Write;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Parser;
use relay_core::metrics::{Category, MetricsInput};
use relay_core::status::StatusDraft;
use relay_core::store::{AddObjects, NewObject};
use relay_core::tlp::Tlp;
use relay_core::{AuditEntry, Change, NewOrg, OrgKind, Relay, RelayConfig, Sector, Store};
use stix::Timestamp;
use stix::observable::{Kind, Observable};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
struct Args {
    /// First reports to fill the store with.
    #[arg(long, default_value_t = 10_000_000)]
    reports: u64,
    #[arg(long, default_value_t = 50)]
    orgs: usize,
    /// Envelopes timed for the incremental update (each way).
    #[arg(long, default_value_t = 200)]
    envelopes: usize,
    /// The data directory (fresh).
    #[arg(long)]
    dir: std::path::PathBuf,
}

/// A small, fast generator (xorshift), seeded for repeatable runs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

const HOT: u64 = 2_000_000;

/// An address: three in ten from the hot set every member draws from, else from the rest of
/// the IPv4 space.
fn address(rng: &mut Rng) -> String {
    let r = rng.next();
    let n = if r % 10 < 3 {
        (r >> 8) % HOT
    } else {
        HOT + (r >> 8) % (u64::from(u32::MAX) - HOT)
    };
    let a = n as u32;
    format!(
        "{}.{}.{}.{}",
        a >> 24,
        (a >> 16) & 255,
        (a >> 8) & 255,
        a & 255
    )
}

/// An indicator naming `observables`; counted for metrics unless `metrics` is false, a C2
/// server's when `c2`.
fn object(feed: &str, observables: Vec<Observable>, metrics: bool, c2: bool) -> NewObject {
    let id = format!("indicator--{}", uuid::Uuid::new_v4());
    NewObject {
        feed_id: feed.to_owned(),
        body: format!("{{\"type\":\"indicator\",\"id\":\"{id}\"}}"),
        id,
        object_type: "indicator".into(),
        spec_version: "2.1".into(),
        version: Some(Timestamp::now()),
        observables,
        warnings: Vec::new(),
        tlp: Tlp::Green,
        recipients: Vec::new(),
        original_body: None,
        confidence: None,
        note: None,
        revoked: false,
        valid_until: None,
        metrics: metrics.then(|| MetricsInput {
            category: c2.then_some(Category::C2),
            reported_refs: Vec::new(),
        }),
        refs: Vec::new(),
        source_peer: None,
    }
}

/// A post by `org` to the feed `feed_id`, which it reads up to TLP:GREEN.
fn envelope(
    org: i64,
    who: &relay_core::Principal,
    feed_id: &str,
    objects: Vec<NewObject>,
) -> AddObjects {
    AddObjects {
        owner_user_id: who.user_id,
        poster_org: org,
        status: StatusDraft {
            id: uuid::Uuid::new_v4().to_string(),
            request_timestamp: Timestamp::now().to_string(),
            total_count: objects.len() as u64,
            failures: Vec::new(),
        },
        objects,
        audit: AuditEntry::by(who, "objects.add"),
        read_scope: vec![(
            feed_id.to_owned(),
            relay_core::policy::Visibility {
                everything: false,
                open_up_to: Some(Tlp::Green),
                org,
            },
        )],
    }
}

fn ips(rng: &mut Rng, n: usize) -> Vec<Observable> {
    (0..n)
        .map(|_| Observable {
            kind: Kind::Ipv4,
            value: address(rng),
        })
        .collect()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let store: Arc<dyn Store> =
        Arc::new(store::SqliteStore::open(&args.dir).context("opening the store")?);
    let relay = Relay::open(store.clone(), RelayConfig::default()).await?;
    relay.ensure_default_feeds().await?;
    let admin = relay.local_admin("bench").await?;
    let feed = store
        .list_feeds()
        .await?
        .into_iter()
        .find(|f| f.name == "C2")
        .context("no C2 feed")?;
    let mut orgs = Vec::new();
    for i in 0..args.orgs {
        let id = store
            .apply(
                Change::CreateOrg {
                    org: NewOrg {
                        name: format!("Member{i:02}"),
                        kind: OrgKind::Member,
                        sector: Sector::Telecom,
                        country: "JP".into(),
                        contacts: Vec::new(),
                        anonymous: false,
                    },
                    identity: format!("identity--{}", uuid::Uuid::new_v4()),
                },
                AuditEntry::by(&admin, "org.create"),
            )
            .await?;
        orgs.push(id);
    }
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let err = std::io::stderr();

    // Fill: objects of 1,000 observables, members in turn, four writers at once.
    const PER_OBJECT: usize = 1_000;
    let objects = args.reports.div_ceil(PER_OBJECT as u64);
    let started = Instant::now();
    let mut pending = tokio::task::JoinSet::new();
    for n in 0..objects {
        let org = orgs[(n as usize) % orgs.len()];
        // One object in thirty calls its addresses C2 servers.
        let o = object(&feed.id, ips(&mut rng, PER_OBJECT), true, n % 30 == 0);
        let store = store.clone();
        let add = envelope(org, &admin, &feed.id, vec![o]);
        pending.spawn(async move { store.add_objects(add).await });
        if pending.len() >= 4 {
            pending.join_next().await.context("a writer")???;
        }
        if n % 500 == 0 {
            let _ = writeln!(
                err.lock(),
                "filled {} of {} reports ({:.0}/s)",
                n * PER_OBJECT as u64,
                args.reports,
                (n * PER_OBJECT as u64) as f64 / started.elapsed().as_secs_f64()
            );
        }
    }
    while let Some(r) = pending.join_next().await {
        r??;
    }
    let fill = started.elapsed().as_secs_f64();

    // Full recomputation.
    let started = Instant::now();
    let counted = store
        .apply(
            Change::RecomputeMetrics,
            AuditEntry::by(&admin, "metrics.recompute"),
        )
        .await?;
    let recompute = started.elapsed().as_secs_f64();

    // Incremental: the same envelopes with and without metrics, interleaved.
    let mut with = Vec::new();
    let mut without = Vec::new();
    for i in 0..args.envelopes * 2 {
        let metrics = i % 2 == 0;
        let org = orgs[i % orgs.len()];
        let objects = (0..100)
            .map(|k| object(&feed.id, ips(&mut rng, 1), metrics, k % 10 == 0))
            .collect();
        let add = envelope(org, &admin, &feed.id, objects);
        let started = Instant::now();
        store.add_objects(add).await?;
        let ms = started.elapsed().as_secs_f64() * 1e3;
        if metrics {
            with.push(ms)
        } else {
            without.push(ms)
        }
    }
    with.sort_by(f64::total_cmp);
    without.sort_by(f64::total_cmp);

    // Queries.
    let time = |started: Instant| started.elapsed().as_secs_f64() * 1e3;
    let m = engine::metrics::Metrics::new(store.clone(), None);
    let started = Instant::now();
    let cov = m.coverage(&admin).await?;
    let coverage_ms = time(started);
    let started = Instant::now();
    let leads = m.lead_times(&admin).await?;
    let leads_ms = time(started);
    let now = Timestamp::now();
    let started = Instant::now();
    let daily = m
        .daily(
            &admin,
            Timestamp::from_micros(now.as_micros() - 30 * 86_400_000_000),
            Timestamp::from_micros(now.as_micros() + 1),
        )
        .await?;
    let daily_ms = time(started);
    let firsts: u64 = daily.counts.iter().map(|c| c.count).sum();

    let p = |v: &[f64]| format!("{:.2} / {:.2} ms", percentile(v, 0.5), percentile(v, 0.99));
    let share = percentile(&with, 0.5) - percentile(&without, 0.5);
    let rows = [
        (
            format!("fill: {} reports from {} organisations", counted, args.orgs),
            format!("{fill:.1} s ({:.0}/s)", counted as f64 / fill),
            String::new(),
            String::new(),
        ),
        (
            "full recomputation".into(),
            format!("{recompute:.1} s"),
            "< 30 s".into(),
            format!("{:.1}x", 30.0 / recompute),
        ),
        (
            "envelope of 100 indicators, p50 / p99: with metrics".into(),
            p(&with),
            String::new(),
            String::new(),
        ),
        (
            "  same, without metrics (the peer)".into(),
            p(&without),
            String::new(),
            format!("{:.2}x", percentile(&with, 0.5) / percentile(&without, 0.5)),
        ),
        (
            "  the metrics' share of an envelope (p50 difference)".into(),
            format!("{share:.2} ms"),
            "< 5 ms".into(),
            format!("{:.1}x", 5.0 / share.max(0.001)),
        ),
        (
            format!(
                "queries: coverage ({} rows), lead times ({}), 30 days daily ({} first reports)",
                cov.orgs.len() + cov.pairs.len(),
                leads.len(),
                firsts
            ),
            format!("{coverage_ms:.0} / {leads_ms:.0} / {daily_ms:.0} ms"),
            String::new(),
            String::new(),
        ),
    ];
    let head = ("workload", "isac-relay", "target", "ratio");
    let w = [
        rows.iter()
            .map(|r| r.0.len())
            .max()
            .unwrap_or(0)
            .max(head.0.len()),
        rows.iter()
            .map(|r| r.1.len())
            .max()
            .unwrap_or(0)
            .max(head.1.len()),
        8,
        6,
    ];
    let out = std::io::stdout();
    let mut out = out.lock();
    writeln!(
        out,
        "{:w0$}  {:w1$}  {:w2$}  {}",
        head.0,
        head.1,
        head.2,
        head.3,
        w0 = w[0],
        w1 = w[1],
        w2 = w[2]
    )?;
    writeln!(
        out,
        "{}  {}  {}  {}",
        "-".repeat(w[0]),
        "-".repeat(w[1]),
        "-".repeat(w[2]),
        "-".repeat(w[3])
    )?;
    for r in rows {
        writeln!(
            out,
            "{:w0$}  {:w1$}  {:w2$}  {}",
            r.0,
            r.1,
            r.2,
            r.3,
            w0 = w[0],
            w1 = w[1],
            w2 = w[2]
        )?;
    }
    store.close().await;
    Ok(())
}
