//! The sink task loop.
//!
//! Consumes in group `connect-<connector>`, converts key and value, runs the
//! transform chain and hands bounded batches to [`SinkTask::put`]. Every
//! `offset.flush.interval.ms` (and on pause and stop) it calls
//! [`SinkTask::flush`] and only after that succeeds commits the consumed
//! offsets, so a crash re-delivers at most what was not yet durably written
//! (at-least-once).
//!
//! A record that cannot be converted or transformed is handed to the
//! [`ErrorReporter`] (`errors.*` keys): it fails the task naming topic,
//! partition and offset (`errors.tolerance=none`), or is skipped and written
//! to the dead letter queue (`all`); dead-letter records are acknowledged
//! before the offsets past them are committed.
//!
//! Latency: a batch is handed to `put` as soon as the consumer has nothing
//! more ready (or [`POLL_WINDOW`] passed, or the batch is full); when it
//! ended that way — the task is caught up with its topics — the loop calls
//! [`SinkTask::flush`] right after `put`, so the records reach the database
//! at once instead of at the next `offset.flush.interval.ms` (a sink that
//! buffers, like the JDBC sink, keeps filling its batches while a backlog
//! drains). The consumer offsets are still committed on the interval only.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures::{FutureExt, StreamExt};
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::{BorrowedMessage, Headers};
use rdkafka::{Message, TopicPartitionList};
use velocity_api::config::ConfigExt;
use velocity_api::{ConnectError, ConnectRecord, Header, SinkRecord, SinkTask, Value};

use super::errors::{ErrorReporter, Failure, Stage};
use super::{build_converters, consumer_config, converter_class, TaskRuntime, TransformChain};
use crate::converters::Converter;
use crate::metrics::{TaskKind, TaskMetrics};
use crate::retry::{after_failure, Backoff, RetryPolicy};
use crate::status::{State, Status, TargetState};

/// How long one poll waits for a first record; later records of the batch
/// are only taken while the consumer has them ready.
const POLL_WINDOW: Duration = Duration::from_millis(200);

/// Runs a sink task until it is stopped or fails; publishes its state.
///
/// Retriable errors (from `start`, `put`, `flush` or the offset commit)
/// restart the task in place under the connector's [`RetryPolicy`] (see
/// [`crate::retry`]): the task is stopped, the consumer is made again and
/// resumes from the last committed offsets, and the task is started again,
/// so records not yet flushed are delivered again. The status stays
/// RUNNING meanwhile.
pub async fn run(mut task: Box<dyn SinkTask>, mut rt: TaskRuntime) {
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
    let metrics = TaskMetrics::new(&rt.task_ctx.connector, rt.task_ctx.task_id, TaskKind::Sink);
    let result = loop {
        let Err(e) = run_inner(task.as_mut(), &mut rt, &label, &mut backoff, &metrics).await else {
            break Ok(());
        };
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
        tracing::error!(task = %label, error = %e, "sink task failed");
    }
    if let Err(e) = task.stop().await {
        tracing::warn!(task = %label, error = %e, "sink task stop failed");
    }
    match result {
        Ok(()) => rt.status.set(Status::of(State::Unassigned)),
        Err(e) => rt.status.set(Status::failed(e.to_string())),
    }
}

