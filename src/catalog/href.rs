//! Resolving the relative hrefs of STAC files read from disk or the web.

use std::path::{Path, PathBuf};

/// The location a STAC document was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Base {
    /// A local file.
    File(PathBuf),
    /// A URL.
    Url(String),
}

impl Base {
    /// Returns the absolute form of `href`, or `None` when it is already absolute.
    pub fn resolve(&self, href: &str) -> Option<String> {
        if is_absolute(href) {
            return None;
        }
        match self {
            Base::File(file) => {
                let dir = file.parent().unwrap_or(Path::new("."));
                Some(normalize(&dir.join(href)).to_string_lossy().into_owned())
            }
            Base::Url(url) => url::Url::parse(url).ok()?.join(href).ok().map(String::from),
        }
    }

    /// The base of a document found at `href` relative to this one.
    pub fn join(&self, href: &str) -> Base {
        if href.starts_with("http://") || href.starts_with("https://") {
            return Base::Url(href.to_string());
        }
        if let Some(path) = href.strip_prefix("file://") {
            return Base::File(PathBuf::from(path));
        }
        if Path::new(href).is_absolute() {
            return Base::File(PathBuf::from(href));
        }
        match self.resolve(href) {
            Some(resolved) => match self {
                Base::File(_) => Base::File(PathBuf::from(resolved)),
                Base::Url(_) => Base::Url(resolved),
            },
            None => Base::File(PathBuf::from(href)),
        }
    }
}

/// True for URLs with a scheme and for absolute paths.
pub fn is_absolute(href: &str) -> bool {
    if href.starts_with('/') {
        return true;
    }
    match href.split_once(':') {
        // A scheme is letters, digits, '+', '-', '.', starting with a letter;
        // a single letter is a Windows drive, which we do not treat as a scheme.
        Some((scheme, _)) => {
            scheme.len() > 1
                && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        }
        None => false,
    }
}

/// Removes `.` and `..` components without touching the file system.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves() {
        let b = Base::File(PathBuf::from("/data/cat/items/a.json"));
        assert_eq!(b.resolve("./B04.tif").unwrap(), "/data/cat/items/B04.tif");
        assert_eq!(b.resolve("../x.tif").unwrap(), "/data/cat/x.tif");
        assert!(b.resolve("https://x/y.tif").is_none());
        assert!(b.resolve("s3://bucket/y.tif").is_none());
        assert!(b.resolve("/abs/y.tif").is_none());
        let u = Base::Url("https://h/a/b/c.json".into());
        assert_eq!(u.resolve("../d.tif").unwrap(), "https://h/a/d.tif");
    }
}
