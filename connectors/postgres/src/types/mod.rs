//! Debezium's PostgreSQL type mapping: which Kafka Connect schema a column
//! gets, and how a value in PostgreSQL's text output format becomes a
//! Kafka Connect [`Value`] of that schema.
//!
//! Both capture paths see values as text: the snapshot reads rows with a
//! text-format query, and pgoutput sends column values in text output
//! format. So one decoder, [`ColumnMapping::decode`], serves both; where the
//! real Debezium renders a value differently in its snapshot (JDBC) and in
//! streaming (pgoutput) — dates at ±infinity and BC dates — the [`Phase`]
//! argument selects the rendering.
//!
//! The mapping reproduces Debezium 3.6 with `include.unknown.datatypes=false`:
//! [`map_column`] returns `None` for a type Debezium skips.

pub mod jdbc;
mod text;

#[cfg(test)]
mod tests;

use velocity_api::schema::logical;
use velocity_api::{Schema, SchemaRef, Struct, Value};

use crate::catalog::{Column, PgType, TypeKind};

use text::{ArrayElem, DateText, Numeric, TsText};

velocity_api::config_choice! {
    /// Debezium's `decimal.handling.mode`.
    #[derive(Default)]
    pub enum DecimalMode {
        /// `precise`: Kafka Connect Decimal (bytes), VariableScaleDecimal for
        /// unconstrained `numeric`.
        #[default]
        Precise = "precise",
        /// `double`: float64.
        Double = "double",
        /// `string`: the plain decimal string.
        String = "string",
    }
}

velocity_api::config_choice! {
    /// Debezium's `time.precision.mode`.
    #[derive(Default)]
    pub enum TimePrecisionMode {
        /// `adaptive`: millis / micros by column precision, Debezium names.
        #[default]
        Adaptive = "adaptive",
        /// `adaptive_time_microseconds`: like adaptive, but `time` is always
        /// MicroTime.
        AdaptiveTimeMicroseconds = "adaptive_time_microseconds",
        /// `connect`: Kafka Connect Date / Time / Timestamp (millis).
        Connect = "connect",
    }
}

/// Debezium's `binary.handling.mode` (for `bytea`), shared by the sources.
pub use velocity_api::debezium::options::BinaryMode;

velocity_api::config_choice! {
    /// Debezium's `hstore.handling.mode`.
    #[derive(Default)]
    pub enum HstoreMode {
        /// `json`: `io.debezium.data.Json` string.
        #[default]
        Json = "json",
        /// `map`: Connect map of string to optional string.
        Map = "map",
    }
}

velocity_api::config_choice! {
    /// Debezium's `interval.handling.mode`.
    #[derive(Default)]
    pub enum IntervalMode {
        /// `numeric`: MicroDuration, int64 microseconds (month = 30.4375 days).
        #[default]
        Numeric = "numeric",
        /// `string`: ISO-8601 `io.debezium.time.Interval`.
        String = "string",
    }
}

/// The handling modes that change the mapping of types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TypeModes {
    /// `decimal.handling.mode`.
    pub decimal: DecimalMode,
    /// `time.precision.mode`.
    pub time: TimePrecisionMode,
    /// `binary.handling.mode`.
    pub binary: BinaryMode,
    /// `hstore.handling.mode`.
    pub hstore: HstoreMode,
    /// `interval.handling.mode`.
    pub interval: IntervalMode,
    /// `money.fraction.digits` (scale of `money` values).
    pub money_fraction_digits: i32,
}

impl Default for TypeModes {
    /// Debezium's defaults: precise, adaptive, bytes, json, numeric, 2.
    fn default() -> TypeModes {
        TypeModes {
            decimal: DecimalMode::Precise,
            time: TimePrecisionMode::Adaptive,
            binary: BinaryMode::Bytes,
            hstore: HstoreMode::Json,
            interval: IntervalMode::Numeric,
            money_fraction_digits: 2,
        }
    }
}

/// Which capture path a value comes from; selects between Debezium's
/// snapshot (JDBC) and streaming (pgoutput) renderings where they differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Initial snapshot (`op = r`).
    Snapshot,
    /// Logical replication stream.
    Stream,
}

/// A value that cannot be decoded for its column type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot decode {type_name} value {text:?}: {reason}")]
pub struct TypeError {
    /// The PostgreSQL type name (`typname`).
    pub type_name: String,
    /// The offending text (lossily decoded, truncated to 200 bytes).
    pub text: String,
    /// Why it failed.
    pub reason: String,
}

/// The Debezium placeholder for unchanged TOAST values (the default of
/// `unavailable.value.placeholder`).
pub const UNAVAILABLE_VALUE: &str = "__debezium_unavailable_value";

/// `unavailable.value.placeholder`: the constant emitted in place of a
/// TOASTed value PostgreSQL did not send because it did not change, as
/// Debezium's `PostgresConnectorConfig` reads it: `hex:` followed by
/// hexadecimal digits gives the bytes, any other text its UTF-8 bytes; the
/// text form is those bytes as UTF-8 (lossily, as Java's `new String`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnavailablePlaceholder {
    bytes: Vec<u8>,
    text: String,
}

