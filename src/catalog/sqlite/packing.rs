//! Item documents compressed with a zstd dictionary per collection.
//!
//! Items of one collection repeat the same keys, media types, roles and href
//! prefixes: with a dictionary trained on a first batch of them, a 4.6 kB
//! Sentinel-2 document packs into about 200 bytes. The store and its WAL get
//! several times smaller, ingest writes (and checkpoints) that much less, and
//! a document unpacks in about a microsecond when served.
//!
//! A packed document is a BLOB: `u32` dictionary id (little endian), `u32`
//! length of the JSON text, then the zstd frame. Documents written before their
//! collection had a dictionary stay plain TEXT; both read the same.

use super::db;
use crate::catalog::error::{CatalogError, Result};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, Transaction, params};
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// A collection needs this many documents in one batch to train its dictionary.
pub const TRAINING_SAMPLES: usize = 1_000;
/// Largest dictionary.
const DICTIONARY_BYTES: usize = 64 * 1024;
/// zstd level: fast, and with a dictionary the gain of higher levels is small.
const LEVEL: i32 = 3;

/// One trained dictionary.
pub struct Dictionary {
    id: i64,
    data: Vec<u8>,
}

/// The dictionaries of a store.
#[derive(Default)]
pub struct Dictionaries {
    by_collection: RwLock<HashMap<String, Arc<Dictionary>>>,
    by_id: RwLock<HashMap<i64, Arc<Dictionary>>>,
}

thread_local! {
    /// Compressors and decompressors bound to a dictionary, per thread.
    static CODECS: RefCell<HashMap<i64, (zstd::bulk::Compressor<'static>, zstd::bulk::Decompressor<'static>)>> =
        RefCell::new(HashMap::new());
}

impl Dictionaries {
    /// Loads every stored dictionary.
    pub fn load(conn: &Connection) -> Result<Dictionaries> {
        let dictionaries = Dictionaries::default();
        let mut stmt = conn
            .prepare("SELECT id, collection, data FROM dictionaries")
            .map_err(db)?;
        let mut rows = stmt.query([]).map_err(db)?;
        while let Some(row) = rows.next().map_err(db)? {
            let data: Vec<u8> = row.get(2).map_err(db)?;
            dictionaries.add(row.get(0).map_err(db)?, row.get(1).map_err(db)?, &data);
        }
        Ok(dictionaries)
    }

    fn add(&self, id: i64, collection: String, data: &[u8]) {
        let dictionary = Arc::new(Dictionary {
            id,
            data: data.to_vec(),
        });
        if let Ok(mut map) = self.by_id.write() {
            map.insert(id, dictionary.clone());
        }
        if let Ok(mut map) = self.by_collection.write() {
            map.insert(collection, dictionary);
        }
    }

    /// True when the collection has a dictionary.
    pub fn has(&self, collection: &str) -> bool {
        self.by_collection
            .read()
            .is_ok_and(|m| m.contains_key(collection))
    }

    /// Packs a document with its collection's dictionary (`None` without one).
    pub fn pack(&self, collection: &str, doc: &str) -> Option<Vec<u8>> {
        let dictionary = self.by_collection.read().ok()?.get(collection)?.clone();
        CODECS.with(|codecs| {
            let mut codecs = codecs.borrow_mut();
            let (compressor, _) = match codecs.entry(dictionary.id) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(codecs_for(&dictionary).ok()?)
                }
            };
            let frame = compressor.compress(doc.as_bytes()).ok()?;
            let mut out = Vec::with_capacity(frame.len() + 8);
            out.extend_from_slice(&(dictionary.id as u32).to_le_bytes());
            out.extend_from_slice(&(doc.len() as u32).to_le_bytes());
            out.extend_from_slice(&frame);
            Some(out)
        })
    }

    /// The JSON text of a stored document, packed or not.
    pub fn unpack(&self, value: ValueRef) -> Result<String> {
        let bad =
            |why: &str| CatalogError::Storage(format!("stored item document is damaged: {why}"));
        match value {
            ValueRef::Text(t) => String::from_utf8(t.to_vec()).map_err(|_| bad("not UTF-8")),
            ValueRef::Blob(b) if b.len() >= 8 => {
                let id = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as i64;
                let len = u32::from_le_bytes([b[4], b[5], b[6], b[7]]) as usize;
                let dictionary = self
                    .by_id
                    .read()
                    .ok()
                    .and_then(|m| m.get(&id).cloned())
                    .ok_or_else(|| bad("unknown dictionary"))?;
                let bytes = CODECS.with(|codecs| {
                    let mut codecs = codecs.borrow_mut();
                    let (_, decompressor) = match codecs.entry(id) {
                        std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                        std::collections::hash_map::Entry::Vacant(e) => {
                            e.insert(codecs_for(&dictionary)?)
                        }
                    };
                    decompressor.decompress(&b[8..], len)
                });
                let bytes = bytes.map_err(|e| bad(&e.to_string()))?;
                String::from_utf8(bytes).map_err(|_| bad("not UTF-8"))
            }
            _ => Err(bad("unexpected type")),
        }
    }

    /// Trains and stores a dictionary for `collection` from sample documents,
    /// in the caller's transaction; [`Dictionaries::add`] it after commit.
    pub fn train(
        tx: &Transaction,
        collection: &str,
        samples: &[&str],
    ) -> Result<Option<(i64, String, Vec<u8>)>> {
        let data = match zstd::dict::from_samples(samples, DICTIONARY_BYTES) {
            Ok(data) => data,
            Err(e) => {
                // Too little variety to learn from: stay uncompressed.
                tracing::debug!(%collection, "no dictionary trained: {e}");
                return Ok(None);
            }
        };
        tx.execute(
            "INSERT INTO dictionaries (collection, data) VALUES (?1, ?2)",
            params![collection, data],
        )
        .map_err(db)?;
        Ok(Some((tx.last_insert_rowid(), collection.to_string(), data)))
    }

    /// Makes a dictionary stored by [`Dictionaries::train`] usable (after commit).
    pub fn install(&self, trained: (i64, String, Vec<u8>)) {
        let (id, collection, data) = trained;
        self.add(id, collection, &data);
    }
}

/// A compressor and a decompressor with the dictionary loaded (once per thread).
fn codecs_for(
    d: &Dictionary,
) -> std::io::Result<(
    zstd::bulk::Compressor<'static>,
    zstd::bulk::Decompressor<'static>,
)> {
    Ok((
        zstd::bulk::Compressor::with_dictionary(LEVEL, &d.data)?,
        zstd::bulk::Decompressor::with_dictionary(&d.data)?,
    ))
}
