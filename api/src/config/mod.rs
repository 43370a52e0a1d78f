//! Configuration: the flat string map Kafka Connect passes around, typed
//! getters whose errors name the dotted key, and [`ConfigDef`], the
//! description of a plugin's keys that the REST API publishes and validates.
//!
//! The idiom every connector follows: each key is declared once, as a
//! [`ConfigKey`] constant inside [`config_keys!`](crate::config_keys) (name, type, default,
//! importance, documentation, allowed values, range, validator); the
//! plugin's [`ConfigDef`] is that list; the typed configuration struct is
//! read from the flat map through a [`ConfigReader`], which checks each key
//! against its declaration and collects at most one `(dotted key, rule)`
//! error per key; the struct implements [`TypedConfig`]. Enumerated values are
//! [`config_choice!`](crate::config_choice) enums whose
//! names are the allowed values of their key.

mod reader;

pub use reader::{whole_match, Choice, ConfigErrors, ConfigReader, TypedConfig};

use std::collections::BTreeMap;

use serde::Serialize;

use crate::error::{ConnectError, Result};

/// The flat `key → value` map of a connector, task, transform or worker.
pub type RawConfig = BTreeMap<String, String>;

/// The type of a configuration key, named as Kafka's `ConfigDef.Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ConfigType {
    /// true/false.
    Boolean,
    /// Free text.
    String,
    /// 32-bit integer.
    Int,
    /// 16-bit integer.
    Short,
    /// 64-bit integer.
    Long,
    /// Floating point.
    Double,
    /// Comma-separated list.
    List,
    /// A Java class name (or Velocity plugin alias).
    Class,
    /// A secret: never shown in REST responses or logs.
    Password,
}

/// How much a key matters, as Kafka's `ConfigDef.Importance`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Importance {
    /// Must usually be set.
    High,
    /// Often tuned.
    Medium,
    /// Rarely changed.
    Low,
}

/// One documented configuration key.
#[derive(Debug, Clone)]
pub struct ConfigKey {
    /// Dotted key, spelled as Kafka Connect or Debezium spell it.
    pub name: &'static str,
    /// Value type; checked by [`ConfigDef::validate`].
    pub type_: ConfigType,
    /// Default as the string Kafka Connect would show; None means required.
    pub default: Option<&'static str>,
    /// Allowed values (case-insensitive), empty for any.
    pub allowed: &'static [&'static str],
    /// Importance.
    pub importance: Importance,
    /// What the key does.
    pub documentation: &'static str,
    /// Display group.
    pub group: Option<&'static str>,
    /// Smallest allowed value of a numeric key.
    pub min: Option<i64>,
    /// Largest allowed value of a numeric key.
    pub max: Option<i64>,
    /// A further rule on the (trimmed, non-empty) value: `Err(rule)` names
    /// what is wrong and how to fix it, without repeating the key.
    pub validator: Option<Validator>,
}

/// A rule on one value beyond its type, allowed values and range.
pub type Validator = fn(&str) -> std::result::Result<(), String>;

impl ConfigKey {
    /// A key of `type_` with a default (None = required) and documentation.
    pub const fn new(
        name: &'static str,
        type_: ConfigType,
        default: Option<&'static str>,
        importance: Importance,
        documentation: &'static str,
    ) -> ConfigKey {
        ConfigKey {
            name,
            type_,
            default,
            allowed: &[],
            importance,
            documentation,
            group: None,
            min: None,
            max: None,
            validator: None,
        }
    }

    /// Restricts a numeric key to `[min, max]`.
    pub const fn range(mut self, min: i64, max: i64) -> ConfigKey {
        self.min = Some(min);
        self.max = Some(max);
        self
    }

    /// Restricts a numeric key to `min` or more.
    pub const fn at_least(mut self, min: i64) -> ConfigKey {
        self.min = Some(min);
        self
    }

    /// Adds a rule on the value (see [`ConfigKey::validator`]).
    pub const fn validate_with(mut self, validator: Validator) -> ConfigKey {
        self.validator = Some(validator);
        self
    }

    /// Puts the key in a display group.
    pub const fn in_group(mut self, group: &'static str) -> ConfigKey {
        self.group = Some(group);
        self
    }

