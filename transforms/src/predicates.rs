//! Kafka Connect's predicates (`org.apache.kafka.connect.transforms.predicates`):
//! `TopicNameMatches`, `HasHeaderKey` and `RecordIsTombstone`, used with
//! `transforms.<alias>.predicate` to apply a transform conditionally.

use regex::Regex;
use velocity_api::config::{ConfigReader, TypedConfig};
use velocity_api::{
    ConfigDef, ConfigKey, ConnectRecord, PluginDesc, PluginKind, Predicate, RawConfig, Result,
};

use crate::error::read_config;
use crate::util::full_match_regex;

/// The keys of TopicNameMatches, each declared once.
pub mod topic_name_matches_keys {
    use velocity_api::config::{ConfigKey, ConfigType::*, Importance::*};

    velocity_api::config_keys! {
        /// `pattern`: a Java regular expression matched against the whole topic (required).
        PATTERN = ConfigKey::new("pattern", String, None, Medium, "A Java regular expression for matching against the name of a record's topic.");
    }
}

/// The keys of HasHeaderKey, each declared once.
pub mod has_header_key_keys {
    use velocity_api::config::{ConfigKey, ConfigType::*, Importance::*};

    velocity_api::config_keys! {
        /// `name`: the header name (required).
        NAME = ConfigKey::new("name", String, None, Medium, "The header name.");
    }
}

/// The typed configuration of TopicNameMatches: a valid pattern.
#[derive(Debug, Clone)]
pub struct TopicNameMatchesConfig {
    pattern: Option<Regex>,
}

impl TypedConfig for TopicNameMatchesConfig {
    const KEYS: &'static [ConfigKey] = topic_name_matches_keys::KEYS;

    fn read(r: &mut ConfigReader<'_>) -> TopicNameMatchesConfig {
        TopicNameMatchesConfig {
            pattern: full_match_regex(r, &topic_name_matches_keys::PATTERN),
        }
    }
}

/// The typed configuration of HasHeaderKey: the header name.
#[derive(Debug, Clone)]
pub struct HasHeaderKeyConfig {
    name: String,
}

impl TypedConfig for HasHeaderKeyConfig {
    const KEYS: &'static [ConfigKey] = has_header_key_keys::KEYS;

    fn read(r: &mut ConfigReader<'_>) -> HasHeaderKeyConfig {
        HasHeaderKeyConfig {
            name: r.string(&has_header_key_keys::NAME),
        }
    }
}

/// `TopicNameMatches`: true when the whole topic name matches `pattern`
/// (a Java regular expression).
#[derive(Default)]
pub struct TopicNameMatches {
    pattern: Option<Regex>,
}

impl TopicNameMatches {
    /// The keys: `pattern` (required).
    pub fn def() -> ConfigDef {
        TopicNameMatchesConfig::config_def()
    }
}

impl Predicate for TopicNameMatches {
    fn configure(&mut self, config: &RawConfig) -> Result<()> {
        let c: TopicNameMatchesConfig = read_config(config)?;
        self.pattern = c.pattern;
        Ok(())
    }

    fn test(&self, record: &ConnectRecord) -> bool {
        self.pattern
            .as_ref()
            .is_some_and(|p| p.is_match(&record.topic))
    }

    fn config_def(&self) -> ConfigDef {
        Self::def()
    }
}

/// `HasHeaderKey`: true when the record has at least one header called `name`.
#[derive(Default)]
pub struct HasHeaderKey {
    name: String,
}

impl HasHeaderKey {
    /// The keys: `name` (required).
    pub fn def() -> ConfigDef {
        HasHeaderKeyConfig::config_def()
    }
}

impl Predicate for HasHeaderKey {
    fn configure(&mut self, config: &RawConfig) -> Result<()> {
        let c: HasHeaderKeyConfig = read_config(config)?;
        self.name = c.name;
        Ok(())
    }

    fn test(&self, record: &ConnectRecord) -> bool {
        record.headers.iter().any(|h| h.key == self.name)
    }

    fn config_def(&self) -> ConfigDef {
        Self::def()
    }
}

/// `RecordIsTombstone`: true when the record's value is null.
#[derive(Default)]
pub struct RecordIsTombstone;

impl Predicate for RecordIsTombstone {
    fn configure(&mut self, _config: &RawConfig) -> Result<()> {
        Ok(())
    }

    fn test(&self, record: &ConnectRecord) -> bool {
        record.value.is_null()
    }
}

/// The predicate plugins.
pub fn plugins() -> Vec<PluginDesc> {
    vec![
        PluginDesc {
            class: "org.apache.kafka.connect.transforms.predicates.TopicNameMatches",
            aliases: &[],
            version: crate::VERSION,
            config_def: TopicNameMatches::def,
            kind: PluginKind::Predicate(|| Box::<TopicNameMatches>::default()),
        },
        PluginDesc {
            class: "org.apache.kafka.connect.transforms.predicates.HasHeaderKey",
            aliases: &[],
            version: crate::VERSION,
            config_def: HasHeaderKey::def,
            kind: PluginKind::Predicate(|| Box::<HasHeaderKey>::default()),
        },
        PluginDesc {
            class: "org.apache.kafka.connect.transforms.predicates.RecordIsTombstone",
            aliases: &[],
            version: crate::VERSION,
            config_def: ConfigDef::default,
            kind: PluginKind::Predicate(|| Box::new(RecordIsTombstone)),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use velocity_api::{Header, Value};

    use velocity_api::config::raw_config as cfg;

    fn rec(topic: &str, value: Value) -> ConnectRecord {
        ConnectRecord::new(topic, None, Value::Null, None, value)
    }

    #[test]
    fn topic_name_matches_whole_name() {
        let mut p = TopicNameMatches::default();
        p.configure(&cfg(&[("pattern", "tms\\..*\\.shipment")]))
            .unwrap();
        assert!(p.test(&rec("tms.tms.shipment", Value::Null)));
        assert!(!p.test(&rec("tms.tms.shipment_x", Value::Null)));
        assert!(!p.test(&rec("x.tms.tms.shipment", Value::Null)));
    }

    #[test]
    fn topic_name_matches_requires_valid_pattern() {
        let e = TopicNameMatches::default()
            .configure(&cfg(&[]))
            .unwrap_err();
        assert!(e.to_string().contains("pattern"), "{e}");
        let e = TopicNameMatches::default()
            .configure(&cfg(&[("pattern", "(")]))
            .unwrap_err();
        assert!(e.to_string().contains("Invalid regex"), "{e}");
    }

    #[test]
    fn has_header_key() {
        let mut p = HasHeaderKey::default();
        p.configure(&cfg(&[("name", "h")])).unwrap();
        let mut r = rec("t", Value::Null);
        assert!(!p.test(&r));
        r.headers.push(Header {
            key: "h".into(),
            schema: None,
            value: Value::Null,
        });
        assert!(p.test(&r));
        let e = HasHeaderKey::default()
            .configure(&cfg(&[]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("\"name\"") && e.contains("Missing required configuration"),
            "{e}"
        );
    }

    #[test]
    fn record_is_tombstone() {
        let p = RecordIsTombstone;
        assert!(p.test(&rec("t", Value::Null)));
        assert!(!p.test(&rec("t", Value::from("x"))));
    }
}
