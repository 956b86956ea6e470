//! `shoal serve`: the engine as a long-running server.
//!
//! - [`hub`]: the thread that owns the engine; everything goes through it.
//! - [`feeds`]: per-query broadcast channels of results.
//! - [`api`]: the HTTP API (axum).
//! - [`live`]: websocket result feeds.
//! - [`metrics`]: `/metrics` in the Prometheus text format.
//! - [`demo`]: the built-in generator behind `--demo`.
//! - [`web`]: the web page at `/`, built into the binary.
//! - [`guard`]: access control (token, origin, host) for every route.

pub mod api;
pub mod demo;
pub mod feeds;
pub mod guard;
pub mod hub;
pub mod live;
pub mod metrics;
pub mod web;

use crate::exec::Limits;
use hub::{HubHandle, SourceStarter, StoreLink};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// How to run the server.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// Address to listen on (loopback by default).
    pub bind: SocketAddr,
    /// Statement files executed at start, in order.
    pub files: Vec<PathBuf>,
    /// Start the demo generator and its queries.
    pub demo: bool,
    /// Tweets per second of the demo generator.
    pub demo_rate: f64,
    /// The engine's limits (queries, groups per state, regex size).
    pub limits: Limits,
    /// Largest request body accepted, in bytes.
    pub max_body: usize,
    /// Most websockets open at once.
    pub max_subscribers: usize,
    /// Token and allowed origins.
    pub access: guard::Access,
    /// Listen on a non-loopback address without a token.
    pub insecure: bool,
    /// The store's directory; `None` runs without a store (nothing
    /// survives a restart).
    pub data: Option<PathBuf>,
    /// Time between checkpoints.
    pub checkpoint_interval: Duration,
}

impl Default for ServeOptions {
    fn default() -> ServeOptions {
        ServeOptions {
            bind: SocketAddr::from(([127, 0, 0, 1], 7878)),
            files: Vec::new(),
            demo: false,
            demo_rate: 200.0,
            limits: Limits::default(),
            max_body: api::MAX_BODY,
            max_subscribers: live::DEFAULT_MAX_SUBSCRIBERS,
            access: guard::Access::default(),
            insecure: false,
            data: Some(PathBuf::from(DEFAULT_DATA_DIR)),
            checkpoint_interval: Duration::from_secs(1),
        }
    }
}

/// Where the store lives unless told otherwise (relative to the current
/// directory).
pub const DEFAULT_DATA_DIR: &str = "shoal-data";

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A statement file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A statement file has an error.
    #[error("{0}")]
    Statement(String),
    /// A non-loopback address without a token and without `--insecure`.
    #[error("refusing to listen on {addr} without a token: anyone who can reach it could run statements and read every result; set --token (or SHOAL_TOKEN), bind a loopback address, or pass --insecure")]
    Insecure {
        /// The address.
        addr: SocketAddr,
    },
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// Serving failed.
    #[error("server error: {0}")]
    Io(#[from] std::io::Error),
    /// The store cannot be opened or read.
    #[error("{0}")]
    Store(#[from] crate::store::StoreError),
    /// What the store holds cannot be restored.
    #[error("cannot recover from the store: {0}")]
    Recover(String),
}

/// Starts the live sources of streams ([`crate::watch`]) on the server's
/// runtime (the hub's thread has a runtime of its own that must not run
/// them); `dir:` sources resume from the positions given.
fn source_starter(runtime: tokio::runtime::Handle) -> SourceStarter {
    Box::new(move |def, tx, resume| {
        let _guard = runtime.enter();
        let handle = crate::watch::spawn_source(def, tx, resume).map_err(|e| e.to_string())?;
        let description = match handle.local_addr() {
            Some(addr) => format!("tcp:{addr}"),
            None => def.source.clone().unwrap_or_default(),
        };
        Ok(hub::SourceGuard {
            description,
            _keep: Box::new(handle),
        })
    })
}

/// Executes statement text at start; errors are rendered against the text.
/// What the store already re-created with the same definition is skipped.
async fn execute_file(hub: &HubHandle, path: &str, sql: String) -> Result<(), ServeError> {
    let (_, err) = hub
        .execute_startup(sql.clone())
        .await
        .map_err(|e| ServeError::Statement(e.to_string()))?;
    match err {
        None => Ok(()),
        Some(e) => Err(ServeError::Statement(format!("{path}: {}", e.render(&sql)))),
    }
}

/// Runs the server until Ctrl-C or SIGTERM. Prints `listening on http://ADDR`
/// on stdout once it accepts connections.
pub async fn serve(opts: ServeOptions) -> Result<(), ServeError> {
    if !opts.bind.ip().is_loopback() && opts.access.token.is_none() && !opts.insecure {
        return Err(ServeError::Insecure { addr: opts.bind });
    }
    let starter = source_starter(tokio::runtime::Handle::current());
    let mut writer_thread = None;
    let (hub, _thread) = match &opts.data {
        None => hub::spawn(Some(starter)),
        Some(dir) => {
            // The catalog and checkpoint are read before anything starts;
            // the hub re-creates them before it takes any data.
            let (conn, path) = crate::store::open(dir)?;
            let recovered = crate::store::load(&conn, &path)?;
            let reader = Arc::new(crate::store::StoreReader::open(dir)?);
            let stats = Arc::new(crate::store::StoreStats::default());
            let (tx, thread) = crate::store::spawn_writer(conn, path.clone(), stats.clone());
            writer_thread = Some(thread);
            let link = StoreLink::new(tx, opts.checkpoint_interval, stats);
            let (hub, thread) = hub::spawn_with_store(Some(starter), Some(link), Some(reader));
            if !recovered.catalog.is_empty() {
                tracing::info!(
                    store = %path.display(),
                    statements = recovered.catalog.len(),
                    checkpoint_ms = ?recovered.checkpoint_ms,
                    "recovering from the store"
                );
            }
            hub.recover(recovered)
                .await
                .map_err(|e| ServeError::Recover(e.to_string()))?
                .map_err(ServeError::Recover)?;
            (hub, thread)
        }
    };
    let limits = opts.limits;
    hub.inspect(move |h| h.engine.set_limits(limits))
        .await
        .map_err(|e| ServeError::Statement(e.to_string()))?;
    if opts.demo {
        execute_file(&hub, "demo", demo::DEMO_SQL.to_string()).await?;
        tokio::spawn(demo::run(hub.clone(), opts.demo_rate));
    }
    for path in &opts.files {
        let sql = std::fs::read_to_string(path).map_err(|source| ServeError::Read {
            path: path.display().to_string(),
            source,
        })?;
        execute_file(&hub, &path.display().to_string(), sql).await?;
    }
    let listener = tokio::net::TcpListener::bind(opts.bind)
        .await
        .map_err(|source| ServeError::Bind {
            addr: opts.bind,
            source,
        })?;
    let addr = listener.local_addr()?;
    let app = api::router(api::AppState {
        hub: hub.clone(),
        max_body: opts.max_body,
        subscribers: live::SubscriberSlots::new(opts.max_subscribers),
        access: Arc::new(opts.access.clone()),
    });
    println!("listening on http://{addr}");
    use std::io::Write;
    let _ = std::io::stdout().flush();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    // A last checkpoint, then the writer finishes its queue.
    match hub.shutdown().await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::error!(error = %e, "the last checkpoint failed"),
        Err(e) => tracing::error!(error = %e, "no last checkpoint"),
    }
    drop(hub);
    if let Some(t) = writer_thread {
        let _ = tokio::task::spawn_blocking(move || t.join()).await;
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("install the SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
