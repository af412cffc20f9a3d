//! `driver-smol`: SMB2/SMB3 over TCP (Direct TCP, port 445 or any) on the smol runtime.
//!
//! Owns the I/O around the sans-IO core: the generic connection loop over any
//! `AsyncRead + AsyncWrite` stream (socket reads, the core's deadline and application commands
//! raced in one task), the async `Client` API, the TCP server loop and the local-directory
//! backend confined to its root. It must not contain protocol logic: every protocol decision
//! is made in `smb-proto`.
//!
//! [`client`] is the async client and [`files`] the file API on top of it; [`shares`] lists
//! shares over the srvsvc pipe; [`server`] the TCP server around the sans-IO core; [`backend`]
//! the async backends that answer its ops (local directory, in memory); [`fs`] the synchronous,
//! root-confined file system the local-directory backend calls; [`host_interfaces`] the host's
//! interfaces a server lists for multichannel clients.

pub mod backend;
pub mod client;
pub mod files;
mod frame_pool;
mod frame_reader;
pub mod fs;
pub mod host_interfaces;
pub mod server;
pub mod shares;

pub use client::{Client, ClientError, InFlight};
