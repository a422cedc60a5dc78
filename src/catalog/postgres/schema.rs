//! The PostgreSQL store's schema and its versioned migrations.
//!
//! Migrations are embedded in the binary and applied in order, each in its
//! own transaction, under an advisory lock so that several instances starting
//! together migrate once. `tuilerie_schema` records which ran.
//!
//! Items live in one table partitioned by collection (a partition is created
//! with its collection and dropped with it). Times are microseconds since the
//! epoch (`bigint`), as in the embedded store, so paging tokens and interval
//! tests are the same; footprints are PostGIS geometries (SRID 4326) under a
//! GiST index; `properties` is JSON (since migration 3); free text is a `tsvector` of folded
//! words; the rest of the document is `bytea`, plain or packed with its
//! collection's zstd dictionary (since migration 7, see `packing.rs`). Text keys use the "C" collation: byte order, as SQLite compares.
//! A collection's partition also has one index per property its
//! `tuilerie:indexes` declares (see `indexes.rs`), on the expressions of
//! [`text_property`] and [`number_property`].

use super::pg;
use crate::catalog::error::{CatalogError, Result};
use tokio_postgres::Client;

/// Migrations, applied in order; version N is `MIGRATIONS[N - 1]`.
pub(super) const MIGRATIONS: &[&str] = &[
    r#"
CREATE EXTENSION IF NOT EXISTS postgis;
CREATE EXTENSION IF NOT EXISTS unaccent;

CREATE TABLE collections (
    id          text COLLATE "C" PRIMARY KEY,
    doc         text NOT NULL,
    links       text NOT NULL,
    minx float8, miny float8, maxx float8, maxy float8,
    start_dt    bigint,
    end_dt      bigint,
    text        text NOT NULL,
    access      text NOT NULL,
    -- The items' partition (a table name made from the id).
    partition   text NOT NULL,
    -- Largest (datetime - start) and (end - datetime) of the items, >= 0: they
    -- turn a span-overlap test into a range on the datetime index.
    max_before  bigint NOT NULL DEFAULT 0,
    max_after   bigint NOT NULL DEFAULT 0,
    -- Exact number of items (kept in the write transactions).
    item_count  bigint NOT NULL DEFAULT 0,
    updated     bigint NOT NULL
);

CREATE TABLE items (
    collection  text COLLATE "C" NOT NULL,
    id          text COLLATE "C" NOT NULL,
    datetime    bigint NOT NULL,
    start_dt    bigint NOT NULL,
    end_dt      bigint NOT NULL,
    geom        geometry(Geometry, 4326),
    cloud_cover float8,
    properties  jsonb NOT NULL,
    -- The properties exactly as written (JSONB would reorder keys and respell numbers).
    props_text  text NOT NULL,
    doc         text NOT NULL,
    links       text NOT NULL,
    words       tsvector NOT NULL,
    updated     bigint NOT NULL,
    PRIMARY KEY (collection, id)
) PARTITION BY LIST (collection);

CREATE INDEX items_datetime ON items (datetime, collection, id);
CREATE INDEX items_geom ON items USING gist (geom);
CREATE INDEX items_cloud_cover ON items (cloud_cover);
CREATE INDEX items_words ON items USING gin (words);

CREATE TABLE collection_properties (
    collection  text COLLATE "C" NOT NULL,
    name        text COLLATE "C" NOT NULL,
    type        text NOT NULL,
    PRIMARY KEY (collection, name, type)
);

-- RFC 3339 text to microseconds, NULL when it is not a date-time with a zone.
CREATE FUNCTION tl_micros(value text) RETURNS bigint
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
BEGIN
    IF value IS NULL OR value !~ '^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$' THEN
        RETURN NULL;
    END IF;
    RETURN (extract(epoch FROM value::timestamptz) * 1000000)::bigint;
EXCEPTION WHEN others THEN
    RETURN NULL;
END $$;

-- CQL2 a_overlaps between two JSON arrays (NULL when one is not an array).
CREATE FUNCTION tl_array_overlaps(a jsonb, b jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN jsonb_typeof(a) = 'array' AND jsonb_typeof(b) = 'array'
        THEN EXISTS (SELECT 1 FROM jsonb_array_elements(a) x WHERE b @> jsonb_build_array(x))
    END
$$;

-- CQL2 a_contains: every element of b is in a (NULL when one is not an array).
CREATE FUNCTION tl_array_contains(a jsonb, b jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN jsonb_typeof(a) = 'array' AND jsonb_typeof(b) = 'array'
        THEN NOT EXISTS (SELECT 1 FROM jsonb_array_elements(b) y
                         WHERE NOT EXISTS (SELECT 1 FROM jsonb_array_elements(a) x WHERE x = y))
    END
$$;
"#,
    // 2: per-collection histograms of box centres and datetimes, from which
    // a search estimates how many items it matches (to choose its plan and
    // whether counting is cheap), as the embedded store does.
    r#"
CREATE TABLE item_histogram (
    collection  text COLLATE "C" NOT NULL,
    -- 0: box centres in 1° cells (y * 360 + x); 1: datetimes in 2^41 µs (~25 days) buckets;
    -- 2: sums of the boxes' widths (bucket 0) and heights (bucket 1), in millidegrees.
    kind        smallint NOT NULL,
    bucket      bigint NOT NULL,
    count       bigint NOT NULL,
    PRIMARY KEY (collection, kind, bucket)
);

-- The 1° cell of a footprint's box centre (the same arithmetic as the writer's).
CREATE FUNCTION tl_space_bucket(g geometry) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (least(greatest(floor((ST_YMin(g) + ST_YMax(g)) / 2 + 90), 0), 179) * 360
          + least(greatest(floor((ST_XMin(g) + ST_XMax(g)) / 2 + 180), 0), 359))::bigint
$$;

INSERT INTO item_histogram (collection, kind, bucket, count)
SELECT collection, 0, tl_space_bucket(geom), count(*) FROM items
WHERE tl_space_bucket(geom) IS NOT NULL GROUP BY 1, 3;
INSERT INTO item_histogram (collection, kind, bucket, count)
SELECT collection, 1, datetime >> 41, count(*) FROM items GROUP BY 1, 3;
INSERT INTO item_histogram (collection, kind, bucket, count)
SELECT collection, 2, k, coalesce(sum(round(CASE k WHEN 0 THEN ST_XMax(geom) - ST_XMin(geom)
                                                   ELSE ST_YMax(geom) - ST_YMin(geom) END * 1000)), 0)::int8
FROM items, (VALUES (0::int8), (1)) AS v(k) WHERE geom IS NOT NULL GROUP BY 1, 3;
"#,
    // 3: the properties are kept once, as `json`: the text exactly as written
    // (key order, numbers), checked but not converted, which made writes
    // half as costly as with `jsonb` next to a text copy. Filters read the
    // fields they test from the text.
    r#"
ALTER TABLE items ALTER COLUMN properties TYPE json USING props_text::json, DROP COLUMN props_text;
"#,
    // 4: accounts: organisations, users, API keys, the quota ledger, the audit trail.
    r#"
-- Accounts (see catalog::accounts). Times are microseconds since the epoch.
CREATE TABLE organisations (
    id              text COLLATE "C" PRIMARY KEY,
    name            text NOT NULL,
    charter_signed  text,
    created         bigint NOT NULL
);

CREATE TABLE users (
    id              text COLLATE "C" PRIMARY KEY,
    name            text NOT NULL,
    organisation    text COLLATE "C" NOT NULL REFERENCES organisations (id),
    roles           text NOT NULL,
    created         bigint NOT NULL,
    disabled        boolean NOT NULL DEFAULT false
);

CREATE TABLE api_keys (
    id              text COLLATE "C" PRIMARY KEY,
    user_id         text COLLATE "C" NOT NULL REFERENCES users (id),
    label           text NOT NULL,
    hash            text NOT NULL,
    created         bigint NOT NULL,
    revoked         bigint
);
CREATE INDEX api_keys_user ON api_keys (user_id);

-- One line per item counted against a user's yearly quota of a collection.
CREATE TABLE quota_ledger (
    user_id         text COLLATE "C" NOT NULL,
    collection      text COLLATE "C" NOT NULL,
    year            integer NOT NULL,
    item            text COLLATE "C" NOT NULL,
    area_km2        float8 NOT NULL,
    at              bigint NOT NULL,
    PRIMARY KEY (user_id, collection, year, item)
);

CREATE TABLE audit (
    id              bigserial PRIMARY KEY,
    at              bigint NOT NULL,
    action          text NOT NULL,
    outcome         text NOT NULL,
    user_id         text,
    credential      text,
    address         text,
    collection      text,
    item            text,
    asset           text,
    area_km2        float8,
    detail          text NOT NULL
);
"#,
    // 5: numbers read from the properties without ever failing, so that an
    // index on a property can be built (and items written) whatever its
    // values: the CQL2 translator and the indexes of `tuilerie:indexes`
    // both read numeric properties through it.
    r#"
-- A JSON number's text as float8; NULL for anything else (text that is
-- not a number, or a number float8 cannot hold), where a cast would fail.
-- The common case (at most 200 characters and a two-digit exponent: always
-- within float8) is one regular expression; longer forms are range-checked
-- as numeric first. IMMUTABLE, so it can make an index, which a filter on
-- the same call matches. PL/pgSQL rather than an inlined SQL CASE: that
-- would extract the property twice (each ->> parses the whole properties
-- text), which made every index insert twice as costly as a cast.
CREATE FUNCTION tl_number(value text) RETURNS float8
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE COST 10 AS $$
BEGIN
    IF length(value) <= 200 THEN
        IF value ~ '^-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]{1,2})?$' THEN
            RETURN value::float8;
        END IF;
    END IF;
    IF length(value) <= 400 THEN
        IF value ~ '^-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]{1,3})?$' THEN
            IF value::numeric = 0 OR abs(value::numeric) BETWEEN 1e-307 AND 1e308 THEN
                RETURN value::float8;
            END IF;
        END IF;
    END IF;
    RETURN NULL;
END $$;
"#,
    // 6: the footprint's bounds as columns, carried by the datetime index:
    // a search reading the index in a time range (the walk, counting) tests
    // the items' boxes on its entries and reads only the rows whose boxes
    // meet the search's, not every row of the range. Generated, so every way
    // of writing an item keeps them. (Rewrites the items: about two minutes
    // per million items.)
    r#"
ALTER TABLE items
    ADD COLUMN minx float8 GENERATED ALWAYS AS (ST_XMin(geom)) STORED,
    ADD COLUMN miny float8 GENERATED ALWAYS AS (ST_YMin(geom)) STORED,
    ADD COLUMN maxx float8 GENERATED ALWAYS AS (ST_XMax(geom)) STORED,
    ADD COLUMN maxy float8 GENERATED ALWAYS AS (ST_YMax(geom)) STORED;
DROP INDEX items_datetime;
CREATE INDEX items_datetime ON items (datetime, collection, id)
    INCLUDE (start_dt, end_dt, minx, miny, maxx, maxy);
"#,
    // 7: item documents packed with a zstd dictionary per collection (see
    // `packing.rs`): `doc` becomes bytea, either the JSON text in UTF-8 (the
    // documents written so far, converted here; they stay plain) or a
    // packed document (0x00, dictionary id, length, zstd frame). Rewrites
    // the items and rebuilds their indexes once. The rewrite stores the
    // documents lz4-compressed, as the writers do, when the server can.
    r#"
CREATE TABLE dictionaries (
    id          integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    collection  text COLLATE "C" NOT NULL,
    bytes       bytea NOT NULL,
    -- Microseconds since the epoch.
    created     bigint NOT NULL
);
CREATE INDEX dictionaries_collection ON dictionaries (collection, id);
DO $$ BEGIN
    IF EXISTS (SELECT 1 FROM pg_settings
               WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)) THEN
        SET LOCAL default_toast_compression = 'lz4';
    END IF;
