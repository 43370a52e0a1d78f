//! The MariaDB/MySQL writer: schema evolution first (MariaDB DDL commits
//! implicitly, so it runs before the data transaction and is idempotent),
//! then ONE transaction per batch with multi-row
//! `INSERT … ON DUPLICATE KEY UPDATE` for writes, `DELETE … WHERE (pk) IN (…)`
//! for deletes and `DELETE FROM` for truncates (TRUNCATE would commit).

use std::collections::HashMap;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, TxOpts};

use crate::config::{InsertMode, JdbcSinkConfig, SchemaEvolution};
use crate::error::{my_error, JdbcError};
use crate::model::{Cell, Shape, TableId, TablePlan};
use crate::render::{my_type, my_value};

/// Most placeholders in one statement (MariaDB allows 65,535).
const MAX_PARAMS: usize = 60_000;

/// A connection to the target MariaDB/MySQL database.
pub struct MyWriter {
    conn: Conn,
    tables: HashMap<TableId, HashMap<String, String>>,
    insert_mode: InsertMode,
    evolution: SchemaEvolution,
}

/// `` `name` `` with embedded backticks doubled.
pub fn quote(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// The quoted, possibly database-qualified table name.
pub fn qualified(t: &TableId) -> String {
    match &t.schema {
        Some(s) => format!("{}.{}", quote(s), quote(&t.name)),
        None => quote(&t.name),
    }
}

/// Multi-row write statement for `rows` rows of `shape`.
pub fn write_sql(tname: &str, shape: &Shape, rows: usize, mode: InsertMode) -> String {
    let cols: Vec<String> = shape.columns.iter().map(|c| quote(&c.name)).collect();
    let one = format!("({})", vec!["?"; cols.len()].join(", "));
    let values = vec![one; rows].join(", ");
    let mut sql = format!("INSERT INTO {tname} ({}) VALUES {values}", cols.join(", "));
    if mode != InsertMode::Insert {
        let non_pk: Vec<&String> = (0..cols.len())
            .filter(|i| !shape.pk.contains(i))
            .map(|i| &cols[i])
            .collect();
        let upd: Vec<String> = if non_pk.is_empty() {
            shape
                .pk
                .iter()
                .map(|&i| format!("{0} = {0}", cols[i]))
                .collect()
        } else {
            non_pk
                .iter()
                .map(|c| format!("{c} = VALUES({c})"))
                .collect()
        };
        sql.push_str(&format!(" ON DUPLICATE KEY UPDATE {}", upd.join(", ")));
    }
    sql
}

/// Delete statement for `rows` keys of `shape` (all columns are key columns).
pub fn delete_sql(tname: &str, shape: &Shape, rows: usize) -> String {
    let cols: Vec<String> = shape.columns.iter().map(|c| quote(&c.name)).collect();
    if cols.len() == 1 {
        format!(
            "DELETE FROM {tname} WHERE {} IN ({})",
            cols[0],
            vec!["?"; rows].join(", ")
        )
    } else {
        let one = format!("({})", vec!["?"; cols.len()].join(", "));
        format!(
            "DELETE FROM {tname} WHERE ({}) IN ({})",
            cols.join(", "),
            vec![one; rows].join(", ")
        )
    }
}

impl MyWriter {
    /// Connects with the URL and credentials of `cfg`. Access denied (1045)
    /// and unknown database (1049) are fatal; network errors retriable.
    pub async fn connect(cfg: &JdbcSinkConfig) -> Result<MyWriter, JdbcError> {
        let conn = velocity_api::jdbc::my::connect(cfg.connection.login()).await?;
        Ok(MyWriter {
            conn,
            tables: HashMap::new(),
            insert_mode: cfg.insert_mode,
            evolution: cfg.schema_evolution,
        })
    }

    async fn load_meta(
        &mut self,
        t: &TableId,
    ) -> Result<Option<HashMap<String, String>>, JdbcError> {
        let rows: Vec<(String, String)> = self
            .conn
            .exec(
                "SELECT COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS \
                 WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ?",
                (t.schema.clone(), t.name.clone()),
            )
            .await
            .map_err(|e| my_error(format!("reading the columns of {t}"), &e))?;
        Ok((!rows.is_empty()).then(|| rows.into_iter().collect()))
    }

    /// Creates/extends tables as needed; false when the table is missing and
    /// the plan has nothing to write.
    async fn ensure(&mut self, p: &TablePlan) -> Result<bool, JdbcError> {
        let t = &p.table;
        let needed: Vec<crate::model::Column> = p
            .writes
            .iter()
            .flat_map(|(s, _)| s.columns.iter())
            .chain(p.deletes.iter().flat_map(|(s, _)| s.columns.iter()))
            .cloned()
            .collect();
        if let Some(m) = self.tables.get(t) {
            if needed.iter().all(|c| m.contains_key(&c.name)) {
                return Ok(true);
            }
        }
        let mut meta = self.load_meta(t).await?;
        if meta.is_none() {
            if self.evolution == SchemaEvolution::None {
                return Err(JdbcError::MissingTable {
                    table: t.to_string(),
                });
            }
            let Some((shape, _)) = p.writes.first() else {
                return Ok(false);
            };
            let mut cols: Vec<String> = shape
                .columns
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let key = shape.pk.contains(&i);
                    format!(
                        "{} {}{}",
                        quote(&c.name),
                        my_type(&c.ty, key),
                        if c.optional { " NULL" } else { " NOT NULL" }
                    )
                })
                .collect();
            if !shape.pk.is_empty() {
                cols.push(format!(
                    "PRIMARY KEY ({})",
                    shape
                        .pk_columns()
                        .map(|c| quote(&c.name))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            let ddl = format!(
                "CREATE TABLE IF NOT EXISTS {} ({})",
                qualified(t),
                cols.join(", ")
            );
            tracing::info!(table = %t, "creating table (schema.evolution=basic)");
            self.conn
                .query_drop(ddl)
                .await
                .map_err(|e| my_error(format!("creating table {t}"), &e))?;
            meta = self.load_meta(t).await?;
        }
        let mut m = meta.ok_or_else(|| JdbcError::MissingTable {
            table: t.to_string(),
        })?;
        for c in &needed {
            if m.contains_key(&c.name) {
                continue;
            }
            if self.evolution == SchemaEvolution::None {
                return Err(JdbcError::MissingColumn {
                    table: t.to_string(),
                    column: c.name.clone(),
                });
            }
            tracing::info!(table = %t, column = %c.name, "adding column (schema.evolution=basic)");
            let ty = my_type(&c.ty, false);
            self.conn
                .query_drop(format!(
                    "ALTER TABLE {} ADD COLUMN IF NOT EXISTS {} {ty} NULL",
                    qualified(t),
                    quote(&c.name)
                ))
                .await
                .map_err(|e| my_error(format!("adding column {} to {t}", c.name), &e))?;
            m.insert(c.name.clone(), ty);
        }
        self.tables.insert(t.clone(), m);
        Ok(true)
    }

    /// Applies `plans`: DDL first, then all data changes in ONE transaction.
    pub async fn write(&mut self, plans: &[TablePlan]) -> Result<(), JdbcError> {
        let mut todo = Vec::new();
        for p in plans {
            match self.ensure(p).await {
                Ok(true) => todo.push(p),
                Ok(false) => {}
                Err(e) => {
                    self.tables.clear();
                    return Err(e);
                }
            }
        }
        let mode = self.insert_mode;
        let mut tx = self
            .conn
            .start_transaction(TxOpts::default())
            .await
            .map_err(|e| my_error("starting a transaction", &e))?;
        for p in todo {
            let tname = qualified(&p.table);
            let action = || format!("writing table {}", p.table);
            if p.truncate {
                tx.query_drop(format!("DELETE FROM {tname}"))
                    .await
                    .map_err(|e| my_error(action(), &e))?;
            }
            for (shape, keys) in &p.deletes {
                let per = (MAX_PARAMS / shape.columns.len().max(1)).clamp(1, 1000);
                for chunk in keys.chunks(per) {
                    let params: Vec<mysql_async::Value> =
                        chunk.iter().flatten().map(my_value).collect();
                    tx.exec_drop(delete_sql(&tname, shape, chunk.len()), params)
                        .await
                        .map_err(|e| my_error(action(), &e))?;
                }
            }
            for (shape, rows) in &p.writes {
                if mode == InsertMode::Update {
                    for row in rows {
                        let (sql, params) = update_one(&tname, shape, row);
                        tx.exec_drop(sql, params)
                            .await
                            .map_err(|e| my_error(action(), &e))?;
                    }
                    continue;
                }
                let per = (MAX_PARAMS / shape.columns.len().max(1)).clamp(1, 1000);
                for chunk in rows.chunks(per) {
                    let params: Vec<mysql_async::Value> =
                        chunk.iter().flatten().map(my_value).collect();
                    tx.exec_drop(write_sql(&tname, shape, chunk.len(), mode), params)
                        .await
                        .map_err(|e| my_error(action(), &e))?;
                }
            }
        }
        tx.commit().await.map_err(|e| my_error("committing", &e))
    }

    /// Closes the connection politely.
    pub async fn close(self) {
        let _ = self.conn.disconnect().await;
    }
}

fn update_one(tname: &str, shape: &Shape, row: &[Cell]) -> (String, Vec<mysql_async::Value>) {
    let non_pk: Vec<usize> = (0..shape.columns.len())
        .filter(|i| !shape.pk.contains(i))
        .collect();
    let set: Vec<String> = non_pk
        .iter()
        .map(|&i| format!("{} = ?", quote(&shape.columns[i].name)))
        .collect();
    let cond: Vec<String> = shape
        .pk
        .iter()
        .map(|&i| format!("{} = ?", quote(&shape.columns[i].name)))
        .collect();
    let params = non_pk
        .iter()
        .chain(shape.pk.iter())
        .map(|&i| my_value(&row[i]))
        .collect();
    (
        format!(
            "UPDATE {tname} SET {} WHERE {}",
            set.join(", "),
            cond.join(" AND ")
        ),
        params,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Column, ColumnType};

    fn shape() -> Shape {
        let col = |n: &str| Column {
            name: n.into(),
            ty: ColumnType::Int32,
            optional: false,
        };
        Shape {
            columns: vec![col("id"), col("v")],
            pk: vec![0],
        }
    }

    #[test]
    fn statements() {
        assert_eq!(
            write_sql("`t`", &shape(), 2, InsertMode::Upsert),
            "INSERT INTO `t` (`id`, `v`) VALUES (?, ?), (?, ?) ON DUPLICATE KEY UPDATE `v` = VALUES(`v`)"
        );
        assert_eq!(
            write_sql("`t`", &shape(), 1, InsertMode::Insert),
            "INSERT INTO `t` (`id`, `v`) VALUES (?, ?)"
        );
        let key = Shape {
            columns: shape().columns[..1].to_vec(),
            pk: vec![0],
        };
        assert_eq!(
            delete_sql("`t`", &key, 3),
            "DELETE FROM `t` WHERE `id` IN (?, ?, ?)"
        );
        let both = Shape {
            pk: vec![0, 1],
            ..shape()
        };
        assert_eq!(
            delete_sql("`t`", &both, 2),
            "DELETE FROM `t` WHERE (`id`, `v`) IN ((?, ?), (?, ?))"
        );
        assert!(write_sql("`t`", &both, 1, InsertMode::Upsert)
            .ends_with("UPDATE `id` = `id`, `v` = `v`"));
        let (sql, p) = update_one("`t`", &shape(), &[Cell::Int(1), Cell::Int(2)]);
        assert_eq!(sql, "UPDATE `t` SET `v` = ? WHERE `id` = ?");
        assert_eq!(
            p,
            vec![mysql_async::Value::Int(2), mysql_async::Value::Int(1)]
        );
        assert_eq!(quote("a`b"), "`a``b`");
    }
}
