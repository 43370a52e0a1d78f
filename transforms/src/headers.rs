//! Kafka's header SMTs: `InsertHeader` (a literal header), `HeaderFrom$Key/$Value`
//! (copy or move fields into headers) and `DropHeaders`.

use std::sync::Arc;

use velocity_api::config::{ConfigReader, TypedConfig};
use velocity_api::{
    config_choice, ConfigDef, ConfigKey, ConnectRecord, Header, PluginDesc, RawConfig, Result,
    Schema, SchemaRef, Struct, Transform, Value,
};

use crate::error::read_config;
use crate::util::{
    copy_schema_basics, field_value, map_key, require_map, require_struct, required_list,
    SchemaCache, Side,
};

/// The keys of Kafka's InsertHeader, each declared once.
pub mod insert_header_keys {
    use velocity_api::config::{ConfigKey, ConfigType::*, Importance::*};

    velocity_api::config_keys! {
        /// `header`: the header's name (required).
        HEADER = ConfigKey::new("header", String, None, High, "The name of the header.");
        /// `value.literal`: the header's value, parsed as Kafka's `Values.parseString` (required; may be empty).
        VALUE_LITERAL = ConfigKey::new("value.literal", String, None, High, "The literal value that is to be set as the header value on all records.");
    }
}

/// The keys of Kafka's DropHeaders, each declared once.
pub mod drop_headers_keys {
    use velocity_api::config::{ConfigKey, ConfigType::*, Importance::*};

    velocity_api::config_keys! {
        /// `headers`: the headers to remove (required).
        HEADERS = ConfigKey::new("headers", List, None, High, "The name of the headers to be removed.");
    }
}

/// The keys of Kafka's HeaderFrom, each declared once.
pub mod header_from_keys {
    use super::Operation;
    use velocity_api::config::{ConfigKey, ConfigType::*, Importance::*};

    velocity_api::config_keys! {
        /// `fields`: the fields to copy or move (required).
        FIELDS = ConfigKey::new("fields", List, None, High, "Field names in the record whose values are to be copied or moved to headers.");
        /// `headers`: the header of each field, in the same order (required).
        HEADERS = ConfigKey::new("headers", List, None, High, "Header names, in the same order as the field names listed in the fields configuration property.");
        /// `operation`: `move` or `copy` (required).
        OPERATION = ConfigKey::new("operation", String, None, High, "Either <code>move</code> if the fields are to be moved to the headers (removed from the key/value), or <code>copy</code> if the fields are to be copied to the headers (retained in the key/value).").one_of(Operation::NAMES);
        /// `replace.null.with.default` (default true).
        REPLACE_NULL_WITH_DEFAULT = crate::util::REPLACE_NULL_WITH_DEFAULT;
    }
}

config_choice! {
    /// Whether fields are moved or copied (`operation` of HeaderFrom and
    /// Debezium's HeaderToValue).
    pub enum Operation {
        /// Removed from where they come from.
        Move = "move",
        /// Kept where they come from.
        Copy = "copy",
    }
}

/// Kafka's `Values.parseString`: the schema and value a literal stands for —
/// `true`/`false` as boolean, integers as the smallest integer type that
/// holds them, decimals as float32 when exact else float64, anything else
/// as a string.
pub fn parse_literal(s: &str) -> (SchemaRef, Value) {
    let t = s.trim();
    if t.eq_ignore_ascii_case("true") || t.eq_ignore_ascii_case("false") {
        return (
            Schema::boolean().build(),
            Value::Boolean(t.eq_ignore_ascii_case("true")),
        );
    }
    if let Ok(i) = t.parse::<i64>() {
        return if let Ok(v) = i8::try_from(i) {
            (Schema::int8().build(), Value::Int8(v))
        } else if let Ok(v) = i16::try_from(i) {
            (Schema::int16().build(), Value::Int16(v))
        } else if let Ok(v) = i32::try_from(i) {
            (Schema::int32().build(), Value::Int32(v))
        } else {
            (Schema::int64().build(), Value::Int64(i))
        };
    }
    if t.contains(['.', 'e', 'E'])
        && t.chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit() || c == '-')
    {
        if let Ok(f) = t.parse::<f64>() {
            if f.is_finite() {
                let f32v = f as f32;
                return if f64::from(f32v) == f {
                    (Schema::float32().build(), Value::Float32(f32v))
                } else {
                    (Schema::float64().build(), Value::Float64(f))
                };
            }
        }
    }
    (Schema::string().build(), Value::String(s.to_owned()))
}

