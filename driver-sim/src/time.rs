//! Virtual time.
//!
//! Owns: [`SimTime`] (nanoseconds since the start of a run) and [`VirtualClock`], which turns it
//! into the `Instant`s the state machines take. Must not: read the real clock except once, in
//! [`VirtualClock::new`], to obtain an opaque anchor whose value never influences behaviour
//! (every trace and hash records offsets from it, never the anchor itself).

use std::fmt;
use std::time::{Duration, Instant};

/// A point in virtual time: nanoseconds since the run began.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SimTime(pub u64);

impl SimTime {
    /// The start of the run.
    pub const ZERO: SimTime = SimTime(0);

    /// This time plus `d` (saturating).
    pub fn plus(self, d: Duration) -> SimTime {
        SimTime(self.0.saturating_add(duration_nanos(d)))
    }

    /// The time elapsed since `earlier` (zero if `earlier` is later).
    pub fn since(self, earlier: SimTime) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }

    /// As a duration since the start.
    pub fn as_duration(self) -> Duration {
        Duration::from_nanos(self.0)
    }
}

impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{:09}s",
            self.0 / 1_000_000_000,
            self.0 % 1_000_000_000
        )
    }
}

/// A duration in nanoseconds, saturating at `u64::MAX` (584 years).
pub fn duration_nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Maps virtual time onto `Instant`s.
#[derive(Debug, Clone, Copy)]
pub struct VirtualClock {
    base: Instant,
}

impl VirtualClock {
    /// A clock anchored at an arbitrary real instant. Only differences from the anchor are
    /// ever observed, so runs stay deterministic.
    pub fn new() -> Self {
        Self {
            base: Instant::now(),
        }
    }

    /// A clock anchored at `base` (to replay a trace recorded against that anchor).
    pub fn at(base: Instant) -> Self {
        Self { base }
    }

    /// The anchor (virtual time zero).
    pub fn base(&self) -> Instant {
        self.base
    }

    /// The `Instant` of a virtual time.
    pub fn instant(&self, t: SimTime) -> Instant {
        self.base + t.as_duration()
    }

    /// The virtual time of an `Instant` (instants before the anchor map to zero).
    pub fn sim_time(&self, i: Instant) -> SimTime {
        SimTime(duration_nanos(
            i.checked_duration_since(self.base)
                .unwrap_or(Duration::ZERO),
        ))
    }
}

impl Default for VirtualClock {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_round_trip() {
        let c = VirtualClock::new();
        let t = SimTime(1_234_567_890);
        assert_eq!(c.sim_time(c.instant(t)), t);
        assert_eq!(
            t.plus(Duration::from_secs(1)).since(t),
            Duration::from_secs(1)
        );
        assert_eq!(SimTime::ZERO.since(t), Duration::ZERO);
        assert_eq!(t.to_string(), "1.234567890s");
    }
}
