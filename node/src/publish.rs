//! Which of this node's functions go out on gossip, and when.
//!
//! Gossip state is small and shared by everyone, so a node publishes only
//! its top-K hottest functions, each under a per-value byte cap, all under
//! a per-node byte cap — checked *before* a value is set, because chitchat
//! silently stops gossiping a node whose value passes ~65 KB. And it
//! re-sends a function only when the change matters to a compiler on
//! another node: new type bits, a flipped branch, a new call target, a new
//! tier, a count that doubled. Speculation outcomes skip the rate limit:
//! they are what stops other nodes from taking the same deopt.
//!
//! [`Publisher::plan`] is pure (no chitchat, no clock of its own), so the
//! rules are tested directly.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::time::{Duration, Instant};

use ember_engine::{CompactProfile, FunctionKey};
use ember_proto::profile::log_count;

use crate::config::PublishConfig;

/// Prefix of per-function keys; the rest is the key in hex.
pub const FUNCTION_KEY_PREFIX: &str = "fn:";

/// The gossip key for a function.
pub fn key_name(key: FunctionKey) -> String {
    format!("{FUNCTION_KEY_PREFIX}{key}")
}

/// One change to this node's gossip state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// Set `key` to `value`.
    Set(String, String),
    /// Withdraw `key`.
    Delete(String),
}

/// What publishing has done so far.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct PublishCounters {
    /// Values set (new or changed).
    pub published: u64,
    /// Outcome changes sent ahead of the rate limit.
    pub urgent: u64,
    /// Changes held back by the rate limit.
    pub rate_limited: u64,
    /// Profiles not published: value over `max_value_bytes`.
    pub over_value_cap: u64,
    /// Profiles not published: the node's state would pass `max_node_bytes`.
    pub over_node_cap: u64,
    /// Keys withdrawn (fell out of the top K, or no longer fit).
    pub withdrawn: u64,
    /// Bytes of keys and values set.
    pub bytes_set: u64,
}

#[derive(Clone)]
struct Entry {
    key_name: String,
    bytes: usize,
    fingerprint: u64,
    outcomes: u64,
    at: Instant,
}

/// Tracks what this node has published.
pub struct Publisher {
    config: PublishConfig,
    published: HashMap<FunctionKey, Entry>,
    /// Functions whose value carries the trace context of their compile:
    /// gaining one is a meaningful change (a peer's warm compile links to it).
    traced: std::collections::HashSet<FunctionKey>,
    /// Counters since start.
    pub counters: PublishCounters,
}

fn hash_of(f: impl FnOnce(&mut std::collections::hash_map::DefaultHasher)) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    f(&mut h);
    h.finish()
}

/// What a compiler elsewhere would care about, coarsened: branch bias to
/// eighths, counts to doublings.
fn fingerprint(p: &CompactProfile) -> u64 {
    hash_of(|h| {
        p.site_bits.hash(h);
        p.branch_bias.iter().map(|b| if *b == 0 { 0 } else { 1 + b / 32 }).collect::<Vec<_>>().hash(h);
        p.call_targets.hash(h);
        p.tier.hash(h);
        (log_count(p.calls) / 8).hash(h);
        (log_count(p.back_edges) / 8).hash(h);
    })
}

fn outcomes_fingerprint(p: &CompactProfile) -> u64 {
    hash_of(|h| {
        for o in &p.outcomes {
            (o.site, o.kind as u8, o.failures).hash(h);
        }
    })
}

impl Publisher {
    /// A publisher with nothing published yet.
    pub fn new(config: PublishConfig) -> Publisher {
        Publisher { config, published: HashMap::new(), traced: Default::default(), counters: PublishCounters::default() }
    }

    /// Replaces the knobs (they apply from the next plan).
    pub fn set_config(&mut self, config: PublishConfig) {
        self.config = config;
    }

    /// Which functions' values will carry a compile's trace context.
    pub fn set_traced(&mut self, traced: std::collections::HashSet<FunctionKey>) {
        self.traced = traced;
    }

    /// Functions currently published.
    pub fn published(&self) -> usize {
        self.published.len()
    }

    /// Bytes of keys and values currently published.
    pub fn published_bytes(&self) -> usize {
        self.published.values().map(|e| e.bytes).sum()
    }

