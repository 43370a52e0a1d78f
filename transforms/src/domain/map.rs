//! Phase 3 of the domain pipeline, `io.velocity.transforms.domain.Map`:
//! a cast change (see [`super::cast`]) becomes a domain event on a domain
//! topic. Keys (under `transforms.<alias>.`):
//!
//! - `topic` (required): the domain topic; `${table}` and `${schema}` are
//!   replaced by the change's table and schema names.
//! - `fields` (required): the output fields, in order; a dotted name nests
//!   (`shipment.id` → `{"shipment":{"id":…}}`).
//! - `field.<name>`: the expression of output field `<name>` (see
//!   [`super::expr`]): a column (`body`), a renamed column, a constant
//!   (`'tms'`, `1`), or a computed value (`reference || '-' || id`,
//!   `weight_kg * 1000`, `coalesce(body, '')`). Default: the column of the
//!   same name.
//! - `event.type` (default `${Table}${Op}`): the event type template.
//!   `${Op}` is `Created` (for `c` and snapshot reads `r`), `Updated` or
//!   `Deleted`, `${op}` the same in lower case, `${Table}` the table name in
//!   PascalCase (`shipment_event` → `ShipmentEvent`), `${table}` as is. E.g.
//!   `Note${Op}` gives `NoteCreated`/`NoteUpdated`/`NoteDeleted`.
//! - `key` (optional expression): the record key of the event; default:
//!   the change's key unchanged.
//! - `envelope` (default true): the value is
//!   `{"type": <event type>, "tx_id": …, "ts_ms": …, "data": {fields}}`;
//!   with false it is just the fields and the type goes into the header
//!   `eventType`.
//!
//! Values are schemaless maps: set `value.converter` (JsonConverter) with
//! `value.converter.schemas.enable=false` on the connector
//! for plain JSON. Deletes evaluate the fields against the deleted row (with
//! PostgreSQL's default replica identity only the key columns are set).
//! Records that are not cast changes pass unchanged.

use velocity_api::config::{ConfigReader, TypedConfig};
use velocity_api::{
    ConfigDef, ConfigKey, ConnectRecord, Header, RawConfig, Result, Transform, Value,
};

use super::expr::Expr;
use super::{change_of, op_of, opt_expr, out_fields, OutField};
use crate::error::read_config;
use crate::util::required_list;

pub use keys::*;

/// The keys of the domain map, each declared once (each output field's
/// expression is the undeclared key `field.<name>`).
pub mod keys {
    use velocity_api::config::{ConfigKey, ConfigType::*, Importance::*};

    velocity_api::config_keys! {
        /// `topic`: the domain topic, with `${table}` and `${schema}` (required).
        TOPIC = ConfigKey::new("topic", String, None, High, "The domain topic; ${table} and ${schema} are replaced by the change's table and schema.");
        /// `fields`: the output fields in order (required).
        FIELDS = ConfigKey::new("fields", List, None, High, "Output fields in order; dots nest. Each takes its expression from field.<name> (default: the column of that name).");
        /// `event.type`: the event type template.
        EVENT_TYPE = ConfigKey::new("event.type", String, Some("${Table}${Op}"), Medium, "Event type template: ${Op} (Created/Updated/Deleted), ${op}, ${Table} (PascalCase), ${table}.");
        /// `key`: the event key's expression (empty keeps the change's key).
        KEY = ConfigKey::new("key", String, Some(""), Medium, "Expression for the event key; empty keeps the change's key.");
        /// `envelope`: wrap the fields in `{type, tx_id, ts_ms, data}` (default true).
        ENVELOPE = ConfigKey::new("envelope", Boolean, Some("true"), Medium, "Wrap the fields as {type, tx_id, ts_ms, data}; false puts the type in the eventType header.");
    }
}

/// The typed configuration of the domain map: every expression parses.
#[derive(Debug, Clone, Default)]
pub struct MapConfig {
    topic: String,
    event_type: String,
    fields: Vec<OutField>,
    key: Option<Expr>,
    envelope: bool,
}

impl TypedConfig for MapConfig {
    const KEYS: &'static [ConfigKey] = KEYS;

    fn read(r: &mut ConfigReader<'_>) -> MapConfig {
        let names = required_list(r, &FIELDS);
        MapConfig {
            topic: r.string(&TOPIC),
            event_type: r.string(&EVENT_TYPE),
            fields: out_fields(r, FIELDS.name, names, |n| format!("field.{n}")),
            key: opt_expr(r, KEY.name),
            envelope: r.bool(&ENVELOPE),
        }
    }
}

