//! The JDBC source task: polls its tables (or the custom query) in turn,
//! each at most every `poll.interval.ms`, and returns at most
//! `batch.max.rows` records per `poll`.
//!
//! - Offsets are Confluent's: partition `{"protocol":"1","table":"<fqn>"}`
//!   (or `{"query":"query"}`), offset `{"incrementing": n}` and/or
//!   `{"timestamp": millis, "timestamp_nanos": nanos-of-second}`; every
//!   record carries the offset of its own row, and on start each table
//!   resumes from its stored offset. `timestamp+incrementing` adds
//!   `velocity.max.incrementing` (see [`crate::record`] for its use);
//!   Confluent ignores unknown offset keys, so offsets stay interchangeable.
//! - A query that returned a full `batch.max.rows` (incrementing modes)
//!   is run again at once; otherwise the table waits `poll.interval.ms`.
//! - Timestamp modes read the database clock and only take rows older than
//!   it minus `timestamp.delay.interval.ms`, so a transaction that commits
//!   late with an earlier timestamp is still found if it commits within
//!   the delay.
//! - `hash` mode: see [`crate::hash`]; each cycle diffs against the state
//!   as emitted, and `commit` writes a cycle's state changes to the state
//!   table once the offset of its last record is stored.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use velocity_api::{
    ConnectError, Offset, Partition, RawConfig, Result, SourceRecord, SourceTask, TaskContext,
    TypedConfig,
};

use crate::config::{Dialect, Mode, SourceConfig};
use crate::db::Db;
use crate::error::SourceError;
use crate::hash::{self, Change, State, StateWrite};
use crate::model::{Shape, TableRef, Target};
use crate::query::{poll_statement, Criteria, Position, Sql};
use crate::record::{Op, Output};

/// Offset key: last incrementing value (Confluent's).
pub const OFFSET_INCREMENTING: &str = "incrementing";
/// Offset key: last timestamp, epoch milliseconds (Confluent's).
pub const OFFSET_TIMESTAMP: &str = "timestamp";
/// Offset key: nanoseconds of the second of the last timestamp (Confluent's).
pub const OFFSET_TIMESTAMP_NANOS: &str = "timestamp_nanos";
/// Offset key: highest incrementing value seen (timestamp+incrementing).
pub const OFFSET_MAX_INCREMENTING: &str = "velocity.max.incrementing";
/// Offset key: the hash cycle a record belongs to.
pub const OFFSET_HASH_CYCLE: &str = "velocity.hash.cycle";
/// Offset key: how many records of the cycle are delivered with this one.
pub const OFFSET_HASH_EMITTED: &str = "velocity.hash.emitted";

/// The offset map of a position (Confluent's keys).
pub fn offset_of(pos: Position, max_inc: Option<i64>) -> Offset {
    let mut o = Offset::new();
    if let Some(i) = pos.incrementing {
        o.insert(OFFSET_INCREMENTING.into(), i.into());
    }
    if let Some(us) = pos.timestamp_us {
        o.insert(OFFSET_TIMESTAMP.into(), us.div_euclid(1000).into());
        o.insert(
            OFFSET_TIMESTAMP_NANOS.into(),
            (us.rem_euclid(1_000_000) * 1000).into(),
        );
    }
    if let Some(m) = max_inc {
        o.insert(OFFSET_MAX_INCREMENTING.into(), m.into());
    }
    o
}

/// The position stored in `o` (and the highest incrementing value seen).
pub fn position_of(o: &Offset) -> (Position, Option<i64>) {
    let int = |k: &str| o.get(k).and_then(serde_json::Value::as_i64);
    let timestamp_us = int(OFFSET_TIMESTAMP).map(|ms| match int(OFFSET_TIMESTAMP_NANOS) {
        Some(ns) => ms.div_euclid(1000) * 1_000_000 + ns / 1000,
        None => ms * 1000,
    });
    (
        Position {
            incrementing: int(OFFSET_INCREMENTING),
            timestamp_us,
        },
        int(OFFSET_MAX_INCREMENTING),
    )
}

