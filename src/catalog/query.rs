//! Searches, checked and normalised once for every store.
//!
//! The API layer deserialises requests into the `stac` crate's API types
//! (`stac::api::Search`, `stac::api::GetSearch`); [`SearchQuery::from_search`]
//! turns one into a [`SearchQuery`] or a precise error saying what is wrong.

use super::datetime::Interval;
use super::error::{CatalogError, Result};
use super::geometry::{Bounds, Footprint};
use super::text::TextQuery;
use super::token::Cursor;
use serde_json::{Map, Value};
use stac::api::{Direction, Filter, GetSearch, Search};

/// Limits on what one request may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Page size when the request gives none.
    pub default_limit: usize,
    /// Largest page size; larger requests are clamped to it.
    pub max_limit: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            default_limit: 10,
            max_limit: 10_000,
        }
    }
}

/// The spatial part of a search.
#[derive(Debug, Clone)]
pub enum Spatial {
    /// `bbox`: one box, or two when it crosses the antimeridian.
    Boxes(Vec<Bounds>),
    /// `intersects`: any GeoJSON geometry.
    Geometry(Footprint),
}

impl Spatial {
    /// Boxes that bound the spatial filter, for index look-ups.
    pub fn envelopes(&self) -> Vec<Bounds> {
        match self {
            Spatial::Boxes(b) => b.clone(),
            Spatial::Geometry(fp) => vec![fp.bounds],
        }
    }
}

/// A field results can be sorted by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SortField {
    /// Item id.
    Id,
    /// Collection id.
    Collection,
    /// `datetime` (or `start_datetime` for items with a time span).
    Datetime,
    /// `start_datetime` (or `datetime`).
    Start,
    /// `end_datetime` (or `datetime`).
    End,
    /// Any other property, by name without the `properties.` prefix.
    Property(String),
}

impl SortField {
    /// Maps a `sortby` field name (with or without `properties.`) to a field.
    pub fn parse(name: &str) -> SortField {
        let bare = name.strip_prefix("properties.").unwrap_or(name);
        match bare {
            "id" => SortField::Id,
            "collection" => SortField::Collection,
            "datetime" => SortField::Datetime,
            "start_datetime" => SortField::Start,
            "end_datetime" => SortField::End,
            other => SortField::Property(other.to_string()),
        }
    }

    /// The canonical name, as it appears in tokens and queryables.
    pub fn name(&self) -> &str {
        match self {
            SortField::Id => "id",
            SortField::Collection => "collection",
            SortField::Datetime => "datetime",
            SortField::Start => "start_datetime",
            SortField::End => "end_datetime",
            SortField::Property(p) => p,
        }
    }
}

/// One sort key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortKey {
    /// What to sort by.
    pub field: SortField,
    /// Largest first when true.
    pub descending: bool,
}

/// The Fields extension's selection, keeping what `stac::api::Fields` cannot:
/// whether `include` was given at all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSelection {
    /// `None`: include absent (full item). `Some([])`: include given empty or
    /// null (the default field set). `Some(list)`: only those fields.
    pub include: Option<Vec<String>>,
    /// Fields to remove.
    pub exclude: Vec<String>,
}

impl FieldSelection {
    /// Parses the GET form: `+a,b,-c`; an empty value asks for the default set.
    pub fn parse(text: &str) -> FieldSelection {
        if text.trim().is_empty() {
            return FieldSelection {
                include: Some(Vec::new()),
                exclude: Vec::new(),
            };
        }
        let mut include = Vec::new();
        let mut exclude = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part.strip_prefix('-') {
                Some(f) => exclude.push(f.to_string()),
                None => include.push(part.trim_start_matches('+').to_string()),
            }
        }
        FieldSelection {
            include: (!include.is_empty()).then_some(include),
            exclude,
        }
    }

    /// Parses the JSON form: `{"include": [...], "exclude": [...]}` or a list of strings.
    pub fn from_json(v: &Value) -> Result<FieldSelection> {
        let strings = |v: &Value, what: &str| -> Result<Vec<String>> {
            match v {
                Value::Null => Ok(Vec::new()),
                Value::Array(items) => items
                    .iter()
                    .map(|i| {
                        i.as_str().map(str::to_string).ok_or_else(|| {
                            CatalogError::query(format!("fields.{what} must be a list of strings"))
                        })
                    })
                    .collect(),
                _ => Err(CatalogError::query(format!(
                    "fields.{what} must be a list of strings"
                ))),
            }
        };
        match v {
            Value::Object(map) => {
                if let Some(k) = map
                    .keys()
                    .find(|k| !matches!(k.as_str(), "include" | "exclude"))
                {
                    return Err(CatalogError::query(format!(
                        "fields: unknown member '{k}' (include, exclude)"
                    )));
                }
                // `include` given (even empty or null), or nothing given at all,
                // selects from the default set; `exclude` alone trims the full item.
                let include = if map.contains_key("include") || !map.contains_key("exclude") {
                    Some(strings(
                        map.get("include").unwrap_or(&Value::Null),
                        "include",
                    )?)
                } else {
                    None
                };
                Ok(FieldSelection {
                    include,
                    exclude: strings(map.get("exclude").unwrap_or(&Value::Null), "exclude")?,
                })
            }
            Value::Array(_) => Ok(Self::parse(&strings(v, "list")?.join(","))),
            Value::String(s) => Ok(Self::parse(s)),
            _ => Err(CatalogError::query(
                "fields must be an object {\"include\": [...], \"exclude\": [...]}",
            )),
        }
    }
}

