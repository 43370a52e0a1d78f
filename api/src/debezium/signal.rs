//! Debezium's signals (`io.debezium.pipeline.signal`): the configuration
//! keys of the signalling channels ([`SIGNAL_DATA_COLLECTION`],
//! [`SIGNAL_ENABLED_CHANNELS`]), a signal as it arrives ([`SignalRecord`]:
//! a row of the signal table with columns `id`, `type`, `data`) and the
//! parsed action ([`Signal`]), with Debezium's names and rules:
//!
//! | `type` | action |
//! |---|---|
//! | `execute-snapshot` | [`Signal::ExecuteSnapshot`]: `data-collections` (regular expressions, required), `type` (`incremental`, the default, or `blocking`), `additional-conditions` (`[{"data-collection": regex, "filter": sql}]`), `surrogate-key` |
//! | `stop-snapshot` | [`Signal::StopSnapshot`]: `data-collections` (none: the whole snapshot), `type` |
//! | `pause-snapshot` / `resume-snapshot` | [`Signal::PauseSnapshot`] / [`Signal::ResumeSnapshot`] |
//! | `log` | [`Signal::Log`]: `message` is logged at INFO |
//! | `snapshot-window-open` / `snapshot-window-close` | [`Signal::WindowOpen`] / [`Signal::WindowClose`]: the watermarks the connector itself writes around a chunk |
//!
//! Contract: [`SignalRecord::parse`] never panics; a signal that cannot be
//! acted upon is a [`SignalError`] whose text is Debezium's warning, and the
//! connector logs it and goes on streaming (Debezium's `SignalProcessor`
//! catches every failure of a signal the same way).
//!
//! Channels (`signal.enabled.channels`): `source` (inserts into the signal
//! table, read from the log) and `kafka` (Debezium's `KafkaSignalChannel`:
//! partition 0 of `signal.kafka.topic`, default `<topic.prefix>-signal`;
//! a record counts when its key is the connector's `topic.prefix` and its
//! value a JSON document `{"id", "type", "data"}`, see
//! [`SignalRecord::from_kafka`]; the consumer settings are in
//! [`KafkaSignalConfig`]). Where a Kafka signal's position is kept across
//! restarts is described at [`super::incremental::SIGNAL_OFFSET`].

use regex::Regex;
use serde_json::Value as Json;

use crate::config::{ConfigExt, ConfigKey, ConfigReader, ConfigType::*, Importance::*};

/// `signal.data.collection`: the fully-qualified name of the signal table
/// (`schema.table` on PostgreSQL, `db.table` on MySQL); empty: signalling off.
pub const SIGNAL_DATA_COLLECTION: ConfigKey = ConfigKey::new("signal.data.collection", String, Some(""), Medium, "The name of the data collection that is used to send signals/commands to Debezium. Signaling is disabled when not set.");

/// `signal.enabled.channels` (default `source`): the channels signals are
/// read from: `source` (the signal table) and `kafka`.
pub const SIGNAL_ENABLED_CHANNELS: ConfigKey = ConfigKey::new(
    "signal.enabled.channels",
    List,
    Some("source"),
    Low,
    "List of channels names that are enabled. Source channel is enabled by default",
)
.validate_with(check_channels);

/// `signal.kafka.topic` (default `<topic.prefix>-signal`): the topic of
/// the Kafka channel.
pub const SIGNAL_KAFKA_TOPIC: ConfigKey = ConfigKey::new(
    "signal.kafka.topic",
    String,
    Some(""),
    High,
    "The name of the topic for the signals to the connector",
);

/// `signal.kafka.bootstrap.servers`: the brokers of the Kafka channel
/// (required when `kafka` is an enabled channel).
pub const SIGNAL_KAFKA_BOOTSTRAP_SERVERS: ConfigKey = ConfigKey::new(
    "signal.kafka.bootstrap.servers",
    String,
    Some(""),
    High,
    "A list of host/port pairs that the connector will use for establishing the initial connection to the Kafka cluster for retrieving signals to the connector.This should point to the same Kafka cluster used by the Kafka Connect process.",
);

/// `signal.kafka.groupId` (default `kafka-signal`): the consumer group
/// whose committed offset the Kafka channel starts from when the stored
/// source offset holds no signal position.
pub const SIGNAL_KAFKA_GROUP_ID: ConfigKey = ConfigKey::new(
    "signal.kafka.groupId",
    String,
    Some("kafka-signal"),
    Low,
    "Consumer group id for the signal topic",
);

