//! The budget core: every decision the coordinator makes, as a pure state
//! machine over explicit time (milliseconds), so it can be property-tested
//! without a clock or a network.
//!
//! A request passes four checks in order, and the first that fails is the
//! denial's reason:
//!
//! 1. **pioneer** — the first node to ask for an optimizing compile (tier 2
//!    and up) of a function key becomes its pioneer; others asking for the
//!    same key wait until the pioneer releases plus a grace for its
//!    speculation outcomes to arrive by gossip (`outcome_grace_ms`), or
//!    until `pioneer_wait_ms` has passed if the pioneer is still busy, so
//!    the cluster deopts once instead of once per node;
//! 2. **concurrency** — at most `max_concurrent` leases at once, the last
//!    `reserved_for_priority` of them only for warm-start or very hot
//!    compiles;
//! 3. **fair share** — when nodes are waiting, the next slot goes to the
//!    waiting node with the fewest leases (ties: the one waiting longest);
//!    everyone else is denied, so a node that keeps asking is never
//!    starved by a greedier one;
//! 4. **rate** — a token bucket of compile CPU milliseconds refilled at
//!    `cpu_ms_per_s`; a grant takes its estimate, a release settles the
//!    difference with the actual cost.
//!
//! Leases expire after `lease_ttl_ms` (a node that died gives its slots
//! back); tokens an expired lease took stay spent.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

/// The knobs (all settable at run time).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BudgetConfig {
    /// Most leases held at once, cluster-wide.
    pub max_concurrent: u32,
    /// Compile CPU milliseconds granted per second, cluster-wide.
    pub cpu_ms_per_s: f64,
    /// Bucket capacity, ms: how much compile CPU can be granted in a burst.
    pub burst_ms: f64,
    /// A lease not released by then expires.
    pub lease_ttl_ms: u64,
    /// Slots only warm-start or very hot compiles may take.
    pub reserved_for_priority: u32,
    /// Enforce the fair-share rule.
    pub fair_share: bool,
    /// A node that was denied counts as waiting for this long.
    pub waiting_window_ms: u64,
    /// Use pioneers for optimizing compiles.
    pub pioneer: bool,
    /// Longest another node waits for a pioneer.
    pub pioneer_wait_ms: u64,
    /// After the pioneer releases, how long others wait for its outcomes.
    pub outcome_grace_ms: u64,
    /// Base retry hint for concurrency and fair-share denials.
    pub retry_after_ms: u64,
}

impl Default for BudgetConfig {
    fn default() -> Self {
        BudgetConfig {
            max_concurrent: 4,
            cpu_ms_per_s: 500.0,
            burst_ms: 1000.0,
            lease_ttl_ms: 10_000,
            reserved_for_priority: 1,
            fair_share: true,
            waiting_window_ms: 250,
            pioneer: true,
            pioneer_wait_ms: 3000,
            outcome_grace_ms: 1000,
            retry_after_ms: 20,
        }
    }
}

impl BudgetConfig {
    /// Checks the knobs; the message names the bad one.
    pub fn validate(&self) -> Result<(), String> {
        if self.max_concurrent == 0 {
            return Err("max_concurrent must be at least 1".into());
        }
        if self.reserved_for_priority >= self.max_concurrent {
            return Err("reserved_for_priority must be below max_concurrent".into());
        }
        if !(self.cpu_ms_per_s > 0.0 && self.cpu_ms_per_s.is_finite()) {
            return Err("cpu_ms_per_s must be a positive number".into());
        }
        if !(self.burst_ms >= 1.0 && self.burst_ms.is_finite()) {
            return Err("burst_ms must be at least 1".into());
        }
        if self.lease_ttl_ms == 0 {
            return Err("lease_ttl_ms must be at least 1".into());
        }
        Ok(())
    }
}

/// How urgent a compile is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Priority {
    /// Got hot locally.
    Normal,
    /// Warm start: the cluster already knows it is hot.
    WarmStart,
    /// Far past its threshold.
    VeryHot,
}

/// One request for a lease.
#[derive(Clone, Debug)]
pub struct Request {
    /// Asking node.
    pub node: String,
    /// Function key (any stable text).
    pub key: String,
    /// Tier to compile.
    pub tier: u32,
    /// Expected compile CPU, ms.
    pub cost_ms: f64,
    /// Urgency.
    pub priority: Priority,
}

/// Why a request was denied.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum DenyReason {
    /// All slots are taken.
    Concurrency,
    /// The CPU token bucket is short.
    Rate,
    /// Another node is waiting with fewer leases.
    FairShare,
    /// Another node is compiling this function first.
    PioneerWait,
    /// The request itself is wrong (empty node or key, bad cost).
    BadRequest,
}

