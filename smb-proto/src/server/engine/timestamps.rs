//! LastWriteTime across a file's opens: the delayed update after a WRITE, explicit ("sticky")
//! and frozen write times, and what FLUSH, SET_INFO and CLOSE do to a pending update.
//!
//! Rules (MS-FSA 2.1.4.17, 2.1.5.14.2; Windows Server 2016 and smbd 4.17, which smbtorture
//! smb2.timestamps checks):
//! - The first WRITE through an open does not change the LastWriteTime clients see; it is
//!   updated to the current time [`WRITE_TIME_DELAY`] later (a deadline of the engine, never a
//!   sleep). Later WRITEs through that open change nothing until its CLOSE, which then sets
//!   the time of the close.
//! - FLUSH or SET_INFO FileBasicInformation on an open with an update pending, and SET_INFO
//!   EndOfFile or Allocation on any open, update it at once.
//! - An explicit LastWriteTime set through an open (Open.UserSetModificationTime) sticks: its
//!   WRITEs no longer update the time. -1 freezes the time the same way without changing it,
//!   -2 resumes updates (MS-FSCC 2.4.7). The engine strips -1 and -2 before the backend sees
//!   the change (see [`strip_special`]).
//! - While a file has opens, the time kept here is reported (CREATE, QUERY_INFO basic, all
//!   and network-open, CLOSE of a non-last open) in place of the backend's mtime, which WRITEs
//!   move at once. The last CLOSE hands it to the backend (`FsOp::Close::write_time`), which
//!   stores it before answering, so the file keeps what clients were shown.
//!
//! Directory listings of the classes that carry a FileId (FileIdBoth/IdFull/IdExtd) show the
//! same times ([`WriteTimes::patch_listing`]); the other classes show the backend's mtime
//! while an update is pending. Changes made outside the server are not seen until the last
//! open closes. Directories and opens whose backend gives no file index are not tracked
//! (their times are the backend's).
//!
//! Must not: do I/O, read a clock (every time is an argument) or emit output.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use super::super::ops::OpenId;
use crate::wire::fscc::FileInfoClass;
use crate::wire::fscc::file::FileBasicInformation;

/// How long after an open's first WRITE its LastWriteTime update is made (smbd's default and
/// Windows Server 2016's behaviour).
pub(crate) const WRITE_TIME_DELAY: Duration = Duration::from_secs(2);

/// FILETIME -1: stop updating this time for the open (MS-FSCC 2.4.7).
const FREEZE: u64 = u64::MAX;
/// FILETIME -2: resume updating it.
const THAW: u64 = u64::MAX - 1;

/// Where a directory entry keeps LastWriteTime (MS-FSCC 2.4.17-2.4.19: NextEntryOffset,
/// FileIndex, CreationTime, LastAccessTime, then LastWriteTime).
const ENTRY_LAST_WRITE: usize = 24;

/// Where an entry of a class that carries the FileId keeps it (the low 8 bytes for IdExtd's
/// 128-bit FileId), or `None` for classes without one.
fn entry_file_id(class: FileInfoClass) -> Option<usize> {
    match class {
        FileInfoClass::ID_BOTH_DIRECTORY => Some(96),
        FileInfoClass::ID_FULL_DIRECTORY | FileInfoClass::ID_EXTD_DIRECTORY => Some(72),
        _ => None,
    }
}

/// Identifies a file: its share's backend selector and the backend's file index.
type Key = (String, u64);

/// What a SET_INFO does to the write time, recorded when it is sent and applied on success.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum TimeChange {
    /// Nothing.
    #[default]
    None,
    /// EndOfFile or Allocation: the file is modified now.
    Size,
    /// FileBasicInformation with this LastWriteTime (0, -1, -2 or a time).
    Basic {
        /// The LastWriteTime field as sent.
        last_write: u64,
    },
}

