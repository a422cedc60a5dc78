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
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use tuilerie::auth::keys;
use tuilerie::catalog::SharedCatalog;
use tuilerie::catalog::accounts::{KeyRecord, Organisation, User};
use tuilerie::raster::tms;

const ISSUER: &str = "https://sso.example.org/realms/dinamis";
const AUDIENCE: &str = "tuilerie";

/// An RSA key made by the openssl CLI (PKCS#1 DER, what jsonwebtoken signs with).
fn rsa_key(dir: &Path, name: &str) -> EncodingKey {
    let run = |args: &[&str]| {
        let ok = Command::new("openssl")
            .current_dir(dir)
            .args(args)
            .stderr(std::process::Stdio::null())
            .status()
            .expect("the openssl command")
            .success();
        assert!(ok, "openssl {args:?}");
    };
    let (pem, der) = (format!("{name}.pem"), format!("{name}.der"));
    run(&[
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:2048",
        "-out",
        &pem,
    ]);
    run(&[
        "rsa",
        "-in",
        &pem,
        "-traditional",
        "-outform",
        "DER",
        "-out",
        &der,
    ]);
    EncodingKey::from_rsa_der(&std::fs::read(dir.join(der)).unwrap())
}

/// The identity provider: its signing key, a forger's key, and the JWKS file.
struct Provider {
    key: EncodingKey,
    forger: EncodingKey,
    jwks: PathBuf,
    _dir: tempfile::TempDir,
}

fn provider() -> &'static Provider {
    static P: OnceLock<Provider> = OnceLock::new();
    P.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let key = rsa_key(dir.path(), "idp");
        let forger = rsa_key(dir.path(), "forger");
        let mut jwk = Jwk::from_encoding_key(&key, Algorithm::RS256).unwrap();
        jwk.common.key_id = Some("idp-1".into());
        let jwks = dir.path().join("jwks.json");
        std::fs::write(
            &jwks,
            serde_json::to_string(&JwkSet { keys: vec![jwk] }).unwrap(),
        )
        .unwrap();
        Provider {
            key,
            forger,
            jwks,
            _dir: dir,
        }
    })
}

fn token(claims: Value, key: &EncodingKey) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("idp-1".into());
    jsonwebtoken::encode(&header, &claims, key).unwrap()
}

fn claims(roles: &[&str], org: &str, exp_from_now: i64) -> Value {
    let now = jsonwebtoken::get_current_timestamp() as i64;
    json!({"iss": ISSUER, "aud": AUDIENCE, "sub": "ada", "name": "Ada", "exp": now + exp_from_now,
           "iat": now, "roles": roles, "org": org})
}

