//! Property tests of the budget core: no sequence of acquires, releases,
//! expiries and budget changes grants beyond the budget, the books always
//! balance, and a node that keeps asking is never starved.

use ember_coordinator::budget::{Budget, BudgetConfig, Decision, Priority, Request};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    Acquire { node: u8, key: u8, tier: u32, cost: u8, urgent: bool },
    Release { pick: usize, actual: u8, failed: bool },
    Advance(u16),
    SetMax(u32),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..4, 0u8..6, 1u32..=2, 0u8..40, any::<bool>())
            .prop_map(|(node, key, tier, cost, urgent)| Op::Acquire { node, key, tier, cost, urgent }),
        2 => (any::<usize>(), 0u8..60, any::<bool>()).prop_map(|(pick, actual, failed)| Op::Release { pick, actual, failed }),
        2 => (0u16..3000).prop_map(Op::Advance),
        1 => (1u32..6).prop_map(Op::SetMax),
    ]
}

fn config(max: u32) -> BudgetConfig {
    BudgetConfig {
        max_concurrent: max,
        reserved_for_priority: if max > 1 { 1 } else { 0 },
        cpu_ms_per_s: 100.0,
        burst_ms: 60.0,
        lease_ttl_ms: 2000,
        pioneer_wait_ms: 1500,
        outcome_grace_ms: 300,
        ..BudgetConfig::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn grants_never_exceed_the_budget_and_the_books_balance(max in 1u32..5, ops in proptest::collection::vec(op(), 1..200)) {
        let mut b = Budget::new(config(max), 0);
        let mut now = 0u64;
        let mut held: Vec<u64> = Vec::new();
        for op in ops {
            match op {
                Op::Acquire { node, key, tier, cost, urgent } => {
                    let r = Request {
                        node: format!("n{node}"),
                        key: format!("k{key}"),
                        tier,
                        cost_ms: cost as f64,
                        priority: if urgent { Priority::WarmStart } else { Priority::Normal },
                    };
                    let before = b.active();
                    if let Decision::Granted { lease, .. } = b.acquire(&r, now) {
                        let limit = b.config().max_concurrent;
                        prop_assert!(b.active() <= limit, "granted past the budget: {} > {limit}", b.active());
                        if !urgent {
                            prop_assert!(b.active() <= limit - b.config().reserved_for_priority, "a normal compile took a reserved slot");
                        }
                        prop_assert!(b.active() <= before + 1);
                        held.push(lease);
                    }
                }
                Op::Release { pick, actual, failed } => {
                    if !held.is_empty() {
                        let lease = held.swap_remove(pick % held.len());
                        b.release(lease, actual as f64, if failed { "failed" } else { "compiled" }, now);
                    }
                }
                Op::Advance(ms) => {
                    now += ms as u64;
                    b.expire(now);
                }
                Op::SetMax(m) => {
                    b.set_config(config(m), now).unwrap();
                }
            }
            let per_node: u32 = b.nodes().values().map(|n| n.active).sum();
            prop_assert_eq!(per_node, b.active(), "per-node counts match the leases");
            prop_assert_eq!(b.leases().filter(|l| l.expires_at <= now).count(), 0, "no lease outlives its TTL");
            let tokens = b.tokens(now);
            prop_assert!(tokens <= b.config().burst_ms + 1e-9 && tokens >= -b.config().burst_ms - 1e-9);
        }
    }

    #[test]
    fn without_releases_granted_cpu_stays_within_burst_plus_rate(ops in proptest::collection::vec(op(), 1..200)) {
        let c = BudgetConfig { max_concurrent: 50, reserved_for_priority: 0, pioneer: false, fair_share: false, ..config(50) };
        let mut b = Budget::new(c.clone(), 0);
        let mut now = 0u64;
        let mut granted_ms = 0.0;
        for op in ops {
            match op {
                Op::Acquire { node, key, cost, .. } => {
                    let r = Request { node: format!("n{node}"), key: format!("k{key}"), tier: 1, cost_ms: cost as f64, priority: Priority::Normal };
                    if let Decision::Granted { .. } = b.acquire(&r, now) {
                        granted_ms += (cost as f64).min(c.burst_ms);
                    }
                }
                Op::Advance(ms) => now += ms as u64,
                _ => {}
            }
            let allowed = c.burst_ms + c.cpu_ms_per_s * now as f64 / 1000.0;
            prop_assert!(granted_ms <= allowed + 1e-6, "{granted_ms} ms granted by t={now}, only {allowed} allowed");
        }
    }

    #[test]
    fn a_node_that_keeps_asking_is_never_starved(
        max in 1u32..4,
        nodes in 2usize..6,
        hold in 1usize..6,
        greedy_first in any::<bool>(),
    ) {
        let c = BudgetConfig { max_concurrent: max, reserved_for_priority: 0, pioneer: false, cpu_ms_per_s: 1e6, burst_ms: 1e6, ..BudgetConfig::default() };
        let mut b = Budget::new(c, 0);
        let mut grants = vec![0u32; nodes];
        let mut last_grant = vec![0usize; nodes];
        let mut held: Vec<(usize, u64)> = Vec::new();
        let steps = 300;
        for step in 0..steps {
            let now = step as u64 * 10;
            held.retain(|&(at, lease)| {
                if step - at >= hold {
                    b.release(lease, 1.0, "compiled", now);
                    false
                } else {
                    true
                }
            });
            // Every node asks every step; node 0 always asks first when
            // greedy_first, else the order rotates.
            for i in 0..nodes {
                let n = if greedy_first { i } else { (i + step) % nodes };
                let r = Request { node: format!("n{n}"), key: format!("k{step}-{n}"), tier: 1, cost_ms: 1.0, priority: Priority::Normal };
                if let Decision::Granted { lease, .. } = b.acquire(&r, now) {
                    grants[n] += 1;
                    last_grant[n] = step;
                    held.push((step, lease));
                }
            }
        }
        let total: u32 = grants.iter().sum();
        let fair = total as f64 / nodes as f64;
        for (n, &g) in grants.iter().enumerate() {
            prop_assert!(g as f64 >= fair * 0.5, "node {n} got {g} of {total} grants ({grants:?})");
            prop_assert!(steps - last_grant[n] <= (hold + 1) * nodes + 2, "node {n} last granted at step {}", last_grant[n]);
        }
    }
}
