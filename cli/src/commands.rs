//! Carrying out the client subcommands: credentials, connecting, and each of `ls`, `get`,
//! `put`, `cat`, `rm`, `mkdir`, `rmdir`, `mv` and `stat` over `driver_smol::files`.
//!
//! Owns: where credentials come from (flags, address, environment, prompt), name resolution
//! to every address of a host, local file handling for get/put (names from the server are
//! checked before they touch the local disk), progress bars, and what goes to stdout/stderr.
//! Must not: speak SMB itself (the files API does) or parse the command line (see `args`).

use std::io::{IsTerminal, Read, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Instant;

use driver_smol::files::{self, Credentials, DirEntry, Share};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use smb_proto::client::ClientConfig;
use smb_proto::wire::status::NtStatus;

use crate::address::{Address, looks_like_address};
use crate::args::{Cli, Command, ConnOptions};
use crate::error::CliError;
use crate::output;

/// What the process environment contributes, gathered once so tests can supply their own.
#[derive(Debug, Clone, Default)]
pub struct Env {
    /// `SMB_USER`.
    pub smb_user: Option<String>,
    /// `SMB_PASSWORD`.
    pub smb_password: Option<String>,
    /// `USER` (the login name), the last fallback for the user name.
    pub login: Option<String>,
    /// Whether a password prompt can be shown (standard input is a terminal).
    pub interactive: bool,
}

impl Env {
    /// Reads the real environment.
    pub fn from_process() -> Env {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        Env {
            smb_user: var("SMB_USER"),
            smb_password: var("SMB_PASSWORD"),
            login: var("USER"),
            interactive: std::io::stdin().is_terminal(),
        }
    }
}

/// Works out the user, domain and password. User: `-U`, the address's `USER@`, `SMB_USER`,
/// then `USER`. Password: `-U USER%PASS`, `--password`, the address's `USER:PASS@`,
/// `SMB_PASSWORD`, then `prompt` when interactive. `DOMAIN\USER` (or `DOMAIN/USER`,
/// `DOMAIN;USER`) sets the domain.
pub fn resolve_credentials(
    opts: &ConnOptions,
    addr: &Address,
    env: &Env,
    prompt: impl FnOnce(&str) -> std::io::Result<String>,
) -> Result<Credentials, CliError> {
    let (flag_user, flag_pass) = match opts.user() {
        Some(u) => match u.split_once('%') {
            Some((user, pass)) => (Some(user.to_string()), Some(pass.to_string())),
            None => (Some(u.to_string()), None),
        },
        None => (None, None),
    };
    let user = flag_user
        .filter(|u| !u.is_empty())
        .or_else(|| addr.user.clone())
        .or_else(|| env.smb_user.clone())
        .or_else(|| env.login.clone())
        .ok_or_else(|| {
            CliError::Usage("no user name: use -U USER, smb://USER@HOST/... or SMB_USER".into())
        })?;
    // `DOMAIN;USER` is the smb URL spelling (the SMB URI draft), `DOMAIN\USER` the Windows one.
    let (domain, user) = match user.split_once(['\\', '/', ';']) {
        Some((d, u)) => (d.to_string(), u.to_string()),
        None => (String::new(), user),
    };
    let password = match flag_pass
        .or_else(|| opts.password.clone())
        .or_else(|| addr.password.clone())
        .or_else(|| env.smb_password.clone())
    {
        Some(p) => p,
        None if env.interactive => {
            let who = if domain.is_empty() {
                user.clone()
            } else {
                format!("{domain}\\{user}")
            };
            prompt(&format!("Password for {who} on {}: ", addr.host))
                .map_err(|e| CliError::local("read password from", "the terminal", e))?
        }
        None => {
            return Err(CliError::Usage(
                "no password: use -U USER%PASS, --password or SMB_PASSWORD (no terminal to prompt on)"
                    .into(),
            ));
        }
    };
    Ok(Credentials {
        user,
        domain,
        password,
    })
}

/// The client settings the options ask for.
pub fn client_config(opts: &ConnOptions, addr: &Address) -> Result<ClientConfig, CliError> {
    let mut config = ClientConfig {
        server_name: addr.host.clone(),
        require_encryption: opts.require_encryption,
        ..ClientConfig::default()
    };
    if let Some(d) = opts.min_dialect {
        config.min_dialect = d;
    }
    if let Some(d) = opts.max_dialect {
        config.max_dialect = d;
    }
    if config.min_dialect > config.max_dialect {
        return Err(CliError::Usage(format!(
            "--min-dialect {} is above --max-dialect {}",
            config.min_dialect, config.max_dialect
        )));
    }
    if opts.require_encryption && !config.max_dialect.is_smb3() {
        return Err(CliError::Usage(
            "--require-encryption needs SMB 3: raise --max-dialect to 3.0 or above".into(),
        ));
    }
    Ok(config)
}

/// Every address of `host` (a name may have several, e.g. `localhost` gives ::1 and
/// 127.0.0.1), to be tried in turn.
pub fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, CliError> {
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| CliError::Resolve {
            host: host.to_string(),
            reason: e.to_string(),
        })?
        .collect();
    if addrs.is_empty() {
        return Err(CliError::Resolve {
            host: host.to_string(),
            reason: "no addresses".into(),
        });
    }
    Ok(addrs)
}

