//! Kafka's topic routers: `TimestampRouter` (topic from the record topic and
//! timestamp) and `RegexRouter` (topic rewritten by a regular expression).

use regex::Regex;
use velocity_api::config::{ConfigReader, TypedConfig};
use velocity_api::{ConfigDef, ConfigKey, ConnectRecord, PluginDesc, RawConfig, Result, Transform};

use crate::error::{data_err, read_config};
use crate::time::DateFormat;
use crate::util::{full_match_regex, java_replacement};

/// The keys of Kafka's TimestampRouter, each declared once.
pub mod timestamp_router_keys {
    use velocity_api::config::{ConfigKey, ConfigType::*, Importance::*};

    velocity_api::config_keys! {
        /// `topic.format`: the new topic, with `${topic}` and `${timestamp}`.
        TOPIC_FORMAT = ConfigKey::new("topic.format", String, Some("${topic}-${timestamp}"), High, "Format string which can contain <code>${topic}</code> and <code>${timestamp}</code> as placeholders for the topic and timestamp, respectively.");
        /// `timestamp.format`: a `SimpleDateFormat` pattern (UTC).
        TIMESTAMP_FORMAT = ConfigKey::new("timestamp.format", String, Some("yyyyMMdd"), High, "Format string for the timestamp that is compatible with <code>java.text.SimpleDateFormat</code>.");
    }
}

/// The keys of Kafka's RegexRouter, each declared once.
pub mod regex_router_keys {
    use velocity_api::config::{ConfigKey, ConfigType::*, Importance::*};

    velocity_api::config_keys! {
        /// `regex`: a Java regular expression matched against the whole topic (required).
        REGEX = ConfigKey::new("regex", String, None, High, "Regular expression to use for matching.");
        /// `replacement`: the new topic, Java replacement syntax (required; may be empty).
        REPLACEMENT = ConfigKey::new("replacement", String, None, High, "Replacement string.");
    }
}

/// The typed configuration of TimestampRouter.
#[derive(Debug, Clone)]
pub struct TimestampRouterConfig {
    topic_format: String,
    format: DateFormat,
}

impl TypedConfig for TimestampRouterConfig {
    const KEYS: &'static [ConfigKey] = timestamp_router_keys::KEYS;

    fn read(r: &mut ConfigReader<'_>) -> TimestampRouterConfig {
        use timestamp_router_keys::*;
        let topic_format = r.string(&TOPIC_FORMAT);
        let pattern = r.string(&TIMESTAMP_FORMAT);
        let format = DateFormat::new(&pattern).unwrap_or_else(|e| {
            r.fail(
                TIMESTAMP_FORMAT.name,
                format!("Invalid value {pattern} for configuration timestamp.format: {e}"),
            );
            TimestampRouter::default().format
        });
        TimestampRouterConfig {
            topic_format,
            format,
        }
    }
}

/// The typed configuration of RegexRouter.
#[derive(Debug, Clone)]
pub struct RegexRouterConfig {
    regex: Option<Regex>,
    replacement: String,
}

impl TypedConfig for RegexRouterConfig {
    const KEYS: &'static [ConfigKey] = regex_router_keys::KEYS;

    fn read(r: &mut ConfigReader<'_>) -> RegexRouterConfig {
        use regex_router_keys::*;
        RegexRouterConfig {
            regex: full_match_regex(r, &REGEX),
            replacement: java_replacement(&r.present_string(&REPLACEMENT)),
        }
    }
}

/// `org.apache.kafka.connect.transforms.TimestampRouter`: the topic becomes
/// `topic.format` (default `${topic}-${timestamp}`) with `${timestamp}`
/// formatted by `timestamp.format` (default `yyyyMMdd`, UTC). Records
/// without a timestamp fail.
pub struct TimestampRouter {
    topic_format: String,
    format: DateFormat,
}

impl Default for TimestampRouter {
    fn default() -> Self {
        TimestampRouter {
            topic_format: "${topic}-${timestamp}".into(),
            format: DateFormat::new("yyyyMMdd").expect("valid default"),
        }
    }
}

impl TimestampRouter {
    /// The keys Kafka's TimestampRouter defines.
    pub fn def() -> ConfigDef {
        TimestampRouterConfig::config_def()
    }
}

