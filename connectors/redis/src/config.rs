//! Typed configuration of the Redis sink, parsed from the flat connector map
//! (Debezium Server's Redis sink keys without the `debezium.sink.` prefix),
//! and the [`ConfigDef`] the REST API publishes. Every error names its
//! dotted key.

use std::fmt;

use velocity_api::config::{ConfigReader, TypedConfig};
use velocity_api::{config_choice, ConfigKey};

pub use keys::*;

/// The sink's keys, each declared once (name, type, default, rule, docs).
pub mod keys {
    use super::{check_template, Mode, ValueFormat};
    use velocity_api::config::{ConfigKey, ConfigType::*, Importance::*};

    velocity_api::config_keys! {
        /// `redis.address`: `host:port` (or `redis://host:port`, `rediss://host:port` for TLS).
        ADDRESS = ConfigKey::new("redis.address", String, None, High, "Redis address: host:port, redis://host:port or rediss://host:port (TLS).");
        /// `redis.user`: ACL user name (optional).
        USER = ConfigKey::new("redis.user", String, Some(""), Medium, "ACL user name (optional).");
        /// `redis.password` (a secret: never logged or shown).
        PASSWORD = ConfigKey::new("redis.password", Password, Some(""), High, "Password (optional).");
        /// `redis.db`: logical database number (default 0).
        DB = ConfigKey::new("redis.db", Int, Some("0"), Medium, "Logical database number.").range(0, 1_000_000);
        /// `redis.ssl.enabled`: connect with TLS (default false).
        SSL_ENABLED = ConfigKey::new("redis.ssl.enabled", Boolean, Some("false"), Medium, "Connect with TLS (rustls, system root certificates).");
        /// `redis.key.template`: the Redis key of a record (default `${topic}:${key}`).
        KEY_TEMPLATE = ConfigKey::new("redis.key.template", String, Some("${topic}:${key}"), High, "Redis key of a record: ${topic}, ${key} (the record key as compact JSON, or the plain string/number) and ${key.<field>} (one key field as text).").validate_with(check_template);
        /// `redis.value.format`: `json` (a string, default) or `hash` (one field per column).
        VALUE_FORMAT = ConfigKey::new("redis.value.format", String, Some("json"), Medium, "json: SET the row as a JSON string; hash: the row as a hash of fields (nulls omitted).").one_of(ValueFormat::NAMES);
        /// `redis.mode`: `kv` (default) or `stream` (XADD per record).
        MODE = ConfigKey::new("redis.mode", String, Some("kv"), High, "kv: one key per record key, deletes and tombstones DEL it; stream: XADD every record to a stream named after the topic.").one_of(Mode::NAMES);
        /// `redis.batch.size`: most commands in one pipelined `MULTI`/`EXEC` (default 500).
        BATCH_SIZE = ConfigKey::new("redis.batch.size", Int, Some("500"), Medium, "Most commands sent in one pipelined MULTI/EXEC transaction.").range(1, 1_000_000);
        /// `redis.pipeline.enabled`: send each batch as one pipeline (default true);
        /// false sends one command per round trip (for comparison only).
        PIPELINE_ENABLED = ConfigKey::new("redis.pipeline.enabled", Boolean, Some("true"), Low, "Send each batch as one pipeline; false sends one command per round trip (for comparison only).");
        /// `redis.null.key`: stream field name of a record without key (default `default`).
        NULL_KEY = ConfigKey::new("redis.null.key", String, Some("default"), Low, "Stream mode: field name used for records without a key.");
        /// `redis.null.value`: stream entry value of a tombstone (default `default`).
        NULL_VALUE = ConfigKey::new("redis.null.value", String, Some("default"), Low, "Stream mode: entry value used for tombstones.");
    }
}

config_choice! {
    /// How values are stored (`redis.value.format`).
    pub enum ValueFormat {
        /// `SET key <row as compact JSON>`.
        Json = "json",
        /// `DEL key` + `HSET key col value …` (nulls omitted).
        Hash = "hash",
    }
}

