//! Avro → Connect, as Confluent's `AvroData.toConnectSchema`/`toConnectData`
//! (7.0): the Connect schema is rebuilt from the Avro schema JSON (its
//! `connect.name`, `connect.version`, `connect.parameters`, `connect.default`,
//! `connect.doc`, `connect.type` properties and logical types), so a sink sees
//! the schema the source had; the datum is decoded by the `apache-avro` crate
//! with the writer's schema and then mapped onto that Connect schema.

use std::collections::HashMap;
use std::sync::Arc;

use apache_avro::types::Value as AvroValue;
use serde_json::Value as Json;
use velocity_api::{Schema, SchemaRef, Struct, Type, Value};

use crate::error::AvroError;
use crate::to_avro::{
    MappingOptions, AVRO_FIELD_DEFAULT_FLAG_PROP, AVRO_FIELD_DOC_PREFIX_PROP, AVRO_RECORD_DOC_PROP,
    AVRO_TYPE_ENUM, AVRO_TYPE_UNION, CONNECT_AVRO_DECIMAL_PRECISION_DEFAULT,
    CONNECT_AVRO_DECIMAL_PRECISION_PROP, CONNECT_AVRO_FIXED_SIZE_PROP, CONNECT_INTERNAL_TYPE_NAME,
    MAP_ENTRY_TYPE_NAME, NAMESPACE,
};

const PRIMITIVES: &[&str] = &[
    "null", "boolean", "int", "long", "float", "double", "bytes", "string",
];

/// Named types of a schema document by full name, for resolving references.
struct Names<'a> {
    by_name: HashMap<String, (&'a Json, Option<String>)>,
}

fn full_name(name: &str, ns: Option<&str>) -> String {
    if name.contains('.') {
        return name.to_owned();
    }
    match ns {
        Some(ns) if !ns.is_empty() => format!("{ns}.{name}"),
        _ => name.to_owned(),
    }
}

fn collect<'a>(j: &'a Json, space: Option<&str>, names: &mut Names<'a>) {
    match j {
        Json::Array(members) => members.iter().for_each(|m| collect(m, space, names)),
        Json::Object(o) => {
            let t = o.get("type").and_then(Json::as_str).unwrap_or_default();
            match t {
                "record" | "error" | "enum" | "fixed" => {
                    let name = o.get("name").and_then(Json::as_str).unwrap_or_default();
                    let ns = match o.get("namespace").and_then(Json::as_str) {
                        Some(n) => Some(n.to_owned()),
                        None if name.contains('.') => {
                            name.rsplit_once('.').map(|(n, _)| n.to_owned())
                        }
                        None => space.map(str::to_owned),
                    };
                    let full = full_name(name, ns.as_deref());
                    names.by_name.insert(full, (j, ns.clone()));
                    if let Some(Json::Array(fields)) = o.get("fields") {
                        for f in fields {
                            if let Some(ft) = f.get("type") {
                                collect(ft, ns.as_deref(), names);
                            }
                        }
                    }
                }
                "array" => {
                    if let Some(i) = o.get("items") {
                        collect(i, space, names)
                    }
                }
                "map" => {
                    if let Some(v) = o.get("values") {
                        collect(v, space, names)
                    }
                }
                _ => {
                    if let Some(inner @ (Json::Object(_) | Json::Array(_))) = o.get("type") {
                        collect(inner, space, names)
                    }
                }
            }
        }
        _ => {}
    }
}

/// Converts Avro schemas to Connect schemas.
pub struct ToConnect<'a> {
    opts: &'a MappingOptions,
    names: Names<'a>,
}

impl<'a> ToConnect<'a> {
    /// Prepares the conversion of the schema document `doc`.
    pub fn new(doc: &'a Json, opts: &'a MappingOptions) -> Self {
        let mut names = Names {
            by_name: HashMap::new(),
        };
        collect(doc, None, &mut names);
        ToConnect { opts, names }
    }

    /// The Connect schema of the top-level Avro schema `doc`; `version` is the
    /// registry's version, used when the schema has no `connect.version`.
    pub fn schema(&self, doc: &'a Json, version: Option<i32>) -> Result<SchemaRef, AvroError> {
        Ok(Arc::new(self.convert(doc, None, false, None, version)?))
    }

