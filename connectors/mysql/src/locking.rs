//! Snapshot locking (`snapshot.locking.mode`), as Debezium's binlog
//! snapshot takes it. A snapshot reads the binlog position and the table
//! definitions while writes are kept out, and the rows inside a REPEATABLE
//! READ consistent-snapshot transaction:
//! - `minimal` (default): `FLUSH TABLES WITH READ LOCK` until the position
//!   and the definitions are read, then `UNLOCK TABLES`;
//! - `extended`: the same lock, held until every row is read;
//! - `minimal_percona`: Percona Server's backup lock, `LOCK TABLES FOR
//!   BACKUP`, held as `minimal`'s (MySQL connector only: the MariaDB
//!   connector refuses the Percona modes at configuration time);
//! - `minimal_percona_no_table_locks`: as `minimal_percona`, but a refused
//!   backup lock fails the snapshot instead of falling back to table locks;
//! - `none`: no lock (safe only when no DDL runs during the snapshot).
//!
//! Fallback (Debezium's): when the server refuses the global lock (no RELOAD
//! privilege, as on managed servers), the captured tables are read-locked
//! once their names are read, with Debezium's `FLUSH TABLES <tables> WITH
//! READ LOCK`, or, when the server refuses that too for want of RELOAD
//! (MariaDB asks RELOAD for every FLUSH), `LOCK TABLES <table> READ, …`,
//! which locks the same way. The user needs the LOCK TABLES privilege
//! (checked first, as Debezium does). Table locks commit the
//! consistent-snapshot transaction, so they stay until every row is read,
//! whatever the mode. Every lock waits at most `snapshot.lock.timeout.ms`.

use mysql_async::prelude::Queryable;
use mysql_async::Conn;

use crate::catalog::quote_ident;
use crate::config::MySqlConfig;
use crate::error::MySqlError;

/// ER_LOCK_WAIT_TIMEOUT: a lock was not granted within `lock_wait_timeout`.
const LOCK_WAIT_TIMEOUT: u16 = 1205;

/// The lock a snapshot holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Held {
    /// No lock (`none`, a refused global lock not replaced yet, or released).
    Nothing,
    /// The global read lock (or Percona's backup lock).
    Global,
    /// Read locks on the captured tables.
    Tables,
}

/// `FLUSH TABLES `db`.`t`, … WITH READ LOCK`: Debezium's table-level lock.
pub fn flush_tables_sql(tables: &[(String, String)]) -> String {
    format!("FLUSH TABLES {} WITH READ LOCK", table_list(tables, ""))
}

/// `LOCK TABLES `db`.`t` READ, …`: the table-level lock of a server that
/// wants RELOAD for `FLUSH TABLES <tables> WITH READ LOCK`.
pub fn lock_tables_sql(tables: &[(String, String)]) -> String {
    format!("LOCK TABLES {}", table_list(tables, " READ"))
}

