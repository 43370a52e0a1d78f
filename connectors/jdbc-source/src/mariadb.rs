//! The MariaDB/MySQL side of the source (mysql_async): connecting (session
//! time zone `+00:00`), listing and describing the URL's database's tables
//! from `information_schema`, describing a custom query from its prepared
//! statement, running poll statements (every column arrives as text, see
//! [`crate::query`]) and reading and writing `hash` mode's state table.

use mysql_async::consts::{ColumnFlags, ColumnType};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, TxOpts, Value as MyValue};

use crate::config::{Dialect, SourceConfig};
use crate::error::{bad_answer, my_error, SourceError};
use crate::hash::{
    hex128, key_digest, parse_entry, split_writes, state_table_action, state_table_ddl, State,
    StateWrite,
};
use crate::model::{Column, Kind, TableRef};
use crate::postgres::Rows;
use crate::query::{now_statement, timestamp_text, Param, Statement};

/// A connection to the source MariaDB/MySQL database.
pub struct MyDb {
    conn: Conn,
    /// The database named in the URL.
    pub database: String,
}

fn text_of(v: MyValue) -> Option<String> {
    match v {
        MyValue::NULL => None,
        MyValue::Bytes(b) => Some(String::from_utf8_lossy(&b).into_owned()),
        MyValue::Int(i) => Some(i.to_string()),
        MyValue::UInt(u) => Some(u.to_string()),
        MyValue::Float(f) => Some(f.to_string()),
        MyValue::Double(d) => Some(d.to_string()),
        other => Some(other.as_sql(true).trim_matches('\'').to_owned()),
    }
}

fn rows_of(rows: Vec<mysql_async::Row>) -> Rows {
    rows.into_iter()
        .map(|r| r.unwrap().into_iter().map(text_of).collect())
        .collect()
}

impl MyDb {
    /// Connects once with the URL and credentials of `cfg`. Access denied
    /// (1044/1045/1698) and unknown database (1049) are fatal, network
    /// errors retriable. The password never appears in the error.
    pub async fn connect(cfg: &SourceConfig) -> Result<MyDb, SourceError> {
        let conn = velocity_api::jdbc::my::connect(cfg.connection.login()).await?;
        Ok(MyDb {
            conn,
            database: cfg.connection.url.database.clone(),
        })
    }

    /// Closes the connection politely.
    pub async fn close(self) {
        let _ = self.conn.disconnect().await;
    }

    async fn text_rows(
        &mut self,
        sql: &str,
        params: Vec<MyValue>,
        action: &str,
    ) -> Result<Rows, SourceError> {
        let rows: Vec<mysql_async::Row> = self
            .conn
            .exec(sql, params)
            .await
            .map_err(|e| my_error(action, &e))?;
        Ok(rows_of(rows))
    }

    /// Tables (and views when `table.types` has VIEW) of the URL's database.
    pub async fn tables(&mut self, cfg: &SourceConfig) -> Result<Vec<TableRef>, SourceError> {
        let db = self.database.clone();
        let rows = self
            .text_rows(
                "SELECT CAST(TABLE_NAME AS CHAR), CAST(TABLE_TYPE AS CHAR) FROM information_schema.TABLES \
                 WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME",
                vec![db.clone().into()],
                "listing tables",
            )
            .await?;
        Ok(rows
            .into_iter()
            .filter(|r| {
                let ty = if r[1].as_deref() == Some("VIEW") {
                    "VIEW"
                } else {
                    "TABLE"
                };
                cfg.table_types.iter().any(|t| t == ty)
            })
            .filter_map(|mut r| {
                Some(TableRef {
                    db: db.clone(),
                    schema: None,
                    name: r.swap_remove(0)?,
                })
            })
            .collect())
    }

