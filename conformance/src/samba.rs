//! A private Samba `smbd` for interop tests: started in the foreground with every path (config,
//! private/lock/state/cache/pid dirs, tdbsam passdb, logs, shares) inside a fresh temp dir,
//! listening only on 127.0.0.1 at a free high port, and torn down (process group killed, temp
//! dir removed) on drop. It owns nothing outside that temp dir except the dedicated unix user it
//! may create once (`useradd`, as root), which smbd needs to map the SMB user to.
//!
//! Shares: [`SambaServer::SHARE`] (`share`, read-write) and [`SambaServer::SECURE_SHARE`]
//! (`secure`, `smb encrypt = required`). Parallel tests each get their own server.

use std::fs;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::HarnessError;
use crate::peers::{find_tool, free_port, in_ci, is_root, port_accepts, require};
use crate::smbclient::{Smbclient, write_client_conf};
use crate::smbtorture::Smbtorture;

/// How to configure the private smbd.
#[derive(Debug, Clone)]
pub struct SambaOptions {
    /// `server min protocol` (default `SMB2_02`).
    pub min_protocol: String,
    /// `server max protocol` (default `SMB3_11`).
    pub max_protocol: String,
    /// `server signing = mandatory` instead of `auto`.
    pub signing_mandatory: bool,
    /// SMB (and unix) user name; created with `useradd` if missing (default `smbtest`).
    pub user: String,
    /// SMB password of `user` in the private passdb.
    pub password: String,
    /// Extra `name = value` lines for `[global]`, e.g.
    /// `server smb3 encryption algorithms = AES-256-GCM`.
    pub extra_global: Vec<String>,
    /// `log level` (default 1); logs stay in the temp dir.
    pub log_level: u8,
    /// How long to wait for smbd to accept connections.
    pub startup_timeout: Duration,
}

impl Default for SambaOptions {
    fn default() -> Self {
        Self {
            min_protocol: "SMB2_02".into(),
            max_protocol: "SMB3_11".into(),
            signing_mandatory: false,
            user: "smbtest".into(),
            password: "Conf0rmance-Pass".into(),
            extra_global: Vec::new(),
            log_level: 1,
            startup_timeout: Duration::from_secs(30),
        }
    }
}

/// A running private smbd. Dropping it stops smbd and deletes all its state.
#[derive(Debug)]
pub struct SambaServer {
    child: Child,
    port: u16,
    opts: SambaOptions,
    client_conf: PathBuf,
    // Declared last: removed after the processes are gone.
    dir: TempDir,
}

/// Serialises `useradd` between the tests of one process.
static USER_LOCK: Mutex<()> = Mutex::new(());

const PEER: &str = "smbd";

impl SambaServer {
    /// Name of the read-write share.
    pub const SHARE: &'static str = "share";
    /// Name of the share with `smb encrypt = required`.
    pub const SECURE_SHARE: &'static str = "secure";
    /// Address smbd listens on.
    pub const HOST: &'static str = "127.0.0.1";

