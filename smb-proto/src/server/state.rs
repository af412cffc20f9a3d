//! The state the server keeps: per connection (negotiated parameters, the requests in
//! progress), and server-wide the sessions (MS-SMB2's GlobalSessionTable, each session with
//! its channels: the connections bound to it) and the opens, which belong to a session, not
//! to the connection that made them.
//!
//! Owns: the plain data the [`super::Server`] keeps, and the small rules that belong to that
//! data (which access a tree grants, how a path is checked, which key signs on a channel).
//! Must not: emit output or run the protocol; the engine does.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use smb_crypto::PreauthHash;

use super::config::ShareConfig;
use super::negotiate::ServerNegotiated;
use super::ops::{ConnectionHandle, OpId, OpenId};
use crate::auth::{Identity, SpnegoAcceptor};
use crate::credits::ServerWindow;
use crate::io::TransportKind;
use crate::rng::SeededRng;
use crate::session_crypto::SessionCrypto;
use crate::wire::create::OplockLevel;
use crate::wire::create_context::{LeaseKey, LeaseState, LeaseV2Fields};
use crate::wire::frame::{Deframer, FRAME_HEADER_LEN};
use crate::wire::fscc::attributes::AccessMask;
use crate::wire::header::Header;
use crate::wire::ioctl::CtlCode;
use crate::wire::status::NtStatus;
use crate::wire::types::Guid;
use crate::wire::types::{AsyncId, FileId, SessionId, TreeId};

/// Where a connection is in its life.
#[derive(Debug)]
pub(crate) enum Phase {
    /// Waiting for NEGOTIATE (SMB1 or SMB2).
    Fresh,
    /// An SMB1 multi-protocol NEGOTIATE was answered with 0x02FF; an SMB2 NEGOTIATE follows.
    Wildcard,
    /// NEGOTIATE is done.
    Ready(ServerNegotiated),
    /// Dropped; waiting for the driver to take the Close.
    Closed,
}

/// One connection bound to a session (MS-SMB2 3.3.1.14 Channel).
#[derive(Debug)]
pub(crate) struct Channel {
    /// This channel's own signing key (a bound channel's, MS-SMB2 3.3.5.5.3); `None` signs
    /// with the session's key (the channel that created the session, and a binding still
    /// authenticating, whose requests and interim answers use the session's key).
    pub signer: Option<SessionCrypto>,
    /// A binding SESSION_SETUP in progress on this connection.
    pub acceptor: Option<Box<SpnegoAcceptor>>,
    /// The binding's preauth hash (3.1.1): the connection's, then its SESSION_SETUPs.
    pub preauth: Option<PreauthHash>,
    /// Requests other than SESSION_SETUP may use the session on this connection.
    pub ready: bool,
}

impl Channel {
    /// The channel of the connection that creates the session.
    pub fn primary() -> Self {
        Channel {
            signer: None,
            acceptor: None,
            preauth: None,
            ready: true,
        }
    }
}

/// An authenticated (or authenticating) session. Sessions live in the server-wide table;
/// `channels` says which connections may use one.
#[derive(Debug)]
pub(crate) struct Session {
    /// The connections bound to it; it ends when the last one goes.
    pub channels: BTreeMap<ConnectionHandle, Channel>,
    /// The dialect, cipher and signing algorithm of the connection that created it (a
    /// binding must match them, MS-SMB2 3.3.5.5.2). The ClientGuid is not compared: like
    /// Windows and smbd, a binding from another client GUID is accepted (smbtorture
    /// smb2.session.bind_negative_smb3signCtoHd expects it to succeed).
    pub dialect: crate::wire::Dialect,
    pub cipher: Option<smb_crypto::CipherId>,
    pub signing_algorithm: Option<smb_crypto::SigningAlgorithm>,
    /// The exchange in progress (re-authentication included).
    pub acceptor: Option<Box<SpnegoAcceptor>>,
    /// The session's preauth hash while authenticating (3.1.1).
    pub preauth: Option<PreauthHash>,
    /// Keys, once authenticated (none for guest and anonymous).
    pub crypto: Option<SessionCrypto>,
    /// Who, once authenticated.
    pub identity: Option<Identity>,
    /// Whether every request must be signed (or encrypted).
    pub signing_required: bool,
    /// Whether every request must be encrypted (SMB2_SESSION_FLAG_ENCRYPT_DATA).
    pub encrypt: bool,
    /// Tree connects.
    pub trees: BTreeMap<TreeId, Tree>,
    /// The next TreeId.
    pub next_tree: u32,
    /// LOGOFF was processed; removed once its response is sent.
    pub logged_off: bool,
}

