//! `smb`: the command-line front end. Everything lives in the `smb_cli` library; this only
//! hands it the arguments and exits with its code.

fn main() {
    std::process::exit(smb_cli::run(std::env::args_os()));
}
