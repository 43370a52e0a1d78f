//! Kafka Connect's internal topic records, byte-compatible with what its
//! `KafkaConfigBackingStore`, `KafkaOffsetBackingStore` and
//! `KafkaStatusBackingStore` write through `JsonConverter` with
//! `schemas.enable=false` (string keys, JSON values, null value = tombstone).
//!
//! Config topic (one partition):
//!
//! | key | value |
//! |---|---|
//! | `connector-<name>` | `{"properties":{...}}`; tombstone = deleted |
//! | `task-<name>-<n>` | `{"properties":{...}}`; applies only once the commit is read |
//! | `commit-<name>` | `{"tasks":N}` |
//! | `target-state-<name>` | `{"state":S,"state.v2":S2}`: STOPPED is written as PAUSED in `state` for older workers; readers prefer `state.v2` |
//! | `restart-connector-<name>` | `{"include-tasks":b,"only-failed":b}` |
//! | `tasks-fencing-<name>` | `{"task-count":N}` (exactly-once source support) |
//! | `session-key` | `{"key":base64,"algorithm":"HmacSHA256","creation-timestamp":ms}` |
//! | `logger-cluster-<namespace>` | `{"level":"DEBUG"}` |
//!
//! Offsets topic: key `["<connector>",{partition}]`, value the offset object
//! (tombstone = offset removed). Kafka Connect keys its offset map by the
//! key's bytes, so Velocity writes the partition's fields in the order a
//! Java `HashMap` iterates them (what Jackson emits for the maps connectors
//! build) — see [`offset_key`] — and reads keys in any order.
//!
//! Status topic: `status-connector-<name>` and `status-task-<name>-<id>`
//! hold `{"state","trace","worker_id","generation"}` (Kafka Connect 4 adds
//! `"version"`), tombstone = destroyed; `status-topic-<topic>:connector-<name>`
//! holds `{"topic":{"name","connector","task","discoverTimestamp"}}`.

use std::collections::BTreeMap;

use base64::Engine;
use serde_json::{json, Map, Value as Json};
use velocity_api::{Offset, Partition, RawConfig};

use crate::status::TargetState;

/// Config topic key prefixes (Kafka Connect's constants).
pub const CONNECTOR_PREFIX: &str = "connector-";
/// Task config key prefix.
pub const TASK_PREFIX: &str = "task-";
/// Task commit key prefix.
pub const COMMIT_TASKS_PREFIX: &str = "commit-";
/// Target state key prefix.
pub const TARGET_STATE_PREFIX: &str = "target-state-";
/// Restart request key prefix.
pub const RESTART_PREFIX: &str = "restart-connector-";
/// Task count (fencing) key prefix.
pub const TASK_COUNT_PREFIX: &str = "tasks-fencing-";
/// The session key's key.
pub const SESSION_KEY_KEY: &str = "session-key";
/// Cluster logger level key prefix.
pub const LOGGER_CLUSTER_PREFIX: &str = "logger-cluster-";
/// Connector status key prefix.
pub const CONNECTOR_STATUS_PREFIX: &str = "status-connector-";
/// Task status key prefix.
pub const TASK_STATUS_PREFIX: &str = "status-task-";
/// Topic status key prefix.
pub const TOPIC_STATUS_PREFIX: &str = "status-topic-";
/// Separates the topic from the connector in a topic status key.
pub const TOPIC_STATUS_SEPARATOR: &str = ":connector-";

/// A record that does not have Kafka Connect's format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid record with key '{key}': {reason}")]
pub struct FormatError {
    /// The record's key.
    pub key: String,
    /// What is wrong.
    pub reason: String,
}

fn bad(key: &str, reason: impl Into<String>) -> FormatError {
    FormatError {
        key: key.to_owned(),
        reason: reason.into(),
    }
}

/// The session key used to sign internal REST requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionKey {
    /// The raw key bytes (base64 on the topic).
    pub key: Vec<u8>,
    /// The MAC algorithm (`HmacSHA256`).
    pub algorithm: String,
    /// When the leader created it (ms since the epoch).
    pub creation_timestamp: i64,
}

