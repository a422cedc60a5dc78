//! Which queryable properties a collection asks the store to index: the
//! collection field `tuilerie:indexes` (schema: `schemas/indexes.json`).
//!
//! ```json
//! "tuilerie:indexes": {"mgrs:grid_square": "text", "sat:relative_orbit": "number"}
//! ```
//!
//! Each entry names an item property and how its values are compared:
//! `text` (byte order) or `number`. The PostgreSQL store keeps one B-tree
//! index per entry on the collection's partition, on exactly the expression
//! the CQL2 translator compares, so a selective filter on the property reads
//! the index instead of scanning. The embedded store ignores the field (its
//! searches are driven by the R*Tree and the datetime index). Declaring an
//! index never changes a search's results, only how fast it is answered.

use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The field of a collection that declares its indexed properties.
pub const INDEXES_FIELD: &str = "tuilerie:indexes";

/// Most indexes a collection may declare (each one costs every write).
pub const MAX_INDEXES: usize = 16;

/// Longest property name that may be indexed, in characters.
pub const MAX_NAME_CHARS: usize = 128;

/// Properties kept in columns that are indexed already (or, for the geometry,
/// by a spatial index): declaring them is a mistake.
const INDEXED_ALREADY: &[&str] = &[
    "id",
    "collection",
    "geometry",
    "datetime",
    "start_datetime",
    "end_datetime",
    "eo:cloud_cover",
];

/// How the values of an indexed property are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IndexKind {
    /// As text, in byte order (strings).
    Text,
    /// As numbers (float8).
    Number,
}

impl IndexKind {
    /// The name used in `tuilerie:indexes`.
    pub fn as_str(self) -> &'static str {
        match self {
            IndexKind::Text => "text",
            IndexKind::Number => "number",
        }
    }
}

/// A collection's indexed properties: name → how values are compared.
pub type PropertyIndexes = BTreeMap<String, IndexKind>;

/// Reads and checks the `tuilerie:indexes` of a collection document (none
/// when absent). Errors are meant for the person who wrote the collection.
pub fn of(doc: &Map<String, Value>) -> Result<PropertyIndexes, String> {
    let Some(value) = doc.get(INDEXES_FIELD) else {
        return Ok(PropertyIndexes::new());
    };
    let Value::Object(entries) = value else {
        return Err(format!(
            "{INDEXES_FIELD} must be an object mapping property names to \"text\" or \"number\""
        ));
    };
    if entries.len() > MAX_INDEXES {
        return Err(format!(
            "{INDEXES_FIELD}: at most {MAX_INDEXES} properties may be indexed ({} given)",
            entries.len()
        ));
    }
    let mut out = PropertyIndexes::new();
    for (name, kind) in entries {
        check_name(name)?;
        let kind = match kind.as_str() {
            Some("text") => IndexKind::Text,
            Some("number") => IndexKind::Number,
            _ => {
                return Err(format!(
                    "{INDEXES_FIELD}.{name}: {kind} is not \"text\" or \"number\""
                ));
            }
        };
        out.insert(name.clone(), kind);
    }
    Ok(out)
}

fn check_name(name: &str) -> Result<(), String> {
    let shown = name.escape_debug();
    if name.is_empty() {
        return Err(format!("{INDEXES_FIELD}: a property name is empty"));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(format!(
            "{INDEXES_FIELD}: property name '{shown}' is longer than {MAX_NAME_CHARS} characters"
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(format!(
            "{INDEXES_FIELD}: property name '{shown}' contains a control character"
        ));
    }
    if let Some(bare) = name.strip_prefix("properties.") {
        return Err(format!(
            "{INDEXES_FIELD}: name the property without 'properties.' ('{}')",
            bare.escape_debug()
        ));
    }
    if INDEXED_ALREADY.contains(&name) {
        return Err(format!(
            "{INDEXES_FIELD}: '{name}' is always indexed; leave it out"
        ));
    }
    if super::queryables::is_datetime_name(name) {
        return Err(format!(
            "{INDEXES_FIELD}: '{name}' holds date-times, which filters compare as instants; it cannot be indexed"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn indexes(v: Value) -> Result<PropertyIndexes, String> {
        let mut doc = Map::new();
        doc.insert(INDEXES_FIELD.into(), v);
        of(&doc)
    }

    #[test]
    fn reads_declarations() {
        let got =
            indexes(json!({"mgrs:grid_square": "text", "sat:relative_orbit": "number"})).unwrap();
        assert_eq!(got["mgrs:grid_square"], IndexKind::Text);
        assert_eq!(got["sat:relative_orbit"], IndexKind::Number);
        assert!(of(&Map::new()).unwrap().is_empty());
        assert!(indexes(json!({})).unwrap().is_empty());
    }

    #[test]
    fn rejects_bad_declarations() {
        let many: Map<String, Value> = (0..=MAX_INDEXES)
            .map(|n| (format!("p{n}"), json!("text")))
            .collect();
        for (bad, needle) in [
            (json!(["platform"]), "must be an object"),
            (
                json!({"platform": "string"}),
                "is not \"text\" or \"number\"",
            ),
            (json!({"platform": 1}), "is not \"text\" or \"number\""),
            (json!({"": "text"}), "empty"),
            (json!({"a\u{0}b": "text"}), "control character"),
            (
                json!({"properties.platform": "text"}),
                "without 'properties.'",
            ),
            (json!({"eo:cloud_cover": "number"}), "always indexed"),
            (json!({"datetime": "text"}), "always indexed"),
            (json!({"created": "text"}), "date-times"),
            (
                json!({"x".repeat(MAX_NAME_CHARS + 1): "text"}),
                "longer than",
            ),
            (Value::Object(many), "at most"),
        ] {
            let err = indexes(bad.clone()).unwrap_err();
            assert!(err.contains(needle), "{bad}: {err}");
        }
    }
}
