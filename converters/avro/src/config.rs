//! The converter's configuration, with Confluent's key names (the
//! `key.converter.`/`value.converter.` prefix removed), typed from the flat
//! string map through the keys declared once below; [`TypedConfig::validate`]
//! reports every bad key at once, one rule per key.

use std::time::Duration;

use velocity_api::config::{ConfigKey, ConfigReader, TypedConfig};
use velocity_api::ConfigDef;

use crate::to_avro::MappingOptions;

pub use keys::*;

/// The converter's keys, declared once (Confluent's names and defaults).
pub mod keys {
    use super::{check_strategy, CredentialsSource};
    use velocity_api::config::{ConfigKey, ConfigType::*, Importance::*};

    velocity_api::config_keys! {
        /// `schema.registry.url`: comma-separated base URLs, tried in order (failover).
        SCHEMA_REGISTRY_URL = ConfigKey::new("schema.registry.url", List, None, High, "Comma-separated list of URLs for Schema Registry instances that can be used to register or look up schemas; tried in order, failing over on connection errors and 5xx.");
        /// `auto.register.schemas` (default true).
        AUTO_REGISTER_SCHEMAS = ConfigKey::new("auto.register.schemas", Boolean, Some("true"), Medium, "Specify if the converter should attempt to register new schemas.");
        /// `use.latest.version` (default false).
        USE_LATEST_VERSION = ConfigKey::new("use.latest.version", Boolean, Some("false"), Low, "Use the latest version of the subject's schema instead of the record's schema (needs auto.register.schemas=false).");
        /// `latest.compatibility.strict` (default true).
        LATEST_COMPATIBILITY_STRICT = ConfigKey::new("latest.compatibility.strict", Boolean, Some("true"), Low, "With use.latest.version: check that the latest schema can read the record's schema.");
        /// `normalize.schemas` (default false).
        NORMALIZE_SCHEMAS = ConfigKey::new("normalize.schemas", Boolean, Some("false"), Low, "Whether to normalize schemas, which generally ignores ordering when it is not significant.");
        /// `key.subject.name.strategy`.
        KEY_SUBJECT_NAME_STRATEGY = ConfigKey::new("key.subject.name.strategy", Class, Some("io.confluent.kafka.serializers.subject.TopicNameStrategy"), Medium, "How the key subject is named: TopicNameStrategy, RecordNameStrategy or TopicRecordNameStrategy (io.confluent.kafka.serializers.subject.*).").validate_with(check_strategy);
        /// `value.subject.name.strategy`.
        VALUE_SUBJECT_NAME_STRATEGY = ConfigKey::new("value.subject.name.strategy", Class, Some("io.confluent.kafka.serializers.subject.TopicNameStrategy"), Medium, "How the value subject is named: TopicNameStrategy, RecordNameStrategy or TopicRecordNameStrategy.").validate_with(check_strategy);
        /// `basic.auth.credentials.source` (URL, USER_INFO).
        BASIC_AUTH_CREDENTIALS_SOURCE = ConfigKey::new("basic.auth.credentials.source", String, Some("URL"), Medium, "Where basic auth credentials come from: URL (user:password@ in the URL) or USER_INFO (basic.auth.user.info).").one_of(CredentialsSource::NAMES);
        /// `basic.auth.user.info` (`user:password`; a secret).
        BASIC_AUTH_USER_INFO = ConfigKey::new("basic.auth.user.info", Password, Some(""), Medium, "user:password for the registry when basic.auth.credentials.source=USER_INFO.");
        /// `max.retries` (default 3) per URL on 408/429/5xx and connection errors.
        MAX_RETRIES = ConfigKey::new("max.retries", Int, Some("3"), Low, "Retries per registry URL on connection errors and HTTP 408/429/500/502/503/504.").range(0, 100);
        /// `retries.wait.ms` (default 1000): the first backoff, doubled per retry.
        RETRIES_WAIT_MS = ConfigKey::new("retries.wait.ms", Int, Some("1000"), Low, "First wait between retries, doubled per retry.").at_least(0);
        /// `retries.max.wait.ms` (default 20000): the backoff cap.
        RETRIES_MAX_WAIT_MS = ConfigKey::new("retries.max.wait.ms", Int, Some("20000"), Low, "Longest wait between retries.").at_least(0);
        /// `http.connect.timeout.ms` (default 60000).
        HTTP_CONNECT_TIMEOUT_MS = ConfigKey::new("http.connect.timeout.ms", Int, Some("60000"), Low, "Registry connect timeout.").at_least(0);
        /// `http.read.timeout.ms` (default 60000).
        HTTP_READ_TIMEOUT_MS = ConfigKey::new("http.read.timeout.ms", Int, Some("60000"), Low, "Registry request timeout.").at_least(0);
        /// `schema.registry.ssl.truststore.type` (only PEM).
        SSL_TRUSTSTORE_TYPE = ConfigKey::new("schema.registry.ssl.truststore.type", String, Some("PEM"), Low, "Only PEM is supported.").one_of(&["PEM"]);
        /// `schema.registry.ssl.truststore.location`: a PEM file of CA certificates.
        SSL_TRUSTSTORE_LOCATION = ConfigKey::new("schema.registry.ssl.truststore.location", String, Some(""), Low, "PEM file of CA certificates to trust for https registry URLs.");
        /// `schema.registry.ssl.truststore.certificates`: PEM CA certificates inline.
        SSL_TRUSTSTORE_CERTIFICATES = ConfigKey::new("schema.registry.ssl.truststore.certificates", Password, Some(""), Low, "PEM CA certificates, inline.");
        /// `schema.registry.ssl.keystore.type` (only PEM).
        SSL_KEYSTORE_TYPE = ConfigKey::new("schema.registry.ssl.keystore.type", String, Some("PEM"), Low, "Only PEM is supported.").one_of(&["PEM"]);
        /// `schema.registry.ssl.keystore.location`: a PEM file with the client key and certificate chain.
        SSL_KEYSTORE_LOCATION = ConfigKey::new("schema.registry.ssl.keystore.location", String, Some(""), Low, "PEM file with the client's private key and certificate chain (mutual TLS).");
        /// `schema.registry.ssl.keystore.certificate.chain`: PEM client certificate chain inline.
        SSL_KEYSTORE_CERTIFICATE_CHAIN = ConfigKey::new("schema.registry.ssl.keystore.certificate.chain", Password, Some(""), Low, "PEM client certificate chain, inline.");
        /// `schema.registry.ssl.keystore.key`: PEM private key inline (a secret).
        SSL_KEYSTORE_KEY = ConfigKey::new("schema.registry.ssl.keystore.key", Password, Some(""), Low, "PEM client private key, inline.");
        /// `connect.meta.data` (default true).
        CONNECT_META_DATA = ConfigKey::new("connect.meta.data", Boolean, Some("true"), Low, "Write the connect.* properties (name, version, parameters, default, doc) into Avro schemas.");
        /// `enhanced.avro.schema.support` (default false).
        ENHANCED_AVRO_SCHEMA_SUPPORT = ConfigKey::new("enhanced.avro.schema.support", Boolean, Some("false"), Low, "Map Connect strings with io.confluent.connect.avro.Enum parameters to Avro enums.");
        /// `schemas.cache.config` (default 1000).
        SCHEMAS_CACHE_CONFIG = ConfigKey::new("schemas.cache.config", Int, Some("1000"), Low, "Size of the schema caches.").at_least(0);
        /// `scrub.invalid.names` (default false).
        SCRUB_INVALID_NAMES = ConfigKey::new("scrub.invalid.names", Boolean, Some("false"), Low, "Replace characters Avro does not allow in names.");
        /// `allow.optional.map.keys` (default false).
        ALLOW_OPTIONAL_MAP_KEYS = ConfigKey::new("allow.optional.map.keys", Boolean, Some("false"), Low, "Map Connect maps with optional string keys to Avro maps.");
        /// `avro.remove.java.properties` (default false).
        AVRO_REMOVE_JAVA_PROPERTIES = ConfigKey::new("avro.remove.java.properties", Boolean, Some("false"), Low, "Remove avro.java.string properties from schemas before registering.");
    }
}

