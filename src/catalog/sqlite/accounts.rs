//! Accounts in the embedded store.
//!
//! Quota claims run in an `IMMEDIATE` transaction: SQLite then holds the
//! database's write lock from the check to the insert, across processes too.

use super::{SqliteCatalog, db};
use crate::catalog::CatalogError;
use crate::catalog::accounts::{
    Accounts, AuditEvent, KeyOwner, KeyRecord, LedgerEntry, Organisation, QuotaClaim,
    QuotaDecision, Usage, User,
};
use crate::catalog::datetime::Micros;
use crate::catalog::error::Result;
use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};

fn organisation(row: &Row, at: usize) -> rusqlite::Result<Organisation> {
    Ok(Organisation {
        id: row.get(at)?,
        name: row.get(at + 1)?,
        charter_signed: row.get(at + 2)?,
        created: row.get(at + 3)?,
    })
}

fn user(row: &Row, at: usize) -> rusqlite::Result<User> {
    let roles: String = row.get(at + 3)?;
    Ok(User {
        id: row.get(at)?,
        name: row.get(at + 1)?,
        organisation: row.get(at + 2)?,
        roles: serde_json::from_str(&roles).unwrap_or_default(),
        created: row.get(at + 4)?,
        disabled: row.get::<_, i64>(at + 5)? != 0,
    })
}

fn key(row: &Row, at: usize) -> rusqlite::Result<KeyRecord> {
    Ok(KeyRecord {
        id: row.get(at)?,
        user: row.get(at + 1)?,
        label: row.get(at + 2)?,
        hash: row.get(at + 3)?,
        created: row.get(at + 4)?,
        revoked: row.get(at + 5)?,
    })
}

const ORG: &str = "o.id, o.name, o.charter_signed, o.created";
const USER: &str = "u.id, u.name, u.organisation, u.roles, u.created, u.disabled";
const KEY: &str = "k.id, k.user_id, k.label, k.hash, k.created, k.revoked";

fn exists(conn: &Connection, sql: &str, id: &str) -> Result<bool> {
    conn.prepare_cached(sql)
        .map_err(db)?
        .exists([id])
        .map_err(db)
}

fn used(conn: &Connection, claim: &QuotaClaim) -> Result<f64> {
    conn.query_row(
        "SELECT coalesce(sum(area_km2), 0) FROM quota_ledger
         WHERE user_id = ?1 AND collection = ?2 AND year = ?3",
        params![claim.user, claim.collection, claim.year],
        |r| r.get(0),
    )
    .map_err(db)
}

fn claim_in(conn: &mut Connection, claim: &QuotaClaim) -> Result<QuotaDecision> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db)?;
    let counted = tx
        .query_row(
            "SELECT 1 FROM quota_ledger
             WHERE user_id = ?1 AND collection = ?2 AND year = ?3 AND item = ?4",
            params![claim.user, claim.collection, claim.year, claim.item],
            |_| Ok(()),
        )
        .optional()
        .map_err(db)?
        .is_some();
    let used_km2 = used(&tx, claim)?;
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
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                claim.user,
                claim.collection,
                claim.year,
                claim.item,
                claim.area_km2,
                claim.at
            ],
        )
        .map_err(db)?;
        QuotaDecision::Counted {
            used_km2: used_km2 + claim.area_km2,
        }
    };
    tx.commit().map_err(db)?;
    Ok(decision)
}

#[async_trait]
impl Accounts for SqliteCatalog {
    async fn put_organisation(&self, org: &Organisation) -> Result<()> {
        let org = org.clone();
        self.write(move |conn| {
            conn.execute(
                "INSERT INTO organisations (id, name, charter_signed, created) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name,
                   charter_signed = excluded.charter_signed",
                params![org.id, org.name, org.charter_signed, org.created],
            )
            .map_err(db)?;
            Ok(())
        })
        .await
    }

    async fn organisations(&self) -> Result<Vec<Organisation>> {
        self.read(|conn| {
            let sql = format!("SELECT {ORG} FROM organisations o ORDER BY o.id");
            let mut stmt = conn.prepare_cached(&sql).map_err(db)?;
            let rows = stmt.query_map([], |r| organisation(r, 0)).map_err(db)?;
            rows.collect::<rusqlite::Result<_>>().map_err(db)
        })
        .await
    }

