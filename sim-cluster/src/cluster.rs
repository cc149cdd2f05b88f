//! The simulated cluster: one coordinator and named nodes, each a child
//! process on loopback, with what the simulator needs to reach them (gRPC
//! clients, metrics address, pid for memory) and to hurt them (restart,
//! `kill -9`, coordinator loss).
//!
//! A node keeps its gossip port, metrics port and data directory across
//! restarts, as a real host would; its gRPC port is new each time and the
//! load clients pick the new one up through [`NodeHandle::client`].

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use ember_proto::coordinator::coordinator_client::CoordinatorClient;
use ember_proto::node as pb;
use ember_proto::node::node_service_client::NodeServiceClient;
use tonic::transport::Channel;

use crate::procs::{Proc, Role, free_port};
use crate::scenario::Scenario;

/// Shared between the cluster and the load clients: the current channel to
/// a node, `None` while it is down.
pub type ClientSlot = Arc<RwLock<Option<NodeServiceClient<Channel>>>>;

const SECRET: &str = "ember-sim-cluster-secret";
pub const ADMIN_TOKEN: &str = "ember-sim-admin";
const READY_TIMEOUT: Duration = Duration::from_secs(30);

pub struct NodeHandle {
    pub id: String,
    pub policy: String,
    pub warm_start: bool,
    gossip: SocketAddr,
    pub metrics: SocketAddr,
    data_dir: PathBuf,
    pub proc: Option<Proc>,
    pub client: ClientSlot,
    /// Starts so far (1 after the first start; each restart adds one).
    pub starts: u32,
}

pub struct Cluster {
    dir: PathBuf,
    pub t0: Instant,
    gossip_interval_ms: u64,
    workers: usize,
    tiering: BTreeMap<String, String>,
    /// `--config` for every node (`cluster.node_config`), if the scenario has one.
    node_config: Option<PathBuf>,
    coordinator_spec: crate::scenario::CoordinatorSpec,
    pub coordinator_addr: Option<SocketAddr>,
    coordinator_metrics: Option<SocketAddr>,
    pub coordinator: Option<Proc>,
    pub nodes: BTreeMap<String, NodeHandle>,
    modules: Vec<(String, Vec<u8>)>,
    /// Keys of every function the modules define (from LoadModule).
    function_keys: Vec<String>,
}

impl Cluster {
    pub fn new(s: &Scenario, dir: PathBuf) -> anyhow::Result<Cluster> {
        let modules = s.modules.iter().map(|m| Ok((m.name.clone(), s.module_source(m)?))).collect::<anyhow::Result<_>>()?;
        let node_config = if s.cluster.node_config.is_empty() {
            None
        } else {
            let path = dir.join("node.toml");
            let text = s.node_config_toml().map_err(|e| anyhow::anyhow!("cluster.node_config: {e}"))?;
            std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
            Some(path)
        };
        Ok(Cluster {
            node_config,
            dir,
            t0: Instant::now(),
            gossip_interval_ms: s.cluster.gossip_interval_ms,
            workers: s.cluster.workers,
            tiering: s.cluster.tiering.clone(),
            coordinator_spec: s.coordinator.clone(),
            coordinator_addr: if s.cluster.coordinator { Some(format!("127.0.0.1:{}", free_port(false)?).parse()?) } else { None },
            coordinator_metrics: None,
            coordinator: None,
            nodes: BTreeMap::new(),
            modules,
            function_keys: Vec::new(),
        })
    }

    /// Seconds since the run started.
    pub fn now(&self) -> f64 {
        self.t0.elapsed().as_secs_f64()
    }

    pub async fn start_coordinator(&mut self) -> anyhow::Result<()> {
        let Some(addr) = self.coordinator_addr else { bail!("this scenario has no coordinator") };
        let metrics = match self.coordinator_metrics {
            Some(m) => m,
            None => format!("127.0.0.1:{}", free_port(false)?).parse()?,
        };
        self.coordinator_metrics = Some(metrics);
        let c = &self.coordinator_spec;
        let mut args = vec![
            "--listen".into(),
            addr.to_string(),
            "--metrics-listen".into(),
            metrics.to_string(),
            "--max-concurrent".into(),
            c.max_concurrent.to_string(),
            "--cpu-ms-per-s".into(),
            c.cpu_ms_per_s.to_string(),
            "--admin-token".into(),
            ADMIN_TOKEN.into(),
        ];
        if !c.pioneer {
            args.push("--no-pioneer".into());
        }
        let log = self.dir.join("logs").join("coordinator.log");
        self.coordinator = Some(Proc::start("coordinator", Role::Coordinator, &args, &[], &log, READY_TIMEOUT).await?);
        Ok(())
    }

