//! Kafka Connect schemas: the type, optionality, default, name, version, doc
//! and parameters of a value, exactly as `org.apache.kafka.connect.data.Schema`
//! carries them, plus the logical-type names Kafka Connect and Debezium use.
//!
//! Schemas are immutable once built and shared through [`SchemaRef`] (an
//! `Arc`), so a connector builds one schema per table version and every record
//! of that table points at it without copying.

use std::sync::Arc;

use crate::value::Value;

/// A shared, immutable schema.
pub type SchemaRef = Arc<Schema>;

/// The physical types of Kafka Connect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Type {
    /// 8-bit signed integer.
    Int8,
    /// 16-bit signed integer.
    Int16,
    /// 32-bit signed integer.
    Int32,
    /// 64-bit signed integer.
    Int64,
    /// IEEE 754 single precision.
    Float32,
    /// IEEE 754 double precision.
    Float64,
    /// true / false.
    Boolean,
    /// UTF-8 text.
    String,
    /// Raw bytes.
    Bytes,
    /// Ordered list of values sharing one value schema.
    Array,
    /// Key/value pairs with one key schema and one value schema.
    Map,
    /// Named fields, each with its own schema.
    Struct,
}

impl Type {
    /// The name Kafka Connect's JsonConverter writes for this type.
    pub fn name(self) -> &'static str {
        match self {
            Type::Int8 => "int8",
            Type::Int16 => "int16",
            Type::Int32 => "int32",
            Type::Int64 => "int64",
            Type::Float32 => "float",
            Type::Float64 => "double",
            Type::Boolean => "boolean",
            Type::String => "string",
            Type::Bytes => "bytes",
            Type::Array => "array",
            Type::Map => "map",
            Type::Struct => "struct",
        }
    }

    /// Parses a JsonConverter type name (the inverse of [`Type::name`]).
    pub fn from_name(name: &str) -> Option<Type> {
        Some(match name {
            "int8" => Type::Int8,
            "int16" => Type::Int16,
            "int32" => Type::Int32,
            "int64" => Type::Int64,
            "float" => Type::Float32,
            "double" => Type::Float64,
            "boolean" => Type::Boolean,
            "string" => Type::String,
            "bytes" => Type::Bytes,
            "array" => Type::Array,
            "map" => Type::Map,
            "struct" => Type::Struct,
            _ => return None,
        })
    }
}

/// One field of a struct schema.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// Field name, unique within the struct.
    pub name: String,
    /// Position in the struct, starting at 0; equals the index of the value in
    /// [`crate::Struct::values`].
    pub index: usize,
    /// The field's schema.
    pub schema: SchemaRef,
}

/// A Kafka Connect schema.
///
/// Parameters keep their insertion order, because the JsonConverter writes
/// them in that order and Velocity's output must match Kafka Connect's byte for
/// byte.
#[derive(Debug, Clone, PartialEq)]
pub struct Schema {
    /// Physical type.
    pub type_: Type,
    /// Whether `null` is a valid value.
    pub optional: bool,
    /// Default value, if any.
    pub default: Option<Value>,
    /// Logical or record name (e.g. `io.debezium.time.MicroTimestamp`).
    pub name: Option<String>,
    /// Schema version.
    pub version: Option<i32>,
    /// Documentation.
    pub doc: Option<String>,
    /// Parameters in insertion order (e.g. Decimal's `scale`).
    pub parameters: Option<Vec<(String, String)>>,
    /// Fields of a struct schema, in order; empty for other types.
    pub fields: Vec<Field>,
    /// Key schema of a map.
    pub key_schema: Option<SchemaRef>,
    /// Value schema of a map or element schema of an array.
    pub value_schema: Option<SchemaRef>,
}

impl Schema {
    /// A required schema of `type_` with nothing else set.
    pub fn new(type_: Type) -> Schema {
        Schema {
            type_,
            optional: false,
            default: None,
            name: None,
            version: None,
            doc: None,
            parameters: None,
            fields: Vec::new(),
            key_schema: None,
            value_schema: None,
        }
    }

