//! The PostgreSQL source's initial snapshot options against the real
//! server and broker: `snapshot.fetch.size` (several round trips per
//! table), `snapshot.include.collection.list` (other tables stream only),
//! `snapshot.select.statement.overrides` (the given statement's rows, its
//! columns matched by name), and parallel snapshots — `snapshot.max.threads`
//! over several tables (Debezium's chunked mode and its legacy
//! table-per-thread mode) give exactly the rows of the one-thread snapshot,
//! and the key ranges of one table read every row once — each with the
//! `source.snapshot` markers Debezium gives that configuration.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::Duration;

use common::{consume_until, pg_connector_file, psql, unique, Worker};
use serde_json::{json, Value};

fn fresh_db(sql: &str) -> String {
    let db = unique("pgsnap");
    psql("postgres", &["-c", &format!("CREATE DATABASE {db}")]);
    psql(&db, &["-c", sql]);
    db
}

/// Drops slot `slot` once its walsender let it go (a slot outlives its
/// database and holds WAL back).
fn drop_slot(slot: &str) {
    common::wait_until(Duration::from_secs(30), "the slot to be released", || {
        psql("postgres", &["-c", &format!("SELECT count(*) FROM pg_replication_slots WHERE slot_name = '{slot}' AND active")]) == "0"
    });
    psql("postgres", &["-c", &format!("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '{slot}'")]);
}

/// One change event: (id, op, after, source.snapshot).
#[derive(Debug, Clone)]
struct Ev {
    id: i64,
    op: String,
    after: Value,
    marker: String,
}

/// The change events of `topic` (tombstones skipped), read until `done`.
fn events(topic: &str, timeout: Duration, mut done: impl FnMut(&[Ev]) -> bool) -> Vec<Ev> {
    let parse = |v: &Option<Vec<u8>>| -> Option<Ev> {
        let v: Value = serde_json::from_slice(v.as_ref()?).ok()?;
        let p = &v["payload"];
        let row = if p["after"].is_null() {
            &p["before"]
        } else {
            &p["after"]
        };
        Some(Ev {
            id: row["id"].as_i64()?,
            op: p["op"].as_str()?.to_owned(),
            after: p["after"].clone(),
            marker: p["source"]["snapshot"].as_str().unwrap_or("").to_owned(),
        })
    };
    // parsed as they arrive (the predicate sees every record so far)
    let mut evs = Vec::new();
    let mut seen = 0;
    consume_until(topic, timeout, |recs| {
        evs.extend(recs[seen..].iter().filter_map(|(_, v)| parse(v)));
        seen = recs.len();
        done(&evs)
    })
    .iter()
    .filter_map(|(_, v)| parse(v))
    .collect()
}

/// The events of `topic` once `want` arrived, then read again for a
/// moment longer, so that anything beyond `want` shows too.
fn all_events(topic: &str, want: usize) -> Vec<Ev> {
    events(topic, Duration::from_secs(180), |e| e.len() >= want);
    events(topic, Duration::from_secs(3), |e| e.len() > want)
}

/// A connector `name` on `db` with a fresh prefix and slot: (prefix, slot, file).
fn connector(
    dir: &std::path::Path,
    name: &str,
    db: &str,
    extra: Value,
) -> (String, String, PathBuf) {
    let prefix = unique("ps").replace('_', "");
    let slot = unique("snapslot").to_lowercase();
    let file = pg_connector_file(dir, name, db, &prefix, &slot, extra);
    (prefix, slot, file)
}

/// Counts of each `source.snapshot` marker.
fn markers(evs: &[Ev]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for e in evs.iter().filter(|e| e.op == "r") {
        *m.entry(e.marker.clone()).or_default() += 1;
    }
    m
}

fn counts(pairs: &[(&str, usize)]) -> BTreeMap<String, usize> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

/// Asserts each id of `evs` (all `r`) appears once; returns id -> after.
fn by_id(evs: &[Ev], what: &str) -> BTreeMap<i64, Value> {
    let mut m = BTreeMap::new();
    for e in evs {
        assert_eq!(e.op, "r", "{what}: only snapshot reads expected: {e:?}");
        assert!(
            m.insert(e.id, e.after.clone()).is_none(),
            "{what}: id {} twice",
            e.id
        );
    }
    m
}

