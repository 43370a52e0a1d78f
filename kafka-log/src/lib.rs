//! One Kafka log helper for every place Velocity keeps state in a topic or
//! creates one: Kafka Connect's internal topics (config, offsets, status),
//! Debezium's schema history topic, dead letter queues and source topics
//! created on first use.
//!
//! Contracts:
//! - [`ensure_topic`] creates a topic when absent (brokers such as tansu do
//!   not auto-create topics, and internal topics must be compacted);
//!   `TopicAlreadyExists` is success, an existing topic is left as it is.
//! - [`verify_internal_topic`] refuses an existing topic the way Kafka
//!   Connect's `KafkaConfigBackingStore` / `TopicAdmin` do, with their
//!   messages: a config topic with more than one partition, or any internal
//!   topic whose `cleanup.policy` is not exactly `compact`. When the broker
//!   does not describe the topic's configs the check is skipped (Kafka
//!   Connect logs and continues too).
//! - [`KafkaLog::send`] returns only once the broker acknowledged the record
//!   (`acks=all`, idempotent producer), with its partition and offset. Keyed
//!   records go to the partition Java's default partitioner picks
//!   (`murmur2_random`), so a topic shared with Kafka Connect keeps each key
//!   on one partition.
//! - [`KafkaLog::read_to_end`] returns every record written since the
//!   previous call, up to the log's end at the time of the call, in offset
//!   order per partition. It does NOT stop at the end offset that ListOffsets
//!   reports: a partition is read to its end only when a fetch at the
//!   consumer's position returned nothing because the broker's high
//!   watermark equals that position (librdkafka's partition EOF), and that
//!   position is at or past the reported end. Some brokers (tansu 0.6 with
//!   its object-store engine) report the base offset of the last batch + 1
//!   as the latest offset, so a reader that trusts it misses the rest of the
//!   last batch; this reader does not.

pub mod signal;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};

/// Errors of the Kafka log helper.
#[derive(Debug, thiserror::Error)]
pub enum KafkaLogError {
    /// The Kafka client failed (retriable: the broker may come back).
    #[error("{context}: {source}")]
    Kafka {
        /// What was being done.
        context: String,
        /// The client error.
        source: KafkaError,
    },
    /// The broker refused to create a topic.
    #[error("could not create topic {topic}: {code}; {hint}")]
    CreateTopic {
        /// The topic.
        topic: String,
        /// The broker's error.
        code: RDKafkaErrorCode,
        /// What the user can do.
        hint: String,
    },
    /// An existing topic is unfit for its purpose (fatal; Kafka Connect's
    /// `ConfigException` message).
    #[error("{0}")]
    Config(String),
    /// Reading to the end did not finish in time (retriable).
    #[error("reading topic {topic} to its end timed out after {timeout:?} (partitions not at their end: {pending:?})")]
    Timeout {
        /// The topic.
        topic: String,
        /// The time allowed.
        timeout: Duration,
        /// Partitions still behind.
        pending: Vec<i32>,
    },
    /// The topic does not exist.
    #[error("topic {0} does not exist")]
    MissingTopic(String),
}

impl KafkaLogError {
    /// True when retrying the operation later can succeed.
    pub fn is_retriable(&self) -> bool {
        match self {
            KafkaLogError::Kafka { .. } | KafkaLogError::Timeout { .. } => true,
            KafkaLogError::CreateTopic { code, .. } => matches!(
                code,
                RDKafkaErrorCode::RequestTimedOut
                    | RDKafkaErrorCode::NotController
                    | RDKafkaErrorCode::BrokerNotAvailable
                    | RDKafkaErrorCode::LeaderNotAvailable
            ),
            KafkaLogError::Config(_) | KafkaLogError::MissingTopic(_) => false,
        }
    }

    fn kafka(context: impl Into<String>, source: KafkaError) -> Self {
        KafkaLogError::Kafka {
            context: context.into(),
            source,
        }
    }
}

/// Result alias of this crate.
pub type Result<T, E = KafkaLogError> = std::result::Result<T, E>;

/// A topic to create when absent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicSpec {
    /// Its name.
    pub name: String,
    /// Partition count (-1: the broker's default).
    pub partitions: i32,
    /// Replication factor (-1: the broker's default).
    pub replication_factor: i32,
    /// Topic configs set at creation (`cleanup.policy`, `retention.ms`, ...).
    pub configs: Vec<(String, String)>,
}

