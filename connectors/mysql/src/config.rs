//! Connector configuration: Debezium's MySQL / MariaDB keys and defaults,
//! parsed from the Kafka Connect flat string map.
//!
//! [`MySqlConfig::parse`] collects every problem at once (for the REST
//! validate endpoint) as `(dotted key, rule)` pairs. Unknown keys are ignored.
//! The password is kept out of `Debug` output.

use std::fmt;
use std::time::Duration;

use regex::Regex;
use velocity_api::config::{ConfigExt, ConfigKey, ConfigType, Importance};
use velocity_api::{ConfigDef, RawConfig};

/// Which server family the connector is configured for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// `io.debezium.connector.mysql.MySqlConnector` (MySQL 5.7 / 8.x).
    MySql,
    /// `io.debezium.connector.mariadb.MariaDbConnector`.
    MariaDb,
}

impl Flavor {
    /// The flavor named by `connector.class` (anything mentioning MariaDB is
    /// the MariaDB connector; everything else is MySQL).
    pub fn from_class(class: &str) -> Flavor {
        if class.to_ascii_lowercase().contains("mariadb") {
            Flavor::MariaDb
        } else {
            Flavor::MySql
        }
    }

    /// `source.connector`: `mysql` or `mariadb`.
    pub fn connector_name(self) -> &'static str {
        match self {
            Flavor::MySql => "mysql",
            Flavor::MariaDb => "mariadb",
        }
    }

    /// The name of the `source` block schema.
    pub fn source_schema_name(self) -> &'static str {
        match self {
            Flavor::MySql => "io.debezium.connector.mysql.Source",
            Flavor::MariaDb => "io.debezium.connector.mariadb.Source",
        }
    }

    /// The schema-change value / key namespace.
    pub fn namespace(self) -> &'static str {
        match self {
            Flavor::MySql => "io.debezium.connector.mysql",
            Flavor::MariaDb => "io.debezium.connector.mariadb",
        }
    }
}

/// `snapshot.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotMode {
    /// Snapshot when there is no stored offset, then stream.
    Initial,
    /// Snapshot when there is no stored offset, then stop.
    InitialOnly,
    /// Schema only, no data (`no_data`, formerly `schema_only`).
    NoData,
    /// Never snapshot; stream from the stored or current position.
    Never,
    /// Snapshot when there is no offset or the stored binlog file is gone.
    WhenNeeded,
    /// Rebuild the schema history from the current schema (`recovery`,
    /// formerly `schema_only_recovery`); no data.
    Recovery,
}

impl SnapshotMode {
    /// True when this mode reads table data.
    pub fn reads_data(self) -> bool {
        matches!(
            self,
            SnapshotMode::Initial | SnapshotMode::InitialOnly | SnapshotMode::WhenNeeded
        )
    }
}

/// `snapshot.locking.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockingMode {
    /// Global read lock only while the binlog position and schema are read.
    Minimal,
    /// No lock at all (safe only when no DDL runs during the snapshot).
    None,
}

/// `decimal.handling.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecimalMode {
    /// Kafka Connect Decimal (bytes + scale).
    Precise,
    /// float64.
    Double,
    /// The decimal text.
    String,
}

/// `bigint.unsigned.handling.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BigintUnsignedMode {
    /// int64 (values above i64::MAX wrap, as in Debezium).
    Long,
    /// Kafka Connect Decimal with scale 0.
    Precise,
}

/// `time.precision.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimePrecisionMode {
    /// Debezium's default for MySQL: TIME as MicroTime, DATETIME by precision.
    AdaptiveTimeMicroseconds,
    /// Kafka Connect's Date / Time / Timestamp (millisecond precision).
    Connect,
}

/// Include/exclude lists: comma-separated regular expressions matched
/// against the whole identifier, case-insensitively (as Debezium does).
#[derive(Debug, Clone, Default)]
pub struct Filters {
    db_include: Vec<Regex>,
    db_exclude: Vec<Regex>,
    table_include: Vec<Regex>,
    table_exclude: Vec<Regex>,
    column_include: Vec<Regex>,
    column_exclude: Vec<Regex>,
}

