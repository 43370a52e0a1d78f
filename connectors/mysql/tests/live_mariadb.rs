//! Drives the source task directly (no worker, no broker) against the real
//! MariaDB of `scripts/services.sh`: snapshot + streaming, resuming from
//! an offset taken in the middle of a transaction, and failing over to the
//! replica (`mariadb-replica`). Fails when the server's root socket
//! (`VELOCITY_MARIADB_SOCKET`, exported by `scripts/services.sh env`, else
//! this checkout's) is not there, and the failover test when the replica's
//! (`VELOCITY_MARIADB_REPLICA_SOCKET`) is not: start them with
//! `scripts/services.sh up`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use velocity_api::{
    Offset, OffsetReader, Partition, RawConfig, SourceRecord, SourceTask, TaskContext, Value,
};
use velocity_connector_mysql::task::MySqlSourceTask;

mod common;
use common::{
    after_id, poll_kept, poll_row_ids, poll_until, replica_socket, socket, sql, sql_at, sql_out,
};

struct Stored(Option<Offset>);

impl OffsetReader for Stored {
    fn offset(&self, _p: &Partition) -> Option<Offset> {
        self.0.clone()
    }
}

fn config(db: &str, prefix: &str, sid: u32) -> RawConfig {
    let mut c = common::connector_config(db, prefix, sid);
    // one record per batch: every record keeps its own offset (within a
    // batch the reader clears the offsets a later record covers), so the
    // tests can resume from the offset of any record
    c.insert("max.batch.size".into(), "1".into());
    c.insert("max.queue.size".into(), "6".into());
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_inside_a_transaction_neither_loses_nor_repeats() {
    socket();
    let n = std::process::id();
    let db = format!("vmy_live_{n}");
    let prefix = format!("live{n}");
    sql(&format!(
        "DROP DATABASE IF EXISTS {db}; CREATE DATABASE {db}; \
         CREATE TABLE {db}.t (id INT PRIMARY KEY, v VARCHAR(10)); INSERT INTO {db}.t VALUES (1, 'snap');"
    ));
    let ctx = |o: Option<Offset>| TaskContext {
        connector: "live".into(),
        task_id: 0,
        offsets: Arc::new(Stored(o)),
    };
    let mut task = MySqlSourceTask::default();
    task.start(&config(&db, &prefix, 7000 + n % 1000), ctx(None))
        .await
        .unwrap();
    // snapshot: schema change + 1 row
    let snap = poll_until(&mut task, 2, Duration::from_secs(30)).await;
    assert_eq!(snap.len(), 2, "{snap:#?}");
    assert_eq!(snap[0].record.topic, prefix);
    assert_eq!(after_id(&snap[1]), Some(1));
    assert_eq!(snap[1].source_offset["snapshot_completed"], true);
    // one transaction, 10 row events
    let mut txn = "BEGIN;".to_owned();
    for id in 2..=11 {
        txn.push_str(&format!("INSERT INTO {db}.t VALUES ({id}, 'x');"));
    }
    txn.push_str("COMMIT;");
    sql(&txn);
    let recs = poll_until(&mut task, 10, Duration::from_secs(30)).await;
    let ids: Vec<i64> = recs.iter().filter_map(after_id).collect();
    assert_eq!(ids, (2..=11).collect::<Vec<_>>());
    task.stop().await.unwrap();
    // resume from the offset of the 4th record of the transaction (id 5)
    let mid = recs[3].source_offset.clone();
    assert_eq!(mid["event"], 4, "{mid:?}");
    assert_eq!(mid["row"], 0);
    let mut task = MySqlSourceTask::default();
    task.start(&config(&db, &prefix, 7000 + n % 1000), ctx(Some(mid)))
        .await
        .unwrap();
    let again = poll_until(&mut task, 6, Duration::from_secs(30)).await;
    let ids: Vec<i64> = again.iter().filter_map(after_id).collect();
    assert_eq!(ids, (6..=11).collect::<Vec<_>>(), "resumed after id 5");
    // a multi-row event: resume in its middle
    sql(&format!(
        "INSERT INTO {db}.t VALUES (12,'m'),(13,'m'),(14,'m'); DELETE FROM {db}.t WHERE id = 12;"
    ));
    let more = poll_until(&mut task, 5, Duration::from_secs(30)).await;
    assert_eq!(more.len(), 5, "{more:#?}");
    assert_eq!(
        more[3].record.value.as_struct().unwrap().get("op"),
        Some(&Value::String("d".into()))
    );
    assert!(more[4].record.value.is_null(), "tombstone");
    let mid_row = more[0].source_offset.clone();
    assert_eq!(mid_row["row"], 1);
    task.stop().await.unwrap();
    let mut task = MySqlSourceTask::default();
    task.start(&config(&db, &prefix, 7000 + n % 1000), ctx(Some(mid_row)))
        .await
        .unwrap();
    let tail = poll_until(&mut task, 4, Duration::from_secs(30)).await;
    let ids: Vec<i64> = tail.iter().filter_map(after_id).collect();
    assert_eq!(ids, vec![13, 14]);
    assert_eq!(tail.len(), 4);
    task.stop().await.unwrap();
    sql(&format!("DROP DATABASE {db}"));
}

/// The database and topic prefix of test `tag`, unique to this run; fails
/// when MariaDB is not there.
fn names(tag: &str) -> (String, String) {
    socket();
    let n = std::process::id();
    (format!("vmy_{tag}_{n}"), format!("{tag}{n}"))
}

fn context(name: &str) -> TaskContext {
    TaskContext {
        connector: name.into(),
        task_id: 0,
        offsets: Arc::new(Stored(None)),
    }
}

/// A fresh database `db` holding `tables` (and nothing else captured).
fn fresh_db(db: &str, tables: &str) {
    sql(&format!(
        "DROP DATABASE IF EXISTS {db}; CREATE DATABASE {db}; USE {db}; {tables}"
    ));
}

fn op(r: &SourceRecord) -> Option<&str> {
    r.record.value.as_struct()?.get("op")?.as_str()
}

fn field<'a>(v: &'a Value, name: &str) -> &'a Value {
    v.as_struct()
        .unwrap_or_else(|| panic!("not a struct: {v:?}"))
        .get(name)
        .unwrap_or_else(|| panic!("no field {name} in {v:?}"))
}

