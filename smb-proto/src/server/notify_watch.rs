//! One open directory's change watch for CHANGE_NOTIFY (MS-SMB2 3.3.5.19, MS-FSA 2.1.5.11):
//! the completion filter, tree flag and OutputBufferLength of the open's first CHANGE_NOTIFY
//! (they hold for the open's life, as on Windows and smbd), the changes seen while no request
//! was waiting (kept for the next one, up to that length, at most [`BUFFER_LIMIT`] bytes; past
//! it the watch overflows and the next request is answered STATUS_NOTIFY_ENUM_DIR), and each
//! change's name relative to the watched directory. Pure bookkeeping for backends: they report
//! changes and take what is due.
//!
//! Must not: touch the file system or decide how a change is encoded on the wire (the engine
//! encodes FILE_NOTIFY_INFORMATION and answers NOTIFY_ENUM_DIR when it does not fit).

use crate::wire::change_notify::CompletionFilter;
use crate::wire::fscc::notify::{FileNotifyInformation, NotifyAction};
use crate::wire::status::NtStatus;

/// The most bytes of changes a watch keeps while no request waits, whatever its first request
/// allowed: what one client can make the server hold per open directory.
pub const BUFFER_LIMIT: usize = 64 * 1024;

/// What changed, for the completion filter (MS-FSCC 2.4.42 and MS-FSA 2.1.4.17: each kind of
/// change is reported under the filter bits that name it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// A file was added, removed or renamed (FILE_NOTIFY_CHANGE_FILE_NAME).
    FileName,
    /// A directory was added, removed or renamed (FILE_NOTIFY_CHANGE_DIR_NAME).
    DirName,
    /// Data was written (LAST_WRITE and SIZE).
    Write,
    /// The end of file or allocation changed (SIZE).
    Size,
    /// Attributes or timestamps were set (SET_INFO basic): the filter bits of what was set.
    Metadata(CompletionFilter),
    /// The security descriptor changed (SECURITY).
    Security,
    /// Extended attributes changed (EA).
    Ea,
}

impl ChangeKind {
    /// A name change to a directory (`is_dir`) or a file.
    pub fn name(is_dir: bool) -> Self {
        if is_dir {
            ChangeKind::DirName
        } else {
            ChangeKind::FileName
        }
    }

    /// The completion-filter bits that select this change.
    pub fn filter(self) -> CompletionFilter {
        use CompletionFilter as F;
        CompletionFilter(match self {
            ChangeKind::FileName => F::FILE_NAME.0,
            ChangeKind::DirName => F::DIR_NAME.0,
            ChangeKind::Write => F::LAST_WRITE.0 | F::SIZE.0,
            ChangeKind::Size => F::SIZE.0,
            ChangeKind::Metadata(bits) => bits.0,
            ChangeKind::Security => F::SECURITY.0,
            ChangeKind::Ea => F::EA.0,
        })
    }
}

/// A directory watch; see the module docs.
#[derive(Debug, Clone)]
pub struct NotifyWatch {
    filter: CompletionFilter,
    tree: bool,
    buffered: Vec<FileNotifyInformation>,
    bytes: usize,
    limit: usize,
    overflowed: bool,
}

impl NotifyWatch {
    /// A watch with the filter, tree flag and OutputBufferLength of the open's first
    /// CHANGE_NOTIFY (a first request of 0 or 1 bytes makes every later one overflow, as
    /// smbtorture smb2.notify.valid-req expects of Windows).
    pub fn new(filter: CompletionFilter, tree: bool, output_len: u32) -> Self {
        Self {
            filter,
            tree,
            buffered: Vec::new(),
            bytes: 0,
            limit: (output_len as usize).min(BUFFER_LIMIT),
            overflowed: false,
        }
    }

    /// The entry for a change of `kind` with `action` to `path` (components below the
    /// watched directory, the changed name last), or `None` when this watch does not report it:
    /// a change deeper than the directory itself without the tree flag, or one its filter
    /// leaves out. The name is relative to the watched directory, `\`-separated.
    pub fn entry<S: AsRef<str>>(
        &self,
        path: &[S],
        action: NotifyAction,
        kind: ChangeKind,
    ) -> Option<FileNotifyInformation> {
        if path.is_empty() || (path.len() > 1 && !self.tree) {
            return None;
        }
        if self.filter.0 & kind.filter().0 == 0 {
            return None;
        }
        let file_name = path
            .iter()
            .map(AsRef::as_ref)
            .collect::<Vec<&str>>()
            .join("\\");
        Some(FileNotifyInformation { action, file_name })
    }

