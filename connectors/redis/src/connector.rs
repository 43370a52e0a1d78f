//! The Redis sink connector: [`FanOutSinkConnector`] with the
//! RedisSinkConfig check (it never contacts Redis).

use velocity_api::sink::{FanOutSinkConnector, SinkConfigCheck};
use velocity_api::{RawConfig, Result, TypedConfig};

use crate::config::RedisSinkConfig;

/// `io.velocity.connector.redis.RedisSinkConnector`.
pub type RedisSinkConnector = FanOutSinkConnector<RedisSinkConfig>;

impl SinkConfigCheck for RedisSinkConfig {
    const CONNECTOR: &'static str = "RedisSinkConnector";

    fn validate(config: &RawConfig) -> Vec<(String, String)> {
        <RedisSinkConfig as TypedConfig>::validate(config)
    }

    fn check(config: &RawConfig) -> Result<()> {
        RedisSinkConfig::from_raw(config)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use velocity_api::Connector;

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
