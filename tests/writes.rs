//! Writes: the Transactions extension, visibility scopes, keyset paging while
//! items are inserted, idempotent and crash-safe ingest.

mod common;

use actix_web::test::TestRequest;
use common::*;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tuilerie::catalog::{CollectionQuery, Scope, SearchQuery};

fn auth() -> (&'static str, String) {
    ("Authorization", format!("Bearer {ADMIN_TOKEN}"))
}

fn collection(id: &str) -> Value {
    json!({
        "type": "Collection", "stac_version": "1.1.0", "id": id,
        "description": "A test collection", "license": "CC-BY-4.0",
        "extent": {"spatial": {"bbox": [[-5, 41, 10, 51]]}, "temporal": {"interval": [["2020-01-01T00:00:00Z", null]]}},
        "links": []
    })
}

fn item(collection: &str, id: &str, datetime: &str, x: f64) -> Value {
    json!({
        "type": "Feature", "stac_version": "1.1.0", "id": id, "collection": collection,
        "geometry": {"type": "Polygon", "coordinates": [[[x, 43.0], [x + 0.1, 43.0], [x + 0.1, 43.1], [x, 43.1], [x, 43.0]]]},
        "properties": {"datetime": datetime, "eo:cloud_cover": 12.5},
        "assets": {"data": {"href": "https://example.org/data.tif", "roles": ["data"]}},
        "links": []
    })
}

#[actix_web::test]
async fn transactions_are_off_without_a_token() {
    let app = app(demo_db(), config(false)).await;
    let r = call(
        &app,
        TestRequest::post()
            .uri("/collections")
            .set_json(collection("x"))
            .to_request(),
    )
    .await;
    r.assert_error(405, "not allowed");
    let r = call(
        &app,
        TestRequest::delete()
            .uri("/collections/lai/items/x")
            .to_request(),
    )
    .await;
    r.assert_error(405, "not allowed");
}

