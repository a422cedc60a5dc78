//! The collection definitions we ship (`collections/*.json`), embedded in the
//! binary, and their check against our profile (`schemas/collection-profile.json`).

use super::error::{CatalogError, Result};
use super::scope::Scope;
use super::{CollectionDoc, SharedCatalog, WriteMode, parse_collection};
use serde_json::Value;
use std::path::Path;

/// `(file name, JSON)` of every shipped collection.
pub const SHIPPED: &[(&str, &str)] = &[
    (
        "sentinel-2-l2a.json",
        include_str!("../../collections/sentinel-2-l2a.json"),
    ),
    (
        "pleiades.json",
        include_str!("../../collections/pleiades.json"),
    ),
    (
        "spot-6-7.json",
        include_str!("../../collections/spot-6-7.json"),
    ),
    ("lai.json", include_str!("../../collections/lai.json")),
    (
        "biomass.json",
        include_str!("../../collections/biomass.json"),
    ),
    (
        "tropisco.json",
        include_str!("../../collections/tropisco.json"),
    ),
];

/// Our profile of a shipped collection file (JSON Schema draft-07).
pub const PROFILE: &str = include_str!("../../schemas/collection-profile.json");

/// Checks a collection file against the profile and the STAC model.
pub fn check(name: &str, json: &str) -> Result<CollectionDoc> {
    let schema: Value = serde_json::from_str(PROFILE).map_err(|e| {
        CatalogError::Storage(format!("the embedded profile schema is not JSON: {e}"))
    })?;
    let validator = jsonschema::validator_for(&schema).map_err(|e| {
        CatalogError::Storage(format!("the embedded profile schema is invalid: {e}"))
    })?;
    let instance: Value = serde_json::from_str(json)
        .map_err(|e| CatalogError::object(format!("{name}: not valid JSON: {e}")))?;
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .take(10)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    if !errors.is_empty() {
        return Err(CatalogError::object(format!(
            "{name} does not follow the collection profile: {}",
            errors.join("; ")
        )));
    }
    parse_collection(json, None).map_err(|e| CatalogError::object(format!("{name}: {e}")))
}

