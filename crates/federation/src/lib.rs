//! Federation with other ISACs and national feeds over TAXII 2.1.
//!
//! - Pull (upstream sources): pages of the peer's collection after the stored `added_after`
//!   bookmark, following `next`, each page stored through `Relay::ingest_from_peer` (the TAXII
//!   write path) before the bookmark moves past it; so a run cut anywhere resumes where the
//!   last stored page ended, and what is fetched twice is a duplicate that stores nothing.
//! - Push (downstream peers): what `Relay::outbound` allows (TLP, types, severity; nothing that
//!   came from that peer) in `date_added` order, in batches; the cursor moves past a batch only
//!   once the peer's status resource is complete.
//! - Both retry with exponential backoff on an unreachable peer or a 5xx, and wait out a 429's
//!   `Retry-After`; a refusal (4xx) ends the run with its reason recorded on the peer.
//!
//! `Federation::sync` is one run of one peer (the CLI's `federation sync`, the tests);
//! `run_due` one pass over the peers that are due; `run` the loop the server starts.

mod client;

use std::future::Future;
use std::time::Duration;

use relay_core::federation::{Direction, Peer, PeerProgress};
use relay_core::{Error, Relay};
use stix::Timestamp;

pub use client::{Page, RemoteStatus, TaxiiClient};

#[derive(Debug, thiserror::Error)]
pub enum FedError {
    /// The peer's definition cannot work (a certificate that does not load).
    #[error("{0}")]
    Config(String),
    /// The peer cannot be reached or failed (5xx): worth retrying.
    #[error("{0}")]
    Unavailable(String),
    /// The peer asked to wait.
    #[error("the peer asked to wait {retry_after} s (429)")]
    RateLimited { retry_after: u64 },
    /// The peer refused the request (4xx): retrying changes nothing.
    #[error("{0}")]
    Refused(String),
    /// The peer refused an envelope as too large (413): smaller ones may pass.
    #[error("{0}")]
    TooLarge(String),
    /// The peer answered something that is not TAXII 2.1.
    #[error("{0}")]
    Remote(String),
    /// The relay itself failed.
    #[error(transparent)]
    Relay(#[from] Error),
}

impl FedError {
    fn retryable(&self) -> bool {
        matches!(
            self,
            FedError::Unavailable(_) | FedError::RateLimited { .. }
        )
    }
}

/// Paging and retry settings.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Objects asked for per page, and pushed per envelope.
    pub page: usize,
    /// Attempts of one request before the run gives up (the next run starts again).
    pub attempts: u32,
    /// The first wait after a failure; it doubles up to `retry_max`.
    pub retry_first: Duration,
    pub retry_max: Duration,
    /// The longest `Retry-After` honoured within a run; a longer one ends the run.
    pub max_retry_after: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            page: 500,
            attempts: 5,
            retry_first: Duration::from_secs(1),
            retry_max: Duration::from_secs(60),
            max_retry_after: Duration::from_secs(300),
        }
    }
}

/// Envelopes of `objects`, each under `limit` bytes where the objects allow (an object larger
/// than the limit goes alone, and the relay refuses it as too large).
fn envelopes(objects: &[serde_json::Value], limit: usize) -> Vec<String> {
    const FRAME: usize = 16;
    let mut out = Vec::new();
    let mut current = String::new();
    for o in objects {
        let text = o.to_string();
        if !current.is_empty() && current.len() + text.len() + FRAME > limit {
            current.push_str("]}");
            out.push(std::mem::take(&mut current));
        }
        if current.is_empty() {
            current.push_str("{\"objects\":[");
        } else {
            current.push(',');
        }
        current.push_str(&text);
    }
    if !current.is_empty() {
        current.push_str("]}");
        out.push(current);
    }
    out
}

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Pages fetched or envelopes pushed.
    pub batches: u64,
    /// Objects the relay stored (pull) or the peer accepted (push).
    pub transferred: u64,
    /// Objects already present (pull), or refused by the peer or never sent (push).
    pub skipped: u64,
    /// Objects refused (by the relay's checks on a pull, by the peer on a push), and the first
    /// reason; recorded as the peer's last error.
    pub refused: u64,
    pub first_refusal: Option<String>,
}

impl SyncReport {
    fn refusals(&mut self, count: u64, first: Option<String>) {
        self.refused += count;
        if self.first_refusal.is_none() {
            self.first_refusal = first;
        }
    }
}

