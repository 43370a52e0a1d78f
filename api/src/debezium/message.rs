//! Debezium's message events: a message a database writes into its change
//! stream without changing a table (PostgreSQL's `pg_logical_emit_message`)
//! becomes one record on the topic `<topic.prefix>.message`
//! ([`MESSAGE_TOPIC_SUFFIX`]), keyed by the message's prefix.
//!
//! Shapes (as Debezium's `LogicalDecodingMessageMonitor` builds them, names
//! under the connector's namespace, e.g. `io.debezium.connector.postgresql`):
//! - key `<ns>.MessageKey` (version 1): `{prefix}` (optional string);
//! - value `<ns>.MessageValue` (version 1): `op` (`"m"`), `ts_ms` (when the
//!   event was built; optional int64), `source` (the connector's block),
//!   `transaction` (the [`super::transaction`] block or null) and `message`
//!   (`<ns>.Message`, version 1: `prefix`, optional string, and `content`,
//!   optional, in the `binary.handling.mode` representation).
//!
//! There is no `before`/`after`, no `ts_us`/`ts_ns`, and the record has no
//! Kafka timestamp of its own (Debezium creates it without one).

use crate::record::{ConnectRecord, Offset, Partition, SourceRecord};
use crate::schema::{Schema, SchemaRef};
use crate::value::{Struct, Value};

use super::options::BinaryMode;
use super::source::SourceTime;

/// The topic suffix of message events: `<topic.prefix>.message`.
pub const MESSAGE_TOPIC_SUFFIX: &str = "message";

/// The `op` of a message event.
pub const OP_MESSAGE: &str = "m";

/// The schemas of one connector's message events and the records built on
/// them; built once per connector task.
#[derive(Debug)]
pub struct MessageEnvelope {
    /// `<topic.prefix>.message`.
    pub topic: String,
    /// `<ns>.MessageKey`.
    pub key_schema: SchemaRef,
    /// `<ns>.MessageValue`.
    pub value_schema: SchemaRef,
    /// `<ns>.Message`, the `message` field of the value.
    pub block_schema: SchemaRef,
    binary: BinaryMode,
}

impl MessageEnvelope {
    /// The message events of a connector whose schema names live under
    /// `namespace` (e.g. `io.debezium.connector.postgresql`), published
    /// under `topic_prefix` with `source` blocks of schema `source`; the
    /// content is represented as `binary` (`binary.handling.mode`).
    pub fn new(
        namespace: &str,
        topic_prefix: &str,
        source: SchemaRef,
        binary: BinaryMode,
    ) -> MessageEnvelope {
        let key_schema = Schema::struct_()
            .named(format!("{namespace}.MessageKey"))
            .version(1)
            .field("prefix", Schema::string().optional())
            .build();
        let block_schema = Schema::struct_()
            .named(format!("{namespace}.Message"))
            .version(1)
            .field("prefix", Schema::string().optional())
            .field("content", binary.schema().optional())
            .build();
        let value_schema = Schema::struct_()
            .named(format!("{namespace}.MessageValue"))
            .version(1)
            .field("op", Schema::string())
            .field("ts_ms", Schema::int64().optional())
            .field("source", source)
            .field("transaction", super::transaction::block_schema())
            .field("message", block_schema.clone())
            .build();
        MessageEnvelope {
            topic: format!("{topic_prefix}.{MESSAGE_TOPIC_SUFFIX}"),
            key_schema,
            value_schema,
            block_schema,
            binary,
        }
    }

    /// The record of a message with `prefix` and `content`, the
    /// connector's `source` block and the `transaction` block, if any, at
    /// `offset` of `partition`; `ts_ms` is now.
    pub fn record(
        &self,
        prefix: &str,
        content: Vec<u8>,
        source: Struct,
        transaction: Option<Struct>,
        partition: &Partition,
        offset: Offset,
    ) -> SourceRecord {
        let key = Struct {
            schema: self.key_schema.clone(),
            values: vec![Value::String(prefix.to_owned())],
        };
        let block = Struct {
            schema: self.block_schema.clone(),
            values: vec![
                Value::String(prefix.to_owned()),
                self.binary.encode(content),
            ],
        };
        let value = Struct {
            schema: self.value_schema.clone(),
            values: vec![
                Value::String(OP_MESSAGE.into()),
                Value::Int64(SourceTime::now().ms),
                Value::Struct(source),
                transaction.map_or(Value::Null, Value::Struct),
                Value::Struct(block),
            ],
        };
        SourceRecord {
            source_partition: partition.clone(),
            source_offset: offset,
            record: ConnectRecord::new(
                self.topic.clone(),
                Some(self.key_schema.clone()),
                Value::Struct(key),
                Some(self.value_schema.clone()),
                Value::Struct(value),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::debezium::source::{source_schema_base, SNAPSHOT_MARKERS};

    #[test]
    fn message_shape() {
        let source = source_schema_base("src", SNAPSHOT_MARKERS).build();
        let m = MessageEnvelope::new("io.x", "tms", source.clone(), BinaryMode::Bytes);
        assert_eq!(m.topic, "tms.message");
        assert!(m.key_schema.is_named("io.x.MessageKey") && !m.key_schema.optional);
        assert!(m.key_schema.fields[0].schema.optional);
        assert!(m.value_schema.is_named("io.x.MessageValue"));
        let names: Vec<&str> = m
            .value_schema
            .fields
            .iter()
            .map(|f| f.name.as_str())
            .collect();
        assert_eq!(names, ["op", "ts_ms", "source", "transaction", "message"]);
        assert!(m.block_schema.is_named("io.x.Message") && !m.block_schema.optional);
        assert!(m.block_schema.fields[1].schema.optional);
        let r = m.record(
            "audit",
            b"hi".to_vec(),
            Struct::new(source.clone()),
            None,
            &Partition::new(),
            Offset::new(),
        );
        assert_eq!(r.record.topic, "tms.message");
        assert!(r.record.timestamp.is_none());
        let key = r.record.key.as_struct().unwrap();
        assert_eq!(key.values, vec![Value::String("audit".into())]);
        let v = r.record.value.as_struct().unwrap();
        assert_eq!(v.get("op"), Some(&Value::String("m".into())));
        assert!(v.get("transaction").unwrap().is_null());
        let block = v.get("message").unwrap().as_struct().unwrap();
        assert_eq!(block.get("content"), Some(&Value::Bytes(b"hi".to_vec())));
        // the content follows binary.handling.mode
        let m = MessageEnvelope::new("io.x", "tms", source.clone(), BinaryMode::Base64);
        assert_eq!(m.block_schema.fields[1].schema.type_, crate::Type::String);
        let r = m.record(
            "a",
            vec![0, 0xff],
            Struct::new(source),
            None,
            &Partition::new(),
            Offset::new(),
        );
        let v = r.record.value.as_struct().unwrap();
        let block = v.get("message").unwrap().as_struct().unwrap();
        assert_eq!(block.get("content"), Some(&Value::String("AP8=".into())));
    }
}
