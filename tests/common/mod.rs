//! Shared helpers for Velocity's integration tests: they run the real
//! `velocity` binary against the real services started by
//! `scripts/services.sh up` (addresses from its `env` output).
#![allow(dead_code)]

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

/// A free TCP port on loopback for a process of the test to listen on.
///
/// Not one the kernel hands out (`127.0.0.1:0`): such a port lies in the
/// ephemeral range, where any outgoing connection made between picking it
/// and the worker binding it (a broker or database client of a test running
/// in parallel) may take it — CI saw `Address already in use` that way. The
/// ports come from 20000..32000, below Linux's default ephemeral range
/// (`net.ipv4.ip_local_port_range` 32768..60999), each at most once per test
/// process (a counter from a per-process start), and only one that can be
/// bound now.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    const LOW: u32 = 20_000;
    const SPAN: u32 = 12_000;
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let start = std::process::id().wrapping_mul(7_919) % SPAN;
    for _ in 0..SPAN {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = (LOW + (start + n) % SPAN) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port in {LOW}..{}", LOW + SPAN);
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
    mode: &'static str,
}

impl Worker {
    /// Writes `worker.properties` into `dir` (broker, offsets file, a free
    /// port, `extra` lines) and starts the worker with `connector_files`.
    pub fn start(dir: &Path, extra: &str, connector_files: &[PathBuf]) -> Worker {
        Worker::start_on(dir, free_port(), extra, connector_files)
    }

    /// [`Worker::start`] on a given port (for `extra` lines that name it,
    /// e.g. `listeners=https://127.0.0.1:<port>`).
    pub fn start_on(dir: &Path, port: u16, extra: &str, connector_files: &[PathBuf]) -> Worker {
        let extra = format!(
            "offset.storage.file.filename={}\n{extra}",
            dir.join("offsets.json").display()
        );
        Worker::launch(dir, port, &extra, connector_files, "standalone")
    }

    /// Writes `worker.properties` into `dir` (broker, a free port, `extra`
    /// lines: group.id and the internal topics) and starts
    /// `velocity distributed` with it.
    pub fn start_distributed(dir: &Path, extra: &str) -> Worker {
        Worker::launch(dir, free_port(), extra, &[], "distributed")
    }

    fn launch(
        dir: &Path,
        port: u16,
        extra: &str,
        connector_files: &[PathBuf],
        mode: &'static str,
    ) -> Worker {
        let props = dir.join("worker.properties");
        std::fs::write(
            &props,
            format!(
                "bootstrap.servers={}\nlisteners=http://127.0.0.1:{port}\noffset.flush.interval.ms=500\n{extra}\n",
                kafka_bootstrap()
            ),
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
            mode,
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
            .arg(self.mode)
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
                self.wait_started();
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "velocity did not open its REST port in 30 s; log:\n{}",
            self.log_text()
        );
    }

