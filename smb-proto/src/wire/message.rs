//! Whole SMB2 messages: a header plus the body its command and direction call for.
//!
//! Owns: dispatch from a decoded header to the right [`Body`] codec, the rule that tells an
//! ERROR response (MS-SMB2 2.2.2) from a command's own response body, and encoding a header
//! plus body into one message.
//! Must not: frame, split compounds, sign or encrypt (see `frame`, `compound`, `smb-crypto`).

use bytes::{Bytes, BytesMut};

use super::body::Body;
use super::cursor::{Reader, Writer};
use super::error::{DecodeError, EncodeError};
use super::header::Header;
use super::status::NtStatus;
use super::types::Command;

use super::cancel::CancelRequest;
use super::change_notify::{ChangeNotifyRequest, ChangeNotifyResponse};
use super::close::{CloseRequest, CloseResponse};
use super::create::{CreateRequest, CreateResponse};
use super::echo::{EchoRequest, EchoResponse};
use super::error_response::ErrorResponse;
use super::flush::{FlushRequest, FlushResponse};
use super::ioctl::{IoctlRequest, IoctlResponse};
use super::lock::{LockRequest, LockResponse};
use super::logoff::{LogoffRequest, LogoffResponse};
use super::negotiate::{NegotiateRequest, NegotiateResponse};
use super::oplock_break::{OplockBreakRequest, OplockBreakResponse};
use super::query_directory::{QueryDirectoryRequest, QueryDirectoryResponse};
use super::query_info::{QueryInfoRequest, QueryInfoResponse};
use super::read::{ReadRequest, ReadResponse};
use super::session_setup::{SessionSetupRequest, SessionSetupResponse};
use super::set_info::{SetInfoRequest, SetInfoResponse};
use super::tree_connect::{TreeConnectRequest, TreeConnectResponse};
use super::tree_disconnect::{TreeDisconnectRequest, TreeDisconnectResponse};
use super::write::{WriteRequest, WriteResponse};

/// Generates the request/response body enums, their decode dispatch and their encoders from one
/// table, so a command can never be dispatched in one direction and forgotten in the other.
macro_rules! bodies {
    ($enum_name:ident, $what:literal { $($variant:ident($ty:ty)),* $(,)? } $($extra:tt)*) => {
        #[doc = concat!("The body of an SMB2 ", $what, ", by command.")]
        #[derive(Debug, Clone, PartialEq, Eq)]
        #[allow(clippy::large_enum_variant)]
        pub enum $enum_name {
            $(
                #[doc = concat!("A ", stringify!($variant), " body.")]
                $variant($ty),
            )*
        }

        impl $enum_name {
            /// The command this body belongs to.
            pub fn command(&self) -> Command {
                match self {
                    $( $enum_name::$variant(_) => <$ty as Body>::COMMAND, )*
                }
            }

            fn decode_for(command: Command, r: &mut Reader<'_>) -> Result<Option<Self>, DecodeError> {
                $(
                    if command == <$ty as Body>::COMMAND {
                        return Ok(Some($enum_name::$variant(<$ty as Body>::decode(r)?)));
                    }
                )*
                Ok(None)
            }

            fn encode_body(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
                match self {
                    $( $enum_name::$variant(b) => b.encode(w), )*
                }
            }
        }

        $(
            impl From<$ty> for $enum_name {
                fn from(b: $ty) -> Self {
                    $enum_name::$variant(b)
                }
            }
        )*
    };
}

bodies!(RequestBody, "request" {
    Negotiate(NegotiateRequest),
    SessionSetup(SessionSetupRequest),
    Logoff(LogoffRequest),
    TreeConnect(TreeConnectRequest),
    TreeDisconnect(TreeDisconnectRequest),
    Create(CreateRequest),
    Close(CloseRequest),
    Flush(FlushRequest),
    Read(ReadRequest),
    Write(WriteRequest),
    Lock(LockRequest),
    Ioctl(IoctlRequest),
    Cancel(CancelRequest),
    Echo(EchoRequest),
    QueryDirectory(QueryDirectoryRequest),
    ChangeNotify(ChangeNotifyRequest),
    QueryInfo(QueryInfoRequest),
    SetInfo(SetInfoRequest),
    OplockBreak(OplockBreakRequest),
});

