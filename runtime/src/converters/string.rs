//! Kafka Connect's `org.apache.kafka.connect.storage.StringConverter`: the
//! value's `toString()` as UTF-8 on the way out, an optional string on the
//! way in.

use std::fmt::Write as _;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use velocity_api::config::ConfigExt;
use velocity_api::schema::logical;
use velocity_api::{ConnectError, RawConfig, Schema, SchemaRef, Value};

use super::numbers::{big_decimal_to_string, java_double_to_string, java_float_to_string};
use super::Converter;

/// `converter.encoding`: the character set (only UTF-8 is supported).
pub const ENCODING_CONFIG: &str = "converter.encoding";

/// Kafka Connect's StringConverter.
///
/// `from_connect` writes [`connect_to_string`] of the value (a string as its
/// own UTF-8 bytes); a null value gives a null message whatever the schema.
/// `to_connect` returns an optional string schema and the text (invalid UTF-8
/// replaced by U+FFFD, as Java's decoder does) or null.
#[derive(Debug, Default)]
pub struct StringConverter {
    is_key: bool,
}

impl StringConverter {
    /// An unconfigured converter (UTF-8).
    pub fn new() -> StringConverter {
        StringConverter::default()
    }

    /// Whether this instance converts keys.
    pub fn is_key(&self) -> bool {
        self.is_key
    }
}

impl Converter for StringConverter {
    fn configure(&mut self, config: &RawConfig, is_key: bool) -> Result<(), ConnectError> {
        self.is_key = is_key;
        let encoding = config.str_or(ENCODING_CONFIG, "UTF8");
        let normalized = encoding.to_ascii_uppercase().replace('-', "");
        if normalized != "UTF8" {
            return Err(ConnectError::config(
                ENCODING_CONFIG,
                format!("Unsupported encoding '{encoding}': Velocity's StringConverter only supports UTF-8"),
            ));
        }
        Ok(())
    }

    fn from_connect(
        &self,
        _topic: &str,
        schema: Option<&Schema>,
        value: &Value,
    ) -> Result<Option<Vec<u8>>, ConnectError> {
        Ok(match value {
            Value::Null => None,
            Value::String(s) => Some(s.as_bytes().to_vec()),
            other => Some(connect_to_string(schema, other).into_bytes()),
        })
    }

    fn to_connect(
        &self,
        _topic: &str,
        bytes: Option<&[u8]>,
    ) -> Result<(Option<SchemaRef>, Value), ConnectError> {
        let schema = Schema::string().optional().build();
        let value = match bytes {
            None => Value::Null,
            Some(b) => Value::String(String::from_utf8_lossy(b).into_owned()),
        };
        Ok((Some(schema), value))
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
    use velocity_api::Struct;

    #[test]
    fn strings_pass_through_and_null_is_tombstone() {
        let c = StringConverter::new();
        assert_eq!(
            c.from_connect("t", Some(&Schema::string()), &Value::from("héllo"))
                .unwrap(),
            Some("héllo".as_bytes().to_vec())
        );
        assert_eq!(
            c.from_connect("t", Some(&Schema::string()), &Value::Null)
                .unwrap(),
            None
        );
        let (s, v) = c.to_connect("t", Some(b"abc")).unwrap();
        let s = s.unwrap();
        assert!(s.optional);
        assert_eq!(v, Value::from("abc"));
        assert_eq!(c.to_connect("t", None).unwrap().1, Value::Null);
        assert_eq!(
            c.to_connect("t", Some(&[0x61, 0xFF])).unwrap().1,
            Value::from("a\u{FFFD}")
        );
    }

    #[test]
    fn other_values_use_java_to_string() {
        let s = Schema::struct_()
            .field("a", Schema::int32())
            .field("b", Schema::string().optional())
            .field("c", Schema::float64())
            .build();
        let v = Value::Struct(Struct::new(s).put("a", 1).put("c", Value::Float64(2.0)));
        assert_eq!(connect_to_string(None, &v), "Struct{a=1,c=2.0}");
        assert_eq!(
            connect_to_string(
                None,
                &Value::Array(vec![Value::Int64(1), Value::Null, Value::Boolean(false)])
            ),
            "[1, null, false]"
        );
        assert_eq!(
            connect_to_string(
                None,
                &Value::Map(vec![(Value::from("k"), Value::Float32(1.5))])
            ),
            "{k=1.5}"
        );
        let dec = logical::decimal(2, None);
        assert_eq!(
            connect_to_string(Some(&dec), &Value::Bytes(vec![0x04, 0xD2])),
            "12.34"
        );
        let c = StringConverter::new();
        assert_eq!(
            c.from_connect("t", None, &Value::Int64(42)).unwrap(),
            Some(b"42".to_vec())
        );
    }

    #[test]
    fn only_utf8_is_accepted() {
        let mut c = StringConverter::new();
        let ok: RawConfig = [(ENCODING_CONFIG.to_string(), "utf-8".to_string())].into();
        c.configure(&ok, true).unwrap();
        assert!(c.is_key());
        let bad: RawConfig = [(ENCODING_CONFIG.to_string(), "ISO-8859-1".to_string())].into();
        let e = c.configure(&bad, false).unwrap_err();
        assert!(e.to_string().contains(ENCODING_CONFIG), "{e}");
    }
}
