//! Hostile gossip: a rogue chitchat member writes forged, garbage,
//! oversized, mislabeled and ill-fitting profile values, and a lying but
//! correctly signed profile. Every bad value is dropped and counted by
//! reason; nothing a profile says changes a result.

mod common;

use std::time::Duration;

use chitchat::transport::ChannelTransport;
use chitchat::{ChitchatConfig, ChitchatHandle, ChitchatId, FailureDetectorConfig, ProtocolVersion, spawn_chitchat};
use common::*;
use ember_engine::{CompactProfile, Engine, EngineConfig, FunctionKey, LuaValue, TierMode, TieringConfig};
use ember_node::codec::{Origin, encode};
use ember_node::publish::key_name;
use ember_node::signing::{Place, Signer};

const LIMIT: Duration = Duration::from_secs(30);

/// A bare chitchat member that writes whatever it is told.
async fn rogue(t: &ChannelTransport, port: u16, seed: u16) -> ChitchatHandle {
    let id = ChitchatId::new("mallory", 1, addr(port));
    let config = ChitchatConfig {
        chitchat_id: id,
        cluster_id: "test".into(),
        gossip_interval: Duration::from_millis(GOSSIP_MS),
        listen_addr: addr(port),
        seed_nodes: vec![addr(seed).to_string()],
        failure_detector_config: FailureDetectorConfig::default(),
        marked_for_deletion_grace_period: Duration::from_secs(60),
        catchup_callback: None,
        extra_liveness_predicate: None,
        protocol_version: ProtocolVersion::V1,
    };
    spawn_chitchat(config, Vec::new(), t).await.unwrap()
}

fn place(key: &str) -> Place<'_> {
    Place { node: "mallory", generation: 1, key }
}

fn signed(secret: &[u8], key: &str, p: &CompactProfile) -> String {
    let origin = Origin { node: "mallory".into(), generation: 1, timestamp_ms: ember_node::unix_ms() };
    Signer::new("test", Some(secret)).seal(place(key), &encode(p, Some(&origin), None))
}

