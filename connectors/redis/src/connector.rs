//! The Redis sink connector: [`FanOutSinkConnector`] with the
//! RedisSinkConfig check (it never contacts Redis).

use velocity_api::shell::{ConnectorConfig, FanOutSinkConnector};

use crate::config::RedisSinkConfig;

/// `io.velocity.connector.redis.RedisSinkConnector`.
pub type RedisSinkConnector = FanOutSinkConnector<RedisSinkConfig>;

impl ConnectorConfig for RedisSinkConfig {
    const CONNECTOR: &'static str = "RedisSinkConnector";
}

#[cfg(test)]
mod tests {
    use super::*;
    use velocity_api::{ConnectError, Connector, RawConfig};

    #[tokio::test]
    async fn start_checks_and_fans_out() {
        let mut c = RedisSinkConnector::default();
        let bad: RawConfig = [("redis.mode".to_string(), "list".to_string())]
            .into_iter()
            .collect();
        let e = c.start(&bad).await.unwrap_err();
        assert!(
            matches!(&e, ConnectError::Config { key, .. } if key == "redis.address"),
            "{e:?}"
        );
        assert_eq!(c.validate(&bad)[0].0, "redis.address");
        let good: RawConfig = [("redis.address".to_string(), "h:6379".to_string())]
            .into_iter()
            .collect();
        c.start(&good).await.unwrap();
        assert_eq!(c.task_configs(3).await.unwrap().len(), 3);
    }
}
