//! `ember-node`: one Ember cluster member. Everything is in
//! [`ember_node::cli`], so `ember-sim` can run the same program.

fn main() {
    ember_node::cli::main_with_args(std::env::args_os());
}
