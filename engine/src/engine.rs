//! The engine: compiled modules shared by every state and thread.
//!
//! An `Engine` is cheap to clone (an `Arc`) and `Send + Sync`. It compiles
//! source into prototypes once; states instantiate them. It never touches
//! files: `require` of a module the engine does not know asks the
//! embedder's [`ModuleLoader`], if one is installed (the `ember` CLI installs
//! one that reads `./NAME.lua`, as lua5.4's default `package.path` does).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::bytecode::Proto;
use crate::error::{Error, Throw};
use crate::key::FunctionKey;
use crate::profile::{CompactProfile, FunctionProfile, SeedError, compact, seed, snapshot};
use crate::state::State;

/// Finds module source the engine does not already hold: given a module
/// name, returns `Some(Ok((source, chunk_name)))`, `Some(Err(message))` if
/// it exists but cannot be read, or `None` if there is no such module.
pub type ModuleLoader = dyn Fn(&str) -> Option<Result<(Vec<u8>, String), String>> + Send + Sync;

/// Engine-wide settings.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct EngineConfig {
    /// Record tier-0 feedback (call counts, type sets, branch counts). On by
    /// default; later tiers and gossip need it.
    pub profiling: bool,
    /// Tiering knobs (mode, policy, thresholds, workers, code cache...).
    pub tiering: crate::jit::TieringConfig,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig { profiling: true, tiering: crate::jit::TieringConfig::default() }
    }
}

/// A compiled module: its main chunk and every nested function.
pub struct Module {
    name: String,
    main: Arc<Proto>,
    functions: Vec<Arc<Proto>>,
}

impl Module {
    /// The module's name (what `require` takes).
    pub fn name(&self) -> &str {
        &self.name
    }
    /// All function prototypes, main chunk first, in definition order.
    pub fn functions(&self) -> &[Arc<Proto>] {
        &self.functions
    }
    /// The module's main chunk.
    pub fn main(&self) -> &Arc<Proto> {
        &self.main
    }
    /// Looks a function up by its key.
    pub fn function(&self, key: FunctionKey) -> Option<&Arc<Proto>> {
        self.functions.iter().find(|p| p.key == key)
    }
}

struct Inner {
    config: RwLock<EngineConfig>,
    modules: RwLock<HashMap<String, Arc<Module>>>,
    loader: RwLock<Option<Arc<ModuleLoader>>>,
    jit: crate::jit::Jit,
}

/// Shared, thread-safe home of compiled modules.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

impl Default for Engine {
    fn default() -> Self {
        Self::new()
    }
}

impl Engine {
    /// An engine with the default configuration.
    pub fn new() -> Engine {
        Self::with_config(EngineConfig::default())
    }

    /// An engine with `config`.
    pub fn with_config(config: EngineConfig) -> Engine {
        let jit = crate::jit::Jit::new(config.tiering.clone(), config.profiling);
        Engine {
            inner: Arc::new(Inner { config: RwLock::new(config), modules: RwLock::new(HashMap::new()), loader: RwLock::new(None), jit }),
        }
    }

    pub(crate) fn jit(&self) -> &crate::jit::Jit {
        &self.inner.jit
    }

    /// The current tiering configuration.
    pub fn tiering(&self) -> crate::jit::TieringConfig {
        self.inner.jit.config()
    }

    /// Changes tiering knobs on the running engine: workers are added or
    /// retired at once, a smaller code cache evicts at once, states pick the
    /// rest up at their next invocation. Rejects an invalid configuration
    /// and keeps the old one.
    pub fn set_tiering(&self, config: crate::jit::TieringConfig) -> Result<(), String> {
        self.inner.jit.set_config(config.clone())?;
        self.inner.config.write().expect("config lock").tiering = config;
        Ok(())
    }

    /// Tiering counters and every function with hotness or compiled code.
    pub fn jit_stats(&self) -> crate::jit::JitStats {
        let protos: Vec<Arc<Proto>> = self.modules().iter().flat_map(|m| m.functions.clone()).collect();
        self.inner.jit.stats(&protos)
    }

    /// Microseconds since the engine started: the clock of tier events'
    /// `at_us`, for putting other events on the same time line.
    pub fn uptime_us(&self) -> u64 {
        self.inner.jit.uptime_us()
    }

    /// Tier events after sequence number `after` (0: all kept, up to 10,000).
    pub fn tier_events(&self, after: u64) -> Vec<crate::jit::TierEvent> {
        self.inner.jit.events_since(after)
    }

    /// A stream of tier events from now on (dropped when the receiver is).
    pub fn subscribe_tier_events(&self) -> std::sync::mpsc::Receiver<crate::jit::TierEvent> {
        self.inner.jit.subscribe()
    }

    /// Frees evicted code no running invocation can reach; returns how many
    /// evicted units are still waiting.
    pub fn reclaim_code(&self) -> usize {
        self.inner.jit.reclaim()
    }

