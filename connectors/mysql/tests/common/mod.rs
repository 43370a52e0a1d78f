//! Helpers shared by the live MariaDB tests.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use velocity_api::{RawConfig, SourceRecord, SourceTask};
use velocity_connector_mysql::task::MySqlSourceTask;

/// Polls `task` until `want` records that `keep` accepts arrived (or
/// `timeout`), and returns those in order; the others are passed over.
#[allow(dead_code)] // each test binary compiles this module; not all use it
pub async fn poll_kept(
    task: &mut MySqlSourceTask,
    want: usize,
    timeout: Duration,
    keep: impl Fn(&SourceRecord) -> bool,
) -> Vec<SourceRecord> {
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    while out.len() < want && Instant::now() < deadline {
        out.extend(task.poll().await.expect("poll").into_iter().filter(&keep));
    }
    out
}

/// Polls `task` until `want` records (transaction markers left out) or `timeout`.
#[allow(dead_code)] // each test binary compiles this module; not all use it
pub async fn poll_until(
    task: &mut MySqlSourceTask,
    want: usize,
    timeout: Duration,
) -> Vec<SourceRecord> {
    // transaction-end markers are for the runtime (never produced)
    poll_kept(task, want, timeout, |r| r.control().is_none()).await
}

/// Polls until `want` change events carrying an `after.id` arrived (or
/// `timeout`), and returns those ids in order. Other records (schema
/// changes of DDL that tests running alongside issue in other databases,
/// such as `CREATE USER`) are passed over.
#[allow(dead_code)] // each test binary compiles this module; not all use it
pub async fn poll_row_ids(task: &mut MySqlSourceTask, want: usize, timeout: Duration) -> Vec<i64> {
    poll_kept(task, want, timeout, |r| after_id(r).is_some())
        .await
        .iter()
        .filter_map(after_id)
        .collect()
}

/// The connector configuration of a test capturing database `db` of the
/// test MariaDB (as user `velocity`) under topic prefix `prefix`, as
/// replica `server_id`, polling every 200 ms.
#[allow(dead_code)] // each test binary compiles this module; not all use it
pub fn connector_config(db: &str, prefix: &str, server_id: u32) -> RawConfig {
    let e = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.to_owned());
    [
        ("connector.class", "mariadb".to_owned()),
        ("database.hostname", e("VELOCITY_MARIADB_HOST", "127.0.0.1")),
        ("database.port", e("VELOCITY_MARIADB_PORT", "53306")),
        ("database.user", "velocity".into()),
        ("database.password", "velocity".into()),
        ("database.server.id", server_id.to_string()),
        ("topic.prefix", prefix.into()),
        // the tests read the records the task returns; no history topic
        (
            "schema.history.internal",
            "io.debezium.relational.history.MemorySchemaHistory".into(),
        ),
        ("database.include.list", db.into()),
        ("poll.interval.ms", "200".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// The `after.id` of a change event.
pub fn after_id(r: &SourceRecord) -> Option<i64> {
    let v = r.record.value.as_struct()?;
    v.get("after")?.as_struct()?.get("id")?.as_i64()
}

/// A file of this checkout's (or `var`'s) MariaDB test service; fails when absent.
pub fn services_file(var: &str, rel: &str) -> PathBuf {
    service_file(
        var,
        "mariadb",
        rel,
        "start the test services with scripts/services.sh up",
    )
}

/// File `rel` of service `service` of `scripts/services.sh` (`var` when
/// set, else this checkout's); fails, saying `start`, when absent.
fn service_file(var: &str, service: &str, rel: &str, start: &str) -> PathBuf {
    let p = match std::env::var_os(var) {
        Some(s) => PathBuf::from(s),
        None => Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../.velocity/services")
            .join(service)
            .join(rel),
    };
    assert!(
        p.exists(),
        "{} is not there: {start} (and export their addresses with scripts/services.sh env)",
        p.display()
    );
    p
}

/// MariaDB's root unix socket.
pub fn socket() -> PathBuf {
    services_file("VELOCITY_MARIADB_SOCKET", "run/mariadb.sock")
}

/// The root unix socket of the replica of MariaDB (`mariadb-replica` of
/// `scripts/services.sh`, `VELOCITY_MARIADB_REPLICA_SOCKET`); fails,
/// saying how to start it, when absent.
#[allow(dead_code)] // each test binary compiles this module; not all use it
pub fn replica_socket() -> PathBuf {
    service_file(
        "VELOCITY_MARIADB_REPLICA_SOCKET",
        "mariadb-replica",
        "run/mariadb.sock",
        "the MariaDB replica is not running; start it with VELOCITY_SERVICES=mariadb-replica scripts/services.sh up",
    )
}

/// Runs `stmt` as root over the socket; fails on an error.
pub fn sql(stmt: &str) {
    sql_out(stmt);
}

/// Runs `stmt` as root over the socket and returns its output without
/// column names; fails on an error.
pub fn sql_out(stmt: &str) -> String {
    sql_at(&socket(), &["-N"], stmt)
}

/// Runs `stmt` as root over unix socket `socket`, with client options
/// `opts`, and returns its output; fails on an error.
pub fn sql_at(socket: &Path, opts: &[&str], stmt: &str) -> String {
    let out = Command::new("mariadb")
        .arg("--no-defaults")
        .arg("-S")
        .arg(socket)
        .arg("-uroot")
        .args(opts)
        .arg("-e")
        .arg(stmt)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}
