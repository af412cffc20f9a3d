//! Our server (`driver_smol::server::SmbServer`, local-directory backend in a temp dir) against
//! the real Samba `smbclient`: every dialect, signing required, encryption required, put/get
//! of a multi-MiB file with a SHA-256 compare, directory operations, wrong password and path
//! traversal. Skips (prints SKIP) when smbclient is missing, fails under CI=true.

mod support;

use std::path::{Path, PathBuf};

use conformance::peers::require;
use conformance::smbclient::{Protection, Smbclient, write_client_conf};
use sha2::{Digest, Sha256};
use support::our_server::{OurServer, PASS, SECURE, SHARE, USER};

/// NT_STATUS lines that are not failures: smbclient's debug log about Kerberos being
/// unavailable.
const HARMLESS: [&str; 1] = ["gse_krb5"];

const DIALECTS: [&str; 5] = ["SMB2_02", "SMB2_10", "SMB3_00", "SMB3_02", "SMB3_11"];

struct Env {
    server: OurServer,
    conf: PathBuf,
    _conf_dir: tempfile::TempDir,
}

fn env() -> Option<Env> {
    require("smbclient")?;
    let server = OurServer::start();
    let conf_dir = tempfile::tempdir().expect("tempdir");
    let conf = write_client_conf(conf_dir.path()).expect("client conf");
    Some(Env {
        server,
        conf,
        _conf_dir: conf_dir,
    })
}

impl Env {
    fn client(&self, share: &str) -> Smbclient {
        Smbclient::new("127.0.0.1", self.server.port(), share)
            .config_file(&self.conf)
            .user(USER, PASS)
    }

    /// Runs the commands and asserts smbclient succeeded without printing an NT_STATUS error.
    fn ok(&self, sc: Smbclient, what: &str) -> String {
        let out = sc.run().expect("run smbclient");
        let text = out.combined();
        let errors: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("NT_STATUS_") && !HARMLESS.iter().any(|h| l.contains(h)))
            .collect();
        assert!(
            out.success() && errors.is_empty(),
            "{what}: smbclient failed ({:?}):\n{text}\nargs: {:?}",
            out.status,
            sc.args()
        );
        text
    }
}

fn sha256_file(p: &Path) -> Vec<u8> {
    Sha256::digest(std::fs::read(p).expect("read file")).to_vec()
}

