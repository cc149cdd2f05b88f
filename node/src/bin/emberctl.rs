//! `emberctl`: the operator's command line over a node's gRPC API.
//!
//! Human-readable aligned tables by default; `--json` prints the response
//! as JSON for scripts. `--node` and `--token` also come from `EMBER_NODE`
//! and `EMBER_TOKEN`.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use ember_proto::node as pb;
use ember_proto::node::node_service_client::NodeServiceClient;
use serde_json::{Value as Json, json};
use tonic::metadata::MetadataValue;
use tonic::transport::Channel;

#[derive(Parser)]
#[command(name = "emberctl", version, about = "Inspect and drive an Ember node over gRPC")]
struct Cli {
    /// Node gRPC address.
    #[arg(long, env = "EMBER_NODE", default_value = "http://127.0.0.1:7070", global = true)]
    node: String,
    /// Bearer token for admin calls.
    #[arg(long, env = "EMBER_TOKEN", hide_env_values = true, global = true)]
    token: Option<String>,
    /// CA certificate (PEM) to verify a TLS node with; implies https.
    #[arg(long, env = "EMBER_CA_CERT", global = true)]
    ca_cert: Option<PathBuf>,
    /// Print JSON instead of tables.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Is the server at --node serving? (grpc.health.v1: answers for nodes
    /// and the coordinator alike; exit status 0 only when SERVING — for
    /// container healthchecks.)
    Health,
    /// Cluster members as this node's gossip sees them.
    Members,
    /// Loaded modules.
    Modules,
    /// Load a Lua file as a module (admin).
    Load {
        /// The file.
        file: PathBuf,
        /// Module name (default: the file stem).
        #[arg(long)]
        name: Option<String>,
    },
    /// Call a function. Arguments: integers, floats, true/false/nil, a JSON
    /// array or object (a table), anything else is a string; quote with '…'
    /// to force a string.
    Invoke {
        /// Module name.
        module: String,
        /// Function name (dotted path into the module's table).
        function: String,
        /// Arguments.
        args: Vec<String>,
        /// Call N times over one connection and report round-trip
        /// percentiles (the last call's result is printed).
        #[arg(long, default_value_t = 1)]
        repeat: u32,
    },
    /// Profiles: this node's, or with --cluster the merged cluster view.
    Profiles {
        /// The cluster view instead of this node's own.
        #[arg(long)]
        cluster: bool,
        /// Only this module.
        #[arg(long)]
        module: Option<String>,
        /// Only this function (name or key).
        #[arg(long)]
        function: Option<String>,
        /// Only functions at least this hot.
        #[arg(long, default_value_t = 0.0)]
        min_hotness: f64,
        /// At most this many (0: 100).
        #[arg(long, default_value_t = 0)]
        limit: u32,
    },
    /// One function: tier, cluster reports and tier history.
    Function {
        /// Name or key.
        function: String,
        /// Module, to pick among same-named functions.
        #[arg(long)]
        module: Option<String>,
    },
    /// Tiering and warm-start knobs.
    Policy {
        #[command(subcommand)]
        action: PolicyAction,
    },
    /// Compile budget state.
    Budget,
}

#[derive(Subcommand)]
enum PolicyAction {
    /// Show every knob.
    Get,
    /// Change knobs (admin): KEY=VALUE ...
    Set {
        /// KEY=VALUE pairs (warm-start knobs as warm_start.KEY).
        settings: Vec<String>,
    },
}

/// Parses one command-line argument into a Lua value.
fn parse_arg(a: &str) -> anyhow::Result<pb::Value> {
    use pb::value::Kind;
    let kind = if let Ok(i) = a.parse::<i64>() {
        Kind::Int(i)
    } else if let Ok(f) = a.parse::<f64>() {
        Kind::Float(f)
    } else if a == "true" || a == "false" {
        Kind::Boolean(a == "true")
    } else if a == "nil" {
        Kind::Nil(true)
    } else if a.len() >= 2 && a.starts_with('\'') && a.ends_with('\'') {
        Kind::String(a.as_bytes()[1..a.len() - 1].to_vec())
    } else if a.starts_with('[') || a.starts_with('{') {
        let j: Json = serde_json::from_str(a).with_context(|| format!("argument {a}: not valid JSON"))?;
        return Ok(from_json(&j));
    } else {
        Kind::String(a.as_bytes().to_vec())
    };
    Ok(pb::Value { kind: Some(kind) })
}

