//! The FileStream connectors: they check their configuration and hand it,
//! unchanged, to exactly one task, as Kafka's connectors do (one file, one
//! stream).

use velocity_api::shell::{ConnectorConfig, SingleTaskConnector};

use crate::config::{FileSinkConfig, FileSourceConfig};

/// `org.apache.kafka.connect.file.FileStreamSourceConnector`.
pub type FileStreamSourceConnector = SingleTaskConnector<FileSourceConfig>;

impl ConnectorConfig for FileSourceConfig {
    const CONNECTOR: &'static str = "FileStreamSourceConnector";
}

/// `org.apache.kafka.connect.file.FileStreamSinkConnector`.
pub type FileStreamSinkConnector = SingleTaskConnector<FileSinkConfig>;

impl ConnectorConfig for FileSinkConfig {
    const CONNECTOR: &'static str = "FileStreamSinkConnector";
}

#[cfg(test)]
mod tests {
    use super::*;
    use velocity_api::{ConnectError, Connector};

    use velocity_api::config::raw_config as cfg;

    #[tokio::test]
    async fn source_gives_exactly_one_task() {
        let mut c = FileStreamSourceConnector::default();
        let e = c.task_configs(3).await.unwrap_err().to_string();
        assert!(
            e.contains("FileStreamSourceConnector is not started"),
            "{e}"
        );
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
