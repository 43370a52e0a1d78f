//! `database.ssl.mode` against the TLS-enabled MariaDB of
//! `scripts/services.sh` (its test CA, `VELOCITY_MARIADB_SSLCA`, issues a
//! server certificate for `localhost` only), plus the `preferred` fallback
//! against a stand-in server that does not offer TLS. Fails when the
//! server's root socket or CA file is not there: start it with
//! `scripts/services.sh up`.

use std::sync::Arc;
use std::time::Duration;

use mysql_async::prelude::Queryable;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use velocity_api::{
    Offset, OffsetReader, Partition, RawConfig, SourceTask, TaskContext, TypedConfig,
};
use velocity_connector_mysql::config::MySqlConfig;
use velocity_connector_mysql::error::MySqlError;
use velocity_connector_mysql::reader::connect;
use velocity_connector_mysql::task::MySqlSourceTask;

mod common;
use common::{after_id, poll_row_ids, poll_until, services_file, socket, sql};

fn ca() -> String {
    services_file("VELOCITY_MARIADB_SSLCA", "tls/ca.crt")
        .display()
        .to_string()
}

fn config(pairs: &[(&str, &str)]) -> RawConfig {
    let e = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.to_owned());
    let mut c: RawConfig = [
        ("connector.class", "mariadb".to_owned()),
        ("database.hostname", e("VELOCITY_MARIADB_HOST", "127.0.0.1")),
        ("database.port", e("VELOCITY_MARIADB_PORT", "53306")),
        ("database.user", "velocity".into()),
        ("database.password", "velocity".into()),
        (
            "database.server.id",
            (7500 + std::process::id() % 1000).to_string(),
        ),
        ("topic.prefix", "tls".into()),
        (
            "schema.history.internal",
            "io.debezium.relational.history.MemorySchemaHistory".into(),
        ),
        ("poll.interval.ms", "200".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    for (k, v) in pairs {
        c.insert((*k).to_owned(), (*v).to_owned());
    }
    c
}

/// Connects with `pairs` over the defaults; the session's TLS cipher
/// (empty: no TLS).
async fn cipher(pairs: &[(&str, &str)]) -> Result<String, MySqlError> {
    let cfg = MySqlConfig::from_raw(&config(pairs)).expect("valid config");
    let mut conn = connect(&cfg).await?;
    let row: Option<(String, String)> = conn
        .query_first("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
        .await
        .unwrap();
    conn.disconnect().await.unwrap();
    Ok(row.unwrap().1)
}

struct Stored;

impl OffsetReader for Stored {
    fn offset(&self, _p: &Partition) -> Option<Offset> {
        None
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn required_encrypts_snapshots_and_streams() {
    socket();
    let n = std::process::id();
    let db = format!("vmy_tls_{n}");
    sql(&format!(
        "DROP DATABASE IF EXISTS {db}; CREATE DATABASE {db}; \
         CREATE TABLE {db}.t (id INT PRIMARY KEY, v VARCHAR(10)); INSERT INTO {db}.t VALUES (1, 'snap');"
    ));
    let c = cipher(&[("database.ssl.mode", "required")]).await.unwrap();
    assert!(!c.is_empty(), "required: the session is encrypted");
    // the default (preferred) encrypts too when the server offers TLS
    assert!(!cipher(&[]).await.unwrap().is_empty());
    let raw = config(&[
        ("database.ssl.mode", "required"),
        ("database.include.list", &db),
    ]);
    let mut task = MySqlSourceTask::default();
    let ctx = TaskContext {
        connector: "tls".into(),
        task_id: 0,
        offsets: Arc::new(Stored),
    };
    task.start(&raw, ctx).await.unwrap();
    let snap = poll_until(&mut task, 2, Duration::from_secs(30)).await;
    assert_eq!(snap.len(), 2, "{snap:#?}");
    assert_eq!(after_id(&snap[1]), Some(1));
    sql(&format!(
        "INSERT INTO {db}.t VALUES (2, 'stream'), (3, 'stream')"
    ));
    let ids = poll_row_ids(&mut task, 2, Duration::from_secs(30)).await;
    assert_eq!(ids, vec![2, 3]);
    task.stop().await.unwrap();
    sql(&format!("DROP DATABASE {db}"));
}

/// [`cipher`] at `host` under `mode`, trusting the test CA through `ca_key`.
async fn verified(host: &str, mode: &str, ca_key: &str) -> Result<String, MySqlError> {
    let ca = ca();
    cipher(&[
        ("database.hostname", host),
        ("database.ssl.mode", mode),
        (ca_key, &ca),
    ])
    .await
}

#[tokio::test]
async fn verify_identity_checks_the_host_name_and_verify_ca_the_issuer() {
    socket();
    // the certificate names localhost only
    let e = verified("127.0.0.1", "verify_identity", "database.ssl.ca")
        .await
        .unwrap_err();
    let m = e.to_string();
    assert!(matches!(e, MySqlError::Tls { .. }), "{e:?}");
    assert!(!velocity_api::ConnectError::from(e).is_retriable());
    assert!(m.contains("database.ssl.mode=verify_identity"), "{m}");
    assert!(
        m.contains("database.hostname '127.0.0.1'") && m.contains("it names localhost"),
        "{m}"
    );
    assert!(!m.contains("velocity@") && !m.contains("password"), "{m}");
    let ok = verified("localhost", "verify_identity", "database.ssl.ca")
        .await
        .unwrap();
    assert!(!ok.is_empty());
    // verify_ca: the issuer is checked, the name is not
    let ok = verified("127.0.0.1", "verify_ca", "database.ssl.truststore")
        .await
        .unwrap();
    assert!(!ok.is_empty());
    // without the test CA (public CAs only) the certificate is refused
    let e = cipher(&[("database.ssl.mode", "verify_ca")])
        .await
        .unwrap_err();
    let m = e.to_string();
    assert!(
        m.contains("database.ssl.mode=verify_ca") && m.contains("set database.ssl.ca"),
        "{m}"
    );
}

#[tokio::test]
async fn disabled_is_refused_by_an_account_that_requires_tls() {
    socket();
    let user = format!("vtls{}", std::process::id());
    let secret = "Tls-s3cret-pw";
    sql(&format!(
        "DROP USER IF EXISTS '{user}'@'%'; CREATE USER '{user}'@'%' IDENTIFIED BY '{secret}' REQUIRE SSL; \
         GRANT SELECT ON *.* TO '{user}'@'%';"
    ));
    let creds = [
        ("database.user", user.as_str()),
        ("database.password", secret),
    ];
    let e = cipher(&[creds[0], creds[1], ("database.ssl.mode", "disabled")])
        .await
        .unwrap_err();
    let m = e.to_string();
    assert!(matches!(e, MySqlError::TlsRequired { .. }), "{e:?}");
    assert!(
        m.contains("database.ssl.mode=disabled") && m.contains("set database.ssl.mode=required"),
        "{m}"
    );
    assert!(!m.contains(secret), "{m}");
    // the same account over TLS
    let c = cipher(&[creds[0], creds[1], ("database.ssl.mode", "required")])
        .await
        .unwrap();
    assert!(!c.is_empty());
    sql(&format!("DROP USER '{user}'@'%'"));
}

/// A stand-in server: a MySQL handshake without the TLS capability, then an
/// error naming whatever the client sent next (a plain handshake response
/// under `preferred`; under `required` the client gives up first).
async fn server_without_tls() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let caps: u32 = 0x0000_000F | 0x200 | 0x2000 | 0x8000 | 0x0008_0000; // no CLIENT_SSL (0x800)
                let mut p = vec![10u8];
                p.extend_from_slice(b"5.5.5-10.11.0-stand-in\0");
                p.extend_from_slice(&1u32.to_le_bytes());
                p.extend_from_slice(b"abcdefgh\0");
                p.extend_from_slice(&(caps as u16).to_le_bytes());
                p.push(45);
                p.extend_from_slice(&2u16.to_le_bytes());
                p.extend_from_slice(&((caps >> 16) as u16).to_le_bytes());
                p.push(21);
                p.extend_from_slice(&[0; 10]);
                p.extend_from_slice(b"ijklmnopqrst\0");
                p.extend_from_slice(b"mysql_native_password\0");
                let mut out = (p.len() as u32).to_le_bytes()[..3].to_vec();
                out.push(0);
                out.extend_from_slice(&p);
                s.write_all(&out).await.unwrap();
                let mut head = [0u8; 4];
                if s.read_exact(&mut head).await.is_err() {
                    return;
                }
                let mut body =
                    vec![0u8; u32::from_le_bytes([head[0], head[1], head[2], 0]) as usize];
                let _ = s.read_exact(&mut body).await;
                let mut err = vec![0xFF];
                err.extend_from_slice(&1045u16.to_le_bytes());
                err.extend_from_slice(b"#28000stand-in: plain handshake response received");
                let mut out = (err.len() as u32).to_le_bytes()[..3].to_vec();
                out.push(head[3] + 1);
                out.extend_from_slice(&err);
                let _ = s.write_all(&out).await;
            });
        }
    });
    port
}

