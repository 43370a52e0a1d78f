//! The connector API of Velocity: what a connector, a task or a transform sees.
//!
//! This crate is deliberately small. It holds the Kafka Connect data model
//! ([`schema`], [`value`]), the records that flow through the pipeline
//! ([`record`]), typed access to the flat string configuration maps Kafka
//! Connect uses ([`config`]), the traits a plugin implements ([`connector`],
//! [`transform`]), the plugin registry type ([`plugin`]) and the error type
//! with its retriable/fatal kind ([`error`]), and the Debezium layer every
//! source connector that emits Debezium's records builds them with
//! ([`debezium`]: envelope, `source` block, transaction metadata,
//! heartbeats).
//!
//! Connectors depend on this crate and never on each other or on the runtime;
//! the runtime depends on this crate and never on a connector.

pub mod calendar;
pub mod config;
pub mod connector;
pub mod converter;
pub mod debezium;
pub mod error;
pub mod jdbc;
pub mod metrics;
pub mod plugin;
pub mod record;
pub mod schema;
pub mod shell;
pub mod sink;
pub mod source;
pub mod text;
pub mod transform;
pub mod value;

pub use config::{
    Choice, ConfigDef, ConfigErrors, ConfigKey, ConfigReader, ConfigType, Importance, RawConfig,
    TypedConfig,
};
pub use connector::{
    Connector, OffsetReader, SinkConnector, SinkTask, SourceConnector, SourceTask, TaskContext,
};
pub use converter::Converter;
pub use error::{ConnectError, ErrorKind, Result};
pub use metrics::SourceMetrics;
pub use plugin::{PluginDesc, PluginKind, PluginRegistry};
pub use record::{
    ConnectRecord, Control, Header, Offset, Partition, SinkRecord, SourceRecord, CONTROL_HEADER,
};
pub use schema::{Field, Schema, SchemaRef, Type};
pub use transform::{Predicate, Transform};
pub use value::{Struct, Value};
