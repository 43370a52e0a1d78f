//! Typed configuration of the JDBC source, read from the flat Kafka
//! Connect map through its declared keys ([`keys`]: the keys, defaults and
//! rules of Confluent's `io.confluent.connect.jdbc.JdbcSourceConnector`,
//! plus Velocity's own `hash` mode and `velocity.*` keys), whose list is the
//! [`ConfigDef`](velocity_api::ConfigDef) the REST API publishes.
//!
//! [`TypedConfig::validate`] reports every offending key once, each message
//! naming the key and the fix; [`TypedConfig::from_raw`] fails with all of
//! them. Neither contacts the database.

use std::time::Duration;

use velocity_api::config::{ConfigExt, ConfigReader, TypedConfig};
use velocity_api::jdbc::Connection;
use velocity_api::{config_choice, ConfigKey};

pub use keys::*;
pub use velocity_api::jdbc::{ConnectionUrl, Dialect, Secret};

/// Internal task key: the tables assigned to a task, `;`-separated fully
/// qualified names (Confluent's task key `tables`; not a user key).
pub const TASK_TABLES: &str = "tables";

/// Default of [`HASH_STATE_TABLE`].
pub const DEFAULT_HASH_STATE_TABLE: &str = "velocity_jdbc_source_hash_state";

/// The source's keys, each declared once (name, type, default, rule, docs);
/// `tasks.max`, converters and transforms belong to the runtime.
pub mod keys {
    use super::{
        check_hash_state_table, check_table_types, check_timestamp_initial, check_timezone,
        check_topic_prefix, Mode, OutputFormat, Quote, DEFAULT_HASH_STATE_TABLE,
    };
    use velocity_api::config::{ConfigKey, ConfigType::*, Importance::*};
    use velocity_api::jdbc::keys as jdbc;

    /// The largest value of the millisecond and count keys (Confluent's INT range).
    const MAX: i64 = i32::MAX as i64;

