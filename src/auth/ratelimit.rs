//! Token buckets per API key and per client address, and the throttle of
//! failed authentication attempts.
//!
//! Each guard is a GCRA token bucket (the "generic cell rate algorithm": one
//! timestamp per key, the theoretical arrival time of the next request) kept
//! in a bounded cache. A bucket that has been idle long enough to be full
//! again is indistinguishable from a new one, so its entry expires after that
//! idle time; a hard cap on the number of entries bounds memory when many
//! distinct addresses or keys show up at once (the cache keeps the most
//! frequently seen keys and drops the others, which then start afresh).
//!
//! IPv4 addresses are counted one by one, IPv6 addresses per /64 (one
//! subscriber's prefix), and IPv4-mapped IPv6 addresses as their IPv4 address.

use super::AuthError;
use moka::sync::Cache;
use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// At most this many addresses (or callers) are remembered by each guard.
const MAX_TRACKED: u64 = 100_000;

/// Idle entries are forgotten after at most this long, whatever the rates.
const MAX_IDLE: Duration = Duration::from_secs(7 * 24 * 3600);

const NANOS_PER_S: f64 = 1e9;

/// The `[auth.rate_limit]` settings. A rate of 0 turns that one guard off.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitConfig {
    /// Whether any guard applies (default true).
    pub enabled: bool,
    /// Sustained requests per second from one address (default 100: a web
    /// map fetches dozens of tiles at once).
    pub per_ip_per_s: f64,
    /// Requests one address may send at once (default 400).
    pub per_ip_burst: u32,
    /// Sustained requests per second by one caller, an API key id or an OIDC
    /// subject, whatever its address (default 200).
    pub per_key_per_s: f64,
    /// Requests one caller may send at once (default 800).
    pub per_key_burst: u32,
    /// Failed authentications allowed per address per minute (default 10)...
    pub auth_failures_per_min: f64,
    /// ...after this many in a row (default 20).
    pub auth_failures_burst: u32,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            enabled: true,
            per_ip_per_s: 100.0,
            per_ip_burst: 400,
            per_key_per_s: 200.0,
            per_key_burst: 800,
            auth_failures_per_min: 10.0,
            auth_failures_burst: 20,
        }
    }
}

impl RateLimitConfig {
    /// Refuses rates that are negative or not finite, and bursts of 0 for a
    /// guard that is on. (`RateLimiter::new` does not fail: it turns a guard
    /// with such a rate off, and counts a burst of 0 as 1.)
    pub fn validate(&self) -> Result<(), AuthError> {
        let guards = [
            (
                "per_ip_per_s",
                self.per_ip_per_s,
                "per_ip_burst",
                self.per_ip_burst,
            ),
            (
                "per_key_per_s",
                self.per_key_per_s,
                "per_key_burst",
                self.per_key_burst,
            ),
            (
                "auth_failures_per_min",
                self.auth_failures_per_min,
                "auth_failures_burst",
                self.auth_failures_burst,
            ),
        ];
        for (rate_name, rate, burst_name, burst) in guards {
            if !rate.is_finite() || rate < 0.0 {
                return Err(AuthError::Config(format!(
                    "rate_limit.{rate_name} must be a number ≥ 0 (0 turns it off)"
                )));
            }
            if rate > 0.0 && burst == 0 {
                return Err(AuthError::Config(format!(
                    "rate_limit.{burst_name} must be at least 1"
                )));
            }
        }
        Ok(())
    }
}

/// The abuse guards: per-address and per-caller request rates, and the
/// throttle of addresses that fail to authenticate too often. Cheap to share
/// between threads; every check is a cache lookup and an atomic update.
pub struct RateLimiter {
    clock: Clock,
    per_ip: Option<Guard<IpAddr>>,
    per_caller: Option<Guard<String>>,
    failures: Option<Guard<IpAddr>>,
}

impl RateLimiter {
    /// Builds the guards from the settings (all off when `enabled` is false).
    pub fn new(config: &RateLimitConfig) -> RateLimiter {
        RateLimiter::with_clock(config, Clock::real(), MAX_TRACKED)
    }

