//! The command line: `serve`, `ingest`, `demo`, `migrate`, and the account
//! commands (`orgs`, `users`, `keys`, `ledger`, `audit`).

pub mod accounts;

use crate::api::{self, AppState};
use crate::catalog::ingest::{IngestOptions, IngestReport, Progress, ingest};
use crate::catalog::postgres::{PgOptions, PostgresCatalog};
use crate::catalog::sqlite::{CountPolicy, SqliteOptions};
use crate::catalog::{Catalog, SharedCatalog, StoreOptions, shipped};
use crate::config::Config;
use crate::error::{Error, Result};
use actix_web::{HttpServer, web};
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// STAC catalogue and tile server for Earth-observation imagery.
#[derive(Debug, Parser)]
#[command(name = "tuilerie", version, about)]
pub struct Cli {
    /// Configuration file (TOML); also TUILERIE_CONFIG.
    #[arg(long, global = true, env = "TUILERIE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Log filter (overrides log.level), e.g. `debug` or `tuilerie=debug`.
    #[arg(long, global = true)]
    pub log: Option<String>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the STAC API.
    Serve(ServeArgs),
    /// Load STAC items and collections into the store.
    Ingest(IngestArgs),
    /// Generate demo data, load it into a store in DIR, and serve it.
    Demo(DemoArgs),
    /// Apply the PostgreSQL schema migrations (serve and ingest also do at start-up).
    Migrate(MigrateArgs),
    /// Organisations and their licence charter.
    #[command(subcommand)]
    Orgs(accounts::OrgsCommand),
    /// Users, their roles and quotas.
    #[command(subcommand)]
    Users(accounts::UsersCommand),
    /// API keys.
    #[command(subcommand)]
    Keys(accounts::KeysCommand),
    /// Export the quota ledger as CSV.
    Ledger(accounts::LedgerArgs),
    /// Show the newest audit events.
    Audit(accounts::AuditArgs),
}

/// Options of `migrate`.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// postgres:// URL (store.url).
    #[arg(long)]
    pub store: Option<String>,
}

/// Options of `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (server.bind).
    #[arg(long)]
    pub bind: Option<String>,
    /// SQLite file or postgres:// URL (store.url).
    #[arg(long)]
    pub store: Option<String>,
    /// Public base URL for links (server.public_url).
    #[arg(long)]
    pub public_url: Option<String>,
}

/// Options of `ingest`.
#[derive(Debug, Args)]
pub struct IngestArgs {
    /// SQLite file or postgres:// URL (store.url).
    #[arg(long)]
    pub store: Option<String>,
    /// Put every item in this collection.
    #[arg(long)]
    pub collection: Option<String>,
    /// Items per transaction.
    #[arg(long, default_value_t = crate::catalog::ingest::DEFAULT_BATCH)]
    pub batch: usize,
    /// Transactions written at once (default: what the store takes: 1 on
    /// SQLite, 2 on PostgreSQL).
    #[arg(long)]
    pub writers: Option<usize>,
    /// Items, ItemCollections, Collections, Catalogs, .ndjson[.gz] files,
    /// directories, or `-` for stdin.
    #[arg(required = true)]
    pub inputs: Vec<String>,
}

/// Options of `demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Directory for the demo data and its store.
    #[arg(long, default_value = "demo")]
    pub dir: PathBuf,
    /// Address to listen on (server.bind).
    #[arg(long)]
    pub bind: Option<String>,
    /// Public base URL for links (server.public_url).
    #[arg(long)]
    pub public_url: Option<String>,
    /// Prepare the data and exit without serving.
    #[arg(long)]
    pub no_serve: bool,
    /// Multiply every demo raster's extent by this factor in (0, 1]
    /// (same resolution, fewer pixels): 0.3 writes them ~10 times faster,
    /// for tests.
    #[arg(long, default_value_t = 1.0)]
    pub raster_scale: f64,
}

/// Loads the configuration: defaults < file < environment < flags.
fn load_config(cli: &Cli) -> Result<Config> {
    let mut config = match &cli.config {
        Some(path) => Config::from_file(path)?,
        None => Config::default(),
    };
    for warning in config.apply_env(std::env::vars())? {
        eprintln!("warning: {warning}");
    }
    if let Some(level) = &cli.log {
        config.log.level = level.clone();
    }
    let (bind, store, public_url) = match &cli.command {
        Command::Serve(a) => (a.bind.clone(), a.store.clone(), a.public_url.clone()),
        Command::Ingest(a) => (None, a.store.clone(), None),
        Command::Demo(a) => (a.bind.clone(), None, a.public_url.clone()),
        Command::Migrate(a) => (None, a.store.clone(), None),
        Command::Orgs(c) => (None, c.store().store.clone(), None),
        Command::Users(c) => (None, c.store().store.clone(), None),
        Command::Keys(c) => (None, c.store().store.clone(), None),
        Command::Ledger(a) => (None, a.store.store.clone(), None),
        Command::Audit(a) => (None, a.store.store.clone(), None),
    };
    if let Some(bind) = bind {
        config.server.bind = bind;
    }
    if let Some(store) = store {
        config.store.url = store;
    }
    if let Some(url) = public_url {
        config.server.public_url = Some(url);
    }
    config.validate()?;
    Ok(config)
}

fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log.level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if config.log.format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// The stores' options from the configuration; `serving` waits for a
/// PostgreSQL database as long as `store.connect_wait_s` says.
fn store_options(config: &Config, serving: bool) -> StoreOptions {
    let count = match config.store.count.as_str() {
        "exact" => CountPolicy::Exact,
        "none" => CountPolicy::Never,
        _ => CountPolicy::Auto(config.store.count_limit),
    };
    let connect_wait = match (serving, config.store.connect_wait_s) {
        (true, 0) => None,
        (true, s) => Some(Duration::from_secs(s)),
        (false, 0) => Some(Duration::from_secs(30)),
        (false, s) => Some(Duration::from_secs(s)),
    };
    StoreOptions {
        sqlite: SqliteOptions {
            readers: config.store.readers,
            queue: config.store.queue,
            query_timeout: config.query_timeout(),
            count,
            ..SqliteOptions::default()
        },
        postgres: PgOptions {
            pool_size: config.store.pool_size,
            query_timeout: config.query_timeout(),
            count,
            connect_wait,
            tls_ca_file: config.store.tls_ca_file.clone(),
            migrate: true,
        },
    }
}

async fn open_store(config: &Config, serving: bool) -> Result<SharedCatalog> {
    let catalog = crate::catalog::open(&config.store.url, &store_options(config, serving)).await?;
    let files = shipped::read(config.catalog.collections_dir.as_deref())?;
    let written = shipped::install(&catalog, &files).await?;
    tracing::info!(store = %catalog.describe(), collections = files.len(), inserted = written, "store ready");
    Ok(catalog)
}

/// Runs the command line.
pub fn run(cli: Cli) -> Result<()> {
    let config = load_config(&cli)?;
    init_logging(&config);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(Error::Io)?;
    match cli.command {
        Command::Serve(_) => runtime.block_on(async {
            let catalog = open_store(&config, true).await?;
            serve(catalog, config).await
        }),
        Command::Ingest(args) => {
            let catalog = runtime.block_on(open_store(&config, false))?;
            let options = IngestOptions {
                batch: args.batch.max(1),
                collection: args.collection.clone(),
                writers: args.writers,
                ..Default::default()
            };
            let report = run_ingest(&catalog, runtime.handle(), &args.inputs, &options)?;
            if report.items.inserted + report.items.updated == 0 && report.rejected > 0 {
                return Err(Error::Ingest(format!(
                    "all {} objects were rejected",
                    report.rejected
                )));
            }
            Ok(())
        }
        Command::Migrate(_) => runtime.block_on(async {
            if !crate::catalog::is_postgres(&config.store.url) {
                return Err(Error::Catalog(crate::catalog::CatalogError::Unsupported(
                    "migrate applies to PostgreSQL stores (--store postgres://…); the embedded store migrates itself when opened".into(),
                )));
            }
            let mut options = store_options(&config, false).postgres;
            options.migrate = false;
            let catalog = PostgresCatalog::open(&config.store.url, options).await?;
            let ran = catalog.migrate().await?;
            println!(
                "{}: schema at version {} ({} migration(s) applied)",
                catalog.describe(),
                PostgresCatalog::schema_version(),
                ran
            );
            Ok(())
        }),
        Command::Orgs(c) => runtime.block_on(async {
            accounts::orgs(&open_store(&config, false).await?, c).await
        }),
        Command::Users(c) => runtime.block_on(async {
            accounts::users(&open_store(&config, false).await?, c).await
        }),
        Command::Keys(c) => runtime.block_on(async {
            accounts::keys_command(&open_store(&config, false).await?, c).await
        }),
        Command::Ledger(a) => runtime.block_on(async {
            accounts::ledger(&open_store(&config, false).await?, a).await
        }),
        Command::Audit(a) => runtime.block_on(async {
            accounts::audit(&open_store(&config, false).await?, a).await
        }),
        Command::Demo(args) => {
            let mut config = config;
            std::fs::create_dir_all(&args.dir).map_err(Error::Io)?;
            let store_path = args.dir.join("tuilerie.db");
            config.store.url = store_path.display().to_string();
            // The demo's rasters may be read (the configured roots stay allowed too).
            config
                .raster
                .roots
                .push(std::path::absolute(&args.dir).map_err(Error::Io)?);
            let files = crate::demo::write(&args.dir).map_err(Error::Io)?;
            // The items' rasters: before exiting with --no-serve; otherwise
            // while the catalogue loads and serves (a debug build takes a
            // few minutes to generate them, a release build about 20 s).
            let scale = args.raster_scale;
            if !(scale > 0.0 && scale <= 1.0) {
                return Err(Error::Io(std::io::Error::other(format!(
                    "--raster-scale {scale} is not in (0, 1]"
                ))));
            }
            if args.no_serve {
                demo_rasters(&args.dir, scale)?;
            } else {
                let dir = args.dir.clone();
                std::thread::spawn(move || {
                    if let Err(e) = demo_rasters(&dir, scale) {
                        tracing::error!("{e}");
                    }
                });
            }
            let catalog = runtime.block_on(open_store(&config, false))?;
            let inputs: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
            run_ingest(
                &catalog,
                runtime.handle(),
                &inputs,
                &IngestOptions::default(),
            )?;
            let demo_keys = runtime.block_on(accounts::demo_accounts(&catalog))?;
            if args.no_serve {
                return Ok(());
            }
            println!(
                "Demo catalogue ready in {}. Serving on http://{} (Ctrl-C to stop).",
                args.dir.display(),
                config.server.bind
            );
            println!("Demo API keys (published in the README: for trying the demo only):");
            for (what, key) in demo_keys {
                println!("  {what:<58} {key}");
            }
            runtime.block_on(serve(catalog, config))
        }
    }
}

