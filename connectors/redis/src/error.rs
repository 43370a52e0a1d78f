//! Errors of the Redis sink, each with the kind (retriable or fatal) the
//! runtime needs, converted into [`velocity_api::ConnectError`] at the API
//! boundary. Messages name the configuration key or the record involved;
//! they never contain `redis.password`.

use velocity_api::{ConfigErrors, ConnectError, ErrorKind};

/// What can go wrong in the Redis sink.
#[derive(Debug, thiserror::Error)]
pub enum RedisSinkError {
    /// Configuration keys are missing or invalid (each names its key and rule).
    #[error(transparent)]
    Config(#[from] ConfigErrors),
    /// Redis refused the credentials.
    #[error("Redis at {address} rejected the credentials: {message}; check redis.user and redis.password")]
    Auth {
        /// `host:port`.
        address: String,
        /// The server's message.
        message: String,
    },
    /// Redis could not be reached (or the TLS handshake failed).
    #[error("cannot connect to Redis at {address}: {message}; check redis.address and redis.ssl.enabled")]
    Connect {
        /// `host:port`.
        address: String,
        /// The driver's message.
        message: String,
    },
    /// A record cannot be written (no key for the key template, unsupported shape).
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
    /// A command or pipeline failed.
    #[error("Redis error while {action}: {message}")]
    Command {
        /// What the sink was doing.
        action: String,
        /// The server's or driver's message.
        message: String,
        /// Whether trying again may help (connection lost, server loading, busy).
        retriable: bool,
    },
}

impl RedisSinkError {
    /// Whether retrying can help.
    pub fn kind(&self) -> ErrorKind {
        match self {
            RedisSinkError::Connect { .. }
            | RedisSinkError::Command {
                retriable: true, ..
            } => ErrorKind::Retriable,
            _ => ErrorKind::Fatal,
        }
    }
}

impl From<RedisSinkError> for ConnectError {
    fn from(e: RedisSinkError) -> ConnectError {
        match e {
            RedisSinkError::Config(e) => e.into(),
            other => ConnectError::from_error(other.kind(), other),
        }
    }
}

/// Classifies a driver error raised while `action`.
pub fn command_error(action: impl Into<String>, e: &redis::RedisError) -> RedisSinkError {
    let retriable = e.is_io_error()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_timeout()
        || matches!(
            e.kind(),
            redis::ErrorKind::BusyLoadingError | redis::ErrorKind::TryAgain
        );
    RedisSinkError::Command {
        action: action.into(),
        message: e.to_string(),
        retriable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_keys() {
        let e: ConnectError = RedisSinkError::Config(ConfigErrors::one("redis.mode", "x")).into();
        assert!(matches!(e, ConnectError::Config { ref key, .. } if key == "redis.mode"));
        let e = RedisSinkError::Connect {
            address: "h:1".into(),
            message: "refused".into(),
        };
        assert_eq!(e.kind(), ErrorKind::Retriable);
        assert!(e.to_string().contains("redis.address"));
        let e = RedisSinkError::Auth {
            address: "h:1".into(),
            message: "WRONGPASS".into(),
        };
        assert_eq!(e.kind(), ErrorKind::Fatal);
        assert!(e.to_string().contains("redis.password"));
    }
}