    fn resolve(
        &self,
        j: &'a Json,
        space: Option<&str>,
    ) -> Result<(&'a Json, Option<String>), AvroError> {
        match j {
            Json::String(s) if !PRIMITIVES.contains(&s.as_str()) => {
                let key = full_name(s, space);
                self.names
                    .by_name
                    .get(&key)
                    .or_else(|| self.names.by_name.get(s))
                    .map(|(j, ns)| (*j, ns.clone()))
                    .ok_or_else(|| AvroError::data(format!("Unknown Avro type name {s}")))
            }
            other => Ok((other, space.map(str::to_owned))),
        }
    }

    fn convert(
        &self,
        j: &'a Json,
        space: Option<&str>,
        force_optional: bool,
        field_default: Option<&Json>,
        version: Option<i32>,
    ) -> Result<Schema, AvroError> {
        let (j, space) = self.resolve(j, space)?;
        let space = space.as_deref();
        if let Json::Array(members) = j {
            return self.union(members, space);
        }
        let (t, obj) = match j {
            Json::String(s) => (s.as_str(), None),
            Json::Object(o) => match o.get("type") {
                Some(Json::String(s)) => (s.as_str(), Some(o)),
                Some(inner) => {
                    return self.convert(inner, space, force_optional, field_default, version)
                }
                None => return Err(AvroError::data("Avro schema object without \"type\"")),
            },
            _ => return Err(AvroError::data(format!("Invalid Avro schema: {j}"))),
        };
        let prop = |k: &str| obj.and_then(|o| o.get(k));
        let prop_str = |k: &str| prop(k).and_then(Json::as_str);
        let logical = prop_str("logicalType");
        let mut s = match t {
            "boolean" => Schema::boolean(),
            "bytes" | "fixed" => {
                let mut s = if logical.is_some_and(|l| l.eq_ignore_ascii_case("decimal")) {
                    let scale = prop("scale").and_then(Json::as_i64).unwrap_or(0);
                    let mut d = Schema::bytes()
                        .named("org.apache.kafka.connect.data.Decimal")
                        .version(1)
                        .param("scale", scale.to_string());
                    if let Some(p) = prop("precision") {
                        let p = p.as_i64().ok_or_else(|| {
                            AvroError::data("precision property must be a JSON Integer.")
                        })?;
                        if p != i64::from(CONNECT_AVRO_DECIMAL_PRECISION_DEFAULT) {
                            d = d.param(CONNECT_AVRO_DECIMAL_PRECISION_PROP, p.to_string());
                        }
                    }
                    d
                } else {
                    Schema::bytes()
                };
                if t == "fixed" {
                    let size = prop("size").and_then(Json::as_i64).unwrap_or(0);
                    s = s.param(CONNECT_AVRO_FIXED_SIZE_PROP, size.to_string());
                }
                s
            }
            "double" => Schema::float64(),
            "float" => Schema::float32(),
            "int" => match (prop_str("connect.type"), logical) {
                (_, Some(l)) if l.eq_ignore_ascii_case("date") => Schema::int32()
                    .named("org.apache.kafka.connect.data.Date")
                    .version(1),
                (_, Some(l)) if l.eq_ignore_ascii_case("time-millis") => Schema::int32()
                    .named("org.apache.kafka.connect.data.Time")
                    .version(1),
                (_, Some(_)) | (None, None) => Schema::int32(),
                (Some("int8"), None) => Schema::int8(),
                (Some("int16"), None) => Schema::int16(),
                (Some(other), None) => {
                    return Err(AvroError::data(format!(
                        "Connect type annotation {other} for Avro int field is not int8 or int16"
                    )))
                }
            },
            "long" => {
                if logical.is_some_and(|l| l.eq_ignore_ascii_case("timestamp-millis")) {
                    Schema::int64()
                        .named("org.apache.kafka.connect.data.Timestamp")
                        .version(1)
                } else {
                    Schema::int64()
                }
            }
            "string" => Schema::string(),
            "array" => {
                let items = prop("items").ok_or_else(|| AvroError::data("array without items"))?;
                let (ij, ins) = self.resolve(items, space)?;
                if is_map_entry(ij, ins.as_deref()) {
                    let fields = ij
                        .get("fields")
                        .and_then(Json::as_array)
                        .cloned()
                        .unwrap_or_default();
                    let field = |n: &str| {
                        fields
                            .iter()
                            .position(|f| f.get("name").and_then(Json::as_str) == Some(n))
                    };
                    let (Some(ki), Some(vi)) = (field("key"), field("value")) else {
                        return Err(AvroError::data("Found map encoded as array of key-value pairs, but array elements do not match the expected format."));
                    };
                    let fields = ij
                        .get("fields")
                        .and_then(Json::as_array)
                        .ok_or_else(|| AvroError::data("map entry without fields"))?;
                    let k = self.convert(&fields[ki]["type"], ins.as_deref(), false, None, None)?;
                    let v = self.convert(&fields[vi]["type"], ins.as_deref(), false, None, None)?;
                    Schema::map(Arc::new(k), Arc::new(v))
                } else {
                    Schema::array(Arc::new(self.convert(items, space, false, None, None)?))
                }
            }
            "map" => {
                let values = prop("values").ok_or_else(|| AvroError::data("map without values"))?;
                Schema::map(
                    Arc::new(Schema::string()),
                    Arc::new(self.convert(values, space, false, None, None)?),
                )
            }
            "record" | "error" => {
                let o = obj.ok_or_else(|| AvroError::data("record without fields"))?;
                let ns = own_namespace(o, space);
                let mut s = Schema::struct_();
                if self.opts.connect_meta_data {
                    if let Some(doc) = o.get("doc").and_then(Json::as_str) {
                        s = s.param(AVRO_RECORD_DOC_PROP, doc);
                    }
                }
                for f in o
                    .get("fields")
                    .and_then(Json::as_array)
                    .into_iter()
                    .flatten()
                {
                    let name = f.get("name").and_then(Json::as_str).unwrap_or_default();
                    if self.opts.connect_meta_data {
                        if let Some(doc) = f.get("doc").and_then(Json::as_str) {
                            s = s.param(format!("{AVRO_FIELD_DOC_PREFIX_PROP}{name}"), doc);
                        }
                    }
                    let ft = f
                        .get("type")
                        .ok_or_else(|| AvroError::data("field without type"))?;
                    let fs = self.convert(ft, ns.as_deref(), false, f.get("default"), None)?;
                    s = s.field(name, fs);
                }
                s
            }
            "enum" => {
                let o = obj.ok_or_else(|| AvroError::data("enum without symbols"))?;
                let ns = own_namespace(o, space);
                let name = o.get("name").and_then(Json::as_str).unwrap_or_default();
                let mut s = Schema::string();
                if self.opts.connect_meta_data {
                    if let Some(doc) = o.get("doc").and_then(Json::as_str) {
                        s = s.param(format!("io.confluent.connect.avro.enum.doc.{name}"), doc);
                    }
                    if let Some(d) = o.get("default").and_then(Json::as_str) {
                        s = s.param(format!("io.confluent.connect.avro.enum.default.{name}"), d);
                    }
                }
                s = s.param(AVRO_TYPE_ENUM, full_name(name, ns.as_deref()));
                for sym in o
                    .get("symbols")
                    .and_then(Json::as_array)
                    .into_iter()
                    .flatten()
                {
                    let sym = sym.as_str().unwrap_or_default();
                    s = s.param(format!("{AVRO_TYPE_ENUM}.{sym}"), sym);
                }
                s
            }
            "null" => {
                return Err(AvroError::data(
                    "Standalone null schemas are not supported by this converter",
                ))
            }
            other => {
                return Err(AvroError::data(format!(
                    "Couldn't translate unsupported schema type {other}."
                )))
            }
        };
        if self.opts.connect_meta_data {
            if let Some(doc) = prop_str("connect.doc") {
                s.doc = Some(doc.to_owned());
            }
        }
        let v = match prop("connect.version") {
            Some(v) => Some(
                v.as_i64()
                    .ok_or_else(|| AvroError::data(format!("Invalid Connect version found: {v}")))?
                    as i32,
            ),
            None => version,
        };
        if let Some(v) = v.filter(|v| *v >= 0) {
            s.version = Some(v);
        }
        if self.opts.connect_meta_data {
            if let Some(params) = prop("connect.parameters") {
                let params = params.as_object().ok_or_else(|| {
                    AvroError::data(format!(
                        "Expected JSON object for schema parameters but found: {params}"
                    ))
                })?;
                for (k, v) in params {
                    let v = v.as_str().ok_or_else(|| {
                        AvroError::data(format!(
                            "Expected schema parameter values to be strings but found: {v}"
                        ))
                    })?;
                    set_param(&mut s, k, v);
                }
            }
        }
        if let Some(o) = obj {
            for (k, v) in o {
                if k.starts_with("avro") {
                    let text = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                    set_param(&mut s, k, &text);
                }
            }
        }
        let connect_default = prop("connect.default");
        let default_json = match field_default {
            Some(d) => {
                if self.opts.connect_meta_data && connect_default.is_none() {
                    set_param(&mut s, AVRO_FIELD_DEFAULT_FLAG_PROP, "true");
                }
                Some(d)
            }
            None => connect_default,
        };
        if let Some(d) = default_json {
            if let Ok(v) = default_from_json(&s, d) {
                if !v.is_null() {
                    s.default = Some(v);
                }
            }
        }
        let name = match prop_str("connect.name") {
            Some(n) => Some(n.to_owned()),
            None if matches!(t, "record" | "error" | "enum" | "fixed") => {
                let o = obj.expect("named types are objects");
                let n = o.get("name").and_then(Json::as_str).unwrap_or_default();
                Some(full_name(n, own_namespace(o, space).as_deref()))
            }
            None => None,
        };
        if let Some(n) = name.filter(|n| !n.starts_with(&format!("{NAMESPACE}.ConnectDefault"))) {
            s.name = Some(n);
        }
        if force_optional {
            s.optional = true;
        }
        Ok(s)
    }