    /// Restricts the key to `allowed` values.
    pub const fn one_of(mut self, allowed: &'static [&'static str]) -> ConfigKey {
        self.allowed = allowed;
        self
    }

    /// True when the key has no default and must be given.
    pub fn required(&self) -> bool {
        self.default.is_none()
    }

    /// Checks `value` against the key's type, allowed values, range and
    /// validator; returns the first broken rule as Kafka's `ConfigDef` words
    /// it (`Invalid value … for configuration …: …`), or None when valid.
    pub fn check(&self, value: &str) -> Option<String> {
        let v = value.trim();
        let invalid = |rule: &str| {
            Some(format!(
                "Invalid value {value} for configuration {}: {rule}",
                self.name
            ))
        };
        let number = match self.type_ {
            ConfigType::Boolean if parse_bool(v).is_none() => {
                return invalid("Expected value to be either true or false")
            }
            ConfigType::Int | ConfigType::Short | ConfigType::Long => {
                let parsed = match self.type_ {
                    ConfigType::Int => v.parse::<i32>().map(i64::from).ok(),
                    ConfigType::Short => v.parse::<i16>().map(i64::from).ok(),
                    _ => v.parse::<i64>().ok(),
                };
                match parsed {
                    Some(n) => Some(n),
                    None => {
                        return invalid(&format!("Not a number of type {}", type_word(self.type_)))
                    }
                }
            }
            ConfigType::Double if v.parse::<f64>().is_err() => {
                return invalid("Not a number of type DOUBLE")
            }
            _ => None,
        };
        if let Some(n) = number {
            if let Some(min) = self.min.filter(|m| n < *m) {
                return invalid(&format!("Value must be at least {min}"));
            }
            if let Some(max) = self.max.filter(|m| n > *m) {
                return invalid(&format!("Value must be no more than {max}"));
            }
        }
        if !self.allowed.is_empty() && !self.allowed.iter().any(|a| a.eq_ignore_ascii_case(v)) {
            return invalid(&format!(
                "String must be one of: {}",
                self.allowed.join(", ")
            ));
        }
        if let Some(rule) = self.validator {
            if let Err(why) = rule(v) {
                return invalid(&why);
            }
        }
        None
    }
}

