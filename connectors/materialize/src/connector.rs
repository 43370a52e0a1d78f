//! The materializing sink connector: [`FanOutSinkConnector`] with the
//! [`MaterializeConfig`] check (it never contacts the database).

use velocity_api::sink::{FanOutSinkConnector, SinkConfigCheck};
use velocity_api::{RawConfig, Result, TypedConfig};

use crate::config::MaterializeConfig;

/// `io.velocity.connector.materialize.MaterializeSinkConnector`.
pub type MaterializeSinkConnector = FanOutSinkConnector<MaterializeConfig>;

impl SinkConfigCheck for MaterializeConfig {
    const CONNECTOR: &'static str = "MaterializeSinkConnector";

    fn validate(config: &RawConfig) -> Vec<(String, String)> {
        <MaterializeConfig as TypedConfig>::validate(config)
    }

    fn check(config: &RawConfig) -> Result<()> {
        MaterializeConfig::from_raw(config)?;
        Ok(())
    }
}