/// `signal.kafka.poll.timeout.ms` (default 0): how long one poll of the
/// signal topic waits (Velocity's channel reads on its own thread, so 0
/// means its shortest wait, 100 ms).
pub const SIGNAL_KAFKA_POLL_TIMEOUT_MS: ConfigKey = ConfigKey::new(
    "signal.kafka.poll.timeout.ms",
    Int,
    Some("0"),
    Low,
    "The number of milliseconds to wait while polling signals.",
)
.range(0, i32::MAX as i64);

/// `signal.poll.interval.ms` (default 5000): Debezium's interval between
/// reads of the non-source channels. Velocity's Kafka channel hands a
/// signal over as soon as it is fetched; the key is validated and kept.
pub const SIGNAL_POLL_INTERVAL_MS: ConfigKey = ConfigKey::new(
    "signal.poll.interval.ms",
    Long,
    Some("5000"),
    Medium,
    "Interval for looking for new signals in registered channels, given in milliseconds. Defaults to 5 seconds.",
)
.range(1, i64::MAX);

/// Prefix of the Kafka channel consumer's pass-through settings
/// (`signal.consumer.security.protocol`, ...; librdkafka names).
pub const SIGNAL_CONSUMER_PREFIX: &str = "signal.consumer.";

/// `incremental.snapshot.chunk.size` (default 1024): rows read per chunk
/// of an incremental snapshot.
pub const INCREMENTAL_SNAPSHOT_CHUNK_SIZE: ConfigKey = ConfigKey::new(
    "incremental.snapshot.chunk.size",
    Int,
    Some("1024"),
    Medium,
    "The maximum size of chunk (number of documents/rows) for incremental snapshotting",
)
.range(1, 100_000_000);

/// The channel names Velocity reads.
pub const CHANNELS: [&str; 2] = ["source", "kafka"];

/// Validator of `signal.enabled.channels`: every name is one Velocity
/// reads.
pub fn check_channels(v: &str) -> Result<(), std::string::String> {
    for name in v.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        if !CHANNELS.contains(&name) {
            return Err(format!(
                "'{name}' is not a signal channel Velocity supports: use {}",
                CHANNELS.join(" or ")
            ));
        }
    }
    Ok(())
}

/// The Kafka signal channel's settings (`signal.kafka.*`,
/// `signal.consumer.*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaSignalConfig {
    /// `signal.kafka.topic` (default `<topic.prefix>-signal`).
    pub topic: std::string::String,
    /// `signal.kafka.bootstrap.servers`.
    pub bootstrap_servers: std::string::String,
    /// `signal.kafka.groupId`.
    pub group_id: std::string::String,
    /// `signal.kafka.poll.timeout.ms`.
    pub poll_timeout: std::time::Duration,
    /// `signal.consumer.*` with the prefix removed (librdkafka names),
    /// applied last, so they win over the channel's defaults.
    pub consumer: Vec<(std::string::String, std::string::String)>,
    /// The record key a signal must carry: the connector's `topic.prefix`.
    pub key: std::string::String,
}

impl KafkaSignalConfig {
    /// The consumer's settings (librdkafka names): `bootstrap.servers`,
    /// `group.id`, Debezium's `fetch.min.bytes=1` and
    /// `session.timeout.ms=10000`, then `signal.consumer.*`.
    pub fn client_settings(&self) -> Vec<(std::string::String, std::string::String)> {
        let mut out = vec![
            ("bootstrap.servers".into(), self.bootstrap_servers.clone()),
            ("group.id".into(), self.group_id.clone()),
            ("fetch.min.bytes".into(), "1".into()),
            ("session.timeout.ms".into(), "10000".into()),
        ];
        out.extend(self.consumer.iter().cloned());
        out
    }
}

/// The signalling configuration of a source (read with
/// [`SignalConfig::read`] from the keys above, which the connector lists
/// in its own `config_keys!`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignalConfig {
    /// `signal.data.collection`, when set.
    pub data_collection: Option<std::string::String>,
    /// `incremental.snapshot.chunk.size`.
    pub chunk_size: usize,
    /// The Kafka channel, when `signal.enabled.channels` lists `kafka`.
    pub kafka: Option<KafkaSignalConfig>,
}

