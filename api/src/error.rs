//! The error type shared by every plugin, with a kind that tells the runtime
//! whether retrying can help.

use std::fmt;

/// Whether an error can go away by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A transient condition (network blip, broker or database restarting, lock
    /// held by someone else). The runtime may retry the same operation.
    Retriable,
    /// A condition that will not change without a human: bad configuration,
    /// missing permission, incompatible server setting, corrupt data. The task
    /// is marked FAILED with the message as its trace.
    Fatal,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorKind::Retriable => "retriable",
            ErrorKind::Fatal => "fatal",
        })
    }
}

/// An error raised by a connector, task, transform or converter.
///
/// Messages are written for the operator: they name the configuration key or
/// the server setting involved and say how to fix it. They never contain
/// secrets (passwords, keys), so they can be shown in REST status responses.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// A configuration value is missing or invalid. `key` is the dotted key
    /// exactly as the user wrote it (e.g. `database.hostname`).
    #[error("Invalid value for configuration {key}: {message}")]
    Config {
        /// The dotted configuration key.
        key: String,
        /// The rule that was broken and how to fix it.
        message: String,
    },
    /// Any other error, with its kind.
    #[error("{message}")]
    Other {
        /// Retriable or fatal.
        kind: ErrorKind,
        /// Operator-facing description.
        message: String,
        /// The error this one was made from (driver, I/O), kept for
        /// `Error::source` chains; never shown in REST answers.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
    },
}

impl ConnectError {
    /// A configuration error for `key`.
    pub fn config(key: impl Into<String>, message: impl Into<String>) -> Self {
        ConnectError::Config {
            key: key.into(),
            message: message.into(),
        }
    }

    /// A fatal error: the task fails and stays failed until restarted.
    pub fn fatal(message: impl Into<String>) -> Self {
        ConnectError::Other {
            kind: ErrorKind::Fatal,
            message: message.into(),
            source: None,
        }
    }

    /// A retriable error: the runtime may try again.
    pub fn retriable(message: impl Into<String>) -> Self {
        ConnectError::Other {
            kind: ErrorKind::Retriable,
            message: message.into(),
            source: None,
        }
    }

    /// An error of `kind` described by `error`'s text, keeping `error` as
    /// its source.
    pub fn from_error(
        kind: ErrorKind,
        error: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        ConnectError::Other {
            kind,
            message: error.to_string(),
            source: Some(Box::new(error)),
        }
    }

    /// The kind of this error; configuration errors are always fatal.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ConnectError::Config { .. } => ErrorKind::Fatal,
            ConnectError::Other { kind, .. } => *kind,
        }
    }

    /// True when retrying may succeed.
    pub fn is_retriable(&self) -> bool {
        self.kind() == ErrorKind::Retriable
    }
}

/// Result alias for plugin code.
pub type Result<T, E = ConnectError> = std::result::Result<T, E>;
