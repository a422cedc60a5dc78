//! Ingest benchmark: how fast `tuilerie ingest` loads a 100k-item ndjson.
//!
//! ```sh
//! cargo bench --bench ingest                 # 100,000 items from ../shared/bench/stac/gen_items.py
//! ITEMS=path/to/items.ndjson COLLECTIONS=path/to/collections/ cargo bench --bench ingest
//! PHASES=parse RUNS=1 cargo bench --bench ingest   # one phase (parse, write, ingest), e.g. to profile it
//! ```
//!
//! Reports, best of `RUNS` (3): parsing alone (one thread, µs per item), writing
//! alone (pre-parsed batches into a fresh store, µs per item), and the whole
//! pipeline as the command line runs it (items/s, wall clock). The goal is
//! ≥ 50,000 items/s end to end on the project's 2-core machine.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tuilerie::catalog::ingest::{IngestOptions, Silent, ingest};
use tuilerie::catalog::sqlite::{SqliteCatalog, SqliteOptions};
use tuilerie::catalog::{ItemContext, SharedCatalog, WriteMode, parse_item};

fn dataset() -> (PathBuf, PathBuf) {
    if let (Ok(items), Ok(collections)) = (std::env::var("ITEMS"), std::env::var("COLLECTIONS")) {
        return (PathBuf::from(items), PathBuf::from(collections));
    }
    let dir = std::env::temp_dir().join("tuilerie-bench-100k");
    let items = dir.join("items.ndjson");
    if !items.exists() {
        let generator =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/bench/stac/gen_items.py");
        assert!(
            generator.exists(),
            "no dataset: set ITEMS and COLLECTIONS, or provide ../shared/bench/stac/gen_items.py"
        );
        let status = std::process::Command::new("python3")
            .arg(&generator)
            .args(["--n", "100000", "--seed", "42", "--out"])
            .arg(&dir)
            .stdout(std::process::Stdio::null())
            .status()
            .expect("python3");
        assert!(status.success(), "gen_items.py failed");
    }
    (items, dir.join("collections"))
}

fn best(runs: usize, mut f: impl FnMut() -> Duration) -> Duration {
    (0..runs).map(|_| f()).min().unwrap_or_default()
}

fn fresh_store(dir: &Path, rt: &tokio::runtime::Runtime, collections: &Path) -> SharedCatalog {
    let db = dir.join("bench.db");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    let catalog: SharedCatalog =
        Arc::new(SqliteCatalog::open(&db, SqliteOptions::default()).unwrap());
    let options = IngestOptions::default();
    ingest(
        &catalog,
        rt.handle(),
        &[collections.display().to_string()],
        &options,
        &Silent,
    )
    .unwrap();
    catalog
}

fn main() {
    let runs: usize = std::env::var("RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    let (items, collections) = dataset();
    let text = std::fs::read_to_string(&items).unwrap();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let n = lines.len();
    let mb = text.len() as f64 / 1e6;
    println!("dataset: {} ({n} items, {mb:.0} MB)", items.display());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let ctx = ItemContext::default();

    let phases = std::env::var("PHASES").unwrap_or_else(|_| "parse,write,ingest".into());
    let wanted = |phase: &str| phases.split(',').any(|p| p.trim() == phase);

    if wanted("parse") {
        let parse = best(runs, || {
            let t = Instant::now();
            for line in &lines {
                std::hint::black_box(parse_item(line, &ctx).unwrap());
            }
            t.elapsed()
        });
        println!(
            "parse (1 thread):        {:6.2} µs/item",
            parse.as_secs_f64() * 1e6 / n as f64
        );
    }

    if wanted("write") {
        let docs: Vec<_> = lines.iter().map(|l| parse_item(l, &ctx).unwrap()).collect();
        let write = best(runs, || {
            let catalog = fresh_store(scratch.path(), &rt, &collections);
            let t = Instant::now();
            for batch in docs.chunks(tuilerie::catalog::ingest::DEFAULT_BATCH) {
                rt.block_on(catalog.put_items(batch.to_vec(), WriteMode::Upsert))
                    .unwrap();
            }
            t.elapsed()
        });
        println!(
            "write (pre-parsed):      {:6.2} µs/item",
            write.as_secs_f64() * 1e6 / n as f64
        );
    }

    if wanted("ingest") {
        let whole = best(runs, || {
            let catalog = fresh_store(scratch.path(), &rt, &collections);
            let t = Instant::now();
            let report = ingest(
                &catalog,
                rt.handle(),
                &[items.display().to_string()],
                &IngestOptions::default(),
                &Silent,
            )
            .unwrap();
            assert_eq!(report.items.inserted as usize, n);
            drop(catalog); // closing checkpoints the WAL: part of the cost
            t.elapsed()
        });
        println!(
            "ingest (whole pipeline): {:6.0} items/s ({:.2} s for {n} items; goal ≥ 50,000 items/s)",
            n as f64 / whole.as_secs_f64(),
            whole.as_secs_f64()
        );
    }
}
