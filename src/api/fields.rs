//! The Fields extension: include and exclude members of returned items.
//!
//! - No `fields`: the full item.
//! - `include` with paths: only `type`, `id`, `collection`, `links` and the
//!   included paths (dotted, e.g. `properties.eo:cloud_cover`).
//! - `include` given empty (or null, or `fields={}` / `fields=`): the default
//!   set — `type`, `stac_version`, `id`, `collection`, `geometry`, `bbox`,
//!   `links`, `assets` and the temporal properties.
//! - `exclude` then removes paths, except where the same or a more specific
//!   path is included (include wins).

use crate::catalog::query::FieldSelection;
use serde_json::{Map, Value};

/// Members always returned when fields are selected.
const ALWAYS: &[&str] = &["type", "id", "collection", "links"];

/// The default set.
const DEFAULT: &[&str] = &[
    "type",
    "stac_version",
    "id",
    "collection",
    "geometry",
    "bbox",
    "links",
    "assets",
    "properties.datetime",
    "properties.start_datetime",
    "properties.end_datetime",
];

fn clean(list: &[String]) -> Vec<String> {
    list.iter()
        .map(|s| s.trim().trim_start_matches('+').to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

fn get_path<'a>(v: &'a Map<String, Value>, path: &[&str]) -> Option<&'a Value> {
    let (first, rest) = path.split_first()?;
    let v = v.get(*first)?;
    rest.iter().try_fold(v, |v, key| v.get(*key))
}

fn put_path(target: &mut Map<String, Value>, path: &[&str], value: Value) {
    match path {
        [] => {}
        [last] => {
            target.insert((*last).to_string(), value);
        }
        [first, rest @ ..] => {
            let entry = target
                .entry((*first).to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(inner) = entry {
                put_path(inner, rest, value);
            }
        }
    }
}

fn remove_path(target: &mut Map<String, Value>, path: &[&str]) {
    match path {
        [] => {}
        [last] => {
            target.remove(*last);
        }
        [first, rest @ ..] => {
            if let Some(Value::Object(inner)) = target.get_mut(*first) {
                remove_path(inner, rest);
            }
        }
    }
}

/// Applies a selection to an item.
pub fn apply(item: Value, selection: &FieldSelection) -> Value {
    let Value::Object(source) = item else {
        return item;
    };
    let include = selection.include.as_deref().map(clean);
    let exclude = clean(&selection.exclude);
    let picked: Option<Vec<String>> = match &include {
        None => None,
        Some(list) if list.is_empty() => Some(DEFAULT.iter().map(|s| s.to_string()).collect()),
        Some(list) => Some(
            ALWAYS
                .iter()
                .map(|s| s.to_string())
                .chain(list.iter().cloned())
                .collect(),
        ),
    };
    let mut out = match &picked {
        None => source,
        Some(paths) => {
            let mut out = Map::new();
            for path in paths {
                let parts: Vec<&str> = path.split('.').collect();
                if let Some(v) = get_path(&source, &parts) {
                    put_path(&mut out, &parts, v.clone());
                }
            }
            out
        }
    };
    let included = include.unwrap_or_default();
    for path in &exclude {
        let overridden = included
            .iter()
            .any(|i| i == path || i.starts_with(&format!("{path}.")));
        if !overridden {
            let parts: Vec<&str> = path.split('.').collect();
            remove_path(&mut out, &parts);
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn item() -> Value {
        json!({"type": "Feature", "stac_version": "1.0.0", "id": "a", "collection": "c", "geometry": null,
               "bbox": [0, 0, 1, 1], "links": [{"rel": "self"}],
               "properties": {"datetime": "x", "eo:cloud_cover": 3, "gsd": 10}, "assets": {"B04": {}}})
    }

    fn sel(include: Option<&[&str]>, exclude: &[&str]) -> FieldSelection {
        FieldSelection {
            include: include.map(|l| l.iter().map(|s| s.to_string()).collect()),
            exclude: exclude.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn include_only() {
        let out = apply(item(), &sel(Some(&["properties.eo:cloud_cover"]), &[]));
        assert_eq!(out["properties"], json!({"eo:cloud_cover": 3}));
        assert!(out.get("assets").is_none());
        assert_eq!(out.as_object().unwrap().len(), 5);
    }

    #[test]
    fn exclude_only_trims_the_full_item() {
        let out = apply(item(), &sel(None, &["assets", "properties.gsd"]));
        assert!(out.get("assets").is_none());
        assert!(out["properties"].get("gsd").is_none());
        assert!(out["properties"].get("eo:cloud_cover").is_some());
    }

    #[test]
    fn empty_include_is_the_default_set() {
        let out = apply(item(), &sel(Some(&[]), &["geometry"]));
        assert!(out.get("geometry").is_none());
        assert!(out["properties"].get("eo:cloud_cover").is_none());
        assert_eq!(out["properties"]["datetime"], "x");
        assert!(out.get("assets").is_some());
    }

    #[test]
    fn include_wins() {
        let out = apply(item(), &sel(Some(&["properties.gsd"]), &["properties"]));
        assert_eq!(out["properties"], json!({"gsd": 10}));
        assert_eq!(out.as_object().unwrap().len(), 5);
        let out = apply(item(), &sel(Some(&["geometry"]), &["geometry"]));
        assert!(out.as_object().unwrap().contains_key("geometry"));
        let out = apply(item(), &sel(Some(&["properties"]), &["properties.gsd"]));
        assert!(out["properties"].get("gsd").is_none());
    }
}
