//! The 64-byte SMB2 packet header (MS-SMB2 2.2.1), sync and async forms, and protocol detection.
//!
//! Owns: [`Header`] and its codec, [`HeaderFlags`], the [`open_flags!`](crate::open_flags) macro
//! used for every flags field of the codec, the byte offsets of header fields that signing and
//! compounding patch in place, and [`ProtocolKind::detect`] (SMB1 / SMB2 / TRANSFORM /
//! COMPRESSION_TRANSFORM), which the multi-protocol negotiate needs.
//! Must not: interpret bodies, verify signatures or track MessageIds.

use bytes::Bytes;

use super::cursor::{Reader, Writer};
use super::error::{DecodeError, EncodeError};
use super::status::NtStatus;
use super::types::{AsyncId, Command, MessageId, SessionId, TreeId};

/// Declares an open flags newtype: named bits, any other bit preserved through decode and
/// re-encode. `Debug` lists the set names joined by `|` and any unnamed remainder in hex.
#[macro_export]
macro_rules! open_flags {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident($repr:ty) {
            $( $(#[$cmeta:meta])* $cname:ident = $cval:expr ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        $vis struct $name(pub $repr);

        impl $name {
            $( $(#[$cmeta])* pub const $cname: $name = $name($cval); )*

            /// Every named constant with its name, in declaration order.
            pub const NAMED: &'static [(&'static str, $name)] = &[$( (stringify!($cname), $name($cval)) ),*];

            /// No bit set.
            pub const fn empty() -> Self {
                $name(0)
            }
            /// The raw bits.
            pub const fn bits(self) -> $repr {
                self.0
            }
            /// Whether every bit of `other` is set.
            pub const fn contains(self, other: Self) -> bool {
                self.0 & other.0 == other.0
            }
            /// Whether any bit of `other` is set.
            pub const fn intersects(self, other: Self) -> bool {
                self.0 & other.0 != 0
            }
            /// Whether no bit is set.
            pub const fn is_empty(self) -> bool {
                self.0 == 0
            }
            /// Sets the bits of `other`.
            pub fn insert(&mut self, other: Self) {
                self.0 |= other.0;
            }
            /// Clears the bits of `other`.
            pub fn remove(&mut self, other: Self) {
                self.0 &= !other.0;
            }
            /// Sets or clears the bits of `other`.
            pub fn set(&mut self, other: Self, on: bool) {
                if on {
                    self.insert(other)
                } else {
                    self.remove(other)
                }
            }
        }

        impl ::core::ops::BitOr for $name {
            type Output = $name;
            fn bitor(self, rhs: $name) -> $name {
                $name(self.0 | rhs.0)
            }
        }
        impl ::core::ops::BitOrAssign for $name {
            fn bitor_assign(&mut self, rhs: $name) {
                self.0 |= rhs.0;
            }
        }
        impl ::core::ops::BitAnd for $name {
            type Output = $name;
            fn bitand(self, rhs: $name) -> $name {
                $name(self.0 & rhs.0)
            }
        }

        impl ::core::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                let mut rest = self.0;
                let mut first = true;
                f.write_str(concat!(stringify!($name), "("))?;
                for (n, v) in Self::NAMED {
                    if v.0 != 0 && self.0 & v.0 == v.0 {
                        if !first {
                            f.write_str(" | ")?;
                        }
                        f.write_str(n)?;
                        first = false;
                        rest &= !v.0;
                    }
                }
                if rest != 0 || first {
                    if !first {
                        f.write_str(" | ")?;
                    }
                    write!(f, "{:#x}", rest)?;
                }
                f.write_str(")")
            }
        }

        impl From<$repr> for $name {
            fn from(v: $repr) -> Self {
                $name(v)
            }
        }
    };
}