/// Adds a suggestion to the errors whose fix is known.
fn with_hint(e: files::Error, opts: &ConnOptions) -> CliError {
    let hint = match (&e, e.status()) {
        (files::Error::Session { op, .. }, Some(NtStatus::ACCESS_DENIED))
            if *op == "connect to share" && opts.max_dialect.is_some_and(|d| !d.is_smb3()) =>
        {
            Some(
                "the share may require encryption, which needs SMB 3: raise --max-dialect to 3.0 or above",
            )
        }
        (files::Error::Session { op, .. }, Some(NtStatus::ACCESS_DENIED))
            if *op == "connect to share" && !opts.require_encryption =>
        {
            Some("the share may require encryption (SMB 3 only); retry with --require-encryption")
        }
        (files::Error::Session { .. }, Some(NtStatus::BAD_NETWORK_NAME)) => {
            Some("check the share name (the first path component)")
        }
        _ => None,
    };
    CliError::Smb { source: e, hint }
}

/// Whether a subcommand moves file data over the network, and so takes `--channels`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Traffic {
    /// get, put, cat, the transfer bench: READs and WRITEs spread over the channels.
    Data,
    /// Listings, metadata, renames and server-side copies: one connection whatever
    /// `--channels` says (binding more would only cost round trips).
    Metadata,
}

pub(crate) async fn connect(
    opts: &ConnOptions,
    addr: &Address,
    env: &Env,
    traffic: Traffic,
) -> Result<Share, CliError> {
    let config = client_config(opts, addr)?;
    let creds = resolve_credentials(opts, addr, env, |p| rpassword::prompt_password(p))?;
    let client = crate::transport::connect_client(opts, addr, config.clone()).await?;
    let share = Share::on_client(client, &addr.share, &creds)
        .await
        .map_err(|e| with_hint(e, opts))?;
    if opts.channels <= 1 || traffic == Traffic::Metadata {
        return Ok(share);
    }
    if share.client().peer().is_none() {
        return Err(CliError::Usage(
            "--channels needs a TCP connection (multichannel is not offered over QUIC)".into(),
        ));
    }
    let extra = usize::from(opts.channels) - 1;
    share
        .with_channels(extra, config, &creds)
        .await
        .map_err(|e| with_hint(e, opts))
}

/// `smb shares`: logs on and lists the shares over IPC$/srvsvc.
async fn shares(
    opts: &ConnOptions,
    addr: &Address,
    env: &Env,
    json: bool,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let config = client_config(opts, addr)?;
    let creds = resolve_credentials(opts, addr, env, |p| rpassword::prompt_password(p))?;
    let client = crate::transport::connect_client(opts, addr, config).await?;
    let session = client
        .login(&creds.user, &creds.domain, &creds.password)
        .await
        .map_err(|e| {
            with_hint(
                files::Error::Session {
                    op: "log on as",
                    target: creds.user.clone(),
                    source: e,
                },
                opts,
            )
        })?;
    let listed = client.shares(session).await;
    let _ = client.logoff(session).await;
    let mut list = match listed {
        Ok(l) => l,
        Err(driver_smol::shares::SharesError::Client(e)) => {
            return Err(with_hint(
                files::Error::Session {
                    op: "list the shares of",
                    target: addr.host.clone(),
                    source: e,
                },
                opts,
            ));
        }
        Err(e) => {
            return Err(CliError::Usage(format!(
                "list the shares of {}: {e}",
                addr.host
            )));
        }
    };
    list.sort_by_key(|s| s.name.to_lowercase());
    let text = if json {
        format!("{}\n", output::shares_json(&list))
    } else {
        list.iter()
            .map(|s| format!("{}\n", output::share_line(s)))
            .collect()
    };
    out.write_all(text.as_bytes())
        .map_err(|e| CliError::local("write", "standard output", e))
}

