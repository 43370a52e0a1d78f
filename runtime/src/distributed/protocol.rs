//! The `connect` group protocol's payloads, byte-compatible with Kafka
//! Connect's `ConnectProtocol` (eager, version 0) and
//! `IncrementalCooperativeConnectProtocol` (`compatible` = version 1,
//! `sessioned` = version 2). They travel as the JoinGroup protocol metadata
//! and the SyncGroup assignment of a group with `protocol_type` `connect`.
//!
//! Encoding (Kafka's classic protocol types, big-endian): INT16/INT32/INT64;
//! STRING = INT16 length + UTF-8; ARRAY = INT32 count (-1: null) + items;
//! NULLABLE_BYTES = INT32 length (-1: null) + bytes.
//!
//! ```text
//! Metadata v0      = version:INT16(0) url:STRING config_offset:INT64
//! Metadata v1/v2   = version:INT16    url:STRING config_offset:INT64
//!                    allocation:NULLABLE_BYTES (an Assignment v1/v2 of the
//!                    member's current assignment; null when it has none)
//! Assignment v0    = version:INT16(0) error:INT16 leader:STRING
//!                    leader_url:STRING config_offset:INT64
//!                    assignment:ARRAY(ConnectorAssignment)
//! Assignment v1/v2 = version:INT16 error:INT16 leader:STRING leader_url:STRING
//!                    config_offset:INT64 assignment:ARRAY(ConnectorAssignment)
//!                    revoked:ARRAY(ConnectorAssignment) delay:INT32
//! ConnectorAssignment = connector:STRING tasks:ARRAY(INT32); task -1 is
//!                    the connector instance itself
//! ```
//!
//! Connectors are written in the order Java's `HashMap` iterates them (what
//! Kafka Connect emits), so encodings are byte-identical to Java's; decoding
//! accepts any order. Missing trailing v1 fields (revoked, delay) default as
//! in Kafka Connect (`TOLERATE_MISSING_FIELDS_WITH_DEFAULTS`).

use std::collections::BTreeMap;

use super::formats::java_hashmap_order;

/// The connector instance's pseudo task id in assignments.
pub const CONNECTOR_TASK: i32 = -1;
/// `Assignment.NO_ERROR`.
pub const NO_ERROR: i16 = 0;
/// `Assignment.CONFIG_MISMATCH`: the member's config offset is behind the leader's.
pub const CONFIG_MISMATCH: i16 = 1;
/// The group's protocol type.
pub const PROTOCOL_TYPE: &str = "connect";

/// `connect.protocol` values, by preference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ConnectProtocol {
    /// Version 0, protocol name `default`: stop everything at each rebalance.
    Eager,
    /// Version 1, protocol name `compatible`: incremental cooperative.
    Compatible,
    /// Version 2, protocol name `sessioned`: v1 plus signed internal requests.
    Sessioned,
}

impl ConnectProtocol {
    /// The JoinGroup protocol name.
    pub fn name(self) -> &'static str {
        match self {
            ConnectProtocol::Eager => "default",
            ConnectProtocol::Compatible => "compatible",
            ConnectProtocol::Sessioned => "sessioned",
        }
    }

    /// The header version.
    pub fn version(self) -> i16 {
        match self {
            ConnectProtocol::Eager => 0,
            ConnectProtocol::Compatible => 1,
            ConnectProtocol::Sessioned => 2,
        }
    }

    /// From the `connect.protocol` config value.
    pub fn from_config(v: &str) -> Option<ConnectProtocol> {
        match v {
            "eager" => Some(ConnectProtocol::Eager),
            "compatible" => Some(ConnectProtocol::Compatible),
            "sessioned" => Some(ConnectProtocol::Sessioned),
            _ => None,
        }
    }

    /// From a JoinGroup protocol name.
    pub fn from_name(v: &str) -> Option<ConnectProtocol> {
        match v {
            "default" => Some(ConnectProtocol::Eager),
            "compatible" => Some(ConnectProtocol::Compatible),
            "sessioned" => Some(ConnectProtocol::Sessioned),
            _ => None,
        }
    }

    /// The protocols a member offers in its JoinGroup, most preferred first
    /// (Kafka Connect offers every version up to its configured one).
    pub fn offered(self) -> Vec<ConnectProtocol> {
        [
            ConnectProtocol::Sessioned,
            ConnectProtocol::Compatible,
            ConnectProtocol::Eager,
        ]
        .into_iter()
        .filter(|p| *p <= self)
        .collect()
    }
}

