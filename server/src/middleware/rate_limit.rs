//! Rate limits (governor): per IP for the endpoints anyone can call without credentials, and
//! per account for password and second-factor attempts (so a spread-out attack on one
//! account is slowed too).

use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

/// The limiters of this process.
#[derive(Clone)]
pub struct RateLimits {
    /// Dynamic client registration: 20 a minute per IP.
    pub registration: Arc<DefaultKeyedRateLimiter<IpAddr>>,
    /// Sign-in attempts: 30 a minute per IP.
    pub sign_in: Arc<DefaultKeyedRateLimiter<IpAddr>>,
    /// Password attempts on one account (by normalised email): 10 a minute.
    pub sign_in_account: Arc<DefaultKeyedRateLimiter<String>>,
    /// Second-factor attempts on one account (by user id): 10 a minute.
    pub second_factor: Arc<DefaultKeyedRateLimiter<String>>,
}

fn per_minute(n: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN))
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            registration: Arc::new(RateLimiter::keyed(per_minute(20))),
            sign_in: Arc::new(RateLimiter::keyed(per_minute(30))),
            sign_in_account: Arc::new(RateLimiter::keyed(per_minute(10))),
            second_factor: Arc::new(RateLimiter::keyed(per_minute(10))),
        }
    }
}

/// `Err(wait)` when `key` is over `limiter`'s quota.
pub fn check<K>(limiter: &DefaultKeyedRateLimiter<K>, key: K) -> Result<(), Duration>
where
    K: Clone + std::hash::Hash + Eq,
{
    limiter
        .check_key(&key)
        .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
}

/// What a throttled person reads: the wait, rounded up to at least one second.
pub fn try_again_message(wait: Duration) -> String {
    format!(
        "Too many attempts. Try again in {} s.",
        wait.as_secs().max(1)
    )
}
