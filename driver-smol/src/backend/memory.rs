//! The in-memory backend behind the async [`Backend`] trait: an adapter for the pure
//! [`MemFs`] of `smb_proto::server::memfs`.
//!
//! Owns: the mutex around the `MemFs`, and the hand-off of ops that wait (blocking locks,
//! CHANGE_NOTIFY): `MemFs::handle` answers `None` for those, and their results appear later in
//! `MemFs::poll_ready` (after some other op changed something) or from `MemFs::cancel`. The
//! adapter drains `poll_ready` after every op, under the same lock, and wakes the waiting
//! futures through one-shot channels, so no completion can be lost between the two.
//! Must not: add file-system semantics; `MemFs` has them all.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use futures_lite::FutureExt;
use smb_proto::server::memfs::MemFs;
use smb_proto::server::{OpId, OpReply, OpRequest};
use smb_proto::wire::status::NtStatus;

use super::{Backend, Cancel, OpFuture};

type Outcome = Result<OpReply, NtStatus>;

#[derive(Debug, Default)]
struct Inner {
    fs: MemFs,
    waiting: BTreeMap<OpId, async_channel::Sender<Outcome>>,
}

impl Inner {
    /// Hands every finished waiting op to its future.
    fn deliver(&mut self) {
        while let Some((id, result)) = self.fs.poll_ready() {
            if let Some(tx) = self.waiting.remove(&id) {
                let _ = tx.try_send(result);
            }
        }
    }
}

/// A share served from memory. Deterministic apart from the order the driver runs ops in.
#[derive(Debug, Default)]
pub struct MemoryBackend {
    inner: Mutex<Inner>,
}

impl MemoryBackend {
    /// An empty volume.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Wraps an existing `MemFs` (for example one seeded with files).
    pub fn from_fs(fs: MemFs) -> Arc<Self> {
        Arc::new(Self {
            inner: Mutex::new(Inner {
                fs,
                waiting: BTreeMap::new(),
            }),
        })
    }

    /// Runs `f` on the file system (to seed or inspect it).
    pub fn with_fs<T>(&self, f: impl FnOnce(&mut MemFs) -> T) -> T {
        f(&mut self.lock().fs)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Backend for MemoryBackend {
    fn perform(self: Arc<Self>, req: OpRequest, cancel: Cancel) -> OpFuture {
        let id = req.id;
        let rx = {
            let mut inner = self.lock();
            let now = inner.fs.handle(req);
            inner.deliver();
            match now {
                Some(result) => return Box::pin(async move { result }),
                None => {
                    let (tx, rx) = async_channel::bounded(1);
                    inner.waiting.insert(id, tx);
                    rx
                }
            }
        };
        Box::pin(async move {
            let done = async { rx.recv().await.ok() };
            let cancelled = async {
                cancel.cancelled().await;
                None
            };
            if let Some(result) = done.or(cancelled).await {
                return result;
            }
            // Cancelled (or the sender vanished): take it out of MemFs, unless it finished in
            // the meantime, in which case its result is already in the channel.
            let from_cancel = {
                let mut inner = self.lock();
                let r = inner.fs.cancel(id);
                inner.waiting.remove(&id);
                r
            };
            match from_cancel {
                Some(result) => result,
                None => rx.try_recv().unwrap_or(Err(NtStatus::CANCELLED)),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smb_proto::auth::{Identity, IdentityKind};
    use smb_proto::server::{ConnectionHandle, CreateOp, FsOp, OpContext, OpenId};
    use smb_proto::wire::create::{CreateDisposition, CreateOptions, ShareAccess};
    use smb_proto::wire::fscc::attributes::{AccessMask, FileAttributes};
    use smb_proto::wire::lock::{LockElement, LockFlags};
    use smb_proto::wire::types::{SessionId, TreeId};
    use std::time::Duration;

    fn req(id: u64, op: FsOp) -> OpRequest {
        OpRequest {
            id: OpId(id),
            ctx: OpContext {
                ch: ConnectionHandle(1),
                session: SessionId(1),
                tree: TreeId(1),
                share: "mem".into(),
                user: Identity {
                    user: "u".into(),
                    domain: String::new(),
                    workstation: String::new(),
                    kind: IdentityKind::User,
                },
                now: 1,
            },
            op,
        }
    }

    fn create(open: u64) -> FsOp {
        FsOp::Create(CreateOp {
            open: OpenId(open),
            path: "f".into(),
            desired_access: AccessMask::GENERIC_READ | AccessMask::GENERIC_WRITE,
            file_attributes: FileAttributes::NORMAL,
            share_access: ShareAccess::READ | ShareAccess::WRITE,
            disposition: CreateDisposition::OPEN_IF,
            options: CreateOptions::EMPTY,
            read_only: false,
            security: None,
            eas: Vec::new(),
            allocation_size: None,
        })
    }

    fn lock(open: u64, flags: LockFlags) -> FsOp {
        FsOp::Lock {
            open: OpenId(open),
            locks: vec![LockElement {
                offset: 0,
                length: 1,
                flags,
            }],
        }
    }

    #[test]
    fn waiting_lock_is_granted_after_unlock_and_cancel_works() {
        let b = MemoryBackend::new();
        smol::block_on(async {
            let run = |id, op| {
                let (c, h) = Cancel::new();
                let f = b.clone().perform(req(id, op), c);
                (f, h)
            };
            assert!(run(1, create(1)).0.await.is_ok());
            assert!(run(2, create(2)).0.await.is_ok());
            assert!(run(3, lock(1, LockFlags::EXCLUSIVE_LOCK)).0.await.is_ok());
            // A blocking lock waits, and is cancelled.
            let (f, h) = run(4, lock(2, LockFlags::EXCLUSIVE_LOCK));
            let waiting = smol::spawn(f);
            smol::Timer::after(Duration::from_millis(20)).await;
            h.cancel();
            assert_eq!(waiting.await.err(), Some(NtStatus::CANCELLED));
            // Another one is granted once the holder unlocks.
            let (f, _h) = run(5, lock(2, LockFlags::EXCLUSIVE_LOCK));
            let waiting = smol::spawn(f);
            smol::Timer::after(Duration::from_millis(20)).await;
            assert!(run(6, lock(1, LockFlags::UNLOCK)).0.await.is_ok());
            assert!(waiting.await.is_ok());
        });
    }
}
