//! Workloads: what a simulated client does.
//!
//! Owns: the [`Workload`] trait (callbacks on connection start, client events and wake-ups)
//! and [`ClientApi`], the handle a workload uses to issue commands (each traced and tracked
//! for the request-bound invariant), draw randomness, record writes in the model, schedule a
//! wake-up or a reconnect, and report metrics or invariant violations.
//! Must not: touch the network or other nodes directly.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use smb_proto::client::{Connection, Event, RequestId, SendError};
use smb_proto::wire::message::RequestBody;
use smb_proto::wire::{SessionId, TreeId};

use crate::command::{ClientCommand, result_summary};
use crate::invariants::{Violation, ViolationKind};
use crate::model::FileModel;
use crate::rng::SimRng;
use crate::time::{SimTime, VirtualClock};
use crate::trace::{NodeRef, Trace, TraceEvent};

/// A simulated client's behaviour.
pub trait Workload: std::fmt::Debug {
    /// A new connection was created (its NEGOTIATE is on the way).
    fn start(&mut self, api: &mut ClientApi<'_>);
    /// The connection emitted an event.
    fn event(&mut self, api: &mut ClientApi<'_>, event: &Event);
    /// A wake-up asked for with [`ClientApi::wake_at`] is due.
    fn wake(&mut self, api: &mut ClientApi<'_>) {
        let _ = api;
    }
    /// Whether the workload has nothing more to do (the run ends when all are finished).
    fn finished(&self) -> bool;
}

/// Something a workload asked for, applied by the simulator after the callback returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClientAction {
    Wake(SimTime),
    Reconnect(Duration),
}

/// The handle a workload drives its client through.
#[derive(Debug)]
pub struct ClientApi<'a> {
    pub(crate) client: usize,
    pub(crate) t: SimTime,
    pub(crate) clock: &'a VirtualClock,
    pub(crate) conn: Option<&'a mut Connection>,
    pub(crate) rng: &'a mut SimRng,
    pub(crate) model: &'a mut FileModel,
    pub(crate) trace: &'a mut Trace,
    pub(crate) open: &'a mut BTreeMap<RequestId, SimTime>,
    pub(crate) metrics: &'a mut BTreeMap<String, u64>,
    pub(crate) violations: &'a mut Vec<Violation>,
    pub(crate) actions: &'a mut Vec<ClientAction>,
    pub(crate) server_name: &'a str,
    pub(crate) base_filetime: u64,
}

