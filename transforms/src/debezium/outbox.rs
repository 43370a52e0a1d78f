//! Debezium's outbox `io.debezium.transforms.outbox.EventRouter`: turns the
//! change events of an outbox table into domain events. For each insert
//! into the outbox table the new record has
//!
//! * topic: `route.topic.replacement` (default `outbox.event.${routedByValue}`)
//!   applied to the value of the `route.by.field` column (default
//!   `aggregatetype`) matched by `route.topic.regex` (default
//!   `(?<routedByValue>.*)`);
//! * key: the `table.field.event.key` column (default `aggregateid`);
//! * value: the `table.field.event.payload` column (default `payload`), or a
//!   tombstone when it is null and `route.tombstone.on.empty.payload=true`;
//! * header `id`: the `table.field.event.id` column (default `id`);
//! * timestamp: the `table.field.event.timestamp` column when set, else the
//!   envelope's `ts_ms`;
//! * `table.fields.additional.placement` (`column:header|envelope|partition[:alias]`)
//!   adds columns as headers, as fields of a `{payload, …}` value struct, or
//!   as the Kafka partition.
//!
//! Deletes and tombstones are dropped (outbox rows are usually deleted right
//! after insertion); updates are dropped with a warning
//! (`table.op.invalid.behavior=warn`, the default) or fail (`fatal`).

use std::sync::Arc;

use regex::Regex;
use velocity_api::config::{ConfigReader, TypedConfig};
use velocity_api::{
    config_choice, ConfigDef, ConfigKey, ConnectRecord, Header, RawConfig, Result, Schema,
    SchemaRef, Struct, Transform, Value,
};

use super::is_envelope;
use crate::error::{data_err, read_config};
use crate::util::{full_match_regex, java_replacement};

pub use keys::*;

/// The keys of Debezium's outbox EventRouter that Velocity implements,
/// each declared once.
pub mod keys {
    use super::InvalidOpBehavior;
    use velocity_api::config::{ConfigKey, ConfigType::*, Importance::*};

    velocity_api::config_keys! {
        /// `table.field.event.id`: the event id column.
        TABLE_FIELD_EVENT_ID = ConfigKey::new("table.field.event.id", String, Some("id"), Low, "The column which contains the event ID within the outbox table");
        /// `table.field.event.key`: the event key column.
        TABLE_FIELD_EVENT_KEY = ConfigKey::new("table.field.event.key", String, Some("aggregateid"), Low, "The column which contains the event key within the outbox table");
        /// `table.field.event.payload`: the payload column.
        TABLE_FIELD_EVENT_PAYLOAD = ConfigKey::new("table.field.event.payload", String, Some("payload"), Low, "The column which contains the event payload within the outbox table");
        /// `table.field.event.timestamp`: the column of the record timestamp (optional).
        TABLE_FIELD_EVENT_TIMESTAMP = ConfigKey::new("table.field.event.timestamp", String, Some(""), Low, "Optionally you can override the Kafka message timestamp with a value from a chosen column, otherwise it'll be the Debezium event processed timestamp.");
        /// `route.by.field`: the column that routes the event.
        ROUTE_BY_FIELD = ConfigKey::new("route.by.field", String, Some("aggregatetype"), Low, "The column which determines how the events will be routed, the value will become part of the topic name");
        /// `route.topic.regex`: matched against the routing value.
        ROUTE_TOPIC_REGEX = ConfigKey::new("route.topic.regex", String, Some("(?<routedByValue>.*)"), Low, "The default regex to use within the RegexRouter, the default capture will allow to replace the routed field into a new topic name defined in 'route.topic.replacement'");
        /// `route.topic.replacement`: the topic of the event.
        ROUTE_TOPIC_REPLACEMENT = ConfigKey::new("route.topic.replacement", String, Some("outbox.event.${routedByValue}"), Low, "The name of the topic in which the events will be routed, a replacement '${routedByValue}' is available which is the value of The column configured via 'route.by.field'");
        /// `route.tombstone.on.empty.payload` (default false).
        ROUTE_TOMBSTONE_ON_EMPTY_PAYLOAD = ConfigKey::new("route.tombstone.on.empty.payload", Boolean, Some("false"), Low, "Whether or not an empty payload should cause a tombstone event.");
        /// `table.op.invalid.behavior`: `warn` (default), `error` or `fatal`.
        TABLE_OP_INVALID_BEHAVIOR = ConfigKey::new("table.op.invalid.behavior", String, Some("warn"), Low, "Behavior when capturing an unexpected outbox event: warn (drop and log), error (log an error), fatal (fail)").one_of(InvalidOpBehavior::NAMES);
        /// `table.fields.additional.placement`: `column:place[:alias],…`.
        TABLE_FIELDS_ADDITIONAL_PLACEMENT = ConfigKey::new("table.fields.additional.placement", String, Some(""), Low, "Extra fields can be added as part of the event envelope or a message header, format is a list of colon-delimited pairs or trios when you desire to have aliases, e.g. <code>id:header,field_name:envelope:alias,field_name:partition</code>");
        /// `table.expand.json.payload`: must be false (not supported).
        TABLE_EXPAND_JSON_PAYLOAD = ConfigKey::new("table.expand.json.payload", Boolean, Some("false"), Low, "Whether or not to try unescaping a JSON string and make it real JSON (not supported by Velocity: must be false).");
    }
}

