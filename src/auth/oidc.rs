//! OpenID Connect bearer tokens (JWT) checked against an issuer's keys.
// Placeholder until the verifier lands (branch auth-prims).
use super::{AuthError, Role};
use std::collections::BTreeSet;

/// Claims of a verified token.
pub struct OidcClaims {
    /// `sub`.
    pub subject: String,
    /// `iss`.
    pub issuer: String,
    /// Mapped roles.
    pub roles: BTreeSet<Role>,
    /// Organisation claim.
    pub organisation: Option<String>,
    /// `name`.
    pub name: Option<String>,
    /// `email`.
    pub email: Option<String>,
    /// `exp`.
    pub expires_at: i64,
}

/// Verifier.
pub struct OidcVerifier {}

impl OidcVerifier {
    /// Verifies.
    pub async fn verify(&self, _token: &str) -> Result<OidcClaims, AuthError> {
        Err(AuthError::Invalid(
            "OpenID Connect is not available yet".into(),
        ))
    }
}
