//! Connection-oriented DCE/RPC PDUs (C706 12.6, MS-RPCE 2.2.2).
//!
//! Owns: the 16-byte common header, the bind / bind_ack / bind_nak / alter_context(_resp) /
//! request / response / fault bodies, the optional auth verifier (sec_trailer plus auth value),
//! [`SyntaxId`] with the NDR, NDR64 and bind-time-feature transfer syntaxes,
//! [`FragmentReader`] (cuts a byte stream into whole fragments by `frag_length`),
//! [`StubReassembler`] (joins request/response fragments of one call) and [`fragment_stub`]
//! (splits a stub into fragments no larger than the negotiated size).
//! Must not: interpret stub data (that is NDR's and the interface's job) or keep association
//! state (the pipe and client engines do).
//!
//! Only the little-endian, ASCII, IEEE data representation is accepted (every Windows and Samba
//! peer uses it); a big-endian `packed_drep` is a decode error.

use bytes::{Bytes, BytesMut};

use crate::wire::cursor::{Reader, Writer, len_u16, padding_to};
use crate::wire::{DecodeError, EncodeError, Guid};
use crate::{open_enum, open_flags};

/// Size of the common header (C706 12.6.3.1).
pub const HEADER_LEN: usize = 16;
/// The fragment size every implementation must accept (C706 12.6.3.1, MustRecvFragSize).
pub const MIN_FRAG: u16 = 1432;
/// The fragment size Windows and Samba offer (and that we offer by default).
pub const DEFAULT_MAX_FRAG: u16 = 4280;
/// Size of the sec_trailer that precedes an auth value (C706 13.2.6.1, MS-RPCE 2.2.2.11).
pub const SEC_TRAILER_LEN: usize = 8;
/// Fixed part of a request body (alloc_hint, p_cont_id, opnum).
pub const REQUEST_FIXED: usize = 8;
/// Fixed part of a response body (alloc_hint, p_cont_id, cancel_count, reserved).
pub const RESPONSE_FIXED: usize = 8;
/// packed_drep for little-endian integers, ASCII characters, IEEE floats.
pub const DREP_LE: [u8; 4] = [0x10, 0, 0, 0];

open_enum! {
    /// PTYPE of the common header (C706 12.6.3.1).
    pub struct PacketType(u8) {
        REQUEST = 0,
        PING = 1,
        RESPONSE = 2,
        FAULT = 3,
        WORKING = 4,
        NOCALL = 5,
        REJECT = 6,
        ACK = 7,
        CL_CANCEL = 8,
        FACK = 9,
        CANCEL_ACK = 10,
        BIND = 11,
        BIND_ACK = 12,
        BIND_NAK = 13,
        ALTER_CONTEXT = 14,
        ALTER_CONTEXT_RESP = 15,
        AUTH3 = 16,
        SHUTDOWN = 17,
        CO_CANCEL = 18,
        ORPHANED = 19,
    }
}

open_flags! {
    /// pfc_flags of the common header (C706 12.6.3.1, MS-RPCE 2.2.2.3).
    pub struct PfcFlags(u8) {
        /// First fragment of a call.
        FIRST_FRAG = 0x01,
        /// Last fragment of a call.
        LAST_FRAG = 0x02,
        /// A cancel was pending at the sender (request); in bind/bind_ack, header signing is
        /// supported (MS-RPCE PFC_SUPPORT_HEADER_SIGN, same bit).
        PENDING_CANCEL = 0x04,
        /// Concurrent multiplexing is supported.
        CONC_MPX = 0x10,
        /// Fault: the call did not execute.
        DID_NOT_EXECUTE = 0x20,
        /// Maybe semantics.
        MAYBE = 0x40,
        /// A request carries an object UUID.
        OBJECT_UUID = 0x80,
    }
}

open_enum! {
    /// p_cont_def_result_t of a bind_ack result (C706 12.6.3.1, MS-RPCE 2.2.2.4 negotiate_ack).
    pub struct AckResult(u16) {
        ACCEPTANCE = 0,
        USER_REJECTION = 1,
        PROVIDER_REJECTION = 2,
        NEGOTIATE_ACK = 3,
    }
}

open_enum! {
    /// p_provider_reason_t of a rejected presentation context (C706 12.6.3.1).
    pub struct ProviderReason(u16) {
        REASON_NOT_SPECIFIED = 0,
        ABSTRACT_SYNTAX_NOT_SUPPORTED = 1,
        PROPOSED_TRANSFER_SYNTAXES_NOT_SUPPORTED = 2,
        LOCAL_LIMIT_EXCEEDED = 3,
    }
}

open_enum! {
    /// p_reject_reason_t of a bind_nak (C706 12.6.3.1, MS-RPCE 2.2.2.5).
    pub struct RejectReason(u16) {
        REASON_NOT_SPECIFIED = 0,
        TEMPORARY_CONGESTION = 1,
        LOCAL_LIMIT_EXCEEDED = 2,
        CALLED_PADDR_UNKNOWN = 3,
        PROTOCOL_VERSION_NOT_SUPPORTED = 4,
        DEFAULT_CONTEXT_NOT_SUPPORTED = 5,
        USER_DATA_NOT_READABLE = 6,
        NO_PSAP_AVAILABLE = 7,
        AUTHENTICATION_TYPE_NOT_RECOGNIZED = 8,
        INVALID_CHECKSUM = 9,
    }
}

open_enum! {
    /// The status of a fault PDU (C706 appendix E, MS-RPCE 2.2.2.7 / 3.3.2.5).
    pub struct FaultStatus(u32) {
        /// The operation number is out of range for the interface.
        NCA_S_OP_RNG_ERROR = 0x1C01_0002,
        /// The interface (presentation context) is unknown.
        NCA_S_UNK_IF = 0x1C01_0003,
        /// The peer broke the protocol.
        NCA_S_PROTO_ERROR = 0x1C01_000B,
        /// The presentation context id does not match a bound context.
        NCA_S_FAULT_CONTEXT_MISMATCH = 0x1C00_001A,
        /// The server ran out of memory (also: a request exceeded our size limit).
        NCA_S_FAULT_REMOTE_NO_MEMORY = 0x1C00_0012,
        /// Access denied (e.g. an authenticated request without a security context).
        ACCESS_DENIED = 0x0000_0005,
        /// The stub data could not be unmarshalled (RPC_X_BAD_STUB_DATA, nca_s_fault_ndr).
        BAD_STUB_DATA = 0x0000_06F7,
    }
}

