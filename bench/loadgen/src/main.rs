//! Load generator for the TAXII 2.1 benchmarks in `bench/`. It drives any TAXII 2.1 server (the
//! relay or a peer) with the same workload and prints one JSON line of figures per run, so that
//! `bench/run.sh` can put servers side by side. Request bodies are built before the clock
//! starts and responses are not parsed beyond what paging needs, so that the generator is not
//! the bottleneck.

use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use clap::{Args, Parser, Subcommand};
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderValue};
use serde_json::{Value, json};

mod soak;

const TAXII: &str = "application/taxii+json;version=2.1";

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Args, Clone)]
struct Target {
    /// The collection's objects URL, ending in `/objects/`.
    #[arg(long)]
    url: String,
    /// Bearer token.
    #[arg(long)]
    token: Option<String>,
    /// HTTP Basic credentials as USER:PASSWORD.
    #[arg(long)]
    basic: Option<String>,
}

#[derive(Subcommand)]
enum Cmd {
    /// POST `count` objects in envelopes of `batch`, from `concurrency` clients.
    Ingest {
        #[command(flatten)]
        target: Target,
        #[arg(long, default_value_t = 100_000)]
        count: usize,
        #[arg(long, default_value_t = 100)]
        batch: usize,
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
        /// Stop after this many seconds even if not all was posted (for slow peers).
        #[arg(long)]
        budget: Option<f64>,
        /// Post a mix of types (90% indicator, 5% malware, 5% relationship) instead of
        /// indicators only.
        #[arg(long)]
        mix: bool,
        /// Indicators whose pattern names an address, a domain, a URL and a SHA-256 each
        /// (the export benchmark), instead of an address only.
        #[arg(long)]
        rich: bool,
    },
    /// GET every object of the collection with `limit`, following `next`.
    Page {
        #[command(flatten)]
        target: Target,
        #[arg(long, default_value_t = 100)]
        limit: usize,
        #[arg(long)]
        budget: Option<f64>,
    },
    /// `requests` GETs filtered by `match[type]` and a random `added_after` between `from` and
    /// `to` (RFC 3339), sequentially; prints latency percentiles.
    Filtered {
        #[command(flatten)]
        target: Target,
        #[arg(long, default_value_t = 1000)]
        requests: usize,
        #[arg(long, default_value_t = 100)]
        limit: usize,
        #[arg(long)]
        from: String,
        #[arg(long)]
        to: String,
        #[arg(long, default_value = "indicator,malware")]
        types: String,
    },
    /// Opens `subscribers` Server-Sent Events streams on `events`, then POSTs `posts`
    /// single-indicator envelopes to `url` one after another; prints the latency from each
    /// POST's acknowledgement to each subscriber's receipt of the object.
    Sse {
        #[command(flatten)]
        target: Target,
        /// The event stream URL (`/api/v1/feeds/{feed}/events`).
        #[arg(long)]
        events: String,
        #[arg(long, default_value_t = 1000)]
        subscribers: usize,
        #[arg(long, default_value_t = 50)]
        posts: usize,
        /// Pause between posts, in milliseconds.
        #[arg(long, default_value_t = 50)]
        gap_ms: u64,
    },
    /// Many clients mixing polls, posts and live streams for a while (see `soak.rs`).
    Soak(soak::SoakArgs),
    /// Pages through the collection and reports which of the acknowledged ids (a file of
    /// `soak --acked`) are missing.
    Verify {
        #[command(flatten)]
        target: Target,
        #[arg(long)]
        acked: std::path::PathBuf,
    },
}

fn client(t: &Target) -> Result<reqwest::Client> {
    let mut h = HeaderMap::new();
    h.insert(ACCEPT, HeaderValue::from_static(TAXII));
    if let Some(tok) = &t.token {
        h.insert(
            "authorization",
            HeaderValue::from_str(&format!("Bearer {tok}"))?,
        );
    } else if let Some(b) = &t.basic {
        use base64::Engine as _;
        let encoded = base64::engine::general_purpose::STANDARD.encode(b.as_bytes());
        h.insert(
            "authorization",
            HeaderValue::from_str(&format!("Basic {encoded}"))?,
        );
    }
    Ok(reqwest::Client::builder()
        .default_headers(h)
        .pool_max_idle_per_host(64)
        .timeout(Duration::from_secs(600))
        .build()?)
}

