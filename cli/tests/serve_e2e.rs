//! End to end: `smb serve` started as a child process on free ports with a temp directory and a
//! known user, then the `smb` client against it over TCP and over QUIC (with `--ca` of the
//! served self-signed certificate, and with `--insecure`); the error paths and their exit
//! codes; Ctrl-C; `smb bench crypto --json` and `smb sim`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command as StdCommand, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::Command;

const SMB: &str = env!("CARGO_BIN_EXE_smb");
const USER: &str = "tester";
const PASS: &str = "Pa55-word!";

/// A running `smb serve`.
struct Server {
    child: Child,
    tcp: u16,
    quic: u16,
    dir: tempfile::TempDir,
    ca: PathBuf,
    banner: String,
}

impl Server {
    fn start(extra: &[&str]) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let share = dir.path().join("share");
        std::fs::create_dir(&share).expect("share dir");
        let ca = dir.path().join("ca.pem");
        let mut child = StdCommand::new(SMB)
            .args([
                "serve",
                "--share",
                &format!("data={}", share.display()),
                "--user",
                &format!("{USER}:{PASS}"),
                "--listen",
                "tcp://127.0.0.1:0",
                "--listen",
                "quic://127.0.0.1:0",
                "--self-signed",
                "localhost",
                "--cert-out",
                &ca.display().to_string(),
            ])
            .args(extra)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn smb serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut banner = String::new();
        let (mut tcp, mut quic) = (0, 0);
        for line in BufReader::new(stdout).lines() {
            let line = line.expect("banner line");
            banner.push_str(&line);
            banner.push('\n');
            let port = |l: &str| l.rsplit(':').next().and_then(|p| p.parse().ok());
            if line.starts_with("listening tcp://") {
                tcp = port(&line).expect("tcp port");
            } else if line.starts_with("listening quic://") {
                quic = port(&line).expect("quic port");
            } else if line.starts_with("ready") {
                break;
            }
        }
        assert!(tcp != 0 && quic != 0, "server did not start:\n{banner}");
        Server {
            child,
            tcp,
            quic,
            dir,
            ca,
            banner,
        }
    }

    fn share_dir(&self) -> PathBuf {
        self.dir.path().join("share")
    }

    fn tcp_url(&self, path: &str) -> String {
        format!("smb://127.0.0.1:{}/data/{path}", self.tcp)
    }

    fn quic_url(&self, path: &str) -> String {
        format!("smb://127.0.0.1:{}/data/{path}", self.quic)
    }

    /// Sends SIGINT and waits for the exit status.
    fn interrupt(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let sent = StdCommand::new("kill")
            .args(["-INT", &pid])
            .status()
            .expect("kill");
        assert!(sent.success());
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "smb serve did not stop on SIGINT"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `smb` with the known credentials and no terminal.
fn smb(args: &[&str]) -> Command {
    let mut c = Command::new(SMB);
    c.args(args)
        .args(["-U", &format!("{USER}%{PASS}")])
        .env_remove("SMB_USER")
        .env_remove("SMB_PASSWORD")
        .env_remove("RUST_LOG")
        .timeout(Duration::from_secs(60));
    c
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs, checks the exit code and that nothing panicked; returns (stdout, stderr).
fn expect(cmd: &mut Command, code: i32) -> (String, String) {
    let out = cmd.output().expect("run smb");
    let (o, e) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(
        out.status.code(),
        Some(code),
        "exit code\nstdout: {o}\nstderr: {e}"
    );
    assert!(
        !e.contains("panicked") && !e.contains("RUST_BACKTRACE"),
        "no panic: {e}"
    );
    (o, e)
}

fn payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

fn put_get_roundtrip(s: &Server, url: impl Fn(&str) -> String, extra: &[&str], tag: &str) {
    let local = s.dir.path().join(format!("up-{tag}.bin"));
    let data = payload(3 * 1024 * 1024 + 17);
    std::fs::write(&local, &data).expect("write local");
    let name = format!("file-{tag}.bin");
    expect(
        smb(&["put", &local.display().to_string(), &url(&name)]).args(extra),
        0,
    );
    assert_eq!(
        std::fs::read(s.share_dir().join(&name)).expect("on disk"),
        data
    );
    let back = s.dir.path().join(format!("down-{tag}.bin"));
    expect(
        smb(&["get", &url(&name), &back.display().to_string()]).args(extra),
        0,
    );
    assert_eq!(std::fs::read(&back).expect("downloaded"), data);
    let (o, _) = expect(smb(&["ls", &url("")]).args(extra), 0);
    assert!(o.contains(&name), "ls shows {name}: {o}");
}

#[test]
fn serve_then_use_it_over_tcp_and_quic() {
    let s = Server::start(&[]);
    assert!(s.banner.contains("certificate sha256 "), "{}", s.banner);
    assert!(s.banner.contains("share data = "), "{}", s.banner);
    assert!(s.banner.contains(&format!("user {USER}\n")), "{}", s.banner);
    assert!(!s.banner.contains(PASS), "the given password is not echoed");
    // Listening on 127.0.0.1, the server lists the loopback interface for multichannel.
    assert!(
        s.banner
            .contains("interfaces for multichannel: 127.0.0.1 (ifindex "),
        "{}",
        s.banner
    );
    std::fs::write(s.share_dir().join("hello.txt"), b"hello over smb\n").expect("seed");

    // TCP.
    let (o, _) = expect(&mut smb(&["ls", &s.tcp_url("")]), 0);
    assert!(o.contains("hello.txt"), "{o}");
    let (o, _) = expect(&mut smb(&["cat", &s.tcp_url("hello.txt")]), 0);
    assert_eq!(o, "hello over smb\n");
    let (o, _) = expect(&mut smb(&["stat", &s.tcp_url("hello.txt"), "--json"]), 0);
    assert!(o.contains("\"size\":15"), "{o}");
    put_get_roundtrip(&s, |p| s.tcp_url(p), &[], "tcp");
    // Three connections (multichannel): the served interface list names 127.0.0.1.
    put_get_roundtrip(&s, |p| s.tcp_url(p), &["--channels", "3"], "tcp-3ch");
    // localhost gives ::1 then 127.0.0.1: the refused first address is skipped.
    let url = format!("smb://localhost:{}/data/hello.txt", s.tcp);
    let (o, _) = expect(&mut smb(&["cat", &url]), 0);
    assert_eq!(o, "hello over smb\n");

    // QUIC, trusting the served self-signed certificate (issued for localhost, 127.0.0.1, ::1).
    let ca = s.ca.display().to_string();
    let quic = ["--transport", "quic", "--ca", ca.as_str()];
    let (o, _) = expect(smb(&["ls", &s.quic_url("")]).args(quic), 0);
    assert!(o.contains("hello.txt"), "{o}");
    put_get_roundtrip(&s, |p| s.quic_url(p), &quic, "quic");
    let (_, e) = expect(
        smb(&["cat", &s.quic_url("hello.txt"), "--channels", "2"]).args(quic),
        2,
    );
    assert!(e.contains("--channels needs a TCP connection"), "{e}");
    // A subcommand that moves no file data uses one connection whatever --channels says.
    let (o, _) = expect(
        smb(&["ls", &s.quic_url(""), "--channels", "2"]).args(quic),
        0,
    );
    assert!(o.contains("hello.txt"), "{o}");
    // localhost resolves to ::1 and 127.0.0.1; the server listens on the second only.
    let url = format!("smb://localhost:{}/data/hello.txt", s.quic);
    let (o, _) = expect(smb(&["cat", &url]).args(quic), 0);
    assert_eq!(o, "hello over smb\n");

    // QUIC without verification.
    let (o, e) = expect(
        &mut smb(&[
            "cat",
            &s.quic_url("hello.txt"),
            "--transport",
            "quic",
            "--insecure",
        ]),
        0,
    );
    assert_eq!(o, "hello over smb\n");
    assert!(e.contains("NOT verified"), "--insecure is loud: {e}");

    // QUIC against the system roots: the self-signed certificate is refused, with a hint.
    let (_, e) = expect(&mut smb(&["ls", &s.quic_url(""), "--transport", "quic"]), 3);
    assert!(e.contains("--ca"), "{e}");

    // Auto: TCP first.
    let (o, _) = expect(
        smb(&["ls", &s.tcp_url(""), "--transport", "auto"]).args(["--quic-port", "1"]),
        0,
    );
    assert!(o.contains("hello.txt"), "{o}");

    // Share listing over the server's srvsvc pipe on IPC$.
    let (o, _) = expect(
        &mut smb(&["shares", &format!("smb://127.0.0.1:{}", s.tcp)]),
        0,
    );
    assert!(o.contains("data") && o.contains("disk"), "{o}");
    assert!(o.contains("IPC$"), "{o}");

    // Transfer benchmark: upload, download, and the file is gone afterwards.
    let (o, _) = expect(
        &mut smb(&[
            "bench",
            "transfer",
            &s.tcp_url(""),
            "--size",
            "2M",
            "--json",
        ]),
        0,
    );
    for dir in ["upload", "download"] {
        assert!(
            o.contains(&format!("{{\"direction\":\"{dir}\",\"bytes\":2097152,")),
            "{o}"
        );
    }
    let left: Vec<_> = std::fs::read_dir(s.share_dir())
        .expect("share dir")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with(".smb-bench"))
        .collect();
    assert!(left.is_empty(), "the benchmark file is removed");

    // Ctrl-C stops it cleanly.
    let status = s.interrupt();
    assert!(status.success(), "{status:?}");
}

#[test]
fn error_paths_have_sentences_and_exit_codes() {
    let sec = tempfile::tempdir().expect("dir");
    let s = Server::start(&["--share", &format!("sec={}:encrypt", sec.path().display())]);
    assert!(s.banner.contains("(read-write, encrypted)"), "{}", s.banner);
    // An encrypted share: SMB 3 clients encrypt; an SMB 2.1 client is told why it is refused.
    let sec_url = format!("smb://127.0.0.1:{}/sec", s.tcp);
    expect(&mut smb(&["ls", &sec_url]), 0);
    let (_, e) = expect(&mut smb(&["ls", &sec_url, "--max-dialect", "2.1"]), 1);
    assert!(
        e.contains("STATUS_ACCESS_DENIED") && e.contains("raise --max-dialect"),
        "{e}"
    );

    // Wrong password: exit 4, the status named.
    let out = Command::new(SMB)
        .args(["ls", &s.tcp_url(""), "-U", &format!("{USER}%wrong")])
        .env_remove("SMB_PASSWORD")
        .timeout(Duration::from_secs(60))
        .output()
        .expect("run");
    let e = text(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{e}");
    assert!(e.contains("STATUS_LOGON_FAILURE"), "{e}");
    assert!(e.contains("logon failure"), "{e}");

    // Missing file: exit 1.
    let (_, e) = expect(&mut smb(&["cat", &s.tcp_url("no/such/file")]), 1);
    assert!(
        e.contains("STATUS_OBJECT_PATH_NOT_FOUND") || e.contains("STATUS_OBJECT_NAME_NOT_FOUND"),
        "{e}"
    );
    let (_, e) = expect(&mut smb(&["stat", &s.tcp_url("missing.txt")]), 1);
    assert!(e.contains("STATUS_OBJECT_NAME_NOT_FOUND"), "{e}");

    // Missing share: exit 1 with a hint.
    let (_, e) = expect(
        &mut smb(&["ls", &format!("smb://127.0.0.1:{}/nosuch", s.tcp)]),
        1,
    );
    assert!(
        e.contains("STATUS_BAD_NETWORK_NAME") && e.contains("share name"),
        "{e}"
    );

    // Bad address and bad flags: exit 2.
    expect(&mut smb(&["ls", "http://x/y"]), 2);
    expect(
        &mut smb(&["ls", &s.tcp_url(""), "--transport", "carrier-pigeon"]),
        2,
    );
    expect(
        &mut smb(&[
            "ls",
            &s.quic_url(""),
            "--transport",
            "quic",
            "--insecure",
            "--ca",
            "x",
        ]),
        2,
    );

    // Refused connection (the server stopped): exit 3.
    let port = s.tcp;
    let qport = s.quic;
    drop(s);
    let (_, e) = expect(
        &mut smb(&["ls", &format!("smb://127.0.0.1:{port}/data")]),
        3,
    );
    assert!(e.contains("cannot connect"), "{e}");
    let (_, e) = expect(
        &mut smb(&[
            "ls",
            &format!("smb://127.0.0.1:{qport}/data"),
            "--transport",
            "quic",
            "--insecure",
        ]),
        3,
    );
    assert!(e.contains("cannot connect"), "{e}");
}

#[test]
fn serve_refuses_bad_settings_clearly() {
    let dir = tempfile::tempdir().expect("dir");
    let d = dir.path().display().to_string();
    // The port is taken.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let (_, e) = expect(
        Command::new(SMB)
            .args(["serve", "--share", &format!("d={d}")])
            .args(["--listen", &format!("tcp://127.0.0.1:{port}")])
            .timeout(Duration::from_secs(30)),
        6,
    );
    assert!(e.contains("already in use"), "{e}");
    // Nothing to serve, a file as a share, a bad listen URL, a bad thumbprint.
    for (args, needle) in [
        (vec!["serve"], "--share"),
        (
            vec!["serve", "--share", "d=/no/such/dir"],
            "not a directory",
        ),
        (
            vec![
                "serve",
                "--share",
                &format!("d={d}"),
                "--listen",
                "sctp://x",
            ],
            "tcp://ADDR:PORT",
        ),
        (
            vec![
                "serve",
                "--share",
                &format!("d={d}"),
                "--grant-client",
                "abc",
            ],
            "64 hex digits",
        ),
    ] {
        let (_, e) = expect(
            Command::new(SMB)
                .args(&args)
                .timeout(Duration::from_secs(30)),
            2,
        );
        assert!(e.contains(needle), "{args:?}: {e}");
    }
}

#[test]
fn serve_defaults_generate_a_user_and_read_a_config_file() {
    let dir = tempfile::tempdir().expect("dir");
    let share = dir.path().join("s");
    std::fs::create_dir(&share).expect("mkdir");
    std::fs::write(share.join("f.txt"), b"x").expect("seed");
    let cfg = dir.path().join("smb.toml");
    std::fs::write(
        &cfg,
        format!(
            "share = [\"files={}:ro\"]\nlisten = [\"tcp://127.0.0.1:0\"]\n",
            share.display()
        ),
    )
    .expect("config");
    let mut child = StdCommand::new(SMB)
        .args(["serve", "--config", &cfg.display().to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let (mut port, mut password) = (0u16, String::new());
    let mut banner = String::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("line");
        banner.push_str(&line);
        banner.push('\n');
        if let Some(rest) = line.strip_prefix("listening tcp://") {
            port = rest
                .rsplit(':')
                .next()
                .and_then(|p| p.parse().ok())
                .unwrap_or(0);
        }
        if let Some(rest) = line.strip_prefix("user smb password ") {
            password = rest.split(' ').next().unwrap_or("").to_string();
        }
        if line.starts_with("ready") {
            break;
        }
    }
    assert!(port != 0 && password.len() == 20, "{banner}");
    assert!(
        !banner.contains("quic://"),
        "only the configured listener: {banner}"
    );
    assert!(banner.contains("read-only"), "{banner}");
    let url = format!("smb://smb@127.0.0.1:{port}/files");
    let out = Command::new(SMB)
        .args(["ls", &url])
        .env("SMB_PASSWORD", &password)
        .timeout(Duration::from_secs(30))
        .output()
        .expect("ls");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("f.txt"));
    // Read-only: a put is refused by the server.
    let local = dir.path().join("up.txt");
    std::fs::write(&local, b"y").expect("local");
    let out = Command::new(SMB)
        .args([
            "put",
            &local.display().to_string(),
            &format!("{url}/up.txt"),
        ])
        .env("SMB_PASSWORD", &password)
        .timeout(Duration::from_secs(30))
        .output()
        .expect("put");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("STATUS_"),
        "{}",
        text(&out.stderr)
    );
    assert!(!Path::new(&share.join("up.txt")).exists());
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn bench_crypto_json_has_the_documented_shape() {
    let out = Command::new(SMB)
        .args([
            "bench",
            "crypto",
            "--json",
            "--seconds",
            "0.001",
            "--size",
            "4K",
        ])
        .timeout(Duration::from_secs(120))
        .output()
        .expect("bench");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let o = text(&out.stdout);
    let lines: Vec<&str> = o.lines().collect();
    assert_eq!(lines.len(), (4 * 2 + 3 * 2) * 2, "{o}");
    let mut seen = std::collections::BTreeSet::new();
    for l in &lines {
        let v: serde_json::Value = serde_json::from_str(l).expect("JSON line");
        let keys: Vec<&str> = v
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys.len(), 6, "{l}");
        // The documented order.
        assert!(
            l.starts_with("{\"algorithm\":\"") && l.contains("\",\"op\":\""),
            "{l}"
        );
        assert_eq!(v["size"], 4096);
        assert!(v["gbps"].as_f64().expect("gbps") > 0.0);
        assert!(v["raw_gbps"].as_f64().expect("raw") > 0.0);
        seen.insert((
            v["algorithm"].as_str().expect("alg").to_string(),
            v["backend"].as_str().expect("backend").to_string(),
        ));
    }
    for alg in [
        "AES-128-GCM",
        "AES-256-GCM",
        "AES-128-CCM",
        "AES-256-CCM",
        "AES-128-GMAC",
        "AES-128-CMAC",
        "HMAC-SHA256",
    ] {
        for backend in ["rustcrypto", "aws-lc"] {
            assert!(
                seen.contains(&(alg.to_string(), backend.to_string())),
                "{alg} {backend}"
            );
        }
    }
}

