//! Warm start: compile what the cluster finds hot before local traffic
//! could teach this node.
//!
//! Runs when a module is loaded and whenever the cluster view changes. For
//! each function hot enough elsewhere (hottest first) that this node has
//! loaded: seed the engine with the cluster's merged feedback — including
//! the speculation outcomes, so this node's optimizing compiles skip what
//! failed elsewhere — and queue it for compilation at once, within a cap
//! per round and a share of the compile queue. Seeding again happens only
//! when the merged profile changed.

use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};

use ember_engine::{CompileRequest, Engine, FunctionKey};

use crate::config::WarmStartConfig;
use crate::view::ClusterView;

/// What warm start has done since the node started.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct WarmCounters {
    /// Cluster profiles merged into local feedback.
    pub profiles_applied: u64,
    /// Early compiles queued.
    pub compiles_queued: u64,
    /// Profiles the engine refused (they did not fit the local function).
    pub seed_rejected: u64,
    /// Early compiles the engine could not take (queue full, tiering off).
    pub compile_refused: u64,
    /// Last refusal, for operators.
    pub last_error: Option<String>,
}

/// Warm-start state of one node.
pub struct WarmStart {
    config: WarmStartConfig,
    applied: HashMap<FunctionKey, u64>,
    pending: HashSet<FunctionKey>,
    /// Counters since start.
    pub counters: WarmCounters,
}

/// What one round did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WarmRound {
    /// Profiles seeded this round.
    pub applied: usize,
    /// Compiles queued this round.
    pub queued: usize,
    /// The functions queued, with the trace context of the compile that
    /// produced the cluster's profile (for span links).
    pub queued_keys: Vec<(FunctionKey, Option<crate::codec::TraceContext>)>,
    /// Keys the engine refused to seed, with the reason.
    pub rejected: Vec<(FunctionKey, String)>,
}

fn fingerprint(p: &ember_engine::CompactProfile) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (&p.site_bits, &p.branch_bias, &p.call_targets).hash(&mut h);
    for o in &p.outcomes {
        (o.site, o.kind as u8, o.failures).hash(&mut h);
    }
    h.finish()
}

impl WarmStart {
    /// Warm start with `config`.
    pub fn new(config: WarmStartConfig) -> WarmStart {
        WarmStart { config, applied: HashMap::new(), pending: HashSet::new(), counters: WarmCounters::default() }
    }

    /// Current knobs.
    pub fn config(&self) -> &WarmStartConfig {
        &self.config
    }

    /// Replaces the knobs.
    pub fn set_config(&mut self, config: WarmStartConfig) {
        self.config = config;
    }

    /// Early compiles queued and not yet done (or rejected).
    pub fn pending(&mut self, engine: &Engine) -> usize {
        self.pending.retain(|k| engine.function_tier(*k).is_some_and(|t| t.tier == 0 && t.rejected.is_none()));
        self.pending.len()
    }

    /// One round against `view`.
    pub fn apply(&mut self, engine: &Engine, view: &ClusterView) -> WarmRound {
        let mut round = WarmRound::default();
        if !self.config.enabled {
            return round;
        }
        // Early compiles still waiting hold part of the queue.
        self.pending.retain(|k| engine.function_tier(*k).is_some_and(|t| t.tier == 0 && t.rejected.is_none()));
        let capacity = engine.tiering().queue_capacity as f64;
        let share = ((capacity * self.config.budget_share).floor() as usize).max(1);
        for f in view.hottest() {
            if f.hotness < self.config.min_hotness {
                break;
            }
            let Some(tier) = engine.function_tier(f.key) else { continue };
            let fp = fingerprint(&f.profile);
            if self.applied.get(&f.key) != Some(&fp) {
                match engine.seed_profile(&f.profile) {
                    Ok(()) => {
                        self.applied.insert(f.key, fp);
                        self.counters.profiles_applied += 1;
                        round.applied += 1;
                    }
                    Err(e) => {
                        self.counters.seed_rejected += 1;
                        self.applied.insert(f.key, fp);
                        round.rejected.push((f.key, e.to_string()));
                        continue;
                    }
                }
            }
            if tier.tier > 0 || tier.rejected.is_some() || self.pending.contains(&f.key) {
                continue;
            }
            if round.queued >= self.config.max_eager_compiles || self.pending.len() >= share {
                continue;
            }
            match engine.compile_now(f.key) {
                Ok(CompileRequest::Queued) => {
                    self.pending.insert(f.key);
                    self.counters.compiles_queued += 1;
                    round.queued += 1;
                    round.queued_keys.push((f.key, f.trace));
                }
                Ok(_) => {}
                Err(e) => {
                    self.counters.compile_refused += 1;
                    self.counters.last_error = Some(e);
                }
            }
        }
        round
    }
}
