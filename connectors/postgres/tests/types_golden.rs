//! Golden test of the PostgreSQL type mapping against real Debezium 3.6.3
//! output (`tests/fixtures/postgres`).
//!
//! Creates a fresh database on the PostgreSQL started by
//! `scripts/services.sh up`, loads the fixture schema and snapshot rows, and
//! for every table compares
//!
//! 1. the Connect schema of every column (rendered the way Kafka's
//!    JsonConverter writes schemas) with the golden `after` field schemas;
//! 2. every snapshot row (read as text, decoded with `Phase::Snapshot`)
//!    with the golden `r` events, matched by key;
//! 3. after running `stream.sql`, every row whose last golden event is a
//!    streamed insert/update (decoded with `Phase::Stream`) with that event;
//! 4. the `before` image of DEFAULT-identity deletes (key columns plus
//!    `zero_value()` of the others) with the golden `d` events;
//!
//! and does the same for the arrays of `arrays/golden.jsonl` and for
//! `tms.all_types` with the non-default handling modes of
//! `golden-modes.jsonl`. All mismatches are listed, then the test
//! fails if there was any. The database is dropped at the end.
//!
//! Connection: `VELOCITY_PG_HOST` / `VELOCITY_PG_PORT` (default
//! 127.0.0.1:55432) and a superuser (it creates a database and extensions):
//! `VELOCITY_PG_SUPERUSER` / `VELOCITY_PG_SUPERUSER_PASSWORD`, default
//! postgres/postgres. Fails when the server is unreachable (start it with
//! `scripts/services.sh up`).

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use base64::Engine as _;
use serde_json::{json, Map, Value as Json};
use tokio_postgres::{Client, NoTls, SimpleQueryMessage};
use velocity_api::{Schema, Value};
use velocity_connector_postgres::catalog::{self, ReplicaIdentity, Table};
use velocity_connector_postgres::types::{
    map_column, BinaryMode, ColumnMapping, DecimalMode, HstoreMode, IntervalMode, Phase,
    TimePrecisionMode, TypeModes,
};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/postgres")
}

fn env_or(key: &str, default: &str) -> String {
    std::env::var(key).unwrap_or_else(|_| default.to_string())
}

fn conn_string(db: &str) -> String {
    format!(
        "host={} port={} user={} password={} dbname={}",
        env_or("VELOCITY_PG_HOST", "127.0.0.1"),
        env_or("VELOCITY_PG_PORT", "55432"),
        env_or("VELOCITY_PG_SUPERUSER", "postgres"),
        env_or("VELOCITY_PG_SUPERUSER_PASSWORD", "postgres"),
        db
    )
}

async fn connect(db: &str) -> Result<Client, tokio_postgres::Error> {
    let (client, conn) = tokio_postgres::connect(&conn_string(db), NoTls).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(client)
}

/// A fixture SQL file without psql meta-commands.
fn sql_file(name: &str) -> String {
    let text = std::fs::read_to_string(fixtures().join(name)).expect("fixture file");
    text.lines()
        .filter(|l| !l.trim_start().starts_with('\\'))
        .collect::<Vec<_>>()
        .join("\n")
}

fn golden(name: &str) -> Vec<Json> {
    let text = std::fs::read_to_string(fixtures().join(name)).expect("golden file");
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("golden line is JSON"))
        .collect()
}

// ---------------------------------------------------------------------------
// Kafka JsonConverter renderings
// ---------------------------------------------------------------------------

