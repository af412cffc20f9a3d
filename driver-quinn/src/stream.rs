//! [`QuicStream`]: the one bidirectional QUIC stream of an SMB over QUIC connection as a single
//! duplex byte stream (futures-io `AsyncRead + AsyncWrite`), so the generic SMB stream loop runs
//! on it exactly as on a TCP socket. It carries bytes only; framing is the caller's.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

/// The SMB byte stream of one QUIC connection: quinn's send and receive halves joined, plus the
/// connection (and, on the client, the endpoint) they live on, which stay open while it exists.
#[derive(Debug)]
pub struct QuicStream {
    send: quinn::SendStream,
    recv: quinn::RecvStream,
    connection: quinn::Connection,
    _endpoint: Option<quinn::Endpoint>,
}

impl QuicStream {
    pub(crate) fn new(
        send: quinn::SendStream,
        recv: quinn::RecvStream,
        connection: quinn::Connection,
        endpoint: Option<quinn::Endpoint>,
    ) -> Self {
        Self {
            send,
            recv,
            connection,
            _endpoint: endpoint,
        }
    }

    /// The QUIC connection the stream belongs to.
    pub fn connection(&self) -> &quinn::Connection {
        &self.connection
    }

    /// Finishes the sending direction and waits until the peer has acknowledged every byte (or
    /// stopped reading), so closing the connection afterwards loses nothing.
    pub async fn finish(&mut self) -> io::Result<()> {
        // An error only means the stream was already finished: wait all the same.
        let _already_finished = self.send.finish().is_err();
        self.send
            .stopped()
            .await
            .map(|_| ())
            .map_err(io::Error::other)
    }

    /// Closes the whole connection at once with an application error code and reason (unsent
    /// data is abandoned; call [`Self::finish`] first for a graceful end).
    pub fn close_connection(&self, code: u32, reason: &[u8]) {
        self.connection.close(quinn::VarInt::from_u32(code), reason);
    }

    /// Splits into quinn's halves and the connection.
    pub fn into_parts(self) -> (quinn::SendStream, quinn::RecvStream, quinn::Connection) {
        (self.send, self.recv, self.connection)
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
        futures_io::AsyncWrite::poll_write(Pin::new(&mut self.get_mut().send), cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        futures_io::AsyncWrite::poll_flush(Pin::new(&mut self.get_mut().send), cx)
    }

    /// Finishes the sending direction (a QUIC FIN); the receiving direction stays readable.
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        futures_io::AsyncWrite::poll_close(Pin::new(&mut self.get_mut().send), cx)
    }
}
