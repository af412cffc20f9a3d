//! The sans-IO SMB2/SMB3 server (MS-SMB2 3.3).
//!
//! Owns: [`Server`], which holds every connection, session, tree and open and turns validated
//! requests into typed [`FsOp`]s for a backend ([`ops`]); its configuration ([`config`]);
//! NEGOTIATE ([`negotiate`]); the in-memory backend ([`memfs`]); search patterns
//! ([`wildcard`]); the stored security descriptors both backends keep ([`file_security`]); their
//! extended attributes ([`file_ea`]); the file-class QUERY_INFO answers they share
//! ([`file_query`]); 8.3 names ([`short_name`]); named pipes on IPC$ (`pipes`: srvsvc and
//! wkssvc, answered without a backend).
//! Must not: do I/O, read a clock or the OS RNG. Drivers move bytes, time and completions in
//! and drain [`Server::poll_output`].
//!
//! Oplocks: BATCH and EXCLUSIVE are granted to a file's only open and LEVEL_II beside other
//! opens; a conflicting open breaks BATCH and EXCLUSIVE to LEVEL_II (NONE when it overwrites)
//! before it proceeds, and WRITE, size changes and byte-range locks break LEVEL_II to NONE
//! (`engine::oplocks`).
//!
//! Leases (2.1 and 3.x, RqLs v1 and v2): granted per ClientGuid and LeaseKey by smbd's rules,
//! shared by the opens naming the same key, broken by conflicting CREATEs (held until the
//! acknowledgment or the 35 s timer), WRITE, size changes and locks; no directory leases
//! (`engine::leases`).
//!
//! Durable opens (DHnQ, DH2Q, DHnC, DH2C) are granted with a batch oplock or a lease with
//! handle caching and kept after their connection or session ends, until reconnected or
//! expired (`engine::durable`).
//!
//! Multichannel: a session is bound to further connections (SESSION_SETUP with the binding
//! flag, per-channel signing keys) and outlives its first channel.
//!
//! Not yet done: directory leases, breaking handle caching on a sharing violation, persistent
//! handles (refused),
//! compression, and FSCTLs other than VALIDATE_NEGOTIATE_INFO and
//! QUERY_NETWORK_INTERFACE_INFO, which are handed to the backend (memfs answers
//! NOT_SUPPORTED; the local backend also answers FSCTL_CREATE_OR_GET_OBJECT_ID).

pub mod config;
mod engine;
pub mod file_ea;
pub mod file_query;
pub mod file_security;
pub mod memfs;
pub mod negotiate;
pub mod notify_watch;
pub mod ops;
mod pipes;
pub mod short_name;
mod state;
pub mod wildcard;

pub use config::{ServerConfig, ShareConfig, ShareKind};
pub use engine::Server;
pub use ops::{
    ConnectionHandle, CreateOp, CreateReply, DirEntry, DirectoryBuildError, DirectoryBuilder,
    FileMeta, FsOp, InfoChange, InfoQuery, InfoReply, OpContext, OpId, OpReply, OpRequest, OpenId,
    READ_HEADROOM, READ_SLACK, ReadBuf, ServerEvent, ServerOutput,
};
