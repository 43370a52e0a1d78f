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
use velocity_api::config::{ConfigExt, ConfigKey, ConfigType, Importance};
use velocity_api::{
    ConfigDef, ConnectRecord, Header, RawConfig, Result, Schema, SchemaRef, Struct, Transform,
    Value,
};

use super::is_envelope;
use crate::error::{config_err, data_err};
use crate::util::{full_match_regex, java_replacement};

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
        let s = |n, d, doc| ConfigKey::new(n, ConfigType::String, Some(d), Importance::Low, doc);
        ConfigDef::new(vec![
            s("table.field.event.id", "id", "The column which contains the event ID within the outbox table"),
            s("table.field.event.key", "aggregateid", "The column which contains the event key within the outbox table"),
            s("table.field.event.payload", "payload", "The column which contains the event payload within the outbox table"),
            s("table.field.event.timestamp", "", "Optionally you can override the Kafka message timestamp with a value from a chosen column, otherwise it'll be the Debezium event processed timestamp."),
            s("route.by.field", "aggregatetype", "The column which determines how the events will be routed, the value will become part of the topic name"),
            s("route.topic.regex", "(?<routedByValue>.*)", "The default regex to use within the RegexRouter, the default capture will allow to replace the routed field into a new topic name defined in 'route.topic.replacement'"),
            s("route.topic.replacement", "outbox.event.${routedByValue}", "The name of the topic in which the events will be routed, a replacement '${routedByValue}' is available which is the value of The column configured via 'route.by.field'"),
            ConfigKey::new("route.tombstone.on.empty.payload", ConfigType::Boolean, Some("false"), Importance::Low, "Whether or not an empty payload should cause a tombstone event."),
            s("table.op.invalid.behavior", "warn", "Behavior when capturing an unexpected outbox event: warn (drop and log), error (log an error), fatal (fail)").one_of(&["warn", "error", "fatal"]),
            s("table.fields.additional.placement", "", "Extra fields can be added as part of the event envelope or a message header, format is a list of colon-delimited pairs or trios when you desire to have aliases, e.g. <code>id:header,field_name:envelope:alias,field_name:partition</code>"),
            ConfigKey::new("table.expand.json.payload", ConfigType::Boolean, Some("false"), Importance::Low, "Whether or not to try unescaping a JSON string and make it real JSON (not supported by Velocity: must be false)."),
        ])
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
        self.id_field = config.str_or("table.field.event.id", "id").to_owned();
        self.key_field = config
            .str_or("table.field.event.key", "aggregateid")
            .to_owned();
        self.payload_field = config
            .str_or("table.field.event.payload", "payload")
            .to_owned();
        self.timestamp_field = config
            .opt_str("table.field.event.timestamp")
            .map(str::to_owned);
        self.route_by = config.str_or("route.by.field", "aggregatetype").to_owned();
        self.route_regex = full_match_regex(
            "route.topic.regex",
            config.str_or("route.topic.regex", "(?<routedByValue>.*)"),
        )?;
        self.route_replacement = java_replacement(
            config.str_or("route.topic.replacement", "outbox.event.${routedByValue}"),
        );
        self.tombstone_on_empty = config.bool_or("route.tombstone.on.empty.payload", false)?;
        self.invalid_op_fatal = config.enum_or(
            "table.op.invalid.behavior",
            "warn",
            &["warn", "error", "fatal"],
        )? == "fatal";
        if config.bool_or("table.expand.json.payload", false)? {
            return Err(config_err(
                "table.expand.json.payload",
                "Expanding JSON payloads is not supported by Velocity yet; set it to false",
            ));
        }
        self.additional.clear();
        for item in config.list("table.fields.additional.placement") {
            let parts: Vec<&str> = item.split(':').map(str::trim).collect();
            let (col, place, alias) = match parts.as_slice() {
                [c, p] => (*c, *p, *c),
                [c, p, a] => (*c, *p, *a),
                _ => {
                    return Err(config_err(
                        "table.fields.additional.placement",
                        format!("Invalid placement: {item}"),
                    ))
                }
            };
            let place = match place.to_ascii_lowercase().as_str() {
                "header" => Placement::Header,
                "envelope" => Placement::Envelope,
                "partition" => Placement::Partition,
                other => {
                    return Err(config_err(
                        "table.fields.additional.placement",
                        format!(
                        "Unknown placement '{other}' in {item}; use header, envelope or partition"
                    ),
                    ))
                }
            };
            self.additional
                .push((col.to_owned(), place, alias.to_owned()));
        }
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