impl TopicSpec {
    /// A topic with `partitions` and `replication_factor` and no extra configs.
    pub fn new(name: impl Into<String>, partitions: i32, replication_factor: i32) -> TopicSpec {
        TopicSpec {
            name: name.into(),
            partitions,
            replication_factor,
            configs: Vec::new(),
        }
    }

    /// A compacted topic (`cleanup.policy=compact`), as Kafka Connect creates
    /// its internal topics.
    pub fn compacted(
        name: impl Into<String>,
        partitions: i32,
        replication_factor: i32,
    ) -> TopicSpec {
        TopicSpec::new(name, partitions, replication_factor).with("cleanup.policy", "compact")
    }

    /// Adds a topic config.
    pub fn with(mut self, key: impl Into<String>, value: impl Into<String>) -> TopicSpec {
        self.configs.push((key.into(), value.into()));
        self
    }
}

/// Whether [`ensure_topic`] created the topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ensured {
    /// It was created now.
    Created,
    /// It existed already (left as it is).
    Existed,
}

/// Creates the topic of `spec` unless it exists. `client` holds the
/// connection settings (`bootstrap.servers`, security); `hint` ends the error
/// message when the broker refuses (what to fix, naming the config key).
pub async fn ensure_topic(client: &ClientConfig, spec: &TopicSpec, hint: &str) -> Result<Ensured> {
    let admin: AdminClient<DefaultClientContext> = client
        .create()
        .map_err(|e| KafkaLogError::kafka("creating the admin client", e))?;
    let repl = TopicReplication::Fixed(spec.replication_factor);
    let mut nt = NewTopic::new(&spec.name, spec.partitions, repl);
    for (k, v) in &spec.configs {
        nt = nt.set(k, v);
    }
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let res = admin
        .create_topics([&nt], &opts)
        .await
        .map_err(|e| KafkaLogError::kafka(format!("creating topic {}", spec.name), e))?;
    let mut outcome = Ensured::Created;
    for r in res {
        match r {
            Ok(_) => {}
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => outcome = Ensured::Existed,
            Err((topic, code)) => {
                return Err(KafkaLogError::CreateTopic {
                    topic,
                    code,
                    hint: hint.to_owned(),
                })
            }
        }
    }
    if outcome == Ensured::Created {
        tracing::info!(topic = %spec.name, partitions = spec.partitions, "created topic");
    }
    Ok(outcome)
}

/// What the broker says about an existing topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicInfo {
    /// Number of partitions.
    pub partitions: i32,
    /// The `cleanup.policy` values; None when the broker did not describe
    /// the topic's configs.
    pub cleanup_policy: Option<Vec<String>>,
}

/// Describes `topic`: None when it does not exist.
pub async fn describe_topic(client: &ClientConfig, topic: &str) -> Result<Option<TopicInfo>> {
    let partitions = partition_ids(client, topic).await?;
    let Some(partitions) = partitions else {
        return Ok(None);
    };
    let admin: AdminClient<DefaultClientContext> = client
        .create()
        .map_err(|e| KafkaLogError::kafka("creating the admin client", e))?;
    let opts = AdminOptions::new().request_timeout(Some(Duration::from_secs(30)));
    let cleanup_policy = match admin
        .describe_configs([&ResourceSpecifier::Topic(topic)], &opts)
        .await
    {
        Ok(rs) => rs.into_iter().find_map(|r| r.ok()).and_then(|r| {
            r.entries
                .iter()
                .find(|e| e.name == "cleanup.policy")
                .and_then(|e| e.value.clone())
                .map(|v| {
                    v.split(',')
                        .map(|s| s.trim().to_ascii_lowercase())
                        .filter(|s| !s.is_empty())
                        .collect::<Vec<_>>()
                })
        }),
        Err(e) => {
            tracing::info!(%topic, error = %e, "could not describe the topic's configs");
            None
        }
    };
    Ok(Some(TopicInfo {
        partitions: partitions.len() as i32,
        cleanup_policy,
    }))
}

