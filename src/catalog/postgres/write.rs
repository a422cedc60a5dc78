//! Writes on PostgreSQL. Every call is one transaction: a batch is stored
//! entirely or not at all. Item batches go through a binary COPY into a
//! temporary staging table, then one upsert into the partitioned table.

use super::copy::{BinaryCopy, CopyError};
use super::indexes;
use super::packing::{self, MARKER, TRAINING_LOCK_SEED};
use super::partitions;
use super::pg;
use super::schema::partition_name;
use super::search::{box_size, space_bucket, time_bucket, tsvector, tsvector_binary};
use crate::catalog::collection::CollectionDoc;
use crate::catalog::error::{CatalogError, Result};
use crate::catalog::item::{ItemDoc, JsonType};
use crate::catalog::packing::{
    Dictionaries, Dictionary, TRAINING_SAMPLES, items_per_collection, training_samples,
};
use crate::catalog::partitions::TimeSpan;
use crate::catalog::scope::Access;
use crate::catalog::sqlite::write_time;
use crate::catalog::{WriteMode, WriteSummary};
use deadpool_postgres::Transaction;
use postgres_types::{ToSql, Type};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

fn access_text(access: &Access) -> String {
    match access {
        Access::Open => "open".into(),
        Access::Restricted(roles) => serde_json::to_string(roles).unwrap_or_else(|_| "[]".into()),
    }
}

/// Creates or replaces a collection (and creates its items' partition), and
/// brings the partition's indexes in line with its `tuilerie:indexes`.
pub(super) async fn put_collection(
    tx: &Transaction<'_>,
    c: &CollectionDoc,
    mode: WriteMode,
) -> Result<WriteSummary> {
    // Serialises writers of the same collection id (two instances creating
    // it), and writers of its items when they are split in time.
    partitions::lock_collection(tx, &c.id).await?;
    let stored = tx
        .query_opt(
            "SELECT time_partitions FROM collections WHERE id = $1",
            &[&c.id],
        )
        .await
        .map_err(pg)?;
    let exists = stored.is_some();
    mode.check_collection(exists, &c.id)?;
    let [minx, miny, maxx, maxy] = c.bbox.map(|b| b.map(Some)).unwrap_or([None; 4]);
    let partition = partition_name(&c.id);
    if let Some(row) = &stored {
        let before: Option<String> = row.try_get(0).map_err(pg)?;
        if partitions::stored_span(before.as_deref()) != c.time_partitions {
            // Split in time now, or no longer: the items move to a new
            // partition (without the old one's property indexes, which the
            // sync below makes again).
            partitions::rebuild(tx, &c.id, &partition, c.time_partitions).await?;
        }
    }
    if exists {
        // The partition's indexes first: item writers lock the partition,
        // then the collection's row; taking them in the same order cannot
        // deadlock (an index build waits for them, they wait for it).
        indexes::sync(tx, &c.id, &partition, &c.indexes).await?;
    }
    tx.execute(
        "INSERT INTO collections (id, doc, links, minx, miny, maxx, maxy, start_dt, end_dt, text, access, partition, updated, time_partitions)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
         ON CONFLICT (id) DO UPDATE SET doc = excluded.doc, links = excluded.links,
           minx = excluded.minx, miny = excluded.miny, maxx = excluded.maxx, maxy = excluded.maxy,
           start_dt = excluded.start_dt, end_dt = excluded.end_dt, text = excluded.text,
           access = excluded.access, updated = excluded.updated, time_partitions = excluded.time_partitions",
        &[
            &c.id,
            &c.doc,
            &c.links,
            &minx,
            &miny,
            &maxx,
            &maxy,
            &c.interval.0,
            &c.interval.1,
            &c.text,
            &access_text(&c.access),
            &partition,
            &write_time(),
            &c.time_partitions.map(|s| s.as_str()),
        ],
    )
    .await
    .map_err(pg)?;
    if !exists {
        partitions::create(tx, &c.id, &partition, c.time_partitions).await?;
        indexes::sync(tx, &c.id, &partition, &c.indexes).await?;
    }
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

/// Deletes a collection: its partition is dropped whole (with its indexes).
pub(super) async fn delete_collection(tx: &Transaction<'_>, id: &str) -> Result<bool> {
    // Taken in turn with writers of the collection (see `put_collection`).
    partitions::lock_collection(tx, id).await?;
    let row = tx
        .query_opt(
            "DELETE FROM collections WHERE id = $1 RETURNING partition",
            &[&id],
        )
        .await
        .map_err(pg)?;
    let Some(row) = row else {
        return Ok(false);
    };
    let partition: String = row.try_get(0).map_err(pg)?;
    for table in ["collection_properties", "item_histogram"] {
        tx.execute(
            &format!("DELETE FROM {table} WHERE collection = $1"),
            &[&id],
        )
        .await
        .map_err(pg)?;
    }
    if partition
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        tx.batch_execute(&format!("DROP TABLE IF EXISTS {partition}"))
            .await
            .map_err(pg)?;
    }
    Ok(true)
}

