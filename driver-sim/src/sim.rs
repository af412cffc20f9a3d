//! The simulator.
//!
//! Owns: [`Sim`], which holds virtual time, the one seeded RNG, the event queue, the clients
//! (each a `smb_proto::client::Connection` driven by a [`Workload`]), the servers (each a
//! [`ServerMachine`] over a [`Backend`] that survives crashes), the links between them, the
//! fault schedule, the trace and the invariant checks. [`Sim::run`] pops events in (time,
//! sequence) order until every workload is finished or a limit is reached.
//! Must not: sleep, read the real clock (beyond the opaque anchor of [`VirtualClock`]) or the
//! OS RNG, or iterate a hash map.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use smb_proto::client::{ClientConfig, Connection, Event, Output, RequestId};
use smb_proto::io::{Clock, Input, TransportKind};
use smb_proto::server::{
    ConnectionHandle, FsOp, OpContext, OpId, OpReply, OpRequest, OpenId, ServerConfig, ServerOutput,
};
use smb_proto::wire::status::NtStatus;

use crate::adversary::{Adversary, AdversaryConfig, Tamper, flip_bit};
use crate::invariants::{Violation, ViolationKind};
use crate::link::{LinkConfig, Pipe};
use crate::model::FileModel;
use crate::node::{Backend, LatencyModel, ServerFactory, ServerMachine};
use crate::queue::{EventKey, EventQueue};
use crate::rng::SimRng;
use crate::time::{SimTime, VirtualClock};
use crate::trace::{NodeRef, ReplayReply, Trace, TraceEvent, TraceMode};
use crate::workload::{ClientAction, ClientApi, Workload};

/// FILETIME of 2026-01-01T00:00:00Z: the wall clock of every simulated run starts here.
pub const SIM_EPOCH_FILETIME: u64 = 134_116_992_000_000_000;

/// Settings of a run.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The link model of every connection.
    pub link: LinkConfig,
    /// Message-level faults.
    pub adversary: AdversaryConfig,
    /// Backend op latency.
    pub latency: LatencyModel,
    /// Keep full records (replay) or only the hash.
    pub trace: TraceMode,
    /// Stop after this much virtual time.
    pub max_time: Duration,
    /// Stop after this many events.
    pub max_steps: u64,
    /// Every request must end within this long.
    pub request_bound: Duration,
    /// Bytes buffered in links plus queued events and ops may not exceed this.
    pub memory_limit: usize,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            link: LinkConfig::default(),
            adversary: AdversaryConfig::off(),
            latency: LatencyModel::default(),
            trace: TraceMode::HashOnly,
            max_time: Duration::from_secs(3600),
            max_steps: 50_000_000,
            request_bound: Duration::from_secs(130),
            memory_limit: 256 * 1024 * 1024,
        }
    }
}

/// A scheduled fault or lifecycle action ("faults as data").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultAction {
    /// Reset the client's current connection: both sides see Closed.
    Reset {
        /// The client.
        client: usize,
    },
    /// Hold the bytes of one direction of the client's link.
    Stall {
        /// The client.
        client: usize,
        /// True: client to server; false: server to client.
        upstream: bool,
    },
    /// Release a stalled direction.
    Release {
        /// The client.
        client: usize,
        /// The direction.
        upstream: bool,
    },
    /// Cut the client off (both directions held).
    Partition {
        /// The client.
        client: usize,
    },
    /// Reconnect a partitioned client's network.
    Heal {
        /// The client.
        client: usize,
    },
    /// The client's address or port changes (QUIC: migration, the connection survives after
    /// a path validation pause; TCP: the connection is reset).
    ChangeAddress {
        /// The client.
        client: usize,
    },
    /// The server process crashes: protocol state lost, every connection reset, backend kept.
    Crash {
        /// The server.
        server: usize,
    },
    /// The crashed server starts again.
    Restart {
        /// The server.
        server: usize,
    },
}

/// A server to add.
pub struct ServerSpec {
    /// Its configuration (the simulator sets `rng_seed` and `clock`).
    pub config: ServerConfig,
    /// The backend (kept across crashes).
    pub backend: Box<dyn Backend>,
    /// Builds the protocol machine.
    pub factory: ServerFactory,
}

impl std::fmt::Debug for ServerSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerSpec")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

/// A client to add.
#[derive(Debug)]
pub struct ClientSpec {
    /// Its configuration (the simulator sets `rng_seed` per connection and `clock`).
    pub config: ClientConfig,
    /// The server it talks to (index from [`Sim::add_server`]).
    pub server: usize,
    /// TCP or QUIC.
    pub transport: TransportKind,
    /// What it does.
    pub workload: Box<dyn Workload>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ev {
    Arrive {
        link: usize,
        upstream: bool,
    },
    Closed {
        link: usize,
        to_server: bool,
    },
    Inject {
        link: usize,
        upstream: bool,
        slot: u64,
    },
    ClientWake {
        client: usize,
    },
    ServerWake {
        server: usize,
    },
    WorkloadWake {
        client: usize,
    },
    Connect {
        client: usize,
    },
    OpDue {
        server: usize,
        op: OpId,
        epoch: u64,
    },
    Fault(FaultAction),
}

#[derive(Debug)]
struct Link {
    client: usize,
    server: usize,
    server_epoch: u64,
    ch: Option<ConnectionHandle>,
    up: Pipe,
    down: Pipe,
    /// Neither side has closed it.
    open: bool,
    /// The client may still send (false after the server asked to close).
    client_writable: bool,
    frames_up: u32,
    frames_down: u32,
    reorder_up: Option<Bytes>,
    reorder_down: Option<Bytes>,
    partitioned: bool,
}

impl Link {
    fn pipe(&mut self, upstream: bool) -> &mut Pipe {
        if upstream {
            &mut self.up
        } else {
            &mut self.down
        }
    }
}

/// A node's deadline (what its state machine last asked for) and the one queued wake-up that
/// serves it: the wake-up is moved earlier when the deadline is, and a stale one is ignored.
#[derive(Debug, Default)]
struct NodeTimer {
    deadline: Option<SimTime>,
    wake: Option<EventKey>,
    wake_at: Option<SimTime>,
}

impl NodeTimer {
    /// Records deadline `t` and queues `ev` at `t` (not before `now`) unless an earlier wake-up
    /// is queued. Whether the deadline changed (the caller traces it).
    fn set(&mut self, now: SimTime, t: SimTime, queue: &mut EventQueue<Ev>, ev: Ev) -> bool {
        let changed = self.deadline != Some(t);
        self.deadline = Some(t);
        let at = t.max(now);
        if self.wake_at.is_none_or(|w| at < w) {
            if let Some(k) = self.wake.take() {
                queue.remove(k);
            }
            self.wake = Some(queue.push(at, ev));
            self.wake_at = Some(at);
        }
        changed
    }

