//! Typed configuration of the JDBC sink, read from the flat Kafka Connect
//! map through its declared keys ([`keys`], spelled as the Debezium JDBC
//! sink spells them), whose list is the [`ConfigDef`](velocity_api::ConfigDef)
//! the REST API publishes. Every error names its dotted key.

use velocity_api::config::{ConfigReader, TypedConfig};
use velocity_api::jdbc::Connection;
use velocity_api::{config_choice, ConfigKey};

pub use keys::*;
pub use velocity_api::jdbc::{ConnectionUrl, Dialect, Secret};

/// The sink's keys, each declared once (name, type, default, rule, docs);
/// `topics`/`topics.regex`/`errors.*` belong to the runtime.
pub mod keys {
    use super::{check_table_name_format, check_time_zone};
    use super::{InsertMode, PrimaryKeyMode, SchemaEvolution, WriteMethod};
    use velocity_api::config::{ConfigKey, ConfigType::*, Importance::*};
    use velocity_api::jdbc::keys as jdbc;

    velocity_api::config_keys! {
        /// `connection.url`: `jdbc:postgresql://host[:port]/db`, `jdbc:mariadb://…` or `jdbc:mysql://…`.
        CONNECTION_URL = jdbc::CONNECTION_URL;
        /// `connection.username`.
        CONNECTION_USERNAME = jdbc::CONNECTION_USERNAME;
        /// `connection.password` (a secret: never logged or shown).
        CONNECTION_PASSWORD = jdbc::CONNECTION_PASSWORD;
        /// `insert.mode`: `insert` (default), `upsert` or `update`.
        INSERT_MODE = ConfigKey::new("insert.mode", String, Some("insert"), High, "insert, upsert (insert or replace by primary key) or update.").one_of(InsertMode::NAMES);
        /// `delete.enabled`: apply delete events and tombstones (default false).
        DELETE_ENABLED = ConfigKey::new("delete.enabled", Boolean, Some("false"), Medium, "Apply delete events and tombstones as DELETE (needs primary.key.mode=record_key).");
        /// `truncate.enabled`: apply truncate events (default false).
        TRUNCATE_ENABLED = ConfigKey::new("truncate.enabled", Boolean, Some("false"), Medium, "Apply truncate events as TRUNCATE.");
        /// `primary.key.mode`: `none` (default), `record_key` or `record_value`.
        PRIMARY_KEY_MODE = ConfigKey::new("primary.key.mode", String, Some("none"), High, "none, record_key or record_value.").one_of(PrimaryKeyMode::NAMES);
        /// `primary.key.fields`: comma-separated subset of the key (or value) fields.
        PRIMARY_KEY_FIELDS = ConfigKey::new("primary.key.fields", List, Some(""), Medium, "Primary key fields (default: all key fields, or all value fields).");
        /// `schema.evolution`: `none` (default) or `basic` (create tables, add columns).
        SCHEMA_EVOLUTION = ConfigKey::new("schema.evolution", String, Some("none"), Medium, "none, or basic: create missing tables and add missing columns.").one_of(SchemaEvolution::NAMES);
        /// `table.name.format`: default `${topic}`.
        TABLE_NAME_FORMAT = ConfigKey::new("table.name.format", String, Some("${topic}"), Medium, "Target table; ${topic} (dots become underscores), ${source.db}, ${source.schema}, ${source.table}. A dot in the format separates schema and table.").validate_with(check_table_name_format);
        /// `batch.size`: most records written in one database transaction (default 500).
        BATCH_SIZE = ConfigKey::new("batch.size", Int, Some("500"), Medium, "Most records written in one database transaction.").range(1, 1_000_000);
        /// `use.time.zone`: zone of timestamps without zone (only `UTC` is supported).
        USE_TIME_ZONE = ConfigKey::new("use.time.zone", String, Some("UTC"), Low, "Time zone of timestamps; only UTC is supported.").validate_with(check_time_zone);
        /// `velocity.write.method`: `copy` (PostgreSQL bulk COPY + one merge, default)
        /// or `rows` (one prepared upsert per row; for comparison only).
        WRITE_METHOD = ConfigKey::new("velocity.write.method", String, Some("copy"), Low, "PostgreSQL only: copy (binary COPY into a staging table, then one merge) or rows (one upsert per row).").one_of(WriteMethod::NAMES);
    }
}

config_choice! {
    /// How rows are written (Debezium's `insert.mode`).
    pub enum InsertMode {
        /// Plain `INSERT`: fails on an existing key.
        Insert = "insert",
        /// Insert or replace the row with the same primary key.
        Upsert = "upsert",
        /// `UPDATE` the row with the same primary key; missing rows are skipped.
        Update = "update",
    }
}