config_choice! {
    /// What an update or other unexpected outbox operation does
    /// (`table.op.invalid.behavior`).
    pub enum InvalidOpBehavior {
        /// Dropped with a warning.
        Warn = "warn",
        /// Dropped with an error logged.
        Error = "error",
        /// The task fails.
        Fatal = "fatal",
    }
}

/// The typed configuration of the outbox EventRouter.
#[derive(Debug, Clone)]
pub struct EventRouterConfig {
    id_field: String,
    key_field: String,
    payload_field: String,
    timestamp_field: Option<String>,
    route_by: String,
    route_regex: Option<Regex>,
    route_replacement: String,
    tombstone_on_empty: bool,
    invalid_op: InvalidOpBehavior,
    additional: Vec<(String, Placement, String)>,
}

impl TypedConfig for EventRouterConfig {
    const KEYS: &'static [ConfigKey] = KEYS;

    fn read(r: &mut ConfigReader<'_>) -> EventRouterConfig {
        if r.bool(&TABLE_EXPAND_JSON_PAYLOAD) {
            r.fail(
                TABLE_EXPAND_JSON_PAYLOAD.name,
                "Expanding JSON payloads is not supported by Velocity yet; set it to false",
            );
        }
        let mut additional = Vec::new();
        for item in r.list(&TABLE_FIELDS_ADDITIONAL_PLACEMENT) {
            match placement(&item) {
                Ok(p) => additional.push(p),
                Err(rule) => r.fail(TABLE_FIELDS_ADDITIONAL_PLACEMENT.name, rule),
            }
        }
        EventRouterConfig {
            id_field: r.string(&TABLE_FIELD_EVENT_ID),
            key_field: r.string(&TABLE_FIELD_EVENT_KEY),
            payload_field: r.string(&TABLE_FIELD_EVENT_PAYLOAD),
            timestamp_field: r.opt_string(&TABLE_FIELD_EVENT_TIMESTAMP),
            route_by: r.string(&ROUTE_BY_FIELD),
            route_regex: full_match_regex(r, &ROUTE_TOPIC_REGEX),
            route_replacement: java_replacement(&r.string(&ROUTE_TOPIC_REPLACEMENT)),
            tombstone_on_empty: r.bool(&ROUTE_TOMBSTONE_ON_EMPTY_PAYLOAD),
            invalid_op: r.choice(&TABLE_OP_INVALID_BEHAVIOR),
            additional,
        }
    }
}

/// One `column:place[:alias]` item of `table.fields.additional.placement`.
fn placement(item: &str) -> std::result::Result<(String, Placement, String), String> {
    let parts: Vec<&str> = item.split(':').map(str::trim).collect();
    let (col, place, alias) = match parts.as_slice() {
        [c, p] => (*c, *p, *c),
        [c, p, a] => (*c, *p, *a),
        _ => return Err(format!("Invalid placement: {item}")),
    };
    let place = match place.to_ascii_lowercase().as_str() {
        "header" => Placement::Header,
        "envelope" => Placement::Envelope,
        "partition" => Placement::Partition,
        other => {
            return Err(format!(
                "Unknown placement '{other}' in {item}; use header, envelope or partition"
            ))
        }
    };
    Ok((col.to_owned(), place, alias.to_owned()))
}

/// Where an additional outbox column goes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Placement {
    Header,
    Envelope,
    Partition,
}

/// `io.debezium.transforms.outbox.EventRouter`.
pub struct EventRouter {
    id_field: String,
    key_field: String,
    payload_field: String,
    timestamp_field: Option<String>,
    route_by: String,
    route_regex: Regex,
    route_replacement: String,
    tombstone_on_empty: bool,
    invalid_op_fatal: bool,
    additional: Vec<(String, Placement, String)>,
    envelope_cache: Vec<(SchemaRef, SchemaRef)>,
}

impl Default for EventRouter {
    fn default() -> Self {
        EventRouter {
            id_field: "id".into(),
            key_field: "aggregateid".into(),
            payload_field: "payload".into(),
            timestamp_field: None,
            route_by: "aggregatetype".into(),
            route_regex: Regex::new("^(?:(?<routedByValue>.*))$").expect("valid"),
            route_replacement: "outbox.event.${routedByValue}".into(),
            tombstone_on_empty: false,
            invalid_op_fatal: false,
            additional: Vec::new(),
            envelope_cache: Vec::new(),
        }
    }
}

impl EventRouter {
    /// The keys Debezium's EventRouter defines (the ones Velocity implements).
    pub fn def() -> ConfigDef {
        EventRouterConfig::config_def()
    }

