//! Reading a Direct TCP byte stream (MS-SMB2 2.1: a zero byte, a 24-bit length, the message)
//! one frame at a time, each frame into a buffer of its own.
//!
//! Owns: [`FrameReader`]. It reads the 4-byte header, then the whole frame straight into a
//! buffer of exactly its size, and hands that buffer over as the only handle on it, so the
//! core's deframer passes it through without a copy and decryption and signature checks work
//! on it in place. While waiting for the next frame it holds only the 4 header bytes: an idle
//! connection keeps no read buffer.
//!
//! Large frame buffers can come back through a [`BufferReturn`]: whoever holds the last handle
//! on a frame's data when it is done with it (the server, once a WRITE's payload is on disk,
//! or once a READ response is sent) gives it back, and the next large frame is read into that
//! memory instead of a fresh allocation; the server also reads READ data into it
//! ([`BufferReturn::take_kept`]). A fresh multi-megabyte buffer costs a page fault per page
//! (the kernel zeroes each one) on the first read into it; a returned one is already mapped. Each connection keeps
//! at most its [`Spares`] limit ([`SPARES`], two, unless its owner asks for more), dropped when
//! the connection stays quiet for [`KEEP_SPARE`].
//! Must not: judge frames (the core does). A header the core would refuse (a non-zero type
//! byte, a length above the limit) is handed over as it came, for the core to reject; a frame
//! still incomplete after [`SLOW_FRAME`] is handed over in pieces from then on, so the core's
//! incomplete-frame rules see it and this reader never holds a partial frame for long.

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
/// Frames at least this large are read into a returned buffer when one is there; smaller ones
/// are cheap to allocate.
const RECYCLE_MIN: usize = 256 * 1024;
/// Spare room at the end of a buffer that may come back, so that a returned view, which
/// starts a header's length further in each time round, still fits frames of the same size
/// for many rounds before it must be moved back (and zeroed) again. The core reserves the same
/// slack in READ buffers, which come back here too.
const RECYCLE_SLACK: usize = smb_proto::server::READ_SLACK;
/// How long a returned buffer is kept while no frame arrives.
pub const KEEP_SPARE: Duration = Duration::from_secs(2);

/// How many returned buffers a connection keeps by default (a server's): a client with two
/// large requests in flight (one being read while the other is written) finds one free for
/// every frame.
pub const SPARES: Spares = Spares {
    count: 2,
    bytes: usize::MAX,
};

/// How many returned buffers a [`BufferReturn`] keeps, and how many bytes of them at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spares {
    pub count: usize,
    pub bytes: usize,
}

/// Where finished frame buffers go back to their connection's [`FrameReader`]; see the module
/// docs. Cloning gives another handle on the same slot.
#[derive(Debug, Clone)]
pub struct BufferReturn {
    spares: Arc<Mutex<Vec<BytesMut>>>,
    limit: Spares,
}

impl Default for BufferReturn {
    fn default() -> Self {
        Self::new(SPARES)
    }
}

impl BufferReturn {
    /// An empty slot that keeps at most `limit`.
    pub fn new(limit: Spares) -> Self {
        Self {
            spares: Arc::default(),
            limit,
        }
    }

    /// Offers `data` (a frame or a slice of one) back. It is kept only when it is the last
    /// handle on a large buffer and the slot's limit leaves room; otherwise it is dropped.
    pub fn give(&self, data: Bytes) {
        let Ok(buf) = data.try_into_mut() else {
            return;
        };
        let mut spares = self.lock();
        let held: usize = spares.iter().map(BytesMut::capacity).sum();
        if buf.capacity() >= RECYCLE_MIN
            && spares.len() < self.limit.count
            && held.saturating_add(buf.capacity()) <= self.limit.bytes
        {
            spares.push(buf);
        }
    }

    /// A buffer of exactly `len` bytes (contents unspecified, but initialized): a returned one
    /// when one has room, else a fresh one.
    fn take(&self, len: usize) -> BytesMut {
        self.take_kept(len).unwrap_or_else(|| {
            let mut buf = BytesMut::zeroed(len + RECYCLE_SLACK);
            buf.truncate(len);
            buf
        })
    }

