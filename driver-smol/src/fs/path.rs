//! SMB path names: parsing and validation of the name a CREATE carries (MS-FSCC 2.1.5).
//!
//! This module owns the lexical rules only: it turns the UTF-16-decoded, backslash-separated name
//! relative to the share root into an [`SmbPath`] of validated components, or refuses it with a
//! [`PathError`]. It must not touch the file system; confinement against symlinks and races is the
//! job of [`crate::fs::Root`], which never receives anything but an `SmbPath`.
//!
//! Decisions, each stricter than or equal to what Windows accepts:
//! - `\` is the only separator (MS-FSCC 2.1.5). `/` is not a separator on SMB and would be one on
//!   the Unix backend, so it is refused as an invalid character.
//! - A leading `\` is refused (MS-SMB2 3.3.5.9: the name is relative to the share and must not
//!   start with a separator). This also refuses `\\?\C:\` and `\\server\share`.
//! - `.` and `..` components are refused, never normalised: a server that resolves `..` lexically
//!   invites off-by-one escapes, and clients do not send them.
//! - Empty components (`a\\b`, a trailing `\`) are refused.
//! - Characters 0x00-0x1F and `" * / : < > ? \ |` are invalid in a component (MS-FSCC 2.1.5.2).
//!   A `:` gets its own error: it is the alternate-data-stream syntax (`file:stream`,
//!   `file::$DATA`), and this backend does not support streams.
//! - A component ending in `.` or ` ` is refused: Windows strips such trailing characters, so
//!   `a.` and `a` name the same file for a Windows client; storing `a.` on Linux would create a
//!   name that a Windows client can neither open nor delete, and would alias names.
//! - DOS device names (`CON`, `PRN`, `AUX`, `NUL`, `COM0`-`COM9`, `LPT0`-`LPT9`, their superscript
//!   digit forms, `CONIN$`, `CONOUT$`), with or without an extension and in any case, are refused:
//!   a Windows client cannot use a file with such a name, and the issue lists them as refused.
//! - A component is at most 255 bytes of UTF-8 (Linux NAME_MAX; MS-FSCC allows 255 UTF-16 units,
//!   and 255 bytes is the stricter bound for non-ASCII names). The whole path is at most 4095 bytes
//!   of UTF-8, so that it fits Linux PATH_MAX; that also bounds it well under MS-FSCC's 32,767
//!   UTF-16 units.
//! - Names are case-sensitive, as the Linux file system is.
//! - Any other Unicode is accepted as is, including lookalikes such as U+2215 DIVISION SLASH or
//!   U+FF0E FULLWIDTH FULL STOP: they are ordinary characters to Linux and cannot act as
//!   separators or dots.

use std::fmt;

use super::status;

/// Maximum bytes of UTF-8 in one component (Linux NAME_MAX).
pub const MAX_COMPONENT_BYTES: usize = 255;

/// Maximum bytes of UTF-8 in a whole path (Linux PATH_MAX less the terminating NUL).
pub const MAX_PATH_BYTES: usize = 4095;

/// Why a path name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// The name starts with `\` (absolute, UNC or `\\?\` forms); MS-SMB2 3.3.5.9.
    #[error("path starts with a separator")]
    LeadingSeparator,
    /// The first component is a drive prefix such as `C:`.
    #[error("drive-letter prefix")]
    DrivePrefix,
    /// A `..` component.
    #[error("`..` component")]
    DotDot,
    /// A `.` component.
    #[error("`.` component")]
    Dot,
    /// An empty component: two separators in a row or a trailing separator.
    #[error("empty path component")]
    EmptyComponent,
    /// A `:`: the alternate-data-stream syntax, which this backend does not support.
    #[error("named streams are not supported")]
    StreamsNotSupported,
    /// A control character (0x00-0x1F), NUL included.
    #[error("control character {0:#04x} in name")]
    ControlCharacter(u32),
    /// One of `" * / < > ? |`, invalid in names (MS-FSCC 2.1.5.2).
    #[error("invalid character {0:?} in name")]
    InvalidCharacter(char),
    /// A component ends in `.` or a space, which Windows would strip.
    #[error("component ends in a dot or a space")]
    TrailingDotOrSpace,
    /// A DOS device name such as `CON` or `lpt1.txt`.
    #[error("reserved device name")]
    ReservedName,
    /// A component longer than [`MAX_COMPONENT_BYTES`].
    #[error("component longer than {MAX_COMPONENT_BYTES} bytes")]
    ComponentTooLong,
    /// The whole path is longer than [`MAX_PATH_BYTES`].
    #[error("path longer than {MAX_PATH_BYTES} bytes")]
    PathTooLong,
}

impl PathError {
    /// The NTSTATUS (MS-ERREF 2.3.1) a server answers with.
    pub fn nt_status(&self) -> u32 {
        match self {
            Self::LeadingSeparator => status::INVALID_PARAMETER,
            Self::DotDot | Self::DrivePrefix => status::OBJECT_PATH_SYNTAX_BAD,
            Self::PathTooLong => status::NAME_TOO_LONG,
            Self::Dot
            | Self::EmptyComponent
            | Self::StreamsNotSupported
            | Self::ControlCharacter(_)
            | Self::InvalidCharacter(_)
            | Self::TrailingDotOrSpace
            | Self::ReservedName
            | Self::ComponentTooLong => status::OBJECT_NAME_INVALID,
        }
    }
}