config_choice! {
    /// Where primary key columns come from (Debezium's `primary.key.mode`).
    pub enum PrimaryKeyMode {
        /// No primary key: only `insert.mode=insert` is possible.
        None = "none",
        /// The record key's fields (all, or those in `primary.key.fields`).
        RecordKey = "record_key",
        /// The value's fields named in `primary.key.fields` (all when empty).
        RecordValue = "record_value",
    }
}

config_choice! {
    /// What the sink may change in the target schema (`schema.evolution`).
    pub enum SchemaEvolution {
        /// Tables and columns must exist; a missing one fails the task.
        None = "none",
        /// Missing tables are created (with the primary key) and missing columns added.
        Basic = "basic",
    }
}

config_choice! {
    /// How the PostgreSQL writer sends a batch of upserts (`velocity.write.method`).
    pub enum WriteMethod {
        /// Binary COPY into a staging table, then one `INSERT … SELECT … ON CONFLICT`.
        Copy = "copy",
        /// One prepared statement execution per row (the slow baseline).
        Rows = "rows",
    }
}

/// Configuration of the JDBC sink and its task.
#[derive(Debug, Clone)]
pub struct JdbcSinkConfig {
    /// Where to write, and as whom (`connection.url`, `connection.username`,
    /// `connection.password`).
    pub connection: Connection,
    /// `insert.mode`.
    pub insert_mode: InsertMode,
    /// `delete.enabled`.
    pub delete_enabled: bool,
    /// `truncate.enabled`.
    pub truncate_enabled: bool,
    /// `primary.key.mode`.
    pub pk_mode: PrimaryKeyMode,
    /// `primary.key.fields` (empty: all key fields, or all value fields).
    pub pk_fields: Vec<String>,
    /// `schema.evolution`.
    pub schema_evolution: SchemaEvolution,
    /// `table.name.format`.
    pub table_name_format: String,
    /// `batch.size`.
    pub batch_size: usize,
    /// `velocity.write.method`.
    pub write_method: WriteMethod,
}

impl TypedConfig for JdbcSinkConfig {
    const KEYS: &'static [ConfigKey] = KEYS;

    fn read(r: &mut ConfigReader<'_>) -> JdbcSinkConfig {
        let connection = Connection::read(
            r,
            &CONNECTION_URL,
            &CONNECTION_USERNAME,
            &CONNECTION_PASSWORD,
        );
        let insert_mode = r.choice(&INSERT_MODE);
        let delete_enabled = r.bool(&DELETE_ENABLED);
        let pk_mode = r.choice(&PRIMARY_KEY_MODE);
        if insert_mode != InsertMode::Insert && pk_mode == PrimaryKeyMode::None {
            r.fail(
                PRIMARY_KEY_MODE.name,
                format!(
                    "{}={insert_mode} needs a primary key: set {}=record_key (or record_value)",
                    INSERT_MODE.name, PRIMARY_KEY_MODE.name
                ),
            );
        }
        if delete_enabled && pk_mode != PrimaryKeyMode::RecordKey {
            r.fail(
                PRIMARY_KEY_MODE.name,
                format!(
                    "{}=true needs {}=record_key",
                    DELETE_ENABLED.name, PRIMARY_KEY_MODE.name
                ),
            );
        }
        JdbcSinkConfig {
            connection,
            insert_mode,
            delete_enabled,
            truncate_enabled: r.bool(&TRUNCATE_ENABLED),
            pk_mode,
            pk_fields: r.list(&PRIMARY_KEY_FIELDS),
            schema_evolution: r.choice(&SCHEMA_EVOLUTION),
            table_name_format: r.string(&TABLE_NAME_FORMAT),
            batch_size: r.int(&BATCH_SIZE),
            write_method: r.choice(&WRITE_METHOD),
        }
    }
}

/// Checks `use.time.zone`: Velocity writes timestamps in UTC only.
fn check_time_zone(tz: &str) -> Result<(), String> {
    if matches!(
        tz.to_ascii_uppercase().as_str(),
        "UTC" | "Z" | "GMT" | "ETC/UTC"
    ) {
        Ok(())
    } else {
        Err(format!(
            "time zone '{tz}' is not supported; Velocity writes timestamps in UTC: set use.time.zone=UTC"
        ))
    }
}

