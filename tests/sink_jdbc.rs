//! End-to-end tests of the JDBC sink against the real services: PostgreSQL
//! source → Velocity → broker → JDBC sink → PostgreSQL / MariaDB `sink`
//! databases, compared row for row with the source after a mixed workload;
//! crash recovery (SIGKILL mid-stream); and clear task failures for a bad
//! URL, wrong credentials and a missing table with `schema.evolution=none`.

mod common;
mod sink_support;

use std::path::PathBuf;
use std::time::Duration;

use common::Worker;
use serde_json::json;
use sink_support::*;

fn pg_sink_url() -> String {
    format!(
        "jdbc:postgresql://{}:{}/{}",
        env("VELOCITY_PG_HOST", "127.0.0.1"),
        env("VELOCITY_PG_PORT", "55432"),
        env("VELOCITY_PG_SINK_DB", "sink")
    )
}

fn maria_url() -> String {
    format!(
        "jdbc:mariadb://{}:{}/{}",
        env("VELOCITY_MARIADB_HOST", "127.0.0.1"),
        env("VELOCITY_MARIADB_PORT", "53306"),
        env("VELOCITY_MARIADB_SINK_DB", "sink")
    )
}

fn sink_connector(
    name: &str,
    prefix: &str,
    url: &str,
    user: &str,
    password: &str,
    extra: serde_json::Value,
) -> String {
    let mut config = json!({
        "connector.class": "jdbc",
        "topics": topics(prefix),
        "connection.url": url,
        "connection.username": user,
        "connection.password": password,
        "insert.mode": "upsert",
        "primary.key.mode": "record_key",
        "delete.enabled": "true",
        "schema.evolution": "basic",
        "consumer.override.topic.metadata.refresh.interval.ms": "1000",
    });
    for (k, v) in extra.as_object().unwrap() {
        config[k] = v.clone();
    }
    json!({"name": name, "config": config}).to_string()
}

fn write(dir: &std::path::Path, file: &str, text: &str) -> PathBuf {
    let p = dir.join(file);
    std::fs::write(&p, text).unwrap();
    p
}

struct Pipeline {
    db: String,
    slot: String,
    prefix: String,
    worker: Worker,
    _dir: tempfile::TempDir,
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        self.worker.kill9();
        drop_source(&self.db, &self.slot);
    }
}

/// Source DB with snapshot rows, worker running source + `sink_json(prefix)`.
fn pipeline(label: &str, snapshot_rows: i64, sink_json: impl Fn(&str) -> String) -> Pipeline {
    let db = create_source_db(label);
    psql(&db, &insert_sql(1, snapshot_rows));
    let prefix = unique_name(label);
    let slot = prefix.clone();
    let dir = tempfile::tempdir().unwrap();
    let src = write(
        dir.path(),
        "source.json",
        &source_connector(&format!("{prefix}-src"), &db, &prefix, &slot),
    );
    let sink = write(dir.path(), "sink.json", &sink_json(&prefix));
    let worker = Worker::start(dir.path(), "", &[src, sink]);
    Pipeline {
        db,
        slot,
        prefix,
        worker,
        _dir: dir,
    }
}

fn assert_converges(p: &Pipeline, what: &str, dump: impl Fn(bool) -> (String, String)) {
    let mut last = (String::new(), String::new());
    let ok = eventually(Duration::from_secs(120), || {
        let (src, snk) = dump(true);
        let same = src == snk && !src.is_empty();
        last = (src, snk);
        same
    });
    if !ok {
        let (src, snk) = last;
        let diff: Vec<String> = src
            .lines()
            .zip(snk.lines())
            .filter(|(a, b)| a != b)
            .take(5)
            .map(|(a, b)| format!("source: {a}\nsink:   {b}"))
            .collect();
        let status = p.worker.call("GET", "/connectors?expand=status", None).1;
        let activity = psql("postgres", "SELECT datname, application_name, state, wait_event_type, wait_event, left(query, 100) FROM pg_stat_activity WHERE datname IS NOT NULL");
        panic!(
            "{what}: sink did not converge ({} source lines, {} sink lines); first differences:\n{}\nstatus: {status}\nactivity:\n{activity}\nlog tail:\n{}",
            src.lines().count(),
            snk.lines().count(),
            diff.join("\n"),
            p.worker.log_text().lines().rev().take(40).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    }
}

fn pg_dumps(p: &Pipeline) -> impl Fn(bool) -> (String, String) + '_ {
    move |_| {
        let ship = format!("\"{}_tms_shipment\"", p.prefix);
        let legs = format!("\"{}_tms_shipment_leg\"", p.prefix);
        let exists = psql_sink(&format!("SELECT count(*) FROM pg_class WHERE relname IN ('{}_tms_shipment', '{}_tms_shipment_leg')", p.prefix, p.prefix));
        if exists.trim() != "2" {
            return (pg_shipments(&p.db, "tms.shipment", false), String::new());
        }
        (
            pg_shipments(&p.db, "tms.shipment", false) + &pg_legs(&p.db, "tms.shipment_leg", false),
            pg_shipments(&p.db, &ship, true) + &pg_legs(&p.db, &legs, true),
        )
    }
}

