//! Credits and MessageId windows (MS-SMB2 3.2.4.1.5, 3.2.5.1.4, 3.3.1.1, 3.3.5.2.3).
//!
//! Owns: the arithmetic both roles share: the credit charge of a request, the client's pool of
//! granted credits and next MessageId, and the server's command sequence window that rejects a
//! duplicate (replayed) or out-of-window MessageId.
//! Must not: decide how many credits to grant (policy belongs to the server state machine) or
//! know about messages beyond (MessageId, CreditCharge).

use std::collections::VecDeque;

/// One credit covers this many payload bytes (MS-SMB2 3.1.5.2).
pub const BYTES_PER_CREDIT: u64 = 65_536;

/// The CreditCharge of a request or response carrying `payload_len` bytes of READ/WRITE/
/// IOCTL/QUERY_DIRECTORY payload: `max(1, ceil(len / 64 KiB))`. Dialect 2.0.2 has no large MTU
/// and always charges 1; callers pass `large_mtu = false` for it.
pub fn credit_charge(payload_len: u64, large_mtu: bool) -> u16 {
    if !large_mtu {
        return 1;
    }
    let charge = payload_len.div_ceil(BYTES_PER_CREDIT).max(1);
    u16::try_from(charge).unwrap_or(u16::MAX)
}

/// Why the client cannot send a request right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CreditError {
    /// Not enough credits are granted; wait for responses (backpressure, not a failure).
    #[error("request needs {needed} credits, {available} available")]
    Exhausted {
        /// The request's charge.
        needed: u16,
        /// Credits currently granted and unused.
        available: u32,
    },
    /// The MessageId space is exhausted; the connection must be re-established.
    #[error("MessageId space exhausted")]
    MessageIdsExhausted,
}

/// The client's view of credits: how many it may still spend and the next MessageId.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCredits {
    available: u32,
    next_message_id: u64,
}

impl Default for ClientCredits {
    fn default() -> Self {
        Self::new()
    }
}

impl ClientCredits {
    /// A fresh connection: one credit, MessageId 0 (for NEGOTIATE).
    pub fn new() -> Self {
        Self {
            available: 1,
            next_message_id: 0,
        }
    }

    /// Credits granted and not yet spent.
    pub fn available(&self) -> u32 {
        self.available
    }

    /// The MessageId the next request will carry.
    pub fn next_message_id(&self) -> u64 {
        self.next_message_id
    }

    /// Spends `charge` credits (0 is treated as 1) and returns the request's MessageId; the
    /// request consumes MessageIds `id..id + charge`.
    pub fn consume(&mut self, charge: u16) -> Result<u64, CreditError> {
        let charge = charge.max(1);
        if u32::from(charge) > self.available {
            return Err(CreditError::Exhausted {
                needed: charge,
                available: self.available,
            });
        }
        let id = self.next_message_id;
        let next = id
            .checked_add(u64::from(charge))
            .filter(|n| *n < u64::MAX)
            .ok_or(CreditError::MessageIdsExhausted)?;
        self.available -= u32::from(charge);
        self.next_message_id = next;
        Ok(id)
    }

    /// Adds the credits a response granted, saturating at `cap` so a hostile server cannot
    /// make us account for an unbounded number.
    pub fn grant(&mut self, granted: u16, cap: u32) {
        self.available = self.available.saturating_add(granted.into()).min(cap);
    }
}

/// Why the server rejects a request's MessageId.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    /// Below the window or already consumed: a duplicate or replay.
    #[error("MessageId {0} was already used")]
    Replayed(u64),
    /// At or beyond the highest id granted so far.
    #[error("MessageId {0} lies beyond the granted window")]
    BeyondWindow(u64),
    /// The charge runs past the end of the window (more credits spent than granted).
    #[error("CreditCharge {charge} at MessageId {id} exceeds the granted window")]
    ChargeExceedsWindow {
        /// The first MessageId of the request.
        id: u64,
        /// Its charge.
        charge: u16,
    },
}

/// The server's command sequence window (MS-SMB2 3.3.1.1): the set of MessageIds the client may
/// still use. Ids are granted at the top as credits are granted and consumed anywhere in the
/// window, in any order; the bottom advances past consumed ids. Memory is bounded by the
/// largest number of outstanding credits, which the server caps.
#[derive(Debug, Clone)]
pub struct ServerWindow {
    /// Lowest id not known to be consumed.
    low: u64,
    /// `used[i]` tells whether `low + i` was consumed; its length is `high - low`.
    used: VecDeque<bool>,
}

impl Default for ServerWindow {
    fn default() -> Self {
        Self::new()
    }
}

impl ServerWindow {
    /// A fresh connection: only MessageId 0 is available (MS-SMB2 3.3.1.1).
    pub fn new() -> Self {
        let mut used = VecDeque::new();
        used.push_back(false);
        Self { low: 0, used }
    }

    /// Ids granted and not yet consumed (the client's available credits, as the server sees
    /// them).
    pub fn outstanding(&self) -> u64 {
        self.used.iter().filter(|u| !**u).count() as u64
    }

    /// The size of the window from its lowest unconsumed id to its top.
    pub fn span(&self) -> usize {
        self.used.len()
    }

