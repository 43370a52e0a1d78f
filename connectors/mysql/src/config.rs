//! Connector configuration: Debezium's MySQL / MariaDB keys and defaults,
//! each declared once in [`keys`], and [`MySqlConfig`], read from the Kafka
//! Connect flat string map through them ([`TypedConfig`]).
//!
//! Reading collects every problem at once (for the REST validate endpoint),
//! at most one `(dotted key, rule)` per key. Unknown keys are ignored. The
//! password is kept out of `Debug` output.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use velocity_api::config::{ConfigExt, ConfigReader, TypedConfig};
use velocity_api::debezium::columns::ColumnOptions;
pub use velocity_api::debezium::options::BinaryMode;
use velocity_api::debezium::options::{
    skipped_operations, CaptureFilters, FailureHandlingMode, FilterKeys, KeyColumns, NameFilter,
};
use velocity_api::debezium::signal::SignalConfig;
use velocity_api::{config_choice, ConfigKey};

use crate::tls::SslSettings;

pub use keys::*;

/// The connector's keys (those of Debezium's that Velocity implements), each
/// declared once: name, type, default, importance, documentation and rule.
pub mod keys {
    use super::{BigintUnsignedMode, DecimalMode, LockingMode, SnapshotMode};
    use super::{SslMode, TimePrecisionMode, MAX_SERVER_ID};
    use crate::tls::check_truststore;
    use crate::tls::{check_ca_file, check_cert_file, check_key_file, check_keystore};
    use velocity_api::config::{ConfigKey, ConfigType::*, Importance::*};