/// A schema as JsonConverter writes it (`asJsonSchema`).
fn schema_json(s: &Schema) -> Json {
    let mut m = Map::new();
    m.insert("type".into(), json!(s.type_.name()));
    if !s.fields.is_empty() || s.type_ == velocity_api::Type::Struct {
        let fields: Vec<Json> = s
            .fields
            .iter()
            .map(|f| {
                let mut j = schema_json(&f.schema);
                if let Json::Object(o) = &mut j {
                    o.insert("field".into(), json!(f.name));
                }
                j
            })
            .collect();
        m.insert("fields".into(), Json::Array(fields));
    }
    if s.type_ == velocity_api::Type::Array {
        if let Some(v) = &s.value_schema {
            m.insert("items".into(), schema_json(v));
        }
    }
    if s.type_ == velocity_api::Type::Map {
        if let Some(k) = &s.key_schema {
            m.insert("keys".into(), schema_json(k));
        }
        if let Some(v) = &s.value_schema {
            m.insert("values".into(), schema_json(v));
        }
    }
    m.insert("optional".into(), json!(s.optional));
    if let Some(n) = &s.name {
        m.insert("name".into(), json!(n));
    }
    if let Some(v) = s.version {
        m.insert("version".into(), json!(v));
    }
    if let Some(d) = &s.doc {
        m.insert("doc".into(), json!(d));
    }
    if let Some(p) = &s.parameters {
        let params: Map<String, Json> = p.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
        m.insert("parameters".into(), Json::Object(params));
    }
    if let Some(d) = &s.default {
        m.insert("default".into(), value_json(d, s));
    }
    Json::Object(m)
}

fn float_json(f: f64, text: String) -> Json {
    if f.is_nan() {
        json!("NaN")
    } else if f.is_infinite() {
        json!(if f > 0.0 { "Infinity" } else { "-Infinity" })
    } else {
        // Through the shortest decimal text, as Jackson prints a float.
        text.parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or(Json::Null, Json::Number)
    }
}

/// A value as JsonConverter writes it (null replaced by the default).
fn value_json(v: &Value, s: &Schema) -> Json {
    match v {
        Value::Null => match &s.default {
            Some(d) => value_json(d, s),
            None => Json::Null,
        },
        Value::Int8(i) => json!(i),
        Value::Int16(i) => json!(i),
        Value::Int32(i) => json!(i),
        Value::Int64(i) => json!(i),
        Value::Float32(f) => float_json(f64::from(*f), format!("{f}")),
        Value::Float64(f) => float_json(*f, format!("{f}")),
        Value::Boolean(b) => json!(b),
        Value::String(t) => json!(t),
        Value::Bytes(b) => json!(base64::engine::general_purpose::STANDARD.encode(b)),
        Value::Array(items) => {
            let elem = s.value_schema.clone();
            Json::Array(
                items
                    .iter()
                    .map(|i| match &elem {
                        Some(e) => value_json(i, e),
                        None => Json::Null,
                    })
                    .collect(),
            )
        }
        Value::Map(entries) => {
            let ks = s.key_schema.clone();
            let vs = s.value_schema.clone();
            let (Some(ks), Some(vs)) = (ks, vs) else {
                return Json::Null;
            };
            if ks.type_ == velocity_api::Type::String {
                let m: Map<String, Json> = entries
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.as_str().unwrap_or_default().to_string(),
                            value_json(v, &vs),
                        )
                    })
                    .collect();
                Json::Object(m)
            } else {
                Json::Array(
                    entries
                        .iter()
                        .map(|(k, v)| json!([value_json(k, &ks), value_json(v, &vs)]))
                        .collect(),
                )
            }
        }
        Value::Struct(st) => {
            let m: Map<String, Json> = s
                .fields
                .iter()
                .map(|f| (f.name.clone(), value_json(&st.values[f.index], &f.schema)))
                .collect();
            Json::Object(m)
        }
    }
}

// ---------------------------------------------------------------------------
// The comparison
// ---------------------------------------------------------------------------

struct Mapped {
    table: Table,
    /// Per column (in column order): the mapping, or None if unsupported.
    mappings: Vec<Option<ColumnMapping>>,
}

fn after_fields(event: &Json) -> Option<&Vec<Json>> {
    event["value"]["schema"]["fields"]
        .as_array()?
        .iter()
        .find(|f| f["field"] == "after")?["fields"]
        .as_array()
}

