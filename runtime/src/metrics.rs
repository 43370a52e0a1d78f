//! The worker's metrics, served as Prometheus text on `GET /metrics`.
//!
//! Names map one to one onto Kafka Connect's MBeans and Debezium's
//! streaming/snapshot MBeans (the README lists each metric next to the MBean
//! attribute it mirrors):
//!
//! - Kafka Connect: `kafka.connect:type=<group>,connector=…,task=…`
//!   attribute `<attr>` becomes `kafka_connect_<group>_<attr>` with `-`
//!   turned into `_` and the key properties as labels, e.g.
//!   `kafka_connect_source_task_metrics_source_record_poll_total{connector="inventory",task="0"}`
//!   (the names the Strimzi / Confluent JMX-exporter rules produce).
//! - Debezium: `debezium.<plugin>:type=connector-metrics,context=<ctx>,server=<name>`
//!   attribute `<Attr>` becomes `debezium_metrics_<Attr>{plugin,context,name,connector,task}`
//!   (the names of Debezium's own JMX-exporter example), e.g.
//!   `debezium_metrics_MilliSecondsBehindSource{plugin="postgres",context="streaming",name="dbserver1",connector="inventory",task="0"}`;
//!   `RowsScanned` (a per-table map in JMX) gets a `table` label.
//!
//! Windowed statistics (`*-rate`, `*-avg`, `*-max`, `*-percentage`) are
//! computed as Kafka's metrics library does with its defaults
//! (`metrics.num.samples=2`, `metrics.sample.window.ms=30000`); an average
//! or maximum with no sample in the window is NaN, as in Kafka.
//!
//! The registry is process-wide, like the JVM's platform MBean server.
//! Task loops hold a [`TaskMetrics`] (counters are lock-free atomics; the
//! windowed statistics take a short mutex once per batch, never per record).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, Weak};
use std::time::{Duration, Instant};

use prometheus::{
    Encoder, GaugeVec, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts,
    Registry, TextEncoder,
};
use velocity_api::SourceMetrics;

/// Kafka's `metrics.sample.window.ms` default.
pub const SAMPLE_WINDOW: Duration = Duration::from_secs(30);
/// Kafka's `metrics.num.samples` default.
const NUM_SAMPLES: usize = 2;

const TASK_LABELS: &[&str] = &["connector", "task"];
const DBZ_LABELS: &[&str] = &["plugin", "context", "name", "connector", "task"];

#[derive(Clone, Copy)]
struct Sample {
    start: Instant,
    count: u64,
    sum: f64,
    max: f64,
}

impl Sample {
    fn new(start: Instant) -> Sample {
        Sample {
            start,
            count: 0,
            sum: 0.0,
            max: f64::NEG_INFINITY,
        }
    }
}

/// A sampled statistic as Kafka's `SampledStat` keeps it: two samples of
/// [`SAMPLE_WINDOW`], the older dropped when a third would start.
#[derive(Clone)]
pub struct Windowed {
    samples: Vec<Sample>,
}

impl Windowed {
    /// An empty statistic starting at `now`.
    pub fn new(now: Instant) -> Windowed {
        Windowed {
            samples: vec![Sample::new(now)],
        }
    }

    fn current(&mut self, now: Instant) -> &mut Sample {
        let last = self.samples.last().map_or(now, |s| s.start);
        if now.saturating_duration_since(last) >= SAMPLE_WINDOW {
            if self.samples.len() == NUM_SAMPLES {
                self.samples.remove(0);
            }
            self.samples.push(Sample::new(now));
        }
        self.samples.last_mut().expect("one sample")
    }

    /// Records `value` at `now`.
    pub fn record(&mut self, value: f64, now: Instant) {
        let s = self.current(now);
        s.count += 1;
        s.sum += value;
        s.max = s.max.max(value);
    }

    fn live(&self, now: Instant) -> impl Iterator<Item = &Sample> {
        let horizon = SAMPLE_WINDOW * NUM_SAMPLES as u32;
        self.samples
            .iter()
            .filter(move |s| now.saturating_duration_since(s.start) < horizon)
    }

    /// The mean of the recorded values in the window; NaN without any.
    pub fn avg(&self, now: Instant) -> f64 {
        let (n, sum) = self
            .live(now)
            .fold((0u64, 0.0), |(n, s), x| (n + x.count, s + x.sum));
        if n == 0 {
            f64::NAN
        } else {
            sum / n as f64
        }
    }

    /// The largest recorded value in the window; NaN without any.
    pub fn max(&self, now: Instant) -> f64 {
        let m = self
            .live(now)
            .filter(|s| s.count > 0)
            .fold(f64::NEG_INFINITY, |m, s| m.max(s.max));
        if m == f64::NEG_INFINITY {
            f64::NAN
        } else {
            m
        }
    }

    /// The sum of the recorded values per second, over the window's elapsed
    /// time but at least `(samples - 1)` full windows (Kafka's `Rate`).
    pub fn rate(&self, now: Instant) -> f64 {
        let mut live = self.live(now).peekable();
        let Some(oldest) = live.peek().map(|s| s.start) else {
            return 0.0;
        };
        let sum: f64 = live.map(|s| s.sum).sum();
        let elapsed = now
            .saturating_duration_since(oldest)
            .max(SAMPLE_WINDOW * (NUM_SAMPLES as u32 - 1));
        sum / elapsed.as_secs_f64()
    }
}

