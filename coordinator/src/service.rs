//! The gRPC `Coordinator` service over the [`Budget`] core.
//!
//! One mutex guards the budget: a decision is a few map operations, far
//! cheaper than the RPC around it, so one lock serves tens of thousands of
//! decisions a second. Time is milliseconds since the service started.
//! Every decision is counted in metrics (`ember_coordinator_*`) and runs
//! inside a tracing span.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ember_proto::coordinator as pb;
use ember_proto::coordinator::coordinator_server::Coordinator;
use tonic::{Request, Response, Status};

use crate::budget::{Budget, BudgetConfig, Decision, Priority, Request as BudgetRequest};

/// The service state, shareable with a background expiry task.
pub struct CoordinatorService {
    budget: Mutex<Budget>,
    started: Instant,
    admin_token: Option<String>,
}

fn to_pb(c: &BudgetConfig) -> pb::BudgetConfig {
    pb::BudgetConfig {
        max_concurrent: c.max_concurrent,
        cpu_ms_per_s: c.cpu_ms_per_s,
        burst_ms: c.burst_ms,
        lease_ttl_ms: c.lease_ttl_ms,
        reserved_for_priority: c.reserved_for_priority,
        fair_share: c.fair_share,
        pioneer: c.pioneer,
        pioneer_wait_ms: c.pioneer_wait_ms,
        outcome_grace_ms: c.outcome_grace_ms,
    }
}

impl CoordinatorService {
    /// A service with `config`; `admin_token` guards `SetBudget`.
    pub fn new(config: BudgetConfig, admin_token: Option<String>) -> Arc<CoordinatorService> {
        Arc::new(CoordinatorService { budget: Mutex::new(Budget::new(config, 0)), started: Instant::now(), admin_token })
    }

    fn now(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// Expires leases every `every` (so gauges and waiting nodes do not
    /// depend on traffic). Runs until the service is dropped.
    pub fn spawn_expiry(self: &Arc<Self>, every: Duration) {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(s) = weak.upgrade() else { return };
                let now = s.now();
                let mut b = s.budget.lock().expect("budget lock");
                let before = b.expired;
                b.expire(now);
                metrics::counter!("ember_coordinator_expired_total").increment(b.expired - before);
                metrics::gauge!("ember_coordinator_active_leases").set(b.active() as f64);
            }
        });
    }

    /// Decides one acquire (also used in process by the load generator).
    pub fn decide(&self, r: &pb::AcquireRequest) -> pb::AcquireResponse {
        let t0 = Instant::now();
        let span = tracing::debug_span!("acquire", node = %r.node, key = %r.function_key, tier = r.tier, decision = tracing::field::Empty);
        let _e = span.enter();
        let req = BudgetRequest {
            node: r.node.clone(),
            key: r.function_key.clone(),
            tier: r.tier,
            cost_ms: r.estimated_cost_us as f64 / 1000.0,
            priority: match pb::Priority::try_from(r.priority).unwrap_or(pb::Priority::Normal) {
                pb::Priority::Normal => Priority::Normal,
                pb::Priority::WarmStart => Priority::WarmStart,
                pb::Priority::VeryHot => Priority::VeryHot,
            },
        };
        let (decision, active) = {
            let mut b = self.budget.lock().expect("budget lock");
            let expired = b.expired;
            let d = b.acquire(&req, self.now());
            metrics::counter!("ember_coordinator_expired_total").increment(b.expired - expired);
            (d, b.active())
        };
        metrics::gauge!("ember_coordinator_active_leases").set(active as f64);
        let out = match decision {
            Decision::Granted { lease, ttl_ms, pioneer } => {
                span.record("decision", "granted");
                metrics::counter!("ember_coordinator_grants_total").increment(1);
                pb::acquire_response::Decision::Granted(pb::Grant { lease_id: lease, ttl_ms, pioneer })
            }
            Decision::Denied { reason, retry_after_ms, pioneer } => {
                span.record("decision", reason.label());
                metrics::counter!("ember_coordinator_denials_total", "reason" => reason.label()).increment(1);
                pb::acquire_response::Decision::Denied(pb::Denial {
                    retry_after_ms,
                    reason: reason.label().into(),
                    pioneer_node: pioneer.unwrap_or_default(),
                })
            }
        };
        metrics::histogram!("ember_coordinator_decision_seconds").record(t0.elapsed().as_secs_f64());
        pb::AcquireResponse { decision: Some(out) }
    }

    /// Returns a lease (also used in process by the load generator).
    pub fn give_back(&self, r: &pb::ReleaseRequest) -> bool {
        let _span = tracing::debug_span!("release", lease = r.lease_id, outcome = %r.outcome).entered();
        let mut b = self.budget.lock().expect("budget lock");
        let known = b.release(r.lease_id, r.actual_cost_us as f64 / 1000.0, &r.outcome, self.now());
        metrics::counter!("ember_coordinator_releases_total", "known" => if known { "yes" } else { "no" }).increment(1);
        metrics::gauge!("ember_coordinator_active_leases").set(b.active() as f64);
        known
    }

    /// A snapshot of the state.
    pub fn state(&self) -> pb::CoordinatorState {
        let now = self.now();
        let mut b = self.budget.lock().expect("budget lock");
        b.expire(now);
        let mut leases: Vec<pb::Lease> = b
            .leases()
            .map(|l| pb::Lease {
                lease_id: l.id,
                node: l.node.clone(),
                function_key: l.key.clone(),
                tier: l.tier,
                estimated_cost_us: (l.cost_ms * 1000.0) as u64,
                age_ms: now - l.granted_at,
                expires_in_ms: l.expires_at.saturating_sub(now),
                pioneer: l.pioneer,
            })
            .collect();
        leases.sort_by_key(|l| l.lease_id);
        pb::CoordinatorState {
            budget: Some(to_pb(b.config())),
            leases,
            nodes: b
                .nodes()
                .iter()
                .map(|(n, u)| pb::NodeUsage {
                    node: n.clone(),
                    active: u.active,
                    granted: u.granted,
                    denied: u.denied,
                    cpu_us: (u.cpu_ms * 1000.0) as u64,
                })
                .collect(),
            denials: b.denials.iter().map(|(r, c)| pb::Count { reason: r.label().into(), count: *c }).collect(),
            granted: b.granted,
            released: b.released,
            expired: b.expired,
            tokens_ms: b.tokens(now),
            max_active_seen: b.max_active_seen,
        }
    }
}

