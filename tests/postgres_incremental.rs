//! Signals and incremental snapshots of the PostgreSQL source against the
//! real server and broker (the `velocity` binary):
//! - the golden comparisons with the real Debezium 3.6.3
//!   (`tests/fixtures/postgres/incremental` and `…/blocking`, captured by
//!   `scripts/golden-incremental.sh`): the same signal (an incremental, or
//!   a blocking snapshot) and the same concurrent workload give the same
//!   `r` events for every row the workload left alone, and the same final
//!   state for every key;
//! - a connector killed in the middle of an incremental snapshot continues
//!   after the last stored chunk row, losing nothing;
//! - a table added to `table.include.list` of a running connector is
//!   snapshotted by a signal without re-snapshotting the others, and bad
//!   signals before it are logged and skipped;
//! - a blocking snapshot signalled between changes: every row of the table
//!   arrives once as `r` with the initial snapshot's markers, no streamed
//!   change interleaves with them, the changes made after the signal
//!   arrive after them, the last event of every key is the table's row and
//!   streaming goes on; `additional-conditions` (a whole `SELECT`, or a
//!   condition) restrict the rows read;
//! - a connector killed in the middle of a blocking snapshot has stored
//!   Debezium's blocking offsets (`snapshot: "BLOCKING"`), and restarts
//!   streaming after the signal without taking an initial snapshot and
//!   without resuming the blocking one (as Debezium), losing no change;
//! - `pause-snapshot` stops the chunks of an incremental snapshot,
//!   `resume-snapshot` continues them and `stop-snapshot` ends it (its
//!   keys leave the offsets);
//! - signals through the Kafka channel (`signal.kafka.topic`): a `log` and
//!   an `execute-snapshot` are acted upon, and the stored offset keeps the
//!   channel's position.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{
    consume_until, diff, final_state, id_of, op_of, parse, pg_connector_file, psql, reads_until,
    rename_prefix, unique, wait_until, Event, Worker,
};
use serde_json::{json, Value};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/postgres/incremental")
}

fn fresh_db(sql: &[&str]) -> String {
    let db = unique("incsnap");
    psql("postgres", &["-c", &format!("CREATE DATABASE {db}")]);
    for s in sql {
        psql(&db, &["-c", s]);
    }
    db
}

fn drop_db(db: &str, slot: &str) {
    common::pg_drop_db(db, slot);
}

/// A connector `src` on `db` with a fresh prefix and slot, signalling
/// through `public.debezium_signal`: (prefix, slot, directory, connector
/// file); `extra` adds keys.
fn signal_source(
    db: &str,
    tag: &str,
    extra: Value,
) -> (String, String, tempfile::TempDir, PathBuf) {
    let prefix = unique(tag).replace('_', "");
    let slot = unique("incsnap").to_lowercase();
    let dir = tempfile::tempdir().unwrap();
    let mut config = json!({"signal.data.collection": "public.debezium_signal"});
    for (k, v) in extra.as_object().unwrap() {
        config[k] = v.clone();
    }
    let conn = pg_connector_file(dir.path(), "src", db, &prefix, &slot, config);
    (prefix, slot, dir, conn)
}

/// A database with the signal table and `t` (rows `1..=rows`, `v` =
/// `v<id>`) and a connector on it ([`signal_source`]): (database, prefix,
/// slot, directory, connector file).
fn table_t_source(
    rows: i64,
    tag: &str,
    extra: Value,
) -> (String, String, String, tempfile::TempDir, PathBuf) {
    let db = fresh_db(&[
        SIGNAL_TABLE,
        &format!("CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, {rows}) g"),
    ]);
    let (prefix, slot, dir, conn) = signal_source(&db, tag, extra);
    (db, prefix, slot, dir, conn)
}

const SIGNAL_TABLE: &str = "CREATE TABLE public.debezium_signal (id varchar(42) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(2048) NULL)";