impl SignalConfig {
    /// Reads the keys above; `topic_prefix` is the connector's
    /// `topic.prefix` (the Kafka channel's default topic and record key).
    /// With `kafka` enabled, `signal.kafka.bootstrap.servers` is required.
    pub fn read(r: &mut ConfigReader<'_>, topic_prefix: &str) -> SignalConfig {
        let channels = r.list(&SIGNAL_ENABLED_CHANNELS);
        let topic = r.opt_string(&SIGNAL_KAFKA_TOPIC);
        let bootstrap = r.opt_string(&SIGNAL_KAFKA_BOOTSTRAP_SERVERS);
        let group_id = r.string(&SIGNAL_KAFKA_GROUP_ID);
        let poll_timeout = r.millis(&SIGNAL_KAFKA_POLL_TIMEOUT_MS);
        r.check(&SIGNAL_POLL_INTERVAL_MS);
        let kafka = if channels.iter().any(|c| c == "kafka") {
            if bootstrap.is_none() {
                r.fail(
                    SIGNAL_KAFKA_BOOTSTRAP_SERVERS.name,
                    "A value is required when signal.enabled.channels includes kafka: set it to the brokers of the signal topic",
                );
            }
            let mut consumer: Vec<_> = r
                .raw()
                .with_prefix(SIGNAL_CONSUMER_PREFIX)
                .into_iter()
                .collect();
            consumer.sort();
            Some(KafkaSignalConfig {
                topic: topic.unwrap_or_else(|| format!("{topic_prefix}-signal")),
                bootstrap_servers: bootstrap.unwrap_or_default(),
                group_id,
                poll_timeout,
                consumer,
                key: topic_prefix.to_owned(),
            })
        } else {
            None
        };
        SignalConfig {
            data_collection: r
                .opt_string(&SIGNAL_DATA_COLLECTION)
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty()),
            chunk_size: r.int(&INCREMENTAL_SNAPSHOT_CHUNK_SIZE),
            kafka,
        }
    }
}

impl Default for SignalConfig {
    fn default() -> Self {
        SignalConfig {
            data_collection: None,
            chunk_size: 1024,
            kafka: None,
        }
    }
}

/// One signal as read from a channel: the signal table's `id`, `type` and
/// `data` columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignalRecord {
    /// `id`: identifies the signal (the chunk id for window signals).
    pub id: std::string::String,
    /// `type`: the action's name.
    pub kind: std::string::String,
    /// `data`: the action's JSON document, if any.
    pub data: Option<std::string::String>,
}

impl SignalRecord {
    /// The signal a record of the Kafka channel carries, as Debezium's
    /// `KafkaSignalChannel` reads it: `None` (logged at INFO, Debezium's
    /// text) when the record's key is not `expected_key` (the connector's
    /// `topic.prefix`), `None` for an empty value, `None` (logged at WARN)
    /// when the value is not a JSON object; else `id` and `type` from the
    /// document and `data` as the JSON text of its `data` member.
    pub fn from_kafka(
        expected_key: &str,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
    ) -> Option<SignalRecord> {
        let key = key.map(std::string::String::from_utf8_lossy);
        if key.as_deref() != Some(expected_key) {
            tracing::info!(
                "Signal key '{}' doesn't match the connector's name '{expected_key}'",
                key.as_deref().unwrap_or("null")
            );
            return None;
        }
        let value = value.filter(|v| !v.is_empty())?;
        let doc = match serde_json::from_slice::<Json>(value) {
            Ok(Json::Object(m)) => m,
            Ok(_) => {
                tracing::warn!(value = %std::string::String::from_utf8_lossy(value), "Skipped signal due to an error: not a JSON object");
                return None;
            }
            Err(e) => {
                tracing::warn!(value = %std::string::String::from_utf8_lossy(value), "Skipped signal due to an error: {e}");
                return None;
            }
        };
        let text = |k: &str| doc.get(k).and_then(Json::as_str).map(str::to_owned);
        Some(SignalRecord {
            id: text("id").unwrap_or_default(),
            kind: text("type").unwrap_or_default(),
            data: doc
                .get("data")
                .filter(|d| !d.is_null())
                .map(|d| d.to_string()),
        })
    }
}