/// An unsigned token (`alg: none`), built by hand.
fn unsigned_token() -> String {
    use base64::Engine;
    let b64 = |v: &Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string().as_bytes())
    };
    format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT"})),
        b64(&claims(&["dinamis-scientific"], "lab", 600))
    )
}

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
    let forged_key = format!("{}{}", &scientific[..scientific.len() - 1], "Z").replace("ZZ", "YZ");
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
        Identity {
            name: "OIDC public-actor",
            token: Some(token(
                claims(&["dinamis-public"], "ministry", 600),
                &provider().key,
            )),
            roles: Some(vec!["public-actor"]),
        },
        Identity {
            name: "OIDC, organisation unknown",
            token: Some(token(
                claims(&["dinamis-scientific"], "elsewhere", 600),
                &provider().key,
            )),
            roles: Some(vec![]),
        },
        Identity {
            name: "expired JWT",
            token: Some(token(
                claims(&["dinamis-scientific"], "lab", -3600),
                &provider().key,
            )),
            roles: None,
        },
        Identity {
            name: "forged JWT",
            token: Some(token(
                claims(&["dinamis-scientific"], "lab", 600),
                &provider().forger,
            )),
            roles: None,
        },
        Identity {
            name: "unsigned JWT (alg none)",
            token: Some(unsigned_token()),
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
    /// The first vertex of each of those items' footprints, as a JSON
    /// answer spells it.
    footprints: Vec<String>,
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
    let page = get_as(
        app,
        &format!("/collections/{collection}/items?limit=100"),
        admin,
    )
    .await;
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
        footprints: features
            .iter()
            .map(|f| {
                let vertex = &f["geometry"]["coordinates"][0][0];
                assert!(vertex.is_array(), "{collection}: a footprint without rings");
                vertex.to_string()
            })
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
        (
            format!("/collections/{c}/items/{i}/tiles/WebMercatorQuad/{z}/{x}/{y}.png"),
            404,
        ),
        (
            format!("/collections/{c}/items/{i}/WebMercatorQuad/tilejson.json"),
            404,
        ),
        (
            format!("/collections/{c}/items/{i}/WMTSCapabilities.xml"),
            404,
        ),
        (format!("/collections/{c}/items/{i}/statistics"), 404),
        (format!("/collections/{c}/items/{i}/point/{lon},{lat}"), 404),
        (
            format!("/collections/{c}/items/{i}/preview.png?max_size=64"),
            404,
        ),
        (format!("/collections/{c}/items/{i}/info"), 404),
        (
            format!("/collections/{c}/tiles/WebMercatorQuad/{z}/{x}/{y}.png"),
            404,
        ),
        (
            format!("/collections/{c}/WebMercatorQuad/tilejson.json"),
            404,
        ),
        (format!("/collections/{c}/WMTSCapabilities.xml"), 404),
        (
            format!("/collections/{c}/items/{i}/assets/{a}/download"),
            404,
        ),
        (
            format!(
                "{wms}&REQUEST=GetMap&LAYERS={c}&STYLES=&CRS=EPSG:3857&BBOX={bbox}&WIDTH=64&HEIGHT=64&FORMAT=image/png"
            ),
            400,
        ),
        (
            format!(
                "{wms}&REQUEST=GetFeatureInfo&LAYERS={c}&QUERY_LAYERS={c}&STYLES=&CRS=EPSG:3857&BBOX={bbox}&WIDTH=64&HEIGHT=64&I=32&J=32&INFO_FORMAT=application/json"
            ),
            400,
        ),
        (
            format!("{wms}&REQUEST=GetLegendGraphic&LAYER={c}&FORMAT=image/png"),
            400,
        ),
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
        format!(
            "/collections?bbox={},{},{},{}",
            lon - 0.01,
            lat - 0.01,
            lon + 0.01,
            lat + 0.01
        ),
        "/queryables".into(),
        format!("/search?collections={}", p.collection),
        format!("/search?ids={}", p.item),
        format!(
            "/search?bbox={},{},{},{}&limit=100",
            lon - 0.01,
            lat - 0.01,
            lon + 0.01,
            lat + 0.01
        ),
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
    c.auth.oidc.issuer = Some(ISSUER.into());
    c.auth.oidc.audience = vec![AUDIENCE.into()];
    c.auth.oidc.jwks = Some(provider().jwks.display().to_string());
    c.auth.oidc.role_map = BTreeMap::from([
        ("dinamis-scientific".to_string(), "scientific".to_string()),
        ("dinamis-public".to_string(), "public-actor".to_string()),
    ]);
    c.validate().unwrap();
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
                let shows_footprint = p.footprints.iter().any(|v| text.contains(v.as_str()));
                if !entitled {
                    assert!(
                        !shows_item,
                        "{} sees an item of {} in {uri}",
                        who.name, p.collection
                    );
                    assert!(
                        !shows_footprint,
                        "{} sees a footprint of {} in {uri}",
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
                    // (The check above would see a footprint.)
                    assert!(shows_footprint, "{} gets no footprint in {uri}", who.name);
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
    // A key given as `api_key` stays in the paging links, so following them
    // keeps the caller's view.
    let first = get(
        &app,
        &format!("/search?limit=2&collections=pleiades&api_key={SCIENTIST}"),
    )
    .await;
    assert_eq!(first.status, 200);
    let first = first.json();
    let next = next_link(&first).unwrap()["href"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(next.contains("api_key="), "{next}");
    let second = get(&app, &local(&next)).await.json();
    assert_eq!(second["features"].as_array().unwrap().len(), 2);
    assert_eq!(second["numberMatched"], first["numberMatched"]);
    // Open collections only for anonymous callers and the unsigned organisation.
    assert_eq!(matched["anonymous"], matched["charter not signed"]);
    assert!(matched["scientific"] > matched["anonymous"]);
    assert_eq!(matched["scientific"], matched["public-actor"]);
    assert!(matched["private-rd"] > matched["anonymous"]);
    assert!(matched["private-rd"] < matched["scientific"]);
    assert_eq!(matched["admin"], matched["scientific"]);
}

/// The `<Name>`s of the layers of a WMS capabilities document, in order.
fn layer_names(capabilities: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(capabilities).unwrap();
    doc.descendants()
        .filter(|n| n.has_tag_name("Layer"))
        .filter_map(|l| {
            l.children()
                .find(|c| c.has_tag_name("Name"))
                .and_then(|n| n.text())
                .map(String::from)
        })
        .collect()
}

#[actix_web::test]
async fn the_root_wms_layer_paints_exactly_the_visible_layers() {
    let db = raster_demo().db.clone();
    let catalog = open_db(&db).await;
    let people = identities(&catalog).await;
    drop(catalog);
    let app = app(db, config()).await;
    let admin = people.iter().find(|p| p.name == "admin").unwrap();
    let probe = probe(&app, admin.token.as_deref().unwrap(), "pleiades").await;
    let b = probe.box3857;
    let map = |layers: &str| {
        format!(
            "/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS={layers}&STYLES=&CRS=EPSG:3857\
             &BBOX={},{},{},{}&WIDTH=128&HEIGHT=128&FORMAT=image/png&TRANSPARENT=TRUE",
            b[0], b[1], b[2], b[3]
        )
    };
    let mut images = BTreeMap::new();
    for who in people.iter().filter(|p| !p.refused()) {
        let caps = call_as(
            &app,
            "/wms?SERVICE=WMS&REQUEST=GetCapabilities&VERSION=1.3.0",
            who,
        )
        .await;
        let names = layer_names(&caps.text());
        let (root, layers) = names.split_first().unwrap();
        assert_eq!(
            layers.contains(&"pleiades".to_string()),
            who.entitled("pleiades"),
            "{}: {names:?}",
            who.name
        );
        let whole = call_as(&app, &map(root), who).await;
        assert_eq!(whole.status, 200, "{}: {}", who.name, whole.text());
        let each = call_as(&app, &map(&layers.join(",")), who).await;
        assert_eq!(each.status, 200, "{}: {}", who.name, each.text());
        let (whole, each) = (
            image::load_from_memory(&whole.body).unwrap().to_rgba8(),
            image::load_from_memory(&each.body).unwrap().to_rgba8(),
        );
        assert!(
            whole == each,
            "{}: the root layer is not its visible layers",
            who.name
        );
        images.insert(who.name, whole);
    }
    // The box shows Pléiades pixels to those entitled, and none to the others.
    assert!(images["scientific"] != images["anonymous"]);
    assert!(images["admin"] == images["scientific"]);
    assert!(images["charter not signed"] == images["anonymous"]);
}

/// A real HTTP server over a store (concurrent clients need one).
fn serve(db: Db, config: tuilerie::config::Config) -> u16 {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let state =
                actix_web::web::Data::new(tuilerie::api::AppState::new(open_db(&db).await, config));
            let server = actix_web::HttpServer::new(move || tuilerie::api::app(state.clone()))
                .workers(4)
                .bind(("127.0.0.1", 0))
                .unwrap();
            tx.send(server.addrs()[0].port()).unwrap();
            server.run().await.unwrap();
        })
    });
    rx.recv().unwrap()
}

