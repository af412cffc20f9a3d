//! The workloads the scenarios use.
//!
//! Owns: [`FileWorker`], a client that logs on, connects a share and then reads and writes
//! its own file (block-aligned, pipelined, every write recorded in the model and every read
//! checked against it) while optionally churning shared files (open with random share modes,
//! write, rename, delete, close) and cancelling requests that went async; it reconnects after
//! a lost connection up to a limit. [`AuthProbe`] logs on with a wrong password and measures
//! how long the failure takes. Must not: know about links or faults (they happen to it).

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use smb_proto::client::{Event, RequestError, RequestId, SendError};
use smb_proto::wire::close::{CloseFlags, CloseRequest};
use smb_proto::wire::create::{
    CreateDisposition, CreateOptions, CreateRequest, ImpersonationLevel, OplockLevel, ShareAccess,
};
use smb_proto::wire::fscc::attributes::{AccessMask, FileAttributes};
use smb_proto::wire::fscc::file::{
    FileDispositionInformation, FileRenameInformation, FileStandardInformation,
};
use smb_proto::wire::fscc::{FileInfoClass, InfoCodec};
use smb_proto::wire::message::{RequestBody, Response, ResponseBody, ResponsePayload};
use smb_proto::wire::query_info::{AdditionalInformation, InfoType, QueryInfoRequest};
use smb_proto::wire::read::{Channel, ReadRequest};
use smb_proto::wire::set_info::SetInfoRequest;
use smb_proto::wire::status::NtStatus;
use smb_proto::wire::write::{WriteFlags, WriteRequest};
use smb_proto::wire::{FileId, SessionId, TreeId};

use crate::invariants::ViolationKind;
use crate::model::WriteId;
use crate::time::SimTime;
use crate::workload::{ClientApi, Workload};

/// The order of a [`FileWorker`]'s reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// Random blocks, about 70 % writes.
    Random,
    /// Write every block in order, then read every block back.
    Sequential,
}

/// Settings of a [`FileWorker`].
#[derive(Debug, Clone)]
pub struct FileWorkerConfig {
    /// User name.
    pub user: String,
    /// Password.
    pub password: String,
    /// Share to connect.
    pub share: String,
    /// This client's own file.
    pub file: String,
    /// Block size (bytes) of reads and writes.
    pub block: u64,
    /// Blocks per request (1 = one block per READ/WRITE).
    pub blocks_per_io: u64,
    /// Number of blocks in the file.
    pub blocks: u64,
    /// Reads and writes to issue in total.
    pub ops: u64,
    /// Requests kept in flight.
    pub depth: usize,
    /// Order of the I/O.
    pub plan: Plan,
    /// Probability that an op is a shared-file churn step instead of file I/O.
    pub churn: f64,
    /// Shared file names to churn.
    pub shared_files: u32,
    /// Probability that an op is a related compound chain on the own file instead
    /// (CREATE+WRITE+CLOSE, CREATE+READ+CLOSE, CREATE+QUERY_INFO+CLOSE, or a chain whose
    /// CREATE fails).
    pub chains: f64,
    /// Cancel a request that went async with this probability.
    pub cancel: f64,
    /// Reconnects allowed after a lost connection.
    pub max_reconnects: u32,
    /// Treat a churn status outside the legitimate race outcomes as a violation. Off under
    /// the adversary, whose corrupted requests draw other (genuine) errors from the server.
    pub strict_status: bool,
    /// Delay before reconnecting.
    pub reconnect_delay: Duration,
}

