//! `io.debezium.connector.mysql.MySqlConnector` and
//! `io.debezium.connector.mariadb.MariaDbConnector`: check the
//! configuration and run exactly one task (one binlog stream, as in
//! Debezium). The task connects; the connector never contacts the server.

use velocity_api::shell::{ConnectorConfig, SingleTaskConnector};

use crate::config::MySqlConfig;

/// The connector object (both flavors; `connector.class` selects).
pub type MySqlConnector = SingleTaskConnector<MySqlConfig>;

impl ConnectorConfig for MySqlConfig {
    const CONNECTOR: &'static str = "MySqlConnector";
}
