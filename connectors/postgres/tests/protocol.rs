//! Integration tests of the replication protocol client against a real
//! PostgreSQL with `wal_level=logical` (started by `scripts/services.sh up`).
//!
//! Connection settings come from `VELOCITY_PG_HOST` (127.0.0.1),
//! `VELOCITY_PG_PORT` (55432), `VELOCITY_PG_USER` (velocity),
//! `VELOCITY_PG_PASSWORD` (velocity) and `VELOCITY_PG_DB` (velocity). The
//! tests fail (not skip) when the server is unreachable.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::FutureExt;
use velocity_connector_postgres::protocol::pgoutput::{self, PgOutputMessage, TupleValue};
use velocity_connector_postgres::protocol::{
    sqlstate, ConnectParams, Lsn, ProtocolError, ReplicationConnection, ReplicationMessage,
    ReplicationStream, SslMode,
};

fn env(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_string())
}

fn params(sslmode: SslMode) -> ConnectParams {
    let port = env("VELOCITY_PG_PORT", "55432")
        .parse()
        .expect("VELOCITY_PG_PORT must be a port number");
    let mut p = ConnectParams::new(
        env("VELOCITY_PG_HOST", "127.0.0.1"),
        port,
        env("VELOCITY_PG_USER", "velocity"),
        env("VELOCITY_PG_DB", "velocity"),
    );
    p.password = Some(env("VELOCITY_PG_PASSWORD", "velocity"));
    p.sslmode = sslmode;
    p.connect_timeout = Duration::from_secs(10);
    p.application_name = "velocity-protocol-test".into();
    p
}

/// Fails with instructions when the database is not reachable.
async fn replication_conn(sslmode: SslMode) -> ReplicationConnection {
    let p = params(sslmode);
    match ReplicationConnection::connect(&p).await {
        Ok(c) => c,
        Err(e) if e.is_connect_error() => panic!(
            "PostgreSQL is not reachable at {}:{} ({e}). Start the test services with \
             `scripts/services.sh up` (or point VELOCITY_PG_HOST/PORT/USER/PASSWORD/DB at a \
             PostgreSQL with wal_level=logical).",
            p.host, p.port
        ),
        Err(e) => panic!("replication connection failed: {e}"),
    }
}

/// A normal (non-replication) SQL connection for setup and checks.
async fn sql_conn() -> tokio_postgres::Client {
    let p = params(SslMode::Disable);
    let mut cfg = tokio_postgres::Config::new();
    cfg.host(&p.host)
        .port(p.port)
        .user(&p.user)
        .password(p.password.clone().unwrap_or_default())
        .dbname(&p.dbname)
        .connect_timeout(Duration::from_secs(10));
    let (client, connection) = match cfg.connect(tokio_postgres::NoTls).await {
        Ok(c) => c,
        Err(e) => panic!(
            "cannot open SQL connection to {}:{} ({e}); run `scripts/services.sh up`",
            p.host, p.port
        ),
    };
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}_{}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        nanos % 100_000
    )
}

