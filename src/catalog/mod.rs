//! The catalogue layer: the STAC model, the [`Catalog`] trait, and the stores
//! behind it (embedded SQLite by default).
//!
//! Nothing here knows about HTTP. Handlers turn requests into the `stac`
//! crate's API types, [`SearchQuery::from_search`] checks them once, and every
//! store (SQLite, or PostgreSQL for scale-out) answers the same [`Catalog`] calls with the caller's [`Scope`].

pub mod accounts;
pub mod collection;
pub mod datetime;
pub mod error;
pub mod filter;
pub mod geometry;
pub mod href;
pub mod indexes;
pub mod ingest;
pub mod item;
pub mod keyset;
pub mod packing;
pub mod partitions;
pub mod postgres;
pub mod query;
pub mod queryables;
pub mod scope;
pub mod shipped;
pub mod sqlite;
pub mod text;
pub mod token;

pub use accounts::Accounts;
pub use collection::{CollectionDoc, parse_collection};
pub use error::{CatalogError, Result};
pub use item::{ItemContext, ItemDoc, parse_item};
pub use query::{Limits, SearchQuery};
pub use scope::{Access, Scope};

use async_trait::async_trait;
use datetime::{Interval, Micros};
use std::sync::Arc;
use text::TextQuery;
use token::Cursor;

/// What a store can do; drives `conformsTo` and which routes are offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// Items and collections can be written.
    pub writes: bool,
    /// Free-text search (`q`) over items and collections.
    pub free_text: bool,
    /// CQL2 spatial operators beyond `s_intersects`.
    pub spatial_operators: bool,
    /// CQL2 temporal operators.
    pub temporal_operators: bool,
    /// CQL2 array operators.
    pub array_operators: bool,
    /// Exact `numberMatched` on searches.
    pub counts: bool,
    /// Write transactions worth running at once in a bulk ingest (1 when
    /// the store serialises its writers).
    pub writers: usize,
}

/// A stored collection.
#[derive(Debug, Clone)]
pub struct StoredCollection {
    /// Collection id.
    pub id: String,
    /// Collection JSON without links.
    pub doc: String,
    /// Kept links as a JSON array text.
    pub links: String,
    /// Last write time (microseconds), for caches and ETags.
    pub updated: Micros,
}

/// A stored item, as JSON pieces the API assembles without re-parsing.
#[derive(Debug, Clone)]
pub struct StoredItem {
    /// Collection id.
    pub collection: String,
    /// Item id.
    pub id: String,
    /// The item without `properties` and `links` (a JSON object text).
    pub doc: String,
    /// The `properties` object text.
    pub properties: String,
    /// Kept links as a JSON array text.
    pub links: String,
    /// Last write time (microseconds), for caches and ETags.
    pub updated: Micros,
}

impl StoredItem {
    /// The complete item JSON, with `links` made of `generated` (a comma-separated
    /// list of link objects, possibly empty) followed by the stored links.
    pub fn to_json(&self, generated: &str) -> String {
        let mut out = String::with_capacity(
            self.doc.len() + self.properties.len() + self.links.len() + generated.len() + 32,
        );
        let body = self.doc.trim_end();
        let body = body.strip_suffix('}').unwrap_or(body);
        out.push_str(body);
        if body.trim_end().len() > 1 {
            out.push(',');
        }
        out.push_str("\"properties\":");
        out.push_str(&self.properties);
        out.push_str(",\"links\":[");

        out.push_str(generated);
        let stored = self.links.trim();
        let stored_inner = stored
            .strip_prefix('[')
            .and_then(|s| s.strip_suffix(']'))
            .unwrap_or("")
            .trim();
        if !stored_inner.is_empty() {
            if !generated.is_empty() {
                out.push(',');
            }
            out.push_str(stored_inner);
        }
        out.push_str("]}");
        out
    }

    /// Parses the item into the `stac` crate's type.
    pub fn to_stac(&self) -> Result<stac::Item> {
        serde_json::from_str(&self.to_json(""))
            .map_err(|e| CatalogError::Storage(format!("stored item is not valid STAC: {e}")))
    }
}

/// One page of search results.
#[derive(Debug, Clone, Default)]
pub struct ItemPage {
    /// The items, in order.
    pub items: Vec<StoredItem>,
    /// How many items match in all (when the store counts).
    pub number_matched: Option<u64>,
    /// Where the next page starts, when there is one.
    pub next: Option<Cursor>,
}

/// A search over collections (STAC Collection Search).
#[derive(Debug, Clone, Default)]
pub struct CollectionQuery {
    /// Collections whose spatial extent intersects these boxes.
    pub bbox: Option<Vec<geometry::Bounds>>,
    /// Collections whose temporal extent overlaps.
    pub datetime: Option<Interval>,
    /// Free text over title, description, keywords and providers.
    pub text: Option<TextQuery>,
    /// Page size.
    pub limit: usize,
    /// Offset of the page.
    pub offset: usize,
}

impl CollectionQuery {
    /// True when a collection matches the bbox, datetime and text filters,
    /// given its stored extent (`[w, s, e, n]`, unknown when any is None),
    /// temporal interval (open ends as None) and folded text.
    pub fn matches(
        &self,
        extent: [Option<f64>; 4],
        interval: (Option<Micros>, Option<Micros>),
        folded_text: &str,
    ) -> bool {
        if let Some(boxes) = &self.bbox {
            let [Some(w), Some(s), Some(e), Some(n)] = extent else {
                return false;
            };
            let Ok(parts) = geometry::Bounds::from_stac_bbox_split(&[w, s, e, n]) else {
                return false;
            };
            if !boxes.iter().any(|q| parts.iter().any(|p| p.intersects(q))) {
                return false;
            }
        }
        if let Some(wanted) = &self.datetime
            && !wanted.overlaps(
                interval.0.unwrap_or(i64::MIN),
                interval.1.unwrap_or(i64::MAX),
            )
        {
            return false;
        }
        if let Some(text) = &self.text
            && !text.matches(folded_text)
        {
            return false;
        }
        true
    }

