//! Multichannel checks shared by the tests that bind a session of our client
//! (`driver_smol::Client`) to a second TCP connection, against Samba or our own server: data
//! written on one channel is read back on the other, and a LOGOFF on one ends the session on
//! both.
#![allow(dead_code)]

use std::net::SocketAddr;

use bytes::Bytes;
use driver_smol::{Client, ClientError};
use smb_proto::client::{ClientConfig, SendError};
use smb_proto::wire::create::CreateDisposition;
use smb_proto::wire::message::{RequestBody, ResponseBody};
use smb_proto::wire::{FileId, SessionId, TreeId};

use super::requests::{close, open, payload};

/// Where a channel scenario runs: the server's address, the client's config, the account and
/// the share.
#[derive(Debug, Clone)]
pub struct Target {
    pub addr: SocketAddr,
    pub cfg: ClientConfig,
    pub user: String,
    pub password: String,
    pub share: String,
}

impl Target {
    /// The same target reached at `addr` (a listed interface, a proxy in front of it).
    pub fn at(&self, addr: SocketAddr) -> Target {
        Target {
            addr,
            ..self.clone()
        }
    }

    pub fn creds(&self) -> driver_smol::files::Credentials {
        driver_smol::files::Credentials::new(&self.user, &self.password)
    }

    /// The files API's share, connected over one connection.
    pub async fn files_share(&self) -> driver_smol::files::Share {
        driver_smol::files::Share::connect_with(
            &[self.addr],
            self.cfg.clone(),
            &self.share,
            &self.creds(),
        )
        .await
        .unwrap_or_else(|e| panic!("connect to {}: {e}", self.addr))
    }
}

pub async fn write_at(c: &Client, s: SessionId, t: TreeId, fid: FileId, at: u64, data: Bytes) {
    let len = data.len() as u32;
    let body = RequestBody::Write(test_support::requests::write(fid, at, data));
    match c.call_body(s, t, body).await.expect("WRITE") {
        ResponseBody::Write(w) => assert_eq!(w.count, len, "short WRITE"),
        other => panic!("WRITE answered with {other:?}"),
    }
}

pub async fn read_at(c: &Client, s: SessionId, t: TreeId, fid: FileId, at: u64, len: u32) -> Bytes {
    let body = RequestBody::Read(test_support::requests::read(fid, at, len));
    match c.call_body(s, t, body).await.expect("READ") {
        ResponseBody::Read(r) => r.data,
        other => panic!("READ answered with {other:?}"),
    }
}

/// Logs on at `cfg`'s dialect, binds a second connection to the session, writes on each
/// channel and reads back on the other (comparing bytes), then logs off on the second
/// channel and checks that the first refuses the session and still serves a new one.
pub async fn bind_roundtrip(t: &Target, name: &str) {
    let (addr, cfg, share) = (t.addr, t.cfg.clone(), t.share.as_str());
    let (user, password) = (t.user.as_str(), t.password.as_str());
    let c1 = Client::connect(addr, cfg.clone()).await.expect("connect 1");
    let s = c1.login(user, "", password).await.expect("login");
    let (t, _) = c1.tree_connect(s, share).await.expect("tree connect");
    let c2 = Client::connect_channel(addr, cfg, &c1, s, user, "", password)
        .await
        .unwrap_or_else(|e| panic!("binding a second channel: {e}"));
    assert_eq!(c2.negotiated().dialect, c1.negotiated().dialect);

    // Channel 1 writes, channel 2 reads the same open (TreeIds and FileIds are session-wide).
    let data = payload(200_000, 7);
    let fid = open(&c1, s, t, name, CreateDisposition::OVERWRITE_IF, false)
        .await
        .expect("CREATE on channel 1");
    write_at(&c1, s, t, fid, 0, data.clone()).await;
    let back = read_at(&c2, s, t, fid, 0, data.len() as u32).await;
    assert!(
        back[..] == data[..],
        "channel 2 read other bytes than channel 1 wrote"
    );
    close(&c2, s, t, fid).await;

    // And the other way round, with a fresh open on channel 2 and a tree of its own.
    let (t2, _) = c2.tree_connect(s, share).await.expect("tree connect on 2");
    let more = payload(70_000, 99);
    let fid = open(&c2, s, t2, name, CreateDisposition::OPEN, false)
        .await
        .expect("CREATE on channel 2");
    write_at(&c2, s, t2, fid, 200_000, more.clone()).await;
    close(&c2, s, t2, fid).await;
    // Channel 1 does not know channel 2's tree (trees are tracked per connection); it reads
    // through its own.
    let fid = open(&c1, s, t, name, CreateDisposition::OPEN, false)
        .await
        .expect("CREATE on channel 1");
    let back = read_at(&c1, s, t, fid, 200_000, more.len() as u32).await;
    assert!(
        back[..] == more[..],
        "channel 1 read other bytes than channel 2 wrote"
    );
    close(&c1, s, t, fid).await;

    // A LOGOFF on channel 2 ends the session on channel 1 too: channel 1 is told before the
    // LOGOFF goes out and refuses the session itself, so it never meets a
    // STATUS_USER_SESSION_DELETED the server could not sign.
    c2.logoff(s).await.expect("LOGOFF on channel 2");
    let after = open(&c1, s, t, name, CreateDisposition::OPEN, false).await;
    assert!(
        matches!(after, Err(ClientError::Send(SendError::NoSession(x))) if x == s),
        "channel 1 must refuse the logged-off session: {after:?}"
    );
    // Channel 1's connection is still good: a new session on it works.
    let s2 = c1
        .login(user, "", password)
        .await
        .expect("a new session on channel 1");
    let (t3, _) = c1.tree_connect(s2, share).await.expect("tree connect");
    let fid = open(&c1, s2, t3, name, CreateDisposition::OPEN, false)
        .await
        .expect("CREATE in the new session");
    close(&c1, s2, t3, fid).await;
    c1.logoff(s2).await.expect("LOGOFF");
}