    /// The columns of `t` in table order and the positions of its primary key.
    pub async fn describe(
        &mut self,
        t: &TableRef,
    ) -> Result<(Vec<Column>, Vec<usize>), SourceError> {
        let action = format!("describing table {}", t.fqn());
        let rows = self
            .text_rows(
                "SELECT CAST(COLUMN_NAME AS CHAR), CAST(DATA_TYPE AS CHAR), CAST(COLUMN_TYPE AS CHAR), \
                        CAST(NUMERIC_SCALE AS CHAR), CAST(IS_NULLABLE AS CHAR) \
                 FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? \
                 ORDER BY ORDINAL_POSITION",
                vec![t.db.clone().into(), t.name.clone().into()],
                &action,
            )
            .await?;
        let columns: Vec<Column> = rows
            .into_iter()
            .map(|r| {
                let s = |i: usize| r[i].clone().unwrap_or_default();
                Column {
                    name: s(0),
                    kind: Kind::of(&s(1), &s(2), r[3].as_deref().and_then(|x| x.parse().ok())),
                    optional: s(4) == "YES",
                }
            })
            .collect();
        let pk_rows = self
            .text_rows(
                "SELECT CAST(COLUMN_NAME AS CHAR) FROM information_schema.KEY_COLUMN_USAGE \
                 WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND CONSTRAINT_NAME = 'PRIMARY' \
                 ORDER BY ORDINAL_POSITION",
                vec![t.db.clone().into(), t.name.clone().into()],
                &action,
            )
            .await?;
        let pk = pk_rows
            .iter()
            .filter_map(|r| {
                let name = r.first()?.as_deref()?;
                columns.iter().position(|c| c.name == name)
            })
            .collect();
        Ok((columns, pk))
    }

    /// The columns of the custom query `q` (all optional).
    pub async fn describe_query(&mut self, q: &str) -> Result<Vec<Column>, SourceError> {
        let stmt = self
            .conn
            .prep(format!(
                "SELECT * FROM ({}) AS velocity_q",
                q.trim().trim_end_matches(';')
            ))
            .await
            .map_err(|e| my_error("preparing the configured query", &e))?;
        let columns = stmt
            .columns()
            .iter()
            .map(|c| {
                let unsigned = c.flags().contains(ColumnFlags::UNSIGNED_FLAG);
                let binary = c.character_set() == 63;
                let (ty, full) = match c.column_type() {
                    ColumnType::MYSQL_TYPE_TINY if c.column_length() == 1 => {
                        ("tinyint", "tinyint(1)".to_owned())
                    }
                    ColumnType::MYSQL_TYPE_TINY => ("tinyint", String::new()),
                    ColumnType::MYSQL_TYPE_SHORT => ("smallint", String::new()),
                    ColumnType::MYSQL_TYPE_INT24 => ("mediumint", String::new()),
                    ColumnType::MYSQL_TYPE_LONG => ("int", String::new()),
                    ColumnType::MYSQL_TYPE_LONGLONG => ("bigint", String::new()),
                    ColumnType::MYSQL_TYPE_FLOAT => ("float", String::new()),
                    ColumnType::MYSQL_TYPE_DOUBLE => ("double", String::new()),
                    ColumnType::MYSQL_TYPE_DECIMAL | ColumnType::MYSQL_TYPE_NEWDECIMAL => {
                        ("decimal", String::new())
                    }
                    ColumnType::MYSQL_TYPE_TIMESTAMP
                    | ColumnType::MYSQL_TYPE_TIMESTAMP2
                    | ColumnType::MYSQL_TYPE_DATETIME
                    | ColumnType::MYSQL_TYPE_DATETIME2 => ("datetime", String::new()),
                    ColumnType::MYSQL_TYPE_DATE | ColumnType::MYSQL_TYPE_NEWDATE => {
                        ("date", String::new())
                    }
                    ColumnType::MYSQL_TYPE_TIME | ColumnType::MYSQL_TYPE_TIME2 => {
                        ("time", String::new())
                    }
                    ColumnType::MYSQL_TYPE_YEAR => ("year", String::new()),
                    ColumnType::MYSQL_TYPE_BIT => ("bit", format!("bit({})", c.column_length())),
                    ColumnType::MYSQL_TYPE_TINY_BLOB
                    | ColumnType::MYSQL_TYPE_MEDIUM_BLOB
                    | ColumnType::MYSQL_TYPE_LONG_BLOB
                    | ColumnType::MYSQL_TYPE_BLOB
                    | ColumnType::MYSQL_TYPE_VAR_STRING
                    | ColumnType::MYSQL_TYPE_STRING
                        if binary =>
                    {
                        ("blob", String::new())
                    }
                    _ => ("text", String::new()),
                };
                let full = if unsigned {
                    format!("{ty} unsigned")
                } else {
                    full
                };
                Column {
                    name: c.name_str().into_owned(),
                    kind: Kind::of(ty, &full, Some(i32::from(c.decimals()))),
                    optional: true,
                }
            })
            .collect();
        let _ = self.conn.close(stmt).await;
        Ok(columns)
    }

