//! Error handling as Kafka Connect's `errors.*` keys configure it, for sink
//! tasks ([`ErrorReporter`]) and source tasks ([`SourceErrorHandler`]).
//!
//! A record whose key or value cannot be converted, or that a transform
//! rejects, is a *failure*. With `errors.tolerance=none` (the default) the
//! first failure fails the task; its message names the record's topic,
//! partition and offset. With `errors.tolerance=all` the record is skipped
//! and, when `errors.deadletterqueue.topic.name` is set, its original key,
//! value and headers are produced to that topic, optionally with Kafka's
//! `__connect.errors.*` context headers. Failures are logged when
//! `errors.log.enable=true` (with the record's key and value only when
//! `errors.log.include.messages=true`).
//!
//! Source tasks apply the same tolerance and `errors.log.*` keys to records
//! that fail a transform or the key/value converter; there is no dead letter
//! queue for sources (as in Kafka Connect). A skipped source record still
//! completes its source position, so its offset is stored in order like any
//! other.
//!
//! Ordering and durability: dead-letter records are produced in consumption
//! order, and [`ErrorReporter::drain`] waits for every one of them to be
//! acknowledged; the sink loop calls it before committing consumer offsets,
//! so a record is never committed before it reached the sink or the DLQ.

use std::time::Duration;

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, Headers, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};
use rdkafka::Message;
use velocity_api::config::ConfigExt;
use velocity_api::{ConnectError, RawConfig};

use super::{admin_config, producer_config};
use crate::config::WorkerConfig;
use crate::kafka_log;

/// Most dead-letter records waiting for an acknowledgement at once; beyond
/// that [`ErrorReporter::report`] waits for the oldest (backpressure).
pub const MAX_DLQ_IN_FLIGHT: usize = 10_000;

/// Header names of Kafka's `DeadLetterQueueReporter`.
pub mod header {
    /// Origin topic.
    pub const TOPIC: &str = "__connect.errors.topic";
    /// Origin partition (decimal text).
    pub const PARTITION: &str = "__connect.errors.partition";
    /// Origin offset (decimal text).
    pub const OFFSET: &str = "__connect.errors.offset";
    /// The connector's name.
    pub const CONNECTOR_NAME: &str = "__connect.errors.connector.name";
    /// The task id (decimal text).
    pub const TASK_ID: &str = "__connect.errors.task.id";
    /// The failing stage (`KEY_CONVERTER`, `VALUE_CONVERTER`, `TRANSFORMATION`).
    pub const STAGE: &str = "__connect.errors.stage";
    /// The class executing the stage (converter or transform class).
    pub const CLASS_NAME: &str = "__connect.errors.class.name";
    /// The Java exception class Kafka Connect would report.
    pub const EXCEPTION_CLASS_NAME: &str = "__connect.errors.exception.class.name";
    /// The error message.
    pub const EXCEPTION_MESSAGE: &str = "__connect.errors.exception.message";
}

/// Where in the sink pipeline a record failed (Kafka's `Stage` names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The key converter rejected the key bytes.
    KeyConverter,
    /// The value converter rejected the value bytes.
    ValueConverter,
    /// A transform (SMT) failed.
    Transformation,
}

impl Stage {
    /// Kafka's spelling (`KEY_CONVERTER`, `VALUE_CONVERTER`, `TRANSFORMATION`).
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::KeyConverter => "KEY_CONVERTER",
            Stage::ValueConverter => "VALUE_CONVERTER",
            Stage::Transformation => "TRANSFORMATION",
        }
    }

    /// The Java exception class Kafka Connect reports for a failure in this stage.
    pub fn exception_class(self) -> &'static str {
        match self {
            Stage::KeyConverter | Stage::ValueConverter => {
                "org.apache.kafka.connect.errors.DataException"
            }
            Stage::Transformation => "org.apache.kafka.connect.errors.ConnectException",
        }
    }
}

/// One failed record: where it came from and what failed.
#[derive(Debug)]
pub struct Failure {
    /// Failing stage.
    pub stage: Stage,
    /// Class executing the stage (converter or transform class name).
    pub class_name: String,
    /// The error.
    pub error: ConnectError,
    /// Origin topic.
    pub topic: String,
    /// Origin partition.
    pub partition: i32,
    /// Origin offset.
    pub offset: i64,
}

