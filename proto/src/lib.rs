//! # ember-proto
//!
//! Ember's wire formats: the `.proto` files under `proto/proto/` and the
//! Rust code prost generates from them, plus the few rules that belong to
//! a format itself — how counts are log-scaled, and which messages are
//! well formed ([`profile::check`]).
//!
//! What it is not: it knows nothing of the engine's types. Mapping a
//! profile onto a loaded function (and rejecting sites out of range for
//! it) is the node's job; this crate only guarantees the message is sane
//! before anyone looks inside.

/// `ember.profile.v1`: the compact per-function profile nodes gossip.
pub mod profile {
    include!(concat!(env!("OUT_DIR"), "/ember.profile.v1.rs"));

    mod check;
    pub use check::{Limits, Reject, check, log_count, unlog_count};
}

/// `ember.node.v1`: the gRPC API of one node (`NodeService`).
pub mod node {
    include!(concat!(env!("OUT_DIR"), "/ember.node.v1.rs"));
}

/// `ember.coordinator.v1`: the compile-budget service.
pub mod coordinator {
    include!(concat!(env!("OUT_DIR"), "/ember.coordinator.v1.rs"));
}

/// The encoded `FileDescriptorSet` of every Ember .proto file (for gRPC
/// reflection).
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/ember_descriptor.bin"));
