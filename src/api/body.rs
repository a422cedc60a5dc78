//! Request bodies: read with a size limit, parsed with clear errors.

use super::error::{ApiError, ApiResult};
use actix_web::web;
use futures_util::StreamExt;
use serde_json::Value;

/// Reads the whole body, failing with 413 past `limit` bytes.
pub async fn read(mut payload: web::Payload, limit: usize) -> ApiResult<web::BytesMut> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk
            .map_err(|e| ApiError::bad_request(format!("cannot read the request body: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::too_large(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Reads and parses a JSON body.
pub async fn json(payload: web::Payload, limit: usize) -> ApiResult<Value> {
    let bytes = read(payload, limit).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            "the request body is empty; a JSON object is expected",
        ));
    }
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("the request body is not valid JSON: {e}")))
}