    /// The wake-up `key` fired: the deadline it served, or `None` when it is stale.
    fn fire(&mut self, key: EventKey) -> Option<Option<SimTime>> {
        if self.wake != Some(key) {
            return None;
        }
        self.wake = None;
        self.wake_at = None;
        Some(self.deadline)
    }

    /// Forgets the deadline and unqueues the wake-up (the node's state machine is gone).
    fn clear(&mut self, queue: &mut EventQueue<Ev>) {
        if let Some(k) = self.wake.take() {
            queue.remove(k);
        }
        self.wake_at = None;
        self.deadline = None;
    }
}

#[derive(Debug)]
struct ClientNode {
    spec_config: ClientConfig,
    server: usize,
    transport: TransportKind,
    workload: Box<dyn Workload>,
    conn: Option<Connection>,
    link: Option<usize>,
    timer: NodeTimer,
    workload_wake: Option<(EventKey, SimTime)>,
    addr: SocketAddr,
    open: BTreeMap<RequestId, SimTime>,
    connections: u64,
    max_credits_seen: u32,
}

#[derive(Debug)]
struct PendingOp {
    req: OpRequest,
}

struct ServerNode {
    config: ServerConfig,
    factory: ServerFactory,
    backend: Box<dyn Backend>,
    machine: Option<Box<dyn ServerMachine>>,
    epoch: u64,
    conns: BTreeMap<ConnectionHandle, usize>,
    ops: BTreeMap<OpId, PendingOp>,
    opens: BTreeMap<OpenId, OpContext>,
    timer: NodeTimer,
    model: FileModel,
}

impl std::fmt::Debug for ServerNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerNode")
            .field("epoch", &self.epoch)
            .field("conns", &self.conns)
            .field("ops", &self.ops.len())
            .field("opens", &self.opens.len())
            .finish_non_exhaustive()
    }
}

/// Counters of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Events processed.
    pub steps: u64,
    /// SMB frames transmitted by clients and servers.
    pub messages: u64,
    /// Bytes transmitted.
    pub bytes: u64,
    /// Client connections opened.
    pub connections: u64,
    /// Ops completed by backends.
    pub ops: u64,
    /// Faults applied (scheduled actions and adversary tampering).
    pub faults: u64,
    /// Requests that ended (response, error or connection closed).
    pub requests_ended: u64,
    /// The largest bytes-in-flight-plus-queued figure seen.
    pub peak_memory: usize,
}

/// The simulator. See the module docs.
pub struct Sim {
    seed: u64,
    config: SimConfig,
    clock: VirtualClock,
    now: SimTime,
    rng: SimRng,
    queue: EventQueue<Ev>,
    clients: Vec<ClientNode>,
    servers: Vec<ServerNode>,
    links: Vec<Link>,
    adversary: Adversary,
    injected: BTreeMap<u64, Bytes>,
    next_inject: u64,
    trace: Trace,
    violations: Vec<Violation>,
    metrics: BTreeMap<String, u64>,
    stats: Stats,
}

