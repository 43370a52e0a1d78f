//! The source task loop.
//!
//! Per iteration: `poll` a bounded batch, run the transform chain, convert
//! key and value, hand each record to the idempotent producer and remember
//! its delivery future together with its source offset, in order. Offsets are
//! committed only as far as every earlier record is acknowledged by Kafka:
//! the in-flight queue is drained from the front only, so a later record
//! acknowledged early never moves the stored offset past an unacknowledged
//! one. Every `offset.flush.interval.ms` (and on pause and stop) the
//! acknowledged offsets are written to the offset store and then passed to
//! [`SourceTask::commit`], which is when a database may be acknowledged.
//!
//! Stateful transforms (see [`Stager`]): records a transform holds (e.g. the
//! domain filter collapsing a transaction) do not enter the in-flight queue,
//! and while any transform holds records no offset is advanced at all — not
//! by records other transforms drop, nor by outputs released meanwhile. The
//! first output released once nothing is held carries the offset of the
//! input (or transaction-end marker) that released it, so a crash before it
//! is acknowledged replays every input it was made from. Transaction-end
//! markers ([`velocity_api::Control`]) go to the chain, never to Kafka.
//!
//! Backpressure: at most [`MAX_IN_FLIGHT`] records wait for acknowledgement;
//! beyond that, and whenever librdkafka's queue is full, the loop waits for
//! the oldest delivery before polling again.
//!
//! Latency: unless `linger.ms` is configured, a task has two idempotent
//! producers with the same settings, a *bulk* one (`linger.ms=100`: full
//! requests while a backlog drains, see [`super::producer_config`]) and an
//! *express* one (`linger.ms=0`). Batches go through the bulk producer until
//! the task reports itself caught up ([`SourceTask::caught_up`]: the batch
//! was everything the database had ready); from then on through the express
//! producer, until [`EXPRESS_PATIENCE`] *full* batches in a row (a backlog
//! again; the task says which batches are full: [`SourceTask::backlog`])
//! are not caught up. A small batch that is not caught up is live traffic
//! the database had not finished sending, not a backlog: it keeps the express
//! producer, so that a busy but keeping-up database does not flap between
//! the two producers. Before switching, the loop waits until every record
//! sent through the other producer is acknowledged, so records never
//! overtake each other: order per partition is kept across the switch (at
//! the price of waiting out the bulk producer's linger once, when a backlog
//! ends). A task that never reports itself caught up always lingers.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::FutureExt;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};
use velocity_api::config::ConfigExt;
use velocity_api::{
    ConnectError, ConnectRecord, Control, Offset, Partition, SourceRecord, SourceTask, Value,
};

use super::errors::{SourceErrorHandler, Stage};
use super::{
    admin_config, build_converters, converter_class, producer_settings, TaskRuntime, TransformChain,
};
use crate::metrics::{TaskKind, TaskMetrics};
use crate::retry::{after_failure, Backoff, RetryPolicy};
use crate::status::{State, Status, TargetState};

/// Most records waiting for a Kafka acknowledgement at once per task.
pub const MAX_IN_FLIGHT: usize = 100_000;

/// Full batches in a row that are not caught up after which a task in
/// express mode goes back to the lingering bulk producer. Above one, so that
/// a single full batch the database's idle report missed does not cost the
/// next caught-up batch a wait for the bulk producer's linger.
pub const EXPRESS_PATIENCE: u32 = 8;

/// Which of its two producers an adaptive task sends through (see the
/// module docs): the decision only, so that it can be tested alone.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct ExpressMode {
    /// Batches go through the express producer.
    on: bool,
    /// Full batches in a row that were not caught up, while `on`.
    slow: u32,
}

impl ExpressMode {
    /// Takes a polled (non-empty) batch that was `caught_up` or not and
    /// `full` (a backlog) or not; true when the task must switch producers
    /// before sending it (after every record sent so far is acknowledged).
    /// `on` is already the new mode.
    fn switch_for(&mut self, caught_up: bool, full: bool) -> bool {
        let switch = if caught_up {
            self.slow = 0;
            !self.on
        } else if self.on && full {
            self.slow += 1;
            self.slow >= EXPRESS_PATIENCE
        } else {
            // live traffic: a small batch breaks a run of full ones
            self.slow = 0;
            false
        };
        if switch {
            self.on = !self.on;
            self.slow = 0;
        }
        switch
    }
}

struct InFlight {
    delivery: Option<DeliveryFuture>,
    /// Commit time (µs since the epoch) of the source transaction whose
    /// last produced record this is, for [`TaskMetrics::commit_acked`].
    commit_us: Option<i64>,
    /// The source position stored once this and every earlier entry is
    /// acknowledged; None leaves the stored position as it is.
    position: Option<(Partition, Offset)>,
}

/// One entry for the in-flight queue: a record to produce (None: nothing to
/// produce, only a position to store once everything earlier is
/// acknowledged) and the source position it completes.
#[derive(Debug, Clone, PartialEq)]
pub struct Staged {
    /// The transformed record to produce, if any.
    pub record: Option<ConnectRecord>,
    /// The position stored once this entry and every earlier one are
    /// acknowledged; None for outputs that do not complete an input.
    pub position: Option<(Partition, Offset)>,
}

