//! Kafka's `InsertField$Key` / `InsertField$Value`: adds the record's topic,
//! partition, offset, timestamp and/or a static string as fields.
//!
//! A field name ending in `!` is required, one ending in `?` (or neither) is
//! optional. Records with a null key/value pass unchanged. With a schema the
//! new struct schema keeps the original's name, version, doc and parameters
//! (Kafka's `copySchemaBasics`, which makes it required) and appends the new
//! fields in the order topic, partition, offset, timestamp, static.

use std::sync::Arc;

use velocity_api::config::{ConfigReader, TypedConfig};
use velocity_api::{
    ConfigDef, ConfigKey, ConnectRecord, PluginDesc, RawConfig, Result, Schema, SchemaRef, Struct,
    Transform, Value,
};

use crate::error::{data_err, read_config};
use crate::util::{
    copy_schema_basics, into_struct, map_put, require_map, take_values, timestamp_schema,
    SchemaCache, Side,
};

pub use keys::*;

/// The keys of Kafka's InsertField, each declared once.
pub mod keys {
    use velocity_api::config::{ConfigKey, ConfigType::*, Importance::*};

    velocity_api::config_keys! {
        /// `topic.field`: the field that receives the topic.
        TOPIC_FIELD = ConfigKey::new("topic.field", String, Some(""), Medium, "Field name for Kafka topic. Suffix with ! to make this a required field, or ? to keep it optional (the default).");
        /// `partition.field`: the field that receives the partition.
        PARTITION_FIELD = ConfigKey::new("partition.field", String, Some(""), Medium, "Field name for Kafka partition. Suffix with ! to make this a required field, or ? to keep it optional (the default).");
        /// `offset.field`: the field that receives the offset (sink records only).
        OFFSET_FIELD = ConfigKey::new("offset.field", String, Some(""), Medium, "Field name for Kafka offset - only applicable to sink connectors. Suffix with ! to make this a required field, or ? to keep it optional (the default).");
        /// `timestamp.field`: the field that receives the record timestamp.
        TIMESTAMP_FIELD = ConfigKey::new("timestamp.field", String, Some(""), Medium, "Field name for record timestamp. Suffix with ! to make this a required field, or ? to keep it optional (the default).");
        /// `static.field`: the field that receives `static.value`.
        STATIC_FIELD = ConfigKey::new("static.field", String, Some(""), Medium, "Field name for static data field. Suffix with ! to make this a required field, or ? to keep it optional (the default).");
        /// `static.value`: the value of `static.field`.
        STATIC_VALUE = ConfigKey::new("static.value", String, Some(""), Medium, "Static field value, if field name configured.");
        /// `replace.null.with.default` (default true).
        REPLACE_NULL_WITH_DEFAULT = crate::util::REPLACE_NULL_WITH_DEFAULT;
    }
}

const PURPOSE: &str = "field insertion";

/// A field to insert: its name and whether it is optional.
#[derive(Debug, Clone)]
struct InsertionSpec {
    name: String,
    optional: bool,
}

impl InsertionSpec {
    fn parse(spec: Option<&str>) -> Option<InsertionSpec> {
        let spec = spec?;
        Some(if let Some(n) = spec.strip_suffix('!') {
            InsertionSpec {
                name: n.to_owned(),
                optional: false,
            }
        } else if let Some(n) = spec.strip_suffix('?') {
            InsertionSpec {
                name: n.to_owned(),
                optional: true,
            }
        } else {
            InsertionSpec {
                name: spec.to_owned(),
                optional: true,
            }
        })
    }
}

/// The typed configuration of InsertField: at least one field to insert,
/// and `static.value` whenever `static.field` is set.
#[derive(Debug, Clone, Default)]
pub struct InsertFieldConfig {
    topic: Option<InsertionSpec>,
    partition: Option<InsertionSpec>,
    offset: Option<InsertionSpec>,
    timestamp: Option<InsertionSpec>,
    static_field: Option<InsertionSpec>,
    static_value: Option<String>,
    replace_null_with_default: bool,
}

impl TypedConfig for InsertFieldConfig {
    const KEYS: &'static [ConfigKey] = KEYS;

