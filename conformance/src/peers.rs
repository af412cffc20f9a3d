//! Finding real peer programs (`smbd`, `smbclient`, `smbtorture`, `tshark`, ...) and the small
//! process and socket utilities every peer harness shares: free loopback ports, waiting for a
//! port to accept, and running a child with a time limit while capturing its output.
//!
//! Policy for missing tools: under `CI=true` a missing tool is a test failure (panic with a clear
//! message), never a silent skip; on a developer machine [`require`] returns `None` and the test
//! prints `SKIP: ...` and returns. This module does not know about SMB.

use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::HarnessError;

/// True when the environment says we run under CI (`CI=true` or `CI=1`).
pub fn in_ci() -> bool {
    matches!(
        std::env::var("CI")
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Ok("true" | "1" | "yes")
    )
}

/// Looks `tool` up: an absolute or relative path with a `/` is taken as is, otherwise every
/// directory of `PATH` plus `/usr/sbin` and `/sbin` (where Debian puts `smbd`) is searched.
pub fn find_tool(tool: &str) -> Option<PathBuf> {
    if tool.contains('/') {
        let p = PathBuf::from(tool);
        return is_executable(&p).then_some(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/local/sbin", "/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(tool))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Finds a peer program a test needs.
///
/// Returns `Some(path)` when found. When missing: under CI (`CI=true`) this panics, so the test
/// fails loudly; otherwise it prints `SKIP: <tool> not installed` to stderr and returns `None`,
/// and the caller returns early. Typical use:
///
/// ```no_run
/// let Some(_smbd) = conformance::peers::require("smbd") else { return };
/// ```
pub fn require(tool: &str) -> Option<PathBuf> {
    require_with(tool, in_ci())
}

/// [`require`] with the CI decision made by the caller (`ci`: panic instead of skipping).
pub fn require_with(tool: &str, ci: bool) -> Option<PathBuf> {
    match find_tool(tool) {
        Some(p) => Some(p),
        None if ci => panic!(
            "required peer program `{tool}` is not installed and CI=true: \
             install it (e.g. `apt-get install -y samba smbclient samba-testsuite tshark`)"
        ),
        None => {
            eprintln!("SKIP: `{tool}` not installed (set CI=true to make this a failure)");
            None
        }
    }
}

/// [`require`] for several tools at once; `None` (after printing SKIP) if any is missing.
pub fn require_all(tools: &[&str]) -> Option<Vec<PathBuf>> {
    tools.iter().map(|t| require(t)).collect()
}

/// True when this process runs as root (needed to start `smbd` and to capture on `lo`).
pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .ok()
        .is_some_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Asks the kernel for a currently free TCP port on 127.0.0.1.
///
/// The port is released before returning, so another process could take it in between; the
/// harnesses retry with a fresh port when the peer fails to bind.
pub fn free_port() -> Result<u16, HarnessError> {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(HarnessError::Io)?;
    Ok(l.local_addr().map_err(HarnessError::Io)?.port())
}

/// True when something accepts TCP connections on 127.0.0.1:`port` right now.
pub fn port_accepts(port: u16) -> bool {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
}

/// Output of a finished child process.
#[derive(Debug, Clone)]
pub struct ProcessOutput {
    /// Exit status (a killed child shows as not successful).
    pub status: ExitStatus,
    /// Everything the child wrote on stdout, lossily decoded.
    pub stdout: String,
    /// Everything the child wrote on stderr, lossily decoded.
    pub stderr: String,
    /// True when the child was killed because it exceeded the time limit.
    pub timed_out: bool,
}

impl ProcessOutput {
    /// True when the child exited with status 0 within its time limit.
    pub fn success(&self) -> bool {
        self.status.success() && !self.timed_out
    }

    /// stdout followed by stderr, for assertions and failure messages.
    pub fn combined(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// Runs `cmd` (stdin closed, stdout and stderr captured) and kills it after `limit`.
pub fn run_with_timeout(cmd: &mut Command, limit: Duration) -> Result<ProcessOutput, HarnessError> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| HarnessError::Spawn {
            program: program.clone(),
            source,
        })?;
    let out = drain(child.stdout.take());
    let err = drain(child.stderr.take());
    let (status, timed_out) = wait_deadline(&mut child, Instant::now() + limit)?;
    Ok(ProcessOutput {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
        timed_out,
    })
}

/// Reads a pipe to its end on a thread, so a chatty child never blocks on a full pipe.
fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut p) = pipe {
            // A read error only truncates the captured text; the exit status still tells.
            let _ = p.read_to_end(&mut buf);
        }
        String::from_utf8_lossy(&buf).into_owned()
    })
}

/// Waits for `child` until `deadline`, killing it when the deadline passes.
fn wait_deadline(child: &mut Child, deadline: Instant) -> Result<(ExitStatus, bool), HarnessError> {
    loop {
        if let Some(status) = child.try_wait().map_err(HarnessError::Io)? {
            return Ok((status, false));
        }
        if Instant::now() >= deadline {
            // Already exited between the checks is fine: wait() below reaps it either way.
            let _ = child.kill();
            let status = child.wait().map_err(HarnessError::Io)?;
            return Ok((status, true));
        }
        thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MISSING: &str = "conformance-no-such-tool-7d1f";

    #[test]
    fn finds_a_real_tool_and_not_a_missing_one() {
        assert!(find_tool("sh").is_some());
        assert!(find_tool(MISSING).is_none());
        assert!(find_tool("/nonexistent/dir/sh").is_none());
    }

    #[test]
    fn missing_tool_skips_outside_ci() {
        assert_eq!(require_with(MISSING, false), None);
        assert!(require_with("sh", true).is_some());
    }

    #[test]
    #[should_panic(expected = "is not installed and CI=true")]
    fn missing_tool_fails_under_ci() {
        let _ = require_with(MISSING, true);
    }

    #[test]
    fn free_port_is_bindable() {
        let a = free_port().expect("port");
        let l = TcpListener::bind((Ipv4Addr::LOCALHOST, a)).expect("bind the free port");
        assert!(port_accepts(a));
        drop(l);
    }

    #[test]
    fn run_with_timeout_captures_and_kills() {
        let out = run_with_timeout(
            Command::new("sh").args(["-c", "echo out; echo err >&2; exit 3"]),
            Duration::from_secs(10),
        )
        .expect("run sh");
        assert_eq!(out.stdout, "out\n");
        assert_eq!(out.stderr, "err\n");
        assert_eq!(out.status.code(), Some(3));
        assert!(!out.success());
        let slow = run_with_timeout(Command::new("sleep").arg("30"), Duration::from_millis(200))
            .expect("run sleep");
        assert!(slow.timed_out && !slow.success());
    }
}