/// Status and body of a GET with a bearer token (no error on 4xx).
fn fetch(url: &str, token: &str) -> (u16, Vec<u8>) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut r = agent
        .get(url)
        .header("Authorization", &format!("Bearer {token}"))
        .call()
        .unwrap();
    let status = r.status().as_u16();
    (status, r.body_mut().read_to_vec().unwrap())
}

/// The geodesic area (km²) of an item's footprint, computed here from its GeoJSON.
fn area_km2(item: &Value) -> f64 {
    use geo::GeodesicArea;
    let g: geojson::Geometry = serde_json::from_value(item["geometry"].clone()).unwrap();
    let g: geo::Geometry<f64> = g.value.try_into().unwrap();
    g.geodesic_area_unsigned() / 1e6
}

#[test]
fn fifty_concurrent_downloads_at_the_quota_edge_never_pass_it() {
    // The raster demo's store (private to this binary), with a user of its own.
    let (dir, db) = (raster_demo().dir.path(), raster_demo().db.clone());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let catalog = rt.block_on(open_db(&db));
    rt.block_on(add_org(&catalog, "lab", true));
    let key = rt.block_on(add_user_key(&catalog, "racer", "lab", &["scientific"]));
    drop(catalog);
    // The demo items' assets are under this store's directory.
    let items: Vec<Value> = {
        let mut c = common::config(false);
        c.raster.roots = vec![dir.to_path_buf()];
        let port = serve(db.clone(), c);
        let (status, body) = fetch(
            &format!("http://127.0.0.1:{port}/collections/pleiades/items?limit=100"),
            &key,
        );
        assert_eq!(status, 200);
        let page: Value = serde_json::from_slice(&body).unwrap();
        // 20 items for 50 downloads: most are asked for two or three times at
        // once, and a second download of an item must not count again.
        page["features"].as_array().unwrap()[..20].to_vec()
    };
    let asset = "MS";
    for item in &items {
        let href = item["assets"][asset]["href"].as_str().unwrap();
        assert!(Path::new(href).exists(), "{href}");
    }
    let areas: Vec<f64> = items.iter().map(area_km2).collect();
    let total: f64 = areas.iter().sum();
    // A quota that some items fit in, but not all.
    let quota = total * 0.55;
    let mut config = common::config(false);
    config.raster.roots = vec![dir.to_path_buf()];
    config.auth.quotas = BTreeMap::from([(
        "pleiades".to_string(),
        BTreeMap::from([("scientific".to_string(), quota)]),
    )]);
    let port = serve(db.clone(), config);
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(50));
    let handles: Vec<_> = (0..50)
        .map(|n| {
            let item = items[n % items.len()]["id"].as_str().unwrap().to_string();
            let (key, barrier) = (key.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                let url = format!(
                    "http://127.0.0.1:{port}/collections/pleiades/items/{item}/assets/{asset}/download"
                );
                let (status, body) = fetch(&url, &key);
                (item, status, body)
            })
        })
        .collect();
    let results: Vec<(String, u16, Vec<u8>)> =
        handles.into_iter().map(|h| h.join().unwrap()).collect();
    let granted: std::collections::BTreeSet<&str> = results
        .iter()
        .filter(|r| r.1 == 200)
        .map(|r| r.0.as_str())
        .collect();
    let denied = results.iter().filter(|r| r.1 == 403).count();
    assert_eq!(
        results.iter().filter(|r| r.1 != 200 && r.1 != 403).count(),
        0,
        "{:?}",
        results.iter().map(|r| r.1).collect::<Vec<_>>()
    );
    let counted: f64 = items
        .iter()
        .zip(&areas)
        .filter(|(i, _)| granted.contains(i["id"].as_str().unwrap()))
        .map(|(_, a)| a)
        .sum();
    eprintln!(
        "{} items of {total:.3} km², quota {quota:.3}: {} granted ({counted:.3} km²), {denied} refused",
        items.len(),
        granted.len()
    );
    assert!(!granted.is_empty() && denied > 0);
    assert!(counted <= quota + 1e-9, "{counted} > {quota}");
    // Granted bytes are the file's.
    for (item, status, body) in &results {
        if *status == 200 {
            let i = items.iter().find(|i| i["id"] == item.as_str()).unwrap();
            let href = i["assets"][asset]["href"].as_str().unwrap();
            assert_eq!(body, &std::fs::read(href).unwrap());
        } else {
            let v: Value = serde_json::from_slice(body).unwrap();
            assert_eq!(v["code"], "QuotaExceeded");
            assert!((v["quota_km2"].as_f64().unwrap() - quota).abs() < 1e-6);
            assert!(
                v["used_km2"].as_f64().unwrap() + v["needed_km2"].as_f64().unwrap() > quota - 1e-3
            );
        }
    }
    // The store agrees: /me and the ledger.
    let (_, me) = fetch(&format!("http://127.0.0.1:{port}/me"), &key);
    let me: Value = serde_json::from_slice(&me).unwrap();
    let used = me["quotas"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["collection"] == "pleiades")
        .unwrap()["used_km2"]
        .as_f64()
        .unwrap();
    assert!((used - counted).abs() < 1e-2, "/me {used} vs {counted}");
    let catalog = rt.block_on(open_db(&db));
    let ledger = rt.block_on(catalog.accounts().ledger(None)).unwrap();
    let mine: Vec<_> = ledger.iter().filter(|e| e.user == "racer").collect();
    assert_eq!(mine.len(), granted.len());
    let audit = rt
        .block_on(catalog.accounts().audit_events(100_000))
        .unwrap();
    let downloads: Vec<_> = audit
        .iter()
        .filter(|e| e.action == "download" && e.user.as_deref() == Some("racer"))
        .collect();
    assert_eq!(downloads.len(), 50, "every grant and denial is audited");
    assert_eq!(
        downloads.iter().filter(|e| e.outcome == "denied").count(),
        denied
    );
}