    /// One past the highest id granted.
    pub fn high(&self) -> u64 {
        self.low + self.used.len() as u64
    }

    /// Checks and consumes MessageIds `id..id + charge` (a charge of 0 counts as 1).
    pub fn consume(&mut self, id: u64, charge: u16) -> Result<(), WindowError> {
        let charge = charge.max(1);
        if id < self.low {
            return Err(WindowError::Replayed(id));
        }
        if id >= self.high() {
            return Err(WindowError::BeyondWindow(id));
        }
        let start = (id - self.low) as usize;
        let end = start + usize::from(charge);
        if end > self.used.len() {
            return Err(WindowError::ChargeExceedsWindow { id, charge });
        }
        if self.used.range(start..end).any(|u| *u) {
            return Err(WindowError::Replayed(id));
        }
        for slot in self.used.range_mut(start..end) {
            *slot = true;
        }
        while self.used.front() == Some(&true) {
            self.used.pop_front();
            self.low += 1;
        }
        Ok(())
    }

    /// Whether `id` is in the window and not yet consumed (e.g. the target of a CANCEL, which
    /// itself consumes nothing, must not be checked with this; it names an earlier request).
    pub fn is_available(&self, id: u64) -> bool {
        id >= self.low
            && id < self.high()
            && !self
                .used
                .get((id - self.low) as usize)
                .copied()
                .unwrap_or(true)
    }

    /// Extends the window by `granted` ids at the top, as a response grants credits. The
    /// window never spans more than `max_span` ids: a grant that would exceed it is trimmed,
    /// and the number of ids actually granted is returned (put that in CreditResponse).
    pub fn grant(&mut self, granted: u16, max_span: usize) -> u16 {
        let room = max_span.saturating_sub(self.used.len());
        let n = usize::from(granted).min(room);
        self.used.extend(std::iter::repeat_n(false, n));
        n as u16
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn charge_rounds_up_per_64k() {
        assert_eq!(credit_charge(0, true), 1);
        assert_eq!(credit_charge(1, true), 1);
        assert_eq!(credit_charge(65_536, true), 1);
        assert_eq!(credit_charge(65_537, true), 2);
        assert_eq!(credit_charge(8 << 20, true), 128);
        assert_eq!(credit_charge(8 << 20, false), 1);
        assert_eq!(credit_charge(u64::MAX, true), u16::MAX);
    }

    #[test]
    fn client_spends_and_is_refused_without_credits() {
        let mut c = ClientCredits::new();
        assert_eq!(c.consume(1), Ok(0));
        assert_eq!(
            c.consume(1),
            Err(CreditError::Exhausted {
                needed: 1,
                available: 0
            })
        );
        c.grant(10, 512);
        assert_eq!(c.consume(4), Ok(1));
        assert_eq!(c.next_message_id(), 5);
        assert_eq!(c.available(), 6);
        c.grant(u16::MAX, 512);
        assert_eq!(c.available(), 512);
    }

    #[test]
    fn server_window_rejects_replay_and_out_of_window() {
        let mut w = ServerWindow::new();
        assert_eq!(w.consume(1, 1), Err(WindowError::BeyondWindow(1)));
        w.consume(0, 1).unwrap();
        assert_eq!(w.consume(0, 1), Err(WindowError::Replayed(0)));
        assert_eq!(w.grant(8, 16), 8);
        // Out of order is fine.
        w.consume(5, 2).unwrap();
        w.consume(1, 1).unwrap();
        assert_eq!(w.consume(5, 1), Err(WindowError::Replayed(5)));
        assert_eq!(
            w.consume(7, 3),
            Err(WindowError::ChargeExceedsWindow { id: 7, charge: 3 })
        );
        assert!(w.is_available(2));
        assert!(!w.is_available(5));
        assert_eq!(w.outstanding(), 8 - 3);
        // The span cap holds.
        // Ids 0 and 1 are consumed, so the window is 2..9 (span 7); the cap of 16 leaves 9.
        assert_eq!(w.span(), 7);
        assert_eq!(w.grant(100, 16), 9);
        assert_eq!(w.span(), 16);
    }

    proptest! {
        /// A client and a server that follow the rules never disagree: every request the
        /// client may send is accepted exactly once, and the window stays bounded.
        #[test]
        fn client_and_server_agree(ops in proptest::collection::vec((1u16..8, 0u16..16, any::<bool>()), 1..200)) {
            const CAP: usize = 64;
            let mut client = ClientCredits::new();
            let mut server = ServerWindow::new();
            let mut in_flight: Vec<(u64, u16)> = Vec::new();
            for (charge, grant, respond_first) in ops {
                if respond_first {
                    if let Some((id, ch)) = in_flight.pop() {
                        server.consume(id, ch).unwrap();
                        prop_assert_eq!(server.consume(id, ch), Err(WindowError::Replayed(id)));
                        let g = server.grant(grant, CAP);
                        client.grant(g, CAP as u32);
                    }
                }
                if let Ok(id) = client.consume(charge) {
                    in_flight.push((id, charge));
                }
                prop_assert!(server.span() <= CAP);
            }
            for (id, ch) in in_flight.drain(..).rev() {
                server.consume(id, ch).unwrap();
            }
        }
    }
}
