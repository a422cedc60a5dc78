//! A bounded pool of GDAL threads.
//!
//! GDAL calls block, and a `Dataset` is `Send` but not `Sync`: each thread owns
//! a [`Workspace`] (an LRU of open datasets and a cache of coordinate
//! transformations) and runs jobs from a bounded queue. A full queue answers
//! [`RasterError::Busy`] at once instead of piling up requests.

use super::error::{RasterError, Result};
use super::read::DatasetInfo;
use crossbeam_channel::{Receiver, Sender, TrySendError, bounded, select};
use gdal::spatial_ref::{AxisMappingStrategy, CoordTransform, SpatialRef};
use gdal::{Dataset, DatasetOptions, GdalOpenFlags};
use lru::LruCache;
use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::thread::JoinHandle;

/// An open dataset and what the engine needs to know of it.
pub struct OpenDataset {
    /// The GDAL dataset.
    pub dataset: Dataset,
    /// Size, georeferencing, bands, overviews.
    pub info: Arc<DatasetInfo>,
    version: Option<String>,
}

/// What the engine learnt of each dataset, shared by the GDAL threads, so
/// that reopening a dataset (evicted from a thread's LRU) skips reading its
/// CRS, masks and overviews again.
pub type InfoCache = moka::sync::Cache<(String, Option<String>), Arc<DatasetInfo>>;

/// What a GDAL thread keeps between jobs.
pub struct Workspace {
    datasets: LruCache<String, OpenDataset>,
    infos: InfoCache,
    transforms: HashMap<(String, String), CoordTransform>,
    memos: LruCache<String, Vec<(f64, f64)>>,
}

/// A spatial reference with the traditional GIS axis order (x = easting or
/// longitude), whatever the authority says.
pub fn spatial_ref(definition: &str) -> Result<SpatialRef> {
    let mut srs = SpatialRef::from_definition(definition)
        .map_err(|e| RasterError::BadAsset(format!("unknown CRS {definition}: {e}")))?;
    srs.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    Ok(srs)
}

impl Workspace {
    fn new(capacity: usize, infos: InfoCache) -> Workspace {
        Workspace {
            infos,
            datasets: LruCache::new(
                NonZeroUsize::new(capacity.max(1)).unwrap_or(NonZeroUsize::MIN),
            ),
            transforms: HashMap::new(),
            memos: LruCache::new(NonZeroUsize::new(1024).unwrap_or(NonZeroUsize::MIN)),
        }
    }

    /// A remembered result (e.g. the default rescale of an item).
    pub fn memo(&mut self, key: &str) -> Option<Vec<(f64, f64)>> {
        self.memos.get(key).cloned()
    }

    /// Remembers a result.
    pub fn remember(&mut self, key: String, value: Vec<(f64, f64)>) {
        self.memos.put(key, value);
    }

    /// Opens (or reuses) a dataset. `version` identifies the data behind the
    /// path (e.g. the item's last write): a different version reopens it.
    pub fn dataset(&mut self, path: &str, version: Option<&str>) -> Result<&OpenDataset> {
        let stale = self
            .datasets
            .peek(path)
            .is_some_and(|d| d.version.as_deref() != version);
        if stale {
            self.datasets.pop(path);
        }
        if !self.datasets.contains(path) {
            let dataset = Dataset::open_ex(
                path,
                DatasetOptions {
                    open_flags: GdalOpenFlags::GDAL_OF_RASTER | GdalOpenFlags::GDAL_OF_READONLY,
                    ..Default::default()
                },
            )
            .map_err(|e| RasterError::BadAsset(format!("cannot open the asset ({e})")))?;
            let key = (path.to_string(), version.map(str::to_string));
            let info = match self.infos.get(&key) {
                Some(info) => info,
                None => {
                    let info = Arc::new(DatasetInfo::read(&dataset)?);
                    self.infos.insert(key, info.clone());
                    info
                }
            };
            self.datasets.put(
                path.to_string(),
                OpenDataset {
                    dataset,
                    info,
                    version: version.map(str::to_string),
                },
            );
        }
        self.datasets
            .get(path)
            .ok_or_else(|| RasterError::Internal("dataset cache lost an entry".into()))
    }

    /// A cached transformation between two CRS definitions (WKT or `EPSG:n`).
    pub fn transform(&mut self, from: &str, to: &str) -> Result<&CoordTransform> {
        let key = (from.to_string(), to.to_string());
        if !self.transforms.contains_key(&key) {
            if self.transforms.len() > 256 {
                self.transforms.clear();
            }
            let t = CoordTransform::new(&spatial_ref(from)?, &spatial_ref(to)?).map_err(|e| {
                RasterError::BadAsset(format!("no transformation {from} → {to}: {e}"))
            })?;
            self.transforms.insert(key.clone(), t);
        }
        self.transforms
            .get(&key)
            .ok_or_else(|| RasterError::Internal("transform cache lost an entry".into()))
    }

