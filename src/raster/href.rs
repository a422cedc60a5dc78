//! Which asset hrefs the engine may open, and as what GDAL path.
//!
//! Local files only under configured roots (after resolving `..` and symlinks),
//! `http(s)://` through `/vsicurl/` and `s3://` through `/vsis3/` only for
//! allow-listed hosts and buckets. Everything else — GDAL virtual paths,
//! connection strings, other schemes — is refused: an href comes from item
//! metadata, and must not let anyone read arbitrary files or reach internal
//! hosts through the server.

use super::error::{RasterError, Result};
use std::path::{Path, PathBuf};

/// The policy: local roots and remote hosts.
#[derive(Debug, Clone, Default)]
pub struct HrefPolicy {
    roots: Vec<PathBuf>,
    hosts: Vec<String>,
}

impl HrefPolicy {
    /// A policy allowing files under `roots` and URLs on `hosts` (`example.org`,
    /// `.example.org` for subdomains, `s3://bucket` for S3 buckets).
    pub fn new(roots: &[PathBuf], hosts: &[String]) -> HrefPolicy {
        HrefPolicy {
            roots: roots
                .iter()
                .map(|r| r.canonicalize().unwrap_or_else(|_| r.clone()))
                .collect(),
            hosts: hosts
                .iter()
                .map(|h| h.trim().to_ascii_lowercase())
                .collect(),
        }
    }

    /// Adds a local root (e.g. the demo directory).
    pub fn with_root(mut self, root: &Path) -> HrefPolicy {
        self.roots
            .push(root.canonicalize().unwrap_or_else(|_| root.to_path_buf()));
        self
    }

    fn host_allowed(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        self.hosts.iter().any(|h| {
            if let Some(suffix) = h.strip_prefix('.') {
                host == suffix || host.ends_with(&format!(".{suffix}"))
            } else {
                *h == host
            }
        })
    }

    /// The GDAL path to open for an href, or why it may not be opened.
    pub fn resolve(&self, href: &str) -> Result<String> {
        if href.is_empty() || href.chars().any(char::is_control) {
            return Err(RasterError::Forbidden(
                "asset href is empty or has control characters".into(),
            ));
        }
        if let Some(rest) = href.strip_prefix("s3://") {
            let bucket = rest.split('/').next().unwrap_or("");
            if !self
                .hosts
                .iter()
                .any(|h| h == &format!("s3://{}", bucket.to_ascii_lowercase()))
            {
                return Err(RasterError::Forbidden(format!(
                    "asset bucket s3://{bucket} is not in the allow-list (raster.allowed_hosts)"
                )));
            }
            return Ok(format!("/vsis3/{rest}"));
        }
        if href.starts_with("http://") || href.starts_with("https://") {
            let url = url::Url::parse(href).map_err(|e| {
                RasterError::Forbidden(format!("asset href is not a valid URL: {e}"))
            })?;
            let host = url.host_str().unwrap_or("");
            if !self.host_allowed(host) {
                return Err(RasterError::Forbidden(format!(
                    "asset host '{host}' is not in the allow-list (raster.allowed_hosts)"
                )));
            }
            return Ok(format!("/vsicurl/{href}"));
        }
        let path = match href.strip_prefix("file://") {
            Some(p) => PathBuf::from(p),
            None if href.starts_with('/') && !href.starts_with("/vsi") => PathBuf::from(href),
            None => {
                return Err(RasterError::Forbidden(format!(
                    "asset href '{href}' is neither an absolute path under a data root nor an allowed URL"
                )));
            }
        };
        if path
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
        {
            return Err(RasterError::Forbidden(
                "asset path may not contain '..'".into(),
            ));
        }
        let real = path.canonicalize().map_err(|_| {
            RasterError::BadAsset(format!("asset file {} does not exist", path.display()))
        })?;
        if !self.roots.iter().any(|root| real.starts_with(root)) {
            return Err(RasterError::Forbidden(format!(
                "asset file {} is outside the data roots (raster.roots)",
                path.display()
            )));
        }
        real.to_str()
            .map(str::to_string)
            .ok_or_else(|| RasterError::BadAsset("asset path is not UTF-8".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_paths_stay_under_roots() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let inside = root.path().join("a.tif");
        std::fs::write(&inside, b"x").unwrap();
        let secret = outside.path().join("secret.tif");
        std::fs::write(&secret, b"x").unwrap();
        std::os::unix::fs::symlink(&secret, root.path().join("link.tif")).unwrap();
        let p = HrefPolicy::new(&[root.path().to_path_buf()], &[]);
        assert!(p.resolve(inside.to_str().unwrap()).is_ok());
        assert!(p.resolve(&format!("file://{}", inside.display())).is_ok());
        for bad in [
            secret.display().to_string(),
            root.path().join("link.tif").display().to_string(),
            format!("{}/../{}", root.path().display(), outside.path().display()),
            "/vsicurl/http://169.254.169.254/latest".to_string(),
            "relative/a.tif".to_string(),
            "MEM:::DATAPOINTER=0".to_string(),
        ] {
            assert!(
                matches!(p.resolve(&bad), Err(RasterError::Forbidden(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            p.resolve(&root.path().join("missing.tif").display().to_string()),
            Err(RasterError::BadAsset(_))
        ));
    }

    #[test]
    fn remote_hosts_must_be_allowed() {
        let p = HrefPolicy::new(&[], &[".example.org".into(), "s3://sentinel-cogs".into()]);
        assert_eq!(
            p.resolve("https://data.example.org/a.tif").unwrap(),
            "/vsicurl/https://data.example.org/a.tif"
        );
        assert!(p.resolve("https://example.org.evil.com/a.tif").is_err());
        assert!(p.resolve("http://localhost/a.tif").is_err());
        assert_eq!(
            p.resolve("s3://sentinel-cogs/x/B04.tif").unwrap(),
            "/vsis3/sentinel-cogs/x/B04.tif"
        );
        assert!(p.resolve("s3://other/x.tif").is_err());
    }
}