/// Runs one parsed command line. Output goes to `out` (stdout in the binary).
pub async fn execute(cli: &Cli, env: &Env, out: &mut dyn Write) -> Result<(), CliError> {
    let opts = &cli.conn;
    let ui = Ui::new(opts.quiet);
    match &cli.command {
        Command::Ls { address, json } => {
            let addr = Address::parse(address)?;
            let share = connect(opts, &addr, env, Traffic::Metadata).await?;
            let r = ls(&share, &addr, *json, out).await;
            finish(share, r).await
        }
        Command::Stat { address, json } => {
            let addr = Address::parse(address)?;
            let share = connect(opts, &addr, env, Traffic::Metadata).await?;
            let r = stat(&share, &addr, *json, out).await;
            finish(share, r).await
        }
        Command::Cat { address } => {
            let addr = Address::parse(address)?;
            let share = connect(opts, &addr, env, Traffic::Data).await?;
            let r = cat(&share, &addr, out).await;
            finish(share, r).await
        }
        Command::Get {
            address,
            local,
            recursive,
        } => {
            let addr = Address::parse(address)?;
            let share = connect(opts, &addr, env, Traffic::Data).await?;
            let r = get(&share, &addr, local.as_deref(), *recursive, &ui).await;
            finish(share, r).await
        }
        Command::Put {
            local,
            address,
            recursive,
        } => {
            let addr = Address::parse(address)?;
            let meta = std::fs::metadata(local).map_err(|e| CliError::local("read", local, e))?;
            if meta.is_dir() && !recursive {
                return Err(CliError::Usage(format!(
                    "{local} is a directory: use put -r to upload it"
                )));
            }
            let share = connect(opts, &addr, env, Traffic::Data).await?;
            let r = put(&share, &addr, Path::new(local), meta.is_dir(), &ui).await;
            finish(share, r).await
        }
        Command::Rm { address, recursive } => {
            let addr = Address::parse(address)?;
            if addr.path.is_empty() {
                return Err(CliError::Usage(
                    "refusing to remove the root of a share".into(),
                ));
            }
            let share = connect(opts, &addr, env, Traffic::Metadata).await?;
            let r = rm(&share, &addr.path, *recursive).await;
            finish(share, r).await
        }
        Command::Mkdir { address, parents } => {
            let addr = Address::parse(address)?;
            if addr.path.is_empty() {
                return Err(CliError::Usage(
                    "mkdir needs a path below the share root".into(),
                ));
            }
            let share = connect(opts, &addr, env, Traffic::Metadata).await?;
            let r = mkdir(&share, &addr.path, *parents).await;
            finish(share, r).await
        }
        Command::Rmdir { address } => {
            let addr = Address::parse(address)?;
            if addr.path.is_empty() {
                return Err(CliError::Usage(
                    "refusing to remove the root of a share".into(),
                ));
            }
            let share = connect(opts, &addr, env, Traffic::Metadata).await?;
            let r = share.rmdir(&addr.path).await.map_err(CliError::from);
            finish(share, r).await
        }
        Command::Shares { address, json } => {
            let addr = Address::parse_server(address)?;
            shares(opts, &addr, env, *json, out).await
        }
        Command::Serve(args) => crate::serve::run(args, opts, out).await,
        Command::Bench { what } => crate::bench::run(what, opts, env, out).await,
        Command::Sim(args) => crate::sim::run(args, out),
        Command::Mv {
            address,
            target,
            force,
        } => within_share(opts, env, Within::Move, address, target, *force).await,
        Command::Cp {
            address,
            target,
            force,
        } => within_share(opts, env, Within::Copy, address, target, *force).await,
    }
}

