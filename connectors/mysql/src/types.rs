//! Debezium's MySQL type mapping: the Kafka Connect schema of each column
//! type under the configured handling modes, and the conversion of values
//! from both sources Velocity reads — the binary protocol (snapshot `SELECT`)
//! and binlog row images — into Kafka Connect values.
//!
//! Defaults (Debezium's): TINYINT/SMALLINT → int16 (unsigned SMALLINT →
//! int32), MEDIUMINT/INT → int32 (unsigned INT → int64), BIGINT → int64
//! (`bigint.unsigned.handling.mode=long`), FLOAT → float32, DOUBLE → float64,
//! DECIMAL → `org.apache.kafka.connect.data.Decimal`, BIT(1) → boolean,
//! BIT(n) → `io.debezium.data.Bits`, text types → string, binary types →
//! bytes, DATE → `io.debezium.time.Date`, TIME → `io.debezium.time.MicroTime`,
//! DATETIME(0-3) → `io.debezium.time.Timestamp`, DATETIME(4-6) →
//! `io.debezium.time.MicroTimestamp`, TIMESTAMP → `io.debezium.time.ZonedTimestamp`
//! (UTC), YEAR → `io.debezium.time.Year`, JSON → `io.debezium.data.Json`,
//! ENUM → `io.debezium.data.Enum`, SET → `io.debezium.data.EnumSet`,
//! spatial types → `io.debezium.data.geometry.Geometry`.

use mysql_common::value::Value as My;
use velocity_api::debezium::columns::SourceColumn;
use velocity_api::schema::logical;
use velocity_api::{Schema, SchemaRef, Struct, Value};

use crate::catalog::Column;
use crate::config::{BigintUnsignedMode, BinaryMode, DecimalMode, MySqlConfig, TimePrecisionMode};

/// How a column's values are converted.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// BIT(1) / BOOLEAN-like bit.
    Bool,
    /// BIT(n), n > 1: little-endian bytes.
    Bits(u32),
    /// Integer of `bits` width emitted as int16.
    Int16 {
        /// Column width in bits.
        bits: u32,
        /// Unsigned column.
        unsigned: bool,
    },
    /// Integer emitted as int32.
    Int32 {
        /// Column width in bits.
        bits: u32,
        /// Unsigned column.
        unsigned: bool,
    },
    /// Integer emitted as int64.
    Int64 {
        /// Column width in bits.
        bits: u32,
        /// Unsigned column.
        unsigned: bool,
    },
    /// BIGINT UNSIGNED as Decimal(20, 0) (`bigint.unsigned.handling.mode=precise`).
    UnsignedBigPrecise,
    /// FLOAT.
    Float32,
    /// DOUBLE / REAL.
    Float64,
    /// DECIMAL / NUMERIC.
    Decimal {
        /// Digits after the point.
        scale: u32,
        /// Handling mode.
        mode: DecimalMode,
    },
    /// Character data.
    Text,
    /// Binary data, in `binary.handling.mode`.
    Binary(BinaryMode),
    /// DATE.
    Date,
    /// TIME.
    Time {
        /// Connect mode (int32 ms) instead of MicroTime.
        connect: bool,
    },
    /// DATETIME.
    DateTime {
        /// Fractional digits.
        fsp: u32,
        /// Connect mode.
        connect: bool,
    },
    /// TIMESTAMP: ISO-8601 UTC string.
    Timestamp {
        /// Fractional digits.
        fsp: u32,
    },
    /// YEAR.
    Year,
    /// JSON.
    Json,
    /// ENUM with its labels.
    Enum(Vec<String>),
    /// SET with its labels.
    Set(Vec<String>),
    /// Spatial types.
    Geometry,
}

/// One column's mapping: name, schema and conversion.
#[derive(Debug, Clone)]
pub struct ColumnMapping {
    /// Column name (field name).
    pub name: String,
    /// Field schema (optional when the column is nullable).
    pub schema: SchemaRef,
    /// Conversion.
    pub kind: Kind,
    /// `enable.time.adjuster`: DATE / DATETIME / TIMESTAMP years 0-69 are
    /// read as 2000-2069 and 70-99 as 1970-1999 (Debezium's
    /// `adjustTemporal`).
    pub time_adjuster: bool,
}

/// `io.debezium.data.geometry.Geometry`.
pub fn geometry_schema(optional: bool) -> Schema {
    Schema::struct_()
        .named(logical::DBZ_GEOMETRY)
        .version(1)
        .doc("Geometry")
        .field("wkb", Schema::bytes())
        .field("srid", Schema::int32().optional())
        .with_optional(optional)
}

