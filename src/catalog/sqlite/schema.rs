//! The embedded store's schema and its migrations.
//!
//! Items are split over a narrow and a wide table so that the hot filters
//! scan dense pages: `items` holds the indexed scalars (and the covering
//! indexes carry what usual searches test), `item_data` the footprint,
//! properties and document, read by rowid for the rows a query keeps.

use rusqlite::Connection;

/// Migrations, applied in order; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE collections (
    id          TEXT PRIMARY KEY,
    doc         TEXT NOT NULL,
    links       TEXT NOT NULL,
    minx REAL, miny REAL, maxx REAL, maxy REAL,
    start_dt    INTEGER,
    end_dt      INTEGER,
    text        TEXT NOT NULL,
    access      TEXT NOT NULL,
    -- Largest (datetime - start) and (end - datetime) of the items, >= 0: they
    -- turn a span-overlap test into a range on the datetime index.
    max_before  INTEGER NOT NULL DEFAULT 0,
    max_after   INTEGER NOT NULL DEFAULT 0,
    -- Exact number of items (kept in the write transactions).
    item_count  INTEGER NOT NULL DEFAULT 0,
    updated     INTEGER NOT NULL
);

CREATE TABLE items (
    rowid       INTEGER PRIMARY KEY,
    collection  TEXT NOT NULL REFERENCES collections (id),
    id          TEXT NOT NULL,
    datetime    INTEGER NOT NULL,
    start_dt    INTEGER NOT NULL,
    end_dt      INTEGER NOT NULL,
    -- Footprint box (NULL for items without geometry).
    minx REAL, maxx REAL, miny REAL, maxy REAL,
    -- properties."eo:cloud_cover", the most used filter and sort key.
    cloud_cover REAL,
    updated     INTEGER NOT NULL,
    UNIQUE (collection, id)
);
-- Covers the usual searches (collection, time, box, cloud cover) in datetime
-- order without reading the table; searches over several collections read
-- one range per collection and merge them.
CREATE INDEX items_collection_datetime

    ON items (collection, datetime, id, start_dt, end_dt, minx, maxx, miny, maxy, cloud_cover);


-- Everything else of an item, read only for the rows a query keeps: the
-- footprint (WKB) and properties (JSONB) for exact and CQL2 tests, the
-- document (without properties and links) and its kept links for output.
CREATE TABLE item_data (
    rowid       INTEGER PRIMARY KEY,
    geom        BLOB,
    properties  BLOB NOT NULL,
    doc         BLOB NOT NULL,  -- JSON text, or packed with a dictionary (packing.rs)
    links       TEXT NOT NULL
);

-- zstd dictionaries trained on each collection's documents.
CREATE TABLE dictionaries (
    id          INTEGER PRIMARY KEY,
    collection  TEXT NOT NULL,
    data        BLOB NOT NULL
);

CREATE VIRTUAL TABLE items_rtree USING rtree (id, minx, maxx, miny, maxy);

CREATE VIRTUAL TABLE items_fts USING fts5 (text, tokenize = 'unicode61 remove_diacritics 2');

-- Item counts per collection by 1° cell of the box centre (kind 0) and by
-- month of the datetime (kind 1): they let a search pick its plan.
CREATE TABLE collection_histogram (
    collection  TEXT NOT NULL,
    kind        INTEGER NOT NULL,
    bucket      INTEGER NOT NULL,
    count       INTEGER NOT NULL,
    PRIMARY KEY (collection, kind, bucket)
) WITHOUT ROWID;

CREATE TABLE collection_properties (
    collection  TEXT NOT NULL,
    name        TEXT NOT NULL,
    type        TEXT NOT NULL,
    PRIMARY KEY (collection, name, type)
) WITHOUT ROWID;
"#,
    r#"
-- Accounts (see catalog::accounts). Times are microseconds since the epoch.
CREATE TABLE organisations (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    charter_signed  TEXT,
    created         INTEGER NOT NULL
);

CREATE TABLE users (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    organisation    TEXT NOT NULL,
    roles           TEXT NOT NULL,
    created         INTEGER NOT NULL,
    disabled        INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE api_keys (
    id              TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL,
    label           TEXT NOT NULL,
    hash            TEXT NOT NULL,
    created         INTEGER NOT NULL,
    revoked         INTEGER
);
CREATE INDEX api_keys_user ON api_keys (user_id);

-- One line per item counted against a user's yearly quota of a collection.
CREATE TABLE quota_ledger (
    user_id         TEXT NOT NULL,
    collection      TEXT NOT NULL,
    year            INTEGER NOT NULL,
    item            TEXT NOT NULL,
    area_km2        REAL NOT NULL,
    at              INTEGER NOT NULL,
    PRIMARY KEY (user_id, collection, year, item)
) WITHOUT ROWID;

CREATE TABLE audit (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    at              INTEGER NOT NULL,
    action          TEXT NOT NULL,
    outcome         TEXT NOT NULL,
    user_id         TEXT,
    credential      TEXT,
    address         TEXT,
    collection      TEXT,
    item            TEXT,
    asset           TEXT,
    area_km2        REAL,
    detail          TEXT NOT NULL
);
"#,
];

/// Brings the database to the latest schema.
pub fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let version = version.max(0) as usize;
    if version > MIGRATIONS.len() {
        return Err(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_MISMATCH),
            Some(format!(
                "the database has schema version {version}, newer than this tuilerie ({}); upgrade tuilerie",
                MIGRATIONS.len()
            )),
        ));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}
