//! `snapshot.mode=configuration_based` (Debezium 2.7+'s
//! `ConfigurationBasedSnapshotter`): five booleans, all `false` by
//! default, say whether the connector snapshots data and schema, whether it
//! streams after the snapshot, and what it does when the schema history or
//! the stored log position is missing ([`ConfigurationBased`]).
//!
//! Contract: each source declares the keys in its own `config.rs`
//! (`NAME = velocity_api::debezium::snapshot_mode::NAME;`) and reads them
//! with [`ConfigurationBased::read`]; the keys only matter under
//! `snapshot.mode=configuration_based`.

use crate::config::{ConfigKey, ConfigReader, ConfigType::Boolean, Importance::Medium};

/// `snapshot.mode.configuration.based.snapshot.data` (default false).
pub const SNAPSHOT_DATA: ConfigKey = ConfigKey::new("snapshot.mode.configuration.based.snapshot.data", Boolean, Some("false"), Medium, "When 'snapshot.mode' is set as configuration_based, this setting permits to specify whenever the data should be snapshotted or not.");

/// `snapshot.mode.configuration.based.snapshot.schema` (default false).
pub const SNAPSHOT_SCHEMA: ConfigKey = ConfigKey::new("snapshot.mode.configuration.based.snapshot.schema", Boolean, Some("false"), Medium, "When 'snapshot.mode' is set as configuration_based, this setting permits to specify whenever the schema should be snapshotted or not.");

/// `snapshot.mode.configuration.based.start.stream` (default false).
pub const START_STREAM: ConfigKey = ConfigKey::new("snapshot.mode.configuration.based.start.stream", Boolean, Some("false"), Medium, "When 'snapshot.mode' is set as configuration_based, this setting permits to specify whenever the stream should start or not after snapshot.");

/// `snapshot.mode.configuration.based.snapshot.on.schema.error` (default false).
pub const SNAPSHOT_ON_SCHEMA_ERROR: ConfigKey = ConfigKey::new("snapshot.mode.configuration.based.snapshot.on.schema.error", Boolean, Some("false"), Medium, "When 'snapshot.mode' is set as configuration_based, this setting permits to specify whenever the schema should be snapshotted or not in case of error.");

/// `snapshot.mode.configuration.based.snapshot.on.data.error` (default false).
pub const SNAPSHOT_ON_DATA_ERROR: ConfigKey = ConfigKey::new("snapshot.mode.configuration.based.snapshot.on.data.error", Boolean, Some("false"), Medium, "When 'snapshot.mode' is set as configuration_based, this setting permits to specify whenever the data should be snapshotted or not in case of error.");

/// Debezium's error when `snapshot.on.schema.error` is set and there is no
/// stored offset (`BaseSourceTask#validateSchemaHistory`).
pub const NO_OFFSET_FOR_SCHEMA_RECOVERY: &str =
    "Could not find existing redo log information while attempting schema only recovery snapshot";

/// The five `snapshot.mode.configuration.based.*` settings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConfigurationBased {
    /// `.snapshot.data`: snapshot the data at every start.
    pub snapshot_data: bool,
    /// `.snapshot.schema`: snapshot the schema (historized connectors).
    pub snapshot_schema: bool,
    /// `.start.stream`: stream after the snapshot (otherwise stop there).
    pub start_stream: bool,
    /// `.snapshot.on.schema.error`: rebuild a missing schema history from
    /// the current schema; with no stored offset Debezium refuses to start.
    pub snapshot_on_schema_error: bool,
    /// `.snapshot.on.data.error`: when the stored position is no longer
    /// available, forget the offsets (and snapshot if `.snapshot.data`)
    /// instead of failing.
    pub snapshot_on_data_error: bool,
}

impl ConfigurationBased {
    /// The keys, for the connectors' `config_keys!` listings.
    pub const KEYS: [ConfigKey; 5] = [
        SNAPSHOT_DATA,
        SNAPSHOT_SCHEMA,
        START_STREAM,
        SNAPSHOT_ON_SCHEMA_ERROR,
        SNAPSHOT_ON_DATA_ERROR,
    ];

    /// Reads the five keys.
    pub fn read(r: &mut ConfigReader<'_>) -> ConfigurationBased {
        ConfigurationBased {
            snapshot_data: r.bool(&SNAPSHOT_DATA),
            snapshot_schema: r.bool(&SNAPSHOT_SCHEMA),
            start_stream: r.bool(&START_STREAM),
            snapshot_on_schema_error: r.bool(&SNAPSHOT_ON_SCHEMA_ERROR),
            snapshot_on_data_error: r.bool(&SNAPSHOT_ON_DATA_ERROR),
        }
    }