/// A malformed payload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed connect protocol payload: {0}")]
pub struct ProtocolError(pub String);

/// A task of a connector.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnectorTaskId {
    /// The connector.
    pub connector: String,
    /// The task number.
    pub task: i32,
}

/// An assignment (also a member's current allocation in its metadata).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Assignment {
    /// Header version (0, 1 or 2).
    pub version: i16,
    /// [`NO_ERROR`] or [`CONFIG_MISMATCH`].
    pub error: i16,
    /// The leader's member id.
    pub leader: String,
    /// The leader's advertised REST URL.
    pub leader_url: String,
    /// The config topic offset the assignment was computed at.
    pub config_offset: i64,
    /// Connectors to run.
    pub connectors: Vec<String>,
    /// Tasks to run.
    pub tasks: Vec<ConnectorTaskId>,
    /// Connectors to stop (v1+).
    pub revoked_connectors: Vec<String>,
    /// Tasks to stop (v1+).
    pub revoked_tasks: Vec<ConnectorTaskId>,
    /// Milliseconds until the leader's scheduled rebalance (v1+).
    pub delay: i32,
}

/// A member's JoinGroup metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerState {
    /// Header version.
    pub version: i16,
    /// The member's advertised REST URL.
    pub url: String,
    /// The config topic offset it has read to.
    pub config_offset: i64,
    /// What it currently runs (v1+; None when nothing).
    pub allocation: Option<Assignment>,
}

struct Writer(Vec<u8>);