bodies!(ResponseBody, "response" {
    Negotiate(NegotiateResponse),
    SessionSetup(SessionSetupResponse),
    Logoff(LogoffResponse),
    TreeConnect(TreeConnectResponse),
    TreeDisconnect(TreeDisconnectResponse),
    Create(CreateResponse),
    Close(CloseResponse),
    Flush(FlushResponse),
    Read(ReadResponse),
    Write(WriteResponse),
    Lock(LockResponse),
    Ioctl(IoctlResponse),
    Echo(EchoResponse),
    QueryDirectory(QueryDirectoryResponse),
    ChangeNotify(ChangeNotifyResponse),
    QueryInfo(QueryInfoResponse),
    SetInfo(SetInfoResponse),
    OplockBreak(OplockBreakResponse),
});

/// An ERROR response (MS-SMB2 2.2.2) or a command's own response body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponsePayload {
    /// The command's response body.
    Body(ResponseBody),
    /// An ERROR response: the request failed (or went async, for STATUS_PENDING).
    Error(ErrorResponse),
}

/// One decoded request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The header.
    pub header: Header,
    /// The body.
    pub body: RequestBody,
}

/// One decoded response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The header.
    pub header: Header,
    /// The body or the ERROR response.
    pub payload: ResponsePayload,
}

/// Whether a response with this command and status carries the command's own body rather
/// than an ERROR response (MS-SMB2 2.2.2, 3.3.4.4): successes do; so do
/// STATUS_MORE_PROCESSING_REQUIRED on SESSION_SETUP and STATUS_BUFFER_OVERFLOW on the commands
/// that return partial data. Any other status carries a command body only when the body's
/// StructureSize is not the ERROR response's 9 (e.g. INVALID_PARAMETER on SRV_COPYCHUNK).
fn carries_body(command: Command, status: NtStatus, structure_size: Option<u16>) -> bool {
    if status == NtStatus::SUCCESS {
        return true;
    }
    if command == Command::SESSION_SETUP {
        return status == NtStatus::MORE_PROCESSING_REQUIRED;
    }
    if status == NtStatus::BUFFER_OVERFLOW
        && [
            Command::READ,
            Command::IOCTL,
            Command::QUERY_INFO,
            Command::QUERY_DIRECTORY,
            Command::CHANGE_NOTIFY,
        ]
        .contains(&command)
    {
        return true;
    }
    structure_size.is_some_and(|s| s != <ErrorResponse as Body>::STRUCTURE_SIZE)
}

fn body_structure_size(msg: &Bytes) -> Option<u16> {
    let b = msg.get(Header::SIZE..Header::SIZE + 2)?;
    Some(u16::from_le_bytes([b[0], b[1]]))
}

/// Decodes one request message (header plus body; compounds are split before).
pub fn decode_request(msg: &Bytes) -> Result<Request, DecodeError> {
    let header = Header::decode(msg)?;
    let mut r = Reader::at(msg, Header::SIZE);
    let body =
        RequestBody::decode_for(header.command, &mut r)?.ok_or(DecodeError::InvalidValue {
            field: "SMB2 Header.Command",
            value: header.command.0.into(),
        })?;
    Ok(Request { header, body })
}

/// Decodes one response message (header plus body; compounds are split before).
pub fn decode_response(msg: &Bytes) -> Result<Response, DecodeError> {
    let header = Header::decode(msg)?;
    let mut r = Reader::at(msg, Header::SIZE);
    let payload = if carries_body(header.command, header.status, body_structure_size(msg)) {
        ResponsePayload::Body(ResponseBody::decode_for(header.command, &mut r)?.ok_or(
            DecodeError::InvalidValue {
                field: "SMB2 Header.Command",
                value: header.command.0.into(),
            },
        )?)
    } else {
        ResponsePayload::Error(ErrorResponse::decode(&mut r)?)
    };
    Ok(Response { header, payload })
}

impl Request {
    /// Appends the header and body as one message.
    pub fn encode(&self, out: &mut BytesMut) -> Result<(), EncodeError> {
        let mut w = Writer::new(out);
        self.header.encode(&mut w)?;
        self.body.encode_body(&mut w)
    }
}

impl Response {
    /// Appends the header and body (or ERROR response) as one message.
    pub fn encode(&self, out: &mut BytesMut) -> Result<(), EncodeError> {
        let mut w = Writer::new(out);
        self.header.encode(&mut w)?;
        match &self.payload {
            ResponsePayload::Body(b) => b.encode_body(&mut w),
            ResponsePayload::Error(e) => e.encode(&mut w),
        }
    }
}

impl RequestBody {
    /// Appends just the body (the header is already in `w`).
    pub fn encode_into(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        self.encode_body(w)
    }
}

impl ResponseBody {
    /// Appends just the body (the header is already in `w`).
    pub fn encode_into(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        self.encode_body(w)
    }
}
