//! Reading a Direct TCP byte stream (MS-SMB2 2.1: a zero byte, a 24-bit length, the message)
//! one frame at a time, each frame into a buffer of its own.
//!
//! Owns: [`FrameReader`]. It reads the 4-byte header, then the whole frame straight into a
//! buffer of exactly its size, and hands that buffer over as the only handle on it, so the
//! core's deframer passes it through without a copy and decryption and signature checks work
//! on it in place. While waiting for the next frame it holds only the 4 header bytes: an idle
//! connection keeps no read buffer.
//! Must not: judge frames (the core does). A header the core would refuse (a non-zero type
//! byte, a length above the limit) is handed over as it came, for the core to reject; a frame
//! still incomplete after [`SLOW_FRAME`] is handed over in pieces from then on, so the core's
//! incomplete-frame rules see it and this reader never holds a partial frame for long.
//!
//! Also owns [`ReadBuffers`]: an opt-in, bounded pool of large frame buffers the application
//! hands back once it is done with a frame's data (a READ's payload), so a bulk download
//! reuses a window's worth of buffers instead of allocating and zeroing one per frame.

use std::io;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures_lite::{AsyncRead, AsyncReadExt, FutureExt};

/// Size of the Direct TCP header.
const HEADER: usize = 4;
/// A frame that takes longer than this to arrive goes to the core piece by piece.
pub const SLOW_FRAME: Duration = Duration::from_secs(1);
/// The largest piece read while passing a slow frame through.
const PIECE: usize = 64 * 1024;

/// What the reader is in the middle of.
#[derive(Debug)]
enum State {
    /// Collecting the next header.
    Header { bytes: [u8; HEADER], len: usize },
    /// Reading a frame (header included) into its own buffer.
    Body {
        buf: BytesMut,
        filled: usize,
        started: Instant,
    },
    /// The rest of a slow frame, handed over as it arrives.
    Passthrough { remaining: usize },
}

/// Splits a stream into frames; see the module docs.
#[derive(Debug)]
pub struct FrameReader {
    max_frame: usize,
    state: State,
    pool: Option<ReadBuffers>,
}

/// Frames at least this long are read into pooled buffers (and worth handing back).
const POOL_MIN_FRAME: usize = 64 * 1024;
/// Spare capacity given to a new pooled buffer: a buffer handed back is the data's view of
/// it, which starts a header's length further in each time round, so it fits frames of the
/// same size for about this many bytes' worth of headers before it is let go.
const POOL_SLACK: usize = 8 * 1024;
/// At most this many buffers wait in the pool (a 16 MiB window of 1 MiB READs).
const POOL_MAX: usize = 16;

/// Large frame buffers handed back for reuse; see the module docs. Cheap to clone (shared).
#[derive(Debug, Clone, Default)]
pub struct ReadBuffers(Arc<Mutex<Vec<BytesMut>>>);

impl ReadBuffers {
    /// Keeps `data`'s buffer for a later frame if nothing else holds it, it is large and the
    /// pool has room. Its bytes are stale from then on: the next frame overwrites them.
    pub fn give(&self, data: Bytes) {
        if data.len() < POOL_MIN_FRAME {
            return;
        }
        let Ok(mut pool) = self.0.lock() else { return };
        if pool.len() < POOL_MAX
            && let Ok(b) = data.try_into_mut()
        {
            pool.push(b);
        }
    }

    /// A buffer of exactly `len` bytes (stale content, not zeroed) when one with the room is
    /// pooled.
    fn take(&self, len: usize) -> Option<BytesMut> {
        let mut pool = self.0.lock().ok()?;
        let i = pool.iter().position(|b| b.capacity() >= len)?;
        let mut b = pool.swap_remove(i);
        if b.len() >= len {
            b.truncate(len);
        } else {
            b.resize(len, 0);
        }
        Some(b)
    }
}

impl FrameReader {
    /// A reader that hands frames longer than `max_frame` (the core's limit) over raw, without
    /// buffering them.
    pub fn new(max_frame: usize) -> Self {
        Self {
            max_frame,
            state: State::Header {
                bytes: [0; HEADER],
                len: 0,
            },
            pool: None,
        }
    }

    /// Like [`FrameReader::new`], reading large frames into buffers from `pool` (where the
    /// application hands them back once done) when it has one that fits.
    pub fn with_pool(max_frame: usize, pool: ReadBuffers) -> Self {
        Self {
            pool: Some(pool),
            ..Self::new(max_frame)
        }
    }

