//! Real `ember-node` processes on loopback, driven over gRPC and through
//! `emberctl`: warm start across processes (a fresh node compiles what
//! another node found hot before its own first invocation), the operator
//! flows, and refusals (no token, oversized request).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ember_proto::node as pb;
use ember_proto::node::node_service_client::NodeServiceClient;
use serde_json::Value as Json;

const MODULE: &str = r#"
local M = {}
local Point = {}
Point.__index = Point
function Point.new(x, y) return setmetatable({x = x, y = y}, Point) end
function Point:len2() return self.x * self.x + self.y * self.y end

function M.work(n, scale)
  local acc, hits = 0, 0
  for i = 1, n do
    local p = Point.new(i, i * scale)
    local d = p:len2()
    if d % 3 == 0 then hits = hits + 1 else acc = acc + d end
  end
  return acc, hits
end

function M.echo(...) return ... end
return M
"#;

/// A node process, killed when dropped (also when a test fails).
struct Node {
    child: Child,
    grpc: String,
    gossip: String,
    _stderr: std::thread::JoinHandle<String>,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ember-mp-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn spawn_node(id: &str, seeds: &[&Node], extra: &[&str]) -> Node {
    spawn_node_env(id, seeds, extra, &[])
}

fn spawn_node_env(id: &str, seeds: &[&Node], extra: &[&str], env: &[(&str, &str)]) -> Node {
    let gossip = format!("127.0.0.1:{}", free_udp_port());
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ember-node"));
    cmd.args(["--node-id", id, "--listen", "127.0.0.1:0", "--gossip-listen", &gossip, "--gossip-interval-ms", "100"])
        .args(["--admin-token", "admin-secret", "--workers", "1"])
        .env("EMBER_CLUSTER_SECRET", "mp-test-secret")
        .env("RUST_LOG", "warn")
        .args(extra)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if !seeds.is_empty() {
        cmd.arg("--seeds").arg(seeds.iter().map(|s| s.gossip.clone()).collect::<Vec<_>>().join(","));
    }
    let mut child = cmd.spawn().expect("spawn ember-node");
    let stderr = child.stderr.take().unwrap();
    let stderr = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("[node] {line}");
            all.push_str(&line);
        }
        all
    });
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).expect("ready line");
    assert!(line.contains(" ready: "), "unexpected first line: {line:?}");
    let grpc = line.split_whitespace().find_map(|w| w.strip_prefix("grpc=")).expect("grpc= in ready line").to_string();
    Node { child, grpc, gossip, _stderr: stderr }
}

