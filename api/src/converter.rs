//! The converter contract: Kafka Connect data (schema + value) to and from
//! the bytes of a Kafka record key or value, as `key.converter` /
//! `value.converter` select. The runtime builds its own converters (JSON,
//! String, ByteArray); others (e.g. Avro with a Schema Registry) are plugins
//! registered as [`crate::PluginKind::Converter`].

use crate::config::RawConfig;
use crate::error::ConnectError;
use crate::schema::{Schema, SchemaRef};
use crate::value::Value;

/// Turns Connect data into record bytes and back.
///
/// One instance serves one side (key or value) of one connector; the runtime
/// may call it from several threads at once, so implementations keep any
/// cache behind interior synchronization. Errors keep their kind: a
/// retriable error (e.g. a schema registry that cannot be reached) lets the
/// runtime retry the record.
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
