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

use common::{diff, psql, rename_prefix};

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

/// Debezium's column options (`column.mask.with.N.chars`,
/// `column.mask.hash[.v2].<algorithm>.with.salt.<salt>` with MD5, SHA-1,
/// SHA-256, SHA-384 and SHA-512, `column.truncate.to.N.chars`,
/// `column.propagate.source.type`, `datatype.propagate.source.type`, and
/// their precedence) on text, varchar, char, enum, numeric, time and other
/// columns, snapshot and stream, NULLs, non-ASCII and long values, unchanged
/// TOAST values and a masked primary key: field schemas and values.
#[test]
fn golden_postgres_column_options_match_debezium_field_by_field() {
    golden_run("tests/fixtures/postgres/columns", "golden_columns", &[]);
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
