//! `io.confluent.connect.avro.AvroConverter`: Connect data to Confluent's wire
//! format (magic byte 0, 4-byte big-endian schema id, Avro binary) and back,
//! registering or looking up schemas in a Schema Registry.
//!
//! Caches, both ways, so the registry sees one call per new schema and none
//! per record: Connect schema (by `Arc`, held so the address stays valid) →
//! prepared schema; (subject, Avro schema text) → id; id → decoding schema.

use std::collections::HashMap;
use std::io::Read as _;
use std::sync::{Arc, RwLock};

use apache_avro::Schema as AvroSchema;
use velocity_api::{ConnectError, Converter, RawConfig, Schema, SchemaRef, TypedConfig, Value};

use crate::config::AvroConverterConfig;
use crate::encode::encode;
use crate::error::AvroError;
use crate::registry::RegistryClient;
use crate::to_avro::avro_schema_json;
use crate::to_connect::{value_to_connect, ToConnect};

/// A Connect schema ready to write under one subject.
struct Prepared {
    topic: String,
    id: i32,
    /// With `use.latest.version` when the latest differs: (ours, latest) to
    /// re-encode each datum through schema resolution.
    resolve: Option<(AvroSchema, AvroSchema)>,
}

/// A registry schema ready to read.
struct Reading {
    avro: AvroSchema,
    connect: SchemaRef,
}

struct Inner {
    cfg: AvroConverterConfig,
    is_key: bool,
    client: RegistryClient,
    by_ptr: RwLock<HashMap<usize, (SchemaRef, Arc<Prepared>)>>,
    by_text: RwLock<HashMap<(String, String), Arc<Prepared>>>,
    by_id: RwLock<HashMap<i32, Arc<Reading>>>,
}

/// Confluent's AvroConverter (alias `avro`). Configure before use.
#[derive(Default)]
pub struct AvroConverter {
    inner: Option<Inner>,
}

impl AvroConverter {
    /// An unconfigured converter.
    pub fn new() -> Self {
        AvroConverter::default()
    }

    fn inner(&self) -> Result<&Inner, ConnectError> {
        self.inner
            .as_ref()
            .ok_or_else(|| ConnectError::fatal("AvroConverter used before configure()"))
    }
}

fn bounded_insert<K: std::hash::Hash + Eq, V>(map: &RwLock<HashMap<K, V>>, cap: usize, k: K, v: V) {
    if cap == 0 {
        return;
    }
    if let Ok(mut m) = map.write() {
        if m.len() >= cap {
            m.clear();
        }
        m.insert(k, v);
    }
}

/// The full name of the top-level Avro type (record name, else type name),
/// as RecordNameStrategy uses it.
fn record_name(schema: &Schema) -> String {
    match (&schema.name, schema.type_) {
        (Some(n), velocity_api::Type::Struct) => n.clone(),
        (None, velocity_api::Type::Struct) => "io.confluent.connect.avro.ConnectDefault".into(),
        _ => match schema.type_ {
            velocity_api::Type::Int8 | velocity_api::Type::Int16 | velocity_api::Type::Int32 => {
                "int".into()
            }
            velocity_api::Type::Int64 => "long".into(),
            velocity_api::Type::Float32 => "float".into(),
            velocity_api::Type::Float64 => "double".into(),
            velocity_api::Type::Boolean => "boolean".into(),
            velocity_api::Type::String => "string".into(),
            velocity_api::Type::Bytes => "bytes".into(),
            velocity_api::Type::Array => "array".into(),
            velocity_api::Type::Map => "map".into(),
            velocity_api::Type::Struct => "record".into(),
        },
    }
}

