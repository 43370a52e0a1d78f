//! Connector configuration: Debezium's PostgreSQL keys and defaults, parsed
//! from the Kafka Connect flat string map.
//!
//! [`PostgresConfig::parse`] collects every problem at once (for the REST
//! validate endpoint) as `(dotted key, rule)` pairs. Unknown keys are ignored
//! here: the runtime keeps them and they never make a connector fail.

use std::time::Duration;

use regex::Regex;
use velocity_api::config::{ConfigExt, ConfigKey, ConfigType, Importance};
use velocity_api::{ConfigDef, RawConfig};

use crate::protocol::{ConnectParams, SslMode};
use crate::types::{
    BinaryMode, DecimalMode, HstoreMode, IntervalMode, TimePrecisionMode, TypeModes,
};

/// `snapshot.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotMode {
    /// Snapshot when there is no stored offset, then stream.
    Initial,
    /// Snapshot when there is no stored offset, then stop streaming.
    InitialOnly,
    /// Never snapshot data (`no_data`, formerly `never`).
    NoData,
    /// Snapshot at every start, then stream.
    Always,
    /// Snapshot when there is no offset or the stored position is gone.
    WhenNeeded,
}

/// `publication.autocreate.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublicationMode {
    /// `CREATE PUBLICATION … FOR ALL TABLES` when missing.
    AllTables,
    /// Create / update the publication for the captured tables only.
    Filtered,
    /// The publication must exist.
    Disabled,
}

/// Include/exclude lists: comma-separated regular expressions matched
/// against the whole identifier (case-insensitive, as Debezium does).
#[derive(Debug, Clone, Default)]
pub struct Filters {
    schema_include: Vec<Regex>,
    schema_exclude: Vec<Regex>,
    table_include: Vec<Regex>,
    table_exclude: Vec<Regex>,
    column_include: Vec<Regex>,
    column_exclude: Vec<Regex>,
}

impl Filters {
    /// True when `schema.table` is captured.
    pub fn table(&self, schema: &str, table: &str) -> bool {
        if matches!(schema, "pg_catalog" | "information_schema") || schema.starts_with("pg_toast") {
            return false;
        }
        let full = format!("{schema}.{table}");
        let any = |rs: &[Regex], s: &str| rs.iter().any(|r| r.is_match(s));
        if !self.schema_include.is_empty() && !any(&self.schema_include, schema) {
            return false;
        }
        if any(&self.schema_exclude, schema) {
            return false;
        }
        if !self.table_include.is_empty() && !any(&self.table_include, &full) {
            return false;
        }
        !any(&self.table_exclude, &full)
    }

    /// True when column `schema.table.column` is captured.
    pub fn column(&self, schema: &str, table: &str, column: &str) -> bool {
        let full = format!("{schema}.{table}.{column}");
        if !self.column_include.is_empty() {
            return self.column_include.iter().any(|r| r.is_match(&full));
        }
        !self.column_exclude.iter().any(|r| r.is_match(&full))
    }
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
    /// `publication.name` (default `dbz_publication`).
    pub publication_name: String,
    /// `publication.autocreate.mode` (default `all_tables`).
    pub publication_mode: PublicationMode,
    /// Table and column filters.
    pub filters: Filters,
    /// `snapshot.mode` (default `initial`).
    pub snapshot_mode: SnapshotMode,
    /// `snapshot.fetch.size` (default 10240).
    pub snapshot_fetch_size: usize,
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
    /// `message.key.columns`: `schema.table:col,col;…`.
    pub message_key_columns: Vec<(Regex, Vec<String>)>,
    /// `provide.transaction.metadata` (default false).
    pub provide_transaction_metadata: bool,
    /// `topic.transaction` (default `transaction`).
    pub transaction_topic: String,
}

