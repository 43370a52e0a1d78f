//! The materializing sink task: maps records to row operations as they
//! arrive ([`crate::model::Batch`]), and writes them as ONE database
//! transaction every `batch.size` records and on `flush` (after which the
//! runtime commits the consumer offsets). A failed batch is rolled back and
//! its error returned with its kind: retriable ones (lost connection,
//! deadlock, database restarting) make the runtime's retry policy restart
//! the task in place, which reconnects and re-delivers everything not yet
//! flushed; fatal ones fail the task at once, with nothing of the batch
//! written.

use async_trait::async_trait;
use velocity_api::jdbc::Dialect;
use velocity_api::jdbc::SinkConnection;
use velocity_api::{ConnectError, RawConfig, Result, SinkRecord, SinkTask, TaskContext};

use crate::config::MaterializeConfig;
use crate::error::MaterializeError;
use crate::mariadb::MyWriter;
use crate::model::{Batch, TablePlan};
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
    pub async fn connect(cfg: &MaterializeConfig) -> Result<Writer, MaterializeError> {
        Ok(match cfg.connection.url.dialect {
            Dialect::Postgres => Writer::Pg(Box::new(PgWriter::connect(cfg).await?)),
            Dialect::MariaDb => Writer::My(MyWriter::connect(cfg).await?),
        })
    }

    /// Applies the plans of one batch in one transaction.
    pub async fn write(
        &mut self,
        cfg: &MaterializeConfig,
        plans: &[TablePlan],
    ) -> Result<(), MaterializeError> {
        match self {
            Writer::Pg(w) => w.write(cfg, plans).await,
            Writer::My(w) => w.write(cfg, plans).await,
        }
    }
}

/// The task of `io.velocity.connector.materialize.MaterializeSinkConnector`.
#[derive(Default)]
pub struct MaterializeSinkTask {
    state: Option<State>,
}

struct State {
    conn: SinkConnection<MaterializeConfig, Writer>,
    batch: Batch,
}

impl State {
    async fn write_batch(&mut self) -> Result<(), MaterializeError> {
        let records = self.batch.records();
        let plans = self.batch.take_plans(&self.conn.cfg);
        if plans.is_empty() {
            return Ok(());
        }
        self.conn
            .write(Writer::connect, async |cfg, w: &mut Writer| {
                w.write(cfg, &plans).await
            })
            .await?;
        tracing::debug!(records, tables = plans.len(), "materialize batch committed");
        Ok(())
    }
}

#[async_trait]
impl SinkTask for MaterializeSinkTask {
    /// Parses the configuration and connects.
    async fn start(&mut self, config: &RawConfig, _ctx: TaskContext) -> Result<()> {
        self.state = Some(State {
            conn: SinkConnection::start(config, Writer::connect).await?,
            batch: Batch::default(),
        });
        Ok(())
    }

    /// Maps `records` (Kafka order) to operations; commits a transaction
    /// every `batch.size` records. A record that cannot be mapped fails the
    /// task naming its topic, partition and offset.
    async fn put(&mut self, records: Vec<SinkRecord>) -> Result<()> {
        let st = self
            .state
            .as_mut()
            .ok_or_else(|| ConnectError::fatal("materialize sink task is not started"))?;
        for r in &records {
            st.batch.add(&st.conn.cfg, r)?;
            if st.batch.records() >= st.conn.cfg.batch_size {
                st.write_batch().await?;
            }
        }
        Ok(())
    }

    /// Commits whatever is pending; after Ok everything passed to `put`
    /// is in the database.
    async fn flush(&mut self) -> Result<()> {
        match self.state.as_mut() {
            Some(st) => Ok(st.write_batch().await?),
            None => Ok(()),
        }
    }

    /// Drops the connection (what was not flushed is redelivered by Kafka).
    async fn stop(&mut self) -> Result<()> {
        if let Some(st) = self.state.take() {
            if let Some(Writer::My(w)) = st.conn.into_writer() {
                w.close().await;
            }
        }
        Ok(())
    }
}