impl Session {
    /// Whether authentication completed.
    pub fn valid(&self) -> bool {
        self.identity.is_some()
    }

    /// Whether requests on `ch` may use the session (a bound, authenticated channel).
    pub fn usable_on(&self, ch: ConnectionHandle) -> bool {
        self.valid() && !self.logged_off && self.channels.get(&ch).is_some_and(|c| c.ready)
    }

    /// The key that signs and verifies on `ch`: the channel's own, else the session's.
    pub fn signer(&self, ch: ConnectionHandle) -> Option<&SessionCrypto> {
        self.channels
            .get(&ch)
            .and_then(|c| c.signer.as_ref())
            .or(self.crypto.as_ref())
    }
}

/// A tree connect.
#[derive(Debug, Clone)]
pub(crate) struct Tree {
    /// The share (IPC$ has kind Pipe).
    pub share: ShareConfig,
    /// Whether requests on this tree must be encrypted.
    pub encrypt: bool,
}

/// An open file or directory.
#[derive(Debug, Clone)]
pub(crate) struct Open {
    /// The backend's id (also the FileId's volatile half).
    pub id: OpenId,
    /// The owning session.
    pub session: SessionId,
    /// The connection it was opened on (breaks go there while it is a channel).
    pub conn: ConnectionHandle,
    /// The owning tree.
    pub tree: TreeId,
    /// The access granted at CREATE.
    pub granted: AccessMask,
    /// Whether it is a directory.
    pub is_directory: bool,
    /// CreateOptions WRITE_THROUGH.
    pub write_through: bool,
    /// Whether QUERY_DIRECTORY has run since open or restart (empty answers differ).
    pub enumerated: bool,
    /// Ops on this open emitted and not yet completed.
    pub inflight: u32,
    /// Which file it is, for oplock conflicts (see `engine::oplocks`).
    pub file: FileKey,
    /// The oplock it holds (NONE, LEVEL_II, EXCLUSIVE or BATCH; LEASE when `lease` is set).
    pub oplock: OplockLevel,
    /// The lease it shares (Open.Lease, MS-SMB2 3.3.1.10): the client's ClientGuid and the
    /// LeaseKey naming it in the server's lease table (see `engine::leases`).
    pub lease: Option<LeaseId>,
    /// A break notification was sent and its acknowledgment is awaited
    /// (Open.OplockState Breaking, MS-SMB2 3.3.1.10).
    pub breaking: bool,
    /// The level the awaited break goes to (LEVEL_II or NONE; meaningful while `breaking`).
    pub break_to: OplockLevel,
    /// Its LEVEL_II oplock was broken to NONE, a break no acknowledgment answers
    /// (MS-SMB2 2.2.24.1): one that comes anyway is a protocol error.
    pub level_ii_broken: bool,
    /// A SET_INFO disposition through it made the file delete-pending: a CREATE of the file
    /// then fails (DELETE_PENDING) without breaking oplocks, as on Windows and smbd.
    pub delete_pending: bool,
    /// Open.LockSequenceArray (MS-SMB2 3.3.1.10): the LockSequenceNumber of the last
    /// successful LOCK per LockSequenceIndex 1..=64, [`NO_LOCK_SEQUENCE`] when none is valid.
    pub lock_sequences: [u8; 64],
    /// The index of the next EA a FileFullEaInformation query without names returns
    /// (MS-FSA Open.NextEaEntry; reset by SL_RESTART_SCAN).
    pub ea_cursor: usize,
    /// Set when the open is durable (Open.IsDurable, see `engine::durable`).
    pub durable: Option<Durable>,
    /// The key FSCTL_SRV_REQUEST_RESUME_KEY gave out for it, once asked (see
    /// `engine::copy_offload`).
    pub resume_key: Option<[u8; 24]>,
    /// Set while the open is replay eligible (see [`ReplayRecord`]).
    pub replay: Option<ReplayRecord>,
    /// Open.ChannelSequence (MS-SMB2 3.3.1.10): the newest ChannelSequence a 3.x request on
    /// it carried, starting with its CREATE's (see `Server::use_open`).
    pub channel_sequence: u16,
}

/// A durable open asked for by a CREATE (MS-SMB2 2.2.13.2.3 DHnQ, 2.2.13.2.11 DH2Q).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DurableAsk {
    /// DHnQ.
    V1,
    /// DH2Q, with the timeout the server grants (already defaulted and capped).
    V2 {
        timeout: std::time::Duration,
        create_guid: Guid,
    },
}

