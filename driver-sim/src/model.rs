//! The model of acknowledged writes.
//!
//! Owns: [`FileModel`], what a client believes the server's files must contain. Workloads
//! write whole blocks at block-aligned offsets and tell the model when each write was sent,
//! acknowledged or refused. The model then says, block by block, which contents are
//! legitimate: the data of a write that may have been applied and was not certainly
//! overwritten later, or nothing (zeros, or beyond the end) while no acknowledged write covers
//! the block. Anything else is lost acknowledged data or invented data.
//! Must not: talk to a node; it is pure bookkeeping.

use std::collections::BTreeMap;

use bytes::Bytes;

use crate::time::SimTime;

/// A write recorded in the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct WriteId {
    file: usize,
    index: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WriteState {
    /// Sent; the outcome is unknown (in flight, or the connection died).
    Maybe,
    /// Acknowledged with success at this time.
    Acked(SimTime),
    /// Refused with an error status: certainly not applied.
    Failed,
}

#[derive(Debug, Clone)]
struct WriteRec {
    offset: u64,
    data: Bytes,
    sent: SimTime,
    state: WriteState,
}

#[derive(Debug, Clone)]
struct ModelFile {
    path: String,
    block: u64,
    writes: Vec<WriteRec>,
    /// Block index → writes covering it.
    index: BTreeMap<u64, Vec<usize>>,
}

/// The files a scenario checks, by share-relative path.
#[derive(Debug, Clone, Default)]
pub struct FileModel {
    files: Vec<ModelFile>,
    by_path: BTreeMap<String, usize>,
}

/// A content check failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// A write does not cover whole blocks.
    #[error("write to {path} at {offset} of {len} bytes is not block-aligned")]
    Unaligned {
        /// The file.
        path: String,
        /// Offset.
        offset: u64,
        /// Length.
        len: usize,
    },
    /// A size reported by the server is impossible: below the end of a write acknowledged
    /// before the query was sent, or beyond every write that may have been applied.
    #[error("{path}: size {size} outside the possible {min}..={max}")]
    Size {
        /// The file.
        path: String,
        /// The size the server reported.
        size: u64,
        /// The smallest legitimate size.
        min: u64,
        /// The largest legitimate size.
        max: u64,
    },
    /// The file is not in the model.
    #[error("{0} is not modelled")]
    Unknown(String),
    /// A block holds data no write could have produced, or acknowledged data is missing.
    #[error("{path} block {block}: {what}")]
    Mismatch {
        /// The file.
        path: String,
        /// Block index.
        block: u64,
        /// What is wrong.
        what: &'static str,
    },
}

impl FileModel {
    /// An empty model.
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts modelling `path` as an empty file written in `block`-byte units (call after the
    /// CREATE that truncated or created it succeeded). Forgets earlier history of the path.
    pub fn create(&mut self, path: &str, block: u64) {
        let f = ModelFile {
            path: path.to_owned(),
            block: block.max(1),
            writes: Vec::new(),
            index: BTreeMap::new(),
        };
        let i = self.files.len();
        self.files.push(f);
        self.by_path.insert(path.to_owned(), i);
    }

    /// The modelled paths.
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.by_path.keys().map(String::as_str)
    }

    /// The block size of `path`.
    pub fn block(&self, path: &str) -> Option<u64> {
        self.by_path
            .get(path)
            .and_then(|i| self.files.get(*i))
            .map(|f| f.block)
    }

    /// Records a WRITE as sent.
    pub fn write_sent(
        &mut self,
        path: &str,
        offset: u64,
        data: Bytes,
        at: SimTime,
    ) -> Result<WriteId, ModelError> {
        let file = *self
            .by_path
            .get(path)
            .ok_or_else(|| ModelError::Unknown(path.to_owned()))?;
        let f = self
            .files
            .get_mut(file)
            .ok_or_else(|| ModelError::Unknown(path.to_owned()))?;
        let len = data.len() as u64;
        if offset % f.block != 0 || len % f.block != 0 || len == 0 {
            return Err(ModelError::Unaligned {
                path: path.to_owned(),
                offset,
                len: data.len(),
            });
        }
        let index = f.writes.len();
        for b in offset / f.block..(offset + len) / f.block {
            f.index.entry(b).or_default().push(index);
        }
        f.writes.push(WriteRec {
            offset,
            data,
            sent: at,
            state: WriteState::Maybe,
        });
        Ok(WriteId { file, index })
    }

    /// The WRITE was acknowledged with success.
    pub fn write_acked(&mut self, id: WriteId, at: SimTime) {
        self.set(id, WriteState::Acked(at));
    }

    /// The WRITE was refused with an error status (certainly not applied).
    pub fn write_failed(&mut self, id: WriteId) {
        self.set(id, WriteState::Failed);
    }