/// Whether a task reads (source) or writes (sink).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskKind {
    /// A source task.
    Source,
    /// A sink task.
    Sink,
}

/// The windowed statistics of one task.
struct Stats {
    batch_size: Windowed,
    offset_commit_time: Windowed,
    offset_commit_ok: Windowed,
    poll_batch_time: Windowed,
    put_batch_time: Windowed,
    poll_rate: Windowed,
    write_rate: Windowed,
    read_rate: Windowed,
    send_rate: Windowed,
    active: Windowed,
    sink_lag: Windowed,
    commit_completion: Windowed,
}

/// The metrics of one running task, labelled `connector` and `task`.
/// Dropping it removes the task's series from `/metrics`.
pub struct TaskMetrics {
    connector: String,
    task: String,
    kind: TaskKind,
    /// `source-record-poll-total`.
    pub source_record_poll_total: IntCounter,
    /// `source-record-write-total`.
    pub source_record_write_total: IntCounter,
    /// `sink-record-read-total`.
    pub sink_record_read_total: IntCounter,
    /// `sink-record-send-total`.
    pub sink_record_send_total: IntCounter,
    /// `offset-commit-completion-total`.
    pub offset_commit_completion_total: IntCounter,
    /// `total-record-errors`.
    pub total_record_errors: IntCounter,
    /// `total-record-failures`.
    pub total_record_failures: IntCounter,
    /// `total-records-skipped`.
    pub total_records_skipped: IntCounter,
    /// `total-errors-logged`.
    pub total_errors_logged: IntCounter,
    /// `deadletterqueue-produce-requests`.
    pub deadletterqueue_produce_requests: IntCounter,
    /// `total-retries`.
    pub total_retries: IntCounter,
    /// Velocity's own [`COMMIT_TO_ACK`]: source commit → Kafka
    /// acknowledgement of the transaction's last record, in seconds.
    commit_to_ack: Histogram,
    last_error_ms: AtomicI64,
    active_count: AtomicI64,
    partition_count: AtomicI64,
    commit_seq_no: AtomicU64,
    stats: Mutex<Stats>,
    source: Mutex<Option<Arc<SourceMetrics>>>,
}

impl TaskMetrics {
    /// Registers the metrics of task `task` of `connector`.
    pub fn new(connector: &str, task: u32, kind: TaskKind) -> Arc<TaskMetrics> {
        let g = global();
        let task_s = task.to_string();
        let labels = [connector, task_s.as_str()];
        // totals count since the task (re)started, as in Kafka Connect: a
        // restarted task starts from fresh series
        for c in g.counters.values() {
            let _ = c.remove_label_values(&labels);
        }
        let _ = g.commit_to_ack.remove_label_values(&labels);
        let c = |name: &str| g.counter(name).with_label_values(&labels);
        let now = Instant::now();
        let w = || Windowed::new(now);
        let m = Arc::new(TaskMetrics {
            connector: connector.to_owned(),
            task: task_s.clone(),
            kind,
            source_record_poll_total: c(SOURCE_RECORD_POLL_TOTAL),
            source_record_write_total: c(SOURCE_RECORD_WRITE_TOTAL),
            sink_record_read_total: c(SINK_RECORD_READ_TOTAL),
            sink_record_send_total: c(SINK_RECORD_SEND_TOTAL),
            offset_commit_completion_total: c(OFFSET_COMMIT_COMPLETION_TOTAL),
            total_record_errors: c(TOTAL_RECORD_ERRORS),
            total_record_failures: c(TOTAL_RECORD_FAILURES),
            total_records_skipped: c(TOTAL_RECORDS_SKIPPED),
            total_errors_logged: c(TOTAL_ERRORS_LOGGED),
            deadletterqueue_produce_requests: c(DEADLETTERQUEUE_PRODUCE_REQUESTS),
            total_retries: c(TOTAL_RETRIES),
            commit_to_ack: g.commit_to_ack.with_label_values(&labels),
            last_error_ms: AtomicI64::new(0),
            active_count: AtomicI64::new(0),
            partition_count: AtomicI64::new(0),
            commit_seq_no: AtomicU64::new(0),
            stats: Mutex::new(Stats {
                batch_size: w(),
                offset_commit_time: w(),
                offset_commit_ok: w(),
                poll_batch_time: w(),
                put_batch_time: w(),
                poll_rate: w(),
                write_rate: w(),
                read_rate: w(),
                send_rate: w(),
                active: w(),
                sink_lag: w(),
                commit_completion: w(),
            }),
            source: Mutex::new(None),
        });
        if let Ok(mut tasks) = g.tasks.lock() {
            tasks.retain(|t| t.strong_count() > 0);
            tasks.push(Arc::downgrade(&m));
        }
        m
    }

    fn with_stats(&self, f: impl FnOnce(&mut Stats, Instant)) {
        if let Ok(mut s) = self.stats.lock() {
            f(&mut s, Instant::now());
        }
    }

