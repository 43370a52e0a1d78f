//! Connector configs and target states in Kafka Connect's config topic,
//! behind the [`ConfigStore`] seam the herder uses.
//!
//! Contracts:
//! - [`KafkaConfigStore::open`] creates the topic when absent (one
//!   partition, compacted), refuses one with several partitions or another
//!   cleanup policy with Kafka Connect's messages, and reads it to its end;
//!   the snapshot follows [`ConfigSnapshot`]'s rules, so connectors written
//!   by Kafka Connect are loaded as Kafka Connect would load them.
//! - [`ConfigStore::save`] writes only what changed, as Kafka Connect does:
//!   `target-state-<name>` before `connector-<name>` for a new connector, a
//!   connector tombstone then a target-state tombstone for a deleted one,
//!   each record acknowledged before the next.
//! - [`KafkaConfigStore::refresh`] follows the topic (records of other
//!   workers or of Kafka Connect); [`KafkaConfigStore::append`] writes any
//!   record (task configs and their commit, restart requests) for the
//!   distributed herder.
//! - Standalone-style use through [`ConfigStore`] (one worker) does not
//!   write task configs: that herder regenerates them at start.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use rdkafka::ClientConfig;

use super::config_state::ConfigSnapshot;
use super::formats::ConfigRecord;
use crate::configstore::{ConfigStore, StoredConnector};
use crate::error::Result;
use crate::kafka_log::{ensure_internal_topic, KafkaLog, TopicSpec, CONFIG_TOPIC};

/// The config topic as a [`ConfigStore`].
pub struct KafkaConfigStore {
    log: KafkaLog,
    sync_timeout: Duration,
    snapshot: Mutex<ConfigSnapshot>,
}

impl KafkaConfigStore {
    /// Opens the store on `topic` and reads it to its end within `sync_timeout`.
    pub async fn open(
        client: &ClientConfig,
        topic: &str,
        replication_factor: i32,
        sync_timeout: Duration,
    ) -> Result<KafkaConfigStore> {
        ensure_internal_topic(
            client,
            &TopicSpec::compacted(topic, 1, replication_factor),
            CONFIG_TOPIC,
        )
        .await
        .map_err(super::store_err)?;
        let store = KafkaConfigStore {
            log: KafkaLog::new(client, topic).map_err(super::store_err)?,
            sync_timeout,
            snapshot: Mutex::new(ConfigSnapshot::new()),
        };
        store.refresh().await?;
        Ok(store)
    }

    /// Reads what was written since the last read (by any worker, or by
    /// Kafka Connect) and applies it; true when anything was read.
    pub async fn refresh(&self) -> Result<bool> {
        let records = self
            .log
            .read_to_end(self.sync_timeout)
            .await
            .map_err(super::store_err)?;
        let topic = self.log.topic();
        let Ok(mut snapshot) = self.snapshot.lock() else {
            return Ok(false);
        };
        let any = !records.is_empty();
        for r in records {
            let Some(key) = r.key.as_deref().and_then(|k| std::str::from_utf8(k).ok()) else {
                tracing::error!(%topic, offset = r.offset, "Discarding config update record with invalid key");
                continue;
            };
            match ConfigRecord::decode(key, r.value.as_deref()) {
                Ok(Some(rec)) => snapshot.apply(r.offset, rec),
                Ok(None) => {
                    tracing::error!(%topic, %key, "Discarding config update record with invalid key")
                }
                Err(e) => tracing::error!(%topic, error = %e, "Invalid data for config"),
            }
        }
        Ok(any)
    }

    /// Appends `records` in order, each acknowledged before the next, and
    /// applies them to the snapshot as they are acknowledged.
    pub async fn append(&self, records: Vec<ConfigRecord>) -> Result<()> {
        for rec in records {
            let (k, v) = rec.encode();
            let (_, offset) = self
                .log
                .send(Some(0), Some(k.as_bytes()), v.as_deref())
                .await
                .map_err(super::store_err)?;
            if let Ok(mut s) = self.snapshot.lock() {
                s.apply(offset, rec);
            }
        }
        Ok(())
    }

    /// A copy of the snapshot read so far (with this worker's writes).
    pub fn snapshot(&self) -> ConfigSnapshot {
        self.snapshot
            .lock()
            .map(|s| s.clone())
            .unwrap_or_else(|_| ConfigSnapshot::new())
    }

    /// Takes the restart requests read since the last call (in topic order).
    pub fn take_restarts(&self) -> Vec<super::config_state::RestartRequest> {
        self.snapshot
            .lock()
            .map(|mut s| std::mem::take(&mut s.restarts))
            .unwrap_or_default()
    }

    fn write(&self, records: Vec<ConfigRecord>) -> Result<()> {
        futures::executor::block_on(self.append(records))
    }
}

impl ConfigStore for KafkaConfigStore {
    fn load(&self) -> Result<BTreeMap<String, StoredConnector>> {
        let s = self.snapshot();
        Ok(s.connectors
            .iter()
            .map(|(name, config)| {
                (
                    name.clone(),
                    StoredConnector {
                        config: config.clone(),
                        target_state: s
                            .target_state(name)
                            .unwrap_or(crate::status::TargetState::Started),
                    },
                )
            })
            .collect())
    }

    fn save(&self, all: &BTreeMap<String, StoredConnector>) -> Result<()> {
        let s = self.snapshot();
        let mut records = Vec::new();
        for (name, c) in all {
            let known = s.connectors.get(name);
            if s.target_state(name) != Some(c.target_state) {
                records.push(ConfigRecord::TargetState {
                    connector: name.clone(),
                    state: Some(c.target_state),
                });
            }
            if known != Some(&c.config) {
                records.push(ConfigRecord::Connector {
                    name: name.clone(),
                    config: Some(c.config.clone()),
                });
            }
        }
        for name in s.connectors.keys().filter(|n| !all.contains_key(*n)) {
            records.push(ConfigRecord::Connector {
                name: name.clone(),
                config: None,
            });
            records.push(ConfigRecord::TargetState {
                connector: name.clone(),
                state: None,
            });
        }
        self.write(records)
    }
}
