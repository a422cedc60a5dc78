//! Who is calling. For now: anonymous, or the administrator holding the
//! configured token (which also enables the Transactions extension).

use super::AppState;
use super::error::{ApiError, ApiResult};
use crate::catalog::Scope;
use actix_web::HttpRequest;

/// The bearer token of a request, if any.
fn bearer(req: &HttpRequest) -> Option<&str> {
    let header = req.headers().get("authorization")?.to_str().ok()?;
    let (scheme, token) = header.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Compares secrets in time independent of where they differ.
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

fn is_admin(req: &HttpRequest, state: &AppState) -> bool {
    match (&state.config.auth.admin_token, bearer(req)) {
        (Some(expected), Some(given)) => same_secret(expected, given),
        _ => false,
    }
}

/// The visibility scope of the caller.
pub fn scope(req: &HttpRequest, state: &AppState) -> Scope {
    if is_admin(req, state) {
        Scope::All
    } else {
        Scope::anonymous()
    }
}

/// Checks that the Transactions extension is on and the caller is the administrator.
pub fn require_admin(req: &HttpRequest, state: &AppState) -> ApiResult<()> {
    if !state.transactions() {
        return Err(ApiError::method_not_allowed());
    }
    if bearer(req).is_none() {
        return Err(ApiError::unauthorized(
            "this operation needs the administrator token: send 'Authorization: Bearer <token>'",
        ));
    }
    if !is_admin(req, state) {
        return Err(ApiError::unauthorized("the bearer token is not valid"));
    }
    Ok(())
}