    /// A source `poll` returned `records` after `took`.
    pub fn polled(&self, records: usize, took: Duration) {
        self.source_record_poll_total.inc_by(records as u64);
        self.with_stats(|s, now| {
            s.poll_rate.record(records as f64, now);
            s.batch_size.record(records as f64, now);
            s.poll_batch_time.record(took.as_secs_f64() * 1000.0, now);
        });
    }

    /// `records` records (after transforms) were handed to the producer.
    pub fn written(&self, records: usize) {
        self.source_record_write_total.inc_by(records as u64);
        self.with_stats(|s, now| s.write_rate.record(records as f64, now));
    }

    /// Records produced or consumed but not yet committed.
    pub fn set_active(&self, n: usize) {
        self.active_count.store(n as i64, Ordering::Relaxed);
        self.with_stats(|s, now| s.active.record(n as f64, now));
    }

    /// A sink poll read `read` records from Kafka.
    pub fn read(&self, read: usize) {
        self.sink_record_read_total.inc_by(read as u64);
        self.with_stats(|s, now| s.read_rate.record(read as f64, now));
    }

    /// `put` got `sent` records (after transforms) and took `took`.
    pub fn put(&self, sent: usize, took: Duration) {
        self.sink_record_send_total.inc_by(sent as u64);
        self.with_stats(|s, now| {
            s.send_rate.record(sent as f64, now);
            s.batch_size.record(sent as f64, now);
            s.put_batch_time.record(took.as_secs_f64() * 1000.0, now);
        });
    }

    /// The largest number of records the sink is behind the log end.
    pub fn sink_lag(&self, lag: i64) {
        self.with_stats(|s, now| s.sink_lag.record(lag as f64, now));
    }

    /// Topic partitions assigned to a sink task.
    pub fn set_partition_count(&self, n: usize) {
        self.partition_count.store(n as i64, Ordering::Relaxed);
    }

    /// An offset commit finished after `took`, successfully or not.
    pub fn offset_commit(&self, ok: bool, took: Duration) {
        if ok {
            self.offset_commit_completion_total.inc();
            self.commit_seq_no.fetch_add(1, Ordering::Relaxed);
        }
        self.with_stats(|s, now| {
            s.offset_commit_ok.record(if ok { 1.0 } else { 0.0 }, now);
            if ok {
                s.offset_commit_time
                    .record(took.as_secs_f64() * 1000.0, now);
                s.commit_completion.record(1.0, now);
            }
        });
    }

    /// Kafka acknowledged the last record of a source transaction that
    /// committed `micros` microseconds ago (see [`COMMIT_TO_ACK`]).
    pub fn commit_acked(&self, micros: i64) {
        self.commit_to_ack.observe(micros.max(0) as f64 / 1e6);
    }

    /// An error happened now (`last-error-timestamp`).
    pub fn error_now(&self) {
        self.last_error_ms.store(unix_ms(), Ordering::Relaxed);
    }

    /// The task's Debezium metrics, read after each (re)start.
    pub fn set_source(&self, m: Option<Arc<SourceMetrics>>) {
        if let Ok(mut s) = self.source.lock() {
            *s = m;
        }
    }
}

impl Drop for TaskMetrics {
    fn drop(&mut self) {
        let g = global();
        // a restarted task may already own these labels: leave its series
        let successor = g
            .live_tasks()
            .iter()
            .any(|t| t.connector == self.connector && t.task == self.task);
        if successor {
            return;
        }
        let labels = [self.connector.as_str(), self.task.as_str()];
        for c in g.counters.values() {
            let _ = c.remove_label_values(&labels);
        }
        let _ = g.commit_to_ack.remove_label_values(&labels);
    }
}

fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

const SOURCE_RECORD_POLL_TOTAL: &str = "source-task-metrics:source-record-poll-total";
const SOURCE_RECORD_WRITE_TOTAL: &str = "source-task-metrics:source-record-write-total";
const SINK_RECORD_READ_TOTAL: &str = "sink-task-metrics:sink-record-read-total";
const SINK_RECORD_SEND_TOTAL: &str = "sink-task-metrics:sink-record-send-total";
const OFFSET_COMMIT_COMPLETION_TOTAL: &str = "sink-task-metrics:offset-commit-completion-total";
const TOTAL_RECORD_ERRORS: &str = "task-error-metrics:total-record-errors";
const TOTAL_RECORD_FAILURES: &str = "task-error-metrics:total-record-failures";
const TOTAL_RECORDS_SKIPPED: &str = "task-error-metrics:total-records-skipped";
const TOTAL_ERRORS_LOGGED: &str = "task-error-metrics:total-errors-logged";
const DEADLETTERQUEUE_PRODUCE_REQUESTS: &str =
    "task-error-metrics:deadletterqueue-produce-requests";
const TOTAL_RETRIES: &str = "task-error-metrics:total-retries";

/// Velocity's own histogram (no Kafka Connect or Debezium metric measures
/// it): seconds from a transaction's commit in the source database (the
/// commit time the source reports, e.g. PostgreSQL's commit timestamp,
/// Debezium's `source.ts_us`) to Kafka's acknowledgement of the last record
/// Velocity produced for it. Observed once per source transaction with at
/// least one produced record, for sources that report commit times
/// (PostgreSQL).
pub const COMMIT_TO_ACK: &str = "velocity_source_commit_to_ack_seconds";

