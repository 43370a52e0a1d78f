//! `velocity distributed` (one worker) against the real broker: connectors,
//! PAUSED/STOPPED target states and source offsets survive a restart
//! through the config and offsets topics; a deleted connector stays
//! deleted; a config topic with several partitions is refused with Kafka
//! Connect's message.

mod common;

use std::time::Duration;

use common::{append_lines, consume, file_source_json, kafka_bootstrap, unique, Worker};
use rdkafka::ClientConfig;
use velocity_runtime::kafka_log::{ensure_topic, TopicSpec};

fn props(id: &str) -> String {
    format!(
        "velocity.file.connectors.enable=true\ngroup.id={id}\nconfig.storage.topic={id}-configs\noffset.storage.topic={id}-offsets\n\
         status.storage.topic={id}-status\nconfig.storage.replication.factor=1\nstatus.storage.replication.factor=1\n\
         offset.storage.replication.factor=1\noffset.storage.partitions=5\n"
    )
}

#[test]
fn connectors_states_and_offsets_survive_a_restart() {
    let id = unique("dist");
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.txt");
    append_lines(&input, 0, 5);
    let topic = format!("{id}-lines");
    let mut w = Worker::start_distributed(dir.path(), &props(&id));
    for name in ["a", "b", "c"] {
        let t = if name == "a" {
            topic.clone()
        } else {
            format!("{topic}-{name}")
        };
        let (code, body) = w.call(
            "POST",
            "/connectors",
            Some(&file_source_json(name, &input, &t)),
        );
        assert_eq!(code, 201, "{body}");
    }
    w.wait_status("a", |s| s["tasks"][0]["state"] == "RUNNING");
    assert_eq!(w.call("PUT", "/connectors/b/pause", None).0, 202);
    assert_eq!(w.call("PUT", "/connectors/c/stop", None).0, 204);
    w.wait_status("b", |s| s["connector"]["state"] == "PAUSED");
    w.wait_status("c", |s| s["connector"]["state"] == "STOPPED");
    let first = consume(&topic, 5, Duration::from_secs(30));
    assert_eq!(first.len(), 5);

    // a clean stop flushes offsets to the offsets topic; the restart reads
    // connectors, states and offsets back from the topics alone
    w.stop();
    append_lines(&input, 5, 8);
    w.restart();
    let (_, list) = w.call("GET", "/connectors", None);
    let mut names: Vec<String> = serde_json::from_value(list).unwrap();
    names.sort();
    assert_eq!(names, ["a", "b", "c"]);
    w.wait_status("b", |s| s["connector"]["state"] == "PAUSED");
    w.wait_status("c", |s| s["connector"]["state"] == "STOPPED");
    w.wait_status("a", |s| s["tasks"][0]["state"] == "RUNNING");
    let all = consume(&topic, 9, Duration::from_secs(20));
    let lines: Vec<String> = all
        .iter()
        .map(|(_, v)| String::from_utf8(v.clone().unwrap()).unwrap())
        .collect();
    let want: Vec<String> = (0..8).map(|i| format!("line-{i}")).collect();
    assert_eq!(
        lines,
        want,
        "no duplicate after a clean stop, nothing lost; log:\n{}",
        w.log_text()
    );

    // delete survives a restart (connector and target-state tombstones)
    assert_eq!(w.call("DELETE", "/connectors/a", None).0, 204);
    w.stop();
    w.restart();
    let (_, list) = w.call("GET", "/connectors", None);
    let mut names: Vec<String> = serde_json::from_value(list).unwrap();
    names.sort();
    assert_eq!(names, ["b", "c"]);
}

#[test]
fn a_config_topic_with_several_partitions_is_refused() {
    let id = unique("dist-bad");
    let mut client = ClientConfig::new();
    client.set("bootstrap.servers", kafka_bootstrap());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(ensure_topic(
        &client,
        &TopicSpec::compacted(format!("{id}-configs"), 2, 1),
        "test",
    ))
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let props_path = dir.path().join("worker.properties");
    std::fs::write(
        &props_path,
        format!(
            "bootstrap.servers={}\nlisteners=http://127.0.0.1:{}\n{}",
            kafka_bootstrap(),
            common::free_port(),
            props(&id)
        ),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_velocity"))
        .arg("distributed")
        .arg(&props_path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("Topic '{id}-configs' supplied via the 'config.storage.topic' property is required to have a single partition in order to guarantee consistency of connector configurations, but found 2 partitions.")),
        "{err}"
    );
}
