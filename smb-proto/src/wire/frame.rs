//! Direct TCP transport framing (MS-SMB2 2.1): a zero byte, then a 24-bit big-endian length,
//! then the SMB2 message. SMB over QUIC uses the same framing.
//!
//! Owns: [`encode_frame_header`] and [`Deframer`], a streaming splitter that accepts the byte
//! stream in any chunking (one byte at a time included), never buffers more than one frame
//! (bounded by its configured maximum), and reports typed [`FrameError`]s.
//! Must not: look inside a frame (that is the message codec's job).

use bytes::{Bytes, BytesMut};

/// Size of the Direct TCP header.
pub const FRAME_HEADER_LEN: usize = 4;
/// The largest length the 24-bit field can carry.
pub const MAX_FRAME_LEN_FIELD: usize = 0x00FF_FFFF;
/// A default maximum frame size: 8 MiB of READ/WRITE payload plus headers fits, and the
/// 24-bit field allows at most 16 MiB - 1 anyway.
pub const DEFAULT_MAX_FRAME: usize = MAX_FRAME_LEN_FIELD;

/// The stream broke the framing rules. Errors are fatal: the connection must be dropped, and
/// the deframer keeps returning the same error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The first byte of a frame header was not zero (NetBIOS session types are not used on
    /// port 445 / QUIC).
    #[error("frame header starts with {0:#04x}, expected 0x00")]
    NonZeroType(u8),
    /// The announced frame length exceeds the configured maximum.
    #[error("frame of {len} bytes exceeds the maximum of {max}")]
    TooLarge {
        /// The announced length.
        len: usize,
        /// Our limit.
        max: usize,
    },
    /// An encoder was asked to frame more than the 24-bit length field can carry.
    #[error("message of {0} bytes cannot be framed (max 16 MiB - 1)")]
    Unframeable(usize),
}

/// The 4-byte Direct TCP header for a message of `len` bytes.
pub fn encode_frame_header(len: usize) -> Result<[u8; 4], FrameError> {
    if len > MAX_FRAME_LEN_FIELD {
        return Err(FrameError::Unframeable(len));
    }
    let b = (len as u32).to_be_bytes();
    Ok([0, b[1], b[2], b[3]])
}

/// Splits a byte stream into frames.
///
/// Usage: call [`Deframer::push`] with received bytes; it consumes at most up to the end of the
/// current frame and returns how many bytes it took; when [`Deframer::next_frame`] yields a
/// frame, push the rest. [`Deframer::feed`] does this loop for you.
#[derive(Debug)]
pub struct Deframer {
    max_frame: usize,
    header: [u8; 4],
    header_len: usize,
    /// Length of the frame being collected, once its header is complete.
    want: Option<usize>,
    body: BytesMut,
    ready: Option<Bytes>,
    failed: Option<FrameError>,
}

impl Deframer {
    /// A deframer that refuses frames longer than `max_frame` bytes (clamped to the 24-bit limit).
    pub fn new(max_frame: usize) -> Self {
        Deframer {
            max_frame: max_frame.min(MAX_FRAME_LEN_FIELD),
            header: [0; 4],
            header_len: 0,
            want: None,
            body: BytesMut::new(),
            ready: None,
            failed: None,
        }
    }

    /// The configured maximum frame size.
    pub fn max_frame(&self) -> usize {
        self.max_frame
    }

    /// Bytes of an incomplete frame currently held (header included).
    pub fn buffered(&self) -> usize {
        self.header_len + self.body.len() + self.ready.as_ref().map_or(0, Bytes::len)
    }

    /// Whether no partial frame is buffered (a clean point to close the stream).
    pub fn is_idle(&self) -> bool {
        self.buffered() == 0
    }

