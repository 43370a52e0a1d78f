//! Errors of the materializing sink, each retriable or fatal, converted
//! into [`velocity_api::ConnectError`] at the API boundary. Messages name
//! the configuration key, the table or the record involved and never
//! contain the password.

use velocity_api::{ConfigErrors, ConnectError, ErrorKind};

/// What can go wrong in the materializing sink.
#[derive(Debug, thiserror::Error)]
pub enum MaterializeError {
    /// Configuration keys are missing or invalid (each names its key and rule).
    #[error(transparent)]
    Config(#[from] ConfigErrors),
    /// The database could not be reached or refused the login.
    #[error("cannot connect to {database} at {address} as '{user}': {message}; check connection.url, connection.username and connection.password")]
    Connect {
        /// `PostgreSQL` or `MariaDB`.
        database: &'static str,
        /// `host:port`.
        address: String,
        /// The user name (not secret).
        user: String,
        /// The driver's message.
        message: String,
        /// Whether trying again may help (network) or not (credentials, unknown database).
        retriable: bool,
    },
    /// A target table of the mapping does not exist.
    #[error("table {table} (materialize.{alias}.table) does not exist; create it before starting the sink")]
    MissingTable {
        /// The mapping alias.
        alias: String,
        /// The table name.
        table: String,
    },
    /// A record cannot be mapped (not an event map, a key column missing…).
    #[error("cannot materialize record at topic {topic} partition {partition} offset {offset}: {message}")]
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
    /// A statement failed; nothing of the batch was committed.
    #[error("{database} error while {action}: {message}")]
    Database {
        /// `PostgreSQL` or `MariaDB`.
        database: &'static str,
        /// What the sink was doing.
        action: String,
        /// The server's message.
        message: String,
        /// Lost connection, deadlock or serialization failure.
        retriable: bool,
        /// The driver's error.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
}

impl MaterializeError {
    /// Retriable (the batch may be retried after reconnecting) or fatal.
    pub fn kind(&self) -> ErrorKind {
        match self {
            MaterializeError::Connect {
                retriable: true, ..
            }
            | MaterializeError::Database {
                retriable: true, ..
            } => ErrorKind::Retriable,
            _ => ErrorKind::Fatal,
        }
    }
}

/// A PostgreSQL error while `action`: retriable for connection loss
/// (class 08), serialization failures and deadlocks (40xxx).
pub fn pg_error(action: impl Into<String>, e: tokio_postgres::Error) -> MaterializeError {
    let (message, retriable) = match e.as_db_error() {
        Some(db) => (
            format!("{} (SQLSTATE {})", db.message(), db.code().code()),
            db.code().code().starts_with("08") || db.code().code().starts_with("40"),
        ),
        None => (e.to_string(), true),
    };
    MaterializeError::Database {
        database: "PostgreSQL",
        action: action.into(),
        message,
        retriable,
        source: Some(Box::new(e)),
    }
}

/// A MariaDB error while `action`: retriable for I/O errors, deadlocks
/// (1213) and lock wait timeouts (1205).
pub fn my_error(action: impl Into<String>, e: mysql_async::Error) -> MaterializeError {
    let retriable = match &e {
        mysql_async::Error::Server(s) => matches!(s.code, 1205 | 1213),
        mysql_async::Error::Io(_) | mysql_async::Error::Driver(_) => true,
        _ => false,
    };
    MaterializeError::Database {
        database: "MariaDB",
        action: action.into(),
        message: e.to_string(),
        retriable,
        source: Some(Box::new(e)),
    }
}

impl From<MaterializeError> for ConnectError {
    fn from(e: MaterializeError) -> ConnectError {
        match e {
            MaterializeError::Config(e) => e.into(),
            _ if e.kind() == ErrorKind::Retriable => ConnectError::retriable(e.to_string()),
            _ => ConnectError::fatal(e.to_string()),
        }
    }
}
