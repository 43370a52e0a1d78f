//! The Redis sink connector: checks its configuration (without contacting
//! Redis) and hands it, unchanged, to `tasks.max` tasks; Kafka's consumer
//! group spreads the topic partitions over them.

use async_trait::async_trait;
use velocity_api::{ConnectError, Connector, RawConfig, Result, SinkConnector};

use crate::config::RedisSinkConfig;

/// `io.velocity.connector.redis.RedisSinkConnector`.
#[derive(Debug, Default)]
pub struct RedisSinkConnector {
    config: Option<RawConfig>,
}

#[async_trait]
impl Connector for RedisSinkConnector {
    fn validate(&self, config: &RawConfig) -> Vec<(String, String)> {
        RedisSinkConfig::validate(config)
    }

    async fn start(&mut self, config: &RawConfig) -> Result<()> {
        RedisSinkConfig::from_raw(config)?;
        self.config = Some(config.clone());
        Ok(())
    }

    /// `max_tasks` copies of the connector's configuration.
    async fn task_configs(&mut self, max_tasks: usize) -> Result<Vec<RawConfig>> {
        let config = self
            .config
            .clone()
            .ok_or_else(|| ConnectError::fatal("RedisSinkConnector is not started"))?;
        Ok(vec![config; max_tasks.max(1)])
    }

    async fn stop(&mut self) -> Result<()> {
        Ok(())
    }
}

impl SinkConnector for RedisSinkConnector {}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn start_checks_and_fans_out() {
        let mut c = RedisSinkConnector::default();
        let bad: RawConfig = [("redis.mode".to_string(), "list".to_string())]
            .into_iter()
            .collect();
        assert!(c.start(&bad).await.is_err());
        assert_eq!(c.validate(&bad)[0].0, "redis.address");
        let good: RawConfig = [("redis.address".to_string(), "h:6379".to_string())]
            .into_iter()
            .collect();
        c.start(&good).await.unwrap();
        assert_eq!(c.task_configs(3).await.unwrap().len(), 3);
    }
}
