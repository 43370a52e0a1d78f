//! Turning rows into source records, in the two output formats
//! (`velocity.output.format`):
//!
//! - `connect` (default, Confluent's): the value is the row as a struct
//!   named after the table (no name in query mode), the key is null. In
//!   `hash` mode (Velocity's) the key is the primary key struct and a
//!   deleted row is a tombstone (key, null value), so compacted topics and
//!   upserting sinks see deletes.
//! - `debezium`: Debezium change events built with the shared Debezium layer
//!   [`velocity_api::debezium`]: key = primary key struct `<topic>.Key`
//!   (null without a key), value = `<topic>.Envelope` with `before`,
//!   `after`, `source` (`io.velocity.connector.jdbc.Source`: `db`,
//!   `schema`, `table`, `ts_ms`…), `op` and `ts_ms`; a delete is followed
//!   by a tombstone, as Debezium's `tombstones.on.delete=true`. The `op`
//!   rule per mode:
//!   - `bulk`: `r` for every row of every poll;
//!   - `incrementing`: `c` (only new rows are ever read);
//!   - `timestamp+incrementing`: `c` when the incrementing value is above
//!     every value seen before (kept in the offset as
//!     `velocity.max.incrementing`), else `u`;
//!   - `timestamp`: `u` (a new row cannot be told from a changed one);
//!   - `hash`: exactly `c`, `u` (with `before`) and `d` (with `before`).
//!
//! Topics are `topic.prefix` + table name, or `topic.prefix` itself for
//! the custom query (Confluent's naming).

use std::sync::{Arc, OnceLock};

use velocity_api::debezium::{self, Change, SourceBlock, SourceCommon, SourceTime};
use velocity_api::{
    ConnectRecord, Offset, Partition, Schema, SchemaRef, SourceRecord, Struct, Value,
};

use crate::config::OutputFormat;
use crate::model::{Shape, Target};

/// `io.velocity.connector.jdbc.Source`, the `source` block of
/// Debezium-format events: Debezium's common fields
/// ([`debezium::source_schema_base`]; `snapshot` is `true` in bulk mode)
/// and `schema`, `table` (null for the custom query) and `mode`.
pub fn source_schema() -> SchemaRef {
    static S: OnceLock<SchemaRef> = OnceLock::new();
    S.get_or_init(|| {
        debezium::source_schema_base("io.velocity.connector.jdbc.Source", "true,false")
            .field("schema", Schema::string().optional())
            .field("table", Schema::string().optional())
            .field("mode", Schema::string())
            .build()
    })
    .clone()
}

/// Confluent's source partition: `{"protocol":"1","table":"<fqn>"}` for a
/// table, `{"query":"query"}` for the custom query.
pub fn partition_of(target: &Target) -> Partition {
    let mut p = Partition::new();
    match target {
        Target::Table(t) => {
            p.insert("protocol".into(), "1".into());
            p.insert("table".into(), t.fqn().into());
        }
        Target::Query(_) => {
            p.insert("query".into(), "query".into());
        }
    }
    p
}

/// The operation a row stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `r`: read by a bulk poll.
    Read,
    /// `c`.
    Create,
    /// `u`.
    Update,
    /// `d`.
    Delete,
}

impl Op {
    fn code(self) -> &'static str {
        match self {
            Op::Read => "r",
            Op::Create => "c",
            Op::Update => "u",
            Op::Delete => "d",
        }
    }
}