#[test]
fn fetch_size_smaller_than_the_table_reads_every_row_once_with_debeziums_markers() {
    let db = fresh_db(
        "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 2345) g;",
    );
    let dir = tempfile::tempdir().unwrap();
    let (prefix, slot, file) = connector(
        dir.path(),
        "src",
        &db,
        json!({"snapshot.fetch.size": "100"}),
    );
    let mut w = Worker::start(dir.path(), "", &[file]);
    let evs = all_events(&format!("{prefix}.public.t"), 2345);
    w.stop();
    drop_slot(&slot);
    common::pg_drop_db(&db, &slot);
    let rows = by_id(&evs, "t");
    assert_eq!(rows.len(), 2345, "log:\n{}", w.log_text());
    for (id, after) in &rows {
        assert_eq!(after["v"], json!(format!("v{id}")));
    }
    // one table: `first` on its first record, `last` on its last
    assert_eq!(
        markers(&evs),
        counts(&[("first", 1), ("last", 1), ("true", 2343)])
    );
    assert_eq!(evs[0].marker, "first");
    assert_eq!(evs.last().unwrap().marker, "last");
}

#[test]
fn snapshot_include_collection_list_snapshots_only_the_matching_tables() {
    let db = fresh_db(
        "CREATE TABLE a (id int PRIMARY KEY, v text); CREATE TABLE b (id int PRIMARY KEY, v text);
         INSERT INTO a SELECT g, 'a' FROM generate_series(1, 10) g; INSERT INTO b SELECT g, 'b' FROM generate_series(1, 10) g;",
    );
    let dir = tempfile::tempdir().unwrap();
    let (prefix, slot, file) = connector(
        dir.path(),
        "src",
        &db,
        json!({"snapshot.include.collection.list": "PUBLIC\\.a"}),
    );
    let mut w = Worker::start(dir.path(), "", &[file]);
    let ta = format!("{prefix}.public.a");
    let tb = format!("{prefix}.public.b");
    events(&ta, Duration::from_secs(120), |e| e.len() >= 10);
    psql(
        &db,
        &[
            "-c",
            "INSERT INTO b VALUES (100, 'new'); INSERT INTO a VALUES (100, 'new')",
        ],
    );
    let a = events(&ta, Duration::from_secs(60), |e| e.len() >= 11);
    let b = events(&tb, Duration::from_secs(60), |e| !e.is_empty());
    // nothing more arrives on b
    let b_all = events(&tb, Duration::from_secs(3), |e| e.len() > 1);
    w.stop();
    drop_slot(&slot);
    common::pg_drop_db(&db, &slot);
    let reads: Vec<i64> = a.iter().filter(|e| e.op == "r").map(|e| e.id).collect();
    assert_eq!(
        reads,
        (1..=10).collect::<Vec<_>>(),
        "log:\n{}",
        w.log_text()
    );
    assert!(
        a.iter().any(|e| e.id == 100 && e.op == "c"),
        "a streams: {a:?}"
    );
    assert_eq!(b.len(), 1, "b is streamed only: {b:?}");
    assert_eq!((b[0].id, b[0].op.as_str()), (100, "c"));
    assert_eq!(b_all.len(), 1, "b: {b_all:?}");
    // the only snapshotted table carries both ends of the snapshot
    assert_eq!(
        markers(&a),
        counts(&[("first", 1), ("last", 1), ("true", 8)])
    );
}

