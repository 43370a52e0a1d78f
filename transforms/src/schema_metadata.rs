//! Kafka's `SetSchemaMetadata$Key/$Value`: sets the schema name and/or
//! version of the key/value, rebinding a struct value to the new schema.

use std::sync::Arc;

use velocity_api::config::{ConfigExt, ConfigKey, ConfigType, Importance};
use velocity_api::{
    ConfigDef, ConnectRecord, PluginDesc, RawConfig, Result, Schema, Struct, Transform, Value,
};

use crate::error::config_err;
use crate::util::{require_schema, SchemaCache, Side};

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
        ConfigDef::new(vec![
            ConfigKey::new("schema.name", ConfigType::String, Some(""), Importance::High, "Schema name to set."),
            ConfigKey::new("schema.version", ConfigType::Int, Some(""), Importance::High, "Schema version to set."),
            ConfigKey::new("replace.null.with.default", ConfigType::Boolean, Some("true"), Importance::Medium, "Whether to replace fields that have a default value and that are null to the default value."),
        ])
    }
}

impl Transform for SetSchemaMetadata {
    fn configure(&mut self, config: &RawConfig) -> Result<()> {
        self.name = config.opt_str("schema.name").map(str::to_owned);
        self.version = match config.opt_str("schema.version") {
            None => None,
            Some(v) => Some(v.parse().map_err(|_| {
                config_err("schema.version", format!("Invalid value {v} for configuration schema.version: Not a number of type INT"))
            })?),
        };
        if self.name.is_none() && self.version.is_none() {
            return Err(config_err(
                "schema.name",
                "Neither schema name nor version configured",
            ));
        }
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