/// Deletes one item.
pub(super) async fn delete_item(tx: &Transaction<'_>, collection: &str, id: &str) -> Result<bool> {
    let row = tx
        .query_opt(
            "DELETE FROM items WHERE collection = $1 AND id = $2
             RETURNING datetime, tl_space_bucket(geom),
               round((ST_XMax(geom) - ST_XMin(geom)) * 1000)::int8, round((ST_YMax(geom) - ST_YMin(geom)) * 1000)::int8",
            &[&collection, &id],
        )
        .await
        .map_err(pg)?;
    let Some(row) = row else {
        return Ok(false);
    };
    let datetime: i64 = row.try_get(0).map_err(pg)?;
    let cell: Option<i64> = row.try_get(1).map_err(pg)?;
    let mut histogram = Histogram::default();
    histogram.add(collection, 1, time_bucket(datetime), -1);
    if let Some(cell) = cell {
        histogram.add(collection, 0, cell, -1);
        for k in 0..2 {
            let size: Option<i64> = row.try_get(2 + k).map_err(pg)?;
            histogram.add(collection, 2, k as i64, -size.unwrap_or(0));
        }
    }
    histogram.apply(tx, false).await?;
    tx.execute(
        "UPDATE collections SET item_count = item_count - 1, updated = $2 WHERE id = $1",
        &[&collection, &write_time()],
    )
    .await
    .map_err(pg)?;
    Ok(true)
}

/// Per-collection facts gathered over a batch.
#[derive(Default)]
struct BatchStats {
    max_before: i64,
    max_after: i64,
    properties: BTreeMap<String, BTreeSet<JsonType>>,
}

/// Changes to the search histograms (`item_histogram`) made by a write.
#[derive(Default, Clone)]
struct Histogram(BTreeMap<(String, i16, i64), i64>);

impl Histogram {
    fn add(&mut self, collection: &str, kind: i16, bucket: i64, n: i64) {
        *self
            .0
            .entry((collection.to_string(), kind, bucket))
            .or_default() += n;
    }

    /// Writes the changes, less the buckets of the items about to be
    /// replaced by the staged ones when `replacing`; in key order, so that
    /// concurrent writers lock the rows in the same order.
    async fn apply(self, tx: &Transaction<'_>, replacing: bool) -> Result<()> {
        let mut collections = Vec::with_capacity(self.0.len());
        let mut kinds = Vec::with_capacity(self.0.len());
        let mut buckets = Vec::with_capacity(self.0.len());
        let mut counts = Vec::with_capacity(self.0.len());
        for ((collection, kind, bucket), n) in self.0 {
            collections.push(collection);
            kinds.push(kind);
            buckets.push(bucket);
            counts.push(n);
        }
        let replaced = if replacing {
            "UNION ALL
             SELECT i.collection, 0::int2, tl_space_bucket(i.geom), -1::int8
             FROM staging s JOIN items i ON i.collection = s.collection AND i.id = s.id
             WHERE i.geom IS NOT NULL
             UNION ALL
             SELECT i.collection, 1::int2, i.datetime >> 41, -1::int8
             FROM staging s JOIN items i ON i.collection = s.collection AND i.id = s.id
             UNION ALL
             SELECT i.collection, 2::int2, k, -round(CASE k WHEN 0 THEN ST_XMax(i.geom) - ST_XMin(i.geom)
                                                          ELSE ST_YMax(i.geom) - ST_YMin(i.geom) END * 1000)::int8
             FROM staging s JOIN items i ON i.collection = s.collection AND i.id = s.id, (VALUES (0::int8), (1)) AS v(k)
             WHERE i.geom IS NOT NULL"
        } else {
            ""
        };
        tx.execute(
            &format!(
                "INSERT INTO item_histogram (collection, kind, bucket, count)
                 SELECT collection, kind, bucket, sum(n) FROM (
                   SELECT * FROM unnest($1::text[], $2::int2[], $3::int8[], $4::int8[]) AS d(collection, kind, bucket, n)
                   {replaced}
                 ) d WHERE bucket IS NOT NULL
                 GROUP BY 1, 2, 3 HAVING sum(n) <> 0 ORDER BY 1, 2, 3
                 ON CONFLICT (collection, kind, bucket) DO UPDATE SET count = item_histogram.count + excluded.count"
            ),
            &[&collections, &kinds, &buckets, &counts],
        )
        .await
        .map_err(pg)?;
        Ok(())
    }
}

