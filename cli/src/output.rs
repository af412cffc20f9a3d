//! What the client subcommands print: `ls` lines, `stat` blocks, `shares` lines, and their
//! `--json` forms.
//!
//! Owns: the text and JSON layouts, UTC time formatting (RFC 3339) from FILETIME, and JSON
//! string escaping (RFC 8259 section 7). Must not: talk to a server or read local files.

use std::fmt::Write as _;

use driver_smol::files::{DirEntry, Metadata};
use smb_proto::rpc::srvsvc::{ShareInfo, ShareType};
use smb_proto::wire::fscc::attributes::FileAttributes;

/// FILETIME of 1970-01-01T00:00:00Z.
const UNIX_EPOCH_AS_FILETIME: u64 = 116_444_736_000_000_000;

/// A FILETIME as `YYYY-MM-DDTHH:MM:SSZ` (UTC, whole seconds); `-` for zero (unknown) and
/// times before 1970.
pub fn rfc3339(filetime: u64) -> String {
    let Some(ticks) = filetime.checked_sub(UNIX_EPOCH_AS_FILETIME) else {
        return "-".into();
    };
    if filetime == 0 {
        return "-".into();
    }
    let secs = ticks / 10_000_000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day): Howard Hinnant's
/// `civil_from_days`, for non-negative day counts.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

/// `s` as a JSON string literal.
pub fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The attribute names set in `a`, e.g. `["DIRECTORY","ARCHIVE"]`; unknown bits as hex.
fn attribute_names(a: FileAttributes) -> Vec<String> {
    let mut names = Vec::new();
    let mut left = a.0;
    for known in FileAttributes::KNOWN {
        if a.contains(*known) && known.0 != 0 {
            names.push(known.to_string());
            left &= !known.0;
        }
    }
    if left != 0 {
        names.push(format!("{left:#x}"));
    }
    names
}

fn kind(is_dir: bool) -> &'static str {
    if is_dir { "dir" } else { "file" }
}

/// One `ls` line: type, size, modification time, name (a `/` after a directory's name).
pub fn ls_line(e: &DirEntry) -> String {
    format!(
        "{} {:>14} {} {}{}",
        if e.is_dir() { 'd' } else { '-' },
        e.size,
        rfc3339(e.modified),
        e.name,
        if e.is_dir() { "/" } else { "" }
    )
}

/// `ls --json`: one JSON array of entries.
pub fn ls_json(entries: &[DirEntry]) -> String {
    let items: Vec<String> = entries
        .iter()
        .map(|e| {
            format!(
                "{{\"name\":{},\"type\":\"{}\",\"size\":{},\"allocation_size\":{},\"attributes\":{},\"created\":\"{}\",\"modified\":\"{}\",\"accessed\":\"{}\",\"changed\":\"{}\",\"file_id\":{}}}",
                json_string(&e.name),
                kind(e.is_dir()),
                e.size,
                e.allocation_size,
                json_list(&attribute_names(e.attributes)),
                rfc3339(e.created),
                rfc3339(e.modified),
                rfc3339(e.accessed),
                rfc3339(e.changed),
                e.file_id,
            )
        })
        .collect();
    format!("[{}]", items.join(","))
}

/// The kind of a share as `disk`, `printer`, `device` or `ipc` (MS-SRVS 2.2.2.4).
fn share_kind(t: ShareType) -> &'static str {
    match t.base() {
        ShareType::DISKTREE => "disk",
        ShareType::PRINTQ => "printer",
        ShareType::DEVICE => "device",
        ShareType::IPC => "ipc",
        _ => "other",
    }
}

/// One `smb shares` line: name, kind, comment.
pub fn share_line(s: &ShareInfo) -> String {
    format!(
        "{:<24} {:<7} {}",
        s.name,
        share_kind(s.share_type),
        s.comment
    )
    .trim_end()
    .to_string()
}

/// `smb shares --json`: an array of `{"name","type","hidden","comment"}`.
pub fn shares_json(list: &[ShareInfo]) -> String {
    let items: Vec<String> = list
        .iter()
        .map(|s| {
            format!(
                "{{\"name\":{},\"type\":\"{}\",\"hidden\":{},\"comment\":{}}}",
                json_string(&s.name),
                share_kind(s.share_type),
                s.name.ends_with('$'),
                json_string(&s.comment)
            )
        })
        .collect();
    format!("[{}]", items.join(","))
}

fn json_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| json_string(s)).collect();
    format!("[{}]", quoted.join(","))
}

/// `stat`: `key: value` lines.
pub fn stat_text(shown: &str, m: &Metadata) -> String {
    let attrs = attribute_names(m.attributes);
    format!(
        "path: {shown}\ntype: {}\nsize: {}\nallocation size: {}\nattributes: {}\ncreated: {}\nmodified: {}\naccessed: {}\nchanged: {}\nlinks: {}\nfile id: {}\n",
        kind(m.is_dir),
        m.size,
        m.allocation_size,
        if attrs.is_empty() {
            "-".to_string()
        } else {
            attrs.join(" ")
        },
        rfc3339(m.created),
        rfc3339(m.modified),
        rfc3339(m.accessed),
        rfc3339(m.changed),
        m.links,
        m.file_id,
    )
}

