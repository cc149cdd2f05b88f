//! The node's compile-budget client against a real coordinator (in this
//! process, over loopback gRPC): compiles take leases; when the
//! coordinator dies they go on under the local fallback budget; when it
//! comes back the node uses it again.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ember_coordinator::budget::BudgetConfig;
use ember_engine::{Engine, EngineConfig, LuaValue, TieringConfig};
use ember_node::lease::{BudgetSource, LeaseConfig, LeaseGate};

fn module(prefix: &str, n: usize) -> String {
    (0..n)
        .map(|i| format!("function {prefix}{i}(x)\n  local s = {i}\n  for j = 1, 30 do s = s + x * j % 7 end\n  return s\nend\n"))
        .collect()
}

async fn start_coordinator(port: u16) -> (tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<anyhow::Result<()>>) {
    let listener = loop {
        match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
            Ok(l) => break l,
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    };
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let budget = BudgetConfig { max_concurrent: 2, reserved_for_priority: 0, ..BudgetConfig::default() };
    let h = tokio::spawn(ember_coordinator::service::serve(budget, None, listener, async {
        let _ = rx.await;
    }));
    (tx, h)
}

/// Calls every function of module `m` until all are compiled (or 20 s).
async fn drive_until_compiled(engine: &Engine, m: &str, prefix: &str, n: usize) {
    let e = engine.clone();
    let (m, prefix) = (m.to_string(), prefix.to_string());
    tokio::task::spawn_blocking(move || {
        let mut s = e.new_state();
        s.require(&m).unwrap();
        let t0 = Instant::now();
        loop {
            for i in 0..n {
                s.call(&format!("{prefix}{i}"), &[LuaValue::Int(3)]).unwrap();
            }
            let compiled = e.module(&m).unwrap().functions().iter().filter(|p| e.function_tier(p.key()).unwrap().tier == 1).count();
            if compiled >= n {
                return;
            }
            assert!(t0.elapsed() < Duration::from_secs(20), "only {compiled} of {n} compiled");
            std::thread::sleep(Duration::from_millis(2));
        }
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compiles_use_leases_fall_back_when_the_coordinator_dies_and_return_to_it() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (stop, server) = start_coordinator(port).await;
    let tiering = TieringConfig { tier1_threshold: 50, workers: 2, compile_on_invoking_thread: false, ..TieringConfig::default() };
    let engine = Engine::with_config(EngineConfig { tiering, ..EngineConfig::default() });
    let gate = Arc::new(
        LeaseGate::new(
            "n1",
            LeaseConfig {
                coordinator: format!("127.0.0.1:{port}"),
                // The first request also connects: allow a loaded machine time
                // (a dead coordinator still fails at once, refused).
                timeout_ms: 5_000,
                backoff_min_ms: 100,
                backoff_max_ms: 200,
                ..LeaseConfig::default()
            },
        )
        .unwrap(),
    );
    engine.set_compile_gate(Some(gate.clone()));

    engine.load_module("a", module("a", 6).as_bytes()).unwrap();
    drive_until_compiled(&engine, "a", "a", 6).await;
    let s = gate.stats();
    assert_eq!(s.source, BudgetSource::Coordinator);
    assert!(s.granted >= 6, "{s:?}");
    assert_eq!(s.local, 0);

    // The coordinator goes away mid-run.
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
    engine.load_module("b", module("b", 6).as_bytes()).unwrap();
    drive_until_compiled(&engine, "b", "b", 6).await;
    let s = gate.stats();
    assert_eq!(s.source, BudgetSource::Fallback, "{s:?}");
    assert!(s.local >= 6, "compiled under the fallback budget: {s:?}");
    assert_eq!(s.fallbacks, 1);
    assert!(s.last_error.is_some());

    // It comes back on the same address; after the backoff the node uses it again.
    let (_stop2, _server2) = start_coordinator(port).await;
    let granted_before = s.granted;
    engine.load_module("c", module("c", 6).as_bytes()).unwrap();
    let t0 = Instant::now();
    loop {
        drive_until_compiled(&engine, "c", "c", 6).await;
        let s = gate.stats();
        if s.source == BudgetSource::Coordinator && s.granted > granted_before {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(20), "never went back to the coordinator: {s:?}");
        // Everything in "c" compiled under fallback before the retry: new work.
        let m = format!("c{}", t0.elapsed().as_micros());
        engine.load_module(&m, module(&m, 3).as_bytes()).unwrap();
        drive_until_compiled(&engine, &m, &m, 3).await;
    }
    assert!(engine.jit_stats().gate_waits < 10_000);
}
