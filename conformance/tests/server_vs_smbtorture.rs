//! Our server (`driver_smol::server::SmbServer`, local-directory backend in a temp dir) against
//! Samba's `smbtorture` smb2.* tests. Each test listed here passes against our server and is
//! asserted to keep passing (every test of issue 6's suites that passes against both smbd and
//! ours); the ignored `smbtorture_table` runs every test against a private smbd and ours and
//! writes `SMBTORTURE.md` (the side-by-side table and why ours fails where smbd passes). Skips
//! (prints SKIP) when smbtorture is missing, fails under CI=true.

mod support;

use std::time::Duration;

use conformance::peers::require;
use conformance::smbclient::write_client_conf;
use conformance::smbtorture::{Smbtorture, Verdict};
use support::our_server::{OurServer, PASS, SHARE, USER};

/// (suite, tests that must succeed).
const PASSING: &[(&str, &[&str])] = &[
    ("smb2.connect", &["connect"]),
    ("smb2.read", &["eof", "position", "dir", "access"]),
    ("smb2.rw", &["rw1", "rw2"]),
    (
        "smb2.dir",
        &["find", "fixed", "many", "sorted", "large-files"],
    ),
    (
        "smb2.create",
        &[
            "brlocked",
            "multi",
            "delete",
            "leading-slash",
            "impersonation",
            "mkdir-dup",
            "dir-alloc-size",
            "dosattr_tmp_dir",
            "bench-path-contention-shared",
        ],
    ),
    (
        "smb2.getinfo",
        &[
            "qfile_buffercheck",
            "qsec_buffercheck",
            "granted",
            "getinfo_access",
            // Every volume class, FileFsControlInformation and FileFsObjectIdInformation
            // included (smbd fails both: it refuses the quota class).
            "fsinfo",
            "qfs_buffercheck",
        ],
    ),
    (
        "smb2.lock",
        &[
            "valid-request",
            "rw-shared",
            "rw-exclusive",
            "auto-unlock",
            "lock",
            "async",
            "cancel",
            "cancel-tdis",
            "errorcode",
            "zerobytelength",
            "zerobyteread",
            "unlock",
            "multiple-unlock",
            "stacking",
            "replay_smb3_specification_multi",
            "replay_smb3_specification_durable",
            "contend",
            "context",
            "range",
            "overlap",
            "truncate",
        ],
    ),
    (
        "smb2.compound",
        &[
            "related1",
            "related2",
            "related3",
            "related5",
            "related6",
            "related8",
            "related9",
            "unrelated1",
            "invalid1",
            "invalid2",
            "invalid3",
            "invalid4",
            "interim1",
            "compound-break",
            "create-write-close",
        ],
    ),
    ("smb2.session", &["two_logoff", "ntlmssp_bug14932"]),
    (
        "smb2.credits",
        &[
            "session_setup_credits_granted",
            "single_req_credits_granted",
            "skipped_mid",
        ],
    ),
    ("smb2.tcon", &["tcon"]),
    ("smb2.mkdir", &["mkdir"]),
    // About two minutes against the debug build (16 384 opens, then their cleanup).
    ("smb2.maxfid", &["maxfid"]),
    (
        "smb2.rename",
        &[
            "simple",
            "no_sharing",
            "share_delete_and_delete_access",
            "no_share_delete_but_delete_access",
            "share_delete_no_delete_access",
            "msword",
            "rename_dir_openfile",
            "rename_dir_bench",
            "close-full-information",
        ],
    ),
    (
        "smb2.delete-on-close-perms",
        &[
            "OVERWRITE_IF",
            "CREATE",
            "CREATE Existing",
            "CREATE_IF",
            "FIND_and_set_DOC",
            "READONLY",
            "BUG14427",
        ],
    ),
    (
        "smb2.sharemode",
        &["sharemode-access", "access-sharemode", "bug14375"],
    ),
    (
        "smb2.timestamps",
        &[
            "test_close_not_attrib",
            "time_t_15032385535",
            "time_t_10000000000",
            "time_t_4294967295",
            "time_t_1",
            "time_t_0",
            "time_t_-1",
            "time_t_-2",
            "time_t_1968",
            "freeze-thaw",
            // These wait for the 2 s delayed write-time update: about 25 s in all.
            "delayed-write-vs-seteof",
            "delayed-write-vs-flush",
            "delayed-write-vs-setbasic",
            "delayed-1write",
            "delayed-2write",
        ],
    ),
    ("smb2.fileid", &["unique", "unique-dir"]),
    ("smb2.deny", &["deny1", "deny2"]),
    // Beyond the 19 suites: DOS attributes kept and the overwrite rules of MS-FSA 2.1.5.1.2.1
    // (openattr, winattr), and a security query of no parts without READ_CONTROL (sdread).
    ("smb2", &["openattr", "winattr", "sdread"]),
    // A related request after one that named a FileId uses that FileId.
    ("smb2.compound_async", &["flush_close", "flush_flush"]),
    // No compression, said as Windows says it; server-side copy (all of smbd's passes but
    // the one on streams, which we do not have); sparse files (sparse_punch and
    // sparse_qar_ob1 need a file system that punches holes and reports them to SEEK_DATA,
    // as ext4, xfs, btrfs and tmpfs do); the interface list of multichannel.
    (
        "smb2.ioctl",
        &[
            "compress_notsup_get",
            "compress_notsup_set",
            "req_resume_key",
            "req_two_resume_keys",
            "copy_chunk_simple",
            "copy_chunk_multi",
            "copy_chunk_tiny",
            "copy_chunk_overwrite",
            "copy_chunk_append",
            "copy_chunk_limits",
            "copy_chunk_src_lock",
            "copy_chunk_dest_lock",
            "copy_chunk_bad_key",
            "copy_chunk_src_is_dest",
            "copy_chunk_src_is_dest_overlap",
            "copy_chunk_bad_access",
            "copy_chunk_write_access",
            "copy_chunk_src_exceed",
            "copy_chunk_src_exceed_multi",
            "copy_chunk_sparse_dest",
            "copy_chunk_max_output_sz",
            "copy_chunk_zero_length",
            "copy_chunk_across_shares",
            "copy_chunk_across_shares2",
            "copy_chunk_across_shares3",
            "sparse_file_flag",
            "sparse_file_attr",
            "sparse_dir_flag",
            "sparse_set_nobuf",
            "sparse_set_oversize",
            "sparse_qar",
            "sparse_qar_malformed",
            "sparse_punch",
            "sparse_hole_dealloc",
            "sparse_copy_chunk",
            "sparse_punch_invalid",
            "sparse_perms",
            "sparse_lock",
            "sparse_qar_ob1",
            "sparse_qar_multi",
            "sparse_qar_overflow",
            // The interfaces the server's listener is reachable on (loopback here).
            "network_interface_info",
        ],
    ),
];

