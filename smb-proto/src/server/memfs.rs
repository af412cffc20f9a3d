//! A pure, deterministic in-memory file system that answers [`FsOp`]s.
//!
//! Owns: a tree of directories and files (case-insensitive, case-preserving names), opens with
//! their share modes, create dispositions, read/write/truncate, rename, delete-on-close and
//! delete-pending, byte-range locks (blocking ones stay pending), change notifications,
//! directory enumeration with wildcards and resume, and the common file and file system
//! information classes, security descriptors set with SET_INFO (kept per file, see
//! [`file_security`]) and extended attributes (kept per file, see [`file_ea`]). Used by tests, the simulator and embedders.
//! Must not: do I/O or read a clock: every timestamp comes from the op's
//! [`OpContext::now`](super::ops::OpContext).
//!
//! Driving it: [`MemFs::handle`] each [`OpRequest`]; `Some` is the completion, `None` means
//! the op waits (a blocking lock, a change notify). After every `handle`, drain
//! [`MemFs::poll_ready`] for waiting ops that finished; on `ServerOutput::Cancel` call
//! [`MemFs::cancel`].

use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;

use super::file_query::{self, OpenFile};
use super::notify_watch::{ChangeKind, NotifyWatch};
use super::ops::{
    CreateOp, CreateReply, DirEntry, DirectoryBuildError, DirectoryBuilder, FileMeta, FsOp,
    InfoChange, InfoQuery, InfoReply, OpId, OpReply, OpRequest, OpenId, ReadBuf,
};
use super::{file_ea, file_security, short_name, wildcard};
use crate::wire::create::{CreateAction, CreateDisposition, CreateOptions, ShareAccess};
use crate::wire::fscc::attributes::{AccessMask, FileAttributes};
use crate::wire::fscc::file::*;
use crate::wire::fscc::filesystem::{
    DeviceType, FileFsAttributeInformation, FileFsDeviceInformation, FileFsFullSizeInformation,
    FileFsSectorSizeInformation, FileFsSizeInformation, FileFsVolumeInformation, FsAttributes,
    FsInfo,
};
use crate::wire::fscc::notify::NotifyAction;
use crate::wire::fscc::{FileInfoClass, FsInfoClass};
use crate::wire::fsctl::AllocatedRange;
use crate::wire::lock::{LockElement, LockFlags};
use crate::wire::status::NtStatus;

/// Largest file the store accepts (1 GiB: bounds memory on hostile offsets and sizes).
pub const MAX_FILE_SIZE: u64 = 1 << 30;
/// Allocation unit reported for sizes.
const CLUSTER: u64 = 4096;
/// The volume's capacity as reported (files live in memory; this is nominal).
const VOLUME_BYTES: u64 = 1 << 40;
const ROOT: u64 = 1;

#[derive(Debug, Clone)]
enum Kind {
    Dir(BTreeMap<String, u64>),
    File(Vec<u8>),
}

#[derive(Debug, Clone)]
struct Node {
    name: String,
    parent: u64,
    kind: Kind,
    creation_time: u64,
    last_access_time: u64,
    last_write_time: u64,
    change_time: u64,
    attributes: FileAttributes,
    allocation: u64,
    delete_pending: bool,
    /// The security descriptor set with SET_INFO (see [`file_security`]); `None` is the
    /// default.
    security: Option<Bytes>,
    /// The extended attributes, canonical and sorted (see [`file_ea`]).
    eas: Vec<FullEa>,
}

impl Node {
    fn size(&self) -> u64 {
        match &self.kind {
            Kind::File(d) => d.len() as u64,
            Kind::Dir(_) => 0,
        }
    }

    fn is_dir(&self) -> bool {
        matches!(self.kind, Kind::Dir(_))
    }

    fn meta(&self) -> FileMeta {
        let mut attrs = self.attributes;
        if self.is_dir() {
            attrs.0 |= FileAttributes::DIRECTORY.0;
        }
        if attrs.0 == 0 {
            attrs = FileAttributes::NORMAL;
        }
        FileMeta {
            creation_time: self.creation_time,
            last_access_time: self.last_access_time,
            last_write_time: self.last_write_time,
            change_time: self.change_time,
            allocation_size: self.allocation.max(self.size().div_ceil(CLUSTER) * CLUSTER),
            end_of_file: self.size(),
            file_attributes: attrs,
        }
    }
}

#[derive(Debug, Clone)]
struct MemOpen {
    node: u64,
    access: AccessMask,
    share: ShareAccess,
    delete_on_close: bool,
    listing: Option<VecDeque<DirEntry>>,
    /// CurrentByteOffset: follows the last READ or WRITE, or a SET_INFO of
    /// FilePositionInformation.
    position: u64,
}

#[derive(Debug, Clone, Copy)]
struct ByteLock {
    open: OpenId,
    offset: u64,
    length: u64,
    exclusive: bool,
}

#[derive(Debug)]
enum Waiter {
    Lock {
        open: OpenId,
        locks: Vec<LockElement>,
    },
    /// A CHANGE_NOTIFY waiting in its open's [`MemWatch`].
    Notify { open: OpenId },
}

/// An open directory's CHANGE_NOTIFY state, from its first request to its close.
#[derive(Debug)]
struct MemWatch {
    /// The watched directory.
    dir: u64,
    watch: NotifyWatch,
    /// Waiting requests, oldest first (cancelled ones are skipped).
    waiting: VecDeque<OpId>,
}

/// The in-memory file system. See the module docs.
#[derive(Debug)]
pub struct MemFs {
    nodes: BTreeMap<u64, Node>,
    next_node: u64,
    opens: BTreeMap<OpenId, MemOpen>,
    locks: BTreeMap<u64, Vec<ByteLock>>,
    waiters: BTreeMap<OpId, Waiter>,
    ready: VecDeque<(OpId, Result<OpReply, NtStatus>)>,
    watches: BTreeMap<OpenId, MemWatch>,
    volume_serial: u32,
}

impl Default for MemFs {
    fn default() -> Self {
        Self::new()
    }
}

fn key(name: &str) -> String {
    name.to_uppercase()
}

impl MemFs {
    /// An empty volume (just the root directory).
    pub fn new() -> Self {
        let mut nodes = BTreeMap::new();
        nodes.insert(
            ROOT,
            Node {
                name: String::new(),
                parent: ROOT,
                kind: Kind::Dir(BTreeMap::new()),
                creation_time: 0,
                last_access_time: 0,
                last_write_time: 0,
                change_time: 0,
                attributes: FileAttributes::DIRECTORY,
                allocation: 0,
                delete_pending: false,
                security: None,
                eas: Vec::new(),
            },
        );
        Self {
            nodes,
            next_node: ROOT + 1,
            opens: BTreeMap::new(),
            locks: BTreeMap::new(),
            waiters: BTreeMap::new(),
            ready: VecDeque::new(),
            watches: BTreeMap::new(),
            volume_serial: 0x5EED_0001,
        }
    }

    // ----- getters for tests and embedders -----

    /// The contents of the file at `path` (share-relative, `\`-separated).
    pub fn file(&self, path: &str) -> Option<&[u8]> {
        let id = self.lookup(path).ok()?;
        match &self.nodes.get(&id)?.kind {
            Kind::File(d) => Some(d),
            Kind::Dir(_) => None,
        }
    }

    /// Whether anything exists at `path`.
    pub fn exists(&self, path: &str) -> bool {
        self.lookup(path).is_ok()
    }

    /// Live opens.
    pub fn open_count(&self) -> usize {
        self.opens.len()
    }

    /// Creates a file with `data` (and its parent directories), for test setup.
    pub fn put_file(&mut self, path: &str, data: &[u8], now: u64) -> Result<(), NtStatus> {
        let mut parent = ROOT;
        let comps: Vec<&str> = path.split('\\').filter(|c| !c.is_empty()).collect();
        let (last, dirs) = comps.split_last().ok_or(NtStatus::OBJECT_NAME_INVALID)?;
        for d in dirs {
            parent = match self.child(parent, d) {
                Some(id) => id,
                None => self.insert(parent, d, Kind::Dir(BTreeMap::new()), now)?,
            };
        }
        let id = match self.child(parent, last) {
            Some(id) => id,
            None => self.insert(parent, last, Kind::File(Vec::new()), now)?,
        };
        match self.nodes.get_mut(&id).map(|n| &mut n.kind) {
            Some(Kind::File(f)) => {
                f.clear();
                f.extend_from_slice(data);
                Ok(())
            }
            _ => Err(NtStatus::FILE_IS_A_DIRECTORY),
        }
    }

    // ----- driving -----

    /// Performs an op. `None`: it waits (complete it later from [`MemFs::poll_ready`] or
    /// [`MemFs::cancel`]).
    pub fn handle(&mut self, req: OpRequest) -> Option<Result<OpReply, NtStatus>> {
        let now = req.ctx.now;
        let id = req.id;
        let result = match req.op {
            FsOp::Create(c) => {
                let r = self.create(&c, now);
                r.inspect(|r| self.keep_create_security(c.open, r, c.security))
                    .inspect(|r| self.keep_create_eas(c.open, r, c.eas))
            }
            FsOp::Read {
                open,
                offset,
                length,
                buf,
                ..
            } => self.read(open, offset, length, buf),
            FsOp::Write {
                open, offset, data, ..
            } => self.write(open, offset, &data, now),
            FsOp::Flush { open } => self.node_of(open).map(|_| OpReply::Flush),
            FsOp::Close {
                open,
                post_query,
                write_time,
            } => self.close(open, post_query, write_time),
            FsOp::QueryInfo { open, query, .. } => self.query_info(open, query),
            FsOp::SetInfo { open, change } => self.set_info(open, change, now),
            FsOp::QueryDirectory {
                open,
                class,
                pattern,
                restart,
                single,
                output_len,
                ..
            } => self.query_directory(open, class, &pattern, restart, single, output_len),
            FsOp::Lock { open, locks } => match self.lock(open, &locks) {
                Err(NtStatus::PENDING) => {
                    self.waiters.insert(id, Waiter::Lock { open, locks });
                    return None;
                }
                other => other.map(|_| OpReply::Lock),
            },
            FsOp::Ioctl { open, .. } => self.node_of(open).and(Err(NtStatus::NOT_SUPPORTED)),
            FsOp::SetSparse { open, sparse } => self.set_sparse(open, sparse),
            FsOp::QueryAllocatedRanges {
                open,
                offset,
                length,
            } => self.allocated_ranges(open, offset, length),
            FsOp::ZeroData {
                open,
                offset,
                beyond,
            } => self.zero_data(open, offset, beyond, now),
            FsOp::ChangeNotify {
                open,
                filter,
                watch_tree,
                output_len,
            } => match self.node_of(open) {
                Ok(dir) => {
                    // The first request starts the watch; its settings hold (see
                    // `notify_watch`). Changes kept since the last request answer at once.
                    let w = self.watches.entry(open).or_insert_with(|| MemWatch {
                        dir,
                        watch: NotifyWatch::new(filter, watch_tree, output_len),
                        waiting: VecDeque::new(),
                    });
                    match w.watch.take() {
                        Some(due) => due.map(OpReply::ChangeNotify),
                        None => {
                            w.waiting.push_back(id);
                            self.waiters.insert(id, Waiter::Notify { open });
                            return None;
                        }
                    }
                }
                Err(e) => Err(e),
            },
        };
        self.wake();
        Some(result)
    }

