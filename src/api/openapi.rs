//! `/api` (OpenAPI 3.0 definition) and `/api.html` (its human-readable form,
//! rendered here with no external script so it works offline).

use super::AppState;
use super::links::{Base, media};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value, json};

fn param(name: &str, description: &str, schema: Value) -> Value {
    json!({"name": name, "in": "query", "required": false, "description": description, "schema": schema})
}

fn path_param(name: &str, description: &str) -> Value {
    json!({"name": name, "in": "path", "required": true, "description": description, "schema": {"type": "string"}})
}

fn ok(description: &str, media_type: &str) -> Value {
    json!({"description": description, "content": {media_type: {"schema": {"type": "object"}}}})
}

fn error_response(description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Exception"}}}})
}

/// The OpenAPI document for a base URL.
pub fn document(base: &Base, state: &AppState) -> Value {
    let search_params = vec![
        param(
            "bbox",
            "Bounding box (west,south,east,north[,…]) in WGS 84; crossing the antimeridian when west > east",
            json!({"type": "string"}),
        ),
        param(
            "intersects",
            "GeoJSON geometry the items must intersect",
            json!({"type": "string"}),
        ),
        param(
            "datetime",
            "RFC 3339 instant or interval (`start/end`, `..` or empty for open ends)",
            json!({"type": "string"}),
        ),
        param(
            "collections",
            "Comma-separated collection ids",
            json!({"type": "string"}),
        ),
        param("ids", "Comma-separated item ids", json!({"type": "string"})),
        param(
            "limit",
            "Page size (clamped to the configured maximum)",
            json!({"type": "integer", "minimum": 1, "maximum": state.limits.max_limit, "default": state.limits.default_limit}),
        ),
        param(
            "sortby",
            "Comma-separated fields, `-` prefix for descending (default: -datetime)",
            json!({"type": "string"}),
        ),
        param(
            "fields",
            "Comma-separated fields to include, `-` prefix to exclude",
            json!({"type": "string"}),
        ),
        param("filter", "CQL2 filter", json!({"type": "string"})),
        param(
            "filter-lang",
            "cql2-text (default) or cql2-json",
            json!({"type": "string", "enum": ["cql2-text", "cql2-json"]}),
        ),
        param(
            "filter-crs",
            "Only http://www.opengis.net/def/crs/OGC/1.3/CRS84",
            json!({"type": "string"}),
        ),
        param(
            "query",
            "Query extension object (JSON)",
            json!({"type": "string"}),
        ),
        param(
            "q",
            "Free text: comma-separated alternatives, \"quoted phrases\", -excluded words",
            json!({"type": "string"}),
        ),
        param(
            "token",
            "Paging token from a `next` link",
            json!({"type": "string"}),
        ),
    ];
    let items_params: Vec<Value> = search_params
        .iter()
        .filter(|p| {
            !matches!(
                p["name"].as_str(),
                Some("intersects" | "collections" | "ids")
            )
        })
        .cloned()
        .collect();
    let collection_id = path_param("collection", "Collection id");
    let item_id = path_param("item", "Item id");
    let errors = |op: &mut Map<String, Value>| {
        let responses = op.entry("responses").or_insert_with(|| json!({}));
        responses["400"] = error_response("Invalid request");
        responses["503"] = error_response("Busy or query timed out; retry later");
    };
    let get = |summary: &str, params: Vec<Value>, response: Value| {
        let mut op =
            json!({"summary": summary, "parameters": params, "responses": {"200": response}});
        if let Value::Object(m) = &mut op {
            errors(m);
        }
        op
    };
    let mut paths = json!({
        "/": {"get": get("Landing page", vec![], ok("The root catalog", media::JSON))},
        "/conformance": {"get": get("Conformance classes", vec![], ok("Classes implemented", media::JSON))},
        "/api": {"get": get("This OpenAPI document", vec![], ok("OpenAPI 3.0", media::OPENAPI))},
        "/api.html": {"get": get("API documentation", vec![], ok("HTML", media::HTML))},
        "/queryables": {"get": get("Queryables of every collection", vec![], ok("JSON Schema", media::SCHEMA))},
        "/collections": {"get": get("Collections, with Collection Search (bbox, datetime, q, limit)", vec![
            search_params[0].clone(), search_params[2].clone(), search_params[5].clone(), search_params[12].clone(), search_params[13].clone()
        ], ok("Collections", media::JSON))},
        "/collections/{collection}": {"get": get("A collection", vec![collection_id.clone()], ok("Collection", media::JSON))},
        "/collections/{collection}/queryables": {"get": get("Queryables of a collection", vec![collection_id.clone()], ok("JSON Schema", media::SCHEMA))},
        "/collections/{collection}/items": {"get": get("Items of a collection", [vec![collection_id.clone()], items_params].concat(), ok("FeatureCollection", media::GEOJSON))},
        "/collections/{collection}/items/{item}": {"get": get("An item", vec![collection_id.clone(), item_id.clone()], ok("Item", media::GEOJSON))},
        "/search": {
            "get": get("Item search", search_params.clone(), ok("FeatureCollection", media::GEOJSON)),
            "post": {
                "summary": "Item search (JSON body; filter-lang defaults to cql2-json)",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SearchBody"}}}},
                "responses": {"200": ok("FeatureCollection", media::GEOJSON), "400": error_response("Invalid request"), "413": error_response("Body too large")}
            }
        }
    });
    paths["/me"] = json!({"get": {
        "summary": "Who the caller is: credential, user, organisation, roles, quota used and left per licensed collection",
        "security": [{}, {"bearer": []}, {"api_key": []}],
        "responses": {"200": ok("Identity and quotas", media::JSON), "401": error_response("Invalid credentials")}
    }});
    paths["/collections/{collection}/items/{item}/assets/{asset}/download"] = json!({"get": {
        "summary": "The asset's bytes; for a licensed collection, the first download of an item in a year counts its footprint (km²) against the user's quota",
        "security": [{}, {"bearer": []}, {"api_key": []}],
        "parameters": [collection_id.clone(), item_id.clone(), path_param("asset", "Asset key")],
        "responses": {
            "200": {"description": "The asset", "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}},
            "401": error_response("Invalid credentials"),
            "403": {"description": "Quota exceeded (quota_km2, used_km2, remaining_km2, needed_km2)", "content": {"application/json": {"schema": {"type": "object"}}}},
            "404": error_response("No such collection, item or asset (or no rights to see it)"),
            "429": error_response("Too many requests (Retry-After)")
        }
    }});
    if state.transactions() {
        let secured = |summary: &str, body: bool, code: &str| {
            let mut op = json!({"summary": summary, "security": [{"bearer": []}],
                "responses": {code: {"description": "Done"}, "400": error_response("Invalid object"), "401": error_response("Missing or wrong token"), "404": error_response("Not found"), "409": error_response("Conflict")}});
            if body {
                op["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": {"type": "object"}}}});
            }
            op
        };
        paths["/collections"]["post"] = secured("Create a collection", true, "201");
        paths["/collections/{collection}"]["put"] = secured("Replace a collection", true, "200");
        paths["/collections/{collection}"]["patch"] =
            secured("Merge-patch a collection (RFC 7386)", true, "200");
        paths["/collections/{collection}"]["delete"] =
            secured("Delete a collection and its items", false, "204");
        paths["/collections/{collection}/items"]["post"] = secured(
            "Create an item (or a FeatureCollection of items)",
            true,
            "201",
        );
        paths["/collections/{collection}/items/{item}"]["put"] =
            secured("Replace an item", true, "200");
        paths["/collections/{collection}/items/{item}"]["patch"] =
            secured("Merge-patch an item (RFC 7386)", true, "200");
        paths["/collections/{collection}/items/{item}"]["delete"] =
            secured("Delete an item", false, "204");
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": state.config.catalog.title,
            "description": state.config.catalog.description,
            "version": env!("CARGO_PKG_VERSION"),
        },
        "servers": [{"url": base.url("")}],
        "paths": paths,
        "components": {
            "schemas": {
                "Exception": {"type": "object", "required": ["code", "description"], "properties": {"code": {"type": "string"}, "description": {"type": "string"}}},
                "SearchBody": {"type": "object", "properties": {
                    "bbox": {"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 6},
                    "intersects": {"type": "object"},
                    "datetime": {"type": "string"},
                    "collections": {"type": "array", "items": {"type": "string"}},
                    "ids": {"type": "array", "items": {"type": "string"}},
                    "limit": {"type": "integer", "minimum": 1},
                    "sortby": {"type": "array", "items": {"type": "object", "properties": {"field": {"type": "string"}, "direction": {"type": "string", "enum": ["asc", "desc"]}}}},
                    "fields": {"type": "object", "properties": {"include": {"type": "array", "items": {"type": "string"}}, "exclude": {"type": "array", "items": {"type": "string"}}}},
                    "filter": {"oneOf": [{"type": "object"}, {"type": "string"}]},
                    "filter-lang": {"type": "string", "enum": ["cql2-text", "cql2-json"]},
                    "query": {"type": "object"},
                    "q": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
                    "token": {"type": "string"}
                }}
            },
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "API key (tui_…), OpenID Connect access token, or the administrator token"},
                "api_key": {"type": "apiKey", "in": "query", "name": "api_key", "description": "API key, for clients that cannot set headers"}
            }
        }
    })
}

