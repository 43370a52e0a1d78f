//! Kafka's `Flatten$Key` / `Flatten$Value`: nested structs (or, schemaless,
//! nested maps) become top-level fields whose names join the path with
//! `delimiter` (default `.`). Arrays and maps inside a schema are kept as
//! they are. A nested field is optional when it or any parent is optional.

use std::sync::Arc;

use velocity_api::config::{ConfigReader, TypedConfig};
use velocity_api::{
    ConfigDef, ConfigKey, ConnectRecord, PluginDesc, RawConfig, Result, Schema, SchemaRef, Struct,
    Transform, Type, Value,
};

use crate::error::read_config;
use crate::util::{
    copy_schema_basics, field_value, map_key, require_map, require_struct, SchemaCache, Side,
};

pub use keys::*;

/// The keys of Kafka's Flatten, each declared once.
pub mod keys {
    use velocity_api::config::{ConfigKey, ConfigType::*, Importance::*};

    velocity_api::config_keys! {
        /// `delimiter`: joins the names of a nested field's path (default `.`).
        DELIMITER = ConfigKey::new("delimiter", String, Some("."), Medium, "Delimiter to insert between field names from the input record when generating field names for the output record");
        /// `replace.null.with.default` (default true).
        REPLACE_NULL_WITH_DEFAULT = crate::util::REPLACE_NULL_WITH_DEFAULT;
    }
}

/// The typed configuration of Flatten.
#[derive(Debug, Clone)]
pub struct FlattenConfig {
    delimiter: String,
    replace_null_with_default: bool,
}

impl TypedConfig for FlattenConfig {
    const KEYS: &'static [ConfigKey] = KEYS;

    fn read(r: &mut ConfigReader<'_>) -> FlattenConfig {
        FlattenConfig {
            // A given delimiter is taken as is, even empty or blank.
            delimiter: r.present_string(&DELIMITER),
            replace_null_with_default: r.bool(&REPLACE_NULL_WITH_DEFAULT),
        }
    }
}

const PURPOSE: &str = "flattening";

/// `org.apache.kafka.connect.transforms.Flatten$Key` / `$Value`.
pub struct Flatten {
    side: Side,
    delimiter: String,
    replace_null_with_default: bool,
    cache: SchemaCache,
}

impl Flatten {
    /// An unconfigured transform for `side`.
    pub fn new(side: Side) -> Flatten {
        Flatten {
            side,
            delimiter: ".".into(),
            replace_null_with_default: true,
            cache: SchemaCache::default(),
        }
    }

    /// The keys Kafka's Flatten defines.
    pub fn def() -> ConfigDef {
        FlattenConfig::config_def()
    }

    fn name(&self, prefix: &str, name: &str) -> String {
        if prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{prefix}{}{name}", self.delimiter)
        }
    }

    fn build_schema(&self, schema: &Schema, prefix: &str, optional: bool, out: &mut Schema) {
        for f in &schema.fields {
            let name = self.name(prefix, &f.name);
            let opt = optional || f.schema.optional;
            if f.schema.type_ == Type::Struct {
                self.build_schema(&f.schema, &name, opt, out);
            } else {
                let fs: SchemaRef = if opt && !f.schema.optional {
                    Arc::new(Schema {
                        optional: true,
                        ..(*f.schema).clone()
                    })
                } else {
                    f.schema.clone()
                };
                let idx = out.fields.len();
                out.fields.push(velocity_api::Field {
                    name,
                    index: idx,
                    schema: fs,
                });
            }
        }
    }

    fn build_values(&self, s: Option<&Struct>, schema: &Schema, out: &mut Vec<Value>) {
        for f in &schema.fields {
            let v = s.map_or(Value::Null, |s| {
                field_value(s, f.index, self.replace_null_with_default)
            });
            if f.schema.type_ == Type::Struct {
                self.build_values(v.as_struct(), &f.schema, out);
            } else {
                out.push(v);
            }
        }
    }

    fn flatten_map(&self, entries: &[(Value, Value)], prefix: &str, out: &mut Vec<(Value, Value)>) {
        for (k, v) in entries {
            let name = self.name(prefix, &map_key(k));
            match v {
                Value::Map(inner) => self.flatten_map(inner, &name, out),
                other => out.push((Value::String(name), other.clone())),
            }
        }
    }
}