/// `skipped.operations=u`: update row events yield nothing; a `TRUNCATE
/// TABLE` is Debezium's truncate event, field by field, and no schema change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncate_event_and_skipped_updates() {
    let (db, prefix) = names("trunc");
    fresh_db(
        &db,
        "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(10)); INSERT INTO t VALUES (1, 'snap');",
    );
    let mut c = config(&db, &prefix, 8000 + std::process::id() % 1000);
    c.insert("skipped.operations".into(), "u".into());
    let mut task = MySqlSourceTask::default();
    task.start(&c, context("trunc")).await.unwrap();
    let snap = poll_until(&mut task, 2, Duration::from_secs(30)).await;
    assert_eq!(snap.len(), 2, "{snap:#?}");
    sql(&format!(
        "USE {db}; INSERT INTO t VALUES (2, 'a'); UPDATE t SET v = 'b' WHERE id = 2; \
         DELETE FROM t WHERE id = 1; TRUNCATE TABLE t; INSERT INTO t VALUES (3, 'c');"
    ));
    let recs = poll_until(&mut task, 5, Duration::from_secs(30)).await;
    task.stop().await.unwrap();
    let ops: Vec<Option<&str>> = recs.iter().map(op).collect();
    // c(2), (u skipped), d(1) + tombstone, t, c(3)
    assert_eq!(
        ops,
        [Some("c"), Some("d"), None, Some("t"), Some("c")],
        "{recs:#?}"
    );
    assert_eq!(after_id(&recs[4]), Some(3));
    let t = &recs[3].record;
    assert_eq!(t.topic, format!("{prefix}.{db}.t"));
    assert!(
        t.key.is_null() && t.key_schema.is_none(),
        "truncate key: {t:?}"
    );
    let schema = t.value_schema.as_ref().unwrap();
    assert!(schema.is_named(&format!("{prefix}.{db}.t.Envelope")));
    let v = &t.value;
    assert!(field(v, "before").is_null());
    assert!(field(v, "after").is_null());
    assert_eq!(field(v, "op").as_str(), Some("t"));
    assert!(field(v, "ts_ms").as_i64().unwrap() > 0);
    assert!(field(v, "transaction").is_null());
    let source = field(v, "source");
    assert_eq!(field(source, "connector").as_str(), Some("mariadb"));
    assert_eq!(field(source, "name").as_str(), Some(prefix.as_str()));
    assert_eq!(field(source, "snapshot").as_str(), Some("false"));
    assert_eq!(field(source, "db").as_str(), Some(db.as_str()));
    assert_eq!(field(source, "table").as_str(), Some("t"));
    assert!(field(source, "ts_ms").as_i64().unwrap() > 0);
    assert!(field(source, "server_id").as_i64().unwrap() > 0);
    assert!(field(source, "file").as_str().unwrap().contains("bin"));
    assert!(field(source, "pos").as_i64().unwrap() > 4);
    assert_eq!(field(source, "row"), &Value::Int32(0));
    assert!(field(source, "thread").as_i64().is_some());
    assert!(field(source, "query").is_null());
    // the truncate carries an offset between the delete and the last insert
    assert!(recs[3].source_offset.get("file").is_some());
    sql(&format!("DROP DATABASE {db}"));
}

