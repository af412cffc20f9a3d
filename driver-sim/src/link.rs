//! The stream link model.
//!
//! Owns: [`LinkConfig`] (latency, jitter, bandwidth, re-chunking) and [`Pipe`], one direction
//! of a link: it turns a write at a virtual time into chunks with arrival times, keeps the
//! byte stream in order (jitter never reorders a stream), holds bytes while stalled and drops
//! them on reset. Must not: look inside the bytes (message-level faults belong to
//! [`crate::adversary`]) or schedule events itself (the simulator does).

use std::collections::VecDeque;
use std::time::Duration;

use bytes::{Bytes, BytesMut};

use crate::rng::SimRng;
use crate::time::SimTime;

/// How a link carries bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkConfig {
    /// One-way propagation delay.
    pub latency: Duration,
    /// Extra delay drawn uniformly in `0..=jitter` per chunk (order is still kept).
    pub jitter: Duration,
    /// Bytes per second, or `None` for unlimited.
    pub bandwidth: Option<u64>,
    /// Probability that a write is split into several chunks.
    pub split: f64,
    /// Largest chunk when a write is split (at least 1).
    pub split_max: usize,
    /// Probability that a chunk is held back to arrive together with the previous one.
    pub coalesce: f64,
}

impl Default for LinkConfig {
    fn default() -> Self {
        Self {
            latency: Duration::from_micros(100),
            jitter: Duration::ZERO,
            bandwidth: None,
            split: 0.0,
            split_max: 1460,
            coalesce: 0.0,
        }
    }
}

impl LinkConfig {
    /// A hostile but lossless network: jitter, a 100 Mbit/s bottleneck, frequent splitting
    /// down to single bytes and coalescing.
    pub fn rough() -> Self {
        Self {
            latency: Duration::from_millis(2),
            jitter: Duration::from_millis(3),
            bandwidth: Some(12_500_000),
            split: 0.3,
            split_max: 700,
            coalesce: 0.3,
        }
    }
}

/// One direction of a link.
#[derive(Debug, Default)]
pub struct Pipe {
    /// When the sender's bandwidth is free again.
    busy_until: SimTime,
    /// Arrival time of the last chunk (later chunks never arrive before it).
    last_arrival: SimTime,
    /// Chunks on the wire, in order, with their arrival times.
    in_flight: VecDeque<(SimTime, Bytes)>,
    /// Writes held while the pipe is stalled.
    held: VecDeque<Bytes>,
    stalled: bool,
    /// Bytes written into the pipe over its life.
    sent_bytes: u64,
}

impl Pipe {
    /// An idle pipe.
    pub fn new() -> Self {
        Self::default()
    }

    /// Writes `data` at `now`. Returns the arrival times of the new chunks (for the caller to
    /// schedule a delivery at each), or nothing while stalled.
    pub fn send(
        &mut self,
        now: SimTime,
        data: Bytes,
        cfg: &LinkConfig,
        rng: &mut SimRng,
    ) -> Vec<SimTime> {
        if data.is_empty() {
            return Vec::new();
        }
        self.sent_bytes = self.sent_bytes.saturating_add(data.len() as u64);
        if self.stalled {
            self.held.push_back(data);
            return Vec::new();
        }
        let mut arrivals = Vec::new();
        let pieces = if cfg.split > 0.0 && rng.chance(cfg.split) {
            split(data, cfg.split_max.max(1), rng)
        } else {
            vec![data]
        };
        for piece in pieces {
            let tx = match cfg.bandwidth {
                Some(bw) if bw > 0 => {
                    let nanos = (piece.len() as u128 * 1_000_000_000) / u128::from(bw);
                    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
                }
                _ => Duration::ZERO,
            };
            let depart = now.max(self.busy_until).plus(tx);
            self.busy_until = depart;
            let jitter = if cfg.jitter.is_zero() {
                Duration::ZERO
            } else {
                rng.duration_upto(cfg.jitter)
            };
            let mut at = depart.plus(cfg.latency).plus(jitter).max(self.last_arrival);
            if cfg.coalesce > 0.0
                && self.last_arrival >= now
                && !self.in_flight.is_empty()
                && rng.chance(cfg.coalesce)
            {
                // Arrive with the chunk before (the receiver sees one larger read).
                at = at.max(self.last_arrival);
                if let Some(back) = self.in_flight.back() {
                    at = at.max(back.0);
                }
            }
            self.last_arrival = at;
            self.in_flight.push_back((at, piece));
            arrivals.push(at);
        }
        arrivals
    }

    /// Takes every chunk due at `now`. Chunks arriving at the same instant are coalesced into
    /// one read, as a socket would return them.
    pub fn take_due(&mut self, now: SimTime) -> Option<Bytes> {
        let mut first: Option<Bytes> = None;
        let mut joined: Option<BytesMut> = None;
        while let Some((at, _)) = self.in_flight.front() {
            if *at > now {
                break;
            }
            let Some((_, chunk)) = self.in_flight.pop_front() else {
                break;
            };
            match (&mut joined, first.take()) {
                (Some(j), _) => j.extend_from_slice(&chunk),
                (None, None) => first = Some(chunk),
                (None, Some(f)) => {
                    let mut j = BytesMut::with_capacity(f.len() + chunk.len());
                    j.extend_from_slice(&f);
                    j.extend_from_slice(&chunk);
                    joined = Some(j);
                }
            }
        }
        match joined {
            Some(j) => Some(j.freeze()),
            None => first,
        }
    }

