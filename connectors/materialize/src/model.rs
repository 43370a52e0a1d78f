//! From domain events to row operations, and the collapsing of a batch.
//!
//! **Paths.** A column path is resolved against the event value (a map or
//! struct; `data.shipmentId`, `type`, `tx_id`, `ts_ms`), except that a path
//! starting with `$key` reads the record key (`$key` itself, or
//! `$key.<field>`) and, in `replace` mode, one starting with `item` reads
//! the child row (the array element). A missing field is NULL.
//!
//! **Values** are written as text and converted by the database to the
//! column's type: strings as they are, numbers in decimal, booleans as
//! `true`/`false` (PostgreSQL) or `1`/`0` (MariaDB), maps and arrays as
//! JSON text, NULL as NULL.
//!
//! **Collapsing.** Within a batch only the last operation per (table, key)
//! counts (per (table, parent key) for `replace`), so the batch is a set of
//! idempotent operations: upsert or insert-if-absent of a row, delete of a
//! key, replacement of a parent's child rows. Replaying a batch (at least
//! once) writes the same final rows. Tombstones (null values) are skipped.

use std::collections::HashMap;

use velocity_api::jdbc::Dialect;
use velocity_api::{SinkRecord, Value};

use crate::config::{MaterializeConfig, Mode, TableMapping};
use crate::error::MaterializeError;

/// A cell as text; None is NULL.
pub type Cell = Option<String>;
/// A row: one cell per mapped column.
pub type Row = Vec<Cell>;

/// What one event does to one table.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// Write the row (upsert, or insert-if-absent).
    Write(Row),
    /// Delete the row with this key (key cells in key order).
    Delete(Row),
    /// Delete the parent's rows, then insert these.
    Replace(Row, Vec<Row>),
}

/// The collapsed operations of one table, ready to write.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TablePlan {
    /// Index of the mapping in [`MaterializeConfig::tables`].
    pub table: usize,
    /// Keys to delete (parent keys for `replace`), key cells in key order.
    pub deletes: Vec<Row>,
    /// Rows to write, all columns in mapping order.
    pub writes: Vec<Row>,
}

/// The operations of a batch, last one per (table, key).
#[derive(Debug, Default)]
pub struct Batch {
    ops: HashMap<(usize, Row), usize>,
    order: Vec<Option<(usize, Op)>>,
    records: usize,
}

impl Batch {
    /// Records added since the batch started (for `batch.size`).
    pub fn records(&self) -> usize {
        self.records
    }

    /// True when no operation is pending.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Adds the operations `record` implies for every table it feeds.
    pub fn add(
        &mut self,
        cfg: &MaterializeConfig,
        record: &SinkRecord,
    ) -> Result<(), MaterializeError> {
        self.records += 1;
        for (i, op) in ops_of(cfg, record)? {
            let key = match &op {
                Op::Delete(k) => k.clone(),
                Op::Write(row) | Op::Replace(row, _) => {
                    cfg.tables[i].key.iter().map(|&k| row[k].clone()).collect()
                }
            };
            let slot = self.order.len();
            if let Some(old) = self.ops.insert((i, key), slot) {
                self.order[old] = None;
            }
            self.order.push(Some((i, op)));
        }
        Ok(())
    }

    /// The per-table plans in mapping order (tables without operations
    /// left out); empties the batch.
    pub fn take_plans(&mut self, cfg: &MaterializeConfig) -> Vec<TablePlan> {
        let mut plans: Vec<TablePlan> = (0..cfg.tables.len())
            .map(|table| TablePlan {
                table,
                ..TablePlan::default()
            })
            .collect();
        for (i, op) in self.order.drain(..).flatten() {
            let t = &cfg.tables[i];
            let p = &mut plans[i];
            match op {
                Op::Write(row) => p.writes.push(row),
                Op::Delete(key) => p.deletes.push(key),
                Op::Replace(row, rows) => {
                    p.deletes
                        .push(t.key.iter().map(|&k| row[k].clone()).collect());
                    p.writes.extend(rows);
                }
            }
        }
        self.ops.clear();
        self.records = 0;
        plans
            .into_iter()
            .filter(|p| !p.deletes.is_empty() || !p.writes.is_empty())
            .collect()
    }
}

/// The value under a map or struct field.
fn field<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    match v {
        Value::Map(entries) => entries
            .iter()
            .find(|(k, _)| k.as_str() == Some(name))
            .map(|(_, v)| v),
        Value::Struct(s) => s.get(name),
        _ => None,
    }
}

fn at<'a>(mut v: &'a Value, path: &[String]) -> Option<&'a Value> {
    for p in path {
        v = field(v, p)?;
    }
    Some(v)
}

/// The event type: the envelope's `type`, else the `eventType` header.
pub fn event_type(record: &SinkRecord) -> Option<String> {
    if let Some(Value::String(t)) = field(&record.record.value, "type") {
        return Some(t.clone());
    }
    record
        .record
        .headers
        .iter()
        .rev()
        .find(|h| h.key == "eventType")
        .and_then(|h| match &h.value {
            Value::String(s) => Some(s.clone()),
            Value::Bytes(b) => String::from_utf8(b.clone()).ok(),
            _ => None,
        })
}