impl Inner {
    fn prepare(&self, topic: &str, schema: &Schema) -> Result<Arc<Prepared>, AvroError> {
        let text = avro_schema_json(schema, &self.cfg.mapping)?;
        let strategy = if self.is_key {
            self.cfg.key_strategy
        } else {
            self.cfg.value_strategy
        };
        let subject = strategy.subject(topic, self.is_key, &record_name(schema));
        let key = (subject, text);
        if let Some(p) = self.by_text.read().ok().and_then(|m| m.get(&key).cloned()) {
            if p.topic == topic {
                return Ok(p);
            }
        }
        let (subject, text) = &key;
        let mut resolve = None;
        let id = if self.cfg.auto_register {
            self.client.register(subject, text)?
        } else if self.cfg.use_latest_version {
            let latest = self.client.latest(subject)?;
            if self.cfg.latest_compatibility_strict {
                if let Some(why) = crate::compat::incompatibility(text, &latest.schema) {
                    return Err(AvroError::Registry(format!(
                        "The latest schema of subject \"{subject}\" (id {}) cannot read the record's schema: {why}; set latest.compatibility.strict=false or register a compatible version",
                        latest.id
                    )));
                }
            }
            let ours = crate::parse::parse_schema(text).map_err(|e| AvroError::Decode {
                message: format!(
                    "Velocity made an invalid Avro schema for subject \"{subject}\": {e}"
                ),
                source: Some(e),
            })?;
            let theirs =
                crate::parse::parse_schema(&latest.schema).map_err(|e| AvroError::Decode {
                    message: format!(
                        "the latest schema of subject \"{subject}\" is not valid Avro: {e}"
                    ),
                    source: Some(e),
                })?;
            if ours.canonical_form() != theirs.canonical_form() {
                resolve = Some((ours, theirs));
            }
            latest.id
        } else {
            self.client.lookup(subject, text)?.id
        };
        let p = Arc::new(Prepared {
            topic: topic.to_owned(),
            id,
            resolve,
        });
        bounded_insert(&self.by_text, self.cfg.cache_size, key, Arc::clone(&p));
        Ok(p)
    }

    fn prepared(
        &self,
        topic: &str,
        schema: &Schema,
        value: &Value,
    ) -> Result<Arc<Prepared>, AvroError> {
        // the struct value carries its schema's Arc: cache by it
        let arc = match value {
            Value::Struct(s) if std::ptr::eq(Arc::as_ptr(&s.schema), schema) => Some(&s.schema),
            _ => None,
        };
        if let Some(arc) = arc {
            let key = Arc::as_ptr(arc) as usize;
            if let Some((_, p)) = self.by_ptr.read().ok().and_then(|m| m.get(&key).cloned()) {
                if p.topic == topic {
                    return Ok(p);
                }
            }
            let p = self.prepare(topic, schema)?;
            bounded_insert(
                &self.by_ptr,
                self.cfg.cache_size,
                key,
                (Arc::clone(arc), Arc::clone(&p)),
            );
            return Ok(p);
        }
        self.prepare(topic, schema)
    }

    fn reading(&self, id: i32, topic: &str) -> Result<Arc<Reading>, AvroError> {
        if let Some(r) = self.by_id.read().ok().and_then(|m| m.get(&id).cloned()) {
            return Ok(r);
        }
        let text = self.client.by_id(id, topic)?;
        let avro = crate::parse::parse_schema(&text).map_err(|e| AvroError::Decode {
            message: format!("Schema {id} from the registry is not valid Avro: {e}"),
            source: Some(e),
        })?;
        let doc: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
            AvroError::data(format!("Schema {id} from the registry is not JSON: {e}"))
        })?;
        // Confluent falls back to the registry version when connect.version is absent
        let version = if doc.get("connect.version").is_none() && doc.is_object() {
            let strategy = if self.is_key {
                self.cfg.key_strategy
            } else {
                self.cfg.value_strategy
            };
            let name = match (
                doc.get("namespace").and_then(|n| n.as_str()),
                doc.get("name").and_then(|n| n.as_str()),
            ) {
                (Some(ns), Some(n)) if !n.contains('.') => format!("{ns}.{n}"),
                (_, Some(n)) => n.to_owned(),
                _ => doc
                    .get("type")
                    .and_then(|t| t.as_str())
                    .unwrap_or_default()
                    .to_owned(),
            };
            let subject = strategy.subject(topic, self.is_key, &name);
            self.client
                .lookup(&subject, &text)
                .ok()
                .and_then(|r| r.version)
        } else {
            None
        };
        let connect = ToConnect::new(&doc, &self.cfg.mapping).schema(&doc, version)?;
        let r = Arc::new(Reading { avro, connect });
        bounded_insert(&self.by_id, self.cfg.cache_size, id, Arc::clone(&r));
        Ok(r)
    }
}

