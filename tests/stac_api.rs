//! The STAC API end to end, in-process, over a real SQLite store loaded with
//! the demo items. Expected results are computed here from the items
//! themselves, independently of the store's query code.

mod common;

use common::*;
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashSet};

// These suites look at the whole catalogue, licensed collections included:
// they call as the demo's scientist (access control: tests/access.rs).
async fn get<S, B>(app: &S, uri: &str) -> Reply
where
    S: actix_web::dev::Service<
            actix_http::Request,
            Response = actix_web::dev::ServiceResponse<B>,
            Error = actix_web::Error,
        >,
    B: actix_web::body::MessageBody,
{
    get_as(app, uri, SCIENTIST).await
}

async fn post<S, B>(app: &S, uri: &str, body: &Value) -> Reply
where
    S: actix_web::dev::Service<
            actix_http::Request,
            Response = actix_web::dev::ServiceResponse<B>,
            Error = actix_web::Error,
        >,
    B: actix_web::body::MessageBody,
{
    post_as(app, uri, body, SCIENTIST).await
}

fn t(s: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(s)
        .unwrap()
        .timestamp_micros()
}

/// An item's span `[start, end]` in microseconds.
fn span(item: &Value) -> (i64, i64) {
    let p = &item["properties"];
    match p["datetime"].as_str() {
        Some(d) => {
            let d = t(d);
            (
                p["start_datetime"].as_str().map(t).unwrap_or(d),
                p["end_datetime"].as_str().map(t).unwrap_or(d),
            )
        }
        None => (
            t(p["start_datetime"].as_str().unwrap()),
            t(p["end_datetime"].as_str().unwrap()),
        ),
    }
}

/// The bbox of an item's (polygon) footprint.
fn footprint_bbox(item: &Value) -> [f64; 4] {
    let mut b = [f64::MAX, f64::MAX, f64::MIN, f64::MIN];
    for ring in item["geometry"]["coordinates"].as_array().unwrap() {
        for p in ring.as_array().unwrap() {
            let (x, y) = (p[0].as_f64().unwrap(), p[1].as_f64().unwrap());
            b = [b[0].min(x), b[1].min(y), b[2].max(x), b[3].max(y)];
        }
    }
    b
}

fn boxes_intersect(a: [f64; 4], b: [f64; 4]) -> bool {
    a[0] <= b[2] && a[2] >= b[0] && a[1] <= b[3] && a[3] >= b[1]
}

/// Pages through a search, returning every id in order.
async fn all_pages<S, B>(app: &S, first: &str) -> Vec<String>
where
    S: actix_web::dev::Service<
            actix_http::Request,
            Response = actix_web::dev::ServiceResponse<B>,
            Error = actix_web::Error,
        >,
    B: actix_web::body::MessageBody,
{
    let mut out = Vec::new();
    let mut page = get(app, first).await;
    loop {
        assert_eq!(page.status, 200, "{}", page.text());
        let v = page.json();
        out.extend(ids(&v));
        match next_link(&v) {
            Some(next) => page = get(app, &local(next["href"].as_str().unwrap())).await,
            None => return out,
        }
    }
}

#[actix_web::test]
async fn landing_page_links() {
    let app = app(demo_db(), config(false)).await;
    let r = get(&app, "/").await;
    assert_eq!(r.status, 200);
    assert!(r.content_type.starts_with("application/json"));
    let v = r.json();
    assert_eq!(v["type"], "Catalog");
    let links = v["links"].as_array().unwrap();
    let rel = |name: &str| {
        links
            .iter()
            .filter(|l| l["rel"] == name)
            .cloned()
            .collect::<Vec<_>>()
    };
    for name in [
        "self",
        "root",
        "conformance",
        "data",
        "service-desc",
        "service-doc",
        "http://www.opengis.net/def/rel/ogc/1.0/queryables",
    ] {
        assert_eq!(rel(name).len(), 1, "rel {name}");
    }
    let search = rel("search");
    assert_eq!(search.len(), 2);
    let methods: BTreeSet<&str> = search
        .iter()
        .map(|l| l["method"].as_str().unwrap())
        .collect();
    assert_eq!(methods, BTreeSet::from(["GET", "POST"]));
    assert_eq!(search[0]["href"], search[1]["href"]);
    assert_eq!(rel("child").len(), 6);
    for l in links {
        assert!(
            l["href"].as_str().unwrap().starts_with("http://"),
            "absolute: {l}"
        );
    }
    // service-desc is served with the media type the link advertises.
    let desc = &rel("service-desc")[0];
    let api = get(&app, &local(desc["href"].as_str().unwrap())).await;
    assert_eq!(api.status, 200);
    assert_eq!(api.content_type, desc["type"].as_str().unwrap());
    assert_eq!(api.json()["openapi"], "3.0.3");
    let doc = get(
        &app,
        &local(rel("service-doc")[0]["href"].as_str().unwrap()),
    )
    .await;
    assert!(doc.content_type.starts_with("text/html"));
    assert!(doc.text().contains("/search"));
}