/// A Kafka channel record's action, ready for the connector to act upon
/// as it acts upon the signal table's: [`SignalRecord::from_kafka`], then
/// [`SignalRecord::parse`] (a failure logged at WARN). The window
/// watermarks are the connector's own rows of the signal table and are not
/// taken from Kafka (logged, skipped); an incremental `execute-snapshot` needs
/// `signal.data.collection`, where the watermarks are written (logged,
/// skipped without it).
pub fn kafka_action(
    cfg: &SignalConfig,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
) -> Option<(SignalRecord, Signal)> {
    let expected = cfg.kafka.as_ref().map_or("", |k| k.key.as_str());
    let rec = SignalRecord::from_kafka(expected, key, value)?;
    tracing::debug!(id = %rec.id, kind = %rec.kind, data = ?rec.data, "Received signal from the kafka channel");
    match rec.parse() {
        Err(e) => {
            tracing::warn!("{e}");
            None
        }
        Ok(Signal::WindowOpen | Signal::WindowClose) => {
            tracing::warn!(id = %rec.id, kind = %rec.kind, "snapshot window signals are read from the signal table only: the kafka signal is skipped");
            None
        }
        Ok(Signal::ExecuteSnapshot {
            kind: SnapshotKind::Incremental,
            ..
        }) if cfg.data_collection.is_none() => {
            tracing::warn!(id = %rec.id, "an incremental snapshot writes its watermarks to the signal table, but signal.data.collection is not set: the signal is skipped (set signal.data.collection)");
            None
        }
        Ok(s) => Some((rec, s)),
    }
}

/// The kind of snapshot a snapshot signal asks for (`data.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotKind {
    /// `incremental` (the default): DBLog chunks interleaved with streaming.
    Incremental,
    /// `blocking`: streaming pauses while the tables are read.
    Blocking,
}

/// One `additional-conditions` entry: the filter applies to the tables
/// the regular expression matches (whole name, case-insensitively).
#[derive(Debug, Clone)]
pub struct AdditionalCondition {
    /// `data-collection`.
    pub data_collection: Regex,
    /// `filter`: an SQL condition on the table's columns.
    pub filter: std::string::String,
}

/// A parsed signal.
#[derive(Debug, Clone)]
pub enum Signal {
    /// `execute-snapshot`.
    ExecuteSnapshot {
        /// `data-collections`: regular expressions of fully-qualified table names.
        data_collections: Vec<std::string::String>,
        /// `type`.
        kind: SnapshotKind,
        /// `additional-conditions`.
        additional_conditions: Vec<AdditionalCondition>,
        /// `surrogate-key`: a column to chunk by instead of the primary key.
        surrogate_key: Option<std::string::String>,
    },
    /// `stop-snapshot`; no data collections: stop the whole snapshot.
    StopSnapshot {
        /// `data-collections`.
        data_collections: Option<Vec<std::string::String>>,
        /// `type`.
        kind: SnapshotKind,
    },
    /// `pause-snapshot`.
    PauseSnapshot,
    /// `resume-snapshot`.
    ResumeSnapshot,
    /// `log`: `message` (a `{}` in it is replaced by the offset).
    Log {
        /// `message`.
        message: std::string::String,
    },
    /// `snapshot-window-open`: the low watermark of chunk `id` (minus `-open`).
    WindowOpen,
    /// `snapshot-window-close`: the high watermark of a chunk.
    WindowClose,
}

/// The action names, as Debezium spells them.
pub mod names {
    /// `execute-snapshot`.
    pub const EXECUTE_SNAPSHOT: &str = "execute-snapshot";
    /// `stop-snapshot`.
    pub const STOP_SNAPSHOT: &str = "stop-snapshot";
    /// `pause-snapshot`.
    pub const PAUSE_SNAPSHOT: &str = "pause-snapshot";
    /// `resume-snapshot`.
    pub const RESUME_SNAPSHOT: &str = "resume-snapshot";
    /// `log`.
    pub const LOG: &str = "log";
    /// `snapshot-window-open`.
    pub const WINDOW_OPEN: &str = "snapshot-window-open";
    /// `snapshot-window-close`.
    pub const WINDOW_CLOSE: &str = "snapshot-window-close";
}