const STAGING_TYPES: [Type; 13] = [
    Type::INT4,
    Type::TEXT,
    Type::TEXT,
    Type::INT8,
    Type::INT8,
    Type::INT8,
    Type::BYTEA,
    Type::FLOAT8,
    Type::TEXT,
    Type::BYTEA,
    Type::TEXT,
    Type::TEXT,
    Type::INT8,
];

/// Dictionaries trained by a write, to be installed once it is committed.
pub(super) type Trained = Vec<(String, Arc<Dictionary>)>;

/// Writes a batch of items in one transaction; documents are stored
/// packed with their collection's dictionary when it has one (see
/// [`pick_dictionaries`]). Returns the dictionaries trained on the batch,
/// to be [`Dictionaries::install`]ed once the transaction is committed.
pub(super) async fn put_items(
    tx: &Transaction<'_>,
    items: &[ItemDoc],
    mode: WriteMode,
    dictionaries: &Dictionaries,
) -> Result<(WriteSummary, Trained)> {
    if items.is_empty() {
        return Ok((WriteSummary::default(), Vec::new()));
    }
    // Every collection must exist (and so has its partition).
    let mut stats: HashMap<&str, BatchStats> = HashMap::new();
    for item in items {
        let s = stats.entry(item.collection.as_str()).or_default();
        s.max_before = s.max_before.max(item.datetime - item.start);
        s.max_after = s.max_after.max(item.end - item.datetime);
        for (name, kind) in &item.property_types {
            if let Some(kinds) = s.properties.get_mut(name.as_str()) {
                kinds.insert(*kind);
            } else {
                s.properties.insert(name.clone(), BTreeSet::from([*kind]));
            }
        }
    }
    let wanted: Vec<String> = stats.keys().map(|c| c.to_string()).collect();
    // With each collection's newest dictionary and its partitions, in the
    // same round trip.
    let rows = tx
        .query(
            "SELECT c.id, (SELECT max(d.id) FROM dictionaries d WHERE d.collection = c.id),
                    c.partition, c.time_partitions
             FROM collections c WHERE c.id = ANY($1) ORDER BY c.id",
            &[&wanted],
        )
        .await
        .map_err(pg)?;
    let mut newest: HashMap<String, Option<i32>> = HashMap::with_capacity(rows.len());
    // Collections whose items are split in time: (id, partition, span).
    let mut split: Vec<(String, String, TimeSpan)> = Vec::new();
    for row in &rows {
        let id: String = row.try_get(0).map_err(pg)?;
        let span: Option<String> = row.try_get(3).map_err(pg)?;
        if let Some(span) = partitions::stored_span(span.as_deref()) {
            split.push((id.clone(), row.try_get(2).map_err(pg)?, span));
        }
        newest.insert(id, row.try_get(1).map_err(pg)?);
    }
    if newest.len() != wanted.len() {
        let missing = items
            .iter()
            .find(|i| !newest.contains_key(&i.collection))
            .map(|i| i.collection.clone())
            .unwrap_or_default();
        return Err(CatalogError::CollectionNotFound(missing));
    }

    // The last of several versions of an item in one batch wins, as if the
    // batch were written in order: only that one is staged (so the upsert
    // needs no sort of the wide rows).
    let staged = items.len() as u64;
    let mut last: HashMap<(&str, &str), usize> = HashMap::with_capacity(items.len());
    for (n, item) in items.iter().enumerate() {
        last.insert((item.collection.as_str(), item.id.as_str()), n);
    }
    let distinct = last.len() as u64;
    if mode == WriteMode::Create && distinct != staged {
        let mut seen = std::collections::HashSet::with_capacity(items.len());
        if let Some(dup) = items
            .iter()
            .find(|i| !seen.insert((i.collection.as_str(), i.id.as_str())))
        {
            return Err(CatalogError::Conflict(format!(
                "item '{}' already exists in collection '{}'",
                dup.id, dup.collection
            )));
        }
    }
    // Items split in time: the collection's lock (in id order, as other
    // writers take them), then the time partitions they need.
    for (collection, partition, span) in &split {
        partitions::lock_collection(tx, collection).await?;
        let datetimes = last
            .iter()
            .filter(|((c, _), _)| c == collection)
            .map(|(_, &n)| items[n].datetime);
        partitions::ensure_time_partitions(tx, collection, partition, *span, datetimes).await?;
    }
    let now = write_time();
    let (packers, trained) = pick_dictionaries(tx, dictionaries, items, &newest, now).await?;
    // The stored documents (of the last versions only): packed on a parser
    // thread (`prepare_items`), else here, else plain.
    let docs: Vec<Cow<[u8]>> = items
        .iter()
        .enumerate()
        .map(|(n, item)| {
            if last.get(&(item.collection.as_str(), item.id.as_str())) != Some(&n) {
                return Cow::Borrowed(&[][..]);
            }
            if let Some(packed) = &item.packed {
                return Cow::Borrowed(packed.as_slice());
            }
            packers
                .get(item.collection.as_str())
                .and_then(|d| d.pack(MARKER, &item.doc))
                .map_or(Cow::Borrowed(item.doc.as_bytes()), Cow::Owned)
        })
        .collect();
    let mut histogram = Histogram::default();
    for (n, item) in items.iter().enumerate() {
        if last.get(&(item.collection.as_str(), item.id.as_str())) != Some(&n) {
            continue;
        }
        histogram.add(&item.collection, 1, time_bucket(item.datetime), 1);
        if let Some(f) = &item.footprint {
            histogram.add(&item.collection, 0, space_bucket(&f.bounds), 1);
            let [w, h] = box_size(&f.bounds);
            histogram.add(&item.collection, 2, 0, w);
            histogram.add(&item.collection, 2, 1, h);
        }
    }
    let mut inserted_by: HashMap<String, i64> = HashMap::new();

    // New items (an ingest's usual batch) are copied straight into the
    // table, without staging: the partition's primary key refuses the copy
    // should one exist after all, and the batch is then written again the
    // general way (Create: a conflict). A sample of the ids is looked up
    // first, so that a batch of updates rarely takes the detour; every id,
    // for collections split in time, which have no primary key (their
    // writers hold the collection's lock meanwhile).
    let mut summary = None;
    let whole: Vec<&str> = split.iter().map(|(c, _, _)| c.as_str()).collect();
    if mode != WriteMode::Replace && !any_exists(tx, &last, &whole).await? {
        tx.batch_execute("SAVEPOINT new_items").await.map_err(pg)?;
        match copy_new(tx, items, &docs, &last, now).await {
            Ok(()) => {
                tx.batch_execute("RELEASE SAVEPOINT new_items")
                    .await
                    .map_err(pg)?;
                histogram.clone().apply(tx, false).await?;
                for (collection, _) in last.keys() {
                    *inserted_by.entry(collection.to_string()).or_default() += 1;
                }
                summary = Some(WriteSummary {
                    inserted: distinct,
                    updated: staged - distinct,
                });
            }
            Err(CopyError::Server(e))
                if e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) =>
            {
                tx.batch_execute("ROLLBACK TO SAVEPOINT new_items")
                    .await
                    .map_err(pg)?;
            }
            Err(e) => return Err(e.into()),
        }
    }
    let summary = match summary {
        Some(summary) => summary,
        None => {
            stage_and_write(
                tx,
                items,
                &docs,
                &last,
                mode,
                now,
                &histogram,
                &mut inserted_by,
            )
            .await?
        }
    };
    finish_batch(tx, stats, &inserted_by, now).await?;
    Ok((summary, trained))
}

