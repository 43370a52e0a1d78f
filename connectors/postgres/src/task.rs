//! The PostgreSQL source task: starts the [`crate::reader`], hands its
//! batches to the runtime and forwards stored offsets back to it so the flush
//! LSN advances only over events that Kafka acknowledged and the runtime
//! stored.

use std::sync::Arc;

use async_trait::async_trait;
use velocity_api::{
    ConnectError, Offset, Partition, RawConfig, Result, SourceMetrics, SourceRecord, SourceTask,
    TaskContext, TypedConfig,
};

use crate::config::PostgresConfig;
use crate::error::PostgresError;
use crate::reader::{self, ReaderHandle};

/// The source partition of a connector: `{"server": "<topic.prefix>"}`, as Debezium writes it.
pub fn partition(topic_prefix: &str) -> Partition {
    velocity_api::source::server_partition(topic_prefix)
}

/// The task object.
pub struct PostgresSourceTask {
    reader: Option<ReaderHandle>,
    cfg: Option<Arc<PostgresConfig>>,
    partition: Partition,
    /// Debezium's streaming/snapshot metrics, kept across restarts in place.
    metrics: Arc<SourceMetrics>,
}

impl Default for PostgresSourceTask {
    fn default() -> Self {
        PostgresSourceTask {
            reader: None,
            cfg: None,
            partition: Partition::default(),
            metrics: Arc::new(SourceMetrics::new("postgres")),
        }
    }
}

#[async_trait]
impl SourceTask for PostgresSourceTask {
    async fn start(&mut self, config: &RawConfig, ctx: TaskContext) -> Result<()> {
        let cfg = Arc::new(PostgresConfig::from_raw(config).map_err(PostgresError::Config)?);
        self.partition = partition(&cfg.topic_prefix);
        let stored = ctx.offsets.offset(&self.partition);
        if let Some(o) = &stored {
            let n = |k: &str| o.get(k).map(ToString::to_string).unwrap_or_default();
            tracing::info!(
                connector = %ctx.connector,
                lsn_commit = %n("lsn_commit"),
                lsn_proc = %n("lsn_proc"),
                tx_id = %n("txId"),
                "resuming from the stored offset"
            );
        }
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
            "the PostgreSQL reader",
        )
        .await;
        // the reader refills the queue while the task works on this batch
        self.metrics
            .queue_free(r.rx.capacity(), cfg.max_batch_size, cfg.max_queue_size);
        batch
    }

    async fn commit(&mut self, offsets: &[(Partition, Offset)]) -> Result<()> {
        if let Some(r) = &self.reader {
            if let Some((_, o)) = offsets.iter().find(|(p, _)| *p == self.partition) {
                let _ = r.committed.send(Some(o.clone()));
            }
        }
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
        if let Some(cfg) = self.cfg.take() {
            if cfg.slot_drop_on_stop {
                if let Ok(mut c) =
                    crate::protocol::ReplicationConnection::connect(&cfg.connect).await
                {
                    if let Err(e) = c.drop_slot(&cfg.slot_name).await {
                        tracing::warn!(slot = %cfg.slot_name, error = %e, "slot.drop.on.stop: could not drop the slot");
                    }
                    c.close().await;
                }
            }
        }
        Ok(())
    }
}
