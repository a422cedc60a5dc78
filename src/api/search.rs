//! `/search` (GET and POST), and the FeatureCollection writer shared with the
//! items listing.

use super::AppState;
use super::auth::scope;
use super::body;
use super::error::{ApiError, ApiResult};
use super::fields;
use super::links::{Base, media};
use super::params::Params;
use crate::catalog::{ItemPage, SearchQuery};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

/// Parameters `GET /search` understands.
pub const SEARCH_PARAMS: &[&str] = &[
    "limit",
    "bbox",
    "datetime",
    "intersects",
    "ids",
    "collections",
    "fields",
    "sortby",
    "filter",
    "filter-lang",
    "filter-crs",
    "query",
    "q",
    "token",
];

/// How the next page is requested.
pub enum Paging {
    /// Same path and parameters, with a new `token`.
    Get {
        /// Path without query.
        path: String,
        /// The request's parameters.
        params: Params,
    },
    /// POST of the same body with a new `token`.
    Post {
        /// Path.
        path: String,
        /// The request body.
        body: Value,
    },
}

/// Rejects parameters the endpoint does not define (OGC API Features asks for a 400).
pub fn check_params(params: &Params, allowed: &[&str]) -> ApiResult<()> {
    if let Some(unknown) = params
        .0
        .keys()
        .find(|k| !allowed.contains(&k.as_str()) && *k != super::auth::KEY_PARAM)
    {
        return Err(ApiError::bad_request(format!(
            "unknown parameter '{unknown}'; this endpoint accepts {}",
            allowed.join(", ")
        )));
    }
    Ok(())
}

/// Writes a page of items as a GeoJSON FeatureCollection.
pub fn item_collection(
    page: ItemPage,
    query: &SearchQuery,
    base: &Base,
    mut links: Vec<Value>,
    paging: Paging,
) -> ApiResult<HttpResponse> {
    if let Some(next) = &page.next {
        let token = next.encode();
        links.push(match paging {
            Paging::Get { path, params } => json!({
                "rel": "next", "type": media::GEOJSON, "method": "GET",
                "href": base.url(&format!("{path}?{}", params.with_token(&token))),
            }),
            Paging::Post { path, mut body } => {
                if let Value::Object(map) = &mut body {
                    map.insert("token".into(), Value::String(token));
                }
                json!({
                    "rel": "next", "type": media::GEOJSON, "method": "POST",
                    "href": base.url(&path), "body": body, "merge": false,
                })
            }
        });
    }
    let shaped = query.fields.as_ref();
    let mut out =
        String::with_capacity(page.items.iter().map(|i| i.doc.len() + 600).sum::<usize>() + 512);
    out.push_str("{\"type\":\"FeatureCollection\",\"features\":[");
    for (n, item) in page.items.iter().enumerate() {
        if n > 0 {
            out.push(',');
        }
        let json = item.to_json(&base.item_links(&item.collection, &item.id));
        match shaped {
            None => out.push_str(&json),
            Some(f) => {
                let value: Value = serde_json::from_str(&json)
                    .map_err(|e| ApiError::internal(format!("stored item is not JSON: {e}")))?;
                out.push_str(&fields::apply(value, f).to_string());
            }
        }
    }
    out.push_str("],\"links\":");
    out.push_str(&Value::Array(links).to_string());
    if let Some(n) = page.number_matched {
        out.push_str(&format!(",\"numberMatched\":{n}"));
    }
    out.push_str(&format!(",\"numberReturned\":{}}}", page.items.len()));
    Ok(HttpResponse::Ok().content_type(media::GEOJSON).body(out))
}

/// `GET /search`
pub async fn get_search(req: HttpRequest, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let base = Base::of(&req, state.config.server.public_url.as_deref());
    let params = Params::parse(req.query_string())?;
    check_params(&params, SEARCH_PARAMS)?;
    let query = SearchQuery::from_get(params.clone().into_get_search(), state.limits)?;
    let page = state.catalog.search(&scope(&req, &state), &query).await?;
    let self_path = match req.query_string() {
        "" => "/search".to_string(),
        q => format!("/search?{q}"),
    };
    let links = vec![
        base.link("self", media::GEOJSON, &self_path),
        base.link("root", media::JSON, "/"),
    ];
    item_collection(
        page,
        &query,
        &base,
        links,
        Paging::Get {
            path: "/search".into(),
            params,
        },
    )
}

/// `POST /search`
pub async fn post_search(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let base = Base::of(&req, state.config.server.public_url.as_deref());
    let body = body::json(payload, state.config.server.max_body_bytes).await?;
    let query = SearchQuery::from_json_body(body.clone(), state.limits)?;
    let page = state.catalog.search(&scope(&req, &state), &query).await?;
    let links = vec![
        base.link("self", media::GEOJSON, "/search"),
        base.link("root", media::JSON, "/"),
    ];
    item_collection(
        page,
        &query,
        &base,
        links,
        Paging::Post {
            path: "/search".into(),
            body,
        },
    )
}