/// A validated path relative to the share root: zero components is the root itself.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct SmbPath {
    components: Vec<String>,
}

impl SmbPath {
    /// The share root.
    pub fn root() -> Self {
        Self::default()
    }

    /// Parses and validates a CREATE name (backslash-separated, relative to the share root; empty
    /// for the root).
    pub fn parse(name: &str) -> Result<Self, PathError> {
        if name.len() > MAX_PATH_BYTES {
            return Err(PathError::PathTooLong);
        }
        if name.is_empty() {
            return Ok(Self::root());
        }
        if name.starts_with('\\') {
            return Err(PathError::LeadingSeparator);
        }
        let mut components = Vec::new();
        for (i, component) in name.split('\\').enumerate() {
            if i == 0 && is_drive_prefix(component) {
                return Err(PathError::DrivePrefix);
            }
            validate_component(component)?;
            components.push(component.to_owned());
        }
        Ok(Self { components })
    }

    /// True for the share root.
    pub fn is_root(&self) -> bool {
        self.components.is_empty()
    }

    /// The validated components, outermost first.
    pub fn components(&self) -> impl ExactSizeIterator<Item = &str> {
        self.components.iter().map(String::as_str)
    }

    /// The last component, or `None` for the root.
    pub fn file_name(&self) -> Option<&str> {
        self.components.last().map(String::as_str)
    }

    /// The containing directory, or `None` for the root.
    pub fn parent(&self) -> Option<SmbPath> {
        let (_, init) = self.components.split_last()?;
        Some(Self {
            components: init.to_vec(),
        })
    }

    /// This path with one more component, validated like any other.
    pub fn join(&self, name: &str) -> Result<SmbPath, PathError> {
        validate_component(name)?;
        let mut components = self.components.clone();
        components.push(name.to_owned());
        let joined = Self { components };
        if joined.unix_len() > MAX_PATH_BYTES {
            return Err(PathError::PathTooLong);
        }
        Ok(joined)
    }

    /// The path relative to the root in Unix form (`a/b`), or `.` for the root.
    pub fn to_unix(&self) -> String {
        if self.is_root() {
            ".".to_owned()
        } else {
            self.components.join("/")
        }
    }

    fn unix_len(&self) -> usize {
        let bytes: usize = self.components.iter().map(String::len).sum();
        bytes + self.components.len().saturating_sub(1)
    }
}

impl fmt::Display for SmbPath {
    /// The SMB form, backslash-separated, empty for the root.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.components.join("\\"))
    }
}

