//! The tile cache: a memory tier (moka, weighted by bytes) in front of an
//! optional disk tier (one file per tile, bounded in size, least recently
//! used files evicted first).
//!
//! Reads go memory → disk (a disk hit is promoted to memory); writes go to
//! memory at once and to disk in the background, so a request never waits on
//! cache I/O and a disk error never fails a request (it is logged now and
//! then). See [`TileCache`].

mod disk;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use thiserror::Error;
use xxhash_rust::xxh3::Xxh3Default;

use disk::DiskTier;

/// Bytes counted for an entry of the memory tier beyond its tile's bytes,
/// media type and ETag (key, bookkeeping).
const ENTRY_OVERHEAD: usize = 64;

const MIB: u64 = 1024 * 1024;

/// Cache settings: the `[cache]` table of the configuration file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct CacheConfig {
    /// Size bound of the memory tier, in MiB (0 disables it).
    pub memory_mb: u64,
    /// Directory of the disk tier (unset disables it). Created if missing.
    pub disk_dir: Option<PathBuf>,
    /// Size bound of the disk tier, in MiB (0 disables it too).
    pub disk_mb: u64,
    /// `Cache-Control` header value that the HTTP layer sends with tiles.
    pub cache_control: String,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            memory_mb: 256,
            disk_dir: Some(PathBuf::from("tile-cache")),
            disk_mb: 2048,
            cache_control: "public, max-age=3600".into(),
        }
    }
}

/// Errors of the tile cache. Only setting it up can fail: once running, the
/// cache turns its I/O errors into misses and log lines.
#[derive(Debug, Error)]
pub enum CacheError {
    /// The disk tier's directory could not be created or is not a directory.
    #[error("tile cache directory {0}: {1}")]
    Dir(PathBuf, std::io::Error),
}

/// A cache key: a 128-bit hash of the parts that identify a tile (collection,
/// item or mosaic, rendering parameters, tile matrix set, z/x/y, format…).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CacheKey(u128);

impl CacheKey {
    /// Hash of every part, in order. Each part is length-prefixed, so
    /// `["ab", "c"]` and `["a", "bc"]` give different keys.
    pub fn new(parts: &[&str]) -> CacheKey {
        let mut hasher = Xxh3Default::new();
        for part in parts {
            hasher.update(&(part.len() as u64).to_le_bytes());
            hasher.update(part.as_bytes());
        }
        CacheKey(hasher.digest128())
    }

    /// The key as 32 lowercase hexadecimal digits.
    pub fn hex(&self) -> String {
        format!("{:032x}", self.0)
    }

    /// The raw 128-bit value.
    pub fn as_u128(&self) -> u128 {
        self.0
    }
}

/// A cached tile: its bytes, media type and ETag.
#[derive(Clone, PartialEq, Eq)]
pub struct CachedTile {
    /// The encoded tile. May be empty: "no content" (an empty mosaic tile,
    /// answered with HTTP 204) is cached too.
    pub bytes: Bytes,
    /// Media type, e.g. `image/png`.
    pub media_type: String,
    /// Strong ETag, quoted: a 128-bit hash of the media type and the bytes.
    pub etag: String,
}

impl CachedTile {
    /// A tile with its ETag computed from `media_type` and `bytes`.
    pub fn new(bytes: Bytes, media_type: impl Into<String>) -> CachedTile {
        let media_type = media_type.into();
        let etag = etag_of(&media_type, &bytes);
        CachedTile {
            bytes,
            media_type,
            etag,
        }
    }

    /// Whether this is a "no content" tile (empty bytes).
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Weight in the memory tier, in bytes.
    fn weight(&self) -> u32 {
        let n = self.bytes.len() + self.media_type.len() + self.etag.len() + ENTRY_OVERHEAD;
        u32::try_from(n).unwrap_or(u32::MAX)
    }
}

impl fmt::Debug for CachedTile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedTile")
            .field("bytes", &self.bytes.len())
            .field("media_type", &self.media_type)
            .field("etag", &self.etag)
            .finish()
    }
}

/// The quoted strong ETag of a tile.
fn etag_of(media_type: &str, bytes: &[u8]) -> String {
    let mut hasher = Xxh3Default::new();
    hasher.update(&(media_type.len() as u64).to_le_bytes());
    hasher.update(media_type.as_bytes());
    hasher.update(bytes);
    format!("\"{:032x}\"", hasher.digest128())
}

/// A snapshot of the cache's sizes and counters.
///
/// Memory figures are moka's, which settle a moment after writes; the disk
/// size is a running total, measured again at each start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct CacheStats {
    /// Entries in the memory tier.
    pub memory_entries: u64,
    /// Weighted bytes in the memory tier.
    pub memory_bytes: u64,
    /// Size bound of the memory tier, in bytes (0: disabled).
    pub memory_capacity_bytes: u64,
    /// Bytes of tile files on disk.
    pub disk_bytes: u64,
    /// Size bound of the disk tier, in bytes (0: disabled).
    pub disk_capacity_bytes: u64,
    /// Whether the start-up measurement of the disk tier has finished
    /// (`disk_bytes` is low until then).
    pub disk_scan_complete: bool,
    /// Lookups answered by the memory tier.
    pub memory_hits: u64,
    /// Lookups the memory tier could not answer (when enabled).
    pub memory_misses: u64,
    /// Lookups answered by the disk tier.
    pub disk_hits: u64,
    /// Lookups the disk tier could not answer (when enabled).
    pub disk_misses: u64,
}

