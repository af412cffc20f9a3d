//! Byte-range locks for a backend: the lock table and the I/O conflict check (MS-FSA 2.1.5.7,
//! 2.1.4.10).
//!
//! Owns: which open holds which range of which file, shared or exclusive; the all-or-nothing
//! application of one LOCK request; the wake-up of blocked lock requests when ranges are
//! released. Windows locks are mandatory, so READ and WRITE consult [`LockTable::io_allowed`].
//! Must not: wait itself (the backend awaits [`LockTable::waiter`] and retries) or know files.
//!
//! Rules kept: ranges whose last byte lies past 2^64 are refused (INVALID_LOCK_RANGE); a
//! zero-length range conflicts only strictly inside another range; an exclusive request conflicts with every overlapping lock, a shared
//! one with overlapping exclusive locks of other opens; an unlock must name exactly a range the
//! same open holds (RANGE_NOT_LOCKED otherwise); locks apply all or nothing, unlocks in order
//! up to the first that fails.

use std::collections::BTreeMap;

use smb_proto::server::OpenId;
use smb_proto::wire::lock::{LockElement, LockFlags};
use smb_proto::wire::status::NtStatus;

/// STATUS_INVALID_LOCK_RANGE (MS-ERREF 2.3.1).
pub(crate) const INVALID_LOCK_RANGE: NtStatus = NtStatus(0xC000_01A1);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Range {
    open: OpenId,
    offset: u64,
    length: u64,
    exclusive: bool,
}

impl Range {
    /// Windows' (and smbd's) overlap rule: half-open ranges intersect, and a zero-length
    /// range counts as the point at its offset, which conflicts only strictly inside another
    /// range (two zero-length ranges never conflict). Ends are computed in u128 so a range
    /// that reaches 2^64 does not wrap.
    fn overlaps(&self, offset: u64, length: u64) -> bool {
        let (a, a_end) = (
            u128::from(self.offset),
            u128::from(self.offset) + u128::from(self.length),
        );
        let (b, b_end) = (u128::from(offset), u128::from(offset) + u128::from(length));
        if self.length != 0 && self.offset == offset && self.length == length {
            return true;
        }
        !(a >= b_end || b >= a_end)
    }
}

/// The outcome of trying a LOCK request once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Attempt {
    /// Every element applied.
    Done,
    /// A lock conflicts and the request may wait (no FAIL_IMMEDIATELY): nothing was applied.
    WouldBlock,
    /// Refused with this status: nothing was applied.
    Failed(NtStatus),
}

/// All byte-range locks of one backend, keyed by file.
#[derive(Debug, Default)]
pub(crate) struct LockTable<K: Ord + Copy> {
    files: BTreeMap<K, Vec<Range>>,
    waiters: Vec<async_channel::Sender<()>>,
}

impl<K: Ord + Copy> LockTable<K> {
    /// A receiver that gets a message the next time any range is released. Register before
    /// trying, under the same lock as the attempt, so a release in between is not missed.
    pub(crate) fn waiter(&mut self) -> async_channel::Receiver<()> {
        let (tx, rx) = async_channel::bounded(1);
        self.waiters.retain(|w| !w.is_closed());
        self.waiters.push(tx);
        rx
    }

    /// Wakes every blocked request so it retries (a range was released, or an open that may
    /// be waiting went away).
    pub(crate) fn wake(&mut self) {
        for w in self.waiters.drain(..) {
            let _ = w.try_send(());
        }
    }

    /// Applies the elements of one LOCK request for `open` on `file`, all or nothing.
    pub(crate) fn apply(&mut self, file: K, open: OpenId, elements: &[LockElement]) -> Attempt {
        let mut ranges = self.files.get(&file).cloned().unwrap_or_default();
        let mut released = false;
        for e in elements {
            if e.length > 0 && e.offset.checked_add(e.length - 1).is_none() {
                return Attempt::Failed(INVALID_LOCK_RANGE);
            }
            if e.flags.contains(LockFlags::UNLOCK) {
                let found = ranges
                    .iter()
                    .position(|r| r.open == open && r.offset == e.offset && r.length == e.length);
                match found {
                    Some(i) => {
                        ranges.remove(i);
                        released = true;
                    }
                    None => {
                        // Unlocks are not all-or-nothing: the ones before the failing element
                        // stay undone (Windows and smbd; smbtorture smb2.lock.multiple-unlock).
                        self.commit(file, ranges, released);
                        return Attempt::Failed(NtStatus::RANGE_NOT_LOCKED);
                    }
                }
                continue;
            }
            let exclusive = e.flags.contains(LockFlags::EXCLUSIVE_LOCK);
            let conflict = ranges.iter().any(|r| {
                r.overlaps(e.offset, e.length) && (exclusive || (r.exclusive && r.open != open))
            });
            if conflict {
                return if e.flags.contains(LockFlags::FAIL_IMMEDIATELY) {
                    Attempt::Failed(NtStatus::LOCK_NOT_GRANTED)
                } else {
                    Attempt::WouldBlock
                };
            }
            ranges.push(Range {
                open,
                offset: e.offset,
                length: e.length,
                exclusive,
            });
        }
        self.commit(file, ranges, released);
        Attempt::Done
    }

