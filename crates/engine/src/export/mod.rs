//! Exports and the block-list exchange, as services the HTTP API and the command line call.
//!
//! An export resolves the caller's feeds and what it may see in each (`relay_core::policy`),
//! asks the store for one ordered scan of the observables they hold (with the lists members
//! apply), narrows each by the request's and the profile's filters (`entry`), drops what the
//! warning lists protect (`warning`), ranks when capped, and writes the rest in the asked format
//! (`format`), streaming in chunks. The ETag and the `since` token are derived from the store's
//! export version, so an unchanged export costs the plan's small reads (feeds, allowlist, own
//! networks) and one indexed read of the version, never a scan. A scan that fails half-way ends
//! the answer in an error, never in a shorter list.

pub mod entry;
pub mod format;
pub mod request;
pub mod upload;
pub mod warning;

use std::collections::BinaryHeap;
use std::sync::Arc;

use base64::Engine as _;
use relay_core::audit::AuditEntry;
use relay_core::error::Error;
use relay_core::exchange::{
    AllowEntry, AppliedUpload, AssetKind, ExportClock, ExportGroup, ExportScan, ExportSink,
    ExportVersion, OrgAsset,
};
use relay_core::feed::{Feed, FeedKind};
use relay_core::policy;
use relay_core::principal::Principal;
use relay_core::store::{Change, Store};
use relay_core::tlp::Tlp;
use sha2::{Digest, Sha256};
use stix::Timestamp;
use tokio::sync::{mpsc, oneshot};

use entry::{Entry, Filter};
use format::{Context, Writer};
pub use request::{ExportRequest, Format};
use upload::UploadFormat;
use warning::{DropReason, WarningLists};

/// Bytes written before a chunk is handed on: large enough that a list of a gigabyte is a few
/// thousand hand-overs and socket writes, small enough to stream.
const CHUNK: usize = 256 * 1024;

/// Hands the filled buffer on and starts a new one of full capacity (a fresh `Vec` would grow
/// by doubling, copying each chunk several times).
fn hand_on(buf: &mut Vec<u8>, out: &mut dyn Output) -> bool {
    out.chunk(std::mem::replace(buf, Vec::with_capacity(CHUNK + 8192)))
}

/// The exports service.
#[derive(Clone)]
pub struct Exports {
    store: Arc<dyn Store>,
}

/// An entry the warning lists kept out, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropped {
    pub kind: String,
    pub value: String,
    pub reason: DropReason,
}

/// The answer to an export.
pub enum ExportAnswer {
    /// The caller's copy (`If-None-Match`) is current.
    NotModified {
        etag: String,
    },
    Body(ExportBody),
}

/// An export on its way: headers now, the body as it is written.
pub struct ExportBody {
    /// A strong ETag (quoted).
    pub etag: String,
    /// What to pass as `since` next time.
    pub token: String,
    pub content_type: &'static str,
    /// A file name for downloads.
    pub filename: String,
    pub chunks: mpsc::Receiver<Result<Vec<u8>, Error>>,
}

/// What an export to a file wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportSummary {
    pub entries: u64,
    pub dropped: Vec<Dropped>,
    pub token: String,
}

/// What an applied-list upload changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedSummary {
    pub feed: String,
    pub entries: usize,
    pub added: usize,
    pub withdrawn: usize,
    pub tlp: Tlp,
    pub expires: Timestamp,
}

/// A member's applied list, as shown to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedView {
    pub feed: String,
    pub tlp: Tlp,
    pub uploaded: Timestamp,
    pub expires: Timestamp,
    pub entries: Vec<(String, String)>,
}

/// Everything decided before the scan.
struct Plan {
    req: ExportRequest,
    feeds: Vec<Feed>,
    scan: ExportScan,
    filter: Filter,
    lists: Arc<WarningLists>,
    /// A digest of what decides the content besides the store's state.
    key: String,
}

fn digest(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    hex::encode(h.finalize())
}

