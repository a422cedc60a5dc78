//! Query-string parsing with clear errors (repeated or unknown-shaped parameters).

use super::error::{ApiError, ApiResult};
use indexmap::IndexMap;
use stac::api::{GetItems, GetSearch};

/// Query parameters in order, each present once.
#[derive(Debug, Default, Clone)]
pub struct Params(pub IndexMap<String, String>);

impl Params {
    /// Parses a raw query string; a parameter given twice is an error. An
    /// `api_key` credential stays in, so that paging links carry it, but is
    /// never a search parameter (the authentication middleware reads it).
    pub fn parse(query: &str) -> ApiResult<Params> {
        let mut map = IndexMap::new();
        for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
            if map.insert(k.to_string(), v.to_string()).is_some() {
                return Err(ApiError::bad_request(format!(
                    "parameter '{k}' is given more than once; use one comma-separated value"
                )));
            }
        }
        Ok(Params(map))
    }

    /// Takes a parameter out.
    pub fn take(&mut self, key: &str) -> Option<String> {
        self.0.shift_remove(key)
    }

    /// Builds the `stac` crate's GET search parameters from what is left.
    pub fn into_get_search(mut self) -> GetSearch {
        self.take(super::auth::KEY_PARAM);
        let items = GetItems {
            limit: self.take("limit"),
            bbox: self.take("bbox"),
            datetime: self.take("datetime"),
            fields: self.take("fields"),
            sortby: self.take("sortby"),
            filter_crs: self.take("filter-crs"),
            filter_lang: self.take("filter-lang"),
            filter: self.take("filter"),
            additional_fields: IndexMap::new(),
        };
        let intersects = self.take("intersects");
        let ids = self.take("ids");
        let collections = self.take("collections");
        let mut items = items;
        items.additional_fields = self.0;
        GetSearch {
            items,
            intersects,
            ids,
            collections,
        }
    }

    /// The query string with `token` replaced.
    pub fn with_token(&self, token: &str) -> String {
        let mut out = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.0 {
            if k != "token" {
                out.append_pair(k, v);
            }
        }
        out.append_pair("token", token);
        out.finish()
    }
}
