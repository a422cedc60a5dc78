//! Items as the catalogue writes them: parsed once, checked, normalised.
//!
//! Ingest must sustain tens of thousands of items per second on two cores, so an
//! item is not turned into a tree of `serde_json::Value`s. Its top-level members
//! are borrowed as raw JSON slices; only the members the catalogue needs
//! (id, geometry, the temporal properties, asset and link hrefs) are parsed, and
//! the stored document is reassembled from the original slices.

use super::datetime::{Micros, parse_item_datetime};
use super::error::{CatalogError, Result};
use super::geometry::{Bounds, Footprint};
use super::href::{Base, is_absolute};
use serde::Deserialize;
use serde::de::{self, MapAccess, Visitor};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

/// Link relations the server generates itself; stored items never keep them.
pub const GENERATED_RELS: &[&str] = &["self", "root", "parent", "collection", "items"];

/// The JSON type of a property value, as recorded for queryables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum JsonType {
    /// `null`
    Null,
    /// `true`/`false`
    Boolean,
    /// Any number.
    Number,
    /// A string.
    String,
    /// An array.
    Array,
    /// An object.
    Object,
}

impl JsonType {
    /// Every type.
    pub const ALL: [JsonType; 6] = [
        JsonType::Null,
        JsonType::Boolean,
        JsonType::Number,
        JsonType::String,
        JsonType::Array,
        JsonType::Object,
    ];

    /// The JSON Schema name of the type.
    pub fn as_str(self) -> &'static str {
        match self {
            JsonType::Null => "null",
            JsonType::Boolean => "boolean",
            JsonType::Number => "number",
            JsonType::String => "string",
            JsonType::Array => "array",
            JsonType::Object => "object",
        }
    }

    /// Reads the type from a JSON text's first byte.
    pub fn of_raw(raw: &RawValue) -> JsonType {
        match raw.get().as_bytes().first() {
            Some(b'"') => JsonType::String,
            Some(b'{') => JsonType::Object,
            Some(b'[') => JsonType::Array,
            Some(b't' | b'f') => JsonType::Boolean,
            Some(b'n') | None => JsonType::Null,
            _ => JsonType::Number,
        }
    }

    /// Parses a JSON Schema type name.
    pub fn from_name(name: &str) -> Option<JsonType> {
        Some(match name {
            "null" => JsonType::Null,
            "boolean" => JsonType::Boolean,
            "number" | "integer" => JsonType::Number,
            "string" => JsonType::String,
            "array" => JsonType::Array,
            "object" => JsonType::Object,
            _ => return None,
        })
    }
}

/// A checked, normalised item ready to be written by any store.
#[derive(Debug, Clone)]
pub struct ItemDoc {
    /// Collection id.
    pub collection: String,
    /// Item id.
    pub id: String,
    /// The instant used for sorting: `datetime`, else `start_datetime`.
    pub datetime: Micros,
    /// Start of the item's time span (`start_datetime`, else `datetime`).
    pub start: Micros,
    /// End of the item's time span (`end_datetime`, else `datetime`).
    pub end: Micros,
    /// The footprint, `None` for items with a null geometry.
    pub footprint: Option<Footprint>,
    /// The `properties` object, as JSON text.
    pub properties: String,
    /// The item without `properties` and `links`, as a JSON object text.
    pub doc: String,
    /// The links the server does not generate (license, via, …), as a JSON array text.
    pub links: String,
    /// Title, description and keywords, for free-text search (empty when none).
    pub text: String,
    /// Every property name with the type of its value.
    pub property_types: Vec<(String, JsonType)>,
    /// `eo:cloud_cover`, when a number: the most used filter and sort of
    /// optical imagery, which stores may keep in a column of its own.
    pub cloud_cover: Option<f64>,
    /// A store-specific encoding of `doc`, prepared off the writer thread by
    /// [`crate::catalog::Catalog::prepare_items`].
    pub packed: Option<Vec<u8>>,
}

/// Where an item comes from: decides how relative hrefs resolve and which
/// collection an item without one belongs to.
#[derive(Debug, Clone, Default)]
pub struct ItemContext {
    /// Base for relative asset and link hrefs.
    pub base: Option<Base>,
    /// Collection to use when the item names none.
    pub default_collection: Option<String>,
    /// Collection to force on every item (overrides the item's own).
    pub force_collection: Option<String>,
}