impl Transform for TimestampRouter {
    fn configure(&mut self, config: &RawConfig) -> Result<()> {
        let c: TimestampRouterConfig = read_config(config)?;
        self.topic_format = c.topic_format;
        self.format = c.format;
        Ok(())
    }

    fn apply(&mut self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>> {
        let ts = record
            .timestamp
            .ok_or_else(|| data_err(format!("Timestamp missing on record: {record:?}")))?;
        let formatted = self.format.format(ts);
        record.topic = self
            .topic_format
            .replace("${topic}", &record.topic)
            .replace("${timestamp}", &formatted);
        Ok(Some(record))
    }

    fn config_def(&self) -> ConfigDef {
        Self::def()
    }
}

/// `org.apache.kafka.connect.transforms.RegexRouter`: when the whole topic
/// matches `regex`, it is replaced by `replacement` (Java syntax: `$1`,
/// `${name}`); other records pass unchanged.
#[derive(Default)]
pub struct RegexRouter {
    regex: Option<Regex>,
    replacement: String,
}

impl RegexRouter {
    /// The keys Kafka's RegexRouter defines.
    pub fn def() -> ConfigDef {
        RegexRouterConfig::config_def()
    }
}

impl Transform for RegexRouter {
    fn configure(&mut self, config: &RawConfig) -> Result<()> {
        let c: RegexRouterConfig = read_config(config)?;
        self.regex = c.regex;
        self.replacement = c.replacement;
        Ok(())
    }

    fn apply(&mut self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>> {
        if let Some(re) = &self.regex {
            if re.is_match(&record.topic) {
                record.topic = re
                    .replace(&record.topic, self.replacement.as_str())
                    .into_owned();
            }
        }
        Ok(Some(record))
    }

    fn config_def(&self) -> ConfigDef {
        Self::def()
    }
}

/// `TimestampRouter` and `RegexRouter`.
pub fn plugins() -> Vec<PluginDesc> {
    vec![
        crate::transform(
            "org.apache.kafka.connect.transforms.TimestampRouter",
            TimestampRouter::def,
            || Box::<TimestampRouter>::default(),
        ),
        crate::transform(
            "org.apache.kafka.connect.transforms.RegexRouter",
            RegexRouter::def,
            || Box::<RegexRouter>::default(),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;
    use velocity_api::Value;

    #[test]
    fn timestamp_router_defaults() {
        let mut t = TimestampRouter::default();
        t.configure(&cfg(&[])).unwrap();
        let r = rec_value(None, map(&[]));
        assert_eq!(t.apply(r).unwrap().unwrap().topic, "topic-20231114");
        let mut t = TimestampRouter::default();
        t.configure(&cfg(&[
            ("topic.format", "x_${timestamp}_${topic}"),
            ("timestamp.format", "yyyy-MM"),
        ]))
        .unwrap();
        let mut r = rec_value(Some(row_schema()), Value::Struct(row(1, "a", 1.0)));
        assert_eq!(
            t.apply(r.clone()).unwrap().unwrap().topic,
            "x_2023-11_topic"
        );
        r.timestamp = None;
        assert!(t
            .apply(r)
            .unwrap_err()
            .to_string()
            .contains("Timestamp missing on record"));
    }

    #[test]
    fn regex_router() {
        let mut t = RegexRouter::default();
        t.configure(&cfg(&[
            ("regex", "(.*)\\.tms\\.(.*)"),
            ("replacement", "$1_$2x"),
        ]))
        .unwrap();
        let mut r = rec_value(None, Value::Null);
        r.topic = "tms.tms.shipment".into();
        assert_eq!(t.apply(r.clone()).unwrap().unwrap().topic, "tms_shipmentx");
        r.topic = "other".into();
        assert_eq!(t.apply(r).unwrap().unwrap().topic, "other");
        let e = RegexRouter::default()
            .configure(&cfg(&[("regex", "a")]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("\"replacement\"") && e.contains("Missing required configuration"),
            "{e}"
        );
        let e = RegexRouter::default()
            .configure(&cfg(&[("regex", "("), ("replacement", "x")]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("Invalid value ( for configuration regex: Invalid regex"),
            "{e}"
        );
        // An empty replacement is a value (the topic becomes empty).
        let mut t = RegexRouter::default();
        t.configure(&cfg(&[("regex", "a"), ("replacement", "")]))
            .unwrap();
        assert_eq!(java_replacement("\\$x$1${n}"), "$$x${1}${n}");
    }
}
