//! The error type of the transforms, converted into [`ConnectError`] at the
//! plugin boundary: configuration errors keep their key, data errors (a
//! record the transform cannot handle) are fatal, as Kafka Connect's
//! `DataException` fails the task unless `errors.tolerance` says otherwise.

use velocity_api::ConnectError;

/// What can go wrong while configuring or applying a transform or predicate.
#[derive(Debug, thiserror::Error)]
pub enum TransformError {
    /// A configuration key is missing or invalid; `key` is relative to the
    /// plugin's prefix (e.g. `field`, not `transforms.a.field`).
    #[error("Invalid value for configuration {key}: {message}")]
    Config {
        /// The key, relative to the plugin's prefix.
        key: String,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// The record does not have the shape the transform needs (Kafka's
    /// `DataException`).
    #[error("{0}")]
    Data(String),
}

impl From<TransformError> for ConnectError {
    fn from(e: TransformError) -> ConnectError {
        match e {
            TransformError::Config { key, message } => ConnectError::config(key, message),
            TransformError::Data(m) => ConnectError::fatal(m),
        }
    }
}

/// A configuration error for `key`.
pub(crate) fn config_err(key: &str, message: impl Into<String>) -> ConnectError {
    TransformError::Config {
        key: key.to_owned(),
        message: message.into(),
    }
    .into()
}

/// A data error (the record cannot be transformed).
pub(crate) fn data_err(message: impl Into<String>) -> ConnectError {
    TransformError::Data(message.into()).into()
}
