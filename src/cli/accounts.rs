//! `tuilerie orgs|users|keys|ledger|audit`: the account records in the store.

use crate::auth::{Role, keys};
use crate::catalog::accounts::{KeyRecord, Organisation, User, check_account_id};
use crate::catalog::datetime::{format_rfc3339, now_micros};
use crate::catalog::{CatalogError, SharedCatalog};
use crate::error::{Error, Result};
use clap::{Args, Subcommand};
use std::io::Write;
use std::path::PathBuf;

/// Where the account commands find the store.
#[derive(Debug, Args)]
pub struct StoreArg {
    /// SQLite file or postgres:// URL (store.url).
    #[arg(long)]
    pub store: Option<String>,
}

/// `tuilerie orgs …`
#[derive(Debug, Subcommand)]
pub enum OrgsCommand {
    /// Creates (or renames) an organisation.
    Add {
        /// Short id (e.g. `inrae`).
        id: String,
        /// Full name.
        #[arg(long)]
        name: String,
        /// Date the licence charter was signed (YYYY-MM-DD); without it the
        /// organisation's members are granted nothing.
        #[arg(long)]
        charter_signed: Option<String>,
        #[command(flatten)]
        store: StoreArg,
    },
    /// Records the charter's signature date, or `none` to withdraw it.
    Charter {
        /// Organisation id.
        id: String,
        /// YYYY-MM-DD, or `none`.
        date: String,
        #[command(flatten)]
        store: StoreArg,
    },
    /// Lists organisations.
    List {
        #[command(flatten)]
        store: StoreArg,
    },
}

/// `tuilerie users …`
#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Creates (or updates) a user.
    Add {
        /// User id (e.g. an e-mail address).
        id: String,
        /// Organisation id.
        #[arg(long)]
        org: String,
        /// Role: scientific, public-actor, private-rd or admin (repeatable).
        #[arg(long = "role")]
        roles: Vec<String>,
        /// Display name (default: the id).
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        store: StoreArg,
    },
    /// Disables a user (their keys stop working).
    Disable {
        /// User id.
        id: String,
        #[command(flatten)]
        store: StoreArg,
    },
    /// Enables a disabled user.
    Enable {
        /// User id.
        id: String,
        #[command(flatten)]
        store: StoreArg,
    },
    /// Lists users.
    List {
        #[command(flatten)]
        store: StoreArg,
    },
    /// Shows a user's quota use per collection.
    Quota {
        /// User id.
        id: String,
        /// Year (default: this year).
        #[arg(long)]
        year: Option<i32>,
        #[command(flatten)]
        store: StoreArg,
    },
    /// Resets a user's quota use (one collection or all) for a year.
    ResetQuota {
        /// User id.
        id: String,
        /// Only this collection.
        #[arg(long)]
        collection: Option<String>,
        /// Year (default: this year).
        #[arg(long)]
        year: Option<i32>,
        #[command(flatten)]
        store: StoreArg,
    },
}

/// `tuilerie keys …`
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Creates an API key for a user and prints it (once: only its hash is kept).
    Create {
        /// User id.
        user: String,
        /// What the key is for.
        #[arg(long, default_value = "")]
        label: String,
        #[command(flatten)]
        store: StoreArg,
    },
    /// Lists keys (ids, owners, state; never secrets).
    List {
        /// Only this user's.
        #[arg(long)]
        user: Option<String>,
        #[command(flatten)]
        store: StoreArg,
    },
    /// Revokes a key at once.
    Revoke {
        /// Key id (the part after `tui_`) or the whole key.
        id: String,
        #[command(flatten)]
        store: StoreArg,
    },
}

/// Options of `tuilerie ledger`.
#[derive(Debug, Args)]
pub struct LedgerArgs {
    /// Only this year.
    #[arg(long)]
    pub year: Option<i32>,
    /// Write the CSV here instead of standard output.
    #[arg(long)]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub store: StoreArg,
}

/// Options of `tuilerie audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// How many of the newest events.
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
    #[command(flatten)]
    pub store: StoreArg,
}

