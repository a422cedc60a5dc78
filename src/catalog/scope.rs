//! Who is asking: the visibility seam every read goes through.
//!
//! Licensed collections (Pléiades, SPOT 6-7) must not exist for callers without
//! rights. Stores receive a [`Scope`] on every read and filter in their queries,
//! never afterwards, so counts and paging stay correct.

use std::collections::BTreeSet;

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
