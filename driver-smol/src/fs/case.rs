//! Optional case-insensitive name matching (issue 6: "an option for case-insensitive name
//! matching"), as a translation from the client's spelling to the on-disk spelling.
//!
//! It owns the folding rule and the lookup: each component is first tried exactly (one `statx`),
//! and only on a miss is the directory scanned for a name that folds to the same string; when
//! several do, the smallest in byte order wins, so the choice is deterministic. A component with
//! no match is kept as the client spelled it (so a create makes that spelling), and so is the rest
//! of the path after it.
//!
//! It must not weaken confinement and does not need to: it only produces names that were read
//! from a directory and pass the SMB name rules, and the translated path is then resolved by the
//! normal confined resolver like any other. A rename or delete racing the translation can at
//! worst make the operation fail or hit another name inside the root.
//!
//! Folding: per character, the Unicode lowercase mapping when it is a single character, else the
//! character itself (a simple case folding, close to NTFS's upcase table, which never changes the
//! length: `ß` does not match `SS`).
//!
//! The same translation resolves 8.3 short names, on every share: a component that is a mangled
//! short name and names nothing as spelled names the entry whose generated short name it is
//! (`smb_proto::server::short_name`, which memfs uses too).

use std::mem::MaybeUninit;

use rustix::fd::{AsFd, BorrowedFd};
use rustix::fs::{Mode, OFlags, RawDir};

use smb_proto::server::short_name;

use super::error::{FsError, FsResult};
use super::path::{SmbPath, validate_component};
use super::resolve::{self, Strategy};

/// Size of the getdents buffer used by the scan.
const GETDENTS_BUF: usize = 32 * 1024;

/// The folded form two names are compared by.
pub(crate) fn fold(name: &str) -> String {
    name.chars()
        .map(|c| {
            let mut lower = c.to_lowercase();
            match (lower.next(), lower.next()) {
                (Some(l), None) => l,
                _ => c,
            }
        })
        .collect()
}

/// Whether any component of `path` could be a short name (`short_name::is_mangled`).
pub(crate) fn has_mangled(path: &SmbPath) -> bool {
    path.components().any(short_name::is_mangled)
}

/// The on-disk spelling of `name` in the directory `dir`: itself if it exists exactly, else
/// (with `fold_case`) the smallest valid name that folds the same, else, when `name` is a
/// mangled short name, the smallest valid long name whose short name it is, else `None`.
pub(crate) fn find_match(
    dir: BorrowedFd<'_>,
    name: &str,
    fold_case: bool,
) -> FsResult<Option<String>> {
    match resolve::lstat_kind(dir, name) {
        Ok(_) => return Ok(Some(name.to_owned())),
        Err(FsError::NotFound) => {}
        Err(e) => return Err(e),
    }
    let short = short_name::is_mangled(name);
    if !fold_case && !short {
        return Ok(None);
    }
    let want = fold(name);
    let fd = rustix::fs::openat(
        dir,
        ".",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let mut buf: Vec<MaybeUninit<u8>> = vec![MaybeUninit::uninit(); GETDENTS_BUF];
    let mut iter = RawDir::new(fd.as_fd(), &mut buf);
    let mut best: Option<String> = None;
    let mut by_short_name: Option<String> = None;
    let smallest = |slot: &mut Option<String>, candidate: &str| {
        if slot.as_deref().is_none_or(|b| candidate < b) {
            *slot = Some(candidate.to_owned());
        }
    };
    while let Some(entry) = iter.next() {
        let entry = entry?;
        let Ok(candidate) = entry.file_name().to_str() else {
            continue;
        };
        if validate_component(candidate).is_err() {
            continue;
        }
        if fold_case && fold(candidate) == want {
            smallest(&mut best, candidate);
        } else if short && short_name::names(name, candidate) {
            smallest(&mut by_short_name, candidate);
        }
    }
    Ok(best.or(by_short_name))
}

/// Translates `path` to its on-disk spelling, component by component from the root.
/// With `fold_case` false only short names are translated.
pub(crate) fn canonical(
    root: BorrowedFd<'_>,
    strategy: Strategy,
    path: &SmbPath,
    fold_case: bool,
) -> FsResult<SmbPath> {
    let components: Vec<&str> = path.components().collect();
    let mut out = SmbPath::root();
    let mut dir = resolve::open_beneath(
        root,
        strategy,
        &out,
        OFlags::PATH | OFlags::DIRECTORY,
        Mode::empty(),
    )?;
    for (i, component) in components.iter().enumerate() {
        let found = match find_match(dir.as_fd(), component, fold_case) {
            Ok(found) => found,
            // A directory we cannot read: leave the rest to the real operation to judge.
            Err(FsError::AccessDenied) => None,
            Err(e) => return Err(e),
        };
        let Some(spelling) = found else {
            return append_literal(out, components.get(i..).unwrap_or_default());
        };
        out = out.join(&spelling)?;
        if i + 1 == components.len() {
            break;
        }
        match resolve::open_beneath(
            root,
            strategy,
            &out,
            OFlags::PATH | OFlags::DIRECTORY,
            Mode::empty(),
        ) {
            Ok(next) => dir = next,
            // Not a directory, a link, gone: the real operation reports it.
            Err(_) => {
                return append_literal(out, components.get(i + 1..).unwrap_or_default());
            }
        }
    }
    Ok(out)
}

fn append_literal(mut out: SmbPath, rest: &[&str]) -> FsResult<SmbPath> {
    for component in rest {
        out = out.join(component)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_is_simple_and_length_preserving() {
        assert_eq!(fold("ReadMe.TXT"), "readme.txt");
        assert_eq!(fold("ÉCOLE"), "école");
        assert_eq!(fold("ΣΊΣΥΦΟΣ"), fold("σίσυφοσ"));
        assert_ne!(fold("STRASSE"), fold("straße"));
        // U+0130 lowercases to two characters: kept as is.
        assert_eq!(fold("\u{130}"), "\u{130}");
    }
}
