//! The embedding API end to end: function keys, states on several threads,
//! the collector, per-invocation limits, hostile input, profiles.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ember_engine::{Engine, EngineConfig, Error, FunctionKey, LimitKind, Limits, LuaValue, SiteKind};

fn keys_by_name(engine: &Engine, module: &str) -> Vec<(String, FunctionKey)> {
    engine.module(module).unwrap().functions().iter().map(|p| (p.name().to_string(), p.key())).collect()
}

const SRC_A: &str = "
local function helper(x) return x * 2 end
function double(x) return helper(x) end
function greet(name) return 'hello ' .. name end
";

#[test]
fn same_source_gives_same_keys_in_any_engine() {
    let a = Engine::new();
    let b = Engine::new();
    a.load_module("m", SRC_A.as_bytes()).unwrap();
    b.load_module("m", SRC_A.as_bytes()).unwrap();
    assert_eq!(keys_by_name(&a, "m"), keys_by_name(&b, "m"));
    // Keys are distinct across different functions of the module.
    let keys = keys_by_name(&a, "m");
    let mut uniq: Vec<_> = keys.iter().map(|(_, k)| *k).collect();
    uniq.sort();
    uniq.dedup();
    assert_eq!(uniq.len(), keys.len());
}

#[test]
fn changing_one_function_changes_only_its_key_and_its_parents() {
    let a = Engine::new();
    a.load_module("m", SRC_A.as_bytes()).unwrap();
    // Change greet's body, and add lines above (line numbers are not part of keys).
    let changed = format!("\n\n{}", SRC_A.replace("'hello '", "'hi '"));
    a.load_module("m2", changed.as_bytes()).unwrap();
    let before = keys_by_name(&a, "m");
    let after = keys_by_name(&a, "m2");
    let get = |v: &[(String, FunctionKey)], n: &str| v.iter().find(|(name, _)| name == n).unwrap().1;
    assert_ne!(get(&before, "greet"), get(&after, "greet"));
    assert_eq!(get(&before, "helper"), get(&after, "helper"));
    assert_eq!(get(&before, "double"), get(&after, "double"));
    assert_ne!(get(&before, "main chunk"), get(&after, "main chunk"), "the parent holds the changed child's key");
}

#[test]
fn keys_round_trip_through_text() {
    let e = Engine::new();
    e.load_module("m", SRC_A.as_bytes()).unwrap();
    for (_, k) in keys_by_name(&e, "m") {
        let parsed: FunctionKey = k.to_string().parse().unwrap();
        assert_eq!(parsed, k);
    }
    assert!("xyz".parse::<FunctionKey>().is_err());
}

#[test]
fn call_a_function_with_values_and_get_values_back() {
    let e = Engine::new();
    e.load_module(
        "calc",
        b"
        function stats(t)
          local sum, n = 0, 0
          for _, v in ipairs(t) do sum = sum + v; n = n + 1 end
          return sum, n, sum / n, {min = math.min(table.unpack(t))}
        end",
    )
    .unwrap();
    let mut st = e.new_state();
    st.require("calc").unwrap();
    let t = LuaValue::Table(vec![(LuaValue::Int(1), LuaValue::Int(4)), (LuaValue::Int(2), LuaValue::Int(8))]);
    let r = st.call("stats", &[t]).unwrap();
    assert_eq!(r[0], LuaValue::Int(12));
    assert_eq!(r[1], LuaValue::Int(2));
    assert_eq!(r[2], LuaValue::Float(6.0));
    assert_eq!(r[3], LuaValue::Table(vec![(LuaValue::str("min"), LuaValue::Int(4))]));
    assert!(matches!(st.call("nope", &[]), Err(Error::Api(_))));
}

#[test]
fn a_module_chunk_runs_once_per_state() {
    let e = Engine::new();
    e.load_module("counter", b"loads = (loads or 0) + 1; return {id = loads}").unwrap();
    let mut s1 = e.new_state();
    let mut s2 = e.new_state();
    s1.require("counter").unwrap();
    s1.require("counter").unwrap();
    s2.require("counter").unwrap();
    assert_eq!(s1.get_global("loads"), LuaValue::Int(1));
    assert_eq!(s2.get_global("loads"), LuaValue::Int(1));
}

