//! WebAssembly plugin transforms in the real `velocity` binary: a plugin
//! loaded from a `.wat` file transforms records on their way to the real
//! broker, and a plugin that loops forever fails only its own task, with
//! the fuel error, while the worker and the other connector keep running.

mod common;

use std::io::Write;
use std::time::Duration;

use common::{consume_until, unique, Worker};
use serde_json::json;

fn plugin(path: &str) -> String {
    format!("{}/examples/plugins/{path}", env!("CARGO_MANIFEST_DIR"))
}

fn connector(dir: &std::path::Path, name: &str, config: serde_json::Value) -> std::path::PathBuf {
    let p = dir.join(format!("{name}.json"));
    std::fs::write(&p, json!({"name": name, "config": config}).to_string()).unwrap();
    p
}

fn append(path: &std::path::Path, lines: &[&str]) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    for l in lines {
        writeln!(f, "{l}").unwrap();
    }
}

#[test]
fn plugins_transform_records_and_a_looping_plugin_fails_only_its_task() {
    let dir = tempfile::tempdir().unwrap();
    let (good_in, bad_in) = (dir.path().join("good.txt"), dir.path().join("bad.txt"));
    append(&good_in, &["one", "kept", "two"]);
    append(&bad_in, &["spin"]);
    let topic = unique("wasmlines");
    let common = json!({
        "connector.class": "FileStreamSource",
        "topic.creation.default.partitions": "1",
        "topic.creation.default.replication.factor": "1",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter.schemas.enable": "false",
    });
    let mut good = common.clone();
    good["file"] = json!(good_in);
    good["topic"] = json!(topic);
    good["transforms"] = json!("route");
    good["transforms.route.type"] = json!("wasm");
    good["transforms.route.wasm.path"] = json!(plugin("route-by-prefix/plugin.wat"));
    let mut bad = common;
    bad["file"] = json!(bad_in);
    bad["topic"] = json!(format!("{topic}_bad"));
    bad["transforms"] = json!("spin");
    bad["transforms.spin.type"] = json!("io.velocity.transforms.WasmTransform");
    bad["transforms.spin.wasm.path"] = json!(plugin("misbehaving/loop.wat"));
    bad["transforms.spin.wasm.fuel"] = json!("200000");
    let files = [
        connector(dir.path(), "wasm-good", good),
        connector(dir.path(), "wasm-bad", bad),
    ];
    let w = Worker::start(dir.path(), "velocity.file.connectors.enable=true", &files);

    let status = w.wait_status("wasm-bad", |s| s["tasks"][0]["state"] == "FAILED");
    let trace = status["tasks"][0]["trace"].as_str().unwrap_or_default();
    assert!(
        trace.contains("plugin exceeded its fuel budget"),
        "status: {status}"
    );

    // the worker is alive and the other connector keeps working
    let (code, _) = w.call("GET", "/", None);
    assert_eq!(code, 200);
    append(&good_in, &["three"]);
    let out_topic = format!("plugin.{topic}");
    let recs = consume_until(&out_topic, Duration::from_secs(60), |r| r.len() >= 4);
    let values: Vec<String> = recs
        .iter()
        .filter_map(|(_, v)| serde_json::from_slice(v.as_ref()?).ok())
        .collect();
    assert_eq!(
        values,
        ["one", "kept", "two", "three"],
        "log:\n{}",
        w.log_text()
    );
    let s = w.wait_status("wasm-good", |s| s["tasks"][0]["state"] == "RUNNING");
    assert_eq!(s["connector"]["state"], "RUNNING");
}
