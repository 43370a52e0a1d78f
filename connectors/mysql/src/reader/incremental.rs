//! Signals and the incremental snapshot in the MySQL / MariaDB reader, as
//! Debezium's `SignalProcessor` (source channel) and
//! `MySqlReadOnlyIncrementalSnapshotChangeEventSource`'s read-write
//! sibling (`SignalBasedIncrementalSnapshotChangeEventSource`) run them;
//! the database-independent state lives in
//! [`velocity_api::debezium::incremental`] and
//! [`velocity_api::debezium::signal`].
//!
//! Contracts:
//! - Signals: an insert into `signal.data.collection` (`db.table`, columns
//!   `id`, `type`, `data`) read from the binlog is acted upon before its own
//!   change event is emitted, in binlog order; a signal that cannot be acted
//!   upon is logged (WARN, Debezium's text) and streaming goes on. Rows the
//!   stored offset covers (already handled before a restart) are skipped
//!   with their signals.
//! - Chunks: reading a chunk writes the open-window row, reads the chunk
//!   (its own connection, UTC session, primary key order, Debezium's chunk
//!   SQL with backquoted identifiers) into the window and writes the
//!   close-window row, each statement committing on its own (autocommit).
//!   Between the two rows in the binlog a change of the snapshotted table
//!   drops the buffered row of its key; at the close row the remaining rows
//!   are pushed, each an `op: "r"` record with `source.snapshot:
//!   "incremental"` whose offset is the binlog position after the close row
//!   plus the snapshot's state with this row's key, then the next chunk is
//!   read.
//! - Offsets: while a snapshot runs, every record's offset (streamed rows,
//!   statements, heartbeats, transaction ends) carries the snapshot's state
//!   next to the binlog keys (the cursor's [`Position::incremental`]), so
//!   whichever record of a batch keeps its offset
//!   ([`velocity_api::source::push_covering`]), a restart resumes the
//!   snapshot after the last row emitted before it.

use std::sync::Arc;

use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use mysql_common::value::Value as My;
use velocity_api::debezium::incremental::{
    iso_now, key_fingerprint, window_close_row, window_data, window_open_row, ChunkQuery,
    IncrementalSnapshotContext, Window,
};
use velocity_api::debezium::java_ser::KeyValue;
use velocity_api::debezium::signal::{self, Signal, SignalRecord, SnapshotKind};
use velocity_api::{SourceRecord, Struct};
use velocity_kafka_log::signal::SignalChannel;
use velocity_kafka_log::LogRecord;

use super::{connect, q, Cursor, Ev, Reader, RowRef};
use crate::binlog::Position;
use crate::catalog::{self, quote_ident, quote_literal};
use crate::envelope::{now, SourceInfo, TableSchema};
use crate::error::MySqlError;

/// The reader's signal and incremental snapshot state.
#[derive(Default)]
pub(super) struct Incremental {
    /// Debezium's context (queue, chunk, window flag, stored keys).
    pub(super) ctx: IncrementalSnapshotContext,
    /// The chunk's rows by key fingerprint.
    window: Window<String, (Struct, Vec<KeyValue>)>,
    /// The table being snapshotted.
    table: Option<ChunkTable>,
    /// The connection chunks are read and watermarks written on.
    conn: Option<Conn>,
    /// When the open-window row of the current chunk was written (its data).
    open_ts: String,
    /// The Kafka signal channel, when enabled (opened as streaming starts).
    pub(super) kafka: Option<SignalChannel>,
    /// A Kafka channel record taken while waiting for the binlog, to act
    /// upon before the next event.
    pub(super) kafka_pending: Option<LogRecord>,
}

/// What reading chunks of one table needs.
#[derive(Clone)]
struct ChunkTable {
    /// `db.table`.
    id: String,
    /// The schemas the chunk rows are decoded with.
    ts: Arc<TableSchema>,
    /// The backquoted qualified name.
    sql_name: String,
    /// The backquoted chunking columns.
    key_sql: Vec<String>,
    /// Each chunking column's position in the row and its
    /// (`DATA_TYPE`, `COLUMN_TYPE`).
    key_cols: Vec<(usize, String, String)>,
}