async fn run_inner(
    task: &mut dyn SinkTask,
    rt: &mut TaskRuntime,
    label: &str,
    backoff: &mut Backoff,
    metrics: &TaskMetrics,
) -> Result<(), ConnectError> {
    let cc = rt.connector_config.clone();
    let (key_conv, value_conv) = build_converters(&rt.worker.config, &cc, &rt.registry)?;
    let join = |errs: Vec<(String, String)>| {
        ConnectError::fatal(
            errs.into_iter()
                .map(|(_, m)| m)
                .collect::<Vec<_>>()
                .join("; "),
        )
    };
    let mut chain = TransformChain::from_config(&rt.registry, &cc).map_err(join)?;
    // also refused at validation; a config that bypassed it must not lose records
    let stateful = chain.sink_errors();
    if !stateful.is_empty() {
        return Err(join(stateful));
    }
    let mut reporter = ErrorReporter::new(
        &rt.worker.config,
        &cc,
        &rt.task_ctx.connector,
        rt.task_ctx.task_id,
    )
    .await?;
    let key_class = converter_class(&rt.worker.config, &cc, "key");
    let value_class = converter_class(&rt.worker.config, &cc, "value");
    let max_records = cc.int_or("consumer.override.max.poll.records", 500, 1, 1_000_000)? as usize;
    let group = format!("connect-{}", rt.task_ctx.connector);
    let consumer: StreamConsumer = consumer_config(
        &rt.worker.config,
        &cc,
        &group,
        &format!("connector-consumer-{label}"),
    )
    .create()
    .map_err(|e| {
        ConnectError::fatal(format!(
            "invalid consumer configuration (check consumer.* keys): {e}"
        ))
    })?;
    let topics = cc.list("topics");
    if topics.is_empty() {
        let regex = cc.req_str("topics.regex")?;
        let pattern = if regex.starts_with('^') {
            regex.to_owned()
        } else {
            format!("^{regex}")
        };
        consumer
            .subscribe(&[pattern.as_str()])
            .map_err(|e| ConnectError::config("topics.regex", e.to_string()))?;
    } else {
        let refs: Vec<&str> = topics.iter().map(String::as_str).collect();
        consumer
            .subscribe(&refs)
            .map_err(|e| ConnectError::config("topics", e.to_string()))?;
    }
    task.start(&rt.task_config, rt.task_ctx.clone()).await?;
    let interval = rt.worker.config.offset_flush_interval;
    let mut last_flush = Instant::now();
    let mut pending: BTreeMap<(String, i32), i64> = BTreeMap::new();
    let mut stream = consumer.stream();
    // records read since the last commit (sink-record-active-count)
    let mut active = 0usize;
    loop {
        let target = *rt.control.borrow_and_update();
        match target {
            TargetState::Stopped => break,
            TargetState::Paused => {
                flush_and_commit(task, &consumer, &mut pending, &mut reporter, metrics).await?;
                rt.status.set(Status::of(State::Paused));
                if let Ok(assignment) = consumer.assignment() {
                    let _ = consumer.pause(&assignment);
                }
                if rt.control.changed().await.is_err() {
                    break;
                }
                if let Ok(assignment) = consumer.assignment() {
                    let _ = consumer.resume(&assignment);
                }
                continue;
            }
            TargetState::Started => rt.status.set(Status::of(State::Running)),
        }
        let mut batch = Vec::new();
        let mut read = 0usize;
        let deadline = tokio::time::Instant::now() + POLL_WINDOW;
        // the batch ended because nothing more was ready
        let mut caught_up = false;
        while batch.len() < max_records {
            let next = if read > 0 {
                // cancel-safe: an unready poll leaves the message queued
                match stream.next().now_or_never() {
                    Some(m) => Ok(m),
                    None => {
                        caught_up = true;
                        break;
                    }
                }
            } else {
                tokio::select! {
                    m = tokio::time::timeout_at(deadline, stream.next()) => m,
                    _ = rt.control.changed() => break,
                }
            };
            let msg = match next {
                Err(_) | Ok(None) => break,
                Ok(Some(Err(e))) => {
                    // librdkafka reports transient conditions (unknown topic
                    // before auto-creation, broker restarts) as consumer
                    // errors and recovers by itself; keep polling.
                    tracing::warn!(task = %label, error = %e, "consumer error; retrying");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    break;
                }
                Ok(Some(Ok(m))) => m,
            };
            read += 1;
            let (topic, partition, offset) =
                (msg.topic().to_owned(), msg.partition(), msg.offset());
            if let Ok(mut t) = rt.topics.lock() {
                if !t.contains(&topic) {
                    t.insert(topic.clone());
                }
            }
            pending.insert((topic.clone(), partition), offset + 1);
            let failed = match convert(&msg, key_conv.as_ref(), value_conv.as_ref()) {
                Ok(record) => match chain.apply_staged(record) {
                    Ok(Some(record)) => {
                        batch.push(SinkRecord {
                            record,
                            kafka_offset: offset,
                        });
                        None
                    }
                    Ok(None) => None,
                    Err((class_name, error)) => Some((Stage::Transformation, class_name, error)),
                },
                Err((Stage::KeyConverter, error)) => {
                    Some((Stage::KeyConverter, key_class.clone(), error))
                }
                Err((stage, error)) => Some((stage, value_class.clone(), error)),
            };
            if let Some((stage, class_name, error)) = failed {
                count_failure(metrics, reporter.config());
                let owned = msg.detach();
                drop(msg);
                let failure = Failure {
                    stage,
                    class_name,
                    error,
                    topic,
                    partition,
                    offset,
                };
                reporter.report(failure, &owned).await?;
            }
        }
        metrics.read(read);
        active += read;
        metrics.set_active(active);
        if !batch.is_empty() {
            let sent = batch.len();
            let started = Instant::now();
            task.put(batch).await?;
            metrics.put(sent, started.elapsed());
            if caught_up {
                // nothing more is ready: make it durable now (offsets are
                // committed on the interval)
                task.flush().await?;
            }
            // progress: a later error starts a new run of retries
            backoff.reset();
        }
        if last_flush.elapsed() >= interval {
            if let Ok(a) = consumer.assignment() {
                metrics.set_partition_count(a.count());
            }
            flush_and_commit(task, &consumer, &mut pending, &mut reporter, metrics).await?;
            active = 0;
            last_flush = Instant::now();
        }
    }
    drop(stream);
    flush_and_commit(task, &consumer, &mut pending, &mut reporter, metrics).await
}