fn random_file(path: &Path, len: usize, seed: u64) {
    let mut x = seed | 1;
    let data: Vec<u8> = (0..len)
        .map(|_| {
            // xorshift64: cheap pseudo-random bytes that do not compress.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    std::fs::write(path, data).expect("write local file");
}

#[test]
fn every_dialect_with_signing_required() {
    let Some(e) = env() else { return };
    std::fs::write(e.server.share_dir(SHARE).join("hello.txt"), b"hi").expect("seed");
    for d in DIALECTS {
        for protection in [None, Some(Protection::Sign)] {
            let mut sc = e
                .client(SHARE)
                .max_protocol(d)
                .option("client min protocol", d)
                .arg("--debuglevel=4")
                .command("ls");
            if let Some(p) = protection {
                sc = sc.protection(p);
            }
            let text = e.ok(sc, &format!("{d} {protection:?}"));
            assert!(
                text.contains(&format!("negotiated dialect[{d}]")),
                "{d}: dialect not negotiated:\n{text}"
            );
            assert!(text.contains("hello.txt"), "{d}: listing misses hello.txt");
        }
    }
}

#[test]
fn encryption_required_and_encrypted_share() {
    let Some(e) = env() else { return };
    let local = e.server.scratch().join("enc.bin");
    random_file(&local, 1024 * 1024 + 7, 3);
    for d in ["SMB3_00", "SMB3_02", "SMB3_11"] {
        for share in [SHARE, SECURE] {
            let back = e.server.scratch().join(format!("enc-back-{d}-{share}.bin"));
            let sc = e
                .client(share)
                .max_protocol(d)
                .option("client min protocol", d)
                .protection(Protection::Encrypt)
                .command(format!("put {} enc.bin", local.display()))
                .command(format!("get enc.bin {}", back.display()))
                .command("ls");
            e.ok(sc, &format!("{d} encrypted on {share}"));
            assert_eq!(sha256_file(&local), sha256_file(&back), "{d} {share}");
        }
    }
    // SMB 2.x cannot encrypt: the encrypted share is refused.
    let sc = e.client(SECURE).max_protocol("SMB2_10").command("ls");
    let out = sc.run().expect("run smbclient");
    assert!(
        out.combined().contains("NT_STATUS_ACCESS_DENIED"),
        "2.1 on the encrypted share:\n{}",
        out.combined()
    );
}

#[test]
fn put_get_multi_mib_with_sha256() {
    let Some(e) = env() else { return };
    for (len, name) in [(0usize, "empty"), (1, "one"), (5 * 1024 * 1024 + 7, "big")] {
        let local = e.server.scratch().join(format!("{name}.src"));
        let back = e.server.scratch().join(format!("{name}.back"));
        random_file(&local, len, len as u64 + 11);
        for d in ["SMB2_02", "SMB3_11"] {
            let sc = e
                .client(SHARE)
                .max_protocol(d)
                .protection(Protection::Sign)
                .command(format!("put {} {name}.bin", local.display()))
                .command(format!("get {name}.bin {}", back.display()));
            e.ok(sc, &format!("{d} put/get {name}"));
            let want = sha256_file(&local);
            assert_eq!(want, sha256_file(&back), "{d}: {name} came back different");
            assert_eq!(
                want,
                sha256_file(&e.server.share_dir(SHARE).join(format!("{name}.bin"))),
                "{d}: {name} on disk differs"
            );
        }
    }
}

#[test]
fn directory_operations() {
    let Some(e) = env() else { return };
    let share = e.server.share_dir(SHARE);
    let local = e.server.scratch().join("f.txt");
    std::fs::write(&local, b"data").expect("local");
    let sc = e
        .client(SHARE)
        .command("mkdir d1")
        .command("mkdir d1\\sub")
        .command(format!("put {} d1\\a.txt", local.display()))
        .command(format!("put {} d1\\b.txt", local.display()))
        .command(format!("put {} d1\\c.dat", local.display()))
        .command("rename d1\\a.txt d1\\renamed.txt")
        .command("rmdir d1\\sub")
        .command("ls d1\\*.txt")
        .command("ls d1\\?.dat")
        .command("allinfo d1\\renamed.txt")
        .command(format!("put {} d1\\a-long-file-name.text", local.display()))
        .command("allinfo d1\\a-long-file-name.text");
    let text = e.ok(sc, "mkdir/put/rename/rmdir/ls");
    assert!(share.join("d1/renamed.txt").is_file());
    assert!(!share.join("d1/a.txt").exists());
    assert!(!share.join("d1/sub").exists());
    assert!(text.contains("renamed.txt") && text.contains("b.txt") && text.contains("c.dat"));
    assert!(text.contains("create_time:"), "allinfo output:\n{text}");
    // 8.3 names: a name that fits is its own (upper-cased), a long one gets a generated name.
    let long_alt = smb_proto::server::short_name::alternate_name("a-long-file-name.text");
    assert!(
        text.contains("altname: RENAMED.TXT"),
        "allinfo output:\n{text}"
    );
    assert!(
        text.contains(&format!("altname: {long_alt}")),
        "allinfo output:\n{text}"
    );

    // del with a wildcard removes the matching files only.
    e.ok(e.client(SHARE).command("del d1\\*.txt"), "del wildcard");
    assert!(!share.join("d1/renamed.txt").exists() && !share.join("d1/b.txt").exists());
    assert!(share.join("d1/c.dat").is_file());

    // Refusals come back as the right statuses.
    std::fs::write(share.join("d1/other.dat"), b"x").expect("seed");
    for (cmd, status) in [
        (
            "rename d1\\c.dat d1\\other.dat",
            "NT_STATUS_OBJECT_NAME_COLLISION",
        ),
        ("rmdir d1", "NT_STATUS_DIRECTORY_NOT_EMPTY"),
        (
            "get nothing-here /dev/null",
            "NT_STATUS_OBJECT_NAME_NOT_FOUND",
        ),
    ] {
        let out = e.client(SHARE).command(cmd).run().expect("run");
        assert!(
            out.combined().contains(status),
            "{cmd}: expected {status}:\n{}",
            out.combined()
        );
    }
    e.ok(
        e.client(SHARE).command("del d1\\*").command("rmdir d1"),
        "cleanup",
    );
    assert!(!share.join("d1").exists());
}

/// smbclient's `setea` / `geteas` (SET_INFO and QUERY_INFO FileFullEaInformation): EAs
/// stick, come back upper-cased (as Windows keeps them), and an empty value deletes one.
#[test]
fn extended_attributes_with_setea_and_geteas() {
    let Some(e) = env() else { return };
    let local = e.server.scratch().join("ea.txt");
    std::fs::write(&local, b"data").expect("local");
    let sc = e
        .client(SHARE)
        .command(format!("put {} ea.txt", local.display()))
        .command("setea ea.txt MyEa hello")
        .command("setea ea.txt other world")
        .command("geteas ea.txt")
        .command("setea ea.txt MyEa")
        .command("geteas ea.txt");
    let text = e.ok(sc, "setea/geteas");
    let (first, second) = text
        .split_once("MYEA (0) =")
        .map(|(_, rest)| (rest, rest.split_once("OTHER (0) =").map_or("", |x| x.1)))
        .unwrap_or_else(|| panic!("geteas output:\n{text}"));
    assert!(first.contains("hello"), "geteas output:\n{text}");
    assert!(second.contains("world"), "geteas output:\n{text}");
    assert_eq!(text.matches("MYEA (0)").count(), 1, "deleted:\n{text}");
    assert_eq!(text.matches("OTHER (0)").count(), 2, "kept:\n{text}");
}

#[test]
fn wrong_password_is_logon_failure() {
    let Some(e) = env() else { return };
    for d in ["SMB2_02", "SMB3_11"] {
        let sc = Smbclient::new("127.0.0.1", e.server.port(), SHARE)
            .config_file(&e.conf)
            .user(USER, "definitely-wrong")
            .max_protocol(d)
            .command("ls");
        let out = sc.run().expect("run smbclient");
        assert!(!out.success(), "{d}: a wrong password must fail");
        assert!(
            out.combined().contains("NT_STATUS_LOGON_FAILURE"),
            "{d}:\n{}",
            out.combined()
        );
    }
}

#[test]
fn path_traversal_is_refused() {
    let Some(e) = env() else { return };
    let share = e.server.share_dir(SHARE);
    std::os::unix::fs::symlink("/etc", share.join("etc")).expect("symlink to /etc");
    for (i, path) in [
        "..\\..\\etc\\passwd",
        "..\\share\\..\\..\\etc\\passwd",
        "\\etc\\passwd",
        "etc\\passwd",
        "etc",
    ]
    .into_iter()
    .enumerate()
    {
        let dest = e.server.scratch().join(format!("leak-{i}"));
        let out = e
            .client(SHARE)
            .command(format!("get {path} {}", dest.display()))
            .run()
            .expect("run smbclient");
        assert!(
            out.combined().contains("NT_STATUS_"),
            "{path}: expected a refusal:\n{}",
            out.combined()
        );
        let leaked = std::fs::read(&dest).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&leaked).contains("root:"),
            "{path}: /etc/passwd leaked"
        );
    }
    // The symlink is not listed either.
    let text = e.ok(e.client(SHARE).command("ls"), "ls");
    assert!(!text.contains(" etc "), "symlink listed:\n{text}");
}