/// A chunking column's value as the `Object` MySQL Connector/J hands
/// Debezium: `Integer` for the integer types up to `INT` (signed) and
/// `MEDIUMINT UNSIGNED`, `Long` for `BIGINT` and `INT UNSIGNED`,
/// `BigDecimal` for `DECIMAL` and `BIGINT UNSIGNED`, else the text.
fn key_value(data_type: &str, column_type: &str, v: &My) -> KeyValue {
    let unsigned = column_type.contains("unsigned");
    let int = |i: i64| match (data_type, unsigned) {
        ("bigint", true) => KeyValue::Decimal(i.to_string()),
        ("bigint", false) | ("int" | "integer", true) => KeyValue::Long(i),
        _ => i32::try_from(i).map_or(KeyValue::Long(i), KeyValue::Int),
    };
    match v {
        My::NULL => KeyValue::Null,
        My::Int(i) => int(*i),
        My::UInt(u) => i64::try_from(*u).map_or(KeyValue::Decimal(u.to_string()), int),
        My::Float(f) => KeyValue::Float(*f),
        My::Double(d) => KeyValue::Double(*d),
        My::Bytes(b) => {
            let text = String::from_utf8_lossy(b).into_owned();
            match data_type {
                "decimal" | "numeric" => KeyValue::Decimal(text),
                "tinyint" | "smallint" | "mediumint" | "int" | "integer" | "bigint" => text
                    .parse::<i64>()
                    .map(int)
                    .unwrap_or(KeyValue::Decimal(text)),
                _ => KeyValue::String(text),
            }
        }
        // temporal keys travel as their SQL text (Velocity reads back
        // what it wrote)
        other => KeyValue::String(other.as_sql(true).trim_matches('\'').to_owned()),
    }
}

/// The text of column `i` of a signal row (None for NULL or absent).
fn text(values: &[My], i: usize) -> Option<String> {
    match values.get(i) {
        Some(My::Bytes(b)) => Some(String::from_utf8_lossy(b).into_owned()),
        Some(My::NULL) | None => None,
        Some(other) => Some(other.as_sql(true).trim_matches('\'').to_owned()),
    }
}

