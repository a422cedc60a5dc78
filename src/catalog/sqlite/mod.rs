//! The embedded store: one SQLite file, zero set-up.
//!
//! WAL mode lets readers run while a writer commits; a pool of reader threads
//! serves queries, one writer connection serialises writes. Footprints are
//! indexed by an R*Tree, datetimes by B-trees, free text by FTS5.

mod accounts;
mod checkpoint;
mod functions;
mod packing;
mod pool;
mod schema;
mod search;
mod stats;
mod write;

pub use write::write_time;

use super::datetime::Micros;
use super::error::{CatalogError, Result};
use super::queryables::PropertyKinds;
use super::scope::{Access, Scope};
use super::{
    Capabilities, Catalog, CollectionDoc, CollectionPage, CollectionQuery, ItemDoc, ItemPage,
    SearchQuery, StoredCollection, StoredItem, WriteMode, WriteSummary,
};
use async_trait::async_trait;
use pool::ReaderPool;
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// When searches compute `numberMatched`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountPolicy {
    /// Always, exactly.
    Exact,
    /// Exactly, when the search is estimated to match at most this many
    /// items (or the count is known without counting); else omitted.
    Auto(u64),
    /// Never.
    Never,
}

/// Tuning of the embedded store.
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// Reader threads (and connections).
    pub readers: usize,
    /// Queries that may wait for a reader before callers get "busy".
    pub queue: usize,
    /// Time budget of one query.
    pub query_timeout: Duration,
    /// When to compute `numberMatched`.
    pub count: CountPolicy,
    /// Searches expected to match at most this many items count them in the
    /// same statement as the page (above, a separate count).
    pub combine_below: u64,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            readers: 4,
            queue: 256,
            query_timeout: Duration::from_secs(10),
            count: CountPolicy::Auto(2_000),
            combine_below: 5_000,
        }
    }
}

/// Maps SQLite errors to catalogue errors.
pub(crate) fn db(e: rusqlite::Error) -> CatalogError {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::OperationInterrupted) => CatalogError::Timeout(0),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
            CatalogError::Busy("the database is locked by another writer; retry shortly".into())
        }
        _ => CatalogError::Storage(e.to_string()),
    }
}

/// What search planning needs to know of a collection.
#[derive(Debug, Clone)]
pub(crate) struct CollectionMeta {
    pub id: String,
    pub max_before: i64,
    pub max_after: i64,
    pub item_count: i64,
}

fn parse_access(text: &str) -> Access {
    if text == "open" {
        Access::Open
    } else {
        Access::Restricted(serde_json::from_str(text).unwrap_or_default())
    }
}

/// The collections the scope can see, and how many exist in all.
pub(crate) fn visible_collections(
    conn: &Connection,
    scope: &Scope,
) -> Result<(Vec<CollectionMeta>, usize)> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT id, access, max_before, max_after, item_count FROM collections ORDER BY id",
        )
        .map_err(db)?;
    let mut rows = stmt.query([]).map_err(db)?;
    let mut out = Vec::new();
    let mut total = 0;
    while let Some(row) = rows.next().map_err(db)? {
        total += 1;
        let access: String = row.get(1).map_err(db)?;
        if scope.can_see(&parse_access(&access)) {
            out.push(CollectionMeta {
                id: row.get(0).map_err(db)?,
                max_before: row.get(2).map_err(db)?,
                max_after: row.get(3).map_err(db)?,
                item_count: row.get(4).map_err(db)?,
            });
        }
    }
    Ok((out, total))
}

fn is_visible(conn: &Connection, scope: &Scope, collection: &str) -> Result<bool> {
    let access: Option<String> = conn
        .prepare_cached("SELECT access FROM collections WHERE id = ?1")
        .map_err(db)?
        .query_row([collection], |r| r.get(0))
        .optional()
        .map_err(db)?;
    Ok(access.is_some_and(|a| scope.can_see(&parse_access(&a))))
}

/// Connection settings shared by readers and the writer.
fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.execute_batch(
        "PRAGMA case_sensitive_like = ON;
         PRAGMA temp_store = MEMORY;
         PRAGMA mmap_size = 1073741824;
         PRAGMA cache_size = -65536;
         PRAGMA secure_delete = OFF;",
    )?;
    functions::register(conn)
}

/// The embedded SQLite store.
pub struct SqliteCatalog {
    path: PathBuf,
    dictionaries: Arc<crate::catalog::packing::Dictionaries>,
    readers: ReaderPool,
    writer: Arc<Mutex<Connection>>,
    checkpointer: Arc<checkpoint::Checkpointer>,
    options: SqliteOptions,
}

