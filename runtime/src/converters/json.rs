//! Kafka Connect's `org.apache.kafka.connect.json.JsonConverter`, byte for
//! byte.
//!
//! Kafka builds a Jackson tree (`asJsonSchema` + `convertToJson`) and writes
//! it with a default `ObjectMapper`; this module writes the same bytes
//! directly into a `Vec<u8>`:
//!
//! - Envelope `{"schema":…,"payload":…}` when `schemas.enable` (default), the
//!   bare payload otherwise; a null value without a schema is a null message.
//! - Schema objects with keys in `asJsonSchema` order: `type`, then `items` /
//!   `keys`,`values` / `fields` (each field's schema followed by `"field"`),
//!   then `optional`, `name`, `version`, `doc`, `parameters`, `default`.
//! - Strings escaped like Jackson's `CharTypes.sOutputEscapes128`: `"` and
//!   `\`, `\b \t \n \f \r`, other control characters as `\u00XX` (upper-case
//!   hex); everything else, `/` and non-ASCII included, raw UTF-8.
//! - Doubles and floats as Java's `Double.toString` / `Float.toString`;
//!   non-finite ones as the quoted strings `"NaN"`, `"Infinity"`,
//!   `"-Infinity"` (Jackson's `QUOTE_NON_NUMERIC_NUMBERS` is on by default).
//! - Bytes as standard padded base64; Decimal as base64 of the minimal
//!   two's-complement unscaled value, or with `decimal.format=NUMERIC` as
//!   `BigDecimal.toString()` (scientific notation below `1E-6`, trailing zeros
//!   kept, because the converter's node factory uses exact big decimals and
//!   `WRITE_BIGDECIMAL_AS_PLAIN` is off).
//! - A null field whose schema has a default is written as the default while
//!   `replace.null.with.default` is true (Kafka's default).
//!
//! The serialized schema of a struct value is cached per schema `Arc`, so the
//! records of one table reuse one buffer instead of re-rendering the schema.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use velocity_api::config::ConfigExt;
use velocity_api::schema::logical;
use velocity_api::{ConnectError, RawConfig, Schema, SchemaRef, Struct, Type, Value};

use super::json_parse::{parse_document, Document, Json};
use super::numbers::{
    decimal_text_to_unscaled, minimal_twos_complement, write_big_decimal, write_java_double,
    write_java_float,
};
use super::{java_type_name, value_kind, Converter};

/// `schemas.enable`: wrap values in a `{"schema","payload"}` envelope.
pub const SCHEMAS_ENABLE_CONFIG: &str = "schemas.enable";
/// `schemas.cache.size`: how many schemas each direction's cache holds.
pub const SCHEMAS_CACHE_SIZE_CONFIG: &str = "schemas.cache.size";
/// `decimal.format`: `BASE64` (default) or `NUMERIC`.
pub const DECIMAL_FORMAT_CONFIG: &str = "decimal.format";
/// `replace.null.with.default`: write a null field as its schema default.
pub const REPLACE_NULL_WITH_DEFAULT_CONFIG: &str = "replace.null.with.default";

/// The error Kafka raises for an envelope without exactly `schema` and
/// `payload` while `schemas.enable=true`.
pub const ENVELOPE_ERROR: &str = "JsonConverter with schemas.enable requires \"schema\" and \"payload\" fields and may not contain additional fields. If you are trying to deserialize plain JSON data, set schemas.enable=false in your converter configuration.";

/// How Decimal values are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecimalFormat {
    /// Base64 of the unscaled two's-complement bytes (Kafka's default).
    Base64,
    /// A JSON number in `BigDecimal.toString()` form.
    Numeric,
}

/// Padding-indifferent base64 for reading (Jackson accepts both).
const LENIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A cached schema rendering: the schema (kept alive so its address stays
/// unique) and its JSON bytes.
type CachedSchemaJson = (SchemaRef, Arc<[u8]>);

/// Kafka Connect's JsonConverter. See the module documentation for the exact
/// output rules.
pub struct JsonConverter {
    schemas_enable: bool,
    decimal_format: DecimalFormat,
    replace_null_with_default: bool,
    cache_size: usize,
    is_key: bool,
    /// Serialized schema JSON per struct schema `Arc` (keyed by address; the
    /// entry holds the `Arc`, so the address cannot be reused while cached).
    schema_json: RwLock<HashMap<usize, CachedSchemaJson>>,
    /// Parsed schema per raw schema JSON text (sink side).
    connect_schemas: RwLock<HashMap<Vec<u8>, SchemaRef>>,
    /// Size of the last message, to pre-size the next buffer.
    last_len: AtomicUsize,
}

impl Default for JsonConverter {
    fn default() -> Self {
        JsonConverter::new()
    }
}

impl std::fmt::Debug for JsonConverter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonConverter")
            .field("schemas_enable", &self.schemas_enable)
            .field("decimal_format", &self.decimal_format)
            .field("replace_null_with_default", &self.replace_null_with_default)
            .field("is_key", &self.is_key)
            .finish()
    }
}

impl JsonConverter {
    /// A converter with Kafka's defaults: schemas enabled, BASE64 decimals,
    /// nulls replaced by defaults, 1000 cached schemas.
    pub fn new() -> JsonConverter {
        JsonConverter {
            schemas_enable: true,
            decimal_format: DecimalFormat::Base64,
            replace_null_with_default: true,
            cache_size: 1000,
            is_key: false,
            schema_json: RwLock::new(HashMap::new()),
            connect_schemas: RwLock::new(HashMap::new()),
            last_len: AtomicUsize::new(256),
        }
    }

    /// Whether the `{"schema","payload"}` envelope is written and expected.
    pub fn schemas_enabled(&self) -> bool {
        self.schemas_enable
    }

    /// The configured Decimal format.
    pub fn decimal_format(&self) -> DecimalFormat {
        self.decimal_format
    }

    /// The JSON of `schema` exactly as `JsonConverter.asJsonSchema` renders it.
    pub fn schema_to_json(&self, schema: &Schema) -> Result<Vec<u8>, ConnectError> {
        let mut out = Vec::with_capacity(256);
        self.write_schema(&mut out, schema)?;
        Ok(out)
    }

    /// Parses schema JSON as `JsonConverter.asConnectSchema` does; None for
    /// JSON `null`.
    pub fn schema_from_json(&self, json: &[u8]) -> Result<Option<SchemaRef>, ConnectError> {
        match parse_document(json).map_err(deser_error)? {
            Document::Object(members) => {
                let obj = Json::Object(members.into_iter().map(|m| (m.key, m.value)).collect());
                self.as_connect_schema(&obj).map(Some)
            }
            Document::Other(Json::Null) | Document::Empty => Ok(None),
            Document::Other(_) => Err(data_error("Schema must contain 'type' field")),
        }
    }