    /// The requested page of the matching collections.
    pub fn page(&self, matched: Vec<StoredCollection>) -> CollectionPage {
        let number_matched = matched.len() as u64;
        let collections = matched
            .into_iter()
            .skip(self.offset)
            .take(self.limit)
            .collect();
        CollectionPage {
            collections,
            number_matched,
        }
    }
}

/// A page of collections.
#[derive(Debug, Clone, Default)]
pub struct CollectionPage {
    /// The collections, by id.
    pub collections: Vec<StoredCollection>,
    /// How many match in all.
    pub number_matched: u64,
}

/// How a write treats an existing object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// Create; fail with a conflict when it exists.
    Create,
    /// Create or replace.
    Upsert,
    /// Replace; fail with not-found when it does not exist.
    Replace,
}

impl WriteMode {
    /// Checks a collection write against whether the collection exists.
    pub fn check_collection(self, exists: bool, id: &str) -> Result<()> {
        match (exists, self) {
            (true, WriteMode::Create) => Err(CatalogError::Conflict(format!(
                "collection '{id}' already exists"
            ))),
            (false, WriteMode::Replace) => Err(CatalogError::CollectionNotFound(id.to_string())),
            _ => Ok(()),
        }
    }
}

/// What a batch write did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteSummary {
    /// Objects created.
    pub inserted: u64,
    /// Objects replaced.
    pub updated: u64,
}

/// The one interface every store implements.
///
/// Reads take the caller's [`Scope`]: a store must apply it in its queries so
/// that invisible collections and their items do not exist for the caller,
/// counts included.
#[async_trait]
pub trait Catalog: Send + Sync + 'static {
    /// What the store supports.
    fn capabilities(&self) -> Capabilities;

    /// A short description of the store for logs (`sqlite:/path/db`).
    fn describe(&self) -> String;

    /// Collections visible to the caller, filtered and paged.
    async fn collections(&self, scope: &Scope, query: &CollectionQuery) -> Result<CollectionPage>;

    /// One collection, `None` when absent or invisible.
    async fn collection(&self, scope: &Scope, id: &str) -> Result<Option<StoredCollection>>;

    /// One item, `None` when absent or invisible.
    async fn item(&self, scope: &Scope, collection: &str, id: &str) -> Result<Option<StoredItem>>;

    /// Searches items.
    async fn search(&self, scope: &Scope, query: &SearchQuery) -> Result<ItemPage>;

    /// Property names and types known for these collections (all visible ones when empty).
    async fn properties(
        &self,
        scope: &Scope,
        collections: &[String],
    ) -> Result<queryables::PropertyKinds>;

    /// The distinct UTC days (microseconds at midnight, ascending) on which
    /// a visible collection's items were acquired, for time dimensions
    /// (WMS `TIME`). `None` when the store cannot list them cheaply; callers
    /// then use the collection's temporal extent.
    async fn item_days(&self, _scope: &Scope, _collection: &str) -> Result<Option<Vec<Micros>>> {
        Ok(None)
    }

    /// Creates or replaces a collection.
    async fn put_collection(
        &self,
        collection: CollectionDoc,
        mode: WriteMode,
    ) -> Result<WriteSummary>;

    /// Deletes a collection and its items; false when it did not exist.
    async fn delete_collection(&self, id: &str) -> Result<bool>;

    /// Prepares parsed items for writing (e.g. compresses documents). Called
    /// on the ingest parser threads so that the single writer does less.
    fn prepare_items(&self, _items: &mut [ItemDoc]) {}

    /// Writes a batch of items in one transaction: all or nothing.
    async fn put_items(&self, items: Vec<ItemDoc>, mode: WriteMode) -> Result<WriteSummary>;

    /// Deletes an item; false when it did not exist.
    async fn delete_item(&self, collection: &str, id: &str) -> Result<bool>;

    /// The store's account records (organisations, users, keys, ledger, audit).
    fn accounts(&self) -> &dyn Accounts;
}

/// A shared handle on a store.
pub type SharedCatalog = Arc<dyn Catalog>;

/// Tuning of every kind of store; [`open`] uses the part for the store it opens.
#[derive(Debug, Clone, Default)]
pub struct StoreOptions {
    /// The embedded store's.
    pub sqlite: sqlite::SqliteOptions,
    /// The PostgreSQL store's.
    pub postgres: postgres::PgOptions,
}

/// True when a `--store` value names a PostgreSQL database.
pub fn is_postgres(store: &str) -> bool {
    store.starts_with("postgres://") || store.starts_with("postgresql://")
}

/// Opens the store a `--store` value names: a PostgreSQL URL or an SQLite path.
pub async fn open(store: &str, options: &StoreOptions) -> Result<SharedCatalog> {
    if is_postgres(store) {
        let catalog = postgres::PostgresCatalog::open(store, options.postgres.clone()).await?;
        return Ok(Arc::new(catalog));
    }
    let path = store.strip_prefix("sqlite:").unwrap_or(store);
    let catalog = sqlite::SqliteCatalog::open(std::path::Path::new(path), options.sqlite.clone())?;
    Ok(Arc::new(catalog))
}
