//! Connect schema → Avro schema, exactly as Confluent's `AvroData.fromConnectSchema`
//! (7.0) maps it, rendered as the JSON text Java's `Schema.toString()` writes
//! (same key order, named types written once and then referenced by name,
//! namespaces omitted where they equal the enclosing one), so the text Velocity
//! registers is the text Confluent's converter registers.
//!
//! The mapping: INT8/INT16 → `int` with `connect.type`; INT32 → `int`; INT64 →
//! `long`; FLOAT32/64 → `float`/`double`; STRING → `string` (an Avro `enum` with
//! `enhanced.avro.schema.support` when the parameters carry
//! `io.confluent.connect.avro.Enum`); BYTES → `bytes` (`fixed` with
//! `connect.fixed.size`), Decimal adding `scale`/`precision` and
//! `logicalType: decimal`; Date/Time/Timestamp adding `date`/`time-millis`/
//! `timestamp-millis`; ARRAY → `array`; MAP with required string keys → `map`,
//! other maps → array of `MapEntry` key/value records; STRUCT → `record` named by
//! the schema name (`io.confluent.connect.avro.ConnectDefault<N>` when unnamed).
//! With `connect.meta.data` (default) each non-union type carries `connect.doc`,
//! `connect.version`, `connect.parameters`, `connect.default`, `connect.name`
//! and `connect.type`. Optional schemas become unions: `["null", T]`, or
//! `[T, "null"]` when the schema has a non-null default (optional structs are
//! always `["null", record]`); a record field defaults to the schema's default,
//! else `null` when optional.

use std::fmt::Write as _;

use velocity_api::{Schema, Type, Value};

use crate::error::AvroError;
use crate::json::{write_json_string, write_number_f32, write_number_f64};

/// Namespace of Confluent's generated names.
pub const NAMESPACE: &str = "io.confluent.connect.avro";
/// Name prefix of unnamed structs.
pub const DEFAULT_SCHEMA_NAME: &str = "ConnectDefault";
/// Record name of a non-string-keyed map entry.
pub const MAP_ENTRY_TYPE_NAME: &str = "MapEntry";
/// Connect struct name that stands for an Avro union.
pub const AVRO_TYPE_UNION: &str = "io.confluent.connect.avro.Union";
/// Connect parameter that marks an Avro enum.
pub const AVRO_TYPE_ENUM: &str = "io.confluent.connect.avro.Enum";
/// Parameter carrying a record's Avro doc.
pub const AVRO_RECORD_DOC_PROP: &str = "io.confluent.connect.avro.record.doc";
/// Parameter prefix carrying a field's Avro doc.
pub const AVRO_FIELD_DOC_PREFIX_PROP: &str = "io.confluent.connect.avro.field.doc.";
/// Parameter flagging that a field default came from the Avro field.
pub const AVRO_FIELD_DEFAULT_FLAG_PROP: &str = "io.confluent.connect.avro.field.default";
/// Parameter carrying a fixed size.
pub const CONNECT_AVRO_FIXED_SIZE_PROP: &str = "connect.fixed.size";
/// Parameter carrying a decimal precision.
pub const CONNECT_AVRO_DECIMAL_PRECISION_PROP: &str = "connect.decimal.precision";
/// Precision used when a Decimal has none.
pub const CONNECT_AVRO_DECIMAL_PRECISION_DEFAULT: i32 = 64;
/// Internal type marker of a named MapEntry record.
pub const CONNECT_INTERNAL_TYPE_NAME: &str = "connect.internal.type";

const DECIMAL: &str = "org.apache.kafka.connect.data.Decimal";
const DATE: &str = "org.apache.kafka.connect.data.Date";
const TIME: &str = "org.apache.kafka.connect.data.Time";
const TIMESTAMP: &str = "org.apache.kafka.connect.data.Timestamp";

/// The `AvroData` options that change the mapping.
#[derive(Debug, Clone, Copy)]
pub struct MappingOptions {
    /// `connect.meta.data` (default true): write the `connect.*` properties.
    pub connect_meta_data: bool,
    /// `enhanced.avro.schema.support` (default false): enums and record docs round-trip.
    pub enhanced_schema_support: bool,
    /// `scrub.invalid.names` (default false): replace characters Avro names refuse.
    pub scrub_invalid_names: bool,
    /// `allow.optional.map.keys` (default false): optional string keys still make an Avro map.
    pub allow_optional_map_keys: bool,
}

