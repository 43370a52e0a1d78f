//! Field selection SMTs of Kafka: `ReplaceField$Key/$Value` (include,
//! exclude, rename; `whitelist`/`blacklist` accepted as Kafka's deprecated
//! aliases), `MaskField$Key/$Value` (replace field values with a null-like
//! value of their type or a configured replacement) and `ValueToKey` (build
//! the key from value fields).

use std::collections::HashMap;

use velocity_api::config::{ConfigReader, TypedConfig};
use velocity_api::schema::logical;
use velocity_api::{
    ConfigDef, ConfigKey, ConnectRecord, PluginDesc, RawConfig, Result, Schema, Struct, Transform,
    Type, Value,
};

use crate::error::{data_err, read_config};
use crate::util::{
    copy_schema_basics, field_value, into_struct, java_class_of, map_get, map_key, require_map,
    require_struct, required_list, take_values, SchemaCache, Side,
};

/// The keys of Kafka's ReplaceField, each declared once.
pub mod replace_keys {
    use velocity_api::config::{ConfigKey, ConfigType::*, Importance::*};

    velocity_api::config_keys! {
        /// `exclude`: fields to drop (wins over `include`).
        EXCLUDE = ConfigKey::new("exclude", List, Some(""), Medium, "Fields to exclude. This takes precedence over the fields to include.");
        /// `include`: fields to keep (empty keeps all).
        INCLUDE = ConfigKey::new("include", List, Some(""), Medium, "Fields to include. If specified, only these fields will be used.");
        /// `renames`: `old:new,…`.
        RENAMES = ConfigKey::new("renames", List, Some(""), Medium, "Field rename mappings.");
        /// `blacklist`: deprecated alias of `exclude`.
        BLACKLIST = ConfigKey::new("blacklist", List, Some(""), Low, "Deprecated. Use exclude instead.");
        /// `whitelist`: deprecated alias of `include`.
        WHITELIST = ConfigKey::new("whitelist", List, Some(""), Low, "Deprecated. Use include instead.");
        /// `replace.null.with.default` (default true).
        REPLACE_NULL_WITH_DEFAULT = crate::util::REPLACE_NULL_WITH_DEFAULT;
    }
}

/// The keys of Kafka's MaskField, each declared once.
pub mod mask_keys {
    use velocity_api::config::{ConfigKey, ConfigType::*, Importance::*};

    velocity_api::config_keys! {
        /// `fields`: the fields to mask (required).
        FIELDS = ConfigKey::new("fields", List, None, High, "Names of fields to mask.");
        /// `replacement`: the value masked fields get instead of their type's empty value.
        REPLACEMENT = ConfigKey::new("replacement", String, Some(""), Low, "Custom value replacement, that will be applied to all 'fields' values (numeric or non-empty string values only).");
        /// `replace.null.with.default` (default true).
        REPLACE_NULL_WITH_DEFAULT = crate::util::REPLACE_NULL_WITH_DEFAULT;
    }
}

/// The keys of Kafka's ValueToKey, each declared once.
pub mod value_to_key_keys {
    use velocity_api::config::{ConfigKey, ConfigType::*, Importance::*};

    velocity_api::config_keys! {
        /// `fields`: the value fields that make the key (required).
        FIELDS = ConfigKey::new("fields", List, None, High, "Field names on the record value to extract as the record key.");
        /// `replace.null.with.default` (default true).
        REPLACE_NULL_WITH_DEFAULT = crate::util::REPLACE_NULL_WITH_DEFAULT;
    }
}

// ---------------------------------------------------------------- ReplaceField

/// The typed configuration of ReplaceField (Kafka's
/// `ConfigUtils.translateDeprecatedConfigs`: `exclude`/`include` win over
/// `blacklist`/`whitelist`; every rename is `old:new`).
#[derive(Debug, Clone, Default)]
pub struct ReplaceFieldConfig {
    exclude: Vec<String>,
    include: Vec<String>,
    renames: HashMap<String, String>,
    replace_null_with_default: bool,
}

impl TypedConfig for ReplaceFieldConfig {
    const KEYS: &'static [ConfigKey] = replace_keys::KEYS;

