//! The initial snapshot's table reading: a plan of chunks (a whole table,
//! or a key range of one) read by `snapshot.max.threads` worker
//! connections, all in the same exported snapshot, and handed to the
//! reader, which turns them into `r` records in arrival order.
//!
//! Contracts:
//! - Consistency: every worker runs `BEGIN ISOLATION LEVEL REPEATABLE READ
//!   READ ONLY` and `SET TRANSACTION SNAPSHOT '<id>'` of one exported
//!   snapshot (the replication slot's, or the reader's own
//!   `pg_export_snapshot()` when the slot already existed), so all see the
//!   same data, the data of the snapshot's offset.
//! - Reading: each chunk through a cursor, `snapshot.fetch.size` rows per
//!   `FETCH`; a key-range chunk in key order (`ORDER BY` the key column, as
//!   Debezium's chunk queries), a whole table in the server's order.
//! - Chunks: with [`SnapshotOptions::chunked`] a table whose key (primary
//!   key, else replica identity index) is one `smallint`/`integer`/`bigint`
//!   column is split into up to `snapshot.max.threads` x multiplier ranges
//!   of equal key span between its `min` and `max`; a keyless table, one
//!   with a composite or non-integer key, or one read through a
//!   `snapshot.select.statement.overrides` statement is one chunk.
//! - Markers (`source.snapshot`), as Debezium's snapshot of the same
//!   configuration: `first` on the first record of the first table,
//!   `first_in_data_collection` / `last_in_data_collection` on a table's
//!   first / last record, `last` on the last record of the last table,
//!   `true` otherwise; with `legacy.snapshot.max.threads` and more than one
//!   thread there is no `first` and no table is last (Debezium's
//!   table-per-thread mode). The reader also marks `last` the very last
//!   record it emits (Debezium's `completeSnapshot`).
//! - Order: the first record of the first table comes before any other;
//!   a table's first record before the table's others; its last record
//!   after all the others of the table; the last table's last record after
//!   every other record (Debezium's chunk coordination). Nothing else is
//!   ordered across chunks; inside a chunk rows keep the cursor's order.
//! - Backpressure: rows go to the reader through a bounded channel of
//!   [`SEND_ROWS`]-row messages, a few per worker; workers wait when it is
//!   full.
//! - Failure: a worker's error is sent to the reader, which stops; the
//!   other workers are aborted when the reader drops them.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, watch};
use tokio_postgres::{Client, SimpleQueryMessage, SimpleQueryRow};
use velocity_api::debezium::source::snapshot_marker;
use velocity_api::Struct;

use super::Reader;
use crate::catalog::Table;
use crate::config::{PostgresConfig, SnapshotOptions};
use crate::envelope::TableSchema;
use crate::error::PostgresError;
use crate::protocol::{quote_identifier, quote_literal};
use crate::sql;
use crate::types::Phase;

/// Most rows per message from a worker to the reader.
pub(super) const SEND_ROWS: usize = 1024;

/// A table the snapshot reads.
pub(super) struct SnapTable {
    /// `schema.table`.
    pub name: String,
    /// `"schema"."table"`.
    pub qname: String,
    /// Its event schemas.
    pub ts: Arc<TableSchema>,
    /// The statement that reads it: the column list in `attnum` order, or
    /// the `snapshot.select.statement.overrides` statement.
    pub select: String,
    /// `select` is an override: its columns are matched by name.
    pub overridden: bool,
    /// The table's columns in `attnum` order (what
    /// [`TableSchema`]'s tuple indexes refer to).
    pub columns: Vec<String>,
    /// The quoted key column when the key is one integer column.
    pub int_key: Option<String>,
}

