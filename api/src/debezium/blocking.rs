//! Debezium's blocking snapshot (`execute-snapshot` with `"type":
//! "blocking"`, `ChangeEventSourceCoordinator#doBlockingSnapshot`), the
//! part every relational source shares: which tables a signal asks for
//! and with which statement each is read ([`BlockingSnapshot::plan`]), and
//! the offsets its records carry ([`mark_offset`], [`unfinished`]).
//!
//! The behaviour, as Debezium 3.6 runs it and the connectors drive it:
//! streaming stops right after the signal, the listed tables are read as
//! an initial snapshot reads them (`op: "r"`, `source.snapshot` `first`,
//! `first_in_data_collection`, `true`, `last_in_data_collection`, `last`),
//! then streaming resumes from where it stopped. Changes committed between
//! the signal and the snapshot's read may arrive twice (in the snapshot
//! and streamed after it), never lost: for every key the last event is the
//! table's state.
//!
//! Offsets: a blocking snapshot reuses the streaming offset of the signal
//! (the position just after it) and marks it `snapshot: "BLOCKING"`; on
//! PostgreSQL with `last_snapshot_record` and `snapshot_completed`
//! (`false`, `true` on the last record), as Debezium's
//! `CommonOffsetContext#preSnapshotStart(onDemand)`. A restart from such an
//! offset takes no initial snapshot (the stored snapshot is not
//! `INITIAL`) and streams on after the signal, as Debezium does: a blocking
//! snapshot cut short by a restart is not resumed (the rows emitted stay
//! emitted; [`unfinished`] tells the connector to warn so the signal can be
//! sent again).

use regex::RegexBuilder;

use super::signal::{filter_for, AdditionalCondition};
use crate::record::Offset;

/// The `snapshot` offset value of a blocking snapshot's records
/// (Debezium's `SnapshotType.BLOCKING`).
pub const BLOCKING: &str = "BLOCKING";

/// One table of a blocking snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockingTable {
    /// Fully-qualified name (`schema.table` / `db.table`), as captured.
    pub id: String,
    /// The `additional-conditions` filter given for it, if any (see
    /// [`select_statement`]).
    pub filter: Option<String>,
}

/// A blocking snapshot asked for by a signal: the tables to read, in
/// snapshot order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockingSnapshot {
    /// The signal's id.
    pub signal_id: String,
    /// The captured tables the signal's `data-collections` match.
    pub tables: Vec<BlockingTable>,
}

impl BlockingSnapshot {
    /// The tables of `captured` (fully-qualified names of the tables the
    /// connector captures) that the signal's `data_collections` match, in
    /// name order, each with the filter of the first `conditions` entry
    /// whose `data-collection` matches it. As Debezium's
    /// `getDataCollectionPattern`: every entry is a comma-separated list of
    /// regular expressions matched against the whole name,
    /// case-insensitively; a table not captured is never snapshotted; an
    /// expression that matches nothing (or does not compile) matches no
    /// table.
    pub fn plan(
        signal_id: &str,
        data_collections: &[String],
        conditions: &[AdditionalCondition],
        captured: &[String],
    ) -> BlockingSnapshot {
        let patterns: Vec<regex::Regex> = data_collections
            .iter()
            .flat_map(|e| e.split(','))
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .filter_map(|e| {
                RegexBuilder::new(&format!("^(?:{e})$"))
                    .case_insensitive(true)
                    .build()
                    .ok()
            })
            .collect();
        let mut names: Vec<&String> = captured
            .iter()
            .filter(|t| patterns.iter().any(|p| p.is_match(t)))
            .collect();
        names.sort();
        names.dedup();
        let tables = names
            .into_iter()
            .map(|id| BlockingTable {
                id: id.clone(),
                filter: filter_for(conditions, id)
                    .map(str::trim)
                    .filter(|f| !f.is_empty())
                    .map(str::to_owned),
            })
            .collect();
        BlockingSnapshot {
            signal_id: signal_id.to_owned(),
            tables,
        }
    }