/// A checked item search, store-independent.
#[derive(Debug, Clone)]
pub struct SearchQuery {
    /// Only items of these collections (empty: any).
    pub collections: Vec<String>,
    /// Only items with these ids (empty: any).
    pub ids: Vec<String>,
    /// Spatial filter.
    pub spatial: Option<Spatial>,
    /// Temporal filter, matched against each item's `[start, end]`.
    pub datetime: Option<Interval>,
    /// CQL2 filter (the Query extension is folded into it).
    pub filter: Option<cql2::Expr>,
    /// Free-text query.
    pub text: Option<TextQuery>,
    /// Sort keys as requested, without the implicit tie-breakers.
    pub sortby: Vec<SortKey>,
    /// Page size.
    pub limit: usize,
    /// Where the previous page stopped.
    pub cursor: Option<Cursor>,
    /// Fields extension: which members of the items to return (applied by
    /// the API when writing the response; stores ignore it).
    pub fields: Option<FieldSelection>,
}

impl SearchQuery {
    /// An empty search: every visible item, newest first.
    pub fn all(limit: usize) -> SearchQuery {
        SearchQuery {
            collections: Vec::new(),
            ids: Vec::new(),
            spatial: None,
            datetime: None,
            filter: None,
            text: None,
            sortby: Vec::new(),
            limit,
            cursor: None,
            fields: None,
        }
    }

    /// Checks a `POST /search` JSON body.
    ///
    /// `filter` and `filter-lang` are taken out before the rest is read as a
    /// `stac::api::Search`: its adjacently-tagged filter drops a filter sent
    /// without `filter-lang`, which the spec allows (cql2-json is the default).
    pub fn from_json_body(body: Value, limits: Limits) -> Result<SearchQuery> {
        let Value::Object(mut map) = body else {
            return Err(CatalogError::query("the search body must be a JSON object"));
        };
        let filter = take_filter(map.remove("filter"), map.remove("filter-lang"), "cql2-json")?;
        let fields = match map.remove("fields") {
            None => None,
            Some(Value::Null) => {
                return Err(CatalogError::query(
                    "fields must be an object {\"include\": [...], \"exclude\": [...]}, not null",
                ));
            }
            Some(v) => Some(FieldSelection::from_json(&v)?),
        };
        // Clients send a single collection or id as a string (or a comma-separated list).
        for key in ["collections", "ids"] {
            if let Some(Value::String(s)) = map.get(key) {
                let list = s
                    .split(',')
                    .map(|p| Value::String(p.trim().to_string()))
                    .collect();
                map.insert(key.into(), Value::Array(list));
            }
        }
        check_body_types(&mut map)?;
        let search: Search = serde_json::from_value(Value::Object(map))
            .map_err(|e| CatalogError::query(format!("invalid search body: {e}")))?;
        let mut query = Self::from_search(search, limits)?;
        query.filter = and(filter, query.filter.take());
        query.fields = fields;
        Ok(query)
    }

