//! Keyset paging tokens.
//!
//! A token carries the sort-key values of the last item of a page. The next
//! page starts strictly after them, so items inserted or deleted between two
//! requests never make a page repeat or skip an item that was there all along.

use super::error::{CatalogError, Result};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

/// A value of a sort key, as stores compare them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SortValue {
    /// SQL NULL (the property is missing).
    Null,
    /// Integers (and instants, in microseconds).
    Int(i64),
    /// Floating-point numbers.
    Real(f64),
    /// Text.
    Text(String),
}

/// Where a page stopped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cursor {
    /// The sort signature the token was made for (e.g. `-datetime,-collection,-id`).
    #[serde(rename = "s")]
    pub signature: String,
    /// One value per sort key.
    #[serde(rename = "v")]
    pub values: Vec<SortValue>,
    /// `numberMatched` of the first page, carried along so that later pages
    /// need not count again.
    #[serde(rename = "n", default, skip_serializing_if = "Option::is_none")]
    pub matched: Option<u64>,
}

impl Cursor {
    /// Encodes the cursor as an opaque URL-safe token.
    pub fn encode(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        URL_SAFE_NO_PAD.encode(json)
    }

    /// Decodes a token made by [`Cursor::encode`].
    pub fn decode(token: &str) -> Result<Cursor> {
        let bad = || CatalogError::query("token is not a paging token issued by this server");
        // Tokens are opaque, but some clients prefix them (stac-fastapi's "next:").
        let token = token.strip_prefix("next:").unwrap_or(token);
        let bytes = URL_SAFE_NO_PAD
            .decode(token.trim_end_matches('='))
            .map_err(|_| bad())?;
        serde_json::from_slice(&bytes).map_err(|_| bad())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let c = Cursor {
            signature: "-datetime,-collection,-id".into(),
            values: vec![
                SortValue::Int(1_600_000_000_000_000),
                SortValue::Text("s2".into()),
                SortValue::Null,
                SortValue::Real(1.5),
            ],
            matched: Some(42),
        };
        assert_eq!(Cursor::decode(&c.encode()).unwrap(), c);
        assert!(Cursor::decode("%%%").is_err());
        assert!(Cursor::decode("e30").is_err());
    }
}
