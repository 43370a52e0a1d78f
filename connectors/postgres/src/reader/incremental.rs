//! Signals and the incremental snapshot in the PostgreSQL reader, as
//! Debezium's `SignalProcessor` (source channel) and
//! `PostgresSignalBasedIncrementalSnapshotChangeEventSource` run them; the
//! database-independent state lives in
//! [`velocity_api::debezium::incremental`] and
//! [`velocity_api::debezium::signal`].
//!
//! Contracts:
//! - Signals: an insert into `signal.data.collection` seen in the log is
//!   parsed and acted upon before its own change event is emitted, in log
//!   order; a signal that cannot be acted upon is logged (WARN, Debezium's
//!   text) and streaming goes on. Signals at or before the resume position
//!   (already handled before a restart) are not handled again.
//! - Chunks: reading a chunk writes the open-window row, reads the chunk
//!   (regular connection, its own statement) into the window and writes
//!   the close-window row, each statement its own transaction. Between the
//!   two rows in the log, a change of the snapshotted table drops the
//!   buffered row of its key; at the close row the remaining rows are
//!   pushed, each an `op: "r"` record with `source.snapshot: "incremental"`
//!   whose offset is the close row's position plus the snapshot's state with
//!   this row's key, then the next chunk is read.
//! - Offsets: while a snapshot runs, every streamed record's offset carries
//!   the snapshot's state, so a restart from any stored offset resumes the
//!   snapshot after the last row emitted before it.

use std::sync::Arc;

use tokio_postgres::{Client, SimpleQueryMessage};
use velocity_api::debezium::incremental::{
    iso_now, key_fingerprint as fingerprint, window_close_row, window_data, window_open_row,
    ChunkQuery, IncrementalSnapshotContext, Window,
};
use velocity_api::debezium::java_ser::KeyValue;
use velocity_api::debezium::signal::{self, Signal, SignalRecord, SnapshotKind};
use velocity_api::{Offset, SourceRecord, Struct};
use velocity_kafka_log::signal::SignalChannel;
use velocity_kafka_log::LogRecord;

use super::{Reader, StreamOffset};
use crate::catalog::{self, PgType, TypeKind};
use crate::envelope::{SourcePosition, TableSchema};
use crate::error::PostgresError;
use crate::protocol::pgoutput::Insert;
use crate::protocol::{quote_identifier, quote_literal, TupleValue};
use crate::types::Phase;

/// The reader's signal and incremental snapshot state.
#[derive(Default)]
pub(super) struct Incremental {
    /// Debezium's context (queue, chunk, window flag, stored keys).
    pub(super) ctx: IncrementalSnapshotContext,
    /// `ctx.stored()` while a snapshot runs: merged into streamed offsets.
    pub(super) stored: Option<Arc<Offset>>,
    /// The chunk's rows by key fingerprint.
    window: Window<String, (Struct, Vec<KeyValue>)>,
    /// The table being snapshotted.
    table: Option<ChunkTable>,
    /// The signal table's oid, once seen.
    pub(super) signal_oid: Option<u32>,
    /// The Kafka signal channel, when enabled (opened as streaming starts).
    pub(super) kafka: Option<SignalChannel>,
    /// When the open-window row of the current chunk was written (its data).
    open_ts: String,
}

/// What reading chunks of one table needs.
#[derive(Clone)]
struct ChunkTable {
    /// `schema.table`.
    id: String,
    /// The schemas the chunk rows are decoded with.
    ts: Arc<TableSchema>,
    /// The quoted qualified name.
    sql_name: String,
    /// The quoted columns, in catalog order (the rows' layout).
    projection: String,
    /// The quoted chunking columns.
    key_sql: Vec<String>,
    /// Each chunking column's position in the row and type.
    key_cols: Vec<(usize, PgType)>,
}

/// A chunking column's text value as the `Object` PgJDBC hands Debezium.
fn key_value(t: &PgType, text: Option<&str>) -> KeyValue {
    let Some(text) = text else {
        return KeyValue::Null;
    };
    if let TypeKind::Domain { base, .. } = &t.kind {
        return key_value(base, Some(text));
    }
    let parsed = match (t.schema.as_str(), t.name.as_str()) {
        ("pg_catalog", "int2" | "int4") => text.parse().ok().map(KeyValue::Int),
        ("pg_catalog", "int8") => text.parse().ok().map(KeyValue::Long),
        ("pg_catalog", "bool") => Some(KeyValue::Bool(text == "t" || text == "true")),
        ("pg_catalog", "float4") => text.parse().ok().map(KeyValue::Float),
        ("pg_catalog", "float8") => text.parse().ok().map(KeyValue::Double),
        ("pg_catalog", "numeric") if text == "NaN" => Some(KeyValue::Double(f64::NAN)),
        ("pg_catalog", "numeric") => Some(KeyValue::Decimal(text.to_owned())),
        ("pg_catalog", "uuid") => u128::from_str_radix(&text.replace('-', ""), 16)
            .ok()
            .map(KeyValue::Uuid),
        _ => None,
    };
    // other types travel as their text (Debezium would store the JDBC
    // object; Velocity reads back what it wrote)
    parsed.unwrap_or_else(|| KeyValue::String(text.to_owned()))
}

