//! Debezium's `io.debezium.transforms.ExtractNewRecordState` ("event
//! flattening"): replaces a change event envelope by its `after` state.
//!
//! * `delete.tombstone.handling.mode` (Debezium 3 default `tombstone`):
//!   `drop` drops deletes and tombstones; `tombstone` turns a delete into a
//!   tombstone (null value, the row schema kept) and drops the connector's
//!   own tombstone; `rewrite` emits the `before` state with `__deleted=true`
//!   (and `__deleted=false` on other events) and drops tombstones;
//!   `rewrite-with-tombstone` is `rewrite` keeping tombstones;
//!   `delete-to-tombstone` turns deletes into tombstones and keeps tombstones.
//! * `add.fields` (`op,table,lsn,source.ts_ms` → `__op`, `__table`, `__lsn`,
//!   `__source_ts_ms`; prefix `add.fields.prefix`, default `__`): `op`,
//!   `ts_ms`, `ts_us`, `ts_ns` come from the envelope, other names from
//!   `source`, `struct.field` from that struct. Added fields are optional
//!   copies of the source field's schema.
//! * `add.headers` (same syntax, prefix `add.headers.prefix`, default `__`).
//! * `drop.fields.header.name`: drop the value (and with
//!   `drop.fields.from.key=true` key) fields listed in that header; with
//!   `drop.fields.keep.schema.compatible=true` (default) only optional fields.
//! * `route.by.field`: route to the topic named by a field of the row.
//!
//! Truncate events (`op=t`) are dropped; records that are not envelopes
//! (heartbeats, schema changes) pass unchanged.

use velocity_api::config::{ConfigReader, TypedConfig};
use velocity_api::{
    config_choice, ConfigDef, ConfigKey, ConnectRecord, Header, RawConfig, Result, Schema,
    SchemaRef, Struct, Transform, Value,
};

use super::is_envelope;
use crate::error::{data_err, read_config};
use crate::util::{copy_schema_basics, optional_copy, SchemaCache};

config_choice! {
    /// How deletes and tombstones are handled (`delete.tombstone.handling.mode`).
    pub enum DeleteMode {
        /// Drop deletes and tombstones.
        Drop = "drop",
        /// Delete → tombstone; tombstones dropped (Debezium 3 default).
        Tombstone = "tombstone",
        /// Delete → `before` with `__deleted=true`; tombstones dropped.
        Rewrite = "rewrite",
        /// As `Rewrite`, tombstones kept.
        RewriteWithTombstone = "rewrite-with-tombstone",
        /// Delete → tombstone; tombstones kept.
        DeleteToTombstone = "delete-to-tombstone",
    }
}

pub use keys::*;

/// The keys of Debezium's ExtractNewRecordState that Velocity implements,
/// each declared once.
pub mod keys {
    use super::DeleteMode;
    use velocity_api::config::{ConfigKey, ConfigType::*, Importance::*};

    velocity_api::config_keys! {
        /// `delete.tombstone.handling.mode` (default `tombstone`).
        DELETE_TOMBSTONE_HANDLING_MODE = ConfigKey::new("delete.tombstone.handling.mode", String, Some("tombstone"), Medium, "How to handle delete records and tombstones: drop, tombstone, rewrite, rewrite-with-tombstone, delete-to-tombstone.").one_of(DeleteMode::NAMES);
        /// `add.fields`: change event fields added to the value.
        ADD_FIELDS = ConfigKey::new("add.fields", List, Some(""), Low, "Adds these fields of the change event (op, ts_ms, or source/transaction fields such as table, lsn, source.ts_ms) to the value, prefixed with add.fields.prefix.");
        /// `add.fields.prefix` (default `__`).
        ADD_FIELDS_PREFIX = ConfigKey::new("add.fields.prefix", String, Some("__"), Low, "Prefix of the added fields.");
        /// `add.headers`: change event fields added as headers.
        ADD_HEADERS = ConfigKey::new("add.headers", List, Some(""), Low, "Adds these fields of the change event as headers, prefixed with add.headers.prefix.");
        /// `add.headers.prefix` (default `__`).
        ADD_HEADERS_PREFIX = ConfigKey::new("add.headers.prefix", String, Some("__"), Low, "Prefix of the added headers.");
        /// `drop.fields.header.name`: the header listing fields to drop.
        DROP_FIELDS_HEADER_NAME = ConfigKey::new("drop.fields.header.name", String, Some(""), Low, "Header listing the fields to drop from the value.");
        /// `drop.fields.from.key` (default false).
        DROP_FIELDS_FROM_KEY = ConfigKey::new("drop.fields.from.key", Boolean, Some("false"), Low, "Also drop the listed fields from the key.");
        /// `drop.fields.keep.schema.compatible` (default true).
        DROP_FIELDS_KEEP_SCHEMA_COMPATIBLE = ConfigKey::new("drop.fields.keep.schema.compatible", Boolean, Some("true"), Low, "Only drop optional fields, keeping the schema compatible.");
        /// `route.by.field`: the row field naming the topic.
        ROUTE_BY_FIELD = ConfigKey::new("route.by.field", String, Some(""), Low, "Route records to the topic named by this field of the row.");
    }
}

