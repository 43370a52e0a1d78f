//! Debezium's signals (`io.debezium.pipeline.signal`): the configuration
//! keys of the signalling channels ([`SIGNAL_DATA_COLLECTION`],
//! [`SIGNAL_ENABLED_CHANNELS`]), a signal as it arrives ([`SignalRecord`]:
//! a row of the signal table with columns `id`, `type`, `data`) and the
//! parsed action ([`Signal`]), with Debezium's names and rules:
//!
//! | `type` | action |
//! |---|---|
//! | `execute-snapshot` | [`Signal::ExecuteSnapshot`]: `data-collections` (regular expressions, required), `type` (`incremental`, the default, or `blocking`), `additional-conditions` (`[{"data-collection": regex, "filter": sql}]`), `surrogate-key` |
//! | `stop-snapshot` | [`Signal::StopSnapshot`]: `data-collections` (none: the whole snapshot), `type` |
//! | `pause-snapshot` / `resume-snapshot` | [`Signal::PauseSnapshot`] / [`Signal::ResumeSnapshot`] |
//! | `log` | [`Signal::Log`]: `message` is logged at INFO |
//! | `snapshot-window-open` / `snapshot-window-close` | [`Signal::WindowOpen`] / [`Signal::WindowClose`]: the watermarks the connector itself writes around a chunk |
//!
//! Contract: [`SignalRecord::parse`] never panics; a signal that cannot be
//! acted upon is a [`SignalError`] whose text is Debezium's warning, and the
//! connector logs it and goes on streaming (Debezium's `SignalProcessor`
//! catches every failure of a signal the same way).

use regex::Regex;
use serde_json::Value as Json;

use crate::config::{ConfigKey, ConfigReader, ConfigType::*, Importance::*};

/// `signal.data.collection`: the fully-qualified name of the signal table
/// (`schema.table` on PostgreSQL, `db.table` on MySQL); empty: signalling off.
pub const SIGNAL_DATA_COLLECTION: ConfigKey = ConfigKey::new("signal.data.collection", String, Some(""), Medium, "The name of the data collection that is used to send signals/commands to Debezium. Signaling is disabled when not set.");

/// `signal.enabled.channels` (default `source`): the channels signals are
/// read from. Velocity reads the `source` channel (the signal table);
/// `kafka` is refused until it is built.
pub const SIGNAL_ENABLED_CHANNELS: ConfigKey = ConfigKey::new(
    "signal.enabled.channels",
    List,
    Some("source"),
    Low,
    "List of channels names that are enabled. Source channel is enabled by default",
)
.validate_with(check_channels);

/// `incremental.snapshot.chunk.size` (default 1024): rows read per chunk
/// of an incremental snapshot.
pub const INCREMENTAL_SNAPSHOT_CHUNK_SIZE: ConfigKey = ConfigKey::new(
    "incremental.snapshot.chunk.size",
    Int,
    Some("1024"),
    Medium,
    "The maximum size of chunk (number of documents/rows) for incremental snapshotting",
)
.range(1, 100_000_000);

/// The channel names Velocity reads.
pub const CHANNELS: [&str; 1] = ["source"];

/// Validator of `signal.enabled.channels`: every name is one Velocity
/// reads; `kafka` (Debezium's other default channel) gets its own message.
pub fn check_channels(v: &str) -> Result<(), std::string::String> {
    for name in v.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        match name {
            "source" => {}
            "kafka" => return Err("the kafka signal channel is not supported by Velocity yet: send signals through the source channel (an insert into signal.data.collection) and leave signal.enabled.channels=source".into()),
            other => return Err(format!("'{other}' is not a signal channel Velocity supports: use source")),
        }
    }
    Ok(())
}

/// The signalling configuration of a source (read with
/// [`SignalConfig::read`] from the keys above, which the connector lists
/// in its own `config_keys!`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignalConfig {
    /// `signal.data.collection`, when set.
    pub data_collection: Option<std::string::String>,
    /// `incremental.snapshot.chunk.size`.
    pub chunk_size: usize,
}

