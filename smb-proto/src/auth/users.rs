//! The server's user store: user names (matched case-insensitively) mapped to NT hashes.
//!
//! Owns: adding users from a password (NTOWFv1 = MD4(UTF-16LE(password))) or from a
//! precomputed NT hash, and looking them up.
//! Must not: keep passwords (only hashes are stored) or decide guest/anonymous policy (that is
//! [`super::ntlm::server`]).

use std::collections::BTreeMap;

use super::ntlm::NtHash;

/// One account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The name as configured.
    pub name: String,
    /// NTOWFv1 of the password.
    pub nt_hash: NtHash,
}

/// Users keyed by their upper-cased name (NTOWFv2 upper-cases the user name as well, so two
/// names that differ only in case are the same account).
#[derive(Debug, Clone, Default)]
pub struct UserStore {
    users: BTreeMap<String, User>,
}

impl UserStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a user with a password.
    pub fn add_password(&mut self, name: &str, password: &str) {
        self.add_nt_hash(name, NtHash::from_password(password));
    }

    /// Adds (or replaces) a user with an NT hash.
    pub fn add_nt_hash(&mut self, name: &str, nt_hash: NtHash) {
        self.users.insert(
            name.to_uppercase(),
            User {
                name: name.to_owned(),
                nt_hash,
            },
        );
    }

    /// Looks a user up, ignoring case.
    pub fn lookup(&self, name: &str) -> Option<&User> {
        self.users.get(&name.to_uppercase())
    }

    /// How many users are configured.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// Whether no user is configured.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_ignores_case_and_hash_matches_md4() {
        let mut s = UserStore::new();
        s.add_password("Alice", "Password");
        assert!(s.lookup("ALICE").is_some());
        assert!(s.lookup("alice").is_some());
        assert!(s.lookup("bob").is_none());
        // MD4(UTF-16LE("Password")), MS-NLMP 4.2.2.1.2 / 4.2.4.
        let expected = [
            0xa4, 0xf4, 0x9c, 0x40, 0x65, 0x10, 0xbd, 0xca, 0xb6, 0x82, 0x4e, 0xe7, 0xc3, 0x0f,
            0xd8, 0x52,
        ];
        assert_eq!(s.lookup("alice").map(|u| u.nt_hash), Some(NtHash(expected)));
    }
}