impl DenyReason {
    /// Stable label.
    pub fn label(self) -> &'static str {
        match self {
            DenyReason::Concurrency => "concurrency",
            DenyReason::Rate => "rate",
            DenyReason::FairShare => "fair_share",
            DenyReason::PioneerWait => "pioneer_wait",
            DenyReason::BadRequest => "bad_request",
        }
    }
}

/// The answer to a request.
#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    /// Go ahead; release `lease` when done.
    Granted {
        /// Lease id.
        lease: u64,
        /// Expires after this long.
        ttl_ms: u64,
        /// This node is the function's pioneer.
        pioneer: bool,
    },
    /// Not now.
    Denied {
        /// Why.
        reason: DenyReason,
        /// When asking again makes sense.
        retry_after_ms: u64,
        /// For `PioneerWait`: who compiles first.
        pioneer: Option<String>,
    },
}

/// A held lease.
#[derive(Clone, Debug)]
pub struct Lease {
    /// Id.
    pub id: u64,
    /// Holder.
    pub node: String,
    /// Function key.
    pub key: String,
    /// Tier.
    pub tier: u32,
    /// Estimated cost, ms.
    pub cost_ms: f64,
    /// Granted at.
    pub granted_at: u64,
    /// Expires at.
    pub expires_at: u64,
    /// Held by the function's pioneer.
    pub pioneer: bool,
}

/// Per-node accounting.
#[derive(Clone, Debug, Default)]
pub struct NodeUsage {
    /// Leases held now.
    pub active: u32,
    /// Grants so far.
    pub granted: u64,
    /// Denials so far.
    pub denied: u64,
    /// Compile CPU reported on release, ms.
    pub cpu_ms: f64,
    /// Denied and not granted since: waiting since this time.
    pub waiting_since: Option<u64>,
    /// Last request.
    pub last_request: u64,
}

#[derive(Clone, Debug)]
struct Pioneer {
    node: String,
    /// When other nodes may go ahead regardless.
    give_up_at: u64,
    /// Set when the pioneer released: others may go at this time.
    done_at: Option<u64>,
    lease: u64,
}

/// The coordinator's whole state.
#[derive(Clone, Debug)]
pub struct Budget {
    config: BudgetConfig,
    leases: HashMap<u64, Lease>,
    next_lease: u64,
    tokens: f64,
    refilled_at: u64,
    nodes: BTreeMap<String, NodeUsage>,
    pioneers: HashMap<String, Pioneer>,
    pioneer_gc_at: u64,
    /// Denials by reason.
    pub denials: BTreeMap<DenyReason, u64>,
    /// Grants so far.
    pub granted: u64,
    /// Releases of live leases.
    pub released: u64,
    /// Leases that expired.
    pub expired: u64,
    /// Most leases ever held at once.
    pub max_active_seen: u32,
}

impl Budget {
    /// A budget with `config`, at time `now`.
    pub fn new(config: BudgetConfig, now: u64) -> Budget {
        Budget {
            tokens: config.burst_ms,
            config,
            leases: HashMap::new(),
            next_lease: 1,
            refilled_at: now,
            nodes: BTreeMap::new(),
            pioneers: HashMap::new(),
            pioneer_gc_at: 0,
            denials: BTreeMap::new(),
            granted: 0,
            released: 0,
            expired: 0,
            max_active_seen: 0,
        }
    }

    /// The knobs.
    pub fn config(&self) -> &BudgetConfig {
        &self.config
    }

    /// Replaces the knobs. Leases already granted stay valid; a lower
    /// `max_concurrent` only stops new grants until enough are returned.
    pub fn set_config(&mut self, config: BudgetConfig, now: u64) -> Result<(), String> {
        config.validate()?;
        self.refill(now);
        self.tokens = self.tokens.min(config.burst_ms);
        self.config = config;
        Ok(())
    }

    /// Leases held now.
    pub fn active(&self) -> u32 {
        self.leases.len() as u32
    }

    /// The held leases.
    pub fn leases(&self) -> impl Iterator<Item = &Lease> {
        self.leases.values()
    }

    /// Per-node accounting.
    pub fn nodes(&self) -> &BTreeMap<String, NodeUsage> {
        &self.nodes
    }

    /// CPU tokens in the bucket, ms (negative: debt from underestimates).
    pub fn tokens(&mut self, now: u64) -> f64 {
        self.refill(now);
        self.tokens
    }

