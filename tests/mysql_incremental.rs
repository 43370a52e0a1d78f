//! Signals and incremental snapshots of the MySQL / MariaDB source against
//! the real MariaDB and broker (the `velocity` binary):
//! - a snapshot signalled while another connection updates, deletes and
//!   inserts rows: every row of the final table is seen, and the last event
//!   of every key is the table's final row (no stale chunk row after a
//!   newer change);
//! - a connector killed (SIGKILL) in the middle of an incremental snapshot
//!   continues after the last stored chunk row, losing nothing;
//! - a table added to `table.include.list` of a running connector is
//!   snapshotted by a signal without re-snapshotting the others, and bad
//!   signals before it are logged and skipped;
//! - a blocking snapshot signalled between changes: every row of the table
//!   arrives once as `r` with the initial snapshot's markers, no streamed
//!   change interleaves with them, the changes made after the signal
//!   arrive after them, the last event of every key is the table's row,
//!   streaming goes on, and `additional-conditions` restrict the rows read;
//! - a snapshot signalled through the Kafka channel while the table is
//!   written to, the connector killed (SIGKILL) in the middle of it and
//!   restarted: the snapshot goes on from the next chunk, the signal is not
//!   acted upon again, and every key ends at the table's row.

mod common;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{
    consume, consume_until, id_of, mysql_connector_file, mysql_root_socket, mysql_sql as sql,
    op_of, parse, reads_until, unique, Worker,
};
use serde_json::{json, Value};

const SIGNAL_TABLE: &str = "CREATE TABLE debezium_signal (id VARCHAR(42) PRIMARY KEY, type VARCHAR(32) NOT NULL, data VARCHAR(2048) NULL)";

/// A fresh database with the signal table (the connector's user may
/// insert into it: it writes the watermarks there, as Debezium does) and
/// the `tables` with rows `1..=n` (`v` = `<table><id>`).
fn fresh_db(tag: &str, tables: &[(&str, i64)]) -> String {
    let db = unique(tag);
    let user = common::env("VELOCITY_MARIADB_USER", "velocity");
    let mut s = format!(
        "CREATE DATABASE {db}; USE {db}; {SIGNAL_TABLE}; GRANT INSERT ON {db}.debezium_signal TO '{user}'@'%';"
    );
    for (t, rows) in tables {
        s.push_str(&format!(
            "CREATE TABLE {t} (id INT PRIMARY KEY, v VARCHAR(40)); \
             INSERT INTO {t} SELECT seq, CONCAT('{t}', seq) FROM seq_1_to_{rows};"
        ));
    }
    sql(&s);
    db
}

/// A MariaDB connector `src` on `db` with a fresh prefix, signalling
/// through `<db>.debezium_signal`: (prefix, directory, connector file).
fn signal_source(db: &str, tag: &str, extra: Value) -> (String, tempfile::TempDir, PathBuf) {
    let prefix = unique(tag).replace('_', "");
    let dir = tempfile::tempdir().unwrap();
    let mut config = json!({"signal.data.collection": format!("{db}.debezium_signal")});
    for (k, v) in extra.as_object().unwrap() {
        config[k] = v.clone();
    }
    let conn = mysql_connector_file(dir.path(), "src", db, &prefix, config);
    (prefix, dir, conn)
}

/// Waits until the connector streams: its snapshot wrote the schema
/// change records (on the prefix topic), so the binlog position is fixed.
fn wait_streaming(prefix: &str, w: &Worker) {
    w.wait_status("src", |s| s["tasks"][0]["state"] == "RUNNING");
    assert!(
        !consume(prefix, 1, Duration::from_secs(60)).is_empty(),
        "no schema change record; log:\n{}",
        w.log_text()
    );
}

fn signal(db: &str, id: &str, kind: &str, data: &str) {
    sql(&format!(
        "INSERT INTO {db}.debezium_signal VALUES ('{id}', '{kind}', '{}')",
        data.replace('\\', "\\\\").replace('\'', "''")
    ));
}