/// Tests that need oplocks (run by their own test function, in parallel with the rest).
const PASSING_OPLOCKS: &[(&str, &[&str])] = &[
    // The session tests open their file asking for a batch oplock and check it was granted.
    (
        "smb2.session",
        &[
            "reauth1",
            "reauth6",
            "signing-hmac-sha-256",
            "signing-aes-128-cmac",
            "signing-aes-128-gmac",
            "encryption-aes-128-ccm",
            "encryption-aes-128-gcm",
            "encryption-aes-256-ccm",
            "encryption-aes-256-gcm",
            // Sessions across connections: PreviousSessionId and multichannel binding.
            "reconnect1",
            "reconnect2",
            "bind1",
            "bind2",
            "bind_invalid_auth",
            "bind_negative_smb202",
            "bind_negative_smb210s",
            "bind_negative_smb210d",
            "bind_negative_smb2to3s",
            "bind_negative_smb2to3d",
            "bind_negative_smb3to2s",
            "bind_negative_smb3to2d",
            "bind_negative_smb3to3s",
            "bind_negative_smb3to3d",
            "bind_negative_smb3encGtoCs",
            "bind_negative_smb3encGtoCd",
            "bind_negative_smb3signCtoHs",
            "bind_negative_smb3signCtoGs",
            "bind_negative_smb3signCtoGd",
            "bind_negative_smb3signHtoCs",
            "bind_negative_smb3signHtoGs",
            "bind_negative_smb3signHtoGd",
            "bind_negative_smb3signGtoCs",
            "bind_negative_smb3signGtoCd",
            "bind_negative_smb3signGtoHs",
            "bind_negative_smb3signGtoHd",
            "bind_negative_smb3sneGtoCs",
            "bind_negative_smb3sneGtoCd",
            "bind_negative_smb3sneGtoHs",
            "bind_negative_smb3sneGtoHd",
            "bind_negative_smb3sneCtoGs",
            "bind_negative_smb3sneCtoGd",
            "bind_negative_smb3sneHtoGs",
            "bind_negative_smb3sneHtoGd",
            "bind_negative_smb3signC30toGs",
            "bind_negative_smb3signC30toGd",
            "bind_negative_smb3signH2XtoGs",
            "bind_negative_smb3signH2XtoGd",
            "bind_negative_smb3signGtoC30s",
            "bind_negative_smb3signGtoC30d",
            "bind_negative_smb3signGtoH2Xs",
            "bind_negative_smb3signGtoH2Xd",
        ],
    ),
    (
        "smb2.oplock",
        &[
            "exclusive1",
            "exclusive2",
            "exclusive3",
            "exclusive4",
            "exclusive5",
            "exclusive6",
            "exclusive9",
            "batch1",
            "batch2",
            "batch3",
            "batch4",
            "batch5",
            "batch6",
            "batch7",
            "batch8",
            "batch9",
            "batch9a",
            "batch10",
            "batch11",
            "batch12",
            "batch13",
            "batch14",
            "batch15",
            "batch16",
            "batch19",
            "batch20",
            "batch21",
            "batch22a",
            "batch23",
            "batch24",
            "batch25",
            "doc",
            "brl1",
            "brl2",
            "brl3",
            "levelii500",
            "levelii501",
            "levelii502",
            "statopen1",
        ],
    ),
];

