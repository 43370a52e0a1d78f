//! Kafka's `TimestampConverter$Key` / `$Value`: converts a timestamp between
//! `string` (with `format`, a `SimpleDateFormat` pattern, UTC), `unix`
//! (int64 in `unix.precision`: seconds, milliseconds, microseconds,
//! nanoseconds), and the logical `Date`, `Time` and `Timestamp` types; for
//! the whole key/value or for one `field` of it.

use std::sync::Arc;

use velocity_api::config::{ConfigReader, TypedConfig};
use velocity_api::schema::logical;
use velocity_api::{
    config_choice, ConfigDef, ConfigKey, ConnectRecord, PluginDesc, RawConfig, Result, Schema,
    SchemaRef, Struct, Transform, Type, Value,
};

use crate::error::{data_err, read_config};
use crate::time::{DateFormat, MS_PER_DAY};
use crate::util::{
    copy_schema_basics, field_value, map_key, require_map, require_struct, timestamp_schema,
    SchemaCache, Side,
};

pub use keys::*;

/// The keys of Kafka's TimestampConverter, each declared once.
pub mod keys {
    use super::{Repr, UnixPrecision};
    use velocity_api::config::{ConfigKey, ConfigType::*, Importance::*};

    velocity_api::config_keys! {
        /// `field`: the field holding the timestamp; empty for the whole key/value.
        FIELD = ConfigKey::new("field", String, Some(""), High, "The field containing the timestamp, or empty if the entire value is a timestamp");
        /// `target.type`: the representation to convert to (required).
        TARGET_TYPE = ConfigKey::new("target.type", String, None, High, "The desired timestamp representation: string, unix, Date, Time, or Timestamp").one_of(Repr::NAMES);
        /// `format`: a `SimpleDateFormat` pattern (needed for `target.type=string`).
        FORMAT = ConfigKey::new("format", String, Some(""), Medium, "A SimpleDateFormat-compatible format for the timestamp. Used to generate the output when type=string or used to parse the input if the input is a string.");
        /// `unix.precision`: the unit of `unix` timestamps (default milliseconds).
        UNIX_PRECISION = ConfigKey::new("unix.precision", String, Some("milliseconds"), Low, "The desired Unix precision for the timestamp: seconds, milliseconds, microseconds, or nanoseconds.").one_of(UnixPrecision::NAMES);
        /// `replace.null.with.default` (default true).
        REPLACE_NULL_WITH_DEFAULT = crate::util::REPLACE_NULL_WITH_DEFAULT;
    }
}

config_choice! {
    /// The unit of `unix` timestamps (`unix.precision`).
    pub enum UnixPrecision {
        /// 1e-9 s.
        Nanoseconds = "nanoseconds",
        /// 1e-6 s.
        Microseconds = "microseconds",
        /// 1e-3 s.
        Milliseconds = "milliseconds",
        /// 1 s.
        Seconds = "seconds",
    }
}

impl UnixPrecision {
    /// Units per second.
    pub fn per_second(self) -> i64 {
        match self {
            UnixPrecision::Nanoseconds => 1_000_000_000,
            UnixPrecision::Microseconds => 1_000_000,
            UnixPrecision::Milliseconds => 1000,
            UnixPrecision::Seconds => 1,
        }
    }
}

/// The typed configuration of TimestampConverter: `format` is a valid
/// pattern, given whenever `target.type=string`.
#[derive(Debug, Clone)]
pub struct TimestampConverterConfig {
    field: Option<String>,
    target: Repr,
    format: Option<DateFormat>,
    precision: UnixPrecision,
    replace_null_with_default: bool,
}

impl TypedConfig for TimestampConverterConfig {
    const KEYS: &'static [ConfigKey] = KEYS;

