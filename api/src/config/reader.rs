//! [`ConfigReader`]: reads a typed configuration out of the flat string map
//! through the keys' declarations, collecting every broken rule once per
//! key; [`Choice`] and [`config_choice!`](crate::config_choice) for
//! enumerated values; [`config_keys!`](crate::config_keys) to declare a
//! plugin's keys once.

use std::fmt;
use std::time::Duration;

use regex::Regex;

use super::{parse_bool, split_list, ConfigKey, RawConfig};
use crate::error::ConnectError;

/// An enumerated configuration value: every accepted name (aliases too)
/// and the value it stands for. Declared with
/// [`config_choice!`](crate::config_choice), whose `NAMES` are the allowed
/// values of the key that holds it.
pub trait Choice: Sized + Copy + 'static {
    /// Every accepted name, lowercase, with the value it selects.
    const CHOICES: &'static [(&'static str, Self)];

    /// The value called `name` (case-insensitive).
    fn from_name(name: &str) -> Option<Self> {
        Self::CHOICES
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name.trim()))
            .map(|(_, v)| *v)
    }
}

/// Every broken rule of one configuration, at most one per dotted key, in
/// the order the keys were read. Shown to the operator: each message names
/// its key and the rule, never a secret value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors(pub Vec<(String, String)>);

impl ConfigErrors {
    /// One broken rule of one key.
    pub fn one(key: &str, rule: impl Into<String>) -> ConfigErrors {
        ConfigErrors(vec![(key.to_owned(), rule.into())])
    }

    /// The first offending key (for errors that carry one key).
    pub fn first_key(&self) -> &str {
        self.0.first().map(|(k, _)| k.as_str()).unwrap_or("")
    }

    /// True when `key` is among the offending keys.
    pub fn names(&self, key: &str) -> bool {
        self.0.iter().any(|(k, _)| k == key)
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (key, message)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            if names_its_key(message, key) {
                f.write_str(message)?;
            } else {
                write!(f, "{key}: {message}")?;
            }
        }
        Ok(())
    }
}

/// True for the reader's own messages, which already name their key.
fn names_its_key(message: &str, key: &str) -> bool {
    message.starts_with("Invalid value ") && message.contains(&format!(" for configuration {key}:"))
        || message.starts_with(&format!("Missing required configuration \"{key}\""))
}

impl From<ConfigErrors> for ConnectError {
    fn from(e: ConfigErrors) -> ConnectError {
        ConnectError::Config {
            key: e.first_key().to_owned(),
            message: e.to_string(),
        }
    }
}

/// Reads typed values out of a [`RawConfig`] by their [`ConfigKey`]s.
///
/// Each getter takes the value (trimmed; an absent or empty value means the
/// key's default), checks it with [`ConfigKey::check`] and returns it
/// typed. A broken rule is recorded, once per key, and the getter returns
/// the key's default (or the type's zero value) so reading can go on and
/// report every offending key in one pass; [`ConfigReader::finish`] turns
/// the collected errors into [`ConfigErrors`]. Rules that involve several
/// keys are recorded with [`ConfigReader::fail`].
#[derive(Debug)]
pub struct ConfigReader<'a> {
    raw: &'a RawConfig,
    errors: Vec<(String, String)>,
    /// Keys already read through a getter (checked, or accepted as given).
    read: Vec<&'static str>,
}

impl<'a> ConfigReader<'a> {
    /// A reader over `raw`.
    pub fn new(raw: &'a RawConfig) -> ConfigReader<'a> {
        ConfigReader {
            raw,
            errors: Vec::new(),
            read: Vec::new(),
        }
    }

    /// The map being read.
    pub fn raw(&self) -> &'a RawConfig {
        self.raw
    }

    /// Records that `key` breaks `rule` (a rule across keys, or one that
    /// needs parsing the getters do not do). Only the first error of a key
    /// is kept.
    pub fn fail(&mut self, key: &str, rule: impl Into<String>) {
        if !self.has_error(key) {
            self.errors.push((key.to_owned(), rule.into()));
        }
    }

    /// True when an error was recorded for `key`.
    pub fn has_error(&self, key: &str) -> bool {
        self.errors.iter().any(|(k, _)| k == key)
    }

