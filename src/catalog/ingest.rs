//! Bulk ingest: STAC files in, store batches out.
//!
//! Inputs are Items, ItemCollections, Collections and Catalogs (links
//! followed), newline-delimited JSON (optionally gzipped), directories and
//! stdin. Lines are parsed on every core while writer threads write batches,
//! each batch one transaction: a crash keeps every committed batch and never
//! half an item. Invalid items are reported with their source and skipped.
//!
//! A store that takes several writers at once (PostgreSQL) gets one batch
//! stream per writer, the items shared out by a hash of (collection, id): the
//! versions of one item always go to the same writer, in input order, so the
//! last one wins as with a single writer.

use super::collection::parse_collection;
use super::error::{CatalogError, Result};
use super::href::Base;
use super::item::{ItemContext, ItemDoc, parse_item};
use super::scope::Scope;
use super::{CollectionQuery, SharedCatalog, WriteMode, WriteSummary};
use crossbeam_channel::{Receiver, Sender, bounded};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Items written per transaction.
pub const DEFAULT_BATCH: usize = 10_000;
/// Lines handed to a parser thread at once.
const CHUNK: usize = 512;
/// Rejections kept with their full reason (the rest are only counted).
const MAX_REPORTED: usize = 1_000;

/// One rejected object.
#[derive(Debug, Clone)]
pub struct Rejection {
    /// File (and line) it came from.
    pub source: String,
    /// Its id, when it had one.
    pub id: Option<String>,
    /// Why it was rejected.
    pub reason: String,
}

/// What an ingest did.
#[derive(Debug, Clone, Default)]
pub struct IngestReport {
    /// Collections created or replaced.
    pub collections: WriteSummary,
    /// Items created or replaced.
    pub items: WriteSummary,
    /// How many objects were rejected.
    pub rejected: u64,
    /// The first rejections, with reasons.
    pub rejections: Vec<Rejection>,
}

impl IngestReport {
    fn reject(&mut self, source: String, id: Option<String>, reason: String) {
        self.rejected += 1;
        if self.rejections.len() < MAX_REPORTED {
            self.rejections.push(Rejection { source, id, reason });
        }
    }

    /// Rejections grouped by reason, most frequent first: `(reason, count, first example)`.
    pub fn reasons(&self) -> Vec<(String, usize, &Rejection)> {
        let mut groups: BTreeMap<&str, (usize, &Rejection)> = BTreeMap::new();
        for r in &self.rejections {
            groups.entry(r.reason.as_str()).or_insert((0, r)).0 += 1;
        }
        let mut v: Vec<(String, usize, &Rejection)> = groups
            .into_iter()
            .map(|(k, (n, r))| (k.to_string(), n, r))
            .collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v
    }
}

/// Receives progress as items are written.
pub trait Progress: Send + Sync {
    /// Called after every batch with the running totals.
    fn items(&self, written: u64, rejected: u64);
    /// Called when a new input starts.
    fn input(&self, name: &str);
}

/// Progress that goes nowhere.
pub struct Silent;

impl Progress for Silent {
    fn items(&self, _: u64, _: u64) {}
    fn input(&self, _: &str) {}
}

/// Options of an ingest run.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// Items per transaction.
    pub batch: usize,
    /// Put every item in this collection.
    pub collection: Option<String>,
    /// Parser threads.
    pub parsers: usize,
    /// Writer threads (transactions at once); `None`: as many as the store
    /// takes (`Capabilities::writers`).
    pub writers: Option<usize>,
}

impl IngestOptions {
    /// The context items read from `base` are parsed with.
    fn context(&self, base: Option<Base>, default_collection: Option<String>) -> Arc<ItemContext> {
        Arc::new(ItemContext {
            base,
            default_collection,
            force_collection: self.collection.clone(),
        })
    }
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            batch: DEFAULT_BATCH,
            collection: None,
            parsers: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            writers: None,
        }
    }
}

/// A unit of raw input waiting to be parsed as an item.
struct Line {
    source: Arc<str>,
    number: usize,
    text: String,
    ctx: Arc<ItemContext>,
}