fn object(i: usize, mix: bool, rich: bool) -> Value {
    let id = uuid::Uuid::new_v4();
    let ts = "2026-01-01T00:00:00.000Z";
    let kind = if mix { i % 20 } else { 0 };
    if rich {
        // An odd multiplier permutes 2^24 addresses: distinct, and scattered so that
        // aggregation does not fold the list away.
        let x = (i as u64).wrapping_mul(2_654_435_761) & 0xff_ffff;
        let ip = format!("45.{}.{}.{}", (x >> 16) & 255, (x >> 8) & 255, x & 255);
        let host = format!("h{i}.bench-c2.xyz");
        let hash = format!("{:064x}", i as u128 * 0x9e37_79b9_7f4a_7c15);
        return json!({
            "type": "indicator", "spec_version": "2.1", "id": format!("indicator--{id}"),
            "created": ts, "modified": ts, "name": format!("C2: {host}"),
            "indicator_types": ["malicious-activity"],
            "pattern": format!("[ipv4-addr:value = '{ip}'] OR [domain-name:value = '{host}'] OR \
                                [url:value = 'http://{host}/gate.php?id={i}'] OR \
                                [file:hashes.'SHA-256' = '{hash}']"),
            "pattern_type": "stix", "valid_from": ts, "confidence": 80
        });
    }
    match kind {
        18 => json!({
            "type": "malware", "spec_version": "2.1", "id": format!("malware--{id}"),
            "created": ts, "modified": ts, "name": format!("family {i}"), "is_family": true
        }),
        19 => json!({
            "type": "relationship", "spec_version": "2.1", "id": format!("relationship--{id}"),
            "created": ts, "modified": ts, "relationship_type": "indicates",
            "source_ref": format!("indicator--{}", uuid::Uuid::new_v4()),
            "target_ref": format!("malware--{}", uuid::Uuid::new_v4())
        }),
        _ => {
            let ip = format!("198.{}.{}.{}", (i >> 16) & 255, (i >> 8) & 255, i & 255);
            json!({
                "type": "indicator", "spec_version": "2.1", "id": format!("indicator--{id}"),
                "created": ts, "modified": ts, "name": format!("C2: {ip}"),
                "description": "Command and control server observed by a member's sandbox",
                "indicator_types": ["malicious-activity"],
                "pattern": format!("[ipv4-addr:value = '{ip}']"), "pattern_type": "stix",
                "valid_from": ts, "labels": ["c2"], "confidence": 80
            })
        }
    }
}

fn report(v: Value) -> Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{v}")?;
    Ok(())
}

