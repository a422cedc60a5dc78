//! The PostgreSQL store as operators run it: several `tuilerie serve`
//! processes on one database, and a database that goes down and comes back.
//!
//! These tests need `TUILERIE_TEST_POSTGRES` (a cluster URL, as `scripts/test`
//! provides) and the cluster's binaries (for a private cluster they stop and
//! start). Without it they print "SKIPPED postgres …", which `scripts/test`
//! treats as a failure.

mod common;

use common::*;
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free TCP port on the loopback interface.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A reply of the HTTP helper.
struct Http {
    status: u16,
    body: Vec<u8>,
}

impl Http {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}), status {}: {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

/// One HTTP/1.1 request to 127.0.0.1:port (None when nothing listens).
fn http(port: u16, method: &str, path: &str, body: Option<&Value>) -> Option<Http> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).ok()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    let mut body = raw[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    Some(Http { status, body })
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = data.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&data[..eol]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = eol + 2;
        out.extend_from_slice(&data[start..(start + size).min(data.len())]);
        data = &data[(start + size + 2).min(data.len())..];
    }
    out
}

/// A `tuilerie serve` process, killed when dropped.
struct Server {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start(store: &str, dir: &Path, name: &str) -> Server {
        let port = free_port();
        let log = dir.join(format!("{name}.log"));
        let child = Command::new(env!("CARGO_BIN_EXE_tuilerie"))
            .args([
                "serve",
                "--store",
                store,
                "--bind",
                &format!("127.0.0.1:{port}"),
            ])
            .env_remove("TUILERIE_TEST_POSTGRES")
            .env("TUILERIE_ADMIN_TOKEN", ADMIN_TOKEN)
            .env("TUILERIE_LOG", "info")
            .env("TUILERIE_RASTER_ROOTS", rasters().display().to_string())
            .env("TUILERIE_STORE_QUERY_TIMEOUT_MS", "3000")
            .env("TUILERIE_CACHE_DISK_DIR", "")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Server { child, port, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until /health answers 200.
    fn wait_ready(&mut self, within: Duration) {
        let started = Instant::now();
        loop {
            if let Some(r) = http(self.port, "GET", "/health", None)
                && r.status == 200
            {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("the server exited ({status}):\n{}", self.log());
            }
            assert!(
                started.elapsed() < within,
                "the server was not ready in {within:?}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn get(&self, path: &str) -> Http {
        http(self.port, "GET", path, None).unwrap_or_else(|| panic!("no answer to GET {path}"))
    }

    fn send(&self, method: &str, path: &str, body: &Value) -> Http {
        http(self.port, method, path, Some(body))
            .unwrap_or_else(|| panic!("no answer to {method} {path}"))
    }
}

fn rasters() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/rasters")
        .canonicalize()
        .unwrap_or_else(|_| PathBuf::from("/nonexistent"))
}

/// The WebMercatorQuad tile holding a point.
fn tile_at(z: u32, lon: f64, lat: f64) -> (u64, u64) {
    let n = 2f64.powi(z as i32);
    let x = ((lon + 180.0) / 360.0 * n).floor() as u64;
    let lat = lat.to_radians();
    let y = ((1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / std::f64::consts::PI) / 2.0 * n).floor()
        as u64;
    (x, y)
}

fn raster_item(id: &str, href: &str, bbox: [f64; 4], title: &str) -> Value {
    let [w, s, e, n] = bbox;
    json!({
        "type": "Feature", "stac_version": "1.0.0", "id": id, "collection": "pg-shared",
        "bbox": bbox,
        "geometry": {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]},
        "properties": {"datetime": "2024-06-01T10:00:00Z", "title": title},
        "assets": {"data": {"href": href, "type": "image/tiff; application=geotiff", "roles": ["data"]}},
        "links": []
    })
}

/// The cluster URL, or None after saying the test is skipped.
fn cluster(test: &str) -> Option<String> {
    let url = postgres();
    if url.is_none() {
        eprintln!(
            "SKIPPED postgres {test}: TUILERIE_TEST_POSTGRES is not set (scripts/test sets it)"
        );
    }
    url
}

#[test]
fn two_instances_share_one_database() {
    let Some(_) = cluster("two_instances_share_one_database") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_db(dir.path(), "unused");
    let mut a = Server::start(db.spec(), dir.path(), "a");
    let mut b = Server::start(db.spec(), dir.path(), "b");
    a.wait_ready(Duration::from_secs(60));
    b.wait_ready(Duration::from_secs(60));

    // A collection created through A exists for B at once.
    let collection = json!({
        "type": "Collection", "stac_version": "1.0.0", "id": "pg-shared",
        "description": "Written through one instance, read through the other", "license": "other",
        "extent": {"spatial": {"bbox": [[-180, -90, 180, 90]]},
                   "temporal": {"interval": [["2000-01-01T00:00:00Z", null]]}},
        "links": []
    });
    let r = a.send("POST", "/collections", &collection);
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(b.get("/collections/pg-shared").status, 200);

    // An item written through B is read through A, and searchable there.
    let landsat = rasters().join("landsat/rasterio_RGB.byte.tif");
    let bbox = wgs84_bounds(&landsat);
    let item = raster_item("shared-1", &landsat.display().to_string(), bbox, "first");
    let r = b.send("POST", "/collections/pg-shared/items", &item);
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let got = a.get("/collections/pg-shared/items/shared-1");
    assert_eq!(got.status, 200);
    assert_eq!(got.json()["properties"]["title"], "first");
    let found = a.send(
        "POST",
        "/search",
        &json!({"collections": ["pg-shared"], "bbox": bbox}),
    );
    assert_eq!(ids(&found.json()), vec!["shared-1"]);

    // A tile rendered (and cached) by both instances...
    let (cx, cy) = ((bbox[0] + bbox[2]) / 2.0, (bbox[1] + bbox[3]) / 2.0);
    let (x, y) = tile_at(9, cx, cy);
    let tile = format!("/collections/pg-shared/items/shared-1/tiles/WebMercatorQuad/9/{x}/{y}.png");
    let first_a = a.get(&tile);
    assert_eq!(
        first_a.status,
        200,
        "{}",
        String::from_utf8_lossy(&first_a.body)
    );
    let first_b = b.get(&tile);
    assert_eq!(first_a.body, first_b.body);

    // ...is not served stale by A once B updates the item (its asset now
    // names a file that does not exist: A must not answer from its cache).
    let gone = rasters().join("landsat/does-not-exist.tif");
    let updated = raster_item("shared-1", &gone.display().to_string(), bbox, "second");
    let r = b.send("PUT", "/collections/pg-shared/items/shared-1", &updated);
    assert!(
        r.status == 200 || r.status == 204,
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    let got = a.get("/collections/pg-shared/items/shared-1");
    assert_eq!(
        got.json()["properties"]["title"],
        "second",
        "A sees B's update at once"
    );
    let again = a.get(&tile);
    assert_ne!(
        (again.status, &again.body),
        (200, &first_a.body),
        "A served the tile of the item's previous version"
    );

    // A delete through A is seen by B.
    let r = http(
        a.port,
        "DELETE",
        "/collections/pg-shared/items/shared-1",
        None,
    )
    .unwrap();
    assert!(r.status == 200 || r.status == 204);
    assert_eq!(b.get("/collections/pg-shared/items/shared-1").status, 404);
}

/// A private cluster this test may stop and start.
struct Cluster {
    dir: tempfile::TempDir,
    port: u16,
}

impl Cluster {
    fn script() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/pg-cluster")
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn start(&self) -> String {
        let out = Command::new(Self::script())
            .args([
                "start",
                &self.data().display().to_string(),
                &self.port.to_string(),
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "cannot start a private cluster: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn stop(&self) {
        let out = Command::new(Self::script())
            .args(["stop", &self.data().display().to_string()])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new(Self::script())
            .args(["stop", &self.data().display().to_string()])
            .output();
    }
}

#[test]
fn database_down_then_back_503_then_recovery() {
    let Some(_) = cluster("database_down_then_back_503_then_recovery") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // The postgres user must reach the data directory.
    let tmp = tempfile::Builder::new()
        .prefix("tuilerie-pg")
        .tempdir()
        .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let cluster = Cluster {
        dir: tmp,
        port: free_port(),
    };
    let admin = cluster.start();
    let created = std::thread::spawn({
        let admin = admin.clone();
        move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(tuilerie::catalog::postgres::create_database(
                    &admin, "tuilerie",
                ))
        }
    })
    .join()
    .unwrap();
    let url = created.unwrap();
    cluster.stop();

    // Down at start-up: the server says so and waits, it does not exit.
    let mut server = Server::start(&url, dir.path(), "fault");
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "the server exited while the database was down:\n{}",
        server.log()
    );
    assert!(
        server.log().contains("not reachable"),
        "no clear message while waiting:\n{}",
        server.log()
    );
    cluster.start();
    server.wait_ready(Duration::from_secs(60));
    assert_eq!(server.get("/collections").status, 200);
    assert_eq!(server.get("/search?limit=1").status, 200);

    // Restarted while serving: 503 JSON while down, then service resumes.
    cluster.stop();
    let r = server.get("/search?limit=1");
    assert_eq!(r.status, 503, "{}", String::from_utf8_lossy(&r.body));
    let v = r.json();
    assert_eq!(v["code"], "ServiceUnavailable", "{v}");
    assert!(
        v["description"].as_str().unwrap_or("").contains("database"),
        "{v}"
    );
    let r = server.get("/collections");
    assert_eq!(r.status, 503);
    cluster.start();
    let started = Instant::now();
    loop {
        let r = server.get("/search?limit=1");
        if r.status == 200 {
            break;
        }
        assert_eq!(r.status, 503, "{}", String::from_utf8_lossy(&r.body));
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the service did not resume within 30 s:\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    assert_eq!(server.get("/collections").status, 200);
    assert!(server.child.try_wait().unwrap().is_none());
}
