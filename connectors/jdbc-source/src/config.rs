//! Typed configuration of the JDBC source, parsed from the flat Kafka
//! Connect map with the keys, defaults and rules of Confluent's
//! `io.confluent.connect.jdbc.JdbcSourceConnector`, plus Velocity's own
//! `hash` mode and `velocity.*` keys, and the [`ConfigDef`] the REST API
//! publishes.
//!
//! [`SourceConfig::validate`] reports every broken `(key, rule)` once, each
//! message naming the key and the fix; [`SourceConfig::from_raw`] fails on
//! the first of them.

use std::time::Duration;

use velocity_api::config::ConfigExt;
use velocity_api::{ConfigDef, ConfigKey, ConfigType, Importance, RawConfig};

use crate::error::SourceError;

pub use velocity_api::jdbc::{ConnectionUrl, Dialect, Secret};

/// `connection.url`: `jdbc:postgresql://host[:port]/db`, `jdbc:mariadb://…` or `jdbc:mysql://…`.
pub const CONNECTION_URL: &str = "connection.url";
/// `connection.user`.
pub const CONNECTION_USER: &str = "connection.user";
/// `connection.password` (a secret: never logged or shown).
pub const CONNECTION_PASSWORD: &str = "connection.password";
/// `connection.attempts`: connection attempts before giving up (default 3).
pub const CONNECTION_ATTEMPTS: &str = "connection.attempts";
/// `connection.backoff.ms`: wait between connection attempts (default 10000).
pub const CONNECTION_BACKOFF_MS: &str = "connection.backoff.ms";
/// `mode`: `bulk`, `incrementing`, `timestamp`, `timestamp+incrementing` or `hash`.
pub const MODE: &str = "mode";
/// `incrementing.column.name`: the strictly incrementing column.
pub const INCREMENTING_COLUMN: &str = "incrementing.column.name";
/// `timestamp.column.name`: timestamp columns, combined with COALESCE.
pub const TIMESTAMP_COLUMN: &str = "timestamp.column.name";
/// `timestamp.initial`: epoch millis to start from when there is no offset (-1: now).
pub const TIMESTAMP_INITIAL: &str = "timestamp.initial";
/// `validate.non.null`: fail when an incrementing/timestamp column is nullable (default true).
pub const VALIDATE_NON_NULL: &str = "validate.non.null";
/// `timestamp.delay.interval.ms`: only rows older than now minus this are read (default 0).
pub const TIMESTAMP_DELAY: &str = "timestamp.delay.interval.ms";
/// `poll.interval.ms`: how often each table is polled (default 5000).
pub const POLL_INTERVAL: &str = "poll.interval.ms";
/// `batch.max.rows`: most rows read per query (default 100).
pub const BATCH_MAX_ROWS: &str = "batch.max.rows";
/// `table.whitelist`: tables to copy (Confluent's older name of `table.include.list`).
pub const TABLE_WHITELIST: &str = "table.whitelist";
/// `table.include.list`: tables to copy.
pub const TABLE_INCLUDE: &str = "table.include.list";
/// `table.blacklist`: tables not to copy (older name of `table.exclude.list`).
pub const TABLE_BLACKLIST: &str = "table.blacklist";
/// `table.exclude.list`: tables not to copy.
pub const TABLE_EXCLUDE: &str = "table.exclude.list";
/// `table.types`: `TABLE` (default) and/or `VIEW`.
pub const TABLE_TYPES: &str = "table.types";
/// `schema.pattern`: PostgreSQL schema to list tables from (default: every non-system schema).
pub const SCHEMA_PATTERN: &str = "schema.pattern";
/// `table.poll.interval.ms`: accepted for compatibility; tables are listed when the connector starts.
pub const TABLE_POLL_INTERVAL: &str = "table.poll.interval.ms";
/// `query`: one custom query instead of tables; `topic.prefix` is then the topic.
pub const QUERY: &str = "query";
/// `topic.prefix`: prefix of the table topics, or the topic of `query`.
pub const TOPIC_PREFIX: &str = "topic.prefix";
/// `db.timezone`: zone of timestamps without zone (only UTC is supported).
pub const DB_TIMEZONE: &str = "db.timezone";
/// `quote.sql.identifiers`: `always` (default) or `never`.
pub const QUOTE_IDENTIFIERS: &str = "quote.sql.identifiers";
/// `velocity.output.format`: `connect` (Confluent's plain row, default) or `debezium`.
pub const OUTPUT_FORMAT: &str = "velocity.output.format";
/// `velocity.hash.state.table`: where `hash` mode keeps its per-row state.
pub const HASH_STATE_TABLE: &str = "velocity.hash.state.table";
/// Internal task key: the tables assigned to a task, `;`-separated fully
/// qualified names (Confluent's task key `tables`).
pub const TASK_TABLES: &str = "tables";

