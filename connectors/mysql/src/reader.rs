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
//! - Backpressure: batches go through a bounded channel
//!   (`max.queue.size / max.batch.size` batches); when it is full the reader
//!   stops reading the binlog socket and the server waits.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use mysql_async::binlog::events::{EventData, RowsEventData};
use mysql_async::prelude::Queryable;
use mysql_async::{BinlogStreamRequest, Conn, OptsBuilder, Row};
use mysql_common::value::Value as My;
use tokio::sync::{mpsc, watch};
use velocity_api::{Offset, Partition, SourceRecord, Struct};

use crate::binlog::{
    uuid_string, GtidSet, MariaGtid, Position, Server, MARIADB_ANNOTATE_ROWS_EVENT,
    MARIADB_GTID_EVENT,
};
use crate::catalog::{self, quote_ident};
use crate::config::{LockingMode, MySqlConfig, SnapshotMode};
use crate::envelope::{now, schema_change, SourceInfo, TableSchema};
use crate::error::MySqlError;

/// What the reader sends: a batch, or the error that stopped it.
pub type Item = Result<Vec<SourceRecord>, MySqlError>;

/// The handle the task holds.
pub struct ReaderHandle {
    /// Batches from the reader.
    pub rx: mpsc::Receiver<Item>,
    /// Set to true to stop the reader.
    pub stop: watch::Sender<bool>,
    /// The reader task.
    pub join: tokio::task::JoinHandle<()>,
}