impl Default for UnavailablePlaceholder {
    /// Debezium's default, [`UNAVAILABLE_VALUE`].
    fn default() -> UnavailablePlaceholder {
        UnavailablePlaceholder {
            bytes: UNAVAILABLE_VALUE.as_bytes().to_vec(),
            text: UNAVAILABLE_VALUE.to_owned(),
        }
    }
}

impl UnavailablePlaceholder {
    /// The placeholder of the key's value `v`; `hex:` with anything but an
    /// even number of hexadecimal digits after it is an error.
    pub fn parse(v: &str) -> Result<UnavailablePlaceholder, String> {
        let bytes = match v.strip_prefix("hex:") {
            None => v.as_bytes().to_vec(),
            Some(hex) => {
                if hex.len() % 2 != 0 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(format!(
                        "'{v}' starts with 'hex:', but '{hex}' is not an even number of hexadecimal digits"
                    ));
                }
                (0..hex.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap_or_default())
                    .collect()
            }
        };
        Ok(UnavailablePlaceholder {
            text: String::from_utf8_lossy(&bytes).into_owned(),
            bytes,
        })
    }

    /// Validator of `unavailable.value.placeholder`: the value parses.
    pub fn check(v: &str) -> Result<(), String> {
        UnavailablePlaceholder::parse(v).map(|_| ())
    }

    /// The placeholder's bytes (bytea columns, integer arrays).
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The placeholder as text (string-like columns).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Java's `UUID.nameUUIDFromBytes` of the bytes (a version 3 UUID),
    /// which Debezium emits in place of an unchanged `uuid[]`.
    fn name_uuid(&self) -> String {
        use md5::Digest;
        let mut h = [0u8; 16];
        h.copy_from_slice(&md5::Md5::digest(&self.bytes));
        h[6] = (h[6] & 0x0f) | 0x30;
        h[8] = (h[8] & 0x3f) | 0x80;
        let hex: String = h.iter().map(|b| format!("{b:02x}")).collect();
        format!(
            "{}-{}-{}-{}-{}",
            &hex[0..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..32]
        )
    }
}

/// Schema name Debezium gives `tsvector` columns.
pub const DBZ_TSVECTOR: &str = "io.debezium.data.Tsvector";
/// Schema name Debezium gives `point` columns.
pub const DBZ_POINT: &str = "io.debezium.data.geometry.Point";

/// PgJDBC's `DATE_POSITIVE_INFINITY` as Debezium emits it for micros columns.
const TS_POS_INF_MICROS: i64 = 9_223_372_036_825_200_000;
/// PgJDBC's `DATE_NEGATIVE_INFINITY` as Debezium emits it for micros columns.
const TS_NEG_INF_MICROS: i64 = -9_223_372_036_832_400_000;

/// How Debezium maps one column: its field name, its Connect schema and the
/// decoder from PostgreSQL text output.
#[derive(Debug, Clone)]
pub struct ColumnMapping {
    /// The field name (the column name).
    pub name: String,
    /// The field schema: optional unless the column is NOT NULL, with the
    /// default Debezium derives from the column's default expression.
    pub schema: SchemaRef,
    conv: Conv,
    toast: Toast,
    type_name: String,
}

/// The value decoder for one (element) type.
#[derive(Debug, Clone)]
enum Conv {
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    Bool,
    /// Text passed through unchanged (text, varchar, json, uuid, enum, ...).
    Str,
    Bytea(BinaryMode),
    Decimal {
        scale: i32,
        mode: DecimalMode,
    },
    VarDecimal {
        mode: DecimalMode,
        schema: SchemaRef,
    },
    Money {
        digits: i32,
        mode: DecimalMode,
    },
    Date,
    /// `time`: `millis` → int32 milliseconds, else int64 microseconds.
    Time {
        millis: bool,
    },
    /// An item of a `time[]`: Debezium reads array items through
    /// `java.sql.Time`, which keeps milliseconds only; `millis` → int32
    /// milliseconds, else int64 microseconds (a multiple of 1000).
    TimeArrayItem {
        millis: bool,
    },
    TimeTz,
    /// `timestamp`: `millis` → int64 milliseconds, else microseconds.
    Timestamp {
        millis: bool,
    },
    TimestampTz {
        width: u32,
    },
    Interval(IntervalMode),
    Bit1,
    Bits,
    Hstore(HstoreMode),
    Point(SchemaRef),
    Array(Box<Conv>),
}

/// What Debezium substitutes for an unchanged TOAST value of the column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Toast {
    /// The placeholder converted by the column's converter.
    Scalar,
    /// `["__debezium_unavailable_value"]`.
    TextArray,
    /// The placeholder's bytes as int32 elements.
    IntArray,
    /// The placeholder's bytes as int64 elements.
    BigintArray,
    /// `[nameUUIDFromBytes(placeholder)]`.
    UuidArray,
    /// `{placeholder: placeholder}`.
    Hstore,
    /// Null (Debezium's array converter drops the string placeholder).
    Null,
}