/// One record of the config topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigRecord {
    /// A connector's config; None = deleted (tombstone).
    Connector {
        /// The connector.
        name: String,
        /// Its properties.
        config: Option<RawConfig>,
    },
    /// One task's config (pending until the connector's commit is read).
    Task {
        /// The connector.
        connector: String,
        /// The task number.
        task: u32,
        /// Its properties; None = tombstone.
        config: Option<RawConfig>,
    },
    /// Commits the first `tasks` task configs written since the last commit.
    Commit {
        /// The connector.
        connector: String,
        /// How many tasks.
        tasks: u32,
    },
    /// The target state; None = tombstone (connector deleted).
    TargetState {
        /// The connector.
        connector: String,
        /// The state.
        state: Option<TargetState>,
    },
    /// A restart request.
    Restart {
        /// The connector.
        connector: String,
        /// Restart its tasks too.
        include_tasks: bool,
        /// Only those that failed.
        only_failed: bool,
    },
    /// The number of tasks to fence (exactly-once source support).
    TaskCount {
        /// The connector.
        connector: String,
        /// The task count.
        task_count: u32,
    },
    /// The session key.
    SessionKey(SessionKey),
    /// A cluster-wide logger level; None = tombstone.
    LoggerLevel {
        /// The logger namespace.
        namespace: String,
        /// The level.
        level: Option<String>,
    },
}

/// `<name>-<n>` split at its last dash (connector names may hold dashes).
fn split_task(s: &str) -> Option<(&str, u32)> {
    let (name, n) = s.rsplit_once('-')?;
    Some((name, n.parse().ok()?))
}

fn parse_object(key: &str, value: &[u8]) -> Result<Map<String, Json>, FormatError> {
    match serde_json::from_slice::<Json>(value) {
        Ok(Json::Object(m)) => Ok(m),
        Ok(_) => Err(bad(key, "the value is not a JSON object")),
        Err(e) => Err(bad(key, format!("the value is not JSON: {e}"))),
    }
}

fn properties(key: &str, v: &Map<String, Json>) -> Result<RawConfig, FormatError> {
    let props = v
        .get("properties")
        .and_then(Json::as_object)
        .ok_or_else(|| bad(key, "no 'properties' object"))?;
    let mut out = BTreeMap::new();
    for (k, v) in props {
        match v {
            Json::String(s) => {
                out.insert(k.clone(), s.clone());
            }
            // Kafka Connect allows null property values; they mean "unset"
            Json::Null => {}
            other => {
                out.insert(k.clone(), other.to_string());
            }
        }
    }
    Ok(out)
}

fn bool_field(key: &str, v: &Map<String, Json>, f: &str) -> Result<bool, FormatError> {
    v.get(f)
        .and_then(Json::as_bool)
        .ok_or_else(|| bad(key, format!("no boolean '{f}'")))
}

fn int_field(key: &str, v: &Map<String, Json>, f: &str) -> Result<i64, FormatError> {
    v.get(f)
        .and_then(Json::as_i64)
        .ok_or_else(|| bad(key, format!("no integer '{f}'")))
}

fn str_field<'a>(key: &str, v: &'a Map<String, Json>, f: &str) -> Result<&'a str, FormatError> {
    v.get(f)
        .and_then(Json::as_str)
        .ok_or_else(|| bad(key, format!("no string '{f}'")))
}

fn target_state_name(s: TargetState) -> &'static str {
    match s {
        TargetState::Started => "STARTED",
        TargetState::Paused => "PAUSED",
        TargetState::Stopped => "STOPPED",
    }
}

fn parse_target_state(key: &str, s: &str) -> Result<TargetState, FormatError> {
    match s {
        "STARTED" => Ok(TargetState::Started),
        "PAUSED" => Ok(TargetState::Paused),
        "STOPPED" => Ok(TargetState::Stopped),
        other => Err(bad(key, format!("unknown target state '{other}'"))),
    }
}

