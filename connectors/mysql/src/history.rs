//! The schema history (`schema.history.internal.kafka.*`): every DDL the
//! connector sees, with the binlog position it was read at, in Debezium's
//! history record format, on a one-partition topic with infinite retention.
//!
//! Contracts:
//! - Record format (Debezium's `HistoryRecord`): value = JSON object
//!   `{source: {server}, position: <offset keys>, ts_ms, databaseName,
//!   schemaName?, ddl, tableChanges: [...]}`, key = null, partition 0.
//! - Writes are synchronous: [`KafkaHistory::record`] returns only when the
//!   broker acknowledged the record, so a DDL is in the history before any
//!   offset past it can be stored.
//! - Replay ([`replay_filter`]): records are applied in topic order, those
//!   whose position is at or before the stored offset ([`position_le`]).
//! - The topic is created when absent (1 partition, `cleanup.policy=delete`,
//!   `retention.ms=-1`, `retention.bytes=-1`): brokers such as tansu do not
//!   auto-create topics.
//! - All Kafka I/O goes through the shared helper `velocity-kafka-log`
//!   (acknowledged writes; a read-to-end that does not trust the broker's
//!   reported end offset).

use std::time::Duration;

use rdkafka::ClientConfig;
use serde_json::{json, Value as Json};
use velocity_api::Offset;
use velocity_kafka_log::{ensure_topic, KafkaLog, KafkaLogError, TopicSpec};

use crate::binlog::Position;
use crate::catalog::{Column, Table};
use crate::ddl::{is_text_type, ChangeKind, TableChange};
use crate::error::MySqlError;

/// Debezium's message when offsets exist but the history does not.
pub const MISSING_HISTORY: &str = "The db history topic is missing. You may attempt to recover it by reconfiguring the connector to recovery";

/// One history record.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryRecord {
    /// `source.server`: the topic prefix.
    pub server: String,
    /// The offset keys of the position the DDL was read at.
    pub position: Offset,
    /// When it was recorded.
    pub ts_ms: i64,
    /// The database the statement applies to (its session database).
    pub database: String,
    /// The statement.
    pub ddl: String,
    /// Debezium's `tableChanges` (JSON).
    pub table_changes: Vec<Json>,
}

impl HistoryRecord {
    /// The JSON document stored on the topic.
    pub fn to_json(&self) -> Json {
        json!({
            "source": {"server": self.server},
            "position": Json::Object(self.position.clone()),
            "ts_ms": self.ts_ms,
            "databaseName": self.database,
            "ddl": self.ddl,
            "tableChanges": self.table_changes,
        })
    }

    /// Parses a stored document; None when it is not a history record.
    pub fn from_json(v: &Json) -> Option<HistoryRecord> {
        Some(HistoryRecord {
            server: v["source"]["server"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            position: v.get("position")?.as_object()?.clone(),
            ts_ms: v["ts_ms"].as_i64().unwrap_or(0),
            database: v["databaseName"].as_str().unwrap_or_default().to_owned(),
            ddl: v.get("ddl")?.as_str()?.to_owned(),
            table_changes: v["tableChanges"].as_array().cloned().unwrap_or_default(),
        })
    }
}

/// The numeric suffix of a binlog file name (`mariadb-bin.000012` → 12).
fn file_index(f: &str) -> u64 {
    f.rsplit('.')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// True when position `a` is at or before `b` in the binlog: by file
/// index, then transaction start `pos`, then completed `event` count.
pub fn position_le(a: &Position, b: &Position) -> bool {
    (file_index(&a.file), a.pos, a.event) <= (file_index(&b.file), b.pos, b.event)
}

/// The records to replay to rebuild the schema current at `upto`, in topic order.
pub fn replay_filter<'a>(records: &'a [HistoryRecord], upto: &Position) -> Vec<&'a HistoryRecord> {
    records
        .iter()
        .filter(|r| Position::from_offset(&r.position).is_some_and(|p| position_le(&p, upto)))
        .collect()
}

/// `java.sql.Types` code Debezium's MySQL DDL parser assigns.
pub fn jdbc_type(dt: &str, length: Option<u32>) -> i32 {
    match dt {
        "bit" if length.unwrap_or(1) == 1 => -7,
        "bit" => -7,
        "tinyint" => -6,
        "smallint" => 5,
        "mediumint" | "int" | "year" => 4,
        "bigint" => -5,
        "float" => 7,
        "double" => 8,
        "decimal" => 3,
        "char" | "enum" | "set" => 1,
        "varchar" | "tinytext" | "text" | "mediumtext" | "longtext" => 12,
        "binary" => -2,
        "varbinary" => -3,
        "tinyblob" | "blob" | "mediumblob" | "longblob" => 2004,
        "date" => 91,
        "time" => 92,
        "datetime" => 93,
        "timestamp" => 2014,
        "bool" | "boolean" => 16,
        _ => 1111,
    }
}

