//! Blocking snapshots in the PostgreSQL reader (`execute-snapshot` with
//! `"type": "blocking"`), as Debezium's
//! `ChangeEventSourceCoordinator#doBlockingSnapshot` runs them; the
//! database-independent part (tables, statements, offsets) lives in
//! [`velocity_api::debezium::blocking`].
//!
//! Contracts:
//! - The signal (an insert into the signal table seen in the log) names
//!   the tables; streaming stops right after the signal's message: the
//!   replication stream is not read (the server buffers the WAL in the
//!   slot) while the tables are read, but standby status updates keep
//!   going out every `status.update.interval.ms`, so the server does not
//!   drop the connection however long the snapshot takes.
//! - The tables are read by the initial snapshot's reader, in one
//!   `REPEATABLE READ READ ONLY` transaction of the regular connection,
//!   each with the statement of [`blocking::select_statement`]: every row
//!   an `op: "r"` record with the initial snapshot's `source.snapshot`
//!   markers, `source.lsn`/`txId`/`sequence` those of the signal.
//! - Offsets: the signal's streaming position (what a change right after
//!   the signal would store) with `snapshot: "BLOCKING"`,
//!   `last_snapshot_record` and `snapshot_completed` (`true` on the last
//!   record), as Debezium writes them; the incremental snapshot's keys stay
//!   in them while one runs. A restart from such an offset streams on
//!   after the signal; a blocking snapshot cut short is not resumed (a
//!   WARN says so), as in Debezium.
//! - Then streaming resumes with the message after the signal: nothing is
//!   lost; changes committed after the signal but before the snapshot's
//!   transaction began arrive in the snapshot and again streamed after it.
//! - A failing snapshot (a statement error, a filter that does not parse)
//!   is rolled back, logged (WARN, Debezium's text) and streaming resumes.

use std::sync::Arc;

use tokio_postgres::Client;
use velocity_api::debezium::blocking::{self, BlockingSnapshot};
use velocity_api::debezium::signal::{AdditionalCondition, SignalRecord};

use super::{
    qualified_name, snapshot_projection, Reader, SnapshotStamp, SnapshotTable, StreamOffset,
};
use crate::catalog;
use crate::envelope::{now, TableSchema};
use crate::error::PostgresError;
use crate::protocol::{Lsn, ReplicationStream};
use crate::types::Phase;

/// A blocking snapshot waiting to run: the plan and where the signal stands.
pub(super) struct Pending {
    /// The tables and their filters.
    plan: BlockingSnapshot,
    /// The oid of each planned table, in plan order.
    oids: Vec<u32>,
    /// The signal's streaming position (the records' offsets).
    at: StreamOffset,
}

impl Reader {
    /// An `execute-snapshot` signal of type `blocking` at `pos`: plans the
    /// snapshot of the captured tables `data_collections` match; it runs
    /// once the signal's message is handled ([`Reader::blocking_snapshot`]).
    pub(super) async fn blocking_requested(
        &mut self,
        client: &Client,
        rec: &SignalRecord,
        data_collections: &[String],
        conditions: &[AdditionalCondition],
        pos: &StreamOffset,
    ) -> Result<(), PostgresError> {
        let mut captured: Vec<(u32, String, String)> = catalog::list_tables(client)
            .await
            .map_err(|e| PostgresError::Query(e.to_string()))?
            .into_iter()
            .filter(|(_, s, t)| self.cfg.filters.table(s, t))
            .collect();
        if self.cfg.publish_via_partition_root {
            let parents = catalog::partition_parents(client)
                .await
                .map_err(|e| PostgresError::Query(e.to_string()))?;
            captured = catalog::split_covered_partitions(captured, &parents).0;
        }
        let names: Vec<String> = captured
            .iter()
            .map(|(_, s, t)| format!("{s}.{t}"))
            .collect();
        let plan = BlockingSnapshot::plan(&rec.id, data_collections, conditions, &names);
        if plan.tables.is_empty() {
            tracing::warn!(id = %rec.id, "Blocking snapshot signal '{}': no captured table matches the data-collections {data_collections:?}; nothing to snapshot", rec.id);
            return Ok(());
        }
        let oids = plan
            .tables
            .iter()
            .filter_map(|t| names.iter().position(|n| *n == t.id))
            .map(|i| captured[i].0)
            .collect();
        self.blocking = Some(Pending {
            plan,
            oids,
            at: pos.clone(),
        });
        Ok(())
    }

