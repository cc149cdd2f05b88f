//! `ember-node`: one Ember cluster member — the engine, gossip with warm
//! start, and the gRPC `NodeService`.
//!
//! Configuration: defaults, then `--config FILE` (TOML, every key in
//! `NodeSettings`; `--print-config` shows them all), then `EMBER_*`
//! environment variables, then flags. SIGTERM or Ctrl-C shuts down
//! gracefully: stop accepting calls, finish queued invocations, snapshot
//! profiles, leave the cluster.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use crate::ClusterNode;
use crate::pool::Pool;
use crate::service::{AuthConfig, NodeApi};
use crate::settings::NodeSettings;
use anyhow::Context;
use clap::Parser;
use ember_engine::{Engine, EngineConfig, Policy, TieringConfig};
use ember_proto::node::node_service_server::NodeServiceServer;

#[derive(Parser, Debug)]
#[command(name = "ember-node", version, about = "An Ember cluster node: tiered Lua JIT, gossip warm start, gRPC NodeService")]
struct Args {
    /// TOML config file (every key: --print-config).
    #[arg(long, env = "EMBER_CONFIG")]
    config: Option<PathBuf>,
    /// Print the effective configuration as TOML and exit.
    #[arg(long)]
    print_config: bool,
    /// gRPC listen address (port 0: any free port).
    #[arg(long, env = "EMBER_LISTEN")]
    listen: Option<SocketAddr>,
    /// gRPC address to publish to peers (default: the bound address).
    #[arg(long, env = "EMBER_ADVERTISE")]
    advertise: Option<String>,
    /// Prometheus /metrics listen address.
    #[arg(long, env = "EMBER_METRICS_LISTEN")]
    metrics_listen: Option<SocketAddr>,
    /// Serve gRPC over TLS: certificate chain (PEM).
    #[arg(long, env = "EMBER_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// Private key of --tls-cert (PEM).
    #[arg(long, env = "EMBER_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Node id, unique in the cluster (`auto`: the host name).
    #[arg(long, env = "EMBER_NODE_ID")]
    node_id: Option<String>,
    /// Cluster id: nodes gossip only within one.
    #[arg(long, env = "EMBER_CLUSTER_ID")]
    cluster_id: Option<String>,
    /// UDP gossip listen address.
    #[arg(long, env = "EMBER_GOSSIP_LISTEN")]
    gossip_listen: Option<SocketAddr>,
    /// Gossip address peers should use (default: --gossip-listen), as
    /// IP:port or host:port; a host name is resolved at start (in a
    /// container, its service name gives the container's current address);
    /// `auto`: this host's name and the gossip port.
    #[arg(long, env = "EMBER_GOSSIP_ADVERTISE")]
    gossip_advertise: Option<String>,
    /// Seed nodes' gossip addresses, comma-separated host:port.
    #[arg(long, env = "EMBER_SEEDS", value_delimiter = ',')]
    seeds: Option<Vec<String>>,
    /// Gossip round interval, ms.
    #[arg(long, env = "EMBER_GOSSIP_INTERVAL_MS")]
    gossip_interval_ms: Option<u64>,
    /// HMAC secret for gossip values.
    #[arg(long, env = "EMBER_CLUSTER_SECRET", hide_env_values = true)]
    cluster_secret: Option<String>,
    /// Accept and publish unsigned gossip values (insecure; logged loudly).
    #[arg(long, env = "EMBER_INSECURE_GOSSIP")]
    insecure_gossip: bool,
    /// Directory for profile snapshots.
    #[arg(long, env = "EMBER_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Load every *.lua file in DIR at start (module name = file stem).
    #[arg(long, env = "EMBER_MODULES")]
    modules: Option<PathBuf>,
    /// Tiering policy preset: throughput, latency or balanced.
    #[arg(long, env = "EMBER_POLICY")]
    policy: Option<Policy>,
    /// Set a tiering knob, KEY=VALUE (repeatable; docs/tiering.md).
    #[arg(long = "tiering", value_name = "KEY=VALUE")]
    tiering: Vec<String>,
    /// Invocation worker threads (0: one per core).
    #[arg(long, env = "EMBER_WORKERS")]
    workers: Option<usize>,
    /// Bearer token for admin calls (LoadModule, SetPolicy).
    #[arg(long, env = "EMBER_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
    /// Require the token for Invoke too.
    #[arg(long, env = "EMBER_INVOKE_REQUIRES_TOKEN")]
    invoke_requires_token: bool,
    /// Largest gRPC request accepted, bytes.
    #[arg(long, env = "EMBER_MAX_REQUEST_BYTES")]
    max_request_bytes: Option<usize>,
    /// Compile-budget coordinator (http://host:port); none: local budget.
    #[arg(long, env = "EMBER_COORDINATOR")]
    coordinator: Option<String>,
    /// Turn warm start off (compile only what gets hot locally).
    #[arg(long, env = "EMBER_NO_WARM_START")]
    no_warm_start: bool,
    /// Fuel per invocation (loop back-edges + calls).
    #[arg(long, env = "EMBER_FUEL")]
    fuel: Option<u64>,
    /// Wall-clock limit per invocation, ms.
    #[arg(long, env = "EMBER_DEADLINE_MS")]
    deadline_ms: Option<u64>,
    /// Heap limit per Lua state, MiB.
    #[arg(long, env = "EMBER_HEAP_MB")]
    heap_mb: Option<u64>,
}

