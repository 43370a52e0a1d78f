//! Source offsets in Kafka Connect's offsets topic: the equivalent of its
//! `KafkaOffsetBackingStore`, behind the [`OffsetStore`] seam.
//!
//! Contracts:
//! - [`KafkaOffsetStore::open`] creates the topic when absent (compacted,
//!   `offset.storage.partitions`, `offset.storage.replication.factor`),
//!   refuses an existing one that is not compacted with Kafka Connect's
//!   message, and reads it to its end before returning: a worker never
//!   starts a task on stale offsets.
//! - [`KafkaOffsetStore::refresh`] reads what other workers (or Kafka
//!   Connect) wrote since; call it before starting a task that may have run
//!   elsewhere.
//! - [`OffsetStore::put`] writes one record per partition (key
//!   `["<connector>",{partition}]`, value the offset, tombstone for None) to
//!   the partition Java's partitioner picks, and returns once the broker
//!   acknowledged all of them; only then is the in-memory view updated.
//! - Keys are matched by content, not bytes, so offsets written by Kafka
//!   Connect with any field order are found.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::ClientConfig;
use velocity_api::{Offset, Partition};

use super::formats::{offset_key, offset_value, parse_offset_key, parse_offset_value};
use crate::error::{Result, RuntimeError};
use crate::kafka_log::{ensure_internal_topic, KafkaLog, TopicSpec, OFFSET_TOPIC};
use crate::offsets::OffsetStore;

/// `offset.storage.partitions`' default.
pub const DEFAULT_PARTITIONS: i32 = 25;

type Key = (String, String);

fn map_key(connector: &str, partition: &Partition) -> Key {
    (
        connector.to_owned(),
        serde_json::Value::Object(partition.clone()).to_string(),
    )
}

/// Offsets in a Kafka topic shared with other workers.
pub struct KafkaOffsetStore {
    log: KafkaLog,
    sync_timeout: Duration,
    data: Mutex<HashMap<Key, (Partition, Offset)>>,
    skipped: Mutex<u64>,
}

impl KafkaOffsetStore {
    /// Opens the store on `topic` (created or verified as described in the
    /// module docs) and reads it to its end within `sync_timeout`.
    pub async fn open(
        client: &ClientConfig,
        topic: &str,
        partitions: i32,
        replication_factor: i32,
        sync_timeout: Duration,
    ) -> Result<Arc<KafkaOffsetStore>> {
        ensure_internal_topic(
            client,
            &TopicSpec::compacted(topic, partitions, replication_factor),
            OFFSET_TOPIC,
        )
        .await
        .map_err(super::store_err)?;
        let store = Arc::new(KafkaOffsetStore {
            log: KafkaLog::new(client, topic).map_err(super::store_err)?,
            sync_timeout,
            data: Mutex::new(HashMap::new()),
            skipped: Mutex::new(0),
        });
        store.refresh().await?;
        Ok(store)
    }

    /// Reads the records written since the last read and applies them.
    pub async fn refresh(&self) -> Result<()> {
        let records = self
            .log
            .read_to_end(self.sync_timeout)
            .await
            .map_err(super::store_err)?;
        let mut data = self
            .data
            .lock()
            .map_err(|_| RuntimeError::Kafka("offset store lock poisoned".into()))?;
        for r in records {
            let Some((connector, partition)) = r.key.as_deref().and_then(parse_offset_key) else {
                tracing::warn!(
                    topic = self.log.topic(),
                    offset = r.offset,
                    "Ignoring offset partition key with an unexpected format"
                );
                self.count_skipped();
                continue;
            };
            match parse_offset_value(r.value.as_deref()) {
                Ok(Some(o)) => {
                    data.insert(map_key(&connector, &partition), (partition, o));
                }
                Ok(None) => {
                    data.remove(&map_key(&connector, &partition));
                }
                Err(e) => {
                    tracing::warn!(topic = self.log.topic(), offset = r.offset, error = %e, "skipping an offset record");
                    self.count_skipped();
                }
            }
        }
        Ok(())
    }

    fn count_skipped(&self) {
        if let Ok(mut n) = self.skipped.lock() {
            *n += 1;
        }
    }

    /// How many records were skipped as malformed (for tests and metrics).
    pub fn skipped_records(&self) -> u64 {
        self.skipped.lock().map(|n| *n).unwrap_or(0)
    }
}

impl OffsetStore for KafkaOffsetStore {
    fn get(&self, connector: &str, partition: &Partition) -> Option<Offset> {
        self.data
            .lock()
            .ok()?
            .get(&map_key(connector, partition))
            .map(|(_, o)| o.clone())
    }

    fn all(&self, connector: &str) -> Vec<(Partition, Offset)> {
        let Ok(data) = self.data.lock() else {
            return Vec::new();
        };
        let mut out: Vec<(Partition, Offset)> = data
            .iter()
            .filter(|((c, _), _)| c == connector)
            .map(|(_, v)| v.clone())
            .collect();
        out.sort_by_key(|(p, _)| serde_json::Value::Object(p.clone()).to_string());
        out
    }

    fn put(&self, connector: &str, offsets: &[(Partition, Option<Offset>)]) -> Result<()> {
        let sends = offsets.iter().map(|(p, o)| {
            let key = offset_key(connector, p);
            let value = offset_value(o.as_ref());
            async move { self.log.send(None, Some(&key), value.as_deref()).await }
        });
        // blocking like the file store's fsync; the source loop calls this
        // from a blocking thread
        futures::executor::block_on(futures::future::try_join_all(sends))
            .map_err(super::store_err)?;
        let mut data = self
            .data
            .lock()
            .map_err(|_| RuntimeError::Kafka("offset store lock poisoned".into()))?;
        for (p, o) in offsets {
            match o {
                Some(o) => data.insert(map_key(connector, p), (p.clone(), o.clone())),
                None => data.remove(&map_key(connector, p)),
            };
        }
        Ok(())
    }
}
