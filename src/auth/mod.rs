//! Who may do what: roles, API-key secrets, OIDC token checks, rate limits.
//!
//! No HTTP types here: the HTTP glue (reading headers, answering 401/403/429)
//! is `api::auth`; the records (organisations, users, keys, the quota ledger,
//! the audit trail) live in the store, `catalog::accounts`.

pub mod caller;
pub mod keys;
pub mod oidc;
pub mod ratelimit;

pub use caller::{Caller, Credential, Membership};

use std::time::Duration;
use thiserror::Error;

/// The roles of the DINAMIS licence, plus the administrator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// French research bodies.
    Scientific,
    /// French public bodies.
    PublicActor,
    /// French private entities, R&D use (SPOT 6-7 only).
    PrivateRd,
    /// Sees everything, manages the catalogue.
    Admin,
}

impl Role {
    /// Every role, in a stable order.
    pub const ALL: [Role; 4] = [
        Role::Scientific,
        Role::PublicActor,
        Role::PrivateRd,
        Role::Admin,
    ];

    /// The role's name as written in collections, configuration and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Scientific => "scientific",
            Role::PublicActor => "public-actor",
            Role::PrivateRd => "private-rd",
            Role::Admin => "admin",
        }
    }

    /// Parses a role name.
    pub fn parse(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == name.trim())
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Failures of authentication and of the abuse guards.
#[derive(Debug, Error)]
pub enum AuthError {
    /// A credential that is malformed, unknown, forged, of the wrong issuer
    /// or audience, or signed with an algorithm that is not allowed.
    #[error("invalid credentials: {0}")]
    Invalid(String),
    /// A token past its expiry (or before its not-before time).
    #[error("the token has expired")]
    Expired,
    /// A revoked API key.
    #[error("this API key has been revoked")]
    Revoked,
    /// Too many requests; retry after this long.
    #[error("too many requests; retry after {} s", .0.as_secs().max(1))]
    RateLimited(Duration),
    /// The identity provider's keys cannot be fetched right now.
    #[error("the identity provider cannot be reached: {0}")]
    Unavailable(String),
    /// A bad `[auth]` setting.
    #[error("auth configuration: {0}")]
    Config(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_round_trip() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("root"), None);
    }
}
