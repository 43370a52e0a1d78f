//! The configuration keys every Debezium source connector declares alike
//! (Debezium's `CommonConnectorConfig` and relational-connector keys), each
//! declared once: connectors list them in their own `config_keys!` (`NAME =
//! velocity_api::debezium::keys::NAME;`) and read them with their own
//! `ConfigReader`, so the name, type, default, rule and docs cannot drift
//! apart between PostgreSQL and MySQL / MariaDB.

use crate::config::{ConfigKey, ConfigType::*, Importance::*};
use crate::debezium::options::{
    check_skipped_operations, BinaryMode, FailureHandlingMode, KeyColumns,
};

/// `binary.handling.mode` (default `bytes`): a [`BinaryMode`] name.
pub const BINARY_HANDLING_MODE: ConfigKey = ConfigKey::new(
    "binary.handling.mode",
    String,
    Some("bytes"),
    Low,
    "Representation of binary columns: bytes, base64, base64-url-safe or hex.",
)
.one_of(BinaryMode::NAMES);

/// `column.mask.hash.([^.]+).with.salt.(.+)`: Debezium's listing of the
/// `column.mask.hash[.v2].<algorithm>.with.salt.<salt>` keys, which carry
/// their parameters in their names (read by
/// [`ColumnOptions`](crate::debezium::columns::ColumnOptions)); the listed
/// name itself is never set.
pub const COLUMN_MASK_HASH: ConfigKey = ConfigKey::new("column.mask.hash.([^.]+).with.salt.(.+)", String, Some(""), Medium, "column.mask.hash.<algorithm>.with.salt.<salt> (or column.mask.hash.v2.…): regular expressions of fully-qualified column names whose character values are replaced by the hex hash (a Java MessageDigest algorithm, e.g. SHA-256) of the salt and the value; V1 hashes Java's serialised string, V2 its UTF-8 bytes.");

/// `column.mask.with.(d+).chars`: Debezium's listing of the
/// `column.mask.with.<N>.chars` keys (see [`COLUMN_MASK_HASH`]).
pub const COLUMN_MASK_WITH: ConfigKey = ConfigKey::new("column.mask.with.(d+).chars", String, Some(""), Medium, "column.mask.with.<N>.chars: regular expressions of fully-qualified column names whose character values are replaced by N asterisks.");

/// `column.truncate.to.(d+).chars`: Debezium's listing (typed INT, as in
/// Debezium) of the `column.truncate.to.<N>.chars` keys (see
/// [`COLUMN_MASK_HASH`]).
pub const COLUMN_TRUNCATE_TO: ConfigKey = ConfigKey::new("column.truncate.to.(d+).chars", Int, Some(""), Medium, "column.truncate.to.<N>.chars: regular expressions of fully-qualified column names whose string values are cut to N characters (bytes values to N bytes).");

/// `column.propagate.source.type`: regular expressions of column names whose
/// field schemas get the `__debezium.source.column.*` parameters.
pub const COLUMN_PROPAGATE_SOURCE_TYPE: ConfigKey = ConfigKey::new("column.propagate.source.type", List, Some(""), Medium, "Regular expressions of fully-qualified column names whose field schemas get the column's original type, length, scale and name as __debezium.source.column.* parameters.");

/// `datatype.propagate.source.type`: regular expressions of
/// `<namespace>.<table>.<type name>` whose field schemas get the
/// `__debezium.source.column.*` parameters.
pub const DATATYPE_PROPAGATE_SOURCE_TYPE: ConfigKey = ConfigKey::new("datatype.propagate.source.type", List, Some(""), Medium, "Regular expressions of fully-qualified data type names (schema.table.type, or db.table.TYPE for MySQL) whose columns' field schemas get the original type, length, scale and name as __debezium.source.column.* parameters.");

/// The keys of Debezium's column options, as its ConfigDef lists them
/// (every relational source declares them).
pub const COLUMN_OPTION_KEYS: [ConfigKey; 5] = [
    COLUMN_MASK_HASH,
    COLUMN_MASK_WITH,
    COLUMN_TRUNCATE_TO,
    COLUMN_PROPAGATE_SOURCE_TYPE,
    DATATYPE_PROPAGATE_SOURCE_TYPE,
];

/// `column.exclude.list` (not with `column.include.list`).
pub const COLUMN_EXCLUDE_LIST: ConfigKey = ConfigKey::new("column.exclude.list", List, Some(""), Medium, "Regular expressions of fully-qualified column names (schema.table.column, or db.table.column for MySQL) to exclude.");

/// `column.include.list`: regular expressions of captured `schema.table.column` names.
pub const COLUMN_INCLUDE_LIST: ConfigKey = ConfigKey::new("column.include.list", List, Some(""), Medium, "Regular expressions of fully-qualified column names (schema.table.column, or db.table.column for MySQL) to include.");

/// `database.hostname` (required).
pub const HOSTNAME: ConfigKey = ConfigKey::new(
    "database.hostname",
    String,
    None,
    High,
    "Resolvable hostname or IP address of the database server.",
);

/// `database.password` (a secret: never logged or shown).
pub const PASSWORD: ConfigKey = ConfigKey::new(
    "database.password",
    Password,
    Some(""),
    High,
    "Password of the database user.",
);