    velocity_api::config_keys! {
        /// `database.hostname` (required).
        HOSTNAME = velocity_api::debezium::keys::HOSTNAME;
        /// `database.port` (default 3306).
        PORT = ConfigKey::new("database.port", Int, Some("3306"), High, "Port of the database server.").range(1, 65535);
        /// `database.user` (required).
        USER = ConfigKey::new("database.user", String, None, High, "Name of the database user (needs SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE, REPLICATION CLIENT).");
        /// `database.password` (a secret: never logged or shown).
        PASSWORD = velocity_api::debezium::keys::PASSWORD;
        /// `database.ssl.mode` (default `preferred`): `disabled`,
        /// `preferred`, `required`, `verify_ca` or `verify_identity`.
        SSL_MODE = ConfigKey::new("database.ssl.mode", String, Some("preferred"), High, "TLS to the database: disabled (never), preferred (when the server offers it, certificate not checked), required (always, certificate not checked), verify_ca (always; the certificate must be issued by a trusted CA) or verify_identity (as verify_ca, and the certificate must name database.hostname).").one_of(SslMode::NAMES);
        /// `database.ssl.ca` (Velocity's, the PEM form of
        /// `database.ssl.truststore`): PEM file of trusted CA certificates.
        SSL_CA = ConfigKey::new("database.ssl.ca", String, Some(""), Medium, "PEM file of the CA certificate(s) trusted to issue the server certificate (verify_ca, verify_identity); when neither it nor database.ssl.truststore is set, the public web CAs are trusted.").validate_with(check_ca_file);
        /// `database.ssl.cert` (Velocity's, with `database.ssl.key` the PEM
        /// form of `database.ssl.keystore`): client certificate chain.
        SSL_CERT = ConfigKey::new("database.ssl.cert", String, Some(""), Medium, "PEM file of the client certificate chain for mutual TLS (with database.ssl.key).").validate_with(check_cert_file);
        /// `database.ssl.key` (Velocity's): client private key, PEM, unencrypted.
        SSL_KEY = ConfigKey::new("database.ssl.key", String, Some(""), Medium, "PEM file of the unencrypted private key of database.ssl.cert (PKCS#8, PKCS#1 or SEC1).").validate_with(check_key_file);
        /// `database.ssl.truststore`: Debezium's truststore; read when it is
        /// a PEM file of CA certificates (JKS/PKCS12 are refused).
        SSL_TRUSTSTORE = ConfigKey::new("database.ssl.truststore", String, Some(""), Low, "Debezium's truststore: accepted when it is a PEM file of CA certificates (as database.ssl.ca); a JKS or PKCS12 store is refused with the command that converts it.").validate_with(check_truststore);
        /// `database.ssl.truststore.password` (a secret; unused: PEM files
        /// are not encrypted).
        SSL_TRUSTSTORE_PASSWORD = ConfigKey::new("database.ssl.truststore.password", Password, Some(""), Low, "Password of database.ssl.truststore (unused: Velocity reads unencrypted PEM files).");
        /// `database.ssl.keystore`: Debezium's keystore; read when it is a
        /// PEM file with the client certificate chain and its private key.
        SSL_KEYSTORE = ConfigKey::new("database.ssl.keystore", String, Some(""), Low, "Debezium's keystore: accepted when it is a PEM file with the client certificate chain and its unencrypted private key (as database.ssl.cert + database.ssl.key); a JKS or PKCS12 store is refused with the commands that convert it.").validate_with(check_keystore);
        /// `database.ssl.keystore.password` (a secret; unused: PEM files
        /// are not encrypted).
        SSL_KEYSTORE_PASSWORD = ConfigKey::new("database.ssl.keystore.password", Password, Some(""), Low, "Password of database.ssl.keystore (unused: Velocity reads unencrypted PEM files).");
        /// `database.server.id` (required): the replica id, 1 to 2^32-1.
        SERVER_ID = ConfigKey::new("database.server.id", Long, None, High, "A numeric ID of this database client, unique among all clients (replicas) of the server.").range(1, MAX_SERVER_ID);
        /// `topic.prefix` (required): ASCII letters, digits, `.`, `_` and `-`.
        TOPIC_PREFIX = velocity_api::debezium::keys::TOPIC_PREFIX;
        /// `database.include.list`: regular expressions of databases.
        DATABASE_INCLUDE_LIST = ConfigKey::new("database.include.list", List, Some(""), Medium, "Regular expressions of databases to capture.");
        /// `database.exclude.list`: regular expressions of databases.
        DATABASE_EXCLUDE_LIST = ConfigKey::new("database.exclude.list", List, Some(""), Medium, "Regular expressions of databases not to capture.");
        /// `table.include.list`: regular expressions of `db.table` names.
        TABLE_INCLUDE_LIST = velocity_api::debezium::keys::TABLE_INCLUDE_LIST;
        /// `table.exclude.list`: regular expressions of `db.table` names.
        TABLE_EXCLUDE_LIST = velocity_api::debezium::keys::TABLE_EXCLUDE_LIST;
        /// `column.include.list`: regular expressions of `db.table.column` names.
        COLUMN_INCLUDE_LIST = velocity_api::debezium::keys::COLUMN_INCLUDE_LIST;
        /// `column.exclude.list`: regular expressions of `db.table.column` names.
        COLUMN_EXCLUDE_LIST = velocity_api::debezium::keys::COLUMN_EXCLUDE_LIST;
        /// `message.key.columns`: `db.table:col1,col2;…` (table names are
        /// regular expressions matched against `db.table`).
        MESSAGE_KEY_COLUMNS = velocity_api::debezium::keys::MESSAGE_KEY_COLUMNS;
        /// Listing of the `column.mask.hash[.v2].<algorithm>.with.salt.<salt>` keys.
        COLUMN_MASK_HASH = velocity_api::debezium::keys::COLUMN_MASK_HASH;
        /// Listing of the `column.mask.with.<N>.chars` keys.
        COLUMN_MASK_WITH = velocity_api::debezium::keys::COLUMN_MASK_WITH;
        /// Listing of the `column.truncate.to.<N>.chars` keys.
        COLUMN_TRUNCATE_TO = velocity_api::debezium::keys::COLUMN_TRUNCATE_TO;
        /// `column.propagate.source.type`: columns whose field schemas get their source type.
        COLUMN_PROPAGATE_SOURCE_TYPE = velocity_api::debezium::keys::COLUMN_PROPAGATE_SOURCE_TYPE;
        /// `datatype.propagate.source.type`: types whose columns' field schemas get their source type.
        DATATYPE_PROPAGATE_SOURCE_TYPE = velocity_api::debezium::keys::DATATYPE_PROPAGATE_SOURCE_TYPE;
        /// `snapshot.mode` (default `initial`).
        SNAPSHOT_MODE = ConfigKey::new("snapshot.mode", String, Some("initial"), Medium, "initial, initial_only, no_data (schema_only), never, when_needed, always or recovery (schema_only_recovery).").one_of(SnapshotMode::NAMES);
        /// `snapshot.locking.mode` (default `minimal`).
        SNAPSHOT_LOCKING_MODE = ConfigKey::new("snapshot.locking.mode", String, Some("minimal"), Medium, "How the snapshot keeps writes out while it reads the binlog position and the table definitions: minimal (FLUSH TABLES WITH READ LOCK until they are read; the rows are then read in a REPEATABLE READ consistent-snapshot transaction), extended (the same lock, held until all rows are read), minimal_percona (Percona Server's LOCK TABLES FOR BACKUP instead; MySQL connector only), minimal_percona_no_table_locks (as minimal_percona, failing rather than falling back to table locks) or none (no lock: safe only when no DDL runs during the snapshot). When the global lock is refused (no RELOAD privilege), the captured tables are read-locked until the snapshot ends (needs LOCK TABLES).").one_of(LockingMode::NAMES);
        /// `snapshot.lock.timeout.ms` (default 10000): the longest wait for
        /// a snapshot lock.
        SNAPSHOT_LOCK_TIMEOUT_MS = ConfigKey::new("snapshot.lock.timeout.ms", Long, Some("10000"), Medium, "Maximum time to wait for the snapshot's locks (the session's lock_wait_timeout and innodb_lock_wait_timeout, in whole seconds, at least 1).").range(1, 31_536_000_000);
        /// `gtid.source.includes`: regular expressions of GTID sources
        /// (MySQL: server uuids; MariaDB: `domain-server`).
        GTID_SOURCE_INCLUDES = ConfigKey::new("gtid.source.includes", List, Some(""), Medium, "Regular expressions of the GTID sources (MySQL: server uuids; MariaDB: domain-server) whose stored GTID ranges decide where a restart resumes; other sources resume at the server's current GTID position. Not with gtid.source.excludes.");
        /// `gtid.source.filter.dml.events` (default true): row events of
        /// transactions from filtered-out GTID sources are not emitted.
        GTID_SOURCE_FILTER_DML_EVENTS = ConfigKey::new("gtid.source.filter.dml.events", Boolean, Some("true"), Medium, "When set to true, only produce DML events for transactions that were written on the server with matching GTIDs defined by the `gtid.source.includes` or `gtid.source.excludes`, if they were specified.");
        /// `gtid.source.excludes`: regular expressions of GTID sources.
        GTID_SOURCE_EXCLUDES = ConfigKey::new("gtid.source.excludes", List, Some(""), Medium, "Regular expressions of the GTID sources (MySQL: server uuids; MariaDB: domain-server) that resume at the server's current GTID position instead of the stored one. Not with gtid.source.includes.");
        /// `include.schema.changes` (default true).
        INCLUDE_SCHEMA_CHANGES = ConfigKey::new("include.schema.changes", Boolean, Some("true"), Medium, "Publish DDL changes to the topic named after topic.prefix.");
        /// `connect.keep.alive` (default true).
        CONNECT_KEEP_ALIVE = ConfigKey::new("connect.keep.alive", Boolean, Some("true"), Low, "Reconnect when the server closes the binlog connection (the runtime restarts the task in place from the last stored offset, under errors.max.retries); false fails the task instead.");
        /// `include.query` (default false).
        INCLUDE_QUERY = ConfigKey::new("include.query", Boolean, Some("false"), Low, "Add the original SQL statement to source.query (needs binlog_rows_query_log_events / binlog_annotate_row_events).");
        /// `tombstones.on.delete` (default true).
        TOMBSTONES_ON_DELETE = velocity_api::debezium::keys::TOMBSTONES_ON_DELETE;
        /// `skipped.operations` (default `t`): any of `c`, `u`, `d`, `t`, or `none`.
        SKIPPED_OPERATIONS = velocity_api::debezium::keys::SKIPPED_OPERATIONS;
        /// `event.processing.failure.handling.mode` (default `fail`).
        EVENT_PROCESSING_FAILURE_HANDLING_MODE = velocity_api::debezium::keys::EVENT_PROCESSING_FAILURE_HANDLING_MODE;
        /// `decimal.handling.mode` (default `precise`).
        DECIMAL_HANDLING_MODE = ConfigKey::new("decimal.handling.mode", String, Some("precise"), Medium, "precise, double or string.").one_of(DecimalMode::NAMES);
        /// `time.precision.mode` (default `adaptive_time_microseconds`).
        TIME_PRECISION_MODE = ConfigKey::new("time.precision.mode", String, Some("adaptive_time_microseconds"), Medium, "adaptive_time_microseconds or connect.").one_of(TimePrecisionMode::NAMES);
        /// `bigint.unsigned.handling.mode` (default `long`).
        BIGINT_UNSIGNED_HANDLING_MODE = ConfigKey::new("bigint.unsigned.handling.mode", String, Some("long"), Medium, "long or precise.").one_of(BigintUnsignedMode::NAMES);
        /// `binary.handling.mode` (default `bytes`).
        BINARY_HANDLING_MODE = velocity_api::debezium::keys::BINARY_HANDLING_MODE;
        /// `enable.time.adjuster` (default true): two-digit years of DATE,
        /// DATETIME and TIMESTAMP values read as 1970-2069.
        ENABLE_TIME_ADJUSTER = ConfigKey::new("enable.time.adjuster", Boolean, Some("true"), Low, "The database allows the user to insert year value as either 2-digit or 4-digit. In case of two digit the value is automatically mapped into 1970 - 2069.false - delegates the implicit conversion to the database; true - (the default) Debezium makes the conversion");
        /// `schema.history.internal` (default Debezium's
        /// `KafkaSchemaHistory`; `MemorySchemaHistory` keeps it in memory).
        SCHEMA_HISTORY = ConfigKey::new("schema.history.internal", String, Some(super::KAFKA_SCHEMA_HISTORY), Low, "The name of the SchemaHistory class that should be used to store and recover database schema changes.").one_of(&[super::KAFKA_SCHEMA_HISTORY, super::MEMORY_SCHEMA_HISTORY]);
        /// `schema.history.internal.kafka.topic` (required with the Kafka history).
        HISTORY_KAFKA_TOPIC = ConfigKey::new("schema.history.internal.kafka.topic", String, Some(""), High, "The Kafka topic where the connector stores the database schema history.");
        /// `schema.history.internal.kafka.bootstrap.servers` (required with the Kafka history).
        HISTORY_KAFKA_BOOTSTRAP_SERVERS = ConfigKey::new("schema.history.internal.kafka.bootstrap.servers", String, Some(""), High, "Kafka brokers of the schema history topic.");
        /// `schema.history.internal.store.only.captured.tables.ddl` (default false).
        HISTORY_STORE_ONLY_CAPTURED_TABLES_DDL = ConfigKey::new("schema.history.internal.store.only.captured.tables.ddl", Boolean, Some("false"), Low, "Controls what DDL will Debezium store in database schema history. By default (false) Debezium will store all incoming DDL statements. If set to true, then only DDL that manipulates a captured table will be stored.");
        /// `schema.history.internal.store.only.captured.databases.ddl` (default false).
        HISTORY_STORE_ONLY_CAPTURED_DATABASES_DDL = ConfigKey::new("schema.history.internal.store.only.captured.databases.ddl", Boolean, Some("false"), Low, "Controls what DDL will Debezium store in database schema history. By default (false) Debezium will store all incoming DDL statements. If set to true, then only DDL that manipulates a table from captured schema/database will be stored.");
        /// `schema.history.internal.skip.unparseable.ddl` (default false).
        HISTORY_SKIP_UNPARSEABLE_DDL = ConfigKey::new("schema.history.internal.skip.unparseable.ddl", Boolean, Some("false"), Low, "Controls the action Debezium will take when it meets a DDL statement in binlog, that it cannot parse. By default the connector will stop operating but by changing the setting it can ignore the statements which it cannot parse. If skipping is enabled then Debezium can miss metadata changes.");
        /// `max.batch.size` (default 2048).
        MAX_BATCH_SIZE = velocity_api::debezium::keys::MAX_BATCH_SIZE;
        /// `max.queue.size` (default 8192; larger than `max.batch.size`).
        MAX_QUEUE_SIZE = velocity_api::debezium::keys::MAX_QUEUE_SIZE;
        /// `poll.interval.ms` (default 500).
        POLL_INTERVAL_MS = velocity_api::debezium::keys::POLL_INTERVAL_MS;
        /// `heartbeat.interval.ms` (default 0 = no heartbeats).
        HEARTBEAT_INTERVAL_MS = velocity_api::debezium::keys::HEARTBEAT_INTERVAL_MS;
        /// `heartbeat.action.query`: SQL run on every heartbeat.
        HEARTBEAT_ACTION_QUERY = velocity_api::debezium::keys::HEARTBEAT_ACTION_QUERY;
        /// `topic.heartbeat.prefix` (default `__debezium-heartbeat`).
        TOPIC_HEARTBEAT_PREFIX = velocity_api::debezium::keys::TOPIC_HEARTBEAT_PREFIX;
        /// `provide.transaction.metadata` (default false).
        PROVIDE_TRANSACTION_METADATA = velocity_api::debezium::keys::PROVIDE_TRANSACTION_METADATA;
        /// `topic.transaction` (default `transaction`).
        TOPIC_TRANSACTION = velocity_api::debezium::keys::TOPIC_TRANSACTION;
        /// `connect.timeout.ms` (default 30000).
        CONNECT_TIMEOUT_MS = ConfigKey::new("connect.timeout.ms", Int, Some("30000"), Low, "Maximum time to wait when connecting to the database.").range(1, 3_600_000);
        /// `signal.data.collection`: the signal table (`db.table`).
        SIGNAL_DATA_COLLECTION = velocity_api::debezium::signal::SIGNAL_DATA_COLLECTION;
        /// `signal.enabled.channels` (default `source`; `kafka` too).
        SIGNAL_ENABLED_CHANNELS = velocity_api::debezium::signal::SIGNAL_ENABLED_CHANNELS;
        /// `signal.kafka.topic` (default `<topic.prefix>-signal`).
        SIGNAL_KAFKA_TOPIC = velocity_api::debezium::signal::SIGNAL_KAFKA_TOPIC;
        /// `signal.kafka.bootstrap.servers` (required with the kafka channel).
        SIGNAL_KAFKA_BOOTSTRAP_SERVERS = velocity_api::debezium::signal::SIGNAL_KAFKA_BOOTSTRAP_SERVERS;
        /// `signal.kafka.groupId` (default `kafka-signal`).
        SIGNAL_KAFKA_GROUP_ID = velocity_api::debezium::signal::SIGNAL_KAFKA_GROUP_ID;
        /// `signal.kafka.poll.timeout.ms` (default 0).
        SIGNAL_KAFKA_POLL_TIMEOUT_MS = velocity_api::debezium::signal::SIGNAL_KAFKA_POLL_TIMEOUT_MS;
        /// `signal.poll.interval.ms` (default 5000).
        SIGNAL_POLL_INTERVAL_MS = velocity_api::debezium::signal::SIGNAL_POLL_INTERVAL_MS;
        /// `incremental.snapshot.chunk.size` (default 1024).
        INCREMENTAL_SNAPSHOT_CHUNK_SIZE = velocity_api::debezium::signal::INCREMENTAL_SNAPSHOT_CHUNK_SIZE;
    }
}