impl Default for FileWorkerConfig {
    fn default() -> Self {
        Self {
            user: "alice".into(),
            password: "secret".into(),
            share: "share".into(),
            file: "c0.dat".into(),
            block: 512,
            blocks_per_io: 1,
            blocks: 16,
            ops: 40,
            depth: 4,
            plan: Plan::Random,
            churn: 0.0,
            shared_files: 3,
            chains: 0.0,
            cancel: 0.0,
            max_reconnects: 5,
            strict_status: true,
            reconnect_delay: Duration::from_millis(200),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for NEGOTIATE.
    Connecting,
    /// SESSION_SETUP in progress.
    Authenticating,
    /// TREE_CONNECT in progress.
    ConnectingTree,
    /// Opening the own file.
    Opening,
    /// Reading and writing.
    Working,
}

#[derive(Debug)]
enum Pend {
    Setup,
    Tree,
    CreateOwn,
    Write {
        wid: Option<WriteId>,
    },
    Read {
        offset: u64,
        len: u64,
        sent: SimTime,
    },
    CloseOwn,
    Churn {
        slot: usize,
        step: ChurnStep,
    },
    /// A CREATE, QUERY_INFO or CLOSE of a compound chain (its WRITE and READ are tracked as
    /// `Write` and `Read`).
    Chain {
        step: ChainStep,
        sent: SimTime,
    },
}

/// A step of a compound chain whose status and result the worker checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChainStep {
    /// The chain's CREATE of the own file: must succeed.
    Create,
    /// QUERY_INFO FileStandardInformation: EndOfFile must fit the model.
    QueryInfo,
    /// The chain's CLOSE: must succeed.
    Close,
    /// Any step of a chain that opens a missing file: each must fail with
    /// OBJECT_NAME_NOT_FOUND, the CREATE's status (MS-SMB2 3.3.5.2.7.2).
    Missing,
}

/// The name a failing chain opens (never created).
const MISSING: &str = "missing.dat";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChurnStep {
    Create,
    Write,
    Rename,
    Delete,
    Close,
}

/// One shared-file churn in progress.
#[derive(Debug, Clone)]
struct Churn {
    file: Option<FileId>,
    name: String,
    busy: bool,
    steps_left: u32,
}

/// A client doing file I/O (see the module docs).
#[derive(Debug)]
pub struct FileWorker {
    cfg: FileWorkerConfig,
    phase: Phase,
    session: SessionId,
    tree: TreeId,
    own: Option<FileId>,
    created: bool,
    pending: BTreeMap<RequestId, Pend>,
    issued: u64,
    seq_block: u64,
    churns: Vec<Churn>,
    reconnects: u32,
    waiting_credits: bool,
    closing: bool,
    done: bool,
    gave_up: bool,
}

/// Statuses a churn step may legitimately meet when other clients race on the same names.
const CHURN_OK: [NtStatus; 11] = [
    NtStatus::SUCCESS,
    NtStatus::SHARING_VIOLATION,
    NtStatus::OBJECT_NAME_NOT_FOUND,
    NtStatus::OBJECT_NAME_COLLISION,
    NtStatus::OBJECT_PATH_NOT_FOUND,
    NtStatus::DELETE_PENDING,
    NtStatus::ACCESS_DENIED,
    NtStatus::FILE_CLOSED,
    NtStatus::CANCELLED,
    NtStatus::FILE_DELETED,
    NtStatus::CANNOT_DELETE,
];

impl FileWorker {
    /// A worker with these settings.
    pub fn new(cfg: FileWorkerConfig) -> Self {
        let churns = (0..cfg.shared_files)
            .map(|k| Churn {
                file: None,
                name: format!("shared{k}.txt"),
                busy: false,
                steps_left: 0,
            })
            .collect();
        Self {
            cfg,
            phase: Phase::Connecting,
            session: SessionId(0),
            tree: TreeId(0),
            own: None,
            created: false,
            pending: BTreeMap::new(),
            issued: 0,
            seq_block: 0,
            churns,
            reconnects: 0,
            waiting_credits: false,
            closing: false,
            done: false,
            gave_up: false,
        }
    }

    fn io_len(&self) -> u64 {
        self.cfg.block * self.cfg.blocks_per_io.max(1)
    }