/// What a durable open keeps so it can outlive its connection and session (MS-SMB2 3.3.1.10
/// Open.IsDurable, DurableOwner, CreateGuid, DurableOpenTimeout; the ClientGuid a replay is
/// matched by is in [`ReplayRecord`]).
#[derive(Debug, Clone)]
pub(crate) struct Durable {
    /// The CreateGuid of a version-2 durable open (`None`: version 1).
    pub create_guid: Option<Guid>,
    /// How long it is kept after its connection is lost.
    pub timeout: std::time::Duration,
    /// The user who opened it (Open.DurableOwner); only they may reconnect it.
    pub owner: Identity,
    /// The share's name (drivers pick the backend by it while no tree names it).
    pub share: String,
}

/// What a replay of the CREATE that made an open is matched and answered with, kept while
/// the open is replay eligible (Open.IsReplayEligible, MS-SMB2 3.3.5.9.10): from a CREATE with
/// a DH2Q context, durable or not, until the first request naming the open.
#[derive(Debug, Clone)]
pub(crate) struct ReplayRecord {
    /// The DH2Q CreateGuid.
    pub create_guid: Guid,
    /// The ClientGuid of the connection that made it.
    pub client_guid: Guid,
    /// The CreateAction the CREATE answered (a replay answers it again; smbtorture
    /// smb2.replay.replay-dhv2-oplock1 expects CREATED).
    pub create_action: crate::wire::create::CreateAction,
}

/// Names a lease in the server's lease table: the ClientGuid of the connection that asked for
/// it and its LeaseKey (MS-SMB2 3.3.1.4 GlobalLeaseTableList, LeaseTable.LeaseList).
pub(crate) type LeaseId = (Guid, LeaseKey);

/// A lease asked for by a CREATE (MS-SMB2 2.2.13.2.8 RqLs v1, 2.2.13.2.10 v2 on 3.x).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LeaseAsk {
    /// LeaseKey.
    pub key: LeaseKey,
    /// The requested LeaseState.
    pub state: LeaseState,
    /// The version-2 fields (ParentLeaseKey, Epoch) when the context is version 2.
    pub v2: Option<LeaseV2Fields>,
    /// Whether SMB2_LEASE_FLAG_PARENT_LEASE_KEY_SET was set (echoed in the response).
    pub parent_set: bool,
}

/// An invalid entry of [`Open::lock_sequences`] (sequence numbers have 4 bits).
pub(crate) const NO_LOCK_SEQUENCE: u8 = 0xFF;

/// Identifies the file an open names, before (path) and after (file index) the backend
/// opened it. Share and path are lower-cased: shares match names case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct FileKey {
    /// The share's backend selector (its name when it has none), lower-cased.
    pub share: String,
    /// The share-relative path, lower-cased.
    pub path: String,
    /// The backend's file index (0 while unknown or when the backend gives none).
    pub index: u64,
}

impl Open {
    /// The FileId the client sees.
    pub fn file_id(&self) -> FileId {
        FileId {
            persistent: self.id.0,
            volatile: self.id.0,
        }
    }
}