fn etag(plan: &Plan, v: &ExportVersion, since: Option<&str>) -> String {
    let d = digest(&[
        &plan.key,
        &v.change.to_string(),
        &v.expired.to_string(),
        since.unwrap_or(""),
    ]);
    format!("\"{}\"", &d[..32])
}

/// The `since` token: the change and time an export was read at, and which request it was.
fn encode_token(plan: &Plan, v: &ExportVersion, now: Timestamp) -> String {
    let raw = format!("1.{}.{}.{}", v.change, now.as_micros(), &plan.key[..16]);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

fn decode_token(plan: &Plan, token: &str) -> Result<ExportClock, Error> {
    let bad = || {
        Error::Invalid(format!(
            "'since' is not a token this relay issued: '{token}'"
        ))
    };
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.trim())
        .map_err(|_| bad())?;
    let raw = String::from_utf8(raw).map_err(|_| bad())?;
    let parts: Vec<&str> = raw.split('.').collect();
    let [version, change, at, key] = parts.as_slice() else {
        return Err(bad());
    };
    if *version != "1" {
        return Err(bad());
    }
    let change: i64 = change.parse().map_err(|_| bad())?;
    let at: i64 = at.parse().map_err(|_| bad())?;
    if *key != &plan.key[..16] {
        return Err(Error::Gone(
            "the earlier export was made with other parameters, rights, feed settings or \
             warning lists; fetch the whole list again"
                .into(),
        ));
    }
    Ok(ExportClock {
        change,
        at: Timestamp::from_micros(at),
    })
}

/// Where an export's bytes go.
trait Output: Send {
    /// Takes a chunk; false when nobody listens any more.
    fn chunk(&mut self, bytes: Vec<u8>) -> bool;
}

struct ChannelOutput(mpsc::Sender<Result<Vec<u8>, Error>>);

impl Output for ChannelOutput {
    fn chunk(&mut self, bytes: Vec<u8>) -> bool {
        self.0.blocking_send(Ok(bytes)).is_ok()
    }
}

struct WriteOutput<W: std::io::Write + Send> {
    inner: W,
    error: Option<std::io::Error>,
}

impl<W: std::io::Write + Send> Output for WriteOutput<W> {
    fn chunk(&mut self, bytes: Vec<u8>) -> bool {
        match self.inner.write_all(&bytes) {
            Ok(()) => true,
            Err(e) => {
                self.error = Some(e);
                false
            }
        }
    }
}

/// Collects nothing: the dropped-entries report only needs the drops.
struct NoOutput;

impl Output for NoOutput {
    fn chunk(&mut self, _bytes: Vec<u8>) -> bool {
        true
    }
}

/// What a run counted.
#[derive(Default)]
struct RunStats {
    entries: u64,
    dropped: Vec<Dropped>,
}

/// Ranked selection for capped exports: a heap of the best `max` so far.
struct Ranked(Entry);

impl PartialEq for Ranked {
    fn eq(&self, other: &Self) -> bool {
        self.0.rank_cmp(&other.0).is_eq()
    }
}
impl Eq for Ranked {}
impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Ranked {
    // The heap's top is the worst kept entry.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.rank_cmp(&other.0)
    }
}

/// A scan under way: the version it reads at, its groups, and how it ended.
struct Scan {
    version: ExportVersion,
    groups: mpsc::Receiver<Vec<ExportGroup>>,
    done: oneshot::Receiver<Result<(), Error>>,
}

/// The writer of the dropped-entries report, which only needs the drops.
struct Discard;

impl Writer for Discard {
    fn entry(&mut self, _e: &Entry, _out: &mut Vec<u8>) {}
    fn added(&mut self, _e: &Entry, _out: &mut Vec<u8>) {}
    fn removed(&mut self, _kind: &str, _value: &str, _out: &mut Vec<u8>) {}
}

