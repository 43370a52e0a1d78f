//! Typed configuration of the Redis sink, parsed from the flat connector map
//! (Debezium Server's Redis sink keys without the `debezium.sink.` prefix),
//! and the [`ConfigDef`] the REST API publishes. Every error names its
//! dotted key.

use std::fmt;

use velocity_api::config::ConfigExt;
use velocity_api::{ConfigDef, ConfigKey, ConfigType, Importance, RawConfig};

use crate::error::RedisSinkError;

/// `redis.address`: `host:port` (or `redis://host:port`, `rediss://host:port` for TLS).
pub const ADDRESS: &str = "redis.address";
/// `redis.user`: ACL user name (optional).
pub const USER: &str = "redis.user";
/// `redis.password` (a secret: never logged or shown).
pub const PASSWORD: &str = "redis.password";
/// `redis.db`: logical database number (default 0).
pub const DB: &str = "redis.db";
/// `redis.ssl.enabled`: connect with TLS (default false).
pub const SSL_ENABLED: &str = "redis.ssl.enabled";
/// `redis.key.template`: the Redis key of a record (default `${topic}:${key}`).
pub const KEY_TEMPLATE: &str = "redis.key.template";
/// `redis.value.format`: `json` (a string, default) or `hash` (one field per column).
pub const VALUE_FORMAT: &str = "redis.value.format";
/// `redis.mode`: `kv` (default) or `stream` (XADD per record).
pub const MODE: &str = "redis.mode";
/// `redis.batch.size`: most commands in one pipelined `MULTI`/`EXEC` (default 500).
pub const BATCH_SIZE: &str = "redis.batch.size";
/// `redis.pipeline.enabled`: send each batch as one pipeline (default true);
/// false sends one command per round trip (for comparison only).
pub const PIPELINE_ENABLED: &str = "redis.pipeline.enabled";
/// `redis.null.key`: stream field name of a record without key (default `default`).
pub const NULL_KEY: &str = "redis.null.key";
/// `redis.null.value`: stream entry value of a tombstone (default `default`).
pub const NULL_VALUE: &str = "redis.null.value";

/// How values are stored (`redis.value.format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueFormat {
    /// `SET key <row as compact JSON>`.
    Json,
    /// `DEL key` + `HSET key col value …` (nulls omitted).
    Hash,
}

/// Where records go (`redis.mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// One key per record key; deletes and tombstones `DEL` it.
    KeyValue,
    /// `XADD <topic> * <key> <value>` per record (Debezium Server's Redis sink).
    Stream,
}

/// A secret string whose `Debug` never shows the value.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The secret itself; only for handing to the driver.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[hidden]")
    }
}

/// Configuration of the Redis sink and its task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisSinkConfig {
    /// Host name.
    pub host: String,
    /// Port (default 6379).
    pub port: u16,
    /// `redis.user`.
    pub user: Option<String>,
    /// `redis.password`.
    pub password: Option<Secret>,
    /// `redis.db`.
    pub db: i64,
    /// TLS (`redis.ssl.enabled` or a `rediss://` address).
    pub tls: bool,
    /// `redis.key.template`.
    pub key_template: String,
    /// `redis.value.format`.
    pub value_format: ValueFormat,
    /// `redis.mode`.
    pub mode: Mode,
    /// `redis.batch.size`.
    pub batch_size: usize,
    /// `redis.pipeline.enabled`.
    pub pipeline: bool,
    /// `redis.null.key`.
    pub null_key: String,
    /// `redis.null.value`.
    pub null_value: String,
}

fn config_err(key: &'static str, message: impl Into<String>) -> RedisSinkError {
    RedisSinkError::Config {
        key,
        message: message.into(),
    }
}

/// Re-keys a [`ConfigExt`] error under its static key name.
fn typed<T>(key: &'static str, r: velocity_api::Result<T>) -> Result<T, RedisSinkError> {
    r.map_err(|e| match e {
        velocity_api::ConnectError::Config { message, .. } => config_err(key, message),
        other => config_err(key, other.to_string()),
    })
}

