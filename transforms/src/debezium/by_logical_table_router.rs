//! Debezium's `io.debezium.transforms.ByLogicalTableRouter`: routes the
//! events of several physical tables (e.g. shards `db.tms.shipment_2024`,
//! `db.tms.shipment_2025`) to one logical topic. The topic is rewritten when
//! the whole topic matches `topic.regex` (by `topic.replacement`, Java
//! replacement syntax). The key schema becomes `<new topic>.Key` and, with
//! `key.enforce.uniqueness=true` (default), gains the string field
//! `key.field.name` (default `__dbz__physicalTableIdentifier`) holding the
//! original topic — or, with `key.field.regex`, the original topic rewritten
//! by `key.field.replacement`. The envelope schema becomes
//! `<new topic>.Envelope` with `before`/`after` schemas named
//! `<new topic>.Value`.

use std::sync::Arc;

use regex::Regex;
use velocity_api::config::{ConfigReader, TypedConfig};
use velocity_api::{
    ConfigDef, ConfigKey, ConnectRecord, RawConfig, Result, Schema, SchemaRef, Struct, Transform,
    Value,
};

use super::is_envelope;
use crate::error::read_config;
use crate::util::{full_match_regex, java_replacement};

/// Debezium's default name of the key field added for uniqueness.
pub const DEFAULT_KEY_FIELD: &str = "__dbz__physicalTableIdentifier";

pub use keys::*;

/// The keys of Debezium's ByLogicalTableRouter, each declared once.
pub mod keys {
    use super::DEFAULT_KEY_FIELD;
    use velocity_api::config::{ConfigKey, ConfigType::*, Importance::*};

    velocity_api::config_keys! {
        /// `topic.regex`: matched against the whole topic (required).
        TOPIC_REGEX = ConfigKey::new("topic.regex", String, None, Low, "The regex used for extracting the name of the logical table from the original topic name.");
        /// `topic.replacement`: the new topic (required).
        TOPIC_REPLACEMENT = ConfigKey::new("topic.replacement", String, None, Low, "The replacement string used in conjunction with topic.regex. This will be used to create the new topic name.");
        /// `key.enforce.uniqueness`: add the physical table to the key (default true).
        KEY_ENFORCE_UNIQUENESS = ConfigKey::new("key.enforce.uniqueness", Boolean, Some("true"), Low, "Augment each record's key with a field denoting on which table the change event originated.");
        /// `key.field.name`: the added key field.
        KEY_FIELD_NAME = ConfigKey::new("key.field.name", String, Some(DEFAULT_KEY_FIELD), Low, "The name of the key field denoting on which table the change event originated.");
        /// `key.field.regex`: extracts the physical table from the topic.
        KEY_FIELD_REGEX = ConfigKey::new("key.field.regex", String, Some(""), Low, "The regex used for extracting the physical table identifier from the original topic name.");
        /// `key.field.replacement`: used with `key.field.regex` (then required).
        KEY_FIELD_REPLACEMENT = ConfigKey::new("key.field.replacement", String, Some(""), Low, "The replacement string used in conjunction with key.field.regex.");
    }
}

/// The typed configuration of ByLogicalTableRouter: valid regexes, and a
/// key field replacement whenever a key field regex is given.
#[derive(Debug, Clone)]
pub struct ByLogicalTableRouterConfig {
    topic_regex: Option<Regex>,
    topic_replacement: String,
    enforce_uniqueness: bool,
    key_field_name: String,
    key_field_regex: Option<Regex>,
    key_field_replacement: String,
}

impl TypedConfig for ByLogicalTableRouterConfig {
    const KEYS: &'static [ConfigKey] = KEYS;

    fn read(r: &mut ConfigReader<'_>) -> ByLogicalTableRouterConfig {
        let key_field_regex = full_match_regex(r, &KEY_FIELD_REGEX);
        let key_field_replacement = r.opt_string(&KEY_FIELD_REPLACEMENT);
        if r.is_set(&KEY_FIELD_REGEX) && key_field_replacement.is_none() {
            r.fail(
                KEY_FIELD_REPLACEMENT.name,
                "key.field.replacement must be specified when key.field.regex is set",
            );
        }
        ByLogicalTableRouterConfig {
            topic_regex: full_match_regex(r, &TOPIC_REGEX),
            topic_replacement: java_replacement(&r.string(&TOPIC_REPLACEMENT)),
            enforce_uniqueness: r.bool(&KEY_ENFORCE_UNIQUENESS),
            key_field_name: r.string(&KEY_FIELD_NAME),
            key_field_regex,
            key_field_replacement: java_replacement(&key_field_replacement.unwrap_or_default()),
        }
    }
}

