//! The event queue.
//!
//! Owns: [`EventQueue`], a priority queue ordered by (virtual time, insertion sequence), so that
//! two events at the same instant always run in the order they were scheduled.
//! Must not: know what its events mean.

use std::collections::BTreeMap;

use crate::time::SimTime;

/// The key of a scheduled event: its time and a sequence number that breaks ties.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct EventKey {
    /// When the event fires.
    pub at: SimTime,
    /// Scheduling order among events at the same time.
    pub seq: u64,
}

/// Events ordered by (time, sequence).
#[derive(Debug)]
pub struct EventQueue<E> {
    events: BTreeMap<EventKey, E>,
    next_seq: u64,
}

impl<E> EventQueue<E> {
    /// An empty queue.
    pub fn new() -> Self {
        Self {
            events: BTreeMap::new(),
            next_seq: 0,
        }
    }

    /// Schedules `event` at `at` and returns its key (to cancel it).
    pub fn push(&mut self, at: SimTime, event: E) -> EventKey {
        let key = EventKey {
            at,
            seq: self.next_seq,
        };
        self.next_seq += 1;
        self.events.insert(key, event);
        key
    }

    /// Removes a scheduled event.
    pub fn remove(&mut self, key: EventKey) -> Option<E> {
        self.events.remove(&key)
    }

    /// Takes the earliest event.
    pub fn pop(&mut self) -> Option<(EventKey, E)> {
        self.events.pop_first()
    }

    /// The time of the earliest event.
    pub fn peek_time(&self) -> Option<SimTime> {
        self.events.keys().next().map(|k| k.at)
    }

    /// Number of scheduled events.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// Whether nothing is scheduled.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_by_time_then_sequence() {
        let mut q = EventQueue::new();
        q.push(SimTime(5), "c");
        q.push(SimTime(1), "a");
        let k = q.push(SimTime(5), "x");
        q.push(SimTime(5), "d");
        q.push(SimTime(1), "b");
        assert_eq!(q.remove(k), Some("x"));
        assert_eq!(q.peek_time(), Some(SimTime(1)));
        let order: Vec<&str> = std::iter::from_fn(|| q.pop().map(|(_, e)| e)).collect();
        assert_eq!(order, ["a", "b", "c", "d"]);
        assert!(q.is_empty());
    }
}
