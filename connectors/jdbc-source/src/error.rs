//! Errors of the JDBC source, each with the kind (retriable or fatal) the
//! runtime needs, converted into [`velocity_api::ConnectError`] at the API
//! boundary. Messages name the configuration key, the table or the column
//! involved and say how to fix it; they never contain the password.

use velocity_api::jdbc::DbError;
use velocity_api::{ConfigErrors, ConnectError, ErrorKind};

/// What can go wrong in the JDBC source.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// Configuration keys are missing or invalid (each names its key and rule).
    #[error(transparent)]
    Config(#[from] ConfigErrors),
    /// Connecting (after `connection.attempts`) or a statement failed: the
    /// database refused the credentials, could not be reached, or a
    /// statement failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// A configured table or column does not exist or cannot be used.
    #[error("{0}")]
    Schema(String),
    /// A row cannot be turned into a record (null incrementing value,
    /// unparseable value).
    #[error("table {table}: {message}")]
    Row {
        /// The table (or `query`).
        table: String,
        /// What is wrong and how to fix it.
        message: String,
    },
}

impl SourceError {
    /// Whether retrying can help.
    pub fn kind(&self) -> ErrorKind {
        match self {
            SourceError::Db(e) => e.kind(),
            _ => ErrorKind::Fatal,
        }
    }
}

impl From<SourceError> for ConnectError {
    fn from(e: SourceError) -> ConnectError {
        match e {
            SourceError::Config(e) => e.into(),
            other => ConnectError::from_error(other.kind(), other),
        }
    }
}

/// A PostgreSQL statement failed while `action` ([`velocity_api::jdbc::pg::error`]).
pub fn pg_error(action: impl Into<String>, e: &tokio_postgres::Error) -> SourceError {
    SourceError::Db(velocity_api::jdbc::pg::error(action, e))
}

/// A MariaDB statement failed while `action` ([`velocity_api::jdbc::my::error`]).
pub fn my_error(action: impl Into<String>, e: &mysql_async::Error) -> SourceError {
    SourceError::Db(velocity_api::jdbc::my::error(action, e))
}

/// An unexpected answer of `database` while `action` (fatal).
pub fn bad_answer(database: &'static str, action: &str, message: String) -> SourceError {
    SourceError::Db(DbError::Database {
        database,
        action: action.into(),
        message,
        retriable: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_keys_and_messages() {
        let e: ConnectError = SourceError::Config(ConfigErrors::one("mode", "x")).into();
        assert!(matches!(e, ConnectError::Config { ref key, .. } if key == "mode"));
        let c: ConnectError = SourceError::Db(DbError::Connect {
            database: "PostgreSQL",
            address: "h:1".into(),
            message: "refused".into(),
            retriable: true,
        })
        .into();
        assert!(c.is_retriable() && c.to_string().contains("connection.url"));
        let a = SourceError::Db(DbError::Auth {
            database: "MariaDB",
            address: "h:1".into(),
            user: "u".into(),
            user_key: "connection.user",
            message: "denied".into(),
        });
        assert_eq!(a.kind(), ErrorKind::Fatal);
        assert!(a.to_string().contains("connection.password"));
    }
}
