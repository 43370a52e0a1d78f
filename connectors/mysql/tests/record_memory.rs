//! Heap held by one streamed change record of the MySQL benchmark table
//! (`bench/mysql/run.sh`): the reader queues up to `max.queue.size` records,
//! so their size is most of the connector's peak RSS. A counting allocator
//! measures what building a record (row image → value struct, `source`
//! block, envelope, offset) allocates and keeps; the bound fails the test
//! when a change makes queued records fatter. It replaces a comparison of
//! peak RSS between two binaries, which swings by ±20 % run to run.

use std::alloc::System;

use mysql_common::value::Value as My;
use stats_alloc::{StatsAlloc, INSTRUMENTED_SYSTEM};

use velocity_api::config::raw_config;
use velocity_api::source::push_covering;
use velocity_api::{Partition, SourceRecord, TypedConfig, Value};
use velocity_connector_mysql::binlog::Position;
use velocity_connector_mysql::config::MySqlConfig;
use velocity_connector_mysql::ddl::Tables;
use velocity_connector_mysql::envelope::{SourceInfo, TableSchema};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// `(bytes, allocations)` live now (requested sizes; the real allocator
/// adds a header and rounds each allocation up to at least 32 bytes).
fn live() -> (isize, isize) {
    let s = GLOBAL.stats();
    (
        s.bytes_allocated as isize - s.bytes_deallocated as isize + s.bytes_reallocated,
        s.allocations as isize - s.deallocations as isize,
    )
}

/// The bench table's DDL, as `bench/mysql/run.sh` creates it.
const BENCH_DDL: &str = "CREATE TABLE bench (id BIGINT PRIMARY KEY, c1 INT, c2 BIGINT, \
    c3 VARCHAR(64), c4 DECIMAL(12,2), c5 TIMESTAMP(6) NULL, c6 TINYINT(1), c7 DOUBLE, \
    c8 VARCHAR(32), c9 DATE)";

/// One binlog row image of the bench table (as the binlog decoder yields
/// it: integers, text and decimals as bytes, TIMESTAMP2 as "secs.micros").
fn bench_row(id: i64) -> Vec<My> {
    vec![
        My::Int(id),
        My::Int(id % 1000),
        My::Int(id * 7),
        My::Bytes(format!("shipment {id}").into_bytes()),
        My::Bytes(b"1234.56".to_vec()),
        My::Bytes(b"1709280000.000000".to_vec()),
        My::Int(1),
        My::Double(41152.0),
        My::Bytes(format!("REF-{id}").into_bytes()),
        My::Date(2024, 5, 2, 0, 0, 0, 0),
    ]
}

/// A streamed insert of row `id` as the reader builds it: the row's value
/// struct, its `source` block and the offset after it.
fn record(ts: &TableSchema, cfg: &MySqlConfig, partition: &Partition, id: i64) -> SourceRecord {
    let after = ts.row(&bench_row(id), true).expect("decodes");
    let info = SourceInfo {
        snapshot: "false",
        ts_ms: 1_709_280_000_000,
        server_id: 1,
        gtid: Some("0-1-1234".into()),
        file: "mariadb-bin.000001".into(),
        pos: 123_456,
        row: 17,
        thread: Some(42),
        query: None,
    };
    let offset = Position {
        file: "mariadb-bin.000001".into(),
        pos: 123_000,
        event: 1,
        row: 18,
        gtids: Some("0-1-1233".into()),
        ts_sec: 1_709_280_000,
        server_id: 1,
        ..Position::default()
    }
    .to_offset();
    ts.change(cfg, "c", None, after, &info, None, partition, offset)
}

#[test]
fn a_streamed_bench_record_stays_small() {
    let cfg = MySqlConfig::from_raw(&raw_config(&[
        ("database.hostname", "h"),
        ("database.user", "u"),
        ("database.server.id", "5400"),
        ("topic.prefix", "bench"),
        (
            "schema.history.internal",
            "io.debezium.relational.history.MemorySchemaHistory",
        ),
    ]))
    .expect("config");
    let mut tables = Tables::new(true);
    tables.apply("vbench", BENCH_DDL);
    let table = tables
        .get("vbench", "bench")
        .expect("the DDL defines the table");
    let ts = TableSchema::build(&cfg, table);
    assert_eq!(ts.slots.len(), 10, "every bench column is captured");
    let mut partition = Partition::new();
    partition.insert("server".into(), "bench".into());
    // warm up lazily built shared schemas
    drop(record(&ts, &cfg, &partition, 1));
    const N: usize = 1000;
    // each record with its own offset and partition (as built)
    let mut alone = Vec::with_capacity(N);
    let (own, own_allocs) = held(N, || {
        for i in 0..N {
            alone.push(record(&ts, &cfg, &partition, 100_000 + i as i64));
        }
    });
    // as the reader queues them: a batch where a record's position covers
    // the one before
    let mut batch = Vec::with_capacity(N);
    let (queued, queued_allocs) = held(N, || {
        for i in 0..N {
            push_covering(
                &mut batch,
                record(&ts, &cfg, &partition, 100_000 + i as i64),
            );
        }
    });
    assert!(matches!(batch[0].record.value, Value::Struct(_)));
    assert_eq!(
        batch.last().map(|r| r.source_offset.clone()),
        alone.last().map(|r| r.source_offset.clone()),
        "the batch's last record keeps its position"
    );
    assert!(batch[..N - 1].iter().all(|r| r.source_offset.is_empty()));
    println!(
        "one streamed MySQL bench record holds {own} bytes in {own_allocs} allocations \
         with its own offset, {queued} bytes in {queued_allocs} allocations queued in a batch"
    );
    assert!(
        queued <= 2_000,
        "a queued change record of the bench table holds {queued} bytes"
    );
    assert!(queued < own, "a queued record holds no offset of its own");
}

/// `(bytes, allocations)` per record that `build` (making `n` records)
/// left allocated, counting the record itself.
fn held(n: usize, build: impl FnOnce()) -> (usize, usize) {
    let (bytes0, allocs0) = live();
    build();
    let (bytes1, allocs1) = live();
    (
        (bytes1 - bytes0) as usize / n + std::mem::size_of::<SourceRecord>(),
        (allocs1 - allocs0) as usize / n,
    )
}