impl Converter for AvroConverter {
    fn configure(&mut self, config: &RawConfig, is_key: bool) -> Result<(), ConnectError> {
        let cfg = AvroConverterConfig::from_raw(config).map_err(AvroError::from)?;
        let client = RegistryClient::new(&cfg)?;
        self.inner = Some(Inner {
            cfg,
            is_key,
            client,
            by_ptr: RwLock::new(HashMap::new()),
            by_text: RwLock::new(HashMap::new()),
            by_id: RwLock::new(HashMap::new()),
        });
        Ok(())
    }

    fn from_connect(
        &self,
        topic: &str,
        schema: Option<&Schema>,
        value: &Value,
    ) -> Result<Option<Vec<u8>>, ConnectError> {
        let inner = self.inner()?;
        if value.is_null() {
            return Ok(None);
        }
        let schema = schema.ok_or_else(|| {
            ConnectError::fatal(format!(
                "Failed to serialize Avro data from topic {topic}: schemaless data is not supported by Velocity's AvroConverter"
            ))
        })?;
        let wrap = |e: AvroError| {
            let kind = e.kind();
            ConnectError::Other {
                kind,
                message: format!("Failed to serialize Avro data from topic {topic}: {e}"),
                source: Some(Box::new(e)),
            }
        };
        let p = inner.prepared(topic, schema, value).map_err(wrap)?;
        let mut out = Vec::with_capacity(128);
        out.push(0);
        out.extend_from_slice(&p.id.to_be_bytes());
        let mut path = String::new();
        encode(schema, value, &inner.cfg.mapping, &mut path, &mut out).map_err(wrap)?;
        if let Some((ours, latest)) = &p.resolve {
            let mut body = &out[5..];
            let v = apache_avro::from_avro_datum(ours, &mut body, Some(latest)).map_err(|e| {
                wrap(AvroError::Decode {
                    message: format!("cannot resolve the record against the latest schema: {e}"),
                    source: Some(e),
                })
            })?;
            let bytes = apache_avro::to_avro_datum(latest, v).map_err(|e| {
                wrap(AvroError::Decode {
                    message: format!("cannot write the record with the latest schema: {e}"),
                    source: Some(e),
                })
            })?;
            out.truncate(5);
            out.extend_from_slice(&bytes);
        }
        Ok(Some(out))
    }

    fn to_connect(
        &self,
        topic: &str,
        bytes: Option<&[u8]>,
    ) -> Result<(Option<SchemaRef>, Value), ConnectError> {
        let inner = self.inner()?;
        let Some(bytes) = bytes else {
            return Ok((None, Value::Null));
        };
        let wrap = |e: AvroError| {
            let kind = e.kind();
            ConnectError::Other {
                kind,
                message: format!("Failed to deserialize data for topic {topic} to Avro: {e}"),
                source: Some(Box::new(e)),
            }
        };
        if bytes.len() < 5 || bytes[0] != 0 {
            return Err(wrap(AvroError::data("Unknown magic byte!")));
        }
        let id = i32::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]);
        let r = inner.reading(id, topic).map_err(wrap)?;
        let mut body = &bytes[5..];
        let v = apache_avro::from_avro_datum(&r.avro, &mut body, None).map_err(|e| {
            wrap(AvroError::Decode {
                message: format!("cannot decode a record with schema id {id}: {e}"),
                source: Some(e),
            })
        })?;
        let mut rest = [0u8; 1];
        if body.read(&mut rest).unwrap_or(0) > 0 {
            return Err(wrap(AvroError::data(format!(
                "bytes left after the datum with schema id {id}"
            ))));
        }
        let value = value_to_connect(&r.connect, v).map_err(wrap)?;
        Ok((Some(Arc::clone(&r.connect)), value))
    }
}
