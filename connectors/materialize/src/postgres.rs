//! The PostgreSQL writer: ONE transaction per batch; per mapped table a
//! session-local staging table shaped like the target's mapped columns
//! (`CREATE TEMP TABLE … AS SELECT <columns> FROM <target> WITH NO DATA`,
//! so COPY converts the text of every cell with the column's own type),
//! filled by a text `COPY`, then one set-based statement: `DELETE … USING`
//! the staged keys, and `INSERT … SELECT … ON CONFLICT (key) DO UPDATE`
//! (`DO NOTHING` for insert-only; a plain INSERT for replaced child rows,
//! whose parents' rows were deleted first in the same transaction).

use std::collections::HashSet;
use std::time::Duration;

use bytes::{BufMut, BytesMut};
use futures::SinkExt;
use tokio_postgres::{Client, NoTls, Transaction};

use crate::config::{MaterializeConfig, Mode, TableMapping};
use crate::error::{pg_error, MaterializeError};
use crate::model::{Row, TablePlan};

/// A connection to the fast storage PostgreSQL database.
pub struct PgWriter {
    client: Client,
    conn: tokio::task::JoinHandle<()>,
    /// Mapping indexes whose staging table exists in this session.
    stages: HashSet<usize>,
}

impl Drop for PgWriter {
    fn drop(&mut self) {
        self.conn.abort();
    }
}

/// `"name"` with embedded quotes doubled.
pub fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn target(t: &TableMapping) -> String {
    match &t.schema {
        Some(s) => format!("{}.{}", quote(s), quote(&t.table)),
        None => quote(&t.table),
    }
}

/// Appends `rows` in COPY text format.
pub fn encode_text_rows(buf: &mut BytesMut, rows: &[Row]) {
    for row in rows {
        let mut first = true;
        let mut cell = |c: &Option<String>| {
            if !first {
                buf.put_u8(b'\t');
            }
            first = false;
            match c {
                None => buf.put_slice(b"\\N"),
                Some(s) => {
                    for b in s.bytes() {
                        match b {
                            b'\\' => buf.put_slice(b"\\\\"),
                            b'\t' => buf.put_slice(b"\\t"),
                            b'\n' => buf.put_slice(b"\\n"),
                            b'\r' => buf.put_slice(b"\\r"),
                            b => buf.put_u8(b),
                        }
                    }
                }
            }
        };
        row.iter().for_each(&mut cell);
        buf.put_u8(b'\n');
    }
}

/// The statement moving the staged rows into the target.
pub fn merge_sql(t: &TableMapping, stage: &str) -> String {
    let cols: Vec<String> = t.columns.iter().map(|c| quote(&c.name)).collect();
    let list = cols.join(", ");
    let insert = format!(
        "INSERT INTO {} ({list}) SELECT {list} FROM {stage}",
        target(t)
    );
    let key: Vec<&str> = t.key.iter().map(|&i| cols[i].as_str()).collect();
    let rest: Vec<String> = (0..cols.len())
        .filter(|i| !t.key.contains(i))
        .map(|i| format!("{0} = EXCLUDED.{0}", cols[i]))
        .collect();
    match t.mode {
        Mode::Replace => insert,
        Mode::Insert => format!("{insert} ON CONFLICT ({}) DO NOTHING", key.join(", ")),
        Mode::Upsert if rest.is_empty() => {
            format!("{insert} ON CONFLICT ({}) DO NOTHING", key.join(", "))
        }
        Mode::Upsert => format!(
            "{insert} ON CONFLICT ({}) DO UPDATE SET {}",
            key.join(", "),
            rest.join(", ")
        ),
    }
}

/// `DELETE FROM target AS t USING stage AS s WHERE t.k = s.k AND …`.
pub fn delete_sql(t: &TableMapping, stage: &str) -> String {
    let cond: Vec<String> = t
        .key
        .iter()
        .map(|&i| format!("t.{0} = s.{0}", quote(&t.columns[i].name)))
        .collect();
    format!(
        "DELETE FROM {} AS t USING {stage} AS s WHERE {}",
        target(t),
        cond.join(" AND ")
    )
}