impl RedisSinkConfig {
    /// The `address` `host:port` form (for messages).
    pub fn address(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// Parses and checks the keys; the error names the first bad key.
    pub fn from_raw(c: &RawConfig) -> Result<RedisSinkConfig, RedisSinkError> {
        let raw_addr = c.opt_str(ADDRESS).map(str::trim).unwrap_or_default();
        if raw_addr.is_empty() {
            return Err(config_err(
                ADDRESS,
                "Missing required configuration \"redis.address\" which has no default value; set host:port",
            ));
        }
        let (scheme_tls, hostport) = if let Some(r) = raw_addr.strip_prefix("rediss://") {
            (true, r)
        } else if let Some(r) = raw_addr.strip_prefix("redis://") {
            (false, r)
        } else if raw_addr.contains("://") {
            return Err(config_err(
                ADDRESS,
                format!("'{raw_addr}' must be host:port, redis://host:port or rediss://host:port"),
            ));
        } else {
            (false, raw_addr)
        };
        let hostport = hostport.trim_end_matches('/');
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) => {
                let port: u16 = p.parse().map_err(|_| {
                    config_err(
                        ADDRESS,
                        format!("port '{p}' of '{raw_addr}' is not a number 1-65535"),
                    )
                })?;
                (h.trim_matches(['[', ']']).to_owned(), port)
            }
            None => (hostport.to_owned(), 6379),
        };
        if host.is_empty() || host.contains('@') || host.contains('/') {
            return Err(config_err(
                ADDRESS,
                format!("'{raw_addr}' must be host:port (put credentials in redis.user / redis.password)"),
            ));
        }
        let key_template = c.str_or(KEY_TEMPLATE, "${topic}:${key}").to_owned();
        check_template(&key_template)?;
        let value_format = match typed(
            VALUE_FORMAT,
            c.enum_or(VALUE_FORMAT, "json", &["json", "hash"]),
        )?
        .as_str()
        {
            "hash" => ValueFormat::Hash,
            _ => ValueFormat::Json,
        };
        let mode = match typed(MODE, c.enum_or(MODE, "kv", &["kv", "stream"]))?.as_str() {
            "stream" => Mode::Stream,
            _ => Mode::KeyValue,
        };
        if mode == Mode::Stream && value_format == ValueFormat::Hash {
            return Err(config_err(
                VALUE_FORMAT,
                "redis.value.format=hash applies to redis.mode=kv only; stream entries hold the JSON value",
            ));
        }
        Ok(RedisSinkConfig {
            host,
            port,
            user: c.opt_str(USER).filter(|s| !s.is_empty()).map(str::to_owned),
            password: c
                .opt_str(PASSWORD)
                .filter(|s| !s.is_empty())
                .map(|s| Secret(s.to_owned())),
            db: typed(DB, c.int_or(DB, 0, 0, 1_000_000))?,
            tls: scheme_tls || typed(SSL_ENABLED, c.bool_or(SSL_ENABLED, false))?,
            key_template,
            value_format,
            mode,
            batch_size: typed(BATCH_SIZE, c.int_or(BATCH_SIZE, 500, 1, 1_000_000))? as usize,
            pipeline: typed(PIPELINE_ENABLED, c.bool_or(PIPELINE_ENABLED, true))?,
            null_key: c.str_or(NULL_KEY, "default").to_owned(),
            null_value: c.str_or(NULL_VALUE, "default").to_owned(),
        })
    }

    /// Validation errors as `(key, message)` pairs (empty when valid).
    pub fn validate(c: &RawConfig) -> Vec<(String, String)> {
        match RedisSinkConfig::from_raw(c) {
            Ok(_) => Vec::new(),
            Err(e) => {
                let key = match &e {
                    RedisSinkError::Config { key, .. } => (*key).to_owned(),
                    _ => ADDRESS.to_owned(),
                };
                vec![(key, e.to_string())]
            }
        }
    }
}

/// Checks that every `${…}` placeholder of a key template is known:
/// `${topic}`, `${key}` or `${key.<field>}`.
fn check_template(t: &str) -> Result<(), RedisSinkError> {
    let mut rest = t;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| config_err(KEY_TEMPLATE, format!("unclosed '${{' in '{t}'")))?;
        let name = &after[..end];
        let known = name == "topic"
            || name == "key"
            || name.strip_prefix("key.").is_some_and(|f| !f.is_empty());
        if !known {
            return Err(config_err(
                KEY_TEMPLATE,
                format!("unknown placeholder '${{{name}}}' in '{t}'; use ${{topic}}, ${{key}} or ${{key.<field>}}"),
            ));
        }
        rest = &after[end + 1..];
    }
    Ok(())
}

