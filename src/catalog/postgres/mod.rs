//! The PostgreSQL/PostGIS store: the scale-out path, with the same behaviour
//! as the embedded store behind the same [`Catalog`] trait.
//!
//! A pool of connections (deadpool-postgres) serves every call; several
//! Tuilerie instances may share one database, each write is one transaction
//! and is visible to every instance once committed. A database that is down
//! makes calls fail with [`CatalogError::Unavailable`] (HTTP 503); the pool
//! reconnects by itself when it is back.

mod accounts;
mod copy;
mod indexes;
mod memo;
mod packing;
mod partitions;
mod pool;
mod schema;
mod search;
mod write;

use super::datetime::Micros;
use super::error::{CatalogError, Result};
use super::packing::Dictionaries;
use super::queryables::PropertyKinds;
use super::scope::{Access, Scope};
use super::sqlite::CountPolicy;
use super::{
    Capabilities, Catalog, CollectionDoc, CollectionPage, CollectionQuery, ItemDoc, ItemPage,
    SearchQuery, StoredCollection, StoredItem, WriteMode, WriteSummary,
};
use async_trait::async_trait;
use deadpool_postgres::{Object, Pool, PoolError};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio_postgres::error::SqlState;

/// Transactions a bulk ingest writes at once (see `Capabilities::writers`).
const INGEST_WRITERS: usize = 2;

/// Tuning of the PostgreSQL store.
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// Connections in the pool.
    pub pool_size: usize,
    /// Time budget of one statement (and of waiting for a connection).
    pub query_timeout: Duration,
    /// When to compute `numberMatched`.
    pub count: CountPolicy,
    /// How long to wait for the database at start-up (forever when None).
    pub connect_wait: Option<Duration>,
    /// Extra CA certificate (PEM) trusted for TLS connections
    /// (`sslmode=require` in the URL turns TLS on).
    pub tls_ca_file: Option<PathBuf>,
    /// Apply the schema migrations when opening.
    pub migrate: bool,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions {
            pool_size: 16,
            query_timeout: Duration::from_secs(10),
            count: CountPolicy::Auto(2_000),
            connect_wait: Some(Duration::from_secs(30)),
            tls_ca_file: None,
            migrate: true,
        }
    }
}

/// A driver error's message, with the server's detail when there is one.
fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => match db.detail() {
            Some(detail) => format!("{} ({detail})", db.message()),
            None => db.message().to_string(),
        },
        None => match std::error::Error::source(e) {
            // "error connecting to server: Connection refused (os error 111)"
            Some(source) => format!("{e}: {source}"),
            None => e.to_string(),
        },
    }
}

/// Maps driver errors to catalogue errors: a lost or refused connection is
/// "unavailable" (503), a cancelled statement a time-out, bad input
/// (a type mismatch in a filter, an invalid value) the caller's fault.
pub(crate) fn pg(e: tokio_postgres::Error) -> CatalogError {
    let Some(code) = e.code() else {
        // No SQLSTATE: the connection failed or was closed.
        return CatalogError::Unavailable(format!("the database is unreachable: {}", describe(&e)));
    };
    let message = describe(&e);
    let class = &code.code()[..2];
    if *code == SqlState::QUERY_CANCELED {
        CatalogError::Timeout(0)
    } else if *code == SqlState::UNDEFINED_FUNCTION || class == "22" {
        CatalogError::InvalidQuery(format!("the query cannot be evaluated: {message}"))
    } else if *code == SqlState::UNIQUE_VIOLATION {
        CatalogError::Conflict(message)
    } else if *code == SqlState::PROGRAM_LIMIT_EXCEEDED && message.contains(indexes::PREFIX) {
        // "index row size … exceeds btree version 4 maximum 2704 for index tl_ix_…"
        CatalogError::InvalidObject(format!(
            "a value of a property the collection indexes (tuilerie:indexes) is too long to be \
             indexed (about 2,700 bytes at most): {message}"
        ))
    } else if matches!(class, "08" | "57" | "53") {
        // Connection exceptions, operator intervention (shutdown), resources.
        CatalogError::Unavailable(format!("the database is unavailable: {message}"))
    } else if *code == SqlState::T_R_SERIALIZATION_FAILURE
        || *code == SqlState::T_R_DEADLOCK_DETECTED
    {
        CatalogError::Busy(format!("concurrent writes collided; retry: {message}"))
    } else {
        CatalogError::Storage(message)
    }
}

