//! Shared fixtures: a real store with the shipped collections and the demo
//! items, and the real actix application over it.
//!
//! The store is SQLite by default. With `TUILERIE_TEST_POSTGRES` set to a
//! PostgreSQL URL (a cluster with PostGIS in `template1`; `scripts/test` starts
//! one), the same suites run against the PostgreSQL store instead: every
//! store a test makes is then a fresh database of that cluster. That holds
//! for every suite that reads a catalogue — the STAC, access and write suites
//! and the raster, WMS and demo-tile suites alike: they make their stores
//! with [`fresh_db`] (or the shared [`demo_db`] / [`raster_demo`] fixtures)
//! and open them with [`open_db`], never with a store's own constructor.
//! The one exception is [`demo_sqlite_db`], for a test of the embedded
//! store's own query planning.

#![allow(dead_code)]

use actix_web::dev::{Service, ServiceResponse};
use actix_web::{test, web};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use tuilerie::api::{self, AppState};
use tuilerie::catalog::ingest::{IngestOptions, Silent, ingest};
use tuilerie::catalog::{SharedCatalog, StoreOptions, shipped};
use tuilerie::config::Config;

/// The PostgreSQL cluster the suites run against, when one is given.
pub fn postgres() -> Option<String> {
    std::env::var("TUILERIE_TEST_POSTGRES")
        .ok()
        .filter(|u| !u.trim().is_empty())
}

/// A store for a test: what `--store` takes (an SQLite path or a URL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Db(String);

impl Db {
    /// The `--store` value.
    pub fn spec(&self) -> &str {
        &self.0
    }

    /// True for a PostgreSQL database.
    pub fn is_postgres(&self) -> bool {
        tuilerie::catalog::is_postgres(&self.0)
    }
}

impl From<PathBuf> for Db {
    fn from(p: PathBuf) -> Db {
        Db(p.display().to_string())
    }
}

impl From<&PathBuf> for Db {
    fn from(p: &PathBuf) -> Db {
        Db(p.display().to_string())
    }
}

impl From<&Path> for Db {
    fn from(p: &Path) -> Db {
        Db(p.display().to_string())
    }
}

impl From<&Db> for Db {
    fn from(d: &Db) -> Db {
        d.clone()
    }
}

/// Runs a future to completion on a runtime of its own thread (callers may
/// be inside an async runtime).
fn block_on<T: Send + 'static>(f: impl std::future::Future<Output = T> + Send + 'static) -> T {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    })
    .join()
    .expect("the store set-up thread panicked")
}

/// An empty store: `dir/name` for SQLite, a fresh database on PostgreSQL.
pub fn fresh_db(dir: &Path, name: &str) -> Db {
    match postgres() {
        Some(admin) => {
            static N: AtomicUsize = AtomicUsize::new(0);
            let db = format!(
                "tuilerie_t{}_{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            );
            let url =
                block_on(
                    async move { tuilerie::catalog::postgres::create_database(&admin, &db).await },
                )
                .unwrap_or_else(|e| {
                    panic!(
                        "TUILERIE_TEST_POSTGRES is set but the test database cannot be created: {e}"
                    )
                });
            Db(url)
        }
        None => Db::from(dir.join(name)),
    }
}

/// Opens a store (migrating it).
pub async fn open_db(db: &Db) -> SharedCatalog {
    tuilerie::catalog::open(db.spec(), &StoreOptions::default())
        .await
        .unwrap_or_else(|e| panic!("cannot open {}: {e}", db.spec()))
}

/// Opens a store whose searches always count their matches exactly
/// (`store.count = exact`; by default, `auto` may leave counts out).
pub async fn open_db_counting(db: &Db) -> SharedCatalog {
    let mut options = StoreOptions::default();
    options.sqlite.count = tuilerie::catalog::sqlite::CountPolicy::Exact;
    options.postgres.count = tuilerie::catalog::sqlite::CountPolicy::Exact;
    tuilerie::catalog::open(db.spec(), &options)
        .await
        .unwrap_or_else(|e| panic!("cannot open {}: {e}", db.spec()))
}

pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";

/// The demo's published key of a scientist whose organisation signed the
/// charter: sees every collection, restricted ones included. Suites about
/// STAC, tiles or WMS behaviour over the whole catalogue call as this user;
/// access control itself is tested in tests/access.rs.
pub const SCIENTIST: &str = "tui_demoscience0_DemoScientistKeyForTryingTuileri";

/// The demo's key of a member of an organisation without a signed charter:
/// sees open data only.
pub const VISITOR: &str = "tui_demovisitor0_DemoVisitorKeyOpenDataOnlyTuiler";

/// A directory that lives as long as the test binary.
fn fixture_dir() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("tempdir"))
        .path()
}