/// Turns scanned groups into output, on a blocking thread. A scan that fails half-way is an
/// error, never a shorter list: a block list cut short looks valid to the tool that loads it.
fn run(
    plan: &Plan,
    diff: bool,
    mut writer: Box<dyn Writer>,
    scan: Scan,
    out: &mut dyn Output,
    keep_drops: bool,
) -> Result<RunStats, Error> {
    let Scan {
        mut groups, done, ..
    } = scan;
    let mut stats = RunStats::default();
    let mut buf = Vec::with_capacity(CHUNK + 8192);
    writer.begin(&mut buf);
    let mut heap: BinaryHeap<Ranked> = BinaryHeap::new();
    while let Some(batch) = groups.blocking_recv() {
        for group in batch {
            // A diff names what is gone, so it keeps the key of a group that yields nothing.
            let key = diff.then(|| (group.kind.clone(), group.value.clone()));
            let entry = plan.filter.entry(group, &plan.feeds).and_then(|e| {
                match plan.lists.check(&e.kind, &e.value) {
                    None => Some(e),
                    Some(reason) => {
                        if keep_drops {
                            stats.dropped.push(Dropped {
                                kind: e.kind,
                                value: e.value,
                                reason,
                            });
                        }
                        None
                    }
                }
            });
            match (entry, key) {
                (Some(e), Some(_)) => {
                    stats.entries += 1;
                    writer.added(&e, &mut buf);
                }
                (None, Some((kind, value))) => writer.removed(&kind, &value, &mut buf),
                (Some(e), None) => match plan.req.max {
                    Some(max) => {
                        heap.push(Ranked(e));
                        if heap.len() > max {
                            heap.pop();
                        }
                    }
                    None => {
                        stats.entries += 1;
                        writer.entry(&e, &mut buf);
                    }
                },
                (None, None) => {}
            }
            if buf.len() >= CHUNK && !hand_on(&mut buf, out) {
                return Ok(stats);
            }
        }
    }
    match done.blocking_recv() {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(e),
        Err(_) => return Err(Error::Unavailable("the export scan stopped".into())),
    }
    let mut kept: Vec<Entry> = heap.into_iter().map(|r| r.0).collect();
    kept.sort_by(|a, b| (&a.kind, &a.value).cmp(&(&b.kind, &b.value)));
    for e in &kept {
        stats.entries += 1;
        writer.entry(e, &mut buf);
        if buf.len() >= CHUNK && !hand_on(&mut buf, out) {
            return Ok(stats);
        }
    }
    writer.end(&mut buf);
    if !buf.is_empty() {
        out.chunk(buf);
    }
    Ok(stats)
}

impl Exports {
    pub fn new(store: Arc<dyn Store>) -> Exports {
        Exports { store }
    }

    /// Resolves the feeds, visibility, filters and warning lists of one request.
    async fn plan(&self, who: &Principal, req: ExportRequest) -> Result<Plan, Error> {
        let all = self.store.list_feeds().await?;
        let readable = |f: &Feed| policy::feed_rights(who, f).read;
        let mut feeds: Vec<Feed> = Vec::new();
        let everything = req.feeds.is_empty()
            || req.feeds.iter().any(|k| {
                all.iter()
                    .any(|f| (f.name == *k || f.id == *k) && f.kind == FeedKind::Aggregate)
            });
        if everything {
            feeds.extend(
                all.iter()
                    .filter(|f| f.in_aggregate() && readable(f))
                    .cloned(),
            );
        }
        for key in &req.feeds {
            let found = all
                .iter()
                .find(|f| (f.name == *key || f.id == *key) && readable(f))
                .ok_or_else(|| Error::NotFound(format!("no feed '{key}'")))?;
            match found.kind {
                FeedKind::Aggregate => {}
                FeedKind::Test => {
                    return Err(Error::Invalid(format!(
                        "'{key}' is a test feed: test data is never exported to block lists"
                    )));
                }
                FeedKind::Notice => {
                    return Err(Error::Invalid(format!(
                        "'{key}' holds notifications about members' own hosts, never block lists"
                    )));
                }
                FeedKind::Regular => {
                    if !feeds.iter().any(|f| f.id == found.id) {
                        feeds.push(found.clone());
                    }
                }
            }
        }
        feeds.retain(|f| who.profile.wants_feed(f));
        feeds.sort_by(|a, b| a.name.cmp(&b.name));

        let allowlist = self.store.list_allowlist().await?;
        let own = self.store.org_assets(Some(who.org_id)).await?;
        let scope: Vec<(String, policy::Visibility)> = feeds
            .iter()
            .map(|f| (f.id.clone(), policy::visibility(who, f)))
            .collect();
        let scope_text = scope
            .iter()
            .zip(&feeds)
            .map(|((id, v), f)| {
                format!(
                    "{id}:{}:{:?}:{}:{}:{}",
                    f.name,
                    v.open_up_to,
                    v.everything,
                    v.org,
                    f.severity.as_str()
                )
            })
            .collect::<Vec<_>>()
            .join(";");
        let lists_text = allowlist
            .iter()
            .map(|a| format!("{}:{}", a.kind.code(), a.value))
            .chain(
                own.iter()
                    .map(|a| format!("own:{}:{}", a.kind.code(), a.value)),
            )
            .collect::<Vec<_>>()
            .join(";");
        let profile_text = format!(
            "{:?}|{:?}|{:?}",
            who.profile.min_severity, who.profile.min_confidence, who.profile.types
        );
        let key = digest(&[
            env!("CARGO_PKG_VERSION"),
            &req.canonical(),
            &scope_text,
            &lists_text,
            &profile_text,
        ]);
        let filter = Filter::new(&req, &who.profile);
        let scan = ExportScan {
            feeds: scope,
            kinds: req.kinds.clone(),
            now: Timestamp::now(),
            active_only: req.active_only,
            since: None,
        };
        Ok(Plan {
            req,
            feeds,
            scan,
            filter,
            lists: Arc::new(WarningLists::new(&allowlist, &own)),
            key,
        })
    }

