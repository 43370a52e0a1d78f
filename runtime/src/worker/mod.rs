//! Task execution: the loops that run source and sink tasks, and what they
//! share (converters, the transform chain, Kafka client settings).

pub mod errors;
pub mod sink;
pub mod source;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex as StdMutex};

use rdkafka::ClientConfig;
use tokio::sync::watch;
use velocity_api::config::ConfigExt;
use velocity_api::{
    ConnectError, ConnectRecord, PluginKind, PluginRegistry, Predicate, RawConfig, TaskContext,
    Transform,
};

use crate::config::{WorkerConfig, JSON_CONVERTER};
use crate::converters::{new_converter, Converter};
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

/// One configured step of a [`TransformChain`]: a transform, optionally guarded
/// by a predicate (Kafka Connect's `TransformationStage`).
struct Step {
    alias: String,
    transform: Box<dyn Transform>,
    /// The predicate alias and instance, when `transforms.<alias>.predicate` is set.
    predicate: Option<(String, Box<dyn Predicate>)>,
    /// `transforms.<alias>.negate`: run the transform when the predicate is false.
    negate: bool,
    /// `transforms.<alias>.type` as configured (for error reports).
    class: String,
}

/// The configured transforms of a connector, applied in `transforms=` order.
///
/// Configured exactly as Kafka Connect configures them: `transforms=a,b`,
/// `transforms.a.type=<class or alias>`, the transform's own keys under
/// `transforms.a.`, and optionally `transforms.a.predicate=<p>` (an alias
/// listed in `predicates=`, with `predicates.<p>.type` and its keys under
/// `predicates.<p>.`) plus `transforms.a.negate=true|false`. A guarded
/// transform runs only on records for which `negate XOR predicate.test()` is
/// true; other records pass through unchanged. Each transform gets its own
/// predicate instance, as in Kafka Connect.
pub struct TransformChain {
    steps: Vec<Step>,
    /// Reused per call to avoid an allocation per record.
    scratch: Vec<ConnectRecord>,
    /// Class of the step whose failure [`TransformChain::apply_many`] or
    /// [`TransformChain::on_transaction_end`] returned last.
    failed_class: String,
}

/// Re-keys a plugin's configuration error under the plugin's prefix (e.g.
/// `field` → `transforms.a.field`); other errors go under `fallback_key`.
fn prefixed_error(prefix: &str, fallback_key: &str, e: ConnectError) -> (String, String) {
    match e {
        ConnectError::Config { key, message } => {
            let full = format!("{prefix}{key}");
            // Kafka Connect's messages name the full key; plugins name their own.
            let message = message
                .replace(&format!("\"{key}\""), &format!("\"{full}\""))
                .replace(
                    &format!("configuration {key}:"),
                    &format!("configuration {full}:"),
                );
            let message = if message.starts_with("Invalid value ")
                || message.starts_with("Missing required configuration")
            {
                message
            } else {
                format!("Invalid value for configuration {full}: {message}")
            };
            (full, message)
        }
        other => (fallback_key.to_owned(), format!("{fallback_key}: {other}")),
    }
}

/// Names of the registered plugins of one kind, for "class not found" errors.
fn known_plugins(registry: &PluginRegistry, want: fn(&PluginKind) -> bool) -> String {
    let known: Vec<&str> = registry
        .all()
        .iter()
        .filter(|p| want(&p.kind))
        .map(|p| p.class)
        .collect();
    if known.is_empty() {
        "none".to_owned()
    } else {
        known.join(", ")
    }
}

/// Builds and configures predicate `alias` (`predicates.<alias>.*`).
fn build_predicate(
    registry: &PluginRegistry,
    config: &RawConfig,
    alias: &str,
) -> Result<Box<dyn Predicate>, (String, String)> {
    let key = format!("predicates.{alias}.type");
    let Some(class) = config.opt_str(&key) else {
        return Err((
            key.clone(),
            format!("Missing required configuration \"{key}\" which has no default value."),
        ));
    };
    let factory = match registry.find(class).map(|p| p.kind) {
        Some(PluginKind::Predicate(f)) => f,
        Some(_) => {
            return Err((
                key.clone(),
                format!("Invalid value {class} for configuration {key}: Not a Predicate"),
            ))
        }
        None => {
            return Err((
                key.clone(),
                format!(
                    "Invalid value {class} for configuration {key}: Class {class} could not be found. Available predicates: {}",
                    known_plugins(registry, |k| matches!(k, PluginKind::Predicate(_)))
                ),
            ))
        }
    };
    let mut p = factory();
    let prefix = format!("predicates.{alias}.");
    p.configure(&config.with_prefix(&prefix))
        .map_err(|e| prefixed_error(&prefix, &key, e))?;
    Ok(p)
}