/// Starts the reader for `cfg`, resuming from `stored`.
pub fn spawn(cfg: Arc<MySqlConfig>, partition: Partition, stored: Option<Offset>) -> ReaderHandle {
    let capacity = (cfg.max_queue_size / cfg.max_batch_size).max(1);
    let (tx, rx) = mpsc::channel(capacity);
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut reader = Reader {
        cfg,
        partition,
        stored: stored.as_ref().and_then(Position::from_offset),
        tx,
        stop: stop_rx,
        batch: Vec::new(),
        tables: HashMap::new(),
        server: Server::MariaDb,
    };
    let join = tokio::spawn(async move {
        let tx = reader.tx.clone();
        if let Err(e) = reader.run().await {
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
    }
}

/// Connects with the configured settings, classifying failures.
pub async fn connect(cfg: &MySqlConfig) -> Result<Conn, MySqlError> {
    let opts = OptsBuilder::default()
        .ip_or_hostname(cfg.host.clone())
        .tcp_port(cfg.port)
        .user(Some(cfg.user.clone()))
        .pass(Some(cfg.password.clone()))
        .prefer_socket(false);
    match tokio::time::timeout(cfg.connect_timeout, Conn::new(opts)).await {
        Err(_) => Err(MySqlError::Unreachable {
            addr: cfg.addr(),
            detail: format!("no answer within {:?}", cfg.connect_timeout),
        }),
        Ok(Err(e)) => Err(MySqlError::from_driver(e, &cfg.user, &cfg.addr())),
        Ok(Ok(c)) => Ok(c),
    }
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
}

fn q(e: mysql_async::Error, cfg: &MySqlConfig) -> MySqlError {
    MySqlError::from_driver(e, &cfg.user, &cfg.addr())
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
        let batch = std::mem::take(&mut self.batch);
        self.tx
            .send(Ok(batch))
            .await
            .map_err(|_| MySqlError::Stopped)
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
        tracing::info!(server = ?self.server, addr = %cfg.addr(), "connected");

        let stored = self.stored.clone();
        let resume_ok = match &stored {
            Some(p) if !p.snapshot_incomplete() => {
                let logs: Vec<Row> = conn
                    .query("SHOW BINARY LOGS")
                    .await
                    .map_err(|e| q(e, &cfg))?;
                logs.iter()
                    .any(|r| r.get::<String, _>(0).as_deref() == Some(p.file.as_str()))
            }
            _ => false,
        };
        let snapshot_data = match cfg.snapshot_mode {
            SnapshotMode::Initial | SnapshotMode::InitialOnly => {
                stored.is_none() || stored.as_ref().is_some_and(Position::snapshot_incomplete)
            }
            SnapshotMode::WhenNeeded => !resume_ok,
            _ => false,
        };
        if let Some(p) = &stored {
            if !resume_ok && !snapshot_data && !p.snapshot_incomplete() {
                return Err(MySqlError::PositionLost(format!(
                    "the stored binlog file {} is no longer on the server (purged): changes since the stored position are lost. Set snapshot.mode=when_needed to take a new snapshot, or reset the offsets (PUT /connectors/<name>/stop, then DELETE /connectors/<name>/offsets)",
                    p.file
                )));
            }
        }
        let (start, skip) = if snapshot_data {
            let pos = self.snapshot(conn).await?;
            if cfg.snapshot_mode == SnapshotMode::InitialOnly {
                tracing::info!("snapshot.mode=initial_only: snapshot complete, not streaming");
                let _ = self.stop.changed().await;
                return Ok(());
            }
            (pos, None)
        } else if let Some(p) = stored.filter(|_| resume_ok) {
            let skip = Some((p.event, p.row));
            (p, skip)
        } else if cfg.snapshot_mode == SnapshotMode::Never {
            // Debezium's `never`: read the binlog from its beginning.
            (Position::default(), None)
        } else {
            // no_data / recovery: the current position, schema only
            let (file, pos, gtids) = self.binlog_position(&mut conn).await?;
            let _ = conn.disconnect().await;
            (
                Position {
                    file,
                    pos,
                    gtids,
                    ..Position::default()
                },
                None,
            )
        };
        self.stream(start, skip).await
    }

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
            catalog::load_table(meta, db, table)
                .await
                .map_err(|e| q(e, &self.cfg))?
                .map(|t| Arc::new(TableSchema::build(&self.cfg, &t)))
        } else {
            None
        };
        self.tables.insert(key, ts.clone());
        Ok(ts)
    }

    /// Takes the snapshot on `conn`; returns the position to stream from.
    async fn snapshot(&mut self, mut conn: Conn) -> Result<Position, MySqlError> {
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
        let captured: Vec<(String, String)> = catalog::list_tables(&mut conn)
            .await
            .map_err(|e| q(e, &cfg))?
            .into_iter()
            .filter(|(d, t)| cfg.filters.table(d, t))
            .collect();
        let mut schemas = Vec::new();
        let mut ddls = Vec::new();
        for (d, t) in &captured {
            if let Some(ts) = self.load(&mut conn, d, t).await? {
                if cfg.include_schema_changes {
                    let row: Option<(String, String)> = conn
                        .query_first(format!(
                            "SHOW CREATE TABLE {}.{}",
                            quote_ident(d),
                            quote_ident(t)
                        ))
                        .await
                        .map_err(|e| q(e, &cfg))?;
                    if let Some((_, ddl)) = row {
                        ddls.push((d.clone(), ddl));
                    }
                }
                schemas.push(ts);
            }
        }
        if lock {
            conn.query_drop("UNLOCK TABLES")
                .await
                .map_err(|e| q(e, &cfg))?;
        }
        tracing::info!(tables = schemas.len(), %file, pos, "snapshot started");
        let base = Position {
            file: file.clone(),
            pos,
            gtids: gtids.clone(),
            ts_sec: ts_ms / 1000,
            server_id: 0,
            snapshot: true,
            ..Position::default()
        };
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
        let mut held_ddl: Option<(String, String)> = None;
        for (d, ddl) in ddls {
            if let Some((hd, hddl)) = held_ddl.replace((d, ddl)) {
                let r = schema_change(
                    &cfg,
                    &hd,
                    &hddl,
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
                if let Some((hd, hddl)) = held_ddl.take() {
                    let r = schema_change(
                        &cfg,
                        &hd,
                        &hddl,
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
                        &hrow,
                        None,
                        Some(hrow.clone()),
                        &info(m),
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
                        &hrow,
                        None,
                        Some(hrow.clone()),
                        &info(m),
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
                &hrow,
                None,
                Some(hrow.clone()),
                &info(m),
                &self.partition,
                done.to_offset(),
            );
            self.push(r).await?;
        } else if let Some((hd, hddl)) = held_ddl.take() {
            let r = schema_change(
                &cfg,
                &hd,
                &hddl,
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
        loop {
            let next = if self.batch.is_empty() {
                tokio::select! {
                    _ = stop.changed() => return Err(MySqlError::Stopped),
                    e = stream.next() => e,
                }
            } else {
                match tokio::time::timeout(Duration::from_millis(20), stream.next()).await {
                    Ok(e) => e,
                    Err(_) => {
                        self.send_batch().await?;
                        continue;
                    }
                }
            };
            let event = match next {
                None => {
                    return Err(MySqlError::Query(
                        "the server closed the binlog stream".into(),
                    ))
                }
                Some(Err(e)) => return Err(q(e, &cfg)),
                Some(Ok(e)) => e,
            };
            let header = event.header();
            let end_pos = header.log_pos() as u64;
            let ev_start = end_pos.saturating_sub(header.event_size() as u64);
            let ts_ms = header.timestamp() as i64 * 1000;
            let server_id = header.server_id() as i64;
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
                    let is_ddl = is_ddl(&upper);
                    if cfg.include_schema_changes
                        && is_ddl
                        && !skipped
                        && (db.is_empty() || cfg.filters.database(&db))
                    {
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
                        let r =
                            schema_change(&cfg, &db, &sql, &info, &self.partition, pos.to_offset());
                        self.push(r).await?;
                    }
                    txn.events += 1;
                    // DDL commits implicitly
                    if is_ddl {
                        self.end_txn(&mut txn, &cur_file, end_pos);
                    }
                }
                EventData::XidEvent(_) => {
                    self.end_txn(&mut txn, &cur_file, end_pos);
                }
                EventData::RowsQueryEvent(rq) if cfg.include_query => {
                    txn.query = Some(rq.query().into_owned());
                }
                EventData::TableMapEvent(tm) => {
                    let db = tm.database_name().into_owned();
                    let table = tm.table_name().into_owned();
                    self.load(&mut meta, &db, &table).await?;
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
                        let recs = self.records(&ts, op, before, after, &info, prev, next);
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

    /// The records of one row change, with only the last carrying `next`.
    #[allow(clippy::too_many_arguments)]
    fn records(
        &self,
        ts: &TableSchema,
        op: &'static str,
        before: Option<Struct>,
        after: Option<Struct>,
        info: &SourceInfo,
        prev: Offset,
        next: Offset,
    ) -> Vec<SourceRecord> {
        let cfg = &self.cfg;
        let p = &self.partition;
        let tomb = cfg.tombstones_on_delete && ts.key_schema.is_some();
        match (op, before, after) {
            ("c", _, Some(a)) => {
                vec![ts.change(cfg, "c", &a, None, Some(a.clone()), info, p, next)]
            }
            ("d", Some(b), _) => {
                if tomb {
                    vec![
                        ts.change(cfg, "d", &b, Some(b.clone()), None, info, p, prev),
                        ts.tombstone(&b, p, next),
                    ]
                } else {
                    vec![ts.change(cfg, "d", &b, Some(b.clone()), None, info, p, next)]
                }
            }
            ("u", Some(b), Some(a)) => {
                if ts.key_schema.is_some() && ts.key_of(&b) != ts.key_of(&a) {
                    // primary key change: delete (+ tombstone) of the old key, create of the new
                    let mut out =
                        vec![ts.change(cfg, "d", &b, Some(b.clone()), None, info, p, prev.clone())];
                    if tomb {
                        out.push(ts.tombstone(&b, p, prev));
                    }
                    out.push(ts.change(cfg, "c", &a, None, Some(a.clone()), info, p, next));
                    out
                } else {
                    vec![ts.change(cfg, "u", &a, Some(b), Some(a.clone()), info, p, next)]
                }
            }
            _ => Vec::new(),
        }
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
}