    fn with_clock(config: &RateLimitConfig, clock: Clock, capacity: u64) -> RateLimiter {
        let on = config.enabled;
        RateLimiter {
            clock,
            per_ip: Guard::new(on, config.per_ip_per_s, config.per_ip_burst, capacity),
            per_caller: Guard::new(on, config.per_key_per_s, config.per_key_burst, capacity),
            failures: Guard::new(
                on,
                config.auth_failures_per_min / 60.0,
                config.auth_failures_burst,
                capacity,
            ),
        }
    }

    /// One request from this address: `Err(RateLimited(retry_after))` when
    /// its bucket is empty, `retry_after` being the time until it holds one
    /// token again.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), AuthError> {
        match &self.per_ip {
            Some(guard) => guard.take(&address_key(ip), self.clock.now()),
            None => Ok(()),
        }
    }

    /// One request by this caller (API key id or OIDC subject), whatever the
    /// address it comes from.
    pub fn check_caller(&self, caller: &str) -> Result<(), AuthError> {
        match &self.per_caller {
            Some(guard) => guard.take(caller, self.clock.now()),
            None => Ok(()),
        }
    }

    /// Before trying a credential from this address: `Err(RateLimited)`
    /// while the address is throttled for failing too often. Consumes
    /// nothing; only [`RateLimiter::auth_failed`] does.
    pub fn check_auth_attempt(&self, ip: IpAddr) -> Result<(), AuthError> {
        match &self.failures {
            Some(guard) => guard.peek(&address_key(ip), self.clock.now()),
            None => Ok(()),
        }
    }

    /// Records a failed authentication from this address.
    pub fn auth_failed(&self, ip: IpAddr) {
        if let Some(guard) = &self.failures {
            // Already throttled: nothing more to count.
            let _ = guard.take(&address_key(ip), self.clock.now());
        }
    }
}

/// The key an address is counted under: IPv6 addresses by their /64,
/// IPv4-mapped ones as IPv4.
fn address_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !u128::from(u64::MAX))),
        v4 => v4,
    }
}

/// Nanoseconds since the limiter was built (or a test's hand-moved time).
enum Clock {
    Real(Instant),
    #[cfg(test)]
    Fake(Arc<AtomicU64>),
}

impl Clock {
    fn real() -> Clock {
        Clock::Real(Instant::now())
    }

    fn now(&self) -> u64 {
        match self {
            Clock::Real(start) => u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX),
            #[cfg(test)]
            Clock::Fake(nanos) => nanos.load(Ordering::SeqCst),
        }
    }
}

/// One rate: a token every `interval` ns, `burst` tokens at most.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Nanoseconds per token.
    interval: u64,
    /// How far ahead of now the theoretical arrival time may run and still
    /// leave a token: `interval × (burst − 1)`.
    tolerance: u64,
}

impl Bucket {
    /// None when the rate is not a positive finite number (guard off).
    fn new(per_s: f64, burst: u32) -> Option<Bucket> {
        if !per_s.is_finite() || per_s <= 0.0 {
            return None;
        }
        // Clamped so that sums of a few intervals cannot overflow.
        let interval = (NANOS_PER_S / per_s)
            .round()
            .clamp(1.0, (u64::MAX / 4) as f64) as u64;
        let tolerance = interval.saturating_mul(u64::from(burst.max(1) - 1));
        Some(Bucket {
            interval,
            tolerance,
        })
    }

    /// How long an untouched bucket takes to be full again.
    fn full_after(&self) -> Duration {
        Duration::from_nanos(self.tolerance.saturating_add(self.interval))
    }

    /// Takes a token if there is one; otherwise the wait until there is.
    fn take(&self, cell: &AtomicU64, now: u64) -> Result<(), Duration> {
        let mut tat = cell.load(Ordering::Acquire);
        loop {
            let start = tat.max(now);
            self.wait(start, now)?;
            let next = start.saturating_add(self.interval);
            match cell.compare_exchange_weak(tat, next, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return Ok(()),
                Err(current) => tat = current,
            }
        }
    }

