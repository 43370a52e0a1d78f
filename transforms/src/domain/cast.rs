//! Phase 1 of the domain pipeline, `io.velocity.transforms.domain.Cast`:
//! a Debezium change event (`<topic>.Envelope` with `before`, `after`,
//! `source`, `op`) becomes an [`CHANGE_SCHEMA_NAME`] struct:
//!
//! | field | content |
//! |---|---|
//! | `op` | `c`, `u`, `d` or `r` (snapshot read), as in the envelope |
//! | `tx_id` | `source.txId`, else `transaction.id` (MySQL/MariaDB with `provide.transaction.metadata=true`), else `source.gtid` (MySQL with GTIDs), as text; null outside transactions |
//! | `table` | `source.schema` + `.` + `source.table` (just `source.table` without a schema) |
//! | `ts_ms` | `source.ts_ms` |
//! | `key` | the record key when it is a struct |
//! | `row` | the typed flat row: `after`, or `before` for deletes |
//! | `before` | the typed `before` image of an update, when the source has one |
//!
//! "Typed" (with `logical.types=text`, the default): Kafka Connect and
//! Debezium logical types whose wire form is not readable are converted to
//! text — `Decimal` and `VariableScaleDecimal` to their exact decimal
//! string, `Date`/`io.debezium.time.Date` to `YYYY-MM-DD`, `Timestamp`,
//! `io.debezium.time.Timestamp`/`MicroTimestamp`/`NanoTimestamp` to
//! ISO-8601 UTC (`2024-05-01T12:00:00.123456Z`); everything else keeps its
//! type. `logical.types=keep` leaves the row as Debezium sends it.
//!
//! Key, topic, partition, timestamp and headers are kept. Records that are
//! not change events (tombstones, heartbeats, transaction metadata,
//! truncates) are dropped, or passed unchanged with
//! `non.change.records=pass`. Stateless and deterministic.

use std::sync::Arc;

use velocity_api::config::{ConfigReader, TypedConfig};
use velocity_api::{
    config_choice, ConfigDef, ConfigKey, ConnectRecord, RawConfig, Result, Schema, SchemaRef,
    Struct, Transform, Type, Value,
};

use super::CHANGE_SCHEMA_NAME;
use crate::debezium::is_envelope;
use crate::error::read_config;
use crate::time::civil_from_days;

pub use keys::*;

/// The keys of the domain cast, each declared once.
pub mod keys {
    use super::{LogicalTypes, NonChangeRecords};
    use velocity_api::config::{ConfigKey, ConfigType::*, Importance::*};

    velocity_api::config_keys! {
        /// `logical.types`: `text` (readable text, default) or `keep` (Debezium's encodings).
        LOGICAL_TYPES = ConfigKey::new("logical.types", String, Some("text"), Medium, "text: decimals, dates and timestamps become readable text; keep: the row keeps Debezium's encodings.").one_of(LogicalTypes::NAMES);
        /// `non.change.records`: `drop` (default) or `pass` records that are not change events.
        NON_CHANGE_RECORDS = ConfigKey::new("non.change.records", String, Some("drop"), Medium, "What to do with records that are not change events (tombstones, heartbeats, transaction metadata, truncates): drop or pass (unchanged).").one_of(NonChangeRecords::NAMES);
    }
}

config_choice! {
    /// How decimals, dates and timestamps appear in the row (`logical.types`).
    pub enum LogicalTypes {
        /// Readable text.
        Text = "text",
        /// Debezium's encodings, unchanged.
        Keep = "keep",
    }
}

config_choice! {
    /// What happens to records that are not change events (`non.change.records`).
    pub enum NonChangeRecords {
        /// They are dropped.
        Drop = "drop",
        /// They pass unchanged.
        Pass = "pass",
    }
}

/// The typed configuration of the domain cast.
#[derive(Debug, Clone, Copy)]
pub struct CastConfig {
    logical_types: LogicalTypes,
    non_change_records: NonChangeRecords,
}

