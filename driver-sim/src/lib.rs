//! `driver-sim`: a deterministic network simulator for the SMB state machines.
//!
//! Owns: virtual time ([`time`]), one seeded RNG ([`rng`]), an event queue ordered by (time,
//! sequence) ([`queue`]), stream links with latency, jitter, bandwidth, re-chunking, stalls,
//! partitions and resets ([`link`]), message-level adversarial faults ([`adversary`]), server
//! crash and restart with a surviving backend and a backend latency model ([`node`], [`sim`]),
//! client workloads ([`workload`], with the scenarios' own in [`workloads`]) issuing
//! [`command`]s, the model of acknowledged writes ([`model`]), the invariants
//! ([`invariants`]), a hashed trace ([`trace`]) that replays into a single client
//! ([`replay`]), and named scenarios ([`scenarios`]: what the `smb sim` CLI and the conformance
//! tests run).
//! Must not: sleep, read the real clock (only an opaque anchor, never observed) or the OS
//! entropy pool, or iterate a hash map: the same seed must give the same trace hash.
//!
//! A run: build a [`sim::Sim`] with a seed and a [`sim::SimConfig`], add servers and clients
//! (each client with a [`workload::Workload`]), schedule [`sim::FaultAction`]s, call
//! [`sim::Sim::run`], then read [`sim::Sim::violations`] and [`sim::Sim::trace_hash`].

pub mod adversary;
pub mod command;
pub mod invariants;
pub mod link;
pub mod model;
pub mod node;
pub mod queue;
pub mod replay;
pub mod rng;
pub mod scenarios;
pub mod sim;
pub mod time;
pub mod trace;
pub mod workload;
pub mod workloads;

pub use sim::{ClientSpec, FaultAction, ServerSpec, Sim, SimConfig};
