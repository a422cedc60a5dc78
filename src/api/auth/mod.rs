//! Who is calling: the HTTP side of [`crate::auth`].
//!
//! The [`middleware::authenticate`] middleware reads the credential of every
//! request (an `Authorization: Bearer` API key, OIDC token or the
//! administrator token, or an `api_key` query parameter), refuses bad ones
//! with 401, applies the rate limits, and leaves the [`Caller`] in the
//! request's extensions, where handlers find it with [`caller`] / [`scope`].

pub mod guards;
pub mod middleware;

use super::AppState;
use super::error::{ApiError, ApiResult};
use crate::auth::Caller;
use crate::catalog::Scope;
use actix_web::{HttpMessage, HttpRequest};

/// The query parameter that may carry an API key (for clients that cannot
/// set headers, such as a QGIS WMS connection).
pub const KEY_PARAM: &str = "api_key";

/// The bearer token of a request, if any.
pub(crate) fn bearer(req: &HttpRequest) -> Option<&str> {
    let header = req.headers().get("authorization")?.to_str().ok()?;
    let (scheme, token) = header.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The `api_key` query parameter of a request, if any.
pub fn key_param(req: &HttpRequest) -> Option<String> {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == KEY_PARAM)
        .map(|(_, v)| v.into_owned())
}

/// Compares secrets in time independent of where they differ.
pub(crate) fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The caller of a request (anonymous when the middleware did not run).
pub fn caller(req: &HttpRequest) -> Caller {
    req.extensions()
        .get::<Caller>()
        .cloned()
        .unwrap_or_else(Caller::anonymous)
}

/// The visibility scope of the caller.
pub fn scope(req: &HttpRequest, _state: &AppState) -> Scope {
    match req.extensions().get::<Caller>() {
        Some(caller) => caller.scope(),
        None => Scope::anonymous(),
    }
}

/// Checks that the Transactions extension is on and the caller is an administrator.
pub fn require_admin(req: &HttpRequest, state: &AppState) -> ApiResult<()> {
    if !state.transactions() {
        return Err(ApiError::method_not_allowed());
    }
    let caller = caller(req);
    if caller.is_anonymous() {
        return Err(ApiError::unauthorized(
            "this operation needs an administrator: send 'Authorization: Bearer <token>'",
        ));
    }
    if !caller.is_admin() {
        return Err(ApiError::new(
            actix_web::http::StatusCode::FORBIDDEN,
            "Forbidden",
            "this operation needs the admin role",
        ));
    }
    Ok(())
}