impl Failure {
    /// The message the task fails with under `errors.tolerance=none`; names
    /// topic, partition and offset.
    pub fn task_error(&self) -> ConnectError {
        ConnectError::fatal(format!(
            "Tolerance exceeded in error handler: stage {} ({}) failed for the record at topic {} partition {} offset {}: {}",
            self.stage.as_str(),
            self.class_name,
            self.topic,
            self.partition,
            self.offset,
            self.error
        ))
    }
}

/// `errors.tolerance`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tolerance {
    /// Fail the task on the first failure (default).
    None,
    /// Skip failed records (and send them to the DLQ when configured).
    All,
}

/// The typed `errors.*` keys of a sink connector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorConfig {
    /// `errors.tolerance` (`none` default, `all`).
    pub tolerance: Tolerance,
    /// `errors.deadletterqueue.topic.name` (default empty: no DLQ).
    pub dlq_topic: Option<String>,
    /// `errors.deadletterqueue.topic.replication.factor` (default 3, as in
    /// Kafka), used when the DLQ topic has to be created.
    pub dlq_replication_factor: i32,
    /// `errors.deadletterqueue.context.headers.enable` (default false).
    pub dlq_context_headers: bool,
    /// `errors.log.enable` (default false).
    pub log_enable: bool,
    /// `errors.log.include.messages` (default false).
    pub log_include_messages: bool,
}

impl ErrorConfig {
    /// Parses the keys; errors name the dotted key and the rule.
    pub fn from_raw(c: &RawConfig) -> Result<ErrorConfig, ConnectError> {
        let tolerance = match c
            .enum_or("errors.tolerance", "none", &["none", "all"])?
            .as_str()
        {
            "all" => Tolerance::All,
            _ => Tolerance::None,
        };
        let dlq_topic = c
            .opt_str("errors.deadletterqueue.topic.name")
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned);
        let rf_key = "errors.deadletterqueue.topic.replication.factor";
        let dlq_replication_factor = c.int_or(rf_key, 3, -1, i16::MAX as i64)? as i32;
        if dlq_replication_factor == 0 {
            return Err(ConnectError::config(
                rf_key,
                "Replication factor must be positive or -1 (the broker's default)",
            ));
        }
        if let Some(t) = &dlq_topic {
            if c.list("topics").iter().any(|x| x == t) {
                return Err(ConnectError::config(
                    "errors.deadletterqueue.topic.name",
                    format!("The DLQ topic '{t}' may not be included in the list of topics ('topics') to consume"),
                ));
            }
        }
        Ok(ErrorConfig {
            tolerance,
            dlq_topic,
            dlq_replication_factor,
            dlq_context_headers: c
                .bool_or("errors.deadletterqueue.context.headers.enable", false)?,
            log_enable: c.bool_or("errors.log.enable", false)?,
            log_include_messages: c.bool_or("errors.log.include.messages", false)?,
        })
    }

    /// Validation errors as `(key, message)` pairs (empty when valid).
    pub fn validate(c: &RawConfig) -> Vec<(String, String)> {
        match ErrorConfig::from_raw(c) {
            Ok(_) => Vec::new(),
            Err(e @ ConnectError::Config { .. }) => {
                let key = match &e {
                    ConnectError::Config { key, .. } => key.clone(),
                    ConnectError::Other { .. } => String::new(),
                };
                vec![(key, e.to_string())]
            }
            Err(e) => vec![("errors.tolerance".into(), e.to_string())],
        }
    }
}

/// The `__connect.errors.*` context headers for `f`, in Kafka's order;
/// numbers as decimal text, as Kafka writes them.
pub fn context_headers(f: &Failure, connector: &str, task_id: u32) -> Vec<(&'static str, String)> {
    vec![
        (header::TOPIC, f.topic.clone()),
        (header::PARTITION, f.partition.to_string()),
        (header::OFFSET, f.offset.to_string()),
        (header::CONNECTOR_NAME, connector.to_owned()),
        (header::TASK_ID, task_id.to_string()),
        (header::STAGE, f.stage.as_str().to_owned()),
        (header::CLASS_NAME, f.class_name.clone()),
        (
            header::EXCEPTION_CLASS_NAME,
            f.stage.exception_class().to_owned(),
        ),
        (header::EXCEPTION_MESSAGE, f.error.to_string()),
    ]
}

