//! What crosses the boundary between a driver and a state machine, for both roles.
//!
//! Owns: [`Input`] (bytes, time and closure fed to a connection), [`TransportKind`], and the
//! [`Clock`] that turns the driver's `Instant`s into wire FILETIMEs from a configured anchor.
//! Must not: perform I/O or read a clock.

use std::time::{Duration, Instant};

use bytes::Bytes;

/// The transport a connection runs over. SMB over QUIC (MS-SMB2 2.1) carries the same framing
/// as Direct TCP but restricts the dialect to 3.1.1 and may skip SMB encryption.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransportKind {
    /// Direct TCP (port 445 or any).
    Tcp,
    /// One bidirectional QUIC stream (UDP 443 or any).
    Quic,
}

/// An input to a connection. Every input carries the current time.
#[derive(Debug, Clone)]
pub enum Input {
    /// Bytes received from the transport, in any chunking.
    Receive {
        /// The current time.
        now: Instant,
        /// The received bytes.
        data: Bytes,
    },
    /// The deadline last returned by `poll_output` has passed (or the driver woke early).
    Timeout(Instant),
    /// The transport was closed by the peer or failed.
    Closed {
        /// The current time.
        now: Instant,
    },
}

/// Wall-clock anchor: the FILETIME (100 ns ticks since 1601-01-01 UTC) that corresponds to a
/// given `Instant`. Drivers build it from the system clock once; the simulator from its seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    /// The instant of the anchor.
    pub instant: Instant,
    /// The FILETIME at that instant.
    pub filetime: u64,
}

impl Clock {
    /// The FILETIME at `now` (saturating before the anchor).
    pub fn filetime(&self, now: Instant) -> u64 {
        let ticks = now
            .checked_duration_since(self.instant)
            .unwrap_or(Duration::ZERO)
            .as_nanos()
            / 100;
        self.filetime
            .saturating_add(u64::try_from(ticks).unwrap_or(u64::MAX))
    }
}