impl SignalConfig {
    /// Reads the three keys (`signal.enabled.channels` is only checked).
    pub fn read(r: &mut ConfigReader<'_>) -> SignalConfig {
        r.check(&SIGNAL_ENABLED_CHANNELS);
        SignalConfig {
            data_collection: r
                .opt_string(&SIGNAL_DATA_COLLECTION)
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty()),
            chunk_size: r.int(&INCREMENTAL_SNAPSHOT_CHUNK_SIZE),
        }
    }
}

impl Default for SignalConfig {
    fn default() -> Self {
        SignalConfig {
            data_collection: None,
            chunk_size: 1024,
        }
    }
}

/// One signal as read from a channel: the signal table's `id`, `type` and
/// `data` columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignalRecord {
    /// `id`: identifies the signal (the chunk id for window signals).
    pub id: std::string::String,
    /// `type`: the action's name.
    pub kind: std::string::String,
    /// `data`: the action's JSON document, if any.
    pub data: Option<std::string::String>,
}

/// The kind of snapshot a snapshot signal asks for (`data.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotKind {
    /// `incremental` (the default): DBLog chunks interleaved with streaming.
    Incremental,
    /// `blocking`: streaming pauses while the tables are read.
    Blocking,
}

/// One `additional-conditions` entry: the filter applies to the tables
/// the regular expression matches (whole name, case-insensitively).
#[derive(Debug, Clone)]
pub struct AdditionalCondition {
    /// `data-collection`.
    pub data_collection: Regex,
    /// `filter`: an SQL condition on the table's columns.
    pub filter: std::string::String,
}

/// A parsed signal.
#[derive(Debug, Clone)]
pub enum Signal {
    /// `execute-snapshot`.
    ExecuteSnapshot {
        /// `data-collections`: regular expressions of fully-qualified table names.
        data_collections: Vec<std::string::String>,
        /// `type`.
        kind: SnapshotKind,
        /// `additional-conditions`.
        additional_conditions: Vec<AdditionalCondition>,
        /// `surrogate-key`: a column to chunk by instead of the primary key.
        surrogate_key: Option<std::string::String>,
    },
    /// `stop-snapshot`; no data collections: stop the whole snapshot.
    StopSnapshot {
        /// `data-collections`.
        data_collections: Option<Vec<std::string::String>>,
        /// `type`.
        kind: SnapshotKind,
    },
    /// `pause-snapshot`.
    PauseSnapshot,
    /// `resume-snapshot`.
    ResumeSnapshot,
    /// `log`: `message` (a `{}` in it is replaced by the offset).
    Log {
        /// `message`.
        message: std::string::String,
    },
    /// `snapshot-window-open`: the low watermark of chunk `id` (minus `-open`).
    WindowOpen,
    /// `snapshot-window-close`: the high watermark of a chunk.
    WindowClose,
}

/// The action names, as Debezium spells them.
pub mod names {
    /// `execute-snapshot`.
    pub const EXECUTE_SNAPSHOT: &str = "execute-snapshot";
    /// `stop-snapshot`.
    pub const STOP_SNAPSHOT: &str = "stop-snapshot";
    /// `pause-snapshot`.
    pub const PAUSE_SNAPSHOT: &str = "pause-snapshot";
    /// `resume-snapshot`.
    pub const RESUME_SNAPSHOT: &str = "resume-snapshot";
    /// `log`.
    pub const LOG: &str = "log";
    /// `snapshot-window-open`.
    pub const WINDOW_OPEN: &str = "snapshot-window-open";
    /// `snapshot-window-close`.
    pub const WINDOW_CLOSE: &str = "snapshot-window-close";
}

/// Why a signal is not acted upon; the text is Debezium's warning.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignalError {
    /// `type` names no action.
    #[error("Signal '{id}' has been received but the type '{kind}' is not recognized")]
    UnknownType {
        /// The signal's id.
        id: std::string::String,
        /// Its type.
        kind: std::string::String,
    },
    /// `data` is not a JSON object.
    #[error("Signal '{id}' has been received but the data '{data}' cannot be parsed: {detail}")]
    BadData {
        /// The signal's id.
        id: std::string::String,
        /// Its data.
        data: std::string::String,
        /// The parser's message.
        detail: std::string::String,
    },
    /// The action's data lacks something it needs, or has a wrong value.
    #[error("{0}")]
    Invalid(std::string::String),
}