#[actix_web::test]
async fn public_url_is_used_for_links() {
    let mut c = config(false);
    c.server.public_url = Some("https://stac.example.org/theia/".into());
    let app = app(demo_db(), c).await;
    let v = get(&app, "/collections/lai/items?limit=1").await.json();
    for l in v["links"]
        .as_array()
        .unwrap()
        .iter()
        .chain(v["features"][0]["links"].as_array().unwrap())
    {
        let href = l["href"].as_str().unwrap();
        assert!(
            href.starts_with("https://stac.example.org/theia/") || l["rel"] == "license",
            "{href}"
        );
    }
}

#[actix_web::test]
async fn conformance_lists_the_extensions() {
    let app = app(demo_db(), config(false)).await;
    let v = get(&app, "/conformance").await.json();
    let classes: HashSet<&str> = v["conformsTo"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    for c in [
        "https://api.stacspec.org/v1.0.0/core",
        "https://api.stacspec.org/v1.0.0/item-search",
        "https://api.stacspec.org/v1.0.0/item-search#sort",
        "https://api.stacspec.org/v1.1.0/item-search#sort",
        "https://api.stacspec.org/v1.0.0/item-search#fields",
        "https://api.stacspec.org/v1.0.0/item-search#query",
        "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
        "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    ] {
        assert!(classes.contains(c), "missing {c}");
    }
    assert!(
        !classes.iter().any(|c| c.contains("transaction")),
        "transactions are off without a token"
    );
    let app = common::app(demo_db(), config(true)).await;
    let v = get(&app, "/conformance").await.json();
    assert!(
        v["conformsTo"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c.as_str().unwrap().contains("transaction"))
    );
}

#[actix_web::test]
async fn collections_and_collection_search() {
    let app = app(demo_db(), config(false)).await;
    let v = get(&app, "/collections").await.json();
    let listed: BTreeSet<String> = v["collections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    let shipped: BTreeSet<String> = tuilerie::catalog::shipped::SHIPPED
        .iter()
        .map(|(n, _)| n.trim_end_matches(".json").to_string())
        .collect();
    assert_eq!(listed, shipped);
    assert_eq!(v["numberMatched"], 6);

    let c = get(&app, "/collections/sentinel-2-l2a").await;
    assert_eq!(c.status, 200);
    let c = c.json();
    assert_eq!(c["id"], "sentinel-2-l2a");
    let rels: HashSet<&str> = c["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["rel"].as_str().unwrap())
        .collect();
    for r in ["self", "root", "parent", "items", "license"] {
        assert!(rels.contains(r), "collection link {r}");
    }
    assert!(c["renders"]["ndvi"].is_object());

    // Free text over titles/descriptions/keywords/providers.
    let v = get(&app, "/collections?q=pleiades").await.json();
    let hit: BTreeSet<&str> = v["collections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert!(hit.contains("pleiades"), "{hit:?}");
    assert!(!hit.contains("lai"));
    // Spatial: French Guiana has TropiSCO, not Metropolitan-only products.
    let v = get(&app, "/collections?bbox=-54,3,-53,4").await.json();
    let hit: BTreeSet<&str> = v["collections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert!(hit.contains("tropisco"));
    // Temporal: nothing before Sentinel-2, Pléiades and SPOT 6 existed, but LAI… began 2017.
    let v = get(&app, "/collections?datetime=../2011-01-01T00:00:00Z")
        .await
        .json();
    assert_eq!(v["numberMatched"], 0);
    let v = get(&app, "/collections?limit=2").await.json();
    assert_eq!(v["collections"].as_array().unwrap().len(), 2);
    let next = next_link(&v).expect("next");
    let v2 = get(&app, &local(next["href"].as_str().unwrap()))
        .await
        .json();
    assert_eq!(v2["collections"].as_array().unwrap().len(), 2);
    assert_ne!(v["collections"][0]["id"], v2["collections"][0]["id"]);

    get(&app, "/collections/nope")
        .await
        .assert_error(404, "nope");
    get(&app, "/collections?bbox=1,2")
        .await
        .assert_error(400, "bbox");
    get(&app, "/collections?datetime=yesterday")
        .await
        .assert_error(400, "datetime");
}

#[actix_web::test]
async fn items_come_back_unchanged_and_with_links() {
    let app = app(demo_db(), config(false)).await;
    for original in demo_items().iter().step_by(37) {
        let c = original["collection"].as_str().unwrap();
        let id = original["id"].as_str().unwrap();
        let r = get(&app, &format!("/collections/{c}/items/{id}")).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.content_type, "application/geo+json");
        let v = r.json();
        for key in [
            "geometry",
            "properties",
            "assets",
            "bbox",
            "stac_extensions",
            "id",
            "collection",
        ] {
            if !original[key].is_null() {
                assert_eq!(v[key], original[key], "{key} of {id}");
            }
        }
        let rels: Vec<&str> = v["links"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["rel"].as_str().unwrap())
            .collect();
        for r in ["self", "parent", "collection", "root", "license"] {
            assert!(rels.contains(&r), "{r} in {rels:?}");
        }
        // Conditional GET.
        let etag = r.headers.get("etag").unwrap().to_str().unwrap().to_string();
        let again = call(
            &app,
            actix_web::test::TestRequest::get()
                .uri(&format!("/collections/{c}/items/{id}"))
                .insert_header(("If-None-Match", etag))
                .insert_header(("Authorization", format!("Bearer {SCIENTIST}")))
                .to_request(),
        )
        .await;
        assert_eq!(again.status, 304);
    }
    get(&app, "/collections/lai/items/nope")
        .await
        .assert_error(404, "nope");
    get(&app, "/collections/nope/items/x")
        .await
        .assert_error(404, "collection 'nope'");
}

#[actix_web::test]
async fn paging_returns_every_item_exactly_once() {
    let app = app(demo_db(), config(false)).await;
    let expected: HashSet<String> = demo_items()
        .iter()
        .filter(|i| i["collection"] == "tropisco")
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect();
    let got = all_pages(&app, "/collections/tropisco/items?limit=17").await;
    assert_eq!(got.len(), expected.len(), "no duplicates, no gaps");
    assert_eq!(got.iter().cloned().collect::<HashSet<_>>(), expected);
    let first = get(&app, "/collections/tropisco/items?limit=17")
        .await
        .json();
    assert_eq!(
        first["numberMatched"].as_u64().unwrap() as usize,
        expected.len()
    );
    assert_eq!(first["numberReturned"], 17);

    // Same over POST, following the next link's body.
    let mut body = json!({"collections": ["pleiades", "spot-6-7"], "limit": 7});
    let mut seen = Vec::new();
    loop {
        let v = post(&app, "/search", &body).await.json();
        seen.extend(ids(&v));
        match next_link(&v) {
            Some(next) => {
                assert_eq!(next["method"], "POST");
                body = next["body"].clone();
            }
            None => break,
        }
    }
    let expected = demo_items()
        .iter()
        .filter(|i| i["collection"] == "pleiades" || i["collection"] == "spot-6-7")
        .count();
    assert_eq!(seen.len(), expected);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), expected);
}

#[actix_web::test]
async fn default_order_is_newest_first() {
    let app = app(demo_db(), config(false)).await;
    let v = get(&app, "/search?collections=sentinel-2-l2a&limit=50")
        .await
        .json();
    let times: Vec<i64> = v["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| span(f).0)
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]));
    let newest = demo_items()
        .iter()
        .filter(|i| i["collection"] == "sentinel-2-l2a")
        .map(|i| span(i).0)
        .max()
        .unwrap();
    assert_eq!(times[0], newest);
}

