//! Three `velocity distributed` workers on loopback sharing one group and
//! its three internal topics on the real broker, with the real PostgreSQL:
//! connectors created through one worker run across all three; every
//! worker shows the same connectors and statuses (with worker ids); REST
//! writes sent to a follower are forwarded to the leader; a write before
//! any leader is known answers Kafka Connect's 409; a config PUT sent to a
//! worker that does not run the task takes effect where it runs; SIGTERM of
//! a worker hands its tasks over with no duplicate; a restart of all three
//! keeps connectors, task configs, PAUSED/STOPPED states and offsets; and
//! SIGKILL of the worker running the PostgreSQL task moves it to a survivor
//! with nothing lost and duplicates only after the stored offset.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{
    append_lines, consume_until, env, file_source_json, free_port, kafka_bootstrap, psql,
    psql_file_in_background, unique, wait_until, Worker,
};
use serde_json::{json, Value};

/// Membership settings small enough for a test (the issue asks for small
/// `session.timeout.ms` and `scheduled.rebalance.max.delay.ms`).
fn props(id: &str) -> String {
    format!(
        "velocity.file.connectors.enable=true\ngroup.id={id}\nconfig.storage.topic={id}-configs\n\
         offset.storage.topic={id}-offsets\nstatus.storage.topic={id}-status\n\
         config.storage.replication.factor=1\noffset.storage.replication.factor=1\n\
         status.storage.replication.factor=1\noffset.storage.partitions=5\nstatus.storage.partitions=2\n\
         session.timeout.ms=6000\nheartbeat.interval.ms=1000\nrebalance.timeout.ms=10000\n\
         scheduled.rebalance.max.delay.ms=0\noffset.flush.interval.ms=200\n"
    )
}

/// The tests of this file run one at a time: each starts three workers
/// whose rebalances are timing-sensitive on a 2-core machine.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

struct Cluster {
    id: String,
    _dirs: Vec<tempfile::TempDir>,
    workers: Vec<Worker>,
}

/// Drops a test database and its slot when dropped.
struct Cleanup {
    db: String,
    slot: String,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        // the killed worker's walsender may take a moment to go
        for _ in 0..50 {
            let active = psql(
                "postgres",
                &["-c", &format!("SELECT count(*) FROM pg_replication_slots WHERE slot_name = '{}' AND active", self.slot)],
            );
            if active == "0" {
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        drop_db(&self.db, &self.slot);
    }
}

impl Cluster {
    fn start(n: usize) -> Cluster {
        Cluster::start_as(&unique("cluster"), n)
    }

    fn start_as(id: &str, n: usize) -> Cluster {
        let id = id.to_owned();
        let mut dirs = Vec::new();
        let mut workers = Vec::new();
        for _ in 0..n {
            let d = tempfile::tempdir().unwrap();
            workers.push(Worker::start_distributed(d.path(), &props(&id)));
            dirs.push(d);
        }
        Cluster {
            id,
            _dirs: dirs,
            workers,
        }
    }

    fn alive(&self) -> impl Iterator<Item = &Worker> {
        self.workers.iter().filter(|w| w.is_running())
    }

