//! The PostgreSQL writer: one transaction per batch; per table, schema
//! evolution (DDL is transactional, so it commits or rolls back with the
//! data), `TRUNCATE`, deletes as one `DELETE … USING unnest(…)`, and writes
//! as a binary `COPY` into a session-local staging table followed by one
//! `INSERT … SELECT … ON CONFLICT (pk) DO UPDATE` (bulk-copy-then-merge).
//!
//! Staging tables have one `text` column per record column and are cast to
//! the target column's own type in the merge, so every PostgreSQL type
//! (numeric, arrays, enums, domains, jsonb, uuid…) goes through the same
//! binary COPY path without a per-type binary encoder.

use std::collections::{HashMap, HashSet};

use bytes::{BufMut, BytesMut};
use futures::SinkExt;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Transaction};

use crate::config::{InsertMode, JdbcSinkConfig, SchemaEvolution, WriteMethod};
use crate::error::{pg_error, JdbcError};
use crate::model::{Cell, Shape, TableId, TablePlan};
use crate::render::{pg_text, pg_type};

/// Column name → type (as `format_type` prints it) of one target table.
type TableMeta = HashMap<String, String>;

/// A connection to the target PostgreSQL database.
pub struct PgWriter {
    client: Client,
    conn: tokio::task::JoinHandle<()>,
    tables: HashMap<TableId, TableMeta>,
    stages: HashSet<usize>,
    insert_mode: InsertMode,
    evolution: SchemaEvolution,
    method: WriteMethod,
}

/// `"name"` with embedded quotes doubled.
pub fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The quoted, possibly schema-qualified table name.
pub fn qualified(t: &TableId) -> String {
    match &t.schema {
        Some(s) => format!("{}.{}", quote(s), quote(&t.name)),
        None => quote(&t.name),
    }
}

impl Drop for PgWriter {
    fn drop(&mut self) {
        self.conn.abort();
    }
}

impl PgWriter {
    /// Connects with the URL and credentials of `cfg`. Authentication
    /// failures and unknown databases are fatal; unreachable servers are
    /// retriable. The password never appears in the error.
    pub async fn connect(cfg: &JdbcSinkConfig) -> Result<PgWriter, JdbcError> {
        let (client, conn) =
            velocity_api::jdbc::pg::connect(cfg.connection.login(), "velocity-jdbc-sink").await?;
        Ok(PgWriter {
            client,
            conn,
            tables: HashMap::new(),
            stages: HashSet::new(),
            insert_mode: cfg.insert_mode,
            evolution: cfg.schema_evolution,
            method: cfg.write_method,
        })
    }

    /// Overrides the write method (for benchmarks comparing both).
    pub fn set_method(&mut self, method: WriteMethod) {
        self.method = method;
    }

    /// Applies `plans` in ONE transaction: all or nothing. On error the
    /// cached table metadata is dropped (the rolled-back DDL may have
    /// populated it) and the error says which table failed.
    pub async fn write(&mut self, plans: &[TablePlan]) -> Result<(), JdbcError> {
        let r = self.write_inner(plans).await;
        if r.is_err() {
            self.tables.clear();
            self.stages.clear();
        }
        r
    }

    async fn write_inner(&mut self, plans: &[TablePlan]) -> Result<(), JdbcError> {
        let PgWriter {
            client,
            tables,
            stages,
            insert_mode,
            evolution,
            method,
            ..
        } = self;
        let tx = client
            .transaction()
            .await
            .map_err(|e| pg_error("starting a transaction", &e))?;
        // staging tables filled earlier in this transaction (they are
        // emptied by ON COMMIT DELETE ROWS, within it by TRUNCATE)
        let mut used_stages = HashSet::new();
        for p in plans {
            let tname = qualified(&p.table);
            let Some(meta) = ensure_table(&tx, tables, *evolution, p).await? else {
                continue;
            };
            let action = || format!("writing table {}", p.table);
            if p.truncate {
                tx.batch_execute(&format!("TRUNCATE TABLE {tname}"))
                    .await
                    .map_err(|e| pg_error(action(), &e))?;
            }
            for (shape, keys) in &p.deletes {
                delete(&tx, &tname, meta, shape, keys)
                    .await
                    .map_err(|e| pg_error(action(), &e))?;
            }
            for (shape, rows) in &p.writes {
                match method {
                    WriteMethod::Copy => {
                        copy_merge(
                            &tx,
                            stages,
                            &mut used_stages,
                            &tname,
                            meta,
                            shape,
                            rows,
                            *insert_mode,
                        )
                        .await
                    }
                    WriteMethod::Rows => {
                        row_by_row(&tx, &tname, meta, shape, rows, *insert_mode).await
                    }
                }
                .map_err(|e| pg_error(action(), &e))?;
            }
        }
        tx.commit().await.map_err(|e| pg_error("committing", &e))
    }
}