    fn set(&mut self, id: WriteId, state: WriteState) {
        if let Some(w) = self
            .files
            .get_mut(id.file)
            .and_then(|f| f.writes.get_mut(id.index))
        {
            w.state = state;
        }
    }

    /// Checks data returned by a READ of `path` at `offset` (block-aligned) that was sent at
    /// `sent`. `data` may be short (end of file).
    pub fn check_read(
        &self,
        path: &str,
        offset: u64,
        len: u64,
        data: &[u8],
        sent: SimTime,
    ) -> Result<(), ModelError> {
        let f = self.file(path)?;
        let first = offset / f.block;
        let blocks = len.div_ceil(f.block);
        for k in 0..blocks {
            let start = usize::try_from(k * f.block).unwrap_or(usize::MAX);
            let end = start.saturating_add(f.block as usize);
            let actual = data
                .get(start..end.min(data.len()))
                .filter(|s| !s.is_empty());
            check_block(f, first + k, actual, sent)?;
        }
        Ok(())
    }

    /// Checks a size (EndOfFile) of `path` returned by a query sent at `sent`: it must reach
    /// the end of every write acknowledged by then, and must not pass the end of every write
    /// that may have been applied.
    pub fn check_size(&self, path: &str, size: u64, sent: SimTime) -> Result<(), ModelError> {
        let f = self.file(path)?;
        let end = |w: &WriteRec| w.offset + w.data.len() as u64;
        let min = f
            .writes
            .iter()
            .filter(|w| matches!(w.state, WriteState::Acked(a) if a <= sent))
            .map(end)
            .max()
            .unwrap_or(0);
        let max = f
            .writes
            .iter()
            .filter(|w| w.state != WriteState::Failed)
            .map(end)
            .max()
            .unwrap_or(0);
        if size < min || size > max {
            return Err(ModelError::Size {
                path: path.to_owned(),
                size,
                min,
                max,
            });
        }
        Ok(())
    }

    /// Checks the final content of `path` (`None`: the file does not exist).
    pub fn check_final(&self, path: &str, content: Option<&[u8]>) -> Result<(), ModelError> {
        let f = self.file(path)?;
        let data = content.unwrap_or(&[]);
        let blocks = (data.len() as u64).div_ceil(f.block);
        let last_indexed = f.index.keys().next_back().map_or(0, |b| b + 1);
        for k in 0..blocks.max(last_indexed) {
            let start = usize::try_from(k * f.block).unwrap_or(usize::MAX);
            let end = start.saturating_add(f.block as usize).min(data.len());
            let actual = data.get(start..end).filter(|s| !s.is_empty());
            check_block(f, k, actual, SimTime(u64::MAX))?;
        }
        Ok(())
    }

    fn file(&self, path: &str) -> Result<&ModelFile, ModelError> {
        self.by_path
            .get(path)
            .and_then(|i| self.files.get(*i))
            .ok_or_else(|| ModelError::Unknown(path.to_owned()))
    }

    /// Number of writes recorded and acknowledged, over all files.
    pub fn counts(&self) -> (usize, usize) {
        let all = self.files.iter().map(|f| f.writes.len()).sum();
        let acked = self
            .files
            .iter()
            .flat_map(|f| &f.writes)
            .filter(|w| matches!(w.state, WriteState::Acked(_)))
            .count();
        (all, acked)
    }
}

