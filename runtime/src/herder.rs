//! The herder: owns every connector and task of this worker, applies REST
//! requests to them and keeps their configs and target states stored.
//!
//! Concurrency contract: every mutating operation takes the herder lock for
//! its whole duration, so operations on connectors are serialised (as in
//! Kafka Connect's standalone herder). Task loops never take this lock; they
//! publish their state through [`StatusHandle`]s, so status reads stay fast
//! while a connector is starting or stopping.
//!
//! Validation happens before anything is stored or started: a request that
//! fails validation leaves no trace.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex as StdMutex};

use serde_json::{json, Value as Json};
use tokio::sync::{watch, Mutex};
use tokio::task::JoinHandle;
use velocity_api::config::{looks_secret, ConfigExt, ConfigKey, ConfigType, Importance};
use velocity_api::{
    ConfigDef, Connector, PluginDesc, PluginKind, PluginRegistry, RawConfig, TaskContext,
};

use crate::configstore::{ConfigStore, StoredConnector};
use crate::error::{Result, RuntimeError};
use crate::offsets::{ConnectorOffsets, OffsetStore};
use crate::status::{State, Status, StatusHandle, TargetState};
use crate::worker::{self, TaskRuntime, WorkerContext};

/// The value shown instead of a secret.
pub const HIDDEN: &str = "[hidden]";

/// Keys every connector understands (Kafka Connect's `ConnectorConfig`).
pub fn common_config_def() -> ConfigDef {
    use ConfigType::*;
    use Importance::*;
    ConfigDef::new(vec![
        ConfigKey::new("name", String, None, High, "Globally unique name to use for this connector."),
        ConfigKey::new("connector.class", String, None, High, "Name or alias of the class for this connector."),
        ConfigKey::new("tasks.max", Int, Some("1"), High, "Maximum number of tasks to use for this connector."),
        ConfigKey::new("key.converter", Class, Some(""), Low, "Converter class used to convert between Kafka Connect format and the serialized form that is written to Kafka (keys). Overrides the worker's setting."),
        ConfigKey::new("value.converter", Class, Some(""), Low, "Converter class for values. Overrides the worker's setting."),
        ConfigKey::new("transforms", List, Some(""), Low, "Aliases for the transformations to be applied to records."),
        ConfigKey::new("predicates", List, Some(""), Low, "Aliases for the predicates used by transformations."),
        ConfigKey::new("errors.tolerance", String, Some("none"), Medium, "Behavior for tolerating errors during connector operation: 'none' fails the task, 'all' skips problematic records.").one_of(&["none", "all"]),
        ConfigKey::new("errors.log.enable", Boolean, Some("false"), Medium, "Log each error and the details of the failed operation."),
        ConfigKey::new("errors.log.include.messages", Boolean, Some("false"), Medium, "Include in the log the Connect record that resulted in a failure (key and value)."),
        ConfigKey::new("errors.deadletterqueue.topic.name", String, Some(""), Medium, "Sink connectors: the topic receiving records that failed conversion or transformation (with errors.tolerance=all). Created if absent."),
        ConfigKey::new("errors.deadletterqueue.topic.replication.factor", Short, Some("3"), Medium, "Replication factor used to create the dead letter queue topic when it does not exist."),
        ConfigKey::new("errors.deadletterqueue.context.headers.enable", Boolean, Some("false"), Medium, "Add __connect.errors.* headers with the error context to dead letter queue records."),
    ])
}

/// What REST shows for a connector.
#[derive(Debug, Clone)]
pub struct ConnectorInfo {
    /// Name.
    pub name: String,
    /// Config with secrets hidden.
    pub config: RawConfig,
    /// Task ids.
    pub tasks: Vec<u32>,
    /// `source` or `sink`.
    pub type_: &'static str,
}

impl ConnectorInfo {
    /// Kafka Connect's JSON form.
    pub fn to_json(&self) -> Json {
        json!({
            "name": self.name,
            "config": self.config,
            "tasks": self.tasks.iter().map(|t| json!({"connector": self.name, "task": t})).collect::<Vec<_>>(),
            "type": self.type_,
        })
    }
}

/// A running (or failed-to-start) task of this worker.
pub(crate) struct TaskHandle {
    /// The task number.
    pub(crate) id: u32,
    /// Its config as generated (placeholders kept).
    pub(crate) config: RawConfig,
    /// Its status, published by the task loop.
    pub(crate) status: StatusHandle,
    /// Pause/resume/stop control.
    pub(crate) control: watch::Sender<TargetState>,
    join: Option<JoinHandle<()>>,
}

impl TaskHandle {
    /// A task that could not be started: `status` says why.
    pub(crate) fn failed(id: u32, config: RawConfig, status: StatusHandle) -> TaskHandle {
        let (control, _) = watch::channel(TargetState::Stopped);
        TaskHandle {
            id,
            config,
            status,
            control,
            join: None,
        }
    }
}

