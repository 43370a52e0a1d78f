//! Worker configuration (`worker.properties`), with Kafka Connect's keys and
//! defaults.

use std::path::PathBuf;
use std::time::Duration;

use velocity_api::config::ConfigExt;
use velocity_api::RawConfig;

use crate::error::{Result, RuntimeError};

/// The JsonConverter class name, the default converter.
pub const JSON_CONVERTER: &str = "org.apache.kafka.connect.json.JsonConverter";

/// Typed worker configuration.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// `bootstrap.servers` (default `localhost:9092`).
    pub bootstrap_servers: String,
    /// `listeners` (default `http://:8083`): where the REST API listens.
    pub listeners: String,
    /// `offset.storage.file.filename`: standalone offsets file.
    pub offset_file: Option<PathBuf>,
    /// `config.storage.file.filename` (Velocity): standalone connector configs
    /// created over REST; default `<offset file>.connectors.json`.
    pub config_file: Option<PathBuf>,
    /// `offset.flush.interval.ms` (default 60000).
    pub offset_flush_interval: Duration,
    /// `task.shutdown.graceful.timeout.ms` (default 5000).
    pub task_shutdown_timeout: Duration,
    /// `config.providers`: resolves `${file:…}`, `${directory:…}` and
    /// `${env:…}` placeholders in connector configs when tasks start.
    pub providers: crate::config_providers::ConfigProviders,
    /// The Kafka client settings (`security.protocol`, `ssl.*`, `sasl.*`,
    /// `producer.*`, `consumer.*`, `admin.*`) translated to librdkafka's,
    /// and `connector.client.config.override.policy`.
    pub kafka: crate::security::kafka::KafkaClients,
    /// Every key as given, for converters (`key.converter*`,
    /// `value.converter*`) and client overrides (`producer.*`, `consumer.*`).
    pub raw: RawConfig,
}

impl WorkerConfig {
    /// Parses the worker properties; errors name the key.
    pub fn from_raw(raw: RawConfig) -> Result<WorkerConfig> {
        // Worker properties may use the providers they configure, as in Kafka.
        let providers = crate::config_providers::ConfigProviders::from_worker(&raw)?;
        let mut raw = raw;
        for (k, v) in raw.iter_mut() {
            if !k.starts_with("config.providers") {
                *v = providers.resolve_value(k, v)?;
            }
        }
        let ms = |key: &str, default: i64| -> Result<Duration> {
            Ok(Duration::from_millis(
                raw.int_or(key, default, 0, i64::MAX)? as u64,
            ))
        };
        let offset_file = raw
            .opt_str("offset.storage.file.filename")
            .map(PathBuf::from);
        let config_file = raw
            .opt_str("config.storage.file.filename")
            .map(PathBuf::from)
            .or_else(|| {
                offset_file.as_ref().map(|p| {
                    let mut s = p.clone().into_os_string();
                    s.push(".connectors.json");
                    PathBuf::from(s)
                })
            });
        let listeners = raw.str_or("listeners", "http://:8083").to_owned();
        parse_listener("listeners", &listeners)?;
        Ok(WorkerConfig {
            bootstrap_servers: raw.str_or("bootstrap.servers", "localhost:9092").to_owned(),
            listeners,
            offset_file,
            config_file,
            offset_flush_interval: ms("offset.flush.interval.ms", 60_000)?,
            task_shutdown_timeout: ms("task.shutdown.graceful.timeout.ms", 5_000)?,
            providers,
            kafka: crate::security::kafka::KafkaClients::from_worker(&raw)?,
            raw,
        })
    }

    /// The socket address of the first listener (`http://:8083` → `0.0.0.0:8083`).
    pub fn listen_addr(&self) -> Result<std::net::SocketAddr> {
        Ok(parse_listener("listeners", &self.listeners)?.addr)
    }

    /// The first entry of `listeners`, with its scheme.
    pub fn listener(&self) -> Result<ListenerSpec> {
        parse_listener("listeners", &self.listeners)
    }

    /// Where the `/admin` endpoints are served (`admin.listeners`): unset →
    /// on the main listener; empty → nowhere (404); a list → on its first
    /// entry only.
    pub fn admin_listener(&self) -> Result<AdminListener> {
        match self.raw.get("admin.listeners").map(|v| v.trim()) {
            None => Ok(AdminListener::Main),
            Some("") => Ok(AdminListener::Disabled),
            Some(v) => Ok(AdminListener::Own(parse_listener("admin.listeners", v)?)),
        }
    }

