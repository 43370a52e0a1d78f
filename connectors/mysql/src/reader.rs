//! The database reader: a background task that checks the server set-up,
//! snapshots (when needed) and then streams the binlog, turning rows into
//! Debezium change records and handing them to the task in bounded batches.
//!
//! Contracts:
//! - Order: snapshot records first, then binlog events in binlog order.
//! - Snapshot consistency: with `snapshot.locking.mode=minimal` the reader
//!   takes `FLUSH TABLES WITH READ LOCK`, opens `START TRANSACTION WITH
//!   CONSISTENT SNAPSHOT`, reads the binlog position (`SHOW MASTER STATUS` /
//!   `SHOW BINARY LOG STATUS`, plus `@@gtid_binlog_pos` / `@@gtid_executed`)
//!   and the table definitions, then unlocks and reads the rows inside the
//!   transaction; streaming starts at that position, so every change
//!   committed after the snapshot is streamed and none before it.
//! - Offsets (see [`crate::binlog`]): `file`/`pos` is the start of the
//!   transaction of the record, `event`/`row` count what of it was
//!   delivered. Of the several records one row can yield (delete +
//!   tombstone, or delete + tombstone + create for a key change) only the
//!   last carries the advanced offset.
//! - Resume: the reader requests the binlog from the stored `file`/`pos`
//!   and skips, in that first transaction, the `event` completed row events
//!   and `row` rows of the next one, so a restart in the middle of a
//!   transaction neither loses nor repeats stored records.
//! - Acknowledgement: a binlog is retained by the server's own expiry
//!   settings, not by its replicas, so there is nothing to release on
//!   commit; the stored offset is all the connector needs.
//! - Schemas: rows are decoded with the table model of [`crate::ddl`],
//!   rebuilt at start by replaying the schema history ([`crate::history`])
//!   up to the stored offset and advanced by every DDL read from the binlog,
//!   so rows written before an `ALTER` decode with the columns they had. Each
//!   DDL is written to the history (synchronously) before any record after
//!   it is handed on. Offsets without a history topic refuse to start
//!   (Debezium's "db history topic is missing"), unless `snapshot.mode=recovery`
//!   rebuilds it from the current definitions.
//! - `skipped.operations`: the row events of a skipped operation (`c`, `u`,
//!   `d`) yield nothing (a key-changing update is skipped with `u`, as in
//!   Debezium); a `TRUNCATE TABLE` of a captured table is an `op: "t"` event
//!   on the table's topic unless `t` is skipped (Debezium's default), and
//!   never a schema-change record (it is still written to the history).
//! - Heartbeats (`heartbeat.interval.ms`): between transactions, at most
//!   once per interval, a record on `<topic.heartbeat.prefix>.<topic.prefix>`
//!   carrying the position reached, after running `heartbeat.action.query`
//!   (a statement the server refuses fails the task, as in Debezium).
//! - Transaction metadata (`provide.transaction.metadata`): a BEGIN record
//!   before the first change of a transaction (carrying that change's
//!   previous offset), an END record after its commit (carrying the offset
//!   after the transaction), and the `transaction` block on change events.
//! - Transaction boundaries: after the last record of every transaction
//!   that yielded records (after its END metadata record, if any), at
//!   XID / `COMMIT` / an implicitly committing DDL, comes a
//!   [`SourceRecord::transaction_end`] marker carrying the offset after the
//!   transaction, as the PostgreSQL connector does, for the runtime's
//!   stateful transforms (the domain NetChangeFilter); it is never produced.
//! - `include.query` on MariaDB: the ANNOTATE_ROWS event before a row event's
//!   TABLE_MAP (read with `SHOW BINLOG EVENTS` when the server skipped it in
//!   the stream); on MySQL the ROWS_QUERY event.
//! - Backpressure: batches go through a bounded channel
//!   (`max.queue.size / max.batch.size` batches); when it is full the reader
//!   stops reading the binlog socket and the server waits.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{FutureExt, StreamExt};
use mysql_async::binlog::events::{EventData, RowsEventData};
use mysql_async::prelude::Queryable;
use mysql_async::{BinlogStreamRequest, Conn, OptsBuilder, Row, SslOpts};
use mysql_common::value::Value as My;
use tokio::sync::{mpsc, watch};
use velocity_api::debezium::heartbeat;
use velocity_api::debezium::transaction::{self, TxCounter};
use velocity_api::{Offset, Partition, SourceMetrics, SourceRecord, Struct};

use crate::binlog::{
    uuid_string, GtidSet, MariaGtid, Position, Server, MARIADB_ANNOTATE_ROWS_EVENT,
    MARIADB_GTID_EVENT,
};
use crate::catalog::{self, quote_ident};
use crate::config::{LockingMode, MySqlConfig, SnapshotMode, SslMode};
use crate::ddl::{Outcome, TableChange, Tables};
use crate::envelope::{now, schema_change, SourceInfo, TableSchema};
use crate::error::MySqlError;
use crate::history::{
    position_le, replay_filter, table_change_json, HistoryRecord, KafkaHistory, TopicState,
};
use crate::tls;

/// What the reader sends: a batch, or the error that stopped it.
pub type Item = Result<Vec<SourceRecord>, MySqlError>;

/// The handle the task holds: batches, the caught-up flag (set when the
/// newest batch sent ended a transaction and the binlog stream had nothing
/// more ready), the stop signal.
pub type ReaderHandle = velocity_api::source::ReaderLink<MySqlError>;

/// Starts the reader for `cfg`, resuming from `stored`.
pub fn spawn(
    cfg: Arc<MySqlConfig>,
    partition: Partition,
    stored: Option<Offset>,
    metrics: Arc<SourceMetrics>,
) -> ReaderHandle {
    let capacity = (cfg.max_queue_size / cfg.max_batch_size).max(1);
    let (tx, rx) = mpsc::channel(capacity);
    let (stop_tx, stop_rx) = watch::channel(false);
    metrics.set_server(&cfg.topic_prefix);
    metrics
        .queue_total_capacity
        .store(cfg.max_queue_size as u64, Ordering::Relaxed);
    let caught_up = Arc::new(AtomicBool::new(false));
    let mut reader = Reader {
        caught_up: caught_up.clone(),
        cfg,
        partition,
        stored: stored.as_ref().and_then(Position::from_offset),
        tx,
        stop: stop_rx,
        batch: Vec::new(),
        tables: HashMap::new(),
        server: Server::MariaDb,
        model: Tables::new(true),
        history: None,
        recorded_upto: None,
        tx_topic: String::new(),
        metrics,
    };
    reader.tx_topic = format!(
        "{}.{}",
        reader.cfg.topic_prefix, reader.cfg.transaction_topic
    );
    let join = tokio::spawn(async move {
        let tx = reader.tx.clone();
        let result = reader.run().await;
        reader.metrics.connected.store(false, Ordering::Relaxed);
        if let Err(e) = result {
            if !matches!(e, MySqlError::Stopped) {
                tracing::error!(error = %e, "MySQL reader failed");
                let _ = tx.send(Err(e)).await;
            }
        }
    });
    ReaderHandle {
        rx,
        stop: stop_tx,
        join,
        caught_up,
    }
}

