//! Phase 2 of the domain pipeline,
//! `io.velocity.transforms.domain.NetChangeFilter`: per source transaction,
//! the net effect of all changes to the same key (table + record key) of
//! [`super::cast`]'s records:
//!
//! | changes in one transaction | emitted |
//! |---|---|
//! | insert, then updates | one `c` with the final row |
//! | update(s) | one `u` with the final row (`before` = the first known before image) |
//! | delete, then insert | one `u` with the final row (`before` = the deleted row) |
//! | insert, …, delete | nothing |
//! | update(s) or delete+insert ending where they started (row = before) | nothing (no-op) |
//! | …, delete (row existed before) | one `d` (the last delete) |
//!
//! A no-op is only recognised when the before image is known (PostgreSQL
//! tables with `REPLICA IDENTITY FULL`, or a delete's row).
//!
//! **Transaction boundaries.** Changes of one transaction are held until the
//! source reports its end ([`Transform::on_transaction_end`], from the
//! PostgreSQL connector's commit marker) or a change of another transaction
//! arrives; then the net changes are emitted in the order their keys first
//! appeared. Changes without a transaction id (`r` snapshot reads, sources
//! without transactions) are passed on at once, after anything held.
//! Records that are not changes keep their place among the held ones.
//!
//! **Bound.** A transaction with more than `max.buffered.records` changes
//! (default 10000) is not collapsed: the held changes and the rest of the
//! transaction are passed on unchanged, with a warning; nothing is dropped.
//!
//! Offsets: while changes are held, [`Transform::holds_records`] is true and
//! the runtime stores no offset past them, so a crash replays the whole
//! transaction. Meant for a source connector's chain only: a sink chain has
//! no transaction ends, so [`Transform::is_stateful`] is true and a sink
//! connector listing this transform fails config validation on
//! `transforms.<alias>.type`.

use std::collections::HashMap;

use velocity_api::config::{ConfigReader, TypedConfig};
use velocity_api::{
    ConfigDef, ConfigKey, ConnectRecord, RawConfig, Result, Struct, Transform, Value,
};

use super::{change_of, op_of};
use crate::error::read_config;

pub use keys::*;

/// The keys of the net-change filter, each declared once.
pub mod keys {
    use velocity_api::config::{ConfigKey, ConfigType::*, Importance::*};

    velocity_api::config_keys! {
        /// `max.buffered.records`: most changes of one transaction held, at least 1 (default 10 000).
        MAX_BUFFERED_RECORDS = ConfigKey::new("max.buffered.records", Int, Some("10000"), Medium, "Most changes of one transaction held for collapsing; a larger transaction is passed on un-collapsed, with a warning.").at_least(1);
    }
}

/// The typed configuration of the net-change filter.
#[derive(Debug, Clone, Copy)]
pub struct NetChangeFilterConfig {
    max_buffered: usize,
}

impl TypedConfig for NetChangeFilterConfig {
    const KEYS: &'static [ConfigKey] = KEYS;

    fn read(r: &mut ConfigReader<'_>) -> NetChangeFilterConfig {
        NetChangeFilterConfig {
            max_buffered: r.int(&MAX_BUFFERED_RECORDS),
        }
    }
}

/// Default of `max.buffered.records`.
pub const DEFAULT_MAX_BUFFERED: usize = 10_000;

/// `io.velocity.transforms.domain.NetChangeFilter` (see the module docs).
pub struct NetChangeFilter {
    max_buffered: usize,
    /// The transaction whose changes are held.
    tx: Option<String>,
    /// Held records of `tx`, in arrival order.
    held: Vec<ConnectRecord>,
    /// `tx` exceeded the bound: pass its changes on as they come.
    overflowed: bool,
}

impl Default for NetChangeFilter {
    fn default() -> Self {
        NetChangeFilter {
            max_buffered: DEFAULT_MAX_BUFFERED,
            tx: None,
            held: Vec::new(),
            overflowed: false,
        }
    }
}

