//! Debezium options that every change-data-capture source reads the same
//! way: `skipped.operations` ([`check_skipped_operations`],
//! [`skipped_operations`]), `message.key.columns` ([`KeyColumns`]),
//! `binary.handling.mode` ([`BinaryMode`]),
//! `event.processing.failure.handling.mode` ([`FailureHandlingMode`]) and
//! include / exclude list pairs ([`exclusive_lists`], [`NameFilter`]) and
//! the capture filters built from them ([`CaptureFilters`]).

//!
//! Contract: each connector declares the keys in its own `config.rs` (with
//! these functions as their validators) and reads them through these
//! functions, so the accepted values, the error texts and the matching rules
//! are the same in every connector.

use base64::Engine as _;
use regex::Regex;

use crate::config::{whole_match, ConfigKey, ConfigReader};
use crate::schema::Schema;
use crate::value::Value;

crate::config_choice! {
    /// `binary.handling.mode`: how binary columns are represented.
    #[derive(Default)]
    pub enum BinaryMode {
        /// `bytes` (Debezium's default): Connect bytes.
        #[default]
        Bytes = "bytes",
        /// `base64`: string, standard alphabet with padding.
        Base64 = "base64",
        /// `base64-url-safe`: string, URL-safe alphabet with padding.
        Base64UrlSafe = "base64-url-safe",
        /// `hex`: string, lowercase hex digits.
        Hex = "hex",
    }
}

impl BinaryMode {
    /// The (required) schema of a binary column in this mode: bytes, or a
    /// string for the text encodings.
    pub fn schema(self) -> Schema {
        match self {
            BinaryMode::Bytes => Schema::bytes(),
            _ => Schema::string(),
        }
    }

    /// `bytes` as a value of [`Self::schema`].
    pub fn encode(self, bytes: Vec<u8>) -> Value {
        use base64::engine::general_purpose::{STANDARD, URL_SAFE};
        match self {
            BinaryMode::Bytes => Value::Bytes(bytes),
            BinaryMode::Base64 => Value::String(STANDARD.encode(bytes)),
            BinaryMode::Base64UrlSafe => Value::String(URL_SAFE.encode(bytes)),
            BinaryMode::Hex => Value::String(bytes.iter().map(|b| format!("{b:02x}")).collect()),
        }
    }
}

crate::config_choice! {
    /// `event.processing.failure.handling.mode` (Debezium's
    /// `EventProcessingFailureHandlingMode`): what a source does with a
    /// streamed change it cannot build (e.g. a value it cannot decode).
    #[derive(Default)]
    pub enum FailureHandlingMode {
        /// `fail` (the default): the task stops with the event's offset.
        #[default]
        Fail = "fail",
        /// `warn`: the event and its offset are logged, the event skipped.
        Warn = "warn",
        /// `skip` (`ignore`, Debezium's transitional name): the event is
        /// skipped, logged at debug level only.
        Skip = "skip" | "ignore",
    }
}

impl FailureHandlingMode {
    /// Debezium's `EventDispatcher#handleEventProcessingFailure` for an
    /// event at `offset` that failed with `cause`: `fail` returns the
    /// error text (`Error while processing event at offset {…}: <cause>`,
    /// naming the key); `warn` logs `Error while processing event at offset
    /// {…}` with the cause at WARN, `skip` at DEBUG, and both return `Ok`
    /// (the caller skips the event and moves on).
    pub fn handle(self, offset: &str, cause: &dyn std::fmt::Display) -> Result<(), String> {
        match self {
            FailureHandlingMode::Fail => Err(format!(
                "Error while processing event at offset {offset}: {cause} (event.processing.failure.handling.mode=fail; set it to warn or skip to skip such events)"
            )),
            FailureHandlingMode::Warn => {
                tracing::warn!(error = %cause, "Error while processing event at offset {offset}");
                Ok(())
            }
            FailureHandlingMode::Skip => {
                tracing::debug!(error = %cause, "Error while processing event at offset {offset}");
                Ok(())
            }
        }
    }
}

/// An offset as Java prints a `Map` (`{k1=v1, k2=v2}`), as Debezium's
/// messages show `OffsetContext#getOffset()`; string values unquoted.
pub fn offset_text(offset: &crate::Offset) -> String {
    let pairs: Vec<String> = offset
        .iter()
        .map(|(k, v)| match v {
            serde_json::Value::String(s) => format!("{k}={s}"),
            other => format!("{k}={other}"),
        })
        .collect();
    format!("{{{}}}", pairs.join(", "))
}