/// Runs source records through the transform chain and decides which source
/// position each output completes (the offset rule of this module):
///
/// - an input with an empty offset completes no position (its outputs and
///   any entry for it carry none);
/// - an input whose outputs leave no transform holding records completes
///   its position with its *last* output (earlier outputs of the same input
///   complete nothing, so the position is stored only once all are
///   acknowledged); with no output at all, an entry without a record
///   carries the position;
/// - while any transform holds records after an input, that input and its
///   outputs complete nothing: the stored position stays before the first
///   held input until the holding transform releases it;
/// - a transaction-end marker runs [`TransformChain::on_transaction_end`]
///   and is then treated as an input, so the collapsed outputs of a
///   transaction carry the marker's position (the transaction's end);
/// - an input (or transaction end) whose transform fails and whose failure
///   `tolerate` accepts (`errors.tolerance=all`) is treated as dropped: it
///   produces nothing and completes its position as above.
#[derive(Default)]
pub struct Stager {
    outs: Vec<ConnectRecord>,
    /// Keep a copy of each input for `tolerate` (costs a clone per record;
    /// only `errors.log.include.messages=true` needs it).
    pub keep_failed_inputs: bool,
}

/// Decides about a failed transform: its error fails the stage, Ok skips the
/// input (arguments: the error, the transform's class, the failed input).
type Tolerate<'a> =
    dyn FnMut(ConnectError, &str, Option<&ConnectRecord>) -> Result<(), ConnectError> + 'a;

impl Stager {
    /// Stages `sr`: pushes its in-flight entries to `entries`, in order. A
    /// transform failure goes to `tolerate` with the failing transform's
    /// class and the failed input (the input only when
    /// [`Stager::keep_failed_inputs`]; never for a transaction end): its
    /// error fails the stage, Ok skips the input.
    pub fn stage(
        &mut self,
        chain: &mut TransformChain,
        sr: SourceRecord,
        entries: &mut Vec<Staged>,
        tolerate: &mut Tolerate<'_>,
    ) -> Result<(), ConnectError> {
        let control = sr.control();
        let SourceRecord {
            source_partition,
            source_offset,
            record,
        } = sr;
        // an empty offset completes no position (see SourceRecord)
        let has_position = !source_offset.is_empty();
        if chain.is_empty() {
            entries.push(Staged {
                record: if control.is_some() {
                    None
                } else {
                    Some(record)
                },
                position: has_position.then_some((source_partition, source_offset)),
            });
            return Ok(());
        }
        self.outs.clear();
        let applied = match control {
            Some(Control::TransactionEnd { .. }) => chain
                .on_transaction_end(&mut self.outs)
                .map_err(|e| (e, None)),
            None => {
                let copy = self.keep_failed_inputs.then(|| record.clone());
                chain
                    .apply_many(record, &mut self.outs)
                    .map_err(|e| (e, copy))
            }
        };
        if let Err((e, failed)) = applied {
            tolerate(e, chain.failed_class(), failed.as_ref())?;
            self.outs.clear();
        }
        let advance = !chain.holds_records() && has_position;
        let n = self.outs.len();
        let mut position = advance.then_some((source_partition, source_offset));
        for (i, r) in self.outs.drain(..).enumerate() {
            entries.push(Staged {
                record: Some(r),
                position: if i + 1 == n { position.take() } else { None },
            });
        }
        if position.is_some() {
            entries.push(Staged {
                record: None,
                position,
            });
        }
        Ok(())
    }
}

/// Runs a source task until it is stopped or fails; publishes its state.
///
/// Retriable errors restart the task in place under the connector's
/// [`RetryPolicy`] (see [`crate::retry`]): records acknowledged before the
/// error have their offsets stored first, then the task is stopped and
/// started again, resuming from the stored offset. The status stays
/// RUNNING meanwhile.
pub async fn run(mut task: Box<dyn SourceTask>, mut rt: TaskRuntime) {
    let label = format!("{}-{}", rt.task_ctx.connector, rt.task_ctx.task_id);
    let policy = match RetryPolicy::from_config(&rt.connector_config) {
        Ok(p) => p,
        Err(errs) => {
            let msg: Vec<String> = errs.into_iter().map(|(_, m)| m).collect();
            rt.status.set(Status::failed(msg.join("; ")));
            return;
        }
    };
    let mut backoff = policy.start();
    let metrics = TaskMetrics::new(
        &rt.task_ctx.connector,
        rt.task_ctx.task_id,
        TaskKind::Source,
    );
    let result = loop {
        let attempt = match Loop::new(&rt, &label, metrics.clone()) {
            Ok(mut lp) => {
                let r = lp.run(task.as_mut(), &mut rt, &mut backoff).await;
                if matches!(&r, Err(e) if e.is_retriable()) {
                    lp.salvage(&rt).await;
                }
                r
            }
            Err(e) => Err(e),
        };
        let Err(e) = attempt else { break Ok(()) };
        match after_failure(
            &mut backoff,
            e,
            &label,
            &mut rt.control,
            &metrics,
            task.stop(),
        )
        .await
        {
            Ok(true) => continue,
            Ok(false) => break Ok(()),
            Err(e) => break Err(e),
        }
    };
    if let Err(e) = &result {
        tracing::error!(task = %label, error = %e, "source task failed");
    }
    if let Err(e) = task.stop().await {
        tracing::warn!(task = %label, error = %e, "source task stop failed");
    }
    match result {
        Ok(()) => rt.status.set(Status::of(State::Unassigned)),
        Err(e) => rt.status.set(Status::failed(e.to_string())),
    }
}

