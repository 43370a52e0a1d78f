//! The materializing sink connector: [`FanOutSinkConnector`] with the
//! [`MaterializeConfig`] check (it never contacts the database).

use velocity_api::shell::{ConnectorConfig, FanOutSinkConnector};

use crate::config::MaterializeConfig;

/// `io.velocity.connector.materialize.MaterializeSinkConnector`.
pub type MaterializeSinkConnector = FanOutSinkConnector<MaterializeConfig>;

impl ConnectorConfig for MaterializeConfig {
    const CONNECTOR: &'static str = "MaterializeSinkConnector";
}
