//! Kafka Connect values.
//!
//! Logical types travel in their physical representation, as they do on the
//! wire: a Decimal is [`Value::Bytes`] holding the big-endian two's-complement
//! unscaled integer (the scale is the schema's `scale` parameter), a Date is
//! [`Value::Int32`] days, a MicroTimestamp is [`Value::Int64`] microseconds,
//! and so on. Converters and sinks read the schema name to interpret them.

use crate::schema::SchemaRef;

/// A value of some Kafka Connect schema.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Absent value (only valid for optional schemas, or a tombstone).
    Null,
    /// int8.
    Int8(i8),
    /// int16.
    Int16(i16),
    /// int32.
    Int32(i32),
    /// int64.
    Int64(i64),
    /// float32.
    Float32(f32),
    /// float64.
    Float64(f64),
    /// boolean.
    Boolean(bool),
    /// string.
    String(String),
    /// bytes.
    Bytes(Vec<u8>),
    /// array.
    Array(Vec<Value>),
    /// map, in insertion order.
    Map(Vec<(Value, Value)>),
    /// struct.
    Struct(Struct),
}

impl Value {
    /// True for [`Value::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The struct inside, if this is one.
    pub fn as_struct(&self) -> Option<&Struct> {
        match self {
            Value::Struct(s) => Some(s),
            _ => None,
        }
    }

    /// The string inside, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// Any integer widened to i64.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Value::Int8(v) => Some(v.into()),
            Value::Int16(v) => Some(v.into()),
            Value::Int32(v) => Some(v.into()),
            Value::Int64(v) => Some(v),
            _ => None,
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.to_owned())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(s)
    }
}
impl From<i32> for Value {
    fn from(v: i32) -> Value {
        Value::Int32(v)
    }
}
impl From<i64> for Value {
    fn from(v: i64) -> Value {
        Value::Int64(v)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Value {
        Value::Boolean(v)
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::Null, Into::into)
    }
}

/// A struct value: one value per field of its schema, in field order.
#[derive(Debug, Clone, PartialEq)]
pub struct Struct {
    /// The struct schema; `values.len() == schema.fields.len()`.
    pub schema: SchemaRef,
    /// Field values, by field index.
    pub values: Vec<Value>,
}

impl Struct {
    /// A struct with every field set to null.
    pub fn new(schema: SchemaRef) -> Struct {
        let values = vec![Value::Null; schema.fields.len()];
        Struct { schema, values }
    }

    /// Sets field `name`; returns self for chaining. Unknown names are ignored
    /// in release builds and panic in debug builds (a programming error).
    pub fn put(mut self, name: &str, value: impl Into<Value>) -> Struct {
        self.set(name, value.into());
        self
    }

    /// Sets field `name` in place; returns false when the schema has no such field.
    pub fn set(&mut self, name: &str, value: Value) -> bool {
        match self.schema.field_named(name) {
            Some(f) => {
                let i = f.index;
                self.values[i] = value;
                true
            }
            None => {
                debug_assert!(false, "no field {name} in struct schema");
                false
            }
        }
    }

    /// The value of field `name`, or None when the schema has no such field.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.schema.field_named(name).map(|f| &self.values[f.index])
    }
}