/// The dictionary each collection of a batch is packed with (its newest
/// one), and those trained on the batch: a collection without one gets one
/// from the batch's first [`TRAINING_SAMPLES`] documents of it, when it has
/// that many.
///
/// Writers race for that (the two writers of an ingest, other instances):
/// training takes a per-collection advisory lock, *tried* rather than
/// waited for, and looks again once it holds it. A writer that finds the
/// lock taken writes its batch plain (waiting would hold it behind another
/// writer's whole batch, and could run past `statement_timeout`); one that
/// finds a dictionary committed meanwhile packs with it. So a collection
/// has one dictionary; were there ever several, every document names its
/// own, and the newest packs.
async fn pick_dictionaries(
    tx: &Transaction<'_>,
    dictionaries: &Dictionaries,
    items: &[ItemDoc],
    newest: &HashMap<String, Option<i32>>,
    now: i64,
) -> Result<(HashMap<String, Arc<Dictionary>>, Trained)> {
    let mut packers = HashMap::new();
    let mut trained = Vec::new();
    // In id order: concurrent writers take the locks in the same order.
    for (collection, n) in items_per_collection(items) {
        let mut id = newest.get(collection).copied().flatten();
        if id.is_none() && n >= TRAINING_SAMPLES {
            let row = tx
                .query_one(
                    "SELECT pg_try_advisory_xact_lock(hashtextextended($1, $2))",
                    &[&collection, &TRAINING_LOCK_SEED],
                )
                .await
                .map_err(pg)?;
            if !row.try_get::<_, bool>(0).map_err(pg)? {
                continue;
            }
            let row = tx
                .query_one(
                    "SELECT max(id) FROM dictionaries WHERE collection = $1",
                    &[&collection],
                )
                .await
                .map_err(pg)?;
            id = row.try_get(0).map_err(pg)?;
            if id.is_none() {
                let samples = training_samples(items, collection);
                let made = packing::train(&**tx, dictionaries, collection, &samples, now).await?;
                if let Some(dictionary) = made {
                    packers.insert(collection.to_string(), dictionary.clone());
                    trained.push((collection.to_string(), dictionary));
                }
                continue;
            }
        }
        if let Some(id) = id
            && let Some(d) = packing::current(&**tx, dictionaries, collection, id.into()).await?
        {
            packers.insert(collection.to_string(), d);
        }
    }
    Ok((packers, trained))
}