/// Starts task `id` of connector `name` (`plugin`, connector config as
/// stored, with placeholders) with `task_config` in `target` state; a
/// config that cannot be resolved gives a FAILED handle, no task.
#[allow(clippy::too_many_arguments)]
pub(crate) fn spawn_task(
    ctx: &Arc<WorkerContext>,
    registry: &Arc<PluginRegistry>,
    offsets: &Arc<dyn OffsetStore>,
    name: &str,
    plugin: &PluginDesc,
    connector_config: &RawConfig,
    target: TargetState,
    topics: &Arc<StdMutex<BTreeSet<String>>>,
    id: u32,
    task_config: RawConfig,
) -> TaskHandle {
    tracing::info!(connector = %name, task = id, "Creating task {name}-{id}");
    let status = StatusHandle::new(State::Unassigned);
    let (tx, rx) = watch::channel(target);
    let providers = &ctx.config.providers;
    let resolved = providers
        .resolve(connector_config)
        .and_then(|c| Ok((c, providers.resolve(&task_config)?)));
    let (connector_config, resolved_task_config) = match resolved {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(connector = %name, task = id, error = %e, "task failed to start");
            status.set(Status::failed(e.to_string()));
            return TaskHandle {
                id,
                config: task_config,
                status,
                control: tx,
                join: None,
            };
        }
    };
    let task_ctx = TaskContext {
        connector: name.to_owned(),
        task_id: id,
        offsets: Arc::new(ConnectorOffsets {
            store: offsets.clone(),
            connector: name.to_owned(),
        }),
    };
    let rt = TaskRuntime {
        worker: ctx.clone(),
        registry: registry.clone(),
        connector_config,
        task_config: resolved_task_config,
        task_ctx,
        offsets: offsets.clone(),
        status: status.clone(),
        control: rx,
        topics: topics.clone(),
    };
    let join = match plugin.kind {
        PluginKind::Source { task, .. } => tokio::spawn(worker::source::run(task(), rt)),
        PluginKind::Sink { task, .. } => tokio::spawn(worker::sink::run(task(), rt)),
        PluginKind::Transform(_) | PluginKind::Predicate(_) | PluginKind::Converter(_) => {
            unreachable!("transforms and converters are not connectors")
        }
    };
    TaskHandle {
        id,
        config: task_config,
        status,
        control: tx,
        join: Some(join),
    }
}

/// Stops a task: asks it to stop (it commits its offsets) and waits up to
/// `task.shutdown.graceful.timeout.ms`, then aborts it.
pub(crate) async fn stop_task(ctx: &WorkerContext, task: &mut TaskHandle) {
    let _ = task.control.send(TargetState::Stopped);
    if let Some(mut join) = task.join.take() {
        let timeout = ctx.config.task_shutdown_timeout;
        if tokio::time::timeout(timeout, &mut join).await.is_err() {
            tracing::warn!(
                task = task.id,
                "task did not stop within task.shutdown.graceful.timeout.ms; aborting it"
            );
            join.abort();
        }
    }
}

struct ConnectorEntry {
    config: RawConfig,
    plugin: PluginDesc,
    target: TargetState,
    status: Status,
    instance: Option<Box<dyn Connector>>,
    tasks: Vec<TaskHandle>,
    topics: Arc<StdMutex<BTreeSet<String>>>,
}

/// The connector manager of one worker.
pub struct Herder {
    ctx: Arc<WorkerContext>,
    registry: Arc<PluginRegistry>,
    offsets: Arc<dyn OffsetStore>,
    configs: Arc<dyn ConfigStore>,
    connectors: Mutex<BTreeMap<String, ConnectorEntry>>,
}

fn not_found(name: &str) -> RuntimeError {
    RuntimeError::NotFound(format!("Connector {name} not found"))
}

/// Replaces the values of secret-looking keys with [`HIDDEN`].
pub fn redact(config: &RawConfig, def: &ConfigDef) -> RawConfig {
    config
        .iter()
        .map(|(k, v)| {
            let v = if (def.is_secret(k) || looks_secret(k))
                && !crate::config_providers::is_placeholder(v)
            {
                HIDDEN.to_owned()
            } else {
                v.clone()
            };
            (k.clone(), v)
        })
        .collect()
}

impl Herder {
    /// A herder over the given stores. Call [`Herder::restore`] to start the
    /// connectors the config store remembers.
    pub fn new(
        ctx: Arc<WorkerContext>,
        registry: Arc<PluginRegistry>,
        offsets: Arc<dyn OffsetStore>,
        configs: Arc<dyn ConfigStore>,
    ) -> Herder {
        Herder {
            ctx,
            registry,
            offsets,
            configs,
            connectors: Mutex::new(BTreeMap::new()),
        }
    }

    /// The worker id shown in statuses (`host:port`).
    pub fn worker_id(&self) -> &str {
        &self.ctx.worker_id
    }

    /// The plugin registry.
    pub fn registry(&self) -> &PluginRegistry {
        &self.registry
    }

    /// Starts every connector once: those of `given` (standalone's
    /// command-line files) with their given config, in the target state
    /// stored for them (started when none is stored), then every other
    /// stored connector with its stored config. A connector given and stored
    /// is started once, with the given config, never started and restarted.
    /// An invalid given config is returned as an error; a stored connector
    /// that cannot be restored is logged and skipped.
    pub async fn restore_with(&self, given: Vec<(String, RawConfig)>) -> Result<()> {
        let mut stored = self.configs.load()?;
        for (name, config) in given {
            let target = stored
                .remove(&name)
                .map_or(TargetState::Started, |s| s.target_state);
            self.put_config_inner(&name, config, Some(target), false)
                .await?;
        }
        for (name, s) in stored {
            if let Err(e) = self
                .put_config_inner(&name, s.config, Some(s.target_state), false)
                .await
            {
                tracing::error!(connector = %name, error = %e, "stored connector could not be restored");
            }
        }
        Ok(())
    }

    /// Validates a connector config the way `PUT /connector-plugins/{type}/config/validate` reports it.
    /// Placeholders of the worker's `config.providers` are resolved for the
    /// checks; the report keeps the values as given.
    pub fn validate(&self, given: &RawConfig) -> Result<ValidationReport> {
        validate_connector(&self.ctx, &self.registry, given)
    }