/// Why a signal is not acted upon; the text is Debezium's warning.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignalError {
    /// `type` names no action.
    #[error("Signal '{id}' has been received but the type '{kind}' is not recognized")]
    UnknownType {
        /// The signal's id.
        id: std::string::String,
        /// Its type.
        kind: std::string::String,
    },
    /// `data` is not a JSON object.
    #[error("Signal '{id}' has been received but the data '{data}' cannot be parsed: {detail}")]
    BadData {
        /// The signal's id.
        id: std::string::String,
        /// Its data.
        data: std::string::String,
        /// The parser's message.
        detail: std::string::String,
    },
    /// The action's data lacks something it needs, or has a wrong value.
    #[error("{0}")]
    Invalid(std::string::String),
}

impl SignalRecord {
    /// The action this signal asks for.
    pub fn parse(&self) -> Result<Signal, SignalError> {
        let known = [
            names::EXECUTE_SNAPSHOT,
            names::STOP_SNAPSHOT,
            names::PAUSE_SNAPSHOT,
            names::RESUME_SNAPSHOT,
            names::LOG,
            names::WINDOW_OPEN,
            names::WINDOW_CLOSE,
        ];
        if !known.contains(&self.kind.as_str()) {
            return Err(SignalError::UnknownType {
                id: self.id.clone(),
                kind: self.kind.clone(),
            });
        }
        let data = match self.data.as_deref().map(str::trim) {
            None | Some("") => serde_json::Map::new(),
            Some(text) => match serde_json::from_str::<Json>(text) {
                Ok(Json::Object(m)) => m,
                Ok(_) => {
                    return Err(self.bad_data("not a JSON object".into()));
                }
                Err(e) => return Err(self.bad_data(e.to_string())),
            },
        };
        let doc = Json::Object(data);
        Ok(match self.kind.as_str() {
            names::EXECUTE_SNAPSHOT => {
                let data_collections = collections(&doc).ok_or_else(|| SignalError::Invalid(format!(
                    "Execute snapshot signal '{doc}' has arrived but the requested field 'data-collections' is missing from data or is empty"
                )))?;
                let data_collections = data_collections.map_err(|()| SignalError::Invalid(format!(
                    "Execute snapshot signal '{doc}' has arrived but the requested field 'data-collections' contains a non-string data collection"
                )))?;
                Signal::ExecuteSnapshot {
                    data_collections,
                    kind: snapshot_kind(&doc)?,
                    additional_conditions: additional_conditions(&doc)?,
                    surrogate_key: doc
                        .get("surrogate-key")
                        .and_then(Json::as_str)
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned),
                }
            }
            names::STOP_SNAPSHOT => Signal::StopSnapshot {
                data_collections: match collections(&doc) {
                    None => None,
                    Some(Ok(c)) => Some(c),
                    Some(Err(())) => return Err(SignalError::Invalid(format!(
                        "Stop snapshot signal '{doc}' has arrived but the requested field 'data-collections' contains a non-string data collection"
                    ))),
                },
                kind: snapshot_kind(&doc)?,
            },
            names::PAUSE_SNAPSHOT => Signal::PauseSnapshot,
            names::RESUME_SNAPSHOT => Signal::ResumeSnapshot,
            names::LOG => match doc.get("message").and_then(Json::as_str) {
                Some(m) if !m.is_empty() => Signal::Log { message: m.to_owned() },
                _ => return Err(SignalError::Invalid(format!(
                    "Logging signal '{}' has arrived but the requested field 'message' is missing from data",
                    self.id
                ))),
            },
            names::WINDOW_OPEN => Signal::WindowOpen,
            _ => Signal::WindowClose,
        })
    }

    fn bad_data(&self, detail: std::string::String) -> SignalError {
        SignalError::BadData {
            id: self.id.clone(),
            data: self.data.clone().unwrap_or_default(),
            detail,
        }
    }
}

/// `data-collections`: None when missing or empty, `Err` when an element is
/// not a string, else the trimmed names.
fn collections(doc: &Json) -> Option<Result<Vec<std::string::String>, ()>> {
    let arr = doc.get("data-collections")?.as_array()?;
    if arr.is_empty() {
        return None;
    }
    Some(
        arr.iter()
            .map(|v| v.as_str().map(|s| s.trim().to_owned()).ok_or(()))
            .collect(),
    )
}

