//! Our client binds a session to a second TCP connection against a private Samba `smbd`
//! (multichannel, MS-SMB2 3.2.4.2.3 / 3.3.5.5.2): at 3.1.1 and 3.0.2, a file written on
//! channel 1 is read back on channel 2 (and the other way round), and a LOGOFF on channel 2
//! ends the session for channel 1. Under `CI=true` a missing smbd fails the test.

mod support;

use std::net::SocketAddr;

use conformance::samba::{SambaOptions, SambaServer};
use smb_proto::wire::Dialect;
use support::channels::{
    Target, bind_roundtrip, failover_transfer, first_connection_loss, listed_loopback,
    spread_transfer,
};
use support::requests::config;

/// A private smbd with multichannel on (`None`: no smbd, outside CI).
fn multichannel_smbd() -> Option<SambaServer> {
    SambaServer::start_for_test(SambaOptions {
        signing_mandatory: true,
        extra_global: vec!["server multi channel support = yes".into()],
        ..SambaOptions::default()
    })
}

/// `share` on `server` at `dialect`, as the channel scenarios take it.
fn target(server: &SambaServer, dialect: Dialect, share: &str) -> Target {
    Target {
        addr: SocketAddr::from(([127, 0, 0, 1], server.port())),
        cfg: config(dialect),
        user: server.user().into(),
        password: server.password().into(),
        share: share.into(),
    }
}

/// Starts a private smbd with multichannel on and runs the bind round trip on `share` at
/// `dialect`, writing `file`.
fn bind_on_smbd(dialect: Dialect, share: &str, file: &str) {
    let Some(server) = multichannel_smbd() else {
        return;
    };
    smol::block_on(bind_roundtrip(&target(&server, dialect, share), file));
}

#[test]
fn bind_a_second_channel_at_3_1_1() {
    bind_on_smbd(Dialect::SMB3_1_1, SambaServer::SHARE, "mc311.bin");
}

#[test]
fn bind_a_second_channel_at_3_0_2() {
    bind_on_smbd(Dialect::SMB3_0_2, SambaServer::SHARE, "mc302.bin");
}

#[test]
fn bind_a_second_channel_on_an_encrypted_share() {
    // Channel 2 seals with the session's keys and a nonce sequence of its own (3.2.4.1.8).
    bind_on_smbd(Dialect::SMB3_1_1, SambaServer::SECURE_SHARE, "mcsealed.bin");
}

#[test]
fn the_listed_interface_takes_a_second_channel() {
    // smbd lists the interfaces of its `interfaces` line (127.0.0.1 here) once multichannel
    // is on; the second channel goes to the address it listed.
    let Some(server) = multichannel_smbd() else {
        return;
    };
    let t = target(&server, Dialect::SMB3_1_1, SambaServer::SHARE);
    smol::block_on(async {
        let listed = listed_loopback(&t).await;
        bind_roundtrip(&t.at(listed), "mclisted.bin").await;
    });
}

#[test]
fn bulk_transfers_spread_over_three_channels() {
    let Some(server) = multichannel_smbd() else {
        return;
    };
    for (dialect, share) in [
        (Dialect::SMB3_1_1, SambaServer::SHARE),
        (Dialect::SMB3_0_2, SambaServer::SHARE),
        (Dialect::SMB3_1_1, SambaServer::SECURE_SHARE),
    ] {
        smol::block_on(spread_transfer(
            &target(&server, dialect, share),
            "spread.bin",
        ));
    }
}

#[test]
fn a_transfer_survives_a_cut_channel() {
    let Some(server) = multichannel_smbd() else {
        return;
    };
    for share in [SambaServer::SHARE, SambaServer::SECURE_SHARE] {
        let t = target(&server, Dialect::SMB3_1_1, share);
        smol::block_on(failover_transfer(&t, "failover.bin"));
    }
}

#[test]
fn the_first_connection_can_be_lost() {
    let Some(server) = multichannel_smbd() else {
        return;
    };
    let t = target(&server, Dialect::SMB3_1_1, SambaServer::SHARE);
    smol::block_on(first_connection_loss(&t, "lostfirst.bin"));
}
