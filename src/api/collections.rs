//! `/collections` (with Collection Search) and `/collections/{id}`.

use super::AppState;
use super::auth::scope;
use super::error::{ApiError, ApiResult};
use super::links::{Base, media, segment};
use super::params::Params;
use crate::catalog::datetime::Interval;
use crate::catalog::geometry::Bounds;
use crate::catalog::text::TextQuery;
use crate::catalog::{CatalogError, CollectionQuery, StoredCollection};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value, json};

/// A stored collection with its generated links, as JSON; a restricted one
/// advertises the authentication `schemes` (see [`super::auth::advertise`]).
pub fn render(c: &StoredCollection, base: &Base, schemes: &Value) -> ApiResult<Value> {
    let mut doc: Map<String, Value> = serde_json::from_str(&c.doc).map_err(|e| {
        ApiError::internal(format!("stored collection '{}' is not JSON: {e}", c.id))
    })?;
    let path = format!("/collections/{}", segment(&c.id));
    let mut links = vec![
        base.link("self", media::JSON, &path),
        base.link("parent", media::JSON, "/"),
        base.link("root", media::JSON, "/"),
        base.titled("items", media::GEOJSON, &format!("{path}/items"), "Items"),
        base.titled(
            "http://www.opengis.net/def/rel/ogc/1.0/queryables",
            media::SCHEMA,
            &format!("{path}/queryables"),
            "Queryables",
        ),
    ];
    // Web-map links (the collection mosaic, default rendering).
    links.push(
        json!({"rel": "xyz", "type": "image/png", "title": "Mosaic tiles (default rendering)",
        "href": base.url(&format!("{path}/tiles/WebMercatorQuad/{{z}}/{{x}}/{{y}}.png"))}),
    );
    links.push(base.titled(
        "tilejson",
        media::JSON,
        &format!("{path}/WebMercatorQuad/tilejson.json"),
        "TileJSON",
    ));
    links.push(json!({"rel": "wmts", "type": "application/xml", "title": "WMTS (one layer per render preset)",
        "href": base.url(&format!("{path}/WMTSCapabilities.xml")), "wmts:layer": c.id}));
    if let Ok(Value::Array(stored)) = serde_json::from_str::<Value>(&c.links) {
        links.extend(stored);
    }
    doc.insert("links".into(), Value::Array(links));
    if matches!(
        crate::catalog::scope::Policy::of(&doc).map(|p| p.access),
        Ok(crate::catalog::Access::Restricted(_))
    ) {
        super::auth::advertise(&mut doc, schemes);
    }
    Ok(Value::Object(doc))
}

/// `GET /collections`, with the Collection Search parameters
/// `bbox`, `datetime`, `q`, `limit` and paging by `token`.
pub async fn list(req: HttpRequest, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let base = Base::of(&req, state.config.server.public_url.as_deref());
    let mut params = Params::parse(req.query_string())?;
    let original = params.clone();
    let mut query = CollectionQuery {
        limit: state.limits.max_limit,
        ..Default::default()
    };
    if let Some(bbox) = params.take("bbox") {
        let values = bbox
            .split(',')
            .map(|v| v.trim().parse::<f64>())
            .collect::<Result<Vec<f64>, _>>()
            .map_err(|_| {
                ApiError::bad_request(format!(
                    "bbox '{bbox}' must be 4 or 6 comma-separated numbers"
                ))
            })?;
        query.bbox = Some(
            Bounds::from_stac_bbox_split(&values)
                .map_err(|e| ApiError::bad_request(format!("bbox: {e}")))?,
        );
    }
    if let Some(datetime) = params.take("datetime") {
        query.datetime = Some(Interval::parse(&datetime)?);
    }
    if let Some(q) = params.take("q") {
        query.text = TextQuery::parse(&q)?;
    }
    if let Some(limit) = params.take("limit") {
        let n: i64 = limit.trim().parse().map_err(|_| {
            ApiError::bad_request(format!("limit must be a positive integer, got '{limit}'"))
        })?;
        if n <= 0 {
            return Err(ApiError::bad_request("limit must be a positive integer"));
        }
        query.limit = (n as usize).min(state.limits.max_limit);
    }
    if let Some(token) = params.take("token") {
        query.offset = token.parse().map_err(|_| {
            CatalogError::query("token is not a paging token issued by this server")
        })?;
    }
    let page = state
        .catalog
        .collections(&scope(&req, &state), &query)
        .await?;
    let returned = page.collections.len();
    let schemes = super::auth::schemes(&state);
    let collections = page
        .collections
        .iter()
        .map(|c| render(c, &base, &schemes))
        .collect::<ApiResult<Vec<_>>>()?;
    let self_path = match req.query_string() {
        "" => "/collections".to_string(),
        q => format!("/collections?{q}"),
    };
    let mut links = vec![
        base.link("self", media::JSON, &self_path),
        base.link("root", media::JSON, "/"),
        base.link("parent", media::JSON, "/"),
    ];
    let next_offset = query.offset + returned;
    if (next_offset as u64) < page.number_matched && returned > 0 {
        let q = original.with_token(&next_offset.to_string());
        links.push(base.link("next", media::JSON, &format!("/collections?{q}")));
    }
    Ok(HttpResponse::Ok().json(json!({
        "collections": collections,
        "links": links,
        "numberMatched": page.number_matched,
        "numberReturned": returned,
    })))
}

/// `GET /collections/{collection}`
pub async fn one(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    let base = Base::of(&req, state.config.server.public_url.as_deref());
    let c = state
        .catalog
        .collection(&scope(&req, &state), &id)
        .await?
        .ok_or(CatalogError::CollectionNotFound(id))?;
    let etag = format!("\"c{}\"", c.updated);
    Ok(HttpResponse::Ok()
        .insert_header(("ETag", etag))
        .json(render(&c, &base, &super::auth::schemes(&state))?))
}