crate::open_flags! {
    /// SMB2 header Flags (MS-SMB2 2.2.1.1).
    pub struct HeaderFlags(u32) {
        /// The message is a response.
        SERVER_TO_REDIR = 0x0000_0001,
        /// The async header form is used (AsyncId instead of Reserved + TreeId).
        ASYNC_COMMAND = 0x0000_0002,
        /// A related operation in a compound chain.
        RELATED_OPERATIONS = 0x0000_0004,
        /// The message is signed.
        SIGNED = 0x0000_0008,
        /// The message priority (3.1.1), three bits.
        PRIORITY_MASK = 0x0000_0070,
        /// A DFS operation.
        DFS_OPERATIONS = 0x1000_0000,
        /// A replayed operation (3.x).
        REPLAY_OPERATION = 0x2000_0000,
    }
}

impl HeaderFlags {
    /// The priority value (0..=7) carried in `PRIORITY_MASK`.
    pub fn priority(self) -> u8 {
        ((self.0 & Self::PRIORITY_MASK.0) >> 4) as u8
    }
}

/// The ProtocolId of an SMB2 header.
pub const SMB2_PROTOCOL_ID: [u8; 4] = [0xFE, b'S', b'M', b'B'];
/// The ProtocolId of an SMB1 header (MS-SMB 2.2.3.1).
pub const SMB1_PROTOCOL_ID: [u8; 4] = [0xFF, b'S', b'M', b'B'];
/// The ProtocolId of a TRANSFORM header (MS-SMB2 2.2.41).
pub const TRANSFORM_PROTOCOL_ID: [u8; 4] = [0xFD, b'S', b'M', b'B'];
/// The ProtocolId of a COMPRESSION_TRANSFORM header (MS-SMB2 2.2.42).
pub const COMPRESSION_PROTOCOL_ID: [u8; 4] = [0xFC, b'S', b'M', b'B'];

/// What a received frame starts with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProtocolKind {
    /// An SMB1 message (only SMB_COM_NEGOTIATE matters: multi-protocol negotiate).
    Smb1,
    /// A plain SMB2 message (or compound chain).
    Smb2,
    /// An encrypted message behind a TRANSFORM header.
    Transform,
    /// A compressed message behind a COMPRESSION_TRANSFORM header.
    Compression,
}

impl ProtocolKind {
    /// Classifies a frame by its first four bytes; `None` if they are none of the known ids.
    pub fn detect(frame: &[u8]) -> Option<ProtocolKind> {
        let id = frame.get(..4)?;
        match [id[0], id[1], id[2], id[3]] {
            SMB1_PROTOCOL_ID => Some(ProtocolKind::Smb1),
            SMB2_PROTOCOL_ID => Some(ProtocolKind::Smb2),
            TRANSFORM_PROTOCOL_ID => Some(ProtocolKind::Transform),
            COMPRESSION_PROTOCOL_ID => Some(ProtocolKind::Compression),
            _ => None,
        }
    }
}

/// Whether a frame is an SMB1 message (ProtocolId 0xFF 'S' 'M' 'B').
pub fn is_smb1(frame: &[u8]) -> bool {
    ProtocolKind::detect(frame) == Some(ProtocolKind::Smb1)
}

/// The part of the header that differs between the sync and async forms (MS-SMB2 2.2.1.1/2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderId {
    /// Sync form: Reserved (historically ProcessId, kept for byte-exact re-encoding) and TreeId.
    Sync {
        /// The Reserved field (Windows sends 0x0000FEFF).
        process_id: u32,
        /// The tree.
        tree_id: TreeId,
    },
    /// Async form: the AsyncId of an interim or final async response, or of a CANCEL.
    Async(AsyncId),
}