/// Confluent's older spelling of [`BASIC_AUTH_USER_INFO`] (read when that is empty).
pub const SCHEMA_REGISTRY_USER_INFO: &str = "schema.registry.basic.auth.user.info";

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

velocity_api::config_choice! {
    /// `basic.auth.credentials.source`.
    pub enum CredentialsSource {
        /// `user:password@` in the registry URL.
        Url = "URL",
        /// `basic.auth.user.info`.
        UserInfo = "USER_INFO",
    }
}

/// The rule of the subject name strategy keys.
fn check_strategy(v: &str) -> Result<(), String> {
    match SubjectNameStrategy::parse(v) {
        Some(_) => Ok(()),
        None => Err(format!("Class {v} could not be found; use io.confluent.kafka.serializers.subject.TopicNameStrategy, RecordNameStrategy or TopicRecordNameStrategy")),
    }
}

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

fn read_file(r: &mut ConfigReader<'_>, key: &ConfigKey, path: &str) -> Option<Vec<u8>> {
    match std::fs::read(path) {
        Ok(b) => Some(b),
        Err(e) => {
            r.fail(
                key.name,
                format!(
                    "Invalid value {path} for configuration {}: cannot read the file: {e}",
                    key.name
                ),
            );
            None
        }
    }
}

/// The registry URLs of `schema.registry.url`, without trailing slashes;
/// each must be http(s).
fn read_urls(r: &mut ConfigReader<'_>) -> Vec<String> {
    let mut urls = Vec::new();
    for u in r.list(&SCHEMA_REGISTRY_URL) {
        let u = u.trim_end_matches('/');
        if !(u.starts_with("http://") || u.starts_with("https://")) {
            r.fail(
                SCHEMA_REGISTRY_URL.name,
                format!(
                    "Invalid value {u} for configuration {}: each URL must start with http:// or https://",
                    SCHEMA_REGISTRY_URL.name
                ),
            );
        }
        urls.push(u.to_owned());
    }
    urls
}

