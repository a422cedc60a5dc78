//! Configuration: defaults, a TOML file, `TUILERIE_*` environment variables and
//! command-line flags, in increasing order of precedence.
//!
//! Every setting has a dotted key (`store.readers`) used in the file (as a
//! table and key), in the environment (`TUILERIE_STORE_READERS`) and in error
//! messages. Unknown keys in a file are errors; unknown `TUILERIE_*` variables
//! are reported as warnings.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;
use thiserror::Error;

/// Configuration errors.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {0}: {1}")]
    Read(PathBuf, std::io::Error),
    /// The file is not valid TOML or has unknown keys or wrong types.
    #[error("config file {0}: {1}")]
    Parse(PathBuf, String),
    /// A setting has an invalid value.
    #[error("{source_name}: {key} = {value:?}: {reason}")]
    Value {
        /// Where the value came from (file, environment variable, flag).
        source_name: String,
        /// Dotted key.
        key: String,
        /// The offending value.
        value: String,
        /// What is wrong.
        reason: String,
    },
}

/// HTTP server settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address and port to listen on.
    pub bind: String,
    /// Public base URL of the API (e.g. behind a proxy); links are built from
    /// the request's Host when unset.
    pub public_url: Option<String>,
    /// HTTP worker threads (0: one per core).
    pub workers: usize,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            bind: "127.0.0.1:8080".into(),
            public_url: None,
            workers: 0,
            max_body_bytes: 16 * 1024 * 1024,
        }
    }
}

/// Store settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// An SQLite file path (`data/tuilerie.db`) or a `postgres://` URL.
    pub url: String,
    /// Reader threads of the embedded store.
    pub readers: usize,
    /// Queries that may wait for a reader before answering 503.
    pub queue: usize,
    /// Time budget of one query, in milliseconds.
    pub query_timeout_ms: u64,
    /// `numberMatched` policy: `auto` (exact when the search is estimated to
    /// match at most `count_limit` items), `exact` (always), `none`.
    pub count: String,
    /// Largest estimated match count that `auto` still counts.
    pub count_limit: u64,
    /// PostgreSQL: connections in the pool (default: twice the cores, at
    /// least 4). More connections than the database's cores only make the
    /// backends take turns: requests then wait their turn in the pool, in
    /// order, rather than all slowing down together (tail latency).
    pub pool_size: usize,
    /// PostgreSQL: seconds `serve` waits for the database at start-up,
    /// retrying with back-off (0: forever); other commands wait at most 30 s.
    pub connect_wait_s: u64,
    /// PostgreSQL: a CA certificate (PEM) to trust for TLS (`sslmode=require`
    /// in the URL turns TLS on; the system roots are trusted too).
    pub tls_ca_file: Option<PathBuf>,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            url: "data/tuilerie.db".into(),
            readers: 4,
            queue: 256,
            query_timeout_ms: 10_000,
            count: "auto".into(),
            count_limit: 2_000,
            pool_size: std::thread::available_parallelism()
                .map_or(4, |n| n.get() * 2)
                .max(4),
            connect_wait_s: 0,
            tls_ca_file: None,
        }
    }
}

/// Search settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SearchConfig {
    /// Page size when a request gives none.
    pub default_limit: usize,
    /// Largest page size; larger requests are clamped.
    pub max_limit: usize,
}

impl Default for SearchConfig {
    fn default() -> Self {
        SearchConfig {
            default_limit: 10,
            max_limit: 10_000,
        }
    }
}

/// The catalogue's own description and shipped collections.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct CatalogConfig {
    /// Id of the root catalog.
    pub id: String,
    /// Title of the root catalog.
    pub title: String,
    /// Description of the root catalog.
    pub description: String,
    /// Directory of collection definitions loaded (and upserted) at start-up;
    /// empty to load none.
    pub collections_dir: Option<PathBuf>,
}

impl Default for CatalogConfig {
    fn default() -> Self {
        CatalogConfig {
            id: "tuilerie".into(),
            title: "Tuilerie".into(),
            description: "STAC catalogue and tile server for Earth-observation imagery and thematic products (Data Terra / THEIA / DINAMIS)".into(),
            collections_dir: None,
        }
    }
}

