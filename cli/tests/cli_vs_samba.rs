//! The built `smb` binary against a private Samba `smbd`: every client subcommand, its output
//! and exit code, in the three address forms, and the error paths (missing file, non-empty
//! directory, bad password, missing share, refused connection, bad address, no password).

use std::path::Path;
use std::process::{Command, Output, Stdio};

use conformance::samba::{SambaOptions, SambaServer};
use sha2::{Digest, Sha256};

const SMB: &str = env!("CARGO_BIN_EXE_smb");

struct Fixture {
    server: SambaServer,
    local: tempfile::TempDir,
}

impl Fixture {
    fn start() -> Option<Fixture> {
        let server = SambaServer::start_for_test(SambaOptions::default())?;
        let local = tempfile::tempdir().expect("temp dir");
        Some(Fixture { server, local })
    }

    /// `smb://USER@127.0.0.1:PORT/share/PATH`.
    fn url(&self, path: &str) -> String {
        format!(
            "smb://{}@127.0.0.1:{}/share/{path}",
            self.server.user(),
            self.server.port()
        )
    }

    fn on_disk(&self, path: &str) -> std::path::PathBuf {
        self.server.share_dir("share").join(path)
    }

    fn local(&self, name: &str) -> std::path::PathBuf {
        self.local.path().join(name)
    }

    /// Runs `smb` with the password in SMB_PASSWORD and no terminal.
    fn smb(&self, args: &[&str]) -> Output {
        run(args, &[("SMB_PASSWORD", self.server.password())])
    }
}

fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(SMB);
    cmd.args(args)
        .env_remove("SMB_USER")
        .env_remove("SMB_PASSWORD")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run smb")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Asserts the exit code and returns (stdout, stderr).
fn expect(out: Output, code: i32, what: &str) -> (String, String) {
    let (o, e) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(
        out.status.code(),
        Some(code),
        "{what}: exit code\nstdout: {o}\nstderr: {e}"
    );
    assert!(!e.contains("panicked"), "{what}: no panic: {e}");
    (o, e)
}

fn payload(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(13).wrapping_add(seed) ^ (i >> 9) as u8)
        .collect()
}

fn sha(data: &[u8]) -> Vec<u8> {
    Sha256::digest(data).to_vec()
}

fn write(path: &Path, data: &[u8]) {
    std::fs::write(path, data).expect("write local file");
}

#[test]
fn version_and_usage_errors_need_no_server() {
    let (o, _) = expect(run(&["--version"], &[]), 0, "--version");
    assert_eq!(o.trim(), format!("smb {}", env!("CARGO_PKG_VERSION")));
    let (o, _) = expect(run(&["--help"], &[]), 0, "--help");
    assert!(o.contains("Exit codes:"), "{o}");
    let (_, e) = expect(run(&["ls"], &[]), 2, "missing address");
    assert!(e.contains("<ADDRESS>"), "{e}");
    let (_, e) = expect(run(&["ls", "host/share"], &[]), 2, "not an address");
    assert!(e.contains("is not an SMB address"), "{e}");
    let (_, e) = expect(run(&["ls", "smb://host"], &[]), 2, "no share");
    assert!(e.contains("has no share name"), "{e}");
    let (_, e) = expect(run(&["ls", "smb://h:99999/s"], &[]), 2, "bad port");
    assert!(e.contains("invalid port"), "{e}");
    let (_, e) = expect(
        run(
            &["ls", "//127.0.0.1/s", "-U", "u", "--max-dialect", "4.0"],
            &[],
        ),
        2,
        "bad dialect",
    );
    assert!(e.contains("unknown dialect"), "{e}");
    let (_, e) = expect(
        run(&["ls", "//127.0.0.1/s", "-U", "u"], &[]),
        2,
        "no password and no terminal",
    );
    assert!(e.contains("SMB_PASSWORD"), "{e}");
    let (_, e) = expect(
        run(&["ls", "//name.invalid/s", "-U", "u%p"], &[]),
        3,
        "unresolvable",
    );
    assert!(e.contains("cannot resolve name.invalid"), "{e}");
    let port = conformance::peers::free_port().expect("port").to_string();
    let (_, e) = expect(
        run(&["ls", "//127.0.0.1/s", "-U", "u%p", "--port", &port], &[]),
        3,
        "refused",
    );
    assert!(e.contains("cannot connect"), "{e}");
}

