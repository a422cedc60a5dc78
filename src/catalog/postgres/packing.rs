//! How the PostgreSQL store keeps its item documents' dictionaries (see
//! [`crate::catalog::packing`] for the codec).
//!
//! `items.doc` is `bytea` (migration 7): either the document's JSON text in
//! UTF-8, or a packed document, `0x00` (JSON text never starts with it), the
//! `u32` dictionary id (little endian), the `u32` length of the JSON text,
//! then the zstd frame. Dictionaries are rows of `dictionaries`, immutable and
//! never deleted (a collection deleted and created again packs with its old
//! one), so every instance keeps those it has met in memory by id and loads
//! an id it does not know (trained by another instance) on first use.

use super::pg;
use crate::catalog::error::{CatalogError, Result};
use crate::catalog::packing::{Dictionaries, Dictionary, dictionary_id, plain};
use std::sync::Arc;
use tokio_postgres::GenericClient;

/// What precedes a packed document's header on PostgreSQL.
pub(super) const MARKER: &[u8] = &[0];

/// Advisory lock namespace (the seed of `hashtextextended`) of a
/// collection's dictionary training; 7 is the collection writes'.
pub(super) const TRAINING_LOCK_SEED: i64 = 8;

/// The id of the dictionary a stored document was packed with (`None` when
/// it is plain, or too short to name one).
fn packed_with(doc: &[u8]) -> Option<i64> {
    match doc.split_first() {
        Some((0, rest)) => dictionary_id(rest).map(i64::from),
        _ => None,
    }
}

/// Loads the dictionaries of `ids` this instance does not know yet.
pub(super) async fn load(
    client: &impl GenericClient,
    dictionaries: &Dictionaries,
    ids: impl IntoIterator<Item = i64>,
) -> Result<()> {
    let mut unknown: Vec<i64> = ids
        .into_iter()
        .filter(|id| dictionaries.by_id(*id).is_none())
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    unknown.sort_unstable();
    unknown.dedup();
    let ids: Vec<i32> = unknown
        .iter()
        .filter_map(|&id| i32::try_from(id).ok())
        .collect();
    let rows = client
        .query(
            "SELECT id, bytes FROM dictionaries WHERE id = ANY($1)",
            &[&ids],
        )
        .await
        .map_err(pg)?;
    for row in rows {
        let id: i32 = row.try_get(0).map_err(pg)?;
        let bytes: Vec<u8> = row.try_get(1).map_err(pg)?;
        dictionaries.remember(Arc::new(Dictionary::new(id.into(), bytes)));
    }
    Ok(())
}

/// The dictionary new documents of `collection` are packed with: the one
/// stored under `id` (the collection's newest, as read in the write's
/// transaction), made the collection's in memory too.
pub(super) async fn current(
    client: &impl GenericClient,
    dictionaries: &Dictionaries,
    collection: &str,
    id: i64,
) -> Result<Option<Arc<Dictionary>>> {
    if let Some(d) = dictionaries.get(collection).filter(|d| d.id() == id) {
        return Ok(Some(d));
    }
    load(client, dictionaries, [id]).await?;
    let found = dictionaries.by_id(id);
    if let Some(d) = &found {
        // Committed (another transaction's, or an earlier one of ours).
        dictionaries.install(collection.to_string(), d.clone());
    }
    Ok(found)
}

/// Trains a dictionary for `collection` from sample documents and stores it
/// in the caller's transaction; [`Dictionaries::install`] it after commit.
pub(super) async fn train(
    client: &impl GenericClient,
    dictionaries: &Dictionaries,
    collection: &str,
    samples: &[&str],
    now: i64,
) -> Result<Option<Arc<Dictionary>>> {
    let Some(bytes) = crate::catalog::packing::train(collection, samples) else {
        return Ok(None);
    };
    let row = client
        .query_one(
            "INSERT INTO dictionaries (collection, bytes, created) VALUES ($1, $2, $3) RETURNING id",
            &[&collection, &bytes, &now],
        )
        .await
        .map_err(pg)?;
    let id: i32 = row.try_get(0).map_err(pg)?;
    let dictionary = Arc::new(Dictionary::new(id.into(), bytes));
    // Known by id at once, for this transaction's own reads: ids are never
    // used again, even when the transaction rolls back.
    dictionaries.remember(dictionary.clone());
    Ok(Some(dictionary))
}

