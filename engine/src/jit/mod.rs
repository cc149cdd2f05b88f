//! The JIT tiers and the machinery around them: hotness, the compile queue
//! and its workers, the code cache, and the tier-event log.
//!
//! A reader follows one function up: the interpreter adds hotness on every
//! call and loop back-edge (`State::tier_backedge`, `push_lua_frame`); past
//! the policy's threshold the function is *requested* (`State::tier_up`):
//! queued for a background worker (hottest first), or compiled on the
//! invoking thread when the policy allows it and the queue cannot take it.
//! A worker translates it (`codegen.rs`) into its own JITModule (a *unit*),
//! puts the unit in the code cache — evicting cold units past the byte
//! limit — and *publishes* it by storing the entry pointer in the
//! prototype's [`JitSlot`]. The interpreter loop enters compiled code
//! whenever a frame starts or resumes and that pointer is set.
//!
//! Freeing code safely: an evicted unit is unpublished at once but freed
//! only when every state that might have read its entry pointer has finished
//! the invocation it was in (epochs: each state publishes the global epoch
//! when an invocation starts; a unit retired at epoch `e` is freed once no
//! running invocation started at or before `e`).

pub(crate) mod codegen;
pub mod config;
pub(crate) mod liveness;
pub(crate) mod runtime;
pub(crate) mod speculate;

use std::cell::RefCell;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU8, AtomicU32, AtomicU64, AtomicUsize, Ordering::*};
use std::sync::{Arc, Condvar, Mutex, RwLock, Weak, mpsc};
use std::time::{Duration, Instant};

pub use config::{Policy, TierMode, TieringConfig};

use crate::bytecode::Proto;
use crate::key::FunctionKey;
use crate::profile::{GuardKind, SpeculationOutcome};
use crate::state::State;
use crate::value::Value;
use codegen::{CompiledCode, Compiler};
use runtime::JitFn;

/// Per-prototype tiering state, shared by every state running it.
#[derive(Default)]
pub(crate) struct JitSlot {
    /// Published tier-1 entry (null: run the interpreter).
    pub entry: AtomicPtr<u8>,
    /// One of the `slot::*` values.
    pub status: AtomicU8,
    /// Calls × call_weight + back-edges run in the interpreter.
    pub hot: AtomicU64,
    /// Wall time of the last successful compile, µs (for profiles).
    pub compile_us: AtomicU32,
    /// Tier of the published entry (0: none).
    pub tier: AtomicU8,
    /// Where the function stands with tier 2: one of `opt::*`.
    pub opt: AtomicU8,
    /// Tier-2 compiles so far (the first one and every recompile).
    pub opt_compiles: AtomicU32,
    /// Deoptimizations, by pc and guard kind.
    deopts: Mutex<Vec<DeoptRecord>>,
    /// Deopts inside callees inlined into the current tier-2 code (each
    /// also recorded as the callee's own); at the deopt limit the function
    /// is compiled again, inlining the callees under their new outcomes.
    inlined_deopts: AtomicU32,
    /// Resume points the published tier-2 code left out (its plan never
    /// reached them) that were entered anyway, each as 1 + its pc (0: a
    /// free slot). The interpreter stops entering the code there until
    /// the recompile the first entry asked for is published (see
    /// [`Jit::deopt`]). A few slots: a loop behind a cold branch has a
    /// header and a point after each call in it.
    osr_refused: [AtomicU32; 4],
}

impl JitSlot {
    /// Whether the interpreter should keep out of the compiled code at `pc`.
    #[inline(always)]
    pub(crate) fn refuses(&self, pc: usize) -> bool {
        let want = pc as u32 + 1;
        self.osr_refused.iter().any(|r| r.load(Relaxed) == want)
    }

    fn refuse(&self, pc: usize) {
        let want = pc as u32 + 1;
        if self.refuses(pc) {
            return;
        }
        // The first free slot; when all are taken, the oldest makes way.
        let slots = &self.osr_refused;
        let free = slots.iter().position(|r| r.load(Relaxed) == 0);
        let i = free.unwrap_or_else(|| {
            for j in 1..slots.len() {
                slots[j - 1].store(slots[j].load(Relaxed), Relaxed);
            }
            slots.len() - 1
        });
        slots[i].store(want, Relaxed);
    }

    fn refuse_none(&self) {
        for r in &self.osr_refused {
            r.store(0, Relaxed);
        }
    }
}

/// Deopts at one guard of one function.
#[derive(Clone)]
struct DeoptRecord {
    pc: u32,
    /// Guard kind code (`codegen::tier2::kind_code`, or `ENTRY_CHECK`).
    code: u8,
    count: u64,
    /// Failures since the function's current tier-2 code was published.
    since_compile: u32,
    last_reason: String,
}

/// Tier-2 states of a function.
mod opt {
    /// Not asked for yet.
    pub const NONE: u8 = 0;
    pub const QUEUED: u8 = 1;
    /// Published (a recompile request moves it back to QUEUED).
    pub const DONE: u8 = 2;
    /// Could not be compiled at tier 2; it stays at tier 1.
    pub const FAILED: u8 = 3;
    /// Deoptimized past the recompile limit; it stays at tier 1.
    pub const PINNED: u8 = 4;
}

mod slot {
    pub const COLD: u8 = 0;
    pub const QUEUED: u8 = 1;
    pub const COMPILED: u8 = 2;
    pub const FAILED: u8 = 3;
}

/// What happened to a function's compiled code.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TierEventKind {
    /// Compiled and published.
    Compiled,
    /// Could not be compiled (see `reason`); it stays in the interpreter.
    Rejected,
    /// Unpublished by the code cache to make room.
    Evicted,
    /// Evicted code whose memory was returned (no frame could reach it).
    Freed,
    /// A tier-2 guard failed and the frame continued in the interpreter
    /// (logged on a guard's first failure and when it reaches the deopt
    /// limit, not every time).
    Deopt,
    /// Deoptimized past the recompile limit: the function stays at tier 1.
    Pinned,
}

/// Why a function was compiled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CompileTrigger {
    /// It got hot in the interpreter (calls and back-edges past the threshold).
    Hotness,
    /// `--tier 1`: compiled on its first call, before any feedback.
    Eager,
    /// The embedder asked for it ([`crate::Engine::compile_now`]), e.g. a
    /// node warming up from profiles gossiped by its peers.
    Request,
    /// A speculation failed past the deopt limit: compiled again without it
    /// (or, past the recompile limit, back at tier 1).
    Deopt,
}

impl CompileTrigger {
    /// Whether the function's feedback is worth emitting from: true unless
    /// it was compiled before it ever ran.
    fn use_profile(self) -> bool {
        self != CompileTrigger::Eager
    }
}

/// What [`crate::Engine::compile_now`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompileRequest {
    /// Queued ahead of hotness-triggered requests.
    Queued,
    /// Already waiting for a worker.
    AlreadyQueued,
    /// Its code is already published.
    AlreadyCompiled,
}

/// One entry of the tier-event log ([`crate::Engine::tier_events`]).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct TierEvent {
    /// Position in the log (starts at 1).
    pub seq: u64,
    /// Microseconds since the engine started.
    pub at_us: u64,
    /// What happened.
    pub kind: TierEventKind,
    /// The function's key.
    pub key: FunctionKey,
    /// Its human name.
    pub name: String,
    /// Chunk name and line, `x.lua:12`.
    pub location: String,
    /// The tier concerned.
    pub tier: u8,
    /// Compile wall time, µs (Compiled).
    pub compile_us: u64,
    /// Machine code bytes (Compiled, Evicted, Freed).
    pub code_bytes: u64,
    /// Time spent queued before a worker took it, µs (0: compiled on the invoking thread).
    pub queue_wait_us: u64,
    /// Bytecode instructions translated.
    pub bytecodes: u32,
    /// Why it was rejected (Rejected); what the guard found (Deopt); why
    /// it was pinned (Pinned); what a tier-2 compile speculates
    /// (`speculates: int 5, float 2, array 3, cold branches 1`).
    pub reason: Option<String>,
    /// What asked for the compile (Compiled, Rejected).
    pub trigger: Option<CompileTrigger>,
    /// Deopt: the pc of the guard that failed.
    #[serde(default)]
    pub pc: Option<u32>,
    /// Deopt: what the guard speculated (None: a resume stub's check).
    #[serde(default)]
    pub guard: Option<GuardKind>,
    /// Compiled: the address of the unit's machine code (for profilers'
    /// symbol maps, see `ember run --perf-map`); 0 otherwise.
    #[serde(default)]
    pub code_addr: u64,
}

