//! Connecting: the URL, optional TLS, the connection pool, and waiting for a
//! database that is not up yet (with back-off, never a crash loop).

use super::PgOptions;
use crate::catalog::error::{CatalogError, Result};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use std::str::FromStr;
use std::time::{Duration, Instant};

/// The URL with its password hidden, for logs and errors.
pub(super) fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("***"));
            }
            u.to_string()
        }
        Err(_) => "postgres://(unparsable URL)".into(),
    }
}

/// The TLS connector: the system roots plus an optional CA file.
fn tls(options: &PgOptions) -> Result<postgres_native_tls::MakeTlsConnector> {
    let mut builder = native_tls::TlsConnector::builder();
    if let Some(path) = &options.tls_ca_file {
        let pem = std::fs::read(path)?;
        let cert = native_tls::Certificate::from_pem(&pem).map_err(|e| {
            CatalogError::Storage(format!("store.tls_ca_file {}: {e}", path.display()))
        })?;
        builder.add_root_certificate(cert);
    }
    let connector = builder
        .build()
        .map_err(|e| CatalogError::Storage(format!("TLS set-up failed: {e}")))?;
    Ok(postgres_native_tls::MakeTlsConnector::new(connector))
}

/// Builds the pool (connections are made on demand).
pub(super) fn build(url: &str, options: &PgOptions) -> Result<Pool> {
    let mut config = tokio_postgres::Config::from_str(url).map_err(|e| {
        CatalogError::Storage(format!("store URL {} is not valid: {e}", redact(url)))
    })?;
    if config.get_application_name().is_none() {
        config.application_name("tuilerie");
    }
    let timeout_ms = options.query_timeout.as_millis().max(1);
    // Searches are short statements: parallel workers and JIT compilation
    // would cost more CPU than they save (and workers take the cores other
    // requests need).
    config.options(format!(
        "-c statement_timeout={timeout_ms} -c client_min_messages=warning \
         -c max_parallel_workers_per_gather=0 -c jit=off"
    ));
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(5));
    }
    let manager = Manager::from_config(
        config,
        tls(options)?,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(options.pool_size.max(1))
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(options.query_timeout))
        .create_timeout(Some(Duration::from_secs(5)))
        .recycle_timeout(Some(Duration::from_secs(5)))
        .build()
        .map_err(|e| CatalogError::Storage(format!("cannot build the connection pool: {e}")))
}

/// Gets a first connection, retrying with back-off (1 s, 2 s, 4 s … 30 s)
/// while the database is unreachable, for at most `wait` (forever when None).
pub(super) async fn wait_until_up(
    pool: &Pool,
    url: &str,
    wait: Option<Duration>,
) -> Result<deadpool_postgres::Object> {
    let started = Instant::now();
    let mut delay = Duration::from_secs(1);
    loop {
        match pool.get().await {
            Ok(client) => return Ok(client),
            Err(e) => {
                let err = super::pool_error(e);
                let retryable = matches!(err, CatalogError::Unavailable(_));
                let out_of_time = wait.is_some_and(|w| started.elapsed() + delay > w);
                if !retryable || out_of_time {
                    return Err(match err {
                        CatalogError::Unavailable(m) => CatalogError::Unavailable(format!(
                            "cannot reach PostgreSQL at {} after {:.0} s: {m}",
                            redact(url),
                            started.elapsed().as_secs_f64()
                        )),
                        other => other,
                    });
                }
                tracing::warn!(
                    store = %redact(url),
                    retry_in_s = delay.as_secs(),
                    "PostgreSQL is not reachable yet: {err}"
                );
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(30));
            }
        }
    }
}
