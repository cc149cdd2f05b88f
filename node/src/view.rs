//! The cluster view: what live nodes say about each function, merged.
//!
//! Per function key: counts decay with the age of each report (a function
//! hot an hour ago on one node should not outrank one hot now), type bits
//! are unioned (any node's observation is a type the code must handle),
//! branch bias is averaged weighted by each node's activity, call targets
//! are unioned up to two per site (a third makes the site megamorphic, as
//! it does in an engine), and speculation outcomes keep the largest
//! failure count with the number of nodes that reported them. Only live
//! nodes' newest generations feed the view (see [`crate::receive`]), so a
//! dead node's or an old incarnation's reports leave it by construction.

use std::collections::{BTreeMap, HashMap};

use ember_engine::profile::MEGAMORPHIC;
use ember_engine::{CompactProfile, FunctionKey, SpeculationOutcome};

use crate::codec::{Received, TraceContext};
use crate::receive::PeerProfiles;

/// One node's report about a function.
#[derive(Clone, Debug, serde::Serialize)]
pub struct NodeReport {
    /// Reporting node.
    pub node: String,
    /// Its generation.
    pub generation: u64,
    /// Tier it reached there.
    pub tier: u8,
    /// Calls it reported (log-scale precision).
    pub calls: u64,
    /// Back-edges it reported.
    pub back_edges: u64,
    /// Age of the report when the view was built, ms.
    pub age_ms: u64,
}

/// A function as the cluster sees it.
#[derive(Clone, Debug)]
pub struct ClusterFunction {
    /// Its key.
    pub key: FunctionKey,
    /// Decayed calls + back-edges summed over reporting nodes.
    pub hotness: f64,
    /// The merged feedback (counts summed, undecayed).
    pub profile: CompactProfile,
    /// Each outcome with the number of nodes reporting it.
    pub outcome_nodes: Vec<(SpeculationOutcome, u32)>,
    /// Who reported it.
    pub nodes: Vec<NodeReport>,
    /// Trace context of the highest-tier, hottest report (for span links).
    pub trace: Option<TraceContext>,
}

/// Merged profiles of every live peer.
#[derive(Clone, Debug, Default)]
pub struct ClusterView {
    /// Functions by key.
    pub functions: BTreeMap<FunctionKey, ClusterFunction>,
    /// Nodes that contributed.
    pub nodes: usize,
    /// When it was built, Unix ms.
    pub built_at_ms: u64,
}

impl ClusterView {
    /// Merges `peers`' profiles (and `extra` reports, e.g. a loaded
    /// snapshot, under their own node names) as of `now_ms`.
    pub fn build(peers: &[PeerProfiles], extra: &[(String, Received)], now_ms: u64, half_life_ms: u64) -> ClusterView {
        let mut by_key: BTreeMap<FunctionKey, Vec<(String, u64, &Received)>> = BTreeMap::new();
        for peer in peers {
            for r in peer.profiles.values() {
                by_key.entry(r.profile.key).or_default().push((peer.id.node_id.to_string(), peer.id.generation_id, r));
            }
        }
        for (node, r) in extra {
            by_key.entry(r.profile.key).or_default().push((node.clone(), 0, r));
        }
        let functions = by_key.into_iter().map(|(k, reports)| (k, merge(k, &reports, now_ms, half_life_ms))).collect();
        ClusterView { functions, nodes: peers.len() + usize::from(!extra.is_empty()), built_at_ms: now_ms }
    }

    /// Functions by decreasing cluster hotness.
    pub fn hottest(&self) -> Vec<&ClusterFunction> {
        let mut v: Vec<&ClusterFunction> = self.functions.values().collect();
        v.sort_by(|a, b| b.hotness.total_cmp(&a.hotness));
        v
    }
}

/// One branch's bias across nodes: weighted by activity, but a side any
/// node saw taken stays possible (the merged bias never lands on the
/// *never* or *always* end that tier 2 drops a side on).
#[derive(Clone, Copy, Default)]
struct BiasSum {
    sum: f64,
    weight: f64,
    ever_taken: bool,
    ever_not_taken: bool,
}

