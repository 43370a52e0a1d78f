//! The JDBC sink task: turns records into table changes as they arrive,
//! buffers them, and writes every `batch.size` changes (and on `flush`) as
//! one database transaction. Retriable database errors (lost connection,
//! deadlock) reconnect and retry the same batch a few times before the task
//! fails; fatal ones (missing table with `schema.evolution=none`, bad
//! credentials, a constraint violation) fail it at once, with nothing of the
//! failed batch written.

use std::time::Duration;

use async_trait::async_trait;
use velocity_api::{RawConfig, Result, SinkRecord, SinkTask, TaskContext};

use crate::config::{Dialect, InsertMode, JdbcSinkConfig};
use crate::error::JdbcError;
use crate::mariadb::MyWriter;
use crate::model::{plan, Change, Interpreter, TablePlan};
use crate::postgres::PgWriter;

/// How many times a batch is retried after a retriable error.
pub const MAX_RETRIES: u32 = 3;

/// A connection to either database family.
pub enum Writer {
    /// PostgreSQL.
    Pg(Box<PgWriter>),
    /// MariaDB / MySQL.
    My(MyWriter),
}

impl Writer {
    /// Connects to the database `cfg.url` names.
    pub async fn connect(cfg: &JdbcSinkConfig) -> Result<Writer, JdbcError> {
        Ok(match cfg.url.dialect {
            Dialect::Postgres => Writer::Pg(Box::new(PgWriter::connect(cfg).await?)),
            Dialect::MariaDb => Writer::My(MyWriter::connect(cfg).await?),
        })
    }

    /// Applies one planned batch in one transaction.
    pub async fn write(&mut self, plans: &[TablePlan]) -> Result<(), JdbcError> {
        match self {
            Writer::Pg(w) => w.write(plans).await,
            Writer::My(w) => w.write(plans).await,
        }
    }
}

/// The task of `io.debezium.connector.jdbc.JdbcSinkConnector`.
#[derive(Default)]
pub struct JdbcSinkTask {
    state: Option<State>,
}

struct State {
    cfg: JdbcSinkConfig,
    writer: Option<Writer>,
    interp: Interpreter,
    buffer: Vec<Change>,
}

impl State {
    async fn write_buffer(&mut self) -> Result<(), JdbcError> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let changes = std::mem::take(&mut self.buffer);
        let n = changes.len();
        let plans = plan(changes, self.cfg.insert_mode != InsertMode::Insert);
        let mut attempt = 0;
        loop {
            let result = match self.writer.as_mut() {
                Some(w) => w.write(&plans).await,
                None => match Writer::connect(&self.cfg).await {
                    Ok(w) => {
                        let w = self.writer.insert(w);
                        w.write(&plans).await
                    }
                    Err(e) => Err(e),
                },
            };
            match result {
                Ok(()) => {
                    tracing::debug!(records = n, "JDBC sink batch written");
                    return Ok(());
                }
                Err(e)
                    if e.kind() == velocity_api::ErrorKind::Retriable && attempt < MAX_RETRIES =>
                {
                    attempt += 1;
                    tracing::warn!(error = %e, attempt, "JDBC sink batch failed; reconnecting and retrying");
                    self.writer = None;
                    tokio::time::sleep(Duration::from_millis(500 << attempt)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

#[async_trait]
impl SinkTask for JdbcSinkTask {
    /// Parses the configuration and connects; a bad URL, unknown database
    /// or rejected credentials fail here with the key to fix.
    async fn start(&mut self, config: &RawConfig, _ctx: TaskContext) -> Result<()> {
        let cfg = JdbcSinkConfig::from_raw(config)?;
        let writer = Writer::connect(&cfg).await?;
        self.state = Some(State {
            cfg,
            writer: Some(writer),
            interp: Interpreter::default(),
            buffer: Vec::new(),
        });
        Ok(())
    }

    /// Converts `records` (in Kafka order) to changes and writes a
    /// transaction each time `batch.size` changes are buffered; blocks while
    /// writing. A record that cannot be converted fails the task naming its
    /// topic, partition and offset.
    async fn put(&mut self, records: Vec<SinkRecord>) -> Result<()> {
        let st = self
            .state
            .as_mut()
            .ok_or_else(|| velocity_api::ConnectError::fatal("JDBC sink task is not started"))?;
        for r in &records {
            if let Some(c) = st.interp.interpret(r, &st.cfg)? {
                st.buffer.push(c);
                if st.buffer.len() >= st.cfg.batch_size {
                    st.write_buffer().await?;
                }
            }
        }
        Ok(())
    }

    /// Writes whatever is buffered; after Ok everything passed to `put` is committed.
    async fn flush(&mut self) -> Result<()> {
        match self.state.as_mut() {
            Some(st) => Ok(st.write_buffer().await?),
            None => Ok(()),
        }
    }

    /// Drops the connection (unwritten changes are redelivered by Kafka).
    async fn stop(&mut self) -> Result<()> {
        if let Some(st) = self.state.take() {
            if let Some(Writer::My(w)) = st.writer {
                w.close().await;
            }
        }
        Ok(())
    }
}
