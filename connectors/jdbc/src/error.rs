//! Errors of the JDBC sink, each with the kind (retriable or fatal) the
//! runtime needs, converted into [`velocity_api::ConnectError`] at the API
//! boundary. Messages name the configuration key or the table involved and
//! say how to fix it; they never contain the password.

use velocity_api::jdbc::DbError;
use velocity_api::{ConfigErrors, ConnectError, ErrorKind};

/// What can go wrong in the JDBC sink.
#[derive(Debug, thiserror::Error)]
pub enum JdbcError {
    /// Configuration keys are missing or invalid (each names its key and rule).
    #[error(transparent)]
    Config(#[from] ConfigErrors),
    /// Connecting or a statement failed (the database refused the
    /// credentials, could not be reached, or a statement failed).
    #[error(transparent)]
    Db(#[from] DbError),
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
}

impl JdbcError {
    /// Whether retrying can help.
    pub fn kind(&self) -> ErrorKind {
        match self {
            JdbcError::Db(e) => e.kind(),
            _ => ErrorKind::Fatal,
        }
    }
}

impl From<JdbcError> for ConnectError {
    fn from(e: JdbcError) -> ConnectError {
        match e {
            JdbcError::Config(e) => e.into(),
            other => ConnectError::from_error(other.kind(), other),
        }
    }
}

/// A PostgreSQL statement failed while `action` ([`velocity_api::jdbc::pg::error`]).
pub fn pg_error(action: impl Into<String>, e: &tokio_postgres::Error) -> JdbcError {
    JdbcError::Db(velocity_api::jdbc::pg::error(action, e))
}

/// A MariaDB statement failed while `action` ([`velocity_api::jdbc::my::error`]).
pub fn my_error(action: impl Into<String>, e: &mysql_async::Error) -> JdbcError {
    JdbcError::Db(velocity_api::jdbc::my::error(action, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_errors_keep_the_key() {
        let e: ConnectError = JdbcError::Config(ConfigErrors::one("insert.mode", "x")).into();
        assert!(matches!(e, ConnectError::Config { ref key, .. } if key == "insert.mode"));
    }

    #[test]
    fn kinds_and_messages() {
        let e = JdbcError::MissingTable { table: "t".into() };
        assert_eq!(e.kind(), ErrorKind::Fatal);
        assert!(e.to_string().contains("schema.evolution=basic"));
        let e = JdbcError::Db(DbError::Auth {
            database: "PostgreSQL",
            address: "h:1".into(),
            user: "u".into(),
            user_key: "connection.username",
            message: "m".into(),
        });
        assert!(e
            .to_string()
            .contains("connection.username and connection.password"));
        let e = JdbcError::Db(DbError::Connect {
            database: "PostgreSQL",
            address: "h:1".into(),
            message: "m".into(),
            retriable: true,
        });
        let c: ConnectError = e.into();
        assert!(c.is_retriable() && c.to_string().contains("connection.url"));
    }
}
