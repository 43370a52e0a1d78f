//! Debezium's signal-based incremental snapshot (DBLog watermarks), the
//! part every relational source shares: the snapshot's state
//! ([`IncrementalSnapshotContext`], Debezium's
//! `AbstractIncrementalSnapshotContext`) and its offset encoding, the
//! window buffer that drops chunk rows a streamed change made stale
//! ([`Window`]), the chunk queries ([`ChunkQuery`]) and the watermark rows
//! ([`window_open_row`], [`window_close_row`]).
//!
//! The algorithm, as Debezium runs it and the connector drives it: on an
//! `execute-snapshot` signal the tables are queued; reading a chunk writes
//! an open-window row (`<chunk id>-open`, type `snapshot-window-open`) into
//! the signal table, reads up to `incremental.snapshot.chunk.size` rows in
//! key order after the last chunk (and up to the table's maximum key, read
//! once per table), buffers them in the [`Window`] and writes the
//! close-window row. The connector keeps streaming: once the open row
//! arrives from the log, every streamed change of the table removes the row
//! of its key from the window (the log has a newer image); when the close
//! row arrives the remaining rows are emitted as `op: "r"` events with
//! `source.snapshot: "incremental"`, each carrying the offset that records
//! its key as the snapshot's progress, and the next chunk is read.
//!
//! Offsets (Debezium 3.6.3's keys, checked against offsets the real
//! connector stored): `incremental_snapshot_collections` (JSON text of the
//! queued tables), `incremental_snapshot_primary_key` (the key of the last
//! emitted row) and `incremental_snapshot_maximum_key` (Java-serialized
//! `Object[]` in hex, see [`super::java_ser`]) and
//! `incremental_snapshot_correlation_id` (the id of the signal that asked
//! for the snapshot). A restart loads them and continues after the stored
//! key with a new chunk.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

use serde_json::{json, Value as Json};

use super::java_ser::{decode_key, encode_key, KeyDecodeError, KeyValue};
use super::signal::AdditionalCondition;
use crate::record::Offset;

/// `incremental_snapshot_primary_key`.
pub const EVENT_PRIMARY_KEY: &str = "incremental_snapshot_primary_key";
/// `incremental_snapshot_maximum_key`.
pub const TABLE_MAXIMUM_KEY: &str = "incremental_snapshot_maximum_key";
/// `incremental_snapshot_collections`.
pub const DATA_COLLECTIONS: &str = "incremental_snapshot_collections";
/// `incremental_snapshot_correlation_id`.
pub const CORRELATION_ID: &str = "incremental_snapshot_correlation_id";
/// `incremental_snapshot_signal_offset`: the Kafka signal channel's offset
/// of the last signal acted upon (the key Debezium 1.7's MySQL connector
/// introduced for its Kafka signals). Once set, every offset the connector
/// stores carries it, snapshot running or not; a restart reads the channel
/// from the next offset, so a signal is acted upon once its effect can be
/// stored and never again after. Without it the channel starts at the
/// consumer group's committed offset (`signal.kafka.groupId`), else at the
/// topic's beginning, as Debezium 2+ does.
pub const SIGNAL_OFFSET: &str = "incremental_snapshot_signal_offset";
const COLLECTION_ID: &str = "incremental_snapshot_collections_id";
const COLLECTION_CONDITION: &str = "incremental_snapshot_collections_additional_condition";
const COLLECTION_SURROGATE: &str = "incremental_snapshot_collections_surrogate_key";

/// One table queued for the incremental snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataCollection {
    /// Fully-qualified name (`schema.table` / `db.table`).
    pub id: String,
    /// The `additional-conditions` filter for it, as stored (Debezium
    /// stores it parenthesised; see [`DataCollection::condition`]).
    pub additional_condition: Option<String>,
    /// `surrogate-key`: the column to chunk by instead of the key.
    pub surrogate_key: Option<String>,
}

impl DataCollection {
    /// The condition to add to chunk queries: the filter in parentheses,
    /// so its own operators cannot mix with the bounds (Debezium's
    /// `getAdditionalCondition`).
    pub fn condition(&self) -> Option<String> {
        self.additional_condition
            .as_deref()
            .filter(|c| !c.is_empty())
            .map(|c| format!("({c})"))
    }
}

