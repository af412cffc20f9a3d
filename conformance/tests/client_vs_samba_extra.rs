//! More of our client against a private Samba `smbd`: lease and oplock breaks acknowledged
//! through the typed API, CREATE contexts (MxAc, QFid, RqLs), related compounds that return
//! data, every cipher and signing algorithm forced from the server side, set times, and a
//! capture of a whole session that tshark dissects without a malformed frame.

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant, UNIX_EPOCH};

use bytes::Bytes;
use conformance::samba::{SambaOptions, SambaServer};
use driver_smol::Client;
use driver_smol::files::{Credentials, FileTimes, OpenOptions, Share, filetime_to_system};
use smb_crypto::{CipherId, SigningAlgorithm};
use smb_proto::client::{BreakKind, BreakNotification, ClientConfig};
use smb_proto::wire::close::{CloseFlags, CloseRequest};
use smb_proto::wire::create::{CreateDisposition, CreateResponse, OplockLevel};
use smb_proto::wire::create_context::{CreateContext, Lease, LeaseKey, LeaseState, LeaseV2Fields};
use smb_proto::wire::fscc::attributes::AccessMask;
use smb_proto::wire::fscc::file::{FileAllInformation, FileStandardInformation};
use smb_proto::wire::fscc::{FileInformation, InfoCodec};
use smb_proto::wire::message::{RequestBody, Response, ResponseBody, ResponsePayload};
use smb_proto::wire::oplock_break::{LeaseBreakFlags, OplockBreakResponse};
use smb_proto::wire::query_info::{InfoType, QueryInfoRequest};
use smb_proto::wire::read::{Channel, ReadFlags, ReadRequest};
use smb_proto::wire::{Dialect, FileId, SessionId, TreeId};
use support::requests::{close, config, create, payload};

fn addr(server: &SambaServer) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], server.port()))
}

/// Connects, logs on and connects the read-write share.
async fn connect(server: &SambaServer, cfg: ClientConfig) -> (Client, SessionId, TreeId) {
    let c = Client::connect(addr(server), cfg)
        .await
        .unwrap_or_else(|e| panic!("connect: {e}\n{}", server.log_tail()));
    let s = c
        .login(server.user(), "", server.password())
        .await
        .unwrap_or_else(|e| panic!("login: {e}\n{}", server.log_tail()));
    let (t, _) = c.tree_connect(s, "share").await.expect("tree connect");
    (c, s, t)
}

/// Puts a file into the share directory behind smbd's back, writable by the share's user.
fn seed(server: &SambaServer, name: &str, data: &[u8]) {
    use std::os::unix::fs::PermissionsExt;
    let path = server.share_dir("share").join(name);
    std::fs::write(&path, data).expect("seed file");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).expect("chmod");
}

/// Fails the test instead of hanging when `fut` takes longer than `secs`.
async fn within<T>(secs: u64, what: &str, fut: impl std::future::Future<Output = T>) -> T {
    futures_lite::future::or(async { Some(fut.await) }, async {
        smol::Timer::after(Duration::from_secs(secs)).await;
        None
    })
    .await
    .unwrap_or_else(|| panic!("{what}: no answer within {secs} s"))
}

const RWH: LeaseState = LeaseState(0x07);
const RH: LeaseState = LeaseState(0x03);

fn lease_v2(key: LeaseKey, state: LeaseState) -> CreateContext {
    CreateContext::Lease(Lease {
        key,
        state,
        flags: Default::default(),
        duration: 0,
        v2: Some(LeaseV2Fields::default()),
    })
}

/// A CREATE of a file (read/write, every share mode) with an oplock request and contexts.
fn create_with(
    name: &str,
    disposition: CreateDisposition,
    oplock: OplockLevel,
    contexts: Vec<CreateContext>,
) -> RequestBody {
    match create(name, disposition, false) {
        RequestBody::Create(mut c) => {
            c.requested_oplock_level = oplock;
            c.contexts = contexts;
            RequestBody::Create(c)
        }
        other => other,
    }
}

fn create_response(r: Response) -> CreateResponse {
    match r.payload {
        ResponsePayload::Body(ResponseBody::Create(c)) => c,
        other => panic!("CREATE answered with {other:?}"),
    }
}

