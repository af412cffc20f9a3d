//! The command line of `smb`, declared with clap's derive API.
//!
//! Owns: the subcommands, their arguments and the connection options every client subcommand
//! shares (global, so they may come before or after the subcommand), and parsing a dialect
//! name. `smb serve` reuses the global `--user`, `--encrypt`, `--min-dialect` and
//! `--max-dialect` (same meaning on the server side). Must not: act on anything (see
//! `commands`, `serve`, `bench`, `sim`).

use clap::{Args, Parser, Subcommand};
use smb_proto::wire::Dialect;

/// The top-level command line.
#[derive(Debug, Parser)]
#[command(
    name = "smb",
    version,
    about = "Serve directories over SMB (TCP and QUIC), browse and copy files on any SMB2/SMB3 server",
    long_about = None,
    after_help = ADDRESS_HELP,
    after_long_help = LONG_AFTER_HELP,
    propagate_version = true,
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// How to connect.
    #[command(flatten)]
    pub conn: ConnOptions,
}

const ADDRESS_HELP: &str =
    "Addresses: smb://[USER@]HOST[:PORT]/SHARE/PATH, //HOST/SHARE/PATH or \\\\HOST\\SHARE\\PATH";

const LONG_AFTER_HELP: &str = concat!(
    "Addresses: smb://[USER[:PASS]@]HOST[:PORT]/SHARE/PATH, //HOST/SHARE/PATH or \\\\HOST\\SHARE\\PATH\n",
    "(IPv6 in brackets: smb://[::1]/share).\n\n",
    "Credentials: -U USER[%PASS], the address's USER@, or SMB_USER; the password from -U,\n",
    "--password, SMB_PASSWORD, or a prompt when the terminal is interactive.\n\n",
    "Exit codes:\n",
    "  0  success\n",
    "  1  the server refused the operation (the message names the NTSTATUS)\n",
    "  2  bad command line or address\n",
    "  3  cannot connect (name resolution, connection refused, transport or protocol failure)\n",
    "  4  authentication failed\n",
    "  5  a local file could not be read or written\n",
    "  6  smb serve could not start (address in use, privileges, certificate)\n",
    "  7  smb sim: an invariant broke (the seed to reproduce it is printed)",
);

/// The client subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List a directory (or show one file).
    Ls {
        /// The directory or file.
        address: String,
        /// Print a JSON array instead of lines.
        #[arg(long)]
        json: bool,
    },
    /// Download a file (or, with -r, a directory tree).
    Get {
        /// The remote file or directory.
        address: String,
        /// Where to put it: a file name, or an existing directory (default: the current
        /// directory, under the remote name).
        local: Option<String>,
        /// Download directories recursively.
        #[arg(short, long)]
        recursive: bool,
    },
    /// Upload a file (or, with -r, a directory tree).
    Put {
        /// The local file or directory.
        local: String,
        /// The remote name, or an existing remote directory (or one ending in `/`) to put it in.
        address: String,
        /// Upload directories recursively.
        #[arg(short, long)]
        recursive: bool,
    },
    /// Write a remote file to standard output.
    Cat {
        /// The remote file.
        address: String,
    },
    /// Remove a file (or, with -r, a directory tree).
    Rm {
        /// The remote file.
        address: String,
        /// Remove directories and their contents.
        #[arg(short, long)]
        recursive: bool,
    },
    /// Create a directory.
    Mkdir {
        /// The directory to create.
        address: String,
        /// Create missing parents too, and succeed if it exists.
        #[arg(short, long)]
        parents: bool,
    },
    /// Remove an empty directory.
    Rmdir {
        /// The directory to remove.
        address: String,
    },
    /// Rename or move a file or directory within one share.
    Mv {
        /// The file or directory.
        address: String,
        /// The new name: a full address on the same share, or a path from the share root.
        target: String,
        /// Replace an existing file at the target.
        #[arg(short, long)]
        force: bool,
    },
    /// Copy a file within one share on the server (server-side copy: no data crosses the
    /// network).
    Cp {
        /// The file.
        address: String,
        /// The copy: a full address on the same share, or a path from the share root (a
        /// directory: into it, under the same name).
        target: String,
        /// Replace an existing file at the target.
        #[arg(short, long)]
        force: bool,
    },
    /// Show the metadata of a file or directory.
    Stat {
        /// The file or directory.
        address: String,
        /// Print a JSON object instead of lines.
        #[arg(long)]
        json: bool,
    },
    /// List the shares of a server (smb://HOST).
    Shares {
        /// The server: smb://[USER@]HOST[:PORT] (a share or path after it is ignored).
        address: String,
        /// Print a JSON array instead of lines.
        #[arg(long)]
        json: bool,
    },
    /// Share directories over SMB on TCP and QUIC.
    Serve(Box<ServeArgs>),
    /// Measure crypto or transfer throughput.
    Bench {
        /// What to measure.
        #[command(subcommand)]
        what: BenchCommand,
    },
    /// Run a simulator scenario (our client against our server, virtual time, faults).
    Sim(SimArgs),
}