/// The partition ids of `topic` from the cluster metadata; None when absent.
pub async fn partition_ids(client: &ClientConfig, topic: &str) -> Result<Option<Vec<i32>>> {
    let consumer: BaseConsumer = client
        .create()
        .map_err(|e| KafkaLogError::kafka("creating the metadata client", e))?;
    let topic = topic.to_owned();
    tokio::task::spawn_blocking(move || metadata_partitions(&consumer, &topic))
        .await
        .map_err(|e| KafkaLogError::Config(format!("metadata task failed: {e}")))?
}

fn metadata_partitions(consumer: &BaseConsumer, topic: &str) -> Result<Option<Vec<i32>>> {
    let md = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(30))
        .map_err(|e| KafkaLogError::kafka(format!("reading the metadata of topic {topic}"), e))?;
    let Some(t) = md.topics().iter().find(|t| t.name() == topic) else {
        return Ok(None);
    };
    match t.error() {
        // only "unknown topic" means absent; any other topic error
        // (leader not available, a broker restarting) is transient
        Some(e) if RDKafkaErrorCode::from(e) == RDKafkaErrorCode::UnknownTopicOrPartition => {
            return Ok(None)
        }
        Some(e) => {
            return Err(KafkaLogError::kafka(
                format!("reading the metadata of topic {topic}"),
                KafkaError::MetadataFetch(RDKafkaErrorCode::from(e)),
            ))
        }
        None if t.partitions().is_empty() => return Ok(None),
        None => {}
    }
    let mut ids: Vec<i32> = t.partitions().iter().map(|p| p.id()).collect();
    ids.sort_unstable();
    Ok(Some(ids))
}

/// One of Kafka Connect's internal topics, for [`verify_internal_topic`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InternalTopic {
    /// The worker config key naming the topic.
    pub config_key: &'static str,
    /// What it keeps (Kafka Connect's `getTopicPurpose()`).
    pub purpose: &'static str,
    /// True for the config topic: it must have exactly one partition.
    pub single_partition: bool,
}

/// The config topic (`config.storage.topic`).
pub const CONFIG_TOPIC: InternalTopic = InternalTopic {
    config_key: "config.storage.topic",
    purpose: "connector configurations",
    single_partition: true,
};
/// The offsets topic (`offset.storage.topic`).
pub const OFFSET_TOPIC: InternalTopic = InternalTopic {
    config_key: "offset.storage.topic",
    purpose: "source connector offsets",
    single_partition: false,
};
/// The status topic (`status.storage.topic`).
pub const STATUS_TOPIC: InternalTopic = InternalTopic {
    config_key: "status.storage.topic",
    purpose: "connector and task statuses",
    single_partition: false,
};

/// Checks an existing internal topic as Kafka Connect does, with its
/// messages. A missing cleanup policy (the broker did not describe configs)
/// passes, as in Kafka Connect.
pub fn verify_internal_topic(topic: &str, info: &TopicInfo, kind: InternalTopic) -> Result<()> {
    if kind.single_partition && info.partitions > 1 {
        return Err(KafkaLogError::Config(format!(
            "Topic '{topic}' supplied via the '{}' property is required to have a single partition in order to guarantee consistency of connector configurations, but found {} partitions.",
            kind.config_key, info.partitions
        )));
    }
    if let Some(policies) = &info.cleanup_policy {
        if policies.len() != 1 || policies[0] != "compact" {
            return Err(KafkaLogError::Config(format!(
                "Topic '{topic}' supplied via the '{key}' property is required to have 'cleanup.policy=compact' to guarantee consistency and durability of {purpose}, but found the topic currently has 'cleanup.policy={found}'. Continuing would likely result in eventually losing {purpose} and problems restarting this Connect cluster in the future. Change the '{key}' property in the Connect worker configurations to use a topic with 'cleanup.policy=compact'.",
                key = kind.config_key,
                purpose = kind.purpose,
                found = policies.join(","),
            )));
        }
    }
    Ok(())
}

