//! # ember-node
//!
//! A member of an Ember cluster: an [`ember_engine::Engine`] plus what makes
//! a fleet of them warm up together. Today that is the gossip layer:
//!
//! - [`codec`] — engine profiles to `ember.profile.v1` messages and back;
//! - [`signing`] — HMAC-signed gossip values (chitchat authenticates nothing);
//! - [`publish`] — which of this node's hot functions go out, under per-value
//!   and per-node byte caps, and when a change is worth re-sending;
//! - [`receive`] — reading peers' values: verify, decode, check, count drops;
//! - [`view`] — the cluster view: live nodes' profiles merged per function;
//! - [`warm`] — warm start: seed and compile what is hot elsewhere before
//!   local traffic arrives;
//! - [`snapshot`] — profiles on local disk, so a restarted node warms alone;
//! - [`cluster`] — [`ClusterNode`], which runs all of the above over chitchat;
//! - [`lease`] — the compile-budget client: leases from the coordinator,
//!   a local fallback budget when it is unreachable;
//! - [`pool`], [`service`], [`settings`] — the worker pool, the gRPC
//!   `NodeService` and the configuration of the `ember-node` binary.
//!
//! Nothing here can
//! change a Lua result: a profile only decides what gets compiled early and
//! from which feedback, and compiled code guards everything it assumes.

pub mod cli;
pub mod cluster;
pub mod codec;
pub mod config;
pub mod lease;
pub mod metrics;
pub mod pool;
pub mod publish;
pub mod receive;
pub mod service;
pub mod settings;
pub mod signing;
pub mod snapshot;
pub mod telemetry;
pub mod view;
pub mod warm;

pub use cluster::{ClusterNode, GossipStats, Member};
pub use config::{GossipConfig, PublishConfig, WarmStartConfig};
pub use view::{ClusterFunction, ClusterView};

/// Why a gossiped value was dropped. Every drop is counted under
/// [`DropReason::label`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DropReason {
    /// No signature where one is required.
    Unsigned,
    /// A signature that does not verify.
    BadSignature,
    /// Bytes that are not a profile message.
    Undecodable(String),
    /// A value over the per-value cap.
    Oversized(usize),
    /// A message that breaks the format's rules.
    Invalid(ember_proto::profile::Reject),
    /// The value sits under another function's key.
    KeyMismatch,
    /// The profile does not fit the local function (sites out of range...).
    Inapplicable(String),
}

impl DropReason {
    /// Short stable name, for counters and metrics.
    pub fn label(&self) -> &'static str {
        match self {
            DropReason::Unsigned => "unsigned",
            DropReason::BadSignature => "bad_signature",
            DropReason::Undecodable(_) => "undecodable",
            DropReason::Oversized(_) => "oversized",
            DropReason::Invalid(r) => r.label(),
            DropReason::KeyMismatch => "key_mismatch",
            DropReason::Inapplicable(_) => "inapplicable",
        }
    }
}

impl std::fmt::Display for DropReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DropReason::Unsigned => f.write_str("value is not signed"),
            DropReason::BadSignature => f.write_str("signature does not verify"),
            DropReason::Undecodable(e) => write!(f, "not a profile: {e}"),
            DropReason::Oversized(n) => write!(f, "value of {n} bytes is over the cap"),
            DropReason::Invalid(r) => write!(f, "malformed profile: {r}"),
            DropReason::KeyMismatch => f.write_str("profile under another function's key"),
            DropReason::Inapplicable(e) => write!(f, "profile does not fit the local function: {e}"),
        }
    }
}

/// Milliseconds since the Unix epoch.
pub fn unix_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}
