//! The distributed herder: runs the connectors and tasks the group assigns
//! to this worker, from the config topic's snapshot, and answers REST
//! requests for the whole cluster.
//!
//! How the pieces meet (Kafka Connect's `DistributedHerder`, reduced to a
//! level-triggered loop):
//!
//! - **Inputs**: the config topic ([`KafkaConfigStore`], followed every
//!   [`TICK`]), the group's assignments ([`GroupMember`]), and REST writes.
//! - **REST writes** run on the leader only: the REST layer asks
//!   [`HerderApi::request_target`] and forwards a follower's request to the
//!   leader's URL (`?forward=`), or answers 409 while no leader is known.
//!   The leader validates and appends to the config topic (connector
//!   config, target state, restart request; `stop` also commits an empty
//!   task set, as Kafka Connect does). Nothing runs on the leader because
//!   it wrote: every worker applies what it reads.
//! - **Reconcile**: after every assignment and every config change, the
//!   worker makes what runs here equal to (assigned ∩ configured): it
//!   starts, restarts (config changed) or stops connector instances and
//!   tasks, and applies target states (pause/resume) to running tasks.
//! - **Task configs**: the worker that runs a connector generates its task
//!   configs and, when they differ from the committed ones, appends
//!   `task-<name>-<n>` records and `commit-<name>` (Kafka Connect has a
//!   follower send them to the leader, which writes them; here the owner
//!   writes them itself — the records are the same).
//! - **Rebalances**: when the set of connectors or committed tasks changes,
//!   the worker asks the group to rejoin; the leader assigns from the
//!   snapshot with the incremental cooperative assignor. Revoked tasks are
//!   stopped (their offsets committed) before the assignment is
//!   acknowledged, so a task never runs on two workers after a clean
//!   handover; a task starts only after the offsets topic was read to its
//!   end, so it resumes from the last offset any worker stored.
//! - **Statuses**: each worker writes the status of what it runs to the
//!   status topic (UNASSIGNED when it stops a task on revocation or
//!   shutdown, a tombstone when the connector was deleted) and answers
//!   status reads for any connector from that topic.
//!
//! Shutdown: stop every task (offsets committed) and connector, write their
//! statuses, then leave the group, so the other workers take the work over
//! from the stored offsets at once and without duplicates.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use serde_json::{json, Value as Json};
use tokio::sync::{mpsc, watch, Mutex};
use velocity_api::config::ConfigExt;
use velocity_api::{Connector, PluginDesc, PluginRegistry, RawConfig};

use super::assignor::ConnectorsAndTasks;
use super::config_store::KafkaConfigStore;
use super::formats::{ConfigRecord, StatusRecord, StatusValue, TaskId};
use super::group::{ClusterConfig, GroupAssignment, GroupError, GroupMember};
use super::offset_store::KafkaOffsetStore;
use super::protocol::{ConnectProtocol, ConnectorTaskId, CONFIG_MISMATCH};
use super::session;
use super::status_store::KafkaStatusStore;
use crate::error::{Result, RuntimeError};
use crate::herder::{
    alter_connector_offsets, apply_patch, check_name, connector_info, connector_offsets,
    keep_hidden_values, make_connector, plugin_for, redact, spawn_task, stop_task, unresolve,
    validate_connector, validated, ConnectorInfo, HerderApi, RequestTarget, TaskHandle,
    ValidationReport,
};
use crate::offsets::OffsetStore;
use crate::status::{State, TargetState};
use crate::worker::WorkerContext;

/// How often the config and status topics are read for changes.
pub const TICK: Duration = Duration::from_millis(300);

/// What this worker knows of the group.
#[derive(Debug, Clone, Default)]
struct Role {
    /// The leader's REST URL, once an assignment named it.
    leader_url: Option<String>,
    /// The generation of the last assignment.
    generation: i32,
    /// The protocol the group chose (sessioned: internal requests signed).
    protocol: Option<ConnectProtocol>,
}

impl LocalConnector {
    /// Stops the connector instance, if one runs.
    async fn stop_instance(&mut self) {
        if let Some(mut i) = self.instance.take() {
            let _ = i.stop().await;
        }
    }
}

struct LocalConnector {
    /// Task configs generated but not yet accepted by the leader (retried).
    pending: Option<Vec<RawConfig>>,
    config: RawConfig,
    target: TargetState,
    instance: Option<Box<dyn Connector>>,
    published: Option<(String, Option<String>)>,
    state: (String, Option<String>),
}

struct LocalTask {
    handle: TaskHandle,
    target: TargetState,
    published: Option<(String, Option<String>)>,
}

#[derive(Default)]
struct Local {
    /// The config snapshot offset the last reconcile worked from.
    reconciled: Option<i64>,
    owned: ConnectorsAndTasks,
    connectors: BTreeMap<String, LocalConnector>,
    tasks: BTreeMap<(String, u32), LocalTask>,
    topics: BTreeMap<String, Arc<StdMutex<BTreeSet<String>>>>,
}