    /// Decides the changes for this round. `profiles` is the node's own,
    /// hottest first; `fixed_bytes` is what its other keys take;
    /// `make_value` encodes and signs one profile under a key name.
    pub fn plan(
        &mut self,
        profiles: &[CompactProfile],
        fixed_bytes: usize,
        now: Instant,
        mut make_value: impl FnMut(&str, &CompactProfile) -> String,
    ) -> Vec<Change> {
        let c = &self.config;
        let budget = c.max_node_bytes.saturating_sub(fixed_bytes);
        let min_gap = Duration::from_millis(c.min_republish_ms);
        let refresh = Duration::from_millis(c.refresh_ms);
        let mut used = 0usize;
        let mut changes = Vec::new();
        let mut keep: HashMap<FunctionKey, Entry> = HashMap::new();
        for p in profiles.iter().filter(|p| p.calls + p.back_edges >= c.min_hotness).take(c.top_k) {
            let fp = fingerprint(p) ^ if self.traced.contains(&p.key) { 0x9e37_79b9_7f4a_7c15 } else { 0 };
            let ofp = outcomes_fingerprint(p);
            let old = self.published.remove(&p.key);
            if let Some(old) = &old {
                let age = now.saturating_duration_since(old.at);
                let same = old.fingerprint == fp && old.outcomes == ofp;
                let urgent = old.outcomes != ofp;
                let hold = (same && age < refresh) || (!same && !urgent && age < min_gap);
                if hold && used + old.bytes <= budget {
                    if !same {
                        self.counters.rate_limited += 1;
                    }
                    used += old.bytes;
                    keep.insert(p.key, old.clone());
                    continue;
                }
                if urgent {
                    self.counters.urgent += 1;
                }
            }
            let name = old.as_ref().map_or_else(|| key_name(p.key), |o| o.key_name.clone());
            let value = make_value(&name, p);
            let bytes = name.len() + value.len();
            let fits_value = value.len() <= c.max_value_bytes;
            let fits_node = used + bytes <= budget;
            if !fits_value || !fits_node {
                if !fits_value {
                    self.counters.over_value_cap += 1;
                } else {
                    self.counters.over_node_cap += 1;
                }
                if old.is_some() {
                    // Its stale value would hold bytes the caps no longer allow.
                    self.counters.withdrawn += 1;
                    changes.push(Change::Delete(name));
                }
                continue;
            }
            used += bytes;
            self.counters.published += 1;
            self.counters.bytes_set += bytes as u64;
            changes.push(Change::Set(name.clone(), value));
            keep.insert(p.key, Entry { key_name: name, bytes, fingerprint: fp, outcomes: ofp, at: now });
        }
        for (_, gone) in self.published.drain() {
            self.counters.withdrawn += 1;
            changes.push(Change::Delete(gone.key_name));
        }
        self.published = keep;
        changes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ember_engine::{GuardKind, SpeculationOutcome};

    fn profile(i: u128, calls: u64) -> CompactProfile {
        CompactProfile { key: FunctionKey(i), calls, site_bits: vec![1; 8], ..CompactProfile::default() }
    }

    fn config() -> PublishConfig {
        PublishConfig { top_k: 3, min_hotness: 10, max_value_bytes: 100, max_node_bytes: 1000, ..PublishConfig::default() }
    }

    fn value(_: &str, p: &CompactProfile) -> String {
        format!("v{}-{}", p.calls, p.site_bits.len()) + &"x".repeat(p.site_bits.len())
    }

    fn sets(c: &[Change]) -> usize {
        c.iter().filter(|c| matches!(c, Change::Set(..))).count()
    }

    #[test]
    fn only_the_top_k_hot_enough_functions_go_out_and_the_rest_are_withdrawn() {
        let mut p = Publisher::new(config());
        let t = Instant::now();
        let all: Vec<_> = (0..6).map(|i| profile(i, 1000 - i as u64 * 100)).collect();
        let c = p.plan(&all, 0, t, value);
        assert_eq!(sets(&c), 3);
        assert_eq!(p.published(), 3);
        // Function 5 becomes the hottest; function 2 falls out; 4 is too cold.
        let next = vec![profile(5, 5000), profile(0, 1000), profile(1, 900), profile(2, 800), profile(4, 5)];
        let c = p.plan(&next, 0, t + Duration::from_secs(60), value);
        assert!(c.contains(&Change::Delete(key_name(FunctionKey(2)))), "{c:?}");
        assert!(c.contains(&Change::Set(key_name(FunctionKey(5)), value("", &next[0]))));
        assert_eq!(p.counters.withdrawn, 1);
    }

    #[test]
    fn caps_are_enforced_before_anything_is_set() {
        let mut p = Publisher::new(PublishConfig { max_node_bytes: 150, top_k: 10, ..config() });
        let big = CompactProfile { site_bits: vec![1; 200], ..profile(1, 1000) };
        let c = p.plan(&[big, profile(2, 900), profile(3, 800), profile(4, 700)], 20, Instant::now(), value);
        for ch in &c {
            let Change::Set(k, v) = ch else { panic!() };
            assert!(v.len() <= 100, "value cap");
            assert!(k.len() + v.len() <= 150);
        }
        assert!(p.published_bytes() + 20 <= 150, "node cap, fixed keys included");
        assert_eq!(p.counters.over_value_cap, 1);
        assert!(p.counters.over_node_cap >= 1);
    }

    #[test]
    fn small_changes_wait_and_outcomes_go_out_at_once() {
        let mut p = Publisher::new(PublishConfig { min_republish_ms: 1000, refresh_ms: 10_000, ..config() });
        let t = Instant::now();
        assert_eq!(sets(&p.plan(&[profile(1, 1000)], 0, t, value)), 1);
        // 10% more calls: not a meaningful change.
        assert!(p.plan(&[profile(1, 1100)], 0, t + Duration::from_millis(10), value).is_empty());
        // Twice the calls is meaningful, but inside the rate limit.
        assert!(p.plan(&[profile(1, 4000)], 0, t + Duration::from_millis(20), value).is_empty());
        assert_eq!(p.counters.rate_limited, 1);
        // A new outcome is not held back.
        let with_outcome = CompactProfile {
            outcomes: vec![SpeculationOutcome { site: 0, kind: GuardKind::OperandType, failures: 1 }],
            ..profile(1, 4000)
        };
        assert_eq!(sets(&p.plan(std::slice::from_ref(&with_outcome), 0, t + Duration::from_millis(30), value)), 1);
        assert_eq!(p.counters.urgent, 1);
        // Unchanged values are refreshed only after refresh_ms.
        assert!(p.plan(std::slice::from_ref(&with_outcome), 0, t + Duration::from_secs(5), value).is_empty());
        assert_eq!(sets(&p.plan(&[with_outcome], 0, t + Duration::from_secs(11), value)), 1);
    }
}