/// Maps a column the way Debezium does, or returns `None` for a type
/// Debezium does not support (`include.unknown.datatypes=false`: the caller
/// skips the column and warns naming table and column).
pub fn map_column(col: &Column, modes: &TypeModes) -> Option<ColumnMapping> {
    let (base, typmod) = unwrap_domain(&col.pg_type, col.typmod);
    let (schema, conv) = type_schema(base, typmod, modes)?;
    let toast = toast_kind(base);
    let mut schema = schema.with_optional(!col.not_null);
    if let Some(expr) = &col.default_expr {
        if let Some(default) = parse_default(expr, base, &conv) {
            schema = schema.default_value(default);
        }
    }
    Some(ColumnMapping {
        name: col.name.clone(),
        schema: schema.build(),
        conv,
        toast,
        type_name: col.pg_type.name.clone(),
    })
}

impl ColumnMapping {
    /// Decodes a non-NULL value given in PostgreSQL text output format
    /// (the caller maps SQL NULL to [`Value::Null`] itself). Returns
    /// `Value::Null` where Debezium emits null for a non-null value
    /// (numeric NaN/Infinity in precise mode).
    pub fn decode(&self, text: &[u8], phase: Phase) -> Result<Value, TypeError> {
        let err = |reason: String| TypeError {
            type_name: self.type_name.clone(),
            text: String::from_utf8_lossy(&text[..text.len().min(200)]).into_owned(),
            reason,
        };
        let s = std::str::from_utf8(text).map_err(|e| err(e.to_string()))?;
        decode_conv(&self.conv, s, phase).map_err(err)
    }

    /// The value Debezium puts in a `before` image for a NOT NULL column
    /// that is absent from a DEFAULT-identity old tuple: the schema default
    /// if there is one, else the type's zero value (`""`, `0`, epoch,
    /// empty array...). For a nullable column without default this is
    /// `Value::Null`.
    pub fn zero_value(&self) -> Value {
        if let Some(d) = &self.schema.default {
            return d.clone();
        }
        if self.schema.optional {
            return Value::Null;
        }
        zero_of(&self.conv)
    }

    /// The value Debezium emits for an unchanged TOAST value of this column,
    /// given the configured `placeholder`: its text for string-like
    /// columns, its bytes for bytea (in the `binary.handling.mode`
    /// representation), `[text]` for text/varchar/json arrays, its bytes as
    /// numbers for int4/date and int8 arrays, `[nameUUIDFromBytes(bytes)]`
    /// for uuid arrays, a one-entry map for hstore; null where Debezium
    /// cannot represent it.
    pub fn unavailable_value(&self, placeholder: &UnavailablePlaceholder) -> Value {
        let bytes = placeholder.bytes();
        let as_text = || Value::String(placeholder.text().to_owned());
        match self.toast {
            Toast::TextArray => Value::Array(vec![as_text()]),
            Toast::IntArray => Value::Array(
                bytes
                    .iter()
                    .map(|b| Value::Int32(i32::from(*b as i8)))
                    .collect(),
            ),
            Toast::BigintArray => Value::Array(
                bytes
                    .iter()
                    .map(|b| Value::Int64(i64::from(*b as i8)))
                    .collect(),
            ),
            Toast::UuidArray => Value::Array(vec![Value::String(placeholder.name_uuid())]),
            Toast::Hstore => match &self.conv {
                Conv::Hstore(HstoreMode::Map) => Value::Map(vec![(as_text(), as_text())]),
                _ => {
                    let mut s = String::from("{");
                    text::push_json_string(&mut s, placeholder.text());
                    s.push(':');
                    text::push_json_string(&mut s, placeholder.text());
                    s.push('}');
                    Value::String(s)
                }
            },
            Toast::Null => Value::Null,
            Toast::Scalar => match &self.conv {
                Conv::Str | Conv::TimeTz | Conv::TimestampTz { .. } => as_text(),
                Conv::Bytea(mode) => encode_binary(bytes.to_vec(), *mode),
                Conv::Bits => Value::Bytes(Vec::new()),
                Conv::Decimal {
                    mode: DecimalMode::String,
                    ..
                }
                | Conv::VarDecimal {
                    mode: DecimalMode::String,
                    ..
                }
                | Conv::Interval(IntervalMode::String) => as_text(),
                _ => Value::Null,
            },
        }
    }
}

/// Follows domains down to their base type; the innermost explicit type
/// modifier wins (a column of domain type has `atttypmod = -1`).
fn unwrap_domain(t: &PgType, typmod: i32) -> (&PgType, i32) {
    match &t.kind {
        TypeKind::Domain { base, base_typmod } => {
            unwrap_domain(base, if typmod >= 0 { typmod } else { *base_typmod })
        }
        _ => (t, typmod),
    }
}

/// The type's name when it is a built-in (`pg_catalog`) or one of the
/// extension types Debezium knows (matched by name in any schema).
fn known_name(t: &PgType) -> Option<&str> {
    match t.name.as_str() {
        "hstore" | "ltree" | "citext" => Some(t.name.as_str()),
        _ if t.schema == "pg_catalog" => Some(t.name.as_str()),
        _ => None,
    }
}

fn named(s: Schema, name: &str) -> Schema {
    s.named(name).version(1)
}

/// Precision of time types: the typmod, 6 when unspecified.
fn time_precision(typmod: i32) -> u32 {
    if typmod < 0 {
        6
    } else {
        typmod as u32
    }
}

/// numeric(p, s) typmod → (precision, scale); `None` for unconstrained.
fn numeric_typmod(typmod: i32) -> Option<(i32, i32)> {
    if typmod < 4 {
        return None;
    }
    let t = typmod - 4;
    let precision = (t >> 16) & 0xffff;
    // PostgreSQL 15 allows negative scales: 11-bit two's complement.
    let scale = ((t & 0x7ff) ^ 1024) - 1024;
    Some((precision, scale))
}

