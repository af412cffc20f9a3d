//! A file's extended attributes (EAs) as the backends keep them, and what QUERY_INFO and
//! SET_INFO FileFullEaInformation do with them (MS-FSCC 2.4.15 / 2.4.16, MS-FSA 2.1.5.11.x
//! FileFullEaInformation query and 2.1.5.14.x set, MS-SMB2 2.2.13.2.1 ExtA, 3.3.5.20.1 and
//! 3.3.5.21.1).
//!
//! Owns: EA name and flag validation with typed errors ([`EaError`]), the canonical form of
//! a stored EA (name upper-cased as Windows keeps it, only FILE_NEED_EA among the flags), the
//! merge of a SET_INFO's or an ExtA context's list into the stored set ([`apply`]: an empty
//! value deletes, the total bounded by [`MAX_TOTAL`]), the EaSize both backends report
//! ([`ea_size`]) and the selection a query returns ([`query`]: all EAs from the open's
//! cursor, or the names asked for; RESTART_SCAN, RETURN_SINGLE_ENTRY; BUFFER_TOO_SMALL /
//! BUFFER_OVERFLOW / NO_MORE_EAS / NO_EAS_ON_FILE).
//!
//! The stored set is always a `Vec<FullEa>` sorted by name with unique, canonical names, so
//! both backends (memfs per file, the local backend in one xattr per EA) hand back the same
//! order. Names are compared case-insensitively over ASCII (Windows upper-cases them with the
//! OEM code page; bytes above 0x7F are kept as they are).
//!
//! Must not: do I/O or check the open's granted access (the engine has checked FILE_READ_EA /
//! FILE_WRITE_EA before the op exists).

use bytes::{Bytes, BytesMut};

use crate::wire::fscc::file::{FileFullEaInformation, FullEa};
use crate::wire::status::NtStatus;

/// FILE_NEED_EA (MS-FSCC 2.4.15): the only flag an EA may carry.
pub const FILE_NEED_EA: u8 = 0x80;

/// The most one file's EAs may take, measured as their FileFullEaInformation list
/// ([`ea_size`]); Windows (NTFS) bounds a file's EAs at 64 KiB as well.
pub const MAX_TOTAL: usize = 65_536;

/// The longest EA name (EaNameLength is one byte).
pub const MAX_NAME_LEN: usize = 255;

/// Why an EA list was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EaError {
    /// An EA has an empty name.
    #[error("EA name is empty")]
    EmptyName,
    /// An EA name is longer than 255 bytes.
    #[error("EA name is {0} bytes long, more than 255")]
    NameTooLong(usize),
    /// An EA name holds a character MS-FSCC 2.4.15 forbids (controls and `"*+,/:;<=>?[\]|`).
    #[error("EA name contains the invalid character {0:#04x}")]
    InvalidName(u8),
    /// An EA has a flag other than FILE_NEED_EA.
    #[error("EA flags {0:#04x} hold more than FILE_NEED_EA")]
    InvalidFlag(u8),
    /// The file's EAs would exceed [`MAX_TOTAL`].
    #[error("the file's EAs would take {0} bytes, more than 65536")]
    TooLarge(usize),
}

impl EaError {
    /// The status SET_INFO or CREATE answers with.
    pub fn status(&self) -> NtStatus {
        match self {
            Self::EmptyName | Self::NameTooLong(_) | Self::InvalidName(_) => {
                NtStatus::INVALID_EA_NAME
            }
            Self::InvalidFlag(_) => NtStatus::INVALID_EA_FLAG,
            Self::TooLarge(_) => NtStatus::EA_TOO_LARGE,
        }
    }
}

/// Whether `c` may appear in an EA name (MS-FSCC 2.4.15: no control characters and none of
/// the characters FAT forbids in names).
fn valid_name_char(c: u8) -> bool {
    c >= 0x20 && !b"\"*+,/:;<=>?[\\]|".contains(&c)
}

