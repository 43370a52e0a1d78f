//! `io.debezium.connector.postgresql.PostgresConnector`: checks the
//! configuration and runs exactly one task (PostgreSQL has one replication
//! stream per slot, as in Debezium). The task connects; the connector never
//! contacts the database.

use velocity_api::shell::{ConnectorConfig, SingleTaskConnector};

use crate::config::PostgresConfig;

/// The connector object.
pub type PostgresConnector = SingleTaskConnector<PostgresConfig>;

impl ConnectorConfig for PostgresConfig {
    const CONNECTOR: &'static str = "PostgresConnector";
}
