//! Item documents compressed with a zstd dictionary per collection, shared
//! by the stores.
//!
//! Items of one collection repeat the same keys, media types, roles and href
//! prefixes: with a dictionary trained on a first batch of them, a 4.6 kB
//! Sentinel-2 document packs into about 200 bytes. Stores get several times
//! smaller, ingest writes that much less, a page of search results is that
//! much less to read and send, and a document unpacks in about a
//! microsecond when served.
//!
//! A packed document is a store's marker (none on SQLite, whose column types
//! tell packed from plain; one `0x00` byte on PostgreSQL, where JSON text
//! never starts with one), the `u32` dictionary id (little endian), the
//! `u32` length of the JSON text, then the zstd frame. Documents written
//! before their collection had a dictionary stay plain JSON text; both read
//! the same. Each store only keeps and loads its dictionaries (whose ids
//! must fit in a `u32`); training, packing and unpacking are here.

use crate::catalog::error::{CatalogError, Result};
use std::cell::RefCell;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// A collection needs this many documents in one batch to train its dictionary.
pub const TRAINING_SAMPLES: usize = 1_000;

/// How many items of each collection a batch holds, in collection id order
/// (the order writers take the collections' training locks in).
pub fn items_per_collection(
    items: &[crate::catalog::item::ItemDoc],
) -> std::collections::BTreeMap<&str, usize> {
    let mut counts = std::collections::BTreeMap::new();
    for item in items {
        *counts.entry(item.collection.as_str()).or_default() += 1;
    }
    counts
}

/// The documents a collection's dictionary is trained on: the first
/// [`TRAINING_SAMPLES`] of the batch's items of that collection.
pub fn training_samples<'a>(
    items: &'a [crate::catalog::item::ItemDoc],
    collection: &str,
) -> Vec<&'a str> {
    items
        .iter()
        .filter(|i| i.collection == collection)
        .take(TRAINING_SAMPLES)
        .map(|i| i.doc.as_str())
        .collect()
}
/// Largest dictionary.
const DICTIONARY_BYTES: usize = 64 * 1024;
/// zstd level: fast, and with a dictionary the gain of higher levels is small.
const LEVEL: i32 = 3;
/// Bytes of the header after the store's marker: dictionary id and length.
const HEADER: usize = 8;

/// Process-unique numbers for dictionaries, so that per-thread codecs never
/// mix up two dictionaries that share an id (two stores, or a rolled-back
/// training whose row id is used again).
static SERIAL: AtomicU64 = AtomicU64::new(1);

type Codecs = (
    zstd::bulk::Compressor<'static>,
    zstd::bulk::Decompressor<'static>,
);

thread_local! {
    /// Compressors and decompressors with a dictionary loaded, per thread.
    static CODECS: RefCell<HashMap<u64, Codecs>> = RefCell::new(HashMap::new());
}

/// The error of a stored document that cannot be read back.
pub fn damaged(why: &str) -> CatalogError {
    CatalogError::Storage(format!("stored item document is damaged: {why}"))
}

/// A plain stored document: its bytes as JSON text.
pub fn plain(bytes: &[u8]) -> Result<String> {
    String::from_utf8(bytes.to_vec()).map_err(|_| damaged("not UTF-8"))
}

/// Trains a dictionary from sample documents; `None` when they are too few
/// or too alike to learn from (the collection then stays unpacked).
pub fn train(collection: &str, samples: &[&str]) -> Option<Vec<u8>> {
    match zstd::dict::from_samples(samples, DICTIONARY_BYTES) {
        Ok(data) => Some(data),
        Err(e) => {
            tracing::debug!(%collection, "no dictionary trained: {e}");
            None
        }
    }
}

/// The dictionary id a packed document names (what follows the store's
/// marker), `None` when it is too short to name one.
pub fn dictionary_id(packed: &[u8]) -> Option<u32> {
    let id = packed.get(..4)?;
    Some(u32::from_le_bytes([id[0], id[1], id[2], id[3]]))
}

/// One trained dictionary.
pub struct Dictionary {
    id: i64,
    serial: u64,
    data: Vec<u8>,
}

impl Dictionary {
    /// A dictionary as stored under `id`.
    pub fn new(id: i64, data: Vec<u8>) -> Dictionary {
        Dictionary {
            id,
            serial: SERIAL.fetch_add(1, Ordering::Relaxed),
            data,
        }
    }

    /// The id documents packed with it name.
    pub fn id(&self) -> i64 {
        self.id
    }

    /// Runs `f` with this thread's codecs for the dictionary.
    fn with_codecs<T>(
        &self,
        f: impl FnOnce(&mut Codecs) -> std::io::Result<T>,
    ) -> std::io::Result<T> {
        CODECS.with(|codecs| {
            let mut codecs = codecs.borrow_mut();
            let pair = match codecs.entry(self.serial) {
                Entry::Occupied(e) => e.into_mut(),
                Entry::Vacant(e) => e.insert((
                    zstd::bulk::Compressor::with_dictionary(LEVEL, &self.data)?,
                    zstd::bulk::Decompressor::with_dictionary(&self.data)?,
                )),
            };
            f(pair)
        })
    }

    /// Packs a document behind the store's `marker`; `None` when it cannot
    /// be (the document is then stored plain).
    pub fn pack(&self, marker: &[u8], doc: &str) -> Option<Vec<u8>> {
        let id = u32::try_from(self.id).ok()?;
        let len = u32::try_from(doc.len()).ok()?;
        let frame = self.with_codecs(|(c, _)| c.compress(doc.as_bytes())).ok()?;
        let mut out = Vec::with_capacity(marker.len() + HEADER + frame.len());
        out.extend_from_slice(marker);
        out.extend_from_slice(&id.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&frame);
        Some(out)
    }

