//! Business events, `io.velocity.transforms.domain.BusinessEvents` (alias
//! `domain-business`): the Event Engine step of the Velocity design, by
//! configuration. Placed after [`super::filter`] and before [`super::map`]
//! in a source connector's chain, it looks at each net change (with the
//! `before` image the filter keeps) and, for every configured event whose
//! condition holds, emits a business event on a business topic; the change
//! itself passes on unchanged (first), so `map` still builds the domain
//! event. Keys (under `transforms.<alias>.`):
//!
//! - `topic` (required): the business topic (`event.<e>.topic` overrides it);
//! - `events` (required): the event aliases, in emission order;
//! - `event.<e>.type`: the event type (default: the alias);
//! - `event.<e>.table`: only changes of this table (`shipment` or
//!   `tms.shipment`; default: any table);
//! - `event.<e>.when` (required): the condition, in the expression language
//!   of [`super::expr`] (e.g. `$op = 'u' and $before.status <> status`, or
//!   `status = 'delivered' and coalesce($before.status, '') <> 'delivered'`);
//!   the event is emitted when it is true (not false or null);
//! - `event.<e>.fields` / `event.<e>.field.<f>`: the event's data fields and
//!   their expressions (default: the column of the same name), e.g.
//!   `fields=shipmentId,from,to`, `field.from=$before.status`, `field.to=status`;
//! - `event.<e>.key`: expression of the event key (default: the change's key).
//!
//! The value is `{type, tx_id, ts_ms, data}` (schemaless, as domain events).
//! Conditions on `$before.*` need the before image: PostgreSQL tables with
//! `REPLICA IDENTITY FULL`, MySQL/MariaDB with `binlog_row_image=FULL`
//! (the default), or a DELETE+INSERT collapsed by the filter.
//!
//! Stateless and deterministic: a replayed transaction (at least once)
//! emits the same events again, with the same `tx_id`. It emits two
//! records for one input, so it runs only in a source connector's chain.

use velocity_api::config::{ConfigReader, TypedConfig};
use velocity_api::{ConfigDef, ConfigKey, ConnectRecord, RawConfig, Result, Transform, Value};

use super::expr::{truth, Expr};
use super::map::{envelope, put_path};
use super::{change_of, expr_at, op_of, opt_expr, out_fields, OutField};
use crate::error::read_config;
use crate::util::required_list;
use velocity_api::config::ConfigExt;

pub use keys::*;

/// The keys of the business events transform, each declared once (the
/// per-event keys `event.<e>.*` are undeclared).
pub mod keys {
    use velocity_api::config::{ConfigKey, ConfigType::*, Importance::*};

    velocity_api::config_keys! {
        /// `topic`: the business topic of every event (required).
        TOPIC = ConfigKey::new("topic", String, None, High, "The business topic of every event (event.<e>.topic overrides it).");
        /// `events`: the event aliases (required).
        EVENTS = ConfigKey::new("events", List, None, High, "Event aliases; each has event.<e>.when (condition), event.<e>.type, event.<e>.table, event.<e>.fields, event.<e>.field.<f>, event.<e>.key, event.<e>.topic.");
    }
}

/// The typed configuration of the business events transform: every event
/// has a condition, and every expression parses.
#[derive(Debug, Clone, Default)]
pub struct BusinessEventsConfig {
    events: Vec<Event>,
}

impl TypedConfig for BusinessEventsConfig {
    const KEYS: &'static [ConfigKey] = KEYS;

    fn read(r: &mut ConfigReader<'_>) -> BusinessEventsConfig {
        let topic = r.string(&TOPIC);
        let mut events = Vec::new();
        for alias in required_list(r, &EVENTS) {
            let k = |s: &str| format!("event.{alias}.{s}");
            let when_key = k("when");
            let when = match r.raw().opt_str(&when_key) {
                Some(src) => expr_at(r, &when_key, src),
                None => {
                    r.fail(
                        &when_key,
                        "missing: the condition of the event, e.g. $op = 'u' and $before.status <> status",
                    );
                    None
                }
            };
            let names = r.raw().list(&k("fields"));
            let fields = out_fields(r, &k("fields"), names, |n| k(&format!("field.{n}")));
            let key = opt_expr(r, &k("key"));
            let Some(when) = when else { continue };
            events.push(Event {
                event_type: r.raw().opt_str(&k("type")).unwrap_or(&alias).to_owned(),
                table: r.raw().opt_str(&k("table")).map(str::to_owned),
                when,
                fields,
                key,
                topic: r.raw().opt_str(&k("topic")).unwrap_or(&topic).to_owned(),
                alias,
            });
        }
        BusinessEventsConfig { events }
    }
}