impl TransformChain {
    /// Builds and configures the chain; errors are `(key, message)` pairs
    /// naming the full dotted key (e.g. `transforms.a.predicate`).
    pub fn from_config(
        registry: &PluginRegistry,
        config: &RawConfig,
    ) -> Result<TransformChain, Vec<(String, String)>> {
        let mut steps = Vec::new();
        let mut errors = Vec::new();
        let predicate_aliases = config.list("predicates");
        let mut seen = BTreeSet::new();
        for alias in &predicate_aliases {
            if !seen.insert(alias.as_str()) {
                errors.push((
                    "predicates".to_owned(),
                    format!("Invalid value {} for configuration predicates: Duplicate alias provided: {alias}", config.str_or("predicates", "")),
                ));
            }
        }
        let mut seen = BTreeSet::new();
        for alias in config.list("transforms") {
            if !seen.insert(alias.clone()) {
                errors.push((
                    "transforms".to_owned(),
                    format!("Invalid value {} for configuration transforms: Duplicate alias provided: {alias}", config.str_or("transforms", "")),
                ));
                continue;
            }
            let key = format!("transforms.{alias}.type");
            let prefix = format!("transforms.{alias}.");
            let negate_key = format!("transforms.{alias}.negate");
            let negate = match config.bool_or(&negate_key, false) {
                Ok(n) => n,
                Err(_) => {
                    errors.push((
                        negate_key.clone(),
                        format!(
                            "Invalid value {} for configuration {negate_key}: Expected value to be either true or false",
                            config.str_or(&negate_key, "")
                        ),
                    ));
                    false
                }
            };
            let predicate_key = format!("transforms.{alias}.predicate");
            if config.contains_key(&negate_key) && !config.contains_key(&predicate_key) {
                errors.push((
                    negate_key.clone(),
                    format!("Config '{negate_key}' was provided but there is no config '{predicate_key}' defining a predicate to be negated."),
                ));
            }
            let predicate = match config.opt_str(&predicate_key) {
                None => None,
                Some(p) if !predicate_aliases.iter().any(|a| a == p) => {
                    errors.push((
                        predicate_key.clone(),
                        format!(
                            "Invalid value {p} for configuration {predicate_key}: Predicate alias {p} is not listed in 'predicates' ({})",
                            if predicate_aliases.is_empty() { "empty".to_owned() } else { predicate_aliases.join(",") }
                        ),
                    ));
                    None
                }
                Some(p) => match build_predicate(registry, config, p) {
                    Ok(instance) => Some((p.to_owned(), instance)),
                    Err(e) => {
                        errors.push(e);
                        None
                    }
                },
            };
            let Some(class) = config.opt_str(&key) else {
                errors.push((
                    key.clone(),
                    format!("Missing required configuration \"{key}\" which has no default value."),
                ));
                continue;
            };
            let factory = match registry.find(class).map(|p| p.kind) {
                Some(PluginKind::Transform(f)) => f,
                Some(_) => {
                    errors.push((
                        key.clone(),
                        format!(
                            "Invalid value {class} for configuration {key}: Not a Transformation"
                        ),
                    ));
                    continue;
                }
                None => {
                    errors.push((
                        key.clone(),
                        format!(
                            "Invalid value {class} for configuration {key}: Class {class} could not be found. Available transformations: {}",
                            known_plugins(registry, |k| matches!(k, PluginKind::Transform(_)))
                        ),
                    ));
                    continue;
                }
            };
            let mut t = factory();
            let mut own = config.with_prefix(&prefix);
            // Keys of the stage, not of the transform (Kafka Connect removes them too).
            own.remove("type");
            own.remove("predicate");
            own.remove("negate");
            match t.configure(&own) {
                Ok(()) => steps.push(Step {
                    alias,
                    class: class.to_owned(),
                    transform: t,
                    predicate,
                    negate,
                }),
                Err(e) => errors.push(prefixed_error(&prefix, &key, e)),
            }
        }
        // Predicates nobody uses are still validated, as Kafka Connect does.
        for alias in &predicate_aliases {
            let used = config
                .list("transforms")
                .iter()
                .any(|t| config.opt_str(&format!("transforms.{t}.predicate")) == Some(alias));
            if !used {
                if let Err(e) = build_predicate(registry, config, alias) {
                    errors.push(e);
                }
            }
        }
        if errors.is_empty() {
            Ok(TransformChain {
                steps,
                scratch: Vec::new(),
                failed_class: String::new(),
            })
        } else {
            Err(errors)
        }
    }