#[actix_web::test]
async fn transactions_create_replace_patch_delete() {
    let (_dir, db) = demo_copy();
    let app = app(db, config(true)).await;

    // Without or with a wrong token: 401.
    let r = call(
        &app,
        TestRequest::post()
            .uri("/collections")
            .set_json(collection("test"))
            .to_request(),
    )
    .await;
    r.assert_error(401, "token");
    let r = call(
        &app,
        TestRequest::post()
            .uri("/collections")
            .insert_header(("Authorization", "Bearer nope"))
            .set_json(collection("test"))
            .to_request(),
    )
    .await;
    r.assert_error(401, "invalid credentials");

    // Collection: create, conflict, replace, patch.
    let r = call(
        &app,
        TestRequest::post()
            .uri("/collections")
            .insert_header(auth())
            .set_json(collection("test"))
            .to_request(),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert!(
        r.headers
            .get("location")
            .unwrap()
            .to_str()
            .unwrap()
            .ends_with("/collections/test")
    );
    let r = call(
        &app,
        TestRequest::post()
            .uri("/collections")
            .insert_header(auth())
            .set_json(collection("test"))
            .to_request(),
    )
    .await;
    r.assert_error(409, "exists");
    let mut changed = collection("test");
    changed["description"] = json!("Replaced");
    let r = call(
        &app,
        TestRequest::put()
            .uri("/collections/test")
            .insert_header(auth())
            .set_json(&changed)
            .to_request(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        get(&app, "/collections/test").await.json()["description"],
        "Replaced"
    );
    let r = call(
        &app,
        TestRequest::patch()
            .uri("/collections/test")
            .insert_header(auth())
            .set_json(json!({"title": "Patched"}))
            .to_request(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let c = get(&app, "/collections/test").await.json();
    assert_eq!(
        (c["title"].as_str(), c["description"].as_str()),
        (Some("Patched"), Some("Replaced"))
    );
    let r = call(
        &app,
        TestRequest::put()
            .uri("/collections/other")
            .insert_header(auth())
            .set_json(collection("test"))
            .to_request(),
    )
    .await;
    r.assert_error(400, "does not match");
    let r = call(
        &app,
        TestRequest::put()
            .uri("/collections/nope")
            .insert_header(auth())
            .set_json(collection("nope"))
            .to_request(),
    )
    .await;
    r.assert_error(404, "nope");

    // Items: create (single and FeatureCollection), conflict, replace, patch, delete.
    let one = item("test", "a", "2024-01-01T00:00:00Z", 1.0);
    let r = call(
        &app,
        TestRequest::post()
            .uri("/collections/test/items")
            .insert_header(auth())
            .set_json(&one)
            .to_request(),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["properties"]["eo:cloud_cover"], 12.5);
    let r = call(
        &app,
        TestRequest::post()
            .uri("/collections/test/items")
            .insert_header(auth())
            .set_json(&one)
            .to_request(),
    )
    .await;
    r.assert_error(409, "already exists");
    // Free text of any size is stored (a word too long for PostgreSQL's
    // text index is left out of it) and found by its other words.
    let mut long = item("test", "long-title", "2024-01-01T00:00:00Z", 5.0);
    long["properties"]["title"] = json!(format!("hapax {} legomenon", "x".repeat(3000)));
    let r = call(
        &app,
        TestRequest::post()
            .uri("/collections/test/items")
            .insert_header(auth())
            .set_json(&long)
            .to_request(),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let found = get(&app, "/search?collections=test&q=legomenon")
        .await
        .json();
    let ids: Vec<&str> = found["features"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["id"].as_str())
        .collect();
    assert_eq!(ids, ["long-title"]);
    let r = call(
        &app,
        TestRequest::delete()
            .uri("/collections/test/items/long-title")
            .insert_header(auth())
            .to_request(),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.text());
    let fc = json!({"type": "FeatureCollection", "features": [
        item("test", "b", "2024-01-02T00:00:00Z", 2.0), item("test", "c", "2024-01-03T00:00:00Z", 3.0)]});
    let r = call(
        &app,
        TestRequest::post()
            .uri("/collections/test/items")
            .insert_header(auth())
            .set_json(&fc)
            .to_request(),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(
        get(&app, "/collections/test/items").await.json()["numberMatched"],
        3
    );
    // A FeatureCollection with one bad item writes nothing.
    let bad = json!({"type": "FeatureCollection", "features": [
        item("test", "d", "2024-01-04T00:00:00Z", 4.0), item("test", "e", "not a date", 5.0)]});
    let r = call(
        &app,
        TestRequest::post()
            .uri("/collections/test/items")
            .insert_header(auth())
            .set_json(&bad)
            .to_request(),
    )
    .await;
    r.assert_error(400, "features[1]");
    assert_eq!(
        get(&app, "/collections/test/items").await.json()["numberMatched"],
        3
    );
    let etag_before = get(&app, "/collections/test/items/a")
        .await
        .headers
        .get("etag")
        .cloned();
    let mut replaced = one.clone();
    replaced["properties"]["eo:cloud_cover"] = json!(99);
    let r = call(
        &app,
        TestRequest::put()
            .uri("/collections/test/items/a")
            .insert_header(auth())
            .set_json(&replaced)
            .to_request(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let after = get(&app, "/collections/test/items/a").await;
    assert_eq!(after.json()["properties"]["eo:cloud_cover"], 99);
    assert_ne!(
        after.headers.get("etag").cloned(),
        etag_before,
        "a write changes the ETag"
    );
    let r = call(
        &app,
        TestRequest::patch()
            .uri("/collections/test/items/a")
            .insert_header(auth())
            .set_json(json!({"properties": {"eo:cloud_cover": null, "platform": "x"}}))
            .to_request(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let v = get(&app, "/collections/test/items/a").await.json();
    assert!(v["properties"].get("eo:cloud_cover").is_none());
    assert_eq!(v["properties"]["platform"], "x");
    assert_eq!(v["properties"]["datetime"], "2024-01-01T00:00:00Z");
    let r = call(
        &app,
        TestRequest::put()
            .uri("/collections/test/items/zz")
            .insert_header(auth())
            .set_json(item("test", "zz", "2024-01-01T00:00:00Z", 1.0))
            .to_request(),
    )
    .await;
    r.assert_error(404, "zz");
    let r = call(
        &app,
        TestRequest::put()
            .uri("/collections/test/items/a")
            .insert_header(auth())
            .set_json(item("test", "b", "2024-01-01T00:00:00Z", 1.0))
            .to_request(),
    )
    .await;
    r.assert_error(400, "does not match");
    let r = call(
        &app,
        TestRequest::post()
            .uri("/collections/test/items")
            .insert_header(auth())
            .set_json(item("lai", "q", "2024-01-01T00:00:00Z", 1.0))
            .to_request(),
    )
    .await;
    r.assert_error(400, "does not match");
    let r = call(
        &app,
        TestRequest::delete()
            .uri("/collections/test/items/a")
            .insert_header(auth())
            .to_request(),
    )
    .await;
    assert_eq!(r.status, 204);
    get(&app, "/collections/test/items/a")
        .await
        .assert_error(404, "'a'");
    let r = call(
        &app,
        TestRequest::delete()
            .uri("/collections/test/items/a")
            .insert_header(auth())
            .to_request(),
    )
    .await;
    r.assert_error(404, "'a'");
    // Deleting the collection deletes its items.
    let r = call(
        &app,
        TestRequest::delete()
            .uri("/collections/test")
            .insert_header(auth())
            .to_request(),
    )
    .await;
    assert_eq!(r.status, 204);
    get(&app, "/collections/test")
        .await
        .assert_error(404, "test");
    let v = post(&app, "/search", &json!({"ids": ["b", "c"]}))
        .await
        .json();
    assert_eq!(v["numberMatched"], 0);
}

#[actix_web::test]
async fn restricted_collections_do_not_exist_for_others() {
    let (_dir, db) = demo_copy();
    let app = app(db, config(true)).await;
    let mut c = collection("restricted-test-collection");
    c["tuilerie:access"] = json!({"policy": "restricted", "roles": ["private-rd"]});
    let r = call(
        &app,
        TestRequest::post()
            .uri("/collections")
            .insert_header(auth())
            .set_json(&c)
            .to_request(),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let r = call(
        &app,
        TestRequest::post()
            .uri("/collections/restricted-test-collection/items")
            .insert_header(auth())
            .set_json(item(
                "restricted-test-collection",
                "secret",
                "2024-01-01T00:00:00Z",
                1.0,
            ))
            .to_request(),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());

    // Anonymous: nothing of it anywhere, counts included.
    get(&app, "/collections/restricted-test-collection")
        .await
        .assert_error(404, "restricted-test-collection");
    get(&app, "/collections/restricted-test-collection/items")
        .await
        .assert_error(404, "restricted-test-collection");
    get(&app, "/collections/restricted-test-collection/items/secret")
        .await
        .assert_error(404, "restricted-test-collection");
    get(&app, "/collections/restricted-test-collection/queryables")
        .await
        .assert_error(404, "restricted-test-collection");
    let all = get(&app, "/collections").await.json();
    assert!(!all.to_string().contains("restricted-test-collection"));
    assert!(
        !get(&app, "/")
            .await
            .text()
            .contains("restricted-test-collection")
    );
    let v = post(&app, "/search", &json!({"ids": ["secret"]}))
        .await
        .json();
    assert_eq!(v["numberMatched"], 0);
    let v = post(
        &app,
        "/search",
        &json!({"collections": ["restricted-test-collection"]}),
    )
    .await
    .json();
    assert_eq!(v["numberMatched"], 0);
    // The demo's scientist sees every shipped collection, not this one (private-rd only).
    let scientist_total = get_as(&app, "/search?limit=1", SCIENTIST).await.json()["numberMatched"]
        .as_u64()
        .unwrap();

    // The administrator sees it.
    let r = call(
        &app,
        TestRequest::get()
            .uri("/collections/restricted-test-collection/items/secret")
            .insert_header(auth())
            .to_request(),
    )
    .await;
    assert_eq!(r.status, 200);
    let r = call(
        &app,
        TestRequest::get()
            .uri("/search?limit=1")
            .insert_header(auth())
            .to_request(),
    )
    .await;
    assert_eq!(
        r.json()["numberMatched"].as_u64().unwrap(),
        scientist_total + 1
    );
}

#[actix_web::test]
async fn keyset_pages_stay_correct_while_items_are_inserted() {
    let (_dir, db) = demo_copy();
    let app = app(db.clone(), config(true)).await;
    let first = get(&app, "/collections/tropisco/items?limit=50")
        .await
        .json();
    let mut seen: Vec<String> = ids(&first);
    let original = first["numberMatched"].as_u64().unwrap() as usize;
    // Insert items that sort before, after and in the middle of the first page.
    for (n, when) in [
        "2030-01-01T00:00:00Z",
        "2000-01-01T00:00:00Z",
        "2023-06-15T00:00:00Z",
    ]
    .iter()
    .enumerate()
    {
        let it = item("tropisco", &format!("NEW_{n}"), when, -53.0);
        let r = call(
            &app,
            TestRequest::post()
                .uri("/collections/tropisco/items")
                .insert_header(auth())
                .set_json(&it)
                .to_request(),
        )
        .await;
        assert_eq!(r.status, 201, "{}", r.text());
    }
    let mut next = next_link(&first);
    while let Some(link) = next {
        let page = get(&app, &local(link["href"].as_str().unwrap()))
            .await
            .json();
        seen.extend(ids(&page));
        next = next_link(&page);
    }
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no item twice");
    let originals = seen.iter().filter(|id| !id.starts_with("NEW_")).count();
    assert_eq!(originals, original, "no original item skipped");
    // Items inserted after the cursor's position show up; those before do not.
    assert!(seen.contains(&"NEW_1".to_string()));
    assert!(!seen.contains(&"NEW_0".to_string()));
}

/// Writes `n` items of the demo's `lai` collection shape as ndjson.
fn write_items(path: &std::path::Path, n: usize, bad_every: usize) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    for i in 0..n {
        let mut it = item(
            "biomass",
            &format!("BULK_{i:06}"),
            "2023-01-01T00:00:00Z",
            (i % 100) as f64 * 0.05,
        );
        if bad_every > 0 && i % bad_every == 7 {
            it["properties"]["datetime"] = json!("2023-01-01"); // zone-less: rejected
        }
        serde_json::to_writer(&mut f, &it).unwrap();
        f.write_all(b"\n").unwrap();
    }
    f.flush().unwrap();
}

fn tuilerie(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tuilerie"))
        .args(args)
        .env("TUILERIE_LOG", "warn")
        .output()
        .unwrap()
}

async fn count(db: &Db, collection: &str) -> u64 {
    count_in(&open_db(db).await, collection).await
}

async fn count_in(store: &tuilerie::catalog::SharedCatalog, collection: &str) -> u64 {
    let mut q = SearchQuery::all(1);
    q.collections = vec![collection.into()];
    store
        .search(&Scope::All, &q)
        .await
        .unwrap()
        .number_matched
        .unwrap()
}

#[actix_web::test]
async fn ingest_is_idempotent_and_reports_rejections() {
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_db(dir.path(), "t.db");
    let ndjson = dir.path().join("items.ndjson");
    write_items(&ndjson, 500, 100);
    let store = db.spec().to_string();
    let out = tuilerie(&["ingest", "--store", &store, ndjson.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("495 items (495 new, 0 updated)"), "{err}");
    assert!(err.contains("5 rejected"), "{err}");
    assert!(
        err.contains("items.ndjson:8"),
        "the first bad line is named: {err}"
    );
    assert!(err.contains("RFC 3339"), "{err}");
    let out = tuilerie(&["ingest", "--store", &store, ndjson.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("495 items (0 new, 495 updated)"), "{err}");
    assert_eq!(count(&db, "biomass").await, 495);
    // Nothing valid at all: a failure exit status.
    let junk = dir.path().join("junk.ndjson");
    std::fs::write(&junk, "{\"type\": \"Feature\"}\nnot json\n").unwrap();
    let out = tuilerie(&["ingest", "--store", &store, junk.to_str().unwrap()]);
    assert!(!out.status.success());
}

/// Several writers (`--writers 3`, small batches): every version of an item
/// goes to the same writer in input order, so the last one in the input is
/// the one stored, and the counts are those of a single writer.
#[actix_web::test]
async fn parallel_writers_store_the_last_version_of_each_item() {
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_db(dir.path(), "t.db");
    let store = db.spec().to_string();
    let line = |f: &mut std::io::BufWriter<std::fs::File>, id: &str, cloud: f64| {
        let mut it = item("biomass", id, "2023-01-01T00:00:00Z", 1.0);
        it["properties"]["eo:cloud_cover"] = json!(cloud);
        serde_json::to_writer(&mut *f, &it).unwrap();
        f.write_all(b"\n").unwrap();
    };
    // 400 items already stored (cloud cover 1).
    let first = dir.path().join("first.ndjson");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&first).unwrap());
    for i in 0..400 {
        line(&mut f, &format!("P_{i:04}"), 1.0);
    }
    drop(f);
    let out = tuilerie(&["ingest", "--store", &store, first.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Then: 3,000 new items, a third of them given again later with another
    // cloud cover, and every other stored item of the first half updated,
    // all interleaved.
    let second = dir.path().join("second.ndjson");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&second).unwrap());
    let mut expected = std::collections::HashMap::new();
    for i in 0..3000 {
        line(&mut f, &format!("N_{i:04}"), 10.0);
        expected.insert(format!("N_{i:04}"), 10.0);
        if i % 10 == 5 && i < 2000 {
            let j = i / 10 * 2;
            line(&mut f, &format!("P_{j:04}"), 30.0);
            expected.insert(format!("P_{j:04}"), 30.0);
        }
        if i >= 1000 && i % 3 == 0 {
            let k = i - 1000;
            let cloud = 20.0 + (i % 7) as f64;
            line(&mut f, &format!("N_{k:04}"), cloud);
            expected.insert(format!("N_{k:04}"), cloud);
        }
    }
    drop(f);
    let out = tuilerie(&[
        "ingest",
        "--store",
        &store,
        "--batch",
        "97",
        "--writers",
        "3",
        second.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let updated = 200 + 666; // stored items given again + repeats within the input
    assert!(
        err.contains(&format!("items (3000 new, {updated} updated)")),
        "{err}"
    );
    let catalog = open_db(&db).await;
    assert_eq!(count_in(&catalog, "biomass").await, 3400);
    let mut q = SearchQuery::all(10_000);
    q.collections = vec!["biomass".into()];
    let page = catalog.search(&Scope::All, &q).await.unwrap();
    assert_eq!(page.items.len(), 3400);
    let mut checked = 0;
    for stored in &page.items {
        let v: Value = serde_json::from_str(&stored.to_json("")).unwrap();
        let id = v["id"].as_str().unwrap();
        let want = expected.get(id).copied().unwrap_or(1.0);
        assert_eq!(v["properties"]["eo:cloud_cover"], json!(want), "{id}");
        checked += 1;
    }
    assert_eq!(checked, 3400);
}

#[actix_web::test]
async fn killed_ingest_keeps_committed_batches_whole() {
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_db(dir.path(), "t.db");
    let store = db.spec().to_string();
    // Create the store (and its collections) first.
    assert!(
        tuilerie(&["ingest", "--store", &store, "-"])
            .status
            .code()
            .is_some()
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_tuilerie"))
        .args(["ingest", "--store", &store, "--batch", "100", "-"])
        .env("TUILERIE_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Feed items slowly enough that batches commit, then kill -9 mid-stream.
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        for i in 0..100_000 {
            let it = item(
                "biomass",
                &format!("K_{i:06}"),
                "2023-01-01T00:00:00Z",
                (i % 100) as f64 * 0.05,
            );
            if writeln!(stdin, "{it}").is_err() {
                break;
            }
        }
    });
    // Wait until some batches are committed, then kill while more are coming.
    let started = Instant::now();
    let watcher = open_db(&db).await;
    loop {
        std::thread::sleep(Duration::from_millis(100));
        if count_in(&watcher, "biomass").await >= 300 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the ingest committed nothing in 60 s"
        );
    }
    child.kill().unwrap(); // SIGKILL

    child.wait().unwrap();
    let _ = writer.join();

    // Every stored item is whole: listed, readable, with its footprint indexed.
    let catalog = open_db_counting(&db).await;
    let mut q = SearchQuery::all(10_000);
    q.collections = vec!["biomass".into()];
    let page = catalog.search(&Scope::All, &q).await.unwrap();
    let n = page.number_matched.unwrap();
    assert!((300..100_000).contains(&n), "killed mid-ingest, got {n}");
    assert_eq!(
        n % 100,
        0,
        "only whole batches of 100 are committed, got {n}"
    );
    for stored in &page.items {
        let v: Value = serde_json::from_str(&stored.to_json("")).unwrap();
        assert_eq!(v["properties"]["eo:cloud_cover"], 12.5);
        assert!(v["assets"]["data"].is_object());
    }
    let mut spatial = SearchQuery::all(1);
    spatial.spatial = Some(tuilerie::catalog::query::Spatial::Boxes(vec![
        tuilerie::catalog::geometry::Bounds {
            minx: -1.0,
            miny: 42.0,
            maxx: 10.0,
            maxy: 44.0,
        },
    ]));
    spatial.collections = vec!["biomass".into()];
    let by_box = catalog
        .search(&Scope::All, &spatial)
        .await
        .unwrap()
        .number_matched
        .unwrap();
    assert_eq!(by_box, n, "every committed item is in the spatial index");
    // The collection list is intact too.
    let collections = catalog
        .collections(
            &Scope::All,
            &CollectionQuery {
                limit: 100,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(collections.number_matched, 6);
}

#[actix_web::test]
async fn documents_packed_with_a_dictionary_read_back_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_db(dir.path(), "t.db");
    let store = db.spec().to_string();
    // A first batch large enough to train the collection's dictionary, then
    // more items packed with it; documents written before (demo-sized batches,
    // single writes) stay plain and are covered by the other tests.
    let first = dir.path().join("first.ndjson");
    write_items(&first, 1500, 0);
    assert!(
        tuilerie(&["ingest", "--store", &store, first.to_str().unwrap()])
            .status
            .success()
    );
    let second = dir.path().join("second.ndjson");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&second).unwrap());
    let mut originals = Vec::new();
    for i in 0..1500 {
        let mut it = item(
            "biomass",
            &format!("PACKED_{i:05}"),
            "2023-02-01T00:00:00Z",
            (i % 50) as f64 * 0.1,
        );
        it["assets"]["extra"] = json!({"href": format!("https://example.org/extra/{i}.tif"), "title": format!("Extra ünïcode {i}"), "roles": ["data"]});
        let line = it.to_string();
        writeln!(f, "{line}").unwrap();
        originals.push(serde_json::from_str::<Value>(&line).unwrap());
    }
    f.flush().unwrap();
    drop(f);
    assert!(
        tuilerie(&["ingest", "--store", &store, second.to_str().unwrap()])
            .status
            .success()
    );

    let app = app(db.clone(), config(false)).await;
    for original in originals.iter().step_by(97) {
        let id = original["id"].as_str().unwrap();
        let back = get(&app, &format!("/collections/biomass/items/{id}"))
            .await
            .json();
        for key in [
            "geometry",
            "properties",
            "assets",
            "stac_version",
            "id",
            "collection",
        ] {
            assert_eq!(back[key], original[key], "{key} of {id}");
        }
    }
    // The documents of the training batch read as well.
    let back = get(&app, "/collections/biomass/items/BULK_000042")
        .await
        .json();
    assert_eq!(back["id"], "BULK_000042");
    // And searches return both kinds.
    let v = get(&app, "/collections/biomass/items?limit=3000")
        .await
        .json();
    assert_eq!(v["features"].as_array().unwrap().len(), 3000);
}