    /// Cancels a waiting op: `Some(Err(CANCELLED))` if it was waiting, `None` otherwise (it
    /// already completed).
    pub fn cancel(&mut self, op: OpId) -> Option<Result<OpReply, NtStatus>> {
        self.waiters.remove(&op).map(|_| Err(NtStatus::CANCELLED))
    }

    /// A waiting op that has finished, if any.
    pub fn poll_ready(&mut self) -> Option<(OpId, Result<OpReply, NtStatus>)> {
        self.ready.pop_front()
    }

    /// Retries blocked locks and delivers recorded changes to watchers.
    fn wake(&mut self) {
        let ids: Vec<OpId> = self.waiters.keys().copied().collect();
        for id in ids {
            match self.waiters.get(&id) {
                Some(Waiter::Lock { open, locks }) => {
                    let (open, locks) = (*open, locks.clone());
                    if !self.opens.contains_key(&open) {
                        self.waiters.remove(&id);
                        self.ready.push_back((id, Err(NtStatus::FILE_CLOSED)));
                        continue;
                    }
                    match self.lock(open, &locks) {
                        Err(NtStatus::PENDING) => {}
                        r => {
                            self.waiters.remove(&id);
                            self.ready.push_back((id, r.map(|_| OpReply::Lock)));
                        }
                    }
                }
                // The handle was closed: MS-FSA 2.1.5.4 completes the watch with
                // STATUS_NOTIFY_CLEANUP.
                Some(Waiter::Notify { open }) if !self.opens.contains_key(open) => {
                    self.waiters.remove(&id);
                    self.ready.push_back((id, Err(NtStatus::NOTIFY_CLEANUP)));
                }
                Some(Waiter::Notify { .. }) => {}
                None => {}
            }
        }
        let opens = &self.opens;
        self.watches.retain(|open, _| opens.contains_key(open));
    }

    fn is_under(&self, node: u64, ancestor: u64) -> bool {
        self.path_below(node, ancestor).is_some()
    }

    /// `name` in the directory `dir` changed: each watch above it that reports this change
    /// hands it to its oldest waiting request, or keeps it for the next one.
    fn note(&mut self, dir: u64, action: NotifyAction, name: &str, kind: ChangeKind) {
        if self.watches.is_empty() {
            return;
        }
        let ids: Vec<OpenId> = self.watches.keys().copied().collect();
        for open in ids {
            let Some(watched) = self.watches.get(&open).map(|w| w.dir) else {
                continue;
            };
            let Some(mut path) = self.path_below(dir, watched) else {
                continue;
            };
            path.push(name.to_owned());
            let Some(w) = self.watches.get_mut(&open) else {
                continue;
            };
            let Some(entry) = w.watch.entry(&path, action, kind) else {
                continue;
            };
            let waiter = std::iter::from_fn(|| w.waiting.pop_front())
                .find(|id| self.waiters.contains_key(id));
            match waiter {
                Some(id) => {
                    self.waiters.remove(&id);
                    self.ready
                        .push_back((id, Ok(OpReply::ChangeNotify(vec![entry]))));
                }
                None => w.watch.keep(entry),
            }
        }
    }

    /// The names from `ancestor` down to `node` (empty when they are the same), or `None`
    /// when `node` is not beneath `ancestor`.
    fn path_below(&self, mut node: u64, ancestor: u64) -> Option<Vec<String>> {
        let mut names = Vec::new();
        for _ in 0..256 {
            if node == ancestor {
                names.reverse();
                return Some(names);
            }
            let n = self.nodes.get(&node).filter(|_| node != ROOT)?;
            names.push(n.name.clone());
            node = n.parent;
        }
        None
    }

    // ----- internals: names -----

    /// The entry `name` names in `dir`: as spelled, or as the short name of a long one
    /// (see `short_name`).
    fn child(&self, dir: u64, name: &str) -> Option<u64> {
        let Kind::Dir(c) = &self.nodes.get(&dir)?.kind else {
            return None;
        };
        if let Some(id) = c.get(&key(name)) {
            return Some(*id);
        }
        if !short_name::is_mangled(name) {
            return None;
        }
        c.values()
            .filter_map(|id| Some((self.nodes.get(id)?.name.as_str(), *id)))
            .filter(|(long, _)| short_name::names(name, long))
            .min_by(|a, b| a.0.cmp(b.0))
            .map(|(_, id)| id)
    }

