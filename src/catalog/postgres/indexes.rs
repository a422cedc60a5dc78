//! The indexes a collection declares in `tuilerie:indexes`, kept on its
//! items' partition.
//!
//! Each declared property gets a B-tree index on the collection's partition,
//! on exactly the expression the CQL2 translator compares for it
//! ([`text_property`], [`number_property`]), so that PostgreSQL can answer a
//! filter on the property from the index. An index's name is a readable part
//! and a hash of (collection, property, kind); on each write of the
//! collection, the partition's indexes of that kind whose names are no longer
//! wanted are dropped and the missing ones created (nothing is done when
//! nothing changed). A dropped collection takes its partition's indexes
//! with it.
//!
//! Indexes are built inside the collection's write transaction rather than
//! `CONCURRENTLY` afterwards (which cannot run in a transaction, and leaves an
//! invalid index behind when it fails): the declaration and its indexes are
//! committed together, and a build that fails (a value too long to be
//! indexed) leaves the collection as it was, with a 400. The build holds a
//! SHARE lock on the partition: searches go on, writes of the collection's
//! items wait for it (about a second per 100,000 items on our 2-core
//! machine). The partition is then analysed, so that the planner knows how
//! selective the values are (without statistics on the expression it guesses,
//! and often prefers walking the datetime index).

use super::pg;
use super::schema::{is_plain_identifier, literal, number_property, text_property};
use crate::catalog::error::Result;
use crate::catalog::indexes::{IndexKind, PropertyIndexes};
use deadpool_postgres::Transaction;
use std::collections::BTreeMap;

/// The names of the indexes made for `tuilerie:indexes` start with this.
pub(super) const PREFIX: &str = "tl_ix_";

/// The index of a property of a collection: `tl_ix_<readable>_<hash>`, at
/// most 43 bytes of `[a-z0-9_]`, unique per (collection, property, kind).
pub(super) fn index_name(collection: &str, property: &str, kind: IndexKind) -> String {
    let readable = super::schema::readable(property, 20);
    let key = format!("{collection}\0{property}\0{}", kind.as_str());
    let hash = xxhash_rust::xxh3::xxh3_64(key.as_bytes());
    format!("{PREFIX}{readable}_{hash:016x}")
}

/// The expression an index of a property is made on (and that the
/// translator writes, with the `i.` alias).
pub(super) fn expression(property: &str, kind: IndexKind) -> String {
    match kind {
        IndexKind::Text => text_property("", property),
        IndexKind::Number => number_property("", property),
    }
}

/// What changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Changes {
    /// Indexes created.
    pub created: usize,
    /// Indexes dropped.
    pub dropped: usize,
}

/// Brings the indexes of a collection's partition in line with its
/// declaration (inside the caller's transaction).
pub(super) async fn sync(
    tx: &Transaction<'_>,
    collection: &str,
    partition: &str,
    declared: &PropertyIndexes,
) -> Result<Changes> {
    if !is_plain_identifier(partition) {
        return Err(crate::catalog::CatalogError::Storage(format!(
            "unexpected partition name {partition:?}"
        )));
    }
    let wanted: BTreeMap<String, (&str, IndexKind)> = declared
        .iter()
        .map(|(p, k)| (index_name(collection, p, *k), (p.as_str(), *k)))
        .collect();
    let rows = tx
        .query(
            "SELECT c.relname::text FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid
             WHERE x.indrelid = to_regclass($1) AND starts_with(c.relname::text, $2)",
            &[&partition, &PREFIX],
        )
        .await
        .map_err(pg)?;
    let existing: Vec<String> = rows
        .iter()
        .map(|r| r.try_get(0))
        .collect::<std::result::Result<_, _>>()
        .map_err(pg)?;
    let mut changes = Changes::default();
    for name in &existing {
        if !wanted.contains_key(name) && is_plain_identifier(name) {
            tx.batch_execute(&format!("DROP INDEX {name}"))
                .await
                .map_err(pg)?;
            changes.dropped += 1;
        }
    }
    let missing: Vec<(&String, &(&str, IndexKind))> = wanted
        .iter()
        .filter(|(name, _)| !existing.contains(name))
        .collect();
    if missing.is_empty() {
        return Ok(changes);
    }
    // Building an index over a large partition may take longer than a
    // request's statement time-out: the rest of this transaction has none.
    tx.batch_execute("SET LOCAL statement_timeout = 0")
        .await
        .map_err(pg)?;
    for (name, (property, kind)) in missing {
        let comment = format!(
            "tuilerie:indexes of {collection}: {property} ({})",
            kind.as_str()
        );
        tx.batch_execute(&format!(
            "CREATE INDEX {name} ON {partition} ({}); COMMENT ON INDEX {name} IS {}",
            expression(property, *kind),
            literal(&comment)
        ))
        .await
        .map_err(pg)?;
        changes.created += 1;
    }
    let filled = tx
        .query_one(&format!("SELECT EXISTS (SELECT 1 FROM {partition})"), &[])
        .await
        .map_err(pg)?
        .try_get::<_, bool>(0)
        .map_err(pg)?;
    if filled {
        tx.batch_execute(&format!("ANALYZE {partition}"))
            .await
            .map_err(pg)?;
    }
    Ok(changes)
}