/// Ids of a batch looked up before it is copied as new.
const EXISTENCE_SAMPLE: usize = 32;

/// True when some of a sample of the batch's items exist already (every
/// item of a small batch is looked at, and every item of the `whole`
/// collections). Looking up every id of a large batch cost more than
/// copying it: the unique index checks each anyway.
async fn any_exists(
    tx: &Transaction<'_>,
    last: &HashMap<(&str, &str), usize>,
    whole: &[&str],
) -> Result<bool> {
    let mut keys: Vec<(&str, &str, usize)> = last.iter().map(|(&(c, i), &n)| (c, i, n)).collect();
    keys.sort_unstable_by_key(|k| k.2);
    let sampled = keys.iter().filter(|k| !whole.contains(&k.0)).count();
    let step = sampled.div_ceil(EXISTENCE_SAMPLE).max(1);
    let mut by_collection: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut n = 0;
    for (collection, id, _) in keys {
        if whole.contains(&collection) {
            by_collection.entry(collection).or_default().push(id);
        } else {
            if n % step == 0 {
                by_collection.entry(collection).or_default().push(id);
            }
            n += 1;
        }
    }
    for (collection, ids) in by_collection {
        let row = tx
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM items WHERE collection = $1 AND id = ANY($2))",
                &[&collection, &ids],
            )
            .await
            .map_err(pg)?;
        if row.try_get::<_, bool>(0).map_err(pg)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Bytes sent as they are, in a binary COPY, for columns whose types the
/// driver does not know (geometry, json, tsvector).
#[derive(Debug)]
struct Raw<'a>(&'a [u8]);

impl ToSql for Raw<'_> {
    fn to_sql(
        &self,
        _: &Type,
        out: &mut bytes::BytesMut,
    ) -> std::result::Result<postgres_types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        out.extend_from_slice(self.0);
        Ok(postgres_types::IsNull::No)
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    postgres_types::to_sql_checked!();
}

/// A WKB geometry as EWKB with SRID 4326 (what `geometry` reads in binary).
fn ewkb(wkb: &[u8]) -> Vec<u8> {
    if wkb.len() < 5 {
        return wkb.to_vec();
    }
    let little = wkb[0] == 1;
    let mut kind = [0u8; 4];
    kind.copy_from_slice(&wkb[1..5]);
    let kind = if little {
        u32::from_le_bytes(kind)
    } else {
        u32::from_be_bytes(kind)
    } | 0x2000_0000;
    let mut out = Vec::with_capacity(wkb.len() + 4);
    out.push(wkb[0]);
    if little {
        out.extend_from_slice(&kind.to_le_bytes());
        out.extend_from_slice(&4326u32.to_le_bytes());
    } else {
        out.extend_from_slice(&kind.to_be_bytes());
        out.extend_from_slice(&4326u32.to_be_bytes());
    }
    out.extend_from_slice(&wkb[5..]);
    out
}