    /// Issues requests until the pipeline is full.
    fn pump(&mut self, api: &mut ClientApi<'_>) {
        if self.phase != Phase::Working || self.waiting_credits || self.done {
            return;
        }
        let Some(own) = self.own else {
            return;
        };
        while self.pending.len() < self.cfg.depth && self.issued < self.cfg.ops {
            let churn_slot = if self.cfg.churn > 0.0 && api.rng().chance(self.cfg.churn) {
                let n = self.churns.len() as u64;
                let k = api.rng().below(n) as usize;
                self.churns.get(k).filter(|c| !c.busy).map(|_| k)
            } else {
                None
            };
            let chain = self.cfg.chains > 0.0 && api.rng().chance(self.cfg.chains);
            let sent = match churn_slot {
                _ if chain => self.chain(api),
                Some(k) => self.churn_step(api, k),
                None => self.io(api, own),
            };
            match sent {
                Ok(()) => self.issued += 1,
                Err(SendError::Credits(_)) => {
                    self.waiting_credits = true;
                    return;
                }
                Err(e) => {
                    api.metric_add(&format!("send_error {e}"), 1);
                    if self.pending.is_empty() {
                        // Nothing in flight will wake us: start over on a new connection.
                        self.lost_connection(api);
                    }
                    return;
                }
            }
        }
        if self.issued >= self.cfg.ops && !self.closing && self.pending.is_empty() {
            self.close_all(api);
        }
    }

    fn io(&mut self, api: &mut ClientApi<'_>, own: FileId) -> Result<(), SendError> {
        let ios = (self.cfg.blocks / self.cfg.blocks_per_io.max(1)).max(1);
        let (write, io_index) = match self.cfg.plan {
            Plan::Random => {
                let w = api.rng().chance(0.7);
                (w, api.rng().below(ios))
            }
            Plan::Sequential => {
                let i = self.seq_block;
                self.seq_block += 1;
                (i < ios, i % ios)
            }
        };
        let len = self.io_len();
        let offset = io_index * len;
        if write {
            let mut data = vec![0u8; usize::try_from(len).unwrap_or(0)];
            api.rng().fill_data(&mut data);
            let data = Bytes::from(data);
            let body = write_body(own, offset, data.clone());
            let id = api.request(self.session, self.tree, body)?;
            let now = api.time();
            let wid = api
                .model()
                .write_sent(&self.cfg.file, offset, data, now)
                .ok();
            self.pending.insert(id, Pend::Write { wid });
        } else {
            let body = read_body(own, offset, len);
            let id = api.request(self.session, self.tree, body)?;
            let sent = api.time();
            self.pending.insert(id, Pend::Read { offset, len, sent });
        }
        Ok(())
    }