    fn read(r: &mut ConfigReader<'_>) -> TimestampConverterConfig {
        let field = r.opt_string(&FIELD);
        let target = r.choice(&TARGET_TYPE);
        let format = r.opt_string(&FORMAT).and_then(|f| match DateFormat::new(&f) {
            Ok(d) => Some(d),
            Err(e) => {
                r.fail(FORMAT.name, format!("TimestampConverter requires a SimpleDateFormat-compatible pattern for string timestamps: {f}: {e}"));
                None
            }
        });
        if target == Repr::String && format.is_none() {
            r.fail(FORMAT.name, "TimestampConverter requires format option to be specified when using string timestamps");
        }
        TimestampConverterConfig {
            field,
            target,
            format,
            precision: r.choice(&UNIX_PRECISION),
            replace_null_with_default: r.bool(&REPLACE_NULL_WITH_DEFAULT),
        }
    }
}

config_choice! {
    /// A timestamp representation (`target.type`).
    pub enum Repr {
        /// A formatted string.
        String = "string",
        /// int64 since the epoch in the configured precision.
        Unix = "unix",
        /// Kafka Date (int32 days).
        Date = "Date",
        /// Kafka Time (int32 ms of day).
        Time = "Time",
        /// Kafka Timestamp (int64 ms).
        Timestamp = "Timestamp",
    }
}

/// `org.apache.kafka.connect.transforms.TimestampConverter$Key` / `$Value`.
pub struct TimestampConverter {
    side: Side,
    field: Option<String>,
    target: Repr,
    format: Option<DateFormat>,
    precision: i64, // units per second
    replace_null_with_default: bool,
    cache: SchemaCache,
}

impl TimestampConverter {
    /// An unconfigured transform for `side`.
    pub fn new(side: Side) -> TimestampConverter {
        TimestampConverter {
            side,
            field: None,
            target: Repr::Timestamp,
            format: None,
            precision: 1000,
            replace_null_with_default: true,
            cache: SchemaCache::default(),
        }
    }

    /// The keys Kafka's TimestampConverter defines.
    pub fn def() -> ConfigDef {
        TimestampConverterConfig::config_def()
    }

    fn schema_repr(s: &Schema) -> Result<Repr> {
        match (s.name.as_deref(), s.type_) {
            (Some(logical::TIMESTAMP), _) => Ok(Repr::Timestamp),
            (Some(logical::DATE), _) => Ok(Repr::Date),
            (Some(logical::TIME), _) => Ok(Repr::Time),
            (_, Type::Int64) => Ok(Repr::Unix),
            (_, Type::String) => Ok(Repr::String),
            _ => Err(data_err(format!(
                "Schema {s:?} does not correspond to a known timestamp type format"
            ))),
        }
    }

    fn value_repr(v: &Value) -> Result<Repr> {
        match v {
            Value::Int64(_) | Value::Int32(_) => Ok(Repr::Unix),
            Value::String(_) => Ok(Repr::String),
            other => Err(data_err(format!(
                "TimestampConverter does not support {} objects as timestamps",
                crate::util::java_class_of(other)
            ))),
        }
    }

    fn target_schema(&self, optional: bool) -> SchemaRef {
        Arc::new(match self.target {
            Repr::String => Schema::string().with_optional(optional),
            Repr::Unix => Schema::int64().with_optional(optional),
            Repr::Date => Schema::int32()
                .named(logical::DATE)
                .version(1)
                .with_optional(optional),
            Repr::Time => Schema::int32()
                .named(logical::TIME)
                .version(1)
                .with_optional(optional),
            Repr::Timestamp => timestamp_schema(optional),
        })
    }

    /// Milliseconds since the epoch of `v` in representation `from`.
    fn to_millis(&self, from: Repr, v: &Value) -> Result<i64> {
        let i = || {
            v.as_i64()
                .ok_or_else(|| data_err(format!("Expected an integer timestamp, found {v:?}")))
        };
        Ok(match from {
            Repr::String => {
                let s = v
                    .as_str()
                    .ok_or_else(|| data_err("Expected a string timestamp"))?;
                let f = self.format.as_ref().ok_or_else(|| data_err("TimestampConverter requires format option to be specified when using string timestamps"))?;
                f.parse(s).map_err(|e| {
                    data_err(format!(
                        "Could not parse timestamp: value ({s}) does not match pattern ({}): {e}",
                        f.pattern()
                    ))
                })?
            }
            Repr::Unix => match self.precision {
                1 => i()?.saturating_mul(1000),
                1000 => i()?,
                1_000_000 => i()?.div_euclid(1000),
                _ => i()?.div_euclid(1_000_000),
            },
            Repr::Date => i()? * MS_PER_DAY,
            Repr::Time | Repr::Timestamp => i()?,
        })
    }