fn settings(args: &Args) -> anyhow::Result<NodeSettings> {
    let mut s = match &args.config {
        Some(p) => NodeSettings::load(p).map_err(anyhow::Error::msg)?,
        None => NodeSettings::default(),
    };
    macro_rules! set {
        ($field:expr, $value:expr) => {
            if let Some(v) = $value.clone() {
                $field = v;
            }
        };
    }
    set!(s.listen, args.listen);
    if args.advertise.is_some() {
        s.advertise = args.advertise.clone();
    }
    if args.metrics_listen.is_some() {
        s.metrics_listen = args.metrics_listen;
    }
    if args.tls_cert.is_some() {
        s.tls_cert = args.tls_cert.clone();
        s.tls_key = args.tls_key.clone();
    }
    set!(s.gossip.node_id, args.node_id);
    if s.gossip.node_id == "auto" {
        // One id per container when a service is scaled: its host name.
        s.gossip.node_id = hostname().context("--node-id auto: no host name")?;
    }
    set!(s.gossip.cluster_id, args.cluster_id);
    set!(s.gossip.listen, args.gossip_listen);
    if let Some(a) = &args.gossip_advertise
        && let Ok(addr) = a.parse::<SocketAddr>()
    {
        s.gossip.advertise = Some(addr);
    }
    set!(s.gossip.seeds, args.seeds);
    set!(s.gossip.interval_ms, args.gossip_interval_ms);
    if args.cluster_secret.is_some() {
        s.secret = args.cluster_secret.clone();
    }
    s.insecure_gossip |= args.insecure_gossip;
    if args.data_dir.is_some() {
        s.data_dir = args.data_dir.clone();
    }
    if args.modules.is_some() {
        s.modules = args.modules.clone();
    }
    if let Some(p) = args.policy {
        s.tiering = TieringConfig { mode: s.tiering.mode, ..TieringConfig::preset(p) };
    }
    for kv in &args.tiering {
        let (k, v) = kv.split_once('=').with_context(|| format!("--tiering {kv}: expected KEY=VALUE"))?;
        s.tiering.set(k.trim(), v.trim()).map_err(anyhow::Error::msg)?;
    }
    set!(s.workers, args.workers);
    if args.admin_token.is_some() {
        s.admin_token = args.admin_token.clone();
    }
    s.invoke_requires_token |= args.invoke_requires_token;
    set!(s.max_request_bytes, args.max_request_bytes);
    if let Some(c) = &args.coordinator {
        s.lease.coordinator = c.clone();
    }
    if args.no_warm_start {
        s.warm_start.enabled = false;
    }
    if args.fuel.is_some() {
        s.limits.fuel = args.fuel;
    }
    if args.deadline_ms.is_some() {
        s.limits.deadline_ms = args.deadline_ms;
    }
    if args.heap_mb.is_some() {
        s.limits.heap_mb = args.heap_mb;
    }
    s.validate().map_err(anyhow::Error::msg)?;
    Ok(s)
}

fn load_modules(node: &ClusterNode, dir: &std::path::Path) -> anyhow::Result<usize> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("--modules {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "lua"))
        .collect();
    files.sort();
    for f in &files {
        let name = f.file_stem().and_then(|s| s.to_str()).with_context(|| format!("{}: not a UTF-8 name", f.display()))?;
        let src = std::fs::read(f).with_context(|| format!("reading {}", f.display()))?;
        node.load_module(name, &src).map_err(|e| anyhow::anyhow!("{}: {e}", f.display()))?;
        tracing::info!(module = name, file = %f.display(), "module loaded");
    }
    Ok(files.len())
}

/// This machine's (or container's) host name.
fn hostname() -> Option<String> {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
}