/// Resolves a column path for `record` (and the child row `item`).
fn resolve<'a>(
    record: &'a SinkRecord,
    item: Option<&'a Value>,
    path: &[String],
) -> Option<&'a Value> {
    match path.first().map(String::as_str) {
        Some("$key") => at(&record.record.key, &path[1..]),
        Some("item") if item.is_some() => at(item?, &path[1..]),
        _ => at(&record.record.value, path),
    }
}

/// A value as the text the database converts to the column type.
pub fn text(v: &Value, dialect: Dialect) -> Cell {
    Some(match v {
        Value::Null => return None,
        Value::Boolean(b) => match (dialect, b) {
            (Dialect::Postgres, true) => "true".into(),
            (Dialect::Postgres, false) => "false".into(),
            (Dialect::MariaDb, true) => "1".into(),
            (Dialect::MariaDb, false) => "0".into(),
        },
        Value::String(s) => s.clone(),
        Value::Int8(i) => i.to_string(),
        Value::Int16(i) => i.to_string(),
        Value::Int32(i) => i.to_string(),
        Value::Int64(i) => i.to_string(),
        Value::Float32(f) => f.to_string(),
        Value::Float64(f) => f.to_string(),
        Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        other => json(other).to_string(),
    })
}

fn json(v: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Value::Null => J::Null,
        Value::Boolean(b) => J::Bool(*b),
        Value::String(s) => J::String(s.clone()),
        Value::Int8(_) | Value::Int16(_) | Value::Int32(_) | Value::Int64(_) => {
            J::from(v.as_i64().unwrap_or_default())
        }
        Value::Float32(f) => J::from(f64::from(*f)),
        Value::Float64(f) => J::from(*f),
        Value::Bytes(b) => J::String(String::from_utf8_lossy(b).into_owned()),
        Value::Array(a) => J::Array(a.iter().map(json).collect()),
        Value::Map(m) => J::Object(
            m.iter()
                .map(|(k, v)| (text(k, Dialect::Postgres).unwrap_or_default(), json(v)))
                .collect(),
        ),
        Value::Struct(s) => J::Object(
            s.schema
                .fields
                .iter()
                .zip(&s.values)
                .map(|(f, v)| (f.name.clone(), json(v)))
                .collect(),
        ),
    }
}

fn row_of(t: &TableMapping, record: &SinkRecord, item: Option<&Value>, dialect: Dialect) -> Row {
    t.columns
        .iter()
        .map(|c| resolve(record, item, &c.path).and_then(|v| text(v, dialect)))
        .collect()
}

