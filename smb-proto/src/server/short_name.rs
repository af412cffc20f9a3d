//! 8.3 short names (MS-FSCC 2.1.5.2.1), generated deterministically from the long name.
//!
//! Owns: whether a name is a valid 8.3 name ([`is_8_3`]), the short name reported for any long
//! name ([`alternate_name`], FileAlternateNameInformation) and the ShortName field of the
//! directory classes that carry one ([`directory_short_name`]). Both backends call these, so a
//! file's short name is the same in every class and on every query.
//!
//! A name that is already 8.3 is its own short name, upper-cased (as FAT and NTFS report it);
//! directory listings leave ShortName empty for it. Any other name is mangled like NTFS's
//! hashed form: the first two usable characters of the base name, four hex digits of a hash of
//! the whole (upper-cased) name, `~1`, and the first three usable characters of the last
//! extension, e.g. `LongFileName.text` -> `LOxxxx~1.TEX`. Nothing is stored, so two long names
//! in one directory may (with probability about 1/65536 when their first two characters agree)
//! get the same short name. Both backends resolve a path component that names nothing as
//! spelled and [`is_mangled`] to the entry (not itself 8.3) whose short name it is, compared
//! without regard to case; of several, the smallest long name. A short name names nothing once
//! its file is gone (smbd remembers deleted files' short names; we do not).
//! Must not: touch any file system.

/// The characters besides ASCII letters and digits an 8.3 name may hold (MS-FSCC 2.1.5.2.1).
const PUNCTUATION: &str = "$%'-_@~`!(){}^#&";

fn usable(c: char) -> bool {
    c.is_ascii_alphanumeric() || PUNCTUATION.contains(c)
}

/// Whether `name` is a valid 8.3 name: 1 to 8 characters, optionally a dot and 1 to 3 more,
/// all letters, digits or the DOS punctuation `$%'-_@~`!(){}^#&`.
pub fn is_8_3(name: &str) -> bool {
    let ok = |part: &str, max: usize| (1..=max).contains(&part.len()) && part.chars().all(usable);
    match name.split_once('.') {
        Some((base, ext)) => ok(base, 8) && ok(ext, 3),
        None => ok(name, 8),
    }
}

/// Whether `name` has the shape of a generated short name: 8.3 with a `~` in it.
pub fn is_mangled(name: &str) -> bool {
    is_8_3(name) && name.contains('~')
}

/// Whether `short` is the short name generated for `long` (a name that is not itself 8.3),
/// compared without regard to case as FAT and NTFS compare short names.
pub fn names(short: &str, long: &str) -> bool {
    !is_8_3(long) && alternate_name(long).eq_ignore_ascii_case(short)
}

/// FNV-1a over the upper-cased name's UTF-16 code units, folded to 16 bits.
fn hash16(name: &str) -> u16 {
    let mut h: u32 = 0x811c_9dc5;
    for unit in name.to_uppercase().encode_utf16() {
        for b in unit.to_le_bytes() {
            h ^= u32::from(b);
            h = h.wrapping_mul(0x0100_0193);
        }
    }
    ((h >> 16) ^ (h & 0xffff)) as u16
}

/// The name's 8.3 short name: itself upper-cased when it is already 8.3, else its mangled
/// form. `.` and `..` have none (empty).
pub fn alternate_name(name: &str) -> String {
    if name == "." || name == ".." || name.is_empty() {
        return String::new();
    }
    if is_8_3(name) {
        return name.to_ascii_uppercase();
    }
    let trimmed = name.trim_start_matches('.');
    let (base, ext) = match trimmed.rsplit_once('.') {
        Some((b, e)) => (b, e),
        None => (trimmed, ""),
    };
    let clean = |s: &str, n: usize| -> String {
        s.chars()
            .filter(|c| *c != ' ' && *c != '.')
            .map(|c| {
                if usable(c) {
                    c.to_ascii_uppercase()
                } else {
                    '_'
                }
            })
            .take(n)
            .collect()
    };
    let mut short = clean(base, 2);
    if short.is_empty() {
        short.push('_');
    }
    short.push_str(&format!("{:04X}~1", hash16(name)));
    let ext = clean(ext, 3);
    if !ext.is_empty() {
        short.push('.');
        short.push_str(&ext);
    }
    short
}

/// The ShortName of a directory entry (FileBothDirectoryInformation,
/// FileIdBothDirectoryInformation): empty for a name that is already 8.3, else the mangled
/// name [`alternate_name`] reports.
pub fn directory_short_name(name: &str) -> String {
    if is_8_3(name) {
        String::new()
    } else {
        alternate_name(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names_that_fit_8_3_are_their_own_short_name() {
        assert_eq!(alternate_name("bufsize.txt"), "BUFSIZE.TXT");
        assert_eq!(alternate_name("README"), "README");
        assert_eq!(directory_short_name("README"), "");
        for long in [
            "longername.txt",
            "a.text",
            "a.b.c",
            "with space",
            ".hidden",
            "ü.txt",
        ] {
            assert!(!is_8_3(long), "{long}");
        }
        assert_eq!(alternate_name("."), "");
        assert_eq!(alternate_name(".."), "");
    }

    #[test]
    fn long_names_are_mangled_with_their_hash() {
        let s = alternate_name("LongFileName.text");
        assert_eq!(s.len(), 12);
        assert!(s.starts_with("LO") && s.ends_with("~1.TEX"), "{s}");
        assert_eq!(s, alternate_name("LONGFILENAME.TEXT"));
        assert_ne!(s, alternate_name("LongFileName2.text"));
        assert_eq!(directory_short_name("LongFileName.text"), s);
        let h = alternate_name(".hidden");
        assert!(
            h.starts_with("HI") && h.ends_with("~1") && h.len() == 8,
            "{h}"
        );
        let odd = alternate_name("a+b c.d=e");
        assert!(odd.starts_with("A_") && odd.ends_with("~1.D_E"), "{odd}");
        assert!(alternate_name("ééé").starts_with('_'));
    }

    proptest! {
        /// Every short name is itself a valid 8.3 name and stable.
        #[test]
        fn short_names_are_valid_8_3(name in "[^/\\\\]{1,40}") {
            let s = alternate_name(&name);
            if name != "." && name != ".." {
                prop_assert!(is_8_3(&s), "{:?} -> {:?}", name, s);
            }
            prop_assert_eq!(&s, &alternate_name(&name));
            let d = directory_short_name(&name);
            prop_assert!(d.is_empty() || d == s);
        }
    }

    #[test]
    fn mangled_names_and_what_they_name() {
        assert!(is_mangled("AB12CD~1.TXT"));
        assert!(is_mangled("ab12cd~1"));
        assert!(!is_mangled("PLAIN.TXT"), "8.3 without a tilde");
        assert!(!is_mangled("A Long~Name.txt"), "not 8.3");
        let long = "LongFileName.text";
        assert!(names(&alternate_name(long), long));
        assert!(names(&alternate_name(long).to_lowercase(), long));
        assert!(
            !names("SHORT.TXT", "short.txt"),
            "an 8.3 name has no other short name"
        );
        // Another hash is another name.
        let mut other: Vec<char> = alternate_name(long).chars().collect();
        other[2] = if other[2] == '0' { '1' } else { '0' };
        assert!(!names(&other.into_iter().collect::<String>(), long));
    }
}
