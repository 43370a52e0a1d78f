//! Helpers shared by Debezium-style source connectors whose database reader
//! runs in a background task and hands batches to [`crate::SourceTask::poll`]
//! through a bounded channel.

use std::time::Duration;

use tokio::sync::mpsc;

use crate::error::{ConnectError, Result};
use crate::record::{Partition, SourceRecord};

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
    rx: &mut mpsc::Receiver<Result<Vec<SourceRecord>, E>>,
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
