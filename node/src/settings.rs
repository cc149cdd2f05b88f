//! Everything an `ember-node` process is configured with, in one TOML
//! document (`--config`), overridden by `EMBER_*` environment variables and
//! command-line flags (in that order of precedence, flags last). Every
//! field has a default, so an empty file is a valid config; unknown keys are
//! errors, so a typo never silently does nothing.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use ember_engine::{Limits, TieringConfig};
use serde::{Deserialize, Serialize};

use crate::cluster::NodeOptions;
use crate::config::{GossipConfig, WarmStartConfig};

/// Per-invocation limits, as configured.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitSettings {
    /// Loop back-edges plus calls per invocation (none: unlimited).
    pub fuel: Option<u64>,
    /// Wall-clock time per invocation, ms.
    pub deadline_ms: Option<u64>,
    /// Live heap per Lua state, MiB.
    pub heap_mb: Option<u64>,
    /// Lua call depth.
    pub max_depth: Option<usize>,
}

impl Default for LimitSettings {
    fn default() -> Self {
        LimitSettings { fuel: None, deadline_ms: Some(10_000), heap_mb: Some(256), max_depth: None }
    }
}

impl LimitSettings {
    /// The engine's form.
    pub fn limits(&self) -> Limits {
        Limits {
            fuel: self.fuel,
            deadline: self.deadline_ms.map(Duration::from_millis),
            heap_bytes: self.heap_mb.map(|m| (m as usize) << 20),
            max_depth: self.max_depth,
        }
    }
}

/// The whole configuration of a node process.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NodeSettings {
    /// gRPC listen address (port 0: any free port; the chosen one is logged
    /// and published).
    pub listen: SocketAddr,
    /// gRPC address clients and peers should use (default: the bound one).
    pub advertise: Option<String>,
    /// Prometheus `/metrics` address (none: no metrics endpoint).
    pub metrics_listen: Option<SocketAddr>,
    /// Serve gRPC over TLS with this certificate chain (PEM); needs `tls_key`.
    pub tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    pub tls_key: Option<PathBuf>,
    /// Where profile snapshots live (none: no snapshots).
    pub data_dir: Option<PathBuf>,
    /// Every `*.lua` file here is loaded at start as a module named after
    /// the file.
    pub modules: Option<PathBuf>,
    /// Invocation worker threads, one Lua state each (0: one per core).
    pub workers: usize,
    /// Invocations that may wait for a worker before `Invoke` answers
    /// RESOURCE_EXHAUSTED.
    pub invoke_queue: usize,
    /// Bearer token for admin calls (LoadModule, SetPolicy). None: admin
    /// calls are refused.
    pub admin_token: Option<String>,
    /// Whether Invoke needs the token too.
    pub invoke_requires_token: bool,
    /// Largest gRPC request accepted, bytes.
    pub max_request_bytes: usize,
    /// HMAC secret for gossip values (prefer EMBER_CLUSTER_SECRET).
    pub secret: Option<String>,
    /// Accept and publish unsigned gossip (logged loudly).
    pub insecure_gossip: bool,
    /// Seconds between profile snapshots (0: only at shutdown).
    pub snapshot_interval_s: u64,
    /// Per-invocation limits.
    pub limits: LimitSettings,
    /// The engine's tiering knobs (`docs/tiering.md`).
    pub tiering: TieringConfig,
    /// Membership and publishing (`docs/gossip.md`).
    pub gossip: GossipConfig,
    /// Warm start (`docs/gossip.md`).
    pub warm_start: WarmStartConfig,
    /// Compile leases from the coordinator (`docs/coordinator.md`).
    pub lease: crate::lease::LeaseConfig,
}

impl Default for NodeSettings {
    fn default() -> Self {
        NodeSettings {
            listen: ([127, 0, 0, 1], 7070).into(),
            advertise: None,
            metrics_listen: None,
            tls_cert: None,
            tls_key: None,
            data_dir: None,
            modules: None,
            workers: 0,
            invoke_queue: 1024,
            admin_token: None,
            invoke_requires_token: false,
            max_request_bytes: 4 << 20,
            secret: None,
            insecure_gossip: false,
            snapshot_interval_s: 30,
            limits: LimitSettings::default(),
            tiering: TieringConfig::default(),
            gossip: GossipConfig::default(),
            warm_start: WarmStartConfig::default(),
            lease: crate::lease::LeaseConfig::default(),
        }
    }
}

impl NodeSettings {
    /// Parses a TOML document.
    pub fn from_toml(text: &str) -> Result<NodeSettings, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// Reads a TOML file.
    pub fn load(path: &std::path::Path) -> Result<NodeSettings, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Self::from_toml(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The settings as TOML (what `--print-config` shows).
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("settings serialize")
    }

    /// Checks every part; the message names the bad knob.
    pub fn validate(&self) -> Result<(), String> {
        self.tiering.validate()?;
        self.gossip.validate()?;
        self.warm_start.validate()?;
        if self.max_request_bytes < 1024 {
            return Err("max_request_bytes must be at least 1024".into());
        }
        if self.admin_token.as_deref() == Some("") {
            return Err("admin_token is empty".into());
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return Err("tls_cert and tls_key go together".into());
        }
        if self.invoke_requires_token && self.admin_token.is_none() {
            return Err("invoke_requires_token needs admin_token".into());
        }
        Ok(())
    }

    /// Worker threads to run.
    pub fn worker_count(&self) -> usize {
        if self.workers > 0 { self.workers } else { std::thread::available_parallelism().map_or(1, |n| n.get()) }
    }

    /// The gossip side's options.
    pub fn node_options(&self) -> NodeOptions {
        NodeOptions {
            gossip: self.gossip.clone(),
            warm_start: self.warm_start.clone(),
            secret: self.secret.as_ref().map(|s| s.as_bytes().to_vec()),
            insecure_gossip: self.insecure_gossip,
            data_dir: self.data_dir.clone(),
            snapshot_interval_s: self.snapshot_interval_s,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_file_is_the_defaults_and_unknown_keys_are_errors() {
        let s = NodeSettings::from_toml("").unwrap();
        assert_eq!(s.listen, NodeSettings::default().listen);
        s.validate().unwrap();
        let e = NodeSettings::from_toml("listne = '1.2.3.4:5'").unwrap_err();
        assert!(e.contains("listne"), "{e}");
        let e = NodeSettings::from_toml("[gossip]\nintervl_ms = 5").unwrap_err();
        assert!(e.contains("intervl_ms"), "{e}");
    }

    #[test]
    fn printed_config_reads_back() {
        let mut s = NodeSettings::default();
        s.gossip.seeds = vec!["a:1".into()];
        s.tiering.tier1_threshold = 77;
        s.warm_start.min_hotness = 3.0;
        let back = NodeSettings::from_toml(&s.to_toml()).unwrap();
        assert_eq!(back.gossip.seeds, s.gossip.seeds);
        assert_eq!(back.tiering.tier1_threshold, 77);
        assert_eq!(back.warm_start.min_hotness, 3.0);
    }

    #[test]
    fn bad_knobs_are_named() {
        let s = NodeSettings { invoke_requires_token: true, ..NodeSettings::default() };
        assert!(s.validate().unwrap_err().contains("invoke_requires_token"));
        let mut s = NodeSettings::default();
        s.gossip.publish.max_value_bytes = 100_000;
        assert!(s.validate().unwrap_err().contains("max_value_bytes"));
    }
}