/// The [`RawConfig`] of `pairs` (tests, examples and benchmarks build
/// configurations with it).
pub fn raw_config(pairs: &[(&str, &str)]) -> RawConfig {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A comma-separated list value as its trimmed, non-empty items (Kafka's
/// `ConfigDef.Type.LIST`).
pub fn split_list(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn type_word(t: ConfigType) -> &'static str {
    match t {
        ConfigType::Short => "SHORT",
        ConfigType::Int => "INT",
        _ => "LONG",
    }
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

/// The keys a plugin understands.
#[derive(Debug, Clone, Default)]
pub struct ConfigDef {
    /// Keys in display order.
    pub keys: Vec<ConfigKey>,
}

impl ConfigDef {
    /// A definition with the given keys.
    pub fn new(keys: Vec<ConfigKey>) -> ConfigDef {
        ConfigDef { keys }
    }

    /// Appends keys (e.g. the runtime's common connector keys).
    pub fn with(mut self, keys: impl IntoIterator<Item = ConfigKey>) -> ConfigDef {
        self.keys.extend(keys);
        self
    }

    /// The key called `name`.
    pub fn key(&self, name: &str) -> Option<&ConfigKey> {
        self.keys.iter().find(|k| k.name == name)
    }

    /// Per-key errors for `config`: missing required keys and values that
    /// break their key's rule (type, allowed values, range, validator), at
    /// most one per key, exactly as a [`ConfigReader`] reports them. Keys
    /// the definition does not know are not errors.
    pub fn validate(&self, config: &RawConfig) -> Vec<(String, String)> {
        let mut reader = ConfigReader::new(config);
        for key in &self.keys {
            reader.check(key);
        }
        reader.into_errors()
    }

    /// True when `name` is a secret (declared PASSWORD, or shaped like one).
    pub fn is_secret(&self, name: &str) -> bool {
        self.key(name)
            .map(|k| k.type_ == ConfigType::Password)
            .unwrap_or(false)
            || looks_secret(name)
    }
}

/// True for keys that look like secrets by name (`*.password`, `*.secret`,
/// `*.key` with a credential word, `*.token`, `*.credentials`...). Their values
/// are shown as `[hidden]` everywhere outside the task.
pub fn looks_secret(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    let last = n.rsplit('.').next().unwrap_or(&n);
    matches!(
        last,
        "password" | "passwd" | "secret" | "token" | "credentials" | "key" | "pass"
    ) || n.ends_with("password")
        || n.ends_with("secret")
        || n.contains("secret.key")
        || n.contains("api.key")
        || n.contains("private.key")
        || n.contains("sasl.jaas.config")
        || n.ends_with("user.info")
}

/// Typed access to a [`RawConfig`]. Every error names the dotted key and the
/// rule, so the operator knows what to change.
pub trait ConfigExt {
    /// The value of `key`, trimmed; None when absent or empty.
    fn opt_str(&self, key: &str) -> Option<&str>;

    /// The value of `key`, or an error saying it is required.
    fn req_str(&self, key: &str) -> Result<&str> {
        self.opt_str(key).ok_or_else(|| {
            ConnectError::config(
                key,
                format!("Missing required configuration \"{key}\" which has no default value."),
            )
        })
    }

    /// `key` as a string, or `default`.
    fn str_or<'a>(&'a self, key: &str, default: &'a str) -> &'a str {
        self.opt_str(key).unwrap_or(default)
    }

    /// `key` as a boolean (`true`/`false`, any case), or `default`.
    fn bool_or(&self, key: &str, default: bool) -> Result<bool> {
        match self.opt_str(key) {
            None => Ok(default),
            Some(v) => parse_bool(v).ok_or_else(|| {
                ConnectError::config(
                    key,
                    format!("Expected value to be a boolean (true or false), got '{v}'"),
                )
            }),
        }
    }

    /// `key` as an integer within `[min, max]`, or `default`.
    fn int_or(&self, key: &str, default: i64, min: i64, max: i64) -> Result<i64> {
        match self.opt_str(key) {
            None => Ok(default),
            Some(v) => match v.parse::<i64>() {
                Ok(n) if n >= min && n <= max => Ok(n),
                Ok(n) => Err(ConnectError::config(
                    key,
                    format!("Value must be between {min} and {max}, got {n}"),
                )),
                Err(_) => Err(ConnectError::config(
                    key,
                    format!("Expected value to be an integer, got '{v}'"),
                )),
            },
        }
    }

    /// `key` as one of `allowed` (case-insensitive), returned lowercased, or `default`.
    fn enum_or(&self, key: &str, default: &str, allowed: &[&str]) -> Result<String> {
        let v = self.str_or(key, default).to_ascii_lowercase();
        if allowed.iter().any(|a| a.eq_ignore_ascii_case(&v)) {
            Ok(v)
        } else {
            Err(ConnectError::config(
                key,
                format!(
                    "Value '{v}' is not allowed; use one of: {}",
                    allowed.join(", ")
                ),
            ))
        }
    }

    /// `key` as a comma-separated list of trimmed, non-empty items (empty when absent).
    fn list(&self, key: &str) -> Vec<String> {
        self.opt_str(key).map(split_list).unwrap_or_default()
    }

    /// Every `prefix*` key with the prefix removed (e.g. `transforms.a.`).
    fn with_prefix(&self, prefix: &str) -> RawConfig;
}

impl ConfigExt for RawConfig {
    fn opt_str(&self, key: &str) -> Option<&str> {
        self.get(key).map(|s| s.trim()).filter(|s| !s.is_empty())
    }

    fn with_prefix(&self, prefix: &str) -> RawConfig {
        self.range(prefix.to_owned()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k[prefix.len()..].to_owned(), v.clone()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::config::raw_config as cfg;

    #[test]
    fn required_key_error_names_the_key() {
        let c = cfg(&[]);
        let e = c.req_str("database.hostname").unwrap_err().to_string();
        assert!(e.contains("database.hostname"), "{e}");
    }

    #[test]
    fn int_range_is_enforced() {
        for bad in ["0", "x"] {
            let c = cfg(&[("batch.size", bad)]);
            let e = c.int_or("batch.size", 2000, 1, 100_000).unwrap_err();
            assert!(
                matches!(&e, ConnectError::Config { key, message } if key == "batch.size" && message.contains(bad)),
                "{e:?}"
            );
        }
        assert_eq!(
            cfg(&[]).int_or("batch.size", 2000, 1, 100_000).unwrap(),
            2000
        );
    }

    #[test]
    fn def_validate_reports_missing_and_bad_values() {
        let def = ConfigDef::new(vec![
            ConfigKey::new("a", ConfigType::String, None, Importance::High, "a"),
            ConfigKey::new("b", ConfigType::Int, Some("1"), Importance::Low, "b"),
            ConfigKey::new("c", ConfigType::String, Some("x"), Importance::Low, "c")
                .one_of(&["x", "y"]),
        ]);
        let errs = def.validate(&cfg(&[("b", "nope"), ("c", "z")]));
        let keys: Vec<_> = errs.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, vec!["a", "b", "c"]);
        assert!(def
            .validate(&cfg(&[("a", "1"), ("b", "2"), ("c", "Y")]))
            .is_empty());
    }

    #[test]
    fn prefix_extraction() {
        let c = cfg(&[
            ("transforms.a.type", "X"),
            ("transforms.ab.x", "1"),
            ("transforms", "a"),
        ]);
        let p = c.with_prefix("transforms.a.");
        assert_eq!(p.len(), 1);
        assert_eq!(p["type"], "X");
    }

    #[test]
    fn secret_detection() {
        for k in [
            "database.password",
            "connection.password",
            "redis.password",
            "ssl.key.password",
            "a.secret",
            "aws.secret.key",
            "sasl.jaas.config",
        ] {
            assert!(looks_secret(k), "{k}");
        }
        for k in [
            "database.user",
            "key.converter",
            "message.key.columns",
            "topic.prefix",
        ] {
            assert!(!looks_secret(k), "{k}");
        }
    }
}