/// Maps pool errors (no connection could be had) to catalogue errors.
pub(crate) fn pool_error(e: PoolError) -> CatalogError {
    match e {
        PoolError::Backend(e) => pg(e),
        PoolError::Timeout(_) => {
            CatalogError::Unavailable("no database connection could be had in time".into())
        }
        PoolError::Closed => CatalogError::Unavailable("the connection pool is closed".into()),
        other => CatalogError::Unavailable(format!("the database is unavailable: {other}")),
    }
}

/// What search planning needs to know of a collection.
#[derive(Debug, Clone)]
pub(crate) struct CollectionMeta {
    pub id: String,
    pub max_before: i64,
    pub max_after: i64,
    pub item_count: i64,
    /// Time of the last write (of the collection or its items).
    pub updated: i64,
}

fn parse_access(text: &str) -> Access {
    if text == "open" {
        Access::Open
    } else {
        Access::Restricted(serde_json::from_str(text).unwrap_or_default())
    }
}

/// The collections the scope can see, and how many exist in all.
pub(crate) async fn visible_collections(
    client: &deadpool_postgres::Client,
    scope: &Scope,
) -> Result<(Vec<CollectionMeta>, usize)> {
    // (Statements run on every request are prepared once per connection.)
    let stmt = client
        .prepare_cached(
            "SELECT id, access, max_before, max_after, item_count, updated FROM collections ORDER BY id",
        )
        .await
        .map_err(pg)?;
    let rows = client.query(&stmt, &[]).await.map_err(pg)?;
    let total = rows.len();
    let mut out = Vec::new();
    for row in rows {
        let access: String = row.try_get(1).map_err(pg)?;
        if scope.can_see(&parse_access(&access)) {
            out.push(CollectionMeta {
                id: row.try_get(0).map_err(pg)?,
                max_before: row.try_get(2).map_err(pg)?,
                max_after: row.try_get(3).map_err(pg)?,
                item_count: row.try_get(4).map_err(pg)?,
                updated: row.try_get(5).map_err(pg)?,
            });
        }
    }
    Ok((out, total))
}

/// The PostgreSQL store.
pub struct PostgresCatalog {
    url: String,
    pool: Pool,
    options: PgOptions,
    /// The server compresses large values with lz4 when asked (much cheaper
    /// than the default pglz for item documents: ingest runs ~1.7× faster).
    lz4: bool,
    /// The search histograms and the property kinds of the collections,
    /// as last read.
    memo: search::Memo,
    /// The item documents' dictionaries met so far (see `packing.rs`).
    dictionaries: Arc<Dictionaries>,
}

impl PostgresCatalog {
    /// Connects (waiting for the database as `options.connect_wait` allows)
    /// and applies the migrations when `options.migrate`.
    pub async fn open(url: &str, options: PgOptions) -> Result<PostgresCatalog> {
        let pool = pool::build(url, &options)?;
        let mut client = pool::wait_until_up(&pool, url, options.connect_wait).await?;
        if options.migrate {
            let ran = schema::migrate(&mut client).await?;
            if ran > 0 {
                tracing::info!(store = %pool::redact(url), migrations = ran, "schema migrated");
            }
        }
        let lz4 = client
            .query_opt(
                "SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)",
                &[],
            )
            .await
            .map_err(pg)?
            .is_some();
        drop(client);
        Ok(PostgresCatalog {
            url: url.to_string(),
            pool,
            options,
            lz4,
            memo: Default::default(),
            dictionaries: Default::default(),
        })
    }

    /// Applies the pending migrations; returns how many ran.
    pub async fn migrate(&self) -> Result<usize> {
        let mut client = self.client().await?;
        schema::migrate(&mut client).await
    }

    /// The latest schema version this build knows.
    pub fn schema_version() -> usize {
        schema::MIGRATIONS.len()
    }

    /// Refreshes the planner statistics (after a large ingest).
    pub async fn analyze(&self) -> Result<()> {
        let client = self.client().await?;
        client.batch_execute("ANALYZE").await.map_err(pg)
    }

    async fn client(&self) -> Result<Object> {
        self.pool.get().await.map_err(pool_error)
    }

    fn timeout(&self, e: CatalogError) -> CatalogError {
        match e {
            CatalogError::Timeout(_) => {
                CatalogError::Timeout(self.options.query_timeout.as_millis() as u64)
            }
            e => e,
        }
    }
}

