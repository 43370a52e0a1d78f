//! `snapshot.locking.mode` against the real MariaDB of
//! `scripts/services.sh`: the global read lock released after the schema
//! (`minimal`) or after the rows (`extended`), the fallback to table locks
//! for a user without RELOAD, the refusal without LOCK TABLES either, and
//! `none`. What the snapshot locked is read from its log lines (a
//! subscriber of this test binary), each tagged with the connector's
//! `topic.prefix`. Fails when the server's root socket is not there.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use velocity_api::{Offset, OffsetReader, Partition, RawConfig, SourceTask, TaskContext};
use velocity_connector_mysql::task::MySqlSourceTask;

mod common;
use common::{poll_row_ids, poll_until, socket, sql};

struct NoOffsets;

impl OffsetReader for NoOffsets {
    fn offset(&self, _p: &Partition) -> Option<Offset> {
        None
    }
}

/// The log lines of this test binary (INFO and above).
fn log_buffer() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = buf.clone();
        tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .with_writer(move || Sink(sink.clone()))
            .init();
        buf
    })
}

struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The log lines of the connector with `topic.prefix` `prefix`, in order.
fn lines_of(prefix: &str) -> Vec<String> {
    let tag = format!("server={prefix}}}");
    let buf = log_buffer().lock().unwrap();
    String::from_utf8_lossy(&buf)
        .lines()
        .filter(|l| l.contains(&tag))
        .map(str::to_owned)
        .collect()
}

/// The index of the first line of `lines` containing `needle`; fails with
/// the lines when there is none.
fn at(lines: &[String], needle: &str) -> usize {
    lines
        .iter()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no log line with {needle:?} in {lines:#?}"))
}

/// A test's database, topic prefix, replica id and user name, unique to
/// this run (`k` tells the tests apart); fails when MariaDB is not there.
fn names(tag: &str, k: u32) -> (String, String, u32, String) {
    socket();
    log_buffer();
    let n = std::process::id();
    (
        format!("vmy_{tag}_{n}"),
        format!("{tag}{n}"),
        20_000 + (n % 1000) * 10 + k,
        format!("vlk_{tag}_{n}"),
    )
}

/// A fresh database with tables `a` (ids 1, 2) and `b` (id 3).
fn fresh_db(db: &str) {
    sql(&format!(
        "DROP DATABASE IF EXISTS {db}; CREATE DATABASE {db}; USE {db}; \
         CREATE TABLE a (id INT PRIMARY KEY); CREATE TABLE b (id INT PRIMARY KEY); \
         INSERT INTO a VALUES (1), (2); INSERT INTO b VALUES (3);"
    ));
}

/// A user granted `privileges` ON *.* (password `vlk-pw`).
fn user(name: &str, privileges: &str) {
    sql(&format!(
        "DROP USER IF EXISTS '{name}'@'%'; CREATE USER '{name}'@'%' IDENTIFIED BY 'vlk-pw'; \
         GRANT {privileges} ON *.* TO '{name}'@'%';"
    ));
}

/// The replication privileges without RELOAD.
const NO_RELOAD: &str = "SELECT, SHOW DATABASES, REPLICATION SLAVE, BINLOG MONITOR";

fn config(db: &str, prefix: &str, sid: u32, user: Option<&str>, mode: &str) -> RawConfig {
    let mut c = common::connector_config(db, prefix, sid);
    if let Some(u) = user {
        c.insert("database.user".into(), u.into());
        c.insert("database.password".into(), "vlk-pw".into());
    }
    c.insert("snapshot.locking.mode".into(), mode.into());
    c.insert("poll.interval.ms".into(), "100".into());
    c
}

fn context() -> TaskContext {
    TaskContext {
        connector: "locking".into(),
        task_id: 0,
        offsets: Arc::new(NoOffsets),
    }
}

/// Runs the snapshot of `db` (2 schema changes + 3 rows), then checks that
/// a row inserted afterwards is streamed (the position read under the lock
/// is right); returns the snapshot's row ids.
async fn snapshot_then_stream(c: &RawConfig, db: &str) -> Vec<i64> {
    let mut task = MySqlSourceTask::default();
    task.start(c, context()).await.unwrap();
    let snap = poll_until(&mut task, 5, Duration::from_secs(30)).await;
    let ids: Vec<i64> = snap.iter().filter_map(common::after_id).collect();
    assert_eq!(snap.len(), 5, "{snap:#?}");
    assert_eq!(snap[4].source_offset["snapshot_completed"], true);
    sql(&format!("INSERT INTO {db}.b VALUES (4)"));
    let streamed = poll_row_ids(&mut task, 1, Duration::from_secs(30)).await;
    assert_eq!(streamed, vec![4]);
    task.stop().await.unwrap();
    ids
}

/// A user without RELOAD: FLUSH TABLES WITH READ LOCK is refused, so is
/// Debezium's FLUSH TABLES <tables> WITH READ LOCK (MariaDB wants RELOAD
/// for it), and the captured tables are locked with LOCK TABLES … READ
/// until every row is read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_reload_the_snapshot_read_locks_the_captured_tables() {
    let (db, prefix, sid, name) = names("lktab", 0);
    fresh_db(&db);
    user(&name, &format!("{NO_RELOAD}, LOCK TABLES"));
    let c = config(&db, &prefix, sid, Some(&name), "minimal");
    let ids = snapshot_then_stream(&c, &db).await;
    assert_eq!(ids, vec![1, 2, 3]);
    let lines = lines_of(&prefix);
    let refused = at(&lines, "unable to flush and acquire global read lock");
    let locked = at(
        &lines,
        &format!("statement=LOCK TABLES `{db}`.`a` READ, `{db}`.`b` READ"),
    );
    let kept = at(
        &lines,
        "the locks cannot be released until all tables are read",
    );
    let last_export = at(&lines, &format!("table={db}.b"));
    let released = at(&lines, "released the table read locks");
    assert!(
        refused < locked && locked < kept && kept < last_export && last_export < released,
        "{lines:#?}"
    );
    assert!(lines[refused].contains("RELOAD"), "{}", lines[refused]);
    sql(&format!("DROP DATABASE {db}; DROP USER '{name}'@'%'"));
}