/// Opens the store at `db` with the shipped collections installed, and
/// ingests `inputs` (files of collections and items) into it, none rejected.
pub fn load_store(rt: &tokio::runtime::Runtime, db: &Db, inputs: &[String]) -> SharedCatalog {
    let catalog: SharedCatalog = rt.block_on(open_db(db));
    let files = shipped::read(None).unwrap();
    rt.block_on(shipped::install(&catalog, &files)).unwrap();
    let report = ingest(
        &catalog,
        rt.handle(),
        inputs,
        &IngestOptions::default(),
        &Silent,
    )
    .unwrap();
    assert_eq!(report.rejected, 0, "{:?}", report.rejections);
    catalog
}

/// Builds a store with the shipped collections and the demo items at `db`
/// (on its own thread: callers may be inside an async runtime).
pub fn build_demo_store(db: impl Into<Db>, demo_dir: &Path) {
    let (db, demo_dir) = (db.into(), demo_dir.to_path_buf());
    std::thread::spawn(move || build_demo_store_blocking(&db, &demo_dir))
        .join()
        .expect("building the demo store failed");
}

fn build_demo_store_blocking(db: &Db, demo_dir: &Path) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let inputs: Vec<String> = tuilerie::demo::write(demo_dir)
        .unwrap()
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let catalog = load_store(&rt, db, &inputs);
    // The demo's accounts and published keys (SCIENTIST sees every collection).
    rt.block_on(tuilerie::cli::accounts::demo_accounts(&catalog))
        .unwrap();
    drop(catalog);
    rt.shutdown_background();
}

/// The demo store, built once per test binary (read-only use).
pub fn demo_db() -> Db {
    static DB: OnceLock<Db> = OnceLock::new();
    DB.get_or_init(|| {
        let dir = fixture_dir().join("demo");
        std::fs::create_dir_all(&dir).unwrap();
        let db = fresh_db(&dir, "tuilerie.db");
        build_demo_store(&db, &dir);
        db
    })
    .clone()
}

/// The demo store in SQLite whatever the suite's store (for tests of the
/// embedded store's own planning).
pub fn demo_sqlite_db() -> PathBuf {
    if postgres().is_none() {
        return PathBuf::from(demo_db().spec());
    }
    static DB: OnceLock<PathBuf> = OnceLock::new();
    DB.get_or_init(|| {
        let dir = fixture_dir().join("demo-sqlite");
        let db = dir.join("tuilerie.db");
        build_demo_store(&db, &dir);
        db
    })
    .clone()
}

/// A private demo store, for tests that write.
pub fn demo_copy() -> (tempfile::TempDir, Db) {
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_db(dir.path(), "tuilerie.db");
    build_demo_store(&db, dir.path());
    (dir, db)
}

/// Configuration for tests: transactions on when `admin` is true.
pub fn config(admin: bool) -> Config {
    let mut c = Config::default();
    if admin {
        c.auth.admin_token = Some(ADMIN_TOKEN.into());
    }
    c.server.max_body_bytes = 1024 * 1024;
    c
}

/// The application over a store.
pub async fn app(
    db: impl Into<Db>,
    config: Config,
) -> impl Service<
    actix_http::Request,
    Response = ServiceResponse<impl actix_web::body::MessageBody>,
    Error = actix_web::Error,
> {
    let state = web::Data::new(AppState::new(open_db(&db.into()).await, config));
    test::init_service(api::app(state)).await
}

/// A response: status, content type, body.
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub headers: actix_web::http::header::HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Asserts a 4xx with a STAC error body naming `needle`.
    pub fn assert_error(&self, status: u16, needle: &str) {
        let text = self.text();
        assert_eq!(
            self.status,
            status,
            "expected {status} mentioning '{needle}': {}",
            &text[..text.len().min(400)]
        );
        let v = self.json();
        assert!(v["code"].is_string(), "no code in {v}");
        let d = v["description"].as_str().unwrap_or("");
        assert!(
            d.to_lowercase().contains(&needle.to_lowercase()),
            "'{d}' should mention '{needle}'"
        );
    }
}