/// Bucket bounds of [`COMMIT_TO_ACK`], in seconds.
const COMMIT_TO_ACK_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.2,
    0.5, 1.0, 2.0, 5.0, 10.0,
];

/// Counters: `(group:attribute, help)`.
const COUNTERS: &[(&str, &str)] = &[
    (SOURCE_RECORD_POLL_TOTAL, "Records produced/polled (before transformation) by this task since it was last restarted."),
    (SOURCE_RECORD_WRITE_TOTAL, "Records output from the transformations and written to Kafka by this task since it was last restarted."),
    (SINK_RECORD_READ_TOTAL, "Records read from Kafka by this task since it was last restarted."),
    (SINK_RECORD_SEND_TOTAL, "Records output from the transformations and sent to this task since it was last restarted."),
    (OFFSET_COMMIT_COMPLETION_TOTAL, "Offset commit completions that were completed successfully."),
    (TOTAL_RECORD_ERRORS, "Record processing errors in this task."),
    (TOTAL_RECORD_FAILURES, "Record processing failures in this task."),
    (TOTAL_RECORDS_SKIPPED, "Records skipped due to errors."),
    (TOTAL_ERRORS_LOGGED, "Errors that were logged."),
    (DEADLETTERQUEUE_PRODUCE_REQUESTS, "Attempted writes to the dead letter queue."),
    (TOTAL_RETRIES, "Operations retried (task restarts in place after a retriable error)."),
];

/// Task gauges: `(group:attribute, help)`, computed at scrape time.
const TASK_GAUGES: &[(&str, &str)] = &[
    ("connector-task-metrics:batch-size-avg", "The average number of records in the batches the task has processed so far."),
    ("connector-task-metrics:batch-size-max", "The number of records in the largest batch the task has processed so far."),
    ("connector-task-metrics:offset-commit-avg-time-ms", "The average time in milliseconds taken by this task to commit offsets."),
    ("connector-task-metrics:offset-commit-max-time-ms", "The maximum time in milliseconds taken by this task to commit offsets."),
    ("connector-task-metrics:offset-commit-success-percentage", "The average percentage of this task's offset commit attempts that succeeded."),
    ("connector-task-metrics:offset-commit-failure-percentage", "The average percentage of this task's offset commit attempts that failed or had an error."),
    ("source-task-metrics:source-record-poll-rate", "The average per-second number of records produced/polled (before transformation) by this task."),
    ("source-task-metrics:source-record-write-rate", "The average per-second number of records written to Kafka by this task."),
    ("source-task-metrics:poll-batch-avg-time-ms", "The average time in milliseconds taken by this task to poll for a batch of source records."),
    ("source-task-metrics:poll-batch-max-time-ms", "The maximum time in milliseconds taken by this task to poll for a batch of source records."),
    ("source-task-metrics:source-record-active-count", "The number of records that have been produced by this task but not yet completely written to Kafka."),
    ("source-task-metrics:source-record-active-count-avg", "The average number of records that have been produced by this task but not yet completely written to Kafka."),
    ("source-task-metrics:source-record-active-count-max", "The maximum number of records that have been produced by this task but not yet completely written to Kafka."),
    ("sink-task-metrics:sink-record-read-rate", "The average per-second number of records read from Kafka by this task."),
    ("sink-task-metrics:sink-record-send-rate", "The average per-second number of records output from the transformations and sent to this task."),
    ("sink-task-metrics:sink-record-active-count", "The number of records that have been read from Kafka but not yet completely committed/flushed/acknowledged by the sink task."),
    ("sink-task-metrics:sink-record-active-count-avg", "The average number of records read from Kafka but not yet committed by the sink task."),
    ("sink-task-metrics:sink-record-active-count-max", "The maximum number of records read from Kafka but not yet committed by the sink task."),
    ("sink-task-metrics:sink-record-lag-max", "The maximum lag in terms of number of records that the sink task is behind the log end offset for any topic partition."),
    ("sink-task-metrics:put-batch-avg-time-ms", "The average time taken by this task to put a batch of sinks records."),
    ("sink-task-metrics:put-batch-max-time-ms", "The maximum time taken by this task to put a batch of sinks records."),
    ("sink-task-metrics:partition-count", "The number of topic partitions assigned to this task."),
    ("sink-task-metrics:offset-commit-seq-no", "The current sequence number for offset commits."),
    ("sink-task-metrics:offset-commit-completion-rate", "The average per-second number of offset commit completions that were completed successfully."),
    ("task-error-metrics:last-error-timestamp", "The epoch timestamp (ms) when this task last encountered an error."),
];

/// Worker gauges (no labels) and per-connector gauges (`connector` label).
const WORKER_GAUGES: &[(&str, &str)] = &[
    (
        "connect-worker-metrics:connector-count",
        "The number of connectors run in this worker.",
    ),
    (
        "connect-worker-metrics:task-count",
        "The number of tasks run in this worker.",
    ),
];
const CONNECTOR_GAUGES: &[(&str, &str)] = &[
    (
        "connect-worker-metrics:connector-total-task-count",
        "The number of tasks of the connector on the worker.",
    ),
    (
        "connect-worker-metrics:connector-running-task-count",
        "The number of running tasks of the connector on the worker.",
    ),
    (
        "connect-worker-metrics:connector-paused-task-count",
        "The number of paused tasks of the connector on the worker.",
    ),
    (
        "connect-worker-metrics:connector-failed-task-count",
        "The number of failed tasks of the connector on the worker.",
    ),
    (
        "connect-worker-metrics:connector-unassigned-task-count",
        "The number of unassigned tasks of the connector on the worker.",
    ),
    (
        "connect-worker-metrics:connector-restarting-task-count",
        "The number of restarting tasks of the connector on the worker.",
    ),
];

