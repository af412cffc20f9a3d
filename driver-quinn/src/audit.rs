//! Audit events of SMB over QUIC connections and the sinks that record them.
//!
//! Owns the event types (a server-side access decision per connection, like the Windows
//! SMBServer audit events; a client-side "connection established" event, like Windows event
//! 30832), the [`AuditSink`] trait and three sinks: JSON lines to any writer or file, tracing,
//! and memory (for tests and embedders). Time comes from an injected [`Clock`]. This module
//! decides nothing; it only records what the server and client tell it.

use std::fmt;
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::access::DecidingRule;
use crate::cert_info::CertInfo;

/// The wall clock used to stamp audit events. Tests inject a fixed one.
pub type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// The system wall clock.
pub fn system_clock() -> Clock {
    Arc::new(SystemTime::now)
}

/// Milliseconds since the Unix epoch (0 for times before it).
pub fn unix_millis(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// The server's decision about one incoming QUIC connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerAccessEvent {
    /// When the decision was made, milliseconds since the Unix epoch.
    pub time_unix_ms: u64,
    /// The server's id for the connection (also in [`crate::ConnectionInfo`]).
    pub connection_id: u64,
    /// The QUIC original destination connection id chosen by the client, hex.
    pub quic_connection_id: String,
    /// The client's address.
    pub remote: SocketAddr,
    /// Whether the connection may carry SMB.
    pub allowed: bool,
    /// Why.
    pub rule: DecidingRule,
    /// The client certificate, when one was presented.
    pub client_certificate: Option<CertInfo>,
}

/// A client's QUIC connection to an SMB server was established.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientConnectedEvent {
    /// When, milliseconds since the Unix epoch.
    pub time_unix_ms: u64,
    /// The server name the certificate was verified against.
    pub server_name: String,
    /// The server address that answered.
    pub remote: SocketAddr,
    /// The local UDP address.
    pub local: Option<SocketAddr>,
    /// The negotiated ALPN protocol.
    pub alpn: String,
    /// The server's leaf certificate.
    pub server_certificate: Option<CertInfo>,
    /// Whether server verification was skipped (tests only).
    pub verification_skipped: bool,
}

/// One audit record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum AuditEvent {
    /// A server allowed or refused a connection.
    ServerAccess(ServerAccessEvent),
    /// A client established a connection.
    ClientConnected(ClientConnectedEvent),
}

/// Where audit events go. Implementations must not block for long: they run on the connection's
/// task.
pub trait AuditSink: Send + Sync + fmt::Debug {
    /// Records one event.
    fn record(&self, event: &AuditEvent);
}

/// Writes one JSON object per line.
pub struct JsonLinesSink {
    out: Mutex<Box<dyn Write + Send>>,
}

impl fmt::Debug for JsonLinesSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JsonLinesSink")
    }
}

impl JsonLinesSink {
    /// Writes to any writer (flushed after every line).
    pub fn new(out: Box<dyn Write + Send>) -> Self {
        Self {
            out: Mutex::new(out),
        }
    }

    /// Appends to a file, creating it if needed.
    pub fn append_to(path: &Path) -> std::io::Result<Self> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(Self::new(Box::new(file)))
    }
}

impl AuditSink for JsonLinesSink {
    fn record(&self, event: &AuditEvent) {
        let mut line = match serde_json::to_vec(event) {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "audit event not serialisable");
                return;
            }
        };
        line.push(b'\n');
        let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = out.write_all(&line).and_then(|()| out.flush()) {
            tracing::warn!(error = %e, "audit log write failed");
        }
    }
}

/// Emits every event as one `tracing` INFO record (target `smb_quic_audit`) holding its JSON.
#[derive(Debug, Default, Clone, Copy)]
pub struct TracingSink;

impl AuditSink for TracingSink {
    fn record(&self, event: &AuditEvent) {
        match serde_json::to_string(event) {
            Ok(json) => tracing::info!(target: "smb_quic_audit", event = %json),
            Err(e) => tracing::warn!(error = %e, "audit event not serialisable"),
        }
    }
}

/// Keeps events in memory.
#[derive(Debug, Default)]
pub struct MemorySink {
    events: Mutex<Vec<AuditEvent>>,
}

impl MemorySink {
    /// A copy of the events recorded so far.
    pub fn events(&self) -> Vec<AuditEvent> {
        self.events
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Removes and returns the events recorded so far.
    pub fn take(&self) -> Vec<AuditEvent> {
        std::mem::take(&mut *self.events.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl AuditSink for MemorySink {
    fn record(&self, event: &AuditEvent) {
        self.events
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(event.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn json_lines_round_trip() {
        let buf = Shared::default();
        let sink = JsonLinesSink::new(Box::new(buf.clone()));
        let ev = AuditEvent::ServerAccess(ServerAccessEvent {
            time_unix_ms: 1_700_000_000_000,
            connection_id: 7,
            quic_connection_id: "abcd".into(),
            remote: "127.0.0.1:5000".parse().expect("addr"),
            allowed: false,
            rule: DecidingRule::NoClientCertificate,
            client_certificate: None,
        });
        sink.record(&ev);
        sink.record(&ev);
        let text = String::from_utf8(buf.0.lock().expect("lock").clone()).expect("utf8");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(
            lines[0].contains("\"event\":\"server_access\""),
            "{}",
            lines[0]
        );
        assert!(
            lines[0].contains("\"rule\":\"no_client_certificate\""),
            "{}",
            lines[0]
        );
        let back: AuditEvent = serde_json::from_str(lines[1]).expect("parse");
        assert_eq!(back, ev);
    }
}
