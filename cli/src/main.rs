//! `smb`: the command-line front end (serve, ls/get/put, bench, sim).
//!
//! The subcommands arrive with their drivers (see the CLI issue). Today the binary only reports
//! its version, so that packaging and CI exercise it from the start.

fn main() {
    let mut args = std::env::args().skip(1);
    match args.next().as_deref() {
        Some("--version") | Some("-V") => println!("smb {}", env!("CARGO_PKG_VERSION")),
        _ => {
            eprintln!(
                "smb {}: no subcommands are available in this build yet; try --version",
                env!("CARGO_PKG_VERSION")
            );
            std::process::exit(2);
        }
    }
}