/// The operation codes `skipped.operations` accepts (besides `none`).
pub const OPERATIONS: [&str; 4] = ["c", "u", "d", "t"];

/// Validator of `skipped.operations`: every comma-separated item is an
/// operation code (`c`, `u`, `d`, `t`) or `none`.
pub fn check_skipped_operations(v: &str) -> Result<(), String> {
    match v
        .split(',')
        .map(str::trim)
        .find(|op| !op.is_empty() && *op != "none" && !OPERATIONS.contains(op))
    {
        None => Ok(()),
        Some(other) => Err(format!(
            "'{other}' is not an operation: use c, u, d, t or none"
        )),
    }
}

/// The operation codes of a checked `skipped.operations` list (its items,
/// without `none`): an operation whose code is in it is not emitted.
pub fn skipped_operations(items: &[String]) -> Vec<char> {
    items
        .iter()
        .filter(|op| op.as_str() != "none")
        .filter_map(|op| op.chars().next())
        .collect()
}

/// `message.key.columns`: `<table>:<column>,<column>;…`, where `<table>` is
/// a regular expression matched (whole, case-insensitively) against the
/// fully-qualified table name (`schema.table` on PostgreSQL, `db.table` on
/// MySQL); the first entry that matches gives the table's key columns, in
/// key order, in place of its primary key.
#[derive(Debug, Clone, Default)]
pub struct KeyColumns(Vec<(Regex, Vec<String>)>);

impl KeyColumns {
    /// Parses the option's value; an entry without `:` or with an invalid
    /// expression is an error naming the entry.
    pub fn parse(spec: &str) -> Result<KeyColumns, String> {
        spec.split(';')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|part| {
                let (table, cols) = part.split_once(':').ok_or_else(|| {
                    format!("'{part}' must look like <fully-qualified table>:column1,column2")
                })?;
                let table = whole_match(table.trim())
                    .map_err(|e| format!("'{table}' is not a valid regular expression: {e}"))?;
                let cols: Vec<String> = cols
                    .split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect();
                if cols.is_empty() {
                    return Err(format!("'{part}' names no key column"));
                }
                Ok((table, cols))
            })
            .collect::<Result<_, String>>()
            .map(KeyColumns)
    }

    /// Validator of `message.key.columns`: the value parses.
    pub fn check(spec: &str) -> Result<(), String> {
        KeyColumns::parse(spec).map(|_| ())
    }

    /// True when no table has custom key columns.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The key columns of `namespace.table`, if an entry matches it.
    pub fn for_table(&self, namespace: &str, table: &str) -> Option<&[String]> {
        let full = format!("{namespace}.{table}");
        self.0
            .iter()
            .find(|(r, _)| r.is_match(&full))
            .map(|(_, c)| c.as_slice())
    }
}

/// Debezium's rule for an include list and its exclude list: they are
/// mutually exclusive. For each `(include, exclude)` pair set together, the
/// exclude key is reported (as Debezium does), naming both.
pub fn exclusive_lists(r: &mut ConfigReader<'_>, pairs: &[(&ConfigKey, &ConfigKey)]) {
    for (include, exclude) in pairs {
        if r.is_set(include) && r.is_set(exclude) {
            r.fail(
                exclude.name,
                format!(
                    "\"{a}\" is already specified: {a} and {b} are mutually exclusive, set only one",
                    a = include.name,
                    b = exclude.name
                ),
            );
        }
    }
}

/// An include list or an exclude list of regular expressions (each matched
/// against a whole name, case-insensitively), as Debezium's
/// `Predicates.includes` / `excludes`: with an include list, a name is kept
/// when an expression matches it; with an exclude list, when none does;
/// with neither, every name is kept.
#[derive(Debug, Clone, Default)]
pub struct NameFilter {
    include: Vec<Regex>,
    exclude: Vec<Regex>,
}

impl NameFilter {
    /// Reads the pair `include` / `exclude` (see [`exclusive_lists`]; an
    /// invalid expression is an error of its key).
    pub fn read(r: &mut ConfigReader<'_>, include: &ConfigKey, exclude: &ConfigKey) -> NameFilter {
        exclusive_lists(r, &[(include, exclude)]);
        NameFilter {
            include: r.regexes(include),
            exclude: r.regexes(exclude),
        }
    }

    /// Reads an include list that has no exclude list (e.g.
    /// `snapshot.include.collection.list`); empty, it keeps every name.
    pub fn read_include(r: &mut ConfigReader<'_>, include: &ConfigKey) -> NameFilter {
        NameFilter {
            include: r.regexes(include),
            exclude: Vec::new(),
        }
    }