/// Checks a FileBasicInformation's times (MS-FSA 2.1.5.14.2: below -2 is INVALID_PARAMETER)
/// and replaces -1 and -2 by 0 ("leave as is"), which is what they mean for the backend.
pub(crate) fn strip_special(b: &mut FileBasicInformation) -> Result<(), ()> {
    for t in [
        &mut b.creation_time,
        &mut b.last_access_time,
        &mut b.last_write_time,
        &mut b.change_time,
    ] {
        if (*t as i64) < -2 {
            return Err(());
        }
        if *t == FREEZE || *t == THAW {
            *t = 0;
        }
    }
    Ok(())
}

#[derive(Debug)]
struct FileTimes {
    /// The LastWriteTime the backend last reported (CREATE, QUERY_INFO): what a first WRITE
    /// keeps showing.
    known: u64,
    /// The LastWriteTime shown instead of the backend's, once a WRITE or a set made one.
    shown: Option<u64>,
    /// Tracked opens of the file.
    opens: u32,
}

#[derive(Debug)]
struct OpenTimes {
    file: Key,
    /// Open.UserSetModificationTime: a set time or -1 froze it.
    user_set: bool,
    /// A WRITE went through since the last update: CLOSE updates the time.
    pending: bool,
    /// The open's first WRITE has scheduled its delayed update already.
    triggered: bool,
    /// When the delayed update is due.
    due: Option<Instant>,
}

/// The write-time state of every tracked open and file. See the module docs.
#[derive(Debug, Default)]
pub(crate) struct WriteTimes {
    files: BTreeMap<Key, FileTimes>,
    opens: BTreeMap<OpenId, OpenTimes>,
}

impl WriteTimes {
    /// A CREATE succeeded: tracks the open (files with an index only) and returns the
    /// LastWriteTime to report, given the backend's.
    pub fn opened(&mut self, open: OpenId, share: &str, index: u64, is_dir: bool, t: u64) -> u64 {
        if is_dir || index == 0 {
            return t;
        }
        let key = (share.to_owned(), index);
        let f = self.files.entry(key.clone()).or_insert(FileTimes {
            known: t,
            shown: None,
            opens: 0,
        });
        f.opens += 1;
        if f.shown.is_none() {
            f.known = t;
        }
        self.opens.insert(
            open,
            OpenTimes {
                file: key,
                user_set: false,
                pending: false,
                triggered: false,
                due: None,
            },
        );
        f.shown.unwrap_or(t)
    }

    /// The LastWriteTime to report for `open`'s file, given the backend's.
    pub fn reported(&mut self, open: OpenId, t: u64) -> u64 {
        let Some(o) = self.opens.get(&open) else {
            return t;
        };
        match self.files.get_mut(&o.file) {
            Some(f) => match f.shown {
                Some(s) => s,
                None => {
                    f.known = t;
                    t
                }
            },
            None => t,
        }
    }

    /// The time shown for a file still open elsewhere (a CLOSE that was not the last).
    pub fn shown_for(&self, share: &str, index: u64) -> Option<u64> {
        self.files
            .get(&(share.to_owned(), index))
            .and_then(|f| f.shown)
    }

    /// A WRITE through `open` succeeded at `now`.
    pub fn wrote(&mut self, open: OpenId, now: Instant) {
        let Some(o) = self.opens.get_mut(&open) else {
            return;
        };
        if o.user_set {
            return;
        }
        o.pending = true;
        if o.triggered {
            return;
        }
        o.triggered = true;
        o.due = Some(now + WRITE_TIME_DELAY);
        if let Some(f) = self.files.get_mut(&o.file) {
            f.shown = Some(f.shown.unwrap_or(f.known));
        }
    }

    /// Updates `open`'s file to `now` at once (a due delayed update, FLUSH, a size change).
    fn update_now(&mut self, open: OpenId, now: u64) {
        let Some(o) = self.opens.get_mut(&open) else {
            return;
        };
        if o.user_set {
            return;
        }
        o.due = None;
        o.triggered = true;
        o.pending = false;
        if let Some(f) = self.files.get_mut(&o.file) {
            f.shown = Some(now);
        }
    }

    /// Whether `open` has an update pending (scheduled or due at close).
    fn has_pending(&self, open: OpenId) -> bool {
        self.opens
            .get(&open)
            .is_some_and(|o| o.pending || o.due.is_some())
    }

