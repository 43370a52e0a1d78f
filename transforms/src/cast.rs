//! Kafka's `Cast$Key` / `Cast$Value`: casts the whole key/value (`spec=int64`)
//! or some of its fields (`spec=a:int64,b:string`) to another primitive
//! type: `int8`, `int16`, `int32`, `int64`, `float32`, `float64`, `boolean`,
//! `string`. Numbers narrow like Java's casts, booleans become 1/0, strings
//! are parsed; Decimal fields can be cast to numbers or strings, Date/Time/
//! Timestamp fields to strings (ISO-8601, UTC) or int64.

use std::sync::Arc;

use velocity_api::config::{ConfigReader, TypedConfig};
use velocity_api::schema::logical;
use velocity_api::{
    ConfigDef, ConfigKey, ConnectRecord, PluginDesc, RawConfig, Result, Schema, SchemaRef, Struct,
    Transform, Type, Value,
};

use crate::error::{data_err, read_config};
use crate::time::{DateFormat, MS_PER_DAY};
use crate::util::{
    copy_schema_basics, field_value, map_key, require_map, require_struct, required_list,
    SchemaCache, Side,
};

pub use keys::*;

/// The keys of Kafka's Cast, each declared once.
pub mod keys {
    use velocity_api::config::{ConfigKey, ConfigType::*, Importance::*};

    velocity_api::config_keys! {
        /// `spec`: `type` (the whole value) or `field:type,…` (required).
        SPEC = ConfigKey::new("spec", List, None, High, "List of fields and the type to cast them to of the form field1:type,field2:type to cast fields of Maps or Structs. A single type to cast the entire value. Valid types are int8, int16, int32, int64, float32, float64, boolean, and string.");
        /// `replace.null.with.default` (default true).
        REPLACE_NULL_WITH_DEFAULT = crate::util::REPLACE_NULL_WITH_DEFAULT;
    }
}

const PURPOSE: &str = "cast types";

/// What to cast: the whole value, or named fields.
#[derive(Debug, Clone)]
enum Spec {
    Whole(Type),
    Fields(Vec<(String, Type)>),
}

/// The typed configuration of Cast: a valid `spec`.
#[derive(Debug, Clone)]
pub struct CastConfig {
    spec: Spec,
    replace_null_with_default: bool,
}

impl TypedConfig for CastConfig {
    const KEYS: &'static [ConfigKey] = KEYS;

    fn read(r: &mut ConfigReader<'_>) -> CastConfig {
        let raw = r.string(&SPEC);
        let items = required_list(r, &SPEC);
        let spec = parse_spec(&raw, &items).unwrap_or_else(|rule| {
            r.fail(SPEC.name, rule);
            Spec::Fields(Vec::new())
        });
        CastConfig {
            spec,
            replace_null_with_default: r.bool(&REPLACE_NULL_WITH_DEFAULT),
        }
    }
}

/// The spec `raw` (split into `items`), or Kafka's message for its first
/// broken rule.
fn parse_spec(raw: &str, items: &[String]) -> std::result::Result<Spec, String> {
    let mut fields = Vec::new();
    let mut whole = None;
    for item in items {
        match item.split(':').collect::<Vec<_>>().as_slice() {
            [t] => {
                if items.len() > 1 {
                    return Err(format!("Invalid value {raw} for configuration spec: Cast transformations that specify a type to cast the entire value to may ony specify a single cast in their spec"));
                }
                whole = Some(parse_type(raw, t)?);
            }
            [f, t] => fields.push((f.trim().to_owned(), parse_type(raw, t)?)),
            _ => {
                return Err(format!(
                    "Invalid value {raw} for configuration spec: Invalid rename mapping: {item}"
                ))
            }
        }
    }
    Ok(match whole {
        Some(t) => Spec::Whole(t),
        None => Spec::Fields(fields),
    })
}

/// `org.apache.kafka.connect.transforms.Cast$Key` / `$Value`.
pub struct Cast {
    side: Side,
    spec: Spec,
    replace_null_with_default: bool,
    cache: SchemaCache,
}