    /// Runs a poll statement; every column comes back as text.
    pub async fn fetch(&mut self, st: &Statement, label: &str) -> Result<Rows, SourceError> {
        let params: Vec<MyValue> = st
            .params
            .iter()
            .map(|p| match *p {
                Param::Int(i) => MyValue::Int(i),
                Param::Timestamp(us) => timestamp_text(us).into(),
            })
            .collect();
        self.text_rows(&st.sql, params, &format!("polling {label}"))
            .await
    }

    /// The database's current time in microseconds since the epoch.
    pub async fn now_us(&mut self) -> Result<i64, SourceError> {
        let rows = self
            .text_rows(
                now_statement(Dialect::MariaDb),
                Vec::new(),
                "reading the current time",
            )
            .await?;
        rows.first()
            .and_then(|r| r.first()?.as_deref()?.parse().ok())
            .ok_or_else(|| bad_answer("MariaDB", "reading the current time", "no value".into()))
    }

    /// Creates the state table `name` (quoted path) when missing.
    pub async fn ensure_state_table(&mut self, name: &str) -> Result<(), SourceError> {
        self.conn
            .query_drop(state_table_ddl(name, "longtext"))
            .await
            .map_err(|e| my_error(state_table_action(name), &e))
    }

    /// The stored state of `source_table` for `connector`.
    pub async fn load_state(
        &mut self,
        name: &str,
        connector: &str,
        source_table: &str,
    ) -> Result<State, SourceError> {
        let rows = self
            .text_rows(
                &format!("SELECT pk, row_hash, row_data FROM {name} WHERE connector = ? AND source_table = ?"),
                vec![connector.into(), source_table.into()],
                &format!("reading the hash state table {name}"),
            )
            .await?;
        rows.into_iter()
            .map(|mut r| {
                let mut take = |i: usize| r.get_mut(i).and_then(Option::take).unwrap_or_default();
                parse_entry(take(0), take(1), take(2))
            })
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
        let action = format!("writing the hash state table {name}");
        let mut tx = self
            .conn
            .start_transaction(TxOpts::default())
            .await
            .map_err(|e| my_error(&action, &e))?;
        let (puts, removes) = split_writes(writes);
        for chunk in puts.chunks(1000) {
            let mut params: Vec<MyValue> = Vec::new();
            for (key, e) in chunk {
                params.extend([
                    connector.into(),
                    source_table.into(),
                    key_digest(key).into(),
                    (*key).clone().into(),
                    hex128(e.hash).into(),
                    serde_json::Value::Object(e.row.clone()).to_string().into(),
                ]);
            }
            let values = vec!["(?, ?, ?, ?, ?, ?)"; chunk.len()].join(", ");
            tx.exec_drop(
                format!(
                    "INSERT INTO {name} (connector, source_table, pk_digest, pk, row_hash, row_data) VALUES {values} \
                     ON DUPLICATE KEY UPDATE pk = VALUES(pk), row_hash = VALUES(row_hash), row_data = VALUES(row_data)"
                ),
                params,
            )
            .await
            .map_err(|e| my_error(&action, &e))?;
        }
        for chunk in removes.chunks(1000) {
            let mut params: Vec<MyValue> = vec![connector.into(), source_table.into()];
            params.extend(chunk.iter().map(|k| MyValue::from(key_digest(k))));
            let marks = vec!["?"; chunk.len()].join(", ");
            tx.exec_drop(
                format!("DELETE FROM {name} WHERE connector = ? AND source_table = ? AND pk_digest IN ({marks})"),
                params,
            )
            .await
            .map_err(|e| my_error(&action, &e))?;
        }
        tx.commit().await.map_err(|e| my_error(&action, &e))
    }
}