struct Loop {
    key_conv: Box<dyn crate::converters::Converter>,
    value_conv: Box<dyn crate::converters::Converter>,
    /// Configured classes of the converters, for error reports.
    key_class: String,
    value_class: String,
    /// `errors.tolerance` / `errors.log.*` for records that fail a transform
    /// or a converter.
    errors: SourceErrorHandler,
    chain: TransformChain,
    stager: Stager,
    staged: Vec<Staged>,
    /// The bulk producer (or the only one, when `linger.ms` is configured).
    producer: FutureProducer,
    /// The express producer (`linger.ms=0`) of an adaptive task.
    express: Option<FutureProducer>,
    /// Whether records go through `express` now.
    mode: ExpressMode,
    /// A record of the current source transaction went into the queue
    /// since the last transaction-end marker.
    txn_produced: bool,
    /// librdkafka's queue limit in bytes (`queue.buffering.max.kbytes`).
    queue_bytes: Option<usize>,
    /// Client settings, partitions and replication factor for topics
    /// created on first use (`topic.creation.default.*`).
    admin: Option<(rdkafka::ClientConfig, i32, i32)>,
    known_topics: HashSet<String>,
    in_flight: VecDeque<InFlight>,
    acked: Vec<(Partition, Offset)>,
    dirty: bool,
    /// Offsets stored but not yet passed to [`SourceTask::commit`].
    task_behind: bool,
    label: String,
    metrics: Arc<TaskMetrics>,
    /// Records handed to the producer in the current batch.
    written: usize,
}

fn kafka_err(what: &str, e: KafkaError) -> ConnectError {
    ConnectError::retriable(format!("{what}: {e}"))
}

impl Loop {
    fn new(rt: &TaskRuntime, label: &str, metrics: Arc<TaskMetrics>) -> Result<Loop, ConnectError> {
        let (key_conv, value_conv) =
            build_converters(&rt.worker.config, &rt.connector_config, &rt.registry)?;
        let errors = SourceErrorHandler::new(&rt.connector_config, label)?;
        let chain =
            TransformChain::from_config(&rt.registry, &rt.connector_config).map_err(|errs| {
                ConnectError::fatal(
                    errs.into_iter()
                        .map(|(_, m)| m)
                        .collect::<Vec<_>>()
                        .join("; "),
                )
            })?;
        let settings = producer_settings(
            &rt.worker.config,
            &rt.connector_config,
            &format!("connector-producer-{label}"),
        );
        let express = if settings.adaptive {
            Some(settings.express().create().map_err(|e| ConnectError::fatal(format!("invalid producer configuration (check producer.* and producer.override.* keys): {e}")))?)
        } else {
            None
        };
        let pc = settings.bulk;
        let queue_bytes = pc
            .get("queue.buffering.max.kbytes")
            .and_then(|k| k.trim().parse::<usize>().ok())
            .map(|k| k.saturating_mul(1024));
        let producer: FutureProducer = pc
            .create()
            .map_err(|e| ConnectError::fatal(format!("invalid producer configuration (check producer.* and producer.override.* keys): {e}")))?;
        let cc = &rt.connector_config;
        let admin = if rt
            .worker
            .config
            .raw
            .bool_or("topic.creation.enable", true)?
            && (cc.opt_str("topic.creation.default.partitions").is_some()
                || cc
                    .opt_str("topic.creation.default.replication.factor")
                    .is_some())
        {
            let partitions =
                cc.int_or("topic.creation.default.partitions", -1, -1, 100_000)? as i32;
            let rf = cc.int_or("topic.creation.default.replication.factor", -1, -1, 1000)? as i32;
            let admin = admin_config(&rt.worker.config, cc, &format!("connector-admin-{label}"));
            Some((admin, partitions, rf))
        } else {
            None
        };
        Ok(Loop {
            key_conv,
            value_conv,
            key_class: converter_class(&rt.worker.config, &rt.connector_config, "key"),
            value_class: converter_class(&rt.worker.config, &rt.connector_config, "value"),
            stager: Stager {
                keep_failed_inputs: errors.includes_messages(),
                ..Stager::default()
            },
            errors,
            chain,
            staged: Vec::new(),
            producer,
            express,
            mode: ExpressMode::default(),
            txn_produced: false,
            queue_bytes,
            admin,
            known_topics: HashSet::new(),
            in_flight: VecDeque::new(),
            acked: Vec::new(),
            dirty: false,
            task_behind: false,
            label: label.to_owned(),
            metrics,
            written: 0,
        })
    }

