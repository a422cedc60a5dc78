//! The items' partitions: one per collection (a list partition of `items`),
//! itself split by calendar year or month of the items' `datetime` when the
//! collection asks for it (`tuilerie:time_partitions`).
//!
//! A collection's partition without time partitions has its own primary key
//! (collection, id). A collection's items split in time cannot: PostgreSQL
//! requires a unique index on a partitioned table to hold its partition key
//! (`datetime`), and an item may change its datetime. Its time partitions
//! have an index on (collection, id) instead, and uniqueness is kept by the
//! writers: every write of such a collection's items holds the collection's
//! advisory lock (the one collection writes take), looks up every id of the
//! batch, and replaces an item by deleting its old row.
//!
//! Time partitions are made when the first item of their year (or month)
//! is written, in the writing transaction.

use super::pg;
use super::schema::{is_plain_identifier, literal, readable};
use crate::catalog::error::{CatalogError, Result};
use crate::catalog::partitions::TimeSpan;
use deadpool_postgres::Transaction;
use std::collections::{BTreeMap, BTreeSet};

/// The seed of the per-collection advisory lock that collection writes and
/// item writes of collections split in time take.
pub(super) const COLLECTION_LOCK_SEED: i64 = 7;

/// Takes the collection's advisory lock (until the transaction ends).
pub(super) async fn lock_collection(tx: &Transaction<'_>, collection: &str) -> Result<()> {
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, $2))",
        &[&collection, &COLLECTION_LOCK_SEED],
    )
    .await
    .map_err(pg)?;
    Ok(())
}

/// The name of a collection's time partition labelled `label` (`2021`,
/// `2021_03`): readable, unique (a hash of the collection id), at most 52
/// bytes of `[a-z0-9_]`.
pub(super) fn time_partition_name(collection: &str, label: &str) -> String {
    let hash = xxhash_rust::xxh3::xxh3_64(collection.as_bytes());
    // (Years before 0 would be labelled "-001".)
    let label = label.replace('-', "n");
    format!("items_{}_{hash:016x}_{label}", readable(collection, 20))
}

fn checked(name: &str) -> Result<&str> {
    if is_plain_identifier(name) {
        Ok(name)
    } else {
        Err(CatalogError::Storage(format!(
            "'{}' is not a partition name this store makes",
            name.escape_debug()
        )))
    }
}

/// Creates a collection's partition (`partition`), split in time or not.
pub(super) async fn create(
    tx: &Transaction<'_>,
    collection: &str,
    partition: &str,
    span: Option<TimeSpan>,
) -> Result<()> {
    let partition = checked(partition)?;
    // DDL cannot bind parameters: the names are made of [a-z0-9_] and the
    // value is quoted as a literal.
    let sql = match span {
        None => format!(
            "CREATE TABLE {partition} PARTITION OF items (PRIMARY KEY (collection, id))
             FOR VALUES IN ({})",
            literal(collection)
        ),
        Some(_) => format!(
            "CREATE TABLE {partition} PARTITION OF items FOR VALUES IN ({})
             PARTITION BY RANGE (datetime);
             CREATE INDEX {partition}_key ON {partition} (collection, id)",
            literal(collection)
        ),
    };
    tx.batch_execute(&sql).await.map_err(pg)
}

/// Makes the time partitions that items at these datetimes need and that
/// do not exist yet (the caller holds the collection's lock).
pub(super) async fn ensure_time_partitions(
    tx: &Transaction<'_>,
    collection: &str,
    partition: &str,
    span: TimeSpan,
    datetimes: impl IntoIterator<Item = i64>,
) -> Result<()> {
    let partition = checked(partition)?;
    let mut needed: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for t in datetimes {
        let (start, end, label) = span.bounds(t);
        needed.insert(time_partition_name(collection, &label), (start, end));
    }
    if needed.is_empty() {
        return Ok(());
    }
    let rows = tx
        .query(
            "SELECT c.relname::text FROM pg_inherits h JOIN pg_class c ON c.oid = h.inhrelid
             WHERE h.inhparent = $1::text::regclass",
            &[&partition],
        )
        .await
        .map_err(pg)?;
    let existing: BTreeSet<String> = rows
        .iter()
        .map(|r| r.try_get(0))
        .collect::<std::result::Result<_, _>>()
        .map_err(pg)?;
    for (name, (start, end)) in needed {
        if existing.contains(&name) {
            continue;
        }
        let name = checked(&name)?;
        tx.batch_execute(&format!(
            "CREATE TABLE {name} PARTITION OF {partition} FOR VALUES FROM ({start}) TO ({end})"
        ))
        .await
        .map_err(pg)?;
    }
    Ok(())
}

