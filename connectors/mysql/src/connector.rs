//! `io.debezium.connector.mysql.MySqlConnector` and
//! `io.debezium.connector.mariadb.MariaDbConnector`: validate the
//! configuration, check at start that the server is reachable, and run
//! exactly one task (one binlog stream, as in Debezium).

use async_trait::async_trait;
use velocity_api::{Connector, RawConfig, Result, SourceConnector};

use crate::config::MySqlConfig;

/// The connector object (both flavors; `connector.class` selects).
#[derive(Default)]
pub struct MySqlConnector {
    config: Option<RawConfig>,
}

#[async_trait]
impl Connector for MySqlConnector {
    fn validate(&self, config: &RawConfig) -> Vec<(String, String)> {
        MySqlConfig::parse(config).err().unwrap_or_default()
    }

    async fn start(&mut self, config: &RawConfig) -> Result<()> {
        if let Err(errs) = MySqlConfig::parse(config) {
            return Err(velocity_api::source::first_config_error(errs));
        }
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
