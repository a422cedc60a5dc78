//! Accounts in the PostgreSQL store.
//!
//! A quota claim takes a transaction-level advisory lock on (user,
//! collection, year) before reading the year's use: concurrent claims for the
//! same quota, from any instance, run one after the other.

use super::{PostgresCatalog, pg};
use crate::catalog::CatalogError;
use crate::catalog::accounts::{
    Accounts, AuditEvent, KeyOwner, KeyRecord, LedgerEntry, Organisation, QuotaClaim,
    QuotaDecision, Usage, User,
};
use crate::catalog::datetime::Micros;
use crate::catalog::error::Result;
use async_trait::async_trait;
use tokio_postgres::Row;
use tokio_postgres::error::SqlState;

fn organisation(row: &Row, at: usize) -> Result<Organisation> {
    Ok(Organisation {
        id: row.try_get(at).map_err(pg)?,
        name: row.try_get(at + 1).map_err(pg)?,
        charter_signed: row.try_get(at + 2).map_err(pg)?,
        created: row.try_get(at + 3).map_err(pg)?,
    })
}

fn user(row: &Row, at: usize) -> Result<User> {
    let roles: String = row.try_get(at + 3).map_err(pg)?;
    Ok(User {
        id: row.try_get(at).map_err(pg)?,
        name: row.try_get(at + 1).map_err(pg)?,
        organisation: row.try_get(at + 2).map_err(pg)?,
        roles: serde_json::from_str(&roles).unwrap_or_default(),
        created: row.try_get(at + 4).map_err(pg)?,
        disabled: row.try_get(at + 5).map_err(pg)?,
    })
}

fn key(row: &Row, at: usize) -> Result<KeyRecord> {
    Ok(KeyRecord {
        id: row.try_get(at).map_err(pg)?,
        user: row.try_get(at + 1).map_err(pg)?,
        label: row.try_get(at + 2).map_err(pg)?,
        hash: row.try_get(at + 3).map_err(pg)?,
        created: row.try_get(at + 4).map_err(pg)?,
        revoked: row.try_get(at + 5).map_err(pg)?,
    })
}

fn audit_event(r: &Row) -> Result<AuditEvent> {
    Ok(AuditEvent {
        at: r.try_get(0).map_err(pg)?,
        action: r.try_get(1).map_err(pg)?,
        outcome: r.try_get(2).map_err(pg)?,
        user: r.try_get(3).map_err(pg)?,
        credential: r.try_get(4).map_err(pg)?,
        address: r.try_get(5).map_err(pg)?,
        collection: r.try_get(6).map_err(pg)?,
        item: r.try_get(7).map_err(pg)?,
        asset: r.try_get(8).map_err(pg)?,
        area_km2: r.try_get(9).map_err(pg)?,
        detail: r.try_get(10).map_err(pg)?,
    })
}

const ORG: &str = "o.id, o.name, o.charter_signed, o.created";
const USER: &str = "u.id, u.name, u.organisation, u.roles, u.created, u.disabled";
const KEY: &str = "k.id, k.user_id, k.label, k.hash, k.created, k.revoked";

/// A missing referenced row is the caller's mistake, not a storage failure.
fn missing(what: String) -> impl Fn(tokio_postgres::Error) -> CatalogError {
    move |e| {
        if e.code() == Some(&SqlState::FOREIGN_KEY_VIOLATION) {
            CatalogError::object(what.clone())
        } else {
            pg(e)
        }
    }
}