    /// The current configuration.
    pub fn config(&self) -> EngineConfig {
        self.inner.config.read().expect("config lock").clone()
    }

    /// Installs the fallback used by `require` for unknown modules.
    pub fn set_module_loader(&self, loader: Arc<ModuleLoader>) {
        *self.inner.loader.write().expect("loader lock") = Some(loader);
    }

    /// Compiles `source` and registers it as module `name` (replacing any
    /// module of that name for states that have not loaded it yet). The
    /// chunk name in messages is `name`.
    pub fn load_module(&self, name: &str, source: &[u8]) -> Result<Arc<Module>, Error> {
        self.load_module_as(name, source, name)
    }

    /// Like [`Engine::load_module`] with an explicit chunk name for messages
    /// (`x.lua` gives `x.lua:3: ...`).
    pub fn load_module_as(&self, name: &str, source: &[u8], chunk_name: &str) -> Result<Arc<Module>, Error> {
        let main = compile_source(source, chunk_name).map_err(Error::Syntax)?;
        let mut functions = Vec::new();
        collect(&main, &mut functions);
        let m = Arc::new(Module { name: name.to_string(), main, functions });
        self.inner.modules.write().expect("modules lock").insert(name.to_string(), m.clone());
        Ok(m)
    }

    /// The module registered as `name`.
    pub fn module(&self, name: &str) -> Option<Arc<Module>> {
        self.inner.modules.read().expect("modules lock").get(name).cloned()
    }

    /// Every registered module, by name.
    pub fn modules(&self) -> Vec<Arc<Module>> {
        let mut v: Vec<_> = self.inner.modules.read().expect("modules lock").values().cloned().collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }

    /// A new state (globals, heap, stack) for one worker thread.
    pub fn new_state(&self) -> State {
        State::new_raw(self.clone())
    }

    /// Profiles of every function of every module, hottest first.
    pub fn profiles(&self) -> Vec<FunctionProfile> {
        let mut v: Vec<FunctionProfile> = self.modules().iter().flat_map(|m| m.functions.iter().map(|p| snapshot(p))).collect();
        v.sort_by_key(|p| std::cmp::Reverse(p.calls + p.back_edges));
        v
    }

    /// Every loaded prototype with `key` (the same function may be loaded
    /// in several modules).
    fn protos_with_key(&self, key: FunctionKey) -> Vec<Arc<Proto>> {
        let modules = self.inner.modules.read().expect("modules lock");
        modules.values().flat_map(|m| m.functions.iter().filter(|p| p.key == key).cloned()).collect()
    }

    /// The compact profile of one function (what a node gossips), merged
    /// over every module that holds it. `None` if no loaded function has
    /// that key.
    pub fn compact_profile(&self, key: FunctionKey) -> Option<CompactProfile> {
        let protos = self.protos_with_key(key);
        let mut it = protos.iter().map(|p| compact(p));
        let mut first = it.next()?;
        for other in it {
            first.calls += other.calls;
            first.back_edges += other.back_edges;
            first.tier = first.tier.max(other.tier);
        }
        Some(first)
    }

    /// Compact profiles of functions that ran at all, hottest (calls +
    /// back-edges) first, at most `limit`.
    pub fn compact_profiles(&self, limit: usize) -> Vec<CompactProfile> {
        let mut v: Vec<CompactProfile> = self
            .modules()
            .iter()
            .flat_map(|m| m.functions.iter().map(|p| compact(p)).collect::<Vec<_>>())
            .filter(|c| c.calls + c.back_edges > 0)
            .collect();
        v.sort_by_key(|c| std::cmp::Reverse(c.calls + c.back_edges));
        v.truncate(limit);
        v
    }

    /// Merges a profile learned elsewhere into the feedback of every loaded
    /// function with its key (see [`CompactProfile`] for what is merged).
    /// A profile is a hint: whatever it says, results stay the same, since
    /// compiled code guards every assumption. A profile that does not fit
    /// the function (sites out of range or of the wrong kind) is rejected
    /// whole.
    pub fn seed_profile(&self, profile: &CompactProfile) -> Result<(), SeedError> {
        let protos = self.protos_with_key(profile.key);
        if protos.is_empty() {
            return Err(SeedError::UnknownFunction(profile.key));
        }
        for p in &protos {
            seed(p, profile)?;
        }
        Ok(())
    }

    /// Queues every loaded function with `key` for compilation now, ahead of
    /// functions that got hot by themselves, from whatever feedback it has
    /// (seed it first). Never compiles on the calling thread. Errors: no
    /// such function, tiering is off, the queue is full, or the function
    /// could not be compiled before.
    pub fn compile_now(&self, key: FunctionKey) -> Result<crate::jit::CompileRequest, String> {
        let protos = self.protos_with_key(key);
        if protos.is_empty() {
            return Err(format!("no loaded function has key {key}"));
        }
        let mut last = crate::jit::CompileRequest::AlreadyCompiled;
        for p in &protos {
            last = self.jit().request(p)?;
        }
        Ok(last)
    }