impl SnapTable {
    /// The table `table` as the snapshot reads it (`ts` its schemas).
    pub fn new(opts: &SnapshotOptions, table: &Table, ts: Arc<TableSchema>) -> SnapTable {
        let q = |s: &str| quote_identifier(s).unwrap_or_default();
        let qname = format!("{}.{}", q(&table.schema), q(&table.name));
        let columns: Vec<String> = table.columns.iter().map(|c| c.name.clone()).collect();
        let over = opts
            .select_override(&table.schema, &table.name)
            .map(|s| s.trim_end_matches(|c: char| c == ';' || c.is_whitespace()));
        let select = match over {
            Some(s) => s.to_owned(),
            None if columns.is_empty() => format!("SELECT * FROM {qname}"),
            None => format!(
                "SELECT {} FROM {qname}",
                columns.iter().map(|c| q(c)).collect::<Vec<_>>().join(", ")
            ),
        };
        let int_key = match table.primary_key.as_slice() {
            [k] => table
                .column(k)
                .filter(|c| {
                    ["int2", "int4", "int8"]
                        .iter()
                        .any(|t| c.pg_type.is_builtin(t))
                })
                .map(|c| q(&c.name)),
            _ => None,
        };
        SnapTable {
            name: format!("{}.{}", table.schema, table.name),
            qname,
            ts,
            select,
            overridden: over.is_some(),
            columns,
            int_key,
        }
    }
}

/// A part of a table one worker reads: the whole table, or the key range
/// `[lower, upper)` (an open end when None).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Chunk {
    /// Index of the table in the plan.
    pub table: usize,
    /// Index of the chunk in its table.
    pub index: usize,
    /// The table's chunk count.
    pub count: usize,
    /// Inclusive lower key bound.
    pub lower: Option<i64>,
    /// Exclusive upper key bound.
    pub upper: Option<i64>,
}

impl Chunk {
    /// The statement reading this chunk of `t`.
    fn sql(&self, t: &SnapTable) -> String {
        let Some(key) = t.int_key.as_deref().filter(|_| self.count > 1) else {
            return t.select.clone();
        };
        let mut cond = Vec::new();
        if let Some(l) = self.lower {
            cond.push(format!("{key} >= {l}"));
        }
        if let Some(u) = self.upper {
            cond.push(format!("{key} < {u}"));
        }
        let mut s = t.select.clone();
        if !cond.is_empty() {
            s.push_str(" WHERE ");
            s.push_str(&cond.join(" AND "));
        }
        s.push_str(" ORDER BY ");
        s.push_str(key);
        s
    }
}

/// The chunks of table `table` whose key spans `[min, max]`, in key order:
/// `n` ranges of equal span (fewer when the span is smaller); the first
/// and last are open-ended.
pub(super) fn key_ranges(table: usize, min: i64, max: i64, n: usize) -> Vec<Chunk> {
    let span = (max as i128 - min as i128 + 1).max(1);
    let n = (n as i128).clamp(1, span) as usize;
    let bound = |i: usize| (min as i128 + span * i as i128 / n as i128) as i64;
    (0..n)
        .map(|i| Chunk {
            table,
            index: i,
            count: n,
            lower: (i > 0).then(|| bound(i)),
            upper: (i + 1 < n).then(|| bound(i + 1)),
        })
        .collect()
}

/// The chunks of `tables`, tables in order, each table's chunks in key
/// order (the order workers take them in, which the coordination needs).
/// Reads the key span of each chunkable table through `client` (inside
/// the snapshot).
pub(super) async fn plan(
    client: &Client,
    opts: &SnapshotOptions,
    tables: &[SnapTable],
) -> Result<Vec<Chunk>, PostgresError> {
    let mut chunks = Vec::new();
    for (ti, t) in tables.iter().enumerate() {
        let single = Chunk {
            table: ti,
            index: 0,
            count: 1,
            lower: None,
            upper: None,
        };
        if !opts.chunked() {
            chunks.push(single);
            continue;
        }
        if t.overridden {
            tracing::info!(
                "Table '{}' uses a snapshot select override, using single chunk.",
                t.name
            );
            chunks.push(single);
            continue;
        }
        let Some(key) = &t.int_key else {
            tracing::info!("Table '{}' has no single integer key column, using single chunk (Velocity splits tables by one smallint, integer or bigint key column).", t.name);
            chunks.push(single);
            continue;
        };
        let (schema, name) = t.name.split_once('.').unwrap_or(("", &t.name));
        let multiplier = opts.multiplier_for(schema, name);
        let n = opts.max_threads * multiplier;
        let rows = client
            .simple_query(&format!(
                "SELECT min({key})::text, max({key})::text FROM {}",
                t.qname
            ))
            .await
            .map_err(|e| PostgresError::Query(e.to_string()))?;
        let span = rows.iter().find_map(|m| match m {
            SimpleQueryMessage::Row(r) => Some((
                r.get(0).and_then(|v| v.parse::<i64>().ok()),
                r.get(1).and_then(|v| v.parse::<i64>().ok()),
            )),
            _ => None,
        });
        let table_chunks = match span {
            Some((Some(min), Some(max))) => key_ranges(ti, min, max, n),
            _ => vec![single],
        };
        tracing::info!(
            "Table '{}' calculating chunk boundaries using multiplier {} with {} chunks.",
            t.name,
            multiplier,
            n
        );
        tracing::info!(
            "Table '{}' will be processed in {} chunks.",
            t.name,
            table_chunks.len()
        );
        chunks.extend(table_chunks);
    }
    Ok(chunks)
}

