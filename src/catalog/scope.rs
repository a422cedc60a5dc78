//! Who is asking: the visibility seam every read goes through.
//!
//! Licensed collections (Pléiades, SPOT 6-7) must not exist for callers without
//! rights. Stores receive a [`Scope`] on every read and filter in their queries,
//! never afterwards, so counts and paging stay correct.

use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// The caller's visibility over collections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Sees every collection (administrators, command-line tools).
    All,
    /// Sees open collections and the restricted ones granted to these roles.
    Roles(BTreeSet<String>),
}

impl Scope {
    /// An anonymous caller: open collections only.
    pub fn anonymous() -> Scope {
        Scope::Roles(BTreeSet::new())
    }

    /// True when a collection with this access policy is visible.
    pub fn can_see(&self, access: &Access) -> bool {
        match (self, access) {
            (Scope::All, _) | (_, Access::Open) => true,
            (Scope::Roles(roles), Access::Restricted(allowed)) => {
                allowed.iter().any(|r| roles.contains(r))
            }
        }
    }
}

/// A collection's access policy.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Access {
    /// Anyone may see it.
    #[default]
    Open,
    /// Only callers holding one of these roles may see it.
    Restricted(Vec<String>),
}

/// The licence roles a collection may grant (`admin` sees everything anyway).
pub const LICENCE_ROLES: [&str; 3] = ["scientific", "public-actor", "private-rd"];

/// The field of a collection that holds its access policy.
pub const ACCESS_FIELD: &str = "tuilerie:access";

/// A collection's `tuilerie:access` object (schema: `schemas/access.json`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Policy {
    /// Who may see it.
    pub access: Access,
    /// Yearly download quota per role, km² (a role without one: unlimited).
    pub quotas_km2: BTreeMap<String, f64>,
}

impl Policy {
    /// Reads and checks the policy of a collection document (open when absent).
    pub fn of(doc: &Map<String, Value>) -> Result<Policy, String> {
        let Some(value) = doc.get(ACCESS_FIELD) else {
            return Ok(Policy::default());
        };
        let Value::Object(obj) = value else {
            return Err(format!("{ACCESS_FIELD} must be an object"));
        };
        if let Some(k) = obj
            .keys()
            .find(|k| !["policy", "roles", "quotas_km2", "description"].contains(&k.as_str()))
        {
            return Err(format!("{ACCESS_FIELD}: unknown field '{k}'"));
        }
        match obj.get("policy").and_then(Value::as_str) {
            Some("open") => {
                if obj.contains_key("roles") || obj.contains_key("quotas_km2") {
                    return Err(format!(
                        "{ACCESS_FIELD}: an open collection has no roles or quotas"
                    ));
                }
                Ok(Policy::default())
            }
            Some("restricted") => Self::restricted(obj),
            _ => Err(format!(
                "{ACCESS_FIELD}.policy must be 'open' or 'restricted'"
            )),
        }
    }

    fn restricted(obj: &Map<String, Value>) -> Result<Policy, String> {
        let roles: Vec<String> = match obj.get("roles") {
            Some(Value::Array(a)) if !a.is_empty() => a
                .iter()
                .map(|r| match r.as_str() {
                    Some(r) if LICENCE_ROLES.contains(&r) => Ok(r.to_string()),
                    _ => Err(format!(
                        "{ACCESS_FIELD}.roles: {r} is not one of {}",
                        LICENCE_ROLES.join(", ")
                    )),
                })
                .collect::<Result<_, _>>()?,
            _ => {
                return Err(format!(
                    "{ACCESS_FIELD}.roles: a restricted collection names the roles allowed"
                ));
            }
        };
        let mut quotas_km2 = BTreeMap::new();
        if let Some(q) = obj.get("quotas_km2") {
            let Value::Object(q) = q else {
                return Err(format!("{ACCESS_FIELD}.quotas_km2 must be an object"));
            };
            for (role, km2) in q {
                if !roles.contains(role) {
                    return Err(format!(
                        "{ACCESS_FIELD}.quotas_km2: '{role}' is not one of the collection's roles"
                    ));
                }
                match km2.as_f64() {
                    Some(v) if v.is_finite() && v >= 0.0 => {
                        quotas_km2.insert(role.clone(), v);
                    }
                    _ => {
                        return Err(format!(
                            "{ACCESS_FIELD}.quotas_km2.{role} must be a number >= 0"
                        ));
                    }
                }
            }
        }
        Ok(Policy {
            access: Access::Restricted(roles),
            quotas_km2,
        })
    }

    /// The yearly quota of a caller holding `roles` (the largest of their
    /// roles' quotas); `None`: unlimited.
    pub fn quota_for<'a>(&self, roles: impl IntoIterator<Item = &'a str>) -> Option<f64> {
        let Access::Restricted(allowed) = &self.access else {
            return None;
        };
        let mut best: Option<f64> = None;
        for role in roles {
            if !allowed.iter().any(|a| a == role) {
                continue;
            }
            match self.quotas_km2.get(role) {
                None => return None,
                Some(q) => best = Some(best.map_or(*q, |b| b.max(*q))),
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn policy(v: Value) -> Result<Policy, String> {
        let mut doc = Map::new();
        doc.insert(ACCESS_FIELD.into(), v);
        Policy::of(&doc)
    }

    #[test]
    fn reads_restricted_policies_and_quotas() {
        let p = policy(
            json!({"policy": "restricted", "roles": ["scientific", "public-actor"],
            "quotas_km2": {"scientific": 4500, "public-actor": 3500}}),
        )
        .unwrap();
        assert_eq!(
            p.access,
            Access::Restricted(vec!["scientific".into(), "public-actor".into()])
        );
        assert_eq!(p.quota_for(["scientific"]), Some(4500.0));
        assert_eq!(p.quota_for(["public-actor"]), Some(3500.0));
        assert_eq!(p.quota_for(["public-actor", "scientific"]), Some(4500.0));
        assert_eq!(p.quota_for(["private-rd"]), None);
        assert_eq!(Policy::of(&Map::new()).unwrap(), Policy::default());
    }

    #[test]
    fn rejects_bad_policies() {
        for bad in [
            json!("restricted"),
            json!({"policy": "secret"}),
            json!({"policy": "restricted"}),
            json!({"policy": "restricted", "roles": []}),
            json!({"policy": "restricted", "roles": ["root"]}),
            json!({"policy": "restricted", "roles": ["scientific"], "quotas_km2": {"private-rd": 1}}),
            json!({"policy": "restricted", "roles": ["scientific"], "quotas_km2": {"scientific": -1}}),
            json!({"policy": "open", "roles": ["scientific"]}),
            json!({"policy": "open", "extra": 1}),
        ] {
            assert!(policy(bad.clone()).is_err(), "{bad}");
        }
    }
}