/// `user:password` when the credentials source is USER_INFO.
fn read_user_info(r: &mut ConfigReader<'_>) -> Option<String> {
    let source: CredentialsSource = r.choice(&BASIC_AUTH_CREDENTIALS_SOURCE);
    let info = r.opt_string(&BASIC_AUTH_USER_INFO).or_else(|| {
        r.raw()
            .get(SCHEMA_REGISTRY_USER_INFO)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    });
    let key = BASIC_AUTH_USER_INFO.name;
    match (source, info) {
        (CredentialsSource::Url, _) => None,
        (CredentialsSource::UserInfo, Some(i)) if i.contains(':') => Some(i),
        (CredentialsSource::UserInfo, Some(_)) => {
            r.fail(
                key,
                format!("Invalid value [hidden] for configuration {key}: expected user:password"),
            );
            None
        }
        (CredentialsSource::UserInfo, None) => {
            r.fail(
                key,
                format!(
                    "Missing required configuration \"{key}\": {}=USER_INFO needs user:password",
                    BASIC_AUTH_CREDENTIALS_SOURCE.name
                ),
            );
            None
        }
    }
}

/// The PEM trust and identity material, checked to parse.
fn read_ssl(r: &mut ConfigReader<'_>) -> SslConfig {
    let mut ssl = SslConfig::default();
    if let Some(p) = r.opt_string(&SSL_TRUSTSTORE_LOCATION) {
        ssl.trust_pem = read_file(r, &SSL_TRUSTSTORE_LOCATION, &p);
    } else if let Some(pem) = r.opt_string(&SSL_TRUSTSTORE_CERTIFICATES) {
        ssl.trust_pem = Some(pem.into_bytes());
    }
    if let Some(p) = r.opt_string(&SSL_KEYSTORE_LOCATION) {
        ssl.identity_pem = read_file(r, &SSL_KEYSTORE_LOCATION, &p);
    } else if let (Some(chain), Some(key)) = (
        r.opt_string(&SSL_KEYSTORE_CERTIFICATE_CHAIN),
        r.opt_string(&SSL_KEYSTORE_KEY),
    ) {
        ssl.identity_pem = Some(format!("{key}\n{chain}\n").into_bytes());
    }
    if let Some(t) = &ssl.trust_pem {
        if reqwest::Certificate::from_pem_bundle(t).is_err() {
            r.fail(
                SSL_TRUSTSTORE_LOCATION.name,
                format!(
                    "Invalid value for configuration {}: not PEM certificates",
                    SSL_TRUSTSTORE_LOCATION.name
                ),
            );
        }
    }
    if let Some(i) = &ssl.identity_pem {
        if reqwest::Identity::from_pem(i).is_err() {
            r.fail(
                SSL_KEYSTORE_LOCATION.name,
                format!(
                    "Invalid value for configuration {}: expected a PEM private key and certificate chain",
                    SSL_KEYSTORE_LOCATION.name
                ),
            );
        }
    }
    ssl
}

