//! NTLMv2 (MS-NLMP): messages, AV pairs, cryptography, and the client and server halves.
//!
//! Owns: everything NTLM-specific below SPNEGO. [`client::NtlmClient`] produces NEGOTIATE and
//! AUTHENTICATE; [`server::NtlmServer`] produces CHALLENGE and verifies AUTHENTICATE. Both end
//! with [`crypto::SessionKeys`], which SPNEGO uses for the mechListMIC.
//! Must not: know SPNEGO or SMB. LM, NTLMv1 and sessions without extended session security are
//! refused in both roles.

pub mod av_pairs;
pub mod client;
pub mod crypto;
pub mod messages;
pub mod server;

pub use client::{Credentials, NtlmClient};
pub use crypto::{NtHash, SessionKeys};
pub use server::{NtlmServer, ServerConfig, ServerIdentity};

/// NegotiateFlags bits (MS-NLMP 2.2.2.5).
pub mod flags {
    /// NTLMSSP_NEGOTIATE_UNICODE.
    pub const UNICODE: u32 = 0x0000_0001;
    /// NTLM_NEGOTIATE_OEM.
    pub const OEM: u32 = 0x0000_0002;
    /// NTLMSSP_REQUEST_TARGET.
    pub const REQUEST_TARGET: u32 = 0x0000_0004;
    /// NTLMSSP_NEGOTIATE_SIGN.
    pub const SIGN: u32 = 0x0000_0010;
    /// NTLMSSP_NEGOTIATE_SEAL.
    pub const SEAL: u32 = 0x0000_0020;
    /// NTLMSSP_NEGOTIATE_LM_KEY (refused).
    pub const LM_KEY: u32 = 0x0000_0080;
    /// NTLMSSP_NEGOTIATE_NTLM.
    pub const NTLM: u32 = 0x0000_0200;
    /// NTLMSSP_ANONYMOUS.
    pub const ANONYMOUS: u32 = 0x0000_0800;
    /// NTLMSSP_NEGOTIATE_ALWAYS_SIGN.
    pub const ALWAYS_SIGN: u32 = 0x0000_8000;
    /// NTLMSSP_TARGET_TYPE_DOMAIN.
    pub const TARGET_TYPE_DOMAIN: u32 = 0x0001_0000;
    /// NTLMSSP_TARGET_TYPE_SERVER.
    pub const TARGET_TYPE_SERVER: u32 = 0x0002_0000;
    /// NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY.
    pub const EXTENDED_SESSIONSECURITY: u32 = 0x0008_0000;
    /// NTLMSSP_NEGOTIATE_IDENTIFY.
    pub const IDENTIFY: u32 = 0x0010_0000;
    /// NTLMSSP_REQUEST_NON_NT_SESSION_KEY.
    pub const REQUEST_NON_NT_SESSION_KEY: u32 = 0x0040_0000;
    /// NTLMSSP_NEGOTIATE_TARGET_INFO.
    pub const TARGET_INFO: u32 = 0x0080_0000;
    /// NTLMSSP_NEGOTIATE_VERSION.
    pub const VERSION: u32 = 0x0200_0000;
    /// NTLMSSP_NEGOTIATE_128.
    pub const N128: u32 = 0x2000_0000;
    /// NTLMSSP_NEGOTIATE_KEY_EXCH.
    pub const KEY_EXCH: u32 = 0x4000_0000;
    /// NTLMSSP_NEGOTIATE_56.
    pub const N56: u32 = 0x8000_0000;

    /// What our client asks for in NEGOTIATE (0xE2088235).
    pub const CLIENT_DEFAULT: u32 = UNICODE
        | REQUEST_TARGET
        | SIGN
        | SEAL
        | NTLM
        | ALWAYS_SIGN
        | EXTENDED_SESSIONSECURITY
        | VERSION
        | N128
        | KEY_EXCH
        | N56;

    /// Every flag our server may grant; the CHALLENGE carries the client's request masked by
    /// this, plus TARGET_INFO and TARGET_TYPE_SERVER.
    pub const SERVER_SUPPORTED: u32 = CLIENT_DEFAULT | IDENTIFY;
}
