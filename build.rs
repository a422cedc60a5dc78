//! Build script: keep the bundled SQLite private to the binaries.
//!
//! rusqlite's `bundled` SQLite is linked statically. An executable exports any
//! symbol a shared library it links references, so without this flag GDAL's
//! own `libsqlite3` calls (GeoPackage, …) would resolve to our copy, built with
//! different options, and crash. `--exclude-libs,ALL` keeps every symbol of
//! the static archives out of the dynamic symbol table.

fn main() {
    println!("cargo:rustc-link-arg=-Wl,--exclude-libs,ALL");
    println!("cargo:rerun-if-changed=build.rs");
}
