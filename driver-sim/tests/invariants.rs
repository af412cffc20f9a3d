//! The invariant checks catch what they claim to: a backend that acknowledges writes without
//! applying them breaks the content invariant, one that corrupts READ data is caught as forged
//! data, and ops that never complete still end every request within the bound (the client's
//! timeout closes the connection). Also: the link faults and the crash path run clean.

use std::time::Duration;

use driver_sim::invariants::ViolationKind;
use driver_sim::node::{Backend, LatencyModel, smb_server_factory};
use driver_sim::workloads::{FileWorker, FileWorkerConfig, Plan};
use driver_sim::{ClientSpec, FaultAction, ServerSpec, Sim, SimConfig};
use smb_proto::client::ClientConfig;
use smb_proto::io::TransportKind;
use smb_proto::server::memfs::MemFs;
use smb_proto::server::{FsOp, OpId, OpReply, OpRequest};
use smb_proto::wire::status::NtStatus;
use test_support::config::{ALICE, memfs_server};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    None,
    /// Every third WRITE is acknowledged but not applied.
    LoseWrites,
    /// Every READ answer has its first byte flipped.
    CorruptReads,
}

#[derive(Debug)]
struct Faulty {
    fs: MemFs,
    fault: Fault,
    writes: u64,
}

impl Backend for Faulty {
    fn perform(&mut self, req: OpRequest) -> Option<Result<OpReply, NtStatus>> {
        if let (Fault::LoseWrites, FsOp::Write { data, .. }) = (self.fault, &req.op) {
            self.writes += 1;
            if self.writes % 3 == 0 {
                let count = u32::try_from(data.len()).unwrap_or(0);
                return Some(Ok(OpReply::Write { count }));
            }
        }
        let r = self.fs.handle(req);
        match (self.fault, r) {
            (Fault::CorruptReads, Some(Ok(OpReply::Read(mut buf)))) => {
                let n = buf.len();
                if let Some(b) = buf.prepare(n).first_mut() {
                    *b ^= 0x80;
                }
                Some(Ok(OpReply::Read(buf)))
            }
            (_, r) => r,
        }
    }

    fn cancel(&mut self, op: OpId) -> Option<Result<OpReply, NtStatus>> {
        self.fs.cancel(op)
    }

    fn poll_ready(&mut self) -> Option<(OpId, Result<OpReply, NtStatus>)> {
        self.fs.poll_ready()
    }

    fn contents(&self, share: &str, path: &str) -> Option<Vec<u8>> {
        Backend::contents(&self.fs, share, path)
    }

    fn open_count(&self) -> usize {
        self.fs.open_count()
    }
}

fn sim(seed: u64, fault: Fault, config: SimConfig, worker: FileWorkerConfig) -> Sim {
    let sc = memfs_server(&[ALICE]);
    let mut sim = Sim::new(seed, config);
    let server = sim.add_server(ServerSpec {
        config: sc,
        backend: Box::new(Faulty {
            fs: MemFs::new(),
            fault,
            writes: 0,
        }),
        factory: smb_server_factory(),
    });
    sim.add_client(
        ClientSpec {
            config: ClientConfig {
                server_name: "srv".into(),
                request_timeout: Duration::from_secs(5),
                ..ClientConfig::default()
            },
            server,
            transport: TransportKind::Tcp,
            workload: Box::new(FileWorker::new(worker)),
        },
        Duration::ZERO,
    );
    sim
}

fn kinds(sim: &Sim) -> Vec<ViolationKind> {
    sim.violations().iter().map(|v| v.kind).collect()
}

fn writes_then_reads() -> FileWorkerConfig {
    FileWorkerConfig {
        blocks: 12,
        ops: 24,
        plan: Plan::Sequential,
        ..FileWorkerConfig::default()
    }
}

#[test]
fn an_honest_backend_passes() {
    let mut s = sim(1, Fault::None, SimConfig::default(), writes_then_reads());
    s.run();
    assert!(s.violations().is_empty(), "{:?}", s.violations());
    let model = s.model(0).expect("server 0");
    assert_eq!(model.counts(), (12, 12));
}

#[test]
fn lost_acknowledged_writes_are_detected() {
    let mut s = sim(
        1,
        Fault::LoseWrites,
        SimConfig::default(),
        writes_then_reads(),
    );
    s.run();
    let k = kinds(&s);
    // The reads saw the loss (as data no acknowledged write explains) and so did the final
    // content check.
    assert!(k.contains(&ViolationKind::Content), "{k:?}");
    assert!(k.contains(&ViolationKind::ForgedData), "{k:?}");
}