/// Converts key and value; a failure names the converter stage.
fn convert(
    msg: &BorrowedMessage<'_>,
    key_conv: &dyn Converter,
    value_conv: &dyn Converter,
) -> Result<ConnectRecord, (Stage, ConnectError)> {
    let topic = msg.topic();
    let (key_schema, key) = key_conv
        .to_connect(topic, msg.key())
        .map_err(|e| (Stage::KeyConverter, e))?;
    let (value_schema, value) = value_conv
        .to_connect(topic, msg.payload())
        .map_err(|e| (Stage::ValueConverter, e))?;
    let mut record = ConnectRecord::new(topic, key_schema, key, value_schema, value);
    record.partition = Some(msg.partition());
    record.timestamp = msg.timestamp().to_millis();
    if let Some(hs) = msg.headers() {
        for h in hs.iter() {
            record.headers.push(Header {
                key: h.key.to_owned(),
                schema: None,
                value: h.value.map_or(Value::Null, |v| Value::Bytes(v.to_vec())),
            });
        }
    }
    Ok(record)
}

/// Counts a failed record in the task-error metrics as Kafka Connect's
/// `ErrorHandlingMetrics` does.
fn count_failure(metrics: &TaskMetrics, config: &super::errors::ErrorConfig) {
    metrics.total_record_errors.inc();
    metrics.total_record_failures.inc();
    metrics.error_now();
    if config.log_enable {
        metrics.total_errors_logged.inc();
    }
    if config.tolerance == super::errors::Tolerance::All {
        metrics.total_records_skipped.inc();
        if config.dlq_topic.is_some() {
            metrics.deadletterqueue_produce_requests.inc();
        }
    }
}

async fn flush_and_commit(
    task: &mut dyn SinkTask,
    consumer: &StreamConsumer,
    pending: &mut BTreeMap<(String, i32), i64>,
    reporter: &mut ErrorReporter,
    metrics: &TaskMetrics,
) -> Result<(), ConnectError> {
    if pending.is_empty() {
        return Ok(());
    }
    let started = Instant::now();
    let r = flush_and_commit_pending(task, consumer, pending, reporter).await;
    metrics.offset_commit(r.is_ok(), started.elapsed());
    r
}

async fn flush_and_commit_pending(
    task: &mut dyn SinkTask,
    consumer: &StreamConsumer,
    pending: &mut BTreeMap<(String, i32), i64>,
    reporter: &mut ErrorReporter,
) -> Result<(), ConnectError> {
    reporter.drain().await?;
    task.flush().await?;
    let mut tpl = TopicPartitionList::new();
    for ((t, p), o) in pending.iter() {
        tpl.add_partition_offset(t, *p, rdkafka::Offset::Offset(*o))
            .map_err(|e| ConnectError::fatal(format!("bad offset for {t}-{p}: {e}")))?;
    }
    consumer
        .commit(&tpl, CommitMode::Sync)
        .map_err(|e| ConnectError::retriable(format!("committing consumer offsets: {e}")))?;
    pending.clear();
    Ok(())
}