/// What a worker sends the reader.
pub(super) enum Msg {
    /// Rows of table `table`, each with its `source.snapshot` marker.
    Rows {
        /// Index of the table in the plan.
        table: usize,
        /// The rows, in cursor order.
        rows: Vec<(Struct, &'static str)>,
    },
    /// A chunk of table `table` was read to its end.
    ChunkDone {
        /// Index of the table in the plan.
        table: usize,
    },
}

/// What the workers share: the chunks left (taken in plan order) and the
/// coordination of [the module's order contract](self).
pub(super) struct Shared {
    /// Chunks not taken yet.
    jobs: Mutex<VecDeque<Chunk>>,
    /// The tables.
    pub tables: Vec<SnapTable>,
    /// Markers and order as Debezium's chunk coordination (false: the
    /// legacy table-per-thread mode, nothing ordered).
    ordered: bool,
    /// Per table: its first record was sent (or its first chunk is empty).
    first_sent: Vec<watch::Sender<bool>>,
    /// Per table: chunks read to their end.
    chunks_done: Vec<watch::Sender<usize>>,
    /// Tables all of whose chunks are read.
    tables_done: watch::Sender<usize>,
}

impl Shared {
    /// The plan `chunks` of `tables`.
    pub fn new(opts: &SnapshotOptions, tables: Vec<SnapTable>, chunks: Vec<Chunk>) -> Shared {
        let n = tables.len();
        Shared {
            jobs: Mutex::new(chunks.into()),
            tables,
            ordered: !(opts.legacy && opts.max_threads > 1),
            first_sent: (0..n).map(|_| watch::channel(false).0).collect(),
            chunks_done: (0..n).map(|_| watch::channel(0).0).collect(),
            tables_done: watch::channel(0).0,
        }
    }

    fn next(&self) -> Option<Chunk> {
        self.jobs.lock().ok()?.pop_front()
    }

    /// Waits until `w` holds a value `ok` accepts.
    async fn wait<T>(w: &watch::Sender<T>, ok: impl FnMut(&T) -> bool) {
        let mut rx = w.subscribe();
        // the sender lives in `self`, so the wait ends only by `ok`
        let _ = rx.wait_for(ok).await;
    }
}

/// One worker: a connection in snapshot `snapshot_id` reading chunks until
/// none is left; its error goes to `tx`.
pub(super) async fn worker(
    cfg: Arc<PostgresConfig>,
    snapshot_id: String,
    shared: Arc<Shared>,
    tx: mpsc::Sender<Result<Msg, PostgresError>>,
) {
    if let Err(e) = work(&cfg, &snapshot_id, &shared, &tx).await {
        let _ = tx.send(Err(e)).await;
    }
}

async fn work(
    cfg: &PostgresConfig,
    snapshot_id: &str,
    shared: &Shared,
    tx: &mpsc::Sender<Result<Msg, PostgresError>>,
) -> Result<(), PostgresError> {
    let q = |e: tokio_postgres::Error| PostgresError::Query(e.to_string());
    let client = sql::connect(&cfg.connect).await?;
    let lit = quote_literal(snapshot_id).map_err(|e| PostgresError::Query(e.to_string()))?;
    client
        .batch_execute(&format!(
            "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT {lit}"
        ))
        .await
        .map_err(q)?;
    while let Some(chunk) = shared.next() {
        read_chunk(cfg, &client, shared, &chunk, tx).await?;
    }
    client.batch_execute("COMMIT").await.map_err(q)
}

/// Sends a chunk's rows, keeping the coordination's order.
struct ChunkSender<'a> {
    shared: &'a Shared,
    chunk: &'a Chunk,
    tx: &'a mpsc::Sender<Result<Msg, PostgresError>>,
    /// Rows sent so far.
    sent: usize,
}