impl ConfigRecord {
    /// Parses a config topic record. Ok(None) for keys Kafka Connect does not
    /// know either (it logs and skips them).
    pub fn decode(key: &str, value: Option<&[u8]>) -> Result<Option<ConfigRecord>, FormatError> {
        let obj = |v: &[u8]| parse_object(key, v);
        let rec = if let Some(name) = key.strip_prefix(TARGET_STATE_PREFIX) {
            let state = match value {
                None => None,
                Some(v) => {
                    let m = obj(v)?;
                    let s = match m.get("state.v2").and_then(Json::as_str) {
                        Some(s) => s,
                        None => str_field(key, &m, "state")?,
                    };
                    Some(parse_target_state(key, s)?)
                }
            };
            ConfigRecord::TargetState {
                connector: name.to_owned(),
                state,
            }
        } else if let Some(name) = key.strip_prefix(CONNECTOR_PREFIX) {
            ConfigRecord::Connector {
                name: name.to_owned(),
                config: value.map(|v| properties(key, &obj(v)?)).transpose()?,
            }
        } else if let Some(rest) = key.strip_prefix(TASK_PREFIX) {
            let (connector, task) =
                split_task(rest).ok_or_else(|| bad(key, "expected task-<connector>-<n>"))?;
            ConfigRecord::Task {
                connector: connector.to_owned(),
                task,
                config: value.map(|v| properties(key, &obj(v)?)).transpose()?,
            }
        } else if let Some(name) = key.strip_prefix(COMMIT_TASKS_PREFIX) {
            let v = value.ok_or_else(|| bad(key, "a task commit cannot be a tombstone"))?;
            let tasks = int_field(key, &obj(v)?, "tasks")?;
            ConfigRecord::Commit {
                connector: name.to_owned(),
                tasks: u32::try_from(tasks).map_err(|_| bad(key, "negative task count"))?,
            }
        } else if let Some(name) = key.strip_prefix(RESTART_PREFIX) {
            let Some(v) = value else { return Ok(None) };
            let m = obj(v)?;
            ConfigRecord::Restart {
                connector: name.to_owned(),
                include_tasks: bool_field(key, &m, "include-tasks")?,
                only_failed: bool_field(key, &m, "only-failed")?,
            }
        } else if let Some(name) = key.strip_prefix(TASK_COUNT_PREFIX) {
            let Some(v) = value else { return Ok(None) };
            let n = int_field(key, &obj(v)?, "task-count")?;
            ConfigRecord::TaskCount {
                connector: name.to_owned(),
                task_count: u32::try_from(n).map_err(|_| bad(key, "negative task count"))?,
            }
        } else if key == SESSION_KEY_KEY {
            let Some(v) = value else { return Ok(None) };
            let m = obj(v)?;
            let raw = str_field(key, &m, "key")?;
            ConfigRecord::SessionKey(SessionKey {
                key: base64::engine::general_purpose::STANDARD
                    .decode(raw)
                    .map_err(|e| bad(key, format!("the session key is not base64: {e}")))?,
                algorithm: str_field(key, &m, "algorithm")?.to_owned(),
                creation_timestamp: int_field(key, &m, "creation-timestamp")?,
            })
        } else if let Some(ns) = key.strip_prefix(LOGGER_CLUSTER_PREFIX) {
            ConfigRecord::LoggerLevel {
                namespace: ns.to_owned(),
                level: value
                    .map(|v| obj(v).and_then(|m| str_field(key, &m, "level").map(str::to_owned)))
                    .transpose()?,
            }
        } else {
            return Ok(None);
        };
        Ok(Some(rec))
    }

