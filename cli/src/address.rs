//! Parsing of the addresses the `smb` command accepts.
//!
//! Owns: [`Address`] and its three spellings: `smb://[USER[:PASS]@]HOST[:PORT]/SHARE[/PATH]`,
//! `//HOST/SHARE/PATH` and `\\HOST\SHARE\PATH` (the last two may carry `USER@` and `:PORT`
//! too). IPv6 literals go in brackets (`[::1]`, as RFC 3986 says). `%XX` escapes are decoded in
//! the `smb://` form only (a UNC path is taken literally).
//! Must not: resolve names or connect (see `commands`).

use std::fmt;

/// Why an address could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    /// Not one of the three accepted forms.
    #[error(
        "{0:?} is not an SMB address: use smb://[USER@]HOST[:PORT]/SHARE/PATH, //HOST/SHARE/PATH or \\\\HOST\\SHARE\\PATH"
    )]
    Form(String),
    /// The host part is empty.
    #[error("{0:?} has no host name")]
    MissingHost(String),
    /// No share name follows the host.
    #[error("{0:?} has no share name after the host")]
    MissingShare(String),
    /// The port is not a number from 1 to 65535.
    #[error("{0:?} has an invalid port {1:?}: it must be a number from 1 to 65535")]
    Port(String, String),
    /// An IPv6 literal without brackets, or an unclosed bracket.
    #[error("{0:?}: write an IPv6 address in brackets, like smb://[::1]/share")]
    Ipv6(String),
    /// A `%XX` escape that is not valid hex or does not decode to UTF-8.
    #[error("{0:?} has a bad %-escape")]
    Escape(String),
    /// A user name given as `@` with nothing before it.
    #[error("{0:?} has an empty user name before '@'")]
    EmptyUser(String),
}

/// A parsed address: where the server is, which share, and the path inside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// The user name, if the address carries one (`USER@HOST`).
    pub user: Option<String>,
    /// The password, if an `smb://USER:PASS@` address carries one.
    pub password: Option<String>,
    /// A host name or an IP literal (IPv6 without its brackets).
    pub host: String,
    /// The port, if given.
    pub port: Option<u16>,
    /// The share name.
    pub share: String,
    /// The path inside the share, components joined with `/`, no leading or trailing `/`
    /// (empty: the share root).
    pub path: String,
    /// Whether the address ended with a separator (`.../dir/`): the target is a directory.
    pub trailing_separator: bool,
}

