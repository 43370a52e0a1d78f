//! Velocity's `hash` mode: change detection for tables without a
//! timestamp or incrementing column (registry tables).
//!
//! **Cycle.** Each poll reads the whole table (ordered by primary key),
//! hashes every row (128-bit FNV-1a over the text form of every column, a
//! stable function: the same row hashes the same in every Velocity
//! version) and diffs the `primary key → hash` map against the state of the
//! last acknowledged cycle: a key not in the state is a create (`c`), a key
//! whose hash changed an update (`u`, `before` = the row as last
//! acknowledged), a state key missing from the table a delete (`d`,
//! `before` = that row). Unchanged rows emit nothing.
//!
//! **Durable state.** The state (per key: hash and the row's text form, so
//! updates and deletes carry a full `before` image) lives in a table of the
//! source database, `velocity.hash.state.table` (default
//! `velocity_jdbc_source_hash_state`, created when missing), keyed by
//! connector name, table and a digest of the primary key. Each cycle diffs
//! against the state as emitted so far (in memory); the changes of a cycle
//! are written to the state table, in one transaction and in cycle order,
//! only after Kafka has acknowledged every record of the cycle and the
//! runtime has stored their offsets ([`velocity_api::SourceTask::commit`],
//! every `offset.flush.interval.ms`). So the state table always describes
//! what was delivered: a restart never re-emits unchanged rows and never
//! misses a delete made while the worker was down (the state still holds
//! the deleted row).
//!
//! **At-least-once window.** If the worker stops after some records of a
//! cycle were sent but before its state was written (including a crash
//! between the offset store and the state write), the next start diffs
//! against the last written state again and re-emits those changes (with
//! the then-current row). Nothing is lost; a change may be delivered twice.
//! The state is held in memory too (one entry per row), so hash mode suits
//! tables of up to some millions of rows.

use std::collections::HashMap;

use crate::error::SourceError;

/// 128-bit FNV-1a offset basis.
const FNV_OFFSET: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
/// 128-bit FNV-1a prime.
const FNV_PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;

/// The 128-bit FNV-1a hash of `bytes`, continuing from `h`.
fn fnv(mut h: u128, bytes: &[u8]) -> u128 {
    for &b in bytes {
        h ^= u128::from(b);
        h = h.wrapping_mul(FNV_PRIME);
    }
    h
}

/// The hash of a row's text values: each value is framed (null marker or
/// length) so that `["ab", "c"]` and `["a", "bc"]` differ.
pub fn row_hash(values: &[Option<String>]) -> u128 {
    values.iter().fold(FNV_OFFSET, |h, v| match v {
        None => fnv(h, &[0]),
        Some(s) => {
            let h = fnv(h, &[1]);
            let h = fnv(h, &(s.len() as u64).to_be_bytes());
            fnv(h, s.as_bytes())
        }
    })
}

/// `h` as 32 lower-case hex digits.
pub fn hex128(h: u128) -> String {
    format!("{h:032x}")
}

/// The state key of a row: its primary key values (text form) as a JSON array.
pub fn pk_key(values: &[Option<String>], pk: &[usize]) -> String {
    serde_json::Value::Array(
        pk.iter()
            .map(|&i| {
                values[i]
                    .clone()
                    .map_or(serde_json::Value::Null, Into::into)
            })
            .collect(),
    )
    .to_string()
}

/// A row's text form keyed by column name, as stored in the state table.
pub type StoredRow = serde_json::Map<String, serde_json::Value>;

/// `values` of `columns` as a [`StoredRow`].
pub fn stored_row(columns: &[&str], values: &[Option<String>]) -> StoredRow {
    columns
        .iter()
        .zip(values)
        .map(|(c, v)| {
            (
                (*c).to_owned(),
                v.clone().map_or(serde_json::Value::Null, Into::into),
            )
        })
        .collect()
}

