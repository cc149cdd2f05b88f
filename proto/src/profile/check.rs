//! Well-formedness of a profile message, checked before anything uses it.
//!
//! Gossip carries bytes from every node, and chitchat authenticates none of
//! them; a signature (checked by the node) says who sent a profile, not
//! that it is sane. Every size here is bounded so a hostile or buggy peer
//! cannot make a receiver allocate or loop much, and every enum and length
//! is checked so later code can index without surprises.

use super::{FunctionProfile, GuardKind};

/// Bounds on a profile's parts. The defaults are far above what a real
/// function produces and far below what could hurt a receiver.
#[derive(Clone, Debug)]
pub struct Limits {
    /// The only schema version accepted.
    pub schema: u32,
    /// Most site entries (one byte each).
    pub max_sites: usize,
    /// Most branch entries.
    pub max_branches: usize,
    /// Most call-target pairs.
    pub max_call_targets: usize,
    /// Most speculation outcomes.
    pub max_outcomes: usize,
    /// Longest origin node name, bytes.
    pub max_node_name: usize,
    /// Highest tier number.
    pub max_tier: u32,
}

impl Limits {
    /// Defaults for `schema`.
    pub fn for_schema(schema: u32) -> Limits {
        Limits { schema, max_sites: 4096, max_branches: 4096, max_call_targets: 512, max_outcomes: 256, max_node_name: 128, max_tier: 2 }
    }
}

/// Why a profile was rejected. The `Display` text is one line for logs and
/// counters; [`Reject::label`] is a stable metric label.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reject {
    /// The producer used another schema version.
    Schema { got: u32, want: u32 },
    /// The key is not 16 bytes.
    Key(usize),
    /// A part is longer than its limit.
    TooLong { part: &'static str, len: usize, max: usize },
    /// Call sites and call targets differ in length.
    CallPairs { sites: usize, targets: usize },
    /// An outcome names an unknown guard kind.
    GuardKind(i32),
    /// The tier is out of range.
    Tier(u32),
    /// A trace context with ids of the wrong size.
    Trace,
    /// A count that no u64 could produce.
    Count(u32),
}

impl Reject {
    /// Short stable name, for metrics.
    pub fn label(&self) -> &'static str {
        match self {
            Reject::Schema { .. } => "schema",
            Reject::Key(_) => "key",
            Reject::TooLong { .. } => "too_long",
            Reject::CallPairs { .. } => "call_pairs",
            Reject::GuardKind(_) => "guard_kind",
            Reject::Tier(_) => "tier",
            Reject::Trace => "trace",
            Reject::Count(_) => "count",
        }
    }
}

impl std::fmt::Display for Reject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reject::Schema { got, want } => write!(f, "profile schema {got}, this node reads {want}"),
            Reject::Key(n) => write!(f, "function key of {n} bytes (want 16)"),
            Reject::TooLong { part, len, max } => write!(f, "{part}: {len} entries, at most {max}"),
            Reject::CallPairs { sites, targets } => write!(f, "{sites} call sites but {targets} call targets"),
            Reject::GuardKind(k) => write!(f, "unknown guard kind {k}"),
            Reject::Tier(t) => write!(f, "tier {t} out of range"),
            Reject::Trace => f.write_str("trace context ids must be 16 and 8 bytes"),
            Reject::Count(c) => write!(f, "log count {c} out of range"),
        }
    }
}

impl std::error::Error for Reject {}

/// Largest log count a u64 produces.
const MAX_LOG: u32 = 512;

/// `round(8 · log2(1 + n))`: counts in ~9 % steps; any u64 fits in two
/// varint bytes, and counts below 2^15 in one.
pub fn log_count(n: u64) -> u32 {
    ((n as f64 + 1.0).log2() * 8.0).round() as u32
}

/// The count a log count stands for (the middle of its step).
pub fn unlog_count(l: u32) -> u64 {
    let v = (l.min(MAX_LOG) as f64 / 8.0).exp2() - 1.0;
    if v >= u64::MAX as f64 { u64::MAX } else { v.round() as u64 }
}

