//! `smb-proto`: the sans-IO core of an SMB2/SMB3 protocol stack.
//!
//! # The contract
//! - No I/O, no threads, no clock and no global state. Time enters as `now: Instant` on every
//!   input; wall-clock values (FILETIME in NEGOTIATE, NTLM timestamps) are computed from an anchor
//!   held in configuration.
//! - Randomness (salts, client GUID, NTLM challenges, AEAD nonce prefixes) comes from a seeded,
//!   deterministic CSPRNG ([`rng::SeededRng`]). Same seed, same inputs, byte-identical outputs.
//! - Input may arrive in any chunking of the byte stream, one byte at a time included.
//! - Never panics, never loops unboundedly, never allocates without a bound on untrusted input:
//!   every decoder checks every length and offset and returns a typed error naming the field.
//!
//! # Modules
//! - [`wire`]: the SMB2/SMB3 message codec (framing, headers, all commands, contexts, MS-FSCC
//!   information classes, FSCTL payloads, transform headers, compounds).
//! - [`auth`]: SPNEGO and NTLMv2 for both roles behind pluggable mechanism traits.
//! - [`credits`]: credit charge, the client credit pool and the server MessageId window.
//! - [`client`]: the client connection state machine.
//! - [`server`]: the server state machine (all connections), its op boundary and the
//!   in-memory backend.
//! - [`io`]: inputs shared by both roles, the transport kind and the wall-clock anchor.
//! - [`session_crypto`]: a session's signer and ciphers applied to whole messages.
//! - [`rpc`]: DCE/RPC over named pipes (srvsvc share enumeration) for both roles.
//! - [`rng`]: the deterministic random source every component draws from.
//! - [`loopback`]: our client wired to our server in process on a virtual clock, for tests.

pub mod auth;
pub mod client;
pub mod credits;
pub mod io;
pub mod loopback;
pub mod rng;
pub mod rpc;
pub mod server;
pub mod session_crypto;
pub mod wire;
