//! The `connect` group membership client: a worker joins Kafka's group
//! coordinator the way Kafka Connect's `WorkerCoordinator` does, and hands
//! every assignment to the distributed herder.
//!
//! Kafka Connect's protocol (classic consumer-group wire protocol, with
//! `protocol_type` = `connect`):
//!
//! ```text
//! FindCoordinator(key = group.id, key_type 0)  -> coordinator host:port
//! JoinGroup(group.id, session.timeout.ms, rebalance.timeout.ms, member id,
//!           protocol_type "connect",
//!           protocols [sessioned v2, compatible v1, default v0] up to
//!           connect.protocol, metadata = protocol::WorkerState
//!           (url, config offset, the member's current allocation))
//!   MEMBER_ID_REQUIRED  -> join again with the member id it returned
//!   UNKNOWN_MEMBER_ID   -> forget the member id, join again
//!   <- generation, chosen protocol, leader, and (leader only) every
//!      member's metadata
//! SyncGroup(generation, member id, leader: one protocol::Assignment per
//!           member computed by assignor::IncrementalCooperativeAssignor)
//!   <- this member's Assignment (leader, leader url, config offset,
//!      assigned and revoked connectors/tasks, delay)
//! Heartbeat every heartbeat.interval.ms until
//!   REBALANCE_IN_PROGRESS / ILLEGAL_GENERATION -> join again (same id)
//!   UNKNOWN_MEMBER_ID                          -> join again (new id)
//! LeaveGroup(member id) on shutdown.
//! ```
//!
//! States of the member loop: `Unjoined` (no coordinator or no member id)
//! -> `Joining` (JoinGroup outstanding; it blocks until every member has
//! rejoined or `rebalance.timeout.ms`) -> `Syncing` (SyncGroup outstanding)
//! -> `Stable` (heartbeating) -> back to `Joining` when the coordinator
//! answers a heartbeat with a rebalance error, when the herder asks for a
//! rejoin ([`GroupMember::request_rejoin`], e.g. a connector was added),
//! when the assignment carries a delay (a scheduled rebalance: rejoin once
//! it expires), or when the assignment revoked work (rejoin once the herder
//! has stopped it: it drops the assignment's [`AckToken`], so a revoked
//! task never runs on two workers). `Left` after [`GroupMember::leave`].
//!
//! With the cooperative protocols (`sessioned`, `compatible`) a member
//! reports what it runs in its JoinGroup allocation and keeps it across
//! rebalances; with `default` (eager) it gives up everything at every
//! rebalance and the leader assigns from scratch.
//!
//! The client speaks PLAINTEXT only (one TCP connection to the
//! coordinator); the data path and the internal topics stay on librdkafka.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::leave_group_request::MemberIdentity;
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::{
    FindCoordinatorRequest, GroupId, HeartbeatRequest, JoinGroupRequest, LeaveGroupRequest,
    RequestHeader, ResponseHeader, SyncGroupRequest,
};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};
use kafka_protocol::ResponseError;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch};
use velocity_api::config::ConfigExt;
use velocity_api::RawConfig;

use super::assignor::{ConnectorsAndTasks, IncrementalCooperativeAssignor};
use super::protocol::{
    Assignment, ConnectProtocol, WorkerState, CONFIG_MISMATCH, NO_ERROR, PROTOCOL_TYPE,
};

const FIND_COORDINATOR_VERSION: i16 = 1;
const JOIN_GROUP_VERSION: i16 = 5;
const SYNC_GROUP_VERSION: i16 = 3;
const HEARTBEAT_VERSION: i16 = 3;
const LEAVE_GROUP_VERSION: i16 = 3;

const COORDINATOR_LOAD_IN_PROGRESS: i16 = 14;
const COORDINATOR_NOT_AVAILABLE: i16 = 15;
const NOT_COORDINATOR: i16 = 16;
const ILLEGAL_GENERATION: i16 = 22;
const UNKNOWN_MEMBER_ID: i16 = 25;
const REBALANCE_IN_PROGRESS: i16 = 27;
const MEMBER_ID_REQUIRED: i16 = 79;

