//! `conformance`: evidence that the stack is correct.
//!
//! Its tests (under `tests/`) hold published test vectors, golden messages captured from real
//! peers, and interop runs against real peers (Samba `smbd`, `smbclient`, `smbtorture`) that the
//! tests start themselves on 127.0.0.1 high ports with private configuration in a temp dir.
//! The library part holds only the harness that starts and stops those peers.
