//! The application-level error: what the command line reports before exiting.

use crate::catalog::CatalogError;
use crate::config::ConfigError;
use thiserror::Error;

/// Errors that end a command.
#[derive(Debug, Error)]
pub enum Error {
    /// Bad configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The store failed.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// The server could not listen.
    #[error("cannot listen on {0}: {1}")]
    Bind(String, std::io::Error),
    /// An ingest wrote nothing.
    #[error("ingest failed: {0}")]
    Ingest(String),
    /// Other I/O.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Result of a command.
pub type Result<T, E = Error> = std::result::Result<T, E>;
