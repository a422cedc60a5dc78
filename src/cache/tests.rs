use super::*;
use std::fs;
use std::path::Path;
use std::time::{Duration, SystemTime};

fn config(dir: Option<&Path>, memory_mb: u64, disk_mb: u64) -> CacheConfig {
    CacheConfig {
        memory_mb,
        disk_dir: dir.map(Path::to_path_buf),
        disk_mb,
        ..CacheConfig::default()
    }
}

/// A cache whose start-up measurement of the disk tier is done.
async fn open(config: &CacheConfig) -> TileCache {
    let cache = TileCache::new(config).unwrap();
    for _ in 0..1000 {
        if cache.stats().disk_scan_complete {
            return cache;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("the disk scan did not finish");
}

fn tile(len: usize, fill: u8) -> CachedTile {
    CachedTile::new(Bytes::from(vec![fill; len]), "image/png")
}

fn key(i: usize) -> CacheKey {
    CacheKey::new(&["tile", &i.to_string()])
}

fn path_of(cache: &TileCache, key: CacheKey) -> PathBuf {
    cache.disk.as_ref().unwrap().tile_path(key.as_u128())
}

/// Files under the cache directory with this extension.
fn files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for sub in fs::read_dir(dir).unwrap().flatten() {
        if sub.path().is_dir() {
            for f in fs::read_dir(sub.path()).unwrap().flatten() {
                if f.path().extension().is_some_and(|e| e == ext) {
                    out.push(f.path());
                }
            }
        }
    }
    out
}

fn size_on_disk(dir: &Path) -> u64 {
    files(dir, "tile")
        .iter()
        .map(|p| fs::metadata(p).unwrap().len())
        .sum()
}

#[test]
fn keys_are_unambiguous() {
    assert_ne!(CacheKey::new(&["ab", "c"]), CacheKey::new(&["a", "bc"]));
    assert_ne!(CacheKey::new(&["a", ""]), CacheKey::new(&["a"]));
    assert_ne!(CacheKey::new(&[""]), CacheKey::new(&[]));
    assert_ne!(CacheKey::new(&["a", "b"]), CacheKey::new(&["b", "a"]));
    assert_eq!(CacheKey::new(&["a", "b"]), CacheKey::new(&["a", "b"]));
    let hex = CacheKey::new(&["x"]).hex();
    assert_eq!(hex.len(), 32);
    assert!(hex.bytes().all(|b| b.is_ascii_hexdigit()));
}

#[test]
fn etags_are_quoted_and_cover_media_type_and_bytes() {
    let a = CachedTile::new(Bytes::from_static(b"abc"), "image/png");
    assert_eq!(a.etag.len(), 34);
    assert!(a.etag.starts_with('"') && a.etag.ends_with('"'));
    let same = CachedTile::new(Bytes::from_static(b"abc"), "image/png");
    assert_eq!(a.etag, same.etag);
    let other_type = CachedTile::new(Bytes::from_static(b"abc"), "image/webp");
    assert_ne!(a.etag, other_type.etag);
    let other_bytes = CachedTile::new(Bytes::from_static(b"abd"), "image/png");
    assert_ne!(a.etag, other_bytes.etag);
}

#[test]
fn config_defaults_and_unknown_keys() {
    let c: CacheConfig = toml::from_str("memory_mb = 5").unwrap();
    assert_eq!(c.memory_mb, 5);
    assert_eq!(c.disk_dir, Some(PathBuf::from("tile-cache")));
    assert_eq!(c.disk_mb, 2048);
    assert_eq!(c.cache_control, "public, max-age=3600");
    assert!(toml::from_str::<CacheConfig>("memory = 5").is_err());
}

#[tokio::test]
async fn memory_hit_and_miss() {
    let cache = TileCache::new(&config(None, 1, 0)).unwrap();
    assert!(cache.get(&key(1)).await.is_none());
    let t = tile(100, 7);
    cache.insert(key(1), t.clone()).await;
    assert_eq!(cache.get(&key(1)).await, Some(t));
    let stats = cache.stats();
    assert_eq!((stats.memory_hits, stats.memory_misses), (1, 1));
    assert_eq!((stats.disk_hits, stats.disk_misses), (0, 0));
    assert_eq!(stats.disk_capacity_bytes, 0);
}

#[tokio::test]
async fn disk_hit_after_restart_is_promoted() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(Some(dir.path()), 1, 10);
    let t = tile(1000, 3);
    {
        let cache = open(&cfg).await;
        cache.insert(key(1), t.clone()).await;
        cache.flush().await;
        assert!(path_of(&cache, key(1)).is_file());
    }
    let cache = open(&cfg).await;
    assert_eq!(cache.stats().disk_bytes, size_on_disk(dir.path()));
    assert_eq!(cache.get(&key(1)).await, Some(t.clone()));
    assert_eq!(cache.get(&key(1)).await, Some(t));
    assert!(cache.get(&key(2)).await.is_none());
    let stats = cache.stats();
    assert_eq!(stats.disk_hits, 1);
    assert_eq!(stats.disk_misses, 1);
    assert_eq!(stats.memory_hits, 1);
    assert_eq!(stats.memory_misses, 2);
}