#[actix_web::test]
async fn bbox_and_datetime_search() {
    let app = app(demo_db(), config(false)).await;
    let bbox = [1.0, 43.0, 2.5, 44.5];
    let (start, end) = ("2023-03-01T00:00:00Z", "2023-05-31T23:59:59Z");
    let expected: HashSet<String> = demo_items()
        .iter()
        .filter(|i| boxes_intersect(footprint_bbox(i), bbox))
        .filter(|i| {
            let (s, e) = span(i);
            e >= t(start) && s <= t(end)
        })
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect();
    assert!(expected.len() > 10, "the fixture should match something");
    let got = all_pages(
        &app,
        &format!("/search?bbox=1,43,2.5,44.5&datetime={start}/{end}&limit=25"),
    )
    .await;
    assert_eq!(got.iter().cloned().collect::<HashSet<_>>(), expected);
    assert_eq!(got.len(), expected.len());

    // POST with a 3D bbox and an open-ended interval.
    let expected_open: usize = demo_items()
        .iter()
        .filter(|i| {
            boxes_intersect(footprint_bbox(i), bbox) && span(i).1 >= t("2023-11-01T00:00:00Z")
        })
        .count();
    let v = post(&app, "/search", &json!({"bbox": [1.0, 43.0, -100, 2.5, 44.5, 100], "datetime": "2023-11-01T00:00:00Z/..", "limit": 1})).await.json();
    assert_eq!(v["numberMatched"].as_u64().unwrap() as usize, expected_open);
    let v = get(
        &app,
        "/search?bbox=1,43,2.5,44.5&datetime=../2023-01-10T00:00:00Z&limit=1",
    )
    .await
    .json();
    let expected_before = demo_items()
        .iter()
        .filter(|i| {
            boxes_intersect(footprint_bbox(i), bbox) && span(i).0 <= t("2023-01-10T00:00:00Z")
        })
        .count();
    assert_eq!(
        v["numberMatched"].as_u64().unwrap() as usize,
        expected_before
    );

    // A composite (LAI, monthly span) matches an instant inside its month.
    let v = get(
        &app,
        "/search?collections=lai&datetime=2023-06-15T12:00:00Z",
    )
    .await
    .json();
    assert_eq!(v["numberMatched"], 2);
    for f in v["features"].as_array().unwrap() {
        assert!(
            f["properties"]["start_datetime"]
                .as_str()
                .unwrap()
                .starts_with("2023-06-01")
        );
    }
}