    /// Creates a connector (`POST /connectors`). 409 when it exists, 400 when
    /// the config is invalid; nothing is stored or started in either case.
    pub async fn create(
        &self,
        name: &str,
        config: RawConfig,
        initial: Option<TargetState>,
    ) -> Result<ConnectorInfo> {
        if self.connectors.lock().await.contains_key(name) {
            return Err(RuntimeError::AlreadyExists(format!(
                "Connector {name} already exists"
            )));
        }
        let (_, info) = self.put_config_inner(name, config, initial, true).await?;
        Ok(info)
    }

    /// Creates or replaces a connector's config (`PUT /connectors/{name}/config`);
    /// returns whether it was created. `[hidden]` values keep the stored value.
    pub async fn put_config(&self, name: &str, config: RawConfig) -> Result<(bool, ConnectorInfo)> {
        self.put_config_inner(name, config, None, false).await
    }

    /// Merges `patch` into the stored config (`PATCH /connectors/{name}/config`);
    /// a null value removes the key.
    pub async fn patch_config(
        &self,
        name: &str,
        patch: BTreeMap<String, Option<String>>,
    ) -> Result<ConnectorInfo> {
        let mut config = {
            let map = self.connectors.lock().await;
            map.get(name).ok_or_else(|| not_found(name))?.config.clone()
        };
        apply_patch(&mut config, patch);
        Ok(self.put_config_inner(name, config, None, false).await?.1)
    }

    async fn put_config_inner(
        &self,
        name: &str,
        mut config: RawConfig,
        initial: Option<TargetState>,
        must_be_new: bool,
    ) -> Result<(bool, ConnectorInfo)> {
        check_name(name, &mut config)?;
        let mut map = self.connectors.lock().await;
        if must_be_new && map.contains_key(name) {
            return Err(RuntimeError::AlreadyExists(format!(
                "Connector {name} already exists"
            )));
        }
        if let Some(existing) = map.get(name) {
            keep_hidden_values(&mut config, &existing.config);
        }
        let report = validated(self.validate(&config)?)?;
        let created = !map.contains_key(name);
        let (target, topics) = match map.remove(name) {
            Some(mut old) => {
                self.stop_entry(name, &mut old).await;
                (initial.unwrap_or(old.target), old.topics)
            }
            None => (
                initial.unwrap_or(TargetState::Started),
                Arc::new(StdMutex::new(BTreeSet::new())),
            ),
        };
        let mut entry = ConnectorEntry {
            config,
            plugin: report.plugin,
            target,
            status: Status::of(State::Unassigned),
            instance: None,
            tasks: Vec::new(),
            topics,
        };
        self.persist(&map, Some((name, &entry)))?;
        self.start_entry(name, &mut entry).await;
        let info = info_of(name, &entry);
        map.insert(name.to_owned(), entry);
        Ok((created, info))
    }

    fn persist(
        &self,
        map: &BTreeMap<String, ConnectorEntry>,
        extra: Option<(&str, &ConnectorEntry)>,
    ) -> Result<()> {
        let mut all: BTreeMap<String, StoredConnector> = map
            .iter()
            .map(|(k, e)| {
                (
                    k.clone(),
                    StoredConnector {
                        config: e.config.clone(),
                        target_state: e.target,
                    },
                )
            })
            .collect();
        if let Some((name, e)) = extra {
            all.insert(
                name.to_owned(),
                StoredConnector {
                    config: e.config.clone(),
                    target_state: e.target,
                },
            );
        }
        self.configs.save(&all)
    }