impl PgWriter {
    /// Connects; bad credentials and unknown databases are fatal,
    /// unreachable servers retriable. The password never appears in errors.
    pub async fn connect(cfg: &MaterializeConfig) -> Result<PgWriter, MaterializeError> {
        let u = &cfg.connection.url;
        let mut pc = tokio_postgres::Config::new();
        pc.host(&u.host)
            .port(u.port)
            .dbname(&u.database)
            .user(&cfg.connection.user)
            .password(cfg.connection.password.expose())
            .application_name("velocity-materialize-sink")
            .connect_timeout(Duration::from_secs(10));
        let (client, conn) = pc.connect(NoTls).await.map_err(|e| {
            let (message, retriable) = match e.as_db_error() {
                Some(db) => (
                    format!("{} (SQLSTATE {})", db.message(), db.code().code()),
                    false,
                ),
                None => (e.to_string(), true),
            };
            MaterializeError::Connect {
                database: "PostgreSQL",
                address: format!("{}:{}", u.host, u.port),
                user: cfg.connection.user.clone(),
                message,
                retriable,
            }
        })?;
        let conn = tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::warn!(error = %e, "materialize sink PostgreSQL connection closed");
            }
        });
        Ok(PgWriter {
            client,
            conn,
            stages: HashSet::new(),
        })
    }

    /// Applies `plans` in ONE transaction: all or nothing.
    pub async fn write(
        &mut self,
        cfg: &MaterializeConfig,
        plans: &[TablePlan],
    ) -> Result<(), MaterializeError> {
        let r = self.write_inner(cfg, plans).await;
        if r.is_err() {
            // staging tables created in the rolled-back transaction are gone
            self.stages.clear();
        }
        r
    }

    async fn write_inner(
        &mut self,
        cfg: &MaterializeConfig,
        plans: &[TablePlan],
    ) -> Result<(), MaterializeError> {
        let PgWriter { client, stages, .. } = self;
        let tx = client
            .transaction()
            .await
            .map_err(|e| pg_error("starting a transaction", e))?;
        for p in plans {
            let t = &cfg.tables[p.table];
            let stage = format!("pg_temp.velocity_materialize_{}", p.table);
            let action = || {
                format!(
                    "writing table {} (materialize.{})",
                    t.display_name(),
                    t.alias
                )
            };
            if !stages.contains(&p.table) {
                create_stage(&tx, t, p.table).await?;
                stages.insert(p.table);
            }
            if !p.deletes.is_empty() {
                let keys: Vec<String> = t.key.iter().map(|&i| quote(&t.columns[i].name)).collect();
                copy_in(&tx, &stage, &keys, &p.deletes)
                    .await
                    .map_err(|e| pg_error(action(), e))?;
                tx.execute(&delete_sql(t, &stage), &[])
                    .await
                    .map_err(|e| pg_error(action(), e))?;
                tx.batch_execute(&format!("TRUNCATE {stage}"))
                    .await
                    .map_err(|e| pg_error(action(), e))?;
            }
            if !p.writes.is_empty() {
                let cols: Vec<String> = t.columns.iter().map(|c| quote(&c.name)).collect();
                copy_in(&tx, &stage, &cols, &p.writes)
                    .await
                    .map_err(|e| pg_error(action(), e))?;
                tx.execute(&merge_sql(t, &stage), &[])
                    .await
                    .map_err(|e| pg_error(action(), e))?;
            }
        }
        tx.commit().await.map_err(|e| pg_error("committing", e))
    }
}

async fn create_stage(
    tx: &Transaction<'_>,
    t: &TableMapping,
    index: usize,
) -> Result<(), MaterializeError> {
    let exists: Option<String> = tx
        .query_one("SELECT to_regclass($1)::text", &[&target(t)])
        .await
        .map_err(|e| pg_error(format!("looking up table {}", t.display_name()), e))?
        .get(0);
    if exists.is_none() {
        return Err(MaterializeError::MissingTable {
            alias: t.alias.clone(),
            table: t.display_name(),
        });
    }
    let cols: Vec<String> = t.columns.iter().map(|c| quote(&c.name)).collect();
    tx.batch_execute(&format!(
        "CREATE TEMP TABLE IF NOT EXISTS velocity_materialize_{index} ON COMMIT DELETE ROWS AS SELECT {} FROM {} WITH NO DATA",
        cols.join(", "),
        target(t)
    ))
    .await
    .map_err(|e| {
        pg_error(
            format!(
                "preparing the staging table of {} (do the columns of materialize.{}.columns exist?)",
                t.display_name(),
                t.alias
            ),
            e,
        )
    })
}

async fn copy_in(
    tx: &Transaction<'_>,
    stage: &str,
    cols: &[String],
    rows: &[Row],
) -> Result<(), tokio_postgres::Error> {
    let sink = tx
        .copy_in(&format!("COPY {stage} ({}) FROM STDIN", cols.join(", ")))
        .await?;
    futures::pin_mut!(sink);
    let mut buf = BytesMut::with_capacity(64 * 1024);
    for chunk in rows.chunks(500) {
        encode_text_rows(&mut buf, chunk);
        if buf.len() > 256 * 1024 {
            sink.send(buf.split().freeze()).await?;
        }
    }
    if !buf.is_empty() {
        sink.send(buf.split().freeze()).await?;
    }
    sink.as_mut().finish().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ColumnMap;

    fn mapping(mode: Mode, cols: &[&str], key: Vec<usize>) -> TableMapping {
        TableMapping {
            alias: "a".into(),
            schema: Some("fast".into()),
            table: "shipment".into(),
            topics: vec![],
            event_types: vec![],
            columns: cols
                .iter()
                .map(|c| ColumnMap {
                    name: c.to_string(),
                    path: vec![],
                })
                .collect(),
            key,
            mode,
            rows: vec![],
            delete_on: None,
        }
    }

    #[test]
    fn statements() {
        let t = mapping(Mode::Upsert, &["id", "status"], vec![0]);
        assert_eq!(
            merge_sql(&t, "s"),
            "INSERT INTO \"fast\".\"shipment\" (\"id\", \"status\") SELECT \"id\", \"status\" FROM s ON CONFLICT (\"id\") DO UPDATE SET \"status\" = EXCLUDED.\"status\""
        );
        let i = mapping(Mode::Insert, &["id", "status"], vec![0]);
        assert!(merge_sql(&i, "s").ends_with("ON CONFLICT (\"id\") DO NOTHING"));
        let r = mapping(Mode::Replace, &["sid", "seq"], vec![0]);
        assert!(merge_sql(&r, "s").ends_with("FROM s"));
        assert_eq!(
            delete_sql(&r, "s"),
            "DELETE FROM \"fast\".\"shipment\" AS t USING s AS s WHERE t.\"sid\" = s.\"sid\""
        );
    }

    #[test]
    fn copy_text_escapes() {
        let mut b = BytesMut::new();
        encode_text_rows(&mut b, &[vec![Some("a\tb\\c\nd".into()), None]]);
        assert_eq!(&b[..], b"a\\tb\\\\c\\nd\t\\N\n");
    }
}