    fn envelope_schema(&mut self, payload: &SchemaRef, after: &Schema) -> Result<SchemaRef> {
        if let Some((_, v)) = self
            .envelope_cache
            .iter()
            .find(|(k, _)| Arc::ptr_eq(k, payload))
        {
            return Ok(v.clone());
        }
        let mut b = Schema::struct_().field("payload", payload.clone());
        for (col, place, alias) in &self.additional {
            if *place == Placement::Envelope {
                let f = after
                    .field_named(col)
                    .ok_or_else(|| data_err(format!("Unknown field: {col}")))?;
                b = b.field(alias.clone(), f.schema.clone());
            }
        }
        let s = b.build();
        self.envelope_cache.push((payload.clone(), s.clone()));
        Ok(s)
    }
}

impl Transform for EventRouter {
    fn configure(&mut self, config: &RawConfig) -> Result<()> {
        let c: EventRouterConfig = read_config(config)?;
        self.id_field = c.id_field;
        self.key_field = c.key_field;
        self.payload_field = c.payload_field;
        self.timestamp_field = c.timestamp_field;
        self.route_by = c.route_by;
        if let Some(re) = c.route_regex {
            self.route_regex = re;
        }
        self.route_replacement = c.route_replacement;
        self.tombstone_on_empty = c.tombstone_on_empty;
        self.invalid_op_fatal = c.invalid_op == InvalidOpBehavior::Fatal;
        self.additional = c.additional;
        self.envelope_cache.clear();
        Ok(())
    }

    fn apply(&mut self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>> {
        if record.value.is_null() {
            return Ok(None);
        }
        if !is_envelope(record.value_schema.as_ref()) {
            return Ok(Some(record));
        }
        let env = record
            .value
            .as_struct()
            .ok_or_else(|| data_err("Outbox EventRouter expects a Struct envelope"))?;
        let op = env.get("op").and_then(Value::as_str).unwrap_or("");
        match op {
            "c" | "r" => {}
            "d" => return Ok(None),
            other => {
                if self.invalid_op_fatal {
                    return Err(data_err(format!("Unexpected change event operation '{other}' on the outbox table; only inserts are routed")));
                }
                tracing::warn!(topic = %record.topic, op = other, "Outbox EventRouter: ignoring non-insert change event");
                return Ok(None);
            }
        }
        let after = env
            .get("after")
            .and_then(Value::as_struct)
            .ok_or_else(|| data_err("Outbox change event has no 'after' state"))?;
        let col = |name: &str| -> Result<(SchemaRef, Value)> {
            let f = after.schema.field_named(name).ok_or_else(|| {
                data_err(format!(
                    "Outbox table has no column '{name}' (see the table.field.event.* settings)"
                ))
            })?;
            Ok((f.schema.clone(), after.values[f.index].clone()))
        };
        let (_, route_value) = col(&self.route_by)?;
        let route_value = match &route_value {
            Value::String(s) => s.clone(),
            Value::Null => {
                return Err(data_err(format!(
                    "Outbox column '{}' is null; cannot route the event",
                    self.route_by
                )))
            }
            other => other
                .as_i64()
                .map_or_else(|| format!("{other:?}"), |i| i.to_string()),
        };
        let topic = if self.route_regex.is_match(&route_value) {
            self.route_regex
                .replace(&route_value, self.route_replacement.as_str())
                .into_owned()
        } else {
            route_value
        };
        let (id_schema, id) = col(&self.id_field)?;
        let (key_schema, key) = match after.schema.field_named(&self.key_field) {
            Some(_) => {
                let (s, v) = col(&self.key_field)?;
                (Some(s), v)
            }
            None => (None, Value::Null),
        };
        let (payload_schema, payload) = col(&self.payload_field)?;
        let timestamp = match &self.timestamp_field {
            Some(f) => col(f)?.1.as_i64(),
            None => env.get("ts_ms").and_then(Value::as_i64),
        }
        .or(record.timestamp);
        let mut headers = vec![Header {
            key: "id".into(),
            schema: Some(id_schema),
            value: id,
        }];
        let mut partition = None;
        let mut envelope_values = Vec::new();
        for (c, place, alias) in &self.additional {
            let (s, v) = col(c)?;
            match place {
                Placement::Header => headers.push(Header {
                    key: alias.clone(),
                    schema: Some(s),
                    value: v,
                }),
                Placement::Partition => partition = v.as_i64().and_then(|p| i32::try_from(p).ok()),
                Placement::Envelope => envelope_values.push(v),
            }
        }
        let after_schema = after.schema.clone();
        let (value_schema, value) = if payload.is_null() && self.tombstone_on_empty {
            (None, Value::Null)
        } else if self
            .additional
            .iter()
            .any(|(_, p, _)| *p == Placement::Envelope)
        {
            let es = self.envelope_schema(&payload_schema, &after_schema)?;
            let mut values = vec![payload];
            values.extend(envelope_values);
            (
                Some(es.clone()),
                Value::Struct(Struct { schema: es, values }),
            )
        } else {
            (Some(payload_schema), payload)
        };
        record.topic = topic;
        record.key_schema = key_schema;
        record.key = key;
        record.value_schema = value_schema;
        record.value = value;
        record.timestamp = timestamp;
        if partition.is_some() {
            record.partition = partition;
        }
        record.headers.extend(headers);
        Ok(Some(record))
    }

    fn config_def(&self) -> ConfigDef {
        Self::def()
    }
}
