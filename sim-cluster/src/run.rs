//! Runs a scenario: start the cluster, check the mix against it, then walk
//! the phases — load phases wait out their duration while sampling and
//! showing progress; events (join, restart, kill, coordinator loss, shift,
//! policy) happen between them while the load goes on. What happened is
//! returned as a [`RunLog`] for the report.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

use crate::cluster::{ClientSlot, Cluster};
use crate::drive::{Driver, Mix, Sample};
use crate::observe::Observer;
use crate::scenario::{Phase, Scenario};

/// A node coming (back) into service: its warm-up is measured from `t`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ServiceStart {
    pub node: String,
    /// `join`, `restart` or `kill`.
    pub cause: String,
    pub warm_start: bool,
    pub policy: String,
    /// Seconds since the run started when the node was serving.
    pub t: f64,
    /// How long the node took from process start to serving, and of that
    /// how long it spent hearing the cluster's profiles and compiling them
    /// (the same wait for every node, warm start on or off).
    pub start_s: f64,
    pub warm_compile_s: f64,
    /// Functions at tier ≥ 1 before its first request.
    pub compiled_before_first_request: usize,
}

/// A phase boundary, for charts.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Mark {
    pub t: f64,
    pub label: String,
}

pub struct RunLog {
    pub scenario: Scenario,
    pub samples: BTreeMap<String, Vec<Sample>>,
    pub observer: Observer,
    pub starts: Vec<ServiceStart>,
    pub marks: Vec<Mark>,
    pub duration_s: f64,
    pub final_coordinator: Option<ember_proto::coordinator::CoordinatorState>,
}

/// How often load phases sample the processes and refresh progress.
const TICK: Duration = Duration::from_millis(250);

