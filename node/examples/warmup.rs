//! Warm-up of a fresh node, cold vs gossip-warmed, on a 3-node loopback
//! cluster (UDP gossip over 127.0.0.1, signed values, default knobs).
//!
//! Nodes A and B run the request-handler workload until it is hot and
//! published. Then a fresh node C joins twice, once with warm start off
//! (cold) and once on (warmed), each time on a fresh engine, loads the
//! module and serves the same closed-loop load on one thread for a few
//! seconds. Completions are counted per 1 ms window. Steady state is the
//! median throughput of the 50 ms spans in the last second; "time to 90 %"
//! is the first t at which the 50 ms span starting at t reaches 90 % of it.
//! Cold and warm runs alternate, and the median over the runs is reported.
//!
//! The warmed node waits for its early compiles before serving (as
//! `ember-node` does before it reports ready); that wait counts in its
//! time to 90 %. Invocations go straight to the engine, so the figure is the JIT's
//! warm-up, not gRPC's. `cargo run --release -p ember-node --example warmup [RUNS] [--json OUT]`

use std::time::{Duration, Instant};

use chitchat::transport::UdpTransport;
use ember_engine::{Engine, LuaValue};
use ember_node::ClusterNode;
use ember_node::cluster::NodeOptions;
use ember_node::{GossipConfig, WarmStartConfig};

const WORKLOAD: &str = include_str!("../../bench/workloads/handlers.lua");
const WINDOW: Duration = Duration::from_millis(1);
/// Span over which throughput is averaged.
const SPAN: usize = 50;
const RUN: Duration = Duration::from_secs(3);

fn free_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn options(id: &str, port: u16, seeds: &[u16], warm: bool) -> NodeOptions {
    NodeOptions {
        gossip: GossipConfig {
            node_id: id.into(),
            listen: ([127, 0, 0, 1], port).into(),
            seeds: seeds.iter().map(|p| format!("127.0.0.1:{p}")).collect(),
            ..GossipConfig::default()
        },
        warm_start: WarmStartConfig { enabled: warm, ..WarmStartConfig::default() },
        secret: Some(b"warmup-measure".to_vec()),
        ..NodeOptions::default()
    }
}

/// Completions per window over `run`, and Lua calls that ran interpreted.
fn drive(engine: &Engine, run: Duration) -> (Vec<u32>, u64) {
    let mut s = engine.new_state();
    s.require("handlers").unwrap();
    let mut windows = vec![0u32; (run.as_millis() / WINDOW.as_millis()) as usize];
    let t0 = Instant::now();
    let mut i = 0i64;
    loop {
        let w = (t0.elapsed().as_micros() / WINDOW.as_micros()) as usize;
        if w >= windows.len() {
            return (windows, s.stats().tier0_calls);
        }
        s.call("handle", &[LuaValue::Int(i)]).unwrap();
        windows[w] += 1;
        i += 1;
    }
}

/// Seconds until a 50 ms span first reaches 90 % of steady state, and the
/// steady state in calls/s.
fn time_to_90(windows: &[u32]) -> (f64, f64) {
    let per_s = 1000 / WINDOW.as_millis() as usize;
    let span = |i: usize| windows[i..i + SPAN].iter().map(|&c| c as f64).sum::<f64>();
    let mut tail: Vec<f64> = (windows.len() - per_s..windows.len() - SPAN).step_by(SPAN).map(span).collect();
    tail.sort_by(f64::total_cmp);
    let steady = tail[tail.len() / 2];
    let start = (0..windows.len() - SPAN).find(|&i| span(i) >= 0.9 * steady).unwrap_or(windows.len());
    (start as f64 * WINDOW.as_secs_f64(), steady * (per_s / SPAN) as f64)
}

/// One measured join of node C.
struct Run {
    warm: bool,
    /// Seconds from module load to 90 % of steady throughput.
    t90: f64,
    steady: f64,
    first100: u64,
    interpreted: u64,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let json_out = args.iter().position(|a| a == "--json").map(|i| {
        let o = args[i + 1].clone();
        args.drain(i..=i + 1);
        o
    });
    let runs: usize = args.first().map_or(5, |a| a.parse().expect("RUNS"));
    let t = UdpTransport;
    let (pa, pb) = (free_port(), free_port());
    let a = ClusterNode::start(Engine::new(), options("a", pa, &[pa], true), &t).await.unwrap();
    let b = ClusterNode::start(Engine::new(), options("b", pb, &[pa], true), &t).await.unwrap();
    for n in [&a, &b] {
        n.load_module("handlers", WORKLOAD.as_bytes()).unwrap();
    }
    println!("warming A and B...");
    let (ea, eb) = (a.engine().clone(), b.engine().clone());
    let ja = std::thread::spawn(move || drive(&ea, Duration::from_secs(2)).0);
    let jb = std::thread::spawn(move || drive(&eb, Duration::from_secs(2)).0);
    ja.join().unwrap();
    jb.join().unwrap();
    a.publish_now().await;
    b.publish_now().await;
    let hot = a.stats().published_functions;
    println!("A publishes {hot} hot functions");