impl SqliteCatalog {
    /// Opens (creating if needed) the database at `path` and migrates it.
    pub fn open(path: &Path, options: SqliteOptions) -> Result<SqliteCatalog> {
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir)?;
        }
        let open_err = |e: rusqlite::Error| {
            CatalogError::Storage(format!("cannot open {}: {e}", path.display()))
        };
        let mut writer = Connection::open(path).map_err(open_err)?;
        // Item documents (a few kB each) fit in 16 kB pages without overflow
        // chains; this only takes effect when the file is created.
        writer
            .pragma_update(None, "page_size", 16384)
            .map_err(open_err)?;
        writer
            .pragma_update(None, "journal_mode", "WAL")
            .map_err(open_err)?;
        writer
            .pragma_update(None, "synchronous", "NORMAL")
            .map_err(open_err)?;
        // Referential integrity is kept by the write paths (items are only
        // written for existing collections, deleted with them); SQLite's own
        // foreign-key checks would force a statement journal on every insert.
        writer
            .pragma_update(None, "foreign_keys", "OFF")
            .map_err(open_err)?;
        configure(&writer).map_err(open_err)?;
        schema::migrate(&mut writer).map_err(open_err)?;

        let reader_path = path.to_path_buf();
        let readers = ReaderPool::start(
            options.readers,
            options.queue,
            options.query_timeout,
            || {
                let conn = Connection::open_with_flags(
                    &reader_path,
                    OpenFlags::SQLITE_OPEN_READ_WRITE
                        | OpenFlags::SQLITE_OPEN_NO_MUTEX
                        | OpenFlags::SQLITE_OPEN_URI,
                )
                .map_err(db)?;
                configure(&conn).map_err(db)?;
                conn.pragma_update(None, "query_only", "ON").map_err(db)?;
                Ok(conn)
            },
        )?;
        // The writer never checkpoints; a thread of its own does.
        writer
            .pragma_update(None, "wal_autocheckpoint", 0)
            .map_err(open_err)?;
        let checkpointer = checkpoint::Checkpointer::start(path).map_err(open_err)?;
        let dictionaries = Arc::new(packing::load(&writer)?);
        Ok(SqliteCatalog {
            path: path.to_path_buf(),
            dictionaries,
            readers,
            writer: Arc::new(Mutex::new(writer)),
            checkpointer: Arc::new(checkpointer),
            options,
        })
    }

    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let ms = self.options.query_timeout.as_millis() as u64;
        self.readers.run(f).await.map_err(|e| match e {
            CatalogError::Timeout(_) => CatalogError::Timeout(ms),
            e => e,
        })
    }

    async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let writer = self.writer.clone();
        let checkpointer = self.checkpointer.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = writer
                .lock()
                .map_err(|_| CatalogError::Storage("the writer connection is poisoned".into()))?;
            let result = f(&mut conn);
            checkpointer.committed();
            result
        })
        .await
        .map_err(|e| CatalogError::Storage(format!("write task failed: {e}")))?
    }

    /// Refreshes the planner statistics (after a large ingest).
    pub fn optimize(&self) -> Result<()> {
        let conn = self
            .writer
            .lock()
            .map_err(|_| CatalogError::Storage("the writer connection is poisoned".into()))?;
        conn.execute_batch(
            "PRAGMA analysis_limit = 1000; ANALYZE; PRAGMA wal_checkpoint(TRUNCATE);",
        )
        .map_err(db)
    }
}

fn stored_collection(row: &rusqlite::Row) -> rusqlite::Result<StoredCollection> {
    Ok(StoredCollection {
        id: row.get(0)?,
        doc: row.get(1)?,
        links: row.get(2)?,
        updated: row.get(3)?,
    })
}

