//! Materializing sink vs JDBC sink into PostgreSQL, same run, same events:
//! N shipment domain events (`{type, data: {id, reference, customer, status,
//! weight, stops: [2], items: [2]}}`), each written by the materializing
//! sink as ONE object across three tables (`shipment` upsert, and the
//! `shipment_stop` and `load_item` child rows replaced per shipment: 5 rows
//! per event), and, as the baseline, the same shipments as flat records
//! through the JDBC sink (`insert.mode=upsert`) into one table (1 row per
//! event). Both get `put` in polls of 500 and a `flush`, with batch.size
//! 1000, after a warm-up that stores every other shipment (so the measured
//! run mixes inserts and updates). Prints events/s and rows/s of each and
//! the ratios.
//!
//! Run: `bench/materialize/run.sh [EVENTS]` (default 50,000). Needs the
//! PostgreSQL of `scripts/services.sh` (database `sink`); no broker: the
//! records are pre-built, so this measures the sinks, not Kafka.

use std::sync::Arc;
use std::time::Instant;

use velocity_api::{
    ConnectRecord, RawConfig, Schema, SinkRecord, SinkTask, Struct, TaskContext, Value,
};
use velocity_connector_jdbc::JdbcSinkTask;
use velocity_connector_materialize::MaterializeSinkTask;

fn env(k: &str, d: &str) -> String {
    std::env::var(k).unwrap_or_else(|_| d.to_owned())
}

fn ctx() -> TaskContext {
    struct NoOffsets;
    impl velocity_api::OffsetReader for NoOffsets {
        fn offset(&self, _p: &velocity_api::Partition) -> Option<velocity_api::Offset> {
            None
        }
    }
    TaskContext {
        connector: "bench".into(),
        task_id: 0,
        offsets: Arc::new(NoOffsets),
    }
}

fn s(x: impl Into<String>) -> Value {
    Value::String(x.into())
}

fn map(pairs: Vec<(&str, Value)>) -> Value {
    Value::Map(pairs.into_iter().map(|(k, v)| (s(k), v)).collect())
}

fn status(id: i64, round: i64) -> String {
    ["planned", "dispatched", "in_transit", "delivered"][((id + round) % 4) as usize].to_owned()
}

/// `n` domain events (schemaless, as the domain Map emits them).
fn domain_events(n: i64, round: i64) -> Vec<SinkRecord> {
    (1..=n)
        .map(|id| {
            let stops = (1..=2)
                .map(|q| {
                    map(vec![
                        ("seq", Value::Int64(q)),
                        ("city", s(format!("city-{}", (id + q + round) % 50))),
                    ])
                })
                .collect();
            let items = (1..=2)
                .map(|q| {
                    map(vec![
                        ("itemId", s(format!("HU-{id}-{q}"))),
                        ("description", s(format!("pallet {q} r{round}"))),
                    ])
                })
                .collect();
            let data = map(vec![
                ("id", Value::Int64(id)),
                ("reference", s(format!("SHP-{id}"))),
                ("customer", s(format!("C{}", id % 97))),
                ("status", s(status(id, round))),
                ("weight", s(format!("{}.{:02}", id % 1000, round))),
                ("stops", Value::Array(stops)),
                ("items", Value::Array(items)),
            ]);
            let mut r = ConnectRecord::new(
                "shipments",
                None,
                Value::Int64(id),
                None,
                map(vec![("type", s("ShipmentUpdated")), ("data", data)]),
            );
            r.partition = Some(0);
            SinkRecord {
                record: r,
                kafka_offset: id - 1,
            }
        })
        .collect()
}

/// The same shipments as flat records with a schema, for the JDBC sink.
fn flat_records(n: i64, round: i64) -> Vec<SinkRecord> {
    let ks = Schema::struct_()
        .named("bench.shipment.Key")
        .field("id", Schema::int64())
        .build();
    let vs = Schema::struct_()
        .named("bench.shipment.Value")
        .field("id", Schema::int64())
        .field("reference", Schema::string())
        .field("customer", Schema::string())
        .field("status", Schema::string())
        .field("weight", Schema::string())
        .build();
    (1..=n)
        .map(|id| {
            let key = Value::Struct(Struct::new(ks.clone()).put("id", id));
            let value = Value::Struct(
                Struct::new(vs.clone())
                    .put("id", id)
                    .put("reference", format!("SHP-{id}"))
                    .put("customer", format!("C{}", id % 97))
                    .put("status", status(id, round))
                    .put("weight", format!("{}.{:02}", id % 1000, round)),
            );
            let mut r =
                ConnectRecord::new("shipments", Some(ks.clone()), key, Some(vs.clone()), value);
            r.partition = Some(0);
            SinkRecord {
                record: r,
                kafka_offset: id - 1,
            }
        })
        .collect()
}

fn credentials() -> Vec<(String, String)> {
    vec![
        (
            "connection.url".into(),
            format!(
                "jdbc:postgresql://{}:{}/{}",
                env("VELOCITY_PG_HOST", "127.0.0.1"),
                env("VELOCITY_PG_PORT", "55432"),
                env("VELOCITY_PG_SINK_DB", "sink")
            ),
        ),
        (
            "connection.username".into(),
            env("VELOCITY_PG_USER", "velocity"),
        ),
        (
            "connection.password".into(),
            env("VELOCITY_PG_PASSWORD", "velocity"),
        ),
        ("batch.size".into(), "1000".into()),
    ]
}

