//! Model mode: hundreds of gossip members in one process, to see how the
//! protocol scales before anyone runs that many nodes.
//!
//! Every member is a real chitchat instance carrying real profile values:
//! compact profiles the engine produced from the built-in workload, encoded
//! and HMAC-signed exactly as a node publishes them. Members talk over an
//! in-process transport with configurable message loss and latency. Time is
//! tokio's paused clock, which jumps ahead whenever every member is idle:
//! convergence is measured in gossip time, not in how fast this machine
//! simulates it, and a 1000-member run takes seconds of wall time per
//! simulated second.
//!
//! Measured per cluster size: time until every member has the cluster's
//! membership; time for a new hot-function profile to reach every member;
//! the same for a speculation outcome (an updated profile value); gossip
//! bytes per member per second in steady state; and, over the
//! coordinator's budget core, how fairly compile leases are shared when
//! every member wants to compile at once.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chitchat::transport::{ChannelTransport, RecvOutcome, SendOutcome, Socket, Transport};
use chitchat::{ChitchatConfig, ChitchatEnvelope, ChitchatHandle, ChitchatId, FailureDetectorConfig, ProtocolVersion, spawn_chitchat};
use ember_engine::{CompactProfile, Engine, GuardKind, LuaValue, SpeculationOutcome};
use ember_node::codec::{Origin, encode};
use ember_node::publish::key_name;
use ember_node::signing::{Place, Signer};
use serde::Serialize;
use tokio::time::Instant;

use crate::drive::XorShift;