END $$;
ALTER TABLE items ALTER COLUMN doc TYPE bytea USING convert_to(doc, 'UTF8');
"#,
    // 8: a collection's items may be split by year or month of their
    // datetime (`tuilerie:time_partitions`, see `partitions.rs`): the items
    // table can no longer have a primary key (a unique index of a table
    // partitioned by datetime must hold the datetime), so each collection's
    // partition gets its own. Rebuilds those indexes (seconds per million
    // items).
    r#"
ALTER TABLE collections ADD COLUMN time_partitions text;
ALTER TABLE items DROP CONSTRAINT items_pkey;
DO $$
DECLARE p text;
BEGIN
    FOR p IN SELECT partition FROM collections LOOP
        EXECUTE format('ALTER TABLE %I ADD PRIMARY KEY (collection, id)', p);
    END LOOP;
END $$;
"#,
    // 9: the datetime index carries the cloud cover too: a search filtering
    // on it (the most common filter) tests it on the index's entries, and
    // reads only the rows of the items that pass. (Rebuilds that index:
    // 4 s for the benchmark's million items.)
    r#"
DROP INDEX items_datetime;
CREATE INDEX items_datetime ON items (datetime, collection, id)
    INCLUDE (start_dt, end_dt, minx, miny, maxx, maxy, cloud_cover);