/// What an op waits for, so its completion can be turned into a response.
#[derive(Debug, Clone)]
pub(crate) enum Waiting {
    /// CREATE: bind `open` on success.
    Create {
        open: OpenId,
        session: SessionId,
        tree: TreeId,
        want_mxac: bool,
        want_qfid: bool,
        write_through: bool,
        /// The file it names (index unknown yet).
        file: FileKey,
        /// RequestedOplockLevel.
        oplock: OplockLevel,
        /// Whether it breaks other opens' oplocks (not a stat open).
        breaks: bool,
        /// DesiredAccess (generic rights mapped): what it breaks leases with.
        desired: AccessMask,
        /// Whether it supersedes or overwrites the file: oplocks it breaks go to NONE, and
        /// LEVEL_II holders are broken too (MS-FSA 2.1.5.1).
        overwrite: bool,
        /// The durable open asked for (DHnQ or DH2Q), granted with a batch oplock or a
        /// lease with handle caching.
        durable: Option<DurableAsk>,
        /// The lease asked for (RequestedOplockLevel LEASE with an RqLs context).
        lease: Option<LeaseAsk>,
        /// The CREATE's ChannelSequence: the open's first (3.3.5.9).
        channel_sequence: u16,
    },
    /// READ with its Length and MinimumCount.
    Read { length: u32, min_count: u32 },
    /// WRITE.
    Write,
    /// FLUSH.
    Flush,
    /// CLOSE of this open.
    Close { open: OpenId },
    /// QUERY_INFO with the client's limit.
    QueryInfo {
        output_len: u32,
        /// A FileFullEaInformation query: what it asks for (the answer is selected from all
        /// the file's EAs the backend returns, with the open's EA cursor).
        ea: Option<crate::server::file_ea::EaQuery>,
    },
    /// SET_INFO; a rename carries its new share-relative path (oplock keys follow it), and
    /// what it does to the write time is applied on success (see `engine::timestamps`).
    SetInfo {
        rename_to: Option<String>,
        times: super::engine::timestamps::TimeChange,
        /// A disposition change: whether the file is now delete-pending.
        delete: Option<bool>,
    },
    /// QUERY_DIRECTORY on this open; `first` when it is the first since open/restart.
    QueryDirectory {
        first: bool,
        /// The class asked for (write times kept by the engine are patched into Id* classes).
        class: crate::wire::fscc::FileInfoClass,
    },
    /// LOCK; `invalid_tail` when an unlock request had a bad element after the unlocks sent
    /// (success is then answered INVALID_PARAMETER); `sequence` the (index - 1, number) its
    /// success records in the open's lock sequence array.
    Lock {
        invalid_tail: bool,
        sequence: Option<(usize, u8)>,
    },
    /// IOCTL.
    Ioctl { ctl_code: CtlCode, file_id: FileId },
    /// FSCTL_QUERY_ALLOCATED_RANGES, with the client's MaxOutputResponse.
    AllocatedRanges { file_id: FileId, max_output: u32 },
    /// A durable reconnect or a replayed durable CREATE answered with an existing open: the
    /// backend's FileNetworkOpenInformation becomes the CREATE response, with `context`.
    Reopen {
        open: OpenId,
        context: Option<crate::wire::create_context::CreateContext>,
        /// The CreateAction to answer: OPENED for a reconnect, the original one for a replay.
        action: crate::wire::create::CreateAction,
        /// The oplock level to answer instead of the open's (a replay asking a lower one).
        oplock: Option<OplockLevel>,
    },
    /// CHANGE_NOTIFY with the client's limit.
    ChangeNotify { output_len: u32 },
    /// A server-side copy, one READ or WRITE op per step (see `engine::copy_offload`).
    CopyChunks(Box<super::engine::copy_offload::CopyProgress>),
}

/// The element of a chain that waits for an op.
#[derive(Debug)]
pub(crate) struct Current {
    /// The request's header.
    pub header: Header,
    /// The op.
    pub op: OpId,
    /// What the completion means.
    pub waiting: Waiting,
    /// When to send an interim response.
    pub interim_at: Option<Instant>,
    /// Set once an interim response went out.
    pub async_id: Option<AsyncId>,
    /// A CANCEL arrived for it.
    pub cancelled: bool,
    /// Its open was closed (CLOSE, TREE_DISCONNECT or LOGOFF) while it waited: a LOCK then
    /// ends with RANGE_NOT_LOCKED and a CHANGE_NOTIFY with NOTIFY_CLEANUP, not CANCELLED.
    pub handle_closed: bool,
    /// The open whose in-flight count this op holds.
    pub counted: Option<OpenId>,
    /// The FileId of the open the request acts on (resolved when it named the chain's
    /// earlier one): later related requests use it (MS-SMB2 3.3.5.2.7.2).
    pub file_id: Option<FileId>,
}

/// The state a related request inherits from the one before it (MS-SMB2 3.3.5.2.7.2).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Related {
    pub session: SessionId,
    pub tree: TreeId,
    pub file_id: Option<FileId>,
    pub failed: Option<NtStatus>,
    /// At least one request of the chain was processed.
    pub seen: bool,
}

/// One received frame's requests (a single request or a compound), processed in order, one
/// op at a time; the responses leave together.
#[derive(Debug)]
pub(crate) struct Chain {
    /// Requests not yet started.
    pub pending: VecDeque<Bytes>,
    /// The session the frame was encrypted for.
    pub encrypted: Option<SessionId>,
    /// Encoded responses (unsigned, NextCommand 0) and the session each is signed with.
    pub responses: Vec<Resp>,
    /// Inherited ids for related requests.
    pub related: Related,
    /// The element waiting for an op.
    pub current: Option<Current>,
    /// A failed authentication's answer is held until then.
    pub delay_until: Option<Instant>,
}

