//! The vouch server: an OCI Distribution 1.1 registry over the embedded storage (blobs on the
//! filesystem, metadata in SQLite), with basic-auth and per-repository roles, the ledger's API
//! (`/ledger/`), Prometheus metrics and an access log. `cli` calls [`serve`]; tests call
//! [`router`] without a socket.

mod api;
pub mod auth;
pub mod config;
pub mod error;
pub mod gate;
pub mod gc;
mod ledger_api;
pub mod metrics;
mod registry;
pub mod store;

/// The parsers of untrusted request input, for the fuzz targets in `fuzz/`. Not an API.
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::registry::blobs::{RangeSpec, parse_range};
    pub use crate::registry::route::Route;
    pub use crate::registry::uploads::parse_content_range;
}

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;
use axum::routing::{any, get};

pub use config::Config;

use crate::auth::Authenticator;
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::store::StoreError;
use crate::store::blobs::BlobStore;
use crate::store::meta::Meta;
use crate::store::uploads::Uploads;

/// Everything a request handler can reach.
pub struct App {
    pub config: Config,
    pub meta: Meta,
    pub blobs: BlobStore,
    pub uploads: Arc<Uploads>,
    pub auth: Authenticator,
    pub metrics: Arc<Metrics>,
    /// The ledger: [`serve`] always opens one. Without it (some tests) the registry records
    /// nothing and `/ledger/` answers 404.
    pub ledger: Option<ledger::Ledger>,
    /// The policies' gate (the version in force); `None` when the configuration names no
    /// policy.
    pub gate: Option<gate::GateCell>,
}

impl App {
    /// Opens the storage under `config.data_dir`, recovering from an earlier crash; no ledger.
    pub fn open(config: Config) -> Result<Arc<App>, StoreError> {
        App::open_with_ledger(config, None)
    }

    /// Opens the ledger in [`Config::ledger_dir`], creating it (and its keys) the first time.
    /// Blocking: it reads and checks the whole log. A damaged log is an error.
    pub fn open_ledger(
        config: &Config,
    ) -> Result<(ledger::Ledger, ledger::OpenReport), ledger::LedgerError> {
        ledger::Ledger::open(
            &config.ledger_dir(),
            ledger::Config {
                origin: config.ledger.origin.clone(),
                submitters: config.ledger.submitters.clone(),
            },
        )
    }

    /// Opens the storage as [`App::open`] does, with `ledger` recording the registry's events.
    pub fn open_with_ledger(
        config: Config,
        ledger: Option<ledger::Ledger>,
    ) -> Result<Arc<App>, StoreError> {
        std::fs::create_dir_all(&config.data_dir)
            .map_err(StoreError::io("create", &config.data_dir))?;
        let meta = Meta::open(&config.data_dir)?;
        let blobs = BlobStore::open(&config.data_dir)?;
        let uploads = Uploads::open(&config.data_dir)?;
        gc::recover_trash(&meta, &blobs)?;
        let metrics = Arc::new(Metrics::new());
        if let Some(l) = &ledger {
            metrics
                .ledger_size
                .set(i64::try_from(l.size()).unwrap_or(i64::MAX));
        }
        let auth = Authenticator::new(config.auth.clone());
        let gate = if config.policies.policies().is_empty() {
            None
        } else {
            let key = gate::countersigning_key(&config.data_dir)?;
            Some(gate::GateCell::new(
                gate::Gate::new(config.policies.clone()),
                key,
            ))
        };
        Ok(Arc::new(App {
            config,
            meta,
            blobs,
            uploads,
            auth,
            metrics,
            ledger,
            gate,
        }))
    }

    /// Runs blocking storage work off the async runtime.
    pub(crate) async fn blocking<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&App) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let app = Arc::clone(self);
        Ok(tokio::task::spawn_blocking(move || f(&app)).await??)
    }
}

/// The HTTP application. Layers, outermost first:
/// 1. `metrics::track`: counts, times and logs every request, whatever its route.
pub fn router(app: Arc<App>) -> Router {
    let metrics = Arc::clone(&app.metrics);
    Router::new()
        .route("/v2", any(registry::dispatch))
        .route("/v2/", any(registry::dispatch))
        .route("/v2/{*path}", any(registry::dispatch))
        .route("/ledger/{*path}", any(ledger_api::dispatch))
        .route("/api/v1/{*path}", any(api::dispatch))
        .route("/healthz", get(healthz))
        .route("/metrics", get(render_metrics))
        .fallback(not_found)
        .with_state(app)
        .layer(axum::middleware::from_fn_with_state(
            metrics,
            metrics::track,
        ))
}