#[tokio::test]
async fn corrupt_or_old_files_are_misses_and_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(Some(dir.path()), 0, 10);
    let cache = open(&cfg).await;
    for i in 0..4 {
        cache.insert(key(i), tile(500, i as u8)).await;
    }
    cache.flush().await;
    let good = fs::read(path_of(&cache, key(0))).unwrap();
    // A flipped body byte, a truncated file, another format version, garbage.
    let mut flipped = good.clone();
    *flipped.last_mut().unwrap() ^= 1;
    let mut old_version = good.clone();
    old_version[4] = 0;
    fs::write(path_of(&cache, key(0)), flipped).unwrap();
    fs::write(path_of(&cache, key(1)), &good[..good.len() / 2]).unwrap();
    fs::write(path_of(&cache, key(2)), old_version).unwrap();
    fs::write(path_of(&cache, key(3)), b"garbage").unwrap();
    drop(cache);

    let cache = open(&cfg).await;
    for i in 0..4 {
        assert!(cache.get(&key(i)).await.is_none(), "tile {i}");
        assert!(!path_of(&cache, key(i)).exists(), "tile {i}");
    }
    assert_eq!(cache.stats().disk_misses, 4);
    assert_eq!(cache.stats().disk_bytes, 0);
}

#[tokio::test]
async fn eviction_keeps_the_disk_under_its_bound_dropping_the_oldest() {
    let dir = tempfile::tempdir().unwrap();
    let cache = open(&config(Some(dir.path()), 0, 1)).await;
    let bound = 1024 * 1024;
    for i in 0..8 {
        cache.insert(key(i), tile(100 * 1024, i as u8)).await;
    }
    cache.flush().await;
    // Age the first eight files, tile 0 the oldest.
    let now = SystemTime::now();
    for i in 0..8u64 {
        let file = fs::File::open(path_of(&cache, key(i as usize))).unwrap();
        file.set_modified(now - Duration::from_secs(60 * (100 - i)))
            .unwrap();
    }
    for i in 8..12 {
        cache.insert(key(i), tile(100 * 1024, i as u8)).await;
        cache.flush().await;
    }
    let on_disk = size_on_disk(dir.path());
    assert_eq!(cache.stats().disk_bytes, on_disk);
    assert!(on_disk <= bound, "{on_disk} bytes on disk");
    assert_eq!(files(dir.path(), "tile").len(), 10);
    assert!(cache.get(&key(0)).await.is_none());
    assert!(cache.get(&key(1)).await.is_none());
    for i in 2..12 {
        assert!(cache.get(&key(i)).await.is_some(), "tile {i}");
    }
}