#[derive(Clone, Debug)]
pub struct ModelConfig {
    pub nodes: Vec<usize>,
    /// Probability that a message is lost.
    pub loss: f64,
    /// One-way latency of every message.
    pub latency_ms: u64,
    pub interval_ms: u64,
    /// Hot-function profiles every member publishes.
    pub functions_per_node: usize,
    /// Give up on a convergence after this much gossip time.
    pub timeout_s: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct ModelRow {
    pub nodes: usize,
    pub membership_s: Option<f64>,
    pub profile_convergence_s: Option<f64>,
    pub outcome_convergence_s: Option<f64>,
    pub bytes_per_node_per_s: f64,
    pub value_bytes: usize,
    pub budget_fairness: f64,
    pub budget_max_concurrent: u32,
    pub budget_limit: u32,
    pub wall_s: f64,
}

const CLUSTER: &str = "ember-model";
const SECRET: &[u8] = b"model-secret";

/// Runs every cluster size in turn. Must run on a current-thread runtime:
/// it pauses tokio's clock.
pub async fn run(cfg: &ModelConfig, mut progress: impl FnMut(&str)) -> anyhow::Result<Vec<ModelRow>> {
    let profiles = real_profiles()?;
    progress(&format!(
        "{} real profiles from the shop workload, {} to {} bytes encoded",
        profiles.len(),
        profiles.iter().map(|p| encode(p, None, None).len()).min().unwrap_or(0),
        profiles.iter().map(|p| encode(p, None, None).len()).max().unwrap_or(0)
    ));
    let mut rows = Vec::new();
    for &n in &cfg.nodes {
        let wall = std::time::Instant::now();
        let mut row = one_size(cfg, n, &profiles, &mut progress).await?;
        row.wall_s = wall.elapsed().as_secs_f64();
        progress(&format!("{n} nodes: done in {:.1} s of wall time", row.wall_s));
        rows.push(row);
    }
    Ok(rows)
}

/// Profiles of the built-in workload's functions after some traffic.
fn real_profiles() -> anyhow::Result<Vec<CompactProfile>> {
    let engine = Engine::new();
    engine.load_module("shop", crate::scenario::SHOP_LUA.as_bytes()).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut st = engine.new_state();
    for i in 0..200i64 {
        let calls: [(&str, Vec<LuaValue>); 8] = [
            ("price", vec![LuaValue::Int(10 + i % 20), LuaValue::Float(0.1)]),
            ("checksum", vec![LuaValue::Int(i)]),
            ("route", vec![LuaValue::Int(i)]),
            ("matrix", vec![LuaValue::Int(6)]),
            ("inventory", vec![LuaValue::Int(20)]),
            ("recommend", vec![LuaValue::Int(i)]),
            ("forecast", vec![LuaValue::Int(i), LuaValue::Float(1.01)]),
            ("audit", vec![LuaValue::Int(i + 1)]),
        ];
        for (f, args) in calls {
            st.call_in_module("shop", f, &args).map_err(|e| anyhow::anyhow!("shop.{f}: {e}"))?;
        }
    }
    let p = engine.compact_profiles(16);
    anyhow::ensure!(!p.is_empty(), "the workload produced no profiles");
    Ok(p)
}

fn addr(i: usize) -> SocketAddr {
    SocketAddr::from(([10, (i >> 16) as u8, (i >> 8) as u8, i as u8], 7946))
}

fn seal(signer: &Signer, node: &str, p: &CompactProfile, version: u64) -> (String, String) {
    let key = key_name(p.key);
    let origin = Origin { node: node.to_string(), generation: 1, timestamp_ms: version };
    let bytes = encode(p, Some(&origin), None);
    (key.clone(), signer.seal(Place { node, generation: 1, key: &key }, &bytes))
}

async fn one_size(cfg: &ModelConfig, n: usize, profiles: &[CompactProfile], progress: &mut impl FnMut(&str)) -> anyhow::Result<ModelRow> {
    tokio::time::pause();
    let net = Net::new(cfg.loss, Duration::from_millis(cfg.latency_ms));
    let signer = Signer::new(CLUSTER, Some(SECRET));
    let interval = Duration::from_millis(cfg.interval_ms);
    let seeds: Vec<String> = (0..n.min(3)).map(|i| addr(i).to_string()).collect();
    let mut handles: Vec<ChitchatHandle> = Vec::with_capacity(n);
    let mut value_bytes = 0;
    for i in 0..n {
        let id = format!("m{i}");
        let config = ChitchatConfig {
            chitchat_id: ChitchatId::new(id.clone(), 1, addr(i)),
            cluster_id: CLUSTER.into(),
            gossip_interval: interval,
            listen_addr: addr(i),
            seed_nodes: seeds.clone(),
            failure_detector_config: FailureDetectorConfig { initial_interval: interval, ..FailureDetectorConfig::default() },
            marked_for_deletion_grace_period: Duration::from_secs(3600),
            catchup_callback: None,
            extra_liveness_predicate: None,
            protocol_version: ProtocolVersion::V1,
        };
        let mut initial =
            vec![("schema".to_string(), ember_engine::PROFILE_SCHEMA_VERSION.to_string()), ("ready".to_string(), "1".to_string())];
        // Each member publishes its share of the hot functions.
        for k in 0..cfg.functions_per_node.min(profiles.len()) {
            let (key, value) = seal(&signer, &id, &profiles[(i + k) % profiles.len()], 1);
            value_bytes = value_bytes.max(value.len());
            initial.push((key, value));
        }
        handles.push(spawn_chitchat(config, initial, &net).await?);
    }

    // 1. Membership.
    let start = Instant::now();
    let membership = wait_until(cfg, || all_see_members(&handles, n)).await.map(|d| d.as_secs_f64());
    progress(&format!("{n} nodes: membership converged after {}", secs(membership)));

    // 2. Steady-state bandwidth over 20 gossip rounds.
    let before = net.bytes();
    let window = interval * 20;
    tokio::time::sleep(window).await;
    let bytes_per_node_per_s = (net.bytes() - before) as f64 / n as f64 / window.as_secs_f64();

    // 3. A function newly hot on one member reaches all.
    let fresh = profiles
        .iter()
        .find(|p| !(0..cfg.functions_per_node.min(profiles.len())).any(|k| profiles[k].key == p.key))
        .unwrap_or(&profiles[profiles.len() - 1]);
    let origin = n / 2;
    let (key, value) = seal(&signer, &format!("m{origin}"), fresh, 2);
    handles[origin].with_chitchat(|c| c.self_node_state().set(key.clone(), value.clone())).await;
    let profile = wait_until(cfg, || all_hold(&handles, origin, &key, &value, &signer)).await.map(|d| d.as_secs_f64());
    progress(&format!("{n} nodes: new profile everywhere after {}", secs(profile)));

    // 4. A speculation outcome: the same function's value, updated.
    let mut failed = fresh.clone();
    failed.outcomes.push(SpeculationOutcome { site: 0, kind: GuardKind::OperandType, failures: 8 });
    let (key, value) = seal(&signer, &format!("m{origin}"), &failed, 3);
    handles[origin].with_chitchat(|c| c.self_node_state().set(key.clone(), value.clone())).await;
    let outcome = wait_until(cfg, || all_hold(&handles, origin, &key, &value, &signer)).await.map(|d| d.as_secs_f64());
    progress(&format!("{n} nodes: speculation outcome everywhere after {}", secs(outcome)));
    let _ = start;

    for h in handles {
        let _ = h.shutdown().await;
    }
    tokio::time::resume();
    let (fairness, max_concurrent, limit) = budget_fairness(n);
    Ok(ModelRow {
        nodes: n,
        membership_s: membership,
        profile_convergence_s: profile,
        outcome_convergence_s: outcome,
        bytes_per_node_per_s,
        value_bytes,
        budget_fairness: fairness,
        budget_max_concurrent: max_concurrent,
        budget_limit: limit,
        wall_s: 0.0,
    })
}

fn secs(x: Option<f64>) -> String {
    x.map_or("never (timed out)".into(), |s| format!("{s:.2} s of gossip time"))
}

/// Polls `done` every quarter interval; the gossip time it took, or `None`
/// past the timeout.
async fn wait_until<F, Fut>(cfg: &ModelConfig, mut done: F) -> Option<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    let step = Duration::from_millis((cfg.interval_ms / 4).max(1));
    while start.elapsed() < Duration::from_secs(cfg.timeout_s) {
        if done().await {
            return Some(start.elapsed());
        }
        tokio::time::sleep(step).await;
    }
    None
}