    async fn start_entry(&self, name: &str, entry: &mut ConnectorEntry) {
        if entry.target == TargetState::Stopped {
            entry.status = Status::of(State::Stopped);
            return;
        }
        let resolved = match self.ctx.config.providers.resolve(&entry.config) {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(connector = %name, error = %e, "connector failed to start");
                entry.status = Status::failed(e.to_string());
                return;
            }
        };
        let mut instance = make_connector(&entry.plugin);
        if let Err(e) = instance.start(&resolved).await {
            tracing::error!(connector = %name, error = %e, "connector failed to start");
            entry.status = Status::failed(e.to_string());
            return;
        }
        let max_tasks = entry.config.int_or("tasks.max", 1, 1, 1024).unwrap_or(1) as usize;
        let task_configs = match instance.task_configs(max_tasks).await {
            Ok(t) => t,
            Err(e) => {
                entry.status = Status::failed(e.to_string());
                let _ = instance.stop().await;
                return;
            }
        };
        entry.instance = Some(instance);
        entry.status = Status::of(if entry.target == TargetState::Paused {
            State::Paused
        } else {
            State::Running
        });
        for (i, tc) in task_configs.into_iter().enumerate() {
            // tasks keep the placeholders (Kafka's reverse transform); they
            // are resolved again when each task starts
            let tc = unresolve(tc, &entry.config, &resolved);
            let handle = self.spawn_task(name, entry, i as u32, tc);
            entry.tasks.push(handle);
        }
    }

    fn spawn_task(
        &self,
        name: &str,
        entry: &ConnectorEntry,
        id: u32,
        task_config: RawConfig,
    ) -> TaskHandle {
        spawn_task(
            &self.ctx,
            &self.registry,
            &self.offsets,
            name,
            &entry.plugin,
            &entry.config,
            entry.target,
            &entry.topics,
            id,
            task_config,
        )
    }

    async fn stop_task(&self, task: &mut TaskHandle) {
        stop_task(&self.ctx, task).await
    }

    async fn stop_entry(&self, name: &str, entry: &mut ConnectorEntry) {
        for t in entry.tasks.iter_mut() {
            self.stop_task(t).await;
        }
        entry.tasks.clear();
        if let Some(mut c) = entry.instance.take() {
            if let Err(e) = c.stop().await {
                tracing::warn!(connector = %name, error = %e, "connector stop failed");
            }
        }
    }

    /// Deletes a connector: stops it and forgets its config (offsets stay, as in Kafka Connect).
    pub async fn delete(&self, name: &str) -> Result<()> {
        let mut map = self.connectors.lock().await;
        let mut entry = map.remove(name).ok_or_else(|| not_found(name))?;
        self.stop_entry(name, &mut entry).await;
        self.persist(&map, None)
    }

    /// Changes the target state (`pause`, `resume`, `stop`).
    pub async fn set_target(&self, name: &str, target: TargetState) -> Result<()> {
        let mut map = self.connectors.lock().await;
        let mut entry = map.remove(name).ok_or_else(|| not_found(name))?;
        let old = entry.target;
        entry.target = target;
        match (old, target) {
            (TargetState::Stopped, TargetState::Stopped) => {}
            (_, TargetState::Stopped) => {
                self.stop_entry(name, &mut entry).await;
                entry.status = Status::of(State::Stopped);
            }
            (TargetState::Stopped, _) => {
                self.start_entry(name, &mut entry).await;
            }
            (_, t) => {
                for task in &entry.tasks {
                    let _ = task.control.send(t);
                }
                if entry.status.state != State::Failed {
                    entry.status = Status::of(if t == TargetState::Paused {
                        State::Paused
                    } else {
                        State::Running
                    });
                }
            }
        }
        map.insert(name.to_owned(), entry);
        self.persist(&map, None)
    }

    /// Restarts the connector and, with `include_tasks`, its tasks; with
    /// `only_failed`, only the instances that are FAILED.
    pub async fn restart(&self, name: &str, include_tasks: bool, only_failed: bool) -> Result<()> {
        let mut map = self.connectors.lock().await;
        let mut entry = map.remove(name).ok_or_else(|| not_found(name))?;
        let connector_failed = entry.status.state == State::Failed;
        let any_task_failed = entry
            .tasks
            .iter()
            .any(|t| t.status.get().state == State::Failed);
        let restart_connector = !only_failed || connector_failed;
        if restart_connector && (include_tasks || entry.tasks.is_empty() || connector_failed) {
            self.stop_entry(name, &mut entry).await;
            entry.status = Status::of(State::Restarting);
            self.start_entry(name, &mut entry).await;
        } else if include_tasks && (any_task_failed || !only_failed) {
            let ids: Vec<u32> = entry
                .tasks
                .iter()
                .filter(|t| !only_failed || t.status.get().state == State::Failed)
                .map(|t| t.id)
                .collect();
            for id in ids {
                self.restart_task_in(name, &mut entry, id).await;
            }
        } else if restart_connector {
            // restart the connector object only: tasks keep running
            if let Some(mut c) = entry.instance.take() {
                let _ = c.stop().await;
            }
            let mut c = make_connector(&entry.plugin);
            let started = match self.ctx.config.providers.resolve(&entry.config) {
                Ok(resolved) => c.start(&resolved).await.map_err(RuntimeError::from),
                Err(e) => Err(e),
            };
            match started {
                Ok(()) => {
                    entry.instance = Some(c);
                    entry.status = Status::of(if entry.target == TargetState::Paused {
                        State::Paused
                    } else {
                        State::Running
                    });
                }
                Err(e) => entry.status = Status::failed(e.to_string()),
            }
        }
        map.insert(name.to_owned(), entry);
        Ok(())
    }

    async fn restart_task_in(&self, name: &str, entry: &mut ConnectorEntry, id: u32) {
        let Some(pos) = entry.tasks.iter().position(|t| t.id == id) else {
            return;
        };
        let mut old = entry.tasks.remove(pos);
        self.stop_task(&mut old).await;
        let handle = self.spawn_task(name, entry, id, old.config);
        entry.tasks.insert(pos, handle);
    }

    /// Restarts one task (`POST /connectors/{name}/tasks/{id}/restart`).
    pub async fn restart_task(&self, name: &str, id: u32) -> Result<()> {
        let mut map = self.connectors.lock().await;
        let mut entry = map.remove(name).ok_or_else(|| not_found(name))?;
        let exists = entry.tasks.iter().any(|t| t.id == id);
        if exists {
            self.restart_task_in(name, &mut entry, id).await;
        }
        map.insert(name.to_owned(), entry);
        if exists {
            Ok(())
        } else {
            Err(RuntimeError::NotFound(format!(
                "Task {name}-{id} not found"
            )))
        }
    }

    /// Names of all connectors, sorted.
    pub async fn names(&self) -> Vec<String> {
        self.connectors.lock().await.keys().cloned().collect()
    }

    /// Connector info with secrets hidden.
    pub async fn info(&self, name: &str) -> Result<ConnectorInfo> {
        let map = self.connectors.lock().await;
        map.get(name)
            .map(|e| info_of(name, e))
            .ok_or_else(|| not_found(name))
    }

    /// Status JSON (`GET /connectors/{name}/status`).
    pub async fn status(&self, name: &str) -> Result<Json> {
        let map = self.connectors.lock().await;
        let e = map.get(name).ok_or_else(|| not_found(name))?;
        let tasks: Vec<Json> = e
            .tasks
            .iter()
            .map(|t| self.task_json(t, e.target))
            .collect();
        Ok(json!({
            "name": name,
            "connector": status_json(&e.status, &self.ctx.worker_id, None),
            "tasks": tasks,
            "type": e.plugin.kind.type_name(),
        }))
    }

    fn task_json(&self, t: &TaskHandle, target: TargetState) -> Json {
        let mut s = t.status.get();
        if s.state == State::Running && target == TargetState::Paused {
            s.state = State::Paused;
        }
        status_json(&s, &self.ctx.worker_id, Some(t.id))
    }

    /// One task's status.
    pub async fn task_status(&self, name: &str, id: u32) -> Result<Json> {
        let map = self.connectors.lock().await;
        let e = map.get(name).ok_or_else(|| not_found(name))?;
        e.tasks
            .iter()
            .find(|t| t.id == id)
            .map(|t| self.task_json(t, e.target))
            .ok_or_else(|| RuntimeError::NotFound(format!("No status found for task {name}-{id}")))
    }

    /// Task configs (`GET /connectors/{name}/tasks`), secrets hidden.
    pub async fn tasks(&self, name: &str) -> Result<Json> {
        let map = self.connectors.lock().await;
        let e = map.get(name).ok_or_else(|| not_found(name))?;
        let def = (e.plugin.config_def)();
        Ok(Json::Array(
            e.tasks
                .iter()
                .map(|t| json!({"id": {"connector": name, "task": t.id}, "config": redact(&t.config, &def)}))
                .collect(),
        ))
    }

    /// Topics the connector has produced to or consumed from since the last reset.
    pub async fn topics(&self, name: &str) -> Result<Vec<String>> {
        let map = self.connectors.lock().await;
        let e = map.get(name).ok_or_else(|| not_found(name))?;
        let topics = e
            .topics
            .lock()
            .map(|t| t.iter().cloned().collect())
            .unwrap_or_default();
        Ok(topics)
    }

    /// Forgets the active topics.
    pub async fn reset_topics(&self, name: &str) -> Result<()> {
        let map = self.connectors.lock().await;
        let e = map.get(name).ok_or_else(|| not_found(name))?;
        if let Ok(mut t) = e.topics.lock() {
            t.clear();
        }
        Ok(())
    }

    /// Stored source offsets (`GET /connectors/{name}/offsets`).
    pub async fn offsets(&self, name: &str) -> Result<Json> {
        let (plugin, config) = {
            let map = self.connectors.lock().await;
            let e = map.get(name).ok_or_else(|| not_found(name))?;
            (e.plugin, e.config.clone())
        };
        connector_offsets(&self.ctx, self.offsets.as_ref(), &plugin, &config, name).await
    }

    /// Alters (`Some`) or resets (`None`) offsets; the connector must be STOPPED (KIP-875).
    pub async fn alter_offsets(
        &self,
        name: &str,
        offsets: Option<Vec<(velocity_api::Partition, Option<velocity_api::Offset>)>>,
    ) -> Result<&'static str> {
        // the herder lock stays held: the connector cannot start meanwhile
        let map = self.connectors.lock().await;
        let e = map.get(name).ok_or_else(|| not_found(name))?;
        alter_connector_offsets(
            &self.ctx,
            self.offsets.as_ref(),
            &e.plugin,
            &e.config,
            e.target,
            name,
            offsets,
        )
        .await
    }

    /// Stops every connector (worker shutdown); configs stay stored.
    pub async fn shutdown(&self) {
        let mut map = self.connectors.lock().await;
        let names: Vec<String> = map.keys().cloned().collect();
        for n in names {
            if let Some(mut e) = map.remove(&n) {
                self.stop_entry(&n, &mut e).await;
            }
        }
    }
}

