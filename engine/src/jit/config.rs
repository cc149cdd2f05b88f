//! Tiering knobs: one serde struct, three presets, validation.
//!
//! Every field can be changed on a running engine
//! ([`Engine::set_tiering`](crate::Engine::set_tiering)); states pick the
//! change up at their next invocation, compile workers at once. The knob
//! reference (names, per-policy defaults, effects) is `docs/tiering.md`.

use serde::{Deserialize, Serialize};

/// Which tiers run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TierMode {
    /// Tier 0 only: never compile.
    Interpreter,
    /// Compile every function at tier 1 on its first call, on the calling
    /// thread (`ember run --tier 1`).
    Baseline,
    /// Compile every function at tier 2 on its first call, on the calling
    /// thread, from whatever feedback exists (`ember run --tier 2`):
    /// correctness then rests on guards and deoptimization.
    Optimizing,
    /// Hotness-driven tiering under the policy's thresholds.
    Auto,
}

/// A named set of defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Policy {
    /// Compile early, with more workers; invoking threads may compile.
    Throughput,
    /// Background-only compilation that backs off while invocation p99 is
    /// above the latency target.
    Latency,
    /// In between (the default).
    Balanced,
}

impl std::str::FromStr for Policy {
    type Err = String;
    fn from_str(s: &str) -> Result<Policy, String> {
        match s {
            "throughput" => Ok(Policy::Throughput),
            "latency" => Ok(Policy::Latency),
            "balanced" => Ok(Policy::Balanced),
            other => Err(format!("unknown policy '{other}' (expected throughput, latency or balanced)")),
        }
    }
}

/// Every tiering knob. See `docs/tiering.md` for each one's effect.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TieringConfig {
    /// Which tiers run.
    pub mode: TierMode,
    /// The preset these values started from (informational).
    pub policy: Policy,
    /// Hotness at which a function is queued for tier 1.
    pub tier1_threshold: u64,
    /// Hotness at which a function running tier-1 code is queued for tier 2.
    pub tier2_threshold: u64,
    /// Failures of one speculation after which the function is compiled
    /// again without it.
    pub deopt_limit: u32,
    /// Tier-2 recompiles after which a function that keeps deoptimizing is
    /// pinned to tier 1.
    pub recompile_limit: u32,
    /// Hotness a call adds; a loop back-edge adds 1.
    pub call_weight: u64,
    /// Background compile threads (0: none).
    pub workers: usize,
    /// Longest compile queue; requests beyond it are dropped (or compiled
    /// on the invoking thread when that is allowed).
    pub queue_capacity: usize,
    /// Code-cache limit in bytes (whole pages per unit); cold units are
    /// evicted past it.
    pub code_cache_bytes: usize,
    /// Whether a thread running Lua may compile itself when the queue is
    /// full or there are no workers.
    pub compile_on_invoking_thread: bool,
    /// Invocation p99 the adaptive controller defends, in microseconds
    /// (0: no controller).
    pub latency_target_us: u64,
    /// Invocations in the controller's sliding window.
    pub latency_window: usize,
    /// Paused workers resume when p99 falls below target × this (hysteresis).
    pub resume_ratio: f64,
    /// Longest a paused worker waits before compiling one unit anyway.
    pub max_pause_ms: u64,
}

impl Default for TieringConfig {
    fn default() -> Self {
        TieringConfig::preset(Policy::Balanced)
    }
}

impl TieringConfig {
    /// The defaults of `policy` (mode `auto`).
    pub fn preset(policy: Policy) -> TieringConfig {
        let base = TieringConfig {
            mode: TierMode::Auto,
            policy,
            tier1_threshold: 2_000,
            tier2_threshold: 50_000,
            deopt_limit: 8,
            recompile_limit: 4,
            call_weight: 8,
            workers: 1,
            queue_capacity: 256,
            code_cache_bytes: 64 << 20,
            compile_on_invoking_thread: true,
            latency_target_us: 0,
            latency_window: 512,
            resume_ratio: 0.8,
            max_pause_ms: 1_000,
        };
        match policy {
            Policy::Balanced => base,
            Policy::Throughput => TieringConfig { tier1_threshold: 500, tier2_threshold: 20_000, workers: 2, queue_capacity: 1024, ..base },
            Policy::Latency => TieringConfig {
                tier1_threshold: 5_000,
                tier2_threshold: 100_000,
                workers: 1,
                queue_capacity: 128,
                compile_on_invoking_thread: false,
                latency_target_us: 2_000,
                ..base
            },
        }
    }