fn column_json(c: &Column, position: usize) -> Json {
    let base = c.data_type.to_ascii_uppercase();
    let type_name = if c.unsigned() {
        format!("{base} UNSIGNED")
    } else {
        base
    };
    let (length, scale) = match c.data_type.as_str() {
        "decimal" => (c.precision, c.scale),
        "bit" => (c.precision, None),
        "time" | "datetime" | "timestamp" => ((c.fsp > 0).then_some(c.fsp), None),
        "float" | "double" => (c.precision, c.scale),
        _ => (c.length, None),
    };
    let labels = c.labels();
    let mut o = json!({
        "name": c.name,
        "jdbcType": jdbc_type(&c.data_type, c.precision),
        "typeName": type_name,
        "typeExpression": type_name,
        "charsetName": if is_text_type(&c.data_type) { json!(c.charset) } else { Json::Null },
        "position": position,
        "optional": c.nullable,
        "autoIncremented": c.auto_increment,
        "generated": c.auto_increment || c.generated,
        "comment": c.comment,
        "hasDefaultValue": c.default.is_some(),
        "enumValues": if matches!(c.data_type.as_str(), "enum" | "set") { json!(labels) } else { json!([]) },
    });
    if let Some(l) = length {
        o["length"] = json!(l);
    }
    if let Some(s) = scale {
        o["scale"] = json!(s);
    }
    if let Some(d) = &c.default {
        o["defaultValueExpression"] = json!(d);
    }
    o
}

/// Debezium's `tableChanges` element for one change.
pub fn table_change_json(ch: &TableChange) -> Json {
    table_json(ch.kind, &ch.table)
}

/// The `tableChanges` element of `kind` for `t`.
pub fn table_json(kind: ChangeKind, t: &Table) -> Json {
    json!({
        "type": kind.as_str(),
        "id": format!("\"{}\".\"{}\"", t.db, t.name),
        "table": {
            "defaultCharsetName": t.default_charset,
            "primaryKeyColumnNames": t.primary_key,
            "columns": t.columns.iter().enumerate().map(|(i, c)| column_json(c, i + 1)).collect::<Vec<_>>(),
            "attributes": [],
        },
        "comment": Json::Null,
    })
}

fn log_err(e: KafkaLogError) -> MySqlError {
    MySqlError::History(e.to_string())
}

/// The history topic on a Kafka broker (through the shared Kafka log helper).
pub struct KafkaHistory {
    /// Topic name.
    pub topic: String,
    client: ClientConfig,
    log: KafkaLog,
}

/// What the broker holds for the history topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopicState {
    /// No such topic.
    Missing,
    /// The topic exists but holds no record.
    Empty,
    /// The topic holds records.
    HasRecords,
}

impl KafkaHistory {
    /// Connects a producer (no I/O yet). `producer` and `consumer` are
    /// Debezium's `schema.history.internal.producer.*` /
    /// `schema.history.internal.consumer.*` settings (librdkafka names,
    /// e.g. `security.protocol`, `ssl.ca.location`, `sasl.username`); both
    /// apply to the history topic's one client (producer settings last).
    pub fn new(
        bootstrap: &str,
        topic: &str,
        producer: &[(String, String)],
        consumer: &[(String, String)],
    ) -> Result<KafkaHistory, MySqlError> {
        let mut client = ClientConfig::new();
        client.set("bootstrap.servers", bootstrap);
        for (k, v) in consumer.iter().chain(producer) {
            client.set(k, v);
        }
        let log = KafkaLog::new(&client, topic).map_err(log_err)?;
        Ok(KafkaHistory {
            topic: topic.to_owned(),
            client,
            log,
        })
    }

    /// Whether the topic exists and holds records. A topic the broker
    /// reports empty (ListOffsets) is read once by a reader of its own
    /// before it counts as empty: a broker answering from stale state must
    /// not make a history with records look empty. This history's own
    /// reader is untouched, so [`KafkaHistory::read_all`] still replays
    /// from the start.
    pub async fn state(&self) -> Result<TopicState, MySqlError> {
        match self.log.reported_watermarks().await {
            Err(KafkaLogError::MissingTopic(_)) => Ok(TopicState::Missing),
            Err(e) => Err(log_err(e)),
            Ok(w) if w.iter().any(|(_, low, high)| high > low) => Ok(TopicState::HasRecords),
            Ok(_) => {
                let probe = KafkaHistory {
                    topic: self.topic.clone(),
                    client: self.client.clone(),
                    log: KafkaLog::new(&self.client, &self.topic).map_err(log_err)?,
                };
                if probe.read_all().await?.is_empty() {
                    Ok(TopicState::Empty)
                } else {
                    tracing::warn!(topic = %self.topic, "the broker reported the schema history topic empty, but it holds records");
                    Ok(TopicState::HasRecords)
                }
            }
        }
    }