/// Checks an EA name and returns its canonical (upper-case) form.
pub fn canonical_name(name: &[u8]) -> Result<Bytes, EaError> {
    if name.is_empty() {
        return Err(EaError::EmptyName);
    }
    if name.len() > MAX_NAME_LEN {
        return Err(EaError::NameTooLong(name.len()));
    }
    if let Some(&c) = name.iter().find(|&&c| !valid_name_char(c)) {
        return Err(EaError::InvalidName(c));
    }
    Ok(Bytes::from(name.to_ascii_uppercase()))
}

/// Validates a SET_INFO FileFullEaInformation list or an ExtA context and returns it in
/// canonical form (names upper-cased), in the order given. An empty value means "delete".
pub fn validate(list: &FileFullEaInformation) -> Result<Vec<FullEa>, EaError> {
    list.entries
        .iter()
        .map(|e| {
            if e.flags & !FILE_NEED_EA != 0 {
                return Err(EaError::InvalidFlag(e.flags));
            }
            Ok(FullEa {
                flags: e.flags,
                name: canonical_name(&e.name)?,
                value: e.value.clone(),
            })
        })
        .collect()
}

/// The size of one EA in a FileFullEaInformation list, before alignment padding.
fn entry_len(e: &FullEa) -> usize {
    8 + e.name.len() + 1 + e.value.len()
}

/// FileEaInformation.EaSize (MS-FSCC 2.4.13) of a stored set: the bytes a
/// FileFullEaInformation list of all of them takes (each entry 4-byte aligned, the last not
/// padded), so a client can size its query buffer from it; 0 without EAs.
pub fn ea_size(stored: &[FullEa]) -> u32 {
    let total = stored
        .iter()
        .map(|e| entry_len(e).next_multiple_of(4))
        .sum::<usize>();
    let last_pad = stored
        .last()
        .map_or(0, |e| entry_len(e).next_multiple_of(4) - entry_len(e));
    u32::try_from(total - last_pad).unwrap_or(u32::MAX)
}

/// Merges `changes` (canonical, from [`validate`]) into `stored` (canonical and sorted):
/// a non-empty value sets the EA, an empty one deletes it (deleting a missing EA is not an
/// error, MS-FSA 2.1.5.14.x). On error `stored` is left as it was.
pub fn apply(stored: &mut Vec<FullEa>, changes: &[FullEa]) -> Result<(), EaError> {
    let mut next = stored.clone();
    for c in changes {
        // Own copies: a value decoded from a request is a slice of its whole frame.
        let c = &FullEa {
            flags: c.flags,
            name: Bytes::copy_from_slice(&c.name),
            value: Bytes::copy_from_slice(&c.value),
        };
        let at = next.binary_search_by(|e| e.name.cmp(&c.name));
        match (at, c.value.is_empty()) {
            (Ok(i), true) => {
                next.remove(i);
            }
            (Err(_), true) => {}
            (Ok(i), false) => next[i] = c.clone(),
            (Err(i), false) => next.insert(i, c.clone()),
        }
    }
    let size = ea_size(&next) as usize;
    if size > MAX_TOTAL {
        return Err(EaError::TooLarge(size));
    }
    *stored = next;
    Ok(())
}

/// What a QUERY_INFO FileFullEaInformation asks for (MS-SMB2 2.2.37).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EaQuery {
    /// The names of the input buffer (FileGetEaInformation), canonical; empty means "all
    /// EAs from the open's cursor".
    pub names: Vec<Bytes>,
    /// SL_RESTART_SCAN: enumerate from the first EA.
    pub restart: bool,
    /// SL_RETURN_SINGLE_ENTRY: at most one EA.
    pub single: bool,
}

/// The answer to a FileFullEaInformation query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EaAnswer {
    /// SUCCESS, or BUFFER_OVERFLOW when only some of the EAs fit.
    pub status: NtStatus,
    /// The FileFullEaInformation list (whole entries only).
    pub data: Bytes,
    /// The open's enumeration cursor after this query (index of the next EA to return).
    pub cursor: usize,
}