fn this_year() -> i32 {
    use chrono::Datelike;
    chrono::Utc::now().year()
}

fn invalid(msg: impl Into<String>) -> Error {
    Error::Catalog(CatalogError::object(msg))
}

fn check_date(date: &str) -> Result<String> {
    chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .map(|d| d.format("%Y-%m-%d").to_string())
        .map_err(|_| invalid(format!("'{date}' is not a date (YYYY-MM-DD)")))
}

fn check_roles(roles: &[String]) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for r in roles.iter().flat_map(|r| r.split(',')) {
        let role = Role::parse(r).ok_or_else(|| {
            invalid(format!(
                "unknown role '{r}': use {}",
                Role::ALL.map(Role::as_str).join(", ")
            ))
        })?;
        if !out.iter().any(|o| o == role.as_str()) {
            out.push(role.as_str().to_string());
        }
    }
    Ok(out)
}

async fn find_org(catalog: &SharedCatalog, id: &str) -> Result<Organisation> {
    catalog
        .accounts()
        .organisations()
        .await?
        .into_iter()
        .find(|o| o.id == id)
        .ok_or_else(|| invalid(format!("organisation '{id}' does not exist")))
}

/// Runs `orgs …`.
pub async fn orgs(catalog: &SharedCatalog, command: OrgsCommand) -> Result<()> {
    let accounts = catalog.accounts();
    match command {
        OrgsCommand::Add {
            id,
            name,
            charter_signed,
            ..
        } => {
            check_account_id(&id, "organisation id")?;
            let charter_signed = charter_signed.as_deref().map(check_date).transpose()?;
            let created = match find_org(catalog, &id).await {
                Ok(o) => o.created,
                Err(_) => now_micros(),
            };
            accounts
                .put_organisation(&Organisation {
                    id: id.clone(),
                    name,
                    charter_signed: charter_signed.clone(),
                    created,
                })
                .await?;
            println!(
                "organisation {id}: charter {}",
                charter_signed
                    .as_deref()
                    .unwrap_or("not signed (grants nothing)")
            );
        }
        OrgsCommand::Charter { id, date, .. } => {
            let mut org = find_org(catalog, &id).await?;
            org.charter_signed = match date.as_str() {
                "none" => None,
                d => Some(check_date(d)?),
            };
            accounts.put_organisation(&org).await?;
            println!(
                "organisation {id}: charter {}",
                org.charter_signed.as_deref().unwrap_or("not signed")
            );
        }
        OrgsCommand::List { .. } => {
            println!("{:<16} {:<12} name", "id", "charter");
            for o in accounts.organisations().await? {
                println!(
                    "{:<16} {:<12} {}",
                    o.id,
                    o.charter_signed.as_deref().unwrap_or("-"),
                    o.name
                );
            }
        }
    }
    Ok(())
}

async fn set_disabled(catalog: &SharedCatalog, id: &str, disabled: bool) -> Result<()> {
    let (mut user, _) = catalog
        .accounts()
        .user(id)
        .await?
        .ok_or_else(|| invalid(format!("user '{id}' does not exist")))?;
    user.disabled = disabled;
    catalog.accounts().put_user(&user).await?;
    println!(
        "user {id}: {}",
        if disabled { "disabled" } else { "enabled" }
    );
    Ok(())
}

