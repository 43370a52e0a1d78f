//! PostgreSQL source behaviour against the real server and broker: restart
//! semantics (clean stop: exactly once; SIGKILL: nothing lost, duplicates
//! only after the stored offset), each start-up failure the issue names
//! (status FAILED with the cause and the fix, nothing half-created), and
//! heartbeats advancing the slot on an idle database.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{
    consume, consume_until, env, failed_trace, pg_connector_file, psql, unique, wait_until, Worker,
};
use serde_json::{json, Value};

fn fresh_db(table_sql: &str) -> String {
    let db = unique("pgsrc");
    psql("postgres", &["-c", &format!("CREATE DATABASE {db}")]);
    psql(&db, &["-c", table_sql]);
    db
}

fn drop_db(db: &str, slot: &str) {
    common::pg_drop_db(db, slot);
}

/// Change events of `topic` as (id, op, source) triples (tombstones skipped).
fn events(topic: &str, done: impl FnMut(&[common::Kv]) -> bool) -> Vec<(i64, String, Value)> {
    consume_until(topic, Duration::from_secs(120), done)
        .into_iter()
        .filter_map(|(_, v)| {
            let v: Value = serde_json::from_slice(&v?).ok()?;
            let p = &v["payload"];
            let row = if p["after"].is_null() {
                &p["before"]
            } else {
                &p["after"]
            };
            Some((
                row["id"].as_i64()?,
                p["op"].as_str()?.to_owned(),
                p["source"].clone(),
            ))
        })
        .collect()
}

fn count_values(recs: &[common::Kv]) -> usize {
    recs.iter().filter(|(_, v)| v.is_some()).count()
}

fn names() -> (String, String) {
    let prefix = unique("p").replace('_', "");
    let slot = unique("slot").to_lowercase();
    (prefix, slot)
}

/// A worker running one PostgreSQL source connector `src` on `db` with a
/// fresh topic prefix and slot: (prefix, slot, the worker's directory, the
/// worker). `extra` adds connector keys, `worker_extra` worker properties.
fn start_source(
    db: &str,
    extra: Value,
    worker_extra: &str,
) -> (String, String, tempfile::TempDir, Worker) {
    let (prefix, slot) = names();
    let dir = tempfile::tempdir().unwrap();
    let conn = pg_connector_file(dir.path(), "src", db, &prefix, &slot, extra);
    let w = Worker::start(dir.path(), worker_extra, &[conn]);
    (prefix, slot, dir, w)
}

/// [`start_source`] on `db` with connector keys `extra`, returned once its
/// task runs and streams from the slot (a change made now is captured).
fn start_streaming_source(db: &str, extra: Value) -> (String, String, tempfile::TempDir, Worker) {
    let (prefix, slot, dir, w) = start_source(db, extra, "");
    w.wait_status("src", |s| s["tasks"][0]["state"] == "RUNNING");
    wait_until(Duration::from_secs(30), "the slot to be active", || {
        psql("postgres", &["-c", &format!("SELECT count(*) FROM pg_replication_slots WHERE slot_name = '{slot}' AND active")]) == "1"
    });
    (prefix, slot, dir, w)
}

#[test]
fn clean_stop_and_restart_deliver_every_change_exactly_once() {
    let db = fresh_db("CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, 'snap' FROM generate_series(1, 100) g;");
    let (prefix, slot, _dir, mut w) =
        start_source(&db, json!({}), "offset.flush.interval.ms=600000");
    let topic = format!("{prefix}.public.t");
    assert_eq!(
        events(&topic, |r| count_values(r) >= 100).len(),
        100,
        "snapshot; log:\n{}",
        w.log_text()
    );
    for i in 0..50 {
        let a = 101 + i * 10;
        psql(
            &db,
            &[
                "-c",
                &format!(
                    "INSERT INTO t SELECT g, 'a' FROM generate_series({a}, {}) g",
                    a + 9
                ),
            ],
        );
    }
    assert_eq!(events(&topic, |r| count_values(r) >= 600).len(), 600);
    w.stop();
    psql(
        &db,
        &[
            "-c",
            "INSERT INTO t SELECT g, 'b' FROM generate_series(601, 900) g",
        ],
    );
    psql(&db, &["-c", "UPDATE t SET v = 'c' WHERE id <= 10"]);
    w.restart();
    let got = events(&topic, |r| count_values(r) >= 910);
    std::thread::sleep(Duration::from_secs(2));
    let all = events(&topic, |r| count_values(r) > 910);
    w.stop();
    drop_db(&db, &slot);
    assert_eq!(got.len(), 910, "log:\n{}", w.log_text());
    assert_eq!(all.len(), 910, "a clean stop must not re-deliver anything");
    let mut seen: HashMap<(i64, String), usize> = HashMap::new();
    for (id, op, _) in &all {
        *seen.entry((*id, op.clone())).or_default() += 1;
    }
    for id in 1..=900 {
        let op = if id <= 100 { "r" } else { "c" };
        assert_eq!(seen.get(&(id, op.to_owned())), Some(&1), "id {id} op {op}");
    }
    for id in 1..=10 {
        assert_eq!(seen.get(&(id, "u".to_owned())), Some(&1), "update of {id}");
    }
}