    /// A configuration that can run, or why not.
    pub fn validate(&self) -> Result<(), String> {
        if self.mode == TierMode::Auto && self.workers == 0 && !self.compile_on_invoking_thread {
            return Err("mode auto needs workers > 0 or compile_on_invoking_thread".into());
        }
        if self.workers > 64 {
            return Err(format!("workers = {} (at most 64)", self.workers));
        }
        if self.call_weight == 0 || self.tier1_threshold == 0 || self.tier2_threshold == 0 {
            return Err("call_weight, tier1_threshold and tier2_threshold must be at least 1".into());
        }
        if self.deopt_limit == 0 {
            return Err("deopt_limit must be at least 1".into());
        }
        if self.code_cache_bytes < 4096 {
            return Err(format!("code_cache_bytes = {} (at least one 4096-byte page)", self.code_cache_bytes));
        }
        if !(0.0..=1.0).contains(&self.resume_ratio) {
            return Err(format!("resume_ratio = {} (expected 0..=1)", self.resume_ratio));
        }
        if self.latency_window == 0 || self.latency_window > 1 << 16 {
            return Err(format!("latency_window = {} (expected 1..=65536)", self.latency_window));
        }
        Ok(())
    }

    /// Sets one knob from text (`workers=4`), as `emberctl policy set` and
    /// `ember run --tiering` do.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        let bad = |e: &dyn std::fmt::Display| format!("{key}: {e}");
        match key {
            "mode" => {
                self.mode = match value {
                    "interpreter" | "0" => TierMode::Interpreter,
                    "baseline" | "1" => TierMode::Baseline,
                    "optimizing" | "2" => TierMode::Optimizing,
                    "auto" => TierMode::Auto,
                    v => return Err(format!("mode: unknown '{v}' (interpreter, baseline, optimizing, auto)")),
                }
            }
            "policy" => *self = TieringConfig { mode: self.mode, ..TieringConfig::preset(value.parse()?) },
            "tier1_threshold" => self.tier1_threshold = value.parse().map_err(|e| bad(&e))?,
            "tier2_threshold" => self.tier2_threshold = value.parse().map_err(|e| bad(&e))?,
            "deopt_limit" => self.deopt_limit = value.parse().map_err(|e| bad(&e))?,
            "recompile_limit" => self.recompile_limit = value.parse().map_err(|e| bad(&e))?,
            "call_weight" => self.call_weight = value.parse().map_err(|e| bad(&e))?,
            "workers" => self.workers = value.parse().map_err(|e| bad(&e))?,
            "queue_capacity" => self.queue_capacity = value.parse().map_err(|e| bad(&e))?,
            "code_cache_bytes" => self.code_cache_bytes = value.parse().map_err(|e| bad(&e))?,
            "compile_on_invoking_thread" => self.compile_on_invoking_thread = value.parse().map_err(|e| bad(&e))?,
            "latency_target_us" => self.latency_target_us = value.parse().map_err(|e| bad(&e))?,
            "latency_window" => self.latency_window = value.parse().map_err(|e| bad(&e))?,
            "resume_ratio" => self.resume_ratio = value.parse().map_err(|e| bad(&e))?,
            "max_pause_ms" => self.max_pause_ms = value.parse().map_err(|e| bad(&e))?,
            other => return Err(format!("unknown tiering knob '{other}'")),
        }
        self.validate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_are_valid_and_differ() {
        for p in [Policy::Throughput, Policy::Latency, Policy::Balanced] {
            TieringConfig::preset(p).validate().unwrap();
        }
        assert!(!TieringConfig::preset(Policy::Latency).compile_on_invoking_thread);
        assert!(TieringConfig::preset(Policy::Throughput).tier1_threshold < TieringConfig::preset(Policy::Balanced).tier1_threshold);
    }

    #[test]
    fn set_parses_and_rejects() {
        let mut c = TieringConfig::default();
        c.set("workers", "3").unwrap();
        assert_eq!(c.workers, 3);
        assert!(c.set("workers", "lots").unwrap_err().contains("workers"));
        assert!(c.set("nope", "1").unwrap_err().contains("unknown tiering knob"));
        c.set("policy", "latency").unwrap();
        assert_eq!(c.latency_target_us, 2_000);
        let mut c = TieringConfig { workers: 0, ..TieringConfig::default() };
        assert!(c.set("compile_on_invoking_thread", "false").is_err());
    }

    #[test]
    fn toml_like_round_trip() {
        let c = TieringConfig::preset(Policy::Throughput);
        let s = serde_json::to_string(&c).unwrap();
        let back: TieringConfig = serde_json::from_str(&s).unwrap();
        assert_eq!(c, back);
        let partial: TieringConfig = serde_json::from_str(r#"{"workers": 3}"#).unwrap();
        assert_eq!(partial.workers, 3);
        assert!(serde_json::from_str::<TieringConfig>(r#"{"wrokers": 3}"#).is_err());
    }
}
