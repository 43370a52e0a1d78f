//! Kafka's `HoistField$Key/$Value` (wrap the key/value in a one-field
//! struct or map) and `ExtractField$Key/$Value` (replace the key/value by one
//! of its fields; with `field.syntax.version=V2` a dotted path reaches into
//! nested structs/maps).

use velocity_api::config::{ConfigReader, TypedConfig};
use velocity_api::{
    config_choice, ConfigDef, ConfigKey, ConnectRecord, PluginDesc, RawConfig, Result, Schema,
    SchemaRef, Struct, Transform, Value,
};

use crate::error::{data_err, read_config};
use crate::util::{field_value, java_class_of, map_get, SchemaCache, Side};

/// The keys of Kafka's HoistField, each declared once.
pub mod hoist_keys {
    use velocity_api::config::{ConfigKey, ConfigType::*, Importance::*};

    velocity_api::config_keys! {
        /// `field`: the name of the one field of the wrapper (required).
        FIELD = ConfigKey::new("field", String, None, Medium, "Field name for the single field that will be created in the resulting Struct or Map.");
    }
}

/// The keys of Kafka's ExtractField, each declared once.
pub mod extract_keys {
    use super::SyntaxVersion;
    use velocity_api::config::{ConfigKey, ConfigType::*, Importance::*};

    velocity_api::config_keys! {
        /// `field`: the field (or, with V2, the dotted path) to extract (required).
        FIELD = ConfigKey::new("field", String, None, Medium, "Field name to extract.");
        /// `field.syntax.version`: `V1` (dots are part of names) or `V2` (dots nest).
        FIELD_SYNTAX_VERSION = ConfigKey::new("field.syntax.version", String, Some("V1"), High, "Defines the version of the syntax to access fields. V1: dots are part of field names; V2: dots separate nested field names.").one_of(SyntaxVersion::NAMES);
        /// `replace.null.with.default` (default true).
        REPLACE_NULL_WITH_DEFAULT = crate::util::REPLACE_NULL_WITH_DEFAULT;
    }
}

config_choice! {
    /// How `field` names a field (`field.syntax.version`).
    pub enum SyntaxVersion {
        /// Dots are part of field names.
        V1 = "V1",
        /// Dots separate nested field names; backticks quote a name with dots.
        V2 = "V2",
    }
}

/// The typed configuration of HoistField: the wrapper's field name.
#[derive(Debug, Clone)]
pub struct HoistFieldConfig {
    field: String,
}

impl TypedConfig for HoistFieldConfig {
    const KEYS: &'static [ConfigKey] = hoist_keys::KEYS;

    fn read(r: &mut ConfigReader<'_>) -> HoistFieldConfig {
        HoistFieldConfig {
            field: r.string(&hoist_keys::FIELD),
        }
    }
}

/// The typed configuration of ExtractField: the field and how to read it.
#[derive(Debug, Clone)]
pub struct ExtractFieldConfig {
    field: String,
    syntax: SyntaxVersion,
    replace_null_with_default: bool,
}

impl TypedConfig for ExtractFieldConfig {
    const KEYS: &'static [ConfigKey] = extract_keys::KEYS;

    fn read(r: &mut ConfigReader<'_>) -> ExtractFieldConfig {
        use extract_keys::*;
        ExtractFieldConfig {
            field: r.string(&FIELD),
            syntax: r.choice(&FIELD_SYNTAX_VERSION),
            replace_null_with_default: r.bool(&REPLACE_NULL_WITH_DEFAULT),
        }
    }
}

/// `org.apache.kafka.connect.transforms.HoistField$Key` / `$Value`: wraps
/// the data in a struct (schema: unnamed, required, one field `field` with
/// the original schema) or, schemaless, in a map `{field: data}`.
pub struct HoistField {
    side: Side,
    field: String,
    cache: SchemaCache,
}

impl HoistField {
    /// An unconfigured transform for `side`.
    pub fn new(side: Side) -> HoistField {
        HoistField {
            side,
            field: String::new(),
            cache: SchemaCache::default(),
        }
    }