/// The tables `cfg` selects among those of the database: include/exclude
/// lists applied, the hash state table left out.
pub async fn select_tables(db: &mut Db, cfg: &SourceConfig) -> Result<Vec<TableRef>, SourceError> {
    let state_name = cfg
        .hash_state_table
        .rsplit('.')
        .next()
        .unwrap_or(&cfg.hash_state_table)
        .to_owned();
    let all = db.tables(cfg).await?;
    for inc in &cfg.include {
        if !all.iter().any(|t| t.match_names().iter().any(|n| n == inc)) {
            tracing::warn!(table = %inc, "table.include.list names a table that does not exist; it is ignored");
        }
    }
    Ok(all
        .into_iter()
        .filter(|t| t.name != state_name)
        .filter(|t| {
            let names = t.match_names();
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            cfg.table_selected(&refs)
        })
        .collect())
}

struct HashCycle {
    /// The state as emitted: the stored (acknowledged) state with the
    /// writes of the pending cycles applied; the next cycle diffs against it.
    state: State,
    cycle: u64,
    /// Cycles emitted but not yet acknowledged, oldest first: (cycle,
    /// records emitted in it, state writes). Written to the state table, in
    /// order, once the runtime stores the offset of their last record.
    pending: VecDeque<(u64, usize, Vec<StateWrite>)>,
}

struct Polled {
    shape: Shape,
    out: Output,
    crit: Criteria,
    pos: Position,
    max_inc: Option<i64>,
    inc_idx: Option<usize>,
    ts_idx: Vec<usize>,
    due: Instant,
    queue: VecDeque<SourceRecord>,
    hash: Option<HashCycle>,
}

impl Polled {
    fn label(&self) -> String {
        self.shape.target.label()
    }
}

struct Running {
    cfg: SourceConfig,
    connector: String,
    db: Db,
    sql: Sql,
    state_table: String,
    tables: Vec<Polled>,
    turn: usize,
}

/// The task of `io.confluent.connect.jdbc.JdbcSourceConnector`.
#[derive(Default)]
pub struct JdbcSourceTask {
    run: Option<Running>,
}

fn schema_err(message: String) -> SourceError {
    SourceError::Schema(message)
}

/// Checks that `shape` has the columns `mode` needs; errors name the key to fix.
fn check_columns(
    cfg: &SourceConfig,
    shape: &Shape,
) -> Result<(Option<usize>, Vec<usize>), SourceError> {
    let label = shape.target.label();
    let find = |key: &str, name: &str| -> Result<usize, SourceError> {
        let i = shape.position(name).ok_or_else(|| {
            schema_err(format!(
                "{key}: column '{name}' does not exist in {label} (columns: {}); fix {key}",
                shape.names().join(", ")
            ))
        })?;
        if cfg.validate_non_null
            && shape.columns[i].optional
            && !matches!(shape.target, Target::Query(_))
        {
            return Err(schema_err(format!(
                "{key}: column '{name}' of {label} is nullable; make it NOT NULL or set validate.non.null=false"
            )));
        }
        Ok(i)
    };
    let inc = match &cfg.incrementing_column {
        Some(c) => Some(find(crate::config::INCREMENTING_COLUMN.name, c)?),
        None => None,
    };
    let mut ts = Vec::new();
    for c in &cfg.timestamp_columns {
        let i = shape.position(c).ok_or_else(|| {
            schema_err(format!(
                "{}: column '{c}' does not exist in {label} (columns: {}); fix {}",
                crate::config::TIMESTAMP_COLUMN.name,
                shape.names().join(", "),
                crate::config::TIMESTAMP_COLUMN.name
            ))
        })?;
        ts.push(i);
    }
    // Confluent: at least one timestamp column must be NOT NULL
    if cfg.validate_non_null
        && !ts.is_empty()
        && !matches!(shape.target, Target::Query(_))
        && ts.iter().all(|&i| shape.columns[i].optional)
    {
        return Err(schema_err(format!(
            "{}: every timestamp column of {label} is nullable; make one NOT NULL or set validate.non.null=false",
            crate::config::TIMESTAMP_COLUMN.name
        )));
    }
    if cfg.mode == Mode::Hash && shape.pk.is_empty() {
        return Err(schema_err(format!(
            "mode=hash needs a primary key, and {label} has none; add one or exclude the table (table.exclude.list)"
        )));
    }
    Ok((inc, ts))
}

