//! Accounts kept in the store: organisations, users, API keys, the quota
//! ledger and the audit trail.
//!
//! They live in the same database as the catalogue so that every instance of
//! a deployment shares them, and so that a quota grant is one transaction:
//! [`Accounts::claim_quota`] must never grant more than the quota, however
//! many downloads race for its last square kilometres.

use super::datetime::Micros;
use super::error::Result;
use async_trait::async_trait;
use serde::Serialize;

/// An organisation whose members may hold licence roles.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Organisation {
    /// Short id (`inrae`, `ign`, …).
    pub id: String,
    /// Full name.
    pub name: String,
    /// Date the licence charter was signed (`YYYY-MM-DD`); `None`: not signed,
    /// and then its members' roles grant nothing.
    pub charter_signed: Option<String>,
    /// Creation time.
    pub created: Micros,
}

/// A user.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct User {
    /// Login-like id (`alice`, an e-mail address, `oidc:<subject>`).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Organisation id.
    pub organisation: String,
    /// Role names (`scientific`, `public-actor`, `private-rd`, `admin`).
    pub roles: Vec<String>,
    /// Creation time.
    pub created: Micros,
    /// A disabled user's keys do not authenticate.
    pub disabled: bool,
}

/// An API key's record (never its secret).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KeyRecord {
    /// The public id.
    pub id: String,
    /// Owner's user id.
    pub user: String,
    /// What it is for.
    pub label: String,
    /// Argon2id hash of the secret (PHC string).
    #[serde(skip)]
    pub hash: String,
    /// Creation time.
    pub created: Micros,
    /// Revocation time, if revoked.
    pub revoked: Option<Micros>,
}

/// A key with its owner and the owner's organisation.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyOwner {
    /// The key.
    pub key: KeyRecord,
    /// Its owner.
    pub user: User,
    /// The owner's organisation.
    pub organisation: Organisation,
}

/// A request to count an item's footprint against a quota.
#[derive(Debug, Clone, PartialEq)]
pub struct QuotaClaim {
    /// User id.
    pub user: String,
    /// Collection id.
    pub collection: String,
    /// Item id.
    pub item: String,
    /// Quota year (UTC calendar year).
    pub year: i32,
    /// The item's footprint area, km².
    pub area_km2: f64,
    /// The user's quota for this collection and year, km²; `None`: unlimited
    /// (still recorded).
    pub quota_km2: Option<f64>,
    /// When.
    pub at: Micros,
}

/// What a claim came to.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum QuotaDecision {
    /// Counted now; the year's use is now `used_km2`.
    Counted {
        /// Use after this claim, km².
        used_km2: f64,
    },
    /// The item was counted before this year: free.
    AlreadyCounted {
        /// Use, km² (unchanged).
        used_km2: f64,
    },
    /// Counting it would pass the quota: refused, nothing recorded.
    Exceeded {
        /// Use, km² (unchanged).
        used_km2: f64,
    },
}

/// One line of the ledger.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LedgerEntry {
    /// User id.
    pub user: String,
    /// Collection id.
    pub collection: String,
    /// Item id.
    pub item: String,
    /// Quota year.
    pub year: i32,
    /// Counted area, km².
    pub area_km2: f64,
    /// When it was counted.
    pub at: Micros,
}

/// A user's use of one collection's quota in one year.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Usage {
    /// Collection id.
    pub collection: String,
    /// Quota year.
    pub year: i32,
    /// Area counted, km².
    pub used_km2: f64,
    /// Items counted.
    pub items: u64,
}

/// A grant or a denial, for the audit trail.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEvent {
    /// When.
    pub at: Micros,
    /// What was asked (`download`, `authenticate`, …).
    pub action: String,
    /// `granted` or `denied`.
    pub outcome: String,
    /// User id, if known.
    pub user: Option<String>,
    /// Credential (`key:<id>`, `oidc:<issuer>`, `admin-token`), if any.
    pub credential: Option<String>,
    /// Client address.
    pub address: Option<String>,
    /// Collection, item and asset concerned, if any.
    pub collection: Option<String>,
    /// Item id.
    pub item: Option<String>,
    /// Asset key.
    pub asset: Option<String>,
    /// Area counted or asked for, km².
    pub area_km2: Option<f64>,
    /// Why (the quota figures, the failure reason).
    pub detail: String,
}

/// Account records in a store.
#[async_trait]
pub trait Accounts: Send + Sync {
    /// Creates or updates an organisation.
    async fn put_organisation(&self, org: &Organisation) -> Result<()>;
    /// Every organisation, by id.
    async fn organisations(&self) -> Result<Vec<Organisation>>;
    /// Creates or updates a user (its organisation must exist).
    async fn put_user(&self, user: &User) -> Result<()>;
    /// Every user, by id.
    async fn users(&self) -> Result<Vec<User>>;
    /// One user and their organisation.
    async fn user(&self, id: &str) -> Result<Option<(User, Organisation)>>;
    /// Stores a new key (its user must exist).
    async fn add_key(&self, key: &KeyRecord) -> Result<()>;
    /// Keys, all or one user's, by creation.
    async fn keys(&self, user: Option<&str>) -> Result<Vec<KeyRecord>>;
    /// A key with its owner, for authentication.
    async fn key_owner(&self, id: &str) -> Result<Option<KeyOwner>>;
    /// Revokes a key; false when there is no such key.
    async fn revoke_key(&self, id: &str, at: Micros) -> Result<bool>;
    /// Counts an item against a quota, atomically with the check.
    async fn claim_quota(&self, claim: &QuotaClaim) -> Result<QuotaDecision>;
    /// A user's use per collection in a year.
    async fn usage(&self, user: &str, year: i32) -> Result<Vec<Usage>>;
    /// Forgets a user's counted items (one collection or all) in a year;
    /// returns how many ledger lines were removed.
    async fn reset_quota(&self, user: &str, collection: Option<&str>, year: i32) -> Result<u64>;
    /// The ledger, one year or all, by time.
    async fn ledger(&self, year: Option<i32>) -> Result<Vec<LedgerEntry>>;
    /// Appends to the audit trail.
    async fn audit(&self, event: &AuditEvent) -> Result<()>;
    /// The newest audit events, newest first.
    async fn audit_events(&self, limit: usize) -> Result<Vec<AuditEvent>>;
}

/// Checks an id given to the account commands.
pub fn check_account_id(id: &str, what: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 200
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.@:".contains(c));
    if ok {
        Ok(())
    } else {
        Err(super::CatalogError::object(format!(
            "{what} '{id}': use 1-200 characters among a-z A-Z 0-9 - _ . @ :"
        )))
    }
}
