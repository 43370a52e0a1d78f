//! The plugin registry: one explicit list of every connector, transform and
//! converter the binary ships, addressed by Java class name or short alias.

use crate::config::ConfigDef;
use crate::connector::{SinkConnector, SinkTask, SourceConnector, SourceTask};
use crate::converter::Converter;
use crate::transform::{Predicate, Transform};

/// What a plugin is, with the factories that make its parts.
#[derive(Clone, Copy)]
pub enum PluginKind {
    /// A source connector and its task.
    Source {
        /// Makes the connector.
        connector: fn() -> Box<dyn SourceConnector>,
        /// Makes one task.
        task: fn() -> Box<dyn SourceTask>,
    },
    /// A sink connector and its task.
    Sink {
        /// Makes the connector.
        connector: fn() -> Box<dyn SinkConnector>,
        /// Makes one task.
        task: fn() -> Box<dyn SinkTask>,
    },
    /// A single message transform.
    Transform(fn() -> Box<dyn Transform>),
    /// A predicate for conditional transforms.
    Predicate(fn() -> Box<dyn Predicate>),
    /// A converter (`key.converter` / `value.converter`) that is not built
    /// into the runtime, e.g. Confluent's `AvroConverter`.
    Converter(fn() -> Box<dyn Converter>),
}

impl PluginKind {
    /// The type name Kafka Connect's `GET /connector-plugins` shows.
    pub fn type_name(&self) -> &'static str {
        match self {
            PluginKind::Source { .. } => "source",
            PluginKind::Sink { .. } => "sink",
            PluginKind::Transform(_) => "transformation",
            PluginKind::Predicate(_) => "predicate",
            PluginKind::Converter(_) => "converter",
        }
    }

    /// True for source and sink connectors (not transforms or predicates).
    pub fn is_connector(&self) -> bool {
        matches!(self, PluginKind::Source { .. } | PluginKind::Sink { .. })
    }
}

/// One plugin.
#[derive(Clone, Copy)]
pub struct PluginDesc {
    /// The Java class name users put in `connector.class` / `transforms.x.type`.
    pub class: &'static str,
    /// Short names also accepted (e.g. `postgres`, `FileStreamSource`).
    pub aliases: &'static [&'static str],
    /// Version shown by the REST API.
    pub version: &'static str,
    /// The keys the plugin understands.
    pub config_def: fn() -> ConfigDef,
    /// Kind and factories.
    pub kind: PluginKind,
}

impl PluginDesc {
    /// True when `name` is this plugin's class, an alias, or the class's simple
    /// name (the part after the last dot), compared as Kafka Connect does.
    pub fn matches(&self, name: &str) -> bool {
        let name = name.trim();
        self.class == name
            || self.aliases.contains(&name)
            || self.class.rsplit('.').next() == Some(name)
    }
}

/// Every plugin the binary knows, in the order they were registered.
#[derive(Clone, Default)]
pub struct PluginRegistry {
    plugins: Vec<PluginDesc>,
}

impl PluginRegistry {
    /// An empty registry.
    pub fn new() -> PluginRegistry {
        PluginRegistry::default()
    }

    /// Adds a plugin; later lookups find the first registration of a name.
    pub fn register(mut self, plugin: PluginDesc) -> PluginRegistry {
        self.plugins.push(plugin);
        self
    }

    /// The plugin for `name` (class, alias or simple class name).
    pub fn find(&self, name: &str) -> Option<&PluginDesc> {
        self.plugins.iter().find(|p| p.matches(name))
    }

    /// All plugins.
    pub fn all(&self) -> &[PluginDesc] {
        &self.plugins
    }

    /// Class names of the connector plugins, for "unknown class" errors.
    pub fn connector_classes(&self) -> Vec<&'static str> {
        self.plugins
            .iter()
            .filter(|p| p.kind.is_connector())
            .map(|p| p.class)
            .collect()
    }
}
