//! Real STAC items from `../shared/data/stac` (Sentinel-2, Sentinel-1, Landsat,
//! Pléiades, thematic products, spec examples) ingest and come back with
//! geometry, properties and assets unchanged. Skipped, saying so, when
//! `../shared` is absent.

mod common;

use common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tuilerie::catalog::href::Base;
use tuilerie::catalog::ingest::{IngestOptions, Silent, ingest};
use tuilerie::catalog::{
    ItemContext, Scope, SharedCatalog, WriteMode, parse_collection, parse_item,
};

fn shared_stac() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/stac");
    dir.is_dir().then_some(dir)
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// Every JSON value in a file: one document, or one per line.
fn documents(path: &Path) -> Vec<Value> {
    let name = path.to_string_lossy();
    let text = if name.ends_with(".gz") {
        let mut s = String::new();
        use std::io::Read;
        flate2::read::MultiGzDecoder::new(std::fs::File::open(path).unwrap())
            .read_to_string(&mut s)
            .unwrap();
        s
    } else if name.ends_with(".json") || name.ends_with(".geojson") || name.ends_with(".ndjson") {
        std::fs::read_to_string(path).unwrap()
    } else {
        return Vec::new();
    };
    if name.contains(".ndjson") {
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    } else {
        match serde_json::from_str::<Value>(&text) {
            Ok(Value::Object(m))
                if m.get("type") == Some(&Value::String("FeatureCollection".into())) =>
            {
                m.get("features")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default()
            }
            Ok(v) => vec![v],
            Err(_) => Vec::new(),
        }
    }
}

fn is_stac_item(v: &Value) -> bool {
    v.get("type") == Some(&Value::String("Feature".into())) && v.get("stac_version").is_some()
}

fn stub_collection(id: &str) -> String {
    serde_json::json!({
        "type": "Collection", "stac_version": "1.1.0", "id": id, "description": "stub for real items",
        "license": "other", "extent": {"spatial": {"bbox": [[-180, -90, 180, 90]]},
        "temporal": {"interval": [[null, null]]}}, "links": []
    })
    .to_string()
}

/// The file name an href ends with.
fn last_segment(href: &str) -> &str {
    href.rsplit('/').next().unwrap_or(href)
}

#[actix_web::test]
async fn real_items_round_trip_unchanged() {
    let Some(dir) = shared_stac() else {
        eprintln!("SKIPPED real_items_round_trip_unchanged: ../shared/data/stac is absent");
        return;
    };
    let mut all = Vec::new();
    files(&dir, &mut all);
    all.sort();

    let tmp = tempfile::tempdir().unwrap();
    let db = fresh_db(tmp.path(), "real.db");
    let catalog: SharedCatalog = open_db(&db).await;

    // Items by (collection, id), the last one read winning, with where they came from.
    let mut expected: BTreeMap<(String, String), (Value, PathBuf)> = BTreeMap::new();
    let mut collections_needed = std::collections::BTreeSet::new();
    for path in &all {
        for doc in documents(path) {
            if doc.get("type") == Some(&Value::String("Collection".into())) {
                if let Ok(c) = parse_collection(&doc.to_string(), Some(&Base::File(path.clone()))) {
                    catalog.put_collection(c, WriteMode::Upsert).await.unwrap();
                }
            } else if is_stac_item(&doc) {
                let collection = doc["collection"].as_str().unwrap_or("orphans").to_string();
                collections_needed.insert(collection.clone());
                let id = doc["id"].as_str().unwrap().to_string();
                expected.insert((collection, id), (doc, path.clone()));
            }
        }
    }
    for id in &collections_needed {
        if catalog.collection(&Scope::All, id).await.unwrap().is_none() {
            let c = parse_collection(&stub_collection(id), None).unwrap();
            catalog.put_collection(c, WriteMode::Create).await.unwrap();
        }
    }
    let mut docs = Vec::new();
    for (doc, path) in expected.values() {
        let ctx = ItemContext {
            base: Some(Base::File(path.clone())),
            default_collection: Some("orphans".into()),
            force_collection: None,
        };
        let parsed = parse_item(&doc.to_string(), &ctx)
            .unwrap_or_else(|e| panic!("{} {}: {e}", path.display(), doc["id"]));
        docs.push(parsed);
    }
    assert!(
        docs.len() > 1000,
        "the shared data holds > 1000 real items, found {}",
        docs.len()
    );
    for chunk in docs.chunks(500) {
        catalog
            .put_items(chunk.to_vec(), WriteMode::Upsert)
            .await
            .unwrap();
    }
    drop(catalog);

    let app = app(db, config(false)).await;
    let mut checked = 0;
    for ((collection, id), (original, _)) in &expected {
        let uri = format!(
            "/collections/{}/items/{}",
            tuilerie::api::links::segment(collection),
            tuilerie::api::links::segment(id)
        );
        let r = get(&app, &uri).await;
        assert_eq!(r.status, 200, "{uri}: {}", r.text());
        let back = r.json();
        assert_eq!(back["geometry"], original["geometry"], "geometry of {id}");
        assert_eq!(
            back["properties"], original["properties"],
            "properties of {id}"
        );
        let (a, b) = (
            original["assets"].as_object().unwrap(),
            back["assets"].as_object().unwrap(),
        );
        assert_eq!(
            a.keys().collect::<Vec<_>>(),
            b.keys().collect::<Vec<_>>(),
            "asset keys of {id}"
        );
        for (key, asset) in a {
            let (mut want, mut got) = (asset.clone(), b[key].clone());
            let href = asset["href"].as_str().unwrap();
            let got_href = got["href"].as_str().unwrap().to_string();
            if tuilerie::catalog::href::is_absolute(href) {
                assert_eq!(got_href, href, "{id}/{key}");
            } else {
                // Relative hrefs are made absolute against the file they came from.
                assert!(
                    tuilerie::catalog::href::is_absolute(&got_href),
                    "{id}/{key}: {got_href}"
                );
                assert_eq!(last_segment(&got_href), last_segment(href), "{id}/{key}");
            }
            want.as_object_mut().unwrap().remove("href");
            got.as_object_mut().unwrap().remove("href");
            assert_eq!(got, want, "asset {key} of {id}");
        }
        checked += 1;
    }
    eprintln!("{checked} real items round-tripped");

    // And the ingest command line accepts the whole tree (collections first),
    // rejecting only what is not a STAC item of an existing collection.
    let tmp2 = tempfile::tempdir().unwrap();
    let db2 = fresh_db(tmp2.path(), "cli.db");
    let (report, rejected_ids) = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        let catalog: SharedCatalog = rt.block_on(open_db(&db2));
        let report = ingest(
            &catalog,
            rt.handle(),
            &[dir.display().to_string()],
            &IngestOptions::default(),
            &Silent,
        )
        .unwrap();
        let ids: Vec<String> = report.rejections.iter().map(|r| r.reason.clone()).collect();
        (report, ids)
    })
    .join()
    .unwrap();
    assert!(report.items.inserted > 1000, "{report:?}");
    for reason in rejected_ids {
        assert!(
            reason.contains("does not exist")
                || reason.contains("stac_version")
                || reason.contains("names no collection")
                || reason.contains("document type"),
            "unexpected rejection: {reason}"
        );
    }
}
