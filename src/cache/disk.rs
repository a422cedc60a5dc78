//! The disk tier: one file per tile, `<dir>/<first 2 hex>/<hex>.tile`.
//!
//! A file is a small header (magic, format version, media type, ETag)
//! followed by the tile's bytes. Files are written to a temporary name in
//! the same directory and renamed, and every read checks the ETag against
//! the bytes, so a torn or foreign file is never served: it is a miss, and
//! is deleted. Files of another format version are treated the same way.
//!
//! The tier's size is a running total: measured at start on a background
//! thread, then kept up to date by writes and deletions. When a write takes
//! it over the bound, the least recently used files (by mtime, refreshed on
//! hits at most once a minute) are deleted down to 90% of the bound, one
//! eviction at a time. Each of the 256 subdirectories has a lock, taken by
//! the writes and removals of its files and by the start-up measurement of
//! it, so the total stays exact: a change to a subdirectory not measured yet
//! leaves the total alone (the measurement will see its result).

use super::{CacheError, CacheKey, CachedTile, etag_of};
use bytes::Bytes;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime};

/// First bytes of every tile file.
const MAGIC: &[u8; 4] = b"TLCF";
/// Format version; files of another version are misses (and deleted).
const VERSION: u8 = 1;
/// Magic, version, media type length (u16), ETag length (u16).
const FIXED_HEADER: usize = 4 + 1 + 2 + 2;
/// Background writes allowed in flight; beyond, tiles stay in memory only.
const MAX_PENDING_WRITES: usize = 256;
/// A hit refreshes a file's mtime (its LRU position) when older than this.
const TOUCH_AFTER: Duration = Duration::from_secs(60);
/// Temporary files older than this are leftovers of a crash.
const STALE_TMP: Duration = Duration::from_secs(3600);
/// At most one disk warning per this many seconds (the rest go to debug).
const WARN_EVERY_SECS: u64 = 60;
/// Subdirectories, named by the key's first byte in hexadecimal.
const SHARDS: usize = 256;

/// The disk tier, shared with its background tasks.
pub(super) struct DiskTier {
    dir: PathBuf,
    max_bytes: u64,
    /// Bytes of `.tile` files (headers included) in measured subdirectories.
    total: AtomicU64,
    /// Subdirectories below this index have been measured.
    scanned: AtomicUsize,
    evicting: AtomicBool,
    /// Bumped by `clear`: background writes of an older generation are dropped.
    generation: AtomicU64,
    pending: AtomicUsize,
    tmp_counter: AtomicU64,
    /// One lock per subdirectory.
    shards: [Mutex<()>; SHARDS],
    started: Instant,
    /// Seconds since `started` + 1 of the last warning (0: none yet).
    last_warn: AtomicU64,
    suppressed_warnings: AtomicU64,
}

/// What a walk of the directory finds.
enum Found {
    Tile(u128),
    Tmp,
}

