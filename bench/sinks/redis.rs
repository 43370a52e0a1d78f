//! Throughput of the Redis sink: records/s through the sink task (`put` in
//! 500-record polls) with pipelining on (each batch of `redis.batch.size`
//! commands one `MULTI`/`EXEC` pipeline) and off (one round trip per
//! command) in the same run, on the same pre-built records (a 10-field
//! Debezium-style row as a JSON string). Prints rows/s and the ratio.
//!
//! Run: `cargo bench -p velocity-connector-redis --bench sink_redis [-- ROWS]`
//! (or `bench/sinks/run.sh`). Needs the Redis of `scripts/services.sh`
//! (`VELOCITY_REDIS_URL`). No broker: this measures the sink.

use std::sync::Arc;
use std::time::Instant;

use velocity_api::schema::logical;
use velocity_api::TypedConfig;
use velocity_api::{
    ConnectRecord, RawConfig, Schema, SchemaRef, SinkRecord, SinkTask, Struct, TaskContext, Value,
};
use velocity_connector_redis::render::Command;
use velocity_connector_redis::{RedisSinkConfig, RedisSinkTask, RedisWriter};

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

fn records(topic: &str, n: i64) -> Vec<SinkRecord> {
    let (ks, vs) = schemas();
    (1..=n)
        .map(|id| {
            let key = Value::Struct(Struct::new(ks.clone()).put("id", id));
            let value = Value::Struct(
                Struct::new(vs.clone())
                    .put("id", id)
                    .put("c1", (id % 1000) as i32)
                    .put("c2", id * 7)
                    .put("c3", format!("text-{id}"))
                    .put(
                        "c4",
                        Value::Bytes(((id * 125) as i32).to_be_bytes().to_vec()),
                    )
                    .put("c5", 1_700_000_000_000_000 + id * 1_000_003)
                    .put("c6", id % 2 == 0)
                    .put("c7", Value::Float64(id as f64 / 3.0))
                    .put("c8", format!("v{}", id % 97))
                    .put("c9", 19_000 + (id % 365) as i32),
            );
            let mut r = ConnectRecord::new(topic, Some(ks.clone()), key, Some(vs.clone()), value);
            r.partition = Some(0);
            SinkRecord {
                record: r,
                kafka_offset: id - 1,
            }
        })
        .collect()
}

fn config(pipeline: bool) -> RawConfig {
    let addr =
        std::env::var("VELOCITY_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:56379".into());
    [
        ("redis.address", addr.as_str()),
        (
            "redis.pipeline.enabled",
            if pipeline { "true" } else { "false" },
        ),
        ("redis.batch.size", "500"),
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

async fn run(pipeline: bool, rows: i64) -> f64 {
    let topic = format!("bench_redis_{}_{pipeline}", std::process::id());
    let cfg = config(pipeline);
    let mut task = RedisSinkTask::default();
    task.start(&cfg, ctx()).await.expect("start");
    let polls: Vec<Vec<SinkRecord>> = records(&topic, rows)
        .chunks(500)
        .map(<[SinkRecord]>::to_vec)
        .collect();
    let t0 = Instant::now();
    for poll in polls {
        task.put(poll).await.expect("put");
    }
    task.flush().await.expect("flush");
    let secs = t0.elapsed().as_secs_f64();
    task.stop().await.expect("stop");
    // clean up the keys
    let parsed = RedisSinkConfig::from_raw(&config(true)).expect("config");
    let mut w = RedisWriter::connect(&parsed).await.expect("connect");
    let dels: Vec<Command> = (1..=rows)
        .map(|id| Command::Del {
            key: format!("{topic}:{{\"id\":{id}}}"),
        })
        .collect();
    for chunk in dels.chunks(5000) {
        w.write(chunk).await.expect("cleanup");
    }
    rows as f64 / secs
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
    println!("Redis sink, {rows} SETs (10-field row as JSON), polls of 500, redis.batch.size=500");
    let piped = rt.block_on(run(true, rows));
    println!("  pipelined (MULTI/EXEC per batch) {piped:>10.0} rows/s");
    let single = rt.block_on(run(false, rows));
    println!("  one round trip per command       {single:>10.0} rows/s");
    println!("  ratio pipelined/unpipelined = {:.1}x", piped / single);
}
