//! `/metrics`, `/health` and the access log against the real PostgreSQL
//! server and broker: the counters equal the number of change events the
//! test produced, Debezium's snapshot metrics describe the snapshot, and
//! `MilliSecondsBehindSource` is under a second once a backlog is drained.

mod common;

use std::time::Duration;

use common::{consume_until, pg_connector_file, psql, unique, wait_until, Worker};
use serde_json::json;

/// The value of the first sample of `name` whose labels contain every
/// `label="value"` in `labels`.
fn sample(text: &str, name: &str, labels: &[&str]) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.split(['{', ' ']).next().is_some_and(|n| n == name))
        .find(|l| labels.iter().all(|want| l.contains(want)))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

fn scrape(w: &Worker) -> String {
    let r = reqwest::blocking::get(format!("{}/metrics", w.base)).unwrap();
    assert_eq!(r.status(), 200);
    let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
    r.text().unwrap()
}

#[test]
fn counters_match_the_events_and_the_lag_drops_after_a_backlog() {
    let db = unique("metrics");
    psql("postgres", &["-c", &format!("CREATE DATABASE {db}")]);
    psql(
        &db,
        &["-c", "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, 'snap' FROM generate_series(1, 1000) g"],
    );
    let prefix = unique("pm").replace('_', "");
    let slot = unique("mslot").to_lowercase();
    let dir = tempfile::tempdir().unwrap();
    let conn = pg_connector_file(dir.path(), "src", &db, &prefix, &slot, json!({}));
    let w = Worker::start(dir.path(), "", &[conn]);
    w.wait_status("src", |s| s["tasks"][0]["state"] == "RUNNING");
    let topic = format!("{prefix}.public.t");
    let values = |r: &[common::Kv]| r.iter().filter(|(_, v)| v.is_some()).count();
    assert_eq!(
        values(&consume_until(&topic, Duration::from_secs(90), |r| values(
            r
        )
            >= 1000)),
        1000
    );
    // a backlog: written while the task is paused, drained after resume
    assert_eq!(w.call("PUT", "/connectors/src/pause", None).0, 202);
    w.wait_status("src", |s| s["tasks"][0]["state"] == "PAUSED");
    for i in 0..100 {
        psql(
            &db,
            &[
                "-c",
                &format!(
                    "INSERT INTO t SELECT g, 'backlog' FROM generate_series({}, {}) g",
                    1001 + i * 20,
                    1020 + i * 20
                ),
            ],
        );
    }
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(w.call("PUT", "/connectors/src/resume", None).0, 202);
    assert_eq!(
        values(&consume_until(&topic, Duration::from_secs(90), |r| values(
            r
        )
            >= 3000)),
        3000
    );
    let task = ["connector=\"src\"", "task=\"0\""];
    let streaming = [
        "connector=\"src\"",
        "context=\"streaming\"",
        "plugin=\"postgres\"",
    ];
    let name = format!("name=\"{prefix}\"");
    // the offsets of the last records are stored and the lag measured by now
    let mut text = String::new();
    wait_until(Duration::from_secs(90), "the lag to fall under 1 s", || {
        text = scrape(&w);
        sample(
            &text,
            "debezium_metrics_MilliSecondsBehindSource",
            &streaming,
        )
        .is_some_and(|v| (0.0..1000.0).contains(&v))
    });
    let k = |n: &str| sample(&text, n, &task);
    assert_eq!(
        k("kafka_connect_source_task_metrics_source_record_poll_total"),
        Some(3000.0),
        "{text}"
    );
    assert_eq!(
        k("kafka_connect_source_task_metrics_source_record_write_total"),
        Some(3000.0)
    );
    assert!(k("kafka_connect_source_task_metrics_source_record_write_rate").unwrap() > 0.0);
    assert!(k("kafka_connect_connector_task_metrics_offset_commit_avg_time_ms").unwrap() >= 0.0);
    assert_eq!(
        k("kafka_connect_connector_task_metrics_offset_commit_failure_percentage"),
        Some(0.0)
    );
    assert_eq!(
        k("kafka_connect_task_error_metrics_total_retries"),
        Some(0.0)
    );
    // commit -> acknowledgement: one observation per streamed transaction
    // at most (100 of them; the snapshot has no commit times), fewer only
    // when a transaction's last record was acknowledged and taken off the
    // queue before its end marker reached the loop
    let acked = k("velocity_source_commit_to_ack_seconds_count").unwrap_or(0.0);
    assert!((50.0..=100.0).contains(&acked), "{acked}\n{text}");
    assert!(k("velocity_source_commit_to_ack_seconds_sum").unwrap_or(0.0) > 0.0);
    assert_eq!(
        sample(
            &text,
            "debezium_metrics_TotalNumberOfEventsSeen",
            &[&streaming[..], &[name.as_str()]].concat()
        ),
        Some(2000.0)
    );
    let snapshot = ["connector=\"src\"", "context=\"snapshot\""];
    assert_eq!(
        sample(&text, "debezium_metrics_TotalNumberOfEventsSeen", &snapshot),
        Some(1000.0)
    );
    assert_eq!(
        sample(
            &text,
            "debezium_metrics_RowsScanned",
            &[&snapshot[..], &["table=\"public.t\""]].concat()
        ),
        Some(1000.0)
    );
    assert_eq!(
        sample(&text, "debezium_metrics_SnapshotCompleted", &snapshot),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, "debezium_metrics_SnapshotRunning", &snapshot),
        Some(0.0)
    );
    assert_eq!(
        sample(&text, "debezium_metrics_RemainingTableCount", &snapshot),
        Some(0.0)
    );
    assert_eq!(
        sample(&text, "debezium_metrics_TotalTableCount", &snapshot),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, "debezium_metrics_Connected", &streaming),
        Some(1.0)
    );
    assert!(sample(&text, "debezium_metrics_QueueRemainingCapacity", &streaming).unwrap() > 0.0);
    assert_eq!(
        sample(
            &text,
            "kafka_connect_connect_worker_metrics_connector_count",
            &[]
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            "kafka_connect_connect_worker_metrics_connector_running_task_count",
            &["connector=\"src\""]
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            "kafka_connect_connector_metrics_info",
            &[
                "connector=\"src\"",
                "connector_type=\"source\"",
                "status=\"running\""
            ]
        ),
        Some(1.0)
    );

    // /health: healthy with Kafka Connect's body
    let (code, body) = w.call("GET", "/health", None);
    assert_eq!(code, 200);
    assert_eq!(body["status"], "healthy");
    assert_eq!(
        body["message"],
        "Worker has completed startup and is ready to handle requests."
    );
    // the access log has a line per request, in NCSA form
    let log = w.log_text();
    let line = log
        .lines()
        .find(|l| l.contains("\"GET /metrics HTTP/1.1\" 200"))
        .unwrap_or_else(|| panic!("no access-log line for /metrics; log:\n{log}"));
    assert!(line.contains("127.0.0.1 - - ["), "{line}");
    assert!(
        log.contains("snapshot: table done"),
        "snapshot progress is logged"
    );
    drop(w);
    psql(
        "postgres",
        &["-c", &format!("SELECT pg_drop_replication_slot('{slot}')")],
    );
    psql(
        "postgres",
        &["-c", &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")],
    );
}