/// `event.processing.failure.handling.mode` (default `fail`): a
/// [`FailureHandlingMode`] name.
pub const EVENT_PROCESSING_FAILURE_HANDLING_MODE: ConfigKey = ConfigKey::new("event.processing.failure.handling.mode", String, Some("fail"), Medium, "Specify how failures during processing of events (i.e. when encountering a corrupted event) should be handled, including: 'fail' (the default) an exception indicating the problematic event and its position is raised, causing the connector to be stopped; 'warn' the problematic event and its position will be logged and the event will be skipped; 'skip' (or 'ignore') the problematic event will be skipped.").one_of(FailureHandlingMode::NAMES);

/// `heartbeat.action.query`: SQL run on every heartbeat.
pub const HEARTBEAT_ACTION_QUERY: ConfigKey = ConfigKey::new(
    "heartbeat.action.query",
    String,
    Some(""),
    Medium,
    "Query run on every heartbeat (e.g. an update of a heartbeat table).",
);

/// `heartbeat.interval.ms` (default 0 = no heartbeats).
pub const HEARTBEAT_INTERVAL_MS: ConfigKey = ConfigKey::new("heartbeat.interval.ms", Int, Some("0"), Medium, "Interval of heartbeat messages; 0 disables them. Lets the stored offset (and a PostgreSQL slot) advance while the captured tables are idle.").at_least(0);

/// `max.batch.size` (default 2048).
pub const MAX_BATCH_SIZE: ConfigKey = ConfigKey::new(
    "max.batch.size",
    Int,
    Some("2048"),
    Medium,
    "Maximum records per batch returned by poll.",
)
.range(1, 1_000_000);

/// `max.queue.size` (default 8192; larger than `max.batch.size`).
pub const MAX_QUEUE_SIZE: ConfigKey = ConfigKey::new(
    "max.queue.size",
    Int,
    Some("8192"),
    Medium,
    "Maximum records buffered between the database reader and Kafka.",
)
.range(1, 10_000_000);

/// `message.key.columns`: `schema.table:col,col;…` (table part a regular expression).
pub const MESSAGE_KEY_COLUMNS: ConfigKey = ConfigKey::new("message.key.columns", String, Some(""), Low, "Custom message keys: <table>:col1,col2;… where <table> is a regular expression of fully-qualified table names; replaces the primary key of the tables it matches.").validate_with(KeyColumns::check);

/// `poll.interval.ms` (default 500).
pub const POLL_INTERVAL_MS: ConfigKey = ConfigKey::new(
    "poll.interval.ms",
    Int,
    Some("500"),
    Medium,
    "How long poll waits for new events.",
)
.range(1, 3_600_000);

/// `provide.transaction.metadata` (default false).
pub const PROVIDE_TRANSACTION_METADATA: ConfigKey = ConfigKey::new(
    "provide.transaction.metadata",
    Boolean,
    Some("false"),
    Low,
    "Emit transaction BEGIN/END events and the transaction block.",
);

/// `skipped.operations` (default `t`): any of `c`, `u`, `d`, `t`, or `none`.
pub const SKIPPED_OPERATIONS: ConfigKey = ConfigKey::new("skipped.operations", List, Some("t"), Low, "Operations not emitted while streaming: c (inserts), u (updates), d (deletes), t (truncates), or none.").validate_with(check_skipped_operations);

/// `table.exclude.list` (not with `table.include.list`).
pub const TABLE_EXCLUDE_LIST: ConfigKey = ConfigKey::new("table.exclude.list", List, Some(""), Medium, "Regular expressions of fully-qualified table names (schema.table, or db.table for MySQL) not to capture.");

/// `table.include.list`: regular expressions of captured `schema.table` names.
pub const TABLE_INCLUDE_LIST: ConfigKey = ConfigKey::new("table.include.list", List, Some(""), Medium, "Regular expressions of fully-qualified table names (schema.table, or db.table for MySQL) to capture.");

/// `tombstones.on.delete` (default true).
pub const TOMBSTONES_ON_DELETE: ConfigKey = ConfigKey::new(
    "tombstones.on.delete",
    Boolean,
    Some("true"),
    High,
    "Emit a tombstone (null value) after each delete event.",
);

/// `topic.heartbeat.prefix` (default `__debezium-heartbeat`).
pub const TOPIC_HEARTBEAT_PREFIX: ConfigKey = ConfigKey::new(
    "topic.heartbeat.prefix",
    String,
    Some("__debezium-heartbeat"),
    Low,
    "Prefix of the heartbeat topic (<topic.heartbeat.prefix>.<topic.prefix>).",
);

/// `topic.prefix` (required): topic prefix and `source.name`; only
/// characters valid in a Kafka topic name.
pub const TOPIC_PREFIX: ConfigKey = ConfigKey::new("topic.prefix", String, None, High, "Topic prefix that identifies and provides a namespace for the database server; used as source.name.").validate_with(check_topic_prefix);

/// `topic.transaction` (default `transaction`).
pub const TOPIC_TRANSACTION: ConfigKey = ConfigKey::new(
    "topic.transaction",
    String,
    Some("transaction"),
    Low,
    "Suffix of the transaction metadata topic (<topic.prefix>.<topic.transaction>).",
);

/// Debezium's rule for `topic.prefix`: it becomes part of Kafka topic names.
pub fn check_topic_prefix(v: &str) -> Result<(), std::string::String> {
    if v.chars()
        .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '.' | '_' | '-'))
    {
        Ok(())
    } else {
        Err("may contain only ASCII letters, digits, '.', '_' and '-' (it becomes a Kafka topic name)".into())
    }
}
