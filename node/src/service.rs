//! `NodeService`: the gRPC API of one node, over its [`ClusterNode`] and
//! invocation [`Pool`].
//!
//! A reader follows one `Invoke`: the handler checks the token (if the
//! node requires one for invokes), converts the proto values, queues a job
//! on the pool without blocking (a full queue is `RESOURCE_EXHAUSTED`),
//! awaits the worker's reply, and returns values — or the Lua error inside
//! an OK response, because a Lua error is an answer, not a transport
//! failure. Admin calls (`LoadModule`, `SetPolicy`) always need the token.

use std::sync::Arc;

use ember_engine::{Error, FunctionKey, LuaValue, TierEventKind};
use ember_proto::node as pb;
use ember_proto::node::node_service_server::NodeService;
use tokio::sync::oneshot;
use tonic::{Request, Response, Status};

use crate::ClusterNode;
use crate::pool::{Job, Pool, SubmitError};

/// How long `LoadModule` waits for the early compiles it queued.
const WARM_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Who may do what.
#[derive(Clone, Debug, Default)]
pub struct AuthConfig {
    /// Bearer token for admin calls; `None` refuses every admin call.
    pub admin_token: Option<String>,
    /// Whether `Invoke` needs the token too.
    pub invoke_requires_token: bool,
}

/// The service.
pub struct NodeApi {
    node: Arc<ClusterNode>,
    pool: Arc<Pool>,
    auth: AuthConfig,
    lease: Option<Arc<crate::lease::LeaseGate>>,
}

impl NodeApi {
    /// A service over `node` and `pool`; `lease` is the compile-budget gate
    /// installed in the engine, if any.
    pub fn new(node: Arc<ClusterNode>, pool: Arc<Pool>, auth: AuthConfig, lease: Option<Arc<crate::lease::LeaseGate>>) -> NodeApi {
        NodeApi { node, pool, auth, lease }
    }