    /// Checks the parameters of `GET /search` (or an items listing).
    pub fn from_get(mut get: GetSearch, limits: Limits) -> Result<SearchQuery> {
        let filter = take_filter(
            get.items.filter.take().map(Value::String),
            get.items.filter_lang.take().map(Value::String),
            "cql2-text",
        )?;
        let fields = get.items.fields.take().map(|f| FieldSelection::parse(&f));
        let query_ext = get.items.additional_fields.shift_remove("query");
        let q = get.items.additional_fields.shift_remove("q");
        let mut search = Search::try_from(get).map_err(|e| CatalogError::query(get_error(e)))?;
        if let Some(query_ext) = query_ext {
            let parsed: Map<String, Value> = serde_json::from_str(&query_ext)
                .map_err(|e| CatalogError::query(format!("query must be a JSON object: {e}")))?;
            search.items.query = Some(parsed);
        }
        let text = match q {
            Some(q) => TextQuery::parse(&q)?,
            None => None,
        };
        let mut query = Self::from_search(search, limits)?;
        query.filter = and(filter, query.filter.take());
        query.text = text;
        query.fields = fields;
        Ok(query)
    }

    /// Checks a STAC API search and turns it into a query.
    pub fn from_search(search: Search, limits: Limits) -> Result<SearchQuery> {
        let Search {
            items,
            intersects,
            ids,
            collections,
        } = search;
        let mut extra = items.additional_fields;

        let limit = match items.limit {
            None => limits.default_limit,
            Some(0) => return Err(CatalogError::query("limit must be a positive integer")),
            Some(n) => (n as usize).min(limits.max_limit),
        };
        if let Some(limit) = extra.remove("limit") {
            // The stac types parse a numeric limit; anything left here was not one.
            return Err(CatalogError::query(format!(
                "limit must be a positive integer, got {limit}"
            )));
        }

        let spatial = match (items.bbox, intersects) {
            (Some(_), Some(_)) => {
                return Err(CatalogError::query(
                    "bbox and intersects cannot be used together",
                ));
            }
            (Some(bbox), None) => {
                let values: Vec<f64> = bbox.into();
                Some(Spatial::Boxes(
                    Bounds::from_stac_bbox_split(&values)
                        .map_err(|e| CatalogError::query(format!("bbox: {e}")))?,
                ))
            }
            (None, Some(geometry)) => {
                let json = serde_json::to_string(&geometry)
                    .map_err(|e| CatalogError::query(format!("intersects: {e}")))?;
                let fp = Footprint::from_geojson(&json)
                    .map_err(|e| CatalogError::query(format!("intersects: {e}")))?;
                Some(Spatial::Geometry(fp))
            }
            (None, None) => None,
        };

        let datetime = items.datetime.as_deref().map(Interval::parse).transpose()?;

        if let Some(crs) = items.filter_crs.as_deref()
            && !is_crs84(crs)
        {
            return Err(CatalogError::query(format!(
                "filter-crs '{crs}' is not supported; only http://www.opengis.net/def/crs/OGC/1.3/CRS84"
            )));
        }
        let mut filter = match items.filter {
            None => None,
            Some(f) => Some(parse_filter(f)?),
        };
        if let Some(query) = items.query {
            let from_query = query_to_cql2(&query)?;
            filter = Some(match filter {
                None => from_query,
                Some(f) => cql2::Expr::Operation {
                    op: "and".into(),
                    args: vec![Box::new(f), Box::new(from_query)],
                },
            });
        }

        let text = match extra.remove("q") {
            None => None,
            Some(q) => TextQuery::from_json(&q)?,
        };

        let sortby = items
            .sortby
            .into_iter()
            .map(|s| {
                let name = s.field.trim();
                if name.is_empty() {
                    return Err(CatalogError::query("sortby: empty field name"));
                }
                Ok(SortKey {
                    field: SortField::parse(name),
                    descending: matches!(s.direction, Direction::Descending),
                })
            })
            .collect::<Result<Vec<_>>>()?;

        let cursor = match extra.remove("token") {
            None | Some(Value::Null) => None,
            Some(Value::String(t)) if t.is_empty() => None,
            Some(Value::String(t)) => Some(Cursor::decode(&t)?),
            Some(other) => {
                return Err(CatalogError::query(format!(
                    "token must be a string, got {other}"
                )));
            }
        };

        for (what, list) in [("collections", &collections), ("ids", &ids)] {
            if list.iter().any(|s| s.is_empty()) {
                return Err(CatalogError::query(format!("{what}: empty value")));
            }
        }

        Ok(SearchQuery {
            collections,
            ids,
            spatial,
            datetime,
            filter,
            text,
            sortby,
            limit,
            cursor,
            fields: items.fields.map(|f| FieldSelection {
                include: (!f.include.is_empty()).then_some(f.include),
                exclude: f.exclude,
            }),
        })
    }

