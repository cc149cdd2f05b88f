//! The node's side of the compile budget: an engine [`CompileGate`] that
//! asks the coordinator for a lease before each background compile, and
//! falls back to a local budget when the coordinator cannot answer.
//!
//! The gate runs on the engine's compile worker threads, never on a thread
//! that invokes Lua, so a slow network delays a compile, not a request.
//! Each ask has a short timeout. When it fails, the node switches to its
//! fallback budget — at most `fallback_concurrent` local compiles at once,
//! its share of the cluster budget — and tries the coordinator again after
//! an exponential backoff; the first successful answer switches it back.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ember_engine::{CompileGate, FunctionKey, GateDecision, GateOutcome, GatePermit, GateRequest};
use ember_proto::coordinator as pb;
use ember_proto::coordinator::coordinator_client::CoordinatorClient;
use serde::{Deserialize, Serialize};
use tonic::transport::Channel;

/// Lease-client knobs.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LeaseConfig {
    /// Coordinator address (`http://host:port`); empty: local budget only.
    pub coordinator: String,
    /// Ask for leases for tier-1 compiles too (tier 2 always asks).
    pub lease_tier1: bool,
    /// Timeout of one ask, ms.
    pub timeout_ms: u64,
    /// Local compiles at once while the coordinator is unreachable (or not
    /// configured): this node's share of the cluster budget.
    pub fallback_concurrent: usize,
    /// First retry delay after a failure, ms (doubles up to the max).
    pub backoff_min_ms: u64,
    /// Longest retry delay, ms.
    pub backoff_max_ms: u64,
}

impl Default for LeaseConfig {
    fn default() -> Self {
        LeaseConfig {
            coordinator: String::new(),
            lease_tier1: true,
            timeout_ms: 50,
            fallback_concurrent: 1,
            backoff_min_ms: 200,
            backoff_max_ms: 5000,
        }
    }
}

/// Where the compile budget comes from right now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BudgetSource {
    /// No coordinator configured: the local budget.
    Local,
    /// Leases from the coordinator.
    Coordinator,
    /// The coordinator did not answer; the local fallback budget.
    Fallback,
}

/// What the gate has done.
#[derive(Clone, Debug, Serialize)]
pub struct LeaseStats {
    /// Where the budget comes from now.
    pub source: BudgetSource,
    /// Coordinator address.
    pub coordinator: String,
    /// Leases granted by the coordinator.
    pub granted: u64,
    /// Asks the coordinator denied.
    pub denied: u64,
    /// Compiles run under the local (fallback) budget.
    pub local: u64,
    /// Times the node switched to the fallback budget.
    pub fallbacks: u64,
    /// Why it last fell back.
    pub last_error: Option<String>,
    /// Milliseconds in the current fallback (0 when not in fallback).
    pub fallback_for_ms: u64,
    /// Compiles holding a budget slot now.
    pub in_flight: usize,
}

struct Mode {
    source: BudgetSource,
    since: Instant,
    retry_at: Instant,
    backoff: Duration,
    last_error: Option<String>,
}

/// Permits with this bit came from the local budget.
const LOCAL: u64 = 1 << 63;

/// The gate.
pub struct LeaseGate {
    config: LeaseConfig,
    node: String,
    runtime: tokio::runtime::Handle,
    client: Option<CoordinatorClient<Channel>>,
    mode: Mutex<Mode>,
    local_active: AtomicUsize,
    granted: AtomicU64,
    denied: AtomicU64,
    local: AtomicU64,
    fallbacks: AtomicU64,
    local_seq: AtomicU64,
    history: Mutex<LeaseHistory>,
}