    /// The names of the tables, for logs.
    pub fn names(&self) -> Vec<&str> {
        self.tables.iter().map(|t| t.id.as_str()).collect()
    }
}

/// The statement a blocking snapshot reads a table with: without a filter
/// `SELECT <projection> FROM <table>`; with a filter that is a whole
/// statement (it starts with `SELECT`, as Debezium documents a blocking
/// snapshot's `filter`: "the same value used in
/// `snapshot.select.statement.overrides`") that statement, as written;
/// with any other filter (an incremental snapshot's condition, e.g.
/// `color = 'blue'`) `SELECT <projection> FROM <table> WHERE <filter>`.
/// `table` and `projection` are quoted by the caller. The statement's
/// columns are read by position: a whole statement selects the table's
/// columns in table order (e.g. `SELECT * FROM … WHERE …`).
pub fn select_statement(table: &str, projection: &str, filter: Option<&str>) -> String {
    match filter.map(str::trim).filter(|f| !f.is_empty()) {
        None => format!("SELECT {projection} FROM {table}"),
        Some(f) if is_statement(f) => f.to_owned(),
        Some(f) => format!("SELECT {projection} FROM {table} WHERE {f}"),
    }
}

fn is_statement(f: &str) -> bool {
    let head: String = f.chars().take(7).collect();
    head.len() == 7 && head[..6].eq_ignore_ascii_case("select") && head[6..].trim().is_empty()
}

/// Marks `offset` (the streaming position of the signal) as the offset of
/// a blocking snapshot's record: `snapshot: "BLOCKING"`; with
/// `completion_keys` (PostgreSQL) also `last_snapshot_record` and
/// `snapshot_completed`, both `last`; without them (MySQL) only the last
/// record gets `snapshot_completed: true`.
pub fn mark_offset(offset: &mut Offset, last: bool, completion_keys: bool) {
    offset.insert("snapshot".into(), BLOCKING.into());
    if completion_keys {
        offset.insert("last_snapshot_record".into(), last.into());
        offset.insert("snapshot_completed".into(), last.into());
    } else if last {
        offset.insert("snapshot_completed".into(), true.into());
    } else {
        offset.remove("snapshot_completed");
    }
}

/// True when `offset` was stored by a blocking snapshot's record other
/// than its last: the snapshot was cut short (it is not resumed).
pub fn unfinished(offset: &Offset) -> bool {
    let is_true = |k: &str| offset.get(k).and_then(|v| v.as_bool()) == Some(true);
    offset
        .get("snapshot")
        .and_then(|v| v.as_str())
        .is_some_and(|s| s.eq_ignore_ascii_case(BLOCKING))
        && !is_true("last_snapshot_record")
        && !is_true("snapshot_completed")
}