    // ----- Connect → JSON -------------------------------------------------

    fn write_cached_schema(
        &self,
        out: &mut Vec<u8>,
        schema: &Schema,
        value: &Value,
    ) -> Result<(), ConnectError> {
        // Only a struct value carries the schema's Arc; use it as the key
        // when it is the very schema being written.
        let arc = match value {
            Value::Struct(s) if std::ptr::eq(Arc::as_ptr(&s.schema), schema) => &s.schema,
            _ => return self.write_schema(out, schema),
        };
        let key = Arc::as_ptr(arc) as usize;
        if let Ok(cache) = self.schema_json.read() {
            if let Some((_, json)) = cache.get(&key) {
                out.extend_from_slice(json);
                return Ok(());
            }
        }
        let start = out.len();
        self.write_schema(out, schema)?;
        if self.cache_size > 0 {
            let json: Arc<[u8]> = Arc::from(&out[start..]);
            if let Ok(mut cache) = self.schema_json.write() {
                if cache.len() >= self.cache_size {
                    cache.clear();
                }
                cache.insert(key, (Arc::clone(arc), json));
            }
        }
        Ok(())
    }

    fn write_schema(&self, out: &mut Vec<u8>, schema: &Schema) -> Result<(), ConnectError> {
        self.write_schema_open(out, schema)?;
        out.push(b'}');
        Ok(())
    }

