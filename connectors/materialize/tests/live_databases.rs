//! Drives the materializing sink task directly (no worker, no broker)
//! against the real PostgreSQL and MariaDB of `scripts/services.sh` (the
//! `sink` databases, as user velocity): one shipment object across three
//! tables per batch (upsert, replace of child rows per parent, insert-only),
//! deletes, an idempotent replay of everything, all-or-nothing batches, and
//! the missing-table error. Fails when a database is down.

use std::process::Command;

use velocity_api::{ConnectRecord, RawConfig, SinkRecord, SinkTask, TaskContext, Value};
use velocity_connector_materialize::MaterializeSinkTask;

fn env(k: &str, d: &str) -> String {
    std::env::var(k).unwrap_or_else(|_| d.to_owned())
}

#[derive(Clone, Copy, PartialEq)]
enum Db {
    Pg,
    My,
}

/// Runs SQL as velocity on the sink database; returns rows as `a|b` lines.
fn sql(db: Db, stmt: &str) -> String {
    let out = match db {
        Db::Pg => Command::new("psql")
            .args(["-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-c", stmt])
            .arg(format!(
                "host={} port={} user={} dbname={}",
                env("VELOCITY_PG_HOST", "127.0.0.1"),
                env("VELOCITY_PG_PORT", "55432"),
                env("VELOCITY_PG_USER", "velocity"),
                env("VELOCITY_PG_SINK_DB", "sink")
            ))
            .env("PGPASSWORD", env("VELOCITY_PG_PASSWORD", "velocity"))
            .output()
            .expect("psql"),
        Db::My => Command::new("mariadb")
            .args(["--no-defaults", "-N", "-B", "--protocol=tcp"])
            .arg(format!("-h{}", env("VELOCITY_MARIADB_HOST", "127.0.0.1")))
            .arg(format!("-P{}", env("VELOCITY_MARIADB_PORT", "53306")))
            .arg(format!("-u{}", env("VELOCITY_MARIADB_USER", "velocity")))
            .arg(format!(
                "-p{}",
                env("VELOCITY_MARIADB_PASSWORD", "velocity")
            ))
            .arg(env("VELOCITY_MARIADB_SINK_DB", "sink"))
            .args(["-e", stmt])
            .output()
            .expect("mariadb client"),
    };
    assert!(
        out.status.success(),
        "{stmt}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .replace('\t', "|")
}

fn config(db: Db, p: &str) -> RawConfig {
    let url = match db {
        Db::Pg => format!(
            "jdbc:postgresql://{}:{}/{}",
            env("VELOCITY_PG_HOST", "127.0.0.1"),
            env("VELOCITY_PG_PORT", "55432"),
            env("VELOCITY_PG_SINK_DB", "sink")
        ),
        Db::My => format!(
            "jdbc:mariadb://{}:{}/{}",
            env("VELOCITY_MARIADB_HOST", "127.0.0.1"),
            env("VELOCITY_MARIADB_PORT", "53306"),
            env("VELOCITY_MARIADB_SINK_DB", "sink")
        ),
    };
    let (user, pw) = match db {
        Db::Pg => (
            env("VELOCITY_PG_USER", "velocity"),
            env("VELOCITY_PG_PASSWORD", "velocity"),
        ),
        Db::My => (
            env("VELOCITY_MARIADB_USER", "velocity"),
            env("VELOCITY_MARIADB_PASSWORD", "velocity"),
        ),
    };
    [
        ("connection.url", url),
        ("connection.username", user),
        ("connection.password", pw),
        ("batch.size", "1000".into()),
        ("materialize.tables", "ship,stop,note".into()),
        ("materialize.ship.table", format!("{p}_ship")),
        ("materialize.ship.topics", "ships".into()),
        ("materialize.ship.columns", "id,status,active".into()),
        ("materialize.ship.key", "id".into()),
        ("materialize.stop.table", format!("{p}_stop")),
        ("materialize.stop.topics", "ships".into()),
        ("materialize.stop.mode", "replace".into()),
        ("materialize.stop.columns", "ship_id,seq,city".into()),
        ("materialize.stop.column.ship_id", "data.id".into()),
        ("materialize.stop.column.seq", "item.seq".into()),
        ("materialize.stop.column.city", "item.city".into()),
        ("materialize.stop.parent.key", "ship_id".into()),
        ("materialize.stop.rows", "data.stops".into()),
        ("materialize.note.table", format!("{p}_note")),
        ("materialize.note.topics", "notes".into()),
        ("materialize.note.mode", "insert".into()),
        ("materialize.note.columns", "id,body".into()),
        ("materialize.note.key", "id".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

fn ctx() -> TaskContext {
    struct NoOffsets;
    impl velocity_api::OffsetReader for NoOffsets {
        fn offset(&self, _p: &velocity_api::Partition) -> Option<velocity_api::Offset> {
            None
        }
    }
    TaskContext {
        connector: "materialize-test".into(),
        task_id: 0,
        offsets: std::sync::Arc::new(NoOffsets),
    }
}

fn s(x: &str) -> Value {
    Value::String(x.into())
}

fn map(pairs: Vec<(&str, Value)>) -> Value {
    Value::Map(pairs.into_iter().map(|(k, v)| (s(k), v)).collect())
}

fn event(topic: &str, offset: i64, ty: &str, data: Value) -> SinkRecord {
    let mut r = ConnectRecord::new(
        topic,
        None,
        Value::Null,
        None,
        map(vec![("type", s(ty)), ("data", data)]),
    );
    r.partition = Some(0);
    SinkRecord {
        record: r,
        kafka_offset: offset,
    }
}

fn ship(offset: i64, ty: &str, id: i64, status: &str, stops: &[(i64, &str)]) -> SinkRecord {
    let stops = stops
        .iter()
        .map(|(q, c)| map(vec![("seq", Value::Int64(*q)), ("city", s(c))]))
        .collect();
    event(
        "ships",
        offset,
        ty,
        map(vec![
            ("id", Value::Int64(id)),
            ("status", s(status)),
            ("active", Value::Boolean(status != "cancelled")),
            ("stops", Value::Array(stops)),
        ]),
    )
}

fn note(offset: i64, id: i64, body: &str) -> SinkRecord {
    event(
        "notes",
        offset,
        "NoteCreated",
        map(vec![("id", Value::Int64(id)), ("body", s(body))]),
    )
}

fn tables(db: Db, p: &str) -> (String, String, String) {
    (
        sql(
            db,
            &format!("SELECT id, status, active FROM {p}_ship ORDER BY id"),
        ),
        sql(
            db,
            &format!("SELECT ship_id, seq, city FROM {p}_stop ORDER BY ship_id, seq"),
        ),
        sql(db, &format!("SELECT id, body FROM {p}_note ORDER BY id")),
    )
}

async fn scenario(db: Db) {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let p = format!("mat{}_{}", std::process::id(), nanos % 1_000_000_000);
    let boolean = if db == Db::Pg {
        "boolean"
    } else {
        "tinyint(1)"
    };
    sql(db, &format!("CREATE TABLE {p}_ship (id integer PRIMARY KEY, status varchar(20) NOT NULL, active {boolean}, extra varchar(10))"));
    sql(db, &format!("CREATE TABLE {p}_stop (ship_id integer NOT NULL, seq integer NOT NULL, city varchar(20) NOT NULL, PRIMARY KEY (ship_id, seq))"));
    sql(
        db,
        &format!("CREATE TABLE {p}_note (id integer PRIMARY KEY, body varchar(20) NOT NULL)"),
    );
    let (t, f) = if db == Db::Pg { ("t", "f") } else { ("1", "0") };

    let mut task = MaterializeSinkTask::default();
    task.start(&config(db, &p), ctx()).await.unwrap();
    let batch1 = vec![
        ship(
            0,
            "ShipmentCreated",
            1,
            "planned",
            &[(1, "Rome"), (2, "Milan")],
        ),
        ship(1, "ShipmentCreated", 2, "planned", &[(1, "Turin")]),
        note(2, 9, "first"),
        ship(
            3,
            "ShipmentUpdated",
            1,
            "dispatched",
            &[(1, "Rome"), (2, "Naples"), (3, "Bari")],
        ),
    ];
    task.put(batch1.clone()).await.unwrap();
    task.flush().await.unwrap();
    let after1 = (
        format!("1|dispatched|{t}\n2|planned|{t}"),
        "1|1|Rome\n1|2|Naples\n1|3|Bari\n2|1|Turin".to_owned(),
        "9|first".to_owned(),
    );
    assert_eq!(tables(db, &p), after1);

    let batch2 = vec![
        note(4, 9, "second"), // insert-only: the stored note stays
        ship(5, "ShipmentUpdated", 1, "cancelled", &[(1, "Rome")]),
        ship(6, "ShipmentDeleted", 2, "planned", &[]),
    ];
    task.put(batch2.clone()).await.unwrap();
    task.flush().await.unwrap();
    let after2 = (
        format!("1|cancelled|{f}"),
        "1|1|Rome".to_owned(),
        "9|first".to_owned(),
    );
    assert_eq!(tables(db, &p), after2);

    // a replay of everything (a crash before the offsets were committed) changes nothing
    task.put(batch1.into_iter().chain(batch2).collect())
        .await
        .unwrap();
    task.flush().await.unwrap();
    assert_eq!(tables(db, &p), after2);

    // all or nothing: a stop whose city is too long fails the batch, and the
    // shipment update of the same batch is not written either
    let mut bad = ship(
        7,
        "ShipmentUpdated",
        1,
        "delivered",
        &[(1, "a city name far too long for the column")],
    );
    bad.kafka_offset = 7;
    let e = async {
        task.put(vec![bad]).await?;
        task.flush().await
    }
    .await
    .unwrap_err();
    assert!(e.to_string().contains(&format!("{p}_stop")), "{e}");
    assert_eq!(tables(db, &p), after2);
    task.stop().await.unwrap();

    // a missing table names the mapping
    let mut cfg = config(db, &p);
    cfg.insert("materialize.note.table".into(), format!("{p}_nope"));
    let mut task = MaterializeSinkTask::default();
    task.start(&cfg, ctx()).await.unwrap();
    task.put(vec![note(0, 1, "x")]).await.unwrap();
    let e = task.flush().await.unwrap_err().to_string();
    assert!(
        e.contains("materialize.note.table") && e.contains("_nope"),
        "{e}"
    );
    task.stop().await.unwrap();
    for t in ["ship", "stop", "note"] {
        sql(db, &format!("DROP TABLE {p}_{t}"));
    }
}

#[tokio::test]
async fn postgres_one_object_across_three_tables() {
    scenario(Db::Pg).await;
}

#[tokio::test]
async fn mariadb_one_object_across_three_tables() {
    scenario(Db::My).await;
}