/// Creates an internal topic when absent (compacted) and verifies it when it
/// exists, as a Kafka Connect worker does at start.
pub async fn ensure_internal_topic(
    client: &ClientConfig,
    spec: &TopicSpec,
    kind: InternalTopic,
) -> Result<()> {
    let hint = format!(
        "create it by hand (cleanup.policy=compact) or fix {} and its .replication.factor/.partitions",
        kind.config_key
    );
    if ensure_topic(client, spec, &hint).await? == Ensured::Existed {
        let info = describe_topic(client, &spec.name)
            .await?
            .ok_or_else(|| KafkaLogError::MissingTopic(spec.name.clone()))?;
        verify_internal_topic(&spec.name, &info, kind)?;
    }
    Ok(())
}

/// One record read from a log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    /// Its partition.
    pub partition: i32,
    /// Its offset.
    pub offset: i64,
    /// The key bytes (None: null key).
    pub key: Option<Vec<u8>>,
    /// The value bytes (None: tombstone).
    pub value: Option<Vec<u8>>,
}

struct Reader {
    consumer: BaseConsumer,
    /// partition → (next offset to read, position at which EOF was last seen)
    positions: HashMap<i32, (i64, Option<i64>)>,
}

/// A topic used as a log: produce with acknowledgement, read to the end.
pub struct KafkaLog {
    topic: String,
    producer: FutureProducer,
    consumer_config: ClientConfig,
    reader: Arc<Mutex<Option<Reader>>>,
}

impl KafkaLog {
    /// A log on `topic` with the connection settings of `client` (no I/O
    /// yet). The topic must exist before the first read.
    pub fn new(client: &ClientConfig, topic: &str) -> Result<KafkaLog> {
        let mut pc = client.clone();
        pc.set("acks", "all")
            .set("enable.idempotence", "true")
            .set("partitioner", "murmur2_random")
            .set("message.timeout.ms", "30000")
            .set("linger.ms", "0");
        let producer: FutureProducer = pc
            .create()
            .map_err(|e| KafkaLogError::kafka(format!("creating the producer of {topic}"), e))?;
        let mut cc = client.clone();
        cc.set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("enable.partition.eof", "true")
            .set("auto.offset.reset", "earliest")
            .set("allow.auto.create.topics", "false")
            .set("fetch.wait.max.ms", "100");
        if cc.get("group.id").is_none() {
            // librdkafka wants one even for assign(); it is never joined
            cc.set("group.id", format!("velocity-log-{topic}"));
        }
        Ok(KafkaLog {
            topic: topic.to_owned(),
            producer,
            consumer_config: cc,
            reader: Arc::new(Mutex::new(None)),
        })
    }

    /// The topic.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Produces one record (to `partition`, or where the key hashes to) and
    /// waits for the broker's acknowledgement. Returns (partition, offset).
    pub async fn send(
        &self,
        partition: Option<i32>,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
    ) -> Result<(i32, i64)> {
        let mut rec: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(&self.topic);
        if let Some(p) = partition {
            rec = rec.partition(p);
        }
        if let Some(k) = key {
            rec = rec.key(k);
        }
        if let Some(v) = value {
            rec = rec.payload(v);
        }
        self.producer
            .send(rec, Duration::from_secs(30))
            .await
            .map(|d| (d.partition, d.offset))
            .map_err(|(e, _)| KafkaLogError::kafka(format!("writing to topic {}", self.topic), e))
    }

    /// Reads every record written since the previous call (the first call
    /// reads from the beginning) up to the topic's end, as described in the
    /// module docs. Fails with [`KafkaLogError::Timeout`] after `timeout`.
    pub async fn read_to_end(&self, timeout: Duration) -> Result<Vec<LogRecord>> {
        let reader = self.reader.clone();
        let cc = self.consumer_config.clone();
        let topic = self.topic.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = reader
                .lock()
                .map_err(|_| KafkaLogError::Config("log reader lock poisoned".into()))?;
            if guard.is_none() {
                *guard = Some(open_reader(&cc, &topic)?);
            }
            let r = guard.as_mut().expect("reader just opened");
            read_to_end_blocking(r, &topic, timeout)
        })
        .await
        .map_err(|e| KafkaLogError::Config(format!("log reader task failed: {e}")))?
    }

    /// The (partition, log start, end) offsets ListOffsets reports (the end
    /// may be too low on some brokers, see the module docs). Err
    /// [`KafkaLogError::MissingTopic`] when the topic does not exist.
    pub async fn reported_watermarks(&self) -> Result<Vec<(i32, i64, i64)>> {
        let consumer: BaseConsumer = self
            .consumer_config
            .create()
            .map_err(|e| KafkaLogError::kafka("creating the metadata client", e))?;
        let topic = self.topic.clone();
        tokio::task::spawn_blocking(move || {
            let ids = metadata_partitions(&consumer, &topic)?
                .ok_or_else(|| KafkaLogError::MissingTopic(topic.clone()))?;
            ids.into_iter()
                .map(|p| {
                    consumer
                        .fetch_watermarks(&topic, p, Duration::from_secs(30))
                        .map(|(low, high)| (p, low, high))
                        .map_err(|e| KafkaLogError::kafka(format!("listing offsets of {topic}"), e))
                })
                .collect()
        })
        .await
        .map_err(|e| KafkaLogError::Config(format!("metadata task failed: {e}")))?
    }
}