/// Reads collection files from a directory (`*.json`), or the shipped set.
pub fn read(dir: Option<&Path>) -> Result<Vec<(String, String)>> {
    let Some(dir) = dir else {
        return Ok(SHIPPED
            .iter()
            .map(|(n, j)| (n.to_string(), j.to_string()))
            .collect());
    };
    let mut out = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| {
            CatalogError::Io(std::io::Error::new(
                e.kind(),
                format!("{}: {e}", dir.display()),
            ))
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    entries.sort();
    for path in entries {
        let json = std::fs::read_to_string(&path)?;
        out.push((path.display().to_string(), json));
    }
    Ok(out)
}

/// Checks every collection file, then inserts those missing from the store.
/// A stored collection is never overwritten (an operator may have edited it
/// through the Transactions extension); a difference is logged. Returns how
/// many were inserted.
pub async fn install(catalog: &SharedCatalog, files: &[(String, String)]) -> Result<usize> {
    let mut docs = Vec::new();
    for (name, json) in files {
        docs.push(check(name, json)?);
    }
    let mut inserted = 0;
    for doc in docs {
        match catalog.collection(&Scope::All, &doc.id).await? {
            Some(stored) => {
                if stored.doc != doc.doc || stored.links != doc.links {
                    tracing::info!(
                        collection = %doc.id,
                        "the stored collection differs from its definition file; keeping the stored one"
                    );
                }
            }
            None => match catalog.put_collection(doc, WriteMode::Create).await {
                Ok(_) => inserted += 1,
                // Another instance on the same database created it meanwhile.
                Err(crate::catalog::CatalogError::Conflict(_)) => {}
                Err(e) => return Err(e),
            },
        }
    }
    Ok(inserted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_collections_follow_the_profile() {
        for (name, json) in SHIPPED {
            let doc = check(name, json).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(format!("{}.json", doc.id), *name);
        }
    }

    #[test]
    fn profile_rejects_a_broken_collection() {
        let mut v: Value = serde_json::from_str(SHIPPED[0].1).unwrap();
        v.as_object_mut().unwrap().remove("renders");
        assert!(check("broken.json", &v.to_string()).is_err());
    }

    #[test]
    fn index_declarations_are_checked() {
        let indexes: Value =
            serde_json::from_str(include_str!("../../schemas/indexes.json")).unwrap();
        let profile: Value = serde_json::from_str(PROFILE).unwrap();
        let mut embedded = profile["properties"]["tuilerie:indexes"].clone();
        embedded["$schema"] = indexes["$schema"].clone();
        assert_eq!(
            embedded, indexes,
            "schemas/indexes.json and the profile differ"
        );

        let s2 = SHIPPED
            .iter()
            .find(|(n, _)| *n == "sentinel-2-l2a.json")
            .unwrap()
            .1;
        let doc = check("sentinel-2-l2a.json", s2).unwrap();
        assert_eq!(
            doc.indexes.get("sat:relative_orbit"),
            Some(&crate::catalog::indexes::IndexKind::Number)
        );
        let base: Value = serde_json::from_str(s2).unwrap();
        // Each is refused by the profile and by the loader alike.
        for value in [
            serde_json::json!(["platform"]),
            serde_json::json!({"platform": "string"}),
            serde_json::json!({"properties.platform": "text"}),
            serde_json::json!({"eo:cloud_cover": "number"}),
            serde_json::json!({"created": "text"}),
            serde_json::json!({"": "text"}),
            serde_json::json!({"a\u{1}b": "text"}),
        ] {
            let mut v = base.clone();
            v["tuilerie:indexes"] = value.clone();
            assert!(check("x.json", &v.to_string()).is_err(), "{value}");
            let mut doc = v.as_object().unwrap().clone();
            doc.remove("renders");
            assert!(
                parse_collection(&Value::Object(doc).to_string(), None).is_err(),
                "{value}"
            );
        }
    }

    #[test]
    fn time_partitions_are_checked() {
        let file: Value =
            serde_json::from_str(include_str!("../../schemas/time-partitions.json")).unwrap();
        let profile: Value = serde_json::from_str(PROFILE).unwrap();
        let mut embedded = profile["properties"]["tuilerie:time_partitions"].clone();
        embedded["$schema"] = file["$schema"].clone();
        assert_eq!(
            embedded, file,
            "schemas/time-partitions.json and the profile differ"
        );
        let s2 = SHIPPED
            .iter()
            .find(|(n, _)| *n == "sentinel-2-l2a.json")
            .unwrap()
            .1;
        let base: Value = serde_json::from_str(s2).unwrap();
        for (value, ok) in [
            (serde_json::json!("year"), true),
            (serde_json::json!("month"), true),
            (serde_json::json!("week"), false),
            (serde_json::json!(1), false),
        ] {
            let mut v = base.clone();
            v["tuilerie:time_partitions"] = value.clone();
            assert_eq!(check("x.json", &v.to_string()).is_ok(), ok, "{value}");
            let mut doc = v.as_object().unwrap().clone();
            doc.remove("renders");
            assert_eq!(
                parse_collection(&Value::Object(doc).to_string(), None).is_ok(),
                ok,
                "{value}"
            );
        }
    }

    #[test]
    fn access_policies_are_checked() {
        let access: Value =
            serde_json::from_str(include_str!("../../schemas/access.json")).unwrap();
        let profile: Value = serde_json::from_str(PROFILE).unwrap();
        let mut embedded = profile["properties"]["tuilerie:access"].clone();
        embedded["$schema"] = access["$schema"].clone();
        assert_eq!(
            embedded, access,
            "schemas/access.json and the profile differ"
        );

        let pleiades = SHIPPED
            .iter()
            .find(|(n, _)| *n == "pleiades.json")
            .unwrap()
            .1;
        let doc = check("pleiades.json", pleiades).unwrap();
        assert!(matches!(doc.access, crate::catalog::Access::Restricted(_)));
        let base: Value = serde_json::from_str(pleiades).unwrap();
        for (field, value) in [
            (
                "tuilerie:access",
                serde_json::json!({"policy": "restricted"}),
            ),
            (
                "tuilerie:access",
                serde_json::json!({"policy": "restricted", "roles": ["root"]}),
            ),
            (
                "tuilerie:access",
                serde_json::json!({"policy": "open", "roles": ["scientific"]}),
            ),
            ("tuilerie:other", serde_json::json!(1)),
        ] {
            let mut v = base.clone();
            v[field] = value.clone();
            assert!(check("x.json", &v.to_string()).is_err(), "{field}: {value}");
        }
    }
}
