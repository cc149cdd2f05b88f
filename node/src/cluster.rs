//! [`ClusterNode`]: an engine joined to the cluster over chitchat.
//!
//! Three loops run on the caller's tokio runtime. The *publish* loop takes
//! the engine's hottest profiles every `publish.interval_ms`, lets
//! [`Publisher`] decide what changed enough, and writes signed values into
//! this node's gossip state. The *receive* loop wakes whenever a live
//! node's state changes (and on a slow tick, for decay), runs peers' values
//! through [`Receiver`], rebuilds the [`ClusterView`] and hands it to
//! [`WarmStart`]. The *snapshot* loop saves profiles to the data directory.
//! Loading a module runs a warm-start round at once, so a module loaded
//! after the cluster is hot gets compiled before its first call.
//!
//! Gossip keys of a node: `schema` (profile schema version), `grpc` (its
//! gRPC address, if any), `ready` (`1` once it serves), and `fn:<key>`
//! per published function.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chitchat::transport::Transport;
use chitchat::{ChitchatConfig, ChitchatHandle, ChitchatId, FailureDetectorConfig, NodeState, ProtocolVersion, spawn_chitchat};
use ember_engine::{Engine, PROFILE_SCHEMA_VERSION};
use tokio::task::JoinHandle;

use crate::codec::{Origin, Received, encode};
use crate::config::{GossipConfig, WarmStartConfig};
use crate::publish::{Change, FUNCTION_KEY_PREFIX, PublishCounters, Publisher};
use crate::receive::{ReceiveCounters, Receiver};
use crate::signing::{Place, Signer};
use crate::snapshot::{self, SnapshotError};
use crate::unix_ms;
use crate::view::ClusterView;
use crate::warm::{WarmCounters, WarmStart};

/// Everything a [`ClusterNode`] needs besides its engine.
#[derive(Clone, Debug, Default)]
pub struct NodeOptions {
    /// Membership and publishing.
    pub gossip: GossipConfig,
    /// Early compiles from the cluster view.
    pub warm_start: WarmStartConfig,
    /// HMAC key for gossip values. Required unless `insecure_gossip`.
    pub secret: Option<Vec<u8>>,
    /// Run without signing or checking values (logged loudly).
    pub insecure_gossip: bool,
    /// Where profile snapshots live (none: no snapshots).
    pub data_dir: Option<PathBuf>,
    /// Seconds between snapshots (0: only at shutdown).
    pub snapshot_interval_s: u64,
}

/// A cluster member as gossip shows it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Member {
    /// Node id.
    pub node_id: String,
    /// Its generation (start time, ms).
    pub generation: u64,
    /// Gossip address.
    pub gossip_addr: String,
    /// gRPC address it published.
    pub grpc: Option<String>,
    /// Whether it says it is ready.
    pub ready: bool,
    /// Profile schema it publishes.
    pub schema: Option<u32>,
    /// Functions it publishes.
    pub functions: usize,
    /// This node.
    pub is_self: bool,
}

/// Gossip-side counters of a node.
#[derive(Clone, Debug, serde::Serialize)]
pub struct GossipStats {
    /// This node.
    pub node_id: String,
    /// This incarnation.
    pub generation: u64,
    /// Whether values are signed and checked.
    pub signed: bool,
    /// Publishing.
    pub publish: PublishCounters,
    /// Functions published now.
    pub published_functions: usize,
    /// Bytes of published keys and values now.
    pub published_bytes: usize,
    /// Receiving.
    pub receive: ReceiveCounters,
    /// Warm start.
    pub warm: WarmCounters,
    /// Functions in the cluster view.
    pub view_functions: usize,
    /// Live peers contributing to the view.
    pub view_nodes: usize,
    /// What happened to the snapshot at start.
    pub snapshot_status: String,
}

struct Inner {
    publisher: Publisher,
    receiver: Receiver,
    warm: WarmStart,
    /// Snapshot profiles, merged into the view as node `(snapshot)`.
    snapshot: Vec<(String, Received)>,
    snapshot_status: String,
    peers: Vec<crate::receive::PeerProfiles>,
}

