//! `ember-node`: one Ember cluster member. Everything is in
//! [`ember_node::cli`], so `ember-sim` can run the same program.

// The engine allocates every Lua object, and gRPC every request's buffers,
// on several threads at once: mimalloc's thread-local heaps keep them off
// glibc's arena locks (the `ember` CLI and the coordinator use it too).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    ember_node::cli::main_with_args(std::env::args_os());
}