    /// The keys Kafka's HoistField defines.
    pub fn def() -> ConfigDef {
        HoistFieldConfig::config_def()
    }
}

impl Transform for HoistField {
    fn configure(&mut self, config: &RawConfig) -> Result<()> {
        let c: HoistFieldConfig = read_config(config)?;
        self.field = c.field;
        Ok(())
    }

    fn apply(&mut self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>> {
        let (schema, value) = self.side.take(&mut record);
        match schema {
            None => {
                let m = Value::Map(vec![(Value::String(self.field.clone()), value)]);
                self.side.put(&mut record, None, m);
            }
            Some(schema) => {
                let field = &self.field;
                let new_schema = self.cache.get_or_try(&schema, |s| {
                    Ok(Schema::struct_().field(field.clone(), s.clone()).build())
                })?;
                let s = Struct {
                    schema: new_schema.clone(),
                    values: vec![value],
                };
                self.side
                    .put(&mut record, Some(new_schema), Value::Struct(s));
            }
        }
        Ok(Some(record))
    }

    fn config_def(&self) -> ConfigDef {
        Self::def()
    }
}

/// `org.apache.kafka.connect.transforms.ExtractField$Key` / `$Value`:
/// replaces the data by the value of `field` (null data stays null). With a
/// schema an unknown field is an error (`Unknown field: …`); schemaless, a
/// missing entry gives null.
pub struct ExtractField {
    side: Side,
    path: Vec<String>,
    original: String,
    replace_null_with_default: bool,
}

impl ExtractField {
    /// An unconfigured transform for `side`.
    pub fn new(side: Side) -> ExtractField {
        ExtractField {
            side,
            path: Vec::new(),
            original: String::new(),
            replace_null_with_default: true,
        }
    }

    /// The keys Kafka's ExtractField defines.
    pub fn def() -> ConfigDef {
        ExtractFieldConfig::config_def()
    }
}

/// Splits a V2 field path: dots separate names; a name in backticks may
/// contain dots (```` `a.b`.c ````).
pub fn parse_path_v2(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in path.chars() {
        match c {
            '`' => quoted = !quoted,
            '.' if !quoted => out.push(std::mem::take(&mut cur)),
            o => cur.push(o),
        }
    }
    out.push(cur);
    out
}

impl Transform for ExtractField {
    fn configure(&mut self, config: &RawConfig) -> Result<()> {
        let c: ExtractFieldConfig = read_config(config)?;
        self.path = match c.syntax {
            SyntaxVersion::V1 => vec![c.field.clone()],
            SyntaxVersion::V2 => parse_path_v2(&c.field),
        };
        self.original = c.field;
        self.replace_null_with_default = c.replace_null_with_default;
        Ok(())
    }