struct Shared {
    engine: Engine,
    signer: Signer,
    config: GossipConfig,
    id: ChitchatId,
    data_dir: Option<PathBuf>,
    inner: Mutex<Inner>,
    view: RwLock<Arc<ClusterView>>,
    /// Trace context of each function's last local compile (goes out in
    /// its profile).
    compile_traces: Mutex<std::collections::HashMap<ember_engine::FunctionKey, crate::codec::TraceContext>>,
    /// For functions warm start queued: the trace context of the compile
    /// elsewhere whose profile caused it (the local compile links to it).
    warm_links: Mutex<std::collections::HashMap<ember_engine::FunctionKey, crate::codec::TraceContext>>,
}

/// An engine that gossips its profiles and warms up from its peers'.
pub struct ClusterNode {
    shared: Arc<Shared>,
    handle: Option<ChitchatHandle>,
    tasks: Vec<JoinHandle<()>>,
}

impl ClusterNode {
    /// Joins the cluster: loads the local snapshot, starts chitchat on
    /// `transport` and the publish, receive and snapshot loops. Refuses to
    /// start without a secret unless `insecure_gossip` is set.
    pub async fn start(engine: Engine, mut options: NodeOptions, transport: &dyn Transport) -> anyhow::Result<ClusterNode> {
        options.gossip.validate().map_err(anyhow::Error::msg).context("gossip config")?;
        options.warm_start.validate().map_err(anyhow::Error::msg).context("warm-start config")?;
        let g = &mut options.gossip;
        if options.secret.as_ref().is_some_and(|s| s.is_empty()) {
            bail!("the cluster secret is empty");
        }
        if options.secret.is_none() {
            if !options.insecure_gossip {
                bail!(
                    "no cluster secret: set EMBER_CLUSTER_SECRET (or `secret` in the config), or run with --insecure-gossip to accept unsigned profiles from anyone who can reach the gossip port"
                );
            }
            tracing::warn!(
                node = %g.node_id,
                "INSECURE GOSSIP: profile values are neither signed nor checked; anyone who can reach {} can feed this node profiles",
                g.listen
            );
        }
        if g.generation == 0 {
            g.generation = unix_ms();
        }
        let id = ChitchatId::new(g.node_id.clone(), g.generation, g.advertise.unwrap_or(g.listen));
        let signer = Signer::new(&g.cluster_id, options.secret.as_deref());

        let (snapshot, snapshot_status) = match &options.data_dir {
            None => (Vec::new(), "no data directory".to_string()),
            Some(dir) => match snapshot::load(dir) {
                Ok(v) => {
                    let n = v.len();
                    // A snapshot speaks for this node's past: fresh, undecayed.
                    let now = unix_ms();
                    let v = v
                        .into_iter()
                        .map(|mut r| {
                            if let Some(o) = &mut r.origin {
                                o.timestamp_ms = now;
                            }
                            ("(snapshot)".to_string(), r)
                        })
                        .collect();
                    (v, format!("loaded {n} profiles"))
                }
                Err(SnapshotError::Missing) => (Vec::new(), "no snapshot yet".to_string()),
                Err(e) => {
                    tracing::warn!(node = %g.node_id, "{e}");
                    (Vec::new(), e.to_string())
                }
            },
        };

        let chitchat_config = ChitchatConfig {
            chitchat_id: id.clone(),
            cluster_id: g.cluster_id.clone(),
            gossip_interval: g.interval(),
            listen_addr: g.listen,
            seed_nodes: g.seeds.clone(),
            failure_detector_config: FailureDetectorConfig {
                initial_interval: Duration::from_millis(g.failure_initial_interval_ms.max(1)),
                dead_node_grace_period: Duration::from_secs(g.dead_node_grace_s),
                ..FailureDetectorConfig::default()
            },
            marked_for_deletion_grace_period: Duration::from_secs(g.dead_node_grace_s.max(60)),
            catchup_callback: None,
            extra_liveness_predicate: None,
            protocol_version: if g.protocol_v1 { ProtocolVersion::V1 } else { ProtocolVersion::V0 },
        };
        let mut initial = vec![("schema".to_string(), PROFILE_SCHEMA_VERSION.to_string()), ("ready".to_string(), "0".to_string())];
        if !g.grpc_address.is_empty() {
            initial.push(("grpc".to_string(), g.grpc_address.clone()));
        }
        let handle = spawn_chitchat(chitchat_config, initial, transport).await.context("starting gossip")?;

        let inner = Inner {
            publisher: Publisher::new(g.publish.clone()),
            receiver: Receiver::new(signer.clone(), g.publish.max_value_bytes),
            warm: WarmStart::new(options.warm_start.clone()),
            snapshot,
            snapshot_status,
            peers: Vec::new(),
        };
        let shared = Arc::new(Shared {
            engine,
            signer,
            config: options.gossip.clone(),
            id,
            data_dir: options.data_dir.clone(),
            inner: Mutex::new(inner),
            view: RwLock::new(Arc::new(ClusterView::default())),
            compile_traces: Mutex::new(std::collections::HashMap::new()),
            warm_links: Mutex::new(std::collections::HashMap::new()),
        });
        // One span per compile, from the engine's tier events (on a plain
        // thread: the event channel blocks).
        {
            let weak = Arc::downgrade(&shared);
            let events = shared.engine.subscribe_tier_events();
            std::thread::Builder::new()
                .name("ember-compile-spans".into())
                .spawn(move || {
                    while let Ok(ev) = events.recv() {
                        let Some(s) = weak.upgrade() else { return };
                        s.tier_span(&ev);
                        // A finished compile frees part of warm start's
                        // queue share: queue the next hottest at once.
                        if matches!(ev.kind, ember_engine::TierEventKind::Compiled | ember_engine::TierEventKind::Rejected)
                            && s.inner.lock().expect("node lock").warm.deferred()
                        {
                            s.warm_round();
                        }
                    }
                })
                .context("spawning the compile-span thread")?;
        }
        // The snapshot alone can warm this node: build a first view now.
        shared.refresh(&BTreeMap::new());

        let chitchat = handle.chitchat();
        let mut tasks = Vec::new();
        {
            let (shared, chitchat) = (shared.clone(), chitchat.clone());
            let every = Duration::from_millis(shared.config.publish.interval_ms);
            tasks.push(tokio::spawn(async move {
                loop {
                    tokio::time::sleep(every).await;
                    shared.publish_round(&chitchat).await;
                }
            }));
        }
        {
            let shared = shared.clone();
            let mut watcher = chitchat.lock().await.live_nodes_watcher();
            let tick = shared.config.interval() * 5;
            tasks.push(tokio::spawn(async move {
                loop {
                    tokio::select! {
                        r = watcher.changed() => if r.is_err() { return },
                        _ = tokio::time::sleep(tick) => {}
                    }
                    let live = watcher.borrow_and_update().clone();
                    shared.refresh(&live);
                }
            }));
        }
        if let (Some(_), s) = (&options.data_dir, options.snapshot_interval_s)
            && s > 0
        {
            let shared = shared.clone();
            tasks.push(tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_secs(s)).await;
                    if let Err(e) = shared.save_snapshot() {
                        tracing::warn!("profile snapshot failed: {e}");
                    }
                }
            }));
        }
        Ok(ClusterNode { shared, handle: Some(handle), tasks })
    }

    /// The engine this node runs.
    pub fn engine(&self) -> &Engine {
        &self.shared.engine
    }

    /// This node's gossip identity.
    pub fn id(&self) -> &ChitchatId {
        &self.shared.id
    }

    /// The current cluster view.
    pub fn view(&self) -> Arc<ClusterView> {
        self.shared.view.read().expect("view lock").clone()
    }

    /// Loads a module into the engine and runs a warm-start round for it at
    /// once: functions the cluster finds hot are queued before any call.
    pub fn load_module(&self, name: &str, source: &[u8]) -> Result<Arc<ember_engine::Module>, ember_engine::Error> {
        let m = self.shared.engine.load_module(name, source)?;
        self.shared.warm_round();
        Ok(m)
    }

    /// Waits until warm start has compiled everything the cluster view
    /// asks for, at most `limit`; returns how many compiles are still
    /// pending. A node calls this before it reports ready, so its first
    /// invocations already run compiled code (the compiles happen on
    /// background workers; this only waits).
    ///
    /// Warm start holds at most its share of the compile queue at a time,
    /// so a view with more hot functions than that is compiled in rounds:
    /// whenever some of the pending compiles finish, the next hottest are
    /// queued, without waiting for the view to change.
    pub async fn wait_warm(&self, limit: std::time::Duration) -> usize {
        let t0 = Instant::now();
        let pending = || self.shared.inner.lock().expect("node lock").warm.pending(&self.shared.engine);
        let mut after_last_round = usize::MAX;
        loop {
            let mut left = pending();
            if left < after_last_round {
                self.shared.warm_round();
                left = pending();
                after_last_round = left;
            }
            if left == 0 || t0.elapsed() >= limit {
                return left;
            }
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
    }

    /// Publishes now instead of at the next tick.
    pub async fn publish_now(&self) {
        if let Some(h) = &self.handle {
            self.shared.publish_round(&h.chitchat()).await;
        }
    }

    /// Sets the `ready` key.
    pub async fn set_ready(&self, ready: bool) {
        if let Some(h) = &self.handle {
            h.chitchat().lock().await.self_node_state().set("ready", if ready { "1" } else { "0" });
        }
    }

    /// Replaces the warm-start knobs.
    pub fn set_warm_start(&self, config: WarmStartConfig) -> Result<(), String> {
        config.validate()?;
        self.shared.inner.lock().expect("node lock").warm.set_config(config);
        Ok(())
    }

    /// Current warm-start knobs.
    pub fn warm_start(&self) -> WarmStartConfig {
        self.shared.inner.lock().expect("node lock").warm.config().clone()
    }

    /// Counters and state of the gossip side.
    pub fn stats(&self) -> GossipStats {
        let inner = self.shared.inner.lock().expect("node lock");
        let view = self.view();
        GossipStats {
            node_id: self.shared.id.node_id.to_string(),
            generation: self.shared.id.generation_id,
            signed: self.shared.signer.is_secure(),
            publish: inner.publisher.counters.clone(),
            published_functions: inner.publisher.published(),
            published_bytes: inner.publisher.published_bytes(),
            receive: inner.receiver.counters.clone(),
            warm: inner.warm.counters.clone(),
            view_functions: view.functions.len(),
            view_nodes: view.nodes,
            snapshot_status: inner.snapshot_status.clone(),
        }
    }

    /// Live members, this node included.
    pub async fn members(&self) -> Vec<Member> {
        let Some(h) = &self.handle else { return Vec::new() };
        let chitchat = h.chitchat();
        let c = chitchat.lock().await;
        let mut out: Vec<Member> = c
            .live_nodes()
            .filter_map(|id| {
                let s = c.node_state(id)?;
                Some(Member {
                    node_id: id.node_id.to_string(),
                    generation: id.generation_id,
                    gossip_addr: id.gossip_advertise_addr.to_string(),
                    grpc: s.get("grpc").map(str::to_string),
                    ready: s.get("ready") == Some("1"),
                    schema: s.get("schema").and_then(|v| v.parse().ok()),
                    functions: s.iter_prefix(FUNCTION_KEY_PREFIX).count(),
                    is_self: *id == self.shared.id,
                })
            })
            .collect();
        out.sort_by(|a, b| a.node_id.cmp(&b.node_id));
        out
    }

    /// Saves a snapshot now (no-op without a data directory).
    pub fn save_snapshot(&self) -> std::io::Result<Option<PathBuf>> {
        self.shared.save_snapshot()
    }

    /// Leaves the cluster: snapshots profiles, stops the loops and chitchat.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        if let Err(e) = self.shared.save_snapshot() {
            tracing::warn!("profile snapshot at shutdown failed: {e}");
        }
        for t in self.tasks.drain(..) {
            t.abort();
        }
        if let Some(h) = self.handle.take() {
            h.shutdown().await?;
        }
        Ok(())
    }
}