    async fn run(
        &mut self,
        task: &mut dyn SourceTask,
        rt: &mut TaskRuntime,
        backoff: &mut Backoff,
    ) -> Result<(), ConnectError> {
        task.start(&rt.task_config, rt.task_ctx.clone()).await?;
        self.metrics.set_source(task.metrics());
        let interval = rt.worker.config.offset_flush_interval;
        let mut last_flush = Instant::now();
        loop {
            let target = *rt.control.borrow_and_update();
            match target {
                TargetState::Stopped => break,
                TargetState::Paused => {
                    self.drain_all().await?;
                    self.commit(task, rt).await?;
                    rt.status.set(Status::of(State::Paused));
                    if rt.control.changed().await.is_err() {
                        break;
                    }
                    continue;
                }
                TargetState::Started => rt.status.set(Status::of(State::Running)),
            }
            let polling = Instant::now();
            let batch = {
                // While the task waits for data, acknowledgements keep
                // arriving: take them as they come and store the offsets on
                // schedule, so an idle source does not hold back offsets
                // for up to its poll interval. (`task.commit` waits until
                // `poll` returns: the poll future borrows the task.)
                let mut poll = task.poll();
                loop {
                    if self.in_flight.is_empty() {
                        break poll.await?;
                    }
                    tokio::select! {
                        biased;
                        r = &mut poll => break r?,
                        r = self.wait_oldest() => {
                            r?;
                            if last_flush.elapsed() >= interval {
                                self.store(rt).await?;
                                last_flush = Instant::now();
                            }
                        }
                    }
                }
            };
            if !batch.is_empty() {
                let full = task.backlog(batch.len());
                self.choose_producer(task.caught_up(), full).await?;
            }
            // transaction-end markers are Velocity's, not records
            let polled = batch.iter().filter(|r| r.control().is_none()).count();
            self.metrics.polled(polled, polling.elapsed());
            if !batch.is_empty() {
                // progress: a later error starts a new run of retries
                backoff.reset();
            }
            self.written = 0;
            let mut records = batch.into_iter().peekable();
            while let Some(record) = records.next() {
                // Without transforms only the last record of a run of records
                // from one source partition keeps its position in the queue:
                // storing an earlier offset is always safe (duplicates after a
                // crash, never loss) and keeps the queue small. With a chain the
                // Stager's rule decides alone (a stateful transform may hold the
                // records that would carry the later position).
                let keep_position = !self.chain.is_empty()
                    || records.peek().is_none_or(|next| {
                        next.source_offset.is_empty()
                            || next.source_partition != record.source_partition
                    });
                self.send(record, keep_position, rt).await?;
            }
            self.reap()?;
            self.metrics.written(self.written);
            self.metrics.set_active(self.in_flight.len());
            if last_flush.elapsed() >= interval {
                self.store(rt).await?;
                last_flush = Instant::now();
            }
            // Offsets stored while `poll` was pending (see above) reach the
            // task now, not at the next flush: a source that polls more
            // often than the flush interval (heartbeats on an idle
            // database) would otherwise never learn of them, and never
            // acknowledge its database.
            self.tell_task(task).await?;
        }
        if self.chain.holds_records() {
            tracing::warn!(task = %self.label, "a transform still holds records of an unfinished transaction at shutdown; their offsets are not stored and the source sends them again after a restart");
        }
        let deadline = rt
            .worker
            .config
            .task_shutdown_timeout
            .max(Duration::from_secs(1));
        match tokio::time::timeout(deadline, self.drain_all()).await {
            Ok(r) => r?,
            Err(_) => {
                tracing::warn!(task = %self.label, pending = self.in_flight.len(), "records still unacknowledged at shutdown; their offsets are not stored and they will be sent again")
            }
        }
        self.commit(task, rt).await
    }

    /// Picks the producer for the next batch (see the module docs): express
    /// once the task is caught up, bulk again after [`EXPRESS_PATIENCE`]
    /// full batches that are not; everything sent through the other
    /// producer is acknowledged before the switch.
    async fn choose_producer(&mut self, caught_up: bool, full: bool) -> Result<(), ConnectError> {
        if self.express.is_none() {
            return Ok(());
        }
        if self.mode.switch_for(caught_up, full) {
            // nothing sent through the other producer may be overtaken
            self.drain_all().await?;
            tracing::debug!(task = %self.label, express = self.mode.on, "source producer switched");
        }
        Ok(())
    }

    async fn send(
        &mut self,
        sr: SourceRecord,
        keep_position: bool,
        rt: &TaskRuntime,
    ) -> Result<(), ConnectError> {
        let commit_us = sr.commit_time_us();
        let mut staged = std::mem::take(&mut self.staged);
        let errors = &self.errors;
        let staged_result =
            self.stager
                .stage(&mut self.chain, sr, &mut staged, &mut |e, class, r| {
                    errors.handle(Stage::Transformation, class, e, r)
                });
        if let Err(e) = staged_result {
            self.staged = staged;
            return Err(e);
        }
        if !keep_position {
            for entry in staged.iter_mut() {
                entry.position = None;
            }
        }
        let mut result = Ok(());
        for entry in staged.drain(..) {
            result = self.send_one(entry, rt).await;
            if result.is_err() {
                break;
            }
        }
        staged.clear();
        self.staged = staged;
        if let Some(t) = commit_us {
            // the transaction's last produced record (a transform may have
            // released it only now, at the marker) carries its commit time
            if std::mem::take(&mut self.txn_produced) {
                if let Some(last) = self
                    .in_flight
                    .iter_mut()
                    .rev()
                    .find(|f| f.delivery.is_some())
                {
                    last.commit_us = Some(t);
                }
            }
        }
        result
    }