/// A group membership failure.
#[derive(Debug, thiserror::Error)]
pub enum GroupError {
    /// The coordinator could not be reached or the connection broke
    /// (retriable: the member finds the coordinator again).
    #[error("group coordinator I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// A request got no answer in time (retriable).
    #[error("{0} timed out")]
    Timeout(&'static str),
    /// A frame could not be encoded or decoded (fatal: the broker speaks
    /// another protocol).
    #[error("group protocol error: {0}")]
    Protocol(String),
    /// The coordinator answered an error this client does not recover
    /// from (e.g. GROUP_AUTHORIZATION_FAILED, INCONSISTENT_GROUP_PROTOCOL).
    #[error("{api} failed for group.id '{group}': {name} (error code {code})")]
    Broker {
        /// The request.
        api: &'static str,
        /// The group.
        group: String,
        /// Kafka's error code.
        code: i16,
        /// Kafka's error name.
        name: String,
    },
}

impl GroupError {
    /// Whether trying again (after finding the coordinator again) may help.
    pub fn is_retriable(&self) -> bool {
        match self {
            GroupError::Io(_) | GroupError::Timeout(_) => true,
            GroupError::Protocol(_) => false,
            GroupError::Broker { code, .. } => matches!(
                *code,
                COORDINATOR_LOAD_IN_PROGRESS | COORDINATOR_NOT_AVAILABLE | NOT_COORDINATOR
            ),
        }
    }
}

/// Kafka's name of an error code (`REBALANCE_IN_PROGRESS`, ...).
fn error_name(code: i16) -> String {
    match ResponseError::try_from_code(code) {
        Some(e) => format!("{e:?}"),
        None => format!("error {code}"),
    }
}

/// The membership settings, from the worker config with Kafka Connect's names.
#[derive(Debug, Clone)]
pub struct GroupConfig {
    /// `bootstrap.servers` (`host:port` list; the first reachable is asked
    /// for the coordinator).
    pub bootstrap_servers: String,
    /// `group.id`.
    pub group_id: String,
    /// `client.id` sent in request headers (Kafka Connect's default:
    /// `connect-1` for a process's first worker).
    pub client_id: String,
    /// This worker's advertised REST URL (in its JoinGroup metadata; the
    /// leader's becomes the assignment's leader url).
    pub url: String,
    /// `connect.protocol`: the highest protocol offered.
    pub protocol: ConnectProtocol,
    /// `session.timeout.ms` (default 10000).
    pub session_timeout: Duration,
    /// `heartbeat.interval.ms` (default 3000).
    pub heartbeat_interval: Duration,
    /// `rebalance.timeout.ms` (default 60000).
    pub rebalance_timeout: Duration,
    /// `scheduled.rebalance.max.delay.ms` (default 300000), for the
    /// assignor when this member leads.
    pub scheduled_rebalance_max_delay: Duration,
}

impl GroupConfig {
    /// The membership keys of a worker config, with Kafka Connect's names
    /// and defaults (`session.timeout.ms` 10000, `heartbeat.interval.ms`
    /// 3000, `rebalance.timeout.ms` 60000, `scheduled.rebalance.max.delay.ms`
    /// 300000, `connect.protocol` `sessioned`); `group.id` is required.
    /// `bootstrap_servers` and `url` (the advertised REST URL) come from the
    /// worker. Every problem is reported as (key, message).
    pub fn from_raw(
        raw: &RawConfig,
        bootstrap_servers: &str,
        url: &str,
    ) -> Result<GroupConfig, Vec<(String, String)>> {
        let mut errors = Vec::new();
        let group_id = match raw.opt_str("group.id") {
            Some(g) => g.to_owned(),
            None => {
                errors.push((
                    "group.id".to_owned(),
                    "Missing required configuration \"group.id\" which has no default value."
                        .to_owned(),
                ));
                String::new()
            }
        };
        let mut ms = |k: &str, default: i64| match raw.int_or(k, default, 0, i32::MAX as i64) {
            Ok(v) => Duration::from_millis(v as u64),
            Err(e) => {
                errors.push((k.to_owned(), e.to_string()));
                Duration::from_millis(default as u64)
            }
        };
        let session_timeout = ms("session.timeout.ms", 10_000);
        let heartbeat_interval = ms("heartbeat.interval.ms", 3_000);
        let rebalance_timeout = ms("rebalance.timeout.ms", 60_000);
        let scheduled_rebalance_max_delay = ms("scheduled.rebalance.max.delay.ms", 300_000);
        let value = raw.str_or("connect.protocol", "sessioned");
        let protocol = ConnectProtocol::from_config(value).unwrap_or_else(|| {
            errors.push((
                "connect.protocol".to_owned(),
                format!("Invalid value {value} for configuration connect.protocol: String must be one of: eager, compatible, sessioned"),
            ));
            ConnectProtocol::Sessioned
        });
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(GroupConfig {
            bootstrap_servers: bootstrap_servers.to_owned(),
            client_id: raw
                .opt_str("client.id")
                .map(str::to_owned)
                .unwrap_or_else(|| "connect-1".to_owned()),
            group_id,
            url: url.to_owned(),
            protocol,
            session_timeout,
            heartbeat_interval,
            rebalance_timeout,
            scheduled_rebalance_max_delay,
        })
    }
}

/// What the leader assigns from: the config topic's snapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterConfig {
    /// The config topic offset the snapshot reflects.
    pub offset: i64,
    /// The configured connectors and their committed tasks.
    pub configured: ConnectorsAndTasks,
}

