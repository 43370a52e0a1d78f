//! `io.debezium.connector.postgresql.PostgresConnector`: validates the
//! configuration and runs exactly one task (PostgreSQL has one replication
//! stream per slot, as in Debezium).

use async_trait::async_trait;
use velocity_api::{Connector, RawConfig, Result, SourceConnector, TypedConfig};

use crate::config::PostgresConfig;
use crate::error::PostgresError;

/// The connector object.
#[derive(Default)]
pub struct PostgresConnector {
    config: Option<RawConfig>,
}

#[async_trait]
impl Connector for PostgresConnector {
    fn validate(&self, config: &RawConfig) -> Vec<(String, String)> {
        <PostgresConfig as TypedConfig>::validate(config)
    }

    async fn start(&mut self, config: &RawConfig) -> Result<()> {
        PostgresConfig::from_raw(config).map_err(PostgresError::Config)?;
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