    /// Creates the topic when absent: one partition, infinite retention.
    pub async fn ensure_topic(&self) -> Result<(), MySqlError> {
        let spec = TopicSpec::new(&self.topic, 1, 1)
            .with("cleanup.policy", "delete")
            .with("retention.ms", "-1")
            .with("retention.bytes", "-1");
        ensure_topic(
            &self.client,
            &spec,
            "create it by hand (1 partition, retention.ms=-1) or check schema.history.internal.kafka.bootstrap.servers",
        )
        .await
        .map_err(log_err)?;
        Ok(())
    }

    /// Reads every record, in topic order.
    pub async fn read_all(&self) -> Result<Vec<HistoryRecord>, MySqlError> {
        let mut out = Vec::new();
        for m in self
            .log
            .read_to_end(Duration::from_secs(120))
            .await
            .map_err(log_err)?
        {
            let Some(payload) = m.value else { continue };
            let v: Json = serde_json::from_slice(&payload).map_err(|e| {
                MySqlError::History(format!("schema history record at offset {}: {e}", m.offset))
            })?;
            if let Some(r) = HistoryRecord::from_json(&v) {
                out.push(r);
            }
        }
        Ok(out)
    }

    /// Appends one record and waits for the broker's acknowledgement.
    pub async fn record(&self, r: &HistoryRecord) -> Result<(), MySqlError> {
        let payload = r.to_json().to_string();
        self.log
            .send(Some(0), None, Some(payload.as_bytes()))
            .await
            .map_err(log_err)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ddl::Tables;

    fn pos(file: &str, p: u64, event: u64) -> Position {
        Position {
            file: file.into(),
            pos: p,
            event,
            ..Position::default()
        }
    }

    #[test]
    fn positions_order_by_file_pos_event() {
        assert!(position_le(
            &pos("b.000002", 900, 0),
            &pos("b.000010", 4, 0)
        ));
        assert!(!position_le(
            &pos("b.000010", 4, 0),
            &pos("b.000002", 900, 0)
        ));
        assert!(position_le(
            &pos("b.000002", 900, 1),
            &pos("b.000002", 900, 1)
        ));
        assert!(!position_le(
            &pos("b.000002", 900, 1),
            &pos("b.000002", 900, 0)
        ));
    }

    #[test]
    fn replay_stops_at_the_offset() {
        let rec = |p: Position, ddl: &str| HistoryRecord {
            server: "s".into(),
            position: p.to_offset(),
            ts_ms: 0,
            database: "db".into(),
            ddl: ddl.into(),
            table_changes: vec![],
        };
        let snap = Position {
            snapshot: true,
            ..pos("b.000001", 400, 0)
        };
        let records = vec![
            rec(snap.clone(), "CREATE TABLE a (id INT)"),
            rec(pos("b.000001", 900, 1), "ALTER TABLE a ADD c INT"),
        ];
        // offset between the two: only the CREATE
        let upto = pos("b.000001", 600, 1);
        let r = replay_filter(&records, &upto);
        assert_eq!(r.len(), 1);
        let mut m = Tables::new(true);
        for h in r {
            m.apply(&h.database, &h.ddl);
        }
        assert_eq!(m.get("db", "a").unwrap().columns.len(), 1);
        // offset at the snapshot itself includes the snapshot's DDL
        assert_eq!(replay_filter(&records, &snap).len(), 1);
        // after the ALTER: both
        assert_eq!(replay_filter(&records, &pos("b.000002", 4, 0)).len(), 2);
    }

    #[test]
    fn record_json_round_trip_in_debezium_shape() {
        let mut m = Tables::new(true);
        let o = m.apply("inventory", "CREATE TABLE customers (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, email VARCHAR(255) NOT NULL DEFAULT 'x', price DECIMAL(8,2))");
        let r = HistoryRecord {
            server: "dbserver1".into(),
            position: pos("mysql-bin.000003", 849, 1).to_offset(),
            ts_ms: 1,
            database: "inventory".into(),
            ddl: "CREATE TABLE customers (…)".into(),
            table_changes: o.changes.iter().map(table_change_json).collect(),
        };
        let j = r.to_json();
        assert_eq!(j["source"]["server"], "dbserver1");
        assert_eq!(j["position"]["file"], "mysql-bin.000003");
        assert_eq!(j["databaseName"], "inventory");
        let tc = &j["tableChanges"][0];
        assert_eq!(tc["type"], "CREATE");
        assert_eq!(tc["id"], "\"inventory\".\"customers\"");
        assert_eq!(tc["table"]["primaryKeyColumnNames"], json!(["id"]));
        let cols = tc["table"]["columns"].as_array().unwrap();
        assert_eq!(cols[0]["jdbcType"], 4);
        assert_eq!(cols[0]["typeName"], "INT");
        assert_eq!(cols[0]["autoIncremented"], true);
        assert_eq!(cols[0]["optional"], false);
        assert_eq!(cols[1]["length"], 255);
        assert_eq!(cols[1]["defaultValueExpression"], "x");
        assert_eq!(cols[2]["scale"], 2);
        assert_eq!(cols[2]["position"], 3);
        assert_eq!(HistoryRecord::from_json(&j).unwrap(), r);
    }
}