    velocity_api::config_keys! {
        /// `connection.url`: `jdbc:postgresql://host[:port]/db`, `jdbc:mariadb://…` or `jdbc:mysql://…`.
        CONNECTION_URL = jdbc::CONNECTION_URL;
        /// `connection.user`.
        CONNECTION_USER = jdbc::CONNECTION_USER;
        /// `connection.password` (a secret: never logged or shown).
        CONNECTION_PASSWORD = jdbc::CONNECTION_PASSWORD;
        /// `connection.attempts`: connection attempts before giving up (default 3).
        CONNECTION_ATTEMPTS = ConfigKey::new("connection.attempts", Int, Some("3"), Low, "Connection attempts before the task fails (retriably).").at_least(1);
        /// `connection.backoff.ms`: wait between connection attempts (default 10000).
        CONNECTION_BACKOFF_MS = ConfigKey::new("connection.backoff.ms", Long, Some("10000"), Low, "Wait between connection attempts, in milliseconds.").range(0, MAX);
        /// `mode`: `bulk`, `incrementing`, `timestamp`, `timestamp+incrementing` or `hash`.
        MODE = ConfigKey::new("mode", String, None, High, "bulk, incrementing, timestamp, timestamp+incrementing, or Velocity's hash (diff by primary key: creates, updates and deletes).").one_of(Mode::NAMES);
        /// `incrementing.column.name`: the strictly incrementing column.
        INCREMENTING_COLUMN = ConfigKey::new("incrementing.column.name", String, Some(""), Medium, "The strictly incrementing column (incrementing and timestamp+incrementing modes).");
        /// `timestamp.column.name`: timestamp columns, combined with COALESCE.
        TIMESTAMP_COLUMN = ConfigKey::new("timestamp.column.name", List, Some(""), Medium, "Timestamp column(s), combined with COALESCE (timestamp modes).");
        /// `timestamp.initial`: epoch millis to start from when there is no offset (-1: now).
        TIMESTAMP_INITIAL = ConfigKey::new("timestamp.initial", Long, Some(""), Low, "Epoch milliseconds to start from when there is no stored offset; -1 for now. Default: everything.").validate_with(check_timestamp_initial);
        /// `validate.non.null`: fail when an incrementing/timestamp column is nullable (default true).
        VALIDATE_NON_NULL = ConfigKey::new("validate.non.null", Boolean, Some("true"), Low, "Fail when the incrementing or timestamp column is nullable.");
        /// `timestamp.delay.interval.ms`: only rows older than now minus this are read (default 0).
        TIMESTAMP_DELAY = ConfigKey::new("timestamp.delay.interval.ms", Long, Some("0"), High, "Only rows whose timestamp is older than now minus this are read, so transactions committed late are not missed.").range(0, MAX);
        /// `poll.interval.ms`: how often each table is polled (default 5000).
        POLL_INTERVAL = ConfigKey::new("poll.interval.ms", Int, Some("5000"), High, "How often each table is polled, in milliseconds.").at_least(1);
        /// `batch.max.rows`: most rows read per query (default 100).
        BATCH_MAX_ROWS = ConfigKey::new("batch.max.rows", Int, Some("100"), Low, "Most rows read per query; a full batch polls the table again at once.").at_least(1);
        /// `table.whitelist`: tables to copy (Confluent's older name of `table.include.list`).
        TABLE_WHITELIST = ConfigKey::new("table.whitelist", List, Some(""), Medium, "Tables to copy (table, schema.table or db.schema.table); older name of table.include.list.");
        /// `table.include.list`: tables to copy.
        TABLE_INCLUDE = ConfigKey::new("table.include.list", List, Some(""), Medium, "Tables to copy (table, schema.table or db.schema.table).");
        /// `table.blacklist`: tables not to copy (older name of `table.exclude.list`).
        TABLE_BLACKLIST = ConfigKey::new("table.blacklist", List, Some(""), Medium, "Tables not to copy; older name of table.exclude.list.");
        /// `table.exclude.list`: tables not to copy.
        TABLE_EXCLUDE = ConfigKey::new("table.exclude.list", List, Some(""), Medium, "Tables not to copy.");
        /// `table.types`: `TABLE` (default) and/or `VIEW`.
        TABLE_TYPES = ConfigKey::new("table.types", List, Some("TABLE"), Low, "TABLE and/or VIEW.").validate_with(check_table_types);
        /// `schema.pattern`: PostgreSQL schema to list tables from (default: every non-system schema).
        SCHEMA_PATTERN = ConfigKey::new("schema.pattern", String, Some(""), Medium, "PostgreSQL: the schema to list tables from (default: every non-system schema).");
        /// `table.poll.interval.ms`: accepted for compatibility; tables are listed when the connector starts.
        TABLE_POLL_INTERVAL = ConfigKey::new("table.poll.interval.ms", Long, Some("60000"), Low, "Accepted for compatibility; tables are listed when the connector starts (restart it to pick up new tables).").range(0, MAX);
        /// `query`: one custom query instead of tables; `topic.prefix` is then the topic.
        QUERY = ConfigKey::new("query", String, Some(""), Medium, "A custom query polled instead of tables; topic.prefix is then the full topic name.");
        /// `topic.prefix`: prefix of the table topics, or the topic of `query`.
        TOPIC_PREFIX = ConfigKey::new("topic.prefix", String, None, High, "Prefix of the table topics (prefix + table name), or the topic of query.").validate_with(check_topic_prefix);
        /// `db.timezone`: zone of timestamps without zone (only UTC is supported).
        DB_TIMEZONE = ConfigKey::new("db.timezone", String, Some("UTC"), Medium, "Zone of timestamps without zone; only UTC is supported.").validate_with(check_timezone);
        /// `quote.sql.identifiers`: `always` (default) or `never`.
        QUOTE_IDENTIFIERS = ConfigKey::new("quote.sql.identifiers", String, Some("always"), Medium, "always or never quote table and column names.").one_of(Quote::NAMES);
        /// `velocity.output.format`: `connect` (Confluent's plain row, default) or `debezium`.
        OUTPUT_FORMAT = ConfigKey::new("velocity.output.format", String, Some("connect"), Medium, "connect (Confluent's: value = row, key null) or debezium (key = primary key, value = Debezium envelope with before/after/source/op).").one_of(OutputFormat::NAMES);
        /// `velocity.hash.state.table`: where `hash` mode keeps its per-row state.
        HASH_STATE_TABLE = ConfigKey::new("velocity.hash.state.table", String, Some(DEFAULT_HASH_STATE_TABLE), Low, "hash mode: the table in the source database holding the last acknowledged hash of every row (created when missing).").validate_with(check_hash_state_table);
    }
}