#[async_trait]
impl Accounts for PostgresCatalog {
    async fn put_organisation(&self, org: &Organisation) -> Result<()> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO organisations (id, name, charter_signed, created) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name,
                   charter_signed = excluded.charter_signed",
                &[&org.id, &org.name, &org.charter_signed, &org.created],
            )
            .await
            .map_err(pg)?;
        Ok(())
    }

    async fn organisations(&self) -> Result<Vec<Organisation>> {
        let client = self.client().await?;
        let sql = format!("SELECT {ORG} FROM organisations o ORDER BY o.id");
        let rows = client.query(&sql, &[]).await.map_err(pg)?;
        rows.iter().map(|r| organisation(r, 0)).collect()
    }

    async fn put_user(&self, u: &User) -> Result<()> {
        let client = self.client().await?;
        let roles =
            serde_json::to_string(&u.roles).map_err(|e| CatalogError::object(e.to_string()))?;
        client
            .execute(
                "INSERT INTO users (id, name, organisation, roles, created, disabled)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name,
                   organisation = excluded.organisation, roles = excluded.roles,
                   disabled = excluded.disabled",
                &[
                    &u.id,
                    &u.name,
                    &u.organisation,
                    &roles,
                    &u.created,
                    &u.disabled,
                ],
            )
            .await
            .map_err(missing(format!(
                "organisation '{}' does not exist",
                u.organisation
            )))?;
        Ok(())
    }

    async fn users(&self) -> Result<Vec<User>> {
        let client = self.client().await?;
        let sql = format!("SELECT {USER} FROM users u ORDER BY u.id");
        let rows = client.query(&sql, &[]).await.map_err(pg)?;
        rows.iter().map(|r| user(r, 0)).collect()
    }

    async fn user(&self, id: &str) -> Result<Option<(User, Organisation)>> {
        let client = self.client().await?;
        let sql = format!(
            "SELECT {USER}, {ORG} FROM users u JOIN organisations o ON o.id = u.organisation
             WHERE u.id = $1"
        );
        let stmt = client.prepare_cached(&sql).await.map_err(pg)?;
        match client.query_opt(&stmt, &[&id]).await.map_err(pg)? {
            Some(r) => Ok(Some((user(&r, 0)?, organisation(&r, 6)?))),
            None => Ok(None),
        }
    }

    async fn add_key(&self, k: &KeyRecord) -> Result<()> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO api_keys (id, user_id, label, hash, created, revoked)
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[&k.id, &k.user, &k.label, &k.hash, &k.created, &k.revoked],
            )
            .await
            .map_err(missing(format!("user '{}' does not exist", k.user)))?;
        Ok(())
    }

    async fn keys(&self, user_id: Option<&str>) -> Result<Vec<KeyRecord>> {
        let client = self.client().await?;
        let sql = format!(
            "SELECT {KEY} FROM api_keys k WHERE $1::text IS NULL OR k.user_id = $1
             ORDER BY k.created, k.id"
        );
        let rows = client.query(&sql, &[&user_id]).await.map_err(pg)?;
        rows.iter().map(|r| key(r, 0)).collect()
    }

    async fn key_owner(&self, id: &str) -> Result<Option<KeyOwner>> {
        let client = self.client().await?;
        let sql = format!(
            "SELECT {KEY}, {USER}, {ORG} FROM api_keys k
             JOIN users u ON u.id = k.user_id
             JOIN organisations o ON o.id = u.organisation
             WHERE k.id = $1"
        );
        let stmt = client.prepare_cached(&sql).await.map_err(pg)?;
        match client.query_opt(&stmt, &[&id]).await.map_err(pg)? {
            Some(r) => Ok(Some(KeyOwner {
                key: key(&r, 0)?,
                user: user(&r, 6)?,
                organisation: organisation(&r, 12)?,
            })),
            None => Ok(None),
        }
    }

    async fn revoke_key(&self, id: &str, at: Micros) -> Result<bool> {
        let client = self.client().await?;
        let n = client
            .execute(
                "UPDATE api_keys SET revoked = coalesce(revoked, $2) WHERE id = $1",
                &[&id, &at],
            )
            .await
            .map_err(pg)?;
        Ok(n > 0)
    }

    async fn claim_quota(&self, claim: &QuotaClaim) -> Result<QuotaDecision> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let lock = format!(
            "{}\u{1f}{}\u{1f}{}",
            claim.user, claim.collection, claim.year
        );
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
            &[&lock],
        )
        .await
        .map_err(pg)?;
        let counted = tx
            .query_opt(
                "SELECT 1 FROM quota_ledger
                 WHERE user_id = $1 AND collection = $2 AND year = $3 AND item = $4",
                &[&claim.user, &claim.collection, &claim.year, &claim.item],
            )
            .await
            .map_err(pg)?
            .is_some();
        let used_km2: f64 = tx
            .query_one(
                "SELECT coalesce(sum(area_km2), 0)::float8 FROM quota_ledger
                 WHERE user_id = $1 AND collection = $2 AND year = $3",
                &[&claim.user, &claim.collection, &claim.year],
            )
            .await
            .map_err(pg)?
            .try_get(0)
            .map_err(pg)?;
        let decision = if counted {
            QuotaDecision::AlreadyCounted { used_km2 }
        } else if claim
            .quota_km2
            .is_some_and(|quota| used_km2 + claim.area_km2 > quota)
        {
            QuotaDecision::Exceeded { used_km2 }
        } else {
            tx.execute(
                "INSERT INTO quota_ledger (user_id, collection, year, item, area_km2, at)
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    &claim.user,
                    &claim.collection,
                    &claim.year,
                    &claim.item,
                    &claim.area_km2,
                    &claim.at,
                ],
            )
            .await
            .map_err(pg)?;
            QuotaDecision::Counted {
                used_km2: used_km2 + claim.area_km2,
            }
        };
        tx.commit().await.map_err(pg)?;
        Ok(decision)
    }

    async fn usage(&self, user_id: &str, year: i32) -> Result<Vec<Usage>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT collection, year, sum(area_km2)::float8, count(*) FROM quota_ledger
                 WHERE user_id = $1 AND year = $2 GROUP BY collection, year ORDER BY collection",
                &[&user_id, &year],
            )
            .await
            .map_err(pg)?;
        rows.iter()
            .map(|r| {
                Ok(Usage {
                    collection: r.try_get(0).map_err(pg)?,
                    year: r.try_get(1).map_err(pg)?,
                    used_km2: r.try_get(2).map_err(pg)?,
                    items: r.try_get::<_, i64>(3).map_err(pg)? as u64,
                })
            })
            .collect()
    }

    async fn reset_quota(&self, user_id: &str, collection: Option<&str>, year: i32) -> Result<u64> {
        let client = self.client().await?;
        client
            .execute(
                "DELETE FROM quota_ledger WHERE user_id = $1 AND year = $2
                 AND ($3::text IS NULL OR collection = $3)",
                &[&user_id, &year, &collection],
            )
            .await
            .map_err(pg)
    }

    async fn ledger(&self, year: Option<i32>) -> Result<Vec<LedgerEntry>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT user_id, collection, item, year, area_km2, at FROM quota_ledger
                 WHERE $1::integer IS NULL OR year = $1 ORDER BY at, user_id, item",
                &[&year],
            )
            .await
            .map_err(pg)?;
        rows.iter()
            .map(|r| {
                Ok(LedgerEntry {
                    user: r.try_get(0).map_err(pg)?,
                    collection: r.try_get(1).map_err(pg)?,
                    item: r.try_get(2).map_err(pg)?,
                    year: r.try_get(3).map_err(pg)?,
                    area_km2: r.try_get(4).map_err(pg)?,
                    at: r.try_get(5).map_err(pg)?,
                })
            })
            .collect()
    }

    async fn audit(&self, e: &AuditEvent) -> Result<()> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(
                "INSERT INTO audit (at, action, outcome, user_id, credential, address,
                   collection, item, asset, area_km2, detail)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .await
            .map_err(pg)?;
        client
            .execute(
                &stmt,
                &[
                    &e.at,
                    &e.action,
                    &e.outcome,
                    &e.user,
                    &e.credential,
                    &e.address,
                    &e.collection,
                    &e.item,
                    &e.asset,
                    &e.area_km2,
                    &e.detail,
                ],
            )
            .await
            .map_err(pg)?;
        Ok(())
    }

    async fn audit_events(&self, limit: usize) -> Result<Vec<AuditEvent>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT at, action, outcome, user_id, credential, address, collection, item,
                   asset, area_km2, detail FROM audit ORDER BY id DESC LIMIT $1",
                &[&(limit as i64)],
            )
            .await
            .map_err(pg)?;
        rows.iter().map(audit_event).collect()
    }
}