#[tokio::test]
async fn memory_tier_is_bounded_by_weight() {
    let cache = TileCache::new(&config(None, 1, 0)).unwrap();
    for i in 0..40 {
        cache.insert(key(i), tile(64 * 1024, 1)).await;
    }
    let memory = cache.memory.as_ref().unwrap();
    memory.run_pending_tasks().await;
    let stats = cache.stats();
    assert!(stats.memory_bytes <= 1024 * 1024, "{stats:?}");
    assert!(stats.memory_entries < 40, "{stats:?}");
    assert!(stats.memory_entries > 0, "{stats:?}");
    assert_eq!(stats.memory_capacity_bytes, 1024 * 1024);
}

#[tokio::test]
async fn empty_tiles_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(Some(dir.path()), 1, 10);
    let empty = CachedTile::new(Bytes::new(), "image/webp");
    assert!(empty.is_empty());
    {
        let cache = open(&cfg).await;
        cache.insert(key(1), empty.clone()).await;
        assert_eq!(cache.get(&key(1)).await, Some(empty.clone()));
        cache.flush().await;
    }
    let cache = open(&cfg).await;
    let back = cache.get(&key(1)).await.unwrap();
    assert!(back.bytes.is_empty());
    assert_eq!(back.media_type, "image/webp");
    assert_eq!(back, empty);
    assert_eq!(cache.stats().disk_hits, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_inserts_of_one_key_leave_one_good_file() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(Some(dir.path()), 0, 10);
    let cache = Arc::new(open(&cfg).await);
    let tiles: Vec<CachedTile> = (0..64).map(|i| tile(1000 + 37 * i, i as u8)).collect();
    let tasks: Vec<_> = tiles
        .iter()
        .cloned()
        .map(|t| {
            let cache = Arc::clone(&cache);
            tokio::spawn(async move { cache.insert(key(1), t).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    cache.flush().await;
    assert_eq!(files(dir.path(), "tile").len(), 1);
    assert!(files(dir.path(), "tmp").is_empty());
    assert_eq!(cache.stats().disk_bytes, size_on_disk(dir.path()));
    drop(cache);
    let cache = open(&cfg).await;
    let back = cache.get(&key(1)).await.unwrap();
    assert!(tiles.contains(&back));
}

#[tokio::test]
async fn clear_drops_both_tiers() {
    let dir = tempfile::tempdir().unwrap();
    let cache = open(&config(Some(dir.path()), 1, 10)).await;
    for i in 0..5 {
        cache.insert(key(i), tile(300, 1)).await;
    }
    cache.flush().await;
    assert_eq!(files(dir.path(), "tile").len(), 5);
    cache.clear().await;
    for i in 0..5 {
        assert!(cache.get(&key(i)).await.is_none());
    }
    assert!(files(dir.path(), "tile").is_empty());
    let stats = cache.stats();
    assert_eq!(stats.disk_bytes, 0);
    assert_eq!(stats.memory_entries, 0);
}

#[test]
fn a_file_in_place_of_the_directory_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    fs::write(&file, b"x").unwrap();
    let err = TileCache::new(&config(Some(&file), 1, 10)).unwrap_err();
    assert!(matches!(err, CacheError::Dir(..)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_during_the_startup_scan_keep_the_total_exact() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(Some(dir.path()), 0, 100);
    {
        let cache = open(&cfg).await;
        for i in 0..600 {
            cache.insert(key(i), tile(100, 1)).await;
            if i % 200 == 199 {
                cache.flush().await;
            }
        }
        cache.flush().await;
    }
    // Replace old files and add new ones while the new cache measures.
    let cache = TileCache::new(&cfg).unwrap();
    for i in (0..600).step_by(3) {
        cache.insert(key(i), tile(250, 2)).await;
        cache.insert(key(1000 + i), tile(50, 3)).await;
    }
    cache.flush().await;
    while !cache.stats().disk_scan_complete {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(cache.stats().disk_bytes, size_on_disk(dir.path()));
}
