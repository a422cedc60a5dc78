//! Writes on the embedded store. Every call is one transaction: a batch is
//! stored entirely or not at all.

use super::db;
use super::packing;
use super::stats::Deltas;
use crate::catalog::collection::CollectionDoc;
use crate::catalog::error::{CatalogError, Result};
use crate::catalog::geometry::Bounds;
use crate::catalog::item::{ItemDoc, JsonType};
use crate::catalog::packing::{
    Dictionaries, Dictionary, TRAINING_SAMPLES, items_per_collection, training_samples,
};
use crate::catalog::scope::Access;
use crate::catalog::{WriteMode, WriteSummary};
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// Write times are strictly increasing within a process, so that two writes
/// of the same object never share an `updated` value (caches and ETags key on it).
static LAST_WRITE: AtomicI64 = AtomicI64::new(0);

/// Current time in microseconds, strictly after the previous call's.
pub fn write_time() -> i64 {
    let now = chrono::Utc::now().timestamp_micros();
    let mut last = LAST_WRITE.load(Ordering::Relaxed);
    loop {
        let next = now.max(last + 1);
        match LAST_WRITE.compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return next,
            Err(seen) => last = seen,
        }
    }
}

fn access_text(access: &Access) -> String {
    match access {
        Access::Open => "open".into(),
        Access::Restricted(roles) => serde_json::to_string(roles).unwrap_or_else(|_| "[]".into()),
    }
}

/// Creates or replaces a collection.
pub fn put_collection(
    conn: &mut Connection,
    c: &CollectionDoc,
    mode: WriteMode,
) -> Result<WriteSummary> {
    let tx = conn.transaction().map_err(db)?;
    let exists = tx
        .query_row("SELECT 1 FROM collections WHERE id = ?1", [&c.id], |_| {
            Ok(())
        })
        .optional()
        .map_err(db)?
        .is_some();
    mode.check_collection(exists, &c.id)?;
    let [minx, miny, maxx, maxy] = c.bbox.map(|b| b.map(Some)).unwrap_or([None; 4]);
    tx.execute(
        "INSERT INTO collections (id, doc, links, minx, miny, maxx, maxy, start_dt, end_dt, text, access, updated)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
         ON CONFLICT (id) DO UPDATE SET doc = excluded.doc, links = excluded.links,
           minx = excluded.minx, miny = excluded.miny, maxx = excluded.maxx, maxy = excluded.maxy,
           start_dt = excluded.start_dt, end_dt = excluded.end_dt, text = excluded.text,
           access = excluded.access, updated = excluded.updated",
        params![
            c.id, c.doc, c.links, minx, miny, maxx, maxy, c.interval.0, c.interval.1, c.text,
            access_text(&c.access), write_time()
        ],
    )
    .map_err(db)?;
    tx.commit().map_err(db)?;
    Ok(if exists {
        WriteSummary {
            inserted: 0,
            updated: 1,
        }
    } else {
        WriteSummary {
            inserted: 1,
            updated: 0,
        }
    })
}

/// Deletes a collection and everything in it.
pub fn delete_collection(conn: &mut Connection, id: &str) -> Result<bool> {
    let tx = conn.transaction().map_err(db)?;
    for sql in [
        "DELETE FROM item_data WHERE rowid IN (SELECT rowid FROM items WHERE collection = ?1)",
        "DELETE FROM items_rtree WHERE id IN (SELECT rowid FROM items WHERE collection = ?1)",
        "DELETE FROM items_fts WHERE rowid IN (SELECT rowid FROM items WHERE collection = ?1)",
        "DELETE FROM items WHERE collection = ?1",
        "DELETE FROM collection_properties WHERE collection = ?1",
        "DELETE FROM collection_histogram WHERE collection = ?1",
    ] {
        tx.execute(sql, [id]).map_err(db)?;
    }
    let n = tx
        .execute("DELETE FROM collections WHERE id = ?1", [id])
        .map_err(db)?;
    tx.commit().map_err(db)?;
    Ok(n > 0)
}

/// Deletes one item.
pub fn delete_item(conn: &mut Connection, collection: &str, id: &str) -> Result<bool> {
    let tx = conn.transaction().map_err(db)?;
    let rowid: Option<i64> = tx
        .query_row(
            "SELECT rowid FROM items WHERE collection = ?1 AND id = ?2",
            [collection, id],
            |r| r.get(0),
        )
        .optional()
        .map_err(db)?;
    let Some(rowid) = rowid else {
        return Ok(false);
    };
    let mut deltas = Deltas::default();
    uncount(&tx, rowid, collection, &mut deltas)?;
    remove_rows(&tx, rowid)?;
    tx.execute("DELETE FROM items WHERE rowid = ?1", [rowid])
        .map_err(db)?;
    tx.execute(
        "UPDATE collections SET item_count = item_count - 1, updated = ?2 WHERE id = ?1",
        params![collection, write_time()],
    )
    .map_err(db)?;
    deltas.apply(&tx)?;
    tx.commit().map_err(db)?;
    Ok(true)
}

