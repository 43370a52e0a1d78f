//! Confluent's `io.confluent.connect.avro.AvroConverter` for Velocity (alias
//! `avro`): Connect schemas and values mapped to Avro exactly as Confluent's
//! `AvroData` (7.0) maps them, written in Confluent's wire format, with the
//! schemas registered in (or looked up from) a Schema Registry through a
//! `reqwest` client with failover, retries, basic auth and PEM TLS.
//!
//! A converter plugin, not part of the runtime: the runtime knows converters
//! only through [`velocity_api::Converter`] and the plugin registry.

pub mod compat;
pub mod config;
pub mod converter;
pub mod encode;
pub mod error;
pub mod json;
pub mod parse;
pub mod registry;
pub mod to_avro;
pub mod to_connect;

pub use config::{AvroConverterConfig, SubjectNameStrategy};
pub use converter::AvroConverter;
pub use error::AvroError;
pub use to_avro::{avro_schema_json, MappingOptions};

use velocity_api::{Converter, PluginDesc, PluginKind};

/// The Java class name.
pub const CLASS: &str = "io.confluent.connect.avro.AvroConverter";

fn make() -> Box<dyn Converter> {
    Box::new(AvroConverter::new())
}

/// The converter's plugin entry (class `io.confluent.connect.avro.AvroConverter`, alias `avro`).
pub fn plugin() -> PluginDesc {
    PluginDesc {
        class: CLASS,
        aliases: &["avro"],
        version: "7.0.16",
        config_def: config::config_def,
        kind: PluginKind::Converter(make),
    }
}
