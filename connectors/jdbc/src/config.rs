//! Typed configuration of the JDBC sink, parsed from the flat Kafka Connect
//! map with the keys spelled as the Debezium JDBC sink spells them, and the
//! [`ConfigDef`] the REST API publishes. Every error names its dotted key.

use velocity_api::config::ConfigExt;
use velocity_api::{ConfigDef, ConfigKey, ConfigType, Importance, RawConfig};

use crate::error::JdbcError;

/// `connection.url`: `jdbc:postgresql://host[:port]/db`, `jdbc:mariadb://…` or `jdbc:mysql://…`.
pub const CONNECTION_URL: &str = "connection.url";
/// `connection.username`.
pub const CONNECTION_USERNAME: &str = "connection.username";
/// `connection.password` (a secret: never logged or shown).
pub const CONNECTION_PASSWORD: &str = "connection.password";
/// `insert.mode`: `insert` (default), `upsert` or `update`.
pub const INSERT_MODE: &str = "insert.mode";
/// `delete.enabled`: apply delete events and tombstones (default false).
pub const DELETE_ENABLED: &str = "delete.enabled";
/// `truncate.enabled`: apply truncate events (default false).
pub const TRUNCATE_ENABLED: &str = "truncate.enabled";
/// `primary.key.mode`: `none` (default), `record_key` or `record_value`.
pub const PRIMARY_KEY_MODE: &str = "primary.key.mode";
/// `primary.key.fields`: comma-separated subset of the key (or value) fields.
pub const PRIMARY_KEY_FIELDS: &str = "primary.key.fields";
/// `schema.evolution`: `none` (default) or `basic` (create tables, add columns).
pub const SCHEMA_EVOLUTION: &str = "schema.evolution";
/// `table.name.format`: default `${topic}`.
pub const TABLE_NAME_FORMAT: &str = "table.name.format";
/// `batch.size`: most records written in one database transaction (default 500).
pub const BATCH_SIZE: &str = "batch.size";
/// `use.time.zone`: zone of timestamps without zone (only `UTC` is supported).
pub const USE_TIME_ZONE: &str = "use.time.zone";
/// `velocity.write.method`: `copy` (PostgreSQL bulk COPY + one merge, default)
/// or `rows` (one prepared upsert per row; for comparison only).
pub const WRITE_METHOD: &str = "velocity.write.method";

/// How rows are written (Debezium's `insert.mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsertMode {
    /// Plain `INSERT`: fails on an existing key.
    Insert,
    /// Insert or replace the row with the same primary key.
    Upsert,
    /// `UPDATE` the row with the same primary key; missing rows are skipped.
    Update,
}

/// Where primary key columns come from (Debezium's `primary.key.mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrimaryKeyMode {
    /// No primary key: only `insert.mode=insert` is possible.
    None,
    /// The record key's fields (all, or those in `primary.key.fields`).
    RecordKey,
    /// The value's fields named in `primary.key.fields` (all when empty).
    RecordValue,
}

/// What the sink may change in the target schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaEvolution {
    /// Tables and columns must exist; a missing one fails the task.
    None,
    /// Missing tables are created (with the primary key) and missing columns added.
    Basic,
}

/// How the PostgreSQL writer sends a batch of upserts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMethod {
    /// Binary COPY into a staging table, then one `INSERT … SELECT … ON CONFLICT`.
    Copy,
    /// One prepared statement execution per row (the slow baseline).
    Rows,
}

pub use velocity_api::jdbc::{ConnectionUrl, Dialect, Secret};

