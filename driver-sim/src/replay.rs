//! Replaying a trace into a single node.
//!
//! Owns: [`replay_client`], which rebuilds one client's connections from the configurations
//! recorded in a full trace, feeds them the recorded inputs and commands at their recorded
//! virtual times, and checks that every output (frames byte for byte, events, deadlines) is
//! the one recorded; [`replay_server`], the same for one `smb_proto::server::Server` (its
//! starts, accepts, received bytes, closes, timers and the backend's recorded completions).
//! This proves each state machine is a pure function of its inputs and lets a failing run be
//! debugged on one node without the rest of the simulation.
//! Must not: need the other nodes, the links, the backend or the RNG of the run.

use smb_proto::client::{Connection, Output};
use smb_proto::io::Input;
use smb_proto::server::{ConnectionHandle, OpId, Server, ServerOutput};

use crate::command::result_summary;
use crate::sim::{cancel_summary, close_summary, event_summary, op_summary, server_event_summary};
use crate::time::VirtualClock;
use crate::trace::{NodeRef, Trace, TraceEvent, TraceMode};

/// What a successful replay covered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReplayReport {
    /// Connections rebuilt.
    pub connections: usize,
    /// Inputs and commands fed.
    pub inputs: usize,
    /// Outputs compared.
    pub outputs: usize,
}

/// Why a replay failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    /// The trace kept no records.
    #[error("the trace was recorded in hash-only mode")]
    NoRecords,
    /// A record refers to a connection before any was created.
    #[error("record {0} precedes the client's first connection")]
    NoConnection(usize),
    /// The replayed node produced something else.
    #[error("record {index}: expected {expected}, replay produced {got}")]
    Mismatch {
        /// Index of the record in the trace.
        index: usize,
        /// What the trace says.
        expected: String,
        /// What the replay produced.
        got: String,
    },
}

/// Replays client `client` of a [`TraceMode::Full`] trace.
pub fn replay_client(trace: &Trace, client: usize) -> Result<ReplayReport, ReplayError> {
    if trace.mode() != TraceMode::Full {
        return Err(ReplayError::NoRecords);
    }
    let mut report = ReplayReport::default();
    let mut conn: Option<(Connection, VirtualClock)> = None;
    for (index, rec) in trace.records().iter().enumerate() {
        if rec.node != NodeRef::Client(client) {
            continue;
        }
        if let TraceEvent::ClientConnect { config, transport } = &rec.event {
            let base = config.clock.map(|c| c.instant).unwrap_or_else(|| {
                // Without a wall-clock anchor the instants are still relative to one base.
                std::time::Instant::now()
            });
            let clock = VirtualClock::at(base);
            conn = Some((
                Connection::new(config.clone(), *transport, clock.instant(rec.at)),
                clock,
            ));
            report.connections += 1;
            continue;
        }
        let (c, clock) = conn.as_mut().ok_or(ReplayError::NoConnection(index))?;
        let now = clock.instant(rec.at);
        let mismatch = |expected: String, got: String| ReplayError::Mismatch {
            index,
            expected,
            got,
        };
        match &rec.event {
            TraceEvent::ClientReceive(data) => {
                c.handle_input(Input::Receive {
                    now,
                    data: data.clone(),
                });
                report.inputs += 1;
            }
            TraceEvent::ClientTimeout => {
                c.handle_input(Input::Timeout(now));
                report.inputs += 1;
            }
            TraceEvent::ClientClosed => {
                c.handle_input(Input::Closed { now });
                report.inputs += 1;
            }
            TraceEvent::ClientCommand { command, result } => {
                let got = result_summary(&command.apply(c, now));
                if &got != result {
                    return Err(mismatch(result.clone(), got));
                }
                report.inputs += 1;
            }
            TraceEvent::ClientTransmit(expected) => {
                match c.poll_output() {
                    Output::Transmit(got) if got == *expected => {}
                    other => {
                        return Err(mismatch(
                            format!("transmit of {} bytes", expected.len()),
                            describe(&other, clock),
                        ));
                    }
                }
                report.outputs += 1;
            }
            TraceEvent::ClientEvent(expected) => {
                match c.poll_output() {
                    Output::Event(e) if event_summary(&e) == *expected => {}
                    other => return Err(mismatch(expected.clone(), describe(&other, clock))),
                }
                report.outputs += 1;
            }
            TraceEvent::Deadline(t) => {
                match c.poll_output() {
                    Output::Timeout(i) if clock.sim_time(i) == *t => {}
                    other => {
                        return Err(mismatch(format!("deadline {t}"), describe(&other, clock)));
                    }
                }
                report.outputs += 1;
            }
            _ => {}
        }
    }
    Ok(report)
}