    /// Debezium's start decision for this snapshotter, from whether an
    /// offset is stored (`has_offset`) and whether its log position is
    /// still on the server (`available`; ignored without an offset):
    /// - no offset and `.snapshot.on.schema.error`: Debezium's error
    ///   [`NO_OFFSET_FOR_SCHEMA_RECOVERY`];
    /// - the position is gone and `.start.stream`: with
    ///   `.snapshot.on.data.error` the offsets are forgotten
    ///   ([`Start::reset_offsets`]), else `Err(None)`: the caller's
    ///   "no longer available" error;
    /// - then snapshot the data when `.snapshot.data`, and stream when
    ///   `.start.stream`.
    pub fn start(&self, has_offset: bool, available: bool) -> Result<Start, Option<String>> {
        if !has_offset && self.snapshot_on_schema_error {
            return Err(Some(NO_OFFSET_FOR_SCHEMA_RECOVERY.to_owned()));
        }
        let mut reset_offsets = false;
        if has_offset && !available && self.start_stream {
            tracing::warn!("Last recorded offset is no longer available on the server.");
            if !self.snapshot_on_data_error {
                return Err(None);
            }
            tracing::info!("The last recorded offset is no longer available but we are in configuration_based snapshot mode. Attempting to snapshot data to fill the gap.");
            reset_offsets = true;
        }
        Ok(Start {
            snapshot_data: self.snapshot_data,
            stream: self.start_stream,
            reset_offsets,
        })
    }
}

/// What a `configuration_based` connector does at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Start {
    /// Snapshot the captured tables' data.
    pub snapshot_data: bool,
    /// Stream after the snapshot; otherwise Debezium logs `Streaming is
    /// disabled for snapshot mode configuration_based` and stops there.
    pub stream: bool,
    /// Forget the stored offsets (their position is gone and
    /// `.snapshot.on.data.error` is set).
    pub reset_offsets: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{raw_config, ConfigReader};

    #[test]
    fn keys_default_to_false_and_read() {
        let raw = raw_config(&[]);
        let mut r = ConfigReader::new(&raw);
        assert_eq!(
            ConfigurationBased::read(&mut r),
            ConfigurationBased::default()
        );
        let raw = raw_config(&[
            ("snapshot.mode.configuration.based.snapshot.data", "true"),
            ("snapshot.mode.configuration.based.start.stream", "true"),
            (
                "snapshot.mode.configuration.based.snapshot.on.data.error",
                "true",
            ),
        ]);
        let mut r = ConfigReader::new(&raw);
        let cb = ConfigurationBased::read(&mut r);
        assert!(cb.snapshot_data && cb.start_stream && cb.snapshot_on_data_error);
        assert!(!cb.snapshot_schema && !cb.snapshot_on_schema_error);
    }

    #[test]
    fn start_follows_debeziums_snapshotter() {
        let cb = |data, stream, on_data_error, on_schema_error| ConfigurationBased {
            snapshot_data: data,
            snapshot_schema: false,
            start_stream: stream,
            snapshot_on_schema_error: on_schema_error,
            snapshot_on_data_error: on_data_error,
        };
        let start = |data, stream, reset| Start {
            snapshot_data: data,
            stream,
            reset_offsets: reset,
        };
        // data at every start, offsets or not
        assert_eq!(
            cb(true, true, false, false).start(false, false),
            Ok(start(true, true, false))
        );
        assert_eq!(
            cb(true, true, false, false).start(true, true),
            Ok(start(true, true, false))
        );
        assert_eq!(
            cb(false, true, false, false).start(true, true),
            Ok(start(false, true, false))
        );
        assert_eq!(
            cb(true, false, false, false).start(false, false),
            Ok(start(true, false, false))
        );
        // the stored position is gone
        assert_eq!(cb(false, true, false, false).start(true, false), Err(None));
        assert_eq!(
            cb(true, true, true, false).start(true, false),
            Ok(start(true, true, true))
        );
        // not streaming: the position does not matter
        assert_eq!(
            cb(false, false, false, false).start(true, false),
            Ok(start(false, false, false))
        );
        // schema recovery without an offset
        assert_eq!(
            cb(true, true, false, true).start(false, false),
            Err(Some(NO_OFFSET_FOR_SCHEMA_RECOVERY.to_owned()))
        );
        assert!(cb(true, true, false, true).start(true, true).is_ok());
    }
}
