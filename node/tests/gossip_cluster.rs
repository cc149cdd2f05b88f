//! In-process clusters on chitchat's `ChannelTransport`: convergence at 20
//! nodes, partitions, message loss, restarts as new generations, dead
//! nodes leaving the view, warm start from gossip and from a snapshot, and
//! a speculation outcome learned on one node sparing another the deopt.

mod common;

use std::time::Duration;

use chitchat::transport::{ChannelTransport, TransportExt};
use common::*;
use ember_engine::{LuaValue, TierMode};
use ember_node::ClusterNode;

const LIMIT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_profile_reaches_twenty_nodes() {
    let t = ChannelTransport::default();
    let mut nodes = Vec::new();
    for i in 0..20u16 {
        let n = start(&t, &format!("n{i:02}"), 20_000 + i, &[20_000]).await;
        n.load_module("m", MODULE.as_bytes()).unwrap();
        nodes.push(n);
    }
    eventually("20 members everywhere", LIMIT, || async {
        for n in &nodes {
            if n.members().await.len() != 20 {
                return false;
            }
        }
        true
    })
    .await;
    let key = key_of(nodes[0].engine(), "work");
    run_work(nodes[0].engine(), 2000, LuaValue::Int(3));
    let before = t.statistics();
    nodes[0].publish_now().await;
    let took = eventually("all 19 peers see n00's profile", LIMIT, || async { nodes[1..].iter().all(|n| sees(n, key, "n00")) }).await;
    let after = t.statistics();
    println!(
        "propagation to 20 nodes: {:?} = {:.1} gossip intervals; {} messages, {} bytes meanwhile",
        took,
        took.as_secs_f64() * 1000.0 / GOSSIP_MS as f64,
        after.num_messages_total - before.num_messages_total,
        after.num_bytes_total - before.num_bytes_total
    );
    for n in &nodes[1..] {
        let s = n.stats();
        assert!(s.receive.accepted >= 1);
        assert!(s.receive.dropped.is_empty(), "{:?}", s.receive.dropped);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partitioned_node_catches_up_when_the_partition_heals() {
    let t = ChannelTransport::default();
    let a = start(&t, "a", 21_000, &[21_000]).await;
    let b = start(&t, "b", 21_001, &[21_000]).await;
    let c = start(&t, "c", 21_002, &[21_000]).await;
    for n in [&a, &b, &c] {
        n.load_module("m", MODULE.as_bytes()).unwrap();
    }
    eventually("3 members", LIMIT, || async { c.members().await.len() == 3 && a.members().await.len() == 3 }).await;
    for other in [21_000, 21_001] {
        t.remove_link(addr(21_002), addr(other)).await;
    }
    let key = key_of(a.engine(), "work");
    run_work(a.engine(), 2000, LuaValue::Int(3));
    a.publish_now().await;
    eventually("b sees a's profile", LIMIT, || async { sees(&b, key, "a") }).await;
    // Twenty more rounds: nothing crosses the partition.
    tokio::time::sleep(Duration::from_millis(GOSSIP_MS * 20)).await;
    assert!(!sees(&c, key, "a"), "c is cut off");
    for other in [21_000, 21_001] {
        t.add_link(addr(21_002), addr(other)).await;
    }
    let took = eventually("c sees a's profile after healing", LIMIT, || async { sees(&c, key, "a") }).await;
    println!("healed partition: c caught up in {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profiles_converge_despite_message_loss() {
    let lossy = ChannelTransport::default().drop_message(0.3);
    let mut nodes = Vec::new();
    for i in 0..5u16 {
        let n = start(lossy.as_ref(), &format!("l{i}"), 22_000 + i, &[22_000]).await;
        n.load_module("m", MODULE.as_bytes()).unwrap();
        nodes.push(n);
    }
    let key = key_of(nodes[0].engine(), "work");
    run_work(nodes[4].engine(), 2000, LuaValue::Int(3));
    nodes[4].publish_now().await;
    let took =
        eventually("everyone sees l4's profile with 30% loss", LIMIT, || async { nodes[..4].iter().all(|n| sees(n, key, "l4")) }).await;
    println!("30% message loss, 5 nodes: converged in {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_node_is_a_new_generation_and_its_old_reports_leave() {
    let t = ChannelTransport::default();
    let a = start(&t, "a", 23_000, &[23_000]).await;
    a.load_module("m", MODULE.as_bytes()).unwrap();
    let key = key_of(a.engine(), "work");
    let idle = key_of(a.engine(), "idle");
    let b1 = start(&t, "b", 23_001, &[23_000]).await;
    b1.load_module("m", MODULE.as_bytes()).unwrap();
    run_work(b1.engine(), 2000, LuaValue::Int(3));
    b1.publish_now().await;
    eventually("a sees b's work profile", LIMIT, || async { sees(&a, key, "b") }).await;
    let gen1 = b1.id().generation_id;
    b1.shutdown().await.unwrap();

    // The new incarnation has run only `idle`.
    let mut o = options("b", 23_001, &[23_000]);
    o.gossip.generation = gen1 + 1;
    let b2 = ClusterNode::start(cold_engine(), o, &t).await.unwrap();
    b2.load_module("m", MODULE.as_bytes()).unwrap();
    let mut s = b2.engine().new_state();
    s.require("m").unwrap();
    for _ in 0..600 {
        s.call("idle", &[LuaValue::Int(1)]).unwrap();
    }
    b2.publish_now().await;
    eventually("a sees b's new generation and only its reports", LIMIT, || async {
        let members = a.members().await;
        let b_gen = members.iter().find(|m| m.node_id == "b").map(|m| m.generation);
        b_gen == Some(gen1 + 1) && sees(&a, idle, "b") && !sees(&a, key, "b")
    })
    .await;
    let v = a.view();
    assert!(v.functions[&idle].nodes.iter().all(|n| n.generation == gen1 + 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_nodes_reports_leave_the_view() {
    let t = ChannelTransport::default();
    let a = start(&t, "a", 24_000, &[24_000]).await;
    let c = start(&t, "c", 24_001, &[24_000]).await;
    for n in [&a, &c] {
        n.load_module("m", MODULE.as_bytes()).unwrap();
    }
    let key = key_of(a.engine(), "work");
    // Let a learn c's heartbeat rhythm before c goes quiet.
    eventually("a and c see each other", LIMIT, || async { a.members().await.len() == 2 }).await;
    tokio::time::sleep(Duration::from_millis(GOSSIP_MS * 10)).await;
    run_work(c.engine(), 2000, LuaValue::Int(3));
    c.publish_now().await;
    eventually("a sees c's profile", LIMIT, || async { sees(&a, key, "c") }).await;
    drop(c); // dies without leaving
    let took = eventually("c's profile leaves a's view", LIMIT, || async { !sees(&a, key, "c") }).await;
    println!("dead node left the view after {took:?}");
    assert_eq!(a.members().await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_warmed_by_gossip_compiles_before_its_first_call() {
    let t = ChannelTransport::default();
    let a = start(&t, "a", 25_000, &[25_000]).await;
    a.load_module("m", MODULE.as_bytes()).unwrap();
    let expected = run_work(a.engine(), 3000, LuaValue::Int(3));
    a.publish_now().await;

    let b = start(&t, "b", 25_001, &[25_000]).await;
    let key = key_of(a.engine(), "work");
    let len2 = key_of(a.engine(), "Point:len2");
    eventually("b's view has a's hot functions", LIMIT, || async { sees(&b, key, "a") && sees(&b, len2, "a") }).await;
    let events = b.engine().subscribe_tier_events();
    // Loading the module queues the cluster's hot functions at once.
    b.load_module("m", MODULE.as_bytes()).unwrap();
    let mut compiled = std::collections::HashSet::new();
    while !(compiled.contains(&key) && compiled.contains(&len2)) {
        let ev = events.recv_timeout(LIMIT).expect("warm-start compiles");
        assert_eq!(ev.trigger, Some(ember_engine::CompileTrigger::Request), "{ev:?}");
        compiled.insert(ev.key);
    }
    for k in [key, len2] {
        let tier = b.engine().function_tier(k).unwrap();
        assert_eq!(tier.tier, 1, "{} compiled before b ever called it", tier.name);
        assert_eq!(b.engine().compact_profile(k).unwrap().calls, 0);
    }
    assert_eq!(run_work(b.engine(), 3000, LuaValue::Int(3)), expected);
    let s = b.stats();
    assert!(s.warm.profiles_applied >= 2 && s.warm.compiles_queued >= 2, "{:?}", s.warm);
    // `idle` never ran on a: nothing to warm.
    assert_eq!(b.engine().function_tier(key_of(b.engine(), "idle")).unwrap().tier, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warm_start_compiles_more_hot_functions_than_its_queue_share_before_ready() {
    let t = ChannelTransport::default();
    let a = start(&t, "a", 25_020, &[25_020]).await;
    a.load_module("m", MODULE.as_bytes()).unwrap();
    run_work(a.engine(), 3000, LuaValue::Int(3));
    a.publish_now().await;
    let hot = ["work", "Point.new", "Point:len2"].map(|f| key_of(a.engine(), f));

    // b's compile queue holds 2, so warm start may hold 1 of it at a time
    // (budget share 0.5): three hot functions take three rounds.
    let tiny = ember_engine::TieringConfig {
        mode: TierMode::Auto,
        tier1_threshold: u64::MAX / 4,
        workers: 1,
        queue_capacity: 2,
        ..ember_engine::TieringConfig::default()
    };
    let engine = ember_engine::Engine::with_config(ember_engine::EngineConfig { tiering: tiny, ..Default::default() });
    let b = ClusterNode::start(engine, options("b", 25_021, &[25_020]), &t).await.unwrap();
    eventually("b's view has a's three hot functions", LIMIT, || async { hot.iter().all(|k| sees(&b, *k, "a")) }).await;
    b.load_module("m", MODULE.as_bytes()).unwrap();
    let left = b.wait_warm(LIMIT).await;
    assert_eq!(left, 0);
    for k in hot {
        let tier = b.engine().function_tier(k).unwrap();
        assert!(tier.tier >= 1, "{} was not compiled before b was ready", tier.name);
    }
    assert!(b.stats().warm.compiles_queued >= 3, "{:?}", b.stats().warm);
}

const FLIP: &str = r#"
function add(a, b) return a + b end
function drive(n, float_from)
  local s = 0
  for i = 1, n do
    local x = i
    if i >= float_from then x = i + 0.5 end
    s = add(s, x)
  end
  return s
end
"#;

fn drive(engine: &ember_engine::Engine, float_from: i64) -> Vec<LuaValue> {
    let mut s = engine.new_state();
    s.require("m").expect("require m");
    s.call("drive", &[LuaValue::Int(4000), LuaValue::Int(float_from)]).expect("drive runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_speculation_one_node_saw_fail_costs_a_warmed_node_no_deopt() {
    let t = ChannelTransport::default();
    // a tiers up by itself and learns the hard way: integers, then floats.
    let learning = ember_engine::TieringConfig {
        mode: TierMode::Auto,
        workers: 0,
        tier1_threshold: 40,
        tier2_threshold: 400,
        deopt_limit: 3,
        ..ember_engine::TieringConfig::default()
    };
    let engine = ember_engine::Engine::with_config(ember_engine::EngineConfig { tiering: learning, ..Default::default() });
    let a = ClusterNode::start(engine, options("a", 25_040, &[25_040]), &t).await.unwrap();
    a.load_module("m", FLIP.as_bytes()).unwrap();
    drive(a.engine(), i64::MAX);
    let want = drive(a.engine(), 2000);
    let add = key_of(a.engine(), "add");
    let learned = a.engine().jit_stats().deopts;
    assert!(learned >= 3, "a deoptimized on the flip ({learned})");
    assert!(a.engine().compact_profile(add).unwrap().outcomes.iter().any(|o| o.failures >= 3));
    a.publish_now().await;

    // b never ran anything: it warms from a's profile, at tier 2, and the
    // same flip costs it nothing.
    let b = start(&t, "b", 25_041, &[25_040]).await;
    eventually("b sees a's tier-2 profile of add", LIMIT, || async {
        b.view().functions.get(&add).is_some_and(|f| f.profile.tier == 2 && !f.profile.outcomes.is_empty())
    })
    .await;
    b.load_module("m", FLIP.as_bytes()).unwrap();
    eventually("b compiled add at tier 2 before calling it", LIMIT, || async {
        b.engine().function_tier(add).is_some_and(|t| t.tier == 2)
    })
    .await;
    assert_eq!(b.engine().compact_profile(add).unwrap().calls, 0);
    assert_eq!(drive(b.engine(), 2000), want);
    let stats = b.engine().jit_stats();
    assert_eq!(stats.deopts, 0, "b repeated a deopt a already learned: {:?}", stats.deopt_sites);
    println!("a took {learned} deopts learning the flip; b took 0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warm_start_off_leaves_compiles_to_local_hotness() {
    let t = ChannelTransport::default();
    let a = start(&t, "a", 26_000, &[26_000]).await;
    a.load_module("m", MODULE.as_bytes()).unwrap();
    run_work(a.engine(), 3000, LuaValue::Int(3));
    a.publish_now().await;
    let mut o = options("b", 26_001, &[26_000]);
    o.warm_start.enabled = false;
    let b = ClusterNode::start(cold_engine(), o, &t).await.unwrap();
    let key = key_of(a.engine(), "work");
    eventually("b's view has a's profile", LIMIT, || async { sees(&b, key, "a") }).await;
    b.load_module("m", MODULE.as_bytes()).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(b.engine().function_tier(key).unwrap().tier, 0);
    assert_eq!(b.stats().warm.compiles_queued, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_node_warms_alone_from_its_snapshot() {
    let dir = std::env::temp_dir().join(format!("ember-node-snap-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let t = ChannelTransport::default();
    let mut o = options("solo", 27_000, &[]);
    o.data_dir = Some(dir.clone());
    let first = ClusterNode::start(cold_engine(), o.clone(), &t).await.unwrap();
    first.load_module("m", MODULE.as_bytes()).unwrap();
    let expected = run_work(first.engine(), 3000, LuaValue::Int(3));
    let key = key_of(first.engine(), "work");
    first.shutdown().await.unwrap();
    assert!(dir.join(ember_node::snapshot::FILE_NAME).exists());

    let t = ChannelTransport::default();
    o.gossip.generation = 0;
    let second = ClusterNode::start(cold_engine(), o.clone(), &t).await.unwrap();
    assert!(second.stats().snapshot_status.starts_with("loaded"), "{}", second.stats().snapshot_status);
    let events = second.engine().subscribe_tier_events();
    second.load_module("m", MODULE.as_bytes()).unwrap();
    loop {
        let ev = events.recv_timeout(LIMIT).expect("a compile from the snapshot");
        if ev.key == key {
            break;
        }
    }
    assert_eq!(second.engine().function_tier(key).unwrap().tier, 1);
    assert_eq!(run_work(second.engine(), 3000, LuaValue::Int(3)), expected);
    second.shutdown().await.unwrap();

    // A damaged snapshot is reported, and the node still starts.
    std::fs::write(dir.join(ember_node::snapshot::FILE_NAME), b"EMBERSNAP1\ngarbage").unwrap();
    let t = ChannelTransport::default();
    let third = ClusterNode::start(cold_engine(), o, &t).await.unwrap();
    assert!(third.stats().snapshot_status.contains("snapshot ignored"), "{}", third.stats().snapshot_status);
    third.load_module("m", MODULE.as_bytes()).unwrap();
    assert_eq!(third.engine().function_tier(key).unwrap().tier, 0);
    drop(third);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn without_a_secret_a_node_refuses_to_start_unless_told_to_be_insecure() {
    let t = ChannelTransport::default();
    let mut o = options("x", 28_000, &[]);
    o.secret = None;
    let err = ClusterNode::start(cold_engine(), o.clone(), &t).await.err().expect("refused");
    assert!(err.to_string().contains("--insecure-gossip"), "{err}");
    o.insecure_gossip = true;
    let n = ClusterNode::start(cold_engine(), o, &t).await.unwrap();
    assert!(!n.stats().signed);
    let _ = TierMode::Auto;
}
