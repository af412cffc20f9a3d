//! Starts our own SMB server (`driver_smol::server::SmbServer`, local-directory backends in a
//! temp dir) on 127.0.0.1 and a free port, for the tests that point real or our own clients at
//! it. Shares: `share` (plain) and `secure` (encryption required). One user with a password.
//! The auth failure delay is shortened so wrong-password tests stay fast.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use driver_smol::backend::{LocalBackend, LocalOptions, Shares};
use driver_smol::server::SmbServer;
use smb_proto::auth::UserStore;
use smb_proto::auth::ntlm::{ServerConfig as NtlmConfig, ServerIdentity};
use smb_proto::server::{ServerConfig, ShareConfig};

/// The test account.
pub const USER: &str = "smbtest";
/// Its password.
pub const PASS: &str = "Secret-Pa55!";
/// The plain share.
pub const SHARE: &str = "share";
/// The share that requires encryption.
pub const SECURE: &str = "secure";

/// A running server and its temp dir (removed on drop).
#[derive(Debug)]
pub struct OurServer {
    server: Option<SmbServer>,
    dir: tempfile::TempDir,
    addr: SocketAddr,
}

impl OurServer {
    /// Starts with the defaults (signing required, 200 ms auth failure delay).
    pub fn start() -> Self {
        Self::start_with(|_| {})
    }

    /// Starts after `tweak` has adjusted the configuration.
    pub fn start_with(tweak: impl FnOnce(&mut ServerConfig)) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut shares = Shares::new();
        let mut share_configs = Vec::new();
        for (name, encrypt) in [(SHARE, false), (SECURE, true)] {
            let path = dir.path().join(name);
            std::fs::create_dir(&path).expect("share dir");
            let backend = LocalBackend::open(
                &path,
                LocalOptions {
                    volume_label: name.into(),
                    ..LocalOptions::default()
                },
            )
            .expect("local backend");
            shares.insert(name, backend);
            let mut sc = ShareConfig::disk(name, &path.display().to_string());
            sc.encrypt_data = encrypt;
            share_configs.push(sc);
        }
        let mut users = UserStore::new();
        users.add_password(USER, PASS);
        let identity = ServerIdentity {
            netbios_name: "SMBRS".into(),
            netbios_domain: "WORKGROUP".into(),
            dns_name: "smbrs.local".into(),
            dns_domain: "local".into(),
        };
        let mut config = ServerConfig::new(Arc::new(NtlmConfig::new(identity, users)));
        config.shares = share_configs;
        config.auth_failure_delay = Duration::from_millis(200);
        let listen = SocketAddr::from(([127, 0, 0, 1], 0));
        // What `smb serve` announces for its listener: here the loopback interface.
        config.network_interfaces =
            driver_smol::host_interfaces::host_interfaces(&[listen]).expect("host interfaces");
        tweak(&mut config);
        let server =
            smol::block_on(SmbServer::bind(listen, config, shares)).expect("bind our server");
        let addr = server.local_addr();
        Self {
            server: Some(server),
            dir,
            addr,
        }
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The directory behind a share.
    pub fn share_dir(&self, share: &str) -> PathBuf {
        self.dir.path().join(share)
    }

    /// A scratch directory next to the shares (not served).
    pub fn scratch(&self) -> PathBuf {
        let p = self.dir.path().join("scratch");
        std::fs::create_dir_all(&p).expect("scratch dir");
        p
    }
}

impl Drop for OurServer {
    fn drop(&mut self) {
        if let Some(s) = self.server.take() {
            smol::block_on(s.shutdown());
        }
    }
}