const ITEM_TYPES: [Type; 12] = [
    Type::TEXT,
    Type::TEXT,
    Type::INT8,
    Type::INT8,
    Type::INT8,
    Type::BYTEA, // geometry (raw EWKB)
    Type::FLOAT8,
    Type::BYTEA, // json (raw text)
    Type::BYTEA,
    Type::TEXT,
    Type::BYTEA, // tsvector (raw binary)
    Type::INT8,
];

/// Copies new items straight into the items table (binary COPY).
async fn copy_new(
    tx: &Transaction<'_>,
    items: &[ItemDoc],
    docs: &[Cow<'_, [u8]>],
    last: &HashMap<(&str, &str), usize>,
    now: i64,
) -> std::result::Result<(), CopyError> {
    let mut copy = BinaryCopy::start(
        tx,
        "COPY items (collection, id, datetime, start_dt, end_dt, geom, cloud_cover, properties, doc, links, words, updated) FROM STDIN (FORMAT binary)",
        &ITEM_TYPES,
    )
    .await?;
    for (n, item) in items.iter().enumerate() {
        if last.get(&(item.collection.as_str(), item.id.as_str())) != Some(&n) {
            continue;
        }
        let geom = item.footprint.as_ref().map(|f| ewkb(&f.wkb));
        let geom = geom.as_deref().map(Raw);
        let words = tsvector_binary(&item.text);
        let properties = Raw(item.properties.as_bytes());
        let words = Raw(&words);
        let doc: &[u8] = &docs[n];
        let row: [&(dyn ToSql + Sync); 12] = [
            &item.collection,
            &item.id,
            &item.datetime,
            &item.start,
            &item.end,
            &geom,
            &item.cloud_cover,
            &properties,
            &doc,
            &item.links,
            &words,
            &now,
        ];
        copy.row(&row).await?;
    }
    copy.finish().await?;
    Ok(())
}

/// Writes a batch through a staging table: replaces, and upserts of
/// batches with items that exist already.
#[allow(clippy::too_many_arguments)]
async fn stage_and_write(
    tx: &Transaction<'_>,
    items: &[ItemDoc],
    docs: &[Cow<'_, [u8]>],
    last: &HashMap<(&str, &str), usize>,
    mode: WriteMode,
    now: i64,
    histogram: &Histogram,
    inserted_by: &mut HashMap<String, i64>,
) -> Result<WriteSummary> {
    let staged = items.len() as u64;
    let distinct = last.len() as u64;
    tx.batch_execute(
        "CREATE TEMP TABLE IF NOT EXISTS staging (
            seq int4, collection text COLLATE \"C\", id text COLLATE \"C\", datetime int8, start_dt int8, end_dt int8,
            geom bytea, cloud_cover float8, properties text, doc bytea, links text, words text, updated int8
         ) ON COMMIT DELETE ROWS",
    )
    .await
    .map_err(pg)?;
    let mut copy = BinaryCopy::start(
        tx,
        "COPY staging (seq, collection, id, datetime, start_dt, end_dt, geom, cloud_cover, properties, doc, links, words, updated) FROM STDIN (FORMAT binary)",
        &STAGING_TYPES,
    )
    .await?;
    for (n, item) in items.iter().enumerate() {
        if last.get(&(item.collection.as_str(), item.id.as_str())) != Some(&n) {
            continue;
        }
        let seq = n as i32;
        let geom = item.footprint.as_ref().map(|f| f.wkb.as_slice());
        let words = tsvector(&item.text);
        let doc: &[u8] = &docs[n];
        let row: [&(dyn ToSql + Sync); 13] = [
            &seq,
            &item.collection,
            &item.id,
            &item.datetime,
            &item.start,
            &item.end,
            &geom,
            &item.cloud_cover,
            &item.properties,
            &doc,
            &item.links,
            &words,
            &now,
        ];
        copy.row(&row).await?;
    }
    copy.finish().await?;
    // A temporary table has no statistics otherwise: the joins with the
    // items below would be planned for a guess (a scan of every item).
    tx.batch_execute("ANALYZE staging").await.map_err(pg)?;

    let columns = "collection, id, datetime, start_dt, end_dt, geom, cloud_cover, properties, doc, links, words, updated";
    let values = "collection, id, datetime, start_dt, end_dt, ST_GeomFromWKB(geom, 4326), cloud_cover, properties::json, doc, links, words::tsvector, updated";
    let summary = match mode {
        WriteMode::Replace => {
            histogram.clone().apply(tx, true).await?;
            let n = tx
                .execute(
                    "UPDATE items i SET datetime = s.datetime, start_dt = s.start_dt, end_dt = s.end_dt,
                           geom = ST_GeomFromWKB(s.geom, 4326), cloud_cover = s.cloud_cover,
                           properties = s.properties::json, doc = s.doc,
                           links = s.links, words = s.words::tsvector, updated = s.updated
                         FROM staging s WHERE i.collection = s.collection AND i.id = s.id",
                    &[],
                )
                .await
                .map_err(pg)?;
            if n != distinct {
                let row = tx
                    .query_one(
                        "SELECT s.collection, s.id FROM staging s
                         WHERE NOT EXISTS (SELECT 1 FROM items i WHERE i.collection = s.collection AND i.id = s.id)
                         ORDER BY s.seq LIMIT 1",
                        &[],
                    )
                    .await
                    .map_err(pg)?;
                return Err(CatalogError::ItemNotFound {
                    collection: row.try_get(0).map_err(pg)?,
                    item: row.try_get(1).map_err(pg)?,
                });
            }
            WriteSummary {
                inserted: 0,
                updated: staged,
            }
        }
        WriteMode::Create | WriteMode::Upsert => {
            let mut attempt = 0;
            loop {
                attempt += 1;
                // Which staged items exist already, by collection (RETURNING
                // cannot tell inserts from updates on a partitioned table).
                let rows = tx
                    .query(
                        "SELECT s.collection, count(*) FILTER (WHERE EXISTS (
                               SELECT 1 FROM items i WHERE i.collection = s.collection AND i.id = s.id)),
                             count(*)
                             FROM staging s GROUP BY s.collection",
                        &[],
                    )
                    .await
                    .map_err(pg)?;
                let mut existing = 0u64;
                inserted_by.clear();
                for row in rows {
                    let collection: String = row.try_get(0).map_err(pg)?;
                    let old: i64 = row.try_get(1).map_err(pg)?;
                    let all: i64 = row.try_get(2).map_err(pg)?;
                    existing += old.max(0) as u64;
                    inserted_by.insert(collection, (all - old).max(0));
                }
                if mode == WriteMode::Create && existing > 0 {
                    let row = tx
                        .query_one(
                            "SELECT s.collection, s.id FROM staging s
                             WHERE EXISTS (SELECT 1 FROM items i WHERE i.collection = s.collection AND i.id = s.id)
                             ORDER BY s.seq LIMIT 1",
                            &[],
                        )
                        .await
                        .map_err(pg)?;
                    let collection: String = row.try_get(0).map_err(pg)?;
                    let id: String = row.try_get(1).map_err(pg)?;
                    return Err(CatalogError::Conflict(format!(
                        "item '{id}' already exists in collection '{collection}'"
                    )));
                }
                // Items that exist are replaced: their rows deleted, then
                // every staged item inserted (an item split in time may move
                // to another partition, and such partitions have no key an
                // upsert could go by). Should another writer insert one of
                // the new items meanwhile (a partition's primary key refuses
                // ours), it is done again (Create: a conflict); writers of
                // items split in time hold the collection's lock.
                if mode == WriteMode::Upsert {
                    tx.batch_execute("SAVEPOINT staged_items")
                        .await
                        .map_err(pg)?;
                }
                histogram.clone().apply(tx, existing > 0).await?;
                let mut done = Ok(0);
                if existing > 0 {
                    done = tx
                        .execute(
                            "DELETE FROM items i USING staging s
                             WHERE i.collection = s.collection AND i.id = s.id",
                            &[],
                        )
                        .await;
                }
                if done.is_ok() {
                    done = tx
                        .execute(
                            &format!(
                                "INSERT INTO items ({columns}) SELECT {values} FROM staging s"
                            ),
                            &[],
                        )
                        .await;
                }
                match done {
                    Err(e)
                        if mode == WriteMode::Upsert
                            && attempt < 5
                            && e.code()
                                == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) =>
                    {
                        tx.batch_execute("ROLLBACK TO SAVEPOINT staged_items")
                            .await
                            .map_err(pg)?;
                        continue;
                    }
                    Err(e)
                        if mode == WriteMode::Create
                            && e.code()
                                == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) =>
                    {
                        return Err(CatalogError::Conflict(
                            "an item of this batch was created meanwhile by another writer"
                                .to_string(),
                        ));
                    }
                    Err(e) => return Err(pg(e)),
                    Ok(_) => {}
                }
                if mode == WriteMode::Upsert {
                    tx.batch_execute("RELEASE SAVEPOINT staged_items")
                        .await
                        .map_err(pg)?;
                }
                let inserted = distinct.saturating_sub(existing);
                break WriteSummary {
                    inserted,
                    updated: staged - inserted,
                };
            }
        }
    };

    Ok(summary)
}

