//! Queryables: which properties can be filtered and sorted on, as a JSON Schema.
//!
//! Stores record every property name and value type they ingest; the schema
//! combines that with well-known STAC field definitions and the collections'
//! `summaries` (ranges and enumerations).

use super::item::JsonType;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// Properties that hold RFC 3339 date-times.
const DATETIME_PROPERTIES: &[&str] = &[
    "datetime",
    "start_datetime",
    "end_datetime",
    "created",
    "updated",
    "published",
    "expires",
    "unpublished",
];

/// True for the names of properties that hold date-times (compared as
/// instants by filters).
pub fn is_datetime_name(name: &str) -> bool {
    DATETIME_PROPERTIES.contains(&name)
}

/// Names that are always queryable, whatever was ingested.
const CORE: &[&str] = &["id", "collection", "geometry", "datetime"];

/// Known property names (with their observed types), for checking filters.
#[derive(Debug, Clone, Default)]
pub struct PropertyKinds {
    names: BTreeMap<String, BTreeSet<JsonType>>,
}

impl PropertyKinds {
    /// Adds an observed property.
    pub fn add(&mut self, name: &str, kind: JsonType) {
        self.names.entry(name.to_string()).or_default().insert(kind);
    }

    /// True when the name can be used in a filter or a sort.
    pub fn contains(&self, name: &str) -> bool {
        CORE.contains(&name) || DATETIME_PROPERTIES.contains(&name) || self.names.contains_key(name)
    }

    /// The types observed for a property.
    pub fn types(&self, name: &str) -> Option<&BTreeSet<JsonType>> {
        self.names.get(name)
    }

    /// True when every observed value of the property is a number (or null).
    pub fn is_numeric(&self, name: &str) -> bool {
        self.types(name).is_some_and(|t| {
            t.contains(&JsonType::Number)
                && t.iter()
                    .all(|k| matches!(k, JsonType::Number | JsonType::Null))
        })
    }

    /// True when the property holds arrays.
    pub fn is_array(&self, name: &str) -> bool {
        self.types(name)
            .is_some_and(|t| t.contains(&JsonType::Array))
    }

    /// True for properties holding date-times.
    pub fn is_datetime(&self, name: &str) -> bool {
        is_datetime_name(name)
    }

    /// Adds every name and type of `other`.
    pub fn merge(&mut self, other: &PropertyKinds) {
        for (name, kinds) in &other.names {
            self.names
                .entry(name.clone())
                .or_default()
                .extend(kinds.iter().copied());
        }
    }

    /// Observed names and types.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &BTreeSet<JsonType>)> {
        self.names.iter()
    }
}

/// Definition of a well-known STAC field (title, schema).
fn known_field(name: &str) -> Option<Value> {
    Some(match name {
        "id" => json!({"title": "Item ID", "description": "Item identifier", "type": "string"}),
        "collection" => {
            json!({"title": "Collection ID", "description": "Collection the item belongs to", "type": "string"})
        }
        "geometry" => {
            json!({"title": "Footprint", "description": "Item footprint (GeoJSON geometry, WGS 84)", "$ref": "https://geojson.org/schema/Geometry.json"})
        }
        "datetime" => {
            json!({"title": "Acquisition time", "description": "Nominal acquisition date and time (start of the span for composites)", "type": "string", "format": "date-time"})
        }
        "start_datetime" => json!({"title": "Start time", "type": "string", "format": "date-time"}),
        "end_datetime" => json!({"title": "End time", "type": "string", "format": "date-time"}),
        "created" => json!({"title": "Created", "type": "string", "format": "date-time"}),
        "updated" => json!({"title": "Updated", "type": "string", "format": "date-time"}),
        "eo:cloud_cover" => {
            json!({"title": "Cloud cover (%)", "description": "Estimate of cloud cover, in %", "type": "number", "minimum": 0, "maximum": 100})
        }
        "eo:snow_cover" => {
            json!({"title": "Snow cover (%)", "type": "number", "minimum": 0, "maximum": 100})
        }
        "platform" => {
            json!({"title": "Platform", "description": "Satellite or platform name", "type": "string"})
        }
        "constellation" => json!({"title": "Constellation", "type": "string"}),
        "instruments" => {
            json!({"title": "Instruments", "type": "array", "items": {"type": "string"}})
        }
        "gsd" => {
            json!({"title": "Ground sample distance (m)", "type": "number", "exclusiveMinimum": 0})
        }
        "proj:epsg" => json!({"title": "EPSG code", "type": ["integer", "null"]}),
        "proj:code" => json!({"title": "CRS code", "type": ["string", "null"]}),
        "view:off_nadir" => {
            json!({"title": "Off-nadir angle (°)", "type": "number", "minimum": 0, "maximum": 90})
        }
        "view:incidence_angle" => {
            json!({"title": "Incidence angle (°)", "type": "number", "minimum": 0, "maximum": 90})
        }
        "view:sun_elevation" => {
            json!({"title": "Sun elevation (°)", "type": "number", "minimum": -90, "maximum": 90})
        }
        "view:sun_azimuth" => {
            json!({"title": "Sun azimuth (°)", "type": "number", "minimum": 0, "maximum": 360})
        }
        "sat:orbit_state" => {
            json!({"title": "Orbit state", "type": "string", "enum": ["ascending", "descending", "geostationary"]})
        }
        "sat:relative_orbit" => json!({"title": "Relative orbit", "type": "integer", "minimum": 1}),
        "sat:absolute_orbit" => json!({"title": "Absolute orbit", "type": "integer", "minimum": 1}),
        "mgrs:utm_zone" => {
            json!({"title": "UTM zone", "type": "integer", "minimum": 1, "maximum": 60})
        }
        "mgrs:latitude_band" => json!({"title": "Latitude band", "type": "string"}),
        "mgrs:grid_square" => json!({"title": "Grid square", "type": "string"}),
        "title" => json!({"title": "Title", "type": "string"}),
        "description" => json!({"title": "Description", "type": "string"}),
        _ => return None,
    })
}