impl std::fmt::Debug for Sim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sim")
            .field("seed", &self.seed)
            .field("now", &self.now)
            .field("clients", &self.clients.len())
            .field("servers", &self.servers.len())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Sim {
    /// A simulator whose every random choice derives from `seed`.
    pub fn new(seed: u64, config: SimConfig) -> Self {
        Self {
            seed,
            adversary: Adversary::new(config.adversary.clone()),
            trace: Trace::new(config.trace),
            config,
            clock: VirtualClock::new(),
            now: SimTime::ZERO,
            rng: SimRng::new(seed),
            queue: EventQueue::new(),
            clients: Vec::new(),
            servers: Vec::new(),
            links: Vec::new(),
            injected: BTreeMap::new(),
            next_inject: 0,
            violations: Vec::new(),
            metrics: BTreeMap::new(),
            stats: Stats::default(),
        }
    }

    // ----- getters -----

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The current virtual time.
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// The clock mapping virtual time to `Instant`s.
    pub fn clock(&self) -> &VirtualClock {
        &self.clock
    }

    /// The trace so far.
    pub fn trace(&self) -> &Trace {
        &self.trace
    }

    /// The SHA-256 of the trace so far.
    pub fn trace_hash(&self) -> [u8; 32] {
        self.trace.hash()
    }

    /// The broken invariants so far.
    pub fn violations(&self) -> &[Violation] {
        &self.violations
    }

    /// Counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Metrics reported by workloads.
    pub fn metrics(&self) -> &BTreeMap<String, u64> {
        &self.metrics
    }

    /// The model of acknowledged writes of a server.
    pub fn model(&self, server: usize) -> Option<&FileModel> {
        self.servers.get(server).map(|s| &s.model)
    }

    /// A server's backend (for checks after a run).
    pub fn backend(&self, server: usize) -> Option<&dyn Backend> {
        self.servers.get(server).map(|s| s.backend.as_ref())
    }

    /// The wall-clock anchor every node is configured with.
    pub fn wall_clock(&self) -> Clock {
        Clock {
            instant: self.clock.base(),
            filetime: SIM_EPOCH_FILETIME,
        }
    }

    // ----- construction -----

    /// Adds a server and starts it. Returns its index.
    pub fn add_server(&mut self, spec: ServerSpec) -> usize {
        let idx = self.servers.len();
        self.servers.push(ServerNode {
            config: spec.config,
            factory: spec.factory,
            backend: spec.backend,
            machine: None,
            epoch: 0,
            conns: BTreeMap::new(),
            ops: BTreeMap::new(),
            opens: BTreeMap::new(),
            timer: NodeTimer::default(),
            model: FileModel::new(),
        });
        self.start_server(idx);
        idx
    }

    /// Adds a client; it connects at `start` (virtual time from the beginning).
    pub fn add_client(&mut self, spec: ClientSpec, start: Duration) -> usize {
        let idx = self.clients.len();
        let addr = SocketAddr::new(
            IpAddr::V4(Ipv4Addr::new(
                10,
                0,
                (idx / 250) as u8,
                (idx % 250 + 1) as u8,
            )),
            49152,
        );
        self.clients.push(ClientNode {
            spec_config: spec.config,
            server: spec.server,
            transport: spec.transport,
            workload: spec.workload,
            conn: None,
            link: None,
            timer: NodeTimer::default(),
            workload_wake: None,
            addr,
            open: BTreeMap::new(),
            connections: 0,
            max_credits_seen: 0,
        });
        self.queue
            .push(SimTime::ZERO.plus(start), Ev::Connect { client: idx });
        idx
    }

    /// Schedules a fault at `at` (virtual time from the beginning).
    pub fn schedule(&mut self, at: Duration, action: FaultAction) {
        self.queue.push(SimTime::ZERO.plus(at), Ev::Fault(action));
    }

    // ----- running -----

    /// Runs until every workload is finished, the queue is empty or a limit is reached, then
    /// checks the end-of-run invariants.
    pub fn run(&mut self) {
        let limit = SimTime::ZERO.plus(self.config.max_time);
        while !self.all_finished() {
            let Some(at) = self.queue.peek_time() else {
                break;
            };
            if at > limit || self.stats.steps >= self.config.max_steps {
                break;
            }
            self.step();
        }
        // A grace period for the last closes to reach the servers, so leaks show.
        let grace = self.now.plus(Duration::from_secs(2));
        while self.queue.peek_time().is_some_and(|t| t <= grace)
            && self.stats.steps < self.config.max_steps
        {
            self.step();
        }
        self.finish();
    }

    /// Processes one event. Returns false when the queue is empty.
    pub fn step(&mut self) -> bool {
        let Some((key, ev)) = self.queue.pop() else {
            return false;
        };
        self.now = self.now.max(key.at);
        self.stats.steps += 1;
        match ev {
            Ev::Arrive { link, upstream } => self.on_arrive(link, upstream),
            Ev::Closed { link, to_server } => self.on_closed(link, to_server),
            Ev::Inject {
                link,
                upstream,
                slot,
            } => {
                if let Some(frame) = self.injected.remove(&slot) {
                    self.put_on_wire(link, upstream, frame);
                }
            }
            Ev::ClientWake { client } => self.on_client_wake(client, key),
            Ev::ServerWake { server } => self.on_server_wake(server, key),
            Ev::WorkloadWake { client } => self.on_workload_wake(client, key),
            Ev::Connect { client } => self.connect(client),
            Ev::OpDue { server, op, epoch } => self.on_op_due(server, op, epoch),
            Ev::Fault(action) => self.apply_fault(action),
        }
        if self.stats.steps % 256 == 0 {
            self.check_memory();
        }
        true
    }

    fn all_finished(&self) -> bool {
        self.clients.iter().all(|c| c.workload.finished())
    }

    // ----- servers -----

    fn start_server(&mut self, idx: usize) {
        let seed = self.rng.seed32();
        let clock = self.wall_clock();
        let now = self.clock.instant(self.now);
        let Some(s) = self.servers.get_mut(idx) else {
            return;
        };
        let mut config = s.config.clone();
        config.rng_seed = seed;
        config.clock = Some(clock);
        s.epoch += 1;
        let config = Arc::new(config);
        s.machine = Some((s.factory)(config.clone(), now));
        s.timer.deadline = None;
        let epoch = s.epoch;
        self.trace.record(
            self.now,
            NodeRef::Server(idx),
            TraceEvent::ServerStart { config, epoch },
        );
        self.drain_server(idx);
    }

    fn drain_server(&mut self, idx: usize) {
        loop {
            let Some(out) = self
                .servers
                .get_mut(idx)
                .and_then(|s| s.machine.as_mut())
                .map(|m| m.poll_output())
            else {
                return;
            };
            match out {
                ServerOutput::Transmit { ch, data } => {
                    self.stats.messages += 1;
                    self.stats.bytes += data.len() as u64;
                    self.trace.record(
                        self.now,
                        NodeRef::Server(idx),
                        TraceEvent::ServerTransmit {
                            ch: ch.0,
                            data: data.clone(),
                        },
                    );
                    if let Some(link) = self.servers.get(idx).and_then(|s| s.conns.get(&ch)) {
                        let link = *link;
                        self.send_frame(link, false, data);
                    }
                }
                ServerOutput::Op(req) => {
                    let key = op_key(&req);
                    self.trace
                        .record_keyed(self.now, NodeRef::Server(idx), 14, &key, || {
                            TraceEvent::ServerOutput(op_summary(&req))
                        });
                    self.schedule_op(idx, req);
                }
                ServerOutput::Cancel(op) => {
                    self.trace.record(
                        self.now,
                        NodeRef::Server(idx),
                        TraceEvent::ServerOutput(cancel_summary(op)),
                    );
                    let cancelled = self.servers.get_mut(idx).and_then(|s| s.ops.remove(&op));
                    match cancelled {
                        Some(p) => {
                            if let FsOp::Close { .. } = p.req.op {
                                // A close is never cancelled: perform it.
                                self.perform(idx, p);
                            } else {
                                self.complete(idx, op, Err(NtStatus::CANCELLED));
                            }
                        }
                        None => {
                            // Maybe it waits inside the backend (a lock, a notify).
                            let r = self.servers.get_mut(idx).and_then(|s| s.backend.cancel(op));
                            if let Some(r) = r {
                                self.complete(idx, op, r);
                            }
                        }
                    }
                }
                ServerOutput::Close { ch } => {
                    self.trace.record(
                        self.now,
                        NodeRef::Server(idx),
                        TraceEvent::ServerOutput(close_summary(ch)),
                    );
                    let link = self.servers.get_mut(idx).and_then(|s| s.conns.remove(&ch));
                    if let Some(link) = link {
                        self.close_from_server(link);
                    }
                }
                ServerOutput::Event(e) => {
                    self.trace.record(
                        self.now,
                        NodeRef::Server(idx),
                        TraceEvent::ServerOutput(server_event_summary(&e)),
                    );
                }
                ServerOutput::Timeout(t) => {
                    let t = self.clock.sim_time(t);
                    self.set_deadline(NodeRef::Server(idx), t);
                    return;
                }
            }
        }
    }

    /// Arms a node's protocol timer for `t` and records the new deadline.
    fn set_deadline(&mut self, node: NodeRef, t: SimTime) {
        let (timer, wake) = match node {
            NodeRef::Client(i) => (
                self.clients.get_mut(i).map(|c| &mut c.timer),
                Ev::ClientWake { client: i },
            ),
            NodeRef::Server(i) => (
                self.servers.get_mut(i).map(|s| &mut s.timer),
                Ev::ServerWake { server: i },
            ),
            NodeRef::Sim => return,
        };
        if timer.is_some_and(|timer| timer.set(self.now, t, &mut self.queue, wake)) {
            self.trace.record(self.now, node, TraceEvent::Deadline(t));
        }
    }

    /// Takes the timer event `key` of a node: true when the node's deadline has come (its
    /// machine's timeout runs now); false for a stale event, or a deadline that moved later
    /// (the timer is armed again for it).
    fn deadline_due(&mut self, node: NodeRef, key: EventKey) -> bool {
        let timer = match node {
            NodeRef::Client(i) => self.clients.get_mut(i).map(|c| &mut c.timer),
            NodeRef::Server(i) => self.servers.get_mut(i).map(|s| &mut s.timer),
            NodeRef::Sim => None,
        };
        match timer.and_then(|timer| timer.fire(key)) {
            None => false,
            Some(Some(later)) if later > self.now => {
                self.set_deadline(node, later);
                false
            }
            Some(_) => true,
        }
    }

    fn on_server_wake(&mut self, idx: usize, key: EventKey) {
        if !self.deadline_due(NodeRef::Server(idx), key) {
            return;
        }
        let instant = self.clock.instant(self.now);
        if let Some(m) = self.servers.get_mut(idx).and_then(|s| s.machine.as_mut()) {
            self.trace
                .record(self.now, NodeRef::Server(idx), TraceEvent::ServerTimeout);
            m.handle_input(ConnectionHandle(u64::MAX), Input::Timeout(instant));
            self.drain_server(idx);
        }
    }

    fn schedule_op(&mut self, idx: usize, req: OpRequest) {
        let delay = self.config.latency.draw(&req.op, &mut self.rng);
        let Some(s) = self.servers.get_mut(idx) else {
            return;
        };
        let op = req.id;
        let epoch = s.epoch;
        s.ops.insert(op, PendingOp { req });
        if let Some(d) = delay {
            self.queue.push(
                self.now.plus(d),
                Ev::OpDue {
                    server: idx,
                    op,
                    epoch,
                },
            );
        }
    }

    fn on_op_due(&mut self, idx: usize, op: OpId, epoch: u64) {
        let Some(s) = self.servers.get_mut(idx) else {
            return;
        };
        if s.epoch != epoch {
            return;
        }
        if let Some(p) = s.ops.remove(&op) {
            self.perform(idx, p);
        }
    }

    fn perform(&mut self, idx: usize, p: PendingOp) {
        let Some(s) = self.servers.get_mut(idx) else {
            return;
        };
        let op = p.req.id;
        let open = p.req.op.open();
        let ctx = p.req.ctx.clone();
        let is_create = matches!(p.req.op, FsOp::Create(_));
        let is_close = matches!(p.req.op, FsOp::Close { .. });
        let result = s.backend.perform(p.req);
        self.stats.ops += 1;
        if is_create && matches!(result, Some(Ok(_))) {
            s.opens.insert(open, ctx);
        }
        if is_close {
            s.opens.remove(&open);
        }
        let mut ready = Vec::new();
        while let Some(r) = s.backend.poll_ready() {
            ready.push(r);
        }
        if let Some(result) = result {
            self.complete(idx, op, result);
        }
        for (op, result) in ready {
            self.complete(idx, op, result);
        }
    }

    fn complete(&mut self, idx: usize, op: OpId, result: Result<OpReply, NtStatus>) {
        let mut key = [0u8; 13];
        key[..8].copy_from_slice(&op.0.to_le_bytes());
        match &result {
            Ok(r) => key[8] = reply_code(r),
            Err(s) => {
                key[8] = 0xFF;
                key[9..].copy_from_slice(&s.0.to_le_bytes());
            }
        }
        self.trace
            .record_keyed(self.now, NodeRef::Server(idx), 12, &key, || {
                TraceEvent::ServerComplete {
                    op: op.0,
                    result: match &result {
                        Ok(r) => format!("ok {}", reply_kind(r)),
                        Err(s) => format!("err {s}"),
                    },
                    reply: result.as_ref().map(ReplayReply::of).map_err(|s| *s),
                }
            });
        let now = self.clock.instant(self.now);
        if let Some(m) = self.servers.get_mut(idx).and_then(|s| s.machine.as_mut()) {
            m.complete(op, now, result);
            self.drain_server(idx);
        }
    }

    fn crash_server(&mut self, idx: usize) {
        let Some(s) = self.servers.get_mut(idx) else {
            return;
        };
        if s.machine.is_none() {
            return;
        }
        s.machine = None;
        s.epoch += 1;
        s.ops.clear();
        s.timer.clear(&mut self.queue);
        // The process is gone: the operating system closes its handles.
        let opens = std::mem::take(&mut s.opens);
        for (open, ctx) in opens {
            let _ = s.backend.perform(OpRequest {
                id: OpId(u64::MAX),
                ctx,
                op: FsOp::Close {
                    open,
                    post_query: false,
                    write_time: None,
                },
            });
        }
        // Waiting ops of the dead process finish into the void.
        while s.backend.poll_ready().is_some() {}
        let links: Vec<usize> = std::mem::take(&mut s.conns).into_values().collect();
        for link in links {
            self.reset_link(link, false);
        }
    }

    // ----- clients -----

    fn connect(&mut self, idx: usize) {
        if let Some(old) = self.clients.get(idx).and_then(|c| c.link) {
            self.reset_link(old, true);
        }
        let seed = self.rng.seed32();
        let clock = self.wall_clock();
        let now_i = self.clock.instant(self.now);
        let Some(c) = self.clients.get_mut(idx) else {
            return;
        };
        let mut config = c.spec_config.clone();
        config.rng_seed = seed;
        config.clock = Some(clock);
        let config = Arc::new(config);
        c.conn = Some(Connection::new(config.clone(), c.transport, now_i));
        c.connections += 1;
        c.timer.deadline = None;
        c.open.clear();
        self.stats.connections += 1;
        let server = c.server;
        let transport = c.transport;
        let addr = c.addr;
        let link = self.links.len();
        let server_epoch = self.servers.get(server).map_or(0, |s| s.epoch);
        self.links.push(Link {
            client: idx,
            server,
            server_epoch,
            ch: None,
            up: Pipe::new(),
            down: Pipe::new(),
            open: true,
            client_writable: true,
            frames_up: 0,
            frames_down: 0,
            reorder_up: None,
            reorder_down: None,
            partitioned: false,
        });
        c.link = Some(link);
        self.trace.record(
            self.now,
            NodeRef::Client(idx),
            TraceEvent::ClientConnect { config, transport },
        );
        // The server accepts at once if it is up; otherwise the connection is refused.
        let accepted = match self
            .servers
            .get_mut(server)
            .and_then(|s| s.machine.as_mut())
        {
            Some(m) => {
                let ch = m.accept(now_i, transport, addr);
                Some(ch)
            }
            None => None,
        };
        match accepted {
            Some(ch) => {
                if let Some(l) = self.links.get_mut(link) {
                    l.ch = Some(ch);
                }
                if let Some(s) = self.servers.get_mut(server) {
                    s.conns.insert(ch, link);
                }
                self.trace.record(
                    self.now,
                    NodeRef::Server(server),
                    TraceEvent::ServerAccept {
                        ch: ch.0,
                        transport,
                        peer: addr,
                    },
                );
                self.drain_server(server);
            }
            None => {
                self.trace.record(
                    self.now,
                    NodeRef::Sim,
                    TraceEvent::Fault(format!("client {idx}: connection refused")),
                );
                self.reset_link(link, false);
            }
        }
        self.with_workload(idx, |w, api| w.start(api));
        self.drain_client(idx);
    }

    /// Runs a workload callback with its API, then applies the actions it asked for.
    fn with_workload(&mut self, idx: usize, f: impl FnOnce(&mut dyn Workload, &mut ClientApi<'_>)) {
        let mut actions = Vec::new();
        {
            let Sim {
                clients,
                servers,
                clock,
                rng,
                trace,
                metrics,
                violations,
                now,
                ..
            } = self;
            let Some(c) = clients.get_mut(idx) else {
                return;
            };
            let Some(s) = servers.get_mut(c.server) else {
                return;
            };
            let ClientNode {
                conn,
                spec_config,
                open,
                workload,
                ..
            } = c;
            let mut api = ClientApi {
                client: idx,
                t: *now,
                clock,
                conn: conn.as_mut(),
                rng,
                model: &mut s.model,
                trace,
                open,
                metrics,
                violations,
                actions: &mut actions,
                server_name: &spec_config.server_name,
                base_filetime: SIM_EPOCH_FILETIME,
            };
            f(workload.as_mut(), &mut api);
        }
        for a in actions {
            match a {
                ClientAction::Wake(at) => {
                    let at = at.max(self.now);
                    if let Some(c) = self.clients.get_mut(idx) {
                        if c.workload_wake.is_none_or(|(_, w)| at < w) {
                            if let Some((k, _)) = c.workload_wake.take() {
                                self.queue.remove(k);
                            }
                            let k = self.queue.push(at, Ev::WorkloadWake { client: idx });
                            c.workload_wake = Some((k, at));
                        }
                    }
                }
                ClientAction::Reconnect(delay) => {
                    let link = self.clients.get_mut(idx).and_then(|c| {
                        c.conn = None;
                        c.link.take()
                    });
                    if let Some(link) = link {
                        self.reset_link(link, false);
                    }
                    self.queue
                        .push(self.now.plus(delay), Ev::Connect { client: idx });
                }
            }
        }
    }

    fn drain_client(&mut self, idx: usize) {
        loop {
            let Some(out) = self
                .clients
                .get_mut(idx)
                .and_then(|c| c.conn.as_mut())
                .map(|c| c.poll_output())
            else {
                return;
            };
            match out {
                Output::Transmit(data) => {
                    self.stats.messages += 1;
                    self.stats.bytes += data.len() as u64;
                    self.trace.record(
                        self.now,
                        NodeRef::Client(idx),
                        TraceEvent::ClientTransmit(data.clone()),
                    );
                    if let Some(link) = self.clients.get(idx).and_then(|c| c.link) {
                        self.send_frame(link, true, data);
                    }
                }
                Output::Event(e) => {
                    let key = event_key(&e);
                    self.trace
                        .record_keyed(self.now, NodeRef::Client(idx), 7, &key, || {
                            TraceEvent::ClientEvent(event_summary(&e))
                        });
                    self.track_event(idx, &e);
                    let closed = matches!(e, Event::Closed { .. });
                    self.with_workload(idx, |w, api| w.event(api, &e));
                    if closed {
                        // The client is done with this transport: close it.
                        let link = self.clients.get(idx).and_then(|c| c.link);
                        if let Some(link) = link {
                            self.close_from_client(link);
                        }
                    }
                }
                Output::Timeout(t) => {
                    let t = self.clock.sim_time(t);
                    self.set_deadline(NodeRef::Client(idx), t);
                    self.check_credits(idx);
                    return;
                }
            }
        }
    }

    fn track_event(&mut self, idx: usize, e: &Event) {
        let bound = self.config.request_bound;
        let now = self.now;
        let Some(c) = self.clients.get_mut(idx) else {
            return;
        };
        let ended = match e {
            Event::Response { id, .. } | Event::SessionReady { id, .. } => {
                c.open.remove(id).map(|t| (id.0, t))
            }
            _ => None,
        };
        if let Some((id, issued)) = ended {
            self.stats.requests_ended += 1;
            if now.since(issued) > bound {
                self.violations.push(Violation {
                    at: now,
                    node: Some(idx),
                    kind: ViolationKind::RequestBound,
                    detail: format!(
                        "request {id} took {:?} (bound {bound:?})",
                        now.since(issued)
                    ),
                });
            }
        }
        if matches!(e, Event::Closed { .. }) {
            // Every outstanding request has failed with the connection.
            self.stats.requests_ended += c.open.len() as u64;
            c.open.clear();
        }
    }

    fn check_credits(&mut self, idx: usize) {
        let Some(c) = self.clients.get_mut(idx) else {
            return;
        };
        let Some(conn) = c.conn.as_ref() else {
            return;
        };
        let credits = conn.credits_available();
        c.max_credits_seen = c.max_credits_seen.max(credits);
        // The client's own ceiling (`ProtocolViolation::ExcessCredits`): `max_credits` plus
        // what one request asks for. Our server never grants past `max_credits`, but a
        // tampered request (say a flipped CreditCharge) makes it consume ids the client still
        // holds, so under the adversary the client may legitimately end up a little above.
        let ceiling = c.spec_config.credit_ceiling();
        if credits > ceiling {
            self.violations.push(Violation {
                at: self.now,
                node: Some(idx),
                kind: ViolationKind::Credits,
                detail: format!(
                    "{credits} credits available, above the client's ceiling of {ceiling}"
                ),
            });
        }
    }

    fn on_client_wake(&mut self, idx: usize, key: EventKey) {
        if !self.deadline_due(NodeRef::Client(idx), key) {
            return;
        }
        let instant = self.clock.instant(self.now);
        if let Some(conn) = self.clients.get_mut(idx).and_then(|c| c.conn.as_mut()) {
            self.trace
                .record(self.now, NodeRef::Client(idx), TraceEvent::ClientTimeout);
            conn.handle_input(Input::Timeout(instant));
            self.drain_client(idx);
        }
    }

    fn on_workload_wake(&mut self, idx: usize, key: EventKey) {
        let Some(c) = self.clients.get_mut(idx) else {
            return;
        };
        if c.workload_wake.map(|(k, _)| k) != Some(key) {
            return;
        }
        c.workload_wake = None;
        self.with_workload(idx, |w, api| w.wake(api));
        self.drain_client(idx);
    }

    // ----- links -----

    /// A node transmits a frame on a link: the adversary decides its fate first.
    fn send_frame(&mut self, link: usize, upstream: bool, frame: Bytes) {
        let Some(l) = self.links.get_mut(link) else {
            return;
        };
        if !l.open || (upstream && !l.client_writable) {
            return;
        }
        let index = if upstream {
            l.frames_up += 1;
            l.frames_up - 1
        } else {
            l.frames_down += 1;
            l.frames_down - 1
        };
        let tamper = self.adversary.tamper(index, &frame, &mut self.rng);
        if tamper != Tamper::Pass {
            self.stats.faults += 1;
            self.trace.record(
                self.now,
                NodeRef::Sim,
                TraceEvent::Fault(format!(
                    "link {link} {} frame {index}: {tamper:?}",
                    if upstream { "up" } else { "down" }
                )),
            );
        }
        match tamper {
            Tamper::Pass => self.put_on_wire_after_reorder(link, upstream, frame),
            Tamper::Drop => {}
            Tamper::Duplicate => {
                self.put_on_wire_after_reorder(link, upstream, frame.clone());
                self.put_on_wire(link, upstream, frame);
            }
            Tamper::Reorder => {
                let held = self.links.get_mut(link).and_then(|l| {
                    let slot = if upstream {
                        &mut l.reorder_up
                    } else {
                        &mut l.reorder_down
                    };
                    slot.replace(frame)
                });
                if let Some(prev) = held {
                    self.put_on_wire(link, upstream, prev);
                }
                // If no frame follows, the held one leaves after the longest delay.
                let slot = self.next_inject;
                self.next_inject += 1;
                let max = self.config.adversary.delay_max;
                self.queue.push(
                    self.now.plus(max),
                    Ev::Inject {
                        link,
                        upstream,
                        slot,
                    },
                );
                // The injected slot is empty; the Inject event then only flushes the hold.
                self.injected.insert(slot, Bytes::new());
            }
            Tamper::Delay(d) => {
                let slot = self.next_inject;
                self.next_inject += 1;
                self.injected.insert(slot, frame);
                self.queue.push(
                    self.now.plus(d),
                    Ev::Inject {
                        link,
                        upstream,
                        slot,
                    },
                );
            }
            Tamper::BitFlip { offset, bit } => {
                let flipped = flip_bit(&frame, offset, bit);
                self.put_on_wire_after_reorder(link, upstream, flipped);
            }
        }
    }

    /// Sends `frame`, then any frame the adversary held back for reordering.
    fn put_on_wire_after_reorder(&mut self, link: usize, upstream: bool, frame: Bytes) {
        self.put_on_wire(link, upstream, frame);
        let held = self.links.get_mut(link).and_then(|l| {
            if upstream {
                l.reorder_up.take()
            } else {
                l.reorder_down.take()
            }
        });
        if let Some(h) = held {
            self.put_on_wire(link, upstream, h);
        }
    }

    fn put_on_wire(&mut self, link: usize, upstream: bool, frame: Bytes) {
        if frame.is_empty() {
            // An empty injection flushes a reorder hold.
            let held = self.links.get_mut(link).and_then(|l| {
                if upstream {
                    l.reorder_up.take()
                } else {
                    l.reorder_down.take()
                }
            });
            if let Some(h) = held {
                self.put_on_wire(link, upstream, h);
            }
            return;
        }
        let Sim {
            links,
            rng,
            config,
            queue,
            now,
            ..
        } = self;
        let Some(l) = links.get_mut(link) else {
            return;
        };
        if !l.open {
            return;
        }
        let arrivals = l.pipe(upstream).send(*now, frame, &config.link, rng);
        for at in arrivals {
            queue.push(at, Ev::Arrive { link, upstream });
        }
    }

    fn on_arrive(&mut self, link: usize, upstream: bool) {
        let now = self.now;
        let Some(l) = self.links.get_mut(link) else {
            return;
        };
        // A reset cleared the pipes; bytes sent before a graceful close still arrive.
        let Some(data) = l.pipe(upstream).take_due(now) else {
            return;
        };
        let instant = self.clock.instant(now);
        if upstream {
            let (server, ch, epoch) = (l.server, l.ch, l.server_epoch);
            let Some(ch) = ch else {
                return;
            };
            let Some(s) = self.servers.get_mut(server) else {
                return;
            };
            if s.epoch != epoch {
                return;
            }
            if let Some(m) = s.machine.as_mut() {
                self.trace.record(
                    now,
                    NodeRef::Server(server),
                    TraceEvent::ServerReceive {
                        ch: ch.0,
                        data: data.clone(),
                    },
                );
                m.handle_input(ch, Input::Receive { now: instant, data });
                self.drain_server(server);
            }
        } else {
            let client = l.client;
            let Some(c) = self.clients.get_mut(client) else {
                return;
            };
            if c.link != Some(link) {
                return;
            }
            if let Some(conn) = c.conn.as_mut() {
                self.trace.record(
                    now,
                    NodeRef::Client(client),
                    TraceEvent::ClientReceive(data.clone()),
                );
                conn.handle_input(Input::Receive { now: instant, data });
                self.drain_client(client);
            }
        }
    }

    /// Abortive close: in-flight bytes are lost and both sides see Closed after the latency
    /// (only the server side when `client_knows`, because the client itself asked for it).
    fn reset_link(&mut self, link: usize, client_knows: bool) {
        let latency = self.config.link.latency;
        let Some(l) = self.links.get_mut(link) else {
            return;
        };
        if !l.open {
            return;
        }
        l.open = false;
        l.client_writable = false;
        l.up.clear();
        l.down.clear();
        l.reorder_up = None;
        l.reorder_down = None;
        let at = self.now.plus(latency);
        self.queue.push(
            at,
            Ev::Closed {
                link,
                to_server: true,
            },
        );
        if !client_knows {
            self.queue.push(
                at,
                Ev::Closed {
                    link,
                    to_server: false,
                },
            );
        }
    }

    /// The client closed its side: the server sees Closed once the bytes in flight arrived.
    fn close_from_client(&mut self, link: usize) {
        let Some(l) = self.links.get_mut(link) else {
            return;
        };
        if !l.open {
            return;
        }
        l.open = false;
        l.client_writable = false;
        let at = self.now.plus(self.config.link.latency);
        self.queue.push(
            at,
            Ev::Closed {
                link,
                to_server: true,
            },
        );
    }

    /// The server asked to close: the client sees the bytes already sent, then Closed.
    fn close_from_server(&mut self, link: usize) {
        let Some(l) = self.links.get_mut(link) else {
            return;
        };
        l.client_writable = false;
        l.ch = None;
        let at = self
            .now
            .plus(self.config.link.latency)
            .plus(Duration::from_nanos(1));
        self.queue.push(
            at.max(self.now),
            Ev::Closed {
                link,
                to_server: false,
            },
        );
    }

    fn on_closed(&mut self, link: usize, to_server: bool) {
        let now = self.now;
        let instant = self.clock.instant(now);
        let Some(l) = self.links.get_mut(link) else {
            return;
        };
        if to_server {
            let (server, epoch) = (l.server, l.server_epoch);
            let Some(ch) = l.ch.take() else {
                return;
            };
            let Some(s) = self.servers.get_mut(server) else {
                return;
            };
            if s.epoch != epoch {
                return;
            }
            s.conns.remove(&ch);
            if let Some(m) = s.machine.as_mut() {
                self.trace.record(
                    now,
                    NodeRef::Server(server),
                    TraceEvent::ServerClosed { ch: ch.0 },
                );
                m.handle_input(ch, Input::Closed { now: instant });
                self.drain_server(server);
            }
        } else {
            l.open = false;
            // Remaining bytes still due are delivered first.
            let rest = l.down.take_due(SimTime(u64::MAX));
            let client = l.client;
            let Some(c) = self.clients.get_mut(client) else {
                return;
            };
            if c.link != Some(link) {
                return;
            }
            if let Some(conn) = c.conn.as_mut() {
                if let Some(data) = rest {
                    self.trace.record(
                        now,
                        NodeRef::Client(client),
                        TraceEvent::ClientReceive(data.clone()),
                    );
                    conn.handle_input(Input::Receive { now: instant, data });
                }
                self.trace
                    .record(now, NodeRef::Client(client), TraceEvent::ClientClosed);
                conn.handle_input(Input::Closed { now: instant });
                self.drain_client(client);
            }
        }
    }

    // ----- faults -----

    fn apply_fault(&mut self, action: FaultAction) {
        self.stats.faults += 1;
        self.trace.record(
            self.now,
            NodeRef::Sim,
            TraceEvent::Fault(format!("{action:?}")),
        );
        let client_link = |sim: &Sim, client: usize| sim.clients.get(client).and_then(|c| c.link);
        match action {
            FaultAction::Reset { client } => {
                if let Some(link) = client_link(self, client) {
                    self.reset_link(link, false);
                }
            }
            FaultAction::Stall { client, upstream } => {
                if let Some(l) = client_link(self, client).and_then(|l| self.links.get_mut(l)) {
                    l.pipe(upstream).stall();
                }
            }
            FaultAction::Release { client, upstream } => {
                if let Some(link) = client_link(self, client) {
                    self.release(link, upstream);
                }
            }
            FaultAction::Partition { client } => {
                if let Some(l) = client_link(self, client).and_then(|l| self.links.get_mut(l)) {
                    l.partitioned = true;
                    l.up.stall();
                    l.down.stall();
                }
            }
            FaultAction::Heal { client } => {
                if let Some(link) = client_link(self, client) {
                    if let Some(l) = self.links.get_mut(link) {
                        l.partitioned = false;
                    }
                    self.release(link, true);
                    self.release(link, false);
                }
            }
            FaultAction::ChangeAddress { client } => {
                let (transport, link) = match self.clients.get_mut(client) {
                    Some(c) => {
                        c.addr.set_port(c.addr.port().wrapping_add(1).max(1024));
                        (c.transport, c.link)
                    }
                    None => return,
                };
                if let Some(link) = link {
                    match transport {
                        TransportKind::Quic => {
                            // Path validation: one round trip of silence, then on as before.
                            if let Some(l) = self.links.get_mut(link) {
                                l.up.stall();
                                l.down.stall();
                            }
                            let rtt = self.config.link.latency * 2;
                            self.queue
                                .push(self.now.plus(rtt), Ev::Fault(FaultAction::Heal { client }));
                        }
                        TransportKind::Tcp => self.reset_link(link, false),
                    }
                }
            }
            FaultAction::Crash { server } => self.crash_server(server),
            FaultAction::Restart { server } => {
                if self
                    .servers
                    .get(server)
                    .is_some_and(|s| s.machine.is_none())
                {
                    self.start_server(server);
                }
            }
        }
    }

    fn release(&mut self, link: usize, upstream: bool) {
        let Sim {
            links,
            rng,
            config,
            queue,
            now,
            ..
        } = self;
        let Some(l) = links.get_mut(link) else {
            return;
        };
        let arrivals = l.pipe(upstream).release(*now, &config.link, rng);
        for at in arrivals {
            queue.push(at, Ev::Arrive { link, upstream });
        }
    }

    // ----- invariants -----

    fn memory_in_use(&self) -> usize {
        let links: usize = self
            .links
            .iter()
            .filter(|l| l.open || l.client_writable)
            .map(|l| l.up.buffered() + l.down.buffered())
            .sum();
        let ops: usize = self.servers.iter().map(|s| s.ops.len() * 256).sum();
        let injected: usize = self.injected.values().map(Bytes::len).sum();
        links + ops + injected + self.queue.len() * 64
    }

    fn check_memory(&mut self) {
        let m = self.memory_in_use();
        self.stats.peak_memory = self.stats.peak_memory.max(m);
        if m > self.config.memory_limit {
            self.violations.push(Violation {
                at: self.now,
                node: None,
                kind: ViolationKind::Memory,
                detail: format!("{m} bytes buffered, limit {}", self.config.memory_limit),
            });
        }
        for (i, c) in self.clients.iter().enumerate() {
            let outstanding = c.conn.as_ref().map_or(0, |c| c.outstanding());
            if outstanding > 100_000 {
                self.violations.push(Violation {
                    at: self.now,
                    node: Some(i),
                    kind: ViolationKind::Memory,
                    detail: format!("{outstanding} requests outstanding"),
                });
            }
        }
    }

    /// End-of-run checks: workloads finished, requests ended within the bound, backend
    /// contents match the model.
    fn finish(&mut self) {
        self.check_memory();
        let now = self.now;
        let bound = self.config.request_bound;
        for (i, c) in self.clients.iter().enumerate() {
            if !c.workload.finished() {
                self.violations.push(Violation {
                    at: now,
                    node: Some(i),
                    kind: ViolationKind::Liveness,
                    detail: format!(
                        "workload unfinished at the end of the run: {:?}",
                        c.workload
                    ),
                });
            }
            for (id, issued) in &c.open {
                if now.since(*issued) > bound {
                    self.violations.push(Violation {
                        at: now,
                        node: Some(i),
                        kind: ViolationKind::RequestBound,
                        detail: format!("request {} open since {issued}", id.0),
                    });
                }
            }
        }
        for (i, s) in self.servers.iter().enumerate() {
            let live = self
                .links
                .iter()
                .filter(|l| l.server == i && l.ch.is_some() && l.server_epoch == s.epoch)
                .count();
            let held = s.machine.as_ref().and_then(|m| m.connection_count());
            if let Some(held) = held.filter(|h| *h > live) {
                self.violations.push(Violation {
                    at: now,
                    node: None,
                    kind: ViolationKind::Memory,
                    detail: format!(
                        "server {i} holds {held} connections after the run, {live} are open"
                    ),
                });
            }
        }
        for s in &self.servers {
            let share = s
                .config
                .shares
                .first()
                .map(|sh| sh.name.clone())
                .unwrap_or_default();
            for path in s.model.paths() {
                let content = s.backend.contents(&share, path);
                if let Err(e) = s.model.check_final(path, content.as_deref()) {
                    self.violations.push(Violation {
                        at: now,
                        node: None,
                        kind: ViolationKind::Content,
                        detail: e.to_string(),
                    });
                }
            }
        }
    }

    /// Records a violation found outside the simulator (e.g. a caught panic).
    pub fn push_violation(&mut self, kind: ViolationKind, detail: String) {
        self.violations.push(Violation {
            at: self.now,
            node: None,
            kind,
            detail,
        });
    }
}

/// A canonical one-line summary of a client event (hashed into the trace).
pub fn event_summary(e: &Event) -> String {
    match e {
        Event::Negotiated(n) => format!("negotiated {} cipher {:?}", n.dialect, n.cipher),
        Event::SessionReady { id, session, flags } => {
            format!("session_ready {} {session} {flags:?}", id.0)
        }
        Event::Response { id, result: Ok(r) } => {
            format!("response {} {} {}", id.0, r.header.command, r.header.status)
        }
        Event::Response { id, result: Err(e) } => format!("response {} error {e}", id.0),
        Event::Pending { id } => format!("pending {}", id.0),
        // Same text as before the break became typed, so recorded traces still compare.
        Event::Break(_) => format!("break {}", smb_proto::wire::Command::OPLOCK_BREAK),
        Event::CreditsAvailable { available } => format!("credits {available}"),
        Event::Closed { reason } => format!("closed {reason}"),
    }
}

/// The compact key of a client event (what the trace hashes).
pub fn event_key(e: &Event) -> Vec<u8> {
    let mut k = Vec::with_capacity(24);
    match e {
        Event::Response { id, result: Ok(r) } => {
            k.push(1);
            k.extend_from_slice(&id.0.to_le_bytes());
            k.extend_from_slice(&r.header.command.0.to_le_bytes());
            k.extend_from_slice(&r.header.status.0.to_le_bytes());
            k.extend_from_slice(&r.header.credits.to_le_bytes());
        }
        Event::Pending { id } => {
            k.push(2);
            k.extend_from_slice(&id.0.to_le_bytes());
        }
        Event::CreditsAvailable { available } => {
            k.push(3);
            k.extend_from_slice(&available.to_le_bytes());
        }
        other => {
            k.push(4);
            k.extend_from_slice(event_summary(other).as_bytes());
        }
    }
    k
}

fn op_key(req: &OpRequest) -> [u8; 25] {
    let mut k = [0u8; 25];
    k[..8].copy_from_slice(&req.id.0.to_le_bytes());
    k[8..16].copy_from_slice(&req.ctx.ch.0.to_le_bytes());
    k[16..24].copy_from_slice(&req.op.open().0.to_le_bytes());
    k[24] = match &req.op {
        FsOp::Create(_) => 1,
        FsOp::Read { .. } => 2,
        FsOp::Write { .. } => 3,
        FsOp::Flush { .. } => 4,
        FsOp::Close { .. } => 5,
        FsOp::QueryInfo { .. } => 6,
        FsOp::SetInfo { .. } => 7,
        FsOp::QueryDirectory { .. } => 8,
        FsOp::Lock { .. } => 9,
        FsOp::Ioctl { .. } => 10,
        FsOp::ChangeNotify { .. } => 11,
        FsOp::SetSparse { .. } => 12,
        FsOp::QueryAllocatedRanges { .. } => 13,
        FsOp::ZeroData { .. } => 14,
    };
    k
}

fn reply_code(r: &OpReply) -> u8 {
    match r {
        OpReply::Create(_) => 1,
        OpReply::Read(_) => 2,
        OpReply::Write { .. } => 3,
        OpReply::Flush => 4,
        OpReply::Close(_) => 5,
        OpReply::QueryInfo(_) => 6,
        OpReply::SetInfo => 7,
        OpReply::QueryDirectory(_) => 8,
        OpReply::Lock => 9,
        OpReply::Ioctl(_) => 10,
        OpReply::ChangeNotify(_) => 11,
        OpReply::AllocatedRanges(_) => 12,
    }
}

/// The trace's summary of `ServerOutput::Cancel`.
pub fn cancel_summary(op: OpId) -> String {
    format!("cancel op {}", op.0)
}

/// The trace's summary of `ServerOutput::Close`.
pub fn close_summary(ch: ConnectionHandle) -> String {
    format!("close {}", ch.0)
}

/// The trace's summary of a server event.
pub fn server_event_summary(e: &smb_proto::server::ServerEvent) -> String {
    format!("{e:?}")
}

/// A canonical one-line summary of a server op.
pub fn op_summary(req: &OpRequest) -> String {
    let kind = match &req.op {
        FsOp::Create(c) => format!("create {:?}", c.path),
        FsOp::Read { offset, length, .. } => format!("read {offset}+{length}"),
        FsOp::Write { offset, data, .. } => format!("write {offset}+{}", data.len()),
        FsOp::Flush { .. } => "flush".into(),
        FsOp::Close { .. } => "close".into(),
        FsOp::QueryInfo { .. } => "query_info".into(),
        FsOp::SetInfo { .. } => "set_info".into(),
        FsOp::QueryDirectory { .. } => "query_directory".into(),
        FsOp::Lock { .. } => "lock".into(),
        FsOp::Ioctl { .. } => "ioctl".into(),
        FsOp::ChangeNotify { .. } => "change_notify".into(),
        FsOp::SetSparse { sparse, .. } => format!("set_sparse {sparse}"),
        FsOp::QueryAllocatedRanges { offset, length, .. } => {
            format!("query_allocated_ranges {offset}+{length}")
        }
        FsOp::ZeroData { offset, beyond, .. } => format!("zero_data {offset}..{beyond}"),
    };
    format!(
        "op {} ch {} open {} {kind}",
        req.id.0,
        req.ctx.ch.0,
        req.op.open().0
    )
}

fn reply_kind(r: &OpReply) -> &'static str {
    match r {
        OpReply::Create(_) => "create",
        OpReply::Read(_) => "read",
        OpReply::Write { .. } => "write",
        OpReply::Flush => "flush",
        OpReply::Close(_) => "close",
        OpReply::QueryInfo(_) => "query_info",
        OpReply::SetInfo => "set_info",
        OpReply::QueryDirectory(_) => "query_directory",
        OpReply::Lock => "lock",
        OpReply::Ioctl(_) => "ioctl",
        OpReply::ChangeNotify(_) => "change_notify",
        OpReply::AllocatedRanges(_) => "allocated_ranges",
    }
}