/// Updates the collections' counts, spans and property names after a batch.
async fn finish_batch(
    tx: &Transaction<'_>,
    stats: HashMap<&str, BatchStats>,
    inserted_by: &HashMap<String, i64>,
    now: i64,
) -> Result<()> {
    // In id order: concurrent writers lock the rows in the same order.
    let mut stats: Vec<(&str, BatchStats)> = stats.into_iter().collect();
    stats.sort_by(|a, b| a.0.cmp(b.0));
    for (collection, s) in &stats {
        tx.execute(
            "UPDATE collections SET max_before = greatest(max_before, $2), max_after = greatest(max_after, $3),
             item_count = item_count + $4, updated = $5 WHERE id = $1",
            &[
                collection,
                &s.max_before,
                &s.max_after,
                &inserted_by.get(*collection).copied().unwrap_or(0),
                &now,
            ],
        )
        .await
        .map_err(pg)?;
        let mut names = Vec::new();
        let mut types = Vec::new();
        for (name, kinds) in &s.properties {
            for kind in kinds {
                names.push(name.as_str());
                types.push(kind.as_str());
            }
        }
        tx.execute(
            "INSERT INTO collection_properties (collection, name, type)
             SELECT $1, n, t FROM unnest($2::text[], $3::text[]) AS u(n, t)
             ON CONFLICT DO NOTHING",
            &[collection, &names, &types],
        )
        .await
        .map_err(pg)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::catalog::error::CatalogError;
    use crate::catalog::item::{ItemContext, parse_item};
    use crate::catalog::{Catalog, Scope, SearchQuery, WriteMode};

    fn item(id: &str, cloud: f64) -> crate::catalog::item::ItemDoc {
        let doc = serde_json::json!({
            "type": "Feature", "stac_version": "1.0.0", "id": id, "collection": "c",
            "geometry": {"type": "Point", "coordinates": [2.0, 45.0]},
            "properties": {"datetime": "2024-05-01T10:00:00Z", "eo:cloud_cover": cloud},
            "assets": {}, "links": []
        });
        parse_item(&doc.to_string(), &ItemContext::default()).unwrap()
    }

    /// A batch of new items with one existing item the sample does not look
    /// at: the copy is refused by the unique index and the batch is written
    /// the general way (Upsert: replaced; Create: a conflict naming it).
    #[tokio::test]
    async fn an_existing_item_missed_by_the_sample_is_upserted() {
        let Some(cat) = super::super::test_catalog("tl_copy").await else {
            return;
        };
        let doc = serde_json::json!({
            "type": "Collection", "stac_version": "1.0.0", "id": "c", "description": "c",
            "license": "proprietary", "links": [],
            "extent": {"spatial": {"bbox": [[-180, -90, 180, 90]]}, "temporal": {"interval": [[null, null]]}}
        });
        let collection =
            crate::catalog::collection::parse_collection(&doc.to_string(), None).unwrap();
        cat.put_collection(collection, WriteMode::Upsert)
            .await
            .unwrap();
        cat.put_items(vec![item("old", 1.0)], WriteMode::Upsert)
            .await
            .unwrap();
        // 101 items: the sample looks at every 4th; "old" is the 2nd.
        let batch = |cloud: f64| {
            let mut v = vec![item("new-0", cloud), item("old", cloud)];
            v.extend((1..100).map(|k| item(&format!("new-{k}"), cloud)));
            v
        };
        assert!(batch(0.0).len().div_ceil(super::EXISTENCE_SAMPLE) > 1);
        let conflict = cat.put_items(batch(2.0), WriteMode::Create).await;
        assert!(
            matches!(&conflict, Err(CatalogError::Conflict(m)) if m.contains("'old'")),
            "{conflict:?}"
        );
        let written = cat.put_items(batch(3.0), WriteMode::Upsert).await.unwrap();
        assert_eq!((written.inserted, written.updated), (100, 1));
        let old = cat.item(&Scope::All, "c", "old").await.unwrap().unwrap();
        let old: serde_json::Value = serde_json::from_str(&old.to_json("")).unwrap();
        assert_eq!(old["properties"]["eo:cloud_cover"], 3.0);
        let mut all = SearchQuery::all(1);
        all.collections = vec!["c".into()];
        let page = cat.search(&Scope::All, &all).await.unwrap();
        assert_eq!(page.number_matched, Some(101));
    }
}
