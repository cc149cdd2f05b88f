//! `ember-coordinator`: the compile-budget service and its load generator.
//! Everything is in [`ember_coordinator::cli`], so `ember-sim` can run the
//! same program.

fn main() {
    ember_coordinator::cli::main_with_args(std::env::args_os());
}