/// Durable handle tests (their own test function and server: they drop connections and
/// leave durable opens behind until reconnected or expired).
const PASSING_DURABLE: &[(&str, &[&str])] = &[
    (
        "smb2.durable-open",
        &[
            "open-oplock",
            "reopen1",
            "reopen1a",
            "reopen2",
            "reopen2a",
            "reopen3",
            "reopen4",
            "delete_on_close1",
            "delete_on_close2",
            "file-position",
            "oplock",
            "lock-oplock",
            "open2-oplock",
            "read-only",
            // The AlSi create context (space reserved at create).
            "alloc-size",
            // With leases (engine::leases).
            "open-lease",
            "reopen1a-lease",
            "stat-open",
            // Lease breaks (handle caching, kept opens closed, DH2C of a v1 open).
            "lease",
            "open2-lease",
            "reopen2-lease",
            "reopen2-lease-v2",
        ],
    ),
    (
        "smb2.durable-v2-open",
        &[
            "create-blob",
            "open-oplock",
            "persistent-open-oplock",
            "reopen1",
            "reopen1a",
            "reopen2",
            "reopen2b",
            "reopen2c",
            // With leases (engine::leases).
            "open-lease",
            "reopen1a-lease",
            "reopen2-lease",
            "reopen2-lease-v2",
            "durable-v2-setinfo",
            "persistent-open-lease",
        ],
    ),
];

/// Lease tests (smb2.lease) that pass against smbd and ours (their own test function and
/// server: they hold CREATEs behind breaks, one waits out the 35 s break timer).
const PASSING_LEASES: &[(&str, &[&str])] = &[(
    "smb2.lease",
    &[
        "break",
        "break_twice",
        "breaking1",
        "breaking2",
        "breaking3",
        "breaking4",
        "breaking5",
        "breaking6",
        "complex1",
        "duplicate_create",
        "duplicate_open",
        "lock1",
        "multibreak",
        "nobreakself",
        "oplock",
        "rename_wait",
        "statopen",
        "statopen2",
        "statopen4",
        "timeout",
        "timeout-disconnect",
        "upgrade",
        "upgrade2",
        "upgrade3",
        "v1_bug15148",
        "v2_breaking3",
        "v2_bug15148",
        "v2_complex1",
        "v2_complex2",
        "v2_epoch1",
        "v2_epoch2",
        "v2_epoch3",
        "v2_rename",
    ],
)];