/// Debezium's default `skipped.operations=t`: a `TRUNCATE TABLE` yields no
/// record at all (neither `t` nor a schema change).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncate_is_skipped_by_default() {
    let (db, prefix) = names("notrunc");
    fresh_db(&db, "CREATE TABLE t (id INT PRIMARY KEY);");
    let mut task = MySqlSourceTask::default();
    task.start(
        &config(&db, &prefix, 8100 + std::process::id() % 1000),
        context("notrunc"),
    )
    .await
    .unwrap();
    let snap = poll_until(&mut task, 1, Duration::from_secs(30)).await;
    assert_eq!(snap.len(), 1, "{snap:#?}");
    sql(&format!(
        "USE {db}; INSERT INTO t VALUES (1); TRUNCATE TABLE t; INSERT INTO t VALUES (2);"
    ));
    let recs = poll_until(&mut task, 2, Duration::from_secs(30)).await;
    task.stop().await.unwrap();
    let ids: Vec<Option<i64>> = recs.iter().map(after_id).collect();
    assert_eq!(ids, [Some(1), Some(2)], "{recs:#?}");
    sql(&format!("DROP DATABASE {db}"));
}

/// `message.key.columns`: the named columns, in the order given, are the
/// record key (schema `<topic>.Key`) in the snapshot and while streaming,
/// also for a table without a primary key; an invalid value names the key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_key_columns_replace_the_primary_key() {
    let (db, prefix) = names("keys");
    fresh_db(
        &db,
        "CREATE TABLE k (id INT PRIMARY KEY, code VARCHAR(10), n INT); \
         CREATE TABLE nopk (a INT, b VARCHAR(5)); \
         INSERT INTO k VALUES (1, 'x', 10); INSERT INTO nopk VALUES (7, 'q');",
    );
    let mut c = config(&db, &prefix, 8200 + std::process::id() % 1000);
    c.insert("message.key.columns".into(), "broken".into());
    let err = MySqlSourceTask::default()
        .start(&c, context("keys"))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("message.key.columns"), "{err}");
    c.insert(
        "message.key.columns".into(),
        format!("{db}.k:code,n;{db}\\.no.*:b,a"),
    );
    let mut task = MySqlSourceTask::default();
    task.start(&c, context("keys")).await.unwrap();
    // two schema changes, two rows
    let snap = poll_until(&mut task, 4, Duration::from_secs(30)).await;
    sql(&format!(
        "USE {db}; INSERT INTO k VALUES (2, 'y', 20); INSERT INTO nopk VALUES (8, 'r');"
    ));
    let recs = poll_until(&mut task, 2, Duration::from_secs(30)).await;
    task.stop().await.unwrap();
    let rows: Vec<&SourceRecord> = snap
        .iter()
        .chain(&recs)
        .filter(|r| op(r).is_some())
        .collect();
    assert_eq!(rows.len(), 4, "{snap:#?} {recs:#?}");
    let key_of = |table: &str, op_code: &str| {
        let r = rows
            .iter()
            .find(|r| r.record.topic == format!("{prefix}.{db}.{table}") && op(r) == Some(op_code))
            .unwrap_or_else(|| panic!("no {op_code} of {table}"));
        let ks = r.record.key_schema.as_ref().expect("key schema");
        assert!(ks.is_named(&format!("{prefix}.{db}.{table}.Key")), "{ks:?}");
        let names: Vec<&str> = ks.fields.iter().map(|f| f.name.as_str()).collect();
        (names, r.record.key.clone())
    };
    let (names, key) = key_of("k", "r");
    assert_eq!(names, ["code", "n"]);
    assert_eq!(field(&key, "code").as_str(), Some("x"));
    assert_eq!(field(&key, "n"), &Value::Int32(10));
    let (names, key) = key_of("k", "c");
    assert_eq!(names, ["code", "n"]);
    assert_eq!(field(&key, "code").as_str(), Some("y"));
    let (names, key) = key_of("nopk", "r");
    assert_eq!(names, ["b", "a"]);
    assert_eq!(field(&key, "b").as_str(), Some("q"));
    assert_eq!(field(&key, "a"), &Value::Int32(7));
    let (_, key) = key_of("nopk", "c");
    assert_eq!(field(&key, "a"), &Value::Int32(8));
    sql(&format!("DROP DATABASE {db}"));
}