    /// Whether there is a token, without taking it.
    fn peek(&self, cell: &AtomicU64, now: u64) -> Result<(), Duration> {
        self.wait(cell.load(Ordering::Acquire).max(now), now)
    }

    /// Err(wait) when the theoretical arrival time `tat` is too far ahead.
    fn wait(&self, tat: u64, now: u64) -> Result<(), Duration> {
        let ahead = tat - now;
        if ahead > self.tolerance {
            Err(Duration::from_nanos(ahead - self.tolerance))
        } else {
            Ok(())
        }
    }
}

/// A bucket per key, in a bounded cache.
struct Guard<K> {
    bucket: Bucket,
    cells: Cache<K, Arc<AtomicU64>>,
}

impl<K: Hash + Eq + Send + Sync + 'static> Guard<K> {
    /// None when the guards are off or this rate is 0.
    fn new(enabled: bool, per_s: f64, burst: u32, capacity: u64) -> Option<Guard<K>> {
        if !enabled {
            return None;
        }
        let bucket = Bucket::new(per_s, burst)?;
        // A second of slack: an entry expires only once surely full again.
        let idle = (bucket.full_after() + Duration::from_secs(1)).min(MAX_IDLE);
        let cells = Cache::builder()
            .max_capacity(capacity)
            .time_to_idle(idle)
            .build();
        Some(Guard { bucket, cells })
    }

    fn take<Q>(&self, key: &Q, now: u64) -> Result<(), AuthError>
    where
        Q: moka::Equivalent<K> + ToOwned<Owned = K> + Hash + ?Sized,
    {
        let cell = self
            .cells
            .get_with_by_ref(key, || Arc::new(AtomicU64::new(0)));
        self.bucket.take(&cell, now).map_err(AuthError::RateLimited)
    }

    fn peek<Q>(&self, key: &Q, now: u64) -> Result<(), AuthError>
    where
        Q: moka::Equivalent<K> + Hash + ?Sized,
    {
        match self.cells.get(key) {
            Some(cell) => self.bucket.peek(&cell, now).map_err(AuthError::RateLimited),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const MS: u64 = 1_000_000;
    const S: u64 = 1_000 * MS;

    /// A limiter on a hand-moved clock, and the hand.
    fn limiter(config: RateLimitConfig, capacity: u64) -> (RateLimiter, Arc<AtomicU64>) {
        let time = Arc::new(AtomicU64::new(0));
        let limiter = RateLimiter::with_clock(&config, Clock::Fake(time.clone()), capacity);
        (limiter, time)
    }

    fn advance(time: &AtomicU64, nanos: u64) {
        time.fetch_add(nanos, Ordering::SeqCst);
    }

    /// 10 requests a second, 5 at once, for addresses and callers; failures:
    /// 6 a minute (one per 10 s), 3 in a row.
    fn small() -> RateLimitConfig {
        RateLimitConfig {
            enabled: true,
            per_ip_per_s: 10.0,
            per_ip_burst: 5,
            per_key_per_s: 10.0,
            per_key_burst: 5,
            auth_failures_per_min: 6.0,
            auth_failures_burst: 3,
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn retry_after(result: Result<(), AuthError>) -> Duration {
        match result {
            Err(AuthError::RateLimited(d)) => d,
            other => panic!("expected RateLimited, got {other:?}"),
        }
    }

    fn drain_ip(limiter: &RateLimiter, addr: IpAddr, n: usize) {
        for i in 0..n {
            assert!(limiter.check_ip(addr).is_ok(), "request {i} refused");
        }
    }

    #[test]
    fn burst_then_refusal_with_retry_after() {
        let (limiter, _) = limiter(small(), 1000);
        let a = ip("192.0.2.1");
        drain_ip(&limiter, a, 5);
        assert_eq!(retry_after(limiter.check_ip(a)), Duration::from_millis(100));
        // Refusals do not consume: the wait stays the same.
        assert_eq!(retry_after(limiter.check_ip(a)), Duration::from_millis(100));
    }

    #[test]
    fn retry_after_counts_down_and_formats_to_a_whole_second() {
        let (limiter, time) = limiter(small(), 1000);
        let a = ip("192.0.2.1");
        drain_ip(&limiter, a, 5);
        advance(&time, 30 * MS);
        let wait = retry_after(limiter.check_ip(a));
        assert_eq!(wait, Duration::from_millis(70));
        assert_eq!(
            AuthError::RateLimited(wait).to_string(),
            "too many requests; retry after 1 s"
        );
    }

    #[test]
    fn tokens_refill_at_the_rate_up_to_the_burst() {
        let (limiter, time) = limiter(small(), 1000);
        let a = ip("192.0.2.1");
        drain_ip(&limiter, a, 5);
        assert!(limiter.check_ip(a).is_err());
        advance(&time, 100 * MS);
        drain_ip(&limiter, a, 1);
        assert!(limiter.check_ip(a).is_err());
        advance(&time, 250 * MS);
        drain_ip(&limiter, a, 2);
        assert!(limiter.check_ip(a).is_err());
        // A long pause refills the bucket, but never beyond the burst.
        advance(&time, 60 * S);
        drain_ip(&limiter, a, 5);
        assert!(limiter.check_ip(a).is_err());
    }

    #[test]
    fn keys_are_independent() {
        let (limiter, _) = limiter(small(), 1000);
        drain_ip(&limiter, ip("192.0.2.1"), 5);
        assert!(limiter.check_ip(ip("192.0.2.1")).is_err());
        drain_ip(&limiter, ip("192.0.2.2"), 5);
        for _ in 0..5 {
            limiter.check_caller("key-a").unwrap();
        }
        assert!(limiter.check_caller("key-a").is_err());
        limiter.check_caller("key-b").unwrap();
        // Failures are counted apart from requests.
        limiter.check_auth_attempt(ip("192.0.2.1")).unwrap();
    }

    #[test]
    fn ipv6_addresses_share_their_64() {
        let (limiter, _) = limiter(small(), 1000);
        for i in 0..5 {
            limiter
                .check_ip(ip(&format!("2001:db8:1:2::{i:x}")))
                .unwrap();
        }
        assert!(
            limiter
                .check_ip(ip("2001:db8:1:2:ffff:ffff:ffff:ffff"))
                .is_err()
        );
        limiter.check_ip(ip("2001:db8:1:3::1")).unwrap();
        // An IPv4-mapped address is its IPv4 address; IPv4 is not grouped.
        drain_ip(&limiter, ip("198.51.100.7"), 5);
        assert!(limiter.check_ip(ip("::ffff:198.51.100.7")).is_err());
        limiter.check_ip(ip("198.51.100.8")).unwrap();
        assert_eq!(
            address_key(ip("2001:db8:1:2:3:4:5:6")),
            ip("2001:db8:1:2::")
        );
        assert_eq!(
            address_key(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn failed_authentications_throttle_then_recover() {
        let (limiter, time) = limiter(small(), 1000);
        let a = ip("203.0.113.9");
        // Checking alone never throttles.
        for _ in 0..100 {
            limiter.check_auth_attempt(a).unwrap();
        }
        for _ in 0..3 {
            limiter.check_auth_attempt(a).unwrap();
            limiter.auth_failed(a);
        }
        assert_eq!(
            retry_after(limiter.check_auth_attempt(a)),
            Duration::from_secs(10)
        );
        // Failures while throttled do not lengthen the wait.
        limiter.auth_failed(a);
        advance(&time, 9 * S);
        assert_eq!(
            retry_after(limiter.check_auth_attempt(a)),
            Duration::from_secs(1)
        );
        limiter.check_auth_attempt(ip("203.0.113.10")).unwrap();
        advance(&time, S);
        limiter.check_auth_attempt(a).unwrap();
        limiter.auth_failed(a);
        assert!(limiter.check_auth_attempt(a).is_err());
        // After three intervals, three failures in a row are allowed again.
        advance(&time, 30 * S);
        for _ in 0..3 {
            limiter.check_auth_attempt(a).unwrap();
            limiter.auth_failed(a);
        }
        assert!(limiter.check_auth_attempt(a).is_err());
        // Requests from that address are not throttled by its failures.
        limiter.check_ip(a).unwrap();
    }

    #[test]
    fn disabled_config_passes_everything() {
        let config = RateLimitConfig {
            enabled: false,
            ..small()
        };
        let (limiter, _) = limiter(config, 1000);
        let a = ip("192.0.2.1");
        for _ in 0..10_000 {
            limiter.check_ip(a).unwrap();
            limiter.check_caller("k").unwrap();
            limiter.auth_failed(a);
            limiter.check_auth_attempt(a).unwrap();
        }
    }

    #[test]
    fn a_zero_rate_turns_one_guard_off() {
        let config = RateLimitConfig {
            per_ip_per_s: 0.0,
            ..small()
        };
        let (limiter, _) = limiter(config, 1000);
        drain_ip(&limiter, ip("192.0.2.1"), 10_000);
        for _ in 0..5 {
            limiter.check_caller("k").unwrap();
        }
        assert!(limiter.check_caller("k").is_err());
    }

    #[test]
    fn memory_stays_bounded_under_many_keys() {
        let (limiter, _) = limiter(small(), 1000);
        for i in 0..20_000u32 {
            let _ = limiter.check_ip(IpAddr::V4(Ipv4Addr::from(i)));
            let _ = limiter.check_caller(&format!("caller-{i}"));
            limiter.auth_failed(IpAddr::V4(Ipv4Addr::from(i)));
        }
        for guard in [&limiter.per_ip, &limiter.failures] {
            let cells = &guard.as_ref().unwrap().cells;
            cells.run_pending_tasks();
            assert!(cells.entry_count() <= 1000, "{}", cells.entry_count());
        }
        let cells = &limiter.per_caller.as_ref().unwrap().cells;
        cells.run_pending_tasks();
        assert!(cells.entry_count() <= 1000, "{}", cells.entry_count());
    }

    #[test]
    fn idle_entries_expire_once_full_again() {
        let (limiter, _) = limiter(RateLimitConfig::default(), 1000);
        let idle =
            |guard: &Option<Guard<IpAddr>>| guard.as_ref().unwrap().cells.policy().time_to_idle();
        // 400 tokens at 100/s: full after 4 s; 20 failures at 10/min: 120 s.
        assert_eq!(idle(&limiter.per_ip), Some(Duration::from_secs(5)));
        assert_eq!(idle(&limiter.failures), Some(Duration::from_secs(121)));
    }

    #[test]
    fn concurrent_requests_never_exceed_the_burst() {
        let (limiter, _) = limiter(small(), 1000);
        let limiter = Arc::new(limiter);
        let granted = Arc::new(AtomicU64::new(0));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let (limiter, granted) = (limiter.clone(), granted.clone());
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        if limiter.check_caller("shared").is_ok() {
                            granted.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(granted.load(Ordering::SeqCst), 5);
    }

    #[test]
    fn config_defaults_and_validation() {
        let parsed: RateLimitConfig = toml::from_str("").unwrap();
        assert_eq!(parsed, RateLimitConfig::default());
        parsed.validate().unwrap();
        assert!(toml::from_str::<RateLimitConfig>("per_ip_per_sec = 3").is_err());
        let bad = [
            RateLimitConfig {
                per_ip_per_s: -1.0,
                ..Default::default()
            },
            RateLimitConfig {
                per_key_per_s: f64::NAN,
                ..Default::default()
            },
            RateLimitConfig {
                auth_failures_burst: 0,
                ..Default::default()
            },
        ];
        for config in bad {
            assert!(matches!(config.validate(), Err(AuthError::Config(_))));
        }
        RateLimitConfig {
            per_ip_per_s: 0.0,
            per_ip_burst: 0,
            ..Default::default()
        }
        .validate()
        .unwrap();
    }
}