/// Why a line was rejected: the item's id when it could be read, and the reason.
type Rejected = (Option<String>, String);

/// A parsed chunk, tagged with its order: source, line number, outcome.
struct Parsed {
    seq: u64,
    results: Vec<(Arc<str>, usize, std::result::Result<ItemDoc, Rejected>)>,
}

/// Runs an ingest of `inputs` into `store`. Must be called outside the async
/// runtime's worker threads (it blocks); `rt` runs the store's async calls.
pub fn ingest(
    store: &SharedCatalog,
    rt: &tokio::runtime::Handle,
    inputs: &[String],
    options: &IngestOptions,
    progress: &dyn Progress,
) -> Result<IngestReport> {
    let mut report = IngestReport::default();
    let existing = rt.block_on(store.collections(
        &Scope::All,
        &CollectionQuery {
            limit: usize::MAX,
            ..Default::default()
        },
    ))?;
    let known: HashSet<String> = existing.collections.into_iter().map(|c| c.id).collect();
    let state = Mutex::new(WriterState {
        known,
        report: &mut report,
    });

    // Pass 1: collections, which items need to exist first. Pass 2: items.
    let mut item_sources: Vec<Source> = Vec::new();
    for input in inputs {
        progress.input(input);
        discover(input, options, store, rt, &state, &mut item_sources)?;
    }

    let (line_tx, line_rx) = bounded::<(u64, Vec<Line>)>(options.parsers * 4);
    let (parsed_tx, parsed_rx) = bounded::<Parsed>(options.parsers * 4);
    // One batch per writer may wait while the previous one is being
    // written, so that parsing and writing overlap.
    let writers = options
        .writers
        .unwrap_or_else(|| store.capabilities().writers)
        .max(1);
    let (batch_txs, batch_rxs): (Vec<_>, Vec<_>) =
        (0..writers).map(|_| bounded::<Vec<ItemDoc>>(1)).unzip();
    let written = AtomicU64::new(0);
    let rejected = AtomicU64::new(0);
    let items = std::thread::scope(|scope| -> Result<WriteSummary> {
        for _ in 0..options.parsers.max(1) {
            let rx = line_rx.clone();
            let tx = parsed_tx.clone();
            scope.spawn(move || parse_worker(store, rx, tx));
        }
        drop(parsed_tx);
        drop(line_rx);
        let reader = scope.spawn(move || read_sources(item_sources, line_tx));
        let (written, rejected) = (&written, &rejected);
        let writer_threads: Vec<_> = batch_rxs
            .into_iter()
            .map(|batch_rx| {
                scope.spawn(move || -> Result<WriteSummary> {
                    let mut total = WriteSummary::default();
                    for batch in batch_rx {
                        let w = rt.block_on(store.put_items(batch, WriteMode::Upsert))?;
                        total.inserted += w.inserted;
                        total.updated += w.updated;
                        let now = written.fetch_add(w.inserted + w.updated, Ordering::Relaxed)
                            + w.inserted
                            + w.updated;
                        progress.items(now, rejected.load(Ordering::Relaxed));
                    }
                    Ok(total)
                })
            })
            .collect();
        let collected = collect_batches(parsed_rx, &state, options, batch_txs, rejected);
        let read = reader
            .join()
            .map_err(|_| CatalogError::Storage("the input reader panicked".into()))?;
        let mut items = WriteSummary::default();
        let mut failed = None;
        for writer in writer_threads {
            match writer.join() {
                Ok(Ok(w)) => {
                    items.inserted += w.inserted;
                    items.updated += w.updated;
                }
                Ok(Err(e)) => failed = failed.or(Some(e)),
                Err(_) => {
                    failed = failed.or(Some(CatalogError::Storage(
                        "an ingest writer panicked".into(),
                    )))
                }
            }
        }
        // A write error explains a stopped pipeline better than its consequences.
        if let Some(e) = failed {
            return Err(e);
        }
        collected.and(read)?;
        Ok(items)
    })?;
    let st = state
        .into_inner()
        .map_err(|_| CatalogError::Storage("ingest state poisoned".into()))?;
    drop(st);
    report.items.inserted += items.inserted;
    report.items.updated += items.updated;
    progress.items(
        report.items.inserted + report.items.updated,
        report.rejected,
    );
    Ok(report)
}

