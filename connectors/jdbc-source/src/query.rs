//! The SQL the source runs, built per dialect: the select list (every
//! column read in a text form both drivers return alike, see
//! [`select_expr`]), the target (`"schema"."table"`, or the custom query
//! as a derived table), and the mode's WHERE/ORDER BY exactly as
//! Confluent's `TimestampIncrementingCriteria` writes them:
//!
//! - `incrementing`: `WHERE inc > ? ORDER BY inc ASC`
//! - `timestamp`: `WHERE ts > ? AND ts < ? ORDER BY ts ASC` (begin, end)
//! - `timestamp+incrementing`:
//!   `WHERE ts < ? AND ((ts = ? AND inc > ?) OR ts > ?) ORDER BY ts, inc ASC`
//!   (end, begin, incrementing, begin)
//!
//! where `ts` is the timestamp column or `COALESCE(ts1, ts2, …)` and `end`
//! is the database's current time minus `timestamp.delay.interval.ms`.
//! Incrementing and timestamp+incrementing queries are limited to
//! `batch.max.rows` rows (their order is total, so the next query resumes
//! exactly); bulk, hash and timestamp-only queries read everything that
//! matches (equal timestamps must not be cut apart).
//!
//! The custom `query` is wrapped as `SELECT … FROM (<query>) AS velocity_q
//! WHERE …` rather than appended to, so it may contain its own WHERE.

use crate::config::{Dialect, Mode};
use crate::model::{Column, Kind, Shape, Target};

/// A bound parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Param {
    /// A 64-bit integer (incrementing offset).
    Int(i64),
    /// A timestamp, microseconds since the epoch (UTC).
    Timestamp(i64),
}

/// A statement and its parameters, in placeholder order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// SQL with the dialect's placeholders (`$n` or `?`).
    pub sql: String,
    /// Parameters in placeholder order.
    pub params: Vec<Param>,
}

/// How identifiers are written.
#[derive(Debug, Clone, Copy)]
pub struct Sql {
    /// Database family.
    pub dialect: Dialect,
    /// `quote.sql.identifiers=always`.
    pub quote: bool,
}

impl Sql {
    /// `name` quoted for the dialect (`"a"` / `` `a` ``), or as is with
    /// `quote.sql.identifiers=never`.
    pub fn ident(&self, name: &str) -> String {
        if !self.quote {
            return name.to_owned();
        }
        match self.dialect {
            Dialect::Postgres => format!("\"{}\"", name.replace('"', "\"\"")),
            Dialect::MariaDb => format!("`{}`", name.replace('`', "``")),
        }
    }

    /// Always-quoted identifier (aliases and the state table).
    pub fn quoted(&self, name: &str) -> String {
        Sql {
            quote: true,
            ..*self
        }
        .ident(name)
    }

    /// The FROM target.
    pub fn from(&self, target: &Target) -> String {
        match target {
            Target::Table(t) => match &t.schema {
                Some(s) => format!("{}.{}", self.ident(s), self.ident(&t.name)),
                None => format!("{}.{}", self.ident(&t.db), self.ident(&t.name)),
            },
            Target::Query(q) => format!("({}) AS velocity_q", q.trim().trim_end_matches(';')),
        }
    }

    /// The placeholder of the `n`th (1-based) parameter `p`.
    fn placeholder(&self, n: usize, p: Param) -> String {
        match (self.dialect, p) {
            (Dialect::Postgres, Param::Int(_)) => format!("CAST(${n} AS bigint)"),
            (Dialect::Postgres, Param::Timestamp(_)) => format!("CAST(${n} AS timestamp)"),
            (Dialect::MariaDb, Param::Int(_)) => "?".into(),
            (Dialect::MariaDb, Param::Timestamp(_)) => "CAST(? AS DATETIME(6))".into(),
        }
    }

