//! `GET /collections/{c}/items/{i}/assets/{key}/download`: an asset's bytes,
//! for those entitled, counted against their yearly quota (the DINAMIS rule).
//!
//! Restricted collections: the first download of an item by a user in a
//! year counts the item's geodesic footprint area against the user's quota
//! for the collection; downloading it again that year is free; a download
//! that would pass the quota is refused with 403 and the figures. The check
//! and the count are one store transaction. Every grant and denial is
//! audited. Open collections: anyone may download, nothing is counted.

use super::AppState;
use super::audit;
use super::auth::caller;
use super::error::{ApiError, ApiResult};
use crate::auth::Caller;
use crate::catalog::accounts::{AuditEvent, QuotaClaim, QuotaDecision};
use crate::catalog::datetime::now_micros;
use crate::catalog::geometry::Footprint;
use crate::catalog::scope::Policy;
use crate::catalog::{Access, CatalogError, StoredItem};
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use bytes::Bytes;
use serde_json::{Map, Value, json};
use std::io::Read;

/// Bytes read from the asset per chunk sent.
const CHUNK: usize = 256 * 1024;

/// What a download is about.
struct Target {
    collection: String,
    item: String,
    asset: String,
}

impl Target {
    fn event(
        &self,
        req: &HttpRequest,
        caller: &Caller,
        outcome: &str,
        detail: String,
    ) -> AuditEvent {
        AuditEvent {
            at: now_micros(),
            action: "download".into(),
            outcome: outcome.into(),
            user: caller.user.clone(),
            credential: caller.rate_key(),
            address: req.peer_addr().map(|a| a.ip().to_string()),
            collection: Some(self.collection.clone()),
            item: Some(self.item.clone()),
            asset: Some(self.asset.clone()),
            area_km2: None,
            detail,
        }
    }
}

/// The handler.
pub async fn download(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String, String)>,
) -> ApiResult<HttpResponse> {
    let (collection, item_id, asset_key) = path.into_inner();
    let caller = caller(&req);
    let scope = caller.scope();
    let Some(collection_doc) = state.catalog.collection(&scope, &collection).await? else {
        return Err(CatalogError::CollectionNotFound(collection).into());
    };
    let Some(item) = state.catalog.item(&scope, &collection, &item_id).await? else {
        return Err(CatalogError::ItemNotFound {
            collection,
            item: item_id,
        }
        .into());
    };
    let (href, media_type) = asset_of(&item, &asset_key)?;
    let engine = state.engine.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            "the raster engine is not running",
        )
    })?;
    let target = Target {
        collection: collection.clone(),
        item: item_id.clone(),
        asset: asset_key.clone(),
    };
    // Open first: a missing or forbidden file must not cost any quota.
    let reader = match engine.open_asset(&href).await {
        Ok(r) => r,
        Err(e) => {
            let error = ApiError::from(e);
            let event = target.event(&req, &caller, "denied", error.description.clone());
            audit::record(&state, event).await;
            return Err(error);
        }
    };
    let doc: Map<String, Value> = serde_json::from_str(&collection_doc.doc)
        .map_err(|e| ApiError::internal(format!("stored collection is not JSON: {e}")))?;
    let mut policy = Policy::of(&doc).map_err(ApiError::internal)?;
    if let Some(overrides) = state.config.auth.quotas.get(&collection) {
        policy.quotas_km2.extend(overrides.clone());
    }
    let mut granted = target.event(&req, &caller, "granted", String::new());
    match (&policy.access, caller.is_admin()) {
        (Access::Open, _) => granted.detail = "open collection".into(),
        (Access::Restricted(_), true) => granted.detail = "administrator: not counted".into(),
        (Access::Restricted(_), false) => {
            let claim = claim_of(&caller, &policy, &item)?;
            granted.area_km2 = Some(claim.area_km2);
            match state.catalog.accounts().claim_quota(&claim).await? {
                QuotaDecision::Counted { used_km2 } => {
                    granted.detail = format!(
                        "counted {:.3} km²; {used_km2:.3} km² used of {} in {}",
                        claim.area_km2,
                        quota_text(claim.quota_km2),
                        claim.year
                    );
                }
                QuotaDecision::AlreadyCounted { used_km2 } => {
                    granted.detail = format!(
                        "already counted in {}; {used_km2:.3} km² used of {}",
                        claim.year,
                        quota_text(claim.quota_km2)
                    );
                }
                QuotaDecision::Exceeded { used_km2 } => {
                    let mut denied = target.event(
                        &req,
                        &caller,
                        "denied",
                        format!(
                            "quota exceeded: {used_km2:.3} km² used of {} in {}, the item needs {:.3} km²",
                            quota_text(claim.quota_km2),
                            claim.year,
                            claim.area_km2
                        ),
                    );
                    denied.area_km2 = Some(claim.area_km2);
                    audit::record(&state, denied).await;
                    return Ok(over_quota(&claim, used_km2));
                }
            }
        }
    }
    audit::record(&state, granted).await;
    Ok(stream(reader, &media_type, &item_id, &asset_key, &href))
}

