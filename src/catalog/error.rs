//! The catalogue layer's error type.

use thiserror::Error;

/// Everything that can go wrong in the catalogue layer.
///
/// Variants are grouped by who is at fault so the API layer can map them to
/// status codes without string matching: the caller's input (`Invalid*`,
/// `NotFound`, `Conflict`, `Unsupported`), the service's load (`Busy`,
/// `Timeout`, `Unavailable`) or the store itself (`Storage`, `Io`).
#[derive(Debug, Error)]
pub enum CatalogError {
    /// A search or listing parameter is malformed or out of range.
    #[error("{0}")]
    InvalidQuery(String),
    /// A STAC object offered for writing is not valid.
    #[error("{0}")]
    InvalidObject(String),
    /// The requested collection does not exist (or is not visible to the caller).
    #[error("collection '{0}' not found")]
    CollectionNotFound(String),
    /// The requested item does not exist (or is not visible to the caller).
    #[error("item '{item}' not found in collection '{collection}'")]
    ItemNotFound {
        /// Collection id.
        collection: String,
        /// Item id.
        item: String,
    },
    /// A write conflicts with existing data (e.g. creating an item that exists).
    #[error("{0}")]
    Conflict(String),
    /// The request is well-formed but asks for something this store cannot do.
    #[error("{0}")]
    Unsupported(String),
    /// The store is saturated; the caller may retry later.
    #[error("{0}")]
    Busy(String),
    /// A query ran past its time budget and was interrupted.
    #[error(
        "the query took longer than {0} ms and was stopped; narrow it (bbox, datetime, collections) or retry"
    )]
    Timeout(u64),
    /// The database cannot be reached (down, restarting, no connection to
    /// be had); the caller may retry later.
    #[error("{0}")]
    Unavailable(String),
    /// The underlying database failed.
    #[error("storage error: {0}")]
    Storage(String),
    /// Reading or writing a file failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Result type of the catalogue layer.
pub type Result<T, E = CatalogError> = std::result::Result<T, E>;

impl CatalogError {
    /// Shorthand for [`CatalogError::InvalidQuery`].
    pub fn query(msg: impl Into<String>) -> Self {
        CatalogError::InvalidQuery(msg.into())
    }

    /// Shorthand for [`CatalogError::InvalidObject`].
    pub fn object(msg: impl Into<String>) -> Self {
        CatalogError::InvalidObject(msg.into())
    }
}