    /// Resolves a path to its parent directory and last component.
    fn parent_of<'p>(&self, path: &'p str) -> Result<(u64, &'p str), NtStatus> {
        let mut comps = path.split('\\');
        let last = comps.next_back().unwrap_or("");
        let mut dir = ROOT;
        for c in comps {
            dir = self.child(dir, c).ok_or(NtStatus::OBJECT_PATH_NOT_FOUND)?;
            if !self.nodes.get(&dir).is_some_and(Node::is_dir) {
                return Err(NtStatus::OBJECT_PATH_NOT_FOUND);
            }
        }
        Ok((dir, last))
    }

    fn lookup(&self, path: &str) -> Result<u64, NtStatus> {
        if path.is_empty() {
            return Ok(ROOT);
        }
        let (dir, last) = self.parent_of(path)?;
        self.child(dir, last).ok_or(NtStatus::OBJECT_NAME_NOT_FOUND)
    }

    fn path_of(&self, node: u64) -> String {
        self.path_below(node, ROOT).unwrap_or_default().join("\\")
    }

    fn insert(&mut self, parent: u64, name: &str, kind: Kind, now: u64) -> Result<u64, NtStatus> {
        let id = self.next_node;
        self.next_node += 1;
        let is_dir = matches!(kind, Kind::Dir(_));
        let Some(Node {
            kind: Kind::Dir(children),
            ..
        }) = self.nodes.get_mut(&parent)
        else {
            return Err(NtStatus::OBJECT_PATH_NOT_FOUND);
        };
        children.insert(key(name), id);
        self.nodes.insert(
            id,
            Node {
                name: name.to_owned(),
                parent,
                kind,
                creation_time: now,
                last_access_time: now,
                last_write_time: now,
                change_time: now,
                attributes: if is_dir {
                    FileAttributes::DIRECTORY
                } else {
                    FileAttributes::ARCHIVE
                },
                allocation: 0,
                delete_pending: false,
                security: None,
                eas: Vec::new(),
            },
        );
        if let Some(p) = self.nodes.get_mut(&parent) {
            p.last_write_time = now;
            p.change_time = now;
        }
        self.note(parent, NotifyAction::ADDED, name, ChangeKind::name(is_dir));
        Ok(id)
    }

    /// Stores the SecD descriptor of a create on the file it made.
    fn keep_create_security(&mut self, open: OpenId, reply: &OpReply, security: Option<Bytes>) {
        if let (OpReply::Create(c), Some(sd)) = (reply, security)
            && c.action == CreateAction::CREATED
            && let Ok(node) = self.node_of(open)
            && let Some(n) = self.nodes.get_mut(&node)
        {
            n.security = Some(sd);
        }
    }

    /// Stores the ExtA EAs of a create on the file it made.
    fn keep_create_eas(&mut self, open: OpenId, reply: &OpReply, eas: Vec<FullEa>) {
        if let OpReply::Create(c) = reply
            && c.action == CreateAction::CREATED
            && !eas.is_empty()
            && let Ok(node) = self.node_of(open)
            && let Some(n) = self.nodes.get_mut(&node)
        {
            // Validated by the server; a set over the bound is dropped as a whole.
            let _ = file_ea::apply(&mut n.eas, &eas);
        }
    }

    fn remove_node(&mut self, id: u64) {
        let Some(node) = self.nodes.remove(&id) else {
            return;
        };
        if let Some(Node {
            kind: Kind::Dir(children),
            ..
        }) = self.nodes.get_mut(&node.parent)
        {
            children.remove(&key(&node.name));
        }
        self.locks.remove(&id);
        let kind = ChangeKind::name(node.is_dir());
        self.note(node.parent, NotifyAction::REMOVED, &node.name, kind);
    }

    fn node_of(&self, open: OpenId) -> Result<u64, NtStatus> {
        self.opens
            .get(&open)
            .map(|o| o.node)
            .ok_or(NtStatus::FILE_CLOSED)
    }

    // ----- internals: ops -----

    #[allow(clippy::too_many_arguments)]
    fn create(&mut self, c: &CreateOp, now: u64) -> Result<OpReply, NtStatus> {
        let CreateOp {
            open,
            ref path,
            desired_access: desired,
            file_attributes: attrs,
            share_access: share,
            disposition,
            options,
            read_only,
            ..
        } = *c;
        if self.opens.contains_key(&open) {
            return Err(NtStatus::INVALID_PARAMETER);
        }
        let want_dir = options.contains(CreateOptions::DIRECTORY_FILE);
        let want_file = options.contains(CreateOptions::NON_DIRECTORY_FILE);
        let granted = if desired.0 & AccessMask::MAXIMUM_ALLOWED.0 != 0 {
            AccessMask(if read_only { 0x0012_00A9 } else { 0x001F_01FF })
        } else {
            desired
        };
        let (parent, name) = self.parent_of(path)?;
        let existing = if path.is_empty() {
            Some(ROOT)
        } else {
            self.child(parent, name)
        };
        let (node, action) = match existing {
            Some(id) => {
                let n = self.nodes.get(&id).ok_or(NtStatus::INTERNAL_ERROR)?;
                if disposition == CreateDisposition::CREATE {
                    return Err(NtStatus::OBJECT_NAME_COLLISION);
                }
                if n.delete_pending {
                    return Err(NtStatus::DELETE_PENDING);
                }
                if want_dir && !n.is_dir() {
                    return Err(NtStatus::NOT_A_DIRECTORY);
                }
                if want_file && n.is_dir() {
                    return Err(NtStatus::FILE_IS_A_DIRECTORY);
                }
                let writes = granted.0
                    & (AccessMask::FILE_WRITE_DATA.0 | AccessMask::FILE_APPEND_DATA.0)
                    != 0;
                if n.attributes.contains(FileAttributes::READONLY) && !n.is_dir() {
                    if writes {
                        return Err(NtStatus::ACCESS_DENIED);
                    }
                    if options.contains(CreateOptions::DELETE_ON_CLOSE) {
                        return Err(NtStatus::CANNOT_DELETE);
                    }
                }
                self.check_share(id, granted, share)?;
                let overwrite = [
                    CreateDisposition::OVERWRITE,
                    CreateDisposition::OVERWRITE_IF,
                    CreateDisposition::SUPERSEDE,
                ]
                .contains(&disposition);
                if overwrite {
                    if n.is_dir() {
                        return Err(NtStatus::INVALID_PARAMETER);
                    }
                    if read_only {
                        return Err(NtStatus::ACCESS_DENIED);
                    }
                    if let Some(n) = self.nodes.get_mut(&id) {
                        if let Kind::File(d) = &mut n.kind {
                            d.clear();
                        }
                        n.allocation = 0;
                        n.attributes = attrs_for_file(attrs);
                        n.last_write_time = now;
                        n.change_time = now;
                    }
                    let action = if disposition == CreateDisposition::SUPERSEDE {
                        CreateAction::SUPERSEDED
                    } else {
                        CreateAction::OVERWRITTEN
                    };
                    (id, action)
                } else {
                    (id, CreateAction::OPENED)
                }
            }
            None => {
                if [CreateDisposition::OPEN, CreateDisposition::OVERWRITE].contains(&disposition) {
                    return Err(NtStatus::OBJECT_NAME_NOT_FOUND);
                }
                if read_only {
                    return Err(NtStatus::ACCESS_DENIED);
                }
                if want_dir
                    && ![CreateDisposition::CREATE, CreateDisposition::OPEN_IF]
                        .contains(&disposition)
                {
                    return Err(NtStatus::INVALID_PARAMETER);
                }
                let kind = if want_dir {
                    Kind::Dir(BTreeMap::new())
                } else {
                    Kind::File(Vec::new())
                };
                let id = self.insert(parent, name, kind, now)?;
                if !want_dir && let Some(n) = self.nodes.get_mut(&id) {
                    n.attributes = attrs_for_file(attrs);
                }
                (id, CreateAction::CREATED)
            }
        };
        // AlSi: a file this create made or overwrote starts with that much reserved, in whole
        // clusters (MS-FSA 2.1.5.1.1).
        if let Some(size) = c.allocation_size
            && action != CreateAction::OPENED
            && let Some(n) = self.nodes.get_mut(&node)
            && !n.is_dir()
        {
            n.allocation = size.min(MAX_FILE_SIZE).div_ceil(CLUSTER) * CLUSTER;
        }
        let n = self.nodes.get(&node).ok_or(NtStatus::INTERNAL_ERROR)?;
        let is_directory = n.is_dir();
        if options.contains(CreateOptions::DELETE_ON_CLOSE) {
            if node == ROOT {
                return Err(NtStatus::CANNOT_DELETE);
            }
            // Like Samba and Windows: delete-on-close of a non-empty directory fails at open.
            if let Kind::Dir(c) = &n.kind
                && !c.is_empty()
            {
                return Err(NtStatus::DIRECTORY_NOT_EMPTY);
            }
        }
        let meta = n.meta();
        self.opens.insert(
            open,
            MemOpen {
                node,
                access: granted,
                share,
                delete_on_close: options.contains(CreateOptions::DELETE_ON_CLOSE),
                listing: None,
                position: 0,
            },
        );
        Ok(OpReply::Create(CreateReply {
            action,
            meta,
            granted_access: granted,
            file_index: node,
            volume_id: u64::from(self.volume_serial),
            is_directory,
        }))
    }

    /// Share-mode check against every other open of the node (MS-FSA 2.1.5.1.2.1).
    fn check_share(
        &self,
        node: u64,
        access: AccessMask,
        share: ShareAccess,
    ) -> Result<(), NtStatus> {
        const R: u32 = 0x0000_0001 | 0x0000_0020; // READ_DATA | EXECUTE
        const W: u32 = 0x0000_0002 | 0x0000_0004; // WRITE_DATA | APPEND_DATA
        const D: u32 = 0x0001_0000; // DELETE
        let conflicts = |a: u32, s: u32| {
            (a & R != 0 && s & ShareAccess::READ.0 == 0)
                || (a & W != 0 && s & ShareAccess::WRITE.0 == 0)
                || (a & D != 0 && s & ShareAccess::DELETE.0 == 0)
        };
        for o in self.opens.values().filter(|o| o.node == node) {
            if conflicts(o.access.0, share.0) || conflicts(access.0, o.share.0) {
                return Err(NtStatus::SHARING_VIOLATION);
            }
        }
        Ok(())
    }

    fn read(
        &mut self,
        open: OpenId,
        offset: u64,
        length: u32,
        mut buf: ReadBuf,
    ) -> Result<OpReply, NtStatus> {
        let node = self.node_of(open)?;
        self.check_locks(node, open, offset, u64::from(length), false)?;
        let n = self.nodes.get(&node).ok_or(NtStatus::FILE_CLOSED)?;
        let Kind::File(data) = &n.kind else {
            return Err(NtStatus::INVALID_DEVICE_REQUEST);
        };
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        if start >= data.len() && length > 0 {
            return Err(NtStatus::END_OF_FILE);
        }
        let end = start.saturating_add(length as usize).min(data.len());
        let src = data.get(start..end).unwrap_or(&[]);
        buf.prepare(src.len()).copy_from_slice(src);
        self.set_position(open, offset + src.len() as u64);
        Ok(OpReply::Read(buf))
    }

    fn write(
        &mut self,
        open: OpenId,
        offset: u64,
        src: &[u8],
        now: u64,
    ) -> Result<OpReply, NtStatus> {
        let node = self.node_of(open)?;
        let append_only = self.opens.get(&open).is_some_and(|o| {
            o.access.0 & AccessMask::FILE_WRITE_DATA.0 == 0
                && o.access.0 & AccessMask::FILE_APPEND_DATA.0 != 0
        });
        let size = self.nodes.get(&node).map_or(0, Node::size);
        // 0xFFFFFFFFFFFFFFFF means end of file (MS-FSA 2.1.5.3); append-only opens always
        // write at the end.
        let offset = if offset == u64::MAX || append_only {
            size
        } else {
            offset
        };
        let end = offset
            .checked_add(src.len() as u64)
            .filter(|e| *e <= MAX_FILE_SIZE)
            .ok_or(NtStatus::DISK_FULL)?;
        self.check_locks(node, open, offset, src.len() as u64, true)?;
        let n = self.nodes.get_mut(&node).ok_or(NtStatus::FILE_CLOSED)?;
        let Kind::File(data) = &mut n.kind else {
            return Err(NtStatus::INVALID_DEVICE_REQUEST);
        };
        let (start, end) = (offset as usize, end as usize);
        if data.len() < end {
            data.resize(end, 0);
        }
        if let Some(dst) = data.get_mut(start..end) {
            dst.copy_from_slice(src);
        }
        n.last_write_time = now;
        n.change_time = now;
        n.attributes.0 |= FileAttributes::ARCHIVE.0;
        let (parent, name) = (n.parent, n.name.clone());
        self.note(parent, NotifyAction::MODIFIED, &name, ChangeKind::Write);
        self.set_position(open, end as u64);
        Ok(OpReply::Write {
            count: u32::try_from(src.len()).unwrap_or(u32::MAX),
        })
    }

    /// FilePositionInformation follows the last READ or WRITE, as on Samba.
    fn set_position(&mut self, open: OpenId, position: u64) {
        if let Some(o) = self.opens.get_mut(&open) {
            o.position = position;
        }
    }

    fn close(
        &mut self,
        open: OpenId,
        post_query: bool,
        write_time: Option<u64>,
    ) -> Result<OpReply, NtStatus> {
        let o = self.opens.remove(&open).ok_or(NtStatus::FILE_CLOSED)?;
        if let Some(t) = write_time
            && let Some(n) = self.nodes.get_mut(&o.node)
        {
            n.last_write_time = t;
        }
        if let Some(locks) = self.locks.get_mut(&o.node) {
            locks.retain(|l| l.open != open);
        }
        if o.delete_on_close {
            self.watched_dir_deleted(o.node);
        }
        if o.delete_on_close
            && let Some(n) = self.nodes.get_mut(&o.node)
        {
            let empty = match &n.kind {
                Kind::Dir(c) => c.is_empty(),
                Kind::File(_) => true,
            };
            if empty {
                n.delete_pending = true;
            }
        }
        let meta = self.nodes.get(&o.node).map(Node::meta);
        let last = !self.opens.values().any(|x| x.node == o.node);
        if last && self.nodes.get(&o.node).is_some_and(|n| n.delete_pending) {
            self.remove_node(o.node);
        }
        Ok(OpReply::Close(if post_query { meta } else { None }))
    }

    fn query_info(&self, open: OpenId, query: InfoQuery) -> Result<OpReply, NtStatus> {
        let o = self.opens.get(&open).ok_or(NtStatus::FILE_CLOSED)?;
        let n = self.nodes.get(&o.node).ok_or(NtStatus::FILE_CLOSED)?;
        let info = match query {
            InfoQuery::File(class) => {
                let path = self.path_of(o.node);
                let file = OpenFile {
                    meta: n.meta(),
                    is_dir: n.is_dir(),
                    number_of_links: 1,
                    delete_pending: n.delete_pending,
                    index_number: o.node,
                    volume_id: u64::from(self.volume_serial),
                    granted: o.access,
                    position: o.position,
                    path: &path,
                    eas: &n.eas,
                };
                InfoReply::File(file_query::file_info(class, &file)?)
            }
            InfoQuery::Fs(class) => InfoReply::Fs(self.fs_info(class)?),
            InfoQuery::Security(parts) => {
                InfoReply::Security(file_security::query(n.security.as_deref(), parts))
            }
        };
        Ok(OpReply::QueryInfo(info))
    }

    fn fs_info(&self, class: FsInfoClass) -> Result<FsInfo, NtStatus> {
        let total = VOLUME_BYTES / CLUSTER;
        let used: u64 = self
            .nodes
            .values()
            .map(|n| n.size().div_ceil(CLUSTER))
            .sum();
        let free = total.saturating_sub(used);
        Ok(match class {
            FsInfoClass::VOLUME => FsInfo::Volume(FileFsVolumeInformation {
                volume_creation_time: 0,
                volume_serial_number: self.volume_serial,
                supports_objects: false,
                volume_label: "memfs".into(),
            }),
            FsInfoClass::SIZE => FsInfo::Size(FileFsSizeInformation {
                total_allocation_units: total,
                available_allocation_units: free,
                sectors_per_allocation_unit: 8,
                bytes_per_sector: 512,
            }),
            FsInfoClass::FULL_SIZE => FsInfo::FullSize(FileFsFullSizeInformation {
                total_allocation_units: total,
                caller_available_allocation_units: free,
                actual_available_allocation_units: free,
                sectors_per_allocation_unit: 8,
                bytes_per_sector: 512,
            }),
            FsInfoClass::DEVICE => FsInfo::Device(FileFsDeviceInformation {
                device_type: DeviceType::DISK,
                characteristics: 0,
            }),
            FsInfoClass::ATTRIBUTE => FsInfo::Attribute(FileFsAttributeInformation {
                file_system_attributes: FsAttributes(
                    FsAttributes::CASE_PRESERVED_NAMES.0
                        | FsAttributes::UNICODE_ON_DISK.0
                        | FsAttributes::SUPPORTS_SPARSE_FILES.0,
                ),
                maximum_component_name_length: 255,
                file_system_name: "NTFS".into(),
            }),
            FsInfoClass::SECTOR_SIZE => FsInfo::SectorSize(FileFsSectorSizeInformation {
                logical_bytes_per_sector: 512,
                physical_bytes_per_sector_for_atomicity: 512,
                physical_bytes_per_sector_for_performance: 512,
                effective_physical_bytes_per_sector_for_atomicity: 512,
                flags: 0,
                byte_offset_for_sector_alignment: 0,
                byte_offset_for_partition_alignment: 0,
            }),
            FsInfoClass::CONTROL => FsInfo::Control(file_query::no_quotas()),
            FsInfoClass::OBJECT_ID => {
                let serial = self.volume_serial.to_le_bytes();
                let mut id = [0u8; 16];
                id[..4].copy_from_slice(b"mem\0");
                id[4..8].copy_from_slice(&serial);
                FsInfo::ObjectId(file_query::volume_object_id(id))
            }
            _ => return Err(NtStatus::INVALID_INFO_CLASS),
        })
    }

    fn set_info(
        &mut self,
        open: OpenId,
        change: InfoChange,
        now: u64,
    ) -> Result<OpReply, NtStatus> {
        let node = self.node_of(open)?;
        let info = match change {
            InfoChange::Security {
                additional,
                descriptor,
            } => {
                let n = self.nodes.get_mut(&node).ok_or(NtStatus::FILE_CLOSED)?;
                let sd = file_security::apply(n.security.as_deref(), additional, &descriptor)
                    .map_err(|e| e.status())?;
                n.security = Some(sd);
                return Ok(OpReply::SetInfo);
            }
            InfoChange::File(i) => i,
        };
        match info {
            FileInfo::Basic(b) => {
                let n = self.nodes.get_mut(&node).ok_or(NtStatus::FILE_CLOSED)?;
                // 0 means "do not change"; -1 and -2 (stop and resume updating, MS-FSCC
                // 2.4.7) are the server's business and change nothing here either.
                let set = |v: u64, slot: &mut u64| {
                    if v != 0 && v < u64::MAX - 1 {
                        *slot = v;
                    }
                };
                set(b.creation_time, &mut n.creation_time);
                set(b.last_access_time, &mut n.last_access_time);
                set(b.last_write_time, &mut n.last_write_time);
                set(b.change_time, &mut n.change_time);
                if b.file_attributes.0 != 0 {
                    let dir = n.is_dir();
                    if dir != b.file_attributes.contains(FileAttributes::DIRECTORY)
                        && b.file_attributes.contains(FileAttributes::DIRECTORY)
                    {
                        return Err(NtStatus::INVALID_PARAMETER);
                    }
                    // SPARSE_FILE stays as FSCTL_SET_SPARSE left it (MS-FSA 2.1.5.14.2).
                    let sparse = FileAttributes::SPARSE_FILE.0;
                    let mut a = FileAttributes(
                        b.file_attributes.0 & !(FileAttributes::NORMAL.0 | sparse)
                            | n.attributes.0 & sparse,
                    );
                    if dir {
                        a.0 |= FileAttributes::DIRECTORY.0;
                    }
                    n.attributes = a;
                }
            }
            FileInfo::Disposition(d) => self.set_delete(node, d.delete_pending)?,
            FileInfo::DispositionEx(d) => {
                self.set_delete(node, d.flags.contains(DispositionExFlags::DELETE))?
            }
            FileInfo::EndOfFile(e) => {
                if e.end_of_file > MAX_FILE_SIZE {
                    return Err(NtStatus::DISK_FULL);
                }
                let n = self.nodes.get_mut(&node).ok_or(NtStatus::FILE_CLOSED)?;
                let Kind::File(d) = &mut n.kind else {
                    return Err(NtStatus::INVALID_PARAMETER);
                };
                d.resize(e.end_of_file as usize, 0);
                n.last_write_time = now;
                n.change_time = now;
            }
            FileInfo::Allocation(a) => {
                let n = self.nodes.get_mut(&node).ok_or(NtStatus::FILE_CLOSED)?;
                let Kind::File(d) = &mut n.kind else {
                    return Err(NtStatus::INVALID_PARAMETER);
                };
                // Allocation below EOF truncates (MS-FSA 2.1.5.15.1).
                if (a.allocation_size as usize) < d.len() {
                    d.truncate(a.allocation_size as usize);
                }
                n.allocation = a.allocation_size.min(MAX_FILE_SIZE);
            }
            FileInfo::Rename(r) => {
                self.rename(open, node, &r.file_name, r.replace_if_exists, now)?
            }
            FileInfo::Position(p) => self.set_position(open, p.current_byte_offset),
            FileInfo::Mode(_) => {}
            FileInfo::FullEa(list) => {
                let n = self.nodes.get_mut(&node).ok_or(NtStatus::FILE_CLOSED)?;
                file_ea::apply(&mut n.eas, &list.entries).map_err(|e| e.status())?;
                n.change_time = now;
            }
            _ => return Err(NtStatus::NOT_SUPPORTED),
        }
        Ok(OpReply::SetInfo)
    }

    fn set_delete(&mut self, node: u64, delete: bool) -> Result<(), NtStatus> {
        if node == ROOT {
            return Err(NtStatus::CANNOT_DELETE);
        }
        let n = self.nodes.get_mut(&node).ok_or(NtStatus::FILE_CLOSED)?;
        if delete {
            if n.attributes.contains(FileAttributes::READONLY) {
                return Err(NtStatus::CANNOT_DELETE);
            }
            if let Kind::Dir(c) = &n.kind
                && !c.is_empty()
            {
                return Err(NtStatus::DIRECTORY_NOT_EMPTY);
            }
        }
        n.delete_pending = delete;
        if delete {
            self.watched_dir_deleted(node);
        }
        Ok(())
    }

    /// The directory `node` is to be deleted: CHANGE_NOTIFYs waiting on its opens end with
    /// STATUS_DELETE_PENDING (as in the local backend, Windows and smbd; smbtorture
    /// smb2.notify.rmdir1-4).
    fn watched_dir_deleted(&mut self, node: u64) {
        let Self {
            opens,
            watches,
            waiters,
            ready,
            ..
        } = self;
        for (open, w) in watches.iter_mut() {
            if opens.get(open).is_some_and(|o| o.node == node) {
                for id in w.waiting.drain(..) {
                    if waiters.remove(&id).is_some() {
                        ready.push_back((id, Err(NtStatus::DELETE_PENDING)));
                    }
                }
            }
        }
    }

    fn rename(
        &mut self,
        open: OpenId,
        node: u64,
        target: &str,
        replace: bool,
        now: u64,
    ) -> Result<(), NtStatus> {
        if node == ROOT {
            return Err(NtStatus::ACCESS_DENIED);
        }
        let (new_parent, new_name) = self.parent_of(target)?;
        if self.is_under(new_parent, node) {
            // Into itself or a descendant.
            return Err(NtStatus::INVALID_PARAMETER);
        }
        if let Some(existing) = self.child(new_parent, new_name)
            && existing != node
        {
            if !replace {
                return Err(NtStatus::OBJECT_NAME_COLLISION);
            }
            let victim = self.nodes.get(&existing).ok_or(NtStatus::INTERNAL_ERROR)?;
            if victim.is_dir() || self.opens.values().any(|o| o.node == existing) {
                return Err(NtStatus::ACCESS_DENIED);
            }
            self.remove_node(existing);
        }
        // A directory with open descendants cannot move (their paths would change).
        if self.nodes.get(&node).is_some_and(Node::is_dir)
            && self
                .opens
                .iter()
                .any(|(id, o)| *id != open && o.node != node && self.is_under(o.node, node))
        {
            return Err(NtStatus::ACCESS_DENIED);
        }
        let n = self.nodes.get(&node).ok_or(NtStatus::FILE_CLOSED)?;
        let (old_parent, old_name) = (n.parent, n.name.clone());
        if let Some(Node {
            kind: Kind::Dir(c), ..
        }) = self.nodes.get_mut(&old_parent)
        {
            c.remove(&key(&old_name));
        }
        if let Some(Node {
            kind: Kind::Dir(c), ..
        }) = self.nodes.get_mut(&new_parent)
        {
            c.insert(key(new_name), node);
        } else {
            return Err(NtStatus::OBJECT_PATH_NOT_FOUND);
        }
        if let Some(n) = self.nodes.get_mut(&node) {
            n.parent = new_parent;
            n.name = new_name.to_owned();
            n.change_time = now;
        }
        let kind = ChangeKind::name(self.nodes.get(&node).is_some_and(Node::is_dir));
        self.note(old_parent, NotifyAction::RENAMED_OLD_NAME, &old_name, kind);
        self.note(new_parent, NotifyAction::RENAMED_NEW_NAME, new_name, kind);
        Ok(())
    }

    fn entry(&self, id: u64, name: &str) -> Option<DirEntry> {
        let n = self.nodes.get(&id)?;
        Some(DirEntry {
            name: name.to_owned(),
            short_name: short_name::directory_short_name(name),
            meta: n.meta(),
            file_index: id,
            ea_size: file_ea::ea_size(&n.eas),
        })
    }

    fn query_directory(
        &mut self,
        open: OpenId,
        class: FileInfoClass,
        pattern: &str,
        restart: bool,
        single: bool,
        output_len: u32,
    ) -> Result<OpReply, NtStatus> {
        let o = self.opens.get(&open).ok_or(NtStatus::FILE_CLOSED)?;
        let dir = o.node;
        if restart || o.listing.is_none() {
            let n = self.nodes.get(&dir).ok_or(NtStatus::FILE_CLOSED)?;
            let Kind::Dir(children) = &n.kind else {
                return Err(NtStatus::INVALID_PARAMETER);
            };
            let mut list = VecDeque::new();
            for (name, id) in [(".", dir), ("..", n.parent)] {
                if wildcard::matches(pattern, name)
                    && let Some(e) = self.entry(id, name)
                {
                    list.push_back(e);
                }
            }
            for id in children.values() {
                if let Some(c) = self.nodes.get(id)
                    && wildcard::matches(pattern, &c.name)
                    && let Some(e) = self.entry(*id, &c.name)
                {
                    list.push_back(e);
                }
            }
            if let Some(o) = self.opens.get_mut(&open) {
                o.listing = Some(list);
            }
        }
        let mut b =
            DirectoryBuilder::new(class, output_len).map_err(|_| NtStatus::INVALID_INFO_CLASS)?;
        let Some(list) = self.opens.get_mut(&open).and_then(|o| o.listing.as_mut()) else {
            return Err(NtStatus::FILE_CLOSED);
        };
        while let Some(e) = list.front() {
            match b.push(e) {
                Ok(()) => {
                    list.pop_front();
                }
                Err(DirectoryBuildError::Full) => break,
                Err(_) => return Err(NtStatus::INTERNAL_ERROR),
            }
            if single {
                break;
            }
        }
        if b.count() == 0 && !list.is_empty() {
            // Not even one entry fits (MS-SMB2 3.3.5.18).
            return Err(NtStatus::INFO_LENGTH_MISMATCH);
        }
        Ok(OpReply::QueryDirectory(b.finish()))
    }

    fn set_sparse(&mut self, open: OpenId, sparse: bool) -> Result<OpReply, NtStatus> {
        let node = self.node_of(open)?;
        let n = self.nodes.get_mut(&node).ok_or(NtStatus::FILE_CLOSED)?;
        if n.is_dir() {
            return Err(NtStatus::INVALID_PARAMETER);
        }
        n.attributes.set(FileAttributes::SPARSE_FILE, sparse);
        Ok(OpReply::Ioctl(Bytes::new()))
    }

    /// A file that is not sparse is allocated throughout; a sparse one in the [`CLUSTER`]s
    /// that hold a byte other than zero (memfs keeps no holes, so zeros are its holes).
    fn allocated_ranges(
        &self,
        open: OpenId,
        offset: u64,
        length: u64,
    ) -> Result<OpReply, NtStatus> {
        let node = self.node_of(open)?;
        let n = self.nodes.get(&node).ok_or(NtStatus::FILE_CLOSED)?;
        let Kind::File(data) = &n.kind else {
            return Err(NtStatus::INVALID_PARAMETER);
        };
        let size = data.len() as u64;
        let Some(whole) = AllocatedRange::within(offset, length, size) else {
            return Ok(OpReply::AllocatedRanges(Vec::new()));
        };
        if !n.attributes.contains(FileAttributes::SPARSE_FILE) {
            return Ok(OpReply::AllocatedRanges(vec![whole]));
        }
        let end = offset + whole.length;
        let mut ranges: Vec<AllocatedRange> = Vec::new();
        let mut cluster = offset / CLUSTER * CLUSTER;
        while cluster < end {
            let next = cluster.saturating_add(CLUSTER);
            let bytes = data
                .get(cluster as usize..next.min(size) as usize)
                .unwrap_or(&[]);
            if bytes.iter().any(|&b| b != 0) {
                let (from, to) = (cluster.max(offset), next.min(end));
                match ranges.last_mut() {
                    Some(r) if r.offset + r.length == from => r.length = to - r.offset,
                    _ => ranges.push(AllocatedRange {
                        offset: from,
                        length: to - from,
                    }),
                }
            }
            cluster = next;
        }
        Ok(OpReply::AllocatedRanges(ranges))
    }

    /// Zeroes `offset..beyond` within the file (the end of file stays).
    fn zero_data(
        &mut self,
        open: OpenId,
        offset: u64,
        beyond: u64,
        now: u64,
    ) -> Result<OpReply, NtStatus> {
        let node = self.node_of(open)?;
        self.check_locks(node, open, offset, beyond.saturating_sub(offset), true)?;
        let n = self.nodes.get_mut(&node).ok_or(NtStatus::FILE_CLOSED)?;
        let Kind::File(data) = &mut n.kind else {
            return Err(NtStatus::INVALID_PARAMETER);
        };
        let end = beyond.min(data.len() as u64);
        if offset >= end {
            return Ok(OpReply::Ioctl(Bytes::new()));
        }
        if let Some(range) = data.get_mut(offset as usize..end as usize) {
            range.fill(0);
        }
        n.last_write_time = now;
        n.change_time = now;
        let (parent, name) = (n.parent, n.name.clone());
        self.note(parent, NotifyAction::MODIFIED, &name, ChangeKind::Write);
        Ok(OpReply::Ioctl(Bytes::new()))
    }

    fn check_locks(
        &self,
        node: u64,
        open: OpenId,
        offset: u64,
        length: u64,
        write: bool,
    ) -> Result<(), NtStatus> {
        let Some(locks) = self.locks.get(&node) else {
            return Ok(());
        };
        for l in locks {
            let other = l.open != open;
            if overlaps(l.offset, l.length, offset, length)
                && ((l.exclusive && other) || (write && !l.exclusive))
            {
                return Err(NtStatus::FILE_LOCK_CONFLICT);
            }
        }
        Ok(())
    }

    /// Applies a LOCK request all or nothing; `Err(PENDING)` means a blocking lock must wait.
    fn lock(&mut self, open: OpenId, elems: &[LockElement]) -> Result<(), NtStatus> {
        let node = self.node_of(open)?;
        let unlock = elems
            .first()
            .is_some_and(|e| e.flags.contains(LockFlags::UNLOCK));
        for e in elems {
            let is_unlock = e.flags.contains(LockFlags::UNLOCK);
            let shared = e.flags.contains(LockFlags::SHARED_LOCK);
            let excl = e.flags.contains(LockFlags::EXCLUSIVE_LOCK);
            if is_unlock != unlock
                || (!is_unlock && shared == excl)
                || (is_unlock && (shared || excl))
            {
                return Err(NtStatus::INVALID_PARAMETER);
            }
            if e.offset.checked_add(e.length).is_none() {
                return Err(NtStatus::INVALID_PARAMETER);
            }
        }
        let locks = self.locks.entry(node).or_default();
        if unlock {
            let mut remaining = locks.clone();
            for e in elems {
                let pos = remaining
                    .iter()
                    .position(|l| l.open == open && l.offset == e.offset && l.length == e.length)
                    .ok_or(NtStatus::RANGE_NOT_LOCKED)?;
                remaining.remove(pos);
            }
            *locks = remaining;
            return Ok(());
        }
        let fail_now = elems
            .iter()
            .any(|e| e.flags.contains(LockFlags::FAIL_IMMEDIATELY));
        let mut added: Vec<ByteLock> = Vec::new();
        for e in elems {
            let exclusive = e.flags.contains(LockFlags::EXCLUSIVE_LOCK);
            let conflict = locks.iter().chain(added.iter()).any(|l| {
                overlaps(l.offset, l.length, e.offset, e.length) && (l.exclusive || exclusive)
            });
            if conflict {
                return Err(if fail_now || elems.len() > 1 {
                    NtStatus::LOCK_NOT_GRANTED
                } else {
                    NtStatus::PENDING
                });
            }
            added.push(ByteLock {
                open,
                offset: e.offset,
                length: e.length,
                exclusive,
            });
        }
        locks.extend(added);
        Ok(())
    }
}