impl Transform for Flatten {
    fn configure(&mut self, config: &RawConfig) -> Result<()> {
        let c: FlattenConfig = read_config(config)?;
        self.delimiter = c.delimiter;
        self.replace_null_with_default = c.replace_null_with_default;
        Ok(())
    }

    fn apply(&mut self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>> {
        if self.side.value(&record).is_null() {
            return Ok(Some(record));
        }
        let (schema, value) = self.side.take(&mut record);
        match schema {
            None => {
                let entries = require_map(&value, PURPOSE)?;
                let mut out = Vec::with_capacity(entries.len());
                self.flatten_map(entries, "", &mut out);
                self.side.put(&mut record, None, Value::Map(out));
            }
            Some(schema) => {
                let s = require_struct(&value, PURPOSE)?;
                let mut cache = std::mem::take(&mut self.cache);
                let ns = cache.get_or_try(&schema, |schema| {
                    let mut b = copy_schema_basics(schema, Schema::struct_());
                    self.build_schema(schema, "", schema.optional, &mut b);
                    Ok(b.build())
                });
                self.cache = cache;
                let ns = ns?;
                let mut values = Vec::with_capacity(ns.fields.len());
                self.build_values(Some(s), &s.schema, &mut values);
                let st = Struct {
                    schema: ns.clone(),
                    values,
                };
                self.side.put(&mut record, Some(ns), Value::Struct(st));
            }
        }
        Ok(Some(record))
    }

    fn config_def(&self) -> ConfigDef {
        Self::def()
    }
}

/// `Flatten$Key` and `Flatten$Value`.
pub fn plugins() -> Vec<PluginDesc> {
    vec![
        crate::transform(
            "org.apache.kafka.connect.transforms.Flatten$Key",
            Flatten::def,
            || Box::new(Flatten::new(Side::Key)),
        ),
        crate::transform(
            "org.apache.kafka.connect.transforms.Flatten$Value",
            Flatten::def,
            || Box::new(Flatten::new(Side::Value)),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;

    #[test]
    fn nested_struct() {
        let inner = Schema::struct_()
            .field("x", Schema::int32())
            .field("y", Schema::string())
            .optional()
            .build();
        let schema = Schema::struct_()
            .named("n")
            .field("id", Schema::int32())
            .field("pos", inner.clone())
            .field("tags", Schema::array(Schema::string().build()))
            .build();
        let v = Struct::new(schema.clone())
            .put("id", 1)
            .put(
                "pos",
                Value::Struct(Struct::new(inner).put("x", 5).put("y", "b")),
            )
            .put("tags", Value::Array(vec!["t".into()]));
        let mut t = Flatten::new(Side::Value);
        t.configure(&cfg(&[])).unwrap();
        let out = t
            .apply(rec_value(Some(schema.clone()), Value::Struct(v)))
            .unwrap()
            .unwrap();
        let s = out.value_schema.unwrap();
        assert_eq!(field_names(&s), ["id", "pos.x", "pos.y", "tags"]);
        assert!(s.field_named("pos.x").unwrap().schema.optional);
        assert_eq!(s.name.as_deref(), Some("n"));
        let st = out.value.as_struct().unwrap();
        assert_eq!(st.get("pos.y"), Some(&Value::from("b")));
        // null nested struct → null leaves
        let v = Struct::new(schema.clone())
            .put("id", 1)
            .put("tags", Value::Array(vec![]));
        let out = t
            .apply(rec_value(Some(schema), Value::Struct(v)))
            .unwrap()
            .unwrap();
        assert_eq!(
            out.value.as_struct().unwrap().get("pos.x"),
            Some(&Value::Null)
        );
    }

    #[test]
    fn schemaless_with_delimiter() {
        let mut t = Flatten::new(Side::Value);
        t.configure(&cfg(&[("delimiter", "_")])).unwrap();
        let v = map(&[
            ("a", map(&[("b", 1.into()), ("c", map(&[("d", 2.into())]))])),
            ("e", 3.into()),
        ]);
        let out = t.apply(rec_value(None, v)).unwrap().unwrap();
        assert_eq!(
            out.value,
            map(&[("a_b", 1.into()), ("a_c_d", 2.into()), ("e", 3.into())])
        );
    }
}
