//! In-place migration from Kafka Connect: the REAL Debezium 3.6 PostgreSQL
//! connector (`../shared/debezium-reference/run.sh`, embedded engine with
//! Kafka Connect's `KafkaOffsetBackingStore`) snapshots a table and stores
//! its offset in an offsets topic; `velocity distributed`, started on that
//! topic with a connector of the same name, resumes streaming from it: no
//! new snapshot, no lost change. Needs the shared PostgreSQL and broker, a
//! JVM and the reference directory; fails when any is missing.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use common::{consume_until, env, kafka_bootstrap, pg_connector_file, psql, unique, Worker};
use serde_json::Value as Json;

fn reference_dir() -> PathBuf {
    let p = std::env::var("VELOCITY_DEBEZIUM_REFERENCE")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/debezium-reference")
        });
    let p = if p.exists() {
        p
    } else {
        PathBuf::from("/work/shared/debezium-reference")
    };
    assert!(
        p.join("run.sh").exists(),
        "the Debezium reference is missing at {} (set VELOCITY_DEBEZIUM_REFERENCE)",
        p.display()
    );
    p
}

fn ids_and_ops(records: &[common::Kv]) -> Vec<(i64, String)> {
    records
        .iter()
        .filter_map(|(_, v)| {
            let v: Json = serde_json::from_slice(v.as_deref()?).ok()?;
            let p = v.get("payload").unwrap_or(&v);
            let op = p["op"].as_str()?.to_owned();
            let id = p["after"]["id"]
                .as_i64()
                .or_else(|| p["before"]["id"].as_i64())?;
            Some((id, op))
        })
        .collect()
}

#[test]
fn velocity_resumes_from_debeziums_offset_in_the_offsets_topic() {
    let reference = reference_dir();
    let id = unique("mig").replace('-', "_");
    let dir = tempfile::tempdir().unwrap();
    psql(
        "postgres",
        &[
            "-c",
            &format!(
                "CREATE SCHEMA {id}; CREATE TABLE {id}.items (id int PRIMARY KEY, name text); \
                 INSERT INTO {id}.items VALUES (1,'one'),(2,'two'),(3,'three');"
            ),
        ],
    );
    let offsets_topic = format!("{id}-offsets");
    // 1. the real Debezium: snapshot of 3 rows, offset stored in the topic
    let props = dir.path().join("dbz.properties");
    std::fs::write(
        &props,
        format!(
            "name={id}\n\
             connector.class=io.debezium.connector.postgresql.PostgresConnector\n\
             offset.storage=org.apache.kafka.connect.storage.KafkaOffsetBackingStore\n\
             offset.storage.topic={offsets_topic}\n\
             offset.storage.partitions=1\n\
             offset.storage.replication.factor=1\n\
             bootstrap.servers={}\n\
             offset.flush.interval.ms=100\n\
             database.hostname={}\ndatabase.port={}\ndatabase.user={}\ndatabase.password={}\n\
             database.dbname=postgres\n\
             topic.prefix={id}\nplugin.name=pgoutput\nslot.name={id}\npublication.name={id}\n\
             publication.autocreate.mode=filtered\ntable.include.list={id}.items\n\
             snapshot.mode=initial\n",
            kafka_bootstrap(),
            env("VELOCITY_PG_HOST", "127.0.0.1"),
            env("VELOCITY_PG_PORT", "55432"),
            env("VELOCITY_PG_SUPERUSER", "postgres"),
            env("VELOCITY_PG_SUPERUSER_PASSWORD", "postgres"),
        ),
    )
    .unwrap();
    let events = dir.path().join("dbz.jsonl");
    let out = Command::new(reference.join("run.sh"))
        .arg(&props)
        .arg(&events)
        .args(["3", "5000"])
        .output()
        .expect("run the Debezium reference");
    assert!(
        out.status.success(),
        "Debezium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dbz: Vec<Json> = std::fs::read_to_string(&events)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(dbz.len(), 3, "Debezium's snapshot");

    // 2. changes while nobody runs: the slot keeps them
    psql(
        "postgres",
        &[
            "-c",
            &format!(
                "INSERT INTO {id}.items VALUES (4,'four'); UPDATE {id}.items SET name='TWO' WHERE id=2; \
                 INSERT INTO {id}.items VALUES (5,'five');"
            ),
        ],
    );

    // 3. Velocity distributed on the same offsets topic, same connector name
    let worker = Worker::start_distributed(
        dir.path(),
        &format!(
            "group.id={id}\nconfig.storage.topic={id}-configs\noffset.storage.topic={offsets_topic}\n\
             status.storage.topic={id}-status\nconfig.storage.replication.factor=1\nstatus.storage.replication.factor=1\n\
             offset.storage.replication.factor=1\noffset.storage.partitions=1\n"
        ),
    );
    let file = pg_connector_file(
        dir.path(),
        &id,
        "postgres",
        &id,
        &id,
        serde_json::json!({"table.include.list": format!("{id}.items"), "snapshot.mode": "initial"}),
    );
    let body = std::fs::read_to_string(file).unwrap();
    let (code, resp) = worker.call("POST", "/connectors", Some(&body));
    assert_eq!(code, 201, "{resp}");
    worker.wait_status(&id, |s| s["tasks"][0]["state"] == "RUNNING");
    let topic = format!("{id}.{id}.items");
    let recs = consume_until(&topic, Duration::from_secs(60), |r| {
        let got = ids_and_ops(r);
        got.contains(&(4, "c".into())) && got.contains(&(5, "c".into()))
    });
    let got = ids_and_ops(&recs);
    assert_eq!(
        got,
        vec![(4, "c".into()), (2, "u".into()), (5, "c".into())],
        "exactly the changes after Debezium's offset, no snapshot read (op r); log:\n{}",
        worker.log_text()
    );
    // the offset Velocity stored went to the same topic, readable by Kafka Connect
    let stored = consume_until(&offsets_topic, Duration::from_secs(30), |r| r.len() >= 2);
    assert!(stored.len() >= 2, "Velocity's offset in {offsets_topic}");
    let key = String::from_utf8(stored.last().unwrap().0.clone().unwrap()).unwrap();
    assert_eq!(key, format!("[\"{id}\",{{\"server\":\"{id}\"}}]"));
    drop(worker);
    psql(
        "postgres",
        &["-c", &format!("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '{id}' AND NOT active; DROP SCHEMA {id} CASCADE; DROP PUBLICATION IF EXISTS {id};")],
    );
}
