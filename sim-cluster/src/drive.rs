//! Load: closed-loop clients (each sends one request, waits for the answer,
//! sends the next) against chosen nodes, drawing requests from the current
//! mix, and recording every completion with its latency.
//!
//! Client `i` of every node draws the same request sequence (its generator
//! is seeded by `i` alone), so two nodes driven by the same number of
//! clients get identical work: the cold/warm comparison rests on this.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use ember_proto::node as pb;

use crate::cluster::ClientSlot;
use crate::scenario::{ArgGen, MixEntry};

/// One finished request.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    /// Completion, seconds since the run started.
    pub t: f64,
    pub latency_us: u32,
    pub ok: bool,
}

/// Every sample of the run, per node.
#[derive(Default)]
pub struct Recorder {
    samples: Mutex<BTreeMap<String, Vec<Sample>>>,
}

impl Recorder {
    fn push(&self, node: &str, s: Sample) {
        self.samples.lock().unwrap().entry(node.to_string()).or_default().push(s);
    }

    pub fn snapshot(&self) -> BTreeMap<String, Vec<Sample>> {
        self.samples.lock().unwrap().clone()
    }

    /// Completed requests per node within the last `window` seconds before `now`.
    pub fn rates(&self, now: f64, window: f64) -> BTreeMap<String, f64> {
        let s = self.samples.lock().unwrap();
        s.iter()
            .map(|(n, v)| (n.clone(), v.iter().rev().take_while(|x| x.t >= now - window).filter(|x| x.ok).count() as f64 / window))
            .collect()
    }
}

/// A mix ready to draw from.
pub struct Mix {
    entries: Vec<(String, String, Vec<ArgGen>)>,
    cumulative: Vec<u64>,
}

impl Mix {
    pub fn new(entries: &[MixEntry], default_module: &str) -> Mix {
        let mut cumulative = Vec::new();
        let mut total = 0u64;
        let entries = entries
            .iter()
            .filter(|e| e.weight > 0)
            .map(|e| {
                total += u64::from(e.weight);
                cumulative.push(total);
                let args = e.args.iter().map(|a| ArgGen::parse(a).expect("checked when the scenario was parsed")).collect();
                (e.module.clone().unwrap_or_else(|| default_module.to_string()), e.function.clone(), args)
            })
            .collect();
        Mix { entries, cumulative }
    }

    /// Every entry once, with arguments from a fixed draw (to check the
    /// functions exist before the run).
    pub fn probes(&self) -> Vec<pb::InvokeRequest> {
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        (0..self.entries.len()).map(|i| self.request(i, &mut rng, 0)).collect()
    }

    fn draw(&self, rng: &mut XorShift, seq: u64) -> pb::InvokeRequest {
        let total = *self.cumulative.last().unwrap_or(&1);
        let r = rng.next() % total;
        let i = self.cumulative.partition_point(|&c| c <= r);
        self.request(i, rng, seq)
    }

    fn request(&self, i: usize, rng: &mut XorShift, seq: u64) -> pb::InvokeRequest {
        let (module, function, gens) = &self.entries[i];
        let args = gens.iter().map(|g| pb::Value { kind: Some(generate(g, rng, seq)) }).collect();
        pb::InvokeRequest { module: module.clone(), function: function.clone(), args }
    }
}

fn generate(g: &ArgGen, rng: &mut XorShift, seq: u64) -> pb::value::Kind {
    use pb::value::Kind;
    match *g {
        ArgGen::Int(a, b) => Kind::Int(a + (rng.next() % ((b - a) as u64 + 1)) as i64),
        ArgGen::Float(a, b) => Kind::Float(a + (b - a) * (rng.next() >> 11) as f64 / (1u64 << 53) as f64),
        ArgGen::IntFloat(a, b) => Kind::Float((a + (rng.next() % ((b - a) as u64 + 1)) as i64) as f64),
        ArgGen::Str(n) => Kind::String((0..n).map(|_| b'a' + (rng.next() % 26) as u8).collect()),
        ArgGen::Seq => Kind::Int(seq as i64),
        ArgGen::LiteralInt(i) => Kind::Int(i),
        ArgGen::LiteralFloat(f) => Kind::Float(f),
    }
}

/// xorshift64: tiny, seedable, and the same on every run.
pub struct XorShift(pub u64);

impl XorShift {
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

struct Client {
    stop: Arc<AtomicBool>,
}

/// Runs the clients and keeps their number per node where it is told.
pub struct Driver {
    t0: Instant,
    pub recorder: Arc<Recorder>,
    mix: Arc<RwLock<Arc<Mix>>>,
    clients: BTreeMap<String, Vec<Client>>,
}

/// A request slower than this counts as failed.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

impl Driver {
    pub fn new(t0: Instant, mix: Mix) -> Driver {
        Driver { t0, recorder: Arc::new(Recorder::default()), mix: Arc::new(RwLock::new(Arc::new(mix))), clients: BTreeMap::new() }
    }

    pub fn set_mix(&self, mix: Mix) {
        *self.mix.write().unwrap() = Arc::new(mix);
    }

    /// Makes each node in `load` have exactly that many clients, and every
    /// other node none.
    pub fn set_load(&mut self, load: &BTreeMap<String, (usize, ClientSlot)>) {
        for (node, clients) in self.clients.iter_mut() {
            let want = load.get(node).map_or(0, |(n, _)| *n);
            while clients.len() > want {
                clients.pop().unwrap().stop.store(true, Ordering::Relaxed);
            }
        }
        for (node, (want, slot)) in load {
            let clients = self.clients.entry(node.clone()).or_default();
            while clients.len() < *want {
                let stop = Arc::new(AtomicBool::new(false));
                let index = clients.len() as u64;
                tokio::spawn(client_loop(
                    node.clone(),
                    index,
                    slot.clone(),
                    self.mix.clone(),
                    self.recorder.clone(),
                    self.t0,
                    stop.clone(),
                ));
                clients.push(Client { stop });
            }
        }
    }

    /// Clients per driven node now.
    pub fn load(&self) -> Vec<(String, usize)> {
        self.clients.iter().filter(|(_, c)| !c.is_empty()).map(|(n, c)| (n.clone(), c.len())).collect()
    }

    pub fn stop_all(&mut self) {
        self.set_load(&BTreeMap::new());
    }
}

async fn client_loop(
    node: String,
    index: u64,
    slot: ClientSlot,
    mix: Arc<RwLock<Arc<Mix>>>,
    rec: Arc<Recorder>,
    t0: Instant,
    stop: Arc<AtomicBool>,
) {
    let mut rng = XorShift(0x2545_f491_4f6c_dd1d ^ (index + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let mut seq = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let client = slot.read().unwrap().clone();
        let Some(mut client) = client else {
            // The node is down: wait for it, as a retrying client would.
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        };
        let req = mix.read().unwrap().draw(&mut rng, seq);
        seq += 1;
        let start = Instant::now();
        let ok = match tokio::time::timeout(REQUEST_TIMEOUT, client.invoke(req)).await {
            Ok(Ok(r)) => r.get_ref().error.is_none(),
            _ => false,
        };
        let latency_us = start.elapsed().as_micros().min(u128::from(u32::MAX)) as u32;
        rec.push(&node, Sample { t: t0.elapsed().as_secs_f64(), latency_us, ok });
        if !ok {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
