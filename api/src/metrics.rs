//! What a source task tells the runtime about its database side, for the
//! runtime's `/metrics` endpoint: the attributes of Debezium's streaming
//! and snapshot MBeans (`debezium.<plugin>:type=connector-metrics,
//! context=streaming|snapshot,server=<topic.prefix>`).
//!
//! A task owns one [`SourceMetrics`] (shared through an `Arc`) and updates it
//! with plain atomic stores from its reader; the runtime reads it when
//! `/metrics` is scraped. Nothing here allocates per event.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;

/// Debezium's streaming and snapshot metrics of one source task.
///
/// Values are written by the task's reader and read by the runtime at any
/// time; each field is independent (no cross-field consistency is promised,
/// as with JMX attributes).
#[derive(Debug)]
pub struct SourceMetrics {
    /// Debezium's plugin name (`postgres`, `mysql`): the `plugin` label.
    pub plugin: &'static str,
    /// `topic.prefix` (Debezium's `server` key property): the `name` label.
    pub server: Mutex<String>,
    /// `Connected`: the streaming connection is open.
    pub connected: AtomicBool,
    /// `MilliSecondsBehindSource`: now minus the source timestamp of the
    /// last streamed event, taken when that event was read; -1 before the
    /// first event.
    pub ms_behind_source: AtomicI64,
    /// `TotalNumberOfEventsSeen` (streaming): change events read from the log.
    pub streaming_events_seen: AtomicU64,
    /// `TotalNumberOfEventsSeen` (snapshot): rows read by the snapshot.
    pub snapshot_events_seen: AtomicU64,
    /// `QueueTotalCapacity`: `max.queue.size`.
    pub queue_total_capacity: AtomicU64,
    /// `QueueRemainingCapacity`: free places between reader and task.
    pub queue_remaining_capacity: AtomicU64,
    /// `NumberOfCommittedTransactions`.
    pub committed_transactions: AtomicU64,
    /// `SnapshotRunning`.
    pub snapshot_running: AtomicBool,
    /// `SnapshotCompleted`.
    pub snapshot_completed: AtomicBool,
    /// `SnapshotAborted`.
    pub snapshot_aborted: AtomicBool,
    /// `SnapshotDurationInSeconds`.
    pub snapshot_duration_secs: AtomicU64,
    /// `TotalTableCount`: tables the snapshot covers.
    pub total_table_count: AtomicU64,
    /// `RemainingTableCount`: tables the snapshot has not finished.
    pub remaining_table_count: AtomicU64,
    /// `RowsScanned`: rows read so far per table (`schema.table` / `db.table`).
    pub rows_scanned: Mutex<BTreeMap<String, u64>>,
}

impl SourceMetrics {
    /// Fresh metrics for a task of `plugin` (Debezium's name for it).
    pub fn new(plugin: &'static str) -> SourceMetrics {
        SourceMetrics {
            plugin,
            server: Mutex::new(String::new()),
            connected: AtomicBool::new(false),
            ms_behind_source: AtomicI64::new(-1),
            streaming_events_seen: AtomicU64::new(0),
            snapshot_events_seen: AtomicU64::new(0),
            queue_total_capacity: AtomicU64::new(0),
            queue_remaining_capacity: AtomicU64::new(0),
            committed_transactions: AtomicU64::new(0),
            snapshot_running: AtomicBool::new(false),
            snapshot_completed: AtomicBool::new(false),
            snapshot_aborted: AtomicBool::new(false),
            snapshot_duration_secs: AtomicU64::new(0),
            total_table_count: AtomicU64::new(0),
            remaining_table_count: AtomicU64::new(0),
            rows_scanned: Mutex::new(BTreeMap::new()),
        }
    }

    /// Sets the `server` (topic prefix) the metrics are reported under.
    pub fn set_server(&self, server: &str) {
        if let Ok(mut s) = self.server.lock() {
            server.clone_into(&mut s);
        }
    }

    /// The `server` name.
    pub fn server(&self) -> String {
        self.server.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Records one streamed event whose source timestamp is `source_ts_ms`
    /// (milliseconds since the epoch), read at `now_ms`.
    pub fn streamed(&self, source_ts_ms: i64, now_ms: i64) {
        self.streaming_events_seen.fetch_add(1, Ordering::Relaxed);
        self.ms_behind_source
            .store((now_ms - source_ts_ms).max(0), Ordering::Relaxed);
    }

    /// Records one streamed change event (without touching the lag).
    pub fn event_seen(&self) {
        self.streaming_events_seen.fetch_add(1, Ordering::Relaxed);
    }

    /// Records a committed source transaction whose commit timestamp is
    /// `source_ts_ms`, read at `now_ms`: sets the lag.
    pub fn transaction_committed(&self, source_ts_ms: i64, now_ms: i64) {
        self.committed_transactions.fetch_add(1, Ordering::Relaxed);
        self.ms_behind_source
            .store((now_ms - source_ts_ms).max(0), Ordering::Relaxed);
    }

    /// Records that the reader is caught up: the server reported nothing
    /// written after the last event read, so nothing is behind and the lag
    /// is zero (Debezium keeps the last event's lag while idle).
    pub fn caught_up(&self) {
        self.ms_behind_source.store(0, Ordering::Relaxed);
    }

    /// Sets `QueueRemainingCapacity` from the free batch places of the
    /// channel between reader and task (`max.batch.size` records each, at
    /// most `max.queue.size` in all).
    pub fn queue_free(&self, free_batches: usize, max_batch_size: usize, max_queue_size: usize) {
        let free = free_batches
            .saturating_mul(max_batch_size)
            .min(max_queue_size);
        self.queue_remaining_capacity
            .store(free as u64, Ordering::Relaxed);
    }

    /// Adds `rows` scanned rows of `table` to the snapshot counters.
    pub fn rows_scanned(&self, table: &str, rows: u64) {
        self.snapshot_events_seen.fetch_add(rows, Ordering::Relaxed);
        if let Ok(mut m) = self.rows_scanned.lock() {
            *m.entry(table.to_owned()).or_default() += rows;
        }
    }

    /// A copy of `RowsScanned`.
    pub fn rows_scanned_snapshot(&self) -> BTreeMap<String, u64> {
        self.rows_scanned
            .lock()
            .map(|m| m.clone())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_and_rows() {
        let m = SourceMetrics::new("postgres");
        assert_eq!(m.ms_behind_source.load(Ordering::Relaxed), -1);
        m.streamed(1_000, 1_250);
        assert_eq!(m.ms_behind_source.load(Ordering::Relaxed), 250);
        m.streamed(2_000, 1_990); // clock skew never reports negative lag
        assert_eq!(m.ms_behind_source.load(Ordering::Relaxed), 0);
        assert_eq!(m.streaming_events_seen.load(Ordering::Relaxed), 2);
        m.rows_scanned("public.a", 3);
        m.rows_scanned("public.a", 2);
        m.rows_scanned("public.b", 1);
        let rows = m.rows_scanned_snapshot();
        assert_eq!(rows["public.a"], 5);
        assert_eq!(rows["public.b"], 1);
        assert_eq!(m.snapshot_events_seen.load(Ordering::Relaxed), 6);
    }
}
