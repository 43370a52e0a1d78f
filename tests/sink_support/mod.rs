//! Helpers shared by the sink end-to-end tests (`tests/sink_*.rs`): a small
//! TMS schema in a fresh PostgreSQL database, a mixed workload, the Velocity
//! PostgreSQL source connector config, and text dumps of tables.
#![allow(dead_code)]

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;

/// An environment variable or its default.
pub fn env(k: &str, d: &str) -> String {
    std::env::var(k).unwrap_or_else(|_| d.to_owned())
}

/// Runs `sql` with psql as `user` in `db`; returns stdout (unaligned, tuples
/// only, `|`-separated, NULL shown as `NULL`). Panics on error.
pub fn psql_as(user: &str, password: &str, db: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .args([
            "-X",
            "-q",
            "-At",
            "-v",
            "ON_ERROR_STOP=1",
            "-P",
            "null=NULL",
        ])
        .arg(format!(
            "host={} port={} user={user} dbname={db}",
            env("VELOCITY_PG_HOST", "127.0.0.1"),
            env("VELOCITY_PG_PORT", "55432"),
        ))
        .args(["-c", sql])
        .env("PGPASSWORD", password)
        .env("PGTZ", "UTC")
        .output()
        .expect("psql is installed");
    assert!(
        out.status.success(),
        "psql failed: {}\n{sql}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// psql as the superuser.
pub fn psql(db: &str, sql: &str) -> String {
    psql_as(
        &env("VELOCITY_PG_SUPERUSER", "postgres"),
        &env("VELOCITY_PG_SUPERUSER_PASSWORD", "postgres"),
        db,
        sql,
    )
}

/// psql as the sink user into the `sink` database.
pub fn psql_sink(sql: &str) -> String {
    psql_as(
        &env("VELOCITY_PG_USER", "velocity"),
        &env("VELOCITY_PG_PASSWORD", "velocity"),
        &env("VELOCITY_PG_SINK_DB", "sink"),
        sql,
    )
}

/// Runs `sql` in the MariaDB `sink` database; tab-separated raw output.
pub fn mariadb(sql: &str) -> String {
    let out = Command::new("mariadb")
        .args(["-N", "-B", "-r"])
        .arg(format!("-h{}", env("VELOCITY_MARIADB_HOST", "127.0.0.1")))
        .arg(format!("-P{}", env("VELOCITY_MARIADB_PORT", "53306")))
        .arg(format!("-u{}", env("VELOCITY_MARIADB_USER", "velocity")))
        .arg(format!(
            "-p{}",
            env("VELOCITY_MARIADB_PASSWORD", "velocity")
        ))
        .arg(env("VELOCITY_MARIADB_SINK_DB", "sink"))
        .args(["-e", sql])
        .output()
        .expect("the mariadb client is installed");
    assert!(
        out.status.success(),
        "mariadb failed: {}\n{sql}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The source schema: an enum, a table with a single PK and every type the
/// sink must round-trip, and a table with a composite PK.
pub const SCHEMA: &str = r#"
CREATE SCHEMA tms;
CREATE TYPE tms.shipment_status AS ENUM ('planned', 'in_transit', 'delivered', 'cancelled');
CREATE TABLE tms.shipment (
  id bigint PRIMARY KEY,
  reference text NOT NULL,
  status tms.shipment_status NOT NULL,
  weight_kg numeric(12,3),
  pickup_date date,
  eta timestamptz,
  created_at timestamp,
  tracking_id uuid,
  attrs jsonb,
  tags text[]
);
CREATE TABLE tms.shipment_leg (
  shipment_id bigint NOT NULL,
  leg_no int NOT NULL,
  origin text NOT NULL,
  destination text,
  distance_km numeric(10,2),
  departed_at timestamptz,
  PRIMARY KEY (shipment_id, leg_no)
);
"#;

/// Inserts shipments `from..=to` with three legs each.
pub fn insert_sql(from: i64, to: i64) -> String {
    format!(
        r#"
INSERT INTO tms.shipment
SELECT g, 'REF-' || g,
       (ARRAY['planned','in_transit','delivered','cancelled']::tms.shipment_status[])[1 + g % 4],
       CASE WHEN g % 10 = 0 THEN NULL ELSE (g * 1.25)::numeric(12,3) END,
       date '2024-01-01' + g::int,
       timestamptz '2024-01-01 08:00:00+00' + g * interval '1 hour 7 minutes 3.123456 seconds',
       timestamp '2024-02-01 00:00:00' + g * interval '13 minutes',
       md5(g::text)::uuid,
       CASE WHEN g % 9 = 0 THEN NULL ELSE jsonb_build_object('n', g, 'fragile', g % 2 = 0, 'dims', jsonb_build_array(g, g + 1)) END,
       CASE WHEN g % 8 = 0 THEN NULL ELSE ARRAY['t' || g, 'x,y', 'q"uote', 'sp ace'] END
FROM generate_series({from}, {to}) g;
INSERT INTO tms.shipment_leg
SELECT s, l, 'O' || s, CASE WHEN l = 2 THEN NULL ELSE 'D' || l END, (s * l)::numeric / 7,
       timestamptz '2024-03-01 00:00:00+00' + s * interval '1 minute' + l * interval '1 second'
FROM generate_series({from}, {to}) s, generate_series(1, 3) l;
"#
    )
}

/// Updates, deletes and primary-key changes on both tables.
pub const CHANGES: &str = r#"
UPDATE tms.shipment SET status = 'delivered', weight_kg = weight_kg + 0.5, attrs = attrs || '{"updated": true}' WHERE id % 3 = 0;
DELETE FROM tms.shipment WHERE id % 7 = 0;
UPDATE tms.shipment SET id = id + 1000000 WHERE id % 11 = 0;
UPDATE tms.shipment_leg SET leg_no = leg_no + 10 WHERE shipment_id % 5 = 0 AND leg_no = 1;
DELETE FROM tms.shipment_leg WHERE shipment_id % 13 = 0;
UPDATE tms.shipment SET tags = NULL, eta = NULL, reference = reference || '-x' WHERE id % 17 = 0;
UPDATE tms.shipment_leg SET distance_km = distance_km * 2, destination = 'moved' WHERE shipment_id % 4 = 0;
"#;

/// A fresh source database with [`SCHEMA`]; returns its name.
pub fn create_source_db(label: &str) -> String {
    let db = unique_name(label);
    psql("postgres", &format!("CREATE DATABASE {db}"));
    psql(&db, SCHEMA);
    db
}

/// A lowercase name unique to this run.
pub fn unique_name(label: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{label}{}x{}", std::process::id(), nanos % 1_000_000_000)
}

/// Drops the source database and its replication slot (best effort).
pub fn drop_source(db: &str, slot: &str) {
    let _ = std::panic::catch_unwind(|| {
        psql("postgres", &format!("SELECT pg_drop_replication_slot('{slot}') FROM pg_replication_slots WHERE slot_name = '{slot}'"));
        psql(
            "postgres",
            &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"),
        );
    });
}

/// The Velocity PostgreSQL source connector config (JSON file contents).
pub fn source_connector(name: &str, db: &str, prefix: &str, slot: &str) -> String {
    json!({"name": name, "config": {
        "connector.class": "postgres",
        "database.hostname": env("VELOCITY_PG_HOST", "127.0.0.1"),
        "database.port": env("VELOCITY_PG_PORT", "55432"),
        "database.user": env("VELOCITY_PG_SUPERUSER", "postgres"),
        "database.password": env("VELOCITY_PG_SUPERUSER_PASSWORD", "postgres"),
        "database.dbname": db, "topic.prefix": prefix, "plugin.name": "pgoutput",
        "slot.name": slot, "publication.name": slot, "publication.autocreate.mode": "filtered",
        "schema.include.list": "tms", "snapshot.mode": "initial",
        "topic.creation.default.partitions": "1", "topic.creation.default.replication.factor": "1",
    }})
    .to_string()
}

/// The two topics of the source tables.
pub fn topics(prefix: &str) -> String {
    format!("{prefix}.tms.shipment,{prefix}.tms.shipment_leg")
}

/// Source dump of `tms.shipment` in PostgreSQL text form, by id.
pub fn pg_shipments(db: &str, table: &str, sink: bool) -> String {
    let sql = format!(
        "SELECT id, reference, status::text, weight_kg, pickup_date, eta, created_at, tracking_id, attrs, tags FROM {table} ORDER BY id"
    );
    if sink {
        psql_sink(&sql)
    } else {
        psql(db, &sql)
    }
}

/// Source dump of `tms.shipment_leg` in PostgreSQL text form, by PK.
pub fn pg_legs(db: &str, table: &str, sink: bool) -> String {
    let sql = format!(
        "SELECT shipment_id, leg_no, origin, destination, distance_km, departed_at FROM {table} ORDER BY shipment_id, leg_no"
    );
    if sink {
        psql_sink(&sql)
    } else {
        psql(db, &sql)
    }
}

/// Polls `f` until it returns true or `timeout` passes; returns whether it did.
pub fn eventually(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    f()
}