/// Maps a column; None for types Velocity does not know (the column is skipped).
pub fn map_column(col: &Column, cfg: &MySqlConfig) -> Option<ColumnMapping> {
    let unsigned = col.unsigned();
    let connect = cfg.time_precision_mode == TimePrecisionMode::Connect;
    let dt = col.data_type.as_str();
    let kind = match dt {
        "bit" => match col.precision.unwrap_or(1) {
            1 => Kind::Bool,
            n => Kind::Bits(n),
        },
        "bool" | "boolean" => Kind::Bool,
        "tinyint" => Kind::Int16 { bits: 8, unsigned },
        "smallint" if unsigned => Kind::Int32 { bits: 16, unsigned },
        "smallint" => Kind::Int16 { bits: 16, unsigned },
        "mediumint" => Kind::Int32 { bits: 24, unsigned },
        "int" | "integer" if unsigned => Kind::Int64 { bits: 32, unsigned },
        "int" | "integer" => Kind::Int32 { bits: 32, unsigned },
        "bigint" if unsigned && cfg.bigint_unsigned_mode == BigintUnsignedMode::Precise => {
            Kind::UnsignedBigPrecise
        }
        "bigint" => Kind::Int64 { bits: 64, unsigned },
        "float" => Kind::Float32,
        "double" | "real" | "double precision" => Kind::Float64,
        "decimal" | "numeric" | "dec" | "fixed" => Kind::Decimal {
            scale: col.scale.unwrap_or(0),
            mode: cfg.decimal_mode,
        },
        "char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext" | "nchar"
        | "nvarchar" => Kind::Text,
        "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob" => {
            Kind::Binary(cfg.binary_mode)
        }
        "date" => Kind::Date,
        "time" => Kind::Time { connect },
        "datetime" => Kind::DateTime {
            fsp: col.fsp,
            connect,
        },
        "timestamp" => Kind::Timestamp { fsp: col.fsp },
        "year" => Kind::Year,
        "json" => Kind::Json,
        "enum" => Kind::Enum(col.labels()),
        "set" => Kind::Set(col.labels()),
        "geometry" | "point" | "linestring" | "polygon" | "multipoint" | "multilinestring"
        | "multipolygon" | "geometrycollection" | "geomcollection" => Kind::Geometry,
        _ => return None,
    };
    let schema = match &kind {
        Kind::Bool => Schema::boolean(),
        Kind::Bits(n) => Schema::bytes()
            .named(logical::DBZ_BITS)
            .version(1)
            .param("length", n.to_string()),
        Kind::Int16 { .. } => Schema::int16(),
        Kind::Int32 { .. } => Schema::int32(),
        Kind::Int64 { .. } => Schema::int64(),
        Kind::UnsignedBigPrecise => logical::decimal(0, Some(20)),
        Kind::Float32 => Schema::float32(),
        Kind::Float64 => Schema::float64(),
        Kind::Decimal { scale, mode } => match mode {
            DecimalMode::Precise => {
                logical::decimal(*scale as i32, Some(col.precision.unwrap_or(10) as i32))
            }
            DecimalMode::Double => Schema::float64(),
            DecimalMode::String => Schema::string(),
        },
        Kind::Text => Schema::string(),
        Kind::Binary(mode) => mode.schema(),
        Kind::Date => {
            if connect {
                Schema::int32().named(logical::DATE).version(1)
            } else {
                Schema::int32().named(logical::DBZ_DATE).version(1)
            }
        }
        Kind::Time { connect: true } => Schema::int32().named(logical::TIME).version(1),
        Kind::Time { connect: false } => Schema::int64().named(logical::DBZ_MICRO_TIME).version(1),
        Kind::DateTime { connect: true, .. } => {
            Schema::int64().named(logical::TIMESTAMP).version(1)
        }
        Kind::DateTime { fsp, .. } if *fsp <= 3 => {
            Schema::int64().named(logical::DBZ_TIMESTAMP).version(1)
        }
        Kind::DateTime { .. } => Schema::int64()
            .named(logical::DBZ_MICRO_TIMESTAMP)
            .version(1),
        Kind::Timestamp { .. } => Schema::string()
            .named(logical::DBZ_ZONED_TIMESTAMP)
            .version(1),
        Kind::Year => Schema::int32().named(logical::DBZ_YEAR).version(1),
        Kind::Json => Schema::string().named(logical::DBZ_JSON).version(1),
        Kind::Enum(labels) => Schema::string()
            .named(logical::DBZ_ENUM)
            .version(1)
            .param("allowed", labels.join(",")),
        Kind::Set(labels) => Schema::string()
            .named(logical::DBZ_ENUM_SET)
            .version(1)
            .param("allowed", labels.join(",")),
        Kind::Geometry => geometry_schema(false),
    };
    let mut schema = schema.with_optional(col.nullable);
    if let Some(d) = default_value(&kind, col) {
        schema = schema.default_value(d);
    }
    Some(ColumnMapping {
        name: col.name.clone(),
        schema: schema.build(),
        kind,
        time_adjuster: cfg.time_adjuster,
    })
}

