//! Debezium's transaction metadata (`provide.transaction.metadata`), shared
//! by the CDC source connectors: the BEGIN / END records of the
//! `<topic.prefix>.transaction` topic and the `transaction` block
//! (`event.block`) of change events.
//!
//! Contract (as Debezium): a BEGIN record precedes the first change event of
//! a transaction, an END record follows its last one with the number of
//! events in total and per data collection (first-seen order); change
//! events carry `{id, total_order, data_collection_order}` (1-based).
//! Transactions without captured events produce no records.
//! [`block_schema`] is the `transaction` field of every
//! [`super::envelope::envelope_schema`].

use std::sync::OnceLock;

use crate::record::{ConnectRecord, Offset, Partition, SourceRecord};
use crate::schema::{Schema, SchemaRef};
use crate::value::{Struct, Value};

/// The `transaction` block schema of change events (`event.block`, optional).
pub fn block_schema() -> SchemaRef {
    static S: OnceLock<SchemaRef> = OnceLock::new();
    S.get_or_init(|| {
        Schema::struct_()
            .optional()
            .named("event.block")
            .version(1)
            .field("id", Schema::string())
            .field("total_order", Schema::int64())
            .field("data_collection_order", Schema::int64())
            .build()
    })
    .clone()
}

/// The `transaction` block of one change event: the transaction `id`, the
/// event's 1-based position among all events of the transaction
/// (`total_order`) and among those of its data collection
/// (`data_collection_order`).
pub fn block(id: String, total_order: i64, data_collection_order: i64) -> Struct {
    Struct {
        schema: block_schema(),
        values: vec![
            Value::String(id),
            Value::Int64(total_order),
            Value::Int64(data_collection_order),
        ],
    }
}

/// `io.debezium.connector.common.TransactionMetadataKey`.
pub fn key_schema() -> SchemaRef {
    static S: OnceLock<SchemaRef> = OnceLock::new();
    S.get_or_init(|| {
        Schema::struct_()
            .named("io.debezium.connector.common.TransactionMetadataKey")
            .field("id", Schema::string())
            .build()
    })
    .clone()
}

/// `io.debezium.connector.common.TransactionMetadataValue`.
pub fn value_schema() -> SchemaRef {
    static S: OnceLock<SchemaRef> = OnceLock::new();
    S.get_or_init(|| {
        let dc = Schema::struct_()
            .named("event.collection")
            .version(1)
            .field("data_collection", Schema::string())
            .field("event_count", Schema::int64())
            .build();
        Schema::struct_()
            .named("io.debezium.connector.common.TransactionMetadataValue")
            .version(1)
            .field("status", Schema::string())
            .field("id", Schema::string())
            .field("event_count", Schema::int64().optional())
            .field("data_collections", Schema::array(dc).optional())
            .field("ts_ms", Schema::int64())
            .build()
    })
    .clone()
}

/// The counters of the transaction being streamed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TxCounter {
    /// Transaction id.
    pub id: String,
    /// Events so far.
    pub total: i64,
    /// Events per data collection, first-seen order.
    pub per_collection: Vec<(String, i64)>,
}

impl TxCounter {
    /// A transaction with no events yet.
    pub fn new(id: impl Into<String>) -> TxCounter {
        TxCounter {
            id: id.into(),
            ..TxCounter::default()
        }
    }

    /// Counts one event of `collection`; returns its `transaction` block
    /// ([`block`]).
    pub fn next_block(&mut self, collection: &str) -> Struct {
        self.total += 1;
        let n = match self
            .per_collection
            .iter_mut()
            .find(|(c, _)| c == collection)
        {
            Some((_, n)) => {
                *n += 1;
                *n
            }
            None => {
                self.per_collection.push((collection.to_owned(), 1));
                1
            }
        };
        block(self.id.clone(), self.total, n)
    }
}

/// A BEGIN (`counts` None) or END record for `topic`; `counts` lists each
/// data collection and its events, in first-seen order. `timestamp_ms`
/// becomes the Kafka record timestamp.
#[allow(clippy::too_many_arguments)]
pub fn record(
    topic: &str,
    status: &str,
    id: &str,
    ts_ms: i64,
    counts: Option<&[(String, i64)]>,
    partition: &Partition,
    offset: Offset,
    timestamp_ms: i64,
) -> SourceRecord {
    let key = Struct {
        schema: key_schema(),
        values: vec![Value::String(id.to_owned())],
    };
    let vs = value_schema();
    let dc_schema = vs.fields[3]
        .schema
        .value_schema
        .clone()
        .expect("array of structs");
    let (count, collections) = match counts {
        None => (Value::Null, Value::Null),
        Some(c) => (
            Value::Int64(c.iter().map(|(_, n)| n).sum()),
            Value::Array(
                c.iter()
                    .map(|(t, n)| {
                        Value::Struct(Struct {
                            schema: dc_schema.clone(),
                            values: vec![Value::String(t.clone()), Value::Int64(*n)],
                        })
                    })
                    .collect(),
            ),
        ),
    };
    let value = Struct {
        schema: vs.clone(),
        values: vec![
            Value::String(status.to_owned()),
            Value::String(id.to_owned()),
            count,
            collections,
            Value::Int64(ts_ms),
        ],
    };
    let mut record = ConnectRecord::new(
        topic,
        Some(key_schema()),
        Value::Struct(key),
        Some(vs),
        Value::Struct(value),
    );
    record.timestamp = Some(timestamp_ms);
    SourceRecord {
        source_partition: partition.clone(),
        source_offset: offset,
        record,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_end_record() {
        let mut t = TxCounter::new("0-1-7");
        let b = t.next_block("db.a");
        t.next_block("db.b");
        let b3 = t.next_block("db.a");
        let s = b;
        assert_eq!(s.values[1], Value::Int64(1));
        let s3 = b3;
        assert_eq!(s3.values[1], Value::Int64(3));
        assert_eq!(s3.values[2], Value::Int64(2));
        let r = record(
            "p.transaction",
            "END",
            &t.id,
            5,
            Some(&t.per_collection),
            &Partition::new(),
            Offset::new(),
            5,
        );
        let Value::Struct(v) = &r.record.value else {
            panic!()
        };
        assert_eq!(v.values[0], Value::String("END".into()));
        assert_eq!(v.values[2], Value::Int64(3));
        let Value::Array(dc) = &v.values[3] else {
            panic!()
        };
        assert_eq!(dc.len(), 2);
    }
}