impl ChunkSender<'_> {
    /// Sends `rows` (decoded, in order); `last`: the last of them is the
    /// chunk's last row.
    async fn send(&mut self, rows: Vec<Struct>, last: bool) -> Result<(), PostgresError> {
        if rows.is_empty() {
            return Ok(());
        }
        let s = self.shared;
        let c = self.chunk;
        let last_table = c.table + 1 == s.tables.len();
        if s.ordered && self.sent == 0 {
            // a table's first record follows the snapshot's first; the
            // table's others follow its first
            if c.index > 0 {
                Shared::wait(&s.first_sent[c.table], |v| *v).await;
            } else if c.table > 0 {
                Shared::wait(&s.first_sent[0], |v| *v).await;
            }
        }
        let n = rows.len();
        let mut out = Vec::with_capacity(n);
        for (i, row) in rows.into_iter().enumerate() {
            let first_in_table = c.index == 0 && self.sent + i == 0;
            let last_in_table = last && i + 1 == n && c.index + 1 == c.count;
            if last_in_table && s.ordered {
                // the table's last record follows its others, and the
                // last table's last record every other record
                if !out.is_empty() {
                    self.put(std::mem::take(&mut out)).await?;
                }
                Shared::wait(&s.chunks_done[c.table], |d| *d + 1 >= c.count).await;
                if last_table {
                    Shared::wait(&s.tables_done, |d| *d + 1 >= s.tables.len()).await;
                }
            }
            let marker = snapshot_marker(
                s.ordered && first_in_table && c.table == 0,
                s.ordered && last_in_table && last_table,
                first_in_table,
                last_in_table,
            );
            out.push((row, marker));
        }
        self.sent += n;
        self.put(out).await
    }

    /// Sends `rows`; once the first chunk's first rows are sent, the
    /// table's other chunks (and the other tables) may send theirs.
    async fn put(&self, rows: Vec<(Struct, &'static str)>) -> Result<(), PostgresError> {
        self.tx
            .send(Ok(Msg::Rows {
                table: self.chunk.table,
                rows,
            }))
            .await
            .map_err(|_| PostgresError::Query("snapshot stopped".into()))?;
        if self.chunk.index == 0 {
            self.shared.first_sent[self.chunk.table].send_replace(true);
        }
        Ok(())
    }

    /// The chunk was read to its end.
    async fn done(self) -> Result<(), PostgresError> {
        let s = self.shared;
        let c = self.chunk;
        if c.index == 0 {
            // an empty first chunk lets the others go
            s.first_sent[c.table].send_replace(true);
        }
        let mut table_done = false;
        s.chunks_done[c.table].send_modify(|d| {
            *d += 1;
            table_done = *d == c.count;
        });
        if table_done {
            s.tables_done.send_modify(|d| *d += 1);
        }
        self.tx
            .send(Ok(Msg::ChunkDone { table: c.table }))
            .await
            .map_err(|_| PostgresError::Query("snapshot stopped".into()))
    }
}

/// Reads `chunk` through a cursor, `snapshot.fetch.size` rows per round
/// trip, holding back each fetch's last row until the next fetch shows
/// whether it is the chunk's last.
async fn read_chunk(
    cfg: &PostgresConfig,
    client: &Client,
    shared: &Shared,
    chunk: &Chunk,
    tx: &mpsc::Sender<Result<Msg, PostgresError>>,
) -> Result<(), PostgresError> {
    let q = |e: tokio_postgres::Error| PostgresError::Query(e.to_string());
    let t = &shared.tables[chunk.table];
    client
        .batch_execute(&format!(
            "DECLARE velocity_snapshot NO SCROLL CURSOR FOR {}",
            chunk.sql(t)
        ))
        .await
        .map_err(q)?;
    let mut sender = ChunkSender {
        shared,
        chunk,
        tx,
        sent: 0,
    };
    let fetch = format!("FETCH {} FROM velocity_snapshot", cfg.snapshot_fetch_size);
    // table column index -> result column index, for an override statement
    let mut by_name: Option<Vec<Option<usize>>> = None;
    let mut held: Option<Struct> = None;
    loop {
        let msgs = client.simple_query(&fetch).await.map_err(q)?;
        let mut got = 0;
        let mut rows = Vec::with_capacity(SEND_ROWS.min(cfg.snapshot_fetch_size));
        for m in msgs {
            let SimpleQueryMessage::Row(r) = m else {
                continue;
            };
            got += 1;
            let row = if t.overridden {
                let map = by_name.get_or_insert_with(|| column_map(t, &r));
                Reader::row_from_text(&t.ts, |i| map[i].and_then(|p| r.get(p)), Phase::Snapshot)?
            } else {
                Reader::row_from_text(&t.ts, |i| r.get(i), Phase::Snapshot)?
            };
            if let Some(h) = held.replace(row) {
                rows.push(h);
                if rows.len() >= SEND_ROWS {
                    sender.send(std::mem::take(&mut rows), false).await?;
                }
            }
        }
        let end = got < cfg.snapshot_fetch_size;
        if end {
            rows.extend(held.take());
        }
        sender.send(rows, end).await?;
        if end {
            break;
        }
    }
    client
        .batch_execute("CLOSE velocity_snapshot")
        .await
        .map_err(q)?;
    sender.done().await
}