/// Top-level members of a JSON object, borrowed from the input in their order.
struct Members<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de: 'a, 'a> Deserialize<'de> for Members<'a> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                let mut out = Vec::with_capacity(map.size_hint().unwrap_or(12));
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    let value: &'de RawValue = map.next_value()?;
                    if out.iter().any(|(k, _): &(Cow<str>, &RawValue)| *k == key) {
                        return Err(de::Error::custom(format!("duplicate member '{key}'")));
                    }
                    out.push((key, value));
                }
                Ok(Members(out))
            }
        }
        d.deserialize_map(V)
    }
}

impl<'a> Members<'a> {
    fn get(&self, key: &str) -> Option<&'a RawValue> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
    }
}

/// A JSON value that may be a string; anything else is reported by type.
fn as_str<'a>(raw: &'a RawValue, what: &str) -> Result<Cow<'a, str>> {
    serde_json::from_str::<Cow<'a, str>>(raw.get())
        .map_err(|_| CatalogError::object(format!("{what} must be a string")))
}

fn is_null(raw: &RawValue) -> bool {
    raw.get() == "null"
}

/// Checks an identifier used in URLs (item and collection ids).
pub fn check_id(id: &str, what: &str) -> Result<()> {
    if id.is_empty() {
        return Err(CatalogError::object(format!("{what} is empty")));
    }
    if id.len() > 1024 {
        return Err(CatalogError::object(format!(
            "{what} is longer than 1024 bytes"
        )));
    }
    if id.chars().any(|c| c.is_control() || c == '/') {
        return Err(CatalogError::object(format!(
            "{what} '{}' contains '/' or a control character",
            id.escape_debug()
        )));
    }
    Ok(())
}

/// What the catalogue reads from `properties`, gathered in one pass: the
/// temporal and text-search members, and every member's name and type.
#[derive(Default)]
struct PropertiesScan<'a> {
    datetime: Option<Cow<'a, str>>,
    start_datetime: Option<Cow<'a, str>>,
    end_datetime: Option<Cow<'a, str>>,
    title: Option<Cow<'a, str>>,
    description: Option<Cow<'a, str>>,
    keywords: Vec<String>,
    cloud_cover: Option<f64>,
    types: Vec<(String, JsonType)>,
}

impl<'de: 'a, 'a> Deserialize<'de> for PropertiesScan<'a> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = PropertiesScan<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                let mut scan = PropertiesScan::default();
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    let kind = match key.as_ref() {
                        "datetime" | "start_datetime" | "end_datetime" | "title"
                        | "description" => {
                            let value: Option<Cow<'de, str>> = map.next_value().map_err(|_| {
                                de::Error::custom(format!(
                                    "properties.{key} must be a string or null"
                                ))
                            })?;
                            let kind = if value.is_some() {
                                JsonType::String
                            } else {
                                JsonType::Null
                            };
                            match key.as_ref() {
                                "datetime" => scan.datetime = value,
                                "start_datetime" => scan.start_datetime = value,
                                "end_datetime" => scan.end_datetime = value,
                                "title" => scan.title = value,
                                _ => scan.description = value,
                            }
                            kind
                        }
                        "eo:cloud_cover" => {
                            let raw: &'de RawValue = map.next_value()?;
                            let kind = JsonType::of_raw(raw);
                            if kind == JsonType::Number {
                                scan.cloud_cover = raw.get().parse().ok();
                            }
                            kind
                        }
                        "keywords" => {
                            let value: Option<Vec<String>> = map.next_value().map_err(|_| {
                                de::Error::custom("properties.keywords must be an array of strings")
                            })?;
                            let kind = if value.is_some() {
                                JsonType::Array
                            } else {
                                JsonType::Null
                            };
                            scan.keywords = value.unwrap_or_default();
                            kind
                        }
                        _ => JsonType::of_raw(map.next_value::<&'de RawValue>()?),
                    };
                    scan.types.push((key.into_owned(), kind));
                }
                Ok(scan)
            }
        }
        d.deserialize_map(V)
    }
}

fn property_time(value: &Option<Cow<str>>, name: &str) -> Result<Option<Micros>> {
    match value {
        None => Ok(None),
        Some(s) => parse_item_datetime(s).map(Some).ok_or_else(|| {
            CatalogError::object(format!(
                "properties.{name} '{s}' is not an RFC 3339 date-time with a time zone"
            ))
        }),
    }
}