#[test]
fn postgres_to_postgres_tables_equal_source_row_for_row() {
    let p = pipeline("jpg", 200, |prefix| {
        sink_connector(
            &format!("{prefix}-sink"),
            prefix,
            &pg_sink_url(),
            &env("VELOCITY_PG_USER", "velocity"),
            &env("VELOCITY_PG_PASSWORD", "velocity"),
            json!({}),
        )
    });
    assert_converges(&p, "snapshot", pg_dumps(&p));
    psql(&p.db, &insert_sql(201, 300));
    psql(&p.db, CHANGES);
    assert_converges(&p, "after the mixed workload", pg_dumps(&p));
    // the sink created the tables with the source's primary keys and types
    let cols = psql_sink(&format!(
        "SELECT column_name || ':' || data_type FROM information_schema.columns WHERE table_name = '{}_tms_shipment' ORDER BY ordinal_position",
        p.prefix
    ));
    for want in [
        "weight_kg:numeric",
        "pickup_date:date",
        "eta:timestamp with time zone",
        "created_at:timestamp without time zone",
        "tracking_id:uuid",
        "attrs:jsonb",
        "tags:ARRAY",
        "status:text",
    ] {
        assert!(cols.contains(want), "{want} not in\n{cols}");
    }
    let pk = psql_sink(&format!(
        "SELECT string_agg(a.attname, ',' ORDER BY a.attnum) FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) WHERE i.indisprimary AND i.indrelid = '\"{}_tms_shipment_leg\"'::regclass",
        p.prefix
    ));
    assert_eq!(pk.trim(), "shipment_id,leg_no");
}

/// Session timeout of the sink's consumer in the SIGKILL test.
const KILL_SESSION_TIMEOUT: Duration = Duration::from_secs(6);

#[test]
fn sink_killed_with_sigkill_mid_stream_converges_after_restart() {
    let mut p = pipeline("jkill", 10, |prefix| {
        sink_connector(
            &format!("{prefix}-sink"),
            prefix,
            &pg_sink_url(),
            &env("VELOCITY_PG_USER", "velocity"),
            &env("VELOCITY_PG_PASSWORD", "velocity"),
            json!({"batch.size": "200", "consumer.override.session.timeout.ms": KILL_SESSION_TIMEOUT.as_millis().to_string(), "consumer.override.heartbeat.interval.ms": "1000", "consumer.override.max.poll.interval.ms": "10000"}),
        )
    });
    assert_converges(&p, "snapshot", pg_dumps(&p));
    // a large workload, killed while the sink is still writing it
    psql(&p.db, &insert_sql(11, 5_000));
    psql(&p.db, CHANGES);
    let table = format!("\"{}_tms_shipment\"", p.prefix);
    let started = eventually(Duration::from_secs(60), || {
        let n: i64 = psql_sink(&format!("SELECT count(*) FROM {table}"))
            .trim()
            .parse()
            .unwrap_or(0);
        n > 100
    });
    assert!(
        started,
        "sink made no progress; log:\n{}",
        p.worker.log_text()
    );
    let before: i64 = psql_sink(&format!("SELECT count(*) FROM {table}"))
        .trim()
        .parse()
        .unwrap();
    p.worker.kill9();
    psql(
        &p.db,
        "UPDATE tms.shipment SET reference = reference || '-after-crash' WHERE id % 5 = 1",
    );
    // tansu 0.6 limit (README, "Known differences"): a consumer that joins
    // while the killed member is still within its session is made a
    // follower of the dead leader; when the dead leader expires between
    // JoinGroup and SyncGroup, tansu completes the generation with the
    // follower's empty SyncGroup and never rebalances again, so the
    // restarted sink would own no partition. Kafka rebalances instead.
    // Restarting after the session timeout lets tansu expire the dead
    // member at JoinGroup, and the new consumer becomes the leader.
    std::thread::sleep(KILL_SESSION_TIMEOUT + Duration::from_secs(2));
    p.worker.restart();
    if std::env::var("SINK_DEBUG").is_ok() {
        std::thread::sleep(Duration::from_secs(30));
        let recs = common::consume_until(
            &format!("{}.tms.shipment", p.prefix),
            Duration::from_secs(40),
            |r| r.len() >= 30_000,
        );
        let after = recs
            .iter()
            .filter(|(_, v)| {
                v.as_ref()
                    .is_some_and(|v| String::from_utf8_lossy(v).contains("after-crash"))
            })
            .count();
        eprintln!(
            "DEBUG topic has {} records, {} after-crash",
            recs.len(),
            after
        );
    }
    assert_converges(
        &p,
        &format!("after SIGKILL (sink had {before} rows)"),
        pg_dumps(&p),
    );
}