    fn context(plan: &Plan, v: &ExportVersion, et: &str) -> Context {
        // The RPZ serial must grow with the content: the change count and the seconds of the
        // newest expiry passed both only grow.
        let serial = v.change.max(0) + v.expired.max(0) / 1_000_000;
        Context {
            feed_names: plan.feeds.iter().map(|f| f.name.clone()).collect(),
            serial: u32::try_from(serial % i64::from(u32::MAX))
                .unwrap_or(1)
                .max(1),
            content_id: uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, et.as_bytes()).to_string(),
        }
    }

    /// Starts the store's scan; answers once it has read its version.
    async fn start_scan(&self, scan: ExportScan) -> Result<Scan, Error> {
        let (vtx, vrx) = oneshot::channel();
        let (gtx, groups) = mpsc::channel(4);
        let (dtx, done) = oneshot::channel();
        let store = self.store.clone();
        tokio::spawn(async move {
            let sink = ExportSink {
                version: vtx,
                groups: gtx,
            };
            let result = store.export_scan(scan, sink).await;
            if let Err(e) = &result {
                tracing::error!(error = %e, "an export scan failed");
            }
            let _ = dtx.send(result.map_err(Error::from));
        });
        match vrx.await {
            Ok(version) => Ok(Scan {
                version,
                groups,
                done,
            }),
            Err(_) => Err(match done.await {
                Ok(Err(e)) => e,
                _ => Error::Unavailable("the export scan stopped".into()),
            }),
        }
    }

    /// Sets up an incremental scan when the request has `since`, checked against the store's
    /// current version `v`.
    fn apply_since(plan: &mut Plan, v: &ExportVersion) -> Result<(), Error> {
        let Some(token) = plan.req.since.clone() else {
            return Ok(());
        };
        let clock = decode_token(plan, &token)?;
        if clock.change < v.pruned_through || clock.change > v.change {
            return Err(Error::Gone(
                "the earlier export is older than the relay's change log (or not from this \
                 relay); fetch the whole list again"
                    .into(),
            ));
        }
        plan.scan.since = Some(clock);
        Ok(())
    }

    /// An export over HTTP: `NotModified` when `if_none_match` is the current ETag.
    pub async fn export(
        &self,
        who: &Principal,
        req: ExportRequest,
        if_none_match: Option<&str>,
    ) -> Result<ExportAnswer, Error> {
        let mut plan = self.plan(who, req).await?;
        let since = plan.req.since.clone();
        if since.is_some() || if_none_match.is_some() {
            let v = self.store.export_version(plan.scan.now).await?;
            Self::apply_since(&mut plan, &v)?;
            let current = etag(&plan, &v, since.as_deref());
            if if_none_match.is_some_and(|inm| {
                inm.split(',')
                    .any(|t| t.trim() == current || t.trim() == "*")
            }) {
                return Ok(ExportAnswer::NotModified { etag: current });
            }
        }
        self.store
            .record(AuditEntry::by(who, "export.read").detail(format!(
                    "{} {}",
                    plan.req.format.as_str(),
                    plan.feeds
                        .iter()
                        .map(|f| f.name.as_str())
                        .collect::<Vec<_>>()
                        .join(",")
                )))
            .await?;
        let scan = self.start_scan(plan.scan.clone()).await?;
        let et = etag(&plan, &scan.version, since.as_deref());
        let token = encode_token(&plan, &scan.version, plan.scan.now);
        let ctx = Self::context(&plan, &scan.version, &et);
        let diff = since.is_some();
        let writer = format::writer(&plan.req, ctx, diff);
        let (tx, rx) = mpsc::channel(4);
        let content_type = plan.req.format.content_type();
        let filename = format!(
            "isac-relay-{}{}",
            plan.req.format.as_str(),
            match plan.req.format {
                Format::Csv => ".csv",
                Format::Stix => ".json",
                Format::Rpz => ".zone",
                Format::Suricata => ".rules",
                Format::Nftables => ".nft",
                _ => ".txt",
            }
        );
        tokio::task::spawn_blocking(move || {
            let mut out = ChannelOutput(tx);
            if let Err(e) = run(&plan, diff, writer, scan, &mut out, false) {
                // The client sees the body end in an error, not a shorter list.
                let _ = out.0.blocking_send(Err(e));
            }
        });
        Ok(ExportAnswer::Body(ExportBody {
            etag: et,
            token,
            content_type,
            filename,
            chunks: rx,
        }))
    }

    /// What the warning lists keep out of this export, and why.
    pub async fn dropped(
        &self,
        who: &Principal,
        mut req: ExportRequest,
    ) -> Result<Vec<Dropped>, Error> {
        req.since = None;
        req.max = None;
        let plan = self.plan(who, req).await?;
        let scan = self.start_scan(plan.scan.clone()).await?;
        let stats = tokio::task::spawn_blocking(move || {
            run(&plan, false, Box::new(Discard), scan, &mut NoOutput, true)
        })
        .await
        .map_err(|e| Error::Unavailable(format!("the export stopped: {e}")))??;
        Ok(stats.dropped)
    }

    /// An export written to `out` (the command line), with what was dropped.
    pub async fn export_to<W>(
        &self,
        who: &Principal,
        req: ExportRequest,
        out: W,
    ) -> Result<ExportSummary, Error>
    where
        W: std::io::Write + Send + 'static,
    {
        let mut plan = self.plan(who, req).await?;
        if plan.req.since.is_some() {
            let v = self.store.export_version(plan.scan.now).await?;
            Self::apply_since(&mut plan, &v)?;
        }
        let diff = plan.req.since.is_some();
        let scan = self.start_scan(plan.scan.clone()).await?;
        let et = etag(&plan, &scan.version, plan.req.since.as_deref());
        let token = encode_token(&plan, &scan.version, plan.scan.now);
        let ctx = Self::context(&plan, &scan.version, &et);
        let writer = format::writer(&plan.req, ctx, diff);
        let (stats, error) = tokio::task::spawn_blocking(move || {
            let mut output = WriteOutput {
                inner: out,
                error: None,
            };
            let stats = run(&plan, diff, writer, scan, &mut output, true);
            let error = match output.error {
                Some(e) => Some(e),
                None => output.inner.flush().err(),
            };
            (stats, error)
        })
        .await
        .map_err(|e| Error::Unavailable(format!("the export stopped: {e}")))?;
        let stats = stats?;
        if let Some(e) = error {
            return Err(Error::Unprocessable(format!(
                "cannot write the export: {e}"
            )));
        }
        Ok(ExportSummary {
            entries: stats.entries,
            dropped: stats.dropped,
            token,
        })
    }

    /// Replaces the caller's organisation's applied list for a feed.
    pub async fn upload_applied(
        &self,
        who: &Principal,
        feed_key: &str,
        body: &[u8],
        content_type: Option<&str>,
        expires: Option<&str>,
        tlp: Option<&str>,
    ) -> Result<AppliedSummary, Error> {
        let feed = self.applied_feed(who, feed_key, true).await?;
        let tlp = match tlp {
            None => feed.default_tlp.min(Tlp::AmberStrict),
            Some(t) => match Tlp::parse(t) {
                Some(Tlp::Red) => {
                    return Err(Error::Invalid(
                        "an applied list cannot be TLP:RED: it is shared with the feed's readers"
                            .into(),
                    ));
                }
                Some(t) => t,
                None => return Err(Error::Invalid(format!("unknown TLP '{t}'"))),
            },
        };
        let now = Timestamp::now();
        let expires = parse_expiry(expires, now)?;
        let format = UploadFormat::from_content_type(content_type);
        let body = body.to_vec();
        let entries = tokio::task::spawn_blocking(move || upload::parse(format, &body))
            .await
            .map_err(|e| Error::Unavailable(format!("the upload stopped: {e}")))?
            .map_err(|errors| {
                Error::Invalid(format!(
                    "the list was not stored; fix these lines: {}",
                    errors.join("; ")
                ))
            })?;
        let before = self
            .store
            .applied_list(who.org_id, &feed.id)
            .await?
            .map(|l| l.entries)
            .unwrap_or_default();
        let old: std::collections::BTreeSet<&(String, String)> = before.iter().collect();
        let new: std::collections::BTreeSet<&(String, String)> = entries.iter().collect();
        let summary = AppliedSummary {
            feed: feed.name.clone(),
            entries: entries.len(),
            added: new.difference(&old).count(),
            withdrawn: old.difference(&new).count(),
            tlp,
            expires,
        };
        let audit = AuditEntry::by(who, "applied.replace")
            .feed(&feed.name)
            .count(entries.len())
            .detail(format!(
                "added {}, withdrawn {}, expires {expires}",
                summary.added, summary.withdrawn
            ));
        self.store
            .apply(
                Change::ReplaceAppliedList(AppliedUpload {
                    org: who.org_id,
                    feed_id: feed.id.clone(),
                    tlp,
                    expires,
                    entries,
                }),
                audit,
            )
            .await?;
        Ok(summary)
    }

    /// The caller's organisation's applied list for a feed.
    pub async fn applied(&self, who: &Principal, feed_key: &str) -> Result<AppliedView, Error> {
        let feed = self.applied_feed(who, feed_key, false).await?;
        let list = self
            .store
            .applied_list(who.org_id, &feed.id)
            .await?
            .ok_or_else(|| {
                Error::NotFound(format!(
                    "your organisation has no applied list for '{}'",
                    feed.name
                ))
            })?;
        Ok(AppliedView {
            feed: feed.name,
            tlp: list.tlp,
            uploaded: list.uploaded,
            expires: list.expires,
            entries: list.entries,
        })
    }

    /// Withdraws the caller's organisation's applied list for a feed.
    pub async fn withdraw_applied(&self, who: &Principal, feed_key: &str) -> Result<(), Error> {
        let feed = self.applied_feed(who, feed_key, true).await?;
        self.store
            .apply(
                Change::RemoveAppliedList {
                    org: who.org_id,
                    feed_id: feed.id.clone(),
                },
                AuditEntry::by(who, "applied.withdraw").feed(&feed.name),
            )
            .await
            .map_err(|e| match e {
                relay_core::store::StoreError::NotFound(_) => Error::NotFound(format!(
                    "your organisation has no applied list for '{}'",
                    feed.name
                )),
                e => e.into(),
            })?;
        Ok(())
    }

    async fn applied_feed(&self, who: &Principal, key: &str, write: bool) -> Result<Feed, Error> {
        let feed = self
            .store
            .find_feed(key)
            .await?
            .filter(|f| policy::feed_rights(who, f).read)
            .ok_or_else(|| Error::NotFound(format!("no feed '{key}'")))?;
        if feed.kind != FeedKind::Regular {
            return Err(Error::Invalid(format!(
                "'{}' is not a regular feed: applied lists belong to the feed they are shared in",
                feed.name
            )));
        }
        if write && !policy::feed_rights(who, &feed).write {
            return Err(Error::Forbidden(format!(
                "sharing an applied list in '{}' needs the right to write to it",
                feed.name
            )));
        }
        Ok(feed)
    }

    /// The allowlist (the ISAC administrator's).
    pub async fn allowlist(&self, who: &Principal) -> Result<Vec<AllowEntry>, Error> {
        crate::require_admin(who, "the allowlist")?;
        Ok(self.store.list_allowlist().await?)
    }

    pub async fn allow(&self, who: &Principal, value: &str, reason: &str) -> Result<i64, Error> {
        crate::require_admin(who, "the allowlist")?;
        let (kind, value) = asset(value, true)?;
        if reason.trim().is_empty() {
            return Err(Error::Invalid("say why the value is allowlisted".into()));
        }
        Ok(self
            .store
            .apply(
                Change::AddAllowlist {
                    kind,
                    value: value.clone(),
                    reason: reason.trim().to_owned(),
                },
                AuditEntry::by(who, "allowlist.add").detail(format!("{} {value}", kind.code())),
            )
            .await?)
    }

    pub async fn disallow(&self, who: &Principal, id: i64) -> Result<(), Error> {
        crate::require_admin(who, "the allowlist")?;
        self.store
            .apply(
                Change::RemoveAllowlist { id },
                AuditEntry::by(who, "allowlist.remove").detail(id.to_string()),
            )
            .await?;
        Ok(())
    }

    /// Registers an organisation's own network, AS number or domain (ISAC administrators, and
    /// the organisation's own administrators), valid from and until the times given; `only`
    /// refuses a value of another kind (`Cidr` accepts AS numbers too: both are ranges).
    pub async fn add_asset(
        &self,
        who: &Principal,
        org: &str,
        value: &str,
        only: Option<AssetKind>,
        (valid_from, valid_until): (Option<Timestamp>, Option<Timestamp>),
    ) -> Result<i64, Error> {
        let found = self
            .store
            .find_org(org)
            .await?
            .ok_or_else(|| Error::NotFound(format!("no organisation '{org}'")))?;
        if !policy::can_manage_accounts(who, found.id) {
            return Err(Error::Forbidden(format!(
                "registering networks of {org} needs its administrator or the ISAC's"
            )));
        }
        let (kind, value) = asset_value(value, only)?;
        if let (Some(from), Some(until)) = (valid_from, valid_until)
            && until <= from
        {
            return Err(Error::Invalid(format!(
                "the registration ends ({until}) before it starts ({from})"
            )));
        }
        Ok(self
            .store
            .apply(
                Change::AddOrgAsset {
                    org: org.to_owned(),
                    kind,
                    value: value.clone(),
                    valid_from,
                    valid_until,
                },
                AuditEntry::by(who, "asset.add").detail(format!("{org} {} {value}", kind.code())),
            )
            .await?)
    }

    pub async fn remove_asset(&self, who: &Principal, id: i64) -> Result<(), Error> {
        let assets = self.store.org_assets(None).await?;
        let a = assets
            .iter()
            .find(|a| a.id == id && policy::administers_org(who, a.org))
            .ok_or_else(|| Error::NotFound(format!("no registered network or domain {id}")))?;
        if !policy::can_manage_accounts(who, a.org) {
            return Err(Error::Forbidden(
                "removing it needs the organisation's administrator".into(),
            ));
        }
        self.store
            .apply(
                Change::RemoveOrgAsset {
                    id,
                    at: Timestamp::now(),
                },
                AuditEntry::by(who, "asset.remove").detail(format!("{} {}", a.org_name, a.value)),
            )
            .await?;
        Ok(())
    }

    /// Registered networks and domains: of one organisation, or (ISAC administrators) all.
    pub async fn assets(&self, who: &Principal, org: Option<&str>) -> Result<Vec<OrgAsset>, Error> {
        let org_id = match org {
            Some(name) => {
                let o = self
                    .store
                    .find_org(name)
                    .await?
                    .filter(|o| policy::administers_org(who, o.id))
                    .ok_or_else(|| Error::NotFound(format!("no organisation '{name}'")))?;
                Some(o.id)
            }
            None if who.is_isac_admin() => None,
            None => Some(who.org_id),
        };
        Ok(self.store.org_assets(org_id).await?)
    }
}