#[test]
fn put_ls_get_cat_stat() {
    let Some(f) = Fixture::start() else {
        return;
    };
    let data = payload(5 * 1024 * 1024 + 321, 1);
    let up = f.local("up.bin");
    write(&up, &data);

    // put into the share root (a directory: the local name is kept).
    let (_, e) = expect(f.smb(&["put", up.to_str().unwrap(), &f.url("")]), 0, "put");
    assert!(e.contains("put "), "a summary on stderr: {e}");
    assert_eq!(
        sha(&std::fs::read(f.on_disk("up.bin")).unwrap()),
        sha(&data)
    );
    // put under a new name, quietly: nothing on stderr.
    let (_, e) = expect(
        f.smb(&["put", up.to_str().unwrap(), &f.url("renamed.bin"), "-q"]),
        0,
        "put -q",
    );
    assert!(e.is_empty(), "{e}");
    assert!(f.on_disk("renamed.bin").is_file());

    // ls: one line per entry, sorted, with sizes; --json an array.
    let (o, _) = expect(f.smb(&["ls", &f.url("")]), 0, "ls");
    let lines: Vec<&str> = o.lines().collect();
    assert_eq!(lines.len(), 2, "{o}");
    assert!(
        lines[1].starts_with('-') && lines[1].ends_with(" up.bin"),
        "{o}"
    );
    assert!(lines[1].contains(&data.len().to_string()), "{o}");
    let (o, _) = expect(f.smb(&["ls", &f.url(""), "--json"]), 0, "ls --json");
    assert!(
        o.trim()
            .starts_with("[{\"name\":\"renamed.bin\",\"type\":\"file\""),
        "{o}"
    );
    assert!(
        o.contains(&format!(
            "\"name\":\"up.bin\",\"type\":\"file\",\"size\":{}",
            data.len()
        )),
        "{o}"
    );
    // ls of a file shows the file.
    let (o, _) = expect(f.smb(&["ls", &f.url("up.bin")]), 0, "ls file");
    assert_eq!(o.lines().count(), 1, "{o}");

    // get into a directory and to a name; both equal.
    let (_, _) = expect(
        f.smb(&[
            "get",
            &f.url("up.bin"),
            f.local.path().to_str().unwrap(),
            "-q",
        ]),
        0,
        "get into dir",
    );
    let back = f.local("down.bin");
    expect(
        f.smb(&["get", &f.url("up.bin"), back.to_str().unwrap()]),
        0,
        "get",
    );
    assert_eq!(sha(&std::fs::read(&back).unwrap()), sha(&data));

    // cat writes the bytes, nothing else, to stdout.
    let out = f.smb(&["cat", &f.url("up.bin")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(sha(&out.stdout), sha(&data));

    // stat, text and JSON.
    let (o, _) = expect(f.smb(&["stat", &f.url("up.bin")]), 0, "stat");
    assert!(o.contains(&format!("size: {}\n", data.len())), "{o}");
    assert!(o.contains("type: file\n"), "{o}");
    assert!(o.starts_with("path: \\\\127.0.0.1:"), "{o}");
    let (o, _) = expect(f.smb(&["stat", &f.url(""), "--json"]), 0, "stat --json");
    assert!(o.contains("\"type\":\"dir\""), "{o}");

    // The other address forms, with -U USER%PASS and --port.
    let user = format!("{}%{}", f.server.user(), f.server.password());
    let port = f.server.port().to_string();
    for addr in ["//127.0.0.1/share/up.bin", "\\\\127.0.0.1\\share\\up.bin"] {
        let out = run(&["cat", addr, "-U", &user, "--port", &port], &[]);
        assert_eq!(out.status.code(), Some(0), "{addr}: {}", text(&out.stderr));
        assert_eq!(sha(&out.stdout), sha(&data), "{addr}");
    }
    // SMB_USER and the port in the address; encryption required and every dialect bound.
    let out = run(
        &[
            "cat",
            &format!("//127.0.0.1:{port}/share/up.bin"),
            "--require-encryption",
            "--min-dialect",
            "3.1.1",
        ],
        &[
            ("SMB_USER", f.server.user()),
            ("SMB_PASSWORD", f.server.password()),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(sha(&out.stdout), sha(&data));
    // A host name: every address it resolves to is tried in turn (smbd listens on 127.0.0.1
    // only, so where localhost also gives ::1 that one is refused first).
    let local = format!("smb://{}@localhost:{port}/share/up.bin", f.server.user());
    let (o, _) = expect(f.smb(&["ls", &local]), 0, "ls via localhost");
    assert!(o.contains("up.bin"), "{o}");
    let (o, _) = expect(
        f.smb(&["ls", &f.url(""), "--max-dialect", "2.0.2"]),
        0,
        "ls over 2.0.2",
    );
    assert!(o.contains("up.bin"), "{o}");
}

#[test]
fn namespace_commands() {
    let Some(f) = Fixture::start() else {
        return;
    };
    let small = f.local("small.txt");
    write(&small, b"hello\n");

    expect(f.smb(&["mkdir", &f.url("d")]), 0, "mkdir");
    assert!(f.on_disk("d").is_dir());
    expect(f.smb(&["mkdir", "-p", &f.url("a/b/c")]), 0, "mkdir -p");
    assert!(f.on_disk("a/b/c").is_dir());
    expect(
        f.smb(&["mkdir", "-p", &f.url("a/b")]),
        0,
        "mkdir -p existing",
    );
    let (_, e) = expect(f.smb(&["mkdir", &f.url("d")]), 1, "mkdir existing");
    assert!(e.contains("STATUS_OBJECT_NAME_COLLISION"), "{e}");

    // put into a directory named with a trailing slash, then mv around.
    expect(
        f.smb(&["put", small.to_str().unwrap(), &f.url("d/"), "-q"]),
        0,
        "put into dir",
    );
    assert!(f.on_disk("d/small.txt").is_file());
    let (_, e) = expect(f.smb(&["rmdir", &f.url("d")]), 1, "rmdir non-empty");
    assert!(e.contains("STATUS_DIRECTORY_NOT_EMPTY"), "{e}");
    assert!(
        e.starts_with("smb: delete \\d: the directory is not empty"),
        "{e}"
    );
    expect(
        f.smb(&["mv", &f.url("d/small.txt"), "d/moved.txt"]),
        0,
        "mv by path",
    );
    assert!(f.on_disk("d/moved.txt").is_file());
    expect(
        f.smb(&["mv", &f.url("d/moved.txt"), &f.url("a/")]),
        0,
        "mv into dir",
    );
    assert!(f.on_disk("a/moved.txt").is_file());
    expect(
        f.smb(&["put", small.to_str().unwrap(), &f.url("d/other.txt"), "-q"]),
        0,
        "put",
    );
    let (_, e) = expect(
        f.smb(&["mv", &f.url("a/moved.txt"), "d/other.txt"]),
        1,
        "mv onto existing",
    );
    assert!(e.contains("STATUS_OBJECT_NAME_COLLISION"), "{e}");
    expect(
        f.smb(&["mv", "-f", &f.url("a/moved.txt"), "d/other.txt"]),
        0,
        "mv -f",
    );
    let (_, e) = expect(
        f.smb(&["mv", &f.url("d/other.txt"), "//elsewhere/share/x"]),
        2,
        "mv across shares",
    );
    assert!(e.contains("within one share"), "{e}");

    // cp: a server-side copy, into a directory or by path, replacing only with -f.
    expect(f.smb(&["cp", &f.url("d/other.txt"), "d/copy.txt"]), 0, "cp");
    assert_eq!(
        std::fs::read(f.on_disk("d/copy.txt")).expect("the copy"),
        std::fs::read(f.on_disk("d/other.txt")).expect("the source")
    );
    let (_, e) = expect(
        f.smb(&["cp", &f.url("d/other.txt"), "d/copy.txt"]),
        1,
        "cp onto existing",
    );
    assert!(e.contains("STATUS_OBJECT_NAME_COLLISION"), "{e}");
    expect(
        f.smb(&["cp", "-f", &f.url("d/other.txt"), "d/copy.txt"]),
        0,
        "cp -f",
    );
    expect(
        f.smb(&["cp", &f.url("d/copy.txt"), &f.url("a/")]),
        0,
        "cp into dir",
    );
    assert!(f.on_disk("a/copy.txt").is_file());
    expect(f.smb(&["rm", &f.url("d/copy.txt")]), 0, "rm the copy");

    // rm and rmdir, and their errors.
    let (_, e) = expect(f.smb(&["rm", &f.url("d")]), 1, "rm directory");
    assert!(e.contains("STATUS_FILE_IS_A_DIRECTORY"), "{e}");
    let (_, e) = expect(f.smb(&["rm", &f.url("nope.txt")]), 1, "rm missing");
    assert!(e.contains("STATUS_OBJECT_NAME_NOT_FOUND"), "{e}");
    expect(f.smb(&["rm", &f.url("d/other.txt")]), 0, "rm");
    assert!(!f.on_disk("d/other.txt").exists());
    expect(f.smb(&["rmdir", &f.url("d")]), 0, "rmdir");
    assert!(!f.on_disk("d").exists());
    expect(f.smb(&["rm", "-r", &f.url("a")]), 0, "rm -r");
    assert!(!f.on_disk("a").exists());
    let (_, e) = expect(f.smb(&["rmdir", &f.url("")]), 2, "rmdir root");
    assert!(e.contains("root of a share"), "{e}");
    let (o, _) = expect(f.smb(&["ls", &f.url("")]), 0, "ls empty");
    assert!(o.is_empty(), "{o}");
}

#[test]
fn recursive_get_and_put() {
    let Some(f) = Fixture::start() else {
        return;
    };
    let tree = f.local("tree");
    std::fs::create_dir_all(tree.join("sub/deeper")).unwrap();
    write(&tree.join("top.txt"), b"top");
    write(&tree.join("sub/mid.bin"), &payload(300_000, 4));
    write(&tree.join("sub/deeper/leaf.txt"), b"leaf");
    std::fs::create_dir(tree.join("empty")).unwrap();

    let (_, e) = expect(
        f.smb(&["put", tree.to_str().unwrap(), &f.url("")]),
        2,
        "put dir without -r",
    );
    assert!(e.contains("put -r"), "{e}");
    expect(
        f.smb(&["put", "-r", tree.to_str().unwrap(), &f.url(""), "-q"]),
        0,
        "put -r",
    );
    assert_eq!(
        std::fs::read(f.on_disk("tree/sub/deeper/leaf.txt")).unwrap(),
        b"leaf"
    );
    assert_eq!(
        std::fs::read(f.on_disk("tree/sub/mid.bin")).unwrap(),
        payload(300_000, 4)
    );
    assert!(f.on_disk("tree/empty").is_dir());

    let dest = f.local("copy");
    std::fs::create_dir(&dest).unwrap();
    let (_, e) = expect(
        f.smb(&["get", &f.url("tree"), dest.to_str().unwrap()]),
        2,
        "get dir without -r",
    );
    assert!(e.contains("get -r"), "{e}");
    expect(
        f.smb(&["get", "-r", &f.url("tree"), dest.to_str().unwrap()]),
        0,
        "get -r",
    );
    assert_eq!(std::fs::read(dest.join("tree/top.txt")).unwrap(), b"top");
    assert_eq!(
        std::fs::read(dest.join("tree/sub/deeper/leaf.txt")).unwrap(),
        b"leaf"
    );
    assert_eq!(
        std::fs::read(dest.join("tree/sub/mid.bin")).unwrap(),
        payload(300_000, 4)
    );
    assert!(dest.join("tree/empty").is_dir());
}

#[test]
fn server_and_auth_errors_name_the_status() {
    let Some(f) = Fixture::start() else {
        return;
    };
    let (o, e) = expect(f.smb(&["cat", &f.url("missing.txt")]), 1, "cat missing");
    assert!(o.is_empty());
    assert_eq!(
        e.trim(),
        "smb: open \\missing.txt: no such file or directory (STATUS_OBJECT_NAME_NOT_FOUND)"
    );
    let (_, e) = expect(f.smb(&["ls", &f.url("no/such/dir")]), 1, "ls missing");
    assert!(e.contains("STATUS_OBJECT_PATH_NOT_FOUND"), "{e}");
    let out = run(&["ls", &f.url("")], &[("SMB_PASSWORD", "not-the-password")]);
    let (_, e) = expect(out, 4, "bad password");
    assert!(e.contains("STATUS_LOGON_FAILURE"), "{e}");
    let other = f.url("").replace("/share/", "/nothing-here/");
    let (_, e) = expect(f.smb(&["ls", &other]), 1, "missing share");
    assert!(e.contains("STATUS_BAD_NETWORK_NAME"), "{e}");
    // An encrypted share over SMB 2.1 is refused; the message says encryption needs SMB 3.
    let secure = f.url("").replace("/share/", "/secure/");
    let (_, e) = expect(
        f.smb(&["ls", &secure, "--max-dialect", "2.1"]),
        1,
        "encrypted share over 2.1",
    );
    assert!(
        e.contains("STATUS_ACCESS_DENIED") && e.contains("raise --max-dialect"),
        "{e}"
    );
    expect(
        f.smb(&["ls", &secure, "--require-encryption"]),
        0,
        "encrypted share",
    );
    // A local file that cannot be created is a local error (5), and no partial file stays.
    std::fs::write(f.on_disk("x.txt"), b"x").unwrap();
    let (_, e) = expect(
        f.smb(&["get", &f.url("x.txt"), "/nonexistent-dir/x.txt"]),
        5,
        "local create fails",
    );
    assert!(e.contains("/nonexistent-dir/x.txt"), "{e}");
    let (_, e) = expect(
        f.smb(&["put", "/nonexistent-file", &f.url("")]),
        5,
        "local read fails",
    );
    assert!(e.contains("/nonexistent-file"), "{e}");
}

#[test]
fn shares_lists_the_samba_shares() {
    let Some(f) = Fixture::start() else {
        return;
    };
    let server = format!("smb://{}@127.0.0.1:{}", f.server.user(), f.server.port());
    let (o, _) = expect(f.smb(&["shares", &server]), 0, "shares");
    let share_line = o
        .lines()
        .find(|l| l.split_whitespace().next() == Some("share"))
        .unwrap_or_else(|| panic!("the share is listed: {o}"));
    assert!(share_line.contains("disk"), "{share_line}");
    assert!(
        o.lines()
            .any(|l| l.starts_with("IPC$") && l.contains("ipc")),
        "{o}"
    );
    let (o, _) = expect(f.smb(&["shares", &server, "--json"]), 0, "shares --json");
    assert!(
        o.contains("{\"name\":\"share\",\"type\":\"disk\",\"hidden\":false"),
        "{o}"
    );
    assert!(
        o.contains("\"name\":\"IPC$\",\"type\":\"ipc\",\"hidden\":true"),
        "{o}"
    );
    // A share in the address is ignored; the listing is the same.
    let (again, _) = expect(
        f.smb(&["shares", &format!("{server}/share")]),
        0,
        "shares with a share",
    );
    assert!(again.lines().any(|l| l.starts_with("share ")), "{again}");
}
