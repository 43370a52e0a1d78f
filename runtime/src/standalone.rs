//! Standalone mode, like `connect-standalone`: one worker, offsets in a local
//! file, connectors from files on the command line plus those created over
//! REST (kept in `config.storage.file.filename` across restarts).

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use velocity_api::{PluginRegistry, RawConfig};

use crate::config::WorkerConfig;
use crate::config::{AdminListener, ListenerSpec};
use crate::configstore::FileConfigStore;
use crate::error::{Result, RuntimeError};
use crate::health::Health;
use crate::herder::{Herder, HerderApi};
use crate::logging::LogControl;
use crate::offsets::FileOffsetStore;
use crate::rest::{admin_router, api_router, secure, RestState};
use crate::security::rest::{BasicAuth, TlsListener};
use crate::worker::WorkerContext;

/// Reads a connector config file: JSON (`{"name":…,"config":{…}}` or a flat
/// object with `name`) or Java properties with a `name` key.
pub fn load_connector_file(path: &Path) -> Result<(String, RawConfig)> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| RuntimeError::io(format!("reading connector config {}", path.display()), e))?;
    let bad = |why: String| {
        RuntimeError::BadRequest(format!("connector config {}: {why}", path.display()))
    };
    let config: RawConfig = if text.trim_start().starts_with('{') {
        let v: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| bad(format!("malformed JSON: {e}")))?;
        let (obj, name) = match v.get("config") {
            Some(c) => (
                c.clone(),
                v.get("name").and_then(|n| n.as_str()).map(str::to_owned),
            ),
            None => (v.clone(), None),
        };
        let obj = obj
            .as_object()
            .ok_or_else(|| bad("\"config\" must be a JSON object".into()))?;
        let mut m: RawConfig = obj
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| {
                (
                    k.clone(),
                    v.as_str().map_or_else(|| v.to_string(), str::to_owned),
                )
            })
            .collect();
        if let Some(n) = name {
            m.entry("name".into()).or_insert(n);
        }
        m
    } else {
        crate::properties::parse(&text)
    };
    let name = config
        .get("name")
        .cloned()
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| bad("missing \"name\": every connector config needs a name".into()))?;
    Ok((name, config))
}

/// Checks that the brokers answer (with the worker's security settings) and
/// returns the cluster id.
///
/// The check is the cluster id from the brokers-only metadata the client
/// asks for when it connects: cheap on a cluster with many topics (a
/// metadata request for every topic took the test broker up to 2 s). Only
/// when that fails is the full metadata request made: its error is the
/// one the message names.
pub async fn probe_kafka(config: &WorkerConfig) -> Result<String> {
    let bootstrap = config.bootstrap_servers.clone();
    let client = crate::worker::admin_config(config, &RawConfig::new(), "velocity-worker-probe");
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = client
            .create()
            .map_err(|e| RuntimeError::Kafka(e.to_string()))?;
        if let Some(id) = consumer.client().fetch_cluster_id(Duration::from_secs(10)) {
            return Ok(id);
        }
        match consumer.fetch_metadata(None, Duration::from_secs(5)) {
            // a broker too old to report a cluster id
            Ok(_) => Ok(String::new()),
            Err(e) => Err(RuntimeError::Kafka(format!(
                "could not reach the Kafka cluster at bootstrap.servers={bootstrap} ({e}); check that the broker is running and bootstrap.servers is right"
            ))),
        }
    })
    .await
    .map_err(|e| RuntimeError::Kafka(e.to_string()))?
}

/// A bound REST listener, plain or TLS.
struct Bound {
    addr: std::net::SocketAddr,
    tcp: tokio::net::TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
}

/// Binds `spec` (`key` names the setting in messages); https listeners read
/// their PEM keys from `<key>.https.ssl.*` (or the worker's `ssl.*`).
async fn bind(raw: &RawConfig, key: &str, spec: &ListenerSpec) -> Result<Bound> {
    let tls = if spec.https {
        Some(crate::security::rest::server_tls(
            raw,
            &format!("{key}.https."),
        )?)
    } else {
        None
    };
    let tcp = tokio::net::TcpListener::bind(spec.addr)
        .await
        .map_err(|e| {
            RuntimeError::io(
                format!(
                    "binding the REST listener {} (set {key}=http://:<free port>)",
                    spec.addr
                ),
                e,
            )
        })?;
    let addr = tcp
        .local_addr()
        .map_err(|e| RuntimeError::io("reading the REST address", e))?;
    Ok(Bound { addr, tcp, tls })
}