    fn read(r: &mut ConfigReader<'_>) -> InsertFieldConfig {
        let spec =
            |r: &mut ConfigReader<'_>, key| InsertionSpec::parse(r.opt_string(key).as_deref());
        let c = InsertFieldConfig {
            topic: spec(r, &TOPIC_FIELD),
            partition: spec(r, &PARTITION_FIELD),
            offset: spec(r, &OFFSET_FIELD),
            timestamp: spec(r, &TIMESTAMP_FIELD),
            static_field: spec(r, &STATIC_FIELD),
            static_value: r.opt_string(&STATIC_VALUE),
            replace_null_with_default: r.bool(&REPLACE_NULL_WITH_DEFAULT),
        };
        if c.topic.is_none()
            && c.partition.is_none()
            && c.offset.is_none()
            && c.timestamp.is_none()
            && c.static_field.is_none()
        {
            r.fail(TOPIC_FIELD.name, "No field insertion configured");
        }
        if c.static_field.is_some() && c.static_value.is_none() {
            r.fail(
                STATIC_VALUE.name,
                "No value specified for static field: static.field",
            );
        }
        c
    }
}

/// `org.apache.kafka.connect.transforms.InsertField$Key` / `$Value`.
pub struct InsertField {
    side: Side,
    config: InsertFieldConfig,
    cache: SchemaCache,
}

impl InsertField {
    /// An unconfigured transform for `side`.
    pub fn new(side: Side) -> InsertField {
        InsertField {
            side,
            config: InsertFieldConfig::default(),
            cache: SchemaCache::default(),
        }
    }

    /// The keys Kafka's InsertField defines.
    pub fn def() -> ConfigDef {
        InsertFieldConfig::config_def()
    }

    fn specs(&self) -> [(&Option<InsertionSpec>, u8); 5] {
        [
            (&self.config.topic, 0),
            (&self.config.partition, 1),
            (&self.config.offset, 2),
            (&self.config.timestamp, 3),
            (&self.config.static_field, 4),
        ]
    }

    fn insert_values(&self, r: &ConnectRecord) -> Result<Vec<(String, Value)>> {
        let mut out = Vec::new();
        for (spec, which) in self.specs() {
            let Some(spec) = spec else { continue };
            let v = match which {
                0 => Value::String(r.topic.clone()),
                1 => r.partition.map_or(Value::Null, Value::Int32),
                2 => {
                    return Err(data_err(format!(
                        "Only SinkRecord supported for [{PURPOSE}], found: org.apache.kafka.connect.source.SourceRecord"
                    )))
                }
                3 => r.timestamp.map_or(Value::Null, Value::Int64),
                _ => self
                    .config
                    .static_value
                    .clone()
                    .map_or(Value::Null, Value::String),
            };
            out.push((spec.name.clone(), v));
        }
        Ok(out)
    }

    fn updated_schema(&self, schema: &Schema) -> SchemaRef {
        let mut b = copy_schema_basics(schema, Schema::struct_());
        for f in &schema.fields {
            b = b.field(f.name.clone(), f.schema.clone());
        }
        for (spec, which) in self.specs() {
            let Some(spec) = spec else { continue };
            let s = match which {
                0 => Schema::string().with_optional(spec.optional),
                1 => Schema::int32().with_optional(spec.optional),
                2 => Schema::int64().with_optional(spec.optional),
                3 => timestamp_schema(spec.optional),
                _ => Schema::string().with_optional(spec.optional),
            };
            b = b.field(spec.name.clone(), Arc::new(s));
        }
        b.build()
    }
}

impl Transform for InsertField {
    fn configure(&mut self, config: &RawConfig) -> Result<()> {
        self.config = read_config(config)?;
        Ok(())
    }