/// `col` as Debezium's MySQL / MariaDB DDL parser describes it to the
/// column options ([`SourceColumn`]): the type keyword upper-cased with
/// `UNSIGNED` / `ZEROFILL` (`INT UNSIGNED`; `ENUM` and `SET` alone); the
/// length written in the type (`VARCHAR(20)` → 20, `INT(11)` → 11,
/// `DATETIME(3)` → 3), DECIMAL's precision (default 10), 1 for ENUM and the
/// labels plus commas for SET, none otherwise (`TEXT`, `INT`); the scale of
/// DECIMAL (default 0) and of `FLOAT(p,s)` / `DOUBLE(p,s)`. Character
/// columns (masked and hashed): CHAR, VARCHAR, the TEXT types, ENUM and SET.
/// Type names are the normalised ones Velocity's DDL model keeps (`INT` for
/// `INTEGER`, `DECIMAL` for `NUMERIC`).
pub fn source_column(col: &Column) -> SourceColumn {
    let dt = col.data_type.as_str();
    let dims: Vec<i32> = col
        .column_type
        .split_once('(')
        .filter(|_| !matches!(dt, "enum" | "set"))
        .and_then(|(_, rest)| rest.split_once(')'))
        .map(|(inner, _)| {
            inner
                .split(',')
                .filter_map(|n| n.trim().parse().ok())
                .collect()
        })
        .unwrap_or_default();
    let (length, scale) = match dt {
        "enum" => (Some(1), None),
        "set" => (Some((col.labels().len() as i32 * 2 - 1).max(0)), None),
        "decimal" | "numeric" | "dec" | "fixed" => (
            Some(col.precision.map_or(10, |p| p as i32)),
            Some(col.scale.map_or(0, |s| s as i32)),
        ),
        "bit" => (Some(col.precision.map_or(1, |p| p as i32)), None),
        "float" | "double" | "real" => (dims.first().copied(), dims.get(1).copied()),
        _ => (dims.first().copied(), None),
    };
    let mut type_name = dt.to_uppercase();
    if !matches!(dt, "enum" | "set") {
        for flag in ["unsigned", "zerofill"] {
            if col.column_type.split_whitespace().any(|w| w == flag) {
                type_name.push(' ');
                type_name.push_str(&flag.to_uppercase());
            }
        }
    }
    SourceColumn {
        name: col.name.clone(),
        type_name,
        length,
        scale,
        character: matches!(
            dt,
            "char"
                | "varchar"
                | "tinytext"
                | "text"
                | "mediumtext"
                | "longtext"
                | "nchar"
                | "nvarchar"
                | "enum"
                | "set"
        ),
    }
}

/// The column's DEFAULT as a Kafka Connect value of its schema, as
/// Debezium writes it into the field schema (`"default"`): literals of
/// numeric, boolean, decimal, character, ENUM/SET and BIT(1) columns, and
/// `CURRENT_TIMESTAMP` of a NOT NULL TIMESTAMP as the epoch. Expressions,
/// `NULL` and other types give no default.
pub fn default_value(kind: &Kind, col: &Column) -> Option<Value> {
    let d = col.default.as_deref()?.trim();
    let lower = d.to_ascii_lowercase();
    let int = || -> Option<i128> {
        if let Some(bits) = lower.strip_prefix("b'").and_then(|x| x.strip_suffix('\'')) {
            return i128::from_str_radix(bits, 2).ok();
        }
        match lower.as_str() {
            "true" => Some(1),
            "false" => Some(0),
            _ => d
                .parse::<i128>()
                .ok()
                .or_else(|| d.parse::<f64>().ok().map(|f| f.round() as i128)),
        }
    };
    Some(match kind {
        Kind::Bool => Value::Boolean(int()? != 0),
        Kind::Int16 { .. } => Value::Int16(i16::try_from(int()?).ok()?),
        Kind::Int32 { .. } => Value::Int32(i32::try_from(int()?).ok()?),
        Kind::Int64 { .. } => Value::Int64(int()? as i64),
        Kind::Float32 => Value::Float32(d.parse().ok()?),
        Kind::Float64 => Value::Float64(d.parse().ok()?),
        Kind::Decimal { scale, mode } => match mode {
            DecimalMode::Precise => Value::Bytes(decimal_bytes(d, *scale)?),
            DecimalMode::Double => Value::Float64(d.parse().ok()?),
            DecimalMode::String => Value::String(d.to_owned()),
        },
        Kind::Text | Kind::Enum(_) | Kind::Set(_) => {
            if lower.contains('(') || lower.starts_with("current_") {
                return None;
            }
            Value::String(d.to_owned())
        }
        Kind::Timestamp { fsp } if !col.nullable && lower.starts_with("current_timestamp") => {
            Value::String(zoned_timestamp(0, *fsp))
        }
        Kind::Year => Value::Int32(i32::try_from(int()?).ok()?),
        _ => return None,
    })
}