    /// Sends one related compound chain on the own file through a second open
    /// (MS-SMB2 3.2.4.1.4): CREATE, then a WRITE, READ or QUERY_INFO on `FileId::RELATED`,
    /// then CLOSE; or the same chain on a missing file.
    fn chain(&mut self, api: &mut ClientApi<'_>) -> Result<(), SendError> {
        let kind = api.rng().below(4);
        let ios = (self.cfg.blocks / self.cfg.blocks_per_io.max(1)).max(1);
        let len = self.io_len();
        let offset = api.rng().below(ios) * len;
        let name = if kind == 3 {
            MISSING.to_owned()
        } else {
            self.cfg.file.clone()
        };
        let create = create_body(
            &name,
            CreateDisposition::OPEN,
            ShareAccess::READ | ShareAccess::WRITE | ShareAccess::DELETE,
            AccessMask::GENERIC_READ | AccessMask::GENERIC_WRITE,
        );
        let mut data = Bytes::new();
        let middle = match kind {
            0 => {
                let mut buf = vec![0u8; usize::try_from(len).unwrap_or(0)];
                api.rng().fill_data(&mut buf);
                data = Bytes::from(buf);
                write_body(FileId::RELATED, offset, data.clone())
            }
            2 => RequestBody::QueryInfo(QueryInfoRequest {
                info_type: InfoType::FILE,
                info_class: FileInfoClass::STANDARD.0,
                output_buffer_length: 64,
                file_id: FileId::RELATED,
                ..QueryInfoRequest::default()
            }),
            _ => read_body(FileId::RELATED, offset, len),
        };
        let bodies = vec![create, middle, close_body(FileId::RELATED)];
        let ids = api.compound(self.session, self.tree, bodies, true)?;
        let sent = api.time();
        let &[create_id, middle_id, close_id] = ids.as_slice() else {
            api.violation(
                ViolationKind::Protocol,
                format!("a 3-request chain got {} request ids", ids.len()),
            );
            return Ok(());
        };
        api.metric_add("chains", 1);
        let kind_metric = [
            "chain_write",
            "chain_read",
            "chain_query_info",
            "chain_missing",
        ];
        api.metric_add(
            kind_metric
                .get(kind as usize)
                .copied()
                .unwrap_or("chain_other"),
            1,
        );
        let step = |step| Pend::Chain { step, sent };
        let (first, middle, last) = match kind {
            0 => {
                let wid = api.model().write_sent(&name, offset, data, sent).ok();
                (
                    step(ChainStep::Create),
                    Pend::Write { wid },
                    step(ChainStep::Close),
                )
            }
            1 => (
                step(ChainStep::Create),
                Pend::Read { offset, len, sent },
                step(ChainStep::Close),
            ),
            2 => (
                step(ChainStep::Create),
                step(ChainStep::QueryInfo),
                step(ChainStep::Close),
            ),
            _ => (
                step(ChainStep::Missing),
                step(ChainStep::Missing),
                step(ChainStep::Missing),
            ),
        };
        self.pending.insert(create_id, first);
        self.pending.insert(middle_id, middle);
        self.pending.insert(close_id, last);
        Ok(())
    }

    /// Checks the answer to a chain step.
    fn chain_answer(
        &mut self,
        api: &mut ClientApi<'_>,
        step: ChainStep,
        sent: SimTime,
        status: NtStatus,
        body: Option<&ResponseBody>,
    ) {
        api.metric_add("chain_steps", 1);
        let expected = if step == ChainStep::Missing {
            NtStatus::OBJECT_NAME_NOT_FOUND
        } else {
            NtStatus::SUCCESS
        };
        if status != expected {
            api.metric_add(&format!("chain_status_{status}"), 1);
            if self.cfg.strict_status {
                api.violation(
                    ViolationKind::Protocol,
                    format!("chain {step:?} answered {status}, expected {expected}"),
                );
            }
            return;
        }
        if step != ChainStep::QueryInfo {
            return;
        }
        let info = match body {
            Some(ResponseBody::QueryInfo(q)) => FileStandardInformation::decode(&q.buffer).ok(),
            _ => None,
        };
        let Some(info) = info else {
            api.violation(
                ViolationKind::Protocol,
                "chain QUERY_INFO succeeded without a FileStandardInformation".into(),
            );
            return;
        };
        let file = self.cfg.file.clone();
        if let Err(e) = api.model().check_size(&file, info.end_of_file, sent) {
            api.violation(
                ViolationKind::ForgedData,
                format!("chain QUERY_INFO returned {e}"),
            );
        }
    }