fn asset_name(kind: AssetKind) -> &'static str {
    match kind {
        AssetKind::Cidr => "network (CIDR or address)",
        AssetKind::Domain => "domain",
        AssetKind::Url => "URL",
        AssetKind::Hash => "hash",
        AssetKind::Asn => "AS number",
    }
}

/// A value to register as an organisation's own: its kind and normal form. `only` refuses a
/// value of another kind (`Cidr` accepts AS numbers too: both are ranges).
pub fn asset_value(value: &str, only: Option<AssetKind>) -> Result<(AssetKind, String), Error> {
    let (kind, value) = asset(value, false)?;
    let range = |k: AssetKind| matches!(k, AssetKind::Cidr | AssetKind::Asn);
    if only.is_some_and(|k| k != kind && !(range(k) && range(kind))) {
        return Err(Error::Invalid(format!(
            "'{value}' is a {}, not a {}",
            asset_name(kind),
            asset_name(only.unwrap_or(kind))
        )));
    }
    Ok((kind, value))
}

/// An allowlist or asset value: a CIDR or address, a domain, and (allowlist only) a URL or
/// a hash.
fn asset(value: &str, any: bool) -> Result<(AssetKind, String), Error> {
    let trimmed = value.trim();
    if !any
        && let Some(n) = trimmed
            .strip_prefix("AS")
            .or_else(|| trimmed.strip_prefix("as"))
            .and_then(|n| n.parse::<u32>().ok())
    {
        return Ok((AssetKind::Asn, format!("AS{n}")));
    }
    let (kind, v) = upload::classify(value).map_err(Error::Invalid)?;
    let kind = match kind.as_str() {
        "ipv4" | "ipv6" => AssetKind::Cidr,
        "domain" => AssetKind::Domain,
        "url" if any => AssetKind::Url,
        k if any && k.starts_with("hash:") => AssetKind::Hash,
        _ => {
            return Err(Error::Invalid(format!(
                "'{value}' is not a network, AS number or domain"
            )));
        }
    };
    Ok((kind, v))
}