/// Authentication settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// Bearer token that enables the Transactions extension; unset disables it.
    pub admin_token: Option<String>,
    /// Yearly download quotas in km² that replace those of the collections'
    /// `tuilerie:access.quotas_km2`: `[auth.quotas.spot-6-7] private-rd = 2000`.
    pub quotas: std::collections::BTreeMap<String, std::collections::BTreeMap<String, f64>>,
    /// `[auth.oidc]`: OpenID Connect bearer tokens (off unless `issuer` is set).
    pub oidc: crate::auth::oidc::OidcConfig,
    /// `[auth.rate_limit]`: request rates per address and per caller, and the
    /// throttle of failed authentications.
    pub rate_limit: crate::auth::ratelimit::RateLimitConfig,
}

/// Logging settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// A `tracing` filter (`info`, `tuilerie=debug,actix_web=info`, …).
    pub level: String,
    /// `text` or `json`.
    pub format: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info".into(),
            format: "text".into(),
        }
    }
}

/// Raster engine settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RasterConfig {
    /// Local directories asset files may be read from (nothing else is).
    pub roots: Vec<PathBuf>,
    /// Remote hosts (`example.org`, `.example.org` for subdomains) and S3
    /// buckets (`s3://bucket`) assets may be read from.
    pub allowed_hosts: Vec<String>,
    /// GDAL threads (0: one per core).
    pub threads: usize,
    /// Rendering jobs that may wait for a GDAL thread before answering 503.
    pub queue: usize,
    /// Open datasets kept per GDAL thread.
    pub datasets: usize,
    /// Most items painted into one collection mosaic tile.
    pub max_items_per_tile: usize,
    /// Largest side of previews and of the image statistics are computed on.
    pub max_preview_size: usize,
}

impl Default for RasterConfig {
    fn default() -> Self {
        RasterConfig {
            roots: Vec::new(),
            allowed_hosts: Vec::new(),
            threads: 0,
            queue: 256,
            datasets: 512,
            max_items_per_tile: 500,
            max_preview_size: 2048,
        }
    }
}

impl RasterConfig {
    /// GDAL threads to start.
    pub fn thread_count(&self) -> usize {
        if self.threads > 0 {
            self.threads
        } else {
            std::thread::available_parallelism().map_or(2, |n| n.get())
        }
    }
}

/// WMS settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct WmsConfig {
    /// Service title (default: the catalogue's title).
    pub title: Option<String>,
    /// Service abstract (default: the catalogue's description).
    pub r#abstract: Option<String>,
    /// CRSs offered by every layer, as `EPSG:n` or `CRS:84`.
    pub crs: Vec<String>,
    /// Largest GetMap width.
    pub max_width: usize,
    /// Largest GetMap height.
    pub max_height: usize,
    /// Most TIME values listed one by one in capabilities; beyond, an
    /// interval `start/end/P1D` is given.
    pub max_time_values: usize,
}

/// The CRSs of French Earth-observation products: WGS84, Web Mercator,
/// Lambert-93, RGF93 geographic, UTM 30–32N (mainland), and the overseas
/// departments' UTM zones (Antilles, Guyane, Réunion, Mayotte).
pub const DEFAULT_WMS_CRS: &[&str] = &[
    "CRS:84",
    "EPSG:4326",
    "EPSG:3857",
    "EPSG:2154",
    "EPSG:4171",
    "EPSG:32630",
    "EPSG:32631",
    "EPSG:32632",
    "EPSG:5490",
    "EPSG:2972",
    "EPSG:2975",
    "EPSG:4471",
];

impl Default for WmsConfig {
    fn default() -> Self {
        WmsConfig {
            title: None,
            r#abstract: None,
            crs: DEFAULT_WMS_CRS.iter().map(|c| c.to_string()).collect(),
            max_width: 4096,
            max_height: 4096,
            max_time_values: 500,
        }
    }
}

