//! The connector half of a sink whose tasks all run the connector's own
//! configuration: the connector checks it (without contacting the target)
//! and hands it, unchanged, to `tasks.max` tasks; Kafka's consumer group then
//! spreads the topic partitions over them.

use std::marker::PhantomData;

use async_trait::async_trait;

use crate::config::RawConfig;
use crate::connector::{Connector, SinkConnector};
use crate::error::{ConnectError, Result};

/// The configuration check of a [`FanOutSinkConnector`].
pub trait SinkConfigCheck: 'static {
    /// The connector's class name, for the "not started" error.
    const CONNECTOR: &'static str;

    /// Every problem of `config`, as (dotted key, rule) pairs; empty when valid.
    fn validate(config: &RawConfig) -> Vec<(String, String)>;

    /// Parses `config`, failing on the first problem.
    fn check(config: &RawConfig) -> Result<()>;
}

/// A sink connector that fans its configuration out to `tasks.max` tasks
/// (at least one) once [`SinkConfigCheck::check`] accepts it.
pub struct FanOutSinkConnector<C> {
    config: Option<RawConfig>,
    check: PhantomData<fn() -> C>,
}

impl<C> Default for FanOutSinkConnector<C> {
    fn default() -> Self {
        FanOutSinkConnector {
            config: None,
            check: PhantomData,
        }
    }
}

impl<C> std::fmt::Debug for FanOutSinkConnector<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FanOutSinkConnector")
            .field("started", &self.config.is_some())
            .finish()
    }
}

#[async_trait]
impl<C: SinkConfigCheck> Connector for FanOutSinkConnector<C> {
    fn validate(&self, config: &RawConfig) -> Vec<(String, String)> {
        C::validate(config)
    }

    async fn start(&mut self, config: &RawConfig) -> Result<()> {
        C::check(config)?;
        self.config = Some(config.clone());
        Ok(())
    }

    /// `max_tasks` copies of the connector's configuration.
    async fn task_configs(&mut self, max_tasks: usize) -> Result<Vec<RawConfig>> {
        let config = self
            .config
            .clone()
            .ok_or_else(|| ConnectError::fatal(format!("{} is not started", C::CONNECTOR)))?;
        Ok(vec![config; max_tasks.max(1)])
    }

    async fn stop(&mut self) -> Result<()> {
        Ok(())
    }
}

impl<C: SinkConfigCheck> SinkConnector for FanOutSinkConnector<C> {}

/// Writes one batch through a lazily (re)opened connection: connects with
/// `connect` when `conn` holds none, then runs `write` on it. When the write
/// fails the connection is dropped (it may be broken), so the next call —
/// after the runtime's retry policy restarted the task, or on the next
/// batch — reconnects; the error is returned unchanged with its kind.
pub async fn write_reconnecting<W, E>(
    conn: &mut Option<W>,
    connect: impl AsyncFnOnce() -> std::result::Result<W, E>,
    write: impl AsyncFnOnce(&mut W) -> std::result::Result<(), E>,
) -> std::result::Result<(), E> {
    let w = match conn.as_mut() {
        Some(w) => w,
        None => conn.insert(connect().await?),
    };
    let result = write(w).await;
    if result.is_err() {
        *conn = None;
    }
    result
}