/// `schema.history.internal` and, for the Kafka history (the default), its
/// topic and brokers, which Debezium requires ("A value is required"):
/// `(topic, bootstrap)`, both None for the in-memory history.
fn read_history(r: &mut ConfigReader<'_>) -> (Option<String>, Option<String>) {
    let class = r.string(&SCHEMA_HISTORY);
    let topic = r.opt_string(&HISTORY_KAFKA_TOPIC);
    let bootstrap = r.opt_string(&HISTORY_KAFKA_BOOTSTRAP_SERVERS);
    if class == MEMORY_SCHEMA_HISTORY {
        return (None, None);
    }
    if class == KAFKA_SCHEMA_HISTORY {
        for (key, value) in [
            (&HISTORY_KAFKA_TOPIC, &topic),
            (&HISTORY_KAFKA_BOOTSTRAP_SERVERS, &bootstrap),
        ] {
            if value.is_none() {
                r.fail(
                    key.name,
                    format!("A value is required: the connector stores its schema history there (or set {}={MEMORY_SCHEMA_HISTORY} to keep it in memory only)", SCHEMA_HISTORY.name),
                );
            }
        }
    }
    (topic, bootstrap)
}

/// `connector.class`, a common key: selects the [`Flavor`].
const CONNECTOR_CLASS: &str = "connector.class";
/// Debezium's schema history on a Kafka topic (the default).
pub const KAFKA_SCHEMA_HISTORY: &str = "io.debezium.storage.kafka.history.KafkaSchemaHistory";
/// Debezium's in-memory schema history: nothing is stored, and after a
/// restart table definitions are read from the server's current schema.
pub const MEMORY_SCHEMA_HISTORY: &str = "io.debezium.relational.history.MemorySchemaHistory";
/// Prefix of the history producer's pass-through settings.
const HISTORY_PRODUCER_PREFIX: &str = "schema.history.internal.producer.";
/// Prefix of the history consumer's pass-through settings.
const HISTORY_CONSUMER_PREFIX: &str = "schema.history.internal.consumer.";
/// The largest `database.server.id` (a server id is 32 bits unsigned).
const MAX_SERVER_ID: i64 = u32::MAX as i64;

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

config_choice! {
    /// `snapshot.mode`; `schema_only` and `schema_only_recovery` are
    /// Debezium's former names of `no_data` and `recovery`.
    pub enum SnapshotMode {
        /// Snapshot when there is no stored offset, then stream.
        Initial = "initial",
        /// Snapshot when there is no stored offset, then stop.
        InitialOnly = "initial_only",
        /// Schema only, no data (`no_data`, formerly `schema_only`).
        NoData = "no_data" | "schema_only",
        /// Never snapshot; stream from the stored or current position.
        Never = "never",
        /// Snapshot when there is no offset or the stored binlog file is gone.
        WhenNeeded = "when_needed",
        /// Snapshot (schema and data) at every start, then stream from the
        /// snapshot's position.
        Always = "always",
        /// Rebuild the schema history from the current schema (`recovery`,
        /// formerly `schema_only_recovery`); no data.
        Recovery = "recovery" | "schema_only_recovery",
    }
}