fn parse_type(spec: &str, t: &str) -> std::result::Result<Type, String> {
    let t = t.trim();
    Ok(match t.to_ascii_lowercase().as_str() {
        "int8" => Type::Int8,
        "int16" => Type::Int16,
        "int32" => Type::Int32,
        "int64" => Type::Int64,
        "float32" => Type::Float32,
        "float64" => Type::Float64,
        "boolean" => Type::Boolean,
        "string" => Type::String,
        other @ ("bytes" | "array" | "map" | "struct") => {
            return Err(format!(
                "Invalid value {spec} for configuration spec: Cast transformation does not support casting to {}; supported types are {OUTPUT_TYPES}",
                other.to_ascii_uppercase()
            ))
        }
        _ => {
            return Err(format!(
                "Invalid value {spec} for configuration spec: Invalid type found in casting spec: {t}"
            ))
        }
    })
}

const OUTPUT_TYPES: &str = "[INT8, INT16, INT32, INT64, FLOAT32, FLOAT64, BOOLEAN, STRING]";
const INPUT_TYPES: &str = "[INT8, INT16, INT32, INT64, FLOAT32, FLOAT64, BOOLEAN, STRING, BYTES]";

/// Java's `Double.toString` / `Float.toString` shape: always a fraction
/// part, scientific notation outside [1e-3, 1e7).
pub fn java_float_string(v: f64, is_f32: bool) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        };
    }
    let a = v.abs();
    if a == 0.0 || (1e-3..1e7).contains(&a) {
        let s = if is_f32 {
            format!("{:?}", v as f32)
        } else {
            format!("{v:?}")
        };
        if s.contains('.') {
            s
        } else {
            format!("{s}.0")
        }
    } else {
        let s = if is_f32 {
            format!("{:e}", v as f32)
        } else {
            format!("{v:e}")
        };
        let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
        let m = if m.contains('.') {
            m.to_owned()
        } else {
            format!("{m}.0")
        };
        format!("{m}E{e}")
    }
}

/// The unscaled big-endian two's-complement bytes of a Decimal as f64 and string.
pub(crate) fn decimal_parts(bytes: &[u8], scale: i32) -> (f64, String) {
    let mut unscaled: i128 = if bytes.first().is_some_and(|b| b & 0x80 != 0) {
        -1
    } else {
        0
    };
    for b in bytes.iter().take(16) {
        unscaled = (unscaled << 8) | i128::from(*b);
    }
    let neg = unscaled < 0;
    let digits = unscaled.unsigned_abs().to_string();
    let s = if scale <= 0 {
        format!("{digits}{}", "0".repeat(scale.unsigned_abs() as usize))
    } else {
        let scale = scale as usize;
        let padded = format!("{digits:0>width$}", width = scale + 1);
        let (i, f) = padded.split_at(padded.len() - scale);
        format!("{i}.{f}")
    };
    let s = if neg { format!("-{s}") } else { s };
    (s.parse().unwrap_or(0.0), s)
}