pub async fn run(s: Scenario, dir: std::path::PathBuf) -> anyhow::Result<RunLog> {
    let mut cluster = Cluster::new(&s, dir)?;
    let mut observer = Observer::default();
    let mut marks = Vec::new();
    let mut starts = Vec::new();

    note(&format!("scenario '{}': {} phases, {:.0} s of load", s.name, s.phases.len(), s.phases.iter().map(Phase::seconds).sum::<f64>()));
    if cluster.coordinator_addr.is_some() {
        cluster.start_coordinator().await?;
    }
    for i in 1..=s.cluster.nodes {
        cluster.add_node(&format!("n{i}"), &s.cluster.policy, true).await?;
    }
    note(&format!(
        "cluster up: {} nodes{} after {:.1} s",
        s.cluster.nodes,
        if cluster.coordinator.is_some() { " + coordinator" } else { "" },
        cluster.now()
    ));

    let default_module = s.modules[0].name.clone();
    let mix = Mix::new(&s.mix[&s.initial_mix], &default_module);
    check_mix(&cluster, &mix, &s.initial_mix).await?;
    for (name, entries) in &s.mix {
        if name != &s.initial_mix {
            check_mix(&cluster, &Mix::new(entries, &default_module), name).await?;
        }
    }
    let mut driver = Driver::new(cluster.t0, mix);

    for (i, phase) in s.phases.iter().enumerate() {
        let label = format!("[{}/{}] {}", i + 1, s.phases.len(), phase.label());
        marks.push(Mark { t: cluster.now(), label: phase.label() });
        match phase {
            Phase::Ramp { seconds, clients, nodes } => {
                let targets = nodes.clone().unwrap_or_else(|| cluster.live_nodes());
                let bar = bar(&label, *seconds);
                let start = cluster.now();
                while cluster.now() - start < *seconds {
                    let frac = (cluster.now() - start) / seconds;
                    let n = 1 + ((*clients - 1) as f64 * frac).round() as usize;
                    set_load(&mut driver, &cluster, &targets, n);
                    tick(&mut observer, &cluster, &driver, &bar, start).await;
                }
                bar.finish();
            }
            Phase::Steady { seconds, clients, nodes, until_warm } => {
                let targets = nodes.clone().unwrap_or_else(|| cluster.live_nodes());
                set_load(&mut driver, &cluster, &targets, *clients);
                let bar = bar(&label, *seconds);
                let start = cluster.now();
                while cluster.now() - start < *seconds {
                    tick(&mut observer, &cluster, &driver, &bar, start).await;
                    if *until_warm
                        && warmed_up(&driver, &targets, cluster.now(), cluster.now() - start, *seconds)
                        && compiles_settled(&observer, &targets, cluster.now())
                    {
                        let msg = format!(
                            "  throughput has stopped rising and compiles have stopped after {:.1} s: the cluster is warm",
                            cluster.now() - start
                        );
                        if bar.is_hidden() {
                            note(&msg)
                        } else {
                            bar.println(msg)
                        }
                        break;
                    }
                }
                bar.finish();
            }
            Phase::Join { node, warm_start, policy } => {
                note(&label);
                let policy = policy.clone().unwrap_or_else(|| s.cluster.policy.clone());
                let t = cluster.now();
                cluster.add_node(node, &policy, *warm_start).await?;
                starts.push(serving(&cluster, node, "join", t).await?);
            }
            Phase::Restart { node } => {
                note(&label);
                cluster.stop_node(node).await?;
                let t = cluster.now();
                cluster.start_node(node).await?;
                starts.push(serving(&cluster, node, "restart", t).await?);
            }
            Phase::Stop { node } => {
                note(&label);
                // Unlike a crash, a planned stop takes the node out of the
                // load first: in-flight requests finish (SIGTERM drains).
                let remaining: Vec<(String, usize)> = driver.load().into_iter().filter(|(n, _)| n != node).collect();
                let targets: BTreeMap<String, (usize, ClientSlot)> =
                    remaining.into_iter().filter_map(|(n, c)| cluster.nodes.get(&n).map(|h| (n.clone(), (c, h.client.clone())))).collect();
                driver.set_load(&targets);
                cluster.stop_node(node).await?;
            }
            Phase::Kill { node, restart_after_s } => {
                note(&label);
                cluster.kill_node(node)?;
                if let Some(after) = restart_after_s {
                    let bar = bar(&format!("  {node} is down"), *after);
                    let start = cluster.now();
                    while cluster.now() - start < *after {
                        tick(&mut observer, &cluster, &driver, &bar, start).await;
                    }
                    bar.finish();
                    let t = cluster.now();
                    cluster.start_node(node).await?;
                    starts.push(serving(&cluster, node, "kill", t).await?);
                }
            }
            Phase::CoordinatorDown => {
                note(&label);
                cluster.kill_coordinator();
            }
            Phase::CoordinatorUp => {
                note(&label);
                cluster.start_coordinator().await?;
            }
            Phase::Shift { mix } => {
                note(&label);
                driver.set_mix(Mix::new(&s.mix[mix], &default_module));
            }
            Phase::Policy { nodes, set } => {
                note(&label);
                for n in nodes.clone().unwrap_or_else(|| cluster.live_nodes()) {
                    cluster.set_policy(&n, set).await?;
                }
            }
        }
    }
    driver.stop_all();
    // Let in-flight requests land and take the final counters.
    tokio::time::sleep(Duration::from_millis(300)).await;
    observer.sample(&cluster).await;
    let final_coordinator = match cluster.coordinator_client().await {
        Some(mut c) => c.get_state(ember_proto::coordinator::GetStateRequest {}).await.ok().map(|r| r.into_inner()),
        None => None,
    };
    let duration_s = cluster.now();
    let samples = driver.recorder.snapshot();
    note(&format!("run finished after {duration_s:.1} s; stopping processes"));
    drop(cluster);
    Ok(RunLog { scenario: s, samples, observer, starts, marks, duration_s, final_coordinator })
}

/// Every function of a mix answers on the first node, so a typo fails the
/// run at once with the Lua error instead of as a run full of errors.
async fn check_mix(cluster: &Cluster, mix: &Mix, name: &str) -> anyhow::Result<()> {
    let first = cluster.live_nodes().into_iter().next().context("no live node")?;
    let mut client = cluster.client(&first).context("first node is down")?;
    for req in mix.probes() {
        let what = format!("mix.{name}: {}.{}", req.module, req.function);
        let r = client.invoke(req).await.map_err(|s| anyhow::anyhow!("{what}: {}", s.message()))?.into_inner();
        if let Some(e) = r.error {
            anyhow::bail!("{what} fails: {}", e.message);
        }
    }
    Ok(())
}