/// The configuration keys, for the REST API's validation and plugin listing.
pub fn config_def() -> ConfigDef {
    use ConfigType as T;
    use Importance as I;
    ConfigDef::new(vec![
        ConfigKey::new(ADDRESS, T::String, None, I::High, "Redis address: host:port, redis://host:port or rediss://host:port (TLS)."),
        ConfigKey::new(USER, T::String, Some(""), I::Medium, "ACL user name (optional)."),
        ConfigKey::new(PASSWORD, T::Password, Some(""), I::High, "Password (optional)."),
        ConfigKey::new(DB, T::Int, Some("0"), I::Medium, "Logical database number."),
        ConfigKey::new(SSL_ENABLED, T::Boolean, Some("false"), I::Medium, "Connect with TLS (rustls, system root certificates)."),
        ConfigKey::new(KEY_TEMPLATE, T::String, Some("${topic}:${key}"), I::High, "Redis key of a record: ${topic}, ${key} (the record key as compact JSON, or the plain string/number) and ${key.<field>} (one key field as text)."),
        ConfigKey::new(VALUE_FORMAT, T::String, Some("json"), I::Medium, "json: SET the row as a JSON string; hash: the row as a hash of fields (nulls omitted).").one_of(&["json", "hash"]),
        ConfigKey::new(MODE, T::String, Some("kv"), I::High, "kv: one key per record key, deletes and tombstones DEL it; stream: XADD every record to a stream named after the topic.").one_of(&["kv", "stream"]),
        ConfigKey::new(BATCH_SIZE, T::Int, Some("500"), I::Medium, "Most commands sent in one pipelined MULTI/EXEC transaction."),
        ConfigKey::new(PIPELINE_ENABLED, T::Boolean, Some("true"), I::Low, "Send each batch as one pipeline; false sends one command per round trip (for comparison only)."),
        ConfigKey::new(NULL_KEY, T::String, Some("default"), I::Low, "Stream mode: field name used for records without a key."),
        ConfigKey::new(NULL_VALUE, T::String, Some("default"), I::Low, "Stream mode: entry value used for tombstones."),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(pairs: &[(&str, &str)]) -> RawConfig {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn bad_key(pairs: &[(&str, &str)]) -> String {
        RedisSinkConfig::validate(&cfg(pairs))
            .first()
            .map(|e| e.0.clone())
            .unwrap_or_default()
    }

    #[test]
    fn defaults() {
        let c = RedisSinkConfig::from_raw(&cfg(&[(ADDRESS, "localhost:6380")])).unwrap();
        assert_eq!(
            (c.host.as_str(), c.port, c.db, c.tls),
            ("localhost", 6380, 0, false)
        );
        assert_eq!(c.key_template, "${topic}:${key}");
        assert_eq!(
            (c.value_format, c.mode),
            (ValueFormat::Json, Mode::KeyValue)
        );
        assert_eq!((c.batch_size, c.pipeline), (500, true));
        assert!(c.password.is_none() && c.user.is_none());
    }

    #[test]
    fn tls_from_scheme_or_key_and_password_hidden() {
        let c = RedisSinkConfig::from_raw(&cfg(&[(ADDRESS, "rediss://cache:7000")])).unwrap();
        assert!(c.tls && c.port == 7000);
        let c = RedisSinkConfig::from_raw(&cfg(&[
            (ADDRESS, "cache"),
            (SSL_ENABLED, "true"),
            (PASSWORD, "s3cret-pw"),
        ]))
        .unwrap();
        assert!(c.tls && c.port == 6379);
        assert_eq!(c.password.as_ref().unwrap().expose(), "s3cret-pw");
        assert!(!format!("{c:?}").contains("s3cret-pw"));
        assert!(config_def().is_secret(PASSWORD));
    }

    #[test]
    fn errors_name_the_key() {
        assert_eq!(bad_key(&[]), ADDRESS);
        assert_eq!(bad_key(&[(ADDRESS, "h:notaport")]), ADDRESS);
        assert_eq!(bad_key(&[(ADDRESS, "http://h:1")]), ADDRESS);
        assert_eq!(bad_key(&[(ADDRESS, "user:pw@h:1")]), ADDRESS);
        assert_eq!(bad_key(&[(ADDRESS, "h:1"), (MODE, "list")]), MODE);
        assert_eq!(
            bad_key(&[(ADDRESS, "h:1"), (VALUE_FORMAT, "xml")]),
            VALUE_FORMAT
        );
        assert_eq!(bad_key(&[(ADDRESS, "h:1"), (DB, "-1")]), DB);
        assert_eq!(bad_key(&[(ADDRESS, "h:1"), (BATCH_SIZE, "0")]), BATCH_SIZE);
        assert_eq!(
            bad_key(&[(ADDRESS, "h:1"), (KEY_TEMPLATE, "${value.id}")]),
            KEY_TEMPLATE
        );
        assert_eq!(
            bad_key(&[(ADDRESS, "h:1"), (KEY_TEMPLATE, "${topic")]),
            KEY_TEMPLATE
        );
        assert_eq!(
            bad_key(&[(ADDRESS, "h:1"), (MODE, "stream"), (VALUE_FORMAT, "hash")]),
            VALUE_FORMAT
        );
        assert!(bad_key(&[(ADDRESS, "h:1"), (KEY_TEMPLATE, "t:${key.id}:${topic}")]).is_empty());
    }
}
