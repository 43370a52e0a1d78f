//! Latency benchmark (issue 18): how long a committed change takes to
//! reach its reader, at fixed commit rates, for
//!
//! - `pg_recvlogical` (the floor: the walsender's own client, `test_decoding`
//!   with commit timestamps, commit → line read from its stdout);
//! - the real Debezium 3.6 PostgreSQL connector in its embedded engine
//!   (commit → handler; `bench/latency/DbzLatency.java`), with its defaults
//!   and with `poll.interval.ms=5`;
//! - Velocity (release binary, default producer settings) into a tansu
//!   broker, commit → record visible to a consumer, and commit → Kafka's
//!   acknowledgement inside Velocity (its `velocity_source_commit_to_ack_seconds`
//!   histogram, read from `/metrics`, so only as fine as its buckets);
//! - Velocity with `producer.linger.ms=100`, which is what every batch got
//!   before the adaptive producer (the old default);
//! - Velocity's MariaDB source, commit → consumer (the commit time is the
//!   row's `NOW(6)`: binlog timestamps have one-second resolution);
//! - Velocity's PostgreSQL source and JDBC sink in one worker: commit → row
//!   written into a PostgreSQL table (the sink's `put` → database commit
//!   included; the sink's consumer asks with `fetch.wait.max.ms=5`, as the
//!   bench's own consumer does, see the README's tansu differences).
//!
//! Workload, the same for each of them in turn (never two at once: two cores):
//! rows of `lat(id, phase, n, note)` committed at 100, 1,000, 5,000 and
//! 20,000 rows/s, one row per transaction and 10-row transactions, for
//! `LAT_SECONDS` (default 5) seconds per rate, by 8 connections with
//! `synchronous_commit=on` (the services' server default is `off`, which
//! lets the WAL writer hold a commit back from the walsender up to
//! `wal_writer_delay`). The commit time is the event's `source.ts_us`
//! (PostgreSQL's commit timestamp); all clocks are the same machine's.
//!
//! Then Velocity's start-up: the worker is stopped, one row is committed,
//! and the time from starting `velocity standalone` to that row's event
//! being visible to the consumer is measured four times: once with the
//! slot as the rate phases left it, then three times after moving the
//! slot's `restart_lsn` up to its confirmed position. At every start the
//! server decodes again, without sending it, the WAL from the slot's
//! `restart_lsn` (which it moves only after logging the running
//! transactions): after the rate phases that is tens of MB and takes the
//! server most of a second, whoever the client is. Each round prints how
//! much WAL that was.
//!
//! Prints p50/p99/p99.9/max per rate and system, and the 5,000 rows/s,
//! one-row-per-transaction line of each side by side. Started by
//! `bench/latency/run.sh`, which provides the broker, the binary and the
//! Debezium class path through `LAT_*` variables.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};

/// (rows/s, rows per transaction), in the order they run.
const PHASES: &[(u32, u32)] = &[
    (100, 1),
    (100, 10),
    (1_000, 1),
    (1_000, 10),
    (5_000, 1),
    (5_000, 10),
    (20_000, 1),
    (20_000, 10),
];
const WRITERS: usize = 8;
const STARTUP_PHASE: i32 = 9_999;

fn env(k: &str) -> Result<String> {
    std::env::var(k).with_context(|| format!("{k} is not set (run bench/latency/run.sh)"))
}

fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

/// Connection settings from `scripts/services.sh env`.
#[derive(Clone)]
struct Pg {
    host: String,
    port: String,
    user: String,
    password: String,
    db: String,
}

impl Pg {
    fn from_env() -> Result<Pg> {
        Ok(Pg {
            host: env("VELOCITY_PG_HOST")?,
            port: env("VELOCITY_PG_PORT")?,
            user: env("VELOCITY_PG_SUPERUSER")?,
            password: env("VELOCITY_PG_SUPERUSER_PASSWORD")?,
            db: "velocity_latency".into(),
        })
    }

    fn conn(&self, db: &str) -> String {
        format!(
            "host={} port={} user={} password={} dbname={db}",
            self.host, self.port, self.user, self.password
        )
    }

    async fn client(&self, db: &str) -> Result<tokio_postgres::Client> {
        let (c, conn) = tokio_postgres::connect(&self.conn(db), tokio_postgres::NoTls)
            .await
            .with_context(|| format!("connecting to PostgreSQL {}:{}", self.host, self.port))?;
        tokio::spawn(conn);
        Ok(c)
    }
}

/// Bytes of WAL the server decodes again, without sending it, when `slot`
/// is next started: from its `restart_lsn` to its `confirmed_flush_lsn`.
fn slot_restart_lag(ctx: &Ctx, slot: &str) -> Result<i64> {
    let pg = ctx.pg.clone();
    let slot = slot.to_owned();
    ctx.rt.block_on(async move {
        let c = pg.client(&pg.db).await?;
        let row = c
            .query_one(
                "SELECT pg_wal_lsn_diff(confirmed_flush_lsn, restart_lsn)::bigint \
                 FROM pg_replication_slots WHERE slot_name = $1",
                &[&slot],
            )
            .await?;
        anyhow::Ok(row.get::<_, i64>(0))
    })
}

/// Moves the running connector's slot's `restart_lsn` up to its confirmed
/// position (within 1 MB, at most 30 s): a CHECKPOINT logs the running
/// transactions, rows of `phase` committed after it are streamed and
/// confirmed, and the server then advances the restart point.
fn settle_slot(ctx: &Ctx, slot: &str, phase: i32) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    ctx.sql("postgres", "CHECKPOINT")?;
    loop {
        ctx.sql(
            &ctx.pg.db,
            &format!("SET synchronous_commit = on; INSERT INTO lat (phase, n) VALUES ({phase}, 0)"),
        )?;
        std::thread::sleep(Duration::from_millis(1500));
        let lag = slot_restart_lag(ctx, slot)?;
        if lag < 1_000_000 {
            return Ok(());
        }
        if Instant::now() > deadline {
            eprintln!("  (the slot's restart_lsn is still {lag} bytes behind after 30 s)");
            return Ok(());
        }
    }
}

