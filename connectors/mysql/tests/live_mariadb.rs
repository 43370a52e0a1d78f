//! Drives the source task directly (no worker, no broker) against the real
//! MariaDB of `scripts/services.sh`: snapshot + streaming, and resuming from
//! an offset taken in the middle of a transaction. Fails when the server's
//! root socket (`VELOCITY_MARIADB_SOCKET`, exported by `scripts/services.sh
//! env`, else this checkout's) is not there: start it with
//! `scripts/services.sh up`.

use std::sync::Arc;
use std::time::Duration;

use velocity_api::{Offset, OffsetReader, Partition, RawConfig, SourceTask, TaskContext, Value};
use velocity_connector_mysql::task::MySqlSourceTask;

mod common;
use common::{after_id, poll_until, socket, sql};

struct Stored(Option<Offset>);

impl OffsetReader for Stored {
    fn offset(&self, _p: &Partition) -> Option<Offset> {
        self.0.clone()
    }
}

fn config(db: &str, prefix: &str, sid: u32) -> RawConfig {
    let e = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.to_owned());
    [
        ("connector.class", "mariadb".to_owned()),
        ("database.hostname", e("VELOCITY_MARIADB_HOST", "127.0.0.1")),
        ("database.port", e("VELOCITY_MARIADB_PORT", "53306")),
        ("database.user", "velocity".into()),
        ("database.password", "velocity".into()),
        ("database.server.id", sid.to_string()),
        ("topic.prefix", prefix.into()),
        ("database.include.list", db.into()),
        ("max.batch.size", "3".into()),
        ("max.queue.size", "6".into()),
        ("poll.interval.ms", "200".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
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
