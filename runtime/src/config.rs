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
    /// Every key as given, for converters (`key.converter*`,
    /// `value.converter*`) and client overrides (`producer.*`, `consumer.*`).
    pub raw: RawConfig,
}

impl WorkerConfig {
    /// Parses the worker properties; errors name the key.
    pub fn from_raw(raw: RawConfig) -> Result<WorkerConfig> {
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
        if !listeners.starts_with("http://") {
            return Err(RuntimeError::BadRequest(format!(
                "Invalid value {listeners} for configuration listeners: only http:// listeners are supported (e.g. http://:8083)"
            )));
        }
        Ok(WorkerConfig {
            bootstrap_servers: raw.str_or("bootstrap.servers", "localhost:9092").to_owned(),
            listeners,
            offset_file,
            config_file,
            offset_flush_interval: ms("offset.flush.interval.ms", 60_000)?,
            task_shutdown_timeout: ms("task.shutdown.graceful.timeout.ms", 5_000)?,
            raw,
        })
    }

    /// The socket address of the first listener (`http://:8083` → `0.0.0.0:8083`).
    pub fn listen_addr(&self) -> Result<std::net::SocketAddr> {
        let first = self.listeners.split(',').next().unwrap_or_default().trim();
        let hostport = first.trim_start_matches("http://").trim_end_matches('/');
        let (host, port) = hostport.rsplit_once(':').ok_or_else(|| {
            RuntimeError::BadRequest(format!(
                "Invalid listener {first}: expected http://host:port"
            ))
        })?;
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
        format!("{host}:{port}")
            .parse()
            .or_else(|_| format!("[{host}]:{port}").parse())
            .map_err(|_| {
                RuntimeError::BadRequest(format!(
                    "Invalid listener {first}: expected http://host:port"
                ))
            })
    }
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