/// Why stored incremental snapshot offsets cannot be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IncrementalOffsetError {
    /// A key field is not a serialized `Object[]` Velocity reads.
    #[error("Failed to deserialize '{field}' with value '{value}': {source}")]
    Key {
        /// The offset key.
        field: &'static str,
        /// Its value.
        value: String,
        /// Why.
        source: KeyDecodeError,
    },
    /// `incremental_snapshot_collections` is not the JSON Debezium writes.
    #[error("Cannot de-serialize dataCollectionsToSnapshot information: {0}")]
    Collections(String),
}

/// The state of the incremental snapshot: the queue of tables, the chunk
/// being read and its window, and what is stored in offsets.
#[derive(Debug, Clone, Default)]
pub struct IncrementalSnapshotContext {
    collections: VecDeque<DataCollection>,
    chunk_end: Option<Vec<KeyValue>>,
    last_event_key: Option<Vec<KeyValue>>,
    maximum_key: Option<Vec<KeyValue>>,
    chunk_id: Option<String>,
    window_opened: bool,
    paused: bool,
    correlation_id: Option<String>,
    to_stop: Vec<String>,
    signal_offset: Option<i64>,
}

impl IncrementalSnapshotContext {
    /// The state stored in `offset` (none stored: no snapshot running).
    /// The stored primary key becomes the end of the last chunk, so the
    /// next chunk starts after the last row emitted.
    pub fn load(offset: &Offset) -> Result<IncrementalSnapshotContext, IncrementalOffsetError> {
        let key = |field: &'static str| -> Result<Option<Vec<KeyValue>>, IncrementalOffsetError> {
            match offset.get(field).and_then(Json::as_str) {
                None => Ok(None),
                Some(v) => decode_key(v).map_err(|source| IncrementalOffsetError::Key {
                    field,
                    value: v.to_owned(),
                    source,
                }),
            }
        };
        let mut ctx = IncrementalSnapshotContext {
            chunk_end: key(EVENT_PRIMARY_KEY)?,
            maximum_key: key(TABLE_MAXIMUM_KEY)?,
            correlation_id: offset
                .get(CORRELATION_ID)
                .and_then(Json::as_str)
                .map(str::to_owned),
            signal_offset: offset.get(SIGNAL_OFFSET).and_then(Json::as_i64),
            ..Default::default()
        };
        if let Some(text) = offset.get(DATA_COLLECTIONS).and_then(Json::as_str) {
            let bad = || IncrementalOffsetError::Collections(text.to_owned());
            let list: Vec<serde_json::Map<String, Json>> =
                serde_json::from_str(text).map_err(|_| bad())?;
            for m in list {
                let s = |k: &str| m.get(k).and_then(Json::as_str).map(str::to_owned);
                ctx.collections.push_back(DataCollection {
                    id: s(COLLECTION_ID).ok_or_else(bad)?,
                    additional_condition: s(COLLECTION_CONDITION).filter(|c| !c.is_empty()),
                    surrogate_key: s(COLLECTION_SURROGATE).filter(|c| !c.is_empty()),
                });
            }
        }
        Ok(ctx)
    }

    /// Adds the snapshot's keys to `offset` while a snapshot runs (nothing
    /// otherwise), as Debezium's `store` does, and the Kafka signal
    /// position ([`SIGNAL_OFFSET`]) once there is one.
    pub fn store(&self, offset: &mut Offset) {
        if let Some(k) = self.signal_offset {
            offset.insert(SIGNAL_OFFSET.into(), k.into());
        }
        if !self.running() {
            return;
        }
        offset.insert(
            EVENT_PRIMARY_KEY.into(),
            encode_key(self.last_event_key.as_deref()).into(),
        );
        offset.insert(
            TABLE_MAXIMUM_KEY.into(),
            encode_key(self.maximum_key.as_deref()).into(),
        );
        offset.insert(DATA_COLLECTIONS.into(), self.collections_json().into());
        offset.insert(
            CORRELATION_ID.into(),
            self.correlation_id.clone().map_or(Json::Null, Json::String),
        );
    }

    /// True when [`Self::store`] adds anything: a snapshot runs or a Kafka
    /// signal was acted upon.
    pub fn stores(&self) -> bool {
        self.running() || self.signal_offset.is_some()
    }

    /// Records that the Kafka channel's signal at `offset` was acted upon.
    pub fn set_signal_offset(&mut self, offset: i64) {
        self.signal_offset = Some(offset);
    }

    /// The Kafka channel's offset of the last signal acted upon, as loaded
    /// from the stored offset or set since.
    pub fn signal_offset(&self) -> Option<i64> {
        self.signal_offset
    }

    /// The keys [`Self::store`] adds, as an offset of their own (empty when
    /// no snapshot runs and no Kafka signal was acted upon).
    pub fn stored(&self) -> Offset {
        let mut o = Offset::new();
        self.store(&mut o);
        o
    }

    fn collections_json(&self) -> String {
        let list: Vec<Json> = self
            .collections
            .iter()
            .map(|c| {
                json!({
                    COLLECTION_ID: c.id,
                    COLLECTION_CONDITION: c.condition(),
                    COLLECTION_SURROGATE: c.surrogate_key,
                })
            })
            .collect();
        // serde_json keeps insertion order only with preserve_order; write
        // the three keys in Debezium's order by hand
        let items: Vec<String> = list
            .iter()
            .map(|m| {
                format!(
                    "{{\"{COLLECTION_ID}\":{},\"{COLLECTION_CONDITION}\":{},\"{COLLECTION_SURROGATE}\":{}}}",
                    m[COLLECTION_ID], m[COLLECTION_CONDITION], m[COLLECTION_SURROGATE]
                )
            })
            .collect();
        format!("[{}]", items.join(","))
    }

    /// True while tables are queued.
    pub fn running(&self) -> bool {
        !self.collections.is_empty()
    }

    /// The table being snapshotted.
    pub fn current(&self) -> Option<&DataCollection> {
        self.collections.front()
    }

    /// The queued tables.
    pub fn collections(&self) -> impl Iterator<Item = &DataCollection> {
        self.collections.iter()
    }

    /// Queues `ids` (already expanded to table names) for signal
    /// `correlation_id`, each with the first additional condition whose
    /// expression matches it; returns the queued entries.
    pub fn add(
        &mut self,
        correlation_id: &str,
        ids: &[String],
        conditions: &[AdditionalCondition],
        surrogate_key: Option<&str>,
    ) -> Vec<DataCollection> {
        let added: Vec<DataCollection> = ids
            .iter()
            .map(|id| DataCollection {
                id: id.clone(),
                additional_condition: super::signal::filter_for(conditions, id).map(str::to_owned),
                surrogate_key: surrogate_key.map(str::to_owned),
            })
            .collect();
        self.collections.extend(added.iter().cloned());
        self.correlation_id = Some(correlation_id.to_owned());
        added
    }

    /// Leaves the current table: its chunk state is reset and the next
    /// queued one (if any) becomes current.
    pub fn next_collection(&mut self) -> Option<DataCollection> {
        self.chunk_end = None;
        self.last_event_key = None;
        self.maximum_key = None;
        self.collections.pop_front();
        self.collections.front().cloned()
    }

    /// Removes `id` from the queue (not the current table: see
    /// [`Self::next_collection`]); false when it was not queued.
    pub fn remove(&mut self, id: &str) -> bool {
        let before = self.collections.len();
        let current = self.collections.pop_front();
        self.collections.retain(|c| c.id != id);
        let removed = self.collections.len() + 1 != before;
        if let Some(c) = current {
            self.collections.push_front(c);
        }
        removed
    }

    /// Starts a new chunk with a fresh id (a random UUID) and returns it.
    pub fn start_new_chunk(&mut self) -> String {
        let id = random_uuid();
        self.chunk_id = Some(id.clone());
        id
    }

    /// The current chunk's id.
    pub fn chunk_id(&self) -> Option<&str> {
        self.chunk_id.as_deref()
    }

    /// A window signal of the current chunk (its id starts with the chunk
    /// id) opens the window; any other (replayed after a restart) is ignored.
    pub fn open_window(&mut self, signal_id: &str) -> bool {
        if !self.expected(signal_id) {
            return false;
        }
        self.window_opened = true;
        true
    }

    /// The close-window signal of the current chunk closes the window
    /// (true: emit its rows and read the next chunk); others are ignored.
    pub fn close_window(&mut self, signal_id: &str) -> bool {
        if !self.expected(signal_id) {
            return false;
        }
        self.window_opened = false;
        true
    }

    fn expected(&self, id: &str) -> bool {
        self.chunk_id.as_deref().is_some_and(|c| id.starts_with(c))
    }

    /// True while the window is open: streamed changes of the current
    /// table then replace buffered rows.
    pub fn deduplication_needed(&self) -> bool {
        self.window_opened
    }

    /// The last key of the chunk just read (the next chunk starts after it).
    pub fn next_chunk_position(&mut self, end: Option<Vec<KeyValue>>) {
        self.chunk_end = end;
    }

    /// Where the next chunk starts (exclusive); None: at the table's start.
    pub fn chunk_end(&self) -> Option<&[KeyValue]> {
        self.chunk_end.as_deref()
    }

    /// The table's largest key when its snapshot began.
    pub fn maximum_key(&self) -> Option<&[KeyValue]> {
        self.maximum_key.as_deref()
    }

    /// Records the table's largest key.
    pub fn set_maximum_key(&mut self, key: Option<Vec<KeyValue>>) {
        self.maximum_key = key;
    }

    /// Records `key` as the last row emitted (stored in the offset of the
    /// record that follows).
    pub fn send_event(&mut self, key: Vec<KeyValue>) {
        self.last_event_key = Some(key);
    }

    /// Forgets the chunk read but not emitted: the next chunk starts after
    /// the last row emitted again, and the window is closed.
    pub fn revert_chunk(&mut self) {
        self.chunk_end = self.last_event_key.clone();
        self.window_opened = false;
    }

    /// `pause-snapshot`.
    pub fn pause(&mut self) {
        self.paused = true;
    }

    /// `resume-snapshot`.
    pub fn resume(&mut self) {
        self.paused = false;
    }

    /// True after `pause-snapshot` until `resume-snapshot`.
    pub fn paused(&self) -> bool {
        self.paused
    }

    /// `stop-snapshot`: the tables (regular expressions) to drop before the
    /// next chunk; None: all (`.*`). Ignored when no snapshot runs.
    pub fn request_stop(&mut self, ids: Option<Vec<String>>) {
        if self.running() {
            match ids {
                Some(ids) if !ids.is_empty() => self.to_stop.extend(ids),
                _ => self.to_stop.push(".*".into()),
            }
        }
    }

    /// The stop requests received since the last call.
    pub fn take_stop_requests(&mut self) -> Vec<String> {
        std::mem::take(&mut self.to_stop)
    }

    /// Leaves the current table (Debezium's `nextDataCollection`): when
    /// none is left, logs the snapshot's completion and forgets the
    /// correlation id.
    pub fn finish_collection(&mut self) {
        self.next_collection();
        if !self.running() {
            tracing::info!("Incremental snapshot completed");
            self.unset_correlation_id();
        }
    }

    /// Handles the `stop-snapshot` requests received since the last chunk,
    /// as Debezium's `processStopRequests` does (with its log lines);
    /// true when the current table was left (the caller drops what it
    /// prepared for reading it).
    pub fn process_stop_requests(&mut self) -> bool {
        let requested = self.take_stop_requests();
        if requested.is_empty() {
            return false;
        }
        if !self.running() {
            tracing::warn!("No active incremental snapshot, stop ignored");
            self.unset_correlation_id();
            return false;
        }
        let queued: Vec<String> = self.collections().map(|c| c.id.clone()).collect();
        let ids = super::signal::expand_collections(&requested, &queued);
        tracing::info!("Removing '{ids:?}' collections from incremental snapshot");
        let current = self.current().map(|c| c.id.clone());
        let mut stopped = Vec::new();
        let mut stop_current = false;
        for id in ids {
            if current.as_deref() == Some(id.as_str()) {
                stop_current = true;
            } else if self.remove(&id) {
                tracing::info!("Removed '{id}' from incremental snapshot collection list.");
                stopped.push(id);
            } else {
                tracing::warn!(
                    "Could not remove '{id}', collection is not part of the incremental snapshot."
                );
            }
        }
        if stop_current {
            if let Some(c) = current {
                tracing::info!(
                    "Removed current collection '{c}' from incremental snapshot collection list."
                );
                stopped.push(c);
            }
            self.finish_collection();
        }
        if !self.running() {
            tracing::info!("Incremental snapshot has stopped.");
            self.unset_correlation_id();
        }
        tracing::info!("Removed collections from incremental snapshot: '{stopped:?}'");
        stop_current
    }

    /// `pause-snapshot` as a signal: pauses a running snapshot (logged).
    pub fn pause_signal(&mut self) {
        if self.running() && !self.paused() {
            tracing::info!("Pausing incremental snapshot");
            self.pause();
        }
    }

    /// `resume-snapshot` as a signal: resumes a paused snapshot (logged);
    /// true when the caller must read the next chunk.
    pub fn resume_signal(&mut self) -> bool {
        if self.running() && self.paused() {
            tracing::info!("Resuming incremental snapshot");
            self.resume();
            return true;
        }
        false
    }

    /// A `snapshot-window-open` signal `id`: opens the window of the current
    /// chunk, or logs Debezium's "request ignored" line.
    pub fn open_window_signal(&mut self, id: &str) {
        if !self.open_window(id) {
            tracing::info!(
                "Received request to open window with id = '{id}', expected = '{}', request ignored",
                self.chunk_id().unwrap_or("null")
            );
        }
    }

    /// A `snapshot-window-close` signal `id`: true when it closes the
    /// current chunk's window (the caller emits the window's rows and reads
    /// the next chunk); else logs Debezium's "request ignored" line.
    pub fn close_window_signal(&mut self, id: &str) -> bool {
        if self.close_window(id) {
            return true;
        }
        tracing::info!(
            "Received request to close window with id = '{id}', expected = '{}', request ignored",
            self.chunk_id().unwrap_or("null")
        );
        false
    }

    /// The id of the signal that last queued tables.
    pub fn correlation_id(&self) -> Option<&str> {
        self.correlation_id.as_deref()
    }

    /// Forgets the correlation id (the snapshot ended).
    pub fn unset_correlation_id(&mut self) {
        self.correlation_id = None;
    }
}