/// Debezium attributes: `(Attribute, context, help)`.
const DEBEZIUM_GAUGES: &[(&str, &str, &str)] = &[
    ("MilliSecondsBehindSource", "streaming", "Milliseconds between the last change event's source timestamp and the connector processing it (0 once caught up)."),
    ("TotalNumberOfEventsSeen", "streaming", "Change events seen since the task started."),
    ("QueueTotalCapacity", "streaming", "The length of the queue between the database reader and the task (max.queue.size)."),
    ("QueueRemainingCapacity", "streaming", "The free capacity of the queue between the database reader and the task."),
    ("Connected", "streaming", "1 when the connector is connected to the database log."),
    ("NumberOfCommittedTransactions", "streaming", "Committed transactions seen."),
    ("SnapshotRunning", "snapshot", "1 while the snapshot runs."),
    ("SnapshotCompleted", "snapshot", "1 once the snapshot completed."),
    ("SnapshotAborted", "snapshot", "1 when the snapshot was aborted."),
    ("SnapshotDurationInSeconds", "snapshot", "Seconds the snapshot has taken so far."),
    ("TotalTableCount", "snapshot", "Tables included in the snapshot."),
    ("RemainingTableCount", "snapshot", "Tables the snapshot has yet to copy."),
    ("TotalNumberOfEventsSeen", "snapshot", "Rows read by the snapshot."),
];

/// The Prometheus name of a Kafka Connect `group:attribute`.
pub fn kafka_name(key: &str) -> String {
    let (group, attr) = key.split_once(':').unwrap_or(("", key));
    format!("kafka_connect_{group}_{attr}").replace('-', "_")
}

/// The process-wide registry.
pub struct Metrics {
    registry: Registry,
    counters: BTreeMap<&'static str, IntCounterVec>,
    task_gauges: BTreeMap<&'static str, GaugeVec>,
    worker_gauges: BTreeMap<&'static str, GaugeVec>,
    connector_gauges: BTreeMap<&'static str, GaugeVec>,
    connector_info: GaugeVec,
    task_status: GaugeVec,
    debezium: BTreeMap<&'static str, GaugeVec>,
    rows_scanned: GaugeVec,
    commit_to_ack: HistogramVec,
    tasks: Mutex<Vec<Weak<TaskMetrics>>>,
}

/// The process-wide metrics.
pub fn global() -> &'static Metrics {
    static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);
    &METRICS
}

fn gauge_vec(registry: &Registry, name: String, help: &str, labels: &[&str]) -> GaugeVec {
    let g = GaugeVec::new(Opts::new(name, help), labels).expect("valid metric");
    registry
        .register(Box::new(g.clone()))
        .expect("unique metric");
    g
}

impl Metrics {
    fn new() -> Metrics {
        let registry = Registry::new();
        let mut counters = BTreeMap::new();
        for (key, help) in COUNTERS {
            let c = IntCounterVec::new(Opts::new(kafka_name(key), *help), TASK_LABELS)
                .expect("valid metric");
            registry
                .register(Box::new(c.clone()))
                .expect("unique metric");
            counters.insert(*key, c);
        }
        let mut task_gauges = BTreeMap::new();
        for (key, help) in TASK_GAUGES {
            task_gauges.insert(
                *key,
                gauge_vec(&registry, kafka_name(key), help, TASK_LABELS),
            );
        }
        let mut worker_gauges = BTreeMap::new();
        for (key, help) in WORKER_GAUGES {
            worker_gauges.insert(*key, gauge_vec(&registry, kafka_name(key), help, &[]));
        }
        let mut connector_gauges = BTreeMap::new();
        for (key, help) in CONNECTOR_GAUGES {
            connector_gauges.insert(
                *key,
                gauge_vec(&registry, kafka_name(key), help, &["connector"]),
            );
        }
        let connector_info = gauge_vec(
            &registry,
            "kafka_connect_connector_metrics_info".into(),
            "connector-metrics: connector-class, connector-type, connector-version and status as labels; always 1.",
            &["connector", "connector_class", "connector_type", "connector_version", "status"],
        );
        let task_status = gauge_vec(
            &registry,
            "kafka_connect_connector_task_metrics_status".into(),
            "connector-task-metrics status as a label (unassigned, running, paused, failed, restarting); always 1.",
            &["connector", "task", "status"],
        );
        let mut debezium = BTreeMap::new();
        for (attr, _, help) in DEBEZIUM_GAUGES {
            if !debezium.contains_key(attr) {
                debezium.insert(
                    *attr,
                    gauge_vec(
                        &registry,
                        format!("debezium_metrics_{attr}"),
                        help,
                        DBZ_LABELS,
                    ),
                );
            }
        }
        let mut labels = DBZ_LABELS.to_vec();
        labels.push("table");
        let rows_scanned = gauge_vec(
            &registry,
            "debezium_metrics_RowsScanned".into(),
            "Rows scanned per table by the snapshot (RowsScanned).",
            &labels,
        );
        let commit_to_ack = HistogramVec::new(
            HistogramOpts::new(
                COMMIT_TO_ACK,
                "Seconds from a transaction's commit in the source database to Kafka's acknowledgement of the last record produced for it.",
            )
            .buckets(COMMIT_TO_ACK_BUCKETS.to_vec()),
            TASK_LABELS,
        )
        .expect("valid metric");
        registry
            .register(Box::new(commit_to_ack.clone()))
            .expect("unique metric");
        Metrics {
            commit_to_ack,
            registry,
            counters,
            task_gauges,
            worker_gauges,
            connector_gauges,
            connector_info,
            task_status,
            debezium,
            rows_scanned,
            tasks: Mutex::new(Vec::new()),
        }
    }

