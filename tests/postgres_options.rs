//! PostgreSQL source options of Debezium's that shape what the connector
//! does to the database at start, against the real server and broker:
//! `publication.autocreate.mode=no_tables`, the `publish` parameter from
//! `skipped.operations`, `replica.identity.autoset.values` and
//! `snapshot.mode=configuration_based`.

mod common;

use std::time::Duration;

use common::{consume_until, pg_connector_file, psql, unique, wait_until, Worker};
use serde_json::{json, Value};

fn fresh_db(table_sql: &str) -> String {
    let db = unique("pgopt");
    psql("postgres", &["-c", &format!("CREATE DATABASE {db}")]);
    psql(&db, &["-c", table_sql]);
    db
}

/// A worker running one PostgreSQL source `src` on `db` (fresh prefix,
/// slot and publication named as the slot), once its task runs and its
/// slot is active: (prefix, slot, the worker's directory, the worker).
fn start_streaming(db: &str, extra: Value) -> (String, String, tempfile::TempDir, Worker) {
    let prefix = unique("p").replace('_', "");
    let slot = unique("slot").to_lowercase();
    let dir = tempfile::tempdir().unwrap();
    let conn = pg_connector_file(dir.path(), "src", db, &prefix, &slot, extra);
    let w = Worker::start(dir.path(), "", &[conn]);
    w.wait_status("src", |s| s["tasks"][0]["state"] == "RUNNING");
    wait_until(Duration::from_secs(60), "the slot to be active", || {
        psql("postgres", &["-c", &format!("SELECT count(*) FROM pg_replication_slots WHERE slot_name = '{slot}' AND active")]) == "1"
    });
    (prefix, slot, dir, w)
}

use common::change_ops as ops;

/// The publication's `pubinsert, pubupdate, pubdelete, pubtruncate,
/// puballtables` and its tables, as psql prints them.
fn publication(db: &str, name: &str) -> (String, String) {
    let flags = psql(db, &["-c", &format!("SELECT pubinsert, pubupdate, pubdelete, pubtruncate, puballtables FROM pg_publication WHERE pubname = '{name}'")]);
    let tables = psql(db, &["-c", &format!("SELECT string_agg(schemaname || '.' || tablename, ',' ORDER BY tablename) FROM pg_publication_tables WHERE pubname = '{name}'")]);
    (flags, tables)
}

/// `publication.autocreate.mode=no_tables`: the connector creates the
/// publication with no table (`CREATE PUBLICATION p WITH (publish =
/// 'insert,update,truncate')` for `skipped.operations=d`), still snapshots
/// the captured tables, streams nothing until the user adds a table to the
/// publication, then streams that table's changes.
#[test]
fn no_tables_publication_streams_only_the_tables_the_user_adds() {
    let db = fresh_db(
        "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'a'), (2, 'b')",
    );
    let (prefix, slot, _dir, mut w) = start_streaming(
        &db,
        json!({"publication.autocreate.mode": "no_tables", "skipped.operations": "d"}),
    );
    let topic = format!("{prefix}.public.t");
    let (flags, tables) = publication(&db, &slot);
    // not in the publication: never streamed
    psql(&db, &["-c", "INSERT INTO t VALUES (3, 'c')"]);
    psql(
        &db,
        &["-c", &format!("ALTER PUBLICATION {slot} ADD TABLE t")],
    );
    psql(
        &db,
        &[
            "-c",
            "INSERT INTO t VALUES (4, 'd'); DELETE FROM t WHERE id = 4; INSERT INTO t VALUES (5, 'e')",
        ],
    );
    let got = ops(&topic, |e| e.iter().any(|(_, id)| *id == 5));
    let log = w.log_text();
    w.stop();
    common::pg_drop_db(&db, &slot);
    assert_eq!(
        (flags.as_str(), tables.as_str()),
        ("t|t|f|t|f", ""),
        "the publication as created; log:\n{log}"
    );
    assert!(
        log.contains("Creating publication with statement 'CREATE PUBLICATION")
            && log.contains(" WITH (publish = 'insert,update,truncate')'"),
        "Debezium's log line; log:\n{log}"
    );
    let want: Vec<(String, i64)> = [("r", 1), ("r", 2), ("c", 4), ("c", 5)]
        .iter()
        .map(|(op, id)| ((*op).to_owned(), *id))
        .collect();
    assert_eq!(got, want, "log:\n{log}");
}

