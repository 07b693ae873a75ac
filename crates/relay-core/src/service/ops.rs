//! Operations for the ISAC administrators: figures for monitoring (the server exposes them to
//! Prometheus: object versions per feed, the size of the stored data, live streams open), and
//! online backups of the store.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::Relay;
use crate::{Error, Principal, policy};

/// Feed sizes are counted at most this often (counting reads every object's index entry).
const FEED_SIZES_EVERY: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operations {
    /// Object versions stored per feed, by name (counted at most once a minute).
    pub feed_objects: Sizes,
    pub store_bytes: u64,
    pub stream_subscribers: usize,
}

/// Object versions per feed, by name.
type Sizes = Vec<(String, u64)>;

/// The last count of feed sizes, and when it was taken.
#[derive(Default)]
pub(super) struct FeedSizes(Mutex<Option<(Instant, Sizes)>>);

impl Relay {
    /// Writes a consistent copy of the store to the new file `dest` while it keeps serving.
    pub async fn backup(&self, who: &Principal, dest: std::path::PathBuf) -> Result<(), Error> {
        if !who.is_isac_admin() {
            return Err(Error::Forbidden(
                "backups are for ISAC administrators".into(),
            ));
        }
        let detail = dest.display().to_string();
        self.store.backup(dest).await?;
        self.note(crate::AuditEntry::by(who, "store.backup").detail(detail))
            .await;
        Ok(())
    }

    pub async fn operations(&self, who: &Principal) -> Result<Operations, Error> {
        if !policy::reads_operations(who) {
            return Err(Error::Forbidden(
                "operational figures are for the ISAC administrators".into(),
            ));
        }
        let cached = self
            .feed_sizes
            .0
            .lock()
            .ok()
            .and_then(|c| c.clone())
            .filter(|(at, _)| at.elapsed() < FEED_SIZES_EVERY);
        let feed_objects = match cached {
            Some((_, sizes)) => sizes,
            None => {
                let sizes = self.store.feed_sizes().await?;
                if let Ok(mut c) = self.feed_sizes.0.lock() {
                    *c = Some((Instant::now(), sizes.clone()));
                }
                sizes
            }
        };
        Ok(Operations {
            feed_objects,
            store_bytes: self.store.storage_bytes().await?,
            stream_subscribers: self.stream_subscribers(),
        })
    }
}