impl Default for MappingOptions {
    fn default() -> Self {
        MappingOptions {
            connect_meta_data: true,
            enhanced_schema_support: false,
            scrub_invalid_names: false,
            allow_optional_map_keys: false,
        }
    }
}

/// True when a map with this key schema is an Avro `map` (else an array of entries).
pub fn is_avro_map(key: &Schema, opts: &MappingOptions) -> bool {
    key.type_ == Type::String && (!key.optional || opts.allow_optional_map_keys)
}

/// True when `schema` is a Connect schema for an Avro `fixed`.
pub fn is_fixed(schema: &Schema) -> bool {
    schema.type_ == Type::Bytes && schema.parameter(CONNECT_AVRO_FIXED_SIZE_PROP).is_some()
}

/// True when `schema` is a string schema mapped to an Avro enum.
pub fn is_enum(schema: &Schema, opts: &MappingOptions) -> bool {
    opts.enhanced_schema_support
        && schema.type_ == Type::String
        && schema.parameter(AVRO_TYPE_ENUM).is_some()
}

/// The Avro enum symbols of an enhanced enum schema, in parameter order.
pub fn enum_symbols(schema: &Schema) -> Vec<&str> {
    let prefix = format!("{AVRO_TYPE_ENUM}.");
    schema
        .parameters
        .iter()
        .flatten()
        .filter(|(k, _)| k.starts_with(&prefix))
        .map(|(_, v)| v.as_str())
        .collect()
}

/// Splits a full name into (namespace, name) at the last dot.
fn split_name(full: &str) -> (Option<&str>, &str) {
    match full.rfind('.') {
        Some(i) => (Some(&full[..i]), &full[i + 1..]),
        None => (None, full),
    }
}

/// Confluent's `doScrubName`: a name with characters outside `[A-Za-z0-9_]`
/// (or starting with a digit) is URL-encoded, every other character then
/// turned into `_`, and prefixed with `x` when it starts with a digit.
pub fn scrub_name(name: &str) -> String {
    let ok = |c: char| c.is_ascii_alphanumeric() || c == '_';
    if name.is_empty() || (name.chars().all(ok) && !name.starts_with(|c: char| c.is_ascii_digit()))
    {
        return name.to_owned();
    }
    let mut encoded = String::new();
    for b in name.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'*' | b'_' => {
                encoded.push(b as char)
            }
            b' ' => encoded.push('+'),
            _ => {
                let _ = write!(encoded, "%{b:02X}");
            }
        }
    }
    if encoded.starts_with(|c: char| c.is_ascii_digit()) {
        encoded.insert(0, 'x');
    }
    encoded
        .chars()
        .map(|c| if ok(c) { c } else { '_' })
        .collect()
}

/// State of one conversion: names already written (so later uses are
/// references) and the counter of unnamed structs.
struct Ctx<'o> {
    opts: &'o MappingOptions,
    /// (full name, the Connect schema it was made from, required form)
    defined: Vec<(String, Schema)>,
    name_index: usize,
}

/// The Avro schema, as JSON text, that Confluent's `AvroData` makes of `schema`.
pub fn avro_schema_json(schema: &Schema, opts: &MappingOptions) -> Result<String, AvroError> {
    let mut ctx = Ctx {
        opts,
        defined: Vec::new(),
        name_index: 0,
    };
    let mut out = String::with_capacity(256);
    write_schema(&mut ctx, schema, false, None, &mut out)?;
    Ok(out)
}

fn required(schema: &Schema) -> Schema {
    let mut s = schema.clone();
    s.optional = false;
    s
}

/// Writes `schema`; `space` is the enclosing namespace (Java's `names.space`).
fn write_schema(
    ctx: &mut Ctx<'_>,
    schema: &Schema,
    ignore_optional: bool,
    space: Option<&str>,
    out: &mut String,
) -> Result<(), AvroError> {
    let is_union_struct = schema.type_ == Type::Struct && schema.is_named(AVRO_TYPE_UNION);
    if is_union_struct {
        out.push('[');
        let mut first = true;
        if schema.optional {
            out.push_str("\"null\"");
            first = false;
        }
        for f in &schema.fields {
            if !first {
                out.push(',');
            }
            first = false;
            write_schema(ctx, &required(&f.schema), true, space, out)?;
        }
        out.push(']');
        return Ok(());
    }
    if schema.type_ == Type::Struct && schema.optional && !ignore_optional {
        out.push_str("[\"null\",");
        write_schema(ctx, &required(schema), false, space, out)?;
        out.push(']');
        return Ok(());
    }
    let optional = schema.optional && !ignore_optional;
    if optional {
        if schema.default.is_some() {
            out.push('[');
        } else {
            out.push_str("[\"null\",");
        }
    }
    write_base(ctx, schema, space, out)?;
    if optional {
        if schema.default.is_some() {
            out.push_str(",\"null\"]");
        } else {
            out.push(']');
        }
    }
    Ok(())
}

