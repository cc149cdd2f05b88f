//! Measures gossip in process (chitchat's `ChannelTransport`, default
//! knobs: 200 ms rounds, V1 protocol): how many rounds a new profile takes
//! to reach every node, and bytes per node per second at idle and while
//! every node's hot set keeps changing.
//!
//! `cargo run --release -p ember-node --example gossip_traffic [NODES] [--json OUT]`

use std::time::{Duration, Instant};

use chitchat::transport::ChannelTransport;
use ember_engine::{Engine, LuaValue};
use ember_node::cluster::NodeOptions;
use ember_node::{ClusterNode, GossipConfig};

const FUNCS: usize = 40;

fn module() -> String {
    (0..FUNCS)
        .map(|i| format!("function f{i}(n)\n  local s = {i}\n  for j = 1, n do s = s + j % {m} end\n  return s\nend\n", m = i + 2))
        .collect()
}

fn call(e: &Engine, f: usize, n: i64) {
    let mut s = e.new_state();
    s.require("m").unwrap();
    s.call(&format!("f{f}"), &[LuaValue::Int(n)]).unwrap();
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let json_out = args.iter().position(|a| a == "--json").map(|i| {
        let o = args[i + 1].clone();
        args.drain(i..=i + 1);
        o
    });
    let n: u16 = args.first().map_or(20, |a| a.parse().expect("NODES"));
    let t = ChannelTransport::default();
    let interval = GossipConfig::default().interval_ms;
    let mut nodes = Vec::new();
    for i in 0..n {
        let o = NodeOptions {
            gossip: GossipConfig {
                node_id: format!("n{i:02}"),
                listen: ([127, 0, 0, 1], 40_000 + i).into(),
                seeds: vec!["127.0.0.1:40000".into()],
                ..GossipConfig::default()
            },
            secret: Some(b"measure".to_vec()),
            ..NodeOptions::default()
        };
        let node = ClusterNode::start(Engine::new(), o, &t).await.unwrap();
        node.load_module("m", module().as_bytes()).unwrap();
        nodes.push(node);
    }
    print!("waiting for {n} nodes to see each other... ");
    loop {
        let mut all = true;
        for x in &nodes {
            all &= x.members().await.len() == n as usize;
        }
        if all {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!("done");

    // Propagation: one node gets a new hot function; time until every peer's view has it.
    let mut rounds = Vec::new();
    for trial in 0..5 {
        let src = &nodes[trial * 3 % n as usize];
        call(src.engine(), trial, 5000);
        let key = src.engine().module("m").unwrap().functions().iter().find(|p| p.name() == format!("f{trial}")).unwrap().key();
        src.publish_now().await;
        let t0 = Instant::now();
        while !nodes
            .iter()
            .filter(|x| x.id() != src.id())
            .all(|x| x.view().functions.get(&key).is_some_and(|f| f.nodes.iter().any(|r| r.node == *src.id().node_id)))
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let r = t0.elapsed().as_secs_f64() * 1000.0 / interval as f64;
        println!("propagation trial {trial}: {:.1} rounds", r);
        rounds.push(r);
    }
    rounds.sort_by(f64::total_cmp);

    let measure = |secs: u64| {
        let t = t.clone();
        async move {
            let b0 = t.statistics().num_bytes_total;
            tokio::time::sleep(Duration::from_secs(secs)).await;
            (t.statistics().num_bytes_total - b0) as f64 / secs as f64
        }
    };
    let idle = measure(10).await / n as f64;
    println!("idle: {:.0} bytes/node/s", idle);

    let churn_nodes: Vec<Engine> = nodes.iter().map(|x| x.engine().clone()).collect();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let churner = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut round = 0usize;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                for (i, e) in churn_nodes.iter().enumerate() {
                    // Each node's hottest function changes every round.
                    call(e, (round + i) % FUNCS, 2000 * (1 + round as i64 % 7));
                }
                round += 1;
                std::thread::sleep(Duration::from_millis(200));
            }
        })
    };
    let churn = measure(10).await / n as f64;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    churner.join().unwrap();
    let published: u64 = nodes.iter().map(|x| x.stats().publish.published).sum();
    println!("churn: {:.0} bytes/node/s ({} values published in total)", churn, published);
    let median = rounds[rounds.len() / 2];
    println!(
        "\n{n} nodes, {interval} ms rounds: propagation median {median:.1} rounds (max {:.1}); idle {idle:.0} B/node/s; churn {churn:.0} B/node/s",
        rounds[rounds.len() - 1]
    );
    if let Some(o) = json_out {
        let doc = serde_json::json!({"nodes": n, "interval_ms": interval, "propagation_rounds": rounds, "idle_bytes_per_node_s": idle, "churn_bytes_per_node_s": churn});
        std::fs::write(&o, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
        println!("wrote {o}");
    }
}
