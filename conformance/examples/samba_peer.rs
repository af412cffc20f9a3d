//! Starts a private smbd with the conformance harness and keeps it running until stdin reaches
//! EOF, for scripts (`scripts/capture-golden.sh`) and manual poking. Prints `KEY=value` lines and
//! then `READY`. Flags: `--signing-mandatory`, `--global 'name = value'` (repeatable).
//!
//! ```text
//! cargo run -p conformance --example samba_peer -- --signing-mandatory < fifo
//! ```

use std::io::{Read, Write};

use conformance::samba::{SambaOptions, SambaServer};

fn main() {
    let mut opts = SambaOptions::default();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--signing-mandatory" => opts.signing_mandatory = true,
            "--global" => match args.next() {
                Some(line) => opts.extra_global.push(line),
                None => fail("--global needs a value"),
            },
            other => fail(&format!("unknown argument {other}")),
        }
    }
    let server = match SambaServer::start(opts) {
        Ok(s) => s,
        Err(e) => fail(&format!("smbd did not start: {e}")),
    };
    let mut out = std::io::stdout().lock();
    let info = format!(
        "PORT={}\nUSER={}\nPASS={}\nDIR={}\nSHARE_DIR={}\nCLIENT_CONF={}\nSMBD_PID={}\nREADY\n",
        server.port(),
        server.user(),
        server.password(),
        server.dir().display(),
        server.share_dir(SambaServer::SHARE).display(),
        server.client_conf().display(),
        server.pid(),
    );
    if out
        .write_all(info.as_bytes())
        .and_then(|()| out.flush())
        .is_err()
    {
        fail("cannot write to stdout");
    }
    drop(out);
    // Block until whoever started us closes our stdin; then drop the server (kills smbd).
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    drop(server);
}

fn fail(msg: &str) -> ! {
    eprintln!("samba_peer: {msg}");
    std::process::exit(1)
}
