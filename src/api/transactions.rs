//! The Transactions extension (POST/PUT/PATCH/DELETE of items and
//! collections), enabled only when an administrator token is configured.

use super::AppState;
use super::auth::{require_admin, scope};
use super::body;
use super::collections::render;
use super::error::{ApiError, ApiResult};
use super::links::{Base, media, segment};
use crate::catalog::{CatalogError, ItemContext, Scope, WriteMode, parse_collection, parse_item};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

/// RFC 7386 JSON merge patch.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(changes) => {
            if !target.is_object() {
                *target = Value::Object(Default::default());
            }
            if let Value::Object(map) = target {
                for (k, v) in changes {
                    if v.is_null() {
                        map.remove(k);
                    } else {
                        merge_patch(map.entry(k.clone()).or_insert(Value::Null), v);
                    }
                }
            }
        }
        other => *target = other.clone(),
    }
}

fn check_member(value: &Value, key: &str, expected: &str, what: &str) -> ApiResult<()> {
    match value.get(key) {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(s)) if s == expected => Ok(()),
        Some(other) => Err(ApiError::bad_request(format!(
            "the body's {key} ({other}) does not match the {what} in the URL ('{expected}')"
        ))),
    }
}

async fn write_collection(
    req: &HttpRequest,
    state: &AppState,
    mut value: Value,
    mode: WriteMode,
    path_id: Option<&str>,
) -> ApiResult<HttpResponse> {
    if let Some(id) = path_id {
        check_member(&value, "id", id, "collection id")?;
        if let Value::Object(map) = &mut value {
            map.insert("id".into(), Value::String(id.to_string()));
        }
    }
    let doc = parse_collection(&value.to_string(), None)?;
    let id = doc.id.clone();
    let written = state.catalog.put_collection(doc, mode).await?;
    let stored = state
        .catalog
        .collection(&Scope::All, &id)
        .await?
        .ok_or_else(|| CatalogError::CollectionNotFound(id.clone()))?;
    let base = Base::of(req, state.config.server.public_url.as_deref());
    let location = base.url(&format!("/collections/{}", segment(&id)));
    let mut res = if written.inserted > 0 {
        HttpResponse::Created()
    } else {
        HttpResponse::Ok()
    };
    Ok(res.insert_header((header::LOCATION, location)).json(render(
        &stored,
        &base,
        &super::auth::schemes(state),
    )?))
}

/// `POST /collections`
pub async fn create_collection(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    require_admin(&req, &state)?;
    let value = body::json(payload, state.config.server.max_body_bytes).await?;
    write_collection(&req, &state, value, WriteMode::Create, None).await
}

/// `PUT /collections/{collection}`
pub async fn replace_collection(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    require_admin(&req, &state)?;
    let value = body::json(payload, state.config.server.max_body_bytes).await?;
    write_collection(
        &req,
        &state,
        value,
        WriteMode::Replace,
        Some(&path.into_inner()),
    )
    .await
}

/// `PATCH /collections/{collection}` (JSON merge patch)
pub async fn patch_collection(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    require_admin(&req, &state)?;
    let id = path.into_inner();
    let patch = body::json(payload, state.config.server.max_body_bytes).await?;
    let stored = state
        .catalog
        .collection(&Scope::All, &id)
        .await?
        .ok_or_else(|| CatalogError::CollectionNotFound(id.clone()))?;
    let mut value: Value = serde_json::from_str(&stored.doc)
        .map_err(|e| ApiError::internal(format!("stored collection is not JSON: {e}")))?;
    if let Ok(links) = serde_json::from_str::<Value>(&stored.links) {
        value["links"] = links;
    }
    merge_patch(&mut value, &patch);
    write_collection(&req, &state, value, WriteMode::Replace, Some(&id)).await
}

/// `DELETE /collections/{collection}`
pub async fn delete_collection(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    require_admin(&req, &state)?;
    let id = path.into_inner();
    if !state.catalog.delete_collection(&id).await? {
        return Err(CatalogError::CollectionNotFound(id).into());
    }
    Ok(HttpResponse::NoContent().finish())
}

/// Parses an item for the collection in the URL.
fn item_doc(
    value: &Value,
    collection: &str,
    id: Option<&str>,
) -> ApiResult<crate::catalog::ItemDoc> {
    check_member(value, "collection", collection, "collection id")?;
    if let Some(id) = id {
        check_member(value, "id", id, "item id")?;
    }
    let ctx = ItemContext {
        default_collection: Some(collection.to_string()),
        ..Default::default()
    };
    Ok(parse_item(&value.to_string(), &ctx)?)
}

