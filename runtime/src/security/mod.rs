//! Security of the worker's two faces: the Kafka clients it makes
//! ([`kafka`]: `security.protocol`, `ssl.*`, `sasl.*` with Kafka's Java names
//! translated to librdkafka's, and the connector client override policy) and
//! the REST API ([`rest`]: `https://` listeners with PEM keys, client
//! certificates, HTTP Basic authentication from a JAAS file).

pub mod jaas;
pub mod kafka;
pub mod rest;

use velocity_api::config::ConfigExt;
use velocity_api::{PluginRegistry, RawConfig};

use crate::error::{Result, RuntimeError};

/// The worker key that registers the FileStream connectors.
pub const FILE_CONNECTORS_ENABLE: &str = "velocity.file.connectors.enable";

/// The package of Kafka's FileStream connectors.
const FILE_CONNECTOR_PACKAGE: &str = "org.apache.kafka.connect.file.";

/// Removes the FileStream connectors (which read and write any file the
/// worker may access) unless `velocity.file.connectors.enable=true`; Kafka
/// took them off the default plugin path in 3.2 for the same reason.
pub fn gate_file_connectors(
    registry: PluginRegistry,
    worker: &RawConfig,
) -> Result<PluginRegistry> {
    let enabled = worker
        .bool_or(FILE_CONNECTORS_ENABLE, false)
        .map_err(|e| RuntimeError::BadRequest(e.to_string()))?;
    if enabled {
        return Ok(registry);
    }
    Ok(registry
        .all()
        .iter()
        .filter(|p| !p.class.starts_with(FILE_CONNECTOR_PACKAGE))
        .fold(PluginRegistry::new(), |r, p| r.register(*p)))
}
