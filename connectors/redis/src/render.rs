//! From a sink record to the Redis command it asks for: the key from
//! `redis.key.template`, the value as compact JSON or as hash fields, and
//! the Debezium envelope rules (`c`/`r`/`u` write `after`, `d` and
//! tombstones delete, `t`/`m` are skipped; flat records are written as is).
//!
//! Logical types are rendered as readable text rather than their wire form:
//! Decimal and VariableScaleDecimal as decimal strings (`"12.500"`), Date as
//! `YYYY-MM-DD`, Time/MicroTime as `HH:MM:SS.ffffff`, Timestamp and
//! MicroTimestamp as `YYYY-MM-DDTHH:MM:SS.ffffff`, bytes as hex. Strings
//! (ZonedTimestamp, Json, Uuid, Enum) stay strings.

use velocity_api::schema::logical;
use velocity_api::text::{self, decimal_plain};
use velocity_api::{ConnectRecord, Schema, SinkRecord, Value};

use crate::config::{Mode, RedisSinkConfig, ValueFormat};
use crate::error::RedisSinkError;

/// One Redis write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `SET key value`.
    Set {
        /// Redis key.
        key: String,
        /// Compact JSON.
        value: String,
    },
    /// `DEL key` then `HSET key f v …` (so fields that became null disappear).
    Hash {
        /// Redis key.
        key: String,
        /// Field name and text value, nulls omitted, in schema order.
        fields: Vec<(String, String)>,
    },
    /// `DEL key`.
    Del {
        /// Redis key.
        key: String,
    },
    /// `XADD stream * field value`.
    XAdd {
        /// Stream name (the topic).
        stream: String,
        /// Entry field (the record key).
        field: String,
        /// Entry value (the record value as JSON).
        value: String,
    },
}

/// The command `rec` asks for, or None when it is skipped (Debezium
/// truncate and message events, and `kv`-mode records that carry no row).
/// Errors name the record's topic, partition and offset.
pub fn command(rec: &SinkRecord, cfg: &RedisSinkConfig) -> Result<Option<Command>, RedisSinkError> {
    let r = &rec.record;
    let err = |message: String| RedisSinkError::Record {
        topic: r.topic.clone(),
        partition: r.partition.unwrap_or(-1),
        offset: rec.kafka_offset,
        message,
    };
    if cfg.mode == Mode::Stream {
        let field = if r.key.is_null() {
            cfg.null_key.clone()
        } else {
            plain_text(r.key_schema.as_deref(), &r.key)
        };
        let value = if r.value.is_null() {
            cfg.null_value.clone()
        } else {
            to_json(r.value_schema.as_deref(), &r.value)
        };
        return Ok(Some(Command::XAdd {
            stream: r.topic.clone(),
            field,
            value,
        }));
    }
    let row = match envelope_row(r) {
        Row::Write(row) => row,
        Row::Delete => {
            return Ok(Some(Command::Del {
                key: key_of(r, cfg).map_err(err)?,
            }))
        }
        Row::Skip => return Ok(None),
    };
    let key = key_of(r, cfg).map_err(err)?;
    let (schema, value) = row;
    Ok(Some(match cfg.value_format {
        ValueFormat::Json => Command::Set {
            key,
            value: to_json(schema, value),
        },
        ValueFormat::Hash => Command::Hash {
            key,
            fields: hash_fields(schema, value).map_err(err)?,
        },
    }))
}

enum Row<'a> {
    Write((Option<&'a Schema>, &'a Value)),
    Delete,
    Skip,
}

fn field<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    match v {
        Value::Struct(s) => s.get(name),
        Value::Map(m) => m
            .iter()
            .find(|(k, _)| k.as_str() == Some(name))
            .map(|(_, v)| v),
        _ => None,
    }
}

fn field_schema<'a>(s: Option<&'a Schema>, name: &str) -> Option<&'a Schema> {
    s.and_then(|s| s.field_named(name))
        .map(|f| f.schema.as_ref())
}

fn is_envelope(schema: Option<&Schema>, v: &Value) -> bool {
    schema
        .and_then(|s| s.name.as_deref())
        .is_some_and(|n| n.ends_with(".Envelope"))
        || (field(v, "op").is_some() && field(v, "after").is_some())
}

/// The row a record writes, or whether it deletes or is skipped.
fn envelope_row(r: &ConnectRecord) -> Row<'_> {
    let schema = r.value_schema.as_deref();
    if r.value.is_null() {
        return Row::Delete;
    }
    if !is_envelope(schema, &r.value) {
        return Row::Write((schema, &r.value));
    }
    let op = field(&r.value, "op").and_then(Value::as_str).unwrap_or("c");
    match op {
        "c" | "r" | "u" => match field(&r.value, "after") {
            Some(after) if !after.is_null() => Row::Write((field_schema(schema, "after"), after)),
            _ => Row::Skip,
        },
        "d" => Row::Delete,
        _ => Row::Skip,
    }
}

