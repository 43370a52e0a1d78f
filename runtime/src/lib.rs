//! The Velocity runtime: everything of Kafka Connect's worker that is not a
//! connector.
//!
//! - [`herder`] owns connectors and tasks and applies REST requests;
//! - [`worker`] runs source and sink task loops (Kafka I/O, converters,
//!   transforms, offset commits);
//! - [`converters`] are Kafka Connect's JsonConverter, StringConverter and
//!   ByteArrayConverter, byte-compatible;
//! - [`offsets`] and [`configstore`] keep state on disk in standalone mode;
//! - [`rest`] is the Kafka Connect REST API; [`standalone`] wires it all up.
//!
//! The runtime knows no connector: plugins come in through a
//! [`velocity_api::PluginRegistry`] built by the binary.

pub mod config;
pub mod config_providers;
pub mod configstore;
pub mod converters;
pub mod distributed;
pub mod error;
pub mod health;
pub mod herder;
pub mod kafka_log;
pub mod logging;
pub mod metrics;
pub mod offsets;
pub mod properties;
pub mod rest;
pub mod retry;
pub mod security;
pub mod sink_offsets;
pub mod standalone;
pub mod status;
pub mod worker;

pub use error::{Result, RuntimeError};

/// Helpers shared by the runtime's unit tests.
#[cfg(test)]
pub(crate) mod test_support {
    /// A config from `(key, value)` pairs.
    pub use velocity_api::config::raw_config as cfg;
}