/// What `mv` and `cp` do with a file.
#[derive(Debug, Clone, Copy)]
enum Within {
    Move,
    Copy,
}

/// `mv` or `cp`: `address` to `target` on the same share, replacing only with `force`.
async fn within_share(
    opts: &ConnOptions,
    env: &Env,
    what: Within,
    address: &str,
    target: &str,
    force: bool,
) -> Result<(), CliError> {
    let (command, verb) = match what {
        Within::Move => ("mv", "move"),
        Within::Copy => ("cp", "copy"),
    };
    let addr = Address::parse(address)?;
    let (to, into_dir) = share_target(command, &addr, target)?;
    if addr.path.is_empty() {
        return Err(CliError::Usage(format!(
            "cannot {verb} the root of a share"
        )));
    }
    let share = connect(opts, &addr, env, Traffic::Metadata).await?;
    let r = match what {
        Within::Move => mv(&share, &addr, &to, into_dir, force).await,
        Within::Copy => cp(&share, &addr, &to, into_dir, force).await,
    };
    finish(share, r).await
}

/// Disconnects (best effort: the command's own result matters more) and returns `r`.
async fn finish(share: Share, r: Result<(), CliError>) -> Result<(), CliError> {
    if let Err(e) = share.disconnect().await {
        tracing::debug!(error = %e, "disconnect failed");
    }
    r
}

async fn ls(
    share: &Share,
    addr: &Address,
    json: bool,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let mut entries = match share.list(&addr.path).await {
        Ok(entries) => entries,
        // A file: show it alone, like ls does.
        Err(e) if e.status() == Some(NtStatus::NOT_A_DIRECTORY) => {
            let m = share.stat(&addr.path).await?;
            vec![DirEntry {
                name: addr.file_name().to_string(),
                size: m.size,
                allocation_size: m.allocation_size,
                attributes: m.attributes,
                created: m.created,
                accessed: m.accessed,
                modified: m.modified,
                changed: m.changed,
                file_id: m.file_id,
            }]
        }
        Err(e) => return Err(e.into()),
    };
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    let text = if json {
        format!("{}\n", output::ls_json(&entries))
    } else {
        entries
            .iter()
            .map(|e| format!("{}\n", output::ls_line(e)))
            .collect()
    };
    out.write_all(text.as_bytes())
        .map_err(|e| CliError::local("write", "standard output", e))
}

async fn stat(
    share: &Share,
    addr: &Address,
    json: bool,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let m = share.stat(&addr.path).await?;
    let shown = addr.to_string();
    let text = if json {
        format!("{}\n", output::stat_json(&shown, &m))
    } else {
        output::stat_text(&shown, &m)
    };
    out.write_all(text.as_bytes())
        .map_err(|e| CliError::local("write", "standard output", e))
}

async fn cat(share: &Share, addr: &Address, out: &mut dyn Write) -> Result<(), CliError> {
    let f = share.open_read(&addr.path).await?;
    let r = f.copy_to(|chunk| out.write_all(chunk)).await;
    let flushed = out.flush();
    f.close().await?;
    match r {
        Ok(_) => {}
        // `smb cat ... | head`: the reader went away, which is not our failure.
        Err(files::Error::Local { source, .. })
            if source.kind() == std::io::ErrorKind::BrokenPipe =>
        {
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    }
    match flushed {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(CliError::local("write", "standard output", e))
        }
        _ => Ok(()),
    }
}

/// Joins a share path and a name with `/`.
fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

/// Whether a name from a directory listing is safe to use as one local path component: no
/// separators, not `.` or `..`, nothing empty, no NUL. A hostile server must not make `get -r`
/// write outside the target directory.
pub fn safe_local_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && !name.contains(['/', '\\', '\0'])
        && !Path::new(name).is_absolute()
}