/// Connects with the configured settings (`database.ssl.mode` included),
/// classifying failures. Under `preferred` a server without TLS is
/// connected to in plain; under `verify_ca` a certificate that does not
/// name `database.hostname` is checked again against a name it holds (see
/// [`crate::tls`]).
pub async fn connect(cfg: &MySqlConfig) -> Result<Conn, MySqlError> {
    let e = match attempt(cfg, cfg.ssl.opts(None)).await? {
        Ok(conn) => return Ok(conn),
        Err(e) => e,
    };
    let retry = match (cfg.ssl.mode, tls::failure(&e)) {
        (SslMode::Preferred, Some(tls::TlsFailure::NotOffered)) => {
            tracing::info!(
                "database.ssl.mode=preferred: {} does not offer TLS; connecting without it",
                cfg.addr()
            );
            Some(None)
        }
        (SslMode::VerifyCa, Some(tls::TlsFailure::WrongName(presented))) => {
            tls::name_in_certificate(&presented).map(|name| cfg.ssl.opts(Some(name)))
        }
        _ => None,
    };
    let e = match retry {
        Some(ssl) => match attempt(cfg, ssl).await? {
            Ok(conn) => return Ok(conn),
            Err(e) => e,
        },
        None => e,
    };
    Err(MySqlError::from_driver(e, cfg))
}

/// One connection attempt with the given TLS options; the outer error is
/// the timeout (`connect.timeout.ms`).
async fn attempt(
    cfg: &MySqlConfig,
    ssl: Option<SslOpts>,
) -> Result<Result<Conn, mysql_async::Error>, MySqlError> {
    let opts = OptsBuilder::default()
        .ip_or_hostname(cfg.host.clone())
        .tcp_port(cfg.port)
        .user(Some(cfg.user.clone()))
        .pass(Some(cfg.password.clone()))
        .prefer_socket(false)
        .ssl_opts(ssl);
    tokio::time::timeout(cfg.connect_timeout, Conn::new(opts))
        .await
        .map_err(|_| MySqlError::Unreachable {
            addr: cfg.addr(),
            detail: format!("no answer within {:?}", cfg.connect_timeout),
        })
}

/// The row-emission state of the transaction being read.
#[derive(Debug, Default)]
struct Txn {
    /// Binlog file and position where the transaction starts.
    file: String,
    start: u64,
    /// GTID of the transaction.
    gtid: Option<String>,
    /// Completed row / DDL events of the transaction.
    events: u64,
    /// Thread id from the BEGIN query.
    thread: Option<i64>,
    /// Original SQL (annotate / rows-query events).
    query: Option<String>,
    /// Inside BEGIN … COMMIT (or a GTID group).
    open: bool,
    /// Events and rows to skip on resume: (event, row).
    skip: Option<(u64, u64)>,
    /// Transaction metadata counters, once its BEGIN record is out.
    tx: Option<TxCounter>,
    /// A record of this transaction was emitted: its end gets a
    /// [`SourceRecord::transaction_end`] marker.
    emitted: bool,
}

struct Reader {
    cfg: Arc<MySqlConfig>,
    partition: Partition,
    stored: Option<Position>,
    tx: mpsc::Sender<Item>,
    stop: watch::Receiver<bool>,
    batch: Vec<SourceRecord>,
    tables: HashMap<(String, String), Option<Arc<TableSchema>>>,
    server: Server,
    /// The table definitions (parsed DDL, replayed history).
    model: Tables,
    /// The schema history topic, when configured.
    history: Option<KafkaHistory>,
    /// The last position already in the history (no re-recording up to it).
    recorded_upto: Option<Position>,
    /// `<topic.prefix>.<topic.transaction>`.
    tx_topic: String,
    /// Debezium's streaming/snapshot metrics of the task.
    metrics: Arc<SourceMetrics>,
    /// See [`velocity_api::source::ReaderLink::caught_up`].
    caught_up: Arc<AtomicBool>,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn q(e: mysql_async::Error, cfg: &MySqlConfig) -> MySqlError {
    MySqlError::from_driver(e, cfg)
}

/// The error for a binlog connection that ended: retriable (the runtime
/// reconnects from the stored offset) under `connect.keep.alive=true`.
fn closed_stream(cfg: &MySqlConfig, detail: &str) -> MySqlError {
    if cfg.keep_alive {
        MySqlError::Query(format!(
            "{detail}; reconnecting from the last stored offset (connect.keep.alive=true)"
        ))
    } else {
        MySqlError::StreamClosed(detail.to_owned())
    }
}

fn snapshot_marker(
    first_overall: bool,
    last_overall: bool,
    first_in_table: bool,
    last_in_table: bool,
) -> &'static str {
    if last_in_table && last_overall {
        "last"
    } else if first_overall {
        "first"
    } else if last_in_table {
        "last_in_data_collection"
    } else if first_in_table {
        "first_in_data_collection"
    } else {
        "true"
    }
}

impl Reader {
    async fn send_batch(&mut self) -> Result<(), MySqlError> {
        if self.batch.is_empty() {
            return Ok(());
        }
        self.caught_up.store(false, Ordering::Release);
        let batch = std::mem::take(&mut self.batch);
        self.tx
            .send(Ok(batch))
            .await
            .map_err(|_| MySqlError::Stopped)?;
        self.metrics.queue_free(
            self.tx.capacity(),
            self.cfg.max_batch_size,
            self.cfg.max_queue_size,
        );
        Ok(())
    }

    async fn push(&mut self, r: SourceRecord) -> Result<(), MySqlError> {
        self.batch.push(r);
        if self.batch.len() >= self.cfg.max_batch_size {
            self.send_batch().await?;
        }
        Ok(())
    }

    fn stopping(&self) -> bool {
        *self.stop.borrow()
    }

