//! Connector shells: the connector half of a plugin whose connector does
//! nothing but check its configuration and hand it, unchanged, to its
//! tasks. [`SingleTaskConnector`] runs exactly one task (one replication
//! stream, one binlog, one file); [`FanOutSinkConnector`] runs `tasks.max`
//! sink tasks, over which Kafka's consumer group spreads the topic
//! partitions. Both check the configuration through the plugin's
//! [`TypedConfig`] and never contact an external system: that is the
//! task's job, so an unreachable database fails (and retries) the task, not
//! the connector.

use std::marker::PhantomData;

use async_trait::async_trait;

use crate::config::{RawConfig, TypedConfig};
use crate::connector::{Connector, SinkConnector, SourceConnector};
use crate::error::{ConnectError, Result};

/// A plugin configuration a connector shell checks: its [`TypedConfig`]
/// and the connector's class name (for the "not started" error).
pub trait ConnectorConfig: TypedConfig + 'static {
    /// The connector's class name, e.g. `PostgresConnector`.
    const CONNECTOR: &'static str;
}

/// The shell behind [`SingleTaskConnector`] (`FAN_OUT = false`) and
/// [`FanOutSinkConnector`] (`FAN_OUT = true`): `start` reads the
/// configuration with [`TypedConfig::from_raw`] (every broken rule becomes
/// one config error naming its keys) and keeps it; `task_configs` returns
/// it once, or `max_tasks` times (at least once) when fanning out; `stop`
/// forgets it and is idempotent.
pub struct Shell<C, const FAN_OUT: bool> {
    config: Option<RawConfig>,
    check: PhantomData<fn() -> C>,
}

/// A connector with exactly one task, which gets the connector's own
/// configuration whatever `tasks.max` is.
pub type SingleTaskConnector<C> = Shell<C, false>;

/// A sink connector that fans its configuration out to `tasks.max` tasks
/// (at least one).
pub type FanOutSinkConnector<C> = Shell<C, true>;

impl<C, const FAN_OUT: bool> Default for Shell<C, FAN_OUT> {
    fn default() -> Self {
        Shell {
            config: None,
            check: PhantomData,
        }
    }
}

impl<C, const FAN_OUT: bool> std::fmt::Debug for Shell<C, FAN_OUT> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct(if FAN_OUT {
            "FanOutSinkConnector"
        } else {
            "SingleTaskConnector"
        })
        .field("started", &self.config.is_some())
        .finish()
    }
}

#[async_trait]
impl<C: ConnectorConfig, const FAN_OUT: bool> Connector for Shell<C, FAN_OUT> {
    fn validate(&self, config: &RawConfig) -> Vec<(String, String)> {
        C::validate(config)
    }

    async fn start(&mut self, config: &RawConfig) -> Result<()> {
        C::from_raw(config)?;
        self.config = Some(config.clone());
        Ok(())
    }

    /// The connector's configuration, once (or `max_tasks` times, at least
    /// once, when fanning out); an error before `start`.
    async fn task_configs(&mut self, max_tasks: usize) -> Result<Vec<RawConfig>> {
        let config = self
            .config
            .clone()
            .ok_or_else(|| ConnectError::fatal(format!("{} is not started", C::CONNECTOR)))?;
        let tasks = if FAN_OUT { max_tasks.max(1) } else { 1 };
        Ok(vec![config; tasks])
    }

    async fn stop(&mut self) -> Result<()> {
        self.config = None;
        Ok(())
    }
}

impl<C: ConnectorConfig, const FAN_OUT: bool> SinkConnector for Shell<C, FAN_OUT> {}

impl<C: ConnectorConfig> SourceConnector for SingleTaskConnector<C> {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ConfigKey, ConfigReader, ConfigType, Importance};

    crate::config_keys! {
        /// required
        FILE = ConfigKey::new("file", ConfigType::String, None, Importance::High, "file");
    }

    struct FileConfig;

    impl TypedConfig for FileConfig {
        const KEYS: &'static [ConfigKey] = KEYS;
        fn read(r: &mut ConfigReader<'_>) -> Self {
            r.string(&FILE);
            FileConfig
        }
    }

    impl ConnectorConfig for FileConfig {
        const CONNECTOR: &'static str = "FileConnector";
    }

    use crate::config::raw_config as cfg;

    #[tokio::test]
    async fn single_task_runs_one_task_whatever_tasks_max() {
        let mut c = SingleTaskConnector::<FileConfig>::default();
        let e = c.task_configs(3).await.unwrap_err().to_string();
        assert!(e.contains("FileConnector is not started"), "{e}");
        let config = cfg(&[("file", "/tmp/in")]);
        c.start(&config).await.unwrap();
        assert_eq!(c.task_configs(5).await.unwrap(), vec![config]);
        c.stop().await.unwrap();
        c.stop().await.unwrap();
        assert!(
            c.task_configs(1).await.is_err(),
            "stopped shells hand out no task"
        );
    }

    #[tokio::test]
    async fn fan_out_runs_max_tasks_and_at_least_one() {
        let mut c = FanOutSinkConnector::<FileConfig>::default();
        let config = cfg(&[("file", "/tmp/out")]);
        c.start(&config).await.unwrap();
        assert_eq!(c.task_configs(3).await.unwrap().len(), 3);
        assert_eq!(c.task_configs(0).await.unwrap(), vec![config]);
    }

    #[tokio::test]
    async fn start_names_the_broken_key() {
        let mut c = SingleTaskConnector::<FileConfig>::default();
        let e = c.start(&cfg(&[])).await.unwrap_err();
        assert!(
            matches!(&e, ConnectError::Config { key, message } if key == "file" && message.contains("Missing required configuration \"file\"")),
            "{e:?}"
        );
        assert_eq!(c.validate(&cfg(&[]))[0].0, "file");
    }
}
