//! Helpers shared by Debezium-style source connectors whose database reader
//! runs in a background task and hands batches to [`crate::SourceTask::poll`]
//! through a bounded channel: [`ReaderLink`] is the task's end of it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use crate::error::{ConnectError, Result};
use crate::metrics::SourceMetrics;
use crate::record::{Partition, SourceRecord};

/// What a reader sends: a batch, or the error that ended it.
pub type ReaderItem<E> = std::result::Result<Vec<SourceRecord>, E>;

/// The task's end of a database reader running in a background task.
///
/// Contract: the reader sends batches in source order through a channel of
/// `max.queue.size / max.batch.size` batches (so it blocks, and stops
/// reading the database, when the task falls behind); it sets `caught_up`
/// right before sending a batch that was everything the database had ready
/// and clears it before any other; it ends on the stop signal. The task
/// acknowledges nothing to the database through this link: sources that do
/// (PostgreSQL's flush LSN) keep their own channel for stored offsets.
#[derive(Debug)]
pub struct ReaderLink<E> {
    /// Batches from the reader.
    pub rx: mpsc::Receiver<ReaderItem<E>>,
    /// Set to true to stop the reader.
    pub stop: watch::Sender<bool>,
    /// The reader task.
    pub join: tokio::task::JoinHandle<()>,
    /// See [`crate::SourceTask::caught_up`]; written by the reader.
    pub caught_up: Arc<AtomicBool>,
}

impl<E: Into<ConnectError>> ReaderLink<E> {
    /// The next batch, or an empty one after `wait` (see [`poll_reader`]);
    /// then reports the queue's free room to `metrics` (`max_batch_size`
    /// records per queued batch, out of `max_queue_size`).
    pub async fn poll(
        &mut self,
        wait: Duration,
        reader: &str,
        metrics: &SourceMetrics,
        max_batch_size: usize,
        max_queue_size: usize,
    ) -> Result<Vec<SourceRecord>> {
        let batch = poll_reader(&mut self.rx, wait, reader).await;
        // the reader refills the queue while the task works on this batch
        metrics.queue_free(self.rx.capacity(), max_batch_size, max_queue_size);
        batch
    }

    /// True when the last batch taken was everything the database had
    /// ready and nothing more is queued.
    pub fn caught_up(&self) -> bool {
        self.rx.is_empty() && self.caught_up.load(Ordering::Acquire)
    }

    /// Signals the reader to stop, drops what is queued and waits up to
    /// five seconds for it to end.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let ReaderLink { mut rx, join, .. } = self;
        rx.close();
        let _ = tokio::time::timeout(Duration::from_secs(5), join).await;
    }
}

/// Appends `record` to `batch`, a batch a reader hands to one `poll`. When
/// `record` carries a position of the same partition and the record before
/// it is a data record (not a [`SourceRecord::control`] marker), that
/// record's offset and partition are cleared: offsets of one partition grow
/// in batch order, so the newer one covers it, and a record with an empty
/// offset completes no position of its own ([`SourceRecord`]'s contract).
/// A batch built only through this function keeps its last record's
/// offset, every control marker's and the last data record's before each
/// marker; what Kafka Connect stores after the batch is delivered is
/// unchanged, while a queued record no longer holds an offset and a
/// partition map of its own (most of the reader queue's memory besides the
/// values).
pub fn push_covering(batch: &mut Vec<SourceRecord>, record: SourceRecord) {
    if !record.source_offset.is_empty() && record.control().is_none() {
        if let Some(prev) = batch.last_mut() {
            if !prev.source_offset.is_empty()
                && prev.control().is_none()
                && prev.source_partition == record.source_partition
            {
                prev.source_offset = crate::record::Offset::new();
                prev.source_partition = Partition::new();
            }
        }
    }
    batch.push(record);
}

/// [`crate::SourceTask::backlog`] for a source whose batches hold at most
/// `max_batch_size` records (`None` before the task started).
pub fn full_batch(max_batch_size: Option<usize>, batch_len: usize) -> bool {
    batch_len >= max_batch_size.unwrap_or(crate::connector::DEFAULT_FULL_BATCH)
}

/// Debezium's source partition `{"server": "<topic.prefix>"}`.
pub fn server_partition(topic_prefix: &str) -> Partition {
    let mut p = Partition::new();
    p.insert("server".into(), topic_prefix.into());
    p
}

/// One `poll` over a reader channel: the next batch, or an empty batch after
/// `wait` without one. A reader error is returned as the task's error; a
/// closed channel (the reader ended without reporting) is fatal and names
/// `reader`. Cancel-safe: a cancelled call loses no batch.
pub async fn poll_reader<E: Into<ConnectError>>(
    rx: &mut mpsc::Receiver<ReaderItem<E>>,
    wait: Duration,
    reader: &str,
) -> Result<Vec<SourceRecord>> {
    match tokio::time::timeout(wait, rx.recv()).await {
        Err(_) => Ok(Vec::new()),
        Ok(None) => Err(ConnectError::fatal(format!(
            "{reader} stopped unexpectedly"
        ))),
        Ok(Some(Ok(batch))) => Ok(batch),
        Ok(Some(Err(e))) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{ConnectRecord, Offset};
    use crate::value::Value;

    fn at(server: &str, pos: i64) -> SourceRecord {
        let mut offset = Offset::new();
        offset.insert("pos".into(), pos.into());
        SourceRecord {
            source_partition: server_partition(server),
            source_offset: offset,
            record: ConnectRecord::new("t", None, Value::Null, None, Value::Int64(pos)),
        }
    }

    fn positions(batch: &[SourceRecord]) -> Vec<Option<i64>> {
        batch
            .iter()
            .map(|r| r.source_offset.get("pos").and_then(|v| v.as_i64()))
            .collect()
    }

    #[test]
    fn a_newer_position_clears_the_one_before_it() {
        let mut batch = Vec::new();
        for pos in 1..=3 {
            push_covering(&mut batch, at("tms", pos));
        }
        assert_eq!(positions(&batch), [None, None, Some(3)]);
        assert!(batch[0].source_partition.is_empty());
        assert_eq!(batch[2].source_partition, server_partition("tms"));
    }

    #[test]
    fn markers_other_partitions_and_empty_offsets_keep_what_they_cover() {
        let mut batch = Vec::new();
        push_covering(&mut batch, at("tms", 1));
        // a record without a position of its own covers nothing
        let mut bare = at("tms", 0);
        bare.source_offset = Offset::new();
        push_covering(&mut batch, bare);
        push_covering(&mut batch, at("tms", 2));
        // a transaction-end marker neither clears nor is cleared
        let marker = SourceRecord::transaction_end(
            server_partition("tms"),
            at("tms", 2).source_offset,
            None,
        );
        push_covering(&mut batch, marker);
        push_covering(&mut batch, at("tms", 3));
        // another partition's position does not cover this one's
        push_covering(&mut batch, at("other", 9));
        assert_eq!(
            positions(&batch),
            [Some(1), None, Some(2), Some(2), Some(3), Some(9)]
        );
    }
}
