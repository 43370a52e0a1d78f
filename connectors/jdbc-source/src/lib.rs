//! A polling source with the configuration keys, modes, topics and offsets
//! of Confluent's JDBC source (`io.confluent.connect.jdbc.JdbcSourceConnector`,
//! aliases `jdbc-source` and `JdbcSource`), reading PostgreSQL
//! (tokio-postgres) and MariaDB/MySQL (mysql_async).
//!
//! Modes: `bulk`, `incrementing`, `timestamp`, `timestamp+incrementing`
//! (Confluent's queries, see [`query`]) and Velocity's `hash` (whole-table
//! diff by primary key with durable state, see [`hash`]). Output: Confluent's
//! plain rows, or Debezium change events with `velocity.output.format=debezium`
//! (see [`record`]).

pub mod config;
pub mod connector;
pub mod db;
pub mod error;
pub mod hash;
pub mod mariadb;
pub mod model;
pub mod postgres;
pub mod query;
pub mod record;
pub mod task;

use velocity_api::{PluginDesc, PluginKind};

pub use config::SourceConfig;
pub use connector::JdbcSourceConnector;
pub use error::SourceError;
pub use task::JdbcSourceTask;

/// Java class name of the connector.
pub const CLASS: &str = "io.confluent.connect.jdbc.JdbcSourceConnector";

/// The source plugin: class [`CLASS`], aliases `jdbc-source` and `JdbcSource`.
pub fn plugin() -> PluginDesc {
    PluginDesc {
        class: CLASS,
        aliases: &["jdbc-source", "JdbcSource"],
        version: env!("CARGO_PKG_VERSION"),
        config_def: <SourceConfig as velocity_api::TypedConfig>::config_def,
        kind: PluginKind::Source {
            connector: || Box::new(JdbcSourceConnector::default()),
            task: || Box::new(JdbcSourceTask::default()),
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
        for n in [CLASS, "jdbc-source", "JdbcSource", "JdbcSourceConnector"] {
            assert_eq!(reg.find(n).unwrap().kind.type_name(), "source", "{n}");
        }
        assert!((reg.find("jdbc-source").unwrap().config_def)().is_secret("connection.password"));
    }
}