pub use velocity_api::calendar::{civil_from_days, days_from_civil};

/// Formats epoch microseconds as Debezium's ZonedTimestamp in UTC
/// (`2024-05-01T10:20:30.123000Z`: the fraction padded to the column's `fsp`).
pub fn zoned_timestamp(micros: i64, fsp: u32) -> String {
    let secs = micros.div_euclid(1_000_000);
    let us = micros.rem_euclid(1_000_000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let mut s = format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        sod / 3600,
        (sod % 3600) / 60,
        sod % 60
    );
    if fsp > 0 {
        let frac = format!("{us:06}");
        s.push('.');
        s.push_str(&frac[..fsp.min(6) as usize]);
    }
    s.push('Z');
    s
}

/// The unscaled big-endian two's-complement bytes of decimal text `text`
/// at `scale` (Java's `BigDecimal.unscaledValue().toByteArray()`).
pub fn decimal_bytes(text: &str, scale: u32) -> Option<Vec<u8>> {
    let t = text.trim();
    let (neg, t) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let (int, frac) = t.split_once('.').unwrap_or((t, ""));
    if !int.chars().chain(frac.chars()).all(|c| c.is_ascii_digit()) {
        return None;
    }
    let mut digits: String = int.to_owned();
    let mut f: String = frac.chars().take(scale as usize).collect();
    while f.len() < scale as usize {
        f.push('0');
    }
    digits.push_str(&f);
    Some(velocity_api::text::numbers::digits_to_twos_complement(
        neg,
        digits.as_bytes(),
    ))
}

fn text(v: &My) -> Option<String> {
    match v {
        My::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
        My::Int(i) => Some(i.to_string()),
        My::UInt(u) => Some(u.to_string()),
        My::Float(f) => Some(f.to_string()),
        My::Double(f) => Some(f.to_string()),
        _ => None,
    }
}

fn int_value(v: &My, bits: u32, unsigned: bool) -> Option<i128> {
    let raw: i128 = match v {
        My::Int(i) => *i as i128,
        My::UInt(u) => *u as i128,
        My::Bytes(b) => std::str::from_utf8(b).ok()?.trim().parse().ok()?,
        My::Double(d) => *d as i128,
        My::Float(f) => *f as i128,
        _ => return None,
    };
    // The binlog parser's signedness comes from optional table-map metadata
    // (absent or misaligned on some servers): normalise by the catalog's.
    let span = 1i128 << bits;
    if unsigned && raw < 0 {
        Some(raw + span)
    } else if !unsigned && bits < 128 && raw >= span / 2 && raw < span {
        Some(raw - span)
    } else {
        Some(raw)
    }
}