#[test]
fn smbtorture_subset_passes() {
    run_passing(PASSING);
}

#[test]
fn smbtorture_oplock_subset_passes() {
    run_passing(PASSING_OPLOCKS);
}

/// CHANGE_NOTIFY: every test smbd passes (mask-change, tree and rec fail on both; security
/// waits on both). `mask` waits 200 ms per filter bit and operation: about 80 s.
const PASSING_NOTIFY: &[(&str, &[&str])] = &[(
    "smb2.notify",
    &[
        "valid-req",
        "tcon",
        "dir",
        "mask",
        "tdis",
        "tdis1",
        "close",
        "logoff",
        "session-reconnect",
        "invalid-reauth",
        "basedir",
        "double",
        "file",
        "tcp",
        "overflow",
        "rmdir1",
        "rmdir2",
        "rmdir3",
        "rmdir4",
        "handle-permissions",
    ],
)];

#[test]
fn smbtorture_notify_subset_passes() {
    run_passing(PASSING_NOTIFY);
}

#[test]
fn smbtorture_durable_subset_passes() {
    run_passing(PASSING_DURABLE);
}

#[test]
fn smbtorture_lease_subset_passes() {
    run_passing(PASSING_LEASES);
}

/// Replay and channel sequence tests (smb2.replay) that pass against smbd and ours: 23 of
/// smbd's 29. smbd also passes dhv2-pending2{n,l,o}-vs-{oplock,lease}-sane, where the
/// connection carrying a CREATE held behind a break is lost and a replay on another channel
/// must find that CREATE still pending (ours ends a lost connection's pending requests). The
/// *-windows variants expect Windows' answers and fail on both, pending3* fail on both,
/// replay5 needs persistent handles (skipped on both).
const PASSING_REPLAY: &[(&str, &[&str])] = &[(
    "smb2.replay",
    &[
        "replay-commands",
        "replay-regular",
        "replay-dhv2-oplock1",
        "replay-dhv2-oplock2",
        "replay-dhv2-oplock3",
        "replay-dhv2-oplock-lease",
        "replay-dhv2-lease1",
        "replay-dhv2-lease2",
        "replay-dhv2-lease3",
        "replay-dhv2-lease-oplock",
        "dhv2-pending1n-vs-violation-lease-close-sane",
        "dhv2-pending1n-vs-violation-lease-ack-sane",
        "dhv2-pending1n-vs-oplock-sane",
        "dhv2-pending1n-vs-lease-sane",
        "dhv2-pending1l-vs-oplock-sane",
        "dhv2-pending1l-vs-lease-sane",
        "dhv2-pending1o-vs-oplock-sane",
        "dhv2-pending1o-vs-lease-sane",
        "channel-sequence",
        "replay3",
        "replay4",
        "replay6",
        "replay7",
    ],
)];

#[test]
fn smbtorture_replay_subset_passes() {
    run_passing(PASSING_REPLAY);
}

/// Multichannel tests (smb2.multichannel) that pass against smbd (multichannel on) and ours:
/// all five smbd passes. The other six fail on both here: they block a connection with
/// iptables and use Samba's private FSCTL_SMBTORTURE_FORCE_UNACKED_TIMEOUT, or (bug_15346)
/// connect to port 445. One suite entry per group: `test1` is in two of them.
const PASSING_MULTICHANNEL: &[(&str, &[&str])] = &[
    (
        "smb2.multichannel.generic",
        &["interface_info", "num_channels"],
    ),
    ("smb2.multichannel.oplocks", &["test1"]),
    ("smb2.multichannel.leases", &["test1", "test3"]),
];

#[test]
fn smbtorture_multichannel_subset_passes() {
    run_passing(PASSING_MULTICHANNEL);
}

