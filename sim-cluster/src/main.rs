//! `ember-sim`: an Ember cluster on one machine.
//!
//! - no arguments: the demo — a coordinator and three nodes warm up on the
//!   built-in workload, then a cold node and, after it, a gossip-warmed
//!   node join and are driven identically; a side-by-side table and a
//!   report with charts;
//! - `run SCENARIO.toml`: any scenario (joins, restarts, `kill -9`,
//!   coordinator loss, workload shifts, policy changes), same report;
//! - `check SCENARIO.toml`: validate a scenario without running it;
//! - `workload NAME`: print a built-in workload's Lua source;
//! - `model --nodes 100,300,1000`: many gossip members in one process.
//!
//! Nodes and the coordinator are child processes running this executable
//! (`ember-sim node ...` is `ember-node ...`, `ember-sim coordinator ...`
//! is `ember-coordinator ...`), killed on exit, Ctrl-C or failure.

mod catalog;
mod charts;
mod cluster;
mod drive;
mod model;
mod observe;
mod procs;
mod report;
mod run;
mod scenario;

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use crate::scenario::Scenario;

#[derive(Parser)]
#[command(
    name = "ember-sim",
    version,
    about = "Runs an Ember cluster on this machine: the warm-start demo (no arguments), scenarios with faults, and a large-N gossip model",
    after_help = "Nodes and the coordinator run as child processes of this executable \
                  (`ember-sim node ARGS` runs ember-node, `ember-sim coordinator ARGS` runs ember-coordinator). \
                  Reports (summary.json, table.txt, SVG and PNG charts) go to --report, by default target/ember-sim/NAME."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Cmd>,
    #[command(flatten)]
    out: Output,
}

#[derive(Args, Clone)]
struct Output {
    /// Shorter phases (the test suite's mode: under 45 s).
    #[arg(long, global = true)]
    quick: bool,
    /// Report directory (default: target/ember-sim/<scenario name>).
    #[arg(long, global = true)]
    report: Option<PathBuf>,
    /// Also write summary.json here.
    #[arg(long, global = true)]
    json: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run a scenario file.
    Run { scenario: PathBuf },
    /// Check scenario files and print their phases, without running them.
    Check {
        #[arg(required = true)]
        scenarios: Vec<PathBuf>,
    },
    /// Print a built-in workload's Lua source (`shop`, `catalog`), to read
    /// it or run it elsewhere (e.g. under lua5.4).
    Workload { name: String },
    /// Many gossip members in one process: convergence, bandwidth and
    /// budget fairness against cluster size.
    Model {
        /// Cluster sizes, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "100,300,1000")]
        nodes: Vec<usize>,
        /// Probability that a gossip message is lost (0..1).
        #[arg(long, default_value_t = 0.0)]
        loss: f64,
        /// One-way message latency, ms.
        #[arg(long, default_value_t = 2)]
        latency_ms: u64,
        /// Gossip interval, ms.
        #[arg(long, default_value_t = 200)]
        interval_ms: u64,
        /// Hot-function profiles each member publishes.
        #[arg(long, default_value_t = 8)]
        functions_per_node: usize,
        /// Give up on a convergence after this many seconds of gossip time.
        #[arg(long, default_value_t = 120)]
        timeout_s: u64,
    },
}

// The simulator's children are this executable running a node or the
// coordinator, so they get the allocator those binaries use.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    // The child roles come first: they are other programs' command lines.
    let argv: Vec<OsString> = std::env::args_os().collect();
    let rest = || argv.iter().skip(2).cloned();
    match argv.get(1).and_then(|a| a.to_str()) {
        Some("node") => return ember_node::cli::main_with_args(std::iter::once(OsString::from("ember-node")).chain(rest())),
        Some("coordinator") => {
            return ember_coordinator::cli::main_with_args(std::iter::once(OsString::from("ember-coordinator")).chain(rest()));
        }
        _ => {}
    }
    let cli = Cli::parse();
    // One thread: children are spawned from it (see procs.rs), and model
    // mode pauses tokio's clock, which needs a current-thread runtime.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
    let result = runtime.block_on(async {
        tokio::select! {
            r = main_async(cli) => r,
            _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted; child processes stopped")),
        }
    });
    // Whatever happened, the run future is dropped by now, and with it
    // every child process.
    if let Err(e) = result {
        eprintln!("ember-sim: {e:#}");
        std::process::exit(1);
    }
}