impl Drop for ClusterNode {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
        if let Some(h) = &self.handle {
            h.abort();
        }
    }
}

impl Shared {
    /// A span per compile, and per logged deopt (linked to the compile of
    /// the code that deoptimized, so one optimization can be followed from
    /// the node that learned it to the node whose guess failed).
    fn tier_span(&self, ev: &ember_engine::TierEvent) {
        if ev.kind == ember_engine::TierEventKind::Deopt {
            let span = tracing::info_span!(
                "deopt",
                function = %ev.name,
                key = %ev.key,
                location = %ev.location,
                pc = ev.pc.unwrap_or(0),
                guard = ev.guard.map_or("entry-check".to_string(), |g| format!("{g:?}")),
                reason = ev.reason.as_deref().unwrap_or(""),
                node = %self.id.node_id,
            );
            if let Some(tc) = self.compile_traces.lock().expect("traces lock").get(&ev.key) {
                crate::telemetry::link(&span, tc);
            }
            return;
        }
        if ev.kind != ember_engine::TierEventKind::Compiled {
            return;
        }
        let trigger = match ev.trigger {
            Some(ember_engine::CompileTrigger::Request) => "warm-start",
            Some(ember_engine::CompileTrigger::Eager) => "eager",
            Some(ember_engine::CompileTrigger::Deopt) => "recompile",
            _ => "hotness",
        };
        let span = tracing::info_span!(
            "compile",
            function = %ev.name,
            key = %ev.key,
            location = %ev.location,
            tier = ev.tier,
            compile_us = ev.compile_us,
            code_bytes = ev.code_bytes,
            queue_wait_us = ev.queue_wait_us,
            trigger,
            speculations = ev.reason.as_deref().and_then(|r| r.strip_prefix("speculates: ")).unwrap_or(""),
            node = %self.id.node_id,
        );
        if trigger == "warm-start"
            && let Some(origin) = self.warm_links.lock().expect("links lock").remove(&ev.key)
        {
            crate::telemetry::link(&span, &origin);
        }
        if let Some(tc) = crate::telemetry::trace_context_of(&span) {
            self.compile_traces.lock().expect("traces lock").insert(ev.key, tc);
        }
    }

