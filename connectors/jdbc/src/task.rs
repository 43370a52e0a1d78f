//! The JDBC sink task: turns records into table changes as they arrive,
//! buffers them, and writes every `batch.size` changes (and on `flush`) as
//! one database transaction. A failed batch is rolled back and the error
//! returned with its kind: retriable ones (lost connection, deadlock,
//! database restarting) make the runtime's retry policy restart the task in
//! place, which reconnects and re-delivers everything not yet flushed;
//! fatal ones (missing table with `schema.evolution=none`, bad credentials,
//! a constraint violation) fail the task at once, with nothing of the failed
//! batch written.

use async_trait::async_trait;
use velocity_api::jdbc::SinkConnection;
use velocity_api::{RawConfig, Result, SinkRecord, SinkTask, TaskContext};

use crate::config::{Dialect, InsertMode, JdbcSinkConfig};
use crate::error::JdbcError;
use crate::mariadb::MyWriter;
use crate::model::{plan, Change, Interpreter, TablePlan};
use crate::postgres::PgWriter;

/// A connection to either database family.
pub enum Writer {
    /// PostgreSQL.
    Pg(Box<PgWriter>),
    /// MariaDB / MySQL.
    My(MyWriter),
}

impl Writer {
    /// Connects to the database `cfg.connection.url` names.
    pub async fn connect(cfg: &JdbcSinkConfig) -> Result<Writer, JdbcError> {
        Ok(match cfg.connection.url.dialect {
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
    conn: SinkConnection<JdbcSinkConfig, Writer>,
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
        let plans = plan(changes, self.conn.cfg.insert_mode != InsertMode::Insert);
        self.conn
            .write(Writer::connect, async |_, w: &mut Writer| {
                w.write(&plans).await
            })
            .await?;
        tracing::debug!(records = n, "JDBC sink batch written");
        Ok(())
    }
}

#[async_trait]
impl SinkTask for JdbcSinkTask {
    /// Parses the configuration and connects; a bad URL, unknown database
    /// or rejected credentials fail here with the key to fix.
    async fn start(&mut self, config: &RawConfig, _ctx: TaskContext) -> Result<()> {
        self.state = Some(State {
            conn: SinkConnection::start(config, Writer::connect).await?,
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
            if let Some(c) = st.interp.interpret(r, &st.conn.cfg)? {
                st.buffer.push(c);
                if st.buffer.len() >= st.conn.cfg.batch_size {
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
            if let Some(Writer::My(w)) = st.conn.into_writer() {
                w.close().await;
            }
        }
        Ok(())
    }
}