/// The `connect.*` and logical-type properties of a non-union type, in the
/// order `AvroData` adds them (after any type-specific ones).
fn write_props(
    ctx: &Ctx<'_>,
    schema: &Schema,
    connect_type: Option<&str>,
    out: &mut String,
) -> Result<(), AvroError> {
    if ctx.opts.connect_meta_data {
        if let Some(doc) = &schema.doc {
            out.push_str(",\"connect.doc\":");
            write_json_string(out, doc);
        }
        if let Some(v) = schema.version {
            let _ = write!(out, ",\"connect.version\":{v}");
        }
        if let Some(params) = &schema.parameters {
            if !params.is_empty() {
                out.push_str(",\"connect.parameters\":{");
                // Java's ObjectNode keeps one entry per key (the last value)
                let mut seen: Vec<&str> = Vec::new();
                for (i, (k, _)) in params.iter().enumerate() {
                    if seen.contains(&k.as_str()) {
                        continue;
                    }
                    seen.push(k);
                    let v = &params
                        .iter()
                        .rev()
                        .find(|(k2, _)| k2 == k)
                        .unwrap_or(&params[i])
                        .1;
                    if seen.len() > 1 {
                        out.push(',');
                    }
                    write_json_string(out, k);
                    out.push(':');
                    write_json_string(out, v);
                }
                out.push('}');
            }
        }
        if let Some(d) = &schema.default {
            if schema.parameter(AVRO_FIELD_DEFAULT_FLAG_PROP).is_none() {
                out.push_str(",\"connect.default\":");
                write_default(ctx, schema, d, out)?;
            }
        }
        if let Some(name) = &schema.name {
            out.push_str(",\"connect.name\":");
            write_json_string(out, name);
        }
        if let Some(t) = connect_type {
            let _ = write!(out, ",\"connect.type\":\"{t}\"");
        }
    }
    if let Some(name) = schema.name.as_deref() {
        if name.eq_ignore_ascii_case(DECIMAL) {
            out.push_str(",\"logicalType\":\"decimal\"");
        } else if name.eq_ignore_ascii_case(TIME) {
            out.push_str(",\"logicalType\":\"time-millis\"");
        } else if name.eq_ignore_ascii_case(TIMESTAMP) {
            out.push_str(",\"logicalType\":\"timestamp-millis\"");
        } else if name.eq_ignore_ascii_case(DATE) {
            out.push_str(",\"logicalType\":\"date\"");
        }
    }
    for (k, v) in schema.parameters.iter().flatten() {
        if k.starts_with("avro") {
            out.push(',');
            write_json_string(out, k);
            out.push(':');
            write_json_string(out, v);
        }
    }
    Ok(())
}

fn decimal_scale_precision(schema: &Schema) -> Result<(i32, i32), AvroError> {
    let scale = schema
        .parameter("scale")
        .map(|s| s.parse::<i32>())
        .transpose()
        .map_err(|_| AvroError::data("Decimal schema has a non-integer scale parameter"))?
        .unwrap_or(0);
    let precision = schema
        .parameter(CONNECT_AVRO_DECIMAL_PRECISION_PROP)
        .map(|s| s.parse::<i32>())
        .transpose()
        .map_err(|_| {
            AvroError::data("Decimal schema has a non-integer connect.decimal.precision parameter")
        })?
        .unwrap_or(CONNECT_AVRO_DECIMAL_PRECISION_DEFAULT);
    Ok((scale, precision))
}

