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

use std::collections::HashMap;
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
    /// Key -> the tier asked for.
    pending: HashMap<FunctionKey, u8>,
    /// The last round left hot functions out because warm start already
    /// held its share of the queue: the next compile to finish should
    /// start another round, not wait for the view to change.
    deferred: bool,
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
        WarmStart { config, applied: HashMap::new(), pending: HashMap::new(), deferred: false, counters: WarmCounters::default() }
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
        Self::prune(&mut self.pending, engine);
        self.pending.len()
    }

    /// Whether the last round left hot functions for a later one.
    pub fn deferred(&self) -> bool {
        self.deferred
    }

    /// Drops early compiles that are done or can no longer happen.
    fn prune(pending: &mut HashMap<FunctionKey, u8>, engine: &Engine) {
        pending.retain(|k, want| {
            engine.function_tier(*k).is_some_and(|t| t.tier < *want && t.rejected.is_none() && (*want < 2 || t.tier2_blocked.is_none()))
        });
    }

    /// Tier 2 when a peer reached it and this node may still get there,
    /// else tier 1.
    fn target_tier(reached: u8, local: &ember_engine::FunctionTier) -> u8 {
        if reached >= 2 && local.tier2_blocked.is_none() { 2 } else { 1 }
    }

    /// One round against `view`.
    pub fn apply(&mut self, engine: &Engine, view: &ClusterView) -> WarmRound {
        self.apply_linked(engine, view, |_, _| {})
    }

    /// [`apply`](Self::apply), telling `link` the trace context of the
    /// peer's compile behind each compile it queues *before* queueing it
    /// (`Some`), so the compile's span can link to it however soon it
    /// runs, and taking it back (`None`) when the compile was not queued.
    pub fn apply_linked(
        &mut self,
        engine: &Engine,
        view: &ClusterView,
        mut link: impl FnMut(ember_engine::FunctionKey, Option<crate::codec::TraceContext>),
    ) -> WarmRound {
        let mut round = WarmRound::default();
        if !self.config.enabled {
            return round;
        }
        // Early compiles still waiting hold part of the queue.
        Self::prune(&mut self.pending, engine);
        self.deferred = false;
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
            // The tier the cluster reached: a peer's tier-2 profile (with
            // its outcomes) lets this node compile tier 2 before its first
            // call.
            let want = Self::target_tier(f.profile.tier, &tier);
            if tier.tier >= want || tier.rejected.is_some() || self.pending.contains_key(&f.key) {
                continue;
            }
            if round.queued >= self.config.max_eager_compiles || self.pending.len() >= share {
                self.deferred = true;
                continue;
            }
            if f.trace.is_some() {
                link(f.key, f.trace);
            }
            let queued = engine.compile_now_at(f.key, want);
            if f.trace.is_some() && !matches!(queued, Ok(CompileRequest::Queued)) {
                link(f.key, None);
            }
            match queued {
                Ok(CompileRequest::Queued) => {
                    self.pending.insert(f.key, want);
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
