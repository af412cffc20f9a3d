//! Search-pattern matching for QUERY_DIRECTORY (MS-FSA 2.1.4.4, FsRtlIsNameInExpression).
//!
//! Owns: [`matches()`], case-insensitive, with `*`, `?` and the DOS wildcards `<` (DOS_STAR),
//! `>` (DOS_QM) and `"` (DOS_DOT). Shared by every backend so they agree.
//! Must not: enumerate anything.

/// Whether `name` matches `pattern`, ignoring case. Runs in O(len(pattern) * len(name));
/// callers bound the pattern (the server refuses patterns longer than [`MAX_PATTERN`]).
pub fn matches(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().flat_map(char::to_uppercase).collect();
    let n: Vec<char> = name.chars().flat_map(char::to_uppercase).collect();
    if p.is_empty() {
        return n.is_empty();
    }
    // The position of the last '.' in the name (DOS_STAR stops there).
    let last_dot = n.iter().rposition(|c| *c == '.');
    // reach[j]: the pattern prefix processed so far can end right before name[j].
    let mut reach = vec![false; n.len() + 1];
    reach[0] = true;
    let mut next = vec![false; n.len() + 1];
    for &pc in &p {
        next.iter_mut().for_each(|x| *x = false);
        for j in 0..=n.len() {
            if !reach[j] {
                continue;
            }
            match pc {
                '*' => {
                    for slot in next.iter_mut().skip(j) {
                        *slot = true;
                    }
                }
                '<' => {
                    // Zero or more characters, not past the last dot: it may consume up to
                    // (not including) the final '.', or everything when there is none.
                    next[j] = true;
                    let stop = match last_dot {
                        Some(d) if d >= j => d,
                        Some(_) => n.len(),
                        None => n.len(),
                    };
                    for slot in next.iter_mut().take(stop + 1).skip(j) {
                        *slot = true;
                    }
                }
                '>' => {
                    // One character, or nothing at a dot or the end of the name.
                    match n.get(j) {
                        Some('.') | None => next[j] = true,
                        Some(_) => next[j + 1] = true,
                    }
                }
                '"' => match n.get(j) {
                    Some('.') => next[j + 1] = true,
                    None => next[j] = true,
                    Some(_) => {}
                },
                '?' => {
                    if j < n.len() {
                        next[j + 1] = true;
                    }
                }
                c => {
                    if n.get(j) == Some(&c) {
                        next[j + 1] = true;
                    }
                }
            }
        }
        std::mem::swap(&mut reach, &mut next);
        if !reach.contains(&true) {
            return false;
        }
    }
    reach[n.len()]
}

/// The longest search pattern the server accepts, in characters.
pub const MAX_PATTERN: usize = 512;

/// Whether a pattern holds any wildcard (otherwise it names one entry).
pub fn has_wildcards(pattern: &str) -> bool {
    pattern.contains(['*', '?', '<', '>', '"'])
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn classic_wildcards() {
        assert!(matches("*", "anything.txt"));
        assert!(matches("*", ""));
        assert!(matches("*.txt", "A.TXT"));
        assert!(!matches("*.txt", "a.txt.bak"));
        assert!(matches("a?c", "abc"));
        assert!(!matches("a?c", "ac"));
        assert!(matches("FILE.TXT", "file.txt"));
        assert!(!matches("file", "file.txt"));
    }

    #[test]
    fn dos_wildcards() {
        // "<" stops before the last dot: "<.txt" is the DOS form of "*.txt".
        assert!(matches("<.txt", "report.final.txt"));
        assert!(matches("<", "noext"));
        assert!(!matches("<", "a.b"));
        // ">" matches one character or nothing at a dot or the end: "a>>" matches "a", "ab".
        assert!(matches("a>>", "a"));
        assert!(matches("a>>", "abc"));
        assert!(!matches("a>>", "abcd"));
        assert!(matches("a>>.txt", "a.txt"));
        // '"' matches a dot or nothing at the end: 'name"' matches "name" and "name.".
        assert!(matches("name\"", "name"));
        assert!(matches("name\"", "name."));
        assert!(matches("<\"*", "a.b"));
    }

    proptest! {
        #[test]
        fn star_matches_all_and_literal_matches_itself(name in "[a-zA-Z0-9._ -]{0,40}") {
            prop_assert!(matches("*", &name));
            let literal = name.replace(['*', '?', '<', '>', '"'], "");
            prop_assert!(matches(&literal, &literal.to_lowercase()));
            let qs: String = std::iter::repeat_n('?', name.chars().count()).collect();
            prop_assert!(matches(&qs, &name));
        }
    }
}
