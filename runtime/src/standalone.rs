//! Standalone mode, like `connect-standalone`: one worker, offsets in a local
//! file, connectors from files on the command line plus those created over
//! REST (kept in `config.storage.file.filename` across restarts).

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::ClientConfig;
use velocity_api::{PluginRegistry, RawConfig};

use crate::config::WorkerConfig;
use crate::configstore::FileConfigStore;
use crate::error::{Result, RuntimeError};
use crate::herder::Herder;
use crate::logging::LogControl;
use crate::offsets::FileOffsetStore;
use crate::rest::{router, RestState};
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

/// Checks that the brokers answer and returns the cluster id.
pub async fn probe_kafka(bootstrap: &str) -> Result<String> {
    let bootstrap = bootstrap.to_owned();
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &bootstrap)
            .create()
            .map_err(|e| RuntimeError::Kafka(e.to_string()))?;
        consumer
            .fetch_metadata(None, Duration::from_secs(15))
            .map_err(|e| RuntimeError::Kafka(format!(
                "could not reach the Kafka cluster at bootstrap.servers={bootstrap} ({e}); check that the broker is running and bootstrap.servers is right"
            )))?;
        Ok(consumer.client().fetch_cluster_id(Duration::from_secs(5)).unwrap_or_default())
    })
    .await
    .map_err(|e| RuntimeError::Kafka(e.to_string()))?
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
    let cluster_id = probe_kafka(&config.bootstrap_servers).await?;
    let addr = config.listen_addr()?;
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        RuntimeError::io(
            format!(
                "binding the REST listener {} (set listeners=http://:<free port>)",
                config.listeners
            ),
            e,
        )
    })?;
    let addr = listener
        .local_addr()
        .map_err(|e| RuntimeError::io("reading the REST address", e))?;
    let host = if addr.ip().is_unspecified() {
        "127.0.0.1".to_owned()
    } else {
        addr.ip().to_string()
    };
    let worker_id = config
        .raw
        .get("rest.advertised.host.name")
        .cloned()
        .map_or_else(
            || format!("{host}:{}", addr.port()),
            |h| format!("{h}:{}", addr.port()),
        );
    let offsets = Arc::new(FileOffsetStore::open(config.offset_file.as_deref())?);
    let configs = Arc::new(FileConfigStore::new(config.config_file.as_deref()));
    let ctx = Arc::new(WorkerContext { config, worker_id });
    let herder = Arc::new(Herder::new(ctx, Arc::new(registry), offsets, configs));
    herder.restore().await?;
    for (name, c) in connectors {
        herder.put_config(&name, c).await?;
    }
    let app = router(RestState {
        herder: herder.clone(),
        logs,
        cluster_id: Some(cluster_id),
    });
    tracing::info!(%addr, "REST API listening");
    if let Some(tx) = ready {
        let _ = tx.send(addr);
    }
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|e| RuntimeError::io("serving REST", e))?;
    tracing::info!("shutting down: stopping connectors and flushing offsets");
    herder.shutdown().await;
    Ok(())
}