fn from_json(j: &Json) -> pb::Value {
    use pb::value::Kind;
    let kind = match j {
        Json::Null => Kind::Nil(true),
        Json::Bool(b) => Kind::Boolean(*b),
        Json::Number(n) => n.as_i64().map_or_else(|| Kind::Float(n.as_f64().unwrap_or(f64::NAN)), Kind::Int),
        Json::String(s) => Kind::String(s.as_bytes().to_vec()),
        Json::Array(a) => Kind::Array(pb::ValueList { items: a.iter().map(from_json).collect() }),
        Json::Object(o) => Kind::Map(pb::ValueMap {
            entries: o
                .iter()
                .map(|(k, v)| pb::MapEntry {
                    key: Some(pb::Value { kind: Some(Kind::String(k.as_bytes().to_vec())) }),
                    value: Some(from_json(v)),
                })
                .collect(),
        }),
    };
    pb::Value { kind: Some(kind) }
}

fn to_json(v: &pb::Value) -> Json {
    use pb::value::Kind;
    match &v.kind {
        None | Some(Kind::Nil(_)) => Json::Null,
        Some(Kind::Boolean(b)) => json!(b),
        Some(Kind::Int(i)) => json!(i),
        Some(Kind::Float(f)) => json!(f),
        Some(Kind::String(s)) => json!(String::from_utf8_lossy(s)),
        Some(Kind::Array(a)) => Json::Array(a.items.iter().map(to_json).collect()),
        Some(Kind::Map(m)) => {
            Json::Array(m.entries.iter().map(|e| json!([e.key.as_ref().map(to_json), e.value.as_ref().map(to_json)])).collect())
        }
    }
}

/// Lua-ish text for a value, as `print` would show scalars.
fn show(v: &pb::Value) -> String {
    use pb::value::Kind;
    match &v.kind {
        None | Some(Kind::Nil(_)) => "nil".into(),
        Some(Kind::Boolean(b)) => b.to_string(),
        Some(Kind::Int(i)) => i.to_string(),
        Some(Kind::Float(f)) => {
            if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e16 {
                format!("{f:.1}")
            } else {
                format!("{f}")
            }
        }
        Some(Kind::String(s)) => String::from_utf8_lossy(s).into_owned(),
        Some(_) => to_json(v).to_string(),
    }
}

/// Prints rows as aligned columns under a header.
fn table(header: &[&str], rows: Vec<Vec<String>>) {
    let mut width: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in &rows {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let s: Vec<String> = cells.iter().zip(&width).map(|(c, w)| format!("{c:<w$}")).collect();
        println!("{}", s.join("  ").trim_end());
    };
    line(header.iter().map(|h| h.to_string()).collect());
    for r in rows {
        line(r);
    }
}

fn short(key: &str) -> String {
    key.chars().take(12).collect()
}

struct Client {
    inner: NodeServiceClient<Channel>,
    token: Option<String>,
}

impl Client {
    fn req<T>(&self, msg: T) -> anyhow::Result<tonic::Request<T>> {
        let mut r = tonic::Request::new(msg);
        if let Some(t) = &self.token {
            let v: MetadataValue<_> = format!("Bearer {t}").parse().context("token is not valid header text")?;
            r.metadata_mut().insert("authorization", v);
        }
        r.set_timeout(std::time::Duration::from_secs(30));
        Ok(r)
    }
}

fn status_error(s: tonic::Status) -> anyhow::Error {
    anyhow::anyhow!("{:?}: {}", s.code(), s.message())
}