    fn union(&self, members: &'a [Json], space: Option<&str>) -> Result<Schema, AvroError> {
        let is_null = |m: &Json| m.as_str() == Some("null");
        if members.len() == 2 && members.iter().any(is_null) {
            let other = members.iter().find(|m| !is_null(m)).expect("two members");
            return self.convert(other, space, true, None, None);
        }
        let mut s = Schema::struct_().named(AVRO_TYPE_UNION);
        for m in members {
            if is_null(m) {
                s.optional = true;
                continue;
            }
            let (mj, _) = self.resolve(m, space)?;
            let name = member_field_name(mj);
            let fs = self.convert(m, space, true, None, None)?;
            s = s.field(name, fs);
        }
        Ok(s)
    }
}

fn own_namespace(o: &serde_json::Map<String, Json>, space: Option<&str>) -> Option<String> {
    let name = o.get("name").and_then(Json::as_str).unwrap_or_default();
    match o.get("namespace").and_then(Json::as_str) {
        Some(n) => Some(n.to_owned()),
        None if name.contains('.') => name.rsplit_once('.').map(|(n, _)| n.to_owned()),
        None => space.map(str::to_owned),
    }
}

fn member_field_name(j: &Json) -> String {
    match j {
        Json::String(s) => s.clone(),
        Json::Object(o) => match o.get("type").and_then(Json::as_str) {
            Some("record" | "enum" | "fixed") => o
                .get("name")
                .and_then(Json::as_str)
                .unwrap_or_default()
                .to_owned(),
            Some(t) => t.to_owned(),
            None => String::new(),
        },
        _ => String::new(),
    }
}