/// The name (namespace, name) of a record/enum/fixed: the schema name, or the
/// next `ConnectDefault<N>`.
fn name_or_default(ctx: &mut Ctx<'_>, name: Option<&str>) -> (Option<String>, String) {
    match name {
        Some(n) => {
            let n = if ctx.opts.scrub_invalid_names {
                let (ns, local) = split_name(n);
                let local = scrub_name(local);
                match ns {
                    Some(ns) => {
                        let ns: Vec<String> = ns.split('.').map(scrub_name).collect();
                        format!("{}.{local}", ns.join("."))
                    }
                    None => local,
                }
            } else {
                n.to_owned()
            };
            let (ns, local) = split_name(&n);
            (ns.map(str::to_owned), local.to_owned())
        }
        None => {
            ctx.name_index += 1;
            let suffix = if ctx.name_index > 1 {
                ctx.name_index.to_string()
            } else {
                String::new()
            };
            (
                Some(NAMESPACE.to_owned()),
                format!("{DEFAULT_SCHEMA_NAME}{suffix}"),
            )
        }
    }
}

fn full_name(ns: &Option<String>, name: &str) -> String {
    match ns {
        Some(ns) if !ns.is_empty() => format!("{ns}.{name}"),
        _ => name.to_owned(),
    }
}

/// Writes a reference to an already written named type, as Java does.
fn write_ref(ns: &Option<String>, name: &str, space: Option<&str>, out: &mut String) {
    let short = ns.as_deref() == space && ns.is_some();
    if short {
        write_json_string(out, name);
    } else {
        write_json_string(out, &full_name(ns, name));
    }
}

/// Writes `"name"` and, when it differs from the enclosing one, `"namespace"`.
fn write_name(ns: &Option<String>, name: &str, space: Option<&str>, out: &mut String) {
    out.push_str(",\"name\":");
    write_json_string(out, name);
    match (ns.as_deref(), space) {
        (Some(n), s) if Some(n) != s => {
            out.push_str(",\"namespace\":");
            write_json_string(out, n);
        }
        (None, Some(_)) => out.push_str(",\"namespace\":\"\""),
        _ => {}
    }
}

/// A named type already written under `full` for an equal schema.
fn already_defined(ctx: &Ctx<'_>, schema: &Schema) -> Option<String> {
    ctx.defined
        .iter()
        .find(|(_, s)| s == schema)
        .map(|(n, _)| n.clone())
}