#[actix_web::test]
async fn intersects_is_exact_not_just_bbox() {
    let app = app(demo_db(), config(false)).await;
    // A thin triangle from the middle of Toulouse's S2 footprint to beyond
    // the south-east corner of the Pyrénées one: its bbox covers both
    // footprints, the triangle itself only Toulouse's.
    let items = demo_items();
    let tile_bbox = |tile: &str| {
        footprint_bbox(
            items
                .iter()
                .find(|i| i["id"].as_str().unwrap().ends_with(tile))
                .unwrap(),
        )
    };
    let (toulouse, pyrenees) = (tile_bbox("T31TCJ"), tile_bbox("T31TDH"));
    let a = [
        (toulouse[0] + toulouse[2]) / 2.0,
        (toulouse[1] + toulouse[3]) / 2.0,
    ];
    let b = [pyrenees[2] + 0.5, pyrenees[1] - 0.5];
    let c = [a[0] + 0.01, a[1] + 0.01];
    let triangle = json!({"type": "Polygon", "coordinates": [[a, b, c, a]]});
    assert!(
        boxes_intersect([a[0].min(b[0]), b[1], b[0], a[1]], pyrenees),
        "the triangle's bbox covers the Pyrénées footprint"
    );
    // Where the triangle's edges cross the Pyrénées footprint's latitudes,
    // they are east of it.
    for lat in [pyrenees[1], pyrenees[3]] {
        for (p, q) in [(a, b), (c, b)] {
            let lon = p[0] + (q[0] - p[0]) * (lat - p[1]) / (q[1] - p[1]);
            assert!(
                lon > pyrenees[2],
                "the triangle misses the Pyrénées footprint"
            );
        }
    }
    let v = post(
        &app,
        "/search",
        &json!({"intersects": triangle, "collections": ["sentinel-2-l2a"], "limit": 1}),
    )
    .await
    .json();
    let n = v["numberMatched"].as_u64().unwrap();
    let tile_items = demo_items()
        .iter()
        .filter(|i| i["id"].as_str().unwrap().ends_with("T31TCJ"))
        .count() as u64;
    assert_eq!(
        n, tile_items,
        "only the Toulouse tile intersects the triangle"
    );
    let point = json!({"type": "Point", "coordinates": [5.279, 44.174]});
    let v = post(
        &app,
        "/search",
        &json!({"intersects": point, "collections": ["pleiades"], "limit": 100}),
    )
    .await
    .json();
    for f in v["features"].as_array().unwrap() {
        let b = footprint_bbox(f);
        assert!(b[0] <= 5.279 && b[2] >= 5.279 && b[1] <= 44.174 && b[3] >= 44.174);
    }
    post(
        &app,
        "/search",
        &json!({"intersects": {"type": "Polygon", "coordinates": [[[0, 0], [1, 1]]]}}),
    )
    .await
    .assert_error(400, "intersects");
    post(
        &app,
        "/search",
        &json!({"intersects": point, "bbox": [0, 0, 1, 1]}),
    )
    .await
    .assert_error(400, "bbox and intersects");
}

#[actix_web::test]
async fn ids_and_collections() {
    let app = app(demo_db(), config(false)).await;
    let items = demo_items();
    let wanted: Vec<&str> = items
        .iter()
        .step_by(101)
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    let v = get(&app, &format!("/search?ids={}&limit=100", wanted.join(",")))
        .await
        .json();
    let got: HashSet<String> = ids(&v).into_iter().collect();
    assert_eq!(got, wanted.iter().map(|s| s.to_string()).collect());
    let v = get(&app, "/search?collections=nope").await.json();
    assert_eq!(v["numberMatched"], 0);
}