/// Without RELOAD nor LOCK TABLES the snapshot cannot keep writes out:
/// Debezium's error, naming the privilege and the mode to change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_reload_or_lock_tables_the_snapshot_fails_naming_the_privilege() {
    let (db, prefix, sid, name) = names("lknone", 1);
    fresh_db(&db);
    user(&name, NO_RELOAD);
    let mut task = MySqlSourceTask::default();
    task.start(
        &config(&db, &prefix, sid, Some(&name), "minimal"),
        context(),
    )
    .await
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let err = loop {
        match task.poll().await {
            Err(e) => break e,
            Ok(recs) => assert!(
                recs.is_empty() && Instant::now() < deadline,
                "records or no error: {recs:#?}"
            ),
        }
    };
    let m = err.to_string();
    assert!(
        m.contains("does not have the 'LOCK TABLES' privilege")
            && m.contains(&name)
            && m.contains("snapshot.locking.mode=none"),
        "{m}"
    );
    assert!(!err.is_retriable(), "{m}");
    let _ = task.stop().await;
    sql(&format!("DROP DATABASE {db}; DROP USER '{name}'@'%'"));
}

/// `none`: no lock statement at all, so the same user (no RELOAD, no LOCK
/// TABLES) takes the snapshot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn none_takes_no_lock() {
    let (db, prefix, sid, name) = names("lkoff", 2);
    fresh_db(&db);
    user(&name, NO_RELOAD);
    let c = config(&db, &prefix, sid, Some(&name), "none");
    let ids = snapshot_then_stream(&c, &db).await;
    assert_eq!(ids, vec![1, 2, 3]);
    let lines = lines_of(&prefix);
    at(
        &lines,
        "snapshot.locking.mode=none: the snapshot takes no lock",
    );
    assert!(
        !lines
            .iter()
            .any(|l| l.contains("LOCK") || l.contains("released")),
        "{lines:#?}"
    );
    sql(&format!("DROP DATABASE {db}; DROP USER '{name}'@'%'"));
}

/// With RELOAD: `minimal` releases the global read lock before the rows
/// are read, `extended` after the last table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn minimal_releases_the_global_lock_before_the_rows_extended_after() {
    for (k, mode) in [(3, "minimal"), (4, "extended")] {
        let (db, prefix, sid, _) = names(&format!("lk{mode}"), k);
        fresh_db(&db);
        let ids = snapshot_then_stream(&config(&db, &prefix, sid, None, mode), &db).await;
        assert_eq!(ids, vec![1, 2, 3]);
        let lines = lines_of(&prefix);
        let locked = at(&lines, "statement=FLUSH TABLES WITH READ LOCK");
        let first_export = at(&lines, &format!("table={db}.a"));
        let last_export = at(&lines, &format!("table={db}.b"));
        let released = at(&lines, "released the global read lock");
        assert!(locked < first_export, "{mode}: {lines:#?}");
        if mode == "minimal" {
            assert!(released < first_export, "{mode}: {lines:#?}");
        } else {
            assert!(last_export < released, "{mode}: {lines:#?}");
        }
        assert!(
            !lines.iter().any(|l| l.contains("table read lock")),
            "{mode}: {lines:#?}"
        );
        sql(&format!("DROP DATABASE {db}"));
    }
}