    /// Runs the pending blocking snapshot while `stream` is not read,
    /// sending standby status updates (`confirmed` as flushed) meanwhile.
    pub(super) async fn blocking_snapshot(
        &mut self,
        client: &Client,
        stream: &mut ReplicationStream,
        confirmed: Lsn,
    ) -> Result<(), PostgresError> {
        let Some(p) = self.blocking.take() else {
            return Ok(());
        };
        let interval = self.cfg.status_update_interval;
        tracing::info!("Streaming will now pause");
        let run = self.run_blocking(client, p);
        tokio::pin!(run);
        let mut status = tokio::time::interval(interval);
        status.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                r = &mut run => break r?,
                _ = status.tick() => {
                    stream
                        .send_standby_status(stream.last_wal_end().max(confirmed), confirmed, confirmed, false)
                        .await
                        .map_err(PostgresError::Protocol)?;
                }
            }
        }
        tracing::info!("Streaming resumed");
        Ok(())
    }

    /// Reads the tables of `p`; a failure is rolled back and logged.
    async fn run_blocking(&mut self, client: &Client, p: Pending) -> Result<(), PostgresError> {
        tracing::info!(id = %p.plan.signal_id, tables = ?p.plan.names(), "Starting snapshot");
        match self.read_blocking(client, &p).await {
            Ok(()) => {
                // hand the snapshot over before streaming resumes
                self.send_batch().await?;
                tracing::info!("Snapshot completed");
            }
            Err(e) => {
                let _ = client.batch_execute("ROLLBACK").await;
                tracing::warn!(error = %e, "Error while executing requested blocking snapshot.");
                tracing::warn!("Snapshot was not completed successfully");
            }
        }
        Ok(())
    }

    async fn read_blocking(&mut self, client: &Client, p: &Pending) -> Result<(), PostgresError> {
        let q = |e: tokio_postgres::Error| PostgresError::Query(e.to_string());
        client
            .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await
            .map_err(q)?;
        let tables = catalog::load_tables(client, &p.oids)
            .await
            .map_err(|e| PostgresError::Query(e.to_string()))?;
        let mut read = Vec::with_capacity(tables.len());
        for (t, (&oid, planned)) in tables.iter().zip(p.oids.iter().zip(&p.plan.tables)) {
            let select = blocking::select_statement(
                &qualified_name(&t.schema, &t.name),
                &snapshot_projection(t),
                planned.filter.as_deref(),
            );
            tracing::info!(table = %planned.id, %select, "Snapshot of table");
            read.push(SnapshotTable {
                oid,
                id: (t.schema.clone(), t.name.clone()),
                ts: Arc::new(TableSchema::build(&self.cfg, t, Phase::Snapshot)),
                select,
            });
        }
        let (_, ts_us, _) = now();
        let at = StreamOffset {
            ts_usec: ts_us,
            ..p.at.clone()
        };
        let stamp = SnapshotStamp {
            lsn: at.lsn,
            xid: at.tx_id,
            ts_us,
            sequence: Some(format!("[\"{}\",\"{}\"]", at.lsn_commit, at.lsn)),
            blocking: Some(at.to_offset()),
        };
        self.read_snapshot_tables(client, &read, &stamp).await?;
        client.batch_execute("COMMIT").await.map_err(q)
    }

    /// Warns when the stored offset was written in the middle of a blocking
    /// snapshot: streaming goes on after its signal, the snapshot is not
    /// resumed (as in Debezium).
    pub(super) fn blocking_resume_check(&self) {
        if blocking::unfinished(&self.last_offset) {
            tracing::warn!("The stored offset was written during a blocking snapshot that did not complete: streaming resumes after its signal and the snapshot is not resumed; send the execute-snapshot signal again to read those tables");
        }
    }
}
