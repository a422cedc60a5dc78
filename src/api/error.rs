//! The API layer's error type: every failure becomes a status code and a JSON
//! body `{"code", "description"}`.

use crate::catalog::CatalogError;
use crate::raster::RasterError;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;
use std::fmt;

/// An HTTP error with a STAC-style JSON body.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Machine-readable code (`InvalidParameterValue`, `NotFound`, …).
    pub code: &'static str,
    /// What is wrong, for a human.
    pub description: String,
    /// Seconds after which a retry may succeed (503, 429).
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// A new error.
    pub fn new(status: StatusCode, code: &'static str, description: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            description: description.into(),
            retry_after: None,
        }
    }

    /// 400 InvalidParameterValue.
    pub fn bad_request(description: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "InvalidParameterValue",
            description,
        )
    }

    /// 404 NotFound.
    pub fn not_found(description: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NotFound", description)
    }

    /// 401 Unauthorized.
    pub fn unauthorized(description: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "Unauthorized", description)
    }

    /// 413 PayloadTooLarge.
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PayloadTooLarge",
            format!("the request body is larger than {limit} bytes"),
        )
    }

    /// 405 MethodNotAllowed.
    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "this method is not allowed on this resource",
        )
    }

    /// 500, for faults of the server itself.
    pub fn internal(description: impl Into<String>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "ServerError",
            description,
        )
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.description
        )
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        if self.status.is_server_error() {
            tracing::error!(
                status = self.status.as_u16(),
                code = self.code,
                "{}",
                self.description
            );
        }
        let mut builder = HttpResponse::build(self.status);
        if let Some(seconds) = self.retry_after {
            builder.insert_header(("Retry-After", seconds.to_string()));
        }
        builder.json(json!({"code": self.code, "description": self.description}))
    }
}

impl From<CatalogError> for ApiError {
    fn from(e: CatalogError) -> Self {
        let description = e.to_string();
        match e {
            CatalogError::InvalidQuery(_) => ApiError::bad_request(description),
            CatalogError::InvalidObject(_) => {
                ApiError::new(StatusCode::BAD_REQUEST, "InvalidObject", description)
            }
            CatalogError::CollectionNotFound(_) | CatalogError::ItemNotFound { .. } => {
                ApiError::not_found(description)
            }
            CatalogError::Conflict(_) => {
                ApiError::new(StatusCode::CONFLICT, "Conflict", description)
            }
            CatalogError::Unsupported(_) => {
                ApiError::new(StatusCode::BAD_REQUEST, "NotSupported", description)
            }
            CatalogError::Busy(_) | CatalogError::Timeout(_) | CatalogError::Unavailable(_) => {
                ApiError {
                    retry_after: Some(1),
                    ..ApiError::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "ServiceUnavailable",
                        description,
                    )
                }
            }
            CatalogError::Storage(_) | CatalogError::Io(_) => ApiError::internal(description),
        }
    }
}

impl From<RasterError> for ApiError {
    fn from(e: RasterError) -> Self {
        let description = e.to_string();
        match e {
            RasterError::InvalidParameter(_) => ApiError::bad_request(description),
            RasterError::NotFound(_) => ApiError::not_found(description),
            RasterError::Forbidden(_) => {
                ApiError::new(StatusCode::FORBIDDEN, "Forbidden", description)
            }
            RasterError::BadAsset(_) => {
                ApiError::new(StatusCode::BAD_GATEWAY, "AssetUnreadable", description)
            }
            RasterError::Busy(_) => ApiError {
                retry_after: Some(1),
                ..ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "ServiceUnavailable",
                    description,
                )
            },
            RasterError::Internal(_) => ApiError::internal(description),
        }
    }
}

/// Result type of handlers.
pub type ApiResult<T> = Result<T, ApiError>;
