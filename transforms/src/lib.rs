//! Single message transforms (SMTs) and predicates, compatible with Kafka
//! Connect's `connect-transforms` and Debezium's transforms: same class names
//! (`org.apache.kafka.connect.transforms.InsertField$Value`, …, and the simple
//! names such as `InsertField$Value`), same configuration keys and defaults,
//! same behaviour on records with a schema and on schemaless records (whose
//! values are [`velocity_api::Value::Map`] with string keys).
//!
//! Besides them: the domain pipeline ([`domain`]: cast → net-change filter
//! → map, configured without code) and the sandboxed WebAssembly plugin
//! host ([`wasm`]) for user transforms loaded at run time.
//!
//! Modules are grouped by SMT family; [`plugins`] lists every plugin for the
//! binary's registry.

pub mod cast;
pub mod debezium;
pub mod domain;
pub mod error;
pub mod fields;
pub mod filter;
pub mod flatten;
pub mod headers;
pub mod hoist_extract;
pub mod insert_field;
pub mod predicates;
pub mod routers;
pub mod schema_metadata;
pub mod time;
pub mod timestamp_converter;
pub mod util;
pub mod wasm;

#[cfg(test)]
mod testutil;

pub use error::TransformError;

use velocity_api::{PluginDesc, PluginKind};

/// Version reported for every plugin of this crate (the Kafka Connect version
/// the transforms follow).
pub const VERSION: &str = "3.9.0";

/// A transform plugin description.
pub(crate) const fn transform(
    class: &'static str,
    config_def: fn() -> velocity_api::ConfigDef,
    make: fn() -> Box<dyn velocity_api::Transform>,
) -> PluginDesc {
    PluginDesc {
        class,
        aliases: &[],
        version: VERSION,
        config_def,
        kind: PluginKind::Transform(make),
    }
}

/// The plugins of this crate, for the binary's registry: Kafka's SMTs (with
/// `$Key`/`$Value` variants where Kafka has them), Kafka's predicates,
/// Debezium's SMTs, the domain pipeline and the wasm plugin transform.
pub fn plugins() -> Vec<PluginDesc> {
    let mut v = Vec::new();
    v.extend(insert_field::plugins());
    v.extend(fields::plugins());
    v.extend(hoist_extract::plugins());
    v.extend(schema_metadata::plugins());
    v.extend(routers::plugins());
    v.extend(filter::plugins());
    v.extend(headers::plugins());
    v.extend(cast::plugins());
    v.extend(flatten::plugins());
    v.extend(timestamp_converter::plugins());
    v.extend(predicates::plugins());
    v.extend(debezium::plugins());
    v.extend(domain::plugins());
    v.extend(wasm::plugins());
    v
}