struct WriterState<'a> {
    known: HashSet<String>,
    report: &'a mut IngestReport,
}

/// An input of items, read in pass 2.
enum Source {
    /// A newline-delimited JSON file (maybe gzipped).
    Lines {
        path: PathBuf,
        gz: bool,
        ctx: Arc<ItemContext>,
    },
    /// Newline-delimited items on stdin, streamed (its first line already read).
    Stdin {
        first: String,
        reader: BufReader<std::io::Stdin>,
        ctx: Arc<ItemContext>,
    },
    /// Items already in memory (from an ItemCollection or a single Item file).
    Docs {
        name: String,
        docs: Vec<(usize, String)>,
        ctx: Arc<ItemContext>,
    },
}

fn is_ndjson(path: &Path) -> (bool, bool) {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let gz = name.ends_with(".gz");
    let name = name.trim_end_matches(".gz");
    (
        name.ends_with(".ndjson") || name.ends_with(".jsonl") || name.ends_with(".geojsonl"),
        gz,
    )
}

/// Looks at one input: writes collections now, queues item sources.
fn discover(
    input: &str,
    options: &IngestOptions,
    store: &SharedCatalog,
    rt: &tokio::runtime::Handle,
    state: &Mutex<WriterState>,
    items: &mut Vec<Source>,
) -> Result<()> {
    let ctx = |base: Option<Base>, default: Option<String>| options.context(base, default);
    if input == "-" {
        // Newline-delimited items (streamed), or one JSON document.
        let mut reader = BufReader::new(std::io::stdin());
        let mut first = String::new();
        while first.trim().is_empty() {
            first.clear();
            if reader.read_line(&mut first)? == 0 {
                return Ok(());
            }
        }
        if serde_json::from_str::<Value>(&first)
            .is_ok_and(|v| v.is_object() && v.get("type") == Some(&Value::String("Feature".into())))
        {
            items.push(Source::Stdin {
                first,
                reader,
                ctx: ctx(None, None),
            });
            return Ok(());
        }
        let mut text = first;
        reader.read_to_string(&mut text)?;
        let here = std::env::current_dir()?.join("stdin");
        match serde_json::from_str::<Value>(&text) {
            Ok(v) if v.is_object() => {
                return document(&here, v, true, options, store, rt, state, items);
            }
            _ => reject(
                state,
                "stdin".into(),
                None,
                "not a JSON document nor newline-delimited items".into(),
            ),
        }
        return Ok(());
    }
    if input.starts_with("http://") || input.starts_with("https://") {
        return Err(CatalogError::Unsupported(format!(
            "{input}: remote inputs are not supported; download the files first"
        )));
    }
    let path = PathBuf::from(input);
    if path.is_dir() {
        let mut files = Vec::new();
        walk(&path, &mut files)?;
        files.sort();
        // Collections first, so their items find them.
        let mut rest = Vec::new();
        for file in files {
            let (ndjson, gz) = is_ndjson(&file);
            if ndjson {
                items.push(Source::Lines {
                    path: file.clone(),
                    gz,
                    ctx: ctx(Some(Base::File(file)), None),
                });
                continue;
            }
            match read_json(&file) {
                Ok(v) if is_collection(&v) => {
                    write_collection(&file, &v, store, rt, state)?;
                }
                Ok(v) => rest.push((file, v)),
                Err(e) => reject(state, file.display().to_string(), None, e.to_string()),
            }
        }
        for (file, v) in rest {
            document(&file, v, false, options, store, rt, state, items)?;
        }
        return Ok(());
    }
    if !path.exists() {
        return Err(CatalogError::Io(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("{input}: no such file or directory"),
        )));
    }
    let (ndjson, gz) = is_ndjson(&path);
    if ndjson {
        items.push(Source::Lines {
            path: path.clone(),
            gz,
            ctx: ctx(Some(Base::File(path)), None),
        });
        return Ok(());
    }
    let v = read_json(&path)?;
    document(&path, v, true, options, store, rt, state, items)
}