config_choice! {
    /// How a table is polled (Confluent's `mode`, plus `hash`).
    pub enum Mode {
        /// The whole table every poll.
        Bulk = "bulk",
        /// Rows whose incrementing column is above the offset.
        Incrementing = "incrementing",
        /// Rows whose timestamp is above the offset and below now minus the delay.
        Timestamp = "timestamp",
        /// Timestamp, with the incrementing column breaking ties.
        TimestampIncrementing = "timestamp+incrementing",
        /// The whole table every poll, diffed by primary key against the last
        /// acknowledged state: creates, updates and deletes.
        Hash = "hash",
    }
}

impl Mode {
    /// True when the mode reads an incrementing column.
    pub fn uses_incrementing(self) -> bool {
        matches!(self, Mode::Incrementing | Mode::TimestampIncrementing)
    }

    /// True when the mode reads timestamp columns.
    pub fn uses_timestamp(self) -> bool {
        matches!(self, Mode::Timestamp | Mode::TimestampIncrementing)
    }
}

config_choice! {
    /// The shape of the records (`velocity.output.format`).
    pub enum OutputFormat {
        /// Confluent's: value = the row struct, key null.
        Connect = "connect",
        /// Debezium change events: key = primary key struct, value = envelope.
        Debezium = "debezium",
    }
}

config_choice! {
    /// Whether table and column names are quoted (`quote.sql.identifiers`).
    pub enum Quote {
        /// Always quote.
        Always = "always",
        /// Never quote.
        Never = "never",
    }
}

/// Configuration of the JDBC source connector and its tasks.
#[derive(Debug, Clone)]
pub struct SourceConfig {
    /// Where to read, and as whom (`connection.url`, `connection.user`,
    /// `connection.password`).
    pub connection: Connection,
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

impl TypedConfig for SourceConfig {
    const KEYS: &'static [ConfigKey] = KEYS;