fn snapshot_kind(doc: &Json) -> Result<SnapshotKind, SignalError> {
    match doc.get("type").and_then(Json::as_str) {
        None => Ok(SnapshotKind::Incremental),
        Some(t) if t.eq_ignore_ascii_case("incremental") => Ok(SnapshotKind::Incremental),
        Some(t) if t.eq_ignore_ascii_case("blocking") => Ok(SnapshotKind::Blocking),
        Some(t) => Err(SignalError::Invalid(format!(
            "Detected an unexpected snapshot type '{t}'. Signal will be skipped."
        ))),
    }
}

fn additional_conditions(doc: &Json) -> Result<Vec<AdditionalCondition>, SignalError> {
    let Some(arr) = doc.get("additional-conditions").and_then(Json::as_array) else {
        return Ok(Vec::new());
    };
    arr.iter()
        .map(|c| {
            let dc = c.get("data-collection").and_then(Json::as_str).ok_or_else(|| {
                SignalError::Invalid(format!(
                    "additional condition '{c}' has no 'data-collection'"
                ))
            })?;
            let filter = c.get("filter").and_then(Json::as_str).unwrap_or_default();
            let re = regex::RegexBuilder::new(&format!("^(?:{dc})$"))
                .case_insensitive(true)
                .build()
                .map_err(|e| {
                    SignalError::Invalid(format!(
                        "additional condition data-collection '{dc}' is not a valid regular expression: {e}"
                    ))
                })?;
            Ok(AdditionalCondition {
                data_collection: re,
                filter: filter.to_owned(),
            })
        })
        .collect()
}

/// Compiles a `data-collections` entry as Debezium matches it against
/// table names (`Pattern.compile(x).matcher(t).matches()`: whole name,
/// case-sensitive).
pub fn collection_pattern(expr: &str) -> Result<Regex, regex::Error> {
    Regex::new(&format!("^(?:{expr})$"))
}

/// The `data-collections` of a snapshot signal expanded against the
/// captured tables' names, as Debezium's `expandAndDedupeDataCollectionIds`
/// does: every table an expression matches, in `tables` order per
/// expression; an expression matching none stays as written (the caller
/// warns about a table it does not know). Duplicates are dropped.
pub fn expand_collections(
    exprs: &[std::string::String],
    tables: &[std::string::String],
) -> Vec<std::string::String> {
    let mut out: Vec<std::string::String> = Vec::new();
    for e in exprs {
        let matched: Vec<&std::string::String> = match collection_pattern(e) {
            Ok(re) => tables.iter().filter(|t| re.is_match(t)).collect(),
            Err(_) => Vec::new(),
        };
        if matched.is_empty() {
            if !out.contains(e) {
                out.push(e.clone());
            }
        } else {
            for t in matched {
                if !out.contains(t) {
                    out.push(t.clone());
                }
            }
        }
    }
    out
}