/// Checks `p` against `limits`.
pub fn check(p: &FunctionProfile, limits: &Limits) -> Result<(), Reject> {
    if p.schema != limits.schema {
        return Err(Reject::Schema { got: p.schema, want: limits.schema });
    }
    if p.key.len() != 16 {
        return Err(Reject::Key(p.key.len()));
    }
    let long = |part, len: usize, max| if len > max { Err(Reject::TooLong { part, len, max }) } else { Ok(()) };
    long("site_bits", p.site_bits.len(), limits.max_sites)?;
    long("branch_bias", p.branch_bias.len(), limits.max_branches)?;
    long("call_sites", p.call_sites.len(), limits.max_call_targets)?;
    long("outcomes", p.outcomes.len(), limits.max_outcomes)?;
    if p.call_sites.len() != p.call_targets.len() {
        return Err(Reject::CallPairs { sites: p.call_sites.len(), targets: p.call_targets.len() });
    }
    for o in &p.outcomes {
        match GuardKind::try_from(o.kind) {
            Ok(GuardKind::Unspecified) | Err(_) => return Err(Reject::GuardKind(o.kind)),
            Ok(_) => {}
        }
    }
    if p.tier > limits.max_tier {
        return Err(Reject::Tier(p.tier));
    }
    for c in [p.calls_log, p.back_edges_log] {
        if c > MAX_LOG {
            return Err(Reject::Count(c));
        }
    }
    if let Some(o) = &p.origin {
        long("origin.node", o.node.len(), limits.max_node_name)?;
    }
    if let Some(t) = &p.trace
        && (t.trace_id.len() != 16 || t.span_id.len() != 8)
    {
        return Err(Reject::Trace);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::{SpeculationOutcome, TraceContext};

    fn good() -> FunctionProfile {
        FunctionProfile { schema: 1, key: vec![7; 16], calls_log: log_count(1000), ..Default::default() }
    }

    #[test]
    fn log_counts_are_monotonic_within_a_step_and_cover_u64() {
        assert_eq!(log_count(0), 0);
        assert_eq!(unlog_count(0), 0);
        assert!(log_count(u64::MAX) <= MAX_LOG);
        assert_eq!(unlog_count(MAX_LOG), u64::MAX);
        let mut last = 0;
        for n in (0..64).map(|s| 1u64 << s).chain([3, 10, 1000, 123_456_789]) {
            let l = log_count(n);
            let back = unlog_count(l) as f64;
            assert!((back - n as f64).abs() <= n as f64 * 0.05 + 1.0, "{n} -> {l} -> {back}");
            if n.is_power_of_two() {
                assert!(l >= last);
                last = l;
            }
        }
    }

    #[test]
    fn well_formed_passes_and_each_defect_is_named() {
        let lim = Limits::for_schema(1);
        assert_eq!(check(&good(), &lim), Ok(()));
        let cases: Vec<(FunctionProfile, &str)> = vec![
            (FunctionProfile { schema: 2, ..good() }, "schema"),
            (FunctionProfile { key: vec![1; 15], ..good() }, "key"),
            (FunctionProfile { site_bits: vec![1; 5000], ..good() }, "too_long"),
            (FunctionProfile { branch_bias: vec![1; 5000], ..good() }, "too_long"),
            (FunctionProfile { call_sites: vec![1, 2], call_targets: vec![3], ..good() }, "call_pairs"),
            (FunctionProfile { outcomes: vec![SpeculationOutcome { site: 0, kind: 99, failures: 1, nodes: 1 }], ..good() }, "guard_kind"),
            (FunctionProfile { outcomes: vec![SpeculationOutcome { site: 0, kind: 0, failures: 1, nodes: 1 }], ..good() }, "guard_kind"),
            (FunctionProfile { tier: 3, ..good() }, "tier"),
            (FunctionProfile { calls_log: 10_000, ..good() }, "count"),
            (FunctionProfile { trace: Some(TraceContext { trace_id: vec![1; 16], span_id: vec![1; 7], flags: 1 }), ..good() }, "trace"),
        ];
        for (p, label) in cases {
            let r = check(&p, &lim).unwrap_err();
            assert_eq!(r.label(), label, "{r}");
            assert!(!r.to_string().is_empty());
        }
    }
}