/// A presentation syntax: interface or transfer syntax UUID plus version (C706 p_syntax_id_t).
/// `version` holds the major version in its low 16 bits and the minor in its high 16 bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SyntaxId {
    /// The UUID in its NDR (little-endian fields) wire form.
    pub uuid: Guid,
    /// if_version: major | minor << 16.
    pub version: u32,
}

/// Builds a UUID's wire bytes from its textual fields (`d1-d2-d3-d4[0..2]-d4[2..8]`).
pub const fn uuid(d1: u32, d2: u16, d3: u16, d4: [u8; 8]) -> Guid {
    let a = d1.to_le_bytes();
    let b = d2.to_le_bytes();
    let c = d3.to_le_bytes();
    Guid([
        a[0], a[1], a[2], a[3], b[0], b[1], c[0], c[1], d4[0], d4[1], d4[2], d4[3], d4[4], d4[5],
        d4[6], d4[7],
    ])
}

impl SyntaxId {
    /// NDR 2.0: 8a885d04-1ceb-11c9-9fe8-08002b104860 version 2 (C706 14).
    pub const NDR: SyntaxId = SyntaxId {
        uuid: uuid(
            0x8a88_5d04,
            0x1ceb,
            0x11c9,
            [0x9f, 0xe8, 0x08, 0x00, 0x2b, 0x10, 0x48, 0x60],
        ),
        version: 2,
    };
    /// NDR64: 71710533-beba-4937-8319-b5dbef9ccc36 version 1 (MS-RPCE 2.2.5). We do not
    /// implement it and reject contexts that offer only it.
    pub const NDR64: SyntaxId = SyntaxId {
        uuid: uuid(
            0x7171_0533,
            0xbeba,
            0x4937,
            [0x83, 0x19, 0xb5, 0xdb, 0xef, 0x9c, 0xcc, 0x36],
        ),
        version: 1,
    };

    /// Builds a syntax id from a UUID and a major.minor version.
    pub const fn new(uuid: Guid, major: u16, minor: u16) -> Self {
        SyntaxId {
            uuid,
            version: major as u32 | (minor as u32) << 16,
        }
    }

    /// If this is a bind-time feature negotiation syntax (MS-RPCE 3.3.1.5.3:
    /// 6cb71c2c-9812-4540-XXXX-XXXXXXXXXXXX version 1), its feature bitmask (the first two of
    /// the last eight UUID bytes, little-endian).
    pub fn bind_time_features(&self) -> Option<u16> {
        let prefix = uuid(0x6cb7_1c2c, 0x9812, 0x4540, [0; 8]);
        if self.uuid.0[..8] == prefix.0[..8] && self.version == 1 {
            Some(u16::from_le_bytes([self.uuid.0[8], self.uuid.0[9]]))
        } else {
            None
        }
    }

    /// The bind-time feature negotiation syntax offering `features`.
    pub fn bind_time_feature_syntax(features: u16) -> Self {
        let f = features.to_le_bytes();
        SyntaxId {
            uuid: uuid(0x6cb7_1c2c, 0x9812, 0x4540, [f[0], f[1], 0, 0, 0, 0, 0, 0]),
            version: 1,
        }
    }

    fn read(r: &mut Reader<'_>, field: &'static str) -> Result<Self, DecodeError> {
        Ok(SyntaxId {
            uuid: Guid(r.array(field)?),
            version: r.u32(field)?,
        })
    }

    fn write(&self, w: &mut Writer<'_>) {
        w.bytes(&self.uuid.0);
        w.u32(self.version);
    }
}

/// Bind-time feature bits (MS-RPCE 2.2.2.14).
pub mod features {
    /// Security context multiplexing.
    pub const SECURITY_CONTEXT_MULTIPLEXING: u16 = 0x0001;
    /// Keep the connection open on an orphaned call.
    pub const KEEP_CONNECTION_ON_ORPHAN: u16 = 0x0002;
}

/// The common header (C706 12.6.3.1), as decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// rpc_vers_minor (0 or 1; both mean 5.x connection-oriented).
    pub minor_version: u8,
    /// PTYPE.
    pub ptype: PacketType,
    /// pfc_flags.
    pub flags: PfcFlags,
    /// frag_length: the whole fragment, header included.
    pub frag_length: u16,
    /// auth_length: the auth value only (not the sec_trailer).
    pub auth_length: u16,
    /// call_id.
    pub call_id: u32,
}

impl Header {
    /// Decodes and checks the common header at the start of `buf`: version 5.0/5.1,
    /// little-endian data representation, a frag_length that can hold the header and the auth
    /// verifier.
    pub fn peek(buf: &[u8]) -> Result<Option<Header>, DecodeError> {
        // A fixed-size array: every index below is in bounds by construction.
        let Some(h) = buf.first_chunk::<HEADER_LEN>() else {
            return Ok(None);
        };
        if h[0] != 5 {
            return Err(DecodeError::InvalidValue {
                field: "rpc_vers",
                value: h[0].into(),
            });
        }
        let minor_version = h[1];
        if minor_version > 1 {
            return Err(DecodeError::InvalidValue {
                field: "rpc_vers_minor",
                value: minor_version.into(),
            });
        }
        let ptype = PacketType(h[2]);
        let flags = PfcFlags(h[3]);
        // packed_drep: h[4] integer (high nibble, 1 = little-endian) and character (low
        // nibble, 0 = ASCII) representation; h[5] floating point (0 = IEEE).
        if h[4] != 0x10 || h[5] != 0 {
            return Err(DecodeError::Malformed {
                field: "packed_drep",
                reason: "only little-endian ASCII IEEE data representation is supported",
            });
        }
        let frag_length = u16::from_le_bytes([h[8], h[9]]);
        let auth_length = u16::from_le_bytes([h[10], h[11]]);
        let call_id = u32::from_le_bytes([h[12], h[13], h[14], h[15]]);
        let min = HEADER_LEN
            + if auth_length > 0 {
                SEC_TRAILER_LEN + usize::from(auth_length)
            } else {
                0
            };
        if usize::from(frag_length) < min {
            return Err(DecodeError::InvalidValue {
                field: "frag_length",
                value: frag_length.into(),
            });
        }
        Ok(Some(Header {
            minor_version,
            ptype,
            flags,
            frag_length,
            auth_length,
            call_id,
        }))
    }
}

