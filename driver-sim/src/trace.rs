//! The trace of a run.
//!
//! Owns: [`Trace`], the record of every input delivered to a node and every output it emitted,
//! with its virtual time, and [`Trace::hash`], a SHA-256 over a canonical encoding of those
//! records. Two runs with the same seed must give the same hash. Records are kept in full
//! ([`TraceMode::Full`], needed to replay a node) or only hashed ([`TraceMode::HashOnly`]).
//! Must not: influence the run (it only observes).

use std::sync::Arc;

use bytes::Bytes;
use sha2::{Digest, Sha256};
use smb_proto::client::ClientConfig;
use smb_proto::io::TransportKind;
use smb_proto::server::{CreateReply, FileMeta, InfoReply, OpReply, ReadBuf, ServerConfig};
use smb_proto::wire::fscc::notify::FileNotifyInformation;
use smb_proto::wire::fsctl::AllocatedRange;
use smb_proto::wire::status::NtStatus;
use std::net::SocketAddr;

use crate::command::ClientCommand;
use crate::time::SimTime;

/// Which node a record belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum NodeRef {
    /// A client, by index.
    Client(usize),
    /// A server, by index.
    Server(usize),
    /// The simulator itself (faults, notes).
    Sim,
}

/// What a record says.
#[derive(Debug, Clone)]
pub enum TraceEvent {
    /// A new client connection was created with this configuration (its own RNG seed).
    ClientConnect {
        /// The configuration the connection was built with.
        config: Arc<ClientConfig>,
        /// The transport.
        transport: TransportKind,
    },
    /// Bytes delivered to a client.
    ClientReceive(Bytes),
    /// A timer fired at a client.
    ClientTimeout,
    /// The client's transport closed.
    ClientClosed,
    /// The workload issued a command; `result` summarises what the connection answered.
    ClientCommand {
        /// The command.
        command: ClientCommand,
        /// `Ok(request id)` or the error text.
        result: String,
    },
    /// The client transmitted a frame.
    ClientTransmit(Bytes),
    /// The client emitted an event (canonical summary).
    ClientEvent(String),
    /// A server (re)started with this configuration (its own RNG seed).
    ServerStart {
        /// The configuration.
        config: Arc<ServerConfig>,
        /// The start count (1 for the first start).
        epoch: u64,
    },
    /// A server accepted a connection.
    ServerAccept {
        /// The connection handle.
        ch: u64,
        /// The transport.
        transport: TransportKind,
        /// The peer address.
        peer: SocketAddr,
    },
    /// Bytes delivered to a server connection.
    ServerReceive {
        /// The connection handle.
        ch: u64,
        /// The bytes.
        data: Bytes,
    },
    /// A server connection's transport closed.
    ServerClosed {
        /// The connection handle.
        ch: u64,
    },
    /// A server timer fired.
    ServerTimeout,
    /// A backend op was completed (summary of the result).
    ServerComplete {
        /// The op.
        op: u64,
        /// Summary of the result.
        result: String,
        /// The result itself (kept for replay).
        reply: Result<ReplayReply, NtStatus>,
    },
    /// A server transmitted a frame.
    ServerTransmit {
        /// The connection handle.
        ch: u64,
        /// The frame.
        data: Bytes,
    },
    /// Any other server output (op, cancel, close, event), summarised.
    ServerOutput(String),
    /// A node reported its next deadline.
    Deadline(SimTime),
    /// A fault or a lifecycle action of the simulator.
    Fault(String),
}

impl TraceEvent {
    fn tag(&self) -> u8 {
        match self {
            TraceEvent::ClientConnect { .. } => 1,
            TraceEvent::ClientReceive(_) => 2,
            TraceEvent::ClientTimeout => 3,
            TraceEvent::ClientClosed => 4,
            TraceEvent::ClientCommand { .. } => 5,
            TraceEvent::ClientTransmit(_) => 6,
            TraceEvent::ClientEvent(_) => 7,
            TraceEvent::ServerAccept { .. } => 8,
            TraceEvent::ServerReceive { .. } => 9,
            TraceEvent::ServerClosed { .. } => 10,
            TraceEvent::ServerTimeout => 11,
            TraceEvent::ServerComplete { .. } => 12,
            TraceEvent::ServerTransmit { .. } => 13,
            TraceEvent::ServerOutput(_) => 14,
            TraceEvent::Deadline(_) => 15,
            TraceEvent::Fault(_) => 16,
            TraceEvent::ServerStart { .. } => 17,
        }
    }
}