fn profiles_out(json_out: bool, ps: &[pb::ProfileEntry], cluster: bool) {
    if json_out {
        let v: Vec<Json> = ps
            .iter()
            .map(|p| {
                json!({
                    "key": p.key, "name": p.name, "module": p.module, "tier": p.tier, "calls": p.calls,
                    "back_edges": p.back_edges, "hotness": p.hotness, "sites": p.sites,
                    "nodes": p.nodes.iter().map(|n| json!({"node": n.node, "generation": n.generation, "tier": n.tier, "calls": n.calls, "back_edges": n.back_edges, "age_ms": n.age_ms})).collect::<Vec<_>>(),
                    "outcomes": p.outcomes.iter().map(|o| json!({"site": o.site, "kind": o.kind, "failures": o.failures, "nodes": o.nodes})).collect::<Vec<_>>(),
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&v).expect("json"));
        return;
    }
    let mut header = vec!["KEY", "FUNCTION", "MODULE", "TIER", "CALLS", "BACKEDGES", "HOTNESS", "SITES"];
    if cluster {
        header.push("NODES");
        header.push("OUTCOMES");
    }
    let rows = ps
        .iter()
        .map(|p| {
            let mut r = vec![
                short(&p.key),
                if p.name.is_empty() { "(not loaded here)".into() } else { p.name.clone() },
                p.module.clone(),
                p.tier.to_string(),
                p.calls.to_string(),
                p.back_edges.to_string(),
                format!("{:.0}", p.hotness),
                p.sites.to_string(),
            ];
            if cluster {
                r.push(p.nodes.iter().map(|n| format!("{}:t{}", n.node, n.tier)).collect::<Vec<_>>().join(","));
                r.push(p.outcomes.len().to_string());
            }
            r
        })
        .collect();
    table(&header, rows);
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let cli = Cli::parse();
    if let Err(e) = run(cli).await {
        eprintln!("emberctl: {e:#}");
        std::process::exit(1);
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let scheme = if cli.ca_cert.is_some() { "https" } else { "http" };
    let addr = if cli.node.contains("://") { cli.node.clone() } else { format!("{scheme}://{}", cli.node) };
    let mut endpoint = Channel::from_shared(addr.clone())
        .with_context(|| format!("bad node address {addr}"))?
        .connect_timeout(std::time::Duration::from_secs(5));
    if addr.starts_with("https://") {
        let mut tls = tonic::transport::ClientTlsConfig::new().with_enabled_roots();
        if let Some(ca) = &cli.ca_cert {
            let pem = std::fs::read(ca).with_context(|| format!("reading {}", ca.display()))?;
            tls = tls.ca_certificate(tonic::transport::Certificate::from_pem(pem));
        }
        endpoint = endpoint.tls_config(tls).context("TLS configuration")?;
    }
    let channel = endpoint.connect().await.with_context(|| format!("cannot reach the node at {addr}"))?;
    if let Command::Health = cli.command {
        use tonic_health::pb::health_check_response::ServingStatus;
        let r = tonic_health::pb::health_client::HealthClient::new(channel)
            .check(tonic_health::pb::HealthCheckRequest { service: String::new() })
            .await
            .map_err(status_error)?
            .into_inner();
        let status = ServingStatus::try_from(r.status).unwrap_or(ServingStatus::Unknown);
        if cli.json {
            println!("{}", json!({"status": status.as_str_name()}));
        } else {
            println!("{}", status.as_str_name());
        }
        anyhow::ensure!(status == ServingStatus::Serving, "{addr} is not serving");
        return Ok(());
    }
    let mut c = Client { inner: NodeServiceClient::new(channel).max_decoding_message_size(64 << 20), token: cli.token.clone() };
    let j = cli.json;
    match cli.command {
        Command::Health => unreachable!("answered above"),
        Command::Members => {
            let r = c.inner.list_members(c.req(pb::ListMembersRequest {})?).await.map_err(status_error)?.into_inner();
            if j {
                let v: Vec<Json> = r.members.iter().map(|m| json!({"node_id": m.node_id, "generation": m.generation, "gossip_addr": m.gossip_addr, "grpc_addr": m.grpc_addr, "ready": m.ready, "live": m.live, "schema": m.schema, "functions": m.functions, "self": m.is_self})).collect();
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                let rows = r
                    .members
                    .iter()
                    .map(|m| {
                        vec![
                            format!("{}{}", m.node_id, if m.is_self { " *" } else { "" }),
                            m.generation.to_string(),
                            m.gossip_addr.clone(),
                            m.grpc_addr.clone(),
                            if m.ready { "yes" } else { "no" }.into(),
                            m.functions.to_string(),
                        ]
                    })
                    .collect();
                table(&["NODE", "GENERATION", "GOSSIP", "GRPC", "READY", "PROFILES"], rows);
            }
        }
        Command::Modules => {
            let r = c.inner.list_modules(c.req(pb::ListModulesRequest {})?).await.map_err(status_error)?.into_inner();
            if j {
                let v: Vec<Json> =
                    r.modules.iter().map(|m| json!({"name": m.name, "module_id": m.module_id, "functions": m.functions})).collect();
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                table(
                    &["MODULE", "ID", "FUNCTIONS"],
                    r.modules.iter().map(|m| vec![m.name.clone(), m.module_id.clone(), m.functions.to_string()]).collect(),
                );
            }
        }
        Command::Load { file, name } => {
            let source = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let name = match name {
                Some(n) => n,
                None => file.file_stem().and_then(|s| s.to_str()).context("cannot name the module from the file; pass --name")?.to_string(),
            };
            let r =
                c.inner.load_module(c.req(pb::LoadModuleRequest { name: name.clone(), source })?).await.map_err(status_error)?.into_inner();
            if j {
                let v = json!({"module_id": r.module_id, "warm_compiles": r.warm_compiles, "functions": r.functions.iter().map(|f| json!({"key": f.key, "name": f.name, "line": f.line})).collect::<Vec<_>>()});
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                println!(
                    "loaded {} ({} functions, {} compiled early from cluster profiles)",
                    r.module_id,
                    r.functions.len(),
                    r.warm_compiles
                );
                table(
                    &["KEY", "FUNCTION", "LINE"],
                    r.functions.iter().map(|f| vec![short(&f.key), f.name.clone(), f.line.to_string()]).collect(),
                );
            }
        }
        Command::Invoke { module, function, args, repeat } => {
            let args = args.iter().map(|a| parse_arg(a)).collect::<anyhow::Result<Vec<_>>>()?;
            let mut rtt_us = Vec::with_capacity(repeat as usize);
            let mut last = None;
            for _ in 0..repeat.max(1) {
                let req = c.req(pb::InvokeRequest { module: module.clone(), function: function.clone(), args: args.clone() })?;
                let t0 = std::time::Instant::now();
                let r = c.inner.invoke(req).await.map_err(status_error)?.into_inner();
                rtt_us.push(t0.elapsed().as_micros() as u64);
                let failed = r.error.is_some();
                last = Some(r);
                if failed {
                    break;
                }
            }
            let r = last.expect("at least one call");
            rtt_us.sort_unstable();
            let pct = |p: f64| rtt_us[((rtt_us.len() as f64 * p).ceil() as usize).clamp(1, rtt_us.len()) - 1];
            if j {
                let mut v = json!({"values": r.values.iter().map(to_json).collect::<Vec<_>>(), "error": r.error.as_ref().map(|e| json!({"kind": e.kind, "message": e.message})), "duration_us": r.duration_us});
                if repeat > 1 {
                    v["calls"] = json!(rtt_us.len());
                    v["round_trip_us"] = json!({"p50": pct(0.5), "p99": pct(0.99), "max": rtt_us.last()});
                }
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else if r.error.is_none() {
                println!("{}", r.values.iter().map(show).collect::<Vec<_>>().join("\t"));
                if repeat > 1 {
                    eprintln!(
                        "{} calls: round trip p50 {} µs, p99 {} µs, max {} µs",
                        rtt_us.len(),
                        pct(0.5),
                        pct(0.99),
                        rtt_us.last().unwrap_or(&0)
                    );
                }
            }
            if let Some(e) = r.error {
                anyhow::bail!("{} error: {}", e.kind, e.message);
            }
        }
        Command::Profiles { cluster, module, function, min_hotness, limit } => {
            let req =
                pb::ProfilesRequest { module: module.unwrap_or_default(), function: function.unwrap_or_default(), min_hotness, limit };
            let r = if cluster { c.inner.get_cluster_profiles(c.req(req)?).await } else { c.inner.get_local_profiles(c.req(req)?).await }
                .map_err(status_error)?
                .into_inner();
            profiles_out(j, &r.profiles, cluster);
        }
        Command::Function { function, module } => {
            let r = c
                .inner
                .get_function(c.req(pb::GetFunctionRequest { function, module: module.unwrap_or_default() })?)
                .await
                .map_err(status_error)?
                .into_inner();
            if j {
                let v = json!({
                    "key": r.key, "name": r.name, "module": r.module, "location": r.location, "tier": r.tier,
                    "hotness": r.hotness, "calls": r.calls, "code_bytes": r.code_bytes, "rejected": r.rejected,
                    "history": r.history.iter().map(|e| json!({"at_us": e.at_us, "kind": e.kind, "tier": e.tier, "compile_us": e.compile_us, "code_bytes": e.code_bytes, "trigger": e.trigger, "reason": e.reason})).collect::<Vec<_>>(),
                    "cluster": r.cluster.as_ref().map(|p| json!({"hotness": p.hotness, "tier": p.tier, "nodes": p.nodes.iter().map(|n| json!({"node": n.node, "tier": n.tier, "calls": n.calls})).collect::<Vec<_>>()})),
                });
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                println!("{} ({}) in module {} at {}", r.name, r.key, r.module, r.location);
                println!(
                    "tier {}  hotness {}  calls {}  code {} bytes{}",
                    r.tier,
                    r.hotness,
                    r.calls,
                    r.code_bytes,
                    if r.rejected.is_empty() { String::new() } else { format!("  rejected: {}", r.rejected) }
                );
                if let Some(cl) = &r.cluster {
                    println!(
                        "cluster: hotness {:.0}, reported by {}",
                        cl.hotness,
                        cl.nodes.iter().map(|n| format!("{} (tier {}, {} calls)", n.node, n.tier, n.calls)).collect::<Vec<_>>().join(", ")
                    );
                }
                if !r.history.is_empty() {
                    println!();
                    table(
                        &["AT_MS", "EVENT", "TIER", "TRIGGER", "COMPILE_US", "BYTES", "REASON"],
                        r.history
                            .iter()
                            .map(|e| {
                                vec![
                                    format!("{:.1}", e.at_us as f64 / 1000.0),
                                    e.kind.clone(),
                                    e.tier.to_string(),
                                    e.trigger.clone(),
                                    e.compile_us.to_string(),
                                    e.code_bytes.to_string(),
                                    e.reason.clone(),
                                ]
                            })
                            .collect(),
                    );
                }
            }
        }
        Command::Policy { action } => {
            let r = match action {
                PolicyAction::Get => c.inner.get_policy(c.req(pb::GetPolicyRequest {})?).await,
                PolicyAction::Set { settings } => {
                    if settings.is_empty() {
                        anyhow::bail!("policy set needs KEY=VALUE arguments");
                    }
                    let knobs = settings
                        .iter()
                        .map(|s| {
                            s.split_once('=')
                                .map(|(k, v)| pb::Knob { key: k.trim().into(), value: v.trim().into() })
                                .with_context(|| format!("{s}: expected KEY=VALUE"))
                        })
                        .collect::<anyhow::Result<Vec<_>>>()?;
                    c.inner.set_policy(c.req(pb::SetPolicyRequest { knobs })?).await
                }
            }
            .map_err(status_error)?
            .into_inner();
            if j {
                let m: serde_json::Map<String, Json> = r.knobs.iter().map(|k| (k.key.clone(), json!(k.value))).collect();
                println!("{}", serde_json::to_string_pretty(&m)?);
            } else {
                table(&["KNOB", "VALUE"], r.knobs.iter().map(|k| vec![k.key.clone(), k.value.clone()]).collect());
            }
        }
        Command::Budget => {
            let r = c.inner.get_budget(c.req(pb::GetBudgetRequest {})?).await.map_err(status_error)?.into_inner();
            if j {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&json!({
                        "source": r.source, "coordinator": r.coordinator, "queue_len": r.queue_len, "queue_capacity": r.queue_capacity,
                        "workers": r.workers, "compiled": r.compiled, "compiled_tier2": r.compiled_tier2, "queue_drops": r.queue_drops, "leases_granted": r.leases_granted,
                        "leases_denied": r.leases_denied, "local_compiles": r.local_compiles, "fallbacks": r.fallbacks,
                        "last_error": r.last_error, "fallback_for_ms": r.fallback_for_ms, "budget_waits": r.budget_waits,
                    }))?
                );
            } else {
                table(
                    &["SOURCE", "COORDINATOR", "GRANTED", "DENIED", "LOCAL", "FALLBACKS", "WAITS", "QUEUED", "COMPILED T1/T2"],
                    vec![vec![
                        r.source.clone(),
                        if r.coordinator.is_empty() { "-".into() } else { r.coordinator.clone() },
                        r.leases_granted.to_string(),
                        r.leases_denied.to_string(),
                        r.local_compiles.to_string(),
                        r.fallbacks.to_string(),
                        r.budget_waits.to_string(),
                        format!("{}/{}", r.queue_len, r.queue_capacity),
                        format!("{}/{}", r.compiled, r.compiled_tier2),
                    ]],
                );
                if r.source == "fallback" {
                    println!("coordinator unreachable for {} ms: {}", r.fallback_for_ms, r.last_error);
                }
            }
        }
    }
    Ok(())
}
