//! OGC Web Map Service 1.1.1 and 1.3.0 at `/wms`: one layer per collection
//! (mosaics of its items), one style per `renders` preset, a TIME
//! dimension from the items' dates, GetFeatureInfo with the pixel values
//! and the item they come from, and legends.
//!
//! Rendering goes through the raster engine and the tile cache, exactly as
//! collection mosaic tiles do.

pub mod capabilities;
pub mod exception;
pub mod featureinfo;
pub mod getmap;
pub mod layers;
pub mod legend;
pub mod params;
pub mod time;
pub mod xml;

use crate::api::AppState;
use crate::catalog::datetime::Micros;
use crate::config::WmsConfig;
use crate::raster::crs::{CrsFacts, describe};
use actix_web::{HttpRequest, HttpResponse, web};
use exception::{WmsError, WmsResult};
use params::{Kvp, Version};
use std::sync::Arc;

/// What the WMS keeps between requests.
pub struct WmsState {
    /// The CRSs every layer offers, in the configured order.
    pub crs: Vec<CrsFacts>,
    /// Layers per collection version.
    pub layers: moka::sync::Cache<(String, Micros), Arc<layers::Layer>>,
    /// Acquisition days per collection version.
    pub days: moka::sync::Cache<(String, Micros), Arc<layers::Days>>,
    /// Capabilities documents by version, caller, base URL and update sequence.
    pub capabilities: moka::sync::Cache<String, Arc<String>>,
}

impl WmsState {
    /// Reads the configured CRSs (unknown ones are logged and left out).
    pub fn new(config: &WmsConfig) -> WmsState {
        let crs = config
            .crs
            .iter()
            .filter_map(|name| match describe(name) {
                Ok(facts) => Some(facts),
                Err(e) => {
                    tracing::error!("wms.crs: {name} is left out: {e}");
                    None
                }
            })
            .collect();
        WmsState {
            crs,
            layers: moka::sync::Cache::new(1024),
            days: moka::sync::Cache::new(4096),
            capabilities: moka::sync::Cache::builder()
                .max_capacity(64)
                .time_to_live(std::time::Duration::from_secs(300))
                .build(),
        }
    }

    /// An offered CRS by any of its names.
    pub fn crs(&self, name: &str) -> Option<CrsFacts> {
        let upper = name.trim().to_ascii_uppercase();
        if let Some(c) = self.crs.iter().find(|c| c.name == upper) {
            return Some(c.clone());
        }
        let facts = describe(name).ok()?;
        self.crs.iter().find(|c| c.name == facts.name).cloned()
    }
}

/// Registers `/wms`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/wms", web::get().to(service));
}

/// `GET /wms?SERVICE=WMS&REQUEST=…`
pub async fn service(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let kvp = Kvp::parse(req.query_string());
    let request = kvp.get("REQUEST").map(|r| r.trim().to_ascii_lowercase());
    let capabilities = matches!(request.as_deref(), Some("getcapabilities" | "capabilities"));
    let version = if capabilities {
        Version::negotiate(kvp.get("VERSION").or_else(|| kvp.get("WMTVER")))
    } else {
        Version::of_request(&kvp)
    };
    match dispatch(
        &req,
        &state,
        &kvp,
        version,
        request.as_deref(),
        capabilities,
    )
    .await
    {
        Ok(response) => response,
        Err(e) => e.report(version),
    }
}

async fn dispatch(
    req: &HttpRequest,
    state: &AppState,
    kvp: &Kvp,
    version: Version,
    request: Option<&str>,
    capabilities: bool,
) -> WmsResult<HttpResponse> {
    match kvp.get("SERVICE") {
        Some(s) if !s.trim().eq_ignore_ascii_case("WMS") => {
            return Err(WmsError::invalid(
                "SERVICE",
                format!("SERVICE '{s}' is not WMS"),
            ));
        }
        None if capabilities => return Err(WmsError::missing("SERVICE")),
        _ => {}
    }
    match request {
        None | Some("") => Err(WmsError::missing("REQUEST")),
        Some(_) if capabilities => capabilities::respond(req, state, kvp, version).await,
        Some("getmap" | "map") => getmap::respond(req, state, kvp, version).await,
        Some("getfeatureinfo" | "feature_info") => {
            featureinfo::respond(req, state, kvp, version).await
        }
        Some("getlegendgraphic") => legend::respond(req, state, kvp, version).await,
        Some(other) => Err(WmsError::new(
            "OperationNotSupported",
            "REQUEST",
            format!(
                "REQUEST '{other}' is not GetCapabilities, GetMap, GetFeatureInfo or GetLegendGraphic"
            ),
        )),
    }
}