impl ClientApi<'_> {
    /// The current virtual time.
    pub fn time(&self) -> SimTime {
        self.t
    }

    /// The current time as an `Instant`.
    pub fn now(&self) -> Instant {
        self.clock.instant(self.t)
    }

    /// This client's index.
    pub fn client(&self) -> usize {
        self.client
    }

    /// The simulation's RNG.
    pub fn rng(&mut self) -> &mut SimRng {
        self.rng
    }

    /// The model of acknowledged writes of this client's server.
    pub fn model(&mut self) -> &mut FileModel {
        self.model
    }

    /// The connection, if one exists.
    pub fn connection(&self) -> Option<&Connection> {
        self.conn.as_deref()
    }

    /// Credits available on the connection (0 without one).
    pub fn credits(&self) -> u32 {
        self.conn.as_ref().map_or(0, |c| c.credits_available())
    }

    /// Issues a command, tracing it and tracking its request id.
    pub fn issue(&mut self, command: ClientCommand) -> Result<Option<RequestId>, SendError> {
        self.issue_many(command).map(|ids| ids.first().copied())
    }

    /// Issues a command, tracing it and tracking every request id it created.
    fn issue_many(&mut self, command: ClientCommand) -> Result<Vec<RequestId>, SendError> {
        let now = self.now();
        let Some(conn) = self.conn.as_deref_mut() else {
            return Err(SendError::Closed);
        };
        let mut key = command.key();
        // Keep a copy for the trace only when records are kept (replay); else move it.
        let (result, kept) = if self.trace.keeps_records() {
            (command.apply(conn, now), Some(command))
        } else {
            (command.apply_owned(conn, now), None)
        };
        match &result {
            Ok(ids) if ids.is_empty() => key.push(2),
            Ok(ids) => {
                key.push(1);
                for id in ids {
                    key.extend_from_slice(&id.0.to_le_bytes());
                    self.open.entry(*id).or_insert(self.t);
                }
            }
            Err(e) => {
                key.push(3);
                key.extend_from_slice(e.to_string().as_bytes());
            }
        }
        self.trace.record_keyed(
            self.t,
            NodeRef::Client(self.client),
            5,
            &key,
            || match kept {
                Some(command) => TraceEvent::ClientCommand {
                    command,
                    result: result_summary(&result),
                },
                None => TraceEvent::Fault("unreachable: records are kept".into()),
            },
        );
        result
    }

    /// Authenticates with SPNEGO/NTLMv2 (the initiator's RNG is seeded from the simulation).
    pub fn session_setup(
        &mut self,
        user: &str,
        domain: &str,
        password: &str,
    ) -> Result<RequestId, SendError> {
        let rng_seed = self.rng.seed32();
        let now_filetime = self.base_filetime.saturating_add(self.t.0 / 100);
        let command = ClientCommand::SessionSetup {
            user: user.to_owned(),
            domain: domain.to_owned(),
            password: password.to_owned(),
            rng_seed,
            now_filetime,
            server: self.server_name.to_owned(),
        };
        self.issue(command)
            .and_then(|id| id.ok_or(SendError::NoSuchRequest))
    }

    /// Connects a share.
    pub fn tree_connect(
        &mut self,
        session: SessionId,
        share: &str,
    ) -> Result<RequestId, SendError> {
        self.issue(ClientCommand::TreeConnect {
            session,
            share: share.to_owned(),
        })
        .and_then(|id| id.ok_or(SendError::NoSuchRequest))
    }

    /// Sends a file command.
    pub fn request(
        &mut self,
        session: SessionId,
        tree: TreeId,
        body: RequestBody,
    ) -> Result<RequestId, SendError> {
        self.issue(ClientCommand::Request {
            session,
            tree,
            body,
        })
        .and_then(|id| id.ok_or(SendError::NoSuchRequest))
    }

    /// Sends file commands as one compound chain (MS-SMB2 3.2.4.1.4); one request id per
    /// body, in order. In a related chain later bodies may use `FileId::RELATED`.
    pub fn compound(
        &mut self,
        session: SessionId,
        tree: TreeId,
        bodies: Vec<RequestBody>,
        related: bool,
    ) -> Result<Vec<RequestId>, SendError> {
        self.issue_many(ClientCommand::Compound {
            session,
            tree,
            bodies,
            related,
        })
    }

    /// Logs a session off.
    pub fn logoff(&mut self, session: SessionId) -> Result<RequestId, SendError> {
        self.issue(ClientCommand::Logoff { session })
            .and_then(|id| id.ok_or(SendError::NoSuchRequest))
    }

    /// Cancels a request.
    pub fn cancel(&mut self, id: RequestId) -> Result<(), SendError> {
        self.issue(ClientCommand::Cancel { id }).map(|_| ())
    }

    /// Closes the connection from the client's side.
    pub fn close_connection(&mut self) {
        let _ = self.issue(ClientCommand::CloseConnection);
    }

    /// Asks for a [`Workload::wake`] call at `at`.
    pub fn wake_at(&mut self, at: SimTime) {
        self.actions.push(ClientAction::Wake(at));
    }

    /// Drops the current connection (if any) and opens a new one after `delay`.
    pub fn reconnect(&mut self, delay: Duration) {
        self.actions.push(ClientAction::Reconnect(delay));
    }

    /// Adds `v` to a named metric of the run's summary.
    pub fn metric_add(&mut self, name: &str, v: u64) {
        *self.metrics.entry(name.to_owned()).or_default() += v;
    }

    /// Raises a named metric of the run's summary to at least `v`.
    pub fn metric_max(&mut self, name: &str, v: u64) {
        let m = self.metrics.entry(name.to_owned()).or_default();
        *m = (*m).max(v);
    }

    /// Reports a broken invariant.
    pub fn violation(&mut self, kind: ViolationKind, detail: String) {
        self.violations.push(Violation {
            at: self.t,
            node: Some(self.client),
            kind,
            detail,
        });
    }
}

/// A workload from a closure: called with `None` when a connection starts or a wake-up is
/// due, and with `Some(event)` for every client event; it returns `true` once finished.
pub struct FnWorkload<F> {
    f: F,
    done: bool,
}

impl<F> FnWorkload<F>
where
    F: FnMut(&mut ClientApi<'_>, Option<&Event>) -> bool,
{
    /// Wraps `f`.
    pub fn new(f: F) -> Self {
        Self { f, done: false }
    }
}

impl<F> std::fmt::Debug for FnWorkload<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FnWorkload")
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl<F> Workload for FnWorkload<F>
where
    F: FnMut(&mut ClientApi<'_>, Option<&Event>) -> bool,
{
    fn start(&mut self, api: &mut ClientApi<'_>) {
        self.done |= (self.f)(api, None);
    }

    fn event(&mut self, api: &mut ClientApi<'_>, event: &Event) {
        self.done |= (self.f)(api, Some(event));
    }

    fn wake(&mut self, api: &mut ClientApi<'_>) {
        self.done |= (self.f)(api, None);
    }

    fn finished(&self) -> bool {
        self.done
    }
}
