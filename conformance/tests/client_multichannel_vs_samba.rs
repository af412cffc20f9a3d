//! Our client binds a session to a second TCP connection against a private Samba `smbd`
//! (multichannel, MS-SMB2 3.2.4.2.3 / 3.3.5.5.2): at 3.1.1 and 3.0.2, a file written on
//! channel 1 is read back on channel 2 (and the other way round), and a LOGOFF on channel 2
//! ends the session for channel 1. Under `CI=true` a missing smbd fails the test.

mod support;

use std::net::SocketAddr;

use conformance::samba::{SambaOptions, SambaServer};
use smb_proto::wire::Dialect;
use support::channels::{
    bind_roundtrip, failover_transfer, first_connection_loss, listed_loopback, spread_transfer,
};
use support::requests::config;

/// A private smbd with multichannel on, and its address (`None`: no smbd, outside CI).
fn multichannel_smbd() -> Option<(SambaServer, SocketAddr)> {
    let server = SambaServer::start_for_test(SambaOptions {
        signing_mandatory: true,
        extra_global: vec!["server multi channel support = yes".into()],
        ..SambaOptions::default()
    })?;
    let addr = SocketAddr::from(([127, 0, 0, 1], server.port()));
    Some((server, addr))
}

/// Starts a private smbd with multichannel on and runs the bind round trip on `share` at
/// `dialect`, writing `file`.
fn bind_on_smbd(dialect: Dialect, share: &str, file: &str) {
    let Some((server, addr)) = multichannel_smbd() else {
        return;
    };
    smol::block_on(bind_roundtrip(
        addr,
        config(dialect),
        server.user(),
        server.password(),
        share,
        file,
    ));
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
    let Some((server, addr)) = multichannel_smbd() else {
        return;
    };
    smol::block_on(async {
        let cfg = config(Dialect::SMB3_1_1);
        let listed = listed_loopback(
            addr,
            cfg.clone(),
            server.user(),
            server.password(),
            SambaServer::SHARE,
        )
        .await;
        bind_roundtrip(
            listed,
            cfg,
            server.user(),
            server.password(),
            SambaServer::SHARE,
            "mclisted.bin",
        )
        .await;
    });
}

#[test]
fn bulk_transfers_spread_over_three_channels() {
    let Some((server, addr)) = multichannel_smbd() else {
        return;
    };
    for (dialect, share) in [
        (Dialect::SMB3_1_1, SambaServer::SHARE),
        (Dialect::SMB3_0_2, SambaServer::SHARE),
        (Dialect::SMB3_1_1, SambaServer::SECURE_SHARE),
    ] {
        smol::block_on(spread_transfer(
            addr,
            config(dialect),
            server.user(),
            server.password(),
            share,
            "spread.bin",
        ));
    }
}

#[test]
fn a_transfer_survives_a_cut_channel() {
    let Some((server, addr)) = multichannel_smbd() else {
        return;
    };
    for share in [SambaServer::SHARE, SambaServer::SECURE_SHARE] {
        smol::block_on(failover_transfer(
            addr,
            config(Dialect::SMB3_1_1),
            server.user(),
            server.password(),
            share,
            "failover.bin",
        ));
    }
}

#[test]
fn the_first_connection_can_be_lost() {
    let Some((server, addr)) = multichannel_smbd() else {
        return;
    };
    smol::block_on(first_connection_loss(
        addr,
        config(Dialect::SMB3_1_1),
        server.user(),
        server.password(),
        SambaServer::SHARE,
        "lostfirst.bin",
    ));
}