/// The `filter` of the first of `conditions` whose `data-collection`
/// matches table `id` (a fully-qualified name), unless it is empty.
pub fn filter_for<'a>(conditions: &'a [AdditionalCondition], id: &str) -> Option<&'a str> {
    conditions
        .iter()
        .find(|c| c.data_collection.is_match(id))
        .map(|c| c.filter.as_str())
        .filter(|f| !f.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(kind: &str, data: Option<&str>) -> SignalRecord {
        SignalRecord {
            id: "sig-1".into(),
            kind: kind.into(),
            data: data.map(Into::into),
        }
    }

    #[test]
    fn kafka_signals_are_read_as_debezium_reads_them() {
        let v = br#"{"id": "k1", "type": "execute-snapshot", "data": {"data-collections": ["inv.items"], "type": "INCREMENTAL"}}"#;
        let r = SignalRecord::from_kafka("tms", Some(b"tms"), Some(v)).unwrap();
        assert_eq!(r.id, "k1");
        assert_eq!(r.kind, "execute-snapshot");
        let Signal::ExecuteSnapshot {
            data_collections, ..
        } = r.parse().unwrap()
        else {
            panic!()
        };
        assert_eq!(data_collections, ["inv.items"]);
        // another connector's signal, a null key, an empty value, not JSON
        assert_eq!(
            SignalRecord::from_kafka("tms", Some(b"other"), Some(v)),
            None
        );
        assert_eq!(SignalRecord::from_kafka("tms", None, Some(v)), None);
        assert_eq!(
            SignalRecord::from_kafka("tms", Some(b"tms"), Some(b"")),
            None
        );
        assert_eq!(SignalRecord::from_kafka("tms", Some(b"tms"), None), None);
        assert_eq!(
            SignalRecord::from_kafka("tms", Some(b"tms"), Some(b"{oops")),
            None
        );
        assert_eq!(
            SignalRecord::from_kafka("tms", Some(b"tms"), Some(b"[1]")),
            None
        );
        // no data: an action without arguments
        let r = SignalRecord::from_kafka(
            "tms",
            Some(b"tms"),
            Some(br#"{"id":"p","type":"pause-snapshot"}"#),
        )
        .unwrap();
        assert_eq!(r.data, None);
        assert!(matches!(r.parse(), Ok(Signal::PauseSnapshot)));
    }

    #[test]
    fn the_kafka_channel_is_configured_with_debezium_keys_and_defaults() {
        use crate::config::raw_config;
        let read = |pairs: &[(&str, &str)]| {
            let raw = raw_config(pairs);
            let mut r = ConfigReader::new(&raw);
            let c = SignalConfig::read(&mut r, "tms");
            (c, r.into_errors())
        };
        let (c, errs) = read(&[]);
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(c.kafka, None);
        let (c, errs) = read(&[
            ("signal.enabled.channels", "source,kafka"),
            ("signal.kafka.bootstrap.servers", "b:9092"),
            ("signal.consumer.security.protocol", "SSL"),
        ]);
        assert!(errs.is_empty(), "{errs:?}");
        let k = c.kafka.unwrap();
        assert_eq!(k.topic, "tms-signal");
        assert_eq!(k.group_id, "kafka-signal");
        assert_eq!(k.key, "tms");
        assert_eq!(k.bootstrap_servers, "b:9092");
        assert_eq!(
            k.consumer,
            [("security.protocol".to_string(), "SSL".to_string())]
        );
        let (c, errs) = read(&[
            ("signal.enabled.channels", "kafka"),
            ("signal.kafka.topic", "sig"),
            ("signal.kafka.groupId", "g"),
        ]);
        assert_eq!(c.kafka.as_ref().unwrap().topic, "sig");
        assert_eq!(c.kafka.unwrap().group_id, "g");
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert_eq!(errs[0].0, "signal.kafka.bootstrap.servers");
        assert!(errs[0].1.contains("signal.enabled.channels includes kafka"));
        assert!(check_channels("source, kafka").is_ok());
        assert_eq!(
            check_channels("source,jmx").unwrap_err(),
            "'jmx' is not a signal channel Velocity supports: use source or kafka"
        );
    }

    #[test]
    fn execute_snapshot_with_everything() {
        let s = rec(
            "execute-snapshot",
            Some(r#"{"data-collections": [" inc\\.items ", "inc.o.*"], "type": "INCREMENTAL",
                     "additional-conditions": [{"data-collection": "inc.items", "filter": "qty > 5"}],
                     "surrogate-key": "code"}"#),
        )
        .parse()
        .unwrap();
        let Signal::ExecuteSnapshot {
            data_collections,
            kind,
            additional_conditions,
            surrogate_key,
        } = s
        else {
            panic!("{s:?}")
        };
        assert_eq!(data_collections, ["inc\\.items", "inc.o.*"]);
        assert_eq!(kind, SnapshotKind::Incremental);
        assert_eq!(additional_conditions.len(), 1);
        assert!(additional_conditions[0]
            .data_collection
            .is_match("INC.ITEMS"));
        assert!(!additional_conditions[0]
            .data_collection
            .is_match("inc.items2"));
        assert_eq!(additional_conditions[0].filter, "qty > 5");
        assert_eq!(surrogate_key.as_deref(), Some("code"));
        // the type defaults to incremental
        let s = rec("execute-snapshot", Some(r#"{"data-collections": ["a.b"]}"#)).parse();
        assert!(matches!(
            s,
            Ok(Signal::ExecuteSnapshot {
                kind: SnapshotKind::Incremental,
                ..
            })
        ));
    }

    #[test]
    fn bad_json_and_unknown_types_are_errors_with_debeziums_text() {
        let e = rec("execute-snapshot", Some("{not json"))
            .parse()
            .unwrap_err();
        assert!(matches!(e, SignalError::BadData { .. }));
        assert!(
            e.to_string().starts_with(
                "Signal 'sig-1' has been received but the data '{not json' cannot be parsed"
            ),
            "{e}"
        );
        let e = rec("execute-snapshot", Some("[1]")).parse().unwrap_err();
        assert!(matches!(e, SignalError::BadData { .. }), "{e}");
        let e = rec("reboot", Some("{}")).parse().unwrap_err();
        assert_eq!(
            e.to_string(),
            "Signal 'sig-1' has been received but the type 'reboot' is not recognized"
        );
        // unknown types are reported before the data is looked at
        let e = rec("reboot", Some("{bad")).parse().unwrap_err();
        assert!(matches!(e, SignalError::UnknownType { .. }));
    }

    #[test]
    fn missing_or_wrong_fields() {
        let e = rec("execute-snapshot", Some("{}")).parse().unwrap_err();
        assert!(
            e.to_string()
                .contains("'data-collections' is missing from data or is empty"),
            "{e}"
        );
        let e = rec("execute-snapshot", None).parse().unwrap_err();
        assert!(e.to_string().contains("is missing"), "{e}");
        let e = rec("execute-snapshot", Some(r#"{"data-collections": [1]}"#))
            .parse()
            .unwrap_err();
        assert!(e.to_string().contains("non-string data collection"), "{e}");
        let e = rec(
            "execute-snapshot",
            Some(r#"{"data-collections": ["a.b"], "type": "eventual"}"#),
        )
        .parse()
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("unexpected snapshot type 'eventual'"),
            "{e}"
        );
        let e = rec("log", Some("{}")).parse().unwrap_err();
        assert!(e.to_string().contains("'message' is missing"), "{e}");
    }

    #[test]
    fn the_other_actions() {
        assert!(matches!(
            rec("stop-snapshot", None).parse(),
            Ok(Signal::StopSnapshot {
                data_collections: None,
                ..
            })
        ));
        assert!(matches!(
            rec("stop-snapshot", Some(r#"{"data-collections": ["a.b"], "type": "incremental"}"#)).parse(),
            Ok(Signal::StopSnapshot { data_collections: Some(c), .. }) if c == ["a.b"]
        ));
        assert!(matches!(
            rec("pause-snapshot", None).parse(),
            Ok(Signal::PauseSnapshot)
        ));
        assert!(matches!(
            rec("resume-snapshot", Some("")).parse(),
            Ok(Signal::ResumeSnapshot)
        ));
        assert!(matches!(
            rec("log", Some(r#"{"message": "hello {}"}"#)).parse(),
            Ok(Signal::Log { message }) if message == "hello {}"
        ));
        // Debezium writes its watermarks with a metadata document as data
        let open = rec(
            "snapshot-window-open",
            Some(r#"{"openWindowTimestamp": "2026-01-01T00:00:00Z"}"#),
        );
        assert!(matches!(open.parse(), Ok(Signal::WindowOpen)));
        assert!(matches!(
            rec("snapshot-window-close", None).parse(),
            Ok(Signal::WindowClose)
        ));
    }

    #[test]
    fn channels() {
        assert!(check_channels("source").is_ok());
        assert!(check_channels(" source ,").is_ok());
        assert!(check_channels("source,kafka").is_ok());
        assert!(check_channels("jmx").unwrap_err().contains("'jmx'"));
    }

    #[test]
    fn collections_expand_against_table_names() {
        let tables: Vec<std::string::String> = ["inc.items", "inc.items_old", "inc.other"]
            .map(Into::into)
            .to_vec();
        let got = expand_collections(
            &[
                "inc\\.items.*".into(),
                "inc.other".into(),
                "inc.items".into(),
                "x.y".into(),
            ],
            &tables,
        );
        assert_eq!(got, ["inc.items", "inc.items_old", "inc.other", "x.y"]);
        // whole names only, case-sensitive (Debezium's Pattern.matches)
        assert_eq!(
            expand_collections(&["inc.item".into()], &tables),
            ["inc.item"]
        );
        assert_eq!(
            expand_collections(&["INC.ITEMS".into()], &tables),
            ["INC.ITEMS"]
        );
    }
}
