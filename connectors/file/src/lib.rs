//! FileStream connectors: Kafka's `FileStreamSourceConnector` (tail a file,
//! one record per line) and `FileStreamSinkConnector` (append each record's
//! value as a line), for exercising the runtime end to end.
//!
//! Records, partitions and offsets are shaped exactly as Kafka's
//! (`{"filename": …}` / `{"position": …}`), so offsets stored by Kafka
//! Connect's FileStreamSource resume here, except that `position` counts
//! bytes (Kafka counts UTF-16 chars, which differs only for non-ASCII text).

pub mod config;
pub mod connector;
pub mod error;
pub mod task;

use velocity_api::{PluginDesc, PluginKind};

pub use config::{FileSinkConfig, FileSourceConfig};
pub use connector::{FileStreamSinkConnector, FileStreamSourceConnector};
pub use error::FileError;
pub use task::{FileStreamSinkTask, FileStreamSourceTask};

/// Java class name of the source connector.
pub const SOURCE_CLASS: &str = "org.apache.kafka.connect.file.FileStreamSourceConnector";
/// Java class name of the sink connector.
pub const SINK_CLASS: &str = "org.apache.kafka.connect.file.FileStreamSinkConnector";

/// The source plugin: class [`SOURCE_CLASS`], aliases `FileStreamSource`
/// and `FileStreamSourceConnector`.
pub fn source_plugin() -> PluginDesc {
    PluginDesc {
        class: SOURCE_CLASS,
        aliases: &["FileStreamSource", "FileStreamSourceConnector"],
        version: env!("CARGO_PKG_VERSION"),
        config_def: <FileSourceConfig as velocity_api::TypedConfig>::config_def,
        kind: PluginKind::Source {
            connector: || Box::new(FileStreamSourceConnector::default()),
            task: || Box::new(FileStreamSourceTask::default()),
        },
    }
}

/// The sink plugin: class [`SINK_CLASS`], aliases `FileStreamSink` and
/// `FileStreamSinkConnector`.
pub fn sink_plugin() -> PluginDesc {
    PluginDesc {
        class: SINK_CLASS,
        aliases: &["FileStreamSink", "FileStreamSinkConnector"],
        version: env!("CARGO_PKG_VERSION"),
        config_def: <FileSinkConfig as velocity_api::TypedConfig>::config_def,
        kind: PluginKind::Sink {
            connector: || Box::new(FileStreamSinkConnector::default()),
            task: || Box::new(FileStreamSinkTask::default()),
        },
    }
}

/// Both plugins of this crate, source first, for the binary's registry.
pub fn plugins() -> Vec<PluginDesc> {
    vec![source_plugin(), sink_plugin()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use velocity_api::PluginRegistry;

    #[test]
    fn registry_finds_both_by_class_and_alias() {
        let reg = plugins()
            .into_iter()
            .fold(PluginRegistry::new(), PluginRegistry::register);
        for name in [
            SOURCE_CLASS,
            "FileStreamSource",
            "FileStreamSourceConnector",
        ] {
            let p = reg.find(name).unwrap();
            assert_eq!(p.kind.type_name(), "source", "{name}");
        }
        for name in [SINK_CLASS, "FileStreamSink", "FileStreamSinkConnector"] {
            let p = reg.find(name).unwrap();
            assert_eq!(p.kind.type_name(), "sink", "{name}");
        }
        assert!((reg.find("FileStreamSource").unwrap().config_def)()
            .key("topic")
            .is_some());
    }
}
