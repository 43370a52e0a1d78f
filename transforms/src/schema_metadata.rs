//! Kafka's `SetSchemaMetadata$Key/$Value`: sets the schema name and/or
//! version of the key/value, rebinding a struct value to the new schema.

use std::sync::Arc;

use velocity_api::config::{ConfigReader, TypedConfig};
use velocity_api::{
    ConfigDef, ConfigKey, ConnectRecord, PluginDesc, RawConfig, Result, Schema, Struct, Transform,
    Value,
};

use crate::error::read_config;
use crate::util::{require_schema, SchemaCache, Side};

pub use keys::*;

/// The keys of Kafka's SetSchemaMetadata, each declared once.
pub mod keys {
    use velocity_api::config::{ConfigKey, ConfigType::*, Importance::*};

    velocity_api::config_keys! {
        /// `schema.name`: the new schema name.
        SCHEMA_NAME = ConfigKey::new("schema.name", String, Some(""), High, "Schema name to set.");
        /// `schema.version`: the new schema version.
        SCHEMA_VERSION = ConfigKey::new("schema.version", Int, Some(""), High, "Schema version to set.");
        /// `replace.null.with.default` (declared as Kafka does; unused).
        REPLACE_NULL_WITH_DEFAULT = crate::util::REPLACE_NULL_WITH_DEFAULT;
    }
}

/// The typed configuration of SetSchemaMetadata: a name, a version or both.
#[derive(Debug, Clone)]
pub struct SetSchemaMetadataConfig {
    name: Option<String>,
    version: Option<i32>,
}

impl TypedConfig for SetSchemaMetadataConfig {
    const KEYS: &'static [ConfigKey] = KEYS;

    fn read(r: &mut ConfigReader<'_>) -> SetSchemaMetadataConfig {
        let name = r.opt_string(&SCHEMA_NAME);
        // The default is empty (no version), which is not a number.
        let version = r.is_set(&SCHEMA_VERSION).then(|| r.int(&SCHEMA_VERSION));
        if name.is_none() && version.is_none() {
            r.fail(
                SCHEMA_NAME.name,
                "Neither schema name nor version configured",
            );
        }
        SetSchemaMetadataConfig { name, version }
    }
}

/// `org.apache.kafka.connect.transforms.SetSchemaMetadata$Key` / `$Value`.
/// Records without a schema fail (`Schema required for [updating schema metadata]`).
pub struct SetSchemaMetadata {
    side: Side,
    name: Option<String>,
    version: Option<i32>,
    cache: SchemaCache,
}

impl SetSchemaMetadata {
    /// An unconfigured transform for `side`.
    pub fn new(side: Side) -> SetSchemaMetadata {
        SetSchemaMetadata {
            side,
            name: None,
            version: None,
            cache: SchemaCache::default(),
        }
    }

    /// The keys Kafka's SetSchemaMetadata defines.
    pub fn def() -> ConfigDef {
        SetSchemaMetadataConfig::config_def()
    }
}

impl Transform for SetSchemaMetadata {
    fn configure(&mut self, config: &RawConfig) -> Result<()> {
        let c: SetSchemaMetadataConfig = read_config(config)?;
        self.name = c.name;
        self.version = c.version;
        Ok(())
    }

    fn apply(&mut self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>> {
        let schema = require_schema(self.side.schema(&record), "updating schema metadata")?.clone();
        let (name, version) = (&self.name, self.version);
        let new_schema = self.cache.get_or_try(&schema, |s| {
            let mut n: Schema = (**s).clone();
            if let Some(name) = name {
                n.name = Some(name.clone());
            }
            if let Some(v) = version {
                n.version = Some(v);
            }
            Ok(Arc::new(n))
        })?;
        let (_, value) = self.side.take(&mut record);
        let value = match value {
            Value::Struct(s) => Value::Struct(Struct {
                schema: new_schema.clone(),
                values: s.values,
            }),
            other => other,
        };
        self.side.put(&mut record, Some(new_schema), value);
        Ok(Some(record))
    }

    fn config_def(&self) -> ConfigDef {
        Self::def()
    }
}

/// `SetSchemaMetadata$Key` and `$Value`.
pub fn plugins() -> Vec<PluginDesc> {
    vec![
        crate::transform(
            "org.apache.kafka.connect.transforms.SetSchemaMetadata$Key",
            SetSchemaMetadata::def,
            || Box::new(SetSchemaMetadata::new(Side::Key)),
        ),
        crate::transform(
            "org.apache.kafka.connect.transforms.SetSchemaMetadata$Value",
            SetSchemaMetadata::def,
            || Box::new(SetSchemaMetadata::new(Side::Value)),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;

    #[test]
    fn sets_name_and_version() {
        let mut t = SetSchemaMetadata::new(Side::Value);
        t.configure(&cfg(&[("schema.name", "foo"), ("schema.version", "42")]))
            .unwrap();
        let out = t
            .apply(rec_value(
                Some(row_schema()),
                Value::Struct(row(1, "a", 1.0)),
            ))
            .unwrap()
            .unwrap();
        let s = out.value_schema.unwrap();
        assert_eq!(s.name.as_deref(), Some("foo"));
        assert_eq!(s.version, Some(42));
        assert_eq!(out.value.as_struct().unwrap().schema, s);
    }

    #[test]
    fn schemaless_fails_and_config_required() {
        let mut t = SetSchemaMetadata::new(Side::Value);
        t.configure(&cfg(&[("schema.name", "foo")])).unwrap();
        let e = t.apply(rec_value(None, map(&[]))).unwrap_err();
        assert!(e
            .to_string()
            .contains("Schema required for [updating schema metadata]"));
        let e = SetSchemaMetadata::new(Side::Value)
            .configure(&cfg(&[]))
            .unwrap_err();
        assert!(e
            .to_string()
            .contains("Neither schema name nor version configured"));
    }
}
