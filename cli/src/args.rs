//! The command line of `smb`, declared with clap's derive API.
//!
//! Owns: the subcommands, their arguments and the connection options every client subcommand
//! shares (global, so they may come before or after the subcommand), and parsing a dialect
//! name. Must not: act on anything (see `commands`).

use clap::{Args, Parser, Subcommand};
use smb_proto::wire::Dialect;

/// The top-level command line.
#[derive(Debug, Parser)]
#[command(
    name = "smb",
    version,
    about = "Browse and copy files on any SMB2/SMB3 server",
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
    "  5  a local file could not be read or written",
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
    /// Show the metadata of a file or directory.
    Stat {
        /// The file or directory.
        address: String,
        /// Print a JSON object instead of lines.
        #[arg(long)]
        json: bool,
    },
}

/// Connection options shared by every client subcommand.
#[derive(Debug, Args, Clone, Default)]
pub struct ConnOptions {
    /// User name, optionally with the password: USER[%PASS] (DOMAIN\USER for a domain).
    #[arg(short = 'U', long = "user", value_name = "USER[%PASS]", global = true)]
    pub user: Option<String>,
    /// Password (visible to other local users in the process list; prefer SMB_PASSWORD).
    #[arg(long, value_name = "PASS", global = true)]
    pub password: Option<String>,
    /// TCP port (default 445; overrides a port in the address).
    #[arg(long, global = true)]
    pub port: Option<u16>,
    /// Refuse any session that is not encrypted (SMB 3 only).
    #[arg(long = "require-encryption", visible_alias = "encrypt", global = true)]
    pub require_encryption: bool,
    /// Lowest dialect to offer: 2.0.2, 2.1, 3.0, 3.0.2 or 3.1.1.
    #[arg(long, value_parser = parse_dialect, value_name = "DIALECT", global = true)]
    pub min_dialect: Option<Dialect>,
    /// Highest dialect to offer: 2.0.2, 2.1, 3.0, 3.0.2 or 3.1.1.
    #[arg(long, value_parser = parse_dialect, value_name = "DIALECT", global = true)]
    pub max_dialect: Option<Dialect>,
    /// No progress bars or summaries.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// More logging on standard error (-v: debug, -vv: trace; RUST_LOG also works).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
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
        assert_eq!(c.conn.user.as_deref(), Some("tester%pw"));
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
