//! Reading what peers publish.
//!
//! Every value a peer gossips is untrusted: it is size-checked, its
//! signature verified, decoded, checked against the format's rules and
//! matched to the key it sits under, in that order (cheapest first). A value
//! that fails is dropped and counted by reason; it never reaches the view
//! or the engine. Results are cached by (node, key, version), so a value is
//! checked once, not every round.

use std::collections::{BTreeMap, HashMap};

use chitchat::{ChitchatId, NodeState};
use ember_engine::FunctionKey;

use crate::DropReason;
use crate::codec::{Received, decode};
use crate::publish::FUNCTION_KEY_PREFIX;
use crate::signing::{Place, Signer};

/// One live peer's accepted profiles.
#[derive(Clone, Debug)]
pub struct PeerProfiles {
    /// The peer (id, generation, gossip address).
    pub id: ChitchatId,
    /// Its profiles by function key.
    pub profiles: HashMap<FunctionKey, Received>,
}

/// Drop and accept counters.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct ReceiveCounters {
    /// Values accepted.
    pub accepted: u64,
    /// Values dropped, by [`DropReason::label`].
    pub dropped: BTreeMap<String, u64>,
    /// The last drop, for logs and `GetLocalProfiles`-style views.
    pub last_drop: Option<String>,
}

/// Checks and caches peers' values.
pub struct Receiver {
    signer: Signer,
    max_value_bytes: usize,
    cache: HashMap<(ChitchatId, String), (u64, Option<Received>)>,
    /// Counters since start.
    pub counters: ReceiveCounters,
}

impl Receiver {
    /// A receiver checking signatures with `signer` and dropping values over
    /// `max_value_bytes`.
    pub fn new(signer: Signer, max_value_bytes: usize) -> Receiver {
        Receiver { signer, max_value_bytes, cache: HashMap::new(), counters: ReceiveCounters::default() }
    }

    /// Checks one value found at `place`.
    pub fn check(&self, place: Place<'_>, value: &str) -> Result<Received, DropReason> {
        if value.len() > self.max_value_bytes {
            return Err(DropReason::Oversized(value.len()));
        }
        let payload = self.signer.open(place, value)?;
        let got = decode(&payload)?;
        let hex = place.key.strip_prefix(FUNCTION_KEY_PREFIX).unwrap_or("");
        if hex.parse::<FunctionKey>().ok() != Some(got.profile.key) {
            return Err(DropReason::KeyMismatch);
        }
        Ok(got)
    }

    /// Counts a drop found later (e.g. the engine refused the profile).
    pub fn count_drop(&mut self, why: &DropReason) {
        *self.counters.dropped.entry(why.label().to_string()).or_default() += 1;
        self.counters.last_drop = Some(why.to_string());
    }

    /// The accepted profiles of every live peer but `me`. Only the newest
    /// generation of a node id counts; nodes that are not live are
    /// forgotten.
    pub fn ingest(&mut self, live: &BTreeMap<ChitchatId, NodeState>, me: &ChitchatId) -> Vec<PeerProfiles> {
        let mut newest: HashMap<&str, &ChitchatId> = HashMap::new();
        for id in live.keys() {
            let e = newest.entry(&id.node_id).or_insert(id);
            if id.generation_id > e.generation_id {
                *e = id;
            }
        }
        let mut out = Vec::new();
        let mut seen: HashMap<(ChitchatId, String), (u64, Option<Received>)> = HashMap::new();
        for id in newest.values().copied() {
            if id.node_id == me.node_id {
                continue;
            }
            let state = &live[id];
            let mut profiles = HashMap::new();
            for (key, vv) in state.iter_prefix(FUNCTION_KEY_PREFIX) {
                let slot = (id.clone(), key.to_string());
                let entry = match self.cache.remove(&slot) {
                    Some(e) if e.0 == vv.version => e,
                    _ => {
                        let place = Place { node: &id.node_id, generation: id.generation_id, key };
                        match self.check(place, &vv.value) {
                            Ok(r) => {
                                self.counters.accepted += 1;
                                (vv.version, Some(r))
                            }
                            Err(why) => {
                                self.count_drop(&why);
                                (vv.version, None)
                            }
                        }
                    }
                };
                if let Some(r) = &entry.1 {
                    profiles.insert(r.profile.key, r.clone());
                }
                seen.insert(slot, entry);
            }
            out.push(PeerProfiles { id: id.clone(), profiles });
        }
        // Whatever was not seen this round (dead nodes, old generations,
        // withdrawn keys) leaves the cache.
        self.cache = seen;
        out.sort_by(|a, b| a.id.node_id.cmp(&b.id.node_id));
        out
    }
}