impl TypedConfig for CastConfig {
    const KEYS: &'static [ConfigKey] = KEYS;

    fn read(r: &mut ConfigReader<'_>) -> CastConfig {
        CastConfig {
            logical_types: r.choice(&LOGICAL_TYPES),
            non_change_records: r.choice(&NON_CHANGE_RECORDS),
        }
    }
}

/// How a row field is converted.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Conv {
    Keep,
    Decimal(i32),
    VariableDecimal,
    Date,
    /// Units per second of an int64 timestamp (1000, 1_000_000, 1_000_000_000).
    Timestamp(i64),
}

/// A row schema and what it converts to.
struct RowPlan {
    source: SchemaRef,
    target: SchemaRef,
    convs: Vec<Conv>,
}

/// An envelope's value schema and the change schema built for it.
struct ChangePlan {
    envelope: SchemaRef,
    change: SchemaRef,
    row: Arc<RowPlan>,
}

/// `io.velocity.transforms.domain.Cast` (see the module docs).
#[derive(Default)]
pub struct Cast {
    keep_logical: bool,
    pass_others: bool,
    plans: Vec<ChangePlan>,
}

/// Most envelope schemas remembered (one per table, normally).
const MAX_PLANS: usize = 256;

impl Cast {
    /// The keys of this transform.
    pub fn def() -> ConfigDef {
        CastConfig::config_def()
    }

    fn plan(&mut self, envelope: &SchemaRef) -> Option<(SchemaRef, Arc<RowPlan>)> {
        if let Some(p) = self
            .plans
            .iter()
            .find(|p| Arc::ptr_eq(&p.envelope, envelope) || p.envelope == *envelope)
        {
            return Some((p.change.clone(), p.row.clone()));
        }
        let row_schema = envelope
            .field_named("after")
            .or_else(|| envelope.field_named("before"))?
            .schema
            .clone();
        if row_schema.type_ != Type::Struct {
            return None;
        }
        let row = Arc::new(row_plan(&row_schema, self.keep_logical));
        let row_target = row.target.clone();
        let change = Schema::struct_()
            .named(CHANGE_SCHEMA_NAME)
            .version(1)
            .field("op", Schema::string())
            .field("tx_id", Schema::string().optional())
            .field("table", Schema::string())
            .field("ts_ms", Schema::int64().optional())
            .field("key", Schema::struct_().optional().build())
            .field("row", row_target.clone())
            .field("before", optional_of(&row_target))
            .build();
        if self.plans.len() >= MAX_PLANS {
            self.plans.remove(0);
        }
        self.plans.push(ChangePlan {
            envelope: envelope.clone(),
            change: change.clone(),
            row: row.clone(),
        });
        Some((change, row))
    }
}

fn optional_of(s: &SchemaRef) -> SchemaRef {
    let mut o = (**s).clone();
    o.optional = true;
    Arc::new(o)
}

fn row_plan(source: &SchemaRef, keep: bool) -> RowPlan {
    let mut target = Schema::struct_();
    target.name = source.name.clone().map(|n| n.replace(".Value", ".Row"));
    let mut convs = Vec::with_capacity(source.fields.len());
    for f in &source.fields {
        let conv = if keep { Conv::Keep } else { conv_of(&f.schema) };
        let schema: SchemaRef = if conv == Conv::Keep {
            f.schema.clone()
        } else {
            Schema::string().with_optional(f.schema.optional).build()
        };
        target = target.field(f.name.clone(), schema);
        convs.push(conv);
    }
    RowPlan {
        source: source.clone(),
        target: target.with_optional(source.optional).build(),
        convs,
    }
}