#[test]
fn select_statement_override_reads_the_statements_rows_matching_columns_by_name() {
    let db = fresh_db(
        "CREATE TABLE t (id int PRIMARY KEY, v text, n int); CREATE TABLE u (id int PRIMARY KEY);
         INSERT INTO t SELECT g, 'v' || g, g * 10 FROM generate_series(1, 20) g; INSERT INTO u SELECT generate_series(1, 5);",
    );
    let dir = tempfile::tempdir().unwrap();
    let (prefix, slot, file) = connector(
        dir.path(),
        "src",
        &db,
        json!({
            "snapshot.select.statement.overrides": "public.t",
            // columns in another order than the table's, a filter, a trailing semicolon
            "snapshot.select.statement.overrides.public.t": "SELECT n, id, v FROM public.t WHERE id % 2 = 0;",
        }),
    );
    let mut w = Worker::start(dir.path(), "", &[file]);
    let tt = format!("{prefix}.public.t");
    let u = all_events(&format!("{prefix}.public.u"), 5);
    events(&tt, Duration::from_secs(60), |e| e.len() >= 10);
    psql(&db, &["-c", "INSERT INTO t VALUES (101, 'x', 1)"]);
    let t = events(&tt, Duration::from_secs(60), |e| {
        e.iter().any(|e| e.id == 101)
    });
    w.stop();
    drop_slot(&slot);
    common::pg_drop_db(&db, &slot);
    assert_eq!(by_id(&u, "u").len(), 5);
    let reads: Vec<&Ev> = t.iter().filter(|e| e.op == "r").collect();
    assert_eq!(
        reads.iter().map(|e| e.id).collect::<Vec<_>>(),
        (1..=10).map(|i| i * 2).collect::<Vec<_>>(),
        "log:\n{}",
        w.log_text()
    );
    for e in reads {
        assert_eq!(
            e.after,
            json!({"id": e.id, "v": format!("v{}", e.id), "n": e.id * 10})
        );
    }
}

/// Rows of a snapshot: (table, id) -> after.
type Rows = BTreeMap<(String, i64), Value>;

const WIDE: &str = "id bigint PRIMARY KEY, c1 integer, c2 bigint, c3 text, c4 numeric(12,2), c5 timestamptz, c6 boolean, c7 double precision, c8 varchar(32), c9 date";

fn wide_rows(table: &str, from: i64, to: i64) -> String {
    format!(
        "INSERT INTO {table} SELECT g, g % 1000, g * 7, 'shipment ' || g, g / 100.0, '2024-03-01 08:00:00+00'::timestamptz + g * interval '1 second', g % 2 = 0, g / 3.0, 'REF-' || g, DATE '2024-01-01' + (g % 365) FROM generate_series({from}, {to}) g;"
    )
}

#[test]
fn four_tables_on_four_threads_give_exactly_the_rows_of_one_thread() {
    let tables = ["t1", "t2", "t3", "t4"];
    let per_table = 3000;
    let mut sql = String::new();
    for (i, t) in tables.iter().enumerate() {
        let base = i as i64 * 100_000;
        sql.push_str(&format!("CREATE TABLE {t} ({WIDE});"));
        sql.push_str(&wide_rows(t, base + 1, base + per_table));
    }
    let db = fresh_db(&sql);
    let dir = tempfile::tempdir().unwrap();
    let runs = [
        ("one", json!({})),
        (
            "legacy",
            json!({"snapshot.max.threads": "4", "legacy.snapshot.max.threads": "true", "snapshot.fetch.size": "500"}),
        ),
        (
            "chunked",
            json!({"snapshot.max.threads": "4", "snapshot.fetch.size": "500"}),
        ),
    ];
    let conns: Vec<(String, String, PathBuf)> = runs
        .iter()
        .map(|(name, extra)| connector(dir.path(), name, &db, extra.clone()))
        .collect();
    let mut w = Worker::start(
        dir.path(),
        "",
        &conns.iter().map(|c| c.2.clone()).collect::<Vec<_>>(),
    );
    let mut got: HashMap<&str, (Rows, Vec<Ev>)> = HashMap::new();
    for ((name, _), (prefix, _, _)) in runs.iter().zip(&conns) {
        let mut rows = BTreeMap::new();
        let mut evs = Vec::new();
        for t in tables {
            let e = all_events(&format!("{prefix}.public.{t}"), per_table as usize);
            for (id, after) in by_id(&e, &format!("{name} {t}")) {
                rows.insert((t.to_owned(), id), after);
            }
            evs.extend(e);
        }
        got.insert(name, (rows, evs));
    }
    let log = w.log_text();
    w.stop();
    for (_, slot, _) in &conns {
        drop_slot(slot);
    }
    common::pg_drop_db(&db, &conns[0].1);
    let (one, one_evs) = &got["one"];
    assert_eq!(one.len(), 4 * per_table as usize, "log:\n{log}");
    for name in ["legacy", "chunked"] {
        assert!(
            got[name].0 == *one,
            "{name}: rows differ from the one-thread snapshot"
        );
    }
    assert!(
        log.contains("will be processed in 4 chunks"),
        "chunked plan logged:\n{log}"
    );
    // one thread and the chunked mode: `first` on the first table's first
    // record, `last` on the last table's last, the tables' own ends between
    let ordered = counts(&[
        ("first", 1),
        ("first_in_data_collection", 3),
        ("last_in_data_collection", 3),
        ("last", 1),
        ("true", 4 * per_table as usize - 8),
    ]);
    assert_eq!(markers(one_evs), ordered);
    let chunked = &got["chunked"].1;
    assert_eq!(markers(chunked), ordered);
    // chunks are read in key order: the ends are the first and last keys
    let at = |evs: &[Ev], m: &str| evs.iter().find(|e| e.marker == m).map(|e| e.id);
    assert_eq!(at(chunked, "first"), Some(1));
    assert_eq!(at(chunked, "last"), Some(300_000 + per_table));
    // legacy table-per-thread: no `first`; each table's ends; the record
    // emitted last is `last`
    assert_eq!(
        markers(&got["legacy"].1),
        counts(&[
            ("first_in_data_collection", 4),
            ("last_in_data_collection", 3),
            ("last", 1),
            ("true", 4 * per_table as usize - 8),
        ])
    );
}