    /// Writes the schema object without its closing brace, so a struct can
    /// append `"field"` as the last key.
    fn write_schema_open(&self, out: &mut Vec<u8>, schema: &Schema) -> Result<(), ConnectError> {
        out.extend_from_slice(b"{\"type\":\"");
        out.extend_from_slice(schema.type_.name().as_bytes());
        out.push(b'"');
        match schema.type_ {
            Type::Array => {
                out.extend_from_slice(b",\"items\":");
                self.write_optional_schema(out, schema.value_schema.as_deref())?;
            }
            Type::Map => {
                out.extend_from_slice(b",\"keys\":");
                self.write_optional_schema(out, schema.key_schema.as_deref())?;
                out.extend_from_slice(b",\"values\":");
                self.write_optional_schema(out, schema.value_schema.as_deref())?;
            }
            Type::Struct => {
                out.extend_from_slice(b",\"fields\":[");
                for (i, field) in schema.fields.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    self.write_schema_open(out, &field.schema)?;
                    out.extend_from_slice(b",\"field\":");
                    write_json_string(out, &field.name);
                    out.push(b'}');
                }
                out.push(b']');
            }
            _ => {}
        }
        out.extend_from_slice(if schema.optional {
            b",\"optional\":true"
        } else {
            b",\"optional\":false"
        });
        if let Some(name) = &schema.name {
            out.extend_from_slice(b",\"name\":");
            write_json_string(out, name);
        }
        if let Some(version) = schema.version {
            out.extend_from_slice(b",\"version\":");
            out.extend_from_slice(itoa::Buffer::new().format(version).as_bytes());
        }
        if let Some(doc) = &schema.doc {
            out.extend_from_slice(b",\"doc\":");
            write_json_string(out, doc);
        }
        if let Some(params) = &schema.parameters {
            out.extend_from_slice(b",\"parameters\":{");
            for (i, (k, v)) in params.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_json_string(out, k);
                out.push(b':');
                write_json_string(out, v);
            }
            out.push(b'}');
        }
        if let Some(default) = &schema.default {
            out.extend_from_slice(b",\"default\":");
            self.write_value(out, Some(schema), default)?;
        }
        Ok(())
    }

    fn write_optional_schema(
        &self,
        out: &mut Vec<u8>,
        schema: Option<&Schema>,
    ) -> Result<(), ConnectError> {
        match schema {
            Some(s) => self.write_schema(out, s),
            None => {
                out.extend_from_slice(b"null");
                Ok(())
            }
        }
    }

    /// `convertToJson(schema, value)`.
    fn write_value(
        &self,
        out: &mut Vec<u8>,
        schema: Option<&Schema>,
        value: &Value,
    ) -> Result<(), ConnectError> {
        if value.is_null() {
            let Some(s) = schema else {
                out.extend_from_slice(b"null");
                return Ok(());
            };
            if let (Some(default), true) = (&s.default, self.replace_null_with_default) {
                if !default.is_null() {
                    return self.write_value(out, schema, default);
                }
            }
            if s.optional {
                out.extend_from_slice(b"null");
                return Ok(());
            }
            return Err(data_error(
                "Conversion error: null value for field that is required and has no default value",
            ));
        }
        if let Some(s) = schema {
            if s.is_named(logical::DECIMAL) {
                return self.write_decimal(out, s, value);
            }
        }
        let type_ = match schema {
            Some(s) => s.type_,
            None => infer_type(value),
        };
        match (type_, value) {
            (Type::Int8, Value::Int8(v)) => write_int(out, *v),
            (Type::Int16, Value::Int16(v)) => write_int(out, *v),
            (Type::Int32, Value::Int32(v)) => write_int(out, *v),
            (Type::Int64, Value::Int64(v)) => write_int(out, *v),
            (Type::Float32, Value::Float32(v)) => {
                if v.is_finite() {
                    write_java_float(out, *v);
                } else {
                    out.push(b'"');
                    write_java_float(out, *v);
                    out.push(b'"');
                }
            }
            (Type::Float64, Value::Float64(v)) => {
                if v.is_finite() {
                    write_java_double(out, *v);
                } else {
                    out.push(b'"');
                    write_java_double(out, *v);
                    out.push(b'"');
                }
            }
            (Type::Boolean, Value::Boolean(b)) => {
                out.extend_from_slice(if *b { b"true" } else { b"false" })
            }
            (Type::String, Value::String(s)) => write_json_string(out, s),
            (Type::Bytes, Value::Bytes(b)) => write_base64(out, b),
            (Type::Array, Value::Array(items)) => {
                let elem = schema.and_then(|s| s.value_schema.as_deref());
                out.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    self.write_value(out, elem, item)
                        .map_err(|e| at_path(e, &format!("[{i}]")))?;
                }
                out.push(b']');
            }
            (Type::Map, Value::Map(entries)) => self.write_map(out, schema, entries)?,
            (Type::Struct, Value::Struct(st)) => self.write_struct(out, schema, st)?,
            _ => {
                return Err(data_error(format!(
                    "Invalid type for {}: {}",
                    schema.map_or("unknown schema", |s| java_type_name(s.type_)),
                    value_kind(value)
                )))
            }
        }
        Ok(())
    }

    fn write_map(
        &self,
        out: &mut Vec<u8>,
        schema: Option<&Schema>,
        entries: &[(Value, Value)],
    ) -> Result<(), ConnectError> {
        let key_schema = schema.and_then(|s| s.key_schema.as_deref());
        let value_schema = schema.and_then(|s| s.value_schema.as_deref());
        let object_mode = match key_schema {
            Some(k) => k.type_ == Type::String,
            None => entries.iter().all(|(k, _)| matches!(k, Value::String(_))),
        };
        if object_mode {
            out.push(b'{');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                match k {
                    Value::String(s) => write_json_string(out, s),
                    // NullNode.asText() is "null".
                    Value::Null => write_json_string(out, "null"),
                    other => {
                        return Err(data_error(format!(
                            "Invalid type for STRING: {}",
                            value_kind(other)
                        )))
                    }
                }
                out.push(b':');
                self.write_value(out, value_schema, v)
                    .map_err(|e| at_path(e, &format!("[{i}]")))?;
            }
            out.push(b'}');
        } else {
            out.push(b'[');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.push(b'[');
                self.write_value(out, key_schema, k)?;
                out.push(b',');
                self.write_value(out, value_schema, v)?;
                out.push(b']');
            }
            out.push(b']');
        }
        Ok(())
    }

    fn write_struct(
        &self,
        out: &mut Vec<u8>,
        schema: Option<&Schema>,
        st: &Struct,
    ) -> Result<(), ConnectError> {
        // Kafka requires struct.schema().equals(schema). Without a schema
        // (schemaless record) Velocity uses the struct's own schema instead
        // of failing.
        let schema: &Schema = match schema {
            Some(s) => {
                if !std::ptr::eq(Arc::as_ptr(&st.schema), s) && *st.schema != *s {
                    return Err(data_error("Mismatching schema."));
                }
                s
            }
            None => &st.schema,
        };
        out.push(b'{');
        for (i, field) in schema.fields.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_json_string(out, &field.name);
            out.push(b':');
            let v = st.values.get(i).unwrap_or(&Value::Null);
            self.write_value(out, Some(&field.schema), v)
                .map_err(|e| at_path(e, &field.name))?;
        }
        out.push(b'}');
        Ok(())
    }

    fn write_decimal(
        &self,
        out: &mut Vec<u8>,
        schema: &Schema,
        value: &Value,
    ) -> Result<(), ConnectError> {
        let Value::Bytes(bytes) = value else {
            return Err(data_error(format!(
                "Invalid type for Decimal, expected BigDecimal but was {}",
                value_kind(value)
            )));
        };
        match self.decimal_format {
            DecimalFormat::Base64 => write_base64(out, minimal_twos_complement(bytes)),
            DecimalFormat::Numeric => write_big_decimal(out, bytes, decimal_scale(schema)?),
        }
        Ok(())
    }

    // ----- JSON → Connect -------------------------------------------------

    fn cached_connect_schema(&self, raw: &[u8], json: &Json) -> Result<SchemaRef, ConnectError> {
        if let Ok(cache) = self.connect_schemas.read() {
            if let Some(s) = cache.get(raw) {
                return Ok(Arc::clone(s));
            }
        }
        let schema = self.as_connect_schema(json)?;
        if self.cache_size > 0 {
            if let Ok(mut cache) = self.connect_schemas.write() {
                if cache.len() >= self.cache_size {
                    cache.clear();
                }
                cache.insert(raw.to_vec(), Arc::clone(&schema));
            }
        }
        Ok(schema)
    }

    /// `asConnectSchema` for a non-null schema node.
    fn as_connect_schema(&self, json: &Json) -> Result<SchemaRef, ConnectError> {
        let type_name = match json.get("type") {
            Some(Json::String(t)) => t,
            _ => return Err(data_error("Schema must contain 'type' field")),
        };
        let type_ = Type::from_name(type_name)
            .ok_or_else(|| data_error(format!("Unknown schema type: {type_name}")))?;
        let mut schema = Schema::new(type_);
        match type_ {
            Type::Array => match json.get("items") {
                None | Some(Json::Null) => {
                    return Err(data_error("Array schema did not specify the element type"))
                }
                Some(items) => schema.value_schema = Some(self.as_connect_schema(items)?),
            },
            Type::Map => {
                let keys = json
                    .get("keys")
                    .ok_or_else(|| data_error("Map schema did not specify the key type"))?;
                let values = json
                    .get("values")
                    .ok_or_else(|| data_error("Map schema did not specify the value type"))?;
                schema.key_schema = Some(self.as_connect_schema(keys)?);
                schema.value_schema = Some(self.as_connect_schema(values)?);
            }
            Type::Struct => {
                let Some(Json::Array(fields)) = json.get("fields") else {
                    return Err(data_error(
                        "Struct schema's \"fields\" argument is not an array.",
                    ));
                };
                for field in fields {
                    let Some(Json::String(name)) = field.get("field") else {
                        return Err(data_error(
                            "Struct schema's field name not specified properly",
                        ));
                    };
                    let field_schema = self.as_connect_schema(field)?;
                    schema = schema.field(name.as_ref(), field_schema);
                }
            }
            _ => {}
        }
        schema.optional = matches!(json.get("optional"), Some(Json::Bool(true)));
        if let Some(Json::String(name)) = json.get("name") {
            schema.name = Some(name.to_string());
        }
        if let Some(v @ Json::Number(text)) = json.get("version") {
            if v.is_integral() {
                schema.version = Some(json_i64(text) as i32);
            }
        }
        if let Some(Json::String(doc)) = json.get("doc") {
            schema.doc = Some(doc.to_string());
        }
        if let Some(Json::Object(params)) = json.get("parameters") {
            for (k, v) in params {
                let Json::String(v) = v else {
                    return Err(data_error("Schema parameters must have string values."));
                };
                schema = schema.param(k.as_ref(), v.as_ref());
            }
        }
        let schema = Arc::new(schema);
        match json.get("default") {
            None => Ok(schema),
            Some(default) => {
                let value = self.convert_to_connect(Some(&schema), default)?;
                if value.is_null() {
                    return Ok(schema);
                }
                let mut with_default = (*schema).clone();
                with_default.default = Some(value);
                Ok(Arc::new(with_default))
            }
        }
    }

    /// `convertToConnect(schema, json)`.
    fn convert_to_connect(
        &self,
        schema: Option<&SchemaRef>,
        json: &Json,
    ) -> Result<Value, ConnectError> {
        let Some(schema) = schema else {
            return Ok(infer_value(json));
        };
        if matches!(json, Json::Null) {
            if let (Some(default), true) = (&schema.default, self.replace_null_with_default) {
                return Ok(default.clone());
            }
            if schema.optional {
                return Ok(Value::Null);
            }
            return Err(data_error(format!(
                "Invalid null value for required {} field",
                java_type_name(schema.type_)
            )));
        }
        if let Some(name) = &schema.name {
            match name.as_str() {
                logical::DECIMAL => return self.decimal_to_connect(schema, json),
                logical::DATE | logical::TIME => {
                    let what = if name == logical::DATE {
                        "Date"
                    } else {
                        "Time"
                    };
                    return match json {
                        Json::Number(t) if json.is_integral() => t
                            .parse::<i32>()
                            .map(Value::Int32)
                            .map_err(|_| logical_type_error(what, "integer", json)),
                        _ => Err(logical_type_error(what, "integer", json)),
                    };
                }
                logical::TIMESTAMP => {
                    return match json {
                        Json::Number(t) if json.is_integral() => Ok(Value::Int64(json_i64(t))),
                        _ => Err(logical_type_error("Timestamp", "integral", json)),
                    };
                }
                _ => {}
            }
        }
        let mismatch = || {
            data_error(format!(
                "Invalid JSON for {} field: found {}",
                java_type_name(schema.type_),
                json.node_type()
            ))
        };
        Ok(match (schema.type_, json) {
            (Type::Boolean, Json::Bool(b)) => Value::Boolean(*b),
            (Type::Int8, Json::Number(t)) => Value::Int8(json_i64(t) as i8),
            (Type::Int16, Json::Number(t)) => Value::Int16(json_i64(t) as i16),
            (Type::Int32, Json::Number(t)) => Value::Int32(json_i64(t) as i32),
            (Type::Int64, Json::Number(t)) => Value::Int64(json_i64(t)),
            (Type::Float32, Json::Number(t)) => Value::Float32(t.parse().map_err(|_| mismatch())?),
            (Type::Float64, Json::Number(t)) => Value::Float64(t.parse().map_err(|_| mismatch())?),
            (Type::String, Json::String(s)) => Value::String(s.to_string()),
            (Type::Bytes, Json::String(s)) => Value::Bytes(
                LENIENT_BASE64
                    .decode(s.as_bytes())
                    .map_err(|_| data_error("Invalid bytes field"))?,
            ),
            (Type::Array, Json::Array(items)) => {
                let elem = schema.value_schema.as_ref();
                Value::Array(
                    items
                        .iter()
                        .map(|i| self.convert_to_connect(elem, i))
                        .collect::<Result<_, _>>()?,
                )
            }
            (Type::Map, _) => self.map_to_connect(schema, json)?,
            (Type::Struct, Json::Object(_)) => {
                let mut st = Struct::new(Arc::clone(schema));
                for (i, field) in schema.fields.iter().enumerate() {
                    let v = json.get(&field.name).unwrap_or(&Json::Null);
                    st.values[i] = self.convert_to_connect(Some(&field.schema), v)?;
                }
                Value::Struct(st)
            }
            (Type::Struct, other) => {
                return Err(data_error(format!(
                    "Structs should be encoded as JSON objects, but found {}",
                    other.node_type()
                )))
            }
            _ => return Err(mismatch()),
        })
    }

    fn map_to_connect(&self, schema: &SchemaRef, json: &Json) -> Result<Value, ConnectError> {
        let key_schema = schema.key_schema.as_ref();
        let value_schema = schema.value_schema.as_ref();
        if key_schema.is_none_or(|k| k.type_ == Type::String) {
            let Json::Object(members) = json else {
                return Err(data_error(format!(
                    "Maps with string fields should be encoded as JSON objects, but found {}",
                    json.node_type()
                )));
            };
            let mut entries = Vec::with_capacity(members.len());
            for (k, v) in members {
                entries.push((
                    Value::String(k.to_string()),
                    self.convert_to_connect(value_schema, v)?,
                ));
            }
            return Ok(Value::Map(entries));
        }
        let Json::Array(items) = json else {
            return Err(data_error(format!(
                "Maps with non-string fields should be encoded as JSON array of tuples, but found {}",
                json.node_type()
            )));
        };
        let mut entries = Vec::with_capacity(items.len());
        for entry in items {
            let Json::Array(pair) = entry else {
                return Err(data_error(format!(
                    "Found invalid map entry instead of array tuple: {}",
                    entry.node_type()
                )));
            };
            if pair.len() != 2 {
                return Err(data_error(format!(
                    "Found invalid map entry, expected length 2 but found :{}",
                    pair.len()
                )));
            }
            entries.push((
                self.convert_to_connect(key_schema, &pair[0])?,
                self.convert_to_connect(value_schema, &pair[1])?,
            ));
        }
        Ok(Value::Map(entries))
    }

    fn decimal_to_connect(&self, schema: &Schema, json: &Json) -> Result<Value, ConnectError> {
        match json {
            Json::Number(text) => {
                let scale = decimal_scale(schema)?;
                decimal_text_to_unscaled(text, scale)
                    .map(Value::Bytes)
                    .ok_or_else(|| {
                        data_error(format!(
                            "BigDecimal {text} has mismatching scale value for given Decimal schema (scale {scale})"
                        ))
                    })
            }
            Json::String(s) => LENIENT_BASE64
                .decode(s.as_bytes())
                .map(Value::Bytes)
                .map_err(|_| data_error("Invalid bytes for Decimal field")),
            other => Err(data_error(format!(
                "Invalid type for Decimal, underlying representation should be numeric or bytes but was {}",
                other.node_type()
            ))),
        }
    }
}