fn wait_streaming(slot: &str, w: &Worker) {
    wait_until(Duration::from_secs(60), "the slot to be active", || {
        psql("postgres", &["-c", &format!("SELECT count(*) FROM pg_replication_slots WHERE slot_name = '{slot}' AND active")]) == "1"
    });
    // the reader is past its start-up once the slot is active
    let _ = w;
}

/// The keys `workload.sql` changes.
fn touched_keys() -> BTreeSet<i64> {
    let sql = std::fs::read_to_string(fixtures().join("workload.sql")).unwrap();
    let mut keys = BTreeSet::new();
    for marker in ["WHERE id = ", "VALUES ("] {
        for (i, _) in sql.match_indices(marker) {
            let digits: String = sql[i + marker.len()..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            keys.insert(digits.parse().unwrap());
        }
    }
    keys
}

#[test]
fn golden_incremental_snapshot_matches_debezium() {
    golden_snapshot_matches_debezium("incremental");
}

#[test]
fn golden_blocking_snapshot_matches_debezium() {
    golden_snapshot_matches_debezium("blocking");
}

/// The golden comparison of a `kind` (`incremental` or `blocking`)
/// snapshot: the fixtures of `tests/fixtures/postgres/<kind>` (schema and
/// workload are the incremental one's) replayed against Velocity.
fn golden_snapshot_matches_debezium(kind: &str) {
    let golden_dir = fixtures().with_file_name(kind);
    let golden_db = format!("golden_{kind}");
    let golden: Vec<Value> = std::fs::read_to_string(golden_dir.join("golden.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let golden_events: Vec<Event> = golden
        .iter()
        .map(|g| {
            (
                g["topic"].as_str().unwrap().to_owned(),
                g["key"].clone(),
                g["value"].clone(),
            )
        })
        .collect();
    let db = unique("incsnap");
    psql("postgres", &["-c", &format!("CREATE DATABASE {db}")]);
    psql(
        &db,
        &["-f", fixtures().join("schema.sql").to_str().unwrap()],
    );
    // debezium.properties, on this server
    let (prefix, slot, dir, conn) = signal_source(
        &db,
        "gi",
        json!({
            "table.include.list": "inc.items,inc.other",
            "incremental.snapshot.chunk.size": "100",
            "snapshot.mode": "no_data",
        }),
    );
    let mut w = Worker::start(dir.path(), "", &[conn]);
    wait_streaming(&slot, &w);
    psql(
        &db,
        &["-f", golden_dir.join("signal.sql").to_str().unwrap()],
    );
    let mut load = common::psql_file_in_background(&db, &fixtures().join("workload.sql"));
    assert!(load.wait().unwrap().success());
    // Debezium's final state is the table's (the workload is deterministic)
    let golden_final = final_state(golden_events.iter().filter(|e| e.0 == "tms.inc.items"));
    let topic = format!("{prefix}.inc.items");
    let mut scanned = 0;
    let mut state = BTreeMap::new();
    let recs = consume_until(&topic, Duration::from_secs(180), |r| {
        let new = parse(&r[scanned..], &topic);
        scanned = r.len();
        for (id, s) in final_state(new.iter()) {
            state.insert(id, s);
        }
        state == golden_final
    });
    let signal_topic = format!("{prefix}.public.debezium_signal");
    let signals = consume_until(&signal_topic, Duration::from_secs(30), |r| !r.is_empty());
    let log = w.log_text();
    w.stop();
    drop_db(&db, &slot);
    let mut got = parse(&recs, &topic);
    for e in got.iter_mut() {
        for v in [&mut e.1, &mut e.2] {
            rename_prefix(v, &prefix, "tms");
            if let Some(src) = v.pointer_mut("/payload/source") {
                src["db"] = json!(golden_db);
            }
        }
        e.0 = "tms.inc.items".into();
    }
    // 1. the final state of every key is the table's (Debezium's)
    let got_final = final_state(got.iter());
    let diffs: Vec<String> = golden_final
        .iter()
        .filter(|(k, v)| got_final.get(k) != Some(v))
        .map(|(k, v)| format!("id {k}: got {:?}, want {v:?}", got_final.get(k)))
        .chain(
            got_final
                .keys()
                .filter(|k| !golden_final.contains_key(k))
                .map(|k| format!("id {k}: not in Debezium's events")),
        )
        .collect();
    assert!(
        diffs.is_empty(),
        "{} keys differ in final state, e.g.:\n{}\nlog tail:\n{}",
        diffs.len(),
        diffs
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n"),
        &log[log.len().saturating_sub(5000)..]
    );
    // 2. the r events of rows the workload left alone: the same set, and
    //    each the same event field by field (values, source.snapshot, schemas)
    let touched = touched_keys();
    let reads = |evs: &[Event]| -> HashMap<i64, Vec<Value>> {
        let mut m: HashMap<i64, Vec<Value>> = HashMap::new();
        for e in evs
            .iter()
            .filter(|e| e.0 == "tms.inc.items" && op_of(e) == Some("r"))
        {
            let mut v = json!({"key": e.1, "value": e.2});
            // which row a blocking snapshot reads first and last depends on
            // the rows the workload moved before the read: compared below
            if let Some(snap) = v.pointer_mut("/value/payload/source/snapshot") {
                if kind == "blocking" && (snap == "first" || snap == "last") {
                    *snap = json!("true");
                }
            }
            m.entry(id_of(e).unwrap()).or_default().push(v);
        }
        m
    };
    let (got_r, want_r) = (reads(&got), reads(&golden_events));
    let mut diffs = Vec::new();
    let mut compared = 0;
    for id in 1..=3000i64 {
        if touched.contains(&id) {
            continue;
        }
        let (g, w) = (got_r.get(&id), want_r.get(&id));
        match (g, w) {
            (Some(g), Some(w)) if g.len() == 1 && w.len() == 1 => {
                diff(&format!("id {id}"), &g[0], &w[0], false, &mut diffs);
                compared += 1;
            }
            _ => diffs.push(format!(
                "id {id}: {} r events, Debezium {}",
                g.map_or(0, Vec::len),
                w.map_or(0, Vec::len)
            )),
        }
    }
    assert!(compared > 2500, "only {compared} rows compared");
    if kind == "blocking" {
        // one run of r events, with the initial snapshot's markers
        let markers: Vec<&str> = got
            .iter()
            .filter(|e| op_of(e) == Some("r"))
            .map(|e| e.2["payload"]["source"]["snapshot"].as_str().unwrap_or(""))
            .collect();
        assert_eq!(markers.first(), Some(&"first"));
        assert_eq!(markers.last(), Some(&"last"));
        assert!(markers[1..markers.len() - 1].iter().all(|m| *m == "true"));
    }
    // 3. no key of an untouched row gets anything but its r event
    for e in &got {
        let id = id_of(e).unwrap();
        if id <= 3000 && !touched.contains(&id) {
            assert_eq!(op_of(e), Some("r"), "id {id}: {:?}", e.2);
        }
    }
    // 4. the signal table's events (Debezium emits them like any captured
    //    table's): the execute-snapshot insert, compared field by field
    let first_signal = parse(&signals[..1], &signal_topic).remove(0);
    let mut sig = json!({"key": first_signal.1, "value": first_signal.2});
    rename_prefix(&mut sig, &prefix, "tms");
    sig["value"]["payload"]["source"]["db"] = json!(golden_db);
    let want_sig = golden
        .iter()
        .find(|g| g["topic"] == "tms.public.debezium_signal")
        .unwrap();
    diff(
        "signal",
        &sig,
        &json!({"key": want_sig["key"], "value": want_sig["value"]}),
        false,
        &mut diffs,
    );
    assert!(
        diffs.is_empty(),
        "{} differences from Debezium (first 40):\n{}",
        diffs.len(),
        diffs
            .iter()
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn a_killed_connector_continues_the_incremental_snapshot_from_the_next_chunk() {
    let (db, prefix, slot, dir, conn) = table_t_source(
        20000,
        "ik",
        json!({
            "table.include.list": "public.t",
            "incremental.snapshot.chunk.size": "20",
            "snapshot.mode": "no_data",
            "slot.retry.delay.ms": "500",
        }),
    );
    let mut w = Worker::start(dir.path(), "offset.flush.interval.ms=200", &[conn]);
    wait_streaming(&slot, &w);
    psql(&db, &["-c", "INSERT INTO debezium_signal VALUES ('s1', 'execute-snapshot', '{\"data-collections\": [\"public.t\"]}')"]);
    let topic = format!("{prefix}.public.t");
    reads_until(&topic, |c| c.len() >= 2000);
    w.kill9();
    let stored = common::stored_offset(dir.path());
    let k = common::stored_snapshot_key(&stored, 20000, &w.log_text());
    assert_eq!(stored["incremental_snapshot_collections"], "[{\"incremental_snapshot_collections_id\":\"public.t\",\"incremental_snapshot_collections_additional_condition\":null,\"incremental_snapshot_collections_surrogate_key\":null}]");
    // rows changed while the connector is down
    psql(
        &db,
        &[
            "-c",
            "UPDATE t SET v = 'late' WHERE id IN (1, 19999); DELETE FROM t WHERE id = 19998",
        ],
    );
    w.restart();
    let counts = reads_until(&topic, |c| {
        (1..=19997).all(|i| c.contains_key(&i)) && c.contains_key(&20000)
    });
    let log = w.log_text();
    w.stop();
    drop_db(&db, &slot);
    common::check_continued_snapshot(&counts, 20000, 19998, k, &log);
}

#[test]
fn a_table_added_to_the_include_list_is_snapshotted_by_a_signal_alone() {
    let db = fresh_db(&[
        SIGNAL_TABLE,
        "CREATE TABLE a (id int PRIMARY KEY, v text); INSERT INTO a SELECT g, 'a' || g FROM generate_series(1, 100) g",
        "CREATE TABLE b (id int PRIMARY KEY, v text); INSERT INTO b SELECT g, 'b' || g FROM generate_series(1, 250) g",
    ]);
    let (prefix, slot, dir, conn) = signal_source(
        &db,
        "ir",
        json!({"table.include.list": "public.a", "incremental.snapshot.chunk.size": "40"}),
    );
    let mut w = Worker::start(dir.path(), "", &[conn]);
    let (ta, tb) = (format!("{prefix}.public.a"), format!("{prefix}.public.b"));
    assert_eq!(
        reads_until(&ta, |c| c.len() >= 100).len(),
        100,
        "initial snapshot of a"
    );
    wait_streaming(&slot, &w);
    // the runtime reconfigures the running connector: b joins the include list
    let (_, mut cfg) = w.call("GET", "/connectors/src/config", None);
    cfg["table.include.list"] = json!("public.a,public.b");
    let (code, body) = w.call("PUT", "/connectors/src/config", Some(&cfg.to_string()));
    assert!(code == 200 || code == 201, "{code} {body}");
    w.wait_status("src", |s| s["tasks"][0]["state"] == "RUNNING");
    wait_streaming(&slot, &w);
    // bad signals are logged and skipped; streaming goes on
    psql(&db, &["-c", "INSERT INTO debezium_signal VALUES ('bad-json', 'execute-snapshot', '{not json'), ('bad-type', 'reboot', NULL), ('log-1', 'log', '{\"message\": \"hello from the signal table at {}\"}')"]);
    psql(&db, &["-c", "INSERT INTO debezium_signal VALUES ('s1', 'execute-snapshot', '{\"data-collections\": [\"public\\\\.b\"], \"type\": \"incremental\"}')"]);
    let b = reads_until(&tb, |c| c.len() >= 250);
    // a marker after the snapshot: everything a got before it is known
    psql(&db, &["-c", "UPDATE a SET v = 'marker' WHERE id = 1"]);
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
    drop_db(&db, &slot);
    assert!(marker, "the marker update of a arrived; log:\n{log}");
    assert_eq!(a_reads, 100, "a was not snapshotted again; log:\n{log}");
    assert_eq!(b.len(), 250);
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

fn signal(db: &str, id: &str, kind: &str, data: &str) {
    psql(
        db,
        &[
            "-c",
            &format!(
                "INSERT INTO debezium_signal VALUES ('{id}', '{kind}', '{}')",
                data.replace('\'', "''")
            ),
        ],
    );
}

/// Inserts marker row `id` into `t` of `db` and reads `topic` until its create event.
fn marker(db: &str, topic: &str, id: i64) -> Vec<Event> {
    common::await_marker(
        |s| {
            psql(db, &["-c", s]);
        },
        topic,
        id,
    )
}

/// The rows of `t` (id → v).
fn table_rows(db: &str) -> BTreeMap<i64, String> {
    common::rows_of(&psql(db, &["-c", "SELECT id, v FROM t ORDER BY id"]), '|')
}

#[test]
fn a_blocking_snapshot_rereads_the_table_between_streamed_changes() {
    let (db, prefix, slot, dir, conn) = table_t_source(
        3000,
        "bk",
        json!({"table.include.list": "public.t", "snapshot.mode": "no_data"}),
    );
    let mut w = Worker::start(dir.path(), "", &[conn]);
    wait_streaming(&slot, &w);
    let topic = format!("{prefix}.public.t");
    psql(&db, &["-c", common::BLOCKING_BEFORE]);
    signal(
        &db,
        "b1",
        "execute-snapshot",
        r#"{"data-collections": ["public\\.t"], "type": "blocking"}"#,
    );
    psql(&db, &["-c", common::BLOCKING_AFTER]);
    let events = marker(&db, &topic, 9001);
    let table = table_rows(&db);
    common::check_blocking_snapshot(&events, &table, &w.log_text());

    // additional conditions: a whole statement, then a condition
    signal(
        &db,
        "b2",
        "execute-snapshot",
        r#"{"data-collections": ["public.t"], "type": "blocking", "additional-conditions": [{"data-collection": "public.t", "filter": "SELECT * FROM public.t WHERE id <= 100"}]}"#,
    );
    let events2 = marker(&db, &topic, 9002);
    let ids2: BTreeSet<i64> = common::reads_from(&events2, events.len())
        .into_iter()
        .map(|i| id_of(&events2[i]).unwrap())
        .collect();
    let want2: BTreeSet<i64> = table.keys().copied().filter(|i| *i <= 100).collect();
    assert_eq!(ids2, want2);
    signal(
        &db,
        "b3",
        "execute-snapshot",
        r#"{"data-collections": ["public.t"], "type": "blocking", "additional-conditions": [{"data-collection": "public\\.t", "filter": "id > 2990"}]}"#,
    );
    let events3 = marker(&db, &topic, 9003);
    // the marker may be read too (inserted before the snapshot began)
    let ids3: BTreeSet<i64> = common::reads_from(&events3, events2.len())
        .into_iter()
        .map(|i| id_of(&events3[i]).unwrap())
        .filter(|id| *id != 9003)
        .collect();
    let want3: BTreeSet<i64> = table_rows(&db)
        .keys()
        .copied()
        .filter(|i| *i > 2990 && *i != 9003)
        .collect();
    assert_eq!(ids3, want3);
    w.stop();
    common::pg_drop_db(&db, &slot);
}

#[test]
fn a_connector_killed_in_a_blocking_snapshot_streams_on_after_the_signal() {
    // one row per FETCH keeps the blocking snapshot long
    let keys = json!({"table.include.list": "public.t", "snapshot.fetch.size": "1", "slot.retry.delay.ms": "500", "snapshot.mode": "no_data"});
    let (db, prefix, slot, dir, conn) = table_t_source(30000, "bkr", keys.clone());
    let mut w = Worker::start(dir.path(), "offset.flush.interval.ms=200", &[conn]);
    wait_streaming(&slot, &w);
    let topic = format!("{prefix}.public.t");
    signal(
        &db,
        "b1",
        "execute-snapshot",
        r#"{"data-collections": ["public.t"], "type": "blocking"}"#,
    );
    wait_until(
        Duration::from_secs(120),
        "an offset of the blocking snapshot to be stored",
        || {
            let o = common::stored_offset(dir.path());
            o["snapshot"] == "BLOCKING" && o["last_snapshot_record"] == false
        },
    );
    w.kill9();
    let stored = common::stored_offset(dir.path());
    assert_eq!(stored["snapshot"], "BLOCKING", "{stored}");
    assert_eq!(stored["snapshot_completed"], false, "{stored}");
    assert!(
        stored["lsn_proc"].as_u64().is_some() && stored["txId"].as_i64().is_some(),
        "the signal's streaming position: {stored}"
    );
    // restarted with snapshot.mode=initial: the blocking offset must not
    // ask for an initial snapshot
    let mut keys = keys;
    keys["snapshot.mode"] = json!("initial");
    let mut config = json!({"signal.data.collection": "public.debezium_signal"});
    for (k, v) in keys.as_object().unwrap() {
        config[k] = v.clone();
    }
    pg_connector_file(dir.path(), "src", &db, &prefix, &slot, config);
    psql(&db, &["-c", "UPDATE t SET v = 'down' WHERE id = 1"]);
    w.restart();
    wait_streaming(&slot, &w);
    psql(&db, &["-c", "INSERT INTO t VALUES (90001, 'marker')"]);
    let events = common::events_until(&topic, |e| {
        e.iter()
            .any(|e| op_of(e) == Some("c") && id_of(e) == Some(90001))
    });
    let log = w.log_text();
    assert!(
        events.iter().any(|e| id_of(e) == Some(90001)),
        "the marker did not arrive after the restart; log:\n{log}"
    );
    w.stop();
    common::pg_drop_db(&db, &slot);
    let down = events
        .iter()
        .position(|e| op_of(e) == Some("u") && common::value_of(e) == Some("down"))
        .unwrap_or_else(|| panic!("the change made while down was lost; log:\n{log}"));
    assert!(
        common::reads_from(&events, down).is_empty(),
        "rows read again after the restart (an initial snapshot, or the blocking one resumed); log:\n{log}"
    );
    assert!(
        !common::reads_from(&events, 0).is_empty(),
        "no row of the blocking snapshot before the kill"
    );
    assert!(
        log.contains("written during a blocking snapshot that did not complete"),
        "{log}"
    );
}

#[test]
fn pause_resume_and_stop_signals_steer_an_incremental_snapshot() {
    // large enough that the snapshot cannot end between two signals
    // (chunks of 10 rows: 20,000 chunks) however fast the machine
    let (db, prefix, slot, dir, conn) = table_t_source(
        200_000,
        "bkp",
        json!({"table.include.list": "public.t", "snapshot.mode": "no_data", "incremental.snapshot.chunk.size": "10"}),
    );
    let mut w = Worker::start(dir.path(), "offset.flush.interval.ms=200", &[conn]);
    wait_streaming(&slot, &w);
    let topic = format!("{prefix}.public.t");
    let count = |e: &[Event]| e.iter().filter(|e| op_of(e) == Some("r")).count();
    signal(
        &db,
        "i1",
        "execute-snapshot",
        r#"{"data-collections": ["public.t"]}"#,
    );
    common::events_until(&topic, |e| count(e) >= 100);
    signal(&db, "p1", "pause-snapshot", "{}");
    // once the connector read marker 1 the chunk in flight is out; from
    // then on, no chunk while paused
    marker(&db, &topic, 300001);
    let paused = count(&marker(&db, &topic, 300002));
    let still = count(&marker(&db, &topic, 300003));
    assert_eq!(paused, still, "chunks were read while paused");
    assert!(paused < 200_000, "the snapshot ended before the pause");
    signal(&db, "r1", "resume-snapshot", "{}");
    common::events_until(&topic, |e| count(e) >= paused + 100);
    signal(
        &db,
        "s1",
        "stop-snapshot",
        r#"{"data-collections": ["public.t"], "type": "incremental"}"#,
    );
    marker(&db, &topic, 300004);
    let stopped = count(&marker(&db, &topic, 300005));
    let after = count(&marker(&db, &topic, 300006));
    assert_eq!(stopped, after, "chunks were read after the stop");
    assert!(stopped < 200_000, "the snapshot ended before the stop");
    wait_until(
        Duration::from_secs(30),
        "the offsets to leave the incremental snapshot",
        || {
            let o = common::stored_offset(dir.path());
            o.get("lsn_proc").is_some() && o.get("incremental_snapshot_collections").is_none()
        },
    );
    let log = w.log_text();
    w.stop();
    common::pg_drop_db(&db, &slot);
    assert!(log.contains("Incremental snapshot was paused."), "{log}");
    assert!(
        log.contains("Requested stop of snapshot 'Incremental' for data collections"),
        "{log}"
    );
}

#[test]
fn kafka_channel_signals_snapshot_a_table() {
    let db = fresh_db(&[
        SIGNAL_TABLE,
        "CREATE TABLE k (id int PRIMARY KEY, v text); INSERT INTO k SELECT g, 'k' || g FROM generate_series(1, 300) g",
    ]);
    let signal_topic = unique("pgsignals");
    let (prefix, slot, dir, conn) = signal_source(
        &db,
        "ik",
        json!({
            "table.include.list": "public.k",
            "incremental.snapshot.chunk.size": "64",
            "snapshot.mode": "no_data",
            "signal.enabled.channels": "kafka,source",
            "signal.kafka.topic": signal_topic,
            "signal.kafka.bootstrap.servers": common::kafka_bootstrap(),
            "signal.kafka.groupId": unique("pgsignalgroup"),
        }),
    );
    let mut w = Worker::start(dir.path(), "offset.flush.interval.ms=200", &[conn]);
    wait_streaming(&slot, &w);
    wait_until(Duration::from_secs(60), "the signal channel", || {
        w.log_text().contains("Subscribing to signals topic")
    });
    common::send_kafka(
        &signal_topic,
        &prefix,
        r#"{"id": "kl", "type": "log", "data": {"message": "hello from kafka at {}"}}"#,
    );
    common::send_kafka(
        &signal_topic,
        &prefix,
        r#"{"id": "ks", "type": "execute-snapshot", "data": {"data-collections": ["public.k"], "type": "INCREMENTAL"}}"#,
    );
    let topic = format!("{prefix}.public.k");
    let reads = reads_until(&topic, |c| c.len() >= 300);
    wait_until(Duration::from_secs(60), "the snapshot's end", || {
        w.log_text().contains("Incremental snapshot completed")
    });
    // a change after the snapshot: its offset is stored with the channel's position
    psql(&db, &["-c", "UPDATE k SET v = 'after' WHERE id = 7"]);
    wait_until(
        Duration::from_secs(60),
        "the stored offset of the change",
        || {
            common::stored_offset(dir.path())["incremental_snapshot_signal_offset"] == 1
                && common::stored_offset(dir.path())
                    .get("incremental_snapshot_collections")
                    .is_none()
        },
    );
    let log = w.log_text();
    w.stop();
    drop_db(&db, &slot);
    assert_eq!(reads.len(), 300, "log:\n{log}");
    assert!(reads.values().all(|n| *n == 1), "every row once");
    assert!(log.contains("hello from kafka at {\""), "{log}");
}
