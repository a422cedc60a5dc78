//! `/`: the landing page (root catalog).

use super::AppState;
use super::auth::scope;
use super::error::ApiResult;
use super::links::{Base, media};
use crate::catalog::CollectionQuery;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

/// `GET /`
///
/// A browser (an `Accept` header preferring HTML) is redirected to the web
/// viewer when it is enabled; API clients get the root catalog.
pub async fn landing(req: HttpRequest, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let base = Base::of(&req, state.config.server.public_url.as_deref());
    if state.config.viewer.enabled && super::viewer::wants_html(&req) {
        return Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, base.url("/viewer")))
            .insert_header((header::VARY, "Accept"))
            .finish());
    }
    let cfg = &state.config.catalog;
    let mut links: Vec<Value> = vec![
        base.link("self", media::JSON, "/"),
        base.link("root", media::JSON, "/"),
        base.titled(
            "conformance",
            media::JSON,
            "/conformance",
            "Conformance classes",
        ),
        base.titled("data", media::JSON, "/collections", "Collections"),
        json!({"rel": "search", "type": media::GEOJSON, "href": base.url("/search"), "method": "GET", "title": "Item search"}),
        json!({"rel": "search", "type": media::GEOJSON, "href": base.url("/search"), "method": "POST", "title": "Item search"}),
        base.titled("service-desc", media::OPENAPI, "/api", "OpenAPI definition"),
        base.titled("service-doc", media::HTML, "/api.html", "API documentation"),
        base.titled(
            "http://www.opengis.net/def/rel/ogc/1.0/queryables",
            media::SCHEMA,
            "/queryables",
            "Queryables",
        ),
    ];
    let page = state
        .catalog
        .collections(
            &scope(&req, &state),
            &CollectionQuery {
                limit: usize::MAX,
                ..Default::default()
            },
        )
        .await?;
    for c in page.collections {
        let title = serde_json::from_str::<Value>(&c.doc)
            .ok()
            .and_then(|v| v.get("title").and_then(Value::as_str).map(String::from));
        let mut link = base.link(
            "child",
            media::JSON,
            &format!("/collections/{}", super::links::segment(&c.id)),
        );
        if let Some(t) = title {
            link["title"] = Value::String(t);
        }
        links.push(link);
    }
    if state.config.viewer.enabled {
        links.push(base.titled("alternate", media::HTML, "/viewer", "Web viewer"));
    }
    Ok(HttpResponse::Ok()
        .insert_header((header::VARY, "Accept"))
        .json(json!({
            "type": "Catalog",
            "stac_version": "1.1.0",
            "id": cfg.id,
            "title": cfg.title,
            "description": cfg.description,
            "conformsTo": state.conformance,
            "links": links,
        })))
}