/// The 64-byte SMB2 packet header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// CreditCharge (2.1+; 0 in 2.0.2).
    pub credit_charge: u16,
    /// Status in responses. In 3.x requests the same four bytes carry ChannelSequence (low 16
    /// bits) and Reserved; see [`Header::channel_sequence`].
    pub status: NtStatus,
    /// The command.
    pub command: Command,
    /// CreditRequest (requests) or CreditResponse (responses).
    pub credits: u16,
    /// Flags; `ASYNC_COMMAND` must agree with [`Header::id`].
    pub flags: HeaderFlags,
    /// Offset from this header to the next one in a compound, 0 for the last.
    pub next_command: u32,
    /// The MessageId.
    pub message_id: MessageId,
    /// TreeId (sync) or AsyncId (async).
    pub id: HeaderId,
    /// The SessionId.
    pub session_id: SessionId,
    /// The signature (zero when unsigned).
    pub signature: [u8; 16],
}

/// `N` bytes of the header array at a constant offset (always in range for the offsets used).
fn field<const N: usize>(b: &[u8; Header::SIZE], at: usize) -> [u8; N] {
    let mut out = [0u8; N];
    if let Some(s) = b.get(at..at + N) {
        out.copy_from_slice(s);
    }
    out
}

impl Default for Header {
    fn default() -> Self {
        Header {
            credit_charge: 0,
            status: NtStatus::SUCCESS,
            command: Command::NEGOTIATE,
            credits: 0,
            flags: HeaderFlags::empty(),
            next_command: 0,
            message_id: MessageId(0),
            id: HeaderId::Sync {
                process_id: 0,
                tree_id: TreeId(0),
            },
            session_id: SessionId(0),
            signature: [0; 16],
        }
    }
}

impl Header {
    /// Size of the header, also its StructureSize.
    pub const SIZE: usize = 64;
    /// Byte offset of the Status / ChannelSequence field.
    pub const STATUS_OFFSET: usize = 8;
    /// Byte offset of the Flags field.
    pub const FLAGS_OFFSET: usize = 16;
    /// Byte offset of the NextCommand field.
    pub const NEXT_COMMAND_OFFSET: usize = 20;
    /// Byte offset of the MessageId field.
    pub const MESSAGE_ID_OFFSET: usize = 24;
    /// Byte offset of the SessionId field.
    pub const SESSION_ID_OFFSET: usize = 40;
    /// Byte range of the Signature field.
    pub const SIGNATURE_RANGE: core::ops::Range<usize> = 48..64;

    /// The ChannelSequence of a 3.x request (low 16 bits of the Status field).
    pub fn channel_sequence(&self) -> u16 {
        (self.status.0 & 0xFFFF) as u16
    }

    /// Sets the ChannelSequence of a request (Reserved is zeroed).
    pub fn set_channel_sequence(&mut self, seq: u16) {
        self.status = NtStatus(u32::from(seq));
    }

    /// Whether this header is a response.
    pub fn is_response(&self) -> bool {
        self.flags.contains(HeaderFlags::SERVER_TO_REDIR)
    }

    /// The TreeId of a sync header.
    pub fn tree_id(&self) -> Option<TreeId> {
        match self.id {
            HeaderId::Sync { tree_id, .. } => Some(tree_id),
            HeaderId::Async(_) => None,
        }
    }

    /// The AsyncId of an async header.
    pub fn async_id(&self) -> Option<AsyncId> {
        match self.id {
            HeaderId::Async(a) => Some(a),
            HeaderId::Sync { .. } => None,
        }
    }

    /// Decodes the header at the start of `msg`.
    pub fn decode(msg: &Bytes) -> Result<Header, DecodeError> {
        Self::read(&mut Reader::new(msg))
    }