fn key_of(row: &Json, key_cols: &[String]) -> String {
    if key_cols.is_empty() {
        return row.to_string();
    }
    let parts: Vec<String> = key_cols.iter().map(|k| row[k].to_string()).collect();
    parts.join("|")
}

async fn read_rows(
    client: &Client,
    m: &Mapped,
    phase: Phase,
    mismatches: &mut Vec<String>,
) -> Vec<Json> {
    let t = &m.table;
    let order: Vec<String> = if t.primary_key.is_empty() {
        (1..=t.columns.len()).map(|i| i.to_string()).collect()
    } else {
        t.primary_key.iter().map(|c| format!("\"{c}\"")).collect()
    };
    let sql = format!(
        "SELECT * FROM \"{}\".\"{}\" ORDER BY {}",
        t.schema,
        t.name,
        order.join(", ")
    );
    let msgs = client.simple_query(&sql).await.expect("select rows");
    let mut rows = Vec::new();
    for msg in msgs {
        let SimpleQueryMessage::Row(row) = msg else {
            continue;
        };
        let mut obj = Map::new();
        for (i, col) in t.columns.iter().enumerate() {
            let Some(mapping) = &m.mappings[i] else {
                continue;
            };
            let v = match row.get(i) {
                None => Value::Null,
                Some(text) => match mapping.decode(text.as_bytes(), phase) {
                    Ok(v) => v,
                    Err(e) => {
                        mismatches.push(format!("{}.{}: decode error {e}", t.name, col.name));
                        Value::Null
                    }
                },
            };
            obj.insert(col.name.clone(), value_json(&v, &mapping.schema));
        }
        rows.push(Json::Object(obj));
    }
    rows
}

async fn check(
    client: &Client,
    events: &[Json],
    modes: &TypeModes,
    only: Option<&str>,
    mismatches: &mut Vec<String>,
    matched_columns: &mut usize,
) -> HashMap<String, Mapped> {
    let tables = catalog::list_tables(client).await.expect("list tables");
    let oids: Vec<u32> = tables
        .iter()
        .filter(|(_, s, n)| s == "tms" && only.is_none_or(|o| o == n))
        .map(|(o, _, _)| *o)
        .collect();
    let loaded = catalog::load_tables(client, &oids)
        .await
        .expect("load tables");
    let mut out = HashMap::new();
    for table in loaded {
        let topic = format!("tms.{}.{}", table.schema, table.name);
        let mappings: Vec<Option<ColumnMapping>> =
            table.columns.iter().map(|c| map_column(c, modes)).collect();
        let m = Mapped { table, mappings };
        let t = &m.table;

        // 1. Schemas.
        let Some(first) = events
            .iter()
            .find(|e| e["topic"] == topic.as_str() && !e["value"].is_null())
        else {
            mismatches.push(format!("{topic}: no golden event"));
            continue;
        };
        // Key columns, in key-schema order (null key: no key columns).
        let golden_key: Vec<String> = events
            .iter()
            .find(|e| e["topic"] == topic.as_str() && !e["key"].is_null())
            .and_then(|e| e["key"]["schema"]["fields"].as_array().cloned())
            .unwrap_or_default()
            .iter()
            .filter_map(|f| f["field"].as_str().map(String::from))
            .collect();
        if golden_key != t.primary_key {
            mismatches.push(format!(
                "{}: key {:?}, golden {golden_key:?}",
                t.name, t.primary_key
            ));
        }
        // load_type resolves every column type the same way load_tables does.
        for c in &t.columns {
            match catalog::load_type(client, c.pg_type.oid).await {
                Ok(ty) if ty == c.pg_type => {}
                other => {
                    mismatches.push(format!("{}.{}: load_type gave {other:?}", t.name, c.name))
                }
            }
        }
        let golden_fields = after_fields(first).cloned().unwrap_or_default();
        let mut mine = Vec::new();
        for (i, c) in t.columns.iter().enumerate() {
            match &m.mappings[i] {
                Some(mp) => {
                    let mut j = schema_json(&mp.schema);
                    if let Json::Object(o) = &mut j {
                        o.insert("field".into(), json!(c.name));
                    }
                    mine.push(j);
                }
                None => mismatches.push(format!(
                    "{}.{}: type {} unsupported",
                    t.name, c.name, c.pg_type.name
                )),
            }
        }
        for g in &golden_fields {
            let name = g["field"].as_str().unwrap_or_default();
            match mine.iter().find(|f| f["field"] == name) {
                Some(f) if f == g => *matched_columns += 1,
                Some(f) => mismatches.push(format!(
                    "{}.{name}: schema\n   golden {g}\n   mine   {f}",
                    t.name
                )),
                None => mismatches.push(format!("{}.{name}: column missing", t.name)),
            }
        }
        if golden_fields.len() != mine.len() {
            mismatches.push(format!(
                "{}: {} golden fields, {} mine",
                t.name,
                golden_fields.len(),
                mine.len()
            ));
        }

        // 2. Snapshot rows.
        let rows = read_rows(client, &m, Phase::Snapshot, mismatches).await;
        let by_key: BTreeMap<String, &Json> = rows
            .iter()
            .map(|r| (key_of(r, &t.primary_key), r))
            .collect();
        for e in events
            .iter()
            .filter(|e| e["topic"] == topic.as_str() && e["value"]["payload"]["op"] == "r")
        {
            let after = &e["value"]["payload"]["after"];
            compare_row(
                t,
                after,
                by_key.get(&key_of(after, &t.primary_key)).copied(),
                "r",
                mismatches,
            );
        }
        out.insert(t.name.clone(), m);
    }
    out
}