pub async fn call<S, B>(app: &S, req: actix_http::Request) -> Reply
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: actix_web::body::MessageBody,
{
    let res = test::call_service(app, req).await;
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = test::read_body(res).await.to_vec();
    Reply {
        status,
        content_type,
        headers,
        body,
    }
}

pub async fn get<S, B>(app: &S, uri: &str) -> Reply
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: actix_web::body::MessageBody,
{
    call(app, test::TestRequest::get().uri(uri).to_request()).await
}

pub async fn post<S, B>(app: &S, uri: &str, body: &Value) -> Reply
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: actix_web::body::MessageBody,
{
    call(
        app,
        test::TestRequest::post()
            .uri(uri)
            .set_json(body)
            .to_request(),
    )
    .await
}

/// The path and query of an absolute href, for following links in-process.
pub fn local(href: &str) -> String {
    let url = url::Url::parse(href).unwrap();
    match url.query() {
        Some(q) => format!("{}?{}", url.path(), q),
        None => url.path().to_string(),
    }
}

/// The `rel=next` link of a page, if any.
pub fn next_link(page: &Value) -> Option<Value> {
    page["links"]
        .as_array()?
        .iter()
        .find(|l| l["rel"] == "next")
        .cloned()
}

/// Ids of a page's features.
pub fn ids(page: &Value) -> Vec<String> {
    page["features"]
        .as_array()
        .map(|f| {
            f.iter()
                .map(|i| i["id"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// Every demo item as JSON, as the shared demo store was loaded with.
pub fn demo_items() -> Vec<Value> {
    demo_db();
    let root = std::path::absolute(fixture_dir().join("demo")).unwrap();
    tuilerie::demo::items(&root)
        .into_iter()
        .flat_map(|(_, v)| v)
        .collect()
}

/// WGS84 bounds of a raster (`[w, s, e, n]`).
pub fn wgs84_bounds(path: &Path) -> [f64; 4] {
    use gdal::spatial_ref::{AxisMappingStrategy, CoordTransform, SpatialRef};
    let ds = gdal::Dataset::open(path).unwrap();
    let g = ds.geo_transform().unwrap();
    let (w, h) = ds.raster_size();
    let b = [g[0], g[3] + g[5] * h as f64, g[0] + g[1] * w as f64, g[3]];
    let mut from = ds.spatial_ref().unwrap();
    from.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    let mut to = SpatialRef::from_epsg(4326).unwrap();
    to.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    CoordTransform::new(&from, &to)
        .unwrap()
        .transform_bounds(&b, 21)
        .unwrap()
}

/// The demo store with (smaller, same-resolution) demo rasters beside it.
pub struct RasterDemo {
    /// The directory holding the store and the rasters.
    pub dir: tempfile::TempDir,
    /// The store.
    pub db: Db,
}

/// The demo store and demo rasters at 0.3 of their extent, once per test binary.
pub fn raster_demo() -> &'static RasterDemo {
    static D: OnceLock<RasterDemo> = OnceLock::new();
    D.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let db = fresh_db(dir.path(), "tuilerie.db");
        build_demo_store(&db, dir.path());
        tuilerie::demo::write_rasters_scaled(dir.path(), 0.3).unwrap();
        RasterDemo { dir, db }
    })
}

/// A GET with a bearer token.
pub async fn get_as<S, B>(app: &S, uri: &str, token: &str) -> Reply
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: actix_web::body::MessageBody,
{
    call(
        app,
        test::TestRequest::get()
            .uri(uri)
            .insert_header(("Authorization", format!("Bearer {token}")))
            .to_request(),
    )
    .await
}

/// A POST of JSON with a bearer token.
pub async fn post_as<S, B>(app: &S, uri: &str, body: &Value, token: &str) -> Reply
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: actix_web::body::MessageBody,
{
    call(
        app,
        test::TestRequest::post()
            .uri(uri)
            .insert_header(("Authorization", format!("Bearer {token}")))
            .set_json(body)
            .to_request(),
    )
    .await
}