    /// True when `name` is kept.
    pub fn matches(&self, name: &str) -> bool {
        if !self.include.is_empty() {
            return self.include.iter().any(|r| r.is_match(name));
        }
        !self.exclude.iter().any(|r| r.is_match(name))
    }
}

impl NameFilter {
    /// True when neither list is set (every name is kept).
    pub fn is_empty(&self) -> bool {
        self.include.is_empty() && self.exclude.is_empty()
    }
}

/// The keys of a source's capture filters: the include / exclude pairs of
/// the namespace (PostgreSQL's schema, MySQL's database), table
/// (`<namespace>.<table>`) and column (`<namespace>.<table>.<column>`)
/// lists, and `signal.data.collection`.
#[derive(Debug, Clone, Copy)]
pub struct FilterKeys<'a> {
    /// `schema.include.list` / `schema.exclude.list` or the database pair.
    pub namespace: (&'a ConfigKey, &'a ConfigKey),
    /// `table.include.list` / `table.exclude.list`.
    pub table: (&'a ConfigKey, &'a ConfigKey),
    /// `column.include.list` / `column.exclude.list`.
    pub column: (&'a ConfigKey, &'a ConfigKey),
    /// `signal.data.collection`.
    pub signal: &'a ConfigKey,
}

/// Which tables and columns a source captures, as Debezium's
/// `RelationalTableFilters`: a table is captured when it is the signal
/// table (`signal.data.collection`, whatever the lists say), or when its
/// namespace is not a system one, passes the namespace lists, and
/// `<namespace>.<table>` passes the table lists; a column when
/// `<namespace>.<table>.<column>` passes the column lists. Each include list
/// excludes its exclude list ([`exclusive_lists`]).
#[derive(Debug, Clone)]
pub struct CaptureFilters {
    /// `signal.data.collection`, lower-cased.
    signal: Option<String>,
    /// The source's own namespaces, never captured.
    system: fn(&str) -> bool,
    namespace: NameFilter,
    table: NameFilter,
    column: NameFilter,
}

impl Default for CaptureFilters {
    /// Every table and column (no system namespace, no signal table).
    fn default() -> CaptureFilters {
        CaptureFilters {
            signal: None,
            system: |_| false,
            namespace: NameFilter::default(),
            table: NameFilter::default(),
            column: NameFilter::default(),
        }
    }
}

impl CaptureFilters {
    /// Reads the lists of `keys` (an invalid expression or both lists of a
    /// pair: an error of the key); `system` names the namespaces never
    /// captured.
    pub fn read(
        r: &mut ConfigReader<'_>,
        keys: FilterKeys<'_>,
        system: fn(&str) -> bool,
    ) -> CaptureFilters {
        CaptureFilters {
            signal: r
                .opt_string(keys.signal)
                .map(|s| s.trim().to_lowercase())
                .filter(|s| !s.is_empty()),
            system,
            namespace: NameFilter::read(r, keys.namespace.0, keys.namespace.1),
            table: NameFilter::read(r, keys.table.0, keys.table.1),
            column: NameFilter::read(r, keys.column.0, keys.column.1),
        }
    }

    /// True when namespace `ns` may hold captured tables.
    pub fn namespace(&self, ns: &str) -> bool {
        !(self.system)(ns) && self.namespace.matches(ns)
    }

    /// True when `ns.table` is captured.
    pub fn table(&self, ns: &str, table: &str) -> bool {
        let full = format!("{ns}.{table}");
        if self.signal.as_deref() == Some(full.to_lowercase().as_str()) {
            return true;
        }
        self.namespace(ns) && self.table.matches(&full)
    }