    /// True when no transform is configured (the fast path skips the chain).
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// The transform aliases in order, with the predicate alias guarding each.
    pub fn describe(&self) -> Vec<(String, Option<String>, bool)> {
        self.steps
            .iter()
            .map(|s| {
                (
                    s.alias.clone(),
                    s.predicate.as_ref().map(|(p, _)| p.clone()),
                    s.negate,
                )
            })
            .collect()
    }

    /// Applies every transform in order; `Ok(None)` when one dropped the
    /// record. A transform whose predicate (after `negate`) does not match
    /// leaves the record unchanged. A transform that emits several records
    /// for one (only stateful, source-side transforms do) is an error here:
    /// use [`TransformChain::apply_many`].
    pub fn apply(&mut self, record: ConnectRecord) -> Result<Option<ConnectRecord>, ConnectError> {
        self.apply_staged(record).map_err(|(_, e)| e)
    }

    /// Like [`TransformChain::apply`], but a failure also names the failing
    /// transform's configured class (`transforms.<alias>.type`).
    pub fn apply_staged(
        &mut self,
        record: ConnectRecord,
    ) -> Result<Option<ConnectRecord>, (String, ConnectError)> {
        let mut record = record;
        let mut buf = std::mem::take(&mut self.scratch);
        for step in self.steps.iter_mut() {
            buf.clear();
            if let Err(e) = Self::step_apply(step, record, &mut buf) {
                self.scratch = buf;
                return Err((step.class.clone(), e));
            }
            match buf.len() {
                0 => {
                    self.scratch = buf;
                    return Ok(None);
                }
                1 => record = buf.pop().expect("one record"),
                n => {
                    self.scratch = buf;
                    return Err((step.class.clone(), ConnectError::fatal(format!(
                        "transform {} emitted {n} records for one input; stateful transforms (such as the domain filter) only run in a source connector's chain",
                        step.alias
                    ))));
                }
            }
        }
        self.scratch = buf;
        Ok(Some(record))
    }

    /// Applies every transform in order, pushing the chain's outputs for
    /// `record` to `out` in order (none when dropped or held by a stateful
    /// transform; records an earlier input left held may come out too).
    /// Predicates guard each step as in [`TransformChain::apply`].
    pub fn apply_many(
        &mut self,
        record: ConnectRecord,
        out: &mut Vec<ConnectRecord>,
    ) -> Result<(), ConnectError> {
        let mut cur = std::mem::take(&mut self.scratch);
        cur.clear();
        cur.push(record);
        let r = self.run_steps(&mut cur, out);
        cur.clear();
        self.scratch = cur;
        r
    }

    /// Tells every transform, first to last, that the source transaction
    /// ended; what a step releases runs through the steps after it before
    /// those are told. Outputs go to `out` in order.
    pub fn on_transaction_end(&mut self, out: &mut Vec<ConnectRecord>) -> Result<(), ConnectError> {
        let mut pending: Vec<ConnectRecord> = Vec::new();
        for i in 0..self.steps.len() {
            let mut next = Vec::new();
            let step = &mut self.steps[i];
            for r in pending.drain(..) {
                if let Err(e) = Self::step_apply(step, r, &mut next) {
                    self.failed_class.clone_from(&step.class);
                    return Err(e);
                }
            }
            if let Err(e) = step.transform.on_transaction_end(&mut next) {
                self.failed_class.clone_from(&step.class);
                return Err(step_error(&step.alias, e));
            }
            pending = next;
        }
        out.append(&mut pending);
        Ok(())
    }