/// A random (version 4) UUID, hyphenated; chunk ids need uniqueness, not
/// unpredictability.
fn random_uuid() -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let word = || {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos(),
        );
        h.finish()
    };
    let mut v = (u128::from(word()) << 64) | u128::from(word());
    v = (v & !(0xF << 76)) | (0x4 << 76); // version 4
    v = (v & !(0x3 << 62)) | (0x2 << 62); // variant 10
    KeyValue::Uuid(v).to_sql_text().unwrap_or_default()
}

/// The window key of a change record's key (its values): equal keys of
/// the same table give equal fingerprints, whether the record came from a
/// chunk or from the log.
pub fn key_fingerprint(key: &crate::Value) -> String {
    match key {
        crate::Value::Struct(s) => format!("{:?}", s.values),
        other => format!("{other:?}"),
    }
}

/// Now as an ISO-8601 instant with nanoseconds (Java's `Instant.toString`),
/// as the watermark rows' `data` carries it ([`window_data`]).
pub fn iso_now() -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (y, m, day) = crate::calendar::civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}.{:09}Z",
        s / 3600,
        s / 60 % 60,
        s % 60,
        d.subsec_nanos()
    )
}

/// The rows of one chunk in key order, by key; a streamed change removes
/// the row of its key (Debezium's `window` map).
#[derive(Debug)]
pub struct Window<K, T> {
    index: HashMap<K, usize>,
    rows: Vec<Option<T>>,
}

