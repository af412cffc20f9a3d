//! [`QuicTuning`]: the throughput settings of the QUIC transport (flow-control windows, datagram
//! size, segmentation offload, socket buffers), applied the same way by the server and the
//! client. Owns only these numbers and how they map onto quinn's `TransportConfig` and
//! `EndpointConfig`; stream limits, timeouts and TLS stay with [`crate::server`] and
//! [`crate::client`].
//!
//! Why they matter for SMB: an SMB client keeps several MiB of READ or WRITE requests in flight
//! (`driver_smol::files` keeps about 8 MiB), all on the one QUIC stream. quinn's defaults are
//! sized for 12.5 MB/s at 100 ms RTT (a 1.25 MB stream window) and 1452-byte datagrams, so on
//! a fast path the receiver's flow control and the per-packet cost (packet protection, ACK
//! bookkeeping, one task wake-up per 20 datagrams) cap the transfer.
//!
//! Loopback is a path whose MTU is known to be large (Linux `lo`: 65536 bytes), so a loopback
//! connection lets MTU discovery climb to [`QuicTuning::loopback_datagram`]: about 45 times
//! fewer packets than 1452-byte datagrams for the same bytes.

use std::net::SocketAddr;

/// The most datagrams quinn puts in one segmentation-offload (GSO) send (quinn 0.11's
/// `MAX_TRANSMIT_SEGMENTS`).
const QUINN_GSO_SEGMENTS: u32 = 10;
/// The most bytes one UDP send may carry, GSO or not (a 16-bit IPv4 total length minus the
/// IPv4 and UDP headers). Linux refuses a larger GSO send with EMSGSIZE, which quinn-udp drops
/// silently: the whole batch is lost.
const MAX_UDP_SEND: u32 = 65_507;
/// The largest UDP payload over IPv6 loopback without jumbograms: the `lo` MTU (65536) minus the
/// IPv6 (40) and UDP (8) headers. Also fits IPv4 (65507).
const LOOPBACK_MAX_DATAGRAM: u16 = 65_488;
/// The initial congestion window on loopback, in datagrams (RFC 9002 7.2's ten).
const LOOPBACK_INITIAL_DATAGRAMS: u64 = 10;
/// How soon discovery climbs again after quinn's black-hole detector dropped a loopback path to
/// 1200 bytes. Loopback loses datagrams only to a full socket buffer, never for their size, so
/// waiting quinn's default minute would only leave the transfer on small datagrams.
const LOOPBACK_BLACK_HOLE_COOLDOWN: std::time::Duration = std::time::Duration::from_secs(1);
/// The smallest QUIC datagram size (RFC 9000 14).
const MIN_DATAGRAM: u16 = 1200;

/// Throughput settings of one QUIC endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuicTuning {
    /// Bytes the peer may send on the stream beyond what the application has read (the
    /// stream's flow-control window, RFC 9000 4.1).
    pub stream_receive_window: u32,
    /// Bytes of unacknowledged data this side keeps buffered for sending.
    pub send_window: u64,
    /// Largest UDP payload that path MTU discovery probes for (RFC 8899) on non-loopback paths.
    /// Probing starts at 1200 bytes and backs off on loss.
    pub mtu_upper_bound: u16,
    /// The MTU discovery bound on a loopback path (the peer is 127.0.0.0/8 or ::1, IPv4-mapped
    /// included), with a congestion window that admits such datagrams and a short black-hole
    /// cooldown. Clamped to 1200..=65488; `0` treats loopback like any other path.
    pub loopback_datagram: u16,
    /// Let the OS split one large send into datagrams (UDP GSO), where supported. Turned off
    /// automatically for a connection whose datagrams could make a GSO send exceed 64 KiB (quinn
    /// batches up to 10 datagrams, and the kernel refuses larger sends).
    pub segmentation_offload: bool,
    /// SO_RCVBUF and SO_SNDBUF asked for on the UDP socket (the kernel caps them at
    /// net.core.rmem_max / wmem_max); `0` keeps the system default (about 208 KiB on Linux,
    /// which a burst of large datagrams overflows, and QUIC counts the drops as congestion).
    pub socket_buffer: usize,
}

impl QuicTuning {
    /// quinn's own defaults (1.25 MB stream window, 10 MB send window, 1452-byte bound, no
    /// special case for loopback).
    pub const QUINN_DEFAULTS: Self = Self {
        stream_receive_window: 1_250_000,
        send_window: 10_000_000,
        mtu_upper_bound: 1452,
        loopback_datagram: 0,
        segmentation_offload: true,
        socket_buffer: 0,
    };

