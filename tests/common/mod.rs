//! Shared fixtures: a real SQLite store with the shipped collections and the
//! demo items, and the real actix application over it.

#![allow(dead_code)]

use actix_web::dev::{Service, ServiceResponse};
use actix_web::{test, web};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use tuilerie::api::{self, AppState};
use tuilerie::catalog::ingest::{IngestOptions, Silent, ingest};
use tuilerie::catalog::sqlite::{SqliteCatalog, SqliteOptions};
use tuilerie::catalog::{SharedCatalog, shipped};
use tuilerie::config::Config;

pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";

/// A directory that lives as long as the test binary.
fn fixture_dir() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("tempdir"))
        .path()
}

/// Builds a store with the shipped collections and the demo items at `db`
/// (on its own thread: callers may be inside an async runtime).
pub fn build_demo_store(db: &Path, demo_dir: &Path) {
    let (db, demo_dir) = (db.to_path_buf(), demo_dir.to_path_buf());
    std::thread::spawn(move || build_demo_store_blocking(&db, &demo_dir))
        .join()
        .expect("building the demo store failed");
}

fn build_demo_store_blocking(db: &Path, demo_dir: &Path) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let catalog: SharedCatalog =
        Arc::new(SqliteCatalog::open(db, SqliteOptions::default()).unwrap());
    let files = shipped::read(None).unwrap();
    rt.block_on(shipped::install(&catalog, &files)).unwrap();
    let inputs: Vec<String> = tuilerie::demo::write(demo_dir)
        .unwrap()
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let report = ingest(
        &catalog,
        rt.handle(),
        &inputs,
        &IngestOptions::default(),
        &Silent,
    )
    .unwrap();
    assert_eq!(report.rejected, 0, "{:?}", report.rejections);
    drop(catalog);
    rt.shutdown_background();
}

/// The demo store, built once per test binary (read-only use).
pub fn demo_db() -> PathBuf {
    static DB: OnceLock<PathBuf> = OnceLock::new();
    DB.get_or_init(|| {
        let dir = fixture_dir().join("demo");
        let db = dir.join("tuilerie.db");
        build_demo_store(&db, &dir);
        db
    })
    .clone()
}

/// A private demo store, for tests that write.
pub fn demo_copy() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("tuilerie.db");
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

/// Opens a store for the app.
pub fn open(db: &Path) -> SharedCatalog {
    Arc::new(SqliteCatalog::open(db, SqliteOptions::default()).unwrap())
}

/// The application over a store.
pub async fn app(
    db: PathBuf,
    config: Config,
) -> impl Service<
    actix_http::Request,
    Response = ServiceResponse<impl actix_web::body::MessageBody>,
    Error = actix_web::Error,
> {
    let state = web::Data::new(AppState::new(open(&db), config));
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
