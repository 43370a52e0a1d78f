//! The converter's configuration, with Confluent's key names (the
//! `key.converter.`/`value.converter.` prefix removed), typed from the flat
//! string map; [`AvroConverterConfig::validate`] reports every bad key at once.

use std::time::Duration;

use velocity_api::config::ConfigExt;
use velocity_api::{ConfigDef, ConfigKey, ConfigType, Importance, RawConfig};

use crate::error::AvroError;
use crate::to_avro::MappingOptions;

/// `schema.registry.url`: comma-separated base URLs, tried in order (failover).
pub const SCHEMA_REGISTRY_URL: &str = "schema.registry.url";
/// `auto.register.schemas` (default true).
pub const AUTO_REGISTER_SCHEMAS: &str = "auto.register.schemas";
/// `use.latest.version` (default false).
pub const USE_LATEST_VERSION: &str = "use.latest.version";
/// `latest.compatibility.strict` (default true).
pub const LATEST_COMPATIBILITY_STRICT: &str = "latest.compatibility.strict";
/// `normalize.schemas` (default false).
pub const NORMALIZE_SCHEMAS: &str = "normalize.schemas";
/// `key.subject.name.strategy`.
pub const KEY_SUBJECT_NAME_STRATEGY: &str = "key.subject.name.strategy";
/// `value.subject.name.strategy`.
pub const VALUE_SUBJECT_NAME_STRATEGY: &str = "value.subject.name.strategy";
/// `basic.auth.credentials.source` (URL, USER_INFO).
pub const BASIC_AUTH_CREDENTIALS_SOURCE: &str = "basic.auth.credentials.source";
/// `basic.auth.user.info` (`user:password`; a secret).
pub const BASIC_AUTH_USER_INFO: &str = "basic.auth.user.info";
/// Confluent's older spelling of [`BASIC_AUTH_USER_INFO`].
pub const SCHEMA_REGISTRY_USER_INFO: &str = "schema.registry.basic.auth.user.info";
/// `max.retries` (default 3) per URL on 408/429/5xx and connection errors.
pub const MAX_RETRIES: &str = "max.retries";
/// `retries.wait.ms` (default 1000): the first backoff, doubled per retry.
pub const RETRIES_WAIT_MS: &str = "retries.wait.ms";
/// `retries.max.wait.ms` (default 20000): the backoff cap.
pub const RETRIES_MAX_WAIT_MS: &str = "retries.max.wait.ms";
/// `http.connect.timeout.ms` (default 60000).
pub const HTTP_CONNECT_TIMEOUT_MS: &str = "http.connect.timeout.ms";
/// `http.read.timeout.ms` (default 60000).
pub const HTTP_READ_TIMEOUT_MS: &str = "http.read.timeout.ms";
/// `schema.registry.ssl.truststore.type` (only PEM).
pub const SSL_TRUSTSTORE_TYPE: &str = "schema.registry.ssl.truststore.type";
/// `schema.registry.ssl.truststore.location`: a PEM file of CA certificates.
pub const SSL_TRUSTSTORE_LOCATION: &str = "schema.registry.ssl.truststore.location";
/// `schema.registry.ssl.truststore.certificates`: PEM CA certificates inline.
pub const SSL_TRUSTSTORE_CERTIFICATES: &str = "schema.registry.ssl.truststore.certificates";
/// `schema.registry.ssl.keystore.type` (only PEM).
pub const SSL_KEYSTORE_TYPE: &str = "schema.registry.ssl.keystore.type";
/// `schema.registry.ssl.keystore.location`: a PEM file with the client key and certificate chain.
pub const SSL_KEYSTORE_LOCATION: &str = "schema.registry.ssl.keystore.location";
/// `schema.registry.ssl.keystore.certificate.chain`: PEM client certificate chain inline.
pub const SSL_KEYSTORE_CERTIFICATE_CHAIN: &str = "schema.registry.ssl.keystore.certificate.chain";
/// `schema.registry.ssl.keystore.key`: PEM private key inline (a secret).
pub const SSL_KEYSTORE_KEY: &str = "schema.registry.ssl.keystore.key";
/// `connect.meta.data` (default true).
pub const CONNECT_META_DATA: &str = "connect.meta.data";
/// `enhanced.avro.schema.support` (default false).
pub const ENHANCED_AVRO_SCHEMA_SUPPORT: &str = "enhanced.avro.schema.support";
/// `schemas.cache.config` (default 1000).
pub const SCHEMAS_CACHE_CONFIG: &str = "schemas.cache.config";
/// `scrub.invalid.names` (default false).
pub const SCRUB_INVALID_NAMES: &str = "scrub.invalid.names";
/// `allow.optional.map.keys` (default false).
pub const ALLOW_OPTIONAL_MAP_KEYS: &str = "allow.optional.map.keys";
/// `avro.remove.java.properties` (default false).
pub const AVRO_REMOVE_JAVA_PROPERTIES: &str = "avro.remove.java.properties";

