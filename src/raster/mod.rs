//! The raster layer: everything from an asset href to an encoded RGBA tile.
//!
//! No HTTP types in here. The API layer resolves STAC items into
//! [`Source`]s (asset key → href), describes the wanted pixels with a
//! [`Target`] grid and a [`render::RenderParams`], and gets bytes back.
//!
//! GDAL calls block and a `Dataset` may not be shared between threads, so
//! every read runs on a bounded pool of GDAL threads ([`pool`]), each keeping
//! its own LRU of open datasets; a saturated pool answers
//! [`RasterError::Busy`] at once.

pub mod asset;
pub mod colormap;
pub mod crs;
pub mod encode;
pub mod engine;
pub mod error;
pub mod expr;
pub mod href;
pub mod legend;
pub mod pool;
pub mod read;
pub mod render;
pub mod tms;
pub mod warp;

pub use encode::{Format, Rgba};
pub use engine::{Engine, EngineOptions, Output};
pub use error::{RasterError, Result};
pub use render::{AssetSource, BandMeta, ItemSource, RenderParams};
pub use warp::{Grid, Resampling};