    async fn send_one(&mut self, entry: Staged, rt: &TaskRuntime) -> Result<(), ConnectError> {
        let Staged { record, position } = entry;
        if record.is_none() && position.is_none() {
            // nothing to produce and no position to store (a control record
            // whose position a later record of its batch carries)
            return Ok(());
        }
        let delivery = match record {
            None => None,
            Some(rec) => {
                if !self.known_topics.contains(&rec.topic) {
                    self.new_topic(&rec.topic, rt).await?;
                }
                let converted = self
                    .key_conv
                    .from_connect(&rec.topic, rec.key_schema.as_deref(), &rec.key)
                    .map_err(|e| (Stage::KeyConverter, "key", e))
                    .and_then(|key| {
                        self.value_conv
                            .from_connect(&rec.topic, rec.value_schema.as_deref(), &rec.value)
                            .map(|value| (key, value))
                            .map_err(|e| (Stage::ValueConverter, "value", e))
                    });
                let (key, value) = match converted {
                    Ok(kv) => kv,
                    Err((stage, side, e)) => {
                        let class = match stage {
                            Stage::KeyConverter => &self.key_class,
                            _ => &self.value_class,
                        };
                        // the kind is kept: a schema registry that is down is retriable
                        let e = ConnectError::Other {
                            kind: e.kind(),
                            message: format!(
                                "Error converting record {side} for topic {}: {e}",
                                rec.topic
                            ),
                            source: Some(Box::new(e)),
                        };
                        self.errors.handle(stage, class, e, Some(&rec))?;
                        // skipped (errors.tolerance=all): its position is
                        // still stored in order
                        self.push_in_flight(None, position).await?;
                        return Ok(());
                    }
                };
                let mut headers = None;
                if !rec.headers.is_empty() {
                    let mut h = OwnedHeaders::new_with_capacity(rec.headers.len());
                    for hd in &rec.headers {
                        let bytes = header_bytes(&hd.value);
                        h = h.insert(Header {
                            key: &hd.key,
                            value: bytes.as_deref(),
                        });
                    }
                    headers = Some(h);
                }
                let size = key.as_ref().map_or(0, Vec::len) + value.as_ref().map_or(0, Vec::len);
                if let Some(limit) = self.queue_bytes.filter(|&l| size > l) {
                    // it would never fit: librdkafka would report QueueFull forever
                    return Err(ConnectError::fatal(format!(
                        "a record of {size} bytes for topic {} is larger than the producer queue ({limit} bytes): raise producer.queue.buffering.max.kbytes (worker) or producer.override.queue.buffering.max.kbytes (connector)",
                        rec.topic
                    )));
                }
                loop {
                    let mut fr: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(&rec.topic);
                    if let Some(k) = &key {
                        fr = fr.key(k.as_slice());
                    }
                    if let Some(v) = &value {
                        fr = fr.payload(v.as_slice());
                    }
                    if let Some(p) = rec.partition {
                        fr = fr.partition(p);
                    }
                    if let Some(ts) = rec.timestamp {
                        fr = fr.timestamp(ts);
                    }
                    if let Some(h) = &headers {
                        fr = fr.headers(h.clone());
                    }
                    let producer = match &self.express {
                        Some(express) if self.mode.on => express,
                        _ => &self.producer,
                    };
                    match producer.send_result(fr) {
                        Ok(f) => {
                            self.written += 1;
                            break Some(f);
                        }
                        Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                            if !self.wait_oldest().await? {
                                tokio::time::sleep(Duration::from_millis(1)).await;
                            }
                        }
                        Err((e, _)) => {
                            return Err(kafka_err(&format!("producing to {}", rec.topic), e))
                        }
                    }
                }
            }
        };
        self.push_in_flight(delivery, position).await
    }

    /// Queues one delivery (None: nothing produced) with the position it
    /// completes; waits for the oldest when the queue is full.
    async fn push_in_flight(
        &mut self,
        delivery: Option<DeliveryFuture>,
        position: Option<(Partition, Offset)>,
    ) -> Result<(), ConnectError> {
        self.txn_produced |= delivery.is_some();
        self.in_flight.push_back(InFlight {
            delivery,
            position,
            commit_us: None,
        });
        if self.in_flight.len() >= MAX_IN_FLIGHT {
            self.wait_oldest().await?;
        }
        Ok(())
    }

    async fn new_topic(&mut self, topic: &str, rt: &TaskRuntime) -> Result<(), ConnectError> {
        if let Some((admin, partitions, rf)) = &self.admin {
            crate::kafka_log::ensure_topic(
                admin,
                &crate::kafka_log::TopicSpec::new(topic, *partitions, *rf),
                "create it by hand or fix topic.creation.default.* settings",
            )
            .await
            .map_err(crate::kafka_log::connect_error)?;
        }
        if let Ok(mut t) = rt.topics.lock() {
            t.insert(topic.to_owned());
        }
        self.known_topics.insert(topic.to_owned());
        Ok(())
    }

    fn record_ack(&mut self, f: InFlight) {
        if let Some(t) = f.commit_us {
            let now_us = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_micros() as i64);
            self.metrics.commit_acked(now_us - t);
        }
        let Some((partition, offset)) = f.position else {
            return;
        };
        self.dirty = true;
        match self.acked.iter_mut().find(|(p, _)| *p == partition) {
            Some(slot) => slot.1 = offset,
            None => self.acked.push((partition, offset)),
        }
    }

    /// Pops every leading in-flight record that is already acknowledged.
    fn reap(&mut self) -> Result<(), ConnectError> {
        while let Some(front) = self.in_flight.front_mut() {
            let done = match front.delivery.as_mut() {
                None => true,
                Some(f) => match f.now_or_never() {
                    None => false,
                    Some(r) => {
                        check_delivery(r)?;
                        true
                    }
                },
            };
            if !done {
                break;
            }
            if let Some(f) = self.in_flight.pop_front() {
                self.record_ack(f);
            }
        }
        Ok(())
    }

    /// Waits for the oldest in-flight record's acknowledgement, then takes it
    /// and every acknowledged one after it off the queue; false when nothing
    /// is in flight. Cancel-safe: nothing leaves the queue before the wait
    /// completes, and nothing is awaited after that.
    async fn wait_oldest(&mut self) -> Result<bool, ConnectError> {
        let Some(front) = self.in_flight.front_mut() else {
            return Ok(false);
        };
        if let Some(d) = front.delivery.as_mut() {
            check_delivery(d.await)?;
            front.delivery = None;
        }
        self.reap()?;
        Ok(true)
    }

    /// After a retriable error: waits a bounded time for the records already
    /// sent and stores the offsets they complete, so the restarted task
    /// resumes as late as possible. Failures only shorten what is stored.
    async fn salvage(&mut self, rt: &TaskRuntime) {
        let limit = Duration::from_secs(10);
        match tokio::time::timeout(limit, self.drain_all()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::warn!(task = %self.label, error = %e, "could not wait for the records in flight before the restart; they are sent again")
            }
            Err(_) => {
                tracing::warn!(task = %self.label, pending = self.in_flight.len(), "records in flight not acknowledged within 10 s before the restart; they are sent again")
            }
        }
        if let Err(e) = self.store(rt).await {
            tracing::warn!(task = %self.label, error = %e, "could not store offsets before the restart");
        }
    }

    async fn drain_all(&mut self) -> Result<(), ConnectError> {
        while self.wait_oldest().await? {}
        Ok(())
    }

    /// Writes the acknowledged offsets to the offset store, if any changed.
    async fn store(&mut self, rt: &TaskRuntime) -> Result<(), ConnectError> {
        self.reap()?;
        if !self.dirty {
            return Ok(());
        }
        let entries: Vec<(Partition, Option<Offset>)> = self
            .acked
            .iter()
            .map(|(p, o)| (p.clone(), Some(o.clone())))
            .collect();
        let store = rt.offsets.clone();
        let name = rt.task_ctx.connector.clone();
        let started = Instant::now();
        let stored = tokio::task::spawn_blocking(move || store.put(&name, &entries))
            .await
            .map_err(|e| ConnectError::fatal(format!("offset store task panicked: {e}")))?
            .map_err(|e| ConnectError::retriable(format!("could not store offsets: {e}")));
        self.metrics
            .offset_commit(stored.is_ok(), started.elapsed());
        stored?;
        self.dirty = false;
        self.task_behind = true;
        Ok(())
    }

    /// Stores the acknowledged offsets, then tells the task (which may then
    /// acknowledge its database).
    async fn commit(
        &mut self,
        task: &mut dyn SourceTask,
        rt: &TaskRuntime,
    ) -> Result<(), ConnectError> {
        self.store(rt).await?;
        self.tell_task(task).await
    }

    /// Hands the stored offsets to the task ([`SourceTask::commit`]) if it
    /// has not seen them yet.
    async fn tell_task(&mut self, task: &mut dyn SourceTask) -> Result<(), ConnectError> {
        if self.task_behind {
            task.commit(&self.acked).await?;
            self.task_behind = false;
        }
        Ok(())
    }
}