/// The most pages one pull run reads; the next run goes on from its bookmark.
const MAX_PAGES_PER_RUN: u64 = 100_000;

/// A pull starts this far before its bookmark: a server may give several objects one
/// `date_added`, and a run cut inside such a group must not skip the rest of it. What is
/// fetched again is a duplicate that stores nothing.
const BOOKMARK_OVERLAP_MICROS: i64 = 1_000;

#[derive(Clone)]
pub struct Federation {
    relay: Relay,
    options: Options,
}

impl Federation {
    pub fn new(relay: Relay, options: Options) -> Federation {
        Federation { relay, options }
    }

    /// One run of the named peer. `progress` is told the objects moved so far after each
    /// batch. A failure is recorded on the peer (its last error) and returned.
    pub async fn sync(
        &self,
        name: &str,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<SyncReport, FedError> {
        let peer = self.relay.peer_named(name).await?;
        self.sync_peer(&peer, progress).await
    }

    async fn sync_peer(
        &self,
        peer: &Peer,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<SyncReport, FedError> {
        let mut report = SyncReport::default();
        let result = match peer.spec.direction {
            Direction::Pull => self.pull(peer, &mut report, progress).await,
            Direction::Push => self.push(peer, &mut report, progress).await,
        };
        if result.is_ok() && report.refused > 0 {
            let why = format!(
                "{} objects refused; the first: {}",
                report.refused,
                report.first_refusal.as_deref().unwrap_or("no reason given")
            );
            self.record_error(peer, why).await?;
        }
        if let Err(e) = &result {
            tracing::warn!(peer = %peer.spec.name, error = %e, "federation run failed");
            if let Err(e) = self.record_error(peer, e.to_string()).await {
                tracing::error!(error = %e, "cannot record a peer's failure");
            }
        } else if report.batches == 0 {
            // Nothing new: the run still counts as one.
            self.record(peer, None, 0).await?;
        }
        result.map(|()| report)
    }

    /// Records a step that went well: the cursor past what is durable, objects moved.
    async fn record(
        &self,
        peer: &Peer,
        cursor: Option<Timestamp>,
        transferred: u64,
    ) -> Result<(), FedError> {
        self.progress(peer, cursor, transferred, None).await
    }

    /// Records the peer's last error (the cursor stays).
    async fn record_error(&self, peer: &Peer, why: String) -> Result<(), FedError> {
        self.progress(peer, None, 0, Some(why)).await
    }

    async fn progress(
        &self,
        peer: &Peer,
        cursor: Option<Timestamp>,
        transferred: u64,
        error: Option<String>,
    ) -> Result<(), FedError> {
        let step = PeerProgress {
            at: Timestamp::now(),
            cursor,
            transferred,
            error,
        };
        self.relay.record_peer_progress(peer, step).await?;
        Ok(())
    }

    /// Retries `op` on what is worth retrying, waiting as the peer asks or backing off.
    async fn retrying<T, F, Fut>(&self, mut op: F) -> Result<T, FedError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, FedError>>,
    {
        let mut wait = self.options.retry_first;
        let mut attempt = 1;
        loop {
            match op().await {
                Ok(v) => return Ok(v),
                Err(e) if e.retryable() && attempt < self.options.attempts => {
                    let pause = match &e {
                        FedError::RateLimited { retry_after } => {
                            let asked = Duration::from_secs(*retry_after);
                            if asked > self.options.max_retry_after {
                                return Err(e);
                            }
                            asked
                        }
                        _ => {
                            let w = wait;
                            wait = (wait * 2).min(self.options.retry_max);
                            w
                        }
                    };
                    tracing::info!(error = %e, attempt, wait = ?pause, "federation request retried");
                    tokio::time::sleep(pause).await;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn pull(
        &self,
        peer: &Peer,
        report: &mut SyncReport,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<(), FedError> {
        let client = TaxiiClient::new(peer)?;
        let mut added_after = peer
            .cursor
            .map(|c| Timestamp::from_micros(c.as_micros() - BOOKMARK_OVERLAP_MICROS));
        let mut next: Option<String> = None;
        let mut previous = None;
        loop {
            if report.batches >= MAX_PAGES_PER_RUN {
                return Ok(());
            }
            let page = self
                .retrying(|| client.objects(added_after, next.as_deref(), self.options.page))
                .await?;
            let mut stored = 0;
            for envelope in envelopes(&page.objects, self.relay.config().max_content_length) {
                let status = self
                    .relay
                    .ingest_from_peer(peer, envelope.as_bytes())
                    .await?;
                let present = status
                    .successes
                    .iter()
                    .filter(|d| d.message.as_deref().is_some_and(|m| m.contains("already")))
                    .count() as u64;
                stored += status.success_count.saturating_sub(present);
                report.skipped += present;
                report.refusals(
                    status.failure_count,
                    status
                        .failures
                        .first()
                        .map(|f| format!("{}: {}", f.id, f.message.as_deref().unwrap_or(""))),
                );
            }
            report.batches += 1;
            report.transferred += stored;
            // The page is stored: the bookmark may move past it.
            self.record(peer, page.last_added, stored).await?;
            progress(report.transferred);
            if !page.more || page.objects.is_empty() {
                return Ok(());
            }
            // A server that serves the same page again would keep this run going for ever
            // (some, like medallion, repeat one `next` token over a whole paging session, so
            // the token alone says nothing).
            let this_page = (
                page.last_added,
                page.objects.first().and_then(|o| o.get("id")).cloned(),
            );
            if previous.as_ref() == Some(&this_page) {
                return Err(FedError::Remote(
                    "the peer served the same page twice; stopping this run".into(),
                ));
            }
            previous = Some(this_page);
            match page.next {
                Some(n) => next = Some(n),
                None => {
                    // A server that pages by `added_after` alone.
                    if page.last_added.is_none() || page.last_added == added_after {
                        return Err(FedError::Remote(
                            "the peer says there is more but gives no way to the next page".into(),
                        ));
                    }
                    added_after = page.last_added;
                    next = None;
                }
            }
        }
    }

    async fn push(
        &self,
        peer: &Peer,
        report: &mut SyncReport,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<(), FedError> {
        let client = TaxiiClient::new(peer)?;
        let mut cursor = peer.cursor;
        let mut batch = self.options.page.max(1);
        loop {
            let out = self.relay.outbound(peer, cursor, batch).await?;
            let Some(through) = out.through else {
                return Ok(());
            };
            report.skipped += out.withheld as u64;
            let mut accepted = 0;
            if !out.bodies.is_empty() {
                let mut envelope = String::from("{\"objects\":[");
                envelope.push_str(&out.bodies.join(","));
                envelope.push_str("]}");
                let posted = self.retrying(|| client.post(envelope.clone())).await;
                let mut status = match posted {
                    Err(FedError::TooLarge(why)) => {
                        if batch == 1 {
                            return Err(FedError::TooLarge(why));
                        }
                        // Smaller envelopes, from the same cursor.
                        batch = (batch / 2).max(1);
                        continue;
                    }
                    other => other?,
                };
                let mut polls = 0;
                while !status.complete {
                    polls += 1;
                    if polls > 30 {
                        return Err(FedError::Remote(format!(
                            "the peer's status {} stayed pending; the batch is sent again next run",
                            status.id
                        )));
                    }
                    tokio::time::sleep(self.options.retry_first).await;
                    let id = status.id.clone();
                    status = self.retrying(|| client.status(&id)).await?;
                }
                report.refusals(status.failures, status.failure_messages.first().cloned());
                report.skipped += status.failures;
                accepted = status.successes;
            }
            report.batches += 1;
            report.transferred += accepted;
            cursor = Some(through);
            self.record(peer, cursor, accepted).await?;
            progress(report.transferred);
            if !out.more {
                return Ok(());
            }
        }
    }

    /// One pass over the peers that are due; each failure is recorded on its peer.
    pub async fn run_due(&self) -> Result<(), Error> {
        let now = Timestamp::now();
        for peer in self.relay.all_peers().await? {
            if peer.due(now) {
                let _ = self.sync_peer(&peer, &|_| {}).await;
            }
        }
        Ok(())
    }

    /// Runs peers as they fall due until `shutdown` resolves; a run in progress is dropped
    /// then (each step is durable, or is sent again and deduplicated next time).
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tokio::select! {
                () = &mut shutdown => return,
                _ = tick.tick() => {}
            }
            // One node runs the peers, renewing its lease for as long as a pass lasts; the
            // others take over if it stops.
            tokio::select! {
                () = &mut shutdown => return,
                r = self.relay.while_holding("federation", self.run_due()) => match r {
                    Err(_) => return,
                    Ok(Some(Err(e))) => tracing::error!(error = %e, "federation pass failed"),
                    Ok(_) => {}
                }
            }
        }
    }
}
