//! Errors of the Avro converter and the Schema Registry client, each with a
//! retriable/fatal kind that survives the conversion to [`ConnectError`].

use velocity_api::config::ConfigErrors;
use velocity_api::{ConnectError, ErrorKind};

/// What went wrong while converting or talking to the registry.
#[derive(Debug, thiserror::Error)]
pub enum AvroError {
    /// The data does not fit the schema (Kafka Connect's `DataException`).
    #[error("{0}")]
    Data(String),
    /// Configuration keys are wrong (keys as the user spelled them, without
    /// the converter prefix; one rule and fix per key).
    #[error(transparent)]
    Config(#[from] ConfigErrors),
    /// The registry answered with an error that retrying will not fix
    /// (unknown subject, incompatible schema, bad credentials).
    #[error("{0}")]
    Registry(String),
    /// The registry could not be reached or answered 408/429/5xx after every
    /// retry and URL: the operation may succeed later.
    #[error("{0}")]
    Unavailable(String),
    /// Avro bytes could not be decoded.
    #[error("{message}")]
    Decode {
        /// What failed.
        message: String,
        /// The Avro library's error.
        #[source]
        source: Option<apache_avro::Error>,
    },
}

impl AvroError {
    /// A data error.
    pub fn data(message: impl Into<String>) -> Self {
        AvroError::Data(message.into())
    }

    /// A configuration error for `key`.
    pub fn config(key: impl Into<String>, message: impl Into<String>) -> Self {
        let key = key.into();
        let message = message.into();
        AvroError::Config(ConfigErrors::one(
            &key,
            format!("Invalid value for configuration {key}: {message}"),
        ))
    }

    /// Retriable (registry unavailable) or fatal.
    pub fn kind(&self) -> ErrorKind {
        match self {
            AvroError::Unavailable(_) => ErrorKind::Retriable,
            _ => ErrorKind::Fatal,
        }
    }
}

impl From<AvroError> for ConnectError {
    fn from(e: AvroError) -> Self {
        match e {
            AvroError::Config(errors) => errors.into(),
            other => ConnectError::from_error(other.kind(), other),
        }
    }
}
