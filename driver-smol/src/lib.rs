//! `driver-smol`: SMB2/SMB3 over TCP (Direct TCP, port 445 or any) on the smol runtime.
//!
//! This crate will own the generic connection loop over any `AsyncRead + AsyncWrite` stream
//! (socket reads, the core's deadline and application commands raced in one task), the async
//! `Client` API, the TCP server loop and the local-directory backend confined to its root.
//! It must not contain protocol logic: every protocol decision is made in `smb-proto`.
//! It is filled by the client and server issues; so far it exports [`fs`], the synchronous,
//! root-confined file system that the local-directory backend will call.

pub mod fs;
