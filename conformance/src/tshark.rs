//! tshark for the on-the-wire tests: reading a capture file, and capturing on `lo` in a child
//! process that is known to be writing packets before the test starts talking.
//!
//! Owns: [`read`] (one tshark run over a file), [`Capture`] (start with a BPF filter and a
//! probe that makes traffic until the file grows; stop with SIGINT, bounded). Must not: decide
//! what a test asserts about the dissection.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Runs `tshark args…`; its standard output when it succeeds.
pub fn read(args: &[&str]) -> Option<String> {
    let out = Command::new("tshark")
        .args(args)
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A running capture on `lo`.
#[derive(Debug)]
pub struct Capture {
    child: Child,
}

impl Capture {
    /// Starts tshark on `lo` with BPF `filter`, writing `file` (its stderr goes to `log`), with
    /// a capture buffer of `buffer_mib` MiB when given. dumpcap says "Capture started" a little
    /// before packets reach the file, so after that `probe` is called (every 20 ms, at most
    /// 10 s) to make matching traffic until the file grows. `None` when tshark cannot capture
    /// here (no permission, no `lo`).
    pub fn start(
        filter: &str,
        file: &Path,
        log: &Path,
        buffer_mib: Option<u32>,
        mut probe: impl FnMut(),
    ) -> Option<Capture> {
        let stderr = std::fs::File::create(log).ok()?;
        let mut cmd = Command::new("tshark");
        cmd.args(["-i", "lo"]);
        if let Some(mib) = buffer_mib {
            cmd.args(["-B", &mib.to_string()]);
        }
        let child = cmd
            .args(["-f", filter, "-w"])
            .arg(file)
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .ok()?;
        let mut capture = Capture { child };
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut started_size = None;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = capture.child.try_wait() {
                return None;
            }
            let size = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
            match started_size {
                None => {
                    if std::fs::read_to_string(log).is_ok_and(|t| t.contains("Capture started")) {
                        started_size = Some(size);
                    }
                }
                Some(initial) if size > initial => return Some(capture),
                Some(_) => probe(),
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        capture.stop(|| true);
        None
    }

    /// Stops the capture with SIGINT (then kill), bounded. dumpcap writes in batches and may
    /// drop what it has not written yet when stopped, so first waits (at most 5 s) until
    /// `complete` says the file, read while being written, holds what the test needs.
    pub fn stop(mut self, complete: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline && !complete() {
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = Command::new("kill")
            .arg("-INT")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