/// True when the `snapshot` value of a stored offset says a blocking
/// snapshot wrote it (such an offset never asks for an initial snapshot).
pub fn is_blocking_marker(v: &serde_json::Value) -> bool {
    v.as_str().is_some_and(|s| s.eq_ignore_ascii_case(BLOCKING))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::debezium::signal::SignalRecord;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    fn conditions(data: &str) -> Vec<AdditionalCondition> {
        let rec = SignalRecord {
            id: "s".into(),
            kind: "execute-snapshot".into(),
            data: Some(data.into()),
        };
        match rec.parse().unwrap() {
            crate::debezium::signal::Signal::ExecuteSnapshot {
                additional_conditions,
                ..
            } => additional_conditions,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn plan_matches_whole_names_case_insensitively_in_name_order() {
        let captured = names(&[
            "inv.orders",
            "inv.customers",
            "inv.orders_2024",
            "crm.Notes",
        ]);
        let p = BlockingSnapshot::plan(
            "sig-1",
            &names(&["inv.ORDERS", "crm\\..*", "nowhere.t"]),
            &[],
            &captured,
        );
        assert_eq!(p.signal_id, "sig-1");
        assert_eq!(p.names(), vec!["crm.Notes", "inv.orders"]);
        assert!(p.tables.iter().all(|t| t.filter.is_none()));
        // an entry may list several expressions; duplicates collapse; a
        // broken expression matches nothing
        let p = BlockingSnapshot::plan(
            "s",
            &names(&["inv.orders.*, inv.orders", "(", "inv.customers"]),
            &[],
            &captured,
        );
        assert_eq!(
            p.names(),
            vec!["inv.customers", "inv.orders", "inv.orders_2024"]
        );
        // tables not captured are never read
        let p = BlockingSnapshot::plan("s", &names(&[".*"]), &[], &names(&["a.b"]));
        assert_eq!(p.names(), vec!["a.b"]);
    }

    #[test]
    fn filters_attach_to_the_tables_their_data_collection_matches() {
        let c = conditions(
            r#"{"data-collections": ["x"], "additional-conditions": [
                {"data-collection": "inv.orders", "filter": "SELECT * FROM inv.orders WHERE id < 10"},
                {"data-collection": "inv\\.cust.*", "filter": "  "}]}"#,
        );
        let p = BlockingSnapshot::plan(
            "s",
            &names(&["inv.*"]),
            &c,
            &names(&["inv.orders", "inv.customers"]),
        );
        assert_eq!(
            p.tables,
            vec![
                BlockingTable {
                    id: "inv.customers".into(),
                    filter: None
                },
                BlockingTable {
                    id: "inv.orders".into(),
                    filter: Some("SELECT * FROM inv.orders WHERE id < 10".into())
                },
            ]
        );
    }

    #[test]
    fn statements_are_the_override_or_a_where_clause() {
        assert_eq!(
            select_statement("\"s\".\"t\"", "\"a\", \"b\"", None),
            "SELECT \"a\", \"b\" FROM \"s\".\"t\""
        );
        assert_eq!(
            select_statement("t", "*", Some(" select * FROM t WHERE a > 1 ")),
            "select * FROM t WHERE a > 1"
        );
        assert_eq!(
            select_statement("t", "a", Some("SELECT\n* FROM t")),
            "SELECT\n* FROM t"
        );
        assert_eq!(
            select_statement("t", "a, b", Some("a > 1 AND b = 'x'")),
            "SELECT a, b FROM t WHERE a > 1 AND b = 'x'"
        );
        // a column whose name starts with "select" is a condition
        assert_eq!(
            select_statement("t", "a", Some("selected = true")),
            "SELECT a FROM t WHERE selected = true"
        );
        assert_eq!(select_statement("t", "a", Some("")), "SELECT a FROM t");
    }

    #[test]
    fn offsets_are_marked_as_debezium_marks_them() {
        let mut base = Offset::new();
        base.insert("lsn".into(), 7.into());
        let mut o = base.clone();
        mark_offset(&mut o, false, true);
        assert_eq!(
            serde_json::Value::Object(o.clone()),
            serde_json::json!({"lsn": 7, "snapshot": "BLOCKING", "last_snapshot_record": false, "snapshot_completed": false})
        );
        assert!(unfinished(&o));
        mark_offset(&mut o, true, true);
        assert_eq!(o["last_snapshot_record"], true);
        assert_eq!(o["snapshot_completed"], true);
        assert!(!unfinished(&o));
        let mut m = base.clone();
        mark_offset(&mut m, false, false);
        assert_eq!(
            serde_json::Value::Object(m.clone()),
            serde_json::json!({"lsn": 7, "snapshot": "BLOCKING"})
        );
        assert!(unfinished(&m));
        mark_offset(&mut m, true, false);
        assert_eq!(m["snapshot_completed"], true);
        assert!(!unfinished(&m));
        // other snapshots are not blocking ones
        let mut i = base;
        i.insert("snapshot".into(), "INITIAL".into());
        assert!(!unfinished(&i));
        assert!(is_blocking_marker(&serde_json::json!("blocking")));
        assert!(!is_blocking_marker(&serde_json::json!(true)));
    }
}
