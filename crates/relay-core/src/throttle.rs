//! Brute-force protection: failed logins are counted per account and per source address in a
//! sliding window; once either reaches its limit, every attempt on that key is refused until the
//! oldest failure leaves the window, even with right credentials, so that guessing stops.
//!
//! A crate such as `governor` limits request rates; what is limited here is failures, which are
//! only known after the attempt, so the counting is ours. Memory stays bounded: keys whose
//! failures have all expired are dropped as the table grows.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Limits on failed logins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleConfig {
    /// Failures per account within the window before the account is refused.
    pub per_account: usize,
    /// Failures per source address within the window before the address is refused.
    pub per_source: usize,
    pub window: Duration,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        ThrottleConfig {
            per_account: 10,
            per_source: 50,
            window: Duration::from_secs(15 * 60),
        }
    }
}

/// What a login attempt is counted against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ThrottleKey {
    Account(String),
    Source(String),
}

/// Grows past this many keys only after expired ones are dropped.
const PRUNE_AT: usize = 10_000;
/// Past this many keys (someone trying many account names or addresses), keys that are not
/// locked are dropped too: memory stays bounded, and what is locked stays locked.
const HARD_CAP: usize = 100_000;

#[derive(Debug)]
pub struct LoginThrottle {
    config: ThrottleConfig,
    failures: Mutex<Table>,
}

#[derive(Debug, Default)]
struct Table {
    keys: HashMap<ThrottleKey, VecDeque<Instant>>,
    /// The size at which the table is pruned next: pruning walks every key, so it runs only
    /// when the table has doubled since the last time.
    next_prune: usize,
}

impl LoginThrottle {
    pub fn new(config: ThrottleConfig) -> Self {
        LoginThrottle {
            config,
            failures: Mutex::new(Table {
                keys: HashMap::new(),
                next_prune: PRUNE_AT,
            }),
        }
    }

    fn limit(&self, key: &ThrottleKey) -> usize {
        match key {
            ThrottleKey::Account(_) => self.config.per_account,
            ThrottleKey::Source(_) => self.config.per_source,
        }
    }

    /// `Err(wait)` when any of the keys is locked: the attempt must not even be tried.
    pub fn check(&self, keys: &[ThrottleKey], now: Instant) -> Result<(), Duration> {
        let Ok(mut table) = self.failures.lock() else {
            return Ok(());
        };
        let mut wait = Duration::ZERO;
        for key in keys {
            if let Some(q) = table.keys.get_mut(key) {
                expire(q, now, self.config.window);
                if q.len() >= self.limit(key).max(1)
                    && let Some(oldest) = q.front()
                {
                    wait = wait.max((*oldest + self.config.window).saturating_duration_since(now));
                }
            }
        }
        if wait.is_zero() {
            Ok(())
        } else {
            // Whole seconds for Retry-After, never 0.
            Err(Duration::from_secs(wait.as_secs().max(1)))
        }
    }

    /// Counts a failure against each key. Returns whether this failure locked one of them (so
    /// that the lock is logged once, not every refused attempt after it).
    pub fn record_failure(&self, keys: &[ThrottleKey], now: Instant) -> bool {
        let Ok(mut table) = self.failures.lock() else {
            return false;
        };
        if table.keys.len() >= table.next_prune {
            let window = self.config.window;
            table.keys.retain(|_, q| {
                expire(q, now, window);
                !q.is_empty()
            });
            if table.keys.len() >= HARD_CAP {
                let (per_account, per_source) = (self.config.per_account, self.config.per_source);
                table.keys.retain(|k, q| {
                    q.len()
                        >= match k {
                            ThrottleKey::Account(_) => per_account,
                            ThrottleKey::Source(_) => per_source,
                        }
                });
            }
            table.next_prune = (table.keys.len() * 2).clamp(PRUNE_AT, HARD_CAP);
        }
        let mut locked = false;
        for key in keys {
            let limit = self.limit(key);
            let q = table.keys.entry(key.clone()).or_default();
            expire(q, now, self.config.window);
            q.push_back(now);
            // Never keep more than the limit needs.
            while q.len() > limit.max(1) {
                q.pop_front();
            }
            locked |= q.len() == limit;
        }
        locked
    }

    /// A successful login clears the account's failures (not the address's: one good account
    /// must not reset a guessing address).
    pub fn record_success(&self, account: &str) {
        if let Ok(mut table) = self.failures.lock() {
            table.keys.remove(&ThrottleKey::Account(account.to_owned()));
        }
    }
}

fn expire(q: &mut VecDeque<Instant>, now: Instant, window: Duration) {
    while q
        .front()
        .is_some_and(|t| now.saturating_duration_since(*t) >= window)
    {
        q.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_after_the_limit_and_opens_when_the_window_passes() {
        let t = LoginThrottle::new(ThrottleConfig {
            per_account: 3,
            per_source: 5,
            window: Duration::from_secs(60),
        });
        let start = Instant::now();
        let alice = [
            ThrottleKey::Account("alice".into()),
            ThrottleKey::Source("10.0.0.1".into()),
        ];
        assert!(!t.record_failure(&alice, start));
        assert!(!t.record_failure(&alice, start + Duration::from_secs(1)));
        assert_eq!(t.check(&alice, start + Duration::from_secs(2)), Ok(()));
        assert!(t.record_failure(&alice, start + Duration::from_secs(2)));
        assert_eq!(
            t.check(&alice, start + Duration::from_secs(3)),
            Err(Duration::from_secs(57))
        );
        // Another account from the same address is not locked yet ...
        let bob = [
            ThrottleKey::Account("bob".into()),
            ThrottleKey::Source("10.0.0.1".into()),
        ];
        assert_eq!(t.check(&bob, start + Duration::from_secs(3)), Ok(()));
        // ... until the address reaches its own limit.
        t.record_failure(&bob, start + Duration::from_secs(4));
        t.record_failure(&bob, start + Duration::from_secs(5));
        assert!(t.check(&bob, start + Duration::from_secs(6)).is_err());
        // The window passes: the oldest failures expire.
        assert_eq!(t.check(&alice, start + Duration::from_secs(61)), Ok(()));
    }

    #[test]
    fn many_keys_stay_bounded_and_locks_survive() {
        let t = LoginThrottle::new(ThrottleConfig {
            per_account: 2,
            per_source: 1_000_000,
            window: Duration::from_secs(600),
        });
        let now = Instant::now();
        let locked = [ThrottleKey::Account("victim".into())];
        t.record_failure(&locked, now);
        t.record_failure(&locked, now);
        for i in 0..HARD_CAP + 10 {
            t.record_failure(&[ThrottleKey::Account(format!("guess{i}"))], now);
        }
        assert!(t.failures.lock().unwrap().keys.len() <= HARD_CAP);
        assert!(
            t.check(&locked, now).is_err(),
            "the lock survives the pruning"
        );
    }

    #[test]
    fn success_clears_the_account_only() {
        let t = LoginThrottle::new(ThrottleConfig {
            per_account: 2,
            per_source: 2,
            window: Duration::from_secs(60),
        });
        let now = Instant::now();
        let acct = [ThrottleKey::Account("a".into())];
        t.record_failure(&acct, now);
        t.record_failure(&acct, now);
        assert!(t.check(&acct, now).is_err());
        t.record_success("a");
        assert_eq!(t.check(&acct, now), Ok(()));
    }
}