/// The tonic handler (a thin layer over [`CoordinatorService`]).
#[derive(Clone)]
pub struct CoordinatorApi(pub Arc<CoordinatorService>);

#[tonic::async_trait]
impl Coordinator for CoordinatorApi {
    async fn acquire(&self, req: Request<pb::AcquireRequest>) -> Result<Response<pb::AcquireResponse>, Status> {
        Ok(Response::new(self.0.decide(req.get_ref())))
    }

    async fn release(&self, req: Request<pb::ReleaseRequest>) -> Result<Response<pb::ReleaseResponse>, Status> {
        Ok(Response::new(pb::ReleaseResponse { known: self.0.give_back(req.get_ref()) }))
    }

    async fn get_state(&self, _: Request<pb::GetStateRequest>) -> Result<Response<pb::CoordinatorState>, Status> {
        Ok(Response::new(self.0.state()))
    }

    async fn set_budget(&self, req: Request<pb::SetBudgetRequest>) -> Result<Response<pb::BudgetConfig>, Status> {
        let Some(want) = &self.0.admin_token else {
            return Err(Status::permission_denied("SetBudget needs an admin token, and this coordinator has none configured"));
        };
        let got = req.metadata().get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
        match got {
            None => return Err(Status::unauthenticated("SetBudget needs `authorization: Bearer <token>`")),
            Some(t) if t.len() == want.len() && t.bytes().zip(want.bytes()).fold(0u8, |a, (x, y)| a | (x ^ y)) == 0 => {}
            Some(_) => return Err(Status::unauthenticated("wrong token")),
        }
        let r = req.into_inner();
        let new = r.budget.unwrap_or_default();
        let now = self.0.now();
        let mut b = self.0.budget.lock().expect("budget lock");
        let mut c = b.config().clone();
        if r.fields.is_empty() {
            return Err(Status::invalid_argument("name the fields to change in `fields`"));
        }
        for f in &r.fields {
            match f.as_str() {
                "max_concurrent" => c.max_concurrent = new.max_concurrent,
                "cpu_ms_per_s" => c.cpu_ms_per_s = new.cpu_ms_per_s,
                "burst_ms" => c.burst_ms = new.burst_ms,
                "lease_ttl_ms" => c.lease_ttl_ms = new.lease_ttl_ms,
                "reserved_for_priority" => c.reserved_for_priority = new.reserved_for_priority,
                "fair_share" => c.fair_share = new.fair_share,
                "pioneer" => c.pioneer = new.pioneer,
                "pioneer_wait_ms" => c.pioneer_wait_ms = new.pioneer_wait_ms,
                "outcome_grace_ms" => c.outcome_grace_ms = new.outcome_grace_ms,
                other => return Err(Status::invalid_argument(format!("unknown budget field '{other}'"))),
            }
        }
        b.set_config(c, now).map_err(Status::invalid_argument)?;
        tracing::info!(fields = ?r.fields, "budget changed");
        Ok(Response::new(to_pb(b.config())))
    }
}

/// Serves the coordinator (with health and reflection) on `listener` until
/// `shutdown` resolves.
pub async fn serve(
    budget: BudgetConfig,
    admin_token: Option<String>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    use ember_proto::coordinator::coordinator_server::CoordinatorServer;
    let service = CoordinatorService::new(budget, admin_token);
    service.spawn_expiry(Duration::from_millis(100));
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter.set_serving::<CoordinatorServer<CoordinatorApi>>().await;
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(ember_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    tonic::transport::Server::builder()
        .add_service(health)
        .add_service(reflection)
        .add_service(CoordinatorServer::new(CoordinatorApi(service)).max_decoding_message_size(64 * 1024))
        .serve_with_incoming_shutdown(incoming(listener), shutdown)
        .await
        .map_err(|e| anyhow::anyhow!("gRPC server: {e}"))
}

/// Accepted connections with Nagle's algorithm off: decisions are tiny
/// messages, and delaying them for coalescing only adds latency.
fn incoming(listener: tokio::net::TcpListener) -> impl tokio_stream::Stream<Item = std::io::Result<tokio::net::TcpStream>> {
    use tokio_stream::StreamExt;
    tokio_stream::wrappers::TcpListenerStream::new(listener).map(|s| {
        let s = s?;
        s.set_nodelay(true)?;
        Ok(s)
    })
}
