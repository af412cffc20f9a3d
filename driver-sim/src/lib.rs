//! `driver-sim`: a deterministic network simulator for the SMB state machines.
//!
//! This crate will own virtual time, one seeded RNG, an event queue ordered by (time, sequence),
//! link models with faults, server crash/restart, adversarial message faults and replayable
//! traces. It must never read the real clock or the OS entropy pool.
//! It is filled by the simulator issue; until then it exports nothing.