fn maria_dumps(p: &Pipeline) -> impl Fn(bool) -> (String, String) + '_ {
    move |_| {
        let src = psql(
            &p.db,
            "SELECT id, reference, status::text, weight_kg, pickup_date, to_char(eta AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'), \
             to_char(created_at, 'YYYY-MM-DD HH24:MI:SS.US'), tracking_id, attrs, to_json(tags) FROM tms.shipment ORDER BY id",
        ) + &psql(
            &p.db,
            "SELECT shipment_id, leg_no, origin, destination, distance_km, to_char(departed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') \
             FROM tms.shipment_leg ORDER BY shipment_id, leg_no",
        );
        let exists = mariadb(&format!(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name IN ('{0}_tms_shipment', '{0}_tms_shipment_leg')",
            p.prefix
        ));
        if exists.trim() != "2" {
            return (src, String::new());
        }
        let f = "'%Y-%m-%d %H:%i:%s.%f'";
        let snk = mariadb(&format!(
            "SELECT id, reference, status, weight_kg, pickup_date, DATE_FORMAT(eta, {f}), DATE_FORMAT(created_at, {f}), tracking_id, attrs, tags \
             FROM `{0}_tms_shipment` ORDER BY id; \
             SELECT shipment_id, leg_no, origin, destination, distance_km, DATE_FORMAT(departed_at, {f}) FROM `{0}_tms_shipment_leg` ORDER BY shipment_id, leg_no",
            p.prefix
        ));
        (src, snk.replace('\t', "|"))
    }
}

#[test]
fn postgres_to_mariadb_tables_equal_source_row_for_row() {
    let p = pipeline("jmaria", 200, |prefix| {
        sink_connector(
            &format!("{prefix}-sink"),
            prefix,
            &maria_url(),
            &env("VELOCITY_MARIADB_USER", "velocity"),
            &env("VELOCITY_MARIADB_PASSWORD", "velocity"),
            json!({}),
        )
    });
    assert_converges(&p, "snapshot", maria_dumps(&p));
    psql(&p.db, &insert_sql(201, 300));
    psql(&p.db, CHANGES);
    assert_converges(&p, "after the mixed workload", maria_dumps(&p));
}

/// A worker with only a sink connector whose config has `extra`; returns the
/// worker and the connector name after the task reaches `state`.
fn sink_only(
    label: &str,
    extra: serde_json::Value,
    state: &str,
) -> (Worker, String, serde_json::Value, tempfile::TempDir) {
    let prefix = unique_name(label);
    let name = format!("{prefix}-sink");
    let dir = tempfile::tempdir().unwrap();
    let sink = write(
        dir.path(),
        "sink.json",
        &sink_connector(
            &name,
            &prefix,
            &pg_sink_url(),
            &env("VELOCITY_PG_USER", "velocity"),
            &env("VELOCITY_PG_PASSWORD", "velocity"),
            extra,
        ),
    );
    let w = Worker::start(dir.path(), "", &[sink]);
    let st = w.wait_status(&name, |s| s["tasks"][0]["state"] == state);
    (w, name, st, dir)
}