    /// Stores `file`'s new ranges and wakes waiters if any range was released.
    fn commit(&mut self, file: K, ranges: Vec<Range>, released: bool) {
        if ranges.is_empty() {
            self.files.remove(&file);
        } else {
            self.files.insert(file, ranges);
        }
        if released {
            self.wake();
        }
    }

    /// Drops every lock `open` holds (on CLOSE) and wakes waiters if any was held.
    pub(crate) fn release_open(&mut self, file: K, open: OpenId) {
        let mut released = false;
        if let Some(ranges) = self.files.get_mut(&file) {
            let n = ranges.len();
            ranges.retain(|r| r.open != open);
            released = ranges.len() != n;
            if ranges.is_empty() {
                self.files.remove(&file);
            }
        }
        if released {
            self.wake();
        }
    }

    /// Whether `open` may read (or write) `length` bytes at `offset` of `file` despite other
    /// opens' locks (MS-FSA 2.1.4.10): reads are blocked by others' exclusive locks, writes by
    /// any lock of another open and by the open's own shared locks.
    pub(crate) fn io_allowed(
        &self,
        file: K,
        open: OpenId,
        offset: u64,
        length: u64,
        write: bool,
    ) -> bool {
        let Some(ranges) = self.files.get(&file).filter(|_| length > 0) else {
            // Zero-byte I/O touches no byte, so no lock stops it.
            return true;
        };
        !ranges.iter().any(|r| {
            r.overlaps(offset, length)
                && if write {
                    r.open != open || !r.exclusive
                } else {
                    r.open != open && r.exclusive
                }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn el(offset: u64, length: u64, flags: LockFlags) -> LockElement {
        LockElement {
            offset,
            length,
            flags,
        }
    }

    const X: LockFlags = LockFlags(LockFlags::EXCLUSIVE_LOCK.0 | LockFlags::FAIL_IMMEDIATELY.0);
    const S: LockFlags = LockFlags(LockFlags::SHARED_LOCK.0 | LockFlags::FAIL_IMMEDIATELY.0);

    #[test]
    fn exclusive_conflicts_and_unlock_releases() {
        let mut t = LockTable::<u32>::default();
        let (a, b) = (OpenId(1), OpenId(2));
        assert_eq!(t.apply(7, a, &[el(0, 10, X)]), Attempt::Done);
        assert_eq!(
            t.apply(7, b, &[el(5, 10, X)]),
            Attempt::Failed(NtStatus::LOCK_NOT_GRANTED)
        );
        assert_eq!(
            t.apply(7, b, &[el(5, 10, LockFlags::EXCLUSIVE_LOCK)]),
            Attempt::WouldBlock
        );
        assert!(!t.io_allowed(7, b, 0, 1, false));
        assert!(t.io_allowed(7, a, 0, 1, true));
        let w = t.waiter();
        assert_eq!(
            t.apply(7, b, &[el(0, 10, LockFlags::UNLOCK)]),
            Attempt::Failed(NtStatus::RANGE_NOT_LOCKED)
        );
        assert_eq!(
            t.apply(7, a, &[el(0, 10, LockFlags::UNLOCK)]),
            Attempt::Done
        );
        assert!(w.try_recv().is_ok());
        assert_eq!(t.apply(7, b, &[el(5, 10, X)]), Attempt::Done);
    }

    #[test]
    fn shared_locks_coexist_and_block_writes() {
        let mut t = LockTable::<u32>::default();
        let (a, b) = (OpenId(1), OpenId(2));
        assert_eq!(t.apply(1, a, &[el(0, 10, S)]), Attempt::Done);
        assert_eq!(t.apply(1, b, &[el(0, 10, S)]), Attempt::Done);
        assert!(t.io_allowed(1, b, 0, 10, false));
        assert!(!t.io_allowed(1, b, 0, 10, true));
        assert!(!t.io_allowed(1, a, 0, 10, true));
        t.release_open(1, a);
        t.release_open(1, b);
        assert!(t.io_allowed(1, a, 0, 10, true));
    }

    #[test]
    fn all_or_nothing_and_range_checks() {
        let mut t = LockTable::<u32>::default();
        let (a, b) = (OpenId(1), OpenId(2));
        assert_eq!(t.apply(1, a, &[el(100, 1, X)]), Attempt::Done);
        assert_eq!(
            t.apply(1, b, &[el(0, 1, X), el(100, 1, X)]),
            Attempt::Failed(NtStatus::LOCK_NOT_GRANTED)
        );
        assert!(t.io_allowed(1, a, 0, 1, true), "first element rolled back");
        assert_eq!(
            t.apply(1, a, &[el(u64::MAX, 2, X)]),
            Attempt::Failed(INVALID_LOCK_RANGE)
        );
        assert_eq!(t.apply(1, a, &[el(u64::MAX, 1, X)]), Attempt::Done);
        assert_eq!(t.apply(1, b, &[el(5, 0, X)]), Attempt::Done);
    }
}