    /// True when the user gave `key` a non-empty value.
    pub fn is_set(&self, key: &ConfigKey) -> bool {
        self.given(key).is_some()
    }

    fn given(&self, key: &ConfigKey) -> Option<&'a str> {
        self.raw
            .get(key.name)
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
    }

    /// The checked value of `key` (its default when not given), or None
    /// after recording why it is missing or invalid.
    fn checked(&mut self, key: &ConfigKey) -> Option<&'a str> {
        self.mark_read(key);
        match self.given(key) {
            Some(v) => match key.check(v) {
                None => Some(v),
                Some(rule) => {
                    self.fail(key.name, rule);
                    None
                }
            },
            None => match key.default {
                Some(d) => Some(d),
                None => {
                    self.fail(
                        key.name,
                        format!(
                            "Missing required configuration \"{}\" which has no default value.",
                            key.name
                        ),
                    );
                    None
                }
            },
        }
    }

    fn mark_read(&mut self, key: &ConfigKey) {
        if !self.read.contains(&key.name) {
            self.read.push(key.name);
        }
    }

    /// Checks `key` without reading it (keys only the REST API lists).
    pub fn check(&mut self, key: &ConfigKey) {
        self.checked(key);
    }

    /// Checks every key of `keys` no getter has read yet (the declared keys
    /// a plugin does not use itself, which the REST API still lists).
    pub fn check_unread(&mut self, keys: &[ConfigKey]) {
        for key in keys {
            if !self.read.contains(&key.name) {
                self.checked(key);
            }
        }
    }

    /// A required key that may be empty, as Kafka's `ConfigDef` allows: the
    /// given value as it is (untrimmed, possibly empty), or the missing-key
    /// error when the key is absent.
    pub fn present_string(&mut self, key: &ConfigKey) -> String {
        match self.raw.get(key.name) {
            Some(v) => {
                self.mark_read(key);
                v.clone()
            }
            None => self.string(key),
        }
    }

    /// `key` as text (empty when invalid or required and missing).
    pub fn string(&mut self, key: &ConfigKey) -> String {
        self.checked(key).unwrap_or_default().to_owned()
    }

    /// `key` as text, None when it is empty.
    pub fn opt_string(&mut self, key: &ConfigKey) -> Option<String> {
        self.checked(key)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    }

    /// `key` as a boolean.
    pub fn bool(&mut self, key: &ConfigKey) -> bool {
        self.checked(key).and_then(parse_bool).unwrap_or(false)
    }

    /// `key` as an integer of type `T` (range-checked by the declaration;
    /// a value `T` cannot hold is an error too).
    pub fn int<T: TryFrom<i64> + Default>(&mut self, key: &ConfigKey) -> T {
        let Some(v) = self.checked(key) else {
            return T::default();
        };
        match v.parse::<i64>().ok().and_then(|n| T::try_from(n).ok()) {
            Some(n) => n,
            None => {
                self.fail(
                    key.name,
                    format!(
                        "Invalid value {v} for configuration {}: Value out of range",
                        key.name
                    ),
                );
                T::default()
            }
        }
    }

    /// `key` as a floating-point number.
    pub fn double(&mut self, key: &ConfigKey) -> f64 {
        self.checked(key)
            .and_then(|v| v.parse().ok())
            .unwrap_or_default()
    }

    /// `key`, a number of milliseconds, as a duration (negative values are
    /// an error unless the declaration allows them; they read as zero).
    pub fn millis(&mut self, key: &ConfigKey) -> Duration {
        Duration::from_millis(self.int::<i64>(key).max(0) as u64)
    }

    /// `key` as a comma-separated list of trimmed, non-empty items.
    pub fn list(&mut self, key: &ConfigKey) -> Vec<String> {
        self.checked(key).map(split_list).unwrap_or_default()
    }

    /// `key` as the [`Choice`] it names; the key's `one_of` should be the
    /// choice's `NAMES` so that the REST API lists the same values.
    pub fn choice<E: Choice>(&mut self, key: &ConfigKey) -> E {
        let fallback = key
            .default
            .and_then(E::from_name)
            .unwrap_or(E::CHOICES[0].1);
        let Some(v) = self.checked(key) else {
            return fallback;
        };
        match E::from_name(v) {
            Some(c) => c,
            None => {
                let names: Vec<&str> = E::CHOICES.iter().map(|(n, _)| *n).collect();
                self.fail(
                    key.name,
                    format!(
                        "Invalid value {v} for configuration {}: String must be one of: {}",
                        key.name,
                        names.join(", ")
                    ),
                );
                fallback
            }
        }
    }

    /// `key` as a list of regular expressions, each matched against a whole
    /// identifier and case-insensitively, as Debezium's include/exclude
    /// lists are; an invalid expression is an error naming it.
    pub fn regexes(&mut self, key: &ConfigKey) -> Vec<Regex> {
        let mut out = Vec::new();
        for p in self.list(key) {
            match whole_match(&p) {
                Ok(r) => out.push(r),
                Err(e) => self.fail(
                    key.name,
                    format!(
                        "Invalid value {p} for configuration {}: not a valid regular expression: {e}",
                        key.name
                    ),
                ),
            }
        }
        out
    }

    /// The value built from the keys read, or every recorded error.
    pub fn finish<T>(self, value: T) -> Result<T, ConfigErrors> {
        if self.errors.is_empty() {
            Ok(value)
        } else {
            Err(ConfigErrors(self.errors))
        }
    }

    /// The errors recorded so far (for `validate` endpoints that do not
    /// need the value).
    pub fn into_errors(self) -> Vec<(String, String)> {
        self.errors
    }
}

