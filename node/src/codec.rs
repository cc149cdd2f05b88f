//! Engine profiles to wire messages and back.
//!
//! The engine speaks [`CompactProfile`] (exact counts, its own enums); the
//! wire speaks `ember.profile.v1.FunctionProfile` (log-scaled counts, proto
//! enums, origin and trace context). Decoding checks the message with
//! [`ember_proto::profile::check`] first, so whatever reaches the engine is
//! well formed; whether it *fits* the local function is the engine's check
//! ([`ember_engine::Engine::seed_profile`]).

use ember_engine::{CompactProfile, FunctionKey, GuardKind, PROFILE_SCHEMA_VERSION, SpeculationOutcome};
use ember_proto::profile as wire;
use prost::Message;

use crate::DropReason;

/// Who produced a profile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    /// Node id.
    pub node: String,
    /// The node's generation (start time, ms).
    pub generation: u64,
    /// When the profile was taken, Unix ms.
    pub timestamp_ms: u64,
}

/// A W3C trace context (binary): the compile that produced a profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceContext {
    /// 16-byte trace id.
    pub trace_id: [u8; 16],
    /// 8-byte span id.
    pub span_id: [u8; 8],
    /// Trace flags (bit 0: sampled).
    pub flags: u8,
}

/// A decoded profile: the engine's part plus where it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Received {
    /// What the engine can seed from. Counts are the log scale's midpoints.
    pub profile: CompactProfile,
    /// The producer, if it said.
    pub origin: Option<Origin>,
    /// The producing compile's trace context, if any.
    pub trace: Option<TraceContext>,
}

fn guard_to_wire(k: GuardKind) -> wire::GuardKind {
    match k {
        GuardKind::OperandType => wire::GuardKind::OperandType,
        GuardKind::ArrayBounds => wire::GuardKind::ArrayBounds,
        GuardKind::FieldSlot => wire::GuardKind::FieldSlot,
        GuardKind::CallTarget => wire::GuardKind::CallTarget,
        GuardKind::ColdBranch => wire::GuardKind::ColdBranch,
        GuardKind::GlobalBinding => wire::GuardKind::GlobalBinding,
        GuardKind::Metatable => wire::GuardKind::Metatable,
    }
}

fn guard_from_wire(k: wire::GuardKind) -> Option<GuardKind> {
    Some(match k {
        wire::GuardKind::Unspecified => return None,
        wire::GuardKind::OperandType => GuardKind::OperandType,
        wire::GuardKind::ArrayBounds => GuardKind::ArrayBounds,
        wire::GuardKind::FieldSlot => GuardKind::FieldSlot,
        wire::GuardKind::CallTarget => GuardKind::CallTarget,
        wire::GuardKind::ColdBranch => GuardKind::ColdBranch,
        wire::GuardKind::GlobalBinding => GuardKind::GlobalBinding,
        wire::GuardKind::Metatable => GuardKind::Metatable,
    })
}

/// The wire message for `p`. `nodes` fills each outcome's reporting-node
/// count (1 for a node's own outcomes).
pub fn to_wire(p: &CompactProfile, origin: Option<&Origin>, trace: Option<&TraceContext>) -> wire::FunctionProfile {
    wire::FunctionProfile {
        schema: PROFILE_SCHEMA_VERSION,
        key: p.key.0.to_be_bytes().to_vec(),
        calls_log: wire::log_count(p.calls),
        back_edges_log: wire::log_count(p.back_edges),
        site_bits: p.site_bits.clone(),
        branch_bias: p.branch_bias.clone(),
        call_sites: p.call_targets.iter().map(|t| t.0).collect(),
        call_targets: p.call_targets.iter().map(|t| t.1).collect(),
        outcomes: p
            .outcomes
            .iter()
            .map(|o| wire::SpeculationOutcome { site: o.site, kind: guard_to_wire(o.kind) as i32, failures: o.failures, nodes: 1 })
            .collect(),
        tier: p.tier as u32,
        compile_us: p.compile_us,
        origin: origin.map(|o| wire::Origin { node: o.node.clone(), generation: o.generation, timestamp_ms: o.timestamp_ms }),
        trace: trace.map(|t| wire::TraceContext { trace_id: t.trace_id.to_vec(), span_id: t.span_id.to_vec(), flags: t.flags as u32 }),
    }
}