/// `GET /api`
pub async fn openapi(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let base = Base::of(&req, state.config.server.public_url.as_deref());
    HttpResponse::Ok()
        .content_type(media::OPENAPI)
        .body(document(&base, &state).to_string())
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `GET /api.html`
pub async fn openapi_html(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let base = Base::of(&req, state.config.server.public_url.as_deref());
    let doc = document(&base, &state);
    let mut rows = String::new();
    if let Some(paths) = doc["paths"].as_object() {
        for (path, ops) in paths {
            for (method, op) in ops.as_object().into_iter().flatten() {
                let params: Vec<String> = op["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|p| {
                        format!(
                            "<li><code>{}</code> — {}</li>",
                            escape(p["name"].as_str().unwrap_or("")),
                            escape(p["description"].as_str().unwrap_or(""))
                        )
                    })
                    .collect();
                rows.push_str(&format!(
                    "<section><h2><span class=\"m\">{}</span> <code>{}</code></h2><p>{}</p><ul>{}</ul></section>\n",
                    method.to_uppercase(),
                    escape(path),
                    escape(op["summary"].as_str().unwrap_or("")),
                    params.join("")
                ));
            }
        }
    }
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title} — API</title>\
         <style>body{{font:16px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}}\
         h2{{font-size:1.05rem;margin:1.5rem 0 .25rem}}.m{{display:inline-block;min-width:4.5rem;color:#fff;background:#3a6;border-radius:3px;padding:0 .4rem;font-size:.85rem;text-align:center}}\
         code{{background:#f3f3f3;padding:0 .2rem}}ul{{margin:.25rem 0}}</style></head><body>\
         <h1>{title}</h1><p>{description}</p><p>Machine-readable definition: <a href=\"{api}\">OpenAPI 3.0 JSON</a>.</p>{rows}</body></html>",
        title = escape(&state.config.catalog.title),
        description = escape(&state.config.catalog.description),
        api = escape(&base.url("/api")),
    );
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(html)
}