/// Resolves `host:port` to an IPv4 address (preferred: what peers on a
/// container network reach), retrying for a while: a container's name may
/// not be in DNS the instant it starts.
async fn resolve(host_port: &str) -> anyhow::Result<SocketAddr> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let error = match tokio::net::lookup_host(host_port).await {
            Ok(addrs) => {
                let addrs: Vec<SocketAddr> = addrs.collect();
                if let Some(a) = addrs.iter().find(|a| a.is_ipv4()).or(addrs.first()) {
                    tracing::info!(name = host_port, address = %a, "gossip advertise address resolved");
                    return Ok(*a);
                }
                "no address".to_string()
            }
            Err(e) => e.to_string(),
        };
        if std::time::Instant::now() >= deadline {
            anyhow::bail!("--gossip-advertise {host_port}: cannot resolve: {error}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}

/// The `ember-node` program: parses `args` (the first item is the program
/// name) and runs until shutdown. Exits the process on a bad command line
/// or a fatal error, with the message on stderr. The binary is a one-line
/// wrapper; `ember-sim` runs this too, in a child process of its own.
pub fn main_with_args<I, T>(args: I)
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let args = Args::parse_from(args);
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    runtime.block_on(ember_telemetry::run("ember-node", run(args)));
}

async fn run(args: Args) -> anyhow::Result<()> {
    let mut s = settings(&args)?;
    if args.print_config {
        // Never echo credentials.
        let mut shown = s.clone();
        for secret in [&mut shown.secret, &mut shown.admin_token] {
            if secret.is_some() {
                *secret = Some("<redacted>".into());
            }
        }
        print!("{}", shown.to_toml());
        return Ok(());
    }
    if let Some(a) = &args.gossip_advertise
        && a.parse::<SocketAddr>().is_err()
    {
        let a = if a == "auto" {
            format!("{}:{}", hostname().context("--gossip-advertise auto: no host name")?, s.gossip.listen.port())
        } else {
            a.clone()
        };
        s.gossip.advertise = Some(resolve(&a).await?);
    }
    let listener = tokio::net::TcpListener::bind(s.listen).await.with_context(|| format!("binding gRPC on {}", s.listen))?;
    let bound = listener.local_addr()?;
    s.gossip.grpc_address = s.advertise.clone().unwrap_or_else(|| bound.to_string());

    let engine = Engine::with_config(EngineConfig { tiering: s.tiering.clone(), ..EngineConfig::default() });
    // Every background compile asks the gate first: leases from the
    // coordinator, or the local budget.
    let gate = Arc::new(crate::lease::LeaseGate::new(&s.gossip.node_id, s.lease.clone())?);
    engine.set_compile_gate(Some(gate.clone()));
    if let Some(addr) = s.metrics_listen {
        crate::metrics::install(addr)?;
    }
    let gossip_bytes = Arc::new(crate::metrics::GossipBytes::default());
    let transport = crate::metrics::CountingTransport::new(chitchat::transport::UdpTransport, gossip_bytes.clone());
    let node = Arc::new(ClusterNode::start(engine.clone(), s.node_options(), &transport).await?);
    if let Some(dir) = &s.modules {
        load_modules(&node, dir)?;
        // Serve only once the early compiles are done (bounded).
        let left = node.wait_warm(std::time::Duration::from_secs(5)).await;
        let w = node.stats().warm;
        tracing::info!(queued = w.compiles_queued, still_pending = left, "warm start before serving");
    }
    let pool = Arc::new(Pool::start(&engine, s.worker_count(), s.invoke_queue, s.limits.limits()));
    if s.metrics_listen.is_some() {
        crate::metrics::spawn_sampler(node.clone(), pool.clone(), Some(gate.clone()), gossip_bytes, std::time::Duration::from_secs(1));
    }
    let api = NodeApi::new(
        node.clone(),
        pool.clone(),
        AuthConfig { admin_token: s.admin_token.clone(), invoke_requires_token: s.invoke_requires_token },
        Some(gate.clone()),
    );
    let (health_reporter, health) = tonic_health::server::health_reporter();
    health_reporter.set_serving::<NodeServiceServer<NodeApi>>().await;
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(ember_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .context("reflection service")?;
    let service = NodeServiceServer::new(api).max_decoding_message_size(s.max_request_bytes);
    node.set_ready(true).await;
    // One line for scripts and tests to wait on.
    println!(
        "ember-node {} ready: grpc={} tls={} metrics={} gossip={} workers={} policy={:?}",
        s.gossip.node_id,
        bound,
        if s.tls_cert.is_some() { "on" } else { "off" },
        s.metrics_listen.map_or("off".to_string(), |a| a.to_string()),
        s.gossip.listen,
        pool.size(),
        s.tiering.policy
    );
    tracing::info!(node = %s.gossip.node_id, grpc = %bound, gossip = %s.gossip.listen, "serving");
    // Nagle's algorithm off: replies are small, and coalescing them with
    // the client's delayed ACKs stalls a request for 40 ms now and then.
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    let mut server = tonic::transport::Server::builder();
    if let (Some(cert), Some(key)) = (&s.tls_cert, &s.tls_key) {
        let cert = std::fs::read(cert).with_context(|| format!("reading {}", cert.display()))?;
        let key = std::fs::read(key).with_context(|| format!("reading {}", key.display()))?;
        let identity = tonic::transport::Identity::from_pem(cert, key);
        server = server.tls_config(tonic::transport::ServerTlsConfig::new().identity(identity)).context("TLS configuration")?;
    }
    server
        .add_service(health)
        .add_service(reflection)
        .add_service(service)
        .serve_with_incoming_shutdown(incoming, ember_telemetry::shutdown_signal())
        .await
        .context("gRPC server")?;

    tracing::info!("shutting down: draining invocations, saving profiles, leaving the cluster");
    node.set_ready(false).await;
    let drain_pool = pool.clone();
    tokio::task::spawn_blocking(move || drain_pool.drain()).await?;
    match Arc::try_unwrap(node) {
        Ok(node) => node.shutdown().await?,
        Err(node) => {
            node.save_snapshot()?;
        }
    }
    Ok(())
}