#[test]
fn sim_lists_and_runs_a_scenario() {
    let (o, _) = expect(Command::new(SMB).args(["sim", "--list"]), 0);
    assert!(o.lines().any(|l| l.starts_with("basic ")), "{o}");
    let (o, _) = expect(
        Command::new(SMB)
            .args(["sim", "--scenario", "basic", "--seed", "5"])
            .timeout(Duration::from_secs(120)),
        0,
    );
    let last = o.trim_end().lines().last().unwrap_or("");
    assert!(last.starts_with("trace_hash="), "{o}");
    assert_eq!(last.len(), "trace_hash=".len() + 64);
    // The same seed gives the same hash.
    let (again, _) = expect(
        Command::new(SMB)
            .args(["sim", "--scenario", "basic", "--seed", "5"])
            .timeout(Duration::from_secs(120)),
        0,
    );
    assert_eq!(again.trim_end().lines().last(), Some(last));
    let (_, e) = expect(Command::new(SMB).args(["sim", "--scenario", "no-such"]), 2);
    assert!(e.contains("--list"), "{e}");
}

/// A test CA and a client certificate it issued: (CA PEM, client chain PEM, client key PEM,
/// client certificate SHA-256 hex, CA SHA-256 hex).
fn client_pki() -> (String, String, String, String, String) {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
        KeyUsagePurpose,
    };
    use sha2::{Digest, Sha256};
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("params");
    ca.distinguished_name
        .push(DnType::CommonName, "test client CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_key = KeyPair::generate().expect("key");
    let ca_cert = ca.self_signed(&ca_key).expect("ca");
    let mut leaf = CertificateParams::new(vec!["client.test".to_string()]).expect("params");
    leaf.distinguished_name
        .push(DnType::CommonName, "client.test");
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let key = KeyPair::generate().expect("key");
    let cert = leaf.signed_by(&key, &ca_cert, &ca_key).expect("leaf");
    let hex = |der: &[u8]| -> String {
        Sha256::digest(der)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    (
        ca_cert.pem(),
        cert.pem(),
        key.serialize_pem(),
        hex(cert.der()),
        hex(ca_cert.der()),
    )
}

#[test]
fn quic_client_certificates_are_required_and_blocked() {
    let pki = tempfile::tempdir().expect("dir");
    let (ca, chain, key, thumb, ca_thumb) = client_pki();
    let grant = format!("issuer:{ca_thumb}");
    let (ca_file, cert_file, key_file) = (
        pki.path().join("ca.pem"),
        pki.path().join("client.pem"),
        pki.path().join("client.key"),
    );
    std::fs::write(&ca_file, ca).expect("ca");
    std::fs::write(&cert_file, chain).expect("cert");
    std::fs::write(&key_file, key).expect("key");
    let audit = pki.path().join("audit.jsonl");
    let ca_arg = ca_file.display().to_string();
    let audit_arg = audit.display().to_string();
    let s = Server::start(&[
        "--require-client-cert",
        "--client-ca",
        &ca_arg,
        "--grant-client",
        &grant,
        "--audit-log",
        &audit_arg,
    ]);
    let server_ca = s.ca.display().to_string();
    let (c, k) = (
        cert_file.display().to_string(),
        key_file.display().to_string(),
    );
    let quic = ["--transport", "quic", "--ca", server_ca.as_str()];
    // With the certificate: in.
    expect(
        smb(&["ls", &s.quic_url("")])
            .args(quic)
            .args(["--client-cert", &c, "--client-key", &k]),
        0,
    );
    // Without: refused during the handshake.
    let (_, e) = expect(smb(&["ls", &s.quic_url("")]).args(quic), 3);
    assert!(
        e.contains("cannot connect") && e.contains("--client-cert"),
        "{e}"
    );
    // A certificate without its key is a usage error.
    expect(
        smb(&["ls", &s.quic_url("")])
            .args(quic)
            .args(["--client-cert", &c]),
        2,
    );
    let log = std::fs::read_to_string(&audit).expect("audit log");
    assert!(log.lines().count() >= 2, "{log}");
    assert!(
        log.contains("\"allowed\":true") && log.contains("\"allowed\":false"),
        "{log}"
    );
    drop(s);

    // The same certificate blocked by its thumbprint.
    let s = Server::start(&[
        "--require-client-cert",
        "--client-ca",
        &ca_arg,
        "--grant-client",
        &grant,
        "--block-client",
        &thumb,
    ]);
    let server_ca = s.ca.display().to_string();
    let quic = ["--transport", "quic", "--ca", server_ca.as_str()];
    expect(
        smb(&["ls", &s.quic_url("")])
            .args(quic)
            .args(["--client-cert", &c, "--client-key", &k]),
        3,
    );
}

/// A share marked `:ci` matches names case-insensitively, as Windows does; the default share
/// does not.
#[test]
fn a_case_insensitive_share_finds_names_in_any_case() {
    let ci_dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(ci_dir.path().join("Report.txt"), b"quarterly\n").expect("seed");
    let spec = format!("docs={}:ci", ci_dir.path().display());
    let s = Server::start(&["--share", &spec]);
    assert!(
        s.banner.contains("share docs = ") && s.banner.contains("case-insensitive"),
        "{}",
        s.banner
    );
    std::fs::write(s.share_dir().join("Report.txt"), b"quarterly\n").expect("seed");
    let docs = |p: &str| format!("smb://127.0.0.1:{}/docs/{p}", s.tcp);
    let (o, _) = expect(&mut smb(&["cat", &docs("REPORT.TXT")]), 0);
    assert_eq!(o, "quarterly\n");
    // The case-sensitive share does not find it under another spelling.
    let (_, e) = expect(&mut smb(&["cat", &s.tcp_url("REPORT.TXT")]), 1);
    assert!(e.contains("OBJECT_NAME_NOT_FOUND"), "{e}");
}