/// `publication.autocreate.mode=filtered` with `skipped.operations` set and
/// the publication already there (created by hand for all operations): the
/// connector sets its tables and its `publish` parameter to the operations
/// not skipped.
#[test]
fn filtered_publication_gets_the_publish_parameter_of_skipped_operations() {
    let db = fresh_db("CREATE TABLE t (id int PRIMARY KEY); CREATE TABLE u (id int PRIMARY KEY)");
    let slot_hint = unique("pubx").to_lowercase();
    psql(
        &db,
        &["-c", &format!("CREATE PUBLICATION {slot_hint} FOR TABLE u")],
    );
    let (_prefix, slot, _dir, mut w) = start_streaming(
        &db,
        json!({
            "publication.name": slot_hint,
            "table.include.list": "public.t",
            "skipped.operations": "u,t",
            "snapshot.mode": "no_data",
        }),
    );
    let (flags, tables) = publication(&db, &slot_hint);
    let log = w.log_text();
    w.stop();
    common::pg_drop_db(&db, &slot);
    assert_eq!(
        (flags.as_str(), tables.as_str()),
        ("t|f|t|f|f", "public.t"),
        "log:\n{log}"
    );
    assert!(
        log.contains("Updating Publication with statement"),
        "log:\n{log}"
    );
}

/// `replica.identity.autoset.values`: at start the connector sets the
/// replica identity of the captured tables an entry matches (`FULL`, `INDEX
/// <name>`), leaves a table whose identity is already right and tables no
/// entry matches, and logs Debezium's error for a table two entries match
/// (the connector still runs). With `FULL` set, a streamed update carries
/// the whole old row in `before`.
#[test]
fn replica_identity_autoset_values_alters_the_captured_tables() {
    let db = fresh_db(
        "CREATE TABLE full_t (id int PRIMARY KEY, v text); \
         CREATE TABLE idx_t (id int PRIMARY KEY, code text NOT NULL); \
         CREATE UNIQUE INDEX idx_t_code ON idx_t (code); \
         CREATE TABLE same_t (id int PRIMARY KEY); ALTER TABLE same_t REPLICA IDENTITY NOTHING; \
         CREATE TABLE both_t (id int PRIMARY KEY); \
         CREATE TABLE other_t (id int PRIMARY KEY); \
         INSERT INTO full_t VALUES (1, 'a')",
    );
    let (prefix, slot, _dir, mut w) = start_streaming(
        &db,
        json!({
            "replica.identity.autoset.values":
                "public.full_t:FULL,public.idx_t:INDEX idx_t_code,public.same_t:NOTHING,public.both.*:DEFAULT,public.both_t:FULL",
        }),
    );
    let identity = |t: &str| {
        psql(
            &db,
            &[
                "-c",
                &format!("SELECT relreplident FROM pg_class WHERE oid = 'public.{t}'::regclass"),
            ],
        )
    };
    let got: Vec<String> = ["full_t", "idx_t", "same_t", "both_t", "other_t"]
        .iter()
        .map(|t| identity(t))
        .collect();
    let idx = psql(
        &db,
        &["-c", "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = 'public.idx_t'::regclass AND i.indisreplident"],
    );
    psql(&db, &["-c", "UPDATE full_t SET v = 'b' WHERE id = 1"]);
    let topic = format!("{prefix}.public.full_t");
    let recs = consume_until(&topic, Duration::from_secs(120), |r| r.len() >= 2);
    let log = w.log_text();
    let state = w.call("GET", "/connectors/src/status", None).1;
    w.stop();
    common::pg_drop_db(&db, &slot);
    assert_eq!(got, ["f", "i", "n", "d", "d"], "log:\n{log}");
    assert_eq!(idx, "idx_t_code");
    assert_eq!(state["tasks"][0]["state"], "RUNNING", "{state}");
    let update: Value = serde_json::from_slice(recs[1].1.as_ref().unwrap()).unwrap();
    assert_eq!(update["payload"]["op"], "u");
    assert_eq!(
        update["payload"]["before"],
        json!({"id": 1, "v": "a"}),
        "FULL: the whole old row"
    );
    for line in [
        "Updating Replica Identity",
        "Replica identity set to FULL for table 'public.full_t'",
        "Replica identity set to USING INDEX idx_t_code for table 'public.idx_t'",
        "Replica identity for table 'public.same_t' is already NOTHING",
        "Unable to update Replica Identity for table public.both_t",
        "More than one Regular expressions matched table public.both_t",
    ] {
        assert!(log.contains(line), "{line:?} in the log:\n{log}");
    }
}