fn is_map_entry(j: &Json, ns: Option<&str>) -> bool {
    let Some(o) = j.as_object() else { return false };
    if o.get("type").and_then(Json::as_str) != Some("record") {
        return false;
    }
    let name = o.get("name").and_then(Json::as_str).unwrap_or_default();
    (full_name(name, own_namespace(o, ns).as_deref())
        == format!("{NAMESPACE}.{MAP_ENTRY_TYPE_NAME}"))
        || o.get(CONNECT_INTERNAL_TYPE_NAME).and_then(Json::as_str) == Some(MAP_ENTRY_TYPE_NAME)
}

/// Sets a parameter, replacing an existing value in place (Java's LinkedHashMap).
fn set_param(s: &mut Schema, k: &str, v: &str) {
    let params = s.parameters.get_or_insert_with(Vec::new);
    match params.iter_mut().find(|(pk, _)| pk == k) {
        Some(p) => p.1 = v.to_owned(),
        None => params.push((k.to_owned(), v.to_owned())),
    }
}

/// A default value (Avro JSON form) as a Connect value of `schema`.
fn default_from_json(schema: &Schema, j: &Json) -> Result<Value, AvroError> {
    let bad = || AvroError::data(format!("Invalid default {j} for {:?}", schema.type_));
    if j.is_null() {
        return Ok(Value::Null);
    }
    Ok(match schema.type_ {
        Type::Int8 => Value::Int8(j.as_i64().ok_or_else(bad)? as i8),
        Type::Int16 => Value::Int16(j.as_i64().ok_or_else(bad)? as i16),
        Type::Int32 => Value::Int32(j.as_i64().ok_or_else(bad)? as i32),
        Type::Int64 => Value::Int64(j.as_i64().ok_or_else(bad)?),
        Type::Float32 => Value::Float32(j.as_f64().ok_or_else(bad)? as f32),
        Type::Float64 => Value::Float64(j.as_f64().ok_or_else(bad)?),
        Type::Boolean => Value::Boolean(j.as_bool().ok_or_else(bad)?),
        Type::String => Value::String(j.as_str().ok_or_else(bad)?.to_owned()),
        Type::Bytes => Value::Bytes(
            j.as_str()
                .ok_or_else(bad)?
                .chars()
                .map(|c| c as u32 as u8)
                .collect(),
        ),
        Type::Array => {
            let elem = schema.value_schema.as_deref().ok_or_else(bad)?;
            Value::Array(
                j.as_array()
                    .ok_or_else(bad)?
                    .iter()
                    .map(|x| default_from_json(elem, x))
                    .collect::<Result<_, _>>()?,
            )
        }
        Type::Map => {
            let (k, v) = (
                schema.key_schema.as_deref().ok_or_else(bad)?,
                schema.value_schema.as_deref().ok_or_else(bad)?,
            );
            match j {
                Json::Object(o) => Value::Map(
                    o.iter()
                        .map(|(key, x)| Ok((Value::String(key.clone()), default_from_json(v, x)?)))
                        .collect::<Result<_, AvroError>>()?,
                ),
                Json::Array(pairs) => Value::Map(
                    pairs
                        .iter()
                        .map(|p| {
                            let p = p.as_array().filter(|p| p.len() == 2).ok_or_else(bad)?;
                            Ok((default_from_json(k, &p[0])?, default_from_json(v, &p[1])?))
                        })
                        .collect::<Result<_, AvroError>>()?,
                ),
                _ => return Err(bad()),
            }
        }
        Type::Struct => {
            let o = j.as_object().ok_or_else(bad)?;
            let arc = Arc::new(schema.clone());
            let mut st = Struct::new(arc);
            for f in &schema.fields {
                if let Some(x) = o.get(&f.name) {
                    st.values[f.index] = default_from_json(&f.schema, x)?;
                }
            }
            Value::Struct(st)
        }
    })
}