#[cfg(test)]
mod tests {
    use super::super::{PostgresCatalog, test_catalog};
    use super::*;
    use crate::catalog::error::CatalogError;
    use crate::catalog::item::{ItemContext, ItemDoc, parse_item};
    use crate::catalog::{Catalog, Limits, Scope, SearchQuery, WriteMode};
    use serde_json::{Value, json};
    use std::time::{Duration, Instant};

    fn collection(id: &str, indexes: Option<Value>) -> crate::catalog::CollectionDoc {
        let mut doc = json!({
            "type": "Collection", "stac_version": "1.1.0", "id": id, "description": id,
            "license": "CC-BY-4.0", "links": [],
            "extent": {"spatial": {"bbox": [[-180, -90, 180, 90]]}, "temporal": {"interval": [[null, null]]}}
        });
        if let Some(indexes) = indexes {
            doc["tuilerie:indexes"] = indexes;
        }
        crate::catalog::collection::parse_collection(&doc.to_string(), None).unwrap()
    }

    fn item(collection: &str, n: usize, properties: Value) -> ItemDoc {
        let mut properties = properties;
        let day = chrono::DateTime::from_timestamp(1_600_000_000 + n as i64 * 3_600, 0).unwrap();
        properties["datetime"] = day.to_rfc3339().into();
        let (x, y) = ((n % 360) as f64 - 180.0, ((n / 360) % 170) as f64 - 85.0);
        let doc = json!({
            "type": "Feature", "stac_version": "1.1.0", "id": format!("{collection}-{n:06}"),
            "collection": collection,
            "geometry": {"type": "Point", "coordinates": [x, y]},
            "properties": properties, "assets": {}, "links": []
        });
        parse_item(&doc.to_string(), &ItemContext::default()).unwrap()
    }

    /// `(name, definition)` of the `tuilerie:indexes` indexes of a collection's partition.
    async fn indexes_of(cat: &PostgresCatalog, collection: &str) -> Vec<(String, String)> {
        let client = cat.client().await.unwrap();
        let partition = super::super::schema::partition_name(collection);
        let rows = client
            .query(
                "SELECT indexname::text, indexdef FROM pg_indexes
                 WHERE tablename = $1 AND starts_with(indexname::text, $2) ORDER BY 1",
                &[&partition, &PREFIX],
            )
            .await
            .unwrap();
        rows.iter().map(|r| (r.get(0), r.get(1))).collect()
    }

    async fn search(cat: &PostgresCatalog, body: Value) -> (Vec<String>, Option<u64>) {
        let query = SearchQuery::from_json_body(body.clone(), Limits::default()).unwrap();
        let page = cat
            .search(&Scope::All, &query)
            .await
            .unwrap_or_else(|e| panic!("{body}: {e}"));
        (
            page.items.into_iter().map(|i| i.id).collect(),
            page.number_matched,
        )
    }