/// The asset's href and media type.
fn asset_of(item: &StoredItem, key: &str) -> ApiResult<(String, String)> {
    let doc: Value = serde_json::from_str(&item.doc)
        .map_err(|e| ApiError::internal(format!("stored item is not JSON: {e}")))?;
    let asset = doc
        .get("assets")
        .and_then(|a| a.get(key))
        .ok_or_else(|| ApiError::not_found(format!("item '{}' has no asset '{key}'", item.id)))?;
    let href = asset
        .get("href")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::not_found(format!("asset '{key}' has no href")))?;
    let media_type = asset
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("application/octet-stream");
    Ok((href.to_string(), media_type.to_string()))
}

fn quota_text(quota: Option<f64>) -> String {
    quota.map_or_else(|| "an unlimited quota".into(), |q| format!("{q} km²"))
}

/// The quota claim for an entitled, non-administrator caller.
fn claim_of(caller: &Caller, policy: &Policy, item: &StoredItem) -> ApiResult<QuotaClaim> {
    let user = caller.user.clone().ok_or_else(|| {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "Forbidden",
            "downloads of licensed imagery are counted per user: use a personal API key or token",
        )
    })?;
    let doc: Value = serde_json::from_str(&item.doc)
        .map_err(|e| ApiError::internal(format!("stored item is not JSON: {e}")))?;
    let area_km2 = match doc.get("geometry") {
        Some(g) if !g.is_null() => Footprint::from_geojson(&g.to_string())
            .map_err(|e| ApiError::internal(format!("stored footprint: {e}")))?
            .area_km2(),
        _ => {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "Forbidden",
                "this item has no footprint, so its area cannot be counted against a quota",
            ));
        }
    };
    let roles = caller.effective_roles();
    let at = now_micros();
    Ok(QuotaClaim {
        user,
        collection: item.collection.clone(),
        item: item.id.clone(),
        year: year_of(at),
        area_km2,
        quota_km2: policy.quota_for(roles.iter().map(|r| r.as_str())),
        at,
    })
}

/// The UTC calendar year of a time.
pub fn year_of(micros: i64) -> i32 {
    use chrono::Datelike;
    chrono::DateTime::from_timestamp_micros(micros)
        .map(|t| t.year())
        .unwrap_or(1970)
}

/// 403 with the figures a user needs.
fn over_quota(claim: &QuotaClaim, used_km2: f64) -> HttpResponse {
    let quota = claim.quota_km2.unwrap_or(f64::INFINITY);
    let round = |v: f64| (v * 1000.0).round() / 1000.0;
    HttpResponse::build(StatusCode::FORBIDDEN).json(json!({
        "code": "QuotaExceeded",
        "description": format!(
            "downloading item '{}' needs {:.3} km² but only {:.3} km² of your {} km² quota for '{}' in {} are left",
            claim.item, claim.area_km2, (quota - used_km2).max(0.0), quota, claim.collection, claim.year
        ),
        "collection": claim.collection,
        "item": claim.item,
        "year": claim.year,
        "quota_km2": quota,
        "used_km2": round(used_km2),
        "remaining_km2": round((quota - used_km2).max(0.0)),
        "needed_km2": round(claim.area_km2),
    }))
}

/// Streams the asset from a blocking thread, chunk by chunk.
fn stream(
    reader: crate::raster::asset::AssetReader,
    media_type: &str,
    item: &str,
    asset: &str,
    href: &str,
) -> HttpResponse {
    let size = reader.size;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    tokio::task::spawn_blocking(move || {
        let mut reader = reader;
        loop {
            let mut buf = vec![0u8; CHUNK];
            match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    buf.truncate(n);
                    if tx.blocking_send(Ok(Bytes::from(buf))).is_err() {
                        break; // the client went away
                    }
                }
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    break;
                }
            }
        }
    });
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    });
    let extension = href
        .rsplit('/')
        .next()
        .and_then(|name| name.rsplit_once('.'))
        .map(|(_, ext)| ext)
        .filter(|ext| ext.len() <= 8 && ext.chars().all(|c| c.is_ascii_alphanumeric()))
        .unwrap_or("bin");
    let filename: String = format!("{item}_{asset}.{extension}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut response = HttpResponse::Ok();
    response
        .content_type(media_type)
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{filename}\""),
        ))
        .insert_header((header::CACHE_CONTROL, "private, no-store"));
    if let Some(size) = size {
        response.no_chunking(size);
    }
    response.streaming(body)
}
