//! [`Harness`]: our client against our server in process ([`Loopback`] with the in-memory
//! backend, every frame recorded), with helpers that log on, open, call and close and expect
//! the pump to settle.

use std::ops::{Deref, DerefMut};
use std::time::{Duration, Instant};

use bytes::Bytes;
use smb_proto::client::{ClientConfig, Event, RequestError, RequestId};
use smb_proto::loopback::{FrameHook, Loopback};
use smb_proto::server::ServerConfig;
use smb_proto::wire::message::{RequestBody, Response, ResponseBody, ResponsePayload};
use smb_proto::wire::status::NtStatus;
use smb_proto::wire::{Dialect, FileId, SessionId, TreeId};

use crate::config::{ALICE, initiator};
use crate::requests;

/// How a SESSION_SETUP that did not produce a session ended.
#[derive(Debug)]
pub enum SetupFailure {
    /// The server answered with an error.
    Refused(RequestError),
    /// The connection closed (e.g. a signature that did not verify).
    Closed(String),
}

/// One client connection against one server: [`Loopback`] recording every frame, with
/// helpers that expect the pump to settle.
#[derive(Debug)]
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
    /// A server with `server`'s configuration and a client whose NEGOTIATE is answered.
    pub fn new(server: ServerConfig, client: ClientConfig, t0: Instant) -> Self {
        Self::build(server, client, t0, None)
    }

    /// Like [`Harness::new`], with a hook that sees the client's frames from the very first
    /// (NEGOTIATE) on.
    pub fn new_with_hook(
        server: ServerConfig,
        client: ClientConfig,
        t0: Instant,
        hook: impl FnMut(Bytes) -> Vec<Bytes> + 'static,
    ) -> Self {
        Self::build(server, client, t0, Some(Box::new(hook)))
    }

    fn build(
        server: ServerConfig,
        client: ClientConfig,
        t0: Instant,
        hook: Option<FrameHook>,
    ) -> Self {
        Self(Loopback::with_hook(server, client, t0, hook, true).expect("the pump settles"))
    }

    /// Hands raw bytes to the server as if the client had sent them.
    pub fn inject(&mut self, data: Bytes) {
        self.0.inject(data).expect("the pump settles");
    }

    pub fn pump(&mut self) {
        self.0.pump().expect("the pump settles");
    }

    /// Answers every held op (with memfs) and stops holding.
    pub fn release_held(&mut self) {
        self.0.release_held().expect("the pump settles");
    }

    pub fn advance(&mut self, d: Duration) {
        self.0.advance(d).expect("the pump settles");
    }

    /// Pumps, then takes the response to `id`.
    pub fn wait(&mut self, id: RequestId) -> Result<Response, RequestError> {
        self.pump();
        self.take_response(id).expect("a response")
    }

    /// The status of a request's answer (SUCCESS with a body is `Ok`).
    pub fn call(
        &mut self,
        s: SessionId,
        t: TreeId,
        body: impl Into<RequestBody>,
    ) -> Result<ResponseBody, NtStatus> {
        let id = self
            .0
            .client
            .request(self.0.now, s, t, body.into())
            .expect("send");
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

    /// Authenticates; the session, or how the setup ended. Waits out the server's auth
    /// failure delay (virtual time) when the answer is held back.
    pub fn session(&mut self, user: &str, password: &str) -> Result<SessionId, SetupFailure> {
        let id = self
            .0
            .client
            .session_setup(self.0.now, initiator(user, password))
            .expect("setup");
        self.pump();
        for round in 0..2 {
            let ready = self.events.iter().find_map(|e| match e {
                Event::SessionReady { id: i, session, .. } if *i == id => Some(*session),
                _ => None,
            });
            if let Some(s) = ready {
                return Ok(s);
            }
            if let Some(Err(e)) = self.take_response(id) {
                return Err(SetupFailure::Refused(e));
            }
            if let Some(reason) = self.events.iter().find_map(|e| match e {
                Event::Closed { reason } => Some(reason.to_string()),
                _ => None,
            }) {
                return Err(SetupFailure::Closed(reason));
            }
            if round == 0 {
                let delay = self.0.server.config().auth_failure_delay;
                self.advance(delay);
            }
        }
        panic!("setup neither ready nor failed: {:?}", self.events);
    }

    /// The usual start: the default server ([`crate::config::server_config`]) and a client
    /// pinned to `dialect`, logged on as alice and connected to `share`.
    pub fn on_share(t0: Instant, dialect: Dialect) -> (Self, SessionId, TreeId) {
        let mut h = Self::new(
            crate::config::server_config(t0),
            crate::config::client_config(t0, dialect, dialect),
            t0,
        );
        let (s, t) = h.login("share");
        (h, s, t)
    }

    /// Authenticates as alice on the negotiated connection and connects `share`.
    pub fn login(&mut self, share: &str) -> (SessionId, TreeId) {
        assert!(
            self.events
                .iter()
                .any(|e| matches!(e, Event::Negotiated(_))),
            "negotiated"
        );
        let (user, password) = ALICE;
        let session = self.session(user, password).expect("login");
        let tc = self
            .0
            .client
            .tree_connect(self.0.now, session, share)
            .expect("tc");
        let r = self.wait(tc).expect("tree connect");
        (session, r.header.tree_id().expect("tree id"))
    }

    /// Sends `create` (a CREATE); the FileId it opened.
    pub fn open(
        &mut self,
        s: SessionId,
        t: TreeId,
        create: impl Into<RequestBody>,
    ) -> Result<FileId, NtStatus> {
        match self.call(s, t, create)? {
            ResponseBody::Create(c) => Ok(c.file_id),
            other => panic!("unexpected {other:?}"),
        }
    }

    /// Closes `fid`, which must succeed.
    pub fn close(&mut self, s: SessionId, t: TreeId, fid: FileId) {
        self.call(s, t, requests::close(fid)).expect("close");
    }

    /// The MessageId the client will use next (from the frames it sent in the clear).
    pub fn next_message_id(&self) -> u64 {
        self.client_sent
            .iter()
            .filter_map(|f| {
                let h = f.get(4..4 + 64)?;
                (h.get(..4)? == b"\xfeSMB").then_some(())?;
                let charge = u64::from(u16::from_le_bytes(h.get(6..8)?.try_into().ok()?).max(1));
                let mid = u64::from_le_bytes(h.get(24..32)?.try_into().ok()?);
                Some(mid + charge)
            })
            .max()
            .unwrap_or(0)
    }
}
