//! One rendering of Connect values and Connect/Debezium logical types to
//! text, shared by the StringConverter, the JsonConverter's numbers and the
//! sinks that write text (FileStreamSink, JDBC, Redis): a value is rendered
//! the same way wherever it is written.
//!
//! - [`numbers`]: Java's `Double.toString`, `Float.toString` and
//!   `BigDecimal.toString`, byte for byte.
//! - [`connect_to_string`]: Java's `toString()` of a Connect value, as
//!   Kafka's StringConverter and FileStreamSink write it.
//! - [`decimal_plain`]: a Decimal in plain notation (never `1E+3`), as SQL
//!   and key-value stores take it.
//! - [`date_text`], [`time_of_day_text`], [`timestamp_text`]: ISO-8601 text
//!   of the day counts and micro-second values that Connect's and
//!   Debezium's date/time logical types carry.
//! - [`uuid_text`]: the hyphenated form of 16 UUID bytes.

use std::fmt::Write as _;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::schema::logical;
use crate::{Schema, Value};

pub mod numbers;

use numbers::{big_decimal_to_string, java_double_to_string, java_float_to_string};

/// The hyphenated lower-case text (`3e11fa47-71ca-11e1-9e33-c80aa9429562`)
/// of a UUID's 16 bytes, most significant first.
pub fn uuid_text(bytes: &[u8; 16]) -> String {
    let h: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// `YYYY-MM-DD` of a day count since 1970-01-01 (Connect `Date`, Debezium
/// `Date`); None when out of chrono's range (PostgreSQL's `infinity`).
pub fn date_text(days: i64) -> Option<String> {
    chrono::NaiveDate::from_ymd_opt(1970, 1, 1)?
        .checked_add_signed(chrono::TimeDelta::try_days(days)?)
        .map(|d| d.format("%Y-%m-%d").to_string())
}

/// `HH:MM:SS.ffffff` of micro-seconds since midnight (Connect `Time` in
/// milli-seconds times 1000, Debezium `MicroTime`, `NanoTime` / 1000).
pub fn time_of_day_text(micros: i64) -> String {
    let secs = micros.div_euclid(1_000_000);
    let frac = micros.rem_euclid(1_000_000);
    format!(
        "{:02}:{:02}:{:02}.{frac:06}",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    )
}

/// `YYYY-MM-DD<sep>HH:MM:SS.ffffff` (UTC, no zone) of micro-seconds since
/// the epoch (Connect `Timestamp` in milli-seconds times 1000, Debezium
/// `MicroTimestamp`); `sep` is `'T'` for ISO-8601, `' '` for SQL. None when
/// out of chrono's range.
pub fn timestamp_text(micros: i64, sep: char) -> Option<String> {
    let t = chrono::DateTime::from_timestamp_micros(micros)?.naive_utc();
    Some(format!(
        "{}{sep}{}",
        t.format("%Y-%m-%d"),
        t.format("%H:%M:%S%.6f")
    ))
}

/// The plain decimal text (`12.34`, `-0.1`, `500`; never scientific) of a
/// Kafka Connect Decimal: big-endian two's-complement unscaled bytes and
/// `scale`. A negative scale appends zeros; an empty value is `0`.
pub fn decimal_plain(unscaled: &[u8], scale: i32) -> String {
    if unscaled.is_empty() {
        return "0".to_owned();
    }
    let (negative, mut digits) = numbers::twos_complement_to_decimal(unscaled);
    if scale < 0 {
        if digits != "0" {
            digits.push_str(&"0".repeat(scale.unsigned_abs() as usize));
        }
    } else if scale > 0 {
        let scale = scale as usize;
        if digits.len() <= scale {
            digits = format!("{}{digits}", "0".repeat(scale - digits.len() + 1));
        }
        digits.insert(digits.len() - scale, '.');
    }
    if negative {
        format!("-{digits}")
    } else {
        digits
    }
}

/// The text Java's `toString()` gives for the Connect value: numbers as Java
/// prints them (`1.0`, `1.0E10`), a Decimal (when `schema` says so) as
/// `BigDecimal.toString()`, lists as `[a, b]`, maps as `{k=v, k2=v2}`,
/// structs as `Struct{a=1,b=x}` (null fields left out) and null as `null`.
/// Bytes, which Java would print as an object identity, are written as
/// base64.
pub fn connect_to_string(schema: Option<&Schema>, value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, schema, value);
    out
}