impl BiasSum {
    fn merged(&self) -> u8 {
        if self.weight == 0.0 {
            return 0;
        }
        let lo = if self.ever_taken { 2.0 } else { 1.0 };
        let hi = if self.ever_not_taken { 254.0 } else { 255.0 };
        (self.sum / self.weight).round().clamp(lo, hi) as u8
    }
}

fn merge(key: FunctionKey, reports: &[(String, u64, &Received)], now_ms: u64, half_life_ms: u64) -> ClusterFunction {
    let mut merged = CompactProfile { key, ..CompactProfile::default() };
    let mut hotness = 0.0;
    let mut bias_sum: Vec<BiasSum> = Vec::new();
    let mut targets: BTreeMap<u32, Vec<u64>> = BTreeMap::new();
    let mut outcomes: HashMap<(u32, ember_engine::GuardKind), (SpeculationOutcome, u32)> = HashMap::new();
    let mut nodes = Vec::new();
    let mut best: Option<(u8, u64, Option<TraceContext>)> = None;
    for (node, generation, r) in reports {
        let p = &r.profile;
        let at = r.origin.as_ref().map_or(now_ms, |o| o.timestamp_ms);
        let age = now_ms.saturating_sub(at);
        let decay = 0.5f64.powf(age as f64 / half_life_ms.max(1) as f64);
        let activity = (p.calls + p.back_edges) as f64;
        hotness += activity * decay;
        merged.calls = merged.calls.saturating_add(p.calls);
        merged.back_edges = merged.back_edges.saturating_add(p.back_edges);
        merged.tier = merged.tier.max(p.tier);
        merged.compile_us = merged.compile_us.max(p.compile_us);
        if merged.site_bits.len() < p.site_bits.len() {
            merged.site_bits.resize(p.site_bits.len(), 0);
        }
        for (m, b) in merged.site_bits.iter_mut().zip(&p.site_bits) {
            *m |= b;
        }
        if bias_sum.len() < p.branch_bias.len() {
            bias_sum.resize(p.branch_bias.len(), BiasSum::default());
        }
        for (s, &b) in bias_sum.iter_mut().zip(&p.branch_bias) {
            if b != 0 {
                let w = activity + 1.0;
                s.sum += b as f64 * w;
                s.weight += w;
                s.ever_taken |= b > 1;
                s.ever_not_taken |= b < 255;
            }
        }
        for &(site, t) in &p.call_targets {
            let seen = targets.entry(site).or_default();
            if seen.contains(&t) || seen.first() == Some(&MEGAMORPHIC) {
                continue;
            }
            if t == MEGAMORPHIC || seen.len() == 2 {
                *seen = vec![MEGAMORPHIC];
            } else {
                seen.push(t);
            }
        }
        for o in &p.outcomes {
            let e = outcomes.entry((o.site, o.kind)).or_insert((o.clone(), 0));
            e.0.failures = e.0.failures.max(o.failures);
            e.1 += 1;
        }
        let rank = (p.tier, p.calls + p.back_edges);
        if best.as_ref().is_none_or(|b| (b.0, b.1) < rank) {
            best = Some((rank.0, rank.1, r.trace));
        }
        nodes.push(NodeReport {
            node: node.clone(),
            generation: *generation,
            tier: p.tier,
            calls: p.calls,
            back_edges: p.back_edges,
            age_ms: age,
        });
    }
    merged.branch_bias = bias_sum.iter().map(BiasSum::merged).collect();
    merged.call_targets = targets.into_iter().flat_map(|(site, ts)| ts.into_iter().map(move |t| (site, t))).collect();
    let mut outcome_nodes: Vec<(SpeculationOutcome, u32)> = outcomes.into_values().collect();
    outcome_nodes.sort_by_key(|(o, _)| (o.site, o.kind as u8));
    merged.outcomes = outcome_nodes.iter().map(|(o, _)| o.clone()).collect();
    ClusterFunction { key, hotness, profile: merged, outcome_nodes, nodes, trace: best.and_then(|b| b.2) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::Origin;
    use chitchat::ChitchatId;
    use ember_engine::GuardKind;

    fn report(node: &str, calls: u64, at: u64, p: CompactProfile) -> PeerProfiles {
        let r = Received {
            profile: CompactProfile { calls, ..p },
            origin: Some(Origin { node: node.into(), generation: 1, timestamp_ms: at }),
            trace: None,
        };
        PeerProfiles { id: ChitchatId::new(node, 1, ([127, 0, 0, 1], 1).into()), profiles: [(r.profile.key, r)].into_iter().collect() }
    }

    #[test]
    fn reports_merge_by_union_weighted_bias_and_node_counts() {
        let k = FunctionKey(9);
        let o = |f| SpeculationOutcome { site: 2, kind: GuardKind::OperandType, failures: f };
        let a = CompactProfile {
            key: k,
            site_bits: vec![0x11, 0],
            branch_bias: vec![255],
            call_targets: vec![(1, 5), (3, 7), (4, 7)],
            outcomes: vec![o(3)],
            ..Default::default()
        };
        let b = CompactProfile {
            key: k,
            site_bits: vec![0x21, 0x04, 0x01],
            branch_bias: vec![1],
            call_targets: vec![(1, 5), (3, 8), (4, 8), (4, 9)],
            outcomes: vec![o(5)],
            tier: 1,
            ..Default::default()
        };
        let now = 1_000_000;
        let v = ClusterView::build(&[report("a", 3000, now, a), report("b", 1000, now, b)], &[], now, 60_000);
        let f = &v.functions[&k];
        assert_eq!(f.profile.site_bits, vec![0x31, 0x04, 0x01]);
        // 3000 calls say "always", 1000 say "never": about 3/4 taken.
        assert!((f.profile.branch_bias[0] as i32 - 192).abs() <= 2, "{:?}", f.profile.branch_bias);
        // Two callees at a site are kept (in the order seen); three are
        // megamorphic.
        assert_eq!(f.profile.call_targets, vec![(1, 5), (3, 7), (3, 8), (4, MEGAMORPHIC)]);
        assert_eq!(f.outcome_nodes, vec![(o(5), 2)]);
        assert_eq!(f.profile.tier, 1);
        assert_eq!(f.nodes.len(), 2);
        assert!((f.hotness - 4000.0).abs() < 1.0);
    }

    #[test]
    fn a_branch_side_one_node_took_stays_off_the_never_end() {
        let k = FunctionKey(4);
        // A busy node never took the branch; a quiet one took it rarely.
        let never = CompactProfile { key: k, branch_bias: vec![1, 255], ..Default::default() };
        let rarely = CompactProfile { key: k, branch_bias: vec![2, 254], ..Default::default() };
        let now = 1_000_000;
        let v = ClusterView::build(&[report("a", 100_000, now, never.clone()), report("b", 10, now, rarely)], &[], now, 60_000);
        assert_eq!(v.functions[&k].profile.branch_bias, vec![2, 254]);
        // Alone, "never" and "always" stay what they are.
        let v = ClusterView::build(&[report("a", 100_000, now, never)], &[], now, 60_000);
        assert_eq!(v.functions[&k].profile.branch_bias, vec![1, 255]);
    }

    #[test]
    fn old_reports_count_less() {
        let k = FunctionKey(1);
        let p = CompactProfile { key: k, ..Default::default() };
        let now = 10_000_000;
        let v = ClusterView::build(&[report("a", 1000, now - 60_000, p.clone())], &[], now, 60_000);
        assert!((v.functions[&k].hotness - 500.0).abs() < 1.0, "one half-life old: half the hotness");
        let v = ClusterView::build(&[report("a", 1000, now + 5_000, p)], &[], now, 60_000);
        assert!((v.functions[&k].hotness - 1000.0).abs() < 1.0, "a clock ahead of ours is not a bonus");
    }
}