/// `org.apache.kafka.connect.transforms.InsertHeader`: appends header
/// `header` with `value.literal` parsed as Kafka's `Values.parseString` does.
pub struct InsertHeader {
    header: String,
    schema: Option<SchemaRef>,
    value: Value,
}

impl Default for InsertHeader {
    fn default() -> Self {
        InsertHeader {
            header: String::new(),
            schema: None,
            value: Value::Null,
        }
    }
}

/// The typed configuration of InsertHeader.
#[derive(Debug, Clone)]
pub struct InsertHeaderConfig {
    header: String,
    literal: String,
}

impl TypedConfig for InsertHeaderConfig {
    const KEYS: &'static [ConfigKey] = insert_header_keys::KEYS;

    fn read(r: &mut ConfigReader<'_>) -> InsertHeaderConfig {
        use insert_header_keys::*;
        let header = r.string(&HEADER);
        let literal = r.present_string(&VALUE_LITERAL);
        InsertHeaderConfig { header, literal }
    }
}

impl InsertHeader {
    /// The keys Kafka's InsertHeader defines.
    pub fn def() -> ConfigDef {
        InsertHeaderConfig::config_def()
    }
}

impl Transform for InsertHeader {
    fn configure(&mut self, config: &RawConfig) -> Result<()> {
        let c: InsertHeaderConfig = read_config(config)?;
        let (s, v) = parse_literal(&c.literal);
        self.header = c.header;
        self.schema = Some(s);
        self.value = v;
        Ok(())
    }

    fn apply(&mut self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>> {
        record.headers.push(Header {
            key: self.header.clone(),
            schema: self.schema.clone(),
            value: self.value.clone(),
        });
        Ok(Some(record))
    }

    fn config_def(&self) -> ConfigDef {
        Self::def()
    }
}

/// `org.apache.kafka.connect.transforms.DropHeaders`: removes every header
/// whose key is listed in `headers`.
#[derive(Default)]
pub struct DropHeaders {
    headers: Vec<String>,
}

/// The typed configuration of DropHeaders: the headers to remove.
#[derive(Debug, Clone)]
pub struct DropHeadersConfig {
    headers: Vec<String>,
}

impl TypedConfig for DropHeadersConfig {
    const KEYS: &'static [ConfigKey] = drop_headers_keys::KEYS;

    fn read(r: &mut ConfigReader<'_>) -> DropHeadersConfig {
        DropHeadersConfig {
            headers: required_list(r, &drop_headers_keys::HEADERS),
        }
    }
}

impl DropHeaders {
    /// The keys Kafka's DropHeaders defines.
    pub fn def() -> ConfigDef {
        DropHeadersConfig::config_def()
    }
}

impl Transform for DropHeaders {
    fn configure(&mut self, config: &RawConfig) -> Result<()> {
        let c: DropHeadersConfig = read_config(config)?;
        self.headers = c.headers;
        Ok(())
    }

    fn apply(&mut self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>> {
        record.headers.retain(|h| !self.headers.contains(&h.key));
        Ok(Some(record))
    }

    fn config_def(&self) -> ConfigDef {
        Self::def()
    }
}

/// The typed configuration of HeaderFrom: as many headers as fields.
#[derive(Debug, Clone)]
pub struct HeaderFromConfig {
    fields: Vec<String>,
    headers: Vec<String>,
    operation: Operation,
    replace_null_with_default: bool,
}

impl TypedConfig for HeaderFromConfig {
    const KEYS: &'static [ConfigKey] = header_from_keys::KEYS;