    fn origin(&self) -> Origin {
        Origin { node: self.id.node_id.to_string(), generation: self.id.generation_id, timestamp_ms: unix_ms() }
    }

    async fn publish_round(&self, chitchat: &Arc<tokio::sync::Mutex<chitchat::Chitchat>>) {
        let top_k = self.config.publish.top_k;
        let profiles = self.engine.compact_profiles(top_k);
        let origin = self.origin();
        let fixed = 16 + self.config.grpc_address.len() + 16;
        let traces = self.compile_traces.lock().expect("traces lock").clone();
        let changes = {
            let mut inner = self.inner.lock().expect("node lock");
            inner.publisher.set_traced(traces.keys().copied().collect());
            inner.publisher.plan(&profiles, fixed, Instant::now(), |key, p| {
                let place = Place { node: &origin.node, generation: origin.generation, key };
                self.signer.seal(place, &encode(p, Some(&origin), traces.get(&p.key)))
            })
        };
        if changes.is_empty() {
            return;
        }
        let sets = changes.iter().filter(|c| matches!(c, Change::Set(..))).count();
        let span = tracing::info_span!("profile.publish", node = %self.id.node_id, values = sets, withdrawn = changes.len() - sets);
        let mut c = chitchat.lock().await;
        let _in_span = span.enter();
        let me = c.self_node_state();
        for ch in changes {
            match ch {
                Change::Set(k, v) => me.set(k, v),
                Change::Delete(k) => me.delete(&k),
            }
        }
    }