fn overlaps(a_off: u64, a_len: u64, b_off: u64, b_len: u64) -> bool {
    a_len != 0
        && b_len != 0
        && a_off < b_off.saturating_add(b_len)
        && b_off < a_off.saturating_add(a_len)
}

fn attrs_for_file(requested: FileAttributes) -> FileAttributes {
    // SPARSE_FILE is set by FSCTL_SET_SPARSE only (MS-FSA 2.1.5.1.2.1).
    let mut a = FileAttributes(
        requested.0
            & !(FileAttributes::DIRECTORY.0
                | FileAttributes::NORMAL.0
                | FileAttributes::SPARSE_FILE.0),
    );
    a.0 |= FileAttributes::ARCHIVE.0;
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{Identity, IdentityKind};
    use crate::server::ops::{ConnectionHandle, OpContext};
    use crate::wire::change_notify::CompletionFilter;
    use crate::wire::fscc::directory::DirectoryListing;
    use crate::wire::types::{SessionId, TreeId};

    struct T {
        fs: MemFs,
        next: u64,
    }

    const RW: u32 = 0x0012_019F; // read, write, attributes
    const ALL_SHARE: u32 = 7;

    impl T {
        fn new() -> Self {
            T {
                fs: MemFs::new(),
                next: 1,
            }
        }

        fn req(&mut self, op: FsOp) -> OpRequest {
            let id = OpId(self.next);
            self.next += 1;
            OpRequest {
                id,
                ctx: OpContext {
                    ch: ConnectionHandle(1),
                    session: SessionId(1),
                    tree: TreeId(1),
                    share: "s".into(),
                    user: Identity {
                        user: "u".into(),
                        domain: String::new(),
                        workstation: String::new(),
                        kind: IdentityKind::User,
                    },
                    now: 1000 + self.next,
                },
                op,
            }
        }

        fn run(&mut self, op: FsOp) -> Result<OpReply, NtStatus> {
            let r = self.req(op);
            self.fs.handle(r).expect("completes at once")
        }

        /// Creates directory `path` as open `open` (read-write, all sharing).
        fn mkdir(&mut self, open: u64, path: &str) -> Result<CreateReply, NtStatus> {
            self.create(
                open,
                path,
                RW,
                ALL_SHARE,
                CreateDisposition::CREATE,
                CreateOptions::DIRECTORY_FILE,
            )
        }

        fn create(
            &mut self,
            open: u64,
            path: &str,
            access: u32,
            share: u32,
            disp: CreateDisposition,
            opts: CreateOptions,
        ) -> Result<CreateReply, NtStatus> {
            match self.run(FsOp::Create(CreateOp {
                open: OpenId(open),
                path: path.into(),
                desired_access: AccessMask(access),
                file_attributes: FileAttributes::default(),
                share_access: ShareAccess(share),
                disposition: disp,
                options: opts,
                read_only: false,
                security: None,
                eas: Vec::new(),
                allocation_size: None,
            }))? {
                OpReply::Create(c) => Ok(c),
                other => panic!("{other:?}"),
            }
        }

        fn file(
            &mut self,
            open: u64,
            path: &str,
            disp: CreateDisposition,
        ) -> Result<CreateReply, NtStatus> {
            self.create(
                open,
                path,
                RW | 0x0001_0000,
                ALL_SHARE,
                disp,
                CreateOptions::NON_DIRECTORY_FILE,
            )
        }

        /// A CHANGE_NOTIFY on `open` for name changes in that directory only, which
        /// waits; its op id.
        fn wait_notify(&mut self, open: u64) -> OpId {
            let w = self.req(FsOp::ChangeNotify {
                open: OpenId(open),
                filter: CompletionFilter::FILE_NAME,
                watch_tree: false,
                output_len: 1024,
            });
            let id = w.id;
            assert!(self.fs.handle(w).is_none(), "the notify waits");
            id
        }

        fn close(&mut self, open: u64) {
            self.run(FsOp::Close {
                open: OpenId(open),
                post_query: false,
                write_time: None,
            })
            .expect("close");
        }

        fn write(
            &mut self,
            open: u64,
            offset: u64,
            data: &'static [u8],
        ) -> Result<OpReply, NtStatus> {
            self.run(FsOp::Write {
                open: OpenId(open),
                offset,
                data: Bytes::from_static(data),
                write_through: false,
            })
        }
    }

    #[test]
    fn allocation_size_is_reserved_in_clusters_on_create_and_overwrite_only() {
        let mut t = T::new();
        let alsi = |t: &mut T, open: u64, disp, size| match t.run(FsOp::Create(CreateOp {
            open: OpenId(open),
            path: "a".into(),
            desired_access: AccessMask(RW),
            file_attributes: FileAttributes::default(),
            share_access: ShareAccess(ALL_SHARE),
            disposition: disp,
            options: CreateOptions::NON_DIRECTORY_FILE,
            read_only: false,
            security: None,
            eas: Vec::new(),
            allocation_size: Some(size),
        })) {
            Ok(OpReply::Create(c)) => c,
            other => panic!("{other:?}"),
        };
        let c = alsi(&mut t, 1, CreateDisposition::CREATE, 5000);
        assert_eq!((c.meta.allocation_size, c.meta.end_of_file), (8192, 0));
        let c = alsi(&mut t, 2, CreateDisposition::OPEN, 1 << 20);
        assert_eq!(c.meta.allocation_size, 8192, "an open as it is keeps it");
        let c = alsi(&mut t, 3, CreateDisposition::OVERWRITE, 1);
        assert_eq!((c.meta.allocation_size, c.meta.end_of_file), (4096, 0));
    }

    #[test]
    fn close_stores_the_write_time_and_special_times_change_nothing() {
        let mut t = T::new();
        t.file(1, "f", CreateDisposition::CREATE).expect("create");
        t.write(1, 0, b"x").expect("write");
        let set = |b: u64| FsOp::SetInfo {
            open: OpenId(1),
            change: InfoChange::File(FileInfo::Basic(FileBasicInformation {
                creation_time: b,
                last_access_time: b,
                last_write_time: b,
                change_time: b,
                file_attributes: FileAttributes::default(),
            })),
        };
        let meta = |t: &mut T| match t.run(FsOp::QueryInfo {
            open: OpenId(1),
            query: InfoQuery::File(FileInfoClass::NETWORK_OPEN),
            output_len: 4096,
        }) {
            Ok(OpReply::QueryInfo(InfoReply::File(FileInfo::NetworkOpen(n)))) => n,
            other => panic!("{other:?}"),
        };
        let before = meta(&mut t);
        // -1 and -2 (MS-FSCC 2.4.7) are not times.
        t.run(set(u64::MAX)).expect("freeze");
        t.run(set(u64::MAX - 1)).expect("thaw");
        assert_eq!(meta(&mut t), before);
        match t.run(FsOp::Close {
            open: OpenId(1),
            post_query: true,
            write_time: Some(77),
        }) {
            Ok(OpReply::Close(Some(m))) => assert_eq!(m.last_write_time, 77),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn dispositions_and_data() {
        let mut t = T::new();
        assert_eq!(
            t.file(1, "a", CreateDisposition::OPEN).err(),
            Some(NtStatus::OBJECT_NAME_NOT_FOUND)
        );
        assert_eq!(
            t.file(1, "a", CreateDisposition::CREATE).map(|c| c.action),
            Ok(CreateAction::CREATED)
        );
        t.write(1, 0, b"hello world").expect("write");
        // A gap is zero-filled.
        t.write(1, 13, b"!").expect("write");
        t.close(1);
        assert_eq!(
            t.fs.file("A"),
            Some(&b"hello world\0\0!"[..]),
            "case-insensitive"
        );
        assert_eq!(
            t.file(2, "a", CreateDisposition::CREATE).err(),
            Some(NtStatus::OBJECT_NAME_COLLISION)
        );
        assert_eq!(
            t.file(2, "a", CreateDisposition::OVERWRITE_IF)
                .map(|c| c.action),
            Ok(CreateAction::OVERWRITTEN)
        );
        assert_eq!(t.fs.file("a"), Some(&b""[..]));
        let r = t.run(FsOp::Read {
            open: OpenId(2),
            offset: 0,
            length: 10,
            min_count: 0,
            buf: ReadBuf::with_capacity(10),
        });
        assert_eq!(r.err(), Some(NtStatus::END_OF_FILE));
        t.close(2);
        assert_eq!(
            t.file(3, "nodir\\a", CreateDisposition::CREATE).err(),
            Some(NtStatus::OBJECT_PATH_NOT_FOUND)
        );
        assert_eq!(
            t.create(
                3,
                "a",
                RW,
                ALL_SHARE,
                CreateDisposition::OPEN,
                CreateOptions::DIRECTORY_FILE
            )
            .err(),
            Some(NtStatus::NOT_A_DIRECTORY)
        );
    }

    #[test]
    fn position_follows_reads_writes_and_set_info() {
        let mut t = T::new();
        t.file(1, "f", CreateDisposition::CREATE).expect("create");
        t.file(2, "f", CreateDisposition::OPEN)
            .expect("second open");
        let position = |t: &mut T, open: u64| match t.run(FsOp::QueryInfo {
            open: OpenId(open),
            query: InfoQuery::File(FileInfoClass::POSITION),
            output_len: 8,
        }) {
            Ok(OpReply::QueryInfo(InfoReply::File(FileInfo::Position(p)))) => p.current_byte_offset,
            other => panic!("{other:?}"),
        };
        assert_eq!(position(&mut t, 1), 0);
        t.write(1, 3, b"hello").expect("write");
        assert_eq!(position(&mut t, 1), 8);
        // Each open has its own position.
        assert_eq!(position(&mut t, 2), 0);
        t.run(FsOp::Read {
            open: OpenId(2),
            offset: 4,
            length: 100,
            min_count: 0,
            buf: ReadBuf::with_capacity(100),
        })
        .expect("read");
        assert_eq!(
            position(&mut t, 2),
            8,
            "a short read ends at the end of the data"
        );
        t.run(FsOp::SetInfo {
            open: OpenId(1),
            change: InfoChange::File(FileInfo::Position(FilePositionInformation {
                current_byte_offset: 2,
            })),
        })
        .expect("set position");
        assert_eq!(position(&mut t, 1), 2);
    }

    #[test]
    fn share_modes_conflict() {
        let mut t = T::new();
        // Open for read, sharing read only.
        t.create(
            1,
            "f",
            0x0012_0089,
            1,
            CreateDisposition::OPEN_IF,
            CreateOptions::NON_DIRECTORY_FILE,
        )
        .expect("first");
        // Asking for write access violates the first open's share mode.
        assert_eq!(
            t.create(
                2,
                "f",
                0x0012_0116,
                ALL_SHARE,
                CreateDisposition::OPEN,
                CreateOptions::NON_DIRECTORY_FILE
            )
            .err(),
            Some(NtStatus::SHARING_VIOLATION)
        );
        // Reading while denying write to others conflicts with nobody writing: fine.
        t.create(
            3,
            "f",
            0x0012_0089,
            1,
            CreateDisposition::OPEN,
            CreateOptions::NON_DIRECTORY_FILE,
        )
        .expect("reader");
        t.close(1);
        t.close(3);
        t.create(
            2,
            "f",
            0x0012_0116,
            ALL_SHARE,
            CreateDisposition::OPEN,
            CreateOptions::NON_DIRECTORY_FILE,
        )
        .expect("after close");
    }

    #[test]
    fn delete_on_close_and_disposition() {
        let mut t = T::new();
        t.create(
            1,
            "d",
            RW | 0x0001_0000,
            ALL_SHARE,
            CreateDisposition::CREATE,
            CreateOptions::DIRECTORY_FILE,
        )
        .expect("mkdir");
        t.file(2, "d\\x", CreateDisposition::CREATE).expect("file");
        assert_eq!(
            t.run(FsOp::SetInfo {
                open: OpenId(1),
                change: InfoChange::File(FileInfo::Disposition(FileDispositionInformation {
                    delete_pending: true
                })),
            })
            .err(),
            Some(NtStatus::DIRECTORY_NOT_EMPTY)
        );
        t.close(2);
        assert_eq!(
            t.create(
                9,
                "d",
                RW | 0x0001_0000,
                ALL_SHARE,
                CreateDisposition::OPEN,
                CreateOptions::DELETE_ON_CLOSE,
            )
            .err(),
            Some(NtStatus::DIRECTORY_NOT_EMPTY)
        );
        t.create(
            3,
            "d\\x",
            RW | 0x0001_0000,
            ALL_SHARE,
            CreateDisposition::OPEN,
            CreateOptions::DELETE_ON_CLOSE,
        )
        .expect("doc");
        t.file(4, "d\\x", CreateDisposition::OPEN)
            .expect("second open");
        t.close(3);
        assert!(
            t.fs.exists("d\\x"),
            "deleted only when the last open closes"
        );
        assert_eq!(
            t.file(5, "d\\x", CreateDisposition::OPEN).err(),
            Some(NtStatus::DELETE_PENDING)
        );
        t.close(4);
        assert!(!t.fs.exists("d\\x"));
        t.run(FsOp::SetInfo {
            open: OpenId(1),
            change: InfoChange::File(FileInfo::Disposition(FileDispositionInformation {
                delete_pending: true,
            })),
        })
        .expect("empty dir");
        t.close(1);
        assert!(!t.fs.exists("d"));
    }

    /// Deleting a watched directory ends the CHANGE_NOTIFYs waiting on it with
    /// DELETE_PENDING, whether by delete-on-close or by a disposition.
    #[test]
    fn deleting_a_watched_directory_ends_its_notifies() {
        let mut t = T::new();
        for (how, path) in [("delete-on-close", "w1"), ("disposition", "w2")] {
            t.mkdir(1, path).expect("dir");
            let wid = t.wait_notify(1);
            if how == "delete-on-close" {
                t.create(
                    2,
                    path,
                    RW | 0x0001_0000,
                    ALL_SHARE,
                    CreateDisposition::OPEN,
                    CreateOptions::DIRECTORY_FILE | CreateOptions::DELETE_ON_CLOSE,
                )
                .expect("open to delete");
                t.close(2);
            } else {
                t.run(FsOp::SetInfo {
                    open: OpenId(1),
                    change: InfoChange::File(FileInfo::Disposition(FileDispositionInformation {
                        delete_pending: true,
                    })),
                })
                .expect("disposition");
            }
            assert!(
                matches!(
                    t.fs.poll_ready(),
                    Some((id, Err(NtStatus::DELETE_PENDING))) if id == wid
                ),
                "{how}"
            );
            t.close(1);
            assert!(!t.fs.exists(path), "{how}");
        }
    }

    #[test]
    fn rename_rules() {
        let mut t = T::new();
        t.file(1, "a", CreateDisposition::CREATE).expect("a");
        t.file(2, "b", CreateDisposition::CREATE).expect("b");
        t.close(2);
        let rename = |name: &str, replace: bool| FsOp::SetInfo {
            open: OpenId(1),
            change: InfoChange::File(FileInfo::Rename(FileRenameInformation {
                replace_if_exists: replace,
                root_directory: 0,
                file_name: name.into(),
            })),
        };
        assert_eq!(
            t.run(rename("B", false)).err(),
            Some(NtStatus::OBJECT_NAME_COLLISION)
        );
        t.run(rename("b", true)).expect("replace");
        assert!(!t.fs.exists("a") && t.fs.exists("b"));
        // A case-only rename of itself works.
        t.run(rename("B", false)).expect("case change");
        t.mkdir(3, "dir").expect("dir");
        t.run(rename("dir\\c", false)).expect("across directories");
        assert!(t.fs.exists("dir\\c"));
    }

    #[test]
    fn enumeration_pages_through_every_entry_once() {
        let mut t = T::new();
        t.mkdir(1, "d").expect("dir");
        for i in 0..50 {
            t.fs.put_file(&format!("d\\file{i:02}.txt"), b"x", 0)
                .expect("put");
        }
        t.fs.put_file("d\\other.dat", b"x", 0).expect("put");
        let mut names = Vec::new();
        let mut restart = true;
        loop {
            let r = t.run(FsOp::QueryDirectory {
                open: OpenId(1),
                class: FileInfoClass::FULL_DIRECTORY,
                pattern: "file*.txt".into(),
                restart,
                single: false,
                index: None,
                output_len: 400,
            });
            restart = false;
            let Ok(OpReply::QueryDirectory(buf)) = r else {
                panic!("{r:?}");
            };
            if buf.is_empty() {
                break;
            }
            match DirectoryListing::decode(FileInfoClass::FULL_DIRECTORY, &buf).expect("decode") {
                DirectoryListing::FullDirectory(v) => {
                    assert!(!v.is_empty() && v.len() < 50, "paged");
                    names.extend(v.into_iter().map(|e| e.file_name));
                }
                other => panic!("{other:?}"),
            }
        }
        let want: Vec<String> = (0..50).map(|i| format!("file{i:02}.txt")).collect();
        assert_eq!(names, want);
        // Too small for one entry.
        let r = t.run(FsOp::QueryDirectory {
            open: OpenId(1),
            class: FileInfoClass::FULL_DIRECTORY,
            pattern: "*".into(),
            restart: true,
            single: false,
            index: None,
            output_len: 10,
        });
        assert_eq!(r.err(), Some(NtStatus::INFO_LENGTH_MISMATCH));
    }

    #[test]
    fn locks_conflict_block_and_wake() {
        let mut t = T::new();
        t.file(1, "f", CreateDisposition::CREATE).expect("1");
        t.file(2, "f", CreateDisposition::OPEN).expect("2");
        let lock = |open: u64, off: u64, flags: u32| FsOp::Lock {
            open: OpenId(open),
            locks: vec![LockElement {
                offset: off,
                length: 10,
                flags: LockFlags(flags),
            }],
        };
        t.run(lock(1, 0, LockFlags::EXCLUSIVE_LOCK.0))
            .expect("lock");
        assert_eq!(
            t.write(2, 5, b"x").err(),
            Some(NtStatus::FILE_LOCK_CONFLICT)
        );
        t.write(1, 5, b"x").expect("owner writes");
        assert_eq!(
            t.run(lock(
                2,
                5,
                LockFlags::SHARED_LOCK.0 | LockFlags::FAIL_IMMEDIATELY.0
            ))
            .err(),
            Some(NtStatus::LOCK_NOT_GRANTED)
        );
        t.run(lock(2, 10, LockFlags::SHARED_LOCK.0))
            .expect("adjacent range is free");
        let waiting = t.req(lock(2, 0, LockFlags::SHARED_LOCK.0));
        let wid = waiting.id;
        assert!(t.fs.handle(waiting).is_none(), "blocks");
        assert_eq!(t.run(lock(1, 0, LockFlags::UNLOCK.0)).map(|_| ()), Ok(()));
        assert!(matches!(t.fs.poll_ready(), Some((id, Ok(OpReply::Lock))) if id == wid));
        assert_eq!(
            t.run(lock(1, 0, LockFlags::UNLOCK.0)).err(),
            Some(NtStatus::RANGE_NOT_LOCKED)
        );
        let waiting = t.req(lock(1, 0, LockFlags::EXCLUSIVE_LOCK.0));
        let wid = waiting.id;
        assert!(t.fs.handle(waiting).is_none());
        assert_eq!(
            t.fs.cancel(wid).map(|r| r.err()),
            Some(Some(NtStatus::CANCELLED))
        );
        assert!(t.fs.cancel(wid).is_none());
    }

    /// Changes made while no request waits are kept for the next one, deeper ones named from
    /// the watched directory, under the first request's filter (see `notify_watch`).
    #[test]
    fn change_notify_keeps_changes_between_requests() {
        let mut t = T::new();
        t.mkdir(1, "w").expect("dir");
        t.mkdir(2, "w\\sub").expect("subdir");
        let notify = |t: &mut T, filter| {
            let r = t.req(FsOp::ChangeNotify {
                open: OpenId(1),
                filter,
                watch_tree: true,
                output_len: 1024,
            });
            t.fs.handle(r)
        };
        assert!(
            notify(&mut t, CompletionFilter::FILE_NAME).is_none(),
            "waits"
        );
        t.file(3, "w\\a.txt", CreateDisposition::CREATE).expect("a");
        assert!(
            matches!(t.fs.poll_ready(), Some((_, Ok(OpReply::ChangeNotify(v)))) if v.len() == 1)
        );
        t.file(4, "w\\sub\\b.txt", CreateDisposition::CREATE)
            .expect("b");
        t.mkdir(5, "w\\other").expect("a directory, not asked for");
        match notify(&mut t, CompletionFilter::DIR_NAME) {
            Some(Ok(OpReply::ChangeNotify(v))) => {
                let got: Vec<_> = v.iter().map(|e| (e.action, e.file_name.as_str())).collect();
                assert_eq!(got, [(NotifyAction::ADDED, "sub\\b.txt")]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn change_notify_and_info_classes() {
        let mut t = T::new();
        t.create(
            1,
            "",
            0x0012_0089,
            ALL_SHARE,
            CreateDisposition::OPEN,
            CreateOptions::DIRECTORY_FILE,
        )
        .expect("root");
        let wid = t.wait_notify(1);
        t.file(2, "new.txt", CreateDisposition::CREATE)
            .expect("create");
        match t.fs.poll_ready() {
            Some((id, Ok(OpReply::ChangeNotify(v)))) => {
                assert_eq!(id, wid);
                assert_eq!(v[0].action, NotifyAction::ADDED);
                assert_eq!(v[0].file_name, "new.txt");
            }
            other => panic!("{other:?}"),
        }
        // Closing the watched handle completes a pending watch with NOTIFY_CLEANUP.
        let wid = t.wait_notify(1);
        t.close(1);
        assert!(matches!(
            t.fs.poll_ready(),
            Some((id, Err(NtStatus::NOTIFY_CLEANUP))) if id == wid
        ));
        t.write(2, 0, b"abc").expect("write");
        for class in [
            FileInfoClass::BASIC,
            FileInfoClass::STANDARD,
            FileInfoClass::ALL,
            FileInfoClass::NETWORK_OPEN,
            FileInfoClass::STREAM,
            FileInfoClass::INTERNAL,
            FileInfoClass::ATTRIBUTE_TAG,
            FileInfoClass::COMPRESSION,
            FileInfoClass::ALTERNATE_NAME,
        ] {
            let r = t.run(FsOp::QueryInfo {
                open: OpenId(2),
                query: InfoQuery::File(class),
                output_len: 4096,
            });
            let Ok(OpReply::QueryInfo(InfoReply::File(info))) = r else {
                panic!("{class}: {r:?}");
            };
            let mut out = bytes::BytesMut::new();
            info.encode(&mut out).expect("encodes");
            let back = FileInfo::decode(class, &out.freeze()).expect("decodes");
            assert_eq!(back, info);
            match info {
                FileInfo::Standard(s) => assert_eq!(s.end_of_file, 3),
                FileInfo::Compression(c) => {
                    assert_eq!((c.compressed_file_size, c.compression_format), (3, 0));
                }
                _ => {}
            }
        }
        for class in [
            FsInfoClass::VOLUME,
            FsInfoClass::SIZE,
            FsInfoClass::FULL_SIZE,
            FsInfoClass::ATTRIBUTE,
            FsInfoClass::DEVICE,
            FsInfoClass::SECTOR_SIZE,
            FsInfoClass::CONTROL,
            FsInfoClass::OBJECT_ID,
        ] {
            match t.run(FsOp::QueryInfo {
                open: OpenId(2),
                query: InfoQuery::Fs(class),
                output_len: 4096,
            }) {
                Ok(OpReply::QueryInfo(InfoReply::Fs(info))) => assert_eq!(info.class(), class),
                other => panic!("{class:?}: {other:?}"),
            }
        }
    }

    /// A descriptor set with SET_INFO is kept per file and reported part by part; a malformed
    /// one is refused with a typed status and changes nothing.
    #[test]
    fn security_descriptors_are_stored() {
        use crate::wire::query_info::AdditionalInformation as Ai;
        use crate::wire::security_descriptor::{
            ACL_REVISION, Ace, AceType, Acl, SecurityDescriptor, Sid,
        };
        let mut t = T::new();
        t.mkdir(1, "d").expect("dir");
        let query = |t: &mut T, which: Ai| match t.run(FsOp::QueryInfo {
            open: OpenId(1),
            query: InfoQuery::Security(which),
            output_len: 4096,
        }) {
            Ok(OpReply::QueryInfo(InfoReply::Security(b))) => {
                SecurityDescriptor::decode(&b).expect("decodes")
            }
            other => panic!("{other:?}"),
        };
        let before = query(&mut t, Ai(7));
        let owner = Sid::new(5, &[21, 7, 8, 9, 1001]);
        let mut sd = before.clone();
        sd.owner = Some(owner.clone());
        sd.dacl = Some(Acl {
            revision: ACL_REVISION,
            aces: vec![Ace::new(AceType::ACCESS_ALLOWED, 1, 0x001e_01bf, &owner).unwrap()],
        });
        let set = |t: &mut T, descriptor: Bytes| {
            t.run(FsOp::SetInfo {
                open: OpenId(1),
                change: InfoChange::Security {
                    additional: Ai(5),
                    descriptor,
                },
            })
        };
        assert!(matches!(
            set(&mut t, sd.to_bytes().unwrap()),
            Ok(OpReply::SetInfo)
        ));
        let after = query(&mut t, Ai(7));
        assert_eq!(after.owner, Some(owner));
        assert_eq!(after.group, before.group);
        assert_eq!(after.dacl, sd.dacl);
        assert_eq!(
            set(&mut t, Bytes::from_static(&[1, 0, 4, 0])).err(),
            Some(NtStatus::INVALID_SECURITY_DESCR)
        );
        assert_eq!(query(&mut t, Ai(7)), after);

        // SecD on CREATE: stored on the file the create makes, ignored when it opens one.
        let sd_owner = |owner: &Sid| {
            let sd = SecurityDescriptor {
                owner: Some(owner.clone()),
                ..before.clone()
            };
            crate::server::file_security::for_create(&sd.to_bytes().unwrap()).unwrap()
        };
        let creator = Sid::new(5, &[21, 7, 8, 9, 1002]);
        let admins = Sid::builtin_administrators();
        for (open, disposition) in [
            (2, CreateDisposition::CREATE),
            (3, CreateDisposition::OPEN_IF),
        ] {
            let r = t.run(FsOp::Create(CreateOp {
                open: OpenId(open),
                path: "d\\f".into(),
                desired_access: AccessMask(RW | 0x0002_0000),
                file_attributes: FileAttributes::default(),
                share_access: ShareAccess(ALL_SHARE),
                disposition,
                options: CreateOptions::NON_DIRECTORY_FILE,
                read_only: false,
                security: Some(sd_owner(if open == 2 { &creator } else { &admins })),
                eas: Vec::new(),
                allocation_size: None,
            }));
            assert!(matches!(r, Ok(OpReply::Create(_))), "{r:?}");
            let got = match t.run(FsOp::QueryInfo {
                open: OpenId(open),
                query: InfoQuery::Security(Ai(1)),
                output_len: 4096,
            }) {
                Ok(OpReply::QueryInfo(InfoReply::Security(b))) => {
                    SecurityDescriptor::decode(&b).unwrap()
                }
                other => panic!("{other:?}"),
            };
            assert_eq!(got.owner.as_ref(), Some(&creator));
        }
    }

    #[test]
    fn extended_attributes_are_stored_merged_and_sized() {
        let ea = |name: &'static str, value: &'static str| FullEa {
            flags: 0,
            name: Bytes::from_static(name.as_bytes()),
            value: Bytes::from_static(value.as_bytes()),
        };
        let mut t = T::new();
        t.file(1, "f", CreateDisposition::CREATE).expect("create");
        let all = |t: &mut T, open: u64| match t.run(FsOp::QueryInfo {
            open: OpenId(open),
            query: InfoQuery::File(FileInfoClass::FULL_EA),
            output_len: 4096,
        }) {
            Ok(OpReply::QueryInfo(InfoReply::File(FileInfo::FullEa(l)))) => l.entries,
            other => panic!("{other:?}"),
        };
        let size = |t: &mut T| match t.run(FsOp::QueryInfo {
            open: OpenId(1),
            query: InfoQuery::File(FileInfoClass::EA),
            output_len: 4096,
        }) {
            Ok(OpReply::QueryInfo(InfoReply::File(FileInfo::Ea(e)))) => e.ea_size,
            other => panic!("{other:?}"),
        };
        assert!(all(&mut t, 1).is_empty());
        assert_eq!(size(&mut t), 0);
        let set = |t: &mut T, entries: Vec<FullEa>| {
            t.run(FsOp::SetInfo {
                open: OpenId(1),
                change: InfoChange::File(FileInfo::FullEa(FileFullEaInformation { entries })),
            })
        };
        // The server hands over canonical (upper-case) names.
        set(
            &mut t,
            vec![ea("SECONDEA", "ValueTwo"), ea("EAONE", "VALUE1")],
        )
        .expect("set");
        let stored = all(&mut t, 1);
        assert_eq!(
            stored,
            vec![ea("EAONE", "VALUE1"), ea("SECONDEA", "ValueTwo")]
        );
        assert_eq!(size(&mut t), file_ea::ea_size(&stored));
        assert_eq!(size(&mut t), 20 + 25);
        // An empty value deletes; the bound refuses a set as a whole.
        set(&mut t, vec![ea("EAONE", "")]).expect("delete");
        assert_eq!(all(&mut t, 1), vec![ea("SECONDEA", "ValueTwo")]);
        let big = |name: &'static str| FullEa {
            flags: 0,
            name: Bytes::from_static(name.as_bytes()),
            value: Bytes::from(vec![b'x'; 40_000]),
        };
        assert_eq!(
            set(&mut t, vec![ea("NEW", "n"), big("BIG1"), big("BIG2")]).err(),
            Some(NtStatus::EA_TOO_LARGE)
        );
        assert_eq!(all(&mut t, 1), vec![ea("SECONDEA", "ValueTwo")]);

        // ExtA on CREATE: stored on the file the create makes, ignored when it opens one.
        for (open, disposition, eas) in [
            (2, CreateDisposition::CREATE, vec![ea("X", "1")]),
            (3, CreateDisposition::OPEN_IF, vec![ea("Y", "2")]),
        ] {
            let r = t.run(FsOp::Create(CreateOp {
                open: OpenId(open),
                path: "g".into(),
                desired_access: AccessMask(RW),
                file_attributes: FileAttributes::default(),
                share_access: ShareAccess(ALL_SHARE),
                disposition,
                options: CreateOptions::NON_DIRECTORY_FILE,
                read_only: false,
                security: None,
                eas,
                allocation_size: None,
            }));
            assert!(matches!(r, Ok(OpReply::Create(_))), "{r:?}");
            assert_eq!(all(&mut t, open), vec![ea("X", "1")]);
        }
    }

    /// A file opens by its short name (and so does the directory on its path); another
    /// spelling of a name that is itself 8.3 is no short name.
    #[test]
    fn files_open_by_their_short_names() {
        let mut t = T::new();
        t.mkdir(1, "Some Directory").expect("mkdir");
        t.close(1);
        let long = "Some Directory\\A Rather Long Name.text";
        t.file(2, long, CreateDisposition::CREATE).expect("create");
        t.close(2);
        let short = format!(
            "{}\\{}",
            short_name::alternate_name("Some Directory"),
            short_name::alternate_name("A Rather Long Name.text").to_lowercase()
        );
        let by_short = t
            .file(3, &short, CreateDisposition::OPEN)
            .expect("by short name");
        assert_eq!(by_short.action, CreateAction::OPENED);
        t.close(3);
        assert_eq!(
            t.file(4, "Some Directory\\AB12CD~1.TXT", CreateDisposition::OPEN)
                .err(),
            Some(NtStatus::OBJECT_NAME_NOT_FOUND),
            "a short name of nothing"
        );
    }
}