impl Writer {
    fn i16(&mut self, v: i16) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn i32(&mut self, v: i32) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn i64(&mut self, v: i64) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn string(&mut self, s: &str) {
        self.i16(s.len() as i16);
        self.0.extend_from_slice(s.as_bytes());
    }
    fn nullable_bytes(&mut self, b: Option<&[u8]>) {
        match b {
            None => self.i32(-1),
            Some(b) => {
                self.i32(b.len() as i32);
                self.0.extend_from_slice(b);
            }
        }
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], ProtocolError> {
        if self.0.len() < n {
            return Err(ProtocolError(format!(
                "needed {n} more bytes, {} left",
                self.0.len()
            )));
        }
        let (h, t) = self.0.split_at(n);
        self.0 = t;
        Ok(h)
    }
    fn i16(&mut self) -> Result<i16, ProtocolError> {
        Ok(i16::from_be_bytes(
            self.take(2)?.try_into().expect("2 bytes"),
        ))
    }
    fn i32(&mut self) -> Result<i32, ProtocolError> {
        Ok(i32::from_be_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
    fn i64(&mut self) -> Result<i64, ProtocolError> {
        Ok(i64::from_be_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }
    fn string(&mut self) -> Result<String, ProtocolError> {
        let n = self.i16()?;
        if n < 0 {
            return Err(ProtocolError("null string".into()));
        }
        String::from_utf8(self.take(n as usize)?.to_vec())
            .map_err(|e| ProtocolError(format!("string is not UTF-8: {e}")))
    }
    fn nullable_bytes(&mut self) -> Result<Option<&[u8]>, ProtocolError> {
        let n = self.i32()?;
        if n < 0 {
            return Ok(None);
        }
        self.take(n as usize).map(Some)
    }
}

fn by_connector(connectors: &[String], tasks: &[ConnectorTaskId]) -> Vec<(String, Vec<i32>)> {
    // insertion order: connectors first (their -1), then tasks, as Java builds it
    let mut order: Vec<&str> = Vec::new();
    let mut map: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    let entries = connectors
        .iter()
        .map(|c| (c.as_str(), CONNECTOR_TASK))
        .chain(tasks.iter().map(|t| (t.connector.as_str(), t.task)));
    for (c, t) in entries {
        if !map.contains_key(c) {
            order.push(c);
        }
        map.entry(c).or_default().push(t);
    }
    java_hashmap_order(order)
        .into_iter()
        .map(|c| (c.to_owned(), map.remove(c).unwrap_or_default()))
        .collect()
}

fn write_assignments(w: &mut Writer, connectors: &[String], tasks: &[ConnectorTaskId]) {
    let groups = by_connector(connectors, tasks);
    w.i32(groups.len() as i32);
    for (c, ts) in groups {
        w.string(&c);
        w.i32(ts.len() as i32);
        for t in ts {
            w.i32(t);
        }
    }
}

type Split = (Vec<String>, Vec<ConnectorTaskId>);

fn read_assignments(r: &mut Reader<'_>) -> Result<Split, ProtocolError> {
    let n = r.i32()?;
    let mut connectors = Vec::new();
    let mut tasks = Vec::new();
    for _ in 0..n.max(0) {
        let c = r.string()?;
        let k = r.i32()?;
        for _ in 0..k.max(0) {
            match r.i32()? {
                CONNECTOR_TASK => connectors.push(c.clone()),
                t => tasks.push(ConnectorTaskId {
                    connector: c.clone(),
                    task: t,
                }),
            }
        }
    }
    Ok((connectors, tasks))
}

impl Assignment {
    /// Kafka Connect's serialized form (version from `self.version`).
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer(Vec::new());
        w.i16(self.version);
        w.i16(self.error);
        w.string(&self.leader);
        w.string(&self.leader_url);
        w.i64(self.config_offset);
        write_assignments(&mut w, &self.connectors, &self.tasks);
        if self.version >= 1 {
            write_assignments(&mut w, &self.revoked_connectors, &self.revoked_tasks);
            w.i32(self.delay);
        }
        w.0
    }

    /// Parses an assignment of any version.
    pub fn decode(bytes: &[u8]) -> Result<Assignment, ProtocolError> {
        let mut r = Reader(bytes);
        let version = r.i16()?;
        if version < 0 {
            return Err(ProtocolError(format!(
                "Unsupported subscription version: {version}"
            )));
        }
        let error = r.i16()?;
        let leader = r.string()?;
        let leader_url = r.string()?;
        let config_offset = r.i64()?;
        let (connectors, tasks) = read_assignments(&mut r)?;
        let mut a = Assignment {
            version,
            error,
            leader,
            leader_url,
            config_offset,
            connectors,
            tasks,
            ..Assignment::default()
        };
        if version >= 1 && !r.0.is_empty() {
            let (rc, rt) = read_assignments(&mut r)?;
            a.revoked_connectors = rc;
            a.revoked_tasks = rt;
            if !r.0.is_empty() {
                a.delay = r.i32()?;
            }
        }
        Ok(a)
    }

    fn is_empty(&self) -> bool {
        self.connectors.is_empty()
            && self.tasks.is_empty()
            && self.revoked_connectors.is_empty()
            && self.revoked_tasks.is_empty()
    }
}

impl WorkerState {
    /// Kafka Connect's serialized JoinGroup metadata.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer(Vec::new());
        w.i16(self.version);
        w.string(&self.url);
        w.i64(self.config_offset);
        if self.version >= 1 {
            let alloc = self.allocation.as_ref().filter(|a| !a.is_empty()).map(|a| {
                Assignment {
                    version: self.version,
                    ..a.clone()
                }
                .encode()
            });
            w.nullable_bytes(alloc.as_deref());
        }
        w.0
    }

    /// Parses JoinGroup metadata of any version.
    pub fn decode(bytes: &[u8]) -> Result<WorkerState, ProtocolError> {
        let mut r = Reader(bytes);
        let version = r.i16()?;
        if version < 0 {
            return Err(ProtocolError(format!(
                "Unsupported subscription version: {version}"
            )));
        }
        let url = r.string()?;
        let config_offset = r.i64()?;
        let allocation = if version >= 1 && !r.0.is_empty() {
            r.nullable_bytes()?.map(Assignment::decode).transpose()?
        } else {
            None
        };
        Ok(WorkerState {
            version,
            url,
            config_offset,
            allocation,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes printed by Kafka Connect 4.3's own serializers
    /// (tests/fixtures/connect/ConnectProtoFixtures.java).
    fn fixture(name: &str) -> Vec<u8> {
        let text = include_str!("../../../tests/fixtures/connect/protocol-bytes.txt");
        let hex = text
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no fixture {name}"));
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect()
    }

    fn tid(c: &str, t: i32) -> ConnectorTaskId {
        ConnectorTaskId {
            connector: c.into(),
            task: t,
        }
    }

    fn sample(version: i16) -> Assignment {
        Assignment {
            version,
            error: NO_ERROR,
            leader: "w1-uuid".into(),
            leader_url: "http://127.0.0.1:8083/".into(),
            config_offset: 7,
            connectors: vec!["pg".into(), "file".into()],
            tasks: vec![tid("pg", 0), tid("pg", 2), tid("file", 0)],
            revoked_connectors: vec!["old".into()],
            revoked_tasks: vec![tid("old", 1)],
            delay: 3000,
        }
    }

    #[test]
    fn metadata_matches_kafka_connect() {
        let eager = WorkerState {
            version: 0,
            url: "http://127.0.0.1:8083/".into(),
            config_offset: 42,
            allocation: None,
        };
        assert_eq!(eager.encode(), fixture("eager_metadata"));
        assert_eq!(
            WorkerState::decode(&fixture("eager_metadata")).unwrap(),
            eager
        );
        let compatible = WorkerState {
            version: 1,
            ..eager
        };
        assert_eq!(compatible.encode(), fixture("compatible_metadata_empty"));
        assert_eq!(
            WorkerState::decode(&fixture("compatible_metadata_empty")).unwrap(),
            compatible
        );
        let sessioned = WorkerState {
            version: 2,
            url: "http://w2:8083/".into(),
            config_offset: -1,
            allocation: Some(sample(2)),
        };
        assert_eq!(sessioned.encode(), fixture("sessioned_metadata"));
        let back = WorkerState::decode(&fixture("sessioned_metadata")).unwrap();
        assert_eq!(back.url, "http://w2:8083/");
        let alloc = back.allocation.unwrap();
        assert_eq!(alloc.revoked_tasks, vec![tid("old", 1)]);
        assert_eq!(alloc.delay, 3000);
    }

    #[test]
    fn assignments_match_kafka_connect() {
        let eager = Assignment {
            version: 0,
            connectors: vec!["pg".into()],
            tasks: vec![tid("pg", 0), tid("pg", 1)],
            revoked_connectors: vec![],
            revoked_tasks: vec![],
            delay: 0,
            ..sample(0)
        };
        assert_eq!(eager.encode(), fixture("eager_assignment"));
        assert_eq!(
            Assignment::decode(&fixture("eager_assignment")).unwrap(),
            eager
        );
        for (v, name) in [(1, "compatible_assignment"), (2, "sessioned_assignment")] {
            assert_eq!(sample(v).encode(), fixture(name), "{name}");
            let mut back = Assignment::decode(&fixture(name)).unwrap();
            back.connectors.sort();
            back.tasks.sort();
            let mut want = sample(v);
            want.connectors.sort();
            want.tasks.sort();
            assert_eq!(back, want, "{name}");
        }
        let err = Assignment {
            version: 2,
            error: CONFIG_MISMATCH,
            leader: "w1-uuid".into(),
            leader_url: "http://127.0.0.1:8083/".into(),
            config_offset: 9,
            ..Assignment::default()
        };
        assert_eq!(err.encode(), fixture("sessioned_assignment_error"));
        assert_eq!(
            Assignment::decode(&fixture("sessioned_assignment_error")).unwrap(),
            err
        );
    }

    #[test]
    fn truncated_payloads_are_errors_and_v1_tolerates_missing_tail() {
        let full = fixture("compatible_assignment");
        assert!(Assignment::decode(&full[..10]).is_err());
        // an assignment v1 without revoked/delay (older writer) still parses
        let head = sample(1);
        let mut short = Assignment {
            revoked_connectors: vec![],
            revoked_tasks: vec![],
            delay: 0,
            ..head
        }
        .encode();
        short.truncate(short.len() - 8);
        let a = Assignment::decode(&short).unwrap();
        assert!(a.revoked_tasks.is_empty() && a.delay == 0);
        assert_eq!(
            ConnectProtocol::Sessioned.offered(),
            vec![
                ConnectProtocol::Sessioned,
                ConnectProtocol::Compatible,
                ConnectProtocol::Eager
            ]
        );
        assert_eq!(ConnectProtocol::Compatible.offered().len(), 2);
    }
}