fn granted_lease(c: &CreateResponse) -> Option<Lease> {
    c.contexts.iter().find_map(|x| match x {
        CreateContext::Lease(l) => Some(*l),
        _ => None,
    })
}

/// Connection A holds an RWH lease; connection B opens the same file. smbd breaks A's lease
/// to RH (another client now has it open, so A may no longer cache writes) and holds B's
/// CREATE until A acknowledges through `Client::acknowledge_lease_break`.
#[test]
fn lease_break_is_surfaced_and_acknowledged() {
    let Some(server) = SambaServer::start_for_test(SambaOptions {
        signing_mandatory: true,
        ..SambaOptions::default()
    }) else {
        return;
    };
    seed(&server, "leased.bin", b"cached");
    smol::block_on(async {
        // Plain signed, then on a session whose every message is encrypted.
        for sealed in [false, true] {
            let cfg = ClientConfig {
                require_encryption: sealed,
                ..config(Dialect::SMB3_1_1)
            };
            lease_break_round(&server, cfg).await;
        }
    });
}

async fn lease_break_round(server: &SambaServer, cfg: ClientConfig) {
    let (a, sa, ta) = connect(server, cfg.clone()).await;
    let (b, sb, tb) = connect(server, cfg).await;
    let key = LeaseKey(*b"lease-key-of-A!!");
    let opened = create_response(
        a.request(
            sa,
            ta,
            create_with(
                "leased.bin",
                CreateDisposition::OPEN,
                OplockLevel::LEASE,
                vec![lease_v2(key, RWH)],
            ),
        )
        .await
        .expect("A opens with a lease"),
    );
    assert_eq!(opened.oplock_level, OplockLevel::LEASE);
    let lease = granted_lease(&opened).expect("a lease context in the response");
    assert_eq!(lease.key, key);
    assert_eq!(lease.state, RWH, "smbd grants RWH to the only opener");

    let started = Instant::now();
    let pending = b
        .submit(
            sb,
            tb,
            create_with(
                "leased.bin",
                CreateDisposition::OPEN,
                OplockLevel::NONE,
                vec![],
            ),
        )
        .await
        .expect("B's CREATE sent");
    let notification: BreakNotification = within(20, "lease break on A", a.breaks().recv())
        .await
        .expect("break channel open");
    let BreakKind::Lease {
        key: broken,
        current_state,
        new_state,
        flags,
        epoch,
    } = notification.kind
    else {
        panic!("expected a lease break, got {notification:?}")
    };
    assert_eq!(broken, key);
    assert_eq!(current_state, RWH);
    assert_eq!(new_state, RH, "only write caching is lost");
    assert!(flags.contains(LeaseBreakFlags::ACK_REQUIRED));
    assert!(notification.ack_required());
    assert!(epoch > 0, "a v2 lease carries an epoch: {epoch}");

    let ack = within(
        20,
        "lease break ack",
        a.acknowledge_lease_break(sa, ta, key, new_state),
    )
    .await
    .expect("lease break acknowledged");
    match ack.payload {
        ResponsePayload::Body(ResponseBody::OplockBreak(
            OplockBreakResponse::LeaseBreakResponse(r),
        )) => {
            assert_eq!(r.lease_key, key);
            assert_eq!(r.lease_state, RH);
        }
        other => panic!("lease break ack answered with {other:?}"),
    }
    let b_open = create_response(
        within(20, "B's CREATE", pending.wait())
            .await
            .expect("B's CREATE completes once A acknowledged"),
    );
    // smbd's lease break timeout is 35 s: B finished because of the ack, not the timeout.
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "B waited {:?}",
        started.elapsed()
    );
    close(&b, sb, tb, b_open.file_id).await;
    close(&a, sa, ta, opened.file_id).await;
}