    fn check_token<T>(&self, req: &Request<T>, what: &str) -> Result<(), Status> {
        let Some(want) = &self.auth.admin_token else {
            return Err(Status::permission_denied(format!("{what} needs an admin token, and this node has none configured")));
        };
        let got = req.metadata().get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
        match got {
            None => Err(Status::unauthenticated(format!("{what} needs `authorization: Bearer <token>`"))),
            Some(t) if constant_time_eq(t.as_bytes(), want.as_bytes()) => Ok(()),
            Some(_) => Err(Status::unauthenticated("wrong token")),
        }
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Proto value to host value; `depth` bounds nesting.
pub fn from_proto(v: &pb::Value, depth: usize) -> Result<LuaValue, Status> {
    use pb::value::Kind;
    if depth > 32 {
        return Err(Status::invalid_argument("argument nested deeper than 32 levels"));
    }
    Ok(match &v.kind {
        None | Some(Kind::Nil(_)) => LuaValue::Nil,
        Some(Kind::Boolean(b)) => LuaValue::Bool(*b),
        Some(Kind::Int(i)) => LuaValue::Int(*i),
        Some(Kind::Float(f)) => LuaValue::Float(*f),
        Some(Kind::String(s)) => LuaValue::Str(s.clone()),
        Some(Kind::Array(a)) => LuaValue::Table(
            a.items
                .iter()
                .enumerate()
                .map(|(i, x)| Ok((LuaValue::Int(i as i64 + 1), from_proto(x, depth + 1)?)))
                .collect::<Result<_, Status>>()?,
        ),
        Some(Kind::Map(m)) => LuaValue::Table(
            m.entries
                .iter()
                .map(|e| {
                    let k = from_proto(e.key.as_ref().unwrap_or(&pb::Value::default()), depth + 1)?;
                    if matches!(k, LuaValue::Nil) || matches!(k, LuaValue::Float(f) if f.is_nan()) {
                        return Err(Status::invalid_argument("a map key is nil or NaN"));
                    }
                    Ok((k, from_proto(e.value.as_ref().unwrap_or(&pb::Value::default()), depth + 1)?))
                })
                .collect::<Result<_, Status>>()?,
        ),
    })
}

/// Host value to proto value. A table whose keys are exactly 1..n in order
/// is an array; any other table is a map. Functions travel as nil.
pub fn to_proto(v: &LuaValue) -> pb::Value {
    use pb::value::Kind;
    let kind = match v {
        LuaValue::Nil | LuaValue::Function => Kind::Nil(true),
        LuaValue::Bool(b) => Kind::Boolean(*b),
        LuaValue::Int(i) => Kind::Int(*i),
        LuaValue::Float(f) => Kind::Float(*f),
        LuaValue::Str(s) => Kind::String(s.clone()),
        LuaValue::Table(pairs) => {
            let is_array = pairs.iter().enumerate().all(|(i, (k, _))| *k == LuaValue::Int(i as i64 + 1));
            if is_array && !pairs.is_empty() {
                Kind::Array(pb::ValueList { items: pairs.iter().map(|(_, x)| to_proto(x)).collect() })
            } else {
                Kind::Map(pb::ValueMap {
                    entries: pairs.iter().map(|(k, x)| pb::MapEntry { key: Some(to_proto(k)), value: Some(to_proto(x)) }).collect(),
                })
            }
        }
    };
    pb::Value { kind: Some(kind) }
}

fn lua_error(e: &Error) -> pb::LuaError {
    let kind = match e {
        Error::Syntax(_) => "syntax",
        Error::Runtime { .. } => "runtime",
        Error::Limit { .. } => "limit",
        Error::Exit(_) => "exit",
        Error::Api(_) => "api",
    };
    pb::LuaError { kind: kind.into(), message: e.to_string() }
}

fn module_id(m: &ember_engine::Module) -> String {
    format!("{}@{}", m.name(), &m.main().key().to_string()[..12])
}

impl NodeApi {
    /// Local profile entries, filtered.
    fn local_entries(&self, f: &pb::ProfilesRequest) -> Vec<pb::ProfileEntry> {
        let engine = self.node.engine();
        let limit = if f.limit == 0 { 100 } else { f.limit as usize };
        let mut out = Vec::new();
        for m in engine.modules() {
            if !f.module.is_empty() && m.name() != f.module {
                continue;
            }
            for p in m.functions() {
                if !f.function.is_empty() && p.name() != f.function && p.key().to_string() != f.function {
                    continue;
                }
                let Some(c) = engine.compact_profile(p.key()) else { continue };
                let hotness = (c.calls + c.back_edges) as f64;
                if hotness == 0.0 || hotness < f.min_hotness {
                    continue;
                }
                let tier = engine.function_tier(p.key()).map_or(0, |t| t.tier as u32);
                out.push(pb::ProfileEntry {
                    key: p.key().to_string(),
                    name: p.name().to_string(),
                    module: m.name().to_string(),
                    tier,
                    calls: c.calls,
                    back_edges: c.back_edges,
                    hotness,
                    sites: c.site_bits.iter().filter(|b| **b != 0).count() as u32,
                    nodes: Vec::new(),
                    outcomes: c
                        .outcomes
                        .iter()
                        .map(|o| pb::Outcome { site: o.site, kind: format!("{:?}", o.kind), failures: o.failures, nodes: 1 })
                        .collect(),
                });
            }
        }
        out.sort_by(|a, b| b.hotness.total_cmp(&a.hotness));
        out.truncate(limit);
        out
    }

    fn local_name(&self, key: FunctionKey) -> (String, String) {
        for m in self.node.engine().modules() {
            if let Some(p) = m.function(key) {
                return (p.name().to_string(), m.name().to_string());
            }
        }
        (String::new(), String::new())
    }

    fn cluster_entry(&self, f: &crate::ClusterFunction) -> pb::ProfileEntry {
        let (name, module) = self.local_name(f.key);
        pb::ProfileEntry {
            key: f.key.to_string(),
            name,
            module,
            tier: f.profile.tier as u32,
            calls: f.profile.calls,
            back_edges: f.profile.back_edges,
            hotness: f.hotness,
            sites: f.profile.site_bits.iter().filter(|b| **b != 0).count() as u32,
            nodes: f
                .nodes
                .iter()
                .map(|n| pb::NodeTier {
                    node: n.node.clone(),
                    generation: n.generation,
                    tier: n.tier as u32,
                    calls: n.calls,
                    back_edges: n.back_edges,
                    age_ms: n.age_ms,
                })
                .collect(),
            outcomes: f
                .outcome_nodes
                .iter()
                .map(|(o, n)| pb::Outcome { site: o.site, kind: format!("{:?}", o.kind), failures: o.failures, nodes: *n })
                .collect(),
        }
    }

    fn cluster_entries(&self, f: &pb::ProfilesRequest) -> Vec<pb::ProfileEntry> {
        let view = self.node.view();
        let limit = if f.limit == 0 { 100 } else { f.limit as usize };
        view.hottest()
            .into_iter()
            .filter(|c| c.hotness >= f.min_hotness)
            .map(|c| self.cluster_entry(c))
            .filter(|e| f.module.is_empty() || e.module == f.module)
            .filter(|e| f.function.is_empty() || e.name == f.function || e.key == f.function)
            .take(limit)
            .collect()
    }

    fn policy(&self) -> pb::Policy {
        let mut knobs = Vec::new();
        let mut push = |prefix: &str, v: serde_json::Value| {
            if let serde_json::Value::Object(map) = v {
                for (k, v) in map {
                    let value = match v {
                        serde_json::Value::String(s) => s,
                        other => other.to_string(),
                    };
                    knobs.push(pb::Knob { key: format!("{prefix}{k}"), value });
                }
            }
        };
        push("", serde_json::to_value(self.node.engine().tiering()).expect("config serializes"));
        push("warm_start.", serde_json::to_value(self.node.warm_start()).expect("config serializes"));
        pb::Policy { knobs }
    }
}

/// Sets one field of a serde struct from text: the value is read as JSON
/// when it parses (numbers, booleans), else as a string.
pub fn set_field<T: serde::Serialize + serde::de::DeserializeOwned>(config: &T, key: &str, value: &str) -> Result<T, String> {
    let mut v = serde_json::to_value(config).map_err(|e| e.to_string())?;
    let obj = v.as_object_mut().ok_or("not a struct")?;
    if !obj.contains_key(key) {
        return Err(format!("unknown knob '{key}'"));
    }
    let parsed = serde_json::from_str(value).unwrap_or_else(|_| serde_json::Value::String(value.to_string()));
    obj.insert(key.to_string(), parsed);
    serde_json::from_value(v).map_err(|e| format!("{key}: {e}"))
}

#[tonic::async_trait]
impl NodeService for NodeApi {
    async fn load_module(&self, req: Request<pb::LoadModuleRequest>) -> Result<Response<pb::LoadModuleResponse>, Status> {
        self.check_token(&req, "LoadModule")?;
        let r = req.into_inner();
        if r.name.is_empty() || r.name.len() > 256 {
            return Err(Status::invalid_argument("module name must be 1 to 256 bytes"));
        }
        if self.node.engine().module(&r.name).is_some() {
            return Err(Status::already_exists(format!("module '{}' is already loaded", r.name)));
        }
        let before = self.node.stats().warm.compiles_queued;
        let m = self.node.load_module(&r.name, &r.source).map_err(|e| Status::invalid_argument(e.to_string()))?;
        let warm = self.node.stats().warm.compiles_queued - before;
        // Answer once the early compiles are done (bounded), so the first
        // invocation after a load already runs compiled code.
        let left = self.node.wait_warm(WARM_WAIT).await;
        if left > 0 {
            tracing::warn!(module = %r.name, left, "early compiles still queued after {WARM_WAIT:?}");
        }
        tracing::info!(module = %r.name, functions = m.functions().len(), warm_compiles = warm, "module loaded");
        Ok(Response::new(pb::LoadModuleResponse {
            module_id: module_id(&m),
            functions: m
                .functions()
                .iter()
                .map(|p| pb::FunctionSummary { key: p.key().to_string(), name: p.name().to_string(), line: p.line_defined() })
                .collect(),
            warm_compiles: warm as u32,
        }))
    }

    async fn invoke(&self, req: Request<pb::InvokeRequest>) -> Result<Response<pb::InvokeResponse>, Status> {
        if self.auth.invoke_requires_token {
            self.check_token(&req, "Invoke")?;
        }
        // W3C trace context in: the invoke span continues the caller's trace.
        let parent = req.metadata().get("traceparent").and_then(|v| v.to_str().ok()).and_then(crate::telemetry::parse_traceparent);
        let r = req.into_inner();
        let span = tracing::info_span!("invoke", module = %r.module, function = %r.function, duration_us = tracing::field::Empty, error = tracing::field::Empty);
        if let Some(p) = &parent {
            crate::telemetry::set_remote_parent(&span, p);
        }
        let _enter = span.enter();
        let args = r.args.iter().map(|a| from_proto(a, 0)).collect::<Result<Vec<_>, _>>()?;
        let (reply, rx) = oneshot::channel();
        match self.pool.submit(Job { module: r.module, function: r.function, args, reply }) {
            Ok(()) => {}
            Err(SubmitError::Busy) => return Err(Status::resource_exhausted("all workers are busy and the invoke queue is full")),
            Err(SubmitError::Closed) => return Err(Status::unavailable("the node is shutting down")),
        }
        drop(_enter);
        let out = rx.await.map_err(|_| Status::internal("the worker went away"))?;
        span.record("duration_us", out.duration_us);
        if let Err(e) = &out.result {
            span.record("error", tracing::field::display(e));
        }
        let mut resp = Response::new(match out.result {
            Ok(values) => pb::InvokeResponse { values: values.iter().map(to_proto).collect(), error: None, duration_us: out.duration_us },
            Err(e) => pb::InvokeResponse { values: Vec::new(), error: Some(lua_error(&e)), duration_us: out.duration_us },
        });
        // And out: the caller learns the invoke span, to link or continue.
        if let Some(tc) = crate::telemetry::trace_context_of(&span)
            && let Ok(v) = crate::telemetry::format_traceparent(&tc).parse()
        {
            resp.metadata_mut().insert("traceparent", v);
        }
        Ok(resp)
    }

    async fn list_modules(&self, _: Request<pb::ListModulesRequest>) -> Result<Response<pb::ListModulesResponse>, Status> {
        let mut modules: Vec<pb::ModuleInfo> = self
            .node
            .engine()
            .modules()
            .iter()
            .map(|m| pb::ModuleInfo { name: m.name().to_string(), module_id: module_id(m), functions: m.functions().len() as u32 })
            .collect();
        modules.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Response::new(pb::ListModulesResponse { modules }))
    }

    async fn get_local_profiles(&self, req: Request<pb::ProfilesRequest>) -> Result<Response<pb::ProfilesResponse>, Status> {
        Ok(Response::new(pb::ProfilesResponse { profiles: self.local_entries(req.get_ref()) }))
    }

    async fn get_cluster_profiles(&self, req: Request<pb::ProfilesRequest>) -> Result<Response<pb::ProfilesResponse>, Status> {
        Ok(Response::new(pb::ProfilesResponse { profiles: self.cluster_entries(req.get_ref()) }))
    }

    async fn get_function(&self, req: Request<pb::GetFunctionRequest>) -> Result<Response<pb::FunctionInfo>, Status> {
        let r = req.into_inner();
        let engine = self.node.engine();
        // An exact name or key first; else the last part of a name
        // (`total` finds `M.total` or `Cart:total`) when only one matches.
        let mut exact = None;
        let mut by_tail = Vec::new();
        for m in engine.modules() {
            if !r.module.is_empty() && m.name() != r.module {
                continue;
            }
            for p in m.functions() {
                if p.name() == r.function || p.key().to_string() == r.function {
                    exact.get_or_insert((m.clone(), p.clone()));
                } else if p.name().rsplit(['.', ':']).next() == Some(r.function.as_str()) {
                    by_tail.push((m.clone(), p.clone()));
                }
            }
        }
        let (m, p) = match (exact, by_tail.len()) {
            (Some(f), _) => f,
            (None, 1) => by_tail.remove(0),
            (None, 0) => return Err(Status::not_found(format!("no loaded function named or keyed '{}'", r.function))),
            (None, _) => {
                let names: Vec<String> = by_tail.iter().map(|(m, p)| format!("{}:{}", m.name(), p.name())).collect();
                return Err(Status::invalid_argument(format!("'{}' is ambiguous: {}", r.function, names.join(", "))));
            }
        };
        let key = p.key();
        let t = engine.function_tier(key).expect("loaded");
        let mut history: Vec<pb::TierEvent> = engine
            .tier_events(0)
            .into_iter()
            .filter(|e| e.key == key)
            .map(|e| pb::TierEvent {
                at_us: e.at_us,
                kind: match e.kind {
                    TierEventKind::Compiled => "compiled",
                    TierEventKind::Rejected => "rejected",
                    TierEventKind::Evicted => "evicted",
                    TierEventKind::Freed => "freed",
                    TierEventKind::Deopt => "deopt",
                    TierEventKind::Pinned => "pinned",
                }
                .into(),
                tier: e.tier as u32,
                compile_us: e.compile_us,
                code_bytes: e.code_bytes,
                trigger: e
                    .trigger
                    .map(|t| serde_json::to_value(t).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default())
                    .unwrap_or_default(),
                reason: match (e.pc, e.guard) {
                    // A deopt names its guard and bytecode position.
                    (Some(pc), guard) => format!(
                        "{} at pc {pc}: {}",
                        guard.map_or("entry check".to_string(), |g| format!("{g:?}")),
                        e.reason.unwrap_or_default()
                    ),
                    _ => e.reason.unwrap_or_default(),
                },
            })
            .collect();
        // The compile budget's decisions about it, on the engine's clock.
        if let Some(gate) = &self.lease {
            let now_us = engine.uptime_us();
            history.extend(gate.history(key).into_iter().map(|e| pb::TierEvent {
                at_us: now_us.saturating_sub(e.at.elapsed().as_micros() as u64),
                kind: "lease".into(),
                tier: u32::from(e.tier),
                compile_us: 0,
                code_bytes: 0,
                trigger: e.decision.into(),
                reason: if e.repeats > 0 { format!("{} (×{})", e.detail, e.repeats + 1) } else { e.detail },
            }));
            history.sort_by_key(|e| e.at_us);
        }
        let view = self.node.view();
        Ok(Response::new(pb::FunctionInfo {
            key: key.to_string(),
            name: p.name().to_string(),
            module: m.name().to_string(),
            location: t.location.clone(),
            tier: t.tier as u32,
            hotness: t.hotness,
            calls: engine.compact_profile(key).map_or(0, |c| c.calls),
            code_bytes: t.code_bytes,
            rejected: t.rejected.unwrap_or_default(),
            history,
            cluster: view.functions.get(&key).map(|f| self.cluster_entry(f)),
        }))
    }

    async fn list_members(&self, _: Request<pb::ListMembersRequest>) -> Result<Response<pb::ListMembersResponse>, Status> {
        let members = self
            .node
            .members()
            .await
            .into_iter()
            .map(|m| pb::Member {
                node_id: m.node_id,
                generation: m.generation,
                gossip_addr: m.gossip_addr,
                grpc_addr: m.grpc.unwrap_or_default(),
                ready: m.ready,
                live: true,
                schema: m.schema.unwrap_or(0),
                functions: m.functions as u32,
                is_self: m.is_self,
            })
            .collect();
        Ok(Response::new(pb::ListMembersResponse { members }))
    }

    async fn get_policy(&self, _: Request<pb::GetPolicyRequest>) -> Result<Response<pb::Policy>, Status> {
        Ok(Response::new(self.policy()))
    }

    async fn set_policy(&self, req: Request<pb::SetPolicyRequest>) -> Result<Response<pb::Policy>, Status> {
        self.check_token(&req, "SetPolicy")?;
        let r = req.into_inner();
        if r.knobs.is_empty() {
            return Err(Status::invalid_argument("no knobs given"));
        }
        // Validate everything before changing anything.
        let engine = self.node.engine();
        let mut tiering = engine.tiering();
        let mut warm = self.node.warm_start();
        for k in &r.knobs {
            if let Some(field) = k.key.strip_prefix("warm_start.") {
                warm = set_field(&warm, field, &k.value).map_err(Status::invalid_argument)?;
                warm.validate().map_err(Status::invalid_argument)?;
            } else {
                tiering.set(&k.key, &k.value).map_err(Status::invalid_argument)?;
            }
        }
        engine.set_tiering(tiering).map_err(Status::invalid_argument)?;
        self.node.set_warm_start(warm).map_err(Status::invalid_argument)?;
        tracing::info!(knobs = ?r.knobs.iter().map(|k| format!("{}={}", k.key, k.value)).collect::<Vec<_>>(), "policy changed");
        Ok(Response::new(self.policy()))
    }

    async fn get_budget(&self, _: Request<pb::GetBudgetRequest>) -> Result<Response<pb::Budget>, Status> {
        let engine = self.node.engine();
        let s = engine.jit_stats();
        let c = engine.tiering();
        let l = self.lease.as_ref().map(|g| g.stats());
        let source = match l.as_ref().map(|l| &l.source) {
            None | Some(crate::lease::BudgetSource::Local) => "local",
            Some(crate::lease::BudgetSource::Coordinator) => "coordinator",
            Some(crate::lease::BudgetSource::Fallback) => "fallback",
        };
        Ok(Response::new(pb::Budget {
            source: source.into(),
            queue_len: s.queue_len,
            queue_capacity: c.queue_capacity as u64,
            workers: c.workers as u64,
            compiled: s.tier1_compiled,
            queue_drops: s.queue_drops,
            coordinator: l.as_ref().map(|l| l.coordinator.clone()).unwrap_or_default(),
            leases_granted: l.as_ref().map_or(0, |l| l.granted),
            leases_denied: l.as_ref().map_or(0, |l| l.denied),
            local_compiles: l.as_ref().map_or(0, |l| l.local),
            fallbacks: l.as_ref().map_or(0, |l| l.fallbacks),
            last_error: l.as_ref().and_then(|l| l.last_error.clone()).unwrap_or_default(),
            fallback_for_ms: l.as_ref().map_or(0, |l| l.fallback_for_ms),
            budget_waits: s.gate_waits,
            compiled_tier2: s.tier2_compiled,
        }))
    }
}