    /// `ts` or `COALESCE(ts1, ts2, …)`.
    pub fn timestamp_expr(&self, columns: &[String]) -> String {
        let cols: Vec<String> = columns.iter().map(|c| self.ident(c)).collect();
        match cols.as_slice() {
            [one] => one.clone(),
            many => format!("COALESCE({})", many.join(", ")),
        }
    }
}

/// The text form of `col` aliased to its own name: integers, decimals,
/// booleans and strings as their text, bytes as hex, dates as days since
/// the epoch, times as milliseconds of the day and timestamps as
/// microseconds since the epoch (UTC). Both drivers return these as plain
/// strings, so decoding ([`Kind::decode`]) does not depend on the driver.
pub fn select_expr(sql: &Sql, col: &Column) -> String {
    let c = sql.ident(&col.name);
    let e = match (sql.dialect, col.kind) {
        (Dialect::Postgres, Kind::Timestamp) => {
            format!("CAST(CAST(EXTRACT(EPOCH FROM {c}) * 1000000 AS bigint) AS text)")
        }
        (Dialect::Postgres, Kind::Date) => format!("CAST({c} - DATE '1970-01-01' AS text)"),
        (Dialect::Postgres, Kind::Time) => {
            format!("CAST(CAST(floor(EXTRACT(EPOCH FROM {c}) * 1000) AS bigint) AS text)")
        }
        (Dialect::Postgres, Kind::Bytes) => format!("encode({c}, 'hex')"),
        (Dialect::Postgres, _) => format!("CAST({c} AS text)"),
        (Dialect::MariaDb, Kind::Timestamp) => {
            format!("CAST(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', {c}) AS CHAR)")
        }
        (Dialect::MariaDb, Kind::Date) => format!("CAST(DATEDIFF({c}, '1970-01-01') AS CHAR)"),
        (Dialect::MariaDb, Kind::Time) => format!("CAST(FLOOR(TIME_TO_SEC({c}) * 1000) AS CHAR)"),
        (Dialect::MariaDb, Kind::Bytes) => format!("HEX({c})"),
        (Dialect::MariaDb, Kind::Boolean) => format!("CAST({c} + 0 AS CHAR)"),
        (Dialect::MariaDb, _) => format!("CAST({c} AS CHAR)"),
    };
    format!("{e} AS {}", sql.quoted(&col.name))
}

/// Where a table's polling stands: the offset values of the last row read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Position {
    /// Last incrementing value (Confluent starts at -1).
    pub incrementing: Option<i64>,
    /// Last timestamp, microseconds since the epoch (Confluent starts at 0).
    pub timestamp_us: Option<i64>,
}

/// The columns the mode reads beyond the row (names as configured).
#[derive(Debug, Clone, Default)]
pub struct Criteria {
    /// `incrementing.column.name`.
    pub incrementing: Option<String>,
    /// `timestamp.column.name`.
    pub timestamps: Vec<String>,
}