fn compare_row(
    t: &Table,
    golden: &Json,
    mine: Option<&Json>,
    what: &str,
    mismatches: &mut Vec<String>,
) {
    let Some(mine) = mine else {
        mismatches.push(format!("{} {what}: no row for golden {golden}", t.name));
        return;
    };
    let Some(g) = golden.as_object() else { return };
    for (col, gv) in g {
        if &mine[col] != gv && !same_float32(gv, &mine[col]) {
            mismatches.push(format!(
                "{}.{col} {what} key {}: golden {gv} mine {}",
                t.name,
                key_of(golden, &t.primary_key),
                mine[col]
            ));
        }
    }
}

/// Kafka (Java 17) prints a float32 with `Float.toString`, which is not
/// always the shortest representation (`1.17549435E-38`); the value is the
/// same f32, so compare at f32 precision.
fn same_float32(a: &Json, b: &Json) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) if !(a.is_i64() && b.is_i64()) => (x as f32) == (y as f32),
        _ => false,
    }
}

async fn check_stream(
    client: &Client,
    events: &[Json],
    mapped: &HashMap<String, Mapped>,
    mismatches: &mut Vec<String>,
) {
    for m in mapped.values() {
        let t = &m.table;
        let topic = format!("tms.{}.{}", t.schema, t.name);
        // Without a key, rows cannot be matched to their last event (an
        // update changes the whole-row identity); the snapshot check covers
        // their values.
        let keyless = t.primary_key.is_empty();
        // Last event per key; compare keys whose last event is c/u.
        let mut last: BTreeMap<String, &Json> = BTreeMap::new();
        for e in events
            .iter()
            .filter(|e| e["topic"] == topic.as_str() && !e["value"].is_null())
        {
            let p = &e["value"]["payload"];
            let row = if p["op"] == "d" {
                &p["before"]
            } else {
                &p["after"]
            };
            let k = key_of(row, &t.primary_key);
            last.insert(k, e);
            // 4. DEFAULT-identity delete before images.
            if p["op"] == "d" && t.replica_identity == ReplicaIdentity::Default {
                let mut before = Map::new();
                for (i, c) in t.columns.iter().enumerate() {
                    let Some(mp) = &m.mappings[i] else { continue };
                    let v = if t.primary_key.contains(&c.name) {
                        p["before"][&c.name].clone()
                    } else {
                        value_json(&mp.zero_value(), &mp.schema)
                    };
                    before.insert(c.name.clone(), v);
                }
                compare_row(
                    t,
                    &p["before"],
                    Some(&Json::Object(before)),
                    "d-before",
                    mismatches,
                );
            }
        }
        let rows = read_rows(client, m, Phase::Stream, mismatches).await;
        let by_key: BTreeMap<String, &Json> = rows
            .iter()
            .map(|r| (key_of(r, &t.primary_key), r))
            .collect();
        for (k, e) in &last {
            let p = &e["value"]["payload"];
            if keyless || (p["op"] != "c" && p["op"] != "u") {
                continue;
            }
            let mut golden = p["after"].clone();
            let mine = by_key.get(k).map(|r| {
                let mut r = (*r).clone();
                // Unchanged TOAST: the golden shows the placeholder.
                if let Some(obj) = golden.as_object_mut() {
                    for (i, c) in t.columns.iter().enumerate() {
                        if obj.get(&c.name) == Some(&json!("__debezium_unavailable_value")) {
                            if let Some(mp) = &m.mappings[i] {
                                r[&c.name] = value_json(
                                    &mp.unavailable_value(&Default::default()),
                                    &mp.schema,
                                );
                            }
                        }
                    }
                }
                r
            });
            compare_row(t, &golden, mine.as_ref(), "stream", mismatches);
        }
    }
}