/// The auth verifier: sec_trailer plus auth value (C706 13.2.6.1, MS-RPCE 2.2.2.11). Kept raw:
/// we run no security provider on the pipe (the SMB session already authenticates).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuthVerifier {
    /// auth_type (e.g. 0x0a NTLMSSP, 0x09 SPNEGO).
    pub auth_type: u8,
    /// auth_level.
    pub auth_level: u8,
    /// auth_pad_length: padding before the sec_trailer, taken out of the body (stub).
    pub pad_length: u8,
    /// auth_context_id.
    pub context_id: u32,
    /// The auth value (auth_length bytes).
    pub value: Bytes,
}

/// One presentation context offered in a bind or alter_context (p_cont_elem_t).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContextElem {
    /// p_cont_id.
    pub context_id: u16,
    /// The interface.
    pub abstract_syntax: SyntaxId,
    /// The transfer syntaxes offered, preferred first (at least one).
    pub transfer_syntaxes: Vec<SyntaxId>,
}

/// bind and alter_context bodies (C706 12.6.4.3, 12.6.4.1).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Bind {
    /// max_xmit_frag: the largest fragment the sender will transmit.
    pub max_xmit_frag: u16,
    /// max_recv_frag: the largest fragment the sender can receive.
    pub max_recv_frag: u16,
    /// assoc_group_id (0: a new group).
    pub assoc_group_id: u32,
    /// The presentation contexts (at most 255).
    pub contexts: Vec<ContextElem>,
}

/// One result of a bind_ack or alter_context_resp (p_result_t).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ContextResult {
    /// result.
    pub result: AckResult,
    /// reason: a [`ProviderReason`] for rejections, the feature bitmask for negotiate_ack.
    pub reason: u16,
    /// The transfer syntax accepted (all zeros otherwise).
    pub transfer_syntax: SyntaxId,
}

/// bind_ack and alter_context_resp bodies (C706 12.6.4.4, 12.6.4.2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BindAck {
    /// max_xmit_frag granted.
    pub max_xmit_frag: u16,
    /// max_recv_frag granted.
    pub max_recv_frag: u16,
    /// assoc_group_id.
    pub assoc_group_id: u32,
    /// sec_addr without its NUL terminator (e.g. `\PIPE\srvsvc`; empty in alter_context_resp).
    pub secondary_address: String,
    /// One result per offered context, in order.
    pub results: Vec<ContextResult>,
}

/// bind_nak body (C706 12.6.4.5).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BindNak {
    /// provider_reject_reason.
    pub reason: RejectReason,
    /// Supported protocol versions (major, minor).
    pub versions: Vec<(u8, u8)>,
}

/// request body (C706 12.6.4.9).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Request {
    /// alloc_hint: the expected size of the whole stub.
    pub alloc_hint: u32,
    /// p_cont_id.
    pub context_id: u16,
    /// opnum.
    pub opnum: u16,
    /// The object UUID (present iff PFC_OBJECT_UUID).
    pub object: Option<Guid>,
    /// This fragment's stub data.
    pub stub: Bytes,
}

/// response body (C706 12.6.4.10).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Response {
    /// alloc_hint.
    pub alloc_hint: u32,
    /// p_cont_id.
    pub context_id: u16,
    /// cancel_count.
    pub cancel_count: u8,
    /// This fragment's stub data.
    pub stub: Bytes,
}

/// fault body (C706 12.6.4.7; MS-RPCE 2.2.2.7 adds a reserved u32 after the status).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Fault {
    /// alloc_hint.
    pub alloc_hint: u32,
    /// p_cont_id.
    pub context_id: u16,
    /// cancel_count.
    pub cancel_count: u8,
    /// The fault status.
    pub status: FaultStatus,
}

/// The body of a PDU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// bind.
    Bind(Bind),
    /// alter_context (same layout as bind).
    AlterContext(Bind),
    /// bind_ack.
    BindAck(BindAck),
    /// alter_context_resp (same layout as bind_ack).
    AlterContextResp(BindAck),
    /// bind_nak.
    BindNak(BindNak),
    /// request.
    Request(Request),
    /// response.
    Response(Response),
    /// fault.
    Fault(Fault),
    /// Any other PTYPE (auth3, shutdown, co_cancel, orphaned, ...), body kept raw.
    Other(PacketType, Bytes),
}

impl Body {
    /// The PTYPE this body is sent with.
    pub fn packet_type(&self) -> PacketType {
        match self {
            Body::Bind(_) => PacketType::BIND,
            Body::AlterContext(_) => PacketType::ALTER_CONTEXT,
            Body::BindAck(_) => PacketType::BIND_ACK,
            Body::AlterContextResp(_) => PacketType::ALTER_CONTEXT_RESP,
            Body::BindNak(_) => PacketType::BIND_NAK,
            Body::Request(_) => PacketType::REQUEST,
            Body::Response(_) => PacketType::RESPONSE,
            Body::Fault(_) => PacketType::FAULT,
            Body::Other(t, _) => *t,
        }
    }
}

/// One connection-oriented PDU (one fragment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pdu {
    /// pfc_flags.
    pub flags: PfcFlags,
    /// call_id.
    pub call_id: u32,
    /// The body.
    pub body: Body,
    /// The auth verifier, if auth_length is non-zero.
    pub auth: Option<AuthVerifier>,
}