/// The Connect value of a decoded Avro datum of `schema`.
pub fn value_to_connect(schema: &SchemaRef, v: AvroValue) -> Result<Value, AvroError> {
    let bad = |v: &AvroValue| {
        AvroError::data(format!(
            "Avro value {v:?} does not fit Connect type {:?}",
            schema.type_
        ))
    };
    let v = match v {
        AvroValue::Union(_, inner) => {
            if schema.type_ == Type::Struct && schema.is_named(AVRO_TYPE_UNION) {
                return union_to_connect(schema, *inner);
            }
            *inner
        }
        other => other,
    };
    Ok(match (schema.type_, v) {
        (_, AvroValue::Null) => Value::Null,
        (Type::Int8, AvroValue::Int(i)) => Value::Int8(i as i8),
        (Type::Int16, AvroValue::Int(i)) => Value::Int16(i as i16),
        (Type::Int32, AvroValue::Int(i) | AvroValue::Date(i) | AvroValue::TimeMillis(i)) => {
            Value::Int32(i)
        }
        (
            Type::Int64,
            AvroValue::Long(i)
            | AvroValue::TimestampMillis(i)
            | AvroValue::TimestampMicros(i)
            | AvroValue::TimeMicros(i)
            | AvroValue::LocalTimestampMillis(i)
            | AvroValue::LocalTimestampMicros(i),
        ) => Value::Int64(i),
        (Type::Float32, AvroValue::Float(f)) => Value::Float32(f),
        (Type::Float64, AvroValue::Double(f)) => Value::Float64(f),
        (Type::Boolean, AvroValue::Boolean(b)) => Value::Boolean(b),
        (Type::String, AvroValue::String(s)) => Value::String(s),
        (Type::String, AvroValue::Enum(_, s)) => Value::String(s),
        (Type::String, AvroValue::Uuid(u)) => Value::String(u.to_string()),
        (Type::Bytes, AvroValue::Bytes(b) | AvroValue::Fixed(_, b)) => Value::Bytes(b),
        (Type::Bytes, AvroValue::Decimal(d)) => Value::Bytes(
            Vec::<u8>::try_from(&d).map_err(|e| AvroError::data(format!("decimal: {e}")))?,
        ),
        (Type::Array, AvroValue::Array(items)) => {
            let elem = schema
                .value_schema
                .as_ref()
                .ok_or_else(|| AvroError::data("array schema without element schema"))?;
            Value::Array(
                items
                    .into_iter()
                    .map(|x| value_to_connect(elem, x))
                    .collect::<Result<_, _>>()?,
            )
        }
        (Type::Map, AvroValue::Map(m)) => {
            let vs = schema
                .value_schema
                .as_ref()
                .ok_or_else(|| AvroError::data("map schema without value schema"))?;
            let mut entries: Vec<(Value, Value)> = m
                .into_iter()
                .map(|(k, x)| Ok((Value::String(k), value_to_connect(vs, x)?)))
                .collect::<Result<_, AvroError>>()?;
            entries.sort_by(|a, b| a.0.as_str().cmp(&b.0.as_str()));
            Value::Map(entries)
        }
        (Type::Map, AvroValue::Array(items)) => {
            let (Some(ks), Some(vs)) = (schema.key_schema.as_ref(), schema.value_schema.as_ref())
            else {
                return Err(AvroError::data("map schema without key/value schemas"));
            };
            let mut entries = Vec::with_capacity(items.len());
            for it in items {
                let AvroValue::Record(fields) = it else {
                    return Err(bad(&it));
                };
                let mut k = Value::Null;
                let mut v = Value::Null;
                for (n, x) in fields {
                    if n == "key" {
                        k = value_to_connect(ks, x)?;
                    } else if n == "value" {
                        v = value_to_connect(vs, x)?;
                    }
                }
                entries.push((k, v));
            }
            Value::Map(entries)
        }
        (Type::Struct, AvroValue::Record(fields)) => {
            let mut st = Struct::new(Arc::clone(schema));
            for (i, (_, x)) in fields.into_iter().enumerate() {
                if let Some(f) = schema.fields.get(i) {
                    st.values[f.index] = value_to_connect(&f.schema, x)?;
                }
            }
            Value::Struct(st)
        }
        (_, other) => return Err(bad(&other)),
    })
}

