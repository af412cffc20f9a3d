//! The async backend boundary: what answers the file-system ops the sans-IO server emits.
//!
//! Owns: the [`Backend`] trait that the smol (and later the quinn) server loop calls for every
//! [`OpRequest`], the [`Cancel`] token that tells a waiting op its request was cancelled, and
//! the [`Shares`] table that maps a share name to its backend. Implementations live in
//! submodules: [`local`] (a directory on disk, confined to its root, blocking I/O on the thread
//! pool) and [`memory`] (an adapter for the pure `smb_proto::server::memfs`).
//!
//! Must not: validate requests (the server has checked session, tree, access, sizes and the
//! FileId before an op exists) or touch the protocol state. A backend only answers ops, and an
//! op's future must never block the executor: blocking calls go through `smol::unblock`.

pub mod local;
mod locks;
pub mod memory;

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use smb_proto::server::{OpReply, OpRequest};
use smb_proto::wire::status::NtStatus;

pub use local::{LocalBackend, LocalOptions};
pub use memory::MemoryBackend;

/// The future answering one op.
pub type OpFuture = Pin<Box<dyn Future<Output = Result<OpReply, NtStatus>> + Send + 'static>>;

/// Answers the ops of one or more shares.
///
/// The driver calls [`Backend::perform`] once per op and runs the future concurrently with every
/// other op; the result goes to `Server::complete`. OpenIds are unique across the whole server,
/// so one backend may serve several shares.
pub trait Backend: Send + Sync + fmt::Debug + 'static {
    /// Performs `req`. Ops that wait (a blocking byte-range lock, CHANGE_NOTIFY) must also
    /// wait on `cancel` and answer `STATUS_CANCELLED` when it fires; others may ignore it.
    fn perform(self: Arc<Self>, req: OpRequest, cancel: Cancel) -> OpFuture;
}

/// Fires when the server cancelled the op (CANCEL, or its connection or session went away).
#[derive(Debug, Clone)]
pub struct Cancel {
    rx: async_channel::Receiver<()>,
}

/// The driver's half of a [`Cancel`]: dropping it or calling [`CancelHandle::cancel`] fires it.
#[derive(Debug)]
pub struct CancelHandle {
    tx: async_channel::Sender<()>,
}

impl Cancel {
    /// A linked pair: the token for the backend and the handle for the driver.
    pub fn new() -> (Cancel, CancelHandle) {
        let (tx, rx) = async_channel::bounded(1);
        (Cancel { rx }, CancelHandle { tx })
    }

    /// A token that never fires while the returned handle lives (for tests and direct calls).
    pub fn never() -> (Cancel, CancelHandle) {
        Self::new()
    }

    /// Whether the op has been cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.rx.is_closed() || !self.rx.is_empty()
    }

    /// Resolves once the op is cancelled.
    pub async fn cancelled(&self) {
        // A message or a closed channel both mean "cancelled".
        let _ = self.rx.recv().await;
    }
}

impl CancelHandle {
    /// Fires the token.
    pub fn cancel(&self) {
        self.tx.close();
    }
}

/// Which backend answers which share (names compared case-insensitively, as the server does).
#[derive(Debug, Clone, Default)]
pub struct Shares {
    by_name: BTreeMap<String, Arc<dyn Backend>>,
}

impl Shares {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Serves the share `name` with `backend`.
    pub fn insert(&mut self, name: &str, backend: Arc<dyn Backend>) {
        self.by_name.insert(name.to_ascii_lowercase(), backend);
    }

    /// The backend of `name`, if any.
    pub fn get(&self, name: &str) -> Option<Arc<dyn Backend>> {
        self.by_name.get(&name.to_ascii_lowercase()).cloned()
    }
}

/// Maps the confined file system's NTSTATUS numbers onto the protocol newtype.
pub(crate) fn fs_status(e: &crate::fs::FsError) -> NtStatus {
    NtStatus(e.nt_status())
}
#[cfg(test)]
mod tests;