    /// A FLUSH through `open` succeeded at `now`.
    pub fn flushed(&mut self, open: OpenId, now: u64) {
        if self.has_pending(open) {
            self.update_now(open, now);
        }
    }

    /// A SET_INFO through `open` succeeded at `now`.
    pub fn set(&mut self, open: OpenId, change: TimeChange, now: u64) {
        match change {
            TimeChange::None => {}
            TimeChange::Size => self.update_now(open, now),
            TimeChange::Basic { last_write: 0 } => self.flushed(open, now),
            TimeChange::Basic { last_write: THAW } => {
                if let Some(o) = self.opens.get_mut(&open) {
                    o.user_set = false;
                }
            }
            TimeChange::Basic { last_write } => {
                let Some(o) = self.opens.get_mut(&open) else {
                    return;
                };
                o.user_set = true;
                o.pending = false;
                o.due = None;
                if let Some(f) = self.files.get_mut(&o.file) {
                    f.shown = Some(if last_write == FREEZE {
                        f.shown.unwrap_or(f.known)
                    } else {
                        last_write
                    });
                }
            }
        }
    }

    /// `open` is being closed at `now`: forgets it and returns the LastWriteTime the backend
    /// must store if it was the file's last open and a time is being shown.
    pub fn closing(&mut self, open: OpenId, now: u64) -> Option<u64> {
        let o = self.opens.remove(&open)?;
        let f = self.files.get_mut(&o.file)?;
        if o.pending && !o.user_set {
            f.shown = Some(now);
        }
        f.opens = f.opens.saturating_sub(1);
        if f.opens > 0 {
            return None;
        }
        self.files.remove(&o.file).and_then(|f| f.shown)
    }

    /// Shows the kept write times in a QUERY_DIRECTORY answer of `share` whose entries carry
    /// the FileId; any other answer (or one with nothing to patch) is returned as is. Entries
    /// are walked by NextEntryOffset with every offset checked.
    pub fn patch_listing(&self, share: &str, class: FileInfoClass, buf: Bytes) -> Bytes {
        let Some(id_at) = entry_file_id(class) else {
            return buf;
        };
        let shown: BTreeMap<u64, u64> = self
            .files
            .iter()
            .filter(|((s, _), _)| s == share)
            .filter_map(|((_, index), f)| Some((*index, f.shown?)))
            .collect();
        if shown.is_empty() {
            return buf;
        }
        let mut out = BytesMut::from(&buf[..]);
        let mut at = 0usize;
        while let Some(entry) = out.get_mut(at..) {
            let field = |e: &[u8], from: usize| -> Option<[u8; 8]> {
                e.get(from..from.checked_add(8)?)?.try_into().ok()
            };
            let (Some(next), Some(id)) = (
                entry
                    .get(..4)
                    .and_then(|b| <[u8; 4]>::try_from(b).ok())
                    .map(u32::from_le_bytes),
                field(entry, id_at).map(u64::from_le_bytes),
            ) else {
                break;
            };
            if let (Some(t), Some(slot)) = (
                shown.get(&id),
                entry.get_mut(ENTRY_LAST_WRITE..ENTRY_LAST_WRITE + 8),
            ) {
                slot.copy_from_slice(&t.to_le_bytes());
            }
            if next == 0 {
                break;
            }
            match at.checked_add(next as usize) {
                Some(n) => at = n,
                None => break,
            }
        }
        out.freeze()
    }

    /// The earliest delayed update.
    pub fn next_due(&self) -> Option<Instant> {
        self.opens.values().filter_map(|o| o.due).min()
    }