async fn main_async(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        None => {
            let s = Scenario::parse(scenario::DEMO, Path::new(".")).map_err(anyhow::Error::msg)?;
            simulate(s, &cli.out).await
        }
        Some(Cmd::Run { scenario }) => {
            let s = Scenario::load(&scenario).map_err(anyhow::Error::msg)?;
            simulate(s, &cli.out).await
        }
        Some(Cmd::Check { scenarios }) => {
            let mut bad = 0;
            for path in scenarios {
                match Scenario::load(&path) {
                    Ok(s) => {
                        println!("{}: ok — '{}', {} phases:", path.display(), s.name, s.phases.len());
                        for (i, p) in s.phases.iter().enumerate() {
                            println!("  {:>2}. {}", i + 1, p.label());
                        }
                    }
                    Err(e) => {
                        eprintln!("{e}");
                        bad += 1;
                    }
                }
            }
            anyhow::ensure!(bad == 0, "{bad} invalid scenario file(s)");
            Ok(())
        }
        Some(Cmd::Workload { name }) => {
            let src = scenario::builtin_source(&name)
                .ok_or_else(|| anyhow::anyhow!("no built-in workload '{name}' (there are: {})", scenario::BUILTINS.join(", ")))?;
            print!("{src}");
            Ok(())
        }
        Some(Cmd::Model { nodes, loss, latency_ms, interval_ms, functions_per_node, timeout_s }) => {
            anyhow::ensure!((0.0..1.0).contains(&loss), "--loss {loss}: a probability below 1");
            anyhow::ensure!(!nodes.is_empty() && nodes.iter().all(|&n| (2..=5000).contains(&n)), "--nodes: sizes between 2 and 5000");
            anyhow::ensure!(interval_ms >= 10, "--interval-ms: at least 10");
            let cfg = model::ModelConfig { nodes, loss, latency_ms, interval_ms, functions_per_node, timeout_s };
            let rows = model::run(&cfg, |m| eprintln!("{m}")).await?;
            let table = model::table(&rows, &cfg);
            print!("{table}");
            let dir = cli.out.report.clone().unwrap_or_else(|| default_report_dir("model"));
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            let summary = serde_json::json!({ "config": { "loss": cfg.loss, "latency_ms": cfg.latency_ms, "interval_ms": cfg.interval_ms, "functions_per_node": cfg.functions_per_node }, "rows": rows });
            write_summary(&dir, &cli.out, &summary, &table)?;
            let files = charts::model(&rows, &dir)?;
            println!("report: {} ({})", dir.display(), names(&files));
            Ok(())
        }
    }
}

async fn simulate(s: Scenario, out: &Output) -> anyhow::Result<()> {
    let s = if out.quick { s.scaled(0.25) } else { s };
    let dir = out.report.clone().unwrap_or_else(|| default_report_dir(&s.name));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let run_dir = procs::run_dir(&dir)?;
    let log = run::run(s, run_dir).await?;
    let report = report::analyze(&log);
    let table = report::table(&report);
    println!("\n{}", log.scenario.description.trim());
    print!("\n{table}");
    write_summary(&dir, out, &report.summary, &table)?;
    write_requests(&dir, &log)?;
    let files = charts::write_all(&log, &dir)?;
    println!("report: {} (summary.json, table.txt, requests.csv, {}; process logs in run/logs)", dir.display(), names(&files));
    Ok(())
}

fn write_summary(dir: &Path, out: &Output, summary: &serde_json::Value, table: &str) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(summary)?;
    std::fs::write(dir.join("summary.json"), &text)?;
    std::fs::write(dir.join("table.txt"), table)?;
    if let Some(path) = &out.json {
        std::fs::write(path, &text).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// Every request of the run, one line each (`node,t_s,latency_us,ok`,
/// by node and completion time), for analysis beyond the summary.
fn write_requests(dir: &Path, log: &run::RunLog) -> anyhow::Result<()> {
    use std::io::Write;
    let path = dir.join("requests.csv");
    let mut w = std::io::BufWriter::new(std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?);
    writeln!(w, "node,t_s,latency_us,ok")?;
    for (node, samples) in &log.samples {
        for s in samples {
            writeln!(w, "{node},{:.6},{},{}", s.t, s.latency_us, u8::from(s.ok))?;
        }
    }
    w.flush().with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

fn default_report_dir(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| PathBuf::from("target"), PathBuf::from);
    target.join("ember-sim").join(name)
}

fn names(files: &[PathBuf]) -> String {
    files.iter().filter_map(|f| f.file_name().and_then(|n| n.to_str())).collect::<Vec<_>>().join(", ")
}
