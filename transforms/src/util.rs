//! Helpers shared by the transforms: which side of the record a `$Key` /
//! `$Value` variant works on, Kafka's `SchemaUtil` / `Requirements`
//! equivalents, a small schema cache, schemaless-map access and Java regex
//! compatibility.

use std::sync::Arc;

use regex::Regex;
use velocity_api::config::{ConfigReader, ConfigType, Importance};
use velocity_api::{ConfigKey, ConnectRecord, Result, Schema, SchemaRef, Struct, Type, Value};

use crate::error::data_err;

/// `replace.null.with.default` (default true), declared alike by most of
/// Kafka's SMTs: whether a null field with a default reads as the default.
pub const REPLACE_NULL_WITH_DEFAULT: ConfigKey = ConfigKey::new(
    "replace.null.with.default",
    ConfigType::Boolean,
    Some("true"),
    Importance::Medium,
    "Whether to replace fields that have a default value and that are null to the default value.",
);

/// The part of the record a `$Key` or `$Value` variant operates on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The record key (`…$Key`).
    Key,
    /// The record value (`…$Value`).
    Value,
}

impl Side {
    /// The schema of this side.
    pub fn schema<'a>(&self, r: &'a ConnectRecord) -> Option<&'a SchemaRef> {
        match self {
            Side::Key => r.key_schema.as_ref(),
            Side::Value => r.value_schema.as_ref(),
        }
    }

    /// The value of this side.
    pub fn value<'a>(&self, r: &'a ConnectRecord) -> &'a Value {
        match self {
            Side::Key => &r.key,
            Side::Value => &r.value,
        }
    }

    /// Takes schema and value out of the record (leaving `None` / null).
    pub fn take(&self, r: &mut ConnectRecord) -> (Option<SchemaRef>, Value) {
        match self {
            Side::Key => (
                r.key_schema.take(),
                std::mem::replace(&mut r.key, Value::Null),
            ),
            Side::Value => (
                r.value_schema.take(),
                std::mem::replace(&mut r.value, Value::Null),
            ),
        }
    }

    /// Puts schema and value into the record.
    pub fn put(&self, r: &mut ConnectRecord, schema: Option<SchemaRef>, value: Value) {
        match self {
            Side::Key => {
                r.key_schema = schema;
                r.key = value;
            }
            Side::Value => {
                r.value_schema = schema;
                r.value = value;
            }
        }
    }
}

/// Kafka's `SchemaUtil.copySchemaBasics`: name, version, doc and parameters
/// of `source` onto `target` (not optionality, not the default).
pub fn copy_schema_basics(source: &Schema, mut target: Schema) -> Schema {
    target.name = source.name.clone();
    target.version = source.version;
    target.doc = source.doc.clone();
    target.parameters = source.parameters.clone();
    target
}

/// Kafka's `Requirements.requireStruct`: the struct, or a data error saying
/// which transform (`purpose`) needed it.
pub fn require_struct<'a>(value: &'a Value, purpose: &str) -> Result<&'a Struct> {
    match value {
        Value::Struct(s) => Ok(s),
        other => Err(data_err(format!(
            "Only Struct objects supported for [{purpose}], found: {}",
            java_class_of(other)
        ))),
    }
}

/// Kafka's `Requirements.requireMap`: the map entries, or a data error.
pub fn require_map<'a>(value: &'a Value, purpose: &str) -> Result<&'a [(Value, Value)]> {
    match value {
        Value::Map(m) => Ok(m),
        other => Err(data_err(format!(
            "Only Map objects supported in absence of schema for [{purpose}], found: {}",
            java_class_of(other)
        ))),
    }
}

/// Kafka's `Requirements.requireSchema`.
pub fn require_schema<'a>(schema: Option<&'a SchemaRef>, purpose: &str) -> Result<&'a SchemaRef> {
    schema.ok_or_else(|| data_err(format!("Schema required for [{purpose}]")))
}

/// The Java class name Kafka's messages print for a value.
pub fn java_class_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Int8(_) => "java.lang.Byte",
        Value::Int16(_) => "java.lang.Short",
        Value::Int32(_) => "java.lang.Integer",
        Value::Int64(_) => "java.lang.Long",
        Value::Float32(_) => "java.lang.Float",
        Value::Float64(_) => "java.lang.Double",
        Value::Boolean(_) => "java.lang.Boolean",
        Value::String(_) => "java.lang.String",
        Value::Bytes(_) => "[B",
        Value::Array(_) => "java.util.ArrayList",
        Value::Map(_) => "java.util.HashMap",
        Value::Struct(_) => "org.apache.kafka.connect.data.Struct",
    }
}

/// The value of field `index` of `s`; with `replace_null_with_default`, a
/// null is replaced by the field schema's default (Kafka's `Struct.get` vs
/// `Struct.getWithoutDefault`).
pub fn field_value(s: &Struct, index: usize, replace_null_with_default: bool) -> Value {
    let v = &s.values[index];
    if v.is_null() && replace_null_with_default {
        if let Some(d) = &s.schema.fields[index].schema.default {
            return d.clone();
        }
    }
    v.clone()
}

/// The entry of a schemaless map whose key is the string `name`.
pub fn map_get<'a>(entries: &'a [(Value, Value)], name: &str) -> Option<&'a Value> {
    entries
        .iter()
        .find(|(k, _)| k.as_str() == Some(name))
        .map(|(_, v)| v)
}