#[actix_web::test]
async fn cql2_filters() {
    let app = app(demo_db(), config(false)).await;
    let items = demo_items();
    let cloud = |i: &Value| i["properties"]["eo:cloud_cover"].as_f64();
    let count = |f: &dyn Fn(&Value) -> bool| items.iter().filter(|i| f(i)).count() as u64;
    let matched = |v: &Value| v["numberMatched"].as_u64().unwrap_or_else(|| panic!("{v}"));

    let cases: Vec<(Value, u64)> = vec![
        (
            json!({"filter": "eo:cloud_cover < 10"}),
            count(&|i| cloud(i).is_some_and(|c| c < 10.0)),
        ),
        (
            json!({"filter-lang": "cql2-json", "filter": {"op": "and", "args": [
            {"op": ">=", "args": [{"property": "eo:cloud_cover"}, 20]},
            {"op": "=", "args": [{"property": "platform"}, "sentinel-2b"]}]}}),
            count(&|i| {
                cloud(i).is_some_and(|c| c >= 20.0) && i["properties"]["platform"] == "sentinel-2b"
            }),
        ),
        (
            json!({"filter": "platform IN ('pleiades-1a','spot-7') AND NOT (eo:cloud_cover > 50)"}),
            count(&|i| {
                ["pleiades-1a", "spot-7"]
                    .contains(&i["properties"]["platform"].as_str().unwrap_or(""))
                    && cloud(i).is_some_and(|c| c <= 50.0)
            }),
        ),
        (
            json!({"filter": "eo:cloud_cover BETWEEN 10 AND 20"}),
            count(&|i| cloud(i).is_some_and(|c| (10.0..=20.0).contains(&c))),
        ),
        (
            json!({"filter": "id LIKE 'PHR%'"}),
            count(&|i| i["id"].as_str().unwrap().starts_with("PHR")),
        ),
        (json!({"filter": "id LIKE 'phr%'"}), 0),
        (
            json!({"filter": "CASEI(id) LIKE CASEI('phr%')"}),
            count(&|i| i["id"].as_str().unwrap().starts_with("PHR")),
        ),
        (
            json!({"filter": "eo:cloud_cover IS NULL"}),
            count(&|i| cloud(i).is_none()),
        ),
        (
            json!({"filter": "datetime >= TIMESTAMP('2023-12-01T00:00:00Z')"}),
            count(&|i| span(i).0 >= t("2023-12-01T00:00:00Z")),
        ),
        (
            json!({"filter": "T_INTERSECTS(datetime, INTERVAL('2023-06-01T00:00:00Z','2023-06-07T23:59:59Z'))"}),
            count(&|i| {
                let (s, e) = span(i);
                s <= t("2023-06-07T23:59:59Z") && e >= t("2023-06-01T00:00:00Z")
            }),
        ),
        (
            json!({"filter": "S_INTERSECTS(geometry, POINT(1.444 43.604))"}),
            count(&|i| {
                let b = footprint_bbox(i);
                b[0] <= 1.444 && b[2] >= 1.444 && b[1] <= 43.604 && b[3] >= 43.604
            }),
        ),
        (
            json!({"filter": "S_INTERSECTS(geometry, BBOX(-55,2,-52,6)) AND collection = 'tropisco'"}),
            count(&|i| {
                i["collection"] == "tropisco"
                    && boxes_intersect(footprint_bbox(i), [-55.0, 2.0, -52.0, 6.0])
            }),
        ),
        (
            json!({"filter": "eo:cloud_cover * 2 > 150"}),
            count(&|i| cloud(i).is_some_and(|c| c * 2.0 > 150.0)),
        ),
        (
            json!({"filter": "A_CONTAINS(instruments, ('msi'))"}),
            count(&|i| i["properties"]["instruments"] == json!(["msi"])),
        ),
        (
            json!({"query": {"eo:cloud_cover": {"lt": 5}, "platform": {"startsWith": "sentinel"}}}),
            count(&|i| {
                cloud(i).is_some_and(|c| c < 5.0)
                    && i["properties"]["platform"]
                        .as_str()
                        .unwrap_or("")
                        .starts_with("sentinel")
            }),
        ),
    ];
    // Properties the shipped collections index on PostgreSQL
    // (tuilerie:indexes): the same answers as without an index.
    let prop = |i: &Value, p: &str| i["properties"][p].clone();
    let s2 = items
        .iter()
        .find(|i| i["collection"] == "sentinel-2-l2a")
        .expect("a Sentinel-2 item");
    let orbit = prop(s2, "sat:relative_orbit").as_i64().unwrap();
    let zone = prop(s2, "mgrs:utm_zone").as_i64().unwrap();
    let square = prop(s2, "mgrs:grid_square").as_str().unwrap().to_string();
    let square_first = square.chars().next().unwrap();
    let indexed: Vec<(Value, u64)> = vec![
        (
            json!({"filter": format!("sat:relative_orbit = {orbit}")}),
            count(&|i| prop(i, "sat:relative_orbit") == json!(orbit)),
        ),
        (
            json!({"filter": format!("sat:relative_orbit IN ({orbit}, 1, 143) OR sat:relative_orbit > 100")}),
            count(&|i| {
                prop(i, "sat:relative_orbit")
                    .as_f64()
                    .is_some_and(|o| [orbit as f64, 1.0, 143.0].contains(&o) || o > 100.0)
            }),
        ),
        (
            json!({"filter": format!("mgrs:utm_zone = {zone} AND mgrs:grid_square = '{square}'")}),
            count(&|i| {
                prop(i, "mgrs:utm_zone") == json!(zone)
                    && prop(i, "mgrs:grid_square") == json!(square)
            }),
        ),
        (
            json!({"filter": format!("mgrs:utm_zone BETWEEN {} AND {zone}", zone - 1)}),
            count(&|i| {
                prop(i, "mgrs:utm_zone")
                    .as_i64()
                    .is_some_and(|z| (zone - 1..=zone).contains(&z))
            }),
        ),
        (
            json!({"filter": format!("mgrs:grid_square < '{square}' AND mgrs:grid_square LIKE '{square_first}%'")}),
            count(&|i| {
                prop(i, "mgrs:grid_square")
                    .as_str()
                    .is_some_and(|g| g < square.as_str() && g.starts_with(square_first))
            }),
        ),
        (
            json!({"filter": "platform = 'pleiades-1a' OR platform = 'sentinel-1a'"}),
            count(&|i| {
                ["pleiades-1a", "sentinel-1a"].contains(&prop(i, "platform").as_str().unwrap_or(""))
            }),
        ),
        (
            json!({"query": {"sat:relative_orbit": {"gte": orbit}, "platform": {"eq": "sentinel-2b"}}}),
            count(&|i| {
                prop(i, "sat:relative_orbit")
                    .as_i64()
                    .is_some_and(|o| o >= orbit)
                    && prop(i, "platform") == "sentinel-2b"
            }),
        ),
    ];
    let cases = cases.into_iter().chain(indexed);
    for (body, expected) in cases {
        let mut body = body;
        body["limit"] = json!(1);
        let r = post(&app, "/search", &body).await;
        assert_eq!(r.status, 200, "{body}: {}", r.text());
        assert_eq!(matched(&r.json()), expected, "{body}");
    }
    // GET with cql2-text and cql2-json.
    let v = get(&app, "/search?filter=eo%3Acloud_cover%20%3C%2010&limit=1")
        .await
        .json();
    assert_eq!(matched(&v), count(&|i| cloud(i).is_some_and(|c| c < 10.0)));
    let f = url::form_urlencoded::byte_serialize(
        br#"{"op":"<","args":[{"property":"eo:cloud_cover"},10]}"#,
    )
    .collect::<String>();
    let v = get(
        &app,
        &format!("/search?filter-lang=cql2-json&filter={f}&limit=1"),
    )
    .await
    .json();
    assert_eq!(matched(&v), count(&|i| cloud(i).is_some_and(|c| c < 10.0)));
}