impl Reader {
    /// True when `schema.table` is `signal.data.collection`.
    pub(super) fn is_signal_table(&self, schema: &str, table: &str) -> bool {
        self.cfg
            .signal
            .data_collection
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case(&format!("{schema}.{table}")))
    }

    /// Recomputes the snapshot keys (and the Kafka signal position)
    /// streamed offsets carry.
    fn inc_refresh(&mut self) {
        self.inc.stored = self
            .inc
            .ctx
            .stores()
            .then(|| Arc::new(self.inc.ctx.stored()));
    }

    /// Loads the snapshot state of the stored offset and, when a snapshot
    /// was running, reads its next chunk (Debezium's `init`).
    pub(super) async fn incremental_start(&mut self, client: &Client) -> Result<(), PostgresError> {
        self.inc.ctx = IncrementalSnapshotContext::load(&self.last_offset)?;
        self.inc_refresh();
        if self.inc.ctx.running() {
            if self.cfg.signal.data_collection.is_none() {
                tracing::warn!("the stored offset holds an incremental snapshot in progress, but signal.data.collection is not set: it is not continued");
                self.inc.ctx = IncrementalSnapshotContext::default();
                self.inc_refresh();
                return Ok(());
            }
            tracing::info!(
                collections = ?self.inc.ctx.collections().map(|c| c.id.clone()).collect::<Vec<_>>(),
                "Incremental snapshot in progress, need to read new chunk on start"
            );
            self.read_chunk(client).await?;
        }
        Ok(())
    }

    /// Opens the Kafka signal channel when `signal.enabled.channels` lists
    /// `kafka`, after the signal position of the stored offset (see
    /// [`velocity_api::debezium::incremental::SIGNAL_OFFSET`]).
    pub(super) async fn open_signal_channel(&mut self) -> Result<(), PostgresError> {
        self.inc.kafka = velocity_kafka_log::signal::open_configured(
            &self.cfg.signal,
            self.inc.ctx.signal_offset(),
        )
        .await
        .map_err(|(topic, e)| PostgresError::SignalChannel {
            topic,
            source: Box::new(e),
        })?;
        Ok(())
    }

    /// A record of the Kafka signal channel, read between transactions
    /// when the stream had reached `at`: acts on its signal as on the
    /// signal table's, after recording its position, so every offset
    /// stored from now on carries it.
    pub(super) async fn kafka_signal(
        &mut self,
        client: &Client,
        r: LogRecord,
        at: StreamOffset,
    ) -> Result<(), PostgresError> {
        self.inc.ctx.set_signal_offset(r.offset);
        self.inc_refresh();
        if let Some((rec, s)) =
            signal::kafka_action(&self.cfg.signal, r.key.as_deref(), r.value.as_deref())
        {
            let at = StreamOffset {
                incremental: self.inc.stored.clone(),
                ..at
            };
            self.act(client, &rec, s, at).await?;
        }
        Ok(())
    }

    /// Drops the buffered rows that the change `records` (of one event)
    /// make stale: those of the snapshotted table with the same key.
    pub(super) fn deduplicate(&mut self, records: &[SourceRecord]) {
        if !self.inc.ctx.deduplication_needed() || self.inc.window.is_empty() {
            return;
        }
        let Some(t) = &self.inc.table else { return };
        for r in records {
            if r.record.topic == t.ts.events.topic && !r.record.key.is_null() {
                let fp = fingerprint(&r.record.key);
                if self.inc.window.remove(&fp) {
                    tracing::debug!(key = %fp, "Removed key from window");
                }
            }
        }
    }

    /// An insert into the signal table at `pos`: acts on it (after pushing
    /// the events held so far, which precede it).
    pub(super) async fn signal_insert(
        &mut self,
        client: &Client,
        ins: &Insert,
        pos: StreamOffset,
        held: (Vec<SourceRecord>, Option<StreamOffset>),
    ) -> Result<(), PostgresError> {
        let text = |i: usize| match ins.new.0.get(i) {
            Some(TupleValue::Text(b)) | Some(TupleValue::Binary(b)) => {
                Some(String::from_utf8_lossy(b).into_owned())
            }
            _ => None,
        };
        let rec = SignalRecord {
            id: text(0).unwrap_or_default(),
            kind: text(1).unwrap_or_default(),
            data: text(2),
        };
        tracing::debug!(id = %rec.id, kind = %rec.kind, data = ?rec.data, "Received signal");
        self.push_event(held.0, held.1).await?;
        match rec.parse() {
            Ok(s) => self.act(client, &rec, s, pos).await,
            Err(e) => {
                tracing::warn!("{e}");
                Ok(())
            }
        }
    }

    async fn act(
        &mut self,
        client: &Client,
        rec: &SignalRecord,
        s: Signal,
        pos: StreamOffset,
    ) -> Result<(), PostgresError> {
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
                    return self
                        .blocking_requested(
                            client,
                            rec,
                            &data_collections,
                            &additional_conditions,
                            &pos,
                        )
                        .await;
                }
                let tables = self.captured_names(client).await?;
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
                self.inc_refresh();
                if should_read {
                    self.read_chunk(client).await?;
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
                    self.read_chunk(client).await?;
                }
            }
            Signal::Log { message } => {
                let offset = serde_json::Value::Object(pos.to_offset()).to_string();
                tracing::info!("{}", message.replacen("{}", &offset, 1));
            }
            Signal::WindowOpen => self.inc.ctx.open_window_signal(&rec.id),
            Signal::WindowClose => {
                if !self.inc.ctx.close_window_signal(&rec.id) {
                    return Ok(());
                }
                self.send_window_events(&pos).await?;
                self.read_chunk(client).await?;
            }
        }
        Ok(())
    }

    /// The names (`schema.table`) of the captured tables.
    async fn captured_names(&self, client: &Client) -> Result<Vec<String>, PostgresError> {
        let mut names: Vec<String> = catalog::list_tables(client)
            .await
            .map_err(|e| PostgresError::Query(e.to_string()))?
            .into_iter()
            .filter(|(_, s, t)| self.cfg.filters.table(s, t))
            .map(|(_, s, t)| format!("{s}.{t}"))
            .collect();
        names.sort();
        Ok(names)
    }

    /// Pushes the window's rows as `r` events at the close row's position.
    async fn send_window_events(&mut self, pos: &StreamOffset) -> Result<(), PostgresError> {
        let rows = self.inc.window.drain();
        let Some(table) = self.inc.table.clone() else {
            return Ok(());
        };
        tracing::debug!(rows = rows.len(), "Sending events from window buffer");
        let (_, ts_us, _) = crate::envelope::now();
        let base = StreamOffset {
            incremental: None,
            ..pos.clone()
        }
        .to_offset();
        let sequence = Some(format!("[\"{}\",\"{}\"]", pos.lsn_commit, pos.lsn));
        let cfg = self.cfg.clone();
        for (row, key) in rows {
            self.inc.ctx.send_event(key);
            let mut offset = base.clone();
            offset.insert("snapshot".into(), "INCREMENTAL".into());
            offset.insert("last_snapshot_record".into(), false.into());
            offset.insert("snapshot_completed".into(), false.into());
            self.inc.ctx.store(&mut offset);
            let sp = SourcePosition {
                snapshot: "incremental",
                ts_us,
                tx_id: None,
                lsn: None,
                sequence: sequence.clone(),
                transaction: None,
            };
            let rec = table
                .ts
                .change(&cfg, &self.db, "r", None, row, &sp, &self.partition, offset);
            self.push(rec).await?;
        }
        self.inc_refresh();
        Ok(())
    }

    /// Leaves the current table.
    fn next_collection(&mut self) {
        self.inc.ctx.finish_collection();
        self.inc.table = None;
    }

    /// Reads the next chunk between an open- and a close-window row
    /// (Debezium's `readChunk`).
    pub(super) async fn read_chunk(&mut self, client: &Client) -> Result<(), PostgresError> {
        if self.inc.ctx.process_stop_requests() {
            self.inc.table = None;
        }
        if !self.inc.ctx.running() {
            tracing::info!("Skipping read chunk because snapshot is not running");
            self.inc_refresh();
            return Ok(());
        }
        if self.inc.ctx.paused() {
            tracing::info!("Incremental snapshot was paused.");
            return Ok(());
        }
        let chunk = self.inc.ctx.start_new_chunk();
        self.inc.open_ts = iso_now();
        let open_data = window_data(&self.inc.open_ts, None);
        self.write_watermark(client, window_open_row(&chunk), &open_data)
            .await?;
        while self.inc.ctx.running() {
            let Some(table) = self.chunk_table(client).await? else {
                self.next_collection();
                continue;
            };
            match self.chunk_rows(client, &table).await {
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
        self.write_watermark(client, window_close_row(&chunk), &close_data)
            .await?;
        self.inc_refresh();
        Ok(())
    }

    /// Reads the maximum key when needed and the next chunk into the
    /// window; false when the table has no more rows.
    async fn chunk_rows(&mut self, client: &Client, t: &ChunkTable) -> Result<bool, PostgresError> {
        let condition = self.inc.ctx.current().and_then(|c| c.condition());
        let q = ChunkQuery {
            table: &t.sql_name,
            projection: &t.projection,
            key_columns: &t.key_sql,
            condition: condition.as_deref(),
        };
        let literals = |k: &[KeyValue]| -> Vec<String> {
            k.iter()
                .map(|v| {
                    v.to_sql_text()
                        .and_then(|s| quote_literal(&s).ok())
                        .unwrap_or_else(|| "NULL".into())
                })
                .collect()
        };
        let err = |e: tokio_postgres::Error| PostgresError::Query(e.to_string());
        if self.inc.ctx.maximum_key().is_none() {
            let rows = client.simple_query(&q.maximum_key()).await.map_err(err)?;
            let max = rows.iter().find_map(|m| match m {
                SimpleQueryMessage::Row(r) => Some(
                    t.key_cols
                        .iter()
                        .map(|(i, ty)| key_value(ty, r.get(*i)))
                        .collect::<Vec<_>>(),
                ),
                _ => None,
            });
            let Some(max) = max else {
                tracing::info!("No maximum key returned by the query, incremental snapshotting of table '{}' finished as it is empty", t.id);
                return Ok(false);
            };
            tracing::info!(
                "Incremental snapshot for table '{}' will end at position {:?}",
                t.id,
                max
            );
            self.inc.ctx.set_maximum_key(Some(max));
        }
        let after = self.inc.ctx.chunk_end().map(literals);
        let max = self.inc.ctx.maximum_key().map(literals);
        let sql = q.chunk(after.as_deref(), max.as_deref(), self.cfg.signal.chunk_size);
        tracing::debug!(table = %t.id, %sql, "reading chunk");
        let msgs = client.simple_query(&sql).await.map_err(err)?;
        let mut last = None;
        let mut n = 0u64;
        for m in msgs {
            let SimpleQueryMessage::Row(r) = m else {
                continue;
            };
            let row = Self::row_from_text(&t.ts, |i| r.get(i), Phase::Snapshot)?;
            let key: Vec<KeyValue> = t
                .key_cols
                .iter()
                .map(|(i, ty)| key_value(ty, r.get(*i)))
                .collect();
            let fp = fingerprint(&t.ts.events.key_of(&row));
            last = Some(key.clone());
            self.inc.window.insert(fp, (row, key));
            n += 1;
        }
        self.metrics.rows_scanned(&t.id, n);
        self.inc.ctx.next_chunk_position(last);
        Ok(!self.inc.window.is_empty())
    }

    /// The current table's chunk reading set-up; None (after a warning)
    /// when it cannot be snapshotted.
    async fn chunk_table(&mut self, client: &Client) -> Result<Option<ChunkTable>, PostgresError> {
        let Some(dc) = self.inc.ctx.current().cloned() else {
            return Ok(None);
        };
        if let Some(t) = &self.inc.table {
            if t.id == dc.id {
                return Ok(Some(t.clone()));
            }
        }
        let found = catalog::list_tables(client)
            .await
            .map_err(|e| PostgresError::Query(e.to_string()))?
            .into_iter()
            .find(|(_, s, t)| format!("{s}.{t}") == dc.id);
        let Some((oid, schema, name)) = found else {
            tracing::warn!("Schema not found for table '{}': it is skipped", dc.id);
            return Ok(None);
        };
        if !self.cfg.filters.table(&schema, &name) {
            tracing::warn!("Incremental snapshot for table '{}' skipped because the table is not captured (schema and table include/exclude lists)", dc.id);
            return Ok(None);
        }
        let table = catalog::load_table(client, oid)
            .await
            .map_err(|e| PostgresError::Query(e.to_string()))?;
        let key_names: Vec<String> = match &dc.surrogate_key {
            Some(k) => vec![k.clone()],
            None => self
                .cfg
                .key_columns_for(&schema, &name)
                .map(<[String]>::to_vec)
                .unwrap_or_else(|| table.primary_key.clone()),
        };
        let mut key_cols = Vec::new();
        for k in &key_names {
            match table.columns.iter().position(|c| &c.name == k) {
                Some(i) => key_cols.push((i, table.columns[i].pg_type.clone())),
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
        let q = |s: &str| quote_identifier(s).map_err(|e| PostgresError::Query(e.to_string()));
        let projection = table
            .columns
            .iter()
            .map(|c| q(&c.name))
            .collect::<Result<Vec<_>, _>>()?
            .join(", ");
        let t = ChunkTable {
            id: dc.id.clone(),
            ts: Arc::new(TableSchema::build(&self.cfg, &table, Phase::Snapshot)),
            sql_name: format!("{}.{}", q(&schema)?, q(&name)?),
            projection: if projection.is_empty() {
                "*".into()
            } else {
                projection
            },
            key_sql: key_names.iter().map(|k| q(k)).collect::<Result<_, _>>()?,
            key_cols,
        };
        self.inc.table = Some(t.clone());
        Ok(Some(t))
    }

    /// Inserts a watermark row (`id`, `type`, `data`) into the signal table,
    /// in a transaction of its own that commits synchronously
    /// (`synchronous_commit = on` for it alone): with the server's
    /// `synchronous_commit = off` the row would reach the log, and so the
    /// stream, only at the WAL writer's next round (`wal_writer_delay`),
    /// delaying every chunk by that much.
    async fn write_watermark(
        &self,
        client: &Client,
        (id, kind): (String, &'static str),
        data: &str,
    ) -> Result<(), PostgresError> {
        let Some(name) = self.cfg.signal.data_collection.as_deref() else {
            tracing::warn!("Not able to determine signal table, cannot emit window signal");
            return Ok(());
        };
        let (schema, table) = name.split_once('.').unwrap_or(("public", name));
        let q = |s: &str| quote_identifier(s).map_err(|e| PostgresError::Query(e.to_string()));
        let l = |s: &str| quote_literal(s).map_err(|e| PostgresError::Query(e.to_string()));
        let sql = format!(
            "BEGIN; SET LOCAL synchronous_commit = on; INSERT INTO {}.{} VALUES ({}, {}, {}); COMMIT",
            q(schema)?,
            q(table)?,
            l(&id)?,
            l(kind)?,
            l(data)?
        );
        client
            .batch_execute(&sql)
            .await
            .map_err(|e| PostgresError::from_query(e, &self.cfg.connect.user, &self.addr()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ty(name: &str) -> PgType {
        PgType {
            oid: 0,
            schema: "pg_catalog".into(),
            name: name.into(),
            kind: TypeKind::Base,
        }
    }

    #[test]
    fn key_values_are_the_objects_pgjdbc_hands_debezium() {
        assert_eq!(key_value(&ty("int4"), Some("42")), KeyValue::Int(42));
        assert_eq!(key_value(&ty("int2"), Some("-7")), KeyValue::Int(-7));
        assert_eq!(
            key_value(&ty("int8"), Some("5000000000")),
            KeyValue::Long(5_000_000_000)
        );
        assert_eq!(
            key_value(&ty("numeric"), Some("12.50")),
            KeyValue::Decimal("12.50".into())
        );
        assert!(
            matches!(key_value(&ty("numeric"), Some("NaN")), KeyValue::Double(d) if d.is_nan())
        );
        assert_eq!(key_value(&ty("bool"), Some("t")), KeyValue::Bool(true));
        assert_eq!(
            key_value(&ty("uuid"), Some("123e4567-e89b-12d3-a456-426614174000")),
            KeyValue::Uuid(0x123e4567_e89b_12d3_a456_426614174000)
        );
        assert_eq!(
            key_value(&ty("text"), Some("a'b")),
            KeyValue::String("a'b".into())
        );
        assert_eq!(
            key_value(&ty("date"), Some("2024-01-02")),
            KeyValue::String("2024-01-02".into())
        );
        assert_eq!(key_value(&ty("int4"), None), KeyValue::Null);
        let domain = PgType {
            oid: 1,
            schema: "public".into(),
            name: "positive_int".into(),
            kind: TypeKind::Domain {
                base: Box::new(ty("int4")),
                base_typmod: -1,
            },
        };
        assert_eq!(key_value(&domain, Some("3")), KeyValue::Int(3));
    }
}