/// Whether `actual` (None: beyond the end) is a legitimate content of block `k` as seen by an
/// observer whose request was sent at `view`.
fn check_block(
    f: &ModelFile,
    k: u64,
    actual: Option<&[u8]>,
    view: SimTime,
) -> Result<(), ModelError> {
    let mismatch = |what| ModelError::Mismatch {
        path: f.path.clone(),
        block: k,
        what,
    };
    let covering = || {
        f.index
            .get(&k)
            .into_iter()
            .flatten()
            .filter_map(|i| f.writes.get(*i))
    };
    let acked_before =
        || covering().filter(move |w| matches!(w.state, WriteState::Acked(a) if a <= view));
    let slice_of = |w: &WriteRec| -> Option<Bytes> {
        let start = usize::try_from(k * f.block - w.offset).ok()?;
        let end = start.checked_add(usize::try_from(f.block).ok()?)?;
        (end <= w.data.len()).then(|| w.data.slice(start..end))
    };
    let Some(actual) = actual else {
        return if acked_before().next().is_none() {
            Ok(())
        } else {
            Err(mismatch(
                "acknowledged data is missing (block beyond the end)",
            ))
        };
    };
    let none_acked = acked_before().next().is_none();
    // The latest send time among writes acknowledged before the view: an acknowledged write
    // is certainly overwritten if one of those was sent after it was acknowledged.
    let latest_acked_send = acked_before().map(|w| w.sent).max();
    if none_acked && actual.iter().all(|b| *b == 0) {
        return Ok(());
    }
    for w in covering() {
        if w.state == WriteState::Failed {
            continue;
        }
        // Certainly overwritten: a later write, sent after this one was acknowledged, was
        // itself acknowledged before the observer asked.
        let superseded = match w.state {
            WriteState::Acked(a) => latest_acked_send.is_some_and(|s| s > a),
            _ => false,
        };
        if superseded {
            continue;
        }
        if slice_of(w).as_deref() == Some(actual) {
            return Ok(());
        }
    }
    if none_acked {
        Err(mismatch("holds data no write produced"))
    } else {
        Err(mismatch(
            "acknowledged data was lost or replaced by invented data",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(v: u8, n: usize) -> Bytes {
        Bytes::from(vec![v; n])
    }

    #[test]
    fn a_size_must_cover_acknowledged_writes_and_stay_within_possible_ones() {
        let mut m = FileModel::new();
        m.create("f", 4);
        m.check_size("f", 0, SimTime(0)).unwrap();
        let w1 = m.write_sent("f", 0, b(1, 8), SimTime(1)).unwrap();
        m.write_acked(w1, SimTime(2));
        let w2 = m.write_sent("f", 8, b(2, 4), SimTime(3)).unwrap();
        // Asked before w1 was acknowledged: 0 and 8 are both possible, and 12 (w2 in flight).
        m.check_size("f", 0, SimTime(1)).unwrap();
        m.check_size("f", 12, SimTime(1)).unwrap();
        // Asked after: w1 must be there.
        assert!(m.check_size("f", 4, SimTime(2)).is_err(), "acked w1 lost");
        m.check_size("f", 8, SimTime(2)).unwrap();
        assert!(m.check_size("f", 16, SimTime(2)).is_err(), "invented");
        m.write_failed(w2);
        assert!(m.check_size("f", 12, SimTime(5)).is_err(), "w2 was refused");
        assert!(m.check_size("g", 0, SimTime(5)).is_err(), "unknown file");
    }

    #[test]
    fn acknowledged_writes_must_survive_and_nothing_is_invented() {
        let mut m = FileModel::new();
        m.create("f", 4);
        let w1 = m.write_sent("f", 0, b(1, 8), SimTime(1)).unwrap();
        m.write_acked(w1, SimTime(2));
        let w2 = m.write_sent("f", 4, b(2, 4), SimTime(3)).unwrap();
        // w2 unknown: block 1 may hold 1s or 2s.
        m.check_final("f", Some(&[1, 1, 1, 1, 1, 1, 1, 1])).unwrap();
        m.check_final("f", Some(&[1, 1, 1, 1, 2, 2, 2, 2])).unwrap();
        assert!(m.check_final("f", Some(&[1, 1, 1, 1, 3, 3, 3, 3])).is_err());
        assert!(
            m.check_final("f", Some(&[1, 1, 1, 1])).is_err(),
            "acked block 1 lost"
        );
        assert!(m.check_final("f", None).is_err());
        m.write_acked(w2, SimTime(4));
        assert!(
            m.check_final("f", Some(&[1, 1, 1, 1, 1, 1, 1, 1])).is_err(),
            "superseded"
        );
        let w3 = m.write_sent("f", 8, b(3, 4), SimTime(5)).unwrap();
        m.write_failed(w3);
        assert!(
            m.check_final("f", Some(&[1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3]))
                .is_err()
        );
        m.check_final("f", Some(&[1, 1, 1, 1, 2, 2, 2, 2, 0, 0, 0, 0]))
            .unwrap();
        assert!(m.write_sent("f", 1, b(1, 4), SimTime(6)).is_err());
        assert!(m.write_sent("g", 0, b(1, 4), SimTime(6)).is_err());
        assert_eq!(m.counts(), (3, 2));
    }

    #[test]
    fn reads_see_what_was_acknowledged_before_they_were_sent() {
        let mut m = FileModel::new();
        m.create("f", 2);
        let w1 = m.write_sent("f", 0, b(1, 2), SimTime(1)).unwrap();
        // A read sent before the ack may see nothing.
        m.check_read("f", 0, 2, &[], SimTime(1)).unwrap();
        m.write_acked(w1, SimTime(2));
        m.check_read("f", 0, 2, &[], SimTime(1)).unwrap();
        assert!(m.check_read("f", 0, 2, &[], SimTime(3)).is_err());
        m.check_read("f", 0, 2, &[1, 1], SimTime(3)).unwrap();
        assert!(m.check_read("f", 0, 2, &[1, 9], SimTime(3)).is_err());
    }
}