/// Debezium's keys (those Velocity implements), for the REST API.
pub fn config_def() -> ConfigDef {
    use ConfigType::*;
    use Importance::*;
    let k = ConfigKey::new;
    ConfigDef::new(vec![
        k("database.hostname", String, None, High, "Resolvable hostname or IP address of the database server."),
        k("database.port", Int, Some("5432"), High, "Port of the database server."),
        k("database.user", String, None, High, "Name of the database user (needs REPLICATION or superuser)."),
        k("database.password", Password, Some(""), High, "Password of the database user."),
        k("database.dbname", String, None, High, "The name of the database from which the connector should capture changes."),
        k("database.sslmode", String, Some("prefer"), Medium, "Whether to use an encrypted connection: disable, allow, prefer, require, verify-ca, verify-full.").one_of(&["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]),
        k("database.sslrootcert", String, Some(""), Low, "File containing the root certificate(s) against which the server is validated."),
        k("topic.prefix", String, None, High, "Topic prefix that identifies and provides a namespace for the database server; used as source.name."),
        k("plugin.name", String, Some("pgoutput"), Medium, "The logical decoding plugin; Velocity supports pgoutput.").one_of(&["pgoutput"]),
        k("slot.name", String, Some("debezium"), Medium, "The name of the PostgreSQL logical decoding slot."),
        k("slot.drop.on.stop", Boolean, Some("false"), Low, "Drop the logical replication slot when the connector stops gracefully."),
        k("slot.max.retries", Int, Some("6"), Low, "How many times to retry when the replication slot is in use."),
        k("slot.retry.delay.ms", Long, Some("10000"), Low, "Time between retries when the replication slot is in use."),
        k("publication.name", String, Some("dbz_publication"), Low, "The name of the PostgreSQL publication used with pgoutput."),
        k("publication.autocreate.mode", String, Some("all_tables"), Low, "all_tables, filtered or disabled.").one_of(&["all_tables", "filtered", "disabled"]),
        k("schema.include.list", List, Some(""), Medium, "Regular expressions of schemas to capture."),
        k("schema.exclude.list", List, Some(""), Medium, "Regular expressions of schemas not to capture."),
        k("table.include.list", List, Some(""), Medium, "Regular expressions of schema.table names to capture."),
        k("table.exclude.list", List, Some(""), Medium, "Regular expressions of schema.table names not to capture."),
        k("column.include.list", List, Some(""), Medium, "Regular expressions of schema.table.column names to include."),
        k("column.exclude.list", List, Some(""), Medium, "Regular expressions of schema.table.column names to exclude."),
        k("snapshot.mode", String, Some("initial"), Medium, "initial, initial_only, no_data (never), always or when_needed.").one_of(&["initial", "initial_only", "no_data", "never", "always", "when_needed"]),
        k("snapshot.fetch.size", Int, Some("10240"), Medium, "Rows fetched per round trip while snapshotting."),
        k("tombstones.on.delete", Boolean, Some("true"), High, "Emit a tombstone (null value) after each delete event."),
        k("heartbeat.interval.ms", Int, Some("0"), Medium, "Interval of heartbeat messages; 0 disables them. Lets the slot advance on an idle database."),
        k("heartbeat.action.query", String, Some(""), Medium, "Query run on every heartbeat (e.g. an update of a heartbeat table)."),
        k("topic.heartbeat.prefix", String, Some("__debezium-heartbeat"), Low, "Prefix of the heartbeat topic."),
        k("skipped.operations", List, Some("t"), Low, "Operations not emitted: c, u, d, t, or none."),
        k("max.batch.size", Int, Some("2048"), Medium, "Maximum records per batch returned by poll."),
        k("max.queue.size", Int, Some("8192"), Medium, "Maximum records buffered between the database reader and Kafka."),
        k("poll.interval.ms", Int, Some("500"), Medium, "How long poll waits for new events."),
        k("status.update.interval.ms", Int, Some("10000"), Low, "Interval of standby status updates to the server."),
        k("decimal.handling.mode", String, Some("precise"), Medium, "precise, double or string.").one_of(&["precise", "double", "string"]),
        k("time.precision.mode", String, Some("adaptive"), Medium, "adaptive, adaptive_time_microseconds or connect.").one_of(&["adaptive", "adaptive_time_microseconds", "connect"]),
        k("binary.handling.mode", String, Some("bytes"), Low, "bytes, base64, base64-url-safe or hex.").one_of(&["bytes", "base64", "base64-url-safe", "hex"]),
        k("hstore.handling.mode", String, Some("json"), Low, "json or map.").one_of(&["json", "map"]),
        k("interval.handling.mode", String, Some("numeric"), Low, "numeric or string.").one_of(&["numeric", "string"]),
        k("money.fraction.digits", Short, Some("2"), Low, "Fraction digits of money values."),
        k("message.key.columns", String, Some(""), Low, "Custom message keys: schema.table:col1,col2;…"),
        k("provide.transaction.metadata", Boolean, Some("false"), Low, "Emit transaction BEGIN/END events and the transaction block."),
        k("topic.transaction", String, Some("transaction"), Low, "Suffix of the transaction metadata topic."),
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

impl PostgresConfig {
    /// Parses and validates; on failure returns every `(key, rule)` problem.
    pub fn parse(c: &RawConfig) -> Result<PostgresConfig, Vec<(String, String)>> {
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
        let host = take!(
            c.req_str("database.hostname").map(str::to_owned),
            String::new()
        );
        let user = take!(c.req_str("database.user").map(str::to_owned), String::new());
        let dbname = take!(
            c.req_str("database.dbname").map(str::to_owned),
            String::new()
        );
        let topic_prefix = take!(c.req_str("topic.prefix").map(str::to_owned), String::new());
        if !topic_prefix.is_empty()
            && !topic_prefix
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '.' | '_' | '-'))
        {
            errors.push(("topic.prefix".into(), format!("'{topic_prefix}' may contain only ASCII letters, digits, '.', '_' and '-' (it becomes a Kafka topic name)")));
        }
        let port = take!(c.int_or("database.port", 5432, 1, 65535), 5432) as u16;
        let sslmode = match c.str_or("database.sslmode", "prefer").parse::<SslMode>() {
            Ok(m) => m,
            Err(_) => {
                errors.push((
                    "database.sslmode".into(),
                    "use one of disable, allow, prefer, require, verify-ca, verify-full".into(),
                ));
                SslMode::Prefer
            }
        };
        let plugin = c.str_or("plugin.name", "pgoutput");
        if plugin != "pgoutput" {
            errors.push(("plugin.name".into(), format!("'{plugin}' is not supported: Velocity decodes the built-in pgoutput plugin only; set plugin.name=pgoutput")));
        }
        let mut connect = ConnectParams::new(host, port, user, dbname);
        connect.password = c.opt_str("database.password").map(str::to_owned);
        connect.sslmode = sslmode;
        connect.sslrootcert = c.opt_str("database.sslrootcert").map(Into::into);
        connect.application_name = format!("velocity-{}", c.str_or("name", "postgres"));
        let slot_name = c.str_or("slot.name", "debezium").to_owned();
        if !slot_name
            .chars()
            .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_')
            || slot_name.len() > 63
        {
            errors.push(("slot.name".into(), format!("'{slot_name}' is not a valid replication slot name: use at most 63 lower-case letters, digits and underscores")));
        }
        let publication_mode = match take!(
            c.enum_or(
                "publication.autocreate.mode",
                "all_tables",
                &["all_tables", "filtered", "disabled"]
            ),
            "all_tables".into()
        )
        .as_str()
        {
            "filtered" => PublicationMode::Filtered,
            "disabled" => PublicationMode::Disabled,
            _ => PublicationMode::AllTables,
        };
        let snapshot_mode = match take!(
            c.enum_or(
                "snapshot.mode",
                "initial",
                &[
                    "initial",
                    "initial_only",
                    "no_data",
                    "never",
                    "always",
                    "when_needed"
                ]
            ),
            "initial".into()
        )
        .as_str()
        {
            "initial_only" => SnapshotMode::InitialOnly,
            "no_data" | "never" => SnapshotMode::NoData,
            "always" => SnapshotMode::Always,
            "when_needed" => SnapshotMode::WhenNeeded,
            _ => SnapshotMode::Initial,
        };
        let filters = Filters {
            schema_include: regexes(c, "schema.include.list", &mut errors),
            schema_exclude: regexes(c, "schema.exclude.list", &mut errors),
            table_include: regexes(c, "table.include.list", &mut errors),
            table_exclude: regexes(c, "table.exclude.list", &mut errors),
            column_include: regexes(c, "column.include.list", &mut errors),
            column_exclude: regexes(c, "column.exclude.list", &mut errors),
        };
        for (a, b) in [
            ("schema.include.list", "schema.exclude.list"),
            ("table.include.list", "table.exclude.list"),
            ("column.include.list", "column.exclude.list"),
        ] {
            if c.opt_str(a).is_some() && c.opt_str(b).is_some() {
                errors.push((b.into(), format!("\"{b}\" is already specified: {a} and {b} are mutually exclusive, set only one")));
            }
        }
        let hb = take!(
            c.int_or("heartbeat.interval.ms", 0, 0, i64::from(i32::MAX)),
            0
        ) as u64;
        let skipped: Vec<char> = {
            let list = c
                .opt_str("skipped.operations")
                .map(|_| c.list("skipped.operations"))
                .unwrap_or_else(|| vec!["t".into()]);
            let mut out = Vec::new();
            for op in list {
                match op.as_str() {
                    "none" => {}
                    "c" | "u" | "d" | "t" => out.extend(op.chars()),
                    other => errors.push((
                        "skipped.operations".into(),
                        format!("'{other}' is not an operation: use c, u, d, t or none"),
                    )),
                }
            }
            out
        };
        let max_batch_size = take!(c.int_or("max.batch.size", 2048, 1, 1_000_000), 2048) as usize;
        let max_queue_size = take!(c.int_or("max.queue.size", 8192, 1, 10_000_000), 8192) as usize;
        if max_queue_size <= max_batch_size {
            errors.push((
                "max.queue.size".into(),
                format!("must be larger than max.batch.size ({max_batch_size}), as in Debezium"),
            ));
        }
        let modes = TypeModes {
            decimal: match take!(
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
            },
            time: match take!(
                c.enum_or(
                    "time.precision.mode",
                    "adaptive",
                    &["adaptive", "adaptive_time_microseconds", "connect"]
                ),
                "adaptive".into()
            )
            .as_str()
            {
                "adaptive_time_microseconds" => TimePrecisionMode::AdaptiveTimeMicroseconds,
                "connect" => TimePrecisionMode::Connect,
                _ => TimePrecisionMode::Adaptive,
            },
            binary: match take!(
                c.enum_or(
                    "binary.handling.mode",
                    "bytes",
                    &["bytes", "base64", "base64-url-safe", "hex"]
                ),
                "bytes".into()
            )
            .as_str()
            {
                "base64" => BinaryMode::Base64,
                "base64-url-safe" => BinaryMode::Base64UrlSafe,
                "hex" => BinaryMode::Hex,
                _ => BinaryMode::Bytes,
            },
            hstore: match take!(
                c.enum_or("hstore.handling.mode", "json", &["json", "map"]),
                "json".into()
            )
            .as_str()
            {
                "map" => HstoreMode::Map,
                _ => HstoreMode::Json,
            },
            interval: match take!(
                c.enum_or("interval.handling.mode", "numeric", &["numeric", "string"]),
                "numeric".into()
            )
            .as_str()
            {
                "string" => IntervalMode::String,
                _ => IntervalMode::Numeric,
            },
            money_fraction_digits: take!(c.int_or("money.fraction.digits", 2, 0, 100), 2) as i32,
        };
        let mut message_key_columns = Vec::new();
        if let Some(spec) = c.opt_str("message.key.columns") {
            for part in spec.split(';').map(str::trim).filter(|p| !p.is_empty()) {
                match part.split_once(':') {
                    Some((table, cols)) => match Regex::new(&format!("(?i)^(?:{table})$")) {
                        Ok(r) => message_key_columns.push((
                            r,
                            cols.split(',')
                                .map(|s| s.trim().to_owned())
                                .filter(|s| !s.is_empty())
                                .collect(),
                        )),
                        Err(e) => errors.push((
                            "message.key.columns".into(),
                            format!("'{table}' is not a valid regular expression: {e}"),
                        )),
                    },
                    None => errors.push((
                        "message.key.columns".into(),
                        format!("'{part}' must look like schema.table:column1,column2"),
                    )),
                }
            }
        }
        let cfg = PostgresConfig {
            connect,
            topic_prefix,
            slot_name,
            slot_drop_on_stop: take!(c.bool_or("slot.drop.on.stop", false), false),
            slot_max_retries: take!(c.int_or("slot.max.retries", 6, 0, 1000), 6) as u32,
            slot_retry_delay: Duration::from_millis(take!(
                c.int_or("slot.retry.delay.ms", 10_000, 0, 3_600_000),
                10_000
            ) as u64),
            publication_name: c.str_or("publication.name", "dbz_publication").to_owned(),
            publication_mode,
            filters,
            snapshot_mode,
            snapshot_fetch_size: take!(c.int_or("snapshot.fetch.size", 10240, 1, 10_000_000), 10240)
                as usize,
            tombstones_on_delete: take!(c.bool_or("tombstones.on.delete", true), true),
            heartbeat_interval: (hb > 0).then(|| Duration::from_millis(hb)),
            heartbeat_action_query: c.opt_str("heartbeat.action.query").map(str::to_owned),
            heartbeat_topic_prefix: c
                .str_or("topic.heartbeat.prefix", "__debezium-heartbeat")
                .to_owned(),
            skipped_operations: skipped,
            max_batch_size,
            max_queue_size,
            poll_interval: Duration::from_millis(take!(
                c.int_or("poll.interval.ms", 500, 1, 3_600_000),
                500
            ) as u64),
            status_update_interval: Duration::from_millis(take!(
                c.int_or("status.update.interval.ms", 10_000, 1, 3_600_000),
                10_000
            ) as u64),
            modes,
            message_key_columns,
            provide_transaction_metadata: take!(
                c.bool_or("provide.transaction.metadata", false),
                false
            ),
            transaction_topic: c.str_or("topic.transaction", "transaction").to_owned(),
        };
        if errors.is_empty() {
            Ok(cfg)
        } else {
            Err(errors)
        }
    }

    /// Custom key columns for `schema.table`, if `message.key.columns` names it.
    pub fn key_columns_for(&self, schema: &str, table: &str) -> Option<&[String]> {
        let full = format!("{schema}.{table}");
        self.message_key_columns
            .iter()
            .find(|(r, _)| r.is_match(&full))
            .map(|(_, c)| c.as_slice())
    }
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

    fn base() -> RawConfig {
        cfg(&[
            ("database.hostname", "h"),
            ("database.user", "u"),
            ("database.dbname", "d"),
            ("topic.prefix", "tms"),
        ])
    }

    #[test]
    fn defaults_are_debeziums() {
        let c = PostgresConfig::parse(&base()).unwrap();
        assert_eq!(c.slot_name, "debezium");
        assert_eq!(c.publication_name, "dbz_publication");
        assert_eq!(c.publication_mode, PublicationMode::AllTables);
        assert_eq!(c.snapshot_mode, SnapshotMode::Initial);
        assert_eq!(c.snapshot_fetch_size, 10240);
        assert!(c.tombstones_on_delete);
        assert_eq!(c.skipped_operations, vec!['t']);
        assert_eq!((c.max_batch_size, c.max_queue_size), (2048, 8192));
        assert_eq!(c.poll_interval, Duration::from_millis(500));
        assert_eq!(c.connect.port, 5432);
        assert!(c.heartbeat_interval.is_none());
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
        let errs = PostgresConfig::parse(&c).unwrap_err();
        let keys: Vec<&str> = errs.iter().map(|(k, _)| k.as_str()).collect();
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
            assert!(keys.contains(&k), "{k} not reported: {errs:?}");
        }
    }

    #[test]
    fn filters_match_whole_names() {
        let mut c = base();
        c.insert("table.include.list".into(), "tms\\.ship.*,tms.note".into());
        let p = PostgresConfig::parse(&c).unwrap();
        assert!(p.filters.table("tms", "shipment"));
        assert!(p.filters.table("TMS", "note"));
        assert!(!p.filters.table("tms", "notes"));
        assert!(!p.filters.table("public", "shipment"));
    }

    #[test]
    fn message_key_columns_parse() {
        let mut c = base();
        c.insert(
            "message.key.columns".into(),
            "tms.note:id,author;tms.gps_ping:vehicle".into(),
        );
        let p = PostgresConfig::parse(&c).unwrap();
        assert_eq!(
            p.key_columns_for("tms", "gps_ping").unwrap(),
            ["vehicle".to_string()]
        );
        assert!(p.key_columns_for("tms", "stop").is_none());
    }
}