/// The most presentation contexts or results in one PDU (the count is a u8 on the wire).
const MAX_CONTEXTS: usize = 255;

impl Pdu {
    /// A single-fragment PDU (FIRST_FRAG | LAST_FRAG) without auth.
    pub fn single(call_id: u32, body: Body) -> Self {
        Pdu {
            flags: PfcFlags::FIRST_FRAG | PfcFlags::LAST_FRAG,
            call_id,
            body,
            auth: None,
        }
    }

    /// Decodes one whole fragment (`frag.len()` must equal its frag_length).
    pub fn decode(frag: &Bytes) -> Result<Pdu, DecodeError> {
        let h = Header::peek(frag)?.ok_or(DecodeError::Truncated {
            field: "DCE/RPC header",
            offset: 0,
            needed: HEADER_LEN,
            available: frag.len(),
        })?;
        if usize::from(h.frag_length) != frag.len() {
            return Err(DecodeError::InvalidValue {
                field: "frag_length",
                value: h.frag_length.into(),
            });
        }
        // Where the body ends: before the sec_trailer and auth value, if any.
        let (body_end, auth) = if h.auth_length > 0 {
            let trailer = frag.len() - usize::from(h.auth_length) - SEC_TRAILER_LEN;
            let mut r = Reader::at(frag, trailer);
            let auth_type = r.u8("sec_trailer.auth_type")?;
            let auth_level = r.u8("sec_trailer.auth_level")?;
            let pad_length = r.u8("sec_trailer.auth_pad_length")?;
            r.skip(1, "sec_trailer.auth_reserved")?;
            let context_id = r.u32("sec_trailer.auth_context_id")?;
            let value = r.rest();
            (
                trailer,
                Some(AuthVerifier {
                    auth_type,
                    auth_level,
                    pad_length,
                    context_id,
                    value,
                }),
            )
        } else {
            (frag.len(), None)
        };
        // auth_pad_length bytes of padding precede the sec_trailer, whatever the PDU type.
        let pad = auth.as_ref().map_or(0, |a| usize::from(a.pad_length));
        let body_end = body_end
            .checked_sub(pad)
            .filter(|end| *end >= HEADER_LEN)
            .ok_or(DecodeError::InvalidValue {
                field: "sec_trailer.auth_pad_length",
                value: pad as u64,
            })?;
        let body_bytes = frag.slice(..body_end);
        let mut r = Reader::at(&body_bytes, HEADER_LEN);
        let body = match h.ptype {
            PacketType::BIND => Body::Bind(decode_bind(&mut r)?),
            PacketType::ALTER_CONTEXT => Body::AlterContext(decode_bind(&mut r)?),
            PacketType::BIND_ACK => Body::BindAck(decode_bind_ack(&mut r)?),
            PacketType::ALTER_CONTEXT_RESP => Body::AlterContextResp(decode_bind_ack(&mut r)?),
            PacketType::BIND_NAK => {
                let reason = RejectReason(r.u16("bind_nak.provider_reject_reason")?);
                let n = r.u8("bind_nak.n_protocols")?;
                let mut versions = Vec::with_capacity(usize::from(n).min(r.remaining() / 2));
                for _ in 0..n {
                    versions.push((r.u8("bind_nak.major")?, r.u8("bind_nak.minor")?));
                }
                Body::BindNak(BindNak { reason, versions })
            }
            PacketType::REQUEST => {
                let alloc_hint = r.u32("request.alloc_hint")?;
                let context_id = r.u16("request.p_cont_id")?;
                let opnum = r.u16("request.opnum")?;
                let object = if h.flags.contains(PfcFlags::OBJECT_UUID) {
                    Some(Guid(r.array("request.object")?))
                } else {
                    None
                };
                let stub = r.rest();
                Body::Request(Request {
                    alloc_hint,
                    context_id,
                    opnum,
                    object,
                    stub,
                })
            }
            PacketType::RESPONSE => {
                let alloc_hint = r.u32("response.alloc_hint")?;
                let context_id = r.u16("response.p_cont_id")?;
                let cancel_count = r.u8("response.cancel_count")?;
                r.skip(1, "response.reserved")?;
                let stub = r.rest();
                Body::Response(Response {
                    alloc_hint,
                    context_id,
                    cancel_count,
                    stub,
                })
            }
            PacketType::FAULT => {
                let alloc_hint = r.u32("fault.alloc_hint")?;
                let context_id = r.u16("fault.p_cont_id")?;
                let cancel_count = r.u8("fault.cancel_count")?;
                r.skip(1, "fault.reserved")?;
                let status = FaultStatus(r.u32("fault.status")?);
                // MS-RPCE's reserved u32 is optional in C706; tolerate its absence.
                Body::Fault(Fault {
                    alloc_hint,
                    context_id,
                    cancel_count,
                    status,
                })
            }
            other => Body::Other(other, r.rest()),
        };
        Ok(Pdu {
            flags: h.flags,
            call_id: h.call_id,
            body,
            auth,
        })
    }