/// A function as the tiering machinery sees it (part of [`JitStats`]).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct FunctionTier {
    /// The function's key.
    pub key: FunctionKey,
    /// Its human name.
    pub name: String,
    /// `x.lua:12`.
    pub location: String,
    /// Highest tier whose code is published (0: interpreter).
    pub tier: u8,
    /// Calls × call_weight + interpreted back-edges.
    pub hotness: u64,
    /// Machine code bytes when compiled.
    pub code_bytes: u64,
    /// Why compilation failed, if it did.
    pub rejected: Option<String>,
    /// Why it stayed at tier 1: a tier-2 compile failed, or it was pinned
    /// after too many deopts.
    #[serde(default)]
    pub tier2_blocked: Option<String>,
    /// Tier-2 compiles (first one plus recompiles).
    #[serde(default)]
    pub tier2_compiles: u32,
    /// Deopts taken in this function.
    #[serde(default)]
    pub deopts: u64,
}

/// Deopts at one guard ([`JitStats::deopt_sites`]).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct DeoptSite {
    /// The function's key.
    pub key: FunctionKey,
    /// Its human name.
    pub name: String,
    /// `x.lua:12` of the guarded instruction.
    pub location: String,
    /// Bytecode index of the guard.
    pub pc: u32,
    /// Site ordinal (as in profiles and outcomes; `u32::MAX`: none).
    pub site: u32,
    /// What was speculated (None: a resume stub found a register of another type).
    pub guard: Option<GuardKind>,
    /// Times it failed.
    pub count: u64,
    /// What the guard found the last time.
    pub last_reason: String,
}

/// Counters of the tiering machinery ([`crate::Engine::jit_stats`]).
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct JitStats {
    /// Units compiled at tier 1 since the engine started.
    pub tier1_compiled: u64,
    /// Units compiled at tier 2 (first compiles and recompiles).
    pub tier2_compiled: u64,
    /// Tier-2 compiles that failed (the function stays at tier 1).
    pub tier2_rejected: u64,
    /// Deoptimizations (failed guards) in total.
    pub deopts: u64,
    /// Tier-2 recompiles after a speculation failed past the deopt limit.
    pub recompiles: u64,
    /// Functions pinned to tier 1 after too many recompiles.
    pub pinned: u64,
    /// Running loops that moved into tier-2 code at their header.
    pub osr_entries: u64,
    /// Deopts by guard, most frequent first.
    pub deopt_sites: Vec<DeoptSite>,
    /// Functions that could not be compiled.
    pub rejected: u64,
    /// Units evicted from the code cache.
    pub evicted: u64,
    /// Units replaced by a newer compile of the same function (tier 1 by
    /// tier 2, or a tier-2 recompile); retired and freed like evicted ones.
    /// A tier-1 unit kept behind tier-2 code (to fall back to) counts when
    /// it is retired: with the tier-2 unit's eviction, a tier-1 recompile,
    /// or a newer tier-1 unit kept instead.
    pub replaced: u64,
    /// Evicted or replaced units whose memory has been returned.
    pub freed: u64,
    /// Total compile wall time, µs, both tiers.
    pub compile_us_total: u64,
    /// Bytecode instructions compiled in total, both tiers (a function's
    /// own instructions; a tier-2 unit's inlined callees are not counted).
    pub bytecodes_compiled: u64,
    /// The part of `compile_us_total` spent on tier-2 compiles.
    pub tier2_compile_us: u64,
    /// The part of `bytecodes_compiled` compiled at tier 2.
    pub tier2_bytecodes: u64,
    /// Bytes the code cache holds (whole pages per unit).
    pub code_cache_bytes: u64,
    /// Bytes of evicted units not yet freed (a running invocation may still use them).
    pub retired_bytes: u64,
    /// Published units.
    pub units: u64,
    /// Requests waiting for a worker.
    pub queue_len: u64,
    /// Requests dropped because the queue was full.
    pub queue_drops: u64,
    /// Compiles done on an invoking thread.
    pub compiled_on_invoking_thread: u64,
    /// Times the latency controller paused the workers.
    pub controller_pauses: u64,
    /// Whether the workers are paused right now.
    pub controller_paused: bool,
    /// Times a [`CompileGate`] said "not now".
    pub gate_waits: u64,
    /// Invocation p99 over the controller window, µs (0: no data or no controller).
    pub invocation_p99_us: u64,
    /// Functions that have hotness or compiled code, hottest first.
    pub functions: Vec<FunctionTier>,
}

/// The page size code-cache accounting rounds to.
const PAGE: usize = 4096;
/// Tier events kept for `tier_events`.
const EVENT_LOG: usize = 10_000;

/// One compilation unit: its own JITModule, so it can be freed alone.
struct Unit {
    module: Option<cranelift_jit::JITModule>,
    /// Inline-cache cells the code points into; freed with it. Tier 2
    /// reads a tier-1 unit's cells as the hash slots its field guards
    /// expect.
    ic: Box<[AtomicU32]>,
    /// The resume points' numbers the code's prologue reads; freed with it.
    _entries: Box<[u16]>,
    proto: Arc<Proto>,
    /// Callees inlined into the code: held (never read) so the addresses
    /// its guards compare stay theirs.
    _inlined: Vec<Arc<Proto>>,
    bytes: usize,
    code_bytes: usize,
    /// Hotness when the cache last looked (for eviction by recent use).
    hot_mark: u64,
    /// The tier it was compiled at, and its entry point.
    tier: u8,
    entry: usize,
}

impl Unit {
    /// The hash slots the function's own inline caches hold, per pc (the
    /// cells of callees inlined into it follow and are not its own).
    fn own_slots(&self) -> Vec<u32> {
        self.ic.iter().take(self.proto.code.len()).map(|c| c.load(Relaxed)).collect()
    }
}

impl Drop for Unit {
    fn drop(&mut self) {
        if let Some(m) = self.module.take() {
            // SAFETY: a unit is dropped only by the cache after it has been
            // unpublished and every invocation that could have read its
            // entry pointer has ended (see `reclaim`), or when the engine
            // itself goes away (no state can exist then).
            unsafe { m.free_memory() }
        }
    }
}

struct Request {
    priority: u64,
    seq: u64,
    proto: Arc<Proto>,
    queued_at: Instant,
    trigger: CompileTrigger,
    tier: u8,
}
impl PartialEq for Request {
    fn eq(&self, o: &Self) -> bool {
        (self.priority, self.seq) == (o.priority, o.seq)
    }
}
impl Eq for Request {}
impl PartialOrd for Request {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Request {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        // Hottest first; among equals, oldest first.
        self.priority.cmp(&o.priority).then(o.seq.cmp(&self.seq))
    }
}

#[derive(Default)]
struct Queue {
    heap: BinaryHeap<Request>,
    seq: u64,
    running_workers: usize,
    shutdown: bool,
}

#[derive(Default)]
struct Cache {
    units: HashMap<usize, Unit>,
    bytes: usize,
    /// A tier-2 function's tier-1 unit, kept when the tier-2 code replaced
    /// it: tier-2 code that keeps deoptimizing falls back to it while its
    /// recompile is on its way, instead of to the interpreter. Counted in
    /// `bytes`; retired with the function's unit (eviction) or when a new
    /// tier-1 unit replaces it.
    tier1_kept: HashMap<usize, Unit>,
    /// Evicted units waiting for their epoch to pass.
    retired: Vec<(u64, Unit)>,
    retired_bytes: usize,
    /// Compile failures by prototype (for stats).
    rejected: HashMap<usize, (Arc<Proto>, String)>,
    /// Why a function stays at tier 1 (tier-2 failure or pinning).
    tier2_blocked: HashMap<usize, String>,
}

/// Per-invocation latencies for the adaptive controller.
struct LatencyWindow {
    samples: Box<[AtomicU32]>,
    next: AtomicUsize,
}

impl LatencyWindow {
    fn new(n: usize) -> Self {
        LatencyWindow { samples: (0..n).map(|_| AtomicU32::new(0)).collect(), next: AtomicUsize::new(0) }
    }
    fn record(&self, us: u64) {
        let i = self.next.fetch_add(1, Relaxed) % self.samples.len();
        self.samples[i].store(us.clamp(1, u32::MAX as u64) as u32, Relaxed);
    }
    fn p99(&self) -> u64 {
        let mut v: Vec<u32> = self.samples.iter().map(|s| s.load(Relaxed)).filter(|&x| x > 0).collect();
        if v.is_empty() {
            return 0;
        }
        v.sort_unstable();
        v[(v.len() * 99).div_ceil(100).saturating_sub(1)] as u64
    }
}

pub(crate) struct Shared {
    config: RwLock<TieringConfig>,
    /// Bumped on every configuration change; states compare it per invocation.
    generation: AtomicU64,
    profiling: bool,
    queue: Mutex<Queue>,
    wake: Condvar,
    cache: Mutex<Cache>,
    epoch: AtomicU64,
    state_epochs: Mutex<Vec<Weak<AtomicU64>>>,
    latency: RwLock<Arc<LatencyWindow>>,
    paused: AtomicBool,
    started: Instant,
    events: Mutex<(u64, VecDeque<TierEvent>, Vec<mpsc::Sender<TierEvent>>)>,
    stats: Counters,
    gate: RwLock<Option<Arc<dyn CompileGate>>>,
}

