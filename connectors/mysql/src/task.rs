//! The MySQL / MariaDB source task: starts the [`crate::reader`] and hands
//! its batches to the runtime. `commit` has nothing to release on the
//! server (binlog retention is the server's own setting), so the stored
//! offset is the only acknowledgement.

use std::sync::Arc;

use async_trait::async_trait;
use velocity_api::{
    ConnectError, Offset, Partition, RawConfig, Result, SourceMetrics, SourceRecord, SourceTask,
    TaskContext, TypedConfig,
};

use crate::config::MySqlConfig;
use crate::error::MySqlError;
use crate::reader::{self, ReaderHandle};

/// The source partition: `{"server": "<topic.prefix>"}`, as Debezium writes it.
pub fn partition(topic_prefix: &str) -> Partition {
    velocity_api::source::server_partition(topic_prefix)
}

/// The task object.
pub struct MySqlSourceTask {
    reader: Option<ReaderHandle>,
    cfg: Option<Arc<MySqlConfig>>,
    partition: Partition,
    /// Debezium's streaming/snapshot metrics, kept across restarts in place.
    metrics: Arc<SourceMetrics>,
}

impl Default for MySqlSourceTask {
    fn default() -> Self {
        MySqlSourceTask {
            reader: None,
            cfg: None,
            partition: Partition::default(),
            metrics: Arc::new(SourceMetrics::new("mysql")),
        }
    }
}

#[async_trait]
impl SourceTask for MySqlSourceTask {
    async fn start(&mut self, config: &RawConfig, ctx: TaskContext) -> Result<()> {
        let cfg = MySqlConfig::from_raw(config).map_err(MySqlError::from)?;
        let cfg = Arc::new(cfg);
        self.partition = partition(&cfg.topic_prefix);
        let stored = ctx.offsets.offset(&self.partition);
        self.reader = Some(reader::spawn(
            cfg.clone(),
            self.partition.clone(),
            stored,
            self.metrics.clone(),
        ));
        self.cfg = Some(cfg);
        Ok(())
    }

    async fn poll(&mut self) -> Result<Vec<SourceRecord>> {
        let (Some(r), Some(cfg)) = (self.reader.as_mut(), self.cfg.as_ref()) else {
            return Err(ConnectError::fatal("poll before start"));
        };
        let batch = velocity_api::source::poll_reader(
            &mut r.rx,
            cfg.poll_interval,
            "the MySQL binlog reader",
        )
        .await;
        // the reader refills the queue while the task works on this batch
        self.metrics
            .queue_free(r.rx.capacity(), cfg.max_batch_size, cfg.max_queue_size);
        batch
    }

    async fn commit(&mut self, _offsets: &[(Partition, Offset)]) -> Result<()> {
        Ok(())
    }

    fn caught_up(&self) -> bool {
        self.reader.as_ref().is_some_and(|r| {
            r.rx.is_empty() && r.caught_up.load(std::sync::atomic::Ordering::Acquire)
        })
    }

    /// A batch of `max.batch.size` records: the reader had more ready.
    fn backlog(&self, batch_len: usize) -> bool {
        self.cfg.as_ref().map_or(
            batch_len >= velocity_api::connector::DEFAULT_FULL_BATCH,
            |cfg| batch_len >= cfg.max_batch_size,
        )
    }

    fn metrics(&self) -> Option<Arc<SourceMetrics>> {
        Some(self.metrics.clone())
    }

    async fn stop(&mut self) -> Result<()> {
        if let Some(r) = self.reader.take() {
            let _ = r.stop.send(true);
            let ReaderHandle { mut rx, join, .. } = r;
            rx.close();
            let _ = tokio::time::timeout(std::time::Duration::from_secs(5), join).await;
        }
        self.cfg = None;
        Ok(())
    }
}
