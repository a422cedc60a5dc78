//! Access control, end to end: the matrix of endpoints × identities, and the
//! quota race.
//!
//! Real store (SQLite, or PostgreSQL with `TUILERIE_TEST_POSTGRES`), real
//! demo rasters, real keys (Argon2id-hashed in the store), the real
//! application with its authentication middleware. For every endpoint that
//! shows a restricted collection's data and every identity, the status is
//! the one its rights give, and no restricted item id appears in any answer
//! to an identity without rights.

mod common;

use common::*;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use tuilerie::auth::keys;
use tuilerie::catalog::SharedCatalog;
use tuilerie::catalog::accounts::{KeyRecord, Organisation, User};
use tuilerie::raster::tms;

/// Restricted collections and the roles they admit.
const RESTRICTED: [(&str, &[&str]); 2] = [
    ("pleiades", &["scientific", "public-actor"]),
    ("spot-6-7", &["scientific", "public-actor", "private-rd"]),
];

/// Who calls.
#[derive(Debug, Clone)]
struct Identity {
    name: &'static str,
    /// The bearer token (`None`: anonymous).
    token: Option<String>,
    /// Roles that take effect (`admin` sees all); `None`: the credential is refused.
    roles: Option<Vec<&'static str>>,
}

impl Identity {
    fn entitled(&self, collection: &str) -> bool {
        let Some(roles) = &self.roles else {
            return false;
        };
        if roles.contains(&"admin") {
            return true;
        }
        RESTRICTED
            .iter()
            .find(|(c, _)| *c == collection)
            .is_none_or(|(_, allowed)| roles.iter().any(|r| allowed.contains(r)))
    }

    fn refused(&self) -> bool {
        self.roles.is_none()
    }
}

async fn add_org(catalog: &SharedCatalog, id: &str, signed: bool) {
    catalog
        .accounts()
        .put_organisation(&Organisation {
            id: id.into(),
            name: id.into(),
            charter_signed: signed.then(|| "2026-01-05".into()),
            created: 0,
        })
        .await
        .unwrap();
}

async fn add_user_key(catalog: &SharedCatalog, user: &str, org: &str, roles: &[&str]) -> String {
    catalog
        .accounts()
        .put_user(&User {
            id: user.into(),
            name: user.into(),
            organisation: org.into(),
            roles: roles.iter().map(|r| r.to_string()).collect(),
            created: 0,
            disabled: false,
        })
        .await
        .unwrap();
    let key = keys::generate().unwrap();
    catalog
        .accounts()
        .add_key(&KeyRecord {
            id: key.id.clone(),
            user: user.into(),
            label: "test".into(),
            hash: key.hash,
            created: 0,
            revoked: None,
        })
        .await
        .unwrap();
    key.key
}

/// Creates the organisations, users and keys; returns the identities.
async fn identities(catalog: &SharedCatalog) -> Vec<Identity> {
    add_org(catalog, "lab", true).await;
    add_org(catalog, "ministry", true).await;
    add_org(catalog, "startup", true).await;
    add_org(catalog, "unsigned", false).await;
    let scientific = add_user_key(catalog, "sci", "lab", &["scientific"]).await;
    let public = add_user_key(catalog, "pub", "ministry", &["public-actor"]).await;
    let rd = add_user_key(catalog, "rd", "startup", &["private-rd"]).await;
    let admin = add_user_key(catalog, "adm", "lab", &["admin"]).await;
    let unsigned = add_user_key(catalog, "nocharter", "unsigned", &["scientific"]).await;
    let revoked = add_user_key(catalog, "gone", "lab", &["scientific"]).await;
    let revoked_id = keys::parse(&revoked).unwrap().id.to_string();
    assert!(catalog.accounts().revoke_key(&revoked_id, 1).await.unwrap());
    // Right id, wrong secret.
    let forged_key = format!("{}{}", &scientific[..scientific.len() - 1], "Z")
        .replace("ZZ", "YZ");
    vec![
        Identity {
            name: "anonymous",
            token: None,
            roles: Some(vec![]),
        },
        Identity {
            name: "scientific",
            token: Some(scientific),
            roles: Some(vec!["scientific"]),
        },
        Identity {
            name: "public-actor",
            token: Some(public),
            roles: Some(vec!["public-actor"]),
        },
        Identity {
            name: "private-rd",
            token: Some(rd),
            roles: Some(vec!["private-rd"]),
        },
        Identity {
            name: "admin",
            token: Some(admin),
            roles: Some(vec!["admin"]),
        },
        Identity {
            name: "charter not signed",
            token: Some(unsigned),
            roles: Some(vec![]),
        },
        Identity {
            name: "revoked key",
            token: Some(revoked),
            roles: None,
        },
        Identity {
            name: "forged key",
            token: Some(forged_key),
            roles: None,
        },
        Identity {
            name: "garbage token",
            token: Some("not-a-key".into()),
            roles: None,
        },
    ]
}

