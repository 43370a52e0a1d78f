//! Shared helpers for Velocity's integration tests: they run the real
//! `velocity` binary against the real services started by
//! `scripts/services.sh up` (addresses from its `env` output).
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{ClientConfig, Message};

/// The broker address (`VELOCITY_KAFKA_BOOTSTRAP`, default 127.0.0.1:59092).
pub fn kafka_bootstrap() -> String {
    std::env::var("VELOCITY_KAFKA_BOOTSTRAP").unwrap_or_else(|_| "127.0.0.1:59092".into())
}

/// A name unique to this test run (for topics, slots, connectors).
pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}_{}_{}", std::process::id(), nanos % 1_000_000_000)
}

/// A free TCP port on loopback.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `velocity standalone` process.
pub struct Worker {
    pub child: Option<Child>,
    pub port: u16,
    pub dir: PathBuf,
    pub base: String,
    pub log: PathBuf,
    worker_props: PathBuf,
    connector_files: Vec<PathBuf>,
}

impl Worker {
    /// Writes `worker.properties` into `dir` (broker, offsets file, a free
    /// port, `extra` lines) and starts the worker with `connector_files`.
    pub fn start(dir: &Path, extra: &str, connector_files: &[PathBuf]) -> Worker {
        let port = free_port();
        let props = dir.join("worker.properties");
        let mut f = std::fs::File::create(&props).unwrap();
        writeln!(
            f,
            "bootstrap.servers={}\nlisteners=http://127.0.0.1:{port}\noffset.storage.file.filename={}\noffset.flush.interval.ms=500\n{extra}",
            kafka_bootstrap(),
            dir.join("offsets.json").display()
        )
        .unwrap();
        let mut w = Worker {
            child: None,
            port,
            dir: dir.to_path_buf(),
            base: format!("http://127.0.0.1:{port}"),
            log: dir.join("worker.log"),
            worker_props: props,
            connector_files: connector_files.to_vec(),
        };
        w.spawn();
        w
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_velocity"))
            .arg("standalone")
            .arg(&self.worker_props)
            .args(&self.connector_files)
            .env(
                "VELOCITY_LOG",
                std::env::var("VELOCITY_TEST_LOG").unwrap_or_else(|_| "info".into()),
            )
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("start velocity");
        self.child = Some(child);
        self.wait_ready();
    }

    /// Waits until `GET /` answers (30 s), else panics with the log tail.
    pub fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(status)) = c.try_wait() {
                    panic!(
                        "velocity exited early ({status}); log:\n{}",
                        self.log_text()
                    );
                }
            }
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "velocity did not open its REST port in 30 s; log:\n{}",
            self.log_text()
        );
    }

    /// The worker's log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL: no cleanup, no offset flush.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait: tasks stop cleanly and flush offsets.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(c.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
            panic!("velocity did not stop within 30 s of SIGTERM");
        }
    }

    /// Starts the same worker again (same files, same port).
    pub fn restart(&mut self) {
        self.spawn();
    }

    /// `METHOD path` with an optional raw body; returns status and JSON (Null when empty).
    pub fn call(&self, method: &str, path: &str, body: Option<&str>) -> (u16, serde_json::Value) {
        let client = reqwest::blocking::Client::new();
        let url = format!("{}{}", self.base, path);
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = client.request(m, url).timeout(Duration::from_secs(60));
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_owned());
        }
        let resp = req.send().expect("REST call");
        let status = resp.status().as_u16();
        let text = resp.text().unwrap_or_default();
        let json = if text.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text))
        };
        (status, json)
    }

    /// Polls the connector status until `pred` holds (30 s), returning it.
    pub fn wait_status(
        &self,
        name: &str,
        pred: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut last = serde_json::Value::Null;
        while Instant::now() < deadline {
            let (code, s) = self.call("GET", &format!("/connectors/{name}/status"), None);
            if code == 200 && pred(&s) {
                return s;
            }
            last = s;
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!(
            "status condition not met in 30 s; last status: {last}\nlog:\n{}",
            self.log_text()
        );
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A record read back from a topic: (key, value).
pub type Kv = (Option<Vec<u8>>, Option<Vec<u8>>);

/// Reads `topic` from the beginning until `want` records arrived or `timeout`
/// passed; returns (key, value) pairs in partition order.
pub fn consume(topic: &str, want: usize, timeout: Duration) -> Vec<Kv> {
    consume_until(topic, timeout, |r| r.len() >= want)
}

/// Reads `topic` from the beginning until `done(records so far)` holds or
/// `timeout` passed; returns everything read.
pub fn consume_until(
    topic: &str,
    timeout: Duration,
    mut done: impl FnMut(&[Kv]) -> bool,
) -> Vec<Kv> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", kafka_bootstrap())
        .set("group.id", unique("test-reader"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .set("topic.metadata.refresh.interval.ms", "500")
        .create()
        .unwrap();
    consumer.subscribe(&[topic]).unwrap();
    let mut out = Vec::new();
    let deadline = Instant::now() + timeout;
    while !done(&out) && Instant::now() < deadline {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) {
            out.push((m.key().map(<[u8]>::to_vec), m.payload().map(<[u8]>::to_vec)));
        }
    }
    out
}

/// Waits until `pred` holds (checking every 100 ms) or panics after `timeout` with `what`.
pub fn wait_until(timeout: Duration, what: &str, mut pred: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if pred() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out after {timeout:?} waiting for {what}");
}

/// An environment variable or a default.
pub fn env(k: &str, d: &str) -> String {
    std::env::var(k).unwrap_or_else(|_| d.to_owned())
}

/// Runs psql as the PostgreSQL superuser against `db` of the test server
/// (`VELOCITY_PG_*`); panics with psql's stderr on failure.
pub fn psql(db: &str, args: &[&str]) -> String {
    let out = Command::new("psql")
        .args(["-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1"])
        .arg(format!(
            "host={} port={} user={} dbname={db}",
            env("VELOCITY_PG_HOST", "127.0.0.1"),
            env("VELOCITY_PG_PORT", "55432"),
            env("VELOCITY_PG_SUPERUSER", "postgres")
        ))
        .args(args)
        .env(
            "PGPASSWORD",
            env("VELOCITY_PG_SUPERUSER_PASSWORD", "postgres"),
        )
        .output()
        .expect("psql is installed (scripts/services.sh installs it)");
    assert!(
        out.status.success(),
        "psql {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A connector JSON file for the PostgreSQL source on the test server, as
/// superuser, with a filtered publication; `extra` keys override.
pub fn pg_connector_file(
    dir: &Path,
    name: &str,
    db: &str,
    prefix: &str,
    slot: &str,
    extra: serde_json::Value,
) -> PathBuf {
    let mut config = serde_json::json!({
        "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
        "database.hostname": env("VELOCITY_PG_HOST", "127.0.0.1"),
        "database.port": env("VELOCITY_PG_PORT", "55432"),
        "database.user": env("VELOCITY_PG_SUPERUSER", "postgres"),
        "database.password": env("VELOCITY_PG_SUPERUSER_PASSWORD", "postgres"),
        "database.dbname": db, "topic.prefix": prefix,
        "slot.name": slot, "publication.name": slot, "publication.autocreate.mode": "filtered",
        "topic.creation.default.partitions": "1", "topic.creation.default.replication.factor": "1",
    });
    for (k, v) in extra.as_object().unwrap() {
        config[k] = v.clone();
    }
    let p = dir.join(format!("{name}.json"));
    std::fs::write(
        &p,
        serde_json::json!({"name": name, "config": config}).to_string(),
    )
    .unwrap();
    p
}
