//! The golden fixtures of `tests/fixtures/golden/` (see its README.md), shared by the test
//! files that use them: parsing only, no assertions about their content.

#![allow(dead_code)] // each test file uses a different part

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use bytes::Bytes;

/// One fixture file.
#[derive(Debug)]
pub struct Fixture {
    /// The file name.
    pub name: String,
    /// The `# key: value` comments (the last value of a repeated key).
    pub comments: BTreeMap<String, String>,
    /// The message bytes.
    pub bytes: Bytes,
}

impl Fixture {
    /// A comment's value.
    pub fn comment(&self, key: &str) -> Option<&str> {
        self.comments.get(key).map(String::as_str)
    }

    /// Whether the message goes client to server (`# direction: c2s`).
    pub fn is_request(&self) -> bool {
        match self.comment("direction") {
            Some("c2s") => true,
            Some("s2c") => false,
            other => panic!("{}: direction comment {other:?}", self.name),
        }
    }

    /// A recorded key, as bytes.
    pub fn key(&self, k: &str) -> Option<Vec<u8>> {
        self.comment(k)
            .map(|v| hex::decode(v).unwrap_or_else(|e| panic!("{}: {k}: {e}", self.name)))
    }
}

/// `tests/fixtures/golden/`.
pub fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/golden")
}

/// The `.hex` files directly in `dir`, sorted.
pub fn hex_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "hex"))
        .collect();
    files.sort();
    files
}

/// Parses one fixture file.
pub fn parse(path: &Path) -> Fixture {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut comments = BTreeMap::new();
    let mut hex_text = String::new();
    for line in text.lines() {
        if let Some(c) = line.strip_prefix('#') {
            if let Some((k, v)) = c.split_once(':') {
                comments.insert(k.trim().to_owned(), v.trim().to_owned());
            }
        } else {
            hex_text.extend(line.chars().filter(|c| !c.is_whitespace()));
        }
    }
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_owned();
    let bytes = hex::decode(&hex_text).unwrap_or_else(|e| panic!("{name}: bad hex: {e}"));
    Fixture {
        name,
        comments,
        bytes: Bytes::from(bytes),
    }
}

/// Every SMB2 fixture, in capture order.
pub fn fixtures() -> Vec<Fixture> {
    hex_files(&golden_dir()).iter().map(|p| parse(p)).collect()
}

/// The SMB1 messages (`golden/smb1/`): only the multi-protocol NEGOTIATE that opens some
/// connections.
pub fn smb1_fixtures() -> Vec<Fixture> {
    hex_files(&golden_dir().join("smb1"))
        .iter()
        .map(|p| parse(p))
        .collect()
}