impl SignalRecord {
    /// The action this signal asks for.
    pub fn parse(&self) -> Result<Signal, SignalError> {
        let known = [
            names::EXECUTE_SNAPSHOT,
            names::STOP_SNAPSHOT,
            names::PAUSE_SNAPSHOT,
            names::RESUME_SNAPSHOT,
            names::LOG,
            names::WINDOW_OPEN,
            names::WINDOW_CLOSE,
        ];
        if !known.contains(&self.kind.as_str()) {
            return Err(SignalError::UnknownType {
                id: self.id.clone(),
                kind: self.kind.clone(),
            });
        }
        let data = match self.data.as_deref().map(str::trim) {
            None | Some("") => serde_json::Map::new(),
            Some(text) => match serde_json::from_str::<Json>(text) {
                Ok(Json::Object(m)) => m,
                Ok(_) => {
                    return Err(self.bad_data("not a JSON object".into()));
                }
                Err(e) => return Err(self.bad_data(e.to_string())),
            },
        };
        let doc = Json::Object(data);
        Ok(match self.kind.as_str() {
            names::EXECUTE_SNAPSHOT => {
                let data_collections = collections(&doc).ok_or_else(|| SignalError::Invalid(format!(
                    "Execute snapshot signal '{doc}' has arrived but the requested field 'data-collections' is missing from data or is empty"
                )))?;
                let data_collections = data_collections.map_err(|()| SignalError::Invalid(format!(
                    "Execute snapshot signal '{doc}' has arrived but the requested field 'data-collections' contains a non-string data collection"
                )))?;
                Signal::ExecuteSnapshot {
                    data_collections,
                    kind: snapshot_kind(&doc)?,
                    additional_conditions: additional_conditions(&doc)?,
                    surrogate_key: doc
                        .get("surrogate-key")
                        .and_then(Json::as_str)
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned),
                }
            }
            names::STOP_SNAPSHOT => Signal::StopSnapshot {
                data_collections: match collections(&doc) {
                    None => None,
                    Some(Ok(c)) => Some(c),
                    Some(Err(())) => return Err(SignalError::Invalid(format!(
                        "Stop snapshot signal '{doc}' has arrived but the requested field 'data-collections' contains a non-string data collection"
                    ))),
                },
                kind: snapshot_kind(&doc)?,
            },
            names::PAUSE_SNAPSHOT => Signal::PauseSnapshot,
            names::RESUME_SNAPSHOT => Signal::ResumeSnapshot,
            names::LOG => match doc.get("message").and_then(Json::as_str) {
                Some(m) if !m.is_empty() => Signal::Log { message: m.to_owned() },
                _ => return Err(SignalError::Invalid(format!(
                    "Logging signal '{}' has arrived but the requested field 'message' is missing from data",
                    self.id
                ))),
            },
            names::WINDOW_OPEN => Signal::WindowOpen,
            _ => Signal::WindowClose,
        })
    }

    fn bad_data(&self, detail: std::string::String) -> SignalError {
        SignalError::BadData {
            id: self.id.clone(),
            data: self.data.clone().unwrap_or_default(),
            detail,
        }
    }
}

/// `data-collections`: None when missing or empty, `Err` when an element is
/// not a string, else the trimmed names.
fn collections(doc: &Json) -> Option<Result<Vec<std::string::String>, ()>> {
    let arr = doc.get("data-collections")?.as_array()?;
    if arr.is_empty() {
        return None;
    }
    Some(
        arr.iter()
            .map(|v| v.as_str().map(|s| s.trim().to_owned()).ok_or(()))
            .collect(),
    )
}

fn snapshot_kind(doc: &Json) -> Result<SnapshotKind, SignalError> {
    match doc.get("type").and_then(Json::as_str) {
        None => Ok(SnapshotKind::Incremental),
        Some(t) if t.eq_ignore_ascii_case("incremental") => Ok(SnapshotKind::Incremental),
        Some(t) if t.eq_ignore_ascii_case("blocking") => Ok(SnapshotKind::Blocking),
        Some(t) => Err(SignalError::Invalid(format!(
            "Detected an unexpected snapshot type '{t}'. Signal will be skipped."
        ))),
    }
}