fn string_of(bytes: &[u8], charset: Option<&str>) -> String {
    match charset {
        Some(cs) if cs.starts_with("latin1") => bytes.iter().map(|&b| b as char).collect(),
        _ => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// A two-digit year as Debezium's `adjustTemporal` reads it: 0-69 →
/// 2000-2069, 70-99 → 1970-1999; other years unchanged.
pub fn adjust_year(y: i64) -> i64 {
    match y {
        0..=69 => y + 2000,
        70..=99 => y + 1900,
        _ => y,
    }
}

/// Epoch microseconds of a DATETIME-like value (read as UTC); `adjust`:
/// two-digit years per [`adjust_year`].
fn datetime_micros(v: &My, adjust: bool) -> Option<i64> {
    match v {
        My::Date(y, mo, d, h, mi, s, us) => {
            if *y == 0 && *mo == 0 && *d == 0 {
                return None;
            }
            let y = if adjust {
                adjust_year(*y as i64)
            } else {
                *y as i64
            };
            let days = days_from_civil(y, (*mo).max(1) as u32, (*d).max(1) as u32);
            Some(
                ((days * 86_400 + *h as i64 * 3600 + *mi as i64 * 60 + *s as i64) * 1_000_000)
                    + *us as i64,
            )
        }
        My::Bytes(b) => {
            // binlog TIMESTAMP2: "secs[.micros]" since the epoch
            let t = std::str::from_utf8(b).ok()?;
            let (s, f) = t.split_once('.').unwrap_or((t, "0"));
            let secs: i64 = s.parse().ok()?;
            let mut f = f.to_owned();
            while f.len() < 6 {
                f.push('0');
            }
            Some(secs * 1_000_000 + f[..6].parse::<i64>().ok()?)
        }
        My::Int(secs) => Some(*secs * 1_000_000),
        _ => None,
    }
}

/// Converts a driver value of `column` into the Kafka Connect value of
/// `mapping`. `binlog` tells where it comes from: binlog images carry text
/// in the column's own charset, the binary protocol (snapshot) carries it
/// already converted to the connection's UTF-8. Nulls (and MySQL zero
/// dates) become [`Value::Null`]; an unconvertible value is an error.
pub fn convert(
    mapping: &ColumnMapping,
    column: &Column,
    v: &My,
    binlog: bool,
) -> Result<Value, String> {
    if matches!(v, My::NULL) {
        return Ok(Value::Null);
    }
    let bad = || format!("unexpected value {v:?} for a {} column", column.column_type);
    Ok(match &mapping.kind {
        Kind::Bool => match v {
            My::Bytes(b) => Value::Boolean(b.iter().any(|&x| x != 0)),
            other => Value::Boolean(int_value(other, 64, false).ok_or_else(bad)? != 0),
        },
        Kind::Bits(n) => {
            let mut bytes = match v {
                My::Bytes(b) => b.clone(),
                other => (int_value(other, 64, true).ok_or_else(bad)? as u64)
                    .to_be_bytes()
                    .to_vec(),
            };
            bytes.reverse();
            bytes.resize(n.div_ceil(8) as usize, 0);
            Value::Bytes(bytes)
        }
        Kind::Int16 { bits, unsigned } => {
            Value::Int16(int_value(v, *bits, *unsigned).ok_or_else(bad)? as i16)
        }
        Kind::Int32 { bits, unsigned } => {
            Value::Int32(int_value(v, *bits, *unsigned).ok_or_else(bad)? as i32)
        }
        Kind::Int64 { bits, unsigned } => {
            Value::Int64(int_value(v, *bits, *unsigned).ok_or_else(bad)? as i64)
        }
        Kind::UnsignedBigPrecise => {
            let n = int_value(v, 64, true).ok_or_else(bad)?;
            Value::Bytes(decimal_bytes(&n.to_string(), 0).ok_or_else(bad)?)
        }
        Kind::Float32 => match v {
            My::Float(f) => Value::Float32(*f),
            My::Double(d) => Value::Float32(*d as f32),
            other => Value::Float32(text(other).and_then(|t| t.parse().ok()).ok_or_else(bad)?),
        },
        Kind::Float64 => match v {
            My::Float(f) => Value::Float64(*f as f64),
            My::Double(d) => Value::Float64(*d),
            other => Value::Float64(text(other).and_then(|t| t.parse().ok()).ok_or_else(bad)?),
        },
        Kind::Decimal { scale, mode } => {
            let t = text(v).ok_or_else(bad)?;
            match mode {
                DecimalMode::Precise => Value::Bytes(decimal_bytes(&t, *scale).ok_or_else(bad)?),
                DecimalMode::Double => Value::Float64(t.parse().map_err(|_| bad())?),
                DecimalMode::String => Value::String(t),
            }
        }
        Kind::Text => match v {
            My::Bytes(b) if binlog => Value::String(string_of(b, column.charset.as_deref())),
            My::Bytes(b) => Value::String(String::from_utf8_lossy(b).into_owned()),
            other => Value::String(text(other).ok_or_else(bad)?),
        },
        Kind::Binary(mode) => match v {
            My::Bytes(b) => mode.encode(b.clone()),
            _ => return Err(bad()),
        },
        Kind::Date => match v {
            My::Date(0, 0, 0, ..) => Value::Null,
            My::Date(y, m, d, ..) => {
                let y = if mapping.time_adjuster {
                    adjust_year(*y as i64)
                } else {
                    *y as i64
                };
                Value::Int32(days_from_civil(y, *m as u32, *d as u32) as i32)
            }
            _ => return Err(bad()),
        },
        Kind::Time { connect } => {
            let micros = match v {
                My::Time(neg, days, h, m, s, us) => {
                    let t = ((*days as i64 * 24 + *h as i64) * 3600 + *m as i64 * 60 + *s as i64)
                        * 1_000_000
                        + *us as i64;
                    if *neg {
                        -t
                    } else {
                        t
                    }
                }
                _ => return Err(bad()),
            };
            if *connect {
                Value::Int32((micros / 1000) as i32)
            } else {
                Value::Int64(micros)
            }
        }
        Kind::DateTime { fsp, connect } => match datetime_micros(v, mapping.time_adjuster) {
            None => Value::Null,
            Some(us) if *connect || *fsp <= 3 => Value::Int64(us.div_euclid(1000)),
            Some(us) => Value::Int64(us),
        },
        Kind::Timestamp { fsp } => match datetime_micros(v, mapping.time_adjuster) {
            None => Value::String(zoned_timestamp(0, *fsp)),
            Some(us) => Value::String(zoned_timestamp(us, *fsp)),
        },
        Kind::Year => Value::Int32(int_value(v, 32, false).ok_or_else(bad)? as i32),
        Kind::Json => Value::String(text(v).ok_or_else(bad)?),
        Kind::Enum(labels) => match v {
            My::Int(_) | My::UInt(_) => {
                let i = int_value(v, 16, true).ok_or_else(bad)? as usize;
                Value::String(if i == 0 {
                    String::new()
                } else {
                    labels.get(i - 1).cloned().ok_or_else(bad)?
                })
            }
            other => Value::String(text(other).ok_or_else(bad)?),
        },
        Kind::Set(labels) => match v {
            // binlog image: little-endian bitmask
            My::Bytes(b) if b.len() <= 8 && !labels.is_empty() && is_bitmask(b, labels) => {
                let mut mask: u64 = 0;
                for (i, byte) in b.iter().enumerate() {
                    mask |= (*byte as u64) << (8 * i);
                }
                let chosen: Vec<&str> = labels
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| mask & (1 << i) != 0)
                    .map(|(_, l)| l.as_str())
                    .collect();
                Value::String(chosen.join(","))
            }
            My::Int(_) | My::UInt(_) => {
                let mask = int_value(v, 64, true).ok_or_else(bad)? as u64;
                let chosen: Vec<&str> = labels
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| mask & (1 << i) != 0)
                    .map(|(_, l)| l.as_str())
                    .collect();
                Value::String(chosen.join(","))
            }
            other => Value::String(text(other).ok_or_else(bad)?),
        },
        Kind::Geometry => match v {
            My::Bytes(b) if b.len() >= 4 => {
                let srid = i32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                let schema = match &*mapping.schema {
                    s if s.type_ == velocity_api::Type::Struct => mapping.schema.clone(),
                    _ => geometry_schema(true).build(),
                };
                Value::Struct(Struct {
                    schema,
                    values: vec![
                        Value::Bytes(b[4..].to_vec()),
                        if srid == 0 {
                            Value::Null
                        } else {
                            Value::Int32(srid)
                        },
                    ],
                })
            }
            _ => return Err(bad()),
        },
    })
}