/// `heartbeat.interval.ms` + `heartbeat.action.query` +
/// `topic.heartbeat.prefix`: Debezium's heartbeat record, carrying the
/// position after the last transaction; the action query runs; a query the
/// server refuses fails the task naming the key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_carry_the_position_and_run_the_action_query() {
    let (db, prefix) = names("hb");
    let hb_table = format!("velocity.{db}");
    fresh_db(&db, "CREATE TABLE t (id INT PRIMARY KEY);");
    sql(&format!(
        "DROP TABLE IF EXISTS {hb_table}; CREATE TABLE {hb_table} (id INT AUTO_INCREMENT PRIMARY KEY)"
    ));
    let mut c = config(&db, &prefix, 8300 + std::process::id() % 1000);
    c.insert("heartbeat.interval.ms".into(), "100".into());
    c.insert(
        "heartbeat.action.query".into(),
        format!("INSERT INTO {hb_table} VALUES ()"),
    );
    c.insert("topic.heartbeat.prefix".into(), "beat".into());
    let mut task = MySqlSourceTask::default();
    task.start(&c, context("hb")).await.unwrap();
    // the snapshot (one schema change) first, so that the insert is streamed
    let snap = poll_until(&mut task, 1, Duration::from_secs(30)).await;
    assert_eq!(snap[0].record.topic, prefix);
    sql(&format!("INSERT INTO {db}.t VALUES (1)"));
    let topic = format!("beat.{prefix}");
    let mut change = None;
    let mut beat = None;
    let deadline = Instant::now() + Duration::from_secs(30);
    while beat.is_none() && Instant::now() < deadline {
        for r in task.poll().await.expect("poll") {
            if op(&r) == Some("c") {
                change = Some(r);
            } else if r.record.topic == topic && change.is_some() {
                beat = Some(r);
            }
        }
    }
    task.stop().await.unwrap();
    let change = change.expect("the insert");
    let beat = beat.expect("a heartbeat after the insert");
    let key_schema = beat.record.key_schema.as_ref().unwrap();
    assert!(key_schema.is_named("io.debezium.connector.common.ServerNameKey"));
    assert_eq!(
        field(&beat.record.key, "serverName").as_str(),
        Some(prefix.as_str())
    );
    let value_schema = beat.record.value_schema.as_ref().unwrap();
    assert!(value_schema.is_named("io.debezium.connector.common.Heartbeat"));
    let names: Vec<&str> = value_schema
        .fields
        .iter()
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(names, ["ts_ms"]);
    assert!(field(&beat.record.value, "ts_ms").as_i64().unwrap() > 0);
    // the position after the insert's transaction: at or past its own
    let (o, c_off) = (&beat.source_offset, &change.source_offset);
    assert_eq!(o["file"], c_off["file"]);
    assert!(
        o["pos"].as_u64() > c_off["pos"].as_u64(),
        "{o:?} vs {c_off:?}"
    );
    assert_eq!(o["event"], 0);
    assert_eq!(beat.source_partition, change.source_partition);
    // the action query ran
    let count: u64 = sql_out(&format!("SELECT COUNT(*) FROM {hb_table}"))
        .parse()
        .unwrap();
    assert!(count >= 1, "heartbeat.action.query did not run");
    // a refused action query fails the task, naming the key
    c.insert(
        "heartbeat.action.query".into(),
        format!("INSERT INTO {hb_table}_missing VALUES ()"),
    );
    let mut task = MySqlSourceTask::default();
    task.start(&c, context("hb")).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let err = loop {
        assert!(
            Instant::now() < deadline,
            "no error from the refused action query"
        );
        if let Err(e) = task.poll().await {
            break e;
        }
    };
    let _ = task.stop().await;
    assert!(!err.is_retriable());
    assert!(err.to_string().contains("heartbeat.action.query"), "{err}");
    sql(&format!("DROP DATABASE {db}; DROP TABLE {hb_table}"));
}

