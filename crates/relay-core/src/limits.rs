//! Server-side rate limits of consumer profiles: requests per second per token, and objects
//! served per UTC day (per token for the rate limit, per profile owner for the daily volume
//! cap). Counts live in memory: a restart forgets them, which errs on the side of serving.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use stix::Timestamp;

const DAY_MICROS: i64 = 86_400 * 1_000_000;

/// Whose daily count.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Counter {
    Token(i64),
    Org(i64),
}

#[derive(Default)]
pub struct Limits {
    per_token: Mutex<HashMap<i64, (u32, DefaultDirectRateLimiter)>>,
    served: Mutex<HashMap<Counter, (i64, u64)>>,
}

fn today() -> i64 {
    Timestamp::now().as_micros().div_euclid(DAY_MICROS)
}

/// Seconds until the next UTC midnight (at least 1).
pub fn until_tomorrow() -> u64 {
    let now = Timestamp::now().as_micros();
    let next = (now.div_euclid(DAY_MICROS) + 1) * DAY_MICROS;
    u64::try_from((next - now) / 1_000_000).unwrap_or(0).max(1)
}

impl Limits {
    /// Takes one request from the token's allowance of `per_second`; `Err` gives the wait.
    pub fn request(&self, token_id: i64, per_second: u32) -> Result<(), Duration> {
        let Some(rate) = NonZeroU32::new(per_second) else {
            return Ok(());
        };
        let mut map = self.per_token.lock().unwrap_or_else(|e| e.into_inner());
        let entry = map
            .entry(token_id)
            .or_insert_with(|| (per_second, RateLimiter::direct(Quota::per_second(rate))));
        if entry.0 != per_second {
            *entry = (per_second, RateLimiter::direct(Quota::per_second(rate)));
        }
        entry
            .1
            .check()
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }

    /// Objects served today under this counter.
    pub fn served_today(&self, counter: &Counter) -> u64 {
        let map = self.served.lock().unwrap_or_else(|e| e.into_inner());
        match map.get(counter) {
            Some((day, n)) if *day == today() => *n,
            _ => 0,
        }
    }

    /// Counts objects served.
    pub fn add_served(&self, counter: Counter, n: usize) {
        if n == 0 {
            return;
        }
        let day = today();
        let mut map = self.served.lock().unwrap_or_else(|e| e.into_inner());
        let entry = map.entry(counter).or_insert((day, 0));
        if entry.0 != day {
            *entry = (day, 0);
        }
        entry.1 = entry.1.saturating_add(n as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_past_the_rate_wait() {
        let l = Limits::default();
        assert!(l.request(1, 2).is_ok());
        assert!(l.request(1, 2).is_ok());
        let wait = l.request(1, 2).unwrap_err();
        assert!(wait > Duration::ZERO && wait <= Duration::from_secs(1));
        assert!(l.request(2, 2).is_ok(), "tokens are limited separately");
    }

    #[test]
    fn daily_counts_add_up_per_counter() {
        let l = Limits::default();
        l.add_served(Counter::Org(1), 5);
        l.add_served(Counter::Org(1), 3);
        assert_eq!(l.served_today(&Counter::Org(1)), 8);
        assert_eq!(l.served_today(&Counter::Token(1)), 0);
        assert!(until_tomorrow() <= 86_400);
    }
}
