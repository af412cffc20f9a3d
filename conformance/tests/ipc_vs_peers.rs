//! Share enumeration against our server (`driver_smol::server::SmbServer`) over real TCP on
//! 127.0.0.1, through IPC$ and the `srvsvc` pipe: Samba's `smbclient -L` and
//! `rpcclient netshareenumall` list every configured share with its comment, and so does our
//! own `driver_smol::Client::shares` (plus the GetInfo calls and wkssvc). Missing tools print
//! SKIP, or fail under CI=true.

mod support;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use conformance::peers::{ProcessOutput, require, run_with_timeout};
use conformance::smbclient::write_client_conf;
use driver_smol::Client;
use driver_smol::shares::{RpcPipe, SharesError};
use smb_proto::client::ClientConfig;
use smb_proto::rpc::RpcError;
use smb_proto::rpc::srvsvc::{self, ServerInfo, ShareType};
use smb_proto::rpc::wkssvc;
use smb_proto::wire::Dialect;
use support::our_server::{OurServer, PASS, SECURE, SHARE, USER};

const SHARE_COMMENT: &str = "plain share for the ipc tests";
const SECURE_COMMENT: &str = "encrypted share, comment with spaces";
/// The comment our server lists IPC$ with.
const IPC_COMMENT: &str = "IPC Service";

/// Our server with comments on both shares.
fn server() -> OurServer {
    OurServer::start_with(|c| {
        for s in &mut c.shares {
            s.comment = if s.name == SHARE {
                SHARE_COMMENT.into()
            } else {
                SECURE_COMMENT.into()
            };
        }
    })
}

fn client_conf() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = write_client_conf(dir.path()).expect("client conf");
    (dir, conf)
}

fn run(tool: PathBuf, args: &[String]) -> ProcessOutput {
    run_with_timeout(Command::new(tool).args(args), Duration::from_secs(60)).expect("run tool")
}

/// The line of `text` that starts (after blanks) with the share name as its own word.
fn share_line<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    text.lines()
        .find(|l| l.split_whitespace().next() == Some(name))
}

#[test]
fn smbclient_lists_every_share_with_its_comment() {
    let Some(tool) = require("smbclient") else {
        return;
    };
    let server = server();
    let (_dir, conf) = client_conf();
    for (proto, protection) in [
        ("SMB2_02", "sign"),
        ("SMB3_11", "sign"),
        ("SMB3_11", "encrypt"),
    ] {
        let out = run(
            tool.clone(),
            &[
                "-L".into(),
                "//127.0.0.1".into(),
                format!("--port={}", server.port()),
                format!("--configfile={}", conf.display()),
                format!("--user={USER}%{PASS}"),
                format!("--option=client max protocol={proto}"),
                format!("--client-protection={protection}"),
            ],
        );
        let proto = format!("{proto} {protection}");
        let text = out.combined();
        assert!(out.success(), "{proto}: smbclient -L failed:\n{text}");
        for (name, kind, comment) in [
            (SHARE, "Disk", SHARE_COMMENT),
            (SECURE, "Disk", SECURE_COMMENT),
            ("IPC$", "IPC", IPC_COMMENT),
        ] {
            let line = share_line(&text, name)
                .unwrap_or_else(|| panic!("{proto}: {name} not listed:\n{text}"));
            assert!(
                line.contains(kind) && line.contains(comment),
                "{proto}: {name} listed as {line:?}, want type {kind} and comment {comment:?}"
            );
        }
        assert!(
            !text.contains("NT_STATUS_"),
            "{proto}: an error in the output:\n{text}"
        );
    }
}