    /// Checks server settings and privileges; returns the server product.
    async fn check_server(&mut self, conn: &mut Conn) -> Result<Server, MySqlError> {
        let cfg = self.cfg.clone();
        let version: Option<String> = conn
            .query_first("SELECT VERSION()")
            .await
            .map_err(|e| q(e, &cfg))?;
        let server = Server::from_version(&version.unwrap_or_default());
        let vars: Vec<(String, String)> = conn
            .query(
                "SHOW GLOBAL VARIABLES WHERE Variable_name IN ('log_bin', 'binlog_format', 'binlog_row_image')",
            )
            .await
            .map_err(|e| q(e, &cfg))?;
        let var = |n: &str| {
            vars.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(n))
                .map(|(_, v)| v.to_ascii_uppercase())
                .unwrap_or_default()
        };
        if var("log_bin") != "ON" && var("log_bin") != "1" {
            return Err(MySqlError::ServerSetting {
                variable: "log_bin",
                actual: var("log_bin"),
                required: "ON",
            });
        }
        if var("binlog_format") != "ROW" {
            return Err(MySqlError::ServerSetting {
                variable: "binlog_format",
                actual: var("binlog_format"),
                required: "ROW",
            });
        }
        if var("binlog_row_image") != "FULL" {
            return Err(MySqlError::ServerSetting {
                variable: "binlog_row_image",
                actual: var("binlog_row_image"),
                required: "FULL",
            });
        }
        let grants: Vec<String> = conn
            .query("SHOW GRANTS FOR CURRENT_USER()")
            .await
            .map_err(|e| q(e, &cfg))?;
        if let Some(missing) = missing_privileges(&grants) {
            return Err(MySqlError::Privilege {
                user: cfg.user.clone(),
                detail: format!("missing {missing} ON *.*"),
            });
        }
        Ok(server)
    }

    async fn binlog_position(
        &self,
        conn: &mut Conn,
    ) -> Result<(String, u64, Option<String>), MySqlError> {
        let cfg = &self.cfg;
        let row: Option<Row> = conn
            .query_first(self.server.binlog_status_sql())
            .await
            .map_err(|e| q(e, cfg))?;
        let Some(row) = row else {
            return Err(MySqlError::ServerSetting {
                variable: "log_bin",
                actual: "OFF".into(),
                required: "ON",
            });
        };
        let file: String = row.get(0).unwrap_or_default();
        let pos: u64 = row.get(1).unwrap_or(4);
        let gtids: Option<String> = conn
            .query_first::<Option<String>, _>(self.server.gtid_sql())
            .await
            .ok()
            .flatten()
            .flatten()
            .map(|g| g.replace(['\n', ' '], ""))
            .filter(|g| !g.is_empty());
        Ok((file, pos, gtids))
    }

    async fn run(&mut self) -> Result<(), MySqlError> {
        let cfg = self.cfg.clone();
        let mut conn = connect(&cfg).await?;
        self.server = self.check_server(&mut conn).await?;
        self.model = Tables::new(self.server == Server::MariaDb);
        tracing::info!(server = ?self.server, addr = %cfg.addr(), "connected");

        let stored = self.stored.clone();
        let has_offset = stored.as_ref().is_some_and(|p| !p.snapshot_incomplete());
        // the schema history must exist whenever offsets do (Debezium's rule)
        let mut history_state = None;
        if let (Some(topic), Some(bootstrap)) = (&cfg.history_topic, &cfg.history_bootstrap) {
            let h = KafkaHistory::new(
                bootstrap,
                topic,
                &cfg.history_producer,
                &cfg.history_consumer,
            )?;
            let mut state = h.state().await?;
            if has_offset
                && state == TopicState::Empty
                && !KafkaHistory::new(
                    bootstrap,
                    topic,
                    &cfg.history_producer,
                    &cfg.history_consumer,
                )?
                .read_all()
                .await?
                .is_empty()
            {
                // ListOffsets said empty but the topic holds records (a
                // broker answering from stale state): reading decides. A
                // reader of its own, so `h` still replays from the start.
                tracing::warn!(%topic, "the broker reported the schema history topic empty, but it holds records");
                state = TopicState::HasRecords;
            }
            if has_offset
                && state != TopicState::HasRecords
                && cfg.snapshot_mode != SnapshotMode::Recovery
            {
                return Err(MySqlError::MissingHistory {
                    topic: topic.clone(),
                });
            }
            if state == TopicState::Missing {
                h.ensure_topic().await?;
            }
            history_state = Some(state);
            self.history = Some(h);
        } else {
            tracing::warn!("schema.history.internal.kafka.topic / .bootstrap.servers are not set: the schema history is kept in memory only, and after a restart table definitions are read from the server's current schema");
        }
        let available = match &stored {
            Some(p) if !p.snapshot_incomplete() => {
                let logs: Vec<Row> = conn
                    .query("SHOW BINARY LOGS")
                    .await
                    .map_err(|e| q(e, &cfg))?;
                let names: Vec<String> =
                    logs.iter().filter_map(|r| r.get::<String, _>(0)).collect();
                p.file.is_empty() || names.contains(&p.file)
            }
            _ => false,
        };
        let plan = plan_start(cfg.snapshot_mode, stored.as_ref(), available)?;
        tracing::info!(?plan, "starting");
        match plan {
            StartPlan::Snapshot { data } => {
                let pos = self.snapshot(conn, data).await?;
                if cfg.snapshot_mode == SnapshotMode::InitialOnly {
                    tracing::info!("snapshot.mode=initial_only: snapshot complete, not streaming");
                    let _ = self.stop.changed().await;
                    return Ok(());
                }
                self.stream(pos, None).await
            }
            StartPlan::Resume { recover_schema } => {
                let p = stored.unwrap_or_default();
                if recover_schema {
                    // rebuild the history from the current definitions, at the stored position
                    let ddls = self.read_schema(&mut conn).await?;
                    let _ = conn.disconnect().await;
                    let at = Position {
                        snapshot: true,
                        ..p.clone()
                    };
                    for (db, ddl, out) in &ddls {
                        self.record_history(db, ddl, &out.changes, &at).await?;
                    }
                    tracing::info!(
                        statements = ddls.len(),
                        "schema history recovered from the current schema"
                    );
                } else {
                    let _ = conn.disconnect().await;
                    if history_state == Some(TopicState::HasRecords) {
                        self.replay_history(&p).await?;
                    }
                }
                let skip = Some((p.event, p.row));
                self.stream(p, skip).await
            }
            StartPlan::FromStart => {
                let _ = conn.disconnect().await;
                // Debezium's `never`: read the binlog from its beginning
                self.stream(Position::default(), None).await
            }
        }
    }

    /// Rebuilds the table model from the history up to `upto`.
    async fn replay_history(&mut self, upto: &Position) -> Result<(), MySqlError> {
        let Some(h) = &self.history else {
            return Ok(());
        };
        let records = h.read_all().await?;
        let replay = replay_filter(&records, upto);
        for r in &replay {
            let out = self.model.apply(&r.database, &r.ddl);
            if !out.understood {
                tracing::debug!(ddl = %r.ddl, "history statement not understood; skipped");
            }
        }
        self.recorded_upto = records
            .iter()
            .filter_map(|r| Position::from_offset(&r.position))
            .reduce(|a, b| if position_le(&a, &b) { b } else { a });
        tracing::info!(
            records = records.len(),
            replayed = replay.len(),
            tables = self.model.len(),
            "schema history replayed"
        );
        Ok(())
    }

    /// Appends one statement to the history (when configured).
    async fn record_history(
        &self,
        db: &str,
        ddl: &str,
        changes: &[TableChange],
        at: &Position,
    ) -> Result<(), MySqlError> {
        let Some(h) = &self.history else {
            return Ok(());
        };
        let r = HistoryRecord {
            server: self.cfg.topic_prefix.clone(),
            position: at.to_offset(),
            ts_ms: now().0,
            database: db.to_owned(),
            ddl: ddl.to_owned(),
            table_changes: changes.iter().map(table_change_json).collect(),
        };
        h.record(&r).await
    }

    /// Reads the definitions of the captured databases and tables
    /// (`SHOW CREATE DATABASE` / `SHOW CREATE TABLE`) into the model;
    /// returns `(database, statement, outcome)` in order.
    async fn read_schema(
        &mut self,
        conn: &mut Conn,
    ) -> Result<Vec<(String, String, Outcome)>, MySqlError> {
        let cfg = self.cfg.clone();
        let captured: Vec<(String, String)> = catalog::list_tables(conn)
            .await
            .map_err(|e| q(e, &cfg))?
            .into_iter()
            .filter(|(d, t)| cfg.filters.table(d, t))
            .collect();
        let mut out = Vec::new();
        let mut last_db: Option<String> = None;
        for (d, t) in &captured {
            if last_db.as_deref() != Some(d.as_str()) {
                let row: Option<(String, String)> = conn
                    .query_first(format!("SHOW CREATE DATABASE {}", quote_ident(d)))
                    .await
                    .map_err(|e| q(e, &cfg))?;
                if let Some((_, ddl)) = row {
                    let o = self.model.apply(d, &ddl);
                    out.push((d.clone(), ddl, o));
                }
                last_db = Some(d.clone());
            }
            let row: Option<(String, String)> = conn
                .query_first(format!(
                    "SHOW CREATE TABLE {}.{}",
                    quote_ident(d),
                    quote_ident(t)
                ))
                .await
                .map_err(|e| q(e, &cfg))?;
            if let Some((_, ddl)) = row {
                let o = self.model.apply(d, &ddl);
                if self.model.get(d, t).is_none() {
                    tracing::warn!(table = %format!("{d}.{t}"), "could not parse SHOW CREATE TABLE; reading information_schema");
                    if let Some(tb) = catalog::load_table(conn, d, t)
                        .await
                        .map_err(|e| q(e, &cfg))?
                    {
                        self.model.put(tb);
                    }
                }
                out.push((d.clone(), ddl, o));
            }
        }
        Ok(out)
    }

    /// The schemas of `db`.`table`: from the model, else (unknown table)
    /// from `information_schema`; None when not captured or gone.
    async fn load(
        &mut self,
        meta: &mut Conn,
        db: &str,
        table: &str,
    ) -> Result<Option<Arc<TableSchema>>, MySqlError> {
        let key = (db.to_owned(), table.to_owned());
        if let Some(t) = self.tables.get(&key) {
            return Ok(t.clone());
        }
        let ts = if self.cfg.filters.table(db, table) {
            if self.model.get(db, table).is_none() {
                tracing::debug!(table = %format!("{db}.{table}"), "table not in the schema history; reading information_schema");
                if let Some(t) = catalog::load_table(meta, db, table)
                    .await
                    .map_err(|e| q(e, &self.cfg))?
                {
                    self.model.put(t);
                }
            }
            self.model
                .get(db, table)
                .map(|t| Arc::new(TableSchema::build(&self.cfg, t)))
        } else {
            None
        };
        self.tables.insert(key, ts.clone());
        Ok(ts)
    }

    /// Takes the snapshot on `conn` (rows only when `data`); returns the
    /// position to stream from.
    async fn snapshot(&mut self, mut conn: Conn, data: bool) -> Result<Position, MySqlError> {
        let cfg = self.cfg.clone();
        let lock = cfg.locking_mode == LockingMode::Minimal;
        conn.query_drop("SET SESSION time_zone = '+00:00'")
            .await
            .map_err(|e| q(e, &cfg))?;
        conn.query_drop("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            .await
            .map_err(|e| q(e, &cfg))?;
        if lock {
            conn.query_drop("FLUSH TABLES WITH READ LOCK")
                .await
                .map_err(|e| match q(e, &cfg) {
                    MySqlError::Privilege { user, detail } => MySqlError::Privilege {
                        user,
                        detail: format!("{detail} (FLUSH TABLES WITH READ LOCK needs RELOAD; or set snapshot.locking.mode=none)"),
                    },
                    other => other,
                })?;
        }
        conn.query_drop("START TRANSACTION WITH CONSISTENT SNAPSHOT")
            .await
            .map_err(|e| q(e, &cfg))?;
        let (file, pos, gtids) = self.binlog_position(&mut conn).await?;
        let ts_ms = now().0;
        self.model.clear();
        self.tables.clear();
        let statements = self.read_schema(&mut conn).await?;
        let mut schemas = Vec::new();
        let mut ddls = Vec::new();
        for (d, ddl, out) in &statements {
            for ch in &out.changes {
                let t = &ch.table;
                if let Some(ts) = self.load(&mut conn, &t.db, &t.name).await? {
                    schemas.push(ts);
                }
            }
            if !out.changes.is_empty() && cfg.include_schema_changes {
                ddls.push((d.clone(), ddl.clone(), out.changes.clone()));
            }
        }
        if lock {
            conn.query_drop("UNLOCK TABLES")
                .await
                .map_err(|e| q(e, &cfg))?;
        }
        tracing::info!(tables = schemas.len(), %file, pos, "snapshot started");
        let snapshot_started = std::time::Instant::now();
        self.metrics.snapshot_running.store(true, Ordering::Relaxed);
        self.metrics
            .total_table_count
            .store(schemas.len() as u64, Ordering::Relaxed);
        let base = Position {
            file: file.clone(),
            pos,
            gtids: gtids.clone(),
            ts_sec: ts_ms / 1000,
            server_id: 0,
            snapshot: true,
            ..Position::default()
        };
        for (d, ddl, out) in &statements {
            self.record_history(d, ddl, &out.changes, &base).await?;
        }
        if !data {
            schemas.clear();
        }
        let info = |marker: &'static str| SourceInfo {
            snapshot: marker,
            ts_ms,
            server_id: 0,
            gtid: None,
            file: file.clone(),
            pos: pos as i64,
            row: 0,
            thread: None,
            query: None,
        };
        // schema changes first; the last is held until we know whether rows follow
        let mut held_ddl: Option<(String, String, Vec<TableChange>)> = None;
        for (d, ddl, ch) in ddls {
            if let Some((hd, hddl, hch)) = held_ddl.replace((d, ddl, ch)) {
                let r = schema_change(
                    &cfg,
                    &hd,
                    &hddl,
                    &hch,
                    &info("true"),
                    &self.partition,
                    base.to_offset(),
                );
                self.push(r).await?;
            }
        }
        let mut held: Option<(Arc<TableSchema>, Struct, bool)> = None;
        let mut first_overall = true;
        let n_tables = schemas.len();
        for (ti, ts) in schemas.iter().enumerate() {
            let last_table = ti + 1 == n_tables;
            let sql = format!(
                "SELECT * FROM {}.{}",
                quote_ident(&ts.db),
                quote_ident(&ts.table)
            );
            let mut result = conn.exec_iter(sql, ()).await.map_err(|e| q(e, &cfg))?;
            let mut first_in_table = true;
            loop {
                let row = result.next().await.map_err(|e| q(e, &cfg))?;
                let Some(row) = row else { break };
                let values: Vec<My> = row.unwrap();
                let st = ts.row(&values, false).map_err(|d| MySqlError::Decode {
                    what: format!("{}.{}", ts.db, ts.table),
                    detail: d,
                })?;
                if let Some((hd, hddl, hch)) = held_ddl.take() {
                    let r = schema_change(
                        &cfg,
                        &hd,
                        &hddl,
                        &hch,
                        &info("true"),
                        &self.partition,
                        base.to_offset(),
                    );
                    self.push(r).await?;
                }
                if let Some((hts, hrow, hfirst)) = held.take() {
                    let m = snapshot_marker(first_overall && hfirst, false, hfirst, false);
                    first_overall = false;
                    let r = hts.change(
                        &cfg,
                        "r",
                        None,
                        hrow,
                        &info(m),
                        None,
                        &self.partition,
                        base.to_offset(),
                    );
                    self.push(r).await?;
                }
                held = Some((ts.clone(), st, first_in_table));
                first_in_table = false;
                if self.stopping() {
                    return Err(MySqlError::Stopped);
                }
            }
            drop(result);
            if let Some((hts, hrow, hfirst)) = held.take() {
                if Arc::ptr_eq(&hts, ts) && !last_table {
                    let m = snapshot_marker(first_overall && hfirst, false, hfirst, true);
                    first_overall = false;
                    let r = hts.change(
                        &cfg,
                        "r",
                        None,
                        hrow,
                        &info(m),
                        None,
                        &self.partition,
                        base.to_offset(),
                    );
                    self.push(r).await?;
                } else {
                    held = Some((hts, hrow, hfirst));
                }
            }
        }
        let done = Position {
            snapshot_completed: true,
            ..base.clone()
        };
        if let Some((hts, hrow, hfirst)) = held.take() {
            let m = snapshot_marker(first_overall && hfirst, true, hfirst, true);
            let r = hts.change(
                &cfg,
                "r",
                None,
                hrow,
                &info(m),
                None,
                &self.partition,
                done.to_offset(),
            );
            self.push(r).await?;
        } else if let Some((hd, hddl, hch)) = held_ddl.take() {
            let r = schema_change(
                &cfg,
                &hd,
                &hddl,
                &hch,
                &info("last"),
                &self.partition,
                done.to_offset(),
            );
            self.push(r).await?;
        }
        conn.query_drop("COMMIT").await.map_err(|e| q(e, &cfg))?;
        let _ = conn.disconnect().await;
        self.send_batch().await?;
        tracing::info!("snapshot completed");
        self.metrics
            .snapshot_running
            .store(false, Ordering::Relaxed);
        self.metrics
            .snapshot_completed
            .store(true, Ordering::Relaxed);
        self.metrics
            .remaining_table_count
            .store(0, Ordering::Relaxed);
        self.metrics
            .snapshot_duration_secs
            .store(snapshot_started.elapsed().as_secs(), Ordering::Relaxed);
        Ok(Position {
            snapshot: false,
            snapshot_completed: false,
            ..base
        })
    }

    async fn stream(
        &mut self,
        start: Position,
        skip: Option<(u64, u64)>,
    ) -> Result<(), MySqlError> {
        let cfg = self.cfg.clone();
        let mut meta = connect(&cfg).await?;
        let mut conn = connect(&cfg).await?;
        for sql in self.server.dump_session_sql() {
            conn.query_drop(*sql).await.map_err(|e| q(e, &cfg))?;
        }
        // heartbeats every 10 s keep an idle connection observable
        conn.query_drop("SET @master_heartbeat_period = 10000000000")
            .await
            .map_err(|e| q(e, &cfg))?;
        let checksum: Option<String> = conn
            .query_first("SELECT @@global.binlog_checksum")
            .await
            .map_err(|e| q(e, &cfg))?;
        let checksum = checksum.is_some_and(|c| !c.eq_ignore_ascii_case("NONE"));
        tracing::info!(file = %start.file, pos = start.pos, "streaming the binlog");
        self.metrics.connected.store(true, Ordering::Relaxed);
        let mut req = BinlogStreamRequest::new(cfg.server_id);
        if !start.file.is_empty() {
            req = req
                .with_filename(start.file.as_bytes())
                .with_pos(start.pos.max(4));
        }
        let mut stream = conn.get_binlog_stream(req).await.map_err(|e| q(e, &cfg))?;
        let mut gtids = start
            .gtids
            .as_deref()
            .map(GtidSet::parse)
            .unwrap_or_default();
        let mut cur_file = start.file.clone();
        let mut txn = Txn {
            file: start.file.clone(),
            start: start.pos,
            skip,
            ..Txn::default()
        };
        let mut first_txn_pending = skip.is_some();
        let mut stop = self.stop.clone();
        let mut prev_end: u64 = 0;
        // time and server of the last event, for heartbeat offsets
        let (mut last_ts_ms, mut last_server_id) = (start.ts_sec * 1000, start.server_id);
        let mut next_heartbeat = cfg
            .heartbeat_interval
            .map(|d| tokio::time::Instant::now() + d);
        loop {
            // heartbeats go out between transactions only, carrying the
            // position reached (on resume, the stored one until the first
            // transaction is read)
            let heartbeat_due = next_heartbeat.filter(|_| !txn.open);
            if heartbeat_due.is_some_and(|due| due <= tokio::time::Instant::now()) {
                let (event, row) = if first_txn_pending {
                    txn.skip.unwrap_or((0, 0))
                } else {
                    (0, 0)
                };
                let at = Position {
                    file: txn.file.clone(),
                    pos: txn.start,
                    event,
                    row,
                    gtids: (!gtids.is_empty()).then(|| gtids.to_string()),
                    ts_sec: last_ts_ms / 1000,
                    server_id: last_server_id,
                    ..Position::default()
                };
                self.heartbeat(&mut meta, at).await?;
                next_heartbeat = cfg
                    .heartbeat_interval
                    .map(|d| tokio::time::Instant::now() + d);
                continue;
            }
            let next = if self.batch.is_empty() {
                tokio::select! {
                    _ = stop.changed() => return Err(MySqlError::Stopped),
                    _ = tokio::time::sleep_until(heartbeat_due.unwrap_or_else(tokio::time::Instant::now)), if heartbeat_due.is_some() => continue,
                    e = stream.next() => e,
                }
            } else {
                // cancel-safe: an event not complete yet stays buffered
                match stream.next().now_or_never() {
                    Some(e) => e,
                    None if self.batch.last().is_some_and(|r| r.control().is_some()) => {
                        // a transaction ended and nothing more is ready:
                        // hand it over now, as caught up
                        self.send_batch().await?;
                        self.caught_up.store(true, Ordering::Release);
                        continue;
                    }
                    None => {
                        match tokio::time::timeout(Duration::from_millis(20), stream.next()).await {
                            Ok(e) => e,
                            Err(_) => {
                                self.send_batch().await?;
                                continue;
                            }
                        }
                    }
                }
            };
            let event = match next {
                None => return Err(closed_stream(&cfg, "the server closed the binlog stream")),
                Some(Err(e)) => {
                    let e = q(e, &cfg);
                    return Err(if e.kind() == velocity_api::ErrorKind::Retriable {
                        closed_stream(&cfg, &e.to_string())
                    } else {
                        e
                    });
                }
                Some(Ok(e)) => e,
            };
            let header = event.header();
            let end_pos = header.log_pos() as u64;
            let ev_start = end_pos.saturating_sub(header.event_size() as u64);
            // where the previous event ended: a gap before this event is an
            // event the server did not send (MariaDB's ANNOTATE_ROWS)
            let gap_from = std::mem::replace(&mut prev_end, end_pos);
            let ts_ms = header.timestamp() as i64 * 1000;
            let server_id = header.server_id() as i64;
            if ts_ms > 0 {
                (last_ts_ms, last_server_id) = (ts_ms, server_id);
            }
            let raw_type = header.event_type_raw();
            if raw_type == MARIADB_GTID_EVENT {
                if let Some(g) = MariaGtid::parse(event.data()) {
                    gtids.add_mariadb(g.domain, header.server_id(), g.seq);
                    self.begin_txn(&mut txn, &cur_file, ev_start, &mut first_txn_pending);
                    txn.gtid = Some(format!("{}-{}-{}", g.domain, header.server_id(), g.seq));
                }
                continue;
            }
            if raw_type == MARIADB_ANNOTATE_ROWS_EVENT {
                if cfg.include_query {
                    txn.query = Some(String::from_utf8_lossy(event.data()).into_owned());
                }
                continue;
            }
            let data = match event.read_data() {
                Ok(Some(d)) => d,
                Ok(None) => continue,
                Err(e) => {
                    return Err(MySqlError::Decode {
                        what: format!("binlog event type {raw_type} at {cur_file}:{ev_start}"),
                        detail: e.to_string(),
                    })
                }
            };
            match data {
                EventData::RotateEvent(r) => {
                    cur_file = rotate_file_name(r.name_raw(), header.event_size(), checksum);
                    if !txn.open {
                        txn.file = cur_file.clone();
                        txn.start = r.position();
                    }
                }
                EventData::GtidEvent(g) => {
                    let uuid = uuid_string(&g.sid());
                    gtids.add_mysql(&uuid, g.gno());
                    self.begin_txn(&mut txn, &cur_file, ev_start, &mut first_txn_pending);
                    txn.gtid = Some(format!("{uuid}:{}", g.gno()));
                }
                EventData::AnonymousGtidEvent(_) => {
                    self.begin_txn(&mut txn, &cur_file, ev_start, &mut first_txn_pending);
                }
                EventData::QueryEvent(qe) => {
                    let sql = qe.query().into_owned();
                    let thread = qe.thread_id() as i64;
                    let upper = sql.trim_start().to_ascii_uppercase();
                    if upper == "BEGIN" || upper.starts_with("XA START") {
                        if !txn.open {
                            self.begin_txn(&mut txn, &cur_file, ev_start, &mut first_txn_pending);
                        }
                        txn.thread = Some(thread);
                        continue;
                    }
                    if upper == "COMMIT"
                        || upper.starts_with("XA END")
                        || upper.starts_with("XA COMMIT")
                    {
                        let after = self.after_txn(&cur_file, end_pos, &gtids, ts_ms, server_id);
                        self.finish_tx(&mut txn, ts_ms, after).await?;
                        self.end_txn(&mut txn, &cur_file, end_pos);
                        continue;
                    }
                    // DDL (or another statement): the table definitions may change
                    let db = qe.schema().into_owned();
                    if !txn.open {
                        self.begin_txn(&mut txn, &cur_file, ev_start, &mut first_txn_pending);
                    }
                    self.tables.clear();
                    let k = txn.events;
                    let skipped = txn.skip.is_some_and(|(e, _)| k < e);
                    let pos = Position {
                        file: txn.file.clone(),
                        pos: txn.start,
                        event: k + 1,
                        row: 0,
                        gtids: (!gtids.is_empty()).then(|| gtids.to_string()),
                        ts_sec: ts_ms / 1000,
                        server_id,
                        ..Position::default()
                    };
                    // a statement already covered by the stored offset is
                    // already in the model (replayed from the history)
                    let out = if skipped {
                        Outcome::default()
                    } else {
                        self.model.apply(&db, &sql)
                    };
                    if !skipped && !out.understood {
                        tracing::debug!(statement = %sql, "statement not understood by the DDL parser; recorded and skipped");
                    }
                    let is_ddl = out.is_ddl || is_ddl(&upper);
                    let target = if out.database.is_empty() {
                        db.clone()
                    } else {
                        out.database.clone()
                    };
                    let relevant = target.is_empty() || cfg.filters.database(&target);
                    let transactional = ["SAVEPOINT", "ROLLBACK", "RELEASE"]
                        .iter()
                        .any(|p| upper.starts_with(p));
                    if !skipped
                        && relevant
                        && !transactional
                        && !self
                            .recorded_upto
                            .as_ref()
                            .is_some_and(|u| position_le(&pos, u))
                    {
                        self.record_history(&db, &sql, &out.changes, &pos).await?;
                    }
                    let info = SourceInfo {
                        snapshot: "false",
                        ts_ms,
                        server_id,
                        gtid: txn.gtid.clone(),
                        file: cur_file.clone(),
                        pos: ev_start as i64,
                        row: 0,
                        thread: Some(thread),
                        query: None,
                    };
                    if let Some((tdb, table)) = out.truncated.as_ref().filter(|_| !skipped) {
                        // Debezium: a TRUNCATE is an `op: "t"` event of the
                        // table (unless `t` is skipped), never a schema change
                        let ts = if cfg.skips('t') {
                            None
                        } else {
                            self.load(&mut meta, tdb, table).await?
                        };
                        if let Some(ts) = ts {
                            let r = ts.truncate(&cfg, &info, &self.partition, pos.to_offset());
                            self.push(r).await?;
                            txn.emitted = true;
                        }
                    } else if cfg.include_schema_changes && is_ddl && !skipped && relevant {
                        let r = schema_change(
                            &cfg,
                            &target,
                            &sql,
                            &out.changes,
                            &info,
                            &self.partition,
                            pos.to_offset(),
                        );
                        self.push(r).await?;
                        txn.emitted = true;
                    }
                    txn.events += 1;
                    self.metrics.event_seen();
                    // DDL commits implicitly
                    if is_ddl {
                        let after = self.after_txn(&cur_file, end_pos, &gtids, ts_ms, server_id);
                        self.finish_tx(&mut txn, ts_ms, after).await?;
                        self.end_txn(&mut txn, &cur_file, end_pos);
                    }
                }
                EventData::XidEvent(_) => {
                    self.metrics.transaction_committed(ts_ms, now_ms());
                    let after = self.after_txn(&cur_file, end_pos, &gtids, ts_ms, server_id);
                    self.finish_tx(&mut txn, ts_ms, after).await?;
                    self.end_txn(&mut txn, &cur_file, end_pos);
                }
                EventData::RowsQueryEvent(rq) if cfg.include_query => {
                    txn.query = Some(rq.query().into_owned());
                }
                EventData::TableMapEvent(tm) => {
                    let db = tm.database_name().into_owned();
                    let table = tm.table_name().into_owned();
                    if cfg.include_query
                        && self.server == Server::MariaDb
                        && gap_from > 0
                        && gap_from < ev_start
                        && cfg.filters.table(&db, &table)
                    {
                        // mysql_async cannot request ANNOTATE_ROWS events
                        // (COM_BINLOG_DUMP flag 2): read the skipped one
                        if let Some(query) =
                            annotate_at(&mut meta, &cur_file, gap_from, &cfg).await?
                        {
                            txn.query = Some(query);
                        }
                    }
                    let ts = self.load(&mut meta, &db, &table).await?;
                    if ts.is_some_and(|t| t.width != tm.columns_count() as usize) {
                        // the model disagrees with the binlog: fall back to the server's definition
                        tracing::warn!(
                            table = %format!("{db}.{table}"),
                            binlog_columns = tm.columns_count(),
                            "the table definition from the schema history does not match the binlog; reading information_schema"
                        );
                        if let Some(t) = catalog::load_table(&mut meta, &db, &table)
                            .await
                            .map_err(|e| q(e, &cfg))?
                        {
                            self.model.put(t);
                        }
                        self.tables.remove(&(db.clone(), table.clone()));
                        self.load(&mut meta, &db, &table).await?;
                    }
                }
                EventData::RowsEvent(rows) => {
                    if !txn.open {
                        self.begin_txn(&mut txn, &cur_file, ev_start, &mut first_txn_pending);
                    }
                    let k = txn.events;
                    txn.events += 1;
                    let table_id = rows.table_id();
                    let Some(tme) = stream.get_tme(table_id) else {
                        return Err(MySqlError::Decode {
                            what: format!("rows event at {cur_file}:{ev_start}"),
                            detail: format!("no TABLE_MAP for table id {table_id}"),
                        });
                    };
                    let key = (
                        tme.database_name().into_owned(),
                        tme.table_name().into_owned(),
                    );
                    let ts = match self.tables.get(&key) {
                        Some(t) => t.clone(),
                        None => self.load(&mut meta, &key.0, &key.1).await?,
                    };
                    let Some(ts) = ts else { continue };
                    let (skip_event, skip_row) = txn.skip.unwrap_or((0, 0));
                    if txn.skip.is_some() && k < skip_event {
                        continue;
                    }
                    let op = match &rows {
                        RowsEventData::WriteRowsEventV1(_) | RowsEventData::WriteRowsEvent(_) => {
                            "c"
                        }
                        RowsEventData::UpdateRowsEventV1(_)
                        | RowsEventData::UpdateRowsEvent(_)
                        | RowsEventData::PartialUpdateRowsEvent(_) => "u",
                        _ => "d",
                    };
                    // Debezium ignores the row events of skipped operations
                    if op.chars().any(|c| cfg.skips(c)) {
                        continue;
                    }
                    let images: Vec<RowImages> = rows
                        .rows(tme)
                        .map(|r| {
                            r.map_err(|e| e.to_string()).and_then(|(b, a)| {
                                Ok((b.map(values_of).transpose()?, a.map(values_of).transpose()?))
                            })
                        })
                        .collect::<Result<_, String>>()
                        .map_err(|d| MySqlError::Decode {
                            what: format!("rows of {}.{} at {cur_file}:{ev_start}", key.0, key.1),
                            detail: d,
                        })?;
                    let n = images.len() as u64;
                    for (i, (before, after)) in images.into_iter().enumerate() {
                        let i = i as u64;
                        if txn.skip.is_some() && k == skip_event && i < skip_row {
                            continue;
                        }
                        let decode = |v: Option<Vec<My>>| -> Result<Option<Struct>, MySqlError> {
                            v.map(|v| ts.row(&v, true)).transpose().map_err(|d| {
                                MySqlError::Decode {
                                    what: format!("{}.{}", ts.db, ts.table),
                                    detail: d,
                                }
                            })
                        };
                        let before = decode(before)?;
                        let after = decode(after)?;
                        let at = |event: u64, row: u64| Position {
                            file: txn.file.clone(),
                            pos: txn.start,
                            event,
                            row,
                            gtids: (!gtids.is_empty()).then(|| gtids.to_string()),
                            ts_sec: ts_ms / 1000,
                            server_id,
                            ..Position::default()
                        };
                        let prev = at(k, i).to_offset();
                        let next = if i + 1 == n {
                            at(k + 1, 0)
                        } else {
                            at(k, i + 1)
                        }
                        .to_offset();
                        let info = SourceInfo {
                            snapshot: "false",
                            ts_ms,
                            server_id,
                            gtid: txn.gtid.clone(),
                            file: cur_file.clone(),
                            pos: ev_start as i64,
                            row: i as i32,
                            thread: txn.thread,
                            query: txn.query.clone(),
                        };
                        if cfg.provide_transaction_metadata && txn.tx.is_none() {
                            let id = txn
                                .gtid
                                .clone()
                                .unwrap_or_else(|| format!("{}:{}", txn.file, txn.start));
                            let begin = transaction::record(
                                &self.tx_topic,
                                "BEGIN",
                                &id,
                                ts_ms,
                                None,
                                &self.partition,
                                prev.clone(),
                                now().0,
                            );
                            self.push(begin).await?;
                            txn.tx = Some(TxCounter::new(id));
                        }
                        let recs = self.records(
                            &ts,
                            op,
                            before,
                            after,
                            &info,
                            txn.tx.as_mut(),
                            [prev, next],
                        );
                        txn.emitted |= !recs.is_empty();
                        for r in recs {
                            self.push(r).await?;
                        }
                    }
                }
                _ => {}
            }
            if self.stopping() {
                return Err(MySqlError::Stopped);
            }
        }
    }

    /// Runs `heartbeat.action.query` (if any) on `meta`, then emits the
    /// heartbeat record carrying `at` (`heartbeat.interval.ms`).
    async fn heartbeat(&mut self, meta: &mut Conn, at: Position) -> Result<(), MySqlError> {
        let cfg = self.cfg.clone();
        if let Some(sql) = &cfg.heartbeat_action_query {
            if let Err(e) = meta.query_drop(sql.as_str()).await {
                return Err(match e {
                    mysql_async::Error::Server(s) => {
                        MySqlError::HeartbeatAction(format!("{} (error {})", s.message, s.code))
                    }
                    other => q(other, &cfg),
                });
            }
        }
        tracing::debug!(file = %at.file, pos = at.pos, "heartbeat");
        let record = heartbeat::record(
            &cfg.heartbeat_topic_prefix,
            &cfg.topic_prefix,
            now_ms(),
            &self.partition,
            at.to_offset(),
        );
        self.push(record).await
    }

    /// The records of one row change, with only the last carrying `next`
    /// (`[prev, next]`: the others carry `prev`); with `tx` (transaction
    /// metadata on), every change event gets the next `transaction` block
    /// of the table's collection, in emission order.
    #[allow(clippy::too_many_arguments)]
    fn records(
        &self,
        ts: &TableSchema,
        op: &'static str,
        before: Option<Struct>,
        after: Option<Struct>,
        info: &SourceInfo,
        mut tx: Option<&mut TxCounter>,
        [prev, next]: [Offset; 2],
    ) -> Vec<SourceRecord> {
        let cfg = &self.cfg;
        let p = &self.partition;
        let tomb = cfg.tombstones_on_delete && ts.events.key_schema.is_some();
        let collection = tx.as_ref().map(|_| format!("{}.{}", ts.db, ts.table));
        let mut block = || {
            tx.as_deref_mut()
                .zip(collection.as_deref())
                .map(|(t, c)| t.next_block(c))
        };
        let mut out = Vec::new();
        match (op, before, after) {
            ("c", _, Some(a)) => out.push(ts.change(cfg, "c", None, a, info, block(), p, next)),
            ("d", Some(b), _) => {
                let source = ts.source(cfg, info);
                ts.events
                    .delete(b, source, block(), tomb, p, prev, next, &mut out);
            }
            ("u", Some(b), Some(a)) => {
                if ts.events.key_schema.is_some() && ts.events.key_of(&b) != ts.events.key_of(&a) {
                    // primary key change: delete (+ tombstone) of the old key, create of the new
                    let source = ts.source(cfg, info);
                    ts.events
                        .delete(b, source, block(), tomb, p, prev.clone(), prev, &mut out);
                    out.push(ts.change(cfg, "c", None, a, info, block(), p, next));
                } else {
                    out.push(ts.change(cfg, "u", Some(b), a, info, block(), p, next));
                }
            }
            _ => {}
        }
        out
    }

    /// The offset of the position after a transaction (where the next starts).
    fn after_txn(
        &self,
        file: &str,
        end_pos: u64,
        gtids: &GtidSet,
        ts_ms: i64,
        server_id: i64,
    ) -> Offset {
        Position {
            file: file.to_owned(),
            pos: end_pos,
            gtids: (!gtids.is_empty()).then(|| gtids.to_string()),
            ts_sec: ts_ms / 1000,
            server_id,
            ..Position::default()
        }
        .to_offset()
    }

    /// Emits the END record of the transaction, if its BEGIN was emitted,
    /// then, if the transaction emitted any record, the runtime's
    /// transaction-end marker ([`SourceRecord::transaction_end`], never
    /// produced) carrying `after`, for stateful transforms such as the
    /// domain NetChangeFilter.
    async fn finish_tx(
        &mut self,
        txn: &mut Txn,
        ts_ms: i64,
        after: Offset,
    ) -> Result<(), MySqlError> {
        if let Some(tx) = txn.tx.take() {
            let end = transaction::record(
                &self.tx_topic,
                "END",
                &tx.id,
                ts_ms,
                Some(&tx.per_collection),
                &self.partition,
                after.clone(),
                now().0,
            );
            self.push(end).await?;
        }
        if std::mem::take(&mut txn.emitted) {
            let id = txn
                .gtid
                .clone()
                .unwrap_or_else(|| format!("{}:{}", txn.file, txn.start));
            let marker = SourceRecord::transaction_end(self.partition.clone(), after, Some(id));
            self.push(marker).await?;
        }
        Ok(())
    }

    fn begin_txn(&self, txn: &mut Txn, file: &str, start: u64, first_pending: &mut bool) {
        let skip = if *first_pending {
            *first_pending = false;
            txn.skip
        } else {
            None
        };
        *txn = Txn {
            file: file.to_owned(),
            start,
            open: true,
            skip,
            ..Txn::default()
        };
    }

    fn end_txn(&self, txn: &mut Txn, file: &str, end_pos: u64) {
        *txn = Txn {
            file: file.to_owned(),
            start: end_pos,
            ..Txn::default()
        };
    }
}