    /// The sort keys to apply: the requested ones, or newest first, followed
    /// by collection and id so the order is total (keyset paging needs it).
    pub fn effective_sort(&self) -> Vec<SortKey> {
        let mut keys = if self.sortby.is_empty() {
            vec![SortKey {
                field: SortField::Datetime,
                descending: true,
            }]
        } else {
            self.sortby.clone()
        };
        let tie_descending = keys.last().is_some_and(|k| k.descending);
        for field in [SortField::Collection, SortField::Id] {
            if !keys.iter().any(|k| k.field == field) {
                keys.push(SortKey {
                    field,
                    descending: tie_descending,
                });
            }
        }
        // Once the id is reached the order is total; later keys are dead weight
        // (unless the collection has not been seen yet).
        if let Some(pos) = keys.iter().position(|k| k.field == SortField::Id)
            && keys[..pos].iter().any(|k| k.field == SortField::Collection)
        {
            keys.truncate(pos + 1);
        }
        keys
    }
}

/// Checks the members of a search body the `stac` types would reject with a
/// message that does not name them; normalises `sortby` given as a string.
fn check_body_types(map: &mut Map<String, Value>) -> Result<()> {
    let expect = |key: &str, ok: bool, what: &str| -> Result<()> {
        if ok {
            Ok(())
        } else {
            Err(CatalogError::query(format!("{key} must be {what}")))
        }
    };
    let strings = |v: &Value| v.as_array().is_some_and(|a| a.iter().all(Value::is_string));
    for (key, value) in map.iter() {
        match key.as_str() {
            "limit" => expect(
                key,
                value.as_u64().is_some_and(|n| n > 0) || value.is_null(),
                "a positive integer",
            )?,
            "bbox" => expect(
                key,
                value
                    .as_array()
                    .is_some_and(|a| a.iter().all(Value::is_number)),
                "an array of 4 or 6 numbers",
            )?,
            "datetime" | "token" => expect(key, value.is_string() || value.is_null(), "a string")?,
            "collections" | "ids" => expect(
                key,
                strings(value) || value.is_null(),
                "an array of strings",
            )?,
            "intersects" => expect(
                key,
                value.is_object() || value.is_null(),
                "a GeoJSON geometry object",
            )?,
            "query" => expect(
                key,
                value.is_object() || value.is_null(),
                "an object of property: {operator: value}",
            )?,
            "sortby" => expect(
                key,
                value.is_null()
                    || value.is_string()
                    || value.as_array().is_some_and(|a| {
                        a.iter()
                            .all(|s| s.get("field").is_some_and(Value::is_string))
                    }),
                "an array of {\"field\": ..., \"direction\": \"asc\"|\"desc\"}",
            )?,
            _ => {}
        }
    }
    if let Some(Value::String(s)) = map.get("sortby") {
        let list: Vec<Value> = s
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| match p.strip_prefix('-') {
                Some(f) => serde_json::json!({"field": f, "direction": "desc"}),
                None => serde_json::json!({"field": p.trim_start_matches('+'), "direction": "asc"}),
            })
            .collect();
        map.insert("sortby".into(), Value::Array(list));
    }
    Ok(())
}

/// Both filters, when both are present.
fn and(a: Option<cql2::Expr>, b: Option<cql2::Expr>) -> Option<cql2::Expr> {
    match (a, b) {
        (Some(a), Some(b)) => Some(cql2::Expr::Operation {
            op: "and".into(),
            args: vec![Box::new(a), Box::new(b)],
        }),
        (a, b) => a.or(b),
    }
}

/// Reads `filter` by its `filter-lang` (or the default language).
fn take_filter(
    filter: Option<Value>,
    lang: Option<Value>,
    default: &str,
) -> Result<Option<cql2::Expr>> {
    let lang = match &lang {
        // Without filter-lang, a string can only be CQL2 text.
        None | Some(Value::Null) if matches!(filter, Some(Value::String(_))) => "cql2-text",
        None | Some(Value::Null) => default,
        Some(Value::String(l)) => l.as_str(),
        Some(other) => {
            return Err(CatalogError::query(format!(
                "filter-lang must be a string, got {other}"
            )));
        }
    };
    if !matches!(lang, "cql2-text" | "cql2-json") {
        return Err(CatalogError::query(format!(
            "filter-lang '{lang}' is not supported; use cql2-text or cql2-json"
        )));
    }
    let Some(filter) = filter else {
        return Ok(None);
    };
    let expr = match (lang, filter) {
        (_, Value::Null) => return Ok(None),
        ("cql2-json", Value::Object(map)) => parse_filter(Filter::Cql2Json(map))?,
        ("cql2-json", Value::String(text)) => {
            // A GET filter in cql2-json arrives as a JSON string.
            match serde_json::from_str::<Value>(&text) {
                Ok(Value::Object(map)) => parse_filter(Filter::Cql2Json(map))?,
                _ => {
                    return Err(CatalogError::query(
                        "filter: filter-lang is cql2-json but the filter is not a JSON object",
                    ));
                }
            }
        }
        ("cql2-text", Value::String(text)) => parse_filter(Filter::Cql2Text(text))?,
        (lang, other) => {
            return Err(CatalogError::query(format!(
                "filter: a {lang} filter cannot be {}",
                match other {
                    Value::Object(_) => "an object (use filter-lang cql2-json)",
                    Value::String(_) => "a string",
                    _ => "a number, boolean or array",
                }
            )));
        }
    };
    Ok(Some(expr))
}