/// The poll statement of `shape` in `mode` from `pos`; `end_us` is the
/// upper timestamp bound (now minus the delay, timestamp modes) and
/// `limit` the row limit of the incrementing modes.
pub fn poll_statement(
    sql: &Sql,
    shape: &Shape,
    mode: Mode,
    crit: &Criteria,
    pos: Position,
    end_us: i64,
    limit: usize,
) -> Statement {
    let cols: Vec<String> = shape.columns.iter().map(|c| select_expr(sql, c)).collect();
    let mut text = format!(
        "SELECT {} FROM {}",
        cols.join(", "),
        sql.from(&shape.target)
    );
    let mut params = Vec::new();
    let bind = |p: Param, params: &mut Vec<Param>| {
        params.push(p);
        sql.placeholder(params.len(), p)
    };
    let inc = crit.incrementing.as_deref().map(|c| sql.ident(c));
    let ts = sql.timestamp_expr(&crit.timestamps);
    let begin = Param::Timestamp(pos.timestamp_us.unwrap_or(0));
    let last_inc = Param::Int(pos.incrementing.unwrap_or(-1));
    match (mode, inc) {
        (Mode::Incrementing, Some(inc)) => {
            let p = bind(last_inc, &mut params);
            text.push_str(&format!(
                " WHERE {inc} > {p} ORDER BY {inc} ASC LIMIT {limit}"
            ));
        }
        (Mode::Timestamp, _) => {
            let b = bind(begin, &mut params);
            let e = bind(Param::Timestamp(end_us), &mut params);
            text.push_str(&format!(
                " WHERE {ts} > {b} AND {ts} < {e} ORDER BY {ts} ASC"
            ));
        }
        (Mode::TimestampIncrementing, Some(inc)) => {
            let e = bind(Param::Timestamp(end_us), &mut params);
            let b1 = bind(begin, &mut params);
            let i = bind(last_inc, &mut params);
            let b2 = bind(begin, &mut params);
            text.push_str(&format!(
                " WHERE {ts} < {e} AND (({ts} = {b1} AND {inc} > {i}) OR {ts} > {b2}) ORDER BY {ts},{inc} ASC LIMIT {limit}"
            ));
        }
        (Mode::Hash, _) if !shape.pk.is_empty() => {
            let pk: Vec<String> = shape
                .pk
                .iter()
                .map(|&i| sql.ident(&shape.columns[i].name))
                .collect();
            text.push_str(&format!(" ORDER BY {}", pk.join(", ")));
        }
        _ => {}
    }
    Statement { sql: text, params }
}

/// The statement reading the database's current time as microseconds
/// since the epoch.
pub fn now_statement(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Postgres => {
            "SELECT CAST(CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000 AS bigint) AS text)"
        }
        Dialect::MariaDb => {
            "SELECT CAST(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', UTC_TIMESTAMP(6)) AS CHAR)"
        }
    }
}