/// Renders `redis.key.template` for `r`.
pub fn key_of(r: &ConnectRecord, cfg: &RedisSinkConfig) -> Result<String, String> {
    let t = &cfg.key_template;
    let mut out = String::with_capacity(t.len() + 32);
    let mut rest = t.as_str();
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}').unwrap_or(after.len());
        let name = &after[..end];
        match name {
            "topic" => out.push_str(&r.topic),
            "key" => {
                if r.key.is_null() {
                    return Err(format!("the record has no key for redis.key.template '{t}'; set a key (e.g. with a ValueToKey transform) or use a template without ${{key}}"));
                }
                out.push_str(&plain_text(r.key_schema.as_deref(), &r.key));
            }
            other => {
                let f = other.strip_prefix("key.").unwrap_or(other);
                match field(&r.key, f) {
                    Some(v) if !v.is_null() => out.push_str(&plain_text(
                        field_schema(r.key_schema.as_deref(), f),
                        v,
                    )),
                    _ => {
                        return Err(format!(
                            "the record key has no field '{f}' (or it is null) for redis.key.template '{t}'"
                        ))
                    }
                }
            }
        }
        rest = after.get(end + 1..).unwrap_or_default();
    }
    out.push_str(rest);
    Ok(out)
}

/// A value as text: strings unquoted, numbers and logical types in their
/// readable form, structs/maps/arrays as compact JSON.
pub fn plain_text(schema: Option<&Schema>, v: &Value) -> String {
    if let Some(text) = schema.and_then(|s| logical_text(s, v)) {
        return text;
    }
    match v {
        Value::String(s) => s.clone(),
        Value::Bytes(b) => hex(b),
        other => to_json(schema, other),
    }
}

fn hash_fields(schema: Option<&Schema>, v: &Value) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    match v {
        Value::Struct(s) => {
            for (f, fv) in s.schema.fields.iter().zip(&s.values) {
                if !fv.is_null() {
                    out.push((f.name.clone(), plain_text(Some(&f.schema), fv)));
                }
            }
        }
        Value::Map(m) => {
            for (k, fv) in m {
                if !fv.is_null() {
                    out.push((plain_text(None, k), plain_text(None, fv)));
                }
            }
        }
        other => {
            let _ = schema;
            return Err(format!(
                "redis.value.format=hash needs a struct or map value, got {}",
                to_json(None, other)
            ));
        }
    }
    Ok(out)
}

/// Compact JSON of a Connect value with readable logical types; struct
/// fields keep their schema order, map entries their insertion order.
pub fn to_json(schema: Option<&Schema>, v: &Value) -> String {
    let mut out = String::new();
    write_json(schema, v, &mut out);
    out
}

fn push_str_json(s: &str, out: &mut String) {
    // serde_json escapes exactly as JSON requires
    out.push_str(&serde_json::Value::from(s).to_string());
}