/// One encoded response: `lead` reserved bytes (the Direct TCP header, or for a READ response
/// of an encrypted chain also the TRANSFORM header, so it is sealed in place), then the message
/// with NextCommand 0, unsigned; and the session to sign it with.
#[derive(Debug)]
pub(crate) struct Resp {
    pub buf: BytesMut,
    pub sign: Option<SessionId>,
    pub lead: usize,
}

impl Resp {
    /// A response behind the 4-byte Direct TCP header room.
    pub fn new(buf: BytesMut, sign: Option<SessionId>) -> Self {
        Resp {
            buf,
            sign,
            lead: FRAME_HEADER_LEN,
        }
    }

    /// The message.
    pub fn message(&self) -> &[u8] {
        self.buf.get(self.lead..).unwrap_or(&[])
    }

    /// The buffer with exactly the Direct TCP header room in front of the message.
    pub fn framed(mut self) -> BytesMut {
        if self.lead > FRAME_HEADER_LEN && self.buf.len() >= self.lead {
            let _ = self.buf.split_to(self.lead - FRAME_HEADER_LEN);
        }
        self.buf
    }
}

/// One connection.
#[derive(Debug)]
pub(crate) struct Conn {
    pub peer: SocketAddr,
    pub transport: TransportKind,
    pub rng: SeededRng,
    pub deframer: Deframer,
    pub phase: Phase,
    pub window: ServerWindow,
    pub preauth: Option<PreauthHash>,
    /// Opens made on this connection and still open (they keep it from idling out).
    pub open_count: usize,
    pub chains: BTreeMap<u64, Chain>,
    pub next_chain: u64,
    pub last_activity: Instant,
    pub partial_since: Option<Instant>,
    pub signing_violations: u32,
}

impl Conn {
    /// The negotiated parameters, once NEGOTIATE completed.
    pub fn negotiated(&self) -> Option<&ServerNegotiated> {
        match &self.phase {
            Phase::Ready(n) => Some(n),
            _ => None,
        }
    }
}

/// Maps generic access bits to file-specific ones (MS-SMB2 3.3.5.9, MS-DTYP 2.4.3).
pub(crate) fn map_generic(mask: AccessMask) -> AccessMask {
    const READ: u32 = 0x0012_0089;
    const WRITE: u32 = 0x0012_0116;
    const EXECUTE: u32 = 0x0012_00A0;
    const ALL: u32 = 0x001F_01FF;
    let mut m = mask.0 & 0x0FFF_FFFF;
    if mask.0 & AccessMask::GENERIC_READ.0 != 0 {
        m |= READ;
    }
    if mask.0 & AccessMask::GENERIC_WRITE.0 != 0 {
        m |= WRITE;
    }
    if mask.0 & AccessMask::GENERIC_EXECUTE.0 != 0 {
        m |= EXECUTE;
    }
    if mask.0 & AccessMask::GENERIC_ALL.0 != 0 {
        m |= ALL;
    }
    AccessMask(m)
}

/// The access bits that modify something.
pub(crate) const WRITE_BITS: u32 = 0x0000_0002 // FILE_WRITE_DATA
    | 0x0000_0004 // FILE_APPEND_DATA
    | 0x0000_0010 // FILE_WRITE_EA
    | 0x0000_0040 // FILE_DELETE_CHILD
    | 0x0000_0100 // FILE_WRITE_ATTRIBUTES
    | 0x0001_0000 // DELETE
    | 0x0004_0000 // WRITE_DAC
    | 0x0008_0000; // WRITE_OWNER

/// FILE_ALL_ACCESS.
pub(crate) const ALL_ACCESS: u32 = 0x001F_01FF;
/// Read and execute access (what a read-only share grants at most).
pub(crate) const READ_ACCESS: u32 = 0x0012_00A9;