/// The schemas and fixed parts of one target's records.
#[derive(Debug, Clone)]
pub struct Output {
    format: OutputFormat,
    /// The topic.
    pub topic: String,
    /// The source partition.
    pub partition: Partition,
    row_schema: SchemaRef,
    key_schema: Option<SchemaRef>,
    envelope_schema: Option<SchemaRef>,
    /// Key records in `connect` format (hash mode).
    connect_keys: bool,
    source: (String, String, Option<String>, Option<String>, &'static str),
}

impl Output {
    /// The output of `shape` read from database `db` in `mode` (its
    /// configuration name); `name` is the connector's logical name
    /// (`topic.prefix`).
    pub fn new(
        shape: &Shape,
        format: OutputFormat,
        prefix: &str,
        db: &str,
        mode: crate::config::Mode,
    ) -> Output {
        let (topic, schema, table) = match &shape.target {
            Target::Table(t) => (
                format!("{prefix}{}", t.name),
                t.schema.clone(),
                Some(t.name.clone()),
            ),
            Target::Query(_) => (prefix.to_owned(), None, None),
        };
        let fields = || {
            shape
                .columns
                .iter()
                .map(|c| (c.name.clone(), Arc::new(c.kind.schema(c.optional))))
        };
        let key_fields = || {
            shape.pk.iter().map(|&i| {
                let c = &shape.columns[i];
                (c.name.clone(), Arc::new(c.kind.schema(false)))
            })
        };
        let (row_schema, envelope_schema) = match format {
            OutputFormat::Connect => {
                let mut s = Schema::struct_();
                if let Some(t) = &table {
                    s = s.named(t.clone());
                }
                (fields().fold(s, |s, (n, f)| s.field(n, f)).build(), None)
            }
            OutputFormat::Debezium => {
                let v = debezium::value_schema(&topic, fields());
                let e = debezium::envelope_schema(&topic, &v, source_schema());
                (v, Some(e))
            }
        };
        Output {
            format,
            key_schema: debezium::key_schema(&topic, key_fields()),
            partition: partition_of(&shape.target),
            row_schema,
            envelope_schema,
            connect_keys: mode == crate::config::Mode::Hash,
            source: (prefix.to_owned(), db.to_owned(), schema, table, mode.name()),
            topic,
        }
    }

