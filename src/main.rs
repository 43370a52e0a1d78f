//! The `velocity` binary: a Debezium-compatible Kafka Connect worker.

mod registry;
mod tail;

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use velocity_runtime::logging::LogControl;

/// mimalloc instead of glibc's malloc: a change event is built from many small
/// allocations (row values, offsets, the source block) that die within
/// milliseconds; glibc spent over a third of the task thread's time in
/// malloc/free in the PostgreSQL backlog benchmark (bench/postgres/run.sh).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Velocity: change data capture and Kafka Connect, compatible with Debezium
/// and the Kafka Connect REST API.
#[derive(Parser)]
#[command(name = "velocity", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a standalone worker, like Kafka's `connect-standalone`: offsets in
    /// the file named by `offset.storage.file.filename`, REST API on
    /// `listeners` (default http://:8083). Stop with Ctrl-C or SIGTERM;
    /// tasks then flush their offsets.
    Standalone {
        /// Worker properties (bootstrap.servers, key.converter,
        /// value.converter, offset.storage.file.filename, listeners, …).
        worker_properties: PathBuf,
        /// Connector configs to create or update at start: `.json`
        /// (`{"name":…,"config":{…}}` or a flat object) or `.properties`.
        connector_configs: Vec<PathBuf>,
    },
    /// Run a distributed worker, like Kafka's `connect-distributed`:
    /// connectors and source offsets in Kafka Connect's config and offsets
    /// topics (`group.id`, `config.storage.topic`, `offset.storage.topic`,
    /// `status.storage.topic`), created through the REST API. This version
    /// runs one worker per group (no group membership yet).
    Distributed {
        /// Worker properties.
        worker_properties: PathBuf,
    },
    /// List the plugins this binary ships (class, type, aliases).
    Plugins,
    /// Print the records of Kafka topics, one JSON line each
    /// (`{"topic","partition","offset","key","value"}`), from the beginning,
    /// like `kafka-console-consumer --from-beginning`.
    Tail {
        /// Broker addresses.
        #[arg(
            long,
            default_value = "127.0.0.1:59092",
            env = "VELOCITY_KAFKA_BOOTSTRAP"
        )]
        bootstrap_servers: String,
        /// Stop after this many records (default: run until Ctrl-C or --idle-ms).
        #[arg(long)]
        max_records: Option<usize>,
        /// Stop after this many milliseconds without a new record.
        #[arg(long)]
        idle_ms: Option<u64>,
        /// Print only `records=N key_bytes=K value_bytes=V` at the end (bytes as stored, e.g. for benchmarks).
        #[arg(long)]
        summary: bool,
        /// Topics to read.
        #[arg(required = true)]
        topics: Vec<String>,
    },
}

/// mimalloc settings applied unless the environment already sets them:
/// commit arena memory on demand and return freed pages after 10 ms instead
/// of 1 s. The PostgreSQL backlog benchmark peaked at 59–74 MB RSS with the
/// defaults and at 39–42 MB with these, at the same rate.
const ALLOCATOR_TUNING: [(&str, &str); 2] = [
    ("MIMALLOC_ARENA_EAGER_COMMIT", "0"),
    ("MIMALLOC_PURGE_DELAY", "10"),
];

/// Set in the environment of the re-executed process (and by users who want
/// the allocator's own defaults): the tuning step is skipped.
const ALLOCATOR_TUNED: &str = "VELOCITY_ALLOCATOR_TUNED";

/// Applies [`ALLOCATOR_TUNING`]. mimalloc reads its options from the
/// environment once, before `main` runs (the Rust runtime allocates first),
/// and setting them through its C API would need `unsafe`; so the process
/// re-executes itself once, with the same arguments and pid, and the options
/// in its environment. Returns (and the process runs untuned) only when that
/// is impossible, e.g. the executable is gone.
#[cfg(unix)]
fn tune_allocator() {
    use std::os::unix::process::CommandExt;
    if std::env::var_os(ALLOCATOR_TUNED).is_some()
        || ALLOCATOR_TUNING
            .iter()
            .all(|(k, _)| std::env::var_os(k).is_some())
    {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let mut args = std::env::args_os();
    let mut cmd = std::process::Command::new(exe);
    if let Some(arg0) = args.next() {
        cmd.arg0(arg0);
    }
    cmd.args(args).env(ALLOCATOR_TUNED, "1");
    for (k, v) in ALLOCATOR_TUNING {
        if std::env::var_os(k).is_none() {
            cmd.env(k, v);
        }
    }
    // only returns on failure; the untuned process then goes on
    let _ = cmd.exec();
}

fn main() -> anyhow::Result<()> {
    #[cfg(unix)]
    tune_allocator();
    let cli = Cli::parse();
    match cli.command {
        Command::Plugins => {
            for p in registry::registry().all() {
                println!(
                    "{:<10} {:<70} {}",
                    p.kind.type_name(),
                    p.class,
                    p.aliases.join(", ")
                );
            }
            Ok(())
        }
        Command::Tail {
            bootstrap_servers,
            max_records,
            idle_ms,
            summary,
            topics,
        } => tail::run(
            &bootstrap_servers,
            &topics,
            max_records,
            idle_ms.map(std::time::Duration::from_millis),
            summary,
        ),
        Command::Distributed { worker_properties } => {
            let logs = LogControl::init();
            let worker = read_worker_properties(&worker_properties)?;
            block_on(velocity_runtime::distributed::worker::run(
                worker,
                registry::registry(),
                logs,
                shutdown_signal(),
                None,
            ))
        }
        Command::Standalone {
            worker_properties,
            connector_configs,
        } => {
            let logs = LogControl::init();
            let worker = read_worker_properties(&worker_properties)?;
            let connectors = connector_configs
                .iter()
                .map(|p| velocity_runtime::standalone::load_connector_file(p))
                .collect::<Result<Vec<_>, _>>()?;
            block_on(velocity_runtime::standalone::run(
                worker,
                connectors,
                registry::registry(),
                logs,
                shutdown_signal(),
                None,
            ))
        }
    }
}

/// Runs a worker on a multi-threaded Tokio runtime until it returns.
fn block_on(
    worker: impl std::future::Future<Output = velocity_runtime::Result<()>>,
) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(worker)?;
    Ok(())
}

fn read_worker_properties(path: &std::path::Path) -> anyhow::Result<velocity_api::RawConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading worker properties {}", path.display()))?;
    Ok(velocity_runtime::properties::parse(&text))
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(t) => t,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