/// Runs each suite's listed tests in one smbtorture against a fresh server of ours.
fn run_passing(passing: &[(&str, &[&str])]) {
    if require("smbtorture").is_none() {
        return;
    }
    let server = OurServer::start();
    let conf_dir = tempfile::tempdir().expect("tempdir");
    let conf = write_client_conf(conf_dir.path()).expect("client conf");
    let mut failures = Vec::new();
    for (suite, tests) in passing {
        if tests.is_empty() {
            continue;
        }
        let mut t = Smbtorture::new("127.0.0.1", server.port(), SHARE)
            .user(USER, PASS)
            .config_file(&conf)
            .timeout(Duration::from_secs(600));
        for name in *tests {
            t = t.test(format!("{suite}.{name}"));
        }
        let run = t.run().expect("run smbtorture");
        for name in *tests {
            let v = run.verdicts.get(*name).copied();
            if v != Some(Verdict::Success) {
                failures.push(format!("{suite}.{name}: {v:?}"));
            }
        }
        if failures.iter().any(|f| f.starts_with(suite)) {
            eprintln!("{suite} output:\n{}", run.output.combined());
        }
    }
    assert!(failures.is_empty(), "smbtorture regressions: {failures:?}");
}

/// The suites issue 6 asks for, as `smb2.<name>`.
const SUITES: &[&str] = &[
    "connect",
    "read",
    "rw",
    "dir",
    "create",
    "getinfo",
    "lock",
    "compound",
    "session",
    "credits",
    "tcon",
    "mkdir",
    "maxfid",
    "rename",
    "delete-on-close-perms",
    "sharemode",
    "timestamps",
    "fileid",
    "deny",
    "oplock",
    "durable-open",
    "durable-v2-open",
    "lease",
];

/// Tests that need longer than the per-test limit on a loaded machine (debug build).
const SLOW: &[(&str, u64)] = &[("smb2.maxfid.maxfid", 600)];

/// Why tests that smbd passes fail against our server, appended to `SMBTORTURE.md` (kept here so
/// the generated file and the reasons stay together).
const REASONS: &str = "\
## Why ours fails where smbd passes

- **Oplocks** (smb2.oplock): LEVEL_II is granted beside other opens, a conflicting open
  breaks BATCH/EXCLUSIVE to LEVEL_II (NONE when it overwrites), and WRITE, size changes and
  byte-range locks break LEVEL_II to NONE, so every test smbd passes passes against ours
  except the stream ones: streams are not supported (batch26, stream1). batch20 passes
  against ours and fails against smbd; batch22b needs a Samba-private FSCTL and fails on both.
- **smb2.getinfo.getinfo_access** (passes now, by hand, several runs): 8.3 names are
  generated (a hash-based mangling, the same in FileAlternateNameInformation and the
  directory listings) and EAs are stored: the ExtA create context, SET_INFO and QUERY_INFO
  FileFullEaInformation (names asked for, the open's EA cursor, whole entries with
  BUFFER_OVERFLOW), EaSize in FileEaInformation / FileAllInformation (the size of the whole
  list, 45 for the test's two EAs as smbd reports), FILE_READ_EA / FILE_WRITE_EA checked.
  memfs keeps them per file, the local backend in `user.smbrs.ea.<NAME>` xattrs. Where smbd
  4.17 departs from MS-FSA (it ignores the asked-for names, cuts the list mid-entry, keeps
  name case, accepts flags other than FILE_NEED_EA) we follow the spec; see
  conformance/tests/eas_vs_samba.rs.
- **Security descriptors are stored, not enforced**: SET_INFO security keeps the descriptor
  (memfs per file, the local backend in an xattr) and QUERY_INFO reports it, which the
  delete-on-close-perms tests need (they pass now). DACLs are not evaluated, so
  delete-on-close-perms \"OVERWRITE_IF Existing\" / \"CREATE_IF Existing\" (which expect the
  DACL inherited from the directory to deny DELETE), smb2.create.nulldacl and
  smb2.compound.related4 (which expect a DACL they set to deny the next open) fail for us as
  they do for smbd. The SecD create context is applied to a new file, so smb2.create.aclfile
  and acldir get past their descriptor checks; they then expect HIDDEN and SYSTEM to stick,
  which Linux cannot keep (only READONLY and DIRECTORY do).