async fn get(
    share: &Share,
    addr: &Address,
    local: Option<&str>,
    recursive: bool,
    ui: &Ui,
) -> Result<(), CliError> {
    let name = if addr.path.is_empty() {
        addr.share.clone()
    } else {
        addr.file_name().to_string()
    };
    if !safe_local_name(&name) {
        return Err(CliError::Usage(format!(
            "cannot name a local file {name:?}"
        )));
    }
    let target = match local {
        None => PathBuf::from(&name),
        Some(l) if Path::new(l).is_dir() => Path::new(l).join(&name),
        Some(l) => PathBuf::from(l),
    };
    let f = share
        .open(&addr.path, files::OpenOptions::new().read(true))
        .await?;
    if !f.is_dir() {
        let r = download(&f, &addr.to_string(), &target, ui).await;
        f.close().await?;
        return r.map(|_| ());
    }
    f.close().await?;
    if !recursive {
        return Err(CliError::Usage(format!(
            "{addr} is a directory: use get -r to download it"
        )));
    }
    let started = Instant::now();
    let (mut files_done, mut bytes) = (0u64, 0u64);
    let mut stack = vec![(addr.path.clone(), target.clone())];
    while let Some((remote, local_dir)) = stack.pop() {
        std::fs::create_dir_all(&local_dir)
            .map_err(|e| CliError::local("create directory", local_dir.display(), e))?;
        for e in share.list(&remote).await? {
            if !safe_local_name(&e.name) {
                ui.warn(&format!("skipping unsafe name {:?} in {remote}", e.name));
                continue;
            }
            let rpath = join(&remote, &e.name);
            let lpath = local_dir.join(&e.name);
            if e.is_dir() {
                stack.push((rpath, lpath));
            } else {
                let f = share.open_read(&rpath).await?;
                let shown = addr.with_path(&rpath).to_string();
                let r = download(&f, &shown, &lpath, ui).await;
                f.close().await?;
                bytes += r?;
                files_done += 1;
            }
        }
    }
    ui.summary(&format!(
        "got {files_done} files, {} into {}",
        rate(bytes, started),
        target.display()
    ));
    Ok(())
}

/// Downloads one open file into `target`; a partial file is removed on failure.
async fn download(f: &files::File, shown: &str, target: &Path, ui: &Ui) -> Result<u64, CliError> {
    let started = Instant::now();
    let file = std::fs::File::create(target)
        .map_err(|e| CliError::local("create", target.display(), e))?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
    let bar = ui.bar(f.len_at_open(), shown);
    let r = f
        .copy_to(|chunk| {
            bar.inc(chunk.len() as u64);
            w.write_all(chunk)
        })
        .await;
    bar.finish_and_clear();
    let r = r.map_err(CliError::from).and_then(|n| {
        w.flush()
            .map_err(|e| CliError::local("write", target.display(), e))?;
        Ok(n)
    });
    match r {
        Ok(n) => {
            ui.summary(&format!(
                "got {shown} -> {}: {}",
                target.display(),
                rate(n, started)
            ));
            Ok(n)
        }
        Err(e) => {
            drop(w);
            let _ = std::fs::remove_file(target);
            Err(e)
        }
    }
}

async fn put(
    share: &Share,
    addr: &Address,
    local: &Path,
    local_is_dir: bool,
    ui: &Ui,
) -> Result<(), CliError> {
    let local_name = local
        .file_name()
        .and_then(|n| n.to_str())
        .map(str::to_string)
        .ok_or_else(|| {
            CliError::Usage(format!(
                "{} has no file name that can be sent (it must be UTF-8)",
                local.display()
            ))
        })?;
    // Into the target when it names a directory (the share root, a trailing `/`, or an
    // existing remote directory); otherwise the target is the new name.
    let into = addr.path.is_empty()
        || addr.trailing_separator
        || matches!(share.stat(&addr.path).await, Ok(m) if m.is_dir);
    let remote = if into {
        join(&addr.path, &local_name)
    } else {
        addr.path.clone()
    };
    if !local_is_dir {
        upload(
            share,
            local,
            &remote,
            &addr.with_path(&remote).to_string(),
            ui,
        )
        .await?;
        return Ok(());
    }
    let started = Instant::now();
    let (mut files_done, mut bytes) = (0u64, 0u64);
    let mut stack = vec![(local.to_path_buf(), remote.clone())];
    while let Some((ldir, rdir)) = stack.pop() {
        match share.mkdir(&rdir).await {
            Ok(()) => {}
            Err(e) if e.status() == Some(NtStatus::OBJECT_NAME_COLLISION) => {}
            Err(e) => return Err(e.into()),
        }
        let read = std::fs::read_dir(&ldir)
            .map_err(|e| CliError::local("read directory", ldir.display(), e))?;
        for entry in read {
            let entry = entry.map_err(|e| CliError::local("read directory", ldir.display(), e))?;
            let path = entry.path();
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                ui.warn(&format!("skipping {}: not a UTF-8 name", path.display()));
                continue;
            };
            let meta =
                std::fs::metadata(&path).map_err(|e| CliError::local("read", path.display(), e))?;
            let rpath = join(&rdir, &name);
            if meta.is_dir() {
                stack.push((path, rpath));
            } else if meta.is_file() {
                let shown = addr.with_path(&rpath).to_string();
                bytes += upload(share, &path, &rpath, &shown, ui).await?;
                files_done += 1;
            } else {
                ui.warn(&format!("skipping {}: not a regular file", path.display()));
            }
        }
    }
    ui.summary(&format!(
        "put {files_done} files, {} into {}",
        rate(bytes, started),
        addr.with_path(&remote)
    ));
    Ok(())
}