/// After a (re)start: wait for the warm-start compiles (as a node behind a
/// readiness check would), then record what it had compiled.
async fn serving(cluster: &Cluster, node: &str, cause: &str, t_start: f64) -> anyhow::Result<ServiceStart> {
    let view = cluster.wait_cluster_view(node, Duration::from_secs(5)).await;
    // Bounded by real compile work only, so the bound can be generous.
    let warm = view + cluster.wait_compiles_settled(node, Duration::from_secs(30)).await;
    let compiled = cluster.compiled_functions(node).await?;
    let n = &cluster.nodes[node];
    let t = cluster.now();
    note(&format!(
        "  {node} serving after {:.2} s ({:.2} s of it hearing the cluster and warm-start compiles): {compiled} functions compiled before its first request",
        t - t_start,
        warm.as_secs_f64()
    ));
    Ok(ServiceStart {
        node: node.to_string(),
        cause: cause.to_string(),
        warm_start: n.warm_start,
        policy: n.policy.clone(),
        t,
        start_s: t - t_start,
        warm_compile_s: warm.as_secs_f64(),
        compiled_before_first_request: compiled,
    })
}

fn set_load(driver: &mut Driver, cluster: &Cluster, targets: &[String], clients: usize) {
    let load = targets.iter().filter_map(|n| cluster.nodes.get(n).map(|h| (n.clone(), (clients, h.client.clone())))).collect();
    driver.set_load(&load);
}

async fn tick(observer: &mut Observer, cluster: &Cluster, driver: &Driver, bar: &ProgressBar, start: f64) {
    let started = std::time::Instant::now();
    observer.sample(cluster).await;
    let now = cluster.now();
    let rates = driver.recorder.rates(now, 1.0);
    let leases = observer.coordinator.last().filter(|c| c.up).map(|c| format!(" · leases {}/{}", c.active, c.limit)).unwrap_or_default();
    let msg = rates.iter().filter(|(_, r)| **r > 0.0).map(|(n, r)| format!("{n} {r:.0}/s")).collect::<Vec<_>>().join(" · ");
    bar.set_message(format!("{msg}{leases}"));
    bar.set_position(((now - start) * 10.0) as u64);
    if let Some(left) = TICK.checked_sub(started.elapsed()) {
        tokio::time::sleep(left).await;
    }
}

/// Throughput over the last 2 s within 5% of the 2 s before, after at
/// least a quarter of the phase: the cluster has stopped getting faster.
fn warmed_up(driver: &Driver, targets: &[String], now: f64, elapsed: f64, seconds: f64) -> bool {
    if elapsed < (seconds / 4.0).max(4.0) {
        return false;
    }
    let samples = driver.recorder.snapshot();
    let count = |from: f64, to: f64| -> usize {
        targets.iter().filter_map(|n| samples.get(n)).map(|v| v.iter().filter(|s| s.ok && s.t >= from && s.t < to).count()).sum()
    };
    let recent = count(now - 2.0, now) as f64;
    let before = count(now - 4.0, now - 2.0) as f64;
    before > 0.0 && recent <= before * 1.05
}

/// No target compiled anything over the last two seconds. Throughput can
/// level off while nodes are still compiling their long tail; a node
/// joining then would compete with them for the compile budget, and the
/// cold/warm comparison would measure that contention.
fn compiles_settled(observer: &crate::observe::Observer, targets: &[String], now: f64) -> bool {
    targets.iter().all(|n| {
        let Some(points) = observer.nodes.get(n) else { return false };
        let compiles = |p: &crate::observe::NodePoint| p.compiles_t1 + p.compiles_t2;
        match (points.iter().find(|p| p.t >= now - 2.0), points.last()) {
            (Some(old), Some(new)) => new.t - old.t >= 1.5 && compiles(old) == compiles(new),
            _ => false,
        }
    })
}

fn bar(label: &str, seconds: f64) -> ProgressBar {
    let b = ProgressBar::new((seconds * 10.0) as u64);
    b.set_style(ProgressStyle::with_template("{prefix} [{bar:30}] {elapsed:>4} {msg}").expect("template").progress_chars("=> "));
    b.set_prefix(label.to_string());
    if b.is_hidden() {
        eprintln!("{label}");
    }
    b
}

fn note(s: &str) {
    eprintln!("{s}");
}
