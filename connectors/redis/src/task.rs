//! The Redis sink task: turns each record into a Redis command
//! ([`crate::render`]) and writes every `put` batch in chunks of
//! `redis.batch.size` commands, each chunk one pipelined `MULTI`/`EXEC`
//! transaction (commands keep Kafka order, so the last change of a key wins).
//! `put` returns only after Redis acknowledged the chunk, so `flush` has
//! nothing left to do and the runtime commits offsets only past written
//! records (at-least-once: `SET`/`DEL`/`HSET` replays converge; stream mode
//! may append a replayed record twice).
//!
//! A failed chunk returns its error with its kind: retriable ones
//! (connection lost, server loading) make the runtime's retry policy
//! restart the task in place, which reconnects and re-delivers everything
//! not yet committed; fatal ones (rejected credentials, a record without the
//! key the template needs) fail the task at once.

use std::time::Duration;

use async_trait::async_trait;
use redis::aio::MultiplexedConnection;
use redis::{ConnectionAddr, ConnectionInfo, RedisConnectionInfo};
use velocity_api::{
    ConfigErrors, RawConfig, Result, SinkRecord, SinkTask, TaskContext, TypedConfig,
};

use crate::config::RedisSinkConfig;
use crate::error::{command_error, RedisSinkError};
use crate::render::{command, Command};

/// How long connecting (TCP, TLS, AUTH, SELECT) may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A connection that writes [`Command`]s.
pub struct RedisWriter {
    conn: MultiplexedConnection,
    pipeline: bool,
    address: String,
}

impl RedisWriter {
    /// Connects, authenticates and selects `redis.db`; wrong credentials are
    /// fatal, an unreachable server retriable.
    pub async fn connect(cfg: &RedisSinkConfig) -> Result<RedisWriter, RedisSinkError> {
        let addr = if cfg.tls {
            ConnectionAddr::TcpTls {
                host: cfg.host.clone(),
                port: cfg.port,
                insecure: false,
                tls_params: None,
            }
        } else {
            ConnectionAddr::Tcp(cfg.host.clone(), cfg.port)
        };
        let info = ConnectionInfo {
            addr,
            redis: RedisConnectionInfo {
                db: cfg.db,
                username: cfg.user.clone(),
                password: cfg.password.as_ref().map(|p| p.expose().to_owned()),
                ..Default::default()
            },
        };
        let address = cfg.address();
        let connect_err = |message: String| RedisSinkError::Connect {
            address: address.clone(),
            message,
        };
        let client = redis::Client::open(info).map_err(|e| connect_err(e.to_string()))?;
        let conn =
            match tokio::time::timeout(CONNECT_TIMEOUT, client.get_multiplexed_async_connection())
                .await
            {
                Err(_) => return Err(connect_err(format!("no answer within {CONNECT_TIMEOUT:?}"))),
                Ok(Ok(c)) => c,
                Ok(Err(e)) => {
                    let text = e.to_string();
                    return Err(
                        if e.kind() == redis::ErrorKind::AuthenticationFailed
                            || text.contains("WRONGPASS")
                            || text.contains("NOAUTH")
                            || text.contains("NOPERM")
                        {
                            RedisSinkError::Auth {
                                address,
                                message: text,
                            }
                        } else if e.kind() == redis::ErrorKind::ResponseError {
                            // e.g. "ERR DB index is out of range"
                            RedisSinkError::Config(ConfigErrors::one(crate::config::DB.name, text))
                        } else {
                            connect_err(text)
                        },
                    );
                }
            };
        Ok(RedisWriter {
            conn,
            pipeline: cfg.pipeline,
            address,
        })
    }

    /// Writes `cmds` in order: one `MULTI`/`EXEC` pipeline when pipelining is
    /// on, else one round trip per command. Blocks until Redis answered.
    pub async fn write(&mut self, cmds: &[Command]) -> Result<(), RedisSinkError> {
        if cmds.is_empty() {
            return Ok(());
        }
        let action = || format!("writing {} commands to {}", cmds.len(), self.address);
        if self.pipeline {
            let mut p = redis::pipe();
            p.atomic();
            for c in cmds {
                add(&mut p, c);
            }
            p.query_async::<()>(&mut self.conn)
                .await
                .map_err(|e| command_error(action(), &e))
        } else {
            for c in cmds {
                let mut p = redis::pipe();
                add(&mut p, c);
                p.query_async::<()>(&mut self.conn)
                    .await
                    .map_err(|e| command_error(action(), &e))?;
            }
            Ok(())
        }
    }
}

/// Appends the Redis command(s) of `c` to `p`, replies ignored.
fn add(p: &mut redis::Pipeline, c: &Command) {
    match c {
        Command::Set { key, value } => {
            p.set(key, value).ignore();
        }
        Command::Hash { key, fields } => {
            p.del(key).ignore();
            if !fields.is_empty() {
                p.hset_multiple(key, fields).ignore();
            }
        }
        Command::Del { key } => {
            p.del(key).ignore();
        }
        Command::XAdd {
            stream,
            field,
            value,
        } => {
            p.xadd(stream, "*", &[(field, value)]).ignore();
        }
    }
}

/// The task of `io.velocity.connector.redis.RedisSinkConnector`.
#[derive(Default)]
pub struct RedisSinkTask {
    state: Option<State>,
}

struct State {
    cfg: RedisSinkConfig,
    writer: Option<RedisWriter>,
}

impl State {
    async fn write_chunk(&mut self, cmds: &[Command]) -> Result<(), RedisSinkError> {
        let writer = match self.writer.as_mut() {
            Some(w) => w,
            None => self.writer.insert(RedisWriter::connect(&self.cfg).await?),
        };
        let result = writer.write(cmds).await;
        if result.is_err() {
            // the connection may be broken: the next attempt reconnects
            self.writer = None;
        }
        result
    }
}

#[async_trait]
impl SinkTask for RedisSinkTask {
    /// Parses the configuration and connects; an unreachable server or
    /// rejected credentials fail here naming the keys to fix.
    async fn start(&mut self, config: &RawConfig, _ctx: TaskContext) -> Result<()> {
        let cfg = RedisSinkConfig::from_raw(config)?;
        let writer = RedisWriter::connect(&cfg).await?;
        self.state = Some(State {
            cfg,
            writer: Some(writer),
        });
        Ok(())
    }

    /// Renders `records` (in Kafka order) and writes them in chunks of
    /// `redis.batch.size`; returns after the last chunk is acknowledged. A
    /// record that cannot be rendered fails the task naming its topic,
    /// partition and offset; earlier chunks of the batch stay written (they
    /// are idempotent and will be replayed).
    async fn put(&mut self, records: Vec<SinkRecord>) -> Result<()> {
        let st = self
            .state
            .as_mut()
            .ok_or_else(|| velocity_api::ConnectError::fatal("Redis sink task is not started"))?;
        let mut chunk = Vec::with_capacity(st.cfg.batch_size.min(records.len()));
        for r in &records {
            if let Some(c) = command(r, &st.cfg)? {
                chunk.push(c);
                if chunk.len() >= st.cfg.batch_size {
                    st.write_chunk(&chunk).await?;
                    chunk.clear();
                }
            }
        }
        st.write_chunk(&chunk).await?;
        Ok(())
    }

    /// Nothing is buffered between `put` calls.
    async fn flush(&mut self) -> Result<()> {
        Ok(())
    }

    /// Drops the connection.
    async fn stop(&mut self) -> Result<()> {
        self.state = None;
        Ok(())
    }
}