/// The web viewer (`/viewer`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ViewerConfig {
    /// Serve the viewer at `/viewer` and send browsers asking `/` there.
    pub enabled: bool,
    /// Basemap XYZ template (`{z}`, `{x}`, `{y}`); empty for none (the viewer
    /// then draws a neutral land/sea background and a graticule).
    pub basemap_url: String,
    /// Attribution shown for the basemap.
    pub basemap_attribution: String,
    /// Highest zoom level of the basemap's tiles.
    pub basemap_max_zoom: u8,
    /// Initial view centre, `[longitude, latitude]`.
    pub center: Vec<f64>,
    /// Initial zoom level.
    pub zoom: f64,
    /// Serve the viewer's files from this directory instead of the ones
    /// embedded in the binary (development: `npm run build` in `viewer/`,
    /// then reload the page).
    pub assets_dir: Option<PathBuf>,
}

impl Default for ViewerConfig {
    fn default() -> Self {
        ViewerConfig {
            enabled: true,
            basemap_url: "https://tile.openstreetmap.org/{z}/{x}/{y}.png".into(),
            basemap_attribution: "© OpenStreetMap contributors".into(),
            basemap_max_zoom: 19,
            center: vec![2.5, 46.6],
            zoom: 5.0,
            assets_dir: None,
        }
    }
}

fn list(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// The whole configuration.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `[server]`
    pub server: ServerConfig,
    /// `[store]`
    pub store: StoreConfig,
    /// `[search]`
    pub search: SearchConfig,
    /// `[catalog]`
    pub catalog: CatalogConfig,
    /// `[auth]`
    pub auth: AuthConfig,
    /// `[log]`
    pub log: LogConfig,
    /// `[raster]`
    pub raster: RasterConfig,
    /// `[cache]`
    pub cache: crate::cache::CacheConfig,
    /// `[wms]`
    pub wms: WmsConfig,
    /// `[viewer]`
    pub viewer: ViewerConfig,
}

/// Every settable key, for environment variables and documentation.
pub const KEYS: &[&str] = &[
    "server.bind",
    "server.public_url",
    "server.workers",
    "server.max_body_bytes",
    "store.url",
    "store.readers",
    "store.queue",
    "store.query_timeout_ms",
    "store.count",
    "store.count_limit",
    "store.pool_size",
    "store.connect_wait_s",
    "store.tls_ca_file",
    "search.default_limit",
    "search.max_limit",
    "catalog.id",
    "catalog.title",
    "catalog.description",
    "catalog.collections_dir",
    "auth.admin_token",
    "auth.oidc.issuer",
    "auth.oidc.audience",
    "auth.oidc.jwks",
    "auth.rate_limit.enabled",
    "auth.rate_limit.per_ip_per_s",
    "auth.rate_limit.per_key_per_s",
    "log.level",
    "log.format",
    "raster.roots",
    "raster.allowed_hosts",
    "raster.threads",
    "raster.queue",
    "raster.datasets",
    "raster.max_items_per_tile",
    "raster.max_preview_size",
    "cache.memory_mb",
    "cache.disk_dir",
    "cache.disk_mb",
    "cache.cache_control",
    "wms.title",
    "wms.abstract",
    "wms.crs",
    "wms.max_width",
    "wms.max_height",
    "wms.max_time_values",
    "viewer.enabled",
    "viewer.basemap_url",
    "viewer.basemap_attribution",
    "viewer.basemap_max_zoom",
    "viewer.center",
    "viewer.zoom",
    "viewer.assets_dir",
];

/// Short environment names for the most used settings.
const ALIASES: &[(&str, &str)] = &[
    ("TUILERIE_BIND", "server.bind"),
    ("TUILERIE_PUBLIC_URL", "server.public_url"),
    ("TUILERIE_STORE", "store.url"),
    ("TUILERIE_ADMIN_TOKEN", "auth.admin_token"),
    ("TUILERIE_LOG", "log.level"),
];

/// Environment variables read by the command line itself, not settings.
/// (The `TUILERIE_VIEWER_DIST` and `TUILERIE_VIEWER_SKIP` variables are read
/// by the build script, see `build.rs`.)
const NOT_SETTINGS: &[&str] = &[
    "TUILERIE_CONFIG",
    "TUILERIE_VIEWER_DIST",
    "TUILERIE_VIEWER_SKIP",
];

