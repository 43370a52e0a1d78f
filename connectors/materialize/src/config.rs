//! Typed configuration of the materializing sink, parsed from the flat
//! Kafka Connect map. Keys:
//!
//! | key | meaning |
//! |---|---|
//! | `connection.url` | `jdbc:postgresql://host:port/db`, `jdbc:mariadb://…` or `jdbc:mysql://…` |
//! | `connection.username`, `connection.password` | credentials (the password is a secret) |
//! | `batch.size` | most records per database transaction (default 1000); `flush` writes the rest |
//! | `materialize.tables` | the mapping aliases, in write order |
//! | `materialize.<a>.table` | target table (`schema.table` allowed; default: the alias) |
//! | `materialize.<a>.topics` | topics feeding the table (default: every topic) |
//! | `materialize.<a>.event.types` | event types (the envelope `type`) feeding it (default: every type) |
//! | `materialize.<a>.columns` | target columns, in order |
//! | `materialize.<a>.column.<c>` | the path of column `<c>` in the event (default `data.<c>`; see [`crate::model`]) |
//! | `materialize.<a>.key` | key columns (a primary or unique key of the table) |
//! | `materialize.<a>.mode` | `upsert` (default), `insert` (insert-only: an existing key is kept) or `replace` |
//! | `materialize.<a>.rows` | `replace`: the path of the array whose elements are the child rows (`item.<f>` paths read an element) |
//! | `materialize.<a>.parent.key` | `replace`: the columns naming the parent; its stored rows are replaced |
//! | `materialize.<a>.delete.on` | events whose type ends with this delete (default `Deleted`; empty: never) |
//!
//! [`MaterializeConfig::validate`] reports every problem as (dotted key, rule).

use velocity_api::config::ConfigExt;
use velocity_api::jdbc::{parse_url, ConnectionUrl, Secret};
use velocity_api::{ConfigDef, ConfigKey, ConfigType, Importance, RawConfig};

use crate::error::MaterializeError;

/// `connection.url`.
pub const CONNECTION_URL: &str = "connection.url";
/// `connection.username`.
pub const CONNECTION_USERNAME: &str = "connection.username";
/// `connection.password` (secret).
pub const CONNECTION_PASSWORD: &str = "connection.password";
/// `batch.size`.
pub const BATCH_SIZE: &str = "batch.size";
/// `materialize.tables`.
pub const TABLES: &str = "materialize.tables";

/// How a table is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Insert or update the row with the same key.
    Upsert,
    /// Insert; a row whose key exists is left as it is.
    Insert,
    /// Delete the parent's rows, insert the event's child rows.
    Replace,
}

/// A column and where its value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnMap {
    /// Target column name.
    pub name: String,
    /// Dotted path in the event (see [`crate::model`]).
    pub path: Vec<String>,
}

/// The mapping of one target table (`materialize.<alias>.*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableMapping {
    /// The alias in `materialize.tables`.
    pub alias: String,
    /// Schema, when the table name is qualified.
    pub schema: Option<String>,
    /// Table name.
    pub table: String,
    /// Feeding topics; empty means all.
    pub topics: Vec<String>,
    /// Feeding event types; empty means all.
    pub event_types: Vec<String>,
    /// Columns in order.
    pub columns: Vec<ColumnMap>,
    /// Indexes into `columns` of the key (the parent key for `replace`).
    pub key: Vec<usize>,
    /// The mode.
    pub mode: Mode,
    /// `replace`: path of the child rows array.
    pub rows: Vec<String>,
    /// Delete-event type suffix; None: never delete.
    pub delete_on: Option<String>,
}

impl TableMapping {
    /// `schema.table` or `table`, for messages.
    pub fn display_name(&self) -> String {
        match &self.schema {
            Some(s) => format!("{s}.{}", self.table),
            None => self.table.clone(),
        }
    }

    /// True when records of `topic` with event type `ty` feed this table.
    pub fn accepts(&self, topic: &str, ty: Option<&str>) -> bool {
        (self.topics.is_empty() || self.topics.iter().any(|t| t == topic))
            && (self.event_types.is_empty()
                || ty.is_some_and(|ty| self.event_types.iter().any(|t| t == ty)))
    }

    /// True when an event of type `ty` deletes.
    pub fn is_delete(&self, ty: Option<&str>) -> bool {
        match (&self.delete_on, ty) {
            (Some(suffix), Some(ty)) => ty.ends_with(suffix.as_str()),
            _ => false,
        }
    }
}

/// Configuration of the materializing sink and its task.
#[derive(Debug, Clone)]
pub struct MaterializeConfig {
    /// Where to write.
    pub url: ConnectionUrl,
    /// Database user.
    pub username: String,
    /// Database password.
    pub password: Secret,
    /// `batch.size`.
    pub batch_size: usize,
    /// The table mappings, in write order.
    pub tables: Vec<TableMapping>,
}