/// The herder of a distributed worker (see the module docs).
pub struct DistributedHerder {
    ctx: Arc<WorkerContext>,
    registry: Arc<PluginRegistry>,
    offsets: Arc<KafkaOffsetStore>,
    configs: Arc<KafkaConfigStore>,
    statuses: Arc<KafkaStatusStore>,
    url: String,
    role: StdMutex<Role>,
    local: Mutex<Local>,
    cluster: watch::Sender<ClusterConfig>,
    member: StdMutex<Option<GroupMember>>,
    stop: watch::Sender<bool>,
    timers: Timers,
    http: reqwest::Client,
}

/// The distributed worker's timing keys, with Kafka Connect's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timers {
    /// `inter.worker.key.ttl.ms`: the session key's lifetime.
    pub key_ttl: Duration,
    /// `worker.sync.timeout.ms`: how long a worker behind the leader's
    /// config offset reads the config topic before giving up.
    pub sync_timeout: Duration,
    /// `worker.unsync.backoff.ms`: how long it then waits before it rejoins.
    pub unsync_backoff: Duration,
}

fn state_name(s: State) -> String {
    serde_json::to_value(s)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "UNASSIGNED".to_owned())
}

fn not_found(name: &str) -> RuntimeError {
    RuntimeError::NotFound(format!("Connector {name} not found"))
}

/// What the group leader assigns from: the snapshot's offset, connectors and
/// committed tasks.
fn cluster_config(s: &super::config_state::ConfigSnapshot) -> ClusterConfig {
    ClusterConfig {
        offset: s.offset,
        configured: configured(s),
    }
}

/// The connectors and committed tasks of a snapshot, as the assignor sees them.
fn configured(s: &super::config_state::ConfigSnapshot) -> ConnectorsAndTasks {
    let mut out = ConnectorsAndTasks::default();
    for name in s.connectors.keys() {
        out.connectors.insert(name.clone());
        if let Some(tasks) = s.tasks.get(name) {
            for id in tasks.keys() {
                out.tasks.insert(ConnectorTaskId {
                    connector: name.clone(),
                    task: *id as i32,
                });
            }
        }
    }
    out
}

impl DistributedHerder {
    /// A herder over the stores; `url` is this worker's advertised REST URL.
    /// Nothing runs until [`DistributedHerder::start`].
    pub fn new(
        ctx: Arc<WorkerContext>,
        registry: Arc<PluginRegistry>,
        offsets: Arc<KafkaOffsetStore>,
        configs: Arc<KafkaConfigStore>,
        statuses: Arc<KafkaStatusStore>,
        url: String,
        timers: Timers,
    ) -> DistributedHerder {
        // restart requests already in the topic were handled by whoever ran
        // the connectors then
        configs.take_restarts();
        let (cluster, _) = watch::channel(cluster_config(&configs.snapshot()));
        let (stop, _) = watch::channel(false);
        DistributedHerder {
            ctx,
            registry,
            offsets,
            configs,
            statuses,
            url,
            role: StdMutex::new(Role::default()),
            local: Mutex::new(Local::default()),
            cluster,
            member: StdMutex::new(None),
            stop,
            timers,
            http: reqwest::Client::new(),
        }
    }

    /// The cluster view the group leader assigns from (feed it to
    /// [`GroupMember::start`]).
    pub fn cluster(&self) -> watch::Receiver<ClusterConfig> {
        self.cluster.subscribe()
    }

    /// Runs the herder loop on `assignments` of `member`; the returned
    /// receiver turns true once the first assignment has been applied.
    pub fn start(
        self: &Arc<Self>,
        member: GroupMember,
        assignments: mpsc::Receiver<Result<GroupAssignment, GroupError>>,
    ) -> watch::Receiver<bool> {
        if let Ok(mut m) = self.member.lock() {
            *m = Some(member);
        }
        let (ready_tx, ready_rx) = watch::channel(false);
        let me = self.clone();
        tokio::spawn(async move { me.run(assignments, ready_tx).await });
        ready_rx
    }

