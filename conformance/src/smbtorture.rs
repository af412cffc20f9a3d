//! Running Samba's `smbtorture` test suites (`smb2.*`) against any SMB server on any host and
//! port, and reading its per-test verdicts. Builds the command line, runs it with a time limit
//! and parses the `success:` / `failure:` / `error:` / `skip:` lines; judging which tests must
//! pass is the caller's job.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::HarnessError;
use crate::peers::{ProcessOutput, find_tool, run_with_timeout};

/// Verdict smbtorture printed for one test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// `success: name`
    Success,
    /// `failure: name [...]`
    Failure,
    /// `error: name [...]`
    Error,
    /// `skip: name [...]`
    Skip,
}

/// Result of one smbtorture run.
#[derive(Debug, Clone)]
pub struct TortureRun {
    /// The raw process output.
    pub output: ProcessOutput,
    /// Verdict per test name, as printed (e.g. `related1`, `valid-request`).
    pub verdicts: BTreeMap<String, Verdict>,
}

impl TortureRun {
    /// Names of the tests with the given verdict.
    pub fn with(&self, v: Verdict) -> Vec<&str> {
        self.verdicts
            .iter()
            .filter(|(_, x)| **x == v)
            .map(|(k, _)| k.as_str())
            .collect()
    }
}

/// An `smbtorture //host/share -p port -U user%pass TESTS...` invocation under construction.
#[derive(Debug, Clone)]
pub struct Smbtorture {
    host: String,
    port: u16,
    share: String,
    args: Vec<String>,
    tests: Vec<String>,
    timeout: Duration,
}

impl Smbtorture {
    /// Against `//host/share` on `port`, no credentials yet, 10 minute time limit.
    pub fn new(host: &str, port: u16, share: &str) -> Self {
        Self {
            host: host.to_owned(),
            port,
            share: share.to_owned(),
            args: Vec::new(),
            tests: Vec::new(),
            timeout: Duration::from_secs(600),
        }
    }

    /// `-U user%password`.
    pub fn user(self, user: &str, password: &str) -> Self {
        self.arg(format!("--user={user}%{password}"))
    }

    /// `--configfile=PATH` (see [`crate::smbclient::write_client_conf`]).
    pub fn config_file(self, path: impl Into<PathBuf>) -> Self {
        let p: PathBuf = path.into();
        self.arg(format!("--configfile={}", p.display()))
    }

    /// `--option=name=value`.
    pub fn option(self, name: &str, value: &str) -> Self {
        self.arg(format!("--option={name}={value}"))
    }

    /// Any other argument, verbatim.
    pub fn arg(mut self, a: impl Into<String>) -> Self {
        self.args.push(a.into());
        self
    }

    /// A test or suite name, e.g. `smb2.connect` or `smb2.lock`.
    pub fn test(mut self, t: impl Into<String>) -> Self {
        self.tests.push(t.into());
        self
    }

    /// Kill smbtorture when it runs longer than this.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }

    /// The full argument list (without the program name).
    pub fn args(&self) -> Vec<String> {
        // smbtorture 4.17 takes the port only as `-p PORT` (it rejects `--port=`).
        let mut v = vec![
            format!("//{}/{}", self.host, self.share),
            "-p".to_owned(),
            self.port.to_string(),
        ];
        v.extend(self.args.iter().cloned());
        v.extend(self.tests.iter().cloned());
        v
    }

    /// Runs it and parses the verdicts.
    pub fn run(&self) -> Result<TortureRun, HarnessError> {
        let program = find_tool("smbtorture")
            .ok_or_else(|| HarnessError::ToolMissing("smbtorture".into()))?;
        let output = run_with_timeout(Command::new(program).args(self.args()), self.timeout)?;
        let verdicts = parse_verdicts(&output.stdout);
        Ok(TortureRun { output, verdicts })
    }
}

/// The test names of one suite (`smb2.lock` gives `valid-request`, `rw-none`, ...), from
/// `smbtorture --list`, which prints each test as `suite.test.test`.
pub fn list_tests(suite: &str) -> Result<Vec<String>, HarnessError> {
    let program =
        find_tool("smbtorture").ok_or_else(|| HarnessError::ToolMissing("smbtorture".into()))?;
    let output = run_with_timeout(Command::new(program).arg("--list"), Duration::from_secs(60))?;
    Ok(parse_list(&output.stdout, suite))
}

/// Picks the tests of `suite` out of `smbtorture --list` output, in listed order, once each.
pub fn parse_list(stdout: &str, suite: &str) -> Vec<String> {
    let prefix = format!("{suite}.");
    let mut out: Vec<String> = Vec::new();
    for line in stdout.lines() {
        let Some(rest) = line.trim().strip_prefix(&prefix) else {
            continue;
        };
        // `test.test` for a plain test; a nested suite would be `sub.test`, which we keep whole
        // as `sub` (smbtorture runs a sub-suite by that name).
        let name = rest.split('.').next().unwrap_or("");
        if !name.is_empty() && !out.iter().any(|n| n == name) {
            out.push(name.to_owned());
        }
    }
    out
}

/// Parses smbtorture's subunit-like `success: name` lines (the name ends at a space or `[`).
pub fn parse_verdicts(stdout: &str) -> BTreeMap<String, Verdict> {
    let mut out = BTreeMap::new();
    for line in stdout.lines() {
        let (verdict, rest) = if let Some(r) = line.strip_prefix("success: ") {
            (Verdict::Success, r)
        } else if let Some(r) = line.strip_prefix("failure: ") {
            (Verdict::Failure, r)
        } else if let Some(r) = line.strip_prefix("error: ") {
            (Verdict::Error, r)
        } else if let Some(r) = line.strip_prefix("skip: ") {
            (Verdict::Skip, r)
        } else {
            continue;
        };
        // Names may hold spaces ("OVERWRITE_IF Existing"); a reason follows after " [".
        let name = rest
            .split(" [")
            .next()
            .unwrap_or("")
            .trim_end_matches('[')
            .trim();
        if !name.is_empty() {
            out.insert(name.to_owned(), verdict);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_verdict_lines() {
        let v = parse_verdicts(
            "test: related1\nsuccess: related1\nfailure: blob [\n(create.c:757) bad\n]\n\
             skip: quota [\nnot supported\n]\nerror: x [ y ]\nnoise\n",
        );
        assert_eq!(v.get("related1"), Some(&Verdict::Success));
        assert_eq!(v.get("blob"), Some(&Verdict::Failure));
        assert_eq!(v.get("quota"), Some(&Verdict::Skip));
        assert_eq!(v.get("x"), Some(&Verdict::Error));
        assert_eq!(v.len(), 4);
        let v =
            parse_verdicts("success: CREATE Existing\nfailure: OVERWRITE_IF Existing [\nx\n]\n");
        assert_eq!(v.get("CREATE Existing"), Some(&Verdict::Success));
        assert_eq!(v.get("OVERWRITE_IF Existing"), Some(&Verdict::Failure));
    }

    #[test]
    fn lists_one_suite() {
        let l = parse_list(
            "smb2.lock.valid-request.valid-request\nsmb2.lock.rw-none.rw-none\n\
             smb2.locking.x.x\nsmb2.read.eof.eof\n",
            "smb2.lock",
        );
        assert_eq!(l, vec!["valid-request".to_owned(), "rw-none".to_owned()]);
    }
}
