//! What the simulator needs from a server and its backend.
//!
//! Owns: [`ServerMachine`] (the sans-IO server's driver-facing surface, so the simulator can
//! run `smb_proto::server::Server` or anything with the same contract), [`Backend`] (a pure,
//! synchronous file-system backend such as `smb_proto::server::memfs`, plus a read-only view
//! of file contents for the invariant checks), [`ServerFactory`] (builds a fresh server after
//! a crash; the backend survives) and the [`LatencyModel`] that delays op completions.
//! Must not: perform I/O or keep time of its own.

use std::fmt::Debug;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use smb_proto::io::{Input, TransportKind};
use smb_proto::server::{
    ConnectionHandle, FsOp, OpId, OpReply, OpRequest, ServerConfig, ServerOutput,
};
use smb_proto::wire::status::NtStatus;

use crate::rng::SimRng;

/// The driver-facing surface of a sans-IO SMB server (see `smb_proto::server::Server`).
pub trait ServerMachine: Debug {
    /// A new transport connection from `peer`.
    fn accept(
        &mut self,
        now: Instant,
        transport: TransportKind,
        peer: SocketAddr,
    ) -> ConnectionHandle;
    /// Bytes, time or closure for one connection (`Input::Timeout` applies to all).
    fn handle_input(&mut self, ch: ConnectionHandle, input: Input);
    /// The result of an op emitted earlier.
    fn complete(&mut self, op: OpId, now: Instant, result: Result<OpReply, NtStatus>);
    /// The next output; `ServerOutput::Timeout` when idle.
    fn poll_output(&mut self) -> ServerOutput;
}

/// Builds a fresh server (at start and after every crash) from its configuration.
pub type ServerFactory = Box<dyn FnMut(Arc<ServerConfig>, Instant) -> Box<dyn ServerMachine>>;

/// A synchronous file-system backend that outlives server crashes.
pub trait Backend: Debug {
    /// Performs one op (the simulator calls it when the op's simulated latency has passed).
    fn perform(&mut self, req: OpRequest) -> Result<OpReply, NtStatus>;
    /// The content of a file on a share, for the invariant checks (`None`: no such file).
    fn contents(&self, share: &str, path: &str) -> Option<Vec<u8>>;
}

/// How long the backend takes to complete an op.
#[derive(Debug, Clone, PartialEq)]
pub struct LatencyModel {
    /// Every op takes at least this long.
    pub base: Duration,
    /// Plus up to this much, uniformly.
    pub jitter: Duration,
    /// Probability that an op is slow (long enough for an interim STATUS_PENDING).
    pub slow: f64,
    /// How long a slow op takes.
    pub slow_delay: Duration,
    /// Probability that an op never completes on its own (only a cancel, a crash or the
    /// connection's end finishes it). CLOSE and CREATE are never stuck.
    pub stuck: f64,
}

impl Default for LatencyModel {
    fn default() -> Self {
        Self {
            base: Duration::from_micros(20),
            jitter: Duration::ZERO,
            slow: 0.0,
            slow_delay: Duration::from_secs(1),
            stuck: 0.0,
        }
    }
}

impl LatencyModel {
    /// When an op completes: `Some(delay)` or `None` (stuck).
    pub fn draw(&self, op: &FsOp, rng: &mut SimRng) -> Option<Duration> {
        let stuckable = !matches!(op, FsOp::Close { .. } | FsOp::Create { .. });
        if stuckable && self.stuck > 0.0 && rng.chance(self.stuck) {
            return None;
        }
        let mut d = self.base;
        if !self.jitter.is_zero() {
            d += rng.duration_upto(self.jitter);
        }
        if self.slow > 0.0 && rng.chance(self.slow) {
            d += self.slow_delay;
        }
        Some(d)
    }
}
