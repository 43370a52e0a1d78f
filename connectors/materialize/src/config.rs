//! Typed configuration of the materializing sink, read from the flat Kafka
//! Connect map through its declared keys ([`keys`], the
//! [`ConfigDef`](velocity_api::ConfigDef) the REST API publishes) and the
//! per-table keys `materialize.<alias>.*` of each alias in
//! `materialize.tables`:
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
//! [`TypedConfig::validate`] reports every offending key once, as (dotted
//! key, rule).

use velocity_api::config::{ConfigExt, ConfigReader, TypedConfig};
use velocity_api::jdbc::Connection;
use velocity_api::{config_choice, Choice, ConfigKey};

pub use keys::*;

/// The sink's declared keys (the per-table keys are `materialize.<alias>.*`,
/// see the module docs).
pub mod keys {
    use velocity_api::config::{ConfigKey, ConfigType::*, Importance::*};
    use velocity_api::jdbc::keys as jdbc;

    velocity_api::config_keys! {
        /// `connection.url`: the fast storage database.
        CONNECTION_URL = ConfigKey {
            documentation: "Fast storage: jdbc:postgresql://host:port/db, jdbc:mariadb://host:port/db or jdbc:mysql://host:port/db.",
            ..jdbc::CONNECTION_URL
        };
        /// `connection.username`.
        CONNECTION_USERNAME = jdbc::CONNECTION_USERNAME;
        /// `connection.password` (secret).
        CONNECTION_PASSWORD = jdbc::CONNECTION_PASSWORD;
        /// `batch.size`: most records per database transaction (default 1000).
        BATCH_SIZE = ConfigKey::new("batch.size", Int, Some("1000"), Medium, "Most records written in one database transaction.").range(1, 1_000_000);
        /// `materialize.tables`: the mapping aliases, in write order (required).
        TABLES = ConfigKey::new("materialize.tables", List, None, High, "Table mapping aliases in write order; each configured under materialize.<alias>. (table, topics, event.types, columns, column.<c>, key, mode, rows, parent.key, delete.on).");
    }
}

config_choice! {
    /// How a table is written (`materialize.<alias>.mode`).
    pub enum Mode {
        /// Insert or update the row with the same key.
        Upsert = "upsert",
        /// Insert; a row whose key exists is left as it is.
        Insert = "insert",
        /// Delete the parent's rows, insert the event's child rows.
        Replace = "replace",
    }
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
    /// Where to write, and as whom (`connection.url`, `connection.username`,
    /// `connection.password`).
    pub connection: Connection,
    /// `batch.size`.
    pub batch_size: usize,
    /// The table mappings, in write order.
    pub tables: Vec<TableMapping>,
}

fn path(s: &str) -> Vec<String> {
    s.split('.').map(str::to_owned).collect()
}

impl TypedConfig for MaterializeConfig {
    const KEYS: &'static [ConfigKey] = KEYS;

    fn read(r: &mut ConfigReader<'_>) -> MaterializeConfig {
        let connection = Connection::read(
            r,
            &CONNECTION_URL,
            &CONNECTION_USERNAME,
            &CONNECTION_PASSWORD,
        );
        let batch_size = r.int(&BATCH_SIZE);
        let aliases = r.list(&TABLES);
        if aliases.is_empty() {
            r.fail(TABLES.name, "list at least one target table mapping, e.g. materialize.tables=shipment,stop with materialize.shipment.columns=… and materialize.shipment.key=…");
        }
        let tables = aliases.iter().map(|a| read_mapping(r, a)).collect();
        MaterializeConfig {
            connection,
            batch_size,
            tables,
        }
    }
}

/// The mapping of `alias`, read from its `materialize.<alias>.*` keys;
/// each broken rule is recorded on the key to fix.
fn read_mapping(r: &mut ConfigReader<'_>, alias: &str) -> TableMapping {
    let config = r.raw();
    let k = |s: &str| format!("materialize.{alias}.{s}");
    let full = config.str_or(&k("table"), alias).to_owned();
    let (schema, table) = match full.split_once('.') {
        Some((s, t)) => (Some(s.to_owned()), t.to_owned()),
        None => (None, full.clone()),
    };
    if table.is_empty() || schema.as_deref() == Some("") {
        r.fail(&k("table"), format!("'{full}' is not a table name"));
    }
    let names = config.list(&k("columns"));
    if names.is_empty() {
        r.fail(&k("columns"), "list the target columns, e.g. id,status (each from materialize.<alias>.column.<c>, default data.<c>)");
    }
    let mut columns = Vec::new();
    for n in &names {
        let p = config
            .opt_str(&k(&format!("column.{n}")))
            .map(str::to_owned)
            .unwrap_or_else(|| format!("data.{n}"));
        if p.split('.').any(str::is_empty) {
            r.fail(
                &k(&format!("column.{n}")),
                format!("'{p}' is not a path (e.g. data.shipmentId, item.sku, $key)"),
            );
        }
        columns.push(ColumnMap {
            name: n.clone(),
            path: path(&p),
        });
    }
    let given_mode = config.str_or(&k("mode"), "upsert");
    let mode = Mode::from_name(given_mode).unwrap_or_else(|| {
        r.fail(
            &k("mode"),
            format!("'{given_mode}' must be upsert, insert or replace"),
        );
        Mode::Upsert
    });
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
        r.fail(&key_key, format!("list {what}"));
    }
    let mut key = Vec::new();
    for kn in &key_names {
        match names.iter().position(|n| n == kn) {
            Some(i) => key.push(i),
            None => r.fail(&key_key, format!("'{kn}' is not one of {}", k("columns"))),
        }
    }
    let rows = config.opt_str(&k("rows")).map(path).unwrap_or_default();
    if mode == Mode::Replace && rows.is_empty() {
        r.fail(
            &k("rows"),
            "mode=replace needs the path of the child rows array, e.g. data.stops",
        );
    }
    if mode != Mode::Replace && !rows.is_empty() {
        r.fail(&k("rows"), "only used with mode=replace");
    }
    let delete_on = match config.get(&k("delete.on")).map(String::as_str) {
        None => Some("Deleted".to_owned()),
        Some(s) if s.trim().is_empty() => None,
        Some(s) => Some(s.trim().to_owned()),
    };
    TableMapping {
        alias: alias.to_owned(),
        schema,
        table,
        topics: config.list(&k("topics")),
        event_types: config.list(&k("event.types")),
        columns,
        key,
        mode,
        rows,
        delete_on,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) use velocity_api::config::raw_config as cfg;

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
        assert_eq!(format!("{:?}", c.connection.password), "[hidden]");
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