/// Checks a share-relative path from CREATE (MS-FSCC 2.1.5): components separated by `\`, no
/// empty, `.` or `..` components, no characters Windows forbids in names, no stream syntax.
/// Returns the normalised path (no leading or trailing separator).
///
/// `/` is accepted as a separator and turned into `\` first, as smbd does (smbtorture
/// smb2.timestamps.test_close_not_attrib opens `dir/file`); Windows refuses it with
/// OBJECT_NAME_INVALID. Every check below runs on the normalised path, so `a/../..`, `./x` or
/// `a//b` are refused exactly like their `\` spellings and confinement to the share holds.
pub(crate) fn check_path(name: &str) -> Result<String, NtStatus> {
    let normalised;
    let name = if name.contains('/') {
        normalised = name.replace('/', "\\");
        normalised.as_str()
    } else {
        name
    };
    if name.starts_with('\\') {
        return Err(NtStatus::INVALID_PARAMETER);
    }
    let trimmed = name.strip_suffix('\\').unwrap_or(name);
    // "name::$DATA" names the default data stream, which is the file itself.
    let trimmed = match trimmed.len().checked_sub(7) {
        Some(at)
            if trimmed.is_char_boundary(at)
                && trimmed
                    .get(at..)
                    .is_some_and(|s| s.eq_ignore_ascii_case("::$DATA")) =>
        {
            trimmed.get(..at).unwrap_or(trimmed)
        }
        _ => trimmed,
    };
    if trimmed.is_empty() {
        return Ok(String::new());
    }
    for comp in trimmed.split('\\') {
        // ".." could climb out of the share: a path syntax error, as smbd answers
        // (smbtorture smb2.mkdir).
        if comp == ".." {
            return Err(NtStatus::OBJECT_PATH_SYNTAX_BAD);
        }
        if comp.is_empty() || comp == "." {
            return Err(NtStatus::OBJECT_NAME_INVALID);
        }
        if comp.len() > 255 {
            return Err(NtStatus::OBJECT_NAME_INVALID);
        }
        if comp
            .chars()
            .any(|c| (c as u32) < 0x20 || matches!(c, '<' | '>' | ':' | '"' | '|' | '?' | '*'))
        {
            return Err(NtStatus::OBJECT_NAME_INVALID);
        }
    }
    Ok(trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_confined() {
        assert_eq!(check_path("a\\b.txt"), Ok("a\\b.txt".into()));
        assert_eq!(check_path(""), Ok(String::new()));
        assert_eq!(check_path("dir\\"), Ok("dir".into()));
        assert_eq!(
            check_path("..\\etc\\passwd"),
            Err(NtStatus::OBJECT_PATH_SYNTAX_BAD)
        );
        assert_eq!(
            check_path("a\\..\\..\\b"),
            Err(NtStatus::OBJECT_PATH_SYNTAX_BAD)
        );
        assert_eq!(check_path("a\\.\\b"), Err(NtStatus::OBJECT_NAME_INVALID));
        assert_eq!(check_path("\\abs"), Err(NtStatus::INVALID_PARAMETER));
        assert_eq!(check_path("a\\\\b"), Err(NtStatus::OBJECT_NAME_INVALID));
        assert_eq!(check_path("a\0b"), Err(NtStatus::OBJECT_NAME_INVALID));
        assert_eq!(
            check_path("file:stream"),
            Err(NtStatus::OBJECT_NAME_INVALID)
        );
        assert_eq!(check_path("x*"), Err(NtStatus::OBJECT_NAME_INVALID));
        // `/` separates like `\`, and the normalised path is checked as a whole.
        assert_eq!(check_path("dir/f.txt"), Ok("dir\\f.txt".into()));
        assert_eq!(check_path("a/b\\c/"), Ok("a\\b\\c".into()));
        assert_eq!(check_path("/abs"), Err(NtStatus::INVALID_PARAMETER));
        assert_eq!(
            check_path("a/../../b"),
            Err(NtStatus::OBJECT_PATH_SYNTAX_BAD)
        );
        assert_eq!(check_path("../x"), Err(NtStatus::OBJECT_PATH_SYNTAX_BAD));
        assert_eq!(check_path("a//b"), Err(NtStatus::OBJECT_NAME_INVALID));
        assert_eq!(check_path("./b"), Err(NtStatus::OBJECT_NAME_INVALID));
        assert_eq!(check_path("dir\\f.txt::$DATA"), Ok("dir\\f.txt".into()));
        assert_eq!(check_path("f.txt::$data"), Ok("f.txt".into()));
        assert_eq!(
            check_path("f.txt:alt:$DATA"),
            Err(NtStatus::OBJECT_NAME_INVALID)
        );
    }

    #[test]
    fn generic_access_maps() {
        assert_eq!(map_generic(AccessMask::GENERIC_ALL).0, ALL_ACCESS);
        assert_eq!(map_generic(AccessMask::GENERIC_READ).0 & 1, 1);
        assert_eq!(map_generic(AccessMask::GENERIC_WRITE).0 & 2, 2);
    }
}
