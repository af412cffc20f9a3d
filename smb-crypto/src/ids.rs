//! Algorithm identifiers as they appear on the wire (MS-SMB2 2.2.3.1.2 and 2.2.3.1.7).
//!
//! Owns: [`CipherId`] and [`SigningAlgorithm`], open newtypes so an unknown value offered by a
//! peer survives decoding. The wire codec reuses these types rather than defining its own.

macro_rules! open_id {
    ($(#[$meta:meta])* $name:ident { $($(#[$cm:meta])* $c:ident = $v:expr),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        pub struct $name(pub u16);

        impl $name {
            $($(#[$cm])* pub const $c: $name = $name($v);)*

            /// The symbolic name of this value, if it has one.
            pub fn name(self) -> Option<&'static str> {
                match self {
                    $($name::$c => Some(stringify!($c)),)*
                    _ => None,
                }
            }

            /// Every named value.
            pub const KNOWN: &'static [$name] = &[$($name::$c),*];
        }

        impl core::fmt::Display for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                match self.name() {
                    Some(n) => f.write_str(n),
                    None => write!(f, "{}({:#x})", stringify!($name), self.0),
                }
            }
        }

        impl core::fmt::Debug for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                core::fmt::Display::fmt(self, f)
            }
        }
    };
}

open_id! {
    /// SMB 3.x encryption algorithms (MS-SMB2 2.2.3.1.2).
    CipherId {
        /// AES-128-CCM, the only cipher of SMB 3.0 and 3.0.2.
        AES_128_CCM = 0x0001,
        /// AES-128-GCM.
        AES_128_GCM = 0x0002,
        /// AES-256-CCM.
        AES_256_CCM = 0x0003,
        /// AES-256-GCM.
        AES_256_GCM = 0x0004,
    }
}

open_id! {
    /// SMB signing algorithms (MS-SMB2 2.2.3.1.7).
    SigningAlgorithm {
        /// HMAC-SHA256, dialects 2.0.2 and 2.1.
        HMAC_SHA256 = 0x0000,
        /// AES-128-CMAC, dialects 3.x.
        AES_CMAC = 0x0001,
        /// AES-128-GMAC, dialect 3.1.1 with SIGNING_CAPABILITIES.
        AES_GMAC = 0x0002,
    }
}

impl CipherId {
    /// The key length in bytes (16 for AES-128, 32 for AES-256), or `None` if unknown.
    pub fn key_len(self) -> Option<usize> {
        match self {
            CipherId::AES_128_CCM | CipherId::AES_128_GCM => Some(16),
            CipherId::AES_256_CCM | CipherId::AES_256_GCM => Some(32),
            _ => None,
        }
    }
}