    /// The `transforms.<alias>.type` key and class of every transform that
    /// may hold records ([`Transform::is_stateful`]), in chain order.
    pub fn stateful_steps(&self) -> Vec<(String, String)> {
        self.steps
            .iter()
            .filter(|s| s.transform.is_stateful())
            .map(|s| (format!("transforms.{}.type", s.alias), s.class.clone()))
            .collect()
    }

    /// The validation errors of a sink connector's chain: one per stateful
    /// transform (see [`Transform::is_stateful`]), naming
    /// `transforms.<alias>.type`. A sink commits the consumer offset of every
    /// record it was handed, so records such a transform held would be lost.
    pub fn sink_errors(&self) -> Vec<(String, String)> {
        self.stateful_steps()
            .into_iter()
            .map(|(key, class)| {
                let msg = format!(
                    "Invalid value {class} for configuration {key}: {class} holds records until a source transaction ends and is only supported in a source connector's transforms; a sink connector would commit the offsets of the records it holds and lose them. Move it to the source connector's chain (e.g. cast,filter,map on the PostgreSQL or MySQL source) and remove it from this sink's transforms"
                );
                (key, msg)
            })
            .collect()
    }

    /// The configured class (`transforms.<alias>.type`) of the step whose
    /// failure the last failed [`TransformChain::apply_many`] or
    /// [`TransformChain::on_transaction_end`] returned.
    pub fn failed_class(&self) -> &str {
        &self.failed_class
    }

    /// True while any transform holds input records it has not released.
    pub fn holds_records(&self) -> bool {
        self.steps.iter().any(|s| s.transform.holds_records())
    }

    /// Runs `records` through every step, appending the survivors to `out`.
    fn run_steps(
        &mut self,
        records: &mut Vec<ConnectRecord>,
        out: &mut Vec<ConnectRecord>,
    ) -> Result<(), ConnectError> {
        let mut next = Vec::new();
        for step in self.steps.iter_mut() {
            if records.is_empty() {
                return Ok(());
            }
            let result = if records.len() == 1 {
                // the common case: one record in, at most one out
                let r = records.pop().expect("one record");
                Self::step_apply(step, r, records)
            } else {
                let r = records
                    .drain(..)
                    .try_for_each(|r| Self::step_apply(step, r, &mut next));
                std::mem::swap(records, &mut next);
                r
            };
            if let Err(e) = result {
                self.failed_class.clone_from(&step.class);
                return Err(e);
            }
        }
        out.append(records);
        Ok(())
    }

    fn step_apply(
        step: &mut Step,
        record: ConnectRecord,
        out: &mut Vec<ConnectRecord>,
    ) -> Result<(), ConnectError> {
        if let Some((_, p)) = &step.predicate {
            if p.test(&record) == step.negate {
                out.push(record);
                return Ok(());
            }
        }
        step.transform
            .apply_many(record, out)
            .map_err(|e| step_error(&step.alias, e))
    }
}

fn step_error(alias: &str, e: ConnectError) -> ConnectError {
    ConnectError::fatal(format!("transform {alias} failed: {e}"))
}

/// Validation errors of the `transforms` keys.
pub fn validate_transforms(registry: &PluginRegistry, config: &RawConfig) -> Vec<(String, String)> {
    TransformChain::from_config(registry, config)
        .err()
        .unwrap_or_default()
}

/// Validation errors of a sink connector's `transforms` keys: those of
/// [`validate_transforms`], plus [`TransformChain::sink_errors`].
pub fn validate_sink_transforms(
    registry: &PluginRegistry,
    config: &RawConfig,
) -> Vec<(String, String)> {
    match TransformChain::from_config(registry, config) {
        Ok(chain) => chain.sink_errors(),
        Err(errors) => errors,
    }
}