/// One budget decision about one function, for its `GetFunction` history.
#[derive(Clone, Debug)]
pub struct LeaseEvent {
    /// When it was decided (the last time, for repeats).
    pub at: Instant,
    /// The tier the compile was for.
    pub tier: u8,
    /// `granted`, `denied`, `local` (the local budget took it) or
    /// `waiting` (the local budget was full).
    pub decision: &'static str,
    /// Lease id, deny reason, why the local budget...
    pub detail: String,
    /// Identical decisions in a row folded into this one (a denied compile
    /// asks again every few ms).
    pub repeats: u32,
}

/// The last few lease decisions per function, within fixed bounds.
#[derive(Default)]
struct LeaseHistory {
    by_key: HashMap<FunctionKey, VecDeque<LeaseEvent>>,
}

/// Decisions kept per function, and functions with a history.
const HISTORY_PER_FUNCTION: usize = 8;
const HISTORY_FUNCTIONS: usize = 4096;

impl LeaseHistory {
    fn record(&mut self, key: FunctionKey, tier: u8, decision: &'static str, detail: String) {
        if !self.by_key.contains_key(&key) && self.by_key.len() >= HISTORY_FUNCTIONS {
            // Bounded: forget the function whose latest decision is oldest.
            if let Some(oldest) = self.by_key.iter().min_by_key(|(_, v)| v.back().map(|e| e.at)).map(|(k, _)| *k) {
                self.by_key.remove(&oldest);
            }
        }
        let events = self.by_key.entry(key).or_default();
        let now = Instant::now();
        if let Some(last) = events.back_mut()
            && last.decision == decision
            && last.detail == detail
            && last.tier == tier
        {
            last.repeats += 1;
            last.at = now;
            return;
        }
        if events.len() == HISTORY_PER_FUNCTION {
            events.pop_front();
        }
        events.push_back(LeaseEvent { at: now, tier, decision, detail, repeats: 0 });
    }
}

impl LeaseGate {
    /// The recent budget decisions about one function, oldest first.
    pub fn history(&self, key: FunctionKey) -> Vec<LeaseEvent> {
        self.history.lock().expect("lease history lock").by_key.get(&key).map(|v| v.iter().cloned().collect()).unwrap_or_default()
    }

    fn note(&self, r: &GateRequest, decision: &'static str, detail: String) {
        self.history.lock().expect("lease history lock").record(r.key, r.tier, decision, detail);
    }

    /// A gate for `node`. Call from inside a tokio runtime: it keeps the
    /// runtime's handle for its network calls.
    pub fn new(node: &str, config: LeaseConfig) -> anyhow::Result<LeaseGate> {
        let client = if config.coordinator.is_empty() {
            None
        } else {
            let addr =
                if config.coordinator.contains("://") { config.coordinator.clone() } else { format!("http://{}", config.coordinator) };
            let endpoint = Channel::from_shared(addr.clone())
                .map_err(|e| anyhow::anyhow!("coordinator address {addr}: {e}"))?
                .connect_timeout(Duration::from_millis(config.timeout_ms.max(1)))
                .timeout(Duration::from_millis(config.timeout_ms.max(1)));
            Some(CoordinatorClient::new(endpoint.connect_lazy()))
        };
        let now = Instant::now();
        Ok(LeaseGate {
            mode: Mutex::new(Mode {
                source: if client.is_some() { BudgetSource::Coordinator } else { BudgetSource::Local },
                since: now,
                retry_at: now,
                backoff: Duration::from_millis(config.backoff_min_ms),
                last_error: None,
            }),
            node: node.to_string(),
            runtime: tokio::runtime::Handle::current(),
            client,
            config,
            local_active: AtomicUsize::new(0),
            granted: AtomicU64::new(0),
            denied: AtomicU64::new(0),
            local: AtomicU64::new(0),
            fallbacks: AtomicU64::new(0),
            history: Mutex::new(LeaseHistory::default()),
            local_seq: AtomicU64::new(0),
        })
    }

