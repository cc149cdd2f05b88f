//! `ember-coordinator`: the compile-budget service (`serve`, the default),
//! and `bench`, its load generator.
//!
//! Configuration: defaults, then `--config FILE` (TOML; `--print-config`
//! shows every key), then `EMBER_COORDINATOR_*` variables, then flags.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::loadgen::{BenchConfig, run as run_bench};
use crate::service::serve;
use crate::settings::CoordinatorSettings;
use anyhow::Context;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "ember-coordinator", version, about = "Ember's compile-budget coordinator")]
struct Cli {
    /// TOML config file (every key: --print-config).
    #[arg(long, env = "EMBER_COORDINATOR_CONFIG", global = true)]
    config: Option<PathBuf>,
    /// gRPC listen address (port 0: any free port).
    #[arg(long, env = "EMBER_COORDINATOR_LISTEN", global = true)]
    listen: Option<SocketAddr>,
    /// Prometheus /metrics listen address.
    #[arg(long, env = "EMBER_COORDINATOR_METRICS_LISTEN", global = true)]
    metrics_listen: Option<SocketAddr>,
    /// Bearer token SetBudget requires.
    #[arg(long, env = "EMBER_COORDINATOR_ADMIN_TOKEN", hide_env_values = true, global = true)]
    admin_token: Option<String>,
    /// Cluster-wide concurrent compiles.
    #[arg(long, env = "EMBER_COORDINATOR_MAX_CONCURRENT", global = true)]
    max_concurrent: Option<u32>,
    /// Compile CPU milliseconds per second, cluster-wide.
    #[arg(long, env = "EMBER_COORDINATOR_CPU_MS_PER_S", global = true)]
    cpu_ms_per_s: Option<f64>,
    /// Lease time-to-live, ms.
    #[arg(long, env = "EMBER_COORDINATOR_LEASE_TTL_MS", global = true)]
    lease_ttl_ms: Option<u64>,
    /// Turn pioneers off.
    #[arg(long, env = "EMBER_COORDINATOR_NO_PIONEER", global = true)]
    no_pioneer: bool,
    /// Print the effective configuration as TOML and exit.
    #[arg(long)]
    print_config: bool,
    #[command(subcommand)]
    command: Option<Cmd>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Serve (the default).
    Serve,
    /// Load-test a coordinator: a running one (--target) or one started in
    /// this process with the configured budget.
    Bench {
        /// Concurrent clients.
        #[arg(long, default_value_t = 64)]
        clients: usize,
        /// Seconds to run.
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
        /// Nodes the clients play.
        #[arg(long, default_value_t = 8)]
        nodes: usize,
        /// Distinct function keys.
        #[arg(long, default_value_t = 1000)]
        keys: usize,
        /// Longest hold of a lease, µs.
        #[arg(long, default_value_t = 200)]
        max_hold_us: u64,
        /// A running coordinator (http://host:port); default: in process.
        #[arg(long)]
        target: Option<String>,
        /// HTTP/2 connections the clients share.
        #[arg(long, default_value_t = 8)]
        connections: usize,
        /// Also write the report as JSON.
        #[arg(long)]
        json: Option<PathBuf>,
    },
}

fn settings(cli: &Cli) -> anyhow::Result<CoordinatorSettings> {
    let mut s = match &cli.config {
        Some(p) => CoordinatorSettings::load(p).map_err(anyhow::Error::msg)?,
        None => CoordinatorSettings::default(),
    };
    if let Some(l) = cli.listen {
        s.listen = l;
    }
    if cli.metrics_listen.is_some() {
        s.metrics_listen = cli.metrics_listen;
    }
    if cli.admin_token.is_some() {
        s.admin_token = cli.admin_token.clone();
    }
    if let Some(v) = cli.max_concurrent {
        s.budget.max_concurrent = v;
    }
    if let Some(v) = cli.cpu_ms_per_s {
        s.budget.cpu_ms_per_s = v;
    }
    if let Some(v) = cli.lease_ttl_ms {
        s.budget.lease_ttl_ms = v;
    }
    if cli.no_pioneer {
        s.budget.pioneer = false;
    }
    s.budget.validate().map_err(anyhow::Error::msg)?;
    Ok(s)
}

/// The `ember-coordinator` program: parses `args` (the first item is the program
/// name) and runs until shutdown. Exits the process on a bad command line
/// or a fatal error, with the message on stderr. The binary is a one-line
/// wrapper; `ember-sim` runs this too, in a child process of its own.
pub fn main_with_args<I, T>(args: I)
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = Cli::parse_from(args);
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    runtime.block_on(ember_telemetry::run("ember-coordinator", run(cli)));
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let s = settings(&cli)?;
    if cli.print_config {
        let mut shown = s.clone();
        if shown.admin_token.is_some() {
            shown.admin_token = Some("<redacted>".into());
        }
        print!("{}", shown.to_toml());
        return Ok(());
    }
    match cli.command {
        None | Some(Cmd::Serve) => {
            if let Some(addr) = s.metrics_listen {
                metrics_exporter_prometheus::PrometheusBuilder::new()
                    .with_http_listener(addr)
                    .install()
                    .with_context(|| format!("metrics listener on {addr}"))?;
            }
            let listener = tokio::net::TcpListener::bind(s.listen).await.with_context(|| format!("binding {}", s.listen))?;
            let bound = listener.local_addr()?;
            println!(
                "ember-coordinator ready: grpc={bound} metrics={} max_concurrent={} cpu_ms_per_s={} pioneer={}",
                s.metrics_listen.map_or("off".to_string(), |a| a.to_string()),
                s.budget.max_concurrent,
                s.budget.cpu_ms_per_s,
                s.budget.pioneer
            );
            tracing::info!(grpc = %bound, "serving");
            serve(s.budget.clone(), s.admin_token.clone(), listener, ember_telemetry::shutdown_signal()).await?;
            tracing::info!("stopped");
            Ok(())
        }
        Some(Cmd::Bench { clients, seconds, nodes, keys, max_hold_us, target, connections, json }) => {
            let cfg = BenchConfig { clients, seconds, nodes, keys, max_hold_us };
            let (addr, server) = match target {
                Some(t) => (t, None),
                None => {
                    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
                    let addr = format!("http://{}", listener.local_addr()?);
                    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
                    let s = s.clone();
                    let h = tokio::spawn(async move {
                        serve(s.budget.clone(), s.admin_token.clone(), listener, async {
                            let _ = rx.await;
                        })
                        .await
                    });
                    (addr, Some((tx, h)))
                }
            };
            eprintln!("bench: {clients} clients for {seconds} s against {addr}{}", if server.is_some() { " (in process)" } else { "" });
            let mut channels = Vec::new();
            for _ in 0..connections.clamp(1, clients.max(1)) {
                channels.push(
                    tonic::transport::Channel::from_shared(addr.clone())?
                        .connect()
                        .await
                        .with_context(|| format!("connecting to {addr}"))?,
                );
            }
            let report = run_bench(channels, cfg).await?;
            println!("{report}");
            if let Some(path) = json {
                std::fs::write(&path, serde_json::to_string_pretty(&report)?)?;
                println!("wrote {}", path.display());
            }
            if let Some((tx, h)) = server {
                let _ = tx.send(());
                h.await??;
            }
            if report.violations > 0 {
                anyhow::bail!("{} budget violations", report.violations);
            }
            Ok(())
        }
    }
}