    /// Starts smbd; returns once its port accepts connections.
    ///
    /// Needs root (smbd changes user ids) and the `smbd` and `smbpasswd` programs. A port that
    /// turns out to be taken is retried with a fresh one.
    pub fn start(opts: SambaOptions) -> Result<Self, HarnessError> {
        let smbd = find_tool("smbd").ok_or_else(|| HarnessError::ToolMissing("smbd".into()))?;
        if !is_root() {
            return Err(HarnessError::NotRoot("a private smbd"));
        }
        ensure_unix_user(&opts.user)?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            match Self::try_start(&smbd, &opts) {
                Ok(s) => return Ok(s),
                // Most likely someone took the port between free_port() and smbd's bind.
                Err(HarnessError::Exited { .. }) if attempt < 4 => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// For tests: checks the tools and root, then starts. Returns `None` after printing
    /// `SKIP: ...` when something is missing on a developer machine; panics under `CI=true`
    /// or when smbd itself fails to start.
    pub fn start_for_test(opts: SambaOptions) -> Option<Self> {
        require("smbd")?;
        require("smbpasswd")?;
        if !is_root() {
            if in_ci() {
                panic!("the Samba interop tests need root under CI=true (smbd switches users)");
            }
            eprintln!("SKIP: a private smbd needs root");
            return None;
        }
        match Self::start(opts) {
            Ok(s) => Some(s),
            Err(e) => panic!("private smbd failed to start: {e}"),
        }
    }

    fn try_start(smbd: &Path, opts: &SambaOptions) -> Result<Self, HarnessError> {
        let dir = tempfile::Builder::new().prefix("smbd-peer-").tempdir()?;
        let root = dir.path();
        set_mode(root, 0o755)?;
        for sub in [
            "etc", "private", "lock", "state", "cache", "pid", "ncalrpc", "log", "binddns",
            "client",
        ] {
            fs::create_dir(root.join(sub))?;
        }
        set_mode(&root.join("private"), 0o700)?;
        for share in [Self::SHARE, Self::SECURE_SHARE] {
            let p = root.join(share);
            fs::create_dir(&p)?;
            set_mode(&p, 0o755)?;
            chown_to(&p, &opts.user)?;
        }
        let port = free_port()?;
        let conf = root.join("etc/smb.conf");
        fs::write(&conf, server_conf(root, port, opts))?;
        let client_conf = write_client_conf(&root.join("client"))?;
        set_password(&conf, &opts.user, &opts.password)?;

        let log = fs::File::create(root.join("log/smbd.stdout"))?;
        let child = Command::new(smbd)
            .arg("--foreground")
            .arg("--no-process-group")
            .arg(format!("--configfile={}", conf.display()))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .process_group(0)
            .spawn()
            .map_err(|source| HarnessError::Spawn {
                program: smbd.display().to_string(),
                source,
            })?;
        let mut server = SambaServer {
            child,
            port,
            opts: opts.clone(),
            client_conf,
            dir,
        };
        server.wait_ready()?;
        Ok(server)
    }

    fn wait_ready(&mut self) -> Result<(), HarnessError> {
        let deadline = Instant::now() + self.opts.startup_timeout;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Err(HarnessError::Exited {
                    peer: PEER,
                    status,
                    log: self.log_tail(),
                });
            }
            if port_accepts(self.port) {
                // The port could belong to someone else if our bind failed: make sure smbd is
                // still alive a moment later (it exits when it cannot bind).
                thread::sleep(Duration::from_millis(100));
                if let Some(status) = self.child.try_wait()? {
                    return Err(HarnessError::Exited {
                        peer: PEER,
                        status,
                        log: self.log_tail(),
                    });
                }
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(HarnessError::StartTimeout {
                    peer: PEER,
                    port: self.port,
                    log: self.log_tail(),
                });
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// SMB user name.
    pub fn user(&self) -> &str {
        &self.opts.user
    }

    /// SMB password.
    pub fn password(&self) -> &str {
        &self.opts.password
    }

    /// The options it was started with.
    pub fn options(&self) -> &SambaOptions {
        &self.opts
    }

    /// Process id of the smbd parent.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The temp dir holding all state.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Directory behind a share (`share` or `secure`), for checking files on disk.
    pub fn share_dir(&self, share: &str) -> PathBuf {
        self.dir.path().join(share)
    }

    /// A client smb.conf with its own cache/lock/state dirs inside the temp dir.
    pub fn client_conf(&self) -> &Path {
        &self.client_conf
    }

    /// `smbclient //127.0.0.1/<share> -p <port> -U user%pass` with the private client config.
    pub fn smbclient(&self, share: &str) -> Smbclient {
        Smbclient::new(Self::HOST, self.port, share)
            .config_file(&self.client_conf)
            .user(self.user(), self.password())
    }

    /// `smbtorture //127.0.0.1/<share> -p <port> -U user%pass` with the private client config.
    pub fn smbtorture(&self, share: &str) -> Smbtorture {
        Smbtorture::new(Self::HOST, self.port, share)
            .config_file(&self.client_conf)
            .user(self.user(), self.password())
    }

    /// The last lines of smbd's log files, for failure messages.
    pub fn log_tail(&self) -> String {
        let mut out = String::new();
        if let Ok(entries) = fs::read_dir(self.dir.path().join("log")) {
            for e in entries.flatten() {
                if let Ok(text) = fs::read_to_string(e.path()) {
                    let lines: Vec<&str> = text.lines().collect();
                    let start = lines.len().saturating_sub(30);
                    out.push_str(&format!("== {}\n", e.path().display()));
                    for l in lines.iter().skip(start) {
                        out.push_str(l);
                        out.push('\n');
                    }
                }
            }
        }
        out
    }

    /// `df -h` of the peer's directory (shares, logs), for failure messages: a DISK_FULL
    /// from smbd is the machine's disk, not the protocol.
    pub fn disk_report(&self) -> String {
        match Command::new("df").arg("-h").arg(self.dir.path()).output() {
            Ok(out) => String::from_utf8_lossy(&out.stdout).into_owned(),
            Err(e) => format!("df: {e}"),
        }
    }

    /// Helpers smbd started that left its process group (samba-dcerpcd daemonises), found
    /// through the pid files in our private pid dir.
    fn helper_pids(&self) -> Vec<u32> {
        let mut pids = Vec::new();
        if let Ok(entries) = fs::read_dir(self.dir.path().join("pid")) {
            for e in entries.flatten() {
                if let Ok(text) = fs::read_to_string(e.path()) {
                    if let Ok(pid) = text.trim().parse::<u32>() {
                        if pid > 1 && pid != self.child.id() {
                            pids.push(pid);
                        }
                    }
                }
            }
        }
        pids
    }
}

impl Drop for SambaServer {
    fn drop(&mut self) {
        let pgid = self.child.id();
        let helpers = self.helper_pids();
        signal(&format!("-{pgid}"), "TERM");
        for pid in &helpers {
            signal(&pid.to_string(), "TERM");
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            thread::sleep(Duration::from_millis(20));
        }
        // Whatever is left of the group (forked per-connection children) gets SIGKILL.
        signal(&format!("-{pgid}"), "KILL");
        let _ = self.child.kill();
        let _ = self.child.wait();
        // The temp dir is removed when `dir` drops, after this.
    }
}

/// `kill -SIG -- target` (a pid, or `-pgid` for a process group we created). Best effort.
fn signal(target: &str, sig: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg("--")
        .arg(target)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

fn set_mode(p: &Path, mode: u32) -> Result<(), HarnessError> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(p, fs::Permissions::from_mode(mode))?;
    Ok(())
}

/// Runs a setup command, turning a non-zero exit into [`HarnessError::Setup`].
fn setup_cmd(step: &str, cmd: &mut Command, stdin: Option<&str>) -> Result<String, HarnessError> {
    let mut child = cmd
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| HarnessError::Spawn {
            program: cmd.get_program().to_string_lossy().into_owned(),
            source,
        })?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes())?;
    }
    let out = child.wait_with_output()?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        Ok(text)
    } else {
        Err(HarnessError::Setup {
            step: step.into(),
            status: out.status,
            output: text,
        })
    }
}