fn info_of(name: &str, e: &ConnectorEntry) -> ConnectorInfo {
    connector_info(
        name,
        &e.plugin,
        &e.config,
        e.tasks.iter().map(|t| t.id).collect(),
    )
}

/// What REST shows for connector `name` with `config` and `tasks`
/// (secrets hidden).
pub(crate) fn connector_info(
    name: &str,
    plugin: &PluginDesc,
    config: &RawConfig,
    tasks: Vec<u32>,
) -> ConnectorInfo {
    let def = common_config_def().with((plugin.config_def)().keys);
    ConnectorInfo {
        name: name.to_owned(),
        config: redact(config, &def),
        tasks,
        type_: plugin.kind.type_name(),
    }
}

/// Kafka's reverse transform: a task config value equal to the resolved value
/// of a connector key that holds a placeholder gets the placeholder back.
pub(crate) fn unresolve(task: RawConfig, given: &RawConfig, resolved: &RawConfig) -> RawConfig {
    task.into_iter()
        .map(|(k, v)| {
            let back = match (given.get(&k), resolved.get(&k)) {
                (Some(g), Some(r)) if g != r && *r == v => g.clone(),
                _ => v,
            };
            (k, back)
        })
        .collect()
}

pub(crate) fn status_json(s: &Status, worker_id: &str, id: Option<u32>) -> Json {
    let mut o = serde_json::Map::new();
    if let Some(id) = id {
        o.insert("id".into(), id.into());
    }
    o.insert(
        "state".into(),
        serde_json::to_value(s.state).unwrap_or_default(),
    );
    o.insert("worker_id".into(), worker_id.into());
    if let Some(t) = &s.trace {
        o.insert("trace".into(), t.clone().into());
    }
    Json::Object(o)
}

pub(crate) fn make_connector(plugin: &PluginDesc) -> Box<dyn Connector> {
    match plugin.kind {
        PluginKind::Source { connector, .. } => connector(),
        PluginKind::Sink { connector, .. } => connector(),
        PluginKind::Transform(_) | PluginKind::Predicate(_) | PluginKind::Converter(_) => {
            unreachable!("transforms and converters are not connectors")
        }
    }
}