/// Writes the demo rasters under `dir/rasters` (unless they are up to
/// date) and says how many, how big, how long.
fn demo_rasters(dir: &std::path::Path, scale: f64) -> Result<()> {
    let stats = crate::demo::write_rasters_scaled(dir, scale)
        .map_err(|e| Error::Io(std::io::Error::other(e)))?;
    eprintln!(
        "demo rasters: {} files, {:.1} MB in {}, {} in {:.1} s",
        stats.files,
        stats.megabytes(),
        dir.join("rasters").display(),
        if stats.generated {
            "generated"
        } else {
            "up to date"
        },
        stats.seconds
    );
    Ok(())
}

/// A progress bar on a terminal (nothing when stderr is not one).
struct Bar(ProgressBar);

impl Progress for Bar {
    fn items(&self, written: u64, rejected: u64) {
        self.0.set_position(written);
        if rejected > 0 {
            self.0.set_message(format!("{rejected} rejected"));
        }
    }

    fn input(&self, name: &str) {
        self.0.set_message(format!("reading {name}"));
    }
}

fn run_ingest(
    catalog: &SharedCatalog,
    rt: &tokio::runtime::Handle,
    inputs: &[String],
    options: &IngestOptions,
) -> Result<IngestReport> {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {pos} items written ({per_sec}) {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    let started = Instant::now();
    let report = ingest(catalog, rt, inputs, options, &Bar(bar.clone()))?;
    bar.finish_and_clear();
    let elapsed = started.elapsed().as_secs_f64();
    let items = report.items.inserted + report.items.updated;
    eprintln!(
        "ingested {} collections ({} new, {} updated), {} items ({} new, {} updated) in {:.1} s ({:.0} items/s); {} rejected",
        report.collections.inserted + report.collections.updated,
        report.collections.inserted,
        report.collections.updated,
        items,
        report.items.inserted,
        report.items.updated,
        elapsed,
        items as f64 / elapsed.max(1e-9),
        report.rejected
    );
    if report.rejected > 0 {
        eprintln!("rejected, by reason (with the first object of each):");
        for (reason, count, first) in report.reasons().iter().take(30) {
            eprintln!(
                "  {count:>6} × {reason}\n           e.g. {} {}",
                first.source,
                first.id.as_deref().unwrap_or("(no id)")
            );
        }
        if report.rejected as usize > report.rejections.len() {
            eprintln!(
                "  (reasons are kept for the first {} rejections)",
                report.rejections.len()
            );
        }
    }
    Ok(report)
}

/// Serves the API until interrupted.
pub async fn serve(catalog: SharedCatalog, config: Config) -> Result<()> {
    let bind = config.server.bind.clone();
    let workers = match config.server.workers {
        0 => std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2),
        n => n,
    };
    let state = web::Data::new(AppState::new(catalog, config));
    tracing::info!(%bind, workers, "serving the STAC API");
    HttpServer::new(move || api::app(state.clone()))
        .workers(workers)
        .bind(&bind)
        .map_err(|e| Error::Bind(bind.clone(), e))?
        .run()
        .await
        .map_err(Error::Io)
}
