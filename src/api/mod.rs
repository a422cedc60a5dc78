//! The HTTP layer (actix-web): parse, call the catalogue, respond.
//!
//! Handlers stay thin: they turn requests into the `stac` crate's API types,
//! hand them to [`crate::catalog`], and write the answer. Every failure is an
//! [`ApiError`] with a JSON body.

pub mod audit;
pub mod auth;
pub mod body;
pub mod collections;
pub mod conformance;
pub mod download;
pub mod error;
pub mod fields;
pub mod items;
pub mod landing;
pub mod links;
pub mod me;
pub mod openapi;
pub mod panic;
pub mod params;
pub mod queryables;
pub mod search;
pub mod tiles;
pub mod transactions;
pub mod viewer;
pub mod wms;

pub use error::{ApiError, ApiResult};

use crate::cache::{CacheConfig, TileCache};
use crate::catalog::datetime::Micros;
use crate::catalog::{Limits, SharedCatalog};
use crate::config::Config;
use crate::raster::{Engine, EngineOptions};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::{Compress, NormalizePath, TrailingSlash};
use actix_web::{App, HttpResponse, web};
use std::sync::Arc;
use tiles::source::CollectionRender;

/// Everything handlers share.
pub struct AppState {
    /// The store.
    pub catalog: SharedCatalog,
    /// The configuration the server started with.
    pub config: Arc<Config>,
    /// Page size limits.
    pub limits: Limits,
    /// Conformance classes, computed once from the store's capabilities.
    pub conformance: Vec<String>,
    /// The raster engine (`None` when it could not start; tiles answer 503).
    pub engine: Option<Arc<Engine>>,
    /// Rendered tiles.
    pub tiles: TileCache,
    /// Collections' render presets, by collection id and version.
    pub renders: moka::sync::Cache<(String, Micros), Arc<CollectionRender>>,
    /// The WMS's CRSs and caches.
    pub wms: wms::WmsState,
    /// API keys whose secret was already checked.
    pub verified_keys: crate::auth::keys::Verified,
    /// OpenID Connect tokens already verified, by SHA-256 (checked against
    /// their expiry on every use; kept a minute at most).
    pub verified_tokens: moka::sync::Cache<[u8; 32], crate::auth::oidc::OidcClaims>,
    /// The OpenID Connect token verifier, when an issuer is configured.
    pub oidc: Option<Arc<crate::auth::oidc::OidcVerifier>>,
    /// Rate limits and the failed-authentication throttle.
    pub guards: auth::guards::Guards,
}

impl AppState {
    /// State for a store and a configuration.
    pub fn new(catalog: SharedCatalog, config: Config) -> AppState {
        let limits = Limits {
            default_limit: config.search.default_limit,
            max_limit: config.search.max_limit,
        };
        let transactions = config.auth.admin_token.is_some() && catalog.capabilities().writes;
        let conformance = conformance::classes(&catalog.capabilities(), transactions);
        let engine = match Engine::start(&EngineOptions {
            threads: config.raster.thread_count(),
            queue: config.raster.queue,
            datasets: config.raster.datasets,
            roots: config.raster.roots.clone(),
            allowed_hosts: config.raster.allowed_hosts.clone(),
            max_items: config.raster.max_items_per_tile,
        }) {
            Ok(e) => Some(Arc::new(e)),
            Err(e) => {
                tracing::error!("the raster engine could not start: {e}");
                None
            }
        };
        let tiles = TileCache::new(&config.cache).unwrap_or_else(|e| {
            tracing::error!("tile cache: {e}; the disk tier is disabled");
            TileCache::new(&CacheConfig {
                disk_dir: None,
                ..config.cache.clone()
            })
            .expect("a tile cache without a disk tier cannot fail to start")
        });
        let config_wms = config.wms.clone();
        let oidc = match crate::auth::oidc::OidcVerifier::new(&config.auth.oidc) {
            Ok(v) => v.map(Arc::new),
            Err(e) => {
                // Config::validate refuses this first; a state built by hand
                // without validation accepts no tokens rather than all.
                tracing::error!("{e}; OpenID Connect tokens are refused");
                None
            }
        };
        let guards = auth::guards::Guards::new(&config.auth.rate_limit);
        AppState {
            catalog,
            config: Arc::new(config),
            limits,
            conformance,
            engine,
            tiles,
            renders: moka::sync::Cache::new(1024),
            wms: wms::WmsState::new(&config_wms),
            verified_keys: Default::default(),
            verified_tokens: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(std::time::Duration::from_secs(60))
                .build(),
            oidc,
            guards,
        }
    }