    fn read(r: &mut ConfigReader<'_>) -> HeaderFromConfig {
        use header_from_keys::*;
        let fields = required_list(r, &FIELDS);
        let raw_headers = r.string(&HEADERS);
        let headers = required_list(r, &HEADERS);
        if !fields.is_empty() && !headers.is_empty() && fields.len() != headers.len() {
            r.fail(
                HEADERS.name,
                format!("Invalid value {raw_headers} for configuration headers: 'fields' config must have the same number of elements as 'headers' config."),
            );
        }
        HeaderFromConfig {
            fields,
            headers,
            operation: r.choice(&OPERATION),
            replace_null_with_default: r.bool(&REPLACE_NULL_WITH_DEFAULT),
        }
    }
}

/// `org.apache.kafka.connect.transforms.HeaderFrom$Key` / `$Value`: for
/// each `fields[i]`, adds header `headers[i]` with the field's value and
/// schema; with `operation=move` the fields are also removed from the
/// key/value (and its schema).
pub struct HeaderFrom {
    side: Side,
    fields: Vec<String>,
    headers: Vec<String>,
    is_move: bool,
    replace_null_with_default: bool,
    cache: SchemaCache,
}

const HF_PURPOSE: &str = "header from";

impl HeaderFrom {
    /// An unconfigured transform for `side`.
    pub fn new(side: Side) -> HeaderFrom {
        HeaderFrom {
            side,
            fields: Vec::new(),
            headers: Vec::new(),
            is_move: false,
            replace_null_with_default: true,
            cache: SchemaCache::default(),
        }
    }

    /// The keys Kafka's HeaderFrom defines.
    pub fn def() -> ConfigDef {
        HeaderFromConfig::config_def()
    }
}

impl Transform for HeaderFrom {
    fn configure(&mut self, config: &RawConfig) -> Result<()> {
        let c: HeaderFromConfig = read_config(config)?;
        self.fields = c.fields;
        self.headers = c.headers;
        self.is_move = c.operation == Operation::Move;
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
                let entries = require_map(&value, HF_PURPOSE)?;
                for (f, h) in self.fields.iter().zip(&self.headers) {
                    let v = crate::util::map_get(entries, f)
                        .cloned()
                        .unwrap_or(Value::Null);
                    record.headers.push(Header {
                        key: h.clone(),
                        schema: None,
                        value: v,
                    });
                }
                let kept = if self.is_move {
                    entries
                        .iter()
                        .filter(|(k, _)| !self.fields.contains(&map_key(k)))
                        .cloned()
                        .collect()
                } else {
                    entries.to_vec()
                };
                self.side.put(&mut record, None, Value::Map(kept));
            }
            Some(schema) => {
                let s = require_struct(&value, HF_PURPOSE)?;
                for (f, h) in self.fields.iter().zip(&self.headers) {
                    let field = s.schema.field_named(f).ok_or_else(|| {
                        crate::error::data_err(format!(
                            "Field {f} not found in schema {}",
                            s.schema.name.as_deref().unwrap_or("")
                        ))
                    })?;
                    record.headers.push(Header {
                        key: h.clone(),
                        schema: Some(field.schema.clone()),
                        value: field_value(s, field.index, self.replace_null_with_default),
                    });
                }
                if self.is_move {
                    let fields = &self.fields;
                    let new_schema = self.cache.get_or_try(&schema, |schema| {
                        let mut b = copy_schema_basics(schema, Schema::struct_())
                            .with_optional(schema.optional);
                        for f in schema.fields.iter().filter(|f| !fields.contains(&f.name)) {
                            b = b.field(f.name.clone(), f.schema.clone());
                        }
                        Ok(Arc::new(b))
                    })?;
                    let values = s
                        .schema
                        .fields
                        .iter()
                        .filter(|f| !fields.contains(&f.name))
                        .map(|f| field_value(s, f.index, self.replace_null_with_default))
                        .collect();
                    let st = Struct {
                        schema: new_schema.clone(),
                        values,
                    };
                    self.side
                        .put(&mut record, Some(new_schema), Value::Struct(st));
                } else {
                    self.side.put(&mut record, Some(schema), value);
                }
            }
        }
        Ok(Some(record))
    }

    fn config_def(&self) -> ConfigDef {
        Self::def()
    }
}

