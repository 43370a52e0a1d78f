//! `velocity tail`: print topic records as JSON lines (a small
//! `kafka-console-consumer` for the demo and for debugging).
//!
//! A key or value that is valid JSON is printed verbatim, byte for byte as
//! it is in the topic (never re-serialised, so numbers such as `-1.25E300`
//! keep their spelling); anything else is printed as a JSON string (bytes
//! that are not UTF-8 replaced by U+FFFD); a missing key or value as `null`.

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::Context;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{ClientConfig, Message};

/// One key or value as JSON text: the bytes themselves when they are valid
/// JSON, else a JSON string of them, `null` when absent.
fn text(b: Option<&[u8]>) -> String {
    match b {
        None => "null".to_owned(),
        Some(b) => match serde_json::from_slice::<&serde_json::value::RawValue>(b) {
            // valid JSON: printed as it is in the topic (surrounding
            // whitespace trimmed by the parser)
            Ok(raw) => raw.get().to_owned(),
            Err(_) => serde_json::Value::from(String::from_utf8_lossy(b).into_owned()).to_string(),
        },
    }
}

/// The output line of one record.
fn line(
    topic: &str,
    partition: i32,
    offset: i64,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
) -> String {
    format!(
        "{{\"topic\":{},\"partition\":{partition},\"offset\":{offset},\"key\":{},\"value\":{}}}",
        serde_json::Value::from(topic),
        text(key),
        text(value)
    )
}

/// Reads `topics` from the beginning and prints each record until
/// `max_records` are printed or `idle` passes without a record; with
/// `summary`, prints only the record count and key/value byte totals at the end.
pub fn run(
    bootstrap: &str,
    topics: &[String],
    max_records: Option<usize>,
    idle: Option<Duration>,
    summary: bool,
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
    let (mut key_bytes, mut value_bytes) = (0usize, 0usize);
    let mut last = Instant::now();
    loop {
        if max_records.is_some_and(|m| n >= m) || idle.is_some_and(|i| last.elapsed() >= i) {
            if summary {
                writeln!(
                    out,
                    "records={n} key_bytes={key_bytes} value_bytes={value_bytes}"
                )?;
            }
            return Ok(());
        }
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => {
                key_bytes += m.key().map_or(0, <[u8]>::len);
                value_bytes += m.payload().map_or(0, <[u8]>::len);
                if !summary {
                    let l = line(m.topic(), m.partition(), m.offset(), m.key(), m.payload());
                    writeln!(out, "{l}")?;
                }
                n += 1;
                last = Instant::now();
            }
            Some(Err(e)) => eprintln!("consumer: {e}"),
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_payloads_are_printed_verbatim() {
        let v = br#"{"schema":null,"payload":{"d":-1.25E300,"f":1.0,"n":100000000000000000001}}"#;
        let l = line("t", 0, 7, Some(b"{\"id\":1}"), Some(v));
        assert_eq!(
            l,
            r#"{"topic":"t","partition":0,"offset":7,"key":{"id":1},"value":{"schema":null,"payload":{"d":-1.25E300,"f":1.0,"n":100000000000000000001}}}"#
        );
        // the line is itself valid JSON
        serde_json::from_str::<serde_json::Value>(&l).unwrap();
    }

    #[test]
    fn other_payloads_become_strings_and_absent_ones_null() {
        assert_eq!(text(Some(b"plain text")), r#""plain text""#);
        assert_eq!(text(Some(b"{\"open\": ")), r#""{\"open\": ""#);
        assert_eq!(text(None), "null");
        assert_eq!(text(Some(b" 12.50 ")), "12.50");
    }
}