#[derive(Default)]
struct Counters {
    compiled: AtomicU64,
    rejected: AtomicU64,
    evicted: AtomicU64,
    freed: AtomicU64,
    compile_us: AtomicU64,
    bytecodes: AtomicU64,
    compile_us2: AtomicU64,
    bytecodes2: AtomicU64,
    drops: AtomicU64,
    on_invoker: AtomicU64,
    pauses: AtomicU64,
    gate_waits: AtomicU64,
    compiled2: AtomicU64,
    replaced: AtomicU64,
    rejected2: AtomicU64,
    deopts: AtomicU64,
    recompiles: AtomicU64,
    pinned: AtomicU64,
    osr: AtomicU64,
}

/// The engine's JIT service. Dropping it stops the workers.
pub(crate) struct Jit {
    pub(crate) shared: Arc<Shared>,
}

impl Drop for Jit {
    fn drop(&mut self) {
        self.shared.queue.lock().expect("queue lock").shutdown = true;
        self.shared.wake.notify_all();
    }
}

thread_local! {
    /// Compiler contexts of a thread that compiles on its own behalf.
    static LOCAL_COMPILER: RefCell<Option<Compiler>> = const { RefCell::new(None) };
}

impl Jit {
    pub(crate) fn new(config: TieringConfig, profiling: bool) -> Jit {
        let window = config.latency_window.max(1);
        let shared = Arc::new(Shared {
            config: RwLock::new(config),
            generation: AtomicU64::new(1),
            profiling,
            queue: Mutex::new(Queue::default()),
            wake: Condvar::new(),
            cache: Mutex::new(Cache::default()),
            epoch: AtomicU64::new(1),
            state_epochs: Mutex::new(Vec::new()),
            latency: RwLock::new(Arc::new(LatencyWindow::new(window))),
            paused: AtomicBool::new(false),
            started: Instant::now(),
            events: Mutex::new((0, VecDeque::new(), Vec::new())),
            stats: Counters::default(),
            gate: RwLock::new(None),
        });
        let jit = Jit { shared };
        jit.spawn_workers();
        jit
    }

    pub(crate) fn config(&self) -> TieringConfig {
        self.shared.config.read().expect("config lock").clone()
    }

    pub(crate) fn generation(&self) -> u64 {
        self.shared.generation.load(Acquire)
    }

    pub(crate) fn set_config(&self, c: TieringConfig) -> Result<(), String> {
        c.validate()?;
        let window_changed = {
            let mut cur = self.shared.config.write().expect("config lock");
            let changed = cur.latency_window != c.latency_window;
            *cur = c.clone();
            changed
        };
        if window_changed {
            *self.shared.latency.write().expect("latency lock") = Arc::new(LatencyWindow::new(c.latency_window));
        }
        self.shared.generation.fetch_add(1, AcqRel);
        self.spawn_workers();
        self.shared.wake.notify_all();
        // A smaller cache applies now.
        let mut cache = self.shared.cache.lock().expect("cache lock");
        self.shared.evict_to(&mut cache, c.code_cache_bytes, None);
        self.shared.reclaim(&mut cache);
        Ok(())
    }

    fn spawn_workers(&self) {
        let want = self.config().workers;
        let mut q = self.shared.queue.lock().expect("queue lock");
        while q.running_workers < want {
            let id = q.running_workers;
            q.running_workers += 1;
            let shared = self.shared.clone();
            let spawned = std::thread::Builder::new().name(format!("ember-jit-{id}")).spawn(move || worker(shared, id));
            if spawned.is_err() {
                q.running_workers -= 1;
                break;
            }
        }
    }

    /// A slot in the epoch registry for a new state.
    pub(crate) fn register_state(&self) -> Arc<AtomicU64> {
        let slot = Arc::new(AtomicU64::new(u64::MAX));
        let mut v = self.shared.state_epochs.lock().expect("epochs lock");
        v.retain(|w| w.strong_count() > 0);
        v.push(Arc::downgrade(&slot));
        slot
    }

    pub(crate) fn current_epoch(&self) -> u64 {
        self.shared.epoch.load(SeqCst)
    }

    pub(crate) fn record_latency(&self, us: u64) {
        self.shared.latency.read().expect("latency lock").record(us);
    }

    /// Frees retired units whose epoch has passed; returns how many remain.
    pub(crate) fn reclaim(&self) -> usize {
        let mut cache = self.shared.cache.lock().expect("cache lock");
        self.shared.reclaim(&mut cache);
        cache.retired.len()
    }

    /// Queues `proto` for tier 1 (its status is already QUEUED). Returns
    /// false when the queue is full.
    fn enqueue(&self, proto: &Arc<Proto>, priority: u64, trigger: CompileTrigger, tier: u8) -> bool {
        let c = self.config();
        let mut q = self.shared.queue.lock().expect("queue lock");
        if q.heap.len() >= c.queue_capacity || c.workers == 0 || q.running_workers == 0 {
            return false;
        }
        q.seq += 1;
        let seq = q.seq;
        q.heap.push(Request { priority, seq, proto: proto.clone(), queued_at: Instant::now(), trigger, tier });
        drop(q);
        self.shared.wake.notify_one();
        true
    }

    /// The embedder asks for `p` to be compiled now, ahead of its hotness
    /// (warm start). It goes to the front of the queue; it is never compiled
    /// on the calling thread, which may be an async runtime's.
    pub(crate) fn request(&self, p: &Arc<Proto>) -> Result<CompileRequest, String> {
        if self.config().mode == TierMode::Interpreter {
            return Err("tiering mode is interpreter-only: nothing is compiled".into());
        }
        if !p.jit.entry.load(Acquire).is_null() {
            return Ok(CompileRequest::AlreadyCompiled);
        }
        match p.jit.status.compare_exchange(slot::COLD, slot::QUEUED, AcqRel, Relaxed) {
            Ok(_) => {
                if self.enqueue(p, u64::MAX, CompileTrigger::Request, 1) {
                    Ok(CompileRequest::Queued)
                } else {
                    p.jit.status.store(slot::COLD, Release);
                    self.shared.stats.drops.fetch_add(1, Relaxed);
                    Err("the compile queue is full or has no workers".into())
                }
            }
            Err(slot::QUEUED) => Ok(CompileRequest::AlreadyQueued),
            Err(slot::FAILED) => {
                let cache = self.shared.cache.lock().expect("cache lock");
                let why = cache.rejected.get(&(Arc::as_ptr(p) as usize)).map_or("compile failed", |r| r.1.as_str());
                Err(format!("it could not be compiled: {why}"))
            }
            Err(_) => Ok(CompileRequest::AlreadyCompiled),
        }
    }

    /// The embedder asks for `p` at tier 2 now (warm start from gossiped
    /// profiles: seed first, so the plan uses the peers' feedback and
    /// their learned outcomes). Front of the queue; never compiled on the
    /// calling thread.
    pub(crate) fn request_tier2_now(&self, p: &Arc<Proto>) -> Result<CompileRequest, String> {
        if self.config().mode == TierMode::Interpreter {
            return Err("tiering mode is interpreter-only: nothing is compiled".into());
        }
        if p.jit.tier.load(Acquire) == 2 {
            return Ok(CompileRequest::AlreadyCompiled);
        }
        match p.jit.opt.compare_exchange(opt::NONE, opt::QUEUED, AcqRel, Relaxed) {
            Ok(_) => {
                // Keep hotness from queueing a tier-1 compile meanwhile.
                let _ = p.jit.status.compare_exchange(slot::COLD, slot::QUEUED, AcqRel, Relaxed);
                if self.enqueue(p, u64::MAX, CompileTrigger::Request, 2) {
                    Ok(CompileRequest::Queued)
                } else {
                    p.jit.opt.store(opt::NONE, Release);
                    if p.jit.entry.load(Acquire).is_null() {
                        let _ = p.jit.status.compare_exchange(slot::QUEUED, slot::COLD, AcqRel, Relaxed);
                    }
                    self.shared.stats.drops.fetch_add(1, Relaxed);
                    Err("the compile queue is full or has no workers".into())
                }
            }
            Err(opt::QUEUED) => Ok(CompileRequest::AlreadyQueued),
            Err(opt::DONE) => Ok(CompileRequest::AlreadyCompiled),
            Err(_) => {
                let cache = self.shared.cache.lock().expect("cache lock");
                let why = cache.tier2_blocked.get(&(Arc::as_ptr(p) as usize)).map_or("it stays at tier 1", |r| r.as_str());
                Err(format!("not compiled at tier 2: {why}"))
            }
        }
    }