fn numeric_schema(typmod: i32, modes: &TypeModes) -> (Schema, Conv) {
    match (numeric_typmod(typmod), modes.decimal) {
        (None, DecimalMode::Precise) => {
            let s = named(Schema::struct_(), logical::DBZ_VARIABLE_SCALE_DECIMAL)
                .doc("Variable scaled decimal")
                .field("scale", Schema::int32())
                .field("value", Schema::bytes());
            let inner = s.clone().build();
            (
                s,
                Conv::VarDecimal {
                    mode: DecimalMode::Precise,
                    schema: inner,
                },
            )
        }
        (Some((p, s)), DecimalMode::Precise) => (
            logical::decimal(s, Some(p)),
            Conv::Decimal {
                scale: s,
                mode: DecimalMode::Precise,
            },
        ),
        (tm, mode) => {
            let schema = if mode == DecimalMode::Double {
                Schema::float64()
            } else {
                Schema::string()
            };
            let conv = match tm {
                Some((_, s)) => Conv::Decimal { scale: s, mode },
                None => Conv::VarDecimal {
                    mode,
                    schema: Schema::struct_().build(),
                },
            };
            (schema, conv)
        }
    }
}

fn date_schema(modes: &TypeModes) -> Schema {
    match modes.time {
        TimePrecisionMode::Connect => named(Schema::int32(), logical::DATE),
        _ => named(Schema::int32(), logical::DBZ_DATE),
    }
}

fn timestamp_schema(typmod: i32, modes: &TypeModes) -> (Schema, Conv) {
    match modes.time {
        TimePrecisionMode::Connect => (
            named(Schema::int64(), logical::TIMESTAMP),
            Conv::Timestamp { millis: true },
        ),
        _ if time_precision(typmod) <= 3 => (
            named(Schema::int64(), logical::DBZ_TIMESTAMP),
            Conv::Timestamp { millis: true },
        ),
        _ => (
            named(Schema::int64(), logical::DBZ_MICRO_TIMESTAMP),
            Conv::Timestamp { millis: false },
        ),
    }
}

fn hstore_schema(modes: &TypeModes) -> (Schema, Conv) {
    match modes.hstore {
        HstoreMode::Json => (
            named(Schema::string(), logical::DBZ_JSON),
            Conv::Hstore(HstoreMode::Json),
        ),
        HstoreMode::Map => (
            Schema::map(
                Schema::string().build(),
                Schema::string().optional().build(),
            ),
            Conv::Hstore(HstoreMode::Map),
        ),
    }
}

/// The required (non-optional, default-less) schema and decoder of a
/// non-domain type, or `None` when Debezium does not support it.
fn type_schema(t: &PgType, typmod: i32, modes: &TypeModes) -> Option<(Schema, Conv)> {
    match &t.kind {
        TypeKind::Enum { labels } => {
            return Some((
                named(Schema::string(), logical::DBZ_ENUM).param("allowed", labels.join(",")),
                Conv::Str,
            ))
        }
        TypeKind::Array { elem } => return array_schema(elem, typmod, modes),
        TypeKind::Base | TypeKind::Range => {}
        _ => return None,
    }
    let name = known_name(t)?;
    Some(match name {
        "int2" => (Schema::int16(), Conv::Int16),
        "int4" => (Schema::int32(), Conv::Int32),
        "int8" | "oid" => (Schema::int64(), Conv::Int64),
        "float4" => (Schema::float32(), Conv::Float32),
        "float8" => (Schema::float64(), Conv::Float64),
        "bool" => (Schema::boolean(), Conv::Bool),
        "text" | "varchar" | "bpchar" | "name" | "char" | "citext" => (Schema::string(), Conv::Str),
        "json" | "jsonb" => (named(Schema::string(), logical::DBZ_JSON), Conv::Str),
        "xml" => (named(Schema::string(), logical::DBZ_XML), Conv::Str),
        "uuid" => (named(Schema::string(), logical::DBZ_UUID), Conv::Str),
        "ltree" => (named(Schema::string(), logical::DBZ_LTREE), Conv::Str),
        "tsvector" => (named(Schema::string(), DBZ_TSVECTOR), Conv::Str),
        "inet" | "cidr" | "macaddr" | "macaddr8" | "int4range" | "int8range" | "numrange"
        | "tsrange" | "tstzrange" | "daterange" => (Schema::string(), Conv::Str),
        "bytea" => (modes.binary.schema(), Conv::Bytea(modes.binary)),
        "numeric" => numeric_schema(typmod, modes),
        "money" => (
            match modes.decimal {
                DecimalMode::Precise => logical::decimal(modes.money_fraction_digits, None),
                DecimalMode::Double => Schema::float64(),
                DecimalMode::String => Schema::string(),
            },
            Conv::Money {
                digits: modes.money_fraction_digits,
                mode: modes.decimal,
            },
        ),
        "date" => (date_schema(modes), Conv::Date),
        "time" => match modes.time {
            TimePrecisionMode::Connect => (
                named(Schema::int32(), logical::TIME),
                Conv::Time { millis: true },
            ),
            TimePrecisionMode::Adaptive if time_precision(typmod) <= 3 => (
                named(Schema::int32(), logical::DBZ_TIME),
                Conv::Time { millis: true },
            ),
            _ => (
                named(Schema::int64(), logical::DBZ_MICRO_TIME),
                Conv::Time { millis: false },
            ),
        },
        "timetz" => (
            named(Schema::string(), logical::DBZ_ZONED_TIME),
            Conv::TimeTz,
        ),
        "timestamp" => timestamp_schema(typmod, modes),
        "timestamptz" => (
            named(Schema::string(), logical::DBZ_ZONED_TIMESTAMP),
            Conv::TimestampTz {
                width: time_precision(typmod),
            },
        ),
        "interval" => match modes.interval {
            IntervalMode::Numeric => (
                named(Schema::int64(), logical::DBZ_MICRO_DURATION),
                Conv::Interval(IntervalMode::Numeric),
            ),
            IntervalMode::String => (
                named(Schema::string(), logical::DBZ_INTERVAL),
                Conv::Interval(IntervalMode::String),
            ),
        },
        "bit" | "varbit" => {
            let length = match typmod {
                t if t >= 0 => t,
                _ if name == "bit" => 1,
                _ => i32::MAX,
            };
            if length > 1 {
                (
                    named(Schema::bytes(), logical::DBZ_BITS).param("length", length.to_string()),
                    Conv::Bits,
                )
            } else {
                (Schema::boolean(), Conv::Bit1)
            }
        }
        "point" => {
            let s = named(Schema::struct_(), DBZ_POINT)
                .doc("Geometry (POINT)")
                .field("x", Schema::float64())
                .field("y", Schema::float64())
                .field("wkb", Schema::bytes().optional())
                .field("srid", Schema::int32().optional());
            let inner = s.clone().build();
            (s, Conv::Point(inner))
        }
        "hstore" => hstore_schema(modes),
        _ => return None,
    })
}