/// Held by the herder while it applies an assignment; dropping it tells
/// the member that revoked work is stopped, so it may rejoin.
#[derive(Debug)]
pub struct AckToken(#[allow(dead_code)] oneshot::Sender<()>);

/// One completed rebalance as this member sees it.
#[derive(Debug)]
pub struct GroupAssignment {
    /// The group generation.
    pub generation: i32,
    /// The protocol the group chose.
    pub protocol: ConnectProtocol,
    /// This member's id.
    pub member_id: String,
    /// The leader's member id.
    pub leader: String,
    /// The leader's advertised URL.
    pub leader_url: String,
    /// The leader's config topic offset: read the config topic at least
    /// this far before starting the assigned work.
    pub config_offset: i64,
    /// `NO_ERROR`, or `CONFIG_MISMATCH` (this member or the leader was
    /// behind on the config topic: read to the end and the member rejoins).
    pub error: i16,
    /// Newly assigned connectors and tasks: start them.
    pub assigned: ConnectorsAndTasks,
    /// Revoked connectors and tasks: stop them (committing offsets), then
    /// drop [`GroupAssignment::ack`].
    pub revoked: ConnectorsAndTasks,
    /// Everything this member owns after this assignment.
    pub running: ConnectorsAndTasks,
    /// Milliseconds until the scheduled rebalance (0: none).
    pub delay: i32,
    /// The generation's members (only the leader learns them; empty on
    /// followers).
    pub members: Vec<String>,
    /// Dropped when the herder has applied this assignment.
    pub ack: AckToken,
}

enum Command {
    Rejoin,
    Leave(oneshot::Sender<Result<(), GroupError>>),
}

/// A running group member. Dropping it stops heartbeating WITHOUT a
/// LeaveGroup (as a crash would: the coordinator expires it after
/// `session.timeout.ms`); [`GroupMember::leave`] leaves cleanly.
pub struct GroupMember {
    commands: mpsc::UnboundedSender<Command>,
    task: tokio::task::JoinHandle<()>,
}

impl GroupMember {
    /// Starts the member loop: it joins `config.group_id` and sends every
    /// completed assignment on the returned channel (bounded: the member
    /// waits for the herder). When it leads, it assigns from the current
    /// value of `cluster`. Fatal errors end the stream.
    pub fn start(
        config: GroupConfig,
        cluster: watch::Receiver<ClusterConfig>,
    ) -> (
        GroupMember,
        mpsc::Receiver<Result<GroupAssignment, GroupError>>,
    ) {
        let (commands, command_rx) = mpsc::unbounded_channel();
        let (out, assignments) = mpsc::channel(8);
        let assignor =
            IncrementalCooperativeAssignor::new(millis_i32(config.scheduled_rebalance_max_delay));
        let state = MemberLoop {
            config,
            cluster,
            commands: command_rx,
            out,
            conn: None,
            member_id: String::new(),
            generation: -1,
            last_completed_generation: -1,
            owned: ConnectorsAndTasks::default(),
            last: None,
            assignor,
        };
        let task = tokio::spawn(state.run());
        (GroupMember { commands, task }, assignments)
    }

    /// Asks the member to rejoin (Kafka Connect's `requestRejoin`, e.g.
    /// after a connector was created or deleted).
    pub fn request_rejoin(&self) {
        let _ = self.commands.send(Command::Rejoin);
    }

    /// Leaves the group (LeaveGroup) and stops the member.
    pub async fn leave(self) -> Result<(), GroupError> {
        let (tx, rx) = oneshot::channel();
        if self.commands.send(Command::Leave(tx)).is_err() {
            return Ok(());
        }
        rx.await.unwrap_or(Ok(()))
    }
}

impl Drop for GroupMember {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn millis_i32(d: Duration) -> i32 {
    d.as_millis().min(i32::MAX as u128) as i32
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// One TCP connection speaking Kafka's request/response framing.
struct Connection {
    stream: TcpStream,
    correlation: i32,
    client_id: StrBytes,
}

impl Connection {
    async fn open(addr: &str, client_id: &str) -> Result<Connection, GroupError> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Connection {
            stream,
            correlation: 0,
            client_id: StrBytes::from_string(client_id.to_owned()),
        })
    }

    async fn send<R: Request>(
        &mut self,
        request: &R,
        version: i16,
        timeout: Duration,
        api: &'static str,
    ) -> Result<R::Response, GroupError> {
        self.correlation = self.correlation.wrapping_add(1);
        let header = RequestHeader::default()
            .with_request_api_key(R::KEY)
            .with_request_api_version(version)
            .with_correlation_id(self.correlation)
            .with_client_id(Some(self.client_id.clone()));
        let frame = encode_frame(&header, request, version)?;
        let io = async {
            self.stream.write_all(&frame).await?;
            let len = self.stream.read_i32().await?;
            if len < 0 {
                return Err(GroupError::Protocol(format!("negative frame length {len}")));
            }
            let mut body = vec![0u8; len as usize];
            self.stream.read_exact(&mut body).await?;
            Ok(Bytes::from(body))
        };
        let mut body = tokio::time::timeout(timeout, io)
            .await
            .map_err(|_| GroupError::Timeout(api))??;
        let perr = |e: anyhow::Error| GroupError::Protocol(format!("{api} v{version}: {e}"));
        let rh = ResponseHeader::decode(&mut body, R::Response::header_version(version))
            .map_err(perr)?;
        if rh.correlation_id != self.correlation {
            return Err(GroupError::Protocol(format!(
                "{api}: correlation id {} answered, {} expected",
                rh.correlation_id, self.correlation
            )));
        }
        R::Response::decode(&mut body, version).map_err(perr)
    }
}

/// A request as it goes on the wire: INT32 size, header, body.
fn encode_frame<R: Request>(
    header: &RequestHeader,
    request: &R,
    version: i16,
) -> Result<BytesMut, GroupError> {
    let perr = |e: anyhow::Error| GroupError::Protocol(e.to_string());
    let mut buf = BytesMut::new();
    buf.put_i32(0);
    header
        .encode(&mut buf, R::header_version(version))
        .map_err(perr)?;
    request.encode(&mut buf, version).map_err(perr)?;
    let len = (buf.len() - 4) as i32;
    buf[..4].copy_from_slice(&len.to_be_bytes());
    Ok(buf)
}

fn sb(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_owned())
}