#[tokio::test]
async fn preferred_falls_back_to_plain_and_required_refuses() {
    let port = server_without_tls().await.to_string();
    let at = |mode| {
        config(&[
            ("database.hostname", "127.0.0.1"),
            ("database.port", &port),
            ("database.ssl.mode", mode),
        ])
    };
    // preferred: the second attempt, without TLS, reaches authentication
    let cfg = MySqlConfig::from_raw(&at("preferred")).unwrap();
    let e = connect(&cfg).await.unwrap_err();
    assert!(
        e.to_string().contains("plain handshake response received"),
        "{e}"
    );
    let cfg = MySqlConfig::from_raw(&at("required")).unwrap();
    let e = connect(&cfg).await.unwrap_err();
    let m = e.to_string();
    assert!(matches!(e, MySqlError::Tls { .. }), "{e:?}");
    assert!(
        m.contains("database.ssl.mode=required") && m.contains("does not offer TLS"),
        "{m}"
    );
}

#[test]
fn a_java_truststore_is_refused_naming_the_key() {
    let p = std::env::temp_dir().join(format!("vmy-tls-it-{}.jks", std::process::id()));
    std::fs::write(&p, [0xFE, 0xED, 0xFE, 0xED, 0, 0, 0, 2]).unwrap();
    let path = p.display().to_string();
    let e = MySqlConfig::from_raw(&config(&[
        ("database.ssl.mode", "verify_ca"),
        ("database.ssl.truststore", &path),
        ("database.ssl.truststore.password", "changeit-secret"),
    ]))
    .unwrap_err();
    let _ = std::fs::remove_file(&p);
    assert!(e.names("database.ssl.truststore"), "{e}");
    let m = e.to_string();
    assert!(
        m.contains("Java KeyStore (JKS)") && m.contains("keytool -exportcert"),
        "{m}"
    );
    assert!(!m.contains("changeit-secret"), "{m}");
}

#[test]
fn a_bad_or_unreadable_ca_file_is_refused_naming_the_key() {
    let missing = std::env::temp_dir().join(format!("vmy-tls-it-{}-none.pem", std::process::id()));
    let missing = missing.display().to_string();
    let e = MySqlConfig::from_raw(&config(&[
        ("database.ssl.mode", "verify_ca"),
        ("database.ssl.ca", &missing),
    ]))
    .unwrap_err();
    assert!(e.names("database.ssl.ca"), "{e}");
    assert!(e.to_string().contains("cannot read the file"), "{e}");
    let garbage = std::env::temp_dir().join(format!("vmy-tls-it-{}-bad.pem", std::process::id()));
    std::fs::write(&garbage, b"not a certificate\n").unwrap();
    let path = garbage.display().to_string();
    let e = MySqlConfig::from_raw(&config(&[
        ("database.ssl.mode", "verify_identity"),
        ("database.ssl.ca", &path),
    ]))
    .unwrap_err();
    let _ = std::fs::remove_file(&garbage);
    assert!(e.names("database.ssl.ca"), "{e}");
    assert!(e.to_string().contains("not a PEM file"), "{e}");
}