#[derive(Default)]
struct Counters {
    memory_hits: AtomicU64,
    memory_misses: AtomicU64,
    disk_hits: AtomicU64,
    disk_misses: AtomicU64,
}

/// The tile cache: memory tier, then disk tier.
///
/// Cheap to share behind an `Arc` (e.g. actix `web::Data`). `get` and
/// `insert` must run inside a tokio runtime (actix's is one); the disk tier
/// is skipped otherwise.
pub struct TileCache {
    memory: Option<moka::future::Cache<CacheKey, CachedTile>>,
    memory_capacity: u64,
    disk: Option<Arc<DiskTier>>,
    counters: Counters,
}

impl TileCache {
    /// A cache as configured. Creates the disk directory if needed and
    /// starts measuring what it already holds on a background thread.
    pub fn new(config: &CacheConfig) -> Result<TileCache, CacheError> {
        let memory_capacity = config.memory_mb.saturating_mul(MIB);
        let memory = (memory_capacity > 0).then(|| {
            moka::future::Cache::builder()
                .max_capacity(memory_capacity)
                .weigher(|_key: &CacheKey, tile: &CachedTile| tile.weight())
                .build()
        });
        let disk = match &config.disk_dir {
            Some(dir) if config.disk_mb > 0 => Some(DiskTier::open(
                dir.clone(),
                config.disk_mb.saturating_mul(MIB),
            )?),
            _ => None,
        };
        Ok(TileCache {
            memory,
            memory_capacity,
            disk,
            counters: Counters::default(),
        })
    }

    /// The tile under `key`: from memory, else from disk (then promoted to
    /// memory). Unreadable or corrupt disk entries are misses (and deleted).
    pub async fn get(&self, key: &CacheKey) -> Option<CachedTile> {
        if let Some(memory) = &self.memory {
            if let Some(tile) = memory.get(key).await {
                self.counters.memory_hits.fetch_add(1, Ordering::Relaxed);
                return Some(tile);
            }
            self.counters.memory_misses.fetch_add(1, Ordering::Relaxed);
        }
        let disk = self.disk.as_ref()?;
        let tile = disk.get(*key).await;
        match &tile {
            Some(tile) => {
                self.counters.disk_hits.fetch_add(1, Ordering::Relaxed);
                if let Some(memory) = &self.memory {
                    memory.insert(*key, tile.clone()).await;
                }
            }
            None => {
                self.counters.disk_misses.fetch_add(1, Ordering::Relaxed);
            }
        }
        tile
    }

    /// Stores `tile` under `key`: in memory now, on disk in the background
    /// (the caller never waits on disk I/O; see [`TileCache::flush`]).
    pub async fn insert(&self, key: CacheKey, tile: CachedTile) {
        if let Some(disk) = &self.disk {
            disk.insert_background(key, tile.clone());
        }
        if let Some(memory) = &self.memory {
            memory.insert(key, tile).await;
        }
    }

    /// A snapshot of sizes and hit/miss counters (for a status endpoint,
    /// metrics or logs).
    pub fn stats(&self) -> CacheStats {
        let c = &self.counters;
        let mut stats = CacheStats {
            memory_capacity_bytes: self.memory_capacity,
            memory_hits: c.memory_hits.load(Ordering::Relaxed),
            memory_misses: c.memory_misses.load(Ordering::Relaxed),
            disk_hits: c.disk_hits.load(Ordering::Relaxed),
            disk_misses: c.disk_misses.load(Ordering::Relaxed),
            disk_scan_complete: true,
            ..CacheStats::default()
        };
        if let Some(memory) = &self.memory {
            stats.memory_entries = memory.entry_count();
            stats.memory_bytes = memory.weighted_size();
        }
        if let Some(disk) = &self.disk {
            stats.disk_bytes = disk.total_bytes();
            stats.disk_capacity_bytes = disk.max_bytes();
            stats.disk_scan_complete = disk.scan_complete();
        }
        stats
    }

    /// Drops every entry of both tiers. Background writes begun before the
    /// call are discarded rather than written.
    pub async fn clear(&self) {
        if let Some(memory) = &self.memory {
            memory.invalidate_all();
            memory.run_pending_tasks().await;
        }
        if let Some(disk) = &self.disk {
            disk.clear().await;
        }
    }

    /// Waits until the background disk writes (and any eviction they
    /// started) are done: for a graceful shutdown, or tests.
    pub async fn flush(&self) {
        if let Some(disk) = &self.disk {
            disk.flush().await;
        }
        if let Some(memory) = &self.memory {
            memory.run_pending_tasks().await;
        }
    }
}

impl fmt::Debug for TileCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TileCache")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
