//! Logging setup and the runtime log-level control behind `/admin/loggers`.
//!
//! Logger names are tracing targets (e.g. `velocity_runtime::worker`,
//! `velocity_connector_postgres`); `root` is the default level. Levels are
//! log4j's names (`OFF`, `FATAL`, `ERROR`, `WARN`, `INFO`, `DEBUG`, `TRACE`),
//! as Kafka Connect's API takes them. Nothing here ever logs config values.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{reload, EnvFilter, Registry};

type Handle = reload::Handle<EnvFilter, Registry>;

/// A logger's level and when it was last changed (ms since epoch).
#[derive(Debug, Clone)]
pub struct LoggerLevel {
    /// log4j level name.
    pub level: String,
    /// When the level was set over REST.
    pub last_modified: Option<u64>,
}

/// Changes log levels at runtime.
#[derive(Clone)]
pub struct LogControl {
    handle: Option<Handle>,
    levels: Arc<Mutex<BTreeMap<String, LoggerLevel>>>,
}

fn to_tracing(level: &str) -> Option<&'static str> {
    Some(match level.to_ascii_uppercase().as_str() {
        "OFF" => "off",
        "FATAL" | "ERROR" => "error",
        "WARN" => "warn",
        "INFO" => "info",
        "DEBUG" => "debug",
        "TRACE" => "trace",
        _ => return None,
    })
}

/// Kafka Connect's and Debezium's Java logger names and the Velocity tracing
/// targets that do their work, so runbooks that raise
/// `io.debezium.connector.postgresql` to DEBUG keep working.
pub const JAVA_LOGGERS: &[(&str, &[&str])] = &[
    (
        "io.debezium.connector.postgresql",
        &["velocity_connector_postgres"],
    ),
    ("io.debezium.connector.mysql", &["velocity_connector_mysql"]),
    (
        "io.debezium.connector.mariadb",
        &["velocity_connector_mysql"],
    ),
    (
        "io.debezium.connector.binlog",
        &["velocity_connector_mysql"],
    ),
    ("io.debezium.connector.jdbc", &["velocity_connector_jdbc"]),
    ("io.debezium.server.redis", &["velocity_connector_redis"]),
    ("io.debezium.transforms", &["velocity_transforms"]),
    (
        "io.debezium",
        &[
            "velocity_connector_postgres",
            "velocity_connector_mysql",
            "velocity_connector_jdbc",
            "velocity_transforms",
        ],
    ),
    (
        "org.apache.kafka.connect.file",
        &["velocity_connector_file"],
    ),
    (
        "org.apache.kafka.connect.transforms",
        &["velocity_transforms"],
    ),
    ("org.apache.kafka.connect.runtime", &["velocity_runtime"]),
    (
        "org.apache.kafka.connect.json",
        &["velocity_runtime::converters"],
    ),
    (
        "org.apache.kafka.connect.storage",
        &["velocity_runtime::converters", "velocity_runtime::offsets"],
    ),
    (
        "org.apache.kafka.connect",
        &[
            "velocity_runtime",
            "velocity_connector_file",
            "velocity_transforms",
        ],
    ),
    ("org.apache.kafka.clients", &["rdkafka", "librdkafka"]),
    (
        "org.apache.kafka",
        &["velocity_runtime", "rdkafka", "librdkafka"],
    ),
];

/// The tracing targets a logger name stands for: a Java name of
/// [`JAVA_LOGGERS`] (or a child of one, e.g.
/// `io.debezium.connector.postgresql.PostgresStreamingChangeEventSource`),
/// else the name itself with `.` as `::`.
pub fn tracing_targets(name: &str) -> Vec<String> {
    JAVA_LOGGERS
        .iter()
        .filter(|(j, _)| name == *j || name.starts_with(&format!("{j}.")))
        .max_by_key(|(j, _)| j.len())
        .map(|(_, t)| t.iter().map(|s| (*s).to_owned()).collect())
        .unwrap_or_else(|| vec![name.replace('.', "::")])
}