    fn churn_step(&mut self, api: &mut ClientApi<'_>, k: usize) -> Result<(), SendError> {
        let Some(c) = self.churns.get(k).cloned() else {
            return Ok(());
        };
        let (step, body) = match c.file {
            None => {
                let share = match api.rng().below(4) {
                    0 => ShareAccess::default(),
                    1 => ShareAccess::READ,
                    2 => ShareAccess::READ | ShareAccess::WRITE,
                    _ => ShareAccess::READ | ShareAccess::WRITE | ShareAccess::DELETE,
                };
                let disposition = if api.rng().chance(0.5) {
                    CreateDisposition::OPEN_IF
                } else {
                    CreateDisposition::CREATE
                };
                (
                    ChurnStep::Create,
                    create_body(
                        &c.name,
                        disposition,
                        share,
                        AccessMask::GENERIC_READ | AccessMask::GENERIC_WRITE | AccessMask::DELETE,
                    ),
                )
            }
            Some(fid) if c.steps_left == 0 => (ChurnStep::Close, close_body(fid)),
            Some(fid) => match api.rng().below(4) {
                0 | 1 => {
                    let mut data = vec![0u8; 64];
                    api.rng().fill_data(&mut data);
                    let offset = api.rng().below(4) * 64;
                    (ChurnStep::Write, write_body(fid, offset, Bytes::from(data)))
                }
                2 => {
                    let target = format!(
                        "shared{}.txt",
                        api.rng().below(self.churns.len() as u64 + 1)
                    );
                    let info = FileRenameInformation {
                        replace_if_exists: api.rng().chance(0.5),
                        root_directory: 0,
                        file_name: target,
                    };
                    match info.to_bytes() {
                        Ok(buffer) => (
                            ChurnStep::Rename,
                            set_info(fid, FileInfoClass::RENAME, buffer),
                        ),
                        Err(_) => return Ok(()),
                    }
                }
                _ => match (FileDispositionInformation {
                    delete_pending: true,
                })
                .to_bytes()
                {
                    Ok(buffer) => (
                        ChurnStep::Delete,
                        set_info(fid, FileInfoClass::DISPOSITION, buffer),
                    ),
                    Err(_) => return Ok(()),
                },
            },
        };
        let id = api.request(self.session, self.tree, body)?;
        if let Some(c) = self.churns.get_mut(k) {
            c.busy = true;
            c.steps_left = c.steps_left.saturating_sub(1);
        }
        self.pending.insert(id, Pend::Churn { slot: k, step });
        Ok(())
    }

    fn close_all(&mut self, api: &mut ClientApi<'_>) {
        self.closing = true;
        for k in 0..self.churns.len() {
            let fid = self.churns.get(k).and_then(|c| c.file);
            if let Some(fid) = fid {
                if let Ok(id) = api.request(self.session, self.tree, close_body(fid)) {
                    self.pending.insert(
                        id,
                        Pend::Churn {
                            slot: k,
                            step: ChurnStep::Close,
                        },
                    );
                }
            }
        }
        if let Some(own) = self.own {
            match api.request(self.session, self.tree, close_body(own)) {
                Ok(id) => {
                    self.pending.insert(id, Pend::CloseOwn);
                }
                Err(_) => self.finish(api),
            }
        } else {
            self.finish(api);
        }
    }

    fn finish(&mut self, api: &mut ClientApi<'_>) {
        if !self.done {
            self.done = true;
            api.metric_add("workers_done", 1);
            api.close_connection();
        }
    }

    fn lost_connection(&mut self, api: &mut ClientApi<'_>) {
        self.pending.clear();
        self.own = None;
        self.waiting_credits = false;
        for c in &mut self.churns {
            c.file = None;
            c.busy = false;
        }
        if self.done {
            return;
        }
        if self.reconnects < self.cfg.max_reconnects {
            self.reconnects += 1;
            api.metric_add("reconnects", 1);
            self.phase = Phase::Connecting;
            self.closing = false;
            let d = self.cfg.reconnect_delay;
            api.reconnect(d);
        } else {
            self.done = true;
            self.gave_up = true;
            api.metric_add("gave_up", 1);
        }
    }