    fn millis_to_target(&self, ms: i64) -> Result<Value> {
        Ok(match self.target {
            Repr::String => Value::String(
                self.format
                    .as_ref()
                    .ok_or_else(|| data_err("TimestampConverter requires format option to be specified when using string timestamps"))?
                    .format(ms),
            ),
            Repr::Unix => Value::Int64(match self.precision {
                1 => ms.div_euclid(1000),
                1000 => ms,
                p => ms.saturating_mul(p / 1000),
            }),
            Repr::Date => Value::Int32(ms.div_euclid(MS_PER_DAY) as i32),
            Repr::Time => Value::Int32(ms.rem_euclid(MS_PER_DAY) as i32),
            Repr::Timestamp => Value::Int64(ms),
        })
    }

    fn convert(&self, from: Repr, v: &Value) -> Result<Value> {
        if v.is_null() {
            return Ok(Value::Null);
        }
        self.millis_to_target(self.to_millis(from, v)?)
    }
}

impl Transform for TimestampConverter {
    fn configure(&mut self, config: &RawConfig) -> Result<()> {
        let c: TimestampConverterConfig = read_config(config)?;
        self.field = c.field;
        self.target = c.target;
        self.format = c.format;
        self.precision = c.precision.per_second();
        self.replace_null_with_default = c.replace_null_with_default;
        Ok(())
    }

