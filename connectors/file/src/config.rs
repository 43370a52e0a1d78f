//! Typed configuration of the FileStream connectors, parsed from the flat
//! Kafka Connect map with errors that name the dotted key, and the
//! [`ConfigDef`]s the REST API publishes.

use velocity_api::config::ConfigExt;
use velocity_api::{ConfigDef, ConfigKey, ConfigType, Importance, RawConfig};

use crate::error::FileError;

/// `file`: the file to read (source) or append to (sink).
pub const FILE_CONFIG: &str = "file";
/// `topic`: the single topic the source publishes to.
pub const TOPIC_CONFIG: &str = "topic";
/// `batch.size`: the most lines one `poll` returns.
pub const TASK_BATCH_SIZE_CONFIG: &str = "batch.size";
/// Kafka's default `batch.size`.
pub const DEFAULT_TASK_BATCH_SIZE: usize = 2000;

/// Configuration of FileStreamSource and its task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSourceConfig {
    /// The file to tail. Required (Kafka falls back to stdin; Velocity does not).
    pub file: String,
    /// The single destination topic.
    pub topic: String,
    /// The most lines one `poll` returns (1 ..= 2^31-1).
    pub batch_size: usize,
}

impl FileSourceConfig {
    /// Parses and checks `config`; the first problem is returned.
    pub fn from_raw(config: &RawConfig) -> Result<FileSourceConfig, FileError> {
        Ok(FileSourceConfig {
            file: required(config, FILE_CONFIG)?,
            topic: topic(config)?,
            batch_size: batch_size(config)?,
        })
    }

    /// Every problem in `config` as `(dotted key, message)`, each key checked
    /// on its own; empty when valid.
    pub fn validate(config: &RawConfig) -> Vec<(String, String)> {
        [
            required(config, FILE_CONFIG).err(),
            topic(config).err(),
            batch_size(config).err(),
        ]
        .into_iter()
        .flatten()
        .filter_map(|e| match e {
            FileError::Config { key, message } => Some((key.to_owned(), message)),
            _ => None,
        })
        .collect()
    }
}

fn topic(config: &RawConfig) -> Result<String, FileError> {
    let topic = required(config, TOPIC_CONFIG)?;
    if topic.contains(',') {
        return Err(FileError::Config {
            key: TOPIC_CONFIG,
            message:
                "FileStreamSourceConnector should only have a single topic when used as a source."
                    .into(),
        });
    }
    Ok(topic)
}

fn batch_size(config: &RawConfig) -> Result<usize, FileError> {
    config
        .int_or(
            TASK_BATCH_SIZE_CONFIG,
            DEFAULT_TASK_BATCH_SIZE as i64,
            1,
            i64::from(i32::MAX),
        )
        .map(|n| n as usize)
        .map_err(|e| FileError::Config {
            key: TASK_BATCH_SIZE_CONFIG,
            message: config_message(e),
        })
}

/// Configuration of FileStreamSink and its task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSinkConfig {
    /// The file to append to (created when missing). Required (Kafka falls
    /// back to stdout; Velocity does not).
    pub file: String,
}

impl FileSinkConfig {
    /// Parses and checks `config`.
    pub fn from_raw(config: &RawConfig) -> Result<FileSinkConfig, FileError> {
        Ok(FileSinkConfig {
            file: required(config, FILE_CONFIG)?,
        })
    }

    /// Every problem in `config` as `(dotted key, message)`; empty when valid.
    pub fn validate(config: &RawConfig) -> Vec<(String, String)> {
        match FileSinkConfig::from_raw(config) {
            Ok(_) => Vec::new(),
            Err(FileError::Config { key, message }) => vec![(key.to_owned(), message)],
            Err(_) => Vec::new(),
        }
    }
}

/// The keys of FileStreamSource.
pub fn source_config_def() -> ConfigDef {
    ConfigDef::new(vec![
        ConfigKey::new(
            FILE_CONFIG,
            ConfigType::String,
            None,
            Importance::High,
            "Source filename. Velocity requires it (Kafka would read standard input when it is absent).",
        ),
        ConfigKey::new(
            TOPIC_CONFIG,
            ConfigType::String,
            None,
            Importance::High,
            "The topic to publish data to",
        ),
        ConfigKey::new(
            TASK_BATCH_SIZE_CONFIG,
            ConfigType::Int,
            Some("2000"),
            Importance::Low,
            "The maximum number of records the Source task can read from file one time",
        ),
    ])
}

/// The keys of FileStreamSink (`topics`/`topics.regex` belong to the runtime).
pub fn sink_config_def() -> ConfigDef {
    ConfigDef::new(vec![ConfigKey::new(
        FILE_CONFIG,
        ConfigType::String,
        None,
        Importance::High,
        "Destination filename. Velocity requires it (Kafka would write to standard output when it is absent).",
    )])
}

fn required(config: &RawConfig, key: &'static str) -> Result<String, FileError> {
    config
        .opt_str(key)
        .map(str::to_owned)
        .ok_or_else(|| FileError::Config {
            key,
            message: format!(
                "Missing required configuration \"{key}\" which has no default value."
            ),
        })
}

fn config_message(e: velocity_api::ConnectError) -> String {
    match e {
        velocity_api::ConnectError::Config { message, .. } => message,
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(pairs: &[(&str, &str)]) -> RawConfig {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn source_defaults_and_values() {
        let c = FileSourceConfig::from_raw(&cfg(&[("file", "/tmp/x"), ("topic", "t")])).unwrap();
        assert_eq!(c.batch_size, 2000);
        let c = FileSourceConfig::from_raw(&cfg(&[
            ("file", "/tmp/x"),
            ("topic", "t"),
            ("batch.size", "5"),
        ]))
        .unwrap();
        assert_eq!(c.batch_size, 5);
    }

    #[test]
    fn source_errors_name_the_key() {
        let keys = |pairs: &[(&str, &str)]| -> Vec<String> {
            FileSourceConfig::validate(&cfg(pairs))
                .into_iter()
                .map(|(k, _)| k)
                .collect()
        };
        assert_eq!(keys(&[]), vec!["file", "topic"]);
        assert_eq!(keys(&[("file", "f"), ("topic", "a,b")]), vec!["topic"]);
        assert_eq!(
            keys(&[("file", "f"), ("topic", "a"), ("batch.size", "0")]),
            vec!["batch.size"]
        );
        assert_eq!(
            keys(&[("topic", "a"), ("batch.size", "x")]),
            vec!["file", "batch.size"]
        );
        assert!(keys(&[("file", "f"), ("topic", "a")]).is_empty());
        let e = FileSourceConfig::from_raw(&cfg(&[("file", "f"), ("topic", "a,b")])).unwrap_err();
        assert!(e.to_string().contains("single topic"), "{e}");
    }

    #[test]
    fn sink_requires_file() {
        assert_eq!(FileSinkConfig::validate(&cfg(&[]))[0].0, "file");
        assert_eq!(
            FileSinkConfig::from_raw(&cfg(&[("file", " /tmp/o ")]))
                .unwrap()
                .file,
            "/tmp/o"
        );
    }

    #[test]
    fn defs_list_the_keys() {
        assert!(source_config_def().key("batch.size").is_some());
        assert!(sink_config_def().key("file").unwrap().required());
    }
}