fn write_json(schema: Option<&Schema>, v: &Value, out: &mut String) {
    if v.is_null() {
        out.push_str("null");
        return;
    }
    if let Some(s) = schema {
        if let Some(text) = logical_text(s, v) {
            push_str_json(&text, out);
            return;
        }
    }
    match v {
        Value::Null => out.push_str("null"),
        Value::Boolean(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int8(_) | Value::Int16(_) | Value::Int32(_) | Value::Int64(_) => {
            out.push_str(&v.as_i64().unwrap_or_default().to_string())
        }
        Value::Float32(f) => out.push_str(&serde_json::Value::from(f64::from(*f)).to_string()),
        Value::Float64(f) => out.push_str(&serde_json::Value::from(*f).to_string()),
        Value::String(s) => push_str_json(s, out),
        Value::Bytes(b) => push_str_json(&hex(b), out),
        Value::Array(a) => {
            let elem = schema.and_then(|s| s.value_schema.as_deref());
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(elem, x, out);
            }
            out.push(']');
        }
        Value::Map(m) => {
            let vs = schema.and_then(|s| s.value_schema.as_deref());
            out.push('{');
            for (i, (k, x)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_str_json(&plain_text(None, k), out);
                out.push(':');
                write_json(vs, x, out);
            }
            out.push('}');
        }
        Value::Struct(s) => {
            out.push('{');
            for (i, (f, x)) in s.schema.fields.iter().zip(&s.values).enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_str_json(&f.name, out);
                out.push(':');
                write_json(Some(&f.schema), x, out);
            }
            out.push('}');
        }
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Readable text of a logical-typed value, None when `s` is not one.
fn logical_text(s: &Schema, v: &Value) -> Option<String> {
    let name = s.name.as_deref()?;
    let timestamp = |us: i64| text::timestamp_text(us, 'T');
    match (name, v) {
        (logical::DECIMAL, Value::Bytes(b)) => {
            let scale = s
                .parameter("scale")
                .and_then(|p| p.parse().ok())
                .unwrap_or(0);
            Some(decimal_plain(b, scale))
        }
        (logical::DBZ_VARIABLE_SCALE_DECIMAL, Value::Struct(st)) => {
            let scale = st.get("scale").and_then(Value::as_i64).unwrap_or(0) as i32;
            match st.get("value") {
                Some(Value::Bytes(b)) => Some(decimal_plain(b, scale)),
                _ => None,
            }
        }
        (logical::DATE | logical::DBZ_DATE, v) => text::date_text(v.as_i64()?),
        (logical::TIME | logical::DBZ_TIME, v) => Some(text::time_of_day_text(v.as_i64()? * 1000)),
        (logical::DBZ_MICRO_TIME, v) => Some(text::time_of_day_text(v.as_i64()?)),
        (logical::DBZ_NANO_TIME, v) => Some(text::time_of_day_text(v.as_i64()? / 1000)),
        (logical::TIMESTAMP | logical::DBZ_TIMESTAMP, v) => timestamp(v.as_i64()? * 1000),
        (logical::DBZ_MICRO_TIMESTAMP, v) => timestamp(v.as_i64()?),
        (logical::DBZ_NANO_TIMESTAMP, v) => timestamp(v.as_i64()? / 1000),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use velocity_api::{Struct, Type};

    use super::*;
    use crate::config::{RedisSinkConfig, ADDRESS, KEY_TEMPLATE, MODE, VALUE_FORMAT};
    use velocity_api::{ConfigKey, TypedConfig};

    fn cfg(pairs: &[(ConfigKey, &str)]) -> RedisSinkConfig {
        let mut raw: velocity_api::RawConfig = pairs
            .iter()
            .map(|(k, v)| (k.name.to_string(), v.to_string()))
            .collect();
        raw.insert(ADDRESS.name.into(), "h:1".into());
        RedisSinkConfig::from_raw(&raw).unwrap()
    }

    fn row_schema() -> Arc<Schema> {
        {
            Schema::struct_()
                .named("srv.tms.shipment.Value")
                .field("id", Schema::int64().build())
                .field("reference", Schema::string().optional().build())
                .field(
                    "weight_kg",
                    Schema::bytes()
                        .named(logical::DECIMAL)
                        .param("scale", "3")
                        .optional()
                        .build(),
                )
                .field(
                    "pickup_date",
                    Schema::int32().named(logical::DBZ_DATE).optional().build(),
                )
                .field(
                    "created_at",
                    Schema::int64()
                        .named(logical::DBZ_MICRO_TIMESTAMP)
                        .optional()
                        .build(),
                )
                .build()
        }
    }

    fn key_schema() -> Arc<Schema> {
        Schema::struct_()
            .named("srv.tms.shipment.Key")
            .field("id", Schema::int64())
            .build()
    }

    fn row(id: i64, reference: Option<&str>) -> Value {
        Value::Struct(
            Struct::new(row_schema())
                .put("id", id)
                .put("reference", reference)
                .put("weight_kg", Value::Bytes(vec![0x30, 0xd4])) // 12500 → 12.500
                .put("pickup_date", 19_724) // 2024-01-02
                .put("created_at", 1_706_746_380_000_001_i64),
        )
    }

    fn envelope(op: &str, before: Value, after: Value) -> (Arc<Schema>, Value) {
        let rs = Arc::new(Schema {
            optional: true,
            ..(*row_schema()).clone()
        });
        let s = Schema::struct_()
            .named("srv.tms.shipment.Envelope")
            .field("before", rs.clone())
            .field("after", rs)
            .field("op", Schema::string())
            .build();
        let v = Value::Struct(
            Struct::new(s.clone())
                .put("before", before)
                .put("after", after)
                .put("op", op),
        );
        (s, v)
    }

    fn record(key: Value, value: Option<(Arc<Schema>, Value)>) -> SinkRecord {
        let (vs, v) = value.map_or((None, Value::Null), |(s, v)| (Some(s), v));
        let ks = (!key.is_null()).then(key_schema);
        let mut r = ConnectRecord::new("srv.tms.shipment", ks, key, vs, v);
        r.partition = Some(0);
        SinkRecord {
            record: r,
            kafka_offset: 7,
        }
    }

    fn key(id: i64) -> Value {
        Value::Struct(Struct::new(key_schema()).put("id", id))
    }

    #[test]
    fn envelope_create_sets_after_as_json_under_the_default_key() {
        let rec = record(
            key(5),
            Some(envelope("c", Value::Null, row(5, Some("R-5")))),
        );
        let Some(Command::Set { key, value }) = command(&rec, &cfg(&[])).unwrap() else {
            panic!("not a SET");
        };
        assert_eq!(key, r#"srv.tms.shipment:{"id":5}"#);
        assert_eq!(
            value,
            r#"{"id":5,"reference":"R-5","weight_kg":"12.500","pickup_date":"2024-01-02","created_at":"2024-02-01T00:13:00.000001"}"#
        );
    }

    #[test]
    fn deletes_and_tombstones_del_and_truncates_are_skipped() {
        let c = cfg(&[(KEY_TEMPLATE, "ship:${key.id}")]);
        let del = record(key(5), Some(envelope("d", row(5, None), Value::Null)));
        assert_eq!(
            command(&del, &c).unwrap(),
            Some(Command::Del {
                key: "ship:5".into()
            })
        );
        let tomb = record(key(5), None);
        assert_eq!(
            command(&tomb, &c).unwrap(),
            Some(Command::Del {
                key: "ship:5".into()
            })
        );
        let t = record(Value::Null, Some(envelope("t", Value::Null, Value::Null)));
        assert_eq!(command(&t, &c).unwrap(), None);
    }

    #[test]
    fn flat_records_and_hash_format() {
        let c = cfg(&[(VALUE_FORMAT, "hash"), (KEY_TEMPLATE, "${topic}/${key}")]);
        let rec = record(key(9), Some((row_schema(), row(9, None))));
        let Some(Command::Hash { key, fields }) = command(&rec, &c).unwrap() else {
            panic!("not a hash");
        };
        assert_eq!(key, r#"srv.tms.shipment/{"id":9}"#);
        let names: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["id", "weight_kg", "pickup_date", "created_at"]);
        assert_eq!(fields[1].1, "12.500");
    }

    #[test]
    fn stream_mode_xadds_key_and_whole_value() {
        let c = cfg(&[(MODE, "stream")]);
        let rec = record(key(1), Some(envelope("u", row(1, None), row(1, Some("x")))));
        let Some(Command::XAdd {
            stream,
            field,
            value,
        }) = command(&rec, &c).unwrap()
        else {
            panic!("not XADD");
        };
        assert_eq!(
            (stream.as_str(), field.as_str()),
            ("srv.tms.shipment", r#"{"id":1}"#)
        );
        assert!(value.contains(r#""op":"u""#) && value.contains(r#""reference":"x""#));
        let tomb = record(Value::Null, None);
        assert_eq!(
            command(&tomb, &c).unwrap(),
            Some(Command::XAdd {
                stream: "srv.tms.shipment".into(),
                field: "default".into(),
                value: "default".into()
            })
        );
    }

    #[test]
    fn missing_key_names_the_record() {
        let rec = record(Value::Null, Some((row_schema(), row(1, None))));
        let e = command(&rec, &cfg(&[])).unwrap_err().to_string();
        assert!(
            e.contains("topic srv.tms.shipment partition 0 offset 7"),
            "{e}"
        );
        let e = command(
            &record(key(1), Some((row_schema(), row(1, None)))),
            &cfg(&[(KEY_TEMPLATE, "${key.nope}")]),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("nope"), "{e}");
    }

    #[test]
    fn decimals() {
        assert_eq!(decimal_plain(&[0x30, 0xd4], 3), "12.500");
        assert_eq!(decimal_plain(&[0xff], 2), "-0.01");
        assert_eq!(decimal_plain(&[0x01], -2), "100");
        assert_eq!(decimal_plain(&[], 0), "0");
    }

    #[test]
    fn schemaless_envelope_map() {
        let m = |pairs: Vec<(&str, Value)>| {
            Value::Map(
                pairs
                    .into_iter()
                    .map(|(k, v)| (Value::from(k), v))
                    .collect(),
            )
        };
        let after = m(vec![("id", Value::Int64(3)), ("n", Value::from("a"))]);
        let v = m(vec![("op", Value::from("r")), ("after", after)]);
        let mut r = ConnectRecord::new("t", None, Value::from("k3"), None, v);
        r.partition = Some(0);
        let rec = SinkRecord {
            record: r,
            kafka_offset: 1,
        };
        assert_eq!(
            command(&rec, &cfg(&[])).unwrap(),
            Some(Command::Set {
                key: "t:k3".into(),
                value: r#"{"id":3,"n":"a"}"#.into()
            })
        );
        let _ = Type::Int8;
    }
}
