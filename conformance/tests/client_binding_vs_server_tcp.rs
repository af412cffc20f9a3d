//! Our client binds a session to a second connection against our own server
//! (`driver_smol::server::SmbServer`, in process, TCP on 127.0.0.1): multichannel session
//! binding (MS-SMB2 3.2.4.2.3, 3.2.5.3.3) at 3.0.2 and at 3.1.1 with every signing algorithm
//! the server offers, I/O on both channels, sealed traffic on the encrypted share, a LOGOFF on
//! one channel ending the session on both; and the refusals: 2.1, a dialect or ClientGuid
//! that differs from the session's (refused before anything is sent), a wrong password and a
//! session that no longer exists (refused by the server, the connection lives on).

mod support;

use driver_smol::{Client, ClientError};
use smb_crypto::SigningAlgorithm;
use smb_proto::client::{BindError, ClientConfig, SendError};
use smb_proto::wire::Dialect;
use smb_proto::wire::status::NtStatus;
use support::channels::{
    Target, bind_roundtrip, failover_transfer, first_connection_loss, listed_loopback,
    spread_transfer,
};
use support::our_server::{OurServer, PASS, SECURE, SHARE, USER};
use support::requests::config;

/// `share` on `server` with `cfg`, as the channel scenarios take it.
fn target(server: &OurServer, cfg: ClientConfig, share: &str) -> Target {
    Target {
        addr: server.addr(),
        cfg,
        user: USER.into(),
        password: PASS.into(),
        share: share.into(),
    }
}

#[test]
fn bind_at_3_0_2() {
    let server = OurServer::start();
    let t = target(&server, config(Dialect::SMB3_0_2), SHARE);
    smol::block_on(bind_roundtrip(&t, "mc302.bin"));
}

#[test]
fn the_listed_interface_takes_a_second_channel() {
    // The test server lists what `smb serve` would for a listener on 127.0.0.1.
    let server = OurServer::start();
    let t = target(&server, config(Dialect::SMB3_1_1), SHARE);
    smol::block_on(async {
        let listed = listed_loopback(&t).await;
        bind_roundtrip(&t.at(listed), "mclisted.bin").await;
    });
}

#[test]
fn bulk_transfers_spread_over_three_channels() {
    let server = OurServer::start();
    for (dialect, share) in [
        (Dialect::SMB3_1_1, SHARE),
        (Dialect::SMB3_0_2, SHARE),
        (Dialect::SMB3_1_1, SECURE),
    ] {
        let t = target(&server, config(dialect), share);
        smol::block_on(spread_transfer(&t, "spread.bin"));
    }
}

#[test]
fn a_transfer_survives_a_cut_channel() {
    let server = OurServer::start();
    for share in [SHARE, SECURE] {
        let t = target(&server, config(Dialect::SMB3_1_1), share);
        smol::block_on(failover_transfer(&t, "failover.bin"));
    }
}

#[test]
fn the_first_connection_can_be_lost() {
    let server = OurServer::start();
    let t = target(&server, config(Dialect::SMB3_1_1), SHARE);
    smol::block_on(first_connection_loss(&t, "lostfirst.bin"));
}

/// The files API's share on `server` at 3.1.1, with the config and credentials it used.
async fn files_share(
    server: &OurServer,
) -> (
    driver_smol::files::Share,
    ClientConfig,
    driver_smol::files::Credentials,
) {
    let t = target(server, config(Dialect::SMB3_1_1), SHARE);
    (t.files_share().await, t.cfg.clone(), t.creds())
}

#[test]
fn an_unreachable_listed_interface_is_skipped() {
    use smb_proto::wire::fsctl::{InterfaceCapability, NetworkInterfaceInfo, SockAddr};
    let nic = |last: u8, speed: u64| NetworkInterfaceInfo {
        if_index: 1,
        capability: InterfaceCapability::default(),
        link_speed: speed,
        address: SockAddr::V4 {
            addr: std::net::Ipv4Addr::new(127, 0, 0, last),
            port: 0,
        },
    };
    // 127.0.0.2 is listed fastest but nothing listens there (the server is bound to
    // 127.0.0.1): the connection is refused and the channels go to 127.0.0.1.
    let server = OurServer::start_with(|c| {
        c.network_interfaces = vec![nic(2, 10_000_000_000), nic(1, 1_000_000_000)];
    });
    smol::block_on(async {
        let (s, cfg, creds) = files_share(&server).await;
        let s = s.with_channels(2, cfg, &creds).await.expect("channels");
        assert_eq!(s.channel_peers(), vec![Some(server.addr()); 3]);
        let f = s.create("skip.bin").await.expect("create");
        f.write_all(support::requests::payload(3 << 20, 5))
            .await
            .expect("write");
        f.close().await.expect("close");
        assert!(s.carried().iter().all(|n| *n > 0), "{:?}", s.carried());
        s.disconnect().await.expect("disconnect");
    });
}

#[test]
fn channels_are_refused_without_multichannel() {
    let server = OurServer::start_with(|c| c.multichannel = false);
    smol::block_on(async {
        let (s, cfg, creds) = files_share(&server).await;
        let e = s
            .with_channels(32, cfg.clone(), &creds)
            .await
            .expect_err("too many");
        assert!(e.to_string().contains("at most 31 more"), "{e}");
        let e = s
            .with_channels(1, cfg, &creds)
            .await
            .expect_err("no multichannel");
        assert!(
            e.to_string().contains("does not support multichannel"),
            "{e}"
        );
        assert_eq!(s.channel_count(), 1);
        s.disconnect().await.expect("disconnect");
    });
}