/// Databases never captured (MySQL's own).
pub const SYSTEM_DATABASES: &[&str] = &["mysql", "sys", "information_schema", "performance_schema"];

impl Filters {
    /// True when database `db` may hold captured tables.
    pub fn database(&self, db: &str) -> bool {
        if SYSTEM_DATABASES.iter().any(|s| s.eq_ignore_ascii_case(db)) {
            return false;
        }
        let any = |rs: &[Regex], s: &str| rs.iter().any(|r| r.is_match(s));
        if !self.db_include.is_empty() && !any(&self.db_include, db) {
            return false;
        }
        !any(&self.db_exclude, db)
    }

    /// True when `db.table` is captured.
    pub fn table(&self, db: &str, table: &str) -> bool {
        if !self.database(db) {
            return false;
        }
        let full = format!("{db}.{table}");
        let any = |rs: &[Regex], s: &str| rs.iter().any(|r| r.is_match(s));
        if !self.table_include.is_empty() && !any(&self.table_include, &full) {
            return false;
        }
        !any(&self.table_exclude, &full)
    }

    /// True when column `db.table.column` is captured.
    pub fn column(&self, db: &str, table: &str, column: &str) -> bool {
        let full = format!("{db}.{table}.{column}");
        if !self.column_include.is_empty() {
            return self.column_include.iter().any(|r| r.is_match(&full));
        }
        !self.column_exclude.iter().any(|r| r.is_match(&full))
    }
}

/// Typed connector configuration.
#[derive(Clone)]
pub struct MySqlConfig {
    /// MySQL or MariaDB connector.
    pub flavor: Flavor,
    /// `database.hostname`.
    pub host: String,
    /// `database.port` (default 3306).
    pub port: u16,
    /// `database.user`.
    pub user: String,
    /// `database.password` (never printed).
    pub password: String,
    /// `database.server.id`: the replica id this connector registers with.
    pub server_id: u32,
    /// `topic.prefix`: topic prefix and `source.name`.
    pub topic_prefix: String,
    /// Database / table / column filters.
    pub filters: Filters,
    /// `snapshot.mode` (default `initial`).
    pub snapshot_mode: SnapshotMode,
    /// `snapshot.locking.mode` (default `minimal`).
    pub locking_mode: LockingMode,
    /// `include.schema.changes` (default true).
    pub include_schema_changes: bool,
    /// `include.query` (default false).
    pub include_query: bool,
    /// `connect.keep.alive` (default true): a binlog connection the server
    /// closes (restart, `KILL`, network) is a retriable error, so the
    /// runtime reconnects from the last stored offset; false fails the task.
    pub keep_alive: bool,
    /// `tombstones.on.delete` (default true).
    pub tombstones_on_delete: bool,
    /// `decimal.handling.mode` (default `precise`).
    pub decimal_mode: DecimalMode,
    /// `time.precision.mode` (default `adaptive_time_microseconds`).
    pub time_precision_mode: TimePrecisionMode,
    /// `bigint.unsigned.handling.mode` (default `long`).
    pub bigint_unsigned_mode: BigintUnsignedMode,
    /// `schema.history.internal.kafka.topic`.
    pub history_topic: Option<String>,
    /// `schema.history.internal.kafka.bootstrap.servers`.
    pub history_bootstrap: Option<String>,
    /// `schema.history.internal.producer.*`: librdkafka settings of the
    /// history producer (Debezium's pass-through, e.g.
    /// `schema.history.internal.producer.security.protocol=ssl`).
    pub history_producer: Vec<(String, String)>,
    /// `schema.history.internal.consumer.*`: settings of the history
    /// consumer and admin client.
    pub history_consumer: Vec<(String, String)>,
    /// `max.batch.size` (default 2048).
    pub max_batch_size: usize,
    /// `max.queue.size` (default 8192).
    pub max_queue_size: usize,
    /// `poll.interval.ms` (default 500).
    pub poll_interval: Duration,
    /// `provide.transaction.metadata` (default false).
    pub provide_transaction_metadata: bool,
    /// `topic.transaction` (default `transaction`): suffix of the transaction topic.
    pub transaction_topic: String,
    /// `connect.timeout.ms` (default 30000).
    pub connect_timeout: Duration,
}

