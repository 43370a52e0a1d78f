//! Errors of the MySQL / MariaDB connector, each worded for the operator:
//! what went wrong, which setting or server state causes it and how to fix
//! it. Every variant knows whether retrying can help ([`MySqlError::kind`]).
//! Messages never contain the password.

use velocity_api::{ConfigErrors, ConnectError, ErrorKind};

use crate::config::{MySqlConfig, SslMode};
use crate::tls;

/// A MySQL connector error.
#[derive(Debug, thiserror::Error)]
pub enum MySqlError {
    /// Configuration keys are missing or invalid (each names its key and rule).
    #[error(transparent)]
    Config(#[from] ConfigErrors),
    /// A server variable has a value the connector cannot work with.
    #[error("the server's {variable} is '{actual}', but the connector needs {variable}={required}: set {variable}={required} in the server configuration (or SET GLOBAL {variable}='{required}') and restart the connector")]
    ServerSetting {
        /// Variable name (`binlog_format`, `binlog_row_image`, `log_bin`).
        variable: &'static str,
        /// Current value.
        actual: String,
        /// Required value.
        required: &'static str,
    },
    /// Credentials rejected.
    #[error("the server at {addr} rejected the credentials of database.user \"{user}\": {detail}. Check database.user and database.password")]
    Auth {
        /// host:port.
        addr: String,
        /// User name.
        user: String,
        /// Server message.
        detail: String,
    },
    /// TLS could not be set up, or the server certificate was refused.
    #[error("TLS to {addr} failed with database.ssl.mode={mode}: {detail}. {fix}")]
    Tls {
        /// host:port.
        addr: String,
        /// `database.ssl.mode`.
        mode: SslMode,
        /// What failed.
        detail: String,
        /// What to change.
        fix: String,
    },
    /// The server refused a connection without TLS (`database.ssl.mode=disabled`).
    #[error("the server at {addr} refused database.user \"{user}\" over a connection without TLS ({detail}), and database.ssl.mode=disabled: if the account requires TLS (REQUIRE SSL / X509) or the server sets require_secure_transport, set database.ssl.mode=required (or preferred, the default); otherwise check database.user and database.password")]
    TlsRequired {
        /// host:port.
        addr: String,
        /// User name.
        user: String,
        /// Server message.
        detail: String,
    },
    /// Host unreachable or refusing connections.
    #[error("cannot reach the database at {addr}: {detail}. Check database.hostname and database.port and that the server is running")]
    Unreachable {
        /// host:port.
        addr: String,
        /// Cause.
        detail: String,
    },
    /// The user lacks a privilege.
    #[error("database.user \"{user}\" lacks a privilege: {detail}. Grant it SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE, REPLICATION CLIENT ON *.*")]
    Privilege {
        /// User name.
        user: String,
        /// What is missing.
        detail: String,
    },
    /// The snapshot could not take the lock of `snapshot.locking.mode`
    /// (the message names the privilege or mode to change).
    #[error("snapshot lock: {0}")]
    SnapshotLock(String),
    /// The stored binlog position is no longer on the server.
    #[error("{0}")]
    PositionLost(String),
    /// The schema history topic is missing or empty although offsets exist.
    #[error("{}. Set snapshot.mode=recovery to rebuild the schema history topic '{topic}' from the current table definitions, then set it back", crate::history::MISSING_HISTORY)]
    MissingHistory {
        /// `schema.history.internal.kafka.topic`.
        topic: String,
    },
    /// The schema history topic could not be read or written (broker trouble).
    #[error("schema history: {0}")]
    History(String),
    /// A query or the binlog connection failed.
    #[error("database error: {0}")]
    Query(String),
    /// A value or event could not be decoded.
    #[error("could not decode {what}: {detail}")]
    Decode {
        /// What (db.table.column, event).
        what: String,
        /// Why.
        detail: String,
    },
    /// A streamed event could not be built and
    /// `event.processing.failure.handling.mode=fail` (the text is
    /// Debezium's, with the event's offset and the cause).
    #[error("{0}")]
    EventProcessing(String),
    /// A table DDL of a captured database the parser cannot read, and
    /// `schema.history.internal.skip.unparseable.ddl=false` (Debezium's
    /// default: the connector stops).
    #[error("DDL statement couldn't be parsed: '{0}'. Set schema.history.internal.skip.unparseable.ddl=true to skip it (the table's definition then misses this change)")]
    UnparseableDdl(String),
    /// The binlog connection ended and `connect.keep.alive=false`.
    #[error("{0}, and connect.keep.alive=false: restart the connector, or set connect.keep.alive=true to reconnect by itself")]
    StreamClosed(String),
    /// The server refused `heartbeat.action.query` (as Debezium's error
    /// handler does, the task fails).
    #[error("heartbeat.action.query failed: {0}. Fix the statement (or the user's privileges for it), or unset heartbeat.action.query")]
    HeartbeatAction(String),
    /// The task is stopping.
    #[error("the task was stopped")]
    Stopped,
    /// The watermark rows of an incremental snapshot cannot be written
    /// into the signal table.
    #[error("database.user \"{user}\" cannot write the incremental snapshot's watermark rows into the signal table {table} (signal.data.collection): {detail}. Grant it INSERT ON {table}")]
    SignalWrite {
        /// The connector's user.
        user: String,
        /// The signal table.
        table: String,
        /// The server's message.
        detail: String,
    },
    /// The stored offset's incremental snapshot state cannot be read.
    #[error("the stored offset's incremental snapshot cannot be resumed: {0}. Reset the offsets (PUT /connectors/<name>/stop, then DELETE /connectors/<name>/offsets) and signal the snapshot again")]
    IncrementalOffset(#[from] velocity_api::debezium::incremental::IncrementalOffsetError),
    /// The Kafka signal channel could not be opened (retriable when the
    /// broker could not be reached).
    #[error("the Kafka signal channel on topic '{topic}' failed: {source}. Check signal.kafka.bootstrap.servers and the signal.consumer.* settings")]
    SignalChannel {
        /// `signal.kafka.topic`.
        topic: String,
        /// The Kafka client's error.
        source: Box<velocity_kafka_log::KafkaLogError>,
    },
}

impl MySqlError {
    /// Retriable (connection trouble) or fatal (configuration, server setup, data).
    pub fn kind(&self) -> ErrorKind {
        match self {
            MySqlError::Unreachable { .. }
            | MySqlError::Query(_)
            | MySqlError::History(_)
            | MySqlError::Stopped => ErrorKind::Retriable,
            MySqlError::SignalChannel { source, .. } if source.is_retriable() => {
                ErrorKind::Retriable
            }
            _ => ErrorKind::Fatal,
        }
    }

    /// Classifies a driver error using the connection settings for the message.
    pub fn from_driver(e: mysql_async::Error, cfg: &MySqlConfig) -> MySqlError {
        let addr = cfg.addr();
        let (user, addr) = (cfg.user.as_str(), addr.as_str());
        if let Some(failure) = tls::failure(&e) {
            return MySqlError::Tls {
                addr: addr.to_owned(),
                mode: cfg.ssl.mode,
                detail: e.to_string(),
                fix: tls::fix(&failure, &cfg.host),
            };
        }
        match &e {
            mysql_async::Error::Server(s) => match s.code {
                // ER_ACCESS_DENIED_ERROR without TLS (a REQUIRE SSL account
                // answers so); ER_SECURE_TRANSPORT_REQUIRED (MySQL, MariaDB)
                1045 | 3159 | 4036 if cfg.ssl.mode == SslMode::Disabled => MySqlError::TlsRequired {
                    addr: addr.to_owned(),
                    user: user.to_owned(),
                    detail: s.message.clone(),
                },
                // ER_ACCESS_DENIED_ERROR, ER_DBACCESS_DENIED_ERROR
                1045 | 1044 => MySqlError::Auth {
                    addr: addr.to_owned(),
                    user: user.to_owned(),
                    detail: s.message.clone(),
                },
                // ER_SPECIFIC_ACCESS_DENIED_ERROR, ER_TABLEACCESS_DENIED_ERROR, ER_COLUMNACCESS_DENIED_ERROR
                1227 | 1142 | 1143 => MySqlError::Privilege {
                    user: user.to_owned(),
                    detail: s.message.clone(),
                },
                // ER_MASTER_FATAL_ERROR_READING_BINLOG
                1236 => MySqlError::PositionLost(format!(
                    "The connector is trying to read binlog from a position that is no longer available on the server ({}). Reconfigure the connector to use a snapshot when needed (snapshot.mode=when_needed), or reset the offsets",
                    s.message
                )),
                _ => MySqlError::Query(format!("{} (error {})", s.message, s.code)),
            },
            mysql_async::Error::Io(_) => MySqlError::Unreachable {
                addr: addr.to_owned(),
                detail: e.to_string(),
            },
            _ => MySqlError::Query(e.to_string()),
        }
    }
}

impl From<MySqlError> for ConnectError {
    fn from(e: MySqlError) -> ConnectError {
        match e {
            MySqlError::Config(e) => e.into(),
            other => ConnectError::from_error(other.kind(), other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closed_stream_without_keep_alive_is_fatal_and_names_the_key() {
        let e = MySqlError::StreamClosed("the server closed the binlog stream".into());
        assert_eq!(e.kind(), ErrorKind::Fatal);
        assert!(e.to_string().contains("connect.keep.alive=true"));
    }

    #[test]
    fn binlog_format_message_names_the_setting() {
        let e = MySqlError::ServerSetting {
            variable: "binlog_format",
            actual: "STATEMENT".into(),
            required: "ROW",
        };
        let m = e.to_string();
        assert!(m.contains("set binlog_format=ROW"), "{m}");
        assert_eq!(e.kind(), ErrorKind::Fatal);
    }

    #[test]
    fn kinds() {
        let e = MySqlError::Config(ConfigErrors::one("database.server.id", "x"));
        assert_eq!(e.kind(), ErrorKind::Fatal);
        let e: ConnectError = e.into();
        assert!(matches!(e, ConnectError::Config { ref key, .. } if key == "database.server.id"));
        assert!(ConnectError::from(MySqlError::Unreachable {
            addr: "h:1".into(),
            detail: "refused".into()
        })
        .is_retriable());
        let e = MySqlError::HeartbeatAction("no such table (error 1146)".into());
        assert_eq!(e.kind(), ErrorKind::Fatal);
        assert!(e.to_string().starts_with("heartbeat.action.query failed"));
        assert!(!ConnectError::from(MySqlError::Auth {
            addr: "h:1".into(),
            user: "u".into(),
            detail: "denied".into()
        })
        .is_retriable());
    }
}