/// Logs one failure as Kafka Connect's `LogReporter` does, at ERROR:
/// "Error encountered in task T. Executing stage 'S' with class 'C', where
/// ...". `where_` gets `errors.log.include.messages` and returns the
/// "where" clause (None for none); the record's key and value may appear in
/// it only when that flag is true.
fn log_failure(
    config: &ErrorConfig,
    task: &str,
    stage: Stage,
    class_name: &str,
    error: &ConnectError,
    where_: impl FnOnce(bool) -> Option<String>,
) {
    if !config.log_enable {
        return;
    }
    let clause = where_(config.log_include_messages)
        .map(|w| format!(", where {w}"))
        .unwrap_or_default();
    tracing::error!(
        task, stage = stage.as_str(), class = class_name, error = %error,
        "Error encountered in task {task}. Executing stage '{}' with class '{class_name}'{clause}.",
        stage.as_str()
    );
}

/// Applies `errors.tolerance` and `errors.log.*` to the records of one
/// source task that fail a transform or a converter.
///
/// Contract: [`SourceErrorHandler::handle`] returns the task error under
/// `errors.tolerance=none` (the caller fails the task) and `Ok` under
/// `all` (the caller skips the record but still lets it complete its source
/// position, so nothing after it waits and nothing before it is lost).
#[derive(Debug, Clone)]
pub struct SourceErrorHandler {
    config: ErrorConfig,
    task: String,
}

impl SourceErrorHandler {
    /// Reads the `errors.*` keys of a source connector (the dead letter
    /// queue keys are sink-only and ignored here, as in Kafka Connect).
    pub fn new(
        connector_config: &RawConfig,
        task: &str,
    ) -> Result<SourceErrorHandler, ConnectError> {
        Ok(SourceErrorHandler {
            config: ErrorConfig::from_raw(connector_config)?,
            task: task.to_owned(),
        })
    }

    /// True when failures are logged with the record
    /// (`errors.log.enable` and `errors.log.include.messages`).
    pub fn includes_messages(&self) -> bool {
        self.config.log_enable && self.config.log_include_messages
    }

    /// Logs (when enabled) the failure of `record` in `stage`, run by
    /// `class_name`; returns `error` under `errors.tolerance=none`, Ok under
    /// `all`.
    pub fn handle(
        &self,
        stage: Stage,
        class_name: &str,
        error: ConnectError,
        record: Option<&velocity_api::ConnectRecord>,
    ) -> Result<(), ConnectError> {
        log_failure(
            &self.config,
            &self.task,
            stage,
            class_name,
            &error,
            |messages| match record {
                Some(r) if messages => Some(format!(
                    "source record is = SourceRecord{{topic={}, key={:?}, value={:?}}}",
                    r.topic, r.key, r.value
                )),
                Some(r) => Some(format!("source record is for topic {}", r.topic)),
                None => None,
            },
        );
        match self.config.tolerance {
            Tolerance::None => Err(error),
            Tolerance::All => {
                if !self.config.log_enable {
                    tracing::debug!(task = %self.task, stage = stage.as_str(), error = %error, "skipping source record (errors.tolerance=all)");
                }
                Ok(())
            }
        }
    }
}

/// Applies the `errors.*` policy to failed records of one sink task.
pub struct ErrorReporter {
    config: ErrorConfig,
    connector: String,
    task_id: u32,
    dlq: Option<(FutureProducer, String)>,
    in_flight: Vec<DeliveryFuture>,
}

impl ErrorReporter {
    /// Builds the reporter; with a DLQ topic, creates the producer and the
    /// topic (one partition, the configured replication factor) unless it
    /// exists. Blocks on the broker for topic creation (30 s at most).
    pub async fn new(
        worker: &WorkerConfig,
        connector_config: &RawConfig,
        connector: &str,
        task_id: u32,
    ) -> Result<ErrorReporter, ConnectError> {
        let config = ErrorConfig::from_raw(connector_config)?;
        let dlq = match (&config.dlq_topic, config.tolerance) {
            (Some(topic), Tolerance::All) => {
                let client_id = format!("connector-dlq-producer-{connector}-{task_id}");
                let producer: FutureProducer = producer_config(worker, connector_config, &client_id)
                    .create()
                    .map_err(|e| ConnectError::fatal(format!("invalid dead letter queue producer configuration (check producer.* and producer.override.* keys): {e}")))?;
                create_topic(
                    worker,
                    connector_config,
                    topic,
                    config.dlq_replication_factor,
                )
                .await?;
                Some((producer, topic.clone()))
            }
            _ => None,
        };
        Ok(ErrorReporter {
            config,
            connector: connector.to_owned(),
            task_id,
            dlq,
            in_flight: Vec::new(),
        })
    }