    /// A returned buffer made exactly `len` bytes long (contents unspecified, but
    /// initialized), or `None` when none is kept or `len` is too small to be worth one.
    pub fn take_kept(&self, len: usize) -> Option<BytesMut> {
        if len < RECYCLE_MIN {
            return None;
        }
        let mut buf = self.lock().pop()?;
        if buf.capacity() >= len {
            // A returned buffer is the data's view of it (a payload starts a header's length
            // in); while the view has room its stale bytes are reused as they are and only
            // the growth is zeroed.
            if buf.len() >= len {
                buf.truncate(len);
            } else {
                buf.resize(len, 0);
            }
        } else {
            // Out of room: emptying the view lets `reserve` move it back to the start of its
            // allocation (slack included) without copying, and without allocating when that
            // is big enough.
            buf.clear();
            buf.reserve(len);
            buf.resize(len, 0);
        }
        Some(buf)
    }

    fn clear(&self) {
        self.lock().clear();
    }

    fn holds(&self) -> bool {
        !self.lock().is_empty()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<BytesMut>> {
        self.spares.lock().unwrap_or_else(|e| e.into_inner())
    }
}

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
    returns: BufferReturn,
}

impl FrameReader {
    /// A reader that hands frames longer than `max_frame` (the core's limit) over raw, without
    /// buffering them.
    pub fn new(max_frame: usize) -> Self {
        Self::with_spares(max_frame, SPARES)
    }

    /// A reader whose [`BufferReturn`] keeps up to `spares` (a client with a deep window of
    /// READs wants more than a server connection).
    pub fn with_spares(max_frame: usize, spares: Spares) -> Self {
        Self {
            max_frame,
            state: State::Header {
                bytes: [0; HEADER],
                len: 0,
            },
            returns: BufferReturn::new(spares),
        }
    }

    /// The slot through which finished frame buffers come back to this reader.
    pub fn returns(&self) -> BufferReturn {
        self.returns.clone()
    }