impl Address {
    /// Parses any of the three forms.
    pub fn parse(input: &str) -> Result<Address, AddressError> {
        let form = || AddressError::Form(input.to_string());
        let (rest, url) = if let Some(scheme_end) = input.find("://") {
            let scheme = &input[..scheme_end];
            if !scheme.eq_ignore_ascii_case("smb") {
                return Err(form());
            }
            (&input[scheme_end + 3..], true)
        } else if let Some(r) = input
            .strip_prefix("//")
            .or_else(|| input.strip_prefix("\\\\"))
        {
            (r, false)
        } else {
            return Err(form());
        };
        let is_sep = |c: char| c == '/' || (!url && c == '\\');
        let (authority, tail) = match rest.find(is_sep) {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, ""),
        };
        let (userinfo, hostport) = match authority.rfind('@') {
            Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
            None => (None, authority),
        };
        let decode = |s: &str| -> Result<String, AddressError> {
            if url {
                percent_decode(s).ok_or_else(|| AddressError::Escape(input.to_string()))
            } else {
                Ok(s.to_string())
            }
        };
        let (user, password) = match userinfo {
            None => (None, None),
            Some("") => return Err(AddressError::EmptyUser(input.to_string())),
            Some(u) => match u.split_once(':') {
                Some((name, pass)) if url => (Some(decode(name)?), Some(decode(pass)?)),
                _ => (Some(decode(u)?), None),
            },
        };
        if user.as_deref() == Some("") {
            return Err(AddressError::EmptyUser(input.to_string()));
        }
        let (host, port) = split_host_port(input, hostport)?;
        if host.is_empty() {
            return Err(AddressError::MissingHost(input.to_string()));
        }
        let mut parts = tail.split(is_sep).filter(|p| !p.is_empty() && *p != ".");
        let share = match parts.next() {
            Some(s) => decode(s)?,
            None => return Err(AddressError::MissingShare(input.to_string())),
        };
        let path = parts.map(decode).collect::<Result<Vec<_>, _>>()?.join("/");
        let trailing_separator = !path.is_empty() && tail.ends_with(is_sep);
        Ok(Address {
            user,
            password,
            host: host.to_string(),
            port,
            share,
            path,
            trailing_separator,
        })
    }

    /// Parses a server address for commands that need no share (`smb shares smb://HOST`):
    /// the share is `IPC$` when none is given.
    pub fn parse_server(input: &str) -> Result<Address, AddressError> {
        match Address::parse(input) {
            Err(AddressError::MissingShare(_)) => {
                let sep = if input.contains('\\') && !input.contains("://") {
                    "\\"
                } else {
                    "/"
                };
                Address::parse(&format!("{}{sep}IPC$", input.trim_end_matches(['/', '\\'])))
                    .map_err(|_| AddressError::MissingShare(input.to_string()))
            }
            r => r,
        }
    }

    /// The same server and share with another path.
    pub fn with_path(&self, path: &str) -> Address {
        Address {
            path: path.trim_matches('/').to_string(),
            trailing_separator: false,
            ..self.clone()
        }
    }

    /// Whether `other` names the same server and share (for `mv`).
    pub fn same_share(&self, other: &Address) -> bool {
        self.host.eq_ignore_ascii_case(&other.host)
            && self.port == other.port
            && self.share.eq_ignore_ascii_case(&other.share)
    }

    /// The last path component (empty for the share root).
    pub fn file_name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or("")
    }
}

impl fmt::Display for Address {
    /// `\\HOST\SHARE\PATH`, the form Windows shows (without credentials).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\\\\{}", self.host)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        write!(f, "\\{}", self.share)?;
        for part in self.path.split('/').filter(|p| !p.is_empty()) {
            write!(f, "\\{part}")?;
        }
        Ok(())
    }
}

fn split_host_port<'a>(
    input: &str,
    hostport: &'a str,
) -> Result<(&'a str, Option<u16>), AddressError> {
    let (host, port) = if let Some(inner) = hostport.strip_prefix('[') {
        let close = inner
            .find(']')
            .ok_or_else(|| AddressError::Ipv6(input.to_string()))?;
        let host = &inner[..close];
        let after = &inner[close + 1..];
        let port = match after {
            "" => None,
            p => match p.strip_prefix(':') {
                Some(p) => Some(p),
                None => return Err(AddressError::Ipv6(input.to_string())),
            },
        };
        if host.is_empty() {
            return Err(AddressError::MissingHost(input.to_string()));
        }
        (host, port)
    } else {
        match hostport.matches(':').count() {
            0 => (hostport, None),
            1 => {
                let (h, p) = hostport.split_once(':').unwrap_or((hostport, ""));
                (h, Some(p))
            }
            _ => return Err(AddressError::Ipv6(input.to_string())),
        }
    };
    if host.contains(['[', ']']) {
        return Err(AddressError::Ipv6(input.to_string()));
    }
    let port = match port {
        None => None,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 && p.bytes().all(|b| b.is_ascii_digit()) => Some(n),
            _ => return Err(AddressError::Port(input.to_string(), p.to_string())),
        },
    };
    Ok((host, port))
}

