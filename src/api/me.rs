//! `GET /me`: who the caller is, their roles, and their quotas this year.

use super::AppState;
use super::auth::caller;
use super::download::year_of;
use super::error::ApiResult;
use crate::catalog::datetime::now_micros;
use crate::catalog::scope::Policy;
use crate::catalog::{Access, CollectionQuery};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value, json};

/// The handler.
pub async fn me(req: HttpRequest, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let caller = caller(&req);
    let scope = caller.scope();
    let year = year_of(now_micros());
    let effective = caller.effective_roles();
    let usage = match &caller.user {
        Some(user) => state.catalog.accounts().usage(user, year).await?,
        None => Vec::new(),
    };
    let query = CollectionQuery {
        limit: usize::MAX / 2,
        ..Default::default()
    };
    let mut quotas = Vec::new();
    for c in state.catalog.collections(&scope, &query).await?.collections {
        let Ok(doc) = serde_json::from_str::<Map<String, Value>>(&c.doc) else {
            continue;
        };
        let Ok(mut policy) = Policy::of(&doc) else {
            continue;
        };
        if policy.access == Access::Open {
            continue;
        }
        if let Some(overrides) = state.config.auth.quotas.get(&c.id) {
            policy.quotas_km2.extend(overrides.clone());
        }
        let used = usage.iter().find(|u| u.collection == c.id);
        let used_km2 = used.map_or(0.0, |u| u.used_km2);
        let quota = if caller.is_admin() {
            None
        } else {
            policy.quota_for(effective.iter().map(|r| r.as_str()))
        };
        let round = |v: f64| (v * 1000.0).round() / 1000.0;
        quotas.push(json!({
            "collection": c.id,
            "year": year,
            "quota_km2": quota,
            "used_km2": round(used_km2),
            "remaining_km2": quota.map(|q| round((q - used_km2).max(0.0))),
            "items": used.map_or(0, |u| u.items),
        }));
    }
    let note = match (&caller.organisation, caller.charter_signed()) {
        (Some(o), false) if !caller.is_admin() => Some(format!(
            "organisation '{}' has not signed the licence charter: its members' roles grant nothing",
            o.id
        )),
        _ => None,
    };
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "private, no-store"))
        .json(json!({
            "authenticated": !caller.is_anonymous(),
            "credential": caller.credential,
            "user": caller.user,
            "name": caller.name,
            "organisation": caller.organisation,
            "roles": caller.roles,
            "effective_roles": effective,
            "note": note,
            "quotas": quotas,
        })))
}
