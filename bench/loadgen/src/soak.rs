//! The soak: many concurrent clients mixing polls, posts and live streams for a fixed time,
//! each pausing between requests as a real member's client does; latency percentiles and
//! every error. With `faults`, the server is expected to be killed and restarted meanwhile
//! (by `bench/load.sh`): requests that find it down are counted apart, and the ids of every
//! object whose POST was acknowledged are written out, for `verify` to look for afterwards.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use serde_json::{Value, json};

use crate::{TAXII, Target, client, object, report};

#[derive(clap::Args)]
pub struct SoakArgs {
    #[command(flatten)]
    pub target: Target,
    /// The event stream URL (`/api/v1/feeds/{feed}/events`).
    #[arg(long)]
    pub events: String,
    #[arg(long, default_value_t = 500)]
    pub clients: usize,
    #[arg(long, default_value_t = 60)]
    pub secs: u64,
    /// Mean pause between one client's requests, in milliseconds (jittered ±50%).
    #[arg(long, default_value_t = 1000)]
    pub think_ms: u64,
    /// Objects per posted envelope.
    #[arg(long, default_value_t = 10)]
    pub batch: usize,
    /// The server is killed and restarted during the run: count requests that find it down
    /// apart from errors, and reconnect streams.
    #[arg(long)]
    pub faults: bool,
    /// Write the ids of acknowledged objects here, one per line.
    #[arg(long)]
    pub acked: Option<PathBuf>,
}

#[derive(Default)]
struct Tally {
    polls: Vec<f64>,
    posts: Vec<f64>,
    events: u64,
    stream_opens: u64,
    errors: u64,
    down: u64,
    first_error: Option<String>,
    acked: Vec<String>,
}

impl Tally {
    fn error(&mut self, what: String) {
        self.errors += 1;
        self.first_error.get_or_insert(what);
    }
}

#[derive(Clone, Copy)]
enum Role {
    Poller,
    Poster,
    Stream,
}

/// A small deterministic generator for think-time jitter (no need for cryptographic noise).
fn jitter(seed: &mut u64, mean: u64) -> Duration {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    let half = mean / 2;
    Duration::from_millis(half + *seed % (mean.max(1)))
}

/// Whether a failed request found the server down (refused, reset) rather than misbehaving.
fn is_down(e: &reqwest::Error) -> bool {
    e.is_connect() || e.is_request() || e.is_body() || e.is_decode() || e.is_timeout()
}

