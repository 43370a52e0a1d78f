//! A JDBC-style sink with the Debezium JDBC sink's configuration keys
//! (`io.debezium.connector.jdbc.JdbcSinkConnector`, alias `jdbc`), writing
//! to PostgreSQL (tokio-postgres) and MariaDB/MySQL (mysql_async).
//!
//! It accepts raw Debezium change events (op `c`/`r`/`u` write `after`; `d`
//! and tombstones delete when `delete.enabled`; `t` truncates when
//! `truncate.enabled`) and flat records (e.g. after ExtractNewRecordState).
//! Each batch is one database transaction in which only the last change per
//! primary key survives; PostgreSQL batches go through binary COPY into a
//! staging table and one merge statement.

pub mod config;
pub mod connector;
pub mod error;
pub mod mariadb;
pub mod model;
pub mod postgres;
pub mod render;
pub mod task;

use velocity_api::{PluginDesc, PluginKind};

pub use config::JdbcSinkConfig;
pub use connector::JdbcSinkConnector;
pub use error::JdbcError;
pub use task::JdbcSinkTask;

/// Java class name of the connector.
pub const CLASS: &str = "io.debezium.connector.jdbc.JdbcSinkConnector";

/// The sink plugin: class [`CLASS`], alias `jdbc`.
pub fn plugin() -> PluginDesc {
    PluginDesc {
        class: CLASS,
        aliases: &["jdbc", "JdbcSink"],
        version: env!("CARGO_PKG_VERSION"),
        config_def: <JdbcSinkConfig as velocity_api::TypedConfig>::config_def,
        kind: PluginKind::Sink {
            connector: || Box::new(JdbcSinkConnector::default()),
            task: || Box::new(JdbcSinkTask::default()),
        },
    }
}

/// The plugins of this crate, for the binary's registry.
pub fn plugins() -> Vec<PluginDesc> {
    vec![plugin()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use velocity_api::PluginRegistry;

    #[test]
    fn registry_finds_it() {
        let reg = plugins()
            .into_iter()
            .fold(PluginRegistry::new(), PluginRegistry::register);
        for n in [CLASS, "jdbc", "JdbcSinkConnector"] {
            assert_eq!(reg.find(n).unwrap().kind.type_name(), "sink", "{n}");
        }
        assert!((reg.find("jdbc").unwrap().config_def)().is_secret("connection.password"));
    }
}
