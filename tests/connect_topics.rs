//! Kafka Connect's internal topics, both directions, against the real Kafka
//! Connect 4.3 classes (fixtures captured with
//! `../shared/debezium-reference/connect-topics.sh`, see
//! `scripts/connect-fixtures.sh`) and the real broker:
//! - `kafka-written.jsonl`: what Kafka Connect's stores wrote (`write` then
//!   `dump`); Velocity must read it to the same state Kafka Connect does;
//! - `velocity-written.jsonl`: what Velocity writes for its sample history
//!   (test `velocity_writes_kafka_connects_records` re-writes it to the
//!   broker and compares, so the fixture stays what the code writes);
//! - `velocity-read-by-kafka.jsonl`: Kafka Connect's `read` mode on the
//!   topics Velocity wrote: what its `KafkaConfigBackingStore`,
//!   `KafkaStatusBackingStore` and `OffsetStorageReaderImpl` make of them.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::ClientConfig;
use serde_json::{json, Value as Json};
use velocity_api::{Offset, Partition, RawConfig};
use velocity_runtime::distributed::config_state::ConfigSnapshot;
use velocity_runtime::distributed::formats::{
    offset_key, offset_value, parse_offset_key, parse_offset_value, ConfigRecord, SessionKey,
    StatusRecord, StatusValue, TaskId, TopicStatus,
};
use velocity_runtime::distributed::offset_store::KafkaOffsetStore;
use velocity_runtime::kafka_log::{
    ensure_internal_topic, KafkaLog, TopicSpec, CONFIG_TOPIC, OFFSET_TOPIC, STATUS_TOPIC,
};
use velocity_runtime::offsets::OffsetStore;
use velocity_runtime::status::TargetState;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/connect");