/// The values of `columns` from a stored row (missing or non-string: null).
pub fn row_values(columns: &[&str], row: &StoredRow) -> Vec<Option<String>> {
    columns
        .iter()
        .map(|c| row.get(*c).and_then(|v| v.as_str()).map(str::to_owned))
        .collect()
}

/// The acknowledged state of one row.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// [`row_hash`] of the row.
    pub hash: u128,
    /// The row as it was.
    pub row: StoredRow,
}

/// The acknowledged state of a table: [`pk_key`] → entry.
pub type State = HashMap<String, Entry>;

/// One detected change.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// A new key: `values` is the row.
    Create {
        /// State key.
        key: String,
        /// The row's text values, in column order.
        values: Vec<Option<String>>,
    },
    /// A changed row.
    Update {
        /// State key.
        key: String,
        /// The previous row.
        before: StoredRow,
        /// The row's text values, in column order.
        values: Vec<Option<String>>,
    },
    /// A key that disappeared.
    Delete {
        /// State key.
        key: String,
        /// The deleted row as last acknowledged.
        before: StoredRow,
    },
}

/// A write to the state table once a cycle is acknowledged.
#[derive(Debug, Clone, PartialEq)]
pub enum StateWrite {
    /// Insert or replace the entry of a key.
    Put(String, Entry),
    /// Remove a key.
    Remove(String),
}

/// Diffs `rows` (text values in column order, each with its state key)
/// against `state`: creates and updates in `rows` order, then deletes in
/// key order. Returns the changes and the state writes that make `state`
/// the table's new state.
pub fn diff(
    state: &State,
    columns: &[&str],
    rows: Vec<(String, Vec<Option<String>>)>,
) -> (Vec<Change>, Vec<StateWrite>) {
    let mut changes = Vec::new();
    let mut writes = Vec::new();
    let mut seen = std::collections::HashSet::with_capacity(rows.len());
    for (key, values) in rows {
        let hash = row_hash(&values);
        seen.insert(key.clone());
        let change = match state.get(&key) {
            Some(e) if e.hash == hash => continue,
            Some(e) => Change::Update {
                key: key.clone(),
                before: e.row.clone(),
                values: values.clone(),
            },
            None => Change::Create {
                key: key.clone(),
                values: values.clone(),
            },
        };
        changes.push(change);
        writes.push(StateWrite::Put(
            key,
            Entry {
                hash,
                row: stored_row(columns, &values),
            },
        ));
    }
    let mut gone: Vec<&String> = state.keys().filter(|k| !seen.contains(*k)).collect();
    gone.sort();
    for key in gone {
        changes.push(Change::Delete {
            key: key.clone(),
            before: state[key].row.clone(),
        });
        writes.push(StateWrite::Remove(key.clone()));
    }
    (changes, writes)
}

/// Applies acknowledged `writes` to the in-memory `state`.
pub fn apply(state: &mut State, writes: &[StateWrite]) {
    for w in writes {
        match w {
            StateWrite::Put(k, e) => {
                state.insert(k.clone(), e.clone());
            }
            StateWrite::Remove(k) => {
                state.remove(k);
            }
        }
    }
}

/// The digest of a state key used as the state table's key column (keys
/// may be long; the digest is fixed-size).
pub fn key_digest(key: &str) -> String {
    hex128(fnv(FNV_OFFSET, key.as_bytes()))
}

/// `CREATE TABLE IF NOT EXISTS` of the state table `name` (quoted path);
/// `long_text` is the dialect's type for the stored row (`text`, `longtext`).
/// Keyed by connector, table and [`key_digest`] (fixed size, within
/// MariaDB's index length limit).
pub fn state_table_ddl(name: &str, long_text: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {name} (connector varchar(200) NOT NULL, \
         source_table varchar(300) NOT NULL, pk_digest char(32) NOT NULL, pk text NOT NULL, \
         row_hash char(32) NOT NULL, row_data {long_text} NOT NULL, \
         PRIMARY KEY (connector, source_table, pk_digest))"
    )
}

