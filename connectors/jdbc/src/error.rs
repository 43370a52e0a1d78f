//! Errors of the JDBC sink, each with the kind (retriable or fatal) the
//! runtime needs, converted into [`velocity_api::ConnectError`] at the API
//! boundary. Messages name the configuration key or the table involved and
//! say how to fix it; they never contain the password.

use velocity_api::{ConnectError, ErrorKind};

/// What can go wrong in the JDBC sink.
#[derive(Debug, thiserror::Error)]
pub enum JdbcError {
    /// A configuration key is missing or invalid.
    #[error("Invalid value for configuration {key}: {message}")]
    Config {
        /// The dotted key.
        key: &'static str,
        /// The rule that was broken and how to fix it.
        message: String,
    },
    /// The database refused the credentials.
    #[error("{database} at {address} rejected user '{user}': {message}; check connection.username and connection.password")]
    Auth {
        /// `PostgreSQL` or `MariaDB`.
        database: &'static str,
        /// `host:port`.
        address: String,
        /// The user name (not secret).
        user: String,
        /// The server's message.
        message: String,
    },
    /// The database could not be reached or the database named in the URL does not exist.
    #[error("cannot connect to {database} at {address}: {message}; check connection.url")]
    Connect {
        /// `PostgreSQL` or `MariaDB`.
        database: &'static str,
        /// `host:port`.
        address: String,
        /// The driver's message.
        message: String,
        /// Whether trying again may help (network) or not (unknown database).
        retriable: bool,
    },
    /// The target table does not exist and `schema.evolution=none`.
    #[error("table {table} does not exist; create it or set schema.evolution=basic so the sink creates it")]
    MissingTable {
        /// The table name.
        table: String,
    },
    /// A column of the record does not exist in the table and `schema.evolution=none`.
    #[error("table {table} has no column {column}; add it or set schema.evolution=basic so the sink adds it")]
    MissingColumn {
        /// The table name.
        table: String,
        /// The missing column.
        column: String,
    },
    /// A record cannot be written (no key, unsupported shape or value).
    #[error(
        "cannot write record at topic {topic} partition {partition} offset {offset}: {message}"
    )]
    Record {
        /// Origin topic.
        topic: String,
        /// Origin partition.
        partition: i32,
        /// Origin offset.
        offset: i64,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// A statement failed.
    #[error("{database} error while {action}: {message}")]
    Database {
        /// `PostgreSQL` or `MariaDB`.
        database: &'static str,
        /// What the sink was doing (`writing table x`).
        action: String,
        /// The server's message, with its SQLSTATE.
        message: String,
        /// Whether trying again may help (lost connection, deadlock, serialization failure).
        retriable: bool,
    },
}

impl JdbcError {
    /// Whether retrying can help.
    pub fn kind(&self) -> ErrorKind {
        match self {
            JdbcError::Connect {
                retriable: true, ..
            }
            | JdbcError::Database {
                retriable: true, ..
            } => ErrorKind::Retriable,
            _ => ErrorKind::Fatal,
        }
    }
}

impl From<JdbcError> for ConnectError {
    fn from(e: JdbcError) -> ConnectError {
        match e {
            JdbcError::Config { key, message } => ConnectError::config(key, message),
            other => match other.kind() {
                ErrorKind::Retriable => ConnectError::retriable(other.to_string()),
                ErrorKind::Fatal => ConnectError::fatal(other.to_string()),
            },
        }
    }
}

/// Classifies a tokio-postgres error raised while `action`.
pub fn pg_error(action: impl Into<String>, e: &tokio_postgres::Error) -> JdbcError {
    let action = action.into();
    match e.as_db_error() {
        Some(db) => {
            let code = db.code().code();
            // 08: connection exception, 40: transaction rollback (deadlock,
            // serialization), 53: insufficient resources, 57P0x: shutdown.
            let retriable = code.starts_with("08")
                || code.starts_with("40")
                || code.starts_with("53")
                || code.starts_with("57P");
            let mut message = format!("{} (SQLSTATE {code})", db.message());
            if let Some(d) = db.detail() {
                message.push_str(&format!("; {d}"));
            }
            if let Some(h) = db.hint() {
                message.push_str(&format!("; hint: {h}"));
            }
            JdbcError::Database {
                database: "PostgreSQL",
                action,
                message,
                retriable,
            }
        }
        None => JdbcError::Database {
            database: "PostgreSQL",
            action,
            message: e.to_string(),
            retriable: e.is_closed() || std::error::Error::source(e).is_some(),
        },
    }
}

/// Classifies a mysql_async error raised while `action`.
pub fn my_error(action: impl Into<String>, e: &mysql_async::Error) -> JdbcError {
    let action = action.into();
    let retriable = match e {
        mysql_async::Error::Io(_) | mysql_async::Error::Driver(_) => true,
        // 1205 lock wait timeout, 1213 deadlock
        mysql_async::Error::Server(s) => matches!(s.code, 1205 | 1213),
        _ => false,
    };
    JdbcError::Database {
        database: "MariaDB",
        action,
        message: e.to_string(),
        retriable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_errors_keep_the_key() {
        let e: ConnectError = JdbcError::Config {
            key: "insert.mode",
            message: "x".into(),
        }
        .into();
        assert!(matches!(e, ConnectError::Config { ref key, .. } if key == "insert.mode"));
    }

    #[test]
    fn kinds_and_messages() {
        let e = JdbcError::MissingTable { table: "t".into() };
        assert_eq!(e.kind(), ErrorKind::Fatal);
        assert!(e.to_string().contains("schema.evolution=basic"));
        let e = JdbcError::Auth {
            database: "PostgreSQL",
            address: "h:1".into(),
            user: "u".into(),
            message: "m".into(),
        };
        assert!(e.to_string().contains("connection.password"));
        let e = JdbcError::Connect {
            database: "PostgreSQL",
            address: "h:1".into(),
            message: "m".into(),
            retriable: true,
        };
        let c: ConnectError = e.into();
        assert!(c.is_retriable() && c.to_string().contains("connection.url"));
    }
}