/// The same with a batch oplock: smbd breaks it to level II, A acknowledges with
/// `Client::acknowledge_oplock_break`, and B's CREATE completes.
#[test]
fn oplock_break_is_surfaced_and_acknowledged() {
    let Some(server) = SambaServer::start_for_test(SambaOptions {
        signing_mandatory: true,
        ..SambaOptions::default()
    }) else {
        return;
    };
    seed(&server, "batch.bin", b"cached");
    smol::block_on(async {
        for dialect in [Dialect::SMB2_1, Dialect::SMB3_1_1] {
            let (a, sa, ta) = connect(&server, config(dialect)).await;
            let (b, sb, tb) = connect(&server, config(dialect)).await;
            let opened = create_response(
                a.request(
                    sa,
                    ta,
                    create_with(
                        "batch.bin",
                        CreateDisposition::OPEN,
                        OplockLevel::BATCH,
                        vec![],
                    ),
                )
                .await
                .expect("A opens with a batch oplock"),
            );
            assert_eq!(opened.oplock_level, OplockLevel::BATCH, "{dialect}");
            let pending = b
                .submit(
                    sb,
                    tb,
                    create_with(
                        "batch.bin",
                        CreateDisposition::OPEN,
                        OplockLevel::NONE,
                        vec![],
                    ),
                )
                .await
                .expect("B's CREATE sent");
            let notification = within(20, "oplock break on A", a.breaks().recv())
                .await
                .expect("break channel open");
            assert_eq!(notification.session, sa, "{dialect}");
            let BreakKind::Oplock { file_id, new_level } = notification.kind else {
                panic!("expected an oplock break, got {notification:?}")
            };
            assert_eq!(file_id, opened.file_id, "{dialect}");
            assert_eq!(
                new_level,
                OplockLevel::II,
                "{dialect}: batch breaks to level II"
            );
            let ack = within(
                20,
                "oplock break ack",
                a.acknowledge_oplock_break(sa, ta, file_id, new_level),
            )
            .await
            .expect("oplock break acknowledged");
            match ack.payload {
                ResponsePayload::Body(ResponseBody::OplockBreak(OplockBreakResponse::Oplock(
                    r,
                ))) => {
                    assert_eq!(r.file_id, opened.file_id);
                    assert_eq!(r.oplock_level, OplockLevel::II);
                }
                other => panic!("{dialect}: oplock break ack answered with {other:?}"),
            }
            let b_open = create_response(
                within(20, "B's CREATE", pending.wait())
                    .await
                    .expect("B's CREATE completes once A acknowledged"),
            );
            close(&b, sb, tb, b_open.file_id).await;
            close(&a, sa, ta, opened.file_id).await;
        }
    });
}

/// CREATE with MxAc, QFid and a v2 lease request: the maximal access, the on-disk id (the
/// same 64-bit index FileInternalInformation reports) and the granted lease come back.
#[test]
fn create_contexts_maximal_access_disk_id_and_lease() {
    let Some(server) = SambaServer::start_for_test(SambaOptions::default()) else {
        return;
    };
    smol::block_on(async {
        let (c, s, t) = connect(&server, config(Dialect::SMB3_1_1)).await;
        let key = LeaseKey([0x5A; 16]);
        let r = create_response(
            c.request(
                s,
                t,
                create_with(
                    "contexts.bin",
                    CreateDisposition::OVERWRITE_IF,
                    OplockLevel::LEASE,
                    vec![
                        CreateContext::MaximalAccessRequest { timestamp: None },
                        CreateContext::QueryOnDiskIdRequest,
                        lease_v2(key, RWH),
                    ],
                ),
            )
            .await
            .expect("CREATE with contexts"),
        );
        let (status, access) = r
            .contexts
            .iter()
            .find_map(|x| match x {
                CreateContext::MaximalAccessResponse {
                    query_status,
                    maximal_access,
                } => Some((*query_status, *maximal_access)),
                _ => None,
            })
            .expect("an MxAc response");
        assert_eq!(status, 0, "MxAc QueryStatus is STATUS_SUCCESS");
        for bit in [
            AccessMask::FILE_READ_DATA,
            AccessMask::FILE_WRITE_DATA,
            AccessMask::FILE_READ_ATTRIBUTES,
            AccessMask::FILE_WRITE_ATTRIBUTES,
            AccessMask::DELETE,
        ] {
            assert!(
                access.contains(bit),
                "owner's maximal access {access:?} lacks {bit:?}"
            );
        }
        let disk_id = r
            .contexts
            .iter()
            .find_map(|x| match x {
                CreateContext::QueryOnDiskIdResponse { disk_id } => Some(*disk_id),
                _ => None,
            })
            .expect("a QFid response");
        let disk_file_id = u64::from_le_bytes(disk_id[..8].try_into().expect("8 bytes"));
        assert_ne!(disk_file_id, 0, "a real DiskFileId");
        let lease = granted_lease(&r).expect("a lease response");
        assert_eq!(r.oplock_level, OplockLevel::LEASE);
        assert_eq!(lease.key, key);
        assert_eq!(lease.state, RWH);
        assert!(lease.v2.is_some(), "a v2 request gets a v2 answer on 3.1.1");

        // The DiskFileId is the index FileInternalInformation reports for the same open.
        let q = c
            .call_body(s, t, query_info::<FileAllInformation>(r.file_id))
            .await
            .expect("QUERY_INFO");
        let ResponseBody::QueryInfo(q) = q else {
            panic!("QUERY_INFO answered with another body")
        };
        let all = FileAllInformation::decode(&q.buffer).expect("FileAllInformation decodes");
        assert_eq!(all.internal.index_number, disk_file_id);
        close(&c, s, t, r.file_id).await;
    });
}