fn check_delivery(
    r: Result<
        rdkafka::producer::future_producer::OwnedDeliveryResult,
        futures::channel::oneshot::Canceled,
    >,
) -> Result<(), ConnectError> {
    match r {
        Ok(Ok(_)) => Ok(()),
        Ok(Err((e, m))) => {
            use rdkafka::Message;
            let message = format!(
                "Unrecoverable exception from producer send callback for topic {}: {e}",
                m.topic()
            );
            // what a new producer can get through (the broker restarting or
            // answering with a transient error) restarts the task in place,
            // from the stored offsets; records that can never be written fail it
            Err(if delivery_retriable(&e) {
                ConnectError::retriable(message)
            } else {
                ConnectError::fatal(message)
            })
        }
        Err(_) => Err(ConnectError::fatal("producer dropped a delivery report")),
    }
}

/// Whether a failed delivery may succeed from a new producer: every error
/// but those about the record itself, its topic or permissions.
fn delivery_retriable(e: &KafkaError) -> bool {
    use RDKafkaErrorCode as C;
    let Some(code) = e.rdkafka_error_code() else {
        return true;
    };
    !matches!(
        code,
        C::MessageSizeTooLarge
            | C::InvalidMessageSize
            | C::InvalidMessage
            | C::InvalidRecord
            | C::MessageBatchTooLarge
            | C::InvalidTopic
            | C::TopicAuthorizationFailed
            | C::ClusterAuthorizationFailed
            | C::TransactionalIdAuthorizationFailed
            | C::SaslAuthenticationFailed
            | C::UnsupportedVersion
            | C::UnsupportedForMessageFormat
            | C::InvalidRequiredAcks
            | C::PolicyViolation
    )
}

/// Header values as Kafka Connect's SimpleHeaderConverter writes them:
/// strings as UTF-8, bytes raw, numbers and booleans as their text.
fn header_bytes(v: &Value) -> Option<Vec<u8>> {
    Some(match v {
        Value::Null => return None,
        Value::String(s) => s.as_bytes().to_vec(),
        Value::Bytes(b) => b.clone(),
        Value::Boolean(b) => b.to_string().into_bytes(),
        other => match other.as_i64() {
            Some(i) => i.to_string().into_bytes(),
            None => format!("{other:?}").into_bytes(),
        },
    })
}

#[cfg(test)]
mod offset_rule_tests {
    //! The offset rule with a fake source task and fake transforms: a
    //! simulated crash after any acknowledged prefix of the in-flight queue
    //! must never have stored a position beyond an input whose outputs are
    //! not all acknowledged.

    use std::collections::VecDeque;

    use async_trait::async_trait;
    use velocity_api::{
        ConfigDef, PluginDesc, PluginKind, PluginRegistry, RawConfig, TaskContext, Transform,
    };

    use super::*;

    /// Emits its scripted batches, then empty ones.
    struct FakeTask {
        batches: VecDeque<Vec<SourceRecord>>,
    }

    #[async_trait]
    impl SourceTask for FakeTask {
        async fn start(&mut self, _: &RawConfig, _: TaskContext) -> Result<(), ConnectError> {
            Ok(())
        }
        async fn poll(&mut self) -> Result<Vec<SourceRecord>, ConnectError> {
            Ok(self.batches.pop_front().unwrap_or_default())
        }
        async fn stop(&mut self) -> Result<(), ConnectError> {
            Ok(())
        }
    }

