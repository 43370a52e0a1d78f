//! `velocity distributed worker.properties`: a worker whose connectors and
//! source offsets live in Kafka Connect's config and offsets topics.
//!
//! Start-up order, as Kafka Connect's: check the broker, create or verify
//! the three internal topics and read them to their end, open the REST
//! listener (writes answer 409 and `/health` 503 until the worker has
//! joined), join the `connect` group, apply the first assignment. Any
//! number of workers may share a `group.id` and its topics; see
//! [`super::herder`] for how they divide the work.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::ClientConfig;
use velocity_api::config::ConfigExt;
use velocity_api::{PluginRegistry, RawConfig};

use super::config_store::KafkaConfigStore;
use super::group::{GroupConfig, GroupMember};
use super::herder::{DistributedHerder, Timers};
use super::offset_store::{KafkaOffsetStore, DEFAULT_PARTITIONS};
use super::status_store::KafkaStatusStore;
use crate::config::WorkerConfig;
use crate::error::{Result, RuntimeError};
use crate::logging::LogControl;
use crate::standalone::{bind_rest, prepare, probe_kafka, serve};
use crate::worker::WorkerContext;

/// The distributed worker keys this version uses, with Kafka Connect's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistributedConfig {
    /// `group.id` (required).
    pub group_id: String,
    /// `config.storage.topic` (required).
    pub config_topic: String,
    /// `config.storage.replication.factor` (default 3; -1: broker default).
    pub config_replication_factor: i32,
    /// `offset.storage.topic` (required).
    pub offset_topic: String,
    /// `offset.storage.partitions` (default 25).
    pub offset_partitions: i32,
    /// `offset.storage.replication.factor` (default 3).
    pub offset_replication_factor: i32,
    /// `status.storage.topic` (required).
    pub status_topic: String,
    /// `status.storage.partitions` (default 5).
    pub status_partitions: i32,
    /// `status.storage.replication.factor` (default 3).
    pub status_replication_factor: i32,
    /// `worker.sync.timeout.ms` (default 3000): how long a read to the end
    /// of an internal topic may take.
    pub sync_timeout: Duration,
    /// `inter.worker.key.ttl.ms` (default 3600000): the session key's
    /// lifetime before the leader writes a new one.
    pub key_ttl: Duration,
    /// `worker.unsync.backoff.ms` (default 300000).
    pub unsync_backoff: Duration,
}