fn query_info<T: FileInformation>(file_id: FileId) -> RequestBody {
    RequestBody::QueryInfo(QueryInfoRequest {
        info_type: InfoType::FILE,
        info_class: T::CLASS.0,
        output_buffer_length: 64 * 1024,
        file_id,
        ..QueryInfoRequest::default()
    })
}

fn close_related() -> RequestBody {
    RequestBody::Close(CloseRequest {
        flags: CloseFlags::default(),
        file_id: FileId::RELATED,
    })
}

/// CREATE+QUERY_INFO+CLOSE and CREATE+READ+CLOSE as related chains (MS-SMB2 3.2.4.1.4):
/// the later members use the CREATE's FileId through FileId::RELATED and their answers
/// carry the file's size and bytes. Plain signed, and sealed.
#[test]
fn related_compounds_return_info_and_data() {
    let Some(server) = SambaServer::start_for_test(SambaOptions {
        signing_mandatory: true,
        ..SambaOptions::default()
    }) else {
        return;
    };
    let data = payload(100_000, 77);
    seed(&server, "compound.bin", &data);
    smol::block_on(async {
        let configs = [
            ("2.1", config(Dialect::SMB2_1)),
            ("3.1.1", config(Dialect::SMB3_1_1)),
            (
                "3.1.1 sealed",
                ClientConfig {
                    require_encryption: true,
                    ..config(Dialect::SMB3_1_1)
                },
            ),
        ];
        for (what, cfg) in configs {
            let (c, s, t) = connect(&server, cfg).await;
            let open = create("compound.bin", CreateDisposition::OPEN, false);

            let results = c
                .compound(
                    s,
                    t,
                    vec![
                        open.clone(),
                        query_info::<FileStandardInformation>(FileId::RELATED),
                        close_related(),
                    ],
                    true,
                )
                .await
                .expect("compound sent");
            assert_eq!(results.len(), 3, "{what}");
            let mut results = results.into_iter();
            let created = create_response(results.next().unwrap().expect("CREATE"));
            assert_eq!(created.end_of_file, data.len() as u64, "{what}");
            match results.next().unwrap().expect("QUERY_INFO").payload {
                ResponsePayload::Body(ResponseBody::QueryInfo(q)) => {
                    let info = FileStandardInformation::decode(&q.buffer).expect("decodes");
                    assert_eq!(info.end_of_file, data.len() as u64, "{what}");
                    assert!(!info.directory, "{what}");
                    assert_eq!(info.number_of_links, 1, "{what}");
                }
                other => panic!("{what}: QUERY_INFO answered with {other:?}"),
            }
            match results.next().unwrap().expect("CLOSE").payload {
                ResponsePayload::Body(ResponseBody::Close(_)) => {}
                other => panic!("{what}: CLOSE answered with {other:?}"),
            }

            let results = c
                .compound(
                    s,
                    t,
                    vec![
                        open,
                        RequestBody::Read(ReadRequest {
                            padding: 0x50,
                            flags: ReadFlags::default(),
                            length: 65_536,
                            offset: 1000,
                            file_id: FileId::RELATED,
                            minimum_count: 0,
                            channel: Channel::NONE,
                            remaining_bytes: 0,
                            channel_info: Bytes::new(),
                        }),
                        close_related(),
                    ],
                    true,
                )
                .await
                .expect("compound sent");
            assert_eq!(results.len(), 3, "{what}");
            for r in &results {
                assert!(r.is_ok(), "{what}: compound member failed: {r:?}");
            }
            match &results[1].as_ref().expect("READ").payload {
                ResponsePayload::Body(ResponseBody::Read(r)) => {
                    assert_eq!(&r.data[..], &data[1000..1000 + 65_536], "{what}");
                }
                other => panic!("{what}: READ answered with {other:?}"),
            }
        }
    });
}