/// How a round ended.
enum Round {
    /// Join again with the member id kept.
    Rejoin,
    /// Join again with a fresh member id.
    ResetMember,
    /// Find the coordinator again.
    Rediscover,
    /// The member left (or the herder went away).
    Stop,
}

struct MemberLoop {
    config: GroupConfig,
    cluster: watch::Receiver<ClusterConfig>,
    commands: mpsc::UnboundedReceiver<Command>,
    out: mpsc::Sender<Result<GroupAssignment, GroupError>>,
    conn: Option<Connection>,
    member_id: String,
    generation: i32,
    last_completed_generation: i32,
    owned: ConnectorsAndTasks,
    last: Option<Assignment>,
    assignor: IncrementalCooperativeAssignor,
}

impl MemberLoop {
    async fn run(mut self) {
        let mut backoff = Duration::from_millis(100);
        loop {
            let round = match self.round().await {
                Ok(r) => {
                    backoff = Duration::from_millis(100);
                    r
                }
                Err(e) if e.is_retriable() => {
                    tracing::warn!(group = %self.config.group_id, error = %e, "group membership: retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    Round::Rediscover
                }
                Err(e) => {
                    let _ = self.out.send(Err(e)).await;
                    return;
                }
            };
            match round {
                Round::Rejoin => {}
                Round::ResetMember => {
                    self.member_id.clear();
                    self.generation = -1;
                }
                Round::Rediscover => self.conn = None,
                Round::Stop => return,
            }
        }
    }

    fn broker_err(&self, api: &'static str, code: i16) -> GroupError {
        GroupError::Broker {
            api,
            group: self.config.group_id.clone(),
            code,
            name: error_name(code),
        }
    }

    fn request_timeout(&self) -> Duration {
        self.config.session_timeout.max(Duration::from_secs(5))
    }

    async fn coordinator(&mut self) -> Result<&mut Connection, GroupError> {
        if self.conn.is_none() {
            let mut last = None;
            let mut found = None;
            for addr in self.config.bootstrap_servers.split(',').map(str::trim) {
                if addr.is_empty() {
                    continue;
                }
                match self.find_coordinator(addr).await {
                    Ok(a) => {
                        found = Some(a);
                        break;
                    }
                    Err(e) => last = Some(e),
                }
            }
            let addr = match (found, last) {
                (Some(a), _) => a,
                (None, Some(e)) => return Err(e),
                (None, None) => {
                    return Err(GroupError::Protocol("bootstrap.servers is empty".into()))
                }
            };
            self.conn = Some(Connection::open(&addr, &self.config.client_id).await?);
        }
        Ok(self.conn.as_mut().expect("connected above"))
    }

    async fn find_coordinator(&self, bootstrap: &str) -> Result<String, GroupError> {
        let mut c = Connection::open(bootstrap, &self.config.client_id).await?;
        let req = FindCoordinatorRequest::default()
            .with_key(sb(&self.config.group_id))
            .with_key_type(0);
        let resp = c
            .send(
                &req,
                FIND_COORDINATOR_VERSION,
                self.request_timeout(),
                "FindCoordinator",
            )
            .await?;
        if resp.error_code != NO_ERROR {
            return Err(self.broker_err("FindCoordinator", resp.error_code));
        }
        Ok(format!("{}:{}", resp.host.as_str(), resp.port))
    }

    fn metadata(&self, protocol: ConnectProtocol) -> Bytes {
        let offset = self.cluster.borrow().offset;
        let allocation = match (protocol, &self.last) {
            (ConnectProtocol::Eager, _) => None,
            (_, None) => None,
            (_, Some(last)) => Some(Assignment {
                version: protocol.version(),
                error: last.error,
                leader: last.leader.clone(),
                leader_url: last.leader_url.clone(),
                config_offset: last.config_offset,
                connectors: self.owned.connectors.iter().cloned().collect(),
                tasks: self.owned.tasks.iter().cloned().collect(),
                revoked_connectors: Vec::new(),
                revoked_tasks: Vec::new(),
                delay: 0,
            }),
        };
        Bytes::from(
            WorkerState {
                version: protocol.version(),
                url: self.config.url.clone(),
                config_offset: offset,
                allocation,
            }
            .encode(),
        )
    }

    /// One Joining -> Syncing -> Stable round.
    async fn round(&mut self) -> Result<Round, GroupError> {
        // Joining
        let protocols: Vec<JoinGroupRequestProtocol> = self
            .config
            .protocol
            .offered()
            .into_iter()
            .map(|p| {
                JoinGroupRequestProtocol::default()
                    .with_name(sb(p.name()))
                    .with_metadata(self.metadata(p))
            })
            .collect();
        let join = JoinGroupRequest::default()
            .with_group_id(GroupId(sb(&self.config.group_id)))
            .with_session_timeout_ms(millis_i32(self.config.session_timeout))
            .with_rebalance_timeout_ms(millis_i32(self.config.rebalance_timeout))
            .with_member_id(sb(&self.member_id))
            .with_protocol_type(sb(PROTOCOL_TYPE))
            .with_protocols(protocols);
        let timeout = self.config.rebalance_timeout + self.request_timeout();
        let started = Instant::now();
        let resp = self
            .coordinator()
            .await?
            .send(&join, JOIN_GROUP_VERSION, timeout, "JoinGroup")
            .await?;
        tracing::debug!(group = %self.config.group_id, took_ms = started.elapsed().as_millis() as u64, code = resp.error_code, "JoinGroup answered");
        match resp.error_code {
            NO_ERROR => {}
            MEMBER_ID_REQUIRED => {
                self.member_id = resp.member_id.as_str().to_owned();
                return Ok(Round::Rejoin);
            }
            UNKNOWN_MEMBER_ID | ILLEGAL_GENERATION => return Ok(Round::ResetMember),
            REBALANCE_IN_PROGRESS => return Ok(Round::Rejoin),
            COORDINATOR_LOAD_IN_PROGRESS | COORDINATOR_NOT_AVAILABLE | NOT_COORDINATOR => {
                return Ok(Round::Rediscover)
            }
            code => return Err(self.broker_err("JoinGroup", code)),
        }
        self.member_id = resp.member_id.as_str().to_owned();
        self.generation = resp.generation_id;
        let protocol = resp
            .protocol_name
            .as_ref()
            .and_then(|n| ConnectProtocol::from_name(n.as_str()))
            .ok_or_else(|| {
                GroupError::Protocol(format!(
                    "JoinGroup chose protocol {:?}, not one of the connect protocols",
                    resp.protocol_name
                ))
            })?;
        let leader = resp.leader.as_str().to_owned();
        let mut members = Vec::new();
        let mut assignments = Vec::new();
        if leader == self.member_id {
            let mut states = BTreeMap::new();
            for m in &resp.members {
                let state = WorkerState::decode(&m.metadata)
                    .map_err(|e| GroupError::Protocol(e.to_string()))?;
                states.insert(m.member_id.as_str().to_owned(), state);
            }
            members = states.keys().cloned().collect();
            assignments = self.lead(protocol, &states);
        }

        // Syncing
        let sync = SyncGroupRequest::default()
            .with_group_id(GroupId(sb(&self.config.group_id)))
            .with_generation_id(self.generation)
            .with_member_id(sb(&self.member_id))
            .with_assignments(assignments);
        let timeout = self.config.rebalance_timeout + self.request_timeout();
        let resp = self
            .coordinator()
            .await?
            .send(&sync, SYNC_GROUP_VERSION, timeout, "SyncGroup")
            .await?;
        match resp.error_code {
            NO_ERROR => {}
            REBALANCE_IN_PROGRESS | ILLEGAL_GENERATION => return Ok(Round::Rejoin),
            UNKNOWN_MEMBER_ID => return Ok(Round::ResetMember),
            COORDINATOR_LOAD_IN_PROGRESS | COORDINATOR_NOT_AVAILABLE | NOT_COORDINATOR => {
                return Ok(Round::Rediscover)
            }
            code => return Err(self.broker_err("SyncGroup", code)),
        }
        let assignment = Assignment::decode(&resp.assignment)
            .map_err(|e| GroupError::Protocol(e.to_string()))?;
        self.last_completed_generation = self.generation;
        let (assigned, revoked) = split(&assignment);
        let revoked = if protocol == ConnectProtocol::Eager {
            // eager: everything owned before is given up at every rebalance
            std::mem::take(&mut self.owned)
        } else {
            revoked
        };
        self.owned = self.owned.minus(&revoked);
        self.owned.add_all(&assigned);
        let (ack_tx, mut ack_rx) = oneshot::channel();
        let event = GroupAssignment {
            generation: self.generation,
            protocol,
            member_id: self.member_id.clone(),
            leader: assignment.leader.clone(),
            leader_url: assignment.leader_url.clone(),
            config_offset: assignment.config_offset,
            error: assignment.error,
            assigned,
            revoked: revoked.clone(),
            running: self.owned.clone(),
            delay: assignment.delay,
            members,
            ack: AckToken(ack_tx),
        };
        let rejoin_now = assignment.error == CONFIG_MISMATCH;
        let delay = assignment.delay;
        self.last = Some(assignment);
        if self.out.send(Ok(event)).await.is_err() {
            return self.leave().await.map(|_| Round::Stop);
        }

        // Stable
        let pending_ack = !revoked.is_empty() || rejoin_now;
        let scheduled =
            (delay > 0).then(|| tokio::time::Instant::now() + Duration::from_millis(delay as u64));
        let mut ticker = tokio::time::interval(self.config.heartbeat_interval);
        ticker.tick().await;
        loop {
            tokio::select! {
                _ = &mut ack_rx, if pending_ack => return Ok(Round::Rejoin),
                _ = async { tokio::time::sleep_until(scheduled.expect("guarded")).await },
                    if scheduled.is_some() => return Ok(Round::Rejoin),
                cmd = self.commands.recv() => match cmd {
                    Some(Command::Rejoin) => return Ok(Round::Rejoin),
                    Some(Command::Leave(reply)) => {
                        let _ = reply.send(self.leave().await);
                        return Ok(Round::Stop);
                    }
                    None => return Ok(Round::Stop),
                },
                _ = ticker.tick() => {
                    match self.heartbeat().await? {
                        NO_ERROR => {}
                        REBALANCE_IN_PROGRESS | ILLEGAL_GENERATION => return Ok(Round::Rejoin),
                        UNKNOWN_MEMBER_ID => return Ok(Round::ResetMember),
                        COORDINATOR_LOAD_IN_PROGRESS | COORDINATOR_NOT_AVAILABLE
                        | NOT_COORDINATOR => return Ok(Round::Rediscover),
                        code => return Err(self.broker_err("Heartbeat", code)),
                    }
                }
            }
        }
    }

    async fn heartbeat(&mut self) -> Result<i16, GroupError> {
        let req = HeartbeatRequest::default()
            .with_group_id(GroupId(sb(&self.config.group_id)))
            .with_generation_id(self.generation)
            .with_member_id(sb(&self.member_id));
        let timeout = self.request_timeout();
        let resp = self
            .coordinator()
            .await?
            .send(&req, HEARTBEAT_VERSION, timeout, "Heartbeat")
            .await?;
        Ok(resp.error_code)
    }

    async fn leave(&mut self) -> Result<(), GroupError> {
        if self.member_id.is_empty() {
            return Ok(());
        }
        let req = LeaveGroupRequest::default()
            .with_group_id(GroupId(sb(&self.config.group_id)))
            .with_members(vec![
                MemberIdentity::default().with_member_id(sb(&self.member_id))
            ]);
        let timeout = self.request_timeout();
        let resp = self
            .coordinator()
            .await?
            .send(&req, LEAVE_GROUP_VERSION, timeout, "LeaveGroup")
            .await?;
        match resp.error_code {
            NO_ERROR | UNKNOWN_MEMBER_ID => Ok(()),
            code => Err(self.broker_err("LeaveGroup", code)),
        }
    }

    /// The leader's SyncGroup assignments for `states` (member id -> its
    /// JoinGroup metadata).
    fn lead(
        &mut self,
        protocol: ConnectProtocol,
        states: &BTreeMap<String, WorkerState>,
    ) -> Vec<SyncGroupRequestAssignment> {
        let cluster = self.cluster.borrow().clone();
        let max_offset = states
            .values()
            .map(|s| s.config_offset)
            .max()
            .unwrap_or(cluster.offset);
        let error = if max_offset > cluster.offset {
            // the leader is behind a member: Kafka Connect answers
            // CONFIG_MISMATCH so that everyone reads the config topic and
            // rejoins
            CONFIG_MISMATCH
        } else {
            NO_ERROR
        };
        let (round, delay) = if error != NO_ERROR {
            (BTreeMap::new(), 0)
        } else if protocol == ConnectProtocol::Eager {
            // eager members gave everything up: assign from scratch
            let empty: BTreeMap<String, ConnectorsAndTasks> = states
                .keys()
                .map(|k| (k.clone(), ConnectorsAndTasks::default()))
                .collect();
            let out = IncrementalCooperativeAssignor::new(0).perform(
                now_ms(),
                &cluster.configured,
                -1,
                self.generation,
                &empty,
            );
            (out.members, 0)
        } else {
            let running: BTreeMap<String, ConnectorsAndTasks> = states
                .iter()
                .map(|(id, s)| {
                    let mut c = ConnectorsAndTasks::default();
                    if let Some(a) = &s.allocation {
                        c.connectors.extend(a.connectors.iter().cloned());
                        c.tasks.extend(a.tasks.iter().cloned());
                    }
                    (id.clone(), c)
                })
                .collect();
            let out = self.assignor.perform(
                now_ms(),
                &cluster.configured,
                self.last_completed_generation,
                self.generation,
                &running,
            );
            (out.members, out.delay)
        };
        states
            .keys()
            .map(|id| {
                let m = round.get(id).cloned().unwrap_or_default();
                let a = Assignment {
                    version: protocol.version(),
                    error,
                    leader: self.member_id.clone(),
                    leader_url: self.config.url.clone(),
                    config_offset: cluster.offset,
                    connectors: m.assigned.connectors.into_iter().collect(),
                    tasks: m.assigned.tasks.into_iter().collect(),
                    revoked_connectors: m.revoked.connectors.into_iter().collect(),
                    revoked_tasks: m.revoked.tasks.into_iter().collect(),
                    delay,
                };
                SyncGroupRequestAssignment::default()
                    .with_member_id(sb(id))
                    .with_assignment(Bytes::from(a.encode()))
            })
            .collect()
    }
}

/// An assignment's assigned and revoked sets (task -1 = connector).
fn split(a: &Assignment) -> (ConnectorsAndTasks, ConnectorsAndTasks) {
    let assigned = ConnectorsAndTasks {
        connectors: a.connectors.iter().cloned().collect(),
        tasks: a.tasks.iter().cloned().collect(),
    };
    let revoked = ConnectorsAndTasks {
        connectors: a.revoked_connectors.iter().cloned().collect(),
        tasks: a.revoked_tasks.iter().cloned().collect(),
    };
    (assigned, revoked)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Buf;

    #[test]
    fn a_join_group_frame_carries_the_connect_protocols_and_metadata() {
        let state = WorkerState {
            version: 2,
            url: "http://w1:8083/".into(),
            config_offset: 42,
            allocation: None,
        };
        let protocols = ConnectProtocol::Sessioned
            .offered()
            .into_iter()
            .map(|p| {
                JoinGroupRequestProtocol::default()
                    .with_name(sb(p.name()))
                    .with_metadata(Bytes::from(state.encode()))
            })
            .collect();
        let join = JoinGroupRequest::default()
            .with_group_id(GroupId(sb("g")))
            .with_session_timeout_ms(10_000)
            .with_rebalance_timeout_ms(60_000)
            .with_protocol_type(sb(PROTOCOL_TYPE))
            .with_protocols(protocols);
        let header = RequestHeader::default()
            .with_request_api_key(JoinGroupRequest::KEY)
            .with_request_api_version(JOIN_GROUP_VERSION)
            .with_correlation_id(7);
        let mut frame = encode_frame(&header, &join, JOIN_GROUP_VERSION)
            .unwrap()
            .freeze();
        let len = frame.get_i32();
        assert_eq!(len as usize, frame.len());
        let h = RequestHeader::decode(
            &mut frame,
            JoinGroupRequest::header_version(JOIN_GROUP_VERSION),
        )
        .unwrap();
        assert_eq!((h.request_api_key, h.correlation_id), (11, 7));
        let back = JoinGroupRequest::decode(&mut frame, JOIN_GROUP_VERSION).unwrap();
        assert_eq!(back.protocol_type.as_str(), "connect");
        let names: Vec<&str> = back.protocols.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["sessioned", "compatible", "default"]);
        assert_eq!(
            WorkerState::decode(&back.protocols[0].metadata).unwrap(),
            state
        );
        assert!(!frame.has_remaining());
    }

