//! The Avro golden comparison: the workload that produced
//! `tests/fixtures/postgres/golden-avro.jsonl` with the real Debezium 3.6.3 and
//! Confluent's AvroConverter 7.0 is run through Velocity (real PostgreSQL, real
//! broker, the `velocity` binary with `io.confluent.connect.avro.AvroConverter`
//! for keys and values, the test registry double in this process). Per
//! subject, the schema Velocity registered must equal the one Confluent's
//! converter registered (same JSON, same Avro parsing canonical form, same
//! text), and every record's bytes, decoded with the `apache-avro` library
//! (not Velocity's decoder) against the registered schema, must equal
//! Debezium's decoded the same way, volatile fields (timestamps, LSNs, txId,
//! sequence, version, xmin, database and prefix names) aside.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use common::{psql, Worker};
use serde_json::{json, Value};
use velocity_test_registry::TestRegistry;

const VOLATILE_ENVELOPE: &[&str] = &["ts_ms", "ts_us", "ts_ns"];
const VOLATILE_SOURCE: &[&str] = &[
    "ts_ms", "ts_us", "ts_ns", "lsn", "txId", "sequence", "version", "xmin",
];

/// topic → decoded (key, value) in order
type ByTopic = BTreeMap<String, Vec<(Option<Value>, Option<Value>)>>;

/// Decodes Confluent wire-format bytes with apache-avro against `schemas[id]`,
/// failing on a wrong magic byte, an unknown id or trailing bytes.
fn decode(bytes: &[u8], schemas: &BTreeMap<i32, apache_avro::Schema>) -> Value {
    assert!(
        bytes.len() >= 5 && bytes[0] == 0,
        "not Confluent wire format"
    );
    let id = i32::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]);
    let schema = schemas
        .get(&id)
        .unwrap_or_else(|| panic!("no schema with id {id}"));
    let mut body = &bytes[5..];
    let v = apache_avro::from_avro_datum(schema, &mut body, None).expect("decodes");
    assert!(
        body.is_empty(),
        "bytes left after the datum with schema id {id}"
    );
    to_json(v)
}

/// A decoded Avro value as JSON (unions unwrapped; bytes and decimals as byte arrays).
fn to_json(v: apache_avro::types::Value) -> Value {
    use apache_avro::types::Value as A;
    match v {
        A::Null => Value::Null,
        A::Boolean(b) => json!(b),
        A::Int(i) | A::Date(i) | A::TimeMillis(i) => json!(i),
        A::Long(i) | A::TimestampMillis(i) | A::TimestampMicros(i) | A::TimeMicros(i) => json!(i),
        // floats compared bit for bit (NaN included)
        A::Float(f) => json!({"float32_bits": f.to_bits()}),
        A::Double(f) => json!({"float64_bits": f.to_bits()}),
        A::String(s) | A::Enum(_, s) => json!(s),
        A::Bytes(b) | A::Fixed(_, b) => json!(b),
        A::Decimal(d) => json!(Vec::<u8>::try_from(&d).expect("decimal bytes")),
        A::Union(_, inner) => to_json(*inner),
        A::Array(items) => Value::Array(items.into_iter().map(to_json).collect()),
        A::Map(m) => Value::Object(m.into_iter().map(|(k, v)| (k, to_json(v))).collect()),
        A::Record(fields) => {
            Value::Object(fields.into_iter().map(|(k, v)| (k, to_json(v))).collect())
        }
        other => panic!("unexpected Avro value {other:?}"),
    }
}

fn mask(v: &mut Value) {
    if let Some(o) = v.as_object_mut() {
        for k in VOLATILE_ENVELOPE {
            if let Some(x) = o.get_mut(*k) {
                *x = json!(x.is_null());
            }
        }
        if let Some(Value::Object(src)) = o.get_mut("source") {
            for k in VOLATILE_SOURCE {
                if let Some(x) = src.get_mut(*k) {
                    *x = json!(x.is_null());
                }
            }
        }
    }
}

