//! The materializing sink (`io.velocity.connector.materialize.MaterializeSinkConnector`,
//! alias `materialize`): the MicroBatch step of the Velocity design. It
//! consumes domain topics (the envelopes `{type, tx_id, ts_ms, data}` of
//! `io.velocity.transforms.domain.Map`) and writes one domain object across
//! several tables of PostgreSQL or MariaDB/MySQL, in ONE database
//! transaction per batch:
//!
//! - a mapping per target table ([`config::TableMapping`]): which topics
//!   and event types feed it, the columns (paths into the event), the key
//!   columns and the mode — `upsert`, `insert` (insert-only) or `replace`
//!   (the child rows of a parent key, from an array in the event, replace
//!   the rows stored for that parent); events whose type ends with
//!   `delete.on` (default `Deleted`) delete by key (or by parent key);
//! - per batch only the last event per (table, key) counts ([`model`]),
//!   so a batch is a set of idempotent row operations: replaying it after a
//!   crash between the database commit and the consumer offset commit
//!   writes the same rows again;
//! - PostgreSQL ([`postgres`]): per table a text `COPY` into a typed staging
//!   table and one `INSERT … SELECT … ON CONFLICT (key) DO UPDATE`
//!   (bulk copy + merge); MariaDB ([`mariadb`]): multi-row
//!   `INSERT … ON DUPLICATE KEY UPDATE`.
//!
//! The runtime commits consumer offsets only after [`velocity_api::SinkTask::flush`]
//! returned, i.e. after the transaction committed. Parallelism: with
//! `tasks.max` > 1 Kafka's consumer group gives each partition to one task;
//! domain topics are keyed by the domain key, so all events of one key are
//! written by one task, in order, and two tasks never write the same row
//! as long as each row's key comes from one topic's record key.

pub mod config;
pub mod connector;
pub mod error;
pub mod mariadb;
pub mod model;
pub mod postgres;
pub mod task;

use velocity_api::{PluginDesc, PluginKind};

pub use config::MaterializeConfig;
pub use connector::MaterializeSinkConnector;
pub use error::MaterializeError;
pub use task::MaterializeSinkTask;

/// Class name of the connector.
pub const CLASS: &str = "io.velocity.connector.materialize.MaterializeSinkConnector";

/// The sink plugin: class [`CLASS`], aliases `materialize`, `MaterializeSink`.
pub fn plugin() -> PluginDesc {
    PluginDesc {
        class: CLASS,
        aliases: &["materialize", "MaterializeSink"],
        version: env!("CARGO_PKG_VERSION"),
        config_def: <MaterializeConfig as velocity_api::TypedConfig>::config_def,
        kind: PluginKind::Sink {
            connector: || Box::new(MaterializeSinkConnector::default()),
            task: || Box::new(MaterializeSinkTask::default()),
        },
    }
}

/// The plugins of this crate, for the binary's registry.
pub fn plugins() -> Vec<PluginDesc> {
    vec![plugin()]
}