    #[test]
    fn rebalance_errors_are_named_and_coordinator_moves_are_retriable() {
        let e = GroupError::Broker {
            api: "Heartbeat",
            group: "g".into(),
            code: NOT_COORDINATOR,
            name: error_name(NOT_COORDINATOR),
        };
        assert!(e.is_retriable());
        assert_eq!(error_name(REBALANCE_IN_PROGRESS), "RebalanceInProgress");
        assert!(!GroupError::Protocol("x".into()).is_retriable());
    }

    #[test]
    fn the_membership_keys_have_kafka_connect_defaults_and_named_errors() {
        let raw: RawConfig = [("group.id", "g1")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let c = GroupConfig::from_raw(&raw, "b:9092", "http://w:8083/").unwrap();
        assert_eq!(c.session_timeout, Duration::from_millis(10_000));
        assert_eq!(c.heartbeat_interval, Duration::from_millis(3_000));
        assert_eq!(c.rebalance_timeout, Duration::from_millis(60_000));
        assert_eq!(
            c.scheduled_rebalance_max_delay,
            Duration::from_millis(300_000)
        );
        assert_eq!(c.protocol, ConnectProtocol::Sessioned);
        assert_eq!(c.client_id, "connect-1");
        let raw: RawConfig = [("connect.protocol", "fast"), ("session.timeout.ms", "x")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let errors = GroupConfig::from_raw(&raw, "b:9092", "u").unwrap_err();
        let keys: Vec<&str> = errors.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["group.id", "session.timeout.ms", "connect.protocol"]);
        assert!(errors[2]
            .1
            .contains("String must be one of: eager, compatible, sessioned"));
    }
}