    /// The record's key and value bytes as Kafka Connect writes them.
    pub fn encode(&self) -> (String, Option<Vec<u8>>) {
        let bytes = |v: Json| Some(v.to_string().into_bytes());
        match self {
            ConfigRecord::Connector { name, config } => (
                format!("{CONNECTOR_PREFIX}{name}"),
                config
                    .as_ref()
                    .and_then(|c| bytes(json!({"properties": c}))),
            ),
            ConfigRecord::Task {
                connector,
                task,
                config,
            } => (
                format!("{TASK_PREFIX}{connector}-{task}"),
                config
                    .as_ref()
                    .and_then(|c| bytes(json!({"properties": c}))),
            ),
            ConfigRecord::Commit { connector, tasks } => (
                format!("{COMMIT_TASKS_PREFIX}{connector}"),
                bytes(json!({"tasks": tasks})),
            ),
            ConfigRecord::TargetState { connector, state } => (
                format!("{TARGET_STATE_PREFIX}{connector}"),
                state.and_then(|s| {
                    // older workers know no STOPPED: they read PAUSED
                    let v1 = match s {
                        TargetState::Stopped => TargetState::Paused,
                        s => s,
                    };
                    let mut m = Map::new();
                    m.insert("state".into(), target_state_name(v1).into());
                    m.insert("state.v2".into(), target_state_name(s).into());
                    bytes(Json::Object(m))
                }),
            ),
            ConfigRecord::Restart {
                connector,
                include_tasks,
                only_failed,
            } => {
                let mut m = Map::new();
                m.insert("include-tasks".into(), (*include_tasks).into());
                m.insert("only-failed".into(), (*only_failed).into());
                (
                    format!("{RESTART_PREFIX}{connector}"),
                    bytes(Json::Object(m)),
                )
            }
            ConfigRecord::TaskCount {
                connector,
                task_count,
            } => (
                format!("{TASK_COUNT_PREFIX}{connector}"),
                bytes(json!({"task-count": task_count})),
            ),
            ConfigRecord::SessionKey(k) => {
                let mut m = Map::new();
                m.insert(
                    "key".into(),
                    base64::engine::general_purpose::STANDARD
                        .encode(&k.key)
                        .into(),
                );
                m.insert("algorithm".into(), k.algorithm.clone().into());
                m.insert("creation-timestamp".into(), k.creation_timestamp.into());
                (SESSION_KEY_KEY.to_owned(), bytes(Json::Object(m)))
            }
            ConfigRecord::LoggerLevel { namespace, level } => (
                format!("{LOGGER_CLUSTER_PREFIX}{namespace}"),
                level.as_ref().and_then(|l| bytes(json!({"level": l}))),
            ),
        }
    }
}

/// Java's `String.hashCode()` (over UTF-16 code units, wrapping).
pub fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c)))
}

/// The order in which a `java.util.HashMap` holding `keys` (inserted in the
/// given order, default capacity) iterates them: by bucket, then insertion.
pub fn java_hashmap_order<'a>(keys: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let keys: Vec<&str> = keys.into_iter().collect();
    // table size: 16, doubled whenever size exceeds 0.75 * capacity
    let mut cap: u32 = 16;
    while keys.len() as u32 > cap * 3 / 4 {
        cap *= 2;
    }
    let bucket = |k: &str| {
        let h = java_string_hash(k) as u32;
        (h ^ (h >> 16)) & (cap - 1)
    };
    let mut indexed: Vec<(u32, usize, &str)> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| (bucket(k), i, *k))
        .collect();
    indexed.sort_by_key(|(b, i, _)| (*b, *i));
    indexed.into_iter().map(|(_, _, k)| k).collect()
}

fn jackson_json(v: &Json) -> String {
    match v {
        Json::Object(m) => {
            let order = java_hashmap_order(m.keys().map(String::as_str));
            let fields: Vec<String> = order
                .into_iter()
                .map(|k| format!("{}:{}", Json::from(k), jackson_json(&m[k])))
                .collect();
            format!("{{{}}}", fields.join(","))
        }
        Json::Array(a) => format!(
            "[{}]",
            a.iter().map(jackson_json).collect::<Vec<_>>().join(",")
        ),
        other => other.to_string(),
    }
}

/// The offsets topic key of a connector's source partition, byte for byte
/// what Kafka Connect writes for a partition map a connector built as a
/// `HashMap`: `["<connector>",{partition}]`.
pub fn offset_key(connector: &str, partition: &Partition) -> Vec<u8> {
    format!(
        "[{},{}]",
        Json::from(connector),
        jackson_json(&Json::Object(partition.clone()))
    )
    .into_bytes()
}

/// Parses an offsets topic key: None when it is not `["<connector>",{...}]`
/// (Kafka Connect logs "Ignoring offset partition key with an unexpected
/// format" and skips such records).
pub fn parse_offset_key(key: &[u8]) -> Option<(String, Partition)> {
    let v: Json = serde_json::from_slice(key).ok()?;
    let arr = v.as_array()?;
    if arr.len() != 2 {
        return None;
    }
    Some((arr[0].as_str()?.to_owned(), arr[1].as_object()?.clone()))
}

