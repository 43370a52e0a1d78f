//! Connector and task statuses in Kafka Connect's status topic: the
//! equivalent of its `KafkaStatusBackingStore`.
//!
//! Contracts:
//! - [`KafkaStatusStore::open`] creates the topic when absent (compacted,
//!   `status.storage.partitions`, default 5) or verifies it, and reads it to
//!   its end.
//! - Each worker writes the statuses of the connectors and tasks it runs
//!   (`status-connector-<name>`, `status-task-<name>-<id>`, values
//!   `{"state","trace","worker_id","generation"}`); a write returns once the
//!   broker acknowledged it, and the local view is updated at once.
//! - [`KafkaStatusStore::refresh`] reads what the other workers wrote since;
//!   as in Kafka Connect's reader, the last record of a key wins. Writers
//!   keep it right: a worker that stops something writes UNASSIGNED only
//!   over its own status (Kafka Connect's "safe write" allows it over an
//!   older generation too; Velocity is stricter), and a worker re-writes
//!   the status of what it runs whenever the topic shows something else
//!   (the distributed herder's `publish`).
//! - A tombstone (the connector was deleted) removes the entry.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use rdkafka::ClientConfig;

use super::formats::{StatusRecord, StatusValue, TaskId};
use crate::error::Result;
use crate::kafka_log::{ensure_internal_topic, KafkaLog, TopicSpec, STATUS_TOPIC};

/// `status.storage.partitions`' default.
pub const DEFAULT_PARTITIONS: i32 = 5;

#[derive(Debug, Default)]
struct View {
    connectors: BTreeMap<String, StatusValue>,
    tasks: BTreeMap<TaskId, StatusValue>,
}

impl View {
    fn apply(&mut self, record: StatusRecord) {
        match record {
            StatusRecord::Connector(name, None) => {
                self.connectors.remove(&name);
            }
            StatusRecord::Connector(name, Some(v)) => {
                self.connectors.insert(name, v);
            }
            StatusRecord::Task(id, None) => {
                self.tasks.remove(&id);
            }
            StatusRecord::Task(id, Some(v)) => {
                self.tasks.insert(id, v);
            }
            StatusRecord::Topic { .. } => {}
        }
    }
}

/// The status topic shared by the workers of a group.
pub struct KafkaStatusStore {
    log: KafkaLog,
    sync_timeout: Duration,
    view: Mutex<View>,
}

impl KafkaStatusStore {
    /// Opens the store on `topic` (created or verified as the module docs
    /// say) and reads it to its end within `sync_timeout`.
    pub async fn open(
        client: &ClientConfig,
        topic: &str,
        partitions: i32,
        replication_factor: i32,
        sync_timeout: Duration,
    ) -> Result<KafkaStatusStore> {
        ensure_internal_topic(
            client,
            &TopicSpec::compacted(topic, partitions, replication_factor),
            STATUS_TOPIC,
        )
        .await
        .map_err(super::store_err)?;
        let store = KafkaStatusStore {
            log: KafkaLog::new(client, topic).map_err(super::store_err)?,
            sync_timeout,
            view: Mutex::new(View::default()),
        };
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
        let Ok(mut view) = self.view.lock() else {
            return Ok(());
        };
        for r in records {
            let Some(key) = r.key.as_deref().and_then(|k| std::str::from_utf8(k).ok()) else {
                continue;
            };
            match StatusRecord::decode(key, r.value.as_deref()) {
                Ok(Some(rec)) => view.apply(rec),
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(topic = self.log.topic(), error = %e, "skipping a status record")
                }
            }
        }
        Ok(())
    }

    /// Writes `record` (acknowledged by the broker) and applies it locally.
    pub async fn put(&self, record: StatusRecord) -> Result<()> {
        let (key, value) = record.encode();
        self.log
            .send(None, Some(key.as_bytes()), value.as_deref())
            .await
            .map_err(super::store_err)?;
        if let Ok(mut view) = self.view.lock() {
            view.apply(record);
        }
        Ok(())
    }

    /// The connector's last known status.
    pub fn connector(&self, name: &str) -> Option<StatusValue> {
        self.view
            .lock()
            .ok()
            .and_then(|v| v.connectors.get(name).cloned())
    }

    /// The task's last known status.
    pub fn task(&self, connector: &str, task: u32) -> Option<StatusValue> {
        let id = TaskId {
            connector: connector.to_owned(),
            task,
        };
        self.view
            .lock()
            .ok()
            .and_then(|v| v.tasks.get(&id).cloned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(state: &str, worker: &str, generation: i32) -> StatusValue {
        StatusValue {
            state: state.into(),
            trace: None,
            worker_id: worker.into(),
            generation,
            version: None,
        }
    }

    #[test]
    fn the_last_record_of_a_key_wins_and_a_tombstone_removes_it() {
        let mut view = View::default();
        let id = TaskId {
            connector: "c".into(),
            task: 0,
        };
        view.apply(StatusRecord::Task(id.clone(), Some(v("RUNNING", "b:1", 3))));
        view.apply(StatusRecord::Task(
            id.clone(),
            Some(v("UNASSIGNED", "a:1", 2)),
        ));
        assert_eq!(view.tasks[&id].worker_id, "a:1");
        view.apply(StatusRecord::Task(id.clone(), Some(v("RUNNING", "b:1", 3))));
        assert_eq!(view.tasks[&id].state, "RUNNING");
        view.apply(StatusRecord::Connector(
            "c".into(),
            Some(v("RUNNING", "b:1", 3)),
        ));
        view.apply(StatusRecord::Connector("c".into(), None));
        view.apply(StatusRecord::Task(id.clone(), None));
        assert!(view.tasks.is_empty() && view.connectors.is_empty());
    }
}
