//! Errors of the PostgreSQL connector, each worded for the operator: what
//! went wrong, which setting or server state causes it and how to fix it.
//! Every variant knows whether retrying can help ([`PostgresError::kind`]).
//! Configuration errors carry the [`ConfigErrors`] of
//! [`crate::config::PostgresConfig`] and become `ConnectError::Config`.

use velocity_api::{ConfigErrors, ConnectError, ErrorKind};

use crate::protocol::ProtocolError;

/// A PostgreSQL connector error.
#[derive(Debug, thiserror::Error)]
pub enum PostgresError {
    /// Configuration keys are missing or invalid (each names its key and rule).
    #[error(transparent)]
    Config(#[from] ConfigErrors),
    /// The server's `wal_level` is not `logical`.
    #[error("PostgreSQL's wal_level is '{0}', but logical decoding needs wal_level = logical: set it in postgresql.conf (or ALTER SYSTEM SET wal_level = logical) and restart PostgreSQL")]
    WalLevel(String),
    /// The replication slot is being read by another process.
    #[error("replication slot \"{slot}\" is active for PID {pid}: another connector or pg_recvlogical is reading it. Stop that consumer, or give this connector its own slot with slot.name")]
    SlotInUse {
        /// Slot name.
        slot: String,
        /// The PID holding it (or `unknown`).
        pid: String,
    },
    /// `publication.autocreate.mode=disabled` and the publication is missing.
    #[error("publication \"{0}\" does not exist and publication.autocreate.mode is disabled: create it (CREATE PUBLICATION {0} FOR TABLE …) or set publication.autocreate.mode=filtered")]
    PublicationMissing(String),
    /// Credentials rejected.
    #[error("PostgreSQL rejected the credentials of database.user \"{user}\": {detail}. Check database.user and database.password, and that pg_hba.conf allows this user to connect (also for replication)")]
    Auth {
        /// User name.
        user: String,
        /// Server message.
        detail: String,
    },
    /// Host unreachable or refusing connections.
    #[error("cannot reach PostgreSQL at {addr}: {detail}. Check database.hostname and database.port and that the server is running")]
    Unreachable {
        /// host:port.
        addr: String,
        /// Cause.
        detail: String,
    },
    /// The user lacks a privilege.
    #[error("database.user \"{user}\" lacks a privilege: {detail}. Grant it REPLICATION (ALTER ROLE {user} REPLICATION) and SELECT on the captured tables")]
    Privilege {
        /// User name.
        user: String,
        /// Server message.
        detail: String,
    },
    /// The stored offset points to WAL the slot no longer has.
    #[error("{0}")]
    PositionLost(String),
    /// Any other protocol-level failure.
    #[error("PostgreSQL: {0}")]
    Protocol(#[from] ProtocolError),
    /// A query on the regular connection failed.
    #[error("PostgreSQL query failed: {0}")]
    Query(String),
    /// A streamed change could not be built and
    /// `event.processing.failure.handling.mode=fail` (Debezium's text, with
    /// the event's offset and the cause).
    #[error("{0}")]
    EventProcessing(String),
    /// A value or message could not be decoded.
    #[error("could not decode {what}: {detail}")]
    Decode {
        /// What (table.column, message).
        what: String,
        /// Why.
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

impl PostgresError {
    /// Retriable (connection trouble: refused or lost connection, a
    /// walsender terminated by `pg_terminate_backend`, a server shutting
    /// down, restarting or starting up) or fatal (configuration, credentials, privileges,
    /// server setup, a missing publication, a slot in use, undecodable data).
    pub fn kind(&self) -> ErrorKind {
        match self {
            PostgresError::Unreachable { .. } => ErrorKind::Retriable,
            PostgresError::Protocol(p) if p.is_transient() => ErrorKind::Retriable,
            PostgresError::Protocol(p) if p.sqlstate().is_some_and(retriable_sqlstate) => {
                ErrorKind::Retriable
            }
            PostgresError::Query(_) => ErrorKind::Retriable,
            PostgresError::SignalChannel { source, .. } if source.is_retriable() => {
                ErrorKind::Retriable
            }
            _ => ErrorKind::Fatal,
        }
    }

    /// Classifies a protocol error using the connection settings for the message.
    pub fn from_protocol(e: ProtocolError, user: &str, addr: &str) -> PostgresError {
        if let Some(s) = e.server_error() {
            match s.code.as_str() {
                "28P01" | "28000" => {
                    return PostgresError::Auth {
                        user: user.to_owned(),
                        detail: s.message.clone(),
                    }
                }
                "42501" => {
                    return PostgresError::Privilege {
                        user: user.to_owned(),
                        detail: s.message.clone(),
                    }
                }
                _ => {}
            }
        }
        if let ProtocolError::Auth(m) = &e {
            return PostgresError::Auth {
                user: user.to_owned(),
                detail: m.clone(),
            };
        }
        if e.is_connect_error() {
            return PostgresError::Unreachable {
                addr: addr.to_owned(),
                detail: e.to_string(),
            };
        }
        PostgresError::Protocol(e)
    }

    /// Classifies a tokio-postgres error from the regular connection.
    pub fn from_query(e: tokio_postgres::Error, user: &str, addr: &str) -> PostgresError {
        if let Some(db) = e.as_db_error() {
            let code = db.code().code();
            if code == "28P01" || code == "28000" {
                return PostgresError::Auth {
                    user: user.to_owned(),
                    detail: db.message().to_owned(),
                };
            }
            if code == "42501" {
                return PostgresError::Privilege {
                    user: user.to_owned(),
                    detail: db.message().to_owned(),
                };
            }
            return PostgresError::Query(format!("{} (SQLSTATE {code})", db.message()));
        }
        if e.is_closed()
            || e.to_string().contains("error connecting")
            || e.to_string().contains("timed out")
        {
            return PostgresError::Unreachable {
                addr: addr.to_owned(),
                detail: e.to_string(),
            };
        }
        PostgresError::Query(e.to_string())
    }
}

/// SQLSTATEs after which a new connection may succeed: class 08
/// (connection exception), 57P01 (`admin_shutdown`: terminated by
/// `pg_terminate_backend` or a fast shutdown), 57P02 (`crash_shutdown`),
/// 57P03 (`cannot_connect_now`: starting up or shutting down), 53300
/// (`too_many_connections`), 40001 / 40P01 (serialization failure,
/// deadlock).
pub fn retriable_sqlstate(code: &str) -> bool {
    code.starts_with("08")
        || matches!(
            code,
            "57P01" | "57P02" | "57P03" | "53300" | "40001" | "40P01"
        )
}

impl From<PostgresError> for ConnectError {
    /// Configuration errors become [`ConnectError::Config`] naming the first
    /// offending key; the others keep their kind and source.
    fn from(e: PostgresError) -> ConnectError {
        match e {
            PostgresError::Config(e) => e.into(),
            other => ConnectError::from_error(other.kind(), other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ServerError;

    fn server(code: &str) -> ProtocolError {
        let body = format!("SFATAL\0VFATAL\0C{code}\0Mmessage\0\0");
        ProtocolError::Server(ServerError::parse(body.as_bytes()))
    }

    #[test]
    fn restarts_and_terminated_walsenders_are_retriable() {
        for code in ["57P01", "57P02", "57P03", "08006", "53300"] {
            let e = PostgresError::from_protocol(server(code), "u", "h:5432");
            assert_eq!(e.kind(), ErrorKind::Retriable, "{code}: {e}");
        }
        let lost = PostgresError::from_protocol(ProtocolError::ConnectionClosed, "u", "h:5432");
        assert_eq!(lost.kind(), ErrorKind::Retriable);
        let down = PostgresError::Unreachable {
            addr: "h:5432".into(),
            detail: "refused".into(),
        };
        assert!(ConnectError::from(down).is_retriable());
    }

    #[test]
    fn credentials_publication_and_slot_are_fatal_and_name_the_fix() {
        let auth = PostgresError::from_protocol(server("28P01"), "u", "h:5432");
        assert_eq!(auth.kind(), ErrorKind::Fatal);
        let e = ConnectError::from(auth);
        assert!(!e.is_retriable());
        assert!(e.to_string().contains("database.password"), "{e}");
        assert!(
            std::error::Error::source(&e).is_some(),
            "the source error is kept"
        );
        let publication = PostgresError::PublicationMissing("p".into());
        assert_eq!(publication.kind(), ErrorKind::Fatal);
        assert!(publication
            .to_string()
            .contains("publication.autocreate.mode"));
        let slot = PostgresError::SlotInUse {
            slot: "s".into(),
            pid: "1".into(),
        };
        assert_eq!(slot.kind(), ErrorKind::Fatal);
        assert!(slot.to_string().contains("slot.name"));
        let other = PostgresError::from_protocol(server("42P01"), "u", "h:5432");
        assert_eq!(other.kind(), ErrorKind::Fatal);
    }

    #[test]
    fn config_errors_are_fatal_and_keep_the_key() {
        let e = PostgresError::from(ConfigErrors::one("slot.name", "bad"));
        assert_eq!(e.kind(), ErrorKind::Fatal);
        let e = ConnectError::from(e);
        assert!(!e.is_retriable());
        assert!(matches!(e, ConnectError::Config { ref key, .. } if key == "slot.name"));
    }
}