/// Runs `users …`.
pub async fn users(catalog: &SharedCatalog, command: UsersCommand) -> Result<()> {
    let accounts = catalog.accounts();
    match command {
        UsersCommand::Add {
            id,
            org,
            roles,
            name,
            ..
        } => {
            check_account_id(&id, "user id")?;
            let roles = check_roles(&roles)?;
            let existing = accounts.user(&id).await?;
            let user = User {
                name: name.unwrap_or_else(|| id.clone()),
                id: id.clone(),
                organisation: org,
                roles: roles.clone(),
                created: existing
                    .as_ref()
                    .map_or_else(now_micros, |(u, _)| u.created),
                disabled: existing.is_some_and(|(u, _)| u.disabled),
            };
            accounts.put_user(&user).await?;
            println!(
                "user {id} ({}): roles [{}]",
                user.organisation,
                roles.join(", ")
            );
        }
        UsersCommand::Disable { id, .. } => set_disabled(catalog, &id, true).await?,
        UsersCommand::Enable { id, .. } => set_disabled(catalog, &id, false).await?,
        UsersCommand::List { .. } => {
            println!("{:<24} {:<16} {:<9} roles", "id", "organisation", "state");
            for u in accounts.users().await? {
                println!(
                    "{:<24} {:<16} {:<9} {}",
                    u.id,
                    u.organisation,
                    if u.disabled { "disabled" } else { "active" },
                    u.roles.join(",")
                );
            }
        }
        UsersCommand::Quota { id, year, .. } => {
            let year = year.unwrap_or_else(this_year);
            let usage = accounts.usage(&id, year).await?;
            if usage.is_empty() {
                println!("user {id}: nothing counted in {year}");
            }
            for u in usage {
                println!(
                    "{} {year}: {:.3} km² in {} item(s)",
                    u.collection, u.used_km2, u.items
                );
            }
        }
        UsersCommand::ResetQuota {
            id,
            collection,
            year,
            ..
        } => {
            let year = year.unwrap_or_else(this_year);
            let n = accounts
                .reset_quota(&id, collection.as_deref(), year)
                .await?;
            println!(
                "user {id}: {n} counted item(s) forgotten for {} in {year}",
                collection.as_deref().unwrap_or("every collection")
            );
        }
    }
    Ok(())
}

/// Runs `keys …`.
pub async fn keys_command(catalog: &SharedCatalog, command: KeysCommand) -> Result<()> {
    let accounts = catalog.accounts();
    match command {
        KeysCommand::Create { user, label, .. } => {
            if accounts.user(&user).await?.is_none() {
                return Err(invalid(format!("user '{user}' does not exist")));
            }
            let new = keys::generate().map_err(|e| invalid(e.to_string()))?;
            accounts
                .add_key(&KeyRecord {
                    id: new.id.clone(),
                    user: user.clone(),
                    label,
                    hash: new.hash,
                    created: now_micros(),
                    revoked: None,
                })
                .await?;
            eprintln!(
                "key {} created for {user}; it is shown once, keep it safe:",
                new.id
            );
            println!("{}", new.key);
        }
        KeysCommand::List { user, .. } => {
            println!(
                "{:<14} {:<24} {:<21} {:<21} label",
                "id", "user", "created", "revoked"
            );
            for k in accounts.keys(user.as_deref()).await? {
                println!(
                    "{:<14} {:<24} {:<21} {:<21} {}",
                    k.id,
                    k.user,
                    short_time(k.created),
                    k.revoked.map(short_time).unwrap_or_else(|| "-".into()),
                    k.label
                );
            }
        }
        KeysCommand::Revoke { id, .. } => {
            let id = keys::parse(&id).map(|k| k.id.to_string()).unwrap_or(id);
            if accounts.revoke_key(&id, now_micros()).await? {
                println!("key {id} revoked");
            } else {
                return Err(invalid(format!("no key '{id}'")));
            }
        }
    }
    Ok(())
}

fn short_time(micros: i64) -> String {
    let t = format_rfc3339(micros);
    t.get(..19).map(|s| format!("{s}Z")).unwrap_or(t)
}

/// Quotes a CSV field when needed.
fn csv(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

/// Runs `ledger`: the quota ledger as CSV.
pub async fn ledger(catalog: &SharedCatalog, args: LedgerArgs) -> Result<()> {
    let entries = catalog.accounts().ledger(args.year).await?;
    let mut out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(std::io::BufWriter::new(std::fs::File::create(path)?)),
        None => Box::new(std::io::stdout().lock()),
    };
    writeln!(out, "time,user,collection,item,year,area_km2")?;
    for e in &entries {
        writeln!(
            out,
            "{},{},{},{},{},{:.6}",
            format_rfc3339(e.at),
            csv(&e.user),
            csv(&e.collection),
            csv(&e.item),
            e.year,
            e.area_km2
        )?;
    }
    out.flush()?;
    if let Some(path) = &args.output {
        eprintln!(
            "{} ledger line(s) written to {}",
            entries.len(),
            path.display()
        );
    }
    Ok(())
}