    let mut results: Vec<Run> = Vec::new();
    for run in 0..runs {
        for warm in [false, true] {
            let pc = free_port();
            let c = ClusterNode::start(Engine::new(), options(&format!("c{run}{}", if warm { "w" } else { "c" }), pc, &[pa], warm), &t)
                .await
                .unwrap();
            // Both variants wait until the view is complete, so they differ
            // only in whether warm start uses it.
            let t0 = Instant::now();
            while c.view().functions.len() < hot && t0.elapsed() < Duration::from_secs(20) {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            let joined = t0.elapsed();
            c.load_module("handlers", WORKLOAD.as_bytes()).unwrap();
            // A node reports ready only after its early compiles (bounded).
            let t1 = Instant::now();
            let left = c.wait_warm(Duration::from_secs(2)).await;
            let gate = t1.elapsed();
            let e = c.engine().clone();
            let (windows, interpreted) = tokio::task::spawn_blocking(move || drive(&e, RUN)).await.unwrap();
            let (t90, steady) = time_to_90(&windows);
            let compiled = c.engine().jit_stats().tier1_compiled;
            println!(
                "run {run} {:<6}: view complete after {:>4} ms; ready gate {:>5.1} ms ({left} left); time to 90%: {:>6.0} ms; steady {:>7.0} calls/s; first 100 ms: {:>5} calls; interpreted Lua calls {interpreted:>5}; tier-1 units {compiled}",
                if warm { "warmed" } else { "cold" },
                joined.as_millis(),
                gate.as_secs_f64() * 1000.0,
                t90 * 1000.0,
                steady,
                windows[..100].iter().sum::<u32>()
            );
            results.push(Run {
                warm,
                t90: t90 + gate.as_secs_f64(),
                steady,
                first100: windows[..100].iter().map(|&c| c as u64).sum(),
                interpreted,
            });
            c.shutdown().await.unwrap();
        }
    }
    let median = |warm: bool, f: &dyn Fn(&Run) -> f64| {
        let mut v: Vec<f64> = results.iter().filter(|r| r.warm == warm).map(f).collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (cold90, warm90) = (median(false, &|r| r.t90), median(true, &|r| r.t90));
    let (cold100, warm100) = (median(false, &|r| r.first100 as f64), median(true, &|r| r.first100 as f64));
    let (cold_interp, warm_interp) = (median(false, &|r| r.interpreted as f64), median(true, &|r| r.interpreted as f64));
    let ratio = if warm90 > 0.0 { format!("{:.1}×", cold90 / warm90) } else { "∞ (warmed was at 90 % from the first window)".into() };
    println!(
        "\nmedian of {runs}: time to 90% cold {:.1} ms, warmed {:.1} ms ({ratio}); calls in the first 100 ms cold {cold100:.0}, warmed {warm100:.0}; interpreted Lua calls cold {cold_interp:.0}, warmed {warm_interp:.0}",
        cold90 * 1000.0,
        warm90 * 1000.0
    );
    if let Some(o) = json_out {
        let doc = serde_json::json!({
            "window_ms": WINDOW.as_millis() as u64, "runs": runs,
            "cold_time_to_90_ms": cold90 * 1000.0, "warm_time_to_90_ms": warm90 * 1000.0,
            "cold_first_100ms_calls": cold100, "warm_first_100ms_calls": warm100,
            "cold_interpreted_calls": cold_interp, "warm_interpreted_calls": warm_interp,
            "all": results.iter().map(|r| serde_json::json!({"warm": r.warm, "time_to_90_ms": r.t90 * 1000.0, "steady_calls_per_s": r.steady, "first_100ms_calls": r.first100, "interpreted_calls": r.interpreted})).collect::<Vec<_>>(),
        });
        std::fs::write(&o, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
        println!("wrote {o}");
    }
}