/// Checks that every `${…}` placeholder of `table.name.format` is known:
/// `${topic}`, `${source.db}`, `${source.schema}` or `${source.table}`.
fn check_table_name_format(fmt: &str) -> Result<(), String> {
    let mut rest = fmt;
    while let Some(i) = rest.find("${") {
        let Some(j) = rest[i..].find('}') else {
            return Err(format!("unclosed placeholder in '{fmt}'"));
        };
        let name = &rest[i + 2..i + j];
        if !matches!(
            name,
            "topic" | "source.table" | "source.schema" | "source.db"
        ) {
            return Err(format!(
                "unknown placeholder ${{{name}}}; use ${{topic}}, ${{source.db}}, ${{source.schema}} or ${{source.table}}"
            ));
        }
        rest = &rest[i + j + 1..];
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    use velocity_api::config::raw_config as cfg;

    fn base() -> Vec<(&'static str, &'static str)> {
        vec![
            ("connection.url", "jdbc:postgresql://db:5433/sink"),
            ("connection.username", "u"),
            ("connection.password", "s3cret"),
        ]
    }

    #[test]
    fn debezium_defaults() {
        let c = JdbcSinkConfig::from_raw(&cfg(&base())).unwrap();
        assert_eq!(c.insert_mode, InsertMode::Insert);
        assert_eq!(c.pk_mode, PrimaryKeyMode::None);
        assert!(!c.delete_enabled && !c.truncate_enabled);
        assert_eq!(c.schema_evolution, SchemaEvolution::None);
        assert_eq!(c.table_name_format, "${topic}");
        assert_eq!(c.batch_size, 500);
        assert_eq!(c.write_method, WriteMethod::Copy);
        assert_eq!(
            c.connection.url,
            ConnectionUrl {
                dialect: Dialect::Postgres,
                host: "db".into(),
                port: 5433,
                database: "sink".into()
            }
        );
    }

    #[test]
    fn urls() {
        let url = |u: &str| {
            let mut p = base();
            p[0].1 = u;
            JdbcSinkConfig::from_raw(&cfg(&p)).map(|c| c.connection.url)
        };
        let u = url("jdbc:mariadb://h/d?useSSL=false").unwrap();
        assert_eq!(
            (u.dialect, u.port, u.database.as_str()),
            (Dialect::MariaDb, 3306, "d")
        );
        let u = url("jdbc:mysql://h:3307/d").unwrap();
        assert_eq!((u.dialect, u.port), (Dialect::MariaDb, 3307));
        assert_eq!(url("jdbc:postgresql://h/d").unwrap().port, 5432);
        for bad in [
            "postgres://h/d",
            "jdbc:postgresql://h",
            "jdbc:postgresql://h:x/d",
            "jdbc:oracle:thin:@h:1521/x",
        ] {
            let e = url(bad).unwrap_err();
            assert!(e.names("connection.url") && e.0.len() == 1, "{bad}: {e}");
        }
    }

    #[test]
    fn every_error_names_its_key() {
        let keys = |extra: &[(&str, &str)], drop: &[&str]| -> Vec<String> {
            let mut p = base();
            p.retain(|(k, _)| !drop.contains(k));
            p.extend_from_slice(extra);
            JdbcSinkConfig::validate(&cfg(&p))
                .into_iter()
                .map(|(k, _)| k)
                .collect()
        };
        assert!(keys(&[], &[]).is_empty());
        assert_eq!(
            keys(&[], &["connection.url", "connection.username"]),
            vec!["connection.url", "connection.username"]
        );
        assert_eq!(keys(&[("insert.mode", "merge")], &[]), vec!["insert.mode"]);
        assert_eq!(
            keys(&[("primary.key.mode", "kafka")], &[]),
            vec!["primary.key.mode"]
        );
        assert_eq!(
            keys(&[("schema.evolution", "advanced")], &[]),
            vec!["schema.evolution"]
        );
        assert_eq!(
            keys(&[("delete.enabled", "yes")], &[]),
            vec!["delete.enabled"]
        );
        assert_eq!(
            keys(&[("truncate.enabled", "1")], &[]),
            vec!["truncate.enabled"]
        );
        assert_eq!(keys(&[("batch.size", "0")], &[]), vec!["batch.size"]);
        assert_eq!(
            keys(&[("use.time.zone", "Europe/Paris")], &[]),
            vec!["use.time.zone"]
        );
        assert_eq!(
            keys(&[("table.name.format", "${nope}")], &[]),
            vec!["table.name.format"]
        );
        assert_eq!(
            keys(&[("insert.mode", "upsert")], &[]),
            vec!["primary.key.mode"]
        );
        assert_eq!(
            keys(
                &[
                    ("delete.enabled", "true"),
                    ("primary.key.mode", "record_value")
                ],
                &[]
            ),
            vec!["primary.key.mode"]
        );
        assert!(keys(
            &[
                ("insert.mode", "upsert"),
                ("primary.key.mode", "record_key"),
                ("delete.enabled", "true")
            ],
            &[]
        )
        .is_empty());
    }

    #[test]
    fn password_never_in_debug() {
        let c = JdbcSinkConfig::from_raw(&cfg(&base())).unwrap();
        let d = format!("{c:?}");
        assert!(!d.contains("s3cret"), "{d}");
        assert_eq!(c.connection.password.expose(), "s3cret");
    }
}