impl SnapshotMode {
    /// True when this mode reads table data.
    pub fn reads_data(self) -> bool {
        matches!(
            self,
            SnapshotMode::Initial
                | SnapshotMode::InitialOnly
                | SnapshotMode::WhenNeeded
                | SnapshotMode::Always
        )
    }
}

config_choice! {
    /// `snapshot.locking.mode` (see [`crate::locking`] for what each takes).
    pub enum LockingMode {
        /// Global read lock only while the binlog position and schema are read.
        Minimal = "minimal",
        /// Global read lock for the whole snapshot.
        Extended = "extended",
        /// Percona Server's backup lock while the position and schema are read.
        MinimalPercona = "minimal_percona",
        /// As `minimal_percona`, never falling back to table locks.
        MinimalPerconaNoTableLocks = "minimal_percona_no_table_locks",
        /// No lock at all (safe only when no DDL runs during the snapshot).
        None = "none",
    }
}

impl LockingMode {
    /// The statement taking the global lock, None for `none`.
    pub fn global_lock_sql(self) -> Option<&'static str> {
        match self {
            LockingMode::Minimal | LockingMode::Extended => Some("FLUSH TABLES WITH READ LOCK"),
            LockingMode::MinimalPercona | LockingMode::MinimalPerconaNoTableLocks => {
                Some("LOCK TABLES FOR BACKUP")
            }
            LockingMode::None => None,
        }
    }

    /// True when the global lock is released once the binlog position and
    /// the table definitions are read (all but `extended`).
    pub fn minimal(self) -> bool {
        !matches!(self, LockingMode::Extended | LockingMode::None)
    }

    /// True when a refused global lock may be replaced by table locks.
    pub fn table_locks_allowed(self) -> bool {
        !matches!(
            self,
            LockingMode::MinimalPerconaNoTableLocks | LockingMode::None
        )
    }

    /// True for the Percona Server modes (not values of the MariaDB connector).
    pub fn percona(self) -> bool {
        matches!(
            self,
            LockingMode::MinimalPercona | LockingMode::MinimalPerconaNoTableLocks
        )
    }
}

config_choice! {
    /// `database.ssl.mode` (see [`crate::tls`] for what each checks).
    pub enum SslMode {
        /// Never TLS.
        Disabled = "disabled",
        /// TLS when the server offers it, else plain; certificate not checked.
        Preferred = "preferred",
        /// Always TLS; certificate not checked.
        Required = "required",
        /// Always TLS; the certificate must be issued by a trusted CA.
        VerifyCa = "verify_ca",
        /// As `verify_ca`, and the certificate must name `database.hostname`.
        VerifyIdentity = "verify_identity",
    }
}

config_choice! {
    /// `decimal.handling.mode`.
    pub enum DecimalMode {
        /// Kafka Connect Decimal (bytes + scale).
        Precise = "precise",
        /// float64.
        Double = "double",
        /// The decimal text.
        String = "string",
    }
}

config_choice! {
    /// `bigint.unsigned.handling.mode`.
    pub enum BigintUnsignedMode {
        /// int64 (values above i64::MAX wrap, as in Debezium).
        Long = "long",
        /// Kafka Connect Decimal with scale 0.
        Precise = "precise",
    }
}

config_choice! {
    /// `time.precision.mode`.
    pub enum TimePrecisionMode {
        /// Debezium's default for MySQL: TIME as MicroTime, DATETIME by precision.
        AdaptiveTimeMicroseconds = "adaptive_time_microseconds",
        /// Kafka Connect's Date / Time / Timestamp (millisecond precision).
        Connect = "connect",
    }
}

/// The capture filters: `database.*`, `table.*` and `column.*` include /
/// exclude lists and the signal table ([`CaptureFilters`]); the
/// [`SYSTEM_DATABASES`] are never captured.
pub type Filters = CaptureFilters;

/// `gtid.source.includes` / `gtid.source.excludes`: which GTID sources'
/// stored ranges (MySQL uuid, MariaDB `domain-server`) decide where a
/// restart resumes.
pub type GtidSources = NameFilter;

/// Databases never captured (MySQL's own).
pub const SYSTEM_DATABASES: &[&str] = &["mysql", "sys", "information_schema", "performance_schema"];

/// True for one of the [`SYSTEM_DATABASES`].
fn system_database(db: &str) -> bool {
    SYSTEM_DATABASES.iter().any(|s| s.eq_ignore_ascii_case(db))
}

/// Typed connector configuration, read with [`TypedConfig::from_raw`]:
/// each field is one key of [`keys`] (with Debezium's default), except
/// `flavor` (from `connector.class`) and the history client settings (the
/// `schema.history.internal.producer.` / `.consumer.` pass-through keys).
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
    /// `database.ssl.*`: TLS mode and trust material.
    pub ssl: SslSettings,
    /// `database.server.id`: the replica id this connector registers with.
    pub server_id: u32,
    /// `topic.prefix`: topic prefix and `source.name`.
    pub topic_prefix: String,
    /// Database / table / column filters.
    pub filters: Filters,
    /// `message.key.columns`: custom key columns by `db.table`.
    pub message_key_columns: KeyColumns,
    /// Debezium's column options (`column.mask.*`, `column.truncate.*`,
    /// `column.propagate.source.type`, `datatype.propagate.source.type`).
    pub column_options: ColumnOptions,
    /// `snapshot.mode` (default `initial`).
    pub snapshot_mode: SnapshotMode,
    /// `snapshot.locking.mode` (default `minimal`).
    pub locking_mode: LockingMode,
    /// `snapshot.lock.timeout.ms` (default 10 s).
    pub snapshot_lock_timeout: Duration,
    /// `gtid.source.includes` / `gtid.source.excludes`.
    pub gtid_sources: GtidSources,
    /// `gtid.source.filter.dml.events` (default true).
    pub gtid_filter_dml: bool,
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
    /// `skipped.operations` (default `t`): the codes (c, u, d, t) of the
    /// operations not emitted.
    pub skipped_operations: Vec<char>,
    /// `event.processing.failure.handling.mode` (default `fail`): what a
    /// binlog event or row that cannot be decoded does (stop the task, or
    /// skip it with or without a warning).
    pub failure_mode: FailureHandlingMode,
    /// `decimal.handling.mode` (default `precise`).
    pub decimal_mode: DecimalMode,
    /// `time.precision.mode` (default `adaptive_time_microseconds`).
    pub time_precision_mode: TimePrecisionMode,
    /// `bigint.unsigned.handling.mode` (default `long`).
    pub bigint_unsigned_mode: BigintUnsignedMode,
    /// `binary.handling.mode` (default `bytes`).
    pub binary_mode: BinaryMode,
    /// `enable.time.adjuster` (default true): years 0-69 of DATE, DATETIME
    /// and TIMESTAMP values become 2000-2069, 70-99 become 1970-1999.
    pub time_adjuster: bool,
    /// `schema.history.internal.kafka.topic`.
    pub history_topic: Option<String>,
    /// `schema.history.internal.kafka.bootstrap.servers`.
    pub history_bootstrap: Option<String>,
    /// `schema.history.internal.store.only.captured.tables.ddl` (default
    /// false): only DDL of captured tables goes to the history, and the
    /// snapshot reads only the captured tables' definitions (else every
    /// table's of every non-system database, as Debezium).
    pub history_only_captured_tables: bool,
    /// `schema.history.internal.store.only.captured.databases.ddl` (default
    /// false): only DDL of captured databases goes to the history, and the
    /// snapshot reads only their tables' definitions.
    pub history_only_captured_databases: bool,
    /// `schema.history.internal.skip.unparseable.ddl` (default false): a
    /// table DDL the parser cannot read is logged and skipped instead of
    /// stopping the task.
    pub history_skip_unparseable_ddl: bool,
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
    /// `heartbeat.interval.ms` (default 0 = off).
    pub heartbeat_interval: Option<Duration>,
    /// `heartbeat.action.query`.
    pub heartbeat_action_query: Option<String>,
    /// `topic.heartbeat.prefix` (default `__debezium-heartbeat`).
    pub heartbeat_topic_prefix: String,
    /// `provide.transaction.metadata` (default false).
    pub provide_transaction_metadata: bool,
    /// `topic.transaction` (default `transaction`): suffix of the transaction topic.
    pub transaction_topic: String,
    /// `connect.timeout.ms` (default 30000).
    pub connect_timeout: Duration,
    /// `signal.data.collection`, `signal.enabled.channels` and
    /// `incremental.snapshot.chunk.size`.
    pub signal: SignalConfig,
}

