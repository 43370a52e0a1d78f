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