/// What the reader does at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartPlan {
    /// Snapshot (rows only when `data`), then stream from the snapshot's position.
    Snapshot {
        /// Read table rows (`initial`, `when_needed`) or only the schema.
        data: bool,
    },
    /// Stream from the stored offset; with `recover_schema` the history is
    /// first rebuilt from the current definitions (`recovery`).
    Resume {
        /// `snapshot.mode=recovery`.
        recover_schema: bool,
    },
    /// Stream from the oldest binlog (`never` without an offset).
    FromStart,
}

/// Decides how to start from the mode, the stored offset and whether its
/// binlog file is still on the server (`available`). A stored position
/// that is gone is Debezium's error unless `when_needed` allows a new
/// snapshot.
pub fn plan_start(
    mode: SnapshotMode,
    stored: Option<&Position>,
    available: bool,
) -> Result<StartPlan, MySqlError> {
    match stored {
        Some(p) if !p.snapshot_incomplete() => {
            if available {
                Ok(StartPlan::Resume {
                    recover_schema: mode == SnapshotMode::Recovery,
                })
            } else if mode == SnapshotMode::WhenNeeded {
                tracing::warn!(file = %p.file, pos = p.pos, "the stored binlog position is no longer available; snapshot.mode=when_needed: taking a new snapshot");
                Ok(StartPlan::Snapshot { data: true })
            } else {
                Err(MySqlError::PositionLost(format!(
                    "The connector is trying to read binlog starting at file={}, pos={}, gtids={}, but this is no longer available on the server. Reconfigure the connector to use a snapshot when needed (snapshot.mode=when_needed), or reset the offsets (PUT /connectors/<name>/stop, then DELETE /connectors/<name>/offsets)",
                    p.file,
                    p.pos,
                    p.gtids.as_deref().unwrap_or("")
                )))
            }
        }
        _ => Ok(match mode {
            SnapshotMode::Initial | SnapshotMode::InitialOnly | SnapshotMode::WhenNeeded => {
                StartPlan::Snapshot { data: true }
            }
            SnapshotMode::NoData | SnapshotMode::Recovery => StartPlan::Snapshot { data: false },
            SnapshotMode::Never => StartPlan::FromStart,
        }),
    }
}

