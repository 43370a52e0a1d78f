//! Self-healing against real, throwaway servers (the shared ones serve other
//! tests and are never stopped): a PostgreSQL cluster whose walsender is
//! terminated and which is then stopped for 10 s; a tansu broker (SQLite
//! storage, so its data survives) stopped for 10 s; a MariaDB server
//! restarted under the MySQL/MariaDB source. Rows are written all along; the
//! task must stay (or come back to) RUNNING by itself, every row must
//! arrive, and a row may arrive twice only if it lies after an offset the
//! task resumed from.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{free_port, pg_connector_file, unique, wait_until, Worker};
use serde_json::{json, Value};

/// Reads `topic` on `bootstrap` from the start until every id in `1..=n`
/// arrived (or 180 s passed); returns (id, source block) per change record.
fn ids_until(bootstrap: &str, topic: &str, n: i64) -> Vec<(i64, Value)> {
    let row = |v: &Option<Vec<u8>>| {
        let v: Value = serde_json::from_slice(v.as_deref()?).ok()?;
        let p = &v["payload"];
        Some((p["after"]["id"].as_i64()?, p["source"].clone()))
    };
    let mut seen = std::collections::HashSet::new();
    let mut scanned = 0;
    let recs = common::consume_until_on(bootstrap, topic, Duration::from_secs(180), |r| {
        for (_, v) in &r[scanned..] {
            if let Some((id, _)) = row(v) {
                seen.insert(id);
            }
        }
        scanned = r.len();
        seen.len() as i64 >= n
    });
    recs.iter().filter_map(|(_, v)| row(v)).collect()
}