async fn respond_item(
    req: &HttpRequest,
    state: &AppState,
    collection: &str,
    id: &str,
    created: bool,
) -> ApiResult<HttpResponse> {
    let item = state
        .catalog
        .item(&scope(req, state), collection, id)
        .await?
        .ok_or_else(|| CatalogError::ItemNotFound {
            collection: collection.into(),
            item: id.into(),
        })?;
    let base = Base::of(req, state.config.server.public_url.as_deref());
    let location = base.url(&format!(
        "/collections/{}/items/{}",
        segment(collection),
        segment(id)
    ));
    let mut res = if created {
        HttpResponse::Created()
    } else {
        HttpResponse::Ok()
    };
    Ok(res
        .content_type(media::GEOJSON)
        .insert_header((header::LOCATION, location))
        .insert_header((header::ETAG, format!("\"i{}\"", item.updated)))
        .body(item.to_json(&base.item_links(collection, id))))
}

/// `POST /collections/{collection}/items`: one Item, or a FeatureCollection
/// written in one transaction.
pub async fn create_items(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    require_admin(&req, &state)?;
    let collection = path.into_inner();
    if state
        .catalog
        .collection(&Scope::All, &collection)
        .await?
        .is_none()
    {
        return Err(CatalogError::CollectionNotFound(collection).into());
    }
    let value = body::json(payload, state.config.server.max_body_bytes).await?;
    match value.get("type").and_then(Value::as_str) {
        Some("FeatureCollection") => {
            let Some(Value::Array(features)) = value.get("features") else {
                return Err(ApiError::bad_request(
                    "a FeatureCollection needs a 'features' array",
                ));
            };
            let docs = features
                .iter()
                .enumerate()
                .map(|(n, f)| {
                    item_doc(f, &collection, None).map_err(|e| {
                        ApiError::bad_request(format!("features[{n}]: {}", e.description))
                    })
                })
                .collect::<ApiResult<Vec<_>>>()?;
            let written = state.catalog.put_items(docs, WriteMode::Create).await?;
            Ok(HttpResponse::Created().json(json!({"inserted": written.inserted})))
        }
        _ => {
            let doc = item_doc(&value, &collection, None)?;
            let id = doc.id.clone();
            state
                .catalog
                .put_items(vec![doc], WriteMode::Create)
                .await?;
            respond_item(&req, &state, &collection, &id, true).await
        }
    }
}

/// Replaces an existing item with `value` and answers with the stored item.
async fn replace_with(
    req: &HttpRequest,
    state: &AppState,
    collection: &str,
    id: &str,
    value: &Value,
) -> ApiResult<HttpResponse> {
    let doc = item_doc(value, collection, Some(id))?;
    state
        .catalog
        .put_items(vec![doc], WriteMode::Replace)
        .await?;
    respond_item(req, state, collection, id, false).await
}

/// `PUT /collections/{collection}/items/{item}`
pub async fn replace_item(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    require_admin(&req, &state)?;
    let (collection, id) = path.into_inner();
    let value = body::json(payload, state.config.server.max_body_bytes).await?;
    replace_with(&req, &state, &collection, &id, &value).await
}

/// `PATCH /collections/{collection}/items/{item}` (JSON merge patch)
pub async fn patch_item(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    require_admin(&req, &state)?;
    let (collection, id) = path.into_inner();
    let patch = body::json(payload, state.config.server.max_body_bytes).await?;
    let stored = state
        .catalog
        .item(&Scope::All, &collection, &id)
        .await?
        .ok_or_else(|| CatalogError::ItemNotFound {
            collection: collection.clone(),
            item: id.clone(),
        })?;
    let mut value: Value = serde_json::from_str(&stored.to_json(""))
        .map_err(|e| ApiError::internal(format!("stored item is not JSON: {e}")))?;
    merge_patch(&mut value, &patch);
    replace_with(&req, &state, &collection, &id, &value).await
}

/// `DELETE /collections/{collection}/items/{item}`
pub async fn delete_item(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    require_admin(&req, &state)?;
    let (collection, id) = path.into_inner();
    if !state.catalog.delete_item(&collection, &id).await? {
        return Err(CatalogError::ItemNotFound {
            collection,
            item: id,
        }
        .into());
    }
    Ok(HttpResponse::NoContent().finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_patch_rfc7386() {
        let mut v = json!({"a": "b", "c": {"d": "e", "f": "g"}});
        merge_patch(&mut v, &json!({"a": "z", "c": {"f": null}}));
        assert_eq!(v, json!({"a": "z", "c": {"d": "e"}}));
    }
}
