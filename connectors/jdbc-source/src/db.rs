//! One connection to either database family, with Confluent's connection
//! retry (`connection.attempts` attempts, `connection.backoff.ms` apart;
//! only retriable failures are retried, and the last one is returned with
//! its kind, so an unreachable database stays retriable for the runtime).

use crate::config::{Dialect, SourceConfig};
use crate::error::SourceError;
use crate::hash::{State, StateWrite};
use crate::mariadb::MyDb;
use crate::model::{Column, TableRef};
use crate::postgres::{PgDb, Rows};
use crate::query::Statement;

/// A connection to the source database.
pub enum Db {
    /// PostgreSQL.
    Pg(Box<PgDb>),
    /// MariaDB / MySQL.
    My(MyDb),
}

impl Db {
    /// Connects once to the database `cfg.connection.url` names.
    pub async fn connect_once(cfg: &SourceConfig) -> Result<Db, SourceError> {
        Ok(match cfg.connection.url.dialect {
            Dialect::Postgres => Db::Pg(Box::new(PgDb::connect(cfg).await?)),
            Dialect::MariaDb => Db::My(MyDb::connect(cfg).await?),
        })
    }

    /// Connects, retrying retriable failures up to `connection.attempts`
    /// times with `connection.backoff.ms` between attempts.
    pub async fn connect(cfg: &SourceConfig) -> Result<Db, SourceError> {
        let mut attempt = 1;
        loop {
            match Db::connect_once(cfg).await {
                Ok(db) => return Ok(db),
                Err(e)
                    if e.kind().eq(&velocity_api::ErrorKind::Retriable)
                        && attempt < cfg.attempts =>
                {
                    tracing::warn!(attempt, of = cfg.attempts, error = %e, "JDBC source cannot connect; retrying after connection.backoff.ms");
                    tokio::time::sleep(cfg.backoff).await;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The database name.
    pub fn database(&self) -> &str {
        match self {
            Db::Pg(d) => &d.database,
            Db::My(d) => &d.database,
        }
    }

    /// The tables the configuration may poll (before include/exclude).
    pub async fn tables(&mut self, cfg: &SourceConfig) -> Result<Vec<TableRef>, SourceError> {
        match self {
            Db::Pg(d) => d.tables(cfg).await,
            Db::My(d) => d.tables(cfg).await,
        }
    }

    /// Columns and primary key positions of `t`.
    pub async fn describe(
        &mut self,
        t: &TableRef,
    ) -> Result<(Vec<Column>, Vec<usize>), SourceError> {
        match self {
            Db::Pg(d) => d.describe(t).await,
            Db::My(d) => d.describe(t).await,
        }
    }

    /// Columns of the custom query.
    pub async fn describe_query(&mut self, q: &str) -> Result<Vec<Column>, SourceError> {
        match self {
            Db::Pg(d) => d.describe_query(q).await,
            Db::My(d) => d.describe_query(q).await,
        }
    }

    /// Runs a poll statement; `label` names the table for errors.
    pub async fn fetch(&mut self, st: &Statement, label: &str) -> Result<Rows, SourceError> {
        match self {
            Db::Pg(d) => d.fetch(st, label).await,
            Db::My(d) => d.fetch(st, label).await,
        }
    }

    /// The database's current time, microseconds since the epoch.
    pub async fn now_us(&mut self) -> Result<i64, SourceError> {
        match self {
            Db::Pg(d) => d.now_us().await,
            Db::My(d) => d.now_us().await,
        }
    }

    /// Creates the hash state table when missing.
    pub async fn ensure_state_table(&mut self, name: &str) -> Result<(), SourceError> {
        match self {
            Db::Pg(d) => d.ensure_state_table(name).await,
            Db::My(d) => d.ensure_state_table(name).await,
        }
    }

    /// The stored hash state of `table` for `connector`.
    pub async fn load_state(
        &mut self,
        name: &str,
        connector: &str,
        table: &str,
    ) -> Result<State, SourceError> {
        match self {
            Db::Pg(d) => d.load_state(name, connector, table).await,
            Db::My(d) => d.load_state(name, connector, table).await,
        }
    }

    /// Writes an acknowledged cycle's state changes in one transaction.
    pub async fn save_state(
        &mut self,
        name: &str,
        connector: &str,
        table: &str,
        writes: &[StateWrite],
    ) -> Result<(), SourceError> {
        match self {
            Db::Pg(d) => d.save_state(name, connector, table, writes).await,
            Db::My(d) => d.save_state(name, connector, table, writes).await,
        }
    }

    /// Closes the connection.
    pub async fn close(self) {
        if let Db::My(d) = self {
            d.close().await;
        }
    }
}
