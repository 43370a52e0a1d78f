//! The error type of the transforms, converted into [`ConnectError`] at the
//! plugin boundary: configuration errors keep their key, data errors (a
//! record the transform cannot handle) are fatal, as Kafka Connect's
//! `DataException` fails the task unless `errors.tolerance` says otherwise.

use velocity_api::config::TypedConfig;
use velocity_api::{ConfigErrors, ConnectError, RawConfig};

/// What can go wrong while configuring or applying a transform or predicate.
#[derive(Debug, thiserror::Error)]
pub enum TransformError {
    /// Configuration keys are missing or invalid: each error names its key,
    /// relative to the plugin's prefix (e.g. `field`, not
    /// `transforms.a.field`), and the rule it breaks. Always fatal.
    #[error(transparent)]
    Config(#[from] ConfigErrors),
    /// The record does not have the shape the transform needs (Kafka's
    /// `DataException`).
    #[error("{0}")]
    Data(String),
}

impl From<TransformError> for ConnectError {
    fn from(e: TransformError) -> ConnectError {
        match e {
            TransformError::Config(e) => e.into(),
            TransformError::Data(m) => ConnectError::fatal(m),
        }
    }
}

/// The typed configuration `C` of a transform or predicate, read from its
/// keys (prefix removed), or a fatal configuration error naming every
/// offending key and its rule.
pub(crate) fn read_config<C: TypedConfig>(raw: &RawConfig) -> Result<C, ConnectError> {
    C::from_raw(raw).map_err(|e| TransformError::Config(e).into())
}

/// A configuration error for `key` found after the keys were read (e.g. a
/// file the key names cannot be loaded).
pub(crate) fn config_err(key: &str, rule: impl Into<String>) -> ConnectError {
    TransformError::Config(ConfigErrors::one(key, rule)).into()
}

/// A data error (the record cannot be transformed).
pub(crate) fn data_err(message: impl Into<String>) -> ConnectError {
    TransformError::Data(message.into()).into()
}
