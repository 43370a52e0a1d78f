//! The golden comparison: the same workload that produced
//! `tests/fixtures/postgres/golden.jsonl` with the real Debezium 3.6.3 is run
//! through Velocity (real PostgreSQL, real broker, the `velocity` binary),
//! and every event is compared field by field. Volatile fields (timestamps,
//! LSNs, txId, sequence, version, xmin) are compared by type only. Each
//! fixture folder is one workload; its `connector.properties`, if any, holds
//! the connector keys the capture added (given to Velocity too).

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use common::Worker;
use serde_json::{json, Value};

use common::psql;

const VOLATILE_PAYLOAD: &[&str] = &["ts_ms", "ts_us", "ts_ns"];
const VOLATILE_SOURCE: &[&str] = &[
    "ts_ms", "ts_us", "ts_ns", "lsn", "txId", "sequence", "version", "xmin",
];

fn same_type(a: &Value, b: &Value) -> bool {
    matches!(
        (a, b),
        (Value::Null, Value::Null)
            | (Value::Number(_), Value::Number(_))
            | (Value::String(_), Value::String(_))
    )
}

/// Compares `got` with `want`, pushing one line per difference.
fn diff(path: &str, got: &Value, want: &Value, volatile: bool, out: &mut Vec<String>) {
    if volatile {
        if !same_type(got, want) {
            out.push(format!("{path}: type differs: got {got}, want {want}"));
        }
        return;
    }
    match (got, want) {
        (Value::Object(g), Value::Object(w)) => {
            let gk: Vec<&String> = g.keys().collect();
            let wk: Vec<&String> = w.keys().collect();
            if gk != wk {
                out.push(format!("{path}: keys differ: got {gk:?}, want {wk:?}"));
            }
            for (k, wv) in w {
                let Some(gv) = g.get(k) else { continue };
                let p = format!("{path}.{k}");
                let vol = (path.ends_with("value.payload")
                    && VOLATILE_PAYLOAD.contains(&k.as_str()))
                    || (path.ends_with("payload.source") && VOLATILE_SOURCE.contains(&k.as_str()));
                diff(&p, gv, wv, vol, out);
            }
        }
        (Value::Array(g), Value::Array(w)) => {
            if g.len() != w.len() {
                out.push(format!("{path}: array length {} vs {}", g.len(), w.len()));
            }
            for (i, (gv, wv)) in g.iter().zip(w).enumerate() {
                diff(&format!("{path}[{i}]"), gv, wv, false, out);
            }
        }
        (Value::Number(g), Value::Number(w)) if g.is_f64() || w.is_f64() => {
            // The golden file was written by Java 17, whose Float.toString
            // prints non-shortest digits for some floats (1.17549435E-38);
            // JDK 19+ (and Velocity) print the shortest (1.1754944E-38).
            // Both denote the same float32, so float32 equality is accepted
            // when the decimal texts differ.
            let (g, w) = (g.as_f64().unwrap(), w.as_f64().unwrap());
            if g != w && (g as f32) != (w as f32) {
                out.push(format!("{path}: got {g}, want {w}"));
            }
        }
        _ => {
            if got != want {
                out.push(format!("{path}: got {got}, want {want}"));
            }
        }
    }
}

/// Renames the topic prefix `from` → `to` in topics, schema names and source.name.
fn rename_prefix(v: &mut Value, from: &str, to: &str) {
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                if let Value::String(s) = x {
                    if (k == "name" || k == "topic") && s.starts_with(&format!("{from}.")) {
                        *s = format!("{to}{}", &s[from.len()..]);
                    } else if k == "name" && s == from {
                        *s = to.to_owned();
                    }
                } else {
                    rename_prefix(x, from, to);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| rename_prefix(x, from, to)),
        _ => {}
    }
}

fn read_topics(topics: &[String], want: usize, timeout: Duration) -> Vec<Value> {
    let parse = |b: Option<Vec<u8>>| b.map_or(Value::Null, |b| serde_json::from_slice(&b).unwrap());
    common::read_records(topics, want, timeout)
        .into_iter()
        .map(|(t, k, v)| json!({"topic": t, "key": parse(k), "value": parse(v)}))
        .collect()
}

/// Waits until every topic of `topics` exists (listing all topics: asking
/// for one by name could create it).
fn wait_for_topics(topics: &[String], timeout: Duration) {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let client: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", common::kafka_bootstrap())
        .create()
        .unwrap();
    common::wait_until(timeout, "the golden topics to exist", || {
        client
            .fetch_metadata(None, Duration::from_secs(5))
            .is_ok_and(|md| {
                topics.iter().all(|t| {
                    md.topics()
                        .iter()
                        .any(|m| m.name() == t && m.error().is_none() && !m.partitions().is_empty())
                })
            })
    });
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
    golden_run("tests/fixtures/postgres", "golden", &[]);
}

