//! REST contract tests: every Kafka Connect endpoint Velocity serves, with
//! the status codes and error bodies Kafka Connect answers with, against a
//! real worker process and the real broker.

mod common;

use std::time::Duration;

use common::{unique, Worker};
use serde_json::{json, Value};

fn error_body(v: &Value, code: u16) -> &str {
    assert_eq!(v["error_code"], json!(code), "error body: {v}");
    v["message"].as_str().expect("message")
}

#[test]
fn rest_contract() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.txt");
    std::fs::write(&input, "first line\n").unwrap();
    let mut w = Worker::start(dir.path(), "", &[]);
    let topic = unique("rest_topic");
    let name = unique("rest");

    // worker info and health
    let (c, v) = w.call("GET", "/", None);
    assert_eq!(c, 200);
    assert!(
        v["version"].is_string() && v["commit"].is_string() && v.get("kafka_cluster_id").is_some(),
        "{v}"
    );
    let (c, v) = w.call("GET", "/health", None);
    assert_eq!((c, v["status"].as_str()), (200, Some("healthy")));
    assert_eq!(w.call("GET", "/connectors", None), (200, json!([])));

    // plugins
    let (c, v) = w.call("GET", "/connector-plugins", None);
    assert_eq!(c, 200);
    let classes: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["class"].as_str().unwrap())
        .collect();
    assert!(
        classes.contains(&"org.apache.kafka.connect.file.FileStreamSourceConnector"),
        "{v}"
    );
    assert!(v
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["type"] == "source" || p["type"] == "sink"));
    let (c, v) = w.call("GET", "/connector-plugins/FileStreamSource/config", None);
    assert_eq!(c, 200);
    assert!(
        v.as_array()
            .unwrap()
            .iter()
            .any(|k| k["name"] == "file" && k["required"] == json!(true)),
        "{v}"
    );
    let (c, v) = w.call("GET", "/connector-plugins/NoSuchPlugin/config", None);
    assert_eq!(c, 404);
    error_body(&v, 404);

    // validate
    let (c, v) = w.call(
        "PUT",
        "/connector-plugins/FileStreamSource/config/validate",
        Some(
            &json!({"connector.class": "FileStreamSource", "file": input, "batch.size": "many"})
                .to_string(),
        ),
    );
    assert_eq!(c, 200, "{v}");
    assert_eq!(
        v["name"],
        "org.apache.kafka.connect.file.FileStreamSourceConnector"
    );
    assert!(
        v["error_count"].as_u64().unwrap() >= 2,
        "missing topic and bad batch.size: {v}"
    );
    let errs_of = |key: &str| -> Vec<Value> {
        v["configs"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["value"]["name"] == key)
            .flat_map(|c| c["value"]["errors"].as_array().unwrap().clone())
            .collect()
    };
    assert!(!errs_of("topic").is_empty(), "{v}");
    assert!(!errs_of("batch.size").is_empty(), "{v}");

    // bad creates leave nothing behind
    let (c, v) = w.call(
        "POST",
        "/connectors",
        Some("{\"name\": \"x\", \"config\": {"),
    );
    assert_eq!(
        c, 500,
        "malformed JSON answers 500 as Kafka Connect does: {v}"
    );
    error_body(&v, 500);
    let (c, v) = w.call("POST", "/connectors", Some(&json!({"name": name, "config": {"connector.class": "com.example.Nope", "topic": topic}}).to_string()));
    assert_eq!(c, 400);
    let m = error_body(&v, 400);
    assert!(
        m.contains("com.example.Nope")
            && m.contains("org.apache.kafka.connect.file.FileStreamSourceConnector"),
        "{m}"
    );
    let (c, v) = w.call("POST", "/connectors", Some(&json!({"name": name, "config": {"connector.class": "FileStreamSource", "file": input}}).to_string()));
    assert_eq!(c, 400);
    let m = error_body(&v, 400);
    assert!(m.contains("topic") && m.contains("1 error(s)"), "{m}");
    let (c, v) = w.call(
        "POST",
        "/connectors",
        Some(&json!({"config": {"connector.class": "FileStreamSource"}}).to_string()),
    );
    assert_eq!(c, 400);
    error_body(&v, 400);
    let (c, v) = w.call("POST", "/connectors", Some(&json!({"name": name, "config": {"name": "other", "connector.class": "FileStreamSource", "file": input, "topic": topic}}).to_string()));
    assert_eq!(c, 400, "{v}");
    assert_eq!(
        w.call("GET", "/connectors", None),
        (200, json!([])),
        "a rejected create left a connector behind"
    );

    // create
    let config = json!({
        "connector.class": "FileStreamSource", "file": input, "topic": topic,
        "database.password": "s3cret-value", "tasks.max": 1,
        "topic.creation.default.partitions": "1", "topic.creation.default.replication.factor": "1",
    });
    let (c, v) = w.call(
        "POST",
        "/connectors",
        Some(&json!({"name": name, "config": config}).to_string()),
    );
    assert_eq!(c, 201, "{v}");
    assert_eq!(v["name"], json!(name));
    assert_eq!(v["type"], "source");
    assert_eq!(v["config"]["database.password"], "[hidden]");
    assert_eq!(
        v["config"]["tasks.max"], "1",
        "numbers are accepted and kept as strings"
    );
    let (c, v) = w.call(
        "POST",
        "/connectors",
        Some(&json!({"name": name, "config": config}).to_string()),
    );
    assert_eq!(c, 409);
    assert!(error_body(&v, 409).contains("already exists"));

    // read
    let (c, v) = w.call("GET", &format!("/connectors/{name}"), None);
    assert_eq!(c, 200);
    assert_eq!(v["tasks"], json!([{"connector": name, "task": 0}]));
    let (c, v) = w.call("GET", "/connectors/does-not-exist", None);
    assert_eq!(c, 404);
    assert!(error_body(&v, 404).contains("does-not-exist"));
    let (c, v) = w.call("GET", &format!("/connectors/{name}/config"), None);
    assert_eq!(c, 200);
    assert_eq!(v["database.password"], "[hidden]");
    assert!(!v.to_string().contains("s3cret"), "secret leaked: {v}");
    let (_, v) = w.call("GET", "/connectors?expand=status&expand=info", None);
    assert_eq!(
        v[&name]["info"]["config"]["database.password"], "[hidden]",
        "{v}"
    );
    assert!(v[&name]["status"]["connector"]["state"].is_string(), "{v}");

    let s = w.wait_status(&name, |s| {
        s["connector"]["state"] == "RUNNING" && s["tasks"][0]["state"] == "RUNNING"
    });
    assert_eq!(s["type"], "source");
    assert!(s["tasks"][0]["worker_id"].as_str().unwrap().contains(':'));
    let (c, v) = w.call("GET", &format!("/connectors/{name}/tasks"), None);
    assert_eq!(c, 200);
    assert_eq!(v[0]["id"], json!({"connector": name, "task": 0}));
    assert!(!v.to_string().contains("s3cret"));
    let (c, v) = w.call("GET", &format!("/connectors/{name}/tasks/0/status"), None);
    assert_eq!((c, &v["id"]), (200, &json!(0)));
    let (c, v) = w.call("GET", &format!("/connectors/{name}/tasks/7/status"), None);
    assert_eq!(c, 404);
    error_body(&v, 404);

    // update: [hidden] keeps the stored secret; PATCH merges
    let mut cfg = w.call("GET", &format!("/connectors/{name}/config"), None).1;
    cfg["batch.size"] = json!("50");
    let (c, v) = w.call(
        "PUT",
        &format!("/connectors/{name}/config"),
        Some(&cfg.to_string()),
    );
    assert_eq!(c, 200, "{v}");
    let stored = std::fs::read_to_string(dir.path().join("offsets.json.connectors.json")).unwrap();
    assert!(
        stored.contains("s3cret-value"),
        "PUT with [hidden] must keep the stored secret"
    );
    assert!(stored.contains("\"batch.size\": \"50\""), "{stored}");
    let (c, v) = w.call(
        "PATCH",
        &format!("/connectors/{name}/config"),
        Some(&json!({"batch.size": "10", "database.password": null}).to_string()),
    );
    assert_eq!(c, 200, "{v}");
    assert_eq!(v["config"]["batch.size"], "10");
    assert!(
        v["config"].get("database.password").is_none(),
        "null removes a key"
    );
    let (c, _) = w.call("PATCH", "/connectors/does-not-exist/config", Some("{}"));
    assert_eq!(c, 404);
    let (c, v) = w.call(
        "PUT",
        &format!("/connectors/{}/config", unique("new")),
        Some(
            &json!({"connector.class": "FileStreamSource", "file": input, "topic": topic})
                .to_string(),
        ),
    );
    assert_eq!(c, 201, "PUT creates a missing connector: {v}");
    let other = v["name"].as_str().unwrap().to_owned();
    assert_eq!(
        w.call("DELETE", &format!("/connectors/{other}"), None).0,
        204
    );

    // topics
    w.wait_status(&name, |s| s["tasks"][0]["state"] == "RUNNING");
    common::wait_until(Duration::from_secs(30), "the topic to be reported", || {
        w.call("GET", &format!("/connectors/{name}/topics"), None).1[&name]["topics"]
            == json!([topic])
    });
    assert_eq!(
        w.call("PUT", &format!("/connectors/{name}/topics/reset"), None)
            .0,
        202
    );
    assert_eq!(
        w.call("GET", &format!("/connectors/{name}/topics"), None).1[&name]["topics"],
        json!([])
    );

    // restarts
    assert_eq!(
        w.call("POST", &format!("/connectors/{name}/tasks/0/restart"), None)
            .0,
        204
    );
    assert_eq!(
        w.call("POST", &format!("/connectors/{name}/tasks/9/restart"), None)
            .0,
        404
    );
    assert_eq!(
        w.call("POST", &format!("/connectors/{name}/restart"), None)
            .0,
        204
    );
    let (c, v) = w.call(
        "POST",
        &format!("/connectors/{name}/restart?includeTasks=true&onlyFailed=false"),
        None,
    );
    assert_eq!(c, 202, "{v}");
    assert_eq!(v["name"], json!(name));
    w.wait_status(&name, |s| s["tasks"][0]["state"] == "RUNNING");

    // pause / resume
    assert_eq!(
        w.call("PUT", &format!("/connectors/{name}/pause"), None).0,
        202
    );
    w.wait_status(&name, |s| {
        s["connector"]["state"] == "PAUSED" && s["tasks"][0]["state"] == "PAUSED"
    });
    assert_eq!(
        w.call("PUT", &format!("/connectors/{name}/resume"), None).0,
        202
    );
    w.wait_status(&name, |s| {
        s["connector"]["state"] == "RUNNING" && s["tasks"][0]["state"] == "RUNNING"
    });

    // offsets (KIP-875)
    common::wait_until(Duration::from_secs(30), "an offset to be stored", || {
        !w.call("GET", &format!("/connectors/{name}/offsets"), None)
            .1["offsets"]
            .as_array()
            .unwrap()
            .is_empty()
    });
    let (c, v) = w.call("GET", &format!("/connectors/{name}/offsets"), None);
    assert_eq!(c, 200);
    assert_eq!(v["offsets"][0]["partition"]["filename"], json!(input));
    assert_eq!(v["offsets"][0]["offset"]["position"], json!(11));
    let alter = json!({"offsets": [{"partition": {"filename": input}, "offset": {"position": 6}}]})
        .to_string();
    let (c, v) = w.call(
        "PATCH",
        &format!("/connectors/{name}/offsets"),
        Some(&alter),
    );
    assert_eq!(c, 400, "altering offsets of a running connector is refused");
    assert!(error_body(&v, 400).contains("STOPPED"));
    assert_eq!(
        w.call("PUT", &format!("/connectors/{name}/stop"), None).0,
        202
    );
    w.wait_status(&name, |s| {
        s["connector"]["state"] == "STOPPED" && s["tasks"].as_array().unwrap().is_empty()
    });
    let (c, v) = w.call(
        "PATCH",
        &format!("/connectors/{name}/offsets"),
        Some(&alter),
    );
    assert_eq!(c, 200, "{v}");
    assert_eq!(
        v["message"],
        "The offsets for this connector have been altered successfully"
    );
    assert_eq!(
        w.call("GET", &format!("/connectors/{name}/offsets"), None)
            .1["offsets"][0]["offset"]["position"],
        json!(6)
    );
    let (c, v) = w.call("DELETE", &format!("/connectors/{name}/offsets"), None);
    assert_eq!(
        (c, v["message"].as_str()),
        (
            200,
            Some("The offsets for this connector have been reset successfully")
        )
    );
    assert_eq!(
        w.call("GET", &format!("/connectors/{name}/offsets"), None)
            .1,
        json!({"offsets": []})
    );

    // loggers
    let (c, v) = w.call("GET", "/admin/loggers", None);
    assert_eq!(c, 200);
    assert!(v["root"]["level"].is_string(), "{v}");
    let (c, v) = w.call(
        "PUT",
        "/admin/loggers/velocity_runtime",
        Some(r#"{"level":"DEBUG"}"#),
    );
    assert_eq!((c, v.clone()), (200, json!(["velocity_runtime"])));
    assert_eq!(
        w.call("GET", "/admin/loggers/velocity_runtime", None).1["level"],
        "DEBUG"
    );
    assert_eq!(
        w.call("GET", "/admin/loggers/velocity_runtime::worker", None)
            .1["level"],
        "DEBUG",
        "children inherit"
    );
    let (c, v) = w.call(
        "PUT",
        "/admin/loggers/velocity_runtime",
        Some(r#"{"level":"LOUD"}"#),
    );
    assert_eq!(c, 400);
    error_body(&v, 400);
    assert_eq!(
        w.call(
            "PUT",
            "/admin/loggers/velocity_runtime",
            Some(r#"{"level":"INFO"}"#)
        )
        .0,
        200
    );

    // unknown routes and methods
    let (c, v) = w.call("GET", "/no/such/path", None);
    assert_eq!(c, 404);
    error_body(&v, 404);
    let (c, v) = w.call("DELETE", "/connector-plugins", None);
    assert_eq!(c, 405);
    error_body(&v, 405);

    // resume from STOPPED, then a restart of the worker keeps REST-created connectors
    assert_eq!(
        w.call("PUT", &format!("/connectors/{name}/resume"), None).0,
        202
    );
    w.wait_status(&name, |s| s["tasks"][0]["state"] == "RUNNING");
    w.stop();
    w.restart();
    w.wait_status(&name, |s| {
        s["connector"]["state"] == "RUNNING" && s["tasks"][0]["state"] == "RUNNING"
    });

    // delete
    assert_eq!(
        w.call("DELETE", &format!("/connectors/{name}"), None).0,
        204
    );
    assert_eq!(w.call("GET", &format!("/connectors/{name}"), None).0, 404);
    assert_eq!(
        w.call("DELETE", &format!("/connectors/{name}"), None).0,
        404
    );
    w.stop();
    assert!(!w.log_text().contains("s3cret"), "a secret reached the log");
}

#[test]
fn broker_down_is_a_clear_startup_error() {
    let dir = tempfile::tempdir().unwrap();
    let props = dir.path().join("worker.properties");
    let port = common::free_port();
    std::fs::write(&props, format!("bootstrap.servers=127.0.0.1:{}\nlisteners=http://127.0.0.1:{port}\noffset.storage.file.filename={}/o.json\n", common::free_port(), dir.path().display())).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_velocity"))
        .arg("standalone")
        .arg(&props)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bootstrap.servers") && err.contains("broker"),
        "{err}"
    );
}

#[test]
fn missing_offset_file_key_names_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let props = dir.path().join("worker.properties");
    std::fs::write(
        &props,
        format!("bootstrap.servers={}\n", common::kafka_bootstrap()),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_velocity"))
        .arg("standalone")
        .arg(&props)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("offset.storage.file.filename"), "{err}");
}

#[test]
fn help_describes_every_flag() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_velocity"))
        .arg("--help")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("standalone") && text.contains("plugins"),
        "{text}"
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_velocity"))
        .args(["standalone", "--help"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("WORKER_PROPERTIES") && text.contains("CONNECTOR_CONFIGS"),
        "{text}"
    );
}
