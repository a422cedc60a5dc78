//! The authenticated caller of one request.

use super::Role;
use crate::catalog::Scope;
use serde::Serialize;
use std::collections::BTreeSet;

/// How the caller proved who they are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Credential {
    /// No credential.
    Anonymous,
    /// An API key, by its public id.
    ApiKey {
        /// The key id.
        id: String,
    },
    /// An OpenID Connect token.
    Token {
        /// The issuer.
        issuer: String,
    },
    /// The configured administrator token (`auth.admin_token`).
    AdminToken,
}

/// The organisation a caller belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Membership {
    /// Organisation id.
    pub id: String,
    /// Organisation name.
    pub name: String,
    /// When it signed the licence charter (`YYYY-MM-DD`); `None`: not signed.
    pub charter_signed: Option<String>,
}

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Caller {
    /// How they authenticated.
    pub credential: Credential,
    /// The user id quotas are counted against (`None` for anonymous callers
    /// and the administrator token).
    pub user: Option<String>,
    /// A display name.
    pub name: Option<String>,
    /// Their organisation, if known.
    pub organisation: Option<Membership>,
    /// Roles the user holds (before the charter rule).
    pub roles: BTreeSet<Role>,
}

impl Caller {
    /// A caller without credentials.
    pub fn anonymous() -> Caller {
        Caller {
            credential: Credential::Anonymous,
            user: None,
            name: None,
            organisation: None,
            roles: BTreeSet::new(),
        }
    }

    /// The holder of the administrator token.
    pub fn admin_token() -> Caller {
        Caller {
            credential: Credential::AdminToken,
            user: None,
            name: Some("administrator token".into()),
            organisation: None,
            roles: BTreeSet::from([Role::Admin]),
        }
    }

    /// True for anonymous callers.
    pub fn is_anonymous(&self) -> bool {
        self.credential == Credential::Anonymous
    }

    /// True for administrators (the admin role needs no charter).
    pub fn is_admin(&self) -> bool {
        self.roles.contains(&Role::Admin)
    }

    /// True when the caller's organisation has signed the charter.
    pub fn charter_signed(&self) -> bool {
        self.organisation
            .as_ref()
            .is_some_and(|o| o.charter_signed.is_some())
    }

    /// The licence roles that take effect: none unless the organisation has
    /// signed the charter.
    pub fn effective_roles(&self) -> BTreeSet<Role> {
        if self.is_admin() {
            return self.roles.clone();
        }
        if !self.charter_signed() {
            return BTreeSet::new();
        }
        self.roles.clone()
    }

    /// What the caller may see in the catalogue.
    pub fn scope(&self) -> Scope {
        if self.is_admin() {
            return Scope::All;
        }
        Scope::Roles(
            self.effective_roles()
                .into_iter()
                .map(|r| r.as_str().to_string())
                .collect(),
        )
    }

    /// The name rate limits count this caller under (`None`: by address only).
    pub fn rate_key(&self) -> Option<String> {
        match &self.credential {
            Credential::Anonymous => None,
            Credential::ApiKey { id } => Some(format!("key:{id}")),
            Credential::Token { .. } => self.user.clone(),
            Credential::AdminToken => Some("admin-token".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(signed: bool, roles: &[Role]) -> Caller {
        Caller {
            credential: Credential::ApiKey { id: "k".into() },
            user: Some("u".into()),
            name: None,
            organisation: Some(Membership {
                id: "o".into(),
                name: "O".into(),
                charter_signed: signed.then(|| "2026-01-05".into()),
            }),
            roles: roles.iter().copied().collect(),
        }
    }

    #[test]
    fn no_charter_grants_nothing() {
        let c = member(false, &[Role::Scientific]);
        assert_eq!(c.scope(), Scope::anonymous());
        let c = member(true, &[Role::Scientific]);
        assert_eq!(
            c.scope(),
            Scope::Roles(BTreeSet::from(["scientific".to_string()]))
        );
    }

    #[test]
    fn admins_see_everything() {
        assert_eq!(Caller::admin_token().scope(), Scope::All);
        assert_eq!(member(false, &[Role::Admin]).scope(), Scope::All);
        assert_eq!(Caller::anonymous().scope(), Scope::anonymous());
    }
}