/// Asserts every id in `1..=n` arrived; returns how many arrived twice.
fn assert_complete(got: &[(i64, Value)], n: i64, log: &str) -> HashMap<i64, Vec<Value>> {
    let mut by_id: HashMap<i64, Vec<Value>> = HashMap::new();
    for (id, src) in got {
        by_id.entry(*id).or_default().push(src.clone());
    }
    let missing: Vec<i64> = (1..=n).filter(|i| !by_id.contains_key(i)).collect();
    assert!(
        missing.is_empty(),
        "{} rows lost, e.g. {:?}; log:\n{log}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
    by_id
}

/// Writes rows `1..=n` in transactions of 10 in the background with
/// `exec(sql) -> ok`; a failed statement (server down) is retried until it
/// succeeds, so every row is written exactly once.
fn writer(
    n: i64,
    exec: impl Fn(&str) -> bool + Send + 'static,
    table: &'static str,
) -> (std::thread::JoinHandle<()>, Arc<AtomicBool>) {
    let pace = Duration::from_millis(20);
    let progress = Arc::new(AtomicBool::new(false));
    let half = progress.clone();
    let h = std::thread::spawn(move || {
        let mut i = 1;
        while i <= n {
            let sql = format!(
                "INSERT INTO {table} (id, v) VALUES {}",
                (i..i + 10)
                    .map(|k| format!("({k}, 'row {k}')"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            if exec(&sql) {
                i += 10;
                if i > n / 4 {
                    half.store(true, Ordering::Relaxed);
                }
                std::thread::sleep(pace);
            } else {
                std::thread::sleep(Duration::from_millis(300));
            }
        }
    });
    (h, progress)
}

fn task_state(w: &Worker, name: &str) -> String {
    let (_, s) = w.call("GET", &format!("/connectors/{name}/status"), None);
    s["tasks"][0]["state"].as_str().unwrap_or("?").to_owned()
}

/// Runs one SQL statement with psql on 127.0.0.1:`port` as the superuser
/// (`password` for servers that check it); true when it succeeded.
fn psql_exec(port: u16, db: &str, password: Option<String>) -> impl Fn(&str) -> bool + Send {
    let db = db.to_owned();
    let user = common::env("VELOCITY_PG_SUPERUSER", "postgres");
    move |sql| {
        let mut c = Command::new("psql");
        c.args(["-X", "-q", "-v", "ON_ERROR_STOP=1"])
            .arg(format!(
                "host=127.0.0.1 port={port} user={user} dbname={db} connect_timeout=3"
            ))
            .args(["-c", sql])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(pw) = &password {
            c.env("PGPASSWORD", pw);
        }
        c.status().is_ok_and(|s| s.success())
    }
}

/// The common part of each test: waits until a quarter of the rows is
/// written, takes the server down (`switch(false)`), watches the task for
/// 10 s, brings the server back (`switch(true)`), waits for the writer and
/// reads every row back from `topic` on `bootstrap`. Asserts that nothing
/// was lost and that the task was RUNNING throughout and at the end;
/// returns the rows by id and the worker log.
#[allow(clippy::too_many_arguments)]
fn outage(
    w: &Worker,
    name: &str,
    (load, quarter): (std::thread::JoinHandle<()>, Arc<AtomicBool>),
    mut switch: impl FnMut(bool),
    bootstrap: &str,
    topic: &str,
    n: i64,
) -> (HashMap<i64, Vec<Value>>, String) {
    wait_until(Duration::from_secs(60), "a quarter of the rows", || {
        quarter.load(Ordering::Relaxed)
    });
    switch(false);
    let t0 = Instant::now();
    let while_down = states_while(w, name, || t0.elapsed() > Duration::from_secs(10));
    switch(true);
    load.join().unwrap();
    let got = ids_until(bootstrap, topic, n);
    let log = w.log_text();
    let by_id = assert_complete(&got, n, &log);
    w.wait_status(name, |s| s["tasks"][0]["state"] == "RUNNING");
    for s in &while_down {
        assert_eq!(
            s, "RUNNING",
            "states seen while the server was down: {while_down:?}"
        );
    }
    (by_id, log)
}

/// Watches the task's state every 200 ms while `until` is false; returns
/// every state seen.
fn states_while(w: &Worker, name: &str, mut until: impl FnMut() -> bool) -> Vec<String> {
    let mut seen = Vec::new();
    while !until() {
        let s = task_state(w, name);
        if seen.last() != Some(&s) {
            seen.push(s);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    seen
}

/// A server process of a test: SIGTERM on [`Proc::term`] (a clean
/// shutdown, as an operator does), SIGKILL on drop.
#[derive(Default)]
struct Proc(Option<Child>);

impl Proc {
    fn term(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(c.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(30);
            while c.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

// ------------------------------------------------------------------ PostgreSQL

fn pg_bin() -> String {
    let bin = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    if Path::new(&format!("{bin}/initdb")).exists() {
        bin
    } else {
        std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL is installed (scripts/services.sh installs it)")
            .flatten()
            .map(|e| format!("{}/bin", e.path().display()))
            .next()
            .unwrap()
    }
}

/// A throwaway PostgreSQL cluster with wal_level=logical (trust auth on
/// 127.0.0.1), stopped on drop.
struct PgCluster {
    dir: tempfile::TempDir,
    bin: String,
    port: u16,
}

impl PgCluster {
    fn start() -> PgCluster {
        let dir = tempfile::Builder::new()
            .prefix("velocity-heal-pg")
            .tempdir_in("/tmp")
            .unwrap();
        Command::new("chown")
            .args(["postgres", dir.path().to_str().unwrap()])
            .status()
            .unwrap();
        let c = PgCluster {
            bin: pg_bin(),
            port: free_port(),
            dir,
        };
        c.as_pg(&[
            &format!("{}/initdb", c.bin),
            "-D",
            c.data().to_str().unwrap(),
            "-U",
            "postgres",
            "--auth=trust",
        ]);
        c.ctl("start");
        c
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn as_pg(&self, args: &[&str]) {
        let st = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .args(args)
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(st.success(), "{args:?}");
    }

    fn ctl(&self, action: &str) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c wal_level=logical -c max_wal_senders=10 -c max_replication_slots=10",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("log");
        let mut args = vec![
            format!("{}/pg_ctl", self.bin),
            "-D".into(),
            self.data().display().to_string(),
            "-w".into(),
            "-l".into(),
            log.display().to_string(),
        ];
        if action == "start" {
            args.extend(["-o".into(), opts]);
        } else {
            args.extend(["-m".into(), "fast".into()]);
        }
        args.push(action.into());
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        self.as_pg(&refs);
    }

    /// Runs SQL; None when the server refused (down, restarting).
    fn sql(&self, db: &str, sql: &str) -> Option<String> {
        let out = Command::new("psql")
            .args(["-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1"])
            .arg(format!(
                "host=127.0.0.1 port={} user=postgres dbname={db} connect_timeout=3",
                self.port
            ))
            .args(["-c", sql])
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let _ = Command::new("runuser")
            .args([
                "-u",
                "postgres",
                "--",
                &format!("{}/pg_ctl", self.bin),
                "-D",
                self.data().to_str().unwrap(),
                "-m",
                "immediate",
                "stop",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// The offsets the task resumed from (its "resuming from the stored
/// offset" log lines): `(lsn_commit, lsn_proc, txId)`.
fn resumes(log: &str) -> Vec<(u64, u64, Option<i64>)> {
    let field = |line: &str, k: &str| {
        line.split(&format!("{k}="))
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .map(|v| v.trim_matches('"').to_owned())
    };
    log.lines()
        .filter(|l| l.contains("resuming from the stored offset"))
        .map(strip_ansi)
        .map(|l| {
            let l = l.as_str();
            (
                field(l, "lsn_commit")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0),
                field(l, "lsn_proc")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0),
                field(l, "tx_id").and_then(|v| v.parse().ok()),
            )
        })
        .collect()
}

/// `line` without terminal colour codes (`ESC [ … m`).
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Every row delivered more than once lies after an offset a restart
/// resumed from (so nothing the task had stored was sent again).
fn assert_dups_after_resume(by_id: &HashMap<i64, Vec<Value>>, log: &str) -> usize {
    let resumed = resumes(log);
    let mut dups = 0;
    assert!(
        resumed.iter().all(|(commit, _, _)| *commit > 0) || by_id.values().all(|v| v.len() < 2),
        "resume offsets not parsed from the log: {resumed:?}"
    );
    for (id, srcs) in by_id {
        if srcs.len() < 2 {
            continue;
        }
        dups += 1;
        let lsn = srcs[0]["lsn"].as_u64().unwrap_or(0);
        let tx = srcs[0]["txId"].as_i64();
        let after = resumed.iter().any(|(commit, proc_, rtx)| {
            lsn >= *commit || (tx.is_some() && tx == *rtx && lsn > *proc_)
        });
        assert!(
            after,
            "row {id} (lsn {lsn}) was delivered twice although every resume ({resumed:?}) covers it"
        );
    }
    dups
}

#[test]
fn postgres_walsender_terminated_then_server_restarted_heals_by_itself() {
    let pg = PgCluster::start();
    let db = "heal";
    pg.sql("postgres", &format!("CREATE DATABASE {db}"))
        .unwrap();
    pg.sql(db, "CREATE TABLE t (id int PRIMARY KEY, v text)")
        .unwrap();
    let prefix = unique("ph").replace('_', "");
    let slot = unique("hslot").to_lowercase();
    let dir = tempfile::tempdir().unwrap();
    let conn = pg_connector_file(
        dir.path(),
        "src",
        db,
        &prefix,
        &slot,
        json!({
            "database.port": pg.port.to_string(),
            "database.user": "postgres",
            "database.password": "unused-with-trust",
            "database.sslmode": "disable",
            "slot.retry.delay.ms": "500",
            "errors.retry.delay.max.ms": "2000",
        }),
    );
    let w = Worker::start(dir.path(), "offset.flush.interval.ms=200", &[conn]);
    w.wait_status("src", |s| s["tasks"][0]["state"] == "RUNNING");
    wait_until(Duration::from_secs(60), "the walsender", || {
        pg.sql(
            "postgres",
            &format!(
                "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '{slot}' AND active"
            ),
        )
        .as_deref()
            == Some("1")
    });
    let n = 3_000;
    let load = writer(n, psql_exec(pg.port, "heal", None), "t");
    let topic = format!("{prefix}.public.t");
    let (by_id, log) = outage(
        &w,
        "src",
        load,
        |up| {
            if up {
                pg.ctl("start");
                return;
            }
            // 1. the walsender is terminated; the task stays RUNNING
            let killed = pg
                .sql(
                    "postgres",
                    &format!("SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = '{slot}'"),
                )
                .unwrap();
            assert_eq!(killed, "t", "the walsender was terminated");
            let t0 = Instant::now();
            let after_kill = states_while(&w, "src", || t0.elapsed() > Duration::from_secs(5));
            assert!(after_kill.iter().all(|s| s == "RUNNING"), "{after_kill:?}");
            // 2. the server stops for 10 s while the writer keeps trying
            pg.ctl("stop");
        },
        &common::kafka_bootstrap(),
        &topic,
        n,
    );
    let dups = assert_dups_after_resume(&by_id, &log);
    assert!(
        resumes(&log).iter().any(|(commit, _, _)| *commit > 0),
        "the restarts resumed from stored offsets: {:?}",
        resumes(&log)
    );
    assert!(
        log.contains("retriable error; restarting the task in place"),
        "the retries are logged; log:\n{log}"
    );
    eprintln!(
        "rows {n}, delivered twice {dups}, resumes {:?}",
        resumes(&log)
    );
}

// ------------------------------------------------------------------ broker

fn tansu_bin() -> String {
    let candidates = [
        Command::new("sh")
            .args(["-c", "command -v tansu"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default(),
        format!(
            "{}/.cargo/bin/tansu",
            std::env::var("HOME").unwrap_or_default()
        ),
    ];
    candidates
        .into_iter()
        .find(|c| !c.is_empty() && Path::new(c).exists())
        .expect("tansu is installed (scripts/services.sh up installs it)")
}

/// A throwaway tansu broker with SQLite storage in its own directory, so a
/// restart keeps every topic and record.
struct Tansu {
    dir: tempfile::TempDir,
    port: u16,
    child: Proc,
}

impl Tansu {
    fn start() -> Tansu {
        let mut t = Tansu {
            dir: tempfile::tempdir().unwrap(),
            port: free_port(),
            child: Proc::default(),
        };
        t.up();
        t
    }

    fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn up(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("tansu.log"))
            .unwrap();
        let url = format!("tcp://127.0.0.1:{}", self.port);
        let child = Command::new(tansu_bin())
            .args(["broker", "--cluster-id", "velocity-heal"])
            .args(["--listener-url", &url, "--advertised-listener-url", &url])
            .args(["--storage-engine", "sqlite://tansu.db"])
            .current_dir(self.dir.path())
            .env_remove("CLUSTER_ID")
            .env_remove("STORAGE_ENGINE")
            .env("RUST_LOG", "warn")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Proc(Some(child));
        let port = self.port;
        wait_until(Duration::from_secs(30), "tansu to listen", || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
    }

    /// SIGTERM, as an operator stops a broker.
    fn down(&mut self) {
        self.child.term();
    }
}

#[test]
fn broker_stopped_for_ten_seconds_heals_by_itself() {
    let mut broker = Tansu::start();
    let db = unique("healk");
    common::psql("postgres", &["-c", &format!("CREATE DATABASE {db}")]);
    common::psql(&db, &["-c", "CREATE TABLE t (id int PRIMARY KEY, v text)"]);
    let prefix = unique("pk").replace('_', "");
    let slot = unique("kslot").to_lowercase();
    let dir = tempfile::tempdir().unwrap();
    let conn = pg_connector_file(
        dir.path(),
        "src",
        &db,
        &prefix,
        &slot,
        json!({"errors.retry.delay.max.ms": "2000"}),
    );
    let w = Worker::start(
        dir.path(),
        &format!(
            "offset.flush.interval.ms=200\nbootstrap.servers={}",
            broker.bootstrap()
        ),
        &[conn],
    );
    w.wait_status("src", |s| s["tasks"][0]["state"] == "RUNNING");
    let n = 2_000;
    let port: u16 = common::env("VELOCITY_PG_PORT", "55432").parse().unwrap();
    let password = common::env("VELOCITY_PG_SUPERUSER_PASSWORD", "postgres");
    let load = writer(n, psql_exec(port, &db, Some(password)), "t");
    let bootstrap = broker.bootstrap();
    let (by_id, log) = outage(
        &w,
        "src",
        load,
        |up| if up { broker.up() } else { broker.down() },
        &bootstrap,
        &format!("{prefix}.public.t"),
        n,
    );
    let dups = assert_dups_after_resume(&by_id, &log);
    drop(w);
    common::psql(
        "postgres",
        &["-c", &format!("SELECT pg_drop_replication_slot('{slot}')")],
    );
    common::psql(
        "postgres",
        &["-c", &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")],
    );
    eprintln!("rows {n}, delivered twice {dups}");
}

#[test]
fn health_is_500_while_the_broker_is_down_and_200_again_after() {
    let mut broker = Tansu::start();
    let dir = tempfile::tempdir().unwrap();
    let w = Worker::start(
        dir.path(),
        &format!("bootstrap.servers={}", broker.bootstrap()),
        &[],
    );
    wait_until(Duration::from_secs(30), "a healthy worker", || {
        w.call("GET", "/health", None).0 == 200
    });
    broker.down();
    let (code, body) = w.call("GET", "/health", None);
    assert_eq!(code, 500, "{body}");
    assert_eq!(body["status"], "unhealthy");
    assert!(
        body["details"]
            .as_str()
            .unwrap_or_default()
            .contains("Kafka cluster"),
        "{body}"
    );
    broker.up();
    wait_until(Duration::from_secs(30), "healthy again", || {
        w.call("GET", "/health", None).0 == 200
    });
}

// ------------------------------------------------------------------ MariaDB

/// A throwaway MariaDB server set up for CDC (ROW binlog), restartable on
/// the same data directory and port.
struct Maria {
    dir: tempfile::TempDir,
    port: u16,
    child: Proc,
}

impl Maria {
    const USER: &'static str = "vheal";
    const PASSWORD: &'static str = "vheal-pw";

    fn start() -> Maria {
        let dir = tempfile::Builder::new()
            .prefix("velocity-heal-my")
            .tempdir_in("/tmp")
            .unwrap();
        let out = Command::new("mariadb-install-db")
            .arg("--no-defaults")
            .args(Self::user_arg())
            .arg(format!("--datadir={}", dir.path().join("data").display()))
            .args(["--auth-root-authentication-method=normal", "--skip-test-db"])
            .output()
            .expect("mariadb-install-db is installed (scripts/services.sh installs it)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut m = Maria {
            dir,
            port: free_port(),
            child: Proc::default(),
        };
        m.up();
        let (u, pw) = (Self::USER, Self::PASSWORD);
        m.root_sql(&format!(
            "CREATE USER '{u}'@'%' IDENTIFIED BY '{pw}'; \
             GRANT SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO '{u}'@'%'; \
             CREATE DATABASE vheal; GRANT ALL PRIVILEGES ON vheal.* TO '{u}'@'%'; \
             CREATE TABLE vheal.t (id INT PRIMARY KEY, v VARCHAR(40))"
        ))
        .unwrap();
        m
    }

    fn user_arg() -> &'static [&'static str] {
        let root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
        if root {
            &["--user=root"]
        } else {
            &[]
        }
    }

    fn up(&mut self) {
        let bin = if Path::new("/usr/sbin/mariadbd").exists() {
            "/usr/sbin/mariadbd"
        } else {
            "mariadbd"
        };
        let p = |name: &str| self.dir.path().join(name).display().to_string();
        let data = self.dir.path().join("data");
        let child = Command::new(bin)
            .arg("--no-defaults")
            .args(Self::user_arg())
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--socket={}", p("mariadb.sock")))
            .arg(format!("--pid-file={}", p("mariadb.pid")))
            .arg(format!("--log-error={}", p("mariadb.log")))
            .arg(format!("--port={}", self.port))
            .args([
                "--bind-address=127.0.0.1",
                "--skip-name-resolve",
                "--server-id=1",
                "--log-bin=mariadb-bin",
                "--binlog-format=ROW",
                "--binlog-row-image=FULL",
                "--innodb-buffer-pool-size=16M",
                "--innodb-flush-log-at-trx-commit=2",
                "--sync-binlog=0",
            ])
            .current_dir(&data)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mariadbd starts");
        self.child = Proc(Some(child));
        wait_until(Duration::from_secs(30), "the throwaway mariadbd", || {
            self.root_sql("SELECT 1").is_ok()
        });
    }

    /// A clean shutdown (SIGTERM), as `systemctl restart` does.
    fn down(&mut self) {
        self.child.term();
    }

    fn root_sql(&self, stmt: &str) -> Result<String, String> {
        let out = Command::new("mariadb")
            .arg("--no-defaults")
            .arg("-S")
            .arg(self.dir.path().join("mariadb.sock"))
            .args(["-uroot", "-N", "-B", "-e", stmt])
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }
}

#[test]
fn mariadb_restarted_under_the_source_heals_by_itself() {
    let mut my = Maria::start();
    let prefix = unique("mh").replace('_', "");
    let dir = tempfile::tempdir().unwrap();
    let config = json!({
        "connector.class": "io.debezium.connector.mariadb.MariaDbConnector",
        "database.hostname": "127.0.0.1",
        "database.port": my.port.to_string(),
        "database.user": Maria::USER,
        "database.password": Maria::PASSWORD,
        "database.server.id": (5_000 + std::process::id() % 10_000).to_string(),
        "topic.prefix": prefix,
        "database.include.list": "vheal",
        "schema.history.internal.kafka.topic": format!("{prefix}.history"),
        "schema.history.internal.kafka.bootstrap.servers": common::kafka_bootstrap(),
        "topic.creation.default.partitions": "1",
        "topic.creation.default.replication.factor": "1",
        "errors.retry.delay.max.ms": "2000",
    });
    let file = dir.path().join("my.json");
    std::fs::write(&file, json!({"name": "my", "config": config}).to_string()).unwrap();
    let w = Worker::start(dir.path(), "offset.flush.interval.ms=200", &[file]);
    w.wait_status("my", |s| s["tasks"][0]["state"] == "RUNNING");
    let n = 2_000;
    let sock = my.dir.path().join("mariadb.sock");
    let load = writer(
        n,
        move |sql| {
            Command::new("mariadb")
                .arg("--no-defaults")
                .arg("-S")
                .arg(&sock)
                .args(["-uroot", "vheal", "-e", sql])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        },
        "t",
    );
    let (by_id, log) = outage(
        &w,
        "my",
        load,
        |up| if up { my.up() } else { my.down() },
        &common::kafka_bootstrap(),
        &format!("{prefix}.vheal.t"),
        n,
    );
    assert!(
        log.contains("retriable error; restarting the task in place"),
        "the reconnect is logged; log:\n{log}"
    );
    let dups = by_id.values().filter(|v| v.len() > 1).count();
    eprintln!("rows {n}, delivered twice {dups}");
}