/// Casts `value` (of schema `schema` when known) to `target`.
pub fn cast_value(schema: Option<&Schema>, value: &Value, target: Type) -> Result<Value> {
    if value.is_null() {
        return Ok(Value::Null);
    }
    let name = schema.and_then(|s| s.name.as_deref());
    // Logical types first.
    let value = match (name, value) {
        (Some(logical::DECIMAL), Value::Bytes(b)) => {
            let scale = schema
                .and_then(|s| s.parameter("scale"))
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            let (f, s) = decimal_parts(b, scale);
            if target == Type::String {
                return Ok(Value::String(s));
            }
            Value::Float64(f)
        }
        (Some(logical::TIMESTAMP | logical::DATE | logical::TIME), v) if target == Type::String => {
            let ms = match (name, v) {
                (Some(logical::DATE), Value::Int32(d)) => i64::from(*d) * MS_PER_DAY,
                (_, v) => v.as_i64().unwrap_or(0),
            };
            // Kafka's Values.dateFormatFor: chosen by the value, not the schema.
            let pattern = if ms < MS_PER_DAY {
                "HH:mm:ss.SSS'Z'"
            } else if ms % MS_PER_DAY == 0 {
                "yyyy-MM-dd"
            } else {
                "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'"
            };
            return Ok(Value::String(
                DateFormat::new(pattern).expect("valid").format(ms),
            ));
        }
        (_, v) => v.clone(),
    };
    let unsupported = |v: &Value| {
        data_err(format!(
            "Unexpected type in Cast transformation: {}",
            crate::util::java_class_of(v)
        ))
    };
    // Numeric view of the input.
    enum N {
        I(i64),
        F(f64),
    }
    let n = match &value {
        Value::Int8(v) => Some(N::I((*v).into())),
        Value::Int16(v) => Some(N::I((*v).into())),
        Value::Int32(v) => Some(N::I((*v).into())),
        Value::Int64(v) => Some(N::I(*v)),
        Value::Float32(v) => Some(N::F((*v).into())),
        Value::Float64(v) => Some(N::F(*v)),
        Value::Boolean(b) => Some(N::I(i64::from(*b))),
        _ => None,
    };
    let parse_err = |s: &str| {
        data_err(format!(
            "Value ({s}) was out of range for requested data type"
        ))
    };
    Ok(match target {
        Type::Int8 | Type::Int16 | Type::Int32 | Type::Int64 => {
            let i: i64 = match (&n, &value) {
                (Some(N::I(i)), _) => *i,
                (Some(N::F(f)), _) => *f as i64,
                (None, Value::String(s)) => s.trim().parse().map_err(|_| parse_err(s))?,
                _ => return Err(unsupported(&value)),
            };
            match target {
                Type::Int8 => Value::Int8(i as i8),
                Type::Int16 => Value::Int16(i as i16),
                Type::Int32 => Value::Int32(i as i32),
                _ => Value::Int64(i),
            }
        }
        Type::Float32 | Type::Float64 => {
            let f: f64 = match (&n, &value) {
                (Some(N::I(i)), _) => *i as f64,
                (Some(N::F(f)), _) => *f,
                (None, Value::String(s)) => s.trim().parse().map_err(|_| parse_err(s))?,
                _ => return Err(unsupported(&value)),
            };
            if target == Type::Float32 {
                Value::Float32(f as f32)
            } else {
                Value::Float64(f)
            }
        }
        Type::Boolean => match (&n, &value) {
            (Some(N::I(i)), _) => Value::Boolean(*i != 0),
            (Some(N::F(f)), _) => Value::Boolean(*f != 0.0),
            (None, Value::String(s)) => Value::Boolean(s.trim().eq_ignore_ascii_case("true")),
            _ => return Err(unsupported(&value)),
        },
        Type::String => Value::String(match &value {
            Value::String(s) => s.clone(),
            Value::Boolean(b) => b.to_string(),
            Value::Float32(f) => java_float_string(f64::from(*f), true),
            Value::Float64(f) => java_float_string(*f, false),
            Value::Bytes(b) => base64(b),
            v => match v.as_i64() {
                Some(i) => i.to_string(),
                None => return Err(unsupported(v)),
            },
        }),
        _ => return Err(unsupported(&value)),
    })
}