fn path(s: &str) -> Vec<String> {
    s.split('.').map(str::to_owned).collect()
}

impl MaterializeConfig {
    /// Parses `config`; the first problem is returned as a configuration error.
    pub fn from_raw(config: &RawConfig) -> Result<MaterializeConfig, MaterializeError> {
        let (cfg, mut errors) = Self::parse(config);
        match (cfg, errors.is_empty()) {
            (Some(c), true) => Ok(c),
            _ => {
                let (key, message) = errors.remove(0);
                Err(MaterializeError::Config { key, message })
            }
        }
    }

    /// Every problem in `config` as `(dotted key, message)`; empty when valid.
    pub fn validate(config: &RawConfig) -> Vec<(String, String)> {
        Self::parse(config)
            .1
            .into_iter()
            .map(|(k, m)| {
                let msg = format!("Invalid value for configuration {k}: {m}");
                (k, msg)
            })
            .collect()
    }

    fn parse(config: &RawConfig) -> (Option<MaterializeConfig>, Vec<(String, String)>) {
        let mut errs: Vec<(String, String)> = Vec::new();
        let mut err = |k: &str, m: String| errs.push((k.to_owned(), m));
        let url = match config.opt_str(CONNECTION_URL) {
            None => {
                err(
                    CONNECTION_URL,
                    "missing: set the fast storage database, e.g. jdbc:postgresql://host:5432/fast"
                        .into(),
                );
                None
            }
            Some(u) => parse_url(u).map_err(|m| err(CONNECTION_URL, m)).ok(),
        };
        let username = config.opt_str(CONNECTION_USERNAME).map(str::to_owned);
        if username.is_none() {
            err(CONNECTION_USERNAME, "missing: set the database user".into());
        }
        let batch_size = config
            .int_or(BATCH_SIZE, 1000, 1, 1_000_000)
            .map_err(|_| {
                err(
                    BATCH_SIZE,
                    format!(
                        "'{}' must be a whole number from 1 to 1000000",
                        config.str_or(BATCH_SIZE, "")
                    ),
                )
            })
            .unwrap_or(1000) as usize;
        let aliases = config.list(TABLES);
        if aliases.is_empty() {
            err(TABLES, "list at least one target table mapping, e.g. materialize.tables=shipment,stop with materialize.shipment.columns=… and materialize.shipment.key=…".into());
        }
        let mut tables = Vec::new();
        for alias in &aliases {
            let k = |s: &str| format!("materialize.{alias}.{s}");
            let full = config.str_or(&k("table"), alias).to_owned();
            let (schema, table) = match full.split_once('.') {
                Some((s, t)) => (Some(s.to_owned()), t.to_owned()),
                None => (None, full.clone()),
            };
            if table.is_empty() || schema.as_deref() == Some("") {
                err(&k("table"), format!("'{full}' is not a table name"));
            }
            let names = config.list(&k("columns"));
            if names.is_empty() {
                err(&k("columns"), "list the target columns, e.g. id,status (each from materialize.<alias>.column.<c>, default data.<c>)".into());
            }
            let mut columns = Vec::new();
            for n in &names {
                let p = config
                    .opt_str(&k(&format!("column.{n}")))
                    .map(str::to_owned)
                    .unwrap_or_else(|| format!("data.{n}"));
                if p.split('.').any(str::is_empty) {
                    err(
                        &k(&format!("column.{n}")),
                        format!("'{p}' is not a path (e.g. data.shipmentId, item.sku, $key)"),
                    );
                }
                columns.push(ColumnMap {
                    name: n.clone(),
                    path: path(&p),
                });
            }
            let mode = match config.enum_or(&k("mode"), "upsert", &["upsert", "insert", "replace"])
            {
                Ok(m) if m == "insert" => Mode::Insert,
                Ok(m) if m == "replace" => Mode::Replace,
                Ok(_) => Mode::Upsert,
                Err(_) => {
                    err(
                        &k("mode"),
                        format!(
                            "'{}' must be upsert, insert or replace",
                            config.str_or(&k("mode"), "")
                        ),
                    );
                    Mode::Upsert
                }
            };
            let key_key = if mode == Mode::Replace {
                k("parent.key")
            } else {
                k("key")
            };
            let key_names = config.list(&key_key);
            if key_names.is_empty() {
                let what = if mode == Mode::Replace {
                    "the columns naming the parent whose rows are replaced"
                } else {
                    "the key columns (a primary or unique key of the table)"
                };
                err(&key_key, format!("list {what}"));
            }
            let mut key = Vec::new();
            for kn in &key_names {
                match names.iter().position(|n| n == kn) {
                    Some(i) => key.push(i),
                    None => err(&key_key, format!("'{kn}' is not one of {}", k("columns"))),
                }
            }
            let rows = config.opt_str(&k("rows")).map(path).unwrap_or_default();
            if mode == Mode::Replace && rows.is_empty() {
                err(
                    &k("rows"),
                    "mode=replace needs the path of the child rows array, e.g. data.stops".into(),
                );
            }
            if mode != Mode::Replace && !rows.is_empty() {
                err(&k("rows"), "only used with mode=replace".into());
            }
            let delete_on = match config.get(&k("delete.on")).map(String::as_str) {
                None => Some("Deleted".to_owned()),
                Some(s) if s.trim().is_empty() => None,
                Some(s) => Some(s.trim().to_owned()),
            };
            tables.push(TableMapping {
                alias: alias.clone(),
                schema,
                table,
                topics: config.list(&k("topics")),
                event_types: config.list(&k("event.types")),
                columns,
                key,
                mode,
                rows,
                delete_on,
            });
        }
        let cfg = match (url, username) {
            (Some(url), Some(username)) => Some(MaterializeConfig {
                url,
                username,
                password: Secret::new(config.str_or(CONNECTION_PASSWORD, "")),
                batch_size,
                tables,
            }),
            _ => None,
        };
        (cfg, errs)
    }
}

