//! WRITE payloads that become their own request frame (the client's zero-copy send path).
//!
//! Owns: [`WriteBuf`], a payload buffer with [`WRITE_HEADROOM`] bytes reserved in front, so
//! [`crate::client::Connection::write`] writes the Direct TCP, TRANSFORM (when sealing), SMB2
//! and WRITE headers into the headroom and signs or seals the message in place: the payload is
//! not copied after the application filled it (read from a file straight into it, say), and
//! the frame leaves in one write. [`WriteAt`] names where the data goes; [`WriteRefused`]
//! hands the buffer back when nothing was sent.
//! Must not: encode, sign or seal (the connection does), or do I/O.

use bytes::{Buf, Bytes, BytesMut};

use super::error::SendError;
use crate::session_crypto::SEAL_HEADROOM;
use crate::wire::FileId;
use crate::wire::frame::FRAME_HEADER_LEN;
use crate::wire::header::Header;
use crate::wire::write::{WriteFlags, WriteRequest};

/// Bytes reserved in front of a [`WriteBuf`]'s payload: Direct TCP header, TRANSFORM header,
/// SMB2 header and the WRITE request's fixed part (MS-SMB2 2.1, 2.2.41, 2.2.1, 2.2.21).
pub const WRITE_HEADROOM: usize = SEAL_HEADROOM + Header::SIZE + WriteRequest::FIXED_LEN;

/// Bytes in front of the payload of a signed (or unprotected) WRITE frame.
const SIGNED_LEAD: usize = FRAME_HEADER_LEN + Header::SIZE + WriteRequest::FIXED_LEN;

/// A WRITE's payload in a buffer with room in front for the headers of its frame.
#[derive(Debug, Default)]
pub struct WriteBuf {
    /// `lead` reserved bytes, then the payload.
    buf: BytesMut,
    /// Bytes in front of the payload: [`WRITE_HEADROOM`], or fewer in a recycled buffer.
    lead: usize,
}

impl WriteBuf {
    /// An empty payload with room for `capacity` bytes (plus the headroom).
    pub fn with_capacity(capacity: usize) -> Self {
        let mut buf = BytesMut::with_capacity(WRITE_HEADROOM.saturating_add(capacity));
        buf.resize(WRITE_HEADROOM, 0);
        Self {
            buf,
            lead: WRITE_HEADROOM,
        }
    }

    /// A payload holding a copy of `data`.
    pub fn from_slice(data: &[u8]) -> Self {
        let mut b = Self::with_capacity(data.len());
        b.extend_from_slice(data);
        b
    }

    /// Reuses the allocation of a frame this client sent (an `Output::Transmit`) once nothing
    /// else holds it, so large frame buffers are recycled whatever the global allocator does.
    /// The payload keeps the frame's stale bytes: [`WriteBuf::prepare`] it and overwrite it.
    /// A buffer recycled from an encrypted frame has room for any WRITE; one from a signed
    /// frame has room for a signed WRITE, and an encrypted WRITE from it is copied once into
    /// a new buffer. Gives the frame back when another handle on it is still alive.
    pub fn recycle(frame: Bytes) -> Result<Self, Bytes> {
        let buf = frame.try_into_mut()?;
        let sealed = buf.get(FRAME_HEADER_LEN) == Some(&0xFD);
        let lead = if sealed { WRITE_HEADROOM } else { SIGNED_LEAD }.min(buf.len());
        Ok(Self { buf, lead })
    }

    /// The payload.
    pub fn data(&self) -> &[u8] {
        self.buf.get(self.lead..).unwrap_or(&[])
    }

    /// The payload, mutably.
    pub fn data_mut(&mut self) -> &mut [u8] {
        self.buf.get_mut(self.lead..).unwrap_or(&mut [])
    }

    /// The payload's length.
    pub fn len(&self) -> usize {
        self.buf.len().saturating_sub(self.lead)
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes the payload can grow to without reallocating.
    pub fn capacity(&self) -> usize {
        self.buf.capacity().saturating_sub(self.lead)
    }

    /// Sets the payload to exactly `len` bytes and returns it mutably: bytes it already held
    /// are kept (not zeroed), new ones are zero. Read into it, then [`WriteBuf::truncate`] to
    /// the count actually read.
    pub fn prepare(&mut self, len: usize) -> &mut [u8] {
        self.buf.resize(self.lead.saturating_add(len), 0);
        self.data_mut()
    }

    /// Keeps only the first `len` payload bytes.
    pub fn truncate(&mut self, len: usize) {
        self.buf.truncate(self.lead.saturating_add(len));
    }

    /// Appends payload bytes.
    pub fn extend_from_slice(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The buffer starting `lead` bytes before the payload, when there is that much room.
    pub(crate) fn into_frame(mut self, lead: usize) -> Result<BytesMut, Self> {
        match self.lead.checked_sub(lead) {
            Some(extra) => {
                self.buf.advance(extra);
                Ok(self.buf)
            }
            None => Err(self),
        }
    }
}

/// Where a [`WriteBuf`] is written: the fields of a WRITE request (MS-SMB2 2.2.21) other than
/// its data. Channel, RemainingBytes and the channel info are those of a non-RDMA write (zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WriteAt {
    /// The open file.
    pub file_id: FileId,
    /// Offset in the file.
    pub offset: u64,
    /// WRITE_THROUGH / WRITE_UNBUFFERED.
    pub flags: WriteFlags,
    /// Sent again after its channel failed: the header carries SMB2_FLAGS_REPLAY_OPERATION
    /// (3.x only, MS-SMB2 2.2.1.2).
    pub replay: bool,
}

/// A [`crate::client::Connection::write`] that sent nothing.
#[derive(Debug)]
pub struct WriteRefused {
    /// Why (`SendError::Credits` is backpressure: retry after `Event::CreditsAvailable`).
    pub error: SendError,
    /// The payload, handed back untouched; `None` when it was spent on a frame that could
    /// not be finished (an encoding or sealing failure, never a credit shortage).
    pub data: Option<WriteBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headroom_covers_every_header() {
        assert_eq!(WRITE_HEADROOM, 4 + 52 + 64 + 48);
        let mut b = WriteBuf::with_capacity(8);
        b.prepare(5).copy_from_slice(b"hello");
        assert_eq!(b.data(), b"hello");
        b.truncate(3);
        assert_eq!(b.data(), b"hel");
        assert_eq!(b.len(), 3);
        let f = b.into_frame(SIGNED_LEAD).expect("room");
        assert_eq!(f.len(), SIGNED_LEAD + 3);
        assert_eq!(&f[SIGNED_LEAD..], b"hel");
    }

    #[test]
    fn recycled_buffer_keeps_its_bytes_and_knows_its_room() {
        let mut frame = vec![0u8; SIGNED_LEAD + 10];
        frame[4] = 0xFE;
        frame[SIGNED_LEAD..].copy_from_slice(b"0123456789");
        let mut b = WriteBuf::recycle(Bytes::from(frame)).expect("unique");
        assert_eq!(b.data(), b"0123456789");
        assert_eq!(b.prepare(4), b"0123");
        // Not enough room for a sealed WRITE: handed back.
        let b = b.into_frame(WRITE_HEADROOM).expect_err("no room to seal");
        assert!(b.into_frame(SIGNED_LEAD).is_ok());

        let shared = Bytes::from(vec![0u8; 300]);
        let other = shared.clone();
        assert!(WriteBuf::recycle(shared).is_err());
        drop(other);
    }
}