impl Running {
    async fn open(config: &RawConfig, ctx: &TaskContext) -> Result<Running, SourceError> {
        let cfg = SourceConfig::from_raw(config)?;
        let mut db = Db::connect(&cfg).await?;
        let sql = Sql {
            dialect: cfg.connection.url.dialect,
            quote: cfg.quote,
        };
        let state_table = cfg
            .hash_state_table
            .split('.')
            .map(|p| sql.quoted(p))
            .collect::<Vec<_>>()
            .join(".");
        let targets: Vec<Target> = match &cfg.query {
            Some(q) => vec![Target::Query(q.clone())],
            None if !cfg.tables.is_empty() => cfg
                .tables
                .iter()
                .map(|t| {
                    TableRef::parse(t, cfg.connection.url.dialect == Dialect::Postgres)
                        .map(Target::Table)
                        .ok_or_else(|| {
                            schema_err(format!("task table '{t}' is not a qualified table name"))
                        })
                })
                .collect::<Result<_, _>>()?,
            None => select_tables(&mut db, &cfg)
                .await?
                .into_iter()
                .map(Target::Table)
                .collect(),
        };
        if cfg.mode == Mode::Hash && !targets.is_empty() {
            db.ensure_state_table(&state_table).await?;
        }
        let mut start_us = None;
        let mut tables = Vec::new();
        for target in targets {
            let (columns, pk) = match &target {
                Target::Table(t) => db.describe(t).await?,
                Target::Query(q) => (db.describe_query(q).await?, Vec::new()),
            };
            if columns.is_empty() {
                return Err(schema_err(format!(
                    "{} does not exist or has no columns the user can read; fix table.include.list or the grants",
                    target.label()
                )));
            }
            let shape = Shape {
                target,
                columns,
                pk,
            };
            let (inc_idx, ts_idx) = check_columns(&cfg, &shape)?;
            let out = Output::new(
                &shape,
                cfg.format,
                &cfg.topic_prefix,
                db.database(),
                cfg.mode,
            );
            let stored = ctx.offsets.offset(&out.partition);
            let (mut pos, max_inc) = stored.as_ref().map(position_of).unwrap_or_default();
            if stored.is_none() && cfg.mode.uses_timestamp() {
                pos.timestamp_us = match cfg.timestamp_initial {
                    Some(-1) => Some(match start_us {
                        Some(t) => t,
                        None => *start_us.insert(db.now_us().await?),
                    }),
                    Some(ms) => Some(ms * 1000),
                    None => None,
                };
            }
            let hash = match (&shape.target, cfg.mode) {
                (Target::Table(t), Mode::Hash) => Some(HashCycle {
                    state: db
                        .load_state(&state_table, &ctx.connector, &t.fqn())
                        .await?,
                    cycle: stored
                        .as_ref()
                        .and_then(|o| o.get(OFFSET_HASH_CYCLE)?.as_u64())
                        .unwrap_or(0),
                    pending: VecDeque::new(),
                }),
                _ => None,
            };
            tracing::info!(
                table = %shape.target.label(),
                mode = cfg.mode.name(),
                topic = %out.topic,
                resume = ?stored,
                "JDBC source polls"
            );
            tables.push(Polled {
                crit: Criteria {
                    incrementing: cfg.incrementing_column.clone(),
                    timestamps: cfg.timestamp_columns.clone(),
                },
                shape,
                out,
                pos,
                max_inc,
                inc_idx,
                ts_idx,
                due: Instant::now(),
                queue: VecDeque::new(),
                hash,
            });
        }
        Ok(Running {
            connector: ctx.connector.clone(),
            cfg,
            db,
            sql,
            state_table,
            tables,
            turn: 0,
        })
    }

    /// Up to `batch.max.rows` queued records of the next table that has some.
    fn take_queued(&mut self) -> Option<Vec<SourceRecord>> {
        let n = self.tables.len();
        for k in 0..n {
            let i = (self.turn + k) % n;
            let q = &mut self.tables[i].queue;
            if !q.is_empty() {
                let take = q.len().min(self.cfg.batch_max_rows);
                self.turn = (i + 1) % n.max(1);
                return Some(q.drain(..take).collect());
            }
        }
        None
    }

