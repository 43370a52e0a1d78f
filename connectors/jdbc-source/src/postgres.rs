//! The PostgreSQL side of the source (tokio-postgres): connecting (session
//! time zone UTC), listing and describing tables from the catalog,
//! describing a custom query from its prepared statement, running poll
//! statements (every column arrives as text, see [`crate::query`]) and
//! reading and writing `hash` mode's state table.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio_postgres::types::ToSql;
use tokio_postgres::Client;

use crate::config::SourceConfig;
use crate::error::{bad_answer, pg_error, SourceError};
use crate::hash::{
    hex128, key_digest, parse_entry, split_writes, state_table_action, state_table_ddl, State,
    StateWrite,
};
use crate::model::{Column, Kind, TableRef};
use crate::query::{now_statement, Param, Sql, Statement};

/// Rows of text values, in select-list order.
pub type Rows = Vec<Vec<Option<String>>>;

/// A connection to the source PostgreSQL database.
pub struct PgDb {
    client: Client,
    conn: tokio::task::JoinHandle<()>,
    /// The database name (`current_database()`).
    pub database: String,
}

impl Drop for PgDb {
    fn drop(&mut self) {
        self.conn.abort();
    }
}

fn micros_to_system_time(us: i64) -> SystemTime {
    let d = Duration::from_micros(us.unsigned_abs());
    if us >= 0 {
        UNIX_EPOCH + d
    } else {
        UNIX_EPOCH - d
    }
}

impl PgDb {
    /// Connects once with the URL and credentials of `cfg`. Rejected
    /// credentials and unknown databases are fatal, unreachable servers
    /// retriable. The password never appears in the error.
    pub async fn connect(cfg: &SourceConfig) -> Result<PgDb, SourceError> {
        let (client, conn) =
            velocity_api::jdbc::pg::connect(cfg.connection.login(), "velocity-jdbc-source").await?;
        Ok(PgDb {
            client,
            conn,
            database: cfg.connection.url.database.clone(),
        })
    }

    /// Tables (and views when `table.types` has VIEW) of the database in
    /// `schema.pattern` (default: every non-system schema), by schema and name.
    pub async fn tables(&self, cfg: &SourceConfig) -> Result<Vec<TableRef>, SourceError> {
        let rows = self
            .client
            .query(
                "SELECT CAST(table_schema AS text), CAST(table_name AS text), CAST(table_type AS text) \
                 FROM information_schema.tables \
                 WHERE table_schema NOT IN ('pg_catalog', 'information_schema') \
                   AND table_schema NOT LIKE 'pg\\_%' \
                   AND ($1::text IS NULL OR table_schema = $1::text) \
                 ORDER BY 1, 2",
                &[&cfg.schema_pattern],
            )
            .await
            .map_err(|e| pg_error("listing tables", &e))?;
        Ok(rows
            .iter()
            .filter(|r| {
                let ty: String = r.get(2);
                let ty = if ty == "VIEW" { "VIEW" } else { "TABLE" };
                cfg.table_types.iter().any(|t| t == ty)
            })
            .map(|r| TableRef {
                db: self.database.clone(),
                schema: Some(r.get(0)),
                name: r.get(1),
            })
            .collect())
    }

    /// The columns of `t` in table order and the positions of its primary key.
    pub async fn describe(&self, t: &TableRef) -> Result<(Vec<Column>, Vec<usize>), SourceError> {
        let schema = t.schema.clone().unwrap_or_default();
        let action = || format!("describing table {}", t.fqn());
        let rows = self
            .client
            .query(
                "SELECT CAST(column_name AS text), CAST(data_type AS text), \
                        CAST(numeric_scale AS integer), CAST(is_nullable AS text) \
                 FROM information_schema.columns \
                 WHERE table_schema = $1::text AND table_name = $2::text ORDER BY ordinal_position",
                &[&schema, &t.name],
            )
            .await
            .map_err(|e| pg_error(action(), &e))?;
        let columns: Vec<Column> = rows
            .iter()
            .map(|r| {
                let data_type: String = r.get(1);
                Column {
                    name: r.get(0),
                    kind: Kind::of(&data_type, "", r.get::<_, Option<i32>>(2)),
                    optional: r.get::<_, String>(3) == "YES",
                }
            })
            .collect();
        let sql = Sql {
            dialect: crate::config::Dialect::Postgres,
            quote: true,
        };
        let reg = format!("{}.{}", sql.quoted(&schema), sql.quoted(&t.name));
        let pk_rows = self
            .client
            .query(
                "SELECT CAST(a.attname AS text) FROM pg_index i \
                 JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) \
                 WHERE i.indrelid = to_regclass($1::text) AND i.indisprimary \
                 ORDER BY array_position(CAST(i.indkey AS int2[]), a.attnum)",
                &[&reg],
            )
            .await
            .map_err(|e| pg_error(action(), &e))?;
        let pk = pk_rows
            .iter()
            .filter_map(|r| {
                let name: String = r.get(0);
                columns.iter().position(|c| c.name == name)
            })
            .collect();
        Ok((columns, pk))
    }

