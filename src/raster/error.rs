//! The raster layer's error type.

use thiserror::Error;

/// Everything that can go wrong between an href and a tile.
#[derive(Debug, Error)]
pub enum RasterError {
    /// A rendering parameter is malformed or contradicts the data.
    #[error("{0}")]
    InvalidParameter(String),
    /// The tile, zoom level or tile matrix set does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The asset href is not allowed (outside the configured roots, a host not
    /// in the allow-list, a path escaping with `..`).
    #[error("{0}")]
    Forbidden(String),
    /// The asset could not be read: missing file, broken or unsupported raster.
    #[error("{0}")]
    BadAsset(String),
    /// The GDAL pool is saturated; retry later.
    #[error("{0}")]
    Busy(String),
    /// A failure of the engine itself.
    #[error("{0}")]
    Internal(String),
}

/// Result type of the raster layer.
pub type Result<T, E = RasterError> = std::result::Result<T, E>;

impl RasterError {
    /// Shorthand for [`RasterError::InvalidParameter`].
    pub fn param(msg: impl Into<String>) -> Self {
        RasterError::InvalidParameter(msg.into())
    }
}

impl From<gdal::errors::GdalError> for RasterError {
    fn from(e: gdal::errors::GdalError) -> Self {
        RasterError::BadAsset(e.to_string())
    }
}