async fn all_see_members(handles: &[ChitchatHandle], n: usize) -> bool {
    for h in handles {
        if h.with_chitchat(|c| c.live_nodes().count()).await < n {
            return false;
        }
    }
    true
}

/// Every member holds `value` under `key` for the origin, and it verifies.
async fn all_hold(handles: &[ChitchatHandle], origin: usize, key: &str, value: &str, signer: &Signer) -> bool {
    let id = handles[origin].chitchat_id().clone();
    for h in handles {
        let held = h.with_chitchat(|c| c.node_state(&id).and_then(|s| s.get(key)).map(str::to_string)).await;
        match held {
            Some(v) if v == value => {}
            _ => return false,
        }
    }
    // What arrived is what was signed.
    signer.open(Place { node: &id.node_id, generation: id.generation_id, key }, value).is_ok()
}

/// Every member asks for compile leases continuously (each holds one for
/// 20-70 ms of simulated time) against the coordinator's budget core for
/// 10 simulated seconds; returns Jain's fairness index of the grants
/// (1.0: perfectly even), the most leases ever held at once, and the limit.
fn budget_fairness(n: usize) -> (f64, u32, u32) {
    use ember_coordinator::budget::{Budget, BudgetConfig, Decision, Priority, Request};
    let config = BudgetConfig::default();
    let limit = config.max_concurrent;
    let mut budget = Budget::new(config, 0);
    let mut rng = XorShift(0x5eed ^ n as u64);
    let mut held: Vec<Option<(u64, u64)>> = vec![None; n];
    let mut retry_at = vec![0u64; n];
    let mut grants = vec![0u64; n];
    let mut max_active = 0;
    let mut next_fn: HashMap<usize, u64> = HashMap::new();
    for now in (0..10_000u64).step_by(5) {
        budget.expire(now);
        for node in 0..n {
            if let Some((lease, until)) = held[node] {
                if now >= until {
                    budget.release(lease, 1.0, "compiled", now);
                    held[node] = None;
                }
                continue;
            }
            if now < retry_at[node] {
                continue;
            }
            let f = next_fn.entry(node).or_insert(0);
            let req = Request { node: format!("m{node}"), key: format!("f{node}-{f}"), tier: 2, cost_ms: 5.0, priority: Priority::Normal };
            match budget.acquire(&req, now) {
                Decision::Granted { lease, .. } => {
                    held[node] = Some((lease, now + 20 + rng.next() % 50));
                    grants[node] += 1;
                    *f += 1;
                }
                Decision::Denied { retry_after_ms, .. } => retry_at[node] = now + retry_after_ms.max(5),
            }
        }
        max_active = max_active.max(budget.active());
    }
    let sum: f64 = grants.iter().map(|&g| g as f64).sum();
    let sq: f64 = grants.iter().map(|&g| (g as f64).powi(2)).sum();
    let jain = if sq > 0.0 { sum * sum / (n as f64 * sq) } else { 0.0 };
    (jain, max_active, limit)
}

