//! End to end through the real broker: FileStreamSource → topic →
//! FileStreamSink, and offset recovery after SIGKILL and after a clean stop.

mod common;

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use common::{consume, unique, wait_until, Worker};

fn write_lines(path: &Path, from: usize, to: usize) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    let mut buf = String::new();
    for i in from..to {
        buf.push_str(&format!("line-{i:06} the quick brown fox\n"));
    }
    f.write_all(buf.as_bytes()).unwrap();
    f.sync_all().unwrap();
}

fn connector_file(dir: &Path, name: &str, body: serde_json::Value) -> std::path::PathBuf {
    let p = dir.join(format!("{name}.json"));
    std::fs::write(
        &p,
        serde_json::json!({"name": name, "config": body}).to_string(),
    )
    .unwrap();
    p
}

fn stored_position(dir: &Path) -> u64 {
    let text = std::fs::read_to_string(dir.join("offsets.json")).unwrap_or_default();
    if text.is_empty() {
        return 0;
    }
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v.as_object()
        .unwrap()
        .values()
        .filter_map(|o| o.get("position").and_then(|p| p.as_u64()))
        .max()
        .unwrap_or(0)
}

#[test]
fn ten_thousand_lines_round_trip_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.txt");
    let output = dir.path().join("out.txt");
    write_lines(&input, 0, 10_000);
    let topic = unique("fs_roundtrip");
    let src = connector_file(
        dir.path(),
        &unique("src"),
        serde_json::json!({
            "connector.class": "FileStreamSource", "file": input, "topic": topic,
            "topic.creation.default.partitions": "1", "topic.creation.default.replication.factor": "1",
        }),
    );
    let sink = connector_file(
        dir.path(),
        &unique("sink"),
        serde_json::json!({
            "connector.class": "org.apache.kafka.connect.file.FileStreamSinkConnector", "file": output, "topics": topic,
        }),
    );
    let w = Worker::start(
        dir.path(),
        "velocity.file.connectors.enable=true",
        &[src, sink],
    );
    wait_until(
        Duration::from_secs(120),
        "10,000 lines in the sink file",
        || {
            std::fs::read_to_string(&output)
                .map(|s| s.lines().count() >= 10_000)
                .unwrap_or(false)
        },
    );
    std::thread::sleep(Duration::from_millis(500));
    let got = std::fs::read_to_string(&output).unwrap();
    let want = std::fs::read_to_string(&input).unwrap();
    assert_eq!(got.lines().count(), 10_000, "log:\n{}", w.log_text());
    assert!(
        got == want,
        "sink output differs from source input (order or content)"
    );
}

/// Lines as read back from the topic (StringConverter values).
fn topic_lines(topic: &str, want: usize) -> Vec<String> {
    consume(topic, want, Duration::from_secs(60))
        .into_iter()
        .map(|(_, v)| String::from_utf8(v.unwrap()).unwrap())
        .collect()
}

fn source_only(dir: &Path, input: &Path, topic: &str) -> std::path::PathBuf {
    connector_file(
        dir,
        &unique("src"),
        serde_json::json!({
            "connector.class": "FileStreamSource", "file": input, "topic": topic, "batch.size": "100",
            "value.converter": "org.apache.kafka.connect.storage.StringConverter",
            "topic.creation.default.partitions": "1", "topic.creation.default.replication.factor": "1",
        }),
    )
}

#[test]
fn sigkill_then_restart_loses_nothing_and_duplicates_only_after_the_stored_offset() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.txt");
    write_lines(&input, 0, 3_000);
    let topic = unique("fs_kill");
    let src = source_only(dir.path(), &input, &topic);
    let mut w = Worker::start(dir.path(), "velocity.file.connectors.enable=true", &[src]);
    assert_eq!(
        topic_lines(&topic, 3_000).len(),
        3_000,
        "log:\n{}",
        w.log_text()
    );
    let size_3000 = std::fs::metadata(&input).unwrap().len();
    wait_until(
        Duration::from_secs(30),
        "the offset of line 3000 to be stored",
        || stored_position(dir.path()) == size_3000,
    );
    // more lines, then SIGKILL while they are being produced
    write_lines(&input, 3_000, 8_000);
    std::thread::sleep(Duration::from_millis(150));
    w.kill9();
    let stored = stored_position(dir.path());
    assert!(stored >= size_3000, "stored offset went backwards");
    write_lines(&input, 8_000, 9_000);
    w.restart();
    let expected: Vec<String> = (0..9_000)
        .map(|i| format!("line-{i:06} the quick brown fox"))
        .collect();
    let distinct = |recs: &[common::Kv]| -> usize {
        recs.iter()
            .map(|(_, v)| v.clone())
            .collect::<std::collections::HashSet<_>>()
            .len()
    };
    let all: Vec<String> =
        common::consume_until(&topic, Duration::from_secs(90), |r| distinct(r) >= 9_000)
            .into_iter()
            .map(|(_, v)| String::from_utf8(v.unwrap()).unwrap())
            .collect();
    let mut count: HashMap<&str, usize> = HashMap::new();
    let mut first_order = Vec::new();
    for l in &all {
        let c = count.entry(l.as_str()).or_insert(0);
        if *c == 0 {
            first_order.push(l.clone());
        }
        *c += 1;
    }
    assert_eq!(
        first_order,
        expected,
        "a line is missing or out of order; log:\n{}",
        w.log_text()
    );
    // duplicates only after the offset stored before the kill
    let line_len = expected[0].len() as u64 + 1;
    for (i, l) in expected.iter().enumerate() {
        let end = (i as u64 + 1) * line_len;
        if end <= stored {
            assert_eq!(
                count[l.as_str()],
                1,
                "{l} ends at byte {end} <= stored offset {stored} but was delivered twice"
            );
        }
    }
}

#[test]
fn clean_stop_then_restart_has_no_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.txt");
    write_lines(&input, 0, 2_000);
    let topic = unique("fs_clean");
    let src = source_only(dir.path(), &input, &topic);
    let mut w = Worker::start(
        dir.path(),
        "offset.flush.interval.ms=600000\nvelocity.file.connectors.enable=true",
        &[src],
    );
    assert_eq!(topic_lines(&topic, 2_000).len(), 2_000);
    w.stop();
    write_lines(&input, 2_000, 3_000);
    w.restart();
    assert_eq!(
        topic_lines(&topic, 3_000).len(),
        3_000,
        "log:\n{}",
        w.log_text()
    );
    std::thread::sleep(Duration::from_secs(2));
    let lines: Vec<String> = consume(&topic, 3_001, Duration::from_secs(5))
        .into_iter()
        .map(|(_, v)| String::from_utf8(v.unwrap()).unwrap())
        .collect();
    let expected: Vec<String> = (0..3_000)
        .map(|i| format!("line-{i:06} the quick brown fox"))
        .collect();
    assert_eq!(
        lines,
        expected,
        "a clean stop must flush offsets so nothing is sent twice; log:\n{}",
        w.log_text()
    );
}