/// Default of [`HASH_STATE_TABLE`].
pub const DEFAULT_HASH_STATE_TABLE: &str = "velocity_jdbc_source_hash_state";

/// How a table is polled (Confluent's `mode`, plus `hash`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The whole table every poll.
    Bulk,
    /// Rows whose incrementing column is above the offset.
    Incrementing,
    /// Rows whose timestamp is above the offset and below now minus the delay.
    Timestamp,
    /// Timestamp, with the incrementing column breaking ties.
    TimestampIncrementing,
    /// The whole table every poll, diffed by primary key against the last
    /// acknowledged state: creates, updates and deletes.
    Hash,
}

impl Mode {
    /// The configuration spelling.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Bulk => "bulk",
            Mode::Incrementing => "incrementing",
            Mode::Timestamp => "timestamp",
            Mode::TimestampIncrementing => "timestamp+incrementing",
            Mode::Hash => "hash",
        }
    }

    /// True when the mode reads an incrementing column.
    pub fn uses_incrementing(self) -> bool {
        matches!(self, Mode::Incrementing | Mode::TimestampIncrementing)
    }

    /// True when the mode reads timestamp columns.
    pub fn uses_timestamp(self) -> bool {
        matches!(self, Mode::Timestamp | Mode::TimestampIncrementing)
    }
}

/// The shape of the records (`velocity.output.format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    /// Confluent's: value = the row struct, key null.
    Connect,
    /// Debezium change events: key = primary key struct, value = envelope.
    Debezium,
}

/// Configuration of the JDBC source connector and its tasks.
#[derive(Debug, Clone)]
pub struct SourceConfig {
    /// Where to read.
    pub url: ConnectionUrl,
    /// Database user.
    pub user: String,
    /// Database password.
    pub password: Secret,
    /// `connection.attempts` (at least 1).
    pub attempts: u32,
    /// `connection.backoff.ms`.
    pub backoff: Duration,
    /// `mode`.
    pub mode: Mode,
    /// `incrementing.column.name`, when the mode uses it.
    pub incrementing_column: Option<String>,
    /// `timestamp.column.name` (COALESCE order), when the mode uses it.
    pub timestamp_columns: Vec<String>,
    /// `timestamp.initial` in millis (-1: now), when set.
    pub timestamp_initial: Option<i64>,
    /// `validate.non.null`.
    pub validate_non_null: bool,
    /// `timestamp.delay.interval.ms`.
    pub delay_ms: i64,
    /// `poll.interval.ms`.
    pub poll_interval: Duration,
    /// `batch.max.rows`.
    pub batch_max_rows: usize,
    /// `table.whitelist` + `table.include.list`.
    pub include: Vec<String>,
    /// `table.blacklist` + `table.exclude.list`.
    pub exclude: Vec<String>,
    /// `table.types`, upper case.
    pub table_types: Vec<String>,
    /// `schema.pattern`.
    pub schema_pattern: Option<String>,
    /// `query`, when set.
    pub query: Option<String>,
    /// `topic.prefix`.
    pub topic_prefix: String,
    /// `quote.sql.identifiers=always`.
    pub quote: bool,
    /// `velocity.output.format`.
    pub format: OutputFormat,
    /// `velocity.hash.state.table`.
    pub hash_state_table: String,
    /// Tables assigned to this task (task configurations only).
    pub tables: Vec<String>,
}