/// `InsertHeader`, `DropHeaders` and `HeaderFrom$Key/$Value`.
pub fn plugins() -> Vec<PluginDesc> {
    vec![
        crate::transform(
            "org.apache.kafka.connect.transforms.InsertHeader",
            InsertHeader::def,
            || Box::<InsertHeader>::default(),
        ),
        crate::transform(
            "org.apache.kafka.connect.transforms.DropHeaders",
            DropHeaders::def,
            || Box::<DropHeaders>::default(),
        ),
        crate::transform(
            "org.apache.kafka.connect.transforms.HeaderFrom$Key",
            HeaderFrom::def,
            || Box::new(HeaderFrom::new(Side::Key)),
        ),
        crate::transform(
            "org.apache.kafka.connect.transforms.HeaderFrom$Value",
            HeaderFrom::def,
            || Box::new(HeaderFrom::new(Side::Value)),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;
    use velocity_api::Type;

    #[test]
    fn insert_header_parses_literal() {
        let mut t = InsertHeader::default();
        t.configure(&cfg(&[("header", "h"), ("value.literal", "42")]))
            .unwrap();
        let out = t.apply(rec_value(None, Value::Null)).unwrap().unwrap();
        assert_eq!(out.headers[0].key, "h");
        assert_eq!(out.headers[0].value, Value::Int8(42));
        assert_eq!(parse_literal("hello").1, Value::from("hello"));
        assert_eq!(parse_literal("true").0.type_, Type::Boolean);
        assert_eq!(parse_literal("70000").1, Value::Int32(70000));
        assert_eq!(parse_literal("1.5").1, Value::Float32(1.5));
        let e = InsertHeader::default()
            .configure(&cfg(&[("header", "h")]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("\"value.literal\"") && e.contains("Missing required configuration"),
            "{e}"
        );
        // Kafka only requires the literal to be present: empty is a value.
        let mut t = InsertHeader::default();
        t.configure(&cfg(&[("header", "h"), ("value.literal", "")]))
            .unwrap();
        let out = t.apply(rec_value(None, Value::Null)).unwrap().unwrap();
        assert_eq!(out.headers[0].value, Value::from(""));
    }

    #[test]
    fn drop_headers() {
        let mut t = DropHeaders::default();
        t.configure(&cfg(&[("headers", "a,b")])).unwrap();
        let mut r = rec_value(None, Value::Null);
        for k in ["a", "c", "b", "a"] {
            r.headers.push(Header {
                key: k.into(),
                schema: None,
                value: Value::Null,
            });
        }
        let out = t.apply(r).unwrap().unwrap();
        assert_eq!(out.headers.len(), 1);
        assert_eq!(out.headers[0].key, "c");
    }

    #[test]
    fn header_from_move_with_schema() {
        let mut t = HeaderFrom::new(Side::Value);
        t.configure(&cfg(&[
            ("fields", "name,id"),
            ("headers", "h_name,h_id"),
            ("operation", "move"),
        ]))
        .unwrap();
        let out = t
            .apply(rec_value(
                Some(row_schema()),
                Value::Struct(row(1, "a", 1.0)),
            ))
            .unwrap()
            .unwrap();
        assert_eq!(field_names(out.value_schema.as_ref().unwrap()), ["price"]);
        assert_eq!(out.headers[0].key, "h_name");
        assert_eq!(out.headers[0].value, Value::from("a"));
        assert_eq!(out.headers[1].schema.as_ref().unwrap().type_, Type::Int32);
    }

    #[test]
    fn header_from_copy_schemaless() {
        let mut t = HeaderFrom::new(Side::Value);
        t.configure(&cfg(&[
            ("fields", "a"),
            ("headers", "ha"),
            ("operation", "copy"),
        ]))
        .unwrap();
        let v = map(&[("a", 1.into()), ("b", 2.into())]);
        let out = t.apply(rec_value(None, v.clone())).unwrap().unwrap();
        assert_eq!(out.value, v);
        assert_eq!(out.headers[0].value, Value::Int32(1));
        let e = HeaderFrom::new(Side::Value)
            .configure(&cfg(&[
                ("fields", "a,b"),
                ("headers", "ha"),
                ("operation", "copy"),
            ]))
            .unwrap_err();
        assert!(e.to_string().contains("same number of elements"), "{e}");
    }
}
