//! Gossip, publishing and warm-start knobs. Every field has a default
//! (see each `Default`), is documented in `docs/gossip.md`, and can be set
//! from the node's TOML config.

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How a node joins and talks to the cluster.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GossipConfig {
    /// This node's id, unique in the cluster.
    pub node_id: String,
    /// Nodes gossip only with nodes of the same cluster id.
    pub cluster_id: String,
    /// This incarnation's generation: 0 means "now in Unix ms", so every
    /// restart is a new, higher generation.
    pub generation: u64,
    /// UDP address gossip listens on.
    pub listen: SocketAddr,
    /// Address peers should use (default: `listen`).
    pub advertise: Option<SocketAddr>,
    /// Addresses (`host:port`) of nodes to join through.
    pub seeds: Vec<String>,
    /// Gossip round interval, ms.
    pub interval_ms: u64,
    /// Use chitchat's compressed-digest protocol (V1). Every Ember node
    /// speaks it; set false only to join a cluster with older nodes.
    pub protocol_v1: bool,
    /// Seconds without news after which a dead node's state is forgotten.
    pub dead_node_grace_s: u64,
    /// Heartbeat interval assumed for a node not heard from yet, ms (the
    /// failure detector's starting point).
    pub failure_initial_interval_ms: u64,
    /// gRPC address published under the `grpc` key (empty: none).
    pub grpc_address: String,
    /// What this node publishes and when.
    pub publish: PublishConfig,
    /// Half-life of the counts in the cluster view, seconds.
    pub view_half_life_s: u64,
}

impl Default for GossipConfig {
    fn default() -> Self {
        GossipConfig {
            node_id: "node".into(),
            cluster_id: "ember".into(),
            generation: 0,
            listen: ([127, 0, 0, 1], 7946).into(),
            advertise: None,
            seeds: Vec::new(),
            interval_ms: 200,
            protocol_v1: true,
            dead_node_grace_s: 60,
            failure_initial_interval_ms: 1000,
            grpc_address: String::new(),
            publish: PublishConfig::default(),
            view_half_life_s: 120,
        }
    }
}

impl GossipConfig {
    /// The gossip round interval.
    pub fn interval(&self) -> Duration {
        Duration::from_millis(self.interval_ms.max(1))
    }

    /// Checks the knobs; the message names the bad one.
    pub fn validate(&self) -> Result<(), String> {
        if self.node_id.is_empty() || self.node_id.len() > 128 {
            return Err("node_id must be 1 to 128 bytes".into());
        }
        if self.cluster_id.is_empty() {
            return Err("cluster_id must not be empty".into());
        }
        if self.interval_ms == 0 {
            return Err("interval_ms must be at least 1".into());
        }
        self.publish.validate()
    }
}

/// Chitchat stalls a node's gossip for good on a value over ~65 KB; these
/// caps keep every value and the whole state far below that.
pub const CHITCHAT_VALUE_LIMIT: usize = 60 * 1024;

/// What a node publishes about its own hot functions.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PublishConfig {
    /// Publish at most this many functions (the hottest).
    pub top_k: usize,
    /// A function must have run at least this much (calls + back-edges).
    pub min_hotness: u64,
    /// Largest single value, bytes; a bigger profile is not published.
    pub max_value_bytes: usize,
    /// Largest total of this node's keys and values, bytes.
    pub max_node_bytes: usize,
    /// How often the node looks for changes, ms.
    pub interval_ms: u64,
    /// A changed profile is re-sent at most this often, ms (speculation
    /// outcomes go out at once).
    pub min_republish_ms: u64,
    /// An unchanged profile is re-sent after this long, ms, so its
    /// timestamp stays fresh in peers' decaying views.
    pub refresh_ms: u64,
}

impl Default for PublishConfig {
    fn default() -> Self {
        PublishConfig {
            top_k: 64,
            min_hotness: 100,
            max_value_bytes: 1024,
            max_node_bytes: 48 * 1024,
            interval_ms: 500,
            min_republish_ms: 2000,
            refresh_ms: 30_000,
        }
    }
}

impl PublishConfig {
    /// Checks the caps against chitchat's hard limit.
    pub fn validate(&self) -> Result<(), String> {
        if self.max_value_bytes < 64 || self.max_value_bytes > CHITCHAT_VALUE_LIMIT {
            return Err(format!("publish.max_value_bytes must be 64..={CHITCHAT_VALUE_LIMIT}"));
        }
        if self.max_node_bytes < self.max_value_bytes || self.max_node_bytes > CHITCHAT_VALUE_LIMIT {
            return Err(format!("publish.max_node_bytes must be max_value_bytes..={CHITCHAT_VALUE_LIMIT}"));
        }
        if self.interval_ms == 0 {
            return Err("publish.interval_ms must be at least 1".into());
        }
        Ok(())
    }
}

/// Warm start: compiling what is hot elsewhere before local traffic.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WarmStartConfig {
    /// On or off.
    pub enabled: bool,
    /// Cluster hotness (decayed calls + back-edges summed over nodes) a
    /// function needs before this node compiles it early.
    pub min_hotness: f64,
    /// Most early compiles queued per module load or view change.
    pub max_eager_compiles: usize,
    /// Share of the compile queue early compiles may hold at once, so
    /// functions that get hot locally still find room.
    pub budget_share: f64,
}

impl Default for WarmStartConfig {
    fn default() -> Self {
        WarmStartConfig { enabled: true, min_hotness: 500.0, max_eager_compiles: 64, budget_share: 0.5 }
    }
}

impl WarmStartConfig {
    /// Checks the knobs.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.budget_share > 0.0 && self.budget_share <= 1.0) {
            return Err("warm_start.budget_share must be in (0, 1]".into());
        }
        if self.min_hotness.is_nan() || self.min_hotness < 0.0 {
            return Err("warm_start.min_hotness must be >= 0".into());
        }
        Ok(())
    }
}
