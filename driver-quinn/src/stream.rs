//! [`QuicStream`]: the one bidirectional QUIC stream of an SMB over QUIC connection as a single
//! duplex byte stream (futures-io `AsyncRead + AsyncWrite`), so the generic SMB stream loop runs
//! on it exactly as on a TCP socket. It carries bytes only; framing is the caller's.
//!
//! Dropping it behaves like closing a TCP socket: bytes already written are still delivered. A
//! QUIC connection closes abruptly once its last handle is gone, so the drop hands the send half
//! and the connection to a short background task that waits (at most [`LINGER`]) until the peer
//! has acknowledged everything, then lets the connection close.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// How long a dropped stream keeps its connection open to deliver data already written.
pub const LINGER: Duration = Duration::from_secs(5);

/// The SMB byte stream of one QUIC connection: quinn's send and receive halves joined, plus the
/// connection (and, on the client, the endpoint) they live on, which stay open while it exists.
#[derive(Debug)]
pub struct QuicStream {
    /// Always `Some` until drop, which moves it to the linger task.
    send: Option<quinn::SendStream>,
    recv: quinn::RecvStream,
    connection: quinn::Connection,
    endpoint: Option<quinn::Endpoint>,
}

impl QuicStream {
    pub(crate) fn new(
        send: quinn::SendStream,
        recv: quinn::RecvStream,
        connection: quinn::Connection,
        endpoint: Option<quinn::Endpoint>,
    ) -> Self {
        Self {
            send: Some(send),
            recv,
            connection,
            endpoint,
        }
    }

    /// The QUIC connection the stream belongs to.
    pub fn connection(&self) -> &quinn::Connection {
        &self.connection
    }

    /// Finishes the sending direction and waits until the peer has acknowledged every byte (or
    /// stopped reading), so closing the connection afterwards loses nothing.
    pub async fn finish(&mut self) -> io::Result<()> {
        let send = self.send_half()?;
        // An error only means the stream was already finished: wait all the same.
        let _already_finished = send.finish().is_err();
        send.stopped().await.map(|_| ()).map_err(io::Error::other)
    }

    /// Closes the whole connection at once with an application error code and reason (unsent
    /// data is abandoned; call [`Self::finish`] first for a graceful end).
    pub fn close_connection(&self, code: u32, reason: &[u8]) {
        self.connection.close(quinn::VarInt::from_u32(code), reason);
    }

    fn send_half(&mut self) -> io::Result<&mut quinn::SendStream> {
        self.send
            .as_mut()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "stream already dropped"))
    }
}

impl Drop for QuicStream {
    fn drop(&mut self) {
        let Some(mut send) = self.send.take() else {
            return;
        };
        // Like a TCP close: FIN after the data written so far (an error means already finished).
        let _already_finished = send.finish().is_err();
        let connection = self.connection.clone();
        let endpoint = self.endpoint.take();
        smol::spawn(async move {
            let _acknowledged = smol::future::or(async { send.stopped().await.is_ok() }, async {
                smol::Timer::after(LINGER).await;
                false
            })
            .await;
            drop(connection);
            drop(endpoint);
        })
        .detach();
    }
}

impl futures_io::AsyncRead for QuicStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        futures_io::AsyncRead::poll_read(Pin::new(&mut self.get_mut().recv), cx, buf)
    }
}

impl futures_io::AsyncWrite for QuicStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let send = self.get_mut().send_half()?;
        futures_io::AsyncWrite::poll_write(Pin::new(send), cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let send = self.get_mut().send_half()?;
        futures_io::AsyncWrite::poll_flush(Pin::new(send), cx)
    }

    /// Finishes the sending direction (a QUIC FIN); the receiving direction stays readable.
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let send = self.get_mut().send_half()?;
        futures_io::AsyncWrite::poll_close(Pin::new(send), cx)
    }
}