    /// The OpenID Connect issuer, when tokens are accepted.
    pub fn oidc_issuer(&self) -> Option<&str> {
        self.oidc
            .as_ref()
            .and(self.config.auth.oidc.issuer.as_deref())
    }

    /// True when the Transactions extension is enabled.
    pub fn transactions(&self) -> bool {
        self.config.auth.admin_token.is_some() && self.catalog.capabilities().writes
    }
}

/// Registers every route of the STAC API.
pub fn routes(cfg: &mut web::ServiceConfig) {
    let not_allowed = || web::to(|| async { ApiError::method_not_allowed().into_response() });
    cfg.service(
        web::resource("/")
            .get(landing::landing)
            .default_service(not_allowed()),
    )
    .service(
        web::resource("/conformance")
            .get(conformance::conformance)
            .default_service(not_allowed()),
    )
    .service(
        web::resource("/api")
            .get(openapi::openapi)
            .default_service(not_allowed()),
    )
    .service(
        web::resource("/api.html")
            .get(openapi::openapi_html)
            .default_service(not_allowed()),
    )
    .service(
        web::resource("/queryables")
            .get(queryables::global)
            .default_service(not_allowed()),
    )
    .service(
        web::resource("/search")
            .get(search::get_search)
            .post(search::post_search)
            .default_service(not_allowed()),
    )
    .service(
        web::resource("/collections")
            .get(collections::list)
            .post(transactions::create_collection)
            .default_service(not_allowed()),
    )
    .service(
        web::resource("/collections/{collection}")
            .get(collections::one)
            .put(transactions::replace_collection)
            .patch(transactions::patch_collection)
            .delete(transactions::delete_collection)
            .default_service(not_allowed()),
    )
    .service(
        web::resource("/collections/{collection}/queryables")
            .get(queryables::collection)
            .default_service(not_allowed()),
    )
    .service(
        web::resource("/collections/{collection}/items")
            .get(items::list)
            .post(transactions::create_items)
            .default_service(not_allowed()),
    )
    .service(
        web::resource("/collections/{collection}/items/{item}")
            .get(items::one)
            .put(transactions::replace_item)
            .patch(transactions::patch_item)
            .delete(transactions::delete_item)
            .default_service(not_allowed()),
    )
    .service(
        web::resource("/collections/{collection}/items/{item}/assets/{asset}/download")
            .get(download::download)
            .default_service(not_allowed()),
    )
    .service(
        web::resource("/me")
            .get(me::me)
            .default_service(not_allowed()),
    )
    .service(
        web::resource("/health")
            .get(|| async { HttpResponse::Ok().json(serde_json::json!({"status": "ok"})) }),
    );
}

impl ApiError {
    /// The error as a response.
    pub fn into_response(self) -> HttpResponse {
        actix_web::ResponseError::error_response(&self)
    }
}

/// Builds the application for a state (used by the server and by tests).
pub fn app(
    state: web::Data<AppState>,
) -> App<
    impl actix_web::dev::ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new()
        .app_data(state)
        .app_data(
            web::PathConfig::default()
                .error_handler(|e, _| ApiError::bad_request(format!("invalid path: {e}")).into()),
        )
        .wrap(actix_web::middleware::from_fn(
            auth::middleware::authenticate,
        ))
        .wrap(panic::CatchPanic)
        .wrap(Compress::default())
        .wrap(NormalizePath::new(TrailingSlash::Trim))
        .wrap(
            actix_web::middleware::Logger::new("%a \"%r\" %s %b %Dms")
                .log_target("tuilerie::access"),
        )
        .configure(routes)
        .configure(tiles::routes)
        .configure(wms::routes)
        .configure(viewer::routes)
        .default_service(web::to(|req: actix_web::HttpRequest| async move {
            let path = req.path().to_string();
            ApiError::not_found(format!("no resource at {path}")).into_response()
        }))
}