fn additional_conditions(doc: &Json) -> Result<Vec<AdditionalCondition>, SignalError> {
    let Some(arr) = doc.get("additional-conditions").and_then(Json::as_array) else {
        return Ok(Vec::new());
    };
    arr.iter()
        .map(|c| {
            let dc = c.get("data-collection").and_then(Json::as_str).ok_or_else(|| {
                SignalError::Invalid(format!(
                    "additional condition '{c}' has no 'data-collection'"
                ))
            })?;
            let filter = c.get("filter").and_then(Json::as_str).unwrap_or_default();
            let re = regex::RegexBuilder::new(&format!("^(?:{dc})$"))
                .case_insensitive(true)
                .build()
                .map_err(|e| {
                    SignalError::Invalid(format!(
                        "additional condition data-collection '{dc}' is not a valid regular expression: {e}"
                    ))
                })?;
            Ok(AdditionalCondition {
                data_collection: re,
                filter: filter.to_owned(),
            })
        })
        .collect()
}

/// Compiles a `data-collections` entry as Debezium matches it against
/// table names (`Pattern.compile(x).matcher(t).matches()`: whole name,
/// case-sensitive).
pub fn collection_pattern(expr: &str) -> Result<Regex, regex::Error> {
    Regex::new(&format!("^(?:{expr})$"))
}

/// The `data-collections` of a snapshot signal expanded against the
/// captured tables' names, as Debezium's `expandAndDedupeDataCollectionIds`
/// does: every table an expression matches, in `tables` order per
/// expression; an expression matching none stays as written (the caller
/// warns about a table it does not know). Duplicates are dropped.
pub fn expand_collections(
    exprs: &[std::string::String],
    tables: &[std::string::String],
) -> Vec<std::string::String> {
    let mut out: Vec<std::string::String> = Vec::new();
    for e in exprs {
        let matched: Vec<&std::string::String> = match collection_pattern(e) {
            Ok(re) => tables.iter().filter(|t| re.is_match(t)).collect(),
            Err(_) => Vec::new(),
        };
        if matched.is_empty() {
            if !out.contains(e) {
                out.push(e.clone());
            }
        } else {
            for t in matched {
                if !out.contains(t) {
                    out.push(t.clone());
                }
            }
        }
    }
    out
}