/// An offset's value bytes (None: tombstone).
pub fn offset_value(offset: Option<&Offset>) -> Option<Vec<u8>> {
    offset.map(|o| jackson_json(&Json::Object(o.clone())).into_bytes())
}

/// Parses an offset value: Ok(None) for a tombstone.
pub fn parse_offset_value(value: Option<&[u8]>) -> Result<Option<Offset>, FormatError> {
    let Some(v) = value else { return Ok(None) };
    match serde_json::from_slice::<Json>(v) {
        Ok(Json::Object(m)) => Ok(Some(m)),
        Ok(Json::Null) => Ok(None),
        Ok(_) => Err(bad("offset", "the offset is not a JSON object")),
        Err(e) => Err(bad("offset", format!("the offset is not JSON: {e}"))),
    }
}

/// A connector's or task's status as the status topic holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusValue {
    /// `UNASSIGNED`, `RUNNING`, `PAUSED`, `STOPPED`, `FAILED`, `RESTARTING`.
    pub state: String,
    /// The failure trace.
    pub trace: Option<String>,
    /// The worker (`host:port`) that wrote it.
    pub worker_id: String,
    /// The group generation it was written in.
    pub generation: i32,
    /// The plugin version (Kafka Connect 4).
    pub version: Option<String>,
}

/// A task status's id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct TaskId {
    /// The connector.
    pub connector: String,
    /// The task number.
    pub task: u32,
}

/// A topic a connector's task used (`status-topic-...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicStatus {
    /// The topic.
    pub topic: String,
    /// The connector.
    pub connector: String,
    /// The task that first used it.
    pub task: u32,
    /// When (ms since the epoch).
    pub discover_timestamp: i64,
}

/// One record of the status topic; a None value is a tombstone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusRecord {
    /// `status-connector-<name>`.
    Connector(String, Option<StatusValue>),
    /// `status-task-<name>-<id>`.
    Task(TaskId, Option<StatusValue>),
    /// `status-topic-<topic>:connector-<name>`; None = reset.
    Topic {
        /// The topic.
        topic: String,
        /// The connector.
        connector: String,
        /// The status.
        status: Option<TopicStatus>,
    },
}

impl StatusValue {
    fn decode(key: &str, v: &[u8]) -> Result<StatusValue, FormatError> {
        let m = parse_object(key, v)?;
        Ok(StatusValue {
            state: str_field(key, &m, "state")?.to_owned(),
            trace: m.get("trace").and_then(Json::as_str).map(str::to_owned),
            worker_id: str_field(key, &m, "worker_id")?.to_owned(),
            generation: i32::try_from(int_field(key, &m, "generation")?)
                .map_err(|_| bad(key, "generation out of range"))?,
            version: m.get("version").and_then(Json::as_str).map(str::to_owned),
        })
    }

    fn encode(&self) -> Vec<u8> {
        let mut m = Map::new();
        m.insert("state".into(), self.state.clone().into());
        m.insert(
            "trace".into(),
            self.trace.clone().map(Json::from).unwrap_or(Json::Null),
        );
        m.insert("worker_id".into(), self.worker_id.clone().into());
        m.insert("generation".into(), self.generation.into());
        if let Some(v) = &self.version {
            m.insert("version".into(), v.clone().into());
        }
        Json::Object(m).to_string().into_bytes()
    }
}

