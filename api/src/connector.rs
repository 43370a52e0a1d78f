//! The traits a connector plugin implements.
//!
//! A *connector* is the configured job (one per REST `POST /connectors`); it
//! validates its configuration and splits the work into task configurations.
//! A *task* does the work. The runtime owns the loop around a task: it polls a
//! source task, converts and produces the records, stores the offsets Kafka
//! acknowledged and then tells the task ([`SourceTask::commit`]); for a sink
//! task it consumes, converts and calls [`SinkTask::put`], then
//! [`SinkTask::flush`], and commits consumer offsets only after that.

use std::sync::Arc;

use async_trait::async_trait;

use crate::config::RawConfig;
use crate::error::Result;
use crate::record::{Offset, Partition, SinkRecord, SourceRecord};

/// Read access to the offsets the runtime has durably stored for this
/// connector. Offsets only move forward while a task runs; a task reads them
/// at start to know where to resume.
pub trait OffsetReader: Send + Sync {
    /// The stored offset of `partition`, if any.
    fn offset(&self, partition: &Partition) -> Option<Offset>;
}

/// What the runtime tells a task about its place.
#[derive(Clone)]
pub struct TaskContext {
    /// The connector's name.
    pub connector: String,
    /// The task's number, from 0.
    pub task_id: u32,
    /// Stored offsets of this connector (source tasks; empty for sinks).
    pub offsets: Arc<dyn OffsetReader>,
}

/// A configured job. The runtime calls `start`, then `task_configs`, and
/// `stop` when the connector is stopped, deleted or reconfigured.
#[async_trait]
pub trait Connector: Send {
    /// Checks the configuration beyond what the plugin's [`crate::ConfigDef`]
    /// checks (cross-key rules, value formats). Returns `(dotted key, message)`
    /// pairs; empty when valid. Must not contact external systems.
    fn validate(&self, _config: &RawConfig) -> Vec<(String, String)> {
        Vec::new()
    }

    /// Starts the connector with its full configuration. May contact external
    /// systems to check they are reachable; an error here marks the connector
    /// FAILED with the message as the trace.
    async fn start(&mut self, config: &RawConfig) -> Result<()>;

    /// At most `max_tasks` task configurations. Called after `start`.
    async fn task_configs(&mut self, max_tasks: usize) -> Result<Vec<RawConfig>>;

    /// Stops the connector; must be idempotent.
    async fn stop(&mut self) -> Result<()>;
}

/// A connector whose tasks read from an external system.
pub trait SourceConnector: Connector {}

/// A connector whose tasks write to an external system.
pub trait SinkConnector: Connector {}

/// A polled batch of at least this many records shows a backlog unless the
/// task says otherwise ([`SourceTask::backlog`]): Debezium's default
/// `max.batch.size`.
pub const DEFAULT_FULL_BATCH: usize = 2048;

/// Reads from an external system in bounded batches.
///
/// Contract:
/// - `poll` returns at most the task's configured batch size and waits at
///   most about its poll interval when there is nothing to read, then returns
///   an empty batch (so the runtime can flush offsets and react to stop).
/// - Records are returned in source order; a record's `source_offset` is the
///   position after it, so storing it means "everything up to and including
///   this record is delivered".
/// - The task must not acknowledge anything to the source system (flush an
///   LSN, purge a file) until `commit` tells it which offsets are stored.
/// - After an error from `poll` the runtime stops the task; records returned
///   before the error and not acknowledged are delivered again after restart.
/// - Retriable errors (see [`crate::ErrorKind`]) from `start`, `poll` or
///   `commit` restart the task in place: the runtime calls `stop`, waits
///   (the retry policy's backoff) and calls `start` again on the same
///   object, which must then resume from the offset stored in `ctx`.
#[async_trait]
pub trait SourceTask: Send {
    /// Starts the task: connect, read the stored offset from `ctx`, resume.
    async fn start(&mut self, config: &RawConfig, ctx: TaskContext) -> Result<()>;

    /// The next batch; empty when idle.
    async fn poll(&mut self) -> Result<Vec<SourceRecord>>;

    /// `offsets` (per source partition, the newest) are acknowledged by Kafka
    /// and durably stored; the task may now release the source up to them.
    /// Called from the same task loop as `poll`, never concurrently.
    async fn commit(&mut self, _offsets: &[(Partition, Offset)]) -> Result<()> {
        Ok(())
    }

    /// Stops the task and releases connections; must be idempotent.
    async fn stop(&mut self) -> Result<()>;

    /// Whether the batch the last `poll` returned was everything the source
    /// had ready: the database reported nothing written after it (e.g. a
    /// PostgreSQL keepalive outside a transaction) and no further batch is
    /// queued in the task. The runtime then hands the batch to Kafka at once
    /// instead of lingering to fill a larger request (see the source loop in
    /// the runtime). Read right after `poll` returns; only a latency hint,
    /// never a correctness one. Default false: every batch may linger.
    fn caught_up(&self) -> bool {
        false
    }

    /// Whether the batch the last `poll` returned (`batch_len` records)
    /// shows a backlog: it is as large as this source makes its batches, so
    /// more is waiting. The runtime then goes back to lingering to fill
    /// large requests (see the source loop in the runtime). Read right after
    /// `poll` returns; only a throughput hint, never a correctness one.
    /// Default: [`DEFAULT_FULL_BATCH`] records or more; a source with its own
    /// batch size (Debezium's `max.batch.size`) answers with it.
    fn backlog(&self, batch_len: usize) -> bool {
        batch_len >= DEFAULT_FULL_BATCH
    }

    /// Debezium's streaming and snapshot metrics of this task, when it has
    /// them; the runtime exports them on `/metrics`. Read after `start`.
    fn metrics(&self) -> Option<std::sync::Arc<crate::SourceMetrics>> {
        None
    }
}

/// Writes to an external system.
///
/// Contract: `put` may buffer; `flush` must make everything passed to `put`
/// so far durable (or fail). The runtime commits consumer offsets only after a
/// successful `flush`, so after a crash records since the last flush are
/// delivered again: writes should be idempotent.
///
/// Retriable errors from `start`, `put` or `flush` restart the task in
/// place: the runtime calls `stop`, waits (the retry policy's backoff),
/// resumes consuming from the last committed offsets and calls `start`
/// again on the same object; records not yet flushed are delivered again.
#[async_trait]
pub trait SinkTask: Send {
    /// Starts the task.
    async fn start(&mut self, config: &RawConfig, ctx: TaskContext) -> Result<()>;

    /// Accepts a batch of records in Kafka order per partition.
    async fn put(&mut self, records: Vec<SinkRecord>) -> Result<()>;

    /// Makes all records accepted so far durable.
    async fn flush(&mut self) -> Result<()>;

    /// Stops the task and releases connections; must be idempotent.
    async fn stop(&mut self) -> Result<()>;
}
