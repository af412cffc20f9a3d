//! The private-smbd harness against Samba's own smbclient: every dialect moves a file both ways,
//! a wrong password is refused with LOGON_FAILURE, and the encrypted share works with client
//! encryption (and refuses a dialect that cannot encrypt). If this fails, the interop tests of
//! our client and server cannot be trusted either.

use std::fs;

use conformance::peers::{ProcessOutput, require};
use conformance::samba::{SambaOptions, SambaServer};
use conformance::smbclient::Protection;

const DIALECTS: [&str; 5] = ["SMB2_02", "SMB2_10", "SMB3_00", "SMB3_02", "SMB3_11"];

fn start() -> Option<SambaServer> {
    require("smbclient")?;
    SambaServer::start_for_test(SambaOptions::default())
}

fn check(what: &str, out: &ProcessOutput, server: &SambaServer) {
    assert!(
        out.success(),
        "{what} failed ({:?}, timed out: {}):\n{}\n-- smbd log --\n{}",
        out.status,
        out.timed_out,
        out.combined(),
        server.log_tail()
    );
}

#[test]
fn put_ls_get_with_every_dialect() {
    let Some(server) = start() else { return };
    let local = tempfile::tempdir().expect("temp dir");
    for (i, dialect) in DIALECTS.iter().enumerate() {
        let name = format!("up-{dialect}.bin");
        let payload: Vec<u8> = (0..70_000u32)
            .map(|n| (n.wrapping_mul(31) as u8) ^ i as u8)
            .collect();
        let src = local.path().join(&name);
        let back = local.path().join(format!("back-{dialect}.bin"));
        fs::write(&src, &payload).expect("write source");
        let out = server
            .smbclient(SambaServer::SHARE)
            .max_protocol(dialect)
            .command(format!("put {} {name}", src.display()))
            .command("ls")
            .command(format!("get {name} {}", back.display()))
            .run()
            .expect("run smbclient");
        check(&format!("put/ls/get with {dialect}"), &out, &server);
        assert!(
            out.stdout.contains(&name),
            "ls with {dialect} does not list {name}:\n{}",
            out.stdout
        );
        let on_server = fs::read(server.share_dir(SambaServer::SHARE).join(&name))
            .expect("uploaded file on the server's disk");
        assert_eq!(on_server, payload, "server copy differs with {dialect}");
        assert_eq!(
            fs::read(&back).expect("downloaded file"),
            payload,
            "downloaded copy differs with {dialect}"
        );
    }
}

#[test]
fn wrong_password_is_logon_failure() {
    let Some(server) = start() else { return };
    let out = server
        .smbclient(SambaServer::SHARE)
        .user(server.user(), "definitely-not-the-password")
        .command("ls")
        .run()
        .expect("run smbclient");
    assert!(!out.success(), "login with a wrong password succeeded");
    assert!(
        out.combined().contains("NT_STATUS_LOGON_FAILURE"),
        "expected NT_STATUS_LOGON_FAILURE, got:\n{}",
        out.combined()
    );
}

#[test]
fn encrypted_share_needs_smb3_encryption() {
    let Some(server) = start() else { return };
    let local = tempfile::tempdir().expect("temp dir");
    let src = local.path().join("secret.txt");
    let back = local.path().join("secret.back");
    fs::write(&src, b"sealed on the wire\n").expect("write source");
    for dialect in ["SMB3_00", "SMB3_02", "SMB3_11"] {
        let out = server
            .smbclient(SambaServer::SECURE_SHARE)
            .max_protocol(dialect)
            .protection(Protection::Encrypt)
            .command(format!("put {} secret.txt", src.display()))
            .command("ls")
            .command(format!("get secret.txt {}", back.display()))
            .run()
            .expect("run smbclient");
        check(&format!("encrypted share with {dialect}"), &out, &server);
        assert_eq!(
            fs::read(&back).expect("downloaded"),
            b"sealed on the wire\n"
        );
    }
    // SMB 2.x has no encryption: the share must refuse it.
    let out = server
        .smbclient(SambaServer::SECURE_SHARE)
        .max_protocol("SMB2_10")
        .command("ls")
        .run()
        .expect("run smbclient");
    assert!(
        !out.success(),
        "SMB2_10 reached the encrypted share:\n{}",
        out.combined()
    );
    assert!(
        out.combined().contains("NT_STATUS_ACCESS_DENIED"),
        "expected ACCESS_DENIED for SMB2_10 on the encrypted share, got:\n{}",
        out.combined()
    );
}

#[test]
fn signing_mandatory_server_serves_signed_sessions() {
    let Some(server) = SambaServer::start_for_test(SambaOptions {
        signing_mandatory: true,
        ..SambaOptions::default()
    }) else {
        return;
    };
    for dialect in ["SMB2_02", "SMB3_11"] {
        let out = server
            .smbclient(SambaServer::SHARE)
            .max_protocol(dialect)
            .protection(Protection::Sign)
            .command("ls")
            .run()
            .expect("run smbclient");
        check(&format!("signed ls with {dialect}"), &out, &server);
    }
}

#[test]
fn two_servers_run_side_by_side_and_clean_up() {
    let Some(a) = start() else { return };
    let Some(b) = start() else { return };
    assert_ne!(a.port(), b.port());
    let dir_a = a.dir().to_path_buf();
    let port_a = a.port();
    for s in [&a, &b] {
        let out = s
            .smbclient(SambaServer::SHARE)
            .command("ls")
            .run()
            .expect("run smbclient");
        check("ls", &out, s);
    }
    drop(a);
    assert!(!dir_a.exists(), "temp dir survived drop");
    assert!(
        !conformance::peers::port_accepts(port_a),
        "smbd still listening after drop"
    );
}
