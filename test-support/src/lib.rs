//! The in-process test harness, once, for the integration tests of `smb-proto`,
//! `conformance` and `driver-sim` and for the fuzz targets.
//!
//! Owns: the configurations of both sides ([`config`]: the standalone server `srv` with its
//! accounts and in-memory shares, a client offering chosen dialects, NTLM credentials, a
//! virtual clock and fixed seeds); request bodies with the fields no test cares about filled
//! in ([`requests`]); Direct TCP framing and hand-built messages ([`frames`]); the server's ops run on the
//! in-memory backend for harnesses that drive a server by hand ([`ops`]); and [`Harness`], our client against our server over [`smb_proto::loopback::Loopback`] with
//! helpers that log on, open, call and close and expect the pump to settle ([`harness`]).
//! Must not: touch the network, the real clock or the OS RNG (every deadline is virtual,
//! every seed fixed), hold a suite's own conventions (those stay with the suite), or be a
//! dependency of anything but tests and fuzz targets.

pub mod config;
pub mod frames;
pub mod harness;
pub mod ops;
pub mod requests;

pub use harness::{Harness, SetupFailure};
