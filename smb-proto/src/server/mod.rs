//! The sans-IO SMB2/SMB3 server (MS-SMB2 3.3).
//!
//! Owns: [`Server`](ops) types: the op/completion boundary ([`ops`]) and the configuration
//! ([`config`]). Must not: do I/O, read a clock or the OS RNG.

pub mod config;
pub mod ops;

pub use config::{ServerConfig, ShareConfig, ShareKind};
pub use ops::{
    ConnectionHandle, CreateReply, DirEntry, DirectoryBuildError, DirectoryBuilder, FileMeta, FsOp,
    InfoChange, InfoQuery, InfoReply, OpContext, OpId, OpReply, OpRequest, OpenId, READ_HEADROOM,
    ReadBuf, ServerEvent, ServerOutput,
};