#[test]
fn bad_connection_url_fails_the_task_naming_the_key() {
    let (_w, _, st, _d) = sink_only(
        "jbadurl",
        json!({"connection.url": "jdbc:postgresql://127.0.0.1:1/sink"}),
        "FAILED",
    );
    let trace = st["tasks"][0]["trace"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        trace.contains("connection.url") && trace.contains("127.0.0.1:1"),
        "{trace}"
    );
    // a URL of the wrong shape is refused before any task runs
    let (code, body) = _w.call(
        "PUT",
        "/connector-plugins/jdbc/config/validate",
        Some(&json!({"connector.class": "jdbc", "connection.url": "postgresql://h/x", "connection.username": "u"}).to_string()),
    );
    assert_eq!(code, 200, "{body}");
    let url = body["configs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["value"]["name"] == "connection.url")
        .unwrap_or_else(|| panic!("no connection.url entry: {body}"));
    let errors = url["value"]["errors"].to_string();
    assert!(
        errors.contains("Invalid value for configuration connection.url")
            && errors.contains("jdbc:postgresql://"),
        "{errors}"
    );
}

#[test]
fn wrong_credentials_fail_the_task_naming_the_keys_without_the_password() {
    let (_w, _, st, _d) = sink_only(
        "jbadpw",
        json!({"connection.password": "not-the-password-42"}),
        "FAILED",
    );
    let trace = st["tasks"][0]["trace"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        trace.contains("connection.username") && trace.contains("connection.password"),
        "{trace}"
    );
    assert!(!trace.contains("not-the-password-42"), "{trace}");
}

#[test]
fn unknown_table_without_schema_evolution_fails_writes_nothing_and_loses_nothing() {
    let db = create_source_db("jnotab");
    psql(&db, &insert_sql(1, 20));
    let prefix = unique_name("jnotab");
    let dir = tempfile::tempdir().unwrap();
    let src = write(
        dir.path(),
        "source.json",
        &source_connector(&format!("{prefix}-src"), &db, &prefix, &prefix),
    );
    let name = format!("{prefix}-sink");
    let topic = format!("{prefix}.tms.shipment");
    let table = format!("{prefix}_tms_shipment");
    let sink = write(
        dir.path(),
        "sink.json",
        &sink_connector(
            &name,
            &prefix,
            &pg_sink_url(),
            &env("VELOCITY_PG_USER", "velocity"),
            &env("VELOCITY_PG_PASSWORD", "velocity"),
            json!({"topics": topic, "schema.evolution": "none", "batch.size": "5000"}),
        ),
    );
    let w = Worker::start(dir.path(), "", &[src, sink]);
    let st = w.wait_status(&name, |s| s["tasks"][0]["state"] == "FAILED");
    let trace = st["tasks"][0]["trace"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        trace.contains(&table) && trace.contains("schema.evolution=basic"),
        "{trace}"
    );
    // schema.evolution=none never creates the table
    let exists = psql_sink(&format!("SELECT to_regclass('\"{table}\"') IS NOT NULL"));
    assert_eq!(exists.trim(), "f", "the sink created {table}");
    // the fix the message names: nothing was acknowledged, so every row arrives
    let (_, cfg) = w.call("GET", &format!("/connectors/{name}/config"), None);
    let mut cfg = cfg;
    cfg["schema.evolution"] = json!("basic");
    cfg["connection.password"] = json!(env("VELOCITY_PG_PASSWORD", "velocity"));
    let (code, body) = w.call(
        "PUT",
        &format!("/connectors/{name}/config"),
        Some(&cfg.to_string()),
    );
    // the config update restarts the connector and its tasks, as in Kafka
    // Connect; an extra POST .../restart right after it made tansu 0.6 leave
    // the sink's consumer group without an assignment now and then (see the
    // README's notes on tansu)
    assert!(code == 200 || code == 201, "{code} {body}");
    let want = pg_shipments(&db, "tms.shipment", false);
    let converged = eventually(Duration::from_secs(60), || {
        psql_sink(&format!("SELECT to_regclass('\"{table}\"') IS NOT NULL")).trim() == "t"
            && pg_shipments(&db, &format!("\"{table}\""), true) == want
    });
    let log = w.log_text();
    drop(w);
    drop_source(&db, &prefix);
    assert!(
        converged,
        "after the fix the sink table never equalled the source; worker log:\n{log}"
    );
}
