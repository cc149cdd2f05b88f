//! # ember-coordinator
//!
//! The compile-budget service of an Ember cluster. Nodes ask it for a lease
//! before an optimizing compile and return the lease when done; it keeps
//! cluster-wide compilation within a concurrency limit and a CPU-time rate,
//! shares it fairly between nodes, serves warm-start and very hot compiles
//! first, and picks one *pioneer* node to compile a newly hot function
//! before the others, so speculation failures are learned once.
//!
//! - [`budget`] — every decision, as a pure state machine over explicit time;
//! - [`service`] — the gRPC `Coordinator` service over it, with metrics
//!   and a tracing span per decision;
//! - [`settings`] — the TOML/env/flag configuration of the binary;
//! - [`loadgen`] — `ember-coordinator bench`, a load generator with an
//!   independent observer of concurrently held leases.
//!
//! What it is not: durable. State lives in memory; leases are short, so a
//! restart loses nothing that matters, and nodes fall back to local
//! budgets while it is away.

pub mod budget;
pub mod cli;
pub mod loadgen;
pub mod service;
pub mod settings;