/// `binary.handling.mode=base64`: BINARY / VARBINARY / BLOB columns are
/// base64 strings (schema string) in the snapshot and while streaming.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_handling_mode_base64() {
    socket();
    let n = std::process::id();
    let db = format!("vmy_bin_{n}");
    let prefix = format!("bin{n}");
    fresh_db(
        &db,
        "CREATE TABLE b (id INT PRIMARY KEY, bin VARBINARY(8), fixed BINARY(2), blb BLOB); \
         INSERT INTO b VALUES (1, 0xfbff00, 0x0102, 'hi');",
    );
    let mut c = config(&db, &prefix, 8400 + n % 1000);
    c.insert("binary.handling.mode".into(), "base64".into());
    let mut task = MySqlSourceTask::default();
    task.start(&c, context("bin")).await.unwrap();
    let snap = poll_until(&mut task, 2, Duration::from_secs(30)).await;
    sql(&format!(
        "INSERT INTO {db}.b VALUES (2, 0x3e, 0xffff, NULL)"
    ));
    let recs = poll_until(&mut task, 1, Duration::from_secs(30)).await;
    task.stop().await.unwrap();
    let rows: Vec<&SourceRecord> = snap
        .iter()
        .chain(&recs)
        .filter(|r| op(r).is_some())
        .collect();
    assert_eq!(rows.len(), 2, "{snap:#?} {recs:#?}");
    let value_schema = rows[0].record.value_schema.as_ref().unwrap();
    let after_schema = &value_schema
        .fields
        .iter()
        .find(|f| f.name == "after")
        .unwrap()
        .schema;
    for col in ["bin", "fixed", "blb"] {
        let f = after_schema.fields.iter().find(|f| f.name == col).unwrap();
        assert_eq!(f.schema.type_, velocity_api::Type::String, "{col}");
    }
    let after = |r: &SourceRecord| field(&r.record.value, "after").clone();
    let a = after(rows[0]);
    assert_eq!(op(rows[0]), Some("r"));
    assert_eq!(field(&a, "bin").as_str(), Some("+/8A"));
    assert_eq!(field(&a, "fixed").as_str(), Some("AQI="));
    assert_eq!(field(&a, "blb").as_str(), Some("aGk="));
    let a = after(rows[1]);
    assert_eq!(op(rows[1]), Some("c"));
    assert_eq!(field(&a, "bin").as_str(), Some("Pg=="));
    assert_eq!(field(&a, "fixed").as_str(), Some("//8="));
    assert!(field(&a, "blb").is_null());
    sql(&format!("DROP DATABASE {db}"));
}