/// Encodes `p` as protobuf bytes.
pub fn encode(p: &CompactProfile, origin: Option<&Origin>, trace: Option<&TraceContext>) -> Vec<u8> {
    to_wire(p, origin, trace).encode_to_vec()
}

/// Decodes and checks a profile message.
pub fn decode(bytes: &[u8]) -> Result<Received, DropReason> {
    let w = wire::FunctionProfile::decode(bytes).map_err(|e| DropReason::Undecodable(e.to_string()))?;
    from_wire(&w)
}

/// Checks a decoded message and maps it to engine types.
pub fn from_wire(w: &wire::FunctionProfile) -> Result<Received, DropReason> {
    wire::check(w, &wire::Limits::for_schema(PROFILE_SCHEMA_VERSION)).map_err(DropReason::Invalid)?;
    let key = FunctionKey(u128::from_be_bytes(w.key.as_slice().try_into().expect("check: 16 bytes")));
    let outcomes = w
        .outcomes
        .iter()
        .map(|o| SpeculationOutcome {
            site: o.site,
            kind: guard_from_wire(wire::GuardKind::try_from(o.kind).expect("check: known kind")).expect("check: specified"),
            failures: o.failures,
        })
        .collect();
    let profile = CompactProfile {
        key,
        calls: wire::unlog_count(w.calls_log),
        back_edges: wire::unlog_count(w.back_edges_log),
        site_bits: w.site_bits.clone(),
        branch_bias: w.branch_bias.clone(),
        call_targets: w.call_sites.iter().copied().zip(w.call_targets.iter().copied()).collect(),
        outcomes,
        tier: w.tier as u8,
        compile_us: w.compile_us,
    };
    let origin = w.origin.as_ref().map(|o| Origin { node: o.node.clone(), generation: o.generation, timestamp_ms: o.timestamp_ms });
    let trace = w.trace.as_ref().map(|t| TraceContext {
        trace_id: t.trace_id.as_slice().try_into().expect("check: 16 bytes"),
        span_id: t.span_id.as_slice().try_into().expect("check: 8 bytes"),
        flags: t.flags as u8,
    });
    Ok(Received { profile, origin, trace })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> CompactProfile {
        CompactProfile {
            key: FunctionKey(0x0123_4567_89ab_cdef_0011_2233_4455_6677),
            calls: 123_456,
            back_edges: 9_876_543,
            site_bits: vec![0x11, 0x22, 0, 0x41, 0x24],
            branch_bias: vec![0, 200, 1],
            call_targets: vec![(3, 0xdead_beef), (4, u64::MAX)],
            outcomes: vec![SpeculationOutcome { site: 1, kind: GuardKind::ArrayBounds, failures: 4 }],
            tier: 1,
            compile_us: 850,
        }
    }

    #[test]
    fn round_trip_keeps_everything_but_exact_counts() {
        let origin = Origin { node: "node-1".into(), generation: 1_764_000_000_000, timestamp_ms: 1_764_000_123_456 };
        let trace = TraceContext { trace_id: [9; 16], span_id: [3; 8], flags: 1 };
        let bytes = encode(&sample(), Some(&origin), Some(&trace));
        let got = decode(&bytes).unwrap();
        let mut want = sample();
        want.calls = got.profile.calls;
        want.back_edges = got.profile.back_edges;
        assert_eq!(got.profile, want);
        assert!((got.profile.calls as f64 / 123_456.0 - 1.0).abs() < 0.05);
        assert!((got.profile.back_edges as f64 / 9_876_543.0 - 1.0).abs() < 0.05);
        assert_eq!(got.origin, Some(origin));
        assert_eq!(got.trace, Some(trace));
    }

    #[test]
    fn garbage_and_malformed_messages_are_dropped_with_a_reason() {
        assert!(matches!(decode(&[0xff, 0xff, 0xff]), Err(DropReason::Undecodable(_))));
        let mut w = to_wire(&sample(), None, None);
        w.key.pop();
        assert!(matches!(from_wire(&w), Err(DropReason::Invalid(_))));
        let mut w = to_wire(&sample(), None, None);
        w.schema += 1;
        assert_eq!(from_wire(&w).unwrap_err().label(), "schema");
    }
}
