//! Our client against our server in process (`smb_proto::loopback::Loopback` with the
//! in-memory backend and a virtual clock), with helpers that log on, open, call and close and
//! expect the pump to settle; shared by the loopback test files.

#![allow(dead_code)] // each test file uses a different part

use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use smb_proto::auth::ntlm::{Credentials, ServerIdentity};
use smb_proto::auth::{
    AcceptorConfig, Initiator, InitiatorConfig, NtlmPolicy, SpnegoInitiator, UserStore,
};
use smb_proto::client::{ClientConfig, Event, RequestError, RequestId};
use smb_proto::io::Clock;
use smb_proto::loopback::Loopback;
use smb_proto::rng::SeededRng;
use smb_proto::server::{ServerConfig, ShareConfig};
use smb_proto::wire::close::{CloseFlags, CloseRequest};
use smb_proto::wire::create::{
    CreateDisposition, CreateOptions, CreateRequest, ImpersonationLevel, OplockLevel, ShareAccess,
};
use smb_proto::wire::fscc::FileInfoClass;
use smb_proto::wire::fscc::attributes::{AccessMask, FileAttributes};
use smb_proto::wire::fscc::directory::DirectoryListing;
use smb_proto::wire::message::{RequestBody, Response, ResponseBody, ResponsePayload};
use smb_proto::wire::query_directory::{QueryDirectoryFlags, QueryDirectoryRequest};
use smb_proto::wire::read::{Channel, ReadFlags, ReadRequest};
use smb_proto::wire::status::NtStatus;
use smb_proto::wire::write::{WriteFlags, WriteRequest};
use smb_proto::wire::{Dialect, FileId, SessionId, TreeId};

pub const FILETIME: u64 = 133_000_000_000_000_000;

pub fn auth() -> Arc<AcceptorConfig> {
    let mut users = UserStore::new();
    users.add_password("alice", "secret");
    Arc::new(AcceptorConfig::new(
        ServerIdentity {
            netbios_name: "SRV".into(),
            netbios_domain: "WORKGROUP".into(),
            dns_name: "srv".into(),
            dns_domain: String::new(),
        },
        users,
    ))
}

pub fn server_config(t0: Instant) -> ServerConfig {
    let mut c = ServerConfig::new(auth());
    c.clock = Some(Clock {
        instant: t0,
        filetime: FILETIME,
    });
    c.rng_seed = [9; 32];
    c.shares = vec![ShareConfig::disk("share", "memfs"), {
        let mut s = ShareConfig::disk("secret", "memfs");
        s.encrypt_data = true;
        s
    }];
    c
}

pub fn client_config(t0: Instant, dialect: Dialect) -> ClientConfig {
    ClientConfig {
        min_dialect: dialect,
        max_dialect: dialect,
        server_name: "srv".into(),
        clock: Some(Clock {
            instant: t0,
            filetime: FILETIME,
        }),
        rng_seed: [3; 32],
        ..ClientConfig::default()
    }
}

pub fn initiator(password: &str) -> Box<dyn Initiator> {
    let cfg = Arc::new(InitiatorConfig {
        credentials: Credentials::from_password("alice", "WORKGROUP", password),
        workstation: "CLIENT".into(),
        ntlm_policy: NtlmPolicy::default(),
    });
    Box::new(
        SpnegoInitiator::new(cfg, "srv", FILETIME, SeededRng::from_seed([4; 32]))
            .expect("NTLM allowed"),
    )
}

/// One client connection against one server: [`Loopback`] recording every frame, with
/// helpers that expect the pump to settle.
pub struct Harness(pub Loopback);

impl Deref for Harness {
    type Target = Loopback;
    fn deref(&self) -> &Loopback {
        &self.0
    }
}

impl DerefMut for Harness {
    fn deref_mut(&mut self) -> &mut Loopback {
        &mut self.0
    }
}

impl Harness {
    pub fn new(server: ServerConfig, client: ClientConfig, t0: Instant) -> Self {
        Self(Loopback::with_hook(server, client, t0, None, true).expect("the pump settles"))
    }

    pub fn pump(&mut self) {
        self.0.pump().expect("the pump settles");
    }

    pub fn advance(&mut self, d: Duration) {
        self.0.advance(d).expect("the pump settles");
    }

    pub fn wait(&mut self, id: RequestId) -> Result<Response, RequestError> {
        self.pump();
        self.take_response(id).expect("a response")
    }

    pub fn call(
        &mut self,
        s: SessionId,
        t: TreeId,
        body: RequestBody,
    ) -> Result<ResponseBody, NtStatus> {
        let id = self.0.client.request(self.0.now, s, t, body).expect("send");
        match self.wait(id) {
            Ok(Response {
                payload: ResponsePayload::Body(b),
                ..
            }) => Ok(b),
            Ok(r) => Err(r.header.status),
            Err(RequestError::Status { status, .. }) => Err(status),
            Err(e) => panic!("request failed: {e}"),
        }
    }