    /// Counters and the current source.
    pub fn stats(&self) -> LeaseStats {
        let m = self.mode.lock().expect("lease lock");
        LeaseStats {
            source: m.source.clone(),
            coordinator: self.config.coordinator.clone(),
            granted: self.granted.load(Ordering::Relaxed),
            denied: self.denied.load(Ordering::Relaxed),
            local: self.local.load(Ordering::Relaxed),
            fallbacks: self.fallbacks.load(Ordering::Relaxed),
            last_error: m.last_error.clone(),
            fallback_for_ms: if m.source == BudgetSource::Fallback { m.since.elapsed().as_millis() as u64 } else { 0 },
            in_flight: self.local_active.load(Ordering::Relaxed),
        }
    }

    /// The local budget's answer, recorded in the function's history.
    fn local_for(&self, r: &GateRequest, why: &str) -> GateDecision {
        let d = self.local_permit();
        match &d {
            GateDecision::Go(_) => self.note(r, "local", why.to_string()),
            _ => self.note(r, "waiting", format!("the local budget is full ({why})")),
        }
        d
    }

    fn local_permit(&self) -> GateDecision {
        let limit = self.config.fallback_concurrent.max(1);
        let mut cur = self.local_active.load(Ordering::Relaxed);
        loop {
            if cur >= limit {
                return GateDecision::Later(Duration::from_millis(10));
            }
            match self.local_active.compare_exchange(cur, cur + 1, Ordering::AcqRel, Ordering::Relaxed) {
                Ok(_) => break,
                Err(now) => cur = now,
            }
        }
        self.local.fetch_add(1, Ordering::Relaxed);
        GateDecision::Go(GatePermit(LOCAL | self.local_seq.fetch_add(1, Ordering::Relaxed)))
    }

    fn fall_back(&self, why: String) {
        let mut m = self.mode.lock().expect("lease lock");
        let now = Instant::now();
        if m.source != BudgetSource::Fallback {
            self.fallbacks.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(coordinator = %self.config.coordinator, "compile budget: coordinator unreachable ({why}); using the local fallback budget");
            m.source = BudgetSource::Fallback;
            m.since = now;
            m.backoff = Duration::from_millis(self.config.backoff_min_ms);
        } else {
            m.backoff = (m.backoff * 2).min(Duration::from_millis(self.config.backoff_max_ms));
        }
        m.retry_at = now + m.backoff;
        m.last_error = Some(why);
    }

    fn back_online(&self) {
        let mut m = self.mode.lock().expect("lease lock");
        if m.source == BudgetSource::Fallback {
            tracing::info!(coordinator = %self.config.coordinator, fallback_ms = m.since.elapsed().as_millis() as u64, "compile budget: coordinator back");
            m.source = BudgetSource::Coordinator;
            m.since = Instant::now();
        }
    }
}