impl<K: Eq + Hash, T> Default for Window<K, T> {
    fn default() -> Self {
        Window {
            index: HashMap::new(),
            rows: Vec::new(),
        }
    }
}

impl<K: Eq + Hash, T> Window<K, T> {
    /// Buffers `row` under `key` (a repeated key replaces the row in place).
    pub fn insert(&mut self, key: K, row: T) {
        match self.index.get(&key) {
            Some(&i) => self.rows[i] = Some(row),
            None => {
                self.index.insert(key, self.rows.len());
                self.rows.push(Some(row));
            }
        }
    }

    /// Drops the row of `key`; true when there was one.
    pub fn remove(&mut self, key: &K) -> bool {
        match self.index.remove(key) {
            Some(i) => self.rows[i].take().is_some(),
            None => false,
        }
    }

    /// Rows still buffered.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// True when no row is buffered.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Empties the window, returning the remaining rows in insertion order.
    pub fn drain(&mut self) -> Vec<T> {
        self.index.clear();
        std::mem::take(&mut self.rows)
            .into_iter()
            .flatten()
            .collect()
    }
}

/// The SQL of chunk reads, as Debezium's `AbstractChunkQueryBuilder` and
/// `JdbcConnection.buildSelectWithRowLimits` build it; identifiers and
/// values come quoted by the connector (its own quoting rules).
#[derive(Debug, Clone)]
pub struct ChunkQuery<'a> {
    /// The quoted, qualified table name.
    pub table: &'a str,
    /// The select list (`*` or quoted column names).
    pub projection: &'a str,
    /// The quoted key columns, in key order.
    pub key_columns: &'a [String],
    /// The table's additional condition ([`DataCollection::condition`]).
    pub condition: Option<&'a str>,
}