#[test]
fn bind_at_3_1_1_with_every_signing_algorithm() {
    let server = OurServer::start();
    for alg in [
        SigningAlgorithm::AES_GMAC,
        SigningAlgorithm::AES_CMAC,
        SigningAlgorithm::HMAC_SHA256,
    ] {
        let cfg = ClientConfig {
            signing_algorithms: vec![alg],
            ..config(Dialect::SMB3_1_1)
        };
        smol::block_on(async {
            let c = Client::connect(server.addr(), cfg.clone())
                .await
                .expect("connect");
            assert_eq!(c.negotiated().signing_algorithm, Some(alg));
            bind_roundtrip(&target(&server, cfg, SHARE), "mc311.bin").await;
        });
    }
}

#[test]
fn bind_on_the_encrypted_share() {
    let server = OurServer::start();
    for d in [Dialect::SMB3_0_2, Dialect::SMB3_1_1] {
        let t = target(&server, config(d), SECURE);
        smol::block_on(bind_roundtrip(&t, "mcsealed.bin"));
    }
}

fn bind_error(e: ClientError) -> BindError {
    match e {
        ClientError::Send(SendError::Binding(b)) => b,
        other => panic!("expected a binding refusal, got {other:?}"),
    }
}

#[test]
fn refusals_before_anything_is_sent() {
    let server = OurServer::start();
    smol::block_on(async {
        // 2.1 has no multichannel.
        let c = Client::connect(server.addr(), config(Dialect::SMB2_1))
            .await
            .expect("connect 2.1");
        let s = c.login(USER, "", PASS).await.expect("login 2.1");
        assert_eq!(
            bind_error(c.session_binding(s).await.expect_err("2.1 exports nothing")),
            BindError::NotSmb3(Dialect::SMB2_1)
        );

        let c1 = Client::connect(server.addr(), config(Dialect::SMB3_1_1))
            .await
            .expect("connect 1");
        let s = c1.login(USER, "", PASS).await.expect("login");
        // A connection of another dialect.
        let b = c1.session_binding(s).await.expect("export");
        let guid = Some(b.client_guid().0);
        let c2 = Client::connect(
            server.addr(),
            ClientConfig {
                client_guid: guid,
                ..config(Dialect::SMB3_0_2)
            },
        )
        .await
        .expect("connect 3.0.2");
        assert_eq!(
            bind_error(c2.bind(b, USER, "", PASS).await.expect_err("dialect")),
            BindError::DialectMismatch {
                session: Dialect::SMB3_1_1,
                connection: Dialect::SMB3_0_2
            }
        );
        // A connection of 2.1 cannot bind at all.
        let b = c1.session_binding(s).await.expect("export");
        let c21 = Client::connect(
            server.addr(),
            ClientConfig {
                client_guid: guid,
                ..config(Dialect::SMB2_1)
            },
        )
        .await
        .expect("connect 2.1");
        assert_eq!(
            bind_error(c21.bind(b, USER, "", PASS).await.expect_err("2.1")),
            BindError::NotSmb3(Dialect::SMB2_1)
        );
        // Another ClientGuid.
        let b = c1.session_binding(s).await.expect("export");
        let other = Client::connect(server.addr(), config(Dialect::SMB3_1_1))
            .await
            .expect("connect");
        assert_eq!(
            bind_error(other.bind(b, USER, "", PASS).await.expect_err("guid")),
            BindError::ClientGuidMismatch
        );
        // The secret keys stay out of Debug.
        let b = c1.session_binding(s).await.expect("export");
        let shown = format!("{b:?}");
        assert!(shown.contains("redacted"), "{shown}");
        // The session still works.
        c1.tree_connect(s, SHARE)
            .await
            .expect("tree connect after refusals");
    });
}

#[test]
fn refusals_by_the_server() {
    let server = OurServer::start();
    smol::block_on(async {
        let cfg = config(Dialect::SMB3_1_1);
        let c1 = Client::connect(server.addr(), cfg.clone())
            .await
            .expect("connect");
        let s = c1.login(USER, "", PASS).await.expect("login");
        let (t, _) = c1.tree_connect(s, SHARE).await.expect("tree");
        // A wrong password: LOGON_FAILURE; the session lives on, on channel 1.
        let e = Client::connect_channel(server.addr(), cfg.clone(), &c1, s, USER, "", "wrong")
            .await
            .expect_err("wrong password");
        assert_eq!(e.status(), Some(NtStatus::LOGON_FAILURE), "{e}");
        support::requests::list(&c1, s, t).await;
        // The same connection may try again with the right password.
        let b = c1.session_binding(s).await.expect("export");
        let c2 = Client::connect(
            server.addr(),
            ClientConfig {
                client_guid: Some(b.client_guid().0),
                ..cfg.clone()
            },
        )
        .await
        .expect("connect 2");
        let b2 = c1.session_binding(s).await.expect("export");
        let e = c2
            .bind(b, USER, "", "wrong")
            .await
            .expect_err("wrong password");
        assert_eq!(e.status(), Some(NtStatus::LOGON_FAILURE), "{e}");
        c2.bind(b2, USER, "", PASS)
            .await
            .expect("bind after a failure");
        support::requests::list(&c2, s, t).await;

        // A session that is gone: USER_SESSION_DELETED.
        let b = c1.session_binding(s).await.expect("export");
        c1.logoff(s).await.expect("logoff");
        let c3 = Client::connect(
            server.addr(),
            ClientConfig {
                client_guid: Some(b.client_guid().0),
                ..cfg
            },
        )
        .await
        .expect("connect 3");
        let e = c3
            .bind(b, USER, "", PASS)
            .await
            .expect_err("unknown session");
        assert_eq!(e.status(), Some(NtStatus::USER_SESSION_DELETED), "{e}");
    });
}