#[actix_web::test]
async fn sorting_and_paging_on_a_property() {
    let app = app(demo_db(), config(false)).await;
    let items = demo_items();
    for (dir, sortby) in [("asc", "eo:cloud_cover"), ("desc", "-eo:cloud_cover")] {
        let got = all_pages(
            &app,
            &format!("/search?collections=pleiades,sentinel-2-l2a&sortby={sortby}&limit=50"),
        )
        .await;
        let expected = items
            .iter()
            .filter(|i| i["collection"] == "pleiades" || i["collection"] == "sentinel-2-l2a")
            .count();
        assert_eq!(got.len(), expected, "{dir}");
        assert_eq!(
            got.iter().collect::<HashSet<_>>().len(),
            expected,
            "{dir}: no duplicates"
        );
        let by_id: std::collections::HashMap<&str, f64> = items
            .iter()
            .map(|i| {
                (
                    i["id"].as_str().unwrap(),
                    i["properties"]["eo:cloud_cover"]
                        .as_f64()
                        .unwrap_or(f64::NAN),
                )
            })
            .collect();
        let values: Vec<f64> = got.iter().map(|id| by_id[id.as_str()]).collect();
        let ordered = values.windows(2).all(|w| {
            if dir == "asc" {
                w[0] <= w[1]
            } else {
                w[0] >= w[1]
            }
        });
        assert!(ordered, "{dir}");
    }
    // Paging in the order of a property the shipped collections index on
    // PostgreSQL, with a filter on another one.
    let zone = 31;
    let got = all_pages(
        &app,
        &format!("/search?collections=sentinel-2-l2a&sortby=-sat:relative_orbit&filter=mgrs:utm_zone%3D{zone}&limit=7"),
    )
    .await;
    let orbit_of: std::collections::HashMap<&str, i64> = items
        .iter()
        .filter(|i| i["collection"] == "sentinel-2-l2a" && i["properties"]["mgrs:utm_zone"] == zone)
        .map(|i| {
            (
                i["id"].as_str().unwrap(),
                i["properties"]["sat:relative_orbit"].as_i64().unwrap(),
            )
        })
        .collect();
    assert!(!orbit_of.is_empty());
    assert_eq!(got.len(), orbit_of.len());
    let orbits: Vec<i64> = got.iter().map(|id| orbit_of[id.as_str()]).collect();
    assert!(orbits.windows(2).all(|w| w[0] >= w[1]), "{orbits:?}");
    // Items without the property come last, whatever the direction.
    let got = all_pages(
        &app,
        "/search?collections=lai,pleiades&sortby=-eo:cloud_cover&limit=40",
    )
    .await;
    let lai_positions: Vec<usize> = got
        .iter()
        .enumerate()
        .filter(|(_, id)| id.starts_with("LAI"))
        .map(|(n, _)| n)
        .collect();
    assert_eq!(
        lai_positions.first().copied(),
        Some(got.len() - lai_positions.len())
    );
    // POST sortby, ascending datetime.
    let v = post(&app, "/search", &json!({"collections": ["biomass"], "sortby": [{"field": "properties.datetime", "direction": "asc"}], "limit": 100})).await.json();
    let starts: Vec<i64> = v["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| span(f).0)
        .collect();
    assert!(starts.windows(2).all(|w| w[0] <= w[1]));
    // A token is bound to its sort.
    let v = get(&app, "/search?sortby=eo:cloud_cover&limit=2")
        .await
        .json();
    let href = local(next_link(&v).unwrap()["href"].as_str().unwrap());
    let other = href.replace("sortby=eo%3Acloud_cover", "sortby=-datetime");
    get(&app, &other).await.assert_error(400, "token");
    get(&app, "/search?sortby=nonexistent")
        .await
        .assert_error(400, "sortby");
}

#[actix_web::test]
async fn fields_extension() {
    let app = app(demo_db(), config(false)).await;
    let v = get(
        &app,
        "/search?collections=pleiades&limit=3&fields=properties.eo:cloud_cover,-assets",
    )
    .await
    .json();
    for f in v["features"].as_array().unwrap() {
        assert!(f["assets"].is_null());
        assert!(f["properties"]["eo:cloud_cover"].is_number());
        assert!(f["properties"]["platform"].is_null());
        assert!(f["id"].is_string());
    }
    let v = post(&app, "/search", &json!({"collections": ["pleiades"], "limit": 3, "fields": {"exclude": ["geometry", "properties.platform"]}})).await.json();
    for f in v["features"].as_array().unwrap() {
        assert!(f["geometry"].is_null());
        assert!(f["properties"]["platform"].is_null());
        assert!(f["properties"]["eo:cloud_cover"].is_number());
        assert!(f["assets"].is_object());
    }
}

#[actix_web::test]
async fn free_text() {
    let app = app(demo_db(), config(false)).await;
    let items = demo_items();
    let text = |i: &Value| {
        let p = &i["properties"];
        format!(
            "{} {} {}",
            p["title"].as_str().unwrap_or(""),
            p["description"].as_str().unwrap_or(""),
            p["keywords"]
        )
        .to_lowercase()
    };
    let expected = items.iter().filter(|i| text(i).contains("ventoux")).count() as u64;
    assert!(expected > 0);
    let v = get(&app, "/search?q=ventoux&limit=1").await.json();
    assert_eq!(v["numberMatched"].as_u64().unwrap(), expected);
    // Alternatives (comma) and accents are folded.
    let both = items
        .iter()
        .filter(|i| {
            let t = text(i);
            t.contains("ventoux") || t.contains("grenoble")
        })
        .count() as u64;
    let v = get(&app, "/search?q=VENTOUX,gr%C3%A9noble&limit=1")
        .await
        .json();
    assert_eq!(v["numberMatched"].as_u64().unwrap(), both);
    let v = post(
        &app,
        "/search",
        &json!({"q": ["\"forest loss\""], "limit": 1}),
    )
    .await
    .json();
    assert_eq!(
        v["numberMatched"].as_u64().unwrap(),
        items
            .iter()
            .filter(|i| i["collection"] == "tropisco")
            .count() as u64
    );
    get(&app, "/search?q=-cloud").await.assert_error(400, "q");
}

#[actix_web::test]
async fn queryables() {
    let app = app(demo_db(), config(false)).await;
    let r = get(&app, "/queryables").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.content_type, "application/schema+json");
    let v = r.json();
    assert!(v["$id"].as_str().unwrap().ends_with("/queryables"));
    assert!(v["$schema"].as_str().unwrap().contains("json-schema.org"));
    for p in [
        "id",
        "collection",
        "geometry",
        "datetime",
        "eo:cloud_cover",
        "platform",
    ] {
        assert!(v["properties"][p].is_object(), "{p}");
    }
    let v = get(&app, "/collections/sentinel-2-l2a/queryables")
        .await
        .json();
    assert!(
        v["$id"]
            .as_str()
            .unwrap()
            .ends_with("/collections/sentinel-2-l2a/queryables")
    );
    assert!(v["properties"]["mgrs:utm_zone"].is_object());
    assert!(
        v["properties"]["view:off_nadir"].is_null(),
        "Pléiades-only property"
    );
    assert_eq!(v["properties"]["eo:cloud_cover"]["maximum"], 100.0);
    get(&app, "/collections/nope/queryables")
        .await
        .assert_error(404, "nope");
}

