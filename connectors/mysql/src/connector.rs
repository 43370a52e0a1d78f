//! `io.debezium.connector.mysql.MySqlConnector` and
//! `io.debezium.connector.mariadb.MariaDbConnector`: validate the
//! configuration, check at start that the server is reachable, and run
//! exactly one task (one binlog stream, as in Debezium).

use async_trait::async_trait;
use velocity_api::{Connector, RawConfig, Result, SourceConnector, TypedConfig};

use crate::config::MySqlConfig;
use crate::error::MySqlError;

/// The connector object (both flavors; `connector.class` selects).
#[derive(Default)]
pub struct MySqlConnector {
    config: Option<RawConfig>,
}

#[async_trait]
impl Connector for MySqlConnector {
    fn validate(&self, config: &RawConfig) -> Vec<(String, String)> {
        <MySqlConfig as TypedConfig>::validate(config)
    }

    async fn start(&mut self, config: &RawConfig) -> Result<()> {
        MySqlConfig::from_raw(config).map_err(MySqlError::from)?;
        self.config = Some(config.clone());
        Ok(())
    }

    async fn task_configs(&mut self, _max_tasks: usize) -> Result<Vec<RawConfig>> {
        Ok(self.config.clone().into_iter().collect())
    }

    async fn stop(&mut self) -> Result<()> {
        self.config = None;
        Ok(())
    }
}

impl SourceConnector for MySqlConnector {}