impl TypedConfig for AvroConverterConfig {
    const KEYS: &'static [ConfigKey] = KEYS;

    fn read(r: &mut ConfigReader<'_>) -> Self {
        let urls = read_urls(r);
        let auto_register = r.bool(&AUTO_REGISTER_SCHEMAS);
        let use_latest_version = r.bool(&USE_LATEST_VERSION);
        if use_latest_version && auto_register {
            r.fail(
                USE_LATEST_VERSION.name,
                format!(
                    "Invalid value true for configuration {}: it needs {}=false",
                    USE_LATEST_VERSION.name, AUTO_REGISTER_SCHEMAS.name
                ),
            );
        }
        let strategy = |r: &mut ConfigReader<'_>, key: &ConfigKey| {
            SubjectNameStrategy::parse(&r.string(key)).unwrap_or(SubjectNameStrategy::TopicName)
        };
        AvroConverterConfig {
            urls,
            auto_register,
            use_latest_version,
            latest_compatibility_strict: r.bool(&LATEST_COMPATIBILITY_STRICT),
            normalize: r.bool(&NORMALIZE_SCHEMAS),
            key_strategy: strategy(r, &KEY_SUBJECT_NAME_STRATEGY),
            value_strategy: strategy(r, &VALUE_SUBJECT_NAME_STRATEGY),
            user_info: read_user_info(r),
            max_retries: r.int(&MAX_RETRIES),
            retries_wait: r.millis(&RETRIES_WAIT_MS),
            retries_max_wait: r.millis(&RETRIES_MAX_WAIT_MS),
            connect_timeout: r.millis(&HTTP_CONNECT_TIMEOUT_MS),
            read_timeout: r.millis(&HTTP_READ_TIMEOUT_MS),
            ssl: read_ssl(r),
            mapping: MappingOptions {
                connect_meta_data: r.bool(&CONNECT_META_DATA),
                enhanced_schema_support: r.bool(&ENHANCED_AVRO_SCHEMA_SUPPORT),
                scrub_invalid_names: r.bool(&SCRUB_INVALID_NAMES),
                allow_optional_map_keys: r.bool(&ALLOW_OPTIONAL_MAP_KEYS),
            },
            cache_size: r.int(&SCHEMAS_CACHE_CONFIG),
            remove_java_properties: r.bool(&AVRO_REMOVE_JAVA_PROPERTIES),
        }
    }
}

/// The keys this converter understands, for the REST API.
pub fn config_def() -> ConfigDef {
    <AvroConverterConfig as TypedConfig>::config_def()
}