/// The typed configuration of ExtractNewRecordState.
#[derive(Debug, Clone)]
pub struct ExtractNewRecordStateConfig {
    mode: DeleteMode,
    add_fields: Vec<FieldRef>,
    add_headers: Vec<FieldRef>,
    drop_fields_header: Option<String>,
    drop_fields_from_key: bool,
    drop_keep_compatible: bool,
    route_by_field: Option<String>,
}

/// The field references of list `key`, each name prefixed by `prefix`'s value.
fn field_refs(r: &mut ConfigReader<'_>, key: &ConfigKey, prefix: &ConfigKey) -> Vec<FieldRef> {
    let prefix = r.string(prefix);
    let mut out = Vec::new();
    for spec in r.list(key) {
        match FieldRef::parse(&spec, &prefix) {
            Some(f) => out.push(f),
            None => r.fail(key.name, format!("Unexpected field name: {}", spec.trim())),
        }
    }
    out
}

impl TypedConfig for ExtractNewRecordStateConfig {
    const KEYS: &'static [ConfigKey] = KEYS;

    fn read(r: &mut ConfigReader<'_>) -> ExtractNewRecordStateConfig {
        ExtractNewRecordStateConfig {
            mode: r.choice(&DELETE_TOMBSTONE_HANDLING_MODE),
            add_fields: field_refs(r, &ADD_FIELDS, &ADD_FIELDS_PREFIX),
            add_headers: field_refs(r, &ADD_HEADERS, &ADD_HEADERS_PREFIX),
            drop_fields_header: r.opt_string(&DROP_FIELDS_HEADER_NAME),
            drop_fields_from_key: r.bool(&DROP_FIELDS_FROM_KEY),
            drop_keep_compatible: r.bool(&DROP_FIELDS_KEEP_SCHEMA_COMPATIBLE),
            route_by_field: r.opt_string(&ROUTE_BY_FIELD),
        }
    }
}

/// Where an added field or header comes from.
#[derive(Debug, Clone)]
struct FieldRef {
    /// None = the envelope itself; Some("source"), Some("transaction")…
    parent: Option<String>,
    field: String,
    new_name: String,
}

impl FieldRef {
    fn parse(spec: &str, prefix: &str) -> Option<FieldRef> {
        let (spec, alias) = match spec.split_once(':') {
            Some((s, a)) => (s.trim(), Some(a.trim())),
            None => (spec.trim(), None),
        };
        let parts: Vec<&str> = spec.split('.').collect();
        let (parent, field, new_name) = match parts.as_slice() {
            [f] => {
                let parent = if ["op", "ts_ms", "ts_us", "ts_ns"].contains(f) {
                    None
                } else {
                    Some("source".to_owned())
                };
                (parent, f.to_string(), format!("{prefix}{f}"))
            }
            [p, f] => (
                Some(p.to_string()),
                f.to_string(),
                format!("{prefix}{p}_{f}"),
            ),
            _ => return None,
        };
        let new_name = alias.map(|a| format!("{prefix}{a}")).unwrap_or(new_name);
        Some(FieldRef {
            parent,
            field,
            new_name,
        })
    }

