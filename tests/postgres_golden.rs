//! The golden comparison: the same workload that produced
//! `tests/fixtures/postgres/golden.jsonl` with the real Debezium 3.6.3 is run
//! through Velocity (real PostgreSQL, real broker, the `velocity` binary),
//! and every event is compared field by field. Volatile fields (timestamps,
//! LSNs, txId, sequence, version, xmin) are compared by type only.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use common::Worker;
use serde_json::{json, Value};

use common::{diff, psql, rename_prefix};

fn read_topics(topics: &[String], want: usize, timeout: Duration) -> Vec<Value> {
    let parse = |b: Option<Vec<u8>>| b.map_or(Value::Null, |b| serde_json::from_slice(&b).unwrap());
    common::read_records(topics, want, timeout)
        .into_iter()
        .map(|(t, k, v)| json!({"topic": t, "key": parse(k), "value": parse(v)}))
        .collect()
}

fn by_topic(events: &[Value]) -> BTreeMap<String, Vec<Value>> {
    let mut m: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for e in events {
        m.entry(e["topic"].as_str().unwrap().to_owned())
            .or_default()
            .push(e.clone());
    }
    m
}

#[test]
fn golden_postgres_events_match_debezium_field_by_field() {
    golden_run("tests/fixtures/postgres", "golden");
}

/// Arrays of every element type Debezium supports (`numeric[]` without
/// precision among them: arrays of optional VariableScaleDecimal structs).
#[test]
fn golden_postgres_arrays_match_debezium_field_by_field() {
    golden_run("tests/fixtures/postgres/arrays", "golden_arrays");
}

/// Debezium's column options (`column.mask.with.N.chars`,
/// `column.mask.hash[.v2].<algorithm>.with.salt.<salt>` with MD5, SHA-1,
/// SHA-256, SHA-384 and SHA-512, `column.truncate.to.N.chars`,
/// `column.propagate.source.type`, `datatype.propagate.source.type`, and
/// their precedence) on text, varchar, char, enum, numeric, time and other
/// columns, snapshot and stream, NULLs, non-ASCII and long values, unchanged
/// TOAST values and a masked primary key: field schemas and values.
#[test]
fn golden_postgres_column_options_match_debezium_field_by_field() {
    golden_run("tests/fixtures/postgres/columns", "golden_columns");
}

/// The connector options of a fixture folder's `connector.properties`
/// (`key=value` lines; `#` comments), which its capture appended to
/// Debezium's properties; none when there is no such file.
fn fixture_options(fixtures: &Path) -> Value {
    let Ok(text) = std::fs::read_to_string(fixtures.join("connector.properties")) else {
        return json!({});
    };
    let mut options = serde_json::Map::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        // Java's properties escapes would change the value: the fixtures use none
        assert!(!line.contains('\\'), "escape in {line}");
        let (k, v) = line.split_once('=').expect("key=value");
        options.insert(k.trim().to_owned(), json!(v.trim()));
    }
    Value::Object(options)
}

/// Runs the workload of `fixtures` (schema.sql, snapshot.sql, then
/// stream.sql once streaming; the connector options of its
/// connector.properties, if any) through Velocity and compares every event
/// with `fixtures/golden.jsonl`, which Debezium captured from database
/// `capture_db`.
fn golden_run(fixtures: &str, capture_db: &str) {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join(fixtures);
    let golden: Vec<Value> = std::fs::read_to_string(fixtures.join("golden.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let snapshot_count = golden
        .iter()
        .filter(|e| e["value"]["payload"]["op"] == "r")
        .count();
    let common::GoldenSource {
        db,
        prefix,
        slot,
        dir,
        conn,
    } = common::golden_source(&fixtures, "golden", fixture_options(&fixtures));
    let mut w = Worker::start(dir.path(), "", &[conn]);
    let topics: Vec<String> = by_topic(&golden)
        .keys()
        .map(|t| t.replacen("tms.", &format!("{prefix}."), 1))
        .collect();
    let snap = read_topics(&topics, snapshot_count, Duration::from_secs(90));
    assert_eq!(
        snap.len(),
        snapshot_count,
        "snapshot events; log:\n{}",
        w.log_text()
    );
    psql(&db, &["-f", fixtures.join("stream.sql").to_str().unwrap()]);
    let mut got = read_topics(&topics, golden.len(), Duration::from_secs(90));
    // nothing beyond the golden count arrives
    std::thread::sleep(Duration::from_secs(2));
    let extra = read_topics(&topics, golden.len() + 1, Duration::from_secs(3));
    w.stop();
    psql(
        "postgres",
        &["-c", &format!("SELECT pg_drop_replication_slot('{slot}')")],
    );
    psql("postgres", &["-c", &format!("DROP DATABASE {db}")]);
    for e in got.iter_mut() {
        rename_prefix(e, &prefix, "tms");
        // the database name is unique per run; Debezium's capture used "golden"
        if let Some(src) = e.pointer_mut("/value/payload/source") {
            src["db"] = json!(capture_db);
        }
    }
    let (got_t, want_t) = (by_topic(&got), by_topic(&golden));
    let mut diffs = Vec::new();
    for (topic, want) in &want_t {
        let empty = Vec::new();
        let g = got_t.get(topic).unwrap_or(&empty);
        if g.len() != want.len() {
            diffs.push(format!("{topic}: {} events, want {}", g.len(), want.len()));
        }
        for (i, (ge, we)) in g.iter().zip(want).enumerate() {
            diff(&format!("{topic}[{i}]"), ge, we, false, &mut diffs);
        }
    }
    assert!(
        extra.len() <= golden.len(),
        "more events than Debezium emitted: {}",
        extra.len()
    );
    if !diffs.is_empty() {
        let shown: Vec<&String> = diffs.iter().take(80).collect();
        panic!(
            "{} differences from Debezium's golden events (first 80):\n{}",
            diffs.len(),
            shown
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}
