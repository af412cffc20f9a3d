//! QUERY_DIRECTORY search patterns: the wildcards of MS-FSA 2.1.4.4 (FsRtlIsNameInExpression).
//!
//! Owns one pure function, [`matches`]. Wildcards: `*` any sequence, `?` exactly one character,
//! `<` (DOS_STAR) any sequence up to and including the name's last `.`, `>` (DOS_QM) one
//! character, or nothing at a `.` or at the end of the name, `"` (DOS_DOT) a `.`, or nothing at
//! the end. Matching ignores case, as Windows does for searches. `*.*` and the empty pattern
//! match every name. Must not: touch the file system.
//!
//! The matcher is a memoised walk over (pattern position, name position), so it runs in
//! O(|pattern| x |name|) steps however many stars the client sends.

/// Whether `name` matches the search `pattern`.
pub fn matches(pattern: &str, name: &str) -> bool {
    if pattern.is_empty() || pattern == "*" || pattern == "*.*" {
        return true;
    }
    let p: Vec<char> = pattern.chars().flat_map(char::to_lowercase).collect();
    let n: Vec<char> = name.chars().flat_map(char::to_lowercase).collect();
    let mut m = Matcher {
        p: &p,
        n: &n,
        memo: vec![None; (p.len() + 1) * (n.len() + 1)],
    };
    m.at(0, 0)
}

struct Matcher<'a> {
    p: &'a [char],
    n: &'a [char],
    memo: Vec<Option<bool>>,
}

impl Matcher<'_> {
    fn at(&mut self, pi: usize, ni: usize) -> bool {
        let key = pi * (self.n.len() + 1) + ni;
        if let Some(Some(known)) = self.memo.get(key) {
            return *known;
        }
        let r = self.compute(pi, ni);
        if let Some(slot) = self.memo.get_mut(key) {
            *slot = Some(r);
        }
        r
    }

    fn compute(&mut self, pi: usize, ni: usize) -> bool {
        let Some(&pc) = self.p.get(pi) else {
            return ni == self.n.len();
        };
        let nc = self.n.get(ni).copied();
        match pc {
            '*' => (ni..=self.n.len()).any(|j| self.at(pi + 1, j)),
            '<' => {
                // DOS_STAR: stop anywhere up to the last dot of the name (or its end when the
                // rest has no dot).
                let last_dot = self.n.iter().rposition(|c| *c == '.').filter(|i| *i >= ni);
                let end = last_dot.unwrap_or(self.n.len());
                (ni..=end).any(|j| self.at(pi + 1, j))
            }
            '>' => match nc {
                None => self.at(pi + 1, ni),
                Some('.') => {
                    (ni + 1 == self.n.len() && self.at(pi + 1, ni + 1)) || self.at(pi + 1, ni)
                }
                Some(_) => self.at(pi + 1, ni + 1),
            },
            '"' => match nc {
                None => self.at(pi + 1, ni),
                Some('.') => self.at(pi + 1, ni + 1),
                Some(_) => false,
            },
            '?' => nc.is_some() && self.at(pi + 1, ni + 1),
            c => nc == Some(c) && self.at(pi + 1, ni + 1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::matches;
    use proptest::prelude::*;

    #[test]
    fn plain_and_star() {
        assert!(matches("*", "anything"));
        assert!(matches("", "x"));
        assert!(matches("a*c", "abbbc"));
        assert!(matches("a*c", "ac"));
        assert!(!matches("a*c", "acb"));
        assert!(matches("*.TXT", "notes.txt"));
        assert!(matches("File", "file"));
        assert!(!matches("file", "files"));
    }

    #[test]
    fn question_mark_is_exactly_one() {
        assert!(matches("a?c", "abc"));
        assert!(!matches("a?c", "ac"));
        assert!(!matches("a?", "a"));
    }

    #[test]
    fn dos_wildcards() {
        // `<.txt`: DOS `*.txt`.
        assert!(matches("<.txt", "a.b.txt"));
        assert!(!matches("<.txt", "a.txt.bak"));
        // `<` without a dot after it matches to the end of a dotless name.
        assert!(matches("<", "noext"));
        // `>`: one character, or nothing at a dot or the end.
        assert!(matches("a>>", "a"));
        assert!(matches("a>>.c", "ab.c"));
        assert!(!matches("a>", "abc"));
        // `"`: a dot, or nothing at the end.
        assert!(matches("abc\"", "abc"));
        assert!(matches("abc\"", "abc."));
        assert!(!matches("abc\"", "abcd"));
    }

    proptest! {
        /// Any name matches itself and `*`; the matcher never panics on arbitrary input.
        #[test]
        fn self_match(name in "[a-zA-Z0-9 ._-]{0,40}", pat in ".{0,20}") {
            let plain = !name.contains(['*', '?', '<', '>', '"']);
            if plain {
                prop_assert!(matches(&name, &name));
            }
            prop_assert!(matches("*", &name));
            let _ = matches(&pat, &name);
        }

        /// Many stars stay fast (memoised).
        #[test]
        fn many_stars(n in 1usize..30) {
            let pat = "*a".repeat(n) + "b";
            let name = "a".repeat(200);
            prop_assert!(!matches(&pat, &name));
        }
    }
}