impl DiskTier {
    /// Opens (creating it if needed) `dir`, and measures it in the background.
    pub(super) fn open(dir: PathBuf, max_bytes: u64) -> Result<Arc<DiskTier>, CacheError> {
        if let Err(e) = fs::create_dir_all(&dir) {
            return Err(CacheError::Dir(dir, e));
        }
        match fs::metadata(&dir) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                let e = io::Error::new(io::ErrorKind::NotADirectory, "not a directory");
                return Err(CacheError::Dir(dir, e));
            }
            Err(e) => return Err(CacheError::Dir(dir, e)),
        }
        let tier = Arc::new(DiskTier {
            dir,
            max_bytes,
            total: AtomicU64::new(0),
            scanned: AtomicUsize::new(0),
            evicting: AtomicBool::new(false),
            generation: AtomicU64::new(0),
            pending: AtomicUsize::new(0),
            tmp_counter: AtomicU64::new(0),
            shards: std::array::from_fn(|_| Mutex::new(())),
            started: Instant::now(),
            last_warn: AtomicU64::new(0),
            suppressed_warnings: AtomicU64::new(0),
        });
        let scanner = Arc::clone(&tier);
        let spawned = std::thread::Builder::new()
            .name("tile-cache-scan".into())
            .spawn(move || scanner.scan());
        if let Err(e) = spawned {
            tier.warn(
                "cannot measure the disk tier in the background",
                &tier.dir,
                &e,
            );
            tier.scan();
        }
        Ok(tier)
    }

    pub(super) fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    pub(super) fn total_bytes(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    pub(super) fn scan_complete(&self) -> bool {
        self.scanned.load(Ordering::Acquire) >= SHARDS
    }

    /// Reads a tile on the blocking pool; any failure is a miss.
    pub(super) async fn get(self: &Arc<Self>, key: CacheKey) -> Option<CachedTile> {
        let handle = tokio::runtime::Handle::try_current().ok()?;
        let this = Arc::clone(self);
        handle
            .spawn_blocking(move || this.read(key.as_u128()))
            .await
            .ok()
            .flatten()
    }

    /// Writes a tile on the blocking pool, without waiting for it. Dropped
    /// (with a debug line) when too many writes are already in flight.
    pub(super) fn insert_background(self: &Arc<Self>, key: CacheKey, tile: CachedTile) {
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            tracing::debug!("tile cache: no tokio runtime, disk write skipped");
            return;
        };
        if self.pending.fetch_add(1, Ordering::AcqRel) >= MAX_PENDING_WRITES {
            self.pending.fetch_sub(1, Ordering::AcqRel);
            tracing::debug!("tile cache: too many pending disk writes, one skipped");
            return;
        }
        let generation = self.generation.load(Ordering::Acquire);
        let this = Arc::clone(self);
        handle.spawn_blocking(move || {
            let _pending = PendingGuard(&this.pending);
            this.write(key.as_u128(), &tile, generation);
            this.maybe_evict();
        });
    }

    /// Deletes every tile file; writes in flight are discarded.
    pub(super) async fn clear(self: &Arc<Self>) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        let this = Arc::clone(self);
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                let _ = handle.spawn_blocking(move || this.remove_all()).await;
            }
            Err(_) => this.remove_all(),
        }
    }

    /// Waits for the background writes (and evictions they run) to finish.
    pub(super) async fn flush(&self) {
        while self.pending.load(Ordering::Acquire) > 0 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    pub(super) fn tile_path(&self, key: u128) -> PathBuf {
        let hex = format!("{key:032x}");
        self.dir.join(&hex[..2]).join(format!("{hex}.tile"))
    }

    /// Reads and checks the file of `key`; deletes it if invalid.
    fn read(&self, key: u128) -> Option<CachedTile> {
        let path = self.tile_path(key);
        let mut file = match File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return None,
            Err(e) => {
                self.warn("cannot open a tile file", &path, &e);
                return None;
            }
        };
        let meta = match file.metadata() {
            Ok(meta) => meta,
            Err(e) => {
                self.warn("cannot stat a tile file", &path, &e);
                return None;
            }
        };
        let mut buf = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
        if let Err(e) = file.read_to_end(&mut buf) {
            self.warn("cannot read a tile file", &path, &e);
            return None;
        }
        let Some(tile) = decode(Bytes::from(buf)) else {
            tracing::debug!(path = %path.display(), "tile cache: corrupt or old tile file deleted");
            drop(file);
            self.remove(key, &path, None);
            return None;
        };
        // Refresh the file's LRU position, at most once a minute.
        let now = SystemTime::now();
        let stale = meta
            .modified()
            .ok()
            .and_then(|m| now.duration_since(m).ok())
            .is_some_and(|age| age >= TOUCH_AFTER);
        if stale && let Err(e) = file.set_modified(now) {
            tracing::debug!(path = %path.display(), error = %e, "tile cache: cannot touch");
        }
        Some(tile)
    }

    /// Writes the file of `key` atomically (temporary file, then rename),
    /// unless the cache was cleared since the insert (`generation`).
    fn write(&self, key: u128, tile: &CachedTile, generation: u64) {
        let Some(header) = encode_header(tile) else {
            tracing::debug!("tile cache: media type or ETag too long for the disk tier");
            return;
        };
        let path = self.tile_path(key);
        let Some(parent) = path.parent() else {
            return;
        };
        let tmp = parent.join(format!(
            "{key:032x}.{}-{}.tmp",
            std::process::id(),
            self.tmp_counter.fetch_add(1, Ordering::Relaxed)
        ));
        if let Err(e) = write_file(&tmp, &header, &tile.bytes) {
            let _ = fs::remove_file(&tmp);
            self.warn("cannot write a tile file", &tmp, &e);
            return;
        }
        let new_len = (header.len() + tile.bytes.len()) as u64;
        let _lock = self.lock(key);
        if self.generation.load(Ordering::Acquire) != generation {
            let _ = fs::remove_file(&tmp);
            return;
        }
        let old_len = fs::metadata(&path).map_or(0, |m| m.len());
        if let Err(e) = fs::rename(&tmp, &path) {
            let _ = fs::remove_file(&tmp);
            self.warn("cannot rename a tile file", &path, &e);
            return;
        }
        if self.measured(key) {
            self.total.fetch_add(new_len, Ordering::Relaxed);
            self.sub_total(old_len);
        }
    }

    /// Deletes the file of `key` (under its lock), keeping the total exact;
    /// with `if_modified`, only if its mtime is still that one.
    fn remove(&self, key: u128, path: &Path, if_modified: Option<SystemTime>) -> bool {
        let _lock = self.lock(key);
        let Ok(meta) = fs::metadata(path) else {
            return false;
        };
        if if_modified.is_some() && meta.modified().ok() != if_modified {
            return false;
        }
        match fs::remove_file(path) {
            Ok(()) => {
                if self.measured(key) {
                    self.sub_total(meta.len());
                }
                true
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => false,
            Err(e) => {
                self.warn("cannot delete a tile file", path, &e);
                false
            }
        }
    }

    /// Deletes every tile file.
    fn remove_all(&self) {
        self.walk(|found, path, _meta| {
            if let Found::Tile(key) = found {
                self.remove(key, path, None);
            }
        });
    }

    /// Measures the directory at start, one subdirectory at a time under its
    /// lock, and deletes stale temporary files.
    fn scan(&self) {
        let mut bytes = 0u64;
        let mut files = 0u64;
        let stale_tmp = SystemTime::now().checked_sub(STALE_TMP);
        for shard in 0..SHARDS {
            let _lock = self.shards[shard]
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let mut shard_bytes = 0;
            self.walk_shard(shard, |found, path, meta| match found {
                Found::Tile(_) => {
                    shard_bytes += meta.len();
                    files += 1;
                }
                Found::Tmp => {
                    let modified = meta.modified().ok();
                    if modified.zip(stale_tmp).is_some_and(|(m, s)| m < s) {
                        let _ = fs::remove_file(path);
                    }
                }
            });
            self.total.fetch_add(shard_bytes, Ordering::Relaxed);
            self.scanned.store(shard + 1, Ordering::Release);
            bytes += shard_bytes;
        }
        tracing::debug!(dir = %self.dir.display(), files, bytes, "tile cache: disk tier measured");
        self.maybe_evict();
    }

    /// Evicts if over the bound and no other eviction is running.
    fn maybe_evict(&self) {
        if self.total_bytes() <= self.max_bytes || !self.scan_complete() {
            return;
        }
        if self.evicting.swap(true, Ordering::AcqRel) {
            return;
        }
        let _running = FlagGuard(&self.evicting);
        self.evict();
    }

    /// Deletes the least recently used files down to 90% of the bound.
    fn evict(&self) {
        let target = self.max_bytes / 10 * 9;
        let mut files = Vec::new();
        self.walk(|found, path, meta| {
            if let (Found::Tile(key), Ok(modified)) = (found, meta.modified()) {
                files.push((modified, key, path.to_path_buf()));
            }
        });
        files.sort_unstable();
        let before = self.total_bytes();
        let mut removed = 0u64;
        for (modified, key, path) in files {
            if self.total_bytes() <= target {
                break;
            }
            // Spares a file used or rewritten since it was listed.
            if self.remove(key, &path, Some(modified)) {
                removed += 1;
            }
        }
        tracing::debug!(
            removed,
            before,
            after = self.total_bytes(),
            "tile cache: disk tier evicted"
        );
    }

    /// Calls `f` on every tile and temporary file of the directory.
    fn walk(&self, mut f: impl FnMut(Found, &Path, &fs::Metadata)) {
        for shard in 0..SHARDS {
            self.walk_shard(shard, &mut f);
        }
    }

    /// Calls `f` on every tile and temporary file of one subdirectory.
    fn walk_shard(&self, shard: usize, mut f: impl FnMut(Found, &Path, &fs::Metadata)) {
        let sub = self.dir.join(format!("{shard:02x}"));
        let entries = match fs::read_dir(&sub) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return,
            Err(e) => {
                self.warn("cannot list the tile cache", &sub, &e);
                return;
            }
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let found = if let Some(hex) = name.strip_suffix(".tile") {
                match u128::from_str_radix(hex, 16) {
                    Ok(key) if hex.len() == 32 => Found::Tile(key),
                    _ => continue,
                }
            } else if name.ends_with(".tmp") {
                Found::Tmp
            } else {
                continue;
            };
            if let Ok(meta) = entry.metadata() {
                f(found, &entry.path(), &meta);
            }
        }
    }

    /// Whether the subdirectory of `key` has been measured (its changes
    /// then count in the total).
    fn measured(&self, key: u128) -> bool {
        shard_of(key) < self.scanned.load(Ordering::Acquire)
    }

    /// The lock of the subdirectory of `key`.
    fn lock(&self, key: u128) -> MutexGuard<'_, ()> {
        self.shards[shard_of(key)]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn sub_total(&self, n: u64) {
        let _ = self
            .total
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |t| {
                Some(t.saturating_sub(n))
            });
    }

    /// Logs a disk error: a warning at most once a minute, debug otherwise.
    fn warn(&self, what: &str, path: &Path, error: &io::Error) {
        let now = self.started.elapsed().as_secs() + 1;
        let last = self.last_warn.load(Ordering::Relaxed);
        let due = last == 0 || now >= last + WARN_EVERY_SECS;
        if due
            && self
                .last_warn
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            let suppressed = self.suppressed_warnings.swap(0, Ordering::Relaxed);
            tracing::warn!(path = %path.display(), %error, suppressed, "tile cache: {what}");
        } else {
            self.suppressed_warnings.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(path = %path.display(), %error, "tile cache: {what}");
        }
    }
}