    /// Makes the delayed updates due at `now` (`ft` is `now` as FILETIME).
    pub fn expire(&mut self, now: Instant, ft: u64) {
        let due: Vec<OpenId> = self
            .opens
            .iter()
            .filter(|(_, o)| o.due.is_some_and(|d| d <= now))
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            self.update_now(id, ft);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 133_000_000_000_000_000;
    const SEC: u64 = 10_000_000;

    fn one_open() -> (WriteTimes, Instant) {
        let mut w = WriteTimes::default();
        assert_eq!(w.opened(OpenId(1), "s", 7, false, T0), T0);
        (w, Instant::now())
    }

    #[test]
    fn first_write_shows_the_old_time_until_the_delay_passes() {
        let (mut w, now) = one_open();
        w.wrote(OpenId(1), now);
        // The backend's mtime moved with the write; the old time is still shown.
        assert_eq!(w.reported(OpenId(1), T0 + SEC), T0);
        assert_eq!(w.next_due(), Some(now + WRITE_TIME_DELAY));
        w.expire(now + Duration::from_secs(1), T0 + 2 * SEC);
        assert_eq!(w.reported(OpenId(1), T0 + SEC), T0);
        w.expire(now + WRITE_TIME_DELAY, T0 + 3 * SEC);
        assert_eq!(w.reported(OpenId(1), T0 + SEC), T0 + 3 * SEC);
        assert_eq!(w.next_due(), None);
        // No write since the update: CLOSE keeps it (delayed-1write).
        assert_eq!(w.closing(OpenId(1), T0 + 5 * SEC), Some(T0 + 3 * SEC));
    }

    #[test]
    fn a_second_write_waits_for_close() {
        let (mut w, now) = one_open();
        w.wrote(OpenId(1), now);
        w.expire(now + WRITE_TIME_DELAY, T0 + 3 * SEC);
        w.wrote(OpenId(1), now + Duration::from_secs(4));
        assert_eq!(w.next_due(), None);
        assert_eq!(w.reported(OpenId(1), T0 + 4 * SEC), T0 + 3 * SEC);
        // CLOSE sets the time of the close (delayed-2write).
        assert_eq!(w.closing(OpenId(1), T0 + 9 * SEC), Some(T0 + 9 * SEC));
    }

    #[test]
    fn flush_and_size_changes_update_at_once() {
        let (mut w, now) = one_open();
        // Nothing pending: FLUSH changes nothing.
        w.flushed(OpenId(1), T0 + SEC);
        assert_eq!(w.reported(OpenId(1), T0), T0);
        w.wrote(OpenId(1), now);
        w.flushed(OpenId(1), T0 + 2 * SEC);
        assert_eq!(w.reported(OpenId(1), T0 + SEC), T0 + 2 * SEC);
        assert_eq!(w.next_due(), None);
        w.set(OpenId(1), TimeChange::Size, T0 + 3 * SEC);
        assert_eq!(w.reported(OpenId(1), T0 + SEC), T0 + 3 * SEC);
        assert_eq!(w.closing(OpenId(1), T0 + 4 * SEC), Some(T0 + 3 * SEC));
    }

    #[test]
    fn an_explicit_time_sticks_and_other_opens_see_it() {
        let (mut w, now) = one_open();
        assert_eq!(w.opened(OpenId(2), "s", 7, false, T0), T0);
        w.wrote(OpenId(1), now);
        w.set(OpenId(1), TimeChange::Size, T0 + SEC);
        let set = T0 + 86_400 * SEC;
        w.set(
            OpenId(2),
            TimeChange::Basic { last_write: set },
            T0 + 2 * SEC,
        );
        // The sticky open's writes change nothing.
        w.wrote(OpenId(2), now);
        assert_eq!(w.next_due(), None);
        assert_eq!(w.closing(OpenId(2), T0 + 3 * SEC), None);
        assert_eq!(w.shown_for("s", 7), Some(set));
        // Open 1 has nothing pending: its close keeps the set time (delayed-write-vs-seteof).
        assert_eq!(w.closing(OpenId(1), T0 + 4 * SEC), Some(set));
        assert_eq!(w.shown_for("s", 7), None);
    }

    #[test]
    fn freeze_keeps_the_time_and_thaw_resumes_updates() {
        let (mut w, now) = one_open();
        w.set(
            OpenId(1),
            TimeChange::Basic { last_write: FREEZE },
            T0 + SEC,
        );
        w.wrote(OpenId(1), now);
        assert_eq!(w.next_due(), None);
        assert_eq!(w.reported(OpenId(1), T0 + 2 * SEC), T0);
        w.set(
            OpenId(1),
            TimeChange::Basic { last_write: THAW },
            T0 + 3 * SEC,
        );
        assert_eq!(w.reported(OpenId(1), T0 + 2 * SEC), T0);
        w.wrote(OpenId(1), now);
        assert_eq!(w.next_due(), Some(now + WRITE_TIME_DELAY));
        assert_eq!(w.closing(OpenId(1), T0 + 4 * SEC), Some(T0 + 4 * SEC));
    }

    #[test]
    fn untouched_files_and_directories_are_left_to_the_backend() {
        let (mut w, _) = one_open();
        assert_eq!(w.closing(OpenId(1), T0 + SEC), None);
        assert_eq!(w.opened(OpenId(3), "s", 9, true, T0), T0);
        assert_eq!(w.opened(OpenId(4), "s", 0, false, T0), T0);
        assert_eq!(w.reported(OpenId(3), T0 + SEC), T0 + SEC);
        assert_eq!(w.closing(OpenId(3), T0 + SEC), None);
    }

    #[test]
    fn id_listings_show_the_kept_time() {
        use crate::server::ops::{DirEntry, DirectoryBuilder, FileMeta};
        use crate::wire::fscc::directory::DirectoryListing;
        let (mut w, now) = one_open();
        let listing = |class: FileInfoClass| {
            let mut b = DirectoryBuilder::new(class, 4096).expect("builder");
            for (name, index) in [("a", 7u64), ("b", 8)] {
                b.push(&DirEntry {
                    name: name.into(),
                    short_name: String::new(),
                    meta: FileMeta {
                        last_write_time: T0 + SEC,
                        ..FileMeta::default()
                    },
                    file_index: index,
                    ea_size: 0,
                })
                .expect("push");
            }
            b.finish()
        };
        let times = |class: FileInfoClass, buf: &Bytes| -> Vec<u64> {
            match DirectoryListing::decode(class, buf).expect("decode") {
                DirectoryListing::IdBothDirectory(v) => {
                    v.iter().map(|e| e.common.last_write_time).collect()
                }
                DirectoryListing::IdFullDirectory(v) => {
                    v.iter().map(|e| e.common.last_write_time).collect()
                }
                DirectoryListing::IdExtdDirectory(v) => {
                    v.iter().map(|e| e.common.last_write_time).collect()
                }
                other => panic!("{other:?}"),
            }
        };
        // Nothing kept yet: returned as is.
        let buf = listing(FileInfoClass::ID_BOTH_DIRECTORY);
        assert_eq!(
            w.patch_listing("s", FileInfoClass::ID_BOTH_DIRECTORY, buf.clone()),
            buf
        );
        w.wrote(OpenId(1), now);
        for class in [
            FileInfoClass::ID_BOTH_DIRECTORY,
            FileInfoClass::ID_FULL_DIRECTORY,
            FileInfoClass::ID_EXTD_DIRECTORY,
        ] {
            let patched = w.patch_listing("s", class, listing(class));
            assert_eq!(times(class, &patched), vec![T0, T0 + SEC], "{class:?}");
            // Another share's listing is not touched.
            assert_eq!(w.patch_listing("t", class, listing(class)), listing(class));
        }
        // A class without FileId, and a truncated buffer, come back unchanged.
        let plain = listing(FileInfoClass::FULL_DIRECTORY);
        assert_eq!(
            w.patch_listing("s", FileInfoClass::FULL_DIRECTORY, plain.clone()),
            plain
        );
        let cut = listing(FileInfoClass::ID_BOTH_DIRECTORY).slice(..50);
        assert_eq!(
            w.patch_listing("s", FileInfoClass::ID_BOTH_DIRECTORY, cut.clone()),
            cut
        );
    }

    #[test]
    fn special_values_are_stripped_and_invalid_ones_refused() {
        let mut b = FileBasicInformation {
            creation_time: FREEZE,
            last_access_time: THAW,
            last_write_time: 5,
            change_time: 0,
            file_attributes: Default::default(),
        };
        assert_eq!(strip_special(&mut b), Ok(()));
        assert_eq!((b.creation_time, b.last_access_time), (0, 0));
        assert_eq!(b.last_write_time, 5);
        b.change_time = u64::MAX - 2;
        assert_eq!(strip_special(&mut b), Err(()));
    }
}