/// Each cipher forced through `server smb3 encryption algorithms` while the client offers
/// its default list: the negotiated cipher is the server's only one and a sealed file round
/// trips. Likewise each signing algorithm through `server smb3 signing algorithms`.
#[test]
fn server_forced_ciphers_and_signing_algorithms() {
    let ciphers = [
        ("AES-128-CCM", CipherId::AES_128_CCM),
        ("AES-128-GCM", CipherId::AES_128_GCM),
        ("AES-256-CCM", CipherId::AES_256_CCM),
        ("AES-256-GCM", CipherId::AES_256_GCM),
    ];
    for (i, (name, cipher)) in ciphers.into_iter().enumerate() {
        let Some(server) = SambaServer::start_for_test(SambaOptions {
            extra_global: vec![format!("server smb3 encryption algorithms = {name}")],
            ..SambaOptions::default()
        }) else {
            return;
        };
        smol::block_on(async {
            let cfg = ClientConfig {
                require_encryption: true,
                ..config(Dialect::SMB3_1_1)
            };
            assert_eq!(cfg.ciphers.len(), 4, "the client offers its default list");
            let (c, s, t) = connect(&server, cfg).await;
            assert_eq!(c.negotiated().cipher, Some(cipher), "{name}");
            round_trip(&server, &c, s, t, &format!("sealed-{i}.bin"), i as u8).await;
        });
    }
    let signing = [
        ("AES-128-GMAC", SigningAlgorithm::AES_GMAC),
        ("AES-128-CMAC", SigningAlgorithm::AES_CMAC),
        ("HMAC-SHA256", SigningAlgorithm::HMAC_SHA256),
    ];
    for (i, (name, alg)) in signing.into_iter().enumerate() {
        let Some(server) = SambaServer::start_for_test(SambaOptions {
            signing_mandatory: true,
            extra_global: vec![format!("server smb3 signing algorithms = {name}")],
            ..SambaOptions::default()
        }) else {
            return;
        };
        smol::block_on(async {
            let cfg = config(Dialect::SMB3_1_1);
            assert_eq!(cfg.signing_algorithms.len(), 3);
            let (c, s, t) = connect(&server, cfg).await;
            assert_eq!(c.negotiated().signing_algorithm, Some(alg), "{name}");
            round_trip(&server, &c, s, t, &format!("signed-{i}.bin"), i as u8).await;
        });
    }
}

/// Writes a file through `c`, checks it on disk, reads it back.
async fn round_trip(
    server: &SambaServer,
    c: &Client,
    s: SessionId,
    t: TreeId,
    name: &str,
    seed: u8,
) {
    let data = payload(300_000, seed);
    let created = create_response(
        c.request(s, t, create(name, CreateDisposition::OVERWRITE_IF, false))
            .await
            .expect("CREATE"),
    );
    let w = c
        .call_body(
            s,
            t,
            RequestBody::Write(smb_proto::wire::write::WriteRequest {
                offset: 0,
                file_id: created.file_id,
                channel: Channel::NONE,
                remaining_bytes: 0,
                flags: Default::default(),
                data: data.clone(),
                channel_info: Bytes::new(),
            }),
        )
        .await
        .expect("WRITE");
    let ResponseBody::Write(w) = w else {
        panic!("WRITE answered with another body")
    };
    assert_eq!(w.count as usize, data.len());
    let r = c
        .call_body(
            s,
            t,
            RequestBody::Read(ReadRequest {
                padding: 0x50,
                flags: ReadFlags::default(),
                length: data.len() as u32,
                offset: 0,
                file_id: created.file_id,
                minimum_count: 0,
                channel: Channel::NONE,
                remaining_bytes: 0,
                channel_info: Bytes::new(),
            }),
        )
        .await
        .expect("READ");
    let ResponseBody::Read(r) = r else {
        panic!("READ answered with another body")
    };
    assert!(r.data == data, "{name}: read back differs");
    close(c, s, t, created.file_id).await;
    let on_disk = std::fs::read(server.share_dir("share").join(name)).expect("on disk");
    assert!(on_disk == data[..], "{name}: file on disk differs");
}