    fn on_response(
        &mut self,
        api: &mut ClientApi<'_>,
        id: RequestId,
        result: &Result<Response, RequestError>,
    ) {
        let Some(p) = self.pending.remove(&id) else {
            return;
        };
        let status = match result {
            Ok(r) => r.header.status,
            Err(RequestError::Status { status, .. }) => *status,
            Err(RequestError::ConnectionClosed(_)) => {
                // The Closed event follows and starts over; send nothing on this connection.
                self.phase = Phase::Connecting;
                return;
            }
            Err(e) => {
                // Our side refused (authentication or security requirements): start over.
                api.metric_add(&format!("request_error {e}"), 1);
                self.lost_connection(api);
                return;
            }
        };
        let body = match result {
            Ok(Response {
                payload: ResponsePayload::Body(b),
                ..
            }) => Some(b),
            _ => None,
        };
        match p {
            Pend::Setup => {
                // SessionReady reports success; a response here is a failure.
                api.metric_add("auth_failures", 1);
                self.lost_or_fail(api, status);
            }
            Pend::Tree => match (status, result) {
                (NtStatus::SUCCESS, Ok(r)) => {
                    self.tree = r.header.tree_id().unwrap_or(TreeId(0));
                    self.open_own(api);
                }
                _ => self.lost_or_fail(api, status),
            },
            Pend::CreateOwn => match body {
                Some(ResponseBody::Create(c)) if status == NtStatus::SUCCESS => {
                    self.own = Some(c.file_id);
                    if !self.created {
                        self.created = true;
                        let block = self.cfg.block;
                        api.model().create(&self.cfg.file, block);
                    }
                    self.phase = Phase::Working;
                }
                _ => self.lost_or_fail(api, status),
            },
            Pend::Write { wid } => {
                let now = api.time();
                if let Some(w) = wid {
                    if status == NtStatus::SUCCESS {
                        api.model().write_acked(w, now);
                    } else {
                        api.model().write_failed(w);
                    }
                }
                self.count_status(api, "write", status);
            }
            Pend::Read { offset, len, sent } => {
                let data: &[u8] = match body {
                    Some(ResponseBody::Read(r)) if status == NtStatus::SUCCESS => &r.data,
                    _ if status == NtStatus::END_OF_FILE => &[],
                    _ => {
                        self.count_status(api, "read", status);
                        return self.pump(api);
                    }
                };
                let file = self.cfg.file.clone();
                if let Err(e) = api.model().check_read(&file, offset, len, data, sent) {
                    api.violation(ViolationKind::ForgedData, format!("READ returned {e}"));
                }
                self.count_status(api, "read", status);
            }
            Pend::Chain { step, sent } => self.chain_answer(api, step, sent, status, body),
            Pend::CloseOwn => {
                self.own = None;
                self.finish(api);
                return;
            }
            Pend::Churn { slot, step } => {
                if !CHURN_OK.contains(&status) {
                    api.metric_add(&format!("churn_status_{status}"), 1);
                }
                if !CHURN_OK.contains(&status) && self.cfg.strict_status {
                    api.violation(
                        ViolationKind::Protocol,
                        format!("churn {step:?} answered {status}"),
                    );
                }
                api.metric_add("churn_steps", 1);
                if let Some(c) = self.churns.get_mut(slot) {
                    c.busy = false;
                    match (step, status, body) {
                        (ChurnStep::Create, NtStatus::SUCCESS, Some(ResponseBody::Create(r))) => {
                            c.file = Some(r.file_id);
                            c.steps_left = 3;
                        }
                        (ChurnStep::Close, _, _) => c.file = None,
                        (_, NtStatus::FILE_CLOSED, _) => c.file = None,
                        _ => {}
                    }
                }
            }
        }
        self.pump(api);
    }

    fn count_status(&mut self, api: &mut ClientApi<'_>, what: &str, status: NtStatus) {
        if status == NtStatus::SUCCESS || status == NtStatus::END_OF_FILE {
            api.metric_add(&format!("{what}_ok"), 1);
        } else {
            api.metric_add(&format!("{what}_err"), 1);
        }
    }

    /// A setup step failed: try again on a new connection, within the reconnect budget.
    fn lost_or_fail(&mut self, api: &mut ClientApi<'_>, status: NtStatus) {
        api.metric_add(&format!("setup_failed_{status}"), 1);
        self.lost_connection(api);
    }