fn write_base(
    ctx: &mut Ctx<'_>,
    schema: &Schema,
    space: Option<&str>,
    out: &mut String,
) -> Result<(), AvroError> {
    let primitive = |out: &mut String, ctx: &Ctx<'_>, avro: &str, ct: Option<&str>| {
        let start = out.len();
        let _ = write!(out, "{{\"type\":\"{avro}\"");
        let props_start = out.len();
        write_props(ctx, schema, ct, out)?;
        if out.len() == props_start {
            out.truncate(start);
            let _ = write!(out, "\"{avro}\"");
        } else {
            out.push('}');
        }
        Ok::<(), AvroError>(())
    };
    match schema.type_ {
        Type::Int8 => primitive(out, ctx, "int", Some("int8")),
        Type::Int16 => primitive(out, ctx, "int", Some("int16")),
        Type::Int32 => primitive(out, ctx, "int", None),
        Type::Int64 => primitive(out, ctx, "long", None),
        Type::Float32 => primitive(out, ctx, "float", None),
        Type::Float64 => primitive(out, ctx, "double", None),
        Type::Boolean => primitive(out, ctx, "boolean", None),
        Type::String if is_enum(schema, ctx.opts) => {
            let enum_name = schema
                .parameter(AVRO_TYPE_ENUM)
                .unwrap_or_default()
                .to_owned();
            let (ns, name) = split_name(&enum_name);
            let ns = ns.map(str::to_owned);
            let full = full_name(&ns, name);
            if ctx.defined.iter().any(|(n, _)| *n == full) {
                write_ref(&ns, name, space, out);
                return Ok(());
            }
            ctx.defined.push((full, required(schema)));
            out.push_str("{\"type\":\"enum\"");
            write_name(&ns, name, space, out);
            if let Some(doc) =
                schema.parameter(&format!("io.confluent.connect.avro.enum.doc.{name}"))
            {
                out.push_str(",\"doc\":");
                write_json_string(out, doc);
            }
            out.push_str(",\"symbols\":[");
            for (i, s) in enum_symbols(schema).iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_string(out, s);
            }
            out.push(']');
            if let Some(d) =
                schema.parameter(&format!("io.confluent.connect.avro.enum.default.{name}"))
            {
                out.push_str(",\"default\":");
                write_json_string(out, d);
            }
            write_props(ctx, schema, None, out)?;
            out.push('}');
            Ok(())
        }
        Type::String => primitive(out, ctx, "string", None),
        Type::Bytes => {
            let decimal = schema
                .name
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(DECIMAL));
            if is_fixed(schema) {
                let (ns, name) = name_or_default(ctx, schema.name.as_deref());
                let full = full_name(&ns, &name);
                if ctx.defined.iter().any(|(n, _)| *n == full) {
                    write_ref(&ns, &name, space, out);
                    return Ok(());
                }
                ctx.defined.push((full, required(schema)));
                out.push_str("{\"type\":\"fixed\"");
                write_name(&ns, &name, space, out);
                let _ = write!(
                    out,
                    ",\"size\":{}",
                    schema
                        .parameter(CONNECT_AVRO_FIXED_SIZE_PROP)
                        .unwrap_or("0")
                );
            } else {
                out.push_str("{\"type\":\"bytes\"");
            }
            if decimal {
                let (scale, precision) = decimal_scale_precision(schema)?;
                let _ = write!(out, ",\"scale\":{scale},\"precision\":{precision}");
            }
            let before = out.len();
            write_props(ctx, schema, None, out)?;
            if !is_fixed(schema) && !decimal && out.len() == before {
                let start = out.len() - "{\"type\":\"bytes\"".len();
                out.truncate(start);
                out.push_str("\"bytes\"");
            } else {
                out.push('}');
            }
            Ok(())
        }
        Type::Array => {
            let elem = schema
                .value_schema
                .as_deref()
                .ok_or_else(|| AvroError::data("array schema without an element schema"))?;
            out.push_str("{\"type\":\"array\",\"items\":");
            write_schema(ctx, elem, false, space, out)?;
            write_props(ctx, schema, None, out)?;
            out.push('}');
            Ok(())
        }
        Type::Map => {
            let (Some(key), Some(value)) =
                (schema.key_schema.as_deref(), schema.value_schema.as_deref())
            else {
                return Err(AvroError::data("map schema without key and value schemas"));
            };
            if is_avro_map(key, ctx.opts) {
                out.push_str("{\"type\":\"map\",\"values\":");
                write_schema(ctx, value, false, space, out)?;
            } else {
                out.push_str("{\"type\":\"array\",\"items\":");
                let (ns, name) = match schema.name.as_deref() {
                    None => (Some(NAMESPACE.to_owned()), MAP_ENTRY_TYPE_NAME.to_owned()),
                    Some(n) => name_or_default(ctx, Some(n)),
                };
                let full = full_name(&ns, &name);
                if ctx.defined.iter().any(|(n, _)| *n == full) {
                    write_ref(&ns, &name, space, out);
                } else {
                    ctx.defined.push((full, required(schema)));
                    out.push_str("{\"type\":\"record\"");
                    write_name(&ns, &name, space, out);
                    out.push_str(",\"fields\":[");
                    let inner = ns.clone();
                    write_field(ctx, "key", key, None, inner.as_deref(), out)?;
                    out.push(',');
                    write_field(ctx, "value", value, None, inner.as_deref(), out)?;
                    out.push(']');
                    if schema.name.is_some() {
                        let _ = write!(
                            out,
                            ",\"{CONNECT_INTERNAL_TYPE_NAME}\":\"{MAP_ENTRY_TYPE_NAME}\""
                        );
                    }
                    out.push('}');
                }
            }
            write_props(ctx, schema, None, out)?;
            out.push('}');
            Ok(())
        }
        Type::Struct => {
            let req = required(schema);
            if let Some(full) = already_defined(ctx, &req) {
                let (ns, name) = split_name(&full);
                write_ref(&ns.map(str::to_owned), name, space, out);
                return Ok(());
            }
            let (ns, name) = name_or_default(ctx, schema.name.as_deref());
            let full = full_name(&ns, &name);
            if schema.name.is_some() && ctx.defined.iter().any(|(n, _)| *n == full) {
                write_ref(&ns, &name, space, out);
                return Ok(());
            }
            ctx.defined.push((full, req));
            out.push_str("{\"type\":\"record\"");
            write_name(&ns, &name, space, out);
            if let Some(doc) = schema.parameter(AVRO_RECORD_DOC_PROP) {
                out.push_str(",\"doc\":");
                write_json_string(out, doc);
            }
            out.push_str(",\"fields\":[");
            let inner = ns.clone();
            for (i, f) in schema.fields.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let name = if ctx.opts.scrub_invalid_names {
                    scrub_name(&f.name)
                } else {
                    f.name.clone()
                };
                let doc = schema
                    .parameter(&format!("{AVRO_FIELD_DOC_PREFIX_PROP}{}", f.name))
                    .map(str::to_owned);
                write_field(ctx, &name, &f.schema, doc.as_deref(), inner.as_deref(), out)?;
            }
            out.push(']');
            write_props(ctx, schema, None, out)?;
            out.push('}');
            Ok(())
        }
    }
}