/// Uploads one local file to `remote`, replacing it.
async fn upload(
    share: &Share,
    local: &Path,
    remote: &str,
    shown: &str,
    ui: &Ui,
) -> Result<u64, CliError> {
    let started = Instant::now();
    let file =
        std::fs::File::open(local).map_err(|e| CliError::local("open", local.display(), e))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let f = share.create(remote).await?;
    let bar = ui.bar(size, shown);
    let reader = Counting {
        inner: file,
        bar: &bar,
    };
    let r = f.copy_from(0, reader).await;
    bar.finish_and_clear();
    let closed = f.close().await;
    let n = match r {
        Ok(n) => n,
        Err(files::Error::Local { source, .. }) => {
            return Err(CliError::local("read", local.display(), source));
        }
        Err(e) => return Err(e.into()),
    };
    closed?;
    ui.summary(&format!(
        "put {} -> {shown}: {}",
        local.display(),
        rate(n, started)
    ));
    Ok(n)
}

/// A reader that advances a progress bar.
struct Counting<'a, R> {
    inner: R,
    bar: &'a ProgressBar,
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bar.inc(n as u64);
        Ok(n)
    }
}

async fn rm(share: &Share, path: &str, recursive: bool) -> Result<(), CliError> {
    if !recursive {
        return share.remove(path).await.map_err(CliError::from);
    }
    let m = share.stat(path).await?;
    if !m.is_dir {
        return share.remove(path).await.map_err(CliError::from);
    }
    // Post-order: a directory is removed after everything in it.
    let mut stack = vec![(path.to_string(), false)];
    while let Some((dir, listed)) = stack.pop() {
        if listed {
            share.rmdir(&dir).await?;
            continue;
        }
        stack.push((dir.clone(), true));
        for e in share.list(&dir).await? {
            let p = join(&dir, &e.name);
            if e.is_dir() {
                stack.push((p, false));
            } else {
                share.remove(&p).await?;
            }
        }
    }
    Ok(())
}