    /// Runs the poll query of table `i` and queues its records.
    async fn poll_table(&mut self, i: usize) -> Result<(), SourceError> {
        let mode = self.cfg.mode;
        let end_us = if mode.uses_timestamp() {
            self.db.now_us().await? - self.cfg.delay_ms * 1000
        } else {
            0
        };
        let limit = self.cfg.batch_max_rows;
        let t = &self.tables[i];
        let st = poll_statement(&self.sql, &t.shape, mode, &t.crit, t.pos, end_us, limit);
        let label = t.label();
        let rows = self.db.fetch(&st, &label).await?;
        let count = rows.len();
        let t = &mut self.tables[i];
        let row_err = |message: String| SourceError::Row {
            table: label.clone(),
            message,
        };
        let mut out = Vec::new();
        match mode {
            Mode::Hash => {
                let names = t.shape.names();
                let keyed: Vec<(String, Vec<Option<String>>)> = rows
                    .into_iter()
                    .map(|r| (hash::pk_key(&r, &t.shape.pk), r))
                    .collect();
                let Some(h) = t.hash.as_mut() else {
                    return Ok(());
                };
                let (changes, writes) = hash::diff(&h.state, &names, keyed);
                let mut records = Vec::new();
                for c in changes {
                    let (op, before, after) = match c {
                        Change::Create { values, .. } => (Op::Create, None, Some(values)),
                        Change::Update { before, values, .. } => (
                            Op::Update,
                            Some(hash::row_values(&names, &before)),
                            Some(values),
                        ),
                        Change::Delete { before, .. } => {
                            (Op::Delete, Some(hash::row_values(&names, &before)), None)
                        }
                    };
                    let before = before
                        .map(|v| t.out.row(&t.shape, &v))
                        .transpose()
                        .map_err(row_err)?;
                    let after = after
                        .map(|v| t.out.row(&t.shape, &v))
                        .transpose()
                        .map_err(row_err)?;
                    t.out
                        .emit(&t.shape, op, before, after, &Offset::new(), &mut records);
                }
                if records.is_empty() {
                    t.due = Instant::now() + self.cfg.poll_interval;
                    return Ok(());
                }
                h.cycle += 1;
                let total = records.len();
                for (k, r) in records.iter_mut().enumerate() {
                    r.source_offset
                        .insert(OFFSET_HASH_CYCLE.into(), h.cycle.into());
                    r.source_offset
                        .insert(OFFSET_HASH_EMITTED.into(), (k + 1).into());
                }
                tracing::debug!(table = %label, cycle = h.cycle, records = total, "hash cycle found changes");
                hash::apply(&mut h.state, &writes);
                h.pending.push_back((h.cycle, total, writes));
                t.due = Instant::now() + self.cfg.poll_interval;
                t.queue.extend(records);
                return Ok(());
            }
            _ => {
                for r in rows {
                    let op = match mode {
                        Mode::Bulk => Op::Read,
                        Mode::Incrementing => Op::Create,
                        Mode::Timestamp => Op::Update,
                        _ => Op::Create,
                    };
                    let mut op = op;
                    if let Some(ii) = t.inc_idx {
                        let v: i64 = r[ii]
                            .as_deref()
                            .ok_or_else(|| row_err(format!("null value in incrementing column {}; the column must be NOT NULL", t.shape.columns[ii].name)))?
                            .parse()
                            .map_err(|_| row_err(format!("incrementing column {} is not an integer", t.shape.columns[ii].name)))?;
                        t.pos.incrementing = Some(v);
                        if mode == Mode::TimestampIncrementing {
                            if t.max_inc.is_some_and(|m| v <= m) {
                                op = Op::Update;
                            }
                            t.max_inc = Some(t.max_inc.map_or(v, |m| m.max(v)));
                        }
                    }
                    if !t.ts_idx.is_empty() {
                        let ts = t
                            .ts_idx
                            .iter()
                            .find_map(|&k| r[k].as_deref())
                            .and_then(|s| s.parse::<i64>().ok());
                        if ts.is_some() {
                            t.pos.timestamp_us = ts;
                        }
                    }
                    let offset = if mode == Mode::Bulk {
                        Offset::new()
                    } else {
                        offset_of(t.pos, t.max_inc)
                    };
                    let row = t.out.row(&t.shape, &r).map_err(row_err)?;
                    t.out.emit(&t.shape, op, None, Some(row), &offset, &mut out);
                }
            }
        }
        let full =
            matches!(mode, Mode::Incrementing | Mode::TimestampIncrementing) && count >= limit;
        t.due = if full {
            Instant::now()
        } else {
            Instant::now() + self.cfg.poll_interval
        };
        t.queue.extend(out);
        Ok(())
    }