/// The operations `record` implies, per mapping index.
pub fn ops_of(
    cfg: &MaterializeConfig,
    record: &SinkRecord,
) -> Result<Vec<(usize, Op)>, MaterializeError> {
    let r = &record.record;
    if r.value.is_null() {
        return Ok(Vec::new());
    }
    let bad = |message: String| MaterializeError::Record {
        topic: r.topic.clone(),
        partition: r.partition.unwrap_or(-1),
        offset: record.kafka_offset,
        message,
    };
    if !matches!(r.value, Value::Map(_) | Value::Struct(_)) {
        return Err(bad("the value is not a domain event object; materialize domain topics written with value.converter.schemas.enable=false (JSON objects)".into()));
    }
    let ty = event_type(record);
    let dialect = cfg.connection.url.dialect;
    let mut out = Vec::new();
    for (i, t) in cfg.tables.iter().enumerate() {
        if !t.accepts(&r.topic, ty.as_deref()) {
            continue;
        }
        let row = row_of(t, record, None, dialect);
        for &k in &t.key {
            if row[k].is_none() {
                let c = &t.columns[k];
                return Err(bad(format!(
                    "key column {} of materialize.{} ({}) is null or missing at path {}; fix materialize.{}.column.{} or route these events elsewhere with materialize.{}.event.types",
                    c.name, t.alias, t.display_name(), c.path.join("."), t.alias, c.name, t.alias
                )));
            }
        }
        let deleting = t.is_delete(ty.as_deref());
        let op = match t.mode {
            Mode::Replace => {
                let children = if deleting {
                    Vec::new()
                } else {
                    match resolve(record, None, &t.rows) {
                        None | Some(Value::Null) => Vec::new(),
                        Some(Value::Array(items)) => items
                            .iter()
                            .map(|item| row_of(t, record, Some(item), dialect))
                            .collect(),
                        Some(_) => {
                            return Err(bad(format!(
                                "materialize.{}.rows ({}) is not an array",
                                t.alias,
                                t.rows.join(".")
                            )))
                        }
                    }
                };
                Op::Replace(row, children)
            }
            _ if deleting => Op::Delete(t.key.iter().map(|&k| row[k].clone()).collect()),
            _ => Op::Write(row),
        };
        out.push((i, op));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use velocity_api::ConnectRecord;

    fn cfg(pairs: &[(&str, &str)]) -> MaterializeConfig {
        let mut all = vec![
            ("connection.url", "jdbc:postgresql://h/fast"),
            ("connection.username", "u"),
        ];
        all.extend_from_slice(pairs);
        let raw = all
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        <MaterializeConfig as velocity_api::TypedConfig>::from_raw(&raw).unwrap()
    }

    fn s(x: &str) -> Value {
        Value::String(x.into())
    }

    fn map(pairs: Vec<(&str, Value)>) -> Value {
        Value::Map(pairs.into_iter().map(|(k, v)| (s(k), v)).collect())
    }

    fn event(topic: &str, offset: i64, ty: &str, data: Value) -> SinkRecord {
        let mut r = ConnectRecord::new(
            topic,
            None,
            Value::Null,
            None,
            map(vec![("type", s(ty)), ("tx_id", s("7")), ("data", data)]),
        );
        r.partition = Some(0);
        SinkRecord {
            record: r,
            kafka_offset: offset,
        }
    }

    const MAPPING: &[(&str, &str)] = &[
        ("materialize.tables", "shipment,stop,note"),
        ("materialize.shipment.topics", "ships"),
        ("materialize.shipment.columns", "id,status,active,meta"),
        ("materialize.shipment.key", "id"),
        ("materialize.stop.topics", "ships"),
        ("materialize.stop.mode", "replace"),
        ("materialize.stop.columns", "shipment_id,seq,city"),
        ("materialize.stop.column.shipment_id", "data.id"),
        ("materialize.stop.column.seq", "item.seq"),
        ("materialize.stop.column.city", "item.city"),
        ("materialize.stop.parent.key", "shipment_id"),
        ("materialize.stop.rows", "data.stops"),
        ("materialize.note.topics", "notes"),
        ("materialize.note.mode", "insert"),
        ("materialize.note.columns", "id,text,kind"),
        ("materialize.note.column.kind", "type"),
        ("materialize.note.key", "id"),
    ];

    fn ship(offset: i64, ty: &str, id: i64, status: &str, stops: &[(i64, &str)]) -> SinkRecord {
        let stops = Value::Array(
            stops
                .iter()
                .map(|(q, c)| map(vec![("seq", Value::Int64(*q)), ("city", s(c))]))
                .collect(),
        );
        event(
            "ships",
            offset,
            ty,
            map(vec![
                ("id", Value::Int64(id)),
                ("status", s(status)),
                ("active", Value::Boolean(true)),
                ("meta", map(vec![("k", Value::Int32(1))])),
                ("stops", stops),
            ]),
        )
    }

    fn t(x: &str) -> Cell {
        Some(x.to_owned())
    }

    #[test]
    fn one_event_feeds_several_tables_and_the_last_per_key_wins() {
        let c = cfg(MAPPING);
        let mut b = Batch::default();
        b.add(
            &c,
            &ship(1, "ShipmentCreated", 1, "new", &[(1, "Rome"), (2, "Milan")]),
        )
        .unwrap();
        b.add(
            &c,
            &ship(2, "ShipmentUpdated", 1, "planned", &[(1, "Rome")]),
        )
        .unwrap();
        b.add(&c, &ship(3, "ShipmentCreated", 2, "new", &[]))
            .unwrap();
        b.add(&c, &ship(4, "ShipmentDeleted", 2, "new", &[]))
            .unwrap();
        b.add(
            &c,
            &event(
                "notes",
                5,
                "NoteCreated",
                map(vec![("id", Value::Int32(9)), ("text", s("hi"))]),
            ),
        )
        .unwrap();
        assert_eq!(b.records(), 5);
        let plans = b.take_plans(&c);
        assert!(b.is_empty());
        assert_eq!(plans.len(), 3);
        assert_eq!(
            plans[0].writes,
            [vec![t("1"), t("planned"), t("true"), t("{\"k\":1}")]]
        );
        assert_eq!(plans[0].deletes, [vec![t("2")]]);
        // replace: both parents' rows are deleted, only shipment 1's last stops inserted
        assert_eq!(plans[1].deletes, [vec![t("1")], vec![t("2")]]);
        assert_eq!(plans[1].writes, [vec![t("1"), t("1"), t("Rome")]]);
        assert_eq!(plans[2].writes, [vec![t("9"), t("hi"), t("NoteCreated")]]);
    }

    #[test]
    fn a_null_key_names_the_record_and_the_key() {
        let c = cfg(MAPPING);
        let e = ops_of(
            &c,
            &event("notes", 42, "NoteCreated", map(vec![("text", s("x"))])),
        )
        .unwrap_err();
        let m = e.to_string();
        assert!(
            m.contains("offset 42") && m.contains("materialize.note.column.id"),
            "{m}"
        );
        let mut not_event = event("notes", 1, "x", Value::Null);
        not_event.record.value = Value::Int32(1);
        assert!(ops_of(&c, &not_event).is_err());
        let mut tomb = not_event.clone();
        tomb.record.value = Value::Null;
        assert!(ops_of(&c, &tomb).unwrap().is_empty());
        assert_eq!(text(&Value::Boolean(true), Dialect::MariaDb), t("1"));
    }
}
