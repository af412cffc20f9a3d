//! Index check of the golden fixtures in `smb-proto/tests/fixtures/golden` (captured by
//! `conformance/scripts/capture-golden.sh`): every file is well-formed hex with `# key: value`
//! comments, starts with an SMB2 (0xFE) or TRANSFORM (0xFD) protocol id, and agrees with its
//! name and comments (dialect, direction, command, compound, length). It does not decode
//! message bodies: the byte-exact decode/re-encode test belongs with the codec.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

const COMMANDS: [&str; 19] = [
    "negotiate",
    "session_setup",
    "logoff",
    "tree_connect",
    "tree_disconnect",
    "create",
    "close",
    "flush",
    "read",
    "write",
    "lock",
    "ioctl",
    "cancel",
    "echo",
    "query_directory",
    "change_notify",
    "query_info",
    "set_info",
    "oplock_break",
];

const DIALECTS: [(&str, &str); 5] = [
    ("smb202", "2.0.2"),
    ("smb210", "2.1"),
    ("smb300", "3.0"),
    ("smb302", "3.0.2"),
    ("smb311", "3.1.1"),
];

/// One parsed fixture file.
#[derive(Debug)]
struct Fixture {
    number: u32,
    dialect: String,
    direction: String,
    command: String,
    comments: BTreeMap<String, String>,
    bytes: Vec<u8>,
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../smb-proto/tests/fixtures/golden")
}

fn parse(path: &Path) -> Result<Fixture, String> {
    let file = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or("non-UTF-8 file name")?;
    let stem = file.strip_suffix(".hex").ok_or("not a .hex file")?;
    let parts: Vec<&str> = stem.splitn(4, '-').collect();
    let [number, dialect, direction, command] = parts[..] else {
        return Err("name is not NNN-<dialect>-<dir>-<command>.hex".into());
    };
    if number.len() != 3 {
        return Err("number is not three digits".into());
    }
    let number: u32 = number.parse().map_err(|_| "number is not numeric")?;
    let text = fs::read_to_string(path).map_err(|e| e.to_string())?;
    let mut comments = BTreeMap::new();
    let mut hex_text = String::new();
    for (i, line) in text.lines().enumerate() {
        if let Some(c) = line.strip_prefix('#') {
            let (k, v) = c
                .split_once(':')
                .ok_or(format!("line {}: comment is not `# key: value`", i + 1))?;
            comments.insert(k.trim().to_owned(), v.trim().to_owned());
        } else {
            hex_text.extend(line.chars().filter(|c| !c.is_whitespace()));
        }
    }
    let bytes = hex::decode(&hex_text).map_err(|e| format!("bad hex: {e}"))?;
    Ok(Fixture {
        number,
        dialect: dialect.to_owned(),
        direction: direction.to_owned(),
        command: command.to_owned(),
        comments,
        bytes,
    })
}

fn u16_at(b: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(off..off + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(off..off + 4)?.try_into().ok()?))
}

/// Commands of an SMB2 compound chain, following NextCommand (MS-SMB2 3.2.4.1.4), with bounds
/// and 8-byte alignment checked.
fn chain(b: &[u8]) -> Result<Vec<(u16, u32)>, String> {
    let mut out = Vec::new();
    let mut off = 0usize;
    loop {
        let hdr = b
            .get(off..off + 64)
            .ok_or(format!("SMB2 header at {off} runs past the end"))?;
        if hdr[..4] != *b"\xfeSMB" || u16_at(hdr, 4) != Some(64) {
            return Err(format!("no SMB2 header (FE 'SMB', size 64) at {off}"));
        }
        let cmd = u16_at(hdr, 12).ok_or("short header")?;
        let flags = u32_at(hdr, 16).ok_or("short header")?;
        out.push((cmd, flags));
        let next = u32_at(hdr, 20).ok_or("short header")? as usize;
        if next == 0 {
            return Ok(out);
        }
        if next % 8 != 0 || next < 64 {
            return Err(format!(
                "NextCommand {next} at {off} is not 8-aligned past the header"
            ));
        }
        off = off.checked_add(next).ok_or("NextCommand overflow")?;
    }
}