/// Creates a database (for tests and set-up scripts): `admin_url` names an
/// existing database of the cluster; returns the new database's URL.
pub async fn create_database(admin_url: &str, name: &str) -> Result<String> {
    if !schema::is_plain_identifier(name) {
        return Err(CatalogError::query(format!("bad database name {name:?}")));
    }
    let (client, connection) = tokio_postgres::connect(admin_url, tokio_postgres::NoTls)
        .await
        .map_err(pg)?;
    let task = tokio::spawn(connection);
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .map_err(pg)?;
    drop(client);
    let _ = task.await;
    let mut url = url::Url::parse(admin_url)
        .map_err(|e| CatalogError::query(format!("bad URL {}: {e}", pool::redact(admin_url))))?;
    url.set_path(&format!("/{name}"));
    Ok(url.to_string())
}

/// For the store's own tests: a new database `<prefix>_<pid>` on the
/// cluster `TUILERIE_TEST_POSTGRES` names, opened; `None` (said on stderr,
/// which `scripts/test` checks) when the variable is not set.
#[cfg(test)]
pub(super) async fn test_catalog(prefix: &str) -> Option<PostgresCatalog> {
    let Ok(admin) = std::env::var("TUILERIE_TEST_POSTGRES") else {
        eprintln!("SKIPPED postgres: TUILERIE_TEST_POSTGRES is not set");
        return None;
    };
    let name = format!("{prefix}_{}", std::process::id());
    let url = create_database(&admin, &name).await.unwrap();
    Some(
        PostgresCatalog::open(&url, Default::default())
            .await
            .unwrap(),
    )
}

fn stored_collection(row: &tokio_postgres::Row) -> Result<StoredCollection> {
    Ok(StoredCollection {
        id: row.try_get(0).map_err(pg)?,
        doc: row.try_get(1).map_err(pg)?,
        links: row.try_get(2).map_err(pg)?,
        updated: row.try_get(3).map_err(pg)?,
    })
}

