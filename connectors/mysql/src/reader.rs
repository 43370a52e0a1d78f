//! The database reader: a background task that checks the server set-up,
//! snapshots (when needed) and then streams the binlog, turning rows into
//! Debezium change records and handing them to the task in bounded batches.
//!
//! Contracts:
//! - Order: snapshot records first, then binlog events in binlog order; a
//!   blocking snapshot's records come after the signal row that asked for
//!   it (see [`blocking`]).
//! - Snapshot consistency: with `snapshot.locking.mode=minimal` the reader
//!   takes `FLUSH TABLES WITH READ LOCK`, opens `START TRANSACTION WITH
//!   CONSISTENT SNAPSHOT`, reads the binlog position (`SHOW MASTER STATUS` /
//!   `SHOW BINARY LOG STATUS`, plus `@@gtid_binlog_pos` / `@@gtid_executed`)
//!   and the table definitions, then unlocks and reads the rows inside the
//!   transaction; streaming starts at that position, so every change
//!   committed after the snapshot is streamed and none before it. The other
//!   modes, and the table locks taken when the global lock is refused, are
//!   those of [`crate::locking`].
//! - Offsets (see [`crate::binlog`]): `file`/`pos` is the start of the
//!   transaction of the record, `event`/`row` count what of it was
//!   delivered. Of the several records one row can yield (delete +
//!   tombstone, or delete + tombstone + create for a key change) only the
//!   last carries the advanced offset. Within a batch a record whose
//!   position a later record covers is queued without offset or partition
//!   ([`velocity_api::source::push_covering`]): the runtime stores the same
//!   offsets once the batch is delivered, and the queue holds about half
//!   the memory per record.
//! - Resume: the reader requests the binlog from the stored `file`/`pos`,
//!   or, when the offset has a GTID set and the server logs GTIDs, from the
//!   first transaction after that set (filtered by `gtid.source.*`), and
//!   skips, in that first transaction, the `event` completed row events
//!   and `row` rows of the next one, so a restart in the middle of a
//!   transaction neither loses nor repeats stored records. The records of
//!   a transaction carry the GTID set before it (Debezium's restart set).
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
use mysql_async::binlog::events::{Event, EventData, RowsEventData, TableMapEvent};
use mysql_async::prelude::Queryable;
use mysql_async::{BinlogStream, BinlogStreamRequest, Conn, OptsBuilder, Row, SslOpts};
use mysql_common::value::Value as My;
use tokio::sync::{mpsc, watch};
use tracing::Instrument;
use velocity_api::debezium::heartbeat;
use velocity_api::debezium::options::{offset_text, FailureHandlingMode};
use velocity_api::debezium::source::snapshot_marker;
use velocity_api::debezium::transaction::{self, TxCounter};
use velocity_api::{Offset, Partition, SourceMetrics, SourceRecord, Struct};

use crate::binlog::{
    uuid_string, GtidSet, MariaGtid, Position, Server, MARIADB_ANNOTATE_ROWS_EVENT,
    MARIADB_GTID_EVENT,
};
use crate::catalog::{self, quote_ident};
use crate::config::{MySqlConfig, SnapshotMode, SslMode};
use crate::ddl::{Outcome, TableChange, Tables};
use crate::envelope::{now, schema_change, SourceInfo, TableSchema};
use crate::error::MySqlError;
use crate::history::{
    position_le, replay_filter, table_change_json, HistoryRecord, KafkaHistory, TopicState,
};
use crate::locking::{self, Held};
use crate::tls;

mod blocking;
mod incremental;

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
        stored_offset: stored.clone(),
        inc: incremental::Incremental::default(),
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
    // the reader's log lines name the connector's server (`topic.prefix`)
    let span = tracing::info_span!("mysql_reader", server = %reader.cfg.topic_prefix);
    let join = tokio::spawn(
        async move {
            let tx = reader.tx.clone();
            let result = reader.run().await;
            reader.metrics.connected.store(false, Ordering::Relaxed);
            if let Err(e) = result {
                if !matches!(e, MySqlError::Stopped) {
                    tracing::error!(error = %e, "MySQL reader failed");
                    let _ = tx.send(Err(e)).await;
                }
            }
        }
        .instrument(span),
    );
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
    /// `gtid.source.filter.dml.events`: the transaction's GTID source is
    /// filtered out by `gtid.source.includes` / `.excludes`, so its row
    /// events are not emitted.
    ignore_dml: bool,
    /// The executed GTID set before the transaction (Debezium's restart
    /// GTID set): the offsets of its records carry it, so a resume by GTID
    /// reads the transaction again and skips what was delivered.
    restart_gtids: Option<String>,
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
    /// The stored offset as read (the incremental snapshot's keys).
    stored_offset: Option<Offset>,
    /// Signals and the incremental snapshot (see [`incremental`]).
    inc: incremental::Incremental,
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
/// Whether a streamed statement about database `target` (empty: none) goes
/// to the schema history, as Debezium's `BinlogDatabaseSchema`: every
/// statement by default; with `….store.only.captured.databases.ddl` only
/// those of captured databases; with `….store.only.captured.tables.ddl`
/// only `SET` statements and those that change a captured table (or, for
/// statements that change no table, are about a captured database).
pub fn history_keeps(cfg: &MySqlConfig, target: &str, upper_sql: &str, out: &Outcome) -> bool {
    let captured_db = target.is_empty() || cfg.filters.namespace(target);
    if cfg.history_only_captured_databases && !captured_db {
        return false;
    }
    if cfg.history_only_captured_tables && !upper_sql.starts_with("SET ") {
        return if out.changes.is_empty() {
            captured_db
        } else {
            out.changes
                .iter()
                .any(|c| cfg.filters.table(&c.table.db, &c.table.name))
        };
    }
    true
}

/// True when `upper_sql` creates, alters, renames or drops a table (the
/// statements the parser must read to keep the table model right).
fn is_table_ddl(upper_sql: &str) -> bool {
    let words: Vec<&str> = upper_sql
        .split_whitespace()
        .filter(|w| !matches!(*w, "OR" | "REPLACE" | "TEMPORARY" | "ONLINE" | "IGNORE"))
        .take(2)
        .collect();
    matches!(
        words.as_slice(),
        ["CREATE" | "ALTER" | "RENAME" | "DROP", "TABLE" | "TABLES"]
    )
}

/// A statement the DDL parser did not understand: a table DDL of a
/// captured database stops the task (Debezium's default) unless
/// `schema.history.internal.skip.unparseable.ddl=true`, which logs
/// Debezium's warning; anything else (statements that change no table
/// definition, DDL of databases not captured) is recorded and skipped.
fn unparseable(cfg: &MySqlConfig, st: &Statement, out: &Outcome) -> Result<(), MySqlError> {
    let target = if out.database.is_empty() {
        &st.db
    } else {
        &out.database
    };
    let table_ddl = is_table_ddl(&st.upper) && cfg.filters.namespace(target);
    if !table_ddl {
        tracing::debug!(statement = %st.sql, "statement not understood by the DDL parser; recorded and skipped");
        Ok(())
    } else if cfg.history_skip_unparseable_ddl {
        tracing::warn!("Ignoring unparseable DDL statement '{}'", st.sql);
        Ok(())
    } else {
        Err(MySqlError::UnparseableDdl(st.sql.clone()))
    }
}

/// `event.processing.failure.handling.mode` for a change event that cannot
/// be built (a rows event or a row that cannot be decoded), at `offset`:
/// Debezium's `EventDispatcher` texts (see [`FailureHandlingMode::handle`]);
/// `Ok` means the caller skips the event.
fn event_failure(
    mode: FailureHandlingMode,
    offset: &str,
    cause: &dyn std::fmt::Display,
) -> Result<(), MySqlError> {
    mode.handle(offset, cause)
        .map_err(MySqlError::EventProcessing)
}