/// Rebuilds a collection's partition with another layout (split in time or
/// not), moving its items: the old partition is detached and renamed, the
/// new one made and filled, the old one dropped. The caller holds the
/// collection's lock; searches wait for the move.
pub(super) async fn rebuild(
    tx: &Transaction<'_>,
    collection: &str,
    partition: &str,
    span: Option<TimeSpan>,
) -> Result<()> {
    let partition = checked(partition)?;
    let old = format!("{partition}_old");
    let old = checked(old.get(..63).unwrap_or(&old))?.to_string();
    tx.batch_execute(&format!(
        "ALTER TABLE items DETACH PARTITION {partition}; ALTER TABLE {partition} RENAME TO {old}"
    ))
    .await
    .map_err(pg)?;
    create(tx, collection, partition, span).await?;
    if let Some(span) = span {
        let rows = tx
            .query(&format!("SELECT DISTINCT datetime FROM {old}"), &[])
            .await
            .map_err(pg)?;
        let datetimes = rows
            .iter()
            .map(|r| r.try_get::<_, i64>(0))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(pg)?;
        ensure_time_partitions(tx, collection, partition, span, datetimes).await?;
    }
    let columns = "collection, id, datetime, start_dt, end_dt, geom, cloud_cover, properties, doc, links, words, updated";
    tx.batch_execute(&format!(
        "INSERT INTO {partition} ({columns}) SELECT {columns} FROM {old}; DROP TABLE {old}"
    ))
    .await
    .map_err(pg)?;
    Ok(())
}

