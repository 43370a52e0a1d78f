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
pub use velocity_api::text::numbers;
pub mod string;

use velocity_api::{Type, Value};

/// The converter contract, defined in `velocity-api` so converter plugins
/// need not depend on the runtime.
pub use velocity_api::Converter;

pub use bytearray::ByteArrayConverter;
pub use json::{DecimalFormat, JsonConverter};
pub use numbers::{java_double_to_string, java_float_to_string};
pub use string::{connect_to_string, StringConverter};

/// Java class names of the built-in converters, for error messages and the
/// REST API.
pub const CONVERTER_CLASSES: &[&str] = &[
    "org.apache.kafka.connect.json.JsonConverter",
    "org.apache.kafka.connect.storage.StringConverter",
    "org.apache.kafka.connect.converters.ByteArrayConverter",
];

/// A converter or header converter as `GET /connector-plugins?connectorsOnly=false`
/// lists it.
pub struct ConverterPlugin {
    /// Java class name.
    pub class: &'static str,
    /// `converter` or `header_converter`.
    pub type_name: &'static str,
    /// Its keys, for `GET /connector-plugins/{class}/config`.
    pub config_def: fn() -> velocity_api::ConfigDef,
}

fn converter_type_key() -> velocity_api::config::ConfigKey {
    use velocity_api::config::{ConfigKey, ConfigType, Importance};
    ConfigKey::new(
        "converter.type",
        ConfigType::String,
        None,
        Importance::Low,
        "How this converter will be used.",
    )
    .one_of(&["key", "value", "header"])
}

fn json_def() -> velocity_api::ConfigDef {
    use velocity_api::config::{ConfigKey, ConfigType::*, Importance::*};
    velocity_api::ConfigDef::new(vec![
        converter_type_key(),
        ConfigKey::new(json::SCHEMAS_ENABLE_CONFIG, Boolean, Some("true"), High, "Include schemas within each of the serialized values and keys."),
        ConfigKey::new(json::SCHEMAS_CACHE_SIZE_CONFIG, Int, Some("1000"), High, "The maximum number of schemas that can be cached in this converter instance."),
        ConfigKey::new(json::DECIMAL_FORMAT_CONFIG, String, Some("BASE64"), Low, "Controls which format this converter will serialize decimals in.").one_of(&["BASE64", "NUMERIC"]),
        ConfigKey::new(json::REPLACE_NULL_WITH_DEFAULT_CONFIG, Boolean, Some("true"), Low, "Whether to replace fields that have a default value and that are null to the default value."),
    ])
}

fn string_def() -> velocity_api::ConfigDef {
    use velocity_api::config::{ConfigKey, ConfigType::*, Importance::*};
    velocity_api::ConfigDef::new(vec![
        converter_type_key(),
        ConfigKey::new("converter.encoding", String, Some("UTF-8"), High, "The name of the Java character set to use for encoding strings as byte arrays (Velocity: UTF-8 only)."),
    ])
}

fn bytearray_def() -> velocity_api::ConfigDef {
    velocity_api::ConfigDef::new(vec![converter_type_key()])
}

/// The converters and header converters Velocity has, with Kafka's class
/// names. Record headers are always written as Kafka's
/// `SimpleHeaderConverter` writes them.
pub const PLUGINS: &[ConverterPlugin] = &[
    ConverterPlugin {
        class: "org.apache.kafka.connect.json.JsonConverter",
        type_name: "converter",
        config_def: json_def,
    },
    ConverterPlugin {
        class: "org.apache.kafka.connect.storage.StringConverter",
        type_name: "converter",
        config_def: string_def,
    },
    ConverterPlugin {
        class: "org.apache.kafka.connect.converters.ByteArrayConverter",
        type_name: "converter",
        config_def: bytearray_def,
    },
    ConverterPlugin {
        class: "org.apache.kafka.connect.storage.SimpleHeaderConverter",
        type_name: "header_converter",
        config_def: string_def,
    },
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

/// The built-in converters as plugins, so `GET /connector-plugins?connectorsOnly=false`
/// lists them with type `converter` as Kafka Connect does.
pub fn plugins() -> Vec<velocity_api::PluginDesc> {
    fn json() -> Box<dyn Converter> {
        Box::new(JsonConverter::new())
    }
    fn string() -> Box<dyn Converter> {
        Box::new(StringConverter::new())
    }
    fn bytearray() -> Box<dyn Converter> {
        Box::new(ByteArrayConverter)
    }
    let factories: [fn() -> Box<dyn Converter>; 3] = [json, string, bytearray];
    CONVERTER_CLASSES
        .iter()
        .zip(factories)
        .map(|(class, f)| velocity_api::PluginDesc {
            class,
            aliases: &[],
            version: env!("CARGO_PKG_VERSION"),
            config_def: velocity_api::ConfigDef::default,
            kind: velocity_api::PluginKind::Converter(f),
        })
        .collect()
}

/// A new, unconfigured converter for `class`: a built-in one
/// ([`converter_for_class`]) or a converter plugin registered in `registry`
/// (by class name, alias or simple name). None when neither knows it.
pub fn new_converter(
    registry: &velocity_api::PluginRegistry,
    class: &str,
) -> Option<Box<dyn Converter>> {
    converter_for_class(class).or_else(|| match registry.find(class).map(|p| p.kind) {
        Some(velocity_api::PluginKind::Converter(f)) => Some(f()),
        _ => None,
    })
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
    use velocity_api::RawConfig;

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
