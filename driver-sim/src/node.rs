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
use smb_proto::server::memfs::MemFs;
use smb_proto::server::{
    ConnectionHandle, FsOp, OpId, OpReply, OpRequest, Server, ServerConfig, ServerOutput,
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
    /// Live connections (for the leak check; `None` if unknown).
    fn connection_count(&self) -> Option<usize> {
        None
    }
}

/// Builds a fresh server (at start and after every crash) from its configuration.
pub type ServerFactory = Box<dyn FnMut(Arc<ServerConfig>, Instant) -> Box<dyn ServerMachine>>;

/// A synchronous file-system backend that outlives server crashes.
pub trait Backend: Debug {
    /// Performs one op (the simulator calls it when the op's simulated latency has passed).
    /// `None`: the op waits (a blocking lock, a change notify) and finishes through
    /// [`Backend::poll_ready`] or [`Backend::cancel`].
    fn perform(&mut self, req: OpRequest) -> Option<Result<OpReply, NtStatus>>;
    /// Cancels a waiting op (`None` if it is not waiting).
    fn cancel(&mut self, op: OpId) -> Option<Result<OpReply, NtStatus>>;
    /// A waiting op that has finished.
    fn poll_ready(&mut self) -> Option<(OpId, Result<OpReply, NtStatus>)>;
    /// The content of a file on a share, for the invariant checks (`None`: no such file).
    fn contents(&self, share: &str, path: &str) -> Option<Vec<u8>>;
    /// Live opens (for the memory bound and the crash check).
    fn open_count(&self) -> usize;
}

impl ServerMachine for Server {
    fn accept(
        &mut self,
        now: Instant,
        transport: TransportKind,
        peer: SocketAddr,
    ) -> ConnectionHandle {
        Server::accept(self, now, transport, peer)
    }

    fn handle_input(&mut self, ch: ConnectionHandle, input: Input) {
        Server::handle_input(self, ch, input)
    }

    fn complete(&mut self, op: OpId, now: Instant, result: Result<OpReply, NtStatus>) {
        Server::complete(self, op, now, result)
    }

    fn poll_output(&mut self) -> ServerOutput {
        Server::poll_output(self)
    }

    fn connection_count(&self) -> Option<usize> {
        Some(Server::connection_count(self))
    }
}

/// The factory of the real `smb_proto::server::Server`.
pub fn smb_server_factory() -> ServerFactory {
    Box::new(|config, now| Box::new(Server::new(config, now)))
}

/// The in-memory backend of `smb-proto`. One `MemFs` serves every share of its server.
impl Backend for MemFs {
    fn perform(&mut self, req: OpRequest) -> Option<Result<OpReply, NtStatus>> {
        self.handle(req)
    }

    fn cancel(&mut self, op: OpId) -> Option<Result<OpReply, NtStatus>> {
        MemFs::cancel(self, op)
    }

    fn poll_ready(&mut self) -> Option<(OpId, Result<OpReply, NtStatus>)> {
        MemFs::poll_ready(self)
    }

    fn contents(&self, _share: &str, path: &str) -> Option<Vec<u8>> {
        self.file(path).map(<[u8]>::to_vec)
    }

    fn open_count(&self) -> usize {
        MemFs::open_count(self)
    }
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
        let stuckable = !matches!(op, FsOp::Close { .. } | FsOp::Create(_));
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