/// Rephrases the stac crate's GET conversion errors.
fn get_error(e: stac::Error) -> String {
    let text = e.to_string();
    if text.contains("bbox") || text.contains("float") {
        format!("bbox must be 4 or 6 comma-separated numbers ({text})")
    } else if text.contains("integer") || text.contains("digit") {
        format!("limit must be a positive integer ({text})")
    } else if text.contains("intersects") || text.contains("expected") {
        format!("intersects must be a GeoJSON geometry ({text})")
    } else {
        text
    }
}

/// True for the URIs of OGC CRS84.
fn is_crs84(crs: &str) -> bool {
    matches!(
        crs,
        "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
            | "https://www.opengis.net/def/crs/OGC/1.3/CRS84"
            | "CRS84"
    )
}

/// Parses a CQL2 filter in either encoding.
pub fn parse_filter(filter: Filter) -> Result<cql2::Expr> {
    let expr = match filter {
        Filter::Cql2Text(text) => {
            if text.trim().is_empty() {
                return Err(CatalogError::query("filter: empty CQL2 text"));
            }
            cql2::parse_text(&text)
                .map_err(|e| CatalogError::query(format!("filter: invalid CQL2 text: {e}")))?
        }
        Filter::Cql2Json(map) => serde_json::from_value::<cql2::Expr>(Value::Object(map))
            .map_err(|e| CatalogError::query(format!("filter: invalid CQL2 JSON: {e}")))?,
    };
    Ok(expr)
}