impl fmt::Debug for MySqlConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MySqlConfig")
            .field("flavor", &self.flavor)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &"[hidden]")
            .field("server_id", &self.server_id)
            .field("topic_prefix", &self.topic_prefix)
            .field("snapshot_mode", &self.snapshot_mode)
            .finish_non_exhaustive()
    }
}

const SNAPSHOT_MODES: &[&str] = &[
    "initial",
    "initial_only",
    "no_data",
    "schema_only",
    "never",
    "when_needed",
    "recovery",
    "schema_only_recovery",
];

/// Debezium's keys (those Velocity implements), for the REST API.
pub fn config_def() -> ConfigDef {
    use ConfigType::*;
    use Importance::*;
    let k = ConfigKey::new;
    ConfigDef::new(vec![
        k("database.hostname", String, None, High, "Resolvable hostname or IP address of the database server."),
        k("database.port", Int, Some("3306"), High, "Port of the database server."),
        k("database.user", String, None, High, "Name of the database user (needs SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE, REPLICATION CLIENT)."),
        k("database.password", Password, Some(""), High, "Password of the database user."),
        k("database.server.id", Long, None, High, "A numeric ID of this database client, unique among all clients (replicas) of the server."),
        k("topic.prefix", String, None, High, "Topic prefix that identifies and provides a namespace for the database server; used as source.name."),
        k("database.include.list", List, Some(""), Medium, "Regular expressions of databases to capture."),
        k("database.exclude.list", List, Some(""), Medium, "Regular expressions of databases not to capture."),
        k("table.include.list", List, Some(""), Medium, "Regular expressions of db.table names to capture."),
        k("table.exclude.list", List, Some(""), Medium, "Regular expressions of db.table names not to capture."),
        k("column.include.list", List, Some(""), Medium, "Regular expressions of db.table.column names to include."),
        k("column.exclude.list", List, Some(""), Medium, "Regular expressions of db.table.column names to exclude."),
        k("snapshot.mode", String, Some("initial"), Medium, "initial, initial_only, no_data (schema_only), never, when_needed or recovery (schema_only_recovery).").one_of(SNAPSHOT_MODES),
        k("snapshot.locking.mode", String, Some("minimal"), Medium, "minimal (global read lock only while reading the binlog position and schema) or none.").one_of(&["minimal", "none"]),
        k("include.schema.changes", Boolean, Some("true"), Medium, "Publish DDL changes to the topic named after topic.prefix."),
        k("connect.keep.alive", Boolean, Some("true"), Low, "Reconnect when the server closes the binlog connection (the runtime restarts the task in place from the last stored offset, under errors.max.retries); false fails the task instead."),
        k("include.query", Boolean, Some("false"), Low, "Add the original SQL statement to source.query (needs binlog_rows_query_log_events / binlog_annotate_row_events)."),
        k("tombstones.on.delete", Boolean, Some("true"), High, "Emit a tombstone (null value) after each delete event."),
        k("decimal.handling.mode", String, Some("precise"), Medium, "precise, double or string.").one_of(&["precise", "double", "string"]),
        k("time.precision.mode", String, Some("adaptive_time_microseconds"), Medium, "adaptive_time_microseconds or connect.").one_of(&["adaptive_time_microseconds", "connect"]),
        k("bigint.unsigned.handling.mode", String, Some("long"), Medium, "long or precise.").one_of(&["long", "precise"]),
        k("schema.history.internal.kafka.topic", String, Some(""), High, "The Kafka topic where the connector stores the database schema history."),
        k("schema.history.internal.kafka.bootstrap.servers", String, Some(""), High, "Kafka brokers of the schema history topic."),
        k("max.batch.size", Int, Some("2048"), Medium, "Maximum records per batch returned by poll."),
        k("max.queue.size", Int, Some("8192"), Medium, "Maximum records buffered between the binlog reader and Kafka."),
        k("poll.interval.ms", Int, Some("500"), Medium, "How long poll waits for new events."),
        k("provide.transaction.metadata", Boolean, Some("false"), Low, "Emit transaction BEGIN/END events and the transaction block."),
        k("topic.transaction", String, Some("transaction"), Low, "Suffix of the transaction metadata topic (<topic.prefix>.<topic.transaction>)."),
        k("connect.timeout.ms", Int, Some("30000"), Low, "Maximum time to wait when connecting to the database."),
    ])
}