#[test]
fn corrupted_read_data_is_detected() {
    let mut s = sim(
        1,
        Fault::CorruptReads,
        SimConfig::default(),
        writes_then_reads(),
    );
    s.run();
    let k = kinds(&s);
    assert!(k.contains(&ViolationKind::ForgedData), "{k:?}");
    assert!(!k.contains(&ViolationKind::Content), "{k:?}");
}

#[test]
fn stuck_ops_still_end_every_request_within_the_bound() {
    let config = SimConfig {
        latency: LatencyModel {
            stuck: 0.3,
            ..LatencyModel::default()
        },
        request_bound: Duration::from_secs(15),
        ..SimConfig::default()
    };
    let worker = FileWorkerConfig {
        max_reconnects: 50,
        ..FileWorkerConfig::default()
    };
    let mut s = sim(3, Fault::None, config, worker);
    s.run();
    assert!(s.violations().is_empty(), "{:?}", s.violations());
    assert!(s.metrics().get("reconnects").copied().unwrap_or(0) > 0);
    // Virtual time moved past at least one 5 s request timeout, in no real time at all.
    assert!(s.now().as_duration() >= Duration::from_secs(5));
}

#[test]
fn link_faults_and_a_crash_run_clean() {
    let config = SimConfig {
        link: driver_sim::link::LinkConfig::rough(),
        ..SimConfig::default()
    };
    let worker = FileWorkerConfig {
        ops: 200,
        max_reconnects: 30,
        ..FileWorkerConfig::default()
    };
    let mut s = sim(5, Fault::None, config, worker);
    for (ms, action) in [
        (
            5,
            FaultAction::Stall {
                client: 0,
                upstream: true,
            },
        ),
        (
            40,
            FaultAction::Release {
                client: 0,
                upstream: true,
            },
        ),
        (60, FaultAction::Partition { client: 0 }),
        (90, FaultAction::Heal { client: 0 }),
        (120, FaultAction::ChangeAddress { client: 0 }),
        (150, FaultAction::Crash { server: 0 }),
        (400, FaultAction::Restart { server: 0 }),
    ] {
        s.schedule(Duration::from_millis(ms), action);
    }
    s.run();
    assert!(s.violations().is_empty(), "{:?}", s.violations());
    assert!(s.stats().connections >= 2, "{:?}", s.stats());
    assert!(s.stats().faults >= 6, "{:?}", s.stats());
}

/// A second client scripted by a closure: log on, ECHO (on the session or sessionless), done.
fn closure_echo(on_session: bool) {
    use driver_sim::workload::FnWorkload;
    use smb_proto::client::Event;
    use smb_proto::wire::echo::EchoRequest;
    use smb_proto::wire::message::RequestBody;
    use smb_proto::wire::{SessionId, TreeId};

    let mut s = sim(
        9,
        Fault::None,
        SimConfig::default(),
        FileWorkerConfig::default(),
    );
    let client = ClientSpec {
        config: ClientConfig {
            server_name: "srv".into(),
            ..ClientConfig::default()
        },
        server: 0,
        transport: TransportKind::Tcp,
        workload: Box::new(FnWorkload::new(move |api, ev| match ev {
            Some(Event::Negotiated(_)) => {
                api.session_setup("alice", "WORKGROUP", "secret").is_err()
            }
            Some(Event::SessionReady { session, .. }) => {
                let sid = if on_session { *session } else { SessionId(0) };
                api.request(sid, TreeId(0), RequestBody::Echo(EchoRequest))
                    .is_err()
            }
            Some(Event::Response { result: Ok(r), .. }) => {
                let echoed = r.header.command == smb_proto::wire::Command::ECHO;
                if echoed {
                    api.metric_add("echo_ok", 1);
                }
                echoed
            }
            Some(e @ (Event::Response { result: Err(_), .. } | Event::Closed { .. })) => {
                api.metric_add(&format!("{e:?}"), 1);
                true
            }
            _ => false,
        })),
    };
    s.add_client(client, Duration::from_millis(1));
    s.run();
    assert!(s.violations().is_empty(), "{:?}", s.violations());
    assert_eq!(s.metrics().get("echo_ok"), Some(&1), "{:?}", s.metrics());
    assert!(s.stats().requests_ended >= 3, "{:?}", s.stats());
}