    /// Queues a function running at tier 1 for tier 2 (once).
    pub(crate) fn request_tier2(&self, p: &Arc<Proto>, priority: u64, trigger: CompileTrigger) -> bool {
        if p.jit.opt.compare_exchange(opt::NONE, opt::QUEUED, AcqRel, Relaxed).is_err() {
            return false;
        }
        if self.enqueue_or_compile(p, priority, trigger, 2) {
            return true;
        }
        p.jit.opt.store(opt::NONE, Release);
        self.shared.stats.drops.fetch_add(1, Relaxed);
        false
    }

    /// Queues a compile, or runs it here when the queue cannot take it and
    /// the policy lets invoking threads compile. False: neither.
    fn enqueue_or_compile(&self, p: &Arc<Proto>, priority: u64, trigger: CompileTrigger, tier: u8) -> bool {
        if self.enqueue(p, priority, trigger, tier) {
            return true;
        }
        if !self.config().compile_on_invoking_thread {
            return false;
        }
        self.compile_here(p, trigger, tier);
        true
    }

    /// A tier-2 guard failed (see `runtime::jit_deopt`): count it by site,
    /// record the speculation outcome, and past the deopt limit compile
    /// the function again without that speculation — or, past the
    /// recompile limit, put it back at tier 1 for good.
    pub(crate) fn deopt(&self, p: &Arc<Proto>, pc: usize, code: u8, reason: String) {
        let sh = &self.shared;
        sh.stats.deopts.fetch_add(1, Relaxed);
        let deopt_limit = sh.config.read().expect("config lock").deopt_limit;
        let (first, since_compile) = {
            let mut d = p.jit.deopts.lock().expect("deopts lock");
            let i = match d.iter().position(|r| r.pc == pc as u32 && r.code == code) {
                Some(i) => i,
                None => {
                    d.push(DeoptRecord { pc: pc as u32, code, count: 0, since_compile: 0, last_reason: String::new() });
                    d.len() - 1
                }
            };
            let r = &mut d[i];
            r.count += 1;
            r.since_compile = r.since_compile.saturating_add(1);
            r.last_reason = reason.clone();
            (r.count == 1, r.since_compile)
        };
        // Entered where the plan never reached (a loop behind a branch that
        // was cold, now hot): the plan is stale, so the recompile is asked
        // for at once, and the interpreter keeps out of the code at that
        // point until it lands (`osr_refused`). Counting such entries to
        // the limit instead cost a deopt per iteration of that loop and
        // then, unpublished, the whole function interpreted meanwhile.
        let unreached = code == codegen::tier2::UNREACHED_ENTRY;
        if unreached {
            p.jit.refuse(pc);
        }
        let at_limit = if unreached { since_compile == 1 } else { since_compile == deopt_limit };
        let guard = codegen::tier2::kind_of(code);
        if let Some(kind) = guard {
            let site = p.code[..pc].iter().filter(|op| crate::profile::site_kind(op).is_some()).count() as u32;
            let mut o = p.feedback.outcomes.lock().expect("outcomes lock");
            match o.iter_mut().find(|x| x.site == site && x.kind == kind) {
                Some(x) => x.failures = x.failures.saturating_add(1),
                None => o.push(SpeculationOutcome { site, kind, failures: 1 }),
            }
        }
        if first || at_limit {
            sh.event_full(
                TierEventKind::Deopt,
                p,
                2,
                EventDetail { reason: Some(reason), pc: Some(pc as u32), guard, ..EventDetail::default() },
            );
        }
        if at_limit {
            self.retire_failing_code(p);
        } else if !unreached && since_compile == deopt_limit.saturating_mul(2) {
            self.unpublish_failing_code(p);
        }
    }

    /// A deopt inside a callee inlined into `outer`'s tier-2 code (already
    /// recorded as the callee's by [`Jit::deopt`]): at the deopt limit the
    /// caller is compiled again, so the inlined copy of the callee drops
    /// the speculations that keep failing, as the callee's own code does.
    pub(crate) fn deopt_inlined(&self, outer: &Arc<Proto>) {
        let limit = self.shared.config.read().expect("config lock").deopt_limit;
        let n = outer.jit.inlined_deopts.fetch_add(1, Relaxed).saturating_add(1);
        if n == limit {
            self.retire_failing_code(outer);
        } else if n == limit.saturating_mul(2) {
            self.unpublish_failing_code(outer);
        }
    }

    /// Asks for `p`'s tier-2 code, which keeps deoptimizing, to be compiled
    /// again — or, past the recompile limit, pins it at tier 1.
    ///
    /// A recompile leaves the failing code published while it is on its
    /// way: a guard that fails now and then (a branch taken once per
    /// thousand rounds) costs a deopt each time, and interpreting the
    /// whole function for the length of a compile (a big main chunk's
    /// takes a tenth of a second) costs far more. A guard that fails on
    /// every pass does the opposite, so a second `deopt_limit` failures
    /// before the new code lands unpublishes it after all
    /// ([`Jit::unpublish_failing_code`]).
    fn retire_failing_code(&self, p: &Arc<Proto>) {
        let sh = &self.shared;
        let recompile_limit = sh.config.read().expect("config lock").recompile_limit;
        if p.jit.tier.load(Acquire) != 2 {
            return;
        }
        if p.jit.opt_compiles.load(Relaxed) > recompile_limit {
            // Tier 1 for good: the tier-2 code goes now, and the interpreter
            // runs the function until its tier-1 code is published.
            self.unpublish_failing_code(p);
            if p.jit.opt.swap(opt::PINNED, AcqRel) != opt::PINNED {
                sh.stats.pinned.fetch_add(1, Relaxed);
                let why = format!("pinned after {} tier-2 compiles kept deoptimizing", p.jit.opt_compiles.load(Relaxed));
                sh.cache.lock().expect("cache lock").tier2_blocked.insert(Arc::as_ptr(p) as usize, why.clone());
                sh.event_full(TierEventKind::Pinned, p, 1, EventDetail { reason: Some(why), ..EventDetail::default() });
                if !self.restore_tier1(p) {
                    self.enqueue_or_compile(p, u64::MAX, CompileTrigger::Deopt, 1);
                }
            }
        } else if p.jit.opt.compare_exchange(opt::DONE, opt::QUEUED, AcqRel, Relaxed).is_ok() {
            sh.stats.recompiles.fetch_add(1, Relaxed);
            if !self.enqueue_or_compile(p, u64::MAX, CompileTrigger::Deopt, 2) {
                p.jit.opt.store(opt::DONE, Release);
            }
        }
    }

    /// Stops entering `p`'s failing tier-2 code: its tier-1 code, kept for
    /// this (`Cache::tier1_kept`), or else the interpreter runs the
    /// function until the replacement is published. Frames already inside
    /// keep their unit (freed by epoch, as ever).
    fn unpublish_failing_code(&self, p: &Arc<Proto>) {
        let cache = self.shared.cache.lock().expect("cache lock");
        if p.jit.tier.load(Acquire) != 2 {
            return;
        }
        match cache.tier1_kept.get(&(Arc::as_ptr(p) as usize)) {
            Some(kept) => {
                p.jit.tier.store(1, Release);
                p.jit.entry.store(kept.entry as *mut u8, SeqCst);
            }
            None => {
                p.jit.entry.store(std::ptr::null_mut(), SeqCst);
                p.jit.tier.store(0, Release);
            }
        }
    }

    /// Pinned at tier 1: the tier-1 code kept (`Cache::tier1_kept`) becomes
    /// the function's unit again, and the tier-2 unit is retired. False
    /// when none was kept (a tier-1 compile is then needed).
    fn restore_tier1(&self, p: &Arc<Proto>) -> bool {
        let sh = &self.shared;
        let mut cache = sh.cache.lock().expect("cache lock");
        let id = Arc::as_ptr(p) as usize;
        let Some(kept) = cache.tier1_kept.remove(&id) else { return false };
        p.jit.tier.store(1, Release);
        p.jit.entry.store(kept.entry as *mut u8, SeqCst);
        if let Some(old) = cache.units.insert(id, kept) {
            sh.stats.replaced.fetch_add(1, Relaxed);
            sh.retire(&mut cache, old);
        }
        sh.reclaim(&mut cache);
        true
    }

    /// Compiles on the calling thread.
    fn compile_here(&self, proto: &Arc<Proto>, trigger: CompileTrigger, tier: u8) {
        LOCAL_COMPILER.with(|c| {
            let mut c = c.borrow_mut();
            if c.is_none() {
                match Compiler::new() {
                    Ok(new) => *c = Some(new),
                    Err(e) => {
                        self.shared.reject(proto, e, trigger);
                        return;
                    }
                }
            }
            let compiler = c.as_mut().expect("set above");
            self.shared.stats.on_invoker.fetch_add(1, Relaxed);
            self.shared.compile_and_publish(compiler, proto, None, trigger, tier);
        });
    }

    pub(crate) fn set_gate(&self, gate: Option<Arc<dyn CompileGate>>) {
        *self.shared.gate.write().expect("gate lock") = gate;
    }

