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
    let mut w = Worker::start(dir.path(), "velocity.file.connectors.enable=true", &[]);
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
        204,
        "Kafka Connect answers 204 No Content to a stop"
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

/// Kafka Connect REST details that clients depend on (issue 13, point 6).
#[test]
fn kafka_connect_contract_details() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.txt");
    std::fs::write(&input, "a\nb\n").unwrap();
    let w = Worker::start(
        dir.path(),
        "velocity.file.connectors.enable=true\nno.such.worker.key=1",
        &[],
    );
    let name = unique("contract");
    let topic = unique("contract_topic");
    let config = json!({
        "connector.class": "FileStreamSource", "file": input, "topic": topic,
        "topic.creation.default.partitions": "1", "topic.creation.default.replication.factor": "1",
    });

    // GET / names Velocity's version and the Kafka Connect API version
    let (_, v) = w.call("GET", "/", None);
    assert_eq!(
        v["velocity_version"],
        json!(env!("CARGO_PKG_VERSION")),
        "{v}"
    );
    assert_eq!(v["kafka_connect_api_version"], v["version"], "{v}");
    // unknown worker keys are warned about as Kafka does
    assert!(
        w.log_text().contains(
            "The configuration 'no.such.worker.key' was supplied but isn't a known config."
        ),
        "{}",
        w.log_text()
    );

    // PUT …/config that creates: 201 with Location; trailing slashes accepted
    let client = reqwest::blocking::Client::new();
    let resp = client
        .put(format!("{}/connectors/{name}/config/", w.base))
        .header("content-type", "application/json")
        .body(config.to_string())
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    assert_eq!(
        resp.headers().get("location").and_then(|l| l.to_str().ok()),
        Some(format!("/connectors/{name}").as_str())
    );
    assert_eq!(
        w.call(
            "PUT",
            &format!("/connectors/{name}/config"),
            Some(&config.to_string())
        )
        .0,
        200
    );
    let (c, v) = w.call("GET", "/connectors/", None);
    assert_eq!((c, v), (200, json!([name])));
    w.wait_status(&name, |s| s["tasks"][0]["state"] == "RUNNING");

    // booleans in query strings as Java parses them
    let (c, v) = w.call(
        "POST",
        &format!("/connectors/{name}/restart?includeTasks=False&onlyFailed=FALSE"),
        None,
    );
    assert_eq!(c, 204, "includeTasks=False is false: {v}");
    let (c, v) = w.call(
        "POST",
        &format!("/connectors/{name}/restart?includeTasks=TRUE"),
        None,
    );
    assert_eq!(c, 202, "includeTasks=TRUE is true: {v}");
    let (c, v) = w.call(
        "POST",
        &format!("/connectors/{name}/restart?includeTasks=yes"),
        None,
    );
    assert_eq!(c, 204, "Boolean.parseBoolean(\"yes\") is false: {v}");
    w.wait_status(&name, |s| s["tasks"][0]["state"] == "RUNNING");

    // stop → 204; PATCH offsets with an empty list → 400 with Kafka's message
    assert_eq!(
        w.call("PUT", &format!("/connectors/{name}/stop/"), None).0,
        204
    );
    w.wait_status(&name, |s| s["connector"]["state"] == "STOPPED");
    let (c, v) = w.call(
        "PATCH",
        &format!("/connectors/{name}/offsets"),
        Some(r#"{"offsets": []}"#),
    );
    assert_eq!(c, 400);
    assert_eq!(
        error_body(&v, 400),
        "Partitions / offsets need to be provided for an alter offsets request"
    );

    // initial_state is case-insensitive
    let other = unique("contract_paused");
    let (c, v) = w.call(
        "POST",
        "/connectors",
        Some(&json!({"name": other, "config": config, "initial_state": "paused"}).to_string()),
    );
    assert_eq!(c, 201, "{v}");
    w.wait_status(&other, |s| s["connector"]["state"] == "PAUSED");
    let (c, v) = w.call(
        "POST",
        "/connectors",
        Some(
            &json!({"name": unique("x"), "config": config, "initial_state": "sideways"})
                .to_string(),
        ),
    );
    assert_eq!(c, 400, "{v}");

    // converters and header converters are plugins too
    let (_, v) = w.call("GET", "/connector-plugins?connectorsOnly=false", None);
    let has = |class: &str, ty: &str| {
        v.as_array()
            .unwrap()
            .iter()
            .any(|p| p["class"] == class && p["type"] == ty)
    };
    assert!(
        has("org.apache.kafka.connect.json.JsonConverter", "converter"),
        "{v}"
    );
    assert!(
        has(
            "org.apache.kafka.connect.storage.StringConverter",
            "converter"
        ),
        "{v}"
    );
    assert!(
        has(
            "org.apache.kafka.connect.storage.SimpleHeaderConverter",
            "header_converter"
        ),
        "{v}"
    );
    assert!(
        has(
            "io.debezium.connector.postgresql.PostgresConnector",
            "source"
        ),
        "{v}"
    );
    let (_, only) = w.call("GET", "/connector-plugins?connectorsOnly=False", None);
    assert_eq!(only, v, "connectorsOnly=False is false");
    let (_, conn_only) = w.call("GET", "/connector-plugins", None);
    assert!(conn_only
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["type"] == "source" || p["type"] == "sink"));
    let (c, v) = w.call(
        "GET",
        "/connector-plugins/org.apache.kafka.connect.json.JsonConverter/config",
        None,
    );
    assert_eq!(c, 200);
    assert!(
        v.as_array()
            .unwrap()
            .iter()
            .any(|k| k["name"] == "schemas.enable" && k["default_value"] == "true"),
        "{v}"
    );

    // /admin/loggers: Java logger names, status codes, scope=cluster
    let (c, v) = w.call("GET", "/admin/loggers/com.example.nobody", None);
    assert_eq!(c, 404, "{v}");
    assert_eq!(error_body(&v, 404), "Logger com.example.nobody not found.");
    let (c, v) = w.call(
        "PUT",
        "/admin/loggers/io.debezium.connector.postgresql",
        Some(r#"{"level": "DEBUG"}"#),
    );
    assert_eq!(c, 200, "{v}");
    assert!(
        v.as_array()
            .unwrap()
            .contains(&json!("io.debezium.connector.postgresql")),
        "{v}"
    );
    let (c, v) = w.call(
        "GET",
        "/admin/loggers/io.debezium.connector.postgresql",
        None,
    );
    assert_eq!((c, v["level"].as_str()), (200, Some("DEBUG")), "{v}");
    let (c, v) = w.call(
        "GET",
        "/admin/loggers/io.debezium.connector.postgresql.PostgresConnectorTask",
        None,
    );
    assert_eq!(
        (c, v["level"].as_str()),
        (200, Some("DEBUG")),
        "children inherit: {v}"
    );
    let (c, _) = w.call(
        "PUT",
        "/admin/loggers/org.apache.kafka.connect?scope=cluster",
        Some(r#"{"level": "WARN"}"#),
    );
    assert_eq!(c, 204, "scope=cluster answers 204 No Content");
    let (c, v) = w.call(
        "PUT",
        "/admin/loggers/org.apache.kafka.connect",
        Some(r#"{"level": "LOUD"}"#),
    );
    assert_eq!((c, error_body(&v, 400)), (400, "Invalid log level 'LOUD'."));
    let (c, v) = w.call(
        "PUT",
        "/admin/loggers/org.apache.kafka.connect",
        Some(r#"{}"#),
    );
    assert_eq!(c, 400, "{v}");
}

/// FileStream connectors read and write any file: absent unless enabled.
#[test]
fn file_connectors_are_absent_unless_enabled() {
    let dir = tempfile::tempdir().unwrap();
    let w = Worker::start(dir.path(), "", &[]);
    let (_, v) = w.call("GET", "/connector-plugins?connectorsOnly=false", None);
    assert!(
        !v.as_array()
            .unwrap()
            .iter()
            .any(|p| p["class"].as_str().unwrap().contains("FileStream")),
        "{v}"
    );
    let (c, v) = w.call(
        "POST",
        "/connectors",
        Some(&json!({"name": unique("fs"), "config": {"connector.class": "FileStreamSource", "file": "/etc/passwd", "topic": "x"}}).to_string()),
    );
    assert_eq!(c, 400, "{v}");
    assert!(error_body(&v, 400).contains("FileStreamSource"));
    assert_eq!(
        w.call("GET", "/connector-plugins/FileStreamSource/config", None)
            .0,
        404
    );
}

/// Sink offsets (KIP-875) come from the consumer group `connect-<name>`.
#[test]
fn sink_offsets_from_the_consumer_group() {
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
    let dir = tempfile::tempdir().unwrap();
    let topic = unique("sink_offsets");
    let name = unique("sink_off");
    let out = dir.path().join("out.txt");
    // the topic, with 3 records
    let producer: BaseProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", common::kafka_bootstrap())
        .create()
        .unwrap();
    let admin: rdkafka::admin::AdminClient<rdkafka::client::DefaultClientContext> =
        rdkafka::ClientConfig::new()
            .set("bootstrap.servers", common::kafka_bootstrap())
            .create()
            .unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(admin.create_topics(
        [&rdkafka::admin::NewTopic::new(
            &topic,
            1,
            rdkafka::admin::TopicReplication::Fixed(1),
        )],
        &rdkafka::admin::AdminOptions::new(),
    ))
    .unwrap();
    for i in 0..3 {
        producer
            .send(BaseRecord::<str, str>::to(&topic).payload(&format!("line {i}")))
            .unwrap();
    }
    producer.flush(Duration::from_secs(10)).unwrap();

    let w = Worker::start(dir.path(), "velocity.file.connectors.enable=true", &[]);
    let config = json!({
        "connector.class": "FileStreamSink", "file": out, "topics": topic,
        "value.converter": "org.apache.kafka.connect.storage.StringConverter",
        "key.converter": "org.apache.kafka.connect.storage.StringConverter",
    });
    assert_eq!(
        w.call(
            "PUT",
            &format!("/connectors/{name}/config"),
            Some(&config.to_string())
        )
        .0,
        201
    );
    common::wait_until(
        Duration::from_secs(60),
        "the sink to commit offset 3",
        || {
            let (_, v) = w.call("GET", &format!("/connectors/{name}/offsets"), None);
            v["offsets"][0]["offset"]["kafka_offset"] == json!(3)
        },
    );
    let (_, v) = w.call("GET", &format!("/connectors/{name}/offsets"), None);
    assert_eq!(
        v,
        json!({"offsets": [{"partition": {"kafka_topic": topic, "kafka_partition": 0}, "offset": {"kafka_offset": 3}}]})
    );
    assert_eq!(
        w.call("PUT", &format!("/connectors/{name}/stop"), None).0,
        204
    );
    w.wait_status(&name, |s| s["connector"]["state"] == "STOPPED");
    let alter = json!({"offsets": [{"partition": {"kafka_topic": topic, "kafka_partition": 0}, "offset": {"kafka_offset": 1}}]});
    let (c, v) = w.call(
        "PATCH",
        &format!("/connectors/{name}/offsets"),
        Some(&alter.to_string()),
    );
    assert_eq!(c, 200, "{v}");
    assert_eq!(
        v["message"],
        "The offsets for this connector have been altered successfully"
    );
    let (_, v) = w.call("GET", &format!("/connectors/{name}/offsets"), None);
    assert_eq!(v["offsets"][0]["offset"]["kafka_offset"], json!(1), "{v}");
    let bad = json!({"offsets": [{"partition": {"kafka_topic": topic, "kafka_partition": 0}, "offset": null}]});
    let (c, v) = w.call(
        "PATCH",
        &format!("/connectors/{name}/offsets"),
        Some(&bad.to_string()),
    );
    assert_eq!(c, 400, "{v}");
    // resuming replays from offset 1: lines 1 and 2 are written again
    assert_eq!(
        w.call("PUT", &format!("/connectors/{name}/resume"), None).0,
        202
    );
    common::wait_until(
        Duration::from_secs(60),
        "the replay after the altered offset",
        || {
            std::fs::read_to_string(&out)
                .unwrap_or_default()
                .lines()
                .count()
                >= 5
        },
    );
    let lines: Vec<String> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(lines, ["line 0", "line 1", "line 2", "line 1", "line 2"]);
    // DELETE resets: the consumer group is deleted
    assert_eq!(
        w.call("PUT", &format!("/connectors/{name}/stop"), None).0,
        204
    );
    w.wait_status(&name, |s| s["connector"]["state"] == "STOPPED");
    let (c, v) = w.call("DELETE", &format!("/connectors/{name}/offsets"), None);
    assert_eq!(c, 200, "{v}");
    assert_eq!(
        v["message"],
        "The offsets for this connector have been reset successfully"
    );
    let (_, v) = w.call("GET", &format!("/connectors/{name}/offsets"), None);
    assert_eq!(v, json!({"offsets": []}));
}

/// A stateful transform (the domain NetChangeFilter holds records until a
/// source transaction ends) in a sink connector's chain is a config error
/// on `transforms.<alias>.type`, both from the validate endpoint and on
/// create; the same transform in a source connector's chain is accepted.
#[test]
fn stateful_transform_in_a_sink_chain_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let w = Worker::start(dir.path(), "velocity.file.connectors.enable=true", &[]);
    let name = unique("stateful_sink");
    let sink = json!({
        "name": name,
        "connector.class": "FileStreamSink",
        "file": dir.path().join("out.txt"),
        "topics": unique("stateful_in"),
        "transforms": "cast,filter",
        "transforms.cast.type": "domain-cast",
        "transforms.filter.type": "io.velocity.transforms.domain.NetChangeFilter",
    });
    let (c, v) = w.call(
        "PUT",
        "/connector-plugins/FileStreamSink/config/validate",
        Some(&sink.to_string()),
    );
    assert_eq!(c, 200, "{v}");
    assert_eq!(v["error_count"], json!(1), "{v}");
    let errors: Vec<&str> = v["configs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["value"]["name"] == "transforms.filter.type")
        .flat_map(|c| c["value"]["errors"].as_array().unwrap())
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(errors.len(), 1, "{v}");
    assert!(
        errors[0].contains("NetChangeFilter") && errors[0].contains("source connector"),
        "{}",
        errors[0]
    );
    let (c, v) = w.call(
        "POST",
        "/connectors",
        Some(&json!({"name": name, "config": sink}).to_string()),
    );
    assert_eq!(c, 400, "{v}");
    let m = error_body(&v, 400);
    assert!(m.contains("transforms.filter.type"), "{m}");
    assert_eq!(w.call("GET", "/connectors", None), (200, json!([])));

    // the same chain on a source connector validates cleanly
    let input = dir.path().join("in.txt");
    std::fs::write(&input, "").unwrap();
    let source = json!({
        "name": unique("stateful_source"),
        "connector.class": "FileStreamSource",
        "file": input,
        "topic": unique("stateful_out"),
        "transforms": "cast,filter",
        "transforms.cast.type": "domain-cast",
        "transforms.filter.type": "io.velocity.transforms.domain.NetChangeFilter",
    });
    let (c, v) = w.call(
        "PUT",
        "/connector-plugins/FileStreamSource/config/validate",
        Some(&source.to_string()),
    );
    assert_eq!(c, 200, "{v}");
    assert_eq!(v["error_count"], json!(0), "{v}");
}

/// `PUT /connector-plugins/{p}/config/validate` with one bad value for every
/// typed or enumerated key of the PostgreSQL, MySQL, JDBC sink and Redis sink
/// connectors reports exactly one error per bad key, naming the rule it
/// breaks, and no error on a key that was given a good value.
#[test]
fn validate_reports_one_error_per_bad_key() {
    let dir = tempfile::tempdir().unwrap();
    let w = Worker::start(dir.path(), "", &[]);
    let plugins = [
        (
            "io.debezium.connector.postgresql.PostgresConnector",
            json!({"database.hostname": "h", "database.user": "u", "database.dbname": "d", "topic.prefix": "p",
                   "table.include.list": "public.(", "message.key.columns": "no-colon-here"}),
        ),
        (
            "io.debezium.connector.mysql.MySqlConnector",
            json!({"database.hostname": "h", "database.user": "u", "topic.prefix": "p", "database.server.id": "5",
                   "schema.history.internal.kafka.topic": "h", "schema.history.internal.kafka.bootstrap.servers": "k:9092",
                   "table.include.list": "db.("}),
        ),
        (
            "io.debezium.connector.jdbc.JdbcSinkConnector",
            json!({"connection.url": "jdbc:postgresql://h/d", "connection.username": "u", "topics": "t"}),
        ),
        (
            "io.velocity.connector.redis.RedisSinkConnector",
            json!({"redis.address": "h:1", "topics": "t"}),
        ),
    ];
    for (class, good) in plugins {
        let (c, keys) = w.call("GET", &format!("/connector-plugins/{class}/config"), None);
        assert_eq!(c, 200, "{keys}");
        let mut config = good.as_object().unwrap().clone();
        config.insert("connector.class".into(), json!(class));
        config.insert("name".into(), json!("v"));
        // the keys the good values above break on purpose: semantic checks
        // that only the connector makes (a regular expression, a key list)
        let semantic: Vec<String> = config
            .iter()
            .filter(|(_, v)| {
                v.as_str()
                    .is_some_and(|v| v.contains('(') || v == "no-colon-here")
            })
            .map(|(k, _)| k.clone())
            .collect();
        let (c, v) = w.call(
            "PUT",
            &format!("/connector-plugins/{class}/config/validate"),
            Some(&Value::Object(config.clone()).to_string()),
        );
        assert_eq!(c, 200, "{v}");
        let recommended: std::collections::HashMap<String, Vec<Value>> = v["configs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                let name = c["value"]["name"].as_str().unwrap().to_owned();
                (
                    name,
                    c["value"]["recommended_values"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default(),
                )
            })
            .collect();
        let mut bad = std::collections::BTreeMap::new();
        for k in keys.as_array().unwrap() {
            let name = k["name"].as_str().unwrap();
            if matches!(name, "name" | "connector.class" | "tasks.max") || config.contains_key(name)
            {
                continue;
            }
            let value = match k["type"].as_str().unwrap() {
                "INT" | "LONG" | "SHORT" | "DOUBLE" => "notanumber",
                "BOOLEAN" => "maybe",
                "STRING" if recommended.get(name).is_some_and(|r| !r.is_empty()) => "nosuchvalue",
                _ => continue,
            };
            bad.insert(name.to_owned(), value);
        }
        assert!(
            bad.len() >= 3,
            "{class}: too few typed keys to test: {bad:?}"
        );
        for (k, value) in &bad {
            config.insert(k.clone(), json!(value));
        }
        let (c, v) = w.call(
            "PUT",
            &format!("/connector-plugins/{class}/config/validate"),
            Some(&Value::Object(config).to_string()),
        );
        assert_eq!(c, 200, "{v}");
        let mut with_errors = std::collections::BTreeMap::new();
        for c in v["configs"].as_array().unwrap() {
            let errors = c["value"]["errors"].as_array().unwrap();
            if !errors.is_empty() {
                with_errors.insert(
                    c["value"]["name"].as_str().unwrap().to_owned(),
                    errors.clone(),
                );
            }
        }
        for (k, value) in &bad {
            let errors = with_errors
                .remove(k)
                .unwrap_or_else(|| panic!("{class}: no error for {k}={value}: {v}"));
            assert_eq!(errors.len(), 1, "{class}: {k}: {errors:?}");
            let e = errors[0].as_str().unwrap();
            // Kafka's ConfigDef wording
            let rule = match *value {
                "notanumber" => "Not a number of type",
                "maybe" => "Expected value to be either true or false",
                _ => "String must be one of",
            };
            assert!(
                e.contains(&format!(
                    "Invalid value {value} for configuration {k}: {rule}"
                )),
                "{class}: {k}: {e}"
            );
        }
        for k in &semantic {
            let errors = with_errors
                .remove(k)
                .unwrap_or_else(|| panic!("{class}: no error for {k}: {v}"));
            assert_eq!(errors.len(), 1, "{class}: {k}: {errors:?}");
        }
        assert!(
            with_errors.is_empty(),
            "{class}: errors on keys given good values: {with_errors:?}"
        );
        assert_eq!(
            v["error_count"],
            json!(bad.len() + semantic.len()),
            "{class}: {v}"
        );
    }
}

/// Debezium's column options on both sources: `GET …/config` lists
/// Debezium's names of the keys named by their parameters, and
/// `PUT …/config/validate` reports one error per malformed option key (a bad
/// N, an unknown algorithm, an invalid expression), under that key.
#[test]
fn validate_names_bad_column_option_keys() {
    let dir = tempfile::tempdir().unwrap();
    let w = Worker::start(dir.path(), "", &[]);
    let plugins = [
        (
            "io.debezium.connector.postgresql.PostgresConnector",
            json!({"database.hostname": "h", "database.user": "u", "database.dbname": "d", "topic.prefix": "p"}),
        ),
        (
            "io.debezium.connector.mysql.MySqlConnector",
            json!({"database.hostname": "h", "database.user": "u", "topic.prefix": "p", "database.server.id": "5",
                   "schema.history.internal.kafka.topic": "h", "schema.history.internal.kafka.bootstrap.servers": "k:9092"}),
        ),
    ];
    for (class, base) in plugins {
        let (c, keys) = w.call("GET", &format!("/connector-plugins/{class}/config"), None);
        assert_eq!(c, 200, "{keys}");
        for key in velocity_api::debezium::keys::COLUMN_OPTION_KEYS {
            assert!(
                keys.as_array()
                    .unwrap()
                    .iter()
                    .any(|k| k["name"] == key.name),
                "{class}: {} not listed",
                key.name
            );
        }
        let mut config = base.as_object().unwrap().clone();
        config.insert("connector.class".into(), json!(class));
        config.insert("name".into(), json!("v"));
        config.insert(
            "column.mask.hash.v2.SHA-256.with.salt.x".into(),
            json!("a.b.c"),
        );
        config.insert("column.truncate.to.10.chars".into(), json!("a.b.d"));
        let (c, v) = w.call(
            "PUT",
            &format!("/connector-plugins/{class}/config/validate"),
            Some(&Value::Object(config.clone()).to_string()),
        );
        assert_eq!((c, &v["error_count"]), (200, &json!(0)), "{class}: {v}");
        let bad = [
            (
                "column.mask.with.x.chars",
                "a.b.c",
                "'x' is not a number of characters",
            ),
            (
                "column.mask.hash.SHA-999.with.salt.s",
                "a.b.c",
                "SHA-999 MessageDigest not available",
            ),
            (
                "column.truncate.to.4.chars",
                "a.(",
                "not a valid regular expression",
            ),
        ];
        for (k, value, _) in bad {
            config.insert(k.into(), json!(value));
        }
        let (c, v) = w.call(
            "PUT",
            &format!("/connector-plugins/{class}/config/validate"),
            Some(&Value::Object(config).to_string()),
        );
        assert_eq!(
            (c, &v["error_count"]),
            (200, &json!(bad.len())),
            "{class}: {v}"
        );
        for (k, _, rule) in bad {
            let errors: Vec<&str> = v["configs"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|c| c["value"]["name"] == k)
                .flat_map(|c| c["value"]["errors"].as_array().unwrap())
                .filter_map(Value::as_str)
                .collect();
            assert_eq!(errors.len(), 1, "{class}: {k}: {v}");
            assert!(errors[0].contains(rule), "{class}: {k}: {}", errors[0]);
        }
    }
}

/// A connector given on the command line is stored like a REST-created one;
/// after a restart it starts once (with the file's config, in its stored
/// target state), never started from the store and then restarted from the
/// file — a restart that would cost a source connector a second connection
/// and, for PostgreSQL, a wait for its own replication slot.
#[test]
fn a_command_line_connector_starts_once_per_restart() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.txt");
    std::fs::write(&input, "a\n").unwrap();
    let name = unique("cmdline");
    let file = dir.path().join("connector.json");
    std::fs::write(
        &file,
        common::file_source_json(&name, &input, &unique("cmdline_out")),
    )
    .unwrap();
    let created = format!("Creating task {name}-0");
    let mut w = Worker::start(dir.path(), "velocity.file.connectors.enable=true", &[file]);
    w.wait_status(&name, |s| s["tasks"][0]["state"] == "RUNNING");
    assert_eq!(
        w.log_text().matches(&created).count(),
        1,
        "{}",
        w.log_text()
    );
    let (c, v) = w.call("PUT", &format!("/connectors/{name}/pause"), None);
    assert_eq!(c, 202, "{v}");
    w.wait_status(&name, |s| s["tasks"][0]["state"] == "PAUSED");
    w.stop();

    let before = w.log_text().len();
    w.restart();
    w.wait_status(&name, |s| {
        s["connector"]["state"] == "PAUSED" && s["tasks"][0]["state"] == "PAUSED"
    });
    let (c, v) = w.call("PUT", &format!("/connectors/{name}/resume"), None);
    assert_eq!(c, 202, "{v}");
    w.wait_status(&name, |s| s["tasks"][0]["state"] == "RUNNING");
    let since = w.log_text()[before..].to_owned();
    assert_eq!(since.matches(&created).count(), 1, "{since}");
}