/// Best-effort removal of a slot (retries while its walsender exits).
async fn drop_slot_eventually(client: &tokio_postgres::Client, slot: &str) {
    for _ in 0..50 {
        let r = client
            .query(
                "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots \
                 WHERE slot_name = $1",
                &[&slot],
            )
            .await;
        if r.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn text(v: &TupleValue) -> Option<&str> {
    match v {
        TupleValue::Text(b) => std::str::from_utf8(b).ok(),
        _ => None,
    }
}

/// Reads and decodes messages until `commits` Commit messages were seen,
/// answering keepalives that request a reply.
async fn collect(stream: &mut ReplicationStream, commits: usize) -> Vec<PgOutputMessage> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut out = Vec::new();
    let mut seen = 0;
    while seen < commits {
        let left = deadline.saturating_duration_since(Instant::now());
        let msg = tokio::time::timeout(left, stream.next())
            .await
            .unwrap_or_else(|_| panic!("timed out; decoded so far: {out:#?}"))
            .expect("stream error")
            .expect("stream ended");
        match msg {
            ReplicationMessage::XLogData { data, .. } => {
                let m = pgoutput::decode(&data).expect("decode");
                if matches!(m, PgOutputMessage::Commit(_)) {
                    seen += 1;
                }
                out.push(m);
            }
            ReplicationMessage::PrimaryKeepalive {
                wal_end,
                reply_requested,
                ..
            } => {
                if reply_requested {
                    stream
                        .send_standby_status(wal_end, Lsn(0), Lsn(0), false)
                        .await
                        .expect("standby status");
                }
            }
        }
    }
    out
}

#[tokio::test]
async fn connect_scram_with_and_without_tls_and_identify_system() {
    let mut tls = replication_conn(SslMode::Require).await;
    assert!(tls.is_tls(), "sslmode=require must use TLS");
    assert!(
        tls.channel_binding_used(),
        "a TLS server offering SCRAM-SHA-256-PLUS should get channel binding"
    );
    let sys = tls.identify_system().await.expect("IDENTIFY_SYSTEM");
    assert!(!sys.systemid.is_empty());
    assert!(sys.timeline >= 1);
    assert!(sys.xlogpos > Lsn(0));
    assert_eq!(
        sys.dbname.as_deref(),
        Some(params(SslMode::Require).dbname.as_str())
    );
    assert!(
        tls.server_major_version().is_some_and(|v| v >= 10),
        "{}",
        tls.server_version()
    );
    assert!(tls.backend_pid().is_some());
    // Normal SQL works on a replication=database connection.
    let rows = tls.simple_query("SHOW wal_level").await.expect("SHOW");
    assert_eq!(rows, vec![vec![Some("logical".to_string())]]);
    // A server error leaves the connection usable.
    let e = tls
        .simple_query("SELECT * FROM no_such_table_xyz")
        .await
        .unwrap_err();
    assert_eq!(e.sqlstate(), Some("42P01"), "{e}");
    let rows = tls
        .simple_query("SELECT 1, NULL::text")
        .await
        .expect("after error");
    assert_eq!(rows, vec![vec![Some("1".to_string()), None]]);
    tls.close().await;

    let mut plain = replication_conn(SslMode::Disable).await;
    assert!(!plain.is_tls());
    assert!(!plain.channel_binding_used());
    let sys2 = plain
        .identify_system()
        .await
        .expect("IDENTIFY_SYSTEM plain");
    assert_eq!(sys2.systemid, sys.systemid);
    plain.close().await;

    // The default (prefer) picks TLS when the server offers it.
    let preferred = replication_conn(SslMode::Prefer).await;
    assert!(preferred.is_tls());
    preferred.close().await;
}

#[tokio::test]
async fn wrong_password_is_28p01_without_leaking_it() {
    for mode in [SslMode::Disable, SslMode::Require] {
        let mut p = params(mode);
        p.password = Some("definitely-wrong-pw-42".into());
        let e = ReplicationConnection::connect(&p).await.unwrap_err();
        if e.is_connect_error() {
            panic!("PostgreSQL not reachable ({e}); run `scripts/services.sh up`");
        }
        assert_eq!(e.sqlstate(), Some(sqlstate::INVALID_PASSWORD), "{e}");
        let shown = format!("{e} {e:?} {p:?}");
        assert!(!shown.contains("definitely-wrong-pw-42"), "{shown}");
    }
}

#[tokio::test]
async fn missing_password_is_reported() {
    let mut p = params(SslMode::Disable);
    p.password = None;
    let e = ReplicationConnection::connect(&p).await.unwrap_err();
    assert!(matches!(e, ProtocolError::Auth(_)), "{e:?}");
}

#[tokio::test]
async fn stream_decode_ack_and_slot_conflicts() {
    let sql = sql_conn().await;
    let table = unique("proto_t");
    let publication = unique("proto_pub");
    let slot = unique("proto_slot");
    sql.batch_execute(&format!(
        "CREATE TABLE {table} (id int PRIMARY KEY, name text NOT NULL, note text); \
         CREATE PUBLICATION {publication} FOR TABLE {table};"
    ))
    .await
    .expect("setup");

    let body = async {
        let mut repl = replication_conn(SslMode::Require).await;
        let info = repl
            .create_logical_slot(&slot, "pgoutput", true, false)
            .await
            .expect("create slot");
        assert_eq!(info.slot_name, slot);
        assert!(info.consistent_point > Lsn(0));
        let snapshot = info.snapshot_name.clone().expect("exported snapshot");
        // The exported snapshot is importable until the next replication command.
        let mut other = sql_conn().await;
        let tx = other
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .start()
            .await
            .expect("begin");
        tx.batch_execute(&format!("SET TRANSACTION SNAPSHOT '{snapshot}'"))
            .await
            .expect("import snapshot");
        let n: i64 = tx
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .await
            .expect("count")
            .get(0);
        assert_eq!(n, 0);
        tx.commit().await.expect("commit");

        // Duplicate slot -> 42710.
        let mut second = replication_conn(SslMode::Disable).await;
        let e = second
            .create_logical_slot(&slot, "pgoutput", false, false)
            .await
            .unwrap_err();
        assert_eq!(e.sqlstate(), Some(sqlstate::DUPLICATE_OBJECT), "{e}");

        let mut stream = repl
            .start_replication(&slot, Lsn(0), 1, std::slice::from_ref(&publication), true)
            .await
            .expect("START_REPLICATION");

        // Second consumer of the same slot -> 55006 "is active for PID".
        let e = second
            .start_replication(&slot, Lsn(0), 1, std::slice::from_ref(&publication), false)
            .await
            .unwrap_err();
        let se = e.server_error().unwrap_or_else(|| panic!("{e:?}"));
        assert!(se.is_object_in_use(), "{e}");
        assert!(se.message.contains("is active for PID"), "{e}");

        // One transaction per statement.
        for stmt in [
            format!("INSERT INTO {table} VALUES (1, 'a', NULL)"),
            format!("UPDATE {table} SET name = 'b' WHERE id = 1"),
            format!("UPDATE {table} SET id = 2 WHERE id = 1"),
            format!("DELETE FROM {table} WHERE id = 2"),
        ] {
            sql.batch_execute(&stmt).await.expect("dml");
        }
        sql.batch_execute(&format!(
            "BEGIN; SELECT pg_logical_emit_message(true, 'velocity', 'hi'); \
             TRUNCATE {table}; COMMIT;"
        ))
        .await
        .expect("message + truncate");

        let all = collect(&mut stream, 5).await;
        // pgoutput also resends a Relation whenever the relation cache is
        // invalidated (concurrent DDL anywhere can do that); such repeats are
        // dropped here, keeping the first one and the one before Truncate.
        let msgs: Vec<PgOutputMessage> = all
            .iter()
            .enumerate()
            .filter(|(i, m)| {
                !matches!(m, PgOutputMessage::Relation(_))
                    || *i == 1
                    || matches!(all.get(i + 1), Some(PgOutputMessage::Truncate(_)))
            })
            .map(|(_, m)| m.clone())
            .collect();
        // TRUNCATE assigns a new relfilenode, which makes pgoutput resend the
        // Relation before the Truncate.
        let kinds: Vec<char> = msgs
            .iter()
            .map(|m| match m {
                PgOutputMessage::Begin(_) => 'B',
                PgOutputMessage::Commit(_) => 'C',
                PgOutputMessage::Relation(_) => 'R',
                PgOutputMessage::Insert(_) => 'I',
                PgOutputMessage::Update(_) => 'U',
                PgOutputMessage::Delete(_) => 'D',
                PgOutputMessage::Truncate(_) => 'T',
                PgOutputMessage::Message(_) => 'M',
                PgOutputMessage::Origin(_) => 'O',
                PgOutputMessage::Type(_) => 'Y',
            })
            .collect();
        assert_eq!(
            kinds.iter().collect::<String>(),
            "BRICBUCBUCBDCBMRTC",
            "{msgs:#?}"
        );

        let PgOutputMessage::Begin(begin) = &msgs[0] else {
            unreachable!()
        };
        let PgOutputMessage::Relation(rel) = &msgs[1] else {
            unreachable!()
        };
        assert_eq!(rel.namespace, "public");
        assert_eq!(rel.name, table);
        let cols: Vec<(&str, u32, bool)> = rel
            .columns
            .iter()
            .map(|c| (c.name.as_str(), c.type_oid, c.is_key()))
            .collect();
        assert_eq!(
            cols,
            vec![("id", 23, true), ("name", 25, false), ("note", 25, false)]
        );

        let PgOutputMessage::Insert(ins) = &msgs[2] else {
            unreachable!()
        };
        assert_eq!(ins.rel_id, rel.rel_id);
        assert_eq!(ins.new.0.len(), 3);
        assert_eq!(text(&ins.new.0[0]), Some("1"));
        assert_eq!(text(&ins.new.0[1]), Some("a"));
        assert_eq!(ins.new.0[2], TupleValue::Null);

        let PgOutputMessage::Commit(c1) = &msgs[3] else {
            unreachable!()
        };
        assert_eq!(c1.commit_lsn, begin.final_lsn);
        assert!(c1.end_lsn > c1.commit_lsn);
        assert_eq!(c1.commit_ts_us, begin.commit_ts_us);

        let PgOutputMessage::Update(u1) = &msgs[5] else {
            unreachable!()
        };
        assert!(u1.key.is_none() && u1.old.is_none());
        assert_eq!(text(&u1.new.0[1]), Some("b"));

        let PgOutputMessage::Update(u2) = &msgs[8] else {
            unreachable!()
        };
        let key = u2.key.as_ref().expect("key tuple on primary key change");
        assert_eq!(text(&key.0[0]), Some("1"));
        assert_eq!(text(&u2.new.0[0]), Some("2"));

        let PgOutputMessage::Delete(d) = &msgs[11] else {
            unreachable!()
        };
        assert_eq!(text(&d.key.as_ref().expect("key").0[0]), Some("2"));

        let PgOutputMessage::Message(m) = &msgs[14] else {
            unreachable!()
        };
        assert!(m.transactional);
        assert_eq!(m.prefix, "velocity");
        assert_eq!(m.content, Bytes::from_static(b"hi"));

        let PgOutputMessage::Truncate(t) = &msgs[16] else {
            unreachable!()
        };
        assert_eq!(t.rel_ids, vec![rel.rel_id]);
        assert!(!t.cascade() && !t.restart_identity());

        let PgOutputMessage::Commit(last) = &msgs[17] else {
            unreachable!()
        };
        let ack = last.end_lsn;

        // Acknowledge everything and ask for an immediate reply.
        stream
            .send_standby_status(ack, ack, ack, true)
            .await
            .expect("standby status");
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut got_keepalive = false;
        while !got_keepalive {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, stream.next()).await {
                Ok(Ok(Some(ReplicationMessage::PrimaryKeepalive { .. }))) => got_keepalive = true,
                Ok(Ok(Some(_))) => {}
                other => panic!("expected keepalive, got {other:?}"),
            }
        }
        assert!(stream.last_wal_end() >= ack);

        // confirmed_flush_lsn advances to what we reported.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let row = sql
                .query_one(
                    "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1",
                    &[&slot],
                )
                .await
                .expect("slot row");
            let confirmed: Lsn = row.get::<_, String>(0).parse().expect("lsn");
            if confirmed >= ack {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "confirmed_flush_lsn {confirmed} < {ack}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }

        // cancel-safety: a next() interrupted by a timer loses nothing.
        let r = tokio::time::timeout(Duration::from_millis(50), stream.next()).await;
        assert!(r.is_err() || matches!(r, Ok(Ok(Some(_)))));
        sql.batch_execute(&format!("INSERT INTO {table} VALUES (7, 'x', 'y')"))
            .await
            .expect("insert");
        let more = collect(&mut stream, 1).await;
        assert!(
            more.iter()
                .any(|m| matches!(m, PgOutputMessage::Insert(i) if text(&i.new.0[0]) == Some("7"))),
            "{more:#?}"
        );

        // Clean shutdown returns a usable connection; drop the slot with it.
        let mut repl = tokio::time::timeout(Duration::from_secs(10), stream.finish())
            .await
            .expect("finish timed out")
            .expect("finish");
        repl.drop_slot(&slot).await.expect("drop slot");
        let e = repl.drop_slot(&slot).await.unwrap_err();
        assert_eq!(e.sqlstate(), Some(sqlstate::UNDEFINED_OBJECT), "{e}");
        repl.close().await;
    };
    let result = std::panic::AssertUnwindSafe(body).catch_unwind().await;
    drop_slot_eventually(&sql, &slot).await;
    let _ = sql
        .batch_execute(&format!(
            "DROP PUBLICATION IF EXISTS {publication}; DROP TABLE IF EXISTS {table};"
        ))
        .await;
    if let Err(p) = result {
        std::panic::resume_unwind(p);
    }
}

#[tokio::test]
async fn missing_publication_is_42704() {
    let sql = sql_conn().await;
    let table = unique("proto_np");
    let slot = unique("proto_np_slot");
    sql.batch_execute(&format!("CREATE TABLE {table} (id int PRIMARY KEY)"))
        .await
        .expect("setup");
    let body = async {
        let mut repl = replication_conn(SslMode::Disable).await;
        repl.create_logical_slot(&slot, "pgoutput", false, false)
            .await
            .expect("slot");
        let mut stream = repl
            .start_replication(
                &slot,
                Lsn(0),
                1,
                &["no_such_publication_xyz".to_string()],
                false,
            )
            .await
            .expect("start (publications are checked lazily)");
        sql.batch_execute(&format!("INSERT INTO {table} VALUES (1)"))
            .await
            .expect("insert");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, stream.next()).await {
                Ok(Ok(Some(_))) => {}
                Ok(Err(e)) => {
                    assert_eq!(e.sqlstate(), Some(sqlstate::UNDEFINED_OBJECT), "{e}");
                    assert!(e.to_string().contains("no_such_publication_xyz"), "{e}");
                    break;
                }
                other => panic!("expected 42704, got {other:?}"),
            }
        }
    };
    let result = std::panic::AssertUnwindSafe(body).catch_unwind().await;
    drop_slot_eventually(&sql, &slot).await;
    let _ = sql
        .batch_execute(&format!("DROP TABLE IF EXISTS {table}"))
        .await;
    if let Err(p) = result {
        std::panic::resume_unwind(p);
    }
}