    /// Holds every record until the transaction ends, then emits one record
    /// naming the topics it collapsed (`a+b`); emits nothing for topics
    /// starting with `cancel`.
    #[derive(Default)]
    struct Collapse(Vec<ConnectRecord>);
    impl Transform for Collapse {
        fn configure(&mut self, _: &RawConfig) -> Result<(), ConnectError> {
            Ok(())
        }
        fn apply(&mut self, r: ConnectRecord) -> Result<Option<ConnectRecord>, ConnectError> {
            Ok(Some(r))
        }
        fn apply_many(
            &mut self,
            r: ConnectRecord,
            _: &mut Vec<ConnectRecord>,
        ) -> Result<(), ConnectError> {
            self.0.push(r);
            Ok(())
        }
        fn on_transaction_end(&mut self, out: &mut Vec<ConnectRecord>) -> Result<(), ConnectError> {
            let held = std::mem::take(&mut self.0);
            if held.is_empty() || held.iter().any(|r| r.topic.starts_with("cancel")) {
                return Ok(());
            }
            let name: Vec<&str> = held.iter().map(|r| r.topic.as_str()).collect();
            out.push(ConnectRecord::new(
                name.join("+"),
                None,
                Value::Null,
                None,
                Value::Null,
            ));
            Ok(())
        }
        fn holds_records(&self) -> bool {
            !self.0.is_empty()
        }
    }

    /// Drops records whose topic starts with `drop`; splits `split` in two.
    struct DropSplit;
    impl Transform for DropSplit {
        fn configure(&mut self, _: &RawConfig) -> Result<(), ConnectError> {
            Ok(())
        }
        fn apply(&mut self, r: ConnectRecord) -> Result<Option<ConnectRecord>, ConnectError> {
            Ok((!r.topic.starts_with("drop")).then_some(r))
        }
        fn apply_many(
            &mut self,
            r: ConnectRecord,
            out: &mut Vec<ConnectRecord>,
        ) -> Result<(), ConnectError> {
            if r.topic == "split" {
                out.push(ConnectRecord::new(
                    "split1",
                    None,
                    Value::Null,
                    None,
                    Value::Null,
                ));
                out.push(ConnectRecord::new(
                    "split2",
                    None,
                    Value::Null,
                    None,
                    Value::Null,
                ));
                return Ok(());
            }
            if let Some(r) = self.apply(r)? {
                out.push(r);
            }
            Ok(())
        }
    }

    fn chain(transforms: &str) -> TransformChain {
        let registry = PluginRegistry::new()
            .register(PluginDesc {
                class: "test.Collapse",
                aliases: &[],
                version: "1",
                config_def: ConfigDef::default,
                kind: PluginKind::Transform(|| Box::<Collapse>::default()),
            })
            .register(PluginDesc {
                class: "test.DropSplit",
                aliases: &[],
                version: "1",
                config_def: ConfigDef::default,
                kind: PluginKind::Transform(|| Box::new(DropSplit)),
            });
        let mut c = RawConfig::new();
        if !transforms.is_empty() {
            c.insert("transforms".into(), transforms.into());
            for t in transforms.split(',') {
                let class = if t.starts_with("collapse") {
                    "test.Collapse"
                } else {
                    "test.DropSplit"
                };
                c.insert(format!("transforms.{t}.type"), class.into());
            }
        }
        TransformChain::from_config(&registry, &c).expect("chain")
    }

    fn partition() -> Partition {
        velocity_api::source::server_partition("fake")
    }

    fn at(n: i64) -> Offset {
        let mut o = Offset::new();
        o.insert("n".into(), n.into());
        o
    }

    /// Input `n` for `topic`; position `n`.
    fn rec(topic: &str, n: i64) -> SourceRecord {
        SourceRecord {
            source_partition: partition(),
            source_offset: at(n),
            record: ConnectRecord::new(topic, None, Value::Null, None, Value::Null),
        }
    }

    fn end(n: i64) -> SourceRecord {
        SourceRecord::transaction_end(partition(), at(n), Some(format!("tx{n}")))
    }