/// `stat --json`: one JSON object.
pub fn stat_json(shown: &str, m: &Metadata) -> String {
    format!(
        "{{\"path\":{},\"type\":\"{}\",\"size\":{},\"allocation_size\":{},\"attributes\":{},\"created\":\"{}\",\"modified\":\"{}\",\"accessed\":\"{}\",\"changed\":\"{}\",\"links\":{},\"file_id\":{},\"delete_pending\":{}}}",
        json_string(shown),
        kind(m.is_dir),
        m.size,
        m.allocation_size,
        json_list(&attribute_names(m.attributes)),
        rfc3339(m.created),
        rfc3339(m.modified),
        rfc3339(m.accessed),
        rfc3339(m.changed),
        m.links,
        m.file_id,
        m.delete_pending,
    )
}

/// A byte count for people: `512 B`, `1.5 MiB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = UNITS[0];
    for u in UNITS.iter().skip(1) {
        if v < 1024.0 {
            break;
        }
        v /= 1024.0;
        unit = u;
    }
    format!("{v:.1} {unit}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_render() {
        let list = vec![
            ShareInfo::disk("data", "the \"data\""),
            ShareInfo::ipc("IPC Service"),
        ];
        assert_eq!(
            share_line(&list[0]),
            format!("{:<24} disk    the \"data\"", "data")
        );
        assert!(share_line(&list[1]).starts_with("IPC$ "));
        assert!(share_line(&list[1]).contains(" ipc "));
        assert_eq!(
            shares_json(&list),
            "[{\"name\":\"data\",\"type\":\"disk\",\"hidden\":false,\"comment\":\"the \\\"data\\\"\"},\
             {\"name\":\"IPC$\",\"type\":\"ipc\",\"hidden\":true,\"comment\":\"IPC Service\"}]"
        );
    }

    #[test]
    fn times_format_as_rfc3339() {
        assert_eq!(rfc3339(0), "-");
        assert_eq!(rfc3339(1), "-");
        assert_eq!(rfc3339(UNIX_EPOCH_AS_FILETIME), "1970-01-01T00:00:00Z");
        // 2000-02-29T12:34:56Z = 951827696 s after the epoch.
        assert_eq!(
            rfc3339(UNIX_EPOCH_AS_FILETIME + 951_827_696 * 10_000_000 + 9_999_999),
            "2000-02-29T12:34:56Z"
        );
        // 2026-11-22T00:00:00Z = 1795305600 s.
        assert_eq!(
            rfc3339(UNIX_EPOCH_AS_FILETIME + 1_795_305_600 * 10_000_000),
            "2026-11-22T00:00:00Z"
        );
        assert!(rfc3339(u64::MAX).starts_with("60056-"));
    }

    #[test]
    fn json_strings_are_escaped() {
        assert_eq!(json_string("plain"), "\"plain\"");
        assert_eq!(
            json_string("a\"b\\c\nd\u{1}é"),
            "\"a\\\"b\\\\c\\nd\\u0001é\""
        );
    }

    #[test]
    fn entries_render() {
        let e = DirEntry {
            name: "x\"y".into(),
            size: 42,
            allocation_size: 4096,
            attributes: FileAttributes::DIRECTORY | FileAttributes(0x8000_0000),
            created: 0,
            accessed: 0,
            modified: UNIX_EPOCH_AS_FILETIME,
            changed: 0,
            file_id: 7,
        };
        assert_eq!(ls_line(&e), "d             42 1970-01-01T00:00:00Z x\"y/");
        let j = ls_json(std::slice::from_ref(&e));
        assert!(
            j.starts_with("[{\"name\":\"x\\\"y\",\"type\":\"dir\",\"size\":42,"),
            "{j}"
        );
        assert!(
            j.contains("\"attributes\":[\"DIRECTORY\",\"0x80000000\"]"),
            "{j}"
        );
        assert_eq!(ls_json(&[]), "[]");
        let m = Metadata {
            size: 5,
            allocation_size: 8,
            attributes: FileAttributes::ARCHIVE,
            is_dir: false,
            created: 0,
            accessed: 0,
            modified: 0,
            changed: 0,
            links: 1,
            file_id: 9,
            delete_pending: false,
        };
        let t = stat_text("\\\\h\\s\\f", &m);
        assert!(t.contains("type: file\nsize: 5\n"), "{t}");
        assert!(t.contains("attributes: ARCHIVE\n"), "{t}");
        let j = stat_json("\\\\h\\s\\f", &m);
        assert!(
            j.starts_with("{\"path\":\"\\\\\\\\h\\\\s\\\\f\",\"type\":\"file\",\"size\":5,"),
            "{j}"
        );
        assert!(j.ends_with("\"delete_pending\":false}"), "{j}");
    }

    #[test]
    fn bytes_for_people() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(16 << 20), "16.0 MiB");
        assert_eq!(human_bytes(u64::MAX), "16384.0 PiB");
    }
}