/// The subdirectory index of a key: its first byte.
fn shard_of(key: u128) -> usize {
    usize::from((key >> 120) as u8)
}

/// Writes a new file, creating its directory if missing.
fn write_file(path: &Path, header: &[u8], body: &[u8]) -> io::Result<()> {
    let mut file = match File::create(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent)?;
            }
            File::create(path)?
        }
        Err(e) => return Err(e),
    };
    file.write_all(header)?;
    file.write_all(body)
}

/// The header of a tile file, or `None` if a field is too long for it.
fn encode_header(tile: &CachedTile) -> Option<Vec<u8>> {
    let media_type = u16::try_from(tile.media_type.len()).ok()?;
    let etag = u16::try_from(tile.etag.len()).ok()?;
    let mut header = Vec::with_capacity(FIXED_HEADER + tile.media_type.len() + tile.etag.len());
    header.extend_from_slice(MAGIC);
    header.push(VERSION);
    header.extend_from_slice(&media_type.to_le_bytes());
    header.extend_from_slice(&etag.to_le_bytes());
    header.extend_from_slice(tile.media_type.as_bytes());
    header.extend_from_slice(tile.etag.as_bytes());
    Some(header)
}

/// A tile file's content, or `None` if it is not a valid file of this version.
fn decode(buf: Bytes) -> Option<CachedTile> {
    if buf.len() < FIXED_HEADER || &buf[..4] != MAGIC || buf[4] != VERSION {
        return None;
    }
    let media_type_len = usize::from(u16::from_le_bytes([buf[5], buf[6]]));
    let etag_len = usize::from(u16::from_le_bytes([buf[7], buf[8]]));
    let etag_start = FIXED_HEADER + media_type_len;
    let body_start = etag_start + etag_len;
    if buf.len() < body_start {
        return None;
    }
    let media_type = std::str::from_utf8(&buf[FIXED_HEADER..etag_start]).ok()?;
    let etag = std::str::from_utf8(&buf[etag_start..body_start]).ok()?;
    let bytes = buf.slice(body_start..);
    if etag_of(media_type, &bytes) != etag {
        return None;
    }
    Some(CachedTile {
        media_type: media_type.to_owned(),
        etag: etag.to_owned(),
        bytes,
    })
}

/// Decrements the count of pending writes when a write ends (even by panic).
struct PendingGuard<'a>(&'a AtomicUsize);

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Clears a flag when dropped.
struct FlagGuard<'a>(&'a AtomicBool);

impl Drop for FlagGuard<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}