impl ChunkQuery<'_> {
    /// The next chunk: rows after `after` (exclusive; None: from the start)
    /// up to `maximum` (inclusive; only bounds chunks after the first, as in
    /// Debezium), in key order, at most `limit`. `after` and `maximum` are
    /// quoted literals, one per key column.
    pub fn chunk(
        &self,
        after: Option<&[String]>,
        maximum: Option<&[String]>,
        limit: usize,
    ) -> String {
        let mut cond = String::new();
        if let Some(after) = after {
            lower_bound(self.key_columns, after, false, &mut cond);
            if let Some(max) = maximum {
                cond.push_str(" AND NOT ");
                lower_bound(self.key_columns, max, false, &mut cond);
            }
        }
        self.select(&cond, &self.key_columns.join(", "), limit)
    }

    /// The row with the largest key (the snapshot of the table ends there).
    pub fn maximum_key(&self) -> String {
        let order: Vec<String> = self
            .key_columns
            .iter()
            .map(|c| format!("{c} DESC"))
            .collect();
        self.select("", &order.join(", "), 1)
    }

    fn select(&self, cond: &str, order: &str, limit: usize) -> String {
        let mut sql = format!("SELECT {} FROM {}", self.projection, self.table);
        match (cond.is_empty(), self.condition) {
            (false, Some(c)) => sql.push_str(&format!(" WHERE {cond} AND {c}")),
            (false, None) => sql.push_str(&format!(" WHERE {cond}")),
            (true, Some(c)) => sql.push_str(&format!(" WHERE {c}")),
            (true, None) => {}
        }
        sql.push_str(&format!(" ORDER BY {order} LIMIT {limit}"));
        sql
    }
}