/// Configuration of the JDBC sink and its task.
#[derive(Debug, Clone)]
pub struct JdbcSinkConfig {
    /// Where to write.
    pub url: ConnectionUrl,
    /// Database user.
    pub username: String,
    /// Database password.
    pub password: Secret,
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

fn cfg_err(key: &'static str, message: impl Into<String>) -> JdbcError {
    JdbcError::Config {
        key,
        message: message.into(),
    }
}

fn message_of(e: velocity_api::ConnectError) -> String {
    match e {
        velocity_api::ConnectError::Config { message, .. } => message,
        other => other.to_string(),
    }
}

/// Parses `jdbc:postgresql://host[:port]/db[?…]` (and mariadb/mysql);
/// see [`velocity_api::jdbc::parse_url`].
pub fn parse_url(url: &str) -> Result<ConnectionUrl, JdbcError> {
    velocity_api::jdbc::parse_url(url).map_err(|m| cfg_err(CONNECTION_URL, m))
}

impl JdbcSinkConfig {
    /// Who connects where.
    pub fn login(&self) -> velocity_api::jdbc::Login<'_> {
        velocity_api::jdbc::Login {
            url: &self.url,
            user: &self.username,
            user_key: CONNECTION_USERNAME,
            password: &self.password,
        }
    }

    /// Parses and checks `config`; the first problem is returned.
    pub fn from_raw(config: &RawConfig) -> Result<JdbcSinkConfig, JdbcError> {
        let mut errors = Self::check(config);
        match errors.is_empty() {
            true => Ok(Self::build(config)?),
            false => Err(errors.remove(0)),
        }
    }

    /// Every problem in `config` as `(dotted key, message)`; empty when valid.
    pub fn validate(config: &RawConfig) -> Vec<(String, String)> {
        Self::check(config)
            .into_iter()
            .filter_map(|e| match e {
                JdbcError::Config { key, message } if message.contains(key) => {
                    Some((key.to_owned(), message))
                }
                JdbcError::Config { key, message } => Some((
                    key.to_owned(),
                    format!("Invalid value for configuration {key}: {message}"),
                )),
                _ => None,
            })
            .collect()
    }