    /// Negotiates (already under way), authenticates and connects `share`.
    pub fn login(&mut self, password: &str, share: &str) -> (SessionId, TreeId) {
        assert!(
            self.events
                .iter()
                .any(|e| matches!(e, Event::Negotiated(_))),
            "negotiated"
        );
        let id = self
            .0
            .client
            .session_setup(self.0.now, initiator(password))
            .expect("setup");
        self.pump();
        let session = self
            .events
            .iter()
            .find_map(|e| match e {
                Event::SessionReady { id: i, session, .. } if *i == id => Some(*session),
                _ => None,
            })
            .unwrap_or_else(|| panic!("session ready: {:?}", self.events));
        let tc = self
            .0
            .client
            .tree_connect(self.0.now, session, share)
            .expect("tc");
        let r = self.wait(tc).expect("tree connect");
        (session, r.header.tree_id().expect("tree id"))
    }

    pub fn open(
        &mut self,
        s: SessionId,
        t: TreeId,
        name: &str,
        disp: CreateDisposition,
        dir: bool,
    ) -> Result<FileId, NtStatus> {
        match self.call(s, t, create(name, disp, dir))? {
            ResponseBody::Create(c) => Ok(c.file_id),
            other => panic!("unexpected {other:?}"),
        }
    }

    pub fn close(&mut self, s: SessionId, t: TreeId, fid: FileId) {
        self.call(
            s,
            t,
            RequestBody::Close(CloseRequest {
                flags: CloseFlags::default(),
                file_id: fid,
            }),
        )
        .expect("close");
    }

    pub fn list(&mut self, s: SessionId, t: TreeId, dir: &str, pattern: &str) -> Vec<String> {
        let fid = self
            .open(s, t, dir, CreateDisposition::OPEN, true)
            .expect("open dir");
        let mut names = Vec::new();
        loop {
            let r = self.call(
                s,
                t,
                RequestBody::QueryDirectory(QueryDirectoryRequest {
                    file_information_class: FileInfoClass::ID_BOTH_DIRECTORY,
                    flags: QueryDirectoryFlags::default(),
                    file_index: 0,
                    file_id: fid,
                    output_buffer_length: 300,
                    file_name: pattern.into(),
                }),
            );
            match r {
                Ok(ResponseBody::QueryDirectory(q)) => {
                    match DirectoryListing::decode(FileInfoClass::ID_BOTH_DIRECTORY, &q.buffer)
                        .expect("listing")
                    {
                        DirectoryListing::IdBothDirectory(v) => {
                            names.extend(v.into_iter().map(|e| e.file_name))
                        }
                        other => panic!("class {other:?}"),
                    }
                }
                Err(NtStatus::NO_MORE_FILES) | Err(NtStatus::NO_SUCH_FILE) => break,
                other => panic!("query directory: {other:?}"),
            }
        }
        self.close(s, t, fid);
        names
    }
}

pub fn create(name: &str, disposition: CreateDisposition, directory: bool) -> RequestBody {
    RequestBody::Create(CreateRequest {
        name_padding: None,
        security_flags: 0,
        requested_oplock_level: OplockLevel::NONE,
        impersonation_level: ImpersonationLevel::IMPERSONATION,
        smb_create_flags: 0,
        desired_access: if directory {
            AccessMask(
                AccessMask::FILE_READ_DATA.0
                    | AccessMask::FILE_READ_ATTRIBUTES.0
                    | AccessMask::DELETE.0,
            )
        } else {
            AccessMask(
                AccessMask::GENERIC_READ.0 | AccessMask::GENERIC_WRITE.0 | AccessMask::DELETE.0,
            )
        },
        file_attributes: FileAttributes::default(),
        share_access: ShareAccess(
            ShareAccess::READ.0 | ShareAccess::WRITE.0 | ShareAccess::DELETE.0,
        ),
        create_disposition: disposition,
        create_options: if directory {
            CreateOptions::DIRECTORY_FILE
        } else {
            CreateOptions::NON_DIRECTORY_FILE
        },
        name: name.into(),
        contexts: Vec::new(),
    })
}

pub fn write_req(fid: FileId, offset: u64, data: Bytes) -> RequestBody {
    RequestBody::Write(WriteRequest {
        offset,
        file_id: fid,
        channel: Channel::NONE,
        remaining_bytes: 0,
        flags: WriteFlags::default(),
        data,
        channel_info: Bytes::new(),
    })
}

pub fn read_req(fid: FileId, offset: u64, length: u32) -> RequestBody {
    RequestBody::Read(ReadRequest {
        padding: 0x50,
        flags: ReadFlags::default(),
        length,
        offset,
        file_id: fid,
        minimum_count: 0,
        channel: Channel::NONE,
        remaining_bytes: 0,
        channel_info: Bytes::new(),
    })
}