/// A plugin's typed configuration, read from the flat map through the
/// plugin's declared keys. Every connector's `config.rs` implements it:
/// [`TypedConfig::KEYS`] (from [`config_keys!`](crate::config_keys)) is the
/// plugin's [`ConfigDef`](crate::ConfigDef), and [`TypedConfig::read`] builds
/// the struct with a [`ConfigReader`], recording rules across keys with
/// [`ConfigReader::fail`].
pub trait TypedConfig: Sized {
    /// Every key of the plugin, in display order.
    const KEYS: &'static [ConfigKey];

    /// Builds the configuration; broken rules go to `r`, and the value
    /// returned alongside them is discarded.
    fn read(r: &mut ConfigReader<'_>) -> Self;

    /// The configuration, or every broken rule (at most one per key; keys
    /// declared but not read are checked too, keys read are not checked
    /// again).
    fn from_raw(raw: &RawConfig) -> Result<Self, ConfigErrors> {
        let mut r = ConfigReader::new(raw);
        let value = Self::read(&mut r);
        r.check_unread(Self::KEYS);
        r.finish(value)
    }

    /// `(dotted key, rule)` per offending key; empty when valid.
    fn validate(raw: &RawConfig) -> Vec<(String, String)> {
        Self::from_raw(raw).err().map(|e| e.0).unwrap_or_default()
    }

    /// The plugin's keys for the REST API.
    fn config_def() -> crate::ConfigDef {
        crate::ConfigDef::new(Self::KEYS.to_vec())
    }
}

/// `pattern` compiled to match a whole identifier, case-insensitively.
pub fn whole_match(pattern: &str) -> Result<Regex, regex::Error> {
    Regex::new(&format!("(?i)^(?:{pattern})$"))
}

/// Declares a plugin's configuration keys once: each item becomes a
/// `pub const NAME: ConfigKey`, and `KEYS` lists them all in order (the
/// plugin's [`ConfigDef`](crate::ConfigDef) is `ConfigDef::new(KEYS.to_vec())`).
///
/// ```
/// use velocity_api::config::{ConfigKey, ConfigType::*, Importance::*};
/// velocity_api::config_keys! {
///     /// `batch.size`.
///     BATCH_SIZE = ConfigKey::new("batch.size", Int, Some("500"), Medium, "Rows per batch.").at_least(1);
/// }
/// assert_eq!(KEYS[0].name, "batch.size");
/// ```
#[macro_export]
macro_rules! config_keys {
    ($($(#[$meta:meta])* $name:ident = $key:expr;)+) => {
        $($(#[$meta])* pub const $name: $crate::config::ConfigKey = $key;)+
        /// Every key of this plugin, in display order.
        pub const KEYS: &[$crate::config::ConfigKey] = &[$($name),+];
    };
}

/// Declares an enumerated configuration value: the enum, its `NAMES` (every
/// accepted name, for the key's `one_of`), `name()` (the canonical name)
/// and its [`Choice`] implementation. `Variant = "name" | "alias"` accepts
/// both names; the first is canonical.
///
/// ```
/// velocity_api::config_choice! {
///     /// `snapshot.mode`.
///     pub enum SnapshotMode {
///         /// Snapshot, then stream.
///         Initial = "initial",
///         /// Never snapshot data.
///         NoData = "no_data" | "never",
///     }
/// }
/// use velocity_api::config::Choice;
/// assert_eq!(SnapshotMode::from_name("NEVER"), Some(SnapshotMode::NoData));
/// assert_eq!(SnapshotMode::NAMES, &["initial", "no_data", "never"]);
/// assert_eq!(SnapshotMode::NoData.name(), "no_data");
/// ```
#[macro_export]
macro_rules! config_choice {
    (
        $(#[$meta:meta])*
        $vis:vis enum $enum:ident {
            $($(#[$vmeta:meta])* $variant:ident = $first:literal $(| $alias:literal)*,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $enum {
            $($(#[$vmeta])* $variant,)+
        }

        impl $enum {
            /// Every accepted name (canonical names and aliases), lowercase.
            pub const NAMES: &'static [&'static str] = &[$($first, $($alias,)*)+];

            /// The canonical name of this value.
            pub fn name(self) -> &'static str {
                match self {
                    $($enum::$variant => $first,)+
                }
            }
        }

        impl $crate::config::Choice for $enum {
            const CHOICES: &'static [(&'static str, Self)] =
                &[$(($first, $enum::$variant), $(($alias, $enum::$variant),)*)+];
        }

        impl ::std::fmt::Display for $enum {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ConfigType::*, Importance::*};

    crate::config_choice! {
        /// A test choice.
        pub enum Mode {
            /// a
            A = "a",
            /// b
            B = "b" | "bee",
        }
    }

    crate::config_keys! {
        /// required text
        HOST = ConfigKey::new("database.hostname", String, None, High, "host");
        /// int with range
        PORT = ConfigKey::new("database.port", Int, Some("5432"), High, "port").range(1, 65535);
        /// bool
        FLAG = ConfigKey::new("flag", Boolean, Some("true"), Low, "flag");
        /// choice
        MODE = ConfigKey::new("mode", String, Some("b"), Low, "mode").one_of(Mode::NAMES);
        /// validated
        NAME = ConfigKey::new("name", String, Some(""), Low, "name").validate_with(|v| {
            if v.contains(' ') { Err("must not contain spaces; remove them".into()) } else { Ok(()) }
        });
        /// regexes
        TABLES = ConfigKey::new("table.include.list", List, Some(""), Low, "tables");
    }

    use crate::config::raw_config as cfg;

    fn read(
        c: &RawConfig,
    ) -> Result<(std::string::String, u16, bool, Mode, Vec<Regex>), ConfigErrors> {
        let mut r = ConfigReader::new(c);
        let host = r.string(&HOST);
        let port = r.int(&PORT);
        let flag = r.bool(&FLAG);
        let mode = r.choice(&MODE);
        r.check(&NAME);
        let tables = r.regexes(&TABLES);
        if flag && port == 1 {
            r.fail(FLAG.name, "flag=true needs a port above 1");
        }
        r.finish((host, port, flag, mode, tables))
    }

    #[test]
    fn defaults_and_values_are_typed() {
        let (host, port, flag, mode, tables) = read(&cfg(&[("database.hostname", " h ")])).unwrap();
        assert_eq!(
            (host.as_str(), port, flag, mode),
            ("h", 5432, true, Mode::B)
        );
        assert!(tables.is_empty());
        let (_, port, flag, mode, tables) = read(&cfg(&[
            ("database.hostname", "h"),
            ("database.port", "6000"),
            ("flag", "FALSE"),
            ("mode", "BEE"),
            ("table.include.list", "public\\.a.*, public.b"),
        ]))
        .unwrap();
        assert_eq!((port, flag, mode), (6000, false, Mode::B));
        assert!(tables[0].is_match("PUBLIC.abc") && !tables[1].is_match("public.bc"));
    }

    #[test]
    fn every_bad_key_is_reported_once_with_its_rule() {
        let e = read(&cfg(&[
            ("database.port", "0"),
            ("flag", "yes"),
            ("mode", "c"),
            ("name", "a b"),
            ("table.include.list", "(, ok, [x"),
        ]))
        .unwrap_err();
        let keys: Vec<&str> = e.0.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "database.hostname",
                "database.port",
                "flag",
                "mode",
                "name",
                "table.include.list"
            ]
        );
        let msg = |k: &str| e.0.iter().find(|(key, _)| key == k).unwrap().1.clone();
        assert!(msg("database.hostname").contains("Missing required configuration"));
        assert_eq!(
            msg("database.port"),
            "Invalid value 0 for configuration database.port: Value must be at least 1"
        );
        assert!(msg("flag").contains("either true or false"));
        assert!(
            msg("mode").contains("String must be one of: a, b, bee"),
            "{}",
            msg("mode")
        );
        assert!(msg("name").contains("must not contain spaces"));
        assert!(msg("table.include.list").contains("not a valid regular expression"));
        // The ConfigDef built from the same declarations gives the same rules.
        let def = crate::ConfigDef::new(KEYS.to_vec());
        let c = cfg(&[("database.port", "70000"), ("mode", "c")]);
        let from_def = def.validate(&c);
        let mut r = ConfigReader::new(&c);
        for k in KEYS {
            r.check(k);
        }
        assert_eq!(from_def, r.into_errors());
    }

    struct Host(std::string::String);
    impl TypedConfig for Host {
        const KEYS: &'static [ConfigKey] = KEYS;
        fn read(r: &mut ConfigReader<'_>) -> Host {
            Host(r.string(&HOST))
        }
    }

    #[test]
    fn typed_config_checks_keys_it_does_not_read() {
        assert_eq!(
            Host::from_raw(&cfg(&[("database.hostname", "h")]))
                .unwrap()
                .0,
            "h"
        );
        let errs = Host::validate(&cfg(&[("database.hostname", "h"), ("flag", "x")]));
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].0, "flag");
        assert_eq!(Host::config_def().keys.len(), KEYS.len());
    }

    #[test]
    fn present_string_takes_an_empty_required_value_and_is_not_checked_again() {
        struct Literal(std::string::String);
        impl TypedConfig for Literal {
            const KEYS: &'static [ConfigKey] = KEYS;
            fn read(r: &mut ConfigReader<'_>) -> Literal {
                Literal(r.present_string(&HOST))
            }
        }
        assert_eq!(
            Literal::from_raw(&cfg(&[("database.hostname", "")]))
                .unwrap()
                .0,
            ""
        );
        let errs = Literal::validate(&cfg(&[]));
        assert_eq!(errs.len(), 1);
        assert!(
            errs[0].1.starts_with("Missing required configuration"),
            "{errs:?}"
        );
        // the plain getter still takes an empty value for a missing one
        let errs = Host::validate(&cfg(&[("database.hostname", "")]));
        assert_eq!(errs[0].0, "database.hostname", "{errs:?}");
    }

    #[test]
    fn cross_key_rules_and_display() {
        let e = read(&cfg(&[("database.hostname", "h"), ("database.port", "1")])).unwrap_err();
        assert_eq!(
            e.0,
            vec![(
                "flag".to_owned(),
                "flag=true needs a port above 1".to_owned()
            )]
        );
        assert_eq!(e.to_string(), "flag: flag=true needs a port above 1");
        let ce: ConnectError = e.into();
        assert!(matches!(ce, ConnectError::Config { ref key, .. } if key == "flag"));
    }

    #[test]
    fn choice_names_are_canonical() {
        assert_eq!(Mode::B.name(), "b");
        assert_eq!(Mode::NAMES, &["a", "b", "bee"]);
        assert_eq!(Mode::from_name("x"), None);
        assert_eq!(Mode::A.to_string(), "a");
    }
}