/// Array columns: Debezium supports a fixed list of element types, enums,
/// and the citext/ltree/hstore extension types; arrays of domains and of
/// anything else are unsupported.
fn array_schema(elem: &PgType, typmod: i32, modes: &TypeModes) -> Option<(Schema, Conv)> {
    if let TypeKind::Enum { labels } = &elem.kind {
        // Enum items are not optional (Debezium builds Enum.builder as is).
        let item = named(Schema::string(), logical::DBZ_ENUM).param("allowed", labels.join(","));
        return Some((
            Schema::array(item.build()),
            Conv::Array(Box::new(Conv::Str)),
        ));
    }
    if !matches!(elem.kind, TypeKind::Base | TypeKind::Range) {
        return None;
    }
    let name = known_name(elem)?;
    let (item, conv) = match name {
        "int2" | "int4" | "int8" | "oid" | "char" | "varchar" | "text" | "bpchar" | "inet"
        | "cidr" | "macaddr" | "macaddr8" | "tsrange" | "tstzrange" | "daterange" | "int4range"
        | "numrange" | "int8range" | "numeric" | "float4" | "float8" | "bool" | "uuid" | "json"
        | "jsonb" | "timetz" | "timestamptz" | "citext" | "ltree" | "hstore" => {
            let (s, c) = type_schema(elem, typmod, modes)?;
            // Array items of these types carry no Debezium name for
            // strings-like network/range types (same as scalars).
            (s, c)
        }
        "date" => (date_schema(modes), Conv::Date),
        // time[] items: the scalar's schema for the precision (Time for
        // time(0..3), MicroTime above), values at millisecond precision
        "time" => match type_schema(elem, typmod, modes)? {
            (s, Conv::Time { millis }) => (s, Conv::TimeArrayItem { millis }),
            other => other,
        },
        "timestamp" => timestamp_schema(typmod, modes),
        _ => return None,
    };
    let item = item.optional().build();
    // A VariableScaleDecimal item carries the array's (optional) item schema,
    // as Debezium's values do: a struct with any other schema fails
    // conversion ("Mismatching schema.").
    let conv = match conv {
        Conv::VarDecimal { mode, .. } => Conv::VarDecimal {
            mode,
            schema: item.clone(),
        },
        other => other,
    };
    Some((Schema::array(item), Conv::Array(Box::new(conv))))
}

fn toast_kind(t: &PgType) -> Toast {
    match &t.kind {
        TypeKind::Array { elem } => match elem.name.as_str() {
            "text" | "varchar" | "json" | "jsonb" if elem.schema == "pg_catalog" => {
                Toast::TextArray
            }
            "int4" | "date" if elem.schema == "pg_catalog" => Toast::IntArray,
            "int8" if elem.schema == "pg_catalog" => Toast::BigintArray,
            "uuid" if elem.schema == "pg_catalog" => Toast::UuidArray,
            _ => Toast::Null,
        },
        _ if t.name == "hstore" => Toast::Hstore,
        _ => Toast::Scalar,
    }
}

fn encode_binary(bytes: Vec<u8>, mode: BinaryMode) -> Value {
    mode.encode(bytes)
}