#[tokio::test]
async fn types_match_debezium_golden() {
    let admin = connect("postgres").await.unwrap_or_else(|e| {
        panic!("PostgreSQL unreachable ({e}): start the test services with scripts/services.sh up")
    });
    let db = format!(
        "velocity_types_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0)
    );
    let mut mismatches = Vec::new();
    let mut matched = 0usize;
    for (dir, golden_file, modes, only) in [
        ("", "golden.jsonl", TypeModes::default(), None),
        // arrays of every element type Debezium supports
        ("arrays/", "golden.jsonl", TypeModes::default(), None),
        (
            "",
            "golden-modes.jsonl",
            TypeModes {
                decimal: DecimalMode::String,
                time: TimePrecisionMode::Connect,
                binary: BinaryMode::Base64,
                hstore: HstoreMode::Json,
                interval: IntervalMode::String,
                money_fraction_digits: 2,
            },
            Some("all_types"),
        ),
    ] {
        admin
            .batch_execute(&format!("CREATE DATABASE {db}"))
            .await
            .expect("create database");
        let result = async {
            let client = connect(&db).await.expect("connect to test database");
            client
                .batch_execute(&sql_file(&format!("{dir}schema.sql")))
                .await
                .expect("schema.sql");
            client
                .batch_execute(&sql_file(&format!("{dir}snapshot.sql")))
                .await
                .expect("snapshot.sql");
            let events = golden(&format!("{dir}{golden_file}"));
            let before = mismatches.len();
            let mapped = check(
                &client,
                &events,
                &modes,
                only,
                &mut mismatches,
                &mut matched,
            )
            .await;
            client
                .batch_execute(&sql_file(&format!("{dir}stream.sql")))
                .await
                .expect("stream.sql");
            check_stream(&client, &events, &mapped, &mut mismatches).await;
            eprintln!(
                "{dir}{golden_file}: {} mismatches",
                mismatches.len() - before
            );
        };
        result.await;
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
            .await
            .expect("drop database");
    }
    eprintln!("{matched} golden column schemas matched");
    for m in &mismatches {
        eprintln!("MISMATCH {m}");
    }
    assert!(mismatches.is_empty(), "{} mismatches", mismatches.len());
}
