//! Heap bytes held by one streamed change record of the benchmark table
//! (issue 6: the reader queues `max.queue.size` records, so their size is
//! most of the connector's memory). A counting allocator measures what
//! building the record allocates and keeps; the bound fails the test when a
//! change makes queued records fatter.

use std::alloc::System;

use stats_alloc::{StatsAlloc, INSTRUMENTED_SYSTEM};

use velocity_api::{Offset, Partition, RawConfig, SourceRecord, Struct, TypedConfig, Value};
use velocity_connector_postgres::catalog::{Column, PgType, ReplicaIdentity, Table, TypeKind};
use velocity_connector_postgres::config::PostgresConfig;
use velocity_connector_postgres::envelope::{SourcePosition, TableSchema};
use velocity_connector_postgres::types::Phase;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Heap bytes live now (requested sizes; the real allocator rounds up).
fn live() -> isize {
    let s = GLOBAL.stats();
    s.bytes_allocated as isize - s.bytes_deallocated as isize + s.bytes_reallocated
}

fn column(name: &str, ty: &str, typmod: i32, not_null: bool) -> Column {
    Column {
        name: name.into(),
        attnum: 1,
        pg_type: PgType {
            oid: 0,
            schema: "pg_catalog".into(),
            name: ty.into(),
            kind: TypeKind::Base,
        },
        typmod,
        not_null,
        default_expr: None,
    }
}

/// The bench table of `bench/postgres/run.sh` and one of its rows.
fn bench_table() -> (Table, Vec<&'static str>) {
    let cols = vec![
        column("id", "int8", -1, true),
        column("c1", "int4", -1, false),
        column("c2", "int8", -1, false),
        column("c3", "text", -1, false),
        column("c4", "numeric", ((12 << 16) | 2) + 4, false),
        column("c5", "timestamptz", -1, false),
        column("c6", "bool", -1, false),
        column("c7", "float8", -1, false),
        column("c8", "varchar", 32 + 4, false),
        column("c9", "date", -1, false),
    ];
    let table = Table {
        oid: 1,
        schema: "public".into(),
        name: "bench".into(),
        columns: cols,
        primary_key: vec!["id".into()],
        replica_identity: ReplicaIdentity::Default,
    };
    let row = vec![
        "123456",
        "456",
        "864192",
        "shipment 123456",
        "1234.56",
        "2024-03-02 18:17:36+00",
        "t",
        "41152",
        "REF-123456",
        "2024-05-02",
    ];
    (table, row)
}

fn record(ts: &TableSchema, cfg: &PostgresConfig, row: &[&str]) -> SourceRecord {
    let mut after = Struct {
        schema: ts.events.value_schema.clone(),
        values: Vec::with_capacity(ts.slots.len()),
    };
    for s in &ts.slots {
        after.values.push(
            s.mapping
                .decode(row[s.tuple_index].as_bytes(), Phase::Stream)
                .expect("decodes"),
        );
    }
    let pos = SourcePosition {
        snapshot: "false",
        ts_us: 1_700_000_000_000_000,
        tx_id: Some(777),
        lsn: Some(123_456_789),
        sequence: Some(format!("[\"{}\",\"{}\"]", 123_456_000, 123_456_789)),
        transaction: None,
    };
    ts.change(
        cfg,
        "velocity_bench",
        "c",
        None,
        after,
        &pos,
        &Partition::new(),
        Offset::new(),
    )
}

#[test]
fn a_streamed_bench_record_stays_small() {
    let mut raw = RawConfig::new();
    for (k, v) in [
        ("database.hostname", "h"),
        ("database.user", "u"),
        ("database.dbname", "velocity_bench"),
        ("topic.prefix", "bench"),
    ] {
        raw.insert(k.into(), v.into());
    }
    let cfg = PostgresConfig::from_raw(&raw).expect("config");
    let (table, row) = bench_table();
    let ts = TableSchema::build(&cfg, &table, Phase::Snapshot);
    assert_eq!(ts.slots.len(), 10, "every bench column is captured");
    // warm up lazily built shared schemas
    drop(record(&ts, &cfg, &row));
    const N: usize = 1000;
    let mut kept = Vec::with_capacity(N);
    let before = live();
    for _ in 0..N {
        kept.push(record(&ts, &cfg, &row));
    }
    let per_record = (live() - before) as usize / N + std::mem::size_of::<SourceRecord>();
    assert!(matches!(kept[0].record.value, Value::Struct(_)));
    println!("one streamed bench record holds {per_record} bytes");
    assert!(
        per_record <= 2_000,
        "a queued change record of the bench table holds {per_record} bytes"
    );
}