/// `30d`, `12h`, `90m` from now, or an RFC 3339 time; 30 days when absent; at most a year.
fn parse_expiry(s: Option<&str>, now: Timestamp) -> Result<Timestamp, Error> {
    const DAY: i64 = 86_400_000_000;
    let at = match s.map(str::trim).filter(|s| !s.is_empty()) {
        None => now.as_micros() + 30 * DAY,
        Some(s) => {
            let unit = match s.chars().last() {
                Some('d') => Some(DAY),
                Some('h') => Some(3_600_000_000),
                Some('m') => Some(60_000_000),
                _ => None,
            };
            match unit.and_then(|u| s[..s.len() - 1].parse::<i64>().ok().map(|n| n * u)) {
                Some(d) if d > 0 => now.as_micros() + d,
                _ => Timestamp::parse(s)
                    .map_err(|_| {
                        Error::Invalid(format!(
                            "'expires' is a duration (30d, 12h, 90m) or an RFC 3339 time, not '{s}'"
                        ))
                    })?
                    .as_micros(),
            }
        }
    };
    if at <= now.as_micros() {
        return Err(Error::Invalid("'expires' must be in the future".into()));
    }
    if at > now.as_micros() + 366 * DAY {
        return Err(Error::Invalid(
            "'expires' is at most a year away: upload the list again to extend it".into(),
        ));
    }
    Ok(Timestamp::from_micros(at))
}
