//! The FileStream connectors: they check their configuration and hand it,
//! unchanged, to exactly one task, as Kafka's connectors do (one file, one
//! stream).

use async_trait::async_trait;
use velocity_api::{
    ConnectError, Connector, RawConfig, Result, SinkConnector, SourceConnector, TypedConfig,
};

use crate::config::{FileSinkConfig, FileSourceConfig};

/// `org.apache.kafka.connect.file.FileStreamSourceConnector`.
#[derive(Debug, Default)]
pub struct FileStreamSourceConnector {
    config: Option<RawConfig>,
}

#[async_trait]
impl Connector for FileStreamSourceConnector {
    fn validate(&self, config: &RawConfig) -> Vec<(String, String)> {
        FileSourceConfig::validate(config)
    }

    async fn start(&mut self, config: &RawConfig) -> Result<()> {
        FileSourceConfig::from_raw(config)?;
        self.config = Some(config.clone());
        Ok(())
    }

    /// Exactly one task configuration (the connector's own), whatever
    /// `max_tasks` is.
    async fn task_configs(&mut self, _max_tasks: usize) -> Result<Vec<RawConfig>> {
        let config = self
            .config
            .clone()
            .ok_or_else(|| ConnectError::fatal("FileStreamSourceConnector is not started"))?;
        Ok(vec![config])
    }

    async fn stop(&mut self) -> Result<()> {
        Ok(())
    }
}

impl SourceConnector for FileStreamSourceConnector {}

/// `org.apache.kafka.connect.file.FileStreamSinkConnector`.
#[derive(Debug, Default)]
pub struct FileStreamSinkConnector {
    config: Option<RawConfig>,
}

#[async_trait]
impl Connector for FileStreamSinkConnector {
    fn validate(&self, config: &RawConfig) -> Vec<(String, String)> {
        FileSinkConfig::validate(config)
    }

    async fn start(&mut self, config: &RawConfig) -> Result<()> {
        FileSinkConfig::from_raw(config)?;
        self.config = Some(config.clone());
        Ok(())
    }

    /// Exactly one task configuration (the connector's own), whatever
    /// `max_tasks` is.
    async fn task_configs(&mut self, _max_tasks: usize) -> Result<Vec<RawConfig>> {
        let config = self
            .config
            .clone()
            .ok_or_else(|| ConnectError::fatal("FileStreamSinkConnector is not started"))?;
        Ok(vec![config])
    }

    async fn stop(&mut self) -> Result<()> {
        Ok(())
    }
}

impl SinkConnector for FileStreamSinkConnector {}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(pairs: &[(&str, &str)]) -> RawConfig {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[tokio::test]
    async fn source_gives_exactly_one_task() {
        let mut c = FileStreamSourceConnector::default();
        assert!(c.task_configs(3).await.is_err());
        let config = cfg(&[("file", "/tmp/in"), ("topic", "t"), ("name", "n")]);
        c.start(&config).await.unwrap();
        let tasks = c.task_configs(5).await.unwrap();
        assert_eq!(tasks, vec![config]);
        c.stop().await.unwrap();
        c.stop().await.unwrap();
    }

    #[tokio::test]
    async fn source_start_rejects_bad_config() {
        let mut c = FileStreamSourceConnector::default();
        let e = c
            .start(&cfg(&[("file", "/tmp/in"), ("topic", "a,b")]))
            .await
            .unwrap_err();
        assert!(matches!(e, ConnectError::Config { ref key, .. } if key == "topic"));
        assert_eq!(c.validate(&cfg(&[("topic", "t")]))[0].0, "file");
    }

    #[tokio::test]
    async fn sink_gives_exactly_one_task() {
        let mut c = FileStreamSinkConnector::default();
        assert_eq!(c.validate(&cfg(&[]))[0].0, "file");
        let config = cfg(&[("file", "/tmp/out"), ("topics", "a,b")]);
        c.start(&config).await.unwrap();
        assert_eq!(c.task_configs(2).await.unwrap(), vec![config]);
    }
}