/// Answers a FileFullEaInformation query over `stored` (MS-FSA 2.1.5.11.x): with names,
/// those EAs (a missing one is returned with an empty value), the cursor untouched; without,
/// the EAs from `cursor` (0 after RESTART_SCAN), as many as fit in `max_len` bytes (one with
/// RETURN_SINGLE_ENTRY). Errors: NO_EAS_ON_FILE without any EA, NO_MORE_EAS when the cursor
/// is past the last, BUFFER_TOO_SMALL when not even the first entry fits.
pub fn query(
    stored: &[FullEa],
    q: &EaQuery,
    cursor: usize,
    max_len: usize,
) -> Result<EaAnswer, NtStatus> {
    let (items, start): (Vec<FullEa>, Option<usize>) = if q.names.is_empty() {
        if stored.is_empty() {
            return Err(NtStatus::NO_EAS_ON_FILE);
        }
        let start = if q.restart { 0 } else { cursor };
        if start >= stored.len() {
            return Err(NtStatus::NO_MORE_EAS);
        }
        let end = if q.single { start + 1 } else { stored.len() };
        (stored[start..end].to_vec(), Some(start))
    } else {
        let found = q
            .names
            .iter()
            .map(|n| {
                stored
                    .iter()
                    .find(|e| e.name == n)
                    .cloned()
                    .unwrap_or_else(|| FullEa {
                        flags: 0,
                        name: n.clone(),
                        value: Bytes::new(),
                    })
            })
            .take(if q.single { 1 } else { usize::MAX })
            .collect();
        (found, None)
    };
    let mut out = BytesMut::new();
    let list = FileFullEaInformation { entries: items };
    let written = list
        .encode_limited(&mut out, max_len)
        .map_err(|_| NtStatus::INTERNAL_ERROR)?;
    if written == 0 {
        return Err(NtStatus::BUFFER_TOO_SMALL);
    }
    let status = if written < list.entries.len() {
        NtStatus::BUFFER_OVERFLOW
    } else {
        NtStatus::SUCCESS
    };
    Ok(EaAnswer {
        status,
        data: out.freeze(),
        cursor: start.map_or(cursor, |s| s + written),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ea(name: &str, value: &str) -> FullEa {
        FullEa {
            flags: 0,
            name: Bytes::copy_from_slice(name.as_bytes()),
            value: Bytes::copy_from_slice(value.as_bytes()),
        }
    }

    fn list(eas: &[FullEa]) -> FileFullEaInformation {
        FileFullEaInformation {
            entries: eas.to_vec(),
        }
    }

    #[test]
    fn names_are_upper_cased_and_checked() {
        let v = validate(&list(&[ea("eaOne", "v")])).unwrap();
        assert_eq!(&v[0].name[..], b"EAONE");
        for (bad, err) in [
            ("", EaError::EmptyName),
            ("a:b", EaError::InvalidName(b':')),
            ("a*", EaError::InvalidName(b'*')),
            ("tab\t", EaError::InvalidName(b'\t')),
        ] {
            assert_eq!(validate(&list(&[ea(bad, "v")])), Err(err.clone()));
            assert_eq!(err.status(), NtStatus::INVALID_EA_NAME);
        }
        let long = "x".repeat(256);
        assert_eq!(
            validate(&list(&[ea(&long, "v")])),
            Err(EaError::NameTooLong(256))
        );
        let mut flagged = ea("A", "v");
        flagged.flags = 0x01;
        assert_eq!(validate(&list(&[flagged])), Err(EaError::InvalidFlag(0x01)));
        flagged = ea("A", "v");
        flagged.flags = FILE_NEED_EA;
        assert!(validate(&list(&[flagged])).is_ok());
    }

    #[test]
    fn apply_sets_replaces_and_deletes_case_insensitively() {
        let mut stored = Vec::new();
        let set = validate(&list(&[ea("second", "2"), ea("First", "1")])).unwrap();
        apply(&mut stored, &set).unwrap();
        assert_eq!(stored, vec![ea("FIRST", "1"), ea("SECOND", "2")]);
        let change = validate(&list(&[ea("first", "one"), ea("SeCoNd", "")])).unwrap();
        apply(&mut stored, &change).unwrap();
        assert_eq!(stored, vec![ea("FIRST", "one")]);
        // Deleting a missing EA is fine.
        apply(&mut stored, &validate(&list(&[ea("none", "")])).unwrap()).unwrap();
        assert_eq!(stored.len(), 1);
    }

    #[test]
    fn total_size_is_bounded_and_a_refused_change_keeps_the_set() {
        let mut stored = Vec::new();
        let big = "v".repeat(40_000);
        apply(&mut stored, &validate(&list(&[ea("A", &big)])).unwrap()).unwrap();
        let before = stored.clone();
        let err = apply(&mut stored, &validate(&list(&[ea("B", &big)])).unwrap()).unwrap_err();
        assert!(matches!(err, EaError::TooLarge(n) if n > MAX_TOTAL));
        assert_eq!(err.status(), NtStatus::EA_TOO_LARGE);
        assert_eq!(stored, before);
    }

    #[test]
    fn ea_size_is_the_encoded_list_length() {
        let stored = vec![ea("A", "xy"), ea("BC", ""), ea("DEF", "12345")];
        let mut out = BytesMut::new();
        list(&stored).encode_limited(&mut out, usize::MAX).unwrap();
        assert_eq!(ea_size(&stored) as usize, out.len());
        assert_eq!(ea_size(&[]), 0);
    }

    #[test]
    fn query_enumerates_with_the_cursor_and_flags() {
        let stored = vec![ea("A", "1"), ea("B", "2"), ea("C", "3")];
        let all = EaQuery::default();
        let a = query(&stored, &all, 0, 4096).unwrap();
        assert_eq!(a.status, NtStatus::SUCCESS);
        assert_eq!(a.cursor, 3);
        assert_eq!(
            FileFullEaInformation::decode_list(&a.data).unwrap().entries,
            stored
        );
        assert_eq!(query(&stored, &all, 3, 4096), Err(NtStatus::NO_MORE_EAS));
        let restart = EaQuery {
            restart: true,
            single: true,
            ..EaQuery::default()
        };
        let one = query(&stored, &restart, 3, 4096).unwrap();
        assert_eq!(one.cursor, 1);
        assert_eq!(
            FileFullEaInformation::decode_list(&one.data)
                .unwrap()
                .entries,
            vec![ea("A", "1")]
        );
        // Only whole entries: the first two (12 + 11 bytes) fit in 23.
        let part = query(&stored, &all, 0, 23).unwrap();
        assert_eq!(part.status, NtStatus::BUFFER_OVERFLOW);
        assert_eq!(part.cursor, 2);
        assert_eq!(query(&stored, &all, 0, 5), Err(NtStatus::BUFFER_TOO_SMALL));
        assert_eq!(query(&[], &all, 0, 4096), Err(NtStatus::NO_EAS_ON_FILE));
    }

    #[test]
    fn query_by_name_returns_missing_ones_empty() {
        let stored = vec![ea("A", "1"), ea("B", "2")];
        let q = EaQuery {
            names: vec![Bytes::from_static(b"B"), Bytes::from_static(b"Z")],
            ..EaQuery::default()
        };
        let a = query(&stored, &q, 1, 4096).unwrap();
        assert_eq!(a.cursor, 1);
        assert_eq!(
            FileFullEaInformation::decode_list(&a.data).unwrap().entries,
            vec![ea("B", "2"), ea("Z", "")]
        );
        // Names work on a file without EAs too.
        assert!(query(&[], &q, 0, 4096).is_ok());
    }
}
