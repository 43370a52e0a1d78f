//! Errors of the replication client ([`ProtocolError`]) and the structured
//! server error ([`ServerError`]) that keeps PostgreSQL's SQLSTATE, message,
//! detail and hint so callers can turn them into actionable messages.
//!
//! No error or `Debug` output of this module ever contains a password: the
//! password is only handed to the authentication code and never formatted.

use std::fmt;
use std::io;
use std::time::Duration;

use super::pgoutput::DecodeError;

/// Well-known SQLSTATE codes the connector reacts to.
pub mod sqlstate {
    /// `55006 object_in_use`, e.g. "replication slot "x" is active for PID n".
    pub const OBJECT_IN_USE: &str = "55006";
    /// `42704 undefined_object`, e.g. a missing publication or slot.
    pub const UNDEFINED_OBJECT: &str = "42704";
    /// `42710 duplicate_object`, e.g. a replication slot that already exists.
    pub const DUPLICATE_OBJECT: &str = "42710";
    /// `28P01 invalid_password`.
    pub const INVALID_PASSWORD: &str = "28P01";
    /// `28000 invalid_authorization_specification` (e.g. no `pg_hba.conf` entry).
    pub const INVALID_AUTHORIZATION: &str = "28000";
    /// `42501 insufficient_privilege` (e.g. role lacks `REPLICATION`).
    pub const INSUFFICIENT_PRIVILEGE: &str = "42501";
    /// `53400 configuration_limit_exceeded` (e.g. all replication slots in use).
    pub const CONFIGURATION_LIMIT_EXCEEDED: &str = "53400";
    /// `55000 object_not_in_prerequisite_state` (e.g. `wal_level` is not `logical`).
    pub const OBJECT_NOT_IN_PREREQUISITE_STATE: &str = "55000";
    /// `3D000 invalid_catalog_name` (database does not exist).
    pub const INVALID_CATALOG_NAME: &str = "3D000";
}

/// An `ErrorResponse` sent by the server, with the fields the connector needs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServerError {
    /// Severity (`ERROR`, `FATAL`, `PANIC`), non-localized when the server sent it.
    pub severity: String,
    /// Five-character SQLSTATE code, e.g. `55006`.
    pub code: String,
    /// Primary human-readable message.
    pub message: String,
    /// Optional secondary message with more detail.
    pub detail: Option<String>,
    /// Optional suggestion on what to do about the problem.
    pub hint: Option<String>,
}

impl ServerError {
    /// Parses the body of an `ErrorResponse`/`NoticeResponse` message
    /// (sequence of `type byte, C string`, terminated by a zero byte).
    /// Unknown field types are ignored; malformed bodies yield what was parsed.
    pub(crate) fn parse(body: &[u8]) -> ServerError {
        let mut e = ServerError::default();
        let mut localized_severity = String::new();
        let mut rest = body;
        while let Some((&ty, tail)) = rest.split_first() {
            if ty == 0 {
                break;
            }
            let end = tail.iter().position(|&b| b == 0).unwrap_or(tail.len());
            let value = String::from_utf8_lossy(&tail[..end]).into_owned();
            rest = tail.get(end + 1..).unwrap_or(&[]);
            match ty {
                b'V' => e.severity = value,
                b'S' => localized_severity = value,
                b'C' => e.code = value,
                b'M' => e.message = value,
                b'D' => e.detail = Some(value),
                b'H' => e.hint = Some(value),
                _ => {}
            }
        }
        if e.severity.is_empty() {
            e.severity = localized_severity;
        }
        e
    }

    /// `true` when the SQLSTATE equals `code`.
    pub fn is(&self, code: &str) -> bool {
        self.code == code
    }