/// The key of a schemaless map entry as a string (non-string keys print as
/// their debug form, as Java's `toString` would print them).
pub fn map_key(k: &Value) -> String {
    match k {
        Value::String(s) => s.clone(),
        other => format!("{other:?}"),
    }
}

/// Sets (replacing or appending) the entry `name` of a schemaless map.
pub fn map_put(entries: &mut Vec<(Value, Value)>, name: &str, value: Value) {
    match entries.iter_mut().find(|(k, _)| k.as_str() == Some(name)) {
        Some(slot) => slot.1 = value,
        None => entries.push((Value::String(name.to_owned()), value)),
    }
}

/// A small cache from an input schema to a derived schema, keyed by the
/// `Arc` first and by structural equality second, bounded like Kafka's
/// `SynchronizedCache(LRUCache(16))` (here: cleared past 64 entries).
#[derive(Default)]
pub struct SchemaCache {
    entries: Vec<(SchemaRef, SchemaRef)>,
}

impl SchemaCache {
    /// The derived schema for `key`, computed by `make` on a miss.
    pub fn get_or_try(
        &mut self,
        key: &SchemaRef,
        make: impl FnOnce(&SchemaRef) -> Result<SchemaRef>,
    ) -> Result<SchemaRef> {
        if let Some((_, v)) = self.entries.iter().find(|(k, _)| Arc::ptr_eq(k, key)) {
            return Ok(v.clone());
        }
        if let Some((_, v)) = self.entries.iter().find(|(k, _)| **k == **key) {
            let v = v.clone();
            self.insert(key.clone(), v.clone());
            return Ok(v);
        }
        let v = make(key)?;
        self.insert(key.clone(), v.clone());
        Ok(v)
    }

    fn insert(&mut self, k: SchemaRef, v: SchemaRef) {
        if self.entries.len() >= 64 {
            self.entries.clear();
        }
        self.entries.push((k, v));
    }
}

/// `key` (a Java regular expression) compiled so that it must match the
/// whole input, as Java's `Matcher.matches()` does; None when the key is
/// unset, or (recorded on `r` in Kafka's words) missing or invalid.
pub fn full_match_regex(r: &mut ConfigReader<'_>, key: &ConfigKey) -> Option<Regex> {
    let pattern = r.opt_string(key)?;
    match Regex::new(&format!("^(?:{pattern})$")) {
        Ok(re) => Some(re),
        Err(e) => {
            r.fail(
                key.name,
                format!(
                    "Invalid value {pattern} for configuration {}: Invalid regex: {e}",
                    key.name
                ),
            );
            None
        }
    }
}

/// Translates a Java `Matcher.replaceAll` replacement (`$1`, `${name}`,
/// `\$`) into the syntax of the `regex` crate (`${1}`, `${name}`, `$$`).
pub fn java_replacement(java: &str) -> String {
    let mut out = String::with_capacity(java.len() + 4);
    let mut chars = java.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('$') => out.push_str("$$"),
                Some(o) => out.push(o),
                None => {}
            },
            '$' => match chars.peek() {
                Some('{') => out.push('$'),
                Some(d) if d.is_ascii_digit() => {
                    out.push_str("${");
                    while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                        out.push(d);
                        chars.next();
                    }
                    out.push('}');
                }
                _ => out.push_str("$$"),
            },
            o => out.push(o),
        }
    }
    out
}

/// A required list key (Kafka's `ConfigDef.Type.LIST` with no default):
/// a list without items (e.g. `,`) is reported as missing too.
pub fn required_list(r: &mut ConfigReader<'_>, key: &ConfigKey) -> Vec<String> {
    let items = r.list(key);
    if items.is_empty() {
        r.fail(
            key.name,
            format!(
                "Missing required configuration \"{}\" which has no default value.",
                key.name
            ),
        );
    }
    items
}

/// Rebuilds a struct value for `schema` by taking each field of `schema`
/// from `source` by name (missing → null).
pub fn struct_by_name(source: &Struct, schema: &SchemaRef) -> Struct {
    let values = schema
        .fields
        .iter()
        .map(|f| source.get(&f.name).cloned().unwrap_or(Value::Null))
        .collect();
    Struct {
        schema: schema.clone(),
        values,
    }
}

/// An optional copy of `s` (Kafka's `SchemaUtil.copySchemaBasics(s).optional()`
/// for primitives, keeping fields and element schemas).
pub fn optional_copy(s: &SchemaRef) -> SchemaRef {
    if s.optional {
        s.clone()
    } else {
        Arc::new(Schema {
            optional: true,
            ..(**s).clone()
        })
    }
}

/// Kafka's logical name for a Timestamp schema (int64 ms).
pub fn timestamp_schema(optional: bool) -> Schema {
    Schema::new(Type::Int64)
        .named(velocity_api::schema::logical::TIMESTAMP)
        .version(1)
        .with_optional(optional)
}

/// Like [`require_struct`], taking the value by ownership (no copy).
pub fn into_struct(value: Value, purpose: &str) -> Result<Struct> {
    match value {
        Value::Struct(s) => Ok(s),
        other => Err(require_struct(&other, purpose).expect_err("not a struct")),
    }
}

/// The field values of `s`, moved out; with `replace_null_with_default`,
/// nulls are replaced by their field's default.
pub fn take_values(s: Struct, replace_null_with_default: bool) -> Vec<Value> {
    let Struct { schema, mut values } = s;
    if replace_null_with_default {
        for (v, f) in values.iter_mut().zip(&schema.fields) {
            if v.is_null() {
                if let Some(d) = &f.schema.default {
                    *v = d.clone();
                }
            }
        }
    }
    values
}