    fn apply(&mut self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>> {
        let (schema, value) = self.side.take(&mut record);
        match schema {
            None => {
                let mut cur = &value;
                for name in &self.path {
                    cur = match cur {
                        Value::Null => break,
                        Value::Map(m) => map_get(m, name).unwrap_or(&Value::Null),
                        other => {
                            return Err(data_err(format!(
                                "Only Map objects supported in absence of schema for [field extraction], found: {}",
                                java_class_of(other)
                            )))
                        }
                    };
                }
                let v = cur.clone();
                self.side.put(&mut record, None, v);
            }
            Some(schema) => {
                let mut s: SchemaRef = schema.clone();
                for name in &self.path {
                    s = s
                        .field_named(name)
                        .map(|f| f.schema.clone())
                        .ok_or_else(|| data_err(format!("Unknown field: {}", self.original)))?;
                }
                let mut cur = value;
                for name in &self.path {
                    cur = match cur {
                        Value::Null => Value::Null,
                        Value::Struct(st) => {
                            let idx = st.schema.field_named(name).map(|f| f.index);
                            match idx {
                                Some(i) => field_value(&st, i, self.replace_null_with_default),
                                None => {
                                    return Err(data_err(format!(
                                        "Unknown field: {}",
                                        self.original
                                    )))
                                }
                            }
                        }
                        other => {
                            return Err(data_err(format!(
                                "Only Struct objects supported for [field extraction], found: {}",
                                java_class_of(&other)
                            )))
                        }
                    };
                }
                self.side.put(&mut record, Some(s), cur);
            }
        }
        Ok(Some(record))
    }

    fn config_def(&self) -> ConfigDef {
        Self::def()
    }
}

/// `HoistField` and `ExtractField`, key and value.
pub fn plugins() -> Vec<PluginDesc> {
    vec![
        crate::transform(
            "org.apache.kafka.connect.transforms.HoistField$Key",
            HoistField::def,
            || Box::new(HoistField::new(Side::Key)),
        ),
        crate::transform(
            "org.apache.kafka.connect.transforms.HoistField$Value",
            HoistField::def,
            || Box::new(HoistField::new(Side::Value)),
        ),
        crate::transform(
            "org.apache.kafka.connect.transforms.ExtractField$Key",
            ExtractField::def,
            || Box::new(ExtractField::new(Side::Key)),
        ),
        crate::transform(
            "org.apache.kafka.connect.transforms.ExtractField$Value",
            ExtractField::def,
            || Box::new(ExtractField::new(Side::Value)),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;

    #[test]
    fn hoist_with_schema_and_schemaless() {
        let mut t = HoistField::new(Side::Key);
        t.configure(&cfg(&[("field", "magic")])).unwrap();
        let mut r = rec_value(None, Value::Null);
        r.key_schema = Some(Schema::int32().build());
        r.key = Value::Int32(42);
        let out = t.apply(r).unwrap().unwrap();
        let ks = out.key_schema.unwrap();
        assert_eq!(field_names(&ks), ["magic"]);
        assert!(ks.name.is_none() && !ks.optional);
        assert_eq!(
            out.key.as_struct().unwrap().get("magic"),
            Some(&Value::Int32(42))
        );
        let mut r = rec_value(None, Value::Null);
        r.key = Value::Int32(42);
        let out = t.apply(r).unwrap().unwrap();
        assert_eq!(out.key, map(&[("magic", Value::Int32(42))]));
    }

    #[test]
    fn extract_with_schema() {
        let mut t = ExtractField::new(Side::Value);
        t.configure(&cfg(&[("field", "name")])).unwrap();
        let out = t
            .apply(rec_value(
                Some(row_schema()),
                Value::Struct(row(1, "a", 1.0)),
            ))
            .unwrap()
            .unwrap();
        assert_eq!(out.value, Value::from("a"));
        assert_eq!(out.value_schema.unwrap().type_, velocity_api::Type::String);
        let mut t = ExtractField::new(Side::Value);
        t.configure(&cfg(&[("field", "nope")])).unwrap();
        let e = t
            .apply(rec_value(
                Some(row_schema()),
                Value::Struct(row(1, "a", 1.0)),
            ))
            .unwrap_err();
        assert!(e.to_string().contains("Unknown field: nope"), "{e}");
    }

    #[test]
    fn extract_schemaless_and_nested_v2() {
        let mut t = ExtractField::new(Side::Value);
        t.configure(&cfg(&[("field", "a")])).unwrap();
        let out = t
            .apply(rec_value(None, map(&[("a", 1.into())])))
            .unwrap()
            .unwrap();
        assert_eq!(out.value, Value::Int32(1));
        let out = t.apply(rec_value(None, map(&[]))).unwrap().unwrap();
        assert_eq!(out.value, Value::Null);
        let mut t = ExtractField::new(Side::Value);
        t.configure(&cfg(&[
            ("field", "outer.inner"),
            ("field.syntax.version", "V2"),
        ]))
        .unwrap();
        let out = t
            .apply(rec_value(
                None,
                map(&[("outer", map(&[("inner", 5.into())]))]),
            ))
            .unwrap()
            .unwrap();
        assert_eq!(out.value, Value::Int32(5));
        assert_eq!(parse_path_v2("`a.b`.c"), ["a.b", "c"]);
    }
}