    /// Encodes the PDU as one fragment, appending to `out`. Fails if it would exceed 65535
    /// bytes (the caller fragments large stubs with [`fragment_stub`]).
    pub fn encode(&self, out: &mut BytesMut) -> Result<(), EncodeError> {
        let start = out.len();
        let mut w = Writer::new(out);
        let mut flags = self.flags;
        if let Body::Request(q) = &self.body {
            flags.set(PfcFlags::OBJECT_UUID, q.object.is_some());
        }
        w.u8(5);
        w.u8(0);
        w.u8(self.body.packet_type().0);
        w.u8(flags.0);
        w.bytes(&DREP_LE);
        let len_at = w.absolute();
        w.u16(0);
        w.u16(0);
        w.u32(self.call_id);
        match &self.body {
            Body::Bind(b) | Body::AlterContext(b) => encode_bind(&mut w, b)?,
            Body::BindAck(a) | Body::AlterContextResp(a) => encode_bind_ack(&mut w, a)?,
            Body::BindNak(n) => {
                w.u16(n.reason.0);
                w.u8(
                    u8::try_from(n.versions.len()).map_err(|_| EncodeError::TooLong {
                        field: "bind_nak.n_protocols",
                        len: n.versions.len(),
                        max: 255,
                    })?,
                );
                for (major, minor) in &n.versions {
                    w.u8(*major);
                    w.u8(*minor);
                }
            }
            Body::Request(q) => {
                w.u32(q.alloc_hint);
                w.u16(q.context_id);
                w.u16(q.opnum);
                if let Some(o) = &q.object {
                    w.bytes(&o.0);
                }
                w.bytes(&q.stub);
            }
            Body::Response(p) => {
                w.u32(p.alloc_hint);
                w.u16(p.context_id);
                w.u8(p.cancel_count);
                w.u8(0);
                w.bytes(&p.stub);
            }
            Body::Fault(f) => {
                w.u32(f.alloc_hint);
                w.u16(f.context_id);
                w.u8(f.cancel_count);
                w.u8(0);
                w.u32(f.status.0);
                w.u32(0);
            }
            Body::Other(_, raw) => w.bytes(raw),
        }
        let mut auth_length = 0;
        if let Some(a) = &self.auth {
            w.zeros(usize::from(a.pad_length));
            w.u8(a.auth_type);
            w.u8(a.auth_level);
            w.u8(a.pad_length);
            w.u8(0);
            w.u32(a.context_id);
            w.bytes(&a.value);
            auth_length = len_u16(a.value.len(), "auth_length")?;
        }
        let total = len_u16(w.absolute() - start, "frag_length")?;
        w.patch_u16(len_at, total);
        w.patch_u16(len_at + 2, auth_length);
        Ok(())
    }

    /// Encodes into a fresh buffer.
    pub fn to_bytes(&self) -> Result<Bytes, EncodeError> {
        let mut out = BytesMut::new();
        self.encode(&mut out)?;
        Ok(out.freeze())
    }
}

fn decode_bind(r: &mut Reader<'_>) -> Result<Bind, DecodeError> {
    let max_xmit_frag = r.u16("bind.max_xmit_frag")?;
    let max_recv_frag = r.u16("bind.max_recv_frag")?;
    let assoc_group_id = r.u32("bind.assoc_group_id")?;
    let n = r.u8("bind.n_context_elem")?;
    r.skip(3, "bind.reserved")?;
    // Each element is at least 44 bytes: bound the allocation by what is there.
    let mut contexts = Vec::with_capacity(usize::from(n).min(r.remaining() / 44));
    for _ in 0..n {
        let context_id = r.u16("p_cont_elem.p_cont_id")?;
        let n_ts = r.u8("p_cont_elem.n_transfer_syn")?;
        r.skip(1, "p_cont_elem.reserved")?;
        let abstract_syntax = SyntaxId::read(r, "p_cont_elem.abstract_syntax")?;
        if n_ts == 0 {
            return Err(DecodeError::InvalidValue {
                field: "p_cont_elem.n_transfer_syn",
                value: 0,
            });
        }
        let mut transfer_syntaxes = Vec::with_capacity(usize::from(n_ts).min(r.remaining() / 20));
        for _ in 0..n_ts {
            transfer_syntaxes.push(SyntaxId::read(r, "p_cont_elem.transfer_syntaxes")?);
        }
        contexts.push(ContextElem {
            context_id,
            abstract_syntax,
            transfer_syntaxes,
        });
    }
    Ok(Bind {
        max_xmit_frag,
        max_recv_frag,
        assoc_group_id,
        contexts,
    })
}

fn count_u8(len: usize, field: &'static str) -> Result<u8, EncodeError> {
    if len > MAX_CONTEXTS {
        return Err(EncodeError::TooLong {
            field,
            len,
            max: MAX_CONTEXTS,
        });
    }
    Ok(len as u8)
}

fn encode_bind(w: &mut Writer<'_>, b: &Bind) -> Result<(), EncodeError> {
    w.u16(b.max_xmit_frag);
    w.u16(b.max_recv_frag);
    w.u32(b.assoc_group_id);
    w.u8(count_u8(b.contexts.len(), "bind.n_context_elem")?);
    w.zeros(3);
    for c in &b.contexts {
        w.u16(c.context_id);
        let n = count_u8(c.transfer_syntaxes.len(), "p_cont_elem.n_transfer_syn")?;
        if n == 0 {
            return Err(EncodeError::Inconsistent {
                field: "p_cont_elem.n_transfer_syn",
                reason: "a context must offer at least one transfer syntax",
            });
        }
        w.u8(n);
        w.u8(0);
        c.abstract_syntax.write(w);
        for t in &c.transfer_syntaxes {
            t.write(w);
        }
    }
    Ok(())
}

fn decode_bind_ack(r: &mut Reader<'_>) -> Result<BindAck, DecodeError> {
    let max_xmit_frag = r.u16("bind_ack.max_xmit_frag")?;
    let max_recv_frag = r.u16("bind_ack.max_recv_frag")?;
    let assoc_group_id = r.u32("bind_ack.assoc_group_id")?;
    let addr_len = usize::from(r.u16("bind_ack.sec_addr.length")?);
    let raw = r.bytes(addr_len, "bind_ack.sec_addr.port_spec")?;
    let raw = match raw.split_last() {
        Some((0, rest)) => rest,
        _ => &raw[..],
    };
    if raw.contains(&0) {
        return Err(DecodeError::Malformed {
            field: "bind_ack.sec_addr.port_spec",
            reason: "NUL before the end",
        });
    }
    let secondary_address = std::str::from_utf8(raw)
        .map_err(|_| DecodeError::Malformed {
            field: "bind_ack.sec_addr.port_spec",
            reason: "not ASCII",
        })?
        .to_string();
    // The result list starts 4-byte aligned, counted from the start of the PDU.
    r.skip(padding_to(r.position(), 4), "bind_ack.pad")?;
    let n = r.u8("bind_ack.n_results")?;
    r.skip(3, "bind_ack.reserved")?;
    let mut results = Vec::with_capacity(usize::from(n).min(r.remaining() / 24));
    for _ in 0..n {
        results.push(ContextResult {
            result: AckResult(r.u16("p_result.result")?),
            reason: r.u16("p_result.reason")?,
            transfer_syntax: SyntaxId::read(r, "p_result.transfer_syntax")?,
        });
    }
    Ok(BindAck {
        max_xmit_frag,
        max_recv_frag,
        assoc_group_id,
        secondary_address,
        results,
    })
}