#[test]
fn chunked_snapshot_of_one_table_reads_every_row_once() {
    // gaps and negative keys; a single-row table and an empty one around it
    let mut sql = format!("CREATE TABLE big ({WIDE});");
    sql.push_str(&wide_rows("big", -3000, 9000).replace(
        "generate_series(-3000, 9000)",
        "generate_series(-3000, 9000, 3)",
    ));
    sql.push_str(&format!("CREATE TABLE a_one ({WIDE});"));
    sql.push_str(&wide_rows("a_one", 5, 5));
    sql.push_str(&format!("CREATE TABLE z_empty ({WIDE});"));
    let db = fresh_db(&sql);
    let want: Vec<i64> = (-3000..=9000).step_by(3).collect();
    let dir = tempfile::tempdir().unwrap();
    let (prefix, slot, file) = connector(
        dir.path(),
        "src",
        &db,
        json!({"snapshot.max.threads": "4", "snapshot.max.threads.multiplier": "2", "snapshot.fetch.size": "333"}),
    );
    let mut w = Worker::start(dir.path(), "", &[file]);
    let big = all_events(&format!("{prefix}.public.big"), want.len());
    let one = all_events(&format!("{prefix}.public.a_one"), 1);
    let log = w.log_text();
    w.stop();
    drop_slot(&slot);
    common::pg_drop_db(&db, &slot);
    let rows = by_id(&big, "big");
    assert_eq!(
        rows.keys().copied().collect::<Vec<_>>(),
        want,
        "log:\n{log}"
    );
    for (id, after) in &rows {
        assert_eq!(after["c3"], json!(format!("shipment {id}")));
        assert_eq!(after["c8"], json!(format!("REF-{id}")));
    }
    assert!(
        log.contains("Table 'public.big' will be processed in 8 chunks."),
        "log:\n{log}"
    );
    assert_eq!(by_id(&one, "a_one").len(), 1);
    // a_one comes first (name order): its only record is the snapshot's
    // first; big's records follow, its first and last keys its ends; the
    // empty last table leaves the last record emitted marked `last`
    assert_eq!(one[0].marker, "first");
    let first_in = big
        .iter()
        .find(|e| e.marker == "first_in_data_collection")
        .map(|e| e.id);
    assert_eq!(first_in, Some(-3000));
    assert_eq!(
        markers(&big),
        counts(&[
            ("first_in_data_collection", 1),
            ("last", 1),
            ("true", want.len() - 2)
        ])
    );
    assert_eq!(
        big.iter().find(|e| e.marker == "last").map(|e| e.id),
        want.last().copied()
    );
}