/// `smb serve`.
#[derive(Debug, Args, Clone, Default)]
#[command(after_help = SERVE_HELP)]
pub struct ServeArgs {
    /// A share: NAME=PATH[:ro][:encrypt][:ci] (`:ci`: names match case-insensitively, as on
    /// Windows); repeatable (at least one).
    #[arg(long = "share", value_name = "NAME=PATH[:ro][:encrypt][:ci]")]
    pub shares: Vec<String>,
    /// A file of users, one `NAME:NTHASH` (32 hex digits) a line; `#` starts a comment.
    #[arg(long, value_name = "FILE")]
    pub users: Option<String>,
    /// Where to listen: tcp://ADDR:PORT or quic://ADDR:PORT; repeatable
    /// (default: tcp://127.0.0.1:4445 and quic://127.0.0.1:4443).
    #[arg(long = "listen", value_name = "URL")]
    pub listen: Vec<String>,
    /// The QUIC server certificate chain (PEM, leaf first); with --key.
    #[arg(long, value_name = "FILE", requires = "key")]
    pub cert: Option<String>,
    /// The private key of --cert (PEM).
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<String>,
    /// Generate a self-signed QUIC certificate for NAME (the default, for localhost).
    #[arg(long, value_name = "NAME", conflicts_with = "cert")]
    pub self_signed: Option<String>,
    /// Write the certificate a client needs for --ca here (PEM; self-signed certificates only).
    #[arg(long, value_name = "FILE")]
    pub cert_out: Option<String>,
    /// QUIC clients must present a certificate (chained to --client-ca).
    #[arg(long)]
    pub require_client_cert: bool,
    /// A CA (PEM) that client certificates must chain to; repeatable.
    #[arg(long = "client-ca", value_name = "FILE")]
    pub client_ca: Vec<String>,
    /// Allow a client certificate: SHA256 or issuer:SHA256 (its issuer's thumbprint); repeatable.
    #[arg(long = "grant-client", value_name = "[issuer:]SHA256")]
    pub grant_client: Vec<String>,
    /// Refuse a client certificate: SHA256 or issuer:SHA256; repeatable (a block wins).
    #[arg(long = "block-client", value_name = "[issuer:]SHA256")]
    pub block_client: Vec<String>,
    /// Skip SMB encryption on QUIC connections whose client asks (QUIC's TLS 1.3 protects them).
    #[arg(long)]
    pub trust_quic: bool,
    /// Append the QUIC audit events (JSON lines) to FILE.
    #[arg(long, value_name = "FILE")]
    pub audit_log: Option<String>,
    /// A TOML file with the same settings (command-line flags add to it or override it).
    #[arg(long, value_name = "FILE")]
    pub config: Option<String>,
}

const SERVE_HELP: &str = "\
Users: --user NAME:PASSWORD (repeatable; `NAME%PASSWORD` works too) or --users FILE.
With no user, `smb` with a random password is created and printed once.
--encrypt, --min-dialect and --max-dialect apply to the server.
Ports below 1024 (445, 443) need privileges.";

/// `smb bench ...`.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Signing and encryption throughput: every algorithm, both backends, 4 KiB to 1 MiB,
    /// the raw primitive beside the SMB operation.
    Crypto {
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
        /// Seconds spent on each measurement (default 0.05).
        #[arg(long, default_value_t = 0.05, value_name = "SECONDS")]
        seconds: f64,
        /// Only these payload sizes (repeatable; default 4K, 64K and 1M).
        #[arg(long = "size", value_name = "SIZE")]
        sizes: Vec<String>,
    },
    /// Upload and download throughput against a server: writes a file, reads it back, removes it.
    Transfer {
        /// A directory on a share (smb://HOST/SHARE[/DIR]).
        address: String,
        /// Bytes to transfer (suffixes K, M, G; default 64M).
        #[arg(long, default_value = "64M", value_name = "SIZE")]
        size: String,
        /// Print one JSON object per direction.
        #[arg(long)]
        json: bool,
    },
}

