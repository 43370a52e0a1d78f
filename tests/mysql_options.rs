//! MySQL / MariaDB source options of Debezium's, against the real MariaDB
//! and broker: `event.processing.failure.handling.mode`,
//! `snapshot.mode=always` and the schema history's
//! `schema.history.internal.store.only.captured.*.ddl`.
//!
//! A change event that cannot be built is provoked the way it happens in
//! production: the table is altered with `sql_log_bin=0` (a hidden DDL, as
//! an online schema tool or a manual fix on the primary does), so the
//! connector's table model says `DATE` while the binlog carries a string.

mod common;

use std::time::Duration;

use common::{
    consume_until, failed_trace, mysql_connector_file as connector_file, mysql_sql as sql, unique,
    Worker,
};
use serde_json::{json, Value};

use common::change_ops as ops;

/// A database with `t (id, d DATE)` and a connector `src` on it streaming
/// (a first row of `t` was captured): (db, prefix, dir, worker).
fn streaming(extra: Value) -> (String, String, tempfile::TempDir, Worker) {
    let db = unique("vmy_opt");
    let prefix = unique("mo").replace('_', "");
    sql(&format!(
        "CREATE DATABASE {db}; USE {db}; CREATE TABLE t (id INT PRIMARY KEY, d DATE);"
    ));
    let dir = tempfile::tempdir().unwrap();
    let conn = connector_file(dir.path(), "src", &db, &prefix, extra);
    let w = Worker::start(dir.path(), "", &[conn]);
    w.wait_status("src", |s| s["tasks"][0]["state"] == "RUNNING");
    sql(&format!("USE {db}; INSERT INTO t VALUES (1, '2024-01-01')"));
    let got = ops(&format!("{prefix}.{db}.t"), |e| {
        e.iter().any(|(_, id)| *id == 1)
    });
    // read by the snapshot or streamed, depending on when the task got to it
    assert_eq!(got.len(), 1, "streaming; log:\n{}", w.log_text());
    (db, prefix, dir, w)
}

/// The socket of the MariaDB replica that scripts/services.sh runs beside
/// the primary, when it runs.
fn replica() -> Option<std::path::PathBuf> {
    let p = std::env::var("VELOCITY_MARIADB_REPLICA_SOCKET")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join(".velocity/services/mariadb-replica/run/mariadb.sock")
        });
    p.exists().then_some(p)
}

