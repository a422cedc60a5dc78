//! The authentication middleware: credential → [`Caller`], or 401/429.

use super::{bearer, same_secret};
use crate::api::AppState;
use crate::api::error::ApiError;
use crate::api::wms::exception::WmsError;
use crate::api::wms::params::{Kvp, Version};
use crate::auth::{AuthError, Caller, Credential, Membership, Role, keys};
use crate::catalog::CatalogError;
use crate::catalog::accounts::{AuditEvent, KeyOwner};
use crate::catalog::datetime::now_micros;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, web};
use std::net::IpAddr;

/// Authenticates every request (see the module documentation of `api::auth`).
pub async fn authenticate(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body);
    };
    let address = req.peer_addr().map(|a| a.ip());
    let caller = match presented(&req) {
        None => Caller::anonymous(),
        Some(token) => match identify(&state, &token, address).await {
            Ok(caller) => caller,
            Err(e) => return Ok(refuse(req, e)),
        },
    };
    if let Err(e) = state.guards.admit(address, &caller) {
        return Ok(refuse(req, e));
    }
    let authenticated = !caller.is_anonymous();
    req.extensions_mut().insert(caller);
    let mut res = next.call(req).await?;
    vary_on_authorization(res.headers_mut(), authenticated);
    Ok(res.map_into_left_body())
}

/// The credential of a request: the bearer token, else the `api_key` parameter.
fn presented(req: &ServiceRequest) -> Option<String> {
    if let Some(token) = bearer(req.request()) {
        return Some(token.to_string());
    }
    super::key_param(req.request()).filter(|k| !k.is_empty())
}

/// Resolves a credential, throttling and auditing failures.
async fn identify(
    state: &AppState,
    token: &str,
    address: Option<IpAddr>,
) -> Result<Caller, AuthError> {
    if let Some(ip) = address {
        state.guards.check_auth_attempt(ip)?;
    }
    let result = resolve(state, token).await;
    if let Err(e) = &result
        && !matches!(e, AuthError::Unavailable(_) | AuthError::RateLimited(_))
    {
        if let Some(ip) = address {
            state.guards.auth_failed(ip);
        }
        let credential = keys::parse(token).map(|k| format!("key:{}", k.id));
        audit_failure(state, credential, address, e).await;
    }
    result
}

async fn resolve(state: &AppState, token: &str) -> Result<Caller, AuthError> {
    if let Some(admin) = &state.config.auth.admin_token
        && same_secret(admin, token)
    {
        return Ok(Caller::admin_token());
    }
    if keys::looks_like_key(token) {
        return resolve_key(state, token).await;
    }
    if let Some(oidc) = &state.oidc {
        let claims = verified_token(state, oidc, token).await?;
        let organisation = match &claims.organisation {
            Some(id) => membership_of(state, id).await?,
            None => None,
        };
        return Ok(Caller {
            credential: Credential::Token {
                issuer: claims.issuer.clone(),
            },
            user: Some(format!("oidc:{}", claims.subject)),
            name: claims.name.clone().or(claims.email.clone()),
            organisation,
            roles: claims.roles.clone(),
        });
    }
    Err(AuthError::Invalid(
        "the bearer token is not an API key (tui_…) and no OpenID Connect issuer is configured"
            .into(),
    ))
}

/// Verifies an OIDC token, remembering verified ones (by SHA-256) until they
/// expire, for at most a minute: a signature check costs ~0.3 ms of CPU.
async fn verified_token(
    state: &AppState,
    oidc: &crate::auth::oidc::OidcVerifier,
    token: &str,
) -> Result<crate::auth::oidc::OidcClaims, AuthError> {
    use sha2::{Digest, Sha256};
    let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
    let now = chrono::Utc::now().timestamp();
    if let Some(claims) = state.verified_tokens.get(&digest)
        && claims.expires_at > now
    {
        return Ok(claims);
    }
    let claims = oidc.verify(token).await?;
    state.verified_tokens.insert(digest, claims.clone());
    Ok(claims)
}

fn unavailable(e: CatalogError) -> AuthError {
    AuthError::Unavailable(e.to_string())
}

async fn membership_of(state: &AppState, id: &str) -> Result<Option<Membership>, AuthError> {
    let orgs = state
        .catalog
        .accounts()
        .organisations()
        .await
        .map_err(unavailable)?;
    Ok(Some(match orgs.into_iter().find(|o| o.id == id) {
        Some(o) => Membership {
            id: o.id,
            name: o.name,
            charter_signed: o.charter_signed,
        },
        // An organisation we have no record of has signed no charter.
        None => Membership {
            id: id.to_string(),
            name: id.to_string(),
            charter_signed: None,
        },
    }))
}

