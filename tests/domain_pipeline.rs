//! The domain pipeline end to end: real PostgreSQL → the real `velocity`
//! binary running a PostgreSQL source whose chain is cast → filter → map →
//! a domain topic on the real broker. Per transaction only the net effect
//! per note arrives: delete + re-insert is one update with the final state,
//! insert + update one created event with the final state, insert + delete
//! nothing. A second connector without the chain on the same table still
//! delivers every technical change event.

mod common;

use std::time::Duration;

use common::{consume_until, pg_connector_file, psql, unique, Worker};
use serde_json::{json, Value};

fn json_values(recs: &[common::Kv]) -> Vec<Value> {
    recs.iter()
        .filter_map(|(_, v)| serde_json::from_slice(v.as_ref()?).ok())
        .collect()
}

#[test]
fn transactions_collapse_into_one_domain_event_per_note() {
    let db = unique("domain");
    psql("postgres", &["-c", &format!("CREATE DATABASE {db}")]);
    psql(
        &db,
        &[
            "-c",
            "CREATE SCHEMA tms; CREATE TABLE tms.note (id integer PRIMARY KEY, shipment_id bigint, body text); \
             ALTER TABLE tms.note REPLICA IDENTITY FULL; INSERT INTO tms.note VALUES (1, 10, 'first');",
        ],
    );
    let prefix = unique("dom").replace('_', "");
    let slot = unique("domslot").to_lowercase();
    let tech_prefix = format!("{prefix}t");
    let tech_slot = format!("{slot}_t");
    let domain_topic = format!("{prefix}.domain.notes");
    let dir = tempfile::tempdir().unwrap();
    let domain = pg_connector_file(
        dir.path(),
        "notes-domain",
        &db,
        &prefix,
        &slot,
        json!({
            "table.include.list": "tms.note",
            "key.converter": "org.apache.kafka.connect.json.JsonConverter",
            "key.converter.schemas.enable": "false",
            "value.converter": "org.apache.kafka.connect.json.JsonConverter",
            "value.converter.schemas.enable": "false",
            "transforms": "cast,filter,map",
            "transforms.cast.type": "io.velocity.transforms.domain.Cast",
            "transforms.filter.type": "domain-filter",
            "transforms.filter.max.buffered.records": "1000",
            "transforms.map.type": "io.velocity.transforms.domain.Map",
            "transforms.map.topic": format!("{prefix}.domain.${{table}}s"),
            "transforms.map.event.type": "Note${Op}",
            "transforms.map.key": "id",
            "transforms.map.fields": "noteId,text,shipment.id,label",
            "transforms.map.field.noteId": "id",
            "transforms.map.field.text": "body",
            "transforms.map.field.shipment.id": "shipment_id",
            "transforms.map.field.label": "'note ' || id || ': ' || body",
        }),
    );
    let technical = pg_connector_file(
        dir.path(),
        "notes-technical",
        &db,
        &tech_prefix,
        &tech_slot,
        json!({"table.include.list": "tms.note"}),
    );
    let w = Worker::start(dir.path(), "", &[domain, technical]);
    let tech_topic = format!("{tech_prefix}.tms.note");

    // both snapshots are done (the slots exist) before the changes
    let snap = consume_until(&domain_topic, Duration::from_secs(90), |r| !r.is_empty());
    assert_eq!(snap.len(), 1, "snapshot event; log:\n{}", w.log_text());
    let tech = consume_until(&tech_topic, Duration::from_secs(90), |r| !r.is_empty());
    assert!(
        !tech.is_empty(),
        "technical snapshot; log:\n{}",
        w.log_text()
    );

    for sql in [
        "BEGIN; DELETE FROM tms.note WHERE id = 1; INSERT INTO tms.note VALUES (1, 11, 'rewritten'); COMMIT;",
        "BEGIN; INSERT INTO tms.note VALUES (2, 20, 'draft'); UPDATE tms.note SET body = 'final' WHERE id = 2; COMMIT;",
        "BEGIN; INSERT INTO tms.note VALUES (3, 30, 'tmp'); DELETE FROM tms.note WHERE id = 3; COMMIT;",
        "UPDATE tms.note SET body = 'last' WHERE id = 2;",
    ] {
        psql(&db, &["-c", sql]);
    }

    let last = |recs: &[common::Kv]| {
        json_values(recs).iter().any(|v| {
            v["data"]["text"] == "last"
                || v["payload"]["after"]["body"] == "last"
                || v["after"]["body"] == "last"
        })
    };
    let recs = consume_until(&domain_topic, Duration::from_secs(90), last);
    let events: Vec<(String, Value, Value)> = json_values(&recs)
        .into_iter()
        .map(|v| {
            (
                v["type"].as_str().unwrap_or("?").to_owned(),
                v["data"].clone(),
                v["tx_id"].clone(),
            )
        })
        .collect();
    let kinds: Vec<(&str, i64, &str)> = events
        .iter()
        .map(|(t, d, _)| {
            (
                t.as_str(),
                d["noteId"].as_i64().unwrap_or(-1),
                d["text"].as_str().unwrap_or("?"),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("NoteCreated", 1, "first"),
            ("NoteUpdated", 1, "rewritten"),
            ("NoteCreated", 2, "final"),
            ("NoteUpdated", 2, "last"),
        ],
        "domain events; log:\n{}",
        w.log_text()
    );
    // nested, computed and key fields of the delete + re-insert update
    let update = &events[1].1;
    assert_eq!(update["shipment"]["id"], 11);
    assert_eq!(update["label"], "note 1: rewritten");
    assert!(
        events[1]
            .2
            .as_str()
            .is_some_and(|t| t.parse::<u64>().is_ok()),
        "tx_id {:?}",
        events[1].2
    );
    assert_eq!(recs[1].0.as_deref(), Some(&b"1"[..]), "key is the note id");

    // the connector without the chain still sees every technical event
    let tech = consume_until(&tech_topic, Duration::from_secs(90), last);
    let ops: Vec<(String, i64)> = json_values(&tech)
        .into_iter()
        .filter_map(|v| {
            let p = &v["payload"];
            let row = if p["after"].is_null() {
                &p["before"]
            } else {
                &p["after"]
            };
            Some((p["op"].as_str()?.to_owned(), row["id"].as_i64()?))
        })
        .collect();
    let want: Vec<(String, i64)> = [
        ("r", 1),
        ("d", 1),
        ("c", 1),
        ("c", 2),
        ("u", 2),
        ("c", 3),
        ("d", 3),
        ("u", 2),
    ]
    .iter()
    .map(|(o, i)| (o.to_string(), *i))
    .collect();
    assert_eq!(ops, want, "technical events; log:\n{}", w.log_text());

    drop(w);
    for s in [&slot, &tech_slot] {
        psql("postgres", &["-c", &format!("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '{s}' AND NOT active")]);
    }
    psql(
        "postgres",
        &["-c", &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")],
    );
}

/// SIGKILL while transactions stream through the filter (as soon as the
/// first domain event arrives, while psql may still be committing more),
/// then restart:
/// every transaction (insert + update of a new note) still yields its one
/// NoteCreated with the final text, and never a half-collapsed event (an
/// update without its insert would mean an offset inside a transaction was
/// stored); duplicates after the stored offset are allowed (at least once).
#[test]
fn sigkill_replays_whole_transactions() {
    let db = unique("domkill");
    psql("postgres", &["-c", &format!("CREATE DATABASE {db}")]);
    psql(
        &db,
        &[
            "-c",
            "CREATE TABLE note (id integer PRIMARY KEY, body text);",
        ],
    );
    let prefix = unique("dk").replace('_', "");
    let slot = unique("dkslot").to_lowercase();
    let topic = format!("{prefix}.notes");
    let dir = tempfile::tempdir().unwrap();
    let conn = pg_connector_file(
        dir.path(),
        "notes-kill",
        &db,
        &prefix,
        &slot,
        json!({
            "snapshot.mode": "no_data",
            "slot.retry.delay.ms": "500",
            "value.converter": "org.apache.kafka.connect.json.JsonConverter",
            "value.converter.schemas.enable": "false",
            "transforms": "cast,filter,map",
            "transforms.cast.type": "domain-cast",
            "transforms.filter.type": "domain-filter",
            "transforms.map.type": "domain-map",
            "transforms.map.topic": topic,
            "transforms.map.fields": "id,body",
        }),
    );
    let mut w = Worker::start(dir.path(), "offset.flush.interval.ms=100", &[conn]);
    w.wait_status("notes-kill", |s| s["tasks"][0]["state"] == "RUNNING");
    common::wait_until(Duration::from_secs(30), "the slot to be active", || {
        psql("postgres", &["-c", &format!("SELECT count(*) FROM pg_replication_slots WHERE slot_name = '{slot}' AND active")]) == "1"
    });
    let n = 3000;
    // one transaction per note, written in the background while the worker
    // is killed
    let mut sql = String::new();
    for i in 1..=n {
        sql.push_str(&format!(
            "BEGIN; INSERT INTO note VALUES ({i}, 'draft'); UPDATE note SET body = 'final' WHERE id = {i}; COMMIT;\n"
        ));
    }
    let file = dir.path().join("txns.sql");
    std::fs::write(&file, sql).unwrap();
    let writer = {
        let db = db.clone();
        std::thread::spawn(move || {
            psql(&db, &["-f", file.to_str().unwrap()]);
        })
    };
    let some = consume_until(&topic, Duration::from_secs(60), |r| r.len() >= 20);
    assert!(
        some.len() >= 20,
        "events before the kill; log:\n{}",
        w.log_text()
    );
    w.kill9();
    writer.join().unwrap();
    w.restart();
    let ids = |recs: &[common::Kv]| -> std::collections::BTreeSet<i64> {
        json_values(recs)
            .iter()
            .filter_map(|v| v["data"]["id"].as_i64())
            .collect()
    };
    let recs = consume_until(&topic, Duration::from_secs(90), |r| {
        ids(r).len() >= n as usize
    });
    assert_eq!(
        ids(&recs).len(),
        n as usize,
        "every transaction; log:\n{}",
        w.log_text()
    );
    eprintln!(
        "{} events read before the kill, {} after the restart for {n} transactions",
        some.len(),
        recs.len()
    );
    for v in json_values(&recs) {
        assert_eq!(v["type"], "NoteCreated", "{v}");
        assert_eq!(v["data"]["body"], "final", "{v}");
    }
    drop(w);
    psql("postgres", &["-c", &format!("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '{slot}' AND NOT active")]);
    psql(
        "postgres",
        &["-c", &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")],
    );
}