/// True for names that are Velocity targets or mapped Java loggers.
pub fn is_known_logger(name: &str) -> bool {
    name == "root"
        || name.starts_with("velocity")
        || name.starts_with("rdkafka")
        || JAVA_LOGGERS
            .iter()
            .any(|(j, _)| name == *j || name.starts_with(&format!("{j}.")))
}

impl LogControl {
    /// Installs the global subscriber (text to stderr) with `root` at
    /// `VELOCITY_LOG` / `RUST_LOG` or INFO. Call once per process.
    pub fn init() -> LogControl {
        let root = std::env::var("VELOCITY_LOG")
            .or_else(|_| std::env::var("RUST_LOG"))
            .unwrap_or_else(|_| "info".into());
        let filter = EnvFilter::try_new(&root).unwrap_or_else(|_| EnvFilter::new("info"));
        let (layer, handle) = reload::Layer::new(filter);
        let _ = tracing_subscriber::registry()
            .with(layer)
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stderr)
                    .with_target(true),
            )
            .try_init();
        let mut levels = BTreeMap::new();
        let root_level = root
            .split(',')
            .find(|d| !d.contains('='))
            .unwrap_or("info")
            .to_ascii_uppercase();
        levels.insert(
            "root".to_owned(),
            LoggerLevel {
                level: root_level,
                last_modified: None,
            },
        );
        LogControl {
            handle: Some(handle),
            levels: Arc::new(Mutex::new(levels)),
        }
    }

    /// A control that changes nothing (tests, embedded use).
    pub fn detached() -> LogControl {
        let mut levels = BTreeMap::new();
        levels.insert(
            "root".to_owned(),
            LoggerLevel {
                level: "INFO".into(),
                last_modified: None,
            },
        );
        LogControl {
            handle: None,
            levels: Arc::new(Mutex::new(levels)),
        }
    }

    /// Every logger with an explicit level.
    pub fn all(&self) -> BTreeMap<String, LoggerLevel> {
        self.levels.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// The level of `name`: its own, else the nearest configured parent's
    /// (by `::` or `.` prefix), else root's.
    pub fn get(&self, name: &str) -> LoggerLevel {
        let levels = self.all();
        if let Some(l) = levels.get(name) {
            return l.clone();
        }
        levels
            .iter()
            .filter(|(k, _)| {
                *k != "root"
                    && (name.starts_with(&format!("{k}::")) || name.starts_with(&format!("{k}.")))
            })
            .max_by_key(|(k, _)| k.len())
            .map(|(_, v)| v.clone())
            .or_else(|| levels.get("root").cloned())
            .unwrap_or(LoggerLevel {
                level: "INFO".into(),
                last_modified: None,
            })
    }

    /// Sets `name` (or `root`) to `level`; returns the affected logger names,
    /// or None when the level is not a log4j level.
    pub fn set(&self, name: &str, level: &str) -> Option<Vec<String>> {
        to_tracing(level)?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let mut levels = self.levels.lock().ok()?;
        levels.insert(
            name.to_owned(),
            LoggerLevel {
                level: level.to_ascii_uppercase(),
                last_modified: Some(now),
            },
        );
        let mut affected = vec![name.to_owned()];
        if name == "root" {
            affected.extend(levels.keys().filter(|k| *k != "root").cloned());
        } else {
            affected.extend(
                levels
                    .keys()
                    .filter(|k| {
                        k.starts_with(&format!("{name}::")) || k.starts_with(&format!("{name}."))
                    })
                    .cloned(),
            );
        }
        if let Some(h) = &self.handle {
            let mut directives = Vec::new();
            for (k, v) in levels.iter() {
                let t = to_tracing(&v.level).unwrap_or("info");
                if k == "root" {
                    directives.insert(0, t.to_owned());
                } else {
                    for target in tracing_targets(k) {
                        directives.push(format!("{target}={t}"));
                    }
                }
            }
            if let Ok(f) = EnvFilter::try_new(directives.join(",")) {
                let _ = h.reload(f);
            }
        }
        affected.sort();
        affected.dedup();
        Some(affected)
    }
}