/// Runs `audit`: the newest audit events, one per line, newest first.
pub async fn audit(catalog: &SharedCatalog, args: AuditArgs) -> Result<()> {
    for e in catalog.accounts().audit_events(args.limit).await? {
        println!(
            "{} {:<12} {:<7} user={} credential={} address={} {}{}{} {}",
            short_time(e.at),
            e.action,
            e.outcome,
            e.user.as_deref().unwrap_or("-"),
            e.credential.as_deref().unwrap_or("-"),
            e.address.as_deref().unwrap_or("-"),
            e.collection.as_deref().unwrap_or(""),
            e.item
                .as_deref()
                .map(|i| format!("/{i}"))
                .unwrap_or_default(),
            e.asset
                .as_deref()
                .map(|a| format!("/{a}"))
                .unwrap_or_default(),
            e.detail
        );
    }
    Ok(())
}

/// The demo's accounts and their two published keys: a scientist of an
/// organisation that signed the charter (sees the licensed collections), and
/// a member of one that did not (sees open data only, like an anonymous caller).
pub const DEMO_KEYS: [(&str, &str, &str); 2] = [
    (
        "scientific, charter signed (Pléiades, SPOT 6-7, open data)",
        "demoscience0",
        "DemoScientistKeyForTryingTuileri",
    ),
    (
        "charter not signed (open data only, as anonymous)",
        "demovisitor0",
        "DemoVisitorKeyOpenDataOnlyTuiler",
    ),
];

/// Creates the demo's organisations, users and keys (once); returns the keys
/// to print.
pub async fn demo_accounts(catalog: &SharedCatalog) -> Result<Vec<(&'static str, String)>> {
    let accounts = catalog.accounts();
    let now = now_micros();
    for (id, name, charter) in [
        ("demo-lab", "Demo research laboratory", Some("2026-01-05")),
        (
            "demo-unsigned",
            "Demo organisation without a signed charter",
            None,
        ),
    ] {
        accounts
            .put_organisation(&Organisation {
                id: id.into(),
                name: name.into(),
                charter_signed: charter.map(String::from),
                created: now,
            })
            .await?;
    }
    for (id, org) in [
        ("demo-scientist", "demo-lab"),
        ("demo-visitor", "demo-unsigned"),
    ] {
        accounts
            .put_user(&User {
                id: id.into(),
                name: id.into(),
                organisation: org.into(),
                roles: vec!["scientific".into()],
                created: now,
                disabled: false,
            })
            .await?;
    }
    let mut out = Vec::new();
    for ((what, id, secret), user) in DEMO_KEYS.iter().zip(["demo-scientist", "demo-visitor"]) {
        let key = keys::from_parts(id, secret).map_err(|e| invalid(e.to_string()))?;
        if !accounts.keys(Some(user)).await?.iter().any(|k| k.id == *id) {
            accounts
                .add_key(&KeyRecord {
                    id: key.id.clone(),
                    user: user.into(),
                    label: "demo".into(),
                    hash: key.hash.clone(),
                    created: now,
                    revoked: None,
                })
                .await?;
        }
        out.push((*what, key.key));
    }
    Ok(out)
}

macro_rules! store_of {
    ($t:ty { $($v:ident),* }) => {
        impl $t {
            /// The `--store` option of the command.
            pub fn store(&self) -> &StoreArg {
                match self { $(Self::$v { store, .. } => store),* }
            }
        }
    };
}

store_of!(OrgsCommand { Add, Charter, List });
store_of!(UsersCommand {
    Add,
    Disable,
    Enable,
    List,
    Quota,
    ResetQuota
});
store_of!(KeysCommand {
    Create,
    List,
    Revoke
});