/// A collection, including pre-1.0 ones that had no `type`.
fn is_collection(v: &Value) -> bool {
    match v.get("type") {
        Some(t) => t == "Collection",
        None => v.get("extent").is_some() && v.get("license").is_some(),
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else {
            let name = path.to_string_lossy().to_ascii_lowercase();
            if name.ends_with(".json") || name.ends_with(".geojson") || is_ndjson(&path).0 {
                out.push(path);
            }
        }
    }
    Ok(())
}

fn read_json(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path)?;
    serde_json::from_str(&text)
        .map_err(|e| CatalogError::object(format!("{}: not valid JSON: {e}", path.display())))
}

fn reject(state: &Mutex<WriterState>, source: String, id: Option<String>, reason: String) {
    if let Ok(mut st) = state.lock() {
        st.report.reject(source, id, reason);
    }
}

fn write_collection(
    path: &Path,
    v: &Value,
    store: &SharedCatalog,
    rt: &tokio::runtime::Handle,
    state: &Mutex<WriterState>,
) -> Result<Option<String>> {
    let id = v.get("id").and_then(Value::as_str).map(String::from);
    let parsed = serde_json::to_string(v)
        .map_err(|e| CatalogError::object(e.to_string()))
        .and_then(|text| parse_collection(&text, Some(&Base::File(path.to_path_buf()))));
    let doc = match parsed {
        Ok(doc) => doc,
        Err(e) => {
            reject(state, path.display().to_string(), id, e.to_string());
            return Ok(None);
        }
    };
    let cid = doc.id.clone();
    let written = rt.block_on(store.put_collection(doc, WriteMode::Upsert))?;
    let mut st = state
        .lock()
        .map_err(|_| CatalogError::Storage("ingest state poisoned".into()))?;
    st.report.collections.inserted += written.inserted;
    st.report.collections.updated += written.updated;
    st.known.insert(cid.clone());
    Ok(Some(cid))
}

/// Handles one JSON document: Item, ItemCollection, Collection or Catalog.
#[allow(clippy::too_many_arguments)]
fn document(
    path: &Path,
    v: Value,
    follow: bool,
    options: &IngestOptions,
    store: &SharedCatalog,
    rt: &tokio::runtime::Handle,
    state: &Mutex<WriterState>,
    items: &mut Vec<Source>,
) -> Result<()> {
    let base = Base::File(path.to_path_buf());
    let kind = if is_collection(&v) {
        "Collection".to_string()
    } else {
        v.get("type")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let ctx = |default: Option<String>| options.context(Some(base.clone()), default);
    match kind.as_str() {
        "Feature" => {
            let default = collection_of_item(&v, &base);
            items.push(Source::Docs {
                name: path.display().to_string(),
                docs: vec![(0, v.to_string())],
                ctx: ctx(default),
            });
        }
        "FeatureCollection" => {
            let Some(Value::Array(features)) = v.get("features") else {
                reject(
                    state,
                    path.display().to_string(),
                    None,
                    "FeatureCollection without features".into(),
                );
                return Ok(());
            };
            let docs = features
                .iter()
                .enumerate()
                .map(|(i, f)| (i + 1, f.to_string()))
                .collect();
            items.push(Source::Docs {
                name: path.display().to_string(),
                docs,
                ctx: ctx(None),
            });
        }
        "Collection" | "Catalog" => {
            let collection = if kind == "Collection" {
                write_collection(path, &v, store, rt, state)?
            } else {
                None
            };
            if follow {
                let mut item_docs = Vec::new();
                for link in v
                    .get("links")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let rel = link.get("rel").and_then(Value::as_str).unwrap_or("");
                    let Some(href) = link.get("href").and_then(Value::as_str) else {
                        continue;
                    };
                    if !matches!(rel, "item" | "child") {
                        continue;
                    }
                    let Base::File(target) = base.join(href) else {
                        reject(
                            state,
                            path.display().to_string(),
                            None,
                            format!("{href}: remote links are not followed"),
                        );
                        continue;
                    };
                    match read_json(&target) {
                        Ok(child) if rel == "item" => item_docs.push((target, child)),
                        Ok(child) => {
                            document(&target, child, true, options, store, rt, state, items)?
                        }
                        Err(e) => reject(state, target.display().to_string(), None, e.to_string()),
                    }
                }
                for (target, child) in item_docs {
                    items.push(Source::Docs {
                        name: target.display().to_string(),
                        docs: vec![(0, child.to_string())],
                        ctx: options.context(Some(Base::File(target)), collection.clone()),
                    });
                }
            }
        }
        other => reject(
            state,
            path.display().to_string(),
            v.get("id").and_then(Value::as_str).map(String::from),
            format!(
                "unknown document type '{other}' (expected Feature, FeatureCollection, Collection or Catalog)"
            ),
        ),
    }
    Ok(())
}