    fn schema(&self, envelope: &Schema) -> Result<SchemaRef> {
        let parent = match &self.parent {
            None => envelope,
            Some(p) => {
                &envelope
                    .field_named(p)
                    .ok_or_else(|| data_err(format!("Unexpected field name: {p}")))?
                    .schema
            }
        };
        parent
            .field_named(&self.field)
            .map(|f| optional_copy(&f.schema))
            .ok_or_else(|| data_err(format!("Unexpected field name: {}", self.field)))
    }

    fn value(&self, envelope: &Struct) -> Value {
        let parent = match &self.parent {
            None => Some(envelope),
            Some(p) => envelope.get(p).and_then(Value::as_struct),
        };
        parent
            .and_then(|s| s.get(&self.field))
            .cloned()
            .unwrap_or(Value::Null)
    }
}

/// `io.debezium.transforms.ExtractNewRecordState`.
pub struct ExtractNewRecordState {
    config: ExtractNewRecordStateConfig,
    /// (row schema → row schema with __deleted / added fields)
    cache: SchemaCache,
    deleted_cache: SchemaCache,
}

impl Default for ExtractNewRecordState {
    fn default() -> Self {
        ExtractNewRecordState {
            config: ExtractNewRecordStateConfig::from_raw(&RawConfig::new())
                .expect("the declared defaults are valid"),
            cache: SchemaCache::default(),
            deleted_cache: SchemaCache::default(),
        }
    }
}

/// Debezium's name of the field added in rewrite mode.
pub const DELETED_FIELD: &str = "__deleted";

impl ExtractNewRecordState {
    /// The keys Debezium's ExtractNewRecordState defines.
    pub fn def() -> ConfigDef {
        ExtractNewRecordStateConfig::config_def()
    }

    fn rewrite(&self) -> bool {
        matches!(
            self.config.mode,
            DeleteMode::Rewrite | DeleteMode::RewriteWithTombstone
        )
    }

    /// Row → row with `__deleted`, then the added fields.
    fn enrich(&mut self, envelope: &Struct, row: Struct, deleted: Option<bool>) -> Result<Struct> {
        let mut row = row;
        if let Some(d) = deleted {
            let ns = self.deleted_cache.get_or_try(&row.schema, |s| {
                let mut b = copy_schema_basics(s, Schema::struct_());
                b.fields = s.fields.clone();
                Ok(b.field(DELETED_FIELD, Schema::string().optional()).build())
            })?;
            let mut values = row.values;
            values.push(Value::String(d.to_string()));
            row = Struct { schema: ns, values };
        }
        if !self.config.add_fields.is_empty() {
            let fields = &self.config.add_fields;
            let env_schema = envelope.schema.clone();
            let ns = self.cache.get_or_try(&row.schema, |s| {
                let mut b = copy_schema_basics(s, Schema::struct_());
                b.fields = s.fields.clone();
                for f in fields {
                    b = b.field(f.new_name.clone(), f.schema(&env_schema)?);
                }
                Ok(b.build())
            })?;
            let mut values = row.values;
            values.extend(fields.iter().map(|f| f.value(envelope)));
            row = Struct { schema: ns, values };
        }
        Ok(row)
    }

    fn drop_fields(&self, record: &mut ConnectRecord) {
        let Some(h) = &self.config.drop_fields_header else {
            return;
        };
        let Some(header) = record.headers.iter().rev().find(|x| x.key == *h) else {
            return;
        };
        let names: Vec<String> = match &header.value {
            Value::Array(a) => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            Value::String(s) => s.split(',').map(|x| x.trim().to_owned()).collect(),
            _ => return,
        };
        let keep_compat = self.config.drop_keep_compatible;
        let strip = |schema: &Option<SchemaRef>, value: &Value| -> Option<(SchemaRef, Value)> {
            let (schema, st) = (schema.as_ref()?, value.as_struct()?);
            let drop = |f: &velocity_api::Field| {
                names.contains(&f.name) && (!keep_compat || f.schema.optional)
            };
            if !schema.fields.iter().any(drop) {
                return None;
            }
            let mut b =
                copy_schema_basics(schema, Schema::struct_()).with_optional(schema.optional);
            let mut values = Vec::new();
            for f in schema.fields.iter().filter(|f| !drop(f)) {
                b = b.field(f.name.clone(), f.schema.clone());
                values.push(st.values[f.index].clone());
            }
            let ns = b.build();
            Some((ns.clone(), Value::Struct(Struct { schema: ns, values })))
        };
        if let Some((s, v)) = strip(&record.value_schema, &record.value) {
            record.value_schema = Some(s);
            record.value = v;
        }
        if self.config.drop_fields_from_key {
            if let Some((s, v)) = strip(&record.key_schema, &record.key) {
                record.key_schema = Some(s);
                record.key = v;
            }
        }
    }
}

