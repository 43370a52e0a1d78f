//! The JDBC source connector: checks the configuration, lists the tables
//! it selects (it connects to the database, with `connection.attempts`)
//! and splits them round-robin over at most `tasks.max` tasks, each task
//! getting the connector's configuration plus the `tables` it polls. The
//! custom `query` always runs in one task. Tables are listed when the
//! connector starts; restart it to pick up tables created later
//! (`table.poll.interval.ms` is accepted but not used).

use async_trait::async_trait;
use velocity_api::{ConnectError, Connector, RawConfig, Result, SourceConnector, TypedConfig};

use crate::config::{SourceConfig, QUERY, TASK_TABLES};
use crate::db::Db;
use crate::task::select_tables;

/// `io.confluent.connect.jdbc.JdbcSourceConnector`.
#[derive(Debug, Default)]
pub struct JdbcSourceConnector {
    config: Option<RawConfig>,
    tables: Vec<String>,
}

/// Splits `tables` round-robin into at most `max_tasks` non-empty groups,
/// each joined with `;` (Confluent's task key `tables`); one empty group
/// when there are no tables.
pub fn split_tables(tables: &[String], max_tasks: usize) -> Vec<String> {
    let n = max_tasks.max(1).min(tables.len().max(1));
    let mut groups = vec![Vec::new(); n];
    for (i, t) in tables.iter().enumerate() {
        groups[i % n].push(t.as_str());
    }
    groups.into_iter().map(|g| g.join(";")).collect()
}

#[async_trait]
impl Connector for JdbcSourceConnector {
    fn validate(&self, config: &RawConfig) -> Vec<(String, String)> {
        SourceConfig::validate(config)
    }

    async fn start(&mut self, config: &RawConfig) -> Result<()> {
        let cfg = SourceConfig::from_raw(config)?;
        self.tables = match cfg.query {
            Some(_) => Vec::new(),
            None => {
                let mut db = Db::connect(&cfg).await?;
                let tables = select_tables(&mut db, &cfg).await;
                db.close().await;
                let tables = tables?;
                if tables.is_empty() {
                    tracing::warn!("the JDBC source selects no table (check table.include.list / table.exclude.list); its task lists the tables again when it starts");
                }
                tables.iter().map(|t| t.fqn()).collect()
            }
        };
        self.config = Some(config.clone());
        Ok(())
    }

    async fn task_configs(&mut self, max_tasks: usize) -> Result<Vec<RawConfig>> {
        let config = self
            .config
            .clone()
            .ok_or_else(|| ConnectError::fatal("JdbcSourceConnector is not started"))?;
        if config.contains_key(QUERY.name) && !config[QUERY.name].trim().is_empty() {
            return Ok(vec![config]);
        }
        Ok(split_tables(&self.tables, max_tasks)
            .into_iter()
            .map(|group| {
                let mut c = config.clone();
                c.insert(TASK_TABLES.into(), group);
                c
            })
            .collect())
    }

    async fn stop(&mut self) -> Result<()> {
        Ok(())
    }
}

impl SourceConnector for JdbcSourceConnector {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_split_round_robin() {
        let t: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        assert_eq!(split_tables(&t, 2), vec!["a;c", "b"]);
        assert_eq!(split_tables(&t, 5), vec!["a", "b", "c"]);
        assert_eq!(split_tables(&t, 0), vec!["a;b;c"]);
        assert_eq!(split_tables(&[], 3), vec![""]);
    }

    #[tokio::test]
    async fn start_rejects_a_bad_config_without_connecting() {
        let mut c = JdbcSourceConnector::default();
        let bad: RawConfig = [("connection.url".to_string(), "mysql://x".to_string())]
            .into_iter()
            .collect();
        let e = c.start(&bad).await.unwrap_err();
        assert!(
            matches!(&e, ConnectError::Config { key, .. } if key == "connection.url"),
            "{e:?}"
        );
        assert!(c.validate(&bad).iter().any(|(k, _)| k == "connection.url"));
        assert!(SourceConfig::validate(&bad)
            .iter()
            .any(|(k, _)| k == "mode"));
        let e = c.task_configs(1).await.unwrap_err().to_string();
        assert!(e.contains("JdbcSourceConnector is not started"), "{e}");
    }
}
