//! The runtime's view of the Kafka log helper ([`velocity_kafka_log`]): one
//! way to create a topic if absent, verify internal topics, produce with
//! acknowledgement and read a topic to its end; plus the mapping of its
//! errors onto the connector API's retriable/fatal errors.

pub use velocity_kafka_log::*;

use velocity_api::ConnectError;

/// A Kafka log error as a connector-API error, keeping its retriable/fatal kind.
pub fn connect_error(e: KafkaLogError) -> ConnectError {
    if e.is_retriable() {
        ConnectError::retriable(e.to_string())
    } else {
        ConnectError::fatal(e.to_string())
    }
}