fn conv_of(s: &Schema) -> Conv {
    match (s.name.as_deref(), s.type_) {
        (Some("org.apache.kafka.connect.data.Decimal"), Type::Bytes) => Conv::Decimal(
            s.parameter("scale")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
        ),
        (Some("io.debezium.data.VariableScaleDecimal"), Type::Struct) => Conv::VariableDecimal,
        (Some("org.apache.kafka.connect.data.Date" | "io.debezium.time.Date"), Type::Int32) => {
            Conv::Date
        }
        (
            Some("org.apache.kafka.connect.data.Timestamp" | "io.debezium.time.Timestamp"),
            Type::Int64,
        ) => Conv::Timestamp(1000),
        (Some("io.debezium.time.MicroTimestamp"), Type::Int64) => Conv::Timestamp(1_000_000),
        (Some("io.debezium.time.NanoTimestamp"), Type::Int64) => Conv::Timestamp(1_000_000_000),
        _ => Conv::Keep,
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction]Z` of `v` units (`per_sec` per second).
pub fn iso_timestamp(v: i64, per_sec: i64) -> String {
    let secs = v.div_euclid(per_sec);
    let frac = v.rem_euclid(per_sec);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    let base = format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        s / 3600,
        s % 3600 / 60,
        s % 60
    );
    if frac == 0 {
        format!("{base}Z")
    } else {
        let width = per_sec.ilog10() as usize;
        format!("{base}.{frac:0width$}Z")
    }
}

fn convert(conv: Conv, v: Value) -> Value {
    match (conv, v) {
        (_, Value::Null) => Value::Null,
        (Conv::Keep, v) => v,
        (Conv::Decimal(scale), Value::Bytes(b)) => {
            Value::String(crate::cast::decimal_parts(&b, scale).1)
        }
        (Conv::VariableDecimal, Value::Struct(s)) => {
            let scale = s.get("scale").and_then(Value::as_i64).unwrap_or(0) as i32;
            match s.get("value") {
                Some(Value::Bytes(b)) => Value::String(crate::cast::decimal_parts(b, scale).1),
                _ => Value::Null,
            }
        }
        (Conv::Date, Value::Int32(days)) => {
            let (y, m, d) = civil_from_days(i64::from(days));
            Value::String(format!("{y:04}-{m:02}-{d:02}"))
        }
        (Conv::Timestamp(per), Value::Int64(t)) => Value::String(iso_timestamp(t, per)),
        (_, other) => other,
    }
}

fn typed_row(plan: &RowPlan, v: Value) -> Value {
    match v {
        Value::Struct(s) if Arc::ptr_eq(&s.schema, &plan.source) || s.schema == plan.source => {
            let values = s
                .values
                .into_iter()
                .zip(&plan.convs)
                .map(|(v, c)| convert(*c, v))
                .collect();
            Value::Struct(Struct {
                schema: plan.target.clone(),
                values,
            })
        }
        _ => Value::Null,
    }
}

fn text_of(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => other.as_i64().map(|i| i.to_string()),
    }
}

impl Transform for Cast {
    fn configure(&mut self, config: &RawConfig) -> Result<()> {
        let c: CastConfig = read_config(config)?;
        self.keep_logical = c.logical_types == LogicalTypes::Keep;
        self.pass_others = c.non_change_records == NonChangeRecords::Pass;
        Ok(())
    }

    fn apply(&mut self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>> {
        let other = |r: ConnectRecord, pass: bool| Ok(pass.then_some(r));
        if !is_envelope(record.value_schema.as_ref()) {
            return other(record, self.pass_others);
        }
        let Some(envelope) = record.value_schema.clone() else {
            return other(record, self.pass_others);
        };
        let Value::Struct(env) = std::mem::replace(&mut record.value, Value::Null) else {
            return other(record, self.pass_others);
        };
        let op = env
            .get("op")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        if !matches!(op.as_str(), "c" | "u" | "d" | "r") {
            record.value = Value::Struct(env);
            return other(record, self.pass_others);
        }
        let Some((change_schema, row)) = self.plan(&envelope) else {
            record.value = Value::Struct(env);
            return other(record, self.pass_others);
        };
        let source = env.get("source").and_then(Value::as_struct);
        let tx_id = text_of(source.and_then(|s| s.get("txId")))
            .or_else(|| {
                text_of(
                    env.get("transaction")
                        .and_then(Value::as_struct)
                        .and_then(|t| t.get("id")),
                )
            })
            .or_else(|| text_of(source.and_then(|s| s.get("gtid"))));
        let table_name = source
            .and_then(|s| s.get("table"))
            .and_then(Value::as_str)
            .unwrap_or("");
        let table = match source.and_then(|s| s.get("schema")).and_then(Value::as_str) {
            Some(schema) if !schema.is_empty() => format!("{schema}.{table_name}"),
            _ => table_name.to_owned(),
        };
        let ts_ms = source.and_then(|s| s.get("ts_ms")).and_then(Value::as_i64);
        let mut values = env.values;
        let take = |name: &str, values: &mut Vec<Value>| {
            env.schema.field_named(name).map_or(Value::Null, |f| {
                std::mem::replace(&mut values[f.index], Value::Null)
            })
        };
        let before = take("before", &mut values);
        let after = take("after", &mut values);
        let (row_v, before_v) = if op == "d" {
            (typed_row(&row, before), Value::Null)
        } else {
            (typed_row(&row, after), typed_row(&row, before))
        };
        let key = match &record.key {
            Value::Struct(_) => record.key.clone(),
            _ => Value::Null,
        };
        let change = Struct {
            schema: change_schema.clone(),
            values: vec![
                Value::String(op),
                tx_id.map_or(Value::Null, Value::String),
                Value::String(table),
                ts_ms.map_or(Value::Null, Value::Int64),
                key,
                row_v,
                before_v,
            ],
        };
        record.value_schema = Some(change_schema);
        record.value = Value::Struct(change);
        Ok(Some(record))
    }

    fn config_def(&self) -> ConfigDef {
        Cast::def()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::domain::{change_of, op_of};
    use crate::testutil::cfg;

    /// A Debezium-like envelope record for table `tms.note` (`id`, `body`,
    /// `weight` Decimal(2), `at` MicroTimestamp).
    pub(crate) fn note_event(
        op: &str,
        tx: Option<i64>,
        before: Option<(i32, &str)>,
        after: Option<(i32, &str)>,
    ) -> ConnectRecord {
        let row_schema = Schema::struct_()
            .named("tms.tms.note.Value")
            .optional()
            .field("id", Schema::int32())
            .field("body", Schema::string().optional())
            .field(
                "weight",
                velocity_api::schema::logical::decimal(2, None).optional(),
            )
            .field(
                "at",
                Schema::int64()
                    .named("io.debezium.time.MicroTimestamp")
                    .optional(),
            )
            .build();
        let source_schema = Schema::struct_()
            .named("io.debezium.connector.postgresql.Source")
            .field("schema", Schema::string())
            .field("table", Schema::string())
            .field("txId", Schema::int64().optional())
            .field("ts_ms", Schema::int64())
            .build();
        let env_schema = Schema::struct_()
            .named("tms.tms.note.Envelope")
            .field("before", row_schema.clone())
            .field("after", row_schema.clone())
            .field("source", source_schema.clone())
            .field("op", Schema::string())
            .build();
        let row = |(id, body): (i32, &str)| {
            Value::Struct(
                Struct::new(row_schema.clone())
                    .put("id", id)
                    .put("body", body)
                    .put("weight", Value::Bytes(vec![0x30, 0x39]))
                    .put("at", Value::Int64(1_714_564_800_123_456)),
            )
        };
        let source = Struct::new(source_schema)
            .put("schema", "tms")
            .put("table", "note")
            .put("txId", tx.map_or(Value::Null, Value::Int64))
            .put("ts_ms", Value::Int64(1_714_564_800_000));
        let env = Struct::new(env_schema.clone())
            .put("before", before.map_or(Value::Null, row))
            .put("after", after.map_or(Value::Null, row))
            .put("source", Value::Struct(source))
            .put("op", op);
        let key_schema = Schema::struct_()
            .named("tms.tms.note.Key")
            .field("id", Schema::int32())
            .build();
        let id = after.or(before).map_or(0, |r| r.0);
        let key = Struct::new(key_schema.clone()).put("id", id);
        ConnectRecord::new(
            "tms.tms.note",
            Some(key_schema),
            Value::Struct(key),
            Some(env_schema),
            Value::Struct(env),
        )
    }

    fn cast() -> Cast {
        let mut c = Cast::default();
        c.configure(&cfg(&[])).unwrap();
        c
    }

    #[test]
    fn update_becomes_a_typed_change() {
        let out = cast()
            .apply(note_event(
                "u",
                Some(77),
                Some((1, "old")),
                Some((1, "new")),
            ))
            .unwrap()
            .unwrap();
        assert_eq!(out.topic, "tms.tms.note");
        let ch = change_of(&out.value).expect("change");
        assert_eq!(op_of(ch), Some("u"));
        assert_eq!(ch.get("tx_id"), Some(&Value::String("77".into())));
        assert_eq!(ch.get("table"), Some(&Value::String("tms.note".into())));
        assert_eq!(ch.get("ts_ms"), Some(&Value::Int64(1_714_564_800_000)));
        let row = ch.get("row").unwrap().as_struct().unwrap();
        assert_eq!(row.get("body"), Some(&Value::String("new".into())));
        assert_eq!(row.get("weight"), Some(&Value::String("123.45".into())));
        assert_eq!(
            row.get("at"),
            Some(&Value::String("2024-05-01T12:00:00.123456Z".into()))
        );
        let before = ch.get("before").unwrap().as_struct().unwrap();
        assert_eq!(before.get("body"), Some(&Value::String("old".into())));
        assert_eq!(ch.get("key"), Some(&out.key));
    }

    #[test]
    fn delete_row_is_the_before_image_and_keep_leaves_encodings() {
        let mut c = Cast::default();
        c.configure(&cfg(&[("logical.types", "keep")])).unwrap();
        let out = c
            .apply(note_event("d", Some(5), Some((2, "gone")), None))
            .unwrap()
            .unwrap();
        let ch = change_of(&out.value).unwrap();
        assert_eq!(op_of(ch), Some("d"));
        let row = ch.get("row").unwrap().as_struct().unwrap();
        assert_eq!(row.get("id"), Some(&Value::Int32(2)));
        assert_eq!(row.get("weight"), Some(&Value::Bytes(vec![0x30, 0x39])));
        assert_eq!(ch.get("before"), Some(&Value::Null));
    }

    #[test]
    fn non_change_records_are_dropped_or_passed() {
        let tomb = ConnectRecord::new("tms.tms.note", None, Value::Int32(1), None, Value::Null);
        assert_eq!(cast().apply(tomb.clone()).unwrap(), None);
        let mut t = note_event("t", Some(5), None, None);
        assert_eq!(cast().apply(t.clone()).unwrap(), None);
        let mut pass = Cast::default();
        pass.configure(&cfg(&[("non.change.records", "pass")]))
            .unwrap();
        assert_eq!(pass.apply(tomb.clone()).unwrap(), Some(tomb));
        t.topic = "x".into();
        assert_eq!(pass.apply(t.clone()).unwrap(), Some(t));
        let mut bad = Cast::default();
        let e = bad
            .configure(&cfg(&[("logical.types", "fancy")]))
            .unwrap_err();
        assert!(
            e.to_string().contains(
                "Invalid value fancy for configuration logical.types: String must be one of: text, keep"
            ),
            "{e}"
        );
    }

    #[test]
    fn iso_timestamps() {
        assert_eq!(iso_timestamp(0, 1000), "1970-01-01T00:00:00Z");
        assert_eq!(iso_timestamp(-1, 1000), "1969-12-31T23:59:59.999Z");
        assert_eq!(
            iso_timestamp(1_714_564_800_000_000_001, 1_000_000_000),
            "2024-05-01T12:00:00.000000001Z"
        );
    }
}