impl CompileGate for LeaseGate {
    fn acquire(&self, r: &GateRequest) -> GateDecision {
        let Some(client) = &self.client else { return self.local_for(r, "no coordinator configured") };
        if r.tier < 2 && !self.config.lease_tier1 {
            return self.local_for(r, "tier-1 compiles use the local budget");
        }
        {
            let m = self.mode.lock().expect("lease lock");
            if m.source == BudgetSource::Fallback && Instant::now() < m.retry_at {
                drop(m);
                return self.local_for(r, "fallback: the coordinator is unreachable");
            }
        }
        let req = pb::AcquireRequest {
            node: self.node.clone(),
            function_key: r.key.to_string(),
            tier: r.tier as u32,
            estimated_cost_us: r.estimated_us,
            priority: match r.trigger {
                ember_engine::CompileTrigger::Request => pb::Priority::WarmStart,
                _ => pb::Priority::Normal,
            } as i32,
        };
        let mut client = client.clone();
        let timeout = Duration::from_millis(self.config.timeout_ms.max(1));
        let span = tracing::info_span!("lease", function = %r.name, key = %r.key, tier = r.tier, estimated_us = r.estimated_us, decision = tracing::field::Empty);
        let _in_span = span.enter();
        // On a compile worker thread (not a runtime thread): blocking here
        // delays only this compile.
        let answer = self.runtime.block_on(async move { tokio::time::timeout(timeout, client.acquire(req)).await });
        span.record(
            "decision",
            match &answer {
                Ok(Ok(r)) => match &r.get_ref().decision {
                    Some(pb::acquire_response::Decision::Granted(_)) => "granted",
                    Some(pb::acquire_response::Decision::Denied(_)) => "denied",
                    None => "empty",
                },
                _ => "unreachable",
            },
        );
        match answer {
            Ok(Ok(resp)) => {
                self.back_online();
                match resp.into_inner().decision {
                    Some(pb::acquire_response::Decision::Granted(g)) => {
                        self.granted.fetch_add(1, Ordering::Relaxed);
                        self.note(
                            r,
                            "granted",
                            format!("lease {} for {} ms{}", g.lease_id, g.ttl_ms, if g.pioneer { ", as pioneer" } else { "" }),
                        );
                        GateDecision::Go(GatePermit(g.lease_id & !LOCAL))
                    }
                    Some(pb::acquire_response::Decision::Denied(d)) => {
                        self.denied.fetch_add(1, Ordering::Relaxed);
                        let pioneer = if d.pioneer_node.is_empty() { String::new() } else { format!(" (pioneer: {})", d.pioneer_node) };
                        self.note(r, "denied", format!("{}{pioneer}", d.reason));
                        GateDecision::Later(Duration::from_millis(d.retry_after_ms.max(1)))
                    }
                    None => {
                        self.fall_back("a response with no decision".into());
                        self.local_for(r, "fallback: the coordinator sent no decision")
                    }
                }
            }
            Ok(Err(status)) => {
                self.fall_back(format!("{:?}: {}", status.code(), status.message()));
                self.local_for(r, "fallback: the coordinator is unreachable")
            }
            Err(_) => {
                self.fall_back(format!("no answer within {} ms", timeout.as_millis()));
                self.local_for(r, "fallback: the coordinator did not answer in time")
            }
        }
    }

    fn release(&self, permit: GatePermit, outcome: GateOutcome) {
        if permit.0 & LOCAL != 0 {
            self.local_active.fetch_sub(1, Ordering::AcqRel);
            return;
        }
        let Some(client) = &self.client else { return };
        let mut client = client.clone();
        let req = pb::ReleaseRequest {
            lease_id: permit.0,
            actual_cost_us: outcome.compile_us,
            outcome: if outcome.compiled { "compiled" } else { "failed" }.into(),
        };
        let timeout = Duration::from_millis(self.config.timeout_ms.max(1) * 4);
        // Fire and forget: if it is lost, the lease expires.
        self.runtime.spawn(async move {
            let _ = tokio::time::timeout(timeout, client.release(req)).await;
        });
    }
}

#[cfg(test)]
mod history_tests {
    use super::*;

    fn key(i: u8) -> FunctionKey {
        FunctionKey(u128::from(i))
    }

    #[test]
    fn repeated_decisions_fold_and_each_function_keeps_the_last_few() {
        let mut h = LeaseHistory::default();
        for _ in 0..50 {
            h.record(key(1), 2, "denied", "pioneer_wait".into());
        }
        h.record(key(1), 2, "granted", "lease 7 for 10000 ms".into());
        let v: Vec<_> = h.by_key[&key(1)].iter().map(|e| (e.decision, e.repeats)).collect();
        assert_eq!(v, [("denied", 49), ("granted", 0)]);
        for i in 0..20 {
            h.record(key(2), 1, "local", format!("compile {i}"));
        }
        let v = &h.by_key[&key(2)];
        assert_eq!(v.len(), HISTORY_PER_FUNCTION);
        assert_eq!(v.back().unwrap().detail, "compile 19", "the newest are kept");
    }
}