/// `(k1 > ?) OR (k1 = ? AND k2 > ?) …` (the last comparison `>=` when
/// `inclusive`), parenthesised as a whole for more than one column.
fn lower_bound(cols: &[String], vals: &[String], inclusive: bool, out: &mut String) {
    let n = cols.len().min(vals.len());
    if n > 1 {
        out.push('(');
    }
    for i in 0..n {
        out.push('(');
        for j in 0..=i {
            let op = if j < i {
                "="
            } else if i == n - 1 && inclusive {
                ">="
            } else {
                ">"
            };
            out.push_str(&format!("{} {op} {}", cols[j], vals[j]));
            if j < i {
                out.push_str(" AND ");
            }
        }
        out.push(')');
        if i + 1 < n {
            out.push_str(" OR ");
        }
    }
    if n > 1 {
        out.push(')');
    }
}

/// The `data` Debezium writes with a watermark: `{"openWindowTimestamp":
/// "<instant>"}` (and `"closeWindowTimestamp"` for the close row), with its
/// spacing; `now` is an ISO-8601 instant.
pub fn window_data(open: &str, close: Option<&str>) -> String {
    match close {
        None => format!("{{\"openWindowTimestamp\": \"{open}\"}}"),
        Some(c) => {
            format!("{{\"openWindowTimestamp\": \"{open}\", \"closeWindowTimestamp\": \"{c}\"}}")
        }
    }
}

/// The open-window row of chunk `chunk_id`: (`id`, `type`).
pub fn window_open_row(chunk_id: &str) -> (String, &'static str) {
    (
        format!("{chunk_id}-open"),
        super::signal::names::WINDOW_OPEN,
    )
}