/// Arrays of every element type Debezium supports (`numeric[]` without
/// precision among them: arrays of optional VariableScaleDecimal structs).
#[test]
fn golden_postgres_arrays_match_debezium_field_by_field() {
    golden_run("tests/fixtures/postgres/arrays", "golden_arrays", &[]);
}

/// Logical decoding messages (`pg_logical_emit_message`), transactional
/// and not, inside and outside transactions, binary and empty contents,
/// with `message.prefix.include.list` dropping the prefix `tms.debug`:
/// topic `<prefix>.message`, key, value and source block as Debezium's.
#[test]
fn golden_postgres_logical_decoding_messages_match_debezium_field_by_field() {
    golden_run("tests/fixtures/postgres/messages", "golden_messages", &[]);
}

/// A table partitioned in two, `publish.via.partition.root=true`: the
/// snapshot rows and the streamed inserts, updates (one moving a row to the
/// other partition) and deletes land on the root table's topic, as
/// Debezium's. The one deliberate difference: Debezium's snapshot also
/// reads the partitions (`schema.include.list` matches them) and writes
/// their rows again on the partitions' topics, which never get a streamed
/// change; Velocity reads the root only, so those topics stay empty.
#[test]
fn golden_postgres_partitioned_table_via_root_matches_debezium_field_by_field() {
    golden_run(
        "tests/fixtures/postgres/partitioned",
        "golden_partitioned",
        &["tms.tms.reading_north", "tms.tms.reading_south"],
    );
}

/// Unchanged TOASTed columns of every kind Debezium substitutes (text,
/// varchar, bytea, text/int/bigint/date/uuid arrays, hstore, jsonb, json)
/// with `unavailable.value.placeholder=toast-not-sent`.
#[test]
fn golden_postgres_unchanged_toast_with_a_custom_placeholder_matches_debezium_field_by_field() {
    golden_run("tests/fixtures/postgres/toast", "golden_toast", &[]);
}

/// The connector keys of `fixtures/connector.properties` (`key=value`
/// lines; `#` comments), as JSON config entries.
fn fixture_properties(fixtures: &Path) -> Value {
    let mut extra = serde_json::Map::new();
    if let Ok(text) = std::fs::read_to_string(fixtures.join("connector.properties")) {
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (k, v) = line.split_once('=').expect("key=value");
            extra.insert(k.trim().to_owned(), json!(v.trim()));
        }
    }
    Value::Object(extra)
}

/// Runs the workload of `fixtures` (schema.sql, snapshot.sql, then
/// stream.sql once streaming) through Velocity and compares every event
/// with `fixtures/golden.jsonl`, which Debezium captured from database
/// `capture_db`. `unlike_debezium`: topics of the capture Velocity
/// deliberately leaves empty (checked to be).
fn golden_run(fixtures: &str, capture_db: &str, unlike_debezium: &[&str]) {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join(fixtures);
    let golden: Vec<Value> = std::fs::read_to_string(fixtures.join("golden.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| !unlike_debezium.contains(&e["topic"].as_str().unwrap()))
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
    } = common::golden_source(&fixtures, "golden", fixture_properties(&fixtures));
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
    // a topic the stream creates (no snapshot event: <prefix>.message) must
    // exist before the reader subscribes: one created later rebalances the
    // group, which then reads the other topics again from the start
    wait_for_topics(&topics, Duration::from_secs(90));
    let mut got = read_topics(&topics, golden.len(), Duration::from_secs(90));
    // nothing beyond the golden count arrives, on these topics or on those
    // Velocity leaves empty
    std::thread::sleep(Duration::from_secs(2));
    let mut all_topics = topics.clone();
    all_topics.extend(
        unlike_debezium
            .iter()
            .map(|t| t.replacen("tms.", &format!("{prefix}."), 1)),
    );
    let extra = read_topics(&all_topics, golden.len() + 1, Duration::from_secs(3));
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
        // what Velocity emitted, for a look beside golden.jsonl
        let dump = std::env::temp_dir().join(format!("{prefix}.jsonl"));
        let lines: Vec<String> = got.iter().map(Value::to_string).collect();
        std::fs::write(&dump, lines.join("\n")).unwrap();
        let shown: Vec<&String> = diffs.iter().take(80).collect();
        panic!(
            "{} differences from Debezium's golden events (Velocity's in {}; first 80):\n{}",
            diffs.len(),
            dump.display(),
            shown
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}
