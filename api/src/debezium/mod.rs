//! Debezium's record shapes, in one place for every source connector that
//! emits them (PostgreSQL, MySQL / MariaDB, the JDBC source in `debezium`
//! output format).
//!
//! - [`source`]: the `source` block: the common fields every Debezium
//!   connector writes first ([`source_schema_base`], [`SourceCommon`]) and a
//!   builder ([`SourceBlock`]) to which each connector appends its own
//!   fields, by name and in schema order.
//! - [`envelope`]: the per-table `<base>.Key`, `<base>.Value` and
//!   `<base>.Envelope` schemas ([`TableEnvelope`]) and the records built on
//!   them: `r`/`c`/`u`/`d` change events, the delete + tombstone pair and the
//!   `t` (truncate) event.
//! - [`transaction`]: transaction metadata (`provide.transaction.metadata`):
//!   the `transaction` block of change events and the BEGIN / END records.
//! - [`heartbeat`]: the records of the heartbeat topic.
//! - [`message`]: message events (`op: "m"`, PostgreSQL's logical decoding
//!   messages) on `<topic.prefix>.message`.
//! - [`keys`]: the configuration keys every source declares alike.
//! - [`options`]: the options every source reads alike
//!   (`skipped.operations`, `message.key.columns`, include / exclude lists).
//! - [`columns`]: the per-column options (`column.mask.*`,
//!   `column.truncate.*`, `column.propagate.source.type`,
//!   `datatype.propagate.source.type`), applied by [`TableEnvelope`].
//! - [`signal`]: signals (`signal.data.collection`, the actions and their
//!   parsing); [`incremental`]: the signal-based incremental snapshot's
//!   state, offsets, window and chunk queries; [`java_ser`]: the Java
//!   serialization of chunk keys in those offsets; [`blocking`]: the
//!   blocking snapshot's tables, statements and offsets.
//! - [`snapshot_mode`]: `snapshot.mode=configuration_based` and its five
//!   `snapshot.mode.configuration.based.*` keys.
//!
//! Contract: a connector that builds its events only through this module
//! emits Debezium's field order, optional flags, schema names, versions and
//! parameters; its own code decides only the values (and the extra
//! `source` fields and their schemas).

pub mod blocking;
pub mod columns;
pub mod envelope;
pub mod heartbeat;
pub mod incremental;
pub mod java_ser;
pub mod keys;
pub mod message;
pub mod options;
pub mod signal;
pub mod snapshot_mode;
pub mod source;
pub mod transaction;

pub use envelope::{envelope_schema, key_schema, now, value_schema, Change, TableEnvelope};
pub use message::MessageEnvelope;
pub use source::{
    source_schema_base, SourceBlock, SourceCommon, SourceTime, SNAPSHOT_MARKERS, VERSION,
};
pub use transaction::TxCounter;