#[async_trait]
impl Catalog for PostgresCatalog {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            writes: true,
            free_text: true,
            spatial_operators: true,
            temporal_operators: true,
            array_operators: true,
            counts: self.options.count != CountPolicy::Never,
            // Batches of different items are written side by side: their
            // COPYs and index updates run in parallel backends, only the
            // collection's counters are taken in turn, at commit.
            writers: INGEST_WRITERS.min(self.options.pool_size.max(1)),
        }
    }

    fn describe(&self) -> String {
        pool::redact(&self.url)
    }

    async fn collections(&self, scope: &Scope, query: &CollectionQuery) -> Result<CollectionPage> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT id, doc, links, updated, access, minx, miny, maxx, maxy, start_dt, end_dt, text
                 FROM collections ORDER BY id",
                &[],
            )
            .await
            .map_err(pg)?;
        // Few rows: the same filters as the embedded store, in Rust.
        let mut matched = Vec::new();
        for row in &rows {
            let access: String = row.try_get(4).map_err(pg)?;
            if !scope.can_see(&parse_access(&access)) {
                continue;
            }
            let extent: [Option<f64>; 4] = [
                row.try_get(5).map_err(pg)?,
                row.try_get(6).map_err(pg)?,
                row.try_get(7).map_err(pg)?,
                row.try_get(8).map_err(pg)?,
            ];
            let interval = (row.try_get(9).map_err(pg)?, row.try_get(10).map_err(pg)?);
            let folded: String = row.try_get(11).map_err(pg)?;
            if !query.matches(extent, interval, &folded) {
                continue;
            }
            matched.push(stored_collection(row)?);
        }
        Ok(query.page(matched))
    }

    async fn collection(&self, scope: &Scope, id: &str) -> Result<Option<StoredCollection>> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached("SELECT id, doc, links, updated, access FROM collections WHERE id = $1")
            .await
            .map_err(pg)?;
        let row = client.query_opt(&stmt, &[&id]).await.map_err(pg)?;
        match row {
            Some(row) => {
                let access: String = row.try_get(4).map_err(pg)?;
                if !scope.can_see(&parse_access(&access)) {
                    return Ok(None);
                }
                Ok(Some(stored_collection(&row)?))
            }
            None => Ok(None),
        }
    }

    async fn item(&self, scope: &Scope, collection: &str, id: &str) -> Result<Option<StoredItem>> {
        let client = self.client().await?;
        // The visibility test and the item in one round trip.
        let stmt = client
            .prepare_cached(
                "SELECT c.access, i.updated, i.doc, i.links, i.properties::text
                 FROM collections c LEFT JOIN items i ON i.collection = c.id AND i.id = $2
                 WHERE c.id = $1",
            )
            .await
            .map_err(pg)?;
        let row = client
            .query_opt(&stmt, &[&collection, &id])
            .await
            .map_err(|e| self.timeout(pg(e)))?;
        let Some(row) = row else { return Ok(None) };
        let access: String = row.try_get(0).map_err(pg)?;
        if !scope.can_see(&parse_access(&access)) {
            return Ok(None);
        }
        let Some(updated) = row.try_get::<_, Option<i64>>(1).map_err(pg)? else {
            return Ok(None);
        };
        let stored: &[u8] = row.try_get(2).map_err(pg)?;
        let doc = packing::unpack_all(&**client, &self.dictionaries, &[(collection, id, stored)])
            .await?
            .pop()
            .ok_or_else(|| CatalogError::Storage("an item document went missing".into()))?;
        Ok(Some(StoredItem {
            collection: collection.to_string(),
            id: id.to_string(),
            updated,
            doc,
            links: row.try_get(3).map_err(pg)?,
            properties: row.try_get(4).map_err(pg)?,
        }))
    }

    async fn search(&self, scope: &Scope, query: &SearchQuery) -> Result<ItemPage> {
        let mut client = self.client().await?;
        search::search(
            &mut client,
            &self.memo,
            &self.dictionaries,
            scope,
            query,
            self.options.count,
        )
        .await
        .map_err(|e| self.timeout(e))
    }

    async fn properties(&self, scope: &Scope, collections: &[String]) -> Result<PropertyKinds> {
        let client = self.client().await?;
        let (visible, _) = visible_collections(&client, scope).await?;
        let wanted: Vec<&CollectionMeta> = visible
            .iter()
            .filter(|c| collections.is_empty() || collections.contains(&c.id))
            .collect();
        let mut kinds = PropertyKinds::default();
        for one in search::property_kinds(&**client, &self.memo, &wanted).await? {
            kinds.merge(&one);
        }
        Ok(kinds)
    }

    async fn item_days(&self, scope: &Scope, collection: &str) -> Result<Option<Vec<Micros>>> {
        const DAY: i64 = 86_400_000_000;
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT access FROM collections WHERE id = $1",
                &[&collection],
            )
            .await
            .map_err(pg)?;
        let visible = match row {
            Some(row) => scope.can_see(&parse_access(&row.try_get::<_, String>(0).map_err(pg)?)),
            None => false,
        };
        if !visible {
            return Ok(Some(Vec::new()));
        }
        // The (datetime, collection, id) index gives the days in order.
        let rows = client
            .query(
                "SELECT DISTINCT datetime - (((datetime % $2) + $2) % $2)
                 FROM items WHERE collection = $1 ORDER BY 1",
                &[&collection, &DAY],
            )
            .await
            .map_err(|e| self.timeout(pg(e)))?;
        let days = rows
            .iter()
            .map(|r| r.try_get::<_, i64>(0).map_err(pg))
            .collect::<Result<Vec<_>>>()?;
        Ok(Some(days))
    }

    async fn put_collection(
        &self,
        collection: CollectionDoc,
        mode: WriteMode,
    ) -> Result<WriteSummary> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let summary = write::put_collection(&tx, &collection, mode).await?;
        tx.commit().await.map_err(pg)?;
        Ok(summary)
    }

    async fn delete_collection(&self, id: &str) -> Result<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let deleted = write::delete_collection(&tx, id).await?;
        tx.commit().await.map_err(pg)?;
        Ok(deleted)
    }

    async fn put_items(&self, items: Vec<ItemDoc>, mode: WriteMode) -> Result<WriteSummary> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        if self.lz4 {
            tx.batch_execute("SET LOCAL default_toast_compression = 'lz4'")
                .await
                .map_err(pg)?;
        }
        let (summary, trained) = write::put_items(&tx, &items, mode, &self.dictionaries)
            .await
            .map_err(|e| self.timeout(e))?;
        tx.commit().await.map_err(pg)?;
        for (collection, dictionary) in trained {
            self.dictionaries.install(collection, dictionary);
        }
        Ok(summary)
    }

    fn prepare_items(&self, items: &mut [ItemDoc]) {
        self.dictionaries.pack_items(items, packing::MARKER);
    }

    async fn delete_item(&self, collection: &str, id: &str) -> Result<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let deleted = write::delete_item(&tx, collection, id).await?;
        tx.commit().await.map_err(pg)?;
        Ok(deleted)
    }

    fn accounts(&self) -> &dyn super::Accounts {
        self
    }
}