/// For each of `t`'s columns, the index of the result column of that name
/// in `row` (an override statement's columns are matched by name, as
/// Debezium's; a column it does not return is null).
fn column_map(t: &SnapTable, row: &SimpleQueryRow) -> Vec<Option<usize>> {
    t.columns
        .iter()
        .map(|c| row.columns().iter().position(|rc| rc.name() == c))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_ranges_cover_the_span_once() {
        let c = key_ranges(2, 1, 100, 4);
        assert_eq!(c.len(), 4);
        assert_eq!(
            c.iter().map(|c| (c.lower, c.upper)).collect::<Vec<_>>(),
            [
                (None, Some(26)),
                (Some(26), Some(51)),
                (Some(51), Some(76)),
                (Some(76), None)
            ]
        );
        assert!(c
            .iter()
            .enumerate()
            .all(|(i, c)| c.index == i && c.count == 4 && c.table == 2));
        // fewer keys than chunks: one chunk per key value
        let small = key_ranges(0, 5, 6, 8);
        assert_eq!(
            small.iter().map(|c| (c.lower, c.upper)).collect::<Vec<_>>(),
            [(None, Some(6)), (Some(6), None)]
        );
        // one key value, and the whole i64 range without overflow
        assert_eq!(key_ranges(0, 7, 7, 4).len(), 1);
        let wide = key_ranges(0, i64::MIN, i64::MAX, 3);
        assert_eq!(wide.len(), 3);
        assert!(wide[0].upper.unwrap() < wide[1].upper.unwrap());
    }

    #[test]
    fn chunk_statements() {
        let t = SnapTable {
            name: "public.t".into(),
            qname: "\"public\".\"t\"".into(),
            ts: Arc::new(TableSchema::build(
                &test_cfg(),
                &Table {
                    oid: 1,
                    schema: "public".into(),
                    name: "t".into(),
                    columns: Vec::new(),
                    primary_key: Vec::new(),
                    replica_identity: crate::catalog::ReplicaIdentity::Default,
                },
                Phase::Snapshot,
            )),
            select: "SELECT \"id\", \"v\" FROM \"public\".\"t\"".into(),
            overridden: false,
            columns: vec!["id".into(), "v".into()],
            int_key: Some("\"id\"".into()),
        };
        let c = key_ranges(0, 1, 100, 3);
        assert_eq!(
            c[0].sql(&t),
            "SELECT \"id\", \"v\" FROM \"public\".\"t\" WHERE \"id\" < 34 ORDER BY \"id\""
        );
        assert_eq!(
            c[1].sql(&t),
            "SELECT \"id\", \"v\" FROM \"public\".\"t\" WHERE \"id\" >= 34 AND \"id\" < 67 ORDER BY \"id\""
        );
        assert_eq!(
            c[2].sql(&t),
            "SELECT \"id\", \"v\" FROM \"public\".\"t\" WHERE \"id\" >= 67 ORDER BY \"id\""
        );
        // a whole table is read as is
        assert_eq!(key_ranges(0, 1, 1, 3)[0].sql(&t), t.select);
    }

    fn test_cfg() -> PostgresConfig {
        use velocity_api::config::TypedConfig;
        PostgresConfig::from_raw(&velocity_api::config::raw_config(&[
            ("database.hostname", "h"),
            ("database.user", "u"),
            ("database.dbname", "d"),
            ("topic.prefix", "tms"),
        ]))
        .unwrap()
    }
}