    /// Unpacks a document packed with this dictionary (what follows the
    /// store's marker).
    fn unpack(&self, packed: &[u8]) -> Result<String> {
        let (len, frame) = match packed {
            [_, _, _, _, a, b, c, d, frame @ ..] => {
                (u32::from_le_bytes([*a, *b, *c, *d]) as usize, frame)
            }
            _ => return Err(damaged("truncated")),
        };
        // The frame says how long its content is: a damaged length must not
        // make us allocate gigabytes.
        match zstd::zstd_safe::get_frame_content_size(frame) {
            Ok(Some(n)) if n == len as u64 => {}
            _ => return Err(damaged("bad zstd frame header")),
        }
        let bytes = self
            .with_codecs(|(_, d)| d.decompress(frame, len))
            .map_err(|e| damaged(&e.to_string()))?;
        String::from_utf8(bytes).map_err(|_| damaged("not UTF-8"))
    }
}

/// The dictionaries of a store: each collection's current one (which new
/// documents are packed with), and every known one by id (for reading).
#[derive(Default)]
pub struct Dictionaries {
    by_collection: RwLock<HashMap<String, Arc<Dictionary>>>,
    by_id: RwLock<HashMap<i64, Arc<Dictionary>>>,
}

impl Dictionaries {
    /// Makes a dictionary the collection's (once it is committed).
    pub fn install(&self, collection: String, dictionary: Arc<Dictionary>) {
        self.remember(dictionary.clone());
        if let Ok(mut map) = self.by_collection.write() {
            map.insert(collection, dictionary);
        }
    }

    /// Makes a dictionary known by its id only (for reading documents).
    pub fn remember(&self, dictionary: Arc<Dictionary>) {
        if let Ok(mut map) = self.by_id.write() {
            map.insert(dictionary.id, dictionary);
        }
    }

    /// The collection's dictionary.
    pub fn get(&self, collection: &str) -> Option<Arc<Dictionary>> {
        self.by_collection.read().ok()?.get(collection).cloned()
    }

    /// The dictionary stored under `id`, if known.
    pub fn by_id(&self, id: i64) -> Option<Arc<Dictionary>> {
        self.by_id.read().ok()?.get(&id).cloned()
    }

    /// Packs a document with its collection's dictionary behind the
    /// store's `marker` (`None` without one).
    pub fn pack(&self, collection: &str, marker: &[u8], doc: &str) -> Option<Vec<u8>> {
        self.get(collection)?.pack(marker, doc)
    }

    /// Packs the documents of these items not packed yet (those of a
    /// collection without a dictionary stay plain).
    pub fn pack_items(&self, items: &mut [crate::catalog::item::ItemDoc], marker: &[u8]) {
        for item in items.iter_mut().filter(|i| i.packed.is_none()) {
            item.packed = self.pack(&item.collection, marker, &item.doc);
        }
    }

    /// The JSON text of a packed document (what follows the store's marker).
    pub fn unpack(&self, packed: &[u8]) -> Result<String> {
        let id = dictionary_id(packed).ok_or_else(|| damaged("truncated"))?;
        self.by_id(id as i64)
            .ok_or_else(|| damaged(&format!("unknown dictionary {id}")))?
            .unpack(packed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn docs(prefix: &str) -> Vec<String> {
        (0..300)
            .map(|i| {
                format!(
                    "{{\"id\":\"{prefix}{i}\",\"href\":\"https://{prefix}.example/{i}/B04.tif\",\"x\":[{i},{i}]}}"
                )
            })
            .collect()
    }

    #[test]
    fn same_id_in_two_stores_does_not_mix_codecs() {
        let (docs_a, docs_b) = (docs("a"), docs("other-b"));
        let a = zstd::dict::from_samples(&docs_a, 4096).unwrap();
        let b = zstd::dict::from_samples(&docs_b, 4096).unwrap();
        let (da, db) = (Dictionary::new(1, a), Dictionary::new(1, b));
        let packed_a = da.pack(b"", &docs_a[7]).unwrap();
        let packed_b = db.pack(b"", &docs_b[7]).unwrap();
        let (sa, sb) = (Dictionaries::default(), Dictionaries::default());
        sa.install("a".into(), Arc::new(da));
        sb.install("b".into(), Arc::new(db));
        assert_eq!(sa.unpack(&packed_a).unwrap(), docs_a[7]);
        assert_eq!(sb.unpack(&packed_b).unwrap(), docs_b[7]);
        assert!(packed_a.len() < docs_a[7].len() + 8);
    }

    #[test]
    fn marker_and_damage() {
        let docs = docs("m");
        let d = Arc::new(Dictionary::new(
            7,
            zstd::dict::from_samples(&docs, 4096).unwrap(),
        ));
        let packed = d.pack(&[0], &docs[3]).unwrap();
        assert_eq!(packed[0], 0);
        assert_eq!(dictionary_id(&packed[1..]), Some(7));
        let all = Dictionaries::default();
        assert!(matches!(
            all.unpack(&packed[1..]),
            Err(CatalogError::Storage(m)) if m.contains("unknown dictionary 7")
        ));
        all.remember(d);
        assert_eq!(all.unpack(&packed[1..]).unwrap(), docs[3]);
        // A length that disagrees with the frame, a cut frame, a short header.
        let mut long = packed[1..].to_vec();
        long[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(all.unpack(&long).is_err());
        assert!(all.unpack(&packed[1..packed.len() - 3]).is_err());
        assert!(all.unpack(&packed[1..6]).is_err());
        assert!(all.unpack(&[]).is_err());
    }
}
