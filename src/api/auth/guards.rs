//! The abuse guards of the middleware: rate limits per address and per
//! caller, and the throttle of failed authentications.

use crate::auth::ratelimit::{RateLimitConfig, RateLimiter};
use crate::auth::{AuthError, Caller};
use std::net::IpAddr;

/// The guards (see [`crate::auth::ratelimit`]).
pub struct Guards {
    limiter: RateLimiter,
}

impl Guards {
    /// Guards with these limits.
    pub fn new(config: &RateLimitConfig) -> Guards {
        Guards {
            limiter: RateLimiter::new(config),
        }
    }

    /// Admits one request, or refuses it with [`AuthError::RateLimited`]:
    /// authenticated callers are counted by credential, others by address.
    pub fn admit(&self, address: Option<IpAddr>, caller: &Caller) -> Result<(), AuthError> {
        match (caller.rate_key(), address) {
            (Some(key), _) => self.limiter.check_caller(&key),
            (None, Some(ip)) => self.limiter.check_ip(ip),
            (None, None) => Ok(()),
        }
    }

    /// Refuses a credential from an address that failed too often.
    pub fn check_auth_attempt(&self, address: IpAddr) -> Result<(), AuthError> {
        self.limiter.check_auth_attempt(address)
    }

    /// Records a failed authentication.
    pub fn auth_failed(&self, address: IpAddr) {
        self.limiter.auth_failed(address)
    }
}