    /// Rebuilds the view from live nodes' states and runs warm start.
    fn refresh(&self, live: &BTreeMap<ChitchatId, NodeState>) {
        let mut inner = self.inner.lock().expect("node lock");
        let inner = &mut *inner;
        inner.peers = inner.receiver.ingest(live, &self.id);
        let view = ClusterView::build(&inner.peers, &inner.snapshot, unix_ms(), self.config.view_half_life_s * 1000);
        *self.view.write().expect("view lock") = Arc::new(view);
        self.warm_locked(inner);
    }

    fn warm_round(&self) {
        let mut inner = self.inner.lock().expect("node lock");
        self.warm_locked(&mut inner);
    }

    fn warm_locked(&self, inner: &mut Inner) {
        let view = self.view.read().expect("view lock").clone();
        // A queued compile may finish before `apply` returns: its link to
        // the peer's compile must be in place before it is queued.
        let round = inner.warm.apply_linked(&self.engine, &view, |key, trace| {
            let mut links = self.warm_links.lock().expect("links lock");
            match trace {
                Some(t) => links.insert(key, t),
                None => links.remove(&key),
            };
        });
        if round.applied > 0 || round.queued > 0 {
            let _span =
                tracing::info_span!("profile.apply", node = %self.id.node_id, applied = round.applied, compiles_queued = round.queued)
                    .entered();
        }
        for (key, why) in round.rejected {
            tracing::debug!(%key, "cluster profile refused: {why}");
            inner.receiver.count_drop(&crate::DropReason::Inapplicable(why));
        }
    }

    fn save_snapshot(&self) -> std::io::Result<Option<PathBuf>> {
        let Some(dir) = &self.data_dir else { return Ok(None) };
        let profiles = self.engine.compact_profiles(snapshot::MAX_PROFILES);
        snapshot::save(dir, &self.origin(), &profiles).map(Some)
    }
}