/// (phase, latency µs, receipt µs since the epoch) samples of one system.
type Samples = Arc<Mutex<Vec<(i32, i64, i64)>>>;

/// One start-up round: seconds from `velocity standalone` to the event
/// visible to the consumer, and the bytes of WAL the server re-read first.
type Startup = (f64, i64);

/// Per phase: (rows/s, rows per transaction, achieved rows/s, p50/p99/p99.9/max ms).
type Table = Vec<(u32, u32, f64, Option<[f64; 4]>)>;

/// Commits the rows of one phase at `rate` rows/s, `per_txn` rows per
/// transaction, for `secs` seconds; returns the rows committed and the
/// achieved rate.
async fn drive(pg: &Pg, phase: i32, rate: u32, per_txn: u32, secs: u64) -> Result<(u64, f64)> {
    let txns = (u64::from(rate) * secs) / u64::from(per_txn);
    let interval = Duration::from_secs_f64(f64::from(per_txn) / f64::from(rate));
    let start = tokio::time::Instant::now() + Duration::from_millis(50);
    let mut handles = Vec::new();
    for w in 0..WRITERS {
        let c = pg.client(&pg.db).await?;
        c.batch_execute("SET synchronous_commit = on").await?;
        handles.push(tokio::spawn(async move {
            let stmt = c
                .prepare("INSERT INTO lat (phase, n) SELECT $1, g FROM generate_series(1, $2) g")
                .await?;
            let mut k = w as u64;
            while k < txns {
                tokio::time::sleep_until(start + interval.mul_f64(k as f64)).await;
                c.execute(&stmt, &[&phase, &(per_txn as i32)]).await?;
                k += WRITERS as u64;
            }
            anyhow::Ok(())
        }));
    }
    for h in handles {
        h.await??;
    }
    let took = start.elapsed().as_secs_f64();
    let rows = txns * u64::from(per_txn);
    Ok((rows, rows as f64 / took))
}

/// A Kafka consumer thread reading `topic` partition 0 from the beginning,
/// noting commit → receipt per event.
fn kafka_collector(
    bootstrap: &str,
    topic: &str,
    samples: Samples,
    stop: Arc<AtomicBool>,
) -> Result<std::thread::JoinHandle<()>> {
    collector(bootstrap, topic, samples, stop, |p| {
        Some((
            p["source"]["ts_us"].as_i64()?,
            p["after"]["phase"].as_i64()?,
        ))
    })
}

/// A consumer thread on `topic` partition 0 from the beginning; `times`
/// takes an event's payload to (commit µs, phase).
fn collector(
    bootstrap: &str,
    topic: &str,
    samples: Samples,
    stop: Arc<AtomicBool>,
    times: fn(&serde_json::Value) -> Option<(i64, i64)>,
) -> Result<std::thread::JoinHandle<()>> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", format!("latency-bench-{topic}"))
        .set("enable.auto.commit", "false")
        .set(
            "fetch.wait.max.ms",
            std::env::var("LAT_FETCH_WAIT_MS").unwrap_or_else(|_| "5".into()),
        )
        .set("fetch.error.backoff.ms", "5")
        .set("topic.metadata.refresh.interval.ms", "500")
        .create()?;
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Beginning)?;
    consumer.assign(&tpl)?;
    Ok(std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            let Some(m) = consumer.poll(Duration::from_millis(50)) else {
                continue;
            };
            let received = now_us();
            let Ok(m) = m else { continue };
            let Some(payload) = m.payload() else { continue };
            let Ok(v) = serde_json::from_slice::<serde_json::Value>(payload) else {
                continue;
            };
            if let Some((ts, phase)) = times(&v["payload"]) {
                samples
                    .lock()
                    .unwrap()
                    .push((phase as i32, received - ts, received));
            }
        }
    }))
}

fn count(samples: &Samples, phase: i32) -> u64 {
    samples
        .lock()
        .unwrap()
        .iter()
        .filter(|(p, _, _)| *p == phase)
        .count() as u64
}