    fn read(r: &mut ConfigReader<'_>) -> SourceConfig {
        let connection =
            Connection::read(r, &CONNECTION_URL, &CONNECTION_USER, &CONNECTION_PASSWORD);
        let mode: Mode = r.choice(&MODE);
        let incrementing_column = r.opt_string(&INCREMENTING_COLUMN);
        let timestamp_columns = r.list(&TIMESTAMP_COLUMN);
        let query = r.opt_string(&QUERY);
        if r.is_set(&MODE) && !r.has_error(MODE.name) {
            if mode.uses_incrementing() && incrementing_column.is_none() {
                r.fail(
                    INCREMENTING_COLUMN.name,
                    format!("mode={mode} needs {}: name the strictly incrementing (e.g. auto-increment id) column", INCREMENTING_COLUMN.name),
                );
            }
            if mode.uses_timestamp() && timestamp_columns.is_empty() {
                r.fail(
                    TIMESTAMP_COLUMN.name,
                    format!(
                        "mode={mode} needs {}: name the timestamp column(s) updated on every write",
                        TIMESTAMP_COLUMN.name
                    ),
                );
            }
            if mode == Mode::Hash && query.is_some() {
                r.fail(
                    QUERY.name,
                    format!("mode=hash diffs tables by primary key and cannot poll a custom query: remove {} and list the tables in {}", QUERY.name, TABLE_INCLUDE.name),
                );
            }
        }
        let mut include = r.list(&TABLE_WHITELIST);
        include.extend(r.list(&TABLE_INCLUDE));
        let mut exclude = r.list(&TABLE_BLACKLIST);
        exclude.extend(r.list(&TABLE_EXCLUDE));
        if !include.is_empty() && !exclude.is_empty() {
            r.fail(
                TABLE_EXCLUDE.name,
                format!(
                    "{} ({}) and {} ({}) cannot both be set: keep one of them",
                    TABLE_INCLUDE.name,
                    TABLE_WHITELIST.name,
                    TABLE_EXCLUDE.name,
                    TABLE_BLACKLIST.name
                ),
            );
        }
        if query.is_some() && !(include.is_empty() && exclude.is_empty()) {
            r.fail(
                QUERY.name,
                format!(
                    "{} replaces table copying: remove {}/{} (and their older names) or the query",
                    QUERY.name, TABLE_INCLUDE.name, TABLE_EXCLUDE.name
                ),
            );
        }
        let mut table_types: Vec<String> = r
            .list(&TABLE_TYPES)
            .iter()
            .map(|t| t.to_ascii_uppercase())
            .collect();
        if table_types.is_empty() {
            table_types.push("TABLE".into());
        }
        SourceConfig {
            connection,
            attempts: r.int(&CONNECTION_ATTEMPTS),
            backoff: r.millis(&CONNECTION_BACKOFF_MS),
            mode,
            incrementing_column: incrementing_column.filter(|_| mode.uses_incrementing()),
            timestamp_columns: if mode.uses_timestamp() {
                timestamp_columns
            } else {
                Vec::new()
            },
            timestamp_initial: if r.is_set(&TIMESTAMP_INITIAL) {
                Some(r.int(&TIMESTAMP_INITIAL))
            } else {
                None
            },
            validate_non_null: r.bool(&VALIDATE_NON_NULL),
            delay_ms: r.int(&TIMESTAMP_DELAY),
            poll_interval: r.millis(&POLL_INTERVAL),
            batch_max_rows: r.int(&BATCH_MAX_ROWS),
            include,
            exclude,
            table_types,
            schema_pattern: r.opt_string(&SCHEMA_PATTERN),
            query,
            topic_prefix: r.string(&TOPIC_PREFIX),
            quote: r.choice::<Quote>(&QUOTE_IDENTIFIERS) == Quote::Always,
            format: r.choice(&OUTPUT_FORMAT),
            hash_state_table: r.string(&HASH_STATE_TABLE),
            tables: r
                .raw()
                .opt_str(TASK_TABLES)
                .map(|t| {
                    t.split(';')
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
        }
    }
}

impl SourceConfig {
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

/// Checks `timestamp.initial`: -1 (now) or epoch milliseconds.
fn check_timestamp_initial(v: &str) -> Result<(), String> {
    match v.parse::<i64>() {
        Ok(n) if n < -1 => Err("Value must be -1 (now) or epoch milliseconds".into()),
        _ => Ok(()),
    }
}

/// Checks `table.types`: each of TABLE and VIEW (any case).
fn check_table_types(v: &str) -> Result<(), String> {
    for t in v.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        if !matches!(t.to_ascii_uppercase().as_str(), "TABLE" | "VIEW") {
            return Err(format!(
                "table type '{t}' is not supported: use TABLE and/or VIEW"
            ));
        }
    }
    Ok(())
}

/// Checks `topic.prefix`: at most 249 ASCII letters, digits, '.', '_' and '-'.
fn check_topic_prefix(p: &str) -> Result<(), String> {
    let bad = p.len() > 249
        || !p
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if bad {
        Err(format!("'{p}' is not a valid topic prefix: use at most 249 ASCII letters, digits, '.', '_' and '-'"))
    } else {
        Ok(())
    }
}

/// Checks `db.timezone`: Velocity reads timestamps without zone as UTC only.
fn check_timezone(tz: &str) -> Result<(), String> {
    if matches!(
        tz.to_ascii_uppercase().as_str(),
        "UTC" | "Z" | "GMT" | "ETC/UTC" | "UCT"
    ) {
        Ok(())
    } else {
        Err(format!("time zone '{tz}' is not supported: Velocity reads timestamps without zone as UTC; set db.timezone=UTC"))
    }
}

/// Checks `velocity.hash.state.table`: `table` or `schema.table` of
/// letters, digits and '_'.
fn check_hash_state_table(s: &str) -> Result<(), String> {
    let valid = !s.is_empty()
        && s.split('.')
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
    if valid {
        Ok(())
    } else {
        Err(format!(
            "'{s}' is not a table name: use letters, digits and '_' (optionally schema.table)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use velocity_api::config::raw_config as cfg;

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
        assert_eq!(c.connection.url.dialect, Dialect::Postgres);
        assert!(!format!("{c:?}").contains("s3cret"));
    }

    #[test]
    fn mode_dependencies_name_their_key() {
        assert!(keys(&[], &[]).is_empty());
        assert_eq!(
            keys(&[("mode", "incrementing")], &[]),
            vec![INCREMENTING_COLUMN.name]
        );
        assert_eq!(
            keys(&[("mode", "timestamp")], &[]),
            vec![TIMESTAMP_COLUMN.name]
        );
        assert_eq!(
            keys(&[("mode", "timestamp+incrementing")], &[]),
            vec![INCREMENTING_COLUMN.name, TIMESTAMP_COLUMN.name]
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
            vec![QUERY.name]
        );
        assert_eq!(keys(&[("mode", "upsert")], &[]), vec![MODE.name]);
        assert_eq!(keys(&[], &["mode"]), vec![MODE.name]);
        let msg = SourceConfig::validate(&cfg(&[("mode", "incrementing")]))
            .into_iter()
            .find(|(k, _)| k == INCREMENTING_COLUMN.name)
            .unwrap()
            .1;
        assert!(
            msg.contains(INCREMENTING_COLUMN.name) && msg.contains("incrementing"),
            "{msg}"
        );
    }

    #[test]
    fn every_rule_reported_once() {
        assert_eq!(
            keys(&[], &["connection.url", "connection.user", "topic.prefix"]),
            vec![CONNECTION_URL.name, CONNECTION_USER.name, TOPIC_PREFIX.name]
        );
        assert_eq!(
            keys(&[("connection.url", "jdbc:oracle:thin:@h:1/x")], &[]),
            vec![CONNECTION_URL.name]
        );
        assert_eq!(
            keys(&[("poll.interval.ms", "0"), ("batch.max.rows", "x")], &[]),
            vec![POLL_INTERVAL.name, BATCH_MAX_ROWS.name]
        );
        assert_eq!(
            keys(
                &[("table.whitelist", "a"), ("table.exclude.list", "b")],
                &[]
            ),
            vec![TABLE_EXCLUDE.name]
        );
        assert_eq!(
            keys(
                &[("query", "SELECT * FROM a"), ("table.include.list", "a")],
                &[]
            ),
            vec![QUERY.name]
        );
        assert_eq!(
            keys(&[("topic.prefix", "a b")], &[]),
            vec![TOPIC_PREFIX.name]
        );
        assert_eq!(
            keys(&[("db.timezone", "Europe/Paris")], &[]),
            vec![DB_TIMEZONE.name]
        );
        assert_eq!(
            keys(&[("velocity.output.format", "avro")], &[]),
            vec![OUTPUT_FORMAT.name]
        );
        assert_eq!(
            keys(&[("velocity.hash.state.table", "x;drop")], &[]),
            vec![HASH_STATE_TABLE.name]
        );
        assert_eq!(
            keys(&[("validate.non.null", "no")], &[]),
            vec![VALIDATE_NON_NULL.name]
        );
        assert_eq!(
            keys(&[("table.types", "SYNONYM")], &[]),
            vec![TABLE_TYPES.name]
        );
        assert_eq!(
            keys(&[("connection.attempts", "0")], &[]),
            vec![CONNECTION_ATTEMPTS.name]
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