impl Bound {
    async fn serve(
        self,
        app: axum::Router,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<()> {
        // with the peer address, which the access log shows
        let done = match self.tls {
            None => {
                axum::serve(
                    self.tcp,
                    app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
                )
                .with_graceful_shutdown(shutdown)
                .await
            }
            Some(tls) => {
                let l = TlsListener::new(self.tcp, tls)
                    .map_err(|e| RuntimeError::io("starting the https listener", e))?;
                axum::serve(
                    l,
                    app.into_make_service_with_connect_info::<crate::security::rest::TlsPeer>(),
                )
                .with_graceful_shutdown(shutdown)
                .await
            }
        };
        done.map_err(|e| RuntimeError::io("serving REST", e))
    }
}

/// A running standalone worker.
pub struct Standalone {
    /// The connector manager.
    pub herder: Arc<Herder>,
    /// Where the REST API listens.
    pub addr: std::net::SocketAddr,
}

/// Starts a standalone worker: checks the broker, binds the REST listener,
/// restores stored connectors, creates (or updates) the given ones, and
/// serves until `shutdown` resolves; then stops every task cleanly, flushing
/// offsets.
pub async fn run(
    worker: RawConfig,
    connectors: Vec<(String, RawConfig)>,
    registry: PluginRegistry,
    logs: LogControl,
    shutdown: impl Future<Output = ()> + Send + 'static,
    ready: Option<tokio::sync::oneshot::Sender<std::net::SocketAddr>>,
) -> Result<()> {
    let config = WorkerConfig::from_raw(worker)?;
    if config.offset_file.is_none() {
        return Err(RuntimeError::BadRequest(
            "Missing required configuration \"offset.storage.file.filename\" which has no default value. Standalone mode keeps source offsets in that file.".into(),
        ));
    }
    let registry = prepare(&config, registry)?;
    let cluster_id = probe_kafka(&config).await?;
    let (rest, worker_id) = bind_rest(&config, logs, cluster_id).await?;
    let offsets = Arc::new(FileOffsetStore::open(config.offset_file.as_deref())?);
    let configs = Arc::new(FileConfigStore::new(config.config_file.as_deref()));
    let ctx = Arc::new(WorkerContext { config, worker_id });
    let herder = Arc::new(Herder::new(ctx, Arc::new(registry), offsets, configs));
    let h = herder.clone();
    let startup = async move { h.restore_with(connectors).await };
    serve(herder, rest, startup, shutdown, ready).await
}

/// What every worker does with its config before anything connects: warns
/// about unknown keys as Kafka does, and keeps the FileStream connectors
/// only with `velocity.file.connectors.enable=true`.
pub(crate) fn prepare(config: &WorkerConfig, registry: PluginRegistry) -> Result<PluginRegistry> {
    for k in config.unknown_keys() {
        tracing::warn!(key = %k, "The configuration '{k}' was supplied but isn't a known config.");
    }
    crate::security::gate_file_connectors(registry, &config.raw)
}

/// The client settings of the `/health` broker check: the worker's admin
/// settings (so the security keys apply).
pub(crate) fn health_client(config: &WorkerConfig) -> rdkafka::ClientConfig {
    crate::worker::admin_config(config, &RawConfig::new(), "velocity-health")
}

/// The REST side of a worker: the bound listeners and what their handlers
/// need.
pub(crate) struct Rest {
    /// The main listener (`listeners`).
    main: Bound,
    /// Whether it is https.
    https: bool,
    /// A separate `/admin` listener (`admin.listeners` set to a URL).
    admin: Option<Bound>,
    /// Whether `/admin` is served on the main listener.
    admin_on_main: bool,
    /// HTTP Basic authentication, when configured.
    basic_auth: Option<BasicAuth>,
    /// Log-level control.
    logs: LogControl,
    /// The Kafka cluster id.
    cluster_id: String,
    /// Client settings of the `/health` broker check.
    health: rdkafka::ClientConfig,
}

/// Binds the REST listeners of `listeners` and `admin.listeners` (http or
/// https) and reads the Basic authentication settings; returns them with
/// the worker id (`rest.advertised.host.name` or the bound host, with the
/// port).
pub(crate) async fn bind_rest(
    config: &WorkerConfig,
    logs: LogControl,
    cluster_id: String,
) -> Result<(Rest, String)> {
    let basic_auth = BasicAuth::from_worker(&config.raw)?;
    let main_spec = config.listener()?;
    let admin = config.admin_listener()?;
    let main = bind(&config.raw, "listeners", &main_spec).await?;
    let admin_bound = match &admin {
        AdminListener::Own(spec) => Some(bind(&config.raw, "admin.listeners", spec).await?),
        _ => None,
    };
    let addr = main.addr;
    let host = if addr.ip().is_unspecified() {
        "127.0.0.1".to_owned()
    } else {
        addr.ip().to_string()
    };
    // Kafka Connect's rest.advertised.host.name / rest.advertised.port: what
    // other workers (and statuses) use to reach this one
    let host = config
        .raw
        .get("rest.advertised.host.name")
        .cloned()
        .unwrap_or(host);
    let port = match config.raw.get("rest.advertised.port") {
        Some(p) => p.trim().parse::<u16>().map_err(|_| {
            RuntimeError::BadRequest(format!(
                "Invalid value {p} for configuration rest.advertised.port: Not a number of type INT"
            ))
        })?,
        None => addr.port(),
    };
    let worker_id = format!("{host}:{port}");
    let rest = Rest {
        main,
        https: main_spec.https,
        admin: admin_bound,
        admin_on_main: admin == AdminListener::Main,
        basic_auth,
        logs,
        cluster_id,
        health: health_client(config),
    };
    Ok((rest, worker_id))
}

/// Serves the REST API for `herder` while `startup` runs (restoring and
/// starting connectors; `/health` answers 503 meanwhile) and until
/// `shutdown` resolves; then stops every connector and task, flushing
/// offsets. A failed startup stops the server and is returned.
pub(crate) async fn serve(
    herder: Arc<dyn HerderApi>,
    rest: Rest,
    startup: impl Future<Output = Result<()>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
    ready: Option<tokio::sync::oneshot::Sender<std::net::SocketAddr>>,
) -> Result<()> {
    let Rest {
        main,
        https,
        admin,
        admin_on_main,
        basic_auth,
        logs,
        cluster_id,
        health,
    } = rest;
    let health = Arc::new(Health::new(Some(health)));
    let state = RestState {
        herder: herder.clone(),
        logs,
        cluster_id: Some(cluster_id),
        health: health.clone(),
    };
    let app = secure(api_router(state.clone(), admin_on_main), basic_auth.clone());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let stop = futures::FutureExt::shared(Box::pin(async move {
        tokio::select! {
            _ = shutdown => {}
            _ = stop_rx => {}
        }
    }));
    let admin_server = admin.map(|b| {
        tracing::info!(addr = %b.addr, "REST admin endpoints listening");
        let app = secure(admin_router(state), basic_auth);
        tokio::spawn(b.serve(app, stop.clone()))
    });
    let addr = main.addr;
    tracing::info!(%addr, https, "REST API listening");
    if let Some(tx) = ready {
        let _ = tx.send(addr);
    }
    let server = tokio::spawn(main.serve(app, stop));
    let finish = |server: tokio::task::JoinHandle<Result<()>>| async move {
        let served = server
            .await
            .map_err(|e| RuntimeError::io("serving REST", std::io::Error::other(e)))?;
        if let Some(a) = admin_server {
            let _ = a.await;
        }
        served
    };
    if let Err(e) = startup.await {
        let _ = stop_tx.send(());
        let _ = finish(server).await;
        herder.shutdown().await;
        return Err(e);
    }
    health.set_started();
    tracing::info!("worker started");
    let served = finish(server).await;
    tracing::info!("shutting down: stopping connectors and flushing offsets");
    herder.shutdown().await;
    served
}
