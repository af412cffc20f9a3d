//! The client's outgoing side: the writer that puts frames on the stream, and the pool of
//! large frame buffers it has sent, for [`crate::Client::write_buf`] to reuse.
//!
//! Owns: [`FramePool`] and [`send_frames`]. A bulk upload recycles a window's worth of WRITE
//! frames instead of allocating (and, on first touch, faulting in) a fresh multi-megabyte
//! buffer per WRITE, whatever the global allocator does. The pool is bounded in bytes, keeps
//! only frames worth keeping, and is emptied once the writer has been quiet for
//! [`KEEP_SPARE`], so a client that uploaded a large file and then sits idle holds no
//! buffers, as the frame reader's [`crate::frame_reader::BufferReturn`] does for reads.
//! Must not: look inside frames beyond what [`WriteBuf::recycle`] needs to find the payload.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use futures_lite::{AsyncWrite, AsyncWriteExt, FutureExt};
use smb_proto::client::WriteBuf;

pub use crate::frame_reader::KEEP_SPARE;

/// Frames smaller than this are not worth keeping.
const POOL_MIN_FRAME: usize = 64 * 1024;
/// The most buffer capacity the pool holds: the files API's window of WRITEs in flight
/// (`files::IN_FLIGHT_WRITE_BYTES`) and one more, so a window's worth of 1 MiB frames, or a
/// couple of 8 MiB ones, comes back.
const POOL_MAX_BYTES: usize = 16 << 20;

/// Sent frames kept for reuse; cloning gives another handle on the same pool.
#[derive(Debug, Clone, Default)]
pub struct FramePool(Arc<Mutex<Vec<WriteBuf>>>);

impl FramePool {
    /// Keeps `frame`'s allocation if nothing else holds it and the pool has room for it.
    pub fn put(&self, frame: Bytes) {
        if frame.len() < POOL_MIN_FRAME {
            return;
        }
        let mut pool = self.lock();
        let held: usize = pool.iter().map(WriteBuf::capacity).sum();
        if held.saturating_add(frame.len()) <= POOL_MAX_BYTES
            && let Ok(b) = WriteBuf::recycle(frame)
        {
            pool.push(b);
        }
    }

    /// A pooled buffer with room for `capacity` payload bytes, or a new one.
    pub fn take(&self, capacity: usize) -> WriteBuf {
        let pooled = {
            let mut pool = self.lock();
            pool.iter()
                .position(|b| b.capacity() >= capacity)
                .map(|i| pool.swap_remove(i))
        };
        pooled.unwrap_or_else(|| WriteBuf::with_capacity(capacity))
    }

    /// How many buffers are kept.
    pub fn kept(&self) -> usize {
        self.lock().len()
    }

    fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> MutexGuard<'_, Vec<WriteBuf>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Writes the frames from `frames` to `writer` in order and offers each to `pool` once
/// written; empties the pool when no frame has come for `keep`. Ends, closing the writer,
/// when the channel closes or a write fails.
pub async fn send_frames<W: AsyncWrite + Unpin>(
    mut writer: W,
    frames: async_channel::Receiver<Bytes>,
    pool: FramePool,
    keep: Duration,
) {
    loop {
        let frame = if pool.kept() > 0 {
            let next = async { Some(frames.recv().await) };
            let quiet = async {
                smol::Timer::after(keep).await;
                None
            };
            match next.or(quiet).await {
                Some(f) => f,
                None => {
                    pool.clear();
                    continue;
                }
            }
        } else {
            frames.recv().await
        };
        let Ok(frame) = frame else { break };
        if writer.write_all(&frame).await.is_err() {
            break;
        }
        pool.put(frame);
    }
    let _ = writer.close().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(len: usize) -> Bytes {
        let mut f = vec![0u8; len];
        f[4] = 0xFE;
        Bytes::from(f)
    }

    #[test]
    fn pool_keeps_large_unique_frames_up_to_its_byte_bound() {
        let pool = FramePool::default();
        pool.put(frame(POOL_MIN_FRAME - 1));
        assert_eq!(pool.kept(), 0, "small frames are not kept");
        let shared = frame(1 << 20);
        let other = shared.clone();
        pool.put(shared);
        assert_eq!(
            pool.kept(),
            0,
            "a frame someone else still holds is not kept"
        );
        drop(other);
        for _ in 0..(POOL_MAX_BYTES >> 20) + 4 {
            pool.put(frame(1 << 20));
        }
        let held: usize = pool.lock().iter().map(WriteBuf::capacity).sum();
        assert!(held <= POOL_MAX_BYTES, "held {held}");
        assert!(
            pool.kept() >= (POOL_MAX_BYTES >> 20) - 1,
            "{} kept",
            pool.kept()
        );
        // A kept buffer serves a request that fits; a larger one gets a new buffer.
        let n = pool.kept();
        assert!(pool.take(1000).capacity() >= 1000);
        assert_eq!(pool.kept(), n - 1);
        assert!(pool.take(64 << 20).capacity() >= 64 << 20);
        assert_eq!(pool.kept(), n - 1);
    }

    #[test]
    fn writer_keeps_sent_frames_and_drops_them_when_quiet() {
        smol::block_on(async {
            let pool = FramePool::default();
            let (tx, rx) = async_channel::unbounded();
            let out = futures_lite::io::Cursor::new(Vec::new());
            let keep = Duration::from_millis(100);
            let task = smol::spawn(send_frames(out, rx, pool.clone(), keep));
            tx.send(frame(1 << 20)).await.expect("send");
            tx.send(Bytes::from_static(b"small")).await.expect("send");
            // Both written: the large one was kept, the small one not.
            let deadline = std::time::Instant::now() + Duration::from_secs(5);
            while pool.kept() == 0 && std::time::Instant::now() < deadline {
                smol::Timer::after(Duration::from_millis(5)).await;
            }
            assert_eq!(pool.kept(), 1);
            smol::Timer::after(keep * 3).await;
            assert_eq!(pool.kept(), 0, "dropped after the writer was quiet");
            drop(tx);
            task.await;
        });
    }
}