fn describe(o: &Output, clock: &VirtualClock) -> String {
    match o {
        Output::Transmit(b) => format!("transmit of {} bytes", b.len()),
        Output::Event(e) => event_summary(e),
        Output::Timeout(i) => format!("deadline {}", clock.sim_time(*i)),
    }
}

/// Replays server `server` of a [`TraceMode::Full`] trace (every start of it, crashes
/// included) into a fresh `smb_proto::server::Server`.
pub fn replay_server(trace: &Trace, server: usize) -> Result<ReplayReport, ReplayError> {
    if trace.mode() != TraceMode::Full {
        return Err(ReplayError::NoRecords);
    }
    let mut report = ReplayReport::default();
    let mut node: Option<(Server, VirtualClock)> = None;
    for (index, rec) in trace.records().iter().enumerate() {
        if rec.node != NodeRef::Server(server) {
            continue;
        }
        if let TraceEvent::ServerStart { config, .. } = &rec.event {
            let base = config
                .clock
                .map(|c| c.instant)
                .unwrap_or_else(std::time::Instant::now);
            let clock = VirtualClock::at(base);
            node = Some((Server::new(config.clone(), clock.instant(rec.at)), clock));
            report.connections += 1;
            continue;
        }
        let (s, clock) = node.as_mut().ok_or(ReplayError::NoConnection(index))?;
        let now = clock.instant(rec.at);
        let mismatch = |expected: String, got: String| ReplayError::Mismatch {
            index,
            expected,
            got,
        };
        match &rec.event {
            TraceEvent::ServerAccept {
                ch,
                transport,
                peer,
            } => {
                let got = s.accept(now, *transport, *peer);
                if got.0 != *ch {
                    return Err(mismatch(
                        format!("accept {ch}"),
                        format!("accept {}", got.0),
                    ));
                }
                report.inputs += 1;
            }
            TraceEvent::ServerReceive { ch, data } => {
                s.handle_input(
                    ConnectionHandle(*ch),
                    Input::Receive {
                        now,
                        data: data.clone(),
                    },
                );
                report.inputs += 1;
            }
            TraceEvent::ServerClosed { ch } => {
                s.handle_input(ConnectionHandle(*ch), Input::Closed { now });
                report.inputs += 1;
            }
            TraceEvent::ServerTimeout => {
                s.handle_input(ConnectionHandle(u64::MAX), Input::Timeout(now));
                report.inputs += 1;
            }
            TraceEvent::ServerComplete { op, reply, .. } => {
                let result = reply.as_ref().map(|r| r.to_reply()).map_err(|e| *e);
                s.complete(OpId(*op), now, result);
                report.inputs += 1;
            }
            TraceEvent::ServerTransmit { ch, data } => {
                match s.poll_output() {
                    ServerOutput::Transmit { ch: c, data: d } if c.0 == *ch && d == *data => {}
                    other => {
                        return Err(mismatch(
                            format!("transmit of {} bytes on {ch}", data.len()),
                            describe_server(&other, clock),
                        ));
                    }
                }
                report.outputs += 1;
            }
            TraceEvent::ServerOutput(expected) => {
                let got = s.poll_output();
                let same = match &got {
                    ServerOutput::Op(req) => op_summary(req) == *expected,
                    ServerOutput::Cancel(op) => cancel_summary(*op) == *expected,
                    ServerOutput::Close { ch } => close_summary(*ch) == *expected,
                    ServerOutput::Event(e) => server_event_summary(e) == *expected,
                    _ => false,
                };
                if !same {
                    return Err(mismatch(expected.clone(), describe_server(&got, clock)));
                }
                report.outputs += 1;
            }
            TraceEvent::Deadline(t) => {
                match s.poll_output() {
                    ServerOutput::Timeout(i) if clock.sim_time(i) == *t => {}
                    other => {
                        return Err(mismatch(
                            format!("deadline {t}"),
                            describe_server(&other, clock),
                        ));
                    }
                }
                report.outputs += 1;
            }
            _ => {}
        }
    }
    Ok(report)
}

fn describe_server(o: &ServerOutput, clock: &VirtualClock) -> String {
    match o {
        ServerOutput::Transmit { ch, data } => {
            format!("transmit of {} bytes on {}", data.len(), ch.0)
        }
        ServerOutput::Op(req) => op_summary(req),
        ServerOutput::Cancel(op) => cancel_summary(*op),
        ServerOutput::Close { ch } => close_summary(*ch),
        ServerOutput::Event(e) => server_event_summary(e),
        ServerOutput::Timeout(i) => format!("deadline {}", clock.sim_time(*i)),
    }
}