/// The JSON texts of stored documents (`(collection, id, doc)`), packed or
/// not, loading the dictionaries they name first; a document that cannot be
/// read is a store error naming the item.
pub(super) async fn unpack_all(
    client: &impl GenericClient,
    dictionaries: &Dictionaries,
    docs: &[(&str, &str, &[u8])],
) -> Result<Vec<String>> {
    load(
        client,
        dictionaries,
        docs.iter().filter_map(|(_, _, d)| packed_with(d)),
    )
    .await?;
    docs.iter()
        .map(|(collection, id, doc)| {
            unpack(dictionaries, doc).map_err(|e| {
                CatalogError::Storage(format!("{e} (item '{id}' of collection '{collection}')"))
            })
        })
        .collect()
}

/// The JSON text of a stored document, packed or not (its dictionary known).
fn unpack(dictionaries: &Dictionaries, doc: &[u8]) -> Result<String> {
    match doc.split_first() {
        Some((0, packed)) => dictionaries.unpack(packed),
        _ => plain(doc),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::item::{ItemContext, ItemDoc, parse_item};
    use crate::catalog::postgres::PostgresCatalog;
    use crate::catalog::{Catalog, Scope, SearchQuery, WriteMode};
    use std::collections::HashMap;

    /// A collection of the tests.
    async fn collection(cat: &PostgresCatalog, id: &str) {
        let doc = serde_json::json!({
            "type": "Collection", "stac_version": "1.0.0", "id": id, "description": id,
            "license": "proprietary", "links": [],
            "extent": {"spatial": {"bbox": [[-180, -90, 180, 90]]}, "temporal": {"interval": [[null, null]]}}
        });
        let c = crate::catalog::collection::parse_collection(&doc.to_string(), None).unwrap();
        cat.put_collection(c, WriteMode::Upsert).await.unwrap();
    }

    /// A Sentinel-2-like item (about 4 kB of document besides its
    /// properties), with non-ASCII text and escapes.
    fn s2(collection: &str, n: usize) -> ItemDoc {
        let tile = format!("3{}T{}{}", n % 3, ["CJ", "DH", "EK"][n % 3], n % 7);
        let day = 1 + n % 28;
        let name = format!("S2B_{tile}_202306{day:02}_0_L2A_{n}");
        let base = format!(
            "https://sentinel-cogs.s3.us-west-2.amazonaws.com/sentinel-s2-l2a-cogs/31/T/CJ/2023/6/{name}"
        );
        let mut assets = serde_json::Map::new();
        for (band, gsd) in [
            ("B01", 60),
            ("B02", 10),
            ("B03", 10),
            ("B04", 10),
            ("B05", 20),
            ("B06", 20),
            ("B07", 20),
            ("B08", 10),
            ("B8A", 20),
            ("B09", 60),
            ("B11", 20),
            ("B12", 20),
            ("SCL", 20),
            ("AOT", 10),
            ("WVP", 10),
        ] {
            assets.insert(
                band.into(),
                serde_json::json!({
                    "href": format!("{base}/{band}.tif"),
                    "type": "image/tiff; application=geotiff; profile=cloud-optimized",
                    "title": format!("Bande {band} – réflectance ({gsd} m)"),
                    "roles": ["data", "reflectance"], "gsd": gsd,
                    "proj:shape": [109800 / gsd, 109800 / gsd],
                    "proj:transform": [gsd, 0, 399960 + n, 0, -gsd, 4900020]
                }),
            );
        }
        let doc = serde_json::json!({
            "type": "Feature", "stac_version": "1.0.0",
            "stac_extensions": ["https://stac-extensions.github.io/eo/v1.1.0/schema.json",
                                "https://stac-extensions.github.io/projection/v1.1.0/schema.json"],
            "id": name, "collection": collection,
            "geometry": {"type": "Polygon", "coordinates": [[[1.0, 43.0], [2.0, 43.0], [2.0, 44.0], [1.0, 44.0], [1.0, 43.0]]]},
            "bbox": [1.0, 43.0, 2.0, 44.0],
            "properties": {"datetime": format!("2023-06-{day:02}T10:{:02}:00Z", n % 60),
                           "eo:cloud_cover": (n % 100) as f64, "platform": "sentinel-2b",
                           "title": format!("Tuile {tile} \"été\" \\ {n}")},
            "links": [{"rel": "license", "href": "https://sentinel.esa.int/documents/247904/690755/Sentinel_Data_Legal_Notice"}],
            "assets": assets
        });
        parse_item(&doc.to_string(), &ItemContext::default()).unwrap()
    }

    /// Every stored document of a collection: id to (packed, bytes).
    async fn stored(cat: &PostgresCatalog, collection: &str) -> HashMap<String, (bool, usize)> {
        let client = cat.client().await.unwrap();
        client
            .query(
                "SELECT id, get_byte(doc, 0) = 0, octet_length(doc) FROM items WHERE collection = $1",
                &[&collection],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), (r.get(1), r.get::<_, i32>(2) as usize)))
            .collect()
    }

    /// Every document read back, by item and by search (paged), equals the
    /// one written.
    async fn reads_back(
        cat: &PostgresCatalog,
        collection: &str,
        written: &HashMap<String, String>,
    ) {
        for (id, doc) in written {
            let item = cat
                .item(&Scope::All, collection, id)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(&item.doc, doc, "{id}");
        }
        let mut query = SearchQuery::all(97);
        query.collections = vec![collection.to_string()];
        let mut seen = 0;
        loop {
            let page = cat.search(&Scope::All, &query).await.unwrap();
            for item in &page.items {
                assert_eq!(Some(&item.doc), written.get(&item.id), "{}", item.id);
            }
            seen += page.items.len();
            match page.next {
                Some(next) => query.cursor = Some(next),
                None => break,
            }
        }
        assert_eq!(seen, written.len());
    }

    /// Items written before their collection had a dictionary stay plain;
    /// a batch of TRAINING_SAMPLES items trains one and is stored packed,
    /// and so is every later write (copied, staged, replaced, single).
    #[tokio::test]
    async fn documents_are_packed_once_a_batch_trains_a_dictionary() {
        let Some(cat) = super::super::test_catalog("tl_pack").await else {
            return;
        };
        collection(&cat, "s2").await;
        let mut written: HashMap<String, String> = HashMap::new();
        let mut put = async |items: Vec<ItemDoc>, mode: WriteMode| {
            for i in &items {
                written.insert(i.id.clone(), i.doc.clone());
            }
            cat.put_items(items, mode).await.unwrap()
        };
        // Before: single writes, and a batch too small to train on.
        put(vec![s2("s2", 0)], WriteMode::Create).await;
        put((1..20).map(|n| s2("s2", n)).collect(), WriteMode::Upsert).await;
        assert!(stored(&cat, "s2").await.values().all(|(packed, _)| !packed));
        // A batch of new items (copied into the table) trains the dictionary.
        let n = crate::catalog::packing::TRAINING_SAMPLES + 200;
        put(
            (100..100 + n).map(|k| s2("s2", k)).collect(),
            WriteMode::Upsert,
        )
        .await;
        // After: new and existing items (staged), a replace, a single create.
        let mut mixed: Vec<ItemDoc> = (100..130)
            .map(|k| {
                let mut item = s2("s2", k);
                item.doc = item.doc.replace("réflectance", "réflectance corrigée");
                item
            })
            .collect();
        mixed.extend((9000..9010).map(|k| s2("s2", k)));
        put(mixed, WriteMode::Upsert).await;
        let mut replaced = s2("s2", 101);
        replaced.doc = replaced.doc.replace("Bande", "Band");
        put(vec![replaced], WriteMode::Replace).await;
        put(vec![s2("s2", 9999)], WriteMode::Create).await;

        let dictionaries: i64 = cat
            .client()
            .await
            .unwrap()
            .query_one(
                "SELECT count(*) FROM dictionaries WHERE collection = 's2'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(dictionaries, 1);
        let stored = stored(&cat, "s2").await;
        assert_eq!(stored.len(), written.len());
        let (mut packed, mut plain) = (Vec::new(), Vec::new());
        let early: Vec<String> = (0..20).map(|k| s2("s2", k).id).collect();
        for (id, (is_packed, len)) in &stored {
            assert_eq!(*is_packed, !early.contains(id), "{id}");
            let original = written[id].len();
            if *is_packed {
                packed.push((*len, original));
            } else {
                plain.push((*len, original));
                assert_eq!(*len, original);
            }
        }
        let mean = |v: &[(usize, usize)], k: fn(&(usize, usize)) -> usize| {
            v.iter().map(k).sum::<usize>() / v.len()
        };
        let (packed_len, original_len) = (mean(&packed, |p| p.0), mean(&packed, |p| p.1));
        eprintln!(
            "packed documents: {packed_len} bytes on average for {original_len} bytes of JSON; plain {} bytes",
            mean(&plain, |p| p.0)
        );
        assert!(
            packed_len * 8 < original_len,
            "{packed_len} vs {original_len}"
        );
        reads_back(&cat, "s2", &written).await;
    }

    /// A second instance on the same database reads what the first packed
    /// (loading the dictionary by id) and packs its own writes with it; two
    /// instances whose first batches race train one dictionary; a document
    /// that cannot be unpacked is an error naming the item.
    #[tokio::test]
    async fn instances_share_the_dictionaries() {
        let Some(first) = super::super::test_catalog("tl_pack_share").await else {
            return;
        };
        let second = PostgresCatalog::open(&first.url, Default::default())
            .await
            .unwrap();
        collection(&first, "s2").await;
        let n = crate::catalog::packing::TRAINING_SAMPLES + 10;
        let batch: Vec<ItemDoc> = (0..n).map(|k| s2("s2", k)).collect();
        let mut written: HashMap<String, String> = batch
            .iter()
            .map(|i| (i.id.clone(), i.doc.clone()))
            .collect();
        first.put_items(batch, WriteMode::Upsert).await.unwrap();
        let id = first.dictionaries.get("s2").unwrap().id();
        assert!(second.dictionaries.by_id(id).is_none());
        reads_back(&second, "s2", &written).await;
        assert!(second.dictionaries.by_id(id).is_some());
        // Its own writes pack with it: learnt from the database by the first
        // (packed on the writer), then known to its parsers.
        let mut later: Vec<ItemDoc> = (5000..5005).map(|k| s2("s2", k)).collect();
        second.prepare_items(&mut later);
        assert!(later.iter().all(|i| i.packed.is_none()));
        let mut later = later.into_iter();
        let one = later.next().unwrap();
        written.insert(one.id.clone(), one.doc.clone());
        second
            .put_items(vec![one], WriteMode::Create)
            .await
            .unwrap();
        let mut later: Vec<ItemDoc> = later.collect();
        second.prepare_items(&mut later);
        assert!(
            later
                .iter()
                .all(|i| i.packed.as_ref().is_some_and(|p| p[0] == 0))
        );
        for item in &later {
            written.insert(item.id.clone(), item.doc.clone());
        }
        second.put_items(later, WriteMode::Upsert).await.unwrap();
        assert!(
            stored(&first, "s2")
                .await
                .values()
                .all(|(packed, _)| *packed)
        );
        reads_back(&first, "s2", &written).await;

        // Two first batches at once, through two instances: one dictionary.
        collection(&first, "r").await;
        let a: Vec<ItemDoc> = (0..n).map(|k| s2("r", k)).collect();
        let b: Vec<ItemDoc> = (n..2 * n).map(|k| s2("r", k)).collect();
        let written_r: HashMap<String, String> = a
            .iter()
            .chain(&b)
            .map(|i| (i.id.clone(), i.doc.clone()))
            .collect();
        let (ra, rb) = tokio::join!(
            first.put_items(a, WriteMode::Upsert),
            second.put_items(b, WriteMode::Upsert)
        );
        ra.unwrap();
        rb.unwrap();
        let client = first.client().await.unwrap();
        let trained: i64 = client
            .query_one(
                "SELECT count(*) FROM dictionaries WHERE collection = 'r'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(trained, 1);
        // (The batch that found the training lock taken is stored plain.)
        let packed = stored(&first, "r")
            .await
            .values()
            .filter(|(p, _)| *p)
            .count();
        eprintln!(
            "racing first batches: {packed} of {} documents packed",
            2 * n
        );
        reads_back(&first, "r", &written_r).await;
        reads_back(&second, "r", &written_r).await;

        // Damaged documents: an unknown dictionary, a cut frame.
        let some = s2("s2", 3).id;
        client
            .execute(
                "UPDATE items SET doc = '\\x00ffffff7f0500000028b52ffd'::bytea WHERE id = $1",
                &[&some],
            )
            .await
            .unwrap();
        let err = first.item(&Scope::All, "s2", &some).await.unwrap_err();
        assert!(
            matches!(&err, CatalogError::Storage(m) if m.contains("unknown dictionary") && m.contains(&some)),
            "{err}"
        );
        client
            .execute(
                "UPDATE items SET doc = substring(doc FROM 1 FOR 16) WHERE id = $1",
                &[&s2("s2", 4).id],
            )
            .await
            .unwrap();
        let err = second
            .item(&Scope::All, "s2", &s2("s2", 4).id)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, CatalogError::Storage(m) if m.contains("damaged")),
            "{err}"
        );
        let mut all = SearchQuery::all(10_000);
        all.collections = vec!["s2".into()];
        assert!(matches!(
            first.search(&Scope::All, &all).await,
            Err(CatalogError::Storage(_))
        ));
    }

    /// The type of `items.doc`.
    async fn doc_type(client: &tokio_postgres::Client) -> String {
        client
            .query_one(
                "SELECT format_type(atttypid, atttypmod) FROM pg_attribute
                 WHERE attrelid = 'items'::regclass AND attname = 'doc'",
                &[],
            )
            .await
            .unwrap()
            .get(0)
    }

    /// Migration 7 turns the text documents of a database at version 6
    /// into the same UTF-8 bytes, read back unchanged (plain).
    #[tokio::test]
    async fn migration_7_converts_text_documents() {
        let Ok(admin) = std::env::var("TUILERIE_TEST_POSTGRES") else {
            eprintln!("SKIPPED postgres: TUILERIE_TEST_POSTGRES is not set");
            return;
        };
        let name = format!("tl_pack_migrate_{}", std::process::id());
        let url = super::super::create_database(&admin, &name).await.unwrap();
        let (mut client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap();
        let task = tokio::spawn(connection);
        assert_eq!(
            super::super::schema::migrate_to(&mut client, 6)
                .await
                .unwrap(),
            6
        );
        let options = crate::catalog::postgres::PgOptions {
            migrate: false,
            ..Default::default()
        };
        let cat = PostgresCatalog::open(&url, options).await.unwrap();
        // The collection as the schema of version 6 keeps it.
        let partition = super::super::schema::partition_name("old");
        client
            .batch_execute(&format!(
                "INSERT INTO collections (id, doc, links, text, access, partition, updated)
                 VALUES ('old', '{{}}', '[]', '', 'open', '{partition}', 1);
                 CREATE TABLE {partition} PARTITION OF items FOR VALUES IN ('old')"
            ))
            .await
            .unwrap();
        let docs: Vec<ItemDoc> = (0..5).map(|k| s2("old", k)).collect();
        for item in &docs {
            client
                .execute(
                    "INSERT INTO items (collection, id, datetime, start_dt, end_dt, geom, properties, doc, links, words, updated)
                     VALUES ($1, $2, $3, $3, $3, ST_GeomFromText('POINT(1 43)', 4326), $4::text::json, $5, $6, ''::tsvector, 1)",
                    &[&item.collection, &item.id, &item.datetime, &item.properties, &item.doc, &item.links],
                )
                .await
                .unwrap();
        }
        assert_eq!(doc_type(&client).await, "text");
        assert_eq!(
            cat.migrate().await.unwrap(),
            super::super::schema::MIGRATIONS.len() - 6
        );
        assert_eq!(doc_type(&client).await, "bytea");
        for item in &docs {
            let row = client
                .query_one("SELECT doc FROM items WHERE id = $1", &[&item.id])
                .await
                .unwrap();
            assert_eq!(row.get::<_, Vec<u8>>(0), item.doc.as_bytes());
            let back = cat
                .item(&Scope::All, "old", &item.id)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(back.doc, item.doc);
        }
        // A partition made after the migration takes packed documents too.
        let written: HashMap<String, String> = {
            collection(&cat, "new").await;
            let n = crate::catalog::packing::TRAINING_SAMPLES;
            let batch: Vec<ItemDoc> = (0..n).map(|k| s2("new", k)).collect();
            let w = batch
                .iter()
                .map(|i| (i.id.clone(), i.doc.clone()))
                .collect();
            cat.put_items(batch, WriteMode::Upsert).await.unwrap();
            w
        };
        assert!(
            stored(&cat, "new")
                .await
                .values()
                .all(|(packed, _)| *packed)
        );
        reads_back(&cat, "new", &written).await;
        drop(client);
        let _ = task.await;
    }

    #[test]
    fn plain_and_packed_are_told_apart() {
        let docs: Vec<String> = (0..300)
            .map(|i| format!("{{\"id\":\"p{i}\",\"href\":\"https://p.example/{i}/B04.tif\"}}"))
            .collect();
        let d = Arc::new(Dictionary::new(
            3,
            zstd::dict::from_samples(&docs, 4096).unwrap(),
        ));
        let all = Dictionaries::default();
        all.remember(d.clone());
        let packed = d.pack(MARKER, &docs[5]).unwrap();
        assert_eq!(packed_with(&packed), Some(3));
        assert_eq!(packed_with(docs[5].as_bytes()), None);
        assert_eq!(unpack(&all, &packed).unwrap(), docs[5]);
        assert_eq!(unpack(&all, docs[5].as_bytes()).unwrap(), docs[5]);
        assert!(unpack(&all, &[0, 9, 0, 0, 0]).is_err());
        assert!(unpack(&all, &[0xff, 0xfe]).is_err());
    }
}