/// `event.processing.failure.handling.mode` for a binlog event that cannot
/// be deserialized, spanning `(start, next)` of `file`, as Debezium's
/// `BinlogStreamingChangeEventSource`: `fail` stops the task with its text,
/// `warn` logs it (the event is skipped), `skip` logs at debug level.
fn deserialization_failure(
    mode: FailureHandlingMode,
    offset: &str,
    (start, next, file): (u64, u64, &str),
    cause: &str,
) -> Result<(), MySqlError> {
    let tool = format!("Use the mysqlbinlog tool to view the problematic event: mysqlbinlog --start-position={start} --stop-position={next} --verbose {file}");
    match mode {
        FailureHandlingMode::Fail => Err(MySqlError::EventProcessing(format!(
            "Error while deserializing binlog event at offset {offset}: {cause}. {tool} (event.processing.failure.handling.mode=fail; set it to warn or skip to skip such events)"
        ))),
        FailureHandlingMode::Warn => {
            tracing::warn!(error = %cause, "Error while deserializing binlog event at offset {offset}.\nThis exception will be ignored and the event be skipped.\n{tool}");
            Ok(())
        }
        FailureHandlingMode::Skip => {
            tracing::debug!(error = %cause, "Error while deserializing binlog event at offset {offset}.\n{tool}");
            Ok(())
        }
    }
}