impl Reader {
    /// True when `db.table` is `signal.data.collection`.
    pub(super) fn is_signal_table(&self, db: &str, table: &str) -> bool {
        self.cfg
            .signal
            .data_collection
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case(&format!("{db}.{table}")))
    }

    /// Recomputes the snapshot keys (and the Kafka signal position) the
    /// cursor's offsets carry.
    fn inc_refresh(&self, cur: &mut Cursor) {
        cur.inc = self
            .inc
            .ctx
            .stores()
            .then(|| Arc::new(self.inc.ctx.stored()));
    }

    /// The connection of chunk reads and watermark writes (opened on first
    /// use: UTC, backslash escapes on, REPEATABLE READ).
    async fn inc_conn(&mut self) -> Result<Conn, MySqlError> {
        if let Some(c) = self.inc.conn.take() {
            return Ok(c);
        }
        let cfg = self.cfg.clone();
        let mut c = connect(&cfg).await?;
        for sql in [
            "SET SESSION time_zone = '+00:00'",
            "SET SESSION sql_mode = REPLACE(@@SESSION.sql_mode, 'NO_BACKSLASH_ESCAPES', '')",
        ] {
            c.query_drop(sql).await.map_err(|e| q(e, &cfg))?;
        }
        Ok(c)
    }

    /// Loads the snapshot state of the stored offset (when streaming
    /// resumes from one) and, when a snapshot was running, reads its next
    /// chunk (Debezium's `init`).
    pub(super) async fn incremental_start(&mut self, cur: &mut Cursor) -> Result<(), MySqlError> {
        if let Some(o) = &self.stored_offset {
            self.inc.ctx = IncrementalSnapshotContext::load(o)?;
        }
        if self.inc.ctx.running() {
            if self.cfg.signal.data_collection.is_none() {
                tracing::warn!("the stored offset holds an incremental snapshot in progress, but signal.data.collection is not set: it is not continued");
                self.inc.ctx = IncrementalSnapshotContext::default();
            } else {
                tracing::info!(
                    collections = ?self.inc.ctx.collections().map(|c| c.id.clone()).collect::<Vec<_>>(),
                    "Incremental snapshot in progress, need to read new chunk on start"
                );
                self.read_chunk(cur).await?;
            }
        }
        self.inc_refresh(cur);
        Ok(())
    }

    /// Drops the buffered rows that the change `records` (of one row)
    /// make stale: those of the snapshotted table with the same key.
    pub(super) fn deduplicate(&mut self, records: &[SourceRecord]) {
        if !self.inc.ctx.deduplication_needed() || self.inc.window.is_empty() {
            return;
        }
        let Some(t) = &self.inc.table else { return };
        for r in records {
            if r.record.topic == t.ts.events.topic && !r.record.key.is_null() {
                let fp = key_fingerprint(&r.record.key);
                if self.inc.window.remove(&fp) {
                    tracing::debug!(key = %fp, "Removed key from window");
                }
            }
        }
    }

    /// Row `row` of an insert into the signal table (its binlog values):
    /// acts on the signal.
    pub(super) async fn signal_row(
        &mut self,
        cur: &mut Cursor,
        ev: &Ev,
        row: RowRef,
        values: &[My],
    ) -> Result<(), MySqlError> {
        let rec = SignalRecord {
            id: text(values, 0).unwrap_or_default(),
            kind: text(values, 1).unwrap_or_default(),
            data: text(values, 2),
        };
        tracing::debug!(id = %rec.id, kind = %rec.kind, data = ?rec.data, "Received signal");
        match rec.parse() {
            Ok(s) => self.act(cur, ev, row, &rec, s).await,
            Err(e) => {
                tracing::warn!("{e}");
                Ok(())
            }
        }
    }

    /// Opens the Kafka signal channel when `signal.enabled.channels` lists
    /// `kafka`, after the signal position of the stored offset (see
    /// [`velocity_api::debezium::incremental::SIGNAL_OFFSET`]).
    pub(super) async fn open_signal_channel(&mut self) -> Result<(), MySqlError> {
        self.inc.kafka_pending = None;
        self.inc.kafka = velocity_kafka_log::signal::open_configured(
            &self.cfg.signal,
            self.inc.ctx.signal_offset(),
        )
        .await
        .map_err(|(topic, e)| MySqlError::SignalChannel {
            topic,
            source: Box::new(e),
        })?;
        Ok(())
    }

    /// The Kafka channel's next record if one is fetched already.
    pub(super) fn kafka_ready(&mut self) -> Option<LogRecord> {
        self.inc
            .kafka_pending
            .take()
            .or_else(|| self.inc.kafka.as_mut().and_then(SignalChannel::try_recv))
    }

    /// A record of the Kafka signal channel, read between transactions:
    /// acts on its signal as on the signal table's, after recording its
    /// position, so every offset stored from now on carries it.
    pub(super) async fn kafka_signal(
        &mut self,
        cur: &mut Cursor,
        r: LogRecord,
    ) -> Result<(), MySqlError> {
        self.inc.ctx.set_signal_offset(r.offset);
        self.inc_refresh(cur);
        let Some((rec, s)) =
            signal::kafka_action(&self.cfg.signal, r.key.as_deref(), r.value.as_deref())
        else {
            return Ok(());
        };
        if let Signal::Log { message } = &s {
            let offset =
                serde_json::Value::Object(cur.heartbeat_position().to_offset()).to_string();
            tracing::info!("{}", message.replacen("{}", &offset, 1));
            return Ok(());
        }
        self.act_snapshot(cur, &rec, s).await?;
        self.inc_refresh(cur);
        Ok(())
    }

    async fn act(
        &mut self,
        cur: &mut Cursor,
        ev: &Ev,
        row: RowRef,
        rec: &SignalRecord,
        s: Signal,
    ) -> Result<(), MySqlError> {
        match s {
            Signal::Log { message } => {
                let offset =
                    serde_json::Value::Object(cur.at(row.k, row.i, ev).to_offset()).to_string();
                tracing::info!("{}", message.replacen("{}", &offset, 1));
            }
            Signal::WindowOpen => self.inc.ctx.open_window_signal(&rec.id),
            Signal::WindowClose => {
                if !self.inc.ctx.close_window_signal(&rec.id) {
                    return Ok(());
                }
                self.send_window_events(cur, ev, row).await?;
                self.read_chunk(cur).await?;
            }
            Signal::ExecuteSnapshot {
                kind: SnapshotKind::Blocking,
                data_collections,
                additional_conditions,
                ..
            } => {
                tracing::info!(
                    "Requested 'BLOCKING' snapshot of data collections '{:?}' with additional conditions '{:?}'",
                    data_collections,
                    additional_conditions.iter().map(|c| (c.data_collection.as_str(), c.filter.as_str())).collect::<Vec<_>>(),
                );
                // the position after the signal's row
                let after = if row.i + 1 == row.n {
                    cur.at(row.k + 1, 0, ev)
                } else {
                    cur.at(row.k, row.i + 1, ev)
                };
                self.blocking_snapshot(
                    cur,
                    after,
                    ev.start,
                    rec,
                    &data_collections,
                    &additional_conditions,
                )
                .await?;
            }
            other => self.act_snapshot(cur, rec, other).await?,
        }
        self.inc_refresh(cur);
        Ok(())
    }

    /// The snapshot actions (`execute-snapshot`, `stop-snapshot`,
    /// `pause-snapshot`, `resume-snapshot`), whichever channel they came
    /// from; other signals are [`Self::act`]'s.
    async fn act_snapshot(
        &mut self,
        cur: &mut Cursor,
        rec: &SignalRecord,
        s: Signal,
    ) -> Result<(), MySqlError> {
        match s {
            Signal::ExecuteSnapshot {
                data_collections,
                kind,
                additional_conditions,
                surrogate_key,
            } => {
                tracing::info!(
                    "Requested '{}' snapshot of data collections '{:?}' with additional conditions '{:?}' and surrogate key '{}'",
                    if kind == SnapshotKind::Incremental { "INCREMENTAL" } else { "BLOCKING" },
                    data_collections,
                    additional_conditions.iter().map(|c| (c.data_collection.as_str(), c.filter.as_str())).collect::<Vec<_>>(),
                    surrogate_key.as_deref().unwrap_or("PK of table will be used"),
                );
                if kind == SnapshotKind::Blocking {
                    // the position the snapshot's records carry: where the
                    // stream is (Kafka signals act between transactions)
                    let after = cur.heartbeat_position();
                    let at = after.pos;
                    return self
                        .blocking_snapshot(
                            cur,
                            after,
                            at,
                            rec,
                            &data_collections,
                            &additional_conditions,
                        )
                        .await;
                }
                let tables = self.captured_names().await?;
                let ids = signal::expand_collections(&data_collections, &tables);
                if ids.len() > data_collections.len() {
                    tracing::info!("Data-collections to snapshot have been expanded from {data_collections:?} to {ids:?}");
                }
                let should_read = !self.inc.ctx.running();
                self.inc.ctx.add(
                    &rec.id,
                    &ids,
                    &additional_conditions,
                    surrogate_key.as_deref(),
                );
                self.inc_refresh(cur);
                if should_read {
                    self.read_chunk(cur).await?;
                }
            }
            Signal::StopSnapshot {
                data_collections,
                kind,
            } => {
                tracing::info!("Requested stop of snapshot '{kind:?}' for data collections '{data_collections:?}'");
                self.inc.ctx.request_stop(data_collections);
            }
            Signal::PauseSnapshot => self.inc.ctx.pause_signal(),
            Signal::ResumeSnapshot => {
                if self.inc.ctx.resume_signal() {
                    self.read_chunk(cur).await?;
                }
            }
            Signal::Log { .. } | Signal::WindowOpen | Signal::WindowClose => {}
        }
        Ok(())
    }

    /// The names (`db.table`) of the captured tables.
    pub(super) async fn captured_names(&mut self) -> Result<Vec<String>, MySqlError> {
        let mut conn = self.inc_conn().await?;
        let listed = catalog::list_tables(&mut conn).await;
        self.inc.conn = Some(conn);
        let mut names: Vec<String> = listed
            .map_err(|e| q(e, &self.cfg))?
            .into_iter()
            .filter(|(d, t)| self.cfg.filters.table(d, t))
            .map(|(d, t)| format!("{d}.{t}"))
            .collect();
        names.sort();
        Ok(names)
    }

    /// Pushes the window's rows as `r` events at the position after the
    /// close row (row `row` of event `ev`).
    async fn send_window_events(
        &mut self,
        cur: &mut Cursor,
        ev: &Ev,
        row: RowRef,
    ) -> Result<(), MySqlError> {
        let rows = self.inc.window.drain();
        let Some(table) = self.inc.table.clone() else {
            return Ok(());
        };
        tracing::debug!(rows = rows.len(), "Sending events from window buffer");
        let RowRef { k, i, n } = row;
        let base = if i + 1 == n {
            cur.at(k + 1, 0, ev)
        } else {
            cur.at(k, i + 1, ev)
        };
        let info = SourceInfo {
            snapshot: "incremental",
            ts_ms: now().0,
            ..cur.source_info(ev, i as i32, cur.txn.thread, None)
        };
        let cfg = self.cfg.clone();
        for (r, key) in rows {
            self.inc.ctx.send_event(key);
            let offset = Position {
                incremental: Some(Arc::new(self.inc.ctx.stored())),
                ..base.clone()
            }
            .to_offset();
            let rec = table
                .ts
                .change(&cfg, "r", None, r, &info, None, &self.partition, offset);
            self.push(rec).await?;
            cur.txn.emitted = true;
        }
        self.inc_refresh(cur);
        Ok(())
    }

    /// Leaves the current table.
    fn next_collection(&mut self) {
        self.inc.ctx.finish_collection();
        self.inc.table = None;
    }

    /// Reads the next chunk between an open- and a close-window row
    /// (Debezium's `readChunk`).
    async fn read_chunk(&mut self, cur: &mut Cursor) -> Result<(), MySqlError> {
        if self.inc.ctx.process_stop_requests() {
            self.inc.table = None;
        }
        if !self.inc.ctx.running() {
            tracing::info!("Skipping read chunk because snapshot is not running");
            self.inc_refresh(cur);
            return Ok(());
        }
        if self.inc.ctx.paused() {
            tracing::info!("Incremental snapshot was paused.");
            return Ok(());
        }
        let mut conn = self.inc_conn().await?;
        let res = self.read_chunk_on(&mut conn).await;
        self.inc.conn = Some(conn);
        self.inc_refresh(cur);
        res
    }

    async fn read_chunk_on(&mut self, conn: &mut Conn) -> Result<(), MySqlError> {
        let chunk = self.inc.ctx.start_new_chunk();
        self.inc.open_ts = iso_now();
        let open_data = window_data(&self.inc.open_ts, None);
        self.write_watermark(conn, window_open_row(&chunk), &open_data)
            .await?;
        while self.inc.ctx.running() {
            let Some(table) = self.chunk_table(conn).await? else {
                self.next_collection();
                continue;
            };
            match self.chunk_rows(conn, &table).await {
                Ok(true) => break,
                Ok(false) => {
                    tracing::info!("No data returned by the query, incremental snapshotting of table '{}' finished", table.id);
                    self.next_collection();
                }
                Err(e) => {
                    tracing::warn!(error = %e, "SQL error while executing incremental snapshot for table '{}', skipping and continuing streaming", table.id);
                    self.inc.window.drain();
                    self.next_collection();
                }
            }
        }
        let close_data = window_data(&self.inc.open_ts, Some(&iso_now()));
        self.write_watermark(conn, window_close_row(&chunk), &close_data)
            .await
    }

    /// Reads the maximum key when needed and the next chunk into the
    /// window; false when the table has no more rows.
    async fn chunk_rows(&mut self, conn: &mut Conn, t: &ChunkTable) -> Result<bool, MySqlError> {
        let cfg = self.cfg.clone();
        let condition = self.inc.ctx.current().and_then(|c| c.condition());
        let q_ = ChunkQuery {
            table: &t.sql_name,
            projection: "*",
            key_columns: &t.key_sql,
            condition: condition.as_deref(),
        };
        let literals = |k: &[KeyValue]| -> Vec<String> {
            k.iter()
                .map(|v| {
                    v.to_sql_text()
                        .map_or_else(|| "NULL".into(), |s| quote_literal(&s))
                })
                .collect()
        };
        let key_of = |values: &[My]| -> Vec<KeyValue> {
            t.key_cols
                .iter()
                .map(|(i, dt, ct)| key_value(dt, ct, values.get(*i).unwrap_or(&My::NULL)))
                .collect()
        };
        if self.inc.ctx.maximum_key().is_none() {
            let rows: Vec<mysql_async::Row> = conn
                .exec(q_.maximum_key(), ())
                .await
                .map_err(|e| q(e, &cfg))?;
            let Some(row) = rows.into_iter().next() else {
                tracing::info!("No maximum key returned by the query, incremental snapshotting of table '{}' finished as it is empty", t.id);
                return Ok(false);
            };
            let max = key_of(&row.unwrap());
            tracing::info!(
                "Incremental snapshot for table '{}' will end at position {:?}",
                t.id,
                max
            );
            self.inc.ctx.set_maximum_key(Some(max));
        }
        let after = self.inc.ctx.chunk_end().map(literals);
        let max = self.inc.ctx.maximum_key().map(literals);
        let sql = q_.chunk(after.as_deref(), max.as_deref(), cfg.signal.chunk_size);
        tracing::debug!(table = %t.id, %sql, "reading chunk");
        let rows: Vec<mysql_async::Row> = conn.exec(sql, ()).await.map_err(|e| q(e, &cfg))?;
        let mut last = None;
        let n = rows.len() as u64;
        for row in rows {
            let values: Vec<My> = row.unwrap();
            let st = t.ts.row(&values, false).map_err(|d| MySqlError::Decode {
                what: t.id.clone(),
                detail: d,
            })?;
            let key = key_of(&values);
            let fp = key_fingerprint(&t.ts.events.key_of(&st));
            last = Some(key.clone());
            self.inc.window.insert(fp, (st, key));
        }
        self.metrics.rows_scanned(&t.id, n);
        self.inc.ctx.next_chunk_position(last);
        Ok(!self.inc.window.is_empty())
    }

    /// The current table's chunk reading set-up; None (after a warning)
    /// when it cannot be snapshotted.
    async fn chunk_table(&mut self, conn: &mut Conn) -> Result<Option<ChunkTable>, MySqlError> {
        let Some(dc) = self.inc.ctx.current().cloned() else {
            return Ok(None);
        };
        if let Some(t) = &self.inc.table {
            if t.id == dc.id {
                return Ok(Some(t.clone()));
            }
        }
        let listed = catalog::list_tables(conn)
            .await
            .map_err(|e| q(e, &self.cfg))?;
        let Some((db, name)) = listed
            .into_iter()
            .find(|(d, t)| format!("{d}.{t}") == dc.id)
        else {
            tracing::warn!("Schema not found for table '{}': it is skipped", dc.id);
            return Ok(None);
        };
        if !self.cfg.filters.table(&db, &name) {
            tracing::warn!("Incremental snapshot for table '{}' skipped because the table is not captured (database and table include/exclude lists)", dc.id);
            return Ok(None);
        }
        let Some(ts) = self.load(conn, &db, &name).await? else {
            tracing::warn!("Schema not found for table '{}': it is skipped", dc.id);
            return Ok(None);
        };
        let Some(table) = self.model.get(&db, &name).cloned() else {
            tracing::warn!("Schema not found for table '{}': it is skipped", dc.id);
            return Ok(None);
        };
        let key_names: Vec<String> = match &dc.surrogate_key {
            Some(k) => vec![k.clone()],
            None => self
                .cfg
                .message_key_columns
                .for_table(&db, &name)
                .map(<[String]>::to_vec)
                .unwrap_or_else(|| table.primary_key.clone()),
        };
        let mut key_cols = Vec::new();
        for k in &key_names {
            match table
                .columns
                .iter()
                .position(|c| c.name.eq_ignore_ascii_case(k))
            {
                Some(i) => key_cols.push((
                    i,
                    table.columns[i].data_type.clone(),
                    table.columns[i].column_type.clone(),
                )),
                None => {
                    tracing::warn!("Incremental snapshot for table '{}' skipped because the key column '{k}' doesn't exist", dc.id);
                    return Ok(None);
                }
            }
        }
        if key_cols.is_empty() {
            tracing::warn!(
                "Incremental snapshot for table '{}' skipped because the table has no primary keys",
                dc.id
            );
            return Ok(None);
        }
        let t = ChunkTable {
            id: dc.id.clone(),
            ts,
            sql_name: format!("{}.{}", quote_ident(&db), quote_ident(&name)),
            key_sql: key_names.iter().map(|k| quote_ident(k)).collect(),
            key_cols,
        };
        self.inc.table = Some(t.clone());
        Ok(Some(t))
    }

    /// Inserts a watermark row (`id`, `type`, `data`) into the signal table,
    /// committed on its own (autocommit).
    async fn write_watermark(
        &self,
        conn: &mut Conn,
        (id, kind): (String, &'static str),
        data: &str,
    ) -> Result<(), MySqlError> {
        let Some(name) = self.cfg.signal.data_collection.as_deref() else {
            tracing::warn!("Not able to determine signal table, cannot emit window signal");
            return Ok(());
        };
        let table = match name.split_once('.') {
            Some((db, t)) => format!("{}.{}", quote_ident(db), quote_ident(t)),
            None => quote_ident(name),
        };
        conn.exec_drop(
            format!("INSERT INTO {table} VALUES (?, ?, ?)"),
            (id, kind, data),
        )
        .await
        .map_err(|e| match e {
            // ER_TABLEACCESS_DENIED_ERROR: fatal, with the grant to add
            mysql_async::Error::Server(s) if s.code == 1142 => MySqlError::SignalWrite {
                user: self.cfg.user.clone(),
                table: name.to_owned(),
                detail: s.message,
            },
            other => q(other, &self.cfg),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_values_are_the_objects_connector_j_hands_debezium() {
        assert_eq!(key_value("int", "int(11)", &My::Int(42)), KeyValue::Int(42));
        assert_eq!(
            key_value("int", "int(10) unsigned", &My::Int(42)),
            KeyValue::Long(42)
        );
        assert_eq!(
            key_value("bigint", "bigint(20)", &My::Int(5)),
            KeyValue::Long(5)
        );
        assert_eq!(
            key_value("bigint", "bigint(20) unsigned", &My::UInt(u64::MAX)),
            KeyValue::Decimal(u64::MAX.to_string())
        );
        assert_eq!(
            key_value("smallint", "smallint(6)", &My::Int(-7)),
            KeyValue::Int(-7)
        );
        assert_eq!(
            key_value("varchar", "varchar(10)", &My::Bytes(b"a'b".to_vec())),
            KeyValue::String("a'b".into())
        );
        assert_eq!(
            key_value("decimal", "decimal(10,2)", &My::Bytes(b"12.50".to_vec())),
            KeyValue::Decimal("12.50".into())
        );
        assert_eq!(key_value("int", "int", &My::NULL), KeyValue::Null);
        assert_eq!(
            quote_literal(&KeyValue::String("a'b\\".into()).to_sql_text().unwrap()),
            "'a''b\\\\'"
        );
    }

    #[test]
    fn signal_columns_are_read_as_text() {
        let row = [
            My::Bytes(b"s1".to_vec()),
            My::Bytes(b"log".to_vec()),
            My::NULL,
        ];
        assert_eq!(text(&row, 0).as_deref(), Some("s1"));
        assert_eq!(text(&row, 1).as_deref(), Some("log"));
        assert_eq!(text(&row, 2), None);
        assert_eq!(text(&row, 3), None);
    }
}