    fn refill(&mut self, now: u64) {
        if now > self.refilled_at {
            let dt = (now - self.refilled_at) as f64 / 1000.0;
            self.tokens = (self.tokens + dt * self.config.cpu_ms_per_s).min(self.config.burst_ms);
            self.refilled_at = now;
        }
    }

    /// Returns the slots of leases past their TTL.
    pub fn expire(&mut self, now: u64) {
        let dead: Vec<u64> = self.leases.values().filter(|l| l.expires_at <= now).map(|l| l.id).collect();
        for id in dead {
            let l = self.leases.remove(&id).expect("listed");
            self.expired += 1;
            if let Some(n) = self.nodes.get_mut(&l.node) {
                n.active -= 1;
            }
            // A pioneer that died teaches nobody: let the others go.
            if l.pioneer && self.pioneers.get(&l.key).is_some_and(|p| p.lease == id) {
                self.pioneers.remove(&l.key);
            }
        }
        // Forgetting finished pioneers needs a scan; once per 100 ms is plenty.
        if now < self.pioneer_gc_at {
            return;
        }
        self.pioneer_gc_at = now + 100;
        let grace = self.config.pioneer_wait_ms + self.config.outcome_grace_ms;
        self.pioneers.retain(|_, p| p.done_at.is_none_or(|d| now < d + grace) || now < p.give_up_at);
    }

    fn deny(&mut self, node: &str, reason: DenyReason, retry_after_ms: u64, pioneer: Option<String>, now: u64) -> Decision {
        *self.denials.entry(reason).or_default() += 1;
        if let Some(n) = self.nodes.get_mut(node) {
            n.denied += 1;
            if reason != DenyReason::PioneerWait {
                n.waiting_since.get_or_insert(now);
            }
        }
        Decision::Denied { reason, retry_after_ms: retry_after_ms.max(1), pioneer }
    }

    /// Decides one request at time `now`.
    pub fn acquire(&mut self, r: &Request, now: u64) -> Decision {
        self.expire(now);
        self.refill(now);
        if r.node.is_empty() || r.key.is_empty() || !(r.cost_ms >= 0.0 && r.cost_ms.is_finite()) {
            *self.denials.entry(DenyReason::BadRequest).or_default() += 1;
            return Decision::Denied { reason: DenyReason::BadRequest, retry_after_ms: 1000, pioneer: None };
        }
        let c = self.config.clone();
        self.nodes.entry(r.node.clone()).or_default().last_request = now;

        // 1. Pioneer.
        let optimizing = r.tier >= 2 && c.pioneer;
        if optimizing
            && let Some(p) = self.pioneers.get(&r.key)
            && p.node != r.node
        {
            let until = match p.done_at {
                Some(done) => done + c.outcome_grace_ms,
                None => p.give_up_at,
            };
            if now < until {
                let who = p.node.clone();
                return self.deny(&r.node, DenyReason::PioneerWait, until - now, Some(who), now);
            }
        }

        // 2. Concurrency.
        let active = self.active();
        let limit = if r.priority == Priority::Normal { c.max_concurrent - c.reserved_for_priority } else { c.max_concurrent };
        if active >= limit {
            return self.deny(&r.node, DenyReason::Concurrency, c.retry_after_ms, None, now);
        }

        // 3. Fair share: the waiting node with the fewest leases (then the
        // longest wait) goes first.
        if c.fair_share {
            let me = &self.nodes[&r.node];
            let my_rank = (me.active, me.waiting_since.unwrap_or(now), r.node.as_str());
            let ahead = self.nodes.iter().any(|(name, n)| {
                name != &r.node
                    && n.waiting_since.is_some_and(|w| {
                        now.saturating_sub(n.last_request) <= c.waiting_window_ms && (n.active, w, name.as_str()) < my_rank
                    })
            });
            if ahead {
                return self.deny(&r.node, DenyReason::FairShare, c.retry_after_ms, None, now);
            }
        }

        // 4. Rate: the estimate must fit in the bucket (capped at the
        // bucket size, so a huge estimate is not refused forever).
        let need = r.cost_ms.min(c.burst_ms);
        if self.tokens < need {
            let wait = ((need - self.tokens) / c.cpu_ms_per_s * 1000.0).ceil() as u64;
            return self.deny(&r.node, DenyReason::Rate, wait, None, now);
        }

        // Granted.
        self.tokens -= need;
        let id = self.next_lease;
        self.next_lease += 1;
        let pioneer = optimizing && !self.pioneers.contains_key(&r.key);
        if pioneer {
            self.pioneers
                .insert(r.key.clone(), Pioneer { node: r.node.clone(), give_up_at: now + c.pioneer_wait_ms, done_at: None, lease: id });
        }
        self.leases.insert(
            id,
            Lease {
                id,
                node: r.node.clone(),
                key: r.key.clone(),
                tier: r.tier,
                cost_ms: need,
                granted_at: now,
                expires_at: now + c.lease_ttl_ms,
                pioneer,
            },
        );
        let n = self.nodes.get_mut(&r.node).expect("inserted above");
        n.active += 1;
        n.granted += 1;
        n.waiting_since = None;
        self.granted += 1;
        self.max_active_seen = self.max_active_seen.max(self.active());
        Decision::Granted { lease: id, ttl_ms: c.lease_ttl_ms, pioneer }
    }

