//! The web viewer's routes: the embedded page and its files, its
//! configuration, and `/` sending browsers to it while API clients keep the
//! STAC landing page. (The viewer itself is tested in a real browser by
//! `viewer/test/`, from `scripts/test`.)

mod common;

use actix_web::test::TestRequest;
use common::{app, call, config, demo_db, get};

fn accept(uri: &str, accept: &str) -> actix_http::Request {
    TestRequest::get()
        .uri(uri)
        .insert_header(("accept", accept))
        .to_request()
}

const BROWSER: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

fn header(r: &common::Reply, name: &str) -> String {
    r.headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

#[actix_web::test]
async fn the_page_and_its_files_are_served_from_the_binary() {
    let app = app(demo_db(), config(false)).await;
    let page = get(&app, "/viewer").await;
    assert_eq!(page.status, 200);
    assert_eq!(page.content_type, "text/html; charset=utf-8");
    assert_eq!(header(&page, "cache-control"), "no-cache");
    let html = page.text();
    assert!(
        html.contains(r#"<base href="http://localhost:8080/viewer/">"#),
        "{html}"
    );
    // Every file the page names is there, with its type, cached for good.
    let files: Vec<&str> = html
        .split('"')
        .filter(|s| s.starts_with("assets/"))
        .collect();
    assert!(files.iter().any(|f| f.ends_with(".js")), "{html}");
    assert!(files.iter().any(|f| f.ends_with(".css")), "{html}");
    for file in files {
        let r = get(&app, &format!("/viewer/{file}")).await;
        assert_eq!(r.status, 200, "{file}");
        let expected = if file.ends_with(".js") {
            "text/javascript; charset=utf-8"
        } else {
            "text/css; charset=utf-8"
        };
        assert_eq!(r.content_type, expected, "{file}");
        assert_eq!(
            header(&r, "cache-control"),
            "public, max-age=31536000, immutable"
        );
        assert!(r.body.len() > 1000, "{file}");
        // Revalidation.
        let etag = header(&r, "etag");
        let again = call(
            &app,
            TestRequest::get()
                .uri(&format!("/viewer/{file}"))
                .insert_header(("if-none-match", etag.as_str()))
                .to_request(),
        )
        .await;
        assert_eq!(again.status, 304, "{file}");
    }
    let licenses = get(&app, "/viewer/licenses.txt").await;
    assert_eq!(licenses.status, 200);
    assert!(licenses.text().contains("maplibre-gl"));
    // A trailing slash is the same page.
    assert_eq!(get(&app, "/viewer/").await.status, 200);
    for missing in [
        "/viewer/assets/nope.js",
        "/viewer/../Cargo.toml",
        "/viewer/%2e%2e/Cargo.toml",
    ] {
        assert_eq!(get(&app, missing).await.status, 404, "{missing}");
    }
}

#[actix_web::test]
async fn the_base_url_is_escaped_and_follows_the_public_url() {
    let app = app(demo_db(), config(false)).await;
    let r = call(
        &app,
        TestRequest::get()
            .uri("/viewer")
            .insert_header(("host", "evil\"><script>x"))
            .to_request(),
    )
    .await;
    let html = r.text();
    assert!(!html.contains("\"><script>"), "{html}");
    let mut c = config(false);
    c.server.public_url = Some("https://example.org/stac/".into());
    let app = app_with(c).await;
    let html = get(&app, "/viewer").await.text();
    assert!(html.contains(r#"<base href="https://example.org/stac/viewer/">"#));
    let cfg = get(&app, "/viewer/config.json").await.json();
    assert_eq!(cfg["api"], "https://example.org/stac");
    assert_eq!(
        cfg["wms"],
        "https://example.org/stac/wms?SERVICE=WMS&REQUEST=GetCapabilities"
    );
}

async fn app_with(
    c: tuilerie::config::Config,
) -> impl actix_web::dev::Service<
    actix_http::Request,
    Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
    Error = actix_web::Error,
> {
    app(demo_db(), c).await
}

#[actix_web::test]
async fn the_configuration_reaches_the_page() {
    let app = app(demo_db(), config(false)).await;
    let r = get(&app, "/viewer/config.json").await;
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(
        v["basemap"]["url"],
        "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    );
    assert_eq!(v["basemap"]["max_zoom"], 19);
    assert_eq!(v["api"], "http://localhost:8080");
    assert_eq!(v["center"][0], 2.5);

    let mut c = config(false);
    c.set("viewer.basemap_url", "").unwrap();
    c.set("viewer.center", "-53, 4.5").unwrap();
    c.set("viewer.zoom", "7").unwrap();
    c.validate().unwrap();
    let app = app_with(c).await;
    let v = get(&app, "/viewer/config.json").await.json();
    assert!(v["basemap"].is_null(), "{v}");
    assert_eq!(v["center"], serde_json::json!([-53.0, 4.5]));
    assert_eq!(v["zoom"], 7.0);

    let mut bad = config(false);
    bad.set("viewer.center", "200, 4").unwrap();
    assert!(bad.validate().is_err());
}

#[actix_web::test]
async fn browsers_asking_for_the_root_go_to_the_viewer_api_clients_do_not() {
    let app = app(demo_db(), config(false)).await;
    let r = call(&app, accept("/", BROWSER)).await;
    assert_eq!(r.status, 303);
    assert_eq!(header(&r, "location"), "http://localhost:8080/viewer");
    // Answers depend on Accept, and (as every answer) on the credential.
    assert_eq!(header(&r, "vary"), "Accept, Authorization");

    for client in ["application/json", "*/*", "application/json, text/html"] {
        let r = call(&app, accept("/", client)).await;
        assert_eq!(r.status, 200, "{client}");
        assert!(r.content_type.starts_with("application/json"), "{client}");
        assert_eq!(r.json()["type"], "Catalog");
    }
    let r = get(&app, "/").await;
    assert_eq!(r.status, 200);
    // Answers depend on Accept, and (as every answer) on the credential.
    assert_eq!(header(&r, "vary"), "Accept, Authorization");
    let links = r.json()["links"].as_array().cloned().unwrap_or_default();
    assert!(links.iter().any(|l| l["rel"] == "alternate"
        && l["type"] == "text/html"
        && l["href"] == "http://localhost:8080/viewer"));
    // Only `/` is negotiated: other resources stay JSON for browsers too.
    let r = call(&app, accept("/collections", BROWSER)).await;
    assert_eq!(r.status, 200);
    assert!(r.content_type.starts_with("application/json"));
}

#[actix_web::test]
async fn a_disabled_viewer_is_not_served_nor_redirected_to() {
    let mut c = config(false);
    c.viewer.enabled = false;
    let app = app_with(c).await;
    assert_eq!(get(&app, "/viewer").await.status, 404);
    assert_eq!(get(&app, "/viewer/config.json").await.status, 404);
    let r = call(&app, accept("/", BROWSER)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["type"], "Catalog");
}
