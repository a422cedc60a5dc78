//! `/collections/{collection}/items` and `/collections/{collection}/items/{item}`.

use super::AppState;
use super::auth::scope;
use super::error::ApiResult;
use super::links::{Base, media, segment};
use super::params::Params;
use super::search::{Paging, check_params, item_collection};
use crate::catalog::{CatalogError, SearchQuery};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

/// Parameters the items listing understands.
const ITEMS_PARAMS: &[&str] = &[
    "limit",
    "bbox",
    "datetime",
    "fields",
    "sortby",
    "filter",
    "filter-lang",
    "filter-crs",
    "query",
    "q",
    "token",
    // pystac-client sends the collection again.
    "collections",
];

/// `GET /collections/{collection}/items`
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let collection = path.into_inner();
    let scope = scope(&req, &state);
    let base = Base::of(&req, state.config.server.public_url.as_deref());
    let params = Params::parse(req.query_string())?;
    check_params(&params, ITEMS_PARAMS)?;
    if let Some(c) = params.0.get("collections")
        && c != &collection
    {
        return Err(crate::api::ApiError::bad_request(format!(
            "collections={c} contradicts the collection in the path ('{collection}')"
        )));
    }
    let mut query = SearchQuery::from_get(params.clone().into_get_search(), state.limits)?;
    query.collections = vec![collection.clone()];
    let page = state.catalog.search(&scope, &query).await?;
    // An empty page may mean the collection does not exist (or is not visible).
    if page.items.is_empty()
        && state
            .catalog
            .collection(&scope, &collection)
            .await?
            .is_none()
    {
        return Err(CatalogError::CollectionNotFound(collection).into());
    }
    let path = format!("/collections/{}/items", segment(&collection));
    let self_path = match req.query_string() {
        "" => path.clone(),
        q => format!("{path}?{q}"),
    };
    let collection_path = format!("/collections/{}", segment(&collection));
    let links = vec![
        base.link("self", media::GEOJSON, &self_path),
        base.link("root", media::JSON, "/"),
        base.link("parent", media::JSON, &collection_path),
        base.link("collection", media::JSON, &collection_path),
    ];
    item_collection(page, &query, &base, links, Paging::Get { path, params })
}

/// `GET /collections/{collection}/items/{item}`
pub async fn one(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (collection, id) = path.into_inner();
    let scope = scope(&req, &state);
    let Some(item) = state.catalog.item(&scope, &collection, &id).await? else {
        // Say which of the two is missing (without revealing invisible collections).
        if state
            .catalog
            .collection(&scope, &collection)
            .await?
            .is_none()
        {
            return Err(CatalogError::CollectionNotFound(collection).into());
        }
        return Err(CatalogError::ItemNotFound {
            collection,
            item: id,
        }
        .into());
    };
    let etag = format!("\"i{}\"", item.updated);
    if req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
    {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, etag))
            .finish());
    }
    let base = Base::of(&req, state.config.server.public_url.as_deref());
    let body = item.to_json(&base.item_links(&item.collection, &item.id));
    Ok(HttpResponse::Ok()
        .content_type(media::GEOJSON)
        .insert_header((header::ETAG, etag))
        .body(body))
}