#[test]
fn many_threads_invoke_one_module_at_once() {
    let e = Engine::new();
    e.load_module(
        "work",
        b"
        function fib(n) if n < 2 then return n end return fib(n - 1) + fib(n - 2) end
        function label(i) return string.format('job-%03d', i) end",
    )
    .unwrap();
    let results = Arc::new(Mutex::new(Vec::new()));
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let e = e.clone();
            let results = results.clone();
            std::thread::spawn(move || {
                let mut st = e.new_state();
                st.require("work").unwrap();
                for i in 0..50 {
                    let f = st.call("fib", &[LuaValue::Int(15)]).unwrap();
                    let l = st.call("label", &[LuaValue::Int(t * 100 + i)]).unwrap();
                    results.lock().unwrap().push((f[0].clone(), l[0].clone()));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let r = results.lock().unwrap();
    assert_eq!(r.len(), 200);
    assert!(r.iter().all(|(f, _)| *f == LuaValue::Int(610)));
    assert!(r.iter().any(|(_, l)| *l == LuaValue::str("job-349")));
    // Profiles are shared: every thread's calls of fib land in one counter
    // (relaxed updates may lose a few under contention, never most).
    let fib = e.profiles().into_iter().find(|p| p.name == "fib").unwrap();
    let expected = 200 * 1973; // fib(15) makes 1973 calls
    assert!(fib.calls > expected / 2 && fib.calls <= expected, "fib calls {}", fib.calls);
}

#[test]
fn gc_keeps_ten_million_short_lived_objects_under_a_64_mib_limit() {
    let e = Engine::new();
    e.load_module(
        "churn",
        b"
        function churn(n)
          local keep = 0
          for i = 1, n do
            local t = {i, i + 1, name = 'x'}
            local s = 'k' .. i
            keep = keep + #t + #s
          end
          return keep
        end",
    )
    .unwrap();
    let mut st = e.new_state();
    st.require("churn").unwrap();
    st.set_limits(Limits { heap_bytes: Some(64 << 20), ..Limits::default() });
    // 5M iterations, each a table and a string: 10M objects.
    let r = st.call("churn", &[LuaValue::Int(5_000_000)]).unwrap();
    assert!(matches!(r[0], LuaValue::Int(n) if n > 0));
    assert!(st.stats().gc_collections > 0, "the collector ran");
    assert!(st.stats().heap_bytes < 64 << 20);
}

#[test]
fn memory_stays_flat_over_a_million_invocations() {
    let e = Engine::new();
    e.load_module("h", b"function handle(i) local t = {id = i, tag = 'req' .. i} return #t.tag end").unwrap();
    let mut st = e.new_state();
    st.require("h").unwrap();
    let mut after_warmup = 0;
    for i in 0..1_000_000i64 {
        st.call("handle", &[LuaValue::Int(i)]).unwrap();
        if i == 50_000 {
            st.full_gc();
            after_warmup = st.stats().heap_bytes;
        }
    }
    st.full_gc();
    let end = st.stats().heap_bytes;
    assert!(end <= after_warmup + after_warmup / 4, "heap grew from {after_warmup} to {end} bytes");
}

fn limited(src: &str, limits: Limits) -> (ember_engine::State, Result<Vec<LuaValue>, Error>) {
    let e = Engine::new();
    e.load_module("m", src.as_bytes()).unwrap();
    let mut st = e.new_state();
    st.require("m").unwrap();
    st.set_limits(limits);
    let r = st.call("run", &[]);
    (st, r)
}

const AFTER: &str = "function after() return 'still works' end\n";

#[test]
fn fuel_stops_an_infinite_loop_that_pcall_cannot_catch() {
    let src = format!("{AFTER} function run() return pcall(function() while true do end end) end");
    let (mut st, r) = limited(&src, Limits { fuel: Some(100_000), ..Limits::default() });
    match r {
        Err(Error::Limit { kind: LimitKind::Fuel, message }) => assert_eq!(message, "fuel exhausted after 100000 steps"),
        other => panic!("expected a fuel error, got {other:?}"),
    }
    assert_eq!(st.call("after", &[]).unwrap(), vec![LuaValue::str("still works")]);
}

#[test]
fn a_deadline_stops_a_long_run() {
    let src = format!("{AFTER} function run() local x = 0 while true do x = x + 1 end end");
    let (mut st, r) = limited(&src, Limits { deadline: Some(Duration::from_millis(50)), ..Limits::default() });
    match r {
        Err(Error::Limit { kind: LimitKind::Deadline, message }) => assert_eq!(message, "deadline of 50 ms exceeded"),
        other => panic!("expected a deadline error, got {other:?}"),
    }
    assert_eq!(st.call("after", &[]).unwrap(), vec![LuaValue::str("still works")]);
}

#[test]
fn the_heap_limit_stops_unbounded_growth() {
    let src =
        format!("{AFTER} function run() local t = {{}} local ok = pcall(function() for i = 1, 1e9 do t[i] = {{i}} end end) return ok end");
    let (mut st, r) = limited(&src, Limits { heap_bytes: Some(8 << 20), ..Limits::default() });
    match r {
        Err(Error::Limit { kind: LimitKind::Heap, message }) => assert_eq!(message, "heap limit 8 MiB exceeded"),
        other => panic!("expected a heap error, got {other:?}"),
    }
    assert_eq!(st.call("after", &[]).unwrap(), vec![LuaValue::str("still works")]);
}

#[test]
fn the_depth_limit_stops_deep_recursion() {
    let src = format!("{AFTER} function run() local function f(n) return 1 + f(n + 1) end return pcall(f, 1) end");
    let (mut st, r) = limited(&src, Limits { max_depth: Some(200), ..Limits::default() });
    match r {
        Err(Error::Limit { kind: LimitKind::Depth, message }) => assert_eq!(message, "call depth limit 200 exceeded"),
        other => panic!("expected a depth error, got {other:?}"),
    }
    assert_eq!(st.call("after", &[]).unwrap(), vec![LuaValue::str("still works")]);
}

#[test]
fn runaway_recursion_is_a_catchable_stack_overflow() {
    let src = "function run() local function f() return 1 + f() end local ok, e = pcall(f) return ok, e end";
    let (_st, r) = limited(src, Limits::default());
    let r = r.unwrap();
    assert_eq!(r[0], LuaValue::Bool(false));
    assert!(r[1].as_str().unwrap().ends_with("stack overflow"), "{:?}", r[1]);
}

#[test]
fn huge_string_rep_is_an_error_not_a_crash() {
    let (_st, r) = limited("function run() return string.rep('x', 1e10) end", Limits::default());
    assert!(matches!(&r, Err(Error::Runtime { message, .. }) if message.ends_with("resulting string too large")), "{r:?}");
    let (_st, r) = limited("function run() return string.rep('abc', 1e7) end", Limits { heap_bytes: Some(1 << 20), ..Limits::default() });
    assert!(matches!(&r, Err(Error::Limit { kind: LimitKind::Heap, .. })), "{r:?}");
}

#[test]
fn errors_of_any_type_reach_the_embedder() {
    let e = Engine::new();
    e.load_module(
        "m",
        b"function s() error('boom') end
          function t() error({code = 7}) end
          function n() error(42) end
          function o() error(setmetatable({}, {__tostring = function() return 'custom' end})) end",
    )
    .unwrap();
    let mut st = e.new_state();
    st.require("m").unwrap();
    let msg = |st: &mut ember_engine::State, f: &str| match st.call(f, &[]) {
        Err(Error::Runtime { message, .. }) => message,
        other => panic!("{other:?}"),
    };
    assert_eq!(msg(&mut st, "s"), "m:1: boom");
    assert_eq!(msg(&mut st, "t"), "(error object is a table value)");
    assert_eq!(msg(&mut st, "n"), "42");
    assert_eq!(msg(&mut st, "o"), "custom");
}

#[test]
fn hostile_sources_give_clear_errors() {
    let e = Engine::new();
    let err = |src: &[u8]| match e.load_module("bad", src) {
        Err(Error::Syntax(m)) => m,
        other => panic!("expected a syntax error, got {:?}", other.map(|_| ())),
    };
    assert_eq!(err(b"\x00\x01\xff"), "bad:1: unexpected symbol near '<\\0>'");
    assert_eq!(err(b"x = \xff\xfe"), "bad:1: unexpected symbol near '<\\255>'");
    assert_eq!(err(b"local s = \"abc"), "bad:1: unfinished string near <eof>");
    assert_eq!(err(b"x = 1\n--[[ never closed"), "bad:2: unfinished long comment (starting at line 2) near <eof>");
    let deep = format!("x = {}1{}", "(".repeat(100_000), ")".repeat(100_000));
    assert_eq!(err(deep.as_bytes()), "C stack overflow");
    let deep_blocks = "do ".repeat(100_000);
    assert_eq!(err(deep_blocks.as_bytes()), "C stack overflow");
}

#[test]
fn ten_megabyte_sources_compile_or_fail_cleanly() {
    let e = Engine::new();
    // 10 MB of statements in one chunk.
    let mut src = String::from("local n = 0\n");
    while src.len() < 10 << 20 {
        src.push_str("n = n + 1 -- padding padding padding padding padding\n");
    }
    src.push_str("return n\n");
    e.load_module("big", src.as_bytes()).unwrap();
    let mut st = e.new_state();
    let r = st.require("big").unwrap();
    assert!(matches!(r, LuaValue::Int(n) if n > 150_000));
    // One 10 MB expression: a long left-associative sum.
    let mut expr = String::from("return 0");
    while expr.len() < 10 << 20 {
        expr.push_str("+1");
    }
    e.load_module("bigexpr", expr.as_bytes()).unwrap();
    let r = e.new_state().require("bigexpr").unwrap();
    assert!(matches!(r, LuaValue::Int(n) if n > 5_000_000));
}

#[test]
fn profiles_record_calls_loops_types_branches_and_targets() {
    let e = Engine::new();
    e.load_module(
        "p",
        b"
        local function sq(x) return x * x end
        function work(n)
          local acc = 0
          for i = 1, n do
            if i % 2 == 0 then acc = acc + sq(i) else acc = acc + 0.5 end
          end
          return acc
        end",
    )
    .unwrap();
    let mut st = e.new_state();
    st.require("p").unwrap();
    st.call("work", &[LuaValue::Int(1000)]).unwrap();
    let profiles = e.profiles();
    let work = profiles.iter().find(|p| p.name == "work").unwrap();
    let sq = profiles.iter().find(|p| p.name == "sq").unwrap();
    assert_eq!(work.calls, 1);
    assert_eq!(sq.calls, 500);
    assert_eq!(work.back_edges, 999, "the loop's back-edge count");
    // `acc + ...` sees int+int and float (acc becomes a float).
    let adds: Vec<_> = work.sites.iter().filter(|s| s.kind == SiteKind::Arith).collect();
    assert!(adds.iter().any(|s| s.bits & 0x22 != 0), "a float operand was recorded");
    // The call site of sq is monomorphic and names sq's key.
    let call = work.sites.iter().find(|s| s.kind == SiteKind::Call).unwrap();
    assert_eq!(call.target, sq.key.0 as u64);
    // The `if` compiled to a compare-and-jump; its outcome split is recorded
    // as a compare site's type bits (int % int == int).
    assert!(work.sites.iter().any(|s| s.kind == SiteKind::Compare && s.bits == 0x11));
}

#[test]
fn profiling_off_records_nothing() {
    let e = Engine::with_config(EngineConfig { profiling: false, ..EngineConfig::default() });
    e.load_module("p", b"function f(n) local s = 0 for i = 1, n do s = s + i end return s end").unwrap();
    let mut st = e.new_state();
    st.require("p").unwrap();
    assert_eq!(st.call("f", &[LuaValue::Int(100)]).unwrap(), vec![LuaValue::Int(5050)]);
    let f = e.profiles().into_iter().find(|p| p.name == "f").unwrap();
    assert_eq!(f.calls, 0);
    assert!(f.sites.is_empty());
}

#[test]
fn output_goes_to_the_embedders_sink() {
    let e = Engine::new();
    e.load_module("p", b"function hi() print('hi', 1, 2.5) io.write('x', 3, '\\n') end").unwrap();
    let mut st = e.new_state();
    let sink = ember_engine::OutputCapture::new();
    st.set_output(Box::new(sink.clone()));
    st.require("p").unwrap();
    st.call("hi", &[]).unwrap();
    assert_eq!(String::from_utf8(sink.take()).unwrap(), "hi\t1\t2.5\nx3\n");
    assert!(sink.contents().is_empty(), "take() empties the buffer");
}

#[test]
fn an_escaping_error_value_survives_the_cleanup_collection() {
    // The error table is the only reference to a large fresh allocation;
    // the end-of-invocation cleanup may collect, and must not free it
    // before the message is taken.
    let e = Engine::new();
    e.load_module(
        "m",
        b"function boom()
            local junk = {}
            for i = 1, 200000 do junk[i] = {i} end
            error(setmetatable({}, {__tostring = function() return 'table error ' .. #junk end}))
          end",
    )
    .unwrap();
    let mut st = e.new_state();
    st.require("m").unwrap();
    st.set_limits(Limits { heap_bytes: Some(256 << 20), ..Limits::default() });
    for _ in 0..3 {
        match st.call("boom", &[]) {
            Err(Error::Runtime { message, .. }) => assert_eq!(message, "table error 200000"),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn a_call_metamethod_cycle_is_an_error_not_a_hang() {
    let (_st, r) = limited("function run() local t = {} setmetatable(t, {__call = t}) return pcall(t) end", Limits::default());
    let r = r.unwrap();
    assert_eq!(r[0], LuaValue::Bool(false));
    assert_eq!(r[1], LuaValue::str("'__call' chain too long; possible loop"));
}

#[test]
fn limits_stop_long_loops_inside_library_functions() {
    // table.move over ~2^63 slots: the loop is inside a native.
    let src = format!("{AFTER} function run() table.move({{}}, 1, math.maxinteger - 1, 2) end");
    let (mut st, r) = limited(&src, Limits { deadline: Some(Duration::from_millis(100)), ..Limits::default() });
    assert!(matches!(r, Err(Error::Limit { kind: LimitKind::Deadline, .. })), "{r:?}");
    assert_eq!(st.call("after", &[]).unwrap(), vec![LuaValue::str("still works")]);
}

#[test]
fn a_tail_call_that_overflows_the_stack_is_still_caught_by_pcall() {
    // `g` needs 180 registers on top of up to ~1M arguments: somewhere in
    // this range the tail call from `h` no longer fits, and that failure
    // must unwind through `h`'s frame into pcall (directly or via a
    // native pcall), never past it.
    let g = "local function g(...) local l0, l1, l2, l3, l4, l5, l6, l7, l8, l9, l10, l11, l12, l13, l14, l15, l16, l17, l18, l19, l20, l21, l22, l23, l24, l25, l26, l27, l28, l29, l30, l31, l32, l33, l34, l35, l36, l37, l38, l39, l40, l41, l42, l43, l44, l45, l46, l47, l48, l49, l50, l51, l52, l53, l54, l55, l56, l57, l58, l59, l60, l61, l62, l63, l64, l65, l66, l67, l68, l69, l70, l71, l72, l73, l74, l75, l76, l77, l78, l79, l80, l81, l82, l83, l84, l85, l86, l87, l88, l89, l90, l91, l92, l93, l94, l95, l96, l97, l98, l99, l100, l101, l102, l103, l104, l105, l106, l107, l108, l109, l110, l111, l112, l113, l114, l115, l116, l117, l118, l119, l120, l121, l122, l123, l124, l125, l126, l127, l128, l129, l130, l131, l132, l133, l134, l135, l136, l137, l138, l139, l140, l141, l142, l143, l144, l145, l146, l147, l148, l149, l150, l151, l152, l153, l154, l155, l156, l157, l158, l159, l160, l161, l162, l163, l164, l165, l166, l167, l168, l169, l170, l171, l172, l173, l174, l175, l176, l177, l178, l179 = 1 return 0 end";
    let src = format!(
        "{g}
        local t = {{}} for i = 1, 1000000 do t[i] = i end
        local function h(n) return g(table.unpack(t, 1, n)) end
        function run()
          local caught = 0
          for n = 999700, 999999, 7 do
            local ok, err = pcall(h, n)
            if not ok then assert(err:find('stack overflow') or err:find('too many results'), err) caught = caught + 1 end
            local ok1, ok2 = pcall(pcall, h, n)
            assert(ok1)
          end
          return caught
        end"
    );
    let (_st, r) = limited(&src, Limits::default());
    assert!(matches!(r.unwrap()[0], LuaValue::Int(n) if n > 0), "some tail calls overflowed");
}

#[test]
fn converting_a_self_referencing_table_to_host_values_is_bounded() {
    let e = Engine::new();
    e.load_module("m", b"function cyc() local t = {} t[1] = t t[2] = t return t end").unwrap();
    let mut st = e.new_state();
    st.require("m").unwrap();
    let r = st.call("cyc", &[]).unwrap();
    assert!(matches!(&r[0], LuaValue::Table(p) if p.len() == 2));
}

#[test]
fn call_in_module_finds_exported_and_global_functions() {
    let engine = Engine::new();
    engine
        .load_module("lib", b"local M = {} function M.twice(x) return 2 * x end M.sub = {f = function() return 'deep' end} return M")
        .unwrap();
    engine.load_module("glob", b"counter = 0 function bump() counter = counter + 1 return counter end").unwrap();
    let mut s = engine.new_state();
    assert_eq!(s.call_in_module("lib", "twice", &[LuaValue::Int(21)]).unwrap(), vec![LuaValue::Int(42)]);
    assert_eq!(s.call_in_module("lib", "sub.f", &[]).unwrap(), vec![LuaValue::str("deep")]);
    // The main chunk runs once per state.
    assert_eq!(s.call_in_module("glob", "bump", &[]).unwrap(), vec![LuaValue::Int(1)]);
    assert_eq!(s.call_in_module("glob", "bump", &[]).unwrap(), vec![LuaValue::Int(2)]);
    let e = s.call_in_module("nope", "f", &[]).unwrap_err().to_string();
    assert!(e.contains("no module named 'nope'"), "{e}");
    let e = s.call_in_module("lib", "missing", &[]).unwrap_err().to_string();
    assert!(e.contains("module 'lib' has no function 'missing'"), "{e}");
}
