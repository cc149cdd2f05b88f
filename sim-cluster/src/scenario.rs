//! Scenario files: what cluster to start, which workload to drive, and the
//! phases — durations of load and the events between them (joins,
//! restarts, `kill -9`, coordinator loss, workload shifts, policy changes).
//!
//! Load never stops between phases: a `ramp` or `steady` phase says which
//! nodes are driven and by how many closed-loop clients each, and lasts its
//! duration; every other phase is an instant event applied while the load
//! of the phase before it keeps running. The demo itself is a scenario
//! (`scenarios/demo.toml`, built in).
//!
//! Everything is checked before any process starts ([`Scenario::parse`]):
//! a bad file gets every problem listed with where it is.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The built-in workload module.
pub const SHOP_LUA: &str = include_str!("../workloads/shop.lua");
/// Names of the built-in workloads.
pub const BUILTINS: [&str; 2] = ["shop", "catalog"];

/// The source of a built-in workload.
pub fn builtin_source(name: &str) -> Option<String> {
    match name {
        "shop" => Some(SHOP_LUA.to_string()),
        "catalog" => Some(crate::catalog::source()),
        _ => None,
    }
}

/// The demo: `ember-sim` with no arguments.
pub const DEMO: &str = include_str!("../scenarios/demo.toml");

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub cluster: ClusterSpec,
    #[serde(default)]
    pub coordinator: CoordinatorSpec,
    /// Lua modules loaded on every node; default: the built-in `shop`.
    #[serde(default = "default_modules")]
    pub modules: Vec<ModuleSpec>,
    /// Named request mixes; the run starts with `initial_mix`.
    pub mix: BTreeMap<String, Vec<MixEntry>>,
    #[serde(default = "default_mix_name")]
    pub initial_mix: String,
    #[serde(rename = "phase")]
    pub phases: Vec<Phase>,
    /// Where the scenario file lives (module paths are relative to it).
    #[serde(skip)]
    pub base_dir: PathBuf,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterSpec {
    /// Nodes started at the beginning, named `n1`, `n2`, ...
    pub nodes: usize,
    /// Tiering policy of every node unless a join says otherwise.
    pub policy: String,
    /// Invocation workers per node.
    pub workers: usize,
    pub gossip_interval_ms: u64,
    /// Start a coordinator (otherwise nodes use local budgets).
    pub coordinator: bool,
    /// Extra tiering knobs for every node (docs/tiering.md).
    pub tiering: BTreeMap<String, String>,
    /// Any other node settings, as in `ember-node --config` (for example
    /// `[cluster.node_config.warm_start] max_eager_compiles = 256`);
    /// the flags the simulator passes (addresses, ids, policy, workers,
    /// `tiering`) win over it.
    pub node_config: toml::Table,
}

