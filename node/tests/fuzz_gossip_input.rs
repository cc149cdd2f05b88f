//! Property tests over gossip input: arbitrary bytes and mutations of valid
//! values never panic a receiver, and a signed value that was tampered with
//! is never accepted.

use ember_engine::{CompactProfile, Engine, FunctionKey};
use ember_node::codec::{decode, encode};
use ember_node::publish::key_name;
use ember_node::receive::Receiver;
use ember_node::signing::{Place, Signer};
use proptest::prelude::*;

fn receiver() -> Receiver {
    Receiver::new(Signer::new("c", Some(b"s")), 1024)
}

fn profile_strategy() -> impl Strategy<Value = CompactProfile> {
    (
        any::<u128>(),
        any::<u64>(),
        any::<u64>(),
        proptest::collection::vec(any::<u8>(), 0..40),
        proptest::collection::vec(any::<u8>(), 0..10),
        proptest::collection::vec((0u32..64, any::<u64>()), 0..4),
        0u8..=2,
    )
        .prop_map(|(k, calls, back_edges, site_bits, branch_bias, call_targets, tier)| CompactProfile {
            key: FunctionKey(k),
            calls,
            back_edges,
            site_bits,
            branch_bias,
            call_targets,
            tier,
            ..CompactProfile::default()
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic_the_decoder(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = decode(&bytes);
    }

    #[test]
    fn arbitrary_values_never_panic_the_receiver(value in "\\PC{0,200}", key in "\\PC{0,40}") {
        let r = receiver();
        let _ = r.check(Place { node: "n", generation: 1, key: &key }, &value);
    }

    #[test]
    fn tampered_signed_values_are_never_accepted(p in profile_strategy(), at in any::<prop::sample::Index>(), flip in 1u8..=255) {
        let key = key_name(p.key);
        let place = Place { node: "n", generation: 1, key: &key };
        let value = Signer::new("c", Some(b"s")).seal(place, &encode(&p, None, None));
        let r = receiver();
        prop_assert!(r.check(place, &value).is_ok());
        let mut bytes = value.into_bytes();
        let i = at.index(bytes.len());
        bytes[i] ^= flip;
        if let Ok(tampered) = String::from_utf8(bytes) {
            // base64url's last character may carry unused bits: a flip that
            // decodes to the same payload and tag is not tampering.
            if let Ok(got) = r.check(place, &tampered) {
                prop_assert_eq!(got.profile.key, p.key);
                prop_assert_eq!(&got.profile.site_bits, &p.site_bits);
            }
        }
    }

    #[test]
    fn any_well_formed_profile_seeds_or_is_refused_cleanly(p in profile_strategy()) {
        let engine = Engine::new();
        engine.load_module("m", b"function f(a, b) if a then return a + b end return b .. 'x' end").unwrap();
        let key = engine.module("m").unwrap().functions()[1].key();
        let mut p = p;
        p.key = key;
        let before = engine.compact_profile(key).unwrap();
        if engine.seed_profile(&p).is_err() {
            prop_assert_eq!(engine.compact_profile(key).unwrap(), before);
        }
        let mut s = engine.new_state();
        s.require("m").unwrap();
        let r = s.call("f", &[ember_engine::LuaValue::Int(1), ember_engine::LuaValue::Int(2)]).unwrap();
        prop_assert_eq!(r, vec![ember_engine::LuaValue::Int(3)]);
    }
}