/// One configured business event.
#[derive(Debug, Clone)]
struct Event {
    alias: String,
    event_type: String,
    table: Option<String>,
    when: Expr,
    fields: Vec<OutField>,
    key: Option<Expr>,
    topic: String,
}

/// `io.velocity.transforms.domain.BusinessEvents` (see the module docs).
#[derive(Default)]
pub struct BusinessEvents {
    events: Vec<Event>,
}

impl BusinessEvents {
    /// The keys of this transform (per-event keys are `event.<e>.*`).
    pub fn def() -> ConfigDef {
        BusinessEventsConfig::config_def()
    }
}

impl Transform for BusinessEvents {
    fn configure(&mut self, config: &RawConfig) -> Result<()> {
        let c: BusinessEventsConfig = read_config(config)?;
        self.events = c.events;
        Ok(())
    }

    fn apply(&mut self, record: ConnectRecord) -> Result<Option<ConnectRecord>> {
        Ok(Some(record))
    }

    fn apply_many(&mut self, record: ConnectRecord, out: &mut Vec<ConnectRecord>) -> Result<()> {
        let Some(ch) = change_of(&record.value) else {
            out.push(record);
            return Ok(());
        };
        let table = ch.get("table").and_then(Value::as_str).unwrap_or("");
        let short = table.rsplit_once('.').map_or(table, |(_, t)| t);
        let mut events = Vec::new();
        if matches!(op_of(ch), Some("c" | "u" | "d" | "r")) {
            for e in &self.events {
                if e.table.as_deref().is_some_and(|t| t != table && t != short) {
                    continue;
                }
                let fail = |what: &str, err: velocity_api::ConnectError| {
                    velocity_api::ConnectError::fatal(format!(
                        "business event {} ({what}): {err}",
                        e.alias
                    ))
                };
                let cond = e.when.eval(ch).map_err(|x| fail("when", x))?;
                if truth(&cond).map_err(|x| fail("when", x))? != Some(true) {
                    continue;
                }
                let mut data = Vec::with_capacity(e.fields.len());
                for (path, x) in &e.fields {
                    let v = x.eval(ch).map_err(|err| fail(&path.join("."), err))?;
                    put_path(&mut data, path, v);
                }
                let mut ev = ConnectRecord::new(
                    e.topic.clone(),
                    record.key_schema.clone(),
                    record.key.clone(),
                    None,
                    envelope(e.event_type.clone(), ch, data),
                );
                if let Some(k) = &e.key {
                    ev.key = k.eval(ch).map_err(|x| fail("key", x))?;
                    ev.key_schema = None;
                }
                ev.timestamp = record.timestamp;
                events.push(ev);
            }
        }
        out.push(record);
        out.append(&mut events);
        Ok(())
    }