/// Validation errors of `key.converter` / `value.converter` overrides.
pub fn validate_converters(registry: &PluginRegistry, config: &RawConfig) -> Vec<(String, String)> {
    let mut errors = Vec::new();
    for side in ["key", "value"] {
        let key = format!("{side}.converter");
        if let Some(class) = config.opt_str(&key) {
            match new_converter(registry, class) {
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

/// The class name of the `side` (`key`/`value`) converter in effect: the
/// connector's override, else the worker's, else JsonConverter.
pub fn converter_class(worker: &WorkerConfig, connector: &RawConfig, side: &str) -> String {
    let key = format!("{side}.converter");
    connector
        .opt_str(&key)
        .or_else(|| worker.raw.opt_str(&key))
        .unwrap_or(JSON_CONVERTER)
        .to_owned()
}

/// A key converter and a value converter.
pub type ConverterPair = (Box<dyn Converter>, Box<dyn Converter>);

/// Builds the key and value converters: the connector's override when it
/// names one (with its own `*.converter.*` keys), else the worker's
/// (default JsonConverter with schemas enabled).
pub fn build_converters(
    worker: &WorkerConfig,
    connector: &RawConfig,
    registry: &PluginRegistry,
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
        let mut c = new_converter(registry, class).ok_or_else(|| {
            ConnectError::config(key.clone(), format!("Class {class} could not be found."))
        })?;
        c.configure(&source.with_prefix(&format!("{key}.")), side == "key")?;
        Ok(c)
    };
    Ok((one("key")?, one("value")?))
}

/// librdkafka settings for a source task's producer: idempotent, acks=all,
/// then the worker's security keys and `producer.*` keys, then the
/// connector's `producer.override.*` keys, translated from Kafka's names
/// (see [`crate::security::kafka`]).
///
/// `linger.ms` defaults to 100 (Kafka's Java producer: 5) for the *bulk*
/// producer that drains a backlog. With an idempotent producer at most 5
/// requests are in flight; while they are and messages are queued,
/// librdkafka's broker thread re-polls its socket with a zero timeout
/// (measured: 586,000 `poll(…, 0)` calls while draining 200,000 change
/// events at `linger.ms=5`, 1,700 at 100) and takes a core from the database
/// and the broker. Full batches (`batch.size`) still go out at once; only a
/// partial batch waits. A source task that is caught up sends through a
/// second, *express* producer with `linger.ms=0` instead (see
/// [`source`]), so an isolated change is not held back. When
/// `producer.linger.ms` (worker) or `producer.override.linger.ms`
/// (connector) is set, it applies and the task uses that one producer only.
/// [`ProducerSettings::adaptive`] tells which case applies.
///
/// `queue.buffering.max.kbytes` defaults to 4096 (Kafka's `buffer.memory`:
/// 32 MiB): librdkafka holds each queued message twice while its request is
/// in flight (the message and the request buffer), so the queue's memory is
/// about twice this; at 4 MiB the PostgreSQL backlog benchmark kept its rate
/// (32 MiB: 125 MB peak RSS, 4 MiB: 60 MB). A record larger than the queue
/// fails its task with an error naming this key.
///
/// `enable.sparse.connections` defaults to false: librdkafka's idempotent
/// producer asks for its producer id only from a broker it is connected to,
/// and with sparse connections it opens that connection from a 500 ms retry
/// timer, so every new producer held its first record 0.5–1 s (measured:
/// producer id after 500 ms with sparse connections, after 8–11 ms
/// without). A source task's producers reach most brokers anyway.
pub fn producer_config(
    worker: &WorkerConfig,
    connector: &RawConfig,
    client_id: &str,
) -> ClientConfig {
    producer_settings(worker, connector, client_id).bulk
}

/// The source producers' settings (see [`producer_config`]).
pub struct ProducerSettings {
    /// The producer for a backlog (`linger.ms` 100 unless configured).
    pub bulk: ClientConfig,
    /// True when no `linger.ms` was configured: a caught-up task then sends
    /// through [`ProducerSettings::express`] (the same settings with
    /// `linger.ms=0`).
    pub adaptive: bool,
}

impl ProducerSettings {
    /// The express producer's settings: the bulk ones with `linger.ms=0`
    /// and a client id ending in `-express`.
    pub fn express(&self) -> ClientConfig {
        let mut c = self.bulk.clone();
        c.set("linger.ms", "0");
        let id = c.get("client.id").unwrap_or("velocity").to_owned();
        c.set("client.id", format!("{id}-express"));
        c
    }
}

/// [`producer_config`] and whether the task may switch to an express
/// producer when caught up.
pub fn producer_settings(
    worker: &WorkerConfig,
    connector: &RawConfig,
    client_id: &str,
) -> ProducerSettings {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &worker.bootstrap_servers)
        .set("client.id", client_id)
        .set("enable.idempotence", "true")
        .set("enable.sparse.connections", "false")
        .set("acks", "all")
        .set("batch.num.messages", "10000")
        .set("queue.buffering.max.messages", "100000")
        .set("queue.buffering.max.kbytes", "4096")
        .set("message.max.bytes", "10000000");
    worker.kafka.apply(&mut c, "producer.", connector);
    // librdkafka's alias of linger.ms
    let configured = ["linger.ms", "queue.buffering.max.ms"]
        .iter()
        .any(|k| c.get(k).is_some());
    if !configured {
        c.set("linger.ms", "100");
    }
    ProducerSettings {
        bulk: c,
        adaptive: !configured,
    }
}

/// librdkafka settings for an admin client (topic creation, dead letter
/// queue topics): the worker's security and `admin.*` keys, then the
/// connector's `admin.override.*` keys.
pub fn admin_config(worker: &WorkerConfig, connector: &RawConfig, client_id: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &worker.bootstrap_servers)
        .set("client.id", client_id);
    worker.kafka.apply(&mut c, "admin.", connector);
    c
}

/// librdkafka settings for a sink task's consumer in group `connect-<name>`.
///
/// Topic metadata is re-read every 5 s (`topic.metadata.refresh.interval.ms`;
/// librdkafka's default is 5 min), so a sink subscribed to a topic that does
/// not exist yet (a source topic created with its first record) starts
/// consuming it within seconds, as Kafka's Java consumer does; a
/// `consumer.override.` key changes it.
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
        .set("enable.partition.eof", "false")
        .set("topic.metadata.refresh.interval.ms", "5000");
    worker.kafka.apply(&mut c, "consumer.", connector);
    c
}

