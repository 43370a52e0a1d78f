//! Blocking snapshots in the MySQL / MariaDB reader (`execute-snapshot`
//! with `"type": "blocking"`), as Debezium's
//! `ChangeEventSourceCoordinator#doBlockingSnapshot` runs them; the
//! database-independent part (tables, statements, offsets) lives in
//! [`velocity_api::debezium::blocking`].
//!
//! Contracts:
//! - The signal (an insert into the signal table seen in the binlog) names
//!   the tables; streaming stops at the signal's row: the binlog is not
//!   read while the tables are read.
//! - The tables are read by the initial snapshot's reader
//!   ([`Reader::read_table`]) on a connection of their own, in one
//!   `REPEATABLE READ` transaction `WITH CONSISTENT SNAPSHOT` (no lock:
//!   the position is the stream's, the schemas the stream's model), each
//!   with the statement of [`blocking::select_statement`]: every row an
//!   `op: "r"` record with the initial snapshot's `source.snapshot`
//!   markers and the signal's binlog file and position.
//! - Offsets: the streaming position right after the signal's row (what a
//!   change after it would store) with `snapshot: "BLOCKING"`, as Debezium
//!   writes it, and `snapshot_completed: true` on the last record. A
//!   restart from such an offset streams on after the signal; a blocking
//!   snapshot cut short is not resumed (a WARN says so), as in Debezium.
//! - Then streaming resumes with the row after the signal: nothing is
//!   lost; changes committed after the signal but before the snapshot's
//!   transaction began arrive in the snapshot and again streamed after it.
//! - A failing snapshot (a statement error, a filter that does not parse)
//!   is rolled back, logged (WARN, Debezium's text) and streaming resumes.
//! - While the binlog is not read, a busy server may give up on the binlog
//!   connection (`net_write_timeout`); the stream then fails after the
//!   snapshot, retriable under `connect.keep.alive`, and resumes from the
//!   stored offset.

use std::sync::atomic::Ordering;

use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use velocity_api::debezium::blocking::{self, BlockingSnapshot};
use velocity_api::debezium::signal::{AdditionalCondition, SignalRecord};

use super::{connect, q, Cursor, Reader, SnapshotEmitter};
use crate::binlog::Position;
use crate::catalog::quote_ident;
use crate::envelope::now;
use crate::error::MySqlError;

impl Reader {
    /// An `execute-snapshot` signal of type `blocking` at row `row` of
    /// event `ev`: reads the captured tables `data_collections` match,
    /// then returns to streaming.
    pub(super) async fn blocking_snapshot(
        &mut self,
        cur: &mut Cursor,
        after: Position,
        signal_pos: u64,
        rec: &SignalRecord,
        data_collections: &[String],
        conditions: &[AdditionalCondition],
    ) -> Result<(), MySqlError> {
        let names = self.captured_names().await?;
        let plan = BlockingSnapshot::plan(&rec.id, data_collections, conditions, &names);
        if plan.tables.is_empty() {
            tracing::warn!(id = %rec.id, "Blocking snapshot signal '{}': no captured table matches the data-collections {data_collections:?}; nothing to snapshot", rec.id);
            return Ok(());
        }
        tracing::info!("Streaming will now pause");
        tracing::info!(id = %rec.id, tables = ?plan.names(), "Starting snapshot");
        let cfg = self.cfg.clone();
        let mut conn = connect(&cfg).await?;
        let base = Position {
            file: cur.file.clone(),
            pos: signal_pos,
            ..after.clone()
        };
        match self.read_blocking(&mut conn, &plan, base, after).await {
            Ok(()) => {
                self.send_batch().await?;
                tracing::info!("Snapshot completed");
            }
            Err(MySqlError::Stopped) => return Err(MySqlError::Stopped),
            Err(e) => {
                let _ = conn.query_drop("ROLLBACK").await;
                tracing::warn!(error = %e, "Error while executing requested blocking snapshot.");
                tracing::warn!("Snapshot was not completed successfully");
            }
        }
        let _ = conn.disconnect().await;
        tracing::info!("Streaming resumed");
        Ok(())
    }

    /// Reads the tables of `plan` on `conn`; the records' `source` names
    /// `base`'s file and position, their offsets are `after`'s, marked.
    async fn read_blocking(
        &mut self,
        conn: &mut Conn,
        plan: &BlockingSnapshot,
        base: Position,
        after: Position,
    ) -> Result<(), MySqlError> {
        let cfg = self.cfg.clone();
        self.snapshot_session(conn).await?;
        conn.query_drop("START TRANSACTION WITH CONSISTENT SNAPSHOT")
            .await
            .map_err(|e| q(e, &cfg))?;
        let started = self.snapshot_metrics_started(plan.tables.len());
        let mut emit = SnapshotEmitter {
            base,
            ts_ms: now().0,
            held_ddl: None,
            held: None,
            first_overall: true,
            blocking: Some(after.to_offset()),
        };
        for (done, t) in plan.tables.iter().enumerate() {
            self.metrics
                .remaining_table_count
                .store((plan.tables.len() - done) as u64, Ordering::Relaxed);
            let (db, name) = t.id.split_once('.').unwrap_or(("", t.id.as_str()));
            let Some(ts) = self.load(conn, db, name).await? else {
                tracing::warn!(table = %t.id, "Blocking snapshot: the table is not known, it is skipped");
                continue;
            };
            let select = blocking::select_statement(
                &format!("{}.{}", quote_ident(db), quote_ident(name)),
                "*",
                t.filter.as_deref(),
            );
            tracing::info!(table = %t.id, %select, "Snapshot of table");
            self.read_table(conn, &mut emit, &ts, &select).await?;
        }
        self.finish_snapshot_records(&mut emit).await?;
        conn.query_drop("COMMIT").await.map_err(|e| q(e, &cfg))?;
        self.snapshot_metrics_completed(started);
        Ok(())
    }

    /// Warns when the stored offset was written in the middle of a blocking
    /// snapshot: streaming goes on after its signal, the snapshot is not
    /// resumed (as in Debezium).
    pub(super) fn blocking_resume_check(&self) {
        if self
            .stored_offset
            .as_ref()
            .is_some_and(blocking::unfinished)
        {
            tracing::warn!("The stored offset was written during a blocking snapshot that did not complete: streaming resumes after its signal and the snapshot is not resumed; send the execute-snapshot signal again to read those tables");
        }
    }
}