    /// Waits (60 s at most) while `GET /health` answers 503, i.e. while the
    /// worker is still starting (KIP-1017): the REST listener opens before
    /// the worker has restored its connectors, and until then `GET
    /// /connectors` may list only some of them, as in Kafka Connect
    /// (KAFKA-10816). Returns at once when the worker exits, answers
    /// anything else, or cannot be asked over plain HTTP (an https
    /// listener).
    fn wait_started(&mut self) {
        let client = reqwest::blocking::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
            }
            match client
                .get(format!("{}/health", self.base))
                .timeout(Duration::from_secs(5))
                .send()
            {
                Ok(r) if r.status().as_u16() == 503 => {
                    std::thread::sleep(Duration::from_millis(100))
                }
                _ => return,
            }
        }
    }

    /// Whether the process was started and not stopped or killed since.
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// The REST port.
    pub fn port(&self) -> u16 {
        self.port
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

/// Waits (30 s) until connector `name` or its first task is FAILED on `w`
/// and returns that trace.
pub fn failed_trace(w: &Worker, name: &str) -> String {
    let s = w.wait_status(name, |s| {
        s["tasks"][0]["state"] == "FAILED" || s["connector"]["state"] == "FAILED"
    });
    let t = if s["connector"]["state"] == "FAILED" {
        &s["connector"]["trace"]
    } else {
        &s["tasks"][0]["trace"]
    };
    t.as_str().unwrap_or_default().to_owned()
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
pub fn consume_until(topic: &str, timeout: Duration, done: impl FnMut(&[Kv]) -> bool) -> Vec<Kv> {
    consume_until_on(&kafka_bootstrap(), topic, timeout, done)
}

/// [`consume_until`] on the broker at `bootstrap`.
pub fn consume_until_on(
    bootstrap: &str,
    topic: &str,
    timeout: Duration,
    mut done: impl FnMut(&[Kv]) -> bool,
) -> Vec<Kv> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
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

/// The offset a standalone worker in `dir` stored last (its
/// `offsets.json` holds one connector's partition), or `{}`.
pub fn stored_offset(dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("offsets.json")).unwrap_or_else(|_| "{}".into());
    let v: serde_json::Value = serde_json::from_str(&text).unwrap_or(serde_json::json!({}));
    v.as_object()
        .and_then(|o| o.values().next().cloned())
        .unwrap_or(serde_json::json!({}))
}

/// Drops replication slot `slot` (when no one reads it) and database `db`
/// of the test server.
pub fn pg_drop_db(db: &str, slot: &str) {
    psql("postgres", &["-c", &format!("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '{slot}' AND NOT active")]);
    psql(
        "postgres",
        &["-c", &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")],
    );
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
    let config = serde_json::json!({
        "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
        "database.hostname": env("VELOCITY_PG_HOST", "127.0.0.1"),
        "database.port": env("VELOCITY_PG_PORT", "55432"),
        "database.user": env("VELOCITY_PG_SUPERUSER", "postgres"),
        "database.password": env("VELOCITY_PG_SUPERUSER_PASSWORD", "postgres"),
        "database.dbname": db, "topic.prefix": prefix,
        "slot.name": slot, "publication.name": slot, "publication.autocreate.mode": "filtered",
        "topic.creation.default.partitions": "1", "topic.creation.default.replication.factor": "1",
    });
    write_connector_file(dir, name, config, &extra)
}

/// A golden workload's source side: a fresh database loaded with
/// `fixtures/schema.sql` and `snapshot.sql`, and a PostgreSQL connector file
/// for it (unique topic prefix and slot, schema `tms`, initial snapshot).
pub struct GoldenSource {
    pub db: String,
    pub prefix: String,
    pub slot: String,
    pub dir: tempfile::TempDir,
    pub conn: PathBuf,
}

/// Sets up a [`GoldenSource`]; `extra` keys are added to the connector config.
pub fn golden_source(fixtures: &Path, label: &str, extra: serde_json::Value) -> GoldenSource {
    let db = unique(label);
    psql("postgres", &["-c", &format!("CREATE DATABASE {db}")]);
    psql(&db, &["-f", fixtures.join("schema.sql").to_str().unwrap()]);
    psql(
        &db,
        &["-f", fixtures.join("snapshot.sql").to_str().unwrap()],
    );
    let prefix = unique("g").replace('_', "");
    let dir = tempfile::tempdir().unwrap();
    let slot = unique(label).to_lowercase();
    let mut config = serde_json::json!({
        "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
        "database.hostname": env("VELOCITY_PG_HOST", "127.0.0.1"),
        "database.port": env("VELOCITY_PG_PORT", "55432"),
        "database.user": env("VELOCITY_PG_SUPERUSER", "postgres"),
        "database.password": env("VELOCITY_PG_SUPERUSER_PASSWORD", "postgres"),
        "database.dbname": db, "topic.prefix": prefix, "plugin.name": "pgoutput",
        "slot.name": slot, "publication.name": slot, "publication.autocreate.mode": "filtered",
        "schema.include.list": "tms", "snapshot.mode": "initial",
        "topic.creation.default.partitions": "1", "topic.creation.default.replication.factor": "1",
    });
    for (k, v) in extra.as_object().unwrap() {
        config[k] = v.clone();
    }
    let conn = dir.path().join("pg.json");
    std::fs::write(
        &conn,
        serde_json::json!({"name": label, "config": config}).to_string(),
    )
    .unwrap();
    GoldenSource {
        db,
        prefix,
        slot,
        dir,
        conn,
    }
}

/// A record as read: (topic, key, value).
pub type TopicKv = (String, Option<Vec<u8>>, Option<Vec<u8>>);

/// Reads `topics` from the beginning (one consumer, fresh group) until
/// `want` records arrived or `timeout` passed.
pub fn read_records(topics: &[String], want: usize, timeout: Duration) -> Vec<TopicKv> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", kafka_bootstrap())
        .set("group.id", unique("records-reader"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .set("topic.metadata.refresh.interval.ms", "500")
        .create()
        .unwrap();
    let refs: Vec<&str> = topics.iter().map(String::as_str).collect();
    consumer.subscribe(&refs).unwrap();
    let mut out = Vec::new();
    let deadline = Instant::now() + timeout;
    while out.len() < want && Instant::now() < deadline {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) {
            out.push((
                m.topic().to_owned(),
                m.key().map(<[u8]>::to_vec),
                m.payload().map(<[u8]>::to_vec),
            ));
        }
    }
    out
}

/// Starts psql on `db` of the test server as the superuser, running the SQL
/// file `sql` in the background (stdout discarded); wait on the child.
pub fn psql_file_in_background(db: &str, sql: &Path) -> Child {
    Command::new("psql")
        .arg(format!(
            "host={} port={} user={} dbname={db}",
            env("VELOCITY_PG_HOST", "127.0.0.1"),
            env("VELOCITY_PG_PORT", "55432"),
            env("VELOCITY_PG_SUPERUSER", "postgres")
        ))
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-f"])
        .arg(sql)
        .env(
            "PGPASSWORD",
            env("VELOCITY_PG_SUPERUSER_PASSWORD", "postgres"),
        )
        .stdout(Stdio::null())
        .spawn()
        .expect("psql is installed (scripts/services.sh installs it)")
}

/// Appends `line-<i>` for i in `from..to` to the file at `path`.
pub fn append_lines(path: &Path, from: usize, to: usize) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    for i in from..to {
        writeln!(f, "line-{i}").unwrap();
    }
}

/// A FileStreamSource connector `name` (JSON for `POST /connectors`)
/// reading `file` into `topic` with StringConverter values.
pub fn file_source_json(name: &str, file: &Path, topic: &str) -> String {
    serde_json::json!({"name": name, "config": {
        "connector.class": "FileStreamSource", "file": file, "topic": topic,
        "value.converter": "org.apache.kafka.connect.storage.StringConverter",
        "topic.creation.default.partitions": "1", "topic.creation.default.replication.factor": "1",
    }})
    .to_string()
}

// Golden comparison helpers (tests/postgres_golden.rs, tests/postgres_incremental.rs).
use serde_json::Value;

/// Payload fields that differ run to run (compared by type only).
pub const VOLATILE_PAYLOAD: &[&str] = &["ts_ms", "ts_us", "ts_ns"];
/// `source` fields that differ run to run (compared by type only).
pub const VOLATILE_SOURCE: &[&str] = &[
    "ts_ms", "ts_us", "ts_ns", "lsn", "txId", "sequence", "version", "xmin",
];

/// Both null, both numbers or both strings.
pub fn same_type(a: &Value, b: &Value) -> bool {
    matches!(
        (a, b),
        (Value::Null, Value::Null)
            | (Value::Number(_), Value::Number(_))
            | (Value::String(_), Value::String(_))
    )
}

/// Compares `got` with `want` (Debezium's golden event), pushing one line
/// per difference; volatile fields are compared by type only.
pub fn diff(path: &str, got: &Value, want: &Value, volatile: bool, out: &mut Vec<String>) {
    if volatile {
        if !same_type(got, want) {
            out.push(format!("{path}: type differs: got {got}, want {want}"));
        }
        return;
    }
    match (got, want) {
        (Value::Object(g), Value::Object(w)) => {
            let gk: Vec<&String> = g.keys().collect();
            let wk: Vec<&String> = w.keys().collect();
            if gk != wk {
                out.push(format!("{path}: keys differ: got {gk:?}, want {wk:?}"));
            }
            for (k, wv) in w {
                let Some(gv) = g.get(k) else { continue };
                let p = format!("{path}.{k}");
                let vol = (path.ends_with("value.payload")
                    && VOLATILE_PAYLOAD.contains(&k.as_str()))
                    || (path.ends_with("payload.source") && VOLATILE_SOURCE.contains(&k.as_str()));
                diff(&p, gv, wv, vol, out);
            }
        }
        (Value::Array(g), Value::Array(w)) => {
            if g.len() != w.len() {
                out.push(format!("{path}: array length {} vs {}", g.len(), w.len()));
            }
            for (i, (gv, wv)) in g.iter().zip(w).enumerate() {
                diff(&format!("{path}[{i}]"), gv, wv, false, out);
            }
        }
        (Value::Number(g), Value::Number(w)) if g.is_f64() || w.is_f64() => {
            // The golden file was written by Java 17, whose Float.toString
            // prints non-shortest digits for some floats (1.17549435E-38);
            // JDK 19+ (and Velocity) print the shortest (1.1754944E-38).
            // Both denote the same float32, so float32 equality is accepted
            // when the decimal texts differ.
            let (g, w) = (g.as_f64().unwrap(), w.as_f64().unwrap());
            if g != w && (g as f32) != (w as f32) {
                out.push(format!("{path}: got {g}, want {w}"));
            }
        }
        _ => {
            if got != want {
                out.push(format!("{path}: got {got}, want {want}"));
            }
        }
    }
}

/// Renames the topic prefix `from` → `to` in topics, schema names and source.name.
pub fn rename_prefix(v: &mut Value, from: &str, to: &str) {
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                if let Value::String(s) = x {
                    if (k == "name" || k == "topic") && s.starts_with(&format!("{from}.")) {
                        *s = format!("{to}{}", &s[from.len()..]);
                    } else if k == "name" && s == from {
                        *s = to.to_owned();
                    }
                } else {
                    rename_prefix(x, from, to);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| rename_prefix(x, from, to)),
        _ => {}
    }
}