/// Waits until `want` samples of `phase` arrived (60 s at most).
fn wait_for(samples: &Samples, phase: i32, want: u64, what: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while count(samples, phase) < want {
        if Instant::now() > deadline {
            bail!(
                "{what}: only {} of {want} events of phase {phase} arrived in 60 s",
                count(samples, phase)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// `p` (0..1) quantile of sorted `v`.
fn quantile(v: &[i64], p: f64) -> i64 {
    if v.is_empty() {
        return 0;
    }
    let i = ((p * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
    v[i]
}

/// (p50, p99, p99.9, max) in ms of the samples of `phase`.
fn summary(samples: &Samples, phase: i32) -> Option<[f64; 4]> {
    let mut v: Vec<i64> = samples
        .lock()
        .unwrap()
        .iter()
        .filter(|(p, _, _)| *p == phase)
        .map(|(_, l, _)| *l)
        .collect();
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    let ms = |us: i64| us as f64 / 1000.0;
    Some([
        ms(quantile(&v, 0.5)),
        ms(quantile(&v, 0.99)),
        ms(quantile(&v, 0.999)),
        ms(*v.last().unwrap()),
    ])
}

/// Velocity's commit → ack histogram: cumulative (le seconds, count).
fn ack_histogram(port: u16) -> Vec<(f64, u64)> {
    let Ok(text) =
        reqwest::blocking::get(format!("http://127.0.0.1:{port}/metrics")).and_then(|r| r.text())
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("velocity_source_commit_to_ack_seconds_bucket{") else {
            continue;
        };
        let Some(le) = rest.split("le=\"").nth(1).and_then(|s| s.split('"').next()) else {
            continue;
        };
        let le = if le == "+Inf" {
            f64::INFINITY
        } else {
            le.parse().unwrap_or(f64::NAN)
        };
        let n = line
            .rsplit(' ')
            .next()
            .and_then(|s| s.parse::<f64>().ok())
            .unwrap_or(0.0) as u64;
        out.push((le, n));
    }
    out
}

/// "≤ x ms" bounds of p50 and p99 from two cumulative histograms.
fn ack_quantiles(before: &[(f64, u64)], after: &[(f64, u64)]) -> String {
    let diff: Vec<(f64, u64)> = after
        .iter()
        .map(|(le, n)| {
            let b = before.iter().find(|(l, _)| l == le).map_or(0, |(_, n)| *n);
            (*le, n - b.min(*n))
        })
        .collect();
    let total = diff.last().map_or(0, |(_, n)| *n);
    if total == 0 {
        return "no samples".into();
    }
    let bound = |q: f64| {
        let want = (q * total as f64).ceil() as u64;
        diff.iter()
            .find(|(_, n)| *n >= want)
            .map_or("?".into(), |(le, _)| {
                if le.is_infinite() {
                    "> 10 s".to_string()
                } else {
                    format!("≤ {} ms", le * 1000.0)
                }
            })
    };
    format!(
        "p50 {}, p99 {} ({total} transactions)",
        bound(0.5),
        bound(0.99)
    )
}

struct Ctx {
    pg: Pg,
    kafka: String,
    work: PathBuf,
    secs: u64,
    rt: tokio::runtime::Runtime,
}

impl Ctx {
    fn sql(&self, db: &str, sql: &str) -> Result<()> {
        let pg = self.pg.clone();
        let (db, sql) = (db.to_owned(), sql.to_owned());
        self.rt.block_on(async move {
            let c = pg.client(&db).await?;
            c.batch_execute(&sql).await.with_context(|| sql.clone())?;
            anyhow::Ok(())
        })
    }

    /// Runs every phase for one system whose phases are `base + i`, with
    /// `samples` filled by its collector; `between` runs after each phase
    /// (once its events all arrived).
    fn run_phases(
        &self,
        name: &str,
        base: i32,
        samples: &Samples,
        between: impl FnMut(usize),
    ) -> Result<Table> {
        self.run_phases_on(None, name, base, samples, between)
    }

    /// [`Ctx::run_phases`], the rows written to the MariaDB at `mariadb`
    /// (a URL) instead of PostgreSQL when given.
    fn run_phases_on(
        &self,
        mariadb: Option<&str>,
        name: &str,
        base: i32,
        samples: &Samples,
        mut between: impl FnMut(usize),
    ) -> Result<Table> {
        let mut out = Vec::new();
        for (i, (rate, per_txn)) in PHASES.iter().enumerate() {
            let phase = base + i as i32;
            let secs = self.secs;
            let (rows, achieved) = match mariadb {
                Some(url) => self
                    .rt
                    .block_on(drive_mariadb(url, phase, *rate, *per_txn, secs))?,
                None => self
                    .rt
                    .block_on(drive(&self.pg, phase, *rate, *per_txn, secs))?,
            };
            wait_for(samples, phase, rows, name)?;
            between(i);
            out.push(report(
                name,
                *rate,
                *per_txn,
                rows,
                achieved,
                summary(samples, phase),
            ));
        }
        Ok(out)
    }
}

/// Prints one phase's line and returns its table row.
fn report(
    name: &str,
    rate: u32,
    per_txn: u32,
    rows: u64,
    achieved: f64,
    s: Option<[f64; 4]>,
) -> (u32, u32, f64, Option<[f64; 4]>) {
    eprintln!(
        "  {name}: {rate} rows/s x {per_txn}/txn: {rows} rows at {achieved:.0} rows/s, {}",
        fmt(s)
    );
    (rate, per_txn, achieved, s)
}

fn fmt(s: Option<[f64; 4]>) -> String {
    match s {
        None => "no samples".into(),
        Some([p50, p99, p999, max]) => {
            format!("p50 {p50:7.2}  p99 {p99:7.2}  p99.9 {p999:7.2}  max {max:8.2} ms")
        }
    }
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Starts `velocity standalone` with the PostgreSQL connector on slot
/// `slot`, topic prefix `prefix`; waits until its REST port answers.
fn start_velocity(ctx: &Ctx, bin: &str, name: &str, port: u16, extra: &str) -> Result<Child> {
    start_velocity_with(ctx, bin, name, port, extra, None)
}

/// [`start_velocity`] with one more connector (`more`: its JSON).
fn start_velocity_with(
    ctx: &Ctx,
    bin: &str,
    name: &str,
    port: u16,
    extra: &str,
    more: Option<&serde_json::Value>,
) -> Result<Child> {
    let dir = ctx.work.join(name);
    std::fs::create_dir_all(&dir)?;
    let props = dir.join("worker.properties");
    std::fs::write(
        &props,
        format!(
            "bootstrap.servers={}\nlisteners=http://127.0.0.1:{port}\noffset.storage.file.filename={}\noffset.flush.interval.ms=1000\n{extra}\n",
            ctx.kafka,
            dir.join("offsets.json").display()
        ),
    )?;
    let pg = &ctx.pg;
    let connector = dir.join("connector.json");
    std::fs::write(
        &connector,
        serde_json::json!({"name": name, "config": {
            "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
            "database.hostname": pg.host, "database.port": pg.port,
            "database.user": pg.user, "database.password": pg.password,
            "database.dbname": pg.db, "database.sslmode": "disable",
            "topic.prefix": name, "slot.name": name, "publication.name": "lat_pub",
            "publication.autocreate.mode": "disabled", "snapshot.mode": "no_data",
            "table.include.list": "public.lat",
        }})
        .to_string(),
    )?;
    let mut connectors = vec![connector];
    if let Some(more) = more {
        let f = dir.join("more.json");
        std::fs::write(&f, more.to_string())?;
        connectors.push(f);
    }
    let log = std::fs::File::options()
        .create(true)
        .append(true)
        .open(dir.join("worker.log"))?;
    let mut child = Command::new(bin)
        .arg("standalone")
        .arg(&props)
        .args(&connectors)
        .env("VELOCITY_LOG", "warn")
        .stdout(Stdio::from(log.try_clone()?))
        .stderr(Stdio::from(log))
        .spawn()
        .with_context(|| format!("starting {bin}"))?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait()? {
            bail!(
                "velocity exited ({status}); see {}",
                dir.join("worker.log").display()
            );
        }
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(child);
        }
        if Instant::now() > deadline {
            bail!("velocity did not open its REST port in 30 s");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Waits until the connector's task is RUNNING and its slot is active.
fn wait_streaming(ctx: &Ctx, slot: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let pg = ctx.pg.clone();
        let name = slot.to_owned();
        let active = ctx.rt.block_on(async move {
            let c = pg.client(&pg.db).await?;
            let row = c
                .query_opt(
                    "SELECT active FROM pg_replication_slots WHERE slot_name = $1",
                    &[&name],
                )
                .await?;
            anyhow::Ok(row.is_some_and(|r| r.get::<_, bool>(0)))
        })?;
        if active {
            // the slot is active once START_REPLICATION ran
            std::thread::sleep(Duration::from_millis(500));
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("slot {slot} did not become active in 120 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn stop(child: &mut Child) {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let _ = child.wait();
}

fn velocity(
    ctx: &Ctx,
    bin: &str,
    name: &str,
    base: i32,
    extra: &str,
    startup: bool,
) -> Result<(Table, Vec<String>, Vec<Startup>)> {
    let samples: Samples = Arc::default();
    let stop_flag = Arc::new(AtomicBool::new(false));
    let topic = format!("{name}.public.lat");
    create_topic(ctx, &topic)?;
    let collector = kafka_collector(&ctx.kafka, &topic, samples.clone(), stop_flag.clone())?;
    let port = free_port()?;
    let mut child = start_velocity(ctx, bin, name, port, extra)?;
    wait_streaming(ctx, name)?;
    let mut acks = Vec::new();
    let mut before = ack_histogram(port);
    let table = ctx.run_phases(name, base, &samples, |_| {
        // acknowledgements are observed as they are reaped: give the task a moment
        std::thread::sleep(Duration::from_millis(300));
        let after = ack_histogram(port);
        acks.push(ack_quantiles(&before, &after));
        before = after;
    })?;
    let mut startups = Vec::new();
    if startup {
        // round 0 as the rate phases left the slot (PostgreSQL re-reads the
        // WAL from its restart_lsn at every start, whoever the client is);
        // then rounds with the slot settled, so that what remains is
        // Velocity's own start-up
        for round in 0..4 {
            if round > 0 {
                settle_slot(ctx, name, STARTUP_PHASE - 100)?;
            }
            let lag = slot_restart_lag(ctx, name)?;
            stop(&mut child);
            let phase = STARTUP_PHASE - round;
            ctx.sql(
                &ctx.pg.db,
                &format!(
                    "SET synchronous_commit = on; INSERT INTO lat (phase, n) VALUES ({phase}, 1)"
                ),
            )?;
            let t0 = now_us();
            child = start_velocity(ctx, bin, name, port, extra)?;
            wait_for(&samples, phase, 1, "start-up")?;
            let received = samples
                .lock()
                .unwrap()
                .iter()
                .find(|(p, _, _)| *p == phase)
                .map_or(t0, |(_, _, r)| *r);
            let secs = (received - t0) as f64 / 1e6;
            startups.push((secs, lag));
            eprintln!(
                "  start-up to the first streamed event: {secs:.3} s (WAL the server re-read from the slot's restart_lsn: {:.1} MB)",
                lag as f64 / 1e6
            );
        }
    }
    stop(&mut child);
    stop_flag.store(true, Ordering::Relaxed);
    let _ = collector.join();
    ctx.sql(
        &ctx.pg.db,
        &format!("SELECT pg_drop_replication_slot('{name}')"),
    )?;
    Ok((table, acks, startups))
}

fn pg_recvlogical(ctx: &Ctx, base: i32) -> Result<Table> {
    let slot = "lat_recv";
    ctx.sql(
        &ctx.pg.db,
        &format!("SELECT pg_create_logical_replication_slot('{slot}', 'test_decoding')"),
    )?;
    let pg = &ctx.pg;
    let mut child = Command::new("pg_recvlogical")
        .args([
            "-h", &pg.host, "-p", &pg.port, "-U", &pg.user, "-d", &pg.db, "--slot", slot, "--start",
        ])
        .args(["-o", "include-timestamp=1", "-f", "-"])
        .env("PGPASSWORD", &pg.password)
        .env("PGTZ", "UTC")
        .stdout(Stdio::piped())
        .spawn()
        .context("starting pg_recvlogical (postgresql client package)")?;
    let samples: Samples = Arc::default();
    let out = child.stdout.take().unwrap();
    let s2 = samples.clone();
    let reader = std::thread::spawn(move || {
        let mut pending: Vec<(i32, i64)> = Vec::new();
        for line in BufReader::new(out).lines() {
            let received = now_us();
            let Ok(line) = line else { break };
            if let Some(rest) = line.split("phase[integer]:").nth(1) {
                let phase: i32 = rest
                    .split(' ')
                    .next()
                    .and_then(|p| p.parse().ok())
                    .unwrap_or(-1);
                pending.push((phase, received));
            } else if line.starts_with("COMMIT") {
                if let Some(commit) = line
                    .split("(at ")
                    .nth(1)
                    .and_then(|t| parse_pg_ts(t.trim_end_matches(')')))
                {
                    let mut s = s2.lock().unwrap();
                    for (phase, r) in pending.drain(..) {
                        s.push((phase, r - commit, r));
                    }
                }
                pending.clear();
            }
        }
    });
    std::thread::sleep(Duration::from_millis(500));
    let table = ctx.run_phases("pg_recvlogical", base, &samples, |_| {})?;
    let _ = child.kill();
    let _ = child.wait();
    let _ = reader.join();
    ctx.sql(
        &ctx.pg.db,
        &format!("SELECT pg_drop_replication_slot('{slot}')"),
    )?;
    Ok(table)
}

/// `2026-11-26 06:30:00.123456+00` → µs since the epoch.
fn parse_pg_ts(s: &str) -> Option<i64> {
    let (date, rest) = s.split_once(' ')?;
    let mut d = date.split('-').map(|x| x.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let time = rest.trim_end_matches("+00");
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let mut t = hms.split(':').map(|x| x.parse::<i64>().ok());
    let (h, mi, sec) = (t.next()??, t.next()??, t.next()??);
    let micros: i64 = format!("{frac:0<6}")[..6].parse().ok()?;
    // days from civil (Howard Hinnant's algorithm)
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 86_400 + h * 3_600 + mi * 60 + sec) * 1_000_000) + micros)
}

fn debezium(ctx: &Ctx, cp: &str, name: &str, base: i32, extra: &[(&str, &str)]) -> Result<Table> {
    let dir = ctx.work.join(name);
    std::fs::create_dir_all(&dir)?;
    let pg = &ctx.pg;
    let mut props = format!(
        "name={name}\nconnector.class=io.debezium.connector.postgresql.PostgresConnector\n\
         offset.storage=org.apache.kafka.connect.storage.FileOffsetBackingStore\n\
         offset.storage.file.filename={}\noffset.flush.interval.ms=1000\n\
         database.hostname={}\ndatabase.port={}\ndatabase.user={}\ndatabase.password={}\ndatabase.dbname={}\n\
         topic.prefix={name}\nplugin.name=pgoutput\nslot.name={name}\npublication.name=lat_pub\n\
         publication.autocreate.mode=disabled\nsnapshot.mode=no_data\ntable.include.list=public.lat\n\
         key.converter.schemas.enable=true\nvalue.converter.schemas.enable=true\n",
        dir.join("offsets.dat").display(),
        pg.host, pg.port, pg.user, pg.password, pg.db
    );
    for (k, v) in extra {
        props.push_str(&format!("{k}={v}\n"));
    }
    std::fs::write(dir.join("connector.properties"), props)?;
    let (out, stop_file, ready) = (dir.join("events.txt"), dir.join("stop"), dir.join("ready"));
    let log = std::fs::File::create(dir.join("debezium.log"))?;
    let mut child = Command::new("java")
        .args(["-Xmx1g", "-cp", cp, "DbzLatency"])
        .arg(dir.join("connector.properties"))
        .args([&out, &stop_file, &ready])
        .stdout(Stdio::from(log.try_clone()?))
        .stderr(Stdio::from(log))
        .spawn()
        .context("starting java (JDK 17+)")?;
    let deadline = Instant::now() + Duration::from_secs(120);
    while !ready.exists() {
        if let Some(s) = child.try_wait()? {
            bail!(
                "Debezium exited ({s}); see {}",
                dir.join("debezium.log").display()
            );
        }
        if Instant::now() > deadline {
            bail!("Debezium did not start in 120 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    wait_streaming(ctx, name)?;
    // events are written to `out` only when the engine stops: drive every
    // phase, then read them; waiting per phase uses the rows' count
    let mut table = Vec::new();
    let mut written = Vec::new();
    for (i, (rate, per_txn)) in PHASES.iter().enumerate() {
        let pg = ctx.pg.clone();
        let (rows, achieved) =
            ctx.rt
                .block_on(drive(&pg, base + i as i32, *rate, *per_txn, ctx.secs))?;
        written.push((rows, achieved));
        std::thread::sleep(Duration::from_secs(1));
    }
    // a generous pause for the last events (its poll interval is 500 ms by default)
    std::thread::sleep(Duration::from_secs(3));
    std::fs::write(&stop_file, "")?;
    child.wait()?;
    let samples: Samples = Arc::default();
    for line in std::fs::read_to_string(&out)
        .with_context(|| format!("reading {}", out.display()))?
        .lines()
    {
        let mut f = line.split(' ').map(|x| x.parse::<i64>().unwrap_or(0));
        let (phase, recv, commit) = (
            f.next().unwrap_or(0),
            f.next().unwrap_or(0),
            f.next().unwrap_or(0),
        );
        samples
            .lock()
            .unwrap()
            .push((phase as i32, recv - commit, recv));
    }
    for (i, (rate, per_txn)) in PHASES.iter().enumerate() {
        let phase = base + i as i32;
        let (rows, achieved) = written[i];
        let got = count(&samples, phase);
        if got < rows {
            bail!("{name}: {got} of {rows} events of phase {phase} arrived");
        }
        table.push(report(
            name,
            *rate,
            *per_txn,
            rows,
            achieved,
            summary(&samples, phase),
        ));
    }
    ctx.sql(
        &ctx.pg.db,
        &format!("SELECT pg_drop_replication_slot('{name}')"),
    )?;
    Ok(table)
}

/// Velocity's source and its JDBC sink in one worker: PostgreSQL commit →
/// row written into the sink table `lat_sink` of database
/// `velocity_latency_sink` (the table's `written_at` defaults to
/// `clock_timestamp()` at the sink's insert; the source row's `at` is
/// `now()` of its one-statement transaction, i.e. just before its commit).
fn pipeline(ctx: &Ctx, bin: &str, base: i32) -> Result<Table> {
    let name = "latpipe";
    let sink_db = "velocity_latency_sink";
    ctx.sql(
        "postgres",
        &format!("DROP DATABASE IF EXISTS {sink_db} WITH (FORCE)"),
    )?;
    ctx.sql("postgres", &format!("CREATE DATABASE {sink_db}"))?;
    ctx.sql(
        sink_db,
        "CREATE TABLE lat_sink (id bigint PRIMARY KEY, phase integer, n integer, note text, at timestamptz, \
         written_at timestamptz NOT NULL DEFAULT clock_timestamp())",
    )?;
    let pg = &ctx.pg;
    // the broker creates no topic on its own (README, Known differences)
    create_topic(ctx, &format!("{name}.public.lat"))?;
    let sink = serde_json::json!({"name": format!("{name}-sink"), "config": {
        "connector.class": "io.debezium.connector.jdbc.JdbcSinkConnector",
        "topics": format!("{name}.public.lat"),
        "connection.url": format!("jdbc:postgresql://{}:{}/{sink_db}", pg.host, pg.port),
        "connection.username": pg.user, "connection.password": pg.password,
        "insert.mode": "upsert", "primary.key.mode": "record_key",
        "table.name.format": "lat_sink", "schema.evolution": "none",
        "consumer.override.topic.metadata.refresh.interval.ms": "500",
        // tansu 0.6 answers a fetch only after waiting out half or all of
        // its max wait, data or not (README, Known differences); Kafka
        // answers as soon as fetch.min.bytes have arrived
        "consumer.override.fetch.wait.max.ms": "5",
    }});
    let port = free_port()?;
    let mut child = start_velocity_with(ctx, bin, name, port, "", Some(&sink))?;
    // the worker is stopped on every way out, failures included
    let table = pipeline_phases(ctx, name, sink_db, base);
    stop(&mut child);
    let table = table?;
    ctx.sql(
        &ctx.pg.db,
        &format!("SELECT pg_drop_replication_slot('{name}')"),
    )?;
    Ok(table)
}

/// The phases of [`pipeline`]: each rate's rows, timed from the source
/// row's `at` to the sink row's `written_at`.
fn pipeline_phases(ctx: &Ctx, name: &str, sink_db: &str, base: i32) -> Result<Table> {
    wait_streaming(ctx, name)?;
    let mut table = Vec::new();
    for (i, (rate, per_txn)) in PHASES.iter().enumerate() {
        let phase = base + i as i32;
        let pg2 = ctx.pg.clone();
        let (rows, achieved) = ctx
            .rt
            .block_on(drive(&pg2, phase, *rate, *per_txn, ctx.secs))?;
        let samples: Samples = Arc::default();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let pg3 = ctx.pg.clone();
            let got = ctx.rt.block_on(async move {
                let c = pg3.client(sink_db).await?;
                let rows = c
                    .query(
                        "SELECT (extract(epoch FROM written_at - at) * 1e6)::bigint FROM lat_sink WHERE phase = $1",
                        &[&phase],
                    )
                    .await?;
                anyhow::Ok(rows.iter().map(|r| r.get::<_, i64>(0)).collect::<Vec<_>>())
            })?;
            if got.len() as u64 >= rows {
                samples
                    .lock()
                    .unwrap()
                    .extend(got.into_iter().map(|l| (phase, l, 0)));
                break;
            }
            if Instant::now() > deadline {
                bail!(
                    "{name}: {} of {rows} rows of phase {phase} reached the sink table in 60 s",
                    got.len()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        table.push(report(
            name,
            *rate,
            *per_txn,
            rows,
            achieved,
            summary(&samples, phase),
        ));
    }
    Ok(table)
}

/// MariaDB connection settings from `scripts/services.sh env`.
fn mariadb_url(db: &str) -> Result<String> {
    Ok(format!(
        "mysql://{}:{}@{}:{}/{db}",
        env("VELOCITY_MARIADB_USER")?,
        env("VELOCITY_MARIADB_PASSWORD")?,
        env("VELOCITY_MARIADB_HOST")?,
        env("VELOCITY_MARIADB_PORT")?
    ))
}

/// The MariaDB workload: as [`drive`], into table `lat` of the services'
/// MariaDB database, whose `at DATETIME(6)` is `NOW(6)` of the one-statement
/// transaction (session time zone UTC), i.e. just before its commit: the
/// binlog's own timestamps have one-second resolution.
async fn drive_mariadb(
    url: &str,
    phase: i32,
    rate: u32,
    per_txn: u32,
    secs: u64,
) -> Result<(u64, f64)> {
    use mysql_async::prelude::Queryable;
    let txns = (u64::from(rate) * secs) / u64::from(per_txn);
    let interval = Duration::from_secs_f64(f64::from(per_txn) / f64::from(rate));
    let start = tokio::time::Instant::now() + Duration::from_millis(50);
    let values = (1..=per_txn)
        .map(|n| format!("({phase}, {n}, NOW(6))"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!("INSERT INTO lat (phase, n, at) VALUES {values}");
    let mut handles = Vec::new();
    for w in 0..WRITERS {
        let mut c = mysql_async::Conn::from_url(url).await?;
        c.query_drop("SET time_zone = '+00:00'").await?;
        let sql = sql.clone();
        handles.push(tokio::spawn(async move {
            let mut k = w as u64;
            while k < txns {
                tokio::time::sleep_until(start + interval.mul_f64(k as f64)).await;
                c.query_drop(&sql).await?;
                k += WRITERS as u64;
            }
            c.disconnect().await?;
            anyhow::Ok(())
        }));
    }
    for h in handles {
        h.await??;
    }
    let rows = txns * u64::from(per_txn);
    Ok((rows, rows as f64 / start.elapsed().as_secs_f64()))
}

/// Runs `sql` statements on MariaDB database `db`.
fn mariadb_sql(ctx: &Ctx, db: &str, sql: &[&str]) -> Result<()> {
    use mysql_async::prelude::Queryable;
    let url = mariadb_url(db)?;
    ctx.rt.block_on(async {
        let mut c = mysql_async::Conn::from_url(url.as_str()).await?;
        c.query_drop("SET time_zone = '+00:00'").await?;
        for q in sql {
            c.query_drop(*q).await.with_context(|| q.to_string())?;
        }
        c.disconnect().await?;
        anyhow::Ok(())
    })
}

/// Velocity's MariaDB source (Debezium's MariaDB connector) into the
/// broker: commit (`after.at`) → record visible to a consumer.
fn mariadb(ctx: &Ctx, bin: &str, base: i32) -> Result<Table> {
    let name = "latmaria";
    // the services' user may not create databases: a table in its own
    let db = env("VELOCITY_MARIADB_DB")?;
    mariadb_sql(
        ctx,
        &db,
        &[
            "DROP TABLE IF EXISTS lat",
            "CREATE TABLE lat (id bigint AUTO_INCREMENT PRIMARY KEY, phase int NOT NULL, \
             n int NOT NULL, note varchar(64) NOT NULL DEFAULT 'shipment 4711 left the hub', at DATETIME(6) NOT NULL)",
        ],
    )?;
    let url = mariadb_url(&db)?;
    let samples: Samples = Arc::default();
    let stop_flag = Arc::new(AtomicBool::new(false));
    let topic = format!("{name}.{db}.lat");
    create_topic(ctx, &topic)?;
    let collector = collector(
        &ctx.kafka,
        &topic,
        samples.clone(),
        stop_flag.clone(),
        |p| Some((p["after"]["at"].as_i64()?, p["after"]["phase"].as_i64()?)),
    )?;
    let dir = ctx.work.join(name);
    std::fs::create_dir_all(&dir)?;
    let port = free_port()?;
    let props = dir.join("worker.properties");
    std::fs::write(
        &props,
        format!(
            "bootstrap.servers={}\nlisteners=http://127.0.0.1:{port}\noffset.storage.file.filename={}\noffset.flush.interval.ms=1000\n",
            ctx.kafka,
            dir.join("offsets.json").display()
        ),
    )?;
    let connector = dir.join("connector.json");
    std::fs::write(
        &connector,
        serde_json::json!({"name": name, "config": {
            "connector.class": "io.debezium.connector.mariadb.MariaDbConnector",
            "database.hostname": env("VELOCITY_MARIADB_HOST")?, "database.port": env("VELOCITY_MARIADB_PORT")?,
            "database.user": env("VELOCITY_MARIADB_USER")?, "database.password": env("VELOCITY_MARIADB_PASSWORD")?,
            "database.server.id": (100_000 + std::process::id() % 100_000).to_string(),
            "topic.prefix": name, "database.include.list": db, "table.include.list": format!("{db}.lat"),
            "snapshot.mode": "no_data",
            "topic.creation.default.partitions": "1", "topic.creation.default.replication.factor": "1",
            "schema.history.internal.kafka.topic": format!("{name}.history"),
            "schema.history.internal.kafka.bootstrap.servers": ctx.kafka,
        }})
        .to_string(),
    )?;
    let log = std::fs::File::create(dir.join("worker.log"))?;
    let mut child = Command::new(bin)
        .arg("standalone")
        .arg(&props)
        .arg(&connector)
        .env("VELOCITY_LOG", "warn")
        .stdout(Stdio::from(log.try_clone()?))
        .stderr(Stdio::from(log))
        .spawn()?;
    // streaming has begun once a first row arrives
    let deadline = Instant::now() + Duration::from_secs(120);
    while count(&samples, 0) == 0 {
        mariadb_sql(
            ctx,
            &db,
            &["INSERT INTO lat (phase, n, at) VALUES (0, 0, NOW(6))"],
        )?;
        std::thread::sleep(Duration::from_millis(500));
        if let Some(s) = child.try_wait()? {
            bail!(
                "velocity exited ({s}); see {}",
                dir.join("worker.log").display()
            );
        }
        if Instant::now() > deadline {
            bail!(
                "the MariaDB source did not stream within 120 s; see {}",
                dir.join("worker.log").display()
            );
        }
    }
    let table = ctx.run_phases_on(Some(&url), name, base, &samples, |_| {})?;
    stop(&mut child);
    stop_flag.store(true, Ordering::Relaxed);
    let _ = collector.join();
    Ok(table)
}

/// Creates `topic` (one partition) before a consumer is assigned to it.
fn create_topic(ctx: &Ctx, topic: &str) -> Result<()> {
    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
    ctx.rt.block_on(async {
        let admin: AdminClient<_> = ClientConfig::new()
            .set("bootstrap.servers", &ctx.kafka)
            .create()?;
        admin
            .create_topics(
                &[NewTopic::new(topic, 1, TopicReplication::Fixed(1))],
                &AdminOptions::new(),
            )
            .await?;
        anyhow::Ok(())
    })
}

fn main() -> Result<()> {
    let ctx = Ctx {
        pg: Pg::from_env()?,
        kafka: env("LAT_KAFKA")?,
        work: PathBuf::from(env("LAT_WORK")?),
        secs: std::env::var("LAT_SECONDS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(5),
        rt: tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?,
    };
    let bin = env("LAT_VELOCITY_BIN")?;
    let dbz_cp = std::env::var("LAT_DEBEZIUM_CP")
        .ok()
        .filter(|s| !s.is_empty());
    let only = std::env::var("LAT_ONLY").unwrap_or_default();
    let wants = |s: &str| only.is_empty() || only.split(',').any(|o| o == s);

    ctx.sql(
        "postgres",
        "DROP DATABASE IF EXISTS velocity_latency WITH (FORCE)",
    )?;
    ctx.sql("postgres", "CREATE DATABASE velocity_latency")?;
    ctx.sql(
        &ctx.pg.db,
        "CREATE TABLE lat (id bigserial PRIMARY KEY, phase integer NOT NULL, n integer NOT NULL, \
         note text NOT NULL DEFAULT 'shipment 4711 left the hub', at timestamptz NOT NULL DEFAULT now());
         CREATE PUBLICATION lat_pub FOR TABLE lat;",
    )?;

    let mut results: BTreeMap<&str, Table> = BTreeMap::new();
    let mut notes = Vec::new();
    if wants("pg_recvlogical") {
        eprintln!("pg_recvlogical (test_decoding), commit -> line read:");
        results.insert("1 pg_recvlogical", pg_recvlogical(&ctx, 100)?);
    }
    if wants("debezium") {
        let Some(cp) = &dbz_cp else {
            bail!("LAT_DEBEZIUM_CP is not set (bench/latency/run.sh sets it)")
        };
        eprintln!("Debezium 3.6 embedded, defaults (poll.interval.ms=500), commit -> handler:");
        results.insert(
            "2 debezium (defaults)",
            debezium(&ctx, cp, "latdbz", 200, &[])?,
        );
        eprintln!("Debezium 3.6 embedded, poll.interval.ms=5, commit -> handler:");
        results.insert(
            "3 debezium (poll.interval.ms=5)",
            debezium(&ctx, cp, "latdbzfast", 300, &[("poll.interval.ms", "5")])?,
        );
    }
    if wants("velocity-linger") {
        eprintln!("Velocity with producer.linger.ms=100 (every batch lingers, the old default), commit -> consumer:");
        let (t, acks, _) = velocity(
            &ctx,
            &bin,
            "latvlinger",
            400,
            "producer.linger.ms=100",
            false,
        )?;
        for (i, a) in acks.iter().enumerate() {
            notes.push(format!(
                "  linger.ms=100 {} rows/s x {}: commit -> ack {a}",
                PHASES[i].0, PHASES[i].1
            ));
        }
        results.insert("4 velocity (linger.ms=100)", t);
    }
    let mut startups = Vec::new();
    if wants("velocity") {
        eprintln!("Velocity (default: adaptive producer), commit -> consumer:");
        let (t, acks, s) = velocity(&ctx, &bin, "latv", 500, "", true)?;
        for (i, a) in acks.iter().enumerate() {
            notes.push(format!(
                "  adaptive      {} rows/s x {}: commit -> ack {a}",
                PHASES[i].0, PHASES[i].1
            ));
        }
        results.insert("5 velocity (adaptive)", t);
        startups = s;
    }

    if wants("mariadb") {
        eprintln!("Velocity MariaDB source (adaptive producer), commit (NOW(6) of the statement) -> consumer:");
        results.insert("7 velocity MariaDB source", mariadb(&ctx, &bin, 700)?);
    }
    if wants("pipeline") {
        eprintln!(
            "Velocity source + JDBC sink (PostgreSQL), commit -> row written in the sink table:"
        );
        results.insert(
            "6 velocity source + JDBC sink (commit -> sink row)",
            pipeline(&ctx, &bin, 600)?,
        );
    }

    println!();
    println!("commit -> receipt latency, ms (same machine, same workload, one system at a time; LAT_SECONDS={} s per rate)", ctx.secs);
    for (name, table) in &results {
        println!("{}", &name[2..]);
        for (rate, per_txn, achieved, s) in table {
            println!(
                "  {rate:>6} rows/s  {per_txn:>2} rows/txn (achieved {achieved:>7.0})  {}",
                fmt(*s)
            );
        }
    }
    if !notes.is_empty() {
        println!("Velocity, commit -> Kafka acknowledgement inside Velocity (velocity_source_commit_to_ack_seconds, bucket bounds):");
        for n in &notes {
            println!("{n}");
        }
    }
    println!("at 5,000 rows/s, one row per transaction (p99):");
    for (name, table) in &results {
        if let Some((_, _, _, Some(s))) = table.iter().find(|(r, p, _, _)| *r == 5_000 && *p == 1) {
            println!(
                "  {:<34} p99 {:7.2} ms  p99.9 {:7.2} ms",
                &name[2..],
                s[1],
                s[2]
            );
        }
    }
    if !startups.is_empty() {
        let (found, settled) = startups.split_first().expect("non-empty");
        let mut s: Vec<f64> = settled.iter().map(|(x, _)| *x).collect();
        s.sort_by(f64::total_cmp);
        println!(
            "Velocity start-up to first streamed event visible to a consumer: after the rate phases {:.3} s \
             (the server re-read {:.1} MB of WAL from the slot's restart_lsn); with the slot settled {} (median {:.3} s)",
            found.0,
            found.1 as f64 / 1e6,
            settled
                .iter()
                .map(|(x, lag)| format!("{x:.3} s ({:.2} MB)", *lag as f64 / 1e6))
                .collect::<Vec<_>>()
                .join(", "),
            s[s.len() / 2]
        );
    }
    Ok(())
}