/// The layout a collection's partition has now (`None`: not split in time).
pub(super) fn stored_span(text: Option<&str>) -> Option<TimeSpan> {
    text.and_then(TimeSpan::from_name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::item::{ItemContext, ItemDoc, parse_item};
    use crate::catalog::postgres::PostgresCatalog;
    use crate::catalog::{Catalog, Limits, Scope, SearchQuery, WriteMode};
    use serde_json::{Value, json};

    async fn put_collection(cat: &PostgresCatalog, id: &str, span: Option<&str>) {
        let mut doc = json!({
            "type": "Collection", "stac_version": "1.0.0", "id": id, "description": id,
            "license": "proprietary", "links": [],
            "extent": {"spatial": {"bbox": [[-180, -90, 180, 90]]}, "temporal": {"interval": [[null, null]]}}
        });
        if let Some(span) = span {
            doc["tuilerie:time_partitions"] = span.into();
        }
        let c = crate::catalog::collection::parse_collection(&doc.to_string(), None).unwrap();
        cat.put_collection(c, WriteMode::Upsert).await.unwrap();
    }

    /// Item `n` of a collection: a 0.5° box and a datetime spread over five
    /// years, a cloud cover.
    fn item(collection: &str, n: usize, datetime: &str) -> ItemDoc {
        let (x, y) = ((n % 13) as f64 * 0.7, 40.0 + (n % 11) as f64 * 0.6);
        let doc = json!({
            "type": "Feature", "stac_version": "1.0.0", "id": format!("i{n:04}"), "collection": collection,
            "bbox": [x, y, x + 0.5, y + 0.5],
            "geometry": {"type": "Polygon", "coordinates": [[[x, y], [x + 0.5, y], [x + 0.5, y + 0.5], [x, y + 0.5], [x, y]]]},
            "properties": {"datetime": datetime, "eo:cloud_cover": (n * 7 % 100) as f64},
            "links": [], "assets": {}
        });
        parse_item(&doc.to_string(), &ItemContext::default()).unwrap()
    }

    fn datetime(n: usize) -> String {
        format!(
            "{}-{:02}-{:02}T10:00:00Z",
            2019 + n % 5,
            1 + n % 12,
            1 + n % 28
        )
    }

    /// Every page of a search, as ids.
    async fn all_ids(cat: &PostgresCatalog, mut body: Value) -> Vec<String> {
        body["limit"] = 9.into();
        let mut q = SearchQuery::from_json_body(body, Limits::default()).unwrap();
        let mut ids = Vec::new();
        loop {
            let page = cat.search(&Scope::All, &q).await.unwrap();
            ids.extend(page.items.iter().map(|i| i.id.clone()));
            match page.next {
                Some(next) => q.cursor = Some(next),
                None => return ids,
            }
        }
    }

    async fn time_partitions(cat: &PostgresCatalog, collection: &str) -> Vec<String> {
        let client = cat.client().await.unwrap();
        let partition = super::super::schema::partition_name(collection);
        client
            .query(
                "SELECT c.relname::text FROM pg_inherits h JOIN pg_class c ON c.oid = h.inhrelid
                 WHERE h.inhparent = $1::text::regclass ORDER BY 1",
                &[&partition],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    }

    async fn rows_of(cat: &PostgresCatalog, collection: &str, id: &str) -> i64 {
        let client = cat.client().await.unwrap();
        client
            .query_one(
                "SELECT count(*) FROM items WHERE collection = $1 AND id = $2",
                &[&collection, &id],
            )
            .await
            .unwrap()
            .get(0)
    }

    /// A collection split by year answers every search as the same items
    /// kept together do; items move between years, are never doubled, and
    /// a collection can be split or joined again with its items.
    #[tokio::test]
    async fn items_split_in_time_behave_as_items_kept_together() {
        let Some(cat) = super::super::test_catalog("tl_split").await else {
            return;
        };
        put_collection(&cat, "split", Some("year")).await;
        put_collection(&cat, "flat", None).await;
        for c in ["split", "flat"] {
            let items: Vec<ItemDoc> = (0..400).map(|n| item(c, n, &datetime(n))).collect();
            cat.put_items(items, WriteMode::Upsert).await.unwrap();
        }
        let years: Vec<String> = (2019..2024)
            .map(|y| time_partition_name("split", &y.to_string()))
            .collect();
        assert_eq!(time_partitions(&cat, "split").await, years);
        assert!(time_partitions(&cat, "flat").await.is_empty());
        cat.analyze().await.unwrap();

        let searches = [
            json!({}),
            json!({"bbox": [1.0, 41.0, 3.0, 43.0]}),
            json!({"datetime": "2020-03-01T00:00:00Z/2021-06-30T00:00:00Z"}),
            json!({"bbox": [0.0, 40.0, 5.0, 44.0], "datetime": "2021-01-01T00:00:00Z/2021-12-31T23:59:59Z"}),
            json!({"ids": ["i0003", "i0150", "i0399", "nope"]}),
            json!({"filter": {"op": "<", "args": [{"property": "eo:cloud_cover"}, 20]}}),
            json!({"bbox": [2.0, 42.0, 4.0, 44.0], "sortby": [{"field": "datetime", "direction": "asc"}]}),
        ];
        for body in &searches {
            let mut split = body.clone();
            split["collections"] = json!(["split"]);
            let mut flat = body.clone();
            flat["collections"] = json!(["flat"]);
            let got = all_ids(&cat, split).await;
            assert_eq!(got, all_ids(&cat, flat).await, "{body}");
            assert!(!got.is_empty(), "{body}");
        }

        // An item moved to another year: one row, in its new year.
        let moved = item("split", 7, "2030-05-05T00:00:00Z");
        cat.put_items(vec![moved], WriteMode::Upsert).await.unwrap();
        assert_eq!(rows_of(&cat, "split", "i0007").await, 1);
        assert!(
            time_partitions(&cat, "split")
                .await
                .contains(&time_partition_name("split", "2030"))
        );
        let found = all_ids(
            &cat,
            json!({"collections": ["split"], "datetime": "2030-01-01T00:00:00Z/.."}),
        )
        .await;
        assert_eq!(found, ["i0007"]);
        // Created again: a conflict, whatever its datetime.
        let again = item("split", 8, "2025-01-01T00:00:00Z");
        let err = cat
            .put_items(vec![again], WriteMode::Create)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("already exists"), "{err}");
        assert_eq!(rows_of(&cat, "split", "i0008").await, 1);
        // Replaced with another datetime, then deleted.
        let replaced = item("split", 9, "2019-12-31T23:59:59Z");
        cat.put_items(vec![replaced], WriteMode::Replace)
            .await
            .unwrap();
        assert_eq!(rows_of(&cat, "split", "i0009").await, 1);
        assert!(cat.delete_item("split", "i0009").await.unwrap());
        assert_eq!(rows_of(&cat, "split", "i0009").await, 0);

        // Writers racing with the same new items: each stored once.
        let (a, b) = tokio::join!(
            cat.put_items(
                (500..600).map(|n| item("split", n, &datetime(n))).collect(),
                WriteMode::Upsert
            ),
            cat.put_items(
                (550..650)
                    .map(|n| item("split", n, &datetime(n + 1)))
                    .collect(),
                WriteMode::Upsert
            ),
        );
        a.unwrap();
        b.unwrap();
        let client = cat.client().await.unwrap();
        let doubled: i64 = client
            .query_one(
                "SELECT count(*) FROM (SELECT id FROM items WHERE collection = 'split'
                 GROUP BY id HAVING count(*) > 1) d",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(doubled, 0);
        let n: i64 = client
            .query_one("SELECT item_count FROM collections WHERE id = 'split'", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(n, 399 + 150);

        // The flat collection split by month, then kept together again.
        let before = all_ids(&cat, json!({"collections": ["flat"]})).await;
        put_collection(&cat, "flat", Some("month")).await;
        assert_eq!(time_partitions(&cat, "flat").await.len(), 60);
        assert_eq!(
            all_ids(&cat, json!({"collections": ["flat"]})).await,
            before
        );
        put_collection(&cat, "flat", None).await;
        assert!(time_partitions(&cat, "flat").await.is_empty());
        assert_eq!(
            all_ids(&cat, json!({"collections": ["flat"]})).await,
            before
        );
        // (Its primary key is back: a duplicate is refused by the table.)
        let dup = client
            .execute(
                &format!(
                    "INSERT INTO items (collection, id, datetime, start_dt, end_dt, properties, doc, links, words, updated)
                     SELECT collection, id, datetime, start_dt, end_dt, properties, doc, links, words, updated
                     FROM {} WHERE id = 'i0001'",
                    super::super::schema::partition_name("flat")
                ),
                &[],
            )
            .await;
        assert!(dup.is_err());
        // Deleting the collection drops its time partitions with it.
        assert!(cat.delete_collection("split").await.unwrap());
        let left: i64 = client
            .query_one(
                "SELECT count(*) FROM pg_class WHERE relname = ANY($1)",
                &[&years],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(left, 0);
    }

    #[test]
    fn time_partition_names_are_identifiers() {
        for c in [
            "sentinel-2-l2a",
            "a very long collection name with spaces and àccents",
            "x",
        ] {
            for label in ["2021", "2021_03", "-001"] {
                let name = time_partition_name(c, label);
                assert!(name.len() <= 63, "{name}");
                assert!(is_plain_identifier(&name), "{name}");
            }
        }
        assert_ne!(
            time_partition_name("a-b", "2021"),
            time_partition_name("a_b", "2021")
        );
        assert!(checked("items_x; DROP TABLE items").is_err());
    }
}