pub async fn soak(a: SoakArgs) -> Result<()> {
    let http = client(&a.target)?;
    let tally = Arc::new(Mutex::new(Tally::default()));
    let start = Instant::now();
    let end = tokio::time::Instant::now() + Duration::from_secs(a.secs);
    let a = Arc::new(a);
    let mut tasks = Vec::with_capacity(a.clients);
    for i in 0..a.clients {
        let role = match i % 10 {
            0..=2 => Role::Stream,
            3 | 4 => Role::Poster,
            _ => Role::Poller,
        };
        let (http, tally, a) = (http.clone(), tally.clone(), a.clone());
        tasks.push(tokio::spawn(async move {
            let mut seed = 0x9e37_79b9_7f4a_7c15u64 ^ (i as u64 + 1).wrapping_mul(0xff51_afd7);
            // Spread the clients' first requests over one pause.
            tokio::time::sleep(jitter(&mut seed, a.think_ms)).await;
            match role {
                Role::Poller => poller(&http, &a, &tally, end, &mut seed).await,
                Role::Poster => poster(&http, &a, &tally, end, &mut seed, i).await,
                Role::Stream => stream(&http, &a, &tally, end).await,
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let mut t = std::mem::take(&mut *tally.lock().map_err(|_| anyhow::anyhow!("poisoned"))?);
    if let Some(path) = &a.acked {
        let mut text = t.acked.join("\n");
        text.push('\n');
        std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    let mut all: Vec<f64> = t.polls.iter().chain(&t.posts).copied().collect();
    report(json!({
        "phase": if a.faults { "soak-faults" } else { "soak" },
        "clients": a.clients, "secs": elapsed,
        "requests": all.len(), "polls": t.polls.len(), "posts": t.posts.len(),
        "objects_acked": t.acked.len(), "stream_events": t.events, "stream_opens": t.stream_opens,
        "errors": t.errors, "first_error": t.first_error, "down": t.down,
        "p50_ms": pct(&mut all, 0.5), "p99_ms": pct(&mut all, 0.99), "max_ms": pct(&mut all, 1.0),
        "poll_p99_ms": pct(&mut t.polls, 0.99), "post_p99_ms": pct(&mut t.posts, 0.99),
    }))
}

fn pct(v: &mut [f64], p: f64) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(
        v[((v.len() as f64 * p).ceil() as usize)
            .saturating_sub(1)
            .min(v.len() - 1)],
    )
}

fn record(tally: &Mutex<Tally>, f: impl FnOnce(&mut Tally)) {
    if let Ok(mut t) = tally.lock() {
        f(&mut t);
    }
}

async fn poller(
    http: &reqwest::Client,
    a: &SoakArgs,
    tally: &Mutex<Tally>,
    end: tokio::time::Instant,
    seed: &mut u64,
) {
    let mut cursor: Option<String> = None;
    while tokio::time::Instant::now() < end {
        let mut req = http.get(&a.target.url).query(&[("limit", "50")]);
        if let Some(c) = &cursor {
            req = req.query(&[("added_after", c.as_str())]);
        }
        let t0 = Instant::now();
        match req.send().await {
            Ok(r) => {
                let status = r.status();
                let last = r
                    .headers()
                    .get("x-taxii-date-added-last")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let body = r.bytes().await;
                let ms = t0.elapsed().as_secs_f64() * 1000.0;
                match (status.as_u16(), body) {
                    (200, Ok(_)) => {
                        if last.is_some() {
                            cursor = last;
                        }
                        record(tally, |t| t.polls.push(ms));
                    }
                    (_, Err(e)) if a.faults && is_down(&e) => record(tally, |t| t.down += 1),
                    (s, b) => record(tally, |t| {
                        t.error(format!("poll: {s} {:?}", b.map(|b| b.len())));
                    }),
                }
            }
            Err(e) if a.faults && is_down(&e) => record(tally, |t| t.down += 1),
            Err(e) => record(tally, |t| t.error(format!("poll: {e}"))),
        }
        tokio::time::sleep(jitter(seed, a.think_ms)).await;
    }
}

async fn poster(
    http: &reqwest::Client,
    a: &SoakArgs,
    tally: &Mutex<Tally>,
    end: tokio::time::Instant,
    seed: &mut u64,
    who: usize,
) {
    let mut n = who * 1_000_000;
    while tokio::time::Instant::now() < end {
        let objs: Vec<Value> = (0..a.batch).map(|k| object(n + k, false, false)).collect();
        n += a.batch;
        let ids: Vec<String> = objs
            .iter()
            .filter_map(|o| o["id"].as_str().map(str::to_owned))
            .collect();
        let body = json!({ "objects": objs }).to_string();
        let t0 = Instant::now();
        let sent = http
            .post(&a.target.url)
            .header(CONTENT_TYPE, TAXII)
            .body(body)
            .send()
            .await;
        match sent {
            Ok(r) => {
                let status = r.status();
                let answer = r.json::<Value>().await;
                let ms = t0.elapsed().as_secs_f64() * 1000.0;
                match (status.as_u16(), answer) {
                    (202, Ok(s)) if s["success_count"].as_u64() == Some(ids.len() as u64) => {
                        record(tally, |t| {
                            t.posts.push(ms);
                            t.acked.extend(ids);
                        });
                    }
                    (_, Err(e)) if a.faults && is_down(&e) => record(tally, |t| t.down += 1),
                    (s, body) => record(tally, |t| t.error(format!("post: {s} {body:?}"))),
                }
            }
            Err(e) if a.faults && is_down(&e) => record(tally, |t| t.down += 1),
            Err(e) => record(tally, |t| t.error(format!("post: {e}"))),
        }
        tokio::time::sleep(jitter(seed, a.think_ms)).await;
    }
}

async fn stream(
    http: &reqwest::Client,
    a: &SoakArgs,
    tally: &Mutex<Tally>,
    end: tokio::time::Instant,
) {
    while tokio::time::Instant::now() < end {
        let opened = http
            .get(&a.events)
            .header(ACCEPT, "text/event-stream")
            .send()
            .await;
        let mut resp = match opened {
            Ok(r) if r.status().as_u16() == 200 => r,
            Ok(r) => {
                let s = r.status();
                record(tally, |t| t.error(format!("stream: {s}")));
                return;
            }
            Err(e) if a.faults && is_down(&e) => {
                record(tally, |t| t.down += 1);
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
            Err(e) => {
                record(tally, |t| t.error(format!("stream: {e}")));
                return;
            }
        };
        record(tally, |t| t.stream_opens += 1);
        loop {
            match tokio::time::timeout_at(end, resp.chunk()).await {
                Err(_) => return,
                Ok(Ok(Some(chunk))) => {
                    let n = chunk.windows(5).filter(|w| w == b"data:").count() as u64;
                    record(tally, |t| t.events += n);
                }
                Ok(Ok(None)) | Ok(Err(_)) if a.faults => break,
                Ok(other) => {
                    record(tally, |t| t.error(format!("stream ended: {other:?}")));
                    return;
                }
            }
        }
    }
}

/// Pages through the whole collection and reports which acknowledged ids are missing.
pub async fn verify(t: Target, acked: PathBuf) -> Result<()> {
    let http = client(&t)?;
    let text = std::fs::read_to_string(&acked)
        .with_context(|| format!("cannot read {}", acked.display()))?;
    let want: HashSet<&str> = text.lines().filter(|l| !l.is_empty()).collect();
    let mut have = HashSet::with_capacity(want.len());
    let mut next: Option<String> = None;
    loop {
        let mut req = http.get(&t.url).query(&[("limit", "1000")]);
        if let Some(n) = &next {
            req = req.query(&[("next", n.as_str())]);
        }
        let r = req.send().await?;
        if r.status().as_u16() != 200 {
            bail!("GET {} answered {}", t.url, r.status());
        }
        let page: Value = r.json().await?;
        for o in page["objects"].as_array().into_iter().flatten() {
            if let Some(id) = o["id"].as_str() {
                have.insert(id.to_owned());
            }
        }
        match page["next"].as_str() {
            Some(n) if page["more"] == true => next = Some(n.to_owned()),
            _ => break,
        }
    }
    let missing: Vec<&&str> = want.iter().filter(|id| !have.contains(**id)).collect();
    report(json!({
        "phase": "verify", "acknowledged": want.len(), "stored": have.len(),
        "missing": missing.len(), "first_missing": missing.first(),
    }))
}
