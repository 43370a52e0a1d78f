//! The reader of a Kafka signal channel (Debezium's `KafkaSignalChannel`):
//! partition 0 of one topic, read on a thread of its own and handed to the
//! connector's reader through a bounded queue.
//!
//! Contracts:
//! - Order: records arrive in offset order, each once per channel; the
//!   channel never skips a record it fetched.
//! - Start ([`SignalStart`]): after a given offset (the position the
//!   connector stored with its source offset), or at the consumer group's
//!   committed offset, else at the topic's beginning (`auto.offset.reset`
//!   `earliest`, Debezium's default).
//! - No commits: the channel never commits consumer-group offsets; the
//!   connector keeps the position of the signals it acted upon in its own
//!   source offsets, which are stored only once the records before them are
//!   acknowledged.
//! - The topic is created when absent (one partition): brokers such as
//!   tansu do not create topics on first use.
//! - Blocking: [`SignalChannel::recv`] waits (cancel-safe) and
//!   [`SignalChannel::try_recv`] does not; the thread holds at most
//!   [`QUEUE`] records ahead of the connector and stops when the channel is
//!   dropped (within one poll timeout).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use tokio::sync::mpsc;

use crate::{ensure_topic, KafkaLogError, LogRecord, Result, TopicSpec};

/// Records fetched ahead of the connector at most.
pub const QUEUE: usize = 64;

/// Where the channel starts reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalStart {
    /// At the record after this offset (the last signal acted upon).
    After(i64),
    /// At the group's committed offset, else the beginning.
    Committed,
}

/// An open signal channel; dropping it stops its thread.
pub struct SignalChannel {
    topic: String,
    rx: mpsc::Receiver<LogRecord>,
    stop: Arc<AtomicBool>,
}

impl SignalChannel {
    /// Opens the channel on partition 0 of `topic` with the consumer
    /// settings `settings` (librdkafka names; `bootstrap.servers` and
    /// `group.id` among them), creating the topic when absent. Fails when
    /// the broker cannot be reached or the consumer not created.
    pub async fn open(
        settings: &[(String, String)],
        topic: &str,
        start: SignalStart,
        poll_timeout: Duration,
    ) -> Result<SignalChannel> {
        let mut client = ClientConfig::new();
        for (k, v) in settings {
            client.set(k, v);
        }
        ensure_topic(
            &client,
            &TopicSpec::new(topic, 1, 1),
            "create the topic named by signal.kafka.topic (one partition), or let the connector's user create topics",
        )
        .await?;
        let mut cc = client;
        cc.set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false");
        for (k, v) in [
            ("auto.offset.reset", "earliest"),
            ("group.id", "kafka-signal"),
        ] {
            if cc.get(k).is_none() {
                cc.set(k, v);
            }
        }
        let consumer: BaseConsumer = cc.create().map_err(|e| {
            KafkaLogError::kafka(format!("creating the signal reader of {topic}"), e)
        })?;
        let mut tpl = TopicPartitionList::new();
        let offset = match start {
            SignalStart::After(o) => Offset::Offset(o + 1),
            SignalStart::Committed => Offset::Stored,
        };
        tpl.add_partition_offset(topic, 0, offset)
            .map_err(|e| KafkaLogError::kafka(format!("assigning {topic}"), e))?;
        consumer
            .assign(&tpl)
            .map_err(|e| KafkaLogError::kafka(format!("assigning {topic}"), e))?;
        tracing::info!(%topic, ?start, "Subscribing to signals topic '{topic}'");
        let (tx, rx) = mpsc::channel(QUEUE);
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let name = topic.to_owned();
        let wait = poll_timeout.clamp(Duration::from_millis(100), Duration::from_millis(500));
        std::thread::Builder::new()
            .name("velocity-signals".into())
            .spawn(move || read_loop(consumer, &name, wait, &tx, &stopped))
            .map_err(|e| KafkaLogError::Config(format!("starting the signal reader: {e}")))?;
        Ok(SignalChannel {
            topic: topic.to_owned(),
            rx,
            stop,
        })
    }

    /// The topic.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The next record (waits; cancel-safe). Err only when the reader
    /// thread ended (it panicked): a lasting broker failure is retried and
    /// logged by the thread, and `recv` keeps waiting.
    pub async fn recv(&mut self) -> Result<LogRecord> {
        match self.rx.recv().await {
            Some(r) => Ok(r),
            None => Err(KafkaLogError::Config(format!(
                "the signal reader of {} stopped",
                self.topic
            ))),
        }
    }

    /// The next record if one is fetched already.
    pub fn try_recv(&mut self) -> Option<LogRecord> {
        self.rx.try_recv().ok()
    }
}

/// Opens the Kafka channel of `cfg` (None when `signal.enabled.channels`
/// does not list `kafka`) after `resume`, the position of the last signal
/// acted upon that the stored offset holds
/// ([`velocity_api::debezium::incremental::SIGNAL_OFFSET`]), else at the
/// group's committed offset. Err: the topic and the failure.
pub async fn open_configured(
    cfg: &velocity_api::debezium::signal::SignalConfig,
    resume: Option<i64>,
) -> std::result::Result<Option<SignalChannel>, (String, KafkaLogError)> {
    let Some(k) = &cfg.kafka else {
        return Ok(None);
    };
    let start = resume.map_or(SignalStart::Committed, SignalStart::After);
    SignalChannel::open(&k.client_settings(), &k.topic, start, k.poll_timeout)
        .await
        .map(Some)
        .map_err(|e| (k.topic.clone(), e))
}

/// The next record of `ch`, pending forever without a channel (a select
/// branch that never fires when the Kafka channel is off).
pub async fn next(ch: &mut Option<SignalChannel>) -> Result<LogRecord> {
    match ch {
        Some(ch) => ch.recv().await,
        None => std::future::pending().await,
    }
}

impl Drop for SignalChannel {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn read_loop(
    consumer: BaseConsumer,
    topic: &str,
    wait: Duration,
    tx: &mpsc::Sender<LogRecord>,
    stop: &AtomicBool,
) {
    let mut failures = 0u32;
    while !stop.load(Ordering::Relaxed) && !tx.is_closed() {
        match consumer.poll(wait) {
            None => {}
            Some(Ok(m)) => {
                failures = 0;
                let rec = LogRecord {
                    partition: m.partition(),
                    offset: m.offset(),
                    key: m.key().map(<[u8]>::to_vec),
                    value: m.payload().map(<[u8]>::to_vec),
                };
                if tx.blocking_send(rec).is_err() {
                    return;
                }
            }
            Some(Err(e)) => {
                // librdkafka retries transient failures itself; report a
                // lasting one without stopping the reader
                failures += 1;
                if failures == 1 || failures.is_power_of_two() {
                    tracing::warn!(%topic, error = %e, failures, "reading the signal topic failed; retrying");
                }
                std::thread::sleep(wait);
            }
        }
    }
}
