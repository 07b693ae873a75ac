//! Owner routing (NOTICE): scan campaigns route each finding to the member that owns the
//! address, and to it alone. A campaign snapshots the registered networks when it starts; a
//! scanning organisation downloads the aggregated list and uploads its results, which are read
//! as a stream (`upload`), routed by longest-prefix match (`route`), merged on (address, port,
//! protocol, finding) and stored in batches while the next batch is read. Members see and
//! update only their own findings; reports count them per member, and ISAC-wide with small
//! counts suppressed (`report`).

pub mod collect;
pub mod publish;
pub mod report;
pub mod route;
pub mod shared;
pub mod upload;

use std::collections::HashMap;

use std::io::BufRead;
use std::sync::Arc;

use ipnet::IpNet;
use relay_core::exchange::AssetKind;
use relay_core::notice::{
    Campaign, CampaignKind, Finding, FindingQuery, FindingStatus, FindingsBatch, NewCampaign,
    StatusUpdate, UploadRecord,
};
use relay_core::{AuditEntry, Change, Error, Principal, Role, Store};
use stix::Timestamp;
use tokio::sync::mpsc;

pub use report::{MonthlyReport, ReportRow};
pub use route::{Route, Router};
pub use upload::{LineError, RawFinding, ResultFormat};

use crate::netmap::NetMap;
use collect::Collector;

/// Findings per stored block (of one member), at most.
const BLOCK: usize = 4_096;
/// Blocks stored per write.
const BLOCKS_PER_WRITE: usize = 16;
/// Unreadable lines reported by number, at most.
const MAX_ERRORS: usize = 100;
/// A STIX bundle of results is read whole: at most this many bytes.
const MAX_BUNDLE: usize = 256 * 1024 * 1024;
/// Findings per page, at most.
pub const MAX_PAGE: usize = 10_000;

/// Two organisations claiming overlapping networks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overlap {
    pub net: IpNet,
    pub org: String,
    pub other_net: IpNet,
    pub other_org: String,
}

/// Called with the bytes read so far, for a progress bar.
pub type Progress = Box<dyn Fn(u64) + Send>;

/// A results upload: the bytes, and what is known of them.
pub struct Upload {
    pub input: Box<dyn BufRead + Send>,
    /// `None`: told by the first bytes.
    pub format: Option<ResultFormat>,
    pub progress: Option<Progress>,
}

#[derive(Clone)]
pub struct Notice {
    store: Arc<dyn Store>,
    /// One upload at a time: each reserves the finding ids after the last one stored.
    uploading: Arc<tokio::sync::Mutex<()>>,
    /// Rung when findings change, so that the publisher runs at once.
    changed: Arc<tokio::sync::Notify>,
}

/// The ISAC administrator, or a scanner (for what scanners do).
fn require_scanner(who: &Principal) -> Result<(), Error> {
    if (who.role == Role::Scanner || who.is_isac_admin()) && !who.read_only {
        Ok(())
    } else {
        Err(Error::Forbidden(
            "campaign ranges and result uploads are for scanners and the ISAC administrators"
                .into(),
        ))
    }
}

fn valid_name(name: &str) -> Result<(), Error> {
    if name.is_empty()
        || name.len() > 64
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(Error::Invalid(format!(
            "campaign name '{name}': 1 to 64 letters, digits, '-', '_' or '.'"
        )));
    }
    Ok(())
}

impl Notice {
    pub fn new(store: Arc<dyn Store>) -> Notice {
        Notice {
            store,
            uploading: Arc::new(tokio::sync::Mutex::new(())),
            changed: Arc::new(tokio::sync::Notify::new()),
        }
    }

    /// Starts the publisher (see `run_publisher`) once the campaign fed by shared objects
    /// exists: a first start creates it, with its audit entry, before it returns (so that a
    /// server serves nothing while it happens).
    pub async fn start_publisher(self, relay: relay_core::Relay) -> Result<(), Error> {
        let admin = relay.local_admin("relay").await?;
        self.shared_campaign(&admin).await?;
        tokio::spawn(self.run_publisher(relay, admin));
        Ok(())
    }

