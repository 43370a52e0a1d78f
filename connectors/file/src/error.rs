//! Errors of the FileStream connectors, each with the kind (retriable or
//! fatal) the runtime needs, converted into [`velocity_api::ConnectError`] at
//! the API boundary.

use std::io;

use velocity_api::{ConfigErrors, ConnectError, ErrorKind};

/// What can go wrong in the FileStream connectors.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// Configuration keys are missing or invalid (each names its key and rule).
    #[error(transparent)]
    Config(#[from] ConfigErrors),
    /// The file could not be opened or created.
    #[error("Couldn't find or create file '{path}' for {task}: {source}")]
    Open {
        /// The configured file.
        path: String,
        /// `FileStreamSourceTask` or `FileStreamSinkTask`.
        task: &'static str,
        /// The operating system's error.
        source: io::Error,
    },
    /// Reading, writing, seeking or syncing the file failed.
    #[error("I/O error on file '{path}' while {action}: {source}")]
    Io {
        /// The configured file.
        path: String,
        /// What the task was doing (`reading`, `flushing`...).
        action: &'static str,
        /// The operating system's error.
        source: io::Error,
    },
    /// The stored source offset does not have Kafka's shape
    /// `{"position": <long>}`.
    #[error("Offset position is the incorrect type for file '{path}': expected a non-negative integer, found {found}")]
    BadOffset {
        /// The configured file.
        path: String,
        /// The stored value, as JSON.
        found: String,
    },
    /// `poll`/`put`/`flush` was called before `start` or after `stop`.
    #[error("{0} is not started")]
    NotStarted(&'static str),
    /// The blocking I/O worker thread panicked or was cancelled.
    #[error("file I/O worker failed: {0}")]
    Worker(String),
}

impl FileError {
    /// Whether retrying can help: transient I/O conditions are retriable;
    /// configuration, missing permissions, corrupt offsets and disk errors
    /// are fatal.
    pub fn kind(&self) -> ErrorKind {
        match self {
            FileError::Io { source, .. } | FileError::Open { source, .. } => match source.kind() {
                io::ErrorKind::Interrupted
                | io::ErrorKind::WouldBlock
                | io::ErrorKind::TimedOut => ErrorKind::Retriable,
                _ => ErrorKind::Fatal,
            },
            FileError::Worker(_) => ErrorKind::Retriable,
            FileError::Config(_) | FileError::BadOffset { .. } | FileError::NotStarted(_) => {
                ErrorKind::Fatal
            }
        }
    }
}

impl From<FileError> for ConnectError {
    fn from(e: FileError) -> ConnectError {
        match e {
            FileError::Config(e) => e.into(),
            other => ConnectError::from_error(other.kind(), other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_errors_keep_the_key() {
        let e: ConnectError = FileError::Config(ConfigErrors::one("topic", "x")).into();
        assert!(matches!(e, ConnectError::Config { ref key, .. } if key == "topic"));
    }

    #[test]
    fn kinds() {
        let io = |k| FileError::Io {
            path: "f".into(),
            action: "reading",
            source: io::Error::from(k),
        };
        assert_eq!(io(io::ErrorKind::Interrupted).kind(), ErrorKind::Retriable);
        assert_eq!(io(io::ErrorKind::PermissionDenied).kind(), ErrorKind::Fatal);
        let e: ConnectError = io(io::ErrorKind::PermissionDenied).into();
        assert!(!e.is_retriable());
        assert!(e.to_string().contains("'f'"), "{e}");
    }
}