fn err(key: &'static str, message: impl Into<String>) -> SourceError {
    SourceError::Config {
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

const MODES: &[&str] = &[
    "bulk",
    "incrementing",
    "timestamp",
    "timestamp+incrementing",
    "hash",
];

fn missing(key: &'static str) -> SourceError {
    err(
        key,
        format!("Missing required configuration \"{key}\" which has no default value."),
    )
}

fn valid_identifier_path(s: &str) -> bool {
    !s.is_empty()
        && s.split('.')
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
}

impl SourceConfig {
    /// Who connects where.
    pub fn login(&self) -> velocity_api::jdbc::Login<'_> {
        velocity_api::jdbc::Login {
            url: &self.url,
            user: &self.user,
            user_key: CONNECTION_USER,
            password: &self.password,
        }
    }

    /// Parses and checks `config`; the first problem is returned.
    pub fn from_raw(config: &RawConfig) -> Result<SourceConfig, SourceError> {
        let def = config_def();
        if let Some((key, message)) = Self::validate(config).into_iter().next() {
            // every key reported is one of the ConfigDef's
            let key = def.key(&key).map_or(MODE, |k| k.name);
            return Err(err(key, message));
        }
        Self::build(config)
    }

    /// Every problem in `config` as `(dotted key, message)`, one per broken
    /// rule: the [`config_def`] checks (required keys, types, allowed
    /// values) and then [`SourceConfig::validate_extra`]. Empty when valid.
    /// Never contacts the database.
    pub fn validate(config: &RawConfig) -> Vec<(String, String)> {
        let mut out = config_def().validate(config);
        out.extend(Self::validate_extra(config));
        out
    }

    /// The rules beyond [`config_def`] (URL form, keys the mode needs,
    /// ranges, conflicting keys, topic prefix characters, time zone),
    /// as the connector's `validate` reports them.
    /// Every message names its key.
    pub fn validate_extra(config: &RawConfig) -> Vec<(String, String)> {
        Self::check(config)
            .into_iter()
            .filter_map(|e| match e {
                SourceError::Config { key, message } if message.contains(key) => {
                    Some((key.to_owned(), message))
                }
                SourceError::Config { key, message } => Some((
                    key.to_owned(),
                    format!("Invalid value for configuration {key}: {message}"),
                )),
                _ => None,
            })
            .collect()
    }

    fn check(config: &RawConfig) -> Vec<SourceError> {
        let mut errs = Vec::new();
        match config.opt_str(CONNECTION_URL) {
            None if config.contains_key(CONNECTION_URL) => errs.push(missing(CONNECTION_URL)),
            None => {}
            Some(u) => {
                if let Err(m) = velocity_api::jdbc::parse_url(u) {
                    errs.push(err(CONNECTION_URL, m));
                }
            }
        }
        if config.opt_str(CONNECTION_USER).is_none() && config.contains_key(CONNECTION_USER) {
            errs.push(missing(CONNECTION_USER));
        }
        // absent or unknown modes are reported by the ConfigDef
        let mode = config.enum_or(MODE, "", MODES).ok();
        let inc = config.opt_str(INCREMENTING_COLUMN);
        let ts = config.list(TIMESTAMP_COLUMN);
        let query = config.opt_str(QUERY);
        if let Some(mode) = mode.as_deref() {
            if matches!(mode, "incrementing" | "timestamp+incrementing") && inc.is_none() {
                errs.push(err(
                    INCREMENTING_COLUMN,
                    format!("mode={mode} needs {INCREMENTING_COLUMN}: name the strictly incrementing (e.g. auto-increment id) column"),
                ));
            }
            if matches!(mode, "timestamp" | "timestamp+incrementing") && ts.is_empty() {
                errs.push(err(
                    TIMESTAMP_COLUMN,
                    format!("mode={mode} needs {TIMESTAMP_COLUMN}: name the timestamp column(s) updated on every write"),
                ));
            }
            if mode == "hash" && query.is_some() {
                errs.push(err(
                    QUERY,
                    format!("mode=hash diffs tables by primary key and cannot poll a custom query: remove {QUERY} and list the tables in {TABLE_INCLUDE}"),
                ));
            }
        }
        for (key, min) in [
            (CONNECTION_ATTEMPTS, 1),
            (CONNECTION_BACKOFF_MS, 0),
            (POLL_INTERVAL, 1),
            (BATCH_MAX_ROWS, 1),
            (TIMESTAMP_DELAY, 0),
            (TABLE_POLL_INTERVAL, 0),
        ] {
            // non-numbers are reported by the ConfigDef
            let parses = config
                .opt_str(key)
                .is_some_and(|v| v.parse::<i64>().is_ok());
            if parses {
                if let Err(e) = config.int_or(key, min, min, i64::from(i32::MAX)) {
                    errs.push(err(key, message_of(e)));
                }
            }
        }
        if config
            .opt_str(TIMESTAMP_INITIAL)
            .is_some_and(|v| v.parse::<i64>().is_ok_and(|n| n < -1))
        {
            errs.push(err(
                TIMESTAMP_INITIAL,
                "Value must be -1 (now) or epoch milliseconds",
            ));
        }
        let include =
            !config.list(TABLE_WHITELIST).is_empty() || !config.list(TABLE_INCLUDE).is_empty();
        let exclude =
            !config.list(TABLE_BLACKLIST).is_empty() || !config.list(TABLE_EXCLUDE).is_empty();
        if include && exclude {
            errs.push(err(
                TABLE_EXCLUDE,
                format!("{TABLE_INCLUDE} ({TABLE_WHITELIST}) and {TABLE_EXCLUDE} ({TABLE_BLACKLIST}) cannot both be set: keep one of them"),
            ));
        }
        if query.is_some() && (include || exclude) {
            errs.push(err(
                QUERY,
                format!("{QUERY} replaces table copying: remove {TABLE_INCLUDE}/{TABLE_EXCLUDE} (and their older names) or the query"),
            ));
        }
        for t in config.list(TABLE_TYPES) {
            if !matches!(t.to_ascii_uppercase().as_str(), "TABLE" | "VIEW") {
                errs.push(err(
                    TABLE_TYPES,
                    format!("table type '{t}' is not supported: use TABLE and/or VIEW"),
                ));
                break;
            }
        }
        let bad_prefix = |p: &str| {
            p.len() > 249
                || !p
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        };
        match config.opt_str(TOPIC_PREFIX) {
            None if config.contains_key(TOPIC_PREFIX) => errs.push(missing(TOPIC_PREFIX)),
            Some(p) if bad_prefix(p) => errs.push(err(
                TOPIC_PREFIX,
                format!("'{p}' is not a valid topic prefix: use at most 249 ASCII letters, digits, '.', '_' and '-'"),
            )),
            _ => {}
        }
        let tz = config.str_or(DB_TIMEZONE, "UTC");
        if !matches!(
            tz.to_ascii_uppercase().as_str(),
            "UTC" | "Z" | "GMT" | "ETC/UTC" | "UCT"
        ) {
            errs.push(err(
                DB_TIMEZONE,
                format!("time zone '{tz}' is not supported: Velocity reads timestamps without zone as UTC; set {DB_TIMEZONE}=UTC"),
            ));
        }
        let state = config.str_or(HASH_STATE_TABLE, DEFAULT_HASH_STATE_TABLE);
        if !valid_identifier_path(state) {
            errs.push(err(
                HASH_STATE_TABLE,
                format!("'{state}' is not a table name: use letters, digits and '_' (optionally schema.table)"),
            ));
        }
        errs
    }

    fn build(config: &RawConfig) -> Result<SourceConfig, SourceError> {
        let e = |key: &'static str| move |x| err(key, message_of(x));
        let int = |key: &'static str, default: i64, min: i64| {
            config
                .int_or(key, default, min, i64::from(i32::MAX))
                .map_err(e(key))
        };
        let mode = match config.enum_or(MODE, "", MODES).map_err(e(MODE))?.as_str() {
            "bulk" => Mode::Bulk,
            "incrementing" => Mode::Incrementing,
            "timestamp" => Mode::Timestamp,
            "timestamp+incrementing" => Mode::TimestampIncrementing,
            _ => Mode::Hash,
        };
        let mut include = config.list(TABLE_WHITELIST);
        include.extend(config.list(TABLE_INCLUDE));
        let mut exclude = config.list(TABLE_BLACKLIST);
        exclude.extend(config.list(TABLE_EXCLUDE));
        let mut table_types: Vec<String> = config
            .list(TABLE_TYPES)
            .iter()
            .map(|t| t.to_ascii_uppercase())
            .collect();
        if table_types.is_empty() {
            table_types.push("TABLE".into());
        }
        Ok(SourceConfig {
            url: velocity_api::jdbc::parse_url(
                config.req_str(CONNECTION_URL).map_err(e(CONNECTION_URL))?,
            )
            .map_err(|m| err(CONNECTION_URL, m))?,
            user: config
                .req_str(CONNECTION_USER)
                .map_err(e(CONNECTION_USER))?
                .to_owned(),
            password: Secret::new(config.get(CONNECTION_PASSWORD).cloned().unwrap_or_default()),
            attempts: int(CONNECTION_ATTEMPTS, 3, 1)? as u32,
            backoff: Duration::from_millis(int(CONNECTION_BACKOFF_MS, 10_000, 0)? as u64),
            mode,
            incrementing_column: mode
                .uses_incrementing()
                .then(|| config.opt_str(INCREMENTING_COLUMN).map(str::to_owned))
                .flatten(),
            timestamp_columns: if mode.uses_timestamp() {
                config.list(TIMESTAMP_COLUMN)
            } else {
                Vec::new()
            },
            timestamp_initial: match config.opt_str(TIMESTAMP_INITIAL) {
                None => None,
                Some(_) => Some(
                    config
                        .int_or(TIMESTAMP_INITIAL, -1, -1, i64::MAX)
                        .map_err(e(TIMESTAMP_INITIAL))?,
                ),
            },
            validate_non_null: config
                .bool_or(VALIDATE_NON_NULL, true)
                .map_err(e(VALIDATE_NON_NULL))?,
            delay_ms: int(TIMESTAMP_DELAY, 0, 0)?,
            poll_interval: Duration::from_millis(int(POLL_INTERVAL, 5000, 1)? as u64),
            batch_max_rows: int(BATCH_MAX_ROWS, 100, 1)? as usize,
            include,
            exclude,
            table_types,
            schema_pattern: config.opt_str(SCHEMA_PATTERN).map(str::to_owned),
            query: config.opt_str(QUERY).map(str::to_owned),
            topic_prefix: config
                .req_str(TOPIC_PREFIX)
                .map_err(e(TOPIC_PREFIX))?
                .to_owned(),
            quote: config
                .enum_or(QUOTE_IDENTIFIERS, "always", &["always", "never"])
                .map_err(e(QUOTE_IDENTIFIERS))?
                == "always",
            format: match config
                .enum_or(OUTPUT_FORMAT, "connect", &["connect", "debezium"])
                .map_err(e(OUTPUT_FORMAT))?
                .as_str()
            {
                "debezium" => OutputFormat::Debezium,
                _ => OutputFormat::Connect,
            },
            hash_state_table: config
                .str_or(HASH_STATE_TABLE, DEFAULT_HASH_STATE_TABLE)
                .to_owned(),
            tables: config
                .opt_str(TASK_TABLES)
                .map(|t| {
                    t.split(';')
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
        })
    }

    /// True when `fqn` (with its `schema.table` and `table` forms) passes
    /// the include and exclude lists.
    pub fn table_selected(&self, names: &[&str]) -> bool {
        let hit = |list: &[String]| list.iter().any(|e| names.contains(&e.as_str()));
        if !self.include.is_empty() {
            return hit(&self.include);
        }
        !hit(&self.exclude)
    }
}

/// The keys of the JDBC source (`tasks.max`, converters and transforms
/// belong to the runtime).
pub fn config_def() -> ConfigDef {
    use ConfigType as T;
    use Importance as I;
    ConfigDef::new(vec![
        ConfigKey::new(CONNECTION_URL, T::String, None, I::High, "JDBC connection URL: jdbc:postgresql://host:port/db, jdbc:mariadb://host:port/db or jdbc:mysql://host:port/db."),
        ConfigKey::new(CONNECTION_USER, T::String, None, I::High, "Database user."),
        ConfigKey::new(CONNECTION_PASSWORD, T::Password, Some(""), I::High, "Database password."),
        ConfigKey::new(CONNECTION_ATTEMPTS, T::Int, Some("3"), I::Low, "Connection attempts before the task fails (retriably)."),
        ConfigKey::new(CONNECTION_BACKOFF_MS, T::Long, Some("10000"), I::Low, "Wait between connection attempts, in milliseconds."),
        ConfigKey::new(MODE, T::String, None, I::High, "bulk, incrementing, timestamp, timestamp+incrementing, or Velocity's hash (diff by primary key: creates, updates and deletes).").one_of(MODES),
        ConfigKey::new(INCREMENTING_COLUMN, T::String, Some(""), I::Medium, "The strictly incrementing column (incrementing and timestamp+incrementing modes)."),
        ConfigKey::new(TIMESTAMP_COLUMN, T::List, Some(""), I::Medium, "Timestamp column(s), combined with COALESCE (timestamp modes)."),
        ConfigKey::new(TIMESTAMP_INITIAL, T::Long, Some(""), I::Low, "Epoch milliseconds to start from when there is no stored offset; -1 for now. Default: everything."),
        ConfigKey::new(VALIDATE_NON_NULL, T::Boolean, Some("true"), I::Low, "Fail when the incrementing or timestamp column is nullable."),
        ConfigKey::new(TIMESTAMP_DELAY, T::Long, Some("0"), I::High, "Only rows whose timestamp is older than now minus this are read, so transactions committed late are not missed."),
        ConfigKey::new(POLL_INTERVAL, T::Int, Some("5000"), I::High, "How often each table is polled, in milliseconds."),
        ConfigKey::new(BATCH_MAX_ROWS, T::Int, Some("100"), I::Low, "Most rows read per query; a full batch polls the table again at once."),
        ConfigKey::new(TABLE_WHITELIST, T::List, Some(""), I::Medium, "Tables to copy (table, schema.table or db.schema.table); older name of table.include.list."),
        ConfigKey::new(TABLE_INCLUDE, T::List, Some(""), I::Medium, "Tables to copy (table, schema.table or db.schema.table)."),
        ConfigKey::new(TABLE_BLACKLIST, T::List, Some(""), I::Medium, "Tables not to copy; older name of table.exclude.list."),
        ConfigKey::new(TABLE_EXCLUDE, T::List, Some(""), I::Medium, "Tables not to copy."),
        ConfigKey::new(TABLE_TYPES, T::List, Some("TABLE"), I::Low, "TABLE and/or VIEW."),
        ConfigKey::new(SCHEMA_PATTERN, T::String, Some(""), I::Medium, "PostgreSQL: the schema to list tables from (default: every non-system schema)."),
        ConfigKey::new(TABLE_POLL_INTERVAL, T::Long, Some("60000"), I::Low, "Accepted for compatibility; tables are listed when the connector starts (restart it to pick up new tables)."),
        ConfigKey::new(QUERY, T::String, Some(""), I::Medium, "A custom query polled instead of tables; topic.prefix is then the full topic name."),
        ConfigKey::new(TOPIC_PREFIX, T::String, None, I::High, "Prefix of the table topics (prefix + table name), or the topic of query."),
        ConfigKey::new(DB_TIMEZONE, T::String, Some("UTC"), I::Medium, "Zone of timestamps without zone; only UTC is supported."),
        ConfigKey::new(QUOTE_IDENTIFIERS, T::String, Some("always"), I::Medium, "always or never quote table and column names.").one_of(&["always", "never"]),
        ConfigKey::new(OUTPUT_FORMAT, T::String, Some("connect"), I::Medium, "connect (Confluent's: value = row, key null) or debezium (key = primary key, value = Debezium envelope with before/after/source/op).").one_of(&["connect", "debezium"]),
        ConfigKey::new(HASH_STATE_TABLE, T::String, Some(DEFAULT_HASH_STATE_TABLE), I::Low, "hash mode: the table in the source database holding the last acknowledged hash of every row (created when missing)."),
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
            ("connection.url", "jdbc:postgresql://db:5433/src"),
            ("connection.user", "u"),
            ("connection.password", "s3cret"),
            ("mode", "bulk"),
            ("topic.prefix", "jdbc-"),
        ]
    }

    fn keys(extra: &[(&str, &str)], drop: &[&str]) -> Vec<String> {
        let mut p = base();
        p.retain(|(k, _)| !drop.contains(k));
        p.extend_from_slice(extra);
        SourceConfig::validate(&cfg(&p))
            .into_iter()
            .map(|(k, m)| {
                assert!(m.contains(&k), "the message names its key {k}: {m}");
                k
            })
            .collect()
    }

    #[test]
    fn confluent_defaults() {
        let c = SourceConfig::from_raw(&cfg(&base())).unwrap();
        assert_eq!(c.mode, Mode::Bulk);
        assert_eq!(c.poll_interval, Duration::from_millis(5000));
        assert_eq!(c.batch_max_rows, 100);
        assert_eq!(c.delay_ms, 0);
        assert_eq!(c.attempts, 3);
        assert_eq!(c.backoff, Duration::from_secs(10));
        assert!(c.validate_non_null && c.quote);
        assert_eq!(c.format, OutputFormat::Connect);
        assert_eq!(c.hash_state_table, DEFAULT_HASH_STATE_TABLE);
        assert_eq!(c.table_types, vec!["TABLE"]);
        assert_eq!(c.url.dialect, Dialect::Postgres);
        assert!(!format!("{c:?}").contains("s3cret"));
    }

    #[test]
    fn mode_dependencies_name_their_key() {
        assert!(keys(&[], &[]).is_empty());
        assert_eq!(
            keys(&[("mode", "incrementing")], &[]),
            vec![INCREMENTING_COLUMN]
        );
        assert_eq!(keys(&[("mode", "timestamp")], &[]), vec![TIMESTAMP_COLUMN]);
        assert_eq!(
            keys(&[("mode", "timestamp+incrementing")], &[]),
            vec![INCREMENTING_COLUMN, TIMESTAMP_COLUMN]
        );
        assert!(keys(
            &[
                ("mode", "timestamp+incrementing"),
                ("incrementing.column.name", "id"),
                ("timestamp.column.name", "updated_at, created_at"),
            ],
            &[]
        )
        .is_empty());
        assert_eq!(
            keys(&[("mode", "hash"), ("query", "SELECT 1")], &[]),
            vec![QUERY]
        );
        assert_eq!(keys(&[("mode", "upsert")], &[]), vec![MODE]);
        assert_eq!(keys(&[], &["mode"]), vec![MODE]);
        let msg = SourceConfig::validate(&cfg(&[("mode", "incrementing")]))
            .into_iter()
            .find(|(k, _)| k == INCREMENTING_COLUMN)
            .unwrap()
            .1;
        assert!(
            msg.contains(INCREMENTING_COLUMN) && msg.contains("incrementing"),
            "{msg}"
        );
    }

    #[test]
    fn every_rule_reported_once() {
        assert_eq!(
            keys(&[], &["connection.url", "connection.user", "topic.prefix"]),
            vec![CONNECTION_URL, CONNECTION_USER, TOPIC_PREFIX]
        );
        assert_eq!(
            keys(&[("connection.url", "jdbc:oracle:thin:@h:1/x")], &[]),
            vec![CONNECTION_URL]
        );
        assert_eq!(
            keys(&[("poll.interval.ms", "0"), ("batch.max.rows", "x")], &[]),
            vec![BATCH_MAX_ROWS, POLL_INTERVAL]
        );
        assert_eq!(
            keys(
                &[("table.whitelist", "a"), ("table.exclude.list", "b")],
                &[]
            ),
            vec![TABLE_EXCLUDE]
        );
        assert_eq!(
            keys(
                &[("query", "SELECT * FROM a"), ("table.include.list", "a")],
                &[]
            ),
            vec![QUERY]
        );
        assert_eq!(keys(&[("topic.prefix", "a b")], &[]), vec![TOPIC_PREFIX]);
        assert_eq!(
            keys(&[("db.timezone", "Europe/Paris")], &[]),
            vec![DB_TIMEZONE]
        );
        assert_eq!(
            keys(&[("velocity.output.format", "avro")], &[]),
            vec![OUTPUT_FORMAT]
        );
        assert_eq!(
            keys(&[("velocity.hash.state.table", "x;drop")], &[]),
            vec![HASH_STATE_TABLE]
        );
        assert_eq!(
            keys(&[("validate.non.null", "no")], &[]),
            vec![VALIDATE_NON_NULL]
        );
        assert_eq!(keys(&[("table.types", "SYNONYM")], &[]), vec![TABLE_TYPES]);
        assert_eq!(
            keys(&[("connection.attempts", "0")], &[]),
            vec![CONNECTION_ATTEMPTS]
        );
    }

    #[test]
    fn table_selection() {
        let mut c = SourceConfig::from_raw(&cfg(&base())).unwrap();
        let names = ["db.public.a", "public.a", "a"];
        assert!(c.table_selected(&names));
        c.exclude = vec!["public.a".into()];
        assert!(!c.table_selected(&names));
        c.exclude.clear();
        c.include = vec!["b".into()];
        assert!(!c.table_selected(&names));
        c.include.push("a".into());
        assert!(c.table_selected(&names));
    }
}