fn numeric_value(
    n: Numeric,
    mode: DecimalMode,
    finite: impl FnOnce(text::BigDec) -> Value,
) -> Value {
    match (n, mode) {
        (Numeric::Finite(d), _) => finite(d),
        (_, DecimalMode::Precise) => Value::Null,
        (Numeric::NaN, DecimalMode::Double) => Value::Float64(f64::NAN),
        (Numeric::PosInf, DecimalMode::Double) => Value::Float64(f64::INFINITY),
        (Numeric::NegInf, DecimalMode::Double) => Value::Float64(f64::NEG_INFINITY),
        (Numeric::NaN, DecimalMode::String) => Value::String("NAN".into()),
        (Numeric::PosInf, DecimalMode::String) => Value::String("POSITIVE_INFINITY".into()),
        (Numeric::NegInf, DecimalMode::String) => Value::String("NEGATIVE_INFINITY".into()),
    }
}

fn decimal_value(d: &text::BigDec, mode: DecimalMode) -> Value {
    match mode {
        DecimalMode::Precise => Value::Bytes(d.unscaled_bytes()),
        DecimalMode::Double => Value::Float64(d.to_f64()),
        DecimalMode::String => Value::String(d.to_plain_string()),
    }
}

fn var_decimal_value(d: &text::BigDec, mode: DecimalMode, schema: &SchemaRef) -> Value {
    match mode {
        DecimalMode::Precise => {
            let d = d.strip_fraction_zeros();
            Value::Struct(Struct {
                schema: schema.clone(),
                values: vec![Value::Int32(d.scale), Value::Bytes(d.unscaled_bytes())],
            })
        }
        other => decimal_value(d, other),
    }
}

fn i64_of(v: i128) -> Result<i64, String> {
    i64::try_from(v).map_err(|_| "out of range".to_string())
}

fn decode_conv(conv: &Conv, s: &str, phase: Phase) -> Result<Value, String> {
    let num_err = |_| format!("not a number: {s:?}");
    Ok(match conv {
        Conv::Int16 => Value::Int16(s.trim().parse().map_err(num_err)?),
        Conv::Int32 => Value::Int32(s.trim().parse().map_err(num_err)?),
        Conv::Int64 => Value::Int64(s.trim().parse().map_err(num_err)?),
        Conv::Float32 => Value::Float32(text::parse_f32(s)?),
        Conv::Float64 => Value::Float64(text::parse_f64(s)?),
        Conv::Bool => match s.trim() {
            "t" | "true" | "TRUE" | "on" | "yes" | "1" => Value::Boolean(true),
            "f" | "false" | "FALSE" | "off" | "no" | "0" => Value::Boolean(false),
            _ => return Err("not a boolean".into()),
        },
        Conv::Str => Value::String(s.to_owned()),
        Conv::Bytea(mode) => encode_binary(text::parse_bytea(s.as_bytes())?, *mode),
        Conv::Decimal { scale, mode } => numeric_value(text::parse_numeric(s)?, *mode, |d| {
            let d = if d.scale < *scale {
                d.rescale(*scale)
            } else {
                d
            };
            let d = if *mode == DecimalMode::Precise {
                d.rescale(*scale)
            } else {
                d
            };
            decimal_value(&d, *mode)
        }),
        Conv::VarDecimal { mode, schema } => numeric_value(text::parse_numeric(s)?, *mode, |d| {
            var_decimal_value(&d, *mode, schema)
        }),
        Conv::Money { digits, mode } => decimal_value(&text::parse_money(s, *digits)?, *mode),
        Conv::Date => Value::Int32(date_days(text::parse_date(s)?, phase)?),
        Conv::Time { millis } => {
            let micros = text::parse_hms(s.trim())?;
            if *millis {
                Value::Int32((micros / 1000) as i32)
            } else {
                Value::Int64(micros)
            }
        }
        Conv::TimeArrayItem { millis } => {
            let ms = text::parse_hms(s.trim())?.div_euclid(1000);
            if *millis {
                Value::Int32(ms as i32)
            } else {
                Value::Int64(ms * 1000)
            }
        }
        Conv::TimeTz => {
            let (time, offset) = text::split_offset(s)?;
            let micros = text::parse_hms(time.trim())? - offset * 1_000_000;
            Value::String(text::format_zoned_time(
                micros.rem_euclid(text::MICROS_PER_DAY),
            ))
        }
        Conv::Timestamp { millis } => {
            let v = match (text::parse_timestamp(s, false)?, millis) {
                (TsText::PosInf, false) => TS_POS_INF_MICROS,
                (TsText::NegInf, false) => TS_NEG_INF_MICROS,
                (TsText::PosInf, true) => TS_POS_INF_MICROS / 1000,
                (TsText::NegInf, true) => TS_NEG_INF_MICROS / 1000,
                (TsText::Micros(m), false) => i64_of(m)?,
                (TsText::Micros(m), true) => i64_of(m.div_euclid(1000))?,
            };
            Value::Int64(v)
        }
        Conv::TimestampTz { width } => match text::parse_timestamp(s, true)? {
            TsText::PosInf => Value::String("infinity".into()),
            TsText::NegInf => Value::String("-infinity".into()),
            TsText::Micros(m) => Value::String(text::format_zoned_timestamp(m, *width)),
        },
        Conv::Interval(mode) => {
            let iv = text::parse_interval(s)?;
            match mode {
                IntervalMode::Numeric => Value::Int64(iv.duration_micros()),
                IntervalMode::String => Value::String(iv.iso_string()),
            }
        }
        Conv::Bit1 => Value::Boolean(text::bits_to_bytes(s)?.first().is_some_and(|b| *b != 0)),
        Conv::Bits => Value::Bytes(text::bits_to_bytes(s)?),
        Conv::Hstore(mode) => {
            let pairs = text::parse_hstore(s)?;
            match mode {
                HstoreMode::Json => {
                    let mut out = String::from("{");
                    for (i, (k, v)) in pairs.iter().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        text::push_json_string(&mut out, k);
                        out.push(':');
                        match v {
                            Some(v) => text::push_json_string(&mut out, v),
                            None => out.push_str("null"),
                        }
                    }
                    out.push('}');
                    Value::String(out)
                }
                HstoreMode::Map => Value::Map(
                    pairs
                        .into_iter()
                        .map(|(k, v)| (Value::String(k), v.map_or(Value::Null, Value::String)))
                        .collect(),
                ),
            }
        }
        Conv::Point(schema) => {
            let (x, y) = text::parse_point(s)?;
            point_value(schema, x, y)
        }
        Conv::Array(elem) => {
            let elems = text::parse_array(s)?;
            let mut out = Vec::with_capacity(elems.len());
            for e in elems {
                out.push(match e {
                    ArrayElem::Null | ArrayElem::Nested(_) => Value::Null,
                    ArrayElem::Text(t) => {
                        let v = decode_conv(elem, &t, phase)?;
                        if v.is_null()
                            && matches!(**elem, Conv::Decimal { .. } | Conv::VarDecimal { .. })
                        {
                            // NaN or ±Infinity in a numeric array: Debezium
                            // emits null for the whole array (captured in
                            // tests/fixtures/postgres/arrays)
                            return Ok(Value::Null);
                        }
                        v
                    }
                });
            }
            Value::Array(out)
        }
    })
}