/// A resume whose binlog file is gone (a failover, or binlogs rotated and
/// purged while the connector was stopped) resumes by GTID: the stored
/// GTID set is the one before the interrupted transaction, so the server
/// sends that transaction again, the connector skips its rows already
/// delivered, and then crosses the rotation, without loss or duplicate.
/// Without a GTID set the same offset is Debezium's lost-position error.
/// The server's files are not purged (its binlogs serve every test running
/// alongside): the stored offset names a file the server never had.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_whose_binlog_file_is_gone_resumes_by_gtid() {
    let (db, prefix) = names("gtid");
    fresh_db(&db, "CREATE TABLE t (id INT PRIMARY KEY);");
    let sid = 8500 + std::process::id() % 1000;
    let ctx = |o: Option<Offset>| TaskContext {
        connector: "gtid".into(),
        task_id: 0,
        offsets: Arc::new(Stored(o)),
    };
    let mut task = MySqlSourceTask::default();
    task.start(&config(&db, &prefix, sid), ctx(None))
        .await
        .unwrap();
    let snap = poll_until(&mut task, 1, Duration::from_secs(30)).await;
    assert_eq!(snap.len(), 1, "{snap:#?}");
    sql(&format!(
        "BEGIN; INSERT INTO {db}.t VALUES (10); INSERT INTO {db}.t VALUES (11); \
         INSERT INTO {db}.t VALUES (12); COMMIT;"
    ));
    let rows = poll_kept(&mut task, 3, Duration::from_secs(30), |r| {
        after_id(r).is_some()
    })
    .await;
    let ids: Vec<i64> = rows.iter().filter_map(after_id).collect();
    assert_eq!(ids, vec![10, 11, 12]);
    task.stop().await.unwrap();
    // the offset after the second row carries the GTID set before the
    // transaction (Debezium's restart set): 0-1-<n-1> for GTID 0-1-<n>
    let mid = rows[1].source_offset.clone();
    assert_eq!(
        (&mid["event"], &mid["row"]),
        (&2.into(), &0.into()),
        "{mid:?}"
    );
    let source = field(&rows[1].record.value, "source");
    let gtid = field(source, "gtid").as_str().unwrap().to_owned();
    let (domain_server, seq) = gtid.rsplit_once('-').unwrap();
    let seq: u64 = seq.parse().unwrap();
    let stored = mid["gtids"].as_str().unwrap();
    assert!(
        stored
            .split(',')
            .any(|g| g == format!("{domain_server}-{}", seq - 1)),
        "stored {stored}, transaction {gtid}"
    );
    let file = field(source, "file").as_str().unwrap().to_owned();
    // rotate, write in the new binlog, and make the stored file one the
    // server does not have
    sql(&format!(
        "FLUSH BINARY LOGS; INSERT INTO {db}.t VALUES (13);"
    ));
    let mut gone = mid.clone();
    gone.insert("file".into(), "mariadb-bin.999999".into());
    gone.insert("pos".into(), 4.into());
    let mut task = MySqlSourceTask::default();
    task.start(&config(&db, &prefix, sid), ctx(Some(gone.clone())))
        .await
        .unwrap();
    let again = poll_kept(&mut task, 2, Duration::from_secs(30), |r| {
        after_id(r).is_some()
    })
    .await;
    let ids: Vec<i64> = again.iter().filter_map(after_id).collect();
    assert_eq!(
        ids,
        vec![12, 13],
        "the rest of the transaction, then the new row"
    );
    let file_13 = field(field(&again[1].record.value, "source"), "file");
    assert_ne!(
        file_13.as_str(),
        Some(file.as_str()),
        "13 is in the rotated binlog"
    );
    sql(&format!("INSERT INTO {db}.t VALUES (14);"));
    let next = poll_kept(&mut task, 1, Duration::from_secs(30), |r| {
        after_id(r).is_some()
    })
    .await;
    assert_eq!(
        next.iter().filter_map(after_id).collect::<Vec<_>>(),
        vec![14]
    );
    task.stop().await.unwrap();
    // no GTID set: the binlog file is all there is, and it is gone
    gone.remove("gtids");
    let mut task = MySqlSourceTask::default();
    task.start(&config(&db, &prefix, sid), ctx(Some(gone)))
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let err = loop {
        match task.poll().await {
            Err(e) => break e.to_string(),
            Ok(recs) => assert!(recs.is_empty() && Instant::now() < deadline, "{recs:#?}"),
        }
    };
    assert!(
        err.contains("mariadb-bin.999999") && err.contains("no longer available on the server"),
        "{err}"
    );
    let _ = task.stop().await;
    sql(&format!("DROP DATABASE {db}"));
}