/// The net effect for one key.
struct Group {
    /// Index of the last change for the key in `held`.
    last: usize,
    /// The row existed before the transaction (first change was `u`/`d`).
    existed: bool,
    /// The row as it was before the transaction, when known.
    initial: Option<Value>,
}

impl NetChangeFilter {
    /// The keys of this transform.
    pub fn def() -> ConfigDef {
        NetChangeFilterConfig::config_def()
    }

    /// Emits the net changes of the held transaction and forgets it.
    fn flush(&mut self, out: &mut Vec<ConnectRecord>) {
        self.tx = None;
        self.overflowed = false;
        if self.held.is_empty() {
            return;
        }
        let held = std::mem::take(&mut self.held);
        // slot per held record: Some(group id) for changes, None for others
        let mut groups: Vec<Group> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut first_of: Vec<Option<usize>> = vec![None; held.len()];
        for (i, r) in held.iter().enumerate() {
            let Some(ch) = change_of(&r.value) else {
                continue;
            };
            let fp = format!(
                "{:?}\u{0}{:?}",
                ch.get("table"),
                ch.get("key").filter(|k| !k.is_null()).unwrap_or(&r.key)
            );
            match index.get(&fp) {
                Some(&g) => groups[g].last = i,
                None => {
                    let op = op_of(ch).unwrap_or("");
                    let initial = match op {
                        "d" => ch.get("row").cloned(),
                        "u" => ch.get("before").filter(|b| !b.is_null()).cloned(),
                        _ => None,
                    };
                    index.insert(fp, groups.len());
                    first_of[i] = Some(groups.len());
                    groups.push(Group {
                        last: i,
                        existed: op != "c",
                        initial,
                    });
                }
            }
        }
        let mut held: Vec<Option<ConnectRecord>> = held.into_iter().map(Some).collect();
        for i in 0..held.len() {
            let is_change = held[i]
                .as_ref()
                .is_some_and(|r| change_of(&r.value).is_some());
            if !is_change {
                if let Some(r) = held[i].take() {
                    out.push(r);
                }
                continue;
            }
            let Some(g) = first_of[i] else { continue };
            let group = &groups[g];
            let Some(last) = held[group.last].take() else {
                continue;
            };
            if let Some(r) = net_effect(last, group.existed, group.initial.clone()) {
                out.push(r);
            }
        }
    }
}

/// The net change of a key whose last change is `last`.
fn net_effect(
    mut last: ConnectRecord,
    existed: bool,
    initial: Option<Value>,
) -> Option<ConnectRecord> {
    let Value::Struct(ch) = &mut last.value else {
        return Some(last);
    };
    let exists = op_of(ch) != Some("d");
    let op = match (existed, exists) {
        (false, false) => return None,
        (false, true) => "c",
        (true, false) => "d",
        (true, true) => {
            if initial.as_ref().is_some_and(|i| Some(i) == ch.get("row")) {
                return None;
            }
            "u"
        }
    };
    set(ch, "op", Value::String(op.to_owned()));
    let before = if op == "u" {
        initial.unwrap_or(Value::Null)
    } else {
        Value::Null
    };
    set(ch, "before", before);
    Some(last)
}

fn set(s: &mut Struct, name: &str, v: Value) {
    if let Some(f) = s.schema.field_named(name) {
        let i = f.index;
        s.values[i] = v;
    }
}

impl Transform for NetChangeFilter {
    fn configure(&mut self, config: &RawConfig) -> Result<()> {
        let c: NetChangeFilterConfig = read_config(config)?;
        self.max_buffered = c.max_buffered;
        Ok(())
    }

    /// Stateless use (a sink chain, or a chain without transaction ends):
    /// records pass unchanged. Source chains call `apply_many`.
    fn apply(&mut self, record: ConnectRecord) -> Result<Option<ConnectRecord>> {
        Ok(Some(record))
    }