/// Confluent's subject name strategies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubjectNameStrategy {
    /// `<topic>-key` / `<topic>-value` (default).
    TopicName,
    /// The record's full name.
    RecordName,
    /// `<topic>-<record full name>`.
    TopicRecordName,
}

const STRATEGIES: &[(&str, SubjectNameStrategy)] = &[
    (
        "io.confluent.kafka.serializers.subject.TopicNameStrategy",
        SubjectNameStrategy::TopicName,
    ),
    (
        "io.confluent.kafka.serializers.subject.RecordNameStrategy",
        SubjectNameStrategy::RecordName,
    ),
    (
        "io.confluent.kafka.serializers.subject.TopicRecordNameStrategy",
        SubjectNameStrategy::TopicRecordName,
    ),
];

impl SubjectNameStrategy {
    fn parse(v: &str) -> Option<Self> {
        let v = v.trim();
        STRATEGIES
            .iter()
            .find(|(c, _)| *c == v || c.rsplit('.').next() == Some(v))
            .map(|(_, s)| *s)
    }

    /// The subject for `topic`, key or value side, and the record's full name
    /// (`record_name`; the Avro type name for non-records).
    pub fn subject(self, topic: &str, is_key: bool, record_name: &str) -> String {
        match self {
            SubjectNameStrategy::TopicName => {
                format!("{topic}-{}", if is_key { "key" } else { "value" })
            }
            SubjectNameStrategy::RecordName => record_name.to_owned(),
            SubjectNameStrategy::TopicRecordName => format!("{topic}-{record_name}"),
        }
    }
}

/// TLS material for the registry, PEM only.
#[derive(Debug, Clone, Default)]
pub struct SslConfig {
    /// CA certificates (PEM) to trust besides the system roots.
    pub trust_pem: Option<Vec<u8>>,
    /// Client key + certificate chain (PEM), for mutual TLS.
    pub identity_pem: Option<Vec<u8>>,
}

/// The typed converter configuration.
#[derive(Clone)]
pub struct AvroConverterConfig {
    /// Registry base URLs, without trailing slashes.
    pub urls: Vec<String>,
    /// Register new schemas (else look them up).
    pub auto_register: bool,
    /// Use the subject's latest schema instead of the record's.
    pub use_latest_version: bool,
    /// With `use_latest_version`: require the latest to be able to read the record's schema.
    pub latest_compatibility_strict: bool,
    /// Ask the registry to normalize schemas.
    pub normalize: bool,
    /// Strategy for keys.
    pub key_strategy: SubjectNameStrategy,
    /// Strategy for values.
    pub value_strategy: SubjectNameStrategy,
    /// `user:password` for basic auth (USER_INFO); never logged.
    pub user_info: Option<String>,
    /// Retries per URL.
    pub max_retries: u32,
    /// First backoff.
    pub retries_wait: Duration,
    /// Backoff cap.
    pub retries_max_wait: Duration,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// Read (whole request) timeout.
    pub read_timeout: Duration,
    /// TLS material.
    pub ssl: SslConfig,
    /// The `AvroData` mapping options.
    pub mapping: MappingOptions,
    /// Schema cache size (each direction).
    pub cache_size: usize,
    /// Drop `avro.java.string` properties before registering.
    pub remove_java_properties: bool,
}

impl std::fmt::Debug for AvroConverterConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AvroConverterConfig")
            .field("urls", &self.urls)
            .field("auto_register", &self.auto_register)
            .field("user_info", &self.user_info.as_ref().map(|_| "[hidden]"))
            .finish_non_exhaustive()
    }
}