fn materialize_config(p: &str) -> RawConfig {
    let mut c: RawConfig = credentials().into_iter().collect();
    for (k, v) in [
        ("materialize.tables", "ship,stop,item".to_owned()),
        ("materialize.ship.table", format!("{p}_shipment")),
        (
            "materialize.ship.columns",
            "id,reference,customer,status,weight".into(),
        ),
        ("materialize.ship.key", "id".into()),
        ("materialize.stop.table", format!("{p}_shipment_stop")),
        ("materialize.stop.mode", "replace".into()),
        ("materialize.stop.rows", "data.stops".into()),
        ("materialize.stop.columns", "shipment_id,seq,city".into()),
        ("materialize.stop.column.shipment_id", "data.id".into()),
        ("materialize.stop.column.seq", "item.seq".into()),
        ("materialize.stop.column.city", "item.city".into()),
        ("materialize.stop.parent.key", "shipment_id".into()),
        ("materialize.item.table", format!("{p}_load_item")),
        ("materialize.item.mode", "replace".into()),
        ("materialize.item.rows", "data.items".into()),
        (
            "materialize.item.columns",
            "shipment_id,item_id,description".into(),
        ),
        ("materialize.item.column.shipment_id", "data.id".into()),
        ("materialize.item.column.item_id", "item.itemId".into()),
        (
            "materialize.item.column.description",
            "item.description".into(),
        ),
        ("materialize.item.parent.key", "shipment_id".into()),
    ] {
        c.insert(k.to_owned(), v);
    }
    c
}

fn jdbc_config(p: &str) -> RawConfig {
    let mut c: RawConfig = credentials().into_iter().collect();
    for (k, v) in [
        ("insert.mode", "upsert".to_owned()),
        ("primary.key.mode", "record_key".into()),
        ("schema.evolution", "none".into()),
        ("table.name.format", format!("{p}_jdbc_shipment")),
    ] {
        c.insert(k.to_owned(), v);
    }
    c
}

async fn drive(
    task: &mut dyn SinkTask,
    cfg: &RawConfig,
    warm: Vec<SinkRecord>,
    recs: Vec<SinkRecord>,
) -> f64 {
    task.start(cfg, ctx()).await.expect("start");
    for chunk in warm.chunks(500) {
        task.put(chunk.to_vec()).await.expect("warm-up put");
    }
    task.flush().await.expect("warm-up flush");
    let polls: Vec<Vec<SinkRecord>> = recs.chunks(500).map(<[SinkRecord]>::to_vec).collect();
    let n = recs.len() as f64;
    let t0 = Instant::now();
    for poll in polls {
        task.put(poll).await.expect("put");
    }
    task.flush().await.expect("flush");
    let secs = t0.elapsed().as_secs_f64();
    task.stop().await.expect("stop");
    n / secs
}

fn psql(sql: &str) -> String {
    let out = std::process::Command::new("psql")
        .args(["-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .arg(format!(
            "host={} port={} user={} dbname={}",
            env("VELOCITY_PG_HOST", "127.0.0.1"),
            env("VELOCITY_PG_PORT", "55432"),
            env("VELOCITY_PG_USER", "velocity"),
            env("VELOCITY_PG_SINK_DB", "sink")
        ))
        .env("PGPASSWORD", env("VELOCITY_PG_PASSWORD", "velocity"))
        .output()
        .expect("psql");
    assert!(
        out.status.success(),
        "psql failed: {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn main() {
    let n: i64 = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .and_then(|a| a.parse().ok())
        .unwrap_or(50_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let p = format!("bench_mat_{}", std::process::id());
    let tables = [
        format!("CREATE TABLE {p}_shipment (id bigint PRIMARY KEY, reference text, customer text, status text, weight numeric(10,2))"),
        format!("CREATE TABLE {p}_shipment_stop (shipment_id bigint, seq int, city text, PRIMARY KEY (shipment_id, seq))"),
        format!("CREATE TABLE {p}_load_item (shipment_id bigint, item_id text PRIMARY KEY, description text)"),
        format!("CREATE INDEX ON {p}_load_item (shipment_id)"),
        format!("CREATE TABLE {p}_jdbc_shipment (id bigint PRIMARY KEY, reference text, customer text, status text, weight numeric(10,2))"),
    ];
    for t in &tables {
        psql(t);
    }
    let warm = |v: Vec<SinkRecord>| v.into_iter().step_by(2).collect::<Vec<_>>();
    println!("{n} shipment domain events, polls of 500, batch.size=1000, half of the shipments stored before");
    let jdbc = rt.block_on(drive(
        &mut JdbcSinkTask::default(),
        &jdbc_config(&p),
        warm(flat_records(n, 0)),
        flat_records(n, 1),
    ));
    let mat = rt.block_on(drive(
        &mut MaterializeSinkTask::default(),
        &materialize_config(&p),
        warm(domain_events(n, 0)),
        domain_events(n, 1),
    ));
    let count = |t: &str| psql(&format!("SELECT count(*) FROM {p}_{t}"));
    let rows = (
        count("shipment"),
        count("shipment_stop"),
        count("load_item"),
    );
    assert_eq!(
        rows,
        (n.to_string(), (2 * n).to_string(), (2 * n).to_string()),
        "materialized rows"
    );
    assert_eq!(count("jdbc_shipment"), n.to_string());
    println!("  JDBC sink, 1 table  (baseline): {jdbc:>9.0} events/s  {jdbc:>9.0} rows/s");
    println!(
        "  materialize, 3 tables         : {mat:>9.0} events/s  {:>9.0} rows/s",
        mat * 5.0
    );
    println!(
        "  ratio materialize/JDBC: {:.2}x events/s, {:.2}x rows/s",
        mat / jdbc,
        mat * 5.0 / jdbc
    );
    for t in ["shipment", "shipment_stop", "load_item", "jdbc_shipment"] {
        psql(&format!("DROP TABLE {p}_{t}"));
    }
}