/// The close-window row of chunk `chunk_id`: (`id`, `type`).
pub fn window_close_row(chunk_id: &str) -> (String, &'static str) {
    (
        format!("{chunk_id}-close"),
        super::signal::names::WINDOW_CLOSE,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offset(v: Json) -> Offset {
        v.as_object().unwrap().clone()
    }

    /// An offset the real Debezium 3.6.3 PostgreSQL connector stored in the
    /// middle of an incremental snapshot of `inc.items` (id int), from
    /// tests/fixtures/postgres/incremental/offsets.jsonl.
    const DEBEZIUM: &str = r#"{"incremental_snapshot_correlation_id":"ad-hoc-1","lsn_proc":35978904,"messageType":"UPDATE","lsn_commit":35978848,"lsn":35978904,"incremental_snapshot_maximum_key":"aced0005757200135b4c6a6176612e6c616e672e4f626a6563743b90ce589f1073296c020000787000000001737200116a6176612e6c616e672e496e746567657212e2a0a4f781873802000149000576616c7565787200106a6176612e6c616e672e4e756d62657286ac951d0b94e08b020000787000000bd1","txId":824,"incremental_snapshot_collections":"[{\"incremental_snapshot_collections_id\":\"inc.items\",\"incremental_snapshot_collections_additional_condition\":null,\"incremental_snapshot_collections_surrogate_key\":null}]","ts_usec":1795719921904564,"incremental_snapshot_primary_key":"aced0005757200135b4c6a6176612e6c616e672e4f626a6563743b90ce589f1073296c020000787000000001737200116a6176612e6c616e672e496e746567657212e2a0a4f781873802000149000576616c7565787200106a6176612e6c616e672e4e756d62657286ac951d0b94e08b020000787000000064"}"#;

    #[test]
    fn debeziums_offsets_load_and_store_back_identically() {
        let o: Offset = serde_json::from_str(DEBEZIUM).unwrap();
        let mut ctx = IncrementalSnapshotContext::load(&o).unwrap();
        assert!(ctx.running());
        assert_eq!(ctx.current().unwrap().id, "inc.items");
        assert_eq!(ctx.chunk_end(), Some(&[KeyValue::Int(100)][..]));
        assert_eq!(ctx.maximum_key(), Some(&[KeyValue::Int(3025)][..]));
        assert_eq!(ctx.correlation_id(), Some("ad-hoc-1"));
        // the next chunk's rows are emitted: the stored key is the last one sent
        ctx.send_event(vec![KeyValue::Int(100)]);
        let stored = ctx.stored();
        for k in [
            EVENT_PRIMARY_KEY,
            TABLE_MAXIMUM_KEY,
            DATA_COLLECTIONS,
            CORRELATION_ID,
        ] {
            assert_eq!(stored[k], o[k], "{k}");
        }
        assert_eq!(stored.len(), 4);
    }

    #[test]
    fn the_kafka_signal_position_is_stored_with_or_without_a_snapshot() {
        let mut ctx = IncrementalSnapshotContext::default();
        assert!(!ctx.stores());
        ctx.set_signal_offset(41);
        assert!(ctx.stores() && !ctx.running());
        let stored = ctx.stored();
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[SIGNAL_OFFSET], 41);
        ctx.add("sig", &["inc.items".into()], &[], None);
        let stored = ctx.stored();
        assert_eq!(stored.len(), 5);
        let back = IncrementalSnapshotContext::load(&stored).unwrap();
        assert_eq!(back.signal_offset(), Some(41));
        assert!(back.running());
        // an offset without it (Debezium's, or before any Kafka signal)
        let o: Offset = serde_json::from_str(DEBEZIUM).unwrap();
        assert_eq!(
            IncrementalSnapshotContext::load(&o)
                .unwrap()
                .signal_offset(),
            None
        );
    }

    #[test]
    fn a_snapshot_before_its_first_row_stores_a_null_key() {
        let mut ctx = IncrementalSnapshotContext::default();
        assert!(ctx.stored().is_empty(), "nothing while no snapshot runs");
        let added = ctx.add("sig", &["inc.items".into()], &[], None);
        assert_eq!(added.len(), 1);
        let o = ctx.stored();
        // Debezium's first offsets of a snapshot (offsets.jsonl, first line)
        assert_eq!(o[EVENT_PRIMARY_KEY], "aced000570");
        assert_eq!(o[TABLE_MAXIMUM_KEY], "aced000570");
        assert_eq!(o[CORRELATION_ID], "sig");
        let back = IncrementalSnapshotContext::load(&o).unwrap();
        assert!(back.running() && back.chunk_end().is_none() && back.maximum_key().is_none());
    }

    #[test]
    fn conditions_and_surrogate_keys_are_stored_as_debezium_does() {
        let cond = AdditionalCondition {
            data_collection: regex::Regex::new("^(?:inc\\.items)$").unwrap(),
            filter: "qty > 5".into(),
        };
        let mut ctx = IncrementalSnapshotContext::default();
        ctx.add(
            "s",
            &["inc.items".into(), "inc.other".into()],
            &[cond],
            Some("code"),
        );
        let o = ctx.stored();
        assert_eq!(
            o[DATA_COLLECTIONS],
            r#"[{"incremental_snapshot_collections_id":"inc.items","incremental_snapshot_collections_additional_condition":"(qty > 5)","incremental_snapshot_collections_surrogate_key":"code"},{"incremental_snapshot_collections_id":"inc.other","incremental_snapshot_collections_additional_condition":null,"incremental_snapshot_collections_surrogate_key":"code"}]"#
        );
        assert_eq!(
            ctx.current().unwrap().condition().as_deref(),
            Some("(qty > 5)")
        );
        assert_eq!(ctx.next_collection().unwrap().id, "inc.other");
        assert!(ctx.next_collection().is_none());
        assert!(!ctx.running());
    }

    #[test]
    fn bad_offsets_are_errors_naming_the_field() {
        let e = IncrementalSnapshotContext::load(&offset(json!({EVENT_PRIMARY_KEY: "beef"})))
            .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("Failed to deserialize 'incremental_snapshot_primary_key'"),
            "{e}"
        );
        let e = IncrementalSnapshotContext::load(&offset(json!({DATA_COLLECTIONS: "[{]"})))
            .unwrap_err();
        assert!(matches!(e, IncrementalOffsetError::Collections(_)));
        assert!(!IncrementalSnapshotContext::load(&Offset::new())
            .unwrap()
            .running());
    }

    #[test]
    fn windows_ignore_other_chunks() {
        let mut ctx = IncrementalSnapshotContext::default();
        assert!(!ctx.open_window("x-open"));
        let id = ctx.start_new_chunk();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert_ne!(ctx.start_new_chunk(), id);
        let id = ctx.chunk_id().unwrap().to_owned();
        assert!(!ctx.open_window("other-open"));
        assert!(ctx.open_window(&window_open_row(&id).0));
        assert!(ctx.deduplication_needed());
        assert!(ctx.close_window(&window_close_row(&id).0));
        assert!(!ctx.deduplication_needed());
    }

    #[test]
    fn window_keeps_order_and_drops_changed_keys() {
        let mut w: Window<i32, &str> = Window::default();
        w.insert(1, "a");
        w.insert(2, "b");
        w.insert(3, "c");
        assert!(w.remove(&2));
        assert!(!w.remove(&2));
        assert!(!w.remove(&9));
        assert_eq!(w.len(), 2);
        assert_eq!(w.drain(), ["a", "c"]);
        assert!(w.is_empty());
    }

    #[test]
    fn chunk_queries() {
        let keys = vec!["\"id\"".to_owned()];
        let q = ChunkQuery {
            table: "\"inc\".\"items\"",
            projection: "*",
            key_columns: &keys,
            condition: None,
        };
        assert_eq!(
            q.chunk(None, Some(&["'9'".into()]), 100),
            "SELECT * FROM \"inc\".\"items\" ORDER BY \"id\" LIMIT 100"
        );
        assert_eq!(
            q.chunk(Some(&["'100'".into()]), Some(&["'3025'".into()]), 100),
            "SELECT * FROM \"inc\".\"items\" WHERE (\"id\" > '100') AND NOT (\"id\" > '3025') ORDER BY \"id\" LIMIT 100"
        );
        assert_eq!(
            q.maximum_key(),
            "SELECT * FROM \"inc\".\"items\" ORDER BY \"id\" DESC LIMIT 1"
        );
        let keys = vec!["a".to_owned(), "b".to_owned()];
        let q = ChunkQuery {
            table: "t",
            projection: "a, b, c",
            key_columns: &keys,
            condition: Some("(c = 1)"),
        };
        assert_eq!(
            q.chunk(Some(&["1".into(), "2".into()]), None, 5),
            "SELECT a, b, c FROM t WHERE ((a > 1) OR (a = 1 AND b > 2)) AND (c = 1) ORDER BY a, b LIMIT 5"
        );
        assert_eq!(
            q.maximum_key(),
            "SELECT a, b, c FROM t WHERE (c = 1) ORDER BY a DESC, b DESC LIMIT 1"
        );
        let mut s = String::new();
        lower_bound(&keys, &["1".into(), "2".into()], true, &mut s);
        assert_eq!(s, "((a > 1) OR (a = 1 AND b >= 2))");
    }

    #[test]
    fn instants_are_javas() {
        let t = iso_now();
        // 2026-11-26T19:05:21.024283830Z
        assert_eq!(t.len(), 30, "{t}");
        assert_eq!(
            (&t[4..5], &t[10..11], &t[19..20], &t[29..]),
            ("-", "T", ".", "Z")
        );
    }

    #[test]
    fn watermark_data_is_spelled_as_debezium_writes_it() {
        // from the signal table rows in golden.jsonl
        assert_eq!(
            window_data("2026-11-26T19:05:21.024283830Z", Some("2026-11-26T19:05:21.062603265Z")),
            "{\"openWindowTimestamp\": \"2026-11-26T19:05:21.024283830Z\", \"closeWindowTimestamp\": \"2026-11-26T19:05:21.062603265Z\"}"
        );
        assert_eq!(window_data("t", None), "{\"openWindowTimestamp\": \"t\"}");
    }
}
