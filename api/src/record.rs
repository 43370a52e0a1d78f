//! Records: what sources produce, what sinks consume and what transforms
//! rewrite. Offsets travel with source records so that the runtime can store
//! exactly the offsets of the records Kafka acknowledged.

use crate::schema::SchemaRef;
use crate::value::Value;

/// A source partition (e.g. `{"server":"tms"}`), as Kafka Connect stores it
/// in the offset key `["<connector>", {partition}]`.
pub type Partition = serde_json::Map<String, serde_json::Value>;

/// A source offset (e.g. `{"lsn":123,"txId":7}`), stored as JSON.
pub type Offset = serde_json::Map<String, serde_json::Value>;

/// A record header.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    /// Header key.
    pub key: String,
    /// Header value schema, when known.
    pub schema: Option<SchemaRef>,
    /// Header value.
    pub value: Value,
}

/// The part of a record shared by source and sink records, and the unit every
/// transform works on (Kafka Connect's `ConnectRecord`).
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectRecord {
    /// Destination (source side) or origin (sink side) topic.
    pub topic: String,
    /// Kafka partition; None lets the producer's partitioner choose by key.
    pub partition: Option<i32>,
    /// Key schema; None for schemaless keys.
    pub key_schema: Option<SchemaRef>,
    /// Key; [`Value::Null`] for no key.
    pub key: Value,
    /// Value schema; None for schemaless values and tombstones.
    pub value_schema: Option<SchemaRef>,
    /// Value; [`Value::Null`] with no schema is a tombstone.
    pub value: Value,
    /// Record timestamp in milliseconds since the epoch.
    pub timestamp: Option<i64>,
    /// Headers, in order; keys may repeat.
    pub headers: Vec<Header>,
}

impl ConnectRecord {
    /// A record for `topic` with the given key and value and nothing else set.
    pub fn new(
        topic: impl Into<String>,
        key_schema: Option<SchemaRef>,
        key: Value,
        value_schema: Option<SchemaRef>,
        value: Value,
    ) -> ConnectRecord {
        ConnectRecord {
            topic: topic.into(),
            partition: None,
            key_schema,
            key,
            value_schema,
            value,
            timestamp: None,
            headers: Vec::new(),
        }
    }

    /// True when the value is null: a tombstone for compacted topics.
    pub fn is_tombstone(&self) -> bool {
        self.value.is_null()
    }
}

/// A record produced by a source task.
///
/// `source_offset` is the position *after* this record: if the runtime stores
/// it and the task restarts, the task resumes without emitting this record
/// again. Records of one source partition are emitted in offset order.
///
/// An empty `source_offset` means the record completes no position of its
/// own (e.g. the first records of a batch whose last record carries the
/// position after all of them); the runtime then stores nothing for it, and
/// its partition is ignored. A source that leaves offsets empty must give a
/// later record (at the latest the last of the same `poll` batch) the
/// position that covers them, or they are sent again after a restart.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceRecord {
    /// Which stream this record comes from.
    pub source_partition: Partition,
    /// Where that stream stands once this record is delivered; empty when
    /// the record completes no position of its own (see above).
    pub source_offset: Offset,
    /// The record itself.
    pub record: ConnectRecord,
}

/// A record delivered to a sink task.
#[derive(Debug, Clone, PartialEq)]
pub struct SinkRecord {
    /// The record, after conversion and transforms. `partition` is always set.
    pub record: ConnectRecord,
    /// The Kafka offset of the record within its topic partition.
    pub kafka_offset: i64,
}

/// Header key that marks a [`SourceRecord`] as a control record (see
/// [`SourceRecord::transaction_end`]); never produced to Kafka.
pub const CONTROL_HEADER: &str = "__velocity.control";

/// What a control record tells the runtime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Control {
    /// The source transaction whose records precede this marker has ended
    /// (committed); `id` is the source's transaction id when known.
    TransactionEnd {
        /// The transaction id as the source spells it (e.g. PostgreSQL's xid).
        id: Option<String>,
    },
}

impl SourceRecord {
    /// A transaction-boundary marker: every record of the transaction was
    /// emitted before it, in order. `source_offset` is the position after the
    /// whole transaction (normally the offset of its last record). The
    /// runtime hands it to the transform chain
    /// ([`crate::Transform::on_transaction_end`]) and stores its offset once
    /// everything before it is acknowledged; it is never produced to Kafka.
    /// Sources may emit it or not; without it stateful transforms only see
    /// a transaction end when the next transaction's first record arrives.
    pub fn transaction_end(
        source_partition: Partition,
        source_offset: Offset,
        id: Option<String>,
    ) -> SourceRecord {
        let mut record = ConnectRecord::new("", None, Value::Null, None, Value::Null);
        record.headers.push(Header {
            key: CONTROL_HEADER.to_owned(),
            schema: None,
            value: id.map_or(Value::Null, Value::String),
        });
        SourceRecord {
            source_partition,
            source_offset,
            record,
        }
    }

    /// A [`SourceRecord::transaction_end`] marker that also tells when the
    /// transaction committed in the source (microseconds since the epoch):
    /// the runtime measures commit → Kafka acknowledgement with it (see
    /// [`SourceRecord::commit_time_us`]). Kept in the marker's value, which
    /// is never produced.
    pub fn committed_at_us(mut self, commit_time_us: i64) -> SourceRecord {
        self.record.value = Value::Int64(commit_time_us);
        self
    }

    /// The source commit time a transaction-end marker carries (see
    /// [`SourceRecord::committed_at_us`]); None for other records and for
    /// markers without one.
    pub fn commit_time_us(&self) -> Option<i64> {
        self.control()?;
        match self.record.value {
            Value::Int64(us) => Some(us),
            _ => None,
        }
    }

    /// The control this record carries, or None for an ordinary record.
    /// A control record has an empty topic and [`CONTROL_HEADER`] as its
    /// only header.
    pub fn control(&self) -> Option<Control> {
        let r = &self.record;
        if !r.topic.is_empty() || r.headers.len() != 1 || r.headers[0].key != CONTROL_HEADER {
            return None;
        }
        Some(Control::TransactionEnd {
            id: r.headers[0].value.as_str().map(str::to_owned),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transaction_end_is_a_control_record() {
        let mut o = Offset::new();
        o.insert("lsn".into(), 7.into());
        let m = SourceRecord::transaction_end(Partition::new(), o.clone(), Some("42".into()));
        assert_eq!(
            m.control(),
            Some(Control::TransactionEnd {
                id: Some("42".into())
            })
        );
        assert_eq!(m.source_offset, o);
        assert_eq!(m.commit_time_us(), None);
        let timed = m.clone().committed_at_us(1_700_000_000_123_456);
        assert_eq!(timed.commit_time_us(), Some(1_700_000_000_123_456));
        assert_eq!(timed.control(), m.control());
        let plain = SourceRecord {
            source_partition: Partition::new(),
            source_offset: o,
            record: ConnectRecord::new("t", None, Value::Null, None, Value::Null),
        };
        assert_eq!(plain.control(), None);
    }
}