    fn apply(&mut self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>> {
        if self.side.value(&record).is_null() {
            return Ok(Some(record));
        }
        let inserts = self.insert_values(&record)?;
        let (schema, value) = self.side.take(&mut record);
        match schema {
            None => {
                let mut entries = require_map(&value, PURPOSE)?.to_vec();
                for (k, v) in inserts {
                    map_put(&mut entries, &k, v);
                }
                self.side.put(&mut record, None, Value::Map(entries));
            }
            Some(schema) => {
                let s = into_struct(value, PURPOSE)?;
                let mut cache = std::mem::take(&mut self.cache);
                let new_schema = cache.get_or_try(&schema, |s| Ok(self.updated_schema(s)));
                self.cache = cache;
                let new_schema = new_schema?;
                let mut values = take_values(s, self.config.replace_null_with_default);
                values.extend(inserts.into_iter().map(|(_, v)| v));
                let new = Struct {
                    schema: new_schema.clone(),
                    values,
                };
                self.side
                    .put(&mut record, Some(new_schema), Value::Struct(new));
            }
        }
        Ok(Some(record))
    }

    fn config_def(&self) -> ConfigDef {
        Self::def()
    }
}

/// `InsertField$Key` and `InsertField$Value`.
pub fn plugins() -> Vec<PluginDesc> {
    vec![
        crate::transform(
            "org.apache.kafka.connect.transforms.InsertField$Key",
            InsertField::def,
            || Box::new(InsertField::new(Side::Key)),
        ),
        crate::transform(
            "org.apache.kafka.connect.transforms.InsertField$Value",
            InsertField::def,
            || Box::new(InsertField::new(Side::Value)),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;
    use velocity_api::schema::logical;

    fn configured(pairs: &[(&str, &str)]) -> InsertField {
        let mut t = InsertField::new(Side::Value);
        t.configure(&cfg(pairs)).unwrap();
        t
    }

    const ALL: &[(&str, &str)] = &[
        ("topic.field", "topic_field!"),
        ("partition.field", "partition_field"),
        ("timestamp.field", "timestamp_field?"),
        ("static.field", "instance_id"),
        ("static.value", "my-instance-id"),
    ];

    #[test]
    fn with_schema() {
        let mut t = configured(ALL);
        let r = rec_value(Some(row_schema()), Value::Struct(row(1, "a", 2.5)));
        let out = t.apply(r).unwrap().unwrap();
        let s = out.value_schema.clone().unwrap();
        assert_eq!(
            field_names(&s),
            [
                "id",
                "name",
                "price",
                "topic_field",
                "partition_field",
                "timestamp_field",
                "instance_id"
            ]
        );
        assert_eq!(s.name.as_deref(), Some("test.Value"));
        assert_eq!(s.version, Some(1));
        assert!(!s.field_named("topic_field").unwrap().schema.optional);
        assert!(s.field_named("partition_field").unwrap().schema.optional);
        assert!(s
            .field_named("timestamp_field")
            .unwrap()
            .schema
            .is_named(logical::TIMESTAMP));
        let v = out.value.as_struct().unwrap();
        assert_eq!(v.get("topic_field"), Some(&Value::from("topic")));
        assert_eq!(v.get("partition_field"), Some(&Value::Int32(3)));
        assert_eq!(
            v.get("timestamp_field"),
            Some(&Value::Int64(1_700_000_000_123))
        );
        assert_eq!(v.get("instance_id"), Some(&Value::from("my-instance-id")));
        assert_eq!(v.get("id"), Some(&Value::Int32(1)));
    }

    #[test]
    fn schemaless() {
        let mut t = configured(ALL);
        let r = rec_value(None, map(&[("magic", Value::Int64(42))]));
        let out = t.apply(r).unwrap().unwrap();
        let Value::Map(m) = &out.value else { panic!() };
        let keys: Vec<_> = m.iter().map(|(k, _)| k.as_str().unwrap()).collect();
        assert_eq!(
            keys,
            [
                "magic",
                "topic_field",
                "partition_field",
                "timestamp_field",
                "instance_id"
            ]
        );
        assert!(out.value_schema.is_none());
    }

    #[test]
    fn tombstone_passes_and_key_side() {
        let mut t = configured(ALL);
        let r = rec_value(None, Value::Null);
        assert_eq!(t.apply(r.clone()).unwrap().unwrap(), r);
        let mut k = InsertField::new(Side::Key);
        k.configure(&cfg(&[("topic.field", "t")])).unwrap();
        let mut r = rec_value(None, Value::Null);
        r.key = map(&[]);
        let out = k.apply(r).unwrap().unwrap();
        assert_eq!(out.key, map(&[("t", Value::from("topic"))]));
    }

    #[test]
    fn schemaless_requires_map_and_offset_requires_sink() {
        let mut t = configured(ALL);
        let e = t.apply(rec_value(None, Value::from("x"))).unwrap_err();
        assert!(e.to_string().contains("Only Map objects supported"), "{e}");
        let mut t = configured(&[("offset.field", "o")]);
        assert!(t.apply(rec_value(None, map(&[]))).is_err());
    }
}