impl fmt::Debug for MySqlConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MySqlConfig")
            .field("flavor", &self.flavor)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &"[hidden]")
            .field("ssl", &self.ssl)
            .field("server_id", &self.server_id)
            .field("topic_prefix", &self.topic_prefix)
            .field("snapshot_mode", &self.snapshot_mode)
            .finish_non_exhaustive()
    }
}

impl TypedConfig for MySqlConfig {
    const KEYS: &'static [ConfigKey] = KEYS;

    fn read(r: &mut ConfigReader<'_>) -> MySqlConfig {
        let raw = r.raw();
        let filters = CaptureFilters::read(
            r,
            FilterKeys {
                namespace: (&DATABASE_INCLUDE_LIST, &DATABASE_EXCLUDE_LIST),
                table: (&TABLE_INCLUDE_LIST, &TABLE_EXCLUDE_LIST),
                column: (&COLUMN_INCLUDE_LIST, &COLUMN_EXCLUDE_LIST),
                signal: &SIGNAL_DATA_COLLECTION,
            },
            system_database,
        );
        let max_batch_size = r.int(&MAX_BATCH_SIZE);
        let max_queue_size = r.int(&MAX_QUEUE_SIZE);
        if max_queue_size <= max_batch_size && !r.has_error(MAX_BATCH_SIZE.name) {
            r.fail(
                MAX_QUEUE_SIZE.name,
                format!(
                    "must be larger than {} ({max_batch_size}); raise it or lower {}",
                    MAX_BATCH_SIZE.name, MAX_BATCH_SIZE.name
                ),
            );
        }
        let history = read_history(r);
        let flavor = Flavor::from_class(raw.opt_str(CONNECTOR_CLASS).unwrap_or("mysql"));
        let locking_mode: LockingMode = r.choice(&SNAPSHOT_LOCKING_MODE);
        if flavor == Flavor::MariaDb && locking_mode.percona() {
            // Debezium's MariaDB connector has no Percona modes
            r.fail(
                SNAPSHOT_LOCKING_MODE.name,
                format!(
                    "{} is a mode of the MySQL connector (Percona Server's backup locks); the MariaDB connector takes minimal, extended or none",
                    locking_mode.name()
                ),
            );
        }
        MySqlConfig {
            flavor,
            host: r.string(&HOSTNAME),
            port: r.int(&PORT),
            user: r.string(&USER),
            // as given, not trimmed (as Debezium reads it)
            password: raw.get(PASSWORD.name).cloned().unwrap_or_default(),
            ssl: read_ssl(r),
            server_id: r.int(&SERVER_ID),
            topic_prefix: r.string(&TOPIC_PREFIX),
            filters,
            // checked by the key's validator; empty when it failed
            message_key_columns: KeyColumns::parse(&r.string(&MESSAGE_KEY_COLUMNS))
                .unwrap_or_default(),
            column_options: ColumnOptions::read(r),
            snapshot_mode: r.choice(&SNAPSHOT_MODE),
            locking_mode,
            snapshot_lock_timeout: r.millis(&SNAPSHOT_LOCK_TIMEOUT_MS),
            gtid_sources: NameFilter::read(r, &GTID_SOURCE_INCLUDES, &GTID_SOURCE_EXCLUDES),
            gtid_filter_dml: r.bool(&GTID_SOURCE_FILTER_DML_EVENTS),
            include_schema_changes: r.bool(&INCLUDE_SCHEMA_CHANGES),
            include_query: r.bool(&INCLUDE_QUERY),
            keep_alive: r.bool(&CONNECT_KEEP_ALIVE),
            tombstones_on_delete: r.bool(&TOMBSTONES_ON_DELETE),
            skipped_operations: skipped_operations(&r.list(&SKIPPED_OPERATIONS)),
            failure_mode: r.choice(&EVENT_PROCESSING_FAILURE_HANDLING_MODE),
            decimal_mode: r.choice(&DECIMAL_HANDLING_MODE),
            time_precision_mode: r.choice(&TIME_PRECISION_MODE),
            bigint_unsigned_mode: r.choice(&BIGINT_UNSIGNED_HANDLING_MODE),
            binary_mode: r.choice(&BINARY_HANDLING_MODE),
            time_adjuster: r.bool(&ENABLE_TIME_ADJUSTER),
            history_topic: history.0,
            history_bootstrap: history.1,
            history_only_captured_tables: r.bool(&HISTORY_STORE_ONLY_CAPTURED_TABLES_DDL),
            history_only_captured_databases: r.bool(&HISTORY_STORE_ONLY_CAPTURED_DATABASES_DDL),
            history_skip_unparseable_ddl: r.bool(&HISTORY_SKIP_UNPARSEABLE_DDL),
            history_producer: raw
                .with_prefix(HISTORY_PRODUCER_PREFIX)
                .into_iter()
                .collect(),
            history_consumer: raw
                .with_prefix(HISTORY_CONSUMER_PREFIX)
                .into_iter()
                .collect(),
            max_batch_size,
            max_queue_size,
            poll_interval: r.millis(&POLL_INTERVAL_MS),
            heartbeat_interval: Some(r.millis(&HEARTBEAT_INTERVAL_MS)).filter(|d| !d.is_zero()),
            heartbeat_action_query: r.opt_string(&HEARTBEAT_ACTION_QUERY),
            heartbeat_topic_prefix: r.string(&TOPIC_HEARTBEAT_PREFIX),
            provide_transaction_metadata: r.bool(&PROVIDE_TRANSACTION_METADATA),
            transaction_topic: r.string(&TOPIC_TRANSACTION),
            connect_timeout: r.millis(&CONNECT_TIMEOUT_MS),
            signal: {
                let prefix = r.string(&TOPIC_PREFIX);
                SignalConfig::read(r, &prefix)
            },
        }
    }
}