/// The statement of the MariaDB ANNOTATE_ROWS event at `file`:`pos`, if
/// that is one (`SHOW BINLOG EVENTS` shows its text as `Info`).
async fn annotate_at(
    meta: &mut Conn,
    file: &str,
    pos: u64,
    cfg: &MySqlConfig,
) -> Result<Option<String>, MySqlError> {
    let row: Option<Row> = meta
        .query_first(format!(
            "SHOW BINLOG EVENTS IN '{}' FROM {pos} LIMIT 1",
            file.replace(['\\', '\''], "")
        ))
        .await
        .map_err(|e| q(e, cfg))?;
    Ok(row.and_then(|r| {
        let kind: Option<String> = r.get(2);
        let info: Option<String> = r.get(5);
        kind.filter(|k| k.eq_ignore_ascii_case("Annotate_rows"))
            .and(info)
    }))
}

/// The before and after images of one row (driver values by column).
type RowImages = (Option<Vec<My>>, Option<Vec<My>>);

fn values_of(row: mysql_common::binlog::row::BinlogRow) -> Result<Vec<My>, String> {
    row.unwrap()
        .into_iter()
        .map(|v| My::try_from(v).map_err(|e| e.to_string()))
        .collect()
}

/// The file name of a ROTATE event of `event_size` bytes. The fake ROTATE
/// the server sends before the first FORMAT_DESCRIPTION carries a CRC32
/// (when `binlog_checksum` is on) that the parser, not knowing the checksum
/// setting yet, leaves at the end of the name: header (19) + position (8) +
/// name fills the whole event then, and the last 4 bytes are cut.
pub fn rotate_file_name(raw: &[u8], event_size: u32, checksum: bool) -> String {
    let name = if checksum && raw.len() + 27 == event_size as usize && raw.len() > 4 {
        &raw[..raw.len() - 4]
    } else {
        raw
    };
    String::from_utf8_lossy(name).into_owned()
}