/// `snapshot.mode=configuration_based`: with `.snapshot.data=true` and
/// `.start.stream=false` the connector snapshots and stops there (Debezium's
/// log line, later changes not streamed); reconfigured to `.start.stream=true`
/// it streams from the stored position (the change made meanwhile, no new
/// snapshot); with the slot dropped, it fails with the "no longer available"
/// error, and with `.snapshot.on.data.error=true` takes a new snapshot.
#[test]
fn configuration_based_snapshot_mode_follows_its_five_keys() {
    let db = fresh_db("CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1), (2)");
    let prefix = unique("p").replace('_', "");
    let slot = unique("slot").to_lowercase();
    let dir = tempfile::tempdir().unwrap();
    let conn = pg_connector_file(
        dir.path(),
        "src",
        &db,
        &prefix,
        &slot,
        json!({
            "snapshot.mode": "configuration_based",
            "snapshot.mode.configuration.based.snapshot.data": "true",
        }),
    );
    let mut w = Worker::start(dir.path(), "", &[conn]);
    let topic = format!("{prefix}.public.t");
    let snap = ops(&topic, |e| e.len() >= 2);
    wait_until(Duration::from_secs(60), "Debezium's log line", || {
        w.log_text()
            .contains("Streaming is disabled for snapshot mode configuration_based")
    });
    psql(&db, &["-c", "INSERT INTO t VALUES (3)"]);
    let patch = |w: &Worker, v: Value| {
        let (c, r) = w.call("PATCH", "/connectors/src/config", Some(&v.to_string()));
        assert_eq!(c, 200, "{r}");
    };
    patch(
        &w,
        json!({
            "snapshot.mode.configuration.based.snapshot.data": "false",
            "snapshot.mode.configuration.based.start.stream": "true",
        }),
    );
    let streamed = ops(&topic, |e| e.iter().any(|(_, id)| *id == 3));
    // the slot goes away: the stored position is no longer available
    let (c, r) = w.call("PUT", "/connectors/src/stop", None);
    assert_eq!(c, 204, "{r}");
    w.wait_status("src", |s| s["connector"]["state"] == "STOPPED");
    wait_until(Duration::from_secs(60), "the slot to be inactive", || {
        psql("postgres", &["-c", &format!("SELECT count(*) FROM pg_replication_slots WHERE slot_name = '{slot}' AND active")]) == "0"
    });
    psql(
        "postgres",
        &["-c", &format!("SELECT pg_drop_replication_slot('{slot}')")],
    );
    let (c, r) = w.call("PUT", "/connectors/src/resume", None);
    assert_eq!(c, 202, "{r}");
    let lost = common::failed_trace(&w, "src");
    patch(
        &w,
        json!({
            "snapshot.mode.configuration.based.snapshot.data": "true",
            "snapshot.mode.configuration.based.snapshot.on.data.error": "true",
        }),
    );
    let (c, r) = w.call("POST", "/connectors/src/restart?includeTasks=true", None);
    assert!(c == 202 || c == 204, "{c} {r}");
    let again = ops(&topic, |e| {
        e.iter().filter(|(op, _)| op == "r").count() >= 5
    });
    let log = w.log_text();
    w.stop();
    common::pg_drop_db(&db, &slot);
    let pairs = |v: &[(&str, i64)]| -> Vec<(String, i64)> {
        v.iter().map(|(op, id)| ((*op).to_owned(), *id)).collect()
    };
    assert_eq!(snap, pairs(&[("r", 1), ("r", 2)]), "log:\n{log}");
    assert_eq!(
        streamed,
        pairs(&[("r", 1), ("r", 2), ("c", 3)]),
        "streamed from the stored position, no new snapshot; log:\n{log}"
    );
    assert!(
        lost.contains(&slot) && lost.contains("no longer available"),
        "{lost}"
    );
    assert_eq!(
        again[3..],
        pairs(&[("r", 1), ("r", 2), ("r", 3)])[..],
        "a new snapshot fills the gap; log:\n{log}"
    );
    assert!(
        log.contains("Attempting to snapshot data to fill the gap"),
        "{log}"
    );
}
