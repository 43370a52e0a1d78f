//! End-to-end tests of the MySQL / MariaDB source connectors: the real
//! `velocity` binary against the real MariaDB (binlog_format=ROW, GTID
//! strict mode) and broker started by `scripts/services.sh up`.
//!
//! The expected events are written from Debezium's MySQL / MariaDB
//! connector documentation (type mapping table, `source` block fields,
//! delete + tombstone, snapshot markers) and checked field by field.
//! Each test uses its own database (created as root over the unix socket)
//! and its own topic prefix and `database.server.id`.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{mysql_connector_file as connector_file, mysql_sql as sql, unique, Worker};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{ClientConfig, Message};
use serde_json::{json, Value};

/// Reads `topic` from the start until `want` records arrived (or timeout);
/// returns (key, value) JSON (Null for absent).
fn read(topic: &str, want: usize, timeout: Duration) -> Vec<(Value, Value)> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", common::kafka_bootstrap())
        .set("group.id", unique("mysql-reader"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        // topics appear while the test runs: see them quickly
        .set("topic.metadata.refresh.interval.ms", "500")
        .create()
        .unwrap();
    consumer.subscribe(&[topic]).unwrap();
    let mut out = Vec::new();
    let deadline = Instant::now() + timeout;
    while out.len() < want && Instant::now() < deadline {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) {
            let parse =
                |b: Option<&[u8]>| b.map_or(Value::Null, |b| serde_json::from_slice(b).unwrap());
            out.push((parse(m.key()), parse(m.payload())));
        }
    }
    out
}

/// The field schema called `name` inside the `after` struct schema of an envelope.
fn field_schema<'a>(value: &'a Value, name: &str) -> &'a Value {
    let after = value["schema"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["field"] == "after")
        .unwrap();
    after["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["field"] == name)
        .unwrap_or_else(|| panic!("no field {name} in {after}"))
}

const TABLE_DDL: &str = "CREATE TABLE t (
  id INT NOT NULL PRIMARY KEY,
  ti TINYINT, tu TINYINT UNSIGNED, b1 TINYINT(1), bo BOOLEAN, si SMALLINT, su SMALLINT UNSIGNED,
  mi MEDIUMINT, i INT, iu INT UNSIGNED, bi BIGINT, bu BIGINT UNSIGNED,
  d DECIMAL(10,2), f FLOAT, dbl DOUBLE, bit1 BIT(1), bit12 BIT(12),
  c CHAR(3), vc VARCHAR(20), tx TEXT, l1 VARCHAR(10) CHARACTER SET latin1,
  bn BINARY(3), vb VARBINARY(10), bl BLOB,
  dt DATE, tm TIME(3), dtm DATETIME, dtm6 DATETIME(6), ts TIMESTAMP(3) NULL, yr YEAR,
  js JSON, en ENUM('small','medium','large'), st SET('a','b','c'), g GEOMETRY,
  n INT NULL
)";

fn row_values(id: i64, vc: &str) -> String {
    format!(
        "({id}, -128, 255, 1, TRUE, -32768, 65535, -8388608, -2147483648, 4294967295, \
         -9223372036854775808, 18446744073709551615, 12345.67, 1.5, 2.25, b'1', b'101010101010', \
         'abc', '{vc}', 'some text', 'café', 'xyz', 0x00ff, 0xdeadbeef, \
         '2024-02-29', '12:34:56.789', '2024-05-01 10:20:30', '2024-05-01 10:20:30.123456', \
         '2024-05-01 10:20:30.123', 2024, '{{\"a\": 1}}', 'medium', 'a,c', ST_GeomFromText('POINT(1 2)'), NULL)"
    )
}

/// The row as Debezium's default mappings emit it (JsonConverter: bytes base64).
fn expected_after(id: i64, vc: &str) -> Value {
    json!({
        "id": id, "ti": -128, "tu": 255, "b1": 1, "bo": 1, "si": -32768, "su": 65535,
        "mi": -8388608, "i": -2147483648i64, "iu": 4294967295u64,
        "bi": i64::MIN, "bu": -1,
        "d": "EtaH", "f": 1.5, "dbl": 2.25, "bit1": true, "bit12": "qgo=",
        "c": "abc", "vc": vc, "tx": "some text", "l1": "café",
        "bn": "eHl6", "vb": "AP8=", "bl": "3q2+7w==",
        "dt": 19782, "tm": 45_296_789_000i64, "dtm": 1_714_558_830_000i64,
        "dtm6": 1_714_558_830_123_456i64, "ts": "2024-05-01T10:20:30.123Z", "yr": 2024,
        "js": "{\"a\": 1}", "en": "medium", "st": "a,c",
        "g": {"wkb": "AQEAAAAAAAAAAADwPwAAAAAAAABA", "srid": null},
        "n": null
    })
}

