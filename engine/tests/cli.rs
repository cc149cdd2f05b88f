//! The `ember` command line: flags, limits, exit statuses, hostile files.

use std::path::PathBuf;
use std::process::{Command, Output};

fn ember(args: &[&str], dir: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ember")).args(args).current_dir(dir).output().expect("run ember")
}

fn scratch(name: &str, files: &[(&str, &[u8])]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ember-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (f, content) in files {
        std::fs::write(dir.join(f), content).unwrap();
    }
    dir
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The bytecode count on the `--stats` line that starts with `line_start`.
fn bytecodes_on(stats: &str, line_start: &str) -> u64 {
    let line = stats.lines().find(|l| l.starts_with(line_start)).unwrap_or_else(|| panic!("no {line_start} line"));
    let before = &line[..line.find(" bytecodes").expect("a bytecode count")];
    before.rsplit([' ', '(']).next().unwrap().parse().expect("a number")
}

#[test]
fn tiers_and_tiering_flags() {
    let dir =
        scratch("tiers", &[("x.lua", b"local function sq(x) return x * x end\nlocal s = 0\nfor i = 1, 10 do s = s + sq(i) end\nprint(s)")]);
    for t in ["0", "1", "2", "auto"] {
        let o = ember(&["run", "--tier", t, "x.lua"], &dir);
        assert_eq!(String::from_utf8_lossy(&o.stdout), "385\n", "--tier {t}");
    }
    // --tier 1 --stats: every function that ran is compiled, none rejected.
    let o = ember(&["run", "--tier", "1", "--stats", "x.lua"], &dir);
    let err = stderr(&o);
    assert!(err.contains("jit: 2 compiled at tier 1"), "{err}");
    assert!(err.contains("0 rejected"), "{err}");
    // Compile time and bytecodes are reported per tier, not mixed.
    assert!(bytecodes_on(&err, "jit:") > 0 && bytecodes_on(&err, "tier 2:") == 0, "{err}");
    assert!(!err.contains("not compiled"), "{err}");
    // --tier 2 --stats: both functions at tier 2 from their first call, and
    // the stats say how tier 2 went.
    let o = ember(&["run", "--tier", "2", "--stats", "x.lua"], &dir);
    let err = stderr(&o);
    assert!(err.contains("tier 2: 2 compiled (0 recompiles; "), "{err}");
    assert!(err.contains(", 0 failed, 0 deopts"), "{err}");
    assert!(bytecodes_on(&err, "jit:") == 0 && bytecodes_on(&err, "tier 2:") > 0, "{err}");
    // A first call is counted before its frame compiles (as at tier 1).
    assert!(err.contains("calls by tier: tier0=2 tier1=0 tier2=9"), "{err}");
    // Knobs: bad keys and values are refused with the knob's name.
    let o = ember(&["run", "--tiering", "wrokers=2", "x.lua"], &dir);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("unknown tiering knob 'wrokers'"), "{}", stderr(&o));
    let o = ember(&["run", "--tiering", "workers=many", "x.lua"], &dir);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("workers"), "{}", stderr(&o));
    let o = ember(&["run", "--policy", "latency", "--tiering", "tier1_threshold=1", "--stats", "x.lua"], &dir);
    assert_eq!(String::from_utf8_lossy(&o.stdout), "385\n");
    assert!(stderr(&o).contains("policy Latency"), "{}", stderr(&o));
}

#[test]
fn missing_files_and_errors_exit_with_status_1() {
    let dir = scratch("status", &[("e.lua", b"print('a')\nerror('boom')"), ("x.lua", b"os.exit(3)")]);
    let o = ember(&["run", "nope.lua"], &dir);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).starts_with("ember: cannot open nope.lua"));
    let o = ember(&["run", "e.lua"], &dir);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "a\n");
    assert!(stderr(&o).starts_with("ember: e.lua:2: boom\n"));
    assert_eq!(ember(&["run", "x.lua"], &dir).status.code(), Some(3));
}

#[test]
fn limits_stop_runaway_scripts_with_clear_messages() {
    let dir = scratch(
        "limits",
        &[
            ("loop.lua", b"local ok = pcall(function() while true do end end) print('not reached', ok)"),
            ("grow.lua", b"local t = {} for i = 1, 1e9 do t[i] = {i} end"),
            ("deep.lua", b"local function f(n) return 1 + f(n + 1) end print(f(1))"),
        ],
    );
    let cases: &[(&[&str], &str)] = &[
        (&["run", "--fuel", "1000", "loop.lua"], "ember: fuel exhausted after 1000 steps"),
        (&["run", "--timeout-ms", "100", "loop.lua"], "ember: deadline of 100 ms exceeded"),
        (&["run", "--heap-mb", "8", "grow.lua"], "ember: heap limit 8 MiB exceeded"),
        (&["run", "--max-depth", "50", "deep.lua"], "ember: call depth limit 50 exceeded"),
        (&["run", "deep.lua"], "ember: deep.lua:1: stack overflow"),
    ];
    for (args, want) in cases {
        let o = ember(args, &dir);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        assert!(o.stdout.is_empty(), "{args:?}: pcall must not catch a limit");
        assert_eq!(stderr(&o).lines().next().unwrap_or(""), *want, "{args:?}");
    }
}

