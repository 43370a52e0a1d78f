//! `io.debezium.connector.postgresql.PostgresConnector`: validates the
//! configuration and runs exactly one task (PostgreSQL has one replication
//! stream per slot, as in Debezium).

use async_trait::async_trait;
use velocity_api::{Connector, RawConfig, Result, SourceConnector};

use crate::config::PostgresConfig;

/// The connector object.
#[derive(Default)]
pub struct PostgresConnector {
    config: Option<RawConfig>,
}

#[async_trait]
impl Connector for PostgresConnector {
    fn validate(&self, config: &RawConfig) -> Vec<(String, String)> {
        PostgresConfig::parse(config).err().unwrap_or_default()
    }

    async fn start(&mut self, config: &RawConfig) -> Result<()> {
        if let Err(errs) = PostgresConfig::parse(config) {
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

impl SourceConnector for PostgresConnector {}