pub(crate) fn plugin_for(registry: &PluginRegistry, config: &RawConfig) -> Result<PluginDesc> {
    let class = config.opt_str("connector.class").ok_or_else(|| {
        RuntimeError::BadRequest(
            "Connector config contains no connector type: set \"connector.class\" to one of the classes listed by GET /connector-plugins".into(),
        )
    })?;
    match registry.find(class) {
        Some(p) if p.kind.is_connector() => Ok(*p),
        _ => Err(RuntimeError::BadRequest(format!(
            "Failed to find any class that implements Connector and which name matches {class}, available connectors are: {}",
            registry.connector_classes().join(", ")
        ))),
    }
}

/// Validates a connector config the way `PUT /connector-plugins/{type}/config/validate` reports it.
/// Placeholders of the worker's `config.providers` are resolved for the
/// checks; the report keeps the values as given.
pub fn validate_connector(
    ctx: &WorkerContext,
    registry: &PluginRegistry,
    given: &RawConfig,
) -> Result<ValidationReport> {
    let plugin = plugin_for(registry, given)?;
    let resolved = ctx.config.providers.resolve(given)?;
    let config = &resolved;
    let def = common_config_def().with((plugin.config_def)().keys);
    let mut errors: Vec<(String, String)> = def
        .validate(config)
        .into_iter()
        .filter(|(k, _)| k != "name" || !config.contains_key("name"))
        .collect();
    if let PluginKind::Sink { .. } = plugin.kind {
        let has_topics = config.opt_str("topics").is_some();
        let has_regex = config.opt_str("topics.regex").is_some();
        if has_topics == has_regex {
            let msg = if has_topics {
                "topics and topics.regex are mutually exclusive options, but both are set."
            } else {
                "Must configure one of topics or topics.regex"
            };
            errors.push(("topics".into(), msg.into()));
        }
        errors.extend(worker::errors::ErrorConfig::validate(config));
    }
    let instance = make_connector(&plugin);
    errors.extend(instance.validate(config));
    if let PluginKind::Sink { .. } = plugin.kind {
        errors.extend(worker::validate_sink_transforms(registry, config));
    } else {
        errors.extend(worker::validate_transforms(registry, config));
    }
    errors.extend(worker::validate_converters(registry, config));
    errors.extend(ctx.config.kafka.validate_overrides(config));
    // One error per key: the first rule its value breaks. The ConfigDef's
    // checks (required, type, allowed values) come first, so a connector's own
    // check of the same key never reports the same bad value a second time.
    let mut seen = BTreeSet::new();
    errors.retain(|(key, _)| seen.insert(key.clone()));
    Ok(ValidationReport {
        plugin,
        def,
        errors,
        config: given.clone(),
    })
}

/// A connector's offsets as `GET /connectors/{name}/offsets` shows them:
/// a source's from `store`, a sink's from its consumer group.
pub(crate) async fn connector_offsets(
    ctx: &WorkerContext,
    store: &dyn OffsetStore,
    plugin: &PluginDesc,
    config: &RawConfig,
    name: &str,
) -> Result<Json> {
    if let PluginKind::Sink { .. } = plugin.kind {
        let config = ctx.config.providers.resolve(config)?;
        return crate::sink_offsets::get(&ctx.config, &config, name).await;
    }
    let list: Vec<Json> = store
        .all(name)
        .into_iter()
        .map(|(p, o)| json!({"partition": p, "offset": o}))
        .collect();
    Ok(json!({ "offsets": list }))
}

/// Alters (`Some`) or resets (`None`) a connector's offsets (KIP-875): 400
/// unless `target` is STOPPED; a source's in `store`, a sink's in its
/// consumer group. The caller keeps the connector from starting meanwhile.
pub(crate) async fn alter_connector_offsets(
    ctx: &WorkerContext,
    store: &dyn OffsetStore,
    plugin: &PluginDesc,
    config: &RawConfig,
    target: TargetState,
    name: &str,
    offsets: Option<Vec<(velocity_api::Partition, Option<velocity_api::Offset>)>>,
) -> Result<&'static str> {
    if target != TargetState::Stopped {
        return Err(RuntimeError::BadRequest(format!(
            "Connectors must be in the STOPPED state before their offsets can be modified. This can be done for the specified connector by issuing a 'PUT' request to the '/connectors/{name}/stop' endpoint"
        )));
    }
    if let PluginKind::Sink { .. } = plugin.kind {
        let config = ctx.config.providers.resolve(config)?;
        return match offsets {
            Some(list) => {
                crate::sink_offsets::alter(&ctx.config, &config, name, &list).await?;
                Ok("The offsets for this connector have been altered successfully")
            }
            None => {
                crate::sink_offsets::reset(&ctx.config, &config, name).await?;
                Ok("The offsets for this connector have been reset successfully")
            }
        };
    }
    match offsets {
        Some(list) => {
            store.put(name, &list)?;
            Ok("The offsets for this connector have been altered successfully")
        }
        None => {
            let all: Vec<_> = store
                .all(name)
                .into_iter()
                .map(|(p, _)| (p, None))
                .collect();
            store.put(name, &all)?;
            Ok("The offsets for this connector have been reset successfully")
        }
    }
}

/// Checks a connector name from the URL against the config's `name` (set
/// to it when absent), with Kafka Connect's messages.
pub(crate) fn check_name(name: &str, config: &mut RawConfig) -> Result<()> {
    if name.trim().is_empty() {
        return Err(RuntimeError::BadRequest(
            "Connector name must not be empty".into(),
        ));
    }
    if name.contains('/') {
        return Err(RuntimeError::BadRequest(
            "connector name should not contain '/'".into(),
        ));
    }
    match config.get("name") {
        Some(n) if n != name => Err(RuntimeError::BadRequest(format!(
            "Connector name configuration ({n}) doesn't match connector name in the URL ({name})"
        ))),
        _ => {
            config.insert("name".into(), name.to_owned());
            Ok(())
        }
    }
}