fn closed_stream(cfg: &MySqlConfig, detail: &str) -> MySqlError {
    if cfg.keep_alive {
        MySqlError::Query(format!(
            "{detail}; reconnecting from the last stored offset (connect.keep.alive=true)"
        ))
    } else {
        MySqlError::StreamClosed(detail.to_owned())
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

    /// Adds `r` to the batch (only the last record of a run of positions
    /// keeps its offset: [`velocity_api::source::push_covering`]) and sends
    /// the batch once it holds `max.batch.size` records.
    async fn push(&mut self, r: SourceRecord) -> Result<(), MySqlError> {
        velocity_api::source::push_covering(&mut self.batch, r);
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
            let state = h.state().await?;
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
            tracing::warn!("schema.history.internal=io.debezium.relational.history.MemorySchemaHistory: the schema history is kept in memory only, and after a restart table definitions are read from the server's current schema");
        }
        let (gtid_start, available) = match &stored {
            Some(p) if !p.snapshot_incomplete() => self.resume_point(&mut conn, p).await?,
            _ => (None, false),
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
                self.stream(pos, None, None).await
            }
            StartPlan::Resume { recover_schema } => {
                let p = stored.unwrap_or_default();
                if recover_schema {
                    // rebuild the history from the current definitions, at the stored position
                    let ddls = self.read_schema(&mut conn, false).await?;
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
                self.stream(p, skip, gtid_start).await
            }
            StartPlan::FromStart => {
                let _ = conn.disconnect().await;
                // Debezium's `never`: read the binlog from its beginning
                self.stream(Position::default(), None, None).await
            }
        }
    }

    /// Where a resume from `stored` reads the binlog, and whether that is
    /// still on the server. With GTIDs (the offset has a GTID set and the
    /// server logs GTIDs: MariaDB always, MySQL under `gtid_mode=ON`), the
    /// set to resume from (the stored one, or under `gtid.source.*` the
    /// stored ranges of the kept sources and the server's of the others),
    /// available when the server purged none of the transactions after it
    /// ([`GtidSet::still_available`]); else `None` and the stored binlog
    /// file, available while `SHOW BINARY LOGS` lists it.
    async fn resume_point(
        &self,
        conn: &mut Conn,
        stored: &Position,
    ) -> Result<(Option<GtidSet>, bool), MySqlError> {
        let cfg = &self.cfg;
        let logs: Vec<Row> = conn
            .query("SHOW BINARY LOGS")
            .await
            .map_err(|e| q(e, cfg))?;
        let names: Vec<String> = logs.iter().filter_map(|r| r.get::<String, _>(0)).collect();
        let file_available = stored.file.is_empty() || names.contains(&stored.file);
        let stored_set = stored
            .gtids
            .as_deref()
            .map(GtidSet::parse)
            .unwrap_or_default();
        let uses_gtids = match self.server {
            Server::MariaDb => stored_set.has_mariadb(),
            Server::MySql(..) => {
                let mode: Option<String> = conn
                    .query_first("SELECT @@global.gtid_mode")
                    .await
                    .map_err(|e| q(e, cfg))?;
                stored_set.has_mysql() && mode.is_some_and(|m| m.eq_ignore_ascii_case("ON"))
            }
        };
        if !uses_gtids {
            return Ok((None, file_available));
        }
        let start = if cfg.gtid_sources.is_empty() {
            stored_set
        } else {
            let (_, _, executed) = self.binlog_position(conn).await?;
            let executed = executed.as_deref().map(GtidSet::parse).unwrap_or_default();
            stored_set.filtered_start(&executed, |src| cfg.gtid_sources.matches(src))
        };
        let purged: Option<String> = match (self.server, names.first()) {
            (Server::MariaDb, Some(oldest)) => conn
                .exec_first("SELECT BINLOG_GTID_POS(?, 4)", (oldest,))
                .await
                .map_err(|e| q(e, cfg))?
                .flatten(),
            (Server::MariaDb, None) => None,
            (Server::MySql(..), _) => conn
                .query_first("SELECT @@global.gtid_purged")
                .await
                .map_err(|e| q(e, cfg))?
                .flatten(),
        };
        let purged = GtidSet::parse(&purged.unwrap_or_default().replace(['\n', ' '], ""));
        let available = start.still_available(&purged);
        tracing::info!(gtids = %start, %purged, available, "resuming from the stored GTID set");
        Ok((Some(start), available))
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

    /// The captured tables (`database.*` / `table.*` filters), ordered by
    /// database and name.
    async fn captured_tables(&self, conn: &mut Conn) -> Result<Vec<(String, String)>, MySqlError> {
        let cfg = &self.cfg;
        Ok(catalog::list_tables(conn)
            .await
            .map_err(|e| q(e, cfg))?
            .into_iter()
            .filter(|(d, t)| cfg.filters.table(d, t))
            .collect())
    }

    /// Reads the definitions of the databases and tables the schema
    /// snapshot covers ([`MySqlConfig::schema_snapshot_reads`]: all
    /// non-system ones by default, as Debezium; the captured ones with
    /// `schema.history.internal.store.only.captured.*.ddl`; the captured
    /// ones only when `table_locked`: a session holding `LOCK TABLES` can
    /// read nothing else) with `SHOW CREATE DATABASE` / `SHOW CREATE TABLE`
    /// into the model; returns `(database, statement, outcome)` in order.
    async fn read_schema(
        &mut self,
        conn: &mut Conn,
        table_locked: bool,
    ) -> Result<Vec<(String, String, Outcome)>, MySqlError> {
        let cfg = self.cfg.clone();
        if table_locked && !cfg.history_only_captured_tables {
            // a session holding LOCK TABLES can read the locked tables only
            tracing::info!("the snapshot holds read locks on the captured tables (no global read lock): the schema snapshot reads the captured tables' definitions only");
        }
        let captured: Vec<(String, String)> = catalog::list_tables(conn)
            .await
            .map_err(|e| q(e, &cfg))?
            .into_iter()
            .filter(|(d, t)| {
                if table_locked {
                    cfg.filters.table(d, t)
                } else {
                    cfg.schema_snapshot_reads(d, t)
                }
            })
            .collect();
        let mut out = Vec::new();
        let mut last_db: Option<String> = None;
        for (d, t) in &captured {
            // a table of another database dropped since it was listed
            // (no lock covers it) is left out; a captured one is an error
            let gone = |e: &mysql_async::Error| {
                !cfg.filters.table(d, t)
                    && matches!(e, mysql_async::Error::Server(s) if matches!(s.code, 1049 | 1146))
            };
            if last_db.as_deref() != Some(d.as_str()) {
                let row: Option<(String, String)> = match conn
                    .query_first(format!("SHOW CREATE DATABASE {}", quote_ident(d)))
                    .await
                {
                    Err(e) if gone(&e) => continue,
                    other => other.map_err(|e| q(e, &cfg))?,
                };
                if let Some((_, ddl)) = row {
                    let o = self.model.apply(d, &ddl);
                    out.push((d.clone(), ddl, o));
                }
                last_db = Some(d.clone());
            }
            let row: Option<(String, String)> = match conn
                .query_first(format!(
                    "SHOW CREATE TABLE {}.{}",
                    quote_ident(d),
                    quote_ident(t)
                ))
                .await
            {
                Err(e) if gone(&e) => continue,
                other => other.map_err(|e| q(e, &cfg))?,
            };
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
    /// position to stream from. Steps: session set-up, the global lock of
    /// `snapshot.locking.mode` ([`crate::locking`]), the consistent-snapshot
    /// transaction, table locks when the global lock was refused, the
    /// binlog position, the schema capture, the release of a minimal lock,
    /// the schema history, then the records (schema changes, then every
    /// captured table's rows, in table order), the release of the remaining
    /// lock, commit. Only the last record carries `snapshot_completed`.
    async fn snapshot(&mut self, mut conn: Conn, data: bool) -> Result<Position, MySqlError> {
        let cfg = self.cfg.clone();
        self.snapshot_session(&mut conn).await?;
        let mut held = locking::lock_global(&mut conn, &cfg).await?;
        conn.query_drop("START TRANSACTION WITH CONSISTENT SNAPSHOT")
            .await
            .map_err(|e| q(e, &cfg))?;
        if held == Held::Nothing {
            let tables = self.captured_tables(&mut conn).await?;
            held = locking::lock_tables(&mut conn, &cfg, &tables).await?;
        }
        let (file, pos, gtids) = self.binlog_position(&mut conn).await?;
        let ts_ms = now().0;
        let captured = self.capture_schema(&mut conn, held == Held::Tables).await?;
        locking::release_after_schema(&mut conn, &cfg, &mut held).await?;
        tracing::info!(tables = captured.schemas.len(), %file, pos, "snapshot started");
        let snapshot_started = self.snapshot_metrics_started(captured.schemas.len());
        let base = Position {
            file,
            pos,
            gtids,
            ts_sec: ts_ms / 1000,
            server_id: 0,
            snapshot: true,
            ..Position::default()
        };
        for (d, ddl, out) in &captured.statements {
            self.record_history(d, ddl, &out.changes, &base).await?;
        }
        let mut emit = SnapshotEmitter {
            base,
            ts_ms,
            held_ddl: None,
            held: None,
            first_overall: true,
            blocking: None,
        };
        // schema changes first; the last is held until we know whether rows follow
        for ddl in captured.ddls {
            if let Some(prev) = emit.held_ddl.replace(ddl) {
                let r = emit.ddl_record(&cfg, &self.partition, &prev, "true", false);
                self.push(r).await?;
            }
        }
        let schemas = if data { captured.schemas } else { Vec::new() };
        for ts in &schemas {
            let select = format!(
                "SELECT * FROM {}.{}",
                quote_ident(&ts.db),
                quote_ident(&ts.table)
            );
            self.read_table(&mut conn, &mut emit, ts, &select).await?;
        }
        self.finish_snapshot_records(&mut emit).await?;
        locking::unlock(&mut conn, &cfg, &mut held).await?;
        conn.query_drop("COMMIT").await.map_err(|e| q(e, &cfg))?;
        let _ = conn.disconnect().await;
        self.send_batch().await?;
        tracing::info!("snapshot completed");
        self.snapshot_metrics_completed(snapshot_started);
        Ok(Position {
            snapshot: false,
            snapshot_completed: false,
            ..emit.base
        })
    }

    /// Debezium's snapshot metrics as a snapshot of `tables` tables starts;
    /// returns when it started.
    fn snapshot_metrics_started(&self, tables: usize) -> std::time::Instant {
        self.metrics.snapshot_running.store(true, Ordering::Relaxed);
        self.metrics
            .snapshot_completed
            .store(false, Ordering::Relaxed);
        self.metrics
            .total_table_count
            .store(tables as u64, Ordering::Relaxed);
        std::time::Instant::now()
    }

    /// Debezium's snapshot metrics once the snapshot `started` completed.
    fn snapshot_metrics_completed(&self, started: std::time::Instant) {
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
            .store(started.elapsed().as_secs(), Ordering::Relaxed);
    }

    /// Prepares the snapshot session: UTC for temporal values, REPEATABLE
    /// READ for the consistent-snapshot transaction, lock waits bounded by
    /// `snapshot.lock.timeout.ms`.
    async fn snapshot_session(&self, conn: &mut Conn) -> Result<(), MySqlError> {
        let cfg = &self.cfg;
        conn.query_drop("SET SESSION time_zone = '+00:00'")
            .await
            .map_err(|e| q(e, cfg))?;
        conn.query_drop("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            .await
            .map_err(|e| q(e, cfg))?;
        locking::set_timeouts(conn, cfg).await
    }

    /// Reads the definitions of the captured tables into a fresh model
    /// ([`Reader::read_schema`]) and builds their schemas, in capture
    /// order; keeps the statements that changed tables as schema-change
    /// records to emit when `include.schema.changes` is on.
    async fn capture_schema(
        &mut self,
        conn: &mut Conn,
        table_locked: bool,
    ) -> Result<CapturedSchema, MySqlError> {
        self.model.clear();
        self.tables.clear();
        let statements = self.read_schema(conn, table_locked).await?;
        let mut schemas = Vec::new();
        let mut ddls = Vec::new();
        for (d, ddl, out) in &statements {
            for ch in &out.changes {
                let t = &ch.table;
                if let Some(ts) = self.load(conn, &t.db, &t.name).await? {
                    schemas.push(ts);
                }
            }
            // schema change events only for the captured databases (the
            // history has the others' definitions too)
            if !out.changes.is_empty()
                && self.cfg.include_schema_changes
                && self.cfg.filters.namespace(d)
            {
                ddls.push((d.clone(), ddl.clone(), out.changes.clone()));
            }
        }
        Ok(CapturedSchema {
            statements,
            schemas,
            ddls,
        })
    }

    /// Reads every row of table `ts` (its columns in table order, as
    /// `select` returns them) inside the snapshot transaction and
    /// pushes the records before it: each row is held back until the next
    /// one (of this or a later table) is known, to mark it (`first`,
    /// `first_in_data_collection`, `last_in_data_collection`, `true`); the
    /// held schema change goes out before the first row. The snapshot's last
    /// row stays held for [`Reader::finish_snapshot_records`], even when
    /// the tables after its own are empty (as Debezium's buffering
    /// receiver keeps the last record until the snapshot completes).
    async fn read_table(
        &mut self,
        conn: &mut Conn,
        emit: &mut SnapshotEmitter,
        ts: &Arc<TableSchema>,
        select: &str,
    ) -> Result<(), MySqlError> {
        let cfg = self.cfg.clone();
        tracing::info!(table = %format!("{}.{}", ts.db, ts.table), "exporting data from table");
        let mut result = conn.exec_iter(select, ()).await.map_err(|e| q(e, &cfg))?;
        let mut first_in_table = true;
        loop {
            let row = result.next().await.map_err(|e| q(e, &cfg))?;
            let Some(row) = row else { break };
            let values: Vec<My> = row.unwrap();
            let st = ts.row(&values, false).map_err(|d| MySqlError::Decode {
                what: format!("{}.{}", ts.db, ts.table),
                detail: d,
            })?;
            if let Some(held) = emit.held_ddl.take() {
                let r = emit.ddl_record(&cfg, &self.partition, &held, "true", false);
                self.push(r).await?;
            }
            if let Some((hts, hrow, hfirst)) = emit.held.take() {
                // a held row of an earlier table was the last of its table
                let last_in_table = !Arc::ptr_eq(&hts, ts);
                let m = snapshot_marker(emit.first_overall && hfirst, false, hfirst, last_in_table);
                emit.first_overall = false;
                let r = emit.row_record(&cfg, &self.partition, &hts, hrow, m, false);
                self.push(r).await?;
            }
            emit.held = Some((ts.clone(), st, first_in_table));
            first_in_table = false;
            if self.stopping() {
                return Err(MySqlError::Stopped);
            }
        }
        Ok(())
    }

    /// Pushes the snapshot's last record, the one carrying
    /// `snapshot_completed`: the held last row (`last`), else the held
    /// last schema change.
    async fn finish_snapshot_records(
        &mut self,
        emit: &mut SnapshotEmitter,
    ) -> Result<(), MySqlError> {
        let cfg = self.cfg.clone();
        if let Some((hts, hrow, hfirst)) = emit.held.take() {
            let m = snapshot_marker(emit.first_overall && hfirst, true, hfirst, true);
            let r = emit.row_record(&cfg, &self.partition, &hts, hrow, m, true);
            self.push(r).await?;
        } else if let Some(held) = emit.held_ddl.take() {
            let r = emit.ddl_record(&cfg, &self.partition, &held, "last", true);
            self.push(r).await?;
        }
        Ok(())
    }

    /// Streams the binlog from `start` (or, with `gtids`, from the first
    /// transaction after that GTID set) until stopped or failed, skipping
    /// on resume the `skip` (`event`, `row`) already delivered of the first
    /// transaction. Records leave in binlog order; a heartbeat goes out
    /// between transactions when `heartbeat.interval.ms` is due. Never
    /// returns `Ok`: it ends with [`MySqlError::Stopped`] or the failure.
    async fn stream(
        &mut self,
        start: Position,
        skip: Option<(u64, u64)>,
        gtids: Option<GtidSet>,
    ) -> Result<(), MySqlError> {
        let cfg = self.cfg.clone();
        let (mut meta, mut stream, checksum) = self.open_binlog(&start, gtids.as_ref()).await?;
        let mut cur = Cursor::new(&start, skip, checksum);
        if let Some(set) = gtids {
            cur.gtids = set;
        }
        if skip.is_some() {
            // resuming from a stored offset: continue its incremental snapshot
            self.blocking_resume_check();
            self.incremental_start(&mut cur).await?;
        }
        self.open_signal_channel().await?;
        let mut stop = self.stop.clone();
        let mut next_heartbeat = cfg
            .heartbeat_interval
            .map(|d| tokio::time::Instant::now() + d);
        loop {
            // heartbeats go out between transactions only, carrying the
            // position reached (on resume, the stored one until the first
            // transaction is read)
            let heartbeat_due = next_heartbeat.filter(|_| !cur.txn.open);
            if heartbeat_due.is_some_and(|due| due <= tokio::time::Instant::now()) {
                self.heartbeat(&mut meta, cur.heartbeat_position()).await?;
                next_heartbeat = cfg
                    .heartbeat_interval
                    .map(|d| tokio::time::Instant::now() + d);
                continue;
            }
            // Kafka signals act between transactions
            if !cur.txn.open {
                if let Some(r) = self.kafka_ready() {
                    self.kafka_signal(&mut cur, r).await?;
                    continue;
                }
            }
            let Some(event) = self
                .next_event(&mut stream, &mut stop, heartbeat_due, !cur.txn.open)
                .await?
            else {
                continue;
            };
            self.dispatch(&mut meta, &stream, &mut cur, &event).await?;
            if self.stopping() {
                return Err(MySqlError::Stopped);
            }
        }
    }

    /// Connects the metadata connection and the replication connection,
    /// prepares the replication session (the server's dump settings, a 10 s
    /// server heartbeat) and registers as replica `database.server.id`
    /// asking for the binlog from `start` (from the oldest binlog when
    /// `start.file` is empty), or with `gtids` for the transactions after
    /// that set: on MariaDB `@slave_connect_state` and a dump without file
    /// name, on MySQL COM_BINLOG_DUMP_GTID. Returns the metadata connection,
    /// the event stream and whether events carry a checksum
    /// (`binlog_checksum`).
    async fn open_binlog(
        &mut self,
        start: &Position,
        gtids: Option<&GtidSet>,
    ) -> Result<(Conn, BinlogStream, bool), MySqlError> {
        let cfg = self.cfg.clone();
        let meta = connect(&cfg).await?;
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
        let mut req = BinlogStreamRequest::new(cfg.server_id);
        match (gtids, self.server) {
            (Some(set), Server::MariaDb) => {
                tracing::info!(gtids = %set, "streaming the binlog after the GTID set");
                for sql in gtid_session_sql(set) {
                    conn.query_drop(sql).await.map_err(|e| q(e, &cfg))?;
                }
            }
            (Some(set), Server::MySql(..)) => {
                tracing::info!(gtids = %set, "streaming the binlog after the GTID set");
                req = req.with_gtid().with_gtid_set(set.mysql_sids());
            }
            (None, _) => {
                tracing::info!(file = %start.file, pos = start.pos, "streaming the binlog");
                if !start.file.is_empty() {
                    req = req
                        .with_filename(start.file.as_bytes())
                        .with_pos(start.pos.max(4));
                }
            }
        }
        self.metrics.connected.store(true, Ordering::Relaxed);
        let stream = conn.get_binlog_stream(req).await.map_err(|e| q(e, &cfg))?;
        Ok((meta, stream, checksum))
    }

    /// Waits for the next binlog event, handing batches over meanwhile:
    /// with nothing pending it waits for an event, the stop signal
    /// ([`MySqlError::Stopped`]), `heartbeat_due` or, `between`
    /// transactions, a Kafka signal (kept for the caller, `None` returned);
    /// with a batch pending it
    /// takes an event that is ready, else sends the batch (flagging the
    /// reader caught up when the batch ends a transaction) or waits 20 ms
    /// for one. `None`: nothing to handle, look again. A closed or failed
    /// stream is an error, retriable under `connect.keep.alive=true`.
    async fn next_event(
        &mut self,
        stream: &mut BinlogStream,
        stop: &mut watch::Receiver<bool>,
        heartbeat_due: Option<tokio::time::Instant>,
        between: bool,
    ) -> Result<Option<Event>, MySqlError> {
        let next = if self.batch.is_empty() {
            tokio::select! {
                _ = stop.changed() => return Err(MySqlError::Stopped),
                r = velocity_kafka_log::signal::next(&mut self.inc.kafka), if between => {
                    let topic = self.inc.kafka.as_ref().map_or_else(String::new, |k| k.topic().to_owned());
                    self.inc.kafka_pending = Some(r.map_err(|source| MySqlError::SignalChannel { topic, source: Box::new(source) })?);
                    return Ok(None);
                }
                _ = tokio::time::sleep_until(heartbeat_due.unwrap_or_else(tokio::time::Instant::now)), if heartbeat_due.is_some() => return Ok(None),
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
                    return Ok(None);
                }
                None => {
                    match tokio::time::timeout(Duration::from_millis(20), stream.next()).await {
                        Ok(e) => e,
                        Err(_) => {
                            self.send_batch().await?;
                            return Ok(None);
                        }
                    }
                }
            }
        };
        let cfg = &self.cfg;
        match next {
            None => Err(closed_stream(cfg, "the server closed the binlog stream")),
            Some(Err(e)) => {
                let e = q(e, cfg);
                Err(if e.kind() == velocity_api::ErrorKind::Retriable {
                    closed_stream(cfg, &e.to_string())
                } else {
                    e
                })
            }
            Some(Ok(e)) => Ok(Some(e)),
        }
    }

    /// Handles one binlog event by type: MariaDB GTID and ANNOTATE_ROWS
    /// (read raw), ROTATE, MySQL GTIDs, query events (BEGIN, COMMIT, DDL),
    /// XID (commit), ROWS_QUERY, TABLE_MAP and rows events; other events
    /// only advance the cursor. Records go to the batch in event order.
    async fn dispatch(
        &mut self,
        meta: &mut Conn,
        stream: &BinlogStream,
        cur: &mut Cursor,
        event: &Event,
    ) -> Result<(), MySqlError> {
        let ev = cur.advance(event);
        let raw_type = event.header().event_type_raw();
        if raw_type == MARIADB_GTID_EVENT {
            if let Some(g) = MariaGtid::parse(event.data()) {
                let server = event.header().server_id();
                let before = cur.gtid_text();
                cur.gtids.add_mariadb(g.domain, server, g.seq);
                cur.begin(ev.start);
                cur.txn.gtid = Some(format!("{}-{server}-{}", g.domain, g.seq));
                cur.txn.restart_gtids = before;
                cur.txn.ignore_dml = self.cfg.ignores_dml_of(&format!("{}-{server}", g.domain));
            }
            return Ok(());
        }
        if raw_type == MARIADB_ANNOTATE_ROWS_EVENT {
            if self.cfg.include_query {
                cur.txn.query = Some(String::from_utf8_lossy(event.data()).into_owned());
            }
            return Ok(());
        }
        let data = match event.read_data() {
            Ok(Some(d)) => d,
            Ok(None) => return Ok(()),
            Err(e) => {
                // Debezium's onEventDeserializationFailure / handleServerIncident
                return deserialization_failure(
                    self.cfg.failure_mode,
                    &offset_text(&cur.at(cur.txn.events, 0, &ev).to_offset()),
                    (ev.start, ev.end, &cur.file),
                    &format!("binlog event type {raw_type}: {e}"),
                );
            }
        };
        match data {
            EventData::RotateEvent(r) => {
                cur.rotate(
                    rotate_file_name(r.name_raw(), event.header().event_size(), cur.checksum),
                    r.position(),
                );
            }
            EventData::GtidEvent(g) => {
                let uuid = uuid_string(&g.sid());
                let before = cur.gtid_text();
                cur.gtids.add_mysql(&uuid, g.gno());
                cur.begin(ev.start);
                cur.txn.gtid = Some(format!("{uuid}:{}", g.gno()));
                cur.txn.restart_gtids = before;
                cur.txn.ignore_dml = self.cfg.ignores_dml_of(&uuid);
            }
            EventData::AnonymousGtidEvent(_) => cur.begin(ev.start),
            EventData::QueryEvent(qe) => {
                let sql = qe.query().into_owned();
                let thread = qe.thread_id() as i64;
                let upper = sql.trim_start().to_ascii_uppercase();
                if upper == "BEGIN" || upper.starts_with("XA START") {
                    if !cur.txn.open {
                        cur.begin(ev.start);
                    }
                    cur.txn.thread = Some(thread);
                } else if upper == "COMMIT"
                    || upper.starts_with("XA END")
                    || upper.starts_with("XA COMMIT")
                {
                    self.commit(cur, &ev).await?;
                } else {
                    let statement = Statement {
                        db: qe.schema().into_owned(),
                        sql,
                        upper,
                        thread,
                    };
                    self.on_statement(meta, cur, &ev, statement).await?;
                }
            }
            EventData::XidEvent(_) => {
                self.metrics.transaction_committed(ev.ts_ms, now_ms());
                self.commit(cur, &ev).await?;
            }
            EventData::RowsQueryEvent(rq) if self.cfg.include_query => {
                cur.txn.query = Some(rq.query().into_owned());
            }
            EventData::TableMapEvent(tm) => {
                let db = tm.database_name().into_owned();
                let table = tm.table_name().into_owned();
                self.on_table_map(meta, cur, &ev, &db, &table, tm.columns_count())
                    .await?;
            }
            EventData::RowsEvent(rows) => {
                if !cur.txn.open {
                    cur.begin(ev.start);
                }
                let k = cur.txn.events;
                cur.txn.events += 1;
                let table_id = rows.table_id();
                let Some(tme) = stream.get_tme(table_id) else {
                    return Err(MySqlError::Decode {
                        what: format!("rows event at {}:{}", cur.file, ev.start),
                        detail: format!("no TABLE_MAP for table id {table_id}"),
                    });
                };
                self.on_rows(meta, cur, &ev, k, &rows, tme).await?;
            }
            _ => {}
        }
        Ok(())
    }

    /// Ends the open transaction at `ev` (XID, `COMMIT`, an implicitly
    /// committing DDL): its END metadata record and transaction-end marker
    /// ([`Reader::finish_tx`]) carry the position after `ev`, where the
    /// next transaction starts.
    async fn commit(&mut self, cur: &mut Cursor, ev: &Ev) -> Result<(), MySqlError> {
        let after = cur.after(ev);
        self.finish_tx(&mut cur.txn, ev.ts_ms, after).await?;
        cur.end(ev.end);
        Ok(())
    }

    /// A statement other than BEGIN/COMMIT (DDL, TRUNCATE, SAVEPOINT, …):
    /// counts as one event of its transaction; unless the stored offset
    /// already covers it, it is applied to the table model, written to the
    /// schema history (relevant, non-transactional statements not already
    /// recorded) and yields a truncate event (`TRUNCATE` of a captured
    /// table) or a schema-change record (`include.schema.changes`). A DDL
    /// commits the transaction implicitly.
    async fn on_statement(
        &mut self,
        meta: &mut Conn,
        cur: &mut Cursor,
        ev: &Ev,
        st: Statement,
    ) -> Result<(), MySqlError> {
        let cfg = self.cfg.clone();
        if !cur.txn.open {
            cur.begin(ev.start);
        }
        self.tables.clear();
        let k = cur.txn.events;
        let skipped = cur.txn.skip.is_some_and(|(e, _)| k < e);
        let pos = cur.at(k + 1, 0, ev);
        // a statement already covered by the stored offset is already in
        // the model (replayed from the history)
        let out = if skipped {
            Outcome::default()
        } else {
            self.model.apply(&st.db, &st.sql)
        };
        if !skipped && !out.understood {
            unparseable(&cfg, &st, &out)?;
        }
        let is_ddl = out.is_ddl || is_ddl(&st.upper);
        let target = if out.database.is_empty() {
            st.db.clone()
        } else {
            out.database.clone()
        };
        let relevant = target.is_empty() || cfg.filters.namespace(&target);
        let transactional = ["SAVEPOINT", "ROLLBACK", "RELEASE"]
            .iter()
            .any(|p| st.upper.starts_with(p));
        if !skipped
            && history_keeps(&cfg, &target, &st.upper, &out)
            && !transactional
            && !self
                .recorded_upto
                .as_ref()
                .is_some_and(|u| position_le(&pos, u))
        {
            self.record_history(&st.db, &st.sql, &out.changes, &pos)
                .await?;
        }
        let info = cur.source_info(ev, 0, Some(st.thread), None);
        if let Some((tdb, table)) = out.truncated.as_ref().filter(|_| !skipped) {
            // Debezium: a TRUNCATE is an `op: "t"` event of the table
            // (unless `t` is skipped), never a schema change
            let ts = if cfg.skips('t') {
                None
            } else {
                self.load(meta, tdb, table).await?
            };
            if let Some(ts) = ts {
                let r = ts.truncate(&cfg, &info, &self.partition, pos.to_offset());
                self.push(r).await?;
                cur.txn.emitted = true;
            }
        } else if cfg.include_schema_changes && is_ddl && !skipped && relevant {
            let r = schema_change(
                &cfg,
                &target,
                &st.sql,
                &out.changes,
                &info,
                &self.partition,
                pos.to_offset(),
            );
            self.push(r).await?;
            cur.txn.emitted = true;
        }
        cur.txn.events += 1;
        self.metrics.event_seen();
        // DDL commits implicitly
        if is_ddl {
            self.commit(cur, ev).await?;
        }
        Ok(())
    }

    /// A TABLE_MAP of `db`.`table` with `columns` columns: loads the
    /// table's schemas for the rows events that follow (re-reading
    /// `information_schema` when the model's width disagrees with the
    /// binlog's) and, on MariaDB with `include.query`, reads the
    /// ANNOTATE_ROWS event the server left out of the stream.
    async fn on_table_map(
        &mut self,
        meta: &mut Conn,
        cur: &mut Cursor,
        ev: &Ev,
        db: &str,
        table: &str,
        columns: u64,
    ) -> Result<(), MySqlError> {
        let cfg = self.cfg.clone();
        if cfg.include_query
            && self.server == Server::MariaDb
            && ev.gap_from > 0
            && ev.gap_from < ev.start
            && cfg.filters.table(db, table)
        {
            // mysql_async cannot request ANNOTATE_ROWS events
            // (COM_BINLOG_DUMP flag 2): read the skipped one
            if let Some(query) = annotate_at(meta, &cur.file, ev.gap_from, &cfg).await? {
                cur.txn.query = Some(query);
            }
        }
        let ts = self.load(meta, db, table).await?;
        if ts.is_some_and(|t| t.width != columns as usize) {
            // the model disagrees with the binlog: fall back to the server's definition
            tracing::warn!(
                table = %format!("{db}.{table}"),
                binlog_columns = columns,
                "the table definition from the schema history does not match the binlog; reading information_schema"
            );
            if let Some(t) = catalog::load_table(meta, db, table)
                .await
                .map_err(|e| q(e, &cfg))?
            {
                self.model.put(t);
            }
            self.tables.remove(&(db.to_owned(), table.to_owned()));
            self.load(meta, db, table).await?;
        }
        Ok(())
    }

    /// The `k`-th event of the transaction, a rows event of the table of
    /// `tme`: unless the table is not captured, the event is covered by the
    /// stored offset or its operation is in `skipped.operations`, every row
    /// (after the `row` already delivered, on resume) becomes its change
    /// records ([`Reader::emit_row`]).
    async fn on_rows(
        &mut self,
        meta: &mut Conn,
        cur: &mut Cursor,
        ev: &Ev,
        k: u64,
        rows: &RowsEventData<'_>,
        tme: &TableMapEvent<'_>,
    ) -> Result<(), MySqlError> {
        let key = (
            tme.database_name().into_owned(),
            tme.table_name().into_owned(),
        );
        if cur.txn.ignore_dml {
            tracing::debug!(gtid = ?cur.txn.gtid, "Skipping DML event because this GTID source is filtered");
            return Ok(());
        }
        let ts = match self.tables.get(&key) {
            Some(t) => t.clone(),
            None => self.load(meta, &key.0, &key.1).await?,
        };
        let Some(ts) = ts else { return Ok(()) };
        let (skip_event, skip_row) = cur.txn.skip.unwrap_or((0, 0));
        if cur.txn.skip.is_some() && k < skip_event {
            return Ok(());
        }
        let op = match rows {
            RowsEventData::WriteRowsEventV1(_) | RowsEventData::WriteRowsEvent(_) => "c",
            RowsEventData::UpdateRowsEventV1(_)
            | RowsEventData::UpdateRowsEvent(_)
            | RowsEventData::PartialUpdateRowsEvent(_) => "u",
            _ => "d",
        };
        // an insert into the signal table is a signal, whatever the
        // skipped operations
        let signal = op == "c" && self.is_signal_table(&key.0, &key.1);
        // Debezium ignores the row events of skipped operations
        let skipped_op = op.chars().any(|c| self.cfg.skips(c));
        if skipped_op && !signal {
            return Ok(());
        }
        let images: Result<Vec<RowImages>, String> = rows
            .rows(tme)
            .map(|r| {
                r.map_err(|e| e.to_string()).and_then(|(b, a)| {
                    Ok((b.map(values_of).transpose()?, a.map(values_of).transpose()?))
                })
            })
            .collect::<Result<_, String>>();
        let images = match images {
            Ok(images) => images,
            Err(d) => {
                // the rows event cannot be read: fail, or skip all its rows
                let cause = format!("could not decode the rows of {}.{}: {d}", key.0, key.1);
                let at = offset_text(&cur.at(k, 0, ev).to_offset());
                return event_failure(self.cfg.failure_mode, &at, &cause);
            }
        };
        let n = images.len() as u64;
        for (i, (before, after)) in images.into_iter().enumerate() {
            let i = i as u64;
            if cur.txn.skip.is_some() && k == skip_event && i < skip_row {
                continue;
            }
            let row = RowRef { k, i, n };
            if signal {
                if let Some(values) = &after {
                    // the signal acts before its own event is emitted
                    self.signal_row(cur, ev, row, values).await?;
                }
            }
            if !skipped_op {
                self.emit_row(cur, ev, &ts, op, row, before, after).await?;
            }
        }
        Ok(())
    }

    /// Row `row.i` of the `row.n` rows of event `row.k`: decodes its images
    /// and pushes its change records, preceded by the transaction's BEGIN
    /// metadata record when it is the first change
    /// (`provide.transaction.metadata`). The records carry the offset
    /// before the row, the last one the offset after it.
    #[allow(clippy::too_many_arguments)]
    async fn emit_row(
        &mut self,
        cur: &mut Cursor,
        ev: &Ev,
        ts: &TableSchema,
        op: &'static str,
        row: RowRef,
        before: Option<Vec<My>>,
        after: Option<Vec<My>>,
    ) -> Result<(), MySqlError> {
        let RowRef { k, i, n } = row;
        let decode = |v: Option<Vec<My>>| -> Result<Option<Struct>, MySqlError> {
            v.map(|v| ts.row(&v, true))
                .transpose()
                .map_err(|d| MySqlError::Decode {
                    what: format!("{}.{}", ts.db, ts.table),
                    detail: d,
                })
        };
        let (before, after) = match decode(before).and_then(|b| Ok((b, decode(after)?))) {
            Ok(images) => images,
            Err(e) => {
                // the row's change event cannot be built: fail, or skip the row
                let at = offset_text(&cur.at(k, i, ev).to_offset());
                return event_failure(self.cfg.failure_mode, &at, &e);
            }
        };
        let prev = cur.at(k, i, ev).to_offset();
        let next = if i + 1 == n {
            cur.at(k + 1, 0, ev)
        } else {
            cur.at(k, i + 1, ev)
        }
        .to_offset();
        let info = cur.source_info(ev, i as i32, cur.txn.thread, cur.txn.query.clone());
        let txn = &mut cur.txn;
        if self.cfg.provide_transaction_metadata && txn.tx.is_none() {
            let id = txn
                .gtid
                .clone()
                .unwrap_or_else(|| format!("{}:{}", txn.file, txn.start));
            let begin = transaction::record(
                &self.tx_topic,
                "BEGIN",
                &id,
                ev.ts_ms,
                None,
                &self.partition,
                prev.clone(),
                now().0,
            );
            self.push(begin).await?;
            txn.tx = Some(TxCounter::new(id));
        }
        let recs = self.records(ts, op, before, after, &info, txn.tx.as_mut(), [prev, next]);
        txn.emitted |= !recs.is_empty();
        self.deduplicate(&recs);
        for r in recs {
            self.push(r).await?;
        }
        Ok(())
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
}

/// A schema-change record of the snapshot: database, statement, changes.
type SnapshotDdl = (String, String, Vec<TableChange>);

/// What [`Reader::capture_schema`] read.
struct CapturedSchema {
    /// `(database, statement, outcome)` in order, for the schema history.
    statements: Vec<(String, String, Outcome)>,
    /// The schemas of the captured tables, in capture order.
    schemas: Vec<Arc<TableSchema>>,
    /// The schema-change records to emit (`include.schema.changes`).
    ddls: Vec<SnapshotDdl>,
}

/// The emission state of a snapshot: its position, and the last schema
/// change and row, held back until what follows them is known.
struct SnapshotEmitter {
    /// The snapshot's binlog position (`snapshot: true`).
    base: Position,
    /// When the snapshot read its position, ms.
    ts_ms: i64,
    /// The last schema change not emitted yet.
    held_ddl: Option<SnapshotDdl>,
    /// The last row not emitted yet: table, row, first of its table.
    held: Option<(Arc<TableSchema>, Struct, bool)>,
    /// No row was emitted yet.
    first_overall: bool,
    /// A blocking snapshot's records carry this streaming offset (see
    /// [`velocity_api::debezium::blocking`]) instead of `base`'s.
    blocking: Option<Offset>,
}

impl SnapshotEmitter {
    /// The `source` block of a snapshot record with `marker`.
    fn info(&self, marker: &'static str) -> SourceInfo {
        SourceInfo {
            snapshot: marker,
            ts_ms: self.ts_ms,
            server_id: 0,
            gtid: None,
            file: self.base.file.clone(),
            pos: self.base.pos as i64,
            row: 0,
            thread: None,
            query: None,
        }
    }

    /// The offset of a snapshot record; the last adds `snapshot_completed`.
    /// A blocking snapshot's are its streaming offset, marked.
    fn offset(&self, last: bool) -> Offset {
        if let Some(o) = &self.blocking {
            let mut o = o.clone();
            velocity_api::debezium::blocking::mark_offset(&mut o, last, false);
            return o;
        }
        if last {
            Position {
                snapshot_completed: true,
                ..self.base.clone()
            }
            .to_offset()
        } else {
            self.base.to_offset()
        }
    }

    /// The schema-change record of `ddl`.
    fn ddl_record(
        &self,
        cfg: &MySqlConfig,
        partition: &Partition,
        (db, ddl, changes): &SnapshotDdl,
        marker: &'static str,
        last: bool,
    ) -> SourceRecord {
        schema_change(
            cfg,
            db,
            ddl,
            changes,
            &self.info(marker),
            partition,
            self.offset(last),
        )
    }

    /// The read (`op: "r"`) record of `row` of `ts`.
    fn row_record(
        &self,
        cfg: &MySqlConfig,
        partition: &Partition,
        ts: &TableSchema,
        row: Struct,
        marker: &'static str,
        last: bool,
    ) -> SourceRecord {
        ts.change(
            cfg,
            "r",
            None,
            row,
            &self.info(marker),
            None,
            partition,
            self.offset(last),
        )
    }
}

/// The header fields of one binlog event, as the handlers need them.
#[derive(Debug, Clone, Copy)]
struct Ev {
    /// Where the event starts in its file.
    start: u64,
    /// Where it ends (the header's `log_pos`).
    end: u64,
    /// Where the previous event ended: a gap before `start` is an event
    /// the server did not send (MariaDB's ANNOTATE_ROWS).
    gap_from: u64,
    /// Event time, ms.
    ts_ms: i64,
    /// Originating server.
    server_id: i64,
}

/// A statement of a query event other than BEGIN/COMMIT.
struct Statement {
    /// The default database of the statement.
    db: String,
    /// The statement.
    sql: String,
    /// The statement, trimmed at the start and upper-cased.
    upper: String,
    /// The thread that ran it.
    thread: i64,
}

/// Row `i` of the `n` rows of the `k`-th event of a transaction.
#[derive(Debug, Clone, Copy)]
struct RowRef {
    k: u64,
    i: u64,
    n: u64,
}

/// Where the binlog stream stands: the file being read, the GTID set
/// executed so far, the transaction being read and the time and server of
/// the last event (for heartbeat offsets).
#[derive(Debug)]
struct Cursor {
    /// The binlog file the events come from (changed by ROTATE events).
    file: String,
    /// The executed GTID set, advanced by every GTID event.
    gtids: GtidSet,
    /// The transaction being read.
    txn: Txn,
    /// On resume, the first transaction (which takes `txn.skip`) has not
    /// begun yet.
    first_txn_pending: bool,
    /// Where the previous event ended (0 before the first).
    prev_end: u64,
    /// Time (ms) of the last event that had one.
    last_ts_ms: i64,
    /// Server of that event.
    last_server_id: i64,
    /// Events carry a checksum (`binlog_checksum` is not NONE).
    checksum: bool,
    /// The incremental snapshot's offset keys while one runs: every
    /// position the cursor hands out carries them.
    inc: Option<Arc<Offset>>,
}

impl Cursor {
    /// The cursor at `start`, skipping `skip` (`event`, `row`) of the first
    /// transaction.
    fn new(start: &Position, skip: Option<(u64, u64)>, checksum: bool) -> Cursor {
        Cursor {
            file: start.file.clone(),
            gtids: start
                .gtids
                .as_deref()
                .map(GtidSet::parse)
                .unwrap_or_default(),
            txn: Txn {
                file: start.file.clone(),
                start: start.pos,
                skip,
                ..Txn::default()
            },
            first_txn_pending: skip.is_some(),
            prev_end: 0,
            last_ts_ms: start.ts_sec * 1000,
            last_server_id: start.server_id,
            checksum,
            inc: None,
        }
    }

    /// Reads the header of `event`, the next of the stream, and moves past it.
    fn advance(&mut self, event: &Event) -> Ev {
        let header = event.header();
        let end = header.log_pos() as u64;
        let ev = Ev {
            start: end.saturating_sub(header.event_size() as u64),
            end,
            gap_from: std::mem::replace(&mut self.prev_end, end),
            ts_ms: header.timestamp() as i64 * 1000,
            server_id: header.server_id() as i64,
        };
        if ev.ts_ms > 0 {
            (self.last_ts_ms, self.last_server_id) = (ev.ts_ms, ev.server_id);
        }
        ev
    }

    /// A ROTATE to `file` at `pos`: between transactions, the next one
    /// starts there.
    fn rotate(&mut self, file: String, pos: u64) {
        self.file = file;
        if !self.txn.open {
            self.txn.file = self.file.clone();
            self.txn.start = pos;
        }
    }

    /// A transaction begins at `start` of the current file; the first one
    /// after a resume takes the skip of the stored offset.
    fn begin(&mut self, start: u64) {
        let skip = if self.first_txn_pending {
            self.first_txn_pending = false;
            self.txn.skip
        } else {
            None
        };
        self.txn = Txn {
            file: self.file.clone(),
            start,
            open: true,
            skip,
            ..Txn::default()
        };
    }

    /// The transaction ended at `end_pos`: the next starts there.
    fn end(&mut self, end_pos: u64) {
        self.txn = Txn {
            file: self.file.clone(),
            start: end_pos,
            ..Txn::default()
        };
    }

    /// The executed GTID set as text, if any.
    fn gtid_text(&self) -> Option<String> {
        (!self.gtids.is_empty()).then(|| self.gtids.to_string())
    }

    /// The position `event`, `row` into the current transaction, stamped
    /// with the time and server of `ev`; its GTID set is the one before
    /// the transaction (when it has a GTID).
    fn at(&self, event: u64, row: u64, ev: &Ev) -> Position {
        Position {
            file: self.txn.file.clone(),
            pos: self.txn.start,
            event,
            row,
            gtids: match &self.txn.gtid {
                Some(_) => self.txn.restart_gtids.clone(),
                None => self.gtid_text(),
            },
            ts_sec: ev.ts_ms / 1000,
            server_id: ev.server_id,
            incremental: self.inc.clone(),
            ..Position::default()
        }
    }

    /// The `source` block of a streamed record of the current transaction
    /// from event `ev` (its `row`, the `thread` and `query` it names).
    fn source_info(
        &self,
        ev: &Ev,
        row: i32,
        thread: Option<i64>,
        query: Option<String>,
    ) -> SourceInfo {
        SourceInfo {
            snapshot: "false",
            ts_ms: ev.ts_ms,
            server_id: ev.server_id,
            gtid: self.txn.gtid.clone(),
            file: self.file.clone(),
            pos: ev.start as i64,
            row,
            thread,
            query,
        }
    }

    /// The offset after the transaction ending with `ev` (where the next
    /// starts).
    fn after(&self, ev: &Ev) -> Offset {
        Position {
            file: self.file.clone(),
            pos: ev.end,
            gtids: self.gtid_text(),
            ts_sec: ev.ts_ms / 1000,
            server_id: ev.server_id,
            incremental: self.inc.clone(),
            ..Position::default()
        }
        .to_offset()
    }

    /// The position a heartbeat carries: the start of the next transaction
    /// (on resume, the stored offset until the first transaction begins).
    fn heartbeat_position(&self) -> Position {
        let (event, row) = if self.first_txn_pending {
            self.txn.skip.unwrap_or((0, 0))
        } else {
            (0, 0)
        };
        Position {
            file: self.txn.file.clone(),
            pos: self.txn.start,
            event,
            row,
            gtids: self.gtid_text(),
            ts_sec: self.last_ts_ms / 1000,
            server_id: self.last_server_id,
            incremental: self.inc.clone(),
            ..Position::default()
        }
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
/// binlog file is still on the server (`available`). `always` snapshots at
/// every start. A stored position that is gone is Debezium's error unless
/// `when_needed` allows a new snapshot.
pub fn plan_start(
    mode: SnapshotMode,
    stored: Option<&Position>,
    available: bool,
) -> Result<StartPlan, MySqlError> {
    if mode == SnapshotMode::Always {
        // Debezium's AlwaysSnapshotter: schema and data at every start,
        // whatever is stored
        return Ok(StartPlan::Snapshot { data: true });
    }
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
            SnapshotMode::Initial
            | SnapshotMode::InitialOnly
            | SnapshotMode::WhenNeeded
            | SnapshotMode::Always => StartPlan::Snapshot { data: true },
            SnapshotMode::NoData | SnapshotMode::Recovery => StartPlan::Snapshot { data: false },
            SnapshotMode::Never => StartPlan::FromStart,
        }),
    }
}

/// The MariaDB session settings of a dump by GTID: start after `set`
/// (`@slave_connect_state`, one GTID per domain); no strict mode and no
/// duplicate filtering (the connector reads what the server has, as
/// Debezium's binlog client asks).
pub fn gtid_session_sql(set: &GtidSet) -> Vec<String> {
    vec![
        format!(
            "SET @slave_connect_state = '{}'",
            set.mariadb_connect_state().replace(['\\', '\''], "")
        ),
        "SET @slave_gtid_strict_mode = 0".to_owned(),
        "SET @slave_gtid_ignore_duplicates = 0".to_owned(),
    ]
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
        // always: a snapshot at every start, whatever is stored
        for (stored, available) in [(None, false), (Some(&stored), true), (Some(&stored), false)] {
            assert_eq!(
                plan_start(Always, stored, available).unwrap(),
                StartPlan::Snapshot { data: true }
            );
        }
    }

    #[test]
    fn event_failures_stop_the_task_only_in_fail_mode() {
        use FailureHandlingMode::*;
        let at = "{file=b.000003, pos=400}";
        let e = event_failure(Fail, at, &"t.v: unexpected value").unwrap_err();
        assert!(matches!(e, MySqlError::EventProcessing(_)));
        assert_eq!(e.kind(), velocity_api::ErrorKind::Fatal);
        assert!(
            e.to_string()
                .starts_with("Error while processing event at offset {file=b.000003, pos=400}: t.v: unexpected value"),
            "{e}"
        );
        assert!(event_failure(Warn, at, &"x").is_ok());
        assert!(event_failure(Skip, at, &"x").is_ok());
        let e = deserialization_failure(Fail, at, (400, 520, "b.000003"), "bad").unwrap_err();
        let text = e.to_string();
        assert!(
            text.starts_with(
                "Error while deserializing binlog event at offset {file=b.000003, pos=400}: bad"
            ) && text.contains(
                "mysqlbinlog --start-position=400 --stop-position=520 --verbose b.000003"
            ) && text.contains("event.processing.failure.handling.mode"),
            "{text}"
        );
        assert!(deserialization_failure(Warn, at, (400, 520, "b"), "bad").is_ok());
        assert!(deserialization_failure(Skip, at, (400, 520, "b"), "bad").is_ok());
    }

    fn config(pairs: &[(&str, &str)]) -> MySqlConfig {
        use velocity_api::TypedConfig;
        let mut c = velocity_api::config::raw_config(&[
            (
                "connector.class",
                "io.debezium.connector.mysql.MySqlConnector",
            ),
            ("database.hostname", "h"),
            ("database.user", "u"),
            ("database.server.id", "5"),
            ("topic.prefix", "p"),
            ("database.include.list", "app"),
            ("table.include.list", "app.orders"),
            (
                "schema.history.internal",
                crate::config::MEMORY_SCHEMA_HISTORY,
            ),
        ]);
        c.extend(velocity_api::config::raw_config(pairs));
        MySqlConfig::from_raw(&c).unwrap()
    }

    #[test]
    fn history_keeps_what_the_store_only_keys_say() {
        let mut model = Tables::new(true);
        let mut apply = |db: &str, sql: &str| model.apply(db, sql);
        let orders = apply("app", "CREATE TABLE orders (id INT PRIMARY KEY)");
        let other_table = apply("app", "CREATE TABLE notes (id INT PRIMARY KEY)");
        let other_db = apply("crm", "CREATE TABLE people (id INT PRIMARY KEY)");
        let set = apply("", "SET character_set_server=utf8mb4");
        let all = config(&[]);
        let dbs = config(&[(
            "schema.history.internal.store.only.captured.databases.ddl",
            "true",
        )]);
        let tables = config(&[(
            "schema.history.internal.store.only.captured.tables.ddl",
            "true",
        )]);
        let cases = [
            ("app", "CREATE TABLE ORDERS", &orders, [true, true, true]),
            (
                "app",
                "CREATE TABLE NOTES",
                &other_table,
                [true, true, false],
            ),
            (
                "crm",
                "CREATE TABLE PEOPLE",
                &other_db,
                [true, false, false],
            ),
            (
                "",
                "SET CHARACTER_SET_SERVER=UTF8MB4",
                &set,
                [true, true, true],
            ),
        ];
        for (db, upper, out, want) in cases {
            let got = [&all, &dbs, &tables].map(|c| history_keeps(c, db, upper, out));
            assert_eq!(got, want, "{upper}");
        }
        // the schema snapshot reads the same scope
        assert!(all.schema_snapshot_reads("crm", "people"));
        assert!(!all.schema_snapshot_reads("mysql", "user"));
        assert!(
            dbs.schema_snapshot_reads("app", "notes")
                && !dbs.schema_snapshot_reads("crm", "people")
        );
        assert!(
            tables.schema_snapshot_reads("app", "orders")
                && !tables.schema_snapshot_reads("app", "notes")
        );
    }

    #[test]
    fn unparseable_table_ddl_of_a_captured_database_stops_unless_skipped() {
        assert!(is_table_ddl("CREATE OR REPLACE TABLE T (A INT)"));
        assert!(is_table_ddl("ALTER ONLINE IGNORE TABLE T ADD B INT"));
        assert!(is_table_ddl("DROP TEMPORARY TABLE T"));
        assert!(!is_table_ddl("CREATE PROCEDURE P() BEGIN END"));
        assert!(!is_table_ddl("GRANT SELECT ON *.* TO U"));
        let st = |db: &str, sql: &str| Statement {
            db: db.into(),
            sql: sql.into(),
            upper: sql.to_ascii_uppercase(),
            thread: 1,
        };
        let out = Outcome::default();
        let strict = config(&[]);
        let e = unparseable(&strict, &st("app", "CREATE TABLE x ~~~"), &out).unwrap_err();
        assert_eq!(e.kind(), velocity_api::ErrorKind::Fatal);
        let text = e.to_string();
        assert!(
            text.starts_with("DDL statement couldn't be parsed: 'CREATE TABLE x ~~~'")
                && text.contains("schema.history.internal.skip.unparseable.ddl=true"),
            "{text}"
        );
        // not a table DDL, or not a captured database: recorded and skipped
        assert!(unparseable(&strict, &st("app", "CREATE PROCEDURE p() BEGIN END"), &out).is_ok());
        assert!(unparseable(&strict, &st("crm", "CREATE TABLE x ~~~"), &out).is_ok());
        let lenient = config(&[("schema.history.internal.skip.unparseable.ddl", "true")]);
        assert!(unparseable(&lenient, &st("app", "CREATE TABLE x ~~~"), &out).is_ok());
    }
}