/// `micros` since the epoch as `YYYY-MM-DD HH:MM:SS.ffffff` (UTC), for
/// MariaDB timestamp parameters.
pub fn timestamp_text(micros: i64) -> String {
    let secs = micros.div_euclid(1_000_000);
    let us = micros.rem_euclid(1_000_000) as u32;
    match chrono::DateTime::from_timestamp(secs, us * 1000) {
        Some(t) => t.format("%Y-%m-%d %H:%M:%S%.6f").to_string(),
        None => "1970-01-01 00:00:00.000000".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TableRef;

    fn shape(dialect: Dialect) -> Shape {
        let t = TableRef {
            db: "d".into(),
            schema: (dialect == Dialect::Postgres).then(|| "s".into()),
            name: "t".into(),
        };
        Shape {
            target: Target::Table(t),
            columns: vec![
                Column {
                    name: "id".into(),
                    kind: Kind::Int64,
                    optional: false,
                },
                Column {
                    name: "ts".into(),
                    kind: Kind::Timestamp,
                    optional: false,
                },
            ],
            pk: vec![0],
        }
    }

    fn crit(ts: &[&str]) -> Criteria {
        Criteria {
            incrementing: Some("id".into()),
            timestamps: ts.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn incrementing_postgres() {
        let sql = Sql {
            dialect: Dialect::Postgres,
            quote: true,
        };
        let pos = Position {
            incrementing: Some(41),
            timestamp_us: None,
        };
        let s = poll_statement(
            &sql,
            &shape(Dialect::Postgres),
            Mode::Incrementing,
            &crit(&[]),
            pos,
            0,
            100,
        );
        assert_eq!(
            s.sql,
            "SELECT CAST(\"id\" AS text) AS \"id\", CAST(CAST(EXTRACT(EPOCH FROM \"ts\") * 1000000 AS bigint) AS text) AS \"ts\" \
             FROM \"s\".\"t\" WHERE \"id\" > CAST($1 AS bigint) ORDER BY \"id\" ASC LIMIT 100"
        );
        assert_eq!(s.params, vec![Param::Int(41)]);
    }

    #[test]
    fn timestamp_incrementing_mariadb_with_coalesce() {
        let sql = Sql {
            dialect: Dialect::MariaDb,
            quote: true,
        };
        let pos = Position {
            incrementing: Some(7),
            timestamp_us: Some(1_000),
        };
        let s = poll_statement(
            &sql,
            &shape(Dialect::MariaDb),
            Mode::TimestampIncrementing,
            &crit(&["updated", "created"]),
            pos,
            9_000,
            50,
        );
        let ts = "COALESCE(`updated`, `created`)";
        let p = "CAST(? AS DATETIME(6))";
        assert!(
            s.sql.ends_with(&format!(
                "FROM `d`.`t` WHERE {ts} < {p} AND (({ts} = {p} AND `id` > ?) OR {ts} > {p}) ORDER BY {ts},`id` ASC LIMIT 50"
            )),
            "{}",
            s.sql
        );
        assert_eq!(
            s.params,
            vec![
                Param::Timestamp(9_000),
                Param::Timestamp(1_000),
                Param::Int(7),
                Param::Timestamp(1_000)
            ]
        );
    }

    #[test]
    fn timestamp_defaults_start_at_epoch_without_limit() {
        let sql = Sql {
            dialect: Dialect::Postgres,
            quote: false,
        };
        let s = poll_statement(
            &sql,
            &shape(Dialect::Postgres),
            Mode::Timestamp,
            &crit(&["ts"]),
            Position::default(),
            5,
            10,
        );
        assert!(
            s.sql.ends_with("FROM s.t WHERE ts > CAST($1 AS timestamp) AND ts < CAST($2 AS timestamp) ORDER BY ts ASC"),
            "{}",
            s.sql
        );
        assert_eq!(s.params, vec![Param::Timestamp(0), Param::Timestamp(5)]);
    }

    #[test]
    fn bulk_hash_and_query_targets() {
        let sql = Sql {
            dialect: Dialect::Postgres,
            quote: true,
        };
        let sh = shape(Dialect::Postgres);
        let b = poll_statement(
            &sql,
            &sh,
            Mode::Bulk,
            &Criteria::default(),
            Position::default(),
            0,
            1,
        );
        assert!(
            b.sql.ends_with("FROM \"s\".\"t\"") && b.params.is_empty(),
            "{}",
            b.sql
        );
        let h = poll_statement(
            &sql,
            &sh,
            Mode::Hash,
            &Criteria::default(),
            Position::default(),
            0,
            1,
        );
        assert!(
            h.sql.ends_with("FROM \"s\".\"t\" ORDER BY \"id\""),
            "{}",
            h.sql
        );
        let mut q = sh.clone();
        q.target = Target::Query("SELECT * FROM x WHERE a = 1;".into());
        let s = poll_statement(
            &sql,
            &q,
            Mode::Incrementing,
            &crit(&[]),
            Position::default(),
            0,
            3,
        );
        assert!(
            s.sql.contains("FROM (SELECT * FROM x WHERE a = 1) AS velocity_q WHERE \"id\" > CAST($1 AS bigint)"),
            "{}",
            s.sql
        );
        assert_eq!(s.params, vec![Param::Int(-1)]);
    }

    #[test]
    fn quoting_and_expressions() {
        let my = Sql {
            dialect: Dialect::MariaDb,
            quote: true,
        };
        assert_eq!(my.ident("a`b"), "`a``b`");
        let pg = Sql {
            dialect: Dialect::Postgres,
            quote: true,
        };
        assert_eq!(pg.ident("a\"b"), "\"a\"\"b\"");
        let col = Column {
            name: "d".into(),
            kind: Kind::Date,
            optional: true,
        };
        assert_eq!(
            select_expr(&my, &col),
            "CAST(DATEDIFF(`d`, '1970-01-01') AS CHAR) AS `d`"
        );
        assert_eq!(
            timestamp_text(1_700_000_000_123_456),
            "2023-11-14 22:13:20.123456"
        );
        assert_eq!(timestamp_text(-1), "1969-12-31 23:59:59.999999");
    }
}