fn stored_offset(dir: &Path) -> Value {
    let text = std::fs::read_to_string(dir.join("offsets.json")).unwrap_or_else(|_| "{}".into());
    let v: Value = serde_json::from_str(&text).unwrap_or(json!({}));
    v.as_object()
        .and_then(|o| o.values().next().cloned())
        .unwrap_or(json!({}))
}

/// A non-transactional logical decoding message completes a position of
/// its own, as in Debezium (`lsn_proc` = `lsn_commit` = `lsn`, no `txId`,
/// `messageType: "MESSAGE"`); a clean restart resumes after it (its LSN is
/// the end of its WAL record): it is not emitted twice, and a message
/// emitted after the restart is.
#[test]
fn a_non_transactional_message_is_a_position_of_its_own_and_not_emitted_twice() {
    let db = fresh_db("CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1);");
    let (prefix, slot, dir, mut w) =
        start_source(&db, json!({}), "offset.flush.interval.ms=600000");
    let table = format!("{prefix}.public.t");
    let messages = format!("{prefix}.message");
    // the snapshot event: the slot exists, the message below is captured
    assert_eq!(events(&table, |r| count_values(r) >= 1).len(), 1);
    psql(
        &db,
        &[
            "-c",
            "SELECT pg_logical_emit_message(false, 'audit', 'once')",
        ],
    );
    assert_eq!(
        consume(&messages, 1, Duration::from_secs(60)).len(),
        1,
        "log:\n{}",
        w.log_text()
    );
    w.stop();
    let o = stored_offset(dir.path());
    assert_eq!(o["messageType"], "MESSAGE", "{o}");
    assert!(o.get("txId").is_none(), "{o}");
    assert!(
        o["lsn_proc"] == o["lsn_commit"] && o["lsn"] == o["lsn_commit"],
        "{o}"
    );
    w.restart();
    psql(&db, &["-c", "INSERT INTO t VALUES (2)"]);
    psql(
        &db,
        &[
            "-c",
            "SELECT pg_logical_emit_message(false, 'audit', 'after the restart')",
        ],
    );
    let got = events(&table, |r| count_values(r) >= 2);
    let msgs = consume(&messages, 2, Duration::from_secs(60));
    std::thread::sleep(Duration::from_secs(2));
    let all = consume(&messages, 3, Duration::from_secs(3));
    w.stop();
    drop_db(&db, &slot);
    assert_eq!(got.len(), 2, "log:\n{}", w.log_text());
    let contents: Vec<String> = all
        .iter()
        .map(|(_, v)| {
            let v: Value = serde_json::from_slice(v.as_ref().unwrap()).unwrap();
            v["payload"]["message"]["content"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    // base64 of "once" and "after the restart"
    assert_eq!(
        contents,
        ["b25jZQ==", "YWZ0ZXIgdGhlIHJlc3RhcnQ="],
        "{msgs:?}"
    );
}

#[test]
fn sigkill_mid_stream_loses_nothing_and_duplicates_only_after_the_stored_offset() {
    let db = fresh_db("CREATE TABLE t (id int PRIMARY KEY, v text)");
    let (prefix, slot, dir, mut w) = start_source(
        &db,
        json!({"max.batch.size": "256", "max.queue.size": "1024", "slot.retry.delay.ms": "500"}),
        "offset.flush.interval.ms=200",
    );
    w.wait_status("src", |s| s["tasks"][0]["state"] == "RUNNING");
    wait_until(Duration::from_secs(30), "the slot to be created", || {
        psql("postgres", &["-c", &format!("SELECT count(*) FROM pg_replication_slots WHERE slot_name = '{slot}' AND active")]) == "1"
    });
    // 200 transactions of 100 rows, written in the background
    let sql = dir.path().join("load.sql");
    let mut text = String::new();
    for i in 0..200 {
        text.push_str(&format!(
            "INSERT INTO t SELECT g, 'x' FROM generate_series({}, {}) g;\n",
            i * 100 + 1,
            i * 100 + 100
        ));
    }
    std::fs::write(&sql, text).unwrap();
    let mut load = common::psql_file_in_background(&db, &sql);
    let topic = format!("{prefix}.public.t");
    consume_until(&topic, Duration::from_secs(60), |r| r.len() >= 3_000);
    w.kill9();
    let stored = common::stored_offset(dir.path());
    assert!(load.wait().unwrap().success());
    w.restart();
    let mut ids = std::collections::HashSet::new();
    let mut scanned = 0;
    let all = events(&topic, |r| {
        for (_, v) in &r[scanned..] {
            if let Some(id) = v
                .as_ref()
                .and_then(|v| serde_json::from_slice::<Value>(v).ok())
                .and_then(|v| v["payload"]["after"]["id"].as_i64())
            {
                ids.insert(id);
            }
        }
        scanned = r.len();
        ids.len() >= 20_000
    });
    w.stop();
    drop_db(&db, &slot);
    let mut by_id: HashMap<i64, Vec<&Value>> = HashMap::new();
    for (id, op, src) in &all {
        assert_eq!(op, "c");
        by_id.entry(*id).or_default().push(src);
    }
    let missing: Vec<i64> = (1..=20_000).filter(|i| !by_id.contains_key(i)).collect();
    assert!(
        missing.is_empty(),
        "{} rows lost, e.g. {:?}; log:\n{}",
        missing.len(),
        &missing[..missing.len().min(10)],
        w.log_text()
    );
    let lsn_commit = stored["lsn_commit"].as_u64().unwrap_or(0);
    let lsn_proc = stored["lsn_proc"].as_u64().unwrap_or(0);
    let tx = stored["txId"].as_i64();
    let mut dups = 0;
    for (id, srcs) in &by_id {
        if srcs.len() > 1 {
            dups += 1;
            let s = srcs[0];
            let lsn = s["lsn"].as_u64().unwrap();
            let after_stored = lsn >= lsn_commit || (s["txId"].as_i64() == tx && lsn > lsn_proc);
            assert!(after_stored, "row {id} (lsn {lsn}) was delivered twice although the stored offset {stored} covers it");
        }
    }
    eprintln!("stored offset at kill: {stored}; rows delivered twice: {dups}");
}

#[test]
fn slot_in_use_fails_with_the_cause_and_creates_nothing() {
    let db = fresh_db("CREATE TABLE t (id int PRIMARY KEY)");
    let (prefix, slot) = names();
    psql(
        &db,
        &[
            "-c",
            &format!("CREATE PUBLICATION other_{slot} FOR TABLE t"),
        ],
    );
    psql(
        &db,
        &[
            "-c",
            &format!("SELECT pg_create_logical_replication_slot('{slot}', 'pgoutput')"),
        ],
    );
    let mut holder = Command::new("pg_recvlogical")
        .args([
            "-h",
            &env("VELOCITY_PG_HOST", "127.0.0.1"),
            "-p",
            &env("VELOCITY_PG_PORT", "55432"),
            "-U",
            &env("VELOCITY_PG_SUPERUSER", "postgres"),
            "-d",
            &db,
        ])
        .args([
            "--slot",
            &slot,
            "--start",
            "-o",
            "proto_version=1",
            "-o",
            &format!("publication_names=other_{slot}"),
            "-f",
            "/dev/null",
        ])
        .env(
            "PGPASSWORD",
            env("VELOCITY_PG_SUPERUSER_PASSWORD", "postgres"),
        )
        .spawn()
        .unwrap();
    wait_until(
        Duration::from_secs(20),
        "pg_recvlogical to hold the slot",
        || {
            psql("postgres", &["-c", &format!("SELECT count(*) FROM pg_replication_slots WHERE slot_name = '{slot}' AND active")]) == "1"
        },
    );
    let dir = tempfile::tempdir().unwrap();
    let conn = pg_connector_file(
        dir.path(),
        "src",
        &db,
        &prefix,
        &slot,
        json!({"publication.name": format!("mine_{slot}"), "slot.max.retries": "1", "slot.retry.delay.ms": "200"}),
    );
    let w = Worker::start(dir.path(), "", &[conn]);
    let trace = failed_trace(&w, "src");
    let _ = holder.kill();
    let _ = holder.wait();
    let pubs = psql(
        &db,
        &[
            "-c",
            &format!("SELECT count(*) FROM pg_publication WHERE pubname = 'mine_{slot}'"),
        ],
    );
    drop_db(&db, &slot);
    assert!(
        trace.contains(&slot) && trace.contains("is active") && trace.contains("slot.name"),
        "{trace}"
    );
    assert_eq!(pubs, "0", "the failed start created a publication");
}

#[test]
fn missing_publication_with_autocreate_disabled_fails_and_creates_no_slot() {
    let db = fresh_db("CREATE TABLE t (id int PRIMARY KEY)");
    let (_prefix, slot, _dir, w) =
        start_source(&db, json!({"publication.autocreate.mode": "disabled"}), "");
    let trace = failed_trace(&w, "src");
    let slots = psql(
        "postgres",
        &[
            "-c",
            &format!("SELECT count(*) FROM pg_replication_slots WHERE slot_name = '{slot}'"),
        ],
    );
    drop_db(&db, &slot);
    assert!(
        trace.contains(&slot) && trace.contains("publication.autocreate.mode"),
        "{trace}"
    );
    assert_eq!(slots, "0", "the failed start created a slot");
}

/// `slot.failover=true` needs PostgreSQL 17 (failover slots); against the
/// services' PostgreSQL 15 the task fails at start naming the key, before
/// it creates a publication or a slot.
#[test]
fn slot_failover_on_postgresql_15_fails_naming_the_key_and_creates_nothing() {
    let db = fresh_db("CREATE TABLE t (id int PRIMARY KEY)");
    let version = psql("postgres", &["-c", "SHOW server_version_num"]);
    assert!(
        version.parse::<u32>().unwrap() < 170_000,
        "this test needs a PostgreSQL older than 17, the server is {version}"
    );
    let (_prefix, slot, _dir, w) = start_source(&db, json!({"slot.failover": "true"}), "");
    let trace = failed_trace(&w, "src");
    let count = |sql: String| psql(&db, &["-c", &sql]);
    let slots = count(format!(
        "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '{slot}'"
    ));
    let pubs = count(format!(
        "SELECT count(*) FROM pg_publication WHERE pubname = '{slot}'"
    ));
    drop_db(&db, &slot);
    assert!(
        trace.contains("slot.failover") && trace.contains("PostgreSQL 17"),
        "{trace}"
    );
    assert_eq!(
        (slots.as_str(), pubs.as_str()),
        ("0", "0"),
        "the failed start created something"
    );
}

#[test]
fn wrong_password_names_the_keys_to_fix() {
    let (prefix, slot) = names();
    let dir = tempfile::tempdir().unwrap();
    let conn = pg_connector_file(
        dir.path(),
        "src",
        "postgres",
        &prefix,
        &slot,
        json!({"database.password": "not-the-password"}),
    );
    let w = Worker::start(dir.path(), "", &[conn]);
    let trace = failed_trace(&w, "src");
    assert!(
        trace.contains("database.password") && trace.contains("database.user"),
        "{trace}"
    );
    assert!(
        !trace.contains("not-the-password") && !w.log_text().contains("not-the-password"),
        "the password leaked"
    );
    // fatal: failed at once, never retried
    assert!(
        !w.log_text().contains("restarting the task in place"),
        "a fatal error was retried; log:\n{}",
        w.log_text()
    );
}

#[test]
fn unreachable_host_names_the_keys_to_fix() {
    let (prefix, slot) = names();
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port().to_string();
    let conn = pg_connector_file(
        dir.path(),
        "src",
        "postgres",
        &prefix,
        &slot,
        // unreachable is retriable: without retries it fails at once
        json!({"database.port": port, "errors.max.retries": "0"}),
    );
    let w = Worker::start(dir.path(), "", &[conn]);
    let trace = failed_trace(&w, "src");
    assert!(
        trace.contains("database.hostname")
            && trace.contains(&port)
            && trace.contains("errors.max.retries"),
        "{trace}"
    );
}

/// A throwaway cluster with wal_level=replica (the test server is logical).
struct ReplicaCluster {
    dir: tempfile::TempDir,
    bin: String,
    port: u16,
}

impl ReplicaCluster {
    fn start() -> ReplicaCluster {
        let bin = Command::new("pg_config")
            .arg("--bindir")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default();
        let bin = if Path::new(&format!("{bin}/initdb")).exists() {
            bin
        } else {
            std::fs::read_dir("/usr/lib/postgresql")
                .unwrap()
                .flatten()
                .map(|e| format!("{}/bin", e.path().display()))
                .next()
                .unwrap()
        };
        let dir = tempfile::Builder::new()
            .prefix("velocity-replica-pg")
            .tempdir_in("/tmp")
            .unwrap();
        let data = dir.path().join("data");
        let port = common::free_port();
        let as_pg = |args: &[&str]| {
            let st = Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .args(args)
                .stdout(Stdio::null())
                .status()
                .unwrap();
            assert!(st.success(), "{args:?}");
        };
        Command::new("chown")
            .args(["postgres", dir.path().to_str().unwrap()])
            .status()
            .unwrap();
        as_pg(&[
            &format!("{bin}/initdb"),
            "-D",
            data.to_str().unwrap(),
            "-U",
            "postgres",
            "--auth=trust",
        ]);
        as_pg(&[
            &format!("{bin}/pg_ctl"),
            "-D",
            data.to_str().unwrap(),
            "-w",
            "-l",
            dir.path().join("log").to_str().unwrap(),
            "-o",
            &format!(
                "-p {port} -k {} -c listen_addresses=127.0.0.1 -c wal_level=replica",
                dir.path().display()
            ),
            "start",
        ]);
        ReplicaCluster { dir, bin, port }
    }
}

impl Drop for ReplicaCluster {
    fn drop(&mut self) {
        let _ = Command::new("runuser")
            .args([
                "-u",
                "postgres",
                "--",
                &format!("{}/pg_ctl", self.bin),
                "-D",
                self.dir.path().join("data").to_str().unwrap(),
                "-m",
                "immediate",
                "stop",
            ])
            .stdout(Stdio::null())
            .status();
    }
}

#[test]
fn wal_level_not_logical_says_how_to_fix_it() {
    let cluster = ReplicaCluster::start();
    let (prefix, slot) = names();
    let dir = tempfile::tempdir().unwrap();
    let conn = pg_connector_file(
        dir.path(),
        "src",
        "postgres",
        &prefix,
        &slot,
        json!({"database.port": cluster.port.to_string(), "database.sslmode": "disable"}),
    );
    let w = Worker::start(dir.path(), "", &[conn]);
    let trace = failed_trace(&w, "src");
    assert!(
        trace.contains("wal_level") && trace.contains("logical") && trace.contains("restart"),
        "{trace}"
    );
}

#[test]
fn heartbeats_advance_the_slot_on_an_idle_database() {
    let db = fresh_db("CREATE TABLE t (id int PRIMARY KEY)");
    let (prefix, slot, _dir, mut w) = start_source(
        &db,
        json!({"heartbeat.interval.ms": "300", "status.update.interval.ms": "500"}),
        "offset.flush.interval.ms=200",
    );
    w.wait_status("src", |s| s["tasks"][0]["state"] == "RUNNING");
    let lsn = |s: &str| -> u64 {
        let (a, b) = s.split_once('/').unwrap_or(("0", "0"));
        (u64::from_str_radix(a, 16).unwrap_or(0) << 32) | u64::from_str_radix(b, 16).unwrap_or(0)
    };
    let confirmed = || {
        psql("postgres", &["-c", &format!("SELECT coalesce(confirmed_flush_lsn::text, '0/0') FROM pg_replication_slots WHERE slot_name = '{slot}'")])
    };
    wait_until(Duration::from_secs(30), "the slot to exist", || {
        !confirmed().is_empty()
    });
    let before = lsn(&confirmed());
    // WAL is written elsewhere in the cluster (every 2 s: the walsender
    // reports a new end of WAL in its keepalives, whose timing is its own);
    // the captured database stays idle
    let filler = || {
        psql("postgres", &["-c", "CREATE TABLE IF NOT EXISTS velocity_wal_filler (x int); INSERT INTO velocity_wal_filler SELECT generate_series(1, 1000)"]);
    };
    filler();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mut polls = 0;
    while lsn(&confirmed()) <= before {
        assert!(
            std::time::Instant::now() < deadline,
            "confirmed_flush_lsn stayed at {before} for 30 s; log:\n{}",
            w.log_text()
        );
        polls += 1;
        if polls % 20 == 0 {
            filler();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let hb = consume_until(
        &format!("__debezium-heartbeat.{prefix}"),
        Duration::from_secs(10),
        |r| !r.is_empty(),
    );
    w.stop();
    drop_db(&db, &slot);
    assert!(!hb.is_empty(), "no heartbeat record was published");
    let key: Value = serde_json::from_slice(hb[0].0.as_ref().unwrap()).unwrap();
    assert_eq!(key["payload"]["serverName"], json!(prefix));
}

#[test]
fn transaction_metadata_and_truncate_events() {
    let db = fresh_db(
        "CREATE TABLE t (id int PRIMARY KEY, v text); CREATE TABLE u (id int PRIMARY KEY)",
    );
    let (prefix, slot, _dir, mut w) = start_streaming_source(
        &db,
        json!({"provide.transaction.metadata": "true", "skipped.operations": "none"}),
    );
    psql(
        &db,
        &[
            "-c",
            "BEGIN; INSERT INTO t VALUES (1, 'a'), (2, 'b'); INSERT INTO u VALUES (7); COMMIT;",
        ],
    );
    psql(&db, &["-c", "TRUNCATE t"]);
    let tx = consume_until(
        &format!("{prefix}.transaction"),
        Duration::from_secs(60),
        |r| r.len() >= 2,
    );
    let t_events = consume_until(
        &format!("{prefix}.public.t"),
        Duration::from_secs(30),
        |r| r.len() >= 3,
    );
    w.stop();
    drop_db(&db, &slot);
    let parse =
        |b: &Option<Vec<u8>>| -> Value { serde_json::from_slice(b.as_ref().unwrap()).unwrap() };
    let begin = parse(&tx[0].1);
    let end = parse(&tx[1].1);
    assert_eq!(begin["payload"]["status"], "BEGIN", "{begin}");
    assert_eq!(
        begin["schema"]["name"],
        "io.debezium.connector.common.TransactionMetadataValue"
    );
    assert_eq!(end["payload"]["status"], "END");
    assert_eq!(end["payload"]["event_count"], 3);
    assert_eq!(
        end["payload"]["data_collections"],
        json!([{"data_collection": "public.t", "event_count": 2}, {"data_collection": "public.u", "event_count": 1}])
    );
    let id = begin["payload"]["id"].as_str().unwrap().to_owned();
    assert!(id.contains(':'), "txId:lsn, got {id}");
    assert_eq!(parse(&tx[0].0)["payload"]["id"], json!(id));
    let first = parse(&t_events[0].1);
    assert_eq!(
        first["payload"]["transaction"],
        json!({"id": id, "total_order": 1, "data_collection_order": 1})
    );
    let second = parse(&t_events[1].1);
    assert_eq!(second["payload"]["transaction"]["total_order"], 2);
    let trunc = parse(&t_events[2].1);
    assert_eq!(trunc["payload"]["op"], "t");
    assert!(trunc["payload"]["before"].is_null() && trunc["payload"]["after"].is_null());
    assert!(t_events[2].0.is_none(), "truncate events have no key");
}

/// With `provide.transaction.metadata`, a transactional logical decoding
/// message is an event of its transaction, as in Debezium 3.6.3 (checked
/// with the reference): its `transaction` block counts it in `total_order`
/// with the row changes and on its own in `data_collection_order`, and the
/// END record counts it under `LOGICAL_DECODING_MESSAGE` (Debezium writes
/// a per-run Java object name there); a non-transactional message has none.
#[test]
fn transactional_messages_are_events_of_their_transaction() {
    let db = fresh_db("CREATE TABLE t (id int PRIMARY KEY)");
    let (prefix, slot, _dir, mut w) =
        start_streaming_source(&db, json!({"provide.transaction.metadata": "true"}));
    psql(
        &db,
        &[
            "-c",
            "BEGIN; INSERT INTO t VALUES (1); SELECT pg_logical_emit_message(true, 'audit', 'in'); \
             INSERT INTO t VALUES (2); COMMIT; SELECT pg_logical_emit_message(false, 'audit', 'out');",
        ],
    );
    let tx = consume_until(
        &format!("{prefix}.transaction"),
        Duration::from_secs(60),
        |r| r.len() >= 2,
    );
    let msgs = consume_until(&format!("{prefix}.message"), Duration::from_secs(30), |r| {
        r.len() >= 2
    });
    w.stop();
    drop_db(&db, &slot);
    let parse =
        |b: &Option<Vec<u8>>| -> Value { serde_json::from_slice(b.as_ref().unwrap()).unwrap() };
    let end = parse(&tx[1].1);
    assert_eq!(end["payload"]["status"], "END", "{end}");
    assert_eq!(end["payload"]["event_count"], 3);
    assert_eq!(
        end["payload"]["data_collections"],
        json!([{"data_collection": "public.t", "event_count": 2}, {"data_collection": "LOGICAL_DECODING_MESSAGE", "event_count": 1}])
    );
    let inside = parse(&msgs[0].1);
    let block = &inside["payload"]["transaction"];
    assert_eq!(
        (&block["total_order"], &block["data_collection_order"]),
        (&json!(2), &json!(1)),
        "{inside}"
    );
    let outside = parse(&msgs[1].1);
    assert!(outside["payload"]["transaction"].is_null(), "{outside}");
    assert!(outside["payload"]["source"]["txId"].is_null(), "{outside}");
}

#[test]
fn streamed_values_do_not_depend_on_the_database_output_settings() {
    // pgoutput renders values with the walsender's session settings; a
    // database whose defaults differ from PostgreSQL's must stream the same
    // events (the replication connection pins the formats the decoders parse)
    let db = fresh_db(
        "CREATE TABLE t (id int PRIMARY KEY, d date, ts timestamp, tstz timestamptz, iv interval, b bytea, f float8)",
    );
    psql(
        "postgres",
        &[
            "-c",
            &format!("ALTER DATABASE {db} SET DateStyle = 'SQL, DMY'"),
            "-c",
            &format!("ALTER DATABASE {db} SET IntervalStyle = 'sql_standard'"),
            "-c",
            &format!("ALTER DATABASE {db} SET bytea_output = 'escape'"),
            "-c",
            &format!("ALTER DATABASE {db} SET extra_float_digits = 0"),
        ],
    );
    let (prefix, slot, _dir, mut w) = start_source(&db, json!({"snapshot.mode": "no_data"}), "");
    let topic = format!("{prefix}.public.t");
    // the slot exists once the connector streams; wait for it before writing
    let active =
        format!("SELECT count(*) FROM pg_replication_slots WHERE slot_name = '{slot}' AND active");
    wait_until(Duration::from_secs(60), "the slot to become active", || {
        psql("postgres", &["-c", &active]).trim() == "1"
    });
    psql(
        &db,
        &[
            "-c",
            "INSERT INTO t VALUES (1, '2024-03-01', '2024-03-01 08:15:30.25', '2024-03-01 08:15:30.25+02', '1 day 02:03:04.5', '\\x00ff41', 0.1)",
        ],
    );
    let recs = consume_until(&topic, Duration::from_secs(60), |r| count_values(r) >= 1);
    w.stop();
    drop_db(&db, &slot);
    let v: Value = serde_json::from_slice(
        recs.iter()
            .find_map(|(_, v)| v.as_deref())
            .expect("one change event"),
    )
    .unwrap();
    let after = &v["payload"]["after"];
    assert_eq!(after["d"], json!(19783), "date as days: {after}");
    assert_eq!(after["ts"], json!(1_709_280_930_250_000i64), "{after}");
    assert_eq!(
        after["tstz"],
        json!("2024-03-01T06:15:30.250000Z"),
        "{after}"
    );
    assert_eq!(after["iv"], json!(93_784_500_000i64), "{after}");
    assert_eq!(after["b"], json!("AP9B"), "bytea as base64: {after}");
    assert_eq!(after["f"], json!(0.1), "{after}");
}

#[test]
fn a_record_larger_than_the_producer_queue_fails_naming_the_key_and_loses_nothing() {
    let db = fresh_db(
        "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'small'), (2, repeat('x', 4000));",
    );
    let (prefix, slot, _dir, w) = start_source(
        &db,
        json!({"producer.override.queue.buffering.max.kbytes": "1"}),
        "",
    );
    let trace = failed_trace(&w, "src");
    assert!(
        trace.contains("larger than the producer queue")
            && trace.contains("producer.override.queue.buffering.max.kbytes"),
        "{trace}"
    );
    // the fix the message names: raise the limit, and every row arrives
    let (_, mut cfg) = w.call("GET", "/connectors/src/config", None);
    cfg["producer.override.queue.buffering.max.kbytes"] = json!("4096");
    let (code, body) = w.call("PUT", "/connectors/src/config", Some(&cfg.to_string()));
    assert!(code == 200 || code == 201, "{code} {body}");
    let topic = format!("{prefix}.public.t");
    let got = events(&topic, |r| count_values(r) >= 2);
    let log = w.log_text();
    drop(w);
    drop_db(&db, &slot);
    let mut ids: Vec<i64> = got.iter().map(|(id, _, _)| *id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids, [1, 2], "log:\n{log}");
}

/// `errors.tolerance=all` in a *source* task: a record that a transform
/// rejects is skipped with the error logged ("Error encountered in task"),
/// the records after it are delivered, and its offset is stored; with the
/// default `none` the same record fails the task naming the stage.
#[test]
fn errors_tolerance_all_skips_a_poisoned_source_record_and_delivers_the_next() {
    let db = fresh_db("CREATE TABLE t (id int PRIMARY KEY, qty text)");
    // unwrap the envelope, then cast qty to int32: 'oops' cannot be cast
    let chain = |tolerance: &str| {
        json!({
            "transforms": "unwrap,cast",
            "transforms.unwrap.type": "io.debezium.transforms.ExtractNewRecordState",
            "transforms.cast.type": "org.apache.kafka.connect.transforms.Cast$Value",
            "transforms.cast.spec": "qty:int32",
            "errors.tolerance": tolerance,
            "errors.log.enable": "true",
            "errors.log.include.messages": "true",
        })
    };
    let (prefix, slot, _dir, w) = start_source(&db, chain("all"), "");
    w.wait_status("src", |s| s["tasks"][0]["state"] == "RUNNING");
    psql(&db, &["-c", "INSERT INTO t VALUES (1, '10')"]);
    psql(&db, &["-c", "INSERT INTO t VALUES (2, 'oops')"]);
    psql(&db, &["-c", "INSERT INTO t VALUES (3, '30')"]);
    let topic = format!("{prefix}.public.t");
    let got: Vec<Value> = consume_until(&topic, Duration::from_secs(60), |r| r.len() >= 2)
        .into_iter()
        .filter_map(|(_, v)| serde_json::from_slice(&v?).ok())
        .collect();
    let rows: Vec<(i64, i64)> = got
        .iter()
        .map(|v| {
            (
                v["payload"]["id"].as_i64().unwrap(),
                v["payload"]["qty"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(rows, vec![(1, 10), (3, 30)], "log:\n{}", w.log_text());
    wait_until(
        Duration::from_secs(20),
        "the error in the worker log",
        || {
            w.log_text().contains("Error encountered in task src-0. Executing stage 'TRANSFORMATION' with class 'org.apache.kafka.connect.transforms.Cast$Value'")
        },
    );
    assert!(
        w.log_text().contains("oops"),
        "errors.log.include.messages shows the record; log:\n{}",
        w.log_text()
    );
    let status = w.wait_status("src", |s| s["tasks"][0]["state"] == "RUNNING");
    assert_eq!(status["connector"]["state"], "RUNNING");
    drop(w);
    drop_db(&db, &slot);

    // the default errors.tolerance=none fails the task on the same record
    let db = fresh_db("CREATE TABLE t (id int PRIMARY KEY, qty text)");
    let (_prefix, slot, _dir, w) = start_source(&db, chain("none"), "");
    w.wait_status("src", |s| s["tasks"][0]["state"] == "RUNNING");
    psql(&db, &["-c", "INSERT INTO t VALUES (2, 'oops')"]);
    let trace = failed_trace(&w, "src");
    assert!(
        trace.contains("cast") && trace.contains("oops"),
        "the trace names the transform and the value: {trace}"
    );
    drop(w);
    drop_db(&db, &slot);
}
