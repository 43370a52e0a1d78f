//! Debezium's heartbeat records (`heartbeat.interval.ms`): on the topic
//! `<topic.heartbeat.prefix>.<topic.prefix>`, key
//! `io.debezium.connector.common.ServerNameKey {serverName}`, value
//! `io.debezium.connector.common.Heartbeat {ts_ms}`.
//!
//! Contract: a heartbeat record carries the source position the connector
//! has reached (so that committing it advances the stored offset on an idle
//! database) and no Kafka timestamp of its own.

use std::sync::OnceLock;

use crate::record::{ConnectRecord, Offset, Partition, SourceRecord};
use crate::schema::{Schema, SchemaRef};
use crate::value::{Struct, Value};

/// The key schema `io.debezium.connector.common.ServerNameKey` and the
/// value schema `io.debezium.connector.common.Heartbeat`, built once.
pub fn schemas() -> &'static (SchemaRef, SchemaRef) {
    static S: OnceLock<(SchemaRef, SchemaRef)> = OnceLock::new();
    S.get_or_init(|| {
        let key = Schema::struct_()
            .named("io.debezium.connector.common.ServerNameKey")
            .field("serverName", Schema::string());
        let value = Schema::struct_()
            .named("io.debezium.connector.common.Heartbeat")
            .field("ts_ms", Schema::int64());
        (key.build(), value.build())
    })
}

/// The heartbeat of the connector named `server_name` (`topic.prefix`) on
/// `<topic_prefix>.<server_name>`, stamped `ts_ms`, at `offset` of
/// `partition`.
pub fn record(
    topic_prefix: &str,
    server_name: &str,
    ts_ms: i64,
    partition: &Partition,
    offset: Offset,
) -> SourceRecord {
    let (key_schema, value_schema) = schemas();
    let key = Struct {
        schema: key_schema.clone(),
        values: vec![Value::String(server_name.to_owned())],
    };
    let value = Struct {
        schema: value_schema.clone(),
        values: vec![Value::Int64(ts_ms)],
    };
    SourceRecord {
        source_partition: partition.clone(),
        source_offset: offset,
        record: ConnectRecord::new(
            format!("{topic_prefix}.{server_name}"),
            Some(key_schema.clone()),
            Value::Struct(key),
            Some(value_schema.clone()),
            Value::Struct(value),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heartbeat_topic_key_and_value() {
        let r = record(
            "__debezium-heartbeat",
            "p",
            7,
            &Partition::new(),
            Offset::new(),
        );
        assert_eq!(r.record.topic, "__debezium-heartbeat.p");
        assert!(r.record.timestamp.is_none());
        let k = r.record.key.as_struct().unwrap();
        assert_eq!(k.get("serverName"), Some(&Value::String("p".into())));
        let v = r.record.value.as_struct().unwrap();
        assert_eq!(v.get("ts_ms"), Some(&Value::Int64(7)));
        assert!(v.schema.is_named("io.debezium.connector.common.Heartbeat"));
    }
}