fn union_to_connect(schema: &SchemaRef, v: AvroValue) -> Result<Value, AvroError> {
    if matches!(v, AvroValue::Null) {
        return Ok(Value::Null);
    }
    let mut st = Struct::new(Arc::clone(schema));
    let want = match &v {
        AvroValue::Record(_) | AvroValue::Enum(..) | AvroValue::Fixed(..) => None,
        AvroValue::Int(_) | AvroValue::Date(_) | AvroValue::TimeMillis(_) => {
            Some(&[Type::Int32, Type::Int8, Type::Int16][..])
        }
        AvroValue::Long(_) | AvroValue::TimestampMillis(_) => Some(&[Type::Int64][..]),
        AvroValue::Float(_) => Some(&[Type::Float32][..]),
        AvroValue::Double(_) => Some(&[Type::Float64][..]),
        AvroValue::Boolean(_) => Some(&[Type::Boolean][..]),
        AvroValue::String(_) => Some(&[Type::String][..]),
        AvroValue::Bytes(_) | AvroValue::Decimal(_) => Some(&[Type::Bytes][..]),
        AvroValue::Array(_) => Some(&[Type::Array][..]),
        AvroValue::Map(_) => Some(&[Type::Map][..]),
        _ => None,
    };
    let idx = schema
        .fields
        .iter()
        .position(|f| want.is_none_or(|w| w.contains(&f.schema.type_)))
        .ok_or_else(|| AvroError::data("union value matches no union member"))?;
    let f = &schema.fields[idx];
    st.values[f.index] = value_to_connect(&f.schema, v)?;
    Ok(Value::Struct(st))
}