/// Takes an item's current box and datetime out of the histograms.
fn uncount(tx: &Transaction, rowid: i64, collection: &str, deltas: &mut Deltas) -> Result<()> {
    let (datetime, bounds) = tx
        .prepare_cached("SELECT datetime, minx, miny, maxx, maxy FROM items WHERE rowid = ?1")
        .map_err(db)?
        .query_row([rowid], |r| {
            let b: [Option<f64>; 4] = [r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?];
            Ok((
                r.get::<_, i64>(0)?,
                match b {
                    [Some(minx), Some(miny), Some(maxx), Some(maxy)] => Some(Bounds {
                        minx,
                        miny,
                        maxx,
                        maxy,
                    }),
                    _ => None,
                },
            ))
        })
        .map_err(db)?;
    deltas.add(collection, bounds.as_ref(), datetime, -1);
    Ok(())
}

/// Removes an item's rows from the side tables (not from `items`).
fn remove_rows(tx: &Transaction, rowid: i64) -> Result<()> {
    for sql in [
        "DELETE FROM item_data WHERE rowid = ?1",
        "DELETE FROM items_rtree WHERE id = ?1",
        "DELETE FROM items_fts WHERE rowid = ?1",
    ] {
        tx.prepare_cached(sql)
            .map_err(db)?
            .execute([rowid])
            .map_err(db)?;
    }
    Ok(())
}

/// Per-collection facts gathered over a batch.
#[derive(Default)]
struct BatchStats {
    max_before: i64,
    max_after: i64,
    inserted: i64,
    /// Property name to the set of JSON types seen (one bit per type).
    properties: HashMap<String, u8>,
}