#[test]
fn script_arguments_and_stats() {
    let dir = scratch(
        "args",
        &[(
            "a.lua",
            b"local function hot(x) return x + 1 end\nlocal s = 0 for i = 1, 1000 do s = hot(s) end\nprint(arg[0], arg[1], arg[2], select('#', ...), s)",
        )],
    );
    let o = ember(&["run", "--stats", "a.lua", "one", "two"], &dir);
    assert_eq!(String::from_utf8_lossy(&o.stdout), "a.lua\tone\ttwo\t2\t1000\n");
    let err = stderr(&o);
    // The main chunk plus 1000 calls of `hot`; how many ran compiled
    // depends on when the background worker finished.
    let counts = err.lines().find_map(|l| l.strip_prefix("calls by tier: ")).unwrap_or_else(|| panic!("{err}"));
    let n = |k: &str| -> u64 {
        counts.split(' ').find_map(|kv| kv.strip_prefix(k)).and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("{err}"))
    };
    assert_eq!(n("tier0=") + n("tier1="), 1001, "{err}");
    assert!(err.contains("hot"), "{err}");
    let o = ember(&["run", "--tier", "0", "--stats", "a.lua"], &dir);
    assert!(stderr(&o).contains("calls by tier: tier0=1001 tier1=0"), "{}", stderr(&o));
}

#[test]
fn hostile_files_are_errors_not_crashes() {
    let deep = format!("x = {}1{}", "(".repeat(100_000), ")".repeat(100_000));
    let rep = b"print(#string.rep('x', 2^40))";
    let dir = scratch(
        "hostile",
        &[
            ("bin.lua", b"\x7fELF\x02\x01\x01\x00\x00\x00\xff\xfe"),
            ("str.lua", b"print(\"unterminated)"),
            ("com.lua", b"--[==[ never closed"),
            ("deep.lua", deep.as_bytes()),
            ("rep.lua", rep),
        ],
    );
    let cases = [
        ("bin.lua", "ember: bin.lua:1: unexpected symbol near '<\\127>'"),
        ("str.lua", "ember: str.lua:1: unfinished string near <eof>"),
        ("com.lua", "ember: com.lua:1: unfinished long comment (starting at line 1) near <eof>"),
        ("deep.lua", "ember: C stack overflow"),
        ("rep.lua", "ember: rep.lua:1: resulting string too large"),
    ];
    for (f, want) in cases {
        let o = ember(&["run", f], &dir);
        assert_eq!(o.status.code(), Some(1), "{f}");
        assert_eq!(stderr(&o).lines().next().unwrap_or(""), want, "{f}");
    }
}

/// `--perf-map` leaves perf's symbol map for the run's JIT code: one line
/// per compiled unit, "START SIZE NAME" in hex, naming the Lua function,
/// and one per shared call stub.
#[test]
fn perf_map_names_every_compiled_unit() {
    let dir = scratch(
        "perfmap",
        &[("p.lua", b"local function sq(x) return x * x end\nlocal function cube(x) return x * sq(x) end\nprint(cube(3))")],
    );
    let child = Command::new(env!("CARGO_BIN_EXE_ember"))
        .args(["run", "--tier", "1", "--perf-map", "p.lua"])
        .current_dir(&dir)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run ember");
    let map = std::path::Path::new("/tmp").join(format!("perf-{}.map", child.id()));
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "27\n");
    let text = std::fs::read_to_string(&map).unwrap_or_else(|e| panic!("{} not written: {e}", map.display()));
    let _ = std::fs::remove_file(&map);
    let mut names = Vec::new();
    for line in text.lines() {
        let mut parts = line.splitn(3, ' ');
        let (start, size, name) = (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap());
        assert!(u64::from_str_radix(start, 16).unwrap() > 0, "{line}");
        assert!(u64::from_str_radix(size, 16).unwrap() > 0, "{line}");
        names.push(name.to_string());
    }
    names.sort();
    assert_eq!(
        names,
        ["cube (p.lua:2) t1", "ember call stub: frame push", "ember call stub: return", "main chunk (p.lua:0) t1", "sq (p.lua:1) t1"],
        "{text}"
    );
}