    fn read(r: &mut ConfigReader<'_>) -> ReplaceFieldConfig {
        use replace_keys::*;
        let mut either = |new: &ConfigKey, old: &ConfigKey| {
            let (newer, older) = (r.list(new), r.list(old));
            if r.is_set(new) {
                newer
            } else {
                older
            }
        };
        let exclude = either(&EXCLUDE, &BLACKLIST);
        let include = either(&INCLUDE, &WHITELIST);
        let raw = r.string(&RENAMES);
        let mut renames = HashMap::new();
        for mapping in r.list(&RENAMES) {
            match mapping.split(':').collect::<Vec<_>>().as_slice() {
                [old, new] if !old.is_empty() && !new.is_empty() => {
                    renames.insert((*old).to_owned(), (*new).to_owned());
                }
                _ => r.fail(
                    RENAMES.name,
                    format!("Invalid value {raw} for configuration renames: Invalid rename mapping: {mapping}"),
                ),
            }
        }
        ReplaceFieldConfig {
            exclude,
            include,
            renames,
            replace_null_with_default: r.bool(&REPLACE_NULL_WITH_DEFAULT),
        }
    }
}

/// `org.apache.kafka.connect.transforms.ReplaceField$Key` / `$Value`.
///
/// Keeps a field when it is not in `exclude` and (`include` is empty or it is
/// in `include`), then renames it by `renames` (`old:new,…`).
pub struct ReplaceField {
    side: Side,
    config: ReplaceFieldConfig,
    cache: SchemaCache,
}

const REPLACE_PURPOSE: &str = "field replacement";

impl ReplaceField {
    /// An unconfigured transform for `side`.
    pub fn new(side: Side) -> ReplaceField {
        ReplaceField {
            side,
            config: ReplaceFieldConfig::default(),
            cache: SchemaCache::default(),
        }
    }

    /// The keys Kafka's ReplaceField defines.
    pub fn def() -> ConfigDef {
        ReplaceFieldConfig::config_def()
    }

    fn keep(&self, name: &str) -> bool {
        let c = &self.config;
        !c.exclude.iter().any(|e| e == name)
            && (c.include.is_empty() || c.include.iter().any(|i| i == name))
    }

    fn renamed<'a>(&'a self, name: &'a str) -> &'a str {
        self.config.renames.get(name).map_or(name, String::as_str)
    }
}

impl Transform for ReplaceField {
    fn configure(&mut self, config: &RawConfig) -> Result<()> {
        self.config = read_config(config)?;
        Ok(())
    }