    /// Consumes bytes up to the end of the current frame; returns how many were taken. Returns
    /// 0 while a complete frame waits in [`Deframer::next_frame`].
    pub fn push(&mut self, data: &[u8]) -> Result<usize, FrameError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        if self.ready.is_some() {
            return Ok(0);
        }
        let mut taken = 0;
        if self.want.is_none() {
            let n = (FRAME_HEADER_LEN - self.header_len).min(data.len());
            self.header[self.header_len..self.header_len + n].copy_from_slice(&data[..n]);
            self.header_len += n;
            taken += n;
            if self.header_len < FRAME_HEADER_LEN {
                return Ok(taken);
            }
            if self.header[0] != 0 {
                return Err(self.fail(FrameError::NonZeroType(self.header[0])));
            }
            let len =
                u32::from_be_bytes([0, self.header[1], self.header[2], self.header[3]]) as usize;
            if len > self.max_frame {
                return Err(self.fail(FrameError::TooLarge {
                    len,
                    max: self.max_frame,
                }));
            }
            self.want = Some(len);
            self.body.reserve(len);
        }
        let want = self.want.unwrap_or(0);
        let rest = data.get(taken..).unwrap_or(&[]);
        let n = (want - self.body.len()).min(rest.len());
        self.body.extend_from_slice(&rest[..n]);
        taken += n;
        if self.body.len() == want {
            // Taken whole (not split off), so the frame is the only handle on its buffer and a
            // receiver can decrypt or verify it in place.
            self.ready = Some(std::mem::take(&mut self.body).freeze());
            self.want = None;
            self.header_len = 0;
        }
        Ok(taken)
    }

    /// Takes the completed frame (without its 4-byte header), if any.
    pub fn next_frame(&mut self) -> Option<Bytes> {
        self.ready.take()
    }

    /// Pushes all of `data`, calling `on_frame` for every completed frame, in order.
    pub fn feed<F: FnMut(Bytes)>(
        &mut self,
        mut data: &[u8],
        mut on_frame: F,
    ) -> Result<(), FrameError> {
        loop {
            let n = self.push(data)?;
            data = data.get(n..).unwrap_or(&[]);
            if let Some(f) = self.next_frame() {
                on_frame(f);
            } else if data.is_empty() || n == 0 {
                return Ok(());
            }
        }
    }

    /// Like [`Deframer::feed`], but takes the received chunk as `Bytes`: frames that lie wholly
    /// inside the chunk are handed out as zero-copy slices of it; only frames split across
    /// chunks are copied (once) into the deframer's buffer. The frame that ends the chunk is
    /// the chunk itself (advanced past the headers), so when the caller passed the only handle
    /// on a one-frame chunk, the receiver gets the only handle too (and can work in place).
    pub fn feed_bytes<F: FnMut(Bytes)>(
        &mut self,
        mut data: Bytes,
        mut on_frame: F,
    ) -> Result<(), FrameError> {
        while !data.is_empty() {
            let idle = self.header_len == 0 && self.want.is_none() && self.ready.is_none();
            if idle && self.failed.is_none() {
                if let Some(h) = data.get(..FRAME_HEADER_LEN) {
                    if h[0] != 0 {
                        return Err(self.fail(FrameError::NonZeroType(h[0])));
                    }
                    let len = u32::from_be_bytes([0, h[1], h[2], h[3]]) as usize;
                    if len > self.max_frame {
                        return Err(self.fail(FrameError::TooLarge {
                            len,
                            max: self.max_frame,
                        }));
                    }
                    let end = FRAME_HEADER_LEN + len;
                    if end <= data.len() {
                        // `split_to` of the whole chunk moves it out without a new reference.
                        let mut frame = data.split_to(end);
                        bytes::Buf::advance(&mut frame, FRAME_HEADER_LEN);
                        on_frame(frame);
                        continue;
                    }
                }
            }
            let n = self.push(&data)?;
            bytes::Buf::advance(&mut data, n);
            if let Some(f) = self.next_frame() {
                on_frame(f);
            } else if n == 0 {
                break;
            }
        }
        Ok(())
    }

    fn fail(&mut self, e: FrameError) -> FrameError {
        self.failed = Some(e.clone());
        self.body = BytesMut::new();
        e
    }
}

