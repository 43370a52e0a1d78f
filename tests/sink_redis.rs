//! End to end against the real services: PostgreSQL TMS tables → Velocity
//! PostgreSQL source → broker → Redis sink → Redis, whose keys (one per
//! source row, `${topic}:${key}`) hold JSON equal to the source rows after
//! the snapshot and after a mixed workload of inserts, updates, deletes and
//! primary-key changes. Also: stream mode appends the change events.

mod common;
mod sink_support;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use common::Worker;
use serde_json::{json, Value as J};
use sink_support::*;

fn redis_address() -> String {
    env("VELOCITY_REDIS_URL", "redis://127.0.0.1:56379")
}

/// Runs redis-cli against the test server; stdout (raw).
fn redis_cli(args: &[&str]) -> String {
    let addr = redis_address();
    let hostport = addr.trim_start_matches("redis://");
    let (host, port) = hostport.rsplit_once(':').unwrap_or((hostport, "6379"));
    let out = Command::new("redis-cli")
        .args(["--raw", "-h", host, "-p", port])
        .args(args)
        .output()
        .expect("redis-cli is installed (scripts/services.sh installs it)");
    assert!(
        out.status.success(),
        "redis-cli {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Every key matching `pattern` with its string value.
fn redis_values(pattern: &str) -> BTreeMap<String, String> {
    let keys: Vec<String> = redis_cli(&["--scan", "--pattern", pattern])
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    let mut out = BTreeMap::new();
    for chunk in keys.chunks(200) {
        let mut args = vec!["MGET"];
        args.extend(chunk.iter().map(String::as_str));
        let vals = redis_cli(&args);
        // values are single-line compact JSON
        for (k, v) in chunk.iter().zip(vals.lines()) {
            out.insert(k.clone(), v.to_owned());
        }
    }
    out
}

fn delete_keys(pattern: &str) {
    let keys: Vec<String> = redis_cli(&["--scan", "--pattern", pattern])
        .lines()
        .map(str::to_owned)
        .collect();
    for chunk in keys.chunks(200) {
        let mut args = vec!["DEL"];
        args.extend(chunk.iter().map(String::as_str));
        redis_cli(&args);
    }
}

fn text(v: &J) -> String {
    match v {
        J::Null => "NULL".to_owned(),
        J::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Redis side, one line per key: `key-json|col|col…` in the column order of
/// [`source_dump`], sorted.
fn redis_dump(prefix: &str) -> String {
    let mut lines = Vec::new();
    for (table, cols) in [("shipment", SHIPMENT_COLS), ("shipment_leg", LEG_COLS)] {
        let topic = format!("{prefix}.tms.{table}");
        for (k, v) in redis_values(&format!("{topic}:*")) {
            let key = k.strip_prefix(&format!("{topic}:")).unwrap_or(&k);
            let row: J = serde_json::from_str(&v).unwrap_or(J::String(v.clone()));
            let mut line = format!("{table}|{key}");
            for c in cols {
                line.push('|');
                line.push_str(&text(&row[c]));
            }
            lines.push(line);
        }
    }
    lines.sort();
    lines.join("\n")
}

const SHIPMENT_COLS: &[&str] = &[
    "id",
    "reference",
    "status",
    "weight_kg",
    "pickup_date",
    "created_at",
    "tracking_id",
    "attrs",
    "tags",
];
const LEG_COLS: &[&str] = &[
    "shipment_id",
    "leg_no",
    "origin",
    "destination",
    "distance_km",
];

/// Source side in the same form, computed by PostgreSQL.
fn source_dump(db: &str) -> String {
    let ship = psql(
        db,
        "SELECT 'shipment|' || json_build_object('id', id)::text || '|' || id || '|' || reference || '|' || status || '|' || \
         coalesce(weight_kg::text, 'NULL') || '|' || coalesce(pickup_date::text, 'NULL') || '|' || \
         coalesce(to_char(created_at, 'YYYY-MM-DD\"T\"HH24:MI:SS.US'), 'NULL') || '|' || coalesce(tracking_id::text, 'NULL') || '|' || \
         coalesce(attrs::text, 'NULL') || '|' || coalesce(to_json(tags)::text, 'NULL') FROM tms.shipment",
    );
    let legs = psql(
        db,
        "SELECT 'shipment_leg|' || json_build_object('shipment_id', shipment_id, 'leg_no', leg_no)::text || '|' || shipment_id || '|' || leg_no || '|' || \
         origin || '|' || coalesce(destination, 'NULL') || '|' || coalesce(distance_km::text, 'NULL') FROM tms.shipment_leg",
    );
    let mut lines: Vec<String> = ship
        .lines()
        .chain(legs.lines())
        .map(|l| {
            l.replace("{\"id\" : ", "{\"id\":")
                .replace("{\"shipment_id\" : ", "{\"shipment_id\":")
                .replace(", \"leg_no\" : ", ",\"leg_no\":")
        })
        .collect();
    lines.sort();
    lines.join("\n")
}

fn write(dir: &std::path::Path, file: &str, text: &str) -> PathBuf {
    let p = dir.join(file);
    std::fs::write(&p, text).unwrap();
    p
}

struct Pipeline {
    db: String,
    prefix: String,
    worker: Worker,
    _dir: tempfile::TempDir,
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        self.worker.kill9();
        drop_source(&self.db, &self.prefix);
        delete_keys(&format!("{}.tms.*", self.prefix));
    }
}

fn pipeline(label: &str, rows: i64, extra: serde_json::Value) -> Pipeline {
    let db = create_source_db(label);
    psql(&db, &insert_sql(1, rows));
    let prefix = unique_name(label);
    let dir = tempfile::tempdir().unwrap();
    let src = write(
        dir.path(),
        "source.json",
        &source_connector(&format!("{prefix}-src"), &db, &prefix, &prefix),
    );
    let mut config = json!({
        "connector.class": "redis",
        "topics": topics(&prefix),
        "redis.address": redis_address(),
        "consumer.override.topic.metadata.refresh.interval.ms": "1000",
    });
    for (k, v) in extra.as_object().unwrap() {
        config[k] = v.clone();
    }
    let sink = write(
        dir.path(),
        "sink.json",
        &json!({"name": format!("{prefix}-sink"), "config": config}).to_string(),
    );
    let worker = Worker::start(dir.path(), "", &[src, sink]);
    Pipeline {
        db,
        prefix,
        worker,
        _dir: dir,
    }
}

fn assert_converges(p: &Pipeline, what: &str) {
    let mut last = (String::new(), String::new());
    let ok = eventually(Duration::from_secs(90), || {
        let src = source_dump(&p.db);
        let snk = redis_dump(&p.prefix);
        let same = src == snk && !src.is_empty();
        last = (src, snk);
        same
    });
    if !ok {
        let (src, snk) = last;
        let only_src: Vec<&str> = src.lines().filter(|l| !snk.contains(l)).take(5).collect();
        let only_snk: Vec<&str> = snk.lines().filter(|l| !src.contains(l)).take(5).collect();
        let status = p.worker.call("GET", "/connectors?expand=status", None).1;
        panic!(
            "{what}: Redis did not converge ({} source rows, {} keys)\nonly in source:\n{}\nonly in Redis:\n{}\nstatus: {status}\nlog tail:\n{}",
            src.lines().count(),
            snk.lines().count(),
            only_src.join("\n"),
            only_snk.join("\n"),
            p.worker.log_text().lines().rev().take(30).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    }
}

#[test]
fn postgres_to_redis_keys_equal_source_rows() {
    let p = pipeline("rds", 200, json!({}));
    assert_converges(&p, "snapshot");
    psql(&p.db, &insert_sql(201, 300));
    psql(&p.db, CHANGES);
    assert_converges(&p, "after the mixed workload");
    // a moved primary key leaves no key behind under the old id
    let old = redis_cli(&[
        "EXISTS",
        &format!("{}.tms.shipment:{{\"id\":11}}", p.prefix),
    ]);
    assert_eq!(old.trim(), "0");
    let moved = redis_cli(&[
        "EXISTS",
        &format!("{}.tms.shipment:{{\"id\":1000011}}", p.prefix),
    ]);
    assert_eq!(moved.trim(), "1");
}

#[test]
fn stream_mode_appends_every_change_event() {
    let p = pipeline(
        "rdsx",
        5,
        json!({"redis.mode": "stream", "redis.pipeline.enabled": "true"}),
    );
    let stream = format!("{}.tms.shipment", p.prefix);
    psql(
        &p.db,
        "UPDATE tms.shipment SET reference = 'changed' WHERE id = 1",
    );
    let ok = eventually(Duration::from_secs(60), || {
        redis_cli(&["XLEN", &stream])
            .trim()
            .parse::<i64>()
            .unwrap_or(0)
            >= 6
    });
    assert!(
        ok,
        "stream has {} entries; log:\n{}",
        redis_cli(&["XLEN", &stream]),
        p.worker.log_text()
    );
    let entries = redis_cli(&["XRANGE", &stream, "-", "+"]);
    // field = the record key, value = the whole change event
    assert!(entries.contains("{\"id\":1}"), "{entries}");
    assert!(
        entries.contains("\"op\":\"u\"") && entries.contains("changed"),
        "{entries}"
    );
    assert!(entries.contains("\"op\":\"r\""), "{entries}");
}