impl StatusRecord {
    /// Parses a status topic record; Ok(None) for unknown keys.
    pub fn decode(key: &str, value: Option<&[u8]>) -> Result<Option<StatusRecord>, FormatError> {
        let rec = if let Some(name) = key.strip_prefix(CONNECTOR_STATUS_PREFIX) {
            StatusRecord::Connector(
                name.to_owned(),
                value.map(|v| StatusValue::decode(key, v)).transpose()?,
            )
        } else if let Some(rest) = key.strip_prefix(TASK_STATUS_PREFIX) {
            let (connector, task) =
                split_task(rest).ok_or_else(|| bad(key, "expected status-task-<connector>-<n>"))?;
            StatusRecord::Task(
                TaskId {
                    connector: connector.to_owned(),
                    task,
                },
                value.map(|v| StatusValue::decode(key, v)).transpose()?,
            )
        } else if let Some(rest) = key.strip_prefix(TOPIC_STATUS_PREFIX) {
            let (topic, connector) = rest
                .split_once(TOPIC_STATUS_SEPARATOR)
                .ok_or_else(|| bad(key, "expected status-topic-<topic>:connector-<name>"))?;
            let status = match value {
                None => None,
                Some(v) => {
                    let m = parse_object(key, v)?;
                    let t = m
                        .get("topic")
                        .and_then(Json::as_object)
                        .ok_or_else(|| bad(key, "no 'topic' object"))?;
                    Some(TopicStatus {
                        topic: str_field(key, t, "name")?.to_owned(),
                        connector: str_field(key, t, "connector")?.to_owned(),
                        task: u32::try_from(int_field(key, t, "task")?)
                            .map_err(|_| bad(key, "negative task"))?,
                        discover_timestamp: int_field(key, t, "discoverTimestamp")?,
                    })
                }
            };
            StatusRecord::Topic {
                topic: topic.to_owned(),
                connector: connector.to_owned(),
                status,
            }
        } else {
            return Ok(None);
        };
        Ok(Some(rec))
    }