fn check_source(v: &Value, prefix: &str, db: &str, snapshot: &str) {
    let s = &v["payload"]["source"];
    // field order is the schema's (the JSON payload object is read back unordered)
    let source_schema = v["schema"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["field"] == "source")
        .unwrap();
    let keys: Vec<&str> = source_schema["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(s.as_object().unwrap().len(), keys.len(), "{s}");
    assert_eq!(
        keys,
        vec![
            "version",
            "connector",
            "name",
            "ts_ms",
            "snapshot",
            "db",
            "sequence",
            "ts_us",
            "ts_ns",
            "table",
            "server_id",
            "gtid",
            "file",
            "pos",
            "row",
            "thread",
            "query"
        ],
        "{s}"
    );
    assert_eq!(s["connector"], "mariadb");
    assert_eq!(s["name"], prefix);
    assert_eq!(s["db"], db);
    assert_eq!(s["table"], "t");
    assert_eq!(s["snapshot"], snapshot);
    assert!(
        s["file"].as_str().unwrap().starts_with("mariadb-bin."),
        "{s}"
    );
    assert!(s["pos"].as_i64().unwrap() > 0, "{s}");
    assert!(s["ts_ms"].as_i64().unwrap() > 1_600_000_000_000, "{s}");
    assert!(s["query"].is_null());
    let schema_name = v["schema"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["field"] == "source")
        .unwrap()["name"]
        .clone();
    assert_eq!(schema_name, "io.debezium.connector.mariadb.Source");
    if snapshot == "false" {
        assert_eq!(s["server_id"], 1);
        let gtid = s["gtid"].as_str().unwrap();
        let parts: Vec<&str> = gtid.split('-').collect();
        assert_eq!(parts.len(), 3, "MariaDB GTID domain-server-seq: {gtid}");
        assert_eq!(parts[1], "1");
    }
}

#[test]
fn mariadb_snapshot_and_streaming_of_all_types_match_debezium() {
    let db = unique("vmy_types");
    let prefix = unique("mt").replace('_', "");
    sql(&format!(
        "CREATE DATABASE {db}; USE {db}; {TABLE_DDL}; INSERT INTO t VALUES {};",
        row_values(1, "héllo")
    ));
    let dir = tempfile::tempdir().unwrap();
    let conn = connector_file(dir.path(), "mt", &db, &prefix, json!({}));
    let mut w = Worker::start(dir.path(), "", &[conn]);
    let topic = format!("{prefix}.{db}.t");

    // --- snapshot
    let snap = read(&topic, 1, Duration::from_secs(60));
    assert_eq!(snap.len(), 1, "snapshot record; log:\n{}", w.log_text());
    let (k, v) = &snap[0];
    assert_eq!(k["payload"], json!({"id": 1}));
    assert_eq!(k["schema"]["name"], format!("{prefix}.{db}.t.Key"));
    assert_eq!(v["schema"]["name"], format!("{prefix}.{db}.t.Envelope"));
    assert_eq!(v["payload"]["op"], "r");
    assert!(v["payload"]["before"].is_null());
    assert_eq!(v["payload"]["after"], expected_after(1, "héllo"));
    check_source(v, &prefix, &db, "last");

    // schemas of the types (Debezium's MySQL type mapping table)
    let named = |f: &str| field_schema(v, f)["name"].clone();
    let typ = |f: &str| field_schema(v, f)["type"].clone();
    for (f, t) in [
        ("ti", "int16"),
        ("tu", "int16"),
        ("b1", "int16"),
        ("si", "int16"),
        ("su", "int32"),
        ("mi", "int32"),
        ("i", "int32"),
        ("iu", "int64"),
        ("bi", "int64"),
        ("bu", "int64"),
        ("f", "float"),
        ("dbl", "double"),
        ("bit1", "boolean"),
        ("c", "string"),
        ("vc", "string"),
        ("tx", "string"),
        ("bn", "bytes"),
        ("vb", "bytes"),
        ("bl", "bytes"),
        ("js", "string"),
        ("g", "struct"),
    ] {
        assert_eq!(typ(f), t, "type of {f}");
    }
    assert_eq!(named("d"), "org.apache.kafka.connect.data.Decimal");
    assert_eq!(
        field_schema(v, "d")["parameters"],
        json!({"scale": "2", "connect.decimal.precision": "10"})
    );
    assert_eq!(named("bit12"), "io.debezium.data.Bits");
    assert_eq!(
        field_schema(v, "bit12")["parameters"],
        json!({"length": "12"})
    );
    assert_eq!(named("dt"), "io.debezium.time.Date");
    assert_eq!(named("tm"), "io.debezium.time.MicroTime");
    assert_eq!(named("dtm"), "io.debezium.time.Timestamp");
    assert_eq!(named("dtm6"), "io.debezium.time.MicroTimestamp");
    assert_eq!(named("ts"), "io.debezium.time.ZonedTimestamp");
    assert_eq!(named("yr"), "io.debezium.time.Year");
    assert_eq!(named("en"), "io.debezium.data.Enum");
    assert_eq!(
        field_schema(v, "en")["parameters"],
        json!({"allowed": "small,medium,large"})
    );
    assert_eq!(named("st"), "io.debezium.data.EnumSet");
    assert_eq!(
        field_schema(v, "st")["parameters"],
        json!({"allowed": "a,b,c"})
    );
    assert_eq!(named("g"), "io.debezium.data.geometry.Geometry");
    assert_eq!(field_schema(v, "id")["optional"], false);
    assert_eq!(field_schema(v, "n")["optional"], true);

    // --- streaming: insert, update, delete, and delete + insert of one key in one transaction
    sql(&format!(
        "USE {db}; INSERT INTO t VALUES {}; UPDATE t SET vc = 'changed' WHERE id = 2; DELETE FROM t WHERE id = 2; \
         BEGIN; DELETE FROM t WHERE id = 1; INSERT INTO t VALUES {}; COMMIT;",
        row_values(2, "héllo"),
        row_values(1, "again")
    ));
    let all = read(&topic, 8, Duration::from_secs(60));
    assert_eq!(all.len(), 8, "records: {all:?}\nlog:\n{}", w.log_text());
    let ops: Vec<Value> = all
        .iter()
        .map(|(_, v)| v["payload"]["op"].clone())
        .collect();
    assert_eq!(
        ops,
        vec![
            json!("r"),
            json!("c"),
            json!("u"),
            json!("d"),
            Value::Null,
            json!("d"),
            Value::Null,
            json!("c")
        ]
    );

    let (k, c) = &all[1];
    assert_eq!(k["payload"], json!({"id": 2}));
    assert_eq!(
        c["payload"]["after"],
        expected_after(2, "héllo"),
        "binlog decoding equals snapshot decoding"
    );
    assert!(c["payload"]["before"].is_null());
    check_source(c, &prefix, &db, "false");
    assert_eq!(c["payload"]["source"]["row"], 0);

    let (_, u) = &all[2];
    assert_eq!(u["payload"]["before"], expected_after(2, "héllo"));
    assert_eq!(u["payload"]["after"], expected_after(2, "changed"));
    check_source(u, &prefix, &db, "false");

    let (k, d) = &all[3];
    assert_eq!(k["payload"], json!({"id": 2}));
    assert_eq!(d["payload"]["before"], expected_after(2, "changed"));
    assert!(d["payload"]["after"].is_null());
    let (k, tomb) = &all[4];
    assert_eq!(k["payload"], json!({"id": 2}));
    assert!(tomb.is_null(), "tombstone after delete");

    let (_, d1) = &all[5];
    let (_, c1) = &all[7];
    assert_eq!(d1["payload"]["before"], expected_after(1, "héllo"));
    assert_eq!(c1["payload"]["after"], expected_after(1, "again"));
    assert_eq!(all[6].0["payload"], json!({"id": 1}));
    assert_eq!(
        d1["payload"]["source"]["gtid"], c1["payload"]["source"]["gtid"],
        "delete and insert of one transaction share its GTID"
    );
    assert_ne!(
        d1["payload"]["source"]["gtid"],
        u["payload"]["source"]["gtid"]
    );

    // --- schema change topic: the snapshot's CREATE TABLE
    let ddl = read(&prefix, 1, Duration::from_secs(20));
    assert!(!ddl.is_empty(), "schema change records on {prefix}");
    assert_eq!(ddl[0].0["payload"], json!({"databaseName": db}));
    assert_eq!(
        ddl[0].1["schema"]["name"],
        "io.debezium.connector.mariadb.SchemaChangeValue"
    );
    assert!(ddl[0].1["payload"]["ddl"]
        .as_str()
        .unwrap()
        .starts_with("CREATE TABLE"));
    w.stop();
    sql(&format!("DROP DATABASE {db}"));
}

#[test]
fn mariadb_sigkill_and_restart_loses_no_event() {
    let db = unique("vmy_kill");
    let prefix = unique("mk").replace('_', "");
    sql(&format!(
        "CREATE DATABASE {db}; USE {db}; CREATE TABLE k (id INT PRIMARY KEY, v VARCHAR(20));"
    ));
    let dir = tempfile::tempdir().unwrap();
    let conn = connector_file(
        dir.path(),
        "mk",
        &db,
        &prefix,
        json!({"max.batch.size": "7", "max.queue.size": "14"}),
    );
    let mut w = Worker::start(dir.path(), "", &[conn]);
    w.wait_status("mk", |s| s["tasks"][0]["state"] == "RUNNING");
    // wait for the snapshot to be done (the schema change record is on the prefix topic)
    assert!(
        !read(&prefix, 1, Duration::from_secs(60)).is_empty(),
        "log:\n{}",
        w.log_text()
    );
    let topic = format!("{prefix}.{db}.k");
    // one big transaction of single-row inserts (many row events), then more
    let mut big = format!("USE {db}; BEGIN;");
    for id in 1..=300 {
        big.push_str(&format!("INSERT INTO k VALUES ({id}, 'a');"));
    }
    big.push_str("COMMIT;");
    sql(&big);
    let early = read(&topic, 40, Duration::from_secs(60));
    assert!(early.len() >= 40, "log:\n{}", w.log_text());
    std::thread::sleep(Duration::from_millis(700));
    w.kill9();
    let stored = std::fs::read_to_string(dir.path().join("offsets.json")).unwrap_or_default();
    let mut more = format!("USE {db}; BEGIN;");
    for id in 301..=400 {
        more.push_str(&format!("INSERT INTO k VALUES ({id}, 'b');"));
    }
    more.push_str("COMMIT;");
    sql(&more);
    w.restart();
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut seen = std::collections::BTreeMap::<i64, usize>::new();
    while Instant::now() < deadline {
        let recs = read(&topic, 400, Duration::from_secs(5));
        seen.clear();
        for (_, v) in &recs {
            if let Some(id) = v["payload"]["after"]["id"].as_i64() {
                *seen.entry(id).or_default() += 1;
            }
        }
        if seen.len() == 400 {
            break;
        }
    }
    let missing: Vec<i64> = (1..=400).filter(|i| !seen.contains_key(i)).collect();
    assert!(
        missing.is_empty(),
        "lost after SIGKILL: {missing:?}\nstored offsets: {stored}\nlog:\n{}",
        w.log_text()
    );
    let dups = seen.values().filter(|&&n| n > 1).count();
    eprintln!("redelivered after SIGKILL (at-least-once): {dups}; stored offsets before restart: {stored}");
    w.stop();
    sql(&format!("DROP DATABASE {db}"));
}

#[test]
fn mariadb_wrong_password_and_unreachable_host_fail_with_clear_messages() {
    let db = unique("vmy_bad");
    let dir = tempfile::tempdir().unwrap();
    let bad_pw = connector_file(
        dir.path(),
        "badpw",
        &db,
        &unique("bp").replace('_', ""),
        json!({"database.password": "definitely-wrong"}),
    );
    let port = common::free_port();
    let unreachable = connector_file(
        dir.path(),
        "nohost",
        &db,
        &unique("nh").replace('_', ""),
        // unreachable is retriable: without retries it fails at once
        json!({"database.port": port.to_string(), "connect.timeout.ms": "3000", "errors.max.retries": "0"}),
    );
    let w = Worker::start(dir.path(), "", &[bad_pw, unreachable]);
    let s = w.wait_status("badpw", |s| s["tasks"][0]["state"] == "FAILED");
    let trace = s["tasks"][0]["trace"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        trace.contains("database.password") && trace.contains("velocity"),
        "{trace}"
    );
    assert!(
        !trace.contains("definitely-wrong"),
        "the password must not leak: {trace}"
    );
    let s = w.wait_status("nohost", |s| s["tasks"][0]["state"] == "FAILED");
    let trace = s["tasks"][0]["trace"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        trace.contains("database.hostname") && trace.contains(&port.to_string()),
        "{trace}"
    );
    assert!(
        !w.log_text().contains("definitely-wrong"),
        "the password must not be logged"
    );
}

#[test]
fn mariadb_ddl_while_streaming_is_published_and_new_columns_are_captured() {
    let db = unique("vmy_ddl");
    let prefix = unique("md").replace('_', "");
    sql(&format!(
        "CREATE DATABASE {db}; USE {db}; CREATE TABLE a (id INT PRIMARY KEY, v INT);"
    ));
    let dir = tempfile::tempdir().unwrap();
    let conn = connector_file(dir.path(), "md", &db, &prefix, json!({}));
    let mut w = Worker::start(dir.path(), "", &[conn]);
    assert_eq!(
        read(&prefix, 1, Duration::from_secs(60)).len(),
        1,
        "log:\n{}",
        w.log_text()
    );
    sql(&format!(
        "USE {db}; INSERT INTO a VALUES (1, 10); ALTER TABLE a ADD COLUMN note VARCHAR(10) NULL; \
         INSERT INTO a VALUES (2, 20, 'hi'); CREATE TABLE b (id INT PRIMARY KEY); INSERT INTO b VALUES (7);"
    ));
    let topic = format!("{prefix}.{db}.a");
    let recs = read(&topic, 2, Duration::from_secs(60));
    assert_eq!(recs.len(), 2, "log:\n{}", w.log_text());
    assert_eq!(recs[0].1["payload"]["after"], json!({"id": 1, "v": 10}));
    assert_eq!(
        recs[1].1["payload"]["after"],
        json!({"id": 2, "v": 20, "note": "hi"})
    );
    let b = read(&format!("{prefix}.{db}.b"), 1, Duration::from_secs(60));
    assert_eq!(b.len(), 1, "a table created while streaming is captured");
    assert_eq!(b[0].1["payload"]["op"], "c");
    let ddl = read(&prefix, 3, Duration::from_secs(30));
    assert_eq!(ddl.len(), 3, "snapshot CREATE + ALTER + CREATE: {ddl:?}");
    assert!(ddl[1].1["payload"]["ddl"]
        .as_str()
        .unwrap()
        .starts_with("ALTER TABLE a"));
    assert_eq!(ddl[1].1["payload"]["source"]["snapshot"], "false");
    assert_eq!(ddl[1].1["payload"]["databaseName"], db.as_str());
    assert!(ddl[2].1["payload"]["ddl"]
        .as_str()
        .unwrap()
        .starts_with("CREATE TABLE b"));
    w.stop();
    sql(&format!("DROP DATABASE {db}"));
}

/// A throwaway MariaDB server (own data dir in a temp dir, own port on
/// 127.0.0.1) with the binary log on but `binlog_format=STATEMENT`, so a
/// misconfigured server can be tested without touching the shared one.
/// The server process is killed and its directory removed on drop, also
/// when the test panics.
struct StatementServer {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
}

impl StatementServer {
    /// User and password the connector logs in with (over TCP).
    const USER: &'static str = "vfmt";
    const PASSWORD: &'static str = "vfmt-pw";

    /// Initialises a data dir, starts `mariadbd` on a free port and
    /// provisions [`Self::USER`] as root over the unix socket; blocks until
    /// the server answers (panics with its error log after 15 s).
    fn start() -> StatementServer {
        let mariadbd = if Path::new("/usr/sbin/mariadbd").exists() {
            "/usr/sbin/mariadbd"
        } else {
            "mariadbd"
        };
        // mariadbd refuses to run as root unless told to
        let is_root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
        let user_arg: &[&str] = if is_root { &["--user=root"] } else { &[] };
        // a short path: the unix socket path must fit in 108 bytes
        let dir = tempfile::Builder::new()
            .prefix("velocity-stmt-my")
            .tempdir_in("/tmp")
            .unwrap();
        let data = dir.path().join("data");
        let out = Command::new("mariadb-install-db")
            .arg("--no-defaults")
            .args(user_arg)
            .arg(format!("--datadir={}", data.display()))
            .args(["--auth-root-authentication-method=normal", "--skip-test-db"])
            .output()
            .expect("mariadb-install-db is installed (scripts/services.sh installs it)");
        assert!(
            out.status.success(),
            "mariadb-install-db failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let port = common::free_port();
        let p = |name: &str| dir.path().join(name).display().to_string();
        let child = Command::new(mariadbd)
            .arg("--no-defaults")
            .args(user_arg)
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--socket={}", p("mariadb.sock")))
            .arg(format!("--pid-file={}", p("mariadb.pid")))
            .arg(format!("--log-error={}", p("mariadb.log")))
            .arg(format!("--port={port}"))
            .args([
                "--bind-address=127.0.0.1",
                "--skip-name-resolve",
                "--server-id=1",
                "--log-bin=mariadb-bin",
                "--binlog-format=STATEMENT",
                "--binlog-row-image=FULL",
                "--innodb-buffer-pool-size=16M",
                "--innodb-flush-log-at-trx-commit=2",
                "--sync-binlog=0",
            ])
            .current_dir(&data)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mariadbd starts");
        let mut server = StatementServer { child, dir, port };
        let deadline = Instant::now() + Duration::from_secs(15);
        while server.root_sql("SELECT 1").is_err() {
            let exited = server.child.try_wait().ok().flatten();
            assert!(
                exited.is_none() && Instant::now() < deadline,
                "throwaway mariadbd not ready (exit {exited:?}): {}",
                std::fs::read_to_string(server.dir.path().join("mariadb.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let (u, pw) = (Self::USER, Self::PASSWORD);
        server
            .root_sql(&format!(
                "CREATE USER '{u}'@'%' IDENTIFIED BY '{pw}'; \
                 GRANT SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO '{u}'@'%'; \
                 CREATE DATABASE vfmt; GRANT ALL PRIVILEGES ON vfmt.* TO '{u}'@'%'; \
                 CREATE TABLE vfmt.t (id INT PRIMARY KEY); INSERT INTO vfmt.t VALUES (1)"
            ))
            .unwrap();
        server
    }

    /// Runs SQL as root over the unix socket; Err(stderr) on failure.
    fn root_sql(&self, stmt: &str) -> Result<String, String> {
        let out = Command::new("mariadb")
            .arg("--no-defaults")
            .arg("-S")
            .arg(self.dir.path().join("mariadb.sock"))
            .args(["-uroot", "-N", "-B", "-e", stmt])
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }
}

impl Drop for StatementServer {
    fn drop(&mut self) {
        // SIGKILL: nothing on this server is worth a clean shutdown
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A server with the binary log in STATEMENT format cannot feed row
/// events: the task fails with a message naming `binlog_format`, the value
/// found and the fix. Runs against a throwaway server, never the shared one.
#[test]
fn mariadb_statement_binlog_format_is_reported() {
    let server = StatementServer::start();
    assert_eq!(
        server
            .root_sql("SELECT @@GLOBAL.binlog_format, @@GLOBAL.log_bin")
            .unwrap(),
        "STATEMENT\t1",
        "the throwaway server runs the setting under test"
    );
    let dir = tempfile::tempdir().unwrap();
    let conn = connector_file(
        dir.path(),
        "fmt",
        "vfmt",
        &unique("bf").replace('_', ""),
        json!({
            "database.hostname": "127.0.0.1",
            "database.port": server.port.to_string(),
            "database.user": StatementServer::USER,
            "database.password": StatementServer::PASSWORD,
        }),
    );
    let w = Worker::start(dir.path(), "", &[conn]);
    let s = w.wait_status("fmt", |s| {
        s["tasks"][0]["state"] == "FAILED" || s["connector"]["state"] == "FAILED"
    });
    let trace = if s["connector"]["state"] == "FAILED" {
        &s["connector"]["trace"]
    } else {
        &s["tasks"][0]["trace"]
    };
    let trace = trace.as_str().unwrap_or_default().to_owned();
    assert!(trace.contains("binlog_format"), "{trace}");
    assert!(trace.contains("'STATEMENT'"), "{trace}");
    assert!(trace.contains("set binlog_format=ROW"), "{trace}");
    assert!(
        !trace.contains(StatementServer::PASSWORD),
        "no password in the trace: {trace}"
    );
}

/// The field names of the `after` struct schema of an envelope.
fn after_fields(value: &Value) -> Vec<String> {
    value["schema"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["field"] == "after")
        .unwrap()["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap().to_owned())
        .collect()
}

/// The connector's stored offsets entry (`{"partition", "offset"}`), once one exists
/// that satisfies `pred`.
fn stored_offset(w: &Worker, name: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let (_, v) = w.call("GET", &format!("/connectors/{name}/offsets"), None);
        if let Some(e) = v["offsets"].as_array().and_then(|a| a.first()) {
            if pred(&e["offset"]) {
                return e.clone();
            }
        }
        last = v;
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("no stored offset matching the condition; last: {last}");
}

fn stop_connector(w: &Worker, name: &str) {
    assert_eq!(
        w.call("PUT", &format!("/connectors/{name}/stop"), None).0,
        204
    );
    w.wait_status(name, |s| {
        s["connector"]["state"] == "STOPPED" && s["tasks"].as_array().is_some_and(|t| t.is_empty())
    });
}

fn patch_offsets(w: &Worker, name: &str, entry: &Value) {
    let body = json!({ "offsets": [entry] }).to_string();
    let (c, v) = w.call("PATCH", &format!("/connectors/{name}/offsets"), Some(&body));
    assert_eq!(c, 200, "{v}");
}

fn patch_config(w: &Worker, name: &str, patch: Value) {
    let (c, v) = w.call(
        "PATCH",
        &format!("/connectors/{name}/config"),
        Some(&patch.to_string()),
    );
    assert_eq!(c, 200, "{v}");
}

/// Schema history end to end: an `ALTER TABLE ADD COLUMN` mid-stream, the
/// offset rewound (REST offsets API) to before it, and the rows written
/// before the ALTER decoded again with the old column set (the history is
/// replayed up to the offset), those after it with the new one; then a
/// missing history topic (FAILED with Debezium's recovery message),
/// `snapshot.mode=recovery` rebuilding it, a stored binlog file that is not
/// on the server (Debezium's "no longer available" error) and
/// `snapshot.mode=when_needed` taking a new snapshot instead.
#[test]
fn mariadb_schema_history_replay_recovery_and_lost_position() {
    let db = unique("vmy_hist");
    let prefix = unique("mh").replace('_', "");
    let name = "mh";
    sql(&format!(
        "CREATE DATABASE {db}; USE {db}; CREATE TABLE a (id INT PRIMARY KEY, v INT NOT NULL DEFAULT 5); \
         INSERT INTO a VALUES (1, 10);"
    ));
    let dir = tempfile::tempdir().unwrap();
    // only this database's DDL in the history (the default stores every
    // database's, and other tests run DDL on the same server)
    let conn = connector_file(
        dir.path(),
        name,
        &db,
        &prefix,
        json!({"schema.history.internal.store.only.captured.databases.ddl": "true"}),
    );
    let mut w = Worker::start(dir.path(), "", &[conn]);
    let topic = format!("{prefix}.{db}.a");
    let history = format!("{prefix}.history");
    assert_eq!(
        read(&topic, 1, Duration::from_secs(60)).len(),
        1,
        "snapshot; log:\n{}",
        w.log_text()
    );
    let snap_offset = stored_offset(&w, name, |o| o["snapshot_completed"] == true);

    // --- ALTER mid-stream
    sql(&format!(
        "USE {db}; INSERT INTO a VALUES (2, 20); \
         ALTER TABLE a ADD COLUMN note VARCHAR(10) NOT NULL DEFAULT 'none'; \
         INSERT INTO a VALUES (3, 30, 'hi');"
    ));
    let recs = read(&topic, 3, Duration::from_secs(60));
    assert_eq!(recs.len(), 3, "log:\n{}", w.log_text());
    assert_eq!(recs[1].1["payload"]["after"], json!({"id": 2, "v": 20}));
    assert_eq!(after_fields(&recs[1].1), vec!["id", "v"]);
    assert_eq!(
        recs[2].1["payload"]["after"],
        json!({"id": 3, "v": 30, "note": "hi"})
    );
    assert_eq!(after_fields(&recs[2].1), vec!["id", "v", "note"]);

    // the history topic: CREATE DATABASE + CREATE TABLE of the snapshot, then the ALTER
    let h = read(&history, 3, Duration::from_secs(30));
    assert_eq!(h.len(), 3, "history records: {h:?}");
    for (k, v) in &h {
        assert!(k.is_null(), "history records have no key");
        assert_eq!(v["source"]["server"], prefix.as_str());
        assert!(v["position"]["file"]
            .as_str()
            .unwrap()
            .starts_with("mariadb-bin."));
        assert_eq!(v["databaseName"], db.as_str());
    }
    assert!(h[0].1["ddl"]
        .as_str()
        .unwrap()
        .starts_with("CREATE DATABASE"));
    assert_eq!(h[0].1["position"]["snapshot"], true);
    assert!(h[1].1["ddl"].as_str().unwrap().starts_with("CREATE TABLE"));
    assert_eq!(h[1].1["tableChanges"][0]["type"], "CREATE");
    assert_eq!(h[1].1["tableChanges"][0]["id"], format!("\"{db}\".\"a\""));
    assert!(h[2].1["ddl"]
        .as_str()
        .unwrap()
        .starts_with("ALTER TABLE a ADD COLUMN note"));
    let alter = &h[2].1["tableChanges"][0];
    assert_eq!(alter["type"], "ALTER");
    assert_eq!(alter["table"]["primaryKeyColumnNames"], json!(["id"]));
    let cols: Vec<&str> = alter["table"]["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(cols, vec!["id", "v", "note"]);
    assert_eq!(alter["table"]["columns"][2]["typeName"], "VARCHAR");
    assert_eq!(alter["table"]["columns"][2]["length"], 10);
    assert_eq!(alter["table"]["columns"][2]["optional"], false);
    assert!(h[2].1["position"]["event"].as_u64().unwrap() >= 1);
    // the schema change event of the ALTER carries the same tableChanges
    let sc = read(&prefix, 2, Duration::from_secs(20));
    assert_eq!(sc.len(), 2);
    assert_eq!(sc[1].1["payload"]["tableChanges"][0]["type"], "ALTER");
    assert_eq!(
        sc[1].1["payload"]["tableChanges"][0]["table"]["columns"][2]["name"],
        "note"
    );

    // --- rewind to the snapshot's offset: rows 2 and 3 are read again
    stop_connector(&w, name);
    patch_offsets(&w, name, &snap_offset);
    assert_eq!(
        w.call("PUT", &format!("/connectors/{name}/resume"), None).0,
        202
    );
    let all = read(&topic, 5, Duration::from_secs(60));
    assert_eq!(all.len(), 5, "log:\n{}", w.log_text());
    assert_eq!(
        all[3].1["payload"]["after"],
        json!({"id": 2, "v": 20}),
        "pre-ALTER row, old schema"
    );
    assert_eq!(after_fields(&all[3].1), vec!["id", "v"]);
    assert_eq!(
        all[4].1["payload"]["after"],
        json!({"id": 3, "v": 30, "note": "hi"})
    );
    assert_eq!(after_fields(&all[4].1), vec!["id", "v", "note"]);
    // the re-read ALTER is not recorded twice
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(read(&history, 10, Duration::from_secs(3)).len(), 3);

    // --- a missing history topic: FAILED with Debezium's message
    let missing = format!("{prefix}.history2");
    patch_config(
        &w,
        name,
        json!({"schema.history.internal.kafka.topic": missing}),
    );
    let s = w.wait_status(name, |s| s["tasks"][0]["state"] == "FAILED");
    let trace = s["tasks"][0]["trace"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        trace.contains("The db history topic is missing. You may attempt to recover it by reconfiguring the connector to recovery"),
        "{trace}"
    );
    assert!(trace.contains("snapshot.mode=recovery"), "{trace}");

    // --- recovery rebuilds it from the current schema and streams on
    patch_config(&w, name, json!({"snapshot.mode": "recovery"}));
    w.wait_status(name, |s| s["tasks"][0]["state"] == "RUNNING");
    let h2 = read(&missing, 2, Duration::from_secs(30));
    assert_eq!(
        h2.len(),
        2,
        "recovered history: {h2:?}\nlog:\n{}",
        w.log_text()
    );
    assert!(h2[1].1["ddl"].as_str().unwrap().contains("`note`"));
    sql(&format!("USE {db}; INSERT INTO a VALUES (4, 40, 'after');"));
    let all = read(&topic, 6, Duration::from_secs(60));
    assert_eq!(all.len(), 6, "log:\n{}", w.log_text());
    assert_eq!(
        all[5].1["payload"]["after"],
        json!({"id": 4, "v": 40, "note": "after"})
    );

    // --- a stored binlog file the server does not have, and no GTID set
    // to resume by (with one, the connector resumes by GTID: see
    // connectors/mysql/tests/live_mariadb.rs)
    patch_config(&w, name, json!({"snapshot.mode": "initial"}));
    w.wait_status(name, |s| s["tasks"][0]["state"] == "RUNNING");
    let mut lost = stored_offset(&w, name, |o| o["file"].is_string());
    stop_connector(&w, name);
    lost["offset"]["file"] = json!("mariadb-bin.999999");
    lost["offset"]["pos"] = json!(4);
    lost["offset"].as_object_mut().unwrap().remove("gtids");
    patch_offsets(&w, name, &lost);
    assert_eq!(
        w.call("PUT", &format!("/connectors/{name}/resume"), None).0,
        202
    );
    let s = w.wait_status(name, |s| s["tasks"][0]["state"] == "FAILED");
    let trace = s["tasks"][0]["trace"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        trace.contains("The connector is trying to read binlog starting at file=mariadb-bin.999999")
            && trace.contains("but this is no longer available on the server. Reconfigure the connector to use a snapshot when needed"),
        "{trace}"
    );

    // --- when_needed: a new snapshot instead
    patch_config(&w, name, json!({"snapshot.mode": "when_needed"}));
    w.wait_status(name, |s| s["tasks"][0]["state"] == "RUNNING");
    let all = read(&topic, 10, Duration::from_secs(60));
    let reads: Vec<i64> = all[6..]
        .iter()
        .filter(|(_, v)| v["payload"]["op"] == "r")
        .map(|(_, v)| v["payload"]["after"]["id"].as_i64().unwrap())
        .collect();
    assert_eq!(reads, vec![1, 2, 3, 4], "log:\n{}", w.log_text());
    w.stop();
    sql(&format!("DROP DATABASE {db}"));
}

/// `provide.transaction.metadata` (BEGIN / END on `<prefix>.transaction`,
/// the `transaction` block), `include.query` (MariaDB ANNOTATE_ROWS events)
/// and column defaults in the field schemas, as Debezium writes them.
#[test]
fn mariadb_transaction_metadata_query_and_defaults() {
    let db = unique("vmy_tx");
    let prefix = unique("mx").replace('_', "");
    sql(&format!(
        "CREATE DATABASE {db}; USE {db}; \
         CREATE TABLE a (id INT PRIMARY KEY, qty INT NOT NULL DEFAULT 7, label VARCHAR(10) DEFAULT 'new', n INT); \
         CREATE TABLE b (id INT PRIMARY KEY);"
    ));
    let dir = tempfile::tempdir().unwrap();
    let conn = connector_file(
        dir.path(),
        "mx",
        &db,
        &prefix,
        json!({"provide.transaction.metadata": "true", "include.query": "true"}),
    );
    let mut w = Worker::start(dir.path(), "", &[conn]);
    assert_eq!(
        read(&prefix, 2, Duration::from_secs(60)).len(),
        2,
        "log:\n{}",
        w.log_text()
    );
    sql(&format!(
        "USE {db}; BEGIN; INSERT INTO a (id) VALUES (1); INSERT INTO b VALUES (1); \
         INSERT INTO a VALUES (2, 3, 'x', 4); COMMIT;"
    ));
    let ta = read(&format!("{prefix}.{db}.a"), 2, Duration::from_secs(60));
    assert_eq!(ta.len(), 2, "log:\n{}", w.log_text());
    let tb = read(&format!("{prefix}.{db}.b"), 1, Duration::from_secs(30));
    assert_eq!(tb.len(), 1);
    let tx = read(&format!("{prefix}.transaction"), 2, Duration::from_secs(30));
    assert_eq!(tx.len(), 2, "BEGIN + END: {tx:?}");

    // BEGIN / END
    let (bk, begin) = &tx[0];
    let (_, end) = &tx[1];
    let id = ta[0].1["payload"]["source"]["gtid"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(bk["payload"], json!({"id": id}));
    assert_eq!(
        bk["schema"]["name"],
        "io.debezium.connector.common.TransactionMetadataKey"
    );
    assert_eq!(
        begin["schema"]["name"],
        "io.debezium.connector.common.TransactionMetadataValue"
    );
    assert_eq!(begin["payload"]["status"], "BEGIN");
    assert_eq!(begin["payload"]["id"], id.as_str());
    assert!(begin["payload"]["event_count"].is_null());
    assert_eq!(end["payload"]["status"], "END");
    assert_eq!(end["payload"]["event_count"], 3);
    assert_eq!(
        end["payload"]["data_collections"],
        json!([
            {"data_collection": format!("{db}.a"), "event_count": 2},
            {"data_collection": format!("{db}.b"), "event_count": 1}
        ])
    );
    // transaction blocks
    assert_eq!(
        ta[0].1["payload"]["transaction"],
        json!({"id": id, "total_order": 1, "data_collection_order": 1})
    );
    assert_eq!(
        tb[0].1["payload"]["transaction"],
        json!({"id": id, "total_order": 2, "data_collection_order": 1})
    );
    assert_eq!(
        ta[1].1["payload"]["transaction"],
        json!({"id": id, "total_order": 3, "data_collection_order": 2})
    );
    // include.query: the statement of each row event
    assert_eq!(
        ta[0].1["payload"]["source"]["query"],
        "INSERT INTO a (id) VALUES (1)"
    );
    assert_eq!(
        ta[1].1["payload"]["source"]["query"],
        "INSERT INTO a VALUES (2, 3, 'x', 4)"
    );
    // defaults: the column's DEFAULT in its field schema
    let v = &ta[0].1;
    assert_eq!(
        v["payload"]["after"],
        json!({"id": 1, "qty": 7, "label": "new", "n": null})
    );
    assert_eq!(field_schema(v, "qty")["default"], 7);
    assert_eq!(field_schema(v, "qty")["optional"], false);
    assert_eq!(field_schema(v, "label")["default"], "new");
    assert_eq!(field_schema(v, "label")["optional"], true);
    assert!(field_schema(v, "n").get("default").is_none());
    w.stop();
    sql(&format!("DROP DATABASE {db}"));
}

/// The domain pipeline from MariaDB: the binlog source marks each
/// transaction's end (XID) like the PostgreSQL source, so cast → filter →
/// map collapses a DELETE + INSERT of one note in one transaction into ONE
/// `NoteUpdated` event with the final row, an INSERT + UPDATE into one
/// `NoteCreated`, an INSERT + DELETE into nothing. The transaction id is
/// the `transaction.id` of `provide.transaction.metadata=true` (MariaDB's
/// GTID events are not in the source block).
#[test]
fn mariadb_domain_pipeline_collapses_a_delete_insert_into_one_update() {
    let db = unique("vmy_dom");
    let prefix = unique("md").replace('_', "");
    sql(&format!(
        "CREATE DATABASE {db}; USE {db}; CREATE TABLE note (id INT PRIMARY KEY, shipment_id INT, body VARCHAR(40)); \
         INSERT INTO note VALUES (1, 10, 'first');"
    ));
    let dir = tempfile::tempdir().unwrap();
    let domain_topic = format!("{prefix}.domain.notes");
    let conn = connector_file(
        dir.path(),
        "md",
        &db,
        &prefix,
        json!({
            "provide.transaction.metadata": "true",
            "key.converter": "org.apache.kafka.connect.json.JsonConverter",
            "key.converter.schemas.enable": "false",
            "value.converter": "org.apache.kafka.connect.json.JsonConverter",
            "value.converter.schemas.enable": "false",
            "transforms": "cast,filter,map",
            "transforms.cast.type": "domain-cast",
            "transforms.filter.type": "domain-filter",
            "transforms.map.type": "domain-map",
            "transforms.map.topic": domain_topic,
            "transforms.map.event.type": "Note${Op}",
            "transforms.map.key": "id",
            "transforms.map.fields": "noteId,text,shipmentId",
            "transforms.map.field.noteId": "id",
            "transforms.map.field.text": "body",
            "transforms.map.field.shipmentId": "shipment_id",
        }),
    );
    let w = Worker::start(dir.path(), "", &[conn]);
    let snap = read(&domain_topic, 1, Duration::from_secs(90));
    assert_eq!(snap.len(), 1, "snapshot event; log:\n{}", w.log_text());
    sql(&format!(
        "USE {db}; \
         BEGIN; DELETE FROM note WHERE id = 1; INSERT INTO note VALUES (1, 11, 'rewritten'); COMMIT; \
         BEGIN; INSERT INTO note VALUES (2, 20, 'draft'); UPDATE note SET body = 'final' WHERE id = 2; COMMIT; \
         BEGIN; INSERT INTO note VALUES (3, 30, 'tmp'); DELETE FROM note WHERE id = 3; COMMIT; \
         UPDATE note SET body = 'last' WHERE id = 2;"
    ));
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut recs = Vec::new();
    while Instant::now() < deadline {
        recs = read(&domain_topic, 4, Duration::from_secs(5));
        if recs.iter().any(|(_, v)| v["data"]["text"] == "last") {
            break;
        }
    }
    let kinds: Vec<(String, i64, String)> = recs
        .iter()
        .map(|(_, v)| {
            (
                v["type"].as_str().unwrap_or("?").to_owned(),
                v["data"]["noteId"].as_i64().unwrap_or(-1),
                v["data"]["text"].as_str().unwrap_or("?").to_owned(),
            )
        })
        .collect();
    let want: Vec<(String, i64, String)> = [
        ("NoteCreated", 1, "first"),
        ("NoteUpdated", 1, "rewritten"),
        ("NoteCreated", 2, "final"),
        ("NoteUpdated", 2, "last"),
    ]
    .iter()
    .map(|(t, i, b)| (t.to_string(), *i, b.to_string()))
    .collect();
    assert_eq!(kinds, want, "domain events; log:\n{}", w.log_text());
    assert_eq!(recs[1].1["data"]["shipmentId"], 11);
    assert!(
        recs[1].1["tx_id"].as_str().is_some_and(|t| !t.is_empty()),
        "tx_id of the collapsed update: {}",
        recs[1].1
    );
    drop(w);
    sql(&format!("DROP DATABASE {db}"));
}

/// MariaDB source with Confluent's AvroConverter (registry double in this
/// process): the same database captured by a JSON connector and an Avro
/// connector; the Avro records, read back by the converter and shown by the
/// JsonConverter, carry the same value schema and the same payload.
#[test]
fn mariadb_with_avro_reads_back_as_the_json_connector_writes() {
    use velocity_api::Converter as _;
    let registry = velocity_test_registry::TestRegistry::start().unwrap();
    let db = unique("vmy_avro");
    let (pj, pa) = (unique("mj").replace('_', ""), unique("ma").replace('_', ""));
    sql(&format!(
        "CREATE DATABASE {db}; USE {db}; {TABLE_DDL}; INSERT INTO t VALUES {};",
        row_values(1, "héllo")
    ));
    let dir = tempfile::tempdir().unwrap();
    let json_conn = connector_file(dir.path(), "mj", &db, &pj, json!({}));
    let avro_conn = connector_file(
        dir.path(),
        "ma",
        &db,
        &pa,
        json!({
            "key.converter": "io.confluent.connect.avro.AvroConverter",
            "key.converter.schema.registry.url": registry.url,
            "value.converter": "io.confluent.connect.avro.AvroConverter",
            "value.converter.schema.registry.url": registry.url,
        }),
    );
    let mut w = Worker::start(dir.path(), "", &[json_conn, avro_conn]);
    let (tj, ta) = (format!("{pj}.{db}.t"), format!("{pa}.{db}.t"));
    assert_eq!(
        read(&tj, 1, Duration::from_secs(60)).len(),
        1,
        "log:\n{}",
        w.log_text()
    );
    sql(&format!(
        "USE {db}; INSERT INTO t VALUES {};",
        row_values(2, "wörld")
    ));
    let json_side = read(&tj, 2, Duration::from_secs(60));
    let avro_raw = common::read_records(std::slice::from_ref(&ta), 2, Duration::from_secs(60));
    w.stop();
    assert_eq!(avro_raw.len(), 2, "Avro records; log:\n{}", w.log_text());
    let cfg: velocity_api::RawConfig =
        [("schema.registry.url".to_owned(), registry.url.clone())].into();
    let mut kc = velocity_converter_avro::AvroConverter::new();
    kc.configure(&cfg, true).unwrap();
    let mut vc = velocity_converter_avro::AvroConverter::new();
    vc.configure(&cfg, false).unwrap();
    let mut jc = velocity_runtime::converters::JsonConverter::new();
    jc.configure(&velocity_api::RawConfig::new(), false)
        .unwrap();
    for (i, ((_, k, v), (jk, jv))) in avro_raw.iter().zip(&json_side).enumerate() {
        assert_eq!(v.as_ref().unwrap()[0], 0, "Confluent wire format");
        let (ks, kv) = kc.to_connect(&ta, k.as_deref()).unwrap();
        let (vs, vv) = vc.to_connect(&ta, v.as_deref()).unwrap();
        let show = |s: Option<velocity_api::SchemaRef>, x: velocity_api::Value| -> Value {
            let text = jc.from_connect(&ta, s.as_deref(), &x).unwrap().unwrap();
            let text = String::from_utf8(text)
                .unwrap()
                .replace(&format!("{pa}."), &format!("{pj}."));
            serde_json::from_str(&text).unwrap()
        };
        let (ak, av) = (show(ks, kv), show(vs, vv));
        assert_eq!(ak["payload"], jk["payload"], "[{i}] key");
        assert_eq!(av["schema"], jv["schema"], "[{i}] value schema");
        for f in ["op", "before", "after"] {
            assert_eq!(av["payload"][f], jv["payload"][f], "[{i}] {f}");
        }
        assert_eq!(
            av["payload"]["source"]["name"],
            json!(pa),
            "[{i}] source.name"
        );
    }
    let subjects: Vec<String> = reqwest::blocking::get(format!("{}/subjects", registry.url))
        .unwrap()
        .json()
        .unwrap();
    assert!(subjects.contains(&format!("{ta}-value")), "{subjects:?}");
    sql(&format!("DROP DATABASE {db}"));
}