/// Reads `database.ssl.*`: the CA files (`database.ssl.ca` and a PEM
/// `database.ssl.truststore` together) and the client identity (either
/// `database.ssl.cert` + `database.ssl.key` or `database.ssl.keystore`).
fn read_ssl(r: &mut ConfigReader<'_>) -> SslSettings {
    let mode = r.choice(&SSL_MODE);
    let roots = [r.opt_string(&SSL_CA), r.opt_string(&SSL_TRUSTSTORE)]
        .into_iter()
        .flatten()
        .map(PathBuf::from)
        .collect();
    r.check(&SSL_TRUSTSTORE_PASSWORD);
    r.check(&SSL_KEYSTORE_PASSWORD);
    let (cert, key, keystore) = (
        r.opt_string(&SSL_CERT),
        r.opt_string(&SSL_KEY),
        r.opt_string(&SSL_KEYSTORE),
    );
    for (given, missing) in [(&SSL_CERT, &SSL_KEY), (&SSL_KEY, &SSL_CERT)] {
        if r.is_set(given) && !r.is_set(missing) {
            r.fail(
                missing.name,
                format!("must be set with {} (mutual TLS needs both)", given.name),
            );
        }
    }
    if r.is_set(&SSL_KEYSTORE) && (r.is_set(&SSL_CERT) || r.is_set(&SSL_KEY)) {
        r.fail(
            SSL_KEYSTORE.name,
            format!(
                "set either {} or {} + {}, not both",
                SSL_KEYSTORE.name, SSL_CERT.name, SSL_KEY.name
            ),
        );
    }
    let identity = match (cert, key, keystore) {
        (Some(cert), Some(key), None) => Some((cert.into(), key.into())),
        (None, None, Some(store)) => Some((store.clone().into(), store.into())),
        _ => None,
    };
    SslSettings {
        mode,
        roots,
        identity,
    }
}

impl MySqlConfig {
    /// True when the schema snapshot reads `db`.`table`'s definition (and
    /// so writes it to the history): every table of a non-system database,
    /// narrowed to the captured databases by
    /// `schema.history.internal.store.only.captured.databases.ddl` and to the
    /// captured tables by `….store.only.captured.tables.ddl`.
    pub fn schema_snapshot_reads(&self, db: &str, table: &str) -> bool {
        if self.history_only_captured_tables {
            self.filters.table(db, table)
        } else if self.history_only_captured_databases {
            self.filters.namespace(db)
        } else {
            !system_database(db)
        }
    }