    /// The campaign fed by shared objects, created on first use.
    async fn shared_campaign(&self, admin: &Principal) -> Result<Campaign, Error> {
        match self.campaign(shared::SHARED_CAMPAIGN).await {
            Err(Error::NotFound(_)) => {
                self.create_campaign(
                    admin,
                    shared::SHARED_CAMPAIGN,
                    CampaignKind::Standing,
                    Some(
                        "hosts in members' networks named by shared indicators and observed data"
                            .into(),
                    ),
                )
                .await
            }
            found => found,
        }
    }

    /// Turns shared objects into notifications and publishes findings to the NOTICE feed as
    /// they change, until the store closes: at once after an upload or a status update
    /// through this service, else every second (new objects; changes made by another
    /// process, such as an offline upload): a second at most.
    async fn run_publisher(self, relay: relay_core::Relay, admin: Principal) {
        const BATCH: usize = 1_000;
        let mut shared: Option<SharedState> = None;
        loop {
            // One node publishes; the others take over if it stops. A node that gains the
            // lease reads the shared campaign's state afresh.
            let round = async {
                let routed = self.route_shared(&admin, &mut shared, BATCH).await;
                (routed, self.publish(&relay, &admin, BATCH).await)
            };
            let (routed, published) = match relay.while_holding("notice-publisher", round).await {
                Err(_) => return,
                Ok(Some(done)) => done,
                Ok(None) => {
                    shared = None;
                    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
                    continue;
                }
            };
            match (routed, published) {
                (Err(Error::Closed), _) | (_, Err(Error::Closed)) => return,
                (Ok(r), Ok(p)) if r >= BATCH || p >= BATCH => continue,
                (r, p) => {
                    for e in [r.err(), p.err()].into_iter().flatten() {
                        tracing::warn!(error = %e, "notifications failed");
                    }
                }
            }
            tokio::select! {
                _ = self.changed.notified() => {}
                _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
            }
        }
    }

    /// A collector of the campaign's findings that knows those stored, so that repeats
    /// merge into them.
    async fn collector(&self, campaign: i64) -> Result<Collector, Error> {
        let mut c = Collector::new(BLOCK);
        let mut after = 0;
        loop {
            let page = self
                .store
                .findings(&FindingQuery {
                    org: None,
                    campaign: Some(campaign),
                    status: None,
                    after,
                    limit: MAX_PAGE,
                    ids: Vec::new(),
                })
                .await?;
            let Some(last) = page.last().map(|f| f.id) else {
                return Ok(c);
            };
            for f in &page {
                c.known(f).map_err(|e| {
                    Error::Internal(relay_core::store::StoreError::Internal(e.into()))
                })?;
            }
            after = last;
        }
    }

    pub async fn create_campaign(
        &self,
        who: &Principal,
        name: &str,
        kind: CampaignKind,
        schedule: Option<String>,
    ) -> Result<Campaign, Error> {
        crate::require_admin(who, "creating campaigns")?;
        valid_name(name)?;
        self.store
            .apply(
                Change::CreateCampaign(NewCampaign {
                    name: name.to_owned(),
                    kind,
                    schedule,
                    at: Timestamp::now(),
                }),
                AuditEntry::by(who, "campaign.create")
                    .detail(format!("{name} ({})", kind.as_str())),
            )
            .await?;
        self.campaign(name).await
    }

    /// Every campaign (names, kinds, schedules: nobody's data).
    pub async fn campaigns(&self) -> Result<Vec<Campaign>, Error> {
        Ok(self.store.campaigns().await?)
    }

    pub async fn campaign(&self, name: &str) -> Result<Campaign, Error> {
        self.store
            .campaign(name)
            .await?
            .ok_or_else(|| Error::NotFound(format!("no campaign '{name}'")))
    }

    /// The campaign's snapshot as the fewest networks covering it, without owners: what a
    /// scanner scans.
    pub async fn aggregated_ranges(
        &self,
        who: &Principal,
        name: &str,
    ) -> Result<Vec<IpNet>, Error> {
        require_scanner(who)?;
        let c = self.campaign(name).await?;
        let nets: Vec<IpNet> = self
            .store
            .campaign_ranges(c.id)
            .await?
            .iter()
            .filter_map(|r| r.net.parse().ok())
            .collect();
        Ok(IpNet::aggregate(&nets))
    }