    /// Worker keys Velocity does not know, for Kafka's "was supplied but
    /// isn't a known config" warning.
    pub fn unknown_keys(&self) -> Vec<&str> {
        self.raw
            .keys()
            .map(String::as_str)
            .filter(|k| !KNOWN_KEYS.contains(k) && !KNOWN_PREFIXES.iter().any(|p| k.starts_with(p)))
            .collect()
    }
}

/// Worker keys of Kafka Connect (standalone and distributed) and Velocity.
const KNOWN_KEYS: &[&str] = &[
    "bootstrap.servers",
    "key.converter",
    "value.converter",
    "header.converter",
    "offset.storage.file.filename",
    "config.storage.file.filename",
    "offset.flush.interval.ms",
    "offset.flush.timeout.ms",
    "task.shutdown.graceful.timeout.ms",
    "listeners",
    "admin.listeners",
    "rest.advertised.host.name",
    "rest.advertised.port",
    "rest.advertised.listener",
    "rest.extension.classes",
    "plugin.path",
    "plugin.discovery",
    "client.id",
    "group.id",
    "connector.client.config.override.policy",
    "config.providers",
    "security.protocol",
    "topic.creation.enable",
    "exactly.once.source.support",
    "scheduled.rebalance.max.delay.ms",
    "connect.protocol",
    "session.timeout.ms",
    "heartbeat.interval.ms",
    "rebalance.timeout.ms",
    "worker.sync.timeout.ms",
    "worker.unsync.backoff.ms",
    "request.timeout.ms",
    "retry.backoff.ms",
    "metadata.max.age.ms",
    "connections.max.idle.ms",
    "receive.buffer.bytes",
    "send.buffer.bytes",
    "client.dns.lookup",
    "auto.include.jmx.reporter",
    "access.control.allow.origin",
    "access.control.allow.methods",
    "response.http.headers.config",
    "java.security.auth.login.config",
];

/// Prefixes of worker keys that are known as families.
const KNOWN_PREFIXES: &[&str] = &[
    "key.converter.",
    "value.converter.",
    "header.converter.",
    "listeners.",
    "admin.listeners.",
    "config.providers.",
    "producer.",
    "consumer.",
    "admin.",
    "ssl.",
    "sasl.",
    "config.storage.",
    "offset.storage.",
    "status.storage.",
    "inter.worker.",
    "metric",
    "reconnect.backoff.",
    "velocity.",
];

/// One REST listener: `http://host:port` or `https://host:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerSpec {
    /// True for `https://`.
    pub https: bool,
    /// Where to bind.
    pub addr: std::net::SocketAddr,
}

/// Where the `/admin` endpoints live (`admin.listeners`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminListener {
    /// Unset: on the main listener.
    Main,
    /// Empty: disabled.
    Disabled,
    /// On their own listener.
    Own(ListenerSpec),
}

fn parse_listener(key: &str, list: &str) -> Result<ListenerSpec> {
    let first = list.split(',').next().unwrap_or_default().trim();
    let bad = || {
        RuntimeError::BadRequest(format!(
            "Invalid value {first} for configuration {key}: expected http://host:port or https://host:port"
        ))
    };
    let (https, hostport) = if let Some(r) = first.strip_prefix("https://") {
        (true, r)
    } else if let Some(r) = first.strip_prefix("http://") {
        (false, r)
    } else {
        return Err(bad());
    };
    let hostport = hostport.trim_end_matches('/');
    let (host, port) = hostport.rsplit_once(':').ok_or_else(bad)?;
    let host = if host.is_empty() {
        "0.0.0.0"
    } else {
        host.trim_matches(['[', ']'])
    };
    let host = if host == "localhost" {
        "127.0.0.1"
    } else {
        host
    };
    let addr = format!("{host}:{port}")
        .parse()
        .or_else(|_| format!("[{host}]:{port}").parse())
        .map_err(|_| bad())?;
    Ok(ListenerSpec { https, addr })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_kafka_connect() {
        let c = WorkerConfig::from_raw(RawConfig::new()).unwrap();
        assert_eq!(c.bootstrap_servers, "localhost:9092");
        assert_eq!(c.offset_flush_interval, Duration::from_secs(60));
        assert_eq!(c.listen_addr().unwrap().to_string(), "0.0.0.0:8083");
    }

    #[test]
    fn bad_interval_names_the_key() {
        let mut raw = RawConfig::new();
        raw.insert("offset.flush.interval.ms".into(), "soon".into());
        let e = WorkerConfig::from_raw(raw).unwrap_err().to_string();
        assert!(e.contains("offset.flush.interval.ms"), "{e}");
    }
}
