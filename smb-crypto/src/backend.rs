//! Choice of the implementation behind [`crate::Signer`], [`crate::Cipher`] and
//! [`crate::PreauthHash`].
//!
//! Owns [`Backend`]. Both backends compute the same bytes; they differ only in speed.

/// Which library performs the primitive operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// Pure Rust (RustCrypto `aes`, `aes-gcm`, `hmac`, `sha2`, and this crate's CCM and CMAC
    /// over `aes`). Always available.
    RustCrypto,
    /// aws-lc-rs for AES-GCM, AES-GMAC, HMAC-SHA256 and SHA-512; AES-CCM and AES-CMAC still use
    /// the pure-Rust code (aws-lc-rs offers no CCM, and its CMAC allocates a context per
    /// message and measured slower).
    #[cfg(feature = "aws-lc")]
    AwsLc,
}

impl Backend {
    /// Every backend compiled in, the pure-Rust one first.
    pub const ALL: &'static [Backend] = &[
        Backend::RustCrypto,
        #[cfg(feature = "aws-lc")]
        Backend::AwsLc,
    ];

    /// The fastest backend compiled in: aws-lc-rs when the `aws-lc` feature is on.
    pub fn preferred() -> Self {
        #[cfg(feature = "aws-lc")]
        {
            Backend::AwsLc
        }
        #[cfg(not(feature = "aws-lc"))]
        {
            Backend::RustCrypto
        }
    }

    /// A short name for tables and logs.
    pub fn name(self) -> &'static str {
        match self {
            Backend::RustCrypto => "rustcrypto",
            #[cfg(feature = "aws-lc")]
            Backend::AwsLc => "aws-lc",
        }
    }
}

impl Default for Backend {
    fn default() -> Self {
        Backend::preferred()
    }
}