    fn open_own(&mut self, api: &mut ClientApi<'_>) {
        self.phase = Phase::Opening;
        let disposition = if self.created {
            CreateDisposition::OPEN_IF
        } else {
            CreateDisposition::OVERWRITE_IF
        };
        let body = create_body(
            &self.cfg.file,
            disposition,
            // Full sharing: an open left behind by a lost connection must not lock us out.
            ShareAccess::READ | ShareAccess::WRITE | ShareAccess::DELETE,
            AccessMask::GENERIC_READ | AccessMask::GENERIC_WRITE,
        );
        match api.request(self.session, self.tree, body) {
            Ok(id) => {
                self.pending.insert(id, Pend::CreateOwn);
            }
            Err(_) => self.lost_connection(api),
        }
    }
}

impl Workload for FileWorker {
    fn start(&mut self, _api: &mut ClientApi<'_>) {
        self.phase = Phase::Connecting;
    }

    fn event(&mut self, api: &mut ClientApi<'_>, event: &Event) {
        match event {
            Event::Negotiated(n) => {
                api.metric_add(&format!("dialect_{}", n.dialect), 1);
                if let Some(c) = n.cipher {
                    api.metric_add(&format!("cipher_{c}"), 1);
                }
                if let Some(a) = n.signing_algorithm {
                    api.metric_add(&format!("signing_{a}"), 1);
                }
                self.phase = Phase::Authenticating;
                let (user, password) = (self.cfg.user.clone(), self.cfg.password.clone());
                match api.session_setup(&user, "WORKGROUP", &password) {
                    Ok(id) => {
                        self.pending.insert(id, Pend::Setup);
                    }
                    Err(_) => self.lost_connection(api),
                }
            }
            Event::SessionReady { id, session, .. } => {
                self.pending.remove(id);
                self.session = *session;
                self.phase = Phase::ConnectingTree;
                let share = self.cfg.share.clone();
                match api.tree_connect(*session, &share) {
                    Ok(id) => {
                        self.pending.insert(id, Pend::Tree);
                    }
                    Err(_) => self.lost_connection(api),
                }
            }
            Event::Response { id, result } => self.on_response(api, *id, result),
            Event::Pending { id } => {
                api.metric_add("pending", 1);
                let io = matches!(
                    self.pending.get(id),
                    Some(Pend::Read { .. } | Pend::Write { .. })
                );
                if io
                    && self.cfg.cancel > 0.0
                    && api.rng().chance(self.cfg.cancel)
                    && api.cancel(*id).is_ok()
                {
                    api.metric_add("cancels", 1);
                }
            }
            Event::CreditsAvailable { .. } => {
                self.waiting_credits = false;
                self.pump(api);
            }
            Event::Break(_) => api.metric_add("breaks", 1),
            Event::Closed { reason } => {
                if !self.done {
                    api.metric_add(&close_metric(reason), 1);
                    self.lost_connection(api);
                }
            }
        }
        if self.phase == Phase::Working && self.pending.is_empty() && !self.closing {
            self.pump(api);
        }
    }