fn encode_bind_ack(w: &mut Writer<'_>, a: &BindAck) -> Result<(), EncodeError> {
    w.u16(a.max_xmit_frag);
    w.u16(a.max_recv_frag);
    w.u32(a.assoc_group_id);
    if a.secondary_address.is_empty() {
        w.u16(0);
    } else {
        if a.secondary_address.bytes().any(|b| b == 0) {
            return Err(EncodeError::Inconsistent {
                field: "bind_ack.sec_addr.port_spec",
                reason: "contains a NUL",
            });
        }
        w.u16(len_u16(
            a.secondary_address.len() + 1,
            "bind_ack.sec_addr.length",
        )?);
        w.bytes(a.secondary_address.as_bytes());
        w.u8(0);
    }
    w.align(4);
    w.u8(count_u8(a.results.len(), "bind_ack.n_results")?);
    w.zeros(3);
    for res in &a.results {
        w.u16(res.result.0);
        w.u16(res.reason);
        res.transfer_syntax.write(w);
    }
    Ok(())
}

/// Cuts a byte stream (pipe reads or writes, in any chunking) into whole fragments.
///
/// Buffers at most one fragment: a header announcing more than `max_frag` bytes is an error,
/// after which the stream is unusable (the caller closes the pipe).
#[derive(Debug)]
pub struct FragmentReader {
    buf: BytesMut,
    max_frag: usize,
}

impl FragmentReader {
    /// A reader accepting fragments up to `max_frag` bytes.
    pub fn new(max_frag: u16) -> Self {
        FragmentReader {
            buf: BytesMut::new(),
            max_frag: usize::from(max_frag),
        }
    }

    /// Changes the largest acceptable fragment (after a bind negotiated it).
    pub fn set_max_frag(&mut self, max_frag: u16) {
        self.max_frag = usize::from(max_frag);
    }

    /// Bytes buffered that do not yet form a whole fragment.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Appends received bytes and returns every whole fragment now available. Stops at the
    /// first bad header; the bytes after it are dropped.
    pub fn push(&mut self, data: &[u8]) -> Result<Vec<Bytes>, DecodeError> {
        let mut out = Vec::new();
        let mut data = data;
        loop {
            // Take only as much as the current fragment needs, so the buffer never holds more
            // than one fragment.
            let need = match Header::peek(&self.buf)? {
                None => HEADER_LEN - self.buf.len(),
                Some(h) => {
                    let len = usize::from(h.frag_length);
                    if len > self.max_frag {
                        self.buf.clear();
                        return Err(DecodeError::LimitExceeded {
                            field: "frag_length",
                            value: len as u64,
                            limit: self.max_frag as u64,
                        });
                    }
                    len - self.buf.len()
                }
            };
            if need == 0 {
                out.push(self.buf.split().freeze());
                continue;
            }
            if data.is_empty() {
                return Ok(out);
            }
            let take = need.min(data.len());
            self.buf.extend_from_slice(&data[..take]);
            data = &data[take..];
            if let Err(e) = Header::peek(&self.buf) {
                self.buf.clear();
                return Err(e);
            }
        }
    }
}

/// Joins the stub data of one call's fragments (requests at the server, responses at the
/// client), with a cap on the total.
#[derive(Debug)]
pub struct StubReassembler {
    limit: usize,
    call: Option<(u32, BytesMut)>,
}

impl StubReassembler {
    /// A reassembler that refuses calls whose stub exceeds `limit` bytes.
    pub fn new(limit: usize) -> Self {
        StubReassembler { limit, call: None }
    }

    /// Whether a call is partly received.
    pub fn in_progress(&self) -> Option<u32> {
        self.call.as_ref().map(|(id, _)| *id)
    }

    /// Forgets a partly received call.
    pub fn reset(&mut self) {
        self.call = None;
    }

    /// Adds one fragment's stub. Returns the whole stub once LAST_FRAG arrives.
    pub fn add(
        &mut self,
        flags: PfcFlags,
        call_id: u32,
        stub: &Bytes,
    ) -> Result<Option<Bytes>, StubError> {
        let first = flags.contains(PfcFlags::FIRST_FRAG);
        let last = flags.contains(PfcFlags::LAST_FRAG);
        match (&mut self.call, first) {
            (None, true) if last => return Ok(Some(stub.clone())),
            (None, true) => {
                if stub.len() > self.limit {
                    return Err(StubError::TooLarge);
                }
                self.call = Some((call_id, BytesMut::from(&stub[..])));
                return Ok(None);
            }
            (None, false) => return Err(StubError::NotFirst),
            (Some(_), true) => {
                self.call = None;
                return Err(StubError::Interleaved);
            }
            (Some((id, _)), false) if *id != call_id => {
                self.call = None;
                return Err(StubError::Interleaved);
            }
            (Some((_, buf)), false) => {
                if buf.len() + stub.len() > self.limit {
                    self.call = None;
                    return Err(StubError::TooLarge);
                }
                buf.extend_from_slice(stub);
            }
        }
        if last {
            Ok(self.call.take().map(|(_, b)| b.freeze()))
        } else {
            Ok(None)
        }
    }
}

/// Why fragments could not be joined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StubError {
    /// A continuation fragment arrived without a first fragment.
    #[error("fragment without PFC_FIRST_FRAG starts a call")]
    NotFirst,
    /// A new call started, or another call id arrived, before the last fragment.
    #[error("fragments of different calls are interleaved")]
    Interleaved,
    /// The joined stub exceeds the limit.
    #[error("call stub exceeds the size limit")]
    TooLarge,
}

