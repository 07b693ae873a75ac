//! Operational figures for monitoring (the server exposes them to Prometheus): object versions
//! per feed, the size of the stored data, live streams open. For the ISAC administrators.

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