/// `Share::set_times` sets the write and access times; `stat` and the file on disk agree.
#[test]
fn set_times_reaches_stat_and_the_disk() {
    use std::os::unix::fs::MetadataExt;
    let Some(server) = SambaServer::start_for_test(SambaOptions::default()) else {
        return;
    };
    smol::block_on(async {
        let creds = Credentials::new(server.user(), server.password());
        let share =
            Share::connect_with(&[addr(&server)], config(Dialect::SMB3_1_1), "share", &creds)
                .await
                .expect("connect");
        share
            .write("timed.bin", &b"times"[..])
            .await
            .expect("write");
        // 2001-09-09T01:46:40.123456Z and 2002-01-01T00:00:00.5Z: whole microseconds, so any
        // file system's timestamp resolution holds them exactly.
        let written = UNIX_EPOCH + Duration::from_micros(1_000_000_000_123_456);
        let accessed = UNIX_EPOCH + Duration::from_millis(1_009_843_200_500);
        share
            .set_times(
                "timed.bin",
                FileTimes {
                    written: Some(written),
                    accessed: Some(accessed),
                    ..FileTimes::default()
                },
            )
            .await
            .expect("set times");
        let m = share.stat("timed.bin").await.expect("stat");
        assert_eq!(filetime_to_system(m.modified), Some(written));
        assert_eq!(filetime_to_system(m.accessed), Some(accessed));
        assert_eq!(m.size, 5, "the data is untouched");
        let local = std::fs::metadata(server.share_dir("share").join("timed.bin")).expect("stat");
        assert_eq!(local.modified().expect("mtime"), written);
        assert_eq!(local.accessed().expect("atime"), accessed);
        assert_eq!(local.mtime(), 1_000_000_000);

        // Through an open file: the change time alone; the others stay.
        let f = share
            .open("timed.bin", OpenOptions::new().write_attributes(true))
            .await
            .expect("open for attributes");
        let changed = written + Duration::from_secs(3600);
        f.set_times(FileTimes {
            changed: Some(changed),
            ..FileTimes::default()
        })
        .await
        .expect("set change time");
        let m = f.stat().await.expect("stat open file");
        assert_eq!(filetime_to_system(m.modified), Some(written));
        f.close().await.expect("close");

        // On a directory.
        share.mkdir("timed-dir").await.expect("mkdir");
        let later = written + Duration::from_secs(86_400);
        share
            .set_times(
                "timed-dir",
                FileTimes {
                    written: Some(later),
                    ..FileTimes::default()
                },
            )
            .await
            .expect("set times on a directory");
        let d = share.stat("timed-dir").await.expect("stat dir");
        assert_eq!(filetime_to_system(d.modified), Some(later));
        let still = share.stat("timed.bin").await.expect("stat again");
        assert_eq!(filetime_to_system(still.modified), Some(written));
    });
}

/// Thousands of requests at once: the driver queues what the credits do not cover, smbd's
/// grants (up to 32 more than each charge) open the window, and none of it trips the
/// excess-credit rule, which counts only credits held unspent (requests in flight do not
/// count against a server's window).
#[test]
fn thousands_of_requests_in_flight_stay_within_the_credit_ceiling() {
    let Some(server) = SambaServer::start_for_test(SambaOptions {
        signing_mandatory: true,
        ..SambaOptions::default()
    }) else {
        return;
    };
    smol::block_on(async {
        let (c, s, t) = connect(&server, config(Dialect::SMB3_1_1)).await;
        let echoes = (0..3000)
            .map(|_| c.request(s, t, RequestBody::Echo(smb_proto::wire::echo::EchoRequest)));
        for r in support::requests::join_all(echoes.collect()).await {
            match r.expect("ECHO").payload {
                ResponsePayload::Body(ResponseBody::Echo(_)) => {}
                other => panic!("ECHO answered with {other:?}"),
            }
        }
        // The connection is still up and usable.
        round_trip(&server, &c, s, t, "after-echoes.bin", 1).await;
    });
}
