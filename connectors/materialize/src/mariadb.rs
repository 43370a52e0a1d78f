//! The MariaDB/MySQL writer: ONE transaction per batch; per mapped table
//! `DELETE … WHERE (key) IN (…)` for deleted keys (parent keys for
//! `replace`) and multi-row `INSERT … ON DUPLICATE KEY UPDATE` (upsert),
//! `INSERT … ON DUPLICATE KEY UPDATE <key> = <key>` (insert-only: an
//! existing row is kept) or a plain multi-row `INSERT` (replaced child
//! rows). Cells are sent as text parameters; the server converts them.

use std::collections::HashSet;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, OptsBuilder, TxOpts};

use crate::config::{MaterializeConfig, Mode, TableMapping};
use crate::error::{my_error, MaterializeError};
use crate::model::{Row, TablePlan};

/// Most placeholders in one statement (MariaDB allows 65,535).
const MAX_PARAMS: usize = 60_000;

/// A connection to the fast storage MariaDB/MySQL database.
pub struct MyWriter {
    conn: Conn,
    /// Mapping indexes whose table was found.
    checked: HashSet<usize>,
}

/// `` `name` `` with embedded backticks doubled.
pub fn quote(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

fn target(t: &TableMapping) -> String {
    match &t.schema {
        Some(s) => format!("{}.{}", quote(s), quote(&t.table)),
        None => quote(&t.table),
    }
}

/// The write statement for `n` rows.
pub fn write_sql(t: &TableMapping, n: usize) -> String {
    let cols: Vec<String> = t.columns.iter().map(|c| quote(&c.name)).collect();
    let one = format!("({})", vec!["?"; cols.len()].join(", "));
    let mut sql = format!(
        "INSERT INTO {} ({}) VALUES {}",
        target(t),
        cols.join(", "),
        vec![one; n].join(", ")
    );
    let rest: Vec<String> = (0..cols.len())
        .filter(|i| !t.key.contains(i))
        .map(|i| format!("{0} = VALUES({0})", cols[i]))
        .collect();
    let keep = || format!("{0} = {0}", cols[t.key[0]]);
    match t.mode {
        Mode::Replace => {}
        Mode::Insert => sql.push_str(&format!(" ON DUPLICATE KEY UPDATE {}", keep())),
        Mode::Upsert if rest.is_empty() => {
            sql.push_str(&format!(" ON DUPLICATE KEY UPDATE {}", keep()))
        }
        Mode::Upsert => sql.push_str(&format!(" ON DUPLICATE KEY UPDATE {}", rest.join(", "))),
    }
    sql
}

/// The delete statement for `n` keys.
pub fn delete_sql(t: &TableMapping, n: usize) -> String {
    let keys: Vec<String> = t.key.iter().map(|&i| quote(&t.columns[i].name)).collect();
    let one = format!("({})", vec!["?"; keys.len()].join(", "));
    format!(
        "DELETE FROM {} WHERE ({}) IN ({})",
        target(t),
        keys.join(", "),
        vec![one; n].join(", ")
    )
}

fn params(rows: &[Row]) -> Vec<mysql_async::Value> {
    rows.iter()
        .flatten()
        .map(|c| match c {
            None => mysql_async::Value::NULL,
            Some(s) => mysql_async::Value::Bytes(s.as_bytes().to_vec()),
        })
        .collect()
}

impl MyWriter {
    /// Connects; bad credentials and unknown databases are fatal,
    /// unreachable servers retriable. The password never appears in errors.
    pub async fn connect(cfg: &MaterializeConfig) -> Result<MyWriter, MaterializeError> {
        let u = &cfg.connection.url;
        let opts = OptsBuilder::default()
            .ip_or_hostname(u.host.clone())
            .tcp_port(u.port)
            .user(Some(cfg.connection.user.clone()))
            .pass(Some(cfg.connection.password.expose().to_owned()))
            .db_name(Some(u.database.clone()))
            .init(vec!["SET time_zone = '+00:00'"]);
        let conn = Conn::new(opts)
            .await
            .map_err(|e| MaterializeError::Connect {
                database: "MariaDB",
                address: format!("{}:{}", u.host, u.port),
                user: cfg.connection.user.clone(),
                retriable: !matches!(e, mysql_async::Error::Server(_)),
                message: e.to_string(),
            })?;
        Ok(MyWriter {
            conn,
            checked: HashSet::new(),
        })
    }

    /// Closes the connection.
    pub async fn close(self) {
        let _ = self.conn.disconnect().await;
    }

    /// Applies `plans` in ONE transaction: all or nothing.
    pub async fn write(
        &mut self,
        cfg: &MaterializeConfig,
        plans: &[TablePlan],
    ) -> Result<(), MaterializeError> {
        for p in plans {
            if self.checked.contains(&p.table) {
                continue;
            }
            let t = &cfg.tables[p.table];
            let schema = t
                .schema
                .clone()
                .unwrap_or_else(|| cfg.connection.url.database.clone());
            let n: Option<i64> = self
                .conn
                .exec_first(
                    "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
                    (schema, t.table.clone()),
                )
                .await
                .map_err(|e| my_error(format!("looking up table {}", t.display_name()), e))?;
            if n.unwrap_or(0) == 0 {
                return Err(MaterializeError::MissingTable {
                    alias: t.alias.clone(),
                    table: t.display_name(),
                });
            }
            self.checked.insert(p.table);
        }
        let mut tx = self
            .conn
            .start_transaction(TxOpts::default())
            .await
            .map_err(|e| my_error("starting a transaction", e))?;
        for p in plans {
            let t = &cfg.tables[p.table];
            let action = || {
                format!(
                    "writing table {} (materialize.{})",
                    t.display_name(),
                    t.alias
                )
            };
            let per = (MAX_PARAMS / t.key.len().max(1)).max(1);
            for chunk in p.deletes.chunks(per) {
                tx.exec_drop(delete_sql(t, chunk.len()), params(chunk))
                    .await
                    .map_err(|e| my_error(action(), e))?;
            }
            let per = (MAX_PARAMS / t.columns.len().max(1)).max(1);
            for chunk in p.writes.chunks(per) {
                tx.exec_drop(write_sql(t, chunk.len()), params(chunk))
                    .await
                    .map_err(|e| my_error(action(), e))?;
            }
        }
        tx.commit().await.map_err(|e| my_error("committing", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ColumnMap;

    fn mapping(mode: Mode) -> TableMapping {
        TableMapping {
            alias: "n".into(),
            schema: None,
            table: "note".into(),
            topics: vec![],
            event_types: vec![],
            columns: ["id", "body"]
                .iter()
                .map(|c| ColumnMap {
                    name: c.to_string(),
                    path: vec![],
                })
                .collect(),
            key: vec![0],
            mode,
            rows: vec![],
            delete_on: None,
        }
    }

    #[test]
    fn statements() {
        assert_eq!(
            write_sql(&mapping(Mode::Upsert), 2),
            "INSERT INTO `note` (`id`, `body`) VALUES (?, ?), (?, ?) ON DUPLICATE KEY UPDATE `body` = VALUES(`body`)"
        );
        assert!(write_sql(&mapping(Mode::Insert), 1).ends_with("UPDATE `id` = `id`"));
        assert!(write_sql(&mapping(Mode::Replace), 1).ends_with("(?, ?)"));
        assert_eq!(
            delete_sql(&mapping(Mode::Upsert), 2),
            "DELETE FROM `note` WHERE (`id`) IN ((?), (?))"
        );
    }
}
