//! Connector configuration: Debezium's PostgreSQL keys and defaults, each
//! declared once in [`keys`], and [`PostgresConfig`], read from the Kafka
//! Connect flat string map through them ([`TypedConfig`]).
//!
//! Reading collects every problem at once (for the REST validate endpoint),
//! at most one `(dotted key, rule)` pair per key. Unknown keys are ignored
//! here: the runtime keeps them and they never make a connector fail.

use std::time::Duration;

use velocity_api::config::{ConfigExt, ConfigReader, TypedConfig};
use velocity_api::debezium::columns::ColumnOptions;
use velocity_api::debezium::options::{
    skipped_operations, CaptureFilters, FailureHandlingMode, FilterKeys, KeyColumns, NameFilter,
};
use velocity_api::debezium::signal::SignalConfig;
use velocity_api::debezium::snapshot_mode::ConfigurationBased;
use velocity_api::{config_choice, ConfigKey};

use crate::protocol::ConnectParams;
use crate::replica_identity::ReplicaIdentityMapper;
use crate::types::{TypeModes, UnavailablePlaceholder};

pub use keys::*;

/// The connector's keys (those of Debezium's that Velocity implements), each
/// declared once: name, type, Debezium's default, importance, documentation
/// and the rule its value must follow.
pub mod keys {
    use super::{check_override_tables, check_slot_name, PublicationMode, SnapshotMode};
    use crate::protocol::SslMode;
    use crate::types::{
        DecimalMode, HstoreMode, IntervalMode, TimePrecisionMode, UnavailablePlaceholder,
    };
    use velocity_api::config::{ConfigKey, ConfigType::*, Importance::*};

