//! The whole Velocity chain end to end, with the configs of
//! `examples/velocity/`: the real `velocity` binary runs the PostgreSQL
//! source (cast → net-change filter → business events → map) and the
//! materializing sink against the real PostgreSQL and broker.
//!
//! A TMS workload (inserts, updates, a DELETE+INSERT of a note in one
//! transaction, shipments moving through their statuses, deletes) must
//! leave the fast storage tables equal, row for row, to the objects
//! computed from the final TMS state (the `fast.expected_*` views of
//! `examples/velocity/fast-storage.sql`), and the business topic must hold
//! exactly the expected status transitions, once each. Then a second
//! workload runs while the worker is SIGKILLed and restarted: the same
//! equality holds, every expected business event is there, and every
//! repeated business event is a replay of the same source transaction
//! (same `tx_id`), the documented at-least-once window.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use common::{consume_until, env, psql, unique, Worker};
use serde_json::{json, Value};

/// The example connector config `file`, pointed at the test database,
/// with its topics renamed from `tms.` to `prefix.`.
fn example(file: &str, db: &str, prefix: &str, slot: &str, dir: &Path) -> std::path::PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/velocity")
        .join(file);
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let (host, port) = (
        env("VELOCITY_PG_HOST", "127.0.0.1"),
        env("VELOCITY_PG_PORT", "55432"),
    );
    let (user, pw) = (
        env("VELOCITY_PG_SUPERUSER", "postgres"),
        env("VELOCITY_PG_SUPERUSER_PASSWORD", "postgres"),
    );
    let config = v["config"].as_object_mut().unwrap();
    for (_, val) in config.iter_mut() {
        if let Some(s) = val.as_str() {
            *val = Value::String(
                s.replace("tms.domain.", &format!("{prefix}.domain."))
                    .replace("tms.business.", &format!("{prefix}.business.")),
            );
        }
    }
    let overrides = if config.contains_key("topic.prefix") {
        json!({"database.hostname": host, "database.port": port, "database.user": user,
               "database.password": pw, "database.dbname": db, "topic.prefix": prefix,
               "slot.name": slot, "publication.name": slot})
    } else {
        json!({"connection.url": format!("jdbc:postgresql://{host}:{port}/{db}"),
               "connection.username": user, "connection.password": pw, "batch.size": "200"})
    };
    for (k, val) in overrides.as_object().unwrap() {
        config.insert(k.clone(), val.clone());
    }
    // a connector name (and so a consumer group) of its own per run
    let name = format!("{}-{prefix}", v["name"].as_str().unwrap());
    v["name"] = Value::String(name);
    let out = dir.join(file);
    std::fs::write(&out, v.to_string()).unwrap();
    out
}

/// Rows that differ between the fast storage and the expected objects.
fn differences(db: &str) -> i64 {
    let q = ["shipment", "shipment_stop", "load_item"]
        .iter()
        .map(|t| format!("(SELECT count(*) FROM ((TABLE fast.expected_{t} EXCEPT TABLE fast.{t}) UNION ALL (TABLE fast.{t} EXCEPT TABLE fast.expected_{t})) d)"))
        .collect::<Vec<_>>()
        .join(" + ");
    psql(db, &["-c", &format!("SELECT {q}")]).parse().unwrap()
}

fn wait_equal(db: &str, w: &Worker, what: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while differences(db) != 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(250));
    }
    let fast = psql(db, &["-c", "TABLE fast.shipment ORDER BY 1; TABLE fast.shipment_stop ORDER BY 1; TABLE fast.load_item ORDER BY 1"]);
    assert_eq!(
        differences(db),
        0,
        "{what}: fast storage differs from the TMS objects:\n{fast}\nlog:\n{}",
        w.log_text()
    );
}

/// A business event: (type, shipment id, from, to) and its tx_id.
type Biz = ((String, i64, String, String), String);

fn business(topic: &str, wait: Duration, want: usize) -> Vec<Biz> {
    consume_until(topic, wait, |r| r.len() >= want)
        .into_iter()
        .filter_map(|(_, v)| serde_json::from_slice::<Value>(v.as_ref()?).ok())
        .map(|v| {
            let d = &v["data"];
            let s = |x: &Value| x.as_str().unwrap_or("").to_owned();
            (
                (
                    s(&v["type"]),
                    d["shipmentId"].as_i64().unwrap_or(-1),
                    s(&d["from"]),
                    s(&d["to"]),
                ),
                s(&v["tx_id"]),
            )
        })
        .collect()
}

fn transitions(id: i64) -> Vec<(String, i64, String, String)> {
    let c = |f: &str, t: &str| {
        (
            "ShipmentStatusChanged".to_owned(),
            id,
            f.to_owned(),
            t.to_owned(),
        )
    };
    vec![
        c("planned", "dispatched"),
        c("dispatched", "in_transit"),
        c("in_transit", "delivered"),
        (
            "ShipmentDelivered".to_owned(),
            id,
            String::new(),
            String::new(),
        ),
    ]
}