    /// Writes the state of every hash cycle whose last record is stored
    /// (offsets are stored in order, so every earlier cycle is too).
    async fn commit(&mut self, offsets: &[(Partition, Offset)]) -> Result<(), SourceError> {
        for (p, o) in offsets {
            let Some(t) = self.tables.iter_mut().find(|t| &t.out.partition == p) else {
                continue;
            };
            let (Some(h), Target::Table(table)) = (t.hash.as_mut(), &t.shape.target) else {
                continue;
            };
            let Some(acked_cycle) = o.get(OFFSET_HASH_CYCLE).and_then(|v| v.as_u64()) else {
                continue;
            };
            let acked = o.get(OFFSET_HASH_EMITTED).and_then(|v| v.as_u64());
            let done = |&(cycle, total, _): &(u64, usize, Vec<StateWrite>)| {
                cycle < acked_cycle || (cycle == acked_cycle && acked == Some(total as u64))
            };
            while h.pending.front().is_some_and(done) {
                let Some((cycle, _, writes)) = h.pending.pop_front() else {
                    break;
                };
                self.db
                    .save_state(&self.state_table, &self.connector, &table.fqn(), &writes)
                    .await?;
                tracing::debug!(table = %table.fqn(), cycle, changes = writes.len(), "hash state written");
            }
        }
        Ok(())
    }
}

#[async_trait]
impl SourceTask for JdbcSourceTask {
    /// Parses the configuration, connects (with `connection.attempts`),
    /// describes every assigned table, checks the mode's columns and reads
    /// the stored offsets (and, in hash mode, the state table).
    async fn start(&mut self, config: &RawConfig, ctx: TaskContext) -> Result<()> {
        self.run = Some(Running::open(config, &ctx).await?);
        Ok(())
    }

    /// The next records: queued ones first, else the next due table's
    /// query; when nothing is due, waits (at most a second) and returns an
    /// empty batch.
    async fn poll(&mut self) -> Result<Vec<SourceRecord>> {
        let run = self
            .run
            .as_mut()
            .ok_or_else(|| ConnectError::fatal("JDBC source task is not started"))?;
        if let Some(b) = run.take_queued() {
            return Ok(b);
        }
        let n = run.tables.len();
        for k in 0..n {
            let i = (run.turn + k) % n;
            let t = &run.tables[i];
            if t.due > Instant::now() {
                continue;
            }
            run.poll_table(i).await?;
            if let Some(b) = run.take_queued() {
                return Ok(b);
            }
        }
        let next = run
            .tables
            .iter()
            .map(|t| t.due)
            .min()
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(1));
        let wait = next
            .saturating_duration_since(Instant::now())
            .min(Duration::from_secs(1));
        tokio::time::sleep(wait).await;
        Ok(Vec::new())
    }

    /// Hash mode: writes the state of the cycles whose records are all stored.
    async fn commit(&mut self, offsets: &[(Partition, Offset)]) -> Result<()> {
        match self.run.as_mut() {
            Some(run) => Ok(run.commit(offsets).await?),
            None => Ok(()),
        }
    }

    /// Closes the connection; queued records not yet returned are read again
    /// after a restart (they are past no stored offset).
    async fn stop(&mut self) -> Result<()> {
        if let Some(run) = self.run.take() {
            run.db.close().await;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_round_trip_in_confluent_form() {
        let pos = Position {
            incrementing: Some(42),
            timestamp_us: Some(1_700_000_000_123_456),
        };
        let o = offset_of(pos, Some(50));
        assert_eq!(
            serde_json::Value::Object(o.clone()).to_string(),
            r#"{"incrementing":42,"timestamp":1700000000123,"timestamp_nanos":123456000,"velocity.max.incrementing":50}"#
        );
        assert_eq!(position_of(&o), (pos, Some(50)));
        // Confluent's own offsets (no nanos, no Velocity key)
        let mut c = Offset::new();
        c.insert("timestamp".into(), 1000.into());
        assert_eq!(
            position_of(&c),
            (
                Position {
                    incrementing: None,
                    timestamp_us: Some(1_000_000)
                },
                None
            )
        );
        // before the epoch
        let neg = Position {
            incrementing: None,
            timestamp_us: Some(-1),
        };
        assert_eq!(position_of(&offset_of(neg, None)).0, neg);
    }
}