/// A backend result in a form the trace can keep and hand back (READ data as bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplayReply {
    /// CREATE.
    Create(CreateReply),
    /// READ data.
    Read(Bytes),
    /// WRITE count.
    Write(u32),
    /// FLUSH.
    Flush,
    /// CLOSE.
    Close(Option<FileMeta>),
    /// QUERY_INFO.
    QueryInfo(InfoReply),
    /// SET_INFO.
    SetInfo,
    /// QUERY_DIRECTORY.
    QueryDirectory(Bytes),
    /// LOCK.
    Lock,
    /// IOCTL.
    Ioctl(Bytes),
    /// CHANGE_NOTIFY.
    ChangeNotify(Vec<FileNotifyInformation>),
    /// QUERY_ALLOCATED_RANGES.
    AllocatedRanges(Vec<AllocatedRange>),
}

impl ReplayReply {
    /// A copy of `r`.
    pub fn of(r: &OpReply) -> Self {
        match r {
            OpReply::Create(c) => Self::Create(c.clone()),
            OpReply::Read(b) => Self::Read(Bytes::copy_from_slice(b.data())),
            OpReply::Write { count } => Self::Write(*count),
            OpReply::Flush => Self::Flush,
            OpReply::Close(m) => Self::Close(*m),
            OpReply::QueryInfo(i) => Self::QueryInfo(i.clone()),
            OpReply::SetInfo => Self::SetInfo,
            OpReply::QueryDirectory(b) => Self::QueryDirectory(b.clone()),
            OpReply::Lock => Self::Lock,
            OpReply::Ioctl(b) => Self::Ioctl(b.clone()),
            OpReply::ChangeNotify(v) => Self::ChangeNotify(v.clone()),
            OpReply::AllocatedRanges(r) => Self::AllocatedRanges(r.clone()),
        }
    }

    /// The backend result again.
    pub fn to_reply(&self) -> OpReply {
        match self {
            Self::Create(c) => OpReply::Create(c.clone()),
            Self::Read(b) => OpReply::Read(ReadBuf::from_slice(b)),
            Self::Write(count) => OpReply::Write { count: *count },
            Self::Flush => OpReply::Flush,
            Self::Close(m) => OpReply::Close(*m),
            Self::QueryInfo(i) => OpReply::QueryInfo(i.clone()),
            Self::SetInfo => OpReply::SetInfo,
            Self::QueryDirectory(b) => OpReply::QueryDirectory(b.clone()),
            Self::Lock => OpReply::Lock,
            Self::Ioctl(b) => OpReply::Ioctl(b.clone()),
            Self::ChangeNotify(v) => OpReply::ChangeNotify(v.clone()),
            Self::AllocatedRanges(r) => OpReply::AllocatedRanges(r.clone()),
        }
    }
}

/// One record.
#[derive(Debug, Clone)]
pub struct TraceRecord {
    /// Virtual time.
    pub at: SimTime,
    /// The node.
    pub node: NodeRef,
    /// What happened.
    pub event: TraceEvent,
}

/// Whether records are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraceMode {
    /// Keep every record (memory grows with the run; needed for replay).
    Full,
    /// Only hash.
    HashOnly,
}

/// The trace of a run.
#[derive(Debug, Clone)]
pub struct Trace {
    mode: TraceMode,
    records: Vec<TraceRecord>,
    hasher: Sha256,
    count: u64,
}

impl Trace {
    /// An empty trace.
    pub fn new(mode: TraceMode) -> Self {
        Self {
            mode,
            records: Vec::new(),
            hasher: Sha256::new(),
            count: 0,
        }
    }