    /// Routes and stores a campaign's results, read as they come; returns the upload's
    /// record (also kept for the ISAC).
    pub async fn upload(
        &self,
        who: &Principal,
        name: &str,
        upload: Upload,
    ) -> Result<UploadRecord, Error> {
        require_scanner(who)?;
        if name == shared::SHARED_CAMPAIGN {
            return Err(Error::Invalid(format!(
                "campaign '{name}' is fed by shared objects, not by uploads"
            )));
        }
        let Upload {
            input,
            format,
            progress,
        } = upload;
        let c = self.campaign(name).await?;
        let router = Router::new(&self.store.campaign_ranges(c.id).await?);
        let _one_at_a_time = self.uploading.lock().await;
        let collector = self.collector(c.id).await?;
        let next_id = self.store.last_finding_id().await? + 1;
        // Reading and routing on one thread, merging and gathering into blocks on another;
        // storing here, a batch behind.
        let (chunks_tx, chunks_rx) = std::sync::mpsc::sync_channel::<Chunk>(8);
        let (tx, mut rx) = mpsc::channel::<FindingsBatch>(4);
        let reader = tokio::task::spawn_blocking(move || {
            read_and_route(input, format, &router, chunks_tx, progress)
        });
        let collecting =
            tokio::task::spawn_blocking(move || collect_routed(chunks_rx, collector, next_id, tx));
        let mut record = UploadRecord {
            campaign: c.id,
            uploader: who.user_name.clone(),
            ..UploadRecord::default()
        };
        let mut failure = None;
        while let Some(batch) = rx.recv().await {
            match self.store.add_findings(c.id, batch).await {
                Ok(added) => {
                    record.added += added.added as u64;
                    record.merged += added.merged as u64;
                }
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        // Closing the channel stops the collector, and so the reader, at their next batch.
        drop(rx);
        let stopped =
            |e: tokio::task::JoinError| Error::Unavailable(format!("the upload stopped: {e}"));
        let collected = collecting.await.map_err(stopped)?;
        let read = reader.await.map_err(stopped)??;
        let failure = match (failure, collected) {
            (Some(e), _) => Some((format!("storing stopped: {e}"), Error::from(e))),
            (None, Err(e)) => Some((format!("routing stopped: {e}"), e)),
            (None, Ok(())) => None,
        };
        record.lines = read.lines;
        record.unmatched = read.unmatched;
        record.malformed = read.malformed;
        record.errors = read.errors;
        record.at = Some(Timestamp::now());
        let summary = format!(
            "{name}: {} lines, {} new, {} merged, {} unmatched, {} malformed",
            record.lines, record.added, record.merged, record.unmatched, record.malformed
        );
        let entry = AuditEntry::by(who, "campaign.upload").detail(summary);
        // What was stored stays stored; the record says how far it went.
        if let Some((why, e)) = failure {
            record.errors.push(why);
            let _ = self
                .store
                .apply(Change::RecordUpload(record.clone()), entry)
                .await;
            return Err(e);
        }
        self.store
            .apply(Change::RecordUpload(record.clone()), entry)
            .await?;
        self.changed.notify_one();
        Ok(record)
    }

    pub async fn uploads(&self, who: &Principal, name: &str) -> Result<Vec<UploadRecord>, Error> {
        crate::require_admin(who, "upload records")?;
        let c = self.campaign(name).await?;
        Ok(self.store.uploads(c.id).await?)
    }

    /// The organisation whose findings the caller asks for: its own, or (ISAC administrators)
    /// any or all.
    async fn scope(&self, who: &Principal, org: Option<&str>) -> Result<Option<i64>, Error> {
        if who.role == Role::Scanner {
            return Err(Error::Forbidden("findings are for their members".into()));
        }
        match org {
            None if who.is_isac_admin() => Ok(None),
            None => Ok(Some(who.org_id)),
            Some(name) => {
                let o = self
                    .store
                    .find_org(name)
                    .await?
                    .filter(|o| who.is_isac_admin() || o.id == who.org_id)
                    .ok_or_else(|| Error::NotFound(format!("no organisation '{name}'")))?;
                Ok(Some(o.id))
            }
        }
    }

    /// A page of findings: the caller's organisation's (the ISAC administrator: any
    /// organisation's, or all).
    pub async fn findings(
        &self,
        who: &Principal,
        org: Option<&str>,
        campaign: Option<&str>,
        status: Option<FindingStatus>,
        after: i64,
        limit: usize,
    ) -> Result<Vec<Finding>, Error> {
        let org = self.scope(who, org).await?;
        let campaign = match campaign {
            Some(name) => Some(self.campaign(name).await?.id),
            None => None,
        };
        Ok(self
            .store
            .findings(&FindingQuery {
                org,
                campaign,
                status,
                after,
                limit: limit.clamp(1, MAX_PAGE),
                ids: Vec::new(),
            })
            .await?)
    }

    /// Moves findings of the caller's organisation (any, for the ISAC administrator) through
    /// their lifecycle. Every id must be one of them and every move allowed, else nothing
    /// changes and the error names each offending update.
    pub async fn update_status(
        &self,
        who: &Principal,
        updates: Vec<StatusUpdate>,
    ) -> Result<usize, Error> {
        if who.role == Role::Scanner || !who.role.writes() || who.read_only {
            return Err(Error::Forbidden(
                "updating findings needs an analyst or administrator with a read-write token"
                    .into(),
            ));
        }
        if updates.is_empty() {
            return Err(Error::Invalid("no updates given".into()));
        }
        let org = (!who.is_isac_admin()).then_some(who.org_id);
        let mut ids: Vec<i64> = updates.iter().map(|u| u.id).collect();
        ids.sort_unstable();
        ids.dedup();
        if ids.len() != updates.len() {
            return Err(Error::Invalid("an id appears twice in one update".into()));
        }
        // The current state of each finding named (of the caller's organisation only).
        let mut current = std::collections::HashMap::new();
        for chunk in ids.chunks(500) {
            let page = self
                .store
                .findings(&FindingQuery {
                    org,
                    campaign: None,
                    status: None,
                    after: 0,
                    limit: chunk.len(),
                    ids: chunk.to_vec(),
                })
                .await?;
            current.extend(page.into_iter().map(|f| (f.id, f.status)));
        }
        let mut problems = Vec::new();
        for u in &updates {
            match current.get(&u.id) {
                None => problems.push(format!("finding {}: not found", u.id)),
                Some(s) if !s.may_become(u.status) => {
                    problems.push(format!("finding {}: {s} cannot become {}", u.id, u.status))
                }
                Some(_) => {}
            }
        }
        if !problems.is_empty() {
            let shown: Vec<String> = problems.iter().take(20).cloned().collect();
            let more = problems.len().saturating_sub(shown.len());
            return Err(Error::Invalid(format!(
                "nothing was changed: {}{}",
                shown.join("; "),
                if more > 0 {
                    format!("; and {more} more")
                } else {
                    String::new()
                }
            )));
        }
        let n = updates.len();
        let changed = self
            .store
            .apply(
                Change::UpdateFindings {
                    org,
                    updates,
                    at: Timestamp::now(),
                },
                AuditEntry::by(who, "findings.update").count(n),
            )
            .await?;
        self.changed.notify_one();
        Ok(usize::try_from(changed).unwrap_or(0))
    }

    /// The monthly report (`YYYY-MM`) of one organisation (its own for a member), or, without
    /// one, ISAC-wide with small counts suppressed.
    pub async fn monthly_report(
        &self,
        who: &Principal,
        month: &str,
        org: Option<&str>,
    ) -> Result<MonthlyReport, Error> {
        if who.role == Role::Scanner {
            return Err(Error::Forbidden("reports are for members".into()));
        }
        let (from, to) = report::month_bounds(month).map_err(Error::Invalid)?;
        match org {
            Some(name) => {
                let id = self.scope(who, Some(name)).await?;
                let counts = self.store.finding_counts(from, to, id).await?;
                Ok(report::member(month, name, &counts))
            }
            None => {
                let counts = self.store.finding_counts(from, to, None).await?;
                Ok(report::isac_wide(month, &counts))
            }
        }
    }

    /// Publishes up to `limit` findings changed since they were last published, each as a new
    /// version of its observed-data in the NOTICE feed, posted by `admin` through the same
    /// checks as any post; returns how many it published. A finding the feed refuses is logged
    /// and not retried (it would block the queue); its next change publishes it again.
    pub async fn publish(
        &self,
        relay: &relay_core::Relay,
        admin: &Principal,
        limit: usize,
    ) -> Result<usize, Error> {
        let waiting = self.store.unpublished_findings(limit).await?;
        let page = waiting.findings;
        if page.is_empty() {
            return Ok(0);
        }
        let identities: HashMap<i64, String> = self
            .store
            .list_orgs()
            .await?
            .into_iter()
            .map(|o| (o.id, o.identity))
            .collect();
        let now = Timestamp::now();
        let objects: Vec<serde_json::Value> = page
            .iter()
            .filter_map(|f| {
                let who = identities.get(&f.org)?;
                Some(publish::observed_data(f, who, now))
            })
            .collect();
        let body = serde_json::to_vec(&serde_json::json!({ "objects": objects }))
            .map_err(|e| Error::Invalid(format!("cannot serialise notifications: {e}")))?;
        let status = relay
            .add_objects(admin, relay_core::catalogue::NOTICE_FEED, &body)
            .await?;
        for failure in &status.failures {
            tracing::error!(
                object = %failure.id,
                reason = failure.message.as_deref().unwrap_or(""),
                "a notification was refused by the NOTICE feed"
            );
        }
        let done: Vec<(i64, u32)> = page.iter().map(|f| (f.id, f.version)).collect();
        self.store
            .apply(
                Change::MarkPublished {
                    through: waiting.through,
                    done,
                },
                AuditEntry::by(admin, "notice.publish")
                    .feed(relay_core::catalogue::NOTICE_FEED)
                    .count(status.success_count as usize),
            )
            .await?;
        Ok(page.len())
    }

    /// Examines up to `limit` objects committed since the last ones examined and stores the
    /// notifications they give (see `shared`); returns how many objects it examined.
    async fn route_shared(
        &self,
        admin: &Principal,
        state: &mut Option<SharedState>,
        limit: usize,
    ) -> Result<usize, Error> {
        let st = match state {
            Some(s) => s,
            None => {
                let c = self.shared_campaign(admin).await?;
                state.insert(SharedState {
                    campaign: c.id,
                    cursor: c.cursor.unwrap_or(Timestamp::from_micros(0)),
                    seen: self.collector(c.id).await?,
                })
            }
        };
        let now = Timestamp::now();
        let assets = self.store.org_assets(None).await?;
        if !assets
            .iter()
            .any(|a| a.kind == AssetKind::Cidr && a.holds_at(now))
        {
            // No network registered: nothing can be routed, so the cursor moves past what is
            // there without reading it (those objects would compete with ingest for the cores).
            if let Some(last) = self.store.last_added().await?
                && last > st.cursor
            {
                self.store.set_campaign_cursor(st.campaign, last).await?;
                st.cursor = last;
            }
            return Ok(0);
        }
        let batch = self.store.committed_since(st.cursor, limit).await?;
        let Some(last) = batch.last().map(|o| o.date_added) else {
            return Ok(0);
        };
        let routing = shared::SharedRouting::new(
            &assets,
            self.store.list_feeds().await?,
            &self.store.list_orgs().await?,
            &self.store.list_groups().await?,
            now,
        );
        let resolved = self.resolve_references(&batch).await?;
        let found: Vec<shared::HostFinding> = batch
            .iter()
            .flat_map(|o| routing.findings(o, &resolved))
            .collect();
        if !found.is_empty() {
            let _one_at_a_time = self.uploading.lock().await;
            let mut next = self.store.last_finding_id().await? + 1;
            let mut out = FindingsBatch::default();
            for f in found {
                let incoming = collect::Incoming {
                    org: f.org,
                    ip: f.ip,
                    prefix_len: f.prefix_len,
                    port: 0,
                    kind: st.seen.kind("", f.finding),
                    observed: f.observed,
                    detail: Some(f.detail),
                };
                if let Err(e) = st.seen.add(incoming, &mut out, &mut next) {
                    // Nothing of this batch is stored: the collector is read again next time.
                    *state = None;
                    return Err(Error::Internal(relay_core::store::StoreError::Internal(
                        e.into(),
                    )));
                }
            }
            st.seen.flush(&mut out, &mut next);
            if let Err(e) = self.store.add_findings(st.campaign, out).await {
                // What the collector holds as stored was not: it is read again next time.
                *state = None;
                return Err(e.into());
            }
        }
        self.store.set_campaign_cursor(st.campaign, last).await?;
        st.cursor = last;
        Ok(batch.len())
    }

    /// The objects that sightings and observed data of a batch refer to, two levels deep, read
    /// from the feed each referrer is in.
    async fn resolve_references(
        &self,
        batch: &[relay_core::store::CommittedObject],
    ) -> Result<HashMap<String, serde_json::Value>, Error> {
        let mut resolved: HashMap<String, serde_json::Value> = HashMap::new();
        // (feed, body) of the objects whose references are still to follow.
        let mut pending: Vec<(String, serde_json::Value)> = batch
            .iter()
            .filter(|o| matches!(o.object_type.as_str(), "sighting" | "observed-data"))
            .filter_map(|o| Some((o.feed_id.clone(), serde_json::from_str(&o.body).ok()?)))
            .collect();
        let everything = relay_core::policy::Visibility {
            everything: true,
            open_up_to: Some(relay_core::Tlp::Red),
            org: 0,
        };
        for _level in 0..2 {
            let mut wanted: HashMap<String, Vec<String>> = HashMap::new();
            for (feed, body) in &pending {
                let ty = body
                    .get("type")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or("");
                for r in shared::references(ty, body) {
                    if !resolved.contains_key(&r) {
                        wanted.entry(feed.clone()).or_default().push(r);
                    }
                }
            }
            let mut next = Vec::new();
            for (feed, mut ids) in wanted {
                ids.sort();
                ids.dedup();
                for chunk in ids.chunks(200) {
                    let query = relay_core::ObjectQuery {
                        ids: chunk.to_vec(),
                        versions: relay_core::VersionFilter::Select {
                            first: false,
                            last: true,
                            at: Vec::new(),
                        },
                        ..relay_core::ObjectQuery::all_versions(None, chunk.len())
                    };
                    let page = self
                        .store
                        .query_objects(&[(feed.clone(), everything.clone())], &query)
                        .await?;
                    for o in page.objects {
                        let Some(v) = o.body.and_then(|b| serde_json::from_str(&b).ok()) else {
                            continue;
                        };
                        next.push((feed.clone(), serde_json::Value::clone(&v)));
                        resolved.insert(o.id, v);
                    }
                }
            }
            pending = next;
        }
        Ok(resolved)
    }

    /// Networks claimed by more than one organisation (ISAC administrators).
    pub async fn overlaps(&self, who: &Principal) -> Result<Vec<Overlap>, Error> {
        crate::require_admin(who, "the overlap report")?;
        let now = Timestamp::now();
        let mut claims: NetMap<Vec<String>> = NetMap::new();
        for a in self.store.org_assets(None).await? {
            if a.kind != AssetKind::Cidr || !a.holds_at(now) {
                continue;
            }
            let Ok(net) = a.value.parse::<IpNet>() else {
                continue;
            };
            claims.entry_or_default(net).push(a.org_name);
        }
        let mut out = Vec::new();
        for (net, owners) in claims.iter() {
            for holder in claims.covering(&net) {
                for org in owners {
                    for other in holder.1 {
                        let same_net = holder.0 == net;
                        // Each pair once: equal networks in name order, nested ones from the
                        // inner side.
                        if other != org && (!same_net || org < other) {
                            out.push(Overlap {
                                net,
                                org: org.clone(),
                                other_net: holder.0,
                                other_org: other.clone(),
                            });
                        }
                    }
                }
            }
        }
        Ok(out)
    }
}

/// What reading an upload found besides the findings it sent on.
struct ReadTally {
    lines: u64,
    unmatched: u64,
    malformed: u64,
    errors: Vec<String>,
}

/// A reader that counts the bytes through it, for progress.
struct Counting<R> {
    inner: R,
    read: u64,
    progress: Option<Progress>,
    reported: u64,
}

impl<R: BufRead> std::io::Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Counting<R> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        self.inner.fill_buf()
    }
    fn consume(&mut self, n: usize) {
        self.inner.consume(n);
        self.count(n);
    }
}

