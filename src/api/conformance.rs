//! `/conformance`: the classes this server implements, derived from the
//! store's capabilities.

use super::AppState;
use crate::catalog::Capabilities;
use actix_web::{HttpResponse, web};
use serde_json::json;

const STAC: &str = "https://api.stacspec.org";
const OGC: &str = "http://www.opengis.net/spec";

/// The conformance classes for a store and whether transactions are on.
pub fn classes(caps: &Capabilities, transactions: bool) -> Vec<String> {
    let mut c: Vec<String> = vec![
        format!("{STAC}/v1.0.0/core"),
        format!("{STAC}/v1.0.0/collections"),
        format!("{STAC}/v1.0.0/ogcapi-features"),
        format!("{STAC}/v1.0.0/item-search"),
        format!("{OGC}/ogcapi-features-1/1.0/conf/core"),
        format!("{OGC}/ogcapi-features-1/1.0/conf/oas30"),
        format!("{OGC}/ogcapi-features-1/1.0/conf/geojson"),
    ];
    // Fields, Sort, Query: both endpoints. Sort is advertised under v1.0.0
    // (what pystac-client recognises) and v1.1.0.
    for ext in ["fields", "sort", "query"] {
        for endpoint in ["item-search", "ogcapi-features"] {
            c.push(format!("{STAC}/v1.0.0/{endpoint}#{ext}"));
        }
    }
    for endpoint in ["item-search", "ogcapi-features"] {
        c.push(format!("{STAC}/v1.1.0/{endpoint}#sort"));
    }
    // Filter (CQL2).
    c.push(format!("{STAC}/v1.0.0-rc.2/item-search#filter"));
    c.push(format!("{STAC}/v1.0.0-rc.3/item-search#filter"));
    c.push(format!("{STAC}/v1.0.0/item-search#filter"));
    c.push(format!("{STAC}/v1.0.0/ogcapi-features#filter"));
    for class in [
        "ogcapi-features-3/1.0/conf/filter",
        "ogcapi-features-3/1.0/conf/features-filter",
        "ogcapi-features-3/1.0/conf/queryables",
        "ogcapi-features-3/1.0/conf/queryables-query-parameters",
        "cql2/1.0/conf/cql2-text",
        "cql2/1.0/conf/cql2-json",
        "cql2/1.0/conf/basic-cql2",
        // LIKE, BETWEEN and IN are implemented, but advanced-comparison-operators
        // is not advertised: its conformance test filters on a property no
        // item has and expects 200, while OGC API Features Part 3 (and we)
        // answer 400 for a property that is not queryable.
        "cql2/1.0/conf/case-insensitive-comparison",
        "cql2/1.0/conf/accent-insensitive-comparison",
        "cql2/1.0/conf/basic-spatial-functions",
        "cql2/1.0/conf/basic-spatial-functions-plus",
        // The draft name, which stac-api-validator looks for.
        "cql2/1.0/conf/basic-spatial-operators",
        "cql2/1.0/conf/property-property",
        "cql2/1.0/conf/arithmetic",
    ] {
        c.push(format!("{OGC}/{class}"));
    }
    if caps.spatial_operators {
        c.push(format!("{OGC}/cql2/1.0/conf/spatial-functions"));
    }
    if caps.temporal_operators {
        c.push(format!("{OGC}/cql2/1.0/conf/temporal-functions"));
        c.push(format!("{OGC}/cql2/1.0/conf/temporal-operators"));
    }
    if caps.array_operators {
        c.push(format!("{OGC}/cql2/1.0/conf/array-functions"));
    }
    if caps.free_text {
        c.push(format!("{STAC}/v1.0.0-rc.1/item-search#free-text"));
        c.push(format!("{STAC}/v1.0.0-rc.1/ogcapi-features#free-text"));
        c.push(format!("{STAC}/v1.0.0-rc.1/collection-search#free-text"));
    }
    c.push(format!("{STAC}/v1.0.0-rc.1/collection-search"));
    c.push(format!("{OGC}/ogcapi-common-2/1.0/conf/simple-query"));
    if transactions {
        c.push(format!(
            "{STAC}/v1.0.0/ogcapi-features/extensions/transaction"
        ));
        c.push(format!("{STAC}/v1.0.0/collections/extensions/transaction"));
        c.push(format!("{OGC}/ogcapi-features-4/1.0/conf/simpletx"));
    }
    c
}

/// `GET /conformance`
pub async fn conformance(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(json!({"conformsTo": state.conformance}))
}