    /// Required int8.
    pub fn int8() -> Schema {
        Schema::new(Type::Int8)
    }
    /// Required int16.
    pub fn int16() -> Schema {
        Schema::new(Type::Int16)
    }
    /// Required int32.
    pub fn int32() -> Schema {
        Schema::new(Type::Int32)
    }
    /// Required int64.
    pub fn int64() -> Schema {
        Schema::new(Type::Int64)
    }
    /// Required float32.
    pub fn float32() -> Schema {
        Schema::new(Type::Float32)
    }
    /// Required float64.
    pub fn float64() -> Schema {
        Schema::new(Type::Float64)
    }
    /// Required boolean.
    pub fn boolean() -> Schema {
        Schema::new(Type::Boolean)
    }
    /// Required string.
    pub fn string() -> Schema {
        Schema::new(Type::String)
    }
    /// Required bytes.
    pub fn bytes() -> Schema {
        Schema::new(Type::Bytes)
    }
    /// Required array of `elem`.
    pub fn array(elem: SchemaRef) -> Schema {
        Schema {
            value_schema: Some(elem),
            ..Schema::new(Type::Array)
        }
    }
    /// Required map from `key` to `value`.
    pub fn map(key: SchemaRef, value: SchemaRef) -> Schema {
        Schema {
            key_schema: Some(key),
            value_schema: Some(value),
            ..Schema::new(Type::Map)
        }
    }
    /// Required struct with no fields; add them with [`Schema::field`].
    pub fn struct_() -> Schema {
        Schema::new(Type::Struct)
    }