    fn apply_many(&mut self, record: ConnectRecord, out: &mut Vec<ConnectRecord>) -> Result<()> {
        let tx = match change_of(&record.value) {
            None => {
                // not a change: keep its place among held changes
                if self.held.is_empty() {
                    out.push(record);
                } else {
                    self.held.push(record);
                }
                return Ok(());
            }
            Some(ch) => match (op_of(ch), ch.get("tx_id").and_then(Value::as_str)) {
                (Some("c" | "u" | "d"), Some(tx)) => tx.to_owned(),
                _ => {
                    self.flush(out);
                    out.push(record);
                    return Ok(());
                }
            },
        };
        if self.tx.as_deref() != Some(tx.as_str()) {
            // a change of another transaction: the held one has ended
            self.flush(out);
            self.tx = Some(tx);
        }
        if self.overflowed {
            out.push(record);
            return Ok(());
        }
        self.held.push(record);
        if self.held.len() > self.max_buffered {
            tracing::warn!(
                tx_id = self.tx.as_deref().unwrap_or(""),
                max_buffered_records = self.max_buffered,
                "transaction has more changes than max.buffered.records; passing its changes on un-collapsed"
            );
            self.overflowed = true;
            out.append(&mut self.held);
        }
        Ok(())
    }

    fn on_transaction_end(&mut self, out: &mut Vec<ConnectRecord>) -> Result<()> {
        self.flush(out);
        Ok(())
    }

    fn holds_records(&self) -> bool {
        !self.held.is_empty()
    }

    fn is_stateful(&self) -> bool {
        true
    }

