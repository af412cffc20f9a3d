//! Configurations for in-process tests: the standalone server `srv` (NetBIOS `SRV` in
//! `WORKGROUP`) with known accounts and shares on the in-memory backend, a client offering
//! chosen dialects, and NTLM initiators; on a virtual clock with fixed seeds.

use std::sync::Arc;
use std::time::Instant;

use smb_proto::auth::ntlm::{Credentials, ServerIdentity};
use smb_proto::auth::{
    AcceptorConfig, Initiator, InitiatorConfig, NtlmPolicy, SpnegoInitiator, UserStore,
};
use smb_proto::client::ClientConfig;
use smb_proto::io::Clock;
use smb_proto::rng::SeededRng;
use smb_proto::server::{ServerConfig, ShareConfig};
use smb_proto::wire::Dialect;

/// The wall-clock time (a FILETIME) at the virtual clock's start.
pub const FILETIME: u64 = 133_000_000_000_000_000;

/// An account: user name and password.
pub type Account = (&'static str, &'static str);

/// The account tests log on with.
pub const ALICE: Account = ("alice", "secret");
/// A second account, for tests of more than one user.
pub const BOB: Account = ("bob", "hunter2");

/// The virtual clock, starting at `t0` (= [`FILETIME`]).
pub fn clock(t0: Instant) -> Clock {
    Clock {
        instant: t0,
        filetime: FILETIME,
    }
}

/// NTLM for the standalone server `srv` knowing `accounts`.
pub fn acceptor(accounts: &[Account]) -> Arc<AcceptorConfig> {
    let mut users = UserStore::new();
    for (user, password) in accounts {
        users.add_password(user, password);
    }
    Arc::new(AcceptorConfig::new(
        ServerIdentity::standalone("srv"),
        users,
    ))
}

/// The server `srv` knowing `accounts`, with one share, `share`, on the in-memory backend;
/// the rest as [`ServerConfig::new`] has it.
pub fn memfs_server(accounts: &[Account]) -> ServerConfig {
    let mut c = ServerConfig::new(acceptor(accounts));
    c.shares = vec![ShareConfig::disk("share", "memfs")];
    c
}

/// [`memfs_server`] for [`ALICE`] on the virtual clock from `t0`, with a fixed seed and a
/// second share, `secret`, that requires encryption.
pub fn server_config(t0: Instant) -> ServerConfig {
    let mut c = memfs_server(&[ALICE]);
    c.clock = Some(clock(t0));
    c.rng_seed = [9; 32];
    let mut secret = ShareConfig::disk("secret", "memfs");
    secret.encrypt_data = true;
    c.shares.push(secret);
    c
}

/// A client of `srv` offering the dialects `min` to `max`, on the virtual clock from `t0`
/// with a fixed seed; the rest as [`ClientConfig::default`] has it.
pub fn client_config(t0: Instant, min: Dialect, max: Dialect) -> ClientConfig {
    ClientConfig {
        min_dialect: min,
        max_dialect: max,
        server_name: "srv".into(),
        clock: Some(clock(t0)),
        rng_seed: [3; 32],
        ..ClientConfig::default()
    }
}

/// SPNEGO/NTLM credentials of `user` in `WORKGROUP` from workstation `CLIENT`, with a fixed
/// seed.
pub fn initiator(user: &str, password: &str) -> Box<dyn Initiator> {
    let cfg = Arc::new(InitiatorConfig {
        credentials: Credentials::from_password(user, "WORKGROUP", password),
        workstation: "CLIENT".into(),
        ntlm_policy: NtlmPolicy::default(),
    });
    Box::new(
        SpnegoInitiator::new(cfg, "srv", FILETIME, SeededRng::from_seed([4; 32]))
            .expect("NTLM allowed"),
    )
}