#[actix_web::test]
async fn bad_requests_get_clear_errors() {
    let app = app(demo_db(), config(false)).await;
    for (uri, needle) in [
        ("/search?bbox=1,2,3", "bbox"),
        ("/search?bbox=a,b,c,d", "bbox"),
        ("/search?bbox=0,10,1,5", "south"),
        ("/search?bbox=0,0,200,1", "longitude"),
        ("/search?datetime=2023-01-01", "datetime"),
        ("/search?datetime=2023-01-01T00:00:00", "datetime"),
        (
            "/search?datetime=2024-01-01T00:00:00Z/2023-01-01T00:00:00Z",
            "after",
        ),
        ("/search?datetime=../..", "datetime"),
        ("/search?limit=0", "limit"),
        ("/search?limit=-5", "limit"),
        ("/search?limit=ten", "limit"),
        ("/search?filter=eo:cloud_cover%20%3C", "cql2"),
        ("/search?filter=nope%20%3D%201", "unknown property"),
        // Values of the wrong type: the same 400 on every store.
        ("/search?filter=eo:cloud_cover%3D'abc'", "holds numbers"),
        ("/search?filter=platform%3D5", "does not hold numbers"),
        (
            "/search?filter=platform%20IN%20('sentinel-2a',%202)",
            "does not hold numbers",
        ),
        (
            "/search?filter=eo:cloud_cover%20BETWEEN%20'a'%20AND%20'b'",
            "holds numbers",
        ),
        (
            "/search?query=%7B%22eo:cloud_cover%22:%7B%22lt%22:%22lots%22%7D%7D",
            "holds numbers",
        ),
        (
            "/search?filter=eo:cloud_cover%20%3D%201;%20DROP%20TABLE%20items",
            "filter",
        ),
        ("/search?filter-lang=sql&filter=1", "filter-lang"),
        ("/search?filter-crs=EPSG:2154&filter=id%3D'a'", "filter-crs"),
        ("/search?intersects=notjson", "intersects"),
        ("/search?sortby=-nope", "sortby"),
        ("/search?token=garbage", "token"),
        ("/search?limit=1&limit=2", "more than once"),
        ("/search?colections=lai", "unknown parameter"),
        ("/search?query=%7Bbad", "query"),
        ("/collections/lai/items?datetime=tomorrow", "datetime"),
    ] {
        get(&app, uri).await.assert_error(400, needle);
    }
    for (body, needle) in [
        (json!([1, 2]), "object"),
        (json!({"limit": "ten"}), "limit"),
        (json!({"bbox": [0, 0, 1]}), "bbox"),
        (json!({"collections": 5}), "collections"),
        (json!({"filter": {"op": "nope", "args": []}}), "filter"),
        (
            json!({"filter": {"op": "=", "args": [{"property": "id"}, "x'; DELETE FROM items; --"]}}),
            "__never__",
        ),
        (json!({"sortby": 5}), "sortby"),
        (json!({"fields": 3}), "fields"),
        (json!({"q": 5}), "q"),
    ] {
        let r = post(&app, "/search", &body).await;
        if needle == "__never__" {
            // An injection attempt is just a value that matches nothing.
            assert_eq!(r.status, 200);
            assert_eq!(r.json()["numberMatched"], 0);
        } else {
            r.assert_error(400, needle);
        }
    }
    let r = call(
        &app,
        actix_web::test::TestRequest::post()
            .uri("/search")
            .set_payload("not json")
            .to_request(),
    )
    .await;
    r.assert_error(400, "json");
    let huge = format!("{{\"ids\": [\"{}\"]}}", "x".repeat(2 * 1024 * 1024));
    let r = call(
        &app,
        actix_web::test::TestRequest::post()
            .uri("/search")
            .set_payload(huge)
            .to_request(),
    )
    .await;
    r.assert_error(413, "larger");
    let r = call(
        &app,
        actix_web::test::TestRequest::delete()
            .uri("/search")
            .to_request(),
    )
    .await;
    r.assert_error(405, "not allowed");
    get(&app, "/nowhere").await.assert_error(404, "/nowhere");
    // The server is still fine.
    assert_eq!(get(&app, "/search?limit=1").await.status, 200);
}