/// The collection an item without a `collection` field points to by link.
fn collection_of_item(v: &Value, base: &Base) -> Option<String> {
    let link = v.get("links")?.as_array()?.iter().find(|l| {
        matches!(
            l.get("rel").and_then(Value::as_str),
            Some("collection" | "parent")
        )
    })?;
    let Base::File(path) = base.join(link.get("href")?.as_str()?) else {
        return None;
    };
    let c = read_json(&path).ok()?;
    (c.get("type").and_then(Value::as_str) == Some("Collection"))
        .then(|| c.get("id").and_then(Value::as_str).map(String::from))
        .flatten()
}

/// Reads item sources line by line into chunks for the parsers.
fn read_sources(sources: Vec<Source>, tx: Sender<(u64, Vec<Line>)>) -> Result<()> {
    let mut seq = 0u64;
    let mut send = |chunk: Vec<Line>| -> bool {
        let ok = tx.send((seq, chunk)).is_ok();
        seq += 1;
        ok
    };
    for source in sources {
        match source {
            Source::Docs { name, docs, ctx } => {
                let name: Arc<str> = name.into();
                let mut chunk = Vec::with_capacity(CHUNK);
                for (number, text) in docs {
                    chunk.push(Line {
                        source: name.clone(),
                        number,
                        text,
                        ctx: ctx.clone(),
                    });
                    if chunk.len() == CHUNK
                        && !send(std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK)))
                    {
                        return Ok(());
                    }
                }
                if !chunk.is_empty() && !send(chunk) {
                    return Ok(());
                }
            }
            Source::Lines { path, gz, ctx } => {
                let name: Arc<str> = path.display().to_string().into();
                let file = File::open(&path).map_err(|e| {
                    CatalogError::Io(std::io::Error::new(e.kind(), format!("{name}: {e}")))
                })?;
                let reader: Box<dyn Read + Send> = if gz {
                    Box::new(flate2::read::MultiGzDecoder::new(file))
                } else {
                    Box::new(file)
                };
                let reader = BufReader::with_capacity(1 << 20, reader);
                if !read_lines(reader, None, name, ctx, &mut send)? {
                    return Ok(());
                }
            }
            Source::Stdin { first, reader, ctx } => {
                if !read_lines(reader, Some(first), "stdin".into(), ctx, &mut send)? {
                    return Ok(());
                }
            }
        }
    }
    Ok(())
}