    /// `true` for SQLSTATE `55006` (object in use), which the server returns
    /// e.g. when a replication slot is already streaming to another connection.
    pub fn is_object_in_use(&self) -> bool {
        self.is(sqlstate::OBJECT_IN_USE)
    }
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} (SQLSTATE {})",
            self.severity, self.message, self.code
        )?;
        if let Some(d) = &self.detail {
            write!(f, "; detail: {d}")?;
        }
        if let Some(h) = &self.hint {
            write!(f, "; hint: {h}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ServerError {}

/// Everything that can go wrong talking the replication protocol.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// The TCP connection could not be established (refused, unreachable,
    /// DNS failure, ...). Nothing was sent to the server.
    #[error("could not connect to PostgreSQL at {addr}: {source}")]
    Connect {
        /// `host:port` that was tried.
        addr: String,
        /// Underlying OS / resolver error.
        #[source]
        source: io::Error,
    },
    /// Connecting (TCP + TLS + authentication) took longer than the connect timeout.
    #[error("timed out after {after:?} connecting to PostgreSQL at {addr}")]
    ConnectTimeout {
        /// `host:port` that was tried.
        addr: String,
        /// The configured timeout.
        after: Duration,
    },
    /// TLS was required by `sslmode` but the server does not accept TLS.
    #[error("server at {addr} does not support SSL, but sslmode={sslmode} requires it")]
    TlsNotSupported {
        /// `host:port`.
        addr: String,
        /// The sslmode that demanded TLS.
        sslmode: &'static str,
    },
    /// TLS configuration or handshake failure (bad root certificate file,
    /// certificate verification failure, ...).
    #[error("TLS error: {0}")]
    Tls(String),
    /// Authentication could not be carried out by the client (unsupported
    /// method, missing password, SCRAM exchange failure). A wrong password is
    /// reported by the server instead, as [`ProtocolError::Server`] with SQLSTATE `28P01`.
    #[error("authentication failed: {0}")]
    Auth(String),
    /// The server answered with an `ErrorResponse`.
    #[error("PostgreSQL server error: {0}")]
    Server(ServerError),
    /// I/O error on an established connection.
    #[error("I/O error on PostgreSQL connection: {0}")]
    Io(#[from] io::Error),
    /// The server closed the connection unexpectedly.
    #[error("PostgreSQL closed the connection unexpectedly")]
    ConnectionClosed,
    /// The server sent something this client did not expect.
    #[error("protocol violation: {0}")]
    Protocol(String),
    /// Invalid parameters supplied by the caller (e.g. a NUL byte in a name).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A pgoutput payload could not be decoded.
    #[error(transparent)]
    Decode(#[from] DecodeError),
}

impl ProtocolError {
    /// The SQLSTATE code for [`ProtocolError::Server`], `None` otherwise.
    pub fn sqlstate(&self) -> Option<&str> {
        match self {
            ProtocolError::Server(e) => Some(e.code.as_str()),
            _ => None,
        }
    }

    /// The server error, if this is one.
    pub fn server_error(&self) -> Option<&ServerError> {
        match self {
            ProtocolError::Server(e) => Some(e),
            _ => None,
        }
    }

    /// `true` for failures to reach the server at all (refused, DNS, timeout):
    /// retrying later may help; configuration of credentials is not the problem.
    pub fn is_connect_error(&self) -> bool {
        matches!(
            self,
            ProtocolError::Connect { .. } | ProtocolError::ConnectTimeout { .. }
        )
    }

    /// `true` for errors after which the connection is unusable and a
    /// reconnect is the only way forward (I/O, closed connection, protocol
    /// violation, connect failures). Server errors with severity `ERROR` leave
    /// a non-streaming connection usable.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ProtocolError::Connect { .. }
                | ProtocolError::ConnectTimeout { .. }
                | ProtocolError::Io(_)
                | ProtocolError::ConnectionClosed
        )
    }
}

/// Result alias for this module.
pub type Result<T, E = ProtocolError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_error_response_fields() {
        let body = b"SERROR\0VERROR\0C55006\0Mreplication slot \"s\" is active for PID 42\0Dsome detail\0Hsome hint\0Fslot.c\0\0";
        let e = ServerError::parse(body);
        assert_eq!(e.severity, "ERROR");
        assert_eq!(e.code, "55006");
        assert_eq!(e.message, "replication slot \"s\" is active for PID 42");
        assert_eq!(e.detail.as_deref(), Some("some detail"));
        assert_eq!(e.hint.as_deref(), Some("some hint"));
        assert!(e.is(sqlstate::OBJECT_IN_USE));
        let shown = ProtocolError::Server(e).to_string();
        assert!(
            shown.contains("55006") && shown.contains("some hint"),
            "{shown}"
        );
    }

    #[test]
    fn tolerates_truncated_error_response() {
        let e = ServerError::parse(b"SFATAL\0C28P0");
        assert_eq!(e.severity, "FATAL");
        assert_eq!(e.code, "28P0");
    }
}