    /// `host:port`, for messages.
    pub fn addr(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// True when `skipped.operations` holds `op` (`c`, `u`, `d` or `t`):
    /// its events are not emitted.
    pub fn skips(&self, op: char) -> bool {
        self.skipped_operations.contains(&op)
    }

    /// True when the row events of a transaction from GTID source `source`
    /// (MySQL: the server uuid; MariaDB: `domain-server`) are not emitted:
    /// `gtid.source.filter.dml.events` is on and `gtid.source.includes` /
    /// `.excludes` leave the source out (nothing is filtered when neither
    /// list is set).
    pub fn ignores_dml_of(&self, source: &str) -> bool {
        self.gtid_filter_dml && !self.gtid_sources.is_empty() && !self.gtid_sources.matches(source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use velocity_api::{ConfigErrors, RawConfig};

    fn cfg(pairs: &[(ConfigKey, &str)]) -> RawConfig {
        let mut c: RawConfig = [
            (
                CONNECTOR_CLASS,
                "io.debezium.connector.mysql.MySqlConnector",
            ),
            (HOSTNAME.name, "db"),
            (USER.name, "u"),
            (PASSWORD.name, "s3cret"),
            (SERVER_ID.name, "5400"),
            (TOPIC_PREFIX.name, "shop"),
            (SCHEMA_HISTORY.name, MEMORY_SCHEMA_HISTORY),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for (k, v) in pairs {
            if v.is_empty() {
                c.remove(k.name);
            } else {
                c.insert(k.name.to_string(), v.to_string());
            }
        }
        c
    }

    fn parse(pairs: &[(ConfigKey, &str)]) -> Result<MySqlConfig, ConfigErrors> {
        MySqlConfig::from_raw(&cfg(pairs))
    }

    /// An include list and its exclude list: one error, on the exclude
    /// list, in Debezium's words; the system databases and the signal table.
    #[test]
    fn include_and_exclude_lists_exclude_each_other() {
        for (include, exclude) in [
            (DATABASE_INCLUDE_LIST, DATABASE_EXCLUDE_LIST),
            (TABLE_INCLUDE_LIST, TABLE_EXCLUDE_LIST),
            (COLUMN_INCLUDE_LIST, COLUMN_EXCLUDE_LIST),
            (GTID_SOURCE_INCLUDES, GTID_SOURCE_EXCLUDES),
        ] {
            let e = parse(&[(include.clone(), "a"), (exclude.clone(), "b")]).unwrap_err();
            assert_eq!(e.0.len(), 1, "{e}");
            assert!(e.names(exclude.name), "{e}");
            assert!(e.0[0].1.contains("is already specified"), "{e}");
        }
        let c = parse(&[
            (TABLE_INCLUDE_LIST, "shop.orders"),
            (SIGNAL_DATA_COLLECTION, "ops.Debezium_Signal"),
        ])
        .unwrap();
        assert!(c.filters.table("shop", "orders") && !c.filters.table("shop", "lines"));
        assert!(
            c.filters.table("ops", "debezium_signal"),
            "the signal table"
        );
        assert!(!c.filters.namespace("MySQL") && c.filters.namespace("shop"));
    }

    /// Debezium's column options on the MySQL / MariaDB connector: read
    /// from keys named by their parameters, a bad key one error naming it.
    #[test]
    fn column_options_name_their_keys() {
        let mut raw = cfg(&[]);
        raw.insert(
            "column.truncate.to.20.chars".into(),
            "shop.orders.note".into(),
        );
        raw.insert(
            "column.mask.hash.MD5.with.salt.x".into(),
            "shop.orders.email".into(),
        );
        let c = MySqlConfig::from_raw(&raw).unwrap();
        assert!(!c.column_options.is_empty());
        for (key, rule) in [
            (
                "column.mask.with.five.chars",
                "'five' is not a number of characters",
            ),
            (
                "column.mask.hash.WHIRLPOOL.with.salt.x",
                "WHIRLPOOL MessageDigest not available",
            ),
            (
                "column.mask.hashed.MD5.with.salt.x",
                "is not a column option",
            ),
        ] {
            let mut raw = cfg(&[]);
            raw.insert(key.into(), "shop.orders.note".into());
            let e = MySqlConfig::from_raw(&raw).unwrap_err();
            assert_eq!(e.0.len(), 1, "{key}: {e}");
            assert!(e.names(key) && e.0[0].1.contains(rule), "{key}: {e}");
        }
        for key in velocity_api::debezium::keys::COLUMN_OPTION_KEYS {
            assert!(
                KEYS.iter().any(|k| k.name == key.name),
                "{} not listed",
                key.name
            );
        }
    }

    #[test]
    fn defaults_follow_debezium() {
        let c = parse(&[]).unwrap();
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
        assert_eq!(c.binary_mode, BinaryMode::Bytes);
        assert_eq!(c.failure_mode, FailureHandlingMode::Fail);
        // Debezium's defaults: the whole history, unparseable DDL stops the task
        assert!(!c.history_only_captured_tables && !c.history_only_captured_databases);
        assert!(!c.history_skip_unparseable_ddl);
        assert_eq!(c.max_batch_size, 2048);
        assert_eq!(c.max_queue_size, 8192);
        assert_eq!(c.poll_interval, Duration::from_millis(500));
        assert_eq!(c.connect_timeout, Duration::from_millis(30_000));
        assert_eq!(c.transaction_topic, "transaction");
        assert_eq!(c.flavor, Flavor::MySql);
        assert_eq!(c.skipped_operations, ['t']);
        assert!(c.skips('t') && !c.skips('c'));
        assert!(c.message_key_columns.is_empty());
        assert_eq!(c.heartbeat_interval, None);
        assert_eq!(c.heartbeat_action_query, None);
        assert_eq!(c.heartbeat_topic_prefix, "__debezium-heartbeat");
        assert_eq!((c.history_topic, c.history_bootstrap), (None, None));
        // every declared default reads back as the value above
        // (the listings of keys named by their parameters, such as
        // column.truncate.to.(d+).chars, have no default)
        for key in KEYS
            .iter()
            .filter(|k| !k.required() && !k.default.unwrap().is_empty())
        {
            assert!(key.check(key.default.unwrap()).is_none(), "{}", key.name);
        }
    }

    #[test]
    fn locking_modes_and_their_statements() {
        let c = parse(&[]).unwrap();
        assert_eq!(c.snapshot_lock_timeout, Duration::from_secs(10));
        let mode = |v: &str| parse(&[(SNAPSHOT_LOCKING_MODE, v)]).unwrap().locking_mode;
        use LockingMode::*;
        assert_eq!(mode("extended"), Extended);
        assert_eq!(mode("minimal_percona"), MinimalPercona);
        assert_eq!(
            mode("minimal_percona_no_table_locks"),
            MinimalPerconaNoTableLocks
        );
        assert_eq!(mode("none"), None);
        assert_eq!(
            Minimal.global_lock_sql(),
            Some("FLUSH TABLES WITH READ LOCK")
        );
        assert_eq!(
            Extended.global_lock_sql(),
            Some("FLUSH TABLES WITH READ LOCK")
        );
        assert_eq!(
            MinimalPercona.global_lock_sql(),
            Some("LOCK TABLES FOR BACKUP")
        );
        assert_eq!(
            MinimalPerconaNoTableLocks.global_lock_sql(),
            Some("LOCK TABLES FOR BACKUP")
        );
        assert_eq!(None.global_lock_sql(), Option::None);
        // released after the schema is read: all but extended (and none, which holds nothing)
        assert!(
            Minimal.minimal() && MinimalPercona.minimal() && MinimalPerconaNoTableLocks.minimal()
        );
        assert!(!Extended.minimal() && !None.minimal());
        assert!(Minimal.table_locks_allowed() && Extended.table_locks_allowed());
        assert!(MinimalPercona.table_locks_allowed());
        assert!(!MinimalPerconaNoTableLocks.table_locks_allowed() && !None.table_locks_allowed());
        let e = parse(&[(SNAPSHOT_LOCKING_MODE, "full")]).unwrap_err();
        assert!(e.to_string().contains("snapshot.locking.mode"), "{e}");
    }

    #[test]
    fn gtid_source_filters() {
        let c = parse(&[(GTID_SOURCE_INCLUDES, "0-1,3E11FA47-.*")]).unwrap();
        assert!(c.gtid_sources.matches("0-1") && !c.gtid_sources.matches("0-10"));
        assert!(c
            .gtid_sources
            .matches("3e11fa47-71ca-11e1-9e33-c80aa9429562"));
        let c = parse(&[(GTID_SOURCE_EXCLUDES, "1-.*")]).unwrap();
        assert!(c.gtid_sources.matches("0-1") && !c.gtid_sources.matches("1-2"));
        assert!(parse(&[]).unwrap().gtid_sources.is_empty());
        // gtid.source.filter.dml.events (default true) drops the row events
        // of the sources the lists leave out
        let c = parse(&[(GTID_SOURCE_EXCLUDES, "5-.*")]).unwrap();
        assert!(c.ignores_dml_of("5-1") && !c.ignores_dml_of("0-1"));
        let c = parse(&[
            (GTID_SOURCE_EXCLUDES, "5-.*"),
            (GTID_SOURCE_FILTER_DML_EVENTS, "false"),
        ])
        .unwrap();
        assert!(!c.ignores_dml_of("5-1"));
        assert!(!parse(&[]).unwrap().ignores_dml_of("5-1"));
        let e = parse(&[(GTID_SOURCE_INCLUDES, "0-1"), (GTID_SOURCE_EXCLUDES, "1-2")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("gtid.source.excludes"), "{e}");
    }

    #[test]
    fn the_mariadb_connector_refuses_the_percona_modes() {
        let mut raw = cfg(&[(SNAPSHOT_LOCKING_MODE, "minimal_percona")]);
        raw.insert(
            CONNECTOR_CLASS.into(),
            "io.debezium.connector.mariadb.MariaDbConnector".into(),
        );
        let e = MySqlConfig::from_raw(&raw).unwrap_err();
        let m = e.to_string();
        assert!(
            m.contains("snapshot.locking.mode") && m.contains("minimal, extended or none"),
            "{m}"
        );
        raw.insert(SNAPSHOT_LOCKING_MODE.name.into(), "extended".into());
        assert_eq!(
            MySqlConfig::from_raw(&raw).unwrap().locking_mode,
            LockingMode::Extended
        );
        // the MySQL connector takes them
        let c = parse(&[(SNAPSHOT_LOCKING_MODE, "minimal_percona")]).unwrap();
        assert_eq!(c.locking_mode, LockingMode::MinimalPercona);
    }

    #[test]
    fn errors_name_dotted_keys() {
        let errs = parse(&[
            (SERVER_ID, ""),
            (SNAPSHOT_MODE, "sometimes"),
            (PORT, "x"),
            (TABLE_INCLUDE_LIST, "a.(b"),
        ])
        .unwrap_err();
        for k in [SERVER_ID, SNAPSHOT_MODE, PORT, TABLE_INCLUDE_LIST] {
            assert!(errs.names(k.name), "{} missing in {errs:?}", k.name);
        }
        // one error per key, each naming its key
        assert_eq!(errs.0.len(), 4, "{errs:?}");
        assert!(errs
            .to_string()
            .contains("Missing required configuration \"database.server.id\""));
    }

    #[test]
    fn rules_of_one_key_and_across_keys() {
        let bad = |pairs: &[(ConfigKey, &str)], key: ConfigKey| {
            let errs = parse(pairs).unwrap_err();
            assert!(errs.names(key.name), "{} not in {errs:?}", key.name);
            assert_eq!(errs.0.len(), 1, "{errs:?}");
        };
        bad(&[(SERVER_ID, "0")], SERVER_ID);
        bad(&[(SERVER_ID, "4294967296")], SERVER_ID);
        bad(&[(PORT, "65536")], PORT);
        bad(&[(TOPIC_PREFIX, "shop/eu")], TOPIC_PREFIX);
        bad(&[(MAX_BATCH_SIZE, "8192")], MAX_QUEUE_SIZE);
        bad(&[(INCLUDE_QUERY, "maybe")], INCLUDE_QUERY);
        bad(&[(SKIPPED_OPERATIONS, "c,x")], SKIPPED_OPERATIONS);
        bad(&[(BINARY_HANDLING_MODE, "base32")], BINARY_HANDLING_MODE);
        let c = parse(&[(BINARY_HANDLING_MODE, "base64-url-safe")]).unwrap();
        assert_eq!(c.binary_mode, BinaryMode::Base64UrlSafe);
        bad(&[(MESSAGE_KEY_COLUMNS, "shop.orders")], MESSAGE_KEY_COLUMNS);
        bad(&[(MESSAGE_KEY_COLUMNS, "shop.(:id")], MESSAGE_KEY_COLUMNS);
        bad(&[(HEARTBEAT_INTERVAL_MS, "-1")], HEARTBEAT_INTERVAL_MS);
        let c = parse(&[
            (SKIPPED_OPERATIONS, "none"),
            (MESSAGE_KEY_COLUMNS, "shop.orders:id,line;shop\\.c.*:email"),
            (HEARTBEAT_INTERVAL_MS, "1500"),
            (HEARTBEAT_ACTION_QUERY, "UPDATE hb SET ts = NOW()"),
            (TOPIC_HEARTBEAT_PREFIX, "hb"),
        ])
        .unwrap();
        assert!(c.skipped_operations.is_empty());
        assert_eq!(
            c.message_key_columns.for_table("shop", "orders").unwrap(),
            ["id", "line"]
        );
        assert_eq!(
            c.message_key_columns
                .for_table("shop", "customers")
                .unwrap(),
            ["email"]
        );
        assert_eq!(c.heartbeat_interval, Some(Duration::from_millis(1500)));
        assert_eq!(
            c.heartbeat_action_query.as_deref(),
            Some("UPDATE hb SET ts = NOW()")
        );
        assert_eq!(c.heartbeat_topic_prefix, "hb");
        let errs = parse(&[(SKIPPED_OPERATIONS, "c,x")]).unwrap_err();
        assert!(errs.to_string().contains("skipped.operations"), "{errs}");
        assert!(
            errs.to_string().contains("'x' is not an operation"),
            "{errs}"
        );
        bad(
            &[
                (TABLE_INCLUDE_LIST, "shop.a"),
                (TABLE_EXCLUDE_LIST, "shop.b"),
            ],
            TABLE_EXCLUDE_LIST,
        );
        bad(
            &[
                (DATABASE_INCLUDE_LIST, "shop"),
                (DATABASE_EXCLUDE_LIST, "("),
            ],
            DATABASE_EXCLUDE_LIST,
        );
        let c = parse(&[(SERVER_ID, "4294967295"), (TOPIC_PREFIX, "shop-eu_1.x")]).unwrap();
        assert_eq!(
            (c.server_id, c.topic_prefix.as_str()),
            (u32::MAX, "shop-eu_1.x")
        );
    }

    #[test]
    fn validate_matches_the_config_def() {
        let c = cfg(&[(HOSTNAME, ""), (PORT, "x"), (SNAPSHOT_MODE, "sometimes")]);
        let errs = <MySqlConfig as TypedConfig>::validate(&c);
        let keys: Vec<&str> = errs.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, [HOSTNAME.name, PORT.name, SNAPSHOT_MODE.name]);
        assert_eq!(MySqlConfig::config_def().validate(&c), errs);
        assert!(MySqlConfig::config_def().is_secret(PASSWORD.name));
    }

    #[test]
    fn legacy_snapshot_mode_names() {
        let c = parse(&[(SNAPSHOT_MODE, "schema_only")]).unwrap();
        assert_eq!(c.snapshot_mode, SnapshotMode::NoData);
        let c = parse(&[(SNAPSHOT_MODE, "schema_only_recovery")]).unwrap();
        assert_eq!(c.snapshot_mode, SnapshotMode::Recovery);
        let c = parse(&[(SNAPSHOT_MODE, "NEVER")]).unwrap();
        assert_eq!(c.snapshot_mode, SnapshotMode::Never);
        let c = parse(&[(SNAPSHOT_MODE, "always")]).unwrap();
        assert!(c.snapshot_mode == SnapshotMode::Always && c.snapshot_mode.reads_data());
        assert_eq!(
            SnapshotMode::NAMES,
            [
                "initial",
                "initial_only",
                "no_data",
                "schema_only",
                "never",
                "when_needed",
                "always",
                "recovery",
                "schema_only_recovery"
            ]
        );
    }

    #[test]
    fn debug_hides_password() {
        let c = parse(&[]).unwrap();
        assert!(!format!("{c:?}").contains("s3cret"));
        assert_eq!(c.password, "s3cret");
    }

    #[test]
    fn flavor_from_class() {
        assert_eq!(
            Flavor::from_class("io.debezium.connector.mariadb.MariaDbConnector"),
            Flavor::MariaDb
        );
        assert_eq!(Flavor::from_class("mariadb"), Flavor::MariaDb);
        assert_eq!(Flavor::from_class("mysql"), Flavor::MySql);
        let mut c = cfg(&[]);
        c.insert(
            CONNECTOR_CLASS.into(),
            "io.debezium.connector.mariadb.MariaDbConnector".into(),
        );
        assert_eq!(MySqlConfig::from_raw(&c).unwrap().flavor, Flavor::MariaDb);
    }

    #[test]
    fn history_pass_through_settings() {
        let mut c = cfg(&[
            (SCHEMA_HISTORY, KAFKA_SCHEMA_HISTORY),
            (HISTORY_KAFKA_TOPIC, " h "),
            (HISTORY_KAFKA_BOOTSTRAP_SERVERS, "k:9092"),
        ]);
        c.insert(
            "schema.history.internal.producer.security.protocol".into(),
            "ssl".into(),
        );
        c.insert(
            "schema.history.internal.consumer.fetch.min.bytes".into(),
            "1".into(),
        );
        let c = MySqlConfig::from_raw(&c).unwrap();
        assert_eq!(c.history_topic.as_deref(), Some("h"));
        assert_eq!(c.history_bootstrap.as_deref(), Some("k:9092"));
        assert_eq!(
            c.history_producer,
            [("security.protocol".to_owned(), "ssl".to_owned())]
        );
        assert_eq!(
            c.history_consumer,
            [("fetch.min.bytes".to_owned(), "1".to_owned())]
        );
    }

    #[test]
    fn the_kafka_schema_history_is_required_unless_memory_is_chosen() {
        let mut c = cfg(&[]);
        c.remove(SCHEMA_HISTORY.name);
        let e = MySqlConfig::from_raw(&c).unwrap_err();
        assert!(e.names(HISTORY_KAFKA_TOPIC.name), "{e:?}");
        assert!(e.names(HISTORY_KAFKA_BOOTSTRAP_SERVERS.name), "{e:?}");
        assert_eq!(e.0.len(), 2, "{e:?}");
        assert!(e.0[0].1.starts_with("A value is required"), "{e:?}");
        assert!(e.0[0].1.contains(MEMORY_SCHEMA_HISTORY), "{e:?}");
        let c = MySqlConfig::from_raw(&cfg(&[])).unwrap();
        assert_eq!((c.history_topic, c.history_bootstrap), (None, None));
        let e =
            MySqlConfig::from_raw(&cfg(&[(SCHEMA_HISTORY, "x.FileSchemaHistory")])).unwrap_err();
        assert!(e.names(SCHEMA_HISTORY.name) && e.0.len() == 1, "{e:?}");
    }

    #[test]
    fn filters_match_whole_names() {
        let c = parse(&[
            (DATABASE_INCLUDE_LIST, "shop"),
            (TABLE_EXCLUDE_LIST, "shop\\.audit.*"),
            (COLUMN_EXCLUDE_LIST, "shop\\.customers\\.ssn"),
        ])
        .unwrap();
        assert!(c.filters.table("shop", "orders"));
        assert!(!c.filters.table("shop2", "orders"));
        assert!(!c.filters.table("shop", "audit_log"));
        assert!(!c.filters.table("mysql", "user"));
        assert!(!c.filters.column("shop", "customers", "ssn"));
        assert!(c.filters.column("shop", "customers", "name"));
    }
}