    /// Reads a header at the reader's position (which should be 0: offsets are relative to it).
    ///
    /// The header has a fixed size, so it is bounds-checked once and its fields are then taken
    /// from a 64-byte array at constant offsets (this is on the path of every message).
    pub fn read(r: &mut Reader<'_>) -> Result<Header, DecodeError> {
        let b: [u8; Header::SIZE] = r.array("SMB2 Header")?;
        let id: [u8; 4] = field(&b, 0);
        if id != SMB2_PROTOCOL_ID {
            return Err(DecodeError::InvalidValue {
                field: "SMB2 Header.ProtocolId",
                value: u32::from_le_bytes(id).into(),
            });
        }
        let structure_size = u16::from_le_bytes(field(&b, 4));
        if structure_size != 64 {
            return Err(DecodeError::InvalidValue {
                field: "SMB2 Header.StructureSize",
                value: structure_size.into(),
            });
        }
        let flags = HeaderFlags(u32::from_le_bytes(field(&b, Self::FLAGS_OFFSET)));
        let id = if flags.contains(HeaderFlags::ASYNC_COMMAND) {
            HeaderId::Async(AsyncId(u64::from_le_bytes(field(&b, 32))))
        } else {
            HeaderId::Sync {
                process_id: u32::from_le_bytes(field(&b, 32)),
                tree_id: TreeId(u32::from_le_bytes(field(&b, 36))),
            }
        };
        Ok(Header {
            credit_charge: u16::from_le_bytes(field(&b, 6)),
            status: NtStatus(u32::from_le_bytes(field(&b, Self::STATUS_OFFSET))),
            command: Command(u16::from_le_bytes(field(&b, 12))),
            credits: u16::from_le_bytes(field(&b, 14)),
            flags,
            next_command: u32::from_le_bytes(field(&b, Self::NEXT_COMMAND_OFFSET)),
            message_id: MessageId(u64::from_le_bytes(field(&b, Self::MESSAGE_ID_OFFSET))),
            id,
            session_id: SessionId(u64::from_le_bytes(field(&b, Self::SESSION_ID_OFFSET))),
            signature: field(&b, Self::SIGNATURE_RANGE.start),
        })
    }

    /// Appends the 64-byte header. Fails if the ASYNC_COMMAND flag disagrees with the id form.
    pub fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        let is_async = matches!(self.id, HeaderId::Async(_));
        if is_async != self.flags.contains(HeaderFlags::ASYNC_COMMAND) {
            return Err(EncodeError::Inconsistent {
                field: "SMB2 Header.Flags",
                reason: "ASYNC_COMMAND must be set exactly when an AsyncId is given",
            });
        }
        w.bytes(&SMB2_PROTOCOL_ID);
        w.u16(64);
        w.u16(self.credit_charge);
        w.u32(self.status.0);
        w.u16(self.command.0);
        w.u16(self.credits);
        w.u32(self.flags.0);
        w.u32(self.next_command);
        w.u64(self.message_id.0);
        match self.id {
            HeaderId::Async(a) => w.u64(a.0),
            HeaderId::Sync {
                process_id,
                tree_id,
            } => {
                w.u32(process_id);
                w.u32(tree_id.0);
            }
        }
        w.u64(self.session_id.0);
        w.bytes(&self.signature);
        Ok(())
    }
}

/// Test helpers shared by the body codecs of this module tree.
#[cfg(test)]
pub(crate) mod test_util {
    use bytes::{Bytes, BytesMut};

    use super::Header;
    use crate::wire::body::Body;
    use crate::wire::cursor::{Reader, Writer};
    use crate::wire::error::DecodeError;

    /// A header followed by the encoded body.
    pub(crate) fn encode_body<B: Body>(b: &B) -> Bytes {
        let mut buf = BytesMut::new();
        let mut w = Writer::new(&mut buf);
        let h = Header {
            command: B::COMMAND,
            ..Header::default()
        };
        h.encode(&mut w).expect("test header encodes");
        b.encode(&mut w).expect("test body encodes");
        buf.freeze()
    }

    /// Decodes the body after a 64-byte header.
    pub(crate) fn decode_body<B: Body>(msg: &Bytes) -> Result<B, DecodeError> {
        let mut r = Reader::at(msg, Header::SIZE);
        B::decode(&mut r)
    }