    /// The parsed configuration.
    pub fn config(&self) -> &ErrorConfig {
        &self.config
    }

    /// Handles one failure of `msg`: with `errors.tolerance=none` returns the
    /// task error (naming topic/partition/offset); with `all` logs it (when
    /// enabled), queues the original record on the DLQ (when configured) and
    /// returns Ok so the record is skipped. Waits when too many dead-letter
    /// records are unacknowledged.
    pub async fn report<M: Message>(
        &mut self,
        failure: Failure,
        msg: &M,
    ) -> Result<(), ConnectError> {
        let task = format!("{}-{}", self.connector, self.task_id);
        log_failure(
            &self.config,
            &task,
            failure.stage,
            &failure.class_name,
            &failure.error,
            |messages| {
                let mut w = format!(
                    "consumed record is {{topic='{}', partition={}, offset={}}}",
                    failure.topic, failure.partition, failure.offset
                );
                if messages {
                    w.push_str(&format!(
                        " with key={} value={}",
                        String::from_utf8_lossy(msg.key().unwrap_or_default()),
                        String::from_utf8_lossy(msg.payload().unwrap_or_default())
                    ));
                }
                Some(w)
            },
        );
        if self.config.tolerance == Tolerance::None {
            return Err(failure.task_error());
        }
        let Some((producer, topic)) = &self.dlq else {
            if !self.config.log_enable {
                tracing::debug!(topic = %failure.topic, partition = failure.partition, offset = failure.offset, error = %failure.error, "skipping record (errors.tolerance=all)");
            }
            return Ok(());
        };
        let mut headers = OwnedHeaders::new();
        if let Some(hs) = msg.headers() {
            for h in hs.iter() {
                headers = headers.insert(Header {
                    key: h.key,
                    value: h.value,
                });
            }
        }
        if self.config.dlq_context_headers {
            for (k, v) in context_headers(&failure, &self.connector, self.task_id) {
                headers = headers.insert(Header {
                    key: k,
                    value: Some(v.as_bytes()),
                });
            }
        }
        loop {
            let mut fr: FutureRecord<'_, [u8], [u8]> =
                FutureRecord::to(topic).headers(headers.clone());
            if let Some(k) = msg.key() {
                fr = fr.key(k);
            }
            if let Some(v) = msg.payload() {
                fr = fr.payload(v);
            }
            match producer.send_result(fr) {
                Ok(f) => {
                    self.in_flight.push(f);
                    break;
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    drain(&mut self.in_flight).await?;
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                Err((e, _)) => {
                    return Err(ConnectError::retriable(format!(
                        "producing to the dead letter queue topic {topic}: {e}"
                    )))
                }
            }
        }
        if self.in_flight.len() >= MAX_DLQ_IN_FLIGHT {
            self.drain().await?;
        }
        Ok(())
    }

    /// Waits until every dead-letter record produced so far is acknowledged;
    /// fails when one could not be delivered.
    pub async fn drain(&mut self) -> Result<(), ConnectError> {
        drain(&mut self.in_flight).await
    }
}

/// Awaits every delivery in `in_flight`, emptying it.
async fn drain(in_flight: &mut Vec<DeliveryFuture>) -> Result<(), ConnectError> {
    {
        for f in in_flight.drain(..) {
            match f.await {
                Ok(Ok(_)) => {}
                Ok(Err((e, _))) => {
                    return Err(ConnectError::retriable(format!(
                        "could not write to the dead letter queue: {e}"
                    )))
                }
                Err(_) => {
                    return Err(ConnectError::fatal(
                        "dead letter queue producer dropped a delivery report",
                    ))
                }
            }
        }
        Ok(())
    }
}

/// Creates `topic` with one partition unless it exists (tansu and brokers
/// without auto-creation need this).
async fn create_topic(
    worker: &WorkerConfig,
    connector_config: &RawConfig,
    topic: &str,
    rf: i32,
) -> Result<(), ConnectError> {
    let client = admin_config(worker, connector_config, "connector-dlq-admin");
    kafka_log::ensure_topic(
        &client,
        &kafka_log::TopicSpec::new(topic, 1, rf),
        "create it by hand or fix errors.deadletterqueue.topic.replication.factor",
    )
    .await
    .map(|_| ())
    .map_err(kafka_log::connect_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    use velocity_api::config::raw_config as cfg;

    #[test]
    fn defaults_match_kafka_connect() {
        let c = ErrorConfig::from_raw(&cfg(&[])).unwrap();
        assert_eq!(
            c,
            ErrorConfig {
                tolerance: Tolerance::None,
                dlq_topic: None,
                dlq_replication_factor: 3,
                dlq_context_headers: false,
                log_enable: false,
                log_include_messages: false,
            }
        );
    }

    #[test]
    fn parses_every_key() {
        let c = ErrorConfig::from_raw(&cfg(&[
            ("errors.tolerance", "all"),
            ("errors.deadletterqueue.topic.name", " dlq "),
            ("errors.deadletterqueue.topic.replication.factor", "1"),
            ("errors.deadletterqueue.context.headers.enable", "true"),
            ("errors.log.enable", "true"),
            ("errors.log.include.messages", "true"),
        ]))
        .unwrap();
        assert_eq!(c.tolerance, Tolerance::All);
        assert_eq!(c.dlq_topic.as_deref(), Some("dlq"));
        assert_eq!(c.dlq_replication_factor, 1);
        assert!(c.dlq_context_headers && c.log_enable && c.log_include_messages);
    }

    #[test]
    fn errors_name_the_key() {
        let key_of = |pairs: &[(&str, &str)]| ErrorConfig::validate(&cfg(pairs))[0].0.clone();
        assert_eq!(key_of(&[("errors.tolerance", "some")]), "errors.tolerance");
        assert_eq!(
            key_of(&[("errors.deadletterqueue.topic.replication.factor", "0")]),
            "errors.deadletterqueue.topic.replication.factor"
        );
        assert_eq!(
            key_of(&[("errors.deadletterqueue.context.headers.enable", "yes")]),
            "errors.deadletterqueue.context.headers.enable"
        );
        assert_eq!(
            key_of(&[
                ("topics", "a,b"),
                ("errors.deadletterqueue.topic.name", "b")
            ]),
            "errors.deadletterqueue.topic.name"
        );
        assert!(ErrorConfig::validate(&cfg(&[("errors.tolerance", "all")])).is_empty());
    }

    fn failure() -> Failure {
        Failure {
            stage: Stage::ValueConverter,
            class_name: "org.apache.kafka.connect.json.JsonConverter".into(),
            error: ConnectError::fatal("Converting byte[] to Kafka Connect data failed"),
            topic: "orders".into(),
            partition: 2,
            offset: 41,
        }
    }

    #[test]
    fn context_headers_are_kafkas() {
        let h = context_headers(&failure(), "sink-a", 3);
        let get = |k: &str| h.iter().find(|(n, _)| *n == k).unwrap().1.clone();
        assert_eq!(h.len(), 9);
        assert_eq!(get("__connect.errors.topic"), "orders");
        assert_eq!(get("__connect.errors.partition"), "2");
        assert_eq!(get("__connect.errors.offset"), "41");
        assert_eq!(get("__connect.errors.connector.name"), "sink-a");
        assert_eq!(get("__connect.errors.task.id"), "3");
        assert_eq!(get("__connect.errors.stage"), "VALUE_CONVERTER");
        assert_eq!(
            get("__connect.errors.class.name"),
            "org.apache.kafka.connect.json.JsonConverter"
        );
        assert_eq!(
            get("__connect.errors.exception.class.name"),
            "org.apache.kafka.connect.errors.DataException"
        );
        assert!(get("__connect.errors.exception.message").contains("Converting byte[]"));
    }

    #[test]
    fn task_error_names_topic_partition_offset() {
        let e = failure().task_error();
        assert!(!e.is_retriable());
        let m = e.to_string();
        assert!(
            m.contains("topic orders partition 2 offset 41") && m.contains("VALUE_CONVERTER"),
            "{m}"
        );
    }
}