    /// Loss of the coordinator: `kill -9`.
    pub fn kill_coordinator(&mut self) {
        if let Some(p) = self.coordinator.take() {
            p.kill_hard();
        }
    }

    pub async fn coordinator_client(&self) -> Option<CoordinatorClient<Channel>> {
        let addr = self.coordinator_addr?;
        self.coordinator.as_ref()?;
        let ch = Channel::from_shared(format!("http://{addr}")).ok()?.connect_timeout(Duration::from_millis(300)).connect().await.ok()?;
        Some(CoordinatorClient::new(ch))
    }

    /// Adds and starts a node; `n1`.. for the initial ones, any id for joins.
    pub async fn add_node(&mut self, id: &str, policy: &str, warm_start: bool) -> anyhow::Result<()> {
        let data_dir = self.dir.join("data").join(id);
        std::fs::create_dir_all(&data_dir)?;
        let handle = NodeHandle {
            id: id.to_string(),
            policy: policy.to_string(),
            warm_start,
            gossip: format!("127.0.0.1:{}", free_port(true)?).parse()?,
            metrics: format!("127.0.0.1:{}", free_port(false)?).parse()?,
            data_dir,
            proc: None,
            client: Arc::new(RwLock::new(None)),
            starts: 0,
        };
        self.nodes.insert(id.to_string(), handle);
        self.start_node(id).await
    }

    /// Starts (or restarts) a node process and loads the modules into it.
    pub async fn start_node(&mut self, id: &str) -> anyhow::Result<()> {
        let seeds: Vec<String> = self.nodes.values().filter(|n| n.id != id).map(|n| n.gossip.to_string()).collect();
        let n = self.nodes.get(id).with_context(|| format!("no node {id}"))?;
        let mut args: Vec<String> = vec![
            "--node-id".into(),
            id.into(),
            "--listen".into(),
            "127.0.0.1:0".into(),
            "--gossip-listen".into(),
            n.gossip.to_string(),
            "--gossip-interval-ms".into(),
            self.gossip_interval_ms.to_string(),
            "--metrics-listen".into(),
            n.metrics.to_string(),
            "--data-dir".into(),
            n.data_dir.display().to_string(),
            "--workers".into(),
            self.workers.to_string(),
            "--policy".into(),
            n.policy.clone(),
            "--admin-token".into(),
            ADMIN_TOKEN.into(),
        ];
        if let Some(path) = &self.node_config {
            args.push("--config".into());
            args.push(path.display().to_string());
        }
        if !seeds.is_empty() {
            args.push("--seeds".into());
            args.push(seeds.join(","));
        }
        if let Some(c) = self.coordinator_addr {
            args.push("--coordinator".into());
            args.push(format!("http://{c}"));
        }
        if !n.warm_start {
            args.push("--no-warm-start".into());
        }
        for (k, v) in &self.tiering {
            args.push("--tiering".into());
            args.push(format!("{k}={v}"));
        }
        let starts = n.starts + 1;
        let log = self.dir.join("logs").join(format!("{id}.{starts}.log"));
        let proc = Proc::start(id, Role::Node, &args, &[("EMBER_CLUSTER_SECRET", SECRET.to_string())], &log, READY_TIMEOUT).await?;
        let grpc = proc.ready_field("grpc").with_context(|| format!("{id}: no grpc= in its ready line: {}", proc.ready_line))?;
        let channel =
            Channel::from_shared(format!("http://{grpc}"))?.connect().await.with_context(|| format!("connecting to {id} at {grpc}"))?;
        let client = NodeServiceClient::new(channel);
        let n = self.nodes.get_mut(id).unwrap();
        n.proc = Some(proc);
        n.starts = starts;
        for (name, src) in &self.modules {
            let mut req = tonic::Request::new(pb::LoadModuleRequest { name: name.clone(), source: src.clone() });
            req.metadata_mut().insert("authorization", format!("Bearer {ADMIN_TOKEN}").parse()?);
            let r =
                client.clone().load_module(req).await.map_err(|s| anyhow::anyhow!("loading module {name} into {id}: {}", s.message()))?;
            for f in r.into_inner().functions {
                if !self.function_keys.contains(&f.key) {
                    self.function_keys.push(f.key);
                }
            }
        }
        *n.client.write().unwrap() = Some(client);
        Ok(())
    }