fn point_value(schema: &SchemaRef, x: f64, y: f64) -> Value {
    Value::Struct(Struct {
        schema: schema.clone(),
        values: vec![
            Value::Float64(x),
            Value::Float64(y),
            Value::Bytes(text::point_wkb(x, y)),
            Value::Null,
        ],
    })
}

/// Days since the epoch as Debezium emits them. The snapshot (PgJDBC)
/// ignores the era of BC dates and turns ±infinity into garbage day counts;
/// streaming computes proleptic Gregorian days and has its own garbage.
fn date_days(d: DateText, phase: Phase) -> Result<i32, String> {
    let days = match (d, phase) {
        (DateText::PosInf, Phase::Snapshot) => -622_191_234,
        (DateText::NegInf, Phase::Snapshot) => -625_821_272,
        (DateText::PosInf, Phase::Stream) => -2_147_472_692,
        (DateText::NegInf, Phase::Stream) => -2_147_472_691,
        (
            DateText::Date {
                year,
                bc,
                month,
                day,
            },
            phase,
        ) => {
            let y = if bc && phase == Phase::Stream {
                DateText::astronomical_year(year, true)
            } else {
                year
            };
            text::days_from_civil(y, month, day)
        }
    };
    i32::try_from(days).map_err(|_| "date out of range".to_string())
}

fn zero_of(conv: &Conv) -> Value {
    match conv {
        Conv::Int16 => Value::Int16(0),
        Conv::Int32 | Conv::Date => Value::Int32(0),
        Conv::Int64 | Conv::Timestamp { .. } => Value::Int64(0),
        Conv::Float32 => Value::Float32(0.0),
        Conv::Float64 => Value::Float64(0.0),
        Conv::Bool | Conv::Bit1 => Value::Boolean(false),
        Conv::Str => Value::String(String::new()),
        Conv::Bytea(mode) => encode_binary(Vec::new(), *mode),
        Conv::Decimal { scale, mode } => {
            decimal_value(&text::BigDec::zero().rescale(*scale), *mode)
        }
        Conv::VarDecimal { mode, schema } => {
            var_decimal_value(&text::BigDec::zero(), *mode, schema)
        }
        Conv::Money { digits, mode } => {
            decimal_value(&text::BigDec::zero().rescale(*digits), *mode)
        }
        Conv::Time { millis: true } | Conv::TimeArrayItem { millis: true } => Value::Int32(0),
        Conv::Time { millis: false } | Conv::TimeArrayItem { millis: false } => Value::Int64(0),
        Conv::TimeTz => Value::String(text::format_zoned_time(0)),
        Conv::TimestampTz { width } => Value::String(text::format_zoned_timestamp(0, *width)),
        Conv::Interval(IntervalMode::Numeric) => Value::Int64(0),
        Conv::Interval(IntervalMode::String) => Value::String("P0Y0M0DT0H0M0S".into()),
        Conv::Bits => Value::Bytes(Vec::new()),
        Conv::Hstore(HstoreMode::Json) => Value::String("{}".into()),
        Conv::Hstore(HstoreMode::Map) => Value::Map(Vec::new()),
        Conv::Point(schema) => point_value(schema, 0.0, 0.0),
        Conv::Array(_) => Value::Array(Vec::new()),
    }
}

// ---------------------------------------------------------------------------
// Column defaults (Debezium's PostgresDefaultValueConverter)
// ---------------------------------------------------------------------------