/// Every plan the store can pick (one statement with a window count, or a
/// count then a page) gives the same pages and counts, cursors included.
#[actix_web::test]
async fn search_plans_agree() {
    use tuilerie::catalog::sqlite::{SqliteCatalog, SqliteOptions};
    let db = demo_sqlite_db();
    let combined = SqliteCatalog::open(&db, SqliteOptions::default()).unwrap();
    let separate = SqliteCatalog::open(
        &db,
        SqliteOptions {
            combine_below: 0,
            ..SqliteOptions::default()
        },
    )
    .unwrap();
    let bodies = [
        json!({"limit": 7, "bbox": [1.0, 43.0, 2.5, 44.5]}),
        json!({"limit": 7, "bbox": [1.0, 43.0, 2.5, 44.5], "datetime": "2023-03-01T00:00:00Z/2023-06-30T00:00:00Z"}),
        json!({"limit": 5, "collections": ["sentinel-2-l2a"], "sortby": [{"field": "eo:cloud_cover", "direction": "asc"}], "filter": "eo:cloud_cover < 30"}),
        json!({"limit": 9, "intersects": {"type": "Point", "coordinates": [1.444, 43.604]}}),
        json!({"limit": 11, "q": "ventoux,toulouse"}),
        json!({"limit": 4, "collections": ["lai", "biomass"], "datetime": "2023-01-01T00:00:00Z/.."}),
        json!({"limit": 97}),
        json!({"limit": 61, "sortby": [{"field": "datetime", "direction": "asc"}], "bbox": [-60.0, -25.0, 60.0, 55.0]}),
    ];

    use tuilerie::catalog::{Catalog, Limits, Scope, SearchQuery};
    for body in bodies {
        let mut pages = Vec::new();
        for store in [&combined, &separate] {
            let mut query = SearchQuery::from_json_body(body.clone(), Limits::default()).unwrap();
            let mut seen = Vec::new();
            loop {
                let page = store.search(&Scope::All, &query).await.unwrap();
                seen.push((
                    page.items.iter().map(|i| i.id.clone()).collect::<Vec<_>>(),
                    page.number_matched,
                ));
                match page.next {
                    Some(cursor) => query.cursor = Some(cursor),
                    None => break,
                }
            }
            pages.push(seen);
        }
        assert_eq!(pages[0], pages[1], "{body}");
        assert!(pages[0][0].1.unwrap() > 0, "{body} should match something");
    }
}
