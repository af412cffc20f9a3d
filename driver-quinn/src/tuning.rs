//! [`QuicTuning`]: the throughput settings of the QUIC transport (flow-control windows, datagram
//! size, segmentation offload), applied the same way by the server and the client. Owns only
//! these numbers and how they map onto `quinn::TransportConfig`; stream limits, timeouts and
//! TLS stay with [`crate::server`] and [`crate::client`].
//!
//! Why they matter for SMB: an SMB client keeps several MiB of READ or WRITE requests in flight
//! (`driver_smol::files` keeps about 8 MiB), all on the one QUIC stream. quinn's defaults are
//! sized for 12.5 MB/s at 100 ms RTT (a 1.25 MB stream window) and 1452-byte datagrams, so on
//! a fast path the receiver's flow control and the per-packet cost cap the transfer.

/// Throughput settings of one QUIC endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuicTuning {
    /// Bytes the peer may send on the stream beyond what the application has read (the
    /// stream's flow-control window, RFC 9000 4.1).
    pub stream_receive_window: u32,
    /// Bytes of unacknowledged data this side keeps buffered for sending.
    pub send_window: u64,
    /// Largest UDP payload that path MTU discovery probes for (RFC 8899). Probing starts at
    /// 1200 bytes and backs off on loss, so a large bound is safe on paths with a smaller MTU;
    /// on loopback (MTU 65536) it lets one datagram carry far more than 1452 bytes.
    pub mtu_upper_bound: u16,
    /// Let the OS split one large send into datagrams (UDP GSO), where supported.
    pub segmentation_offload: bool,
    /// SO_RCVBUF and SO_SNDBUF asked for on the UDP socket (the kernel caps them at
    /// net.core.rmem_max / wmem_max); `0` keeps the system default (about 208 KiB on Linux,
    /// which a burst of large datagrams overflows, and QUIC counts the drops as congestion).
    pub socket_buffer: usize,
}

impl QuicTuning {
    /// quinn's own defaults (1.25 MB stream window, 10 MB send window, 1452-byte bound).
    pub const QUINN_DEFAULTS: Self = Self {
        stream_receive_window: 1_250_000,
        send_window: 10_000_000,
        mtu_upper_bound: 1452,
        segmentation_offload: true,
        socket_buffer: 0,
    };

    /// Sized for SMB's pipelined transfers: a 16 MiB stream window (twice the client's 8 MiB
    /// of requests in flight), a 64 MiB send window and 4 MiB socket buffers. The datagram
    /// bound stays at quinn's 1452: on loopback, a 9000-byte bound made MTU discovery lose
    /// probes and fall back to 1200 bytes with congestion events (measured with the `quic`
    /// bench), which was slower.
    pub const SMB_THROUGHPUT: Self = Self {
        stream_receive_window: 16 << 20,
        send_window: 64 << 20,
        mtu_upper_bound: 1452,
        segmentation_offload: true,
        socket_buffer: 4 << 20,
    };

    /// An endpoint configuration whose advertised max_udp_payload_size (RFC 9000 18.2) admits
    /// the datagrams MTU discovery may reach: the peer never sends larger datagrams than this
    /// side advertises, whatever its own bound (quinn's default is 1472).
    pub fn endpoint_config(&self) -> quinn::EndpointConfig {
        let mut config = quinn::EndpointConfig::default();
        // Within 1200..=65527 after the clamp, so this cannot fail; keep quinn's default if it did.
        let _in_range = config
            .max_udp_payload_size(self.mtu_upper_bound.clamp(1472, 65_527))
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

    /// Writes these settings into a quinn transport configuration.
    pub fn apply(&self, transport: &mut quinn::TransportConfig) {
        let mut mtu = quinn::MtuDiscoveryConfig::default();
        mtu.upper_bound(self.mtu_upper_bound.max(1200));
        transport
            .stream_receive_window(quinn::VarInt::from_u32(self.stream_receive_window))
            .send_window(self.send_window)
            .mtu_discovery_config(Some(mtu))
            .enable_segmentation_offload(self.segmentation_offload);
    }
}

impl Default for QuicTuning {
    fn default() -> Self {
        Self::SMB_THROUGHPUT
    }
}