    /// Reads until it has the next piece of the stream for the core: normally one whole frame,
    /// header included. `Ok(None)` at the end of the stream. Cancel-safe: dropping the future
    /// loses no bytes (everything read is kept in `self`).
    pub async fn next<R: AsyncRead + Unpin>(&mut self, r: &mut R) -> io::Result<Option<Bytes>> {
        loop {
            match &mut self.state {
                State::Header { bytes, len } => {
                    let n = if *len == 0 && self.returns.holds() {
                        // Between frames with a buffer kept: drop it if the peer goes quiet.
                        let read = async { Some(r.read(&mut bytes[..]).await) };
                        let quiet = async {
                            smol::Timer::after(KEEP_SPARE).await;
                            None
                        };
                        match read.or(quiet).await {
                            Some(n) => n?,
                            None => {
                                self.returns.clear();
                                continue;
                            }
                        }
                    } else {
                        r.read(&mut bytes[*len..]).await?
                    };
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
                    let mut buf = if HEADER + size >= RECYCLE_MIN {
                        self.returns.take(HEADER + size)
                    } else {
                        BytesMut::zeroed(HEADER + size)
                    };
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

    /// Two ends of a loopback TCP connection: (the sender, the receiver).
    async fn tcp_pair() -> (smol::net::TcpStream, smol::net::TcpStream) {
        let listener = smol::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let tx = smol::net::TcpStream::connect(addr).await.expect("connect");
        let (rx, _) = listener.accept().await.expect("accept");
        (tx, rx)
    }

    /// A frame that stalls past SLOW_FRAME is handed over in pieces (so the core sees the
    /// partial frame and its incomplete-frame timeout applies); the bytes are all there, in
    /// order, and the next frame comes whole again.
    #[test]
    fn a_slow_frame_goes_through_in_pieces() {
        smol::block_on(async {
            let (mut tx, mut rx) = tcp_pair().await;
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

    /// A slot keeps no more buffers than its count, and no more bytes than its cap; only a
    /// kept buffer is handed out by `take_kept`, and never for a small frame.
    #[test]
    fn spares_limit_count_and_bytes() {
        let big = || Bytes::from(vec![0u8; RECYCLE_MIN]);
        let by_count = BufferReturn::new(Spares {
            count: 3,
            bytes: usize::MAX,
        });
        for _ in 0..5 {
            by_count.give(big());
        }
        assert_eq!(by_count.lock().len(), 3);
        let by_bytes = BufferReturn::new(Spares {
            count: 100,
            bytes: 2 * RECYCLE_MIN + 1,
        });
        for _ in 0..5 {
            by_bytes.give(big());
        }
        assert_eq!(by_bytes.lock().len(), 2);
        assert!(
            by_bytes.take_kept(RECYCLE_MIN - 1).is_none(),
            "too small to use one"
        );
        assert_eq!(
            by_bytes.take_kept(RECYCLE_MIN).map(|b| b.len()),
            Some(RECYCLE_MIN)
        );
        assert!(by_bytes.take_kept(RECYCLE_MIN).is_some());
        assert!(by_bytes.take_kept(RECYCLE_MIN).is_none(), "none left");
    }

    /// A large frame given back is the memory the next large frame is read into (after its
    /// payload slice, the way the server returns WRITE data); a buffer still shared is not
    /// taken; small frames never use the slot.
    #[test]
    fn returned_buffers_are_reused() {
        let big = RECYCLE_MIN + 1000;
        let bodies: Vec<Vec<u8>> = vec![vec![1; big], vec![2; big - 10], vec![3; 10], vec![4; big]];
        let stream: Vec<u8> = bodies.iter().flat_map(|b| frame(b)).collect();
        let mut r = Trickle {
            data: &stream,
            step: 1 << 16,
        };
        let mut reader = FrameReader::new(1 << 20);
        let returns = reader.returns();
        smol::block_on(async {
            let first = reader.next(&mut r).await.expect("read").expect("frame");
            let first_start = first.as_ptr() as usize;
            // The payload half, as a WRITE would carry it, once the frame itself is gone.
            let payload = first.slice(100..);
            drop(first);
            returns.give(payload);
            let second = reader.next(&mut r).await.expect("read").expect("frame");
            assert_eq!(&second[..], &frame(&bodies[1])[..]);
            // Read into the returned view: where the payload started, in the same allocation.
            assert_eq!(
                second.as_ptr() as usize,
                first_start + 100,
                "read into the returned buffer"
            );
            let held = second.clone();
            returns.give(second);
            assert!(!returns.holds(), "a buffer with another handle is not kept");
            let third = reader.next(&mut r).await.expect("read").expect("frame");
            assert_eq!(&third[..], &frame(&bodies[2])[..]);
            returns.give(third);
            assert!(!returns.holds(), "small buffers are not kept");
            drop(held);
            let fourth = reader.next(&mut r).await.expect("read").expect("frame");
            assert_eq!(&fourth[..], &frame(&bodies[3])[..]);
        });
    }

    /// Frame after frame of the same size, each returned as its payload view (which starts
    /// further in every round), all land in the first frame's allocation: the view is reused
    /// while its slack lasts and moved back to the start when it runs out.
    #[test]
    fn one_allocation_serves_a_long_run_of_frames() {
        let size = RECYCLE_MIN + 3000;
        let header_len = 116;
        let rounds = 2 * RECYCLE_SLACK / header_len + 5;
        let stream: Vec<u8> = (0..rounds)
            .flat_map(|i| frame(&vec![i as u8; size]))
            .collect();
        let mut r = Trickle {
            data: &stream,
            step: 1 << 16,
        };
        let mut reader = FrameReader::new(1 << 20);
        let returns = reader.returns();
        smol::block_on(async {
            let mut start = None;
            for i in 0..rounds {
                let got = reader.next(&mut r).await.expect("read").expect("frame");
                assert_eq!(&got[..], &frame(&vec![i as u8; size])[..], "round {i}");
                let at = got.as_ptr() as usize;
                let first = *start.get_or_insert(at);
                assert!(
                    (first..first + RECYCLE_SLACK).contains(&at),
                    "round {i} left the first allocation"
                );
                returns.give(got.slice(header_len..));
            }
        });
    }

    /// A kept buffer is dropped once the connection has been quiet for KEEP_SPARE, so an idle
    /// connection holds no frame memory; the reader still reads what comes later.
    #[test]
    fn a_quiet_connection_drops_its_kept_buffer() {
        smol::block_on(async {
            let (mut tx, mut rx) = tcp_pair().await;
            let big = frame(&vec![7u8; RECYCLE_MIN]);
            let late = frame(&[8u8; 20]);
            let mut reader = FrameReader::new(1 << 20);
            let returns = reader.returns();
            let writer = smol::spawn(async move {
                use futures_lite::AsyncWriteExt;
                tx.write_all(&big).await.expect("write");
                smol::Timer::after(KEEP_SPARE + Duration::from_millis(500)).await;
                tx.write_all(&late).await.expect("write");
                tx
            });
            let got = reader.next(&mut rx).await.expect("read").expect("frame");
            returns.give(got);
            assert!(returns.holds());
            let next = reader.next(&mut rx).await.expect("read").expect("frame");
            assert_eq!(&next[..], &frame(&[8u8; 20])[..]);
            assert!(!returns.holds(), "dropped while the connection was quiet");
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