impl DistributedConfig {
    /// Parses the keys; every problem is reported, each naming its key.
    pub fn from_raw(raw: &RawConfig) -> Result<DistributedConfig, Vec<(String, String)>> {
        let mut errors = Vec::new();
        let mut required = |k: &str| match raw.opt_str(k) {
            Some(v) => v.to_owned(),
            None => {
                errors.push((
                    k.to_owned(),
                    format!("Missing required configuration \"{k}\" which has no default value."),
                ));
                String::new()
            }
        };
        let group_id = required("group.id");
        let config_topic = required("config.storage.topic");
        let offset_topic = required("offset.storage.topic");
        let status_topic = required("status.storage.topic");
        let mut int =
            |k: &str, default: i64, min: i64, max: i64| match raw.int_or(k, default, min, max) {
                Ok(v) => v,
                Err(e) => {
                    errors.push((k.to_owned(), e.to_string()));
                    default
                }
            };
        let rf = |v: i64| v as i32;
        let config_replication_factor = rf(int("config.storage.replication.factor", 3, -1, 32767));
        let offset_partitions = int(
            "offset.storage.partitions",
            DEFAULT_PARTITIONS as i64,
            -1,
            1_000_000,
        ) as i32;
        let offset_replication_factor = rf(int("offset.storage.replication.factor", 3, -1, 32767));
        let status_partitions = int(
            "status.storage.partitions",
            super::status_store::DEFAULT_PARTITIONS as i64,
            -1,
            1_000_000,
        ) as i32;
        let status_replication_factor = rf(int("status.storage.replication.factor", 3, -1, 32767));
        let sync_ms = int("worker.sync.timeout.ms", 3000, 1, i32::MAX as i64);
        let key_ttl_ms = int("inter.worker.key.ttl.ms", 3_600_000, 0, i32::MAX as i64);
        let unsync_ms = int("worker.unsync.backoff.ms", 300_000, 0, i32::MAX as i64);
        for k in [
            "config.storage.replication.factor",
            "offset.storage.replication.factor",
            "status.storage.replication.factor",
        ] {
            if raw.opt_str(k) == Some("0") {
                errors.push((k.to_owned(), format!("Invalid value 0 for configuration {k}: Value must be at least 1 or -1 (the broker's default)")));
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(DistributedConfig {
            group_id,
            config_topic,
            config_replication_factor,
            offset_topic,
            offset_partitions,
            offset_replication_factor,
            status_topic,
            status_partitions,
            status_replication_factor,
            sync_timeout: Duration::from_millis(sync_ms as u64),
            key_ttl: Duration::from_millis(key_ttl_ms as u64),
            unsync_backoff: Duration::from_millis(unsync_ms as u64),
        })
    }
}

/// The librdkafka settings of the internal topics' clients: the worker's
/// `bootstrap.servers` and its security keys (`security.protocol`, `ssl.*`,
/// `sasl.*`), as Kafka Connect shares them.
fn internal_client(worker: &WorkerConfig) -> ClientConfig {
    // the worker's security settings (security.protocol, ssl.*, sasl.*,
    // translated from Java's names where needed), as for every client
    crate::worker::admin_config(worker, &RawConfig::new(), "velocity-internal-topics")
}

/// Runs a distributed worker until `shutdown` resolves (see the module
/// docs); on shutdown its tasks stop, committing offsets, before it leaves
/// the group.
pub async fn run(
    worker: RawConfig,
    registry: PluginRegistry,
    logs: LogControl,
    shutdown: impl Future<Output = ()> + Send + 'static,
    ready: Option<tokio::sync::oneshot::Sender<std::net::SocketAddr>>,
) -> Result<()> {
    let bad = |errs: Vec<(String, String)>| {
        RuntimeError::BadRequest(
            errs.into_iter()
                .map(|(_, m)| m)
                .collect::<Vec<_>>()
                .join(" "),
        )
    };
    let dist = DistributedConfig::from_raw(&worker).map_err(bad)?;
    let config = WorkerConfig::from_raw(worker)?;
    let https = config.listener()?.https;
    let registry = prepare(&config, registry)?;
    let cluster_id = probe_kafka(&config).await?;
    let client = internal_client(&config);
    let offsets = KafkaOffsetStore::open(
        &client,
        &dist.offset_topic,
        dist.offset_partitions,
        dist.offset_replication_factor,
        dist.sync_timeout,
    )
    .await?;
    let configs = Arc::new(
        KafkaConfigStore::open(
            &client,
            &dist.config_topic,
            dist.config_replication_factor,
            dist.sync_timeout,
        )
        .await?,
    );
    let statuses = Arc::new(
        KafkaStatusStore::open(
            &client,
            &dist.status_topic,
            dist.status_partitions,
            dist.status_replication_factor,
            dist.sync_timeout,
        )
        .await?,
    );
    tracing::info!(group.id = %dist.group_id, config.topic = %dist.config_topic, offset.topic = %dist.offset_topic,
        status.topic = %dist.status_topic, connectors = configs.snapshot().connectors.len(),
        "read the internal topics to their end");
    let (rest, worker_id) = bind_rest(&config, logs, cluster_id).await?;
    // rest.advertised.listener (http or https) names the scheme others use
    let scheme = match config.raw.get("rest.advertised.listener").map(|s| s.trim().to_ascii_lowercase()) {
        Some(l) if l == "http" || l == "https" => l,
        Some(l) => {
            return Err(RuntimeError::BadRequest(format!(
                "Invalid value {l} for configuration rest.advertised.listener: String must be one of: http, https"
            )))
        }
        None if https => "https".to_owned(),
        None => "http".to_owned(),
    };
    let url = format!("{scheme}://{worker_id}");
    let bootstrap = config
        .raw
        .str_or("bootstrap.servers", "localhost:9092")
        .to_owned();
    let group = GroupConfig::from_raw(&config.raw, &bootstrap, &url).map_err(bad)?;
    let ctx = Arc::new(WorkerContext { config, worker_id });
    let herder = Arc::new(DistributedHerder::new(
        ctx,
        Arc::new(registry),
        offsets,
        configs,
        statuses,
        url,
        Timers {
            key_ttl: dist.key_ttl,
            sync_timeout: dist.sync_timeout,
            unsync_backoff: dist.unsync_backoff,
        },
    ));
    let (member, assignments) = GroupMember::start(group, herder.cluster());
    let mut joined = herder.start(member, assignments);
    let startup = async move {
        // ready once the first assignment is applied (/health answers 503
        // and writes 409 until then)
        while !*joined.borrow() {
            if joined.changed().await.is_err() {
                return Err(RuntimeError::Kafka(
                    "the worker left its group before its first assignment".into(),
                ));
            }
        }
        Ok(())
    };
    serve(herder, rest, startup, shutdown, ready).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(pairs: &[(&str, &str)]) -> RawConfig {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn required_keys_are_all_reported_with_kafka_connects_message() {
        let errs = DistributedConfig::from_raw(&raw(&[("bootstrap.servers", "x")])).unwrap_err();
        let keys: Vec<&str> = errs.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "group.id",
                "config.storage.topic",
                "offset.storage.topic",
                "status.storage.topic"
            ]
        );
        assert_eq!(
            errs[0].1,
            "Missing required configuration \"group.id\" which has no default value."
        );
    }

    #[test]
    fn defaults_are_kafka_connects() {
        let c = DistributedConfig::from_raw(&raw(&[
            ("group.id", "g"),
            ("config.storage.topic", "c"),
            ("offset.storage.topic", "o"),
            ("status.storage.topic", "s"),
        ]))
        .unwrap();
        assert_eq!(c.offset_partitions, 25);
        assert_eq!(c.offset_replication_factor, 3);
        assert_eq!(c.config_replication_factor, 3);
        assert_eq!(c.sync_timeout, Duration::from_millis(3000));
        let errs = DistributedConfig::from_raw(&raw(&[
            ("group.id", "g"),
            ("config.storage.topic", "c"),
            ("offset.storage.topic", "o"),
            ("status.storage.topic", "s"),
            ("offset.storage.replication.factor", "0"),
            ("worker.sync.timeout.ms", "soon"),
        ]))
        .unwrap_err();
        let keys: Vec<&str> = errs.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "worker.sync.timeout.ms",
                "offset.storage.replication.factor"
            ]
        );
    }
}