    async fn put_user(&self, u: &User) -> Result<()> {
        let u = u.clone();
        self.write(move |conn| {
            if !exists(
                conn,
                "SELECT 1 FROM organisations WHERE id = ?1",
                &u.organisation,
            )? {
                return Err(CatalogError::object(format!(
                    "organisation '{}' does not exist",
                    u.organisation
                )));
            }
            let roles =
                serde_json::to_string(&u.roles).map_err(|e| CatalogError::object(e.to_string()))?;
            conn.execute(
                "INSERT INTO users (id, name, organisation, roles, created, disabled)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name,
                   organisation = excluded.organisation, roles = excluded.roles,
                   disabled = excluded.disabled",
                params![
                    u.id,
                    u.name,
                    u.organisation,
                    roles,
                    u.created,
                    u.disabled as i64
                ],
            )
            .map_err(db)?;
            Ok(())
        })
        .await
    }

    async fn users(&self) -> Result<Vec<User>> {
        self.read(|conn| {
            let sql = format!("SELECT {USER} FROM users u ORDER BY u.id");
            let mut stmt = conn.prepare_cached(&sql).map_err(db)?;
            let rows = stmt.query_map([], |r| user(r, 0)).map_err(db)?;
            rows.collect::<rusqlite::Result<_>>().map_err(db)
        })
        .await
    }

    async fn user(&self, id: &str) -> Result<Option<(User, Organisation)>> {
        let id = id.to_string();
        self.read(move |conn| {
            let sql = format!(
                "SELECT {USER}, {ORG} FROM users u JOIN organisations o ON o.id = u.organisation
                 WHERE u.id = ?1"
            );
            conn.prepare_cached(&sql)
                .map_err(db)?
                .query_row([id], |r| Ok((user(r, 0)?, organisation(r, 6)?)))
                .optional()
                .map_err(db)
        })
        .await
    }

    async fn add_key(&self, k: &KeyRecord) -> Result<()> {
        let k = k.clone();
        self.write(move |conn| {
            if !exists(conn, "SELECT 1 FROM users WHERE id = ?1", &k.user)? {
                return Err(CatalogError::object(format!(
                    "user '{}' does not exist",
                    k.user
                )));
            }
            conn.execute(
                "INSERT INTO api_keys (id, user_id, label, hash, created, revoked)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![k.id, k.user, k.label, k.hash, k.created, k.revoked],
            )
            .map_err(|e| match e {
                rusqlite::Error::SqliteFailure(f, _)
                    if f.code == rusqlite::ErrorCode::ConstraintViolation =>
                {
                    CatalogError::Conflict(format!("a key with id '{}' exists", k.id))
                }
                e => db(e),
            })?;
            Ok(())
        })
        .await
    }

    async fn keys(&self, user_id: Option<&str>) -> Result<Vec<KeyRecord>> {
        let user_id = user_id.map(str::to_string);
        self.read(move |conn| {
            let sql = format!(
                "SELECT {KEY} FROM api_keys k WHERE ?1 IS NULL OR k.user_id = ?1
                 ORDER BY k.created, k.id"
            );
            let mut stmt = conn.prepare_cached(&sql).map_err(db)?;
            let rows = stmt.query_map([user_id], |r| key(r, 0)).map_err(db)?;
            rows.collect::<rusqlite::Result<_>>().map_err(db)
        })
        .await
    }

    async fn key_owner(&self, id: &str) -> Result<Option<KeyOwner>> {
        let id = id.to_string();
        self.read(move |conn| {
            let sql = format!(
                "SELECT {KEY}, {USER}, {ORG} FROM api_keys k
                 JOIN users u ON u.id = k.user_id
                 JOIN organisations o ON o.id = u.organisation
                 WHERE k.id = ?1"
            );
            conn.prepare_cached(&sql)
                .map_err(db)?
                .query_row([id], |r| {
                    Ok(KeyOwner {
                        key: key(r, 0)?,
                        user: user(r, 6)?,
                        organisation: organisation(r, 12)?,
                    })
                })
                .optional()
                .map_err(db)
        })
        .await
    }