    /// Returns a lease with the compile's actual CPU cost and outcome
    /// (`compiled`, `failed`, `abandoned`). False when the lease is unknown
    /// (expired or never granted).
    pub fn release(&mut self, lease: u64, actual_ms: f64, outcome: &str, now: u64) -> bool {
        self.expire(now);
        self.refill(now);
        let Some(l) = self.leases.remove(&lease) else { return false };
        self.released += 1;
        let actual = if actual_ms.is_finite() && actual_ms >= 0.0 { actual_ms } else { l.cost_ms };
        // Settle: refund an overestimate, charge an underestimate (debt is
        // bounded by one burst).
        self.tokens = (self.tokens + l.cost_ms - actual).clamp(-self.config.burst_ms, self.config.burst_ms);
        if let Some(n) = self.nodes.get_mut(&l.node) {
            n.active -= 1;
            n.cpu_ms += actual;
        }
        if l.pioneer
            && let Some(p) = self.pioneers.get_mut(&l.key)
        {
            if outcome == "compiled" {
                p.done_at = Some(now);
            } else {
                // Nothing learned: the next node to ask becomes the pioneer.
                self.pioneers.remove(&l.key);
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(node: &str, key: &str, tier: u32) -> Request {
        Request { node: node.into(), key: key.into(), tier, cost_ms: 1.0, priority: Priority::Normal }
    }

    fn granted(d: &Decision) -> u64 {
        match d {
            Decision::Granted { lease, .. } => *lease,
            other => panic!("expected a grant, got {other:?}"),
        }
    }

    fn denied(d: &Decision) -> DenyReason {
        match d {
            Decision::Denied { reason, .. } => *reason,
            other => panic!("expected a denial, got {other:?}"),
        }
    }

    fn config() -> BudgetConfig {
        BudgetConfig { max_concurrent: 2, reserved_for_priority: 0, pioneer: false, ..BudgetConfig::default() }
    }

    #[test]
    fn concurrency_caps_grants_and_releases_return_slots() {
        let mut b = Budget::new(config(), 0);
        let l1 = granted(&b.acquire(&req("a", "f", 1), 0));
        granted(&b.acquire(&req("b", "g", 1), 0));
        assert_eq!(denied(&b.acquire(&req("c", "h", 1), 0)), DenyReason::Concurrency);
        assert!(b.release(l1, 1.0, "compiled", 1));
        assert!(!b.release(l1, 1.0, "compiled", 1), "a lease returns once");
        granted(&b.acquire(&req("c", "h", 1), 2));
    }

    #[test]
    fn expired_leases_give_their_slots_back() {
        let mut b = Budget::new(BudgetConfig { lease_ttl_ms: 100, ..config() }, 0);
        granted(&b.acquire(&req("a", "f", 1), 0));
        granted(&b.acquire(&req("a", "g", 1), 0));
        assert_eq!(denied(&b.acquire(&req("b", "h", 1), 50)), DenyReason::Concurrency);
        granted(&b.acquire(&req("b", "h", 1), 100));
        assert_eq!(b.expired, 2);
    }

    #[test]
    fn reserved_slots_go_only_to_urgent_compiles() {
        let mut b = Budget::new(BudgetConfig { reserved_for_priority: 1, ..config() }, 0);
        granted(&b.acquire(&req("a", "f", 1), 0));
        assert_eq!(denied(&b.acquire(&req("a", "g", 1), 0)), DenyReason::Concurrency);
        granted(&b.acquire(&Request { priority: Priority::WarmStart, ..req("a", "g", 1) }, 0));
    }

    #[test]
    fn the_token_bucket_limits_compile_cpu_and_settles_on_release() {
        let mut b = Budget::new(BudgetConfig { max_concurrent: 10, cpu_ms_per_s: 100.0, burst_ms: 10.0, ..config() }, 0);
        let big = Request { cost_ms: 8.0, ..req("a", "f", 1) };
        let l = granted(&b.acquire(&big, 0));
        match b.acquire(&big, 0) {
            Decision::Denied { reason: DenyReason::Rate, retry_after_ms, .. } => assert_eq!(retry_after_ms, 60, "6 ms short at 100 ms/s"),
            d => panic!("{d:?}"),
        }
        // It only took 1 ms: 7 come back.
        b.release(l, 1.0, "compiled", 0);
        granted(&b.acquire(&big, 0));
        // An estimate over the bucket is capped, not refused forever.
        granted(&b.acquire(&Request { cost_ms: 1e9, ..req("b", "g", 1) }, 10_000));
    }

    #[test]
    fn a_waiting_node_gets_the_next_slot_before_a_greedy_one() {
        let mut b = Budget::new(config(), 0);
        let l1 = granted(&b.acquire(&req("greedy", "f1", 1), 0));
        granted(&b.acquire(&req("greedy", "f2", 1), 0));
        assert_eq!(denied(&b.acquire(&req("meek", "g", 1), 1)), DenyReason::Concurrency);
        b.release(l1, 1.0, "compiled", 2);
        // The greedy node asks first, but the meek one is waiting with fewer leases.
        assert_eq!(denied(&b.acquire(&req("greedy", "f3", 1), 3)), DenyReason::FairShare);
        granted(&b.acquire(&req("meek", "g", 1), 4));
    }

    #[test]
    fn one_pioneer_compiles_first_and_the_others_wait_for_its_outcomes() {
        let c = BudgetConfig { max_concurrent: 8, pioneer: true, pioneer_wait_ms: 1000, outcome_grace_ms: 200, ..config() };
        let mut b = Budget::new(c, 0);
        let l = match b.acquire(&req("a", "hot", 2), 0) {
            Decision::Granted { lease, pioneer: true, .. } => lease,
            d => panic!("{d:?}"),
        };
        match b.acquire(&req("b", "hot", 2), 10) {
            Decision::Denied { reason: DenyReason::PioneerWait, pioneer: Some(p), retry_after_ms } => {
                assert_eq!(p, "a");
                assert_eq!(retry_after_ms, 990);
            }
            d => panic!("{d:?}"),
        }
        // Tier 1 compiles do not speculate: no pioneer for them.
        granted(&b.acquire(&req("b", "hot", 1), 10));
        b.release(l, 5.0, "compiled", 100);
        assert_eq!(denied(&b.acquire(&req("b", "hot", 2), 200)), DenyReason::PioneerWait, "outcomes are still on their way");
        match b.acquire(&req("b", "hot", 2), 300) {
            Decision::Granted { pioneer: false, .. } => {}
            d => panic!("{d:?}"),
        }
    }

    #[test]
    fn a_pioneer_that_fails_or_stalls_does_not_hold_others_forever() {
        let c = BudgetConfig { max_concurrent: 8, pioneer: true, pioneer_wait_ms: 1000, ..config() };
        let mut b = Budget::new(c.clone(), 0);
        let l = granted(&b.acquire(&req("a", "k", 2), 0));
        b.release(l, 1.0, "failed", 5);
        match b.acquire(&req("b", "k", 2), 6) {
            Decision::Granted { pioneer: true, .. } => {}
            d => panic!("a failed pioneer hands over: {d:?}"),
        }
        let mut b = Budget::new(c, 0);
        granted(&b.acquire(&req("a", "k", 2), 0));
        assert_eq!(denied(&b.acquire(&req("b", "k", 2), 999)), DenyReason::PioneerWait);
        granted(&b.acquire(&req("b", "k", 2), 1000));
    }

    #[test]
    fn lowering_the_budget_stops_new_grants_without_revoking() {
        let mut b = Budget::new(BudgetConfig { max_concurrent: 4, ..config() }, 0);
        for k in ["a", "b", "c"] {
            granted(&b.acquire(&req("n", k, 1), 0));
        }
        b.set_config(BudgetConfig { max_concurrent: 2, ..config() }, 0).unwrap();
        assert_eq!(b.active(), 3);
        assert_eq!(denied(&b.acquire(&req("m", "d", 1), 1)), DenyReason::Concurrency);
        assert!(b.set_config(BudgetConfig { max_concurrent: 0, ..config() }, 0).is_err());
    }

    #[test]
    fn bad_requests_are_refused() {
        let mut b = Budget::new(config(), 0);
        assert_eq!(denied(&b.acquire(&req("", "f", 1), 0)), DenyReason::BadRequest);
        assert_eq!(denied(&b.acquire(&Request { cost_ms: f64::NAN, ..req("a", "f", 1) }, 0)), DenyReason::BadRequest);
    }
}