    fn apply(&mut self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>> {
        if self.side.value(&record).is_null() {
            return Ok(Some(record));
        }
        let (schema, value) = self.side.take(&mut record);
        match schema {
            None => {
                let entries = require_map(&value, REPLACE_PURPOSE)?;
                let out = entries
                    .iter()
                    .filter(|(k, _)| self.keep(&map_key(k)))
                    .map(|(k, v)| {
                        let name = map_key(k);
                        (Value::String(self.renamed(&name).to_owned()), v.clone())
                    })
                    .collect();
                self.side.put(&mut record, None, Value::Map(out));
            }
            Some(schema) => {
                let s = into_struct(value, REPLACE_PURPOSE)?;
                let mut cache = std::mem::take(&mut self.cache);
                let new_schema = cache.get_or_try(&schema, |schema| {
                    let mut b = copy_schema_basics(schema, Schema::struct_());
                    for f in &schema.fields {
                        if self.keep(&f.name) {
                            b = b.field(self.renamed(&f.name), f.schema.clone());
                        }
                    }
                    Ok(b.build())
                });
                self.cache = cache;
                let new_schema = new_schema?;
                let old_schema = s.schema.clone();
                let values = take_values(s, self.config.replace_null_with_default)
                    .into_iter()
                    .zip(&old_schema.fields)
                    .filter(|(_, f)| self.keep(&f.name))
                    .map(|(v, _)| v)
                    .collect();
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

// ------------------------------------------------------------------- MaskField

/// The typed configuration of MaskField: the fields, and a replacement
/// that, when given, is not empty (an absent one masks with the type's
/// empty value).
#[derive(Debug, Clone)]
pub struct MaskFieldConfig {
    fields: Vec<String>,
    replacement: Option<String>,
    replace_null_with_default: bool,
}

impl TypedConfig for MaskFieldConfig {
    const KEYS: &'static [ConfigKey] = mask_keys::KEYS;

    fn read(r: &mut ConfigReader<'_>) -> MaskFieldConfig {
        use mask_keys::*;
        let fields = required_list(r, &FIELDS);
        // Kafka's NonEmptyString: given but empty is an error, unlike absent.
        if r.raw().get(REPLACEMENT.name).is_some_and(|v| v.is_empty()) {
            r.fail(
                REPLACEMENT.name,
                "Invalid value  for configuration replacement: String must be non-empty",
            );
        }
        let replacement = r
            .raw()
            .get(REPLACEMENT.name)
            .filter(|v| !v.is_empty())
            .cloned();
        MaskFieldConfig {
            fields,
            replacement,
            replace_null_with_default: r.bool(&REPLACE_NULL_WITH_DEFAULT),
        }
    }
}

/// `org.apache.kafka.connect.transforms.MaskField$Key` / `$Value`.
///
/// Replaces the listed fields with the "empty" value of their type (0,
/// false, "", empty bytes/array/map, Decimal 0, epoch for dates), or with
/// `replacement` parsed as the field's type (primitive types only). The
/// schema is unchanged.
pub struct MaskField {
    side: Side,
    fields: Vec<String>,
    replacement: Option<String>,
    replace_null_with_default: bool,
}

const MASK_PURPOSE: &str = "mask fields";

impl MaskField {
    /// An unconfigured transform for `side`.
    pub fn new(side: Side) -> MaskField {
        MaskField {
            side,
            fields: Vec::new(),
            replacement: None,
            replace_null_with_default: true,
        }
    }

    /// The keys Kafka's MaskField defines.
    pub fn def() -> ConfigDef {
        MaskFieldConfig::config_def()
    }

    fn masked(&self, schema: Option<&Schema>, value: &Value) -> Result<Value> {
        if value.is_null() {
            return Ok(Value::Null);
        }
        let is_decimal = schema.is_some_and(|s| s.is_named(logical::DECIMAL));
        match &self.replacement {
            None => Ok(match value {
                Value::Int8(_) => Value::Int8(0),
                Value::Int16(_) => Value::Int16(0),
                Value::Int32(_) => Value::Int32(0),
                Value::Int64(_) => Value::Int64(0),
                Value::Float32(_) => Value::Float32(0.0),
                Value::Float64(_) => Value::Float64(0.0),
                Value::Boolean(_) => Value::Boolean(false),
                Value::String(_) => Value::String(String::new()),
                Value::Bytes(_) if is_decimal => Value::Bytes(vec![0]),
                Value::Bytes(_) => Value::Bytes(Vec::new()),
                Value::Array(_) => Value::Array(Vec::new()),
                Value::Map(_) => Value::Map(Vec::new()),
                other => {
                    return Err(data_err(format!(
                        "Cannot mask value of type: class {}",
                        java_class_of(other)
                    )))
                }
            }),
            Some(rep) => {
                let bad = || {
                    data_err(format!(
                        "Unable to convert {rep} ({}) to number",
                        java_class_of(value)
                    ))
                };
                Ok(match value {
                    Value::Int8(_) => Value::Int8(rep.parse().map_err(|_| bad())?),
                    Value::Int16(_) => Value::Int16(rep.parse().map_err(|_| bad())?),
                    Value::Int32(_) => Value::Int32(rep.parse().map_err(|_| bad())?),
                    Value::Int64(_) => Value::Int64(rep.parse().map_err(|_| bad())?),
                    Value::Float32(_) => Value::Float32(rep.parse().map_err(|_| bad())?),
                    Value::Float64(_) => Value::Float64(rep.parse().map_err(|_| bad())?),
                    Value::String(_) => Value::String(rep.clone()),
                    other => {
                        return Err(data_err(format!(
                            "Cannot mask value of type {} with custom replacement.",
                            java_class_of(other)
                        )))
                    }
                })
            }
        }
    }
}

impl Transform for MaskField {
    fn configure(&mut self, config: &RawConfig) -> Result<()> {
        let c: MaskFieldConfig = read_config(config)?;
        self.fields = c.fields;
        self.replacement = c.replacement;
        self.replace_null_with_default = c.replace_null_with_default;
        Ok(())
    }

    fn apply(&mut self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>> {
        if self.side.value(&record).is_null() {
            return Ok(Some(record));
        }
        let (schema, value) = self.side.take(&mut record);
        let new = match &schema {
            None => {
                let entries = require_map(&value, MASK_PURPOSE)?;
                let mut out = Vec::with_capacity(entries.len());
                for (k, v) in entries {
                    let masked = if self.fields.iter().any(|f| Some(f.as_str()) == k.as_str()) {
                        self.masked(None, v)?
                    } else {
                        v.clone()
                    };
                    out.push((k.clone(), masked));
                }
                Value::Map(out)
            }
            Some(_) => {
                let s = require_struct(&value, MASK_PURPOSE)?;
                let mut values = Vec::with_capacity(s.values.len());
                for f in &s.schema.fields {
                    let v = field_value(s, f.index, self.replace_null_with_default);
                    values.push(if self.fields.contains(&f.name) {
                        self.masked(Some(&f.schema), &v)?
                    } else {
                        v
                    });
                }
                Value::Struct(Struct {
                    schema: s.schema.clone(),
                    values,
                })
            }
        };
        self.side.put(&mut record, schema, new);
        Ok(Some(record))
    }

    fn config_def(&self) -> ConfigDef {
        Self::def()
    }
}

// ------------------------------------------------------------------ ValueToKey

/// The typed configuration of ValueToKey: the value fields of the key.
#[derive(Debug, Clone)]
pub struct ValueToKeyConfig {
    fields: Vec<String>,
    replace_null_with_default: bool,
}

impl TypedConfig for ValueToKeyConfig {
    const KEYS: &'static [ConfigKey] = value_to_key_keys::KEYS;

    fn read(r: &mut ConfigReader<'_>) -> ValueToKeyConfig {
        use value_to_key_keys::*;
        ValueToKeyConfig {
            fields: required_list(r, &FIELDS),
            replace_null_with_default: r.bool(&REPLACE_NULL_WITH_DEFAULT),
        }
    }
}

/// `org.apache.kafka.connect.transforms.ValueToKey`: replaces the key with a
/// struct (or map, schemaless) of the listed value fields. The key schema is
/// an unnamed struct holding the fields' schemas.
pub struct ValueToKey {
    fields: Vec<String>,
    replace_null_with_default: bool,
    cache: SchemaCache,
}

const V2K_PURPOSE: &str = "copying fields from value to key";

impl Default for ValueToKey {
    fn default() -> Self {
        ValueToKey {
            fields: Vec::new(),
            replace_null_with_default: true,
            cache: SchemaCache::default(),
        }
    }
}

impl ValueToKey {
    /// The keys Kafka's ValueToKey defines.
    pub fn def() -> ConfigDef {
        ValueToKeyConfig::config_def()
    }
}

impl Transform for ValueToKey {
    fn configure(&mut self, config: &RawConfig) -> Result<()> {
        let c: ValueToKeyConfig = read_config(config)?;
        self.fields = c.fields;
        self.replace_null_with_default = c.replace_null_with_default;
        Ok(())
    }

    fn apply(&mut self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>> {
        match &record.value_schema {
            None => {
                let entries = require_map(&record.value, V2K_PURPOSE)?;
                let key = self
                    .fields
                    .iter()
                    .map(|f| {
                        (
                            Value::String(f.clone()),
                            map_get(entries, f).cloned().unwrap_or(Value::Null),
                        )
                    })
                    .collect();
                record.key_schema = None;
                record.key = Value::Map(key);
            }
            Some(schema) => {
                let s = require_struct(&record.value, V2K_PURPOSE)?;
                let fields = &self.fields;
                let key_schema = self.cache.get_or_try(schema, |schema| {
                    let mut b = Schema::struct_();
                    for f in fields {
                        let field = schema
                            .field_named(f)
                            .ok_or_else(|| data_err(format!("Field does not exist: {f}")))?;
                        b = b.field(f.clone(), field.schema.clone());
                    }
                    Ok(b.build())
                })?;
                let mut values = Vec::with_capacity(fields.len());
                for f in fields {
                    let field = s
                        .schema
                        .field_named(f)
                        .ok_or_else(|| data_err(format!("Field does not exist: {f}")))?;
                    values.push(field_value(s, field.index, self.replace_null_with_default));
                }
                record.key = Value::Struct(Struct {
                    schema: key_schema.clone(),
                    values,
                });
                record.key_schema = Some(key_schema);
            }
        }
        Ok(Some(record))
    }

    fn config_def(&self) -> ConfigDef {
        Self::def()
    }
}

/// The type Kafka infers for a schemaless value (used by Cast and others).
pub fn infer_type(v: &Value) -> Option<Type> {
    Some(match v {
        Value::Int8(_) => Type::Int8,
        Value::Int16(_) => Type::Int16,
        Value::Int32(_) => Type::Int32,
        Value::Int64(_) => Type::Int64,
        Value::Float32(_) => Type::Float32,
        Value::Float64(_) => Type::Float64,
        Value::Boolean(_) => Type::Boolean,
        Value::String(_) => Type::String,
        Value::Bytes(_) => Type::Bytes,
        Value::Array(_) => Type::Array,
        Value::Map(_) => Type::Map,
        Value::Struct(_) => Type::Struct,
        Value::Null => return None,
    })
}

/// `ReplaceField`, `MaskField` (key and value) and `ValueToKey`.
pub fn plugins() -> Vec<PluginDesc> {
    vec![
        crate::transform(
            "org.apache.kafka.connect.transforms.ReplaceField$Key",
            ReplaceField::def,
            || Box::new(ReplaceField::new(Side::Key)),
        ),
        crate::transform(
            "org.apache.kafka.connect.transforms.ReplaceField$Value",
            ReplaceField::def,
            || Box::new(ReplaceField::new(Side::Value)),
        ),
        crate::transform(
            "org.apache.kafka.connect.transforms.MaskField$Key",
            MaskField::def,
            || Box::new(MaskField::new(Side::Key)),
        ),
        crate::transform(
            "org.apache.kafka.connect.transforms.MaskField$Value",
            MaskField::def,
            || Box::new(MaskField::new(Side::Value)),
        ),
        crate::transform(
            "org.apache.kafka.connect.transforms.ValueToKey",
            ValueToKey::def,
            || Box::<ValueToKey>::default(),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;

    fn replace(pairs: &[(&str, &str)]) -> ReplaceField {
        let mut t = ReplaceField::new(Side::Value);
        t.configure(&cfg(pairs)).unwrap();
        t
    }

    #[test]
    fn replace_field_with_schema() {
        let mut t = replace(&[("exclude", "price"), ("renames", "name:title")]);
        let out = t
            .apply(rec_value(
                Some(row_schema()),
                Value::Struct(row(1, "a", 2.0)),
            ))
            .unwrap()
            .unwrap();
        let s = out.value_schema.unwrap();
        assert_eq!(field_names(&s), ["id", "title"]);
        assert_eq!(s.name.as_deref(), Some("test.Value"));
        let v = out.value.as_struct().unwrap();
        assert_eq!(v.get("title"), Some(&Value::from("a")));
        let mut t = replace(&[("include", "price,id")]);
        let out = t
            .apply(rec_value(
                Some(row_schema()),
                Value::Struct(row(1, "a", 2.0)),
            ))
            .unwrap()
            .unwrap();
        assert_eq!(
            field_names(out.value_schema.as_ref().unwrap()),
            ["id", "price"]
        );
    }

    #[test]
    fn replace_field_schemaless_and_deprecated_aliases() {
        let mut t = replace(&[("blacklist", "b"), ("renames", "a:x")]);
        let out = t
            .apply(rec_value(
                None,
                map(&[("a", 1.into()), ("b", 2.into()), ("c", 3.into())]),
            ))
            .unwrap()
            .unwrap();
        assert_eq!(out.value, map(&[("x", 1.into()), ("c", 3.into())]));
        let mut t = replace(&[("whitelist", "c")]);
        let out = t
            .apply(rec_value(None, map(&[("a", 1.into()), ("c", 3.into())])))
            .unwrap()
            .unwrap();
        assert_eq!(out.value, map(&[("c", 3.into())]));
        // exclude wins over include
        let mut t = replace(&[("include", "a,c"), ("exclude", "a")]);
        let out = t
            .apply(rec_value(None, map(&[("a", 1.into()), ("c", 3.into())])))
            .unwrap()
            .unwrap();
        assert_eq!(out.value, map(&[("c", 3.into())]));
    }

    #[test]
    fn replace_field_bad_rename() {
        let e = ReplaceField::new(Side::Value)
            .configure(&cfg(&[("renames", "a:b:c")]))
            .unwrap_err();
        let m = e.to_string();
        assert!(
            m.contains("renames") && m.contains("Invalid rename mapping: a:b:c"),
            "{m}"
        );
    }

    #[test]
    fn mask_field_with_schema_and_schemaless() {
        let mut t = MaskField::new(Side::Value);
        t.configure(&cfg(&[("fields", "name,price")])).unwrap();
        let out = t
            .apply(rec_value(
                Some(row_schema()),
                Value::Struct(row(1, "a", 2.0)),
            ))
            .unwrap()
            .unwrap();
        let v = out.value.as_struct().unwrap();
        assert_eq!(v.get("name"), Some(&Value::from("")));
        assert_eq!(v.get("price"), Some(&Value::Float64(0.0)));
        assert_eq!(v.get("id"), Some(&Value::Int32(1)));
        let out = t
            .apply(rec_value(
                None,
                map(&[("name", "x".into()), ("price", Value::Int64(5))]),
            ))
            .unwrap()
            .unwrap();
        assert_eq!(
            out.value,
            map(&[("name", "".into()), ("price", Value::Int64(0))])
        );
    }

    #[test]
    fn mask_field_replacement() {
        let mut t = MaskField::new(Side::Value);
        t.configure(&cfg(&[("fields", "id,name"), ("replacement", "9")]))
            .unwrap();
        let out = t
            .apply(rec_value(
                Some(row_schema()),
                Value::Struct(row(1, "a", 2.0)),
            ))
            .unwrap()
            .unwrap();
        let v = out.value.as_struct().unwrap();
        assert_eq!(v.get("id"), Some(&Value::Int32(9)));
        assert_eq!(v.get("name"), Some(&Value::from("9")));
        let mut t = MaskField::new(Side::Value);
        t.configure(&cfg(&[("fields", "id"), ("replacement", "x")]))
            .unwrap();
        assert!(t
            .apply(rec_value(
                Some(row_schema()),
                Value::Struct(row(1, "a", 2.0))
            ))
            .is_err());
        let e = MaskField::new(Side::Value)
            .configure(&cfg(&[]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("\"fields\"") && e.contains("Missing required configuration"),
            "{e}"
        );
        let e = MaskField::new(Side::Value)
            .configure(&cfg(&[("fields", "id"), ("replacement", "")]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("for configuration replacement: String must be non-empty"),
            "{e}"
        );
    }

    #[test]
    fn value_to_key() {
        let mut t = ValueToKey::default();
        t.configure(&cfg(&[("fields", "id,name")])).unwrap();
        let out = t
            .apply(rec_value(
                Some(row_schema()),
                Value::Struct(row(7, "a", 2.0)),
            ))
            .unwrap()
            .unwrap();
        let ks = out.key_schema.unwrap();
        assert_eq!(field_names(&ks), ["id", "name"]);
        assert!(ks.name.is_none());
        assert_eq!(
            out.key.as_struct().unwrap().get("id"),
            Some(&Value::Int32(7))
        );
        let out = t
            .apply(rec_value(
                None,
                map(&[("id", 1.into()), ("name", "n".into()), ("z", 0.into())]),
            ))
            .unwrap()
            .unwrap();
        assert_eq!(out.key, map(&[("id", 1.into()), ("name", "n".into())]));
        let mut t = ValueToKey::default();
        t.configure(&cfg(&[("fields", "nope")])).unwrap();
        let e = t
            .apply(rec_value(
                Some(row_schema()),
                Value::Struct(row(7, "a", 2.0)),
            ))
            .unwrap_err();
        assert!(e.to_string().contains("Field does not exist: nope"), "{e}");
    }
}