config_choice! {
    /// Where records go (`redis.mode`).
    pub enum Mode {
        /// One key per record key; deletes and tombstones `DEL` it.
        KeyValue = "kv",
        /// `XADD <topic> * <key> <value>` per record (Debezium Server's Redis sink).
        Stream = "stream",
    }
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

impl RedisSinkConfig {
    /// The `address` `host:port` form (for messages).
    pub fn address(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

impl TypedConfig for RedisSinkConfig {
    const KEYS: &'static [ConfigKey] = KEYS;

    fn read(r: &mut ConfigReader<'_>) -> RedisSinkConfig {
        let raw_addr = r.string(&ADDRESS);
        let (scheme_tls, host, port) = split_address(&raw_addr).unwrap_or_else(|rule| {
            r.fail(ADDRESS.name, rule);
            (false, String::new(), 6379)
        });
        let value_format = r.choice(&VALUE_FORMAT);
        let mode = r.choice(&MODE);
        if mode == Mode::Stream && value_format == ValueFormat::Hash {
            r.fail(
                VALUE_FORMAT.name,
                "redis.value.format=hash applies to redis.mode=kv only; stream entries hold the JSON value",
            );
        }
        RedisSinkConfig {
            host,
            port,
            user: r.opt_string(&USER),
            password: r.opt_string(&PASSWORD).map(Secret),
            db: r.int(&DB),
            tls: r.bool(&SSL_ENABLED) || scheme_tls,
            key_template: r.string(&KEY_TEMPLATE),
            value_format,
            mode,
            batch_size: r.int(&BATCH_SIZE),
            pipeline: r.bool(&PIPELINE_ENABLED),
            null_key: r.string(&NULL_KEY),
            null_value: r.string(&NULL_VALUE),
        }
    }
}

/// `(tls, host, port)` of a `redis.address` value (empty when the key is
/// missing: that error is recorded by the reader).
fn split_address(raw_addr: &str) -> Result<(bool, String, u16), String> {
    if raw_addr.is_empty() {
        return Ok((false, String::new(), 6379));
    }
    let (scheme_tls, hostport) = if let Some(r) = raw_addr.strip_prefix("rediss://") {
        (true, r)
    } else if let Some(r) = raw_addr.strip_prefix("redis://") {
        (false, r)
    } else if raw_addr.contains("://") {
        return Err(format!(
            "'{raw_addr}' must be host:port, redis://host:port or rediss://host:port"
        ));
    } else {
        (false, raw_addr)
    };
    let hostport = hostport.trim_end_matches('/');
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) => {
            let port: u16 = p
                .parse()
                .map_err(|_| format!("port '{p}' of '{raw_addr}' is not a number 1-65535"))?;
            (h.trim_matches(['[', ']']).to_owned(), port)
        }
        None => (hostport.to_owned(), 6379),
    };
    if host.is_empty() || host.contains('@') || host.contains('/') {
        return Err(format!(
            "'{raw_addr}' must be host:port (put credentials in redis.user / redis.password)"
        ));
    }
    Ok((scheme_tls, host, port))
}

/// Checks that every `${…}` placeholder of a key template is known:
/// `${topic}`, `${key}` or `${key.<field>}`.
fn check_template(t: &str) -> Result<(), String> {
    let mut rest = t;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| format!("unclosed '${{' in '{t}'"))?;
        let name = &after[..end];
        let known = name == "topic"
            || name == "key"
            || name.strip_prefix("key.").is_some_and(|f| !f.is_empty());
        if !known {
            return Err(format!(
                "unknown placeholder '${{{name}}}' in '{t}'; use ${{topic}}, ${{key}} or ${{key.<field>}}"
            ));
        }
        rest = &after[end + 1..];
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use velocity_api::RawConfig;

    fn cfg(pairs: &[(ConfigKey, &str)]) -> RawConfig {
        pairs
            .iter()
            .map(|(k, v)| (k.name.to_string(), v.to_string()))
            .collect()
    }

    fn bad_key(pairs: &[(ConfigKey, &str)]) -> &'static str {
        RedisSinkConfig::validate(&cfg(pairs))
            .first()
            .map(|e| KEYS.iter().find(|k| k.name == e.0).unwrap().name)
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
        assert!(RedisSinkConfig::config_def().is_secret(PASSWORD.name));
    }

    #[test]
    fn errors_name_the_key() {
        assert_eq!(bad_key(&[]), ADDRESS.name);
        assert_eq!(bad_key(&[(ADDRESS, "h:notaport")]), ADDRESS.name);
        assert_eq!(bad_key(&[(ADDRESS, "http://h:1")]), ADDRESS.name);
        assert_eq!(bad_key(&[(ADDRESS, "user:pw@h:1")]), ADDRESS.name);
        assert_eq!(bad_key(&[(ADDRESS, "h:1"), (MODE, "list")]), MODE.name);
        assert_eq!(
            bad_key(&[(ADDRESS, "h:1"), (VALUE_FORMAT, "xml")]),
            VALUE_FORMAT.name
        );
        assert_eq!(bad_key(&[(ADDRESS, "h:1"), (DB, "-1")]), DB.name);
        assert_eq!(
            bad_key(&[(ADDRESS, "h:1"), (BATCH_SIZE, "0")]),
            BATCH_SIZE.name
        );
        assert_eq!(
            bad_key(&[(ADDRESS, "h:1"), (KEY_TEMPLATE, "${value.id}")]),
            KEY_TEMPLATE.name
        );
        assert_eq!(
            bad_key(&[(ADDRESS, "h:1"), (KEY_TEMPLATE, "${topic")]),
            KEY_TEMPLATE.name
        );
        assert_eq!(
            bad_key(&[(ADDRESS, "h:1"), (MODE, "stream"), (VALUE_FORMAT, "hash")]),
            VALUE_FORMAT.name
        );
        assert!(bad_key(&[(ADDRESS, "h:1"), (KEY_TEMPLATE, "t:${key.id}:${topic}")]).is_empty());
    }
}
