//! Per-IP rate limits (governor) for the endpoints anyone can call without credentials.

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
}

fn per_minute(n: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN))
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            registration: Arc::new(RateLimiter::keyed(per_minute(20))),
            sign_in: Arc::new(RateLimiter::keyed(per_minute(30))),
        }
    }
}

/// `Err(wait)` when `ip` is over `limiter`'s quota.
pub fn check(limiter: &DefaultKeyedRateLimiter<IpAddr>, ip: IpAddr) -> Result<(), Duration> {
    limiter
        .check_key(&ip)
        .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
}
