//! `driver-quinn`: SMB over QUIC (MS-SMB2 2.1) on quinn with rustls.
//!
//! This crate will own the QUIC transport: TLS 1.3 with ALPN `smb`, one client-initiated
//! bidirectional stream per connection carrying Direct-TCP-framed SMB2 messages, server
//! certificate loading and checks, client-certificate access control and audit events.
//! It reuses `driver-smol`'s stream loop and must not contain protocol logic.
//! It is filled by the QUIC issue; until then it exports nothing.