#[test]
fn rpcclient_netshareenumall_lists_every_share() {
    let Some(tool) = require("rpcclient") else {
        return;
    };
    let server = server();
    let (_dir, conf) = client_conf();
    let rpcclient = |command: &str| {
        run(
            tool.clone(),
            &[
                format!("--port={}", server.port()),
                format!("--configfile={}", conf.display()),
                format!("--user={USER}%{PASS}"),
                format!("--command={command}"),
                "127.0.0.1".into(),
            ],
        )
    };
    // Level 1: names, types and comments. rpcclient prints "netname: NAME" then
    // "remark: COMMENT" for each share.
    let out = rpcclient("netshareenumall 1");
    let text = out.combined();
    assert!(out.success(), "rpcclient failed:\n{text}");
    for (name, comment) in [
        (SHARE, SHARE_COMMENT),
        (SECURE, SECURE_COMMENT),
        ("IPC$", IPC_COMMENT),
    ] {
        let at = text
            .find(&format!("netname: {name}"))
            .unwrap_or_else(|| panic!("{name} not listed:\n{text}"));
        let remark = text[at..]
            .lines()
            .find_map(|l| l.trim().strip_prefix("remark:"))
            .unwrap_or_else(|| panic!("no remark after {name}:\n{text}"));
        assert_eq!(remark.trim(), comment, "{name}'s comment:\n{text}");
    }
    // rpcclient's default is level 2 (paths, permissions): administrators only, and the
    // caller never is one (MS-SRVS 3.1.4.8).
    let out = rpcclient("netshareenumall");
    let text = out.combined();
    assert!(
        text.contains("WERR_ACCESS_DENIED"),
        "level 2 must be refused to a non-admin:\n{text}"
    );
    // The server description (level 101) comes from the NTLM identity.
    let out = rpcclient("srvinfo");
    let text = out.combined();
    assert!(out.success(), "srvinfo failed:\n{text}");
    assert!(
        text.contains("SMBRS"),
        "srvinfo misses the server name:\n{text}"
    );
}

#[test]
fn our_client_lists_our_shares_on_every_dialect() {
    let server = server();
    for dialect in [Dialect::SMB2_0_2, Dialect::SMB2_1, Dialect::SMB3_1_1] {
        smol::block_on(async {
            let config = ClientConfig {
                min_dialect: dialect,
                max_dialect: dialect,
                server_name: "127.0.0.1".into(),
                ..ClientConfig::default()
            };
            let c = Client::connect(server.addr(), config)
                .await
                .expect("connect");
            let s = c.login(USER, "", PASS).await.expect("login");
            let shares = c.shares(s).await.expect("shares");
            let got: Vec<(&str, ShareType, &str)> = shares
                .iter()
                .map(|i| (i.name.as_str(), i.share_type, i.comment.as_str()))
                .collect();
            assert_eq!(
                got,
                vec![
                    (SHARE, ShareType::DISKTREE, SHARE_COMMENT),
                    (SECURE, ShareType::DISKTREE, SECURE_COMMENT),
                    ("IPC$", ShareType::IPC.special(), IPC_COMMENT),
                ],
                "{dialect:?}"
            );
            // The pipe and its tree are gone again: a second listing works the same.
            assert_eq!(c.shares(s).await.expect("again").len(), 3);
            c.logoff(s).await.expect("logoff");
        });
    }
}

#[test]
fn our_client_gets_share_server_and_workstation_info() {
    let server = server();
    smol::block_on(async {
        let config = ClientConfig {
            server_name: "127.0.0.1".into(),
            ..ClientConfig::default()
        };
        let c = Client::connect(server.addr(), config)
            .await
            .expect("connect");
        let s = c.login(USER, "", PASS).await.expect("login");
        let mut pipe = RpcPipe::open(&c, s).await.expect("srvsvc");
        let info = pipe.share_get_info("SECURE", 1).await.expect("get info");
        assert_eq!(
            (info.name.as_str(), info.comment.as_str()),
            (SECURE, SECURE_COMMENT)
        );
        match pipe.share_get_info("nosuch", 1).await {
            Err(SharesError::Rpc(RpcError::Win32(code))) => {
                assert_eq!(code, srvsvc::status::NET_NAME_NOT_FOUND)
            }
            other => panic!("an unknown share must be NERR_NetNameNotFound: {other:?}"),
        }
        let srv = pipe.server_get_info(101).await.expect("server info");
        assert_eq!(srv.name, "SMBRS");
        assert_eq!(srv.platform_id, ServerInfo::PLATFORM_NT);
        pipe.close().await;
        let mut wks = RpcPipe::open_with(&c, s, "wkssvc", wkssvc::SYNTAX)
            .await
            .expect("wkssvc");
        let w = wks.wksta_get_info().await.expect("wksta info");
        assert_eq!(w.computer_name, "SMBRS");
        assert_eq!(w.lan_group, "WORKGROUP");
        wks.close().await;
        c.logoff(s).await.expect("logoff");
    });
}