/// The `SHOW SLAVE STATUS` of the replica at `socket`, field by field.
fn replica_status(socket: &std::path::Path) -> Vec<(String, String)> {
    sql_at(socket, &[], "SHOW SLAVE STATUS\\G")
        .lines()
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

/// Waits until the replica at `socket` applied every transaction the
/// primary has binlogged (`MASTER_GTID_WAIT`); fails, showing its
/// replication status, when it does not within a minute.
fn wait_for_replica(socket: &std::path::Path) {
    let target = sql_out("SELECT @@global.gtid_binlog_pos");
    let waited = sql_at(
        socket,
        &["-N"],
        &format!("SELECT MASTER_GTID_WAIT('{target}', 60)"),
    );
    assert_eq!(
        waited,
        "0",
        "the replica did not apply the primary's {target}: {:#?}",
        replica_status(socket)
    );
}

/// Failover (issue 17): a connector streaming from the primary stops; rows
/// written on the primary meanwhile replicate; the connector restarted
/// with `database.hostname`/`database.port` of the replica (its own binlog
/// files and positions, the primary's GTIDs) resumes by GTID from the
/// stored offset and emits exactly the rows after it, then the rows the
/// primary writes after the switch, through the replica. An offset stored
/// in the middle of a transaction on the primary resumes on the replica
/// just as exactly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_to_the_replica_resumes_by_gtid_without_gap_or_duplicate() {
    let replica = replica_socket();
    let primary_port = std::env::var("VELOCITY_MARIADB_PORT").unwrap_or_else(|_| "53306".into());
    let status = replica_status(&replica);
    let field_of = |name: &str| {
        status
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    assert!(
        field_of("Slave_IO_Running") == Some("Yes")
            && field_of("Slave_SQL_Running") == Some("Yes")
            && field_of("Master_Port") == Some(primary_port.as_str()),
        "the replica does not replicate from the primary on port {primary_port} \
         (make it again with VELOCITY_SERVICES=mariadb-replica scripts/services.sh up): {status:#?}"
    );
    let (db, prefix) = names("failover");
    fresh_db(
        &db,
        "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(10)); INSERT INTO t VALUES (1, 'snap');",
    );
    let sid = 8600 + std::process::id() % 1000;
    let ctx = |o: Option<Offset>| TaskContext {
        connector: "failover".into(),
        task_id: 0,
        offsets: Arc::new(Stored(o)),
    };
    let on_replica = |o: &mut RawConfig| {
        let e = |k: &str, d: String| std::env::var(k).unwrap_or(d);
        let port = primary_port.parse::<u16>().unwrap() + 1;
        o.insert(
            "database.hostname".into(),
            e("VELOCITY_MARIADB_REPLICA_HOST", "127.0.0.1".into()),
        );
        o.insert(
            "database.port".into(),
            e("VELOCITY_MARIADB_REPLICA_PORT", port.to_string()),
        );
    };
    // streaming from the primary: the snapshot, then two transactions
    let mut task = MySqlSourceTask::default();
    task.start(&config(&db, &prefix, sid), ctx(None))
        .await
        .unwrap();
    let snap = poll_row_ids(&mut task, 1, Duration::from_secs(30)).await;
    assert_eq!(snap, vec![1]);
    sql(&format!(
        "BEGIN; INSERT INTO {db}.t VALUES (2, 'p'); INSERT INTO {db}.t VALUES (3, 'p'); \
         INSERT INTO {db}.t VALUES (4, 'p'); COMMIT; INSERT INTO {db}.t VALUES (5, 'p');"
    ));
    let rows = poll_kept(&mut task, 4, Duration::from_secs(30), |r| {
        after_id(r).is_some()
    })
    .await;
    assert_eq!(
        rows.iter().filter_map(after_id).collect::<Vec<_>>(),
        vec![2, 3, 4, 5]
    );
    task.stop().await.unwrap();
    let last = rows[3].source_offset.clone();
    assert!(last["gtids"].is_string(), "no GTID set stored: {last:?}");
    // meanwhile on the primary: two transactions, which replicate
    let gtid_6 = sql_out(&format!(
        "BEGIN; INSERT INTO {db}.t VALUES (6, 'q'); INSERT INTO {db}.t VALUES (7, 'q'); COMMIT; \
         SELECT @@last_gtid; INSERT INTO {db}.t VALUES (8, 'q');"
    ));
    wait_for_replica(&replica);
    // the connector moved to the replica: the rows after the last offset
    let mut c = config(&db, &prefix, sid);
    on_replica(&mut c);
    let mut task = MySqlSourceTask::default();
    task.start(&c, ctx(Some(last))).await.unwrap();
    let moved = poll_kept(&mut task, 3, Duration::from_secs(30), |r| {
        after_id(r).is_some()
    })
    .await;
    assert_eq!(
        moved.iter().filter_map(after_id).collect::<Vec<_>>(),
        vec![6, 7, 8],
        "exactly the rows after the last offset, from the replica"
    );
    let source = field(&moved[0].record.value, "source");
    assert_eq!(
        field(source, "gtid").as_str(),
        Some(gtid_6.as_str()),
        "the replica's binlog carries the primary's GTIDs"
    );
    // its offsets are the replica's binlog: the GTID state at the stored
    // file/pos is the stored GTID set
    let at_6 = &moved[0].source_offset;
    let state = sql_at(
        &replica,
        &["-N"],
        &format!(
            "SELECT BINLOG_GTID_POS('{}', {})",
            at_6["file"].as_str().unwrap(),
            at_6["pos"]
        ),
    );
    assert_eq!(Some(state.as_str()), at_6["gtids"].as_str(), "{at_6:?}");
    // written on the primary after the switch: through the replica, next
    sql(&format!("INSERT INTO {db}.t VALUES (9, 'r');"));
    let next = poll_row_ids(&mut task, 1, Duration::from_secs(30)).await;
    assert_eq!(next, vec![9], "no duplicate before the new row");
    task.stop().await.unwrap();
    // an offset the primary stored in the middle of a transaction (after
    // row 3) resumes on the replica with row 4
    let mut task = MySqlSourceTask::default();
    task.start(&c, ctx(Some(rows[1].source_offset.clone())))
        .await
        .unwrap();
    let again = poll_row_ids(&mut task, 6, Duration::from_secs(30)).await;
    assert_eq!(again, vec![4, 5, 6, 7, 8, 9]);
    sql(&format!("INSERT INTO {db}.t VALUES (10, 'r');"));
    let next = poll_row_ids(&mut task, 1, Duration::from_secs(30)).await;
    assert_eq!(next, vec![10]);
    task.stop().await.unwrap();
    sql(&format!("DROP DATABASE {db}"));
}

/// `enable.time.adjuster`: a DATE and a DATETIME with two-digit years read
/// as 2010 and 1985 by default (snapshot and binlog alike), as written with
/// `enable.time.adjuster=false`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_digit_years_follow_enable_time_adjuster() {
    use velocity_api::calendar::days_from_civil;
    for adjust in [true, false] {
        let (db, prefix) = names(if adjust { "tadj" } else { "tnoadj" });
        fresh_db(
            &db,
            "CREATE TABLE t (id INT PRIMARY KEY, d DATE, dt DATETIME); \
             INSERT INTO t VALUES (1, '0010-05-01', '0085-01-01 00:00:01');",
        );
        let mut c = config(
            &db,
            &prefix,
            8700 + std::process::id() % 200 + u32::from(adjust),
        );
        if !adjust {
            c.insert("enable.time.adjuster".into(), "false".into());
        }
        let mut task = MySqlSourceTask::default();
        task.start(&c, context("tadj")).await.unwrap();
        let snap = poll_kept(&mut task, 1, Duration::from_secs(30), |r| {
            op(r) == Some("r")
        })
        .await;
        sql(&format!(
            "USE {db}; INSERT INTO t VALUES (2, '0010-05-01', '0085-01-01 00:00:01');"
        ));
        let streamed = poll_kept(&mut task, 1, Duration::from_secs(30), |r| {
            op(r) == Some("c")
        })
        .await;
        task.stop().await.unwrap();
        sql(&format!("DROP DATABASE {db}"));
        let (y10, y85) = if adjust { (2010, 1985) } else { (10, 85) };
        assert_eq!((snap.len(), streamed.len()), (1, 1), "adjust={adjust}");
        for (r, want_op) in [(&snap[0], "r"), (&streamed[0], "c")] {
            assert_eq!(op(r), Some(want_op), "{r:?}");
            let after = field(&r.record.value, "after");
            assert_eq!(
                field(after, "d").as_i64(),
                Some(days_from_civil(y10, 5, 1)),
                "adjust={adjust} {want_op}: {after:?}"
            );
            assert_eq!(
                field(after, "dt").as_i64(),
                Some(days_from_civil(y85, 1, 1) * 86_400_000 + 1000),
                "adjust={adjust} {want_op}: {after:?}"
            );
        }
    }
}