/// The keys this converter understands, for the REST API.
pub fn config_def() -> ConfigDef {
    use ConfigType::*;
    use Importance::*;
    ConfigDef::new(vec![
        ConfigKey::new(SCHEMA_REGISTRY_URL, List, None, High, "Comma-separated list of URLs for Schema Registry instances that can be used to register or look up schemas; tried in order, failing over on connection errors and 5xx."),
        ConfigKey::new(AUTO_REGISTER_SCHEMAS, Boolean, Some("true"), Medium, "Specify if the converter should attempt to register new schemas."),
        ConfigKey::new(USE_LATEST_VERSION, Boolean, Some("false"), Low, "Use the latest version of the subject's schema instead of the record's schema (needs auto.register.schemas=false)."),
        ConfigKey::new(LATEST_COMPATIBILITY_STRICT, Boolean, Some("true"), Low, "With use.latest.version: check that the latest schema can read the record's schema."),
        ConfigKey::new(NORMALIZE_SCHEMAS, Boolean, Some("false"), Low, "Whether to normalize schemas, which generally ignores ordering when it is not significant."),
        ConfigKey::new(KEY_SUBJECT_NAME_STRATEGY, Class, Some("io.confluent.kafka.serializers.subject.TopicNameStrategy"), Medium, "How the key subject is named: TopicNameStrategy, RecordNameStrategy or TopicRecordNameStrategy (io.confluent.kafka.serializers.subject.*)."),
        ConfigKey::new(VALUE_SUBJECT_NAME_STRATEGY, Class, Some("io.confluent.kafka.serializers.subject.TopicNameStrategy"), Medium, "How the value subject is named: TopicNameStrategy, RecordNameStrategy or TopicRecordNameStrategy."),
        ConfigKey::new(BASIC_AUTH_CREDENTIALS_SOURCE, String, Some("URL"), Medium, "Where basic auth credentials come from: URL (user:password@ in the URL) or USER_INFO (basic.auth.user.info).").one_of(&["URL", "USER_INFO"]),
        ConfigKey::new(BASIC_AUTH_USER_INFO, Password, Some(""), Medium, "user:password for the registry when basic.auth.credentials.source=USER_INFO."),
        ConfigKey::new(MAX_RETRIES, Int, Some("3"), Low, "Retries per registry URL on connection errors and HTTP 408/429/500/502/503/504."),
        ConfigKey::new(RETRIES_WAIT_MS, Int, Some("1000"), Low, "First wait between retries, doubled per retry."),
        ConfigKey::new(RETRIES_MAX_WAIT_MS, Int, Some("20000"), Low, "Longest wait between retries."),
        ConfigKey::new(HTTP_CONNECT_TIMEOUT_MS, Int, Some("60000"), Low, "Registry connect timeout."),
        ConfigKey::new(HTTP_READ_TIMEOUT_MS, Int, Some("60000"), Low, "Registry request timeout."),
        ConfigKey::new(SSL_TRUSTSTORE_TYPE, String, Some("PEM"), Low, "Only PEM is supported.").one_of(&["PEM"]),
        ConfigKey::new(SSL_TRUSTSTORE_LOCATION, String, Some(""), Low, "PEM file of CA certificates to trust for https registry URLs."),
        ConfigKey::new(SSL_TRUSTSTORE_CERTIFICATES, Password, Some(""), Low, "PEM CA certificates, inline."),
        ConfigKey::new(SSL_KEYSTORE_TYPE, String, Some("PEM"), Low, "Only PEM is supported.").one_of(&["PEM"]),
        ConfigKey::new(SSL_KEYSTORE_LOCATION, String, Some(""), Low, "PEM file with the client's private key and certificate chain (mutual TLS)."),
        ConfigKey::new(SSL_KEYSTORE_CERTIFICATE_CHAIN, Password, Some(""), Low, "PEM client certificate chain, inline."),
        ConfigKey::new(SSL_KEYSTORE_KEY, Password, Some(""), Low, "PEM client private key, inline."),
        ConfigKey::new(CONNECT_META_DATA, Boolean, Some("true"), Low, "Write the connect.* properties (name, version, parameters, default, doc) into Avro schemas."),
        ConfigKey::new(ENHANCED_AVRO_SCHEMA_SUPPORT, Boolean, Some("false"), Low, "Map Connect strings with io.confluent.connect.avro.Enum parameters to Avro enums."),
        ConfigKey::new(SCHEMAS_CACHE_CONFIG, Int, Some("1000"), Low, "Size of the schema caches."),
        ConfigKey::new(SCRUB_INVALID_NAMES, Boolean, Some("false"), Low, "Replace characters Avro does not allow in names."),
        ConfigKey::new(ALLOW_OPTIONAL_MAP_KEYS, Boolean, Some("false"), Low, "Map Connect maps with optional string keys to Avro maps."),
        ConfigKey::new(AVRO_REMOVE_JAVA_PROPERTIES, Boolean, Some("false"), Low, "Remove avro.java.string properties from schemas before registering."),
    ])
}