/// Runs `stmt` on database `db` of the primary without binlogging it (a
/// hidden DDL). The replica gets the same statement once it applied what
/// `ready` selects (a row of `t`): the hidden change would otherwise break
/// its replication of the rows that follow, and the failover test needs it.
fn hidden(db: &str, stmt: &str, ready: &str) {
    if let Some(sock) = replica() {
        let on_replica = |q: &str| {
            std::process::Command::new("mariadb")
                .arg("--no-defaults")
                .arg("-S")
                .arg(&sock)
                .args(["-uroot", "-N", "-B", "-e", q])
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        let check = format!("SELECT 1 FROM {db}.t WHERE {ready}");
        while on_replica(&check).unwrap_or_default().is_empty() {
            assert!(
                std::time::Instant::now() < deadline,
                "the replica did not apply {db}.t {ready} within 60 s: its replication is broken (make it again with VELOCITY_SERVICES=mariadb-replica scripts/services.sh up)"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        on_replica(&format!("USE {db}; SET SESSION sql_log_bin = 0; {stmt}"))
            .expect("the hidden statement runs on the replica");
    }
    sql(&format!(
        "USE {db}; SET SESSION sql_log_bin = 0; {stmt}; SET SESSION sql_log_bin = 1;"
    ));
}

/// A row whose value does not fit the connector's table model: `d` becomes
/// a string column without the binlog (and so the connector) seeing it.
fn undecodable_row(db: &str) {
    hidden(db, "ALTER TABLE t MODIFY d VARCHAR(20)", "id = 1");
    sql(&format!(
        "USE {db}; INSERT INTO t VALUES (2, 'not a date');"
    ));
}

/// `warn`: the row that cannot be decoded is logged with Debezium's text
/// and its offset and skipped; the next row of the table is delivered.
#[test]
fn warn_skips_an_undecodable_row_with_debeziums_warning() {
    let (db, prefix, _dir, mut w) =
        streaming(json!({"event.processing.failure.handling.mode": "warn"}));
    undecodable_row(&db);
    // the table back as the connector knows it, again without the binlog
    hidden(
        &db,
        "DELETE FROM t WHERE id = 2; ALTER TABLE t MODIFY d DATE",
        "id = 2",
    );
    sql(&format!(
        "USE {db}; INSERT INTO t VALUES (3, '2024-01-03');"
    ));
    let got: Vec<i64> = ops(&format!("{prefix}.{db}.t"), |e| {
        e.iter().any(|(_, id)| *id == 3)
    })
    .into_iter()
    .map(|(_, id)| id)
    .collect();
    let (_, status) = w.call("GET", "/connectors/src/status", None);
    let log = w.log_text();
    w.stop();
    sql(&format!("DROP DATABASE {db}"));
    assert_eq!(got, [1, 3], "row 2 skipped; log:\n{log}");
    assert_eq!(status["tasks"][0]["state"], "RUNNING", "{status}");
    let line = log
        .lines()
        .find(|l| l.contains("Error while processing event at offset {"))
        .unwrap_or_else(|| panic!("Debezium's warning; log:\n{log}"));
    assert!(
        line.contains("WARN") && line.contains("unexpected value") && line.contains(".t.d"),
        "{line}"
    );
}

/// `fail` (the default): the task stops on the row, naming its offset,
/// the cause and the key.
#[test]
fn fail_stops_the_task_on_an_undecodable_row() {
    let (db, _prefix, _dir, mut w) = streaming(json!({}));
    undecodable_row(&db);
    let trace = failed_trace(&w, "src");
    w.stop();
    sql(&format!("DROP DATABASE {db}"));
    assert!(
        trace.contains("Error while processing event at offset {")
            && trace.contains("unexpected value")
            && trace.contains("event.processing.failure.handling.mode"),
        "{trace}"
    );
}

/// `snapshot.mode=always`: a snapshot at every start, then streaming from
/// the snapshot's position: after a restart every row is read again
/// (`op: "r"`, including the one inserted while the connector was down),
/// and changes after it are streamed.
#[test]
fn always_snapshots_at_every_start_then_streams() {
    let db = unique("vmy_alw");
    let prefix = unique("ma").replace('_', "");
    sql(&format!(
        "CREATE DATABASE {db}; USE {db}; CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t VALUES (1), (2);"
    ));
    let dir = tempfile::tempdir().unwrap();
    let conn = connector_file(
        dir.path(),
        "src",
        &db,
        &prefix,
        json!({"snapshot.mode": "always"}),
    );
    let mut w = Worker::start(dir.path(), "", &[conn]);
    let topic = format!("{prefix}.{db}.t");
    let first = ops(&topic, |e| e.len() >= 2);
    sql(&format!("USE {db}; INSERT INTO t VALUES (3)"));
    ops(&topic, |e| e.len() >= 3);
    w.stop();
    sql(&format!("USE {db}; INSERT INTO t VALUES (4)"));
    w.restart();
    ops(&topic, |e| e.len() >= 7);
    sql(&format!("USE {db}; INSERT INTO t VALUES (5)"));
    let all = ops(&topic, |e| e.len() >= 8);
    let log = w.log_text();
    w.stop();
    sql(&format!("DROP DATABASE {db}"));
    let pairs = |v: &[(&str, i64)]| -> Vec<(String, i64)> {
        v.iter().map(|(op, id)| ((*op).to_owned(), *id)).collect()
    };
    assert_eq!(first, pairs(&[("r", 1), ("r", 2)]), "log:\n{log}");
    assert_eq!(
        all,
        pairs(&[
            ("r", 1),
            ("r", 2),
            ("c", 3),
            ("r", 1),
            ("r", 2),
            ("r", 3),
            ("r", 4),
            ("c", 5)
        ]),
        "log:\n{log}"
    );
}

/// The `databaseName`s of the schema history records (or schema change
/// events) on `topic`, read until `done`.
fn history_databases(topic: &str, mut done: impl FnMut(&[String]) -> bool) -> Vec<String> {
    let parse = |recs: &[common::Kv]| -> Vec<String> {
        recs.iter()
            .filter_map(|(_, v)| {
                let v: Value = serde_json::from_slice(v.as_ref()?).ok()?;
                // history records are plain JSON, schema change events enveloped
                let name = v["databaseName"]
                    .as_str()
                    .or(v["payload"]["databaseName"].as_str());
                Some(name?.to_owned())
            })
            .collect()
    };
    parse(&consume_until(topic, Duration::from_secs(120), |r| {
        done(&parse(r))
    }))
}

/// The schema history keeps every database's DDL by default, as Debezium
/// (`schema.history.internal.store.only.captured.tables.ddl` and
/// `….databases.ddl` false): the schema snapshot writes the definitions of
/// a database that is not captured to the history; with
/// `….store.only.captured.databases.ddl=true` it does not. Schema change
/// events stay on the captured database only. (Which streamed DDL is kept
/// is unit-tested: `history_keeps` in the reader.)
#[test]
fn schema_history_stores_other_databases_ddl_unless_told_not_to() {
    let other = unique("vmy_oth");
    sql(&format!(
        "CREATE DATABASE {other}; CREATE TABLE {other}.before_start (id INT PRIMARY KEY);"
    ));
    let run = |extra: Value, done: &dyn Fn(&[String], &str) -> bool| {
        let db = unique("vmy_his");
        let prefix = unique("mh").replace('_', "");
        sql(&format!(
            "CREATE DATABASE {db}; CREATE TABLE {db}.t (id INT PRIMARY KEY);"
        ));
        let dir = tempfile::tempdir().unwrap();
        let conn = connector_file(dir.path(), "src", &db, &prefix, extra);
        let mut w = Worker::start(dir.path(), "", &[conn]);
        w.wait_status("src", |s| s["tasks"][0]["state"] == "RUNNING");
        let history = history_databases(&format!("{prefix}.history"), |d| done(d, &db));
        // the snapshot's schema change event of t
        let changes = history_databases(&prefix, |d| d.contains(&db));
        let log = w.log_text();
        w.stop();
        sql(&format!("DROP DATABASE {db}"));
        (history, changes, log)
    };
    let others = |d: &[String]| d.iter().filter(|n| **n == other).count();
    // CREATE DATABASE and CREATE TABLE before_start
    let (all, all_changes, log) = run(
        json!({"schema.history.internal.store.only.captured.databases.ddl": "false"}),
        &|d, _| others(d) >= 2,
    );
    // CREATE DATABASE and CREATE TABLE t of the captured database
    let (only, only_changes, log2) = run(
        json!({"schema.history.internal.store.only.captured.databases.ddl": "true"}),
        &|d, db| d.iter().filter(|n| **n == db).count() >= 2,
    );
    sql(&format!("DROP DATABASE {other}"));
    assert_eq!(others(&all), 2, "{all:?}; log:\n{log}");
    assert_eq!(others(&only), 0, "{only:?}; log:\n{log2}");
    assert_eq!(
        others(&all_changes) + others(&only_changes),
        0,
        "schema change events"
    );
}