    fn apply(&mut self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>> {
        if self.field.is_some() && self.side.value(&record).is_null() {
            return Ok(Some(record));
        }
        let (schema, value) = self.side.take(&mut record);
        let (ns, nv) = match (&self.field, schema) {
            (None, None) => {
                let nv = if value.is_null() {
                    Value::Null
                } else {
                    self.convert(Self::value_repr(&value)?, &value)?
                };
                (None, nv)
            }
            (None, Some(s)) => {
                let from = Self::schema_repr(&s)?;
                (
                    Some(self.target_schema(s.optional)),
                    self.convert(from, &value)?,
                )
            }
            (Some(field), None) => {
                let entries = require_map(&value, "converting timestamp formats")?;
                let mut out = Vec::with_capacity(entries.len());
                for (k, v) in entries {
                    let v = if map_key(k) == *field && !v.is_null() {
                        self.convert(Self::value_repr(v)?, v)?
                    } else {
                        v.clone()
                    };
                    out.push((k.clone(), v));
                }
                (None, Value::Map(out))
            }
            (Some(field), Some(schema)) => {
                let s = require_struct(&value, "converting timestamp formats")?;
                let f = schema
                    .field_named(field)
                    .ok_or_else(|| data_err(format!("Field {field} does not exist in the schema")))?
                    .clone();
                let from = Self::schema_repr(&f.schema)?;
                let mut cache = std::mem::take(&mut self.cache);
                let ns = cache.get_or_try(&schema, |schema| {
                    let mut b = copy_schema_basics(schema, Schema::struct_())
                        .with_optional(schema.optional);
                    for sf in &schema.fields {
                        let fs = if sf.name == *field {
                            self.target_schema(sf.schema.optional)
                        } else {
                            sf.schema.clone()
                        };
                        b = b.field(sf.name.clone(), fs);
                    }
                    Ok(b.build())
                });
                self.cache = cache;
                let ns = ns?;
                let mut values = Vec::with_capacity(s.values.len());
                for sf in &s.schema.fields {
                    let v = field_value(s, sf.index, self.replace_null_with_default);
                    values.push(if sf.index == f.index {
                        self.convert(from, &v)?
                    } else {
                        v
                    });
                }
                (
                    Some(ns.clone()),
                    Value::Struct(Struct { schema: ns, values }),
                )
            }
        };
        self.side.put(&mut record, ns, nv);
        Ok(Some(record))
    }

    fn config_def(&self) -> ConfigDef {
        Self::def()
    }
}

/// `TimestampConverter$Key` and `$Value`.
pub fn plugins() -> Vec<PluginDesc> {
    vec![
        crate::transform(
            "org.apache.kafka.connect.transforms.TimestampConverter$Key",
            TimestampConverter::def,
            || Box::new(TimestampConverter::new(Side::Key)),
        ),
        crate::transform(
            "org.apache.kafka.connect.transforms.TimestampConverter$Value",
            TimestampConverter::def,
            || Box::new(TimestampConverter::new(Side::Value)),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;

    const MS: i64 = 1_700_000_000_123;

    fn tc(pairs: &[(&str, &str)]) -> TimestampConverter {
        let mut t = TimestampConverter::new(Side::Value);
        t.configure(&cfg(pairs)).unwrap();
        t
    }

    #[test]
    fn whole_value_with_schema() {
        let mut t = tc(&[
            ("target.type", "string"),
            ("format", "yyyy-MM-dd HH:mm:ss.SSS"),
        ]);
        let out = t
            .apply(rec_value(
                Some(Arc::new(timestamp_schema(false))),
                Value::Int64(MS),
            ))
            .unwrap()
            .unwrap();
        assert_eq!(out.value, Value::from("2023-11-14 22:13:20.123"));
        assert_eq!(out.value_schema.unwrap().type_, Type::String);
        let mut t = tc(&[("target.type", "Date")]);
        let out = t
            .apply(rec_value(
                Some(Arc::new(timestamp_schema(true))),
                Value::Int64(MS),
            ))
            .unwrap()
            .unwrap();
        assert_eq!(out.value, Value::Int32(19_675));
        let s = out.value_schema.unwrap();
        assert!(s.is_named(logical::DATE) && s.optional);
        let mut t = tc(&[("target.type", "unix"), ("unix.precision", "microseconds")]);
        let out = t
            .apply(rec_value(
                Some(Arc::new(timestamp_schema(false))),
                Value::Int64(MS),
            ))
            .unwrap()
            .unwrap();
        assert_eq!(out.value, Value::Int64(MS * 1000));
    }

    #[test]
    fn field_with_schema_and_schemaless() {
        let schema = Schema::struct_()
            .field("id", Schema::int32())
            .field("ts", Schema::string())
            .build();
        let v = Struct::new(schema.clone())
            .put("id", 1)
            .put("ts", "2023-11-14T22:13:20.123Z");
        let mut t = tc(&[
            ("field", "ts"),
            ("target.type", "Timestamp"),
            ("format", "yyyy-MM-dd'T'HH:mm:ss.SSSX"),
        ]);
        let out = t
            .apply(rec_value(Some(schema), Value::Struct(v)))
            .unwrap()
            .unwrap();
        assert!(out
            .value_schema
            .unwrap()
            .field_named("ts")
            .unwrap()
            .schema
            .is_named(logical::TIMESTAMP));
        assert_eq!(
            out.value.as_struct().unwrap().get("ts"),
            Some(&Value::Int64(MS))
        );
        let mut t = tc(&[
            ("field", "ts"),
            ("target.type", "string"),
            ("format", "yyyy"),
            ("unix.precision", "seconds"),
        ]);
        let out = t
            .apply(rec_value(None, map(&[("ts", Value::Int64(MS / 1000))])))
            .unwrap()
            .unwrap();
        assert_eq!(out.value, map(&[("ts", "2023".into())]));
    }

    #[test]
    fn config_errors() {
        let e = TimestampConverter::new(Side::Value)
            .configure(&cfg(&[("target.type", "string")]))
            .unwrap_err();
        assert!(e.to_string().contains("requires format option"), "{e}");
        let e = TimestampConverter::new(Side::Value)
            .configure(&cfg(&[("target.type", "x")]))
            .unwrap_err();
        assert!(
            e.to_string().contains("Invalid value x for configuration target.type: String must be one of: string, unix, Date, Time, Timestamp"),
            "{e}"
        );
    }
}