    /// Sized for SMB's pipelined transfers: a 16 MiB stream window (twice the client's 8 MiB
    /// of requests in flight), a 64 MiB send window, 4 MiB socket buffers, 64 KiB datagrams on
    /// loopback. On other paths the datagram bound stays at quinn's 1452 (a common Ethernet
    /// path), which keeps a 10-datagram GSO send under 64 KiB.
    pub const SMB_THROUGHPUT: Self = Self {
        stream_receive_window: 16 << 20,
        send_window: 64 << 20,
        mtu_upper_bound: 1452,
        loopback_datagram: LOOPBACK_MAX_DATAGRAM,
        segmentation_offload: true,
        socket_buffer: 4 << 20,
    };

    /// Whether `remote` is on the loopback path (IPv4-mapped IPv6 included, as a dual-stack
    /// server socket reports IPv4 peers).
    pub fn is_loopback(remote: &SocketAddr) -> bool {
        remote.ip().to_canonical().is_loopback()
    }

    /// The MTU discovery bound for a connection to `remote`, when it is on loopback and
    /// [`Self::loopback_datagram`] is set.
    pub fn loopback_bound(&self, remote: &SocketAddr) -> Option<u16> {
        (self.loopback_datagram != 0 && Self::is_loopback(remote)).then(|| {
            self.loopback_datagram
                .clamp(MIN_DATAGRAM, LOOPBACK_MAX_DATAGRAM)
        })
    }

    /// An endpoint configuration whose advertised max_udp_payload_size (RFC 9000 18.2) admits
    /// the largest datagram this side may be sent (loopback or discovered): the peer never sends
    /// larger datagrams than this side advertises, whatever its own bound (quinn's default is
    /// 1472). `loopback` says whether the endpoint may talk to a loopback peer (a server always
    /// may; a client endpoint serves one remote address). quinn sizes the endpoint's receive
    /// buffer from this value, so a client to a remote host keeps the small one.
    pub fn endpoint_config(&self, loopback: bool) -> quinn::EndpointConfig {
        let mut config = quinn::EndpointConfig::default();
        let largest = self.mtu_upper_bound.max(match self.loopback_datagram {
            d if d != 0 && loopback => d.clamp(MIN_DATAGRAM, LOOPBACK_MAX_DATAGRAM),
            _ => 0,
        });
        // Within 1200..=65527 after the clamp, so this cannot fail; keep quinn's default if it did.
        let _in_range = config
            .max_udp_payload_size(largest.clamp(1472, 65_527))
            .is_ok();
        config
    }

    /// Sizes the socket's kernel buffers (best effort: a refusal is logged, not fatal).
    pub fn prepare_socket(&self, socket: &std::net::UdpSocket) {
        if self.socket_buffer == 0 {
            return;
        }
        if let Err(e) =
            rustix::net::sockopt::set_socket_recv_buffer_size(socket, self.socket_buffer)
        {
            tracing::debug!(error = %e, "SO_RCVBUF not set");
        }
        if let Err(e) =
            rustix::net::sockopt::set_socket_send_buffer_size(socket, self.socket_buffer)
        {
            tracing::debug!(error = %e, "SO_SNDBUF not set");
        }
    }

    /// Writes these settings into the transport configuration of a connection to `remote`.
    pub fn apply(&self, transport: &mut quinn::TransportConfig, remote: &SocketAddr) {
        let largest = match self.loopback_bound(remote) {
            Some(size) => {
                // The handshake keeps 1200-byte datagrams (quinn encodes a long-header packet's
                // length in two bytes, so Initial and Handshake packets must stay under 16 KiB);
                // discovery then climbs to `size` within a few round trips of microseconds.
                let mut mtu = quinn::MtuDiscoveryConfig::default();
                mtu.upper_bound(size)
                    .black_hole_cooldown(LOOPBACK_BLACK_HOLE_COOLDOWN);
                // quinn's congestion window starts at 14720 bytes (RFC 9002 7.2, sized for
                // 1200-byte datagrams), less than one probe or datagram of `size`, which would
                // then never be sent. Start at RFC 9002's ten datagrams instead.
                let mut cubic = quinn::congestion::CubicConfig::default();
                cubic.initial_window(u64::from(size) * LOOPBACK_INITIAL_DATAGRAMS);
                transport
                    .mtu_discovery_config(Some(mtu))
                    .congestion_controller_factory(std::sync::Arc::new(cubic));
                size
            }
            None => {
                let bound = self.mtu_upper_bound.max(MIN_DATAGRAM);
                let mut mtu = quinn::MtuDiscoveryConfig::default();
                mtu.upper_bound(bound);
                transport.mtu_discovery_config(Some(mtu));
                bound
            }
        };
        let gso_fits = u32::from(largest) * QUINN_GSO_SEGMENTS <= MAX_UDP_SEND;
        transport
            .stream_receive_window(quinn::VarInt::from_u32(self.stream_receive_window))
            .send_window(self.send_window)
            .enable_segmentation_offload(self.segmentation_offload && gso_fits);
    }
}

