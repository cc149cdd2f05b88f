//! Shared helpers for in-process cluster tests: nodes on chitchat's
//! `ChannelTransport`, a workload module, and polling with a deadline.

#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use chitchat::transport::Transport;
use ember_engine::{Engine, EngineConfig, FunctionKey, LuaValue, TierMode, TieringConfig};
use ember_node::cluster::NodeOptions;
use ember_node::{ClusterNode, GossipConfig, PublishConfig, WarmStartConfig};

pub const SECRET: &[u8] = b"test-cluster-secret";
pub const GOSSIP_MS: u64 = 50;

pub const MODULE: &str = r#"
local Point = {}
Point.__index = Point
function Point.new(x, y) return setmetatable({x = x, y = y}, Point) end
function Point:len2() return self.x * self.x + self.y * self.y end

function work(n, scale)
  local acc, hits = 0, 0
  for i = 1, n do
    local p = Point.new(i, i * scale)
    local d = p:len2()
    local odd = d % 3 ~= 0 and d
    if odd then acc = acc + odd else hits = hits + 1 end
  end
  return acc, hits
end

function idle(x) return x end
"#;

pub fn addr(port: u16) -> SocketAddr {
    ([127, 0, 0, 1], port).into()
}

/// An engine whose functions never get hot by themselves, so any compile
/// seen in a test came from warm start.
pub fn cold_engine() -> Engine {
    let t = TieringConfig { mode: TierMode::Auto, tier1_threshold: u64::MAX / 4, workers: 1, ..TieringConfig::default() };
    Engine::with_config(EngineConfig { tiering: t, ..EngineConfig::default() })
}

pub fn options(name: &str, port: u16, seeds: &[u16]) -> NodeOptions {
    NodeOptions {
        gossip: GossipConfig {
            node_id: name.to_string(),
            cluster_id: "test".into(),
            listen: addr(port),
            seeds: seeds.iter().map(|p| addr(*p).to_string()).collect(),
            interval_ms: GOSSIP_MS,
            failure_initial_interval_ms: GOSSIP_MS * 2,
            dead_node_grace_s: 2,
            publish: PublishConfig { interval_ms: 50, min_republish_ms: 100, ..PublishConfig::default() },
            ..GossipConfig::default()
        },
        warm_start: WarmStartConfig { min_hotness: 500.0, ..WarmStartConfig::default() },
        secret: Some(SECRET.to_vec()),
        ..NodeOptions::default()
    }
}

pub async fn start(transport: &dyn Transport, name: &str, port: u16, seeds: &[u16]) -> ClusterNode {
    ClusterNode::start(cold_engine(), options(name, port, seeds), transport).await.expect("node starts")
}

pub fn key_of(engine: &Engine, name: &str) -> FunctionKey {
    let m = engine.module("m").expect("module m loaded");
    m.functions().iter().find(|p| p.name() == name).expect("function").key()
}

/// Runs `work(n, scale)` on a fresh state of `engine`.
pub fn run_work(engine: &Engine, n: i64, scale: LuaValue) -> Vec<LuaValue> {
    let mut s = engine.new_state();
    s.require("m").expect("require m");
    s.call("work", &[LuaValue::Int(n), scale]).expect("work runs")
}

/// Polls `cond` every 10 ms until it holds; panics after `limit`.
pub async fn eventually<F, Fut>(what: &str, limit: Duration, mut cond: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let t0 = Instant::now();
    loop {
        if cond().await {
            return t0.elapsed();
        }
        assert!(t0.elapsed() < limit, "timed out after {limit:?} waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Whether `node`'s view has a report about `key` from `from`.
pub fn sees(node: &ClusterNode, key: FunctionKey, from: &str) -> bool {
    node.view().functions.get(&key).is_some_and(|f| f.nodes.iter().any(|n| n.node == from))
}
