//! Per-collection statistics that let a search choose its plan: exact item
//! counts, and histograms of item box centres (1° cells) and datetimes (months).

use super::db;
use crate::catalog::datetime::{Interval, Micros};
use crate::catalog::error::Result;
use crate::catalog::geometry::Bounds;
use chrono::{DateTime, Datelike, Utc};
use rusqlite::{Connection, Transaction, params};
use std::collections::HashMap;

/// Histogram of box centres.
pub const SPACE: i64 = 0;
/// Histogram of datetimes.
pub const TIME: i64 = 1;

/// The 1° cell of a box centre.
pub fn space_bucket(b: &Bounds) -> i64 {
    let x = ((b.minx + b.maxx) / 2.0 + 180.0).floor().clamp(0.0, 359.0) as i64;
    let y = ((b.miny + b.maxy) / 2.0 + 90.0).floor().clamp(0.0, 179.0) as i64;
    y * 360 + x
}

/// The month of an instant (months since year 0).
pub fn time_bucket(t: Micros) -> i64 {
    let dt = DateTime::<Utc>::from_timestamp_micros(t).unwrap_or_default();
    dt.year() as i64 * 12 + dt.month0() as i64
}

/// Histogram changes gathered over a write.
#[derive(Default)]
pub struct Deltas(HashMap<(String, i64, i64), i64>);

impl Deltas {
    /// Counts (or, with `sign = -1`, uncounts) an item.
    pub fn add(&mut self, collection: &str, bounds: Option<&Bounds>, datetime: Micros, sign: i64) {
        if let Some(b) = bounds {
            *self
                .0
                .entry((collection.to_string(), SPACE, space_bucket(b)))
                .or_default() += sign;
        }
        *self
            .0
            .entry((collection.to_string(), TIME, time_bucket(datetime)))
            .or_default() += sign;
    }

    /// Writes the changes in the caller's transaction.
    pub fn apply(self, tx: &Transaction) -> Result<()> {
        let mut stmt = tx
            .prepare_cached(
                "INSERT INTO collection_histogram (collection, kind, bucket, count) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (collection, kind, bucket) DO UPDATE SET count = count + excluded.count",
            )
            .map_err(db)?;
        for ((collection, kind, bucket), delta) in self.0 {
            if delta != 0 {
                stmt.execute(params![collection, kind, bucket, delta])
                    .map_err(db)?;
            }
        }
        Ok(())
    }
}

/// Items of these collections whose box centre lies in cells touched by the
/// boxes, or `None` when the boxes cover too many cells to be worth counting.
pub fn estimate_space(
    conn: &Connection,
    collections: &[&str],
    boxes: &[Bounds],
) -> Result<Option<u64>> {
    let mut ranges = Vec::new();
    for b in boxes {
        let x0 = (b.minx + 180.0).floor().clamp(0.0, 359.0) as i64;
        let x1 = (b.maxx + 180.0).floor().clamp(0.0, 359.0) as i64;
        let y0 = (b.miny + 90.0).floor().clamp(0.0, 179.0) as i64;
        let y1 = (b.maxy + 90.0).floor().clamp(0.0, 179.0) as i64;
        if (y1 - y0 + 1) * (x1 - x0 + 1) > 400 {
            return Ok(None);
        }
        for y in y0..=y1 {
            ranges.push((y * 360 + x0, y * 360 + x1));
        }
    }
    let mut stmt = conn
        .prepare_cached(
            "SELECT coalesce(sum(count), 0) FROM collection_histogram
             WHERE collection = ?1 AND kind = 0 AND bucket BETWEEN ?2 AND ?3",
        )
        .map_err(db)?;
    let mut total = 0i64;
    for c in collections {
        for (lo, hi) in &ranges {
            total += stmt
                .query_row(params![c, lo, hi], |r| r.get::<_, i64>(0))
                .map_err(db)?;
        }
    }
    Ok(Some(total.max(0) as u64))
}

/// Items of these collections whose datetime falls in the months the
/// interval touches (widened by the collections' longest spans).
pub fn estimate_time(
    conn: &Connection,
    collections: &[&str],
    interval: &Interval,
    widen: i64,
) -> Result<u64> {
    let lo = interval
        .start
        .map(|s| time_bucket(s.saturating_sub(widen)))
        .unwrap_or(i64::MIN);
    let hi = interval
        .end
        .map(|e| time_bucket(e.saturating_add(widen)))
        .unwrap_or(i64::MAX);
    let mut stmt = conn
        .prepare_cached(
            "SELECT coalesce(sum(count), 0) FROM collection_histogram
             WHERE collection = ?1 AND kind = 1 AND bucket BETWEEN ?2 AND ?3",
        )
        .map_err(db)?;
    let mut total = 0i64;
    for c in collections {
        total += stmt
            .query_row(params![c, lo, hi], |r| r.get::<_, i64>(0))
            .map_err(db)?;
    }
    Ok(total.max(0) as u64)
}