async fn healthz(
    axum::extract::State(app): axum::extract::State<Arc<App>>,
) -> axum::response::Response {
    // Healthy means the database answers.
    match app.blocking(|app| app.meta.catalog(None, 1)).await {
        Ok(_) => (
            [(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"))],
            "ok\n",
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}

async fn render_metrics(
    axum::extract::State(app): axum::extract::State<Arc<App>>,
) -> axum::response::Response {
    // Counted from disk at scrape time: sessions also end by expiry, by `vouch gc` in another
    // process and by crashes, none of which a running counter would see.
    match app.blocking(|app| Ok(app.uploads.count_on_disk())).await {
        Ok(n) => app.metrics.uploads_in_progress.set(n as i64),
        Err(e) => return e.into_response(),
    };
    if let Some(l) = &app.ledger {
        app.metrics
            .ledger_size
            .set(i64::try_from(l.size()).unwrap_or(i64::MAX));
    }
    app.metrics.render()
}

async fn not_found() -> ApiError {
    ApiError::unsupported(axum::http::StatusCode::NOT_FOUND, "no such endpoint")
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    #[error(
        "refusing to listen on {0} without users: anyone could push and delete. Configure users, listen on a loopback address, or pass --allow-anonymous-remote"
    )]
    AnonymousRemote(SocketAddr),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot open the ledger")]
    Ledger(#[source] ledger::LedgerError),
    #[error("server failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("cannot start the gate: {0}")]
    Gate(String),
}

/// Checks what must hold before listening at all.
pub fn check_listen_policy(config: &Config) -> Result<(), ServeError> {
    if config.auth.users.is_empty()
        && !config.addr.ip().is_loopback()
        && !config.allow_anonymous_remote
    {
        return Err(ServeError::AnonymousRemote(config.addr));
    }
    Ok(())
}

/// How often abandoned uploads are looked for (more often when the expiry itself is short).
const EXPIRY_INTERVAL: Duration = Duration::from_secs(60);
/// After shutdown is asked for, in-flight requests get this long to finish.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves until `shutdown` completes, then drains in-flight requests.
pub async fn serve(
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    check_listen_policy(&config)?;
    let addr = config.addr;
    let app = tokio::task::spawn_blocking(move || open_all(config))
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))??;
    let result = match gate::start(&app).await {
        Ok(()) => run(&app, addr, shutdown).await,
        Err(e) => Err(ServeError::Gate(e.to_string())),
    };
    // Every request has drained (or been given up on): whatever they queued is written, then
    // the sequencer stops.
    if let Some(l) = app.ledger.clone() {
        let closed = tokio::task::spawn_blocking(move || l.close()).await;
        if let Err(e) = closed {
            tracing::error!(error = %e, "closing the ledger failed");
        }
    }
    tracing::info!("stopped");
    result
}

/// Opens the ledger, then the storage. Blocking.
fn open_all(config: Config) -> Result<Arc<App>, ServeError> {
    let (ledger, report) = App::open_ledger(&config).map_err(ServeError::Ledger)?;
    tracing::info!(
        dir = %config.ledger_dir().display(),
        origin = ledger.origin(),
        created = report.created,
        entries = report.entries,
        truncated_bytes = report.truncated,
        "ledger opened"
    );
    if report.truncated > 0 {
        tracing::warn!(
            bytes = report.truncated,
            "cut an unfinished batch from the ledger's end (written before a crash, never acknowledged)"
        );
    }
    match App::open_with_ledger(config, Some(ledger.clone())) {
        Ok(app) => Ok(app),
        Err(e) => {
            ledger.close();
            Err(e.into())
        }
    }
}

/// Listens and serves until `shutdown`, then drains.
async fn run(
    app: &Arc<App>,
    addr: SocketAddr,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })?;
    let local = listener.local_addr()?;
    tracing::info!(addr = %local, data = %app.config.data_dir.display(), open = app.auth.is_open(), "vouch registry listening");

    let expiry = tokio::spawn(maintain(Arc::clone(app)));
    let policies = tokio::spawn(gate::reload::watch(
        Arc::clone(app),
        app.config.policy_watch,
    ));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut drain_rx = stop_rx.clone();
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        // Small responses go out at once; Nagle would add latency to every manifest and HEAD.
        let _ = tcp.set_nodelay(true);
    });
    let server =
        axum::serve(listener, router(Arc::clone(app))).with_graceful_shutdown(async move {
            let mut rx = stop_rx;
            let _ = rx.wait_for(|s| *s).await;
        });
    let mut server = std::pin::pin!(server.into_future());
    let result = tokio::select! {
        r = &mut server => r,
        () = shutdown => {
            tracing::info!("shutting down: draining in-flight requests");
            let _ = stop_tx.send(true);
            let _ = drain_rx.wait_for(|s| *s).await;
            if tokio::time::timeout(DRAIN_TIMEOUT, &mut server).await.is_err() {
                tracing::warn!(timeout = ?DRAIN_TIMEOUT, "requests still running after the drain timeout; stopping");
            }
            Ok(())
        }
    };
    expiry.abort();
    policies.abort();
    Ok(result?)
}

/// Periodic housekeeping: expires abandoned uploads, and puts back blobs that a `vouch gc`
/// process moved to the trash but died before deleting their rows (otherwise they would stay
/// unservable until the next restart or collection).
async fn maintain(app: Arc<App>) {
    // Look at least twice per expiry period, so that a short one (as in tests) is honoured.
    let period = EXPIRY_INTERVAL
        .min(app.config.limits.upload_expiry / 2)
        .max(Duration::from_millis(100));
    let mut tick = tokio::time::interval(period);
    loop {
        tick.tick().await;
        let max_idle = app.config.limits.upload_expiry;
        match app.blocking(move |app| app.uploads.expire(max_idle)).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(sessions = n, "expired abandoned uploads"),
            Err(e) => tracing::warn!(error = %e, "upload expiry failed"),
        }
        // Safe beside a running `vouch gc`: restoring a blob whose deletion then commits only
        // leaves a file without a row, which the next collection removes.
        match app
            .blocking(|app| gc::recover_trash(&app.meta, &app.blobs))
            .await
        {
            Ok(0) => {}
            Ok(n) => tracing::warn!(
                blobs = n,
                "restored blobs an interrupted gc had moved to the trash"
            ),
            Err(e) => tracing::warn!(error = %e, "trash recovery failed"),
        }
    }
}