    fn counter(&self, key: &str) -> &IntCounterVec {
        &self.counters[key]
    }

    fn live_tasks(&self) -> Vec<Arc<TaskMetrics>> {
        self.tasks
            .lock()
            .map(|t| t.iter().filter_map(Weak::upgrade).collect())
            .unwrap_or_default()
    }

    /// Renders every metric in Prometheus text format 0.0.4, after setting
    /// the worker and connector gauges from `worker` (the herder's view).
    pub fn render(&self, worker: &WorkerView) -> String {
        for g in self.task_gauges.values() {
            g.reset();
        }
        for g in self.debezium.values() {
            g.reset();
        }
        self.rows_scanned.reset();
        self.connector_info.reset();
        self.task_status.reset();
        for g in self.connector_gauges.values() {
            g.reset();
        }
        let now = Instant::now();
        for t in self.live_tasks() {
            self.task_gauges_for(&t, now);
        }
        self.worker_gauges_for(worker);
        let mut buf = Vec::new();
        if TextEncoder::new()
            .encode(&self.registry.gather(), &mut buf)
            .is_err()
        {
            return String::new();
        }
        String::from_utf8(buf).unwrap_or_default()
    }

    fn task_gauges_for(&self, t: &TaskMetrics, now: Instant) {
        let labels = [t.connector.as_str(), t.task.as_str()];
        let set = |key: &str, v: f64| {
            if let Some(g) = self.task_gauges.get(key) {
                g.with_label_values(&labels).set(v);
            }
        };
        if let Ok(s) = t.stats.lock() {
            let ok = s.offset_commit_ok.avg(now);
            set(
                "connector-task-metrics:batch-size-avg",
                s.batch_size.avg(now),
            );
            set(
                "connector-task-metrics:batch-size-max",
                s.batch_size.max(now),
            );
            set(
                "connector-task-metrics:offset-commit-avg-time-ms",
                s.offset_commit_time.avg(now),
            );
            set(
                "connector-task-metrics:offset-commit-max-time-ms",
                s.offset_commit_time.max(now),
            );
            set(
                "connector-task-metrics:offset-commit-success-percentage",
                if ok.is_nan() { 0.0 } else { ok },
            );
            set(
                "connector-task-metrics:offset-commit-failure-percentage",
                if ok.is_nan() { 0.0 } else { 1.0 - ok },
            );
            match t.kind {
                TaskKind::Source => {
                    set(
                        "source-task-metrics:source-record-poll-rate",
                        s.poll_rate.rate(now),
                    );
                    set(
                        "source-task-metrics:source-record-write-rate",
                        s.write_rate.rate(now),
                    );
                    set(
                        "source-task-metrics:poll-batch-avg-time-ms",
                        s.poll_batch_time.avg(now),
                    );
                    set(
                        "source-task-metrics:poll-batch-max-time-ms",
                        s.poll_batch_time.max(now),
                    );
                    set(
                        "source-task-metrics:source-record-active-count",
                        t.active_count.load(Ordering::Relaxed) as f64,
                    );
                    set(
                        "source-task-metrics:source-record-active-count-avg",
                        s.active.avg(now),
                    );
                    set(
                        "source-task-metrics:source-record-active-count-max",
                        s.active.max(now),
                    );
                }
                TaskKind::Sink => {
                    set(
                        "sink-task-metrics:sink-record-read-rate",
                        s.read_rate.rate(now),
                    );
                    set(
                        "sink-task-metrics:sink-record-send-rate",
                        s.send_rate.rate(now),
                    );
                    set(
                        "sink-task-metrics:sink-record-active-count",
                        t.active_count.load(Ordering::Relaxed) as f64,
                    );
                    set(
                        "sink-task-metrics:sink-record-active-count-avg",
                        s.active.avg(now),
                    );
                    set(
                        "sink-task-metrics:sink-record-active-count-max",
                        s.active.max(now),
                    );
                    set("sink-task-metrics:sink-record-lag-max", s.sink_lag.max(now));
                    set(
                        "sink-task-metrics:put-batch-avg-time-ms",
                        s.put_batch_time.avg(now),
                    );
                    set(
                        "sink-task-metrics:put-batch-max-time-ms",
                        s.put_batch_time.max(now),
                    );
                    set(
                        "sink-task-metrics:partition-count",
                        t.partition_count.load(Ordering::Relaxed) as f64,
                    );
                    set(
                        "sink-task-metrics:offset-commit-seq-no",
                        t.commit_seq_no.load(Ordering::Relaxed) as f64,
                    );
                    set(
                        "sink-task-metrics:offset-commit-completion-rate",
                        s.commit_completion.rate(now),
                    );
                }
            }
        }
        set(
            "task-error-metrics:last-error-timestamp",
            t.last_error_ms.load(Ordering::Relaxed) as f64,
        );
        let source = t.source.lock().ok().and_then(|s| s.clone());
        if let Some(m) = source {
            self.debezium_for(t, &m);
        }
    }