    /// Declared indexes are created, replaced when their kind changes and
    /// dropped when no longer declared; they are built whatever the values
    /// (text that is not a number, numbers float8 cannot hold), and items
    /// with such values are still written once they exist.
    #[tokio::test]
    async fn indexes_follow_the_declaration() {
        let Some(cat) = test_catalog("tl_ix_decl").await else {
            return;
        };
        cat.put_collection(collection("c", None), WriteMode::Create)
            .await
            .unwrap();
        let odd = [
            json!("abc"),
            json!(true),
            json!(1.5),
            json!(null),
            json!([1]),
        ];
        let items: Vec<ItemDoc> = odd
            .iter()
            .enumerate()
            .map(|(n, v)| {
                item(
                    "c",
                    n,
                    json!({"sat:relative_orbit": v, "mgrs:grid_square": v}),
                )
            })
            .collect();
        // A number float8 cannot hold, as written (serde_json reads it as 0).
        let mut tiny = item("c", 10, json!({}));
        tiny.properties = tiny
            .properties
            .replacen('{', "{\"sat:relative_orbit\":1e-400,", 1);
        let mut items = items;
        items.push(tiny);
        cat.put_items(items, WriteMode::Upsert).await.unwrap();
        assert!(indexes_of(&cat, "c").await.is_empty());

        let declared = json!({"sat:relative_orbit": "number", "mgrs:grid_square": "text"});
        cat.put_collection(collection("c", Some(declared.clone())), WriteMode::Upsert)
            .await
            .unwrap();
        let got = indexes_of(&cat, "c").await;
        assert_eq!(got.len(), 2, "{got:?}");
        let orbit = index_name("c", "sat:relative_orbit", IndexKind::Number);
        let square = index_name("c", "mgrs:grid_square", IndexKind::Text);
        assert!(orbit.starts_with("tl_ix_sat_relative_orbit_") && orbit.len() <= 63);
        let def = |name: &str| got.iter().find(|(n, _)| n == name).map(|(_, d)| d.clone());
        let orbit_def = def(&orbit).unwrap();
        assert!(
            orbit_def
                .contains("USING btree (tl_number((properties ->> 'sat:relative_orbit'::text)))"),
            "{orbit_def}"
        );
        let square_def = def(&square).unwrap();
        assert!(
            square_def.contains("((properties ->> 'mgrs:grid_square'::text)) COLLATE \"C\""),
            "{square_def}"
        );
        // Writing it again changes nothing; odd values still go in.
        cat.put_collection(collection("c", Some(declared)), WriteMode::Upsert)
            .await
            .unwrap();
        assert_eq!(indexes_of(&cat, "c").await, got);
        cat.put_items(
            vec![item(
                "c",
                20,
                json!({"sat:relative_orbit": "x", "mgrs:grid_square": 7}),
            )],
            WriteMode::Upsert,
        )
        .await
        .unwrap();

        // Another kind: another index; no declaration: none.
        cat.put_collection(
            collection("c", Some(json!({"sat:relative_orbit": "text"}))),
            WriteMode::Upsert,
        )
        .await
        .unwrap();
        let got = indexes_of(&cat, "c").await;
        assert_eq!(
            got.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>(),
            vec![index_name("c", "sat:relative_orbit", IndexKind::Text)]
        );
        cat.put_collection(collection("c", None), WriteMode::Upsert)
            .await
            .unwrap();
        assert!(indexes_of(&cat, "c").await.is_empty());

        // A new collection gets its indexes with its partition; a name
        // with quotes and backslashes is quoted safely, and filters on it
        // read the same expression.
        let weird = "it's a \\ name";
        cat.put_collection(
            collection("d", Some(json!({weird: "text"}))),
            WriteMode::Create,
        )
        .await
        .unwrap();
        assert_eq!(indexes_of(&cat, "d").await.len(), 1);
        cat.put_items(vec![item("d", 0, json!({weird: "v"}))], WriteMode::Upsert)
            .await
            .unwrap();
        let filter = json!({"op": "=", "args": [{"property": weird}, "v"]});
        let (ids, _) = search(&cat, json!({"collections": ["d"], "filter": filter})).await;
        assert_eq!(ids, vec!["d-000000"]);
        assert!(cat.delete_collection("d").await.unwrap());
    }