/// Converts the Query extension's object into the equivalent CQL2 expression.
pub fn query_to_cql2(query: &Map<String, Value>) -> Result<cql2::Expr> {
    use cql2::Expr;
    let literal = |v: &Value| -> Result<Expr> {
        Ok(match v {
            Value::Number(n) => Expr::Float(n.as_f64().unwrap_or(f64::NAN)),
            Value::String(s) => Expr::Literal(s.clone()),
            Value::Bool(b) => Expr::Bool(*b),
            Value::Null => Expr::Null,
            other => {
                return Err(CatalogError::query(format!(
                    "query: {other} is not a string, number or boolean"
                )));
            }
        })
    };
    let op = |name: &str, args: Vec<Expr>| Expr::Operation {
        op: name.to_string(),
        args: args.into_iter().map(Box::new).collect(),
    };
    let like_escape = |s: &str| {
        s.replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    };
    let mut terms = Vec::new();
    for (property, conditions) in query {
        let Value::Object(conditions) = conditions else {
            return Err(CatalogError::query(format!(
                "query.{property} must be an object of operators, e.g. {{\"lt\": 10}}"
            )));
        };
        if conditions.is_empty() {
            return Err(CatalogError::query(format!(
                "query.{property} has no operator"
            )));
        }
        let prop = || Expr::Property {
            property: property.clone(),
        };
        for (operator, value) in conditions {
            let term = match operator.as_str() {
                "eq" => op("=", vec![prop(), literal(value)?]),
                "neq" => op("<>", vec![prop(), literal(value)?]),
                "lt" => op("<", vec![prop(), literal(value)?]),
                "lte" => op("<=", vec![prop(), literal(value)?]),
                "gt" => op(">", vec![prop(), literal(value)?]),
                "gte" => op(">=", vec![prop(), literal(value)?]),
                "startsWith" | "endsWith" | "contains" => {
                    let Value::String(s) = value else {
                        return Err(CatalogError::query(format!(
                            "query.{property}.{operator} needs a string"
                        )));
                    };
                    let s = like_escape(s);
                    let pattern = match operator.as_str() {
                        "startsWith" => format!("{s}%"),
                        "endsWith" => format!("%{s}"),
                        _ => format!("%{s}%"),
                    };
                    op("like", vec![prop(), Expr::Literal(pattern)])
                }
                "in" => {
                    let Value::Array(values) = value else {
                        return Err(CatalogError::query(format!(
                            "query.{property}.in needs an array"
                        )));
                    };
                    let list = values.iter().map(literal).collect::<Result<Vec<_>>>()?;
                    op(
                        "in",
                        vec![
                            prop(),
                            Expr::Array(list.into_iter().map(Box::new).collect()),
                        ],
                    )
                }
                other => {
                    return Err(CatalogError::query(format!(
                        "query.{property}: unknown operator '{other}' (eq, neq, lt, lte, gt, gte, startsWith, endsWith, contains, in)"
                    )));
                }
            };
            terms.push(term);
        }
    }
    Ok(match terms.len() {
        0 => Expr::Bool(true),
        1 => terms.remove(0),
        _ => op("and", terms),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn search(v: Value) -> Result<SearchQuery> {
        SearchQuery::from_json_body(v, Limits::default())
    }

    #[test]
    fn limits() {
        assert_eq!(search(json!({})).unwrap().limit, 10);
        assert_eq!(search(json!({"limit": 1_000_000})).unwrap().limit, 10_000);
        assert!(search(json!({"limit": 0})).is_err());
    }

    #[test]
    fn filter_without_lang_is_cql2_json() {
        let q =
            search(json!({"filter": {"op": "<", "args": [{"property": "eo:cloud_cover"}, 10]}}))
                .unwrap();
        assert!(q.filter.is_some());
        let q =
            search(json!({"filter-lang": "cql2-text", "filter": "eo:cloud_cover < 10"})).unwrap();
        assert!(q.filter.is_some());
        assert!(search(json!({"filter-lang": "cql2-text", "filter": "eo:cloud_cover <"})).is_err());
    }

    #[test]
    fn query_extension() {
        let q = search(json!({"query": {"eo:cloud_cover": {"lt": 10, "gte": 1}, "platform": {"in": ["a", "b"]}}}))
            .unwrap();
        let text = q.filter.unwrap().to_text().unwrap();
        assert!(text.contains("eo:cloud_cover"), "{text}");
        assert!(search(json!({"query": {"x": {"near": 1}}})).is_err());
    }

    #[test]
    fn field_selections() {
        let f = |v: Value| search(json!({"fields": v})).unwrap().fields.unwrap();
        assert_eq!(f(json!({})).include, Some(vec![]));
        assert_eq!(
            f(json!({"include": null, "exclude": null})).include,
            Some(vec![])
        );
        assert_eq!(f(json!({"exclude": ["geometry"]})).include, None);
        assert_eq!(
            f(json!({"exclude": ["geometry"], "include": []})).include,
            Some(vec![])
        );
        assert_eq!(
            f(json!({"include": ["id"]})).include,
            Some(vec!["id".to_string()])
        );
        assert!(search(json!({"fields": null})).is_err());
        assert_eq!(FieldSelection::parse("").include, Some(vec![]));
        assert_eq!(FieldSelection::parse("-geometry").include, None);
        assert_eq!(
            FieldSelection::parse("+geometry,-geometry").include,
            Some(vec!["geometry".to_string()])
        );
    }

    #[test]
    fn collections_as_a_string() {
        let q = search(json!({"collections": "a,b", "ids": "x"})).unwrap();
        assert_eq!(q.collections, vec!["a", "b"]);
        assert_eq!(q.ids, vec!["x"]);
    }

    #[test]
    fn sort_tiebreakers() {
        let q =
            search(json!({"sortby": [{"field": "properties.eo:cloud_cover", "direction": "asc"}]}))
                .unwrap();
        let keys = q.effective_sort();
        assert_eq!(keys.len(), 3);
        assert_eq!(keys[0].field, SortField::Property("eo:cloud_cover".into()));
        assert!(!keys[2].descending);
        let keys = search(json!({})).unwrap().effective_sort();
        assert!(keys.iter().all(|k| k.descending));
    }

    #[test]
    fn bad_bbox_and_both_spatial() {
        assert!(search(json!({"bbox": [1, 2, 0, 1]})).is_err());
        assert!(search(json!({"bbox": [0, 0, 1, 1], "intersects": {"type": "Point", "coordinates": [0, 0]}})).is_err());
    }
}