impl Default for Deframer {
    fn default() -> Self {
        Deframer::new(DEFAULT_MAX_FRAME)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn framed(msgs: &[Vec<u8>]) -> Vec<u8> {
        let mut out = Vec::new();
        for m in msgs {
            out.extend_from_slice(&encode_frame_header(m.len()).unwrap());
            out.extend_from_slice(m);
        }
        out
    }

    /// Cuts `0..len` into consecutive chunks of the given sizes; the rest is one last chunk.
    fn chunk_ranges(len: usize, cuts: &[usize]) -> Vec<core::ops::Range<usize>> {
        let mut out = Vec::new();
        let mut pos = 0;
        for &c in cuts.iter().chain(core::iter::once(&len)) {
            if pos >= len {
                break;
            }
            let end = (pos + c).min(len);
            out.push(pos..end);
            pos = end;
        }
        out
    }

    #[test]
    fn header_layout() {
        assert_eq!(encode_frame_header(0x01_0203).unwrap(), [0, 1, 2, 3]);
        assert_eq!(
            encode_frame_header(MAX_FRAME_LEN_FIELD + 1),
            Err(FrameError::Unframeable(MAX_FRAME_LEN_FIELD + 1))
        );
    }

    /// A chunk holding exactly one frame comes back as the only handle on its buffer (so the
    /// receiver can decrypt it in place), and so does a frame collected across chunks.
    #[test]
    fn whole_frames_own_their_buffer() {
        let stream = framed(&[vec![0xFE; 300]]);
        let mut d = Deframer::new(1024);
        let mut got = Vec::new();
        d.feed_bytes(Bytes::from(stream.clone()), |f| got.push(f))
            .unwrap();
        assert_eq!(got.len(), 1);
        let f = got.pop().unwrap();
        assert_eq!(&f[..], &[0xFE; 300][..]);
        assert!(f.try_into_mut().is_ok(), "one-frame chunk: unique");
        let (a, b) = stream.split_at(100);
        d.feed_bytes(Bytes::copy_from_slice(a), |f| got.push(f))
            .unwrap();
        d.feed_bytes(Bytes::copy_from_slice(b), |f| got.push(f))
            .unwrap();
        let f = got.pop().unwrap();
        assert_eq!(&f[..], &[0xFE; 300][..]);
        assert!(f.try_into_mut().is_ok(), "collected frame: unique");
    }

    #[test]
    fn one_byte_at_a_time() {
        let msgs = vec![vec![1u8; 70], vec![], vec![2u8; 3]];
        let stream = framed(&msgs);
        let mut d = Deframer::new(1024);
        let mut got = Vec::new();
        for b in &stream {
            d.feed(std::slice::from_ref(b), |f| got.push(f.to_vec()))
                .unwrap();
        }
        assert_eq!(got, msgs);
        assert!(d.is_idle());
    }

    #[test]
    fn oversize_and_garbage_are_fatal() {
        let mut d = Deframer::new(100);
        assert_eq!(
            d.push(&[0, 0, 0, 101]),
            Err(FrameError::TooLarge { len: 101, max: 100 })
        );
        assert!(d.push(&[0]).is_err(), "errors are sticky");
        let mut d = Deframer::new(100);
        assert_eq!(d.push(b"\x85\0\0\0"), Err(FrameError::NonZeroType(0x85)));
        let mut d = Deframer::new(100);
        assert_eq!(d.push(b"\xfeSMB"), Err(FrameError::NonZeroType(0xFE)));
        let mut d = Deframer::new(100);
        assert_eq!(
            d.feed_bytes(Bytes::from_static(b"\0\0\x01\0"), |_| {}),
            Err(FrameError::TooLarge { len: 256, max: 100 })
        );
        assert!(
            d.feed_bytes(Bytes::from_static(b"\0\0\0\0"), |_| {})
                .is_err()
        );
    }

    #[test]
    fn buffering_is_bounded_to_one_frame() {
        let stream = framed(&[vec![7u8; 10], vec![8u8; 10]]);
        let mut d = Deframer::new(100);
        let n = d.push(&stream).unwrap();
        assert_eq!(n, 14);
        assert_eq!(
            d.push(&stream[n..]).unwrap(),
            0,
            "nothing taken while a frame waits"
        );
        assert_eq!(d.next_frame().unwrap().len(), 10);
        assert_eq!(d.push(&stream[n..]).unwrap(), 14);
    }

    proptest! {
        #[test]
        fn any_chunking_yields_the_same_frames(
            msgs in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..6),
            cuts in proptest::collection::vec(1usize..64, 0..200),
        ) {
            let stream = framed(&msgs);
            let mut d = Deframer::new(512);
            let mut got = Vec::new();
            for r in chunk_ranges(stream.len(), &cuts) {
                d.feed(&stream[r], |f| got.push(f.to_vec())).unwrap();
                prop_assert!(d.buffered() <= 512 + FRAME_HEADER_LEN);
            }
            prop_assert_eq!(got, msgs);
            prop_assert!(d.is_idle());
        }

        #[test]
        fn feed_bytes_matches_feed_and_is_zero_copy(
            msgs in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..6),
            cuts in proptest::collection::vec(1usize..700, 0..20),
        ) {
            let stream = Bytes::from(framed(&msgs));
            let mut d = Deframer::new(512);
            let mut got = Vec::new();
            for r in chunk_ranges(stream.len(), &cuts) {
                d.feed_bytes(stream.slice(r), |f| got.push(f)).unwrap();
                prop_assert!(d.buffered() <= 512 + FRAME_HEADER_LEN);
            }
            let got_vecs: Vec<Vec<u8>> = got.iter().map(|f| f.to_vec()).collect();
            prop_assert_eq!(got_vecs, msgs.clone());
            prop_assert!(d.is_idle());
            // One chunk holding everything: every non-empty frame points into the input.
            let mut d = Deframer::new(512);
            let mut whole = Vec::new();
            d.feed_bytes(stream.clone(), |f| whole.push(f)).unwrap();
            let range = stream.as_ptr_range();
            for f in whole.iter().filter(|f| !f.is_empty()) {
                prop_assert!(range.contains(&f.as_ptr()));
            }
        }

        #[test]
        fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..2048), max in 0usize..4096) {
            let mut d = Deframer::new(max);
            let mut total = 0;
            let _ = Deframer::new(max).feed_bytes(Bytes::from(data.clone()), |_| {});
            let r = d.feed(&data, |f| total += f.len());
            prop_assert!(total <= data.len());
            if r.is_ok() {
                prop_assert!(d.buffered() <= max + FRAME_HEADER_LEN);
            }
        }
    }
}
