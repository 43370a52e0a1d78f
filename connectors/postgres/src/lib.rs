//! Debezium-compatible PostgreSQL source connector
//! (`io.debezium.connector.postgresql.PostgresConnector`) over logical
//! replication with the built-in `pgoutput` plugin.
//!
//! Layout, as every connector: [`config`], [`connector`], [`task`],
//! [`error`]; protocol modules: [`protocol`] (replication protocol and
//! pgoutput), [`catalog`] (table metadata), [`types`] (Debezium's type
//! mapping), [`envelope`] (the `source` block and table schemas; the
//! events themselves come from `velocity_api::debezium`), [`reader`]
//! (snapshot + streaming), [`sql`] (regular connection), [`publication`]
//! (the publication's statements), [`replica_identity`]
//! (`replica.identity.autoset.values`).

pub mod catalog;
pub mod config;
pub mod connector;
pub mod envelope;
pub mod error;
pub mod protocol;
pub mod publication;
pub mod reader;
pub mod replica_identity;
pub mod sql;
pub mod task;
pub mod types;

use velocity_api::{PluginDesc, PluginKind};

/// The plugin description for the registry.
pub fn plugin() -> PluginDesc {
    PluginDesc {
        class: "io.debezium.connector.postgresql.PostgresConnector",
        aliases: &["postgres", "postgresql", "PostgresConnector"],
        version: env!("CARGO_PKG_VERSION"),
        config_def: <config::PostgresConfig as velocity_api::TypedConfig>::config_def,
        kind: PluginKind::Source {
            connector: || Box::<connector::PostgresConnector>::default(),
            task: || Box::<task::PostgresSourceTask>::default(),
        },
    }
}