    /// Waits until a (re)started node has heard its peers' profiles by
    /// gossip (at most `limit`), then two more gossip rounds for warm start
    /// to act on them; returns how long it took.
    pub async fn wait_cluster_view(&self, id: &str, limit: Duration) -> Duration {
        let start = Instant::now();
        let peers = self.nodes.values().any(|n| n.id != id && n.proc.is_some());
        let Some(mut c) = self.client(id) else { return Duration::ZERO };
        while peers && start.elapsed() < limit {
            let req = pb::ProfilesRequest { limit: 1, ..Default::default() };
            match c.get_cluster_profiles(req).await {
                Ok(r) if r.get_ref().profiles.iter().any(|p| p.nodes.iter().any(|n| n.node != id)) => {
                    tokio::time::sleep(Duration::from_millis(2 * self.gossip_interval_ms)).await;
                    break;
                }
                _ => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
        start.elapsed()
    }

    /// Waits until a node's compile queue is empty (warm-start compiles
    /// done), at most `limit`; returns how long it took.
    pub async fn wait_compiles_settled(&self, id: &str, limit: Duration) -> Duration {
        let start = Instant::now();
        let Some(mut c) = self.client(id) else { return Duration::ZERO };
        // An empty queue is not enough: the worker may have just taken the
        // last compile off it. Settled means empty with the compiled count
        // unchanged over 100 ms.
        let mut last: Option<u64> = None;
        while start.elapsed() < limit {
            match c.get_budget(pb::GetBudgetRequest {}).await {
                Ok(b) if b.get_ref().queue_len == 0 => {
                    let compiled = b.get_ref().compiled;
                    if last == Some(compiled) {
                        break;
                    }
                    last = Some(compiled);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                _ => {
                    last = None;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
        start.elapsed()
    }

    pub fn client(&self, id: &str) -> Option<NodeServiceClient<Channel>> {
        self.nodes.get(id)?.client.read().unwrap().clone()
    }

    /// Functions of the modules with compiled code on a node.
    pub async fn compiled_functions(&self, id: &str) -> anyhow::Result<usize> {
        let mut c = self.client(id).with_context(|| format!("{id} is down"))?;
        let mut n = 0;
        for key in &self.function_keys {
            let f = c.get_function(pb::GetFunctionRequest { function: key.clone(), module: String::new() }).await?.into_inner();
            n += usize::from(f.tier >= 1);
        }
        Ok(n)
    }

    /// Graceful stop (SIGTERM: drain, snapshot, leave).
    pub async fn stop_node(&mut self, id: &str) -> anyhow::Result<()> {
        let n = self.nodes.get_mut(id).with_context(|| format!("no node {id}"))?;
        *n.client.write().unwrap() = None;
        match n.proc.take() {
            Some(p) => p.stop(Duration::from_secs(15)).await,
            None => Ok(()),
        }
    }

    /// `kill -9`.
    pub fn kill_node(&mut self, id: &str) -> anyhow::Result<()> {
        let n = self.nodes.get_mut(id).with_context(|| format!("no node {id}"))?;
        *n.client.write().unwrap() = None;
        if let Some(p) = n.proc.take() {
            p.kill_hard();
        }
        Ok(())
    }

    pub async fn set_policy(&self, id: &str, knobs: &BTreeMap<String, String>) -> anyhow::Result<()> {
        let mut c = self.client(id).with_context(|| format!("{id} is down"))?;
        let mut req = tonic::Request::new(pb::SetPolicyRequest {
            knobs: knobs.iter().map(|(k, v)| pb::Knob { key: k.clone(), value: v.clone() }).collect(),
        });
        req.metadata_mut().insert("authorization", format!("Bearer {ADMIN_TOKEN}").parse()?);
        c.set_policy(req).await.map_err(|s| anyhow::anyhow!("SetPolicy on {id}: {}", s.message()))?;
        Ok(())
    }

    pub fn live_nodes(&self) -> Vec<String> {
        self.nodes.values().filter(|n| n.proc.is_some()).map(|n| n.id.clone()).collect()
    }
}