/// An in-process network: chitchat's channel transport (which counts the
/// bytes of every message it carries), with loss and latency applied where
/// messages arrive.
#[derive(Clone)]
struct Net {
    channels: ChannelTransport,
    loss: f64,
    latency: Duration,
    rng: Arc<Mutex<XorShift>>,
}

impl Net {
    fn new(loss: f64, latency: Duration) -> Net {
        // UDP's payload limit: what a real node could send.
        Net { channels: ChannelTransport::with_mtu(65_507), loss, latency, rng: Arc::new(Mutex::new(XorShift(0x1234_5678_9abc_def1))) }
    }

    fn bytes(&self) -> u64 {
        self.channels.statistics().num_bytes_total
    }
}

#[async_trait]
impl Transport for Net {
    async fn open(&self, listen_addr: SocketAddr) -> anyhow::Result<Box<dyn Socket>> {
        let inner = self.channels.open(listen_addr).await?;
        Ok(Box::new(NetSocket { net: self.clone(), inner, pending: VecDeque::new() }))
    }
}

struct NetSocket {
    net: Net,
    inner: Box<dyn Socket>,
    /// Arrived, not yet delivered: (due, message).
    pending: VecDeque<(Instant, RecvOutcome)>,
}

#[async_trait]
impl Socket for NetSocket {
    fn local_addr(&self) -> anyhow::Result<SocketAddr> {
        self.inner.local_addr()
    }

    async fn send(&mut self, to: SocketAddr, envelope: ChitchatEnvelope) -> anyhow::Result<SendOutcome> {
        self.inner.send(to, envelope).await
    }

    /// Cancel-safe, as chitchat needs: a message is either still in the
    /// channel or in `pending`.
    async fn recv(&mut self) -> anyhow::Result<RecvOutcome> {
        loop {
            if let Some((due, _)) = self.pending.front()
                && *due <= Instant::now()
            {
                return Ok(self.pending.pop_front().unwrap().1);
            }
            let wake = self.pending.front().map(|(due, _)| *due);
            tokio::select! {
                msg = self.inner.recv() => {
                    let msg = msg?;
                    let lost = self.net.loss > 0.0 && (self.net.rng.lock().unwrap().next() >> 11) as f64 / (1u64 << 53) as f64 <= self.net.loss;
                    if !lost {
                        self.pending.push_back((Instant::now() + self.net.latency, msg));
                    }
                }
                _ = async { match wake { Some(w) => tokio::time::sleep_until(w).await, None => std::future::pending().await } } => {}
            }
        }
    }
}

/// The model's table.
pub fn table(rows: &[ModelRow], cfg: &ModelConfig) -> String {
    let mut out = format!(
        "gossip model: interval {} ms, loss {:.1}%, latency {} ms, {} profiles per node\n",
        cfg.interval_ms,
        cfg.loss * 100.0,
        cfg.latency_ms,
        cfg.functions_per_node
    );
    out.push_str(&format!(
        "{:>6}  {:>12}  {:>14}  {:>14}  {:>14}  {:>9}  {:>13}  {:>8}\n",
        "nodes", "membership", "new profile", "outcome", "bytes/node/s", "value B", "budget Jain", "wall"
    ));
    let s = |x: Option<f64>| x.map_or("timeout".to_string(), |v| format!("{v:.2} s"));
    for r in rows {
        out.push_str(&format!(
            "{:>6}  {:>12}  {:>14}  {:>14}  {:>14.0}  {:>9}  {:>13}  {:>7.1}s\n",
            r.nodes,
            s(r.membership_s),
            s(r.profile_convergence_s),
            s(r.outcome_convergence_s),
            r.bytes_per_node_per_s,
            r.value_bytes,
            format!("{:.3} ({}/{})", r.budget_fairness, r.budget_max_concurrent, r.budget_limit),
            r.wall_s
        ));
    }
    out
}
