//! The database reader: a background task that snapshots (when needed) and
//! then streams from the replication slot, turning rows into Debezium change
//! records and handing them to the task in bounded batches.
//!
//! Contracts:
//! - Order: snapshot records first, then streamed transactions in commit
//!   order, events in WAL order within a transaction; a blocking snapshot's
//!   records come after the signal that asked for it (see [`blocking`]).
//! - Offsets (Debezium's keys `lsn`, `lsn_proc`, `lsn_commit`, `txId`,
//!   `ts_usec`): `lsn_commit` is the end LSN of the last transaction all of
//!   whose events precede or include this record; `lsn_proc`/`txId` identify
//!   the last event delivered inside a transaction still in progress. Of the
//!   several records one event can yield (delete + tombstone, or delete +
//!   tombstone + create for a key change) only the last completes the
//!   event's position, so a stored offset never claims half an event.
//! - Offsets are materialized lazily: a streamed change record carries an
//!   empty offset and partition (no position of its own, see
//!   [`velocity_api::SourceRecord`]); the position an event completes is kept
//!   as a [`StreamOffset`] and written into the record that ends a batch, so
//!   every batch's last record carries the newest position pushed so far.
//! - Resume: after a restart, transactions whose commit LSN is below the
//!   stored `lsn_commit` are skipped, and inside the stored transaction the
//!   events at or below `lsn_proc` — so nothing stored is emitted twice and
//!   nothing unstored is lost.
//! - Logical decoding messages (`pg_logical_emit_message`, PostgreSQL 14+,
//!   asked for with pgoutput's `messages` option) whose prefix
//!   `message.prefix.include.list` / `.exclude.list` keep become
//!   `<topic.prefix>.message` events. A transactional one is an event of its
//!   transaction like a row change. A non-transactional one is decoded at
//!   once, outside any transaction, and completes a position of its own, as
//!   in Debezium: `lsn_proc` = `lsn_commit` = `lsn` = its LSN, no `txId`,
//!   `messageType: "MESSAGE"`. A message's LSN is the end of its WAL record,
//!   so a restart from that offset starts after it.
//! - Acknowledgement: the flush LSN sent to PostgreSQL is the `lsn_commit`
//!   of the newest offset the runtime reports as stored (see
//!   [`crate::task`]); never anything newer.
//! - Transaction boundaries: after the last record of every transaction
//!   that yielded records (and after its END metadata record) comes a
//!   [`SourceRecord::transaction_end`] marker carrying the transaction's
//!   completing offset, for the runtime's stateful transforms; the runtime
//!   never produces it.
//! - Backpressure: batches go through a bounded channel; when it is full the
//!   reader waits, and PostgreSQL buffers WAL in the slot. At most
//!   `max.queue.size` records wait between the database and the task, as in
//!   Debezium (those in the channel, the batch whose send waits, and the
//!   batch being filled), plus the batch the task is working on.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, MissedTickBehavior};
use tokio_postgres::{Client, SimpleQueryMessage};
use velocity_api::debezium::blocking as blocking_offsets;
use velocity_api::debezium::options::{offset_text, FailureHandlingMode};
use velocity_api::debezium::source::snapshot_marker;
use velocity_api::debezium::{heartbeat, transaction, MessageEnvelope};
use velocity_api::{ConfigErrors, Offset, Partition, SourceMetrics, SourceRecord, Struct, Value};

use crate::catalog::{self, Table};
use crate::config::{
    PostgresConfig, PublicationMode, SnapshotMode, PUBLISH_VIA_PARTITION_ROOT,
    SELECT_OVERRIDE_PREFIX, SLOT_FAILOVER,
};
use crate::envelope::{now, source_block, SourcePosition, TableSchema};
use crate::error::PostgresError;
use crate::protocol::pgoutput::{Begin, Commit, LogicalMessage};
use crate::protocol::{
    decode_pgoutput, quote_identifier, quote_literal, Lsn, PgOutputMessage, ReplicationConnection,
    ReplicationMessage, TupleData, TupleValue, PG_EPOCH_OFFSET_US,
};
use crate::publication::{self, PublicationPlan};
use crate::replica_identity;
use crate::sql;
use crate::types::{Phase, UnavailablePlaceholder};

mod blocking;
mod incremental;
mod snapshot;

/// Most replication messages handled per wake-up of the stream loop before
/// its stop, commit-feedback and timer branches are looked at again.
const READY_BURST: usize = 1024;

/// Most records a new batch vector is allocated for up front (larger
/// `max.batch.size` values grow it on demand).
const BATCH_PREALLOC: usize = 4096;

/// What the reader sends: a batch, or the error that stopped it.
pub type Item = Result<Vec<SourceRecord>, PostgresError>;

/// The stored position the reader resumes from.
#[derive(Debug, Clone, Default)]
pub struct Resume {
    /// End LSN of the last fully delivered transaction.
    pub lsn_commit: u64,
    /// LSN of the last delivered event of the transaction in progress.
    pub lsn_proc: u64,
    /// That transaction's id.
    pub tx_id: Option<i64>,
    /// The stored offset belongs to a snapshot that did not finish.
    pub snapshot_incomplete: bool,
}

impl Resume {
    /// Reads Debezium-style offset keys.
    pub fn from_offset(o: &Offset) -> Resume {
        let n = |k: &str| o.get(k).and_then(|v| v.as_u64()).unwrap_or(0);
        // `snapshot` is `true` in Debezium 1.x/2.x offsets and the snapshot
        // kind (`"INITIAL"`, ...) in Debezium 3.x, which adds `snapshot_completed`;
        // `"INCREMENTAL"` and `"BLOCKING"` mark records of an incremental
        // or a blocking snapshot, which say nothing about the initial one
        let snapshot = match o.get("snapshot") {
            Some(serde_json::Value::Bool(b)) => *b,
            Some(serde_json::Value::String(s)) => {
                !s.is_empty()
                    && s != "false"
                    && !s.eq_ignore_ascii_case("INCREMENTAL")
                    && !s.eq_ignore_ascii_case(blocking_offsets::BLOCKING)
            }
            _ => false,
        };
        let last = o
            .get("last_snapshot_record")
            .and_then(|v| v.as_bool())
            .unwrap_or(false)
            || o.get("snapshot_completed").and_then(|v| v.as_bool()) == Some(true);
        Resume {
            lsn_commit: if o.contains_key("lsn_commit") {
                n("lsn_commit")
            } else {
                n("lsn")
            },
            lsn_proc: n("lsn_proc"),
            tx_id: o.get("txId").and_then(|v| v.as_i64()),
            snapshot_incomplete: snapshot && !last,
        }
    }
}

/// The handle the task holds.
pub struct ReaderHandle {
    /// Batches, the caught-up flag (set after a keepalive outside a
    /// transaction, cleared before any other batch) and the stop signal.
    pub link: velocity_api::source::ReaderLink<PostgresError>,
    /// Stored offsets, for flush LSN updates.
    pub committed: watch::Sender<Option<Offset>>,
}

/// Starts the reader for `cfg` resuming from `stored`.
pub fn spawn(
    cfg: Arc<PostgresConfig>,
    partition: Partition,
    stored: Option<Offset>,
    metrics: Arc<SourceMetrics>,
) -> ReaderHandle {
    // the channel's batches, plus one waiting in `send`, plus the one being
    // filled make max.queue.size (config validation: queue > batch)
    let capacity = (cfg.max_queue_size / cfg.max_batch_size)
        .saturating_sub(2)
        .max(1);
    let (tx, rx) = mpsc::channel(capacity);
    metrics.set_server(&cfg.topic_prefix);
    metrics
        .queue_total_capacity
        .store(cfg.max_queue_size as u64, Ordering::Relaxed);
    metrics
        .queue_remaining_capacity
        .store(cfg.max_queue_size as u64, Ordering::Relaxed);
    let (committed_tx, committed_rx) = watch::channel(None);
    let (stop_tx, stop_rx) = watch::channel(false);
    let caught_up = Arc::new(AtomicBool::new(false));
    let messages = crate::envelope::messages(&cfg);
    let mut reader = Reader {
        caught_up: caught_up.clone(),
        db: cfg.connect.dbname.clone(),
        cfg,
        partition,
        stored: stored.as_ref().map(Resume::from_offset),
        has_stored: stored.is_some(),
        tx,
        committed: committed_rx,
        stop: stop_rx,
        tables: HashMap::new(),
        batch: Vec::new(),
        last_pos: LastPos::Sent,
        last_offset: stored.unwrap_or_default(),
        metrics,
        inc: incremental::Incremental::default(),
        blocking: None,
        messages,
        server_version_num: 0,
        last_ts_us: None,
    };
    let join = tokio::spawn(async move {
        let tx = reader.tx.clone();
        let result = reader.run().await;
        reader.metrics.connected.store(false, Ordering::Relaxed);
        if let Err(e) = result {
            let _ = tx.send(Err(e)).await;
        }
    });
    ReaderHandle {
        link: velocity_api::source::ReaderLink {
            rx,
            stop: stop_tx,
            join,
            caught_up,
        },
        committed: committed_tx,
    }
}

/// Snapshot progress: Debezium's snapshot metrics and an INFO log line per
/// finished table and every [`SnapshotProgress::LOG_EVERY`] (tables done,
/// rows of the table, rate, estimated time left from the tables' row
/// estimates in `pg_class.reltuples`).
struct SnapshotProgress {
    tables: Vec<(String, u64)>,
    rows: Vec<u64>,
    done: usize,
    started: Instant,
    last_log: Instant,
}

impl SnapshotProgress {
    const LOG_EVERY: Duration = Duration::from_secs(10);

    async fn start(
        metrics: &SourceMetrics,
        client: &Client,
        captured: &[(u32, String, String)],
    ) -> SnapshotProgress {
        let mut tables = Vec::with_capacity(captured.len());
        for (oid, schema, name) in captured {
            // an estimate only: a failure leaves it unknown (0)
            let estimate = client
                .query_opt(
                    "SELECT GREATEST(reltuples, 0)::bigint FROM pg_class WHERE oid = $1",
                    &[oid],
                )
                .await
                .ok()
                .flatten()
                .map_or(0, |r| r.get::<_, i64>(0).max(0) as u64);
            tables.push((format!("{schema}.{name}"), estimate));
        }
        metrics.snapshot_running.store(true, Ordering::Relaxed);
        metrics.snapshot_completed.store(false, Ordering::Relaxed);
        metrics
            .total_table_count
            .store(tables.len() as u64, Ordering::Relaxed);
        metrics
            .remaining_table_count
            .store(tables.len() as u64, Ordering::Relaxed);
        let now = Instant::now();
        SnapshotProgress {
            rows: vec![0; tables.len()],
            tables,
            done: 0,
            started: now,
            last_log: now,
        }
    }

