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

/// A connector JSON with Confluent's AvroConverter for keys and values against `registry`.
fn with_avro(connector_json: &str, registry: &str) -> String {
    let mut c: serde_json::Value = serde_json::from_str(connector_json).unwrap();
    for side in ["key", "value"] {
        c["config"][format!("{side}.converter")] = json!("io.confluent.connect.avro.AvroConverter");
        c["config"][format!("{side}.converter.schema.registry.url")] = json!(registry);
    }
    c.to_string()
}

/// The PostgreSQL JDBC sink of `prefix`'s topics, reading Avro through `registry`.
fn avro_pg_sink(prefix: &str, registry: &str) -> String {
    with_avro(
        &sink_connector(
            &format!("{prefix}-sink"),
            prefix,
            &pg_sink_url(),
            &env("VELOCITY_PG_USER", "velocity"),
            &env("VELOCITY_PG_PASSWORD", "velocity"),
            json!({}),
        ),
        registry,
    )
}

/// Source DB with snapshot rows, worker running source + `sink_json(prefix)`.
fn pipeline(label: &str, snapshot_rows: i64, sink_json: impl Fn(&str) -> String) -> Pipeline {
    pipeline_with(label, snapshot_rows, None, sink_json)
}

/// [`pipeline`], the source writing Avro through the registry at `avro` when given.
fn pipeline_with(
    label: &str,
    snapshot_rows: i64,
    avro: Option<&str>,
    sink_json: impl Fn(&str) -> String,
) -> Pipeline {
    let db = create_source_db(label);
    psql(&db, &insert_sql(1, snapshot_rows));
    let prefix = unique_name(label);
    let slot = prefix.clone();
    let dir = tempfile::tempdir().unwrap();
    let mut src_json = source_connector(&format!("{prefix}-src"), &db, &prefix, &slot);
    if let Some(url) = avro {
        src_json = with_avro(&src_json, url);
    }
    let src = write(dir.path(), "source.json", &src_json);
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

/// PostgreSQL → Velocity (AvroConverter) → topic → JDBC sink (AvroConverter)
/// → PostgreSQL: equal tables; then `ALTER TABLE … ADD COLUMN` mid-stream
/// registers version 2 of the value subject and the sink reads both versions
/// (the schema registry is the test double in this process).
#[test]
fn postgres_to_postgres_through_avro_with_schema_evolution() {
    let registry = velocity_test_registry::TestRegistry::start().unwrap();
    let url = registry.url.clone();
    let p = pipeline_with("javro", 200, Some(&url), |prefix| {
        avro_pg_sink(prefix, &url)
    });
    assert_converges(&p, "snapshot (Avro)", pg_dumps(&p));
    psql(&p.db, &insert_sql(201, 300));
    psql(&p.db, CHANGES);
    assert_converges(&p, "after the mixed workload (Avro)", pg_dumps(&p));
    let subject = format!("{}.tms.shipment-value", p.prefix);
    let versions = |subject: &str| -> String {
        reqwest::blocking::get(format!("{url}/subjects/{subject}/versions"))
            .and_then(|r| r.text())
            .unwrap_or_default()
    };
    assert_eq!(versions(&subject), "[1]");
    psql(
        &p.db,
        "ALTER TABLE tms.shipment ADD COLUMN remark text; UPDATE tms.shipment SET remark = 'r' || id WHERE id <= 20;",
    );
    psql(&p.db, &insert_sql(301, 310));
    assert!(
        eventually(Duration::from_secs(60), || versions(&subject) == "[1,2]"),
        "value subject {subject} versions: {}; status: {}; log tail:\n{}",
        versions(&subject),
        p.worker.call("GET", "/connectors?expand=status", None).1,
        p.worker
            .log_text()
            .lines()
            .rev()
            .take(30)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert_converges(
        &p,
        "after ADD COLUMN (Avro, schema version 2)",
        pg_dumps(&p),
    );
    let sink_table = format!("\"{}_tms_shipment\"", p.prefix);
    assert!(
        eventually(Duration::from_secs(60), || {
            psql_sink(&format!("SELECT count(remark) FROM {sink_table}")).trim()
                == psql(&p.db, "SELECT count(remark) FROM tms.shipment").trim()
        }),
        "remark values did not reach the sink"
    );
    let keys = versions(&format!("{}.tms.shipment-key", p.prefix));
    assert_eq!(keys, "[1]", "the key schema did not change");
}

/// Avro through a registry that goes away and a change it refuses: the
/// registry is down for 10 s while the source needs a new schema (ADD COLUMN)
/// and the converter's retries (`value.converter.max.retries`) ride it out;
/// then an incompatible change (a column turned NOT NULL: `["null","string"]`
/// → `"string"`) fails the source task naming the subject and the field, and
/// once the subject's compatibility is relaxed and the task restarted the
/// sink converges with nothing lost.
#[test]
fn avro_registry_outage_and_incompatible_change() {
    let mut registry = velocity_test_registry::TestRegistry::start().unwrap();
    let url = registry.url.clone();
    let addr = registry.addr.to_string();
    let patient = |json: String| {
        let mut c: serde_json::Value = serde_json::from_str(&with_avro(&json, &url)).unwrap();
        // 1 + 2 + 4 + 8 + 16 s of backoff: longer than the outage
        c["config"]["value.converter.max.retries"] = json!("5");
        c["config"]["key.converter.max.retries"] = json!("5");
        c.to_string()
    };
    let src_name = |prefix: &str| format!("{prefix}-src");
    let p = pipeline_with("javout", 50, Some(&url), |prefix| {
        avro_pg_sink(prefix, &url)
    });
    assert_converges(&p, "snapshot (Avro)", pg_dumps(&p));
    // the source's converter config with retries: PUT it (restarts the task)
    let (code, body) = p.worker.call(
        "PUT",
        &format!("/connectors/{}/config", src_name(&p.prefix)),
        Some(
            &serde_json::from_str::<serde_json::Value>(&patient(source_connector(
                &src_name(&p.prefix),
                &p.db,
                &p.prefix,
                &p.prefix,
            )))
            .unwrap()["config"]
                .to_string(),
        ),
    );
    assert!(code == 200 || code == 201, "{code} {body}");
    psql(&p.db, &insert_sql(51, 60));
    assert_converges(&p, "after the config change", pg_dumps(&p));

    registry.stop();
    let store = std::sync::Arc::clone(&registry.store);
    let back = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(10));
        velocity_test_registry::TestRegistry::start_with(store, &addr, None).unwrap()
    });
    psql(&p.db, "ALTER TABLE tms.shipment ADD COLUMN remark text; UPDATE tms.shipment SET remark = 'r' || id;");
    psql(&p.db, &insert_sql(61, 70));
    let registry = back.join().unwrap();
    assert_converges(&p, "after a 10 s registry outage", pg_dumps(&p));
    let status = p.worker.call("GET", "/connectors?expand=status", None).1;
    assert!(!status.to_string().contains("FAILED"), "{status}");

    // incompatible: remark becomes required
    psql(&p.db, "UPDATE tms.shipment SET remark = coalesce(remark, 'x'); ALTER TABLE tms.shipment ALTER COLUMN remark SET NOT NULL;");
    psql(
        &p.db,
        "UPDATE tms.shipment SET status = 'delivered' WHERE id <= 5;",
    );
    let subject = format!("{}.tms.shipment-value", p.prefix);
    let mut trace = String::new();
    assert!(
        eventually(Duration::from_secs(60), || {
            let s = p
                .worker
                .call(
                    "GET",
                    &format!("/connectors/{}/status", src_name(&p.prefix)),
                    None,
                )
                .1;
            trace = s["tasks"][0]["trace"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            s["tasks"][0]["state"] == "FAILED"
        }),
        "the source task did not fail on the incompatible schema"
    );
    assert!(
        trace.contains(&format!("\"{subject}\""))
            && trace.contains("remark")
            && trace.contains("409"),
        "{trace}"
    );
    let r = reqwest::blocking::Client::new()
        .put(format!("{}/config/{subject}", registry.url))
        .body(r#"{"compatibility":"NONE"}"#)
        .send()
        .unwrap();
    assert!(r.status().is_success());
    let (code, body) = p.worker.call(
        "POST",
        &format!(
            "/connectors/{}/restart?includeTasks=true",
            src_name(&p.prefix)
        ),
        None,
    );
    assert!(code < 300, "{code} {body}");
    assert_converges(
        &p,
        "after relaxing compatibility and restarting",
        pg_dumps(&p),
    );
    let delivered = |sink: bool| {
        let table = if sink {
            format!("\"{}_tms_shipment\"", p.prefix)
        } else {
            "tms.shipment".into()
        };
        let sql = format!("SELECT count(*) FROM {table} WHERE status = 'delivered' AND id <= 5");
        if sink {
            psql_sink(&sql)
        } else {
            psql(&p.db, &sql)
        }
    };
    assert!(
        eventually(Duration::from_secs(60), || delivered(true).trim()
            == delivered(false).trim()),
        "updates made while the task was failed did not arrive"
    );
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
        // unreachable is retriable: without retries it fails at once
        json!({"connection.url": "jdbc:postgresql://127.0.0.1:1/sink", "errors.max.retries": "0"}),
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
        errors.contains("for configuration connection.url")
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