impl Converter for JsonConverter {
    fn configure(&mut self, config: &RawConfig, is_key: bool) -> Result<(), ConnectError> {
        self.is_key = is_key;
        self.schemas_enable = config.bool_or(SCHEMAS_ENABLE_CONFIG, true)?;
        self.replace_null_with_default = config.bool_or(REPLACE_NULL_WITH_DEFAULT_CONFIG, true)?;
        self.cache_size =
            config.int_or(SCHEMAS_CACHE_SIZE_CONFIG, 1000, 0, i64::from(i32::MAX))? as usize;
        self.decimal_format = match config
            .enum_or(DECIMAL_FORMAT_CONFIG, "BASE64", &["BASE64", "NUMERIC"])?
            .as_str()
        {
            "numeric" => DecimalFormat::Numeric,
            _ => DecimalFormat::Base64,
        };
        if let Ok(mut c) = self.schema_json.write() {
            c.clear();
        }
        if let Ok(mut c) = self.connect_schemas.write() {
            c.clear();
        }
        Ok(())
    }

    fn from_connect(
        &self,
        _topic: &str,
        schema: Option<&Schema>,
        value: &Value,
    ) -> Result<Option<Vec<u8>>, ConnectError> {
        if schema.is_none() && value.is_null() {
            return Ok(None);
        }
        let mut out = Vec::with_capacity(self.last_len.load(Ordering::Relaxed) + 64);
        if self.schemas_enable {
            out.extend_from_slice(b"{\"schema\":");
            match schema {
                Some(s) => self.write_cached_schema(&mut out, s, value)?,
                None => out.extend_from_slice(b"null"),
            }
            out.extend_from_slice(b",\"payload\":");
            self.write_value(&mut out, schema, value)?;
            out.push(b'}');
        } else {
            self.write_value(&mut out, schema, value)?;
        }
        self.last_len.store(out.len(), Ordering::Relaxed);
        Ok(Some(out))
    }