/// Splits `stub` into request or response fragments of at most `max_frag` bytes each. `make`
/// builds the body of one fragment from its stub slice; `overhead` is the body's fixed size.
/// Every fragment but the last carries a multiple of 8 stub bytes (NDR alignment survives).
pub fn fragment_stub(
    call_id: u32,
    stub: &Bytes,
    max_frag: u16,
    overhead: usize,
    make: impl Fn(Bytes) -> Body,
) -> Result<Vec<Bytes>, EncodeError> {
    let room = usize::from(max_frag)
        .checked_sub(HEADER_LEN + overhead)
        .map(|r| r & !7)
        .filter(|r| *r > 0)
        .ok_or(EncodeError::Inconsistent {
            field: "max_frag",
            reason: "too small to carry any stub data",
        })?;
    let mut out = Vec::with_capacity(stub.len() / room + 1);
    let mut at = 0;
    loop {
        let end = (at + room).min(stub.len());
        let mut flags = PfcFlags::empty();
        flags.set(PfcFlags::FIRST_FRAG, at == 0);
        flags.set(PfcFlags::LAST_FRAG, end == stub.len());
        let pdu = Pdu {
            flags,
            call_id,
            body: make(stub.slice(at..end)),
            auth: None,
        };
        out.push(pdu.to_bytes()?);
        at = end;
        if at >= stub.len() {
            return Ok(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn syntax() -> impl Strategy<Value = SyntaxId> {
        (any::<[u8; 16]>(), any::<u32>()).prop_map(|(u, v)| SyntaxId {
            uuid: Guid(u),
            version: v,
        })
    }

    fn bind() -> impl Strategy<Value = Bind> {
        (
            any::<u16>(),
            any::<u16>(),
            any::<u32>(),
            proptest::collection::vec(
                (
                    any::<u16>(),
                    syntax(),
                    proptest::collection::vec(syntax(), 1..4),
                ),
                0..5,
            ),
        )
            .prop_map(|(x, r, g, cs)| Bind {
                max_xmit_frag: x,
                max_recv_frag: r,
                assoc_group_id: g,
                contexts: cs
                    .into_iter()
                    .map(|(id, a, ts)| ContextElem {
                        context_id: id,
                        abstract_syntax: a,
                        transfer_syntaxes: ts,
                    })
                    .collect(),
            })
    }

    fn bind_ack() -> impl Strategy<Value = BindAck> {
        (
            any::<u16>(),
            any::<u16>(),
            any::<u32>(),
            "[ -~&&[^\\x00]]{0,20}",
            proptest::collection::vec((any::<u16>(), any::<u16>(), syntax()), 0..4),
        )
            .prop_map(|(x, r, g, addr, rs)| BindAck {
                max_xmit_frag: x,
                max_recv_frag: r,
                assoc_group_id: g,
                secondary_address: addr,
                results: rs
                    .into_iter()
                    .map(|(res, reason, t)| ContextResult {
                        result: AckResult(res),
                        reason,
                        transfer_syntax: t,
                    })
                    .collect(),
            })
    }

    fn body() -> impl Strategy<Value = Body> {
        let stub = proptest::collection::vec(any::<u8>(), 0..300).prop_map(Bytes::from);
        prop_oneof![
            bind().prop_map(Body::Bind),
            bind().prop_map(Body::AlterContext),
            bind_ack().prop_map(Body::BindAck),
            bind_ack().prop_map(Body::AlterContextResp),
            (
                any::<u16>(),
                proptest::collection::vec(any::<(u8, u8)>(), 0..4)
            )
                .prop_map(|(r, v)| Body::BindNak(BindNak {
                    reason: RejectReason(r),
                    versions: v
                })),
            (
                any::<u32>(),
                any::<u16>(),
                any::<u16>(),
                proptest::option::of(any::<[u8; 16]>()),
                stub.clone()
            )
                .prop_map(|(a, c, o, obj, s)| Body::Request(Request {
                    alloc_hint: a,
                    context_id: c,
                    opnum: o,
                    object: obj.map(Guid),
                    stub: s
                })),
            (any::<u32>(), any::<u16>(), any::<u8>(), stub.clone()).prop_map(|(a, c, n, s)| {
                Body::Response(Response {
                    alloc_hint: a,
                    context_id: c,
                    cancel_count: n,
                    stub: s,
                })
            }),
            (any::<u32>(), any::<u16>(), any::<u8>(), any::<u32>()).prop_map(|(a, c, n, s)| {
                Body::Fault(Fault {
                    alloc_hint: a,
                    context_id: c,
                    cancel_count: n,
                    status: FaultStatus(s),
                })
            }),
            stub.prop_map(|s| Body::Other(PacketType::AUTH3, s)),
        ]
    }

    fn pdu() -> impl Strategy<Value = Pdu> {
        (
            any::<u8>(),
            any::<u32>(),
            body(),
            proptest::option::of((
                any::<u8>(),
                any::<u8>(),
                0u8..16,
                any::<u32>(),
                proptest::collection::vec(any::<u8>(), 1..40),
            )),
        )
            .prop_map(|(f, id, body, auth)| {
                let mut flags = PfcFlags(f);
                if let Body::Request(q) = &body {
                    flags.set(PfcFlags::OBJECT_UUID, q.object.is_some());
                }
                Pdu {
                    flags,
                    call_id: id,
                    auth: auth.map(|(t, l, p, c, v)| AuthVerifier {
                        auth_type: t,
                        auth_level: l,
                        pad_length: p,
                        context_id: c,
                        value: Bytes::from(v),
                    }),
                    body,
                }
            })
    }

    proptest! {
        #[test]
        fn pdu_round_trips(p in pdu()) {
            let bytes = p.to_bytes().unwrap();
            let back = Pdu::decode(&bytes).unwrap();
            prop_assert_eq!(&back, &p);
            prop_assert_eq!(back.to_bytes().unwrap(), bytes);
        }

        #[test]
        fn decode_never_panics(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            let b = Bytes::from(data);
            let _ = Pdu::decode(&b);
            let mut fr = FragmentReader::new(DEFAULT_MAX_FRAG);
            let _ = fr.push(&b);
        }

        #[test]
        fn truncations_fail_cleanly(p in pdu(), cut in 0usize..400) {
            let bytes = p.to_bytes().unwrap();
            let cut = cut % bytes.len();
            // A shortened fragment is an error (its frag_length no longer matches).
            prop_assert!(Pdu::decode(&bytes.slice(..cut)).is_err());
        }

        #[test]
        fn fragment_reader_handles_any_chunking(
            ps in proptest::collection::vec(pdu(), 1..4),
            chunk in 1usize..50,
        ) {
            let frags: Vec<Bytes> = ps.iter().map(|p| p.to_bytes().unwrap()).collect();
            let stream: Vec<u8> = frags.iter().flat_map(|f| f.iter().copied()).collect();
            let mut fr = FragmentReader::new(u16::MAX);
            let mut got = Vec::new();
            for c in stream.chunks(chunk) {
                got.extend(fr.push(c).unwrap());
            }
            prop_assert_eq!(got, frags);
            prop_assert_eq!(fr.buffered(), 0);
        }

        #[test]
        fn fragmenting_and_reassembling_is_identity(
            stub in proptest::collection::vec(any::<u8>(), 0..5000),
            max in 40u16..2000,
        ) {
            let stub = Bytes::from(stub);
            let frags = fragment_stub(7, &stub, max, RESPONSE_FIXED, |s| Body::Response(Response {
                alloc_hint: 0, context_id: 0, cancel_count: 0, stub: s,
            })).unwrap();
            let mut re = StubReassembler::new(10_000);
            let mut done = None;
            for f in &frags {
                prop_assert!(f.len() <= usize::from(max));
                let p = Pdu::decode(f).unwrap();
                let Body::Response(r) = p.body else { panic!("not a response") };
                prop_assert!(done.is_none());
                done = re.add(p.flags, p.call_id, &r.stub).unwrap();
            }
            prop_assert_eq!(done, Some(stub));
        }
    }

    #[test]
    fn bad_headers_are_errors() {
        let good = Pdu::single(1, Body::Other(PacketType::SHUTDOWN, Bytes::new()))
            .to_bytes()
            .unwrap();
        let mut v = good.to_vec();
        v[0] = 4;
        assert!(Pdu::decode(&Bytes::from(v)).is_err(), "version 4");
        let mut v = good.to_vec();
        v[4] = 0x00; // big-endian
        assert!(Pdu::decode(&Bytes::from(v)).is_err(), "big endian");
        let mut v = good.to_vec();
        v[8] = 10; // frag_length below the header
        assert!(Pdu::decode(&Bytes::from(v)).is_err(), "short frag_length");
        let mut v = good.to_vec();
        v[10] = 200; // auth_length past the end
        assert!(
            Pdu::decode(&Bytes::from(v)).is_err(),
            "auth_length too long"
        );
        // A fragment larger than the reader's limit is refused before buffering it.
        let mut fr = FragmentReader::new(MIN_FRAG);
        let mut v = good.to_vec();
        v[8..10].copy_from_slice(&5000u16.to_le_bytes());
        assert!(matches!(
            fr.push(&v),
            Err(DecodeError::LimitExceeded { .. })
        ));
        // A pad length larger than the stub.
        let p = Pdu {
            auth: Some(AuthVerifier {
                pad_length: 3,
                value: Bytes::from_static(b"x"),
                ..Default::default()
            }),
            ..Pdu::single(
                1,
                Body::Request(Request {
                    stub: Bytes::from_static(b"abc"),
                    ..Default::default()
                }),
            )
        };
        let mut v = p.to_bytes().unwrap().to_vec();
        let pad_at = v.len() - 1 - SEC_TRAILER_LEN + 2;
        v[pad_at] = 200;
        assert!(Pdu::decode(&Bytes::from(v)).is_err(), "pad beyond stub");
    }

    #[test]
    fn secondary_address_with_inner_nul_is_refused() {
        // Found by the rpc_pdu fuzz target: it decoded, then could not be re-encoded.
        let ack = Pdu::single(
            1,
            Body::BindAck(BindAck {
                secondary_address: "ab".into(),
                ..Default::default()
            }),
        );
        let mut v = ack.to_bytes().unwrap().to_vec();
        v[HEADER_LEN + 10] = 0; // the 'a'
        assert!(Pdu::decode(&Bytes::from(v)).is_err());
    }

    #[test]
    fn reassembler_rejects_bad_fragment_flags() {
        let s = Bytes::from_static(b"12345678");
        let mut re = StubReassembler::new(16);
        assert_eq!(re.add(PfcFlags::LAST_FRAG, 1, &s), Err(StubError::NotFirst));
        assert_eq!(re.add(PfcFlags::FIRST_FRAG, 1, &s), Ok(None));
        assert_eq!(
            re.add(PfcFlags::LAST_FRAG, 2, &s),
            Err(StubError::Interleaved)
        );
        assert_eq!(re.add(PfcFlags::FIRST_FRAG, 1, &s), Ok(None));
        assert_eq!(re.add(PfcFlags::empty(), 1, &s), Ok(None));
        assert_eq!(re.add(PfcFlags::LAST_FRAG, 1, &s), Err(StubError::TooLarge));
        assert_eq!(re.in_progress(), None);
    }

    #[test]
    fn syntax_constants() {
        // 8a885d04-1ceb-11c9-9fe8-08002b104860 in NDR wire order.
        assert_eq!(
            hex::encode(SyntaxId::NDR.uuid.0),
            "045d888aeb1cc9119fe808002b104860"
        );
        let btfn = SyntaxId::bind_time_feature_syntax(3);
        assert_eq!(btfn.bind_time_features(), Some(3));
        assert_eq!(SyntaxId::NDR.bind_time_features(), None);
        assert_eq!(SyntaxId::new(SyntaxId::NDR.uuid, 3, 1).version, 0x0001_0003);
    }
}