    async fn revoke_key(&self, id: &str, at: Micros) -> Result<bool> {
        let id = id.to_string();
        self.write(move |conn| {
            let n = conn
                .execute(
                    "UPDATE api_keys SET revoked = coalesce(revoked, ?2) WHERE id = ?1",
                    params![id, at],
                )
                .map_err(db)?;
            Ok(n > 0)
        })
        .await
    }

    async fn claim_quota(&self, claim: &QuotaClaim) -> Result<QuotaDecision> {
        let claim = claim.clone();
        self.write(move |conn| claim_in(conn, &claim)).await
    }

    async fn usage(&self, user_id: &str, year: i32) -> Result<Vec<Usage>> {
        let user_id = user_id.to_string();
        self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT collection, year, sum(area_km2), count(*) FROM quota_ledger
                     WHERE user_id = ?1 AND year = ?2 GROUP BY collection ORDER BY collection",
                )
                .map_err(db)?;
            let rows = stmt
                .query_map(params![user_id, year], |r| {
                    Ok(Usage {
                        collection: r.get(0)?,
                        year: r.get(1)?,
                        used_km2: r.get(2)?,
                        items: r.get::<_, i64>(3)? as u64,
                    })
                })
                .map_err(db)?;
            rows.collect::<rusqlite::Result<_>>().map_err(db)
        })
        .await
    }

    async fn reset_quota(&self, user_id: &str, collection: Option<&str>, year: i32) -> Result<u64> {
        let (user_id, collection) = (user_id.to_string(), collection.map(str::to_string));
        self.write(move |conn| {
            let n = conn
                .execute(
                    "DELETE FROM quota_ledger WHERE user_id = ?1 AND year = ?2
                     AND (?3 IS NULL OR collection = ?3)",
                    params![user_id, year, collection],
                )
                .map_err(db)?;
            Ok(n as u64)
        })
        .await
    }

    async fn ledger(&self, year: Option<i32>) -> Result<Vec<LedgerEntry>> {
        self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT user_id, collection, item, year, area_km2, at FROM quota_ledger
                     WHERE ?1 IS NULL OR year = ?1 ORDER BY at, user_id, item",
                )
                .map_err(db)?;
            let rows = stmt
                .query_map([year], |r| {
                    Ok(LedgerEntry {
                        user: r.get(0)?,
                        collection: r.get(1)?,
                        item: r.get(2)?,
                        year: r.get(3)?,
                        area_km2: r.get(4)?,
                        at: r.get(5)?,
                    })
                })
                .map_err(db)?;
            rows.collect::<rusqlite::Result<_>>().map_err(db)
        })
        .await
    }

    async fn audit(&self, e: &AuditEvent) -> Result<()> {
        let e = e.clone();
        self.write(move |conn| {
            conn.prepare_cached(
                "INSERT INTO audit (at, action, outcome, user_id, credential, address,
                   collection, item, asset, area_km2, detail)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )
            .map_err(db)?
            .execute(params![
                e.at,
                e.action,
                e.outcome,
                e.user,
                e.credential,
                e.address,
                e.collection,
                e.item,
                e.asset,
                e.area_km2,
                e.detail
            ])
            .map_err(db)?;
            Ok(())
        })
        .await
    }

    async fn audit_events(&self, limit: usize) -> Result<Vec<AuditEvent>> {
        self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT at, action, outcome, user_id, credential, address, collection, item,
                       asset, area_km2, detail FROM audit ORDER BY id DESC LIMIT ?1",
                )
                .map_err(db)?;
            let rows = stmt
                .query_map([limit as i64], |r| {
                    Ok(AuditEvent {
                        at: r.get(0)?,
                        action: r.get(1)?,
                        outcome: r.get(2)?,
                        user: r.get(3)?,
                        credential: r.get(4)?,
                        address: r.get(5)?,
                        collection: r.get(6)?,
                        item: r.get(7)?,
                        asset: r.get(8)?,
                        area_km2: r.get(9)?,
                        detail: r.get(10)?,
                    })
                })
                .map_err(db)?;
            rows.collect::<rusqlite::Result<_>>().map_err(db)
        })
        .await
    }
}
