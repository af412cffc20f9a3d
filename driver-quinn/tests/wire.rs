//! On the wire: with the server's TLS key log, tshark decrypts a loopback capture of SMB over
//! QUIC and dissects the stream down to SMB2 with no malformed packets. Skipped (with a message)
//! when tshark is not installed or cannot capture on the loopback interface.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use conformance::tshark::{self, Capture};
use driver_quinn::{KeyLogToPath, connect};

/// An SMB2 NEGOTIATE request (MS-SMB2 2.2.1 header, 2.2.3 body) offering 2.0.2, 2.1 and 3.0,
/// without negotiate contexts, so a dissector needs nothing else to parse it.
fn smb2_negotiate() -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(b"\xfeSMB"); // ProtocolId
    m.extend_from_slice(&64u16.to_le_bytes()); // StructureSize
    m.extend_from_slice(&0u16.to_le_bytes()); // CreditCharge
    m.extend_from_slice(&0u32.to_le_bytes()); // Status
    m.extend_from_slice(&0u16.to_le_bytes()); // Command: NEGOTIATE
    m.extend_from_slice(&1u16.to_le_bytes()); // CreditRequest
    m.extend_from_slice(&0u32.to_le_bytes()); // Flags
    m.extend_from_slice(&0u32.to_le_bytes()); // NextCommand
    m.extend_from_slice(&0u64.to_le_bytes()); // MessageId
    m.extend_from_slice(&0u32.to_le_bytes()); // Reserved
    m.extend_from_slice(&0u32.to_le_bytes()); // TreeId
    m.extend_from_slice(&0u64.to_le_bytes()); // SessionId
    m.extend_from_slice(&[0u8; 16]); // Signature
    let dialects: [u16; 3] = [0x0202, 0x0210, 0x0300];
    m.extend_from_slice(&36u16.to_le_bytes()); // StructureSize
    m.extend_from_slice(&(dialects.len() as u16).to_le_bytes()); // DialectCount
    m.extend_from_slice(&1u16.to_le_bytes()); // SecurityMode: signing enabled
    m.extend_from_slice(&0u16.to_le_bytes()); // Reserved
    m.extend_from_slice(&0u32.to_le_bytes()); // Capabilities
    m.extend_from_slice(&[0x11; 16]); // ClientGuid
    m.extend_from_slice(&0u64.to_le_bytes()); // ClientStartTime
    for d in dialects {
        m.extend_from_slice(&d.to_le_bytes());
    }
    m
}

#[test]
fn tshark_decrypts_the_capture_down_to_smb2() {
    let Some(_) = conformance::peers::require("tshark") else {
        return;
    };
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .expect("probe")
        .port();
    let (capture, capture_log, key_log) = (
        scratch("wire.pcapng"),
        scratch("wire-tshark.log"),
        scratch("wire-keys.txt"),
    );
    let probe_socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("probe socket");
    let probe = || {
        let _ = probe_socket.send_to(b"capture probe", ("127.0.0.1", port));
    };
    let Some(child) = Capture::start(
        &format!("udp port {port}"),
        &capture,
        &capture_log,
        None,
        probe,
    ) else {
        // Capturing needs CAP_NET_RAW; CI runs as root, so there this is a failure.
        assert!(
            !conformance::peers::in_ci(),
            "tshark cannot capture on lo (CI=true): see {}",
            capture_log.display()
        );
        eprintln!("SKIP: tshark cannot capture on lo here");
        return;
    };

    let ca = TestCa::new("Root");
    let (mut cfg, _) = server_config(ca.server_cert(&["localhost"]));
    cfg.listen = ([127, 0, 0, 1], port).into();
    cfg.key_log = Some(Arc::new(KeyLogToPath::open(&key_log).expect("key log")));
    let negotiate = smb2_negotiate();
    run(Duration::from_secs(15), async {
        let srv = EchoServer::start(cfg);
        let (ccfg, _) = client_config(&ca);
        let mut s = connect(&ccfg, "localhost", port).await.expect("connect");
        round_trip(&mut s.stream, &negotiate).await;
        // End as an SMB client does, by closing the connection. (A bare FIN, i.e. an empty
        // STREAM frame, is valid QUIC but Wireshark 4.0's NBSS dissector flags it malformed.)
        s.connection.close(0, b"done");
        smol::Timer::after(Duration::from_millis(200)).await;
        drop(srv);
    });
    let key_opt = format!("tls.keylog_file:{}", key_log.display());
    let cap = capture.to_string_lossy().into_owned();
    // Complete once the request and its echo are in the file, and the CONNECTION_CLOSE after them.
    child.stop(|| {
        let smb2 = tshark::read(&["-r", &cap, "-o", &key_opt, "-Y", "smb2"]).unwrap_or_default();
        let close = tshark::read(&["-r", &cap, "-o", &key_opt, "-Y", "quic.frame_type == 0x1d"])
            .unwrap_or_default();
        smb2.lines().count() >= 2 && close.lines().count() >= 1
    });

    let smb2 = tshark::read(&[
        "-r", &cap, "-o", &key_opt, "-Y", "smb2", "-T", "fields", "-e", "smb2.cmd",
    ])
    .expect("tshark read");
    let malformed =
        tshark::read(&["-r", &cap, "-o", &key_opt, "-Y", "_ws.malformed"]).expect("tshark read");
    let summary = tshark::read(&["-r", &cap, "-o", &key_opt]).unwrap_or_default();
    let quic = tshark::read(&[
        "-r",
        &cap,
        "-o",
        &key_opt,
        "-Y",
        "quic.stream.stream_id == 0",
    ])
    .expect("tshark read");
    for p in [&capture, &capture_log, &key_log] {
        let _ = std::fs::remove_file(p);
    }
    assert!(
        !quic.trim().is_empty(),
        "no decrypted QUIC STREAM frames in:\n{summary}"
    );
    let cmds: Vec<&str> = smb2.lines().filter(|l| !l.is_empty()).collect();
    assert!(
        cmds.len() >= 2,
        "request and echo dissected as SMB2: {smb2:?}"
    );
    assert!(
        cmds.iter().all(|c| *c == "0"),
        "NEGOTIATE is command 0: {cmds:?}"
    );
    assert!(
        malformed.trim().is_empty(),
        "malformed or error packets: {malformed}"
    );
}