    fn debezium_for(&self, t: &TaskMetrics, m: &SourceMetrics) {
        let server = m.server();
        let b =
            |v: &std::sync::atomic::AtomicBool| if v.load(Ordering::Relaxed) { 1.0 } else { 0.0 };
        let u = |v: &AtomicU64| v.load(Ordering::Relaxed) as f64;
        for (attr, ctx, _) in DEBEZIUM_GAUGES {
            let v = match (*attr, *ctx) {
                ("MilliSecondsBehindSource", _) => {
                    m.ms_behind_source.load(Ordering::Relaxed) as f64
                }
                ("TotalNumberOfEventsSeen", "streaming") => u(&m.streaming_events_seen),
                ("TotalNumberOfEventsSeen", _) => u(&m.snapshot_events_seen),
                ("QueueTotalCapacity", _) => u(&m.queue_total_capacity),
                ("QueueRemainingCapacity", _) => u(&m.queue_remaining_capacity),
                ("Connected", _) => b(&m.connected),
                ("NumberOfCommittedTransactions", _) => u(&m.committed_transactions),
                ("SnapshotRunning", _) => b(&m.snapshot_running),
                ("SnapshotCompleted", _) => b(&m.snapshot_completed),
                ("SnapshotAborted", _) => b(&m.snapshot_aborted),
                ("SnapshotDurationInSeconds", _) => u(&m.snapshot_duration_secs),
                ("TotalTableCount", _) => u(&m.total_table_count),
                ("RemainingTableCount", _) => u(&m.remaining_table_count),
                _ => continue,
            };
            self.debezium[attr]
                .with_label_values(&[m.plugin, ctx, &server, &t.connector, &t.task])
                .set(v);
        }
        for (table, rows) in m.rows_scanned_snapshot() {
            self.rows_scanned
                .with_label_values(&[m.plugin, "snapshot", &server, &t.connector, &t.task, &table])
                .set(rows as f64);
        }
    }

    fn worker_gauges_for(&self, w: &WorkerView) {
        let set = |key: &str, v: f64| {
            if let Some(g) = self.worker_gauges.get(key) {
                g.with_label_values(&[] as &[&str]).set(v);
            }
        };
        set(
            "connect-worker-metrics:connector-count",
            w.connectors.len() as f64,
        );
        set(
            "connect-worker-metrics:task-count",
            w.connectors.iter().map(|c| c.tasks.len()).sum::<usize>() as f64,
        );
        for c in &w.connectors {
            let count = |state: Option<&str>| {
                c.tasks
                    .iter()
                    .filter(|(_, s)| state.is_none_or(|want| s.eq_ignore_ascii_case(want)))
                    .count() as f64
            };
            let per = [
                ("connect-worker-metrics:connector-total-task-count", None),
                (
                    "connect-worker-metrics:connector-running-task-count",
                    Some("RUNNING"),
                ),
                (
                    "connect-worker-metrics:connector-paused-task-count",
                    Some("PAUSED"),
                ),
                (
                    "connect-worker-metrics:connector-failed-task-count",
                    Some("FAILED"),
                ),
                (
                    "connect-worker-metrics:connector-unassigned-task-count",
                    Some("UNASSIGNED"),
                ),
                (
                    "connect-worker-metrics:connector-restarting-task-count",
                    Some("RESTARTING"),
                ),
            ];
            for (key, state) in per {
                self.connector_gauges[key]
                    .with_label_values(&[&c.name])
                    .set(count(state));
            }
            self.connector_info
                .with_label_values(&[
                    &c.name,
                    &c.class,
                    &c.kind,
                    &c.version,
                    &c.state.to_ascii_lowercase(),
                ])
                .set(1.0);
            for (id, state) in &c.tasks {
                self.task_status
                    .with_label_values(&[&c.name, &id.to_string(), &state.to_ascii_lowercase()])
                    .set(1.0);
            }
        }
    }
}

/// What the herder reports for the worker-level metrics.
#[derive(Debug, Default, Clone)]
pub struct WorkerView {
    /// One entry per connector.
    pub connectors: Vec<ConnectorView>,
}

/// One connector as the worker metrics see it.
#[derive(Debug, Default, Clone)]
pub struct ConnectorView {
    /// Name.
    pub name: String,
    /// `connector.class`.
    pub class: String,
    /// `source` or `sink`.
    pub kind: String,
    /// The plugin's version.
    pub version: String,
    /// The connector's state (RUNNING, PAUSED, …).
    pub state: String,
    /// `(task id, state)`.
    pub tasks: Vec<(u64, String)>,
}