/// Parses, checks and normalises one item from its JSON text.
pub fn parse_item(json: &str, ctx: &ItemContext) -> Result<ItemDoc> {
    let members: Members = serde_json::from_str(json)
        .map_err(|e| CatalogError::object(format!("not a JSON object: {e}")))?;
    let required = |key: &str| {
        members
            .get(key)
            .ok_or_else(|| CatalogError::object(format!("missing required member '{key}'")))
    };

    let kind = as_str(required("type")?, "type")?;
    if kind != "Feature" {
        return Err(CatalogError::object(format!(
            "type is '{kind}', an item must be a 'Feature'"
        )));
    }
    as_str(required("stac_version")?, "stac_version")?;
    let id = as_str(required("id")?, "id")?.into_owned();
    check_id(&id, "id")?;

    let own_collection = match members.get("collection") {
        Some(raw) if !is_null(raw) => Some(as_str(raw, "collection")?.into_owned()),
        _ => None,
    };
    let collection = ctx
        .force_collection
        .clone()
        .or(own_collection)
        .or_else(|| ctx.default_collection.clone())
        .ok_or_else(|| CatalogError::object("the item names no collection"))?;
    check_id(&collection, "collection")?;

    // Geometry and bbox.
    let geometry_raw = required("geometry")?;
    let footprint = if is_null(geometry_raw) {
        None
    } else {
        Some(Footprint::from_geojson(geometry_raw.get())?)
    };
    let bbox_raw = members.get("bbox").filter(|raw| !is_null(raw));
    if let Some(raw) = bbox_raw {
        let bbox: Vec<f64> = serde_json::from_str(raw.get())
            .map_err(|_| CatalogError::object("bbox must be an array of numbers"))?;
        Bounds::from_stac_bbox(&bbox).map_err(|e| CatalogError::object(format!("bbox: {e}")))?;
    }

    // Properties.
    let properties_raw = required("properties")?;
    if !properties_raw.get().starts_with('{') {
        return Err(CatalogError::object("properties must be a JSON object"));
    }
    let known: PropertiesScan = serde_json::from_str(properties_raw.get())
        .map_err(|e| CatalogError::object(format!("properties: {e}")))?;
    let datetime = property_time(&known.datetime, "datetime")?;
    let start = property_time(&known.start_datetime, "start_datetime")?;
    let end = property_time(&known.end_datetime, "end_datetime")?;
    let (datetime, start, end) = match (datetime, start, end) {
        (_, Some(s), Some(e)) if s > e => {
            return Err(CatalogError::object(
                "properties.start_datetime is after properties.end_datetime",
            ));
        }
        (Some(t), s, e) => (t, s.unwrap_or(t), e.unwrap_or(t)),
        (None, Some(s), Some(e)) => (s, s, e),
        (None, _, _) => {
            return Err(CatalogError::object(
                "properties.datetime is null or missing, so start_datetime and end_datetime are required",
            ));
        }
    };
    let property_types = known.types;
    let mut text = String::new();
    for part in [known.title.as_deref(), known.description.as_deref()]
        .into_iter()
        .flatten()
    {
        text.push_str(part);
        text.push('\n');
    }
    for keyword in &known.keywords {
        text.push_str(keyword);
        text.push('\n');
    }

    // Links and assets.
    let links = match members.get("links") {
        None => String::from("[]"),
        Some(raw) => kept_links(raw, ctx.base.as_ref())?,
    };
    let assets_raw = required("assets")?;
    let assets = resolved_assets(assets_raw, ctx.base.as_ref())?;

    // Reassemble: original member order, without properties and links (stores
    // keep those apart), with the collection set and a bbox computed when the
    // item had none.
    let mut doc = String::with_capacity(json.len());
    doc.push('{');
    let mut first = true;
    let mut push = |doc: &mut String, key: &str, value: &str| {
        if !first {
            doc.push(',');
        }
        first = false;
        doc.push_str(&serde_json::to_string(key).unwrap_or_default());
        doc.push(':');
        doc.push_str(value);
    };
    let collection_json = serde_json::to_string(&collection).unwrap_or_default();
    let mut wrote_collection = false;
    for (key, raw) in &members.0 {
        match key.as_ref() {
            "links" | "properties" => {}
            "collection" => {
                push(&mut doc, key, &collection_json);
                wrote_collection = true;
            }
            "assets" => push(&mut doc, key, &assets),
            "bbox" if bbox_raw.is_none() => {}
            _ => push(&mut doc, key, raw.get()),
        }
    }
    if !wrote_collection {
        push(&mut doc, "collection", &collection_json);
    }
    if bbox_raw.is_none()
        && let Some(fp) = &footprint
    {
        push(&mut doc, "bbox", &fp.bounds.to_json());
    }
    doc.push('}');

    Ok(ItemDoc {
        collection,
        id,
        datetime,
        start,
        end,
        footprint,
        properties: properties_raw.get().to_string(),
        doc,
        links,
        text,
        property_types,
        cloud_cover: known.cloud_cover,
        packed: None,
    })
}