/// True when `b` cannot be a label list (so it is a binlog bitmask): the
/// snapshot returns SET values as text made of the labels.
fn is_bitmask(b: &[u8], labels: &[String]) -> bool {
    match std::str::from_utf8(b) {
        Ok(s) if !s.is_empty() => !s.split(',').all(|p| labels.iter().any(|l| l == p)),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MySqlConfig;
    use velocity_api::TypedConfig;

    fn cfg() -> MySqlConfig {
        let c: velocity_api::RawConfig = [
            ("database.hostname", "h"),
            ("database.user", "u"),
            ("database.server.id", "1"),
            ("topic.prefix", "p"),
            (
                "schema.history.internal",
                crate::config::MEMORY_SCHEMA_HISTORY,
            ),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        MySqlConfig::from_raw(&c).unwrap()
    }

    fn col(dt: &str, ct: &str) -> Column {
        Column {
            name: "c".into(),
            data_type: dt.into(),
            column_type: ct.into(),
            nullable: true,
            precision: Some(10),
            scale: Some(2),
            fsp: 0,
            charset: None,
            ..Column::default()
        }
    }

    fn conv(dt: &str, ct: &str, v: My) -> Value {
        let c = col(dt, ct);
        let m = map_column(&c, &cfg()).unwrap();
        convert(&m, &c, &v, true).unwrap()
    }

    /// Debezium's `Column` of the DDL parser: type name, length, scale and
    /// whether the values are masked and hashed.
    #[test]
    fn source_columns_as_debeziums_ddl_parser() {
        let sc = |dt: &str, ct: &str, precision: Option<u32>, scale: Option<u32>| {
            let c = Column {
                precision,
                scale,
                ..col(dt, ct)
            };
            let s = source_column(&c);
            (s.type_name, s.length, s.scale, s.character)
        };
        let t = |n: &str, l: Option<i32>, s: Option<i32>, c: bool| (n.to_owned(), l, s, c);
        assert_eq!(
            sc("varchar", "varchar(20)", None, None),
            t("VARCHAR", Some(20), None, true)
        );
        assert_eq!(
            sc("char", "char(6)", None, None),
            t("CHAR", Some(6), None, true)
        );
        assert_eq!(sc("text", "text", None, None), t("TEXT", None, None, true));
        assert_eq!(
            sc("mediumtext", "mediumtext", None, None),
            t("MEDIUMTEXT", None, None, true)
        );
        assert_eq!(
            sc("int", "int(10) unsigned", Some(10), Some(0)),
            t("INT UNSIGNED", Some(10), None, false)
        );
        assert_eq!(
            sc("int", "int(11)", Some(10), Some(0)),
            t("INT", Some(11), None, false)
        );
        assert_eq!(
            sc("decimal", "decimal(8,3)", Some(8), Some(3)),
            t("DECIMAL", Some(8), Some(3), false)
        );
        assert_eq!(
            sc("datetime", "datetime(3)", None, None),
            t("DATETIME", Some(3), None, false)
        );
        assert_eq!(
            sc("double", "double", Some(22), None),
            t("DOUBLE", None, None, false)
        );
        assert_eq!(
            sc("enum", "enum('a','b','c')", None, None),
            t("ENUM", Some(1), None, true)
        );
        assert_eq!(
            sc("set", "set('x','y')", None, None),
            t("SET", Some(3), None, true)
        );
        assert_eq!(sc("blob", "blob", None, None), t("BLOB", None, None, false));
        assert_eq!(sc("json", "json", None, None), t("JSON", None, None, false));
    }

    #[test]
    fn decimal_bytes_like_java() {
        assert_eq!(decimal_bytes("1.23", 2).unwrap(), vec![0x7b]);
        assert_eq!(decimal_bytes("-1.23", 2).unwrap(), vec![0x85]);
        assert_eq!(decimal_bytes("128", 0).unwrap(), vec![0x00, 0x80]);
        assert_eq!(decimal_bytes("-128", 0).unwrap(), vec![0x80]);
        assert_eq!(decimal_bytes("0.00", 2).unwrap(), vec![0x00]);
        assert_eq!(decimal_bytes("12345.6", 2).unwrap(), vec![0x12, 0xd6, 0x80]);
    }

    #[test]
    fn dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2024, 2, 29), 19782);
        assert_eq!(civil_from_days(19782), (2024, 2, 29));
        assert_eq!(zoned_timestamp(0, 0), "1970-01-01T00:00:00Z");
        assert_eq!(
            zoned_timestamp(1_714_558_830_123_000, 3),
            "2024-05-01T10:20:30.123Z"
        );
    }

    #[test]
    fn unsigned_binlog_ints_are_widened() {
        assert_eq!(
            conv("int", "int(10) unsigned", My::Int(-1)),
            Value::Int64(4_294_967_295)
        );
        assert_eq!(
            conv("smallint", "smallint(5) unsigned", My::Int(-1)),
            Value::Int32(65535)
        );
        assert_eq!(conv("tinyint", "tinyint(1)", My::Int(1)), Value::Int16(1));
        // signed columns read as unsigned by the binlog parser
        assert_eq!(
            conv("mediumint", "mediumint(9)", My::Int(8_388_608)),
            Value::Int32(-8_388_608)
        );
        assert_eq!(
            conv("tinyint", "tinyint(4)", My::UInt(128)),
            Value::Int16(-128)
        );
        assert_eq!(
            conv("bigint", "bigint(20)", My::UInt(u64::MAX)),
            Value::Int64(-1)
        );
    }

    #[test]
    fn enum_and_set_from_both_sources() {
        let e = "enum('red','green')";
        assert_eq!(conv("enum", e, My::Int(2)), Value::String("green".into()));
        assert_eq!(
            conv("enum", e, My::Bytes(b"red".to_vec())),
            Value::String("red".into())
        );
        let s = "set('a','b','c')";
        assert_eq!(
            conv("set", s, My::Bytes(vec![5])),
            Value::String("a,c".into())
        );
        assert_eq!(
            conv("set", s, My::Bytes(b"a,c".to_vec())),
            Value::String("a,c".into())
        );
    }

    #[test]
    fn timestamps_binlog_and_snapshot_agree() {
        let mut c = col("timestamp", "timestamp(3)");
        c.fsp = 3;
        let m = map_column(&c, &cfg()).unwrap();
        let a = convert(&m, &c, &My::Bytes(b"1714558830.123000".to_vec()), true).unwrap();
        let b = convert(&m, &c, &My::Date(2024, 5, 1, 10, 20, 30, 123_000), true).unwrap();
        assert_eq!(a, b);
        assert_eq!(a, Value::String("2024-05-01T10:20:30.123Z".into()));
    }

    #[test]
    fn bits_are_little_endian() {
        let mut c = col("bit", "bit(12)");
        c.precision = Some(12);
        let m = map_column(&c, &cfg()).unwrap();
        assert_eq!(
            convert(&m, &c, &My::Bytes(vec![0x0a, 0xbc]), true).unwrap(),
            Value::Bytes(vec![0xbc, 0x0a])
        );
    }

    #[test]
    fn latin1_text_is_decoded_only_from_binlog_images() {
        let mut c = col("varchar", "varchar(10)");
        c.charset = Some("latin1".into());
        let m = map_column(&c, &cfg()).unwrap();
        let binlog = convert(&m, &c, &My::Bytes(vec![0x63, 0xe9]), true).unwrap();
        let snapshot = convert(&m, &c, &My::Bytes("cé".as_bytes().to_vec()), false).unwrap();
        assert_eq!(binlog, Value::String("cé".into()));
        assert_eq!(snapshot, binlog);
    }

    #[test]
    fn datetime_precision() {
        let mut c = col("datetime", "datetime(6)");
        c.fsp = 6;
        let m = map_column(&c, &cfg()).unwrap();
        assert!(m.schema.is_named(logical::DBZ_MICRO_TIMESTAMP));
        assert_eq!(
            convert(&m, &c, &My::Date(1970, 1, 2, 0, 0, 0, 5), true).unwrap(),
            Value::Int64(86_400_000_005)
        );
        let c = col("datetime", "datetime");
        let m = map_column(&c, &cfg()).unwrap();
        assert!(m.schema.is_named(logical::DBZ_TIMESTAMP));
    }

    #[test]
    fn two_digit_years_are_adjusted_unless_disabled() {
        assert_eq!(adjust_year(0), 2000);
        assert_eq!(adjust_year(69), 2069);
        assert_eq!(adjust_year(70), 1970);
        assert_eq!(adjust_year(99), 1999);
        assert_eq!(adjust_year(100), 100);
        assert_eq!(adjust_year(2024), 2024);
        let d = col("date", "date");
        let dt = col("datetime", "datetime");
        let mut m = map_column(&d, &cfg()).unwrap();
        let mut mt = map_column(&dt, &cfg()).unwrap();
        assert!(m.time_adjuster, "enable.time.adjuster defaults to true");
        let date = My::Date(10, 5, 1, 0, 0, 0, 0);
        let when = My::Date(85, 1, 1, 0, 0, 1, 0);
        assert_eq!(
            convert(&m, &d, &date, true).unwrap(),
            Value::Int32(days_from_civil(2010, 5, 1) as i32)
        );
        assert_eq!(
            convert(&mt, &dt, &when, true).unwrap(),
            Value::Int64(days_from_civil(1985, 1, 1) * 86_400_000 + 1000)
        );
        m.time_adjuster = false;
        mt.time_adjuster = false;
        assert_eq!(
            convert(&m, &d, &date, true).unwrap(),
            Value::Int32(days_from_civil(10, 5, 1) as i32)
        );
        assert_eq!(
            convert(&mt, &dt, &when, true).unwrap(),
            Value::Int64(days_from_civil(85, 1, 1) * 86_400_000 + 1000)
        );
    }

    #[test]
    fn defaults_from_the_ddl_in_field_schemas() {
        let mut m = crate::ddl::Tables::new(true);
        m.apply(
            "db",
            "CREATE TABLE t (a INT NOT NULL DEFAULT 5, b VARCHAR(5) DEFAULT 'x', c DECIMAL(5,2) DEFAULT 1.50, \
             d TINYINT(1) NOT NULL DEFAULT TRUE, e BIT(1) DEFAULT b'1', f INT DEFAULT NULL, \
             g TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, h ENUM('p','q') DEFAULT 'q', i DOUBLE DEFAULT -2.5, \
             j DATETIME DEFAULT CURRENT_TIMESTAMP, k INT)",
        );
        let t = m.get("db", "t").unwrap();
        let d = |n: &str| {
            let c = t.columns.iter().find(|c| c.name == n).unwrap();
            map_column(c, &cfg()).unwrap().schema.default.clone()
        };
        assert_eq!(d("a"), Some(Value::Int32(5)));
        assert_eq!(d("b"), Some(Value::String("x".into())));
        assert_eq!(d("c"), Some(Value::Bytes(vec![0x00, 0x96])));
        assert_eq!(d("d"), Some(Value::Int16(1)));
        assert_eq!(d("e"), Some(Value::Boolean(true)));
        assert_eq!(d("f"), None);
        assert_eq!(d("g"), Some(Value::String("1970-01-01T00:00:00Z".into())));
        assert_eq!(d("h"), Some(Value::String("q".into())));
        assert_eq!(d("i"), Some(Value::Float64(-2.5)));
        assert_eq!(d("j"), None);
        assert_eq!(d("k"), None);
        let a = t.columns.iter().find(|c| c.name == "a").unwrap();
        assert!(!map_column(a, &cfg()).unwrap().schema.optional);
    }
}