    fn config_def(&self) -> ConfigDef {
        NetChangeFilter::def()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::cast::tests::note_event;
    use crate::domain::cast::Cast;
    use crate::testutil::cfg;

    struct Pipe {
        cast: Cast,
        filter: NetChangeFilter,
    }

    impl Pipe {
        fn new(max: &str) -> Pipe {
            let mut cast = Cast::default();
            cast.configure(&cfg(&[])).unwrap();
            let mut filter = NetChangeFilter::default();
            filter
                .configure(&cfg(&[("max.buffered.records", max)]))
                .unwrap();
            Pipe { cast, filter }
        }

        /// Feeds the events; returns what came out before the end, and at it.
        fn run(&mut self, events: Vec<ConnectRecord>) -> (Vec<Out>, Vec<Out>) {
            let mut early = Vec::new();
            for e in events {
                if let Some(c) = self.cast.apply(e).unwrap() {
                    self.filter.apply_many(c, &mut early).unwrap();
                }
            }
            let mut end = Vec::new();
            self.filter.on_transaction_end(&mut end).unwrap();
            assert!(!self.filter.holds_records());
            (summary(&early), summary(&end))
        }
    }

    /// (op, id, body) of an emitted change.
    type Out = (String, i32, String);

    fn summary(v: &[ConnectRecord]) -> Vec<Out> {
        v.iter()
            .map(|r| {
                let ch = change_of(&r.value).unwrap();
                let row = ch.get("row").unwrap().as_struct().unwrap();
                (
                    op_of(ch).unwrap().to_owned(),
                    row.get("id").and_then(Value::as_i64).unwrap() as i32,
                    row.get("body")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned(),
                )
            })
            .collect()
    }

    fn t(op: &str, id: i32, body: &str) -> Out {
        (op.to_owned(), id, body.to_owned())
    }

    #[test]
    fn insert_then_update_is_one_insert_with_the_final_state() {
        let (early, end) = Pipe::new("100").run(vec![
            note_event("c", Some(1), None, Some((1, "a"))),
            note_event("u", Some(1), Some((1, "a")), Some((1, "b"))),
            note_event("u", Some(1), Some((1, "b")), Some((1, "c"))),
        ]);
        assert!(early.is_empty());
        assert_eq!(end, [t("c", 1, "c")]);
    }

    #[test]
    fn delete_then_insert_is_one_update() {
        let (_, end) = Pipe::new("100").run(vec![
            note_event("d", Some(2), Some((1, "old")), None),
            note_event("c", Some(2), None, Some((1, "new"))),
        ]);
        assert_eq!(end, [t("u", 1, "new")]);
    }

    #[test]
    fn insert_then_delete_is_nothing_and_noop_updates_vanish() {
        let (early, end) = Pipe::new("100").run(vec![
            note_event("c", Some(3), None, Some((1, "x"))),
            note_event("d", Some(3), Some((1, "x")), None),
            note_event("u", Some(3), Some((2, "same")), Some((2, "same"))),
            note_event("d", Some(3), Some((3, "back")), None),
            note_event("c", Some(3), None, Some((3, "back"))),
        ]);
        assert!(early.is_empty() && end.is_empty(), "{early:?} {end:?}");
    }

    #[test]
    fn keys_keep_first_seen_order_and_deletes_stay() {
        let (_, end) = Pipe::new("100").run(vec![
            note_event("u", Some(4), None, Some((5, "e1"))),
            note_event("d", Some(4), Some((6, "f")), None),
            note_event("u", Some(4), None, Some((5, "e2"))),
            note_event("c", Some(4), None, Some((7, "g"))),
        ]);
        assert_eq!(end, [t("u", 5, "e2"), t("d", 6, "f"), t("c", 7, "g")]);
    }

    #[test]
    fn another_transaction_ends_the_held_one() {
        let mut p = Pipe::new("100");
        let (early, end) = p.run(vec![
            note_event("c", Some(8), None, Some((1, "a"))),
            note_event("u", Some(9), Some((1, "a")), Some((1, "b"))),
        ]);
        assert_eq!(early, [t("c", 1, "a")]);
        assert_eq!(end, [t("u", 1, "b")]);
    }

    #[test]
    fn snapshot_reads_pass_at_once() {
        let (early, end) =
            Pipe::new("100").run(vec![note_event("r", Some(1), None, Some((1, "s")))]);
        assert_eq!(early, [t("r", 1, "s")]);
        assert!(end.is_empty());
    }

    #[test]
    fn an_oversized_transaction_passes_un_collapsed() {
        let (early, end) = Pipe::new("2").run(vec![
            note_event("c", Some(1), None, Some((1, "a"))),
            note_event("u", Some(1), Some((1, "a")), Some((1, "b"))),
            note_event("u", Some(1), Some((1, "b")), Some((1, "c"))),
            note_event("d", Some(1), Some((1, "c")), None),
        ]);
        assert_eq!(
            early,
            [
                t("c", 1, "a"),
                t("u", 1, "b"),
                t("u", 1, "c"),
                t("d", 1, "c")
            ]
        );
        assert!(end.is_empty());
    }

    #[test]
    fn non_changes_keep_their_place() {
        let mut f = NetChangeFilter::default();
        let mut cast = Cast::default();
        cast.configure(&cfg(&[])).unwrap();
        let other = ConnectRecord::new("hb", None, Value::Null, None, Value::Int32(1));
        let mut out = Vec::new();
        f.apply_many(other.clone(), &mut out).unwrap();
        assert_eq!(out.len(), 1);
        let c = cast
            .apply(note_event("c", Some(1), None, Some((1, "a"))))
            .unwrap()
            .unwrap();
        f.apply_many(c, &mut out).unwrap();
        f.apply_many(other.clone(), &mut out).unwrap();
        assert_eq!(out.len(), 1);
        assert!(f.holds_records());
        f.on_transaction_end(&mut out).unwrap();
        assert_eq!(out.len(), 3);
        assert!(change_of(&out[1].value).is_some());
        assert_eq!(out[2], other);
        let e = NetChangeFilter::default()
            .configure(&cfg(&[("max.buffered.records", "0")]))
            .unwrap_err();
        assert!(
            e.to_string().contains(
                "Invalid value 0 for configuration max.buffered.records: Value must be at least 1"
            ),
            "{e}"
        );
    }
}
