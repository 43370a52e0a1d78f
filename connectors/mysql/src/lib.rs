//! Debezium-compatible MySQL and MariaDB source connectors
//! (`io.debezium.connector.mysql.MySqlConnector`,
//! `io.debezium.connector.mariadb.MariaDbConnector`) over the binlog
//! replication protocol (`mysql_async`'s binlog stream, events parsed by
//! `mysql_common::binlog`).
//!
//! Layout, as every connector: [`config`], [`connector`], [`task`],
//! [`error`]; protocol modules: [`binlog`] (positions, GTIDs, offsets,
//! server dialects), [`catalog`] (table metadata from
//! `information_schema`), [`types`] (Debezium's type mapping), [`envelope`]
//! (the `source` block, table schemas and schema-change records; the events
//! themselves come from `velocity_api::debezium`), [`reader`] (checks,
//! snapshot, streaming), [`locking`] (`snapshot.locking.mode`), [`tls`]
//! (`database.ssl.*`).

pub mod binlog;
pub mod catalog;
pub mod config;
pub mod connector;
pub mod ddl;
pub mod envelope;
pub mod error;
pub mod history;
pub mod locking;
pub mod reader;
pub mod task;
pub mod tls;
pub mod types;

use velocity_api::{PluginDesc, PluginKind};

/// The MySQL connector plugin.
pub fn mysql_plugin() -> PluginDesc {
    PluginDesc {
        class: "io.debezium.connector.mysql.MySqlConnector",
        aliases: &["mysql", "MySqlConnector"],
        version: env!("CARGO_PKG_VERSION"),
        config_def: <config::MySqlConfig as velocity_api::TypedConfig>::config_def,
        kind: PluginKind::Source {
            connector: || Box::<connector::MySqlConnector>::default(),
            task: || Box::<task::MySqlSourceTask>::default(),
        },
    }
}

/// The MariaDB connector plugin.
pub fn mariadb_plugin() -> PluginDesc {
    PluginDesc {
        class: "io.debezium.connector.mariadb.MariaDbConnector",
        aliases: &["mariadb", "MariaDbConnector"],
        version: env!("CARGO_PKG_VERSION"),
        config_def: <config::MySqlConfig as velocity_api::TypedConfig>::config_def,
        kind: PluginKind::Source {
            connector: || Box::<connector::MySqlConnector>::default(),
            task: || Box::<task::MySqlSourceTask>::default(),
        },
    }
}

/// The plugins of this crate, for the binary's registry.
pub fn plugins() -> Vec<PluginDesc> {
    vec![mysql_plugin(), mariadb_plugin()]
}