#[test]
fn a_closure_workload_drives_the_client_sessionless_echo() {
    closure_echo(false);
}

/// Found by the simulator: the client signs an ECHO sent on a session, and the server used to
/// answer it unsigned, so the client (signing required) closed the connection. The server now
/// signs ECHO responses on a session; this guards it.
#[test]
fn a_closure_workload_drives_the_client_session_echo() {
    closure_echo(true);
}

/// An idle session survives 200 virtual seconds of keepalives (client ECHO every 60 s, server
/// idle timeout) in no real time.
#[test]
fn an_idle_session_survives_keepalives() {
    use driver_sim::time::SimTime;
    use driver_sim::workload::FnWorkload;
    use smb_proto::client::Event;

    let mut s = sim(
        9,
        Fault::None,
        SimConfig::default(),
        FileWorkerConfig::default(),
    );
    let mut ready = false;
    let client = ClientSpec {
        config: ClientConfig {
            server_name: "srv".into(),
            ..ClientConfig::default()
        },
        server: 0,
        transport: TransportKind::Tcp,
        workload: Box::new(FnWorkload::new(move |api, ev| match ev {
            Some(Event::Negotiated(_)) => {
                api.session_setup("alice", "WORKGROUP", "secret").is_err()
            }
            Some(Event::SessionReady { .. }) => {
                ready = true;
                api.wake_at(SimTime::ZERO.plus(Duration::from_secs(200)));
                false
            }
            Some(Event::Closed { reason }) => {
                api.metric_add(&format!("closed: {reason}"), 1);
                true
            }
            None if ready => {
                api.metric_add("idle_survived", 1);
                true
            }
            _ => false,
        })),
    };
    s.add_client(client, Duration::from_millis(1));
    s.run();
    assert!(s.violations().is_empty(), "{:?}", s.violations());
    assert_eq!(
        s.metrics().get("idle_survived"),
        Some(&1),
        "{:?}",
        s.metrics()
    );
    assert!(s.now() >= SimTime::ZERO.plus(Duration::from_secs(200)));
}

fn dialect_does_file_io(d: smb_proto::wire::Dialect) {
    {
        let mut s = sim(
            2,
            Fault::None,
            SimConfig::default(),
            FileWorkerConfig::default(),
        );
        // Replace client 0's dialect range by adding a second client pinned to `d`.
        s.add_client(
            ClientSpec {
                config: ClientConfig {
                    server_name: "srv".into(),
                    min_dialect: d,
                    max_dialect: d,
                    ..ClientConfig::default()
                },
                server: 0,
                transport: TransportKind::Tcp,
                workload: Box::new(FileWorker::new(FileWorkerConfig {
                    file: "pinned.dat".into(),
                    max_reconnects: 0,
                    ..FileWorkerConfig::default()
                })),
            },
            Duration::from_millis(1),
        );
        s.run();
        assert!(s.violations().is_empty(), "{d}: {:?}", s.violations());
        let m = s.metrics();
        assert_eq!(m.get("gave_up"), None, "{d}: {m:?}");
        assert_eq!(m.get("workers_done"), Some(&2), "{d}: {m:?}");
    }
}

#[test]
fn every_dialect_does_file_io_without_faults() {
    for d in smb_proto::wire::Dialect::ALL {
        dialect_does_file_io(d);
    }
}