/// Writes a batch of items in one transaction.
pub fn put_items(
    conn: &mut Connection,
    items: &[ItemDoc],
    mode: WriteMode,
    dictionaries: &Dictionaries,
) -> Result<WriteSummary> {
    let tx = conn.transaction().map_err(db)?;
    // A collection without a dictionary, with enough documents in this batch
    // to learn from, gets one now: it packs this batch already. It becomes
    // visible to others only once committed.
    let mut trained: Vec<(String, Arc<Dictionary>)> = Vec::new();
    for (collection, n) in items_per_collection(items) {
        if n < TRAINING_SAMPLES || dictionaries.get(collection).is_some() {
            continue;
        }
        let samples = training_samples(items, collection);
        if let Some(dictionary) = packing::train(&tx, collection, &samples)? {
            trained.push((collection.to_string(), dictionary));
        }
    }
    let mut summary = WriteSummary::default();
    let mut stats: HashMap<&str, BatchStats> = HashMap::new();
    let mut deltas = Deltas::default();
    let mut known: HashSet<&str> = HashSet::new();
    let now = write_time();
    {
        let mut has_collection = tx
            .prepare_cached("SELECT 1 FROM collections WHERE id = ?1")
            .map_err(db)?;
        let mut find = tx
            .prepare_cached("SELECT rowid FROM items WHERE collection = ?1 AND id = ?2")
            .map_err(db)?;
        // New items (the common case in bulk loads) cost one index probe: the
        // insert itself tells whether the item existed.
        let mut insert = tx
            .prepare_cached(
                "INSERT INTO items (collection, id, datetime, start_dt, end_dt, minx, maxx, miny, maxy, cloud_cover, updated)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?11, ?10)
                 ON CONFLICT (collection, id) DO NOTHING",
            )
            .map_err(db)?;
        let mut update = tx
            .prepare_cached(
                "UPDATE items SET datetime = ?3, start_dt = ?4, end_dt = ?5, minx = ?6, maxx = ?7, miny = ?8, maxy = ?9,
                 updated = ?10, cloud_cover = ?11 WHERE collection = ?1 AND id = ?2",
            )
            .map_err(db)?;
        let mut data = tx
            .prepare_cached(
                "INSERT INTO item_data (rowid, geom, properties, doc, links) VALUES (?1, ?2, jsonb(?3), ?4, ?5)",
            )
            .map_err(db)?;
        // Footprint boxes go to the R*Tree in one statement per batch: each
        // statement on the virtual table journals the pages it touches, so
        // one statement for the batch costs far less than one per item.
        tx.execute_batch(
            "CREATE TEMP TABLE IF NOT EXISTS pending_boxes (id INTEGER PRIMARY KEY, minx REAL, maxx REAL, miny REAL, maxy REAL);
             DELETE FROM temp.pending_boxes;",
        )
        .map_err(db)?;
        let mut rtree = tx
            .prepare_cached(
                "INSERT OR REPLACE INTO temp.pending_boxes (id, minx, maxx, miny, maxy) VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .map_err(db)?;
        let mut fts = tx
            .prepare_cached("INSERT INTO items_fts (rowid, text) VALUES (?1, ?2)")
            .map_err(db)?;

        for item in items {
            if !known.contains(item.collection.as_str()) {
                if has_collection
                    .query_row([&item.collection], |_| Ok(()))
                    .optional()
                    .map_err(db)?
                    .is_none()
                {
                    return Err(CatalogError::CollectionNotFound(item.collection.clone()));
                }
                known.insert(item.collection.as_str());
            }
            let b = item.footprint.as_ref().map(|f| f.bounds);
            let [minx, maxx, miny, maxy] = b
                .map(|b| [b.minx, b.maxx, b.miny, b.maxy].map(Some))
                .unwrap_or([None; 4]);
            // The insert and the update take the same parameters.
            let row = params![
                item.collection,
                item.id,
                item.datetime,
                item.start,
                item.end,
                minx,
                maxx,
                miny,
                maxy,
                now,
                item.cloud_cover
            ];
            let inserted: Option<i64> = if mode == WriteMode::Replace {
                None
            } else {
                let changed = insert.execute(row).map_err(db)?;
                (changed == 1).then(|| tx.last_insert_rowid())
            };
            let rowid = match inserted {
                Some(rowid) => {
                    summary.inserted += 1;
                    stats.entry(item.collection.as_str()).or_default().inserted += 1;
                    rowid
                }
                None => {
                    let existing: Option<i64> = find
                        .query_row([&item.collection, &item.id], |r| r.get(0))
                        .optional()
                        .map_err(db)?;
                    match (existing, mode) {
                        (Some(_), WriteMode::Create) => {
                            return Err(CatalogError::Conflict(format!(
                                "item '{}' already exists in collection '{}'",
                                item.id, item.collection
                            )));
                        }
                        (None, _) => {
                            return Err(CatalogError::ItemNotFound {
                                collection: item.collection.clone(),
                                item: item.id.clone(),
                            });
                        }
                        (Some(rowid), _) => {
                            uncount(&tx, rowid, &item.collection, &mut deltas)?;
                            update.execute(row).map_err(db)?;
                            remove_rows(&tx, rowid)?;
                            // The same item earlier in this batch left a box pending.
                            tx.prepare_cached("DELETE FROM temp.pending_boxes WHERE id = ?1")
                                .map_err(db)?
                                .execute([rowid])
                                .map_err(db)?;
                            summary.updated += 1;

                            rowid
                        }
                    }
                }
            };
            // Packed on a parser thread, else here (single writes), else plain.
            let packed = match &item.packed {
                Some(p) => Some(Cow::Borrowed(p)),
                None => trained
                    .iter()
                    .find(|(c, _)| *c == item.collection)
                    .map(|(_, d)| d.clone())
                    .or_else(|| dictionaries.get(&item.collection))
                    .and_then(|d| d.pack(packing::MARKER, &item.doc))
                    .map(Cow::Owned),
            };
            let doc: &dyn rusqlite::ToSql = match &packed {
                Some(bytes) => bytes,
                None => &item.doc,
            };
            data.execute(params![
                rowid,
                item.footprint.as_ref().map(|f| &f.wkb),
                item.properties,
                doc,
                item.links
            ])
            .map_err(db)?;
            if let Some(fp) = &item.footprint {
                let b = fp.bounds;
                rtree
                    .execute(params![rowid, b.minx, b.maxx, b.miny, b.maxy])
                    .map_err(db)?;
            }
            if !item.text.is_empty() {
                fts.execute(params![rowid, item.text]).map_err(db)?;
            }
            deltas.add(&item.collection, b.as_ref(), item.datetime, 1);
            let s = stats.entry(item.collection.as_str()).or_default();
            s.max_before = s.max_before.max(item.datetime - item.start);
            s.max_after = s.max_after.max(item.end - item.datetime);
            for (name, kind) in &item.property_types {
                let bit = 1u8 << (*kind as u8);
                match s.properties.get_mut(name.as_str()) {
                    Some(bits) => *bits |= bit,
                    None => {
                        s.properties.insert(name.clone(), bit);
                    }
                }
            }
        }
    }
    tx.execute_batch(
        "INSERT INTO items_rtree (id, minx, maxx, miny, maxy) SELECT id, minx, maxx, miny, maxy FROM temp.pending_boxes;
         DELETE FROM temp.pending_boxes;",
    )
    .map_err(db)?;
    {
        let mut spans = tx
            .prepare_cached(
                "UPDATE collections SET max_before = max(max_before, ?2), max_after = max(max_after, ?3),
                 item_count = item_count + ?5, updated = ?4 WHERE id = ?1",
            )
            .map_err(db)?;
        let mut props = tx
            .prepare_cached("INSERT OR IGNORE INTO collection_properties (collection, name, type) VALUES (?1, ?2, ?3)")
            .map_err(db)?;
        for (collection, s) in &stats {
            spans
                .execute(params![
                    collection,
                    s.max_before,
                    s.max_after,
                    now,
                    s.inserted
                ])
                .map_err(db)?;
            for (name, bits) in &s.properties {
                for kind in JsonType::ALL {
                    if bits & (1u8 << (kind as u8)) != 0 {
                        props
                            .execute(params![collection, name, kind.as_str()])
                            .map_err(db)?;
                    }
                }
            }
        }
    }
    deltas.apply(&tx)?;
    tx.commit().map_err(db)?;
    for (collection, dictionary) in trained {
        dictionaries.install(collection, dictionary);
    }
    Ok(summary)
}
