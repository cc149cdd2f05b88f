//! The coordinator as a process, over gRPC: 64 concurrent clients with an
//! outside observer, a client that dies holding leases, `SetBudget`
//! authorization, and the metrics endpoint.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use ember_coordinator::loadgen::{BenchConfig, run};
use ember_proto::coordinator as pb;
use ember_proto::coordinator::coordinator_client::CoordinatorClient;
use tonic::transport::Channel;

struct Coordinator {
    child: Child,
    addr: String,
}

impl Drop for Coordinator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(extra: &[&str]) -> Coordinator {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ember-coordinator"))
        .args(["--listen", "127.0.0.1:0", "--admin-token", "root"])
        .args(extra)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn ember-coordinator");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let addr = line.split_whitespace().find_map(|w| w.strip_prefix("grpc=")).unwrap_or_else(|| panic!("ready line: {line:?}")).to_string();
    Coordinator { child, addr: format!("http://{addr}") }
}

async fn client(c: &Coordinator) -> CoordinatorClient<Channel> {
    CoordinatorClient::connect(c.addr.clone()).await.unwrap()
}

fn acquire(node: &str, key: &str) -> pb::AcquireRequest {
    pb::AcquireRequest {
        node: node.into(),
        function_key: key.into(),
        tier: 1,
        estimated_cost_us: 100,
        priority: pb::Priority::Normal as i32,
    }
}