fn interpreter() -> Engine {
    let t = TieringConfig { mode: TierMode::Interpreter, ..TieringConfig::default() };
    let e = Engine::with_config(EngineConfig { tiering: t, ..EngineConfig::default() });
    e.load_module("m", MODULE.as_bytes()).unwrap();
    e
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_values_are_dropped_and_counted_and_the_node_is_unaffected() {
    let t = ChannelTransport::default();
    let victim = start(&t, "victim", 30_000, &[30_000]).await;
    victim.load_module("m", MODULE.as_bytes()).unwrap();
    let work = key_of(victim.engine(), "work");
    let len2 = key_of(victim.engine(), "Point:len2");
    let mallory = rogue(&t, 30_001, 30_000).await;

    let hot = |key| CompactProfile { key, calls: 100_000, back_edges: 100_000, site_bits: vec![0x11; 3], ..CompactProfile::default() };
    let absent = FunctionKey(0xabcdef);
    {
        let c = mallory.chitchat();
        let mut c = c.lock().await;
        let me = c.self_node_state();
        // Signed with the wrong secret.
        let k = key_name(work);
        me.set(&k, signed(b"guessed-secret", &k, &hot(work)));
        // No signature at all, and not even base64.
        me.set(key_name(FunctionKey(1)), "hello");
        // Correctly signed garbage bytes.
        let k = key_name(FunctionKey(2));
        me.set(&k, Signer::new("test", Some(SECRET)).seal(place(&k), &[0xff; 40]));
        // Over the 1 KB value cap.
        me.set(key_name(FunctionKey(3)), "x".repeat(2000));
        // A valid profile of `work` filed under `len2`'s key.
        let k = key_name(len2);
        me.set(&k, signed(SECRET, &k, &hot(work)));
        // A well-formed profile of a function nobody here has loaded.
        let k = key_name(absent);
        me.set(&k, signed(SECRET, &k, &hot(absent)));
    }
    eventually("the victim has looked at mallory's values", LIMIT, || async {
        let d = victim.stats().receive.dropped;
        ["bad_signature", "unsigned", "undecodable", "oversized", "key_mismatch"].iter().all(|l| d.contains_key(*l))
    })
    .await;
    // Now the ill-fitting one, under the right key.
    {
        let c = mallory.chitchat();
        let mut c = c.lock().await;
        let k = key_name(len2);
        let mut bad = hot(len2);
        bad.site_bits = vec![1; 100];
        c.self_node_state().set(&k, signed(SECRET, &k, &bad));
    }
    eventually("the ill-fitting profile is refused", LIMIT, || async { victim.stats().receive.dropped.contains_key("inapplicable") }).await;

    let s = victim.stats();
    println!("drops: {:?}; last: {:?}", s.receive.dropped, s.receive.last_drop);
    // The absent function's profile is well formed: it sits in the view,
    // waiting for a module that has it, and touches nothing.
    assert!(victim.view().functions.contains_key(&absent));
    assert!(!victim.view().functions.contains_key(&work), "the forged work profile never got in");
    assert_eq!(victim.engine().function_tier(work).unwrap().tier, 0);
    assert_eq!(victim.engine().function_tier(len2).unwrap().tier, 0);
    let reference = interpreter();
    for (n, scale) in [(300, LuaValue::Int(3)), (200, LuaValue::Float(0.25))] {
        assert_eq!(run_work(victim.engine(), n, scale.clone()), run_work(&reference, n, scale));
    }

    // An honest node's profile still gets through and is applied.
    let honest = start(&t, "honest", 30_002, &[30_000]).await;
    honest.load_module("m", MODULE.as_bytes()).unwrap();
    run_work(honest.engine(), 3000, LuaValue::Int(3));
    honest.publish_now().await;
    eventually("the victim warms `work` from the honest node", LIMIT, || async {
        victim.engine().function_tier(work).is_some_and(|t| t.tier == 1)
    })
    .await;
    mallory.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lying_signed_profile_costs_speed_never_results() {
    let t = ChannelTransport::default();
    let victim = start(&t, "victim", 31_000, &[31_000]).await;
    let mallory = rogue(&t, 31_001, 31_000).await;
    let reference = interpreter();
    let work = key_of(&reference, "work");
    let len2 = key_of(&reference, "Point:len2");
    {
        let c = mallory.chitchat();
        let mut c = c.lock().await;
        for key in [work, len2] {
            // "Only strings everywhere, every branch always taken, every call
            // to one target": wrong on every count for this workload.
            let lie = CompactProfile {
                key,
                calls: 1 << 40,
                back_edges: 1 << 40,
                site_bits: vec![0x44; 6],
                branch_bias: if key == work { vec![255, 255] } else { Vec::new() },
                call_targets: if key == work { vec![(2, 0x1234)] } else { Vec::new() },
                ..CompactProfile::default()
            };
            let k = key_name(key);
            c.self_node_state().set(&k, signed(SECRET, &k, &lie));
        }
    }
    eventually("the lies are in the view", LIMIT, || async {
        let v = victim.view();
        v.functions.contains_key(&work) && v.functions.contains_key(&len2)
    })
    .await;
    let events = victim.engine().subscribe_tier_events();
    victim.load_module("m", MODULE.as_bytes()).unwrap();
    let mut compiled = std::collections::HashSet::new();
    while !(compiled.contains(&work) && compiled.contains(&len2)) {
        compiled.insert(events.recv_timeout(LIMIT).expect("warm compiles").key);
    }
    for (n, scale) in [(500, LuaValue::Int(7)), (300, LuaValue::Float(0.5)), (200, LuaValue::Int(-2)), (100, LuaValue::Str("2".into()))] {
        assert_eq!(run_work(victim.engine(), n, scale.clone()), run_work(&reference, n, scale), "lied-to node agrees");
    }
    assert!(victim.engine().new_state().stats().tier1_calls == 0);
    mallory.shutdown().await.unwrap();
}