fn ctl(node: &Node, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_emberctl")).args(["--node", &node.grpc]).args(args).output().expect("run emberctl");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn ctl_json(node: &Node, args: &[&str]) -> Json {
    let mut a = vec!["--json"];
    a.extend_from_slice(args);
    let (ok, out, err) = ctl(node, &a);
    assert!(ok, "emberctl {args:?} failed: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("emberctl {args:?}: not JSON ({e}): {out}"))
}

fn wait_for(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !cond() {
        assert!(t0.elapsed() < limit, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

async fn client(node: &Node) -> NodeServiceClient<tonic::transport::Channel> {
    NodeServiceClient::connect(format!("http://{}", node.grpc)).await.unwrap()
}

fn int(i: i64) -> pb::Value {
    pb::Value { kind: Some(pb::value::Kind::Int(i)) }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_node_compiles_what_the_cluster_found_hot_before_its_first_call() {
    let dir = temp_dir("warm");
    std::fs::write(dir.join("shop.lua"), MODULE).unwrap();
    let a = spawn_node("a", &[], &["--modules", dir.to_str().unwrap()]);

    // Drive node A until `M.work` and `Point:len2` are hot and compiled.
    let mut ca = client(&a).await;
    let mut expected = None;
    for _ in 0..20 {
        let r = ca
            .invoke(pb::InvokeRequest { module: "shop".into(), function: "work".into(), args: vec![int(500), int(3)] })
            .await
            .unwrap()
            .into_inner();
        assert!(r.error.is_none(), "{:?}", r.error);
        expected = Some(r.values);
    }
    // Compiles run on A's background worker, so the last call may return
    // before the compile it triggered is published.
    wait_for("A compiled work", Duration::from_secs(30), || ctl_json(&a, &["function", "work"])["tier"].as_u64() >= Some(1));

    // B joins and loads the same module, but is never invoked.
    let b = spawn_node("b", &[&a], &[]);
    wait_for("B's cluster view has A's hot functions", Duration::from_secs(30), || {
        let v = ctl_json(&b, &["profiles", "--cluster"]);
        v.as_array().unwrap().iter().filter(|p| p["nodes"].as_array().unwrap().iter().any(|n| n["node"] == "a")).count() >= 2
    });
    let loaded = ctl_json(&b, &["--token", "admin-secret", "load", dir.join("shop.lua").to_str().unwrap()]);
    assert!(loaded["warm_compiles"].as_u64().unwrap() >= 2, "{loaded}");
    for name in ["M.work", "Point:len2"] {
        // B compiles at the tier A reached (tier 2 when A got that far).
        wait_for(&format!("A compiled {name}"), Duration::from_secs(30), || ctl_json(&a, &["function", name])["tier"].as_u64() >= Some(1));
        // The tier flips when the code is published; the compile event
        // follows. (A's tier is read each time: A may reach tier 2 meanwhile.)
        wait_for(&format!("{name} compiled on B at the tier A reached"), Duration::from_secs(30), || {
            let reached = ctl_json(&a, &["function", name])["tier"].as_u64();
            let f = ctl_json(&b, &["function", name]);
            f["tier"].as_u64() == reached && f["history"].as_array().unwrap().iter().any(|e| e["kind"] == "compiled")
        });
        let f = ctl_json(&b, &["function", name]);
        assert_eq!(f["calls"], 0, "{name} compiled on B before any call: {f}");
        let compiled = f["history"].as_array().unwrap().iter().find(|e| e["kind"] == "compiled").expect("a compile event");
        assert_eq!(compiled["trigger"], "request", "warm start asked for it: {f}");
    }
    // And it computes the same thing.
    let mut cb = client(&b).await;
    let r = cb
        .invoke(pb::InvokeRequest { module: "shop".into(), function: "work".into(), args: vec![int(500), int(3)] })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(Some(r.values), expected);
    let _ = std::fs::remove_dir_all(&dir);
}

const FLIP: &str = r#"
local M = {}
function M.add(a, b) return a + b end
function M.drive(n, float_from)
  local s = 0
  for i = 1, n do
    local x = i
    if i >= float_from then x = i + 0.5 end
    s = M.add(s, x)
  end
  return s
end
return M
"#;

/// Deopt events in a function's history (`emberctl function NAME`).
fn deopts_of(node: &Node, name: &str) -> usize {
    let f = ctl_json(node, &["function", name]);
    f["history"].as_array().unwrap().iter().filter(|e| e["kind"] == "deopt").count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_warmed_at_tier_2_takes_none_of_the_deopts_its_peer_learned() {
    let dir = temp_dir("flip");
    std::fs::write(dir.join("flip.lua"), FLIP).unwrap();
    let knobs = ["--tiering", "tier2_threshold=20000", "--tiering", "deopt_limit=3"];
    let mut args_a = vec!["--modules", dir.to_str().unwrap()];
    args_a.extend_from_slice(&knobs);
    let a = spawn_node("a", &[], &args_a);
    let mut ca = client(&a).await;
    let drive = |from: i64| pb::InvokeRequest { module: "flip".into(), function: "drive".into(), args: vec![int(4000), int(from)] };
    // Integers until `add` runs tier-2 code on A (compiled in the background)...
    let t0 = Instant::now();
    while ctl_json(&a, &["function", "M.add"])["tier"] != 2 {
        assert!(t0.elapsed() < Duration::from_secs(30), "add never reached tier 2 on A");
        ca.invoke(drive(i64::MAX)).await.unwrap();
    }
    // ...then floats from the middle on: A deoptimizes and learns.
    let want = ca.invoke(drive(2000)).await.unwrap().into_inner().values;
    let learned = deopts_of(&a, "M.add");
    let add_key = ctl_json(&a, &["function", "M.add"])["key"].clone();
    assert!(learned >= 1, "A logged its deopts: {}", ctl_json(&a, &["function", "M.add"]));

    // B never runs the module before it is warm: add reaches tier 2
    // before its first invocation, from A's gossiped profile and outcomes.
    let mut args_b = vec![];
    args_b.extend_from_slice(&knobs);
    let b = spawn_node("b", &[&a], &args_b);
    let t0 = Instant::now();
    loop {
        let v = ctl_json(&b, &["profiles", "--cluster"]);
        // (B has not loaded the module yet: it knows `add` by key only.)
        if v.as_array().unwrap().iter().any(|p| p["key"] == add_key && p["tier"] == 2 && !p["outcomes"].as_array().unwrap().is_empty()) {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(30), "B's view never had A's tier-2 add with outcomes: {v}");
        std::thread::sleep(Duration::from_millis(50));
    }
    ctl_json(&b, &["--token", "admin-secret", "load", dir.join("flip.lua").to_str().unwrap()]);
    wait_for("add at tier 2 on B", Duration::from_secs(30), || ctl_json(&b, &["function", "M.add"])["tier"] == 2);
    assert_eq!(ctl_json(&b, &["function", "M.add"])["calls"], 0, "compiled before B's first call");
    let mut cb = client(&b).await;
    let got = cb.invoke(drive(2000)).await.unwrap().into_inner().values;
    assert_eq!(got, want);
    assert_eq!(deopts_of(&b, "M.add"), 0, "B repeated A's deopt: {}", ctl_json(&b, &["function", "M.add"]));
    println!("A logged {learned} deopt event(s) learning the flip; B none");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_flows_and_refusals() {
    let dir = temp_dir("ops");
    let file = dir.join("shop.lua");
    std::fs::write(&file, MODULE).unwrap();
    let n = spawn_node("solo", &[], &["--max-request-bytes", "65536"]);

    // Admin calls need the token.
    let (ok, _, err) = ctl(&n, &["load", file.to_str().unwrap()]);
    assert!(!ok && err.contains("Unauthenticated") && err.contains("Bearer"), "{err}");
    let (ok, _, err) = ctl(&n, &["--token", "wrong", "load", file.to_str().unwrap()]);
    assert!(!ok && err.contains("wrong token"), "{err}");
    let (ok, out, err) = ctl(&n, &["--token", "admin-secret", "load", file.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(out.contains("loaded shop@") && out.contains("M.work"), "{out}");
    let (ok, _, err) = ctl(&n, &["--token", "admin-secret", "load", file.to_str().unwrap()]);
    assert!(!ok && err.contains("already loaded"), "{err}");

    // Invoke: values of every kind round-trip; errors are reported.
    let (ok, out, err) = ctl(&n, &["invoke", "shop", "echo", "1", "2.5", "true", "nil", "'7'", "hi"]);
    assert!(ok, "{err}");
    assert_eq!(out.trim_end(), "1\t2.5\ttrue\tnil\t7\thi");
    let v = ctl_json(&n, &["invoke", "shop", "echo", "[1,2,3]", "{\"k\":\"v\"}"]);
    assert_eq!(v["values"][0], serde_json::json!([1, 2, 3]));
    assert_eq!(v["values"][1], serde_json::json!([["k", "v"]]));
    let (ok, _, err) = ctl(&n, &["invoke", "shop", "work", "10", "'x'"]);
    assert!(!ok && err.contains("runtime error") && err.contains("attempt to mul"), "{err}");
    let (ok, _, err) = ctl(&n, &["invoke", "nope", "f"]);
    assert!(!ok && err.contains("no module named 'nope'"), "{err}");

    // Tables and listings.
    let (ok, out, _) = ctl(&n, &["modules"]);
    assert!(ok && out.lines().next().unwrap().starts_with("MODULE") && out.contains("shop"), "{out}");
    let m = ctl_json(&n, &["members"]);
    assert_eq!(m[0]["node_id"], "solo");
    assert_eq!(m[0]["ready"], true);
    for _ in 0..3 {
        ctl(&n, &["invoke", "shop", "work", "3000", "2"]);
    }
    let p = ctl_json(&n, &["profiles", "--module", "shop"]);
    let work = p.as_array().unwrap().iter().find(|e| e["name"] == "M.work").expect("work profiled");
    assert_eq!(work["calls"], 4, "three runs and the one that raised");
    assert!(work["back_edges"].as_u64().unwrap() >= 8997);

    // Policy: read, change with the token, refuse bad knobs and no token.
    let pol = ctl_json(&n, &["policy", "get"]);
    assert_eq!(pol["policy"], "balanced");
    let (ok, _, err) = ctl(&n, &["policy", "set", "tier1_threshold=10"]);
    assert!(!ok && err.contains("Unauthenticated"), "{err}");
    let pol = ctl_json(&n, &["--token", "admin-secret", "policy", "set", "tier1_threshold=10", "warm_start.min_hotness=5"]);
    assert_eq!(pol["tier1_threshold"], "10");
    assert_eq!(pol["warm_start.min_hotness"], "5.0");
    let (ok, _, err) = ctl(&n, &["--token", "admin-secret", "policy", "set", "tier1_threshold=ten"]);
    assert!(!ok && err.contains("InvalidArgument") && err.contains("tier1_threshold"), "{err}");
    let (ok, _, err) = ctl(&n, &["--token", "admin-secret", "policy", "set", "warm_start.budget_share=7"]);
    assert!(!ok && err.contains("budget_share"), "{err}");
    assert_eq!(ctl_json(&n, &["policy", "get"])["tier1_threshold"], "10", "a refused change changed nothing");
    let b = ctl_json(&n, &["budget"]);
    assert_eq!(b["source"], "local");

    // An oversized request is refused with a clear status; the node lives on.
    let big = dir.join("big.lua");
    std::fs::write(&big, format!("return {{ {} }}", "1, ".repeat(40_000))).unwrap();
    let (ok, _, err) = ctl(&n, &["--token", "admin-secret", "load", big.to_str().unwrap()]);
    assert!(!ok && err.to_lowercase().contains("message length too large"), "{err}");
    let (ok, out, _) = ctl(&n, &["invoke", "shop", "echo", "42"]);
    assert!(ok && out.trim() == "42");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_node_without_a_secret_refuses_to_start() {
    let out = Command::new(env!("CARGO_BIN_EXE_ember-node"))
        .args(["--listen", "127.0.0.1:0", "--gossip-listen", &format!("127.0.0.1:{}", free_udp_port())])
        .env_remove("EMBER_CLUSTER_SECRET")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no cluster secret") && err.contains("--insecure-gossip"), "{err}");
}

fn scrape(port: u16) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).unwrap();
    body
}

/// The value of the first sample line starting with `series`.
fn sample(body: &str, series: &str) -> Option<f64> {
    body.lines().find(|l| l.starts_with(series)).and_then(|l| l.rsplit(' ').next()).and_then(|v| v.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_metrics_scrape_has_every_series_with_sane_values() {
    let dir = temp_dir("metrics");
    std::fs::write(dir.join("shop.lua"), MODULE).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let metrics = format!("127.0.0.1:{port}");
    let a = spawn_node("a", &[], &["--modules", dir.to_str().unwrap(), "--metrics-listen", &metrics]);
    let _b = spawn_node("b", &[&a], &[]);
    let mut ca = client(&a).await;
    for _ in 0..20 {
        ca.invoke(pb::InvokeRequest { module: "shop".into(), function: "work".into(), args: vec![int(500), int(3)] }).await.unwrap();
    }
    // The compiles those calls queued run on A's background worker and may
    // publish after the last call returns; a few calls after it run compiled.
    wait_for("A compiled work", Duration::from_secs(30), || ctl_json(&a, &["function", "work"])["tier"].as_u64() >= Some(1));
    for _ in 0..3 {
        ca.invoke(pb::InvokeRequest { module: "shop".into(), function: "work".into(), args: vec![int(500), int(3)] }).await.unwrap();
    }
    ca.invoke(pb::InvokeRequest { module: "shop".into(), function: "nope".into(), args: vec![] }).await.unwrap();
    wait_for("gossip traffic both ways and a sample", Duration::from_secs(30), || {
        let body = scrape(port);
        sample(&body, "ember_gossip_bytes_total{direction=\"in\"}").is_some_and(|v| v > 0.0)
            && sample(&body, "ember_compilations_total{tier=\"1\"}").is_some_and(|v| v >= 2.0)
            && sample(&body, "ember_cluster_members").is_some_and(|v| v == 2.0)
            && sample(&body, "ember_profiles_published_total").is_some_and(|v| v >= 1.0)
    });
    let body = scrape(port);
    let at_least = |series: &str, min: f64| {
        let v = sample(&body, series).unwrap_or_else(|| panic!("no {series} in:\n{body}"));
        assert!(v >= min, "{series} = {v}, want >= {min}");
    };
    // Calls ran compiled code, at tier 1 or (once hot enough) tier 2.
    let compiled_calls = |series: &str| ["1", "2"].iter().filter_map(|t| sample(&body, &series.replace("TIER", t))).sum::<f64>();
    assert!(compiled_calls("ember_invocations_total{tier=\"TIER\",outcome=\"ok\"}") >= 1.0, "{body}");
    assert!(compiled_calls("ember_invoke_seconds_count{tier=\"TIER\"}") >= 1.0, "{body}");
    assert!(compiled_calls("ember_invoke_seconds_bucket{tier=\"TIER\",le=\"+Inf\"}") >= 1.0, "{body}");
    at_least("ember_invocations_total{tier=\"0\",outcome=\"error\"}", 1.0);
    at_least("ember_compilations_total{tier=\"1\"}", 2.0);
    at_least("ember_compile_microseconds_total", 1.0);
    at_least("ember_recompiles_total", 0.0);
    at_least("ember_osr_entries_total", 0.0);
    at_least("ember_pinned_functions", 0.0);
    at_least("ember_code_cache_bytes", 4096.0);
    at_least("ember_code_evictions_total", 0.0);
    at_least("ember_gossip_bytes_total{direction=\"out\"}", 1.0);
    at_least("ember_profiles_published_total", 1.0);
    at_least("ember_profiles_applied_total", 0.0);
    at_least("ember_warm_start_compiles_total", 0.0);
    at_least("ember_leases_total{result=\"local\"}", 2.0);
    at_least("ember_budget_source{source=\"local\"}", 1.0);
    at_least("ember_heap_bytes", 1024.0);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A CA and a server certificate for localhost / 127.0.0.1, as PEM files
/// in `dir`: (ca.pem, cert.pem, key.pem).
fn make_certs(dir: &std::path::Path) -> (PathBuf, PathBuf, PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap().signed_by(&key, &issuer).unwrap();
    let paths = (dir.join("ca.pem"), dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&paths.0, ca_cert.pem()).unwrap();
    std::fs::write(&paths.1, cert.pem()).unwrap();
    std::fs::write(&paths.2, key.serialize_pem()).unwrap();
    paths
}

#[test]
fn grpc_over_tls_round_trips_and_plaintext_is_refused() {
    let dir = temp_dir("tls");
    std::fs::write(dir.join("shop.lua"), MODULE).unwrap();
    let (ca, cert, key) = make_certs(&dir);
    let n = spawn_node(
        "tls",
        &[],
        &["--modules", dir.to_str().unwrap(), "--tls-cert", cert.to_str().unwrap(), "--tls-key", key.to_str().unwrap()],
    );
    let ca = ca.to_str().unwrap();
    let (ok, out, err) = ctl(&n, &["--ca-cert", ca, "invoke", "shop", "echo", "secure", "1"]);
    assert!(ok, "TLS round trip failed: {err}");
    assert_eq!(out.trim_end(), "secure\t1");
    let m = {
        let (ok, out, err) = ctl(&n, &["--ca-cert", ca, "--json", "members"]);
        assert!(ok, "{err}");
        serde_json::from_str::<Json>(&out).unwrap()
    };
    assert_eq!(m[0]["node_id"], "tls");
    // A plaintext client gets nowhere.
    let (ok, _, err) = ctl(&n, &["invoke", "shop", "echo", "1"]);
    assert!(!ok, "plaintext must not work against a TLS node");
    assert!(!err.is_empty());
    // Nor does a client that does not trust the node's CA.
    let other = temp_dir("tls-other");
    let (other_ca, _, _) = make_certs(&other);
    let (ok, _, err) = ctl(&n, &["--ca-cert", other_ca.to_str().unwrap(), "invoke", "shop", "echo", "1"]);
    assert!(!ok, "an untrusted certificate must be refused: {err}");
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&other);
}

use ember_telemetry::receiver as otlp;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_warm_start_compile_links_to_the_compile_on_the_node_whose_profile_caused_it() {
    use otlp::{Value as V, attr};
    let (endpoint, spans) = otlp::start().await;
    let dir = temp_dir("otlp");
    std::fs::write(dir.join("shop.lua"), MODULE).unwrap();
    let env_a = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_SERVICE_NAME", "node-a"),
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ("RUST_LOG", "info"),
    ];
    let a = spawn_node_env("a", &[], &["--modules", dir.to_str().unwrap()], &env_a);
    let mut ca = client(&a).await;
    for _ in 0..20 {
        ca.invoke(pb::InvokeRequest { module: "shop".into(), function: "work".into(), args: vec![int(500), int(3)] }).await.unwrap();
    }
    // W3C trace context both ways: the invoke continues the caller's trace
    // and the response names the invoke span.
    let caller_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let mut req = tonic::Request::new(pb::InvokeRequest { module: "shop".into(), function: "echo".into(), args: vec![int(1)] });
    req.metadata_mut().insert("traceparent", format!("00-{caller_trace}-00f067aa0ba902b7-01").parse().unwrap());
    let resp = ca.invoke(req).await.unwrap();
    let tp = resp.metadata().get("traceparent").expect("traceparent in the response").to_str().unwrap().to_string();
    assert!(tp.starts_with(&format!("00-{caller_trace}-")), "{tp}");
    // A's profile of `work` must carry its compile's trace context before B looks.
    let env_b = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_SERVICE_NAME", "node-b"),
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ("RUST_LOG", "info"),
    ];
    let b = spawn_node_env("b", &[&a], &[], &env_b);
    // (B has not loaded the module, so it knows the functions by key only.)
    wait_for("B's view has A's compiled functions", Duration::from_secs(30), || {
        let v = ctl_json(&b, &["profiles", "--cluster"]);
        v.as_array().is_some_and(|a| a.iter().filter(|p| p["tier"].as_u64() >= Some(1)).count() >= 2)
    });
    ctl_json(&b, &["--token", "admin-secret", "load", dir.join("shop.lua").to_str().unwrap()]);
    let linked = || {
        let all = spans.lock().unwrap();
        let a_compiles: Vec<_> = all
            .iter()
            .filter(|(s, sp)| s == "node-a" && sp.name == "compile")
            .map(|(_, sp)| (sp.trace_id.clone(), sp.span_id.clone()))
            .collect();
        all.iter().any(|(s, sp)| {
            s == "node-b"
                && sp.name == "compile"
                && matches!(attr(sp, "trigger"), Some(V::StringValue(t)) if t == "warm-start")
                && sp.links.iter().any(|l| a_compiles.contains(&(l.trace_id.clone(), l.span_id.clone())))
        }) && all.iter().any(|(_, sp)| sp.name == "invoke" && sp.trace_id == hex(caller_trace))
            && all.iter().any(|(s, sp)| s == "node-a" && sp.name == "profile.publish")
            && all.iter().any(|(s, sp)| s == "node-b" && sp.name == "profile.apply")
    };
    let t0 = Instant::now();
    while !linked() {
        if t0.elapsed() > Duration::from_secs(30) {
            // Say what did arrive, so a failure on another machine explains itself.
            let all = spans.lock().unwrap();
            let compiles: Vec<String> = all
                .iter()
                .filter(|(_, sp)| sp.name == "compile")
                .map(|(s, sp)| format!("{s} {:?} trigger={:?} links={}", sp.span_id, attr(sp, "trigger"), sp.links.len()))
                .collect();
            panic!(
                "timed out waiting for B's warm-start compile span linked to A's compile; {} spans, compiles:\n{}\nB's work: {}",
                all.len(),
                compiles.join("\n"),
                ctl_json(&b, &["function", "work"])
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let all = spans.lock().unwrap();
    assert!(all.iter().any(|(s, sp)| s == "node-a" && sp.name == "invoke"), "invoke spans are exported");
    let continued = all.iter().find(|(_, sp)| sp.name == "invoke" && sp.trace_id == hex(caller_trace)).expect("the traced invoke");
    assert_eq!(continued.1.parent_span_id, hex("00f067aa0ba902b7"), "a child of the caller's span");
    assert!(all.iter().any(|(s, sp)| s == "node-a" && sp.name == "profile.publish"));
    assert!(all.iter().any(|(s, sp)| s == "node-b" && sp.name == "profile.apply"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_take_compile_leases_from_a_coordinator() {
    use ember_coordinator::budget::BudgetConfig;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let coord = format!("http://{}", listener.local_addr().unwrap());
    let budget = BudgetConfig { max_concurrent: 2, reserved_for_priority: 0, ..BudgetConfig::default() };
    tokio::spawn(ember_coordinator::service::serve(budget, None, listener, std::future::pending()));
    let dir = temp_dir("leases");
    std::fs::write(dir.join("shop.lua"), MODULE).unwrap();
    // A lease request's first call also connects: allow a loaded machine
    // time, or a compile falls back to the local budget.
    let config = dir.join("node.toml");
    std::fs::write(&config, "[lease]\ntimeout_ms = 5000\n").unwrap();
    let config = config.to_str().unwrap();
    let a = spawn_node("a", &[], &["--modules", dir.to_str().unwrap(), "--coordinator", &coord, "--config", config]);
    let b = spawn_node("b", &[&a], &["--coordinator", &coord, "--config", config]);
    let mut ca = client(&a).await;
    for _ in 0..20 {
        ca.invoke(pb::InvokeRequest { module: "shop".into(), function: "work".into(), args: vec![int(500), int(3)] }).await.unwrap();
    }
    wait_for("A compiled under a lease", Duration::from_secs(30), || ctl_json(&a, &["budget"])["leases_granted"].as_u64().unwrap() >= 1);
    let budget = ctl_json(&a, &["budget"]);
    assert_eq!(budget["source"], "coordinator", "{budget}");
    assert_eq!(budget["local_compiles"], 0, "{budget}");
    // The grant is in the function's own history, before the compile it
    // allowed (which may still be running when the grant is counted).
    let has_compiled = |f: &Json| f["history"].as_array().unwrap().iter().any(|e| e["kind"] == "compiled");
    wait_for("A's compile of work finished", Duration::from_secs(30), || has_compiled(&ctl_json(&a, &["function", "work"])));
    let f = ctl_json(&a, &["function", "work"]);
    let history = f["history"].as_array().unwrap();
    let compiled = history.iter().find(|e| e["kind"] == "compiled").unwrap_or_else(|| panic!("no compile: {f:#}"));
    let grant = history
        .iter()
        .find(|e| e["kind"] == "lease" && e["trigger"] == "granted" && e["tier"] == compiled["tier"])
        .unwrap_or_else(|| panic!("no granted lease in the history: {f:#}"));
    assert!(grant["reason"].as_str().unwrap().starts_with("lease "), "{grant}");
    assert!(grant["at_us"].as_u64() <= compiled["at_us"].as_u64(), "lease after the compile: {f:#}");
    // B's warm-start compiles ask too, as warm-start priority.
    wait_for("B's view has A's hot functions", Duration::from_secs(30), || {
        ctl_json(&b, &["profiles", "--cluster"]).as_array().is_some_and(|v| v.len() >= 2)
    });
    ctl_json(&b, &["--token", "admin-secret", "load", dir.join("shop.lua").to_str().unwrap()]);
    wait_for("B compiled under leases", Duration::from_secs(30), || ctl_json(&b, &["budget"])["leases_granted"].as_u64().unwrap() >= 1);
    assert_eq!(ctl_json(&b, &["budget"])["source"], "coordinator");
    let _ = std::fs::remove_dir_all(&dir);
}