    /// Like [`Engine::compile_now`], at tier 2: the compile speculates from
    /// the function's feedback (seed it first with the peers' profile) and
    /// leaves out every speculation its outcomes say failed. `tier` 1 is
    /// `compile_now`.
    pub fn compile_now_at(&self, key: FunctionKey, tier: u8) -> Result<crate::jit::CompileRequest, String> {
        if tier != 2 {
            return if tier == 1 { self.compile_now(key) } else { Err(format!("tier {tier}: expected 1 or 2")) };
        }
        let protos = self.protos_with_key(key);
        if protos.is_empty() {
            return Err(format!("no loaded function has key {key}"));
        }
        let mut last = crate::jit::CompileRequest::AlreadyCompiled;
        for p in &protos {
            last = self.jit().request_tier2_now(p)?;
        }
        Ok(last)
    }

    /// Installs (or removes) the gate every background compile asks first
    /// (see [`crate::jit::CompileGate`]); a node uses it to take leases
    /// from the cluster's compile-budget coordinator.
    pub fn set_compile_gate(&self, gate: Option<Arc<dyn crate::jit::CompileGate>>) {
        self.jit().set_gate(gate);
    }

    /// Where one function stands in the tiers (first module holding it).
    pub fn function_tier(&self, key: FunctionKey) -> Option<crate::jit::FunctionTier> {
        let protos = self.protos_with_key(key);
        let p = protos.first()?;
        Some(self.jit().function_tier(p))
    }

    /// `require` support: the module's main prototype and loader data.
    pub(crate) fn find_module(&self, name: &str) -> Result<Option<(Arc<Proto>, String)>, Throw> {
        if let Some(m) = self.module(name) {
            return Ok(Some((m.main.clone(), ":preload:".into())));
        }
        let loader = self.inner.loader.read().expect("loader lock").clone();
        let Some(loader) = loader else {
            return Ok(None);
        };
        match loader(name) {
            None => Ok(None),
            Some(Err(e)) => Err(Throw::msg(e)),
            Some(Ok((src, chunk))) => match self.load_module_as(name, &src, &chunk) {
                Ok(m) => Ok(Some((m.main.clone(), chunk))),
                Err(e) => Err(Throw::msg(format!("error loading module '{name}' from file '{chunk}':\n\t{e}"))),
            },
        }
    }
}

fn collect(p: &Arc<Proto>, out: &mut Vec<Arc<Proto>>) {
    out.push(p.clone());
    for c in &p.protos {
        collect(c, out);
    }
}

/// Parses and compiles a chunk. Errors are lua5.4-style messages.
pub(crate) fn compile_source(src: &[u8], chunk_name: &str) -> Result<Arc<Proto>, String> {
    let ast = crate::syntax::parser::parse_chunk(src, chunk_name).map_err(|e| e.0)?;
    crate::compiler::compile_chunk(&ast, Arc::from(chunk_name)).map_err(|e| e.0)
}

/// How lua5.4 shows a chunk name in messages (its `luaO_chunkid`, with
/// LUA_IDSIZE 60): `@path` is a file (long paths keep their tail after
/// `...`), `=name` is shown as is (truncated), anything else is source text
/// shown as `[string "first line..."]`.
pub fn chunk_id(source: &str) -> String {
    const IDSIZE: usize = 60;
    let b = source.as_bytes();
    let text = |x: &[u8]| String::from_utf8_lossy(x).into_owned();
    if let Some(rest) = b.strip_prefix(b"=") {
        return if b.len() <= IDSIZE { text(rest) } else { text(&rest[..IDSIZE - 1]) };
    }
    if let Some(rest) = b.strip_prefix(b"@") {
        if b.len() <= IDSIZE {
            return text(rest);
        }
        let keep = IDSIZE - 3 - 1;
        return format!("...{}", text(&rest[rest.len() - keep..]));
    }
    chunk_display_name_for_string(b)
}

/// Display name for a chunk name given to `load` (same rules as
/// [`chunk_id`]).
pub(crate) fn chunk_display_name(name: &str) -> String {
    chunk_id(name)
}

/// `[string "first line..."]`, truncated as luaO_chunkid does.
pub(crate) fn chunk_display_name_for_string(src: &[u8]) -> String {
    const IDSIZE: usize = 60;
    let avail = IDSIZE - "[string \"".len() - "...\"]".len() - 1;
    let newline = src.iter().position(|&c| c == b'\n');
    if src.len() < avail && newline.is_none() {
        return format!("[string \"{}\"]", String::from_utf8_lossy(src));
    }
    let l = newline.unwrap_or(src.len()).min(avail);
    format!("[string \"{}...\"]", String::from_utf8_lossy(&src[..l]))
}
