//! `smb`: the command-line front end, as a library so that it can be tested.
//!
//! Owns: the client subcommands (`ls`, `get`, `put`, `cat`, `rm`, `mkdir`, `rmdir`, `mv`,
//! `stat`, `shares`) against any SMB2/SMB3 server: [`args`] (the command line), [`address`]
//! (the three address forms), [`transport`] (TCP, QUIC or auto), [`commands`] (carrying them
//! out over `driver_smol::files`), [`output`] (text and JSON layouts) and [`error`] (messages
//! and exit codes); [`serve`] (`smb serve`), [`bench`] (`smb bench crypto|transfer`) and
//! [`sim`] (`smb sim`). `main.rs` only calls [`run`].
//! Must not: hold protocol logic (that is `smb-proto`'s) or panic on any input.

pub mod address;
pub mod args;
pub mod bench;
pub mod commands;
pub mod error;
pub mod output;
pub mod serve;
pub mod sim;
pub mod transport;

use std::ffi::OsString;

use clap::Parser;

use crate::args::Cli;
use crate::commands::Env;
use crate::error::ExitCode;

/// Parses `args` (the program name first), runs the command, prints any error as one line
/// on standard error, and returns the process exit code (see [`error::ExitCode`]).
pub fn run<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version print to stdout and exit 0; usage errors exit 2.
            let _ = e.print();
            return e.exit_code();
        }
    };
    init_logging(cli.conn.verbose);
    let env = Env::from_process();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match smol::block_on(commands::execute(&cli, &env, &mut out)) {
        Ok(()) => ExitCode::Ok as i32,
        Err(e) => {
            drop(out);
            eprintln!("smb: {e}");
            e.exit_code() as i32
        }
    }
}

/// Logs to standard error: warnings by default, `-v` debug, `-vv` trace; `RUST_LOG` wins.
fn init_logging(verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let level = match verbose {
        0 => "warn",
        1 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