    pub(crate) fn uptime_us(&self) -> u64 {
        self.shared.started.elapsed().as_micros() as u64
    }

    pub(crate) fn events_since(&self, seq: u64) -> Vec<TierEvent> {
        let ev = self.shared.events.lock().expect("events lock");
        ev.1.iter().filter(|e| e.seq > seq).cloned().collect()
    }

    pub(crate) fn subscribe(&self) -> mpsc::Receiver<TierEvent> {
        let (tx, rx) = mpsc::channel();
        self.shared.events.lock().expect("events lock").2.push(tx);
        rx
    }

    pub(crate) fn function_tier(&self, p: &Arc<Proto>) -> FunctionTier {
        let cache = self.shared.cache.lock().expect("cache lock");
        let id = Arc::as_ptr(p) as usize;
        FunctionTier {
            key: p.key,
            name: p.name.clone(),
            location: format!("{}:{}", p.source, p.line_defined),
            tier: if p.jit.entry.load(Acquire).is_null() { 0 } else { p.jit.tier.load(Relaxed) },
            hotness: p.jit.hot.load(Relaxed),
            code_bytes: cache.units.get(&id).map_or(0, |u| u.code_bytes as u64),
            rejected: cache.rejected.get(&id).map(|r| r.1.clone()),
            tier2_blocked: cache.tier2_blocked.get(&id).cloned(),
            tier2_compiles: p.jit.opt_compiles.load(Relaxed),
            deopts: p.jit.deopts.lock().expect("deopts lock").iter().map(|r| r.count).sum(),
        }
    }

    pub(crate) fn stats(&self, protos: &[Arc<Proto>]) -> JitStats {
        let sh = &self.shared;
        let s = &sh.stats;
        let (code_bytes, retired_bytes, units, rejected, blocked) = {
            let mut cache = sh.cache.lock().expect("cache lock");
            sh.reclaim(&mut cache);
            let rejected: HashMap<usize, String> = cache.rejected.iter().map(|(k, (_, r))| (*k, r.clone())).collect();
            let sizes: HashMap<usize, u64> = cache.units.iter().map(|(k, u)| (*k, u.code_bytes as u64)).collect();
            (cache.bytes as u64, cache.retired_bytes as u64, sizes, rejected, cache.tier2_blocked.clone())
        };
        let mut deopt_sites = Vec::new();
        for p in protos {
            for r in p.jit.deopts.lock().expect("deopts lock").iter() {
                let pc = r.pc as usize;
                deopt_sites.push(DeoptSite {
                    key: p.key,
                    name: p.name.clone(),
                    location: format!("{}:{}", p.source, p.lines.get(pc).copied().unwrap_or(p.line_defined)),
                    pc: r.pc,
                    site: if crate::profile::site_kind(&p.code[pc]).is_some() {
                        p.code[..pc].iter().filter(|op| crate::profile::site_kind(op).is_some()).count() as u32
                    } else {
                        u32::MAX
                    },
                    guard: codegen::tier2::kind_of(r.code),
                    count: r.count,
                    last_reason: r.last_reason.clone(),
                });
            }
        }
        deopt_sites.sort_by_key(|d| std::cmp::Reverse(d.count));
        let mut functions: Vec<FunctionTier> = protos
            .iter()
            .filter_map(|p| {
                let id = Arc::as_ptr(p) as usize;
                let hot = p.jit.hot.load(Relaxed);
                let published = !p.jit.entry.load(Acquire).is_null();
                let rej = rejected.get(&id).cloned();
                if hot == 0 && !published && rej.is_none() {
                    return None;
                }
                Some(FunctionTier {
                    key: p.key,
                    name: p.name.clone(),
                    location: format!("{}:{}", p.source, p.line_defined),
                    tier: if published { p.jit.tier.load(Relaxed) } else { 0 },
                    hotness: hot,
                    code_bytes: units.get(&id).copied().unwrap_or(0),
                    rejected: rej,
                    tier2_blocked: blocked.get(&id).cloned(),
                    tier2_compiles: p.jit.opt_compiles.load(Relaxed),
                    deopts: p.jit.deopts.lock().expect("deopts lock").iter().map(|r| r.count).sum(),
                })
            })
            .collect();
        functions.sort_by_key(|f| std::cmp::Reverse(f.hotness));
        let controller = sh.config.read().expect("config lock").latency_target_us > 0;
        JitStats {
            tier1_compiled: s.compiled.load(Relaxed),
            tier2_compiled: s.compiled2.load(Relaxed),
            tier2_rejected: s.rejected2.load(Relaxed),
            deopts: s.deopts.load(Relaxed),
            recompiles: s.recompiles.load(Relaxed),
            pinned: s.pinned.load(Relaxed),
            osr_entries: s.osr.load(Relaxed),
            deopt_sites,
            rejected: s.rejected.load(Relaxed),
            evicted: s.evicted.load(Relaxed),
            replaced: s.replaced.load(Relaxed),
            freed: s.freed.load(Relaxed),
            compile_us_total: s.compile_us.load(Relaxed),
            bytecodes_compiled: s.bytecodes.load(Relaxed),
            tier2_compile_us: s.compile_us2.load(Relaxed),
            tier2_bytecodes: s.bytecodes2.load(Relaxed),
            code_cache_bytes: code_bytes,
            retired_bytes,
            units: units.len() as u64,
            queue_len: sh.queue.lock().expect("queue lock").heap.len() as u64,
            queue_drops: s.drops.load(Relaxed),
            compiled_on_invoking_thread: s.on_invoker.load(Relaxed),
            controller_pauses: s.pauses.load(Relaxed),
            controller_paused: sh.paused.load(Relaxed),
            gate_waits: s.gate_waits.load(Relaxed),
            invocation_p99_us: if controller { sh.latency.read().expect("latency lock").p99() } else { 0 },
            functions,
        }
    }
}

impl Shared {
    /// The hash slot each field site of `proto` last found its key in, as
    /// its cached tier-1 unit's inline caches hold them (`u32::MAX`: none;
    /// empty without a tier-1 unit).
    fn field_slots(&self, proto: &Arc<Proto>) -> Vec<u32> {
        let cache = self.cache.lock().expect("cache lock");
        cache.units.get(&(Arc::as_ptr(proto) as usize)).map_or_else(Vec::new, Unit::own_slots)
    }

    /// The prototype with compiled code whose key's low bits are `key_lo`
    /// (what call-site feedback records), with its inline-cache slots: a
    /// callee tier 2 may inline. A callee that never got compiled is too
    /// cold to be worth it.
    fn compiled_callee(&self, key_lo: u64) -> Option<(Arc<Proto>, Vec<u32>)> {
        let cache = self.cache.lock().expect("cache lock");
        let u = cache.units.values().find(|u| u.proto.key.0 as u64 == key_lo)?;
        Some((u.proto.clone(), u.own_slots()))
    }