/// `smb sim`.
#[derive(Debug, Args, Clone, Default)]
pub struct SimArgs {
    /// List the scenarios and exit.
    #[arg(long)]
    pub list: bool,
    /// The scenario to run.
    #[arg(long, value_name = "NAME", required_unless_present = "list")]
    pub scenario: Option<String>,
    /// The seed (the same seed gives the same trace hash).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Faults on top of the scenario's own: a comma list of rough, reset[=N], partition[=N],
    /// stall[=N], migrate[=N], crash[=N], adversary[=P], slow, all, none.
    #[arg(long, value_name = "LIST")]
    pub faults: Option<String>,
    /// A rough link (jitter, bandwidth limit, re-chunking).
    #[arg(long)]
    pub rough: bool,
    /// Connection resets.
    #[arg(long, value_name = "N")]
    pub resets: Option<u32>,
    /// Network partitions.
    #[arg(long, value_name = "N")]
    pub partitions: Option<u32>,
    /// Server crashes and restarts.
    #[arg(long, value_name = "N")]
    pub crashes: Option<u32>,
    /// Adversary: probability of tampering with each SMB message.
    #[arg(long, value_name = "P")]
    pub adversary: Option<f64>,
}

/// Which transport the client uses (Windows' `NET USE /TRANSPORT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Transport {
    /// Direct TCP (port 445 by default).
    #[default]
    Tcp,
    /// SMB over QUIC (UDP 443 by default).
    Quic,
    /// TCP first, then QUIC when TCP cannot connect.
    Auto,
}

/// Connection options shared by every client subcommand.
#[derive(Debug, Args, Clone, Default)]
pub struct ConnOptions {
    /// User name, optionally with the password: USER[%PASS] (DOMAIN\USER for a domain).
    /// For `serve`: NAME:PASSWORD, repeatable.
    #[arg(short = 'U', long = "user", value_name = "USER[%PASS]", global = true)]
    pub user: Vec<String>,
    /// Password (visible to other local users in the process list; prefer SMB_PASSWORD).
    #[arg(long, value_name = "PASS", global = true)]
    pub password: Option<String>,
    /// Port (default 445 for TCP, 443 for QUIC; overrides a port in the address). With
    /// --transport auto it is the TCP port; see --quic-port.
    #[arg(long, global = true)]
    pub port: Option<u16>,
    /// The transport: tcp (default), quic, or auto (TCP, then QUIC if TCP cannot connect).
    #[arg(long, value_enum, global = true, value_name = "tcp|quic|auto")]
    pub transport: Option<Transport>,
    /// QUIC port with --transport auto (default 443).
    #[arg(long, global = true, value_name = "PORT")]
    pub quic_port: Option<u16>,
    /// Trust the QUIC server certificates issued by this CA (PEM), e.g. the one `smb serve`
    /// generated (--cert-out), instead of the system roots.
    #[arg(long, global = true, value_name = "FILE")]
    pub ca: Option<String>,
    /// DANGER: accept ANY QUIC server certificate (no authentication of the server; anyone on
    /// the path can read and change the traffic). For tests only.
    #[arg(long, global = true)]
    pub insecure: bool,
    /// A client certificate chain (PEM) to present over QUIC; with --client-key.
    #[arg(long, global = true, value_name = "FILE")]
    pub client_cert: Option<String>,
    /// The private key of --client-cert (PEM).
    #[arg(long, global = true, value_name = "FILE")]
    pub client_key: Option<String>,
    /// Refuse any session that is not encrypted (SMB 3 only).
    #[arg(long = "require-encryption", visible_alias = "encrypt", global = true)]
    pub require_encryption: bool,
    /// Lowest dialect to offer: 2.0.2, 2.1, 3.0, 3.0.2 or 3.1.1.
    #[arg(long, value_parser = parse_dialect, value_name = "DIALECT", global = true)]
    pub min_dialect: Option<Dialect>,
    /// Highest dialect to offer: 2.0.2, 2.1, 3.0, 3.0.2 or 3.1.1.
    #[arg(long, value_parser = parse_dialect, value_name = "DIALECT", global = true)]
    pub max_dialect: Option<Dialect>,
    /// Connections to carry file transfers (multichannel, SMB 3): 1 (default) is one
    /// connection; more binds the session to further connections, to the interfaces the
    /// server lists, and spreads READs and WRITEs over all of them (get, put, cat, bench
    /// transfer; other subcommands use one). A connection that breaks mid-transfer is
    /// dropped and its requests go again on the others. TCP only.
    #[arg(long, global = true, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u8).range(1..=16))]
    pub channels: u8,
    /// No progress bars or summaries.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// More logging on standard error (-v: debug, -vv: trace; RUST_LOG also works).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
}