/// Every metric name `/metrics` can show, with the MBean and attribute it
/// mirrors, for the README table.
pub fn catalogue() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut kafka = |key: &str, labels: &str| {
        let (group, attr) = key.split_once(':').unwrap_or(("", key));
        out.push((
            kafka_name(key),
            format!("kafka.connect:type={group}{labels} {attr}"),
        ));
    };
    for (k, _) in WORKER_GAUGES {
        kafka(k, "");
    }
    for (k, _) in CONNECTOR_GAUGES {
        kafka(k, ",connector=*");
    }
    for (k, _) in COUNTERS.iter().chain(TASK_GAUGES) {
        kafka(k, ",connector=*,task=*");
    }
    out.push((
        "kafka_connect_connector_metrics_info".into(),
        "kafka.connect:type=connector-metrics,connector=* connector-class, connector-type, connector-version, status".into(),
    ));
    out.push((
        "kafka_connect_connector_task_metrics_status".into(),
        "kafka.connect:type=connector-task-metrics,connector=*,task=* status".into(),
    ));
    for (attr, ctx, _) in DEBEZIUM_GAUGES {
        out.push((
            format!("debezium_metrics_{attr}"),
            format!("debezium.<plugin>:type=connector-metrics,context={ctx},server=* {attr}"),
        ));
    }
    out.push((
        "debezium_metrics_RowsScanned".into(),
        "debezium.<plugin>:type=connector-metrics,context=snapshot,server=* RowsScanned".into(),
    ));
    out.push((
        COMMIT_TO_ACK.into(),
        "Velocity's own (no MBean): source commit → Kafka acknowledgement, histogram".into(),
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windowed_stats_follow_kafkas_sampled_stat() {
        let t0 = Instant::now();
        let mut w = Windowed::new(t0);
        assert!(w.avg(t0).is_nan() && w.max(t0).is_nan());
        w.record(10.0, t0);
        w.record(30.0, t0 + Duration::from_secs(1));
        assert_eq!(w.avg(t0 + Duration::from_secs(2)), 20.0);
        assert_eq!(w.max(t0 + Duration::from_secs(2)), 30.0);
        // 40 events within the first window: the rate divides by one full window
        assert!((w.rate(t0 + Duration::from_secs(2)) - 40.0 / 30.0).abs() < 1e-9);
        // a second window, then a third: the first sample is dropped
        w.record(5.0, t0 + Duration::from_secs(31));
        w.record(7.0, t0 + Duration::from_secs(61));
        assert_eq!(w.max(t0 + Duration::from_secs(62)), 7.0);
        assert_eq!(w.avg(t0 + Duration::from_secs(62)), 6.0);
        // nothing recent: NaN again
        assert!(w.max(t0 + Duration::from_secs(200)).is_nan());
    }

    #[test]
    fn task_counters_render_with_labels_and_vanish_on_drop() {
        let m = TaskMetrics::new("metrics-unit", 3, TaskKind::Source);
        m.polled(7, Duration::from_millis(2));
        m.written(5);
        m.commit_acked(1_500);
        m.set_source(Some(Arc::new(SourceMetrics::new("postgres"))));
        let text = global().render(&WorkerView::default());
        assert!(text.contains(
            "kafka_connect_source_task_metrics_source_record_poll_total{connector=\"metrics-unit\",task=\"3\"} 7"
        ), "{text}");
        assert!(text.contains(
            "kafka_connect_source_task_metrics_source_record_write_total{connector=\"metrics-unit\",task=\"3\"} 5"
        ));
        assert!(text.contains("debezium_metrics_MilliSecondsBehindSource{connector=\"metrics-unit\",context=\"streaming\""));
        assert!(text.contains("kafka_connect_connect_worker_metrics_connector_count 0"));
        assert!(
            text.contains(
                "velocity_source_commit_to_ack_seconds_bucket{connector=\"metrics-unit\",task=\"3\",le=\"0.002\"} 1"
            ),
            "{text}"
        );
        drop(m);
        let text = global().render(&WorkerView::default());
        assert!(!text.contains("metrics-unit"), "{text}");
    }

    #[test]
    fn the_readme_lists_every_metric() {
        let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
            .expect("README.md");
        for (name, _) in catalogue() {
            assert!(readme.contains(&format!("`{name}`")), "README lacks {name}");
        }
    }

    #[test]
    fn names_follow_the_convention() {
        assert_eq!(
            kafka_name("source-task-metrics:source-record-poll-total"),
            "kafka_connect_source_task_metrics_source_record_poll_total"
        );
        let names: Vec<String> = catalogue().into_iter().map(|(n, _)| n).collect();
        for want in [
            "kafka_connect_source_task_metrics_source_record_write_rate",
            "kafka_connect_connector_task_metrics_offset_commit_avg_time_ms",
            "kafka_connect_sink_task_metrics_sink_record_lag_max",
            "kafka_connect_task_error_metrics_total_record_errors",
            "kafka_connect_task_error_metrics_deadletterqueue_produce_requests",
            "debezium_metrics_QueueRemainingCapacity",
            "debezium_metrics_RowsScanned",
        ] {
            assert!(names.iter().any(|n| n == want), "{want}");
        }
    }
}