async fn ingest(
    t: Target,
    count: usize,
    batch: usize,
    concurrency: usize,
    budget: Option<f64>,
    mix: bool,
    rich: bool,
) -> Result<()> {
    let http = client(&t)?;
    let envelopes = count.div_ceil(batch);
    // Bodies are built ahead in chunks handed out through a shared counter.
    let bodies: Arc<Vec<String>> = Arc::new(
        (0..envelopes)
            .map(|e| {
                let objs: Vec<Value> = (e * batch..((e + 1) * batch).min(count))
                    .map(|i| object(i, mix, rich))
                    .collect();
                json!({ "objects": objs }).to_string()
            })
            .collect(),
    );
    let next = Arc::new(AtomicUsize::new(0));
    let posted = Arc::new(AtomicUsize::new(0));
    let deadline = budget.map(|b| Instant::now() + Duration::from_secs_f64(b));
    let start = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (http, bodies, next, posted, url) = (
                http.clone(),
                bodies.clone(),
                next.clone(),
                posted.clone(),
                t.url.clone(),
            );
            tokio::spawn(async move {
                loop {
                    if deadline.is_some_and(|d| Instant::now() > d) {
                        return Ok::<(), anyhow::Error>(());
                    }
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(body) = bodies.get(i) else {
                        return Ok(());
                    };
                    let r = http
                        .post(&url)
                        .header(CONTENT_TYPE, TAXII)
                        .body(body.clone())
                        .send()
                        .await?;
                    let status = r.status();
                    let text = r.text().await?;
                    if status.as_u16() != 202 {
                        bail!("POST answered {status}: {text}");
                    }
                    let s: Value = serde_json::from_str(&text)?;
                    let ok = s["success_count"].as_u64().unwrap_or(0) as usize;
                    posted.fetch_add(ok, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for w in workers {
        w.await??;
    }
    let secs = start.elapsed().as_secs_f64();
    let n = posted.load(Ordering::Relaxed);
    report(
        json!({"phase": "ingest", "objects": n, "secs": secs, "rate": n as f64 / secs, "complete": n == count}),
    )
}

async fn page(t: Target, limit: usize, budget: Option<f64>) -> Result<()> {
    let http = client(&t)?;
    let deadline = budget.map(|b| tokio::time::Instant::now() + Duration::from_secs_f64(b));
    let start = Instant::now();
    let (mut objects, mut pages) = (0usize, 0usize);
    let mut next: Option<String> = None;
    let complete = loop {
        let mut req = http.get(&t.url).query(&[("limit", limit.to_string())]);
        if let Some(n) = &next {
            req = req.query(&[("next", n)]);
        }
        let fetch = async {
            let r = req.send().await?;
            let status = r.status();
            let text = r.text().await?;
            if status.as_u16() != 200 {
                bail!("GET answered {status}: {text}");
            }
            serde_json::from_str::<Value>(&text).context("envelope")
        };
        // The budget also cuts off a request in flight: a slow peer's page may take minutes.
        let env = match deadline {
            Some(d) => match tokio::time::timeout_at(d, fetch).await {
                Ok(env) => env?,
                Err(_) => break false,
            },
            None => fetch.await?,
        };
        objects += env["objects"].as_array().map_or(0, Vec::len);
        pages += 1;
        match (env["more"].as_bool(), env["next"].as_str()) {
            (Some(true), Some(n)) => next = Some(n.to_owned()),
            (Some(true), None) => bail!("more without next"),
            _ => break true,
        }
    };
    let secs = start.elapsed().as_secs_f64();
    report(
        json!({"phase": "page", "objects": objects, "pages": pages, "secs": secs, "rate": objects as f64 / secs, "complete": complete}),
    )
}

fn parse_ts(s: &str) -> Result<i64> {
    Ok(s.parse::<jiff::Timestamp>()
        .with_context(|| format!("timestamp {s}"))?
        .as_microsecond())
}

fn fmt_ts(micros: i64) -> Result<String> {
    Ok(jiff::Timestamp::from_microsecond(micros)?
        .strftime("%Y-%m-%dT%H:%M:%S.%6fZ")
        .to_string())
}

async fn filtered(
    t: Target,
    requests: usize,
    limit: usize,
    from: String,
    to: String,
    types: String,
) -> Result<()> {
    let http = client(&t)?;
    let (lo, hi) = (parse_ts(&from)?, parse_ts(&to)?);
    let types: Vec<&str> = types.split(',').collect();
    // The random points are drawn before timing; a fixed stride keeps runs comparable.
    let queries: Vec<(String, String)> = (0..requests)
        .map(|i| {
            let at = lo
                + ((hi - lo) as i128 * ((i * 7919) % requests) as i128 / requests as i128) as i64;
            Ok((types[i % types.len()].to_owned(), fmt_ts(at)?))
        })
        .collect::<Result<_>>()?;
    let mut lat = Vec::with_capacity(requests);
    let mut returned = 0usize;
    for (ty, after) in queries {
        let t0 = Instant::now();
        let r = http
            .get(&t.url)
            .query(&[
                ("match[type]", ty.as_str()),
                ("added_after", after.as_str()),
                ("limit", &limit.to_string()),
            ])
            .send()
            .await?;
        let status = r.status();
        let body = r.bytes().await?;
        lat.push(t0.elapsed().as_secs_f64() * 1000.0);
        if status.as_u16() != 200 {
            bail!("GET answered {status}: {}", String::from_utf8_lossy(&body));
        }
        returned += body.len();
    }
    lat.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        lat[((lat.len() as f64 * p).ceil() as usize)
            .saturating_sub(1)
            .min(lat.len() - 1)]
    };
    report(
        json!({"phase": "filtered", "requests": requests, "bytes": returned, "p50_ms": pct(0.5), "p99_ms": pct(0.99), "max_ms": pct(1.0)}),
    )
}

/// Reads one subscriber's stream until it has seen `want` objects (or the deadline); returns
/// when each object id arrived.
async fn subscriber(
    resp: reqwest::Response,
    want: usize,
    deadline: tokio::time::Instant,
) -> Result<Vec<(String, Instant)>> {
    let mut body = resp;
    let mut buf = String::new();
    let mut got = Vec::with_capacity(want);
    while got.len() < want {
        let chunk = match tokio::time::timeout_at(deadline, body.chunk()).await {
            Ok(c) => c?,
            Err(_) => break,
        };
        let Some(chunk) = chunk else { break };
        let at = Instant::now();
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            for line in block.lines() {
                if let Some(data) = line.strip_prefix("data:") {
                    let v: Value = serde_json::from_str(data.trim_start())?;
                    if let Some(id) = v["object"]["id"].as_str() {
                        got.push((id.to_owned(), at));
                    }
                }
            }
        }
    }
    Ok(got)
}

async fn sse(
    t: Target,
    events: String,
    subscribers: usize,
    posts: usize,
    gap_ms: u64,
) -> Result<()> {
    let http = client(&t)?;
    let mut streams = Vec::with_capacity(subscribers);
    for _ in 0..subscribers {
        let r = http
            .get(&events)
            .header(ACCEPT, "text/event-stream")
            .send()
            .await?;
        if r.status().as_u16() != 200 {
            bail!("GET {events} answered {}", r.status());
        }
        streams.push(r);
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60 + posts as u64);
    let readers: Vec<_> = streams
        .into_iter()
        .map(|r| tokio::spawn(subscriber(r, posts, deadline)))
        .collect();
    let mut acked = std::collections::HashMap::new();
    for i in 0..posts {
        let obj = object(i, false, false);
        let id = obj["id"].as_str().unwrap_or_default().to_owned();
        let r = http
            .post(&t.url)
            .header(CONTENT_TYPE, TAXII)
            .body(json!({ "objects": [obj] }).to_string())
            .send()
            .await?;
        let at = Instant::now();
        if r.status().as_u16() != 202 {
            bail!("POST answered {}", r.status());
        }
        acked.insert(id, at);
        tokio::time::sleep(Duration::from_millis(gap_ms)).await;
    }
    let mut lat = Vec::with_capacity(subscribers * posts);
    let mut missing = 0usize;
    for r in readers {
        let got = r.await??;
        missing += posts.saturating_sub(got.len());
        for (id, at) in got {
            if let Some(ack) = acked.get(&id) {
                // Received before the client read the acknowledgement: no delay at all.
                lat.push(at.saturating_duration_since(*ack).as_secs_f64() * 1000.0);
            }
        }
    }
    if lat.is_empty() {
        bail!("no subscriber received anything");
    }
    lat.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        lat[((lat.len() as f64 * p).ceil() as usize)
            .saturating_sub(1)
            .min(lat.len() - 1)]
    };
    report(json!({
        "phase": "sse", "subscribers": subscribers, "posts": posts, "deliveries": lat.len(),
        "missing": missing, "p50_ms": pct(0.5), "p99_ms": pct(0.99), "max_ms": pct(1.0)
    }))
}

#[tokio::main]
async fn main() -> Result<()> {
    match Cli::parse().command {
        Cmd::Ingest {
            target,
            count,
            batch,
            concurrency,
            budget,
            mix,
            rich,
        } => ingest(target, count, batch, concurrency, budget, mix, rich).await,
        Cmd::Page {
            target,
            limit,
            budget,
        } => page(target, limit, budget).await,
        Cmd::Filtered {
            target,
            requests,
            limit,
            from,
            to,
            types,
        } => filtered(target, requests, limit, from, to, types).await,
        Cmd::Sse {
            target,
            events,
            subscribers,
            posts,
            gap_ms,
        } => sse(target, events, subscribers, posts, gap_ms).await,
        Cmd::Soak(args) => soak::soak(args).await,
        Cmd::Verify { target, acked } => soak::verify(target, acked).await,
    }
}