/// A blocking byte-range lock: client 1 holds [0, 10) exclusively; client 2 asks for the same
/// range and waits (memfs keeps the op, the server sends STATUS_PENDING). Then either client 2
/// cancels (the backend's waiting op is cancelled) or client 1 closes its file (the backend
/// grants the waiting lock through `poll_ready`).
fn blocking_lock(cancel: bool) -> Sim {
    use driver_sim::workload::{ClientApi, FnWorkload};
    use driver_sim::workloads::{close_body, create_body};
    use smb_proto::client::Event;
    use smb_proto::wire::create::{CreateDisposition, ShareAccess};
    use smb_proto::wire::fscc::attributes::AccessMask;
    use smb_proto::wire::lock::{LockElement, LockFlags, LockRequest};
    use smb_proto::wire::message::{RequestBody, ResponseBody, ResponsePayload};
    use smb_proto::wire::{FileId, SessionId, TreeId};

    fn locker(
        holder: bool,
        cancel: bool,
    ) -> impl FnMut(&mut ClientApi<'_>, Option<&Event>) -> bool {
        let (mut sid, mut tid, mut fid) = (SessionId(0), TreeId(0), FileId::RELATED);
        let mut step = 0u8;
        move |api, ev| {
            let tag = if holder { "holder" } else { "waiter" };
            match ev {
                Some(Event::Negotiated(_)) => {
                    let _ = api.session_setup("alice", "WORKGROUP", "secret");
                }
                Some(Event::SessionReady { session, .. }) => {
                    sid = *session;
                    let _ = api.tree_connect(sid, "share");
                }
                Some(Event::Pending { id }) if !holder => {
                    api.metric_add("waiter_pending", 1);
                    if cancel {
                        let _ = api.cancel(*id);
                    }
                }
                Some(Event::Response { result: Ok(r), .. }) => {
                    let status = r.header.status;
                    match (step, &r.payload) {
                        (0, _) => {
                            tid = r.header.tree_id().unwrap_or(TreeId(0));
                            step = 1;
                            let body = create_body(
                                "lock.dat",
                                CreateDisposition::OPEN_IF,
                                ShareAccess::READ | ShareAccess::WRITE | ShareAccess::DELETE,
                                AccessMask::GENERIC_READ | AccessMask::GENERIC_WRITE,
                            );
                            let _ = api.request(sid, tid, body);
                        }
                        (1, ResponsePayload::Body(ResponseBody::Create(c))) => {
                            fid = c.file_id;
                            step = 2;
                            let lock = RequestBody::Lock(LockRequest {
                                lock_sequence: 0,
                                file_id: fid,
                                locks: vec![LockElement {
                                    offset: 0,
                                    length: 10,
                                    flags: LockFlags::EXCLUSIVE_LOCK,
                                }],
                            });
                            let _ = api.request(sid, tid, lock);
                        }
                        (2, _) => {
                            api.metric_add(&format!("{tag}_lock_{status}"), 1);
                            step = 3;
                            if holder {
                                // Hold the lock for 5 s, then close the file.
                                api.wake_at(api.time().plus(Duration::from_secs(5)));
                            } else {
                                return true;
                            }
                        }
                        (3, _) => return true,
                        _ => {}
                    }
                }
                Some(Event::Response { result: Err(e), .. }) => {
                    let name = match e {
                        smb_proto::client::RequestError::Status { status, .. } => {
                            format!("{tag}_lock_{status}")
                        }
                        other => format!("{tag}_error {other}"),
                    };
                    api.metric_add(&name, 1);
                    return step >= 2;
                }
                Some(Event::Closed { .. }) => return true,
                None if holder && step == 3 => {
                    let _ = api.request(sid, tid, close_body(fid));
                }
                _ => {}
            }
            false
        }
    }

    let mut s = sim(
        4,
        Fault::None,
        SimConfig::default(),
        FileWorkerConfig::default(),
    );
    for (holder, start) in [(true, 0), (false, 100)] {
        s.add_client(
            ClientSpec {
                config: ClientConfig {
                    server_name: "srv".into(),
                    ..ClientConfig::default()
                },
                server: 0,
                transport: TransportKind::Tcp,
                workload: Box::new(FnWorkload::new(locker(holder, cancel))),
            },
            Duration::from_millis(start),
        );
    }
    s.run();
    assert!(s.violations().is_empty(), "{:?}", s.violations());
    s
}

#[test]
fn a_blocked_lock_goes_pending_and_is_cancelled() {
    let s = blocking_lock(true);
    let m = s.metrics();
    assert_eq!(m.get("holder_lock_SUCCESS"), Some(&1), "{m:?}");
    assert_eq!(m.get("waiter_pending"), Some(&1), "{m:?}");
    assert_eq!(m.get("waiter_lock_CANCELLED"), Some(&1), "{m:?}");
}

#[test]
fn a_blocked_lock_is_granted_when_the_holder_closes() {
    let s = blocking_lock(false);
    let m = s.metrics();
    assert_eq!(m.get("holder_lock_SUCCESS"), Some(&1), "{m:?}");
    assert_eq!(m.get("waiter_pending"), Some(&1), "{m:?}");
    assert_eq!(m.get("waiter_lock_SUCCESS"), Some(&1), "{m:?}");
    // Granted only after the holder's 5 s.
    assert!(s.now().as_duration() >= Duration::from_secs(5));
}