fn read_file(key: &str, path: &str, errors: &mut Vec<(String, String)>) -> Option<Vec<u8>> {
    match std::fs::read(path) {
        Ok(b) => Some(b),
        Err(e) => {
            errors.push((
                key.to_owned(),
                format!("Invalid value {path} for configuration {key}: cannot read the file: {e}"),
            ));
            None
        }
    }
}

impl AvroConverterConfig {
    /// Every (key, message) wrong in `config`.
    pub fn validate(config: &RawConfig) -> Vec<(String, String)> {
        match Self::parse(config) {
            Ok(_) => Vec::new(),
            Err(e) => e,
        }
    }

    /// The typed config, or every (key, message) that is wrong.
    pub fn parse(config: &RawConfig) -> Result<Self, Vec<(String, String)>> {
        let mut errors = config_def().validate(config);
        let mut push = |key: &str, e: velocity_api::ConnectError| {
            errors.push((key.to_owned(), e.to_string()));
        };
        let mut bool_key = |key: &str, d: bool| match config.bool_or(key, d) {
            Ok(v) => v,
            Err(e) => {
                push(key, e);
                d
            }
        };
        let auto_register = bool_key(AUTO_REGISTER_SCHEMAS, true);
        let use_latest_version = bool_key(USE_LATEST_VERSION, false);
        let latest_compatibility_strict = bool_key(LATEST_COMPATIBILITY_STRICT, true);
        let normalize = bool_key(NORMALIZE_SCHEMAS, false);
        let connect_meta_data = bool_key(CONNECT_META_DATA, true);
        let enhanced = bool_key(ENHANCED_AVRO_SCHEMA_SUPPORT, false);
        let scrub = bool_key(SCRUB_INVALID_NAMES, false);
        let optional_keys = bool_key(ALLOW_OPTIONAL_MAP_KEYS, false);
        let remove_java_properties = bool_key(AVRO_REMOVE_JAVA_PROPERTIES, false);
        let mut int_key = |key: &str, d: i64, max: i64| match config.int_or(key, d, 0, max) {
            Ok(v) => v,
            Err(e) => {
                errors.push((key.to_owned(), e.to_string()));
                d
            }
        };
        let max_retries = int_key(MAX_RETRIES, 3, 100) as u32;
        let wait = int_key(RETRIES_WAIT_MS, 1000, i64::from(i32::MAX));
        let max_wait = int_key(RETRIES_MAX_WAIT_MS, 20000, i64::from(i32::MAX));
        let connect_timeout = int_key(HTTP_CONNECT_TIMEOUT_MS, 60000, i64::from(i32::MAX));
        let read_timeout = int_key(HTTP_READ_TIMEOUT_MS, 60000, i64::from(i32::MAX));
        let cache_size = int_key(SCHEMAS_CACHE_CONFIG, 1000, i64::from(i32::MAX)) as usize;

        let mut urls = Vec::new();
        for u in config
            .opt_str(SCHEMA_REGISTRY_URL)
            .unwrap_or_default()
            .split(',')
        {
            let u = u.trim().trim_end_matches('/');
            if u.is_empty() {
                continue;
            }
            if !(u.starts_with("http://") || u.starts_with("https://")) {
                errors.push((SCHEMA_REGISTRY_URL.into(), format!("Invalid value {u} for configuration {SCHEMA_REGISTRY_URL}: each URL must start with http:// or https://")));
            }
            urls.push(u.to_owned());
        }
        if urls.is_empty() && !errors.iter().any(|(k, _)| k == SCHEMA_REGISTRY_URL) {
            errors.push((SCHEMA_REGISTRY_URL.into(), format!("Missing required configuration \"{SCHEMA_REGISTRY_URL}\" which has no default value.")));
        }
        let mut strategy = |key: &str| {
            match config.opt_str(key) {
            None => SubjectNameStrategy::TopicName,
            Some(v) => SubjectNameStrategy::parse(v).unwrap_or_else(|| {
                errors.push((key.to_owned(), format!("Invalid value {v} for configuration {key}: Class {v} could not be found; use io.confluent.kafka.serializers.subject.TopicNameStrategy, RecordNameStrategy or TopicRecordNameStrategy")));
                SubjectNameStrategy::TopicName
            }),
        }
        };
        let key_strategy = strategy(KEY_SUBJECT_NAME_STRATEGY);
        let value_strategy = strategy(VALUE_SUBJECT_NAME_STRATEGY);

        let source = config
            .str_or(BASIC_AUTH_CREDENTIALS_SOURCE, "URL")
            .to_ascii_uppercase();
        let info = config
            .opt_str(BASIC_AUTH_USER_INFO)
            .or_else(|| config.opt_str(SCHEMA_REGISTRY_USER_INFO));
        let user_info = match source.as_str() {
            "USER_INFO" => match info {
                Some(i) if i.contains(':') => Some(i.to_owned()),
                Some(_) => {
                    errors.push((BASIC_AUTH_USER_INFO.into(), format!("Invalid value [hidden] for configuration {BASIC_AUTH_USER_INFO}: expected user:password")));
                    None
                }
                None => {
                    errors.push((BASIC_AUTH_USER_INFO.into(), format!("Missing required configuration \"{BASIC_AUTH_USER_INFO}\": {BASIC_AUTH_CREDENTIALS_SOURCE}=USER_INFO needs user:password")));
                    None
                }
            },
            _ => None,
        };

        if use_latest_version && auto_register {
            errors.push((USE_LATEST_VERSION.into(), format!("Invalid value true for configuration {USE_LATEST_VERSION}: it needs {AUTO_REGISTER_SCHEMAS}=false")));
        }

        let mut ssl = SslConfig::default();
        if let Some(p) = config.opt_str(SSL_TRUSTSTORE_LOCATION) {
            ssl.trust_pem = read_file(SSL_TRUSTSTORE_LOCATION, p, &mut errors);
        } else if let Some(pem) = config.opt_str(SSL_TRUSTSTORE_CERTIFICATES) {
            ssl.trust_pem = Some(pem.as_bytes().to_vec());
        }
        if let Some(p) = config.opt_str(SSL_KEYSTORE_LOCATION) {
            ssl.identity_pem = read_file(SSL_KEYSTORE_LOCATION, p, &mut errors);
        } else if let (Some(chain), Some(key)) = (
            config.opt_str(SSL_KEYSTORE_CERTIFICATE_CHAIN),
            config.opt_str(SSL_KEYSTORE_KEY),
        ) {
            ssl.identity_pem = Some(format!("{key}\n{chain}\n").into_bytes());
        }
        if let Some(t) = &ssl.trust_pem {
            if reqwest::Certificate::from_pem_bundle(t).is_err() {
                errors.push((SSL_TRUSTSTORE_LOCATION.into(), format!("Invalid value for configuration {SSL_TRUSTSTORE_LOCATION}: not PEM certificates")));
            }
        }
        if let Some(i) = &ssl.identity_pem {
            if reqwest::Identity::from_pem(i).is_err() {
                errors.push((SSL_KEYSTORE_LOCATION.into(), format!("Invalid value for configuration {SSL_KEYSTORE_LOCATION}: expected a PEM private key and certificate chain")));
            }
        }
        if !errors.is_empty() {
            errors.dedup();
            return Err(errors);
        }
        Ok(AvroConverterConfig {
            urls,
            auto_register,
            use_latest_version,
            latest_compatibility_strict,
            normalize,
            key_strategy,
            value_strategy,
            user_info,
            max_retries,
            retries_wait: Duration::from_millis(wait as u64),
            retries_max_wait: Duration::from_millis(max_wait as u64),
            connect_timeout: Duration::from_millis(connect_timeout as u64),
            read_timeout: Duration::from_millis(read_timeout as u64),
            ssl,
            mapping: MappingOptions {
                connect_meta_data,
                enhanced_schema_support: enhanced,
                scrub_invalid_names: scrub,
                allow_optional_map_keys: optional_keys,
            },
            cache_size,
            remove_java_properties,
        })
    }
}

/// The first error of a failed [`AvroConverterConfig::parse`], as a config error.
pub fn first_error(errors: Vec<(String, String)>) -> AvroError {
    let all = errors
        .iter()
        .map(|(_, m)| m.as_str())
        .collect::<Vec<_>>()
        .join("; ");
    let key = errors
        .into_iter()
        .next()
        .map(|(k, _)| k)
        .unwrap_or_default();
    AvroError::config(key, all)
}