impl<R> Counting<R> {
    fn count(&mut self, n: usize) {
        self.read += n as u64;
        if self.read - self.reported >= 1 << 20 {
            self.reported = self.read;
            if let Some(p) = &self.progress {
                p(self.read);
            }
        }
    }
}

/// Where the routing of shared objects stands.
struct SharedState {
    campaign: i64,
    cursor: Timestamp,
    seen: Collector,
}

/// Routed findings on their way from the reading thread to the collecting one, with the kinds
/// they name for the first time (the reader numbers kinds in the order they appear).
struct Chunk {
    kinds: Vec<(String, String)>,
    findings: Vec<collect::Incoming>,
}

/// Findings per chunk.
const CHUNK: usize = 8_192;

/// Reads, checks and routes results; the first of an upload's two threads.
fn read_and_route(
    input: Box<dyn BufRead + Send>,
    format: Option<ResultFormat>,
    router: &Router,
    tx: std::sync::mpsc::SyncSender<Chunk>,
    progress: Option<Progress>,
) -> Result<ReadTally, Error> {
    let mut input = Counting {
        inner: input,
        read: 0,
        progress,
        reported: 0,
    };
    let format = match format {
        Some(f) => f,
        None => ResultFormat::sniff(
            input
                .fill_buf()
                .map_err(|e| Error::Invalid(format!("the results cannot be read: {e}")))?,
        ),
    };
    let mut tally = ReadTally {
        lines: 0,
        unmatched: 0,
        malformed: 0,
        errors: Vec::new(),
    };
    let mut kinds: HashMap<String, HashMap<String, u32>> = HashMap::new();
    let mut kinds_named = 0u32;
    let mut chunk = Chunk {
        kinds: Vec::new(),
        findings: Vec::with_capacity(CHUNK),
    };
    let items: Box<dyn Iterator<Item = upload::Item>> = match format {
        ResultFormat::Stix => Box::new(
            upload::stix_findings(&mut input, MAX_BUNDLE)
                .map_err(Error::Invalid)?
                .into_iter(),
        ),
        ResultFormat::Csv => Box::new(upload::CsvFindings::new(&mut input)),
        ResultFormat::JsonLines => Box::new(upload::JsonFindings::new(&mut input)),
    };
    for item in items {
        tally.lines += 1;
        let f = match item {
            Ok(f) => f,
            Err(e) => {
                tally.malformed += 1;
                if tally.errors.len() < MAX_ERRORS {
                    tally.errors.push(e.to_string());
                }
                continue;
            }
        };
        let Route::Owner { org, prefix } = router.route(f.ip) else {
            tally.unmatched += 1;
            continue;
        };
        let kind = match kinds.get(&f.protocol).and_then(|k| k.get(&f.finding)) {
            Some(k) => *k,
            None => {
                let k = kinds_named;
                kinds_named += 1;
                chunk.kinds.push((f.protocol.clone(), f.finding.clone()));
                kinds.entry(f.protocol).or_default().insert(f.finding, k);
                k
            }
        };
        chunk.findings.push(collect::Incoming {
            org,
            ip: f.ip.to_canonical(),
            prefix_len: prefix.prefix_len(),
            port: f.port,
            kind,
            observed: f.observed,
            detail: f.detail,
        });
        if chunk.findings.len() >= CHUNK {
            let full = std::mem::replace(
                &mut chunk,
                Chunk {
                    kinds: Vec::new(),
                    findings: Vec::with_capacity(CHUNK),
                },
            );
            if tx.send(full).is_err() {
                // The collector stopped; it says why.
                return Ok(tally);
            }
        }
    }
    if !chunk.findings.is_empty() {
        let _ = tx.send(chunk);
    }
    Ok(tally)
}