#[test]
fn rate_limits_answer_429_with_retry_after() {
    let db = raster_demo().db.clone();
    let mut config = config();
    config.auth.rate_limit.per_key_per_s = 1.0;
    config.auth.rate_limit.per_key_burst = 5;
    config.auth.rate_limit.per_ip_per_s = 1.0;
    config.auth.rate_limit.per_ip_burst = 8;
    config.auth.rate_limit.auth_failures_per_min = 1.0;
    config.auth.rate_limit.auth_failures_burst = 3;
    let port = serve(db, config);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let get = |path: &str, token: Option<&str>| {
        let mut req = agent.get(&format!("http://127.0.0.1:{port}{path}"));
        if let Some(t) = token {
            req = req.header("Authorization", &format!("Bearer {t}"));
        }
        let r = req.call().unwrap();
        (
            r.status().as_u16(),
            r.headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .map(String::from),
        )
    };
    // Anonymous callers, by address: the burst, then 429 with Retry-After.
    let statuses: Vec<u16> = (0..12).map(|_| get("/collections", None).0).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        8,
        "{statuses:?}"
    );
    let (status, retry) = get("/collections", None);
    assert_eq!(status, 429);
    assert!(retry.unwrap().parse::<u64>().unwrap() >= 1);
    // A key has its own bucket.
    let statuses: Vec<u16> = (0..8)
        .map(|_| get("/collections", Some(SCIENTIST)).0)
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        5,
        "{statuses:?}"
    );
    // Failed authentications from one address are throttled.
    let bad = "tui_aaaaaaaaaaaa_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let statuses: Vec<u16> = (0..5).map(|_| get("/collections", Some(bad)).0).collect();
    assert_eq!(&statuses[..3], &[401, 401, 401], "{statuses:?}");
    assert_eq!(&statuses[3..], &[429, 429], "{statuses:?}");
}