#[cfg(test)]
mod transform_chain_tests {
    use super::*;
    use velocity_api::{ConfigDef, PluginDesc, Value};

    /// Appends `-<suffix>` to the topic.
    struct Suffix(String);
    impl Transform for Suffix {
        fn configure(&mut self, config: &RawConfig) -> Result<(), ConnectError> {
            self.0 = config.req_str("suffix")?.to_owned();
            Ok(())
        }
        fn apply(&mut self, mut r: ConnectRecord) -> Result<Option<ConnectRecord>, ConnectError> {
            r.topic = format!("{}-{}", r.topic, self.0);
            Ok(Some(r))
        }
    }

    /// True for topics starting with `prefix`.
    struct StartsWith(String);
    impl Predicate for StartsWith {
        fn configure(&mut self, config: &RawConfig) -> Result<(), ConnectError> {
            self.0 = config.req_str("prefix")?.to_owned();
            Ok(())
        }
        fn test(&self, r: &ConnectRecord) -> bool {
            r.topic.starts_with(&self.0)
        }
    }

    /// Holds every record until a transaction ends (like the domain filter).
    #[derive(Default)]
    struct Holder(Vec<ConnectRecord>);
    impl Transform for Holder {
        fn configure(&mut self, _: &RawConfig) -> Result<(), ConnectError> {
            Ok(())
        }
        fn apply(&mut self, r: ConnectRecord) -> Result<Option<ConnectRecord>, ConnectError> {
            Ok(Some(r))
        }
        fn apply_many(
            &mut self,
            r: ConnectRecord,
            _: &mut Vec<ConnectRecord>,
        ) -> Result<(), ConnectError> {
            self.0.push(r);
            Ok(())
        }
        fn holds_records(&self) -> bool {
            !self.0.is_empty()
        }
        fn is_stateful(&self) -> bool {
            true
        }
    }

    fn registry() -> PluginRegistry {
        PluginRegistry::new()
            .register(PluginDesc {
                class: "test.Holder",
                aliases: &[],
                version: "1",
                config_def: ConfigDef::default,
                kind: PluginKind::Transform(|| Box::<Holder>::default()),
            })
            .register(PluginDesc {
                class: "test.Suffix",
                aliases: &[],
                version: "1",
                config_def: ConfigDef::default,
                kind: PluginKind::Transform(|| Box::new(Suffix(String::new()))),
            })
            .register(PluginDesc {
                class: "test.StartsWith",
                aliases: &["sw"],
                version: "1",
                config_def: ConfigDef::default,
                kind: PluginKind::Predicate(|| Box::new(StartsWith(String::new()))),
            })
    }

    use velocity_api::config::raw_config as cfg;