- **smb2.timestamps** (all 15 pass now, by hand, three runs): the engine delays the
  LastWriteTime update of an open's first WRITE by 2 s on its own deadline, as smbd 4.17 and
  Windows Server 2016 do (later WRITEs wait for CLOSE; FLUSH, SET_INFO basic and EOF settle a
  pending update; an explicit write time sticks; -1/-2 freeze and thaw), and hands the shown
  time to the backend at the last CLOSE. The local backend keeps a ChangeTime set by SET_INFO
  in an xattr beside the mtime it was set with (Linux cannot set ctime); smbd instead reports
  the mtime as ChangeTime. `/` is accepted as a path separator as smbd does (Windows answers
  OBJECT_NAME_INVALID), checked after normalisation like `\\`. Limit: directory listings of
  classes without a FileId show the backend's mtime while an update is pending.
- **smb2.lock.cancel-logoff** (passes now, not asserted): LOGOFF closes the lock holder's
  handle and ends the waiting lock on the other; smbd (like Windows) answers the waiting lock
  with success. Ours did too in every run (7 of 7, signed since the session now outlives its
  pending ops), but which of range-freed and lock-ended the backend sees first depends on
  task scheduling, so PASSING leaves it out.
- **Leases** (smb2.lease): granted, shared by key, broken by conflicting CREATEs (write
  caching once the backend accepted the open, all caching before an overwrite; held until
  the acknowledgment or the 35 s timer, breaking in steps after an acknowledgment), handle
  caching broken when a CREATE meets a sharing violation (the CREATE is then retried), before
  a rename or delete and for a delete-on-close open, by WRITE / size changes / locks, breaks
  sent on the client's first connection, a break nobody can acknowledge completed when the
  client is gone (engine::leases), so all 33 tests smbd passes pass. unlink passes against
  ours and fails against smbd 4.17 (no handle break for a delete-on-close open). Directory
  leases are not granted (v2_request, v2_request_parent skip as on smbd); streams are not
  supported (request, on both); statopen3 fails on both.
- **Durable handles** (smb2.durable-open, smb2.durable-v2-open): granted with a batch oplock
  or a lease with handle caching; a kept open whose oplock or lease must be broken is closed
  (its client cannot be told); DH2C with a zero CreateGuid reconnects a DHnQ open, as smbd.
  The AlSi create context reserves space (alloc-size); app-instance (the AppInstanceId context, not implemented) fails on both. smbd fails
  delete_on_close2, lock-oplock and lock-lease, which pass against ours.
- **smb2.read.bug14607**: smbd skips it; ours fails (a Samba-private FSCTL).
";

/// One test's verdict as a table cell, with a time-out shown as such.
fn cell(
    run: &Result<conformance::smbtorture::TortureRun, conformance::HarnessError>,
    name: &str,
) -> String {
    match run {
        Err(e) => format!("harness error: {e}"),
        Ok(r) => match r.verdicts.get(name) {
            Some(Verdict::Success) => "pass".into(),
            Some(Verdict::Failure) => "FAIL".into(),
            Some(Verdict::Error) => "ERROR".into(),
            Some(Verdict::Skip) => "skip".into(),
            None if r.output.timed_out => "TIMEOUT".into(),
            None => "no verdict".into(),
        },
    }
}

/// First line of smbtorture's reason for a non-success, for the table.
fn reason(run: &Result<conformance::smbtorture::TortureRun, conformance::HarnessError>) -> String {
    let Ok(r) = run else { return String::new() };
    r.output
        .stdout
        .lines()
        .chain(r.output.stderr.lines())
        .find(|l| l.starts_with('(') || l.contains("NT_STATUS") || l.contains("Expected"))
        .unwrap_or("")
        .replace('|', "/")
        .chars()
        .take(140)
        .collect()
}