/// Sends the lines of a reader in chunks; false when the receiver is gone.
fn read_lines(
    mut reader: impl BufRead,
    first: Option<String>,
    name: Arc<str>,
    ctx: Arc<ItemContext>,
    send: &mut impl FnMut(Vec<Line>) -> bool,
) -> Result<bool> {
    let mut chunk = Vec::with_capacity(CHUNK);
    let mut number = 0;
    let mut pending_first = first;
    loop {
        let text = match pending_first.take() {
            Some(line) => line,
            None => {
                let mut text = String::new();
                let n = reader.read_line(&mut text).map_err(|e| {
                    CatalogError::Io(std::io::Error::new(e.kind(), format!("{name}: {e}")))
                })?;
                if n == 0 {
                    break;
                }
                text
            }
        };
        number += 1;
        if text.trim().is_empty() {
            continue;
        }
        chunk.push(Line {
            source: name.clone(),
            number,
            text,
            ctx: ctx.clone(),
        });
        if chunk.len() == CHUNK && !send(std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK))) {
            return Ok(false);
        }
    }
    Ok(chunk.is_empty() || send(chunk))
}

fn parse_worker(store: &SharedCatalog, rx: Receiver<(u64, Vec<Line>)>, tx: Sender<Parsed>) {
    for (seq, lines) in rx {
        let results = lines
            .into_iter()
            .map(|line| {
                let parsed = parse_item(&line.text, &line.ctx)
                    .map(|mut doc| {
                        store.prepare_items(std::slice::from_mut(&mut doc));
                        doc
                    })
                    .map_err(|e| {
                        let id = serde_json::from_str::<Value>(&line.text)
                            .ok()
                            .and_then(|v| v.get("id").and_then(Value::as_str).map(String::from));
                        (id, e.to_string())
                    });
                (line.source, line.number, parsed)
            })
            .collect();
        if tx.send(Parsed { seq, results }).is_err() {
            return;
        }
    }
}

/// The writer that gets every version of an item.
fn writer_of(doc: &ItemDoc, writers: usize) -> usize {
    if writers <= 1 {
        return 0;
    }
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    hasher.update(doc.collection.as_bytes());
    hasher.update(&[0]);
    hasher.update(doc.id.as_bytes());
    (hasher.digest() % writers as u64) as usize
}

/// Receives parsed chunks, restores their order, and hands full batches to
/// the writers, each item to the writer [`writer_of`] names.
fn collect_batches(
    rx: Receiver<Parsed>,
    state: &Mutex<WriterState>,
    options: &IngestOptions,
    writers: Vec<Sender<Vec<ItemDoc>>>,
    rejected: &AtomicU64,
) -> Result<()> {
    let mut pending: HashMap<u64, Parsed> = HashMap::new();
    let mut next = 0u64;
    let mut batches: Vec<Vec<ItemDoc>> = (0..writers.len())
        .map(|_| Vec::with_capacity(options.batch))
        .collect();
    let mut st = state
        .lock()
        .map_err(|_| CatalogError::Storage("ingest state poisoned".into()))?;
    for parsed in rx {
        pending.insert(parsed.seq, parsed);
        while let Some(chunk) = pending.remove(&next) {
            next += 1;
            for (source, number, result) in chunk.results {
                let place = || {
                    if number > 0 {
                        format!("{source}:{number}")
                    } else {
                        source.to_string()
                    }
                };
                match result {
                    Ok(doc) if st.known.contains(&doc.collection) => {
                        let w = writer_of(&doc, writers.len());
                        let batch = &mut batches[w];
                        batch.push(doc);
                        if batch.len() >= options.batch {
                            let full = std::mem::replace(batch, Vec::with_capacity(options.batch));
                            if writers[w].send(full).is_err() {
                                // The writer stopped on an error; it reports it.
                                return Ok(());
                            }
                        }
                    }
                    Ok(doc) => {
                        let reason = format!(
                            "collection '{}' does not exist; ingest the collection first",
                            doc.collection
                        );
                        st.report.reject(place(), Some(doc.id), reason);
                    }
                    Err((id, reason)) => st.report.reject(place(), id, reason),
                }
            }
            rejected.store(st.report.rejected, Ordering::Relaxed);
        }
    }
    for (batch, writer) in batches.into_iter().zip(&writers) {
        if !batch.is_empty() && writer.send(batch).is_err() {
            break;
        }
    }
    Ok(())
}