fn write_value(out: &mut String, schema: Option<&Schema>, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Int8(v) => {
            let _ = write!(out, "{v}");
        }
        Value::Int16(v) => {
            let _ = write!(out, "{v}");
        }
        Value::Int32(v) => {
            let _ = write!(out, "{v}");
        }
        Value::Int64(v) => {
            let _ = write!(out, "{v}");
        }
        Value::Float32(v) => out.push_str(&java_float_to_string(*v)),
        Value::Float64(v) => out.push_str(&java_double_to_string(*v)),
        Value::Boolean(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::String(s) => out.push_str(s),
        Value::Bytes(b) => {
            let scale = schema
                .filter(|s| s.is_named(logical::DECIMAL))
                .and_then(|s| s.parameter("scale"))
                .and_then(|s| s.trim().parse::<i32>().ok());
            match scale {
                Some(scale) => out.push_str(&big_decimal_to_string(b, scale)),
                None => out.push_str(&STANDARD.encode(b)),
            }
        }
        Value::Array(items) => {
            let elem = schema.and_then(|s| s.value_schema.as_deref());
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(out, elem, item);
            }
            out.push(']');
        }
        Value::Map(entries) => {
            let ks = schema.and_then(|s| s.key_schema.as_deref());
            let vs = schema.and_then(|s| s.value_schema.as_deref());
            out.push('{');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(out, ks, k);
                out.push('=');
                write_value(out, vs, v);
            }
            out.push('}');
        }
        Value::Struct(st) => {
            out.push_str("Struct{");
            let mut first = true;
            for (field, v) in st.schema.fields.iter().zip(&st.values) {
                if v.is_null() {
                    continue;
                }
                if !first {
                    out.push(',');
                }
                first = false;
                out.push_str(&field.name);
                out.push('=');
                write_value(out, Some(&field.schema), v);
            }
            out.push('}');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Struct;

    #[test]
    fn plain_decimals() {
        assert_eq!(decimal_plain(&[0x04, 0xD2], 2), "12.34");
        assert_eq!(decimal_plain(&[0xFB, 0x2E], 2), "-12.34");
        assert_eq!(decimal_plain(&[0x05], 3), "0.005");
        assert_eq!(decimal_plain(&[0x00], 0), "0");
        assert_eq!(decimal_plain(&[], 2), "0");
        assert_eq!(decimal_plain(&[0x00], -2), "0");
        assert_eq!(decimal_plain(&[0x05], -2), "500");
        assert_eq!(decimal_plain(&[0xFF], 1), "-0.1");
        assert_eq!(decimal_plain(&[0x80], 0), "-128");
        assert_eq!(
            decimal_plain(&[1, 0, 0, 0, 0, 0, 0, 0, 0], 0),
            "18446744073709551616"
        );
        // beyond 128 bits: the limb division
        let mut big = vec![0x01];
        big.extend([0u8; 20]);
        assert_eq!(
            decimal_plain(&big, 5),
            "14615016373309029182036848327162830196559325.42976"
        );
        let neg: Vec<u8> = big.iter().map(|b| !b).collect();
        // !x = -x - 1
        assert_eq!(
            decimal_plain(&neg, 0),
            "-1461501637330902918203684832716283019655932542977"
        );
    }

    #[test]
    fn dates_and_times() {
        assert_eq!(date_text(0).as_deref(), Some("1970-01-01"));
        assert_eq!(date_text(-1).as_deref(), Some("1969-12-31"));
        assert_eq!(date_text(i64::MAX), None);
        assert_eq!(time_of_day_text(0), "00:00:00.000000");
        assert_eq!(time_of_day_text(86_399_999_999), "23:59:59.999999");
        assert_eq!(
            timestamp_text(1_700_000_000_123_456, 'T').as_deref(),
            Some("2023-11-14T22:13:20.123456")
        );
        assert_eq!(
            timestamp_text(-1, ' ').as_deref(),
            Some("1969-12-31 23:59:59.999999")
        );
        assert_eq!(timestamp_text(i64::MAX, 'T'), None);
    }

    #[test]
    fn java_to_string_of_values() {
        let s = Schema::struct_()
            .field("a", Schema::int32())
            .field("b", Schema::string().optional())
            .field("c", Schema::float64())
            .build();
        let v = Value::Struct(Struct::new(s).put("a", 1).put("c", Value::Float64(2.0)));
        assert_eq!(connect_to_string(None, &v), "Struct{a=1,c=2.0}");
        assert_eq!(connect_to_string(None, &Value::Float64(1e20)), "1.0E20");
        assert_eq!(connect_to_string(None, &Value::Float32(1.5)), "1.5");
        assert_eq!(
            connect_to_string(None, &Value::Bytes(vec![0xCA, 0xFE])),
            "yv4="
        );
        let dec = logical::decimal(-3, None);
        assert_eq!(
            connect_to_string(Some(&dec), &Value::Bytes(vec![0x01])),
            "1E+3"
        );
    }
}
