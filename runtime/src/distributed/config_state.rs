//! The config topic folded into a snapshot, with Kafka Connect's rules
//! (`KafkaConfigBackingStore`'s consumer callback):
//! - a connector tombstone removes its config, target state and tasks;
//! - a connector without a target state record is STARTED;
//! - task configs stay pending until the connector's `commit-` record is
//!   read; the commit applies task ids `0..tasks` of the pending configs and
//!   drops the older task set; a commit that names tasks that were never
//!   written marks the connector inconsistent (no tasks applied) until the
//!   next complete commit; a commit for a connector without config is
//!   ignored (compaction removed the connector's config and tombstone);
//! - restart requests and logger levels are kept for whoever acts on them.

use std::collections::{BTreeMap, BTreeSet};

use velocity_api::RawConfig;

use super::formats::{ConfigRecord, SessionKey};
use crate::status::TargetState;

/// A restart request read from the config topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestartRequest {
    /// The connector.
    pub connector: String,
    /// Its tasks too.
    pub include_tasks: bool,
    /// Only failed instances.
    pub only_failed: bool,
}

/// Everything the config topic says, as of `offset`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigSnapshot {
    /// The offset after the last applied record (-1: nothing read).
    pub offset: i64,
    /// Connector configs.
    pub connectors: BTreeMap<String, RawConfig>,
    /// Target states (explicit records only; see [`ConfigSnapshot::target_state`]).
    pub target_states: BTreeMap<String, TargetState>,
    /// Committed task configs per connector, by task id.
    pub tasks: BTreeMap<String, BTreeMap<u32, RawConfig>>,
    /// Connectors whose last commit named missing task configs.
    pub inconsistent: BTreeSet<String>,
    /// Task counts for fencing (exactly-once source support).
    pub task_counts: BTreeMap<String, u32>,
    /// The session key.
    pub session_key: Option<SessionKey>,
    /// Cluster-wide logger levels by namespace.
    pub logger_levels: BTreeMap<String, String>,
    /// Restart requests in topic order (consumers drain them).
    pub restarts: Vec<RestartRequest>,
    pending: BTreeMap<String, BTreeMap<u32, RawConfig>>,
}

impl ConfigSnapshot {
    /// An empty snapshot.
    pub fn new() -> ConfigSnapshot {
        ConfigSnapshot {
            offset: -1,
            ..ConfigSnapshot::default()
        }
    }

    /// The connector's target state (STARTED without a record), None when
    /// the connector does not exist.
    pub fn target_state(&self, connector: &str) -> Option<TargetState> {
        self.connectors.contains_key(connector).then(|| {
            self.target_states
                .get(connector)
                .copied()
                .unwrap_or(TargetState::Started)
        })
    }

    /// Applies the record read at `offset`.
    pub fn apply(&mut self, offset: i64, record: ConfigRecord) {
        self.offset = offset + 1;
        match record {
            ConfigRecord::Connector { name, config: None } => {
                self.connectors.remove(&name);
                self.target_states.remove(&name);
                self.tasks.remove(&name);
                self.pending.remove(&name);
                self.inconsistent.remove(&name);
            }
            ConfigRecord::Connector {
                name,
                config: Some(c),
            } => {
                self.connectors.insert(name, c);
            }
            ConfigRecord::Task {
                connector,
                task,
                config,
            } => match config {
                Some(c) => {
                    self.pending.entry(connector).or_default().insert(task, c);
                }
                None => {
                    if let Some(p) = self.pending.get_mut(&connector) {
                        p.remove(&task);
                    }
                }
            },
            ConfigRecord::Commit { connector, tasks } => {
                let pending = self.pending.remove(&connector).unwrap_or_default();
                if !self.connectors.contains_key(&connector) {
                    // deleted, and compaction removed its config and tombstone
                    self.tasks.remove(&connector);
                } else if (0..tasks).all(|t| pending.contains_key(&t)) {
                    let applied: BTreeMap<u32, RawConfig> =
                        pending.into_iter().filter(|(t, _)| *t < tasks).collect();
                    self.tasks.insert(connector.clone(), applied);
                    self.inconsistent.remove(&connector);
                } else {
                    tracing::warn!(%connector, tasks, "a task commit names task configs that were never written; the connector is inconsistent until its tasks are reconfigured");
                    self.inconsistent.insert(connector);
                }
            }
            ConfigRecord::TargetState { connector, state } => match state {
                Some(s) => {
                    self.target_states.insert(connector, s);
                }
                None => {
                    self.target_states.remove(&connector);
                }
            },
            ConfigRecord::Restart {
                connector,
                include_tasks,
                only_failed,
            } => self.restarts.push(RestartRequest {
                connector,
                include_tasks,
                only_failed,
            }),
            ConfigRecord::TaskCount {
                connector,
                task_count,
            } => {
                self.task_counts.insert(connector, task_count);
            }
            ConfigRecord::SessionKey(k) => self.session_key = Some(k),
            ConfigRecord::LoggerLevel { namespace, level } => match level {
                Some(l) => {
                    self.logger_levels.insert(namespace, l);
                }
                None => {
                    self.logger_levels.remove(&namespace);
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(v: &str) -> Option<RawConfig> {
        Some([("k".to_owned(), v.to_owned())].into())
    }

    #[test]
    fn tasks_apply_only_at_commit_and_incomplete_commits_are_inconsistent() {
        let mut s = ConfigSnapshot::new();
        s.apply(
            0,
            ConfigRecord::Connector {
                name: "c".into(),
                config: cfg("x"),
            },
        );
        s.apply(
            1,
            ConfigRecord::Task {
                connector: "c".into(),
                task: 0,
                config: cfg("t0"),
            },
        );
        assert!(!s.tasks.contains_key("c"), "not before the commit");
        assert_eq!(s.target_state("c"), Some(TargetState::Started));
        s.apply(
            2,
            ConfigRecord::Task {
                connector: "c".into(),
                task: 1,
                config: cfg("t1"),
            },
        );
        s.apply(
            3,
            ConfigRecord::Commit {
                connector: "c".into(),
                tasks: 2,
            },
        );
        assert_eq!(s.tasks["c"].len(), 2);
        assert_eq!(s.offset, 4);
        // a commit of 3 with only task 0 rewritten: inconsistent, old tasks stay
        s.apply(
            4,
            ConfigRecord::Task {
                connector: "c".into(),
                task: 0,
                config: cfg("n0"),
            },
        );
        s.apply(
            5,
            ConfigRecord::Commit {
                connector: "c".into(),
                tasks: 3,
            },
        );
        assert!(s.inconsistent.contains("c"));
        assert_eq!(s.tasks["c"][&0], cfg("t0").unwrap());
        // the stop: zero tasks
        s.apply(
            6,
            ConfigRecord::Commit {
                connector: "c".into(),
                tasks: 0,
            },
        );
        assert!(s.tasks["c"].is_empty());
        assert!(!s.inconsistent.contains("c"));
        s.apply(
            7,
            ConfigRecord::TargetState {
                connector: "c".into(),
                state: Some(TargetState::Stopped),
            },
        );
        assert_eq!(s.target_state("c"), Some(TargetState::Stopped));
        s.apply(
            8,
            ConfigRecord::Connector {
                name: "c".into(),
                config: None,
            },
        );
        assert_eq!(s.target_state("c"), None);
        assert!(s.tasks.is_empty() && s.target_states.is_empty());
    }
}