fn is_granted(r: &pb::AcquireResponse) -> Option<u64> {
    match &r.decision {
        Some(pb::acquire_response::Decision::Granted(g)) => Some(g.lease_id),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_clients_never_see_the_budget_exceeded() {
    let c = start(&["--max-concurrent", "4"]);
    let mut channels = Vec::new();
    for _ in 0..4 {
        channels.push(Channel::from_shared(c.addr.clone()).unwrap().connect().await.unwrap());
    }
    let report = run(channels, BenchConfig { clients: 64, seconds: 2.0, nodes: 8, keys: 200, max_hold_us: 500 }).await.unwrap();
    println!("{report}");
    assert_eq!(report.violations, 0);
    assert!(report.granted > 0 && report.decisions > report.granted);
    assert!(report.observed_max_held <= 4);
    let state = client(&c).await.get_state(pb::GetStateRequest {}).await.unwrap().into_inner();
    assert!(state.max_active_seen <= 4, "the coordinator's own high-water mark: {}", state.max_active_seen);
    assert_eq!(state.granted, report.granted);
    assert!(state.leases.is_empty(), "every lease came back");
    assert_eq!(state.nodes.len(), 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leases_of_a_client_that_died_expire_and_their_budget_returns() {
    let c = start(&["--max-concurrent", "2", "--lease-ttl-ms", "400"]);
    let mut dying = client(&c).await;
    // Node "dead" takes everything a normal compile may take, then vanishes.
    let mut taken = 0;
    for k in 0..3 {
        if is_granted(&dying.acquire(acquire("dead", &format!("k{k}"))).await.unwrap().into_inner()).is_some() {
            taken += 1;
        }
    }
    assert_eq!(taken, 1, "one slot of two is reserved for urgent compiles");
    drop(dying);
    let mut live = client(&c).await;
    let r = live.acquire(acquire("live", "x")).await.unwrap().into_inner();
    match r.decision {
        Some(pb::acquire_response::Decision::Denied(d)) => assert_eq!(d.reason, "concurrency"),
        other => panic!("{other:?}"),
    }
    tokio::time::sleep(Duration::from_millis(600)).await;
    let r = live.acquire(acquire("live", "x")).await.unwrap().into_inner();
    let lease = is_granted(&r).expect("granted once the dead node's lease expired");
    let state = live.get_state(pb::GetStateRequest {}).await.unwrap().into_inner();
    assert_eq!(state.expired, 1);
    let known =
        live.release(pb::ReleaseRequest { lease_id: lease, actual_cost_us: 80, outcome: "compiled".into() }).await.unwrap().into_inner();
    assert!(known.known);
    let again =
        live.release(pb::ReleaseRequest { lease_id: lease, actual_cost_us: 80, outcome: "compiled".into() }).await.unwrap().into_inner();
    assert!(!again.known);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_budget_needs_the_admin_token_and_valid_values() {
    let c = start(&[]);
    let mut cl = client(&c).await;
    let change = |v: u32| pb::SetBudgetRequest {
        budget: Some(pb::BudgetConfig { max_concurrent: v, ..Default::default() }),
        fields: vec!["max_concurrent".into()],
    };
    let e = cl.set_budget(change(9)).await.unwrap_err();
    assert_eq!(e.code(), tonic::Code::Unauthenticated, "{e}");
    let mut req = tonic::Request::new(change(9));
    req.metadata_mut().insert("authorization", "Bearer nope".parse().unwrap());
    assert_eq!(cl.set_budget(req).await.unwrap_err().code(), tonic::Code::Unauthenticated);
    let mut req = tonic::Request::new(change(0));
    req.metadata_mut().insert("authorization", "Bearer root".parse().unwrap());
    let e = cl.set_budget(req).await.unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument);
    assert!(e.message().contains("max_concurrent"), "{e}");
    let mut req = tonic::Request::new(change(9));
    req.metadata_mut().insert("authorization", "Bearer root".parse().unwrap());
    assert_eq!(cl.set_budget(req).await.unwrap().into_inner().max_concurrent, 9);
    let state = cl.get_state(pb::GetStateRequest {}).await.unwrap().into_inner();
    assert_eq!(state.budget.unwrap().max_concurrent, 9);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_grants_denials_and_latency() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let c = start(&["--max-concurrent", "2", "--metrics-listen", &format!("127.0.0.1:{port}")]);
    let mut cl = client(&c).await;
    for k in 0..4 {
        cl.acquire(acquire("n", &format!("k{k}"))).await.unwrap();
    }
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).unwrap();
    for series in [
        "ember_coordinator_grants_total 1",
        "ember_coordinator_denials_total{reason=\"concurrency\"} 3",
        "ember_coordinator_active_leases 1",
        "ember_coordinator_decision_seconds",
    ] {
        assert!(body.contains(series), "missing {series} in:\n{body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decisions_are_exported_as_spans_over_otlp() {
    use ember_telemetry::receiver::{self, Value, attr};
    let (endpoint, spans) = receiver::start().await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_ember-coordinator"))
        .args(["--listen", "127.0.0.1:0", "--max-concurrent", "2"])
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint)
        .env("OTEL_SERVICE_NAME", "coord-under-test")
        .env("OTEL_BSP_SCHEDULE_DELAY", "100")
        .env("RUST_LOG", "warn,ember_coordinator=debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let addr = line.split_whitespace().find_map(|w| w.strip_prefix("grpc=")).unwrap().to_string();
    let c = Coordinator { child, addr: format!("http://{addr}") };
    let mut cl = client(&c).await;
    for k in 0..3 {
        cl.acquire(acquire("traced", &format!("k{k}"))).await.unwrap();
    }
    let t0 = std::time::Instant::now();
    loop {
        let got = spans.lock().unwrap().iter().filter(|(s, sp)| s == "coord-under-test" && sp.name == "acquire").count();
        if got >= 3 {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(20), "only {got} acquire spans arrived");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let all = spans.lock().unwrap();
    let decisions: Vec<String> = all
        .iter()
        .filter(|(_, sp)| sp.name == "acquire")
        .filter_map(|(_, sp)| match attr(sp, "decision") {
            Some(Value::StringValue(d)) => Some(d.clone()),
            _ => None,
        })
        .collect();
    assert!(decisions.contains(&"granted".to_string()) && decisions.contains(&"concurrency".to_string()), "{decisions:?}");
}