async fn mkdir(share: &Share, path: &str, parents: bool) -> Result<(), CliError> {
    if !parents {
        return share.mkdir(path).await.map_err(CliError::from);
    }
    let mut prefix = String::new();
    for part in path.split('/') {
        prefix = join(&prefix, part);
        match share.mkdir(&prefix).await {
            Ok(()) => {}
            Err(e) if e.status() == Some(NtStatus::OBJECT_NAME_COLLISION) => {
                if !share.stat(&prefix).await?.is_dir {
                    return Err(e.into());
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// The target of `mv` or `cp` (`command`): a full address on the same share, or a path from
/// the share root. Returns the path and whether it ended with a separator (into that
/// directory).
pub fn share_target(
    command: &str,
    from: &Address,
    target: &str,
) -> Result<(String, bool), CliError> {
    if looks_like_address(target) {
        let to = Address::parse(target)?;
        if !from.same_share(&to) {
            return Err(CliError::Usage(format!(
                "{command} works within one share: {from} and {to} are on different shares"
            )));
        }
        let into = to.trailing_separator || to.path.is_empty();
        return Ok((to.path, into));
    }
    let into = target.ends_with(['/', '\\']);
    let path: Vec<&str> = target
        .split(['/', '\\'])
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    Ok((path.join("/"), into || path.is_empty()))
}

/// The path `from` goes to: `to`, or `to/<from's name>` when `to` names a directory.
async fn destination(share: &Share, from: &Address, to: &str, into_dir: bool) -> String {
    let into = into_dir || matches!(share.stat(to).await, Ok(m) if m.is_dir);
    if into {
        join(to, from.file_name())
    } else {
        to.to_string()
    }
}

async fn mv(
    share: &Share,
    from: &Address,
    to: &str,
    into_dir: bool,
    force: bool,
) -> Result<(), CliError> {
    let to = destination(share, from, to, into_dir).await;
    share
        .rename(&from.path, &to, force)
        .await
        .map_err(CliError::from)
}

/// A server-side copy ([`Share::copy`]); an existing target is replaced only with `force`.
async fn cp(
    share: &Share,
    from: &Address,
    to: &str,
    into_dir: bool,
    force: bool,
) -> Result<(), CliError> {
    let to = destination(share, from, to, into_dir).await;
    share.copy(&from.path, &to, force).await?;
    Ok(())
}

fn rate(bytes: u64, started: Instant) -> String {
    let secs = started.elapsed().as_secs_f64();
    if secs <= 0.0 {
        return output::human_bytes(bytes);
    }
    format!(
        "{} in {secs:.2} s ({}/s)",
        output::human_bytes(bytes),
        output::human_bytes((bytes as f64 / secs) as u64)
    )
}

/// Progress bars and summary lines: shown only when standard output is a terminal and not
/// `--quiet` (bars and summaries go to standard error).
#[derive(Debug)]
struct Ui {
    quiet: bool,
    bars: bool,
}

impl Ui {
    fn new(quiet: bool) -> Ui {
        Ui {
            quiet,
            bars: !quiet && std::io::stdout().is_terminal() && std::io::stderr().is_terminal(),
        }
    }

    fn bar(&self, total: u64, label: &str) -> ProgressBar {
        if !self.bars {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        // The bar takes what the terminal width leaves, so one line never wraps.
        if let Ok(style) = ProgressStyle::with_template(
            "{msg:20!} [{wide_bar}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} {eta}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        let name = label.rsplit(['\\', '/']).next().unwrap_or(label);
        bar.set_message(name.to_string());
        bar
    }

    fn summary(&self, line: &str) {
        if !self.quiet {
            eprintln!("smb: {line}");
        }
    }

    fn warn(&self, line: &str) {
        eprintln!("smb: warning: {line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> Address {
        Address::parse(s).expect("address")
    }

    fn no_prompt(_: &str) -> std::io::Result<String> {
        panic!("must not prompt")
    }

    #[test]
    fn credentials_follow_the_precedence() {
        let env = Env {
            smb_user: Some("envuser".into()),
            smb_password: Some("envpass".into()),
            login: Some("login".into()),
            interactive: false,
        };
        let opts = ConnOptions {
            user: vec!["DOM\\flag%flagpass".into()],
            password: Some("pw".into()),
            ..ConnOptions::default()
        };
        let c = resolve_credentials(&opts, &addr("smb://u:p@h/s"), &env, no_prompt).unwrap();
        assert_eq!(
            (c.domain.as_str(), c.user.as_str(), c.password.as_str()),
            ("DOM", "flag", "flagpass")
        );
        let opts = ConnOptions {
            user: vec!["flag".into()],
            password: Some("pw".into()),
            ..ConnOptions::default()
        };
        let c = resolve_credentials(&opts, &addr("smb://u:p@h/s"), &env, no_prompt).unwrap();
        assert_eq!((c.user.as_str(), c.password.as_str()), ("flag", "pw"));
        let none = ConnOptions::default();
        let c = resolve_credentials(&none, &addr("smb://u:p@h/s"), &env, no_prompt).unwrap();
        assert_eq!((c.user.as_str(), c.password.as_str()), ("u", "p"));
        let c = resolve_credentials(&none, &addr("smb://WG;u:p@h/s"), &env, no_prompt).unwrap();
        assert_eq!((c.domain.as_str(), c.user.as_str()), ("WG", "u"));
        let c = resolve_credentials(&none, &addr("//h/s"), &env, no_prompt).unwrap();
        assert_eq!(
            (c.user.as_str(), c.password.as_str()),
            ("envuser", "envpass")
        );
        let bare = Env {
            login: Some("login".into()),
            ..Env::default()
        };
        let e = resolve_credentials(&none, &addr("//h/s"), &bare, no_prompt).unwrap_err();
        assert!(
            matches!(e, CliError::Usage(ref m) if m.contains("SMB_PASSWORD")),
            "{e}"
        );
        let e = resolve_credentials(&none, &addr("//h/s"), &Env::default(), no_prompt).unwrap_err();
        assert!(
            matches!(e, CliError::Usage(ref m) if m.contains("no user name")),
            "{e}"
        );
        let tty = Env {
            interactive: true,
            ..bare
        };
        let c = resolve_credentials(&none, &addr("//h/s"), &tty, |p| {
            assert_eq!(p, "Password for login on h: ");
            Ok("typed".into())
        })
        .unwrap();
        assert_eq!((c.user.as_str(), c.password.as_str()), ("login", "typed"));
        // An empty password after % is a password (guest-like servers), not a missing one.
        let opts = ConnOptions {
            user: vec!["x%".into()],
            ..ConnOptions::default()
        };
        let c = resolve_credentials(&opts, &addr("//h/s"), &Env::default(), no_prompt).unwrap();
        assert_eq!((c.user.as_str(), c.password.as_str()), ("x", ""));
    }

    #[test]
    fn config_checks_the_dialect_range() {
        use smb_proto::wire::Dialect;
        let a = addr("//h/s");
        let c = client_config(&ConnOptions::default(), &a).unwrap();
        assert_eq!(c.server_name, "h");
        assert!(!c.require_encryption);
        let bad = ConnOptions {
            min_dialect: Some(Dialect::SMB3_1_1),
            max_dialect: Some(Dialect::SMB3_0),
            ..ConnOptions::default()
        };
        assert!(matches!(client_config(&bad, &a), Err(CliError::Usage(_))));
        let bad = ConnOptions {
            require_encryption: true,
            max_dialect: Some(Dialect::SMB2_1),
            ..ConnOptions::default()
        };
        assert!(matches!(client_config(&bad, &a), Err(CliError::Usage(_))));
        let good = ConnOptions {
            require_encryption: true,
            min_dialect: Some(Dialect::SMB3_0),
            ..ConnOptions::default()
        };
        let c = client_config(&good, &a).unwrap();
        assert!(c.require_encryption);
        assert_eq!(c.min_dialect, Dialect::SMB3_0);
    }

    #[test]
    fn mv_targets() {
        let from = addr("smb://h/s/dir/f.txt");
        assert_eq!(
            share_target("mv", &from, "g.txt").unwrap(),
            ("g.txt".into(), false)
        );
        assert_eq!(
            share_target("mv", &from, "/a/b/").unwrap(),
            ("a/b".into(), true)
        );
        assert_eq!(share_target("mv", &from, "/").unwrap(), ("".into(), true));
        assert_eq!(
            share_target("mv", &from, "//H/S/x/y").unwrap(),
            ("x/y".into(), false)
        );
        assert!(matches!(
            share_target("mv", &from, "//h/other/x"),
            Err(CliError::Usage(_))
        ));
        assert!(matches!(
            share_target("mv", &from, "smb://h:/x"),
            Err(CliError::Address(_))
        ));
    }

    #[test]
    fn local_names_from_servers_are_checked() {
        for ok in ["a", "file.txt", "...", "with space", "é"] {
            assert!(safe_local_name(ok), "{ok}");
        }
        for bad in ["", ".", "..", "a/b", "a\\b", "/etc", "x\0y"] {
            assert!(!safe_local_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn hosts_resolve_to_every_address() {
        let a = resolve("127.0.0.1", 4445).unwrap();
        assert_eq!(a, vec![SocketAddr::from(([127, 0, 0, 1], 4445))]);
        let a = resolve("::1", 445).unwrap();
        assert!(a[0].is_ipv6());
        assert!(matches!(
            resolve("no-such-host.invalid", 445),
            Err(CliError::Resolve { .. })
        ));
    }
}