    /// Marks the schema optional (null allowed).
    pub fn optional(mut self) -> Schema {
        self.optional = true;
        self
    }
    /// Sets optionality explicitly.
    pub fn with_optional(mut self, optional: bool) -> Schema {
        self.optional = optional;
        self
    }
    /// Sets the name.
    pub fn named(mut self, name: impl Into<String>) -> Schema {
        self.name = Some(name.into());
        self
    }
    /// Sets the version.
    pub fn version(mut self, version: i32) -> Schema {
        self.version = Some(version);
        self
    }
    /// Sets the doc.
    pub fn doc(mut self, doc: impl Into<String>) -> Schema {
        self.doc = Some(doc.into());
        self
    }
    /// Sets the default value.
    pub fn default_value(mut self, value: Value) -> Schema {
        self.default = Some(value);
        self
    }
    /// Appends a parameter (kept in insertion order; a repeated key replaces
    /// the earlier value in place).
    pub fn param(mut self, key: impl Into<String>, value: impl Into<String>) -> Schema {
        let key = key.into();
        let value = value.into();
        let params = self.parameters.get_or_insert_with(Vec::new);
        match params.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => params.push((key, value)),
        }
        self
    }
    /// Appends a field to a struct schema.
    pub fn field(mut self, name: impl Into<String>, schema: impl Into<SchemaRef>) -> Schema {
        let index = self.fields.len();
        self.fields.push(Field {
            name: name.into(),
            index,
            schema: schema.into(),
        });
        self
    }
    /// Wraps the schema into a [`SchemaRef`].
    pub fn build(self) -> SchemaRef {
        Arc::new(self)
    }

    /// The field called `name`, if this is a struct schema that has one.
    pub fn field_named(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The value of parameter `key`.
    pub fn parameter(&self, key: &str) -> Option<&str> {
        self.parameters
            .as_ref()?
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// True when the schema carries the logical name `name`.
    pub fn is_named(&self, name: &str) -> bool {
        self.name.as_deref() == Some(name)
    }
}

/// Names and constructors of the logical types of Kafka Connect and Debezium.
///
/// Values of logical types travel in their physical representation (see
/// [`crate::value`]); the name tells converters and sinks how to read them.
pub mod logical {
    use super::Schema;

    /// Kafka Connect Decimal: bytes holding the big-endian two's-complement
    /// unscaled value; parameter `scale`.
    pub const DECIMAL: &str = "org.apache.kafka.connect.data.Decimal";
    /// Kafka Connect Date: int32 days since the epoch.
    pub const DATE: &str = "org.apache.kafka.connect.data.Date";
    /// Kafka Connect Time: int32 milliseconds since midnight.
    pub const TIME: &str = "org.apache.kafka.connect.data.Time";
    /// Kafka Connect Timestamp: int64 milliseconds since the epoch.
    pub const TIMESTAMP: &str = "org.apache.kafka.connect.data.Timestamp";

    /// Debezium Date: int32 days since the epoch.
    pub const DBZ_DATE: &str = "io.debezium.time.Date";
    /// Debezium Time: int32 milliseconds since midnight.
    pub const DBZ_TIME: &str = "io.debezium.time.Time";
    /// Debezium MicroTime: int64 microseconds since midnight.
    pub const DBZ_MICRO_TIME: &str = "io.debezium.time.MicroTime";
    /// Debezium NanoTime: int64 nanoseconds since midnight.
    pub const DBZ_NANO_TIME: &str = "io.debezium.time.NanoTime";
    /// Debezium Timestamp: int64 milliseconds since the epoch, no zone.
    pub const DBZ_TIMESTAMP: &str = "io.debezium.time.Timestamp";
    /// Debezium MicroTimestamp: int64 microseconds since the epoch, no zone.
    pub const DBZ_MICRO_TIMESTAMP: &str = "io.debezium.time.MicroTimestamp";
    /// Debezium NanoTimestamp: int64 nanoseconds since the epoch, no zone.
    pub const DBZ_NANO_TIMESTAMP: &str = "io.debezium.time.NanoTimestamp";
    /// Debezium ZonedTimestamp: ISO-8601 string with offset (UTC).
    pub const DBZ_ZONED_TIMESTAMP: &str = "io.debezium.time.ZonedTimestamp";
    /// Debezium ZonedTime: ISO-8601 time string with offset.
    pub const DBZ_ZONED_TIME: &str = "io.debezium.time.ZonedTime";
    /// Debezium MicroDuration: float64 microseconds.
    pub const DBZ_MICRO_DURATION: &str = "io.debezium.time.MicroDuration";
    /// Debezium Interval (string mode): ISO-8601 duration.
    pub const DBZ_INTERVAL: &str = "io.debezium.time.Interval";
    /// Debezium Year: int32.
    pub const DBZ_YEAR: &str = "io.debezium.time.Year";
    /// Debezium Json: string holding a JSON document.
    pub const DBZ_JSON: &str = "io.debezium.data.Json";
    /// Debezium Uuid: canonical string form.
    pub const DBZ_UUID: &str = "io.debezium.data.Uuid";
    /// Debezium Xml: string.
    pub const DBZ_XML: &str = "io.debezium.data.Xml";
    /// Debezium Enum: string; parameter `allowed` lists the labels.
    pub const DBZ_ENUM: &str = "io.debezium.data.Enum";
    /// Debezium EnumSet: comma-separated labels; parameter `allowed`.
    pub const DBZ_ENUM_SET: &str = "io.debezium.data.EnumSet";
    /// Debezium Bits: bytes, little-endian; parameter `length`.
    pub const DBZ_BITS: &str = "io.debezium.data.Bits";
    /// Debezium VariableScaleDecimal: struct {scale int32, value bytes}.
    pub const DBZ_VARIABLE_SCALE_DECIMAL: &str = "io.debezium.data.VariableScaleDecimal";
    /// Debezium Ltree: string.
    pub const DBZ_LTREE: &str = "io.debezium.data.Ltree";
    /// Debezium Geometry: struct {wkb bytes, srid int32}.
    pub const DBZ_GEOMETRY: &str = "io.debezium.data.geometry.Geometry";

    /// A Kafka Connect Decimal schema with `scale` and, as Debezium adds it,
    /// `connect.decimal.precision` when the precision is known.
    pub fn decimal(scale: i32, precision: Option<i32>) -> Schema {
        let s = Schema::bytes()
            .named(DECIMAL)
            .version(1)
            .param("scale", scale.to_string());
        match precision {
            Some(p) => s.param("connect.decimal.precision", p.to_string()),
            None => s,
        }
    }
}