    fn to_connect(
        &self,
        _topic: &str,
        bytes: Option<&[u8]>,
    ) -> Result<(Option<SchemaRef>, Value), ConnectError> {
        let Some(bytes) = bytes else {
            return Ok((None, Value::Null));
        };
        let doc = parse_document(bytes).map_err(deser_error)?;
        if !self.schemas_enable {
            let json = match doc {
                Document::Object(members) => {
                    Json::Object(members.into_iter().map(|m| (m.key, m.value)).collect())
                }
                Document::Other(v) => v,
                Document::Empty => Json::Null,
            };
            return Ok((None, infer_value(&json)));
        }
        let Document::Object(members) = doc else {
            return Err(data_error(ENVELOPE_ERROR));
        };
        let schema_member = members.iter().find(|m| m.key == "schema");
        let payload_member = members.iter().find(|m| m.key == "payload");
        let (Some(schema_member), Some(payload_member), 2) =
            (schema_member, payload_member, members.len())
        else {
            return Err(data_error(ENVELOPE_ERROR));
        };
        let schema = match &schema_member.value {
            Json::Null => None,
            json => Some(self.cached_connect_schema(&bytes[schema_member.span.clone()], json)?),
        };
        let value = self.convert_to_connect(schema.as_ref(), &payload_member.value)?;
        Ok((schema, value))
    }
}

// ----- helpers ------------------------------------------------------------

fn data_error(message: impl Into<String>) -> ConnectError {
    ConnectError::fatal(message)
}

/// Marks where in a value a conversion error happened.
const PATH_MARK: &str = " (field path: ";

/// Prefixes `segment` (a field name, or `[i]` for an array element) to the
/// field path that `e`'s message ends with, adding the path when it has
/// none: errors bubble up from the innermost value, so the outermost field
/// comes last (`after`, then `after.an`, then `after.an[0]`). Only errors
/// take this path; successful writes never build one.
fn at_path(e: ConnectError, segment: &str) -> ConnectError {
    let ConnectError::Other {
        kind,
        message,
        source,
    } = e
    else {
        return e;
    };
    let message = match message.rfind(PATH_MARK) {
        Some(at) if message.ends_with(')') => {
            let rest = &message[at + PATH_MARK.len()..message.len() - 1];
            let sep = if rest.starts_with('[') { "" } else { "." };
            format!("{}{PATH_MARK}{segment}{sep}{rest})", &message[..at])
        }
        _ => format!("{message}{PATH_MARK}{segment})"),
    };
    ConnectError::Other {
        kind,
        message,
        source,
    }
}

fn deser_error(detail: String) -> ConnectError {
    data_error(format!(
        "Converting byte[] to Kafka Connect data failed due to serialization error: {detail}"
    ))
}

fn logical_type_error(what: &str, repr: &str, json: &Json) -> ConnectError {
    data_error(format!(
        "Invalid type for {what}, underlying representation should be {repr} but was {}",
        json.node_type()
    ))
}

/// The `scale` parameter of a Decimal schema.
fn decimal_scale(schema: &Schema) -> Result<i32, ConnectError> {
    schema
        .parameter("scale")
        .and_then(|s| s.trim().parse::<i32>().ok())
        .ok_or_else(|| data_error("Invalid Decimal schema: scale parameter not found."))
}

/// The schema type Kafka infers from a value's Java class.
fn infer_type(value: &Value) -> Type {
    match value {
        Value::Int8(_) => Type::Int8,
        Value::Int16(_) => Type::Int16,
        Value::Int32(_) => Type::Int32,
        Value::Int64(_) => Type::Int64,
        Value::Float32(_) => Type::Float32,
        Value::Float64(_) => Type::Float64,
        Value::Boolean(_) => Type::Boolean,
        Value::String(_) | Value::Null => Type::String,
        Value::Bytes(_) => Type::Bytes,
        Value::Array(_) => Type::Array,
        Value::Map(_) => Type::Map,
        Value::Struct(_) => Type::Struct,
    }
}

/// The value Kafka builds from schemaless JSON: objects become maps with
/// string keys, integral numbers int64, other numbers float64.
fn infer_value(json: &Json) -> Value {
    match json {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Boolean(*b),
        Json::Number(t) if json.is_integral() => Value::Int64(json_i64(t)),
        Json::Number(t) => Value::Float64(t.parse().unwrap_or(f64::NAN)),
        Json::String(s) => Value::String(s.to_string()),
        Json::Array(items) => Value::Array(items.iter().map(infer_value).collect()),
        Json::Object(members) => Value::Map(
            members
                .iter()
                .map(|(k, v)| (Value::String(k.to_string()), infer_value(v)))
                .collect(),
        ),
    }
}

/// Jackson's `longValue()` of a number: integral text parsed (truncated to 64
/// bits like `BigInteger.longValue()` when larger), fractions truncated.
fn json_i64(text: &str) -> i64 {
    if let Ok(v) = text.parse::<i64>() {
        return v;
    }
    if !text.contains(['.', 'e', 'E']) {
        if let Ok(v) = text.parse::<i128>() {
            return v as i64;
        }
    }
    text.parse::<f64>().map(|f| f as i64).unwrap_or(0)
}

fn write_int<I: itoa::Integer>(out: &mut Vec<u8>, v: I) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

fn write_base64(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'"');
    let start = out.len();
    let len = base64::encoded_len(bytes.len(), true).unwrap_or(0);
    out.resize(start + len, 0);
    let written = STANDARD.encode_slice(bytes, &mut out[start..]).unwrap_or(0);
    out.truncate(start + written);
    out.push(b'"');
}

/// 0: written as is; `u`: `\u00XX`; any other byte: `\` followed by it.
const ESCAPES: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = b'u';
        i += 1;
    }
    t[0x08] = b'b';
    t[0x09] = b't';
    t[0x0A] = b'n';
    t[0x0C] = b'f';
    t[0x0D] = b'r';
    t[b'"' as usize] = b'"';
    t[b'\\' as usize] = b'\\';
    t
};

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// True when any byte of `w` is a control character (< 0x20), `"` or `\\`
/// (the bytes [`ESCAPES`] escapes); exact, no false negatives.
fn needs_escape(w: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let has_zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    // bytes below 0x20: (b - 0x20) borrows into the high bit, only for b < 0x20
    // when b itself has its high bit clear
    let below = w.wrapping_sub(ONES * 0x20) & !w & HIGH;
    below | has_zero(w ^ (ONES * u64::from(b'"'))) | has_zero(w ^ (ONES * u64::from(b'\\'))) != 0
}