#[test]
fn tms_workload_reaches_fast_storage_and_business_events_across_a_sigkill() {
    let db = unique("vpipe");
    psql("postgres", &["-c", &format!("CREATE DATABASE {db}")]);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/velocity");
    for f in ["tms-schema.sql", "fast-storage.sql", "seed.sql"] {
        psql(&db, &["-f", root.join(f).to_str().unwrap()]);
    }
    let prefix = unique("vp").replace('_', "");
    let slot = unique("vpslot").to_lowercase();
    let dir = tempfile::tempdir().unwrap();
    let source = example("tms-source.json", &db, &prefix, &slot, dir.path());
    let sink = example("fast-storage-sink.json", &db, &prefix, &slot, dir.path());
    // the source first; the sink once its topics exist (as a deployment
    // would add it), over REST: it is kept in the worker's connectors file
    // and comes back after the restart
    let mut w = Worker::start(dir.path(), "offset.flush.interval.ms=200", &[source]);
    let biz_topic = format!("{prefix}.business.shipments");
    for t in ["shipments", "stops", "loaditems"] {
        let snap = consume_until(
            &format!("{prefix}.domain.{t}"),
            Duration::from_secs(90),
            |r| !r.is_empty(),
        );
        assert!(!snap.is_empty(), "snapshot on {t}; log:\n{}", w.log_text());
    }
    let (code, body) = w.call(
        "POST",
        "/connectors",
        Some(&std::fs::read_to_string(&sink).unwrap()),
    );
    assert_eq!(code, 201, "{body}");

    // phase 1: the example workload, no failure
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    while psql(&db, &["-c", "SELECT count(*) FROM fast.shipment"]) != "2" {
        assert!(
            std::time::Instant::now() < deadline,
            "the snapshot did not reach the fast storage; status {:?}; log:\n{}",
            w.call("GET", "/connectors?expand=status", None),
            w.log_text()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    psql(&db, &["-f", root.join("workload.sql").to_str().unwrap()]);
    wait_equal(&db, &w, "after the example workload");
    let got = business(&biz_topic, Duration::from_secs(60), 4);
    // nothing more arrives (a doubled event would show up here)
    let again = business(&biz_topic, Duration::from_secs(3), usize::MAX);
    let kinds: Vec<_> = again.iter().map(|(k, _)| k.clone()).collect();
    assert_eq!(
        kinds,
        transitions(1),
        "business events; log:\n{}",
        w.log_text()
    );
    assert_eq!(got.len(), 4);
    // the DELETE + INSERT of note 1 is one domain event: NoteUpdated
    let notes: Vec<Value> = consume_until(
        &format!("{prefix}.domain.loaditems"),
        Duration::from_secs(5),
        |_| false,
    )
    .into_iter()
    .filter_map(|(_, v)| serde_json::from_slice(v.as_ref()?).ok())
    .filter(|v: &Value| v["data"]["itemId"] == "NOTE-1")
    .collect();
    let types: Vec<&str> = notes.iter().filter_map(|v| v["type"].as_str()).collect();
    assert_eq!(types, ["NoteCreated", "NoteUpdated"], "{notes:?}");

    // phase 2: 40 shipments, each created with stops, a handling unit and
    // a note, moved through its statuses (one transaction per step, the
    // note rewritten by DELETE + INSERT), some stops deleted; SIGKILL while
    // it runs
    let ids: Vec<i64> = (100..140).collect();
    let mut sql = String::new();
    for &i in &ids {
        sql.push_str(&format!(
            "BEGIN; INSERT INTO tms.shipment VALUES ({i}, 'SHP-{i}', 'C{i}', 'planned', {i}.5); \
             INSERT INTO tms.stop VALUES ({i}0, {i}, 1, 'A'), ({i}1, {i}, 2, 'B'); \
             INSERT INTO tms.handling_unit VALUES ({i}, {i}, 'SSCC{i}', 1.25); INSERT INTO tms.note VALUES ({i}, {i}, 'n'); COMMIT;\n"
        ));
    }
    for step in ["dispatched", "in_transit", "delivered"] {
        for &i in &ids {
            sql.push_str(&format!(
                "UPDATE tms.shipment SET status = '{step}' WHERE id = {i};\n"
            ));
            if step == "in_transit" {
                sql.push_str(&format!(
                    "BEGIN; DELETE FROM tms.note WHERE id = {i}; INSERT INTO tms.note VALUES ({i}, {i}, 'on the way'); DELETE FROM tms.stop WHERE id = {i}0; COMMIT;\n"
                ));
            }
        }
    }
    let file = dir.path().join("phase2.sql");
    std::fs::write(&file, sql).unwrap();
    let writer = {
        let db = db.clone();
        std::thread::spawn(move || psql(&db, &["-f", file.to_str().unwrap()]))
    };
    let before_kill = business(&biz_topic, Duration::from_secs(90), 4 + 20);
    assert!(
        before_kill.len() >= 24,
        "business events before the kill; log:\n{}",
        w.log_text()
    );
    w.kill9();
    writer.join().unwrap();
    w.restart();
    wait_equal(&db, &w, "after SIGKILL and restart");
    let want: BTreeSet<_> = std::iter::once(1)
        .chain(ids.iter().copied())
        .flat_map(transitions)
        .collect();
    let mut all = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    while std::time::Instant::now() < deadline {
        all = business(&biz_topic, Duration::from_secs(5), usize::MAX);
        if all.iter().map(|(k, _)| k).collect::<BTreeSet<_>>().len() >= want.len() {
            break;
        }
    }
    let mut first_tx: BTreeMap<_, String> = BTreeMap::new();
    let mut repeats = 0;
    for (k, tx) in &all {
        assert!(want.contains(k), "unexpected business event {k:?}");
        match first_tx.get(k) {
            None => {
                first_tx.insert(k.clone(), tx.clone());
            }
            Some(t) => {
                repeats += 1;
                assert_eq!(t, tx, "{k:?} emitted for two different transactions");
            }
        }
    }
    let missing: Vec<_> = want.iter().filter(|k| !first_tx.contains_key(*k)).collect();
    assert!(
        missing.is_empty(),
        "missing business events {missing:?}; log:\n{}",
        w.log_text()
    );
    eprintln!(
        "{} business events for {} transitions: {repeats} replayed after the SIGKILL (same tx_id)",
        all.len(),
        want.len()
    );
    drop(w);
    psql("postgres", &["-c", &format!("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '{slot}' AND NOT active")]);
    psql(
        "postgres",
        &["-c", &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")],
    );
}
