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
        /// Topics to read.
        #[arg(required = true)]
        topics: Vec<String>,
    },
}

fn main() -> anyhow::Result<()> {
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
            topics,
        } => tail::run(
            &bootstrap_servers,
            &topics,
            max_records,
            idle_ms.map(std::time::Duration::from_millis),
        ),
        Command::Standalone {
            worker_properties,
            connector_configs,
        } => {
            let logs = LogControl::init();
            let text = std::fs::read_to_string(&worker_properties).with_context(|| {
                format!("reading worker properties {}", worker_properties.display())
            })?;
            let worker = velocity_runtime::properties::parse(&text);
            let connectors = connector_configs
                .iter()
                .map(|p| velocity_runtime::standalone::load_connector_file(p))
                .collect::<Result<Vec<_>, _>>()?;
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            rt.block_on(async move {
                velocity_runtime::standalone::run(
                    worker,
                    connectors,
                    registry::registry(),
                    logs,
                    shutdown_signal(),
                    None,
                )
                .await
            })?;
            Ok(())
        }
    }
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
