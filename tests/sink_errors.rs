//! End to end through the real broker and the real `velocity` binary: a
//! sink reading a topic with JsonConverter meets a poisoned record (invalid
//! JSON). With `errors.tolerance=all` the record lands on the dead letter
//! queue topic (created by the worker) with its original bytes and Kafka's
//! `__connect.errors.*` headers, and the good records are written; with
//! `errors.tolerance=none` the task is FAILED naming topic, partition and
//! offset.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{kafka_bootstrap, unique, wait_until, Worker};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Headers;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{ClientConfig, Message};
use serde_json::json;

const POISON: &str = "{this is not json";

/// Creates `topic` (one partition) and writes six values, the second one
/// invalid JSON (offset 1).
fn topic_with_poison(label: &str) -> String {
    let topic = unique(label);
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", kafka_bootstrap())
        .create()
        .unwrap();
    let res = futures::executor::block_on(admin.create_topics(
        [&NewTopic::new(&topic, 1, TopicReplication::Fixed(1))],
        &AdminOptions::new().operation_timeout(Some(Duration::from_secs(30))),
    ))
    .unwrap();
    assert!(res.iter().all(Result::is_ok), "{res:?}");
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", kafka_bootstrap())
        .set("topic.metadata.refresh.interval.ms", "500")
        .create()
        .unwrap();
    let values = [
        r#"{"n":0}"#.to_owned(),
        POISON.to_owned(),
        r#"{"n":2}"#.to_owned(),
        r#"{"n":3}"#.to_owned(),
        r#"{"n":4}"#.to_owned(),
        r#"{"n":5}"#.to_owned(),
    ];
    for (i, v) in values.iter().enumerate() {
        let key = format!("k{i}");
        loop {
            match producer.send(BaseRecord::to(&topic).key(&key).payload(v).partition(0)) {
                Ok(()) => break,
                Err((e, _)) => {
                    eprintln!("produce retry: {e}");
                    producer.poll(Duration::from_millis(100));
                }
            }
        }
    }
    producer.flush(Duration::from_secs(30)).unwrap();
    topic
}

fn sink_file(dir: &Path, name: &str, topic: &str, out: &Path, extra: serde_json::Value) -> PathBuf {
    let mut config = json!({
        "connector.class": "FileStreamSink",
        "topics": topic,
        "file": out,
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter.schemas.enable": "false",
        "key.converter": "org.apache.kafka.connect.storage.StringConverter",
        "consumer.override.topic.metadata.refresh.interval.ms": "500",
    });
    for (k, v) in extra.as_object().unwrap() {
        config[k] = v.clone();
    }
    let p = dir.join(format!("{name}.json"));
    std::fs::write(&p, json!({"name": name, "config": config}).to_string()).unwrap();
    p
}

/// A DLQ record: key, value and headers (UTF-8).
type DlqRecord = (Option<String>, Option<String>, BTreeMap<String, String>);

fn read_dlq(topic: &str, want: usize) -> Vec<DlqRecord> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", kafka_bootstrap())
        .set("group.id", unique("dlq-reader"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .set("topic.metadata.refresh.interval.ms", "500")
        .create()
        .unwrap();
    consumer.subscribe(&[topic]).unwrap();
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while out.len() < want && Instant::now() < deadline {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) {
            let text = |b: Option<&[u8]>| b.map(|b| String::from_utf8_lossy(b).into_owned());
            let mut headers = BTreeMap::new();
            if let Some(hs) = m.headers() {
                for h in hs.iter() {
                    headers.insert(h.key.to_owned(), text(h.value).unwrap_or_default());
                }
            }
            out.push((text(m.key()), text(m.payload()), headers));
        }
    }
    out
}

#[test]
fn poisoned_record_goes_to_the_dlq_with_context_headers_and_good_records_are_written() {
    let topic = topic_with_poison("dlq_all");
    let dlq = format!("{topic}-dlq");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.txt");
    let name = unique("dlqsink");
    let sink = sink_file(
        dir.path(),
        &name,
        &topic,
        &out,
        json!({
            "errors.tolerance": "all",
            "errors.deadletterqueue.topic.name": dlq,
            "errors.deadletterqueue.topic.replication.factor": "1",
            "errors.deadletterqueue.context.headers.enable": "true",
            "errors.log.enable": "true",
        }),
    );
    let w = Worker::start(dir.path(), "velocity.file.connectors.enable=true", &[sink]);
    wait_until(
        Duration::from_secs(60),
        "5 good records in the sink file",
        || std::fs::read_to_string(&out).is_ok_and(|s| s.lines().count() >= 5),
    );
    let lines = std::fs::read_to_string(&out).unwrap();
    assert_eq!(lines.lines().count(), 5, "{lines}");
    assert!(!lines.contains("not json"), "{lines}");
    let got = read_dlq(&dlq, 1);
    assert_eq!(got.len(), 1, "DLQ records: {got:?}\nlog:\n{}", w.log_text());
    let (key, value, headers) = &got[0];
    assert_eq!(key.as_deref(), Some("k1"));
    assert_eq!(value.as_deref(), Some(POISON));
    let h = |k: &str| headers.get(k).map(String::as_str).unwrap_or("<missing>");
    assert_eq!(h("__connect.errors.topic"), topic);
    assert_eq!(h("__connect.errors.partition"), "0");
    assert_eq!(h("__connect.errors.offset"), "1");
    assert_eq!(h("__connect.errors.connector.name"), name);
    assert_eq!(h("__connect.errors.task.id"), "0");
    assert_eq!(h("__connect.errors.stage"), "VALUE_CONVERTER");
    assert_eq!(
        h("__connect.errors.class.name"),
        "org.apache.kafka.connect.json.JsonConverter"
    );
    assert_eq!(
        h("__connect.errors.exception.class.name"),
        "org.apache.kafka.connect.errors.DataException"
    );
    assert!(
        !h("__connect.errors.exception.message").is_empty(),
        "{headers:?}"
    );
    let (_, st) = w.call("GET", &format!("/connectors/{name}/status"), None);
    assert_eq!(st["tasks"][0]["state"], "RUNNING", "{st}");
    // errors.log.enable logs the failure with its coordinates
    assert!(
        w.log_text().contains("Error encountered in task"),
        "{}",
        w.log_text()
    );
}

#[test]
fn poisoned_record_fails_the_task_naming_topic_partition_offset_without_tolerance() {
    let topic = topic_with_poison("dlq_none");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.txt");
    let name = unique("nonesink");
    let sink = sink_file(dir.path(), &name, &topic, &out, json!({}));
    let w = Worker::start(dir.path(), "velocity.file.connectors.enable=true", &[sink]);
    let st = w.wait_status(&name, |s| s["tasks"][0]["state"] == "FAILED");
    let trace = st["tasks"][0]["trace"].as_str().unwrap_or_default();
    assert!(
        trace.contains(&format!("topic {topic} partition 0 offset 1")),
        "{trace}"
    );
    // nothing after the poisoned record was written
    let lines = std::fs::read_to_string(&out).unwrap_or_default();
    assert!(lines.lines().count() <= 1, "{lines}");
}