    /// A text value too long for a B-tree index is refused with a 4xx
    /// error naming the index, when the item is written and when the index
    /// is built over it; the declaration is then not stored.
    #[tokio::test]
    async fn values_too_long_to_index_are_refused_clearly() {
        let Some(cat) = test_catalog("tl_ix_long").await else {
            return;
        };
        // Random hex: it does not compress below the limit.
        let mut x = 0x9e37_79b9_7f4a_7c15_u64;
        let long: String = (0..6000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                char::from_digit((x % 16) as u32, 16).unwrap_or('0')
            })
            .collect();
        let declared = json!({"note": "text"});
        cat.put_collection(collection("c", Some(declared.clone())), WriteMode::Create)
            .await
            .unwrap();
        let refused = cat
            .put_items(vec![item("c", 0, json!({"note": long}))], WriteMode::Upsert)
            .await;
        assert!(
            matches!(&refused, Err(CatalogError::InvalidObject(m)) if m.contains("tuilerie:indexes") && m.contains("tl_ix_note_")),
            "{refused:?}"
        );
        cat.put_collection(collection("c", None), WriteMode::Upsert)
            .await
            .unwrap();
        cat.put_items(vec![item("c", 0, json!({"note": long}))], WriteMode::Upsert)
            .await
            .unwrap();
        let refused = cat
            .put_collection(collection("c", Some(declared)), WriteMode::Upsert)
            .await;
        assert!(
            matches!(&refused, Err(CatalogError::InvalidObject(m)) if m.contains("tl_ix_note_")),
            "{refused:?}"
        );
        assert!(indexes_of(&cat, "c").await.is_empty());
        let stored = cat.collection(&Scope::All, "c").await.unwrap().unwrap();
        assert!(!stored.doc.contains("tuilerie:indexes"));
    }

    /// Times an index was used to answer a query, as the statistics system
    /// reports it. Backends report at most once a second, so this waits
    /// until the count passes `above` (or 30 s).
    async fn index_scans(cat: &PostgresCatalog, index: &str, above: i64) -> i64 {
        let client = cat.client().await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            client
                .batch_execute("SELECT pg_stat_clear_snapshot()")
                .await
                .unwrap();
            let row = client
                .query_one(
                    "SELECT coalesce(sum(idx_scan), 0)::int8 FROM pg_stat_user_indexes WHERE indexrelname = $1",
                    &[&index],
                )
                .await
                .unwrap();
            let n: i64 = row.get(0);
            if n > above || Instant::now() > deadline {
                return n;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The plan PostgreSQL makes for a page of a filter as the translator
    /// writes it (values bound, names as literals).
    async fn plan(cat: &PostgresCatalog, collection: &str, filter: &str) -> String {
        use crate::catalog::filter::{Dialect, SqlValue, Translator};
        let client = cat.client().await.unwrap();
        let (visible, _) = super::super::visible_collections(&client, &Scope::All)
            .await
            .unwrap();
        let meta: Vec<_> = visible.iter().filter(|c| c.id == collection).collect();
        let memo = super::super::search::Memo::default();
        let kinds = super::super::search::property_kinds(&**client, &memo, &meta)
            .await
            .unwrap()
            .remove(0);
        let kinds = (*kinds).clone();
        let mut sql = super::super::search::PgSql::new(kinds.clone());
        let expr = cql2::parse_text(filter).unwrap();
        let predicate = Translator::new(&mut sql, &kinds).predicate(&expr).unwrap();
        let c = sql.param(SqlValue::Text(collection.to_string()));
        let limit = sql.param(SqlValue::Int(11));
        let statement = format!(
            "EXPLAIN SELECT i.id FROM items i WHERE i.collection IN ({c}) AND ({predicate})
             ORDER BY i.datetime DESC, i.collection DESC, i.id DESC LIMIT {limit}"
        );
        let stmt = client
            .prepare_typed(&statement, &sql.types())
            .await
            .unwrap();
        let params = sql.bind();
        let rows = client
            .query(&stmt, &super::super::search::refs(&params))
            .await
            .unwrap();
        rows.iter()
            .map(|r| r.get::<_, String>(0))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// On a collection of 30,000 items, selective filters on indexed
    /// properties are answered through their indexes (the statistics
    /// system counts the scans; the plan names the index), with the same
    /// items as the filter computed here; without the declaration the same
    /// searches give the same pages by other paths.
    #[tokio::test]
    async fn selective_filters_read_the_indexes() {
        let Some(cat) = test_catalog("tl_ix_use").await else {
            return;
        };
        const N: usize = 30_000;
        let declared = json!({"s2:mgrs_tile": "text", "sat:absolute_orbit": "number", "s2:datatake": "number"});
        cat.put_collection(collection("s2", Some(declared.clone())), WriteMode::Create)
            .await
            .unwrap();
        // 3,000 tiles of 10 items, 6,000 orbits of 5 items, 143 relative orbits.
        let tile = |n: usize| {
            let n = n % 3_000;
            let band = (b'C' + ((n / 60) % 20) as u8) as char;
            let square = (b'A' + (n / 1_200) as u8) as char;
            format!("{:02}{band}{square}Q", n % 60 + 1)
        };
        let orbit = |n: usize| (n % 6_000) as i64 + 1;
        let props = |n: usize| json!({"s2:mgrs_tile": tile(n), "sat:absolute_orbit": orbit(n), "s2:datatake": orbit(n) as f64 + 0.5, "sat:relative_orbit": n % 143 + 1});
        let mut batch = Vec::new();
        for n in 0..N {
            batch.push(item("s2", n, props(n)));
            if batch.len() == 10_000 {
                cat.put_items(std::mem::take(&mut batch), WriteMode::Upsert)
                    .await
                    .unwrap();
            }
        }
        cat.analyze().await.unwrap();

        let cases = [
            (
                "s2:mgrs_tile",
                format!("s2:mgrs_tile = '{}'", tile(1234)),
                (0..N)
                    .filter(|&n| tile(n) == tile(1234))
                    .collect::<Vec<_>>(),
            ),
            (
                "sat:absolute_orbit",
                "sat:absolute_orbit = 4321".to_string(),
                (0..N).filter(|&n| orbit(n) == 4321).collect(),
            ),
            (
                "s2:datatake",
                "s2:datatake BETWEEN 100 AND 101".to_string(),
                (0..N)
                    .filter(|&n| (100.0..=101.0).contains(&(orbit(n) as f64 + 0.5)))
                    .collect(),
            ),
        ];
        for (property, filter, expected) in &cases {
            let kind = declared[*property].as_str().unwrap();
            let kind = if kind == "text" {
                IndexKind::Text
            } else {
                IndexKind::Number
            };
            let index = index_name("s2", property, kind);
            let explained = plan(&cat, "s2", filter).await;
            assert!(explained.contains(&index), "{filter}:\n{explained}");

            // (Each case has its own index, which nothing has read yet.)
            let before = index_scans(&cat, &index, -1).await;
            let body = json!({"collections": ["s2"], "filter-lang": "cql2-text", "filter": filter, "limit": 100});
            let (ids, _) = search(&cat, body.clone()).await;
            let mut want: Vec<String> = expected.iter().map(|n| format!("s2-{n:06}")).collect();
            want.reverse(); // newest first
            assert!(!want.is_empty());
            assert_eq!(ids, want, "{filter}");
            let after = index_scans(&cat, &index, before).await;
            assert!(
                after > before,
                "{filter}: {index} was not scanned ({before} → {after})"
            );
        }

        // The same searches without the indexes: the same pages.
        cat.put_collection(collection("s2", None), WriteMode::Upsert)
            .await
            .unwrap();
        assert!(indexes_of(&cat, "s2").await.is_empty());
        for (_, filter, expected) in &cases {
            let explained = plan(&cat, "s2", filter).await;
            assert!(!explained.contains(PREFIX), "{explained}");
            let body = json!({"collections": ["s2"], "filter-lang": "cql2-text", "filter": filter, "limit": 100});
            let (ids, _) = search(&cat, body).await;
            assert_eq!(ids.len(), expected.len(), "{filter}");
        }
    }
}
