//! Throughput of the transform chain: records/s through a 3-SMT chain
//! (ExtractNewRecordState + ReplaceField$Value + InsertField$Value), the
//! domain pipeline (cast → filter → map, as the source loop drives it:
//! `apply_many` per record, `on_transaction_end` at the end of each round)
//! and the wasm plugin path (`examples/plugins/route-by-prefix/plugin.wat`),
//! each against the empty chain in the same run, on real Debezium
//! PostgreSQL change events (`tests/fixtures/postgres/golden.jsonl`).
//!
//! Run: `cargo bench -p velocity-transforms --bench transforms_chain`
//! (optional argument: number of records per round, default 500000).
//! Each measured record is cloned from a template first, as the source loop
//! hands the chain an owned record; the clone is part of both measurements.

use std::hint::black_box;
use std::time::{Duration, Instant};

use velocity_api::{ConnectRecord, PluginRegistry, RawConfig};
use velocity_runtime::converters::converter_for_class;
use velocity_runtime::worker::TransformChain;

use velocity_api::config::raw_config as cfg;

/// Every non-tombstone record of the golden fixture that the JsonConverter
/// reads back (a few NaN floats do not round-trip).
fn records() -> Vec<ConnectRecord> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/postgres/golden.jsonl"
    );
    let text = std::fs::read_to_string(path).expect("golden fixture");
    let mut kc = converter_for_class("JsonConverter").expect("converter");
    kc.configure(&RawConfig::new(), true).expect("configure");
    let mut vc = converter_for_class("JsonConverter").expect("converter");
    vc.configure(&RawConfig::new(), false).expect("configure");
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json"))
        .filter(|j| !j["value"].is_null())
        .filter_map(|j| {
            let topic = j["topic"].as_str().expect("topic").to_owned();
            let k = serde_json::to_vec(&j["key"]).expect("key");
            let v = serde_json::to_vec(&j["value"]).expect("value");
            let (ks, k) = kc.to_connect(&topic, Some(&k)).ok()?;
            let (vs, v) = vc.to_connect(&topic, Some(&v)).ok()?;
            let mut r = ConnectRecord::new(topic, ks, k, vs, v);
            r.timestamp = Some(1_700_000_000_000);
            Some(r)
        })
        .collect()
}

fn round(chain: &mut TransformChain, templates: &[ConnectRecord], n: usize) -> (Duration, usize) {
    let start = Instant::now();
    let mut kept = 0;
    for i in 0..n {
        let r = templates[i % templates.len()].clone();
        if let Some(out) = chain.apply(r).expect("transform") {
            kept += 1;
            black_box(out);
        }
    }
    (start.elapsed(), kept)
}

/// A round through `apply_many`, as the source loop drives stateful chains.
fn round_many(
    chain: &mut TransformChain,
    templates: &[ConnectRecord],
    n: usize,
) -> (Duration, usize) {
    let start = Instant::now();
    let mut out = Vec::new();
    let mut kept = 0;
    for i in 0..n {
        let r = templates[i % templates.len()].clone();
        chain.apply_many(r, &mut out).expect("transform");
        kept += out.len();
        black_box(&out);
        out.clear();
    }
    chain.on_transaction_end(&mut out).expect("transaction end");
    kept += out.len();
    (start.elapsed(), kept)
}

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(500_000);
    let registry = velocity_transforms::plugins()
        .into_iter()
        .fold(PluginRegistry::new(), |r, p| r.register(p));
    let templates = records();
    let mut empty = TransformChain::from_config(&registry, &cfg(&[])).expect("empty chain");
    let mut three = TransformChain::from_config(
        &registry,
        &cfg(&[
            ("transforms", "unwrap,replace,insert"),
            (
                "transforms.unwrap.type",
                "io.debezium.transforms.ExtractNewRecordState",
            ),
            ("transforms.unwrap.add.fields", "op,table,lsn,source.ts_ms"),
            (
                "transforms.replace.type",
                "org.apache.kafka.connect.transforms.ReplaceField$Value",
            ),
            ("transforms.replace.exclude", "__lsn"),
            ("transforms.replace.renames", "id:row_id"),
            (
                "transforms.insert.type",
                "org.apache.kafka.connect.transforms.InsertField$Value",
            ),
            ("transforms.insert.topic.field", "kafka_topic"),
            ("transforms.insert.timestamp.field", "kafka_ts"),
        ]),
    )
    .expect("3-SMT chain");
    let mut domain = TransformChain::from_config(
        &registry,
        &cfg(&[
            ("transforms", "cast,filter,map"),
            ("transforms.cast.type", "io.velocity.transforms.domain.Cast"),
            (
                "transforms.filter.type",
                "io.velocity.transforms.domain.NetChangeFilter",
            ),
            ("transforms.map.type", "io.velocity.transforms.domain.Map"),
            ("transforms.map.topic", "domain.${table}"),
            ("transforms.map.key", "id"),
            ("transforms.map.fields", "id,op,label,meta.source"),
            ("transforms.map.field.op", "$op"),
            ("transforms.map.field.label", "concat($table, ':', id)"),
            ("transforms.map.field.meta.source", "'tms'"),
        ]),
    )
    .expect("domain chain");
    let plugin = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/plugins/route-by-prefix/plugin.wat"
    );
    let mut wasm = TransformChain::from_config(
        &registry,
        &cfg(&[
            ("transforms", "plugin"),
            ("transforms.plugin.type", "wasm"),
            ("transforms.plugin.wasm.path", plugin),
        ]),
    )
    .expect("wasm chain");
    // Warm up (schema caches, allocator).
    round(&mut empty, &templates, templates.len() * 10);
    round(&mut three, &templates, templates.len() * 10);
    round_many(&mut domain, &templates, templates.len() * 10);
    round(&mut wasm, &templates, templates.len() * 10);
    let mut best = [Duration::MAX; 4];
    let mut kept = [0usize; 4];
    for _ in 0..3 {
        let results = [
            round(&mut empty, &templates, n),
            round(&mut three, &templates, n),
            round_many(&mut domain, &templates, n),
            round(&mut wasm, &templates, n),
        ];
        for (i, (d, k)) in results.into_iter().enumerate() {
            best[i] = best[i].min(d);
            kept[i] = k;
        }
    }
    let rate = |d: Duration| n as f64 / d.as_secs_f64();
    println!(
        "records per round: {n} ({} distinct Debezium change events, best of 3 rounds)",
        templates.len()
    );
    let names = [
        "empty chain",
        "3-SMT chain",
        "domain cast→filter→map",
        "wasm plugin",
    ];
    for i in 0..4 {
        println!(
            "{:<24} {:>12.0} records/s  ({:.0} ns/record, {} of {n} out)",
            names[i],
            rate(best[i]),
            best[i].as_nanos() as f64 / n as f64,
            kept[i]
        );
    }
    for i in 1..4 {
        println!(
            "ratio {} / empty throughput: {:.3}  (empty is {:.2}x faster)",
            names[i],
            rate(best[i]) / rate(best[0]),
            rate(best[0]) / rate(best[i])
        );
    }
}