/// smbd maps every SMB user to a unix account: create a dedicated locked system account once.
fn ensure_unix_user(user: &str) -> Result<(), HarnessError> {
    let _guard = USER_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    if unix_id(user, "-u").is_some() {
        return Ok(());
    }
    let res = setup_cmd(
        "useradd",
        Command::new(find_tool("useradd").unwrap_or_else(|| "useradd".into())).args([
            "--system",
            "--no-create-home",
            "--shell",
            "/usr/sbin/nologin",
            user,
        ]),
        None,
    );
    // Another test process may have created it meanwhile.
    match res {
        Ok(_) => Ok(()),
        Err(_) if unix_id(user, "-u").is_some() => Ok(()),
        Err(e) => Err(e),
    }
}

fn unix_id(user: &str, flag: &str) -> Option<u32> {
    let out = Command::new("id").arg(flag).arg(user).output().ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

fn chown_to(p: &Path, user: &str) -> Result<(), HarnessError> {
    std::os::unix::fs::chown(p, unix_id(user, "-u"), unix_id(user, "-g"))?;
    Ok(())
}

fn set_password(conf: &Path, user: &str, password: &str) -> Result<(), HarnessError> {
    let smbpasswd =
        find_tool("smbpasswd").ok_or_else(|| HarnessError::ToolMissing("smbpasswd".into()))?;
    setup_cmd(
        "smbpasswd -a",
        Command::new(smbpasswd)
            .arg("-c")
            .arg(conf)
            .args(["-s", "-a", user]),
        Some(&format!("{password}\n{password}\n")),
    )?;
    Ok(())
}

fn server_conf(root: &Path, port: u16, o: &SambaOptions) -> String {
    let d = root.display();
    let signing = if o.signing_mandatory {
        "mandatory"
    } else {
        "auto"
    };
    let extra: String = o.extra_global.iter().map(|l| format!("  {l}\n")).collect();
    format!(
        "[global]
  workgroup = WORKGROUP
  netbios name = CONFPEER
  server role = standalone server
  server string = private conformance peer
  interfaces = 127.0.0.1
  bind interfaces only = yes
  smb ports = {port}
  disable netbios = yes
  private dir = {d}/private
  lock directory = {d}/lock
  state directory = {d}/state
  cache directory = {d}/cache
  pid directory = {d}/pid
  ncalrpc dir = {d}/ncalrpc
  binddns dir = {d}/binddns
  passdb backend = tdbsam:{d}/private/passdb.tdb
  log file = {d}/log/log.%m
  log level = {log_level}
  max log size = 0
  logging = file
  server min protocol = {min}
  server max protocol = {max}
  server signing = {signing}
  map to guest = never
  load printers = no
  printing = bsd
  printcap name = /dev/null
  disable spoolss = yes
  kernel oplocks = no
  panic action = /bin/true
  usershare path =
  unix password sync = no
  obey pam restrictions = no
{extra}
[{share}]
  comment = conformance read-write share
  path = {d}/{share}
  read only = no
  valid users = {user}

[{secure}]
  comment = conformance share that requires encryption
  path = {d}/{secure}
  read only = no
  valid users = {user}
  smb encrypt = required
",
        log_level = o.log_level,
        min = o.min_protocol,
        max = o.max_protocol,
        share = SambaServer::SHARE,
        secure = SambaServer::SECURE_SHARE,
        user = o.user,
    )
}