/// A link as far as the catalogue needs to look at it.
#[derive(Deserialize)]
struct LinkRef<'a> {
    #[serde(borrow)]
    rel: Cow<'a, str>,
    #[serde(borrow)]
    href: Cow<'a, str>,
}

/// Keeps the links the server does not generate, with hrefs made absolute.
pub fn kept_links(raw: &RawValue, base: Option<&Base>) -> Result<String> {
    let links: Vec<&RawValue> = serde_json::from_str(raw.get())
        .map_err(|_| CatalogError::object("links must be an array"))?;
    let mut out = String::from("[");
    for link in links {
        let parsed: LinkRef = serde_json::from_str(link.get()).map_err(|_| {
            CatalogError::object("every link must be an object with string 'rel' and 'href'")
        })?;
        if GENERATED_RELS.contains(&parsed.rel.as_ref()) {
            continue;
        }
        if out.len() > 1 {
            out.push(',');
        }
        match base.and_then(|b| b.resolve(&parsed.href)) {
            Some(absolute) => out.push_str(&with_href(link, &absolute)?),
            None => out.push_str(link.get()),
        }
    }
    out.push(']');
    Ok(out)
}

/// True when every `"href"` member in a JSON text has a value that needs no
/// resolving (absolute, or no base to resolve against). Conservative: any
/// doubt (escapes, odd spacing) answers false and the caller parses.
fn hrefs_are_absolute(json: &str) -> bool {
    let bytes = json.as_bytes();
    let finder = memchr::memmem::Finder::new(b"\"href\"");
    for at in finder.find_iter(bytes) {
        let mut i = at + 6;
        while bytes.get(i).is_some_and(u8::is_ascii_whitespace) {
            i += 1;
        }
        if bytes.get(i) != Some(&b':') {
            continue; // "href" as a value, not a key
        }
        i += 1;
        while bytes.get(i).is_some_and(u8::is_ascii_whitespace) {
            i += 1;
        }
        if bytes.get(i) != Some(&b'"') {
            return false;
        }
        let start = i + 1;
        let Some(len) = memchr::memchr2(b'"', b'\\', &bytes[start..]) else {
            return false;
        };
        if bytes[start + len] == b'\\' {
            return false;
        }
        match std::str::from_utf8(&bytes[start..start + len]) {
            Ok(href) if is_absolute(href) => {}
            _ => return false,
        }
    }
    true
}

/// Returns the assets object with relative hrefs made absolute.
fn resolved_assets(raw: &RawValue, base: Option<&Base>) -> Result<String> {
    if !raw.get().starts_with('{') {
        return Err(CatalogError::object("assets must be a JSON object"));
    }
    if base.is_none() || hrefs_are_absolute(raw.get()) {
        return Ok(raw.get().to_string());
    }
    #[derive(Deserialize)]
    struct AssetRef<'a> {
        #[serde(borrow)]
        href: Cow<'a, str>,
    }
    let assets: Members = serde_json::from_str(raw.get())
        .map_err(|_| CatalogError::object("assets must be a JSON object"))?;
    let mut rewritten: Option<String> = None;
    for (i, (key, asset)) in assets.0.iter().enumerate() {
        let parsed: AssetRef = serde_json::from_str(asset.get()).map_err(|_| {
            CatalogError::object(format!(
                "asset '{key}' must be an object with a string 'href'"
            ))
        })?;
        let absolute = base.and_then(|b| b.resolve(&parsed.href));
        if absolute.is_none() && rewritten.is_none() {
            continue;
        }
        let out = rewritten.get_or_insert_with(|| {
            let mut s = String::from("{");
            for (k, v) in &assets.0[..i] {
                if s.len() > 1 {
                    s.push(',');
                }
                s.push_str(&serde_json::to_string(k).unwrap_or_default());
                s.push(':');
                s.push_str(v.get());
            }
            s
        });
        if out.len() > 1 {
            out.push(',');
        }
        out.push_str(&serde_json::to_string(key).unwrap_or_default());
        out.push(':');
        match absolute {
            Some(href) => out.push_str(&with_href(asset, &href)?),
            None => out.push_str(asset.get()),
        }
    }
    Ok(match rewritten {
        Some(mut s) => {
            s.push('}');
            s
        }
        None => raw.get().to_string(),
    })
}