/// A `PATCH …/config` body applied to `config`: a value sets the key, a
/// null removes it.
pub(crate) fn apply_patch(config: &mut RawConfig, patch: BTreeMap<String, Option<String>>) {
    for (k, v) in patch {
        match v {
            Some(v) => config.insert(k, v),
            None => config.remove(&k),
        };
    }
}

/// `[hidden]` values of a new config keep the stored value.
pub(crate) fn keep_hidden_values(config: &mut RawConfig, stored: &RawConfig) {
    for (k, v) in config.iter_mut() {
        if v == HIDDEN {
            if let Some(old) = stored.get(k) {
                v.clone_from(old);
            }
        }
    }
}

/// The report, or Kafka Connect's 400 listing every error.
pub(crate) fn validated(report: ValidationReport) -> Result<ValidationReport> {
    if report.errors.is_empty() {
        return Ok(report);
    }
    let n = report.errors.len();
    let lines: Vec<String> = report.errors.iter().map(|(_, m)| m.clone()).collect();
    Err(RuntimeError::BadRequest(format!(
        "Connector configuration is invalid and contains the following {n} error(s):\n{}\nYou can also find the above list of errors at the endpoint `/connector-plugins/{{connectorType}}/config/validate`",
        lines.join("\n")
    )))
}

/// The result of validating a connector config.
pub struct ValidationReport {
    /// The plugin.
    pub plugin: PluginDesc,
    /// Its keys plus the common ones.
    pub def: ConfigDef,
    /// `(key, message)` errors.
    pub errors: Vec<(String, String)>,
    /// The validated config.
    pub config: RawConfig,
}

impl ValidationReport {
    /// Kafka Connect's `ConfigInfos` JSON.
    pub fn to_json(&self) -> Json {
        let mut groups: Vec<&str> = vec!["Common"];
        let mut configs = Vec::new();
        let known: BTreeSet<&str> = self.def.keys.iter().map(|k| k.name).collect();
        for (i, k) in self.def.keys.iter().enumerate() {
            let group = k.group.unwrap_or(if i < common_config_def().keys.len() {
                "Common"
            } else {
                self.plugin.class.rsplit('.').next().unwrap_or("Connector")
            });
            if !groups.contains(&group) {
                groups.push(group);
            }
            let errs: Vec<&str> = self
                .errors
                .iter()
                .filter(|(n, _)| n == k.name)
                .map(|(_, m)| m.as_str())
                .collect();
            let value = self.config.get(k.name).map(|v| {
                if k.type_ == ConfigType::Password || looks_secret(k.name) {
                    HIDDEN.to_owned()
                } else {
                    v.clone()
                }
            });
            configs.push(json!({
                "definition": definition_json(k, group, i + 1),
                "value": {"name": k.name, "value": value.or(k.default.map(str::to_owned)), "recommended_values": k.allowed, "errors": errs, "visible": true},
            }));
        }
        // errors on keys the definition does not list (e.g. transforms.x.type)
        for (key, msg) in self
            .errors
            .iter()
            .filter(|(k, _)| !known.contains(k.as_str()))
        {
            configs.push(json!({
                "definition": null,
                "value": {"name": key, "value": self.config.get(key), "recommended_values": [], "errors": [msg], "visible": true},
            }));
        }
        json!({
            "name": self.plugin.class,
            "error_count": self.errors.len(),
            "groups": groups,
            "configs": configs,
        })
    }
}

/// Kafka Connect's `ConfigKeyInfo` JSON for one key.
pub fn definition_json(k: &ConfigKey, group: &str, order: usize) -> Json {
    json!({
        "name": k.name,
        "type": k.type_,
        "required": k.required(),
        "default_value": k.default,
        "importance": k.importance,
        "documentation": k.documentation,
        "group": group,
        "width": "NONE",
        "display_name": k.name,
        "dependents": [],
        "order": order,
    })
}

/// Where a REST write request must be carried out: the seam through which
/// distributed mode forwards writes to the group leader (or a task's
/// owner), as Kafka Connect's `RequestTargetException` does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestTarget {
    /// This worker carries it out.
    Here,
    /// Another worker does: its REST base URL (`http://host:port`).
    Forward(String),
    /// Nobody can right now: no leader is known (a rebalance is underway).
    NoLeader,
}