/// Decodes `%XX` escapes; `None` when an escape is malformed or the result is not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Whether a command-line argument looks like an SMB address rather than a local path.
pub fn looks_like_address(s: &str) -> bool {
    s.starts_with("//")
        || s.starts_with("\\\\")
        || s.get(..6).is_some_and(|p| p.eq_ignore_ascii_case("smb://"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> Address {
        Address::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn server_addresses_need_no_share() {
        for (input, host, port) in [
            ("smb://h", "h", None),
            ("smb://u@h:4445/", "h", Some(4445)),
            ("//h", "h", None),
            ("\\\\h\\", "h", None),
            ("smb://[::1]:1", "::1", Some(1)),
        ] {
            let a = Address::parse_server(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(
                (a.host.as_str(), a.port, a.share.as_str()),
                (host, port, "IPC$")
            );
        }
        assert_eq!(Address::parse_server("smb://h/data").unwrap().share, "data");
        for bad in ["", "h", "smb://", "http://h"] {
            assert!(Address::parse_server(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn url_form() {
        let a = ok("smb://alice@files.example:4445/docs/a/b.txt");
        assert_eq!(a.user.as_deref(), Some("alice"));
        assert_eq!(a.password, None);
        assert_eq!(a.host, "files.example");
        assert_eq!(a.port, Some(4445));
        assert_eq!(a.share, "docs");
        assert_eq!(a.path, "a/b.txt");
        assert_eq!(a.file_name(), "b.txt");
        assert!(!a.trailing_separator);
        assert_eq!(a.to_string(), "\\\\files.example:4445\\docs\\a\\b.txt");

        let a = ok("SMB://host/share");
        assert_eq!((a.user, a.port, a.path.as_str()), (None, None, ""));
        let a = ok("smb://host/share/");
        assert_eq!(a.path, "");
        let a = ok("smb://host/share/dir/");
        assert_eq!(a.path, "dir");
        assert!(a.trailing_separator);
        let a = ok("smb://bob:s%40cret@host/my%20share/x%2Fy");
        assert_eq!(a.user.as_deref(), Some("bob"));
        assert_eq!(a.password.as_deref(), Some("s@cret"));
        assert_eq!(a.share, "my share");
        assert_eq!(a.path, "x/y");
        // In a URL a backslash is part of a name, not a separator.
        let a = ok("smb://DOM\\bob@host/share");
        assert_eq!(a.user.as_deref(), Some("DOM\\bob"));
    }

    #[test]
    fn unc_forms() {
        for s in [
            "//host/share/dir/file.txt",
            "\\\\host\\share\\dir\\file.txt",
            "\\\\host/share\\dir/file.txt",
        ] {
            let a = ok(s);
            assert_eq!(a.host, "host", "{s}");
            assert_eq!(a.share, "share", "{s}");
            assert_eq!(a.path, "dir/file.txt", "{s}");
            assert_eq!(a.port, None);
            assert_eq!(a.user, None);
        }
        let a = ok("//carol@10.0.0.5:1445/s");
        assert_eq!(a.user.as_deref(), Some("carol"));
        assert_eq!(a.host, "10.0.0.5");
        assert_eq!(a.port, Some(1445));
        // UNC paths are literal: no %-decoding.
        assert_eq!(ok("//h/s/100%").path, "100%");
        // `.` components and doubled separators vanish.
        assert_eq!(ok("//h/s/./a//b/").path, "a/b");
    }

    #[test]
    fn ipv6_needs_brackets() {
        let a = ok("smb://[::1]/share/x");
        assert_eq!(a.host, "::1");
        assert_eq!(a.port, None);
        let a = ok("smb://u@[fe80::1]:4445/share");
        assert_eq!(a.host, "fe80::1");
        assert_eq!(a.port, Some(4445));
        let a = ok("\\\\[::1]:445\\share");
        assert_eq!((a.host.as_str(), a.port), ("::1", Some(445)));
        assert_eq!(a.to_string(), "\\\\::1:445\\share");
        for bad in [
            "smb://::1/share",
            "smb://[::1/share",
            "smb://[::1]x/share",
            "//[]/s",
        ] {
            let e = Address::parse(bad).expect_err(bad);
            assert!(
                matches!(e, AddressError::Ipv6(_) | AddressError::MissingHost(_)),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn ports_are_checked() {
        assert_eq!(ok("smb://h:1/s").port, Some(1));
        assert_eq!(ok("smb://h:65535/s").port, Some(65535));
        for bad in [
            "smb://h:0/s",
            "smb://h:65536/s",
            "smb://h:/s",
            "smb://h:x/s",
            "//h:+4/s",
        ] {
            assert!(
                matches!(Address::parse(bad), Err(AddressError::Port(..))),
                "{bad}"
            );
        }
    }

    #[test]
    fn missing_parts_are_clear_errors() {
        type Check = fn(&AddressError) -> bool;
        let cases: [(&str, Check); 9] = [
            ("smb://", |e| matches!(e, AddressError::MissingHost(_))),
            ("smb:///share", |e| {
                matches!(e, AddressError::MissingHost(_))
            }),
            ("//", |e| matches!(e, AddressError::MissingHost(_))),
            ("smb://host", |e| matches!(e, AddressError::MissingShare(_))),
            ("\\\\host\\", |e| matches!(e, AddressError::MissingShare(_))),
            ("http://host/share", |e| matches!(e, AddressError::Form(_))),
            ("host/share", |e| matches!(e, AddressError::Form(_))),
            ("smb://@host/s", |e| matches!(e, AddressError::EmptyUser(_))),
            ("smb://h/s/%zz", |e| matches!(e, AddressError::Escape(_))),
        ];
        for (s, check) in cases {
            let e = Address::parse(s).expect_err(s);
            assert!(check(&e), "{s}: {e}");
            assert!(
                e.to_string().contains(s),
                "the message quotes the input: {e}"
            );
        }
        assert!(
            Address::parse("host/share")
                .unwrap_err()
                .to_string()
                .contains("smb://")
        );
    }

    #[test]
    fn share_comparison_and_helpers() {
        let a = ok("smb://H/Share/a");
        let b = ok("//h/share/b/c");
        assert!(a.same_share(&b));
        assert!(!a.same_share(&ok("//h:4445/share")));
        assert!(!a.same_share(&ok("//h/other")));
        assert_eq!(a.with_path("/x/y/").path, "x/y");
        assert!(looks_like_address("smb://h/s"));
        assert!(looks_like_address("SMB://h/s"));
        assert!(looks_like_address("//h/s"));
        assert!(looks_like_address("\\\\h\\s"));
        assert!(!looks_like_address("./local"));
        assert!(!looks_like_address("/abs/path"));
        assert!(!looks_like_address("smb:"));
    }

    proptest::proptest! {
        #[test]
        fn any_string_parses_or_errs(s in "\\PC{0,40}") {
            let _ = Address::parse(&s);
        }

        #[test]
        fn url_shaped_input_round_trips(
            user in proptest::option::of("[a-z]{1,8}"),
            host in "[a-z][a-z0-9.-]{0,15}",
            port in proptest::option::of(1u16..),
            share in "[A-Za-z0-9_$-]{1,12}",
            path in proptest::collection::vec("[A-Za-z0-9 _.-]{1,10}", 0..4),
        ) {
            let path: Vec<String> = path.into_iter().filter(|p| p != ".").collect();
            let mut s = String::from("smb://");
            if let Some(u) = &user {
                s.push_str(u);
                s.push('@');
            }
            s.push_str(&host);
            if let Some(p) = port {
                s.push_str(&format!(":{p}"));
            }
            s.push('/');
            s.push_str(&share);
            for p in &path {
                s.push('/');
                s.push_str(p);
            }
            let a = Address::parse(&s).unwrap();
            proptest::prop_assert_eq!(a.user, user);
            proptest::prop_assert_eq!(a.host, host);
            proptest::prop_assert_eq!(a.port, port);
            proptest::prop_assert_eq!(a.share, share);
            proptest::prop_assert_eq!(a.path, path.join("/"));
        }
    }

    #[test]
    fn arbitrary_input_never_panics() {
        let pieces = [
            "smb://", "//", "\\\\", "[", "]", ":", "@", "%", "%4", "/", "\\", "h", "::1", "99999",
            "é", "",
        ];
        for a in pieces {
            for b in pieces {
                for c in pieces {
                    for d in pieces {
                        let _ = Address::parse(&format!("{a}{b}{c}{d}"));
                    }
                }
            }
        }
    }
}