    fn topic_after(pairs: &[(&str, &str)], topic: &str) -> String {
        let mut c = TransformChain::from_config(&registry(), &cfg(pairs)).unwrap();
        let r = ConnectRecord::new(topic, None, Value::Null, None, Value::Null);
        c.apply(r).unwrap().unwrap().topic
    }

    const GUARDED: &[(&str, &str)] = &[
        ("transforms", "s"),
        ("transforms.s.type", "test.Suffix"),
        ("transforms.s.suffix", "x"),
        ("transforms.s.predicate", "p"),
        ("predicates", "p"),
        ("predicates.p.type", "sw"),
        ("predicates.p.prefix", "a"),
    ];

    #[test]
    fn predicate_guards_the_transform() {
        assert_eq!(topic_after(GUARDED, "abc"), "abc-x");
        assert_eq!(topic_after(GUARDED, "bcd"), "bcd");
    }

    #[test]
    fn negate_inverts_the_predicate() {
        let mut pairs = GUARDED.to_vec();
        pairs.push(("transforms.s.negate", "true"));
        assert_eq!(topic_after(&pairs, "abc"), "abc");
        assert_eq!(topic_after(&pairs, "bcd"), "bcd-x");
        let mut pairs = GUARDED.to_vec();
        pairs.push(("transforms.s.negate", "false"));
        assert_eq!(topic_after(&pairs, "abc"), "abc-x");
    }

    #[test]
    fn unguarded_transform_always_runs() {
        let pairs = &GUARDED[..3];
        assert_eq!(topic_after(pairs, "bcd"), "bcd-x");
    }

    #[test]
    fn errors_name_the_full_key() {
        let keys = |pairs: &[(&str, &str)]| -> Vec<String> {
            TransformChain::from_config(&registry(), &cfg(pairs))
                .err()
                .unwrap()
                .into_iter()
                .map(|(k, _)| k)
                .collect()
        };
        let mut unknown = GUARDED.to_vec();
        unknown[3] = ("transforms.s.predicate", "q");
        assert_eq!(keys(&unknown), ["transforms.s.predicate"]);
        let no_pattern: Vec<_> = GUARDED[..6].to_vec();
        assert_eq!(keys(&no_pattern), ["predicates.p.prefix"]);
        assert_eq!(keys(&GUARDED[..2]), ["transforms.s.suffix"]);
        let mut bad_negate = GUARDED.to_vec();
        bad_negate.push(("transforms.s.negate", "yes"));
        assert_eq!(keys(&bad_negate), ["transforms.s.negate"]);
        let negate_only = [
            GUARDED[0],
            GUARDED[1],
            GUARDED[2],
            ("transforms.s.negate", "true"),
        ];
        assert_eq!(keys(&negate_only), ["transforms.s.negate"]);
        let mut dup = GUARDED.to_vec();
        dup[0] = ("transforms", "s,s");
        assert_eq!(keys(&dup), ["transforms"]);
        // The stage keys are not passed to the transform.
        let mut t = Suffix(String::new());
        let e = t.configure(&cfg(&[])).unwrap_err();
        assert!(
            matches!(&e, ConnectError::Config { key, .. } if key == "suffix"),
            "{e:?}"
        );
    }

    #[test]
    fn a_stateful_transform_is_rejected_in_a_sink_chain_only() {
        let pairs = [
            ("transforms", "s,held"),
            ("transforms.s.type", "test.Suffix"),
            ("transforms.s.suffix", "x"),
            ("transforms.held.type", "test.Holder"),
        ];
        let errors = validate_sink_transforms(&registry(), &cfg(&pairs));
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].0, "transforms.held.type");
        assert!(errors[0].1.contains("test.Holder"), "{}", errors[0].1);
        assert!(errors[0].1.contains("source connector"), "{}", errors[0].1);
        // the same chain is fine for a source connector
        assert!(validate_transforms(&registry(), &cfg(&pairs)).is_empty());
        // and a sink chain of stateless transforms passes
        let stateless = [("transforms", "s"), pairs[1], pairs[2]];
        assert!(validate_sink_transforms(&registry(), &cfg(&stateless)).is_empty());
        // configuration errors are still reported as such
        let bad = [("transforms", "s"), ("transforms.s.type", "test.Suffix")];
        let errors = validate_sink_transforms(&registry(), &cfg(&bad));
        assert_eq!(errors[0].0, "transforms.s.suffix");
    }
}
