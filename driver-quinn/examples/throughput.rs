//! Raw transport throughput on loopback, no SMB: pushes `MIB` MiB (default 512) of 1 MiB
//! Direct-TCP frames one way over the SMB over QUIC stream and, for reference, over a plain TCP
//! socket, and prints MiB/s for each. A baseline for the issue 7 benchmark, which adds SMB on top.
//!
//! `cargo run --release -p driver-quinn --example throughput -- 512 [quic-only]`

use std::sync::Arc;
use std::time::Instant;

use driver_quinn::{
    ClientConfig, QuicServer, ServerCertificate, ServerConfig, ServerVerification, TracingSink,
    connect,
};
use smol::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

const FRAME: usize = 1 << 20;

async fn push(stream: &mut (impl AsyncWrite + AsyncRead + Unpin), mib: usize) -> f64 {
    let mut frame = vec![0x5au8; FRAME + 4];
    frame[..4].copy_from_slice(&((FRAME as u32) & 0x00ff_ffff).to_be_bytes());
    let start = Instant::now();
    for _ in 0..mib {
        stream.write_all(&frame).await.expect("write");
    }
    stream.flush().await.expect("flush");
    // The sink answers one byte once it has everything.
    let mut ack = [0u8; 1];
    stream.read_exact(&mut ack).await.expect("ack");
    mib as f64 / start.elapsed().as_secs_f64()
}

async fn drain(stream: &mut (impl AsyncWrite + AsyncRead + Unpin), mib: usize) {
    let mut buf = vec![0u8; 256 * 1024];
    let mut left = mib * (FRAME + 4);
    while left > 0 {
        let n = stream.read(&mut buf).await.expect("read");
        assert!(n > 0, "early end of stream");
        left -= n.min(left);
    }
    stream.write_all(&[1]).await.expect("ack");
    stream.flush().await.expect("flush");
}

fn main() {
    let mib: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(512);
    let quic_only = std::env::args().nth(2).is_some_and(|a| a == "quic-only");
    smol::block_on(async {
        let (cert, _) = ServerCertificate::self_signed("localhost").expect("cert");
        let mut cfg = ServerConfig::new(cert);
        cfg.listen = "127.0.0.1:0".parse().expect("addr");
        cfg.audit = Arc::new(TracingSink);
        let server = Arc::new(QuicServer::bind(cfg).expect("bind"));
        let port = server.local_addr().expect("addr").port();
        let s = server.clone();
        smol::spawn(async move {
            s.serve(move |mut acc| async move { drain(&mut acc.stream, mib).await })
                .await
        })
        .detach();
        let client = ClientConfig::new(ServerVerification::DangerSkipServerVerification);
        let mut session = connect(&client, "localhost", port).await.expect("connect");
        let quic = push(&mut session.stream, mib).await;
        if quic_only {
            println!("{mib} MiB one way: QUIC {quic:.0} MiB/s");
            return;
        }

        let listener = smol::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("tcp");
        let addr = listener.local_addr().expect("addr");
        smol::spawn(async move {
            let (mut s, _) = listener.accept().await.expect("accept");
            drain(&mut s, mib).await;
        })
        .detach();
        let mut tcp = smol::net::TcpStream::connect(addr).await.expect("connect");
        tcp.set_nodelay(true).expect("nodelay");
        let tcp = push(&mut tcp, mib).await;
        println!("{mib} MiB one way: QUIC {quic:.0} MiB/s, plain TCP {tcp:.0} MiB/s");
    });
}