impl ConnOptions {
    /// The client's `-U` value (the last one given).
    pub fn user(&self) -> Option<&str> {
        self.user.last().map(String::as_str)
    }
}

/// Parses `2.0.2`, `2.02`, `202`, `2.1`, `3.0`, `3.0.2`, `3.02`, `3.1.1`, `3.11`, `311`,
/// optionally prefixed by `smb` (any case).
pub fn parse_dialect(s: &str) -> Result<Dialect, String> {
    let lower = s.to_ascii_lowercase();
    let t = lower
        .trim_start_matches("smb")
        .trim_start_matches(['_', '-', ' ']);
    let digits: String = t.chars().filter(|c| c.is_ascii_digit()).collect();
    if digits.is_empty()
        || !t
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == '_')
    {
        return Err(format!(
            "unknown dialect {s:?}: use 2.0.2, 2.1, 3.0, 3.0.2 or 3.1.1"
        ));
    }
    match digits.as_str() {
        "202" => Ok(Dialect::SMB2_0_2),
        "21" | "210" => Ok(Dialect::SMB2_1),
        "3" | "30" | "300" => Ok(Dialect::SMB3_0),
        "302" => Ok(Dialect::SMB3_0_2),
        "311" => Ok(Dialect::SMB3_1_1),
        _ => Err(format!(
            "unknown dialect {s:?}: use 2.0.2, 2.1, 3.0, 3.0.2 or 3.1.1"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
        // `smb --help` prints the same exit-code table the error module documents.
        assert!(LONG_AFTER_HELP.ends_with(crate::error::EXIT_CODES_HELP));
    }

    #[test]
    fn dialects_parse() {
        for (s, d) in [
            ("2.0.2", Dialect::SMB2_0_2),
            ("2.02", Dialect::SMB2_0_2),
            ("SMB2_02", Dialect::SMB2_0_2),
            ("2.1", Dialect::SMB2_1),
            ("3", Dialect::SMB3_0),
            ("3.0", Dialect::SMB3_0),
            ("3.0.2", Dialect::SMB3_0_2),
            ("smb3.02", Dialect::SMB3_0_2),
            ("3.1.1", Dialect::SMB3_1_1),
            ("SMB3_11", Dialect::SMB3_1_1),
            ("311", Dialect::SMB3_1_1),
        ] {
            assert_eq!(parse_dialect(s), Ok(d), "{s}");
        }
        for bad in ["", "1.0", "4", "3.1.2", "smb", "three", "3,0"] {
            assert!(parse_dialect(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn options_go_after_the_subcommand_or_before() {
        let c = Cli::try_parse_from([
            "smb",
            "get",
            "//h/s/f",
            "out",
            "-U",
            "tester%pw",
            "--port",
            "4445",
            "--max-dialect",
            "3.0",
        ])
        .expect("parse");
        assert_eq!(c.conn.user(), Some("tester%pw"));
        assert_eq!(c.conn.port, Some(4445));
        assert_eq!(c.conn.max_dialect, Some(Dialect::SMB3_0));
        assert!(
            matches!(c.command, Command::Get { ref local, .. } if local.as_deref() == Some("out"))
        );
        let c = Cli::try_parse_from(["smb", "--encrypt", "ls", "//h/s", "--json"]).expect("parse");
        assert!(c.conn.require_encryption);
        assert!(matches!(c.command, Command::Ls { json: true, .. }));
        assert!(Cli::try_parse_from(["smb", "ls"]).is_err());
        assert!(Cli::try_parse_from(["smb", "frobnicate"]).is_err());
        assert!(Cli::try_parse_from(["smb", "ls", "//h/s", "--max-dialect", "9"]).is_err());
    }
}