    fn config_def(&self) -> ConfigDef {
        BusinessEvents::def()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::cast::tests::note_event;
    use crate::domain::cast::Cast;
    use crate::domain::filter::NetChangeFilter;
    use crate::testutil::cfg;
    use crate::util::map_get;

    const CONF: &[(&str, &str)] = &[
        ("topic", "biz"),
        ("events", "changed,delivered"),
        ("event.changed.type", "NoteStatusChanged"),
        ("event.changed.table", "note"),
        ("event.changed.when", "$op = 'u' and $before.body <> body"),
        ("event.changed.fields", "noteId,from,to"),
        ("event.changed.field.noteId", "id"),
        ("event.changed.field.from", "$before.body"),
        ("event.changed.field.to", "body"),
        ("event.changed.key", "id"),
        ("event.delivered.type", "NoteDelivered"),
        (
            "event.delivered.when",
            "body = 'delivered' and coalesce($before.body, '') <> 'delivered'",
        ),
        ("event.delivered.fields", "id"),
        ("event.delivered.topic", "biz.delivered"),
    ];

    /// Runs cast → filter → business over one transaction; returns
    /// (topic, type, data) of the business events.
    fn run(events: Vec<ConnectRecord>) -> Vec<(String, String, Value)> {
        let mut cast = Cast::default();
        cast.configure(&cfg(&[])).unwrap();
        let mut filter = NetChangeFilter::default();
        filter.configure(&cfg(&[])).unwrap();
        let mut biz = BusinessEvents::default();
        biz.configure(&cfg(CONF)).unwrap();
        let mut net = Vec::new();
        for e in events {
            filter
                .apply_many(cast.apply(e).unwrap().unwrap(), &mut net)
                .unwrap();
        }
        filter.on_transaction_end(&mut net).unwrap();
        let mut out = Vec::new();
        for r in net {
            biz.apply_many(r, &mut out).unwrap();
        }
        out.into_iter()
            .filter(|r| change_of(&r.value).is_none())
            .map(|r| {
                let Value::Map(m) = &r.value else { panic!() };
                (
                    r.topic.clone(),
                    map_get(m, "type")
                        .and_then(Value::as_str)
                        .unwrap()
                        .to_owned(),
                    map_get(m, "data").cloned().unwrap(),
                )
            })
            .collect()
    }

    fn data(pairs: &[(&str, Value)]) -> Value {
        crate::testutil::map(pairs)
    }

    #[test]
    fn a_status_change_and_a_delivery_each_emit_once() {
        let got = run(vec![
            note_event("u", Some(5), Some((1, "planned")), Some((1, "loaded"))),
            note_event("u", Some(5), Some((1, "loaded")), Some((1, "delivered"))),
        ]);
        assert_eq!(
            got,
            [
                (
                    "biz".to_owned(),
                    "NoteStatusChanged".to_owned(),
                    data(&[
                        ("noteId", Value::Int32(1)),
                        ("from", Value::String("planned".into())),
                        ("to", Value::String("delivered".into())),
                    ])
                ),
                (
                    "biz.delivered".to_owned(),
                    "NoteDelivered".to_owned(),
                    data(&[("id", Value::Int32(1))])
                ),
            ]
        );
    }

    #[test]
    fn no_event_without_a_change_of_the_watched_field() {
        // a change that ends where it started is dropped by the filter
        assert!(run(vec![
            note_event("u", Some(6), Some((1, "a")), Some((1, "b"))),
            note_event("u", Some(6), Some((1, "b")), Some((1, "a"))),
        ])
        .is_empty());
        // an insert is no status change; delivered again is no delivery
        assert!(run(vec![note_event("c", Some(7), None, Some((2, "new")))]).is_empty());
        assert!(run(vec![note_event(
            "u",
            Some(8),
            Some((3, "delivered")),
            Some((3, "delivered"))
        )])
        .is_empty());
        // a delete + insert collapsed into one update carries the deleted row as before
        let got = run(vec![
            note_event("d", Some(9), Some((4, "planned")), None),
            note_event("c", Some(9), None, Some((4, "delivered"))),
        ]);
        assert_eq!(got.len(), 2, "{got:?}");
    }

    #[test]
    fn the_change_passes_first_and_errors_name_the_key() {
        let mut cast = Cast::default();
        cast.configure(&cfg(&[])).unwrap();
        let mut biz = BusinessEvents::default();
        biz.configure(&cfg(CONF)).unwrap();
        let ch = cast
            .apply(note_event("u", Some(1), Some((1, "x")), Some((1, "y"))))
            .unwrap()
            .unwrap();
        let mut out = Vec::new();
        biz.apply_many(ch.clone(), &mut out).unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(out[0], ch);
        assert_eq!(out[1].key, Value::Int32(1));
        for (drop, key) in [
            ("event.changed.when", "event.changed.when"),
            ("topic", "topic"),
        ] {
            let pairs: Vec<_> = CONF.iter().copied().filter(|(k, _)| *k != drop).collect();
            let e = BusinessEvents::default()
                .configure(&cfg(&pairs))
                .unwrap_err();
            assert!(e.to_string().contains(key), "{e}");
        }
        let mut bad = CONF.to_vec();
        bad.push(("event.delivered.when", "body ="));
        bad.retain(|(k, v)| *k != "event.delivered.when" || *v == "body =");
        let e = BusinessEvents::default().configure(&cfg(&bad)).unwrap_err();
        assert!(e.to_string().contains("event.delivered.when"), "{e}");
    }
}
