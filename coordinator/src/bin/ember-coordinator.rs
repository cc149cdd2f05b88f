//! `ember-coordinator`: the compile-budget service and its load generator.
//! Everything is in [`ember_coordinator::cli`], so `ember-sim` can run the
//! same program.

// Every decision allocates a handful of small buffers on several threads at
// once; glibc's arenas serialize them on a lock (perf: futex waits in
// malloc), mimalloc's thread-local heaps do not.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    ember_coordinator::cli::main_with_args(std::env::args_os());
}
