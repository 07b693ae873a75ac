//! Reads for people rather than TAXII clients: a feed newest first, paged backwards by
//! `date_added`; how much each readable feed received lately; one object wherever the caller
//! may read it, with all its versions and what refers to it. Every read passes the caller's
//! `policy::visibility` to the store, as the TAXII reads do.

use stix::Timestamp;

use super::Relay;
use super::objects::visibilities;
use crate::audit::AuditEntry;
use crate::error::Error;
use crate::feed::{Feed, FeedKind};
use crate::policy::FeedRights;
use crate::principal::Principal;
use crate::query::{ObjectPage, ObjectQuery, StoredObject, VersionFilter};

/// A page of a feed, newest first.
#[derive(Debug, Clone, Default)]
pub struct Browse {
    /// Only these STIX types (none: any).
    pub types: Vec<String>,
    /// Only objects added before this (the "older" link of the previous page).
    pub before: Option<Timestamp>,
    pub limit: usize,
}

/// A feed the caller reads, with its rights and how many objects it received lately.
#[derive(Debug, Clone)]
pub struct FeedSummary {
    pub feed: Feed,
    pub rights: FeedRights,
    /// Objects added since the time asked, visible to the caller, counted up to the cap.
    pub recent: usize,
    /// The count reached the cap: there are at least that many.
    pub capped: bool,
}

/// One object as the caller may see it.
#[derive(Debug, Clone)]
pub struct ObjectView {
    /// Every version in every feed the caller reads, newest first.
    pub versions: Vec<(Feed, StoredObject)>,
    /// Current versions of the objects referring to it (relationships, sightings, reports,
    /// opinions...), newest first.
    pub referencing: Vec<(Feed, StoredObject)>,
    /// The federation peers its versions were pulled from, by id.
    pub sources: Vec<(i64, String)>,
}

/// The most versions and referring objects an object page lists.
const VIEW_LIMIT: usize = 200;

impl Relay {
    /// A page of a feed (or of `Default`, over every feed the caller reads), current versions
    /// newest first.
    pub async fn browse(
        &self,
        who: &Principal,
        key: &str,
        b: &Browse,
    ) -> Result<(Feed, ObjectPage), Error> {
        let (feed, _) = self.collection(who, key).await?;
        let feeds = self.scope(who, &feed, None).await?;
        let query = ObjectQuery {
            added_before: b.before,
            types: b.types.clone(),
            newest_first: true,
            versions: VersionFilter::LAST,
            ..ObjectQuery::all_versions(None, b.limit.clamp(1, self.config.page_limits.max))
        };
        let page = self.query_feeds(who, &feeds, &query).await?;
        self.note(
            AuditEntry::by(who, "objects.read")
                .feed(&feed.name)
                .count(page.objects.len()),
        )
        .await;
        Ok((feed, page))
    }

    /// The feeds the caller reads, each with the objects it received since `since` that the
    /// caller may see, counted up to `cap`.
    pub async fn feed_summaries(
        &self,
        who: &Principal,
        since: Timestamp,
        cap: usize,
    ) -> Result<Vec<FeedSummary>, Error> {
        let mut out = Vec::new();
        for (feed, rights) in self.collections(who).await? {
            let feeds = self.scope(who, &feed, None).await?;
            let query = ObjectQuery {
                with_body: false,
                versions: VersionFilter::All,
                ..ObjectQuery::all_versions(Some(since), cap)
            };
            let page = self.query_feeds(who, &feeds, &query).await?;
            out.push(FeedSummary {
                recent: page.objects.len(),
                capped: page.more,
                feed,
                rights,
            });
        }
        Ok(out)
    }

    /// A query over feeds, each as the caller may see it; nothing when there are none.
    async fn query_feeds(
        &self,
        who: &Principal,
        feeds: &[Feed],
        query: &ObjectQuery,
    ) -> Result<ObjectPage, Error> {
        if feeds.is_empty() {
            return Ok(ObjectPage::default());
        }
        Ok(self
            .store
            .query_objects(&visibilities(who, feeds), query)
            .await?)
    }

    /// One object, wherever the caller may read it: every version, and what refers to it.
    /// Missing (`NotFound`) when the caller may see no version of it.
    pub async fn object_view(&self, who: &Principal, id: &str) -> Result<ObjectView, Error> {
        stix::StixId::parse(id).map_err(|e| Error::Invalid(format!("invalid object id: {e}")))?;
        let feeds: Vec<Feed> = self
            .list_feeds(who)
            .await?
            .into_iter()
            .filter(|f| f.kind != FeedKind::Aggregate)
            .collect();
        let scope = visibilities(who, &feeds);
        let query = ObjectQuery {
            ids: vec![id.to_owned()],
            newest_first: true,
            ..ObjectQuery::all_versions(None, VIEW_LIMIT)
        };
        let with_feed = |objects: Vec<StoredObject>| -> Vec<(Feed, StoredObject)> {
            objects
                .into_iter()
                .filter_map(|o| Some((feeds.iter().find(|f| f.id == o.feed_id)?.clone(), o)))
                .collect()
        };
        let versions = with_feed(self.store.query_objects(&scope, &query).await?.objects);
        self.note(
            AuditEntry::by(who, "object.read")
                .count(versions.len())
                .detail(id),
        )
        .await;
        if versions.is_empty() {
            return Err(Error::NotFound(format!("no object '{id}'")));
        }
        let referencing = with_feed(self.store.referencing(&scope, id, VIEW_LIMIT).await?);
        let sources = if versions.iter().any(|(_, o)| o.source_peer.is_some()) {
            self.store
                .peers()
                .await?
                .into_iter()
                .filter(|p| versions.iter().any(|(_, o)| o.source_peer == Some(p.id)))
                .map(|p| (p.id, p.spec.name))
                .collect()
        } else {
            Vec::new()
        };
        Ok(ObjectView {
            versions,
            referencing,
            sources,
        })
    }
}