/// Re-serialises a JSON object with its `href` replaced.
fn with_href(raw: &RawValue, href: &str) -> Result<String> {
    let mut value: serde_json::Map<String, serde_json::Value> = serde_json::from_str(raw.get())
        .map_err(|e| CatalogError::object(format!("invalid object: {e}")))?;
    value.insert("href".into(), serde_json::Value::String(href.to_string()));
    serde_json::to_string(&value).map_err(|e| CatalogError::object(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(extra: &str) -> String {
        format!(
            r#"{{"type":"Feature","stac_version":"1.0.0","id":"a","collection":"c",
            "geometry":{{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,1],[0,0]]]}},
            "properties":{{"datetime":"2020-01-01T00:00:00Z","eo:cloud_cover":3,"title":"Toulouse"}},
            "assets":{{"B04":{{"href":"B04.tif","roles":["data"]}}}}{extra}}}"#
        )
    }

    #[test]
    fn parses_and_computes_bbox() {
        let doc = parse_item(&item(""), &ItemContext::default()).unwrap();
        assert_eq!(doc.id, "a");
        assert_eq!(doc.collection, "c");
        let v: serde_json::Value = serde_json::from_str(&doc.doc).unwrap();
        assert_eq!(v["bbox"], serde_json::json!([0.0, 0.0, 1.0, 1.0]));
        assert!(v.get("properties").is_none());
        assert!(v.get("links").is_none());
        assert_eq!(doc.text, "Toulouse\n");
        assert!(
            doc.property_types
                .contains(&("eo:cloud_cover".into(), JsonType::Number))
        );
    }

    #[test]
    fn resolves_relative_hrefs() {
        let ctx = ItemContext {
            base: Some(Base::Url("https://example.org/stac/items/a.json".into())),
            ..Default::default()
        };
        let doc = parse_item(&item(r#","links":[{"rel":"self","href":"a.json"},{"rel":"license","href":"../LICENSE"}]"#), &ctx).unwrap();
        let v: serde_json::Value = serde_json::from_str(&doc.doc).unwrap();
        assert_eq!(
            v["assets"]["B04"]["href"],
            "https://example.org/stac/items/B04.tif"
        );
        let links: serde_json::Value = serde_json::from_str(&doc.links).unwrap();
        assert_eq!(links.as_array().unwrap().len(), 1);
        assert_eq!(links[0]["href"], "https://example.org/stac/LICENSE");
    }

    #[test]
    fn absolute_href_scan() {
        assert!(hrefs_are_absolute(
            r#"{"a":{"href":"https://x/y","title":"href"},"b":{"href" : "/abs"}}"#
        ));
        assert!(!hrefs_are_absolute(r#"{"a":{"href":"rel/y"}}"#));
        assert!(!hrefs_are_absolute(r#"{"a":{"href":"https://x/\u0041"}}"#));
    }

    #[test]
    fn rejects_bad_items() {
        let ctx = ItemContext::default();
        for (json, why) in [
            (r#"[]"#, "not a JSON object"),
            (r#"{"type":"Feature"}"#, "missing"),
            (&item("").replace("\"Feature\"", "\"Collection\""), "type"),
            (
                &item("").replace("2020-01-01T00:00:00Z", "2020-01-01"),
                "RFC 3339",
            ),
            (&item("").replace("\"id\":\"a\"", "\"id\":\"a/b\""), "'/'"),
            (&item("").replace("[[[0,0]", "[[[0,\"x\"]"), "geometry"),
        ] {
            let err = parse_item(json, &ctx).unwrap_err().to_string();
            assert!(err.contains(why), "{err} should mention {why}");
        }
    }
}
