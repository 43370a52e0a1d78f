//! The JDBC sink connector: checks its configuration (without contacting
//! the database) and hands it, unchanged, to `tasks.max` tasks; Kafka's
//! consumer group spreads the topic partitions over them.

use async_trait::async_trait;
use velocity_api::{ConnectError, Connector, RawConfig, Result, SinkConnector};

use crate::config::JdbcSinkConfig;

/// `io.debezium.connector.jdbc.JdbcSinkConnector`.
#[derive(Debug, Default)]
pub struct JdbcSinkConnector {
    config: Option<RawConfig>,
}

#[async_trait]
impl Connector for JdbcSinkConnector {
    fn validate(&self, config: &RawConfig) -> Vec<(String, String)> {
        JdbcSinkConfig::validate(config)
    }

    async fn start(&mut self, config: &RawConfig) -> Result<()> {
        JdbcSinkConfig::from_raw(config)?;
        self.config = Some(config.clone());
        Ok(())
    }

    /// `max_tasks` copies of the connector's configuration.
    async fn task_configs(&mut self, max_tasks: usize) -> Result<Vec<RawConfig>> {
        let config = self
            .config
            .clone()
            .ok_or_else(|| ConnectError::fatal("JdbcSinkConnector is not started"))?;
        Ok(vec![config; max_tasks.max(1)])
    }

    async fn stop(&mut self) -> Result<()> {
        Ok(())
    }
}

impl SinkConnector for JdbcSinkConnector {}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn start_checks_and_fans_out() {
        let mut c = JdbcSinkConnector::default();
        let bad: RawConfig = [("connection.url".to_string(), "mysql://x".to_string())]
            .into_iter()
            .collect();
        assert!(c.start(&bad).await.is_err());
        assert_eq!(c.validate(&bad)[0].0, "connection.url");
        let good: RawConfig = [
            ("connection.url", "jdbc:postgresql://h/d"),
            ("connection.username", "u"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        c.start(&good).await.unwrap();
        assert_eq!(c.task_configs(2).await.unwrap().len(), 2);
    }
}
