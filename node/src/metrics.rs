//! Prometheus metrics of a node (`--metrics-listen ADDR`, path `/metrics`).
//!
//! Invocations are counted where they happen (the pool's workers record
//! `ember_invocations_total` and the `ember_invoke_seconds` histogram,
//! labelled by the highest tier that ran). Everything else is sampled from
//! the engine, gossip and lease counters once a second, so no hot path
//! pays for it. Series without a source yet (deopts, OSR) are left out
//! rather than reported as zero.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chitchat::ChitchatEnvelope;
use chitchat::transport::{RecvOutcome, SendOutcome, Socket, Transport};

use crate::ClusterNode;
use crate::lease::{BudgetSource, LeaseGate};
use crate::pool::Pool;

/// Starts the `/metrics` HTTP listener and installs the recorder.
pub fn install(addr: SocketAddr) -> anyhow::Result<()> {
    metrics_exporter_prometheus::PrometheusBuilder::new()
        .with_http_listener(addr)
        .set_buckets_for_metric(
            metrics_exporter_prometheus::Matcher::Full("ember_invoke_seconds".into()),
            &[0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0, 5.0],
        )?
        .install()
        .map_err(|e| anyhow::anyhow!("metrics listener on {addr}: {e}"))
}

/// Bytes gossip sent and received.
#[derive(Default)]
pub struct GossipBytes {
    /// Sent.
    pub out: AtomicU64,
    /// Received.
    pub inbound: AtomicU64,
}

/// A chitchat transport that counts bytes.
pub struct CountingTransport<T> {
    inner: T,
    bytes: Arc<GossipBytes>,
}

impl<T> CountingTransport<T> {
    /// Wraps `inner`, counting into `bytes`.
    pub fn new(inner: T, bytes: Arc<GossipBytes>) -> Self {
        CountingTransport { inner, bytes }
    }
}

#[async_trait]
impl<T: Transport> Transport for CountingTransport<T> {
    async fn open(&self, listen_addr: SocketAddr) -> anyhow::Result<Box<dyn Socket>> {
        Ok(Box::new(CountingSocket { inner: self.inner.open(listen_addr).await?, bytes: self.bytes.clone() }))
    }
}

struct CountingSocket {
    inner: Box<dyn Socket>,
    bytes: Arc<GossipBytes>,
}

#[async_trait]
impl Socket for CountingSocket {
    fn local_addr(&self) -> anyhow::Result<SocketAddr> {
        self.inner.local_addr()
    }

    async fn send(&mut self, to: SocketAddr, envelope: ChitchatEnvelope) -> anyhow::Result<SendOutcome> {
        let out = self.inner.send(to, envelope).await?;
        self.bytes.out.fetch_add(out.num_bytes_sent as u64, Ordering::Relaxed);
        Ok(out)
    }

    async fn recv(&mut self) -> anyhow::Result<RecvOutcome> {
        let r = self.inner.recv().await?;
        self.bytes.inbound.fetch_add(r.num_bytes_received as u64, Ordering::Relaxed);
        Ok(r)
    }
}

/// Samples the node's counters into metrics every `every`.
pub fn spawn_sampler(node: Arc<ClusterNode>, pool: Arc<Pool>, gate: Option<Arc<LeaseGate>>, bytes: Arc<GossipBytes>, every: Duration) {
    tokio::spawn(async move {
        loop {
            sample(&node, &pool, gate.as_deref(), &bytes).await;
            tokio::time::sleep(every).await;
        }
    });
}

async fn sample(node: &ClusterNode, pool: &Pool, gate: Option<&LeaseGate>, bytes: &GossipBytes) {
    use metrics::{counter, gauge};
    let j = node.engine().jit_stats();
    counter!("ember_compilations_total", "tier" => "1").absolute(j.tier1_compiled);
    counter!("ember_compilations_total", "tier" => "2").absolute(j.tier2_compiled);
    counter!("ember_compile_microseconds_total").absolute(j.compile_us_total);
    counter!("ember_recompiles_total").absolute(j.recompiles);
    counter!("ember_osr_entries_total").absolute(j.osr_entries);
    gauge!("ember_pinned_functions").set(j.pinned as f64);
    let mut by_guard: std::collections::BTreeMap<String, u64> = Default::default();
    for d in &j.deopt_sites {
        let guard = d.guard.map_or("entry-check".to_string(), |g| {
            serde_json::to_value(g).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
        });
        *by_guard.entry(guard).or_default() += d.count;
    }
    for (guard, n) in by_guard {
        counter!("ember_deopts_total", "guard" => guard).absolute(n);
    }
    counter!("ember_compile_rejected_total").absolute(j.rejected);
    counter!("ember_code_evictions_total").absolute(j.evicted);
    gauge!("ember_code_cache_bytes").set(j.code_cache_bytes as f64);
    gauge!("ember_compile_queue_length").set(j.queue_len as f64);
    counter!("ember_compile_budget_waits_total").absolute(j.gate_waits);

    let g = node.stats();
    counter!("ember_gossip_bytes_total", "direction" => "out").absolute(bytes.out.load(Ordering::Relaxed));
    counter!("ember_gossip_bytes_total", "direction" => "in").absolute(bytes.inbound.load(Ordering::Relaxed));
    counter!("ember_profiles_published_total").absolute(g.publish.published);
    counter!("ember_profiles_accepted_total").absolute(g.receive.accepted);
    for (reason, n) in &g.receive.dropped {
        counter!("ember_profiles_rejected_total", "reason" => reason.clone()).absolute(*n);
    }
    counter!("ember_profiles_applied_total").absolute(g.warm.profiles_applied);
    counter!("ember_warm_start_compiles_total").absolute(g.warm.compiles_queued);
    gauge!("ember_cluster_view_functions").set(g.view_functions as f64);
    gauge!("ember_cluster_members").set(node.members().await.len() as f64);

    if let Some(gate) = gate {
        let l = gate.stats();
        counter!("ember_leases_total", "result" => "granted").absolute(l.granted);
        counter!("ember_leases_total", "result" => "denied").absolute(l.denied);
        counter!("ember_leases_total", "result" => "local").absolute(l.local);
        counter!("ember_lease_fallbacks_total").absolute(l.fallbacks);
        for (name, src) in
            [("local", BudgetSource::Local), ("coordinator", BudgetSource::Coordinator), ("fallback", BudgetSource::Fallback)]
        {
            gauge!("ember_budget_source", "source" => name).set(if l.source == src { 1.0 } else { 0.0 });
        }
    }
    gauge!("ember_heap_bytes").set(pool.heap_bytes() as f64);
    gauge!("ember_invoke_queue_rejections").set(pool.counters.rejected.load(Ordering::Relaxed) as f64);
}