/// Writes one record field: name, type, doc, default (the schema default, or
/// null for an optional schema; none when Avro would refuse the default).
fn write_field(
    ctx: &mut Ctx<'_>,
    name: &str,
    schema: &Schema,
    doc: Option<&str>,
    space: Option<&str>,
    out: &mut String,
) -> Result<(), AvroError> {
    out.push_str("{\"name\":");
    write_json_string(out, name);
    out.push_str(",\"type\":");
    write_schema(ctx, schema, false, space, out)?;
    if let Some(doc) = doc {
        out.push_str(",\"doc\":");
        write_json_string(out, doc);
    }
    match &schema.default {
        // an optional struct is ["null", record]: Avro refuses a non-null default
        Some(_) if schema.type_ == Type::Struct && schema.optional => {}
        Some(d) => {
            out.push_str(",\"default\":");
            write_default(ctx, schema, d, out)?;
        }
        None if schema.optional => out.push_str(",\"default\":null"),
        None => {}
    }
    out.push('}');
    Ok(())
}

/// A default value as `AvroData.defaultValueFromConnect` renders it (bytes as
/// an ISO-8859-1 string, maps as objects or `[key, value]` pairs).
fn write_default(
    ctx: &Ctx<'_>,
    schema: &Schema,
    value: &Value,
    out: &mut String,
) -> Result<(), AvroError> {
    match value {
        Value::Null => out.push_str("null"),
        Value::Int8(v) => {
            let _ = write!(out, "{v}");
        }
        Value::Int16(v) => {
            let _ = write!(out, "{v}");
        }
        Value::Int32(v) => {
            let _ = write!(out, "{v}");
        }
        Value::Int64(v) => {
            let _ = write!(out, "{v}");
        }
        Value::Float32(v) => write_number_f32(out, *v),
        Value::Float64(v) => write_number_f64(out, *v),
        Value::Boolean(v) => out.push_str(if *v { "true" } else { "false" }),
        Value::String(s) => write_json_string(out, s),
        Value::Bytes(b) => {
            let s: String = b.iter().map(|&c| c as char).collect();
            write_json_string(out, &s);
        }
        Value::Array(items) => {
            let elem = schema.value_schema.as_deref();
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                match elem {
                    Some(e) => write_default(ctx, e, v, out)?,
                    None => out.push_str("null"),
                }
            }
            out.push(']');
        }
        Value::Map(entries) => {
            let (Some(k), Some(vs)) =
                (schema.key_schema.as_deref(), schema.value_schema.as_deref())
            else {
                return Err(AvroError::data("map default without key/value schemas"));
            };
            if is_avro_map(k, ctx.opts) {
                out.push('{');
                for (i, (key, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_json_string(out, key.as_str().unwrap_or_default());
                    out.push(':');
                    write_default(ctx, vs, v, out)?;
                }
                out.push('}');
            } else {
                out.push('[');
                for (i, (key, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push('[');
                    write_default(ctx, k, key, out)?;
                    out.push(',');
                    write_default(ctx, vs, v, out)?;
                    out.push(']');
                }
                out.push(']');
            }
        }
        Value::Struct(st) => {
            let union = schema.is_named(AVRO_TYPE_UNION);
            if !union {
                out.push('{');
            }
            for (i, f) in schema.fields.iter().enumerate() {
                let v = st.values.get(f.index).unwrap_or(&Value::Null);
                let v = match (v, &f.schema.default) {
                    (Value::Null, Some(d)) => d,
                    _ => v,
                };
                if union {
                    return write_default(ctx, &f.schema, v, out);
                }
                if i > 0 {
                    out.push(',');
                }
                write_json_string(out, &f.name);
                out.push(':');
                write_default(ctx, &f.schema, v, out)?;
            }
            if !union {
                out.push('}');
            }
        }
    }
    Ok(())
}
