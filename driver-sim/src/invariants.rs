//! Invariant violations.
//!
//! Owns: [`Violation`] and [`ViolationKind`], the outcome of every check the simulator and the
//! workloads make: no panic, every request ends within a bound, backend contents match the
//! model of acknowledged writes, no forged or corrupted data accepted, credits stay within
//! bounds, memory stays bounded, workloads finish.
//! Must not: decide policy (the checks live where the facts are; this is their vocabulary).

use std::fmt;

use crate::time::SimTime;

/// Which invariant broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ViolationKind {
    /// A state machine (or the simulator) panicked.
    Panic,
    /// A request did not end (response, error or connection closed) within the bound.
    RequestBound,
    /// The backend's files differ from the model of acknowledged writes.
    Content,
    /// Data that no write produced was accepted (a forged or corrupted message got through).
    ForgedData,
    /// The credit accounting left its bounds.
    Credits,
    /// Buffered bytes, queued events or outstanding requests exceeded their bound.
    Memory,
    /// A workload did not finish within the run's time limit.
    Liveness,
    /// A workload saw an outcome its protocol rules forbid.
    Protocol,
}

/// One broken invariant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// When it was detected.
    pub at: SimTime,
    /// The client it concerns, if any.
    pub node: Option<usize>,
    /// Which invariant.
    pub kind: ViolationKind,
    /// What exactly.
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.node {
            Some(n) => write!(
                f,
                "[{}] client {n}: {:?}: {}",
                self.at, self.kind, self.detail
            ),
            None => write!(f, "[{}] {:?}: {}", self.at, self.kind, self.detail),
        }
    }
}