/// Runs every test of [`SUITES`] one by one against a private smbd and against our server,
/// each with its own time limit, and writes the side-by-side table to `SMBTORTURE.md` at the
/// workspace root. Slow (tens of minutes): `cargo test -p conformance --test
/// server_vs_smbtorture -- --ignored --nocapture smbtorture_table`. `SMBTORTURE_SUITES=a,b`
/// narrows the suites; `SMBTORTURE_TIMEOUT=secs` sets the per-test limit (default 60).
#[test]
#[ignore = "slow: produces SMBTORTURE.md (the smbd-vs-ours table of issue 6)"]
fn smbtorture_table() {
    use conformance::samba::{SambaOptions, SambaServer};
    use conformance::smbtorture::list_tests;
    use std::fmt::Write as _;

    if require("smbtorture").is_none() {
        return;
    }
    let Some(smbd) = SambaServer::start_for_test(SambaOptions::default()) else {
        return;
    };
    let ours = OurServer::start();
    let conf_dir = tempfile::tempdir().expect("tempdir");
    let conf = write_client_conf(conf_dir.path()).expect("client conf");
    let limit = std::env::var("SMBTORTURE_TIMEOUT")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let only: Option<Vec<String>> = std::env::var("SMBTORTURE_SUITES")
        .ok()
        .map(|s| s.split(',').map(str::to_owned).collect());
    let mut table = String::from(
        "| test | smbd | ours | why ours fails (first smbtorture line) |\n|---|---|---|---|\n",
    );
    let mut summary = String::from(
        "| suite | tests | smbd pass | ours pass | both pass |\n|---|---|---|---|---|\n",
    );
    for suite in SUITES {
        if only.as_ref().is_some_and(|o| !o.iter().any(|s| s == suite)) {
            continue;
        }
        let full = format!("smb2.{suite}");
        let tests = list_tests(&full).expect("smbtorture --list");
        let (mut n_smbd, mut n_ours, mut n_both) = (0, 0, 0);
        for name in &tests {
            let test = format!("{full}.{name}");
            let timeout = Duration::from_secs(
                SLOW.iter()
                    .find(|(t, _)| *t == test)
                    .map_or(limit, |(_, secs)| *secs),
            );
            let (a, b) = std::thread::scope(|s| {
                let a = s.spawn(|| {
                    smbd.smbtorture(SambaServer::SHARE)
                        .test(&test)
                        .timeout(timeout)
                        .run()
                });
                let b = s.spawn(|| {
                    Smbtorture::new("127.0.0.1", ours.port(), SHARE)
                        .user(USER, PASS)
                        .config_file(&conf)
                        .test(&test)
                        .timeout(timeout)
                        .run()
                });
                (
                    a.join().expect("smbd thread"),
                    b.join().expect("ours thread"),
                )
            });
            let (ca, cb) = (cell(&a, name), cell(&b, name));
            n_smbd += usize::from(ca == "pass");
            n_ours += usize::from(cb == "pass");
            n_both += usize::from(ca == "pass" && cb == "pass");
            let why = if cb == "pass" {
                String::new()
            } else {
                reason(&b)
            };
            eprintln!("{test}: smbd {ca}, ours {cb} {why}");
            let _ = writeln!(table, "| {test} | {ca} | {cb} | {why} |");
        }
        let _ = writeln!(
            summary,
            "| smb2.{suite} | {} | {n_smbd} | {n_ours} | {n_both} |",
            tests.len()
        );
        let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../SMBTORTURE.md");
        let text = format!(
            "# smbtorture smb2.* against smbd and our server\n\nGenerated by `cargo test -p conformance \
             --test server_vs_smbtorture -- --ignored smbtorture_table` ({limit} s per test; \
             both servers run at once on a loaded machine, debug build).\n\n\
             {summary}\n{REASONS}\n## Per test\n\n{table}"
        );
        std::fs::write(&out, text).expect("write SMBTORTURE.md");
    }
    eprintln!("{summary}");
}

/// Debugging aid: serves our server on 127.0.0.1 (port printed, user `smbtest`) for
/// `SMBTORTURE_SERVE_SECS` seconds (default 600), so smbtorture can be pointed at it by hand.
#[test]
#[ignore = "manual: serves our server for hand-run smbtorture"]
fn serve_for_smbtorture() {
    let server = OurServer::start();
    let secs = std::env::var("SMBTORTURE_SERVE_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(600);
    eprintln!(
        "serving //127.0.0.1/{SHARE} -p {} -U {USER}%{PASS} for {secs} s",
        server.port()
    );
    std::thread::sleep(Duration::from_secs(secs));
}