fn open_reader(cc: &ClientConfig, topic: &str) -> Result<Reader> {
    let consumer: BaseConsumer = cc
        .create()
        .map_err(|e| KafkaLogError::kafka(format!("creating the reader of {topic}"), e))?;
    let ids = metadata_partitions(&consumer, topic)?
        .ok_or_else(|| KafkaLogError::MissingTopic(topic.to_owned()))?;
    let mut tpl = TopicPartitionList::new();
    for p in &ids {
        tpl.add_partition_offset(topic, *p, Offset::Beginning)
            .map_err(|e| KafkaLogError::kafka(format!("assigning {topic}"), e))?;
    }
    consumer
        .assign(&tpl)
        .map_err(|e| KafkaLogError::kafka(format!("assigning {topic}"), e))?;
    let mut positions = HashMap::new();
    for p in ids {
        // the log start: an EOF before any record then means "at the end"
        let (low, _) = consumer
            .fetch_watermarks(topic, p, Duration::from_secs(30))
            .map_err(|e| KafkaLogError::kafka(format!("listing offsets of {topic}"), e))?;
        positions.insert(p, (low.max(0), None));
    }
    Ok(Reader {
        consumer,
        positions,
    })
}

fn read_to_end_blocking(r: &mut Reader, topic: &str, timeout: Duration) -> Result<Vec<LogRecord>> {
    let deadline = Instant::now() + timeout;
    // the end offsets at the start of the call: what must be read at least
    let mut pending: HashMap<i32, i64> = HashMap::new();
    for (&p, &(pos, eof_at)) in &r.positions {
        let (_, high) = r
            .consumer
            .fetch_watermarks(topic, p, Duration::from_secs(30))
            .map_err(|e| KafkaLogError::kafka(format!("listing offsets of {topic}"), e))?;
        // already at the end: a previous EOF at this position and nothing
        // reported past it
        if eof_at == Some(pos) && high <= pos {
            continue;
        }
        pending.insert(p, high);
    }
    let mut out = Vec::new();
    while !pending.is_empty() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            let mut ps: Vec<i32> = pending.keys().copied().collect();
            ps.sort_unstable();
            return Err(KafkaLogError::Timeout {
                topic: topic.to_owned(),
                timeout,
                pending: ps,
            });
        }
        match r.consumer.poll(left.min(Duration::from_millis(500))) {
            None => {}
            Some(Err(KafkaError::PartitionEOF(p))) => {
                let Some(slot) = r.positions.get_mut(&p) else {
                    continue;
                };
                slot.1 = Some(slot.0);
                if let Some(&reported) = pending.get(&p) {
                    if slot.0 >= reported {
                        if slot.0 > reported {
                            tracing::debug!(%topic, partition = p, reported, end = slot.0,
                                "the broker reported an end offset below the partition's end");
                        }
                        pending.remove(&p);
                    }
                }
            }
            Some(Err(e)) => return Err(KafkaLogError::kafka(format!("reading {topic}"), e)),
            Some(Ok(m)) => {
                let p = m.partition();
                if let Some(slot) = r.positions.get_mut(&p) {
                    slot.0 = m.offset() + 1;
                    slot.1 = None;
                }
                out.push(LogRecord {
                    partition: p,
                    offset: m.offset(),
                    key: m.key().map(<[u8]>::to_vec),
                    value: m.payload().map(<[u8]>::to_vec),
                });
            }
        }
    }
    Ok(out)
}