    /// The columns of the custom query `q` (all optional; `numeric` without
    /// a known scale is read as text).
    pub async fn describe_query(&self, q: &str) -> Result<Vec<Column>, SourceError> {
        let stmt = self
            .client
            .prepare(&format!(
                "SELECT * FROM ({}) AS velocity_q",
                q.trim().trim_end_matches(';')
            ))
            .await
            .map_err(|e| pg_error("preparing the configured query", &e))?;
        Ok(stmt
            .columns()
            .iter()
            .map(|c| Column {
                name: c.name().to_owned(),
                kind: Kind::of(c.type_().name(), "", None),
                optional: true,
            })
            .collect())
    }

    /// Runs a poll statement; every column comes back as text.
    pub async fn fetch(&self, st: &Statement, label: &str) -> Result<Rows, SourceError> {
        let params: Vec<Box<dyn ToSql + Sync + Send>> = st
            .params
            .iter()
            .map(|p| -> Box<dyn ToSql + Sync + Send> {
                match *p {
                    Param::Int(i) => Box::new(i),
                    Param::Timestamp(us) => Box::new(micros_to_system_time(us)),
                }
            })
            .collect();
        let refs: Vec<&(dyn ToSql + Sync)> = params
            .iter()
            .map(|p| p.as_ref() as &(dyn ToSql + Sync))
            .collect();
        let rows = self
            .client
            .query(&st.sql, &refs)
            .await
            .map_err(|e| pg_error(format!("polling {label}"), &e))?;
        rows.iter()
            .map(|r| {
                (0..r.len())
                    .map(|i| r.try_get::<_, Option<String>>(i))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| pg_error(format!("reading a row of {label}"), &e))
            })
            .collect()
    }

    /// The database's current time in microseconds since the epoch.
    pub async fn now_us(&self) -> Result<i64, SourceError> {
        let row = self
            .client
            .query_one(now_statement(crate::config::Dialect::Postgres), &[])
            .await
            .map_err(|e| pg_error("reading the current time", &e))?;
        let text: String = row.get(0);
        text.parse().map_err(|_| {
            bad_answer(
                "PostgreSQL",
                "reading the current time",
                format!("unexpected value '{text}'"),
            )
        })
    }

    /// Creates the state table `name` (quoted path) when missing.
    pub async fn ensure_state_table(&self, name: &str) -> Result<(), SourceError> {
        self.client
            .batch_execute(&state_table_ddl(name, "text"))
            .await
            .map_err(|e| pg_error(state_table_action(name), &e))
    }

    /// The stored state of `source_table` for `connector`.
    pub async fn load_state(
        &self,
        name: &str,
        connector: &str,
        source_table: &str,
    ) -> Result<State, SourceError> {
        let rows = self
            .client
            .query(
                &format!("SELECT pk, row_hash, row_data FROM {name} WHERE connector = $1 AND source_table = $2"),
                &[&connector, &source_table],
            )
            .await
            .map_err(|e| pg_error(format!("reading the hash state table {name}"), &e))?;
        rows.iter()
            .map(|r| parse_entry(r.get(0), r.get(1), r.get(2)))
            .collect()
    }

    /// Applies `writes` to the state table in one transaction.
    pub async fn save_state(
        &mut self,
        name: &str,
        connector: &str,
        source_table: &str,
        writes: &[StateWrite],
    ) -> Result<(), SourceError> {
        let action = || format!("writing the hash state table {name}");
        let tx = self
            .client
            .transaction()
            .await
            .map_err(|e| pg_error(action(), &e))?;
        let (puts, removes) = split_writes(writes);
        for chunk in puts.chunks(1000) {
            let mut values = Vec::new();
            let mut params: Vec<String> = Vec::new();
            for (key, e) in chunk {
                let n = params.len();
                values.push(format!(
                    "(${}, ${}, ${}, ${}, ${}, ${})",
                    n + 1,
                    n + 2,
                    n + 3,
                    n + 4,
                    n + 5,
                    n + 6
                ));
                params.extend([
                    connector.to_owned(),
                    source_table.to_owned(),
                    key_digest(key),
                    (*key).clone(),
                    hex128(e.hash),
                    serde_json::Value::Object(e.row.clone()).to_string(),
                ]);
            }
            let refs: Vec<&(dyn ToSql + Sync)> =
                params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
            tx.execute(
                &format!(
                    "INSERT INTO {name} (connector, source_table, pk_digest, pk, row_hash, row_data) VALUES {} \
                     ON CONFLICT (connector, source_table, pk_digest) DO UPDATE SET pk = EXCLUDED.pk, \
                     row_hash = EXCLUDED.row_hash, row_data = EXCLUDED.row_data",
                    values.join(", ")
                ),
                &refs,
            )
            .await
            .map_err(|e| pg_error(action(), &e))?;
        }
        for chunk in removes.chunks(1000) {
            let digests: Vec<String> = chunk.iter().map(|k| key_digest(k)).collect();
            tx.execute(
                &format!("DELETE FROM {name} WHERE connector = $1 AND source_table = $2 AND pk_digest = ANY($3)"),
                &[&connector, &source_table, &digests],
            )
            .await
            .map_err(|e| pg_error(action(), &e))?;
        }
        tx.commit().await.map_err(|e| pg_error(action(), &e))
    }
}