    fn compile_and_publish(
        &self,
        compiler: &mut Compiler,
        proto: &Arc<Proto>,
        queued_at: Option<Instant>,
        trigger: CompileTrigger,
        tier: u8,
    ) -> bool {
        let wait = queued_at.map_or(0, |t| t.elapsed().as_micros() as u64);
        if tier == 1 && proto.jit.tier.load(Acquire) == 2 && proto.jit.opt.load(Acquire) != opt::PINNED {
            // Tier 2 got there first; tier 1 would be a step down.
            return false;
        }
        let t0 = Instant::now();
        let mut speculations = None;
        let result = if tier == 2 {
            let limit = self.config.read().expect("config lock").deopt_limit;
            let slots = self.field_slots(proto);
            let callees = |key_lo: u64| self.compiled_callee(key_lo);
            let plan = speculate::Plan::build(proto, limit, &slots, Some(&callees));
            speculations = Some(format!("speculates: {}", plan.summary()));
            compiler.compile_optimized(proto, &plan)
        } else {
            compiler.compile(proto, self.profiling, trigger.use_profile())
        };
        let us = t0.elapsed().as_micros() as u64;
        let code = match result {
            Ok(c) => c,
            Err(e) if tier == 2 => {
                self.reject_tier2(proto, e, trigger);
                return false;
            }
            Err(e) => {
                self.reject(proto, e, trigger);
                return false;
            }
        };
        let CompiledCode { module, entry, code_bytes, ic, inlined, entries } = code;
        let bytes = code_bytes.div_ceil(PAGE).max(1) * PAGE;
        let limit = self.config.read().expect("config lock").code_cache_bytes;
        let id = Arc::as_ptr(proto) as usize;
        let mut unit = Unit {
            module: Some(module),
            ic,
            _entries: entries,
            proto: proto.clone(),
            _inlined: inlined,
            bytes,
            code_bytes,
            hot_mark: proto.jit.hot.load(Relaxed),
            tier,
            entry: entry as usize,
        };
        {
            let mut cache = self.cache.lock().expect("cache lock");
            if bytes > limit {
                drop(cache);
                // Never published, so it can go at once.
                drop(unit);
                let why = format!("{bytes} bytes of code exceed the whole code cache ({limit} bytes)");
                if tier == 2 {
                    self.reject_tier2(proto, why, trigger)
                } else {
                    self.reject(proto, why, trigger)
                };
                return false;
            }
            self.evict_to(&mut cache, limit - bytes, Some(id));
            unit.hot_mark = proto.jit.hot.load(Relaxed);
            match cache.units.insert(id, unit) {
                // Tier 2 replaced tier 1: the tier-1 code stays, to fall
                // back to (`Jit::unpublish_failing_code`).
                Some(old) if tier == 2 && old.tier == 1 => {
                    if let Some(stale) = cache.tier1_kept.insert(id, old) {
                        self.retire_kept(&mut cache, stale);
                    }
                }
                // A recompile replaced a published unit: retire the old one.
                Some(old) => {
                    self.stats.replaced.fetch_add(1, Relaxed);
                    self.retire(&mut cache, old);
                }
                None => {}
            }
            if tier == 1
                && let Some(stale) = cache.tier1_kept.remove(&id)
            {
                self.retire_kept(&mut cache, stale);
            }
            cache.bytes += bytes;
            proto.jit.compile_us.store(us.min(u32::MAX as u64) as u32, Relaxed);
            if tier == 2 {
                // Fresh code: deopt counts toward the next recompile start over.
                for r in proto.jit.deopts.lock().expect("deopts lock").iter_mut() {
                    r.since_compile = 0;
                }
                proto.jit.inlined_deopts.store(0, Relaxed);
                proto.jit.opt_compiles.fetch_add(1, Relaxed);
                if proto.jit.opt.load(Acquire) != opt::PINNED {
                    proto.jit.opt.store(opt::DONE, Release);
                }
            }
            proto.jit.tier.store(tier, Release);
            proto.jit.refuse_none();
            proto.jit.entry.store(entry as *mut u8, Release);
            proto.jit.status.store(slot::COMPILED, Release);
            self.reclaim(&mut cache);
        }
        if tier == 2 { &self.stats.compiled2 } else { &self.stats.compiled }.fetch_add(1, Relaxed);
        self.stats.compile_us.fetch_add(us, Relaxed);
        self.stats.bytecodes.fetch_add(proto.code.len() as u64, Relaxed);
        if tier == 2 {
            self.stats.compile_us2.fetch_add(us, Relaxed);
            self.stats.bytecodes2.fetch_add(proto.code.len() as u64, Relaxed);
        }
        let detail = EventDetail {
            compile_us: us,
            code_bytes: code_bytes as u64,
            queue_wait_us: wait,
            trigger: Some(trigger),
            reason: speculations,
            code_addr: entry as usize as u64,
            ..EventDetail::default()
        };
        self.event_full(TierEventKind::Compiled, proto, tier, detail);
        true
    }

    fn reject(&self, proto: &Arc<Proto>, reason: String, trigger: CompileTrigger) {
        proto.jit.status.store(slot::FAILED, Release);
        self.stats.rejected.fetch_add(1, Relaxed);
        self.cache.lock().expect("cache lock").rejected.insert(Arc::as_ptr(proto) as usize, (proto.clone(), reason.clone()));
        self.event(TierEventKind::Rejected, proto, 0, 0, 0, Some(reason), Some(trigger));
    }

    /// A tier-2 compile failed: the function keeps its tier-1 code (or the
    /// interpreter) and is not tried at tier 2 again.
    fn reject_tier2(&self, proto: &Arc<Proto>, reason: String, trigger: CompileTrigger) {
        proto.jit.opt.store(opt::FAILED, Release);
        self.stats.rejected2.fetch_add(1, Relaxed);
        let why = format!("tier 2 failed: {reason}");
        self.cache.lock().expect("cache lock").tier2_blocked.insert(Arc::as_ptr(proto) as usize, why.clone());
        if proto.jit.entry.load(Acquire).is_null() {
            // A warm-start request held tier 1 back; let hotness work again.
            let _ = proto.jit.status.compare_exchange(slot::QUEUED, slot::COLD, AcqRel, Relaxed);
        }
        self.event_full(
            TierEventKind::Rejected,
            proto,
            2,
            EventDetail { reason: Some(why), trigger: Some(trigger), ..EventDetail::default() },
        );
    }

    /// Evicts the units least used since the last look until the cache
    /// holds at most `target` bytes (never `keep`).
    fn evict_to(&self, cache: &mut Cache, target: usize, keep: Option<usize>) {
        if cache.bytes <= target {
            return;
        }
        let mut order: Vec<(u64, usize)> = cache
            .units
            .iter()
            .filter(|(id, _)| Some(**id) != keep)
            .map(|(id, u)| (u.proto.jit.hot.load(Relaxed).saturating_sub(u.hot_mark), *id))
            .collect();
        order.sort_unstable();
        for (_, id) in order {
            if cache.bytes <= target {
                break;
            }
            let Some(unit) = cache.units.remove(&id) else { continue };
            // Unpublish first: from here on no new entry can find it (nor
            // the tier-1 code kept with it, which goes too).
            unit.proto.jit.entry.store(std::ptr::null_mut(), SeqCst);
            if let Some(kept) = cache.tier1_kept.remove(&id) {
                self.retire_kept(cache, kept);
            }
            // It must get hot again before it is compiled again.
            unit.proto.jit.hot.store(0, Relaxed);
            unit.proto.jit.status.store(slot::COLD, Release);
            unit.proto.jit.tier.store(0, Release);
            if unit.proto.jit.opt.load(Acquire) != opt::PINNED {
                unit.proto.jit.opt.store(opt::NONE, Release);
            }
            let e = self.epoch.fetch_add(1, SeqCst);
            cache.bytes -= unit.bytes;
            cache.retired_bytes += unit.bytes;
            self.stats.evicted.fetch_add(1, Relaxed);
            self.event(TierEventKind::Evicted, &unit.proto, 0, unit.code_bytes as u64, 0, None, None);
            cache.retired.push((e, unit));
        }
        for u in cache.units.values_mut() {
            u.hot_mark = u.proto.jit.hot.load(Relaxed);
        }
    }

    /// Takes `unit` out of the cache's bytes, to be freed once no running
    /// invocation can still be using it (`reclaim`). It must be
    /// unpublished already, or be replaced as its function's entry in the
    /// same critical section.
    fn retire(&self, cache: &mut Cache, unit: Unit) {
        cache.bytes -= unit.bytes;
        let e = self.epoch.fetch_add(1, SeqCst);
        cache.retired_bytes += unit.bytes;
        cache.retired.push((e, unit));
    }

    /// Retires the tier-1 unit kept behind a tier-2 one: it was replaced
    /// when tier 2 was published, and is counted so now that it goes (so
    /// `freed` ends up equal to `evicted + replaced`).
    fn retire_kept(&self, cache: &mut Cache, kept: Unit) {
        self.stats.replaced.fetch_add(1, Relaxed);
        self.retire(cache, kept);
    }