/// The `filter` of the first of `conditions` whose `data-collection`
/// matches table `id` (a fully-qualified name), unless it is empty.
pub fn filter_for<'a>(conditions: &'a [AdditionalCondition], id: &str) -> Option<&'a str> {
    conditions
        .iter()
        .find(|c| c.data_collection.is_match(id))
        .map(|c| c.filter.as_str())
        .filter(|f| !f.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(kind: &str, data: Option<&str>) -> SignalRecord {
        SignalRecord {
            id: "sig-1".into(),
            kind: kind.into(),
            data: data.map(Into::into),
        }
    }

    #[test]
    fn execute_snapshot_with_everything() {
        let s = rec(
            "execute-snapshot",
            Some(r#"{"data-collections": [" inc\\.items ", "inc.o.*"], "type": "INCREMENTAL",
                     "additional-conditions": [{"data-collection": "inc.items", "filter": "qty > 5"}],
                     "surrogate-key": "code"}"#),
        )
        .parse()
        .unwrap();
        let Signal::ExecuteSnapshot {
            data_collections,
            kind,
            additional_conditions,
            surrogate_key,
        } = s
        else {
            panic!("{s:?}")
        };
        assert_eq!(data_collections, ["inc\\.items", "inc.o.*"]);
        assert_eq!(kind, SnapshotKind::Incremental);
        assert_eq!(additional_conditions.len(), 1);
        assert!(additional_conditions[0]
            .data_collection
            .is_match("INC.ITEMS"));
        assert!(!additional_conditions[0]
            .data_collection
            .is_match("inc.items2"));
        assert_eq!(additional_conditions[0].filter, "qty > 5");
        assert_eq!(surrogate_key.as_deref(), Some("code"));
        // the type defaults to incremental
        let s = rec("execute-snapshot", Some(r#"{"data-collections": ["a.b"]}"#)).parse();
        assert!(matches!(
            s,
            Ok(Signal::ExecuteSnapshot {
                kind: SnapshotKind::Incremental,
                ..
            })
        ));
    }

    #[test]
    fn bad_json_and_unknown_types_are_errors_with_debeziums_text() {
        let e = rec("execute-snapshot", Some("{not json"))
            .parse()
            .unwrap_err();
        assert!(matches!(e, SignalError::BadData { .. }));
        assert!(
            e.to_string().starts_with(
                "Signal 'sig-1' has been received but the data '{not json' cannot be parsed"
            ),
            "{e}"
        );
        let e = rec("execute-snapshot", Some("[1]")).parse().unwrap_err();
        assert!(matches!(e, SignalError::BadData { .. }), "{e}");
        let e = rec("reboot", Some("{}")).parse().unwrap_err();
        assert_eq!(
            e.to_string(),
            "Signal 'sig-1' has been received but the type 'reboot' is not recognized"
        );
        // unknown types are reported before the data is looked at
        let e = rec("reboot", Some("{bad")).parse().unwrap_err();
        assert!(matches!(e, SignalError::UnknownType { .. }));
    }

    #[test]
    fn missing_or_wrong_fields() {
        let e = rec("execute-snapshot", Some("{}")).parse().unwrap_err();
        assert!(
            e.to_string()
                .contains("'data-collections' is missing from data or is empty"),
            "{e}"
        );
        let e = rec("execute-snapshot", None).parse().unwrap_err();
        assert!(e.to_string().contains("is missing"), "{e}");
        let e = rec("execute-snapshot", Some(r#"{"data-collections": [1]}"#))
            .parse()
            .unwrap_err();
        assert!(e.to_string().contains("non-string data collection"), "{e}");
        let e = rec(
            "execute-snapshot",
            Some(r#"{"data-collections": ["a.b"], "type": "eventual"}"#),
        )
        .parse()
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("unexpected snapshot type 'eventual'"),
            "{e}"
        );
        let e = rec("log", Some("{}")).parse().unwrap_err();
        assert!(e.to_string().contains("'message' is missing"), "{e}");
    }

    #[test]
    fn the_other_actions() {
        assert!(matches!(
            rec("stop-snapshot", None).parse(),
            Ok(Signal::StopSnapshot {
                data_collections: None,
                ..
            })
        ));
        assert!(matches!(
            rec("stop-snapshot", Some(r#"{"data-collections": ["a.b"], "type": "incremental"}"#)).parse(),
            Ok(Signal::StopSnapshot { data_collections: Some(c), .. }) if c == ["a.b"]
        ));
        assert!(matches!(
            rec("pause-snapshot", None).parse(),
            Ok(Signal::PauseSnapshot)
        ));
        assert!(matches!(
            rec("resume-snapshot", Some("")).parse(),
            Ok(Signal::ResumeSnapshot)
        ));
        assert!(matches!(
            rec("log", Some(r#"{"message": "hello {}"}"#)).parse(),
            Ok(Signal::Log { message }) if message == "hello {}"
        ));
        // Debezium writes its watermarks with a metadata document as data
        let open = rec(
            "snapshot-window-open",
            Some(r#"{"openWindowTimestamp": "2026-01-01T00:00:00Z"}"#),
        );
        assert!(matches!(open.parse(), Ok(Signal::WindowOpen)));
        assert!(matches!(
            rec("snapshot-window-close", None).parse(),
            Ok(Signal::WindowClose)
        ));
    }

    #[test]
    fn channels() {
        assert!(check_channels("source").is_ok());
        assert!(check_channels(" source ,").is_ok());
        let e = check_channels("source,kafka").unwrap_err();
        assert!(e.contains("kafka signal channel is not supported"), "{e}");
        assert!(check_channels("jmx").unwrap_err().contains("'jmx'"));
    }

    #[test]
    fn collections_expand_against_table_names() {
        let tables: Vec<std::string::String> = ["inc.items", "inc.items_old", "inc.other"]
            .map(Into::into)
            .to_vec();
        let got = expand_collections(
            &[
                "inc\\.items.*".into(),
                "inc.other".into(),
                "inc.items".into(),
                "x.y".into(),
            ],
            &tables,
        );
        assert_eq!(got, ["inc.items", "inc.items_old", "inc.other", "x.y"]);
        // whole names only, case-sensitive (Debezium's Pattern.matches)
        assert_eq!(
            expand_collections(&["inc.item".into()], &tables),
            ["inc.item"]
        );
        assert_eq!(
            expand_collections(&["INC.ITEMS".into()], &tables),
            ["INC.ITEMS"]
        );
    }
}