impl Transform for ExtractNewRecordState {
    fn configure(&mut self, config: &RawConfig) -> Result<()> {
        self.config = read_config(config)?;
        Ok(())
    }

    fn apply(&mut self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>> {
        if record.value.is_null() {
            // The connector's own tombstone.
            return Ok(match self.config.mode {
                DeleteMode::RewriteWithTombstone | DeleteMode::DeleteToTombstone => Some(record),
                _ => None,
            });
        }
        if !is_envelope(record.value_schema.as_ref()) {
            tracing::trace!(topic = %record.topic, "Expected Envelope for transformation, passing it unchanged");
            return Ok(Some(record));
        }
        let Value::Struct(envelope) = std::mem::replace(&mut record.value, Value::Null) else {
            return Err(data_err(
                "Only Struct objects supported for [unwrapping the change event envelope]",
            ));
        };
        let env_schema = record.value_schema.take().expect("checked envelope");
        let op = envelope
            .get("op")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        if op == "t" {
            return Ok(None);
        }
        let row_schema = |name: &str| env_schema.field_named(name).map(|f| f.schema.clone());
        let headers: Vec<Header> = self
            .config
            .add_headers
            .iter()
            .map(|h| {
                Ok(Header {
                    key: h.new_name.clone(),
                    schema: Some(h.schema(&env_schema)?),
                    value: h.value(&envelope),
                })
            })
            .collect::<Result<_>>()?;
        let route_value = |row: Option<&Struct>| -> Option<String> {
            let f = self.config.route_by_field.as_ref()?;
            row?.get(f)?.as_str().map(str::to_owned)
        };
        let mut envelope = envelope;
        let mut take_row = |name: &str| -> Option<Struct> {
            let i = envelope.schema.field_named(name)?.index;
            match std::mem::replace(&mut envelope.values[i], Value::Null) {
                Value::Struct(s) => Some(s),
                _ => None,
            }
        };
        let (before, after) = if op == "d" {
            (take_row("before"), None)
        } else {
            (None, take_row("after"))
        };
        let envelope = envelope;
        let (route, schema, value) = if op == "d" {
            let route = route_value(before.as_ref());
            match self.config.mode {
                DeleteMode::Drop => return Ok(None),
                DeleteMode::Tombstone | DeleteMode::DeleteToTombstone => {
                    (route, row_schema("after"), Value::Null)
                }
                DeleteMode::Rewrite | DeleteMode::RewriteWithTombstone => match before {
                    Some(b) => {
                        let row = self.enrich(&envelope, b, Some(true))?;
                        (route, Some(row.schema.clone()), Value::Struct(row))
                    }
                    None => (route, row_schema("before"), Value::Null),
                },
            }
        } else {
            let route = route_value(after.as_ref());
            match after {
                Some(a) => {
                    let deleted = self.rewrite().then_some(false);
                    let row = self.enrich(&envelope, a, deleted)?;
                    (route, Some(row.schema.clone()), Value::Struct(row))
                }
                None => (route, row_schema("after"), Value::Null),
            }
        };
        record.value_schema = schema;
        record.value = value;
        record.headers.extend(headers);
        if let Some(t) = route {
            record.topic = t;
        }
        self.drop_fields(&mut record);
        Ok(Some(record))
    }

    fn config_def(&self) -> ConfigDef {
        Self::def()
    }
}