/// Writes `s` as a JSON string with Jackson's escaping.
pub fn write_json_string(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        // skip 8 bytes at a time while none of them needs escaping
        if let Some(chunk) = bytes.get(i..i + 8) {
            let word = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
            if !needs_escape(word) {
                i += 8;
                continue;
            }
        }
        let b = bytes[i];
        let esc = ESCAPES[b as usize];
        i += 1;
        if esc == 0 {
            continue;
        }
        let i = i - 1;
        out.extend_from_slice(&bytes[start..i]);
        if esc == b'u' {
            out.extend_from_slice(b"\\u00");
            out.push(HEX_UPPER[(b >> 4) as usize]);
            out.push(HEX_UPPER[(b & 0xF) as usize]);
        } else {
            out.push(b'\\');
            out.push(esc);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use velocity_api::schema::logical::decimal;

    /// Byte-by-byte rendering through [`ESCAPES`]: the reference the
    /// word-at-a-time fast path of [`write_json_string`] must equal.
    fn escape_reference(s: &str) -> Vec<u8> {
        let mut out = vec![b'"'];
        for &b in s.as_bytes() {
            match ESCAPES[b as usize] {
                0 => out.push(b),
                b'u' => {
                    out.extend_from_slice(b"\\u00");
                    out.push(HEX_UPPER[(b >> 4) as usize]);
                    out.push(HEX_UPPER[(b & 0xF) as usize]);
                }
                e => out.extend_from_slice(&[b'\\', e]),
            }
        }
        out.push(b'"');
        out
    }

    #[test]
    fn string_escaping_fast_path_matches_the_reference_at_every_position() {
        let mut cases: Vec<String> = Vec::new();
        for b in 0u8..0x80 {
            for pos in 0..19 {
                let mut s: Vec<u8> = b"abcdefghijklmnopqrs".to_vec();
                s[pos] = b;
                cases.push(String::from_utf8(s).expect("ascii"));
            }
        }
        cases.push("ünïcödé \u{7f} \"q\" \\ tab\t end".into());
        cases.push("\"\"\n\n\t\\\u{1}x\u{1f}\"".into());
        cases.push(String::new());
        for s in &cases {
            let mut out = Vec::new();
            write_json_string(&mut out, s);
            assert_eq!(out, escape_reference(s), "{s:?}");
        }
    }

    fn conv(pairs: &[(&str, &str)]) -> JsonConverter {
        let mut c = JsonConverter::new();
        let cfg: RawConfig = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        c.configure(&cfg, false).unwrap();
        c
    }

    fn to_string(c: &JsonConverter, schema: Option<&Schema>, value: &Value) -> String {
        String::from_utf8(c.from_connect("t", schema, value).unwrap().unwrap()).unwrap()
    }

    /// A Debezium-like row schema: int32 with default, optional string,
    /// Decimal, MicroTimestamp, Json string.
    fn row_schema() -> SchemaRef {
        Schema::struct_()
            .named("server1.inventory.customers.Value")
            .optional()
            .field("id", Schema::int32().default_value(Value::Int32(0)))
            .field("name", Schema::string().optional())
            .field("weight", decimal(2, Some(10)).optional())
            .field(
                "ts",
                Schema::int64()
                    .optional()
                    .named(logical::DBZ_MICRO_TIMESTAMP)
                    .version(1),
            )
            .field(
                "doc",
                Schema::string()
                    .optional()
                    .named(logical::DBZ_JSON)
                    .version(1),
            )
            .build()
    }

    fn envelope_schema(row: &SchemaRef) -> SchemaRef {
        let source = Schema::struct_()
            .named("io.debezium.connector.postgresql.Source")
            .field("version", Schema::string())
            .field("connector", Schema::string())
            .field("lsn", Schema::int64().optional())
            .build();
        Schema::struct_()
            .named("server1.inventory.customers.Envelope")
            .version(1)
            .field("before", Arc::clone(row))
            .field("after", Arc::clone(row))
            .field("source", source)
            .field("op", Schema::string())
            .field("ts_ms", Schema::int64().optional())
            .build()
    }

    fn envelope_value(env: &SchemaRef, row: &SchemaRef) -> Value {
        let after = Struct::new(Arc::clone(row))
            .put("id", 1)
            .put("name", "Anne \"A\" /\\ é\n")
            .put("weight", Value::Bytes(vec![0x04, 0xD2]))
            .put("ts", Value::Int64(1_700_000_000_123_456))
            .put("doc", r#"{"a": 1}"#);
        let source_schema = Arc::clone(&env.field_named("source").unwrap().schema);
        let source = Struct::new(source_schema)
            .put("version", "2.5.0.Final")
            .put("connector", "postgresql")
            .put("lsn", Value::Int64(24023128));
        Value::Struct(
            Struct::new(Arc::clone(env))
                .put("before", Value::Null)
                .put("after", Value::Struct(after))
                .put("source", Value::Struct(source))
                .put("op", "c")
                .put("ts_ms", Value::Int64(1_700_000_000_999)),
        )
    }

    const ROW_SCHEMA_JSON: &str = concat!(
        r#"{"type":"struct","fields":["#,
        r#"{"type":"int32","optional":false,"default":0,"field":"id"},"#,
        r#"{"type":"string","optional":true,"field":"name"},"#,
        r#"{"type":"bytes","optional":true,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"2","connect.decimal.precision":"10"},"field":"weight"},"#,
        r#"{"type":"int64","optional":true,"name":"io.debezium.time.MicroTimestamp","version":1,"field":"ts"},"#,
        r#"{"type":"string","optional":true,"name":"io.debezium.data.Json","version":1,"field":"doc"}"#,
        r#"],"optional":true,"name":"server1.inventory.customers.Value""#,
    );

    fn golden_envelope() -> String {
        [
            r#"{"schema":{"type":"struct","fields":["#,
            ROW_SCHEMA_JSON,
            r#","field":"before"},"#,
            ROW_SCHEMA_JSON,
            r#","field":"after"},"#,
            r#"{"type":"struct","fields":[{"type":"string","optional":false,"field":"version"},{"type":"string","optional":false,"field":"connector"},{"type":"int64","optional":true,"field":"lsn"}],"optional":false,"name":"io.debezium.connector.postgresql.Source","field":"source"},"#,
            r#"{"type":"string","optional":false,"field":"op"},"#,
            r#"{"type":"int64","optional":true,"field":"ts_ms"}"#,
            r#"],"optional":false,"name":"server1.inventory.customers.Envelope","version":1},"#,
            r#""payload":{"before":null,"after":{"id":1,"name":"Anne \"A\" /\\ é\n","weight":"BNI=","ts":1700000000123456,"doc":"{\"a\": 1}"},"#,
            r#""source":{"version":"2.5.0.Final","connector":"postgresql","lsn":24023128},"op":"c","ts_ms":1700000000999}}"#,
        ]
        .concat()
    }

    #[test]
    fn debezium_envelope_golden() {
        let c = conv(&[]);
        let row = row_schema();
        let env = envelope_schema(&row);
        let v = envelope_value(&env, &row);
        let want = golden_envelope();
        assert_eq!(to_string(&c, Some(&env), &v), want);
        // Second time through the schema cache: identical.
        assert_eq!(to_string(&c, Some(&env), &v), want);
        assert_eq!(c.schema_json.read().unwrap().len(), 1);
    }

    #[test]
    fn schemas_disabled_writes_payload_only() {
        let c = conv(&[("schemas.enable", "false")]);
        let row = row_schema();
        let env = envelope_schema(&row);
        let v = envelope_value(&env, &row);
        let got = to_string(&c, Some(&env), &v);
        assert_eq!(
            got,
            concat!(
                r#"{"before":null,"after":{"id":1,"name":"Anne \"A\" /\\ é\n","weight":"BNI=","ts":1700000000123456,"doc":"{\"a\": 1}"},"#,
                r#""source":{"version":"2.5.0.Final","connector":"postgresql","lsn":24023128},"op":"c","ts_ms":1700000000999}"#
            )
        );
    }

    #[test]
    fn tombstones_and_nulls() {
        let c = conv(&[]);
        assert_eq!(c.from_connect("t", None, &Value::Null).unwrap(), None);
        let opt = Schema::string().optional();
        assert_eq!(
            to_string(&c, Some(&opt), &Value::Null),
            r#"{"schema":{"type":"string","optional":true},"payload":null}"#
        );
        let plain = conv(&[("schemas.enable", "false")]);
        assert_eq!(plain.from_connect("t", None, &Value::Null).unwrap(), None);
        assert_eq!(to_string(&plain, Some(&opt), &Value::Null), "null");
        // Schemaless value with schemas enabled.
        assert_eq!(
            to_string(&c, None, &Value::Int64(5)),
            r#"{"schema":null,"payload":5}"#
        );
        // Required without default: Kafka's error.
        let err = c
            .from_connect("t", Some(&Schema::string()), &Value::Null)
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("null value for field that is required"),
            "{err}"
        );
    }

    #[test]
    fn null_with_default_follows_replace_null_with_default() {
        let s = Schema::struct_()
            .field(
                "n",
                Schema::int32().optional().default_value(Value::Int32(7)),
            )
            .build();
        let v = Value::Struct(Struct::new(Arc::clone(&s)));
        let c = conv(&[("schemas.enable", "false")]);
        assert_eq!(to_string(&c, Some(&s), &v), r#"{"n":7}"#);
        let c = conv(&[
            ("schemas.enable", "false"),
            ("replace.null.with.default", "false"),
        ]);
        assert_eq!(to_string(&c, Some(&s), &v), r#"{"n":null}"#);
    }

    #[test]
    fn numeric_decimals() {
        let c = conv(&[("schemas.enable", "false"), ("decimal.format", "numeric")]);
        let cases: &[(Vec<u8>, i32, &str)] = &[
            (vec![0x04, 0xD2], 2, "12.34"),
            (vec![0x00, 0x96], 2, "1.50"),
            (vec![0xFB, 0x2E], 2, "-12.34"),
            (vec![0x00], 2, "0.00"),
            (vec![0x01], 7, "1E-7"),
            (vec![0x00], 7, "0E-7"),
            (vec![0x7B], -2, "1.23E+4"),
        ];
        for (bytes, scale, want) in cases {
            let s = decimal(*scale, None);
            assert_eq!(to_string(&c, Some(&s), &Value::Bytes(bytes.clone())), *want);
        }
        // Default (BASE64) normalizes to BigInteger.toByteArray() bytes.
        let b = conv(&[("schemas.enable", "false")]);
        let s = decimal(2, None);
        assert_eq!(
            to_string(&b, Some(&s), &Value::Bytes(vec![0, 0, 0x04, 0xD2])),
            r#""BNI=""#
        );
        // Decimal default value inside the schema follows the format too.
        let s = decimal(2, Some(5)).default_value(Value::Bytes(vec![0x00, 0x96]));
        let c = conv(&[("decimal.format", "NUMERIC")]);
        assert_eq!(
            to_string(&c, Some(&s), &Value::Bytes(vec![0x01])),
            r#"{"schema":{"type":"bytes","optional":false,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"2","connect.decimal.precision":"5"},"default":1.50},"payload":0.01}"#
        );
    }

    #[test]
    fn string_escaping_matches_jackson() {
        let c = conv(&[("schemas.enable", "false")]);
        let s = "q\" b\\ s/ \u{8}\u{c}\n\r\t \u{0}\u{1f}\u{7f} ü € 😀 \u{2028}";
        assert_eq!(
            to_string(&c, Some(&Schema::string()), &Value::String(s.into())),
            "\"q\\\" b\\\\ s/ \\b\\f\\n\\r\\t \\u0000\\u001F\u{7f} ü € 😀 \u{2028}\""
        );
    }

    #[test]
    fn doubles_floats_and_non_finite() {
        let c = conv(&[("schemas.enable", "false")]);
        let f64s = Schema::float64();
        for (v, want) in [
            (1.0, "1.0"),
            (1e10, "1.0E10"),
            (1e-5, "1.0E-5"),
            (-0.0, "-0.0"),
            (f64::NAN, "\"NaN\""),
            (f64::INFINITY, "\"Infinity\""),
            (f64::NEG_INFINITY, "\"-Infinity\""),
        ] {
            assert_eq!(to_string(&c, Some(&f64s), &Value::Float64(v)), want);
        }
        assert_eq!(
            to_string(&c, Some(&Schema::float32()), &Value::Float32(1.1)),
            "1.1"
        );
    }

    #[test]
    fn arrays_maps_bytes() {
        let c = conv(&[]);
        let arr = Schema::array(Schema::int16().build()).optional();
        assert_eq!(
            to_string(
                &c,
                Some(&arr),
                &Value::Array(vec![Value::Int16(1), Value::Int16(-2)])
            ),
            r#"{"schema":{"type":"array","items":{"type":"int16","optional":false},"optional":true},"payload":[1,-2]}"#
        );
        let smap = Schema::map(Schema::string().build(), Schema::boolean().build());
        assert_eq!(
            to_string(
                &c,
                Some(&smap),
                &Value::Map(vec![(Value::from("k"), Value::Boolean(true))])
            ),
            r#"{"schema":{"type":"map","keys":{"type":"string","optional":false},"values":{"type":"boolean","optional":false},"optional":false},"payload":{"k":true}}"#
        );
        let imap = Schema::map(Schema::int32().build(), Schema::bytes().build());
        assert_eq!(
            to_string(
                &c,
                Some(&imap),
                &Value::Map(vec![(Value::Int32(3), Value::Bytes(b"hi!?".to_vec()))])
            ),
            r#"{"schema":{"type":"map","keys":{"type":"int32","optional":false},"values":{"type":"bytes","optional":false},"optional":false},"payload":[[3,"aGkhPw=="]]}"#
        );
        let doc = Schema::int8().doc("a \"doc\"").param("p", "1");
        assert_eq!(
            to_string(&c, Some(&doc), &Value::Int8(-8)),
            r#"{"schema":{"type":"int8","optional":false,"doc":"a \"doc\"","parameters":{"p":"1"}},"payload":-8}"#
        );
    }

    #[test]
    fn type_mismatch_is_an_error() {
        let c = conv(&[]);
        let e = c
            .from_connect("t", Some(&Schema::int32()), &Value::from("x"))
            .unwrap_err();
        assert_eq!(e.to_string(), "Invalid type for INT32: String");
        let other = Schema::struct_().field("a", Schema::int32()).build();
        let row = row_schema();
        let e = c
            .from_connect("t", Some(&other), &Value::Struct(Struct::new(row)))
            .unwrap_err();
        assert_eq!(e.to_string(), "Mismatching schema.");
    }

    #[test]
    fn conversion_errors_name_the_field_path() {
        let c = conv(&[]);
        // an array of optional structs holding a struct of another schema
        // (issue 11: numeric[] items carried the non-optional schema)
        let item = Schema::struct_().field("scale", Schema::int32()).build();
        let optional_item = Arc::new((*item).clone().with_optional(true));
        let row = Schema::struct_()
            .field("id", Schema::int32())
            .field("an", Schema::array(optional_item).optional())
            .build();
        let envelope = Schema::struct_()
            .field("after", (*row).clone().with_optional(true))
            .build();
        let after_schema = envelope.fields[0].schema.clone();
        let after = Value::Struct(Struct {
            schema: after_schema,
            values: vec![
                Value::Int32(1),
                Value::Array(vec![
                    Value::Null,
                    Value::Struct(Struct {
                        schema: item.clone(),
                        values: vec![Value::Int32(2)],
                    }),
                ]),
            ],
        });
        let e = c
            .from_connect(
                "t",
                Some(&envelope),
                &Value::Struct(Struct {
                    schema: envelope.clone(),
                    values: vec![after],
                }),
            )
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "Mismatching schema. (field path: after.an[1])"
        );
    }

    #[test]
    fn round_trip_envelope() {
        let c = conv(&[]);
        let row = row_schema();
        let env = envelope_schema(&row);
        let v = envelope_value(&env, &row);
        let bytes = c.from_connect("t", Some(&env), &v).unwrap().unwrap();
        let (schema, back) = c.to_connect("t", Some(&bytes)).unwrap();
        let schema = schema.unwrap();
        assert_eq!(*schema, *env);
        assert_eq!(back, v);
        // And it serializes to the same bytes again.
        let again = c.from_connect("t", Some(&schema), &back).unwrap().unwrap();
        assert_eq!(again, bytes);
        // Parsed schemas are cached by their text.
        let (schema2, _) = c.to_connect("t", Some(&bytes)).unwrap();
        assert!(Arc::ptr_eq(&schema, &schema2.unwrap()));
    }

    #[test]
    fn numeric_decimal_round_trip() {
        let c = conv(&[("decimal.format", "NUMERIC")]);
        let s = decimal(2, None);
        let bytes = c
            .from_connect("t", Some(&s), &Value::Bytes(vec![0xFB, 0x2E]))
            .unwrap()
            .unwrap();
        let (_, v) = c.to_connect("t", Some(&bytes)).unwrap();
        assert_eq!(v, Value::Bytes(vec![0xFB, 0x2E]));
    }

    #[test]
    fn to_connect_envelope_errors_and_schemaless() {
        let c = conv(&[]);
        for bad in [
            &br#"{"a":1}"#[..],
            br#"{"schema":null}"#,
            b"[1]",
            b"null",
            br#"{"schema":null,"payload":1,"x":2}"#,
        ] {
            let e = c.to_connect("t", Some(bad)).unwrap_err();
            assert_eq!(e.to_string(), ENVELOPE_ERROR);
        }
        assert_eq!(c.to_connect("t", None).unwrap(), (None, Value::Null));
        let (s, v) = c
            .to_connect("t", Some(br#"{"schema":null,"payload":"x"}"#))
            .unwrap();
        assert!(s.is_none());
        assert_eq!(v, Value::from("x"));

        let plain = conv(&[("schemas.enable", "false")]);
        let (s, v) = plain
            .to_connect("t", Some(br#"{"b":1,"a":[1.5,true,null,"s"]}"#))
            .unwrap();
        assert!(s.is_none());
        assert_eq!(
            v,
            Value::Map(vec![
                (Value::from("b"), Value::Int64(1)),
                (
                    Value::from("a"),
                    Value::Array(vec![
                        Value::Float64(1.5),
                        Value::Boolean(true),
                        Value::Null,
                        Value::from("s")
                    ])
                ),
            ])
        );
        assert!(plain.to_connect("t", Some(b"{oops")).is_err());
    }

    #[test]
    fn to_connect_null_and_defaults() {
        let c = conv(&[]);
        let msg = br#"{"schema":{"type":"struct","fields":[{"type":"int32","optional":true,"default":5,"field":"a"},{"type":"string","optional":true,"field":"b"}],"optional":false},"payload":{"a":null}}"#;
        let (s, v) = c.to_connect("t", Some(msg)).unwrap();
        let s = s.unwrap();
        assert_eq!(s.fields[0].schema.default, Some(Value::Int32(5)));
        let st = v.as_struct().unwrap();
        assert_eq!(st.get("a"), Some(&Value::Int32(5)));
        assert_eq!(st.get("b"), Some(&Value::Null));
        let bad = br#"{"schema":{"type":"int32","optional":false},"payload":null}"#;
        let e = c.to_connect("t", Some(bad)).unwrap_err();
        assert_eq!(e.to_string(), "Invalid null value for required INT32 field");
    }

    #[test]
    fn configure_rejects_bad_values() {
        let mut c = JsonConverter::new();
        let cfg: RawConfig = [("decimal.format".to_string(), "HEX".to_string())].into();
        let e = c.configure(&cfg, false).unwrap_err();
        assert!(e.to_string().contains("decimal.format"), "{e}");
        let cfg: RawConfig = [("schemas.enable".to_string(), "maybe".to_string())].into();
        let e = c.configure(&cfg, true).unwrap_err().to_string();
        assert!(
            e.contains("schemas.enable") && e.contains("maybe"),
            "the error names the key and the bad value: {e}"
        );
    }
}