/// The root socket of the MariaDB test server.
pub fn mysql_root_socket() -> PathBuf {
    if let Ok(s) = std::env::var("VELOCITY_MARIADB_SOCKET") {
        return PathBuf::from(s);
    }
    let local =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(".velocity/services/mariadb/run/mariadb.sock");
    if local.exists() {
        return local;
    }
    // scripts/services.sh puts the socket under /tmp when the path is long
    std::fs::read_dir("/tmp")
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path().join("mariadb.sock"))
        .find(|p| p.exists() && p.to_string_lossy().contains("velocity-"))
        .unwrap_or(local)
}

/// Runs SQL as root (over the unix socket), in UTC; returns tab-separated output.
pub fn mysql_sql(stmt: &str) -> String {
    let out = Command::new("mariadb")
        .arg("--no-defaults")
        .arg("-S")
        .arg(mysql_root_socket())
        .args(["-uroot", "-N", "-B", "-e"])
        .arg(format!("SET time_zone = '+00:00'; {stmt}"))
        .output()
        .expect("the mariadb client is installed (scripts/services.sh installs it)");
    assert!(
        out.status.success(),
        "mariadb {stmt:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A `database.server.id` unlikely to be taken by another test.
pub fn mysql_server_id() -> u64 {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    100_000 + (n / 1000 + std::process::id() as u64) % 1_000_000_000
}

/// A connector JSON file for the MariaDB source on the test server
/// (database `db`, schema history on the test broker); `extra` keys override.
pub fn mysql_connector_file(
    dir: &Path,
    name: &str,
    db: &str,
    prefix: &str,
    extra: Value,
) -> PathBuf {
    let config = serde_json::json!({
        "connector.class": "io.debezium.connector.mariadb.MariaDbConnector",
        "database.hostname": env("VELOCITY_MARIADB_HOST", "127.0.0.1"),
        "database.port": env("VELOCITY_MARIADB_PORT", "53306"),
        "database.user": env("VELOCITY_MARIADB_USER", "velocity"),
        "database.password": env("VELOCITY_MARIADB_PASSWORD", "velocity"),
        "database.server.id": mysql_server_id().to_string(),
        "topic.prefix": prefix,
        "database.include.list": db,
        "schema.history.internal.kafka.topic": format!("{prefix}.history"),
        "schema.history.internal.kafka.bootstrap.servers": kafka_bootstrap(),
        // the shared test server holds every test's databases: keep each
        // connector's history (and its schema snapshot) to its own
        // database; tests of the default (false) set it themselves
        "schema.history.internal.store.only.captured.databases.ddl": "true",
        "topic.creation.default.partitions": "1",
        "topic.creation.default.replication.factor": "1",
    });
    write_connector_file(dir, name, config, &extra)
}

/// A change event as read: (topic, key JSON payload, value payload or Null
/// for a tombstone).
pub type Event = (String, Value, Value);

/// The records `recs` of `topic` as [`Event`]s.
pub fn parse(recs: &[Kv], topic: &str) -> Vec<Event> {
    recs.iter()
        .map(|(k, v)| {
            let p = |b: &Option<Vec<u8>>| {
                b.as_ref()
                    .map_or(Value::Null, |b| serde_json::from_slice(b).unwrap())
            };
            (topic.to_owned(), p(k), p(v))
        })
        .collect()
}

/// The `id` field of an event's key.
pub fn id_of(e: &Event) -> Option<i64> {
    e.1["payload"]["id"].as_i64()
}

/// The `op` of an event (None for a tombstone).
pub fn op_of(e: &Event) -> Option<&str> {
    e.2["payload"]["op"].as_str()
}

/// The last state per key a consumer of `events` sees: the `after` image,
/// or None after a delete (tombstones change nothing).
pub fn final_state<'a>(
    events: impl Iterator<Item = &'a Event>,
) -> std::collections::BTreeMap<i64, Option<Value>> {
    let mut m = std::collections::BTreeMap::new();
    for e in events {
        let (Some(id), Some(op)) = (id_of(e), op_of(e)) else {
            continue;
        };
        let after = &e.2["payload"]["after"];
        m.insert(id, (op != "d").then(|| after.clone()));
    }
    m
}

/// The `r` events of `topic` (id → count) once `done` holds.
pub fn reads_until(
    topic: &str,
    mut done: impl FnMut(&std::collections::HashMap<i64, usize>) -> bool,
) -> std::collections::HashMap<i64, usize> {
    let mut counts = std::collections::HashMap::new();
    let mut scanned = 0;
    consume_until(topic, Duration::from_secs(180), |r| {
        for e in parse(&r[scanned..], topic) {
            if op_of(&e) == Some("r") {
                *counts.entry(id_of(&e).unwrap()).or_default() += 1;
            }
        }
        scanned = r.len();
        done(&counts)
    });
    counts
}

/// The `r` counts (`counts`) of a table with rows `1..=rows` but `deleted`,
/// whose incremental snapshot was killed after storing key `k` and
/// restarted (`log`): no row is lost, the rows up to `k` came once (the
/// snapshot went on from the next chunk instead of starting over) and the
/// restart said so.
pub fn check_continued_snapshot(
    counts: &std::collections::HashMap<i64, usize>,
    rows: i64,
    deleted: i64,
    k: i32,
    log: &str,
) {
    let missing: Vec<i64> = (1..=rows)
        .filter(|i| *i != deleted && !counts.contains_key(i))
        .collect();
    assert!(
        missing.is_empty(),
        "{} rows lost, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
    let again: Vec<i64> = (1..=i64::from(k))
        .filter(|i| counts.get(i) != Some(&1))
        .collect();
    assert!(
        again.is_empty(),
        "rows up to the stored key {k} emitted more than once: {:?}",
        &again[..again.len().min(10)]
    );
    assert!(
        log.contains("Incremental snapshot in progress, need to read new chunk on start"),
        "{log}"
    );
}

/// Writes connector file `<dir>/<name>.json` with `config` plus `extra`.
pub fn write_connector_file(
    dir: &Path,
    name: &str,
    mut config: serde_json::Value,
    extra: &serde_json::Value,
) -> PathBuf {
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

/// The changes a blocking-snapshot test makes to its table `t` (rows
/// `1..=3000`, `id` key, text `v`) before the signal.
pub const BLOCKING_BEFORE: &str = "UPDATE t SET v = 'before' WHERE id <= 10; DELETE FROM t WHERE id = 20; INSERT INTO t VALUES (5001, 'before')";

/// The changes it makes right after the signal.
pub const BLOCKING_AFTER: &str = "UPDATE t SET v = 'after' WHERE id BETWEEN 5 AND 15; DELETE FROM t WHERE id = 30; INSERT INTO t VALUES (5002, 'after')";

/// The events of `topic` from its start, once `done` holds for them (or
/// after 180 s).
pub fn events_until(topic: &str, mut done: impl FnMut(&[Event]) -> bool) -> Vec<Event> {
    let mut events = Vec::new();
    let mut scanned = 0;
    consume_until(topic, Duration::from_secs(180), |r| {
        events.extend(parse(&r[scanned..], topic));
        scanned = r.len();
        done(&events)
    });
    events
}

/// Inserts marker row `id` into table `t` with `run_sql` and reads `topic`
/// until its create event; fails when it does not arrive.
pub fn await_marker(run_sql: impl Fn(&str), topic: &str, id: i64) -> Vec<Event> {
    run_sql(&format!("INSERT INTO t VALUES ({id}, 'marker')"));
    let is_marker = |e: &Event| op_of(e) == Some("c") && id_of(e) == Some(id);
    let events = events_until(topic, |e| e.iter().any(is_marker));
    assert!(events.iter().any(is_marker), "marker {id} did not arrive");
    events
}

/// The `v` field of an event's `after` image.
pub fn value_of(e: &Event) -> Option<&str> {
    e.2["payload"]["after"]["v"].as_str()
}

/// The indexes of the `r` events of `events` from `from` on.
pub fn reads_from(events: &[Event], from: usize) -> Vec<usize> {
    (from..events.len())
        .filter(|&i| op_of(&events[i]) == Some("r"))
        .collect()
}

/// `id<sep>v` lines (a query's output) as id → v.
pub fn rows_of(text: &str, sep: char) -> std::collections::BTreeMap<i64, String> {
    text.lines()
        .filter_map(|l| l.split_once(sep))
        .map(|(id, v)| (id.parse().unwrap(), v.to_owned()))
        .collect()
}

/// Checks the events of a table whose blocking snapshot was signalled
/// between [`BLOCKING_BEFORE`] and [`BLOCKING_AFTER`] and followed by a
/// marker (`table`: its rows then): every row of the table once as `r`
/// (as the snapshot saw it: rows changed before the signal with their new
/// value), the initial snapshot's `source.snapshot` markers, no streamed
/// event between the `r` events, the changes before the signal before
/// them and those after it after them, and for every key the last event
/// is the table's row.
pub fn check_blocking_snapshot(
    events: &[Event],
    table: &std::collections::BTreeMap<i64, String>,
    log: &str,
) {
    use std::collections::{BTreeMap, BTreeSet};
    let reads = reads_from(events, 0);
    assert!(!reads.is_empty(), "no r event; log:\n{log}");
    let (first, last) = (reads[0], *reads.last().unwrap());
    assert_eq!(
        last - first + 1,
        reads.len(),
        "streamed events inside the blocking snapshot"
    );
    let mut seen = BTreeMap::new();
    for &i in &reads {
        let id = id_of(&events[i]).unwrap();
        assert!(seen.insert(id, i).is_none(), "row {id} read twice");
    }
    // rows deleted or inserted after the signal (the marker too) may or
    // may not be read: the snapshot starts after them or before
    let must: BTreeSet<i64> = (1..=3000)
        .filter(|i| *i != 20 && *i != 30)
        .chain([5001])
        .collect();
    let marker = table.keys().copied().filter(|i| *i > 5002);
    let may: BTreeSet<i64> = must
        .iter()
        .copied()
        .chain([30, 5002])
        .chain(marker)
        .collect();
    let got: BTreeSet<i64> = seen.keys().copied().collect();
    assert!(
        must.is_subset(&got),
        "rows missing: {:?}",
        must.difference(&got).take(10).collect::<Vec<_>>()
    );
    assert!(
        got.is_subset(&may),
        "rows that were never in the table: {:?}",
        got.difference(&may).collect::<Vec<_>>()
    );
    for id in 1..=4 {
        assert_eq!(value_of(&events[seen[&id]]), Some("before"), "row {id}");
    }
    let markers: Vec<&str> = reads
        .iter()
        .map(|&i| {
            events[i].2["payload"]["source"]["snapshot"]
                .as_str()
                .unwrap_or("")
        })
        .collect();
    assert_eq!(markers[0], "first");
    assert_eq!(*markers.last().unwrap(), "last");
    assert!(
        markers[1..markers.len() - 1].iter().all(|m| *m == "true"),
        "{:?}",
        &markers[..markers.len().min(5)]
    );
    let mut after_changes = 0;
    for (i, e) in events.iter().enumerate() {
        match (op_of(e), value_of(e), id_of(e)) {
            (Some("u" | "c"), Some("before"), _) | (Some("d"), _, Some(20)) => {
                assert!(i < first, "a change made before the signal at {i}")
            }
            (Some("u" | "c"), Some("after" | "marker"), _) | (Some("d"), _, Some(30)) => {
                after_changes += 1;
                assert!(i > last, "a change made after the signal at {i}")
            }
            _ => {}
        }
    }
    // 11 updates, an insert, a delete and the marker
    assert_eq!(after_changes, 14, "changes after the signal; log:\n{log}");
    let consumer: BTreeMap<i64, String> = final_state(events.iter())
        .into_iter()
        .filter_map(|(id, after)| Some((id, after?["v"].as_str()?.to_owned())))
        .collect();
    assert_eq!(&consumer, table, "final state differs from the table");
    assert!(
        log.contains("Requested 'BLOCKING' snapshot of data collections"),
        "{log}"
    );
    assert!(log.contains("Snapshot completed"), "{log}");
}

/// Sends `value` with key `key` to partition 0 of `topic` and waits for
/// the broker's acknowledgement.
pub fn send_kafka(topic: &str, key: &str, value: &str) {
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
    let producer: BaseProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", kafka_bootstrap())
        .create()
        .unwrap();
    producer
        .send(BaseRecord::to(topic).partition(0).key(key).payload(value))
        .unwrap();
    producer.flush(Duration::from_secs(30)).unwrap();
}

/// The integer key an incremental snapshot of a table with rows `1..=rows`
/// stored in `stored` (its last emitted row): fails, printing `log`, when
/// none is stored or it is not a key inside the table.
pub fn stored_snapshot_key(stored: &serde_json::Value, rows: i32, log: &str) -> i32 {
    use velocity_api::debezium::java_ser::{decode_key, KeyValue};
    let key = stored["incremental_snapshot_primary_key"]
        .as_str()
        .map(|h| decode_key(h).unwrap());
    let Some(Some(key)) = key else {
        panic!("no incremental snapshot key stored: {stored}\nlog:\n{log}")
    };
    let [KeyValue::Int(k)] = key[..] else {
        panic!("{key:?}")
    };
    assert!((1..rows).contains(&k), "stored key {k}: {stored}");
    k
}

/// (op, `id` column) of the change events on `topic` (tombstones skipped), read
/// until `done`.
pub fn change_ops(
    topic: &str,
    mut done: impl FnMut(&[(String, i64)]) -> bool,
) -> Vec<(String, i64)> {
    let parse = |recs: &[Kv]| -> Vec<(String, i64)> {
        recs.iter()
            .filter_map(|(_, v)| {
                let v = serde_json::from_slice::<serde_json::Value>(v.as_ref()?).ok()?;
                let p = &v["payload"];
                let row = if p["after"].is_null() {
                    &p["before"]
                } else {
                    &p["after"]
                };
                Some((p["op"].as_str()?.to_owned(), row["id"].as_i64()?))
            })
            .collect()
    };
    parse(&consume_until(
        topic,
        std::time::Duration::from_secs(120),
        |r| done(&parse(r)),
    ))
}

/// Asserts that for every key the last event of `events` (id → `after`,
/// see [`final_state`]) is the row `table` holds (id → `v`), and that no
/// key missing from `table` ends with a row.
pub fn assert_final_state(events: &[Event], table: &std::collections::BTreeMap<i64, String>) {
    let state = final_state(events.iter());
    let mut wrong = Vec::new();
    for (id, v) in table {
        match state.get(id) {
            Some(Some(after))
                if after["v"] == serde_json::json!(v) && after["id"] == serde_json::json!(id) => {}
            other => wrong.push(format!("id {id}: table has {v:?}, last event {other:?}")),
        }
    }
    for (id, s) in &state {
        if !table.contains_key(id) && s.is_some() {
            wrong.push(format!("id {id}: deleted, last event {s:?}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} keys differ from the table (first 20):\n{}",
        wrong.len(),
        wrong[..wrong.len().min(20)].join("\n")
    );
}