    /// True when column `ns.table.column` is captured.
    pub fn column(&self, ns: &str, table: &str, column: &str) -> bool {
        self.column.matches(&format!("{ns}.{table}.{column}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_modes() {
        let b = vec![0xfb, 0xff, 0x00];
        assert_eq!(BinaryMode::Bytes.encode(b.clone()), Value::Bytes(b.clone()));
        assert_eq!(
            BinaryMode::Base64.encode(b.clone()),
            Value::String("+/8A".into())
        );
        assert_eq!(
            BinaryMode::Base64UrlSafe.encode(b.clone()),
            Value::String("-_8A".into())
        );
        assert_eq!(BinaryMode::Hex.encode(b), Value::String("fbff00".into()));
        assert_eq!(BinaryMode::Hex.schema().build().type_, crate::Type::String);
        assert_eq!(BinaryMode::default(), BinaryMode::Bytes);
    }

    #[test]
    fn skipped_operations_items() {
        assert!(check_skipped_operations("c, d,none").is_ok());
        assert!(check_skipped_operations("").is_ok());
        let e = check_skipped_operations("c,z").unwrap_err();
        assert!(e.contains("'z' is not an operation"), "{e}");
        let items: Vec<String> = ["c", "none", "t"].map(String::from).to_vec();
        assert_eq!(skipped_operations(&items), ['c', 't']);
    }

    #[test]
    fn key_columns_match_whole_names() {
        let k = KeyColumns::parse("inv.orders:id, line ; inv\\.c.*:email").unwrap();
        assert_eq!(
            k.for_table("INV", "orders").unwrap(),
            ["id".to_owned(), "line".to_owned()]
        );
        assert_eq!(k.for_table("inv", "customers").unwrap(), ["email"]);
        assert!(k.for_table("inv", "orders2").is_none());
        assert!(KeyColumns::parse("").unwrap().is_empty());
        assert!(KeyColumns::check("inv.orders")
            .unwrap_err()
            .contains("must look like"));
        assert!(KeyColumns::check("inv.(:id")
            .unwrap_err()
            .contains("regular expression"));
        assert!(KeyColumns::check("inv.t:")
            .unwrap_err()
            .contains("names no key column"));
    }

    #[test]
    fn name_filters() {
        use crate::config::{raw_config, ConfigType, Importance};
        const INC: ConfigKey = ConfigKey::new(
            "x.include.list",
            ConfigType::List,
            Some(""),
            Importance::Low,
            "",
        );
        const EXC: ConfigKey = ConfigKey::new(
            "x.exclude.list",
            ConfigType::List,
            Some(""),
            Importance::Low,
            "",
        );
        let read = |pairs: &[(&str, &str)]| {
            let raw = raw_config(pairs);
            let mut r = ConfigReader::new(&raw);
            let f = NameFilter::read(&mut r, &INC, &EXC);
            (f, r.into_errors())
        };
        let (f, e) = read(&[]);
        assert!(e.is_empty() && f.matches("anything"));
        let (f, _) = read(&[("x.include.list", "a[.]b, c.*")]);
        assert!(f.matches("A.B") && f.matches("cat") && !f.matches("a.bc") && !f.matches("xa.b"));
        let (f, _) = read(&[("x.exclude.list", "debug")]);
        assert!(!f.matches("DEBUG") && f.matches("debugger"));
        let (_, e) = read(&[("x.include.list", "a"), ("x.exclude.list", "b")]);
        assert_eq!(e.len(), 1, "{e:?}");
        assert_eq!(e[0].0, "x.exclude.list");
        assert!(
            e[0].1.contains("\"x.include.list\" is already specified")
                && e[0].1.contains("mutually exclusive"),
            "{e:?}"
        );
        let (_, e) = read(&[("x.include.list", "(")]);
        assert_eq!(e[0].0, "x.include.list");
    }

    #[test]
    fn failure_handling_fails_only_in_fail_mode_with_debeziums_text() {
        use crate::config::Choice;
        let mut offset = crate::Offset::new();
        offset.insert("file".into(), serde_json::json!("b.000001"));
        offset.insert("lsn".into(), serde_json::json!(42));
        let at = offset_text(&offset);
        assert_eq!(at, "{file=b.000001, lsn=42}");
        let e = FailureHandlingMode::Fail
            .handle(&at, &"bad value")
            .unwrap_err();
        assert!(
            e.starts_with(
                "Error while processing event at offset {file=b.000001, lsn=42}: bad value"
            ) && e.contains("event.processing.failure.handling.mode"),
            "{e}"
        );
        assert_eq!(FailureHandlingMode::Warn.handle(&at, &"bad"), Ok(()));
        assert_eq!(FailureHandlingMode::Skip.handle(&at, &"bad"), Ok(()));
        assert_eq!(FailureHandlingMode::default(), FailureHandlingMode::Fail);
        let parse = |v: &str| {
            FailureHandlingMode::CHOICES
                .iter()
                .find(|(n, _)| *n == v)
                .map(|(_, m)| *m)
        };
        assert_eq!(parse("ignore"), Some(FailureHandlingMode::Skip));
        assert_eq!(parse("warn"), Some(FailureHandlingMode::Warn));
    }
}
