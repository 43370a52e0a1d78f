//! Sink connector offsets over REST (KIP-875): the committed offsets of the
//! sink's consumer group `connect-<name>`, shown, altered and reset in Kafka
//! Connect's form
//! `{"partition":{"kafka_topic":"t","kafka_partition":0},"offset":{"kafka_offset":42}}`.
//!
//! GET reads the group's committed offsets of every partition of the
//! connector's `topics` (or the topics matching `topics.regex`); PATCH
//! commits the given offsets for the group (the connector is STOPPED, so the
//! group has no member); DELETE deletes the group, as Kafka Connect does.
//! A `null` offset for one partition would need Kafka's
//! DeleteConsumerGroupOffsets, which librdkafka does not expose: such a
//! request is refused (400) naming DELETE as the way to reset.

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use serde_json::{json, Value as Json};
use velocity_api::config::ConfigExt;
use velocity_api::RawConfig;

use crate::config::WorkerConfig;
use crate::error::{Result, RuntimeError};
use crate::worker::{admin_config, consumer_config};

const TIMEOUT: Duration = Duration::from_secs(15);

fn kafka(what: &str, e: impl std::fmt::Display) -> RuntimeError {
    RuntimeError::Kafka(format!("{what}: {e}"))
}

/// The consumer group of sink connector `name`.
pub fn group(name: &str) -> String {
    format!("connect-{name}")
}

fn consumer(worker: &WorkerConfig, connector: &RawConfig, name: &str) -> Result<BaseConsumer> {
    consumer_config(
        worker,
        connector,
        &group(name),
        &format!("connector-offsets-{name}"),
    )
    .create()
    .map_err(|e| kafka("creating the offsets consumer", e))
}

/// Partitions of the connector's topics, from the cluster's metadata.
fn partitions(c: &BaseConsumer, connector: &RawConfig) -> Result<TopicPartitionList> {
    let md = c
        .fetch_metadata(None, TIMEOUT)
        .map_err(|e| kafka("reading topic metadata", e))?;
    let listed: Vec<&str> = connector
        .opt_str("topics")
        .map(|t| {
            t.split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let regex = match connector.opt_str("topics.regex") {
        Some(r) => Some(
            regex::Regex::new(&format!("^(?:{r})$"))
                .map_err(|e| RuntimeError::BadRequest(format!("topics.regex: {e}")))?,
        ),
        None => None,
    };
    let mut tpl = TopicPartitionList::new();
    for t in md.topics() {
        let wanted =
            listed.contains(&t.name()) || regex.as_ref().is_some_and(|r| r.is_match(t.name()));
        if wanted {
            for p in t.partitions() {
                tpl.add_partition(t.name(), p.id());
            }
        }
    }
    Ok(tpl)
}

/// `GET /connectors/{name}/offsets` for a sink connector.
pub async fn get(worker: &WorkerConfig, connector: &RawConfig, name: &str) -> Result<Json> {
    let c = consumer(worker, connector, name)?;
    let connector = connector.clone();
    tokio::task::spawn_blocking(move || {
        let tpl = partitions(&c, &connector)?;
        let committed = c
            .committed_offsets(tpl, TIMEOUT)
            .map_err(|e| kafka("reading the committed offsets", e))?;
        let list: Vec<Json> = committed
            .elements()
            .iter()
            .filter_map(|e| match e.offset() {
                Offset::Offset(o) => Some(json!({
                    "partition": {"kafka_topic": e.topic(), "kafka_partition": e.partition()},
                    "offset": {"kafka_offset": o},
                })),
                _ => None,
            })
            .collect();
        Ok(json!({ "offsets": list }))
    })
    .await
    .map_err(|e| kafka("offsets task", e))?
}

fn bad(msg: impl Into<String>) -> RuntimeError {
    RuntimeError::BadRequest(msg.into())
}

/// Parses one KIP-875 sink partition/offset pair.
fn parse_entry(
    p: &serde_json::Map<String, Json>,
    o: Option<&serde_json::Map<String, Json>>,
) -> Result<(String, i32, i64)> {
    let topic = p.get("kafka_topic").and_then(Json::as_str).ok_or_else(|| {
        bad("Kafka topic names must be valid strings: each partition needs \"kafka_topic\"")
    })?;
    let partition = p
        .get("kafka_partition")
        .and_then(|v| {
            v.as_i64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        })
        .and_then(|v| i32::try_from(v).ok())
        .ok_or_else(|| {
            bad("Kafka partitions must be valid integers: each partition needs \"kafka_partition\"")
        })?;
    let Some(o) = o else {
        return Err(bad(
            "Velocity cannot remove the committed offset of a single sink partition (librdkafka has no DeleteConsumerGroupOffsets); reset all of them with DELETE /connectors/{name}/offsets",
        ));
    };
    let offset = o
        .get("kafka_offset")
        .and_then(|v| v.as_i64().or_else(|| v.as_str().and_then(|s| s.parse().ok())))
        .filter(|v| *v >= 0)
        .ok_or_else(|| bad("Kafka offsets must be valid integers: each offset needs a non-negative \"kafka_offset\""))?;
    Ok((topic.to_owned(), partition, offset))
}

/// `PATCH /connectors/{name}/offsets` for a sink connector: commits the given
/// offsets for its group.
pub async fn alter(
    worker: &WorkerConfig,
    connector: &RawConfig,
    name: &str,
    offsets: &[(velocity_api::Partition, Option<velocity_api::Offset>)],
) -> Result<()> {
    let mut tpl = TopicPartitionList::new();
    for (p, o) in offsets {
        let (t, part, off) = parse_entry(p, o.as_ref())?;
        tpl.add_partition_offset(&t, part, Offset::Offset(off))
            .map_err(|e| kafka("building the offsets", e))?;
    }
    let c = consumer(worker, connector, name)?;
    tokio::task::spawn_blocking(move || {
        c.commit(&tpl, CommitMode::Sync)
            .map_err(|e| kafka("committing the offsets for the sink's consumer group", e))
    })
    .await
    .map_err(|e| kafka("offsets task", e))?
}

/// `DELETE /connectors/{name}/offsets` for a sink connector: deletes its
/// consumer group (a missing group counts as reset).
pub async fn reset(worker: &WorkerConfig, connector: &RawConfig, name: &str) -> Result<()> {
    let admin: AdminClient<DefaultClientContext> =
        admin_config(worker, connector, &format!("connector-offsets-{name}"))
            .create()
            .map_err(|e| kafka("creating the admin client", e))?;
    let g = group(name);
    let res = admin
        .delete_groups(
            &[g.as_str()],
            &AdminOptions::new().operation_timeout(Some(TIMEOUT)),
        )
        .await
        .map_err(|e| kafka("deleting the sink's consumer group", e))?;
    for r in res {
        match r {
            Ok(_) => {}
            Err((_, rdkafka::types::RDKafkaErrorCode::GroupIdNotFound)) => {}
            Err((g, code)) => {
                return Err(kafka(&format!("deleting the consumer group {g}"), code));
            }
        }
    }
    Ok(())
}
