//! How the embedded store keeps its item documents' dictionaries (see
//! [`crate::catalog::packing`] for the codec).
//!
//! On SQLite a packed document is a BLOB with no marker: the `u32`
//! dictionary id (little endian), the `u32` length of the JSON text, then the
//! zstd frame. Documents written before their collection had a dictionary
//! stay plain TEXT; both read the same. Dictionaries are rows of
//! `dictionaries`, all loaded when the store opens.

use super::db;
use crate::catalog::error::Result;
use crate::catalog::packing::{Dictionaries, Dictionary, damaged, plain};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, Transaction, params};
use std::sync::Arc;

/// What precedes a packed document's header on SQLite: nothing.
pub const MARKER: &[u8] = &[];

/// Loads every stored dictionary.
pub fn load(conn: &Connection) -> Result<Dictionaries> {
    let dictionaries = Dictionaries::default();
    let mut stmt = conn
        .prepare("SELECT id, collection, data FROM dictionaries ORDER BY id")
        .map_err(db)?;
    let mut rows = stmt.query([]).map_err(db)?;
    while let Some(row) = rows.next().map_err(db)? {
        let dictionary = Dictionary::new(row.get(0).map_err(db)?, row.get(2).map_err(db)?);
        dictionaries.install(row.get(1).map_err(db)?, Arc::new(dictionary));
    }
    Ok(dictionaries)
}

/// The JSON text of a stored document, packed or not.
pub fn unpack(dictionaries: &Dictionaries, value: ValueRef) -> Result<String> {
    match value {
        ValueRef::Text(t) => plain(t),
        ValueRef::Blob(b) => dictionaries.unpack(b),
        _ => Err(damaged("unexpected type")),
    }
}

/// Trains a dictionary for `collection` from sample documents and stores it
/// in the caller's transaction. [`Dictionaries::install`] it after commit.
pub fn train(
    tx: &Transaction,
    collection: &str,
    samples: &[&str],
) -> Result<Option<Arc<Dictionary>>> {
    let Some(data) = crate::catalog::packing::train(collection, samples) else {
        // Too little variety to learn from: stay uncompressed.
        return Ok(None);
    };
    tx.execute(
        "INSERT INTO dictionaries (collection, data) VALUES (?1, ?2)",
        params![collection, data],
    )
    .map_err(db)?;
    Ok(Some(Arc::new(Dictionary::new(
        tx.last_insert_rowid(),
        data,
    ))))
}