fn regexes(c: &RawConfig, key: &str, errors: &mut Vec<(String, String)>) -> Vec<Regex> {
    c.list(key)
        .into_iter()
        .filter_map(|p| match Regex::new(&format!("(?i)^(?:{p})$")) {
            Ok(r) => Some(r),
            Err(e) => {
                errors.push((
                    key.into(),
                    format!("'{p}' is not a valid regular expression: {e}"),
                ));
                None
            }
        })
        .collect()
}

impl MySqlConfig {
    /// Parses and validates; on failure returns every `(key, rule)` problem.
    pub fn parse(c: &RawConfig) -> Result<MySqlConfig, Vec<(String, String)>> {
        let mut errors: Vec<(String, String)> = Vec::new();
        macro_rules! take {
            ($e:expr, $default:expr) => {
                match $e {
                    Ok(v) => v,
                    Err(e) => {
                        match e {
                            velocity_api::ConnectError::Config { key, message } => {
                                errors.push((key, message))
                            }
                            other => errors.push(("".into(), other.to_string())),
                        }
                        $default
                    }
                }
            };
        }
        let flavor = Flavor::from_class(c.str_or("connector.class", "mysql"));
        let host = take!(
            c.req_str("database.hostname").map(str::to_owned),
            String::new()
        );
        let user = take!(c.req_str("database.user").map(str::to_owned), String::new());
        let password = c.get("database.password").cloned().unwrap_or_default();
        let server_id = take!(
            c.req_str("database.server.id").and_then(|_| c.int_or(
                "database.server.id",
                0,
                1,
                u32::MAX as i64
            )),
            0
        ) as u32;
        let topic_prefix = take!(c.req_str("topic.prefix").map(str::to_owned), String::new());
        if !topic_prefix.is_empty()
            && !topic_prefix
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '.' | '_' | '-'))
        {
            errors.push(("topic.prefix".into(), format!("'{topic_prefix}' may contain only ASCII letters, digits, '.', '_' and '-' (it becomes a Kafka topic name)")));
        }
        let port = take!(c.int_or("database.port", 3306, 1, 65535), 3306) as u16;
        let filters = Filters {
            db_include: regexes(c, "database.include.list", &mut errors),
            db_exclude: regexes(c, "database.exclude.list", &mut errors),
            table_include: regexes(c, "table.include.list", &mut errors),
            table_exclude: regexes(c, "table.exclude.list", &mut errors),
            column_include: regexes(c, "column.include.list", &mut errors),
            column_exclude: regexes(c, "column.exclude.list", &mut errors),
        };
        for (inc, exc) in [
            ("database.include.list", "database.exclude.list"),
            ("table.include.list", "table.exclude.list"),
            ("column.include.list", "column.exclude.list"),
        ] {
            if c.opt_str(inc).is_some() && c.opt_str(exc).is_some() {
                errors.push((
                    exc.into(),
                    format!("{inc} and {exc} cannot both be set; use one of them"),
                ));
            }
        }
        let snapshot_mode = match take!(
            c.enum_or("snapshot.mode", "initial", SNAPSHOT_MODES),
            "initial".into()
        )
        .as_str()
        {
            "initial_only" => SnapshotMode::InitialOnly,
            "no_data" | "schema_only" => SnapshotMode::NoData,
            "never" => SnapshotMode::Never,
            "when_needed" => SnapshotMode::WhenNeeded,
            "recovery" | "schema_only_recovery" => SnapshotMode::Recovery,
            _ => SnapshotMode::Initial,
        };
        let locking_mode = match take!(
            c.enum_or("snapshot.locking.mode", "minimal", &["minimal", "none"]),
            "minimal".into()
        )
        .as_str()
        {
            "none" => LockingMode::None,
            _ => LockingMode::Minimal,
        };
        let decimal_mode = match take!(
            c.enum_or(
                "decimal.handling.mode",
                "precise",
                &["precise", "double", "string"]
            ),
            "precise".into()
        )
        .as_str()
        {
            "double" => DecimalMode::Double,
            "string" => DecimalMode::String,
            _ => DecimalMode::Precise,
        };
        let time_precision_mode = match take!(
            c.enum_or(
                "time.precision.mode",
                "adaptive_time_microseconds",
                &["adaptive_time_microseconds", "connect"]
            ),
            "adaptive_time_microseconds".into()
        )
        .as_str()
        {
            "connect" => TimePrecisionMode::Connect,
            _ => TimePrecisionMode::AdaptiveTimeMicroseconds,
        };
        let bigint_unsigned_mode = match take!(
            c.enum_or(
                "bigint.unsigned.handling.mode",
                "long",
                &["long", "precise"]
            ),
            "long".into()
        )
        .as_str()
        {
            "precise" => BigintUnsignedMode::Precise,
            _ => BigintUnsignedMode::Long,
        };
        let include_schema_changes = take!(c.bool_or("include.schema.changes", true), true);
        let include_query = take!(c.bool_or("include.query", false), false);
        let keep_alive = take!(c.bool_or("connect.keep.alive", true), true);
        let tombstones_on_delete = take!(c.bool_or("tombstones.on.delete", true), true);
        let provide_transaction_metadata =
            take!(c.bool_or("provide.transaction.metadata", false), false);
        let max_batch_size = take!(c.int_or("max.batch.size", 2048, 1, 1_000_000), 2048) as usize;
        let max_queue_size = take!(c.int_or("max.queue.size", 8192, 1, 10_000_000), 8192) as usize;
        if max_queue_size <= max_batch_size {
            errors.push((
                "max.queue.size".into(),
                format!("must be larger than max.batch.size ({max_batch_size})"),
            ));
        }
        let poll_ms = take!(c.int_or("poll.interval.ms", 500, 1, 3_600_000), 500);
        let connect_ms = take!(c.int_or("connect.timeout.ms", 30_000, 1, 3_600_000), 30_000);
        let history_topic = c
            .opt_str("schema.history.internal.kafka.topic")
            .map(str::to_owned);
        let history_bootstrap = c
            .opt_str("schema.history.internal.kafka.bootstrap.servers")
            .map(str::to_owned);
        let history_producer = c
            .with_prefix("schema.history.internal.producer.")
            .into_iter()
            .collect();
        let history_consumer = c
            .with_prefix("schema.history.internal.consumer.")
            .into_iter()
            .collect();
        if errors.is_empty() {
            Ok(MySqlConfig {
                flavor,
                host,
                port,
                user,
                password,
                server_id,
                topic_prefix,
                filters,
                snapshot_mode,
                locking_mode,
                include_schema_changes,
                include_query,
                keep_alive,
                tombstones_on_delete,
                decimal_mode,
                time_precision_mode,
                bigint_unsigned_mode,
                history_topic,
                history_bootstrap,
                history_producer,
                history_consumer,
                max_batch_size,
                max_queue_size,
                poll_interval: Duration::from_millis(poll_ms as u64),
                provide_transaction_metadata,
                transaction_topic: c.str_or("topic.transaction", "transaction").to_owned(),
                connect_timeout: Duration::from_millis(connect_ms as u64),
            })
        } else {
            Err(errors)
        }
    }

    /// `host:port`, for messages.
    pub fn addr(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(pairs: &[(&str, &str)]) -> RawConfig {
        let mut c: RawConfig = [
            (
                "connector.class",
                "io.debezium.connector.mysql.MySqlConnector",
            ),
            ("database.hostname", "db"),
            ("database.user", "u"),
            ("database.password", "s3cret"),
            ("database.server.id", "5400"),
            ("topic.prefix", "shop"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for (k, v) in pairs {
            if v.is_empty() {
                c.remove(*k);
            } else {
                c.insert(k.to_string(), v.to_string());
            }
        }
        c
    }

    #[test]
    fn defaults_follow_debezium() {
        let c = MySqlConfig::parse(&cfg(&[])).unwrap();
        assert_eq!(c.port, 3306);
        assert_eq!(c.server_id, 5400);
        assert_eq!(c.snapshot_mode, SnapshotMode::Initial);
        assert_eq!(c.locking_mode, LockingMode::Minimal);
        assert!(c.include_schema_changes);
        assert!(!c.include_query);
        assert!(c.keep_alive);
        assert!(c.tombstones_on_delete);
        assert_eq!(c.decimal_mode, DecimalMode::Precise);
        assert_eq!(
            c.time_precision_mode,
            TimePrecisionMode::AdaptiveTimeMicroseconds
        );
        assert_eq!(c.bigint_unsigned_mode, BigintUnsignedMode::Long);
        assert_eq!(c.max_batch_size, 2048);
        assert_eq!(c.max_queue_size, 8192);
        assert_eq!(c.flavor, Flavor::MySql);
    }

    #[test]
    fn errors_name_dotted_keys() {
        let errs = MySqlConfig::parse(&cfg(&[
            ("database.server.id", ""),
            ("snapshot.mode", "sometimes"),
            ("database.port", "x"),
            ("table.include.list", "a.(b"),
        ]))
        .unwrap_err();
        let keys: Vec<_> = errs.iter().map(|(k, _)| k.as_str()).collect();
        for k in [
            "database.server.id",
            "snapshot.mode",
            "database.port",
            "table.include.list",
        ] {
            assert!(keys.contains(&k), "{k} missing in {errs:?}");
        }
    }

    #[test]
    fn legacy_snapshot_mode_names() {
        let c = MySqlConfig::parse(&cfg(&[("snapshot.mode", "schema_only")])).unwrap();
        assert_eq!(c.snapshot_mode, SnapshotMode::NoData);
        let c = MySqlConfig::parse(&cfg(&[("snapshot.mode", "schema_only_recovery")])).unwrap();
        assert_eq!(c.snapshot_mode, SnapshotMode::Recovery);
    }

    #[test]
    fn debug_hides_password() {
        let c = MySqlConfig::parse(&cfg(&[])).unwrap();
        assert!(!format!("{c:?}").contains("s3cret"));
    }

    #[test]
    fn flavor_from_class() {
        assert_eq!(
            Flavor::from_class("io.debezium.connector.mariadb.MariaDbConnector"),
            Flavor::MariaDb
        );
        assert_eq!(Flavor::from_class("mariadb"), Flavor::MariaDb);
        assert_eq!(Flavor::from_class("mysql"), Flavor::MySql);
    }

    #[test]
    fn filters_match_whole_names() {
        let c = MySqlConfig::parse(&cfg(&[
            ("database.include.list", "shop"),
            ("table.exclude.list", "shop\\.audit.*"),
            ("column.exclude.list", "shop\\.customers\\.ssn"),
        ]))
        .unwrap();
        assert!(c.filters.table("shop", "orders"));
        assert!(!c.filters.table("shop2", "orders"));
        assert!(!c.filters.table("shop", "audit_log"));
        assert!(!c.filters.table("mysql", "user"));
        assert!(!c.filters.column("shop", "customers", "ssn"));
        assert!(c.filters.column("shop", "customers", "name"));
    }
}