    /// Frees retired units no running invocation can still be using.
    fn reclaim(&self, cache: &mut Cache) {
        if cache.retired.is_empty() {
            return;
        }
        let oldest_running = {
            let mut v = self.state_epochs.lock().expect("epochs lock");
            v.retain(|w| w.strong_count() > 0);
            v.iter().filter_map(|w| w.upgrade()).map(|s| s.load(SeqCst)).min().unwrap_or(u64::MAX)
        };
        let mut i = 0;
        while i < cache.retired.len() {
            if cache.retired[i].0 < oldest_running {
                let (_, unit) = cache.retired.swap_remove(i);
                cache.retired_bytes -= unit.bytes;
                self.stats.freed.fetch_add(1, Relaxed);
                self.event(TierEventKind::Freed, &unit.proto, 0, unit.code_bytes as u64, 0, None, None);
                drop(unit);
            } else {
                i += 1;
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn event(
        &self,
        kind: TierEventKind,
        p: &Proto,
        compile_us: u64,
        code_bytes: u64,
        queue_wait_us: u64,
        reason: Option<String>,
        trigger: Option<CompileTrigger>,
    ) {
        let tier = p.jit.tier.load(Relaxed).max(1);
        self.event_full(kind, p, tier, EventDetail { compile_us, code_bytes, queue_wait_us, reason, trigger, ..EventDetail::default() });
    }

    fn event_full(&self, kind: TierEventKind, p: &Proto, tier: u8, d: EventDetail) {
        let mut ev = self.events.lock().expect("events lock");
        ev.0 += 1;
        let e = TierEvent {
            seq: ev.0,
            at_us: self.started.elapsed().as_micros() as u64,
            kind,
            key: p.key,
            name: p.name.clone(),
            location: format!("{}:{}", p.source, p.line_defined),
            tier,
            compile_us: d.compile_us,
            code_bytes: d.code_bytes,
            queue_wait_us: d.queue_wait_us,
            bytecodes: p.code.len() as u32,
            reason: d.reason,
            trigger: d.trigger,
            pc: d.pc,
            guard: d.guard,
            code_addr: d.code_addr,
        };
        if ev.1.len() == EVENT_LOG {
            ev.1.pop_front();
        }
        ev.1.push_back(e.clone());
        ev.2.retain(|tx| tx.send(e.clone()).is_ok());
    }

    /// The latency controller: waits while invocation p99 is above target.
    fn throttle(&self) {
        let started = Instant::now();
        loop {
            let (target, ratio, max_pause) = {
                let c = self.config.read().expect("config lock");
                (c.latency_target_us, c.resume_ratio, Duration::from_millis(c.max_pause_ms))
            };
            if target == 0 {
                self.paused.store(false, Relaxed);
                return;
            }
            let p99 = self.latency.read().expect("latency lock").p99();
            let paused = self.paused.load(Relaxed);
            if paused && (p99 as f64) <= target as f64 * ratio {
                self.paused.store(false, Relaxed);
                return;
            }
            if !paused && p99 <= target {
                return;
            }
            if !paused {
                self.paused.store(true, Relaxed);
                self.stats.pauses.fetch_add(1, Relaxed);
            }
            // Still over target: compile one unit now and then anyway, so
            // a workload that is slow on its own still warms up.
            if started.elapsed() >= max_pause || self.queue.lock().expect("queue lock").shutdown {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// The optional parts of a tier event.
#[derive(Default)]
struct EventDetail {
    compile_us: u64,
    code_bytes: u64,
    queue_wait_us: u64,
    reason: Option<String>,
    trigger: Option<CompileTrigger>,
    pc: Option<u32>,
    guard: Option<GuardKind>,
    code_addr: u64,
}

fn worker(shared: Arc<Shared>, id: usize) {
    let mut compiler = match Compiler::new() {
        Ok(c) => c,
        Err(_) => {
            shared.queue.lock().expect("queue lock").running_workers -= 1;
            return;
        }
    };
    loop {
        let req = {
            let mut q = shared.queue.lock().expect("queue lock");
            loop {
                let want = shared.config.read().expect("config lock").workers;
                if q.shutdown || id >= want {
                    q.running_workers -= 1;
                    if q.running_workers == 0 {
                        // Nobody will take these: let them be requested again.
                        for r in q.heap.drain() {
                            if r.tier == 2 {
                                r.proto.jit.opt.store(opt::NONE, Release);
                            } else {
                                r.proto.jit.status.store(slot::COLD, Release);
                            }
                        }
                    }
                    return;
                }
                if let Some(r) = q.heap.pop() {
                    break r;
                }
                q = shared.wake.wait(q).expect("queue lock");
            }
        };
        shared.throttle();
        let gate = shared.gate.read().expect("gate lock").clone();
        let permit = match &gate {
            None => None,
            Some(g) => {
                let ask = GateRequest {
                    key: req.proto.key,
                    name: req.proto.name.clone(),
                    tier: req.tier,
                    estimated_us: estimate_compile_us(&req.proto, req.tier),
                    trigger: req.trigger,
                };
                match g.acquire(&ask) {
                    GateDecision::Go(p) => Some(p),
                    GateDecision::Later(wait) => {
                        // Not now: back into the queue (same priority, same
                        // place among equals), and give the budget time.
                        shared.stats.gate_waits.fetch_add(1, Relaxed);
                        shared.queue.lock().expect("queue lock").heap.push(req);
                        std::thread::sleep(wait.clamp(Duration::from_millis(1), Duration::from_millis(200)));
                        continue;
                    }
                }
            }
        };
        let t0 = Instant::now();
        // The outcome the budget hears: a coordinator keeps a pioneer only
        // when its compile was published (there is then something to learn).
        let compiled = shared.compile_and_publish(&mut compiler, &req.proto, Some(req.queued_at), req.trigger, req.tier);
        if let (Some(g), Some(p)) = (gate, permit) {
            g.release(p, GateOutcome { compiled, compile_us: t0.elapsed().as_micros() as u64 });
        }
    }
}

/// A guess at a compile's CPU time from its size (tier 1 measures about
/// 20 µs per bytecode, tier 2 with Cranelift's optimizer about twice
/// that); what a budget is asked for before compiling.
fn estimate_compile_us(p: &Proto, tier: u8) -> u64 {
    300 + if tier == 2 { 40 } else { 20 } * p.code.len() as u64
}

/// What a [`CompileGate`] is asked.
#[derive(Clone, Debug)]
pub struct GateRequest {
    /// The function.
    pub key: FunctionKey,
    /// Its human name.
    pub name: String,
    /// The tier it would be compiled at.
    pub tier: u8,
    /// Estimated compile CPU, µs.
    pub estimated_us: u64,
    /// Why it is being compiled.
    pub trigger: CompileTrigger,
}

/// A gate's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GateDecision {
    /// Compile now; hand the permit back through [`CompileGate::release`].
    Go(GatePermit),
    /// Not now: the request goes back into the queue and the worker waits
    /// this long (clamped to 1–200 ms) before it takes the next one.
    Later(Duration),
}

/// An opaque token from a gate, returned when the compile is done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GatePermit(pub u64);

/// How a gated compile went.
#[derive(Clone, Copy, Debug)]
pub struct GateOutcome {
    /// Whether code was published.
    pub compiled: bool,
    /// Wall time of the compile, µs.
    pub compile_us: u64,
}

/// Asked by the background compile workers before every compile: how an
/// embedder (a node asking a cluster-wide coordinator for leases) governs
/// compilation. Compiles on an invoking thread never consult it — they
/// must not wait on anything. Implementations run on worker threads and
/// may block briefly (a network round trip with a short timeout).
pub trait CompileGate: Send + Sync {
    /// May this compile start now?
    fn acquire(&self, request: &GateRequest) -> GateDecision;
    /// The compile behind `permit` is done.
    fn release(&self, permit: GatePermit, outcome: GateOutcome);
}

/// The process's shared machine-code routines that compiled code calls
/// (the frame-push and return stubs, `codegen/stubs.rs`) as `(address,
/// bytes, name)`: what a profiler's symbol map needs besides the units of
/// [`TierEvent::code_addr`]. Empty until the first compile made them.
pub fn shared_code_symbols() -> Vec<(usize, usize, &'static str)> {
    codegen::stub_symbols()
}

/// Compiles `proto` at tier 1 on the calling thread and throws the code
/// away; returns the machine code bytes. For measuring compile cost (the
/// criterion benchmark `tier1_compile`); nothing is published.
/// `use_profile`: emit fast paths only where the function's feedback saw
/// their types, as a hotness-triggered compile does.
pub fn compile_for_measurement(proto: &Proto, use_profile: bool) -> Result<usize, String> {
    measure(proto, |c| c.compile(proto, true, use_profile))
}

/// As [`compile_for_measurement`], at tier 2 with the plan the function's
/// feedback gives now (criterion benchmark `tier2_compile`).
pub fn compile_for_measurement_tier2(proto: &Proto) -> Result<usize, String> {
    let plan = speculate::Plan::build(proto, TieringConfig::default().deopt_limit, &[], None);
    measure(proto, |c| c.compile_optimized(proto, &plan))
}

fn measure(_proto: &Proto, f: impl FnOnce(&mut Compiler) -> Result<CompiledCode, String>) -> Result<usize, String> {
    LOCAL_COMPILER.with(|c| {
        let mut c = c.borrow_mut();
        if c.is_none() {
            *c = Some(Compiler::new()?);
        }
        let code = f(c.as_mut().expect("set above"))?;
        let bytes = code.code_bytes;
        // SAFETY: the entry point was never published; nothing can run it.
        unsafe { code.module.free_memory() };
        Ok(bytes)
    })
}

// ----- the interpreter's side -------------------------------------------------

/// A state's copy of the knobs it reads on hot paths, refreshed per invocation.
pub(crate) struct TierState {
    pub mode: TierMode,
    pub threshold: u64,
    /// Hotness at which tier-1 code is recompiled at tier 2 (auto mode).
    pub threshold2: u64,
    /// Tier every function is compiled at on its first call (0: none).
    pub eager: u8,
    pub call_weight: u64,
    pub record_latency: bool,
    generation: u64,
    /// Epoch at which the running invocation started (u64::MAX: none).
    pub epoch_slot: Arc<AtomicU64>,
}

impl TierState {
    pub(crate) fn new(jit: &Jit) -> TierState {
        let mut t = TierState {
            mode: TierMode::Interpreter,
            threshold: u64::MAX,
            threshold2: u64::MAX,
            eager: 0,
            call_weight: 1,
            record_latency: false,
            generation: 0,
            epoch_slot: jit.register_state(),
        };
        t.refresh(jit);
        t
    }

    pub(crate) fn refresh(&mut self, jit: &Jit) {
        let g = jit.generation();
        if g == self.generation {
            return;
        }
        let c = jit.config();
        self.generation = g;
        self.mode = c.mode;
        self.threshold = match c.mode {
            TierMode::Auto => c.tier1_threshold,
            // Compiled on the first call: a back-edge in the interpreter
            // (after a deopt, or a helper handing the frame back) goes
            // straight back into the compiled code.
            TierMode::Baseline | TierMode::Optimizing => 1,
            TierMode::Interpreter => u64::MAX,
        };
        self.threshold2 = if c.mode == TierMode::Auto { c.tier2_threshold } else { u64::MAX };
        self.eager = match c.mode {
            TierMode::Baseline => 1,
            TierMode::Optimizing => 2,
            _ => 0,
        };
        self.call_weight = c.call_weight;
        self.record_latency = c.latency_target_us > 0;
    }
}

impl State {
    /// The compiled code to enter a frame of `proto` at `pc` with, or null
    /// when it has none; under `--tier 1|2` a first call compiles it here.
    #[inline]
    pub(crate) fn compiled_entry(&mut self, proto: &Proto, arc: &Arc<Proto>, pc: usize) -> *mut u8 {
        let entry = proto.jit.entry.load(Acquire);
        // A call (pc 0) is never refused: no slot scan on the call path.
        if pc != 0 && proto.jit.refuses(pc) {
            return std::ptr::null_mut();
        }
        if self.tier.eager != 0 && pc == 0 && (entry.is_null() || (self.tier.eager == 2 && proto.jit.opt.load(Relaxed) == opt::NONE)) {
            self.compile_eagerly(arc);
            return proto.jit.entry.load(Acquire);
        }
        entry
    }

    /// Runs the frame's compiled code from `pc` if there is any; `None`
    /// means "interpret". In baseline mode a function is compiled on its
    /// first call.
    #[inline(always)]
    pub(crate) fn enter_compiled(
        &mut self,
        proto: &Proto,
        arc: &Arc<Proto>,
        regs: *mut Value,
        consts: &[Value],
        upvals: &[crate::gc::Gc<crate::function::UpVal>],
        pc: usize,
    ) -> Option<u64> {
        let entry = self.compiled_entry(proto, arc, pc);
        if entry.is_null() {
            return None;
        }
        debug_assert_ne!(self.tier.epoch_slot.load(Relaxed), u64::MAX, "compiled code runs inside an invocation");
        self.jit_regs = regs;
        self.jit_stack = self.stack.as_mut_ptr();
        // SAFETY: `entry` was published by `compile_and_publish` from a
        // function of JitFn's signature; its unit cannot be freed before
        // this invocation ends (epochs); regs/consts are this frame's.
        let f: JitFn = unsafe { std::mem::transmute::<*mut u8, JitFn>(entry) };
        Some(unsafe { f(self as *mut State, regs, consts.as_ptr(), pc as u64, upvals.as_ptr()) })
    }

    /// `--tier 1` / `--tier 2`: compile on the first call, on this thread.
    #[cold]
    #[inline(never)]
    fn compile_eagerly(&mut self, arc: &Arc<Proto>) {
        let jit = self.engine.jit();
        let j = &arc.jit;
        if self.tier.eager == 2 && j.opt.compare_exchange(opt::NONE, opt::QUEUED, AcqRel, Relaxed).is_ok() {
            jit.compile_here(arc, CompileTrigger::Eager, 2);
            if !j.entry.load(Acquire).is_null() {
                return;
            }
        }
        // Tier 1: `--tier 1`, or a function tier 2 could not take (not one
        // whose tier-2 recompile is on its way: it is interpreted meanwhile).
        let recompiling = self.tier.eager == 2 && j.opt.load(Relaxed) == opt::QUEUED;
        if j.entry.load(Acquire).is_null() && j.status.load(Relaxed) != slot::FAILED && !recompiling {
            jit.compile_here(arc, CompileTrigger::Eager, 1);
        }
    }

    /// A tier-1 loop used up a tick slice (`runtime::jit_tick`): count it
    /// toward tier 2, and say whether tier-2 code is there to move into.
    pub(crate) fn tier1_loop_slice(&mut self, header: usize) -> bool {
        /// Back-edges a slice stands for (the tick countdown's length).
        const SLICE_HOTNESS: u64 = 4096;
        let Some(f) = self.frames.last_mut() else { return false };
        let crate::function::Function::Lua(cl) = f.closure.get() else { return false };
        let p = cl.inst.get().proto.clone();
        let h = p.jit.hot.load(Relaxed) + SLICE_HOTNESS;
        p.jit.hot.store(h, Relaxed);
        let jit = self.engine.jit();
        if h >= self.tier.threshold2 && p.jit.opt.load(Relaxed) == opt::NONE {
            jit.request_tier2(&p, h, CompileTrigger::Hotness);
        }
        if p.jit.tier.load(Acquire) == 2 && !p.jit.refuses(header) {
            f.pc = header;
            jit.shared.stats.osr.fetch_add(1, Relaxed);
            return true;
        }
        false
    }

    /// Adds a back-edge's hotness; true when the function now has compiled
    /// code to continue in.
    #[inline(always)]
    pub(crate) fn tier_backedge(&mut self, p: &Arc<Proto>, header: usize) -> bool {
        let h = p.jit.hot.load(Relaxed) + 1;
        p.jit.hot.store(h, Relaxed);
        h >= self.tier.threshold && !p.jit.refuses(header) && self.tier_up(p)
    }

    /// Adds a call's hotness (from `push_lua_frame`).
    #[inline(always)]
    pub(crate) fn tier_call(&mut self, p: &Arc<Proto>) {
        let h = p.jit.hot.load(Relaxed) + self.tier.call_weight;
        p.jit.hot.store(h, Relaxed);
        if !p.jit.entry.load(Relaxed).is_null() {
            if p.jit.tier.load(Relaxed) == 2 {
                self.counters.tier2_calls += 1;
            } else {
                self.counters.tier1_calls += 1;
                if h >= self.tier.threshold2 && p.jit.opt.load(Relaxed) == opt::NONE {
                    self.engine.jit().request_tier2(p, h, CompileTrigger::Hotness);
                }
            }
        } else {
            self.counters.tier0_calls += 1;
            if h >= self.tier.threshold && self.tier.eager == 0 {
                self.tier_up(p);
            }
        }
    }

    /// A function crossed the threshold: request it (once). True when its
    /// code is published.
    #[cold]
    #[inline(never)]
    pub(crate) fn tier_up(&mut self, p: &Arc<Proto>) -> bool {
        if !p.jit.entry.load(Acquire).is_null() {
            if p.jit.tier.load(Relaxed) == 2 {
                // A frame the interpreter was running (after a deopt, or
                // since before the code existed) moves in at this loop.
                self.engine.jit().shared.stats.osr.fetch_add(1, Relaxed);
            }
            return true;
        }
        if p.jit.status.compare_exchange(slot::COLD, slot::QUEUED, AcqRel, Relaxed).is_err() {
            if p.jit.status.load(Relaxed) == slot::FAILED {
                p.jit.hot.store(0, Relaxed);
            }
            return false;
        }
        let jit = self.engine.jit();
        if !jit.enqueue(p, p.jit.hot.load(Relaxed), CompileTrigger::Hotness, 1) {
            if jit.config().compile_on_invoking_thread {
                jit.compile_here(p, CompileTrigger::Hotness, 1);
            } else {
                jit.shared.stats.drops.fetch_add(1, Relaxed);
                p.jit.hot.store(0, Relaxed);
                p.jit.status.store(slot::COLD, Release);
            }
        }
        !p.jit.entry.load(Acquire).is_null()
    }

    /// Marks the start of an invocation (see the module doc on epochs).
    pub(crate) fn tier_invocation_start(&mut self) {
        let jit = self.engine.jit();
        self.tier.refresh(jit);
        self.tier.epoch_slot.store(jit.current_epoch(), SeqCst);
    }

    pub(crate) fn tier_invocation_end(&mut self, started: Option<Instant>) {
        self.tier.epoch_slot.store(u64::MAX, SeqCst);
        if let Some(t) = started {
            self.engine.jit().record_latency(t.elapsed().as_micros() as u64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::JitSlot;

    #[test]
    fn refused_resume_points_keep_the_latest_four_until_cleared() {
        let j = JitSlot::default();
        assert!(!j.refuses(0), "no pc is refused by default, the entry least of all");
        for pc in [7, 9, 7, 11, 13] {
            j.refuse(pc);
        }
        assert!([7, 9, 11, 13].iter().all(|&pc| j.refuses(pc)) && !j.refuses(8));
        j.refuse(20);
        assert!(!j.refuses(7) && [9, 11, 13, 20].iter().all(|&pc| j.refuses(pc)), "the oldest made way");
        j.refuse_none();
        assert!([9, 11, 13, 20].iter().all(|&pc| !j.refuses(pc)));
    }
}