/// Standard base64 (Kafka casts bytes to string as base64).
fn base64(b: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(b.len().div_ceil(3) * 4);
    for c in b.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The schema of a cast field (`whole=false`: a fresh schema of the target
/// type) or of a whole-value cast (`whole=true`: Kafka copies the source's
/// name, version, doc and parameters — except, in Velocity, a logical type's
/// name, which would no longer describe the value).
fn cast_schema(source: &Schema, target: Type, whole: bool) -> Result<SchemaRef> {
    let mut s = Schema::new(target);
    if whole {
        let logical_name = matches!(
            source.name.as_deref(),
            Some(logical::DECIMAL | logical::DATE | logical::TIME | logical::TIMESTAMP)
        );
        if !logical_name {
            s = copy_schema_basics(source, s);
        }
    }
    s.optional = source.optional;
    if let Some(d) = &source.default {
        s.default = Some(cast_value(Some(source), d, target)?);
    }
    Ok(Arc::new(s))
}

fn check_castable(schema: &Schema) -> Result<()> {
    match schema.type_ {
        Type::Array | Type::Map | Type::Struct => Err(data_err(format!(
            "Cast transformation does not support casting from {}; supported types are {INPUT_TYPES}",
            schema.type_.name().to_uppercase()
        ))),
        _ => Ok(()),
    }
}

impl Cast {
    /// An unconfigured transform for `side`.
    pub fn new(side: Side) -> Cast {
        Cast {
            side,
            spec: Spec::Fields(Vec::new()),
            replace_null_with_default: true,
            cache: SchemaCache::default(),
        }
    }

    /// The keys Kafka's Cast defines.
    pub fn def() -> ConfigDef {
        CastConfig::config_def()
    }

    fn field_target(&self, name: &str) -> Option<Type> {
        match &self.spec {
            Spec::Fields(f) => f.iter().find(|(n, _)| n == name).map(|(_, t)| *t),
            Spec::Whole(_) => None,
        }
    }
}

impl Transform for Cast {
    fn configure(&mut self, config: &RawConfig) -> Result<()> {
        let c: CastConfig = read_config(config)?;
        self.spec = c.spec;
        self.replace_null_with_default = c.replace_null_with_default;
        Ok(())
    }

    fn apply(&mut self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>> {
        if self.side.value(&record).is_null() {
            return Ok(Some(record));
        }
        let (schema, value) = self.side.take(&mut record);
        let (new_schema, new_value) = match (&self.spec, schema) {
            (Spec::Whole(t), None) => (None, cast_value(None, &value, *t)?),
            (Spec::Whole(t), Some(s)) => {
                check_castable(&s)?;
                let t = *t;
                let ns = self.cache.get_or_try(&s, |s| cast_schema(s, t, true))?;
                (Some(ns), cast_value(Some(&s), &value, t)?)
            }
            (Spec::Fields(_), None) => {
                let entries = require_map(&value, PURPOSE)?;
                let mut out = Vec::with_capacity(entries.len());
                for (k, v) in entries {
                    let v = match self.field_target(&map_key(k)) {
                        Some(t) => cast_value(None, v, t)?,
                        None => v.clone(),
                    };
                    out.push((k.clone(), v));
                }
                // Kafka puts every spec field, so a missing one becomes null.
                if let Spec::Fields(fields) = &self.spec {
                    for (f, _) in fields {
                        if crate::util::map_get(&out, f).is_none() {
                            out.push((Value::String(f.clone()), Value::Null));
                        }
                    }
                }
                (None, Value::Map(out))
            }
            (Spec::Fields(_), Some(schema)) => {
                let s = require_struct(&value, PURPOSE)?;
                let mut cache = std::mem::take(&mut self.cache);
                let ns = cache.get_or_try(&schema, |schema| {
                    let mut b = copy_schema_basics(schema, Schema::struct_());
                    for f in &schema.fields {
                        match self.field_target(&f.name) {
                            Some(t) => {
                                check_castable(&f.schema)?;
                                b = b.field(f.name.clone(), cast_schema(&f.schema, t, false)?);
                            }
                            None => b = b.field(f.name.clone(), f.schema.clone()),
                        }
                    }
                    b.optional = schema.optional;
                    Ok(b.build())
                });
                self.cache = cache;
                let ns = ns?;
                let mut values = Vec::with_capacity(s.values.len());
                for f in &s.schema.fields {
                    let v = field_value(s, f.index, self.replace_null_with_default);
                    values.push(match self.field_target(&f.name) {
                        Some(t) => cast_value(Some(&f.schema), &v, t)?,
                        None => v,
                    });
                }
                let st = Struct {
                    schema: ns.clone(),
                    values,
                };
                (Some(ns), Value::Struct(st))
            }
        };
        self.side.put(&mut record, new_schema, new_value);
        Ok(Some(record))
    }

    fn config_def(&self) -> ConfigDef {
        Self::def()
    }
}

/// `Cast$Key` and `Cast$Value`.
pub fn plugins() -> Vec<PluginDesc> {
    vec![
        crate::transform(
            "org.apache.kafka.connect.transforms.Cast$Key",
            Cast::def,
            || Box::new(Cast::new(Side::Key)),
        ),
        crate::transform(
            "org.apache.kafka.connect.transforms.Cast$Value",
            Cast::def,
            || Box::new(Cast::new(Side::Value)),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;

    fn cast(spec: &str) -> Cast {
        let mut t = Cast::new(Side::Value);
        t.configure(&cfg(&[("spec", spec)])).unwrap();
        t
    }

    #[test]
    fn fields_with_schema() {
        let mut t = cast("id:string,price:int32");
        let out = t
            .apply(rec_value(
                Some(row_schema()),
                Value::Struct(row(7, "a", 2.9)),
            ))
            .unwrap()
            .unwrap();
        let s = out.value_schema.unwrap();
        assert_eq!(s.field_named("id").unwrap().schema.type_, Type::String);
        assert!(!s.field_named("id").unwrap().schema.optional);
        assert_eq!(s.field_named("price").unwrap().schema.type_, Type::Int32);
        assert!(s.field_named("price").unwrap().schema.optional);
        assert_eq!(s.name.as_deref(), Some("test.Value"));
        let v = out.value.as_struct().unwrap();
        assert_eq!(v.get("id"), Some(&Value::from("7")));
        assert_eq!(v.get("price"), Some(&Value::Int32(2)));
    }

    #[test]
    fn whole_value_and_schemaless() {
        let mut t = cast("int64");
        let out = t
            .apply(rec_value(Some(Schema::string().build()), Value::from("42")))
            .unwrap()
            .unwrap();
        assert_eq!(out.value, Value::Int64(42));
        assert_eq!(out.value_schema.unwrap().type_, Type::Int64);
        let mut t = cast("a:boolean,b:float64,c:string");
        let out = t
            .apply(rec_value(
                None,
                map(&[
                    ("a", 1.into()),
                    ("b", "1.5".into()),
                    ("c", Value::Float64(1.0)),
                ]),
            ))
            .unwrap()
            .unwrap();
        assert_eq!(
            out.value,
            map(&[
                ("a", true.into()),
                ("b", Value::Float64(1.5)),
                ("c", "1.0".into())
            ])
        );
    }

    #[test]
    fn decimal_and_errors() {
        let s = Arc::new(logical::decimal(2, None));
        let mut t = cast("string");
        let out = t
            .apply(rec_value(Some(s.clone()), Value::Bytes(vec![0x30, 0x39])))
            .unwrap()
            .unwrap();
        assert_eq!(out.value, Value::from("123.45"));
        let mut t = cast("float64");
        let out = t
            .apply(rec_value(Some(s), Value::Bytes(vec![0xff, 0x85])))
            .unwrap()
            .unwrap();
        assert_eq!(out.value, Value::Float64(-1.23));
        let e = Cast::new(Side::Value)
            .configure(&cfg(&[("spec", "a:nope")]))
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("Invalid type found in casting spec: nope"),
            "{e}"
        );
        let e = Cast::new(Side::Value)
            .configure(&cfg(&[("spec", "int8,a:int8")]))
            .unwrap_err();
        assert!(
            e.to_string().contains("may ony specify a single cast"),
            "{e}"
        );
        assert_eq!(java_float_string(1e7, false), "1.0E7");
        assert_eq!(java_float_string(0.5, true), "0.5");
    }
}
