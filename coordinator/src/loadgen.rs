//! `ember-coordinator bench`: drives a coordinator with concurrent
//! acquire/release traffic and checks the concurrency budget from the
//! outside.
//!
//! Each client plays one node: it asks for leases on random function keys,
//! holds a grant for a random short time and releases it. An independent
//! observer — a shared counter the clients raise *after* a grant arrives
//! and lower *before* they send the release — can only under-count what
//! the coordinator holds, so any moment it sees more than `max_concurrent`
//! leases is a real violation.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ember_proto::coordinator as pb;
use ember_proto::coordinator::coordinator_client::CoordinatorClient;
use tonic::transport::Channel;

/// What to run.
#[derive(Clone, Debug)]
pub struct BenchConfig {
    /// Concurrent clients.
    pub clients: usize,
    /// How long.
    pub seconds: f64,
    /// Distinct nodes the clients play (clients map onto them round-robin).
    pub nodes: usize,
    /// Distinct function keys.
    pub keys: usize,
    /// Longest hold of a granted lease, µs (uniform in 0..=this).
    pub max_hold_us: u64,
}

/// What it measured.
#[derive(Clone, Debug, serde::Serialize)]
pub struct BenchReport {
    /// Clients.
    pub clients: usize,
    /// Seconds run.
    pub seconds: f64,
    /// Acquire decisions.
    pub decisions: u64,
    /// Decisions per second.
    pub decisions_per_s: f64,
    /// Acquire round trip, µs.
    pub p50_us: u64,
    /// Acquire round trip, µs.
    pub p99_us: u64,
    /// Grants.
    pub granted: u64,
    /// Denials by reason.
    pub denied: std::collections::BTreeMap<String, u64>,
    /// The budget's concurrency limit during the run.
    pub max_concurrent: u32,
    /// Most leases the observer saw held at once.
    pub observed_max_held: i64,
    /// Moments the observer saw more than `max_concurrent` held.
    pub violations: u64,
}

struct Shared {
    held: AtomicI64,
    max_held: AtomicI64,
    violations: AtomicU64,
    limit: i64,
}

/// Runs the load against a coordinator; client `i` uses connection
/// `channels[i % channels.len()]`.
pub async fn run(channels: Vec<Channel>, cfg: BenchConfig) -> anyhow::Result<BenchReport> {
    anyhow::ensure!(!channels.is_empty(), "no connections");
    let mut probe = CoordinatorClient::new(channels[0].clone());
    let limit = probe.get_state(pb::GetStateRequest {}).await?.into_inner().budget.map_or(0, |b| b.max_concurrent);
    let shared =
        Arc::new(Shared { held: AtomicI64::new(0), max_held: AtomicI64::new(0), violations: AtomicU64::new(0), limit: limit as i64 });
    let deadline = Instant::now() + Duration::from_secs_f64(cfg.seconds);
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..cfg.clients {
        let (channel, shared, cfg) = (channels[c % channels.len()].clone(), shared.clone(), cfg.clone());
        tasks.push(tokio::spawn(async move {
            let mut client = CoordinatorClient::new(channel);
            let node = format!("node-{}", c % cfg.nodes.max(1));
            // A small xorshift per client: no shared RNG on the hot path.
            let mut x = 0x9e37_79b9_7f4a_7c15u64 ^ (c as u64 + 1).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            let mut rnd = move || {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x
            };
            let mut lat = Vec::with_capacity(1 << 16);
            let (mut granted, mut denied) = (0u64, std::collections::BTreeMap::<String, u64>::new());
            while Instant::now() < deadline {
                let key = format!("{:032x}", rnd() % cfg.keys.max(1) as u64);
                let req = pb::AcquireRequest {
                    node: node.clone(),
                    function_key: key,
                    tier: 1 + (rnd() % 2) as u32,
                    estimated_cost_us: 50,
                    priority: pb::Priority::Normal as i32,
                };
                let t = Instant::now();
                let r = match client.acquire(req).await {
                    Ok(r) => r.into_inner(),
                    Err(e) => return Err(anyhow::anyhow!("acquire: {e}")),
                };
                lat.push(t.elapsed().as_micros() as u64);
                match r.decision {
                    Some(pb::acquire_response::Decision::Granted(g)) => {
                        granted += 1;
                        let now = shared.held.fetch_add(1, Ordering::SeqCst) + 1;
                        shared.max_held.fetch_max(now, Ordering::Relaxed);
                        if now > shared.limit {
                            shared.violations.fetch_add(1, Ordering::Relaxed);
                        }
                        let hold = if cfg.max_hold_us == 0 { 0 } else { rnd() % (cfg.max_hold_us + 1) };
                        if hold > 0 {
                            tokio::time::sleep(Duration::from_micros(hold)).await;
                        }
                        shared.held.fetch_sub(1, Ordering::SeqCst);
                        client
                            .release(pb::ReleaseRequest { lease_id: g.lease_id, actual_cost_us: 40, outcome: "compiled".into() })
                            .await
                            .map_err(|e| anyhow::anyhow!("release: {e}"))?;
                    }
                    Some(pb::acquire_response::Decision::Denied(d)) => {
                        *denied.entry(d.reason).or_default() += 1;
                    }
                    None => return Err(anyhow::anyhow!("a response with no decision")),
                }
            }
            Ok((lat, granted, denied))
        }));
    }
    let mut all = Vec::new();
    let mut granted = 0;
    let mut denied = std::collections::BTreeMap::new();
    for t in tasks {
        let (lat, g, d) = t.await??;
        all.extend(lat);
        granted += g;
        for (k, v) in d {
            *denied.entry(k).or_default() += v;
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    all.sort_unstable();
    let pct = |p: f64| if all.is_empty() { 0 } else { all[((all.len() as f64 * p).ceil() as usize).clamp(1, all.len()) - 1] };
    Ok(BenchReport {
        clients: cfg.clients,
        seconds: secs,
        decisions: all.len() as u64,
        decisions_per_s: all.len() as f64 / secs,
        p50_us: pct(0.5),
        p99_us: pct(0.99),
        granted,
        denied,
        max_concurrent: limit,
        observed_max_held: shared.max_held.load(Ordering::Relaxed),
        violations: shared.violations.load(Ordering::Relaxed),
    })
}

impl std::fmt::Display for BenchReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{} clients, {:.1} s: {} decisions, {:.0} decisions/s",
            self.clients, self.seconds, self.decisions, self.decisions_per_s
        )?;
        writeln!(f, "acquire round trip: p50 {} µs, p99 {} µs", self.p50_us, self.p99_us)?;
        writeln!(f, "granted {}, denied {:?}", self.granted, self.denied)?;
        write!(
            f,
            "max_concurrent {}, observer saw at most {} held, violations {}",
            self.max_concurrent, self.observed_max_held, self.violations
        )
    }
}