    /// Stops delivering new writes (they are held until [`Pipe::release`]).
    pub fn stall(&mut self) {
        self.stalled = true;
    }

    /// Whether the pipe is stalled.
    pub fn is_stalled(&self) -> bool {
        self.stalled
    }

    /// Ends a stall: the held writes are sent now, in order. Returns their arrival times.
    pub fn release(&mut self, now: SimTime, cfg: &LinkConfig, rng: &mut SimRng) -> Vec<SimTime> {
        self.stalled = false;
        let held = std::mem::take(&mut self.held);
        let mut arrivals = Vec::new();
        for data in held {
            // `send` counts bytes again; undo that so the total stays the bytes written.
            self.sent_bytes = self.sent_bytes.saturating_sub(data.len() as u64);
            arrivals.extend(self.send(now, data, cfg, rng));
        }
        arrivals
    }

    /// Drops everything in flight or held (a reset).
    pub fn clear(&mut self) {
        self.in_flight.clear();
        self.held.clear();
        self.stalled = false;
    }

    /// Bytes on the wire or held (for the memory bound).
    pub fn buffered(&self) -> usize {
        self.in_flight.iter().map(|(_, b)| b.len()).sum::<usize>()
            + self.held.iter().map(Bytes::len).sum::<usize>()
    }

    /// Bytes written into the pipe over its life.
    pub fn sent_bytes(&self) -> u64 {
        self.sent_bytes
    }
}

/// Splits `data` into pieces of random sizes in `1..=max`.
fn split(data: Bytes, max: usize, rng: &mut SimRng) -> Vec<Bytes> {
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let n = usize::try_from(rng.range(1, max as u64))
            .unwrap_or(1)
            .min(rest.len());
        out.push(rest.split_to(n));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(p: &mut Pipe, times: &[SimTime]) -> (Vec<u8>, usize) {
        let mut out = Vec::new();
        let mut reads = 0;
        let mut ts = times.to_vec();
        ts.sort();
        for t in ts {
            if let Some(b) = p.take_due(t) {
                out.extend_from_slice(&b);
                reads += 1;
            }
        }
        (out, reads)
    }

    #[test]
    fn keeps_the_stream_in_order_under_jitter_split_and_coalesce() {
        let cfg = LinkConfig {
            split_max: 16,
            ..LinkConfig::rough()
        };
        let mut rng = SimRng::new(7);
        let mut p = Pipe::new();
        let mut times = Vec::new();
        let mut expect = Vec::new();
        for i in 0..200u32 {
            let data: Vec<u8> = (0..(i % 97 + 1)).map(|j| (i + j) as u8).collect();
            expect.extend_from_slice(&data);
            times.extend(p.send(SimTime(u64::from(i) * 10_000), data.into(), &cfg, &mut rng));
        }
        assert!(times.windows(2).all(|w| w[0] <= w[1]), "arrivals in order");
        assert!(times.len() > 220, "writes were split");
        let (got, reads) = drain(&mut p, &times);
        assert_eq!(got, expect);
        assert!(
            reads < times.len(),
            "chunks arriving together were coalesced"
        );
        assert_eq!(p.buffered(), 0);
    }

    #[test]
    fn latency_and_bandwidth_set_the_arrival() {
        let cfg = LinkConfig {
            latency: Duration::from_millis(10),
            bandwidth: Some(1_000_000),
            ..LinkConfig::default()
        };
        let mut rng = SimRng::new(1);
        let mut p = Pipe::new();
        // 1000 bytes at 1 MB/s take 1 ms to leave, then 10 ms to arrive.
        let t = p.send(SimTime::ZERO, Bytes::from(vec![0; 1000]), &cfg, &mut rng);
        assert_eq!(t, vec![SimTime(11_000_000)]);
        // A second write queues behind the first.
        let t = p.send(SimTime::ZERO, Bytes::from(vec![0; 1000]), &cfg, &mut rng);
        assert_eq!(t, vec![SimTime(12_000_000)]);
        assert!(p.take_due(SimTime(10_999_999)).is_none());
        assert_eq!(p.take_due(SimTime(11_000_000)).map(|b| b.len()), Some(1000));
    }

    #[test]
    fn stall_holds_and_release_delivers_in_order() {
        let cfg = LinkConfig::default();
        let mut rng = SimRng::new(1);
        let mut p = Pipe::new();
        p.stall();
        assert!(
            p.send(SimTime(0), Bytes::from_static(b"ab"), &cfg, &mut rng)
                .is_empty()
        );
        assert!(
            p.send(SimTime(1), Bytes::from_static(b"cd"), &cfg, &mut rng)
                .is_empty()
        );
        assert_eq!(p.buffered(), 4);
        let t = p.release(SimTime(100), &cfg, &mut rng);
        assert_eq!(t.len(), 2);
        let (got, _) = drain(&mut p, &t);
        assert_eq!(got, b"abcd");
        assert_eq!(p.sent_bytes(), 4);
        p.send(SimTime(200), Bytes::from_static(b"x"), &cfg, &mut rng);
        p.clear();
        assert_eq!(p.buffered(), 0);
    }
}
