//! Distributed mode: a cluster of workers sharing connectors, offsets and
//! status through Kafka Connect's three internal topics, in Kafka Connect's
//! exact record formats so that a Kafka Connect cluster can be replaced in
//! place (same `group.id`, same topics).
//!
//! - [`assignor`]: Kafka Connect's `IncrementalCooperativeAssignor` as a
//!   pure state machine (lost-worker delay, least-loaded placement,
//!   load-balancing revocations only when no delay is pending);
//! - [`config_store`]: connector configs and target states in the config
//!   topic behind the herder's [`crate::configstore::ConfigStore`] seam;
//! - [`formats`]: the records of the config, offsets and status topics
//!   (keys and JsonConverter-without-schemas values), both directions;
//! - [`config_state`]: the config topic folded into a snapshot with Kafka
//!   Connect's rules (task configs apply at their commit);
//! - [`group`]: the `connect` group membership client (JoinGroup,
//!   SyncGroup with the leader's assignment, heartbeats, LeaveGroup);
//! - [`offset_store`]: `KafkaOffsetBackingStore`'s equivalent behind the
//!   [`crate::offsets::OffsetStore`] seam;
//! - [`protocol`]: the `connect` group protocol's JoinGroup metadata and
//!   SyncGroup assignment, byte-compatible with Kafka Connect's;
//! - [`herder`]: runs what the group assigns to this worker and answers
//!   REST for the whole cluster (leader-only writes, forwarded);
//! - [`session`]: the session key and the signatures of inter-worker
//!   requests;
//! - [`status_store`]: the status topic (`KafkaStatusBackingStore`);
//! - [`worker`]: `velocity distributed`.

pub mod assignor;
pub mod config_state;
pub mod config_store;
pub mod formats;
pub mod group;
pub mod herder;
pub mod offset_store;
pub mod protocol;
pub mod session;
pub mod status_store;
pub mod worker;

use crate::error::RuntimeError;
use crate::kafka_log::KafkaLogError;

/// A Kafka log error of an internal-topic store as a runtime error: an unfit
/// topic is a configuration error (400, Kafka Connect's message), the rest
/// are Kafka errors.
pub(crate) fn store_err(e: KafkaLogError) -> RuntimeError {
    match e {
        KafkaLogError::Config(m) => RuntimeError::BadRequest(m),
        e => RuntimeError::Kafka(e.to_string()),
    }
}