/// Schema for a property seen only through ingested values.
fn observed_field(types: &BTreeSet<JsonType>) -> Value {
    let names: Vec<&str> = types
        .iter()
        .map(|t| match t {
            JsonType::Number => "number",
            other => other.as_str(),
        })
        .collect();
    if names.len() == 1 {
        json!({"type": names[0]})
    } else {
        json!({"type": names})
    }
}

/// Builds the queryables document.
///
/// `summaries` are the `summaries` objects of the collections in scope.
pub fn document(
    id_url: &str,
    title: &str,
    kinds: &PropertyKinds,
    collections: &[String],
    summaries: &[&Map<String, Value>],
) -> Value {
    let mut properties = Map::new();
    for name in CORE {
        if let Some(def) = known_field(name) {
            properties.insert((*name).to_string(), def);
        }
    }
    if let Some(Value::Object(def)) = properties.get_mut("collection")
        && !collections.is_empty()
    {
        def.insert("enum".into(), json!(collections));
    }
    for (name, types) in kinds.iter() {
        if properties.contains_key(name) {
            continue;
        }
        let mut def = known_field(name).unwrap_or_else(|| observed_field(types));
        if let Value::Object(def) = &mut def {
            def.entry("title")
                .or_insert_with(|| Value::String(name.clone()));
            refine_from_summaries(def, name, summaries);
        }
        properties.insert(name.clone(), def);
    }
    json!({
        "$schema": "https://json-schema.org/draft/2019-09/schema",
        "$id": id_url,
        "type": "object",
        "title": title,
        "properties": properties,
        "additionalProperties": false
    })
}

/// Adds `enum` or `minimum`/`maximum` from collection summaries.
fn refine_from_summaries(
    def: &mut Map<String, Value>,
    name: &str,
    summaries: &[&Map<String, Value>],
) {
    let mut values: Vec<Value> = Vec::new();
    let mut range: Option<(f64, f64)> = None;
    for s in summaries {
        match s.get(name) {
            Some(Value::Array(list)) => {
                for v in list {
                    if !v.is_object() && !v.is_array() && !values.contains(v) {
                        values.push(v.clone());
                    }
                }
            }
            Some(Value::Object(r)) => {
                if let (Some(min), Some(max)) = (
                    r.get("minimum").and_then(Value::as_f64),
                    r.get("maximum").and_then(Value::as_f64),
                ) {
                    range = Some(match range {
                        None => (min, max),
                        Some((a, b)) => (a.min(min), b.max(max)),
                    });
                }
            }
            _ => {}
        }
    }
    let is_array = def.get("type") == Some(&Value::String("array".into()));
    if !values.is_empty() && !is_array {
        def.insert("enum".into(), Value::Array(values));
    }
    if let Some((min, max)) = range {
        def.insert("minimum".into(), json!(min));
        def.insert("maximum".into(), json!(max));
    }
}