    /// Keeps `entry` for the next request; past the watch's limit it overflows and forgets
    /// what it kept.
    pub fn keep(&mut self, entry: FileNotifyInformation) {
        // A run of the same change (many WRITEs to one file) is one change.
        if self.overflowed || self.buffered.last() == Some(&entry) {
            return;
        }
        // FILE_NOTIFY_INFORMATION: 12 bytes, the UTF-16 name, padding to 4 (MS-FSCC 2.7.1).
        let size = (12 + 2 * entry.file_name.encode_utf16().count() + 3) & !3;
        self.bytes += size;
        if self.bytes > self.limit {
            self.overflowed = true;
            self.buffered.clear();
            self.bytes = 0;
            return;
        }
        self.buffered.push(entry);
    }

    /// What a new request gets at once: the kept changes, STATUS_NOTIFY_ENUM_DIR after an
    /// overflow, or `None` when nothing happened since the last request (it waits).
    pub fn take(&mut self) -> Option<Result<Vec<FileNotifyInformation>, NtStatus>> {
        if self.overflowed {
            self.overflowed = false;
            return Some(Err(NtStatus::NOTIFY_ENUM_DIR));
        }
        if self.buffered.is_empty() {
            return None;
        }
        self.bytes = 0;
        Some(Ok(std::mem::take(&mut self.buffered)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[FileNotifyInformation]) -> Vec<(NotifyAction, &str)> {
        v.iter().map(|e| (e.action, e.file_name.as_str())).collect()
    }

    #[test]
    fn the_filter_and_tree_flag_choose_what_is_reported() {
        let w = NotifyWatch::new(CompletionFilter::FILE_NAME, false, 1000);
        let added = NotifyAction::ADDED;
        assert!(w.entry(&["a"], added, ChangeKind::FileName).is_some());
        assert!(
            w.entry(&["d"], added, ChangeKind::DirName).is_none(),
            "not DIR_NAME"
        );
        assert!(
            w.entry(&["d", "a"], added, ChangeKind::FileName).is_none(),
            "not the tree"
        );
        let tree = NotifyWatch::new(CompletionFilter(0xFFF), true, 1000);
        let e = tree
            .entry(&["d", "e", "a"], added, ChangeKind::FileName)
            .expect("in the tree");
        assert_eq!(e.file_name, "d\\e\\a");
        assert!(
            tree.entry(&["a"], NotifyAction::MODIFIED, ChangeKind::Write)
                .is_some()
        );
        let times = NotifyWatch::new(CompletionFilter::CREATION, false, 1000);
        let only_write = ChangeKind::Metadata(CompletionFilter::LAST_WRITE);
        assert!(
            times
                .entry(&["a"], NotifyAction::MODIFIED, only_write)
                .is_none()
        );
    }

    #[test]
    fn changes_are_kept_until_taken_and_overflow_into_enum_dir() {
        let mut w = NotifyWatch::new(CompletionFilter::FILE_NAME, false, 1000);
        assert_eq!(w.take(), None, "nothing yet: the request waits");
        for name in ["a", "b"] {
            let e = w.entry(&[name], NotifyAction::ADDED, ChangeKind::FileName);
            w.keep(e.expect("wanted"));
        }
        let got = w.take().expect("kept").expect("entries");
        assert_eq!(
            names(&got),
            [(NotifyAction::ADDED, "a"), (NotifyAction::ADDED, "b")]
        );
        assert_eq!(w.take(), None, "taken once");
        for i in 0..200 {
            let name = format!("directory-{i:03}");
            w.keep(FileNotifyInformation {
                action: NotifyAction::ADDED,
                file_name: name,
            });
        }
        assert_eq!(w.take(), Some(Err(NtStatus::NOTIFY_ENUM_DIR)));
        assert_eq!(w.take(), None, "the overflow is reported once");
        // A first request with no room: every change overflows.
        let mut tiny = NotifyWatch::new(CompletionFilter::FILE_NAME, false, 1);
        tiny.keep(FileNotifyInformation {
            action: NotifyAction::ADDED,
            file_name: "a".into(),
        });
        assert_eq!(tiny.take(), Some(Err(NtStatus::NOTIFY_ENUM_DIR)));
    }
}
