//! Converters: Kafka Connect data (schema + value) to and from the bytes of a
//! Kafka record key or value, as `key.converter` / `value.converter` select.
//!
//! Three are built in, each matching its Kafka Connect namesake's output:
//! [`JsonConverter`] (`org.apache.kafka.connect.json.JsonConverter`),
//! [`StringConverter`] (`org.apache.kafka.connect.storage.StringConverter`)
//! and [`ByteArrayConverter`]
//! (`org.apache.kafka.connect.converters.ByteArrayConverter`).
//! [`converter_for_class`] finds one by Java class name or short alias.

pub mod bytearray;
pub mod json;
mod json_parse;
pub mod numbers;
pub mod string;

use velocity_api::{ConnectError, RawConfig, Schema, SchemaRef, Type, Value};

pub use bytearray::ByteArrayConverter;
pub use json::{DecimalFormat, JsonConverter};
pub use numbers::{java_double_to_string, java_float_to_string};
pub use string::{connect_to_string, StringConverter};

/// Turns Connect data into record bytes and back.
///
/// One instance serves one side (key or value) of one connector; the runtime
/// may call it from several threads at once, so implementations keep any
/// cache behind interior synchronization.
pub trait Converter: Send + Sync {
    /// Configures from the converter's own keys (prefix `key.converter.`/`value.converter.` removed); `is_key` tells which side.
    fn configure(&mut self, config: &RawConfig, is_key: bool) -> Result<(), ConnectError>;
    /// Connect data → bytes. None for a null value (tombstone) — exactly when Kafka Connect produces a null payload.
    // Named after Kafka's `fromConnectData`; it converts *from* Connect data.
    #[allow(clippy::wrong_self_convention)]
    fn from_connect(
        &self,
        topic: &str,
        schema: Option<&Schema>,
        value: &Value,
    ) -> Result<Option<Vec<u8>>, ConnectError>;
    /// bytes → Connect data (sink side). None input = null.
    fn to_connect(
        &self,
        topic: &str,
        bytes: Option<&[u8]>,
    ) -> Result<(Option<SchemaRef>, Value), ConnectError>;
}

/// Java class names of the built-in converters, for error messages and the
/// REST API.
pub const CONVERTER_CLASSES: &[&str] = &[
    "org.apache.kafka.connect.json.JsonConverter",
    "org.apache.kafka.connect.storage.StringConverter",
    "org.apache.kafka.connect.converters.ByteArrayConverter",
];

/// A new, unconfigured converter for `class`: a Java class name from
/// [`CONVERTER_CLASSES`] or its simple name (`JsonConverter`,
/// `StringConverter`, `ByteArrayConverter`). None for anything else.
pub fn converter_for_class(class: &str) -> Option<Box<dyn Converter>> {
    let class = class.trim();
    let simple = class.rsplit('.').next().unwrap_or(class);
    if class.contains('.') && !CONVERTER_CLASSES.contains(&class) {
        return None;
    }
    match simple {
        "JsonConverter" => Some(Box::new(JsonConverter::new())),
        "StringConverter" => Some(Box::new(StringConverter::new())),
        "ByteArrayConverter" => Some(Box::new(ByteArrayConverter)),
        _ => None,
    }
}

/// The name of `t` as Java's `Schema.Type.toString()` prints it (`INT32`,
/// `FLOAT64`, `STRUCT`...), used in Kafka's error messages.
pub fn java_type_name(t: Type) -> &'static str {
    match t {
        Type::Int8 => "INT8",
        Type::Int16 => "INT16",
        Type::Int32 => "INT32",
        Type::Int64 => "INT64",
        Type::Float32 => "FLOAT32",
        Type::Float64 => "FLOAT64",
        Type::Boolean => "BOOLEAN",
        Type::String => "STRING",
        Type::Bytes => "BYTES",
        Type::Array => "ARRAY",
        Type::Map => "MAP",
        Type::Struct => "STRUCT",
    }
}

/// A short name of a value's variant for error messages (`String`, `Int32`...).
pub fn value_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Int8(_) => "Int8",
        Value::Int16(_) => "Int16",
        Value::Int32(_) => "Int32",
        Value::Int64(_) => "Int64",
        Value::Float32(_) => "Float32",
        Value::Float64(_) => "Float64",
        Value::Boolean(_) => "Boolean",
        Value::String(_) => "String",
        Value::Bytes(_) => "Bytes",
        Value::Array(_) => "Array",
        Value::Map(_) => "Map",
        Value::Struct(_) => "Struct",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_converters_by_class_and_alias() {
        for name in [
            "org.apache.kafka.connect.json.JsonConverter",
            "JsonConverter",
            " org.apache.kafka.connect.storage.StringConverter ",
            "StringConverter",
            "org.apache.kafka.connect.converters.ByteArrayConverter",
            "ByteArrayConverter",
        ] {
            assert!(converter_for_class(name).is_some(), "{name}");
        }
        for name in [
            "AvroConverter",
            "io.confluent.connect.avro.AvroConverter",
            "com.x.JsonConverter",
            "",
        ] {
            assert!(converter_for_class(name).is_none(), "{name}");
        }
    }

    #[test]
    fn boxed_converters_work() {
        let mut c = converter_for_class("StringConverter").unwrap();
        c.configure(&RawConfig::new(), false).unwrap();
        assert_eq!(
            c.from_connect("t", None, &Value::from("x")).unwrap(),
            Some(b"x".to_vec())
        );
    }
}