    velocity_api::config_keys! {
        /// `database.hostname` (required).
        HOSTNAME = velocity_api::debezium::keys::HOSTNAME;
        /// `database.port` (default 5432).
        PORT = ConfigKey::new("database.port", Int, Some("5432"), High, "Port of the database server.").range(1, 65535);
        /// `database.user` (required).
        USER = ConfigKey::new("database.user", String, None, High, "Name of the database user (needs REPLICATION or superuser).");
        /// `database.password` (a secret: never logged or shown).
        PASSWORD = velocity_api::debezium::keys::PASSWORD;
        /// `database.dbname` (required).
        DBNAME = ConfigKey::new("database.dbname", String, None, High, "The name of the database from which the connector should capture changes.");
        /// `database.sslmode` (default `prefer`): a [`SslMode`] name.
        SSLMODE = ConfigKey::new("database.sslmode", String, Some("prefer"), Medium, "Whether to use an encrypted connection: disable, allow, prefer, require, verify-ca, verify-full.").one_of(SslMode::NAMES);
        /// `database.sslrootcert`: PEM file of trusted root certificates.
        SSLROOTCERT = ConfigKey::new("database.sslrootcert", String, Some(""), Low, "File containing the root certificate(s) against which the server is validated.");
        /// `topic.prefix` (required): topic prefix and `source.name`; only
        /// characters valid in a Kafka topic name.
        TOPIC_PREFIX = velocity_api::debezium::keys::TOPIC_PREFIX;
        /// `plugin.name` (default `pgoutput`, the only plugin Velocity decodes).
        PLUGIN_NAME = ConfigKey::new("plugin.name", String, Some("pgoutput"), Medium, "The logical decoding plugin; Velocity supports pgoutput.").one_of(&["pgoutput"]);
        /// `slot.name` (default `debezium`): a valid replication slot name.
        SLOT_NAME = ConfigKey::new("slot.name", String, Some("debezium"), Medium, "The name of the PostgreSQL logical decoding slot.").validate_with(check_slot_name);
        /// `slot.drop.on.stop` (default false).
        SLOT_DROP_ON_STOP = ConfigKey::new("slot.drop.on.stop", Boolean, Some("false"), Low, "Drop the logical replication slot when the connector stops gracefully.");
        /// `slot.max.retries` (default 6, at most 1000).
        SLOT_MAX_RETRIES = ConfigKey::new("slot.max.retries", Int, Some("6"), Low, "How many times to retry when the replication slot is in use.").range(0, 1000);
        /// `slot.retry.delay.ms` (default 10000, at most one hour).
        SLOT_RETRY_DELAY_MS = ConfigKey::new("slot.retry.delay.ms", Long, Some("10000"), Low, "Time between retries when the replication slot is in use.").range(0, 3_600_000);
        /// `slot.failover` (default false): create the slot as a failover
        /// slot (PostgreSQL 17 or later; refused against an older server).
        SLOT_FAILOVER = ConfigKey::new("slot.failover", Boolean, Some("false"), Medium, "Create the replication slot as a failover slot (CREATE_REPLICATION_SLOT ... FAILOVER), synchronized to standbys; needs PostgreSQL 17 or later.");
        /// `publication.name` (default `dbz_publication`).
        PUBLICATION_NAME = ConfigKey::new("publication.name", String, Some("dbz_publication"), Low, "The name of the PostgreSQL publication used with pgoutput.");
        /// `publication.autocreate.mode` (default `all_tables`): a [`PublicationMode`] name.
        PUBLICATION_AUTOCREATE_MODE = ConfigKey::new("publication.autocreate.mode", String, Some("all_tables"), Low, "all_tables (CREATE PUBLICATION <name> FOR ALL TABLES when missing), filtered (created or updated FOR TABLE <the captured tables>), no_tables (CREATE PUBLICATION <name> with no table when missing; tables are added to it by the user) or disabled (the publication must exist).").one_of(PublicationMode::NAMES);
        /// `replica.identity.autoset.values`: `<table regex>:<identity>`
        /// entries; the captured tables' replica identities set at start.
        REPLICA_IDENTITY_AUTOSET_VALUES = ConfigKey::new("replica.identity.autoset.values", String, Some(""), Medium, "Applies only when streaming changes using pgoutput. Determines the value for Replica Identity at table level, overwriting the existing value in the database: a comma-separated list of '<fully-qualified table regex>:<replica identity>' entries, the replica identity one of DEFAULT, FULL, NOTHING or INDEX <index_name>; at start the connector runs ALTER TABLE ... REPLICA IDENTITY ... on each captured table one entry matches.").validate_with(crate::replica_identity::ReplicaIdentityMapper::check);
        /// `publish.via.partition.root` (default false): the publication the
        /// connector creates publishes partitions' changes as their root's.
        PUBLISH_VIA_PARTITION_ROOT = ConfigKey::new("publish.via.partition.root", Boolean, Some("false"), Medium, "When the connector creates the publication (publication.autocreate.mode all_tables, filtered or no_tables), create it WITH (publish_via_partition_root = true): changes of a partitioned table's partitions are emitted on the topic of the partitioned (root) table, and the snapshot reads the root only.");
        /// `schema.include.list`: regular expressions of captured schemas.
        SCHEMA_INCLUDE_LIST = ConfigKey::new("schema.include.list", List, Some(""), Medium, "Regular expressions of schemas to capture.");
        /// `schema.exclude.list` (not with `schema.include.list`).
        SCHEMA_EXCLUDE_LIST = ConfigKey::new("schema.exclude.list", List, Some(""), Medium, "Regular expressions of schemas not to capture.");
        /// `table.include.list`: regular expressions of captured `schema.table` names.
        TABLE_INCLUDE_LIST = velocity_api::debezium::keys::TABLE_INCLUDE_LIST;
        /// `table.exclude.list` (not with `table.include.list`).
        TABLE_EXCLUDE_LIST = velocity_api::debezium::keys::TABLE_EXCLUDE_LIST;
        /// `column.include.list`: regular expressions of captured `schema.table.column` names.
        COLUMN_INCLUDE_LIST = velocity_api::debezium::keys::COLUMN_INCLUDE_LIST;
        /// `column.exclude.list` (not with `column.include.list`).
        COLUMN_EXCLUDE_LIST = velocity_api::debezium::keys::COLUMN_EXCLUDE_LIST;
        /// `message.prefix.include.list`: regular expressions of the
        /// prefixes of the logical decoding messages emitted (all by default).
        MESSAGE_PREFIX_INCLUDE_LIST = ConfigKey::new("message.prefix.include.list", List, Some(""), Medium, "Regular expressions matching the prefixes of the logical decoding messages (pg_logical_emit_message) to emit on <topic.prefix>.message; all prefixes by default.");
        /// `message.prefix.exclude.list` (not with `message.prefix.include.list`).
        MESSAGE_PREFIX_EXCLUDE_LIST = ConfigKey::new("message.prefix.exclude.list", List, Some(""), Medium, "Regular expressions matching the prefixes of the logical decoding messages not to emit.");
        /// `snapshot.mode` (default `initial`): a [`SnapshotMode`] name.
        SNAPSHOT_MODE = ConfigKey::new("snapshot.mode", String, Some("initial"), Medium, "initial, initial_only, no_data (never), always, when_needed or configuration_based (the snapshot.mode.configuration.based.* keys decide).").one_of(SnapshotMode::NAMES);
        /// `snapshot.mode.configuration.based.snapshot.data` (default false).
        SNAPSHOT_MODE_CONFIGURATION_BASED_SNAPSHOT_DATA = velocity_api::debezium::snapshot_mode::SNAPSHOT_DATA;
        /// `snapshot.mode.configuration.based.snapshot.schema` (default false;
        /// PostgreSQL keeps no schema history, so it changes nothing).
        SNAPSHOT_MODE_CONFIGURATION_BASED_SNAPSHOT_SCHEMA = velocity_api::debezium::snapshot_mode::SNAPSHOT_SCHEMA;
        /// `snapshot.mode.configuration.based.start.stream` (default false).
        SNAPSHOT_MODE_CONFIGURATION_BASED_START_STREAM = velocity_api::debezium::snapshot_mode::START_STREAM;
        /// `snapshot.mode.configuration.based.snapshot.on.schema.error` (default false).
        SNAPSHOT_MODE_CONFIGURATION_BASED_SNAPSHOT_ON_SCHEMA_ERROR = velocity_api::debezium::snapshot_mode::SNAPSHOT_ON_SCHEMA_ERROR;
        /// `snapshot.mode.configuration.based.snapshot.on.data.error` (default false).
        SNAPSHOT_MODE_CONFIGURATION_BASED_SNAPSHOT_ON_DATA_ERROR = velocity_api::debezium::snapshot_mode::SNAPSHOT_ON_DATA_ERROR;
        /// `snapshot.fetch.size` (default 10240).
        SNAPSHOT_FETCH_SIZE = ConfigKey::new("snapshot.fetch.size", Int, Some("10240"), Medium, "Rows fetched per round trip while snapshotting.").range(1, 10_000_000);
        /// `snapshot.include.collection.list`: regular expressions of the
        /// captured `schema.table` names the snapshot reads (all captured
        /// tables by default; the others are streamed only).
        SNAPSHOT_INCLUDE_COLLECTION_LIST = ConfigKey::new("snapshot.include.collection.list", List, Some(""), Medium, "Regular expressions matching the fully-qualified names (schema.table) of the captured tables whose data the snapshot reads; by default all captured tables. Tables not matched are streamed only.");
        /// `snapshot.select.statement.overrides`: `schema.table` names whose
        /// snapshot reads the statement of
        /// `snapshot.select.statement.overrides.<schema.table>`.
        SNAPSHOT_SELECT_STATEMENT_OVERRIDES = ConfigKey::new("snapshot.select.statement.overrides", List, Some(""), Medium, "Comma-separated fully-qualified tables (schema.table) whose snapshot reads the SELECT given by 'snapshot.select.statement.overrides.<schema.table>' instead of all rows.").validate_with(check_override_tables);
        /// `snapshot.max.threads` (default 1): connections reading the
        /// snapshot in parallel, all in the same exported snapshot.
        SNAPSHOT_MAX_THREADS = ConfigKey::new("snapshot.max.threads", Int, Some("1"), Medium, "The maximum number of threads used to perform the snapshot. Defaults to 1.").range(1, 1024);
        /// `snapshot.max.threads.multiplier` (default 1): chunks per table
        /// are `snapshot.max.threads` times this (per table:
        /// `snapshot.max.threads.multiplier.<schema.table>`).
        SNAPSHOT_MAX_THREADS_MULTIPLIER = ConfigKey::new("snapshot.max.threads.multiplier", Int, Some("1"), Medium, "The factor used to scale the number of snapshot chunks per table: a table is read in up to snapshot.max.threads * snapshot.max.threads.multiplier key ranges.").range(1, 1024);
        /// `legacy.snapshot.max.threads` (default false): one thread per
        /// table, tables not split into key ranges.
        LEGACY_SNAPSHOT_MAX_THREADS = ConfigKey::new("legacy.snapshot.max.threads", Boolean, Some("false"), Low, "When enabled, uses the legacy table-per-thread parallel snapshot algorithm. When set to false (the default), tables are split into chunks and processed across all snapshot threads, allowing for higher concurrency for snapshots.");
        /// `tombstones.on.delete` (default true).
        TOMBSTONES_ON_DELETE = velocity_api::debezium::keys::TOMBSTONES_ON_DELETE;
        /// `heartbeat.interval.ms` (default 0 = no heartbeats).
        HEARTBEAT_INTERVAL_MS = velocity_api::debezium::keys::HEARTBEAT_INTERVAL_MS;
        /// `heartbeat.action.query`: SQL run on every heartbeat.
        HEARTBEAT_ACTION_QUERY = velocity_api::debezium::keys::HEARTBEAT_ACTION_QUERY;
        /// `topic.heartbeat.prefix` (default `__debezium-heartbeat`).
        TOPIC_HEARTBEAT_PREFIX = velocity_api::debezium::keys::TOPIC_HEARTBEAT_PREFIX;
        /// `skipped.operations` (default `t`): any of `c`, `u`, `d`, `t`, or `none`.
        SKIPPED_OPERATIONS = velocity_api::debezium::keys::SKIPPED_OPERATIONS;
        /// `event.processing.failure.handling.mode` (default `fail`).
        EVENT_PROCESSING_FAILURE_HANDLING_MODE = velocity_api::debezium::keys::EVENT_PROCESSING_FAILURE_HANDLING_MODE;
        /// `max.batch.size` (default 2048).
        MAX_BATCH_SIZE = velocity_api::debezium::keys::MAX_BATCH_SIZE;
        /// `max.queue.size` (default 8192; larger than `max.batch.size`).
        MAX_QUEUE_SIZE = velocity_api::debezium::keys::MAX_QUEUE_SIZE;
        /// `poll.interval.ms` (default 500).
        POLL_INTERVAL_MS = velocity_api::debezium::keys::POLL_INTERVAL_MS;
        /// `status.update.interval.ms` (default 10000).
        STATUS_UPDATE_INTERVAL_MS = ConfigKey::new("status.update.interval.ms", Int, Some("10000"), Low, "Interval of standby status updates to the server.").range(1, 3_600_000);
        /// `decimal.handling.mode` (default `precise`): a [`DecimalMode`] name.
        DECIMAL_HANDLING_MODE = ConfigKey::new("decimal.handling.mode", String, Some("precise"), Medium, "precise, double or string.").one_of(DecimalMode::NAMES);
        /// `time.precision.mode` (default `adaptive`): a [`TimePrecisionMode`] name.
        TIME_PRECISION_MODE = ConfigKey::new("time.precision.mode", String, Some("adaptive"), Medium, "adaptive, adaptive_time_microseconds or connect.").one_of(TimePrecisionMode::NAMES);
        /// `binary.handling.mode` (default `bytes`): a [`BinaryMode`] name.
        BINARY_HANDLING_MODE = velocity_api::debezium::keys::BINARY_HANDLING_MODE;
        /// `hstore.handling.mode` (default `json`): a [`HstoreMode`] name.
        HSTORE_HANDLING_MODE = ConfigKey::new("hstore.handling.mode", String, Some("json"), Low, "json or map.").one_of(HstoreMode::NAMES);
        /// `interval.handling.mode` (default `numeric`): an [`IntervalMode`] name.
        INTERVAL_HANDLING_MODE = ConfigKey::new("interval.handling.mode", String, Some("numeric"), Low, "numeric or string.").one_of(IntervalMode::NAMES);
        /// `money.fraction.digits` (default 2).
        MONEY_FRACTION_DIGITS = ConfigKey::new("money.fraction.digits", Short, Some("2"), Low, "Fraction digits of money values.").range(0, 100);
        /// `unavailable.value.placeholder` (default
        /// `__debezium_unavailable_value`; `hex:` + hex digits for bytes).
        UNAVAILABLE_VALUE_PLACEHOLDER = ConfigKey::new("unavailable.value.placeholder", String, Some(crate::types::UNAVAILABLE_VALUE), Medium, "The constant emitted in place of a TOASTed value that the database did not send (unchanged). If it starts with 'hex:', the rest is hexadecimal-encoded octets.").validate_with(UnavailablePlaceholder::check);
        /// `message.key.columns`: `schema.table:col,col;…` (table part a regular expression).
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
        /// `provide.transaction.metadata` (default false).
        PROVIDE_TRANSACTION_METADATA = velocity_api::debezium::keys::PROVIDE_TRANSACTION_METADATA;
        /// `topic.transaction` (default `transaction`).
        TOPIC_TRANSACTION = velocity_api::debezium::keys::TOPIC_TRANSACTION;
        /// `signal.data.collection`: the signal table (`schema.table`).
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

config_choice! {
    /// `snapshot.mode`.
    pub enum SnapshotMode {
        /// Snapshot when there is no stored offset, then stream.
        Initial = "initial",
        /// Snapshot when there is no stored offset, then stop streaming.
        InitialOnly = "initial_only",
        /// Never snapshot data (`no_data`, formerly `never`).
        NoData = "no_data" | "never",
        /// Snapshot at every start, then stream.
        Always = "always",
        /// Snapshot when there is no offset or the stored position is gone.
        WhenNeeded = "when_needed",
        /// The `snapshot.mode.configuration.based.*` keys decide
        /// ([`ConfigurationBased`]).
        ConfigurationBased = "configuration_based",
    }
}

config_choice! {
    /// `publication.autocreate.mode`.
    pub enum PublicationMode {
        /// `CREATE PUBLICATION … FOR ALL TABLES` when missing.
        AllTables = "all_tables",
        /// Create / update the publication for the captured tables only.
        Filtered = "filtered",
        /// `CREATE PUBLICATION …` with no table when missing (the user adds
        /// tables to it); an existing one is kept as it is.
        NoTables = "no_tables",
        /// The publication must exist.
        Disabled = "disabled",
    }
}

/// The capture filters: `schema.*`, `table.*` and `column.*` include /
/// exclude lists and the signal table ([`CaptureFilters`]); PostgreSQL's
/// own schemas (`pg_catalog`, `information_schema`, `pg_toast*`) are never
/// captured.
pub type Filters = CaptureFilters;

/// PostgreSQL's own schemas, never captured.
fn system_schema(schema: &str) -> bool {
    matches!(schema, "pg_catalog" | "information_schema") || schema.starts_with("pg_toast")
}

/// Reads [`Filters`] from the six list keys and `signal.data.collection`.
fn read_filters(r: &mut ConfigReader<'_>) -> Filters {
    let keys = FilterKeys {
        namespace: (&SCHEMA_INCLUDE_LIST, &SCHEMA_EXCLUDE_LIST),
        table: (&TABLE_INCLUDE_LIST, &TABLE_EXCLUDE_LIST),
        column: (&COLUMN_INCLUDE_LIST, &COLUMN_EXCLUDE_LIST),
        signal: &SIGNAL_DATA_COLLECTION,
    };
    CaptureFilters::read(r, keys, system_schema)
}

/// Typed connector configuration.
#[derive(Debug, Clone)]
pub struct PostgresConfig {
    /// Replication connection parameters (password never printed).
    pub connect: ConnectParams,
    /// `topic.prefix`: topic and `source.name`.
    pub topic_prefix: String,
    /// `slot.name` (default `debezium`).
    pub slot_name: String,
    /// `slot.drop.on.stop` (default false).
    pub slot_drop_on_stop: bool,
    /// `slot.max.retries` (default 6): attempts when the slot is still active
    /// (e.g. the previous process was killed and its walsender has not noticed yet).
    pub slot_max_retries: u32,
    /// `slot.retry.delay.ms` (default 10000).
    pub slot_retry_delay: Duration,
    /// `slot.failover` (default false): create a failover slot
    /// (PostgreSQL 17+; the reader refuses it against an older server).
    pub slot_failover: bool,
    /// `publication.name` (default `dbz_publication`).
    pub publication_name: String,
    /// `publication.autocreate.mode` (default `all_tables`).
    pub publication_mode: PublicationMode,
    /// `replica.identity.autoset.values`: the replica identities set on
    /// the captured tables at start (empty: none).
    pub replica_identity: ReplicaIdentityMapper,
    /// `publish.via.partition.root` (default false).
    pub publish_via_partition_root: bool,
    /// The `publish` parameter of the publication the connector creates:
    /// the operations `skipped.operations` does not skip (e.g.
    /// `insert,update,delete`), when that key is set and skips something,
    /// as Debezium; `None` (PostgreSQL's default, all operations) otherwise.
    pub publication_publish: Option<String>,
    /// Table and column filters.
    pub filters: Filters,
    /// `message.prefix.include.list` / `message.prefix.exclude.list`: the
    /// logical decoding messages emitted, by prefix.
    pub message_prefixes: NameFilter,
    /// `snapshot.mode` (default `initial`).
    pub snapshot_mode: SnapshotMode,
    /// `snapshot.mode.configuration.based.*`, read whatever the mode (they
    /// matter under `snapshot.mode=configuration_based` only).
    pub configuration_based: ConfigurationBased,
    /// `snapshot.fetch.size` (default 10240).
    pub snapshot_fetch_size: usize,
    /// How the snapshot reads its tables: which, with what statement, on
    /// how many connections.
    pub snapshot: SnapshotOptions,
    /// `tombstones.on.delete` (default true).
    pub tombstones_on_delete: bool,
    /// `heartbeat.interval.ms` (default 0 = off).
    pub heartbeat_interval: Option<Duration>,
    /// `heartbeat.action.query`.
    pub heartbeat_action_query: Option<String>,
    /// `topic.heartbeat.prefix` (default `__debezium-heartbeat`).
    pub heartbeat_topic_prefix: String,
    /// `skipped.operations` (default `t`): any of c, u, d, t.
    pub skipped_operations: Vec<char>,
    /// `event.processing.failure.handling.mode` (default `fail`): what a
    /// streamed change whose values cannot be decoded does (stop the task,
    /// or skip it with or without a warning).
    pub failure_mode: FailureHandlingMode,
    /// `max.batch.size` (default 2048).
    pub max_batch_size: usize,
    /// `max.queue.size` (default 8192).
    pub max_queue_size: usize,
    /// `poll.interval.ms` (default 500).
    pub poll_interval: Duration,
    /// `status.update.interval.ms` (default 10000).
    pub status_update_interval: Duration,
    /// Type handling modes.
    pub modes: TypeModes,
    /// `unavailable.value.placeholder`: what replaces an unchanged TOASTed value.
    pub unavailable_placeholder: UnavailablePlaceholder,
    /// `message.key.columns`: `schema.table:col,col;…`.
    pub message_key_columns: KeyColumns,
    /// Debezium's column options (`column.mask.*`, `column.truncate.*`,
    /// `column.propagate.source.type`, `datatype.propagate.source.type`).
    pub column_options: ColumnOptions,
    /// `provide.transaction.metadata` (default false).
    pub provide_transaction_metadata: bool,
    /// `topic.transaction` (default `transaction`).
    pub transaction_topic: String,
    /// `signal.data.collection`, `signal.enabled.channels` and
    /// `incremental.snapshot.chunk.size`.
    pub signal: SignalConfig,
}

impl TypedConfig for PostgresConfig {
    const KEYS: &'static [ConfigKey] = KEYS;

    fn read(r: &mut ConfigReader<'_>) -> PostgresConfig {
        let mut connect = ConnectParams::new(
            r.string(&HOSTNAME),
            r.int(&PORT),
            r.string(&USER),
            r.string(&DBNAME),
        );
        connect.password = r.opt_string(&PASSWORD);
        connect.sslmode = r.choice(&SSLMODE);
        connect.sslrootcert = r.opt_string(&SSLROOTCERT).map(Into::into);
        // `name` is the runtime's connector name, not one of this plugin's keys.
        connect.application_name = format!("velocity-{}", r.raw().str_or("name", "postgres"));
        // Only pgoutput is accepted; there is nothing else to read.
        r.check(&PLUGIN_NAME);
        let max_batch_size = r.int(&MAX_BATCH_SIZE);
        let max_queue_size = r.int(&MAX_QUEUE_SIZE);
        if max_queue_size <= max_batch_size
            && !r.has_error(MAX_BATCH_SIZE.name)
            && !r.has_error(MAX_QUEUE_SIZE.name)
        {
            r.fail(
                MAX_QUEUE_SIZE.name,
                format!("must be larger than max.batch.size ({max_batch_size}), as in Debezium"),
            );
        }
        let heartbeat = r.millis(&HEARTBEAT_INTERVAL_MS);
        let skipped = skipped_operations(&r.list(&SKIPPED_OPERATIONS));
        let skipped_set = r.raw().contains_key(SKIPPED_OPERATIONS.name);
        PostgresConfig {
            connect,
            topic_prefix: r.string(&TOPIC_PREFIX),
            slot_name: r.string(&SLOT_NAME),
            slot_drop_on_stop: r.bool(&SLOT_DROP_ON_STOP),
            slot_max_retries: r.int(&SLOT_MAX_RETRIES),
            slot_retry_delay: r.millis(&SLOT_RETRY_DELAY_MS),
            slot_failover: r.bool(&SLOT_FAILOVER),
            publication_name: r.string(&PUBLICATION_NAME),
            publication_mode: r.choice(&PUBLICATION_AUTOCREATE_MODE),
            replica_identity: read_replica_identity(r),
            publish_via_partition_root: r.bool(&PUBLISH_VIA_PARTITION_ROOT),
            publication_publish: crate::publication::publish_option(skipped_set, &skipped),
            filters: read_filters(r),
            message_prefixes: NameFilter::read(
                r,
                &MESSAGE_PREFIX_INCLUDE_LIST,
                &MESSAGE_PREFIX_EXCLUDE_LIST,
            ),
            snapshot_mode: r.choice(&SNAPSHOT_MODE),
            configuration_based: ConfigurationBased::read(r),
            snapshot_fetch_size: r.int(&SNAPSHOT_FETCH_SIZE),
            snapshot: SnapshotOptions::read(r),
            tombstones_on_delete: r.bool(&TOMBSTONES_ON_DELETE),
            heartbeat_interval: (!heartbeat.is_zero()).then_some(heartbeat),
            heartbeat_action_query: r.opt_string(&HEARTBEAT_ACTION_QUERY),
            heartbeat_topic_prefix: r.string(&TOPIC_HEARTBEAT_PREFIX),
            skipped_operations: skipped,
            failure_mode: r.choice(&EVENT_PROCESSING_FAILURE_HANDLING_MODE),
            max_batch_size,
            max_queue_size,
            poll_interval: r.millis(&POLL_INTERVAL_MS),
            status_update_interval: r.millis(&STATUS_UPDATE_INTERVAL_MS),
            modes: TypeModes {
                decimal: r.choice(&DECIMAL_HANDLING_MODE),
                time: r.choice(&TIME_PRECISION_MODE),
                binary: r.choice(&BINARY_HANDLING_MODE),
                hstore: r.choice(&HSTORE_HANDLING_MODE),
                interval: r.choice(&INTERVAL_HANDLING_MODE),
                money_fraction_digits: r.int(&MONEY_FRACTION_DIGITS),
            },
            // checked by the key's validator; the default when it failed
            unavailable_placeholder: UnavailablePlaceholder::parse(
                &r.string(&UNAVAILABLE_VALUE_PLACEHOLDER),
            )
            .unwrap_or_default(),
            // checked by the key's validator; empty when it failed
            message_key_columns: KeyColumns::parse(&r.string(&MESSAGE_KEY_COLUMNS))
                .unwrap_or_default(),
            column_options: ColumnOptions::read(r),
            provide_transaction_metadata: r.bool(&PROVIDE_TRANSACTION_METADATA),
            transaction_topic: r.string(&TOPIC_TRANSACTION),
            signal: {
                let prefix = r.string(&TOPIC_PREFIX);
                SignalConfig::read(r, &prefix)
            },
        }
    }
}

impl PostgresConfig {
    /// Custom key columns for `schema.table`, if `message.key.columns` names it.
    pub fn key_columns_for(&self, schema: &str, table: &str) -> Option<&[String]> {
        self.message_key_columns.for_table(schema, table)
    }
}

/// `replica.identity.autoset.values`: checked by the key's validator (an
/// empty mapper when it failed); set but empty is Debezium's `Must not be
/// empty`.
fn read_replica_identity(r: &mut ConfigReader<'_>) -> ReplicaIdentityMapper {
    let key = &REPLICA_IDENTITY_AUTOSET_VALUES;
    if r.raw().get(key.name).is_some_and(|v| v.trim().is_empty()) {
        r.fail(key.name, "Must not be empty");
    }
    r.opt_string(key)
        .and_then(|v| ReplicaIdentityMapper::parse(&v).ok())
        .unwrap_or_default()
}

/// The prefix of the per-table keys of `snapshot.select.statement.overrides`.
pub const SELECT_OVERRIDE_PREFIX: &str = "snapshot.select.statement.overrides.";

/// The prefix of the per-table keys of `snapshot.max.threads.multiplier`.
pub const MULTIPLIER_PREFIX: &str = "snapshot.max.threads.multiplier.";

/// How the initial snapshot reads its tables (Debezium's snapshot keys).
#[derive(Debug, Clone)]
pub struct SnapshotOptions {
    /// `snapshot.include.collection.list` (empty: every captured table).
    pub include: NameFilter,
    /// `snapshot.select.statement.overrides`: `(schema.table, statement)`;
    /// the statement is None when its key is missing (the table is then
    /// read as usual, with Debezium's warning).
    pub overrides: Vec<(String, Option<String>)>,
    /// `snapshot.max.threads` (default 1).
    pub max_threads: usize,
    /// `snapshot.max.threads.multiplier` (default 1).
    pub multiplier: usize,
    /// `snapshot.max.threads.multiplier.<schema.table>`: per-table multipliers
    /// (a value that is not a positive integer is ignored with a warning, as
    /// in Debezium).
    pub table_multipliers: Vec<(String, String)>,
    /// `legacy.snapshot.max.threads` (default false).
    pub legacy: bool,
}

impl SnapshotOptions {
    fn read(r: &mut ConfigReader<'_>) -> SnapshotOptions {
        let overrides = r
            .list(&SNAPSHOT_SELECT_STATEMENT_OVERRIDES)
            .into_iter()
            .map(|t| {
                let stmt = r
                    .raw()
                    .get(&format!("{SELECT_OVERRIDE_PREFIX}{t}"))
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty());
                (t, stmt)
            })
            .collect();
        let table_multipliers = r
            .raw()
            .iter()
            .filter_map(|(k, v)| {
                k.strip_prefix(MULTIPLIER_PREFIX)
                    .map(|t| (t.to_owned(), v.trim().to_owned()))
            })
            .collect();
        SnapshotOptions {
            include: NameFilter::read_include(r, &SNAPSHOT_INCLUDE_COLLECTION_LIST),
            overrides,
            max_threads: r.int(&SNAPSHOT_MAX_THREADS),
            multiplier: r.int(&SNAPSHOT_MAX_THREADS_MULTIPLIER),
            table_multipliers,
            legacy: r.bool(&LEGACY_SNAPSHOT_MAX_THREADS),
        }
    }

    /// True when the snapshot reads `schema.table`'s data
    /// (`snapshot.include.collection.list`, whole and case-insensitive
    /// matches, as Debezium's).
    pub fn includes(&self, schema: &str, table: &str) -> bool {
        self.include.matches(&format!("{schema}.{table}"))
    }

    /// The statement `snapshot.select.statement.overrides.<schema.table>`
    /// gives `schema.table`, if listed.
    pub fn select_override(&self, schema: &str, table: &str) -> Option<&str> {
        let full = format!("{schema}.{table}");
        self.overrides
            .iter()
            .find(|(t, _)| *t == full)
            .and_then(|(_, s)| s.as_deref())
    }

    /// Tables listed in `snapshot.select.statement.overrides` without a
    /// statement key (Debezium warns and reads them as usual).
    pub fn overrides_missing(&self) -> impl Iterator<Item = &str> {
        self.overrides
            .iter()
            .filter(|(_, s)| s.is_none())
            .map(|(t, _)| t.as_str())
    }

    /// Tables are split into key ranges (Debezium 3.5+'s chunked snapshot):
    /// unless `legacy.snapshot.max.threads`, when more than one thread or a
    /// multiplier above 1 is configured.
    pub fn chunked(&self) -> bool {
        !self.legacy && (self.max_threads > 1 || self.max_multiplier() > 1)
    }

    /// The multiplier of `schema.table`: its own key when that is a
    /// positive integer (otherwise a warning), else
    /// `snapshot.max.threads.multiplier`.
    pub fn multiplier_for(&self, schema: &str, table: &str) -> usize {
        let full = format!("{schema}.{table}");
        match self.table_multipliers.iter().find(|(t, _)| *t == full) {
            Some((_, v)) => match v.parse::<usize>() {
                Ok(n) if n > 0 => n,
                _ => {
                    tracing::warn!("The value of '{MULTIPLIER_PREFIX}{full}' is not a valid positive integer, using the value from 'snapshot.max.threads.multiplier' as a fallback.");
                    self.multiplier
                }
            },
            None => self.multiplier,
        }
    }

    /// The largest multiplier configured (Debezium's
    /// `getMaxSnapshotMaxThreadsMultiplier`).
    fn max_multiplier(&self) -> usize {
        self.table_multipliers
            .iter()
            .filter_map(|(_, v)| v.parse::<usize>().ok())
            .max()
            .unwrap_or(0)
            .max(self.multiplier)
    }
}

/// Validator of `snapshot.select.statement.overrides`: every item is a
/// `schema.table` name.
fn check_override_tables(v: &str) -> Result<(), String> {
    match velocity_api::config::split_list(v)
        .into_iter()
        .find(|t| !matches!(t.split_once('.'), Some((s, n)) if !s.is_empty() && !n.is_empty()))
    {
        None => Ok(()),
        Some(t) => Err(format!(
            "'{t}' is not a fully-qualified table name: use <schema>.<table>"
        )),
    }
}

/// PostgreSQL's rule for replication slot names.
fn check_slot_name(v: &str) -> Result<(), String> {
    if v.len() <= 63
        && v.chars()
            .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_')
    {
        Ok(())
    } else {
        Err("not a valid replication slot name: use at most 63 lower-case letters, digits and underscores".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use velocity_api::config::ConfigType;
    use velocity_api::{ConfigErrors, RawConfig};

    use crate::protocol::SslMode;
    use crate::types::{BinaryMode, DecimalMode, HstoreMode, IntervalMode, TimePrecisionMode};

    use velocity_api::config::raw_config as cfg;

    fn base() -> RawConfig {
        cfg(&[
            ("database.hostname", "h"),
            ("database.user", "u"),
            ("database.dbname", "d"),
            ("topic.prefix", "tms"),
        ])
    }

    /// `base()` with `pairs` added.
    fn with(pairs: &[(&str, &str)]) -> RawConfig {
        let mut c = base();
        c.extend(cfg(pairs));
        c
    }

    fn errors(pairs: &[(&str, &str)]) -> ConfigErrors {
        PostgresConfig::from_raw(&with(pairs)).unwrap_err()
    }

    #[test]
    fn defaults_are_debeziums() {
        let c = PostgresConfig::from_raw(&base()).unwrap();
        assert_eq!(c.slot_name, "debezium");
        assert_eq!(c.publication_name, "dbz_publication");
        assert_eq!(c.publication_mode, PublicationMode::AllTables);
        assert_eq!(c.snapshot_mode, SnapshotMode::Initial);
        assert_eq!(c.snapshot_fetch_size, 10240);
        assert!(c.tombstones_on_delete);
        assert_eq!(c.skipped_operations, vec!['t']);
        assert_eq!(c.failure_mode, FailureHandlingMode::Fail);
        assert_eq!((c.max_batch_size, c.max_queue_size), (2048, 8192));
        assert_eq!(c.poll_interval, Duration::from_millis(500));
        assert_eq!(c.status_update_interval, Duration::from_millis(10_000));
        assert_eq!(c.connect.port, 5432);
        assert_eq!(c.connect.sslmode, SslMode::Prefer);
        assert_eq!(c.connect.application_name, "velocity-postgres");
        assert!(c.connect.password.is_none() && c.connect.sslrootcert.is_none());
        assert!(c.heartbeat_interval.is_none() && c.heartbeat_action_query.is_none());
        assert_eq!(c.heartbeat_topic_prefix, "__debezium-heartbeat");
        assert!(!c.slot_drop_on_stop && !c.provide_transaction_metadata);
        assert_eq!(
            (c.slot_max_retries, c.slot_retry_delay),
            (6, Duration::from_millis(10_000))
        );
        assert_eq!(c.modes, TypeModes::default());
        assert!(c.message_key_columns.is_empty());
        assert_eq!(c.transaction_topic, "transaction");
        assert_eq!(c.signal, SignalConfig::default());
        assert_eq!(c.signal.chunk_size, 1024);
        assert!(!c.slot_failover && !c.publish_via_partition_root);
        assert!(c.message_prefixes.matches("any.prefix"));
        assert_eq!(c.unavailable_placeholder, UnavailablePlaceholder::default());
        assert_eq!(
            c.unavailable_placeholder.text(),
            "__debezium_unavailable_value"
        );
    }

    #[test]
    fn snapshot_keys_default_to_debeziums() {
        let s = PostgresConfig::from_raw(&base()).unwrap().snapshot;
        assert_eq!((s.max_threads, s.multiplier, s.legacy), (1, 1, false));
        assert!(!s.chunked());
        assert!(s.includes("public", "anything") && s.includes("inventory", "x"));
        assert!(s.select_override("public", "orders").is_none());
        assert_eq!(s.overrides_missing().count(), 0);
    }

    #[test]
    fn snapshot_keys_are_read() {
        let s = PostgresConfig::from_raw(&with(&[
            (
                "snapshot.include.collection.list",
                "public\\.ord.*, inv\\.items",
            ),
            (
                "snapshot.select.statement.overrides",
                "public.orders, public.nostmt",
            ),
            (
                "snapshot.select.statement.overrides.public.orders",
                " SELECT * FROM public.orders WHERE id > 10 ",
            ),
            ("snapshot.max.threads", "4"),
            ("snapshot.max.threads.multiplier", "2"),
            ("snapshot.max.threads.multiplier.public.big", "8"),
            ("snapshot.max.threads.multiplier.public.bad", "x"),
        ]))
        .unwrap()
        .snapshot;
        // whole, case-insensitive matches
        assert!(s.includes("public", "orders") && s.includes("PUBLIC", "Ord2"));
        assert!(s.includes("inv", "items") && !s.includes("inv", "items2"));
        assert!(!s.includes("public", "customers") && !s.includes("xpublic", "orders"));
        assert_eq!(
            s.select_override("public", "orders"),
            Some("SELECT * FROM public.orders WHERE id > 10")
        );
        assert_eq!(s.select_override("public", "nostmt"), None);
        assert_eq!(s.overrides_missing().collect::<Vec<_>>(), ["public.nostmt"]);
        assert_eq!((s.max_threads, s.multiplier), (4, 2));
        assert!(s.chunked());
        assert_eq!(s.multiplier_for("public", "big"), 8);
        assert_eq!(s.multiplier_for("public", "bad"), 2);
        assert_eq!(s.multiplier_for("public", "other"), 2);
        // legacy: one thread per table, no key ranges
        let legacy = PostgresConfig::from_raw(&with(&[
            ("snapshot.max.threads", "4"),
            ("legacy.snapshot.max.threads", "true"),
        ]))
        .unwrap()
        .snapshot;
        assert!(!legacy.chunked());
        // a table multiplier alone chunks (Debezium's rule)
        let one = PostgresConfig::from_raw(&with(&[(
            "snapshot.max.threads.multiplier.public.big",
            "3",
        )]))
        .unwrap()
        .snapshot;
        assert!(one.chunked());
    }

    #[test]
    fn snapshot_keys_are_validated() {
        let e = errors(&[
            ("snapshot.max.threads", "0"),
            ("snapshot.max.threads.multiplier", "-1"),
            ("snapshot.include.collection.list", "public.(unclosed"),
            ("snapshot.select.statement.overrides", "public.ok, orders"),
            ("legacy.snapshot.max.threads", "maybe"),
            ("snapshot.fetch.size", "0"),
        ]);
        for key in [
            "snapshot.max.threads",
            "snapshot.max.threads.multiplier",
            "snapshot.include.collection.list",
            "snapshot.select.statement.overrides",
            "legacy.snapshot.max.threads",
            "snapshot.fetch.size",
        ] {
            assert!(e.names(key), "{key}: {e}");
        }
        assert!(
            e.to_string()
                .contains("'orders' is not a fully-qualified table name"),
            "{e}"
        );
    }

    #[test]
    fn signal_keys() {
        let c = PostgresConfig::from_raw(&with(&[
            ("signal.data.collection", "public.debezium_signal"),
            ("incremental.snapshot.chunk.size", "100"),
            ("table.include.list", "inc.items"),
        ]))
        .unwrap();
        assert_eq!(
            c.signal.data_collection.as_deref(),
            Some("public.debezium_signal")
        );
        assert_eq!(c.signal.chunk_size, 100);
        // the signal table is captured although the include list leaves it out
        assert!(c.filters.table("public", "debezium_signal"));
        assert!(c.filters.table("inc", "items"));
        assert!(!c.filters.table("public", "other"));
        // the kafka channel needs its brokers; its topic defaults to <topic.prefix>-signal
        let e = errors(&[("signal.enabled.channels", "source,kafka")]);
        assert!(
            e.names("signal.kafka.bootstrap.servers") && e.0.len() == 1,
            "{e}"
        );
        let c = PostgresConfig::from_raw(&with(&[
            ("signal.enabled.channels", "source,kafka"),
            ("signal.kafka.bootstrap.servers", "k:9092"),
        ]))
        .unwrap();
        let k = c.signal.kafka.unwrap();
        assert_eq!(k.topic, format!("{}-signal", c.topic_prefix));
        assert_eq!(k.key, c.topic_prefix);
        let e = errors(&[("signal.enabled.channels", "file")]);
        assert!(e.names("signal.enabled.channels") && e.0.len() == 1, "{e}");
        let e = errors(&[("incremental.snapshot.chunk.size", "0")]);
        assert!(e.names("incremental.snapshot.chunk.size"), "{e}");
    }

    #[test]
    fn messages_partitions_slots_and_placeholders() {
        let c = PostgresConfig::from_raw(&with(&[
            ("message.prefix.include.list", "tms[.]audit,ops.*"),
            ("publish.via.partition.root", "true"),
            ("slot.failover", "true"),
            ("unavailable.value.placeholder", "hex:746f617374"),
        ]))
        .unwrap();
        assert!(c.message_prefixes.matches("TMS.AUDIT") && c.message_prefixes.matches("ops"));
        assert!(!c.message_prefixes.matches("tms.debug"));
        assert!(c.publish_via_partition_root && c.slot_failover);
        assert_eq!(c.unavailable_placeholder.bytes(), b"toast");
        let c =
            PostgresConfig::from_raw(&with(&[("message.prefix.exclude.list", "debug")])).unwrap();
        assert!(!c.message_prefixes.matches("Debug") && c.message_prefixes.matches("audit"));
        let c =
            PostgresConfig::from_raw(&with(&[("unavailable.value.placeholder", "gone")])).unwrap();
        assert_eq!(c.unavailable_placeholder.text(), "gone");
    }

    #[test]
    fn message_prefix_lists_are_exclusive_and_name_the_key() {
        let e = errors(&[
            ("message.prefix.include.list", "audit"),
            ("message.prefix.exclude.list", "debug"),
        ]);
        assert_eq!(e.0.len(), 1, "{e}");
        assert!(e.names("message.prefix.exclude.list"), "{e}");
        let text = e.to_string();
        assert!(
            text.contains("\"message.prefix.include.list\" is already specified")
                && text.contains("mutually exclusive"),
            "{text}"
        );
        for (key, value, rule) in [
            (
                "message.prefix.include.list",
                "a(",
                "not a valid regular expression",
            ),
            (
                "message.prefix.exclude.list",
                "[",
                "not a valid regular expression",
            ),
            ("unavailable.value.placeholder", "hex:xyz", "hexadecimal"),
            (
                "publish.via.partition.root",
                "maybe",
                "either true or false",
            ),
            ("slot.failover", "yes", "either true or false"),
        ] {
            let e = errors(&[(key, value)]);
            assert_eq!(e.0.len(), 1, "{key}={value}: {e}");
            assert!(
                e.names(key) && e.to_string().contains(rule),
                "{key}={value}: {e}"
            );
        }
    }

    #[test]
    fn values_are_typed() {
        let c = PostgresConfig::from_raw(&with(&[
            ("name", "inventory"),
            ("database.port", "6543"),
            ("database.password", "s3cret"),
            ("database.sslmode", "VERIFY-FULL"),
            ("snapshot.mode", "never"),
            ("publication.autocreate.mode", "filtered"),
            ("heartbeat.interval.ms", "1500"),
            ("skipped.operations", "none"),
            ("decimal.handling.mode", "string"),
            ("time.precision.mode", "connect"),
            ("binary.handling.mode", "base64-url-safe"),
            ("hstore.handling.mode", "map"),
            ("interval.handling.mode", "string"),
            ("money.fraction.digits", "4"),
        ]))
        .unwrap();
        assert_eq!(c.connect.port, 6543);
        assert_eq!(c.connect.password.as_deref(), Some("s3cret"));
        assert_eq!(c.connect.sslmode, SslMode::VerifyFull);
        assert_eq!(c.connect.application_name, "velocity-inventory");
        assert_eq!(c.snapshot_mode, SnapshotMode::NoData);
        assert_eq!(c.publication_mode, PublicationMode::Filtered);
        assert_eq!(c.heartbeat_interval, Some(Duration::from_millis(1500)));
        assert!(c.skipped_operations.is_empty());
        assert_eq!(
            c.modes,
            TypeModes {
                decimal: DecimalMode::String,
                time: TimePrecisionMode::Connect,
                binary: BinaryMode::Base64UrlSafe,
                hstore: HstoreMode::Map,
                interval: IntervalMode::String,
                money_fraction_digits: 4,
            }
        );
        let c = PostgresConfig::from_raw(&with(&[("skipped.operations", "c, d,none")])).unwrap();
        assert_eq!(c.skipped_operations, vec!['c', 'd']);
        assert_eq!(c.publication_publish.as_deref(), Some("update,truncate"));
    }

    #[test]
    fn replica_identity_autoset_values_is_parsed_and_checked_as_debezium() {
        use crate::replica_identity::ReplicaIdentity;
        let c = PostgresConfig::from_raw(&with(&[(
            "replica.identity.autoset.values",
            "public.a:FULL,s.b.*:INDEX b_uk",
        )]))
        .unwrap();
        assert_eq!(
            c.replica_identity.find("public", "a"),
            Ok(Some(&ReplicaIdentity::Full))
        );
        assert_eq!(
            c.replica_identity.find("s", "bx"),
            Ok(Some(&ReplicaIdentity::Index("b_uk".into())))
        );
        assert!(PostgresConfig::from_raw(&base())
            .unwrap()
            .replica_identity
            .is_empty());
        let e = errors(&[(
            "replica.identity.autoset.values",
            "public.a:FULL,public.b:PARTIAL",
        )]);
        let (key, rule) = &e.0[0];
        assert_eq!(key, "replica.identity.autoset.values");
        assert!(
            rule.contains("public.b:PARTIAL has an invalid format (expecting '(?i)^"),
            "{rule}"
        );
        let e = errors(&[("replica.identity.autoset.values", " ")]);
        assert_eq!(e.0[0].1, "Must not be empty");
    }

    #[test]
    fn configuration_based_snapshot_mode_reads_its_keys() {
        let c = PostgresConfig::from_raw(&with(&[
            ("snapshot.mode", "configuration_based"),
            ("snapshot.mode.configuration.based.snapshot.data", "true"),
            ("snapshot.mode.configuration.based.start.stream", "true"),
        ]))
        .unwrap();
        assert_eq!(c.snapshot_mode, SnapshotMode::ConfigurationBased);
        assert!(c.configuration_based.snapshot_data && c.configuration_based.start_stream);
        assert!(!c.configuration_based.snapshot_on_data_error);
        let e = errors(&[("snapshot.mode.configuration.based.start.stream", "maybe")]);
        assert_eq!(e.0[0].0, "snapshot.mode.configuration.based.start.stream");
    }

    #[test]
    fn publish_parameter_only_when_skipped_operations_is_set_and_no_tables_mode() {
        // Debezium: no publish parameter unless the key is in the configuration
        let c = PostgresConfig::from_raw(&base()).unwrap();
        assert_eq!(c.publication_publish, None);
        let c = PostgresConfig::from_raw(&with(&[
            ("skipped.operations", "t"),
            ("publication.autocreate.mode", "no_tables"),
        ]))
        .unwrap();
        assert_eq!(
            c.publication_publish.as_deref(),
            Some("insert,update,delete")
        );
        assert_eq!(c.publication_mode, PublicationMode::NoTables);
        let c = PostgresConfig::from_raw(&with(&[("skipped.operations", "none")])).unwrap();
        assert_eq!(c.publication_publish, None);
    }

    #[test]
    fn every_problem_names_its_key() {
        let mut c = cfg(&[
            ("plugin.name", "decoderbufs"),
            ("snapshot.mode", "sometimes"),
            ("database.port", "x"),
            ("table.include.list", "a.(b"),
            ("max.batch.size", "9000"),
        ]);
        c.insert("skipped.operations".into(), "c,z".into());
        let errs = PostgresConfig::from_raw(&c).unwrap_err();
        for k in [
            "database.hostname",
            "database.user",
            "database.dbname",
            "topic.prefix",
            "plugin.name",
            "snapshot.mode",
            "database.port",
            "table.include.list",
            "skipped.operations",
            "max.queue.size",
        ] {
            assert!(errs.names(k), "{k} not reported: {errs:?}");
        }
        assert_eq!(errs.0.len(), 10, "one error per key: {errs:?}");
    }

    #[test]
    fn rules_of_single_keys() {
        for (key, value, rule) in [
            ("database.port", "0", "Value must be at least 1"),
            ("database.port", "65536", "Value must be no more than 65535"),
            ("database.sslmode", "verify_ca", "String must be one of"),
            ("topic.prefix", "a/b", "may contain only"),
            ("slot.name", "Debezium", "not a valid replication slot name"),
            ("slot.max.retries", "1001", "no more than 1000"),
            ("heartbeat.interval.ms", "-1", "at least 0"),
            ("skipped.operations", "C", "'C' is not an operation"),
            ("max.batch.size", "0", "at least 1"),
            ("poll.interval.ms", "0", "at least 1"),
            ("tombstones.on.delete", "yes", "either true or false"),
            ("decimal.handling.mode", "float", "String must be one of"),
            ("money.fraction.digits", "101", "no more than 100"),
            ("message.key.columns", "tms.note", "must look like"),
            (
                "message.key.columns",
                "tms.(:id",
                "not a valid regular expression",
            ),
        ] {
            let e = errors(&[(key, value)]);
            assert_eq!(e.0.len(), 1, "{key}={value}: {e}");
            assert!(e.names(key), "{key}={value}: {e}");
            assert!(e.0[0].1.contains(rule), "{key}={value}: {e}");
        }
        let long = "s".repeat(64);
        assert!(errors(&[("slot.name", &long)]).names("slot.name"));
    }

    #[test]
    fn include_and_exclude_lists_are_exclusive() {
        let e = errors(&[
            ("table.include.list", "tms.a"),
            ("table.exclude.list", "tms.b"),
            ("schema.include.list", "tms"),
        ]);
        assert_eq!(e.0.len(), 1, "{e}");
        assert!(e.names("table.exclude.list"), "{e}");
        assert!(e.0[0].1.contains("mutually exclusive"), "{e}");
    }

    #[test]
    fn queue_must_exceed_batch() {
        let e = errors(&[("max.batch.size", "8192")]);
        assert!(e.names("max.queue.size") && e.0.len() == 1, "{e}");
        // an invalid batch size is reported once, on its own key
        let e = errors(&[("max.batch.size", "x"), ("max.queue.size", "10")]);
        assert!(e.names("max.batch.size") && e.0.len() == 1, "{e}");
        assert!(PostgresConfig::from_raw(&with(&[
            ("max.batch.size", "10"),
            ("max.queue.size", "11")
        ]))
        .is_ok());
    }

    #[test]
    fn config_def_is_the_declared_keys() {
        let def = PostgresConfig::config_def();
        assert_eq!(def.keys.len(), KEYS.len());
        assert!(def.is_secret(PASSWORD.name));
        assert_eq!(
            def.key("snapshot.mode").unwrap().allowed,
            SnapshotMode::NAMES
        );
        // the REST API's checks of single keys agree with reading
        let c = with(&[("database.port", "x"), ("snapshot.mode", "sometimes")]);
        let sorted = |mut e: Vec<(String, String)>| {
            e.sort();
            e
        };
        assert_eq!(
            sorted(def.validate(&c)),
            sorted(PostgresConfig::validate(&c))
        );
    }

    #[test]
    fn filters_match_whole_names() {
        let mut c = base();
        c.insert("table.include.list".into(), "tms\\.ship.*,tms.note".into());
        let p = PostgresConfig::from_raw(&c).unwrap();
        assert!(p.filters.table("tms", "shipment"));
        assert!(p.filters.table("TMS", "note"));
        assert!(!p.filters.table("tms", "notes"));
        assert!(!p.filters.table("public", "shipment"));
    }

    /// Debezium's column options: keys named by their parameters are read
    /// from the map; a bad one is one error naming that key; the ConfigDef
    /// lists Debezium's names of them.
    #[test]
    fn column_options_name_their_keys() {
        let c = PostgresConfig::from_raw(&with(&[
            ("column.mask.with.5.chars", "tms.note.body"),
            (
                "column.mask.hash.v2.SHA-256.with.salt.CzQMA0cB5K",
                "tms.note.author",
            ),
            ("column.propagate.source.type", "tms.note.id"),
        ]))
        .unwrap();
        assert!(!c.column_options.is_empty());
        for (key, value, rule) in [
            (
                "column.mask.with.x.chars",
                "tms.note.body",
                "'x' is not a number of characters",
            ),
            (
                "column.truncate.to.-2.chars",
                "tms.note.body",
                "'-2' is not a number of characters",
            ),
            (
                "column.mask.hash.SHA-257.with.salt.s",
                "tms.note.body",
                "SHA-257 MessageDigest not available: name one of MD5, SHA-1",
            ),
            (
                "column.mask.hash.SHA-256.with.pepper.s",
                "tms.note.body",
                "does not name an algorithm and a salt",
            ),
            (
                "column.mask.with.5.chars",
                "tms.note.(",
                "not a valid regular expression",
            ),
            (
                "column.propagate.source.type",
                "tms.(",
                "not a valid regular expression",
            ),
            (
                "datatype.propagate.source.type",
                "[",
                "not a valid regular expression",
            ),
        ] {
            let e = errors(&[(key, value)]);
            assert_eq!(e.0.len(), 1, "{key}: {e}");
            assert!(e.names(key), "{key}: {e}");
            assert!(e.0[0].1.contains(rule), "{key}: {e}");
            assert!(e.to_string().contains(key), "{e}");
        }
        let def = PostgresConfig::config_def();
        for (name, type_) in [
            (
                "column.mask.hash.([^.]+).with.salt.(.+)",
                ConfigType::String,
            ),
            ("column.mask.with.(d+).chars", ConfigType::String),
            ("column.truncate.to.(d+).chars", ConfigType::Int),
            ("column.propagate.source.type", ConfigType::List),
            ("datatype.propagate.source.type", ConfigType::List),
        ] {
            let key = def.key(name).unwrap_or_else(|| panic!("{name} not listed"));
            assert_eq!(key.type_, type_, "{name}");
            assert!(!key.required(), "{name}");
        }
        // the REST checks of the listed keys do not trip over the options
        let c = with(&[("column.truncate.to.3.chars", "tms.note.body")]);
        assert!(def.validate(&c).is_empty());
    }

    #[test]
    fn message_key_columns_parse() {
        let mut c = base();
        c.insert(
            "message.key.columns".into(),
            "tms.note:id,author;tms.gps_ping:vehicle".into(),
        );
        let p = PostgresConfig::from_raw(&c).unwrap();
        assert_eq!(
            p.key_columns_for("tms", "gps_ping").unwrap(),
            ["vehicle".to_string()]
        );
        assert_eq!(
            p.key_columns_for("TMS", "note").unwrap(),
            ["id".to_string(), "author".to_string()]
        );
        assert!(p.key_columns_for("tms", "stop").is_none());
    }
}