#[test]
fn each_cipher_and_signing_algorithm() {
    let Some(e) = env() else { return };
    let local = e.server.scratch().join("alg.bin");
    random_file(&local, 300_000, 9);
    let runs = [
        ("client smb3 encryption algorithms", "AES-128-GCM", true),
        ("client smb3 encryption algorithms", "AES-128-CCM", true),
        ("client smb3 encryption algorithms", "AES-256-GCM", true),
        ("client smb3 encryption algorithms", "AES-256-CCM", true),
        ("client smb3 signing algorithms", "AES-128-GMAC", false),
        ("client smb3 signing algorithms", "AES-128-CMAC", false),
        ("client smb3 signing algorithms", "HMAC-SHA256", false),
    ];
    for (i, (option, alg, encrypt)) in runs.into_iter().enumerate() {
        let back = e.server.scratch().join(format!("alg-back-{i}"));
        let sc = e
            .client(SHARE)
            .max_protocol("SMB3_11")
            .option(option, alg)
            .protection(if encrypt {
                Protection::Encrypt
            } else {
                Protection::Sign
            })
            .command(format!("put {} alg.bin", local.display()))
            .command(format!("get alg.bin {}", back.display()));
        e.ok(sc, alg);
        assert_eq!(sha256_file(&local), sha256_file(&back), "{alg}");
    }
}