"#,
];

/// Advisory lock key held while migrating ("tuileri" in ASCII).
const LOCK: i64 = 0x0074_7569_6c65_7269;

/// Brings the database to the latest schema; returns how many migrations ran.
pub(super) async fn migrate(client: &mut Client) -> Result<usize> {
    migrate_to(client, MIGRATIONS.len()).await
}

/// Brings the database to schema version `target` (at most the latest);
/// returns how many migrations ran.
pub(super) async fn migrate_to(client: &mut Client, target: usize) -> Result<usize> {
    let target = target.min(MIGRATIONS.len());
    let tx = client.transaction().await.map_err(pg)?;
    // A migration may rewrite every item: no time limit.
    tx.batch_execute("SET LOCAL statement_timeout = 0")
        .await
        .map_err(pg)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK])
        .await
        .map_err(pg)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS tuilerie_schema (
            version    integer PRIMARY KEY,
            applied_at timestamptz NOT NULL DEFAULT now()
         )",
    )
    .await
    .map_err(pg)?;
    let row = tx
        .query_one("SELECT coalesce(max(version), 0) FROM tuilerie_schema", &[])
        .await
        .map_err(pg)?;
    let version: i32 = row.try_get(0).map_err(pg)?;
    let version = version.max(0) as usize;
    if version > MIGRATIONS.len() {
        return Err(CatalogError::Storage(format!(
            "the database has schema version {version}, newer than this tuilerie ({}); upgrade tuilerie",
            MIGRATIONS.len()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().take(target).skip(version) {
        tx.batch_execute(sql).await.map_err(|e| {
            CatalogError::Storage(format!(
                "migration {} failed: {}",
                i + 1,
                super::describe(&e)
            ))
        })?;
        let v = (i + 1) as i32;
        tx.execute("INSERT INTO tuilerie_schema (version) VALUES ($1)", &[&v])
            .await
            .map_err(pg)?;
    }
    tx.commit().await.map_err(pg)?;
    Ok(target.saturating_sub(version))
}

/// A table name for a collection's partition: readable, unique (a hash of
/// the id), at most 63 bytes.
pub(super) fn partition_name(collection: &str) -> String {
    let hash = xxhash_rust::xxh3::xxh3_64(collection.as_bytes());
    format!("items_{}_{hash:016x}", readable(collection, 40))
}

/// A name made only of `[a-z0-9_]`, safe to write into DDL as it is.
pub(super) fn is_plain_identifier(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// At most `max` characters of `name` fit for an SQL identifier: ASCII
/// letters (lower-cased) and digits, `_` for anything else.
pub(super) fn readable(name: &str, max: usize) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .take(max)
        .collect()
}

/// A SQL string literal (for DDL, where parameters cannot be bound, and for
/// the property names of filters, which an index expression must match).
/// Quotes are doubled; text with a backslash is written as an `E''` string
/// with the backslashes doubled, so that it reads the same whatever
/// `standard_conforming_strings` says.
pub(super) fn literal(s: &str) -> String {
    let quoted = s.replace('\'', "''");
    if s.contains('\\') {
        format!("E'{}'", quoted.replace('\\', "\\\\"))
    } else {
        format!("'{quoted}'")
    }
}

/// A property of the items (of the table or alias `table`, e.g. `"i."`, or
/// `""` in an index definition) compared as text: in byte order, as SQLite
/// compares. The CQL2 translator and the indexes of `tuilerie:indexes`
/// both use this expression, which is what lets PostgreSQL match them.
pub(super) fn text_property(table: &str, name: &str) -> String {
    format!("(({table}properties->>{}) COLLATE \"C\")", literal(name))
}

/// A property compared as a number (NULL when it is not one; see
/// `tl_number`); shared by the translator and the indexes, as
/// [`text_property`].
pub(super) fn number_property(table: &str, name: &str) -> String {
    format!("tl_number({table}properties->>{})", literal(name))
}