/// Asks the server at `addr` for its interfaces ([`driver_smol::files::Share::server_interfaces`])
/// and checks that it lists the loopback address it listens on (IPv4, a real IfIndex, a link
/// speed); returns that address with `addr`'s port, where a second channel can go.
pub async fn listed_loopback(t: &Target) -> SocketAddr {
    use smb_proto::wire::fsctl::SockAddr;
    let s = t.files_share().await;
    let list = s.server_interfaces().await.expect("interface list");
    s.disconnect().await.expect("disconnect");
    let lo = list
        .iter()
        .find(|n| {
            matches!(n.address, SockAddr::V4 { addr, .. } if addr == std::net::Ipv4Addr::LOCALHOST)
        })
        .unwrap_or_else(|| panic!("127.0.0.1 is not among the listed interfaces: {list:?}"));
    assert!(lo.if_index > 0, "{lo:?}");
    assert!(lo.link_speed > 0, "{lo:?}");
    SocketAddr::from(([127, 0, 0, 1], t.addr.port()))
}

/// Connects `share`, adds two channels with [`driver_smol::files::Share::with_channels`] and
/// moves 9 MiB + 7 bytes up (`write_all`, `copy_from`) and down (`read_to_end`, `copy_to`)
/// through the three connections, comparing bytes; checks that every connection carried
/// READs and WRITEs, that the session answers on the first connection alone after the
/// channel share is dropped, and that `disconnect` logs off.
pub async fn spread_transfer(t: &Target, name: &str) {
    let first = t.files_share().await;
    let s = first
        .with_channels(2, t.cfg.clone(), &t.creds())
        .await
        .unwrap_or_else(|e| panic!("adding channels: {e}"));
    assert_eq!(s.channel_count(), 3);
    let data = payload(9 * 1024 * 1024 + 7, 42);

    let f = s.create(name).await.expect("create");
    f.write_all(data.clone()).await.expect("write_all");
    f.close().await.expect("close");
    let f = s.open_read(name).await.expect("open");
    let back = f.read_to_end().await.expect("read_to_end");
    f.close().await.expect("close");
    assert!(back == data[..], "read_to_end returned other bytes");

    let other = format!("{name}.2");
    let f = s.create(&other).await.expect("create 2");
    let sent = f.copy_from(0, &data[..]).await.expect("copy_from");
    assert_eq!(sent, data.len() as u64);
    f.close().await.expect("close 2");
    let f = s.open_read(&other).await.expect("open 2");
    let mut down = Vec::new();
    f.copy_to(|c| {
        down.extend_from_slice(c);
        Ok(())
    })
    .await
    .expect("copy_to");
    f.close().await.expect("close 2");
    assert!(down == data[..], "copy_to returned other bytes");

    let carried = s.carried();
    assert_eq!(carried.len(), 3);
    assert!(
        carried.iter().all(|n| *n >= 4),
        "every connection carries READs and WRITEs: {carried:?}"
    );
    // The extra channels go with the share that has them; the session stays.
    drop(s);
    assert_eq!(
        first.stat(name).await.expect("stat").size,
        data.len() as u64
    );
    first.remove(name).await.expect("remove");
    first.remove(&other).await.expect("remove 2");
    first.disconnect().await.expect("disconnect");
}