/// The keys of the materializing sink (the per-table keys are
/// `materialize.<alias>.*`, see the module docs).
pub fn config_def() -> ConfigDef {
    use ConfigType as T;
    use Importance as I;
    ConfigDef::new(vec![
        ConfigKey::new(CONNECTION_URL, T::String, None, I::High, "Fast storage: jdbc:postgresql://host:port/db, jdbc:mariadb://host:port/db or jdbc:mysql://host:port/db."),
        ConfigKey::new(CONNECTION_USERNAME, T::String, None, I::High, "Database user."),
        ConfigKey::new(CONNECTION_PASSWORD, T::Password, Some(""), I::High, "Database password."),
        ConfigKey::new(BATCH_SIZE, T::Int, Some("1000"), I::Medium, "Most records written in one database transaction."),
        ConfigKey::new(TABLES, T::List, None, I::High, "Table mapping aliases in write order; each configured under materialize.<alias>. (table, topics, event.types, columns, column.<c>, key, mode, rows, parent.key, delete.on)."),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn cfg(pairs: &[(&str, &str)]) -> RawConfig {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parses_mappings() {
        let c = MaterializeConfig::from_raw(&cfg(&[
            ("connection.url", "jdbc:postgresql://h:5/fast"),
            ("connection.username", "u"),
            ("connection.password", "pw"),
            ("materialize.tables", "shipment,stop"),
            ("materialize.shipment.table", "fast.shipment"),
            ("materialize.shipment.topics", "a,b"),
            ("materialize.shipment.columns", "id,status"),
            ("materialize.shipment.column.id", "data.shipmentId"),
            ("materialize.shipment.key", "id"),
            ("materialize.stop.mode", "replace"),
            ("materialize.stop.columns", "shipment_id,seq"),
            ("materialize.stop.column.shipment_id", "data.id"),
            ("materialize.stop.column.seq", "item.seq"),
            ("materialize.stop.parent.key", "shipment_id"),
            ("materialize.stop.rows", "data.stops"),
            ("materialize.stop.delete.on", ""),
        ]))
        .unwrap();
        let s = &c.tables[0];
        assert_eq!(
            (s.schema.as_deref(), s.table.as_str()),
            (Some("fast"), "shipment")
        );
        assert_eq!(s.columns[0].path, ["data", "shipmentId"]);
        assert_eq!(s.columns[1].path, ["data", "status"]);
        assert_eq!(s.key, [0]);
        assert!(s.accepts("a", None) && !s.accepts("c", None));
        assert!(s.is_delete(Some("ShipmentDeleted")) && !s.is_delete(Some("ShipmentUpdated")));
        let t = &c.tables[1];
        assert_eq!(
            (t.mode, t.rows.as_slice()),
            (Mode::Replace, &["data".to_owned(), "stops".to_owned()][..])
        );
        assert!(!t.is_delete(Some("XDeleted")));
        assert_eq!(format!("{:?}", c.password), "[hidden]");
    }

    #[test]
    fn every_problem_names_its_key() {
        let keys: Vec<String> = MaterializeConfig::validate(&cfg(&[
            ("connection.url", "postgres://x"),
            ("materialize.tables", "a,b"),
            ("materialize.a.columns", "id"),
            ("materialize.a.key", "nope"),
            ("materialize.a.mode", "merge"),
            ("materialize.b.columns", "id"),
            ("materialize.b.mode", "replace"),
            ("materialize.b.parent.key", "id"),
        ]))
        .into_iter()
        .map(|(k, _)| k)
        .collect();
        assert_eq!(
            keys,
            [
                "connection.url",
                "connection.username",
                "materialize.a.mode",
                "materialize.a.key",
                "materialize.b.rows"
            ]
        );
        assert_eq!(
            MaterializeConfig::validate(&cfg(&[]))[2].0,
            "materialize.tables"
        );
    }
}
