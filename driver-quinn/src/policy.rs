//! The SMB client's transport policy, as Windows' `NET USE /TRANSPORT:{AUTO|QUIC|TCP}`: which
//! transports to try and in which order. Owns only the decision; the TCP connect itself belongs to
//! `driver-smol`, the QUIC connect to [`crate::client`].

use serde::{Deserialize, Serialize};

/// The transport kinds: the one definition is the core's, so the policy, the SMB client and the
/// SMB server agree on it.
pub use smb_proto::io::TransportKind;

/// Which transports a client tries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransportPolicy {
    /// TCP first, then QUIC if TCP fails (Windows' default `AUTO`).
    #[default]
    Auto,
    /// QUIC only: TCP is never touched.
    Quic,
    /// TCP only.
    Tcp,
}

impl TransportPolicy {
    /// The transports to try, in order. The caller moves to the next entry only when connecting
    /// over the previous one failed (refused, unreachable or timed out), never after an SMB-level
    /// error such as a failed logon.
    pub fn connection_order(self) -> &'static [TransportKind] {
        match self {
            Self::Auto => &[TransportKind::Tcp, TransportKind::Quic],
            Self::Quic => &[TransportKind::Quic],
            Self::Tcp => &[TransportKind::Tcp],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders() {
        assert_eq!(TransportPolicy::default(), TransportPolicy::Auto);
        assert_eq!(
            TransportPolicy::Auto.connection_order(),
            &[TransportKind::Tcp, TransportKind::Quic]
        );
        assert_eq!(
            TransportPolicy::Quic.connection_order(),
            &[TransportKind::Quic]
        );
        assert_eq!(
            TransportPolicy::Tcp.connection_order(),
            &[TransportKind::Tcp]
        );
        assert!(
            !TransportPolicy::Quic
                .connection_order()
                .contains(&TransportKind::Tcp)
        );
    }
}
