//! WMS exceptions: `ServiceExceptionReport` documents (1.1.1 and 1.3.0),
//! and the `INIMAGE` / `BLANK` forms GetMap clients may ask for.

use super::params::Version;
use super::xml::escape;
use crate::api::ApiError;
use crate::catalog::CatalogError;
use crate::raster::RasterError;
use actix_web::HttpResponse;
use actix_web::http::StatusCode;

/// An OGC exception: a code from the WMS standard, a message, and the
/// parameter at fault.
#[derive(Debug, Clone)]
pub struct WmsError {
    /// HTTP status (4xx for the client's mistakes, 5xx for ours).
    pub status: StatusCode,
    /// OGC code (`LayerNotDefined`, …); `None` for failures of the server.
    pub code: Option<&'static str>,
    /// What is wrong, for a human.
    pub message: String,
    /// The parameter at fault (`locator` in 1.3.0).
    pub locator: Option<&'static str>,
    /// Seconds after which a retry may succeed.
    pub retry_after: Option<u64>,
}

/// A WMS result.
pub type WmsResult<T> = Result<T, WmsError>;

impl WmsError {
    /// A client error with an OGC code.
    pub fn new(code: &'static str, locator: &'static str, message: impl Into<String>) -> Self {
        WmsError {
            status: StatusCode::BAD_REQUEST,
            code: Some(code),
            message: message.into(),
            locator: Some(locator),
            retry_after: None,
        }
    }

    /// `InvalidParameterValue` on a parameter.
    pub fn invalid(locator: &'static str, message: impl Into<String>) -> Self {
        Self::new("InvalidParameterValue", locator, message)
    }

    /// `MissingParameterValue` for a required parameter.
    pub fn missing(locator: &'static str) -> Self {
        Self::new(
            "MissingParameterValue",
            locator,
            format!("the {locator} parameter is required"),
        )
    }

    /// The `ServiceExceptionReport` response of this error.
    pub fn report(&self, version: Version) -> HttpResponse {
        let mut attrs = String::new();
        if let Some(code) = self.code {
            attrs.push_str(&format!(" code=\"{code}\""));
        }
        if let (Some(locator), Version::V130) = (self.locator, version) {
            attrs.push_str(&format!(" locator=\"{locator}\""));
        }
        let body = match version {
            Version::V130 => format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
                 <ServiceExceptionReport version=\"1.3.0\" xmlns=\"http://www.opengis.net/ogc\" \
                 xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" \
                 xsi:schemaLocation=\"http://www.opengis.net/ogc http://schemas.opengis.net/wms/1.3.0/exceptions_1_3_0.xsd\">\n\
                 <ServiceException{attrs}>{}</ServiceException>\n</ServiceExceptionReport>\n",
                escape(&self.message)
            ),
            Version::V111 => format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n\
                 <!DOCTYPE ServiceExceptionReport SYSTEM \"http://schemas.opengis.net/wms/1.1.1/exception_1_1_1.dtd\">\n\
                 <ServiceExceptionReport version=\"1.1.1\">\n\
                 <ServiceException{attrs}>{}</ServiceException>\n</ServiceExceptionReport>\n",
                escape(&self.message)
            ),
        };
        let mut response = HttpResponse::build(self.status);
        response.content_type(version.exception_type());
        if let Some(s) = self.retry_after {
            response.insert_header(("Retry-After", s.to_string()));
        }
        response.body(body)
    }
}

impl From<ApiError> for WmsError {
    fn from(e: ApiError) -> Self {
        let code = match e.status.as_u16() {
            400 | 404 | 422 => Some("InvalidParameterValue"),
            _ => None,
        };
        WmsError {
            status: if e.status == StatusCode::NOT_FOUND {
                StatusCode::BAD_REQUEST
            } else {
                e.status
            },
            code,
            message: e.description,
            locator: None,
            retry_after: e.retry_after,
        }
    }
}

impl From<RasterError> for WmsError {
    fn from(e: RasterError) -> Self {
        ApiError::from(e).into()
    }
}

impl From<CatalogError> for WmsError {
    fn from(e: CatalogError) -> Self {
        ApiError::from(e).into()
    }
}

/// How GetMap reports errors (`EXCEPTIONS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExceptionMode {
    /// A `ServiceExceptionReport` document.
    #[default]
    Xml,
    /// An image of the requested size and format with the message drawn in it.
    InImage,
    /// An empty image (transparent, or the background colour).
    Blank,
}

impl ExceptionMode {
    /// Parses `EXCEPTIONS` (1.3.0 names and 1.1.1 media types, any case).
    pub fn parse(value: Option<&str>) -> WmsResult<ExceptionMode> {
        let Some(v) = value else {
            return Ok(ExceptionMode::Xml);
        };
        match v.trim().to_ascii_lowercase().as_str() {
            "" | "xml" | "application/vnd.ogc.se_xml" | "text/xml" => Ok(ExceptionMode::Xml),
            "inimage" | "application/vnd.ogc.se_inimage" => Ok(ExceptionMode::InImage),
            "blank" | "application/vnd.ogc.se_blank" => Ok(ExceptionMode::Blank),
            _ => Err(WmsError::invalid(
                "EXCEPTIONS",
                format!("EXCEPTIONS '{v}' is not XML, INIMAGE or BLANK"),
            )),
        }
    }
}
