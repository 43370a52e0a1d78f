//! Kafka's topic routers: `TimestampRouter` (topic from the record topic and
//! timestamp) and `RegexRouter` (topic rewritten by a regular expression).

use regex::Regex;
use velocity_api::config::{ConfigExt, ConfigKey, ConfigType, Importance};
use velocity_api::{ConfigDef, ConnectRecord, PluginDesc, RawConfig, Result, Transform};

use crate::error::{config_err, data_err};
use crate::time::DateFormat;
use crate::util::{full_match_regex, java_replacement, req_str};

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
        ConfigDef::new(vec![
            ConfigKey::new("topic.format", ConfigType::String, Some("${topic}-${timestamp}"), Importance::High, "Format string which can contain <code>${topic}</code> and <code>${timestamp}</code> as placeholders for the topic and timestamp, respectively."),
            ConfigKey::new("timestamp.format", ConfigType::String, Some("yyyyMMdd"), Importance::High, "Format string for the timestamp that is compatible with <code>java.text.SimpleDateFormat</code>."),
        ])
    }
}

impl Transform for TimestampRouter {
    fn configure(&mut self, config: &RawConfig) -> Result<()> {
        self.topic_format = config
            .str_or("topic.format", "${topic}-${timestamp}")
            .to_owned();
        let pattern = config.str_or("timestamp.format", "yyyyMMdd");
        self.format = DateFormat::new(pattern).map_err(|e| {
            config_err(
                "timestamp.format",
                format!("Invalid value {pattern} for configuration timestamp.format: {e}"),
            )
        })?;
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
        ConfigDef::new(vec![
            ConfigKey::new(
                "regex",
                ConfigType::String,
                None,
                Importance::High,
                "Regular expression to use for matching.",
            ),
            ConfigKey::new(
                "replacement",
                ConfigType::String,
                None,
                Importance::High,
                "Replacement string.",
            ),
        ])
    }
}

impl Transform for RegexRouter {
    fn configure(&mut self, config: &RawConfig) -> Result<()> {
        let regex = req_str(config, "regex")?;
        self.regex = Some(full_match_regex("regex", &regex)?);
        match config.get("replacement") {
            None => {
                return Err(config_err(
                    "replacement",
                    "Missing required configuration \"replacement\" which has no default value.",
                ))
            }
            Some(r) => self.replacement = java_replacement(r),
        }
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
        assert!(RegexRouter::default()
            .configure(&cfg(&[("regex", "a")]))
            .is_err());
        assert_eq!(java_replacement("\\$x$1${n}"), "$$x${1}${n}");
    }
}
