//! The most used Python client of Kafka Connect, `kafka-connect-py` (PyPI,
//! command `kc`), run against a real Velocity worker as its README shows:
//! list, create, config, status, pause, resume, restart (with and without
//! `--include-tasks`, which it sends as `includeTasks=False`/`True`), delete.
//!
//! The client is installed into a virtualenv under the target directory when
//! missing; the test fails when it cannot be installed. `kc` prints errors
//! and still exits 0, so every answer is parsed and checked.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{unique, Worker};
use serde_json::{json, Value};

/// The `kc` executable, installing kafka-connect-py into
/// `$CARGO_TARGET_TMPDIR/kc-venv` when needed.
fn kc_bin() -> PathBuf {
    if let Ok(p) = std::env::var("VELOCITY_KC_BIN") {
        return PathBuf::from(p);
    }
    let venv = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("kc-venv");
    let kc = venv.join("bin").join("kc");
    if kc.exists() {
        return kc;
    }
    let ok = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "python3 -m venv {} failed: python3 with venv is needed",
        venv.display()
    );
    let out = Command::new(venv.join("bin").join("pip"))
        .args(["install", "-q", "kafka-connect-py"])
        .output()
        .expect("pip runs");
    assert!(
        out.status.success() && kc.exists(),
        "pip install kafka-connect-py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    kc
}

/// Runs `kc -u <worker> args…` and parses its output as JSON (Null for no
/// output); panics with the output when it is not JSON (kc prints errors).
fn kc(base: &str, args: &[&str]) -> Value {
    let out = Command::new(kc_bin())
        .args(["-u", base])
        .args(args)
        .output()
        .expect("kc runs");
    let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(
        out.status.success(),
        "kc {args:?} exited with {}: {text} {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    if text.is_empty() {
        return Value::Null;
    }
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("kc {args:?} did not print JSON: {text}"))
}

#[test]
fn kafka_connect_py_drives_a_velocity_worker() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.txt");
    std::fs::write(&input, "one\ntwo\n").unwrap();
    let w = Worker::start(dir.path(), "velocity.file.connectors.enable=true", &[]);
    let base = w.base.clone();
    let name = unique("kc");
    let topic = unique("kc_topic");

    let info = kc(&base, &["info"]);
    assert!(info["version"].is_string(), "{info}");
    assert_eq!(kc(&base, &["list"]), json!([]));

    let create = json!({"name": name, "config": {
        "connector.class": "FileStreamSource", "file": input, "topic": topic,
        "topic.creation.default.partitions": "1", "topic.creation.default.replication.factor": "1",
    }})
    .to_string();
    let created = kc(&base, &["create", "-d", &create]);
    assert_eq!(created["name"], json!(name), "{created}");
    assert_eq!(kc(&base, &["list"]), json!([name]));
    let expanded = kc(&base, &["list", "-e", "status"]);
    assert_eq!(expanded[&name]["status"]["name"], json!(name), "{expanded}");

    let config = kc(&base, &["config", &name]);
    assert_eq!(
        config["connector.class"],
        json!("FileStreamSource"),
        "{config}"
    );
    assert_eq!(config["topic"], json!(topic));

    w.wait_status(&name, |s| s["tasks"][0]["state"] == "RUNNING");
    let status = kc(&base, &["status", &name]);
    assert_eq!(status["connector"]["state"], json!("RUNNING"), "{status}");

    kc(&base, &["pause", &name]);
    w.wait_status(&name, |s| s["connector"]["state"] == "PAUSED");
    kc(&base, &["resume", &name]);
    w.wait_status(&name, |s| s["connector"]["state"] == "RUNNING");

    // kc sends includeTasks=False&onlyFailed=False, then prints the status
    let restarted = kc(&base, &["restart", &name]);
    assert_eq!(restarted["name"], json!(name), "{restarted}");
    let restarted = kc(&base, &["restart", &name, "--include-tasks"]);
    assert_eq!(restarted["name"], json!(name), "{restarted}");
    w.wait_status(&name, |s| s["tasks"][0]["state"] == "RUNNING");
    let tasks = kc(&base, &["list-tasks", &name]);
    assert_eq!(tasks[0]["id"]["task"], json!(0), "{tasks}");

    kc(&base, &["delete", &name]);
    assert_eq!(kc(&base, &["list"]), json!([]));
}
