//! Connect value → Avro binary, for the Avro schema [`crate::to_avro`] makes of
//! the same Connect schema (so union branch indexes follow the same rules:
//! `["null", T]`, `[T, "null"]` when the schema has a default, optional structs
//! `["null", record]`).
//!
//! As `AvroData.fromConnectData` reads struct fields through `Struct.get`, a
//! null field value with a schema default is written as the default. Values
//! are already in their physical form (a Decimal is its unscaled big-endian
//! bytes, a Date its days), so logical types need no conversion.

use velocity_api::{Schema, Type, Value};

use crate::error::AvroError;
use crate::to_avro::{enum_symbols, is_avro_map, is_enum, MappingOptions, AVRO_TYPE_UNION};

/// Appends Avro's zig-zag varint of `n`.
#[inline]
pub fn write_long(out: &mut Vec<u8>, n: i64) {
    let mut z = ((n << 1) ^ (n >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

#[inline]
fn write_bytes(out: &mut Vec<u8>, b: &[u8]) {
    write_long(out, b.len() as i64);
    out.extend_from_slice(b);
}

fn mismatch(path: &str, schema: &Schema, value: &Value) -> AvroError {
    AvroError::data(format!(
        "Invalid type for {:?}{}: got a {} value",
        schema.type_,
        if path.is_empty() {
            String::new()
        } else {
            format!(" field '{path}'")
        },
        kind(value)
    ))
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Int8(_) => "int8",
        Value::Int16(_) => "int16",
        Value::Int32(_) => "int32",
        Value::Int64(_) => "int64",
        Value::Float32(_) => "float32",
        Value::Float64(_) => "float64",
        Value::Boolean(_) => "boolean",
        Value::String(_) => "string",
        Value::Bytes(_) => "bytes",
        Value::Array(_) => "array",
        Value::Map(_) => "map",
        Value::Struct(_) => "struct",
    }
}

/// Writes `value` of `schema` (top level or a nested position that is not a
/// union member).
pub fn encode(
    schema: &Schema,
    value: &Value,
    opts: &MappingOptions,
    path: &mut String,
    out: &mut Vec<u8>,
) -> Result<(), AvroError> {
    if schema.type_ == Type::Struct && schema.is_named(AVRO_TYPE_UNION) {
        return encode_union_struct(schema, value, opts, path, out);
    }
    if schema.optional {
        let null_first = schema.type_ == Type::Struct || schema.default.is_none();
        return match (value, null_first) {
            (Value::Null, true) => {
                out.push(0);
                Ok(())
            }
            (Value::Null, false) => {
                out.push(2); // zig-zag 1
                Ok(())
            }
            (v, true) => {
                out.push(2);
                encode_base(schema, v, opts, path, out)
            }
            (v, false) => {
                out.push(0);
                encode_base(schema, v, opts, path, out)
            }
        };
    }
    if value.is_null() {
        return Err(AvroError::data(format!(
            "Found null value for non-optional schema{}",
            if path.is_empty() {
                String::new()
            } else {
                format!(" (field '{path}')")
            }
        )));
    }
    encode_base(schema, value, opts, path, out)
}

fn encode_union_struct(
    schema: &Schema,
    value: &Value,
    opts: &MappingOptions,
    path: &mut String,
    out: &mut Vec<u8>,
) -> Result<(), AvroError> {
    let offset = usize::from(schema.optional);
    if let Value::Struct(st) = value {
        for (i, f) in schema.fields.iter().enumerate() {
            if let Some(v) = st.values.get(f.index).filter(|v| !v.is_null()) {
                write_long(out, (i + offset) as i64);
                let mut member = (*f.schema).clone();
                member.optional = false;
                return encode_base(&member, v, opts, path, out);
            }
        }
    }
    if schema.optional {
        out.push(0);
        Ok(())
    } else {
        Err(AvroError::data("Found null value for a non-optional union"))
    }
}

fn encode_base(
    schema: &Schema,
    value: &Value,
    opts: &MappingOptions,
    path: &mut String,
    out: &mut Vec<u8>,
) -> Result<(), AvroError> {
    match (schema.type_, value) {
        (Type::Int8, Value::Int8(v)) => write_long(out, i64::from(*v)),
        (Type::Int16, Value::Int16(v)) => write_long(out, i64::from(*v)),
        (Type::Int32, Value::Int32(v)) => write_long(out, i64::from(*v)),
        (Type::Int64, Value::Int64(v)) => write_long(out, *v),
        (Type::Float32, Value::Float32(v)) => out.extend_from_slice(&v.to_le_bytes()),
        (Type::Float64, Value::Float64(v)) => out.extend_from_slice(&v.to_le_bytes()),
        (Type::Boolean, Value::Boolean(v)) => out.push(u8::from(*v)),
        (Type::String, Value::String(s)) => {
            if is_enum(schema, opts) {
                let i = enum_symbols(schema)
                    .iter()
                    .position(|x| x == s)
                    .ok_or_else(|| AvroError::data(format!("'{s}' is not a symbol of the enum")))?;
                write_long(out, i as i64);
            } else {
                write_bytes(out, s.as_bytes());
            }
        }
        (Type::Bytes, Value::Bytes(b)) => {
            if crate::to_avro::is_fixed(schema) {
                out.extend_from_slice(b);
            } else {
                write_bytes(out, b);
            }
        }
        (Type::Array, Value::Array(items)) => {
            let elem = schema
                .value_schema
                .as_deref()
                .ok_or_else(|| AvroError::data("array schema without an element schema"))?;
            if !items.is_empty() {
                write_long(out, items.len() as i64);
                for v in items {
                    encode(elem, v, opts, path, out)?;
                }
            }
            out.push(0);
        }
        (Type::Map, Value::Map(entries)) => {
            let (Some(k), Some(vs)) =
                (schema.key_schema.as_deref(), schema.value_schema.as_deref())
            else {
                return Err(AvroError::data("map schema without key and value schemas"));
            };
            if !entries.is_empty() {
                write_long(out, entries.len() as i64);
                let avro_map = is_avro_map(k, opts);
                for (key, v) in entries {
                    if avro_map {
                        match key {
                            Value::String(s) => write_bytes(out, s.as_bytes()),
                            other => return Err(mismatch(path, k, other)),
                        }
                    } else {
                        encode(k, key, opts, path, out)?;
                    }
                    encode(vs, v, opts, path, out)?;
                }
            }
            out.push(0);
        }
        (Type::Struct, Value::Struct(st)) => {
            let base = path.len();
            for f in &schema.fields {
                let mut v = st.values.get(f.index).unwrap_or(&Value::Null);
                if v.is_null() {
                    if let Some(d) = &f.schema.default {
                        v = d;
                    }
                }
                if base > 0 {
                    path.push('.');
                }
                path.push_str(&f.name);
                encode(&f.schema, v, opts, path, out)?;
                path.truncate(base);
            }
        }
        _ => return Err(mismatch(path, schema, value)),
    }
    Ok(())
}
