//! Runtime errors, each mapped to the HTTP status and message Kafka Connect's
//! REST API would return for the same situation.

use velocity_api::{ConnectError, ErrorKind};

/// An error from the worker, herder or stores.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// Unknown connector, task or logger (404).
    #[error("{0}")]
    NotFound(String),
    /// The resource already exists (409).
    #[error("{0}")]
    AlreadyExists(String),
    /// The request is invalid (400): bad config, bad state for the operation.
    #[error("{0}")]
    BadRequest(String),
    /// The request is not allowed (403), e.g. an internal request with an
    /// invalid signature.
    #[error("{0}")]
    Forbidden(String),
    /// A rebalance or a concurrent change is in progress (409).
    #[error("{0}")]
    Conflict(String),
    /// A plugin error.
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// Local storage failed (offsets or config file).
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Kafka client failure.
    #[error("Kafka: {0}")]
    Kafka(String),
}

impl RuntimeError {
    /// The HTTP status Kafka Connect answers with for this error.
    pub fn status(&self) -> u16 {
        match self {
            RuntimeError::NotFound(_) => 404,
            RuntimeError::AlreadyExists(_) | RuntimeError::Conflict(_) => 409,
            RuntimeError::BadRequest(_) => 400,
            RuntimeError::Forbidden(_) => 403,
            RuntimeError::Connect(ConnectError::Config { .. }) => 400,
            _ => 500,
        }
    }

    /// Retriable or fatal.
    pub fn kind(&self) -> ErrorKind {
        match self {
            RuntimeError::Connect(e) => e.kind(),
            RuntimeError::Kafka(_) | RuntimeError::Conflict(_) => ErrorKind::Retriable,
            _ => ErrorKind::Fatal,
        }
    }

    /// Wraps an I/O error with context.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        RuntimeError::Io {
            context: context.into(),
            source,
        }
    }
}

/// Result alias for the runtime.
pub type Result<T, E = RuntimeError> = std::result::Result<T, E>;