    fn rows(&mut self, metrics: &SourceMetrics, table: usize, rows: u64) {
        self.rows[table] += rows;
        metrics.rows_scanned(&self.tables[table].0, rows);
        metrics
            .snapshot_duration_secs
            .store(self.started.elapsed().as_secs(), Ordering::Relaxed);
        if self.last_log.elapsed() >= Self::LOG_EVERY {
            self.log(table, false);
        }
    }

    fn table_done(&mut self, metrics: &SourceMetrics, table: usize) {
        self.done += 1;
        metrics
            .remaining_table_count
            .store((self.tables.len() - self.done) as u64, Ordering::Relaxed);
        self.log(table, true);
    }

    fn log(&mut self, table: usize, finished: bool) {
        self.last_log = Instant::now();
        let elapsed = self.started.elapsed().as_secs_f64().max(0.001);
        let scanned: u64 = self.rows.iter().sum();
        let rate = scanned as f64 / elapsed;
        // rows still expected: the estimate of unfinished tables beyond what they already gave
        let left: u64 = self
            .tables
            .iter()
            .zip(&self.rows)
            .enumerate()
            .filter(|(i, _)| *i > table || (*i == table && !finished))
            .map(|(_, ((_, est), got))| est.saturating_sub(*got))
            .sum();
        let estimate_s = if rate > 0.0 { left as f64 / rate } else { 0.0 };
        tracing::info!(
            table = %self.tables[table].0,
            table_rows = self.rows[table],
            tables_done = self.done,
            tables_total = self.tables.len(),
            rows_scanned = scanned,
            rows_per_s = rate.round() as u64,
            estimated_remaining_s = estimate_s.round() as u64,
            "{}",
            if finished { "snapshot: table done" } else { "snapshot: in progress" }
        );
    }

    fn finish(&self, metrics: &SourceMetrics) {
        metrics.snapshot_running.store(false, Ordering::Relaxed);
        metrics.snapshot_completed.store(true, Ordering::Relaxed);
        metrics
            .snapshot_duration_secs
            .store(self.started.elapsed().as_secs(), Ordering::Relaxed);
        let scanned: u64 = self.rows.iter().sum();
        tracing::info!(
            tables = self.tables.len(),
            rows = scanned,
            seconds = self.started.elapsed().as_secs_f64(),
            "snapshot completed"
        );
    }
}

/// Debezium's `messageType` offset value of a logical decoding message.
const MESSAGE_TYPE: &str = "MESSAGE";

/// The data collection transactional logical decoding messages count under
/// in the transaction metadata: the identifier of Debezium's
/// `LogicalDecodingMessageId`. (Debezium 3.6.3's END record names it by
/// Java's default `toString`, `…LogicalDecodingMessageMonitor$LogicalDecodingMessageId@<hash>`,
/// a different text in every run; Velocity writes the stable identifier.
/// Otherwise a transactional message is counted as Debezium counts it: in
/// `total_order` with the row changes, its own `data_collection_order`.)
const MESSAGE_DATA_COLLECTION: &str = "LOGICAL_DECODING_MESSAGE";

/// The position a streamed change event completes (Debezium's offset keys),
/// kept as numbers until a record that ends a batch needs it as an
/// [`Offset`]: building a JSON map per event cost more than decoding it.
#[derive(Debug, Clone)]
struct StreamOffset {
    lsn_proc: u64,
    lsn_commit: u64,
    lsn: u64,
    /// None for a non-transactional message (Debezium writes no `txId`).
    tx_id: Option<i64>,
    ts_usec: i64,
    /// The incremental snapshot's keys when the event was read, while one
    /// runs (see [`velocity_api::debezium::incremental`]).
    incremental: Option<Arc<Offset>>,
    /// A non-transactional message's own position (`messageType: "MESSAGE"`).
    message: bool,
}