impl Default for QuicTuning {
    fn default() -> Self {
        Self::SMB_THROUGHPUT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().expect("test address")
    }

    #[test]
    fn loopback_is_recognised_in_every_form() {
        assert!(QuicTuning::is_loopback(&addr("127.0.0.1:443")));
        assert!(QuicTuning::is_loopback(&addr("127.1.2.3:443")));
        assert!(QuicTuning::is_loopback(&addr("[::1]:443")));
        assert!(QuicTuning::is_loopback(&addr("[::ffff:127.0.0.1]:443")));
        assert!(!QuicTuning::is_loopback(&addr("192.0.2.1:443")));
        assert!(!QuicTuning::is_loopback(&addr("[2001:db8::1]:443")));
    }

    #[test]
    fn loopback_bound_only_on_loopback_and_clamped() {
        let t = QuicTuning::SMB_THROUGHPUT;
        assert_eq!(
            t.loopback_bound(&addr("127.0.0.1:1")),
            Some(LOOPBACK_MAX_DATAGRAM)
        );
        assert_eq!(t.loopback_bound(&addr("192.0.2.1:1")), None);
        assert_eq!(
            QuicTuning::QUINN_DEFAULTS.loopback_bound(&addr("127.0.0.1:1")),
            None
        );
        let small = QuicTuning {
            loopback_datagram: 10,
            ..t
        };
        assert_eq!(small.loopback_bound(&addr("[::1]:1")), Some(MIN_DATAGRAM));
        let huge = QuicTuning {
            loopback_datagram: u16::MAX,
            ..t
        };
        assert_eq!(
            huge.loopback_bound(&addr("[::1]:1")),
            Some(LOOPBACK_MAX_DATAGRAM)
        );
    }

    #[test]
    fn loopback_discovers_large_datagrams_without_gso_and_others_keep_1452() {
        let t = QuicTuning::SMB_THROUGHPUT;
        let mut lo = quinn::TransportConfig::default();
        t.apply(&mut lo, &addr("[::1]:443"));
        let lo = format!("{lo:?}");
        assert!(lo.contains("upper_bound: 65488"), "{lo}");
        assert!(lo.contains("black_hole_cooldown: 1s"), "{lo}");
        // Ten 65488-byte datagrams would not fit one UDP send: GSO is off for this path.
        assert!(lo.contains("enable_segmentation_offload: false"), "{lo}");

        let mut wan = quinn::TransportConfig::default();
        t.apply(&mut wan, &addr("192.0.2.1:443"));
        let wan = format!("{wan:?}");
        assert!(wan.contains("initial_mtu: 1200"), "{wan}");
        assert!(wan.contains("upper_bound: 1452"), "{wan}");
        assert!(wan.contains("enable_segmentation_offload: true"), "{wan}");
        assert!(wan.contains("stream_receive_window: 16777216"), "{wan}");
    }

    #[test]
    fn advertised_payload_size_follows_the_largest_datagram_expected() {
        let t = QuicTuning::SMB_THROUGHPUT;
        assert_eq!(t.endpoint_config(true).get_max_udp_payload_size(), 65_488);
        // A client endpoint to a remote host keeps quinn's 1472 (and its small receive buffer).
        assert_eq!(t.endpoint_config(false).get_max_udp_payload_size(), 1472);
        let off = QuicTuning {
            loopback_datagram: 0,
            ..t
        };
        assert_eq!(off.endpoint_config(true).get_max_udp_payload_size(), 1472);
        let jumbo = QuicTuning {
            mtu_upper_bound: 8952,
            ..off
        };
        assert_eq!(
            jumbo.endpoint_config(false).get_max_udp_payload_size(),
            8952
        );
    }
}