    /// Appends a record.
    pub fn record(&mut self, at: SimTime, node: NodeRef, event: TraceEvent) {
        self.count += 1;
        let h = &mut self.hasher;
        h.update(at.0.to_le_bytes());
        let (kind, idx) = match node {
            NodeRef::Client(i) => (1u8, i),
            NodeRef::Server(i) => (2, i),
            NodeRef::Sim => (3, 0),
        };
        h.update([kind]);
        h.update((idx as u64).to_le_bytes());
        h.update([event.tag()]);
        match &event {
            TraceEvent::ClientConnect { config, transport } => {
                put(h, &config.rng_seed);
                h.update([u8::from(*transport == TransportKind::Quic)]);
                put(h, config.server_name.as_bytes());
            }
            // Received bytes are transmitted bytes (hashed when sent, tampering recorded as a
            // fault) cut differently: their length captures the chunking.
            TraceEvent::ClientReceive(b) => h.update((b.len() as u64).to_le_bytes()),
            TraceEvent::ClientTransmit(b) => put(h, b),
            TraceEvent::ClientTimeout | TraceEvent::ClientClosed | TraceEvent::ServerTimeout => {}
            TraceEvent::ClientCommand { command, result } => {
                put(h, command.summary().as_bytes());
                put(h, result.as_bytes());
            }
            TraceEvent::ClientEvent(s) | TraceEvent::ServerOutput(s) | TraceEvent::Fault(s) => {
                put(h, s.as_bytes())
            }
            TraceEvent::ServerStart { config, epoch } => {
                put(h, &config.rng_seed);
                h.update(epoch.to_le_bytes());
            }
            TraceEvent::ServerAccept {
                ch,
                transport,
                peer,
            } => {
                h.update(ch.to_le_bytes());
                h.update([u8::from(*transport == TransportKind::Quic)]);
                put(h, peer.to_string().as_bytes());
            }
            TraceEvent::ServerClosed { ch } => h.update(ch.to_le_bytes()),
            TraceEvent::ServerReceive { ch, data } => {
                h.update(ch.to_le_bytes());
                h.update((data.len() as u64).to_le_bytes());
            }
            TraceEvent::ServerTransmit { ch, data } => {
                h.update(ch.to_le_bytes());
                put(h, data);
            }
            TraceEvent::ServerComplete { op, result, .. } => {
                h.update(op.to_le_bytes());
                put(h, result.as_bytes());
            }
            TraceEvent::Deadline(t) => h.update(t.0.to_le_bytes()),
        }
        if self.mode == TraceMode::Full {
            self.records.push(TraceRecord { at, node, event });
        }
    }

    /// A full trace holding `records` (to replay an edited trace; its hash is not the run's,
    /// because compact keys are not kept).
    pub fn from_records(records: impl IntoIterator<Item = TraceRecord>) -> Self {
        let mut t = Trace::new(TraceMode::Full);
        for r in records {
            t.record(r.at, r.node, r.event);
        }
        t
    }

    /// Appends a record whose hashed form is the compact binary `key` (the same in both
    /// modes); the full event is only built when records are kept. For the high-volume
    /// records (responses, ops, completions, commands) whose text would cost more than the run.
    pub fn record_keyed(
        &mut self,
        at: SimTime,
        node: NodeRef,
        tag: u8,
        key: &[u8],
        event: impl FnOnce() -> TraceEvent,
    ) {
        self.count += 1;
        let h = &mut self.hasher;
        h.update(at.0.to_le_bytes());
        let (kind, idx) = match node {
            NodeRef::Client(i) => (1u8, i),
            NodeRef::Server(i) => (2, i),
            NodeRef::Sim => (3, 0),
        };
        h.update([kind]);
        h.update((idx as u64).to_le_bytes());
        h.update([0x80 | tag]);
        put(h, key);
        if self.mode == TraceMode::Full {
            self.records.push(TraceRecord {
                at,
                node,
                event: event(),
            });
        }
    }

    /// Whether records are kept.
    pub fn keeps_records(&self) -> bool {
        self.mode == TraceMode::Full
    }

    /// The SHA-256 of everything recorded so far.
    pub fn hash(&self) -> [u8; 32] {
        self.hasher.clone().finalize().into()
    }

    /// The kept records (empty in [`TraceMode::HashOnly`]).
    pub fn records(&self) -> &[TraceRecord] {
        &self.records
    }

    /// How many records were made (kept or not).
    pub fn len(&self) -> u64 {
        self.count
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The mode.
    pub fn mode(&self) -> TraceMode {
        self.mode
    }
}

fn put(h: &mut Sha256, data: &[u8]) {
    h.update((data.len() as u64).to_le_bytes());
    h.update(data);
}

/// Lower-case hex of a hash.
pub fn hex(hash: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(hash.len() * 2);
    for b in hash {
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_depends_on_content_time_and_node() {
        let mk = |at: u64, node: NodeRef, data: &'static [u8]| {
            let mut t = Trace::new(TraceMode::HashOnly);
            t.record(
                SimTime(at),
                node,
                TraceEvent::ClientReceive(Bytes::from_static(data)),
            );
            t.hash()
        };
        let base = mk(1, NodeRef::Client(0), b"ab");
        assert_eq!(base, mk(1, NodeRef::Client(0), b"ab"));
        assert_ne!(base, mk(2, NodeRef::Client(0), b"ab"));
        assert_ne!(base, mk(1, NodeRef::Client(1), b"ab"));
        assert_ne!(base, mk(1, NodeRef::Client(0), b"abc"));
        let mut full = Trace::new(TraceMode::Full);
        full.record(
            SimTime(1),
            NodeRef::Client(0),
            TraceEvent::ClientReceive(Bytes::from_static(b"ab")),
        );
        assert_eq!(full.hash(), base);
        assert_eq!(full.records().len(), 1);
        assert_eq!(hex(&[0, 0xab]), "00ab");
    }
}