    /// The row struct of `values` (text forms in column order); the error
    /// names the column that could not be read.
    pub fn row(&self, shape: &Shape, values: &[Option<String>]) -> Result<Struct, String> {
        let values = shape
            .columns
            .iter()
            .zip(values)
            .map(|(c, v)| match v {
                None => Ok(Value::Null),
                Some(t) => c
                    .kind
                    .decode(t)
                    .map_err(|e| format!("column {}: {e}", c.name)),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Struct {
            schema: self.row_schema.clone(),
            values,
        })
    }

    fn key_of(&self, shape: &Shape, row: &Struct) -> Value {
        match &self.key_schema {
            Some(ks) => Value::Struct(Struct {
                schema: ks.clone(),
                values: shape.pk.iter().map(|&i| row.values[i].clone()).collect(),
            }),
            None => Value::Null,
        }
    }

    fn source_block(&self, (ms, us, ns): (i64, i64, i64)) -> Struct {
        let (name, db, schema, table, mode) = &self.source;
        let common = SourceCommon {
            connector: "jdbc",
            name,
            time: SourceTime { ms, us, ns },
            snapshot: if *mode == "bulk" { "true" } else { "false" },
            db,
            sequence: None,
        };
        SourceBlock::new(&source_schema(), common)
            .field("schema", schema.clone())
            .field("table", table.clone())
            .field("mode", *mode)
            .build()
    }

    /// Appends the records of one change to `out`: `after` for reads,
    /// creates and updates, `before` for updates (when known) and deletes.
    /// Every record gets `offset` (a delete's tombstone too).
    pub fn emit(
        &self,
        shape: &Shape,
        op: Op,
        before: Option<Struct>,
        after: Option<Struct>,
        offset: &Offset,
        out: &mut Vec<SourceRecord>,
    ) {
        let Some(keyed) = after.as_ref().or(before.as_ref()) else {
            return;
        };
        let key = self.key_of(shape, keyed);
        let record = |key_schema: Option<SchemaRef>,
                      key: Value,
                      value_schema: Option<SchemaRef>,
                      value: Value,
                      ts: i64| {
            let mut r =
                ConnectRecord::new(self.topic.clone(), key_schema, key, value_schema, value);
            r.timestamp = Some(ts);
            SourceRecord {
                source_partition: self.partition.clone(),
                source_offset: offset.clone(),
                record: r,
            }
        };
        let now = debezium::now();
        match (self.format, &self.envelope_schema) {
            (OutputFormat::Debezium, Some(env)) => {
                let (value, ts) = Change {
                    op: op.code(),
                    before,
                    after,
                    source: self.source_block(now),
                    transaction: None,
                }
                .envelope(env);
                out.push(record(
                    self.key_schema.clone(),
                    key.clone(),
                    Some(env.clone()),
                    value,
                    ts,
                ));
                if op == Op::Delete {
                    out.push(record(self.key_schema.clone(), key, None, Value::Null, ts));
                }
            }
            _ => {
                let (ks, key) = if self.connect_keys {
                    (self.key_schema.clone(), key)
                } else {
                    (None, Value::Null)
                };
                match (op, after) {
                    (Op::Delete, _) | (_, None) => {
                        out.push(record(ks, key, None, Value::Null, now.0))
                    }
                    (_, Some(row)) => out.push(record(
                        ks,
                        key,
                        Some(self.row_schema.clone()),
                        Value::Struct(row),
                        now.0,
                    )),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Mode;
    use crate::model::{Column, Kind, TableRef};

    fn shape() -> Shape {
        Shape {
            target: Target::Table(TableRef {
                db: "d".into(),
                schema: Some("s".into()),
                name: "t".into(),
            }),
            columns: vec![
                Column {
                    name: "id".into(),
                    kind: Kind::Int32,
                    optional: false,
                },
                Column {
                    name: "name".into(),
                    kind: Kind::Text,
                    optional: true,
                },
            ],
            pk: vec![0],
        }
    }

    #[test]
    fn confluent_partition_and_plain_rows() {
        let sh = shape();
        let o = Output::new(&sh, OutputFormat::Connect, "jdbc-", "d", Mode::Incrementing);
        assert_eq!(
            serde_json::Value::Object(o.partition.clone()).to_string(),
            r#"{"protocol":"1","table":"d.s.t"}"#
        );
        assert_eq!(o.topic, "jdbc-t");
        let row = o.row(&sh, &[Some("1".into()), None]).unwrap();
        let mut out = Vec::new();
        o.emit(&sh, Op::Create, None, Some(row), &Offset::new(), &mut out);
        assert_eq!(out.len(), 1);
        let r = &out[0].record;
        assert!(r.key.is_null() && r.key_schema.is_none());
        assert!(r.value_schema.as_ref().unwrap().is_named("t"));
        assert!(o
            .row(&sh, &[Some("x".into()), None])
            .unwrap_err()
            .contains("column id"));
    }

    #[test]
    fn debezium_delete_has_before_key_and_tombstone() {
        let sh = shape();
        let o = Output::new(&sh, OutputFormat::Debezium, "p.", "d", Mode::Hash);
        let before = o.row(&sh, &[Some("7".into()), Some("x".into())]).unwrap();
        let mut out = Vec::new();
        o.emit(
            &sh,
            Op::Delete,
            Some(before),
            None,
            &Offset::new(),
            &mut out,
        );
        assert_eq!(out.len(), 2);
        let env = out[0].record.value.as_struct().unwrap();
        assert_eq!(env.get("op"), Some(&Value::String("d".into())));
        assert!(env.get("after").unwrap().is_null());
        let src = env.get("source").unwrap().as_struct().unwrap();
        assert_eq!(src.get("table"), Some(&Value::String("t".into())));
        assert_eq!(src.get("schema"), Some(&Value::String("s".into())));
        let key = out[0].record.key.as_struct().unwrap();
        assert_eq!(key.get("id"), Some(&Value::Int32(7)));
        assert!(out[0]
            .record
            .value_schema
            .as_ref()
            .unwrap()
            .is_named("p.t.Envelope"));
        assert!(out[1].record.is_tombstone());
    }

    #[test]
    fn hash_connect_format_keys_and_tombstones() {
        let sh = shape();
        let o = Output::new(&sh, OutputFormat::Connect, "p.", "d", Mode::Hash);
        let before = o.row(&sh, &[Some("7".into()), None]).unwrap();
        let mut out = Vec::new();
        o.emit(
            &sh,
            Op::Delete,
            Some(before),
            None,
            &Offset::new(),
            &mut out,
        );
        assert_eq!(out.len(), 1);
        assert!(out[0].record.is_tombstone() && !out[0].record.key.is_null());
    }
}