#[async_trait]
impl Catalog for SqliteCatalog {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            writes: true,
            free_text: true,
            spatial_operators: true,
            temporal_operators: true,
            array_operators: true,
            counts: self.options.count != CountPolicy::Never,
            // One writer at a time: SQLite locks the whole database.
            writers: 1,
        }
    }

    fn describe(&self) -> String {
        format!("sqlite:{}", self.path.display())
    }

    async fn collections(&self, scope: &Scope, query: &CollectionQuery) -> Result<CollectionPage> {
        let scope = scope.clone();
        let query = query.clone();
        self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT id, doc, links, updated, access, minx, miny, maxx, maxy, start_dt, end_dt, text
                     FROM collections ORDER BY id",
                )
                .map_err(db)?;
            let mut rows = stmt.query([]).map_err(db)?;
            let mut matched = Vec::new();
            while let Some(row) = rows.next().map_err(db)? {
                let access: String = row.get(4).map_err(db)?;
                if !scope.can_see(&parse_access(&access)) {
                    continue;
                }
                let extent: [Option<f64>; 4] = [
                    row.get(5).map_err(db)?,
                    row.get(6).map_err(db)?,
                    row.get(7).map_err(db)?,
                    row.get(8).map_err(db)?,
                ];
                let interval = (row.get(9).map_err(db)?, row.get(10).map_err(db)?);
                let folded: String = row.get(11).map_err(db)?;
                if !query.matches(extent, interval, &folded) {
                    continue;
                }
                matched.push(stored_collection(row).map_err(db)?);
            }
            Ok(query.page(matched))
        })
        .await
    }

    async fn collection(&self, scope: &Scope, id: &str) -> Result<Option<StoredCollection>> {
        let scope = scope.clone();
        let id = id.to_string();
        self.read(move |conn| {
            if !is_visible(conn, &scope, &id)? {
                return Ok(None);
            }
            conn.prepare_cached("SELECT id, doc, links, updated FROM collections WHERE id = ?1")
                .map_err(db)?
                .query_row([&id], stored_collection)
                .optional()
                .map_err(db)
        })
        .await
    }

    async fn item_days(&self, scope: &Scope, collection: &str) -> Result<Option<Vec<Micros>>> {
        const DAY: i64 = 86_400_000_000;
        let scope = scope.clone();
        let collection = collection.to_string();
        self.read(move |conn| {
            if !is_visible(conn, &scope, &collection)? {
                return Ok(Some(Vec::new()));
            }
            // The covering index gives the days in order without reading items.
            let mut stmt = conn
                .prepare_cached(
                    "SELECT DISTINCT datetime - (((datetime % ?2) + ?2) % ?2)
                     FROM items WHERE collection = ?1 ORDER BY 1",
                )
                .map_err(db)?;
            let days = stmt
                .query_map(rusqlite::params![collection, DAY], |r| r.get::<_, i64>(0))
                .map_err(db)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(db)?;
            Ok(Some(days))
        })
        .await
    }

    async fn item(&self, scope: &Scope, collection: &str, id: &str) -> Result<Option<StoredItem>> {
        let scope = scope.clone();
        let (collection, id) = (collection.to_string(), id.to_string());
        let dictionaries = self.dictionaries.clone();
        self.read(move |conn| {
            if !is_visible(conn, &scope, &collection)? {
                return Ok(None);
            }
            conn.prepare_cached(
                "SELECT i.updated, d.doc, d.links, json(d.properties)
                 FROM items i JOIN item_data d ON d.rowid = i.rowid
                 WHERE i.collection = ?1 AND i.id = ?2",
            )
            .map_err(db)?
            .query_row([&collection, &id], |r| {
                Ok(StoredItem {
                    collection: collection.clone(),
                    id: id.clone(),
                    updated: r.get(0)?,
                    doc: packing::unpack(&dictionaries, r.get_ref(1)?)
                        .map_err(|e| rusqlite::Error::UserFunctionError(e.to_string().into()))?,
                    links: r.get(2)?,
                    properties: r.get(3)?,
                })
            })
            .optional()
            .map_err(db)
        })
        .await
    }

    async fn search(&self, scope: &Scope, query: &SearchQuery) -> Result<ItemPage> {
        let scope = scope.clone();
        let query = query.clone();
        let options = self.options.clone();
        let dictionaries = self.dictionaries.clone();
        self.read(move |conn| search::search(conn, &scope, &query, &options, &dictionaries))
            .await
    }

    async fn properties(&self, scope: &Scope, collections: &[String]) -> Result<PropertyKinds> {
        let scope = scope.clone();
        let collections = collections.to_vec();
        self.read(move |conn| {
            let (visible, _) = visible_collections(conn, &scope)?;
            let ids: Vec<String> = visible
                .into_iter()
                .map(|c| c.id)
                .filter(|id| collections.is_empty() || collections.contains(id))
                .collect();
            if ids.is_empty() {
                return Ok(PropertyKinds::default());
            }
            search::property_kinds(conn, &ids)
        })
        .await
    }

    async fn put_collection(
        &self,
        collection: CollectionDoc,
        mode: WriteMode,
    ) -> Result<WriteSummary> {
        self.write(move |conn| write::put_collection(conn, &collection, mode))
            .await
    }

    async fn delete_collection(&self, id: &str) -> Result<bool> {
        let id = id.to_string();
        self.write(move |conn| write::delete_collection(conn, &id))
            .await
    }

    async fn put_items(&self, items: Vec<ItemDoc>, mode: WriteMode) -> Result<WriteSummary> {
        let dictionaries = self.dictionaries.clone();
        self.write(move |conn| write::put_items(conn, &items, mode, &dictionaries))
            .await
    }

    fn prepare_items(&self, items: &mut [ItemDoc]) {
        self.dictionaries.pack_items(items, packing::MARKER);
    }

    async fn delete_item(&self, collection: &str, id: &str) -> Result<bool> {
        let (collection, id) = (collection.to_string(), id.to_string());
        self.write(move |conn| write::delete_item(conn, &collection, &id))
            .await
    }

    fn accounts(&self) -> &dyn super::Accounts {
        self
    }
}