    /// Round-trips `b`, checks the re-encoding is byte-exact, and that every truncation shorter
    /// than `full - optional_tail` bytes fails with an error (never a panic).
    pub(crate) fn check_body<B: Body + PartialEq + core::fmt::Debug>(b: &B, optional_tail: usize) {
        let msg = encode_body(b);
        let back: B = decode_body(&msg).expect("decodes");
        assert_eq!(&back, b);
        assert_eq!(encode_body(&back), msg, "re-encoding is byte-exact");
        for len in Header::SIZE..msg.len().saturating_sub(optional_tail) {
            let cut = msg.slice(..len);
            assert!(
                decode_body::<B>(&cut).is_err(),
                "truncated to {len} of {} bytes still decoded",
                msg.len()
            );
        }
    }

    /// Feeds arbitrary bytes after a header to a body decoder; it must not panic.
    pub(crate) fn garbage_body<B: Body>(data: &[u8]) {
        let mut v = vec![0u8; Header::SIZE];
        v.extend_from_slice(data);
        let msg = Bytes::from(v);
        let _ = decode_body::<B>(&msg);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;
    use proptest::prelude::*;

    fn arb_header() -> impl Strategy<Value = Header> {
        (
            any::<u16>(),
            any::<u32>(),
            any::<u16>(),
            any::<u16>(),
            any::<u32>(),
            any::<u32>(),
            any::<u64>(),
            prop_oneof![
                (any::<u32>(), any::<u32>()).prop_map(|(p, t)| HeaderId::Sync {
                    process_id: p,
                    tree_id: TreeId(t)
                }),
                any::<u64>().prop_map(|a| HeaderId::Async(AsyncId(a))),
            ],
            any::<u64>(),
            any::<[u8; 16]>(),
        )
            .prop_map(|(cc, st, cmd, cr, fl, nc, mid, id, sid, sig)| {
                let mut flags = HeaderFlags(fl);
                flags.set(HeaderFlags::ASYNC_COMMAND, matches!(id, HeaderId::Async(_)));
                Header {
                    credit_charge: cc,
                    status: NtStatus(st),
                    command: Command(cmd),
                    credits: cr,
                    flags,
                    next_command: nc,
                    message_id: MessageId(mid),
                    id,
                    session_id: SessionId(sid),
                    signature: sig,
                }
            })
    }

    fn encode(h: &Header) -> Bytes {
        let mut buf = BytesMut::new();
        h.encode(&mut Writer::new(&mut buf)).unwrap();
        buf.freeze()
    }

    proptest! {
        #[test]
        fn header_round_trips(h in arb_header()) {
            let b = encode(&h);
            prop_assert_eq!(b.len(), Header::SIZE);
            prop_assert_eq!(Header::decode(&b).unwrap(), h);
            for len in 0..Header::SIZE {
                prop_assert!(Header::decode(&b.slice(..len)).is_err());
            }
        }

        #[test]
        fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..128)) {
            let _ = Header::decode(&Bytes::from(data.clone()));
            let _ = ProtocolKind::detect(&data);
        }
    }

    /// MS-SMB2 2.2.1.2 layout, checked field by field: a sync NEGOTIATE request header as a
    /// Windows client sends it.
    #[test]
    fn sync_header_layout() {
        let h = Header {
            credit_charge: 1,
            status: NtStatus(0),
            command: Command::SESSION_SETUP,
            credits: 0x1F,
            flags: HeaderFlags::SIGNED | HeaderFlags::RELATED_OPERATIONS,
            next_command: 0x68,
            message_id: MessageId(2),
            id: HeaderId::Sync {
                process_id: 0xFEFF,
                tree_id: TreeId(0x0102_0304),
            },
            session_id: SessionId(0x1122_3344_5566_7788),
            signature: [0xAA; 16],
        };
        let b = encode(&h);
        let expected = hex::decode(concat!(
            "fe534d42",
            "4000",
            "0100",
            "00000000",
            "0100",
            "1f00",
            "0c000000",
            "68000000",
            "0200000000000000",
            "fffe0000",
            "04030201",
            "8877665544332211",
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        ))
        .unwrap();
        assert_eq!(&b[..], &expected[..]);
        assert_eq!(Header::decode(&b).unwrap(), h);
    }

    /// MS-SMB2 2.2.1.1 layout: an async interim STATUS_PENDING response.
    #[test]
    fn async_header_layout() {
        let h = Header {
            credit_charge: 0,
            status: NtStatus::PENDING,
            command: Command::CHANGE_NOTIFY,
            credits: 1,
            flags: HeaderFlags::SERVER_TO_REDIR | HeaderFlags::ASYNC_COMMAND,
            next_command: 0,
            message_id: MessageId(9),
            id: HeaderId::Async(AsyncId(0x55)),
            session_id: SessionId(7),
            signature: [0; 16],
        };
        let b = encode(&h);
        assert_eq!(&b[8..12], &[0x03, 0x01, 0, 0]);
        assert_eq!(&b[16..20], &[0x03, 0, 0, 0]);
        assert_eq!(&b[32..40], &[0x55, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(Header::decode(&b).unwrap(), h);
        assert_eq!(h.async_id(), Some(AsyncId(0x55)));
        assert!(h.is_response());
    }

    #[test]
    fn inconsistent_async_flag_is_refused() {
        let h = Header {
            flags: HeaderFlags::ASYNC_COMMAND,
            ..Header::default()
        };
        let mut buf = BytesMut::new();
        assert!(h.encode(&mut Writer::new(&mut buf)).is_err());
    }

    #[test]
    fn bad_protocol_id_and_structure_size() {
        let mut v = encode(&Header::default()).to_vec();
        v[0] = 0xFF;
        assert!(matches!(
            Header::decode(&Bytes::from(v.clone())),
            Err(DecodeError::InvalidValue { .. })
        ));
        v[0] = 0xFE;
        v[4] = 63;
        assert!(Header::decode(&Bytes::from(v)).is_err());
    }

    #[test]
    fn detection_and_flags_debug() {
        assert!(is_smb1(b"\xffSMBr"));
        assert_eq!(
            ProtocolKind::detect(b"\xfdSMB"),
            Some(ProtocolKind::Transform)
        );
        assert_eq!(
            ProtocolKind::detect(b"\xfcSMB"),
            Some(ProtocolKind::Compression)
        );
        assert_eq!(ProtocolKind::detect(b"\xfeSM"), None);
        let f = HeaderFlags::SIGNED | HeaderFlags(0x100);
        assert_eq!(format!("{f:?}"), "HeaderFlags(SIGNED | 0x100)");
        assert_eq!(HeaderFlags(0x30).priority(), 3);
        assert_eq!(format!("{:?}", HeaderFlags::empty()), "HeaderFlags(0x0)");
    }

    /// The header of a real SMB 3.0 WRITE request (Microsoft Open Specifications blog
    /// "Encryption in SMB 3.0", shared/vectors.md): decodes and re-encodes byte-exact.
    #[test]
    fn golden_windows_write_header() {
        let raw = hex::decode(concat!(
            "FE534D4240000100000000000900400008000000000000000400000000000000",
            "FFFE0000010000001100001400E4080000000000000000000000000000000000"
        ))
        .unwrap();
        let msg = Bytes::from(raw);
        let h = Header::decode(&msg).unwrap();
        assert_eq!(h.command, Command::WRITE);
        assert_eq!(h.credits, 0x40);
        assert_eq!(h.flags, HeaderFlags::SIGNED);
        assert_eq!(h.message_id, MessageId(4));
        assert_eq!(h.tree_id(), Some(TreeId(1)));
        assert_eq!(h.session_id, SessionId(0x0008_E400_1400_0011));
        assert_eq!(encode(&h), msg);
    }
}
