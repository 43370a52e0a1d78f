//! The regular (non-replication) SQL connection: catalog queries, the
//! snapshot and `heartbeat.action.query`. TLS follows `database.sslmode`
//! with the same rustls setup as the replication connection.

use tokio_postgres::config::SslMode as PgSslMode;
use tokio_postgres::{Client, NoTls};

use crate::error::PostgresError;
use crate::protocol::{ConnectParams, SslMode};

/// Opens a SQL connection and spawns its driver; the driver ends when the
/// client is dropped.
pub async fn connect(p: &ConnectParams) -> Result<Client, PostgresError> {
    let mut cfg = tokio_postgres::Config::new();
    cfg.host(&p.host)
        .port(p.port)
        .user(&p.user)
        .dbname(&p.dbname)
        .application_name(&p.application_name)
        .connect_timeout(p.connect_timeout);
    if let Some(pw) = &p.password {
        cfg.password(pw);
    }
    let addr = format!("{}:{}", p.host, p.port);
    let map = |e: tokio_postgres::Error| PostgresError::from_query(e, &p.user, &addr);
    match p.sslmode {
        SslMode::Disable => {
            cfg.ssl_mode(PgSslMode::Disable);
            let (client, conn) = cfg.connect(NoTls).await.map_err(map)?;
            tokio::spawn(async move {
                let _ = conn.await;
            });
            session_settings(client).await
        }
        mode => {
            cfg.ssl_mode(match mode {
                SslMode::Allow | SslMode::Prefer => PgSslMode::Prefer,
                _ => PgSslMode::Require,
            });
            let tls_cfg = crate::protocol::tls::client_config(mode, p.sslrootcert.as_deref())
                .map_err(|e| PostgresError::from_protocol(e, &p.user, &addr))?;
            let tls = tokio_postgres_rustls::MakeRustlsConnect::new((*tls_cfg).clone());
            let (client, conn) = cfg.connect(tls).await.map_err(map)?;
            tokio::spawn(async move {
                let _ = conn.await;
            });
            session_settings(client).await
        }
    }
}

/// The output settings the text decoder expects (PostgreSQL's defaults,
/// made explicit so a server configured otherwise decodes the same).
async fn session_settings(client: Client) -> Result<Client, PostgresError> {
    client
        .batch_execute("SET DateStyle = 'ISO, MDY'; SET IntervalStyle = 'postgres'; SET bytea_output = 'hex'; SET extra_float_digits = 1")
        .await
        .map_err(|e| PostgresError::Query(format!("setting session options: {e}")))?;
    Ok(client)
}

/// Runs a query whose single row and column is text (e.g. `SHOW wal_level`).
pub async fn scalar(client: &Client, sql: &str) -> Result<Option<String>, PostgresError> {
    let msgs = client
        .simple_query(sql)
        .await
        .map_err(|e| PostgresError::Query(format!("{sql}: {e}")))?;
    for m in msgs {
        if let tokio_postgres::SimpleQueryMessage::Row(r) = m {
            return Ok(r.get(0).map(str::to_owned));
        }
    }
    Ok(None)
}
