//! Errors of the PostgreSQL connector, each worded for the operator: what
//! went wrong, which setting or server state causes it and how to fix it.
//! Every variant knows whether retrying can help ([`PostgresError::kind`]).

use velocity_api::{ConnectError, ErrorKind};

use crate::protocol::ProtocolError;

/// A PostgreSQL connector error.
#[derive(Debug, thiserror::Error)]
pub enum PostgresError {
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
    /// A value or message could not be decoded.
    #[error("could not decode {what}: {detail}")]
    Decode {
        /// What (table.column, message).
        what: String,
        /// Why.
        detail: String,
    },
}

impl PostgresError {
    /// Retriable (connection trouble) or fatal (configuration, server setup).
    pub fn kind(&self) -> ErrorKind {
        match self {
            PostgresError::Unreachable { .. } => ErrorKind::Retriable,
            PostgresError::Protocol(p) if p.is_transient() => ErrorKind::Retriable,
            PostgresError::Query(_) => ErrorKind::Retriable,
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

impl From<PostgresError> for ConnectError {
    fn from(e: PostgresError) -> ConnectError {
        match e.kind() {
            ErrorKind::Retriable => ConnectError::retriable(e.to_string()),
            ErrorKind::Fatal => ConnectError::fatal(e.to_string()),
        }
    }
}
