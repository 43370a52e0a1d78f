//! End-to-end tests of the JDBC source (`io.confluent.connect.jdbc.JdbcSourceConnector`)
//! against the real services: the `velocity` binary polls real PostgreSQL
//! and MariaDB tables into the real broker.
//!
//! - `timestamp+incrementing` finds every insert and update, including a
//!   row whose transaction commits late with an older timestamp (within
//!   `timestamp.delay.interval.ms`), and resumes from its stored offset
//!   after a restart without losing or repeating anything (PostgreSQL and
//!   MariaDB).
//! - `hash` mode finds inserts, updates and deletes in tables without a
//!   timestamp column and, after a restart with changes made while it was
//!   down, emits exactly those changes (no re-emission of unchanged rows,
//!   deletes made while down are found) (PostgreSQL and MariaDB).
//! - `velocity.output.format=debezium` events go through the domain
//!   pipeline (cast → filter → map) into domain events.
//!
//! The tests fail (they do not skip) when a service is down.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{consume_until, env, failed_trace, psql, unique, wait_until, Kv, Worker};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(90);

/// Runs SQL against the MariaDB test database as the test user (TCP);
/// returns tab-separated output; panics with the client's stderr on failure.
fn maria(stmt: &str) -> String {
    let out = Command::new("mariadb")
        .arg("--no-defaults")
        .args([
            "-h",
            &env("VELOCITY_MARIADB_HOST", "127.0.0.1"),
            "-P",
            &env("VELOCITY_MARIADB_PORT", "53306"),
            "-u",
            &env("VELOCITY_MARIADB_USER", "velocity"),
        ])
        .arg(format!(
            "-p{}",
            env("VELOCITY_MARIADB_PASSWORD", "velocity")
        ))
        .args([
            "-N",
            "-B",
            "-D",
            &env("VELOCITY_MARIADB_DB", "velocity"),
            "-e",
        ])
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

/// A test database: a fresh PostgreSQL database (as superuser) or the
/// shared MariaDB test database (as the test user).
#[derive(Clone)]
enum Backend {
    /// A PostgreSQL database of this name.
    Pg(String),
    /// The MariaDB test database.
    Maria,
}

impl Backend {
    /// A new PostgreSQL database named after `label`.
    fn new_pg(label: &str) -> Backend {
        let db = unique(label);
        psql("postgres", &["-c", &format!("CREATE DATABASE {db}")]);
        Backend::Pg(db)
    }

    /// Runs `stmt`; returns the rows, one a line, columns tab-separated.
    fn sql(&self, stmt: &str) -> String {
        match self {
            Backend::Pg(db) => psql(db, &["-c", stmt]),
            Backend::Maria => maria(stmt),
        }
    }

    fn url(&self) -> String {
        match self {
            Backend::Pg(db) => format!(
                "jdbc:postgresql://{}:{}/{db}",
                env("VELOCITY_PG_HOST", "127.0.0.1"),
                env("VELOCITY_PG_PORT", "55432"),
            ),
            Backend::Maria => format!(
                "jdbc:mariadb://{}:{}/{}",
                env("VELOCITY_MARIADB_HOST", "127.0.0.1"),
                env("VELOCITY_MARIADB_PORT", "53306"),
                env("VELOCITY_MARIADB_DB", "velocity")
            ),
        }
    }

    fn creds(&self) -> (String, String) {
        match self {
            Backend::Pg(_) => (
                env("VELOCITY_PG_SUPERUSER", "postgres"),
                env("VELOCITY_PG_SUPERUSER_PASSWORD", "postgres"),
            ),
            Backend::Maria => (
                env("VELOCITY_MARIADB_USER", "velocity"),
                env("VELOCITY_MARIADB_PASSWORD", "velocity"),
            ),
        }
    }

    /// The current time with microseconds.
    fn now(&self) -> &'static str {
        match self {
            Backend::Pg(_) => "now()",
            Backend::Maria => "CURRENT_TIMESTAMP(6)",
        }
    }

    /// A statement that waits one second.
    fn sleep_1s(&self) -> &'static str {
        match self {
            Backend::Pg(_) => "SELECT pg_sleep(1)",
            Backend::Maria => "DO SLEEP(1)",
        }
    }

    /// `stmts` in one transaction, `{t}` replaced by `table`, `{now}` by the clock.
    fn tx(&self, table: &str, stmts: &str) {
        self.sql(&format!(
            "BEGIN; {}; COMMIT;",
            stmts.replace("{t}", table).replace("{now}", self.now())
        ));
    }

    /// The primary keys (`1,2,…`) the hash state holds for `connector`.
    fn state_keys(&self, connector: &str) -> String {
        let pks = self.sql(&format!(
            "SELECT pk FROM velocity_jdbc_source_hash_state WHERE connector = '{connector}' ORDER BY pk"
        ));
        pks.lines()
            .map(|l| l.trim_matches(|c| matches!(c, '[' | ']' | '"')))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Drops what the test created.
    fn drop(&self, table: &str) {
        match self {
            Backend::Pg(db) => {
                psql(
                    "postgres",
                    &["-c", &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")],
                );
            }
            Backend::Maria => {
                maria(&format!("DROP TABLE {table}"));
                maria(&format!(
                    "DELETE FROM velocity_jdbc_source_hash_state WHERE source_table LIKE '%.{table}'"
                ));
            }
        }
    }
}

/// A JDBC source connector file in `dir` with plain JSON converters
/// (schemas off) and `extra` keys.
fn connector_file(dir: &Path, name: &str, db: &Backend, extra: Value) -> PathBuf {
    let (user, password) = db.creds();
    let mut config = json!({
        "connector.class": "jdbc-source",
        "connection.url": db.url(),
        "connection.user": user,
        "connection.password": password,
        "poll.interval.ms": "300",
        "key.converter": "org.apache.kafka.connect.json.JsonConverter",
        "key.converter.schemas.enable": "false",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter.schemas.enable": "false",
        "topic.creation.default.partitions": "1",
        "topic.creation.default.replication.factor": "1",
    });
    for (k, v) in extra.as_object().unwrap() {
        config[k] = v.clone();
    }
    let p = dir.join(format!("{name}.json"));
    std::fs::write(&p, json!({"name": name, "config": config}).to_string()).unwrap();
    p
}

/// (key, value) as JSON (None for a null key or a tombstone).
fn parsed(recs: &[Kv]) -> Vec<(Option<Value>, Option<Value>)> {
    recs.iter()
        .map(|(k, v)| {
            (
                k.as_ref().and_then(|k| serde_json::from_slice(k).ok()),
                v.as_ref().and_then(|v| serde_json::from_slice(v).ok()),
            )
        })
        .collect()
}

/// The `name` of plain row values, in order (every version of a row has
/// its own name in these tests).
fn names(recs: &[Kv]) -> Vec<String> {
    parsed(recs)
        .into_iter()
        .filter_map(|(_, v)| Some(v?["name"].as_str()?.to_owned()))
        .collect()
}

/// A Debezium event as (op, key id, before.name, after.name).
type Event = (String, i64, Option<String>, Option<String>);

/// Debezium events as (op, id, before.name, after.name); tombstones as ("tombstone", key id).
fn events(recs: &[Kv]) -> Vec<Event> {
    parsed(recs)
        .into_iter()
        .map(|(k, v)| match v {
            None => (
                "tombstone".to_owned(),
                k.as_ref().and_then(|k| k["id"].as_i64()).unwrap_or(-1),
                None,
                None,
            ),
            Some(v) => {
                let key_id = k.as_ref().and_then(|k| k["id"].as_i64()).unwrap_or(-1);
                let name = |side: &str| v[side]["name"].as_str().map(str::to_owned);
                (
                    v["op"].as_str().unwrap_or("?").to_owned(),
                    key_id,
                    name("before"),
                    name("after"),
                )
            }
        })
        .collect()
}

fn ev(op: &str, id: i64, before: Option<&str>, after: Option<&str>) -> Event {
    (
        op.to_owned(),
        id,
        before.map(str::to_owned),
        after.map(str::to_owned),
    )
}

fn contains_all(got: &[String], want: &[&str]) -> bool {
    want.iter().all(|n| got.iter().any(|g| g == n))
}

/// A connector (unique name and topic prefix) polling `table` of `db`.
struct Scenario {
    dir: tempfile::TempDir,
    topic: String,
    name: String,
    conn: PathBuf,
}

impl Scenario {
    fn new(label: &str, db: &Backend, table: &str, mut extra: Value) -> Scenario {
        let dir = tempfile::tempdir().unwrap();
        let prefix = format!("{}-", unique(label).replace('_', "-"));
        let name = unique(label);
        extra["table.include.list"] = json!(table);
        extra["topic.prefix"] = json!(prefix);
        let conn = connector_file(dir.path(), &name, db, extra);
        Scenario {
            dir,
            topic: format!("{prefix}{table}"),
            name,
            conn,
        }
    }
}

/// timestamp+incrementing on `db`'s `table` (id, name, updated_at): every
/// insert and update is found, including a row whose transaction stamps it
/// with the current time and commits a second later (inside the 2 s
/// delay); after a stop, changes made while down arrive and nothing is
/// emitted twice.
fn timestamp_incrementing_scenario(label: &str, db: &Backend, table: &str) {
    let Scenario {
        dir,
        topic,
        name,
        conn,
    } = Scenario::new(
        label,
        db,
        table,
        json!({
            "mode": "timestamp+incrementing",
            "incrementing.column.name": "id",
            "timestamp.column.name": "updated_at",
            "timestamp.delay.interval.ms": "2000",
        }),
    );
    db.tx(table, "INSERT INTO {t} (name) VALUES ('a'), ('b')");
    let mut w = Worker::start(dir.path(), "", &[conn]);
    w.wait_status(&name, |s| s["tasks"][0]["state"] == "RUNNING");
    let got = consume_until(&topic, WAIT, |r| names(r).len() >= 2);
    assert!(
        contains_all(&names(&got), &["a", "b"]),
        "initial rows: {:?}; log:\n{}",
        names(&got),
        w.log_text()
    );

    // a transaction stamps its row with the current time and commits a
    // second later; meanwhile a newer row and an update commit at once
    let late = {
        let (db, table) = (db.clone(), table.to_owned());
        std::thread::spawn(move || {
            db.sql(&format!(
                "BEGIN; INSERT INTO {table} (name, updated_at) VALUES ('late', {}); {}; COMMIT;",
                db.now(),
                db.sleep_1s()
            ));
        })
    };
    std::thread::sleep(Duration::from_millis(200));
    db.tx(table, "INSERT INTO {t} (name) VALUES ('c')");
    db.tx(
        table,
        "UPDATE {t} SET name = 'b2', updated_at = {now} WHERE name = 'b'",
    );
    late.join().unwrap();
    let want = ["a", "b", "late", "c", "b2"];
    let got = consume_until(&topic, WAIT, |r| contains_all(&names(r), &want));
    assert!(
        contains_all(&names(&got), &want),
        "every insert, update and the late commit: {:?}; log:\n{}",
        names(&got),
        w.log_text()
    );

    // stop, change rows while down, start again: resumes from the stored offset
    w.stop();
    db.tx(table, "INSERT INTO {t} (name) VALUES ('d')");
    db.tx(
        table,
        "UPDATE {t} SET name = 'a2', updated_at = {now} WHERE name = 'a'",
    );
    w.restart();
    let want = ["a", "b", "late", "c", "b2", "d", "a2"];
    let got = consume_until(&topic, WAIT, |r| contains_all(&names(r), &want));
    let got = names(&got);
    assert!(
        contains_all(&got, &want),
        "changes made while down: {got:?}; log:\n{}",
        w.log_text()
    );
    let mut once = got.clone();
    once.sort();
    once.dedup();
    assert_eq!(
        once.len(),
        got.len(),
        "nothing emitted twice across the restart: {got:?}"
    );
}

#[test]
fn postgres_timestamp_incrementing_finds_inserts_updates_late_commits_and_resumes() {
    let db = Backend::new_pg("jsrc_pg_ts");
    db.sql(
        "CREATE TABLE item (id serial PRIMARY KEY, name text NOT NULL, \
         updated_at timestamp(6) NOT NULL DEFAULT now())",
    );
    timestamp_incrementing_scenario("pgts", &db, "item");
    db.drop("item");
}

#[test]
fn mariadb_timestamp_incrementing_finds_inserts_updates_late_commits_and_resumes() {
    let db = Backend::Maria;
    let table = unique("jsrc_ts").to_lowercase();
    db.sql(&format!(
        "CREATE TABLE {table} (id int AUTO_INCREMENT PRIMARY KEY, name varchar(50) NOT NULL, \
         updated_at datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6))"
    ));
    timestamp_incrementing_scenario("myts", &db, &table);
    db.drop(&table);
}

/// hash mode with Debezium output on `db`'s `table` (id, name; no
/// timestamp column): creates, then one transaction's update, create and
/// delete, then a stop, changes made while down and a start: exactly those
/// changes arrive, in order, and unchanged rows are never emitted again.
fn hash_scenario(label: &str, db: &Backend, table: &str) {
    let Scenario {
        dir,
        topic,
        name,
        conn,
    } = Scenario::new(
        label,
        db,
        table,
        json!({"mode": "hash", "velocity.output.format": "debezium"}),
    );
    db.tx(
        table,
        "INSERT INTO {t} (id, name) VALUES (1, 'a'), (2, 'b'), (3, 'c')",
    );
    let mut w = Worker::start(dir.path(), "", &[conn]);
    let done = |want: usize| move |r: &[Kv]| r.len() >= want;
    let got = consume_until(&topic, WAIT, done(3));
    let mut want = vec![
        ev("c", 1, None, Some("a")),
        ev("c", 2, None, Some("b")),
        ev("c", 3, None, Some("c")),
    ];
    assert_eq!(events(&got), want, "creates; log:\n{}", w.log_text());
    wait_until(WAIT, "the state of the first cycle", || {
        db.state_keys(&name) == "1,2,3"
    });

    // one transaction: update 2, delete 3, insert 4
    let mut step = |w: &Worker, want_more: [Event; 4], state: &str, what: &str| {
        want.extend(want_more);
        let got = consume_until(&topic, WAIT, done(want.len()));
        assert_eq!(events(&got), want, "{what}; log:\n{}", w.log_text());
        wait_until(WAIT, "the state of the cycle", || {
            db.state_keys(&name) == state
        });
    };
    db.tx(
        table,
        "UPDATE {t} SET name = 'b2' WHERE id = 2; DELETE FROM {t} WHERE id = 3; \
         INSERT INTO {t} (id, name) VALUES (4, 'd')",
    );
    step(
        &w,
        [
            ev("u", 2, Some("b"), Some("b2")),
            ev("c", 4, None, Some("d")),
            ev("d", 3, Some("c"), None),
            ev("tombstone", 3, None, None),
        ],
        "1,2,4",
        "update, create, delete",
    );

    // stop; update 1, delete 4, insert 5 while down; start again
    w.stop();
    db.tx(
        table,
        "UPDATE {t} SET name = 'a2' WHERE id = 1; DELETE FROM {t} WHERE id = 4; \
         INSERT INTO {t} (id, name) VALUES (5, 'e')",
    );
    w.restart();
    step(
        &w,
        [
            ev("u", 1, Some("a"), Some("a2")),
            ev("c", 5, None, Some("e")),
            ev("d", 4, Some("d"), None),
            ev("tombstone", 4, None, None),
        ],
        "1,2,5",
        "exactly the changes made while down",
    );
    // later cycles find nothing new
    std::thread::sleep(Duration::from_millis(1500));
    let got = consume_until(&topic, Duration::from_secs(5), done(want.len() + 1));
    assert_eq!(events(&got), want, "no re-emission of unchanged rows");
}

#[test]
fn postgres_hash_mode_finds_inserts_updates_deletes_and_resumes() {
    let db = Backend::new_pg("jsrc_pg_hash");
    db.sql("CREATE TABLE reg (id integer PRIMARY KEY, name text)");
    hash_scenario("pghash", &db, "reg");
    db.drop("reg");
}

#[test]
fn mariadb_hash_mode_finds_inserts_updates_deletes_and_resumes() {
    let db = Backend::Maria;
    let table = unique("jsrc_hash").to_lowercase();
    db.sql(&format!(
        "CREATE TABLE {table} (id int PRIMARY KEY, name varchar(50))"
    ));
    hash_scenario("myhash", &db, &table);
    db.drop(&table);
}

#[test]
fn debezium_output_feeds_the_domain_pipeline() {
    let db = Backend::new_pg("jsrc_pg_dom");
    db.sql(
        "CREATE TABLE note (id integer PRIMARY KEY, body text NOT NULL, weight numeric(6,2)); \
         INSERT INTO note VALUES (1, 'first', 1.50);",
    );
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique("dom").replace('_', "");
    let domain_topic = format!("{prefix}.domain.notes");
    let conn = connector_file(
        dir.path(),
        "notes-jdbc-domain",
        &db,
        json!({
            "mode": "hash",
            "table.include.list": "public.note",
            "topic.prefix": format!("{prefix}."),
            "velocity.output.format": "debezium",
            "transforms": "cast,filter,map",
            "transforms.cast.type": "domain-cast",
            "transforms.filter.type": "domain-filter",
            "transforms.map.type": "domain-map",
            "transforms.map.topic": format!("{prefix}.domain.${{table}}s"),
            "transforms.map.event.type": "Note${Op}",
            "transforms.map.key": "id",
            "transforms.map.fields": "noteId,text,weight",
            "transforms.map.field.noteId": "id",
            "transforms.map.field.text": "body",
        }),
    );
    let w = Worker::start(dir.path(), "", &[conn]);
    let first = consume_until(&domain_topic, WAIT, |r| !r.is_empty());
    assert_eq!(first.len(), 1, "created event; log:\n{}", w.log_text());
    wait_until(WAIT, "the first cycle's state", || {
        db.state_keys("notes-jdbc-domain") == "1"
    });
    db.sql("UPDATE note SET body = 'second' WHERE id = 1");
    let two = consume_until(&domain_topic, WAIT, |r| r.len() >= 2);
    assert_eq!(two.len(), 2, "updated event; log:\n{}", w.log_text());
    wait_until(WAIT, "the second cycle's state", || {
        db.sql(
            "SELECT count(*) FROM velocity_jdbc_source_hash_state WHERE row_data LIKE '%second%'",
        ) == "1"
    });
    db.sql("DELETE FROM note WHERE id = 1");
    let recs = consume_until(&domain_topic, WAIT, |r| r.len() >= 3);
    let got: Vec<(String, Value, Option<Value>)> = parsed(&recs)
        .into_iter()
        .map(|(k, v)| {
            let v = v.unwrap_or(Value::Null);
            (
                v["type"].as_str().unwrap_or("?").to_owned(),
                v["data"].clone(),
                k,
            )
        })
        .collect();
    let kinds: Vec<(&str, i64, &str, &str)> = got
        .iter()
        .map(|(t, d, _)| {
            (
                t.as_str(),
                d["noteId"].as_i64().unwrap_or(-1),
                d["text"].as_str().unwrap_or("?"),
                d["weight"].as_str().unwrap_or("?"),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("NoteCreated", 1, "first", "1.50"),
            ("NoteUpdated", 1, "second", "1.50"),
            ("NoteDeleted", 1, "second", "1.50"),
        ],
        "domain events; log:\n{}",
        w.log_text()
    );
    for (_, _, k) in &got {
        assert_eq!(k.as_ref(), Some(&json!(1)), "key is the note id");
    }
    drop(w);
    db.drop("note");
}

#[test]
fn rest_validation_names_each_broken_key_once() {
    let dir = tempfile::tempdir().unwrap();
    let w = Worker::start(dir.path(), "", &[]);
    let config = json!({
        "name": "jdbc-source-validate",
        "connector.class": "io.confluent.connect.jdbc.JdbcSourceConnector",
        "connection.url": "jdbc:postgresql://127.0.0.1:1/x",
        "connection.user": "u",
        "mode": "timestamp+incrementing",
        "topic.prefix": "bad prefix",
        "batch.max.rows": "0",
    });
    let (c, v) = w.call(
        "PUT",
        "/connector-plugins/jdbc-source/config/validate",
        Some(&config.to_string()),
    );
    assert_eq!(c, 200, "{v}");
    let errs_of = |key: &str| -> Vec<String> {
        v["configs"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["value"]["name"] == key)
            .flat_map(|c| c["value"]["errors"].as_array().unwrap().clone())
            .filter_map(|e| e.as_str().map(str::to_owned))
            .collect()
    };
    for key in [
        "incrementing.column.name",
        "timestamp.column.name",
        "topic.prefix",
        "batch.max.rows",
    ] {
        let errs = errs_of(key);
        assert_eq!(errs.len(), 1, "{key}: {errs:?}; {v}");
        assert!(errs[0].contains(key), "{key}: {errs:?}");
    }
    assert_eq!(v["error_count"], json!(4), "{v}");
}

#[test]
fn wrong_password_and_unreachable_database_fail_naming_the_keys() {
    let db = Backend::new_pg("jsrc_pg_bad");
    db.sql("CREATE TABLE t (id integer PRIMARY KEY)");
    let dir = tempfile::tempdir().unwrap();
    let bad_pw = connector_file(
        dir.path(),
        "jdbc-bad-password",
        &db,
        json!({
            "mode": "bulk",
            "topic.prefix": "jsrc-bad-",
            "connection.password": "not-the-password-42",
            "connection.attempts": "1",
        }),
    );
    let Backend::Pg(db_name) = &db else {
        unreachable!()
    };
    let unreachable = connector_file(
        dir.path(),
        "jdbc-unreachable",
        &db,
        json!({
            "mode": "bulk",
            "topic.prefix": "jsrc-bad-",
            "connection.url": format!("jdbc:postgresql://127.0.0.1:1/{db_name}"),
            "connection.attempts": "1",
            "errors.max.retries": "0",
        }),
    );
    let w = Worker::start(dir.path(), "", &[bad_pw, unreachable]);
    let trace = failed_trace(&w, "jdbc-bad-password");
    assert!(
        trace.contains("connection.user") && trace.contains("connection.password"),
        "{trace}"
    );
    assert!(!trace.contains("not-the-password-42"), "{trace}");
    let trace = failed_trace(&w, "jdbc-unreachable");
    assert!(
        trace.contains("connection.url") && trace.contains("127.0.0.1:1"),
        "{trace}"
    );
    drop(w);
    db.drop("t");
}

#[test]
fn query_mode_with_incrementing_uses_the_prefix_as_topic_and_resumes() {
    let db = Backend::new_pg("jsrc_pg_query");
    db.sql(
        "CREATE TABLE item (id serial PRIMARY KEY, name text NOT NULL, secret text); \
         INSERT INTO item (name, secret) VALUES ('a', 'x'), ('skip', 'x'), ('b', 'x')",
    );
    let dir = tempfile::tempdir().unwrap();
    let topic = unique("jsrc-query").replace('_', "-");
    let conn = connector_file(
        dir.path(),
        "jdbc-query",
        &db,
        json!({
            "mode": "incrementing",
            "incrementing.column.name": "id",
            "query": "SELECT id, name FROM item WHERE name <> 'skip'",
            "topic.prefix": topic,
            "batch.max.rows": "1",
        }),
    );
    let mut w = Worker::start(dir.path(), "", &[conn]);
    let got = consume_until(&topic, WAIT, |r| names(r).len() >= 2);
    assert_eq!(names(&got), ["a", "b"], "log:\n{}", w.log_text());
    let values = parsed(&got);
    let first = values[0].1.as_ref().unwrap();
    assert_eq!(
        first.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["id", "name"],
        "only the query's columns: {first}"
    );
    w.stop();
    let offsets = std::fs::read_to_string(dir.path().join("offsets.json")).unwrap();
    assert!(
        offsets.contains(r#"{\"query\":\"query\"}"#) || offsets.contains(r#"{"query":"query"}"#),
        "Confluent's query partition: {offsets}"
    );
    db.sql("INSERT INTO item (name) VALUES ('c')");
    w.restart();
    let got = consume_until(&topic, WAIT, |r| names(r).len() >= 3);
    assert_eq!(names(&got), ["a", "b", "c"], "log:\n{}", w.log_text());
    drop(w);
    db.drop("item");
}

#[test]
fn tables_are_split_over_tasks_max_tasks() {
    let db = Backend::new_pg("jsrc_pg_tasks");
    db.sql(
        "CREATE TABLE one (id serial PRIMARY KEY, name text NOT NULL); \
         CREATE TABLE two (id serial PRIMARY KEY, name text NOT NULL); \
         CREATE TABLE three (id serial PRIMARY KEY, name text NOT NULL); \
         INSERT INTO one (name) VALUES ('one-a'); INSERT INTO two (name) VALUES ('two-a'); \
         INSERT INTO three (name) VALUES ('three-a');",
    );
    let dir = tempfile::tempdir().unwrap();
    let prefix = format!("{}-", unique("jsrc-tasks").replace('_', "-"));
    let conn = connector_file(
        dir.path(),
        "jdbc-tasks",
        &db,
        json!({
            "mode": "incrementing",
            "incrementing.column.name": "id",
            "table.exclude.list": "public.three",
            "topic.prefix": prefix,
            "tasks.max": "2",
        }),
    );
    let w = Worker::start(dir.path(), "", &[conn]);
    let st = w.wait_status("jdbc-tasks", |s| {
        s["tasks"]
            .as_array()
            .is_some_and(|t| t.len() == 2 && t.iter().all(|t| t["state"] == "RUNNING"))
    });
    for (table, name) in [("one", "one-a"), ("two", "two-a")] {
        let got = consume_until(&format!("{prefix}{table}"), WAIT, |r| !r.is_empty());
        assert_eq!(names(&got), [name], "{st}; log:\n{}", w.log_text());
    }
    let three = consume_until(&format!("{prefix}three"), Duration::from_secs(3), |r| {
        !r.is_empty()
    });
    assert!(three.is_empty(), "the excluded table is not polled");
    drop(w);
    db.drop("one");
}

#[test]
fn timestamp_incrementing_debezium_events_tell_creates_from_updates() {
    let db = Backend::new_pg("jsrc_pg_tsdbz");
    db.sql(
        "CREATE TABLE item (id serial PRIMARY KEY, name text NOT NULL, \
         updated_at timestamp(6) NOT NULL DEFAULT now()); \
         INSERT INTO item (name) VALUES ('a');",
    );
    let Scenario {
        dir,
        topic,
        name: _,
        conn,
    } = Scenario::new(
        "pgtsdbz",
        &db,
        "item",
        json!({
            "mode": "timestamp+incrementing",
            "incrementing.column.name": "id",
            "timestamp.column.name": "updated_at",
            "velocity.output.format": "debezium",
        }),
    );
    let w = Worker::start(dir.path(), "", &[conn]);
    let got = consume_until(&topic, WAIT, |r| !r.is_empty());
    assert_eq!(
        events(&got),
        [ev("c", 1, None, Some("a"))],
        "log:\n{}",
        w.log_text()
    );
    db.tx(
        "item",
        "UPDATE {t} SET name = 'a2', updated_at = {now} WHERE id = 1",
    );
    let got = consume_until(&topic, WAIT, |r| r.len() >= 2);
    db.tx("item", "INSERT INTO {t} (name) VALUES ('b')");
    let got = consume_until(&topic, WAIT, |r| r.len() > got.len());
    assert_eq!(
        events(&got),
        [
            ev("c", 1, None, Some("a")),
            ev("u", 1, None, Some("a2")),
            ev("c", 2, None, Some("b")),
        ],
        "log:\n{}",
        w.log_text()
    );
    drop(w);
    db.drop("item");
}