async fn resolve_key(state: &AppState, token: &str) -> Result<Caller, AuthError> {
    let key = keys::parse(token).ok_or_else(|| AuthError::Invalid("malformed API key".into()))?;
    let owner = state
        .catalog
        .accounts()
        .key_owner(key.id)
        .await
        .map_err(unavailable)?
        .ok_or_else(|| AuthError::Invalid("unknown API key".into()))?;
    if !state.verified_keys.known(&key, &owner.key.hash) {
        let (secret, hash) = (key.secret.to_string(), owner.key.hash.clone());
        let ok = tokio::task::spawn_blocking(move || keys::verify_secret(&secret, &hash))
            .await
            .unwrap_or(false);
        if !ok {
            return Err(AuthError::Invalid("unknown API key".into()));
        }
        state.verified_keys.remember(&key, &owner.key.hash);
    }
    if owner.key.revoked.is_some() {
        return Err(AuthError::Revoked);
    }
    if owner.user.disabled {
        return Err(AuthError::Invalid("the key's user is disabled".into()));
    }
    Ok(caller_of_key(owner))
}

/// The caller a valid key stands for.
pub fn caller_of_key(owner: KeyOwner) -> Caller {
    Caller {
        credential: Credential::ApiKey { id: owner.key.id },
        user: Some(owner.user.id),
        name: Some(owner.user.name),
        organisation: Some(Membership {
            id: owner.organisation.id,
            name: owner.organisation.name,
            charter_signed: owner.organisation.charter_signed,
        }),
        roles: owner
            .user
            .roles
            .iter()
            .filter_map(|r| Role::parse(r))
            .collect(),
    }
}

async fn audit_failure(
    state: &AppState,
    credential: Option<String>,
    address: Option<IpAddr>,
    e: &AuthError,
) {
    let event = AuditEvent {
        at: now_micros(),
        action: "authenticate".into(),
        outcome: "denied".into(),
        user: None,
        credential,
        address: address.map(|a| a.to_string()),
        collection: None,
        item: None,
        asset: None,
        area_km2: None,
        detail: e.to_string(),
    };
    crate::api::audit::record(state, event).await;
}

/// The refusal of a request, as JSON or, on `/wms`, as a ServiceExceptionReport.
fn refuse<B>(req: ServiceRequest, e: AuthError) -> ServiceResponse<EitherBody<B>> {
    let (status, code) = match &e {
        AuthError::Invalid(_) | AuthError::Expired | AuthError::Revoked => {
            (StatusCode::UNAUTHORIZED, "Unauthorized")
        }
        AuthError::RateLimited(_) => (StatusCode::TOO_MANY_REQUESTS, "TooManyRequests"),
        AuthError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailable"),
        AuthError::Config(_) => (StatusCode::INTERNAL_SERVER_ERROR, "ServerError"),
    };
    let retry_after = match &e {
        AuthError::RateLimited(d) => Some(d.as_secs_f64().ceil().max(1.0) as u64),
        AuthError::Unavailable(_) => Some(1),
        _ => None,
    };
    let mut response = if req.path() == "/wms" {
        let kvp = Kvp::parse(req.query_string());
        WmsError {
            status,
            code: None,
            message: e.to_string(),
            locator: None,
            retry_after,
        }
        .report(Version::of_request(&kvp))
    } else {
        ApiError {
            retry_after,
            ..ApiError::new(status, code, e.to_string())
        }
        .into_response()
    };
    if status == StatusCode::UNAUTHORIZED {
        let description = e.to_string().replace('"', "'");
        if let Ok(value) = HeaderValue::from_str(&format!(
            "Bearer realm=\"tuilerie\", error=\"invalid_token\", error_description=\"{description}\""
        )) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
    }
    vary_on_authorization(response.headers_mut(), true);
    req.into_response(response.map_into_right_body())
}

/// Responses depend on who asks: shared caches must key them on the
/// credential, and must not store those made for an authenticated caller.
fn vary_on_authorization(headers: &mut HeaderMap, authenticated: bool) {
    let vary = match headers.get(header::VARY).and_then(|v| v.to_str().ok()) {
        Some(v) if v.to_ascii_lowercase().contains("authorization") => None,
        Some(v) => Some(format!("{v}, Authorization")),
        None => Some("Authorization".to_string()),
    };
    if let Some(v) = vary.and_then(|v| HeaderValue::from_str(&v).ok()) {
        headers.insert(header::VARY, v);
    }
    if !authenticated {
        return;
    }
    let private = match headers
        .get(header::CACHE_CONTROL)
        .and_then(|v| v.to_str().ok())
    {
        Some(v) => {
            let mut parts: Vec<&str> = v
                .split(',')
                .map(str::trim)
                .filter(|p| !p.eq_ignore_ascii_case("public") && !p.is_empty())
                .collect();
            if !parts.iter().any(|p| p.eq_ignore_ascii_case("private")) {
                parts.insert(0, "private");
            }
            parts.join(", ")
        }
        None => "private".to_string(),
    };
    if let Ok(v) = HeaderValue::from_str(&private) {
        headers.insert(header::CACHE_CONTROL, v);
    }
}