    /// The REST port of the group's leader once the group is settled:
    /// every running worker's latest "joined the group" line names the same
    /// generation and leader. Waits up to 60 s for that (a rebalance may be
    /// under way: then a worker still believes the previous leader).
    fn leader_port(&self) -> u16 {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let latest: Vec<Option<(String, u16)>> =
                self.alive().map(|w| last_join(&w.log_text())).collect();
            if let Some(Some(first)) = latest.first() {
                if latest.iter().all(|l| l.as_ref() == Some(first)) {
                    return first.1;
                }
            }
            assert!(
                Instant::now() < deadline,
                "the workers did not settle on one generation and leader in 60 s: {latest:?}\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn logs(&self) -> String {
        self.workers
            .iter()
            .enumerate()
            .map(|(i, w)| format!("=== worker {i} ===\n{}", w.log_text()))
            .collect()
    }

    /// Waits (90 s) until every live worker answers the same status for
    /// `name` and `pred` holds for it; returns it.
    fn wait_status(&self, name: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(90);
        let mut last = Vec::new();
        while Instant::now() < deadline {
            last = self
                .alive()
                .map(|w| w.call("GET", &format!("/connectors/{name}/status"), None))
                .collect::<Vec<_>>();
            if last
                .iter()
                .all(|(c, s)| *c == 200 && pred(s) && *s == last[0].1)
            {
                return last[0].1.clone();
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        panic!(
            "status of {name} not agreed in 90 s: {last:?}\n{}",
            self.logs()
        );
    }

    /// The index of the live worker whose id is `worker_id`.
    fn index_of(&self, worker_id: &str) -> usize {
        self.workers
            .iter()
            .position(|w| w.is_running() && format!("127.0.0.1:{}", w.port()) == worker_id)
            .unwrap_or_else(|| panic!("no live worker {worker_id}"))
    }
}

fn all_running(s: &Value, tasks: usize) -> bool {
    s["connector"]["state"] == "RUNNING"
        && s["tasks"]
            .as_array()
            .is_some_and(|t| t.len() == tasks && t.iter().all(|t| t["state"] == "RUNNING"))
}

fn lines_of(topic: &str, want: usize) -> Vec<String> {
    consume_until(topic, Duration::from_secs(60), |r| r.len() >= want)
        .into_iter()
        .map(|(_, v)| String::from_utf8(v.unwrap()).unwrap())
        .collect()
}

fn pg_source(name: &str, db: &str, prefix: &str, slot: &str) -> String {
    json!({"name": name, "config": {
        "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
        "database.hostname": env("VELOCITY_PG_HOST", "127.0.0.1"),
        "database.port": env("VELOCITY_PG_PORT", "55432"),
        "database.user": env("VELOCITY_PG_SUPERUSER", "postgres"),
        "database.password": env("VELOCITY_PG_SUPERUSER_PASSWORD", "postgres"),
        "database.dbname": db, "topic.prefix": prefix,
        "slot.name": slot, "publication.name": slot, "publication.autocreate.mode": "filtered",
        "table.include.list": "public.t", "max.batch.size": "256",
        "slot.retry.delay.ms": "500", "slot.max.retries": "60",
        "topic.creation.default.partitions": "3", "topic.creation.default.replication.factor": "1",
    }})
    .to_string()
}

fn jdbc_sink(name: &str, db: &str, topic: &str) -> String {
    let url = format!(
        "jdbc:postgresql://{}:{}/{db}",
        env("VELOCITY_PG_HOST", "127.0.0.1"),
        env("VELOCITY_PG_PORT", "55432")
    );
    json!({"name": name, "config": {
        "connector.class": "io.debezium.connector.jdbc.JdbcSinkConnector",
        "tasks.max": "3", "topics": topic,
        "connection.url": url,
        "connection.username": env("VELOCITY_PG_SUPERUSER", "postgres"),
        "connection.password": env("VELOCITY_PG_SUPERUSER_PASSWORD", "postgres"),
        "insert.mode": "upsert", "primary.key.mode": "record_key", "delete.enabled": "true",
        "schema.evolution": "basic", "table.name.format": "sink_t",
        "consumer.override.session.timeout.ms": "6000",
    }})
    .to_string()
}

fn fresh_db() -> String {
    let db = unique("dcl").replace('-', "_");
    psql("postgres", &["-c", &format!("CREATE DATABASE {db}")]);
    psql(&db, &["-c", "CREATE TABLE t (id int PRIMARY KEY, v text)"]);
    db
}

fn drop_db(db: &str, slot: &str) {
    common::pg_drop_db(db, slot);
}

/// Inserts rows `from..=to` (one transaction per `per_tx` rows) in the
/// background through psql.
fn load(db: &str, dir: &Path, from: i64, to: i64, per_tx: i64) -> std::process::Child {
    let sql = dir.join(format!("load-{from}.sql"));
    let mut text = String::new();
    let mut i = from;
    while i <= to {
        let end = (i + per_tx - 1).min(to);
        text.push_str(&format!(
            "INSERT INTO t SELECT g, 'x' FROM generate_series({i}, {end}) g;\nSELECT pg_sleep(0.01);\n"
        ));
        i = end + 1;
    }
    std::fs::write(&sql, text).unwrap();
    psql_file_in_background(db, &sql)
}

/// Every change event of `topic` as (id, lsn), in partition order, read
/// until `done`.
fn pg_events(topic: &str, mut done: impl FnMut(&BTreeSet<i64>) -> bool) -> Vec<(i64, u64)> {
    let mut ids = BTreeSet::new();
    let mut scanned = 0;
    let recs = consume_until(topic, Duration::from_secs(120), |r| {
        for (_, v) in &r[scanned..] {
            if let Some(id) = v
                .as_ref()
                .and_then(|v| serde_json::from_slice::<Value>(v).ok())
                .and_then(|v| v["payload"]["after"]["id"].as_i64())
            {
                ids.insert(id);
            }
        }
        scanned = r.len();
        done(&ids)
    });
    recs.into_iter()
        .filter_map(|(_, v)| {
            let v: Value = serde_json::from_slice(&v?).ok()?;
            let p = &v["payload"];
            Some((p["after"]["id"].as_i64()?, p["source"]["lsn"].as_u64()?))
        })
        .collect()
}

/// The offset stored for `connector` in the offsets topic, read with the
/// GET offsets endpoint of a live worker.
fn stored_offset(w: &Worker, connector: &str) -> Value {
    let (code, body) = w.call("GET", &format!("/connectors/{connector}/offsets"), None);
    assert_eq!(code, 200, "{body}");
    body["offsets"][0]["offset"].clone()
}

#[test]
fn three_workers_share_connectors_forward_writes_and_survive_sigterm_and_restart() {
    let _serial = serial();
    let c = Cluster::start(3);
    let dir = tempfile::tempdir().unwrap();
    let (in1, in2) = (dir.path().join("in1.txt"), dir.path().join("in2.txt"));
    append_lines(&in1, 0, 10);
    append_lines(&in2, 0, 10);
    let (t1, t2) = (format!("{}-f1", c.id), format!("{}-f2", c.id));
    // every write goes to worker 0, leader or not: followers forward
    for (name, file, topic) in [("f1", &in1, &t1), ("f2", &in2, &t2)] {
        let (code, body) = c.workers[0].call(
            "POST",
            "/connectors",
            Some(&file_source_json(name, file, topic)),
        );
        assert_eq!(code, 201, "{body}");
        assert_eq!(body["name"], name);
    }
    let (code, body) = c.workers[0].call(
        "POST",
        "/connectors",
        Some(&file_source_json("f1", &in1, &t1)),
    );
    assert_eq!(
        code, 409,
        "a second create is refused by the leader: {body}"
    );
    assert_eq!(body["message"], "Connector f1 already exists");

    // every worker lists the same connectors (once it has read the config
    // topic up to the leader's writes: followers see them eventually, as in
    // Kafka Connect) and statuses with worker ids
    for w in c.alive() {
        wait_until(
            Duration::from_secs(30),
            "every worker to list f1 and f2",
            || {
                let (_, list) = w.call("GET", "/connectors", None);
                let mut names: Vec<String> = serde_json::from_value(list).unwrap_or_default();
                names.sort();
                names == ["f1", "f2"]
            },
        );
    }
    let s1 = c.wait_status("f1", |s| all_running(s, 1));
    let s2 = c.wait_status("f2", |s| all_running(s, 1));
    let workers: BTreeSet<String> = c
        .alive()
        .map(|w| format!("127.0.0.1:{}", w.port()))
        .collect();
    for s in [&s1, &s2] {
        assert!(
            workers.contains(s["tasks"][0]["worker_id"].as_str().unwrap()),
            "{s}"
        );
        assert!(
            workers.contains(s["connector"]["worker_id"].as_str().unwrap()),
            "{s}"
        );
    }
    assert_eq!(lines_of(&t1, 10).len(), 10);

    // worker 0 carried the creates out as leader, or forwarded them: then
    // exactly one other worker's access log shows them with forward=true
    if c.workers[0]
        .log_text()
        .contains("forwarding the request to")
    {
        let at_leader = c.workers[1..]
            .iter()
            .filter(|w| w.log_text().contains("POST /connectors?forward=true"))
            .count();
        assert_eq!(at_leader, 1, "{}", c.logs());
    } else {
        assert!(
            !c.logs().contains("POST /connectors?forward=true"),
            "{}",
            c.logs()
        );
    }

    // a config PUT sent to a worker that does not run f1's task takes
    // effect where it runs: the new lines go to the new topic
    let runs_f1 = c.index_of(s1["tasks"][0]["worker_id"].as_str().unwrap());
    let other = (runs_f1 + 1) % 3;
    let t1b = format!("{t1}-b");
    let new_config = serde_json::from_str::<Value>(&file_source_json("f1", &in1, &t1b)).unwrap()
        ["config"]
        .to_string();
    let (code, body) = c.workers[other].call("PUT", "/connectors/f1/config", Some(&new_config));
    assert_eq!(code, 200, "{body}");
    c.wait_status("f1", |s| all_running(s, 1));
    wait_until(
        Duration::from_secs(60),
        "f1's task config to name the new topic",
        || {
            let (_, tasks) = c.workers[runs_f1].call("GET", "/connectors/f1/tasks", None);
            tasks[0]["config"]["topic"] == t1b.as_str()
        },
    );
    // the task restarts with its new config some time after the commit is
    // visible (as in Kafka Connect, no client can tell when): lines are
    // appended one by one until one arrives in the new topic; every line
    // then is in exactly one of the two topics, the old ones first
    let mut total = 10;
    wait_until(Duration::from_secs(60), "a line in the new topic", || {
        append_lines(&in1, total, total + 1);
        total += 1;
        !consume_until(&t1b, Duration::from_millis(500), |r| !r.is_empty()).is_empty()
    });
    let old: Vec<String> = consume_until(&t1, Duration::from_secs(10), |r| r.len() >= total)
        .into_iter()
        .map(|(_, v)| String::from_utf8(v.unwrap()).unwrap())
        .collect();
    let new = lines_of(&t1b, total - old.len());
    assert!(!new.is_empty());
    assert_eq!(
        [old, new].concat(),
        (0..total).map(|i| format!("line-{i}")).collect::<Vec<_>>(),
        "{}",
        c.logs()
    );

    // pause f2 and stop f1 through the third worker
    let third = (runs_f1 + 2) % 3;
    assert_eq!(
        c.workers[third].call("PUT", "/connectors/f2/pause", None).0,
        202
    );
    c.wait_status("f2", |s| {
        s["connector"]["state"] == "PAUSED" && s["tasks"][0]["state"] == "PAUSED"
    });
    assert_eq!(
        c.workers[third].call("PUT", "/connectors/f1/stop", None).0,
        204
    );
    c.wait_status("f1", |s| s["connector"]["state"] == "STOPPED");
    assert_eq!(
        c.workers[third]
            .call("PUT", "/connectors/f2/resume", None)
            .0,
        202
    );
    c.wait_status("f2", |s| all_running(s, 1));

    // SIGTERM of the worker running f2's task while lines are appended:
    // the task moves with its offset, nothing twice
    let s2 = c.wait_status("f2", |s| all_running(s, 1));
    let runs_f2 = c.index_of(s2["tasks"][0]["worker_id"].as_str().unwrap());
    append_lines(&in2, 10, 20);
    let mut c = c;
    c.workers[runs_f2].stop();
    append_lines(&in2, 20, 30);
    let s2 = c.wait_status("f2", |s| all_running(s, 1));
    assert_ne!(
        c.index_of(s2["tasks"][0]["worker_id"].as_str().unwrap()),
        runs_f2
    );
    let got = lines_of(&t2, 30);
    assert_eq!(
        got,
        (0..30).map(|i| format!("line-{i}")).collect::<Vec<_>>(),
        "a clean handover duplicates nothing and loses nothing:\n{}",
        c.logs()
    );

    // restart all three: connectors, task configs, states and offsets survive
    let (_, tasks_before) = c
        .alive()
        .next()
        .unwrap()
        .call("GET", "/connectors/f2/tasks", None);
    let live = c.alive().map(|w| w.port()).collect::<Vec<_>>();
    let any = c
        .workers
        .iter()
        .find(|w| w.port() == live[live.len() - 1])
        .unwrap();
    // right after a leader left, a forward may still go to it (500, as
    // Kafka Connect's "IO Error trying to forward REST request") or find no
    // leader (409) until the group has rebalanced: a client retries
    wait_until(Duration::from_secs(60), "the pause to be accepted", || {
        any.call("PUT", "/connectors/f2/pause", None).0 == 202
    });
    c.wait_status("f2", |s| s["connector"]["state"] == "PAUSED");
    for w in c.workers.iter_mut() {
        w.stop();
    }
    for w in c.workers.iter_mut() {
        w.restart();
    }
    c.wait_status("f1", |s| s["connector"]["state"] == "STOPPED");
    c.wait_status("f2", |s| {
        s["connector"]["state"] == "PAUSED" && s["tasks"][0]["state"] == "PAUSED"
    });
    let (_, tasks_after) = c.workers[0].call("GET", "/connectors/f2/tasks", None);
    assert_eq!(tasks_before, tasks_after);
    append_lines(&in2, 30, 35);
    assert_eq!(
        c.workers[1].call("PUT", "/connectors/f2/resume", None).0,
        202
    );
    c.wait_status("f2", |s| all_running(s, 1));
    let got = lines_of(&t2, 35);
    assert_eq!(
        got,
        (0..35).map(|i| format!("line-{i}")).collect::<Vec<_>>(),
        "offsets survive a restart of the whole cluster:\n{}",
        c.logs()
    );
    // a delete sent to a follower is forwarded to the leader and reaches
    // every worker (which worker leads moved with the restarts above, so
    // the earlier writes may each have landed on the leader of the moment)
    let leader = c.leader_port();
    let follower = c.alive().find(|w| w.port() != leader).expect("a follower");
    let forwarded = |w: &Worker| w.log_text().matches("forwarding the request to").count();
    let before = forwarded(follower);
    assert_eq!(follower.call("DELETE", "/connectors/f1", None).0, 204);
    assert!(
        forwarded(follower) > before,
        "the follower on port {} forwarded the delete to the leader on port {leader}:\n{}",
        follower.port(),
        c.logs()
    );
    wait_until(Duration::from_secs(30), "f1 to be gone everywhere", || {
        c.alive()
            .all(|w| w.call("GET", "/connectors/f1", None).0 == 404)
    });
}

/// A worker whose REST listener is open but which has not joined its group
/// yet knows no leader: a write answers Kafka Connect's 409.
#[test]
fn a_write_before_the_first_rebalance_answers_409() {
    let _serial = serial();
    let id = unique("noleader");
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let props_path = dir.path().join("worker.properties");
    std::fs::write(
        &props_path,
        format!(
            "bootstrap.servers={}\nlisteners=http://127.0.0.1:{port}\n{}",
            kafka_bootstrap(),
            props(&id)
        ),
    )
    .unwrap();
    let log = dir.path().join("worker.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_velocity"))
        .arg("distributed")
        .arg(&props_path)
        .stdout(Stdio::from(std::fs::File::create(&log).unwrap()))
        .stderr(Stdio::from(
            std::fs::File::create(dir.path().join("err.log")).unwrap(),
        ))
        .spawn()
        .unwrap();
    let client = reqwest::blocking::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    wait_until(Duration::from_secs(30), "the REST port", || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    let health = client.get(format!("{base}/health")).send().unwrap();
    let body = r#"{"name":"x","config":{"connector.class":"FileStreamSource","file":"/dev/null","topic":"x"}}"#;
    let resp = client
        .post(format!("{base}/connectors"))
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .unwrap();
    let status = resp.status().as_u16();
    let answer: Value = resp.json().unwrap();
    let _ = child.kill();
    let _ = child.wait();
    // the join phase takes seconds (tansu: about 3 s), the two requests
    // milliseconds: both fall before the first assignment
    assert_eq!(health.status().as_u16(), 503, "still joining");
    assert_eq!(status, 409, "{answer}");
    assert_eq!(
        answer["message"],
        "Cannot complete request momentarily due to no known leader URL, likely because a rebalance was underway."
    );
}

/// SIGKILL of the worker that runs the PostgreSQL source task while rows
/// are written: the task runs on a survivor within `session.timeout.ms` +
/// `scheduled.rebalance.max.delay.ms` (+ the broker's join phase), no row
/// is lost, and only rows after the offset stored in the offsets topic
/// before the kill arrive twice; the JDBC sink with `tasks.max=3` ends with
/// every row.
///
/// Ignored in the default run: on tansu 0.6 a SIGKILLed *follower*'s work
/// never moves (the survivors' rejoin is answered with the old generation
/// and the leader is never told to rejoin; README, Known differences), so
/// the test passes only when the killed worker led the group. Run it with
/// `cargo test --test distributed_cluster -- --ignored`.
#[test]
#[ignore = "tansu 0.6 does not rebalance after a follower's expiry (README, Known differences)"]
fn sigkill_moves_the_postgres_task_to_a_survivor_and_loses_nothing() {
    let _serial = serial();
    let db = fresh_db();
    let dir = tempfile::tempdir().unwrap();
    let id = unique("cluster");
    let prefix = id.replace('-', "_");
    let slot = prefix.clone();
    // dropped after the workers (declared before them): the database and
    // the slot go even when an assertion fails, so no slot is left behind
    let _cleanup = Cleanup {
        db: db.clone(),
        slot: slot.clone(),
    };
    let mut c = Cluster::start_as(&id, 3);
    let topic = format!("{prefix}.public.t");
    let (code, body) = c.workers[0].call(
        "POST",
        "/connectors",
        Some(&pg_source("pg", &db, &prefix, &slot)),
    );
    assert_eq!(code, 201, "{body}");
    let s = c.wait_status("pg", |s| all_running(s, 1));
    wait_until(Duration::from_secs(60), "the slot to be active", || {
        psql("postgres", &["-c", &format!("SELECT count(*) FROM pg_replication_slots WHERE slot_name = '{slot}' AND active")]) == "1"
    });
    let (code, body) =
        c.workers[1].call("POST", "/connectors", Some(&jdbc_sink("sink", &db, &topic)));
    assert_eq!(code, 201, "{body}");
    c.wait_status("sink", |s| all_running(s, 3));
    let sink_status = c.wait_status("sink", |s| all_running(s, 3));
    eprintln!("pg: {s}\nsink: {sink_status}");

    let total = 20_000;
    let mut writer = load(&db, dir.path(), 1, total, 100);
    let victim = c.index_of(s["tasks"][0]["worker_id"].as_str().unwrap());
    consume_until(&topic, Duration::from_secs(60), |r| r.len() >= 3_000);
    let survivor = (victim + 1) % 3;
    let stored = stored_offset(&c.workers[survivor], "pg");
    let killed_at = Instant::now();
    c.workers[victim].kill9();
    let s = c.wait_status("pg", |s| {
        all_running(s, 1)
            && s["tasks"][0]["worker_id"]
                != format!("127.0.0.1:{}", c.workers[victim].port()).as_str()
    });
    let took = killed_at.elapsed();
    // session.timeout.ms (6 s) + scheduled.rebalance.max.delay.ms (0) + at
    // most one rebalance.timeout.ms (10 s) for the join that follows the
    // expiry, + the status reads' polling: 20 s
    assert!(
        took <= Duration::from_secs(20),
        "the PostgreSQL task took {took:?} to run elsewhere\n{}",
        c.logs()
    );
    eprintln!(
        "pg task RUNNING on {} {:?} after the SIGKILL",
        s["tasks"][0]["worker_id"], took
    );
    assert!(writer.wait().unwrap().success());
    let events = pg_events(&topic, |ids| ids.len() >= total as usize);
    let mut seen: BTreeMap<i64, Vec<u64>> = BTreeMap::new();
    for (id, lsn) in &events {
        seen.entry(*id).or_default().push(*lsn);
    }
    let missing: Vec<i64> = (1..=total).filter(|i| !seen.contains_key(i)).collect();
    assert!(
        missing.is_empty(),
        "{} rows lost, e.g. {:?}\n{}",
        missing.len(),
        &missing[..missing.len().min(10)],
        c.logs()
    );
    // duplicates only after the offset stored before the kill
    let lsn_commit = stored["lsn_commit"].as_u64().unwrap_or(0);
    let mut dups = 0;
    for (id, lsns) in &seen {
        if lsns.len() > 1 {
            dups += 1;
            assert!(
                lsns[0] >= lsn_commit,
                "row {id} (lsn {}) was delivered twice although the offset {stored} stored before the kill covers it",
                lsns[0]
            );
        }
    }
    eprintln!("stored offset before the kill: {stored}; rows delivered twice: {dups}");
    // the sink (3 tasks across the survivors) ends with every row
    let sink_rows = || {
        // the sink creates its table with its first write
        if psql(
            &db,
            &[
                "-c",
                "SELECT count(*) FROM pg_class WHERE relname = 'sink_t'",
            ],
        ) != "1"
        {
            return 0;
        }
        psql(&db, &["-c", "SELECT count(*) FROM sink_t"])
            .parse::<i64>()
            .unwrap_or(0)
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    while sink_rows() != total && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(500));
    }
    let rows = sink_rows();
    assert_eq!(
        rows,
        total,
        "sink rows; status: {:?}\n{}",
        c.alive()
            .next()
            .map(|w| w.call("GET", "/connectors/sink/status", None)),
        c.logs()
    );
    for w in c.workers.iter_mut() {
        w.stop();
    }
}

/// `line` without terminal colour codes (`ESC [ … m`).
/// The (generation, leader REST port) of the latest "joined the group"
/// line of a worker's log.
fn last_join(log: &str) -> Option<(String, u16)> {
    log.lines().rev().map(strip_ansi).find_map(|line| {
        if !line.contains("joined the group") {
            return None;
        }
        let field = |name: &str| {
            line.split(&format!("{name}=")[..])
                .nth(1)
                .and_then(|rest| rest.split_whitespace().next())
                .map(str::to_owned)
        };
        let port = field("leader_url")?
            .rsplit(':')
            .next()?
            .trim_end_matches('/')
            .parse()
            .ok()?;
        Some((field("generation")?, port))
    })
}

fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