    /// Polls the fake task dry and stages every record.
    fn run(chain: &mut TransformChain, batches: Vec<Vec<SourceRecord>>) -> Vec<Staged> {
        let mut task = FakeTask {
            batches: batches.into(),
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("rt");
        let mut stager = Stager::default();
        let mut entries = Vec::new();
        loop {
            let batch = rt.block_on(task.poll()).expect("poll");
            if batch.is_empty() {
                break;
            }
            for r in batch {
                stager
                    .stage(chain, r, &mut entries, &mut |e, _, _| Err(e))
                    .expect("stage");
            }
        }
        entries
    }

    /// The position stored after a crash once the first `k` entries are
    /// acknowledged (what `record_ack` keeps).
    fn stored_after(entries: &[Staged], k: usize) -> Option<i64> {
        entries[..k]
            .iter()
            .rev()
            .find_map(|e| e.position.as_ref())
            .map(|(_, o)| o["n"].as_i64().expect("n"))
    }

    fn summary(entries: &[Staged]) -> Vec<(Option<String>, Option<i64>)> {
        entries
            .iter()
            .map(|e| {
                (
                    e.record.as_ref().map(|r| r.topic.clone()),
                    e.position
                        .as_ref()
                        .map(|(_, o)| o["n"].as_i64().expect("n")),
                )
            })
            .collect()
    }

    fn some(t: &str) -> Option<String> {
        Some(t.to_owned())
    }

    #[test]
    fn express_mode_starts_bulk_goes_express_when_caught_up_and_back_after_patience() {
        let mut m = ExpressMode::default();
        // a backlog: stays bulk
        for _ in 0..20 {
            assert!(!m.switch_for(false, true));
            assert!(!m.on);
        }
        // caught up: switches once
        assert!(m.switch_for(true, false));
        assert!(m.on);
        assert!(!m.switch_for(true, false));
        // single full batches between caught-up ones never switch back
        for _ in 0..50 {
            for _ in 0..EXPRESS_PATIENCE - 1 {
                assert!(!m.switch_for(false, true));
            }
            assert!(!m.switch_for(true, false));
            assert!(m.on);
        }
        // live traffic the database had not finished sending (small
        // batches, not caught up) keeps the express producer, however long
        for _ in 0..500 {
            assert!(!m.switch_for(false, false));
            assert!(m.on);
        }
        // and breaks a run of full batches
        for _ in 0..50 {
            for _ in 0..EXPRESS_PATIENCE - 1 {
                assert!(!m.switch_for(false, true));
            }
            assert!(!m.switch_for(false, false));
            assert!(m.on);
        }
        // a backlog again: back to bulk at the patience-th full batch
        for _ in 0..EXPRESS_PATIENCE - 1 {
            assert!(!m.switch_for(false, true));
        }
        assert!(m.switch_for(false, true));
        assert!(!m.on);
        assert!(!m.switch_for(false, true));
        assert!(!m.switch_for(false, false));
        assert!(!m.on);
    }

    #[test]
    fn empty_chain_keeps_one_entry_per_record_and_skips_markers() {
        let mut c = chain("");
        let e = run(&mut c, vec![vec![rec("a", 1), rec("b", 2)], vec![end(2)]]);
        assert_eq!(
            summary(&e),
            [(some("a"), Some(1)), (some("b"), Some(2)), (None, Some(2))]
        );
    }

    /// Input for `topic` that completes no position of its own.
    fn unpositioned(topic: &str) -> SourceRecord {
        SourceRecord {
            source_partition: Partition::new(),
            source_offset: Offset::new(),
            record: ConnectRecord::new(topic, None, Value::Null, None, Value::Null),
        }
    }

    #[test]
    fn empty_offsets_complete_no_position() {
        let mut c = chain("");
        let e = run(
            &mut c,
            vec![vec![unpositioned("a"), unpositioned("b"), rec("c", 3)]],
        );
        assert_eq!(
            summary(&e),
            [(some("a"), None), (some("b"), None), (some("c"), Some(3))]
        );
        assert_eq!(stored_after(&e, 2), None);
        // through a chain, too: the dropping stage passes "a" on unchanged
        let mut c = chain("ds");
        let e = run(&mut c, vec![vec![rec("a", 1), unpositioned("b")]]);
        assert_eq!(summary(&e), [(some("a"), Some(1)), (some("b"), None)]);
        assert_eq!(stored_after(&e, 2), Some(1));
    }

    #[test]
    fn held_inputs_do_not_enter_the_queue_and_the_output_carries_the_end() {
        let mut c = chain("collapse");
        let e = run(
            &mut c,
            vec![vec![rec("a", 1), rec("b", 2)], vec![rec("c", 3), end(3)]],
        );
        assert_eq!(summary(&e), [(some("a+b+c"), Some(3))]);
        // nothing acknowledged: nothing stored; the whole transaction replays
        assert_eq!(stored_after(&e, 0), None);
        assert_eq!(stored_after(&e, 1), Some(3));
    }

    #[test]
    fn a_cancelled_transaction_still_advances_at_its_end() {
        let mut c = chain("collapse");
        let e = run(&mut c, vec![vec![rec("cancel", 1), rec("x", 2), end(2)]]);
        assert_eq!(summary(&e), [(None, Some(2))]);
    }

    #[test]
    fn records_dropped_while_another_stage_holds_do_not_advance() {
        // drop runs first: "drop" inputs never reach the collapsing stage,
        // but they arrive while it holds "a"
        let mut c = chain("ds,collapse");
        let e = run(
            &mut c,
            vec![
                vec![rec("a", 1), rec("drop1", 2), rec("drop2", 3)],
                vec![end(4)],
            ],
        );
        assert_eq!(summary(&e), [(some("a"), Some(4))]);
        // without anything held, a dropped record advances as before
        let mut c = chain("ds,collapse");
        let e = run(&mut c, vec![vec![rec("drop1", 1)]]);
        assert_eq!(summary(&e), [(None, Some(1))]);
    }

    #[test]
    fn several_outputs_complete_the_input_only_with_the_last() {
        let mut c = chain("ds");
        let e = run(
            &mut c,
            vec![vec![rec("a", 1), rec("split", 2), rec("b", 3)]],
        );
        assert_eq!(
            summary(&e),
            [
                (some("a"), Some(1)),
                (some("split1"), None),
                (some("split2"), Some(2)),
                (some("b"), Some(3)),
            ]
        );
        // split1 acknowledged but not split2: position 2 is not stored yet
        assert_eq!(stored_after(&e, 2), Some(1));
    }

    #[test]
    fn a_crash_at_any_point_never_stores_past_an_unacknowledged_input() {
        // inputs → the entries that carry them; a stored position p means
        // every input <= p has all its outputs acknowledged
        let mut c = chain("ds,collapse");
        let batches = vec![
            vec![rec("a", 1), rec("split", 2), end(2)],
            vec![rec("drop", 3), end(3)],
            vec![rec("cancel", 4), rec("b", 5)],
            vec![end(5), rec("c", 6), rec("d", 7)],
            vec![end(7)],
        ];
        let e = run(&mut c, batches);
        assert_eq!(
            summary(&e),
            [
                (some("a+split1+split2"), Some(2)),
                // the dropped record, with nothing held, then its marker
                (None, Some(3)),
                (None, Some(3)),
                (None, Some(5)),
                (some("c+d"), Some(7)),
            ]
        );
        // the inputs each entry was made from, by position
        let made_from: [&[i64]; 5] = [&[1, 2], &[3], &[], &[4, 5], &[6, 7]];
        for k in 0..=e.len() {
            let stored = stored_after(&e, k).unwrap_or(0);
            for (j, inputs) in made_from.iter().enumerate() {
                if j >= k {
                    assert!(
                        inputs.iter().all(|&i| i > stored),
                        "after {k} acks, stored {stored} covers input of unacknowledged entry {j}"
                    );
                }
            }
        }
    }
}
