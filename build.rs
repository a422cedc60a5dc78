//! Build script.
//!
//! **Linking.** rusqlite's `bundled` SQLite is linked statically. An
//! executable exports any symbol a shared library it links references, so
//! without this flag GDAL's own `libsqlite3` calls (GeoPackage, …) would
//! resolve to our copy, built with different options, and crash.
//! `--exclude-libs,ALL` keeps every symbol of the static archives out of the
//! dynamic symbol table.
//!
//! **The web viewer.** `viewer/` is bundled (`npm ci` when its
//! `node_modules` is missing or older than the lock file, then
//! `node build.mjs`) into `$OUT_DIR/viewer`, and every file there is embedded
//! through a generated table (`$OUT_DIR/viewer_assets.rs`, included by
//! `src/api/viewer.rs`), so the binary is self-contained. Cargo reruns this
//! only when the viewer's sources change. Environment variables:
//!
//! - `TUILERIE_VIEWER_DIST=DIR`: embed an already built bundle (the output of
//!   `npm run build`, `viewer/dist`) instead; npm is not needed.
//! - `TUILERIE_VIEWER_SKIP=1`: embed a one-page placeholder instead of the
//!   viewer (builds without Node.js; `/viewer` says how to get the real one).

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rustc-link-arg=-Wl,--exclude-libs,ALL");
    println!("cargo:rerun-if-changed=build.rs");
    if let Err(message) = embed_viewer() {
        eprintln!("\nerror: {message}\n");
        panic!("the web viewer could not be built: {message}");
    }
}

const PLACEHOLDER: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<title>Tuilerie viewer not built</title></head><body><h1>The web viewer was left out of this build</h1>\
<p>This binary was built with <code>TUILERIE_VIEWER_SKIP</code> set. Rebuild without it (Node.js and npm \
needed, see <code>scripts/setup</code>) to get the viewer. The STAC API is at <a href=\"%BASE%\">%BASE%</a>.</p>\
</body></html>\n";

fn embed_viewer() -> Result<(), String> {
    println!("cargo:rerun-if-env-changed=TUILERIE_VIEWER_DIST");
    println!("cargo:rerun-if-env-changed=TUILERIE_VIEWER_SKIP");
    let out = PathBuf::from(std::env::var("OUT_DIR").map_err(|e| format!("OUT_DIR: {e}"))?);
    let manifest = PathBuf::from(
        std::env::var("CARGO_MANIFEST_DIR").map_err(|e| format!("CARGO_MANIFEST_DIR: {e}"))?,
    );
    let viewer = manifest.join("viewer");

    let dist = if std::env::var_os("TUILERIE_VIEWER_SKIP").is_some_and(|v| !v.is_empty()) {
        let dir = out.join("viewer-placeholder");
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        std::fs::write(dir.join("index.html"), PLACEHOLDER)
            .map_err(|e| format!("{}: {e}", dir.display()))?;
        dir
    } else if let Some(dir) = std::env::var_os("TUILERIE_VIEWER_DIST").filter(|v| !v.is_empty()) {
        let dir = PathBuf::from(dir);
        if !dir.join("index.html").is_file() {
            return Err(format!(
                "TUILERIE_VIEWER_DIST={} has no index.html; build it with `npm run build` in viewer/",
                dir.display()
            ));
        }
        println!("cargo:rerun-if-changed={}", dir.display());
        dir
    } else {
        for watched in ["src", "build.mjs", "package.json", "package-lock.json"] {
            println!("cargo:rerun-if-changed={}", viewer.join(watched).display());
        }
        let dir = out.join("viewer");
        build_bundle(&viewer, &dir)?;
        dir
    };
    write_table(&dist, &out.join("viewer_assets.rs"))
}

/// `npm ci` when needed, then the bundler into `dir`.
fn build_bundle(viewer: &Path, dir: &Path) -> Result<(), String> {
    let lock = viewer.join("package-lock.json");
    let installed = viewer.join("node_modules/.package-lock.json");
    let fresh = match (modified(&installed), modified(&lock)) {
        (Some(i), Some(l)) => i >= l,
        _ => false,
    };
    if !fresh {
        run(
            Command::new(npm())
                .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
                .current_dir(viewer),
            "npm ci",
        )?;
    }
    run(
        Command::new(node())
            .arg("build.mjs")
            .arg("--outdir")
            .arg(dir)
            .current_dir(viewer),
        "node build.mjs",
    )
}

fn npm() -> String {
    std::env::var("NPM").unwrap_or_else(|_| "npm".into())
}

fn node() -> String {
    std::env::var("NODE").unwrap_or_else(|_| "node".into())
}

fn modified(p: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

fn run(cmd: &mut Command, what: &str) -> Result<(), String> {
    let output = cmd.output().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            format!(
                "`{what}` could not start: Node.js and npm are needed to build the web viewer \
                 ({e}). Install them (`scripts/setup` does, or `apt-get install nodejs npm`), \
                 or set TUILERIE_VIEWER_DIST to a built viewer, or TUILERIE_VIEWER_SKIP=1 to \
                 build without the viewer."
            )
        } else {
            format!("`{what}` could not start: {e}")
        }
    })?;
    if output.status.success() {
        return Ok(());
    }
    Err(format!(
        "`{what}` failed ({}) in viewer/:\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    ))
}

/// Writes `static VIEWER_ASSETS: &[(&str, &[u8])]`: every file under `dist`
/// (paths relative to it, `/`-separated), but the build stamp.
fn write_table(dist: &Path, table: &Path) -> Result<(), String> {
    let mut files = Vec::new();
    walk(dist, dist, &mut files)?;
    files.sort();
    let mut code = String::from("/// The viewer's files: path under `/viewer/`, content.\n");
    code.push_str("pub static VIEWER_ASSETS: &[(&str, &[u8])] = &[\n");
    for (rel, abs) in &files {
        code.push_str(&format!("    ({rel:?}, include_bytes!({abs:?})),\n"));
    }
    code.push_str("];\n");
    std::fs::write(table, code).map_err(|e| format!("{}: {e}", table.display()))
}

fn walk(root: &Path, dir: &Path, files: &mut Vec<(String, String)>) -> Result<(), String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| format!("{}: {e}", dir.display()))?.path();
        if path.is_dir() {
            walk(root, &path, files)?;
            continue;
        }
        let Ok(rel) = path.strip_prefix(root) else {
            continue;
        };
        let rel = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        if rel == ".stamp" {
            continue;
        }
        files.push((rel, path.display().to_string()));
    }
    Ok(())
}