/// `^[(]?[A-Za-z0-9_]+\((?:.+(?:, ?.+)*)?\)`: a function call default.
fn is_function_default(expr: &str) -> bool {
    let s = expr.strip_prefix('(').unwrap_or(expr);
    let ident = s
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
        .count();
    ident > 0 && s[ident..].starts_with('(') && s[ident + 1..].contains(')')
}

/// Debezium's `extractDefault(value, placeholder)`: a function call yields
/// the placeholder, a raw value (no quote) itself, otherwise the content of
/// the first quoted literal.
fn extract_default(expr: &str, placeholder: &str) -> Option<String> {
    if is_function_default(expr) {
        return Some(placeholder.to_string());
    }
    if !expr.contains('\'') {
        return Some(expr.to_string());
    }
    let start = expr.find('\'')? + 1;
    let end = expr[start..].find('\'')? + start;
    Some(expr[start..end].to_string())
}

/// Java `Boolean.parseBoolean`.
fn java_bool(s: &str) -> bool {
    s.eq_ignore_ascii_case("true")
}

/// Parses a default expression into the column's default value, following
/// Debezium's per-type mappers; `None` where Debezium sets no default.
fn parse_default(expr: &str, t: &PgType, conv: &Conv) -> Option<Value> {
    let expr = expr.trim();
    let null_default = expr.starts_with("NULL::");
    if matches!(t.kind, TypeKind::Enum { .. }) {
        return Some(Value::String(extract_default(expr, "")?));
    }
    if !matches!(t.kind, TypeKind::Base) {
        return None;
    }
    let name = known_name(t)?;
    match name {
        "bool" => {
            if null_default {
                return None;
            }
            Some(Value::Boolean(java_bool(&extract_default(expr, "false")?)))
        }
        "int2" | "int4" | "int8" => {
            if null_default {
                return None;
            }
            decode_conv(conv, &extract_default(expr, "0")?, Phase::Snapshot).ok()
        }
        "float4" | "float8" => {
            if null_default {
                return None;
            }
            decode_conv(conv, &extract_default(expr, "0.0")?, Phase::Snapshot).ok()
        }
        "numeric" => {
            if null_default {
                return None;
            }
            let d = text::parse_decimal(&extract_default(expr, "0.0")?).ok()?;
            match conv {
                Conv::Decimal { scale, mode } => {
                    let d = if d.scale < *scale {
                        d.rescale(*scale)
                    } else {
                        d
                    };
                    Some(decimal_value(&d, *mode))
                }
                // A struct cannot be a default (KAFKA-12694): Debezium drops it.
                Conv::VarDecimal {
                    mode: DecimalMode::Precise,
                    ..
                } => None,
                Conv::VarDecimal { mode, .. } => Some(decimal_value(&d, *mode)),
                _ => None,
            }
        }
        "bpchar" | "varchar" | "text" | "xml" => Some(Value::String(extract_default(expr, "")?)),
        "json" | "jsonb" => Some(Value::String(extract_default(expr, "{}")?)),
        "uuid" => {
            let u = extract_default(expr, "00000000-0000-0000-0000-000000000000")?;
            let ok = u.len() == 36
                && u.char_indices().all(|(i, c)| {
                    if [8, 13, 18, 23].contains(&i) {
                        c == '-'
                    } else {
                        c.is_ascii_hexdigit()
                    }
                });
            ok.then(|| Value::String(u.to_ascii_lowercase()))
        }
        "date" => {
            let v = extract_default(expr, "1970-01-01")?;
            // PgJDBC's toLocalDateTime: a date, possibly with a time part.
            let date = v.split([' ', 'T']).next().unwrap_or("");
            match text::parse_date(date).ok()? {
                d @ DateText::Date { .. } => Some(Value::Int32(date_days(d, Phase::Stream).ok()?)),
                _ => None,
            }
        }
        "time" => decode_conv(conv, &extract_default(expr, "00:00")?, Phase::Snapshot).ok(),
        "timestamp" | "timestamptz" => {
            let v = extract_default(expr, "1970-01-01")?;
            let ts = text::parse_timestamp(&v, false).ok()?;
            match (ts, conv) {
                (TsText::Micros(m), Conv::Timestamp { millis }) => Some(Value::Int64(if *millis {
                    i64_of(m.div_euclid(1000)).ok()?
                } else {
                    i64_of(m).ok()?
                })),
                (TsText::Micros(m), Conv::TimestampTz { width }) => {
                    Some(Value::String(text::format_zoned_timestamp(m, *width)))
                }
                _ => None,
            }
        }
        "interval" => {
            let v = extract_default(expr, "epoch")?;
            let v = if v == "epoch" {
                "00:00:00".to_string()
            } else {
                v
            };
            decode_conv(conv, &v, Phase::Snapshot).ok()
        }
        "bit" => {
            let v = extract_default(expr, "00")?;
            match conv {
                Conv::Bit1 if v.len() == 1 => Some(Value::Boolean(v == "1")),
                Conv::Bits => text::bits_to_bytes(&v).ok().map(Value::Bytes),
                _ => None,
            }
        }
        "varbit" => {
            let v = extract_default(expr, "0")?;
            decode_conv(conv, &v, Phase::Snapshot).ok()
        }
        _ => None,
    }
}