/// True for statements that change table definitions.
pub fn is_ddl(upper_sql: &str) -> bool {
    let s = upper_sql.trim_start();
    ["CREATE ", "ALTER ", "DROP ", "RENAME ", "TRUNCATE "]
        .iter()
        .any(|p| s.starts_with(p))
}

/// The replication privileges missing from `SHOW GRANTS` output, if any.
pub fn missing_privileges(grants: &[String]) -> Option<String> {
    let global: Vec<String> = grants
        .iter()
        .map(|g| g.to_ascii_uppercase())
        .filter(|g| g.contains(" ON *.*"))
        .collect();
    if global.iter().any(|g| g.contains("ALL PRIVILEGES")) {
        return None;
    }
    let has = |p: &str| global.iter().any(|g| g.contains(p));
    let mut missing = Vec::new();
    if !has("REPLICATION SLAVE") && !has("REPLICATION REPLICA") && !has("REPLICATION SLAVE ADMIN") {
        missing.push("REPLICATION SLAVE");
    }
    if !has("REPLICATION CLIENT") && !has("BINLOG MONITOR") && !has("SUPER") {
        missing.push("REPLICATION CLIENT");
    }
    if !has("SELECT") {
        missing.push("SELECT");
    }
    (!missing.is_empty()).then(|| missing.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn privileges_of_debezium_user() {
        let g = vec![
            "GRANT SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE, BINLOG MONITOR ON *.* TO `velocity`@`%`".to_owned(),
        ];
        assert_eq!(missing_privileges(&g), None);
        let g = vec!["GRANT SELECT ON *.* TO `u`@`%`".to_owned()];
        assert_eq!(
            missing_privileges(&g).as_deref(),
            Some("REPLICATION SLAVE, REPLICATION CLIENT")
        );
        let g = vec!["GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost`".to_owned()];
        assert_eq!(missing_privileges(&g), None);
        // MySQL 8 spelling
        let g = vec![
            "GRANT SELECT, RELOAD, REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO `dbz`@`%`"
                .to_owned(),
        ];
        assert_eq!(missing_privileges(&g), None);
    }

    #[test]
    fn rotate_name_without_checksum() {
        // fake rotate parsed before the FDE: the CRC is still in the name
        assert_eq!(
            rotate_file_name(b"mariadb-bin.000002Y\xfa:\x9c", 27 + 22, true),
            "mariadb-bin.000002"
        );
        // parsed after the FDE: already stripped
        assert_eq!(
            rotate_file_name(b"binlog.000010", 27 + 13 + 4, true),
            "binlog.000010"
        );
        assert_eq!(
            rotate_file_name(b"binlog.000010", 27 + 13, false),
            "binlog.000010"
        );
    }

    #[test]
    fn ddl_detection() {
        assert!(is_ddl("CREATE TABLE T (A INT)"));
        assert!(is_ddl("ALTER TABLE T ADD B INT"));
        assert!(!is_ddl("INSERT INTO T VALUES (1)"));
        assert_eq!(snapshot_marker(true, false, true, false), "first");
        assert_eq!(snapshot_marker(false, true, false, true), "last");
    }

    #[test]
    fn start_plan_by_mode_offset_and_binlog_availability() {
        let stored = Position {
            file: "mariadb-bin.000007".into(),
            pos: 1234,
            gtids: Some("0-1-99".into()),
            ..Position::default()
        };
        let incomplete = Position {
            snapshot: true,
            ..stored.clone()
        };
        use SnapshotMode::*;
        // no offset (or an unfinished snapshot)
        for p in [None, Some(&incomplete)] {
            assert_eq!(
                plan_start(Initial, p, false).unwrap(),
                StartPlan::Snapshot { data: true }
            );
            assert_eq!(
                plan_start(WhenNeeded, p, false).unwrap(),
                StartPlan::Snapshot { data: true }
            );
            assert_eq!(
                plan_start(NoData, p, false).unwrap(),
                StartPlan::Snapshot { data: false }
            );
            assert_eq!(
                plan_start(Recovery, p, false).unwrap(),
                StartPlan::Snapshot { data: false }
            );
            assert_eq!(plan_start(Never, p, false).unwrap(), StartPlan::FromStart);
        }
        // a stored offset whose binlog is there
        assert_eq!(
            plan_start(Initial, Some(&stored), true).unwrap(),
            StartPlan::Resume {
                recover_schema: false
            }
        );
        assert_eq!(
            plan_start(Recovery, Some(&stored), true).unwrap(),
            StartPlan::Resume {
                recover_schema: true
            }
        );
        // purged: Debezium's error, or a new snapshot under when_needed
        for mode in [Initial, NoData, Never, Recovery, InitialOnly] {
            let e = plan_start(mode, Some(&stored), false).unwrap_err();
            let m = e.to_string();
            assert!(
                m.starts_with("The connector is trying to read binlog starting at file=mariadb-bin.000007, pos=1234")
                    && m.contains("but this is no longer available on the server. Reconfigure the connector to use a snapshot when needed"),
                "{m}"
            );
            assert_eq!(e.kind(), velocity_api::ErrorKind::Fatal);
        }
        assert_eq!(
            plan_start(WhenNeeded, Some(&stored), false).unwrap(),
            StartPlan::Snapshot { data: true }
        );
    }
}
