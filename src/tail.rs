//! `velocity tail`: print topic records as JSON lines (a small
//! `kafka-console-consumer` for the demo and for debugging).

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::Context;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{ClientConfig, Message};

fn text(b: Option<&[u8]>) -> serde_json::Value {
    match b {
        None => serde_json::Value::Null,
        Some(b) => serde_json::from_slice(b)
            .unwrap_or_else(|_| String::from_utf8_lossy(b).into_owned().into()),
    }
}

/// Reads `topics` from the beginning and prints each record until
/// `max_records` are printed or `idle` passes without a record.
pub fn run(
    bootstrap: &str,
    topics: &[String],
    max_records: Option<usize>,
    idle: Option<Duration>,
) -> anyhow::Result<()> {
    let pid = std::process::id();
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", format!("velocity-tail-{pid}"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .set("topic.metadata.refresh.interval.ms", "500")
        .create()
        .context("creating the consumer")?;
    let refs: Vec<&str> = topics.iter().map(String::as_str).collect();
    consumer.subscribe(&refs).context("subscribing")?;
    let mut out = std::io::stdout().lock();
    let mut n = 0usize;
    let mut last = Instant::now();
    loop {
        if max_records.is_some_and(|m| n >= m) || idle.is_some_and(|i| last.elapsed() >= i) {
            return Ok(());
        }
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => {
                let line = serde_json::json!({
                    "topic": m.topic(), "partition": m.partition(), "offset": m.offset(),
                    "key": text(m.key()), "value": text(m.payload()),
                });
                writeln!(out, "{line}")?;
                n += 1;
                last = Instant::now();
            }
            Some(Err(e)) => eprintln!("consumer: {e}"),
            None => {}
        }
    }
}