#[test]
fn golden_postgres_avro_schemas_and_bytes_match_confluent() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/postgres");
    let lines: Vec<Value> = std::fs::read_to_string(fixtures.join("golden-avro.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let golden_events: Vec<&Value> = lines.iter().filter(|l| l.get("topic").is_some()).collect();
    let mut golden_schemas: BTreeMap<String, String> = BTreeMap::new();
    let mut golden_by_id: BTreeMap<i32, apache_avro::Schema> = BTreeMap::new();
    for l in lines.iter().filter(|l| l.get("subject").is_some()) {
        let text = l["schema"].as_str().unwrap().to_owned();
        golden_by_id.insert(
            l["id"].as_i64().unwrap() as i32,
            velocity_converter_avro::parse::parse_schema(&text).expect("golden schema parses"),
        );
        golden_schemas.insert(l["subject"].as_str().unwrap().to_owned(), text);
    }
    let b64 = |v: &Value| {
        v.as_str()
            .map(|s| base64::engine::general_purpose::STANDARD.decode(s).unwrap())
    };
    let golden: Vec<(String, Option<Value>, Option<Value>)> = golden_events
        .iter()
        .map(|e| {
            (
                e["topic"].as_str().unwrap().to_owned(),
                b64(&e["key"]).map(|b| decode(&b, &golden_by_id)),
                b64(&e["value"]).map(|b| decode(&b, &golden_by_id)),
            )
        })
        .collect();
    let snapshot_count = golden
        .iter()
        .filter(|e| e.2.as_ref().is_some_and(|v| v["op"] == "r"))
        .count();
    assert_eq!(snapshot_count, 32, "the fixture's snapshot events");

    let registry = TestRegistry::start().expect("test registry");
    let common::GoldenSource {
        db,
        prefix,
        slot,
        dir,
        conn,
    } = common::golden_source(
        &fixtures,
        "golden_avro",
        json!({
            "key.converter": "io.confluent.connect.avro.AvroConverter",
            "key.converter.schema.registry.url": registry.url,
            "value.converter": "avro",
            "value.converter.schema.registry.url": registry.url,
        }),
    );
    let mut w = Worker::start(dir.path(), "", &[conn]);
    let (_, plugins) = w.call("GET", "/connector-plugins?connectorsOnly=false", None);
    assert!(
        plugins
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["class"] == "io.confluent.connect.avro.AvroConverter"
                && p["type"] == "converter"),
        "AvroConverter not listed: {plugins}"
    );
    let mut topics: Vec<String> = golden.iter().map(|e| e.0.clone()).collect();
    topics.sort();
    topics.dedup();
    let topics: Vec<String> = topics
        .iter()
        .map(|t| t.replacen("tms.", &format!("{prefix}."), 1))
        .collect();
    let snap = common::read_records(&topics, snapshot_count, Duration::from_secs(90));
    assert_eq!(
        snap.len(),
        snapshot_count,
        "snapshot events; log:\n{}",
        w.log_text()
    );
    psql(&db, &["-f", fixtures.join("stream.sql").to_str().unwrap()]);
    let got = common::read_records(&topics, golden.len(), Duration::from_secs(90));
    std::thread::sleep(Duration::from_secs(2));
    let extra = common::read_records(&topics, golden.len() + 1, Duration::from_secs(3));
    let requests_after_run = registry.requests();
    w.stop();
    psql(
        "postgres",
        &["-c", &format!("SELECT pg_drop_replication_slot('{slot}')")],
    );
    psql("postgres", &["-c", &format!("DROP DATABASE {db}")]);
    assert!(
        extra.len() <= golden.len(),
        "more events than Debezium emitted: {}",
        extra.len()
    );

    // 1. schemas, per subject
    let rename = |s: &str| s.replace(&format!("{prefix}."), "tms.");
    let mut ours_by_id: BTreeMap<i32, apache_avro::Schema> = BTreeMap::new();
    let mut ours: BTreeMap<String, String> = BTreeMap::new();
    let client = reqwest::blocking::Client::new();
    let subjects: Vec<String> = client
        .get(format!("{}/subjects", registry.url))
        .send()
        .unwrap()
        .json()
        .unwrap();
    for subject in &subjects {
        let versions: Vec<i64> = client
            .get(format!("{}/subjects/{subject}/versions", registry.url))
            .send()
            .unwrap()
            .json()
            .unwrap();
        assert_eq!(versions, vec![1], "{subject}: one version");
        let latest: Value = client
            .get(format!(
                "{}/subjects/{subject}/versions/latest",
                registry.url
            ))
            .send()
            .unwrap()
            .json()
            .unwrap();
        let text = latest["schema"].as_str().unwrap().to_owned();
        ours_by_id.insert(
            latest["id"].as_i64().unwrap() as i32,
            velocity_converter_avro::parse::parse_schema(&text).expect("Velocity's schema parses"),
        );
        ours.insert(rename(subject), rename(&text));
    }
    assert_eq!(
        ours.keys().collect::<Vec<_>>(),
        golden_schemas.keys().collect::<Vec<_>>(),
        "subjects"
    );
    let mut diffs = Vec::new();
    for (subject, want) in &golden_schemas {
        let got = &ours[subject];
        let (gj, wj): (Value, Value) = (
            serde_json::from_str(got).unwrap(),
            serde_json::from_str(want).unwrap(),
        );
        let (gc, wc) = (
            velocity_converter_avro::parse::parse_schema(got)
                .unwrap()
                .canonical_form(),
            velocity_converter_avro::parse::parse_schema(want)
                .unwrap()
                .canonical_form(),
        );
        if gc != wc {
            diffs.push(format!(
                "{subject}: parsing canonical form differs:\n got  {gc}\n want {wc}"
            ));
        }
        if gj != wj {
            diffs.push(format!(
                "{subject}: schema JSON differs:\n got  {got}\n want {want}"
            ));
        } else if got != want {
            diffs.push(format!(
                "{subject}: same JSON, different text:\n got  {got}\n want {want}"
            ));
        }
    }

    // 2. record bytes, decoded independently, per topic in order
    let mut got_t: ByTopic = BTreeMap::new();
    for (t, k, v) in &got {
        got_t.entry(rename(t)).or_default().push((
            k.as_ref().map(|b| decode(b, &ours_by_id)),
            v.as_ref().map(|b| decode(b, &ours_by_id)),
        ));
    }
    let mut want_t: ByTopic = BTreeMap::new();
    for (t, k, v) in &golden {
        want_t
            .entry(t.clone())
            .or_default()
            .push((k.clone(), v.clone()));
    }
    for (topic, want) in &want_t {
        let empty = Vec::new();
        let g = got_t.get(topic).unwrap_or(&empty);
        if g.len() != want.len() {
            diffs.push(format!("{topic}: {} events, want {}", g.len(), want.len()));
        }
        for (i, ((gk, gv), (wk, wv))) in g.iter().zip(want).enumerate() {
            if gk != wk {
                diffs.push(format!("{topic}[{i}] key: got {gk:?}, want {wk:?}"));
            }
            let (mut gv, mut wv) = (gv.clone(), wv.clone());
            if let Some(v) = gv.as_mut() {
                mask(v);
                // the prefix and database are unique per run; Debezium's were tms / golden_avro
                if let Some(Value::Object(src)) = v.get_mut("source") {
                    if src.get("name") == Some(&json!(prefix)) {
                        src.insert("name".into(), json!("tms"));
                    }
                    if src.get("db") == Some(&json!(db)) {
                        src.insert("db".into(), json!("golden_avro"));
                    }
                }
            }
            if let Some(v) = wv.as_mut() {
                mask(v);
            }
            if gv != wv {
                diffs.push(format!(
                    "{topic}[{i}] value:\n got  {}\n want {}",
                    gv.unwrap_or_default(),
                    wv.unwrap_or_default()
                ));
            }
        }
    }
    if !diffs.is_empty() {
        let shown: Vec<&String> = diffs.iter().take(40).collect();
        panic!(
            "{} differences from Confluent's AvroConverter output (first 40):\n{}",
            diffs.len(),
            shown
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    // ids cached both ways: one registration per subject, none per record
    assert!(
        requests_after_run <= golden_schemas.len() as u64 + 2,
        "registry requests during the run: {requests_after_run} for {} subjects and {} records",
        golden_schemas.len(),
        golden.len()
    );
}