fn table_list(tables: &[(String, String)], suffix: &str) -> String {
    tables
        .iter()
        .map(|(d, t)| format!("{}.{}{suffix}", quote_ident(d), quote_ident(t)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Debezium's privilege check on `SHOW GRANTS` lines: some line names
/// `ALL` or `privilege`.
pub fn has_privilege(grants: &[String], privilege: &str) -> bool {
    let wanted = privilege.to_ascii_uppercase();
    grants.iter().any(|g| {
        let g = g.to_ascii_uppercase();
        g.contains("ALL") || g.contains(&wanted)
    })
}

/// Bounds the session's lock waits by `snapshot.lock.timeout.ms` (whole
/// seconds, at least 1): `lock_wait_timeout` (metadata locks: the lock
/// statements) and, where the server has it, `innodb_lock_wait_timeout`
/// (a refusal is logged and ignored, as Debezium does).
pub async fn set_timeouts(conn: &mut Conn, cfg: &MySqlConfig) -> Result<(), MySqlError> {
    let secs = cfg.snapshot_lock_timeout.as_secs().max(1);
    conn.query_drop(format!("SET SESSION lock_wait_timeout = {secs}"))
        .await
        .map_err(|e| MySqlError::from_driver(e, cfg))?;
    if let Err(e) = conn
        .query_drop(format!("SET SESSION innodb_lock_wait_timeout = {secs}"))
        .await
    {
        tracing::warn!(error = %e, "unable to set innodb_lock_wait_timeout");
    }
    Ok(())
}

/// Takes the global lock of `snapshot.locking.mode`, if it has one.
/// A statement the server refuses leaves [`Held::Nothing`] (logged: the
/// captured tables are then locked by [`lock_tables`]); a lost connection
/// is an error.
pub async fn lock_global(conn: &mut Conn, cfg: &MySqlConfig) -> Result<Held, MySqlError> {
    let Some(sql) = cfg.locking_mode.global_lock_sql() else {
        tracing::info!("snapshot.locking.mode=none: the snapshot takes no lock");
        return Ok(Held::Nothing);
    };
    tracing::info!(
        statement = %sql,
        "flush and obtain global read lock to prevent writes to the database"
    );
    match conn.query_drop(sql).await {
        Ok(()) => Ok(Held::Global),
        Err(mysql_async::Error::Server(s)) => {
            tracing::info!(
                statement = %sql,
                reason = %s.message,
                "unable to flush and acquire global read lock, will use table read locks after reading table names"
            );
            Ok(Held::Nothing)
        }
        Err(e) => Err(MySqlError::from_driver(e, cfg)),
    }
}

/// Read-locks the captured `tables` after a refused global lock (when
/// `snapshot.locking.mode` locks at all; else returns `Nothing`): checks
/// the LOCK TABLES privilege, then runs [`flush_tables_sql`], falling back
/// to [`lock_tables_sql`] when the server wants RELOAD for it. The locks
/// are held until [`unlock`] at the end of the snapshot.
pub async fn lock_tables(
    conn: &mut Conn,
    cfg: &MySqlConfig,
    tables: &[(String, String)],
) -> Result<Held, MySqlError> {
    let mode = cfg.locking_mode;
    if mode.global_lock_sql().is_none() {
        return Ok(Held::Nothing);
    }
    if !mode.table_locks_allowed() {
        return Err(MySqlError::SnapshotLock(format!(
            "the global read lock ({}) was refused and snapshot.locking.mode={} allows no table locks. Grant database.user \"{}\" the RELOAD privilege (or the BACKUP_ADMIN privilege of Percona Server), or set snapshot.locking.mode=minimal_percona to fall back to table locks",
            mode.global_lock_sql().unwrap_or_default(),
            mode.name(),
            cfg.user
        )));
    }
    let grants: Vec<String> = conn
        .query("SHOW GRANTS FOR CURRENT_USER()")
        .await
        .map_err(|e| MySqlError::from_driver(e, cfg))?;
    if !has_privilege(&grants, "LOCK TABLES") {
        return Err(MySqlError::SnapshotLock(format!(
            "database.user \"{}\" does not have the 'LOCK TABLES' privilege required to obtain a consistent snapshot by preventing concurrent writes to tables (the global read lock needs RELOAD, which it lacks too). Grant it RELOAD or LOCK TABLES, or set snapshot.locking.mode=none if no DDL runs during the snapshot",
            cfg.user
        )));
    }
    if tables.is_empty() {
        return Ok(Held::Tables);
    }
    let flush = flush_tables_sql(tables);
    tracing::info!(tables = tables.len(), statement = %flush, "flush and obtain read lock for the captured tables (preventing writes)");
    let refused = match conn.query_drop(&flush).await {
        Ok(()) => return Ok(Held::Tables),
        // ER_SPECIFIC_ACCESS_DENIED_ERROR: MariaDB wants RELOAD for it
        Err(mysql_async::Error::Server(s)) if s.code == 1227 => s.message,
        Err(e) => return Err(lock_error(e, cfg)),
    };
    let lock = lock_tables_sql(tables);
    tracing::info!(reason = %refused, statement = %lock, "FLUSH TABLES … WITH READ LOCK was refused; read-locking the captured tables with LOCK TABLES");
    conn.query_drop(&lock)
        .await
        .map_err(|e| lock_error(e, cfg))?;
    Ok(Held::Tables)
}

/// After the binlog position and the table definitions are read: under a
/// minimal mode the global lock is released; table locks stay (releasing
/// them before the rows are read would end the snapshot's consistency).
pub async fn release_after_schema(
    conn: &mut Conn,
    cfg: &MySqlConfig,
    held: &mut Held,
) -> Result<(), MySqlError> {
    match *held {
        Held::Global if cfg.locking_mode.minimal() => unlock(conn, cfg, held).await,
        Held::Tables => {
            tracing::warn!("tables were locked explicitly, but to get a consistent snapshot the locks cannot be released until all tables are read");
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Releases whatever `held` is (`UNLOCK TABLES`) and sets it to `Nothing`.
pub async fn unlock(conn: &mut Conn, cfg: &MySqlConfig, held: &mut Held) -> Result<(), MySqlError> {
    let what = match *held {
        Held::Nothing => return Ok(()),
        Held::Global => "global read lock",
        Held::Tables => "table read locks",
    };
    conn.query_drop("UNLOCK TABLES")
        .await
        .map_err(|e| MySqlError::from_driver(e, cfg))?;
    tracing::info!("released the {what} to enable MySQL writes");
    *held = Held::Nothing;
    Ok(())
}

/// A failed lock statement: a lock wait past `snapshot.lock.timeout.ms` is
/// retriable and says so; others as [`MySqlError::from_driver`].
fn lock_error(e: mysql_async::Error, cfg: &MySqlConfig) -> MySqlError {
    match &e {
        mysql_async::Error::Server(s) if s.code == LOCK_WAIT_TIMEOUT => MySqlError::Query(format!(
            "the snapshot lock was not granted within snapshot.lock.timeout.ms={} ({}): a long transaction or DDL holds a conflicting lock; the snapshot is retried, or raise snapshot.lock.timeout.ms",
            cfg.snapshot_lock_timeout.as_millis(),
            s.message
        )),
        _ => MySqlError::from_driver(e, cfg),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tables() -> Vec<(String, String)> {
        vec![
            ("shop".into(), "orders".into()),
            ("we`ird".into(), "t".into()),
        ]
    }

    #[test]
    fn table_lock_statements_quote_every_table() {
        assert_eq!(
            flush_tables_sql(&tables()),
            "FLUSH TABLES `shop`.`orders`, `we``ird`.`t` WITH READ LOCK"
        );
        assert_eq!(
            lock_tables_sql(&tables()),
            "LOCK TABLES `shop`.`orders` READ, `we``ird`.`t` READ"
        );
    }

    #[test]
    fn lock_tables_privilege_as_debezium_reads_grants() {
        let g = |s: &str| vec![s.to_owned()];
        assert!(has_privilege(
            &g("GRANT SELECT, LOCK TABLES, REPLICATION SLAVE ON *.* TO `u`@`%`"),
            "LOCK TABLES"
        ));
        assert!(has_privilege(
            &g("GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost`"),
            "LOCK TABLES"
        ));
        assert!(!has_privilege(
            &g("GRANT SELECT, RELOAD, REPLICATION SLAVE ON *.* TO `u`@`%`"),
            "LOCK TABLES"
        ));
    }
}
