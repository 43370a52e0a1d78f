//! Typed configuration of the FileStream connectors, read from the flat
//! Kafka Connect map through their declared keys ([`source_keys`],
//! [`sink_keys`]), whose lists are the [`ConfigDef`](velocity_api::ConfigDef)s
//! the REST API publishes. Every error names its dotted key.

use velocity_api::config::{ConfigReader, TypedConfig};
use velocity_api::ConfigKey;

/// The keys of FileStreamSource, each declared once.
pub mod source_keys {
    use super::single_topic;
    use velocity_api::config::{ConfigKey, ConfigType::*, Importance::*};

    velocity_api::config_keys! {
        /// `file`: the file to tail (required).
        FILE = ConfigKey::new("file", String, None, High, "Source filename. Velocity requires it (Kafka would read standard input when it is absent).");
        /// `topic`: the single topic the source publishes to (required).
        TOPIC = ConfigKey::new("topic", String, None, High, "The topic to publish data to").validate_with(single_topic);
        /// `batch.size`: the most lines one `poll` returns (default 2000, Kafka's).
        BATCH_SIZE = ConfigKey::new("batch.size", Int, Some("2000"), Low, "The maximum number of records the Source task can read from file one time").at_least(1);
    }
}

/// The keys of FileStreamSink (`topics`/`topics.regex` belong to the runtime).
pub mod sink_keys {
    use velocity_api::config::{ConfigKey, ConfigType::*, Importance::*};

    velocity_api::config_keys! {
        /// `file`: the file to append to (required).
        FILE = ConfigKey::new("file", String, None, High, "Destination filename. Velocity requires it (Kafka would write to standard output when it is absent).");
    }
}

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

impl TypedConfig for FileSourceConfig {
    const KEYS: &'static [ConfigKey] = source_keys::KEYS;

    fn read(r: &mut ConfigReader<'_>) -> FileSourceConfig {
        FileSourceConfig {
            file: r.string(&source_keys::FILE),
            topic: r.string(&source_keys::TOPIC),
            batch_size: r.int(&source_keys::BATCH_SIZE),
        }
    }
}

/// Rejects a `topic` list: the source publishes to exactly one topic.
fn single_topic(topic: &str) -> Result<(), String> {
    if topic.contains(',') {
        Err(
            "FileStreamSourceConnector should only have a single topic when used as a source."
                .into(),
        )
    } else {
        Ok(())
    }
}

/// Configuration of FileStreamSink and its task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSinkConfig {
    /// The file to append to (created when missing). Required (Kafka falls
    /// back to stdout; Velocity does not).
    pub file: String,
}

impl TypedConfig for FileSinkConfig {
    const KEYS: &'static [ConfigKey] = sink_keys::KEYS;

    fn read(r: &mut ConfigReader<'_>) -> FileSinkConfig {
        FileSinkConfig {
            file: r.string(&sink_keys::FILE),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use velocity_api::config::raw_config as cfg;

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
        assert_eq!(
            keys(&[("file", "f"), ("topic", "a"), ("batch.size", "2147483648")]),
            vec!["batch.size"]
        );
        assert!(keys(&[("file", "f"), ("topic", "a")]).is_empty());
        let e = FileSourceConfig::from_raw(&cfg(&[("file", "f"), ("topic", "a,b")])).unwrap_err();
        assert!(e.names("topic"));
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
        assert!(FileSourceConfig::config_def().key("batch.size").is_some());
        assert!(FileSinkConfig::config_def().key("file").unwrap().required());
    }
}
