//! Task execution: the loops that run source and sink tasks, and what they
//! share (converters, the transform chain, Kafka client settings).

pub mod sink;
pub mod source;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex as StdMutex};

use rdkafka::ClientConfig;
use tokio::sync::watch;
use velocity_api::config::ConfigExt;
use velocity_api::{
    ConnectError, ConnectRecord, PluginKind, PluginRegistry, RawConfig, TaskContext, Transform,
};

use crate::config::{WorkerConfig, JSON_CONVERTER};
use crate::converters::{converter_for_class, Converter};
use crate::offsets::OffsetStore;
use crate::status::{StatusHandle, TargetState};

/// What every task of this worker shares.
pub struct WorkerContext {
    /// The worker's configuration.
    pub config: WorkerConfig,
    /// `host:port` shown as `worker_id` in statuses.
    pub worker_id: String,
}

/// Everything a task loop needs; built by the herder for each task.
pub struct TaskRuntime {
    /// Worker-wide settings.
    pub worker: Arc<WorkerContext>,
    /// Plugins (for transforms).
    pub registry: Arc<PluginRegistry>,
    /// The connector's config (converters, transforms, client overrides).
    pub connector_config: RawConfig,
    /// This task's config from `Connector::task_configs`.
    pub task_config: RawConfig,
    /// Passed to the task's `start`.
    pub task_ctx: TaskContext,
    /// Source offsets.
    pub offsets: Arc<dyn OffsetStore>,
    /// Where the loop publishes its state.
    pub status: StatusHandle,
    /// Target state changes from the herder.
    pub control: watch::Receiver<TargetState>,
    /// Topics the task has used (for `GET /connectors/{name}/topics`).
    pub topics: Arc<StdMutex<BTreeSet<String>>>,
}

/// The configured transforms of a connector, applied in `transforms=` order.
pub struct TransformChain {
    steps: Vec<(String, Box<dyn Transform>)>,
}

impl TransformChain {
    /// Builds and configures the chain; errors are `(key, message)` pairs.
    pub fn from_config(
        registry: &PluginRegistry,
        config: &RawConfig,
    ) -> Result<TransformChain, Vec<(String, String)>> {
        let mut steps = Vec::new();
        let mut errors = Vec::new();
        for alias in config.list("transforms") {
            let key = format!("transforms.{alias}.type");
            let Some(class) = config.opt_str(&key) else {
                errors.push((
                    key.clone(),
                    format!("Missing required configuration \"{key}\" which has no default value."),
                ));
                continue;
            };
            let factory = match registry.find(class).map(|p| p.kind) {
                Some(PluginKind::Transform(f)) => f,
                _ => {
                    let known: Vec<&str> = registry
                        .all()
                        .iter()
                        .filter(|p| matches!(p.kind, PluginKind::Transform(_)))
                        .map(|p| p.class)
                        .collect();
                    errors.push((
                        key.clone(),
                        format!("Invalid value {class} for configuration {key}: Class {class} could not be found. Available transformations: {}", if known.is_empty() { "none".to_owned() } else { known.join(", ") }),
                    ));
                    continue;
                }
            };
            let mut t = factory();
            match t.configure(&config.with_prefix(&format!("transforms.{alias}."))) {
                Ok(()) => steps.push((alias, t)),
                Err(e) => errors.push((key, format!("transforms.{alias}: {e}"))),
            }
        }
        if errors.is_empty() {
            Ok(TransformChain { steps })
        } else {
            Err(errors)
        }
    }

    /// True when no transform is configured (the fast path skips the chain).
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Applies every transform in order; `Ok(None)` when one dropped the record.
    pub fn apply(
        &mut self,
        mut record: ConnectRecord,
    ) -> Result<Option<ConnectRecord>, ConnectError> {
        for (alias, t) in self.steps.iter_mut() {
            match t.apply(record) {
                Ok(Some(r)) => record = r,
                Ok(None) => return Ok(None),
                Err(e) => {
                    return Err(ConnectError::fatal(format!(
                        "transform {alias} failed: {e}"
                    )))
                }
            }
        }
        Ok(Some(record))
    }
}

/// Validation errors of the `transforms` keys.
pub fn validate_transforms(registry: &PluginRegistry, config: &RawConfig) -> Vec<(String, String)> {
    TransformChain::from_config(registry, config)
        .err()
        .unwrap_or_default()
}

/// Validation errors of `key.converter` / `value.converter` overrides.
pub fn validate_converters(config: &RawConfig) -> Vec<(String, String)> {
    let mut errors = Vec::new();
    for side in ["key", "value"] {
        let key = format!("{side}.converter");
        if let Some(class) = config.opt_str(&key) {
            match converter_for_class(class) {
                None => errors.push((key.clone(), format!("Invalid value {class} for configuration {key}: Class {class} could not be found."))),
                Some(mut c) => {
                    if let Err(e) = c.configure(&config.with_prefix(&format!("{key}.")), side == "key") {
                        errors.push((key, e.to_string()));
                    }
                }
            }
        }
    }
    errors
}

/// A key converter and a value converter.
pub type ConverterPair = (Box<dyn Converter>, Box<dyn Converter>);

/// Builds the key and value converters: the connector's override when it
/// names one (with its own `*.converter.*` keys), else the worker's
/// (default JsonConverter with schemas enabled).
pub fn build_converters(
    worker: &WorkerConfig,
    connector: &RawConfig,
) -> Result<ConverterPair, ConnectError> {
    let one = |side: &str| -> Result<Box<dyn Converter>, ConnectError> {
        let key = format!("{side}.converter");
        let (class, source) = match connector.opt_str(&key) {
            Some(c) => (c, connector),
            None => (
                worker.raw.opt_str(&key).unwrap_or(JSON_CONVERTER),
                &worker.raw,
            ),
        };
        let mut c = converter_for_class(class).ok_or_else(|| {
            ConnectError::config(key.clone(), format!("Class {class} could not be found."))
        })?;
        c.configure(&source.with_prefix(&format!("{key}.")), side == "key")?;
        Ok(c)
    };
    Ok((one("key")?, one("value")?))
}

/// librdkafka settings for a source task's producer: idempotent, acks=all,
/// then the worker's `producer.*` keys, then the connector's
/// `producer.override.*` keys.
pub fn producer_config(
    worker: &WorkerConfig,
    connector: &RawConfig,
    client_id: &str,
) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &worker.bootstrap_servers)
        .set("client.id", client_id)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "5")
        .set("batch.num.messages", "10000")
        .set("queue.buffering.max.messages", "200000")
        .set("queue.buffering.max.kbytes", "262144")
        .set("message.max.bytes", "10000000");
    for (k, v) in worker.raw.with_prefix("producer.") {
        c.set(k, v);
    }
    for (k, v) in connector.with_prefix("producer.override.") {
        c.set(k, v);
    }
    c
}

/// librdkafka settings for a sink task's consumer in group `connect-<name>`.
pub fn consumer_config(
    worker: &WorkerConfig,
    connector: &RawConfig,
    group: &str,
    client_id: &str,
) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &worker.bootstrap_servers)
        .set("group.id", group)
        .set("client.id", client_id)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("enable.partition.eof", "false");
    for (k, v) in worker.raw.with_prefix("consumer.") {
        c.set(k, v);
    }
    for (k, v) in connector.with_prefix("consumer.override.") {
        c.set(k, v);
    }
    c
}