#[test]
fn mariadb_incremental_snapshot_with_concurrent_changes_ends_at_the_tables_rows() {
    let db = fresh_db("vmy_inc", &[("t", 3000)]);
    let (prefix, dir, conn) = signal_source(
        &db,
        "mi",
        json!({
            "table.include.list": format!("{db}.t"),
            "incremental.snapshot.chunk.size": "50",
            "snapshot.mode": "no_data",
        }),
    );
    let mut w = Worker::start(dir.path(), "", &[conn]);
    wait_streaming(&prefix, &w);
    // the workload: one connection, autocommit statements spread over the
    // snapshot's chunks
    let mut work = format!("USE {db};");
    for j in 0..400i64 {
        let id = (j * 7919) % 3000 + 1;
        match j % 4 {
            0 | 1 => work.push_str(&format!("UPDATE t SET v = 'u{j}' WHERE id = {id};")),
            2 => work.push_str(&format!("DELETE FROM t WHERE id = {id};")),
            _ => work.push_str(&format!("INSERT INTO t VALUES ({}, 'n{j}');", 3000 + j)),
        }
        work.push_str("DO SLEEP(0.005);");
    }
    signal(
        &db,
        "s1",
        "execute-snapshot",
        &format!("{{\"data-collections\": [\"{db}.t\"]}}"),
    );
    let status = Command::new("mariadb")
        .arg("--no-defaults")
        .arg("-S")
        .arg(mysql_root_socket())
        .args(["-uroot", "-e", &work])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(180);
    while !w.log_text().contains("Incremental snapshot completed") {
        assert!(
            std::time::Instant::now() < deadline,
            "the incremental snapshot did not complete; log:\n{}",
            w.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // a marker after the snapshot: everything before it is on the topic
    sql(&format!("INSERT INTO {db}.t VALUES (999999, 'marker')"));
    let topic = format!("{prefix}.{db}.t");
    let recs = consume_until(&topic, Duration::from_secs(120), |r| {
        parse(
            r.get(r.len().saturating_sub(3)..).unwrap_or_default(),
            &topic,
        )
        .iter()
        .any(|e| id_of(e) == Some(999_999))
    });
    let events = parse(&recs, &topic);
    let log = w.log_text();
    w.stop();
    let table = common::rows_of(&sql(&format!("SELECT id, v FROM {db}.t ORDER BY id")), '\t');
    sql(&format!("DROP DATABASE {db}"));
    assert!(
        events.iter().any(|e| id_of(e) == Some(999_999)),
        "marker not seen; log:\n{log}"
    );
    let reads: Vec<&Value> = events
        .iter()
        .filter(|e| op_of(e) == Some("r"))
        .map(|e| &e.2["payload"])
        .collect();
    assert!(reads.len() > 2000, "{} r events; log:\n{log}", reads.len());
    assert!(reads
        .iter()
        .all(|p| p["source"]["snapshot"] == "incremental" && p["before"].is_null()));
    common::assert_final_state(&events, &table);
}

#[test]
fn mariadb_killed_connector_continues_the_incremental_snapshot_from_the_next_chunk() {
    let db = fresh_db("vmy_inck", &[("t", 20000)]);
    let (prefix, dir, conn) = signal_source(
        &db,
        "mk",
        json!({
            "table.include.list": format!("{db}.t"),
            "incremental.snapshot.chunk.size": "20",
            "snapshot.mode": "no_data",
        }),
    );
    let mut w = Worker::start(dir.path(), "offset.flush.interval.ms=200", &[conn]);
    wait_streaming(&prefix, &w);
    signal(
        &db,
        "s1",
        "execute-snapshot",
        &format!("{{\"data-collections\": [\"{db}.t\"]}}"),
    );
    let topic = format!("{prefix}.{db}.t");
    reads_until(&topic, |c| c.len() >= 2000);
    w.kill9();
    let stored = common::stored_offset(dir.path());
    let k = common::stored_snapshot_key(&stored, 20000, &w.log_text());
    assert!(
        stored["file"].is_string() && stored["pos"].is_u64(),
        "{stored}"
    );
    assert_eq!(
        stored["incremental_snapshot_collections"],
        format!("[{{\"incremental_snapshot_collections_id\":\"{db}.t\",\"incremental_snapshot_collections_additional_condition\":null,\"incremental_snapshot_collections_surrogate_key\":null}}]")
    );
    // rows changed while the connector is down
    sql(&format!(
        "UPDATE {db}.t SET v = 'late' WHERE id IN (1, 19999); DELETE FROM {db}.t WHERE id = 19998"
    ));
    w.restart();
    let counts = reads_until(&topic, |c| {
        (1..=19997).all(|i| c.contains_key(&i)) && c.contains_key(&20000)
    });
    let log = w.log_text();
    w.stop();
    sql(&format!("DROP DATABASE {db}"));
    common::check_continued_snapshot(&counts, 20000, 19998, k, &log);
}

#[test]
fn mariadb_table_added_to_the_include_list_is_snapshotted_by_a_signal_alone() {
    let db = fresh_db("vmy_incr", &[("a", 100), ("b", 250)]);
    let (prefix, dir, conn) = signal_source(
        &db,
        "mr",
        json!({"table.include.list": format!("{db}.a"), "incremental.snapshot.chunk.size": "40"}),
    );
    let mut w = Worker::start(dir.path(), "", &[conn]);
    let (ta, tb) = (format!("{prefix}.{db}.a"), format!("{prefix}.{db}.b"));
    assert_eq!(
        reads_until(&ta, |c| c.len() >= 100).len(),
        100,
        "initial snapshot of a"
    );
    // the snapshot's last offset is stored before the task restarts
    common::wait_until(
        Duration::from_secs(60),
        "the completed snapshot's offset",
        || {
            let (_, v) = w.call("GET", "/connectors/src/offsets", None);
            v["offsets"][0]["offset"]["snapshot_completed"] == true
        },
    );
    // the runtime reconfigures the running connector: b joins the include list
    let (_, mut cfg) = w.call("GET", "/connectors/src/config", None);
    cfg["table.include.list"] = json!(format!("{db}.a,{db}.b"));
    let (code, body) = w.call("PUT", "/connectors/src/config", Some(&cfg.to_string()));
    assert!(code == 200 || code == 201, "{code} {body}");
    w.wait_status("src", |s| s["tasks"][0]["state"] == "RUNNING");
    // bad signals are logged and skipped; streaming goes on
    signal(&db, "bad-json", "execute-snapshot", "{not json");
    sql(&format!(
        "INSERT INTO {db}.debezium_signal VALUES ('bad-type', 'reboot', NULL)"
    ));
    signal(
        &db,
        "log-1",
        "log",
        "{\"message\": \"hello from the signal table at {}\"}",
    );
    signal(
        &db,
        "s1",
        "execute-snapshot",
        &format!("{{\"data-collections\": [\"{db}\\\\.b\"], \"type\": \"incremental\"}}"),
    );
    let b = reads_until(&tb, |c| c.len() >= 250);
    // a marker after the snapshot: everything a got before it is known
    sql(&format!("UPDATE {db}.a SET v = 'marker' WHERE id = 1"));
    let mut marker = false;
    let mut a_reads = 0;
    let mut scanned = 0;
    consume_until(&ta, Duration::from_secs(60), |r| {
        for e in parse(&r[scanned..], &ta) {
            match op_of(&e) {
                Some("r") => a_reads += 1,
                Some("u") => marker = true,
                _ => {}
            }
        }
        scanned = r.len();
        marker
    });
    let log = w.log_text();
    w.stop();
    sql(&format!("DROP DATABASE {db}"));
    assert!(marker, "the marker update of a arrived; log:\n{log}");
    assert_eq!(a_reads, 100, "a was not snapshotted again; log:\n{log}");
    assert_eq!(b.len(), 250, "log:\n{log}");
    assert!(b.values().all(|n| *n == 1), "every row of b once");
    assert!(
        log.contains(
            "Signal 'bad-json' has been received but the data '{not json' cannot be parsed"
        ),
        "{log}"
    );
    assert!(
        log.contains("Signal 'bad-type' has been received but the type 'reboot' is not recognized"),
        "{log}"
    );
    assert!(log.contains("hello from the signal table at {\""), "{log}");
}

#[test]
fn mariadb_blocking_snapshot_rereads_the_table_between_streamed_changes() {
    let db = fresh_db("vmy_blk", &[("t", 3000)]);
    let (prefix, dir, conn) = signal_source(
        &db,
        "mb",
        json!({"table.include.list": format!("{db}.t"), "snapshot.mode": "no_data"}),
    );
    let mut w = Worker::start(dir.path(), "", &[conn]);
    wait_streaming(&prefix, &w);
    let topic = format!("{prefix}.{db}.t");
    let run = |s: &str| {
        sql(&format!("USE {db}; {s}"));
    };
    run(common::BLOCKING_BEFORE);
    signal(
        &db,
        "b1",
        "execute-snapshot",
        &format!(r#"{{"data-collections": ["{db}\\.t"], "type": "blocking"}}"#),
    );
    run(common::BLOCKING_AFTER);
    let events = common::await_marker(run, &topic, 9001);
    let table = common::rows_of(&sql(&format!("SELECT id, v FROM {db}.t ORDER BY id")), '\t');
    common::check_blocking_snapshot(&events, &table, &w.log_text());
    // a filter restricts the rows read
    signal(
        &db,
        "b2",
        "execute-snapshot",
        &format!(
            r#"{{"data-collections": ["{db}.t"], "type": "blocking", "additional-conditions": [{{"data-collection": "{db}.t", "filter": "SELECT * FROM {db}.t WHERE id <= 100"}}]}}"#
        ),
    );
    let events2 = common::await_marker(run, &topic, 9002);
    let ids2: std::collections::BTreeSet<i64> = common::reads_from(&events2, events.len())
        .into_iter()
        .map(|i| id_of(&events2[i]).unwrap())
        .collect();
    let want2: std::collections::BTreeSet<i64> =
        table.keys().copied().filter(|i| *i <= 100).collect();
    assert_eq!(ids2, want2);
    w.stop();
    sql(&format!("DROP DATABASE {db}"));
}

#[test]
fn mariadb_kafka_signal_snapshot_survives_a_kill_while_the_table_is_written() {
    let db = fresh_db("vmy_inckafka", &[("t", 20000)]);
    let (prefix, dir, conn) = signal_source(
        &db,
        "mka",
        json!({
            "table.include.list": format!("{db}.t"),
            "incremental.snapshot.chunk.size": "20",
            "snapshot.mode": "no_data",
            "signal.enabled.channels": "source,kafka",
            "signal.kafka.bootstrap.servers": common::kafka_bootstrap(),
        }),
    );
    let mut w = Worker::start(dir.path(), "offset.flush.interval.ms=200", &[conn]);
    wait_streaming(&prefix, &w);
    // the channel's default topic is <topic.prefix>-signal (the connector
    // creates it); another connector's signal on it is not for this one
    let signal_topic = format!("{prefix}-signal");
    common::wait_until(Duration::from_secs(60), "the signal topic", || {
        w.log_text().contains("Subscribing to signals topic")
    });
    let snapshot = format!(
        "{{\"id\": \"k1\", \"type\": \"execute-snapshot\", \"data\": {{\"data-collections\": [\"{db}.t\"], \"type\": \"INCREMENTAL\"}}}}"
    );
    common::send_kafka(&signal_topic, "someone-else", &snapshot);
    // the table is written to while it is snapshotted: updates of
    // snapshotted rows and inserts past its maximum key
    let mut work = format!("USE {db};");
    for j in 0..300i64 {
        let id = (j * 7919) % 20000 + 1;
        if j % 3 == 0 {
            work.push_str(&format!("INSERT INTO t VALUES ({}, 'n{j}');", 30000 + j));
        } else {
            work.push_str(&format!("UPDATE t SET v = 'u{j}' WHERE id = {id};"));
        }
        work.push_str("DO SLEEP(0.01);");
    }
    let mut writer = Command::new("mariadb")
        .arg("--no-defaults")
        .arg("-S")
        .arg(mysql_root_socket())
        .args(["-uroot", "-e", &work])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    common::send_kafka(&signal_topic, &prefix, &snapshot);
    let topic = format!("{prefix}.{db}.t");
    reads_until(&topic, |c| c.len() >= 2000);
    w.kill9();
    let stored = common::stored_offset(dir.path());
    // the foreign signal is offset 0, this connector's offset 1
    assert_eq!(
        stored["incremental_snapshot_signal_offset"],
        1,
        "the acted-upon signal's position is stored: {stored}\nlog:\n{}",
        w.log_text()
    );
    let k = common::stored_snapshot_key(&stored, 20000, &w.log_text());
    w.restart();
    assert!(writer.wait().unwrap().success());
    common::wait_until(Duration::from_secs(300), "the snapshot's end", || {
        w.log_text().contains("Incremental snapshot completed")
    });
    // a marker after everything: once it arrived, all before it did
    sql(&format!("INSERT INTO {db}.t VALUES (999999, 'marker')"));
    let mut scanned = 0;
    let mut events = Vec::new();
    consume_until(&topic, Duration::from_secs(240), |r| {
        events.extend(parse(&r[scanned..], &topic));
        scanned = r.len();
        events.iter().any(|e| id_of(e) == Some(999_999))
    });
    let log = w.log_text();
    w.stop();
    let table = common::rows_of(&sql(&format!("SELECT id, v FROM {db}.t ORDER BY id")), '\t');
    sql(&format!("DROP DATABASE {db}"));
    assert!(
        events.iter().any(|e| id_of(e) == Some(999_999)),
        "marker not seen; log:\n{log}"
    );
    assert!(
        log.contains("Signal key 'someone-else' doesn't match the connector's name"),
        "{log}"
    );
    assert_eq!(
        log.matches("Requested 'INCREMENTAL' snapshot").count(),
        1,
        "the signal was acted upon once, not again after the restart; log:\n{log}"
    );
    assert!(
        log.contains("Incremental snapshot in progress, need to read new chunk on start"),
        "{log}"
    );
    assert!(log.contains("Incremental snapshot completed"), "{log}");
    // rows up to the stored key were not read again after the restart
    let mut reads: std::collections::HashMap<i64, usize> = std::collections::HashMap::new();
    for e in &events {
        if op_of(e) == Some("r") {
            *reads.entry(id_of(e).unwrap()).or_default() += 1;
        }
    }
    let again: Vec<i64> = (1..=i64::from(k))
        .filter(|i| reads.get(i).is_some_and(|n| *n > 1))
        .collect();
    assert!(again.is_empty(), "rows up to {k} read twice: {again:?}");
    // nothing lost: every key ends at the table's row
    common::assert_final_state(&events, &table);
}