/// `io.velocity.transforms.domain.Map` (see the module docs).
#[derive(Default)]
pub struct Map {
    config: MapConfig,
}

impl Map {
    /// The keys of this transform.
    pub fn def() -> ConfigDef {
        MapConfig::config_def()
    }
}

/// `shipment_event` → `ShipmentEvent`.
pub fn pascal_case(s: &str) -> String {
    s.split(['_', '-', ' '])
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut cs = w.chars();
            match cs.next() {
                Some(f) => f.to_uppercase().collect::<String>() + cs.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

/// Sets `v` at the dotted `path` of a map's entries, creating nested maps.
pub(crate) fn put_path(entries: &mut Vec<(Value, Value)>, path: &[String], v: Value) {
    let (first, rest) = path.split_first().expect("non-empty path");
    let pos = entries
        .iter()
        .position(|(k, _)| k.as_str() == Some(first.as_str()));
    if rest.is_empty() {
        match pos {
            Some(i) => entries[i].1 = v,
            None => entries.push((Value::String(first.clone()), v)),
        }
        return;
    }
    let i = match pos {
        Some(i) if matches!(entries[i].1, Value::Map(_)) => i,
        Some(i) => {
            entries[i].1 = Value::Map(Vec::new());
            i
        }
        None => {
            entries.push((Value::String(first.clone()), Value::Map(Vec::new())));
            entries.len() - 1
        }
    };
    if let Value::Map(inner) = &mut entries[i].1 {
        put_path(inner, rest, v);
    }
}

/// The event envelope `{type, tx_id, ts_ms, data}` of a change.
pub(crate) fn envelope(
    event_type: String,
    change: &velocity_api::Struct,
    data: Vec<(Value, Value)>,
) -> Value {
    let meta = |k: &str| change.get(k).cloned().unwrap_or(Value::Null);
    Value::Map(vec![
        (Value::String("type".into()), Value::String(event_type)),
        (Value::String("tx_id".into()), meta("tx_id")),
        (Value::String("ts_ms".into()), meta("ts_ms")),
        (Value::String("data".into()), Value::Map(data)),
    ])
}

impl Transform for Map {
    fn configure(&mut self, config: &RawConfig) -> Result<()> {
        self.config = read_config(config)?;
        Ok(())
    }

    fn apply(&mut self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>> {
        let Some(ch) = change_of(&record.value) else {
            return Ok(Some(record));
        };
        let (op_word, op_lower) = match op_of(ch) {
            Some("u") => ("Updated", "updated"),
            Some("d") => ("Deleted", "deleted"),
            _ => ("Created", "created"),
        };
        let full_table = ch.get("table").and_then(Value::as_str).unwrap_or("");
        let (schema, table) = full_table.rsplit_once('.').unwrap_or(("", full_table));
        let event_type = self
            .config
            .event_type
            .replace("${Op}", op_word)
            .replace("${op}", op_lower)
            .replace("${Table}", &pascal_case(table))
            .replace("${table}", table);
        let mut data = Vec::with_capacity(self.config.fields.len());
        for (path, expr) in &self.config.fields {
            let v = expr.eval(ch).map_err(|e| {
                velocity_api::ConnectError::fatal(format!(
                    "domain map: field {}: {e}",
                    path.join(".")
                ))
            })?;
            put_path(&mut data, path, v);
        }
        let key = match &self.config.key {
            None => None,
            Some(k) => Some(k.eval(ch)?),
        };
        let value = if self.config.envelope {
            envelope(event_type, ch, data)
        } else {
            record.headers.push(Header {
                key: "eventType".into(),
                schema: None,
                value: Value::String(event_type),
            });
            Value::Map(data)
        };
        record.topic = self
            .config
            .topic
            .replace("${table}", table)
            .replace("${schema}", schema);
        record.partition = None;
        if let Some(k) = key {
            record.key = k;
            record.key_schema = None;
        }
        record.value_schema = None;
        record.value = value;
        Ok(Some(record))
    }

    fn config_def(&self) -> ConfigDef {
        Map::def()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::cast::tests::note_event;
    use crate::domain::cast::Cast;
    use crate::testutil::{cfg, map};
    use crate::util::map_get;

    fn mapped(pairs: &[(&str, &str)], event: ConnectRecord) -> ConnectRecord {
        let mut cast = Cast::default();
        cast.configure(&cfg(&[])).unwrap();
        let mut m = Map::default();
        m.configure(&cfg(pairs)).unwrap();
        m.apply(cast.apply(event).unwrap().unwrap())
            .unwrap()
            .unwrap()
    }

    const NOTE: &[(&str, &str)] = &[
        ("topic", "domain.${table}s"),
        ("fields", "noteId,text,meta.kg,meta.source,label"),
        ("field.noteId", "id"),
        ("field.text", "body"),
        ("field.meta.kg", "weight * 1000"),
        ("field.meta.source", "'tms'"),
        ("field.label", "concat('note-', id, ': ', body)"),
        ("key", "id"),
    ];

    #[test]
    fn builds_the_domain_event() {
        let r = mapped(NOTE, note_event("c", Some(9), None, Some((3, "hi"))));
        assert_eq!(r.topic, "domain.notes");
        assert_eq!(r.key, Value::Int32(3));
        assert_eq!(r.key_schema, None);
        assert_eq!(r.value_schema, None);
        let expected = map(&[
            ("type", Value::String("NoteCreated".into())),
            ("tx_id", Value::String("9".into())),
            ("ts_ms", Value::Int64(1_714_564_800_000)),
            (
                "data",
                map(&[
                    ("noteId", Value::Int32(3)),
                    ("text", Value::String("hi".into())),
                    (
                        "meta",
                        map(&[
                            ("kg", Value::Float64(123_450.0)),
                            ("source", Value::String("tms".into())),
                        ]),
                    ),
                    ("label", Value::String("note-3: hi".into())),
                ]),
            ),
        ]);
        assert_eq!(r.value, expected);
    }

    #[test]
    fn event_type_follows_the_operation() {
        let ty = |op: &str, tmpl: &str| {
            let mut pairs = NOTE.to_vec();
            pairs.push(("event.type", tmpl));
            let ev = match op {
                "d" => note_event("d", Some(1), Some((1, "x")), None),
                _ => note_event(op, Some(1), Some((1, "x")), Some((1, "y"))),
            };
            let r = mapped(&pairs, ev);
            let Value::Map(m) = &r.value else { panic!() };
            map_get(m, "type").cloned().unwrap()
        };
        assert_eq!(ty("u", "Note${Op}"), Value::String("NoteUpdated".into()));
        assert_eq!(
            ty("d", "${Table}${Op}"),
            Value::String("NoteDeleted".into())
        );
        assert_eq!(
            ty("r", "${table}.${op}"),
            Value::String("note.created".into())
        );
        assert_eq!(pascal_case("shipment_event"), "ShipmentEvent");
    }

    #[test]
    fn without_envelope_the_type_is_a_header_and_defaults_copy_columns() {
        let r = mapped(
            &[("topic", "d"), ("fields", "id,body"), ("envelope", "false")],
            note_event("u", Some(1), None, Some((4, "b"))),
        );
        assert_eq!(
            r.value,
            map(&[("id", Value::Int32(4)), ("body", Value::String("b".into()))])
        );
        assert_eq!(r.headers.last().unwrap().key, "eventType");
        assert_eq!(
            r.headers.last().unwrap().value,
            Value::String("NoteUpdated".into())
        );
        // the key stays the change's key
        assert!(matches!(r.key, Value::Struct(_)));
    }

    #[test]
    fn config_errors_name_the_key() {
        for (pairs, key) in [
            (vec![("fields", "a")], "topic"),
            (vec![("topic", "t")], "fields"),
            (
                vec![("topic", "t"), ("fields", "a"), ("field.a", "1 +")],
                "field.a",
            ),
            (vec![("topic", "t"), ("fields", "a"), ("key", "f(")], "key"),
        ] {
            let e = Map::default().configure(&cfg(&pairs)).unwrap_err();
            assert!(e.to_string().contains(key), "{e}");
        }
        let other = ConnectRecord::new("x", None, Value::Null, None, Value::Int32(1));
        let mut m = Map::default();
        m.configure(&cfg(&[("topic", "t"), ("fields", "a")]))
            .unwrap();
        assert_eq!(m.apply(other.clone()).unwrap(), Some(other));
    }
}