impl Default for ClusterSpec {
    fn default() -> Self {
        ClusterSpec {
            nodes: 3,
            policy: "balanced".into(),
            workers: 1,
            gossip_interval_ms: 100,
            coordinator: true,
            tiering: BTreeMap::new(),
            node_config: toml::Table::new(),
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CoordinatorSpec {
    pub max_concurrent: u32,
    pub cpu_ms_per_s: f64,
    pub pioneer: bool,
}

impl Default for CoordinatorSpec {
    fn default() -> Self {
        CoordinatorSpec { max_concurrent: 2, cpu_ms_per_s: 400.0, pioneer: true }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModuleSpec {
    pub name: String,
    /// A built-in workload: `shop` or `catalog`.
    pub builtin: Option<String>,
    /// A Lua file, relative to the scenario file.
    pub file: Option<PathBuf>,
}

fn default_modules() -> Vec<ModuleSpec> {
    vec![ModuleSpec { name: "shop".into(), builtin: Some("shop".into()), file: None }]
}

fn default_mix_name() -> String {
    "default".into()
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MixEntry {
    /// Default: the first module.
    pub module: Option<String>,
    pub function: String,
    #[serde(default = "one")]
    pub weight: u32,
    /// Argument generators: `int:A..B`, `float:A..B`, `ifloat:A..B`
    /// (integer-valued floats), `str:N`, `seq`, or a literal number.
    #[serde(default)]
    pub args: Vec<String>,
}

fn one() -> u32 {
    1
}

#[derive(Clone, Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Phase {
    /// Clients per node grow from 1 to `clients` over the phase.
    Ramp {
        seconds: f64,
        clients: usize,
        #[serde(default)]
        nodes: Option<Vec<String>>,
    },
    /// `clients` per driven node for `seconds` (with `until_warm`, ends
    /// early once throughput has stopped rising).
    Steady {
        seconds: f64,
        #[serde(default = "two")]
        clients: usize,
        #[serde(default)]
        nodes: Option<Vec<String>>,
        #[serde(default)]
        until_warm: bool,
    },
    /// A new node joins (and gets the modules); its warm-up is measured.
    Join {
        node: String,
        #[serde(default = "yes")]
        warm_start: bool,
        #[serde(default)]
        policy: Option<String>,
    },
    /// Graceful restart: SIGTERM (drain, snapshot, leave), then start the
    /// same node id again, a new generation.
    Restart {
        node: String,
    },
    /// Graceful stop (SIGTERM: drain, snapshot, leave); the node stays
    /// down. Its clients stop before the signal, so nothing fails.
    Stop {
        node: String,
    },
    /// `kill -9`; with `restart_after_s`, started again after that long.
    Kill {
        node: String,
        #[serde(default)]
        restart_after_s: Option<f64>,
    },
    CoordinatorDown,
    CoordinatorUp,
    /// Switch the request mix (e.g. to one that flips argument types).
    Shift {
        mix: String,
    },
    /// Change tiering knobs on running nodes (SetPolicy).
    Policy {
        #[serde(default)]
        nodes: Option<Vec<String>>,
        set: BTreeMap<String, String>,
    },
}

fn two() -> usize {
    2
}
fn yes() -> bool {
    true
}

impl Phase {
    pub fn label(&self) -> String {
        match self {
            Phase::Ramp { seconds, clients, .. } => format!("ramp to {clients} clients/node for {seconds} s"),
            Phase::Steady { seconds, clients, until_warm, .. } => {
                format!("steady, {clients} clients/node, {}{seconds} s", if *until_warm { "until warm, at most " } else { "" })
            }
            Phase::Join { node, warm_start, .. } => {
                format!("{node} joins ({})", if *warm_start { "warm start" } else { "cold: warm start off" })
            }
            Phase::Restart { node } => format!("{node} restarts"),
            Phase::Stop { node } => format!("{node} stops"),
            Phase::Kill { node, restart_after_s: Some(s) } => format!("kill -9 {node}, back after {s} s"),
            Phase::Kill { node, .. } => format!("kill -9 {node}"),
            Phase::CoordinatorDown => "coordinator down".into(),
            Phase::CoordinatorUp => "coordinator up".into(),
            Phase::Shift { mix } => format!("workload shifts to '{mix}'"),
            Phase::Policy { set, .. } => {
                format!("policy change: {}", set.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" "))
            }
        }
    }

    /// Seconds of load this phase adds to the run (an upper bound).
    pub fn seconds(&self) -> f64 {
        match self {
            Phase::Ramp { seconds, .. } | Phase::Steady { seconds, .. } => *seconds,
            _ => 0.0,
        }
    }
}

/// One argument generator.
#[derive(Clone, Debug, PartialEq)]
pub enum ArgGen {
    Int(i64, i64),
    Float(f64, f64),
    /// A float with an integer value (`3.0`): a type flip that keeps
    /// integer arithmetic meaningful.
    IntFloat(i64, i64),
    Str(usize),
    Seq,
    LiteralInt(i64),
    LiteralFloat(f64),
}

impl ArgGen {
    pub fn parse(spec: &str) -> Result<ArgGen, String> {
        let range = |body: &str| -> Result<(String, String), String> {
            body.split_once("..")
                .map(|(a, b)| (a.trim().to_string(), b.trim().to_string()))
                .ok_or_else(|| format!("'{spec}': expected a range A..B"))
        };
        let int_range = |body: &str| -> Result<(i64, i64), String> {
            let (a, b) = range(body)?;
            let (a, b) = (a.parse::<i64>().map_err(|e| format!("'{spec}': {e}"))?, b.parse::<i64>().map_err(|e| format!("'{spec}': {e}"))?);
            if a > b {
                return Err(format!("'{spec}': empty range"));
            }
            Ok((a, b))
        };
        if let Some(body) = spec.strip_prefix("ifloat:") {
            let (a, b) = int_range(body)?;
            Ok(ArgGen::IntFloat(a, b))
        } else if let Some(body) = spec.strip_prefix("int:") {
            let (a, b) = int_range(body)?;
            Ok(ArgGen::Int(a, b))
        } else if let Some(body) = spec.strip_prefix("float:") {
            let (a, b) = range(body)?;
            let (a, b) = (a.parse::<f64>().map_err(|e| format!("'{spec}': {e}"))?, b.parse::<f64>().map_err(|e| format!("'{spec}': {e}"))?);
            if !(a <= b && a.is_finite() && b.is_finite()) {
                return Err(format!("'{spec}': empty or infinite range"));
            }
            Ok(ArgGen::Float(a, b))
        } else if let Some(n) = spec.strip_prefix("str:") {
            let n = n.parse::<usize>().map_err(|e| format!("'{spec}': {e}"))?;
            if n > 4096 {
                return Err(format!("'{spec}': strings longer than 4096 bytes are not generated"));
            }
            Ok(ArgGen::Str(n))
        } else if spec == "seq" {
            Ok(ArgGen::Seq)
        } else if let Ok(i) = spec.parse::<i64>() {
            Ok(ArgGen::LiteralInt(i))
        } else if let Ok(f) = spec.parse::<f64>() {
            Ok(ArgGen::LiteralFloat(f))
        } else {
            Err(format!("'{spec}': not an argument generator (int:A..B, float:A..B, ifloat:A..B, str:N, seq, or a number)"))
        }
    }
}

/// Longest run a scenario may ask for, seconds.
const MAX_SECONDS: f64 = 3600.0;

impl Scenario {
    /// `cluster.node_config` as an `ember-node --config` file, checked by
    /// the node's own parser (unknown keys and bad values are errors).
    pub fn node_config_toml(&self) -> Result<String, String> {
        let text = toml::to_string(&self.cluster.node_config).map_err(|e| e.to_string())?;
        let settings = ember_node::settings::NodeSettings::from_toml(&text)?;
        settings.validate()?;
        Ok(text)
    }

    /// Reads and checks a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Scenario::parse(&text, &base).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Parses and checks scenario TOML; `base_dir` resolves module files.
    pub fn parse(text: &str, base_dir: &Path) -> Result<Scenario, String> {
        let mut s: Scenario = toml::from_str(text).map_err(|e| e.to_string())?;
        s.base_dir = base_dir.to_path_buf();
        let problems = s.problems();
        if problems.is_empty() { Ok(s) } else { Err(format!("invalid scenario:\n  - {}", problems.join("\n  - "))) }
    }

    /// Every problem in the scenario, each saying where it is.
    fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if self.name.trim().is_empty() {
            p.push("name is empty".into());
        }
        let policy_ok = |s: &str| s.parse::<ember_engine::Policy>().is_ok();
        if !policy_ok(&self.cluster.policy) {
            p.push(format!("cluster.policy '{}': expected balanced, throughput or latency", self.cluster.policy));
        }
        if self.cluster.nodes == 0 || self.cluster.nodes > 16 {
            p.push(format!("cluster.nodes = {}: between 1 and 16 processes", self.cluster.nodes));
        }
        if self.cluster.workers == 0 || self.cluster.workers > 64 {
            p.push(format!("cluster.workers = {}: between 1 and 64", self.cluster.workers));
        }
        if self.cluster.gossip_interval_ms < 10 {
            p.push("cluster.gossip_interval_ms: at least 10".into());
        }
        let mut probe = ember_engine::TieringConfig::default();
        for (k, v) in &self.cluster.tiering {
            if let Err(e) = probe.set(k, v) {
                p.push(format!("cluster.tiering.{k}: {e}"));
            }
        }
        if let Err(e) = self.node_config_toml() {
            p.push(format!("cluster.node_config: {e}"));
        }
        if self.coordinator.max_concurrent == 0 || self.coordinator.cpu_ms_per_s <= 0.0 {
            p.push("coordinator: max_concurrent and cpu_ms_per_s must be positive".into());
        }
        let mut module_names = BTreeSet::new();
        if self.modules.is_empty() {
            p.push("modules: at least one".into());
        }
        for (i, m) in self.modules.iter().enumerate() {
            let at = format!("modules[{i}] '{}'", m.name);
            if !module_names.insert(m.name.clone()) {
                p.push(format!("{at}: loaded twice"));
            }
            match (&m.builtin, &m.file) {
                (Some(b), None) if builtin_source(b).is_some() => {}
                (Some(b), None) => p.push(format!("{at}: no built-in workload '{b}' (there are: {})", BUILTINS.join(", "))),
                (None, Some(f)) => {
                    if !self.base_dir.join(f).is_file() {
                        p.push(format!("{at}: file {} not found", self.base_dir.join(f).display()));
                    }
                }
                _ => p.push(format!("{at}: give exactly one of builtin or file")),
            }
        }
        if !self.mix.contains_key(&self.initial_mix) {
            p.push(format!("initial_mix '{}': no such [mix.{}]", self.initial_mix, self.initial_mix));
        }
        for (name, entries) in &self.mix {
            if entries.is_empty() || entries.iter().all(|e| e.weight == 0) {
                p.push(format!("mix.{name}: needs an entry with a positive weight"));
            }
            for (i, e) in entries.iter().enumerate() {
                let at = format!("mix.{name}[{i}] ({})", e.function);
                if e.function.trim().is_empty() {
                    p.push(format!("{at}: function is empty"));
                }
                if let Some(m) = &e.module
                    && !module_names.contains(m)
                {
                    p.push(format!("{at}: module '{m}' is not in modules"));
                }
                for a in &e.args {
                    if let Err(err) = ArgGen::parse(a) {
                        p.push(format!("{at}: argument {err}"));
                    }
                }
            }
        }
        // Walk the phases with the set of live nodes, as the run will.
        let mut known: BTreeSet<String> = (1..=self.cluster.nodes).map(|i| format!("n{i}")).collect();
        let mut coordinator_up = self.cluster.coordinator;
        let mut total = 0.0;
        let mut driven = false;
        if self.phases.is_empty() {
            p.push("no [[phase]]".into());
        }
        for (i, ph) in self.phases.iter().enumerate() {
            let at = format!("phase {} ({})", i + 1, kind_name(ph));
            let check_nodes = |nodes: &Option<Vec<String>>, p: &mut Vec<String>| {
                for n in nodes.iter().flatten() {
                    if !known.contains(n) {
                        p.push(format!("{at}: no node '{n}' at this point"));
                    }
                }
            };
            match ph {
                Phase::Ramp { seconds, clients, nodes } | Phase::Steady { seconds, clients, nodes, .. } => {
                    if !(*seconds > 0.0 && seconds.is_finite()) {
                        p.push(format!("{at}: seconds must be positive"));
                    }
                    if *clients == 0 || *clients > 64 {
                        p.push(format!("{at}: clients = {clients}: between 1 and 64 per node"));
                    }
                    check_nodes(nodes, &mut p);
                    total += seconds;
                    driven = true;
                }
                Phase::Join { node, policy, .. } => {
                    if node.is_empty() || !node.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
                        p.push(format!("{at}: node id '{node}': use letters, digits, - and _"));
                    } else if !known.insert(node.clone()) {
                        p.push(format!("{at}: node '{node}' already exists"));
                    }
                    if let Some(pol) = policy
                        && !policy_ok(pol)
                    {
                        p.push(format!("{at}: policy '{pol}': expected balanced, throughput or latency"));
                    }
                }
                Phase::Restart { node } | Phase::Stop { node } => check_nodes(&Some(vec![node.clone()]), &mut p),
                Phase::Kill { node, restart_after_s } => {
                    check_nodes(&Some(vec![node.clone()]), &mut p);
                    if let Some(s) = restart_after_s {
                        if !(*s >= 0.0 && *s <= 600.0) {
                            p.push(format!("{at}: restart_after_s must be within 0..600"));
                        }
                        total += s;
                    }
                }
                Phase::CoordinatorDown | Phase::CoordinatorUp => {
                    let want_up = matches!(ph, Phase::CoordinatorUp);
                    if !self.cluster.coordinator {
                        p.push(format!("{at}: cluster.coordinator is false"));
                    } else if coordinator_up == want_up {
                        p.push(format!("{at}: the coordinator is already {}", if want_up { "up" } else { "down" }));
                    }
                    coordinator_up = want_up;
                }
                Phase::Shift { mix } => {
                    if !self.mix.contains_key(mix) {
                        p.push(format!("{at}: no [mix.{mix}]"));
                    }
                }
                Phase::Policy { nodes, set } => {
                    check_nodes(nodes, &mut p);
                    if set.is_empty() {
                        p.push(format!("{at}: set has no knobs"));
                    }
                    let mut probe = ember_engine::TieringConfig::default();
                    for (k, v) in set {
                        if let Err(e) = probe.set(k, v) {
                            p.push(format!("{at}: {k}: {e}"));
                        }
                    }
                }
            }
        }
        if !driven {
            p.push("no ramp or steady phase: nothing would be measured".into());
        }
        if total > MAX_SECONDS {
            p.push(format!("the phases add up to {total:.0} s; the limit is {MAX_SECONDS:.0} s"));
        }
        p
    }

    /// Every load phase shortened by `factor` (for `--quick`).
    pub fn scaled(mut self, factor: f64) -> Scenario {
        for ph in &mut self.phases {
            match ph {
                Phase::Ramp { seconds, .. } | Phase::Steady { seconds, .. } => *seconds = (*seconds * factor).max(1.0),
                Phase::Kill { restart_after_s: Some(s), .. } => *s *= factor,
                _ => {}
            }
        }
        self
    }

    /// The Lua source of a module.
    pub fn module_source(&self, m: &ModuleSpec) -> anyhow::Result<Vec<u8>> {
        match (&m.builtin, &m.file) {
            (Some(b), _) => builtin_source(b).ok_or_else(|| anyhow::anyhow!("no built-in workload '{b}'")).map(String::into_bytes),
            (None, Some(f)) => {
                let path = self.base_dir.join(f);
                std::fs::read(&path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
            }
            (None, None) => anyhow::bail!("module {} has no source", m.name),
        }
    }
}

fn kind_name(p: &Phase) -> &'static str {
    match p {
        Phase::Ramp { .. } => "ramp",
        Phase::Steady { .. } => "steady",
        Phase::Join { .. } => "join",
        Phase::Restart { .. } => "restart",
        Phase::Stop { .. } => "stop",
        Phase::Kill { .. } => "kill",
        Phase::CoordinatorDown => "coordinator_down",
        Phase::CoordinatorUp => "coordinator_up",
        Phase::Shift { .. } => "shift",
        Phase::Policy { .. } => "policy",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_and_every_shipped_scenario_parse() {
        Scenario::parse(DEMO, Path::new(".")).unwrap();
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
        let mut n = 0;
        for e in std::fs::read_dir(&dir).unwrap() {
            let path = e.unwrap().path();
            Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
            n += 1;
        }
        assert!(n >= 5, "demo plus the four shipped scenarios");
    }

    fn errors_of(toml: &str) -> String {
        Scenario::parse(toml, Path::new(".")).expect_err("should be rejected")
    }

    const MIX: &str = "[[mix.default]]\nfunction = \"price\"\nargs = [\"int:1..10\"]\n";

    #[test]
    fn bad_files_are_rejected_with_every_problem_and_where_it_is() {
        let e = errors_of(&format!(
            "name = \"x\"\n{MIX}\n[[phase]]\nkind = \"restart\"\nnode = \"n9\"\n[[phase]]\nkind = \"shift\"\nmix = \"nope\"\n\
             [[phase]]\nkind = \"steady\"\nseconds = -1\n[[phase]]\nkind = \"join\"\nnode = \"n1\"\n"
        ));
        assert!(e.contains("phase 1 (restart): no node 'n9'"), "{e}");
        assert!(e.contains("phase 2 (shift): no [mix.nope]"), "{e}");
        assert!(e.contains("phase 3 (steady): seconds must be positive"), "{e}");
        assert!(e.contains("phase 4 (join): node 'n1' already exists"), "{e}");
    }

    #[test]
    fn syntax_and_schema_errors_name_the_key() {
        let e = errors_of("name = \"x\"\n[[phase]]\nkind = \"teleport\"\n");
        assert!(e.contains("teleport") || e.contains("unknown variant"), "{e}");
        let e = errors_of(&format!("name = \"x\"\nnodez = 3\n{MIX}"));
        assert!(e.contains("nodez"), "{e}");
        let e = errors_of("name = \"x\" [");
        assert!(!e.is_empty());
    }

    #[test]
    fn argument_generators_and_module_references_are_checked() {
        let e = errors_of(
            "name = \"x\"\n[[mix.default]]\nfunction = \"f\"\nmodule = \"other\"\nargs = [\"int:5..1\", \"banana\"]\n\
             [[phase]]\nkind = \"steady\"\nseconds = 1\n",
        );
        assert!(e.contains("module 'other' is not in modules"), "{e}");
        assert!(e.contains("'int:5..1': empty range"), "{e}");
        assert!(e.contains("'banana': not an argument generator"), "{e}");
        assert_eq!(ArgGen::parse("float:0.5..2"), Ok(ArgGen::Float(0.5, 2.0)));
        assert_eq!(ArgGen::parse("7"), Ok(ArgGen::LiteralInt(7)));
        assert_eq!(ArgGen::parse("ifloat:1..9"), Ok(ArgGen::IntFloat(1, 9)));
    }

    #[test]
    fn node_config_is_checked_by_the_nodes_own_parser() {
        let base = format!("name = \"x\"\n{MIX}\n[[phase]]\nkind = \"steady\"\nseconds = 1\n");
        let ok = format!(
            "{base}[cluster.node_config.warm_start]\nmax_eager_compiles = 300\n[cluster.node_config.gossip.publish]\ntop_k = 300\n"
        );
        let s = Scenario::parse(&ok, Path::new(".")).unwrap();
        let text = s.node_config_toml().unwrap();
        let settings = ember_node::settings::NodeSettings::from_toml(&text).unwrap();
        assert_eq!(settings.warm_start.max_eager_compiles, 300);
        assert_eq!(settings.gossip.publish.top_k, 300);
        let e = errors_of(&format!("{base}[cluster.node_config.warm_start]\nmax_eager = 3\n"));
        assert!(e.contains("cluster.node_config") && e.contains("max_eager"), "{e}");
        let e = errors_of(&format!("{base}[cluster.node_config.warm_start]\nbudget_share = 7.0\n"));
        assert!(e.contains("cluster.node_config") && e.contains("budget_share"), "{e}");
    }

    #[test]
    fn coordinator_events_must_alternate_and_policies_must_exist() {
        let e = errors_of(&format!(
            "name = \"x\"\n{MIX}\n[[phase]]\nkind = \"coordinator_up\"\n[[phase]]\nkind = \"steady\"\nseconds = 1\n\
             [[phase]]\nkind = \"policy\"\nset = {{ tier1_threshold = \"many\" }}\n[[phase]]\nkind = \"join\"\nnode = \"z\"\npolicy = \"fast\"\n"
        ));
        assert!(e.contains("phase 1 (coordinator_up): the coordinator is already up"), "{e}");
        assert!(e.contains("phase 3 (policy): tier1_threshold"), "{e}");
        assert!(e.contains("policy 'fast'"), "{e}");
    }
}
