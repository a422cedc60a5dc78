//! Collections as the catalogue writes them.

use super::datetime::Micros;
use super::error::{CatalogError, Result};
use super::geometry::Bounds;
use super::href::Base;
use super::indexes::PropertyIndexes;
use super::item::{GENERATED_RELS, check_id};
use super::partitions::TimeSpan;
use super::scope::Access;
use super::text::fold;
use serde_json::{Map, Value};

/// A checked collection ready to be written by any store.
#[derive(Debug, Clone)]
pub struct CollectionDoc {
    /// Collection id.
    pub id: String,
    /// The collection JSON without `links`.
    pub doc: String,
    /// Links the server does not generate, as a JSON array text.
    pub links: String,
    /// Overall spatial extent (the first bbox), west may exceed east.
    pub bbox: Option<[f64; 4]>,
    /// Overall temporal extent; `None` ends are open.
    pub interval: (Option<Micros>, Option<Micros>),
    /// Folded title, description, keywords and provider names, for `q`.
    pub text: String,
    /// Who may see the collection.
    pub access: Access,
    /// The properties the collection asks the store to index
    /// (`tuilerie:indexes`).
    pub indexes: PropertyIndexes,
    /// How the store splits the items in time, if at all
    /// (`tuilerie:time_partitions`).
    pub time_partitions: Option<TimeSpan>,
}

/// Parses and checks a collection from its JSON text.
pub fn parse_collection(json: &str, base: Option<&Base>) -> Result<CollectionDoc> {
    let mut value: Map<String, Value> = serde_json::from_str(json)
        .map_err(|e| CatalogError::object(format!("not a JSON object: {e}")))?;
    match value.get("type") {
        Some(Value::String(t)) if t == "Collection" => {}
        // STAC before 1.0 had no `type`; an object with an extent and a
        // licence is a collection.
        None if value.contains_key("extent") && value.contains_key("license") => {
            value.insert("type".into(), Value::String("Collection".into()));
        }
        _ => return Err(CatalogError::object("type must be 'Collection'")),
    }
    let typed: stac::Collection = serde_json::from_value(Value::Object(value.clone()))
        .map_err(|e| CatalogError::object(format!("not a valid STAC collection: {e}")))?;
    check_id(&typed.id, "id")?;
    if typed.description.trim().is_empty() {
        return Err(CatalogError::object("description is required"));
    }
    if typed.license.trim().is_empty() {
        return Err(CatalogError::object("license is required"));
    }
    if !value.contains_key("extent") {
        return Err(CatalogError::object("extent is required"));
    }
    let mut bbox = None;
    for (i, b) in typed.extent.spatial.bbox.iter().enumerate() {
        let values: Vec<f64> = (*b).into();
        let checked = Bounds::from_stac_bbox(&values)
            .map_err(|e| CatalogError::object(format!("extent.spatial.bbox[{i}]: {e}")))?;
        if i == 0 {
            bbox = Some(checked);
        }
    }
    let mut interval = (None, None);
    for (i, [start, end]) in typed.extent.temporal.interval.iter().enumerate() {
        if let (Some(s), Some(e)) = (start, end)
            && s > e
        {
            return Err(CatalogError::object(format!(
                "extent.temporal.interval[{i}]: start is after end"
            )));
        }
        if i == 0 {
            interval = (
                start.map(|t| t.timestamp_micros()),
                end.map(|t| t.timestamp_micros()),
            );
        }
    }

    let mut text = String::new();
    for part in [typed.title.as_deref(), Some(typed.description.as_str())]
        .into_iter()
        .flatten()
    {
        text.push_str(part);
        text.push('\n');
    }
    for k in typed.keywords.iter().flatten() {
        text.push_str(k);
        text.push('\n');
    }
    for p in typed.providers.iter().flatten() {
        text.push_str(&p.name);
        text.push('\n');
    }

    let links = match value.remove("links") {
        None => String::from("[]"),
        Some(links) => {
            let raw = serde_json::value::to_raw_value(&links)
                .map_err(|e| CatalogError::object(e.to_string()))?;
            super::item::kept_links(&raw, base)?
        }
    };
    if let (Some(base), Some(Value::Object(assets))) = (base, value.get_mut("assets")) {
        for asset in assets.values_mut() {
            if let Some(href) = asset.get("href").and_then(Value::as_str)
                && let Some(abs) = base.resolve(href)
            {
                asset["href"] = Value::String(abs);
            }
        }
    }
    let access = super::scope::Policy::of(&value)
        .map_err(CatalogError::object)?
        .access;
    let indexes = super::indexes::of(&value).map_err(CatalogError::object)?;
    let time_partitions = super::partitions::of(&value).map_err(CatalogError::object)?;
    let doc = serde_json::to_string(&value).map_err(|e| CatalogError::object(e.to_string()))?;
    debug_assert!(!GENERATED_RELS.is_empty());
    Ok(CollectionDoc {
        id: typed.id,
        doc,
        links,
        bbox,
        interval,
        text: fold(&text),
        access,
        indexes,
        time_partitions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"{"type":"Collection","stac_version":"1.1.0","id":"c","description":"d",
        "license":"CC-BY-4.0","extent":{"spatial":{"bbox":[[-5,41,10,51]]},
        "temporal":{"interval":[["2015-06-23T00:00:00Z",null]]}},
        "links":[{"rel":"self","href":"x"},{"rel":"license","href":"https://l"}]}"#;

    #[test]
    fn parses() {
        let c = parse_collection(MINIMAL, None).unwrap();
        assert_eq!(c.id, "c");
        assert_eq!(c.bbox, Some([-5.0, 41.0, 10.0, 51.0]));
        assert!(c.interval.0.is_some() && c.interval.1.is_none());
        assert!(!c.doc.contains("links"));
        assert!(c.links.contains("license") && !c.links.contains("self"));
    }

    #[test]
    fn rejects() {
        assert!(parse_collection(&MINIMAL.replace("\"Collection\"", "\"Feature\""), None).is_err());
        assert!(
            parse_collection(&MINIMAL.replace("[-5,41,10,51]", "[-5,51,10,41]"), None).is_err()
        );
        assert!(parse_collection(&MINIMAL.replace("\"id\":\"c\"", "\"id\":\"\""), None).is_err());
    }
}