async fn load_meta(tx: &Transaction<'_>, t: &TableId) -> Result<Option<TableMeta>, JdbcError> {
    let rows = tx
        .query(
            "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a \
             WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped",
            &[&qualified(t)],
        )
        .await
        .map_err(|e| pg_error(format!("reading the columns of {t}"), &e))?;
    if rows.is_empty() {
        return Ok(None);
    }
    Ok(Some(
        rows.iter()
            .map(|r| (r.get::<_, String>(0), r.get::<_, String>(1)))
            .collect(),
    ))
}

/// Makes sure the table and every column the plan needs exist (creating or
/// adding them under `schema.evolution=basic`); None when the table is
/// missing and the plan only deletes or truncates (nothing to do).
async fn ensure_table<'m>(
    tx: &Transaction<'_>,
    tables: &'m mut HashMap<TableId, TableMeta>,
    evolution: SchemaEvolution,
    p: &TablePlan,
) -> Result<Option<&'m TableMeta>, JdbcError> {
    let t = &p.table;
    let needed: Vec<&crate::model::Column> = p
        .writes
        .iter()
        .flat_map(|(s, _)| s.columns.iter())
        .chain(p.deletes.iter().flat_map(|(s, _)| s.columns.iter()))
        .collect();
    let known = match tables.get(t) {
        Some(m) => needed.iter().all(|c| m.contains_key(&c.name)),
        None => false,
    };
    if !known {
        let mut meta = load_meta(tx, t).await?;
        if meta.is_none() {
            if evolution == SchemaEvolution::None {
                return Err(JdbcError::MissingTable {
                    table: t.to_string(),
                });
            }
            let Some((shape, _)) = p.writes.first() else {
                return Ok(None);
            };
            let mut cols: Vec<String> = shape
                .columns
                .iter()
                .map(|c| {
                    format!(
                        "{} {}{}",
                        quote(&c.name),
                        pg_type(&c.ty),
                        if c.optional { "" } else { " NOT NULL" }
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
            let ddl = format!("CREATE TABLE {} ({})", qualified(t), cols.join(", "));
            tracing::info!(table = %t, "creating table (schema.evolution=basic)");
            tx.batch_execute(&ddl)
                .await
                .map_err(|e| pg_error(format!("creating table {t}"), &e))?;
            meta = load_meta(tx, t).await?;
        }
        let mut m = meta.ok_or_else(|| JdbcError::MissingTable {
            table: t.to_string(),
        })?;
        let mut added = false;
        for c in &needed {
            if m.contains_key(&c.name) {
                continue;
            }
            if evolution == SchemaEvolution::None {
                return Err(JdbcError::MissingColumn {
                    table: t.to_string(),
                    column: c.name.clone(),
                });
            }
            tracing::info!(table = %t, column = %c.name, "adding column (schema.evolution=basic)");
            tx.batch_execute(&format!(
                "ALTER TABLE {} ADD COLUMN IF NOT EXISTS {} {}",
                qualified(t),
                quote(&c.name),
                pg_type(&c.ty)
            ))
            .await
            .map_err(|e| pg_error(format!("adding column {} to {t}", c.name), &e))?;
            m.insert(c.name.clone(), pg_type(&c.ty));
            added = true;
        }
        if added {
            m = load_meta(tx, t).await?.unwrap_or(m);
        }
        tables.insert(t.clone(), m);
    }
    Ok(tables.get(t))
}

fn cast(meta: &TableMeta, col: &str) -> String {
    meta.get(col).cloned().unwrap_or_else(|| "text".into())
}

async fn delete(
    tx: &Transaction<'_>,
    tname: &str,
    meta: &TableMeta,
    shape: &Shape,
    keys: &[Vec<Cell>],
) -> Result<(), tokio_postgres::Error> {
    let n = shape.columns.len();
    let mut arrays: Vec<Vec<Option<String>>> = vec![Vec::with_capacity(keys.len()); n];
    for k in keys {
        for (i, c) in k.iter().enumerate() {
            let mut s = String::new();
            arrays[i].push(pg_text(&mut s, c).then_some(s));
        }
    }
    let sql = delete_sql(tname, meta, shape);
    let params: Vec<&(dyn ToSql + Sync)> =
        arrays.iter().map(|a| a as &(dyn ToSql + Sync)).collect();
    tx.execute(&sql, &params).await.map(|_| ())
}

/// `DELETE FROM t USING unnest($1::text[], …) AS d(c0, …) WHERE t.k = d.c0::type AND …`.
pub fn delete_sql(tname: &str, meta: &TableMeta, shape: &Shape) -> String {
    let n = shape.columns.len();
    let arrays: Vec<String> = (1..=n).map(|i| format!("${i}::text[]")).collect();
    let names: Vec<String> = (0..n).map(|i| format!("c{i}")).collect();
    let conds: Vec<String> = shape
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| format!("t.{} = d.c{i}::{}", quote(&c.name), cast(meta, &c.name)))
        .collect();
    format!(
        "DELETE FROM {tname} AS t USING unnest({}) AS d({}) WHERE {}",
        arrays.join(", "),
        names.join(", "),
        conds.join(" AND ")
    )
}

/// The statement that moves the staging table into the target:
/// `INSERT … SELECT` (insert), `… ON CONFLICT (pk) DO UPDATE SET …` (upsert;
/// `DO NOTHING` when every column is in the key) or `UPDATE … FROM` (update).
pub fn merge_sql(
    tname: &str,
    stage: &str,
    meta: &TableMeta,
    shape: &Shape,
    mode: InsertMode,
) -> String {
    let cols: Vec<String> = shape.columns.iter().map(|c| quote(&c.name)).collect();
    let sel: Vec<String> = shape
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| format!("c{i}::{}", cast(meta, &c.name)))
        .collect();
    let non_pk: Vec<usize> = (0..shape.columns.len())
        .filter(|i| !shape.pk.contains(i))
        .collect();
    match mode {
        InsertMode::Insert => format!(
            "INSERT INTO {tname} ({}) SELECT {} FROM {stage}",
            cols.join(", "),
            sel.join(", ")
        ),
        InsertMode::Upsert => {
            let pk: Vec<String> = shape.pk_columns().map(|c| quote(&c.name)).collect();
            let action = if non_pk.is_empty() {
                "DO NOTHING".to_owned()
            } else {
                format!(
                    "DO UPDATE SET {}",
                    non_pk
                        .iter()
                        .map(|&i| format!("{0} = EXCLUDED.{0}", cols[i]))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            format!(
                "INSERT INTO {tname} ({}) SELECT {} FROM {stage} ON CONFLICT ({}) {action}",
                cols.join(", "),
                sel.join(", "),
                pk.join(", ")
            )
        }
        InsertMode::Update => {
            let set: Vec<String> = non_pk
                .iter()
                .map(|&i| format!("{} = s.{}", cols[i], sel[i]))
                .collect();
            let cond: Vec<String> = shape
                .pk
                .iter()
                .map(|&i| format!("t.{} = s.{}", cols[i], sel[i]))
                .collect();
            format!(
                "UPDATE {tname} AS t SET {} FROM {stage} AS s WHERE {}",
                set.join(", "),
                cond.join(" AND ")
            )
        }
    }
}

const COPY_HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0";

/// Encodes rows as a binary COPY stream of text fields into `buf`.
pub fn encode_copy_rows(buf: &mut BytesMut, rows: &[Vec<Cell>], scratch: &mut String) {
    for row in rows {
        buf.put_i16(row.len() as i16);
        for cell in row {
            scratch.clear();
            if pg_text(scratch, cell) {
                buf.put_i32(scratch.len() as i32);
                buf.put_slice(scratch.as_bytes());
            } else {
                buf.put_i32(-1);
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn copy_merge(
    tx: &Transaction<'_>,
    stages: &mut HashSet<usize>,
    used_in_tx: &mut HashSet<usize>,
    tname: &str,
    meta: &TableMeta,
    shape: &Shape,
    rows: &[Vec<Cell>],
    mode: InsertMode,
) -> Result<(), tokio_postgres::Error> {
    let n = shape.columns.len();
    let stage = format!("pg_temp.velocity_stage_{n}");
    if !used_in_tx.insert(n) {
        // a second shape with n columns in this transaction: empty the stage
        tx.batch_execute(&format!("TRUNCATE {stage}")).await?;
    }
    if !stages.contains(&n) {
        let cols: Vec<String> = (0..n).map(|i| format!("c{i} text")).collect();
        tx.batch_execute(&format!(
            "CREATE TEMP TABLE IF NOT EXISTS velocity_stage_{n} ({}) ON COMMIT DELETE ROWS",
            cols.join(", ")
        ))
        .await?;
        stages.insert(n);
    }
    let sink = tx
        .copy_in(&format!("COPY {stage} FROM STDIN (FORMAT binary)"))
        .await?;
    futures::pin_mut!(sink);
    let mut buf = BytesMut::with_capacity(64 * 1024);
    buf.put_slice(COPY_HEADER);
    buf.put_i32(0);
    buf.put_i32(0);
    let mut scratch = String::new();
    for chunk in rows.chunks(1000) {
        encode_copy_rows(&mut buf, chunk, &mut scratch);
        if buf.len() > 512 * 1024 {
            sink.send(buf.split().freeze()).await?;
        }
    }
    buf.put_i16(-1);
    sink.send(buf.split().freeze()).await?;
    sink.as_mut().finish().await?;
    tx.execute(&merge_sql(tname, &stage, meta, shape, mode), &[])
        .await?;
    Ok(())
}

async fn row_by_row(
    tx: &Transaction<'_>,
    tname: &str,
    meta: &TableMeta,
    shape: &Shape,
    rows: &[Vec<Cell>],
    mode: InsertMode,
) -> Result<(), tokio_postgres::Error> {
    let vals: Vec<String> = (0..shape.columns.len())
        .map(|i| format!("${}::text AS c{i}", i + 1))
        .collect();
    let values = match mode {
        InsertMode::Update => format!("(SELECT {})", vals.join(", ")),
        _ => format!("(SELECT {}) AS v", vals.join(", ")),
    };
    let sql = merge_sql(tname, &values, meta, shape, mode);
    let stmt = tx.prepare(&sql).await?;
    for row in rows {
        let texts: Vec<Option<String>> = row
            .iter()
            .map(|c| {
                let mut s = String::new();
                pg_text(&mut s, c).then_some(s)
            })
            .collect();
        let params: Vec<&(dyn ToSql + Sync)> =
            texts.iter().map(|t| t as &(dyn ToSql + Sync)).collect();
        tx.execute(&stmt, &params).await?;
    }
    Ok(())
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
            columns: vec![col("id"), col("line"), col("qty")],
            pk: vec![0, 1],
        }
    }

    fn meta() -> TableMeta {
        [
            ("id", "integer"),
            ("line", "integer"),
            ("qty", "numeric(12,2)"),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
    }

    #[test]
    fn merge_statements() {
        let s = shape();
        assert_eq!(
            merge_sql("\"t\"", "stage", &meta(), &s, InsertMode::Upsert),
            "INSERT INTO \"t\" (\"id\", \"line\", \"qty\") SELECT c0::integer, c1::integer, c2::numeric(12,2) FROM stage \
             ON CONFLICT (\"id\", \"line\") DO UPDATE SET \"qty\" = EXCLUDED.\"qty\""
        );
        assert_eq!(
            merge_sql("\"t\"", "stage", &meta(), &s, InsertMode::Insert),
            "INSERT INTO \"t\" (\"id\", \"line\", \"qty\") SELECT c0::integer, c1::integer, c2::numeric(12,2) FROM stage"
        );
        assert_eq!(
            merge_sql("\"t\"", "stage", &meta(), &s, InsertMode::Update),
            "UPDATE \"t\" AS t SET \"qty\" = s.c2::numeric(12,2) FROM stage AS s WHERE t.\"id\" = s.c0::integer AND t.\"line\" = s.c1::integer"
        );
        let all_pk = Shape {
            pk: vec![0, 1, 2],
            ..shape()
        };
        assert!(merge_sql("t", "s", &meta(), &all_pk, InsertMode::Upsert).ends_with("DO NOTHING"));
    }

    #[test]
    fn delete_statement() {
        let key = Shape {
            columns: shape().columns[..2].to_vec(),
            pk: vec![0, 1],
        };
        assert_eq!(
            delete_sql("\"t\"", &meta(), &key),
            "DELETE FROM \"t\" AS t USING unnest($1::text[], $2::text[]) AS d(c0, c1) WHERE t.\"id\" = d.c0::integer AND t.\"line\" = d.c1::integer"
        );
    }

    #[test]
    fn quoting() {
        assert_eq!(quote("a\"b"), "\"a\"\"b\"");
        assert_eq!(
            qualified(&TableId {
                schema: Some("s".into()),
                name: "t".into()
            }),
            "\"s\".\"t\""
        );
    }

    #[test]
    fn copy_encoding() {
        let mut b = BytesMut::new();
        encode_copy_rows(
            &mut b,
            &[vec![Cell::Int(7), Cell::Null]],
            &mut String::new(),
        );
        assert_eq!(&b[..], &[0, 2, 0, 0, 0, 1, b'7', 0xff, 0xff, 0xff, 0xff]);
    }
}