    fn check(config: &RawConfig) -> Vec<JdbcError> {
        let mut errs = Vec::new();
        match config.opt_str(CONNECTION_URL) {
            None => errs.push(cfg_err(
                CONNECTION_URL,
                format!("Missing required configuration \"{CONNECTION_URL}\" which has no default value."),
            )),
            Some(u) => {
                if let Err(e) = parse_url(u) {
                    errs.push(e);
                }
            }
        }
        if config.opt_str(CONNECTION_USERNAME).is_none() {
            errs.push(cfg_err(
                CONNECTION_USERNAME,
                format!("Missing required configuration \"{CONNECTION_USERNAME}\" which has no default value."),
            ));
        }
        let enums: [(&'static str, &str, &[&str]); 4] = [
            (INSERT_MODE, "insert", &["insert", "upsert", "update"]),
            (
                PRIMARY_KEY_MODE,
                "none",
                &["none", "record_key", "record_value"],
            ),
            (SCHEMA_EVOLUTION, "none", &["none", "basic"]),
            (WRITE_METHOD, "copy", &["copy", "rows"]),
        ];
        for (key, default, allowed) in enums {
            if let Err(e) = config.enum_or(key, default, allowed) {
                errs.push(cfg_err(key, message_of(e)));
            }
        }
        for key in [DELETE_ENABLED, TRUNCATE_ENABLED] {
            if let Err(e) = config.bool_or(key, false) {
                errs.push(cfg_err(key, message_of(e)));
            }
        }
        if let Err(e) = config.int_or(BATCH_SIZE, 500, 1, 1_000_000) {
            errs.push(cfg_err(BATCH_SIZE, message_of(e)));
        }
        let tz = config.str_or(USE_TIME_ZONE, "UTC");
        if !matches!(
            tz.to_ascii_uppercase().as_str(),
            "UTC" | "Z" | "GMT" | "ETC/UTC"
        ) {
            errs.push(cfg_err(
                USE_TIME_ZONE,
                format!("time zone '{tz}' is not supported; Velocity writes timestamps in UTC: set {USE_TIME_ZONE}=UTC"),
            ));
        }
        let fmt = config.str_or(TABLE_NAME_FORMAT, "${topic}");
        let mut rest = fmt;
        while let Some(i) = rest.find("${") {
            let Some(j) = rest[i..].find('}') else {
                errs.push(cfg_err(
                    TABLE_NAME_FORMAT,
                    format!("unclosed placeholder in '{fmt}'"),
                ));
                break;
            };
            let name = &rest[i + 2..i + j];
            if !matches!(
                name,
                "topic" | "source.table" | "source.schema" | "source.db"
            ) {
                errs.push(cfg_err(
                    TABLE_NAME_FORMAT,
                    format!("unknown placeholder ${{{name}}}; use ${{topic}}, ${{source.db}}, ${{source.schema}} or ${{source.table}}"),
                ));
            }
            rest = &rest[i + j + 1..];
        }
        if errs.is_empty() {
            let insert = config.str_or(INSERT_MODE, "insert").to_ascii_lowercase();
            let pk = config.str_or(PRIMARY_KEY_MODE, "none").to_ascii_lowercase();
            if insert != "insert" && pk == "none" {
                errs.push(cfg_err(
                    PRIMARY_KEY_MODE,
                    format!("{INSERT_MODE}={insert} needs a primary key: set {PRIMARY_KEY_MODE}=record_key (or record_value)"),
                ));
            }
            if config.bool_or(DELETE_ENABLED, false).unwrap_or(false) && pk != "record_key" {
                errs.push(cfg_err(
                    PRIMARY_KEY_MODE,
                    format!("{DELETE_ENABLED}=true needs {PRIMARY_KEY_MODE}=record_key"),
                ));
            }
        }
        errs
    }

    fn build(config: &RawConfig) -> Result<JdbcSinkConfig, JdbcError> {
        let e = |key: &'static str| move |err| cfg_err(key, message_of(err));
        Ok(JdbcSinkConfig {
            url: parse_url(config.req_str(CONNECTION_URL).map_err(e(CONNECTION_URL))?)?,
            username: config
                .req_str(CONNECTION_USERNAME)
                .map_err(e(CONNECTION_USERNAME))?
                .to_owned(),
            password: Secret::new(config.get(CONNECTION_PASSWORD).cloned().unwrap_or_default()),
            insert_mode: match config
                .enum_or(INSERT_MODE, "insert", &["insert", "upsert", "update"])
                .map_err(e(INSERT_MODE))?
                .as_str()
            {
                "upsert" => InsertMode::Upsert,
                "update" => InsertMode::Update,
                _ => InsertMode::Insert,
            },
            delete_enabled: config
                .bool_or(DELETE_ENABLED, false)
                .map_err(e(DELETE_ENABLED))?,
            truncate_enabled: config
                .bool_or(TRUNCATE_ENABLED, false)
                .map_err(e(TRUNCATE_ENABLED))?,
            pk_mode: match config
                .enum_or(
                    PRIMARY_KEY_MODE,
                    "none",
                    &["none", "record_key", "record_value"],
                )
                .map_err(e(PRIMARY_KEY_MODE))?
                .as_str()
            {
                "record_key" => PrimaryKeyMode::RecordKey,
                "record_value" => PrimaryKeyMode::RecordValue,
                _ => PrimaryKeyMode::None,
            },
            pk_fields: config.list(PRIMARY_KEY_FIELDS),
            schema_evolution: match config
                .enum_or(SCHEMA_EVOLUTION, "none", &["none", "basic"])
                .map_err(e(SCHEMA_EVOLUTION))?
                .as_str()
            {
                "basic" => SchemaEvolution::Basic,
                _ => SchemaEvolution::None,
            },
            table_name_format: config.str_or(TABLE_NAME_FORMAT, "${topic}").to_owned(),
            batch_size: config
                .int_or(BATCH_SIZE, 500, 1, 1_000_000)
                .map_err(e(BATCH_SIZE))? as usize,
            write_method: match config
                .enum_or(WRITE_METHOD, "copy", &["copy", "rows"])
                .map_err(e(WRITE_METHOD))?
                .as_str()
            {
                "rows" => WriteMethod::Rows,
                _ => WriteMethod::Copy,
            },
        })
    }
}

/// The keys of the JDBC sink (`topics`/`topics.regex`/`errors.*` belong to the runtime).
pub fn config_def() -> ConfigDef {
    use ConfigType as T;
    use Importance as I;
    ConfigDef::new(vec![
        ConfigKey::new(CONNECTION_URL, T::String, None, I::High, "JDBC connection URL: jdbc:postgresql://host:port/db, jdbc:mariadb://host:port/db or jdbc:mysql://host:port/db."),
        ConfigKey::new(CONNECTION_USERNAME, T::String, None, I::High, "Database user."),
        ConfigKey::new(CONNECTION_PASSWORD, T::Password, Some(""), I::High, "Database password."),
        ConfigKey::new(INSERT_MODE, T::String, Some("insert"), I::High, "insert, upsert (insert or replace by primary key) or update.").one_of(&["insert", "upsert", "update"]),
        ConfigKey::new(DELETE_ENABLED, T::Boolean, Some("false"), I::Medium, "Apply delete events and tombstones as DELETE (needs primary.key.mode=record_key)."),
        ConfigKey::new(TRUNCATE_ENABLED, T::Boolean, Some("false"), I::Medium, "Apply truncate events as TRUNCATE."),
        ConfigKey::new(PRIMARY_KEY_MODE, T::String, Some("none"), I::High, "none, record_key or record_value.").one_of(&["none", "record_key", "record_value"]),
        ConfigKey::new(PRIMARY_KEY_FIELDS, T::List, Some(""), I::Medium, "Primary key fields (default: all key fields, or all value fields)."),
        ConfigKey::new(SCHEMA_EVOLUTION, T::String, Some("none"), I::Medium, "none, or basic: create missing tables and add missing columns.").one_of(&["none", "basic"]),
        ConfigKey::new(TABLE_NAME_FORMAT, T::String, Some("${topic}"), I::Medium, "Target table; ${topic} (dots become underscores), ${source.db}, ${source.schema}, ${source.table}. A dot in the format separates schema and table."),
        ConfigKey::new(BATCH_SIZE, T::Int, Some("500"), I::Medium, "Most records written in one database transaction."),
        ConfigKey::new(USE_TIME_ZONE, T::String, Some("UTC"), I::Low, "Time zone of timestamps; only UTC is supported."),
        ConfigKey::new(WRITE_METHOD, T::String, Some("copy"), I::Low, "PostgreSQL only: copy (binary COPY into a staging table, then one merge) or rows (one upsert per row).").one_of(&["copy", "rows"]),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(pairs: &[(&str, &str)]) -> RawConfig {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

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
            c.url,
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
        let u = parse_url("jdbc:mariadb://h/d?useSSL=false").unwrap();
        assert_eq!(
            (u.dialect, u.port, u.database.as_str()),
            (Dialect::MariaDb, 3306, "d")
        );
        let u = parse_url("jdbc:mysql://h:3307/d").unwrap();
        assert_eq!((u.dialect, u.port), (Dialect::MariaDb, 3307));
        assert_eq!(parse_url("jdbc:postgresql://h/d").unwrap().port, 5432);
        for bad in [
            "postgres://h/d",
            "jdbc:postgresql://h",
            "jdbc:postgresql://h:x/d",
            "jdbc:oracle:thin:@h:1521/x",
        ] {
            let e = parse_url(bad).unwrap_err();
            assert!(
                matches!(
                    e,
                    JdbcError::Config {
                        key: "connection.url",
                        ..
                    }
                ),
                "{bad}"
            );
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
        assert_eq!(c.password.expose(), "s3cret");
    }
}