/// The error of a failed state table creation, naming the key to change.
pub fn state_table_action(name: &str) -> String {
    format!("creating the hash state table {name} (set velocity.hash.state.table to a table the user may create, or create it)")
}

/// The puts and the removed keys of `writes`.
pub fn split_writes(writes: &[StateWrite]) -> (Vec<(&String, &Entry)>, Vec<&String>) {
    let mut puts = Vec::new();
    let mut removes = Vec::new();
    for w in writes {
        match w {
            StateWrite::Put(k, e) => puts.push((k, e)),
            StateWrite::Remove(k) => removes.push(k),
        }
    }
    (puts, removes)
}

/// One state table row as a state entry; a malformed row is a fatal error
/// naming the table to repair.
pub fn parse_entry(
    pk: String,
    row_hash: String,
    row_data: String,
) -> Result<(String, Entry), SourceError> {
    let bad = || {
        SourceError::Schema(format!(
            "the hash state table holds a malformed row for key {pk}; delete the connector's rows from it to re-emit the table"
        ))
    };
    let hash = u128::from_str_radix(row_hash.trim(), 16).map_err(|_| bad())?;
    let row = match serde_json::from_str(&row_data) {
        Ok(serde_json::Value::Object(m)) => m,
        _ => return Err(bad()),
    };
    Ok((pk, Entry { hash, row }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Option<String> {
        Some(v.to_owned())
    }

    #[test]
    fn hash_is_stable_and_framed() {
        assert_eq!(hex128(row_hash(&[])), "6c62272e07bb014262b821756295c58d");
        assert_ne!(row_hash(&[s("ab"), s("c")]), row_hash(&[s("a"), s("bc")]));
        assert_ne!(row_hash(&[None]), row_hash(&[s("")]));
        assert_eq!(row_hash(&[s("x"), None]), row_hash(&[s("x"), None]));
        assert_eq!(key_digest("[\"1\"]").len(), 32);
    }

    #[test]
    fn diff_finds_creates_updates_deletes() {
        let cols = ["id", "name"];
        let row = |id: &str, name: &str| vec![s(id), s(name)];
        let mut state = State::new();
        let (c, w) = diff(
            &state,
            &cols,
            vec![
                (pk_key(&row("1", "a"), &[0]), row("1", "a")),
                (pk_key(&row("2", "b"), &[0]), row("2", "b")),
            ],
        );
        assert_eq!(c.len(), 2);
        assert!(matches!(c[0], Change::Create { .. }));
        apply(&mut state, &w);
        // unchanged: nothing
        let (c, w) = diff(
            &state,
            &cols,
            vec![
                (pk_key(&row("1", "a"), &[0]), row("1", "a")),
                (pk_key(&row("2", "b"), &[0]), row("2", "b")),
            ],
        );
        assert!(c.is_empty() && w.is_empty());
        // update 1, delete 2, create 3
        let (c, w) = diff(
            &state,
            &cols,
            vec![
                (pk_key(&row("1", "A"), &[0]), row("1", "A")),
                (pk_key(&row("3", "c"), &[0]), row("3", "c")),
            ],
        );
        let kinds: Vec<&str> = c
            .iter()
            .map(|c| match c {
                Change::Create { .. } => "c",
                Change::Update { .. } => "u",
                Change::Delete { .. } => "d",
            })
            .collect();
        assert_eq!(kinds, ["u", "c", "d"]);
        match &c[0] {
            Change::Update { before, .. } => {
                assert_eq!(row_values(&cols, before), row("1", "a"))
            }
            _ => unreachable!(),
        }
        match &c[2] {
            Change::Delete { key, before } => {
                assert_eq!(key, "[\"2\"]");
                assert_eq!(row_values(&cols, before), row("2", "b"));
            }
            _ => unreachable!(),
        }
        apply(&mut state, &w);
        assert_eq!(state.len(), 2);
        assert!(state.contains_key("[\"3\"]") && !state.contains_key("[\"2\"]"));
    }
}