/// The environment variable of a key (`store.readers` → `TUILERIE_STORE_READERS`).
pub fn env_name(key: &str) -> String {
    format!("TUILERIE_{}", key.replace('.', "_").to_ascii_uppercase())
}

fn parse<T: std::str::FromStr>(v: &str) -> Result<T, String>
where
    T::Err: std::fmt::Display,
{
    v.trim().parse::<T>().map_err(|e| e.to_string())
}

fn optional(v: &str) -> Option<String> {
    let v = v.trim();
    (!v.is_empty()).then(|| v.to_string())
}

impl Config {
    /// Sets one key from its text form.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        match key {
            "server.bind" => self.server.bind = value.trim().to_string(),
            "server.public_url" => self.server.public_url = optional(value),
            "server.workers" => self.server.workers = parse(value)?,
            "server.max_body_bytes" => self.server.max_body_bytes = parse(value)?,
            "store.url" => self.store.url = value.trim().to_string(),
            "store.readers" => self.store.readers = parse(value)?,
            "store.queue" => self.store.queue = parse(value)?,
            "store.query_timeout_ms" => self.store.query_timeout_ms = parse(value)?,
            "store.count" => self.store.count = value.trim().to_string(),
            "store.count_limit" => self.store.count_limit = parse(value)?,
            "store.pool_size" => self.store.pool_size = parse(value)?,
            "store.connect_wait_s" => self.store.connect_wait_s = parse(value)?,
            "store.tls_ca_file" => self.store.tls_ca_file = optional(value).map(PathBuf::from),
            "search.default_limit" => self.search.default_limit = parse(value)?,
            "search.max_limit" => self.search.max_limit = parse(value)?,
            "catalog.id" => self.catalog.id = value.to_string(),
            "catalog.title" => self.catalog.title = value.to_string(),
            "catalog.description" => self.catalog.description = value.to_string(),
            "catalog.collections_dir" => {
                self.catalog.collections_dir = optional(value).map(PathBuf::from)
            }
            "auth.admin_token" => self.auth.admin_token = optional(value),
            "auth.oidc.issuer" => self.auth.oidc.issuer = optional(value),
            "auth.oidc.audience" => self.auth.oidc.audience = list(value),
            "auth.oidc.jwks" => self.auth.oidc.jwks = optional(value),
            "auth.rate_limit.enabled" => self.auth.rate_limit.enabled = parse(value)?,
            "auth.rate_limit.per_ip_per_s" => self.auth.rate_limit.per_ip_per_s = parse(value)?,
            "auth.rate_limit.per_key_per_s" => self.auth.rate_limit.per_key_per_s = parse(value)?,
            "log.level" => self.log.level = value.trim().to_string(),
            "log.format" => self.log.format = value.trim().to_string(),
            "raster.roots" => {
                self.raster.roots = list(value).into_iter().map(PathBuf::from).collect()
            }
            "raster.allowed_hosts" => self.raster.allowed_hosts = list(value),
            "raster.threads" => self.raster.threads = parse(value)?,
            "raster.queue" => self.raster.queue = parse(value)?,
            "raster.datasets" => self.raster.datasets = parse(value)?,
            "raster.max_items_per_tile" => self.raster.max_items_per_tile = parse(value)?,
            "raster.max_preview_size" => self.raster.max_preview_size = parse(value)?,
            "cache.memory_mb" => self.cache.memory_mb = parse(value)?,
            "cache.disk_dir" => self.cache.disk_dir = optional(value).map(PathBuf::from),
            "cache.disk_mb" => self.cache.disk_mb = parse(value)?,
            "cache.cache_control" => self.cache.cache_control = value.trim().to_string(),
            "wms.title" => self.wms.title = optional(value),
            "wms.abstract" => self.wms.r#abstract = optional(value),
            "wms.crs" => self.wms.crs = list(value),
            "wms.max_width" => self.wms.max_width = parse(value)?,
            "wms.max_height" => self.wms.max_height = parse(value)?,
            "wms.max_time_values" => self.wms.max_time_values = parse(value)?,
            "viewer.enabled" => self.viewer.enabled = parse(value)?,
            "viewer.basemap_url" => self.viewer.basemap_url = value.trim().to_string(),
            "viewer.basemap_attribution" => self.viewer.basemap_attribution = value.to_string(),
            "viewer.basemap_max_zoom" => self.viewer.basemap_max_zoom = parse(value)?,
            "viewer.center" => {
                self.viewer.center = list(value)
                    .iter()
                    .map(|v| parse::<f64>(v))
                    .collect::<Result<_, _>>()?
            }
            "viewer.zoom" => self.viewer.zoom = parse(value)?,
            "viewer.assets_dir" => self.viewer.assets_dir = optional(value).map(PathBuf::from),
            other => return Err(format!("unknown setting '{other}'")),
        }
        Ok(())
    }

    /// Reads a TOML file over the defaults.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|e| ConfigError::Read(path.to_path_buf(), e))?;
        let mut config: Config = toml::from_str(&text)
            .map_err(|e| ConfigError::Parse(path.to_path_buf(), e.to_string()))?;
        // An empty directory means "none", as in the environment.
        if config
            .cache
            .disk_dir
            .as_ref()
            .is_some_and(|d| d.as_os_str().is_empty())
        {
            config.cache.disk_dir = None;
        }
        Ok(config)
    }

    /// Applies `TUILERIE_*` variables; returns warnings for unknown ones.
    pub fn apply_env(
        &mut self,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Vec<String>, ConfigError> {
        let mut warnings = Vec::new();
        let mut pending: Vec<(String, &str, String)> = Vec::new();
        for (name, value) in vars {
            if !name.starts_with("TUILERIE_") || NOT_SETTINGS.contains(&name.as_str()) {
                continue;
            }
            let key = ALIASES
                .iter()
                .find(|(alias, _)| *alias == name)
                .map(|(_, key)| *key)
                .or_else(|| KEYS.iter().copied().find(|k| env_name(k) == name));
            match key {
                Some(key) => pending.push((name, key, value)),
                None => warnings.push(format!(
                    "ignoring unknown environment variable {name}; settings are {}",
                    KEYS.iter()
                        .map(|k| env_name(k))
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            }
        }
        // Aliases first, so that a full name given too wins over its alias.
        pending.sort_by_key(|(name, key, _)| *name == env_name(key));
        for (name, key, value) in pending {
            self.set(key, &value).map_err(|reason| ConfigError::Value {
                source_name: format!("environment variable {name}"),
                key: key.to_string(),
                value,
                reason,
            })?;
        }
        Ok(warnings)
    }

    /// Checks values that parse but make no sense.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, value: String, reason: &str| ConfigError::Value {
            source_name: "configuration".into(),
            key: key.into(),
            value,
            reason: reason.into(),
        };
        if self.search.default_limit == 0 || self.search.default_limit > self.search.max_limit {
            return Err(bad(
                "search.default_limit",
                self.search.default_limit.to_string(),
                "must be between 1 and search.max_limit",
            ));
        }
        if self.raster.max_items_per_tile == 0 {
            return Err(bad(
                "raster.max_items_per_tile",
                "0".into(),
                "must be at least 1",
            ));
        }
        if !(64..=8192).contains(&self.raster.max_preview_size) {
            return Err(bad(
                "raster.max_preview_size",
                self.raster.max_preview_size.to_string(),
                "must be between 64 and 8192",
            ));
        }
        if self.store.pool_size == 0 {
            return Err(bad("store.pool_size", "0".into(), "must be at least 1"));
        }
        if self.store.readers == 0 {
            return Err(bad("store.readers", "0".into(), "must be at least 1"));
        }
        if !matches!(self.store.count.as_str(), "auto" | "exact" | "none") {
            return Err(bad(
                "store.count",
                self.store.count.clone(),
                "must be auto, exact or none",
            ));
        }
        if !matches!(self.log.format.as_str(), "text" | "json") {
            return Err(bad(
                "log.format",
                self.log.format.clone(),
                "must be text or json",
            ));
        }
        let center_ok = matches!(self.viewer.center.as_slice(),
            [lon, lat] if (-180.0..=180.0).contains(lon) && (-85.0..=85.0).contains(lat));
        if !center_ok {
            return Err(bad(
                "viewer.center",
                format!("{:?}", self.viewer.center),
                "must be [longitude, latitude] in degrees",
            ));
        }
        if !(0.0..=22.0).contains(&self.viewer.zoom) || self.viewer.basemap_max_zoom > 24 {
            return Err(bad(
                "viewer.zoom",
                self.viewer.zoom.to_string(),
                "zoom must be between 0 and 22 (basemap_max_zoom at most 24)",
            ));
        }
        if let Some(url) = &self.server.public_url
            && url::Url::parse(url).is_err()
        {
            return Err(bad(
                "server.public_url",
                url.clone(),
                "must be an absolute URL",
            ));
        }
        if let Some(token) = &self.auth.admin_token
            && token.len() < 16
        {
            return Err(bad(
                "auth.admin_token",
                "…".into(),
                "must be at least 16 characters",
            ));
        }
        if let Err(e) = crate::auth::oidc::OidcVerifier::new(&self.auth.oidc) {
            return Err(bad("auth.oidc", "…".into(), &e.to_string()));
        }
        if let Err(e) = self.auth.rate_limit.validate() {
            return Err(bad("auth.rate_limit", "…".into(), &e.to_string()));
        }
        for (collection, roles) in &self.auth.quotas {
            for (role, km2) in roles {
                if !crate::catalog::scope::LICENCE_ROLES.contains(&role.as_str()) {
                    return Err(bad(
                        &format!("auth.quotas.{collection}"),
                        role.clone(),
                        "roles are scientific, public-actor and private-rd",
                    ));
                }
                if !(km2.is_finite() && *km2 >= 0.0) {
                    return Err(bad(
                        &format!("auth.quotas.{collection}.{role}"),
                        km2.to_string(),
                        "must be a number of km² >= 0",
                    ));
                }
            }
        }
        Ok(())
    }

    /// The store query budget.
    pub fn query_timeout(&self) -> Duration {
        Duration::from_millis(self.store.query_timeout_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_rejects_unknown_keys() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(&p, "[server]\nbind = \"0.0.0.0:9000\"\nbnid = 1\n").unwrap();
        let err = Config::from_file(&p).unwrap_err().to_string();
        assert!(err.contains("bnid"), "{err}");
        std::fs::write(&p, "[server]\nbind = \"0.0.0.0:9000\"\n").unwrap();
        assert_eq!(Config::from_file(&p).unwrap().server.bind, "0.0.0.0:9000");
    }

    #[test]
    fn env_overrides_and_reports() {
        let mut c = Config::default();
        let warnings = c
            .apply_env([
                ("TUILERIE_STORE_READERS".to_string(), "8".to_string()),
                ("TUILERIE_BIND".to_string(), "0.0.0.0:1".to_string()),
                ("TUILERIE_SERVER_BIND".to_string(), "0.0.0.0:2".to_string()),
                ("TUILERIE_NOPE".to_string(), "x".to_string()),
                ("PATH".to_string(), "/bin".to_string()),
            ])
            .unwrap();
        assert_eq!(c.store.readers, 8);
        assert_eq!(c.server.bind, "0.0.0.0:2");
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("TUILERIE_NOPE"));
        let err = c
            .apply_env([("TUILERIE_STORE_READERS".to_string(), "many".to_string())])
            .unwrap_err()
            .to_string();
        assert!(err.contains("TUILERIE_STORE_READERS"), "{err}");
    }

    #[test]
    fn every_key_is_settable() {
        for key in KEYS {
            let mut c = Config::default();
            let value = match *key {
                k if k.ends_with("count") => "auto",
                "viewer.enabled" => "true",
                _ => "1",
            };
            let r = c.set(key, value);
            assert!(r.is_ok() || !r.unwrap_err().contains("unknown"), "{key}");
        }
    }
}