/// `gtid.source.filter.dml.events` (default true): with `gtid.source.excludes`
/// naming a GTID domain, the rows written in that domain are not emitted;
/// with the key false they are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_of_excluded_gtid_sources_are_filtered() {
    for filter in [true, false] {
        let (db, prefix) = names(if filter { "gtfilt" } else { "gtnofilt" });
        fresh_db(&db, "CREATE TABLE t (id INT PRIMARY KEY);");
        let mut c = config(
            &db,
            &prefix,
            8900 + std::process::id() % 90 + u32::from(filter),
        );
        c.insert("gtid.source.excludes".into(), "77-.*".into());
        c.insert("snapshot.mode".into(), "no_data".into());
        if !filter {
            c.insert("gtid.source.filter.dml.events".into(), "false".into());
        }
        let mut task = MySqlSourceTask::default();
        task.start(&c, context("gtfilt")).await.unwrap();
        // the snapshot's schema records: the binlog position is fixed
        poll_kept(&mut task, 1, Duration::from_secs(30), |r| op(r).is_none()).await;
        sql(&format!(
            "USE {db}; INSERT INTO t VALUES (1); \
             SET SESSION gtid_domain_id = 77; INSERT INTO t VALUES (2); \
             SET SESSION gtid_domain_id = 0; INSERT INTO t VALUES (3);"
        ));
        let want = if filter { vec![1, 3] } else { vec![1, 2, 3] };
        let ids = poll_row_ids(&mut task, want.len(), Duration::from_secs(30)).await;
        // nothing more: a marker row arrives next
        sql(&format!("USE {db}; INSERT INTO t VALUES (4);"));
        let next = poll_row_ids(&mut task, 1, Duration::from_secs(30)).await;
        task.stop().await.unwrap();
        sql(&format!("DROP DATABASE {db}"));
        assert_eq!(ids, want, "filter={filter}");
        assert_eq!(next, vec![4], "filter={filter}");
    }
}
