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
use velocity_api::config::{ConfigExt, ConfigKey, ConfigType, Importance};
use velocity_api::{
    ConfigDef, ConnectRecord, RawConfig, Result, Schema, SchemaRef, Struct, Transform, Value,
};

use super::is_envelope;
use crate::error::config_err;
use crate::util::{full_match_regex, java_replacement, req_str};

/// Debezium's default name of the key field added for uniqueness.
pub const DEFAULT_KEY_FIELD: &str = "__dbz__physicalTableIdentifier";

/// `io.debezium.transforms.ByLogicalTableRouter`.
pub struct ByLogicalTableRouter {
    topic_regex: Option<Regex>,
    topic_replacement: String,
    enforce_uniqueness: bool,
    key_field_name: String,
    key_field_regex: Option<Regex>,
    key_field_replacement: String,
    key_cache: Vec<(SchemaRef, String, SchemaRef)>,
    envelope_cache: Vec<(SchemaRef, String, SchemaRef)>,
}

impl Default for ByLogicalTableRouter {
    fn default() -> Self {
        ByLogicalTableRouter {
            topic_regex: None,
            topic_replacement: String::new(),
            enforce_uniqueness: true,
            key_field_name: DEFAULT_KEY_FIELD.into(),
            key_field_regex: None,
            key_field_replacement: String::new(),
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
        ConfigDef::new(vec![
            ConfigKey::new("topic.regex", ConfigType::String, None, Importance::Low, "The regex used for extracting the name of the logical table from the original topic name."),
            ConfigKey::new("topic.replacement", ConfigType::String, None, Importance::Low, "The replacement string used in conjunction with topic.regex. This will be used to create the new topic name."),
            ConfigKey::new("key.enforce.uniqueness", ConfigType::Boolean, Some("true"), Importance::Low, "Augment each record's key with a field denoting on which table the change event originated."),
            ConfigKey::new("key.field.name", ConfigType::String, Some(DEFAULT_KEY_FIELD), Importance::Low, "The name of the key field denoting on which table the change event originated."),
            ConfigKey::new("key.field.regex", ConfigType::String, Some(""), Importance::Low, "The regex used for extracting the physical table identifier from the original topic name."),
            ConfigKey::new("key.field.replacement", ConfigType::String, Some(""), Importance::Low, "The replacement string used in conjunction with key.field.regex."),
        ])
    }
}

impl Transform for ByLogicalTableRouter {
    fn configure(&mut self, config: &RawConfig) -> Result<()> {
        let r = req_str(config, "topic.regex")?;
        self.topic_regex = Some(full_match_regex("topic.regex", &r)?);
        self.topic_replacement = java_replacement(&req_str(config, "topic.replacement")?);
        self.enforce_uniqueness = config.bool_or("key.enforce.uniqueness", true)?;
        self.key_field_name = config
            .str_or("key.field.name", DEFAULT_KEY_FIELD)
            .to_owned();
        self.key_field_regex = match config.opt_str("key.field.regex") {
            None => None,
            Some(r) => {
                let rep = config.opt_str("key.field.replacement").ok_or_else(|| {
                    config_err(
                        "key.field.replacement",
                        "key.field.replacement must be specified when key.field.regex is set",
                    )
                })?;
                self.key_field_replacement = java_replacement(rep);
                Some(full_match_regex("key.field.regex", r)?)
            }
        };
        Ok(())
    }

    fn apply(&mut self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>> {
        let Some(re) = &self.topic_regex else {
            return Ok(Some(record));
        };
        if !re.is_match(&record.topic) {
            return Ok(Some(record));
        }
        let old_topic = record.topic.clone();
        let new_topic = re
            .replace(&old_topic, self.topic_replacement.as_str())
            .into_owned();
        // Key.
        if let (Some(ks), Value::Struct(k)) = (record.key_schema.clone(), &record.key) {
            let uniq = self.enforce_uniqueness;
            let field = self.key_field_name.clone();
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
                let id = match &self.key_field_regex {
                    Some(kr) if kr.is_match(&old_topic) => kr
                        .replace(&old_topic, self.key_field_replacement.as_str())
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