    /// Both at once (the borrow checker cannot split the two caches through methods).
    pub fn dataset_and_transform(
        &mut self,
        path: &str,
        version: Option<&str>,
        target_crs: &str,
    ) -> Result<(&OpenDataset, &CoordTransform)> {
        let source_crs = self.dataset(path, version)?.info.crs.clone();
        self.transform(target_crs, &source_crs)?;
        let key = (target_crs.to_string(), source_crs);
        let t = self
            .transforms
            .get(&key)
            .ok_or_else(|| RasterError::Internal("transform cache lost an entry".into()))?;
        let d = self
            .datasets
            .peek(path)
            .ok_or_else(|| RasterError::Internal("dataset cache lost an entry".into()))?;
        Ok((d, t))
    }
}

type Job = Box<dyn FnOnce(&mut Workspace) + Send>;

/// The GDAL threads and their queues: one shared by all threads, and one
/// per thread for jobs routed to a given thread (so that a dataset read by
/// many jobs is opened in one thread only).
pub struct GdalPool {
    sender: Option<Sender<Job>>,
    routed: Vec<Sender<Job>>,
    threads: Vec<JoinHandle<()>>,
}

fn next_job(own: &Receiver<Job>, shared: &Receiver<Job>) -> Option<Job> {
    select! {
        recv(own) -> job => job.ok().or_else(|| shared.recv().ok()),
        recv(shared) -> job => job.ok().or_else(|| own.recv().ok()),
    }
}

/// Raises the soft limit of open files to the hard limit (open datasets
/// hold file descriptors).
fn raise_open_file_limit() {
    // SAFETY: getrlimit/setrlimit only read and write the struct passed.
    unsafe {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max
        {
            limit.rlim_cur = limit.rlim_max;
            let _ = libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

impl GdalPool {
    /// Starts `threads` GDAL threads, each caching up to `datasets` open datasets.
    pub fn start(threads: usize, queue: usize, datasets: usize) -> Result<GdalPool> {
        raise_open_file_limit();
        let (sender, receiver) = bounded::<Job>(queue.max(1));
        let infos: InfoCache = moka::sync::Cache::new(16_384);
        let mut handles = Vec::new();
        let mut routed = Vec::new();
        for n in 0..threads.max(1) {
            let receiver = receiver.clone();
            let (own_sender, own) = bounded::<Job>(queue.max(1));
            routed.push(own_sender);
            let infos = infos.clone();
            let handle = std::thread::Builder::new()
                .name(format!("gdal-{n}"))
                .spawn(move || {
                    let mut workspace = Workspace::new(datasets, infos.clone());
                    while let Some(job) = next_job(&own, &receiver) {
                        // A panicking job (a GDAL surprise) must not kill the thread.
                        if catch_unwind(AssertUnwindSafe(|| job(&mut workspace))).is_err() {
                            workspace = Workspace::new(datasets, infos.clone());
                        }
                    }
                })
                .map_err(|e| RasterError::Internal(format!("cannot start a GDAL thread: {e}")))?;
            handles.push(handle);
        }
        Ok(GdalPool {
            sender: Some(sender),
            routed,
            threads: handles,
        })
    }

    /// Runs `f` on the GDAL thread `route` designates (modulo the thread
    /// count): jobs with the same route share that thread's open datasets.
    pub async fn run_on<T: Send + 'static>(
        &self,
        route: u64,
        f: impl FnOnce(&mut Workspace) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let n = self.routed.len().max(1);
        let sender = self
            .routed
            .get((route % n as u64) as usize)
            .ok_or_else(|| RasterError::Internal("the raster engine is stopped".into()))?;
        submit(sender, f).await
    }

    /// Runs `f` on a GDAL thread.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Workspace) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let sender = self
            .sender
            .as_ref()
            .ok_or_else(|| RasterError::Internal("the raster engine is stopped".into()))?;
        submit(sender, f).await
    }
}

async fn submit<T: Send + 'static>(
    sender: &Sender<Job>,
    f: impl FnOnce(&mut Workspace) -> Result<T> + Send + 'static,
) -> Result<T> {
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |ws| {
            let _ = tx.send(f(ws));
        });
        match sender.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                return Err(RasterError::Busy(
                    "the raster engine is saturated; retry shortly".into(),
                ));
            }
            Err(TrySendError::Disconnected(_)) => {
                return Err(RasterError::Internal("the raster engine is stopped".into()));
            }
        }
        rx.await
            .map_err(|_| RasterError::Internal("a raster job failed unexpectedly".into()))?
    }
}

impl Drop for GdalPool {
    fn drop(&mut self) {
        self.sender.take();
        self.routed.clear();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}
