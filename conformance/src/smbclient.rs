//! Driving Samba's `smbclient` against any SMB server (our own or a private `smbd`) on any host
//! and port, and capturing what it printed. Only builds the command line and runs it with a
//! time limit; judging the output is the caller's job.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::HarnessError;
use crate::peers::{ProcessOutput, find_tool, run_with_timeout};

/// What `--client-protection` asks for (smbclient 4.15+).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protection {
    /// No signing or encryption unless the server insists.
    Off,
    /// Signing required.
    Sign,
    /// Encryption required (SMB 3.x only).
    Encrypt,
}

impl Protection {
    fn as_arg(self) -> &'static str {
        match self {
            Protection::Off => "off",
            Protection::Sign => "sign",
            Protection::Encrypt => "encrypt",
        }
    }
}

/// A `smbclient //host/share -p port ...` invocation under construction.
#[derive(Debug, Clone)]
pub struct Smbclient {
    host: String,
    port: u16,
    share: String,
    args: Vec<String>,
    commands: Vec<String>,
    timeout: Duration,
}

impl Smbclient {
    /// `smbclient //host/share -p port`, no credentials yet, 60 s time limit.
    pub fn new(host: &str, port: u16, share: &str) -> Self {
        Self {
            host: host.to_owned(),
            port,
            share: share.to_owned(),
            args: Vec::new(),
            commands: Vec::new(),
            timeout: Duration::from_secs(60),
        }
    }

    /// `-U user%password`.
    pub fn user(self, user: &str, password: &str) -> Self {
        self.arg(format!("--user={user}%{password}"))
    }

    /// `-m PROTOCOL` (e.g. `SMB2_02`, `SMB3_11`).
    pub fn max_protocol(self, protocol: &str) -> Self {
        self.arg(format!("--max-protocol={protocol}"))
    }

    /// `--client-protection=off|sign|encrypt`.
    pub fn protection(self, p: Protection) -> Self {
        self.arg(format!("--client-protection={}", p.as_arg()))
    }

    /// `--option=name=value` (any smb.conf client parameter).
    pub fn option(self, name: &str, value: &str) -> Self {
        self.arg(format!("--option={name}={value}"))
    }

    /// `--configfile=PATH`: the client smb.conf (default: the system one).
    pub fn config_file(self, path: impl Into<PathBuf>) -> Self {
        let p: PathBuf = path.into();
        self.arg(format!("--configfile={}", p.display()))
    }

    /// Any other argument, verbatim.
    pub fn arg(mut self, a: impl Into<String>) -> Self {
        self.args.push(a.into());
        self
    }

    /// Appends one smbclient command; all commands go to one `-c` joined by `;`.
    pub fn command(mut self, c: impl Into<String>) -> Self {
        self.commands.push(c.into());
        self
    }

    /// Kill smbclient when it runs longer than this.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }

    /// The full argument list (without the program name), for logs and failure messages.
    pub fn args(&self) -> Vec<String> {
        let mut v = vec![
            format!("//{}/{}", self.host, self.share),
            format!("--port={}", self.port),
        ];
        v.extend(self.args.iter().cloned());
        if !self.commands.is_empty() {
            v.push(format!("--command={}", self.commands.join("; ")));
        }
        v
    }

    /// Runs it and returns the exit status with stdout and stderr.
    pub fn run(&self) -> Result<ProcessOutput, HarnessError> {
        let program =
            find_tool("smbclient").ok_or_else(|| HarnessError::ToolMissing("smbclient".into()))?;
        run_with_timeout(Command::new(program).args(self.args()), self.timeout)
    }
}
