//! Per-client rate limit: a token bucket per client, kept in memory only.
//!
//! Buckets are keyed by a SipHash of the client address (and a scope) under
//! a key drawn at process start, so the table holds no address and its keys
//! mean nothing after a restart. A client over its limit is answered like
//! everyone else and its hits are counted as `rate_limited`, not stored. The
//! same buckets count failed stats sign-ins (`http::throttle`), refilling
//! slowly, one bucket per client and token name tried.
//! Must never: persist or log a bucket key.

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

const SHARDS: usize = 16;
/// A shard larger than this drops its idle (full) buckets.
const SHARD_SOFT_LIMIT: usize = 16 * 1024;

pub struct RateLimiter {
    shards: Vec<Mutex<HashMap<u64, Bucket>>>,
    key: RandomState,
    per_second: f64,
    burst: f64,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

impl RateLimiter {
    pub fn new(per_second: u32, burst: u32) -> RateLimiter {
        RateLimiter::with_rate(f64::from(per_second), burst)
    }

    /// One token back every `every` (slower than one a second), up to `burst`.
    pub fn refilling_every(every: Duration, burst: u32) -> RateLimiter {
        RateLimiter::with_rate(1.0 / every.as_secs_f64(), burst)
    }

    fn with_rate(per_second: f64, burst: u32) -> RateLimiter {
        RateLimiter {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            key: RandomState::new(),
            per_second,
            burst: f64::from(burst),
        }
    }

    /// The bucket key of `client`'s bucket for `scope`, and its shard.
    fn shard(&self, client: IpAddr, scope: &str) -> (u64, MutexGuard<'_, HashMap<u64, Bucket>>) {
        let key = self.key.hash_one((bucket_address(client), scope));
        let shard = self.shards[(key as usize) % SHARDS]
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        (key, shard)
    }

    /// How long until `client`'s bucket for `scope` has a token; `None`
    /// when it has one now. Takes nothing.
    pub fn wait(&self, client: IpAddr, scope: &str, now: Instant) -> Option<Duration> {
        let (key, shard) = self.shard(client, scope);
        let tokens = refilled(shard.get(&key)?, now, self.per_second, self.burst);
        (tokens < 1.0).then(|| Duration::from_secs_f64((1.0 - tokens) / self.per_second))
    }

    /// Takes a token for `client` if it has one.
    pub fn allow(&self, client: IpAddr, now: Instant) -> bool {
        self.allow_in(client, "", now)
    }

    /// Takes a token from `client`'s bucket for `scope` (each scope of a
    /// client has a bucket of its own) if it has one.
    pub fn allow_in(&self, client: IpAddr, scope: &str, now: Instant) -> bool {
        let (key, mut shard) = self.shard(client, scope);
        if shard.len() > SHARD_SOFT_LIMIT {
            let (rate, burst) = (self.per_second, self.burst);
            shard.retain(|_, bucket| refilled(bucket, now, rate, burst) < burst);
            if shard.len() > SHARD_SOFT_LIMIT {
                // A flood of distinct clients: forget them all rather than grow.
                // They get a fresh burst, which is the cheaper failure.
                shard.clear();
            }
        }
        let bucket = shard.entry(key).or_insert(Bucket {
            tokens: self.burst,
            updated: now,
        });
        bucket.tokens = refilled(bucket, now, self.per_second, self.burst);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Buckets held, for tests of the memory bound.
    pub fn tracked_clients(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).len())
            .sum()
    }
}

/// One IPv6 subscriber usually holds a whole /64, so that is one client.
fn bucket_address(client: IpAddr) -> IpAddr {
    match client {
        IpAddr::V6(v6) => {
            let mut octets = v6.octets();
            octets[8..].fill(0);
            IpAddr::from(octets)
        }
        v4 => v4,
    }
}

fn refilled(bucket: &Bucket, now: Instant, per_second: f64, burst: f64) -> f64 {
    let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
    (bucket.tokens + elapsed * per_second).min(burst)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn burst_then_steady_rate() {
        let limiter = RateLimiter::new(2, 3);
        let start = Instant::now();
        let client = ip("203.0.113.7");
        let allowed = (0..5).filter(|_| limiter.allow(client, start)).count();
        assert_eq!(allowed, 3, "the burst");
        assert!(!limiter.allow(client, start + Duration::from_millis(100)));
        assert!(
            limiter.allow(client, start + Duration::from_millis(600)),
            "refilled at 2/s"
        );
        assert!(
            limiter.allow(ip("203.0.113.8"), start),
            "clients are independent"
        );
        let v6 = ip("2001:db8::1");
        assert!((0..3).all(|_| limiter.allow(v6, start)));
        assert!(
            !limiter.allow(ip("2001:db8::ffff"), start),
            "one /64 is one client"
        );
    }

    #[test]
    fn a_slow_bucket_says_how_long_until_its_next_token_without_taking_one() {
        let limiter = RateLimiter::refilling_every(Duration::from_secs(30), 2);
        let start = Instant::now();
        let client = ip("203.0.113.7");
        assert_eq!(
            limiter.wait(client, "", start),
            None,
            "an unknown client has its burst"
        );
        assert!(limiter.allow(client, start) && limiter.allow(client, start));
        assert!(!limiter.allow(client, start));
        let later = start + Duration::from_secs(12);
        let wait = limiter.wait(client, "", later).unwrap();
        assert!(
            wait.abs_diff(Duration::from_secs(18)) < Duration::from_millis(1),
            "{wait:?}"
        );
        assert_eq!(
            limiter.wait(client, "", later),
            Some(wait),
            "asking takes nothing"
        );
        assert_eq!(
            limiter.wait(client, "", start + Duration::from_secs(30)),
            None
        );
        assert_eq!(limiter.wait(ip("203.0.113.8"), "", later), None);
        assert_eq!(
            limiter.wait(client, "marketing", later),
            None,
            "another scope of the same client has its own bucket"
        );
        assert!(limiter.allow_in(client, "marketing", later));
    }

    #[test]
    fn the_table_stays_bounded_under_a_flood_of_clients() {
        let limiter = RateLimiter::new(10, 10);
        let start = Instant::now();
        for i in 0..(SHARDS * SHARD_SOFT_LIMIT * 2) as u32 {
            limiter.allow(IpAddr::from(i.to_be_bytes()), start);
        }
        assert!(limiter.tracked_clients() <= SHARDS * (SHARD_SOFT_LIMIT + 1));
    }
}
