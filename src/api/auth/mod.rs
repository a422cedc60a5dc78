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
use serde_json::{Map, Value, json};

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

/// The STAC authentication extension's schema URL.
pub const AUTH_EXTENSION: &str =
    "https://stac-extensions.github.io/authentication/v1.1.0/schema.json";

/// This server's `auth:schemes` (STAC authentication extension).
pub fn schemes(state: &AppState) -> Value {
    let mut schemes = json!({
        "apikey": {
            "type": "http",
            "scheme": "bearer",
            "description": "Tuilerie API key (tui_…) of a member of an organisation that signed the DINAMIS charter, sent as 'Authorization: Bearer <key>' (or as the api_key query parameter, for clients that cannot set headers)"
        }
    });
    if let Some(issuer) = state.oidc_issuer() {
        schemes["oidc"] = json!({
            "type": "openIdConnect",
            "openIdConnectUrl": format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/')),
            "description": "OpenID Connect bearer token of the configured identity provider"
        });
    }
    schemes
}

/// Advertises the authentication of a restricted collection: the extension,
/// `auth:schemes`, and `auth:refs` on its item assets and its links to data.
pub fn advertise(doc: &mut Map<String, Value>, schemes: &Value) {
    let refs: Vec<Value> = schemes
        .as_object()
        .map(|m| m.keys().map(|k| Value::String(k.clone())).collect())
        .unwrap_or_default();
    match doc.get_mut("stac_extensions") {
        Some(Value::Array(list)) => {
            if !list.iter().any(|v| v == AUTH_EXTENSION) {
                list.push(Value::String(AUTH_EXTENSION.into()));
            }
        }
        _ => {
            doc.insert("stac_extensions".into(), json!([AUTH_EXTENSION]));
        }
    }
    doc.insert("auth:schemes".into(), schemes.clone());
    if let Some(Value::Object(assets)) = doc.get_mut("item_assets") {
        for asset in assets.values_mut() {
            if let Value::Object(a) = asset {
                a.insert("auth:refs".into(), Value::Array(refs.clone()));
            }
        }
    }
    if let Some(Value::Array(links)) = doc.get_mut("links") {
        for link in links.iter_mut() {
            let rel = link.get("rel").and_then(Value::as_str).unwrap_or("");
            if matches!(rel, "items" | "xyz" | "tilejson" | "wmts")
                && let Value::Object(l) = link
            {
                l.insert("auth:refs".into(), Value::Array(refs.clone()));
            }
        }
    }
}