fn lines(file: &str) -> Vec<Json> {
    std::fs::read_to_string(format!("{FIXTURES}/{file}"))
        .unwrap_or_else(|e| panic!("{file}: {e}"))
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// (topic kind, partition, key, value) of a dump line; kind is the topic
/// name's suffix after the last '-' (configs/offsets/status).
fn dumped(v: &Json) -> (String, i64, Option<String>, Option<String>) {
    let topic = v["topic"].as_str().unwrap();
    (
        topic.rsplit('-').next().unwrap().to_owned(),
        v["partition"].as_i64().unwrap(),
        v["key"].as_str().map(str::to_owned),
        v["value"].as_str().map(str::to_owned),
    )
}

fn obj(v: Json) -> serde_json::Map<String, Json> {
    v.as_object().unwrap().clone()
}

#[test]
fn velocity_reads_kafka_connects_records() {
    let mut config = ConfigSnapshot::new();
    let mut offsets: BTreeMap<(String, String), Offset> = BTreeMap::new();
    let mut statuses: BTreeMap<String, StatusValue> = BTreeMap::new();
    let mut topics = Vec::new();
    let mut failed_seen = Vec::new();
    let mut n = [0usize; 3];
    for (i, line) in lines("kafka-written.jsonl").iter().enumerate() {
        let (kind, _, key, value) = dumped(line);
        let value = value.as_deref().map(str::as_bytes);
        match kind.as_str() {
            "configs" => {
                n[0] += 1;
                let r = ConfigRecord::decode(key.as_deref().unwrap(), value)
                    .unwrap_or_else(|e| panic!("{line}: {e}"))
                    .unwrap_or_else(|| panic!("unknown config key in {line}"));
                config.apply(i as i64, r);
            }
            "offsets" => {
                n[1] += 1;
                let (c, p) = parse_offset_key(key.unwrap().as_bytes()).unwrap();
                let k = (c, Json::Object(p).to_string());
                match parse_offset_value(value).unwrap() {
                    Some(o) => offsets.insert(k, o),
                    None => offsets.remove(&k),
                };
            }
            "status" => {
                n[2] += 1;
                let key = key.unwrap();
                match StatusRecord::decode(&key, value).unwrap().unwrap() {
                    StatusRecord::Connector(_, Some(v)) | StatusRecord::Task(_, Some(v)) => {
                        if v.state == "FAILED" {
                            failed_seen.push(v.trace.clone().unwrap_or_default());
                        }
                        statuses.insert(key, v);
                    }
                    StatusRecord::Connector(..) | StatusRecord::Task(..) => {
                        statuses.remove(&key);
                    }
                    StatusRecord::Topic { status, .. } => topics.push(status),
                }
            }
            other => panic!("unexpected topic kind {other}"),
        }
    }
    assert!(n.iter().all(|&c| c > 0), "{n:?}");

    // the config store's view, as Kafka Connect's `read` mode printed it
    let kafka_read = lines("kafka-read.jsonl");
    let kafka_config: Vec<&Json> = kafka_read
        .iter()
        .filter(|l| l["store"] == "config" && l.get("connector").is_some())
        .collect();
    let names: Vec<&str> = kafka_config
        .iter()
        .map(|l| l["connector"].as_str().unwrap())
        .collect();
    assert_eq!(
        config
            .connectors
            .keys()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        names
    );
    for l in &kafka_config {
        let c = l["connector"].as_str().unwrap();
        let ts = match config.target_state(c).unwrap() {
            TargetState::Started => "STARTED",
            TargetState::Paused => "PAUSED",
            TargetState::Stopped => "STOPPED",
        };
        assert_eq!(l["target_state"], ts, "{c}");
        assert_eq!(
            serde_json::to_value(&config.connectors[c]).unwrap(),
            l["config"],
            "{c}"
        );
        let tasks = config.tasks.get(c).map(|t| t.len()).unwrap_or(0);
        assert_eq!(l["task_count"], tasks, "{c}");
    }
    assert_eq!(config.target_state("tms-pg"), Some(TargetState::Stopped));
    assert_eq!(config.target_state("tms-old"), None, "deleted");
    assert_eq!(
        config.session_key.as_ref().map(|k| k.algorithm.as_str()),
        Some("HmacSHA256")
    );
    assert!(!config.restarts.is_empty());
    assert!(!config.logger_levels.is_empty());

    // offsets: the last one written for tms-pg; tms-old's reset removed it
    let mut server = Partition::new();
    server.insert("server".into(), "tms".into());
    let pg = &offsets[&("tms-pg".to_owned(), Json::Object(server).to_string())];
    assert_eq!(pg["lsn_proc"], 35445464);
    assert_eq!(pg["messageType"], "DELETE");
    assert!(offsets.keys().all(|(c, _)| c != "tms-old"));
    for l in kafka_read.iter().filter(|l| l["store"] == "offset") {
        let c = l["connector"].as_str().unwrap();
        for o in l["offsets"].as_array().unwrap() {
            let p = Json::Object(o["partition"].as_object().unwrap().clone()).to_string();
            assert_eq!(
                offsets
                    .get(&(c.to_owned(), p))
                    .map(|o| Json::Object(o.clone())),
                Some(o["offset"].clone()).filter(|v| !v.is_null())
            );
        }
    }

    // statuses: the final ones equal what Kafka's status store reports; the
    // history held a FAILED task with its trace
    for l in kafka_read.iter().filter(|l| l["store"] == "status") {
        let c = l["connector"].as_str().unwrap();
        let mut want = vec![(format!("status-connector-{c}"), &l["status"])];
        for t in l["tasks"].as_array().unwrap() {
            let (name, n) = t["id"].as_str().unwrap().rsplit_once('-').unwrap();
            want.push((format!("status-task-{name}-{n}"), t));
        }
        for (key, w) in want {
            let got = &statuses[&key];
            assert_eq!(got.state, w["state"].as_str().unwrap(), "{key}");
            assert_eq!(got.worker_id, w["worker_id"].as_str().unwrap(), "{key}");
            assert_eq!(
                i64::from(got.generation),
                w["generation"].as_i64().unwrap(),
                "{key}"
            );
            assert_eq!(got.trace.as_deref(), w["trace"].as_str(), "{key}");
            assert_eq!(got.version.as_deref(), w["version"].as_str(), "{key}");
        }
    }
    assert!(
        failed_seen.iter().any(|t| t.contains("Exception")),
        "a FAILED task's trace"
    );
    assert!(
        !statuses.contains_key("status-connector-tms-old"),
        "destroyed"
    );
    assert!(topics.iter().flatten().any(|t| t.connector == "tms-pg"));
}

/// One record to write: (topic kind, key, value).
type Written = (&'static str, Vec<u8>, Option<Vec<u8>>);

/// The history Velocity writes: per topic kind, (key, value) in order.
fn velocity_history() -> Vec<Written> {
    let pg: RawConfig = [
        (
            "connector.class",
            "io.debezium.connector.postgresql.PostgresConnector",
        ),
        ("name", "vel-pg"),
        ("tasks.max", "2"),
        ("topic.prefix", "tms"),
        ("database.hostname", "127.0.0.1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let task = |t: u32| {
        let mut c = pg.clone();
        c.insert("task.id".into(), t.to_string());
        Some(c)
    };
    let stop: RawConfig = [
        ("connector.class", "FileStreamSource"),
        ("name", "vel-stop"),
        ("file", "/tmp/in.txt"),
        ("topic", "lines"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let mut old = stop.clone();
    old.insert("name".into(), "vel-old".into());
    let c = |r: ConfigRecord| {
        let (k, v) = r.encode();
        ("configs", k.into_bytes(), v)
    };
    let st = |r: StatusRecord| {
        let (k, v) = r.encode();
        ("status", k.into_bytes(), v)
    };
    let off = |connector: &str, p: Json, o: Option<Json>| {
        let p = obj(p);
        let o = o.map(obj);
        (
            "offsets",
            offset_key(connector, &p),
            offset_value(o.as_ref()),
        )
    };
    let status = |state: &str, trace: Option<&str>| StatusValue {
        state: state.into(),
        trace: trace.map(str::to_owned),
        worker_id: "127.0.0.1:8083".into(),
        generation: 3,
        version: None,
    };
    let tid = |t: u32| TaskId {
        connector: "vel-pg".into(),
        task: t,
    };
    vec![
        c(ConfigRecord::SessionKey(SessionKey {
            key: b"0123456789abcdef0123456789abcdef".to_vec(),
            algorithm: "HmacSHA256".into(),
            creation_timestamp: 1_795_600_000_000,
        })),
        c(ConfigRecord::TargetState {
            connector: "vel-pg".into(),
            state: Some(TargetState::Started),
        }),
        c(ConfigRecord::Connector {
            name: "vel-pg".into(),
            config: Some(pg.clone()),
        }),
        c(ConfigRecord::Task {
            connector: "vel-pg".into(),
            task: 0,
            config: task(0),
        }),
        c(ConfigRecord::Task {
            connector: "vel-pg".into(),
            task: 1,
            config: task(1),
        }),
        c(ConfigRecord::Commit {
            connector: "vel-pg".into(),
            tasks: 2,
        }),
        c(ConfigRecord::Restart {
            connector: "vel-pg".into(),
            include_tasks: true,
            only_failed: true,
        }),
        c(ConfigRecord::TargetState {
            connector: "vel-pg".into(),
            state: Some(TargetState::Paused),
        }),
        c(ConfigRecord::TargetState {
            connector: "vel-stop".into(),
            state: Some(TargetState::Stopped),
        }),
        c(ConfigRecord::Connector {
            name: "vel-stop".into(),
            config: Some(stop),
        }),
        c(ConfigRecord::Commit {
            connector: "vel-stop".into(),
            tasks: 0,
        }),
        c(ConfigRecord::TargetState {
            connector: "vel-old".into(),
            state: Some(TargetState::Started),
        }),
        c(ConfigRecord::Connector {
            name: "vel-old".into(),
            config: Some(old),
        }),
        c(ConfigRecord::Connector {
            name: "vel-old".into(),
            config: None,
        }),
        c(ConfigRecord::TargetState {
            connector: "vel-old".into(),
            state: None,
        }),
        c(ConfigRecord::LoggerLevel {
            namespace: "io.debezium".into(),
            level: Some("DEBUG".into()),
        }),
        st(StatusRecord::Connector(
            "vel-pg".into(),
            Some(status("RUNNING", None)),
        )),
        st(StatusRecord::Task(tid(0), Some(status("RUNNING", None)))),
        st(StatusRecord::Task(
            tid(1),
            Some(status(
                "FAILED",
                Some("io.velocity.ConnectException: boom\n\tat task"),
            )),
        )),
        st(StatusRecord::Topic {
            topic: "tms.public.items".into(),
            connector: "vel-pg".into(),
            status: Some(TopicStatus {
                topic: "tms.public.items".into(),
                connector: "vel-pg".into(),
                task: 0,
                discover_timestamp: 1_795_600_000_123,
            }),
        }),
        st(StatusRecord::Connector(
            "vel-old".into(),
            Some(status("RUNNING", None)),
        )),
        st(StatusRecord::Connector("vel-old".into(), None)),
        off(
            "vel-pg",
            json!({"server": "tms"}),
            Some(
                json!({"last_snapshot_record": true, "lsn": 35444920, "txId": 750, "ts_usec": 1795645443597648i64, "snapshot": "INITIAL", "snapshot_completed": true}),
            ),
        ),
        off(
            "vel-pg",
            json!({"server": "tms"}),
            Some(
                json!({"lsn_proc": 35445464, "messageType": "DELETE", "lsn_commit": 35445464, "lsn": 35445464, "txId": 753, "ts_usec": 1795645449219379i64}),
            ),
        ),
        off(
            "vel-pg",
            json!({"server": "tms", "database": "inventory"}),
            Some(json!({"pos": 5, "file": "b.000001"})),
        ),
        off(
            "vel-old",
            json!({"filename": "/tmp/in.txt"}),
            Some(json!({"position": 10})),
        ),
        off("vel-old", json!({"filename": "/tmp/in.txt"}), None),
    ]
}

fn topic_names() -> (String, String, String) {
    let base = std::env::var("VELOCITY_CONNECT_TOPICS").unwrap_or_else(|_| common::unique("vel"));
    (
        format!("{base}-configs"),
        format!("{base}-offsets"),
        format!("{base}-status"),
    )
}

#[tokio::test]
async fn velocity_writes_kafka_connects_records() {
    let (configs, offsets, status) = topic_names();
    let mut client = ClientConfig::new();
    client.set("bootstrap.servers", common::kafka_bootstrap());
    let specs = [
        (TopicSpec::compacted(&configs, 1, 1), CONFIG_TOPIC),
        (TopicSpec::compacted(&offsets, 25, 1), OFFSET_TOPIC),
        (TopicSpec::compacted(&status, 5, 1), STATUS_TOPIC),
    ];
    let mut logs = BTreeMap::new();
    for (spec, kind) in &specs {
        ensure_internal_topic(&client, spec, *kind).await.unwrap();
        logs.insert(
            spec.name.rsplit('-').next().unwrap().to_owned(),
            KafkaLog::new(&client, &spec.name).unwrap(),
        );
    }
    let history = velocity_history();
    for (kind, k, v) in &history {
        logs[*kind].send(None, Some(k), v.as_deref()).await.unwrap();
    }
    // read back through the same helper; compare with the committed fixture
    // that Kafka Connect's `read` mode interpreted
    let mut written = Vec::new();
    for kind in ["configs", "offsets", "status"] {
        let mut recs = logs[kind]
            .read_to_end(Duration::from_secs(60))
            .await
            .unwrap();
        recs.sort_by_key(|r| (r.partition, r.offset));
        for r in recs {
            written.push((
                kind.to_owned(),
                r.partition as i64,
                r.key.map(|k| String::from_utf8(k).unwrap()),
                r.value.map(|v| String::from_utf8(v).unwrap()),
            ));
        }
    }
    let fixture: Vec<_> = lines("velocity-written.jsonl").iter().map(dumped).collect();
    assert_eq!(written.len(), history.len());
    assert_eq!(written, fixture, "what Velocity writes changed: regenerate with scripts/connect-fixtures.sh and check Kafka's reading");
}

#[test]
fn kafka_connect_read_velocitys_records() {
    let read = lines("velocity-read-by-kafka.jsonl");
    let find = |store: &str, connector: &str| {
        read.iter()
            .find(|l| l["store"] == store && l["connector"] == connector)
            .unwrap_or_else(|| panic!("no {store} line for {connector}"))
    };
    // KafkaConfigBackingStore
    let pg = find("config", "vel-pg");
    assert_eq!(pg["target_state"], "PAUSED");
    assert_eq!(pg["task_count"], 2);
    assert_eq!(pg["tasks"]["vel-pg-1"]["task.id"], "1");
    assert_eq!(pg["config"]["topic.prefix"], "tms");
    let stop = find("config", "vel-stop");
    assert_eq!(stop["target_state"], "STOPPED");
    assert_eq!(stop["task_count"], 0);
    assert!(!read
        .iter()
        .any(|l| l["store"] == "config" && l["connector"] == "vel-old"));
    let snapshot = read
        .iter()
        .find(|l| l["store"] == "config" && l.get("session_key").is_some())
        .unwrap();
    assert!(!snapshot["session_key"].is_null(), "{snapshot}");
    assert!(
        snapshot["inconsistent"]
            .as_array()
            .is_none_or(|a| a.is_empty()),
        "{snapshot}"
    );
    // KafkaStatusBackingStore
    let st = find("status", "vel-pg");
    assert_eq!(st["status"]["state"], "RUNNING");
    assert_eq!(st["status"]["worker_id"], "127.0.0.1:8083");
    let tasks = st["tasks"].as_array().unwrap();
    assert!(
        tasks
            .iter()
            .any(|t| t["state"] == "FAILED" && t["trace"].as_str().unwrap().contains("boom")),
        "{st}"
    );
    assert!(
        st["topics"].to_string().contains("tms.public.items"),
        "{st}"
    );
    // OffsetStorageReaderImpl: both partitions found (the two-key one only
    // when the key's field order is Java's HashMap order), vel-old reset
    let off = find("offset", "vel-pg");
    let offs = off["offsets"].as_array().unwrap();
    assert_eq!(offs.len(), 2, "{off}");
    for o in offs {
        assert!(!o["offset"].is_null(), "Kafka Connect did not find {o}");
    }
    assert!(offs.iter().any(|o| o["offset"]["lsn_proc"] == 35445464));
    assert!(offs
        .iter()
        .any(|o| o["partition"]["database"] == "inventory" && o["offset"]["pos"] == 5));
}

/// Kafka Connect's offsets (the records of `kafka-written.jsonl`, produced
/// raw to a fresh offsets topic) read through Velocity's offset store; then
/// Velocity's own writes survive a reopen.
#[tokio::test]
async fn offset_store_reads_kafka_connects_offsets_and_its_own() {
    let (_, topic, _) = topic_names();
    let topic = format!("{topic}-store");
    let mut client = ClientConfig::new();
    client.set("bootstrap.servers", common::kafka_bootstrap());
    ensure_internal_topic(&client, &TopicSpec::compacted(&topic, 25, 1), OFFSET_TOPIC)
        .await
        .unwrap();
    let raw = KafkaLog::new(&client, &topic).unwrap();
    for l in lines("kafka-written.jsonl") {
        let (kind, partition, key, value) = dumped(&l);
        if kind == "offsets" {
            let (p, _) = raw
                .send(
                    None,
                    key.as_deref().map(str::as_bytes),
                    value.as_deref().map(str::as_bytes),
                )
                .await
                .unwrap();
            assert_eq!(
                p as i64, partition,
                "Kafka's partitioner picks {partition} for {key:?}"
            );
        }
    }
    let store = KafkaOffsetStore::open(&client, &topic, 25, 1, Duration::from_secs(60))
        .await
        .unwrap();
    let mut server = Partition::new();
    server.insert("server".into(), "tms".into());
    let o = store.get("tms-pg", &server).unwrap();
    assert_eq!(o["lsn_proc"], 35445464);
    assert!(
        store.all("tms-old").is_empty(),
        "the reset's tombstone removed it"
    );
    assert_eq!(store.skipped_records(), 0);

    let mut two = Partition::new();
    two.insert("server".into(), "tms".into());
    two.insert("database".into(), "inventory".into());
    let mut next = Offset::new();
    next.insert("lsn".into(), 36000000.into());
    let s2 = store.clone();
    let (p2, n2) = (two.clone(), next.clone());
    tokio::task::spawn_blocking(move || {
        s2.put("tms-pg", &[(server, None), (p2, Some(n2))]).unwrap()
    })
    .await
    .unwrap();
    let reopened = KafkaOffsetStore::open(&client, &topic, 25, 1, Duration::from_secs(60))
        .await
        .unwrap();
    let all = reopened.all("tms-pg");
    assert_eq!(all, vec![(two, next)]);
}