/// `io.debezium.transforms.ByLogicalTableRouter`.
pub struct ByLogicalTableRouter {
    config: ByLogicalTableRouterConfig,
    key_cache: Vec<(SchemaRef, String, SchemaRef)>,
    envelope_cache: Vec<(SchemaRef, String, SchemaRef)>,
}

impl Default for ByLogicalTableRouter {
    fn default() -> Self {
        ByLogicalTableRouter {
            config: ByLogicalTableRouterConfig {
                topic_regex: None,
                topic_replacement: String::new(),
                enforce_uniqueness: true,
                key_field_name: DEFAULT_KEY_FIELD.into(),
                key_field_regex: None,
                key_field_replacement: String::new(),
            },
            key_cache: Vec::new(),
            envelope_cache: Vec::new(),
        }
    }
}

fn cached(
    cache: &mut Vec<(SchemaRef, String, SchemaRef)>,
    schema: &SchemaRef,
    topic: &str,
    make: impl FnOnce() -> SchemaRef,
) -> SchemaRef {
    if let Some((_, _, v)) = cache
        .iter()
        .find(|(s, t, _)| Arc::ptr_eq(s, schema) && t == topic)
    {
        return v.clone();
    }
    let v = make();
    if cache.len() >= 64 {
        cache.clear();
    }
    cache.push((schema.clone(), topic.to_owned(), v.clone()));
    v
}

impl ByLogicalTableRouter {
    /// The keys Debezium's ByLogicalTableRouter defines.
    pub fn def() -> ConfigDef {
        ByLogicalTableRouterConfig::config_def()
    }
}

impl Transform for ByLogicalTableRouter {
    fn configure(&mut self, config: &RawConfig) -> Result<()> {
        self.config = read_config(config)?;
        Ok(())
    }

    fn apply(&mut self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>> {
        let Some(re) = &self.config.topic_regex else {
            return Ok(Some(record));
        };
        if !re.is_match(&record.topic) {
            return Ok(Some(record));
        }
        let old_topic = record.topic.clone();
        let new_topic = re
            .replace(&old_topic, self.config.topic_replacement.as_str())
            .into_owned();
        // Key.
        if let (Some(ks), Value::Struct(k)) = (record.key_schema.clone(), &record.key) {
            let uniq = self.config.enforce_uniqueness;
            let field = self.config.key_field_name.clone();
            let nks = cached(&mut self.key_cache, &ks, &new_topic, || {
                let mut b = Schema::struct_().named(format!("{new_topic}.Key"));
                b.version = ks.version;
                b.doc = ks.doc.clone();
                b.parameters = ks.parameters.clone();
                b.optional = ks.optional;
                b.fields = ks.fields.clone();
                if uniq {
                    b = b.field(field, Schema::string());
                }
                b.build()
            });
            let mut values = k.values.clone();
            if uniq {
                let id = match &self.config.key_field_regex {
                    Some(kr) if kr.is_match(&old_topic) => kr
                        .replace(&old_topic, self.config.key_field_replacement.as_str())
                        .into_owned(),
                    _ => old_topic.clone(),
                };
                values.push(Value::String(id));
            }
            record.key = Value::Struct(Struct {
                schema: nks.clone(),
                values,
            });
            record.key_schema = Some(nks);
        }
        // Value.
        if is_envelope(record.value_schema.as_ref()) {
            if let Value::Struct(v) = &record.value {
                let es = record.value_schema.clone().expect("envelope");
                let nes = cached(&mut self.envelope_cache, &es, &new_topic, || {
                    let row = es
                        .field_named("before")
                        .or_else(|| es.field_named("after"))
                        .map(|f| {
                            let mut r = (*f.schema).clone();
                            r.name = Some(format!("{new_topic}.Value"));
                            Arc::new(r)
                        });
                    let mut b = (*es).clone();
                    b.name = Some(format!("{new_topic}.Envelope"));
                    for f in &mut b.fields {
                        if f.name == "before" || f.name == "after" {
                            if let Some(r) = &row {
                                f.schema = r.clone();
                            }
                        }
                    }
                    Arc::new(b)
                });
                let row_schema = nes.field_named("after").map(|f| f.schema.clone());
                let values = v
                    .values
                    .iter()
                    .zip(&nes.fields)
                    .map(|(val, f)| match (val, &row_schema) {
                        (Value::Struct(s), Some(rs)) if f.name == "before" || f.name == "after" => {
                            Value::Struct(Struct {
                                schema: rs.clone(),
                                values: s.values.clone(),
                            })
                        }
                        _ => val.clone(),
                    })
                    .collect();
                record.value = Value::Struct(Struct {
                    schema: nes.clone(),
                    values,
                });
                record.value_schema = Some(nes);
            }
        }
        record.topic = new_topic;
        Ok(Some(record))
    }

    fn config_def(&self) -> ConfigDef {
        Self::def()
    }
}
