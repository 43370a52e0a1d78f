//! Throughput of the JDBC sink into PostgreSQL: 200,000 upserts of a
//! 10-column row through the sink task (`put` in 500-record polls, then
//! `flush`), for `batch.size` 500 and 5,000, with the bulk path
//! (`velocity.write.method=copy`: binary COPY into a staging table + one
//! `INSERT … ON CONFLICT`) and the row-by-row baseline (`rows`: one prepared
//! upsert per row) in the same run. Prints rows/s and copy/rows ratios.
//!
//! Run: `cargo bench -p velocity-connector-jdbc --bench sink_jdbc [-- ROWS]`
//! (or `bench/sinks/run.sh`). Needs the PostgreSQL of `scripts/services.sh`
//! (`VELOCITY_PG_*`, database `sink`). No broker: records are pre-built, so
//! this measures the sink, not Kafka.

use std::sync::Arc;
use std::time::Instant;

use velocity_api::schema::logical;
use velocity_api::{
    ConnectRecord, RawConfig, Schema, SchemaRef, SinkRecord, SinkTask, Struct, TaskContext, Value,
};
use velocity_connector_jdbc::JdbcSinkTask;

fn env(k: &str, d: &str) -> String {
    std::env::var(k).unwrap_or_else(|_| d.to_owned())
}

fn schemas() -> (SchemaRef, SchemaRef) {
    let key = Schema::struct_()
        .named("bench.public.t.Key")
        .field("id", Schema::int64())
        .build();
    let value = Schema::struct_()
        .named("bench.public.t.Value")
        .field("id", Schema::int64())
        .field("c1", Schema::int32().optional())
        .field("c2", Schema::int64().optional())
        .field("c3", Schema::string().optional())
        .field(
            "c4",
            Schema::bytes()
                .named(logical::DECIMAL)
                .param("scale", "2")
                .optional(),
        )
        .field(
            "c5",
            Schema::int64()
                .named(logical::DBZ_MICRO_TIMESTAMP)
                .optional(),
        )
        .field("c6", Schema::boolean().optional())
        .field("c7", Schema::float64().optional())
        .field("c8", Schema::string().optional())
        .field("c9", Schema::int32().named(logical::DBZ_DATE).optional())
        .build();
    (key, value)
}

/// `n` records with ids 1..=n on partition 0, offsets 0..n.
fn records(n: i64, round: i64) -> Vec<SinkRecord> {
    let (ks, vs) = schemas();
    (1..=n)
        .map(|id| {
            let key = Value::Struct(Struct::new(ks.clone()).put("id", id));
            let unscaled = (id * 125 + round) as i32;
            let value = Value::Struct(
                Struct::new(vs.clone())
                    .put("id", id)
                    .put("c1", (id % 1000) as i32 + round as i32)
                    .put("c2", id * 7)
                    .put("c3", format!("text-{id}-{round}"))
                    .put("c4", Value::Bytes(unscaled.to_be_bytes().to_vec()))
                    .put("c5", 1_700_000_000_000_000 + id * 1_000_003)
                    .put("c6", id % 2 == 0)
                    .put("c7", Value::Float64(id as f64 / 3.0))
                    .put("c8", format!("v{}", id % 97))
                    .put("c9", 19_000 + (id % 365) as i32),
            );
            let mut r = ConnectRecord::new("bench", Some(ks.clone()), key, Some(vs.clone()), value);
            r.partition = Some(0);
            SinkRecord {
                record: r,
                kafka_offset: id - 1,
            }
        })
        .collect()
}

fn config(table: &str, batch: usize, method: &str) -> RawConfig {
    let url = format!(
        "jdbc:postgresql://{}:{}/{}",
        env("VELOCITY_PG_HOST", "127.0.0.1"),
        env("VELOCITY_PG_PORT", "55432"),
        env("VELOCITY_PG_SINK_DB", "sink")
    );
    [
        ("connection.url", url.as_str()),
        ("connection.username", &env("VELOCITY_PG_USER", "velocity")),
        (
            "connection.password",
            &env("VELOCITY_PG_PASSWORD", "velocity"),
        ),
        ("insert.mode", "upsert"),
        ("primary.key.mode", "record_key"),
        ("schema.evolution", "basic"),
        ("table.name.format", table),
        ("batch.size", &batch.to_string()),
        ("velocity.write.method", method),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn ctx() -> TaskContext {
    struct NoOffsets;
    impl velocity_api::connector::OffsetReader for NoOffsets {
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

/// Upserts `rows` records (the table already holds half of them); rows/s.
async fn run(table: &str, batch: usize, method: &str, rows: i64) -> f64 {
    let cfg = config(table, batch, method);
    let mut task = JdbcSinkTask::default();
    task.start(&cfg, ctx()).await.expect("start");
    // warm-up: creates the table and holds every other id, so the measured
    // run is a mix of inserts and updates
    let warm: Vec<SinkRecord> = records(rows, 0).into_iter().step_by(2).collect();
    for chunk in warm.chunks(5000) {
        task.put(chunk.to_vec()).await.expect("warm-up put");
    }
    task.flush().await.expect("warm-up flush");
    let recs = records(rows, 1);
    let polls: Vec<Vec<SinkRecord>> = recs.chunks(500).map(<[SinkRecord]>::to_vec).collect();
    let t0 = Instant::now();
    for poll in polls {
        task.put(poll).await.expect("put");
    }
    task.flush().await.expect("flush");
    let secs = t0.elapsed().as_secs_f64();
    task.stop().await.expect("stop");
    rows as f64 / secs
}

fn psql(sql: &str) {
    let st = std::process::Command::new("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .arg(format!(
            "host={} port={} user={} dbname={}",
            env("VELOCITY_PG_HOST", "127.0.0.1"),
            env("VELOCITY_PG_PORT", "55432"),
            env("VELOCITY_PG_USER", "velocity"),
            env("VELOCITY_PG_SINK_DB", "sink")
        ))
        .env("PGPASSWORD", env("VELOCITY_PG_PASSWORD", "velocity"))
        .status()
        .expect("psql");
    assert!(st.success(), "psql failed: {sql}");
}

fn main() {
    let rows: i64 = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .and_then(|a| a.parse().ok())
        .unwrap_or(200_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    println!("JDBC sink → PostgreSQL, {rows} upserts (half updates), 10 columns, polls of 500");
    for batch in [500usize, 5000] {
        let mut results = Vec::new();
        for method in ["copy", "rows"] {
            let table = format!("bench_sink_{}_{method}_{batch}", std::process::id());
            psql(&format!("DROP TABLE IF EXISTS {table}"));
            let rps = rt.block_on(run(&table, batch, method, rows));
            psql(&format!("DROP TABLE IF EXISTS {table}"));
            println!("  batch.size={batch:<5} method={method:<4} {rps:>10.0} rows/s");
            results.push(rps);
        }
        println!(
            "  batch.size={batch:<5} ratio copy/rows = {:.1}x",
            results[0] / results[1]
        );
    }
}