/// Runs the `tuilerie` binary on a store; returns stdout, panics on failure.
fn cli(db: &Db, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_tuilerie"))
        .args(args)
        .args(["--store", db.spec()])
        .env("TUILERIE_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "tuilerie {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[actix_web::test]
async fn the_account_commands_manage_keys_quotas_and_the_ledger() {
    let db = raster_demo().db.clone();
    cli(
        &db,
        &[
            "orgs",
            "add",
            "cnes",
            "--name",
            "CNES",
            "--charter-signed",
            "2025-09-01",
        ],
    );
    cli(
        &db,
        &[
            "users",
            "add",
            "bea@cnes.fr",
            "--org",
            "cnes",
            "--role",
            "public-actor",
        ],
    );
    let key = cli(&db, &["keys", "create", "bea@cnes.fr", "--label", "qgis"]);
    let key = key.trim().to_string();
    assert!(keys::parse(&key).is_some(), "{key}");
    let listed = cli(&db, &["keys", "list", "--user", "bea@cnes.fr"]);
    let id = keys::parse(&key).unwrap().id.to_string();
    assert!(
        listed.contains(&id) && !listed.contains(&key[18..]),
        "{listed}"
    );
    // A bad role or a missing organisation is refused, nothing written.
    let bad = Command::new(env!("CARGO_BIN_EXE_tuilerie"))
        .args([
            "users",
            "add",
            "x",
            "--org",
            "nowhere",
            "--role",
            "scientific",
        ])
        .args(["--store", db.spec()])
        .env("TUILERIE_LOG", "warn")
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("nowhere"));

    let app = app(db.clone(), config()).await;
    let pleiades = get_as(&app, "/collections/pleiades/items?limit=1", &key).await;
    assert_eq!(pleiades.status, 200);
    let item = pleiades.json()["features"][0].clone();
    let id_item = item["id"].as_str().unwrap();
    let r = get_as(
        &app,
        &format!("/collections/pleiades/items/{id_item}/assets/MS/download"),
        &key,
    )
    .await;
    assert_eq!(r.status, 200);
    let csv = cli(&db, &["ledger"]);
    let line = csv
        .lines()
        .find(|l| l.contains("bea@cnes.fr"))
        .unwrap_or_else(|| panic!("{csv}"));
    let area: f64 = line.rsplit(',').next().unwrap().parse().unwrap();
    assert!((area - area_km2(&item)).abs() < 1e-3, "{line}");
    assert!(cli(&db, &["users", "quota", "bea@cnes.fr"]).contains("pleiades"));
    // Other tests of this binary write to the same audit trail meanwhile.
    assert!(cli(&db, &["audit", "--limit", "100000"]).contains("bea@cnes.fr"));

    cli(
        &db,
        &[
            "users",
            "reset-quota",
            "bea@cnes.fr",
            "--collection",
            "pleiades",
        ],
    );
    assert!(!cli(&db, &["ledger"]).contains("bea@cnes.fr"));
    // Charter withdrawn: the roles grant nothing (visible at once).
    cli(&db, &["orgs", "charter", "cnes", "none"]);
    let r = get_as(&app, "/collections/pleiades", &key).await;
    assert_eq!(r.status, 404);
    cli(&db, &["orgs", "charter", "cnes", "2025-09-01"]);
    assert_eq!(
        get_as(&app, "/collections/pleiades", &key).await.status,
        200
    );
    // Revoked: refused at once, by the running server.
    cli(&db, &["keys", "revoke", &id]);
    let r = get_as(&app, "/collections/pleiades", &key).await;
    assert_eq!(r.status, 401);
    assert!(r.text().contains("revoked"));
}

#[actix_web::test]
async fn downloads_reach_only_the_data_roots_and_allowed_hosts() {
    // A store of its own: the collection written here must not change the
    // counts other tests of this binary compare.
    let (dir, db) = demo_copy();
    let mut c = config();
    c.raster.roots = vec![dir.path().to_path_buf()];
    c.auth.admin_token = Some(ADMIN_TOKEN.into());
    let app = app(db, c).await;
    let collection = json!({
        "type": "Collection", "stac_version": "1.1.0", "id": "hrefs-test",
        "description": "Asset hrefs that must not be followed", "license": "CC-BY-4.0",
        "extent": {"spatial": {"bbox": [[-5, 41, 10, 51]]}, "temporal": {"interval": [["2020-01-01T00:00:00Z", null]]}},
        "links": []
    });
    let r = post_as(&app, "/collections", &collection, ADMIN_TOKEN).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let root = dir.path().display().to_string();
    let hrefs = [
        ("passwd", "/etc/passwd".to_string()),
        ("traversal", format!("{root}/../../etc/passwd")),
        ("file-url", "file:///etc/shadow".to_string()),
        (
            "metadata",
            "http://169.254.169.254/latest/meta-data/".to_string(),
        ),
        ("loopback", "http://127.0.0.1:22/".to_string()),
        ("vsi", "/vsicurl/http://internal.example/x.tif".to_string()),
    ];
    let assets: serde_json::Map<String, Value> = hrefs
        .iter()
        .map(|(k, h)| (k.to_string(), json!({"href": h, "roles": ["data"]})))
        .collect();
    let item = json!({
        "type": "Feature", "stac_version": "1.1.0", "id": "bad-hrefs", "collection": "hrefs-test",
        "geometry": {"type": "Polygon", "coordinates": [[[1.0, 43.0], [1.1, 43.0], [1.1, 43.1], [1.0, 43.1], [1.0, 43.0]]]},
        "properties": {"datetime": "2024-01-01T00:00:00Z"},
        "assets": assets, "links": []
    });
    let r = post_as(&app, "/collections/hrefs-test/items", &item, ADMIN_TOKEN).await;
    assert_eq!(r.status, 201, "{}", r.text());
    for (key, href) in &hrefs {
        let r = get(
            &app,
            &format!("/collections/hrefs-test/items/bad-hrefs/assets/{key}/download"),
        )
        .await;
        assert_eq!(r.status, 403, "{href}: {}", r.text());
        assert_eq!(r.json()["code"], "Forbidden", "{href}");
        assert!(!r.text().contains("root:"), "{href}");
    }
    let r = get(
        &app,
        "/collections/hrefs-test/items/bad-hrefs/assets/none/download",
    )
    .await;
    r.assert_error(404, "no asset");
}
