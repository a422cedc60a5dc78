//! `/queryables` and `/collections/{collection}/queryables` (JSON Schema).

use super::AppState;
use super::auth::scope;
use super::error::ApiResult;
use super::links::{Base, media, segment};
use crate::catalog::queryables::document;
use crate::catalog::{CatalogError, CollectionQuery};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value};

async fn respond(
    req: &HttpRequest,
    state: &AppState,
    collection: Option<String>,
) -> ApiResult<HttpResponse> {
    let scope = scope(req, state);
    let base = Base::of(req, state.config.server.public_url.as_deref());
    let stored = match &collection {
        Some(id) => vec![
            state
                .catalog
                .collection(&scope, id)
                .await?
                .ok_or_else(|| CatalogError::CollectionNotFound(id.clone()))?,
        ],
        None => {
            state
                .catalog
                .collections(
                    &scope,
                    &CollectionQuery {
                        limit: usize::MAX,
                        ..Default::default()
                    },
                )
                .await?
                .collections
        }
    };
    let ids: Vec<String> = stored.iter().map(|c| c.id.clone()).collect();
    let kinds = state.catalog.properties(&scope, &ids).await?;
    let summaries: Vec<Map<String, Value>> = stored
        .iter()
        .filter_map(|c| serde_json::from_str::<Value>(&c.doc).ok())
        .filter_map(|v| match v.get("summaries") {
            Some(Value::Object(s)) => Some(s.clone()),
            _ => None,
        })
        .collect();
    let summary_refs: Vec<&Map<String, Value>> = summaries.iter().collect();
    let (url, title) = match &collection {
        Some(id) => (
            base.url(&format!("/collections/{}/queryables", segment(id))),
            format!("Queryables of {id}"),
        ),
        None => (
            base.url("/queryables"),
            "Queryables of every collection".to_string(),
        ),
    };
    let doc = document(&url, &title, &kinds, &ids, &summary_refs);
    Ok(HttpResponse::Ok()
        .content_type(media::SCHEMA)
        .body(doc.to_string()))
}

/// `GET /queryables`
pub async fn global(req: HttpRequest, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    respond(&req, &state, None).await
}

/// `GET /collections/{collection}/queryables`
pub async fn collection(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    respond(&req, &state, Some(path.into_inner())).await
}