/// Channel failover: through a [`CuttingProxy`] in front of `server`, a share with two extra
/// channels ([`driver_smol::files::Share::with_channels`]; the server must list 127.0.0.1,
/// so that the channels go to the proxy's port too) moves 16 MiB up with `copy_from` while
/// the proxy cuts one channel after 3 MiB (the replays raise the ChannelSequence while the
/// other two connections still carry WRITEs with the old one), then a share with one extra
/// channel moves it down with `copy_to` while its channel is cut the same way. Both
/// transfers complete with the right bytes, the cut channel is reported lost and takes no
/// more requests, and the session goes on over the first connection.
pub async fn failover_transfer(t: &Target, name: &str) {
    use super::cutting_proxy::CuttingProxy;
    const CUT_AFTER: u64 = 3 << 20;
    let proxy = CuttingProxy::start(t.addr);
    // Connection 0 is the first; 1 and 2 are the uploading share's channels, 3 the
    // downloading one's.
    proxy.cut_after(1, CUT_AFTER);
    proxy.cut_after(3, CUT_AFTER);
    let (cfg, creds) = (t.cfg.clone(), t.creds());
    let first = t.at(proxy.addr()).files_share().await;
    let data = payload(16 << 20, 77);

    let up = first
        .with_channels(2, cfg.clone(), &creds)
        .await
        .unwrap_or_else(|e| panic!("adding a channel: {e}"));
    assert_eq!(
        up.channel_peers()[1],
        Some(proxy.addr()),
        "the channel goes through the proxy"
    );
    let f = up.create(name).await.expect("create");
    let sent = f
        .copy_from(0, &data[..])
        .await
        .unwrap_or_else(|e| panic!("copy_from with a channel cut: {e}"));
    assert_eq!(sent, data.len() as u64);
    f.close().await.expect("close");
    assert_eq!(
        proxy.cut(),
        [1],
        "the proxy cut the uploading share's channel"
    );
    assert_eq!(up.lost_channels(), [1]);
    // Later requests skip the lost channel.
    let before = up.carried();
    let f = up.open_read(name).await.expect("open");
    let head = f.read_at(0, 4 << 20).await.expect("read_at after the loss");
    f.close().await.expect("close");
    assert!(
        head == data[..4 << 20],
        "read_at after the loss returned other bytes"
    );
    assert_eq!(
        up.carried()[1],
        before[1],
        "a lost channel carries nothing more"
    );
    drop(up);

    let down = first
        .with_channels(1, cfg, &creds)
        .await
        .unwrap_or_else(|e| panic!("adding a channel: {e}"));
    let f = down.open_read(name).await.expect("open");
    let mut got = Vec::with_capacity(data.len());
    f.copy_to(|c| {
        got.extend_from_slice(c);
        Ok(())
    })
    .await
    .unwrap_or_else(|e| panic!("copy_to with a channel cut: {e}"));
    f.close().await.expect("close");
    assert!(
        got == data[..],
        "copy_to with a channel cut returned other bytes"
    );
    assert_eq!(
        proxy.cut(),
        [1, 3],
        "the proxy cut the downloading share's channel"
    );
    assert_eq!(down.lost_channels(), [1]);
    drop(down);

    // The session is whole on the first connection.
    assert_eq!(
        first.stat(name).await.expect("stat").size,
        data.len() as u64
    );
    first.remove(name).await.expect("remove");
    first.disconnect().await.expect("disconnect");
}

/// Losing the first connection: through a [`CuttingProxy`], a share with one extra channel
/// uploads 16 MiB with `copy_from` while the proxy cuts the *first* connection after 3 MiB.
/// The upload completes on the channel, the first connection is reported lost, and the
/// requests after it (CLOSE, CREATE, the download, stat, remove, the logoff) go on the
/// channel; the bytes read back are the bytes sent.
pub async fn first_connection_loss(t: &Target, name: &str) {
    use super::cutting_proxy::CuttingProxy;
    let proxy = CuttingProxy::start(t.addr);
    proxy.cut_after(0, 3 << 20);
    let first = t.at(proxy.addr()).files_share().await;
    let s = first
        .with_channels(1, t.cfg.clone(), &t.creds())
        .await
        .unwrap_or_else(|e| panic!("adding a channel: {e}"));
    drop(first);
    let data = payload(16 << 20, 78);
    let f = s.create(name).await.expect("create");
    f.copy_from(0, &data[..])
        .await
        .unwrap_or_else(|e| panic!("copy_from with the first connection cut: {e}"));
    assert_eq!(proxy.cut(), [0], "the proxy cut the first connection");
    assert_eq!(s.lost_channels(), [0]);
    f.close().await.expect("CLOSE on the channel");
    let f = s.open_read(name).await.expect("CREATE on the channel");
    let back = f.read_to_end().await.expect("read_to_end on the channel");
    f.close().await.expect("close");
    assert!(back == data[..], "read back other bytes than were sent");
    assert_eq!(s.stat(name).await.expect("stat").size, data.len() as u64);
    s.remove(name).await.expect("remove");
    s.disconnect().await.expect("disconnect on the channel");
}