fn check(f: &Fixture) -> Result<(), String> {
    let dialect = DIALECTS
        .iter()
        .find(|(label, _)| *label == f.dialect)
        .ok_or(format!("unknown dialect label {}", f.dialect))?;
    let comment = |k: &str| f.comments.get(k).map(String::as_str);
    if comment("dialect") != Some(dialect.1) {
        return Err(format!(
            "dialect comment {:?} != {}",
            comment("dialect"),
            dialect.1
        ));
    }
    if !matches!(f.direction.as_str(), "c2s" | "s2c") {
        return Err(format!("direction {}", f.direction));
    }
    if comment("direction") != Some(f.direction.as_str()) {
        return Err("direction comment differs from the name".into());
    }
    if comment("length") != Some(f.bytes.len().to_string().as_str()) {
        return Err(format!(
            "length comment {:?} != {}",
            comment("length"),
            f.bytes.len()
        ));
    }
    if comment("capture").is_none() || comment("notes").is_none() {
        return Err("missing capture or notes comment".into());
    }
    // Recorded SMB3 keys (smbclient `debug encryption = yes`): 16 or 32 bytes of hex.
    for key in [
        "session_key",
        "signing_key",
        "application_key",
        "encryption_key_c2s",
        "encryption_key_s2c",
    ] {
        if let Some(v) = comment(key) {
            let ok = hex::decode(v).is_ok_and(|k| k.len() == 16 || k.len() == 32);
            if !ok {
                return Err(format!("{key} is not 16 or 32 bytes of hex"));
            }
        }
    }
    match f.bytes.get(..4) {
        Some(b"\xfdSMB") => {
            // TRANSFORM header (MS-SMB2 2.2.41): 52 bytes, then OriginalMessageSize bytes.
            if f.command != "transform" || comment("command") != Some("TRANSFORM") {
                return Err("0xFD message not named transform".into());
            }
            let size = u32_at(&f.bytes, 36).ok_or("TRANSFORM header shorter than 52 bytes")?;
            if f.bytes.len() != 52 + size as usize {
                return Err(format!(
                    "TRANSFORM OriginalMessageSize {size} + 52 != {}",
                    f.bytes.len()
                ));
            }
            Ok(())
        }
        Some(b"\xfeSMB") => {
            let cmds = chain(&f.bytes)?;
            let (first, flags) = cmds[0];
            let name = COMMANDS
                .get(usize::from(first))
                .ok_or(format!("unknown command {first:#06x}"))?;
            if *name != f.command {
                return Err(format!("header command {name} != file name {}", f.command));
            }
            if comment("command").map(str::to_lowercase).as_deref() != Some(*name) {
                return Err("command comment differs from the header".into());
            }
            let is_response = flags & 1 != 0;
            if is_response != (f.direction == "s2c") {
                return Err(format!(
                    "SERVER_TO_REDIR flag {is_response} vs {}",
                    f.direction
                ));
            }
            let compound = comment("compound").unwrap_or("");
            if compound.starts_with("yes") != (cmds.len() > 1) {
                return Err(format!(
                    "compound comment {compound:?} vs {} messages",
                    cmds.len()
                ));
            }
            Ok(())
        }
        _ => Err("does not start with FE 'SMB' or FD 'SMB'".into()),
    }
}

#[test]
fn every_golden_fixture_is_well_formed() {
    let dir = golden_dir();
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "hex"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 40,
        "only {} fixtures in {}",
        files.len(),
        dir.display()
    );

    let mut errors = Vec::new();
    let mut numbers = BTreeSet::new();
    let mut seen: BTreeSet<(String, String, String)> = BTreeSet::new();
    let mut signed = 0;
    for path in &files {
        match parse(path).and_then(|f| check(&f).map(|()| f)) {
            Ok(f) => {
                if !numbers.insert(f.number) {
                    errors.push(format!("{}: duplicate number", path.display()));
                }
                if f.comments
                    .get("flags")
                    .is_some_and(|v| v.contains("signed"))
                {
                    signed += 1;
                }
                seen.insert((f.dialect, f.direction, f.command));
            }
            Err(e) => errors.push(format!("{}: {e}", path.display())),
        }
    }
    assert!(errors.is_empty(), "bad fixtures:\n{}", errors.join("\n"));

    // Coverage the fixtures promise (README.md in that directory).
    let has = |d: &str, dir: &str, c: &str| seen.contains(&(d.into(), dir.into(), c.into()));
    for (label, _) in DIALECTS {
        for dir in ["c2s", "s2c"] {
            for cmd in [
                "negotiate",
                "session_setup",
                "tree_connect",
                "create",
                "close",
            ] {
                assert!(has(label, dir, cmd), "no {label} {dir} {cmd} fixture");
            }
        }
    }
    for cmd in [
        "read",
        "write",
        "query_directory",
        "query_info",
        "set_info",
        "ioctl",
        "echo",
        "logoff",
        "tree_disconnect",
        "lock",
        "cancel",
        "change_notify",
        "oplock_break",
    ] {
        assert!(
            DIALECTS
                .iter()
                .any(|(l, _)| has(l, "c2s", cmd) || has(l, "s2c", cmd)),
            "no {cmd} fixture in any dialect"
        );
    }
    assert!(has("smb311", "c2s", "transform") && has("smb311", "s2c", "transform"));
    assert!(has("smb300", "c2s", "transform") && has("smb300", "s2c", "transform"));
    assert!(signed >= 20, "only {signed} signed fixtures");
}

#[test]
fn chain_walk_rejects_bad_next_command() {
    let mut m = vec![0u8; 64];
    m[..4].copy_from_slice(b"\xfeSMB");
    m[4] = 64;
    assert_eq!(chain(&m), Ok(vec![(0, 0)]));
    m[20] = 72; // points past the end
    assert!(chain(&m).is_err());
    m[20] = 65; // not 8-aligned
    assert!(chain(&m).is_err());
    assert!(chain(&m[..63]).is_err());
}