    async fn run(
        self: Arc<Self>,
        mut assignments: mpsc::Receiver<Result<GroupAssignment, GroupError>>,
        ready: watch::Sender<bool>,
    ) {
        let mut stop = self.stop.subscribe();
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                a = assignments.recv() => match a {
                    Some(Ok(a)) => {
                        self.on_assignment(a).await;
                        let _ = ready.send(true);
                    }
                    Some(Err(e)) => {
                        tracing::error!(error = %e, "the worker's group membership failed");
                        if !e.is_retriable() {
                            break;
                        }
                    }
                    None => break,
                },
                _ = tick.tick() => self.on_tick().await,
                _ = stop.changed() => break,
            }
        }
    }

    fn generation(&self) -> i32 {
        self.role.lock().map(|r| r.generation).unwrap_or(-1)
    }

    fn request_rejoin(&self) {
        if let Ok(m) = self.member.lock() {
            if let Some(m) = m.as_ref() {
                m.request_rejoin();
            }
        }
    }

    /// Reads the config topic; on a change publishes the new cluster view
    /// (and asks for a rebalance when connectors or tasks changed).
    async fn follow_configs(&self) -> bool {
        match self.configs.refresh().await {
            Ok(true) => {}
            Ok(false) => return false,
            Err(e) => {
                tracing::warn!(error = %e, "could not read the config topic");
                return false;
            }
        }
        let next = cluster_config(&self.configs.snapshot());
        let membership_changed = self.cluster.borrow().configured != next.configured;
        self.cluster.send_replace(next);
        // the leader asks for the rebalance (one JoinGroup starts it for
        // every member); a follower that leads by the time it reads the
        // change asks too
        if membership_changed && self.is_leader() {
            tracing::info!("connectors or tasks changed: requesting a rebalance");
            self.request_rejoin();
        }
        true
    }

    async fn on_tick(&self) {
        self.follow_configs().await;
        if let Err(e) = self.statuses.refresh().await {
            tracing::warn!(error = %e, "could not read the status topic");
        }
        let restarts = self.configs.take_restarts();
        let mut local = self.local.lock().await;
        if *self.stop.borrow() {
            return;
        }
        // level-triggered: any config change since the last reconcile (read
        // from the topic, or written by this worker itself as leader)
        let changed = local.reconciled != Some(self.configs.snapshot().offset);
        self.ensure_session_key().await;
        let pending: Vec<(String, Vec<RawConfig>)> = local
            .connectors
            .iter()
            .filter_map(|(n, c)| c.pending.clone().map(|p| (n.clone(), p)))
            .collect();
        for (name, configs) in pending {
            if self.submit_task_configs(&name, &configs).await.is_ok() {
                if let Some(c) = local.connectors.get_mut(&name) {
                    c.pending = None;
                }
            }
        }
        if changed || !restarts.is_empty() {
            for r in &restarts {
                self.apply_restart(&mut local, r).await;
            }
            self.reconcile(&mut local).await;
        }
        self.publish(&mut local).await;
    }

    async fn on_assignment(&self, a: GroupAssignment) {
        tracing::info!(generation = a.generation, leader = %a.leader, leader_url = %a.leader_url,
            assigned = ?a.assigned, revoked = ?a.revoked, running = ?a.running, delay = a.delay, "joined the group");
        if let Ok(mut r) = self.role.lock() {
            r.generation = a.generation;
            r.leader_url = (!a.leader_url.is_empty()).then(|| a.leader_url.clone());
            r.protocol = Some(a.protocol);
        }
        // read the config topic at least as far as the leader did, for up
        // to worker.sync.timeout.ms; behind after that: start nothing, wait
        // worker.unsync.backoff.ms and rejoin (Kafka Connect's readConfigToEnd)
        let deadline = tokio::time::Instant::now() + self.timers.sync_timeout;
        loop {
            self.follow_configs().await;
            if self.configs.snapshot().offset >= a.config_offset {
                break;
            }
            if tokio::time::Instant::now() >= deadline {
                tracing::warn!(
                    offset = self.configs.snapshot().offset,
                    assignment = a.config_offset,
                    backoff_ms = self.timers.unsync_backoff.as_millis() as u64,
                    "Didn't reach end of config log quickly enough; rejoining after worker.unsync.backoff.ms"
                );
                tokio::time::sleep(self.timers.unsync_backoff).await;
                self.request_rejoin();
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if a.error == CONFIG_MISMATCH {
            self.request_rejoin();
        }
        let mut local = self.local.lock().await;
        if *self.stop.borrow() {
            // shutting down: nothing starts any more
            return;
        }
        local.owned = a.running.clone();
        self.reconcile(&mut local).await;
        self.publish(&mut local).await;
        drop(local);
        drop(a.ack);
    }

    /// Makes what runs here equal to (owned ∩ configured); see the module docs.
    async fn reconcile(&self, local: &mut Local) {
        let snap = self.configs.snapshot();
        local.reconciled = Some(snap.offset);
        let generation = self.generation();
        // connectors that must stop
        let gone: Vec<String> = local
            .connectors
            .keys()
            .filter(|n| !local.owned.connectors.contains(*n) || !snap.connectors.contains_key(*n))
            .cloned()
            .collect();
        for name in gone {
            if let Some(mut c) = local.connectors.remove(&name) {
                tracing::info!(connector = %name, "stopping connector (revoked or deleted)");
                c.stop_instance().await;
                let deleted = !snap.connectors.contains_key(&name);
                if deleted {
                    self.put_status(StatusRecord::Connector(name.clone(), None))
                        .await;
                } else if self.owns_status(self.statuses.connector(&name)) {
                    self.put_status(StatusRecord::Connector(
                        name.clone(),
                        Some(self.status_value("UNASSIGNED", None, generation)),
                    ))
                    .await;
                }
            }
        }
        // tasks that must stop
        let gone: Vec<(String, u32)> = local
            .tasks
            .keys()
            .filter(|(c, i)| {
                !local.owned.tasks.contains(&ConnectorTaskId {
                    connector: c.clone(),
                    task: *i as i32,
                }) || !snap.tasks.get(c).is_some_and(|t| t.contains_key(i))
                    || snap.target_state(c) == Some(TargetState::Stopped)
            })
            .cloned()
            .collect();
        for id in gone {
            if let Some(mut t) = local.tasks.remove(&id) {
                tracing::info!(connector = %id.0, task = id.1, "stopping task (revoked, deleted or stopped)");
                stop_task(&self.ctx, &mut t.handle).await;
                let deleted = !snap.connectors.contains_key(&id.0);
                let tid = TaskId {
                    connector: id.0.clone(),
                    task: id.1,
                };
                if deleted {
                    self.put_status(StatusRecord::Task(tid, None)).await;
                } else if self.owns_status(self.statuses.task(&id.0, id.1)) {
                    let v = self.status_value("UNASSIGNED", None, generation);
                    self.put_status(StatusRecord::Task(tid, Some(v))).await;
                }
            }
        }
        // connectors to start, restart or retarget
        let owned: Vec<String> = local.owned.connectors.iter().cloned().collect();
        for name in owned {
            let Some(config) = snap.connectors.get(&name) else {
                continue;
            };
            let target = snap.target_state(&name).unwrap_or(TargetState::Started);
            let same = local
                .connectors
                .get(&name)
                .is_some_and(|c| c.config == *config && c.target == target);
            if same {
                continue;
            }
            let config_same = local
                .connectors
                .get(&name)
                .is_some_and(|c| c.config == *config);
            if config_same && target != TargetState::Stopped {
                if let Some(c) = local.connectors.get_mut(&name) {
                    if c.instance.is_some() {
                        // pause <-> resume: the instance keeps running
                        c.target = target;
                        c.state = (state_name(run_state(target)), None);
                        continue;
                    }
                }
            }
            if let Some(mut old) = local.connectors.remove(&name) {
                old.stop_instance().await;
            }
            let c = self.start_connector(&name, config, target, &snap).await;
            local.connectors.insert(name, c);
        }
        // tasks to start, restart or retarget, from the snapshot with the
        // task configs the connectors above may just have written
        let snap = self.configs.snapshot();
        let mut refreshed = false;
        let owned: Vec<ConnectorTaskId> = local.owned.tasks.iter().cloned().collect();
        for id in owned {
            let Ok(task) = u32::try_from(id.task) else {
                continue;
            };
            let (Some(connector_config), Some(task_config)) = (
                snap.connectors.get(&id.connector),
                snap.tasks.get(&id.connector).and_then(|t| t.get(&task)),
            ) else {
                continue;
            };
            let target = snap
                .target_state(&id.connector)
                .unwrap_or(TargetState::Started);
            if target == TargetState::Stopped {
                continue;
            }
            let key = (id.connector.clone(), task);
            if let Some(t) = local.tasks.get_mut(&key) {
                // a task restarts when its task config changes (a connector
                // config change reaches it through the task configs its
                // connector generates again), as in Kafka Connect
                if t.handle.config == *task_config {
                    if t.target != target {
                        t.target = target;
                        let _ = t.handle.control.send(target);
                    }
                    continue;
                }
            }
            if let Some(mut old) = local.tasks.remove(&key) {
                tracing::info!(connector = %id.connector, task, "stopping task to restart it with its new config");
                stop_task(&self.ctx, &mut old.handle).await;
            }
            tracing::info!(connector = %id.connector, task, generation, "starting task");
            if !refreshed {
                // the task may have run elsewhere: start from the last
                // offset any worker stored
                if let Err(e) = self.offsets.refresh().await {
                    tracing::warn!(error = %e, "could not read the offsets topic before starting tasks");
                }
                refreshed = true;
            }
            let topics = local
                .topics
                .entry(id.connector.clone())
                .or_default()
                .clone();
            let offsets: Arc<dyn OffsetStore> = self.offsets.clone();
            let handle = match plugin_for(&self.registry, connector_config) {
                Ok(plugin) => spawn_task(
                    &self.ctx,
                    &self.registry,
                    &offsets,
                    &id.connector,
                    &plugin,
                    connector_config,
                    target,
                    &topics,
                    task,
                    task_config.clone(),
                ),
                Err(e) => {
                    tracing::error!(connector = %id.connector, task, error = %e, "task failed to start");
                    let h = crate::status::StatusHandle::new(State::Failed);
                    h.set(crate::status::Status::failed(e.to_string()));
                    TaskHandle::failed(task, task_config.clone(), h)
                }
            };
            local.tasks.insert(
                key,
                LocalTask {
                    handle,
                    target,
                    published: None,
                },
            );
        }
    }

    /// Starts a connector instance and, when its task configs differ from
    /// the committed ones, writes them and their commit.
    async fn start_connector(
        &self,
        name: &str,
        config: &RawConfig,
        target: TargetState,
        snap: &super::config_state::ConfigSnapshot,
    ) -> LocalConnector {
        let mut c = LocalConnector {
            pending: None,
            config: config.clone(),
            target,
            instance: None,
            published: None,
            state: (state_name(State::Stopped), None),
        };
        if target == TargetState::Stopped {
            return c;
        }
        let failed = |e: String| {
            tracing::error!(connector = %name, error = %e, "connector failed to start");
            (state_name(State::Failed), Some(e))
        };
        let plugin = match plugin_for(&self.registry, config) {
            Ok(p) => p,
            Err(e) => {
                c.state = failed(e.to_string());
                return c;
            }
        };
        let resolved = match self.ctx.config.providers.resolve(config) {
            Ok(r) => r,
            Err(e) => {
                c.state = failed(e.to_string());
                return c;
            }
        };
        let mut instance = make_connector(&plugin);
        if let Err(e) = instance.start(&resolved).await {
            c.state = failed(e.to_string());
            return c;
        }
        let max_tasks = config.int_or("tasks.max", 1, 1, 1024).unwrap_or(1) as usize;
        let generated = match instance.task_configs(max_tasks).await {
            Ok(t) => t,
            Err(e) => {
                let _ = instance.stop().await;
                c.state = failed(e.to_string());
                return c;
            }
        };
        let generated: Vec<RawConfig> = generated
            .into_iter()
            .map(|t| unresolve(t, config, &resolved))
            .collect();
        let committed: Vec<RawConfig> = snap
            .tasks
            .get(name)
            .map(|t| t.values().cloned().collect())
            .unwrap_or_default();
        if committed != generated || snap.inconsistent.contains(name) {
            if let Err(e) = self.submit_task_configs(name, &generated).await {
                tracing::warn!(connector = %name, error = %e, "the task configs could not be written yet; retrying");
                c.pending = Some(generated);
            }
        }
        c.instance = Some(instance);
        c.state = (state_name(run_state(target)), None);
        c
    }

    async fn apply_restart(&self, local: &mut Local, r: &super::config_state::RestartRequest) {
        let connector_failed = local
            .connectors
            .get(&r.connector)
            .is_some_and(|c| c.state.0 == "FAILED");
        if (!r.only_failed || connector_failed) && local.connectors.contains_key(&r.connector) {
            // dropping the local instance makes reconcile start it again
            if let Some(mut c) = local.connectors.remove(&r.connector) {
                c.stop_instance().await;
            }
        }
        if r.include_tasks {
            let ids: Vec<(String, u32)> = local
                .tasks
                .iter()
                .filter(|((c, _), t)| {
                    *c == r.connector
                        && (!r.only_failed || t.handle.status.get().state == State::Failed)
                })
                .map(|(k, _)| k.clone())
                .collect();
            for id in ids {
                if let Some(mut t) = local.tasks.remove(&id) {
                    stop_task(&self.ctx, &mut t.handle).await;
                }
            }
        }
    }

    /// The leader of a `sessioned` group keeps a session key younger than
    /// `inter.worker.key.ttl.ms` in the config topic.
    async fn ensure_session_key(&self) {
        let sessioned = self
            .role
            .lock()
            .map(|r| r.protocol == Some(ConnectProtocol::Sessioned))
            .unwrap_or(false);
        if !sessioned || !self.is_leader() {
            return;
        }
        let now = now_ms();
        let snap = self.configs.snapshot();
        if snap
            .session_key
            .as_ref()
            .is_some_and(|k| !session::expired(k, self.timers.key_ttl, now))
        {
            return;
        }
        match session::generate(now) {
            Ok(key) => {
                if let Err(e) = self
                    .configs
                    .append(vec![ConfigRecord::SessionKey(key)])
                    .await
                {
                    tracing::warn!(error = %e, "could not write a new session key");
                } else {
                    tracing::info!("wrote a new session key to the config topic");
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not generate a session key"),
        }
    }

    /// Hands a connector's new task configs to the leader: appended here
    /// when this worker leads, else sent to the leader's internal endpoint
    /// (`POST /connectors/{name}/tasks`), signed with the session key.
    async fn submit_task_configs(&self, name: &str, configs: &[RawConfig]) -> Result<()> {
        if self.is_leader() {
            return self.append_task_configs(name, configs).await;
        }
        let leader = self
            .role
            .lock()
            .ok()
            .and_then(|r| r.leader_url.clone())
            .ok_or_else(|| RuntimeError::Conflict(crate::rest::forward::NO_LEADER.into()))?;
        let body = serde_json::to_vec(configs).map_err(|e| RuntimeError::Kafka(e.to_string()))?;
        let mut req = self
            .http
            .post(format!(
                "{}/connectors/{name}/tasks?forward=true",
                leader.trim_end_matches('/')
            ))
            .header("Content-Type", "application/json");
        if let Some(key) = self.configs.snapshot().session_key {
            req = req
                .header(session::SIGNATURE_HEADER, session::sign(&key, &body)?)
                .header(session::SIGNATURE_ALGORITHM_HEADER, session::ALGORITHM);
        }
        let resp =
            req.body(body).send().await.map_err(|e| {
                RuntimeError::Kafka(format!("sending task configs to the leader: {e}"))
            })?;
        if resp.status().is_success() {
            tracing::info!(connector = %name, tasks = configs.len(), %leader, "task configs sent to the leader");
            return Ok(());
        }
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        Err(RuntimeError::Conflict(format!(
            "the leader answered {status} to the task configs: {text}"
        )))
    }

    async fn append_task_configs(&self, name: &str, configs: &[RawConfig]) -> Result<()> {
        let mut records: Vec<ConfigRecord> = configs
            .iter()
            .enumerate()
            .map(|(i, t)| ConfigRecord::Task {
                connector: name.to_owned(),
                task: i as u32,
                config: Some(t.clone()),
            })
            .collect();
        records.push(ConfigRecord::Commit {
            connector: name.to_owned(),
            tasks: configs.len() as u32,
        });
        self.configs.append(records).await?;
        tracing::info!(connector = %name, tasks = configs.len(), "task configs written");
        Ok(())
    }

    fn status_value(&self, state: &str, trace: Option<String>, generation: i32) -> StatusValue {
        StatusValue {
            state: state.to_owned(),
            trace,
            worker_id: self.ctx.worker_id.clone(),
            generation,
            version: Some(env!("CARGO_PKG_VERSION").to_owned()),
        }
    }

    async fn put_status(&self, record: StatusRecord) {
        if let Err(e) = self.statuses.put(record).await {
            tracing::warn!(error = %e, "could not write a status to the status topic");
        }
    }

    /// Writes the statuses of this worker's connectors and tasks that
    /// changed since they were last written.
    async fn publish(&self, local: &mut Local) {
        let generation = self.generation();
        let mut records = Vec::new();
        for (name, c) in local.connectors.iter_mut() {
            if !self.view_shows(self.statuses.connector(name), &c.state) {
                c.published = None;
            }
            if c.published.as_ref() != Some(&c.state) {
                records.push(StatusRecord::Connector(
                    name.clone(),
                    Some(self.status_value(&c.state.0, c.state.1.clone(), generation)),
                ));
                c.published = Some(c.state.clone());
            }
        }
        for ((name, id), t) in local.tasks.iter_mut() {
            let s = t.handle.status.get();
            let mut state = s.state;
            if state == State::Running && t.target == TargetState::Paused {
                state = State::Paused;
            }
            let now = (state_name(state), s.trace.clone());
            if !self.view_shows(self.statuses.task(name, *id), &now) {
                t.published = None;
            }
            if t.published.as_ref() != Some(&now) {
                records.push(StatusRecord::Task(
                    TaskId {
                        connector: name.clone(),
                        task: *id,
                    },
                    Some(self.status_value(&now.0, now.1.clone(), generation)),
                ));
                t.published = Some(now);
            }
        }
        for r in records {
            self.put_status(r).await;
        }
    }

    /// Whether the status topic's entry, if any, was written by this
    /// worker: a worker that stops something writes UNASSIGNED only over its
    /// own status, never over the status of a worker that took it over.
    fn owns_status(&self, current: Option<StatusValue>) -> bool {
        current.is_none_or(|v| v.worker_id == self.ctx.worker_id)
    }

    /// Whether the status topic shows `state` written by this worker (when
    /// it does not, e.g. another worker's late write hid it, the status is
    /// written again).
    fn view_shows(&self, current: Option<StatusValue>, state: &(String, Option<String>)) -> bool {
        current.is_some_and(|v| {
            v.worker_id == self.ctx.worker_id && v.state == state.0 && v.trace == state.1
        })
    }

    fn is_leader(&self) -> bool {
        self.role
            .lock()
            .map(|r| r.leader_url.as_deref() == Some(self.url.as_str()))
            .unwrap_or(false)
    }

    fn plugin_of(&self, config: &RawConfig) -> Result<PluginDesc> {
        plugin_for(&self.registry, config)
    }

    fn status_json(v: &StatusValue, id: Option<u32>) -> Json {
        let mut o = serde_json::Map::new();
        if let Some(id) = id {
            o.insert("id".into(), id.into());
        }
        o.insert("state".into(), v.state.clone().into());
        o.insert("worker_id".into(), v.worker_id.clone().into());
        if let Some(t) = &v.trace {
            o.insert("trace".into(), t.clone().into());
        }
        Json::Object(o)
    }

    async fn write_config(
        &self,
        name: &str,
        mut config: RawConfig,
        initial: Option<TargetState>,
        must_be_new: bool,
    ) -> Result<(bool, ConnectorInfo)> {
        check_name(name, &mut config)?;
        let snap = self.configs.snapshot();
        let existing = snap.connectors.get(name);
        if must_be_new && existing.is_some() {
            return Err(RuntimeError::AlreadyExists(format!(
                "Connector {name} already exists"
            )));
        }
        if let Some(old) = existing {
            keep_hidden_values(&mut config, old);
        }
        let report = validated(self.validate(&config)?)?;
        let created = existing.is_none();
        let mut records = Vec::new();
        if created || initial.is_some() {
            records.push(ConfigRecord::TargetState {
                connector: name.to_owned(),
                state: Some(initial.unwrap_or(TargetState::Started)),
            });
        }
        records.push(ConfigRecord::Connector {
            name: name.to_owned(),
            config: Some(config.clone()),
        });
        self.configs.append(records).await?;
        self.follow_configs().await;
        let tasks = snap
            .tasks
            .get(name)
            .map(|t| t.keys().copied().collect())
            .unwrap_or_default();
        Ok((
            created,
            connector_info(name, &report.plugin, &config, tasks),
        ))
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn run_state(target: TargetState) -> State {
    match target {
        TargetState::Started => State::Running,
        TargetState::Paused => State::Paused,
        TargetState::Stopped => State::Stopped,
    }
}

#[async_trait::async_trait]
impl HerderApi for DistributedHerder {
    fn worker_id(&self) -> &str {
        &self.ctx.worker_id
    }

    fn registry(&self) -> &PluginRegistry {
        &self.registry
    }

    fn validate(&self, given: &RawConfig) -> Result<ValidationReport> {
        validate_connector(&self.ctx, &self.registry, given)
    }

    async fn request_target(&self, path: &str) -> RequestTarget {
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        if let ["connectors", name, "tasks", id, "restart"] = parts.as_slice() {
            // a task restart runs where the task runs
            let Ok(id) = id.parse::<u32>() else {
                return RequestTarget::Here;
            };
            if self
                .local
                .lock()
                .await
                .tasks
                .contains_key(&((*name).to_owned(), id))
            {
                return RequestTarget::Here;
            }
            return match self.statuses.task(name, id) {
                Some(s) if s.worker_id != self.ctx.worker_id && s.state != "UNASSIGNED" => {
                    RequestTarget::Forward(self.url_of(&s.worker_id))
                }
                _ if self.configs.snapshot().connectors.contains_key(*name) => {
                    RequestTarget::NoLeader
                }
                _ => RequestTarget::Here,
            };
        }
        let leader = self.role.lock().ok().and_then(|r| r.leader_url.clone());
        match leader {
            Some(url) if url == self.url => RequestTarget::Here,
            Some(url) => RequestTarget::Forward(url),
            None => RequestTarget::NoLeader,
        }
    }

    async fn create(
        &self,
        name: &str,
        config: RawConfig,
        initial: Option<TargetState>,
    ) -> Result<ConnectorInfo> {
        Ok(self.write_config(name, config, initial, true).await?.1)
    }

    async fn put_config(&self, name: &str, config: RawConfig) -> Result<(bool, ConnectorInfo)> {
        self.write_config(name, config, None, false).await
    }

    async fn patch_config(
        &self,
        name: &str,
        patch: BTreeMap<String, Option<String>>,
    ) -> Result<ConnectorInfo> {
        let mut config = self
            .configs
            .snapshot()
            .connectors
            .get(name)
            .cloned()
            .ok_or_else(|| not_found(name))?;
        apply_patch(&mut config, patch);
        Ok(self.write_config(name, config, None, false).await?.1)
    }

    async fn delete(&self, name: &str) -> Result<()> {
        if !self.configs.snapshot().connectors.contains_key(name) {
            return Err(not_found(name));
        }
        self.configs
            .append(vec![
                ConfigRecord::Connector {
                    name: name.to_owned(),
                    config: None,
                },
                ConfigRecord::TargetState {
                    connector: name.to_owned(),
                    state: None,
                },
            ])
            .await?;
        self.follow_configs().await;
        Ok(())
    }

    async fn set_target(&self, name: &str, target: TargetState) -> Result<()> {
        if !self.configs.snapshot().connectors.contains_key(name) {
            return Err(not_found(name));
        }
        let mut records = Vec::new();
        if target == TargetState::Stopped {
            // Kafka Connect: an empty set of task configs, then the state
            records.push(ConfigRecord::Commit {
                connector: name.to_owned(),
                tasks: 0,
            });
        }
        records.push(ConfigRecord::TargetState {
            connector: name.to_owned(),
            state: Some(target),
        });
        self.configs.append(records).await?;
        self.follow_configs().await;
        Ok(())
    }

    async fn restart(&self, name: &str, include_tasks: bool, only_failed: bool) -> Result<()> {
        if !self.configs.snapshot().connectors.contains_key(name) {
            return Err(not_found(name));
        }
        self.configs
            .append(vec![ConfigRecord::Restart {
                connector: name.to_owned(),
                include_tasks,
                only_failed,
            }])
            .await
    }

    async fn restart_task(&self, name: &str, id: u32) -> Result<()> {
        let mut local = self.local.lock().await;
        let key = (name.to_owned(), id);
        match local.tasks.remove(&key) {
            Some(mut t) => {
                stop_task(&self.ctx, &mut t.handle).await;
                self.reconcile(&mut local).await;
                Ok(())
            }
            None if self.configs.snapshot().connectors.contains_key(name) => Err(
                RuntimeError::NotFound(format!("Task {name}-{id} not found")),
            ),
            None => Err(not_found(name)),
        }
    }

    async fn put_task_configs(
        &self,
        name: &str,
        body: &[u8],
        algorithm: Option<&str>,
        signature: Option<&str>,
    ) -> Result<()> {
        let sessioned = self
            .role
            .lock()
            .map(|r| r.protocol == Some(ConnectProtocol::Sessioned))
            .unwrap_or(true);
        let snap = self.configs.snapshot();
        if sessioned {
            session::verify(snap.session_key.as_ref(), algorithm, signature, body)?;
        }
        if !self.is_leader() {
            return Err(RuntimeError::Conflict(
                "Only the leader may write task configurations.".into(),
            ));
        }
        if !snap.connectors.contains_key(name) {
            return Err(not_found(name));
        }
        let configs: Vec<RawConfig> = serde_json::from_slice(body).map_err(|e| {
            RuntimeError::BadRequest(format!("Cannot deserialize the task configs: {e}"))
        })?;
        self.append_task_configs(name, &configs).await
    }

    async fn names(&self) -> Vec<String> {
        self.configs.snapshot().connectors.keys().cloned().collect()
    }

    async fn info(&self, name: &str) -> Result<ConnectorInfo> {
        let snap = self.configs.snapshot();
        let config = snap.connectors.get(name).ok_or_else(|| not_found(name))?;
        let plugin = self.plugin_of(config)?;
        let tasks = snap
            .tasks
            .get(name)
            .map(|t| t.keys().copied().collect())
            .unwrap_or_default();
        Ok(connector_info(name, &plugin, config, tasks))
    }

    async fn status(&self, name: &str) -> Result<Json> {
        let snap = self.configs.snapshot();
        let config = snap.connectors.get(name).ok_or_else(|| not_found(name))?;
        let connector = self.statuses.connector(name).ok_or_else(|| {
            RuntimeError::NotFound(format!("No status found for connector {name}"))
        })?;
        let tasks: Vec<Json> = snap
            .tasks
            .get(name)
            .map(|t| {
                t.keys()
                    .filter_map(|id| {
                        self.statuses
                            .task(name, *id)
                            .map(|s| Self::status_json(&s, Some(*id)))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let type_ = self
            .plugin_of(config)
            .map(|p| p.kind.type_name())
            .unwrap_or("unknown");
        Ok(json!({
            "name": name,
            "connector": Self::status_json(&connector, None),
            "tasks": tasks,
            "type": type_,
        }))
    }

    async fn task_status(&self, name: &str, id: u32) -> Result<Json> {
        if !self.configs.snapshot().connectors.contains_key(name) {
            return Err(not_found(name));
        }
        self.statuses
            .task(name, id)
            .map(|s| Self::status_json(&s, Some(id)))
            .ok_or_else(|| RuntimeError::NotFound(format!("No status found for task {name}-{id}")))
    }

    async fn tasks(&self, name: &str) -> Result<Json> {
        let snap = self.configs.snapshot();
        let config = snap.connectors.get(name).ok_or_else(|| not_found(name))?;
        let def = (self.plugin_of(config)?.config_def)();
        Ok(Json::Array(
            snap.tasks
                .get(name)
                .map(|t| {
                    t.iter()
                        .map(|(id, c)| json!({"id": {"connector": name, "task": id}, "config": redact(c, &def)}))
                        .collect()
                })
                .unwrap_or_default(),
        ))
    }

    async fn topics(&self, name: &str) -> Result<Vec<String>> {
        if !self.configs.snapshot().connectors.contains_key(name) {
            return Err(not_found(name));
        }
        let local = self.local.lock().await;
        Ok(local
            .topics
            .get(name)
            .and_then(|t| t.lock().ok().map(|t| t.iter().cloned().collect()))
            .unwrap_or_default())
    }

    async fn reset_topics(&self, name: &str) -> Result<()> {
        if !self.configs.snapshot().connectors.contains_key(name) {
            return Err(not_found(name));
        }
        let local = self.local.lock().await;
        if let Some(t) = local.topics.get(name) {
            if let Ok(mut t) = t.lock() {
                t.clear();
            }
        }
        Ok(())
    }

    async fn offsets(&self, name: &str) -> Result<Json> {
        let snap = self.configs.snapshot();
        let config = snap.connectors.get(name).ok_or_else(|| not_found(name))?;
        let plugin = self.plugin_of(config)?;
        self.offsets.refresh().await?;
        connector_offsets(&self.ctx, self.offsets.as_ref(), &plugin, config, name).await
    }

    async fn alter_offsets(
        &self,
        name: &str,
        offsets: Option<Vec<(velocity_api::Partition, Option<velocity_api::Offset>)>>,
    ) -> Result<&'static str> {
        let snap = self.configs.snapshot();
        let config = snap.connectors.get(name).ok_or_else(|| not_found(name))?;
        let plugin = self.plugin_of(config)?;
        let target = snap.target_state(name).unwrap_or(TargetState::Started);
        self.offsets.refresh().await?;
        alter_connector_offsets(
            &self.ctx,
            self.offsets.as_ref(),
            &plugin,
            config,
            target,
            name,
            offsets,
        )
        .await
    }

    async fn shutdown(&self) {
        let _ = self.stop.send(true);
        let mut local = self.local.lock().await;
        // owning nothing, the reconcile stops every task (offsets
        // committed) and connector and writes their statuses, as for a
        // revocation
        local.owned = ConnectorsAndTasks::default();
        self.reconcile(&mut local).await;
        drop(local);
        let member = self.member.lock().ok().and_then(|mut m| m.take());
        if let Some(m) = member {
            if let Err(e) = m.leave().await {
                tracing::warn!(error = %e, "leaving the group failed");
            }
        }
    }
}

impl DistributedHerder {
    /// The REST base URL of the worker with id `worker_id` (`host:port`),
    /// with this worker's scheme.
    fn url_of(&self, worker_id: &str) -> String {
        let scheme = if self.url.starts_with("https://") {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{worker_id}")
    }

    /// Whether this worker leads the group (for tests and logs).
    pub fn leads(&self) -> bool {
        self.is_leader()
    }
}