impl StreamOffset {
    fn to_offset(&self) -> Offset {
        let mut o = Offset::new();
        o.insert("lsn_proc".into(), self.lsn_proc.into());
        o.insert("lsn_commit".into(), self.lsn_commit.into());
        o.insert("lsn".into(), self.lsn.into());
        if let Some(tx) = self.tx_id {
            o.insert("txId".into(), tx.into());
        }
        o.insert("ts_usec".into(), self.ts_usec.into());
        if let Some(inc) = &self.incremental {
            o.extend(inc.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        if self.message {
            o.insert("messageType".into(), MESSAGE_TYPE.into());
        }
        o
    }
}

/// One table a snapshot reads.
struct SnapshotTable {
    /// Its oid.
    oid: u32,
    /// Schema and name.
    id: (String, String),
    /// The schemas its rows are decoded with (the statement's columns are
    /// the table's, in this order).
    ts: Arc<TableSchema>,
    /// The statement that reads it.
    select: String,
}

/// Where the records of a snapshot stand: their `source` position and
/// their offsets.
struct SnapshotStamp {
    /// `source.lsn`, and the initial snapshot's `lsn` offset key.
    lsn: u64,
    /// `source.txId`.
    xid: Option<i64>,
    /// `source.ts_us` (when the snapshot started).
    ts_us: i64,
    /// `source.sequence`.
    sequence: Option<String>,
    /// None: the initial snapshot; Some: the streaming offset a blocking
    /// snapshot's records carry (see [`velocity_api::debezium::blocking`]).
    blocking: Option<Offset>,
}

impl SnapshotStamp {
    /// The offset of a record, `last` for the snapshot's last.
    fn offset(&self, last: bool) -> Offset {
        match &self.blocking {
            Some(base) => {
                let mut o = base.clone();
                blocking_offsets::mark_offset(&mut o, last, true);
                o
            }
            None => [
                ("last_snapshot_record", last.into()),
                ("lsn", self.lsn.into()),
                ("txId", self.xid.map_or(serde_json::Value::Null, Into::into)),
                ("ts_usec", self.ts_us.into()),
                ("snapshot", true.into()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
        }
    }
}

/// The quoted columns of `table`, in table order (`*` when it has none).
fn snapshot_projection(table: &Table) -> String {
    if table.columns.is_empty() {
        return "*".to_owned();
    }
    table
        .columns
        .iter()
        .map(|c| quote_identifier(&c.name).unwrap_or_default())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `"schema"."name"`.
fn qualified_name(schema: &str, name: &str) -> String {
    format!(
        "{}.{}",
        quote_identifier(schema).unwrap_or_default(),
        quote_identifier(name).unwrap_or_default()
    )
}

/// Where the newest position pushed so far lives.
#[derive(Debug, Clone)]
enum LastPos {
    /// In [`Reader::last_offset`] (the end of the last batch sent).
    Sent,
    /// In the offset of the batch's record at this index.
    InBatch(usize),
    /// Completed by a streamed record of the batch, not materialized yet.
    Lazy(StreamOffset),
}

struct Txn {
    xid: u32,
    commit_ts_us: i64,
    skip_all: bool,
    pending: Vec<SourceRecord>,
    /// The position the last of `pending` completes (None: it completes none).
    pending_pos: Option<StreamOffset>,
    /// `txId:lsn` once the first captured event was seen (transaction metadata).
    meta_id: Option<String>,
    /// Events so far, for `total_order`.
    total: i64,
    /// Events per `schema.table`, in first-seen order.
    per_table: Vec<(String, i64)>,
}

impl Txn {
    /// The transaction `b` opens; `skip_all` when it committed before the
    /// resume position (already delivered).
    fn begin(b: &Begin, resume: &Resume) -> Txn {
        Txn {
            xid: b.xid,
            commit_ts_us: pg_ts_to_unix_us(b.commit_ts_us),
            skip_all: b.final_lsn.0 < resume.lsn_commit,
            pending: Vec::new(),
            pending_pos: None,
            meta_id: None,
            total: 0,
            per_table: Vec::new(),
        }
    }
}

struct Reader {
    cfg: Arc<PostgresConfig>,
    db: String,
    partition: Partition,
    stored: Option<Resume>,
    has_stored: bool,
    tx: mpsc::Sender<Item>,
    committed: watch::Receiver<Option<Offset>>,
    stop: watch::Receiver<bool>,
    tables: HashMap<u32, Option<Arc<TableSchema>>>,
    batch: Vec<SourceRecord>,
    last_pos: LastPos,
    last_offset: Offset,
    metrics: Arc<SourceMetrics>,
    caught_up: Arc<AtomicBool>,
    /// Signals and the incremental snapshot (see [`incremental`]).
    inc: incremental::Incremental,
    /// A blocking snapshot a signal asked for, run once the signal's
    /// message is handled (see [`blocking`]).
    blocking: Option<blocking::Pending>,
    /// The schemas of logical decoding message events.
    messages: MessageEnvelope,
    /// `server_version_num` (e.g. 150020), read at start.
    server_version_num: u32,
    /// The newest commit (or snapshot) time seen, µs since the epoch: the
    /// `source` time of a non-transactional message, which has none of
    /// its own (Debezium keeps the previous event's).
    last_ts_us: Option<i64>,
}

fn pg_ts_to_unix_us(pg: i64) -> i64 {
    pg.saturating_add(PG_EPOCH_OFFSET_US)
}

impl Reader {
    fn addr(&self) -> String {
        format!("{}:{}", self.cfg.connect.host, self.cfg.connect.port)
    }

    /// Sends the batch being filled (if any) to the task. `caught_up`:
    /// the server reported nothing written after it (see
    /// [`velocity_api::source::ReaderLink::caught_up`]).
    async fn send_batch_marked(&mut self, caught_up: bool) -> Result<(), PostgresError> {
        if !caught_up {
            self.caught_up.store(false, Ordering::Release);
        }
        self.send_batch().await?;
        if caught_up {
            self.caught_up.store(true, Ordering::Release);
        }
        Ok(())
    }

    async fn send_batch(&mut self) -> Result<(), PostgresError> {
        if self.batch.is_empty() {
            return Ok(());
        }
        self.caught_up.store(false, Ordering::Release);
        let latest = self.last_offset();
        let mut batch = std::mem::replace(
            &mut self.batch,
            Vec::with_capacity(self.cfg.max_batch_size.min(BATCH_PREALLOC)),
        );
        if let Some(last) = batch.last_mut() {
            if last.source_offset.is_empty() && !latest.is_empty() {
                // the batch ends with a record of no position of its own:
                // it carries the newest position pushed (storing it once
                // this record is acknowledged claims nothing unsent)
                last.source_offset = latest.clone();
                last.source_partition = self.partition.clone();
            }
        }
        self.last_offset = latest;
        self.last_pos = LastPos::Sent;
        self.tx
            .send(Ok(batch))
            .await
            .map_err(|_| PostgresError::Query("task stopped".into()))?;
        self.metrics.queue_free(
            self.tx.capacity(),
            self.cfg.max_batch_size,
            self.cfg.max_queue_size,
        );
        Ok(())
    }

    /// The newest position pushed (materialized on demand: once per batch
    /// in [`Self::send_batch`], and for the rare records that need it).
    fn last_offset(&self) -> Offset {
        match self.last_pos {
            LastPos::Sent => self.last_offset.clone(),
            LastPos::InBatch(i) => self.batch[i].source_offset.clone(),
            LastPos::Lazy(ref p) => p.to_offset(),
        }
    }

    /// Pushes a record that carries its own offset, or none (empty).
    async fn push(&mut self, r: SourceRecord) -> Result<(), PostgresError> {
        self.push_at(r, None).await
    }

    /// Pushes the records of one event; the last completes `pos`, if any.
    async fn push_event(
        &mut self,
        records: Vec<SourceRecord>,
        mut pos: Option<StreamOffset>,
    ) -> Result<(), PostgresError> {
        let n = records.len();
        for (i, r) in records.into_iter().enumerate() {
            let p = if i + 1 == n { pos.take() } else { None };
            self.push_at(r, p).await?;
        }
        Ok(())
    }

    async fn push_at(
        &mut self,
        r: SourceRecord,
        pos: Option<StreamOffset>,
    ) -> Result<(), PostgresError> {
        if let Some(p) = pos {
            self.last_pos = LastPos::Lazy(p);
        } else if !r.source_offset.is_empty() {
            self.last_pos = LastPos::InBatch(self.batch.len());
        }
        self.batch.push(r);
        if self.batch.len() >= self.cfg.max_batch_size {
            self.send_batch().await?;
        }
        Ok(())
    }

    async fn run(&mut self) -> Result<(), PostgresError> {
        let cfg = self.cfg.clone();
        let client = sql::connect(&cfg.connect).await?;
        let wal_level = sql::scalar(&client, "SHOW wal_level")
            .await?
            .unwrap_or_default();
        if wal_level != "logical" {
            return Err(PostgresError::WalLevel(wal_level));
        }
        let server = ServerVersion::query(&client).await?;
        let standby = cfg.slot_failover
            && server.num >= 170_000
            && sql::scalar(&client, "SELECT pg_is_in_recovery()")
                .await?
                .is_some_and(|v| v == "t");
        if let Some(e) = server.refuses(&cfg, standby) {
            return Err(PostgresError::Config(e));
        }
        self.server_version_num = server.num;
        // The slot: in use by someone else? (checked before anything is created;
        // retried, because after a crash the old walsender may hold it a little longer)
        let mut attempt = 0;
        let slot_rows = loop {
            let rows = client
                .query(
                    "SELECT active, active_pid::text, confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1",
                    &[&cfg.slot_name],
                )
                .await
                .map_err(|e| PostgresError::from_query(e, &cfg.connect.user, &self.addr()))?;
            let active_pid = rows
                .first()
                .filter(|r| r.get::<_, bool>(0))
                .map(|r| r.get::<_, Option<String>>(1));
            match active_pid {
                Some(pid) if attempt < cfg.slot_max_retries => {
                    attempt += 1;
                    tracing::warn!(slot = %cfg.slot_name, pid = ?pid, attempt, "replication slot is active; retrying after slot.retry.delay.ms");
                    tokio::time::sleep(cfg.slot_retry_delay).await;
                }
                Some(pid) => {
                    return Err(PostgresError::SlotInUse {
                        slot: cfg.slot_name.clone(),
                        pid: pid.unwrap_or_else(|| "unknown".into()),
                    });
                }
                None => break rows,
            }
        };
        let slot_exists = !slot_rows.is_empty();
        // Captured tables, in name order (the snapshot order).
        let mut captured: Vec<(u32, String, String)> = catalog::list_tables(&client)
            .await
            .map_err(|e| PostgresError::Query(e.to_string()))?
            .into_iter()
            .filter(|(_, s, t)| cfg.filters.table(s, t))
            .collect();
        captured.sort_by(|a, b| (&a.1, &a.2).cmp(&(&b.1, &b.2)));
        if cfg.publish_via_partition_root {
            // a partition's changes arrive as its captured ancestor's: read
            // and publish the ancestor only, so no row is read twice
            let parents = catalog::partition_parents(&client)
                .await
                .map_err(|e| PostgresError::Query(e.to_string()))?;
            let (kept, covered) = catalog::split_covered_partitions(captured, &parents);
            if !covered.is_empty() {
                tracing::info!(partitions = ?covered, "publish.via.partition.root: these partitions are read and streamed through their partitioned table");
            }
            captured = kept;
        }
        self.ensure_publication(&client, &captured).await?;
        // Debezium: after the publication, before the slot; errors are logged
        replica_identity::apply(&client, &cfg.replica_identity, &captured).await;

        let mut stream = true;
        let need_snapshot = match cfg.snapshot_mode {
            SnapshotMode::NoData => false,
            SnapshotMode::Always => true,
            SnapshotMode::Initial | SnapshotMode::InitialOnly => {
                !self.has_stored || self.stored.as_ref().is_some_and(|r| r.snapshot_incomplete)
            }
            SnapshotMode::WhenNeeded => {
                !self.has_stored
                    || !slot_exists
                    || self.stored.as_ref().is_some_and(|r| r.snapshot_incomplete)
            }
            SnapshotMode::ConfigurationBased => {
                let plan = cfg
                    .configuration_based
                    .start(self.has_stored, slot_exists)
                    .map_err(|e| {
                        PostgresError::PositionLost(
                            e.unwrap_or_else(|| position_gone(&cfg.slot_name)),
                        )
                    })?;
                if plan.reset_offsets {
                    self.has_stored = false;
                    self.stored = None;
                }
                stream = plan.stream;
                plan.snapshot_data
            }
        };
        if self.has_stored && !slot_exists && !need_snapshot {
            return Err(PostgresError::PositionLost(position_gone(&cfg.slot_name)));
        }
        let mut repl = ReplicationConnection::connect(&cfg.connect)
            .await
            .map_err(|e| PostgresError::from_protocol(e, &cfg.connect.user, &self.addr()))?;
        let mut start = self
            .stored
            .as_ref()
            .map(|r| Lsn(r.lsn_commit))
            .unwrap_or(Lsn(0));
        let mut snapshot_name = None;
        if !slot_exists {
            let info = repl
                .create_logical_slot(&cfg.slot_name, "pgoutput", need_snapshot, cfg.slot_failover)
                .await
                .map_err(|e| match e.sqlstate() {
                    Some("55006") => PostgresError::SlotInUse {
                        slot: cfg.slot_name.clone(),
                        pid: "unknown".into(),
                    },
                    _ => PostgresError::from_protocol(e, &cfg.connect.user, &self.addr()),
                })?;
            tracing::info!(slot = %cfg.slot_name, consistent_point = %info.consistent_point, "created replication slot");
            snapshot_name = info.snapshot_name;
            if need_snapshot || !self.has_stored {
                start = info.consistent_point;
            }
        } else if need_snapshot {
            tracing::warn!(slot = %cfg.slot_name, "the slot already exists, so the snapshot cannot use its exported snapshot: changes committed between the slot's position and the snapshot may be delivered twice (never lost)");
        }
        if need_snapshot {
            let consistent = if slot_exists { None } else { Some(start) };
            self.snapshot(&client, snapshot_name.as_deref(), consistent, &captured)
                .await?;
            self.send_batch().await?;
            if let Some(r) = self.last_offset.get("lsn").and_then(|v| v.as_u64()) {
                start = start.max(Lsn(r));
            }
            self.stored = Some(Resume {
                lsn_commit: start.0,
                ..Resume::default()
            });
            if cfg.snapshot_mode == SnapshotMode::InitialOnly {
                tracing::info!("snapshot.mode=initial_only: snapshot complete, not streaming");
                let _ = self.stop.changed().await;
                return Ok(());
            }
        }
        if !stream {
            tracing::info!("Streaming is disabled for snapshot mode configuration_based");
            let _ = self.stop.changed().await;
            return Ok(());
        }
        // pgoutput sends logical decoding messages only when asked (PostgreSQL 14+)
        let messages = self.server_version_num >= 140_000;
        self.stream(
            &client,
            repl_start(&mut repl, &cfg, start, messages).await?,
            start,
        )
        .await
    }

    /// Creates the publication when it is missing (or, `filtered`, sets its
    /// tables), as `publication.autocreate.mode` says, with Debezium's `WITH`
    /// options (`publish_via_partition_root`, `publish` from
    /// `skipped.operations`; see [`publication::plan`]); fails when it is
    /// missing and `disabled`.
    async fn ensure_publication(
        &self,
        client: &Client,
        captured: &[(u32, String, String)],
    ) -> Result<(), PostgresError> {
        let cfg = &self.cfg;
        // pubviaroot exists since PostgreSQL 13 (older servers publish partitions as themselves)
        let via_root_sql = if self.server_version_num >= 130_000 {
            "SELECT pubviaroot FROM pg_publication WHERE pubname = $1"
        } else {
            "SELECT false FROM pg_publication WHERE pubname = $1"
        };
        let existing = client
            .query(via_root_sql, &[&cfg.publication_name])
            .await
            .map_err(|e| PostgresError::from_query(e, &cfg.connect.user, &self.addr()))?;
        let exists = !existing.is_empty();
        if let Some(row) = existing.first() {
            let via_root: bool = row.get(0);
            if via_root != cfg.publish_via_partition_root {
                // as Debezium, an existing publication is not re-created
                tracing::warn!(publication = %cfg.publication_name, publish_via_partition_root = via_root, "the existing publication's publish_via_partition_root differs from publish.via.partition.root={}: changes of partitions are published as the publication says; drop the publication to have it created anew", cfg.publish_via_partition_root);
            }
        }
        let pubname = quote_identifier(&cfg.publication_name)
            .map_err(|e| PostgresError::Query(e.to_string()))?;
        let tables = captured
            .iter()
            .map(|(_, s, t)| Ok(format!("{}.{}", quote_identifier(s)?, quote_identifier(t)?)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e: crate::protocol::ProtocolError| PostgresError::Query(e.to_string()))?
            .join(", ");
        let plan = publication::plan(
            cfg.publication_mode,
            exists,
            &pubname,
            (!tables.is_empty()).then_some(tables.as_str()),
            cfg.publish_via_partition_root,
            cfg.publication_publish.as_deref(),
        )
        .map_err(|e| {
            PostgresError::Query(format!("{e}: no table matches the schema/table include and exclude lists (publication.autocreate.mode=filtered)"))
        })?;
        match plan {
            PublicationPlan::Keep => Ok(()),
            PublicationPlan::Missing => Err(PostgresError::PublicationMissing(
                cfg.publication_name.clone(),
            )),
            PublicationPlan::Run { log, statements } => {
                tracing::info!(publication = %cfg.publication_name, "{log}");
                for sql in statements {
                    client.batch_execute(&sql).await.map_err(|e| {
                        PostgresError::from_query(e, &cfg.connect.user, &self.addr())
                    })?;
                }
                Ok(())
            }
        }
    }

    async fn table_schema(
        &mut self,
        client: &Client,
        oid: u32,
        relation: Option<&crate::protocol::pgoutput::Relation>,
    ) -> Result<Option<Arc<TableSchema>>, PostgresError> {
        if relation.is_none() {
            if let Some(t) = self.tables.get(&oid) {
                return Ok(t.clone());
            }
        }
        let mut table: Table = catalog::load_table(client, oid)
            .await
            .map_err(|e| PostgresError::Query(e.to_string()))?;
        if !self.cfg.filters.table(&table.schema, &table.name) {
            self.tables.insert(oid, None);
            return Ok(None);
        }
        if let Some(rel) = relation {
            // pgoutput's column list is authoritative for the tuple layout.
            let mut cols = Vec::with_capacity(rel.columns.len());
            for rc in &rel.columns {
                match table.columns.iter().position(|c| c.name == rc.name) {
                    Some(i) => cols.push(table.columns[i].clone()),
                    None => {
                        let pg_type = catalog::load_type(client, rc.type_oid)
                            .await
                            .map_err(|e| PostgresError::Query(e.to_string()))?;
                        cols.push(catalog::Column {
                            name: rc.name.clone(),
                            attnum: 0,
                            pg_type,
                            typmod: rc.type_modifier,
                            not_null: false,
                            default_expr: None,
                        });
                    }
                }
            }
            table.columns = cols;
        }
        // a Relation message describes the table as Debezium's stream sees it
        let phase = if relation.is_some() {
            Phase::Stream
        } else {
            Phase::Snapshot
        };
        let ts = Arc::new(TableSchema::build(&self.cfg, &table, phase));
        if self.is_signal_table(&table.schema, &table.name) {
            self.inc.signal_oid = Some(oid);
        }
        self.tables.insert(oid, Some(ts.clone()));
        Ok(Some(ts))
    }

    fn row_from_text<'a>(
        ts: &TableSchema,
        cells: impl Fn(usize) -> Option<&'a str>,
        phase: Phase,
    ) -> Result<Struct, PostgresError> {
        let mut row = ts.events.new_row();
        for s in &ts.slots {
            let v =
                match cells(s.tuple_index) {
                    None => Value::Null,
                    Some(t) => s.mapping.decode(t.as_bytes(), phase).map_err(|e| {
                        PostgresError::Decode {
                            what: format!("{}.{}.{}", ts.schema, ts.table, s.mapping.name),
                            detail: e.to_string(),
                        }
                    })?,
                };
            row.values.push(fit(&s.mapping, v));
        }
        Ok(row)
    }

    /// The row of tuple `t`; an unchanged TOASTed value becomes the
    /// column's rendering of `placeholder` (`unavailable.value.placeholder`).
    fn row_from_tuple(
        ts: &TableSchema,
        t: &TupleData,
        placeholder: &UnavailablePlaceholder,
    ) -> Result<Struct, PostgresError> {
        let mut row = ts.events.new_row();
        for s in &ts.slots {
            let v = match t.0.get(s.tuple_index) {
                None | Some(TupleValue::Null) => {
                    if s.mapping.schema.optional {
                        Value::Null
                    } else {
                        s.mapping.zero_value()
                    }
                }
                Some(TupleValue::UnchangedToast) => s.mapping.unavailable_value(placeholder),
                Some(TupleValue::Text(b)) | Some(TupleValue::Binary(b)) => s
                    .mapping
                    .decode(b, Phase::Stream)
                    .map_err(|e| PostgresError::Decode {
                        what: format!("{}.{}.{}", ts.schema, ts.table, s.mapping.name),
                        detail: e.to_string(),
                    })?,
            };
            row.values.push(fit(&s.mapping, v));
        }
        Ok(row)
    }

    /// The initial snapshot of `captured` (those
    /// `snapshot.include.collection.list` keeps) inside `exported` (the
    /// slot's snapshot; None: a snapshot of the reader's own), read by
    /// `snapshot.max.threads` workers (see [`snapshot`]); the records, in
    /// arrival order, carry the snapshot's offset, the last one
    /// `last_snapshot_record: true` and the marker `last`.
    async fn snapshot(
        &mut self,
        client: &Client,
        exported: Option<&str>,
        consistent: Option<Lsn>,
        captured: &[(u32, String, String)],
    ) -> Result<(), PostgresError> {
        let cfg = self.cfg.clone();
        let q = |e: tokio_postgres::Error| PostgresError::Query(e.to_string());
        for t in cfg.snapshot.overrides_missing() {
            tracing::warn!("Detected snapshot.select.statement.overrides for {SELECT_OVERRIDE_PREFIX}{t} but no statement property {t} defined");
        }
        client
            .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await
            .map_err(q)?;
        let snapshot_id = match exported {
            Some(name) => {
                let lit = quote_literal(name).map_err(|e| PostgresError::Query(e.to_string()))?;
                client
                    .batch_execute(&format!("SET TRANSACTION SNAPSHOT {lit}"))
                    .await
                    .map_err(q)?;
                name.to_owned()
            }
            // the workers share this transaction's snapshot
            None => sql::scalar(client, "SELECT pg_export_snapshot()")
                .await?
                .unwrap_or_default(),
        };
        let lsn = match consistent {
            Some(l) => l.0,
            None => sql::scalar(client, "SELECT pg_current_wal_lsn()::text")
                .await?
                .and_then(|s| s.parse::<Lsn>().ok())
                .map_or(0, |l| l.0),
        };
        let xid: Option<i64> = sql::scalar(
            client,
            "SELECT txid_snapshot_xmin(txid_current_snapshot())::text",
        )
        .await?
        .and_then(|s| s.parse().ok());
        let (_, ts_us, _) = now();
        self.last_ts_us = Some(ts_us);
        let stamp = SnapshotStamp {
            lsn,
            xid,
            ts_us,
            sequence: Some(format!("[null,\"{lsn}\"]")),
            blocking: None,
        };
        let included: Vec<(u32, String, String)> = captured
            .iter()
            .filter(|(_, s, t)| {
                let keep = cfg.snapshot.includes(s, t);
                if !keep {
                    tracing::info!(table = %format!("{s}.{t}"), "not in snapshot.include.collection.list: streamed only");
                }
                keep
            })
            .cloned()
            .collect();
        let mut tables = Vec::with_capacity(included.len());
        let mut read = Vec::with_capacity(included.len());
        for (oid, schema, name) in &included {
            let Some(ts) = self.table_schema(client, *oid, None).await? else {
                continue;
            };
            let table = catalog::load_table(client, *oid)
                .await
                .map_err(|e| PostgresError::Query(e.to_string()))?;
            tables.push(snapshot::SnapTable::new(&cfg.snapshot, &table, ts));
            read.push((*oid, schema.clone(), name.clone()));
        }
        tracing::info!(
            tables = tables.len(),
            threads = cfg.snapshot.max_threads,
            "snapshot started"
        );
        let mut progress = SnapshotProgress::start(&self.metrics, client, &read).await;
        let chunks = snapshot::plan(client, &cfg.snapshot, &tables).await?;
        let mut chunks_left: Vec<usize> = vec![0; tables.len()];
        for c in &chunks {
            chunks_left[c.table] += 1;
        }
        let workers = cfg.snapshot.max_threads.min(chunks.len());
        let shared = Arc::new(snapshot::Shared::new(&cfg.snapshot, tables, chunks));
        let (wtx, mut wrx) = mpsc::channel(2 * workers.max(1));
        // dropped (aborting the workers) when this returns, also early
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..workers {
            set.spawn(snapshot::worker(
                cfg.clone(),
                snapshot_id.clone(),
                shared.clone(),
                wtx.clone(),
            ));
        }
        drop(wtx);
        // the record read last, emitted when the next one comes or, marked
        // `last`, at the end (Debezium's buffering snapshot receiver)
        let mut held: Option<(Arc<TableSchema>, Struct, &'static str)> = None;
        while let Some(msg) = wrx.recv().await {
            match msg? {
                snapshot::Msg::Rows { table, rows } => {
                    progress.rows(&self.metrics, table, rows.len() as u64);
                    let ts = &shared.tables[table].ts;
                    for (row, marker) in rows {
                        if let Some((hts, hrow, hmarker)) = held.replace((ts.clone(), row, marker))
                        {
                            self.emit_snapshot(&hts, hrow, hmarker, false, &stamp)
                                .await?;
                        }
                    }
                }
                snapshot::Msg::ChunkDone { table } => {
                    chunks_left[table] -= 1;
                    if chunks_left[table] == 0 {
                        progress.table_done(&self.metrics, table);
                    }
                }
            }
        }
        // a worker that panicked sent no error: its rows are missing
        while let Some(joined) = set.join_next().await {
            joined.map_err(|e| PostgresError::Query(format!("snapshot worker failed: {e}")))?;
        }
        if let Some((hts, hrow, _)) = held.take() {
            self.emit_snapshot(&hts, hrow, "last", true, &stamp).await?;
        }
        client.batch_execute("COMMIT").await.map_err(q)?;
        progress.finish(&self.metrics);
        Ok(())
    }

    /// Reads `tables` in order inside the snapshot transaction open on
    /// `client` (each through a cursor on its `select`, fetching
    /// `snapshot.fetch.size` rows at a time) and pushes an `op: "r"` record
    /// per row, stamped by `stamp`. Each row is held until the next one
    /// (or the end) shows where it stands, so that it gets its
    /// `source.snapshot` marker; the last row of all is the last one
    /// emitted, whatever tables follow it empty (as Debezium marks it when
    /// the snapshot completes). Keeps the snapshot metrics and logs progress.
    async fn read_snapshot_tables(
        &mut self,
        client: &Client,
        tables: &[SnapshotTable],
        stamp: &SnapshotStamp,
    ) -> Result<(), PostgresError> {
        let cfg = self.cfg.clone();
        let q = |e: tokio_postgres::Error| PostgresError::Query(e.to_string());
        let ids: Vec<(u32, String, String)> = tables
            .iter()
            .map(|t| (t.oid, t.id.0.clone(), t.id.1.clone()))
            .collect();
        let mut progress = SnapshotProgress::start(&self.metrics, client, &ids).await;
        // the row read last: (table, row, first_in_table, last_in_table)
        let mut held: Option<(Arc<TableSchema>, Struct, bool, bool)> = None;
        let mut first_overall = true;
        for (ti, t) in tables.iter().enumerate() {
            let ts = &t.ts;
            client
                .batch_execute(&format!(
                    "DECLARE velocity_snapshot NO SCROLL CURSOR FOR {}",
                    t.select
                ))
                .await
                .map_err(q)?;
            let mut first_in_table = true;
            loop {
                let msgs = client
                    .simple_query(&format!(
                        "FETCH {} FROM velocity_snapshot",
                        cfg.snapshot_fetch_size
                    ))
                    .await
                    .map_err(q)?;
                let mut got: usize = 0;
                for m in msgs {
                    if let SimpleQueryMessage::Row(r) = m {
                        got += 1;
                        let row = Self::row_from_text(ts, |i| r.get(i), Phase::Snapshot)?;
                        if let Some((hts, hrow, hfirst, hlast)) = held.take() {
                            let marker =
                                snapshot_marker(first_overall && hfirst, false, hfirst, hlast);
                            first_overall = false;
                            self.emit_snapshot(&hts, hrow, marker, false, stamp).await?;
                        }
                        held = Some((ts.clone(), row, first_in_table, false));
                        first_in_table = false;
                    }
                }
                progress.rows(&self.metrics, ti, got as u64);
                if got < cfg.snapshot_fetch_size {
                    break;
                }
            }
            progress.table_done(&self.metrics, ti);
            client
                .batch_execute("CLOSE velocity_snapshot")
                .await
                .map_err(q)?;
            // the held row, if of this table, is its last
            if let Some(h) = held.as_mut().filter(|h| Arc::ptr_eq(&h.0, ts)) {
                h.3 = true;
            }
        }
        if let Some((hts, hrow, hfirst, _)) = held.take() {
            let m = snapshot_marker(first_overall && hfirst, true, hfirst, true);
            self.emit_snapshot(&hts, hrow, m, true, stamp).await?;
        }
        progress.finish(&self.metrics);
        Ok(())
    }

    async fn emit_snapshot(
        &mut self,
        ts: &TableSchema,
        row: Struct,
        marker: &'static str,
        last: bool,
        stamp: &SnapshotStamp,
    ) -> Result<(), PostgresError> {
        let pos = SourcePosition {
            snapshot: marker,
            ts_us: stamp.ts_us,
            tx_id: stamp.xid,
            lsn: Some(stamp.lsn as i64),
            sequence: stamp.sequence.clone(),
            transaction: None,
        };
        let rec = ts.change(
            &self.cfg,
            &self.db,
            "r",
            None,
            row,
            &pos,
            &self.partition,
            stamp.offset(last),
        );
        self.push(rec).await
    }

    async fn stream(
        &mut self,
        client: &Client,
        mut stream: crate::protocol::ReplicationStream,
        start: Lsn,
    ) -> Result<(), PostgresError> {
        let cfg = self.cfg.clone();
        tracing::info!(slot = %cfg.slot_name, %start, "streaming changes");
        self.metrics.connected.store(true, Ordering::Relaxed);
        let mut confirmed = start;
        let mut last_end = Lsn(self.stored.as_ref().map_or(start.0, |r| r.lsn_commit));
        let mut idle_wal_end = last_end;
        let mut txn: Option<Txn> = None;
        let mut status = tokio::time::interval(cfg.status_update_interval);
        status.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut heartbeat =
            tokio::time::interval(cfg.heartbeat_interval.unwrap_or(Duration::from_secs(3600)));
        heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
        heartbeat.tick().await;
        let mut linger: Option<Instant> = None;
        let resume = self.stored.clone().unwrap_or_default();
        self.blocking_resume_check();
        self.incremental_start(client).await?;
        self.open_signal_channel().await?;
        loop {
            tokio::select! {
                biased;
                _ = self.stop.changed() => break,
                r = velocity_kafka_log::signal::next(&mut self.inc.kafka), if txn.is_none() => {
                    let r = r.map_err(|source| PostgresError::SignalChannel {
                        topic: self.inc.kafka.as_ref().map_or_else(String::new, |k| k.topic().to_owned()),
                        source: Box::new(source),
                    })?;
                    let at = StreamOffset {
                        lsn_proc: last_end.0,
                        lsn_commit: last_end.0,
                        lsn: last_end.0,
                        tx_id: None,
                        ts_usec: self.last_ts_us.unwrap_or_default(),
                        incremental: None,
                        message: false,
                    };
                    self.kafka_signal(client, r, at).await?;
                    if self.blocking.is_some() {
                        self.blocking_snapshot(client, &mut stream, confirmed).await?;
                    }
                }
                _ = async { tokio::time::sleep_until(linger.unwrap_or_else(Instant::now)).await }, if linger.is_some() => {
                    linger = None;
                    self.send_batch().await?;
                }
                c = self.committed.changed() => {
                    if c.is_err() { break; }
                    let off = self.committed.borrow_and_update().clone();
                    if let Some(l) = off.as_ref().and_then(|o| o.get("lsn_commit")).and_then(|v| v.as_u64()) {
                        if Lsn(l) > confirmed {
                            confirmed = Lsn(l);
                            stream.send_standby_status(stream.last_wal_end().max(confirmed), confirmed, confirmed, false).await.map_err(PostgresError::Protocol)?;
                        }
                    }
                }
                _ = status.tick() => {
                    stream.send_standby_status(stream.last_wal_end().max(confirmed), confirmed, confirmed, false).await.map_err(PostgresError::Protocol)?;
                }
                _ = heartbeat.tick(), if cfg.heartbeat_interval.is_some() => {
                    if let Some(q) = &cfg.heartbeat_action_query {
                        if let Err(e) = client.batch_execute(q).await {
                            tracing::warn!(error = %e, "heartbeat.action.query failed");
                        }
                    }
                    tracing::debug!(open_transaction = txn.is_some(), %last_end, %idle_wal_end, %confirmed, "heartbeat");
                    if txn.is_none() {
                        let pos = last_end.max(idle_wal_end);
                        let rec = self.heartbeat_record(pos);
                        self.push(rec).await?;
                        linger.get_or_insert_with(|| Instant::now() + Duration::from_millis(1));
                    }
                }
                msg = stream.next() => {
                    let mut msg = msg;
                    // Messages already buffered (or readable without waiting)
                    // are handled here, up to READY_BURST of them, without
                    // going back through the select: re-arming its timers
                    // and watches per WAL message cost more than decoding it.
                    let mut burst = 0;
                    // a keepalive outside a transaction after the last
                    // change read: the server has nothing more right now
                    let mut idle = false;
                    loop {
                        let Some(m) = msg.map_err(|e| PostgresError::from_protocol(e, &cfg.connect.user, &self.addr()))? else {
                            return Err(PostgresError::Query("the server ended replication".into()));
                        };
                        match m {
                            ReplicationMessage::PrimaryKeepalive { wal_end, reply_requested, .. } => {
                                if txn.is_none() {
                                    idle = true;
                                    idle_wal_end = idle_wal_end.max(wal_end);
                                    // messages arrive in WAL order: at a keepalive
                                    // outside a transaction everything the server
                                    // sent before wal_end is handled, nothing is behind
                                    self.metrics.caught_up();
                                }
                                if reply_requested {
                                    stream.send_standby_status(stream.last_wal_end().max(confirmed), confirmed, confirmed, false).await.map_err(PostgresError::Protocol)?;
                                }
                            }
                            ReplicationMessage::XLogData { wal_start, data, .. } => {
                                idle = false;
                                let m = decode_pgoutput(&data).map_err(|e| PostgresError::Decode { what: "pgoutput message".into(), detail: e.to_string() })?;
                                self.handle(client, m, wal_start, &mut txn, &mut last_end, &resume).await?;
                                if self.blocking.is_some() {
                                    self.blocking_snapshot(client, &mut stream, confirmed).await?;
                                }
                            }
                        }
                        burst += 1;
                        if burst >= READY_BURST {
                            break;
                        }
                        // cancel-safe: a message not complete yet stays buffered
                        match stream.next().now_or_never() {
                            Some(next) => msg = next,
                            None => break,
                        }
                    }
                    if idle {
                        // nothing is behind: hand the batch over now, so
                        // the runtime sends it without lingering
                        linger = None;
                        self.send_batch_marked(true).await?;
                    } else if !self.batch.is_empty() && linger.is_none() {
                        linger = Some(Instant::now() + Duration::from_millis(2));
                    }
                }
            }
        }
        self.send_batch().await?;
        let _ = stream.finish().await;
        Ok(())
    }

    fn heartbeat_record(&self, pos: Lsn) -> SourceRecord {
        let (ms, us, _) = now();
        let mut offset = self.last_offset();
        offset.remove("snapshot");
        offset.remove("last_snapshot_record");
        // a heartbeat position is not a message's
        offset.remove("messageType");
        offset.insert("lsn_commit".into(), pos.0.into());
        offset.insert("lsn".into(), pos.0.into());
        offset.insert("lsn_proc".into(), pos.0.into());
        offset.insert("ts_usec".into(), us.into());
        if let Some(k) = self.inc.ctx.signal_offset() {
            // a Kafka signal acted upon since the last record
            offset.insert(
                velocity_api::debezium::incremental::SIGNAL_OFFSET.into(),
                k.into(),
            );
        }
        heartbeat::record(
            &self.cfg.heartbeat_topic_prefix,
            &self.cfg.topic_prefix,
            ms,
            &self.partition,
            offset,
        )
    }

    /// Handles one pgoutput message at `lsn`, in log order: `Begin` opens
    /// `txn`, a change adds its records to it, `Commit` completes the
    /// transaction's last offset and pushes what it holds; `Relation`
    /// refreshes the table's schema. Changes at or before `resume` (already
    /// delivered before a restart) are skipped, so nothing is produced twice.
    async fn handle(
        &mut self,
        client: &Client,
        m: PgOutputMessage,
        lsn: Lsn,
        txn: &mut Option<Txn>,
        last_end: &mut Lsn,
        resume: &Resume,
    ) -> Result<(), PostgresError> {
        match m {
            PgOutputMessage::Begin(b) => {
                let t = Txn::begin(&b, resume);
                self.last_ts_us = Some(t.commit_ts_us);
                *txn = Some(t);
            }
            PgOutputMessage::Commit(c) => {
                if let Some(t) = txn.take() {
                    *last_end = c.end_lsn;
                    self.commit(t, &c).await?;
                }
            }
            PgOutputMessage::Relation(rel) => {
                self.table_schema(client, rel.rel_id, Some(&rel)).await?;
            }
            PgOutputMessage::Insert(_)
            | PgOutputMessage::Update(_)
            | PgOutputMessage::Delete(_)
            | PgOutputMessage::Truncate(_) => {
                let Some(t) = txn.as_mut() else { return Ok(()) };
                if t.skip_all
                    || (resume.tx_id == Some(i64::from(t.xid)) && lsn.0 <= resume.lsn_proc)
                {
                    return Ok(());
                }
                if let PgOutputMessage::Insert(ins) = &m {
                    if self.inc.signal_oid == Some(ins.rel_id) {
                        // the signal acts before its own event is emitted
                        let pos = StreamOffset {
                            lsn_proc: lsn.0,
                            lsn_commit: last_end.0,
                            lsn: lsn.0,
                            tx_id: Some(i64::from(t.xid)),
                            ts_usec: t.commit_ts_us,
                            incremental: self.inc.stored.clone(),
                            message: false,
                        };
                        let held = (std::mem::take(&mut t.pending), t.pending_pos.take());
                        self.signal_insert(client, ins, pos, held).await?;
                    }
                }
                self.change(client, m, lsn, t, *last_end).await?;
            }
            PgOutputMessage::Message(msg) => {
                if !self.cfg.message_prefixes.matches(&msg.prefix) {
                    return Ok(());
                }
                // the XLogData start is the message's LSN; the message says it too
                let lsn = if lsn.0 == 0 { msg.lsn } else { lsn };
                let delivered = match txn.as_ref() {
                    // its LSN is its record's end: at or before the stored
                    // position, it was delivered (it is then its own offset)
                    _ if !msg.transactional => lsn.0 <= resume.lsn_commit,
                    Some(t) => {
                        t.skip_all
                            || (resume.tx_id == Some(i64::from(t.xid)) && lsn.0 <= resume.lsn_proc)
                    }
                    None => true,
                };
                if !delivered {
                    self.message(msg, lsn, txn, last_end).await?;
                }
            }
            PgOutputMessage::Type(_) | PgOutputMessage::Origin(_) => {}
        }
        Ok(())
    }

    /// Ends transaction `t` at `c`: the last event held gets the offset
    /// that completes the transaction (`lsn_commit` = the commit's end), is
    /// pushed, then the transaction topic's END record (with
    /// `provide.transaction.metadata`) and the runtime's transaction-end
    /// marker, which stateful transforms use and Kafka never sees.
    async fn commit(&mut self, mut t: Txn, c: &Commit) -> Result<(), PostgresError> {
        self.metrics
            .transaction_committed(t.commit_ts_us / 1000, now().0);
        let mut final_offset = None;
        let mut end_offset = None;
        if let Some(last) = t.pending.last_mut() {
            let end = c.end_lsn.0;
            let o = match t.pending_pos.clone() {
                Some(p) => StreamOffset {
                    lsn_commit: end,
                    ..p
                }
                .to_offset(),
                // the last event completed no position (its create was
                // skipped): the transaction ends at the newest position pushed
                None => {
                    let mut o = self.last_offset();
                    o.insert("lsn_commit".into(), end.into());
                    o.remove("messageType");
                    o
                }
            };
            end_offset = Some(o.clone());
            if t.meta_id.is_some() {
                // the END record carries the completing offset, so a stored
                // last event without its END re-emits the END
                final_offset = Some(o);
            } else if let Some(p) = t.pending_pos.as_mut() {
                p.lsn_commit = end;
            } else {
                last.source_offset = o;
                last.source_partition = self.partition.clone();
            }
        }
        let pending = std::mem::take(&mut t.pending);
        self.push_event(pending, t.pending_pos.take()).await?;
        if let (Some(_), Some(o)) = (&t.meta_id, final_offset) {
            let id = format!("{}:{}", t.xid, c.commit_lsn.0);
            let rec = self.transaction_record("END", &id, t.commit_ts_us, Some(&t.per_table), o);
            self.push(rec).await?;
        }
        if let Some(o) = end_offset {
            let marker =
                SourceRecord::transaction_end(self.partition.clone(), o, Some(t.xid.to_string()))
                    .committed_at_us(t.commit_ts_us);
            self.push(marker).await?;
        }
        Ok(())
    }

    /// A transaction topic record (`BEGIN` or `END`) of transaction `id`.
    fn transaction_record(
        &self,
        status: &str,
        id: &str,
        commit_ts_us: i64,
        per_table: Option<&[(String, i64)]>,
        offset: Offset,
    ) -> SourceRecord {
        let topic = format!("{}.{}", self.cfg.topic_prefix, self.cfg.transaction_topic);
        transaction::record(
            &topic,
            status,
            id,
            commit_ts_us.div_euclid(1000),
            per_table,
            &self.partition,
            offset,
            crate::envelope::now().0,
        )
    }

    /// One change (insert, update, delete, truncate) of transaction `t`:
    /// its records replace the event `t` holds, which is pushed — the event
    /// is held so that the last one of a transaction can carry the offset
    /// that completes it (see [`Self::commit`]).
    async fn change(
        &mut self,
        client: &Client,
        m: PgOutputMessage,
        lsn: Lsn,
        t: &mut Txn,
        last_end: Lsn,
    ) -> Result<(), PostgresError> {
        let block = if self.cfg.provide_transaction_metadata {
            self.transaction_block(client, &m, lsn, t).await?
        } else {
            None
        };
        let (records, pos) = match self
            .change_records(client, m, lsn, t.xid, t.commit_ts_us, last_end, block)
            .await
        {
            // a value that cannot be decoded: event.processing.failure.handling.mode
            Err(e @ PostgresError::Decode { .. }) => {
                let (at, _) = self.stream_point(lsn, t.xid, t.commit_ts_us, last_end, None);
                skip_failed_event(self.cfg.failure_mode, &at.to_offset(), &e)?;
                return Ok(());
            }
            other => other?,
        };
        if records.is_empty() {
            return Ok(());
        }
        self.deduplicate(&records);
        self.metrics.event_seen();
        let prev: Vec<SourceRecord> = std::mem::replace(&mut t.pending, records);
        let prev_pos = std::mem::replace(&mut t.pending_pos, pos);
        self.push_event(prev, prev_pos).await
    }

    /// The `transaction` block (id, total order, order within the table) of
    /// a row change `m` in `t`, with `provide.transaction.metadata`; the
    /// transaction's first change pushes the events held from earlier
    /// transactions and then the BEGIN record. None for truncates and
    /// tables not captured.
    async fn transaction_block(
        &mut self,
        client: &Client,
        m: &PgOutputMessage,
        lsn: Lsn,
        t: &mut Txn,
    ) -> Result<Option<(String, i64, i64)>, PostgresError> {
        let rel_id = match m {
            PgOutputMessage::Insert(i) => i.rel_id,
            PgOutputMessage::Update(u) => u.rel_id,
            PgOutputMessage::Delete(d) => d.rel_id,
            _ => return Ok(None),
        };
        let Some(ts) = self.table_schema(client, rel_id, None).await? else {
            return Ok(None);
        };
        let name = format!("{}.{}", ts.schema, ts.table);
        self.transaction_event(name, lsn, t).await.map(Some)
    }

    /// Counts an event of data collection `name` (`schema.table`, or
    /// [`MESSAGE_DATA_COLLECTION`]) at `lsn` in `t` and returns its
    /// `transaction` block (id, total order, order within the collection);
    /// the transaction's first event pushes the events held from earlier
    /// transactions and then the BEGIN record.
    async fn transaction_event(
        &mut self,
        name: String,
        lsn: Lsn,
        t: &mut Txn,
    ) -> Result<(String, i64, i64), PostgresError> {
        if t.meta_id.is_none() {
            let id = format!("{}:{}", t.xid, lsn.0);
            let rec =
                self.transaction_record("BEGIN", &id, t.commit_ts_us, None, self.last_offset());
            t.meta_id = Some(id);
            // flush earlier transactions' records first: BEGIN precedes this one's
            let prev = std::mem::take(&mut t.pending);
            let prev_pos = t.pending_pos.take();
            self.push_event(prev, prev_pos).await?;
            self.push(rec).await?;
        }
        t.total += 1;
        let dc = match t.per_table.iter_mut().find(|(n, _)| *n == name) {
            Some(e) => {
                e.1 += 1;
                e.1
            }
            None => {
                t.per_table.push((name, 1));
                1
            }
        };
        Ok((t.meta_id.clone().unwrap_or_default(), t.total, dc))
    }

    /// A logical decoding message at `lsn` whose prefix is kept: a
    /// transactional one (inside `txn`) is an event of its transaction,
    /// held like a row change (see [`Self::change`]); a non-transactional
    /// one is pushed at once with a position of its own (see the module
    /// doc), and becomes the last completed position (`last_end`).
    async fn message(
        &mut self,
        m: LogicalMessage,
        lsn: Lsn,
        txn: &mut Option<Txn>,
        last_end: &mut Lsn,
    ) -> Result<(), PostgresError> {
        let prefix = m.prefix.clone();
        let content = m.content.to_vec();
        if m.transactional {
            let Some(t) = txn.as_mut() else {
                return Ok(());
            };
            let block = if self.cfg.provide_transaction_metadata {
                Some(
                    self.transaction_event(MESSAGE_DATA_COLLECTION.to_owned(), lsn, t)
                        .await?,
                )
            } else {
                None
            };
            let (advanced, pos) = self.stream_point(lsn, t.xid, t.commit_ts_us, *last_end, block);
            let rec = self.message_record(&prefix, content, &pos);
            self.metrics.event_seen();
            let prev = std::mem::replace(&mut t.pending, vec![rec]);
            let prev_pos = t.pending_pos.replace(advanced);
            return self.push_event(prev, prev_pos).await;
        }
        *last_end = (*last_end).max(lsn);
        let ts_us = self.last_ts_us.unwrap_or_else(|| now().1);
        let pos = SourcePosition {
            snapshot: "false",
            ts_us,
            tx_id: None,
            lsn: Some(lsn.0 as i64),
            sequence: Some(format!("[\"{}\",\"{}\"]", last_end.0, lsn.0)),
            transaction: None,
        };
        let own = StreamOffset {
            lsn_proc: lsn.0,
            lsn_commit: lsn.0,
            lsn: lsn.0,
            tx_id: None,
            ts_usec: ts_us,
            incremental: self.inc.stored.clone(),
            message: true,
        };
        let rec = self.message_record(&prefix, content, &pos);
        self.metrics.event_seen();
        self.push_event(vec![rec], Some(own)).await
    }

    /// The `<topic.prefix>.message` record of a message (no position of its own).
    fn message_record(&self, prefix: &str, content: Vec<u8>, pos: &SourcePosition) -> SourceRecord {
        let source = source_block(&self.cfg, &self.db, "", "", pos);
        self.messages.record(
            prefix,
            content,
            source,
            pos.transaction_block(),
            &Partition::new(),
            Offset::new(),
        )
    }

    /// The records of one change event, with empty offsets and partitions,
    /// and the position the last of them completes (None when the record
    /// that would complete it is skipped).
    #[allow(clippy::too_many_arguments)]
    async fn change_records(
        &mut self,
        client: &Client,
        m: PgOutputMessage,
        lsn: Lsn,
        xid: u32,
        commit_ts: i64,
        last_end: Lsn,
        transaction: Option<(String, i64, i64)>,
    ) -> Result<(Vec<SourceRecord>, Option<StreamOffset>), PostgresError> {
        let cfg = self.cfg.clone();
        let rel_id = match &m {
            PgOutputMessage::Insert(i) => i.rel_id,
            PgOutputMessage::Update(u) => u.rel_id,
            PgOutputMessage::Delete(d) => d.rel_id,
            PgOutputMessage::Truncate(t) => {
                return self
                    .truncate_records(
                        client,
                        &t.rel_ids,
                        lsn,
                        xid,
                        commit_ts,
                        last_end,
                        transaction,
                    )
                    .await;
            }
            _ => return Ok((Vec::new(), None)),
        };
        let Some(ts) = self.table_schema(client, rel_id, None).await? else {
            return Ok((Vec::new(), None));
        };
        let (advanced, pos) = self.stream_point(lsn, xid, commit_ts, last_end, transaction);
        // positions travel in `advanced`, not in the records (see the module doc)
        let none = Partition::new;
        let mut completes = true;
        let skip = |op: char| cfg.skipped_operations.contains(&op);
        let mut out = Vec::new();
        match m {
            PgOutputMessage::Insert(i) => {
                if skip('c') {
                    return Ok((out, None));
                }
                let after = Self::row_from_tuple(&ts, &i.new, &cfg.unavailable_placeholder)?;
                out.push(ts.change(
                    &cfg,
                    &self.db,
                    "c",
                    None,
                    after,
                    &pos,
                    &none(),
                    Offset::new(),
                ));
            }
            PgOutputMessage::Update(u) => {
                let mut after = Self::row_from_tuple(&ts, &u.new, &cfg.unavailable_placeholder)?;
                let old = match (&u.old, &u.key) {
                    (Some(o), _) => {
                        Some(Self::row_from_tuple(&ts, o, &cfg.unavailable_placeholder)?)
                    }
                    (None, Some(k)) => {
                        Some(Self::row_from_tuple(&ts, k, &cfg.unavailable_placeholder)?)
                    }
                    (None, None) => None,
                };
                // Unchanged TOAST values are known from a full old image.
                if let (Some(o), Some(old_row)) = (&u.old, &old) {
                    for (i, s) in ts.slots.iter().enumerate() {
                        let unchanged =
                            matches!(u.new.0.get(s.tuple_index), Some(TupleValue::UnchangedToast));
                        let known = matches!(
                            o.0.get(s.tuple_index),
                            Some(TupleValue::Text(_)) | Some(TupleValue::Binary(_))
                        );
                        if unchanged && known {
                            after.values[i] = old_row.values[i].clone();
                        }
                    }
                }
                let key_changed = old.as_ref().is_some_and(|o| {
                    ts.events.key_schema.is_some()
                        && ts.events.key_of(o) != ts.events.key_of(&after)
                });
                if key_changed {
                    let old = old.expect("checked");
                    if !skip('d') {
                        ts.delete_records(&cfg, &self.db, old, &pos, &mut out);
                    }
                    completes = !skip('c');
                    if completes {
                        out.push(ts.change(
                            &cfg,
                            &self.db,
                            "c",
                            None,
                            after,
                            &pos,
                            &none(),
                            Offset::new(),
                        ));
                    }
                } else if !skip('u') {
                    let before = if u.old.is_some() { old } else { None };
                    out.push(ts.change(
                        &cfg,
                        &self.db,
                        "u",
                        before,
                        after,
                        &pos,
                        &none(),
                        Offset::new(),
                    ));
                }
            }
            PgOutputMessage::Delete(d) => {
                if skip('d') {
                    return Ok((out, None));
                }
                let tuple = d.old.as_ref().or(d.key.as_ref());
                let before = match tuple {
                    Some(t) => Self::row_from_tuple(&ts, t, &cfg.unavailable_placeholder)?,
                    None => return Ok((out, None)),
                };
                ts.delete_records(&cfg, &self.db, before, &pos, &mut out);
            }
            _ => {}
        }
        Ok((out, completes.then_some(advanced)))
    }
}

impl Reader {
    /// The offset a streamed event advances to (stored once its record is
    /// acknowledged) and its `source` position.
    fn stream_point(
        &self,
        lsn: Lsn,
        xid: u32,
        commit_ts: i64,
        last_end: Lsn,
        transaction: Option<(String, i64, i64)>,
    ) -> (StreamOffset, SourcePosition) {
        let offset = StreamOffset {
            lsn_proc: lsn.0,
            lsn_commit: last_end.0,
            lsn: lsn.0,
            tx_id: Some(i64::from(xid)),
            ts_usec: commit_ts,
            incremental: self.inc.stored.clone(),
            message: false,
        };
        let pos = SourcePosition {
            snapshot: "false",
            ts_us: commit_ts,
            tx_id: Some(i64::from(xid)),
            lsn: Some(lsn.0 as i64),
            sequence: Some(format!("[\"{}\",\"{}\"]", last_end.0, lsn.0)),
            transaction,
        };
        (offset, pos)
    }

    /// `op: "t"` events, one per truncated captured table (unless `t` is in
    /// `skipped.operations`, Debezium's default). Key and row images are null.
    #[allow(clippy::too_many_arguments)]
    async fn truncate_records(
        &mut self,
        client: &Client,
        rel_ids: &[u32],
        lsn: Lsn,
        xid: u32,
        commit_ts: i64,
        last_end: Lsn,
        transaction: Option<(String, i64, i64)>,
    ) -> Result<(Vec<SourceRecord>, Option<StreamOffset>), PostgresError> {
        let cfg = self.cfg.clone();
        if cfg.skipped_operations.contains(&'t') {
            return Ok((Vec::new(), None));
        }
        let mut tables = Vec::new();
        for &r in rel_ids {
            if let Some(ts) = self.table_schema(client, r, None).await? {
                tables.push(ts);
            }
        }
        let (advanced, pos) = self.stream_point(lsn, xid, commit_ts, last_end, transaction);
        let mut out = Vec::with_capacity(tables.len());
        for ts in &tables {
            out.push(ts.truncate(&cfg, &self.db, &pos));
        }
        let completes = !out.is_empty();
        Ok((out, completes.then_some(advanced)))
    }
}

/// Gives a struct value the column's own field schema (Kafka Connect
/// requires a struct's schema to equal its field's schema, optionality included).
fn fit(mapping: &crate::types::ColumnMapping, v: Value) -> Value {
    match v {
        Value::Struct(mut st) if !Arc::ptr_eq(&st.schema, &mapping.schema) => {
            st.schema = mapping.schema.clone();
            Value::Struct(st)
        }
        other => other,
    }
}

/// `event.processing.failure.handling.mode` for a streamed change at
/// `offset` whose values cannot be decoded (`cause`): `Ok` (skip the event)
/// under `warn` / `skip`, after Debezium's log line; under `fail`,
/// Debezium's `Error while processing event at offset {…}` with the cause.
fn skip_failed_event(
    mode: FailureHandlingMode,
    offset: &Offset,
    cause: &PostgresError,
) -> Result<(), PostgresError> {
    mode.handle(&offset_text(offset), cause)
        .map_err(PostgresError::EventProcessing)
}

/// The error when the stored position's slot is gone and the snapshot mode
/// does not take a new snapshot.
fn position_gone(slot: &str) -> String {
    format!("replication slot \"{slot}\" does not exist, but offsets are stored: the changes since the stored position are no longer available on the server. Set snapshot.mode=when_needed to take a new snapshot, or reset the offsets (PUT /connectors/<name>/stop, then DELETE /connectors/<name>/offsets)")
}

/// The server's version: `server_version_num` (e.g. 150020) and
/// `server_version` (e.g. `15.20 (Debian 15.20-0+deb12u1)`).
#[derive(Debug, Clone)]
struct ServerVersion {
    num: u32,
    text: String,
}

impl ServerVersion {
    async fn query(client: &Client) -> Result<ServerVersion, PostgresError> {
        let row = client
            .query_one(
                "SELECT current_setting('server_version_num')::int4, current_setting('server_version')",
                &[],
            )
            .await
            .map_err(|e| PostgresError::Query(format!("reading the server version: {e}")))?;
        Ok(ServerVersion {
            num: u32::try_from(row.get::<_, i32>(0)).unwrap_or(0),
            text: row.get(1),
        })
    }

    /// The keys of `cfg` this server cannot honour, each naming the key:
    /// `slot.failover` before PostgreSQL 17 or on a `standby` (failover
    /// slots are created on a primary), `publish.via.partition.root`
    /// before PostgreSQL 13 when the connector may create the publication.
    /// None when every key can be honoured.
    fn refuses(&self, cfg: &PostgresConfig, standby: bool) -> Option<ConfigErrors> {
        let mut errors = Vec::new();
        if cfg.slot_failover && self.num < 170_000 {
            errors.push((
                SLOT_FAILOVER.name.to_owned(),
                format!(
                    "slot.failover=true needs PostgreSQL 17 or later (failover replication slots), but the server is PostgreSQL {}: set slot.failover=false",
                    self.text
                ),
            ));
        } else if cfg.slot_failover && standby {
            errors.push((
                SLOT_FAILOVER.name.to_owned(),
                "slot.failover=true: a failover replication slot can only be created on a primary, but this server is a standby (in recovery): connect to the primary or set slot.failover=false".to_owned(),
            ));
        }
        if cfg.publish_via_partition_root
            && cfg.publication_mode != PublicationMode::Disabled
            && self.num < 130_000
        {
            errors.push((
                PUBLISH_VIA_PARTITION_ROOT.name.to_owned(),
                format!(
                    "publish.via.partition.root=true needs PostgreSQL 13 or later (publish_via_partition_root), but the server is PostgreSQL {}: set publish.via.partition.root=false",
                    self.text
                ),
            ));
        }
        (!errors.is_empty()).then_some(ConfigErrors(errors))
    }
}

async fn repl_start(
    repl: &mut ReplicationConnection,
    cfg: &PostgresConfig,
    start: Lsn,
    messages: bool,
) -> Result<crate::protocol::ReplicationStream, PostgresError> {
    let addr = format!("{}:{}", cfg.connect.host, cfg.connect.port);
    let conn = std::mem::replace(
        repl,
        ReplicationConnection::connect(&cfg.connect)
            .await
            .map_err(|e| PostgresError::from_protocol(e, &cfg.connect.user, &addr))?,
    );
    conn.start_replication(
        &cfg.slot_name,
        start,
        1,
        std::slice::from_ref(&cfg.publication_name),
        messages,
    )
    .await
    .map_err(|e| match e.sqlstate() {
        Some("55006") => PostgresError::SlotInUse {
            slot: cfg.slot_name.clone(),
            pid: e
                .server_error()
                .map(|s| s.message.clone())
                .unwrap_or_default(),
        },
        Some("42704") => PostgresError::PublicationMissing(cfg.publication_name.clone()),
        _ => PostgresError::from_protocol(e, &cfg.connect.user, &addr),
    })
}

#[cfg(test)]
mod resume_tests {
    use super::*;

    fn offset(v: serde_json::Value) -> Offset {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn debezium_3_snapshot_offsets_are_understood() {
        // Debezium 3.6 while its snapshot runs, and once it completed
        // (values from ../shared/debezium-reference, KafkaOffsetBackingStore)
        let running = offset(
            serde_json::json!({"last_snapshot_record": false, "lsn": 36285896, "txId": 869, "ts_usec": 1, "snapshot": "INITIAL", "snapshot_completed": false}),
        );
        assert!(Resume::from_offset(&running).snapshot_incomplete);
        let done = offset(
            serde_json::json!({"last_snapshot_record": true, "lsn": 36285896, "txId": 869, "ts_usec": 1, "snapshot": "INITIAL", "snapshot_completed": true}),
        );
        let r = Resume::from_offset(&done);
        assert!(!r.snapshot_incomplete);
        assert_eq!(r.lsn_commit, 36285896);
        // Velocity's (and Debezium 2's) boolean form
        let v =
            offset(serde_json::json!({"last_snapshot_record": false, "lsn": 5, "snapshot": true}));
        assert!(Resume::from_offset(&v).snapshot_incomplete);
        let streaming =
            offset(serde_json::json!({"lsn_proc": 7, "lsn_commit": 7, "lsn": 7, "txId": 3}));
        assert!(!Resume::from_offset(&streaming).snapshot_incomplete);
    }

    #[test]
    fn blocking_snapshot_offsets_resume_streaming_after_the_signal() {
        // what Debezium 3.6.3 stored in the middle of a blocking snapshot
        // (tests/fixtures/postgres/blocking/offsets.jsonl)
        let debezium = offset(
            serde_json::json!({"lsn_proc": 40418520, "last_snapshot_record": false, "messageType": "INSERT", "lsn": 40418520, "txId": 754, "ts_usec": 1795732622752233_i64, "snapshot": "BLOCKING", "snapshot_completed": false}),
        );
        let r = Resume::from_offset(&debezium);
        assert!(!r.snapshot_incomplete, "not an initial snapshot");
        assert_eq!(
            (r.lsn_commit, r.lsn_proc, r.tx_id),
            (40418520, 40418520, Some(754))
        );
        // Velocity's: the signal's position, marked
        let at = StreamOffset {
            lsn_proc: 500,
            lsn_commit: 400,
            lsn: 500,
            tx_id: Some(9),
            ts_usec: 7,
            incremental: None,
            message: false,
        };
        let stamp = SnapshotStamp {
            lsn: 500,
            xid: Some(9),
            ts_us: 7,
            sequence: None,
            blocking: Some(at.to_offset()),
        };
        assert_eq!(
            serde_json::Value::Object(stamp.offset(false)),
            serde_json::json!({"lsn_proc": 500, "lsn_commit": 400, "lsn": 500, "txId": 9, "ts_usec": 7, "snapshot": "BLOCKING", "last_snapshot_record": false, "snapshot_completed": false})
        );
        let last = stamp.offset(true);
        assert_eq!(last["snapshot_completed"], true);
        let r = Resume::from_offset(&last);
        assert!(!r.snapshot_incomplete);
        assert_eq!((r.lsn_commit, r.lsn_proc, r.tx_id), (400, 500, Some(9)));
        // the initial snapshot's offsets are unchanged
        let initial = SnapshotStamp {
            blocking: None,
            ..stamp
        }
        .offset(false);
        assert!(Resume::from_offset(&initial).snapshot_incomplete);
        assert_eq!(initial["snapshot"], true);
    }

    #[test]
    fn a_non_transactional_message_has_a_position_of_its_own() {
        // Debezium's offset after a non-transactional message: lsn_proc =
        // lsn_commit = lsn = the message's LSN, no txId, messageType MESSAGE
        let own = StreamOffset {
            lsn_proc: 500,
            lsn_commit: 500,
            lsn: 500,
            tx_id: None,
            ts_usec: 7,
            incremental: None,
            message: true,
        };
        let o = own.to_offset();
        assert_eq!(
            serde_json::Value::Object(o.clone()),
            serde_json::json!({"lsn_proc": 500, "lsn_commit": 500, "lsn": 500, "ts_usec": 7, "messageType": "MESSAGE"})
        );
        let r = Resume::from_offset(&o);
        assert_eq!((r.lsn_commit, r.lsn_proc, r.tx_id), (500, 500, None));
        // a transactional event's offset is not a message's
        let tx = StreamOffset {
            tx_id: Some(9),
            lsn_commit: 400,
            message: false,
            ..own
        }
        .to_offset();
        assert_eq!(tx.get("txId"), Some(&serde_json::json!(9)));
        assert!(!tx.contains_key("messageType"));
    }

    fn cfg(pairs: &[(&str, &str)]) -> PostgresConfig {
        use velocity_api::TypedConfig;
        let mut c = velocity_api::config::raw_config(&[
            ("database.hostname", "h"),
            ("database.user", "u"),
            ("database.dbname", "d"),
            ("topic.prefix", "tms"),
        ]);
        c.extend(velocity_api::config::raw_config(pairs));
        PostgresConfig::from_raw(&c).unwrap()
    }

    #[test]
    fn undecodable_events_stop_the_task_only_in_fail_mode() {
        let offset: Offset = [("lsn".to_owned(), serde_json::json!(77))]
            .into_iter()
            .collect();
        let cause = PostgresError::Decode {
            what: "public.t.v".into(),
            detail: "not a date".into(),
        };
        let e = skip_failed_event(FailureHandlingMode::Fail, &offset, &cause).unwrap_err();
        assert_eq!(e.kind(), velocity_api::ErrorKind::Fatal);
        let text = e.to_string();
        assert!(
            text.starts_with("Error while processing event at offset {lsn=77}: could not decode public.t.v: not a date")
                && text.contains("event.processing.failure.handling.mode"),
            "{text}"
        );
        for mode in [FailureHandlingMode::Warn, FailureHandlingMode::Skip] {
            assert!(skip_failed_event(mode, &offset, &cause).is_ok());
        }
        let c = cfg(&[("event.processing.failure.handling.mode", "warn")]);
        assert_eq!(c.failure_mode, FailureHandlingMode::Warn);
    }

    #[test]
    fn slot_failover_is_refused_before_postgresql_17_naming_the_key() {
        let pg = |num: u32, text: &str| ServerVersion {
            num,
            text: text.to_owned(),
        };
        let failover = cfg(&[("slot.failover", "true")]);
        let e = pg(150020, "15.20").refuses(&failover, false).unwrap();
        assert!(e.names("slot.failover") && e.0.len() == 1, "{e}");
        let text = e.to_string();
        assert!(
            text.contains("PostgreSQL 17") && text.contains("15.20"),
            "{text}"
        );
        assert!(pg(170000, "17.0").refuses(&failover, false).is_none());
        let e = pg(170002, "17.2").refuses(&failover, true).unwrap();
        assert!(
            e.names("slot.failover") && e.to_string().contains("standby"),
            "{e}"
        );
        assert!(pg(150020, "15.20").refuses(&cfg(&[]), true).is_none());
        // publish_via_partition_root exists since PostgreSQL 13
        let via_root = cfg(&[("publish.via.partition.root", "true")]);
        let e = pg(120010, "12.10").refuses(&via_root, false).unwrap();
        assert!(e.names("publish.via.partition.root"), "{e}");
        assert!(pg(130000, "13.0").refuses(&via_root, false).is_none());
        let disabled = cfg(&[
            ("publish.via.partition.root", "true"),
            ("publication.autocreate.mode", "disabled"),
        ]);
        assert!(pg(120010, "12.10").refuses(&disabled, false).is_none());
    }
}