/// What a restricted collection's probes need: an item, its first raster
/// asset, a tile and a point inside it.
struct Probe {
    collection: &'static str,
    item: String,
    asset: String,
    other_ids: Vec<String>,
    tile: (u8, u64, u64),
    lonlat: (f64, f64),
    box3857: [f64; 4],
}

async fn probe<S, B>(app: &S, admin: &str, collection: &'static str) -> Probe
where
    S: actix_web::dev::Service<
            actix_http::Request,
            Response = actix_web::dev::ServiceResponse<B>,
            Error = actix_web::Error,
        >,
    B: actix_web::body::MessageBody,
{
    let page = get_as(app, &format!("/collections/{collection}/items?limit=100"), admin).await;
    assert_eq!(page.status, 200, "{}", page.text());
    let page = page.json();
    let features = page["features"].as_array().unwrap();
    assert!(!features.is_empty(), "{collection} has no items");
    let item = &features[0];
    let id = item["id"].as_str().unwrap().to_string();
    let asset = item["assets"]
        .as_object()
        .unwrap()
        .iter()
        .find(|(_, a)| a["href"].as_str().unwrap_or("").ends_with(".tif"))
        .map(|(k, _)| k.clone())
        .unwrap();
    // The centre of the raster's data (the demo rasters cover the middle
    // 0.3 of the footprint): the centre of the item's bbox.
    let bbox: Vec<f64> = item["bbox"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let (lon, lat) = ((bbox[0] + bbox[2]) / 2.0, (bbox[1] + bbox[3]) / 2.0);
    let t = tms::get("WebMercatorQuad").unwrap();
    let z = 15;
    let b = t.from_wgs84([lon, lat, lon, lat]).unwrap();
    let (x, y, _, _) = t.tile_range(z, b).unwrap();
    let box3857 = t.tile_bounds(z, x, y).unwrap();
    Probe {
        collection,
        item: id,
        asset,
        other_ids: features
            .iter()
            .map(|f| f["id"].as_str().unwrap().to_string())
            .collect(),
        tile: (z, x, y),
        lonlat: (lon, lat),
        box3857,
    }
}

/// The endpoints that show one restricted collection, with the status
/// expected of those without rights.
fn restricted_endpoints(p: &Probe) -> Vec<(String, u16)> {
    let (c, i, a) = (p.collection, &p.item, &p.asset);
    let (z, x, y) = p.tile;
    let (lon, lat) = p.lonlat;
    let b = p.box3857;
    let bbox = format!("{},{},{},{}", b[0], b[1], b[2], b[3]);
    let wms = "/wms?SERVICE=WMS&VERSION=1.3.0";
    vec![
        (format!("/collections/{c}"), 404),
        (format!("/collections/{c}/items"), 404),
        (format!("/collections/{c}/items/{i}"), 404),
        (format!("/collections/{c}/queryables"), 404),
        (format!("/collections/{c}/items/{i}/tiles/WebMercatorQuad/{z}/{x}/{y}.png"), 404),
        (format!("/collections/{c}/items/{i}/WebMercatorQuad/tilejson.json"), 404),
        (format!("/collections/{c}/items/{i}/WMTSCapabilities.xml"), 404),
        (format!("/collections/{c}/items/{i}/statistics"), 404),
        (format!("/collections/{c}/items/{i}/point/{lon},{lat}"), 404),
        (format!("/collections/{c}/items/{i}/preview.png?max_size=64"), 404),
        (format!("/collections/{c}/items/{i}/info"), 404),
        (format!("/collections/{c}/tiles/WebMercatorQuad/{z}/{x}/{y}.png"), 404),
        (format!("/collections/{c}/WebMercatorQuad/tilejson.json"), 404),
        (format!("/collections/{c}/WMTSCapabilities.xml"), 404),
        (format!("/collections/{c}/items/{i}/assets/{a}/download"), 404),
        (
            format!("{wms}&REQUEST=GetMap&LAYERS={c}&STYLES=&CRS=EPSG:3857&BBOX={bbox}&WIDTH=64&HEIGHT=64&FORMAT=image/png"),
            400,
        ),
        (
            format!("{wms}&REQUEST=GetFeatureInfo&LAYERS={c}&QUERY_LAYERS={c}&STYLES=&CRS=EPSG:3857&BBOX={bbox}&WIDTH=64&HEIGHT=64&I=32&J=32&INFO_FORMAT=application/json"),
            400,
        ),
        (format!("{wms}&REQUEST=GetLegendGraphic&LAYER={c}&FORMAT=image/png"), 400),
    ]
}

/// Endpoints open to every valid identity that list or search across
/// collections: their answers must not show restricted items to those
/// without rights.
fn listing_endpoints(p: &Probe) -> Vec<String> {
    let (lon, lat) = p.lonlat;
    vec![
        "/".into(),
        "/collections".into(),
        format!("/collections?q={}", p.collection),
        format!("/collections?bbox={},{},{},{}", lon - 0.01, lat - 0.01, lon + 0.01, lat + 0.01),
        "/queryables".into(),
        format!("/search?collections={}", p.collection),
        format!("/search?ids={}", p.item),
        format!("/search?bbox={},{},{},{}&limit=100", lon - 0.01, lat - 0.01, lon + 0.01, lat + 0.01),
        format!("/search?filter=id='{}'&filter-lang=cql2-text", p.item),
        "/me".into(),
        "/viewer/config.json".into(),
        "/wms?SERVICE=WMS&REQUEST=GetCapabilities&VERSION=1.3.0".into(),
        "/wms?SERVICE=WMS&REQUEST=GetCapabilities&VERSION=1.1.1".into(),
    ]
}

async fn call_as<S, B>(app: &S, uri: &str, who: &Identity) -> Reply
where
    S: actix_web::dev::Service<
            actix_http::Request,
            Response = actix_web::dev::ServiceResponse<B>,
            Error = actix_web::Error,
        >,
    B: actix_web::body::MessageBody,
{
    match &who.token {
        Some(t) => get_as(app, uri, t).await,
        None => get(app, uri).await,
    }
}

fn assert_refusal(r: &Reply, uri: &str, who: &Identity) {
    assert_eq!(r.status, 401, "{} {uri}: {}", who.name, r.text());
    if uri.starts_with("/wms") {
        assert!(r.text().contains("ServiceExceptionReport"), "{}", r.text());
    } else {
        assert_eq!(r.json()["code"], "Unauthorized");
    }
    assert!(
        r.headers.get("www-authenticate").is_some(),
        "401 without WWW-Authenticate"
    );
}

fn config() -> tuilerie::config::Config {
    let mut c = common::config(false);
    c.raster.roots = vec![raster_demo().dir.path().to_path_buf()];
    c.raster.threads = 2;
    c.cache.disk_dir = None;
    c
}

#[actix_web::test]
async fn every_endpoint_answers_each_identity_by_its_rights() {
    // The raster demo's store is private to this test binary: accounts may be added.
    let db = raster_demo().db.clone();
    let catalog = open_db(&db).await;
    let people = identities(&catalog).await;
    drop(catalog);
    let config = config();
    let app = app(db.clone(), config).await;
    let admin = people.iter().find(|p| p.name == "admin").unwrap();
    let admin_token = admin.token.clone().unwrap();
    let mut probes = Vec::new();
    for (collection, _) in RESTRICTED {
        probes.push(probe(&app, &admin_token, collection).await);
    }
    let mut checked = 0;
    for who in &people {
        for p in &probes {
            let entitled = who.entitled(p.collection);
            for (uri, denied_status) in restricted_endpoints(p) {
                let r = call_as(&app, &uri, who).await;
                checked += 1;
                if who.refused() {
                    assert_refusal(&r, &uri, who);
                } else if entitled {
                    assert_eq!(r.status, 200, "{} {uri}: {}", who.name, r.text());
                } else {
                    assert_eq!(r.status, denied_status, "{} {uri}: {}", who.name, r.text());
                    if uri.starts_with("/wms") {
                        assert!(r.text().contains("LayerNotDefined"), "{}", r.text());
                    }
                }
            }
            for uri in listing_endpoints(p) {
                let r = call_as(&app, &uri, who).await;
                checked += 1;
                if who.refused() {
                    assert_refusal(&r, &uri, who);
                    continue;
                }
                assert_eq!(r.status, 200, "{} {uri}: {}", who.name, r.text());
                // Links echo the request (its ids, its filter): look at the rest.
                let text = if r.content_type.contains("json") {
                    let mut v = r.json();
                    if let Some(o) = v.as_object_mut() {
                        o.remove("links");
                    }
                    v.to_string()
                } else {
                    r.text()
                };
                let shows_item = p.other_ids.iter().any(|id| text.contains(id.as_str()));
                if !entitled {
                    assert!(
                        !shows_item,
                        "{} sees an item of {} in {uri}",
                        who.name, p.collection
                    );
                    assert!(
                        !text.contains(&format!("<Name>{}</Name>", p.collection)),
                        "{} sees the WMS layer {} in {uri}",
                        who.name,
                        p.collection
                    );
                    assert!(
                        !text.contains(&format!("\"id\":\"{}\"", p.collection)),
                        "{} sees the collection {} in {uri}",
                        who.name,
                        p.collection
                    );
                } else if uri.starts_with("/search?ids=") || uri.starts_with("/search?filter=") {
                    assert!(shows_item, "{} does not find {} in {uri}", who.name, p.item);
                }
            }
        }
    }
    eprintln!("{checked} requests checked");
}

#[actix_web::test]
async fn search_counts_only_what_the_caller_may_see() {
    let db = raster_demo().db.clone();
    let catalog = open_db(&db).await;
    let people = identities(&catalog).await;
    drop(catalog);
    let app = app(db, config()).await;
    let mut matched = BTreeMap::new();
    for who in people.iter().filter(|p| !p.refused()) {
        let body = json!({"limit": 1});
        let r = match &who.token {
            Some(t) => post_as(&app, "/search", &body, t).await,
            None => post(&app, "/search", &body).await,
        };
        assert_eq!(r.status, 200, "{}", r.text());
        let page: Value = r.json();
        matched.insert(who.name, page["numberMatched"].as_u64().unwrap());
    }
    // Open collections only for anonymous callers and the unsigned organisation.
    assert_eq!(matched["anonymous"], matched["charter not signed"]);
    assert!(matched["scientific"] > matched["anonymous"]);
    assert_eq!(matched["scientific"], matched["public-actor"]);
    assert!(matched["private-rd"] > matched["anonymous"]);
    assert!(matched["private-rd"] < matched["scientific"]);
    assert_eq!(matched["admin"], matched["scientific"]);
}