    /// A buffer for a whole frame of `len` bytes.
    fn frame_buffer(&self, len: usize) -> BytesMut {
        match &self.pool {
            Some(pool) if len >= POOL_MIN_FRAME => pool.take(len).unwrap_or_else(|| {
                let mut b = BytesMut::with_capacity(len.saturating_add(POOL_SLACK));
                b.resize(len, 0);
                b
            }),
            _ => BytesMut::zeroed(len),
        }
    }

    /// Reads until it has the next piece of the stream for the core: normally one whole frame,
    /// header included. `Ok(None)` at the end of the stream. Cancel-safe: dropping the future
    /// loses no bytes (everything read is kept in `self`).
    pub async fn next<R: AsyncRead + Unpin>(&mut self, r: &mut R) -> io::Result<Option<Bytes>> {
        loop {
            match &mut self.state {
                State::Header { bytes, len } => {
                    let n = r.read(&mut bytes[*len..]).await?;
                    if n == 0 {
                        return Ok(None);
                    }
                    *len += n;
                    if *len < HEADER {
                        continue;
                    }
                    let header = *bytes;
                    self.state = State::Header {
                        bytes: [0; HEADER],
                        len: 0,
                    };
                    let size = u32::from_be_bytes([0, header[1], header[2], header[3]]) as usize;
                    if header[0] != 0 || size > self.max_frame || size == 0 {
                        // For the core to judge (and usually refuse).
                        return Ok(Some(Bytes::copy_from_slice(&header)));
                    }
                    let mut buf = self.frame_buffer(HEADER + size);
                    buf[..HEADER].copy_from_slice(&header);
                    self.state = State::Body {
                        buf,
                        filled: HEADER,
                        started: Instant::now(),
                    };
                }
                State::Body {
                    buf,
                    filled,
                    started,
                } => {
                    let deadline = *started + SLOW_FRAME;
                    let read = async { Some(r.read(&mut buf[*filled..]).await) };
                    let slow = async {
                        smol::Timer::at(deadline).await;
                        None
                    };
                    match read.or(slow).await {
                        Some(Ok(0)) => return Ok(None),
                        Some(Ok(n)) => {
                            *filled += n;
                            if *filled == buf.len() {
                                let frame = std::mem::take(buf).freeze();
                                self.state = State::Header {
                                    bytes: [0; HEADER],
                                    len: 0,
                                };
                                return Ok(Some(frame));
                            }
                        }
                        Some(Err(e)) => return Err(e),
                        None => {
                            // Slow: hand over what we have; the rest follows as it comes.
                            let remaining = buf.len() - *filled;
                            let mut part = std::mem::take(buf);
                            part.truncate(*filled);
                            self.state = State::Passthrough { remaining };
                            return Ok(Some(part.freeze()));
                        }
                    }
                }
                State::Passthrough { remaining } => {
                    let mut piece = BytesMut::zeroed((*remaining).min(PIECE));
                    let n = r.read(&mut piece[..]).await?;
                    if n == 0 {
                        return Ok(None);
                    }
                    piece.truncate(n);
                    *remaining -= n;
                    if *remaining == 0 {
                        self.state = State::Header {
                            bytes: [0; HEADER],
                            len: 0,
                        };
                    }
                    return Ok(Some(piece.freeze()));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(body: &[u8]) -> Vec<u8> {
        let len = body.len() as u32;
        let mut v = len.to_be_bytes().to_vec();
        v[0] = 0;
        v.extend_from_slice(body);
        v
    }

    /// A reader over a byte slice that returns at most `step` bytes per read.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
    }

    impl AsyncRead for Trickle<'_> {
        fn poll_read(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            out: &mut [u8],
        ) -> std::task::Poll<io::Result<usize>> {
            let n = self.step.min(out.len()).min(self.data.len());
            out[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            std::task::Poll::Ready(Ok(n))
        }
    }

    /// Frames come back whole and in order, whatever the read sizes, each as the only handle
    /// on its buffer.
    #[test]
    fn whole_frames_in_any_chunking() {
        let bodies: Vec<Vec<u8>> = vec![vec![0xFE; 70], vec![1], vec![7; 100_000], vec![2; 3]];
        let stream: Vec<u8> = bodies.iter().flat_map(|b| frame(b)).collect();
        for step in [1, 3, 4, 5, 64, 4096, 1 << 20] {
            let mut r = Trickle {
                data: &stream,
                step,
            };
            let mut reader = FrameReader::new(1 << 20);
            smol::block_on(async {
                for b in &bodies {
                    let got = reader.next(&mut r).await.expect("read").expect("a frame");
                    assert_eq!(&got[..], &frame(b)[..], "step {step}");
                    assert!(got.try_into_mut().is_ok(), "the frame owns its buffer");
                }
                assert!(reader.next(&mut r).await.expect("read").is_none());
            });
        }
    }

    /// With a pool, large frames reuse the buffers handed back (stale bytes overwritten), and
    /// still come back whole, as the only handle on their buffer.
    #[test]
    fn pooled_buffers_are_reused_and_overwritten() {
        let bodies: Vec<Vec<u8>> = (0..6u8)
            .map(|i| vec![i; 100_000 + usize::from(i)])
            .collect();
        let stream: Vec<u8> = bodies.iter().flat_map(|b| frame(b)).collect();
        let pool = ReadBuffers::default();
        let mut r = Trickle {
            data: &stream,
            step: 4096,
        };
        let mut reader = FrameReader::with_pool(1 << 20, pool.clone());
        smol::block_on(async {
            let mut last_ptr = None;
            for b in &bodies {
                let got = reader.next(&mut r).await.expect("read").expect("a frame");
                assert_eq!(&got[..], &frame(b)[..]);
                if let Some(p) = last_ptr {
                    assert_eq!(got.as_ptr(), p, "the buffer handed back was reused");
                }
                // The application keeps only the data (a slice past a header), then gives it back.
                let data = got.slice(100..);
                drop(got);
                last_ptr = Some(data.as_ptr());
                pool.give(data);
            }
        });
    }

    /// Headers the core must judge are handed over raw, not buffered.
    #[test]
    fn bad_headers_go_to_the_core() {
        let too_big = [0u8, 0x10, 0, 0];
        let netbios = [0x81u8, 0, 0, 4];
        for h in [too_big, netbios] {
            let mut r = Trickle { data: &h, step: 1 };
            let mut reader = FrameReader::new(1024);
            let got = smol::block_on(reader.next(&mut r)).expect("read");
            assert_eq!(got.as_deref(), Some(&h[..]));
        }
    }

    /// A frame that stalls past SLOW_FRAME is handed over in pieces (so the core sees the
    /// partial frame and its incomplete-frame timeout applies); the bytes are all there, in
    /// order, and the next frame comes whole again.
    #[test]
    fn a_slow_frame_goes_through_in_pieces() {
        smol::block_on(async {
            let listener = smol::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let addr = listener.local_addr().expect("addr");
            let mut tx = smol::net::TcpStream::connect(addr).await.expect("connect");
            let (mut rx, _) = listener.accept().await.expect("accept");
            let slow = frame(&[5u8; 1000]);
            let next = frame(&[6u8; 10]);
            let writer = smol::spawn(async move {
                use futures_lite::AsyncWriteExt;
                tx.write_all(&slow[..300]).await.expect("write");
                smol::Timer::after(SLOW_FRAME + Duration::from_millis(300)).await;
                tx.write_all(&slow[300..]).await.expect("write");
                tx.write_all(&next).await.expect("write");
                tx
            });
            let mut reader = FrameReader::new(1 << 20);
            let mut got = Vec::new();
            while got.len() < 1004 {
                let piece = reader.next(&mut rx).await.expect("read").expect("data");
                assert!(piece.len() < 1004, "handed over in pieces");
                got.extend_from_slice(&piece);
            }
            assert_eq!(got, frame(&[5u8; 1000]));
            let whole = reader.next(&mut rx).await.expect("read").expect("frame");
            assert_eq!(&whole[..], &frame(&[6u8; 10])[..]);
            drop(writer.await);
        });
    }

    /// A frame cut short by the end of the stream ends the stream.
    #[test]
    fn truncated_frame_is_end_of_stream() {
        let mut data = frame(&[9; 50]);
        data.truncate(30);
        let mut r = Trickle {
            data: &data,
            step: 7,
        };
        let mut reader = FrameReader::new(1024);
        assert!(smol::block_on(reader.next(&mut r)).expect("read").is_none());
    }
}