    fn finished(&self) -> bool {
        self.done
    }
}

/// Logs on with a wrong password `attempts` times (each on its own connection, as a
/// rate-limited client would be forced to), measuring how long each failure took, then logs on
/// correctly once.
#[derive(Debug)]
pub struct AuthProbe {
    user: String,
    password: String,
    attempts: u32,
    failures: u32,
    closes: u32,
    started: SimTime,
    done: bool,
}

impl AuthProbe {
    /// A probe for `user` whose right password is `password`.
    pub fn new(user: &str, password: &str, attempts: u32) -> Self {
        Self {
            user: user.into(),
            password: password.into(),
            attempts,
            failures: 0,
            closes: 0,
            started: SimTime::ZERO,
            done: false,
        }
    }
}

impl Workload for AuthProbe {
    fn start(&mut self, _api: &mut ClientApi<'_>) {}

    fn event(&mut self, api: &mut ClientApi<'_>, event: &Event) {
        match event {
            Event::Negotiated(_) => {
                let wrong = self.failures < self.attempts;
                let pw = if wrong {
                    format!("{}-wrong", self.password)
                } else {
                    self.password.clone()
                };
                let user = self.user.clone();
                self.started = api.time();
                if api.session_setup(&user, "WORKGROUP", &pw).is_err() {
                    self.done = true;
                }
            }
            Event::Response { result: Err(e), .. } => {
                let took = api.time().since(self.started);
                let ms = u64::try_from(took.as_millis()).unwrap_or(u64::MAX);
                let logon_failure = matches!(
                    e,
                    RequestError::Status { status, .. } if *status == NtStatus::LOGON_FAILURE
                );
                if logon_failure && self.failures < self.attempts {
                    self.failures += 1;
                    api.metric_add("auth_failures", 1);
                    let m = api
                        .metrics
                        .entry("auth_fail_min_ms".into())
                        .or_insert(u64::MAX);
                    *m = (*m).min(ms);
                    api.metric_max("auth_fail_max_ms", ms);
                    api.reconnect(Duration::from_millis(10));
                } else if !matches!(e, RequestError::ConnectionClosed(_)) {
                    api.violation(
                        ViolationKind::Protocol,
                        format!("unexpected auth result {e}"),
                    );
                    self.done = true;
                }
            }
            Event::SessionReady { .. } => {
                let ms = u64::try_from(api.time().since(self.started).as_millis()).unwrap_or(0);
                api.metric_max("auth_ok_ms", ms);
                api.metric_add("auth_ok", 1);
                self.done = true;
                api.close_connection();
            }
            Event::Closed { .. } if !self.done => {
                // Lost without an answer: try again, within a budget.
                self.closes += 1;
                if self.closes > self.attempts + 3 {
                    self.done = true;
                } else {
                    api.reconnect(Duration::from_millis(10));
                }
            }
            _ => {}
        }
    }

    fn finished(&self) -> bool {
        self.done
    }
}

/// A metric name for a close reason: its kind, without message ids.
fn close_metric(reason: &smb_proto::client::CloseReason) -> String {
    use smb_proto::client::CloseReason;
    match reason {
        CloseReason::Violation(v) => {
            let d = format!("{v:?}");
            let kind = d.split(['(', ' ', '{']).next().unwrap_or("");
            format!("closed_violation_{kind}")
        }
        CloseReason::TransportClosed => "closed_transport".into(),
        CloseReason::Local => "closed_local".into(),
        CloseReason::RequestTimeout => "closed_timeout".into(),
    }
}

/// A CREATE body.
pub fn create_body(
    name: &str,
    disposition: CreateDisposition,
    share_access: ShareAccess,
    desired_access: AccessMask,
) -> RequestBody {
    RequestBody::Create(CreateRequest {
        name_padding: None,
        security_flags: 0,
        requested_oplock_level: OplockLevel::NONE,
        impersonation_level: ImpersonationLevel::IMPERSONATION,
        smb_create_flags: 0,
        desired_access,
        file_attributes: FileAttributes::default(),
        share_access,
        create_disposition: disposition,
        create_options: CreateOptions::NON_DIRECTORY_FILE,
        name: name.into(),
        contexts: Vec::new(),
    })
}

/// A WRITE body.
fn write_body(file_id: FileId, offset: u64, data: Bytes) -> RequestBody {
    RequestBody::Write(WriteRequest {
        offset,
        file_id,
        channel: Channel::NONE,
        remaining_bytes: 0,
        flags: WriteFlags::default(),
        data,
        channel_info: Bytes::new(),
    })
}

/// A READ body.
fn read_body(file_id: FileId, offset: u64, len: u64) -> RequestBody {
    RequestBody::Read(ReadRequest::at(
        file_id,
        offset,
        u32::try_from(len).unwrap_or(u32::MAX),
    ))
}

/// A CLOSE body.
pub fn close_body(file_id: FileId) -> RequestBody {
    RequestBody::Close(CloseRequest {
        flags: CloseFlags::default(),
        file_id,
    })
}

fn set_info(file_id: FileId, class: FileInfoClass, buffer: Bytes) -> RequestBody {
    RequestBody::SetInfo(SetInfoRequest {
        info_type: InfoType::FILE,
        info_class: class.0,
        additional_information: AdditionalInformation::default(),
        file_id,
        buffer,
    })
}