/// The server's certificate: `VELOCITY_PG_SSLROOTCERT`, or the self-signed
/// certificate `scripts/services.sh` generates.
fn server_root_cert() -> Option<std::path::PathBuf> {
    if let Some(p) = std::env::var_os("VELOCITY_PG_SSLROOTCERT").filter(|p| !p.is_empty()) {
        return Some(p.into());
    }
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../.velocity/services/postgres/data/server.crt");
    p.exists().then_some(p)
}

#[tokio::test]
async fn certificate_verification_modes() {
    // Without the server's certificate as root, verification must fail.
    let mut p = params(SslMode::VerifyCa);
    p.sslrootcert = None;
    let e = ReplicationConnection::connect(&p).await.unwrap_err();
    if e.is_connect_error() {
        panic!("PostgreSQL not reachable ({e}); run `scripts/services.sh up`");
    }
    assert!(matches!(e, ProtocolError::Tls(_)), "{e:?}");

    let root = server_root_cert().unwrap_or_else(|| {
        panic!(
            "the server's certificate was not found: export VELOCITY_PG_SSLROOTCERT \
             (envs=$(scripts/services.sh env) && eval \"$envs\")"
        )
    });
    for mode in [SslMode::VerifyCa, SslMode::VerifyFull, SslMode::Require] {
        let mut p = params(mode);
        p.sslrootcert = Some(root.clone());
        let c = ReplicationConnection::connect(&p)
            .await
            .unwrap_or_else(|e| panic!("{mode} with sslrootcert {}: {e}", root.display()));
        assert!(c.is_tls());
        c.close().await;
    }
}