/// Merges repeats and gathers findings into blocks for the store; the second thread.
fn collect_routed(
    chunks: std::sync::mpsc::Receiver<Chunk>,
    mut collector: Collector,
    mut next_id: i64,
    tx: mpsc::Sender<FindingsBatch>,
) -> Result<(), Error> {
    // The reader's kind numbers, as the collector's.
    let mut kinds: Vec<u32> = Vec::new();
    let mut batch = FindingsBatch::default();
    for chunk in chunks {
        for (protocol, finding) in &chunk.kinds {
            kinds.push(collector.kind(protocol, finding));
        }
        for mut f in chunk.findings {
            f.kind = kinds[f.kind as usize];
            collector
                .add(f, &mut batch, &mut next_id)
                .map_err(Error::Unprocessable)?;
            if (batch.blocks.len() >= BLOCKS_PER_WRITE || batch.merges.len() >= BLOCK)
                && tx.blocking_send(std::mem::take(&mut batch)).is_err()
            {
                // The store stopped taking them; the upload says why.
                return Ok(());
            }
        }
    }
    collector.flush(&mut batch, &mut next_id);
    if !batch.is_empty() {
        let _ = tx.blocking_send(batch);
    }
    Ok(())
}

/// Status updates from CSV: `id,status[,note]`, with or without that header.
pub fn parse_status_csv(text: &str) -> Result<Vec<StatusUpdate>, Error> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = i + 1;
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                problems.push(format!("line {line}: {e}"));
                continue;
            }
        };
        let first = record.get(0).unwrap_or("");
        if first.is_empty()
            || first.starts_with('#')
            || (i == 0 && first.eq_ignore_ascii_case("id"))
        {
            continue;
        }
        let id = match first.parse::<i64>() {
            Ok(id) if id > 0 => id,
            _ => {
                problems.push(format!("line {line}: id '{first}' is not a finding id"));
                continue;
            }
        };
        match FindingStatus::parse(record.get(1).unwrap_or("")) {
            Ok(status) => out.push(StatusUpdate {
                id,
                status,
                note: record
                    .get(2)
                    .filter(|n| !n.is_empty())
                    .map(|n| n.chars().take(1024).collect()),
            }),
            Err(e) => problems.push(format!("line {line}: {e}")),
        }
    }
    if !problems.is_empty() {
        return Err(Error::Invalid(format!(
            "nothing was changed: {}",
            problems.into_iter().take(20).collect::<Vec<_>>().join("; ")
        )));
    }
    Ok(out)
}

/// Findings as CSV with a header row; the address column is `ip`.
pub fn findings_csv(findings: &[Finding], header: bool) -> Vec<u8> {
    let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
    if header {
        let _ = w.write_record([
            "id",
            "campaign",
            "org",
            "ip",
            "port",
            "protocol",
            "finding",
            "first_observed",
            "last_observed",
            "times_seen",
            "detail",
            "status",
            "status_at",
            "status_note",
        ]);
    }
    for f in findings {
        let _ = w.write_record([
            f.id.to_string(),
            f.campaign.clone(),
            f.org_name.clone(),
            f.ip.clone(),
            if f.port == 0 {
                String::new()
            } else {
                f.port.to_string()
            },
            f.protocol.clone(),
            f.finding.clone(),
            f.first_observed.to_string(),
            f.last_observed.to_string(),
            f.times_seen.to_string(),
            f.detail.clone().unwrap_or_default(),
            f.status.as_str().to_owned(),
            f.status_at.map(|t| t.to_string()).unwrap_or_default(),
            f.status_note.clone().unwrap_or_default(),
        ]);
    }
    w.into_inner().unwrap_or_default()
}
