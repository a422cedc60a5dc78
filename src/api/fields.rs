//! The Fields extension: include and exclude members of returned items.
//!
//! Paths are dotted (`properties.eo:cloud_cover`). With `include`, only the
//! included members are returned (plus `id`, which identifies the item, and
//! `type`, `stac_version` and `links`, without which it is not a STAC item);
//! `exclude` then removes members, except where a more specific (or the same)
//! path is included.

use serde_json::{Map, Value};
use stac::api::Fields;

/// Members kept even when `include` does not name them.
const ALWAYS: &[&str] = &["type", "stac_version", "id", "links"];

fn clean(list: &[String]) -> Vec<String> {
    list.iter()
        .map(|s| s.trim().trim_start_matches('+').to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// True when the fields ask for anything.
pub fn is_active(fields: &Fields) -> bool {
    !clean(&fields.include).is_empty() || !clean(&fields.exclude).is_empty()
}

fn get_path<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, key| v.get(*key))
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

/// Applies include/exclude to an item.
pub fn apply(item: Value, fields: &Fields) -> Value {
    let include = clean(&fields.include);
    let exclude = clean(&fields.exclude);
    let Value::Object(source) = item else {
        return item;
    };
    let mut out = if include.is_empty() {
        source.clone()
    } else {
        let mut out = Map::new();
        let source_value = Value::Object(source.clone());
        for path in ALWAYS.iter().map(|s| s.to_string()).chain(include.iter().cloned()) {
            let parts: Vec<&str> = path.split('.').collect();
            if let Some(v) = get_path(&source_value, &parts) {
                put_path(&mut out, &parts, v.clone());
            }
        }
        out
    };
    for path in &exclude {
        let protected = ALWAYS.contains(&path.as_str())
            || include
                .iter()
                .any(|i| i == path || i.starts_with(&format!("{path}.")));
        if protected {
            continue;
        }
        let parts: Vec<&str> = path.split('.').collect();
        remove_path(&mut out, &parts);
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn item() -> Value {
        json!({"type": "Feature", "stac_version": "1.0.0", "id": "a", "geometry": null, "links": [],
               "properties": {"datetime": "x", "eo:cloud_cover": 3, "gsd": 10}, "assets": {"B04": {}}})
    }

    fn f(include: &[&str], exclude: &[&str]) -> Fields {
        Fields {
            include: include.iter().map(|s| s.to_string()).collect(),
            exclude: exclude.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn include_only() {
        let out = apply(item(), &f(&["properties.eo:cloud_cover"], &[]));
        assert_eq!(out["properties"], json!({"eo:cloud_cover": 3}));
        assert!(out.get("assets").is_none());
        assert_eq!(out["id"], "a");
    }

    #[test]
    fn exclude_only() {
        let out = apply(item(), &f(&[], &["assets", "properties.gsd"]));
        assert!(out.get("assets").is_none());
        assert!(out["properties"].get("gsd").is_none());
        assert!(out["properties"].get("datetime").is_some());
    }

    #[test]
    fn more_specific_include_wins() {
        let out = apply(item(), &f(&["properties.gsd"], &["properties"]));
        assert_eq!(out["properties"], json!({"gsd": 10}));
        let out = apply(item(), &f(&["properties"], &["properties.gsd"]));
        assert!(out["properties"].get("gsd").is_none());
        assert!(out["properties"].get("datetime").is_some());
    }
}
