//! The JDBC sink connector: [`FanOutSinkConnector`] with the
//! JdbcSinkConfig check (it never contacts the database).

use velocity_api::shell::{ConnectorConfig, FanOutSinkConnector};

use crate::config::JdbcSinkConfig;

/// `io.debezium.connector.jdbc.JdbcSinkConnector`.
pub type JdbcSinkConnector = FanOutSinkConnector<JdbcSinkConfig>;

impl ConnectorConfig for JdbcSinkConfig {
    const CONNECTOR: &'static str = "JdbcSinkConnector";
}

#[cfg(test)]
mod tests {
    use super::*;
    use velocity_api::{ConnectError, Connector, RawConfig};

    #[tokio::test]
    async fn start_checks_and_fans_out() {
        let mut c = JdbcSinkConnector::default();
        let bad: RawConfig = [("connection.url".to_string(), "mysql://x".to_string())]
            .into_iter()
            .collect();
        let e = c.start(&bad).await.unwrap_err();
        assert!(
            matches!(&e, ConnectError::Config { key, .. } if key == "connection.url"),
            "{e:?}"
        );
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