    /// The record's key and value bytes as Kafka Connect writes them.
    pub fn encode(&self) -> (String, Option<Vec<u8>>) {
        match self {
            StatusRecord::Connector(name, v) => (
                format!("{CONNECTOR_STATUS_PREFIX}{name}"),
                v.as_ref().map(StatusValue::encode),
            ),
            StatusRecord::Task(id, v) => (
                format!("{TASK_STATUS_PREFIX}{}-{}", id.connector, id.task),
                v.as_ref().map(StatusValue::encode),
            ),
            StatusRecord::Topic {
                topic,
                connector,
                status,
            } => (
                format!("{TOPIC_STATUS_PREFIX}{topic}{TOPIC_STATUS_SEPARATOR}{connector}"),
                status.as_ref().map(|s| {
                    let mut t = Map::new();
                    t.insert("name".into(), s.topic.clone().into());
                    t.insert("connector".into(), s.connector.clone().into());
                    t.insert("task".into(), s.task.into());
                    t.insert("discoverTimestamp".into(), s.discover_timestamp.into());
                    json!({"topic": Json::Object(t)}).to_string().into_bytes()
                }),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_string_hash_matches_java() {
        // values printed by `String.hashCode()` on a JVM
        assert_eq!(java_string_hash("hello"), 99162322);
        assert_eq!(java_string_hash("server"), -905826493);
        assert_eq!(java_string_hash("database"), 1789464955);
        assert_eq!(java_string_hash("ümlaut"), -1271410363);
        assert_eq!(java_string_hash("😀x"), 54959989);
    }

    #[test]
    fn hashmap_order_matches_java() {
        // `new HashMap<>()` filled with these keys iterates as printed by a JVM
        assert_eq!(
            java_hashmap_order(["database", "server"]),
            ["server", "database"]
        );
        assert_eq!(
            java_hashmap_order(["database", "schema", "server"]),
            ["schema", "server", "database"]
        );
        let keys = [
            "db",
            "table",
            "a",
            "b",
            "c",
            "server_id",
            "gtid",
            "file",
            "pos",
            "row",
            "event",
            "snapshot",
            "ts_sec",
        ];
        assert_eq!(
            java_hashmap_order(keys),
            [
                "a",
                "b",
                "ts_sec",
                "c",
                "server_id",
                "file",
                "pos",
                "gtid",
                "row",
                "event",
                "db",
                "table",
                "snapshot"
            ]
        );
    }

    #[test]
    fn offset_key_is_kafka_connects_bytes() {
        let mut p = Partition::new();
        p.insert("server".into(), "tms".into());
        p.insert("database".into(), "inventory".into());
        assert_eq!(
            String::from_utf8(offset_key("tms-pg", &p)).unwrap(),
            r#"["tms-pg",{"server":"tms","database":"inventory"}]"#
        );
        let (c, back) = parse_offset_key(&offset_key("tms-pg", &p)).unwrap();
        assert_eq!((c.as_str(), back), ("tms-pg", p));
        assert!(parse_offset_key(br#"{"server":"tms"}"#).is_none());
        assert!(parse_offset_key(br#"["a",{},1]"#).is_none());
    }

    #[test]
    fn target_state_writes_paused_for_old_workers_and_reads_v2() {
        let rec = ConfigRecord::TargetState {
            connector: "c-1".into(),
            state: Some(TargetState::Stopped),
        };
        let (k, v) = rec.encode();
        assert_eq!(k, "target-state-c-1");
        let v: Json = serde_json::from_slice(&v.unwrap()).unwrap();
        assert_eq!(v, json!({"state": "PAUSED", "state.v2": "STOPPED"}));
        assert_eq!(
            ConfigRecord::decode(&k, Some(br#"{"state":"PAUSED","state.v2":"STOPPED"}"#)).unwrap(),
            Some(rec)
        );
        // a record of an old worker has no state.v2
        assert_eq!(
            ConfigRecord::decode(&k, Some(br#"{"state":"PAUSED"}"#)).unwrap(),
            Some(ConfigRecord::TargetState {
                connector: "c-1".into(),
                state: Some(TargetState::Paused)
            })
        );
        assert!(ConfigRecord::decode(&k, Some(br#"{"state":"SLEEPING"}"#)).is_err());
    }

    #[test]
    fn task_keys_split_at_the_last_dash() {
        let r = ConfigRecord::decode("task-my-conn-12", Some(br#"{"properties":{"a":"b"}}"#))
            .unwrap()
            .unwrap();
        let ConfigRecord::Task {
            connector, task, ..
        } = &r
        else {
            panic!("{r:?}")
        };
        assert_eq!((connector.as_str(), *task), ("my-conn", 12));
        assert_eq!(r.encode().0, "task-my-conn-12");
        assert!(ConfigRecord::decode("task-nonumber", Some(b"{}")).is_err());
        let s = StatusRecord::decode("status-task-my-conn-3", None)
            .unwrap()
            .unwrap();
        assert_eq!(
            s,
            StatusRecord::Task(
                TaskId {
                    connector: "my-conn".into(),
                    task: 3
                },
                None
            )
        );
    }

    #[test]
    fn unknown_keys_are_skipped_and_bad_values_rejected() {
        assert_eq!(
            ConfigRecord::decode("something-else", Some(b"{}")).unwrap(),
            None
        );
        assert!(ConfigRecord::decode("commit-x", Some(b"[1]")).is_err());
        assert!(ConfigRecord::decode("commit-x", None).is_err());
        assert!(ConfigRecord::decode("connector-x", Some(b"{\"props\":{}}")).is_err());
        assert!(StatusRecord::decode("status-connector-x", Some(b"{\"state\":1}")).is_err());
        assert!(parse_offset_value(Some(b"not json")).is_err());
        assert_eq!(parse_offset_value(None).unwrap(), None);
    }

    #[test]
    fn every_config_record_round_trips() {
        let cfg: RawConfig = [("connector.class".to_owned(), "x".to_owned())].into();
        let all = vec![
            ConfigRecord::Connector {
                name: "a".into(),
                config: Some(cfg.clone()),
            },
            ConfigRecord::Connector {
                name: "a".into(),
                config: None,
            },
            ConfigRecord::Task {
                connector: "a".into(),
                task: 0,
                config: Some(cfg),
            },
            ConfigRecord::Commit {
                connector: "a".into(),
                tasks: 2,
            },
            ConfigRecord::TargetState {
                connector: "a".into(),
                state: None,
            },
            ConfigRecord::Restart {
                connector: "a".into(),
                include_tasks: true,
                only_failed: false,
            },
            ConfigRecord::TaskCount {
                connector: "a".into(),
                task_count: 3,
            },
            ConfigRecord::SessionKey(SessionKey {
                key: vec![1, 2, 255],
                algorithm: "HmacSHA256".into(),
                creation_timestamp: 1_700_000_000_000,
            }),
            ConfigRecord::LoggerLevel {
                namespace: "org.x".into(),
                level: Some("DEBUG".into()),
            },
        ];
        for r in all {
            let (k, v) = r.encode();
            assert_eq!(ConfigRecord::decode(&k, v.as_deref()).unwrap(), Some(r));
        }
    }
}