/// What the REST API asks of a herder. Standalone's [`Herder`] and the
/// distributed herder implement it; REST handlers hold an
/// `Arc<dyn HerderApi>`.
///
/// Contract shared by both: reads never wait behind a connector's start or
/// stop for longer than the herder's own bookkeeping; writes return once
/// the change is stored (standalone: applied too; distributed: written to
/// the config topic, applied by the owning workers as they read it).
#[async_trait::async_trait]
pub trait HerderApi: Send + Sync {
    /// The worker id shown in statuses (`host:port`).
    fn worker_id(&self) -> &str;
    /// The plugin registry.
    fn registry(&self) -> &PluginRegistry;
    /// Validates a connector config (`PUT …/config/validate`).
    fn validate(&self, given: &RawConfig) -> Result<ValidationReport>;
    /// Where a write request on `path` (e.g. `/connectors/x/pause`) must be
    /// carried out. Standalone: always here.
    async fn request_target(&self, _path: &str) -> RequestTarget {
        RequestTarget::Here
    }
    /// `POST /connectors`.
    async fn create(
        &self,
        name: &str,
        config: RawConfig,
        initial: Option<TargetState>,
    ) -> Result<ConnectorInfo>;
    /// `PUT /connectors/{name}/config`: (created, info).
    async fn put_config(&self, name: &str, config: RawConfig) -> Result<(bool, ConnectorInfo)>;
    /// `PATCH /connectors/{name}/config`.
    async fn patch_config(
        &self,
        name: &str,
        patch: BTreeMap<String, Option<String>>,
    ) -> Result<ConnectorInfo>;
    /// `DELETE /connectors/{name}`.
    async fn delete(&self, name: &str) -> Result<()>;
    /// `PUT /connectors/{name}/pause|resume|stop`.
    async fn set_target(&self, name: &str, target: TargetState) -> Result<()>;
    /// `POST /connectors/{name}/restart`.
    async fn restart(&self, name: &str, include_tasks: bool, only_failed: bool) -> Result<()>;
    /// `POST /connectors/{name}/tasks/{id}/restart`.
    async fn restart_task(&self, name: &str, id: u32) -> Result<()>;
    /// Kafka Connect's internal `POST /connectors/{name}/tasks`: a worker
    /// hands the task configs its connector generated to the leader, with
    /// the session key's signature headers (`algorithm`, `signature`) over
    /// `body` (a JSON array of task configs). Standalone: refused.
    async fn put_task_configs(
        &self,
        _name: &str,
        _body: &[u8],
        _algorithm: Option<&str>,
        _signature: Option<&str>,
    ) -> Result<()> {
        Err(RuntimeError::BadRequest(
            "Task configurations are written by the worker itself in standalone mode".into(),
        ))
    }
    /// Connector names, sorted.
    async fn names(&self) -> Vec<String>;
    /// `GET /connectors/{name}`.
    async fn info(&self, name: &str) -> Result<ConnectorInfo>;
    /// `GET /connectors/{name}/status`.
    async fn status(&self, name: &str) -> Result<Json>;
    /// `GET /connectors/{name}/tasks/{id}/status`.
    async fn task_status(&self, name: &str, id: u32) -> Result<Json>;
    /// `GET /connectors/{name}/tasks`.
    async fn tasks(&self, name: &str) -> Result<Json>;
    /// `GET /connectors/{name}/topics`.
    async fn topics(&self, name: &str) -> Result<Vec<String>>;
    /// `PUT /connectors/{name}/topics/reset`.
    async fn reset_topics(&self, name: &str) -> Result<()>;
    /// `GET /connectors/{name}/offsets`.
    async fn offsets(&self, name: &str) -> Result<Json>;
    /// `PATCH` (Some) / `DELETE` (None) `/connectors/{name}/offsets`.
    async fn alter_offsets(
        &self,
        name: &str,
        offsets: Option<Vec<(velocity_api::Partition, Option<velocity_api::Offset>)>>,
    ) -> Result<&'static str>;
    /// Stops every connector and task of this worker (shutdown).
    async fn shutdown(&self);
}

#[async_trait::async_trait]
impl HerderApi for Herder {
    fn worker_id(&self) -> &str {
        Herder::worker_id(self)
    }
    fn registry(&self) -> &PluginRegistry {
        Herder::registry(self)
    }
    fn validate(&self, given: &RawConfig) -> Result<ValidationReport> {
        Herder::validate(self, given)
    }
    async fn create(
        &self,
        name: &str,
        config: RawConfig,
        initial: Option<TargetState>,
    ) -> Result<ConnectorInfo> {
        Herder::create(self, name, config, initial).await
    }
    async fn put_config(&self, name: &str, config: RawConfig) -> Result<(bool, ConnectorInfo)> {
        Herder::put_config(self, name, config).await
    }
    async fn patch_config(
        &self,
        name: &str,
        patch: BTreeMap<String, Option<String>>,
    ) -> Result<ConnectorInfo> {
        Herder::patch_config(self, name, patch).await
    }
    async fn delete(&self, name: &str) -> Result<()> {
        Herder::delete(self, name).await
    }
    async fn set_target(&self, name: &str, target: TargetState) -> Result<()> {
        Herder::set_target(self, name, target).await
    }
    async fn restart(&self, name: &str, include_tasks: bool, only_failed: bool) -> Result<()> {
        Herder::restart(self, name, include_tasks, only_failed).await
    }
    async fn restart_task(&self, name: &str, id: u32) -> Result<()> {
        Herder::restart_task(self, name, id).await
    }
    async fn names(&self) -> Vec<String> {
        Herder::names(self).await
    }
    async fn info(&self, name: &str) -> Result<ConnectorInfo> {
        Herder::info(self, name).await
    }
    async fn status(&self, name: &str) -> Result<Json> {
        Herder::status(self, name).await
    }
    async fn task_status(&self, name: &str, id: u32) -> Result<Json> {
        Herder::task_status(self, name, id).await
    }
    async fn tasks(&self, name: &str) -> Result<Json> {
        Herder::tasks(self, name).await
    }
    async fn topics(&self, name: &str) -> Result<Vec<String>> {
        Herder::topics(self, name).await
    }
    async fn reset_topics(&self, name: &str) -> Result<()> {
        Herder::reset_topics(self, name).await
    }
    async fn offsets(&self, name: &str) -> Result<Json> {
        Herder::offsets(self, name).await
    }
    async fn alter_offsets(
        &self,
        name: &str,
        offsets: Option<Vec<(velocity_api::Partition, Option<velocity_api::Offset>)>>,
    ) -> Result<&'static str> {
        Herder::alter_offsets(self, name, offsets).await
    }
    async fn shutdown(&self) {
        Herder::shutdown(self).await
    }
}