impl std::str::FromStr for SmbPath {
    type Err = PathError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Validates one name component (no separators) against the rules in the module docs.
pub fn validate_component(component: &str) -> Result<(), PathError> {
    match component {
        "" => return Err(PathError::EmptyComponent),
        "." => return Err(PathError::Dot),
        ".." => return Err(PathError::DotDot),
        _ => {}
    }
    if component.len() > MAX_COMPONENT_BYTES {
        return Err(PathError::ComponentTooLong);
    }
    for c in component.chars() {
        match c {
            '\0'..='\u{1f}' => return Err(PathError::ControlCharacter(u32::from(c))),
            ':' => return Err(PathError::StreamsNotSupported),
            '\\' | '/' | '"' | '*' | '<' | '>' | '?' | '|' => {
                return Err(PathError::InvalidCharacter(c));
            }
            _ => {}
        }
    }
    if component.ends_with(['.', ' ']) {
        return Err(PathError::TrailingDotOrSpace);
    }
    if is_reserved_device_name(component) {
        return Err(PathError::ReservedName);
    }
    Ok(())
}

/// Exactly `X:`: a DOS drive prefix (`C:\x` splits into `C:` and `x`). `C:x` is left to the
/// character rules, which refuse it as stream syntax (it names stream `x` of a file `C`).
fn is_drive_prefix(component: &str) -> bool {
    let mut chars = component.chars();
    matches!(
        (chars.next(), chars.next(), chars.next()),
        (Some(letter), Some(':'), None) if letter.is_ascii_alphabetic()
    )
}

/// DOS device names, matched on the part before the first dot, ignoring ASCII case and trailing
/// spaces before the dot (Windows treats `CON .txt` as `CON`).
fn is_reserved_device_name(component: &str) -> bool {
    let base = component.split('.').next().unwrap_or(component);
    let base = base.trim_end_matches(' ').to_ascii_uppercase();
    match base.as_str() {
        "CON" | "PRN" | "AUX" | "NUL" | "CONIN$" | "CONOUT$" => true,
        _ => {
            let Some(rest) = base
                .strip_prefix("COM")
                .or_else(|| base.strip_prefix("LPT"))
            else {
                return false;
            };
            let mut chars = rest.chars();
            matches!(
                (chars.next(), chars.next()),
                (Some('0'..='9' | '\u{b9}' | '\u{b2}' | '\u{b3}'), None)
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_names_parse_into_components() {
        let p = SmbPath::parse("dir\\sub\\file.txt").unwrap();
        assert_eq!(
            p.components().collect::<Vec<_>>(),
            ["dir", "sub", "file.txt"]
        );
        assert_eq!(p.to_unix(), "dir/sub/file.txt");
        assert_eq!(p.to_string(), "dir\\sub\\file.txt");
        assert_eq!(p.file_name(), Some("file.txt"));
        assert_eq!(p.parent().unwrap().to_unix(), "dir/sub");
    }

    #[test]
    fn empty_name_is_the_root() {
        let p = SmbPath::parse("").unwrap();
        assert!(p.is_root());
        assert_eq!(p.to_unix(), ".");
        assert_eq!(p.parent(), None);
        assert_eq!(p.file_name(), None);
    }

    #[test]
    fn each_rule_has_its_error() {
        let cases: &[(&str, PathError)] = &[
            ("\\a", PathError::LeadingSeparator),
            ("C:\\x", PathError::DrivePrefix),
            ("c:", PathError::DrivePrefix),
            ("a\\..", PathError::DotDot),
            ("a\\.\\b", PathError::Dot),
            ("a\\\\b", PathError::EmptyComponent),
            ("a\\", PathError::EmptyComponent),
            ("f:s", PathError::StreamsNotSupported),
            ("a\u{0}b", PathError::ControlCharacter(0)),
            ("a\u{1f}", PathError::ControlCharacter(0x1f)),
            ("a/b", PathError::InvalidCharacter('/')),
            ("a*", PathError::InvalidCharacter('*')),
            ("a.", PathError::TrailingDotOrSpace),
            ("a ", PathError::TrailingDotOrSpace),
            ("...", PathError::TrailingDotOrSpace),
            ("con", PathError::ReservedName),
            ("Lpt1.txt", PathError::ReservedName),
            ("COM\u{b9}", PathError::ReservedName),
            ("CON .txt", PathError::ReservedName),
        ];
        for (name, want) in cases {
            assert_eq!(SmbPath::parse(name).as_ref(), Err(want), "{name:?}");
        }
    }

    #[test]
    fn near_reserved_names_are_fine() {
        for name in ["CONSOLE", "COM10", "LPT", "nul_", "auxiliary.txt", "xCON"] {
            assert!(SmbPath::parse(name).is_ok(), "{name:?}");
        }
    }

    #[test]
    fn length_bounds_are_exact() {
        let max = "a".repeat(MAX_COMPONENT_BYTES);
        assert!(SmbPath::parse(&max).is_ok());
        let over = "a".repeat(MAX_COMPONENT_BYTES + 1);
        assert_eq!(SmbPath::parse(&over), Err(PathError::ComponentTooLong));
        // 128 x 'é' is 256 bytes of UTF-8 but only 128 UTF-16 units: refused (NAME_MAX).
        assert_eq!(
            SmbPath::parse(&"é".repeat(128)),
            Err(PathError::ComponentTooLong)
        );
        let long = vec!["b".repeat(200); 21].join("\\");
        assert_eq!(SmbPath::parse(&long), Err(PathError::PathTooLong));
        let fits = vec!["b".repeat(200); 20].join("\\");
        assert!(SmbPath::parse(&fits).is_ok());
    }

    #[test]
    fn join_validates_and_bounds() {
        let root = SmbPath::root();
        assert_eq!(root.join("..").unwrap_err(), PathError::DotDot);
        assert_eq!(
            root.join("a\\b").unwrap_err(),
            PathError::InvalidCharacter('\\')
        );
        let deep = SmbPath::parse(&vec!["c".repeat(200); 20].join("\\")).unwrap();
        assert_eq!(
            deep.join(&"d".repeat(200)).unwrap_err(),
            PathError::PathTooLong
        );
        assert_eq!(root.join("x").unwrap().to_unix(), "x");
    }

    #[test]
    fn every_error_maps_to_an_error_status() {
        for e in [
            PathError::LeadingSeparator,
            PathError::DotDot,
            PathError::PathTooLong,
            PathError::StreamsNotSupported,
        ] {
            assert_eq!(e.nt_status() & 0xC000_0000, 0xC000_0000);
        }
        assert_eq!(
            PathError::DotDot.nt_status(),
            status::OBJECT_PATH_SYNTAX_BAD
        );
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            /// Any input either is refused or yields components free of separators, dots-only
            /// names and control characters, and survives a Display/parse round trip.
            #[test]
            fn parse_never_panics_and_round_trips(s in "\\PC{0,64}") {
                if let Ok(p) = SmbPath::parse(&s) {
                    for c in p.components() {
                        prop_assert!(!c.is_empty() && c != "." && c != "..");
                        prop_assert!(!c.contains(['/', '\\', '\0', ':']));
                    }
                    prop_assert_eq!(SmbPath::parse(&p.to_string()), Ok(p));
                }
            }
        }
    }
}
