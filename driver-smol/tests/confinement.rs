//! Path confinement of the local-directory file system (issue 10, "Path confinement").
//!
//! Every test runs against both resolution strategies: `openat2` (when the kernel has it) and the
//! forced `O_NOFOLLOW` walk. The share lives in a temp dir next to an `outside` directory holding
//! a secret; after each hostile operation the outside directory must be exactly as it was.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;

use driver_smol::fs::{
    CreateAction, Disposition, FileKind, FsError, KindRequired, OpenOptions, PathError, Root,
    RootOptions, SetTimes, SmbPath, Strategy, status,
};

const SECRET: &[u8] = b"SECRET outside the share";

struct Fixture {
    _tmp: tempfile::TempDir,
    share: PathBuf,
    outside: PathBuf,
}

impl Fixture {
    /// `tmp/share` (the root) with links that point out, and `tmp/outside` with a secret.
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let share = tmp.path().join("share");
        let outside = tmp.path().join("outside");
        fs::create_dir(&share).unwrap();
        fs::create_dir(&outside).unwrap();
        fs::write(outside.join("secret.txt"), SECRET).unwrap();
        fs::create_dir(share.join("dir")).unwrap();
        fs::write(share.join("dir").join("inner.txt"), b"inner").unwrap();
        symlink(&outside, share.join("abs_link")).unwrap();
        symlink("../outside", share.join("rel_link")).unwrap();
        symlink(outside.join("secret.txt"), share.join("abs_file_link")).unwrap();
        symlink("../outside/secret.txt", share.join("rel_file_link")).unwrap();
        symlink("/etc", share.join("etc_link")).unwrap();
        symlink("dir", share.join("inside_link")).unwrap();
        symlink("../../outside", share.join("dir").join("deep_link")).unwrap();
        Self {
            _tmp: tmp,
            share,
            outside,
        }
    }

    fn roots(&self) -> Vec<Root> {
        let fast = Root::open(&self.share).unwrap();
        let walk = Root::open_with(
            &self.share,
            RootOptions {
                force_walk: true,
                ..RootOptions::default()
            },
        )
        .unwrap();
        assert_eq!(walk.strategy(), Strategy::Walk);
        vec![fast, walk]
    }

    /// The outside directory, name → content; must never change.
    fn outside_snapshot(&self) -> BTreeMap<String, Vec<u8>> {
        snapshot(&self.outside)
    }

    fn assert_outside_untouched(&self) {
        let want = BTreeMap::from([("secret.txt".to_owned(), SECRET.to_vec())]);
        assert_eq!(
            self.outside_snapshot(),
            want,
            "the outside directory changed"
        );
        // Nothing appeared next to share/ and outside/ either.
        let mut siblings: Vec<_> = fs::read_dir(self.share.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        siblings.sort();
        assert_eq!(siblings, ["outside", "share"]);
    }
}

fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let content = fs::read(e.path()).unwrap_or_default();
            (e.file_name().into_string().unwrap(), content)
        })
        .collect()
}

fn p(name: &str) -> SmbPath {
    SmbPath::parse(name).unwrap()
}

fn rw() -> OpenOptions {
    OpenOptions::open_existing().access(true, true)
}

fn read_all(root: &Root, name: &str) -> Vec<u8> {
    let (h, _) = root
        .open_file(&p(name), &OpenOptions::open_existing())
        .unwrap();
    let mut buf = vec![0; 1 << 16];
    let n = h.read_at(&mut buf, 0).unwrap();
    buf.truncate(n);
    buf
}

/// What a hostile name must come to.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// Refused by the name rules, before any system call.
    Lexical,
    /// Valid as a name but refused at resolution (a symlink on the way).
    Symlink,
    /// Accepted: a harmless name that must be created inside the share, under that exact name.
    Confined,
}

fn hostile_names() -> Vec<(String, Expect)> {
    use Expect::*;
    let mut v: Vec<(String, Expect)> = [
        ("..", Lexical),
        ("..\\..", Lexical),
        ("a\\..\\..\\etc", Lexical),
        ("dir\\..\\..\\outside\\secret.txt", Lexical),
        ("..\\outside\\secret.txt", Lexical),
        ("/etc", Lexical),
        ("/etc/passwd", Lexical),
        ("a/../../etc", Lexical),
        ("C:\\", Lexical),
        ("C:\\Windows\\win.ini", Lexical),
        ("\\\\?\\C:\\", Lexical),
        ("\\\\server\\share", Lexical),
        ("\\etc\\passwd", Lexical),
        ("\\", Lexical),
        ("a\0b", Lexical),
        ("\0", Lexical),
        ("secret.txt\0.jpg", Lexical),
        ("file.", Lexical),
        ("file ", Lexical),
        ("file. . ", Lexical),
        ("...", Lexical),
        ("dir.\\inner.txt", Lexical),
        ("file:stream", Lexical),
        ("file::$DATA", Lexical),
        ("dir\\inner.txt:$DATA", Lexical),
        ("\u{1}", Lexical),
        ("a\u{1f}b", Lexical),
        ("tab\there", Lexical),
        ("new\nline", Lexical),
        ("CON", Lexical),
        ("con.txt", Lexical),
        ("dir\\LPT1", Lexical),
        ("NUL.tar.gz", Lexical),
        ("a\\\\b", Lexical),
        ("dir\\", Lexical),
        (".", Lexical),
        (".\\dir", Lexical),
        ("dir\\.\\inner.txt", Lexical),
        ("*", Lexical),
        ("dir\\?.txt", Lexical),
        ("a<b", Lexical),
        ("a>b", Lexical),
        ("a|b", Lexical),
        ("a\"b", Lexical),
        ("abs_link\\secret.txt", Symlink),
        ("rel_link\\secret.txt", Symlink),
        ("abs_file_link", Symlink),
        ("rel_file_link", Symlink),
        ("etc_link\\passwd", Symlink),
        ("dir\\deep_link\\secret.txt", Symlink),
        ("inside_link\\inner.txt", Symlink),
        ("\u{2215}etc\u{2215}passwd", Confined),
        ("\u{ff0e}\u{ff0e}", Confined),
        ("\u{2024}\u{2024}", Confined),
        ("\u{ff23}\u{ff2f}\u{ff2e}", Confined),
        ("\u{ff3c}outside", Confined),
        ("..\u{200b}", Confined),
        ("COM10", Confined),
        ("del\u{7f}", Confined),
    ]
    .into_iter()
    .map(|(n, e)| (n.to_owned(), e))
    .collect();
    v.push(("a".repeat(300), Lexical));
    v.push(("é".repeat(128), Lexical));
    v.push(("a\\".repeat(20_000), Lexical));
    v.push(("b".repeat(40_000), Lexical));
    v
}

#[test]
fn at_least_thirty_hostile_names_are_refused_or_confined() {
    let names = hostile_names();
    assert!(names.len() >= 30);
    let fx = Fixture::new();
    for root in fx.roots() {
        for (name, expect) in &names {
            let shown: String = name.chars().take(40).collect();
            let parsed = SmbPath::parse(name);
            match expect {
                Expect::Lexical => {
                    let err = parsed.expect_err(&shown);
                    let fs_err = FsError::from(err);
                    assert!(fs_err.is_confinement());
                    assert!(
                        [
                            status::OBJECT_NAME_INVALID,
                            status::OBJECT_PATH_SYNTAX_BAD,
                            status::INVALID_PARAMETER,
                            status::NAME_TOO_LONG,
                        ]
                        .contains(&fs_err.nt_status()),
                        "{shown:?}: {fs_err:?}"
                    );
                }
                Expect::Symlink => {
                    let path = parsed.unwrap();
                    let create = OpenOptions::open_existing()
                        .disposition(Disposition::OpenIf)
                        .access(true, true);
                    for opts in [OpenOptions::open_existing(), create] {
                        let err = root.open_file(&path, &opts).unwrap_err();
                        assert_eq!(err, FsError::SymlinkRefused, "{shown:?}");
                        assert_eq!(err.nt_status(), status::ACCESS_DENIED);
                    }
                    assert_eq!(root.stat(&path).unwrap_err(), FsError::SymlinkRefused);
                    assert!(root.unlink(&path).is_err(), "{shown:?}");
                    assert!(root.mkdir(&path, 0o755).is_err(), "{shown:?}");
                    assert!(root.rename(&path, &p("moved"), false).is_err(), "{shown:?}");
                    assert!(root.rename(&p("dir\\inner.txt"), &path, true).is_err());
                }
                Expect::Confined => {
                    let path = parsed.expect(&shown);
                    let opts = OpenOptions::open_existing()
                        .disposition(Disposition::Create)
                        .access(true, true);
                    let (h, action) = root.open_file(&path, &opts).unwrap();
                    assert_eq!(action, CreateAction::Created);
                    h.write_at(b"confined", 0).unwrap();
                    assert_eq!(fs::read(fx.share.join(name)).unwrap(), b"confined");
                    root.unlink(&path).unwrap();
                }
            }
            fx.assert_outside_untouched();
        }
        assert_eq!(read_all(&root, "dir\\inner.txt"), b"inner");
    }
}

#[test]
fn symlinks_pointing_outside_are_refused_for_every_operation() {
    let fx = Fixture::new();
    for root in fx.roots() {
        for link in ["abs_link", "rel_link", "etc_link", "dir\\deep_link"] {
            let l = p(link);
            let inner = p(&format!("{link}\\secret.txt"));
            let newfile = p(&format!("{link}\\new.txt"));
            let dir_opts = OpenOptions::open_existing().kind(KindRequired::Directory);
            // open, as a file and as a directory to list it (readdir descend)
            assert_eq!(
                root.open_file(&l, &dir_opts).unwrap_err(),
                FsError::SymlinkRefused
            );
            assert_eq!(
                root.open_file(&l, &OpenOptions::open_existing())
                    .unwrap_err(),
                FsError::SymlinkRefused
            );
            assert_eq!(
                root.open_file(&inner, &OpenOptions::open_existing())
                    .unwrap_err(),
                FsError::SymlinkRefused
            );
            let create = rw().disposition(Disposition::OverwriteIf);
            assert_eq!(
                root.open_file(&newfile, &create).unwrap_err(),
                FsError::SymlinkRefused
            );
            // stat
            assert_eq!(root.stat(&l).unwrap_err(), FsError::SymlinkRefused);
            assert_eq!(root.stat(&inner).unwrap_err(), FsError::SymlinkRefused);
            // mkdir through it
            assert_eq!(
                root.mkdir(&newfile, 0o755).unwrap_err(),
                FsError::SymlinkRefused
            );
            // rename: the link itself, out of it, into it, and over it
            assert_eq!(
                root.rename(&l, &p("renamed"), false).unwrap_err(),
                FsError::SymlinkRefused
            );
            assert_eq!(
                root.rename(&inner, &p("stolen.txt"), false).unwrap_err(),
                FsError::SymlinkRefused
            );
            assert_eq!(
                root.rename(&p("dir\\inner.txt"), &newfile, false)
                    .unwrap_err(),
                FsError::SymlinkRefused
            );
            fs::write(fx.share.join("victim.txt"), b"v").unwrap();
            assert_eq!(
                root.rename(&p("victim.txt"), &l, true).unwrap_err(),
                FsError::SymlinkRefused
            );
            // unlink / rmdir / remove: the link and through it
            assert_eq!(root.unlink(&l).unwrap_err(), FsError::SymlinkRefused);
            assert_eq!(root.rmdir(&l).unwrap_err(), FsError::SymlinkRefused);
            assert_eq!(root.remove(&l).unwrap_err(), FsError::SymlinkRefused);
            assert_eq!(root.unlink(&inner).unwrap_err(), FsError::SymlinkRefused);
            fx.assert_outside_untouched();
        }
        for link in ["abs_file_link", "rel_file_link"] {
            let l = p(link);
            assert_eq!(
                root.open_file(&l, &OpenOptions::open_existing())
                    .unwrap_err(),
                FsError::SymlinkRefused
            );
            let trunc = rw().disposition(Disposition::Overwrite);
            assert_eq!(
                root.open_file(&l, &trunc).unwrap_err(),
                FsError::SymlinkRefused
            );
            // CREATE on an existing link is a collision: the name exists, and is not followed.
            let create = rw().disposition(Disposition::Create);
            assert_eq!(root.open_file(&l, &create).unwrap_err(), FsError::Collision);
            assert_eq!(root.stat(&l).unwrap_err(), FsError::SymlinkRefused);
            assert_eq!(root.unlink(&l).unwrap_err(), FsError::SymlinkRefused);
            fx.assert_outside_untouched();
        }
        // A listing shows neither links nor what they point to.
        let (top, _) = root
            .open_file(&SmbPath::root(), &OpenOptions::open_existing())
            .unwrap();
        let names: Vec<String> = top
            .read_dir(None, 100)
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(names, ["dir", "victim.txt"]);
        fs::remove_file(fx.share.join("victim.txt")).unwrap();
        // The links are all still there: nothing removed or replaced them.
        assert!(
            fs::symlink_metadata(fx.share.join("abs_link"))
                .unwrap()
                .is_symlink()
        );
        assert!(
            fs::symlink_metadata(fx.share.join("abs_file_link"))
                .unwrap()
                .is_symlink()
        );
    }
}

/// One thread keeps exchanging `swap` between a real directory and a symlink to the outside
/// directory (renameat2 RENAME_EXCHANGE, so the name is never missing); others open, stat, list
/// and create beneath `swap`. Nothing may ever be read from, listed in or created in `outside`.
#[test]
fn directory_swapped_for_a_symlink_never_escapes() {
    const SWAPS: usize = 20_000;
    let fx = Fixture::new();
    fs::write(fx.outside.join("target.txt"), b"OUTSIDE").unwrap();
    fs::write(fx.outside.join("only_outside.txt"), b"x").unwrap();
    let before = fx.outside_snapshot();
    fs::create_dir(fx.share.join("swap")).unwrap();
    fs::write(fx.share.join("swap").join("target.txt"), b"INSIDE").unwrap();
    symlink(&fx.outside, fx.share.join("swap_alt")).unwrap();

    let mut roots = fx.roots();
    // The case-insensitive translation runs before the confined resolution: race it too.
    roots.push(
        Root::open_with(
            &fx.share,
            RootOptions {
                case_insensitive: true,
                ..RootOptions::default()
            },
        )
        .unwrap(),
    );
    for root in roots {
        let root = Arc::new(root);
        let done = Arc::new(AtomicBool::new(false));
        // The swapper starts only once both workers are running, so a loaded machine cannot let
        // it finish before they look.
        let start = Arc::new(Barrier::new(3));
        let share_fd = rustix::fs::open(
            &fx.share,
            rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY,
            rustix::fs::Mode::empty(),
        )
        .unwrap();
        let swapper = {
            let done = done.clone();
            let start = start.clone();
            thread::spawn(move || {
                start.wait();
                for _ in 0..SWAPS {
                    rustix::fs::renameat_with(
                        &share_fd,
                        "swap",
                        &share_fd,
                        "swap_alt",
                        rustix::fs::RenameFlags::EXCHANGE,
                    )
                    .unwrap();
                }
                done.store(true, Ordering::SeqCst);
            })
        };
        let workers: Vec<_> = (0..2)
            .map(|w| {
                let root = root.clone();
                let done = done.clone();
                let start = start.clone();
                thread::spawn(move || {
                    start.wait();
                    let (mut inside, mut refused, mut i) = (0u64, 0u64, 0u64);
                    let dir_opts = OpenOptions::open_existing().kind(KindRequired::Directory);
                    while i == 0 || !done.load(Ordering::SeqCst) {
                        i += 1;
                        match root.open_file(&p("swap\\target.txt"), &OpenOptions::open_existing())
                        {
                            Ok((h, _)) => {
                                let mut buf = [0u8; 16];
                                let n = h.read_at(&mut buf, 0).unwrap();
                                assert_eq!(&buf[..n], b"INSIDE", "read a file outside the root");
                                inside += 1;
                            }
                            Err(e) => {
                                // The walk can see the name change kind between two steps.
                                assert!(
                                    matches!(
                                        e,
                                        FsError::SymlinkRefused
                                            | FsError::NotFound
                                            | FsError::PathNotFound
                                            | FsError::NotADirectory
                                    ),
                                    "{e:?}"
                                );
                                refused += 1;
                            }
                        }
                        if let Ok(st) = root.stat(&p("swap\\only_outside.txt")) {
                            panic!("stat reached outside: {st:?}");
                        }
                        if let Ok((d, _)) = root.open_file(&p("swap"), &dir_opts) {
                            let listed = d.read_dir(None, 16).unwrap();
                            assert!(listed.iter().all(|e| e.name != "only_outside.txt"));
                        }
                        let victim = p("swap\\only_outside.txt");
                        let stolen = p(&format!("stolen_{w}_{i}"));
                        assert!(root.rename(&victim, &stolen, false).is_err());
                        assert!(root.unlink(&victim).is_err());
                        let new = p(&format!("swap\\new_{w}_{i}.txt"));
                        let create = rw().disposition(Disposition::Create);
                        if root.open_file(&new, &create).is_ok() {
                            // Created inside: remove it so the directory stays small.
                            let _ = root.unlink(&new);
                        }
                    }
                    (inside, refused)
                })
            })
            .collect();
        swapper.join().unwrap();
        let mut totals = (0, 0);
        for w in workers {
            let (inside, refused) = w.join().unwrap();
            totals.0 += inside;
            totals.1 += refused;
        }
        eprintln!(
            "{:?}: {SWAPS} swaps, {} opens inside, {} refused",
            root.strategy(),
            totals.0,
            totals.1
        );
        assert!(totals.0 + totals.1 > 0, "the workers never ran");
        assert_eq!(
            fx.outside_snapshot(),
            before,
            "something changed outside the root"
        );
        // Leave `swap` as the real directory for the next strategy.
        if fs::symlink_metadata(fx.share.join("swap"))
            .unwrap()
            .is_symlink()
        {
            rustix::fs::renameat_with(
                rustix::fs::CWD,
                fx.share.join("swap").as_path(),
                rustix::fs::CWD,
                fx.share.join("swap_alt").as_path(),
                rustix::fs::RenameFlags::EXCHANGE,
            )
            .unwrap();
        }
    }
}

#[test]
fn normal_operations_work() {
    let fx = Fixture::new();
    for (i, root) in fx.roots().into_iter().enumerate() {
        let base = format!("work{i}");
        let d = |s: &str| p(&format!("{base}\\{s}"));
        root.mkdir(&p(&base), 0o755).unwrap();
        root.mkdir(&d("a"), 0o755).unwrap();
        root.mkdir(&d("a\\b"), 0o755).unwrap();
        assert_eq!(root.mkdir(&d("a"), 0o755).unwrap_err(), FsError::Collision);
        assert_eq!(
            root.mkdir(&d("x\\y"), 0o755).unwrap_err(),
            FsError::PathNotFound
        );

        // create, write, read back, positional I/O
        let f = d("a\\b\\file.bin");
        let create = rw().disposition(Disposition::Create);
        let (h, action) = root.open_file(&f, &create).unwrap();
        assert_eq!(action, CreateAction::Created);
        assert_eq!(h.kind(), FileKind::File);
        let data: Vec<u8> = (0..100_000u32).map(|x| x as u8).collect();
        assert_eq!(h.write_at(&data, 0).unwrap(), data.len());
        h.write_at(b"XYZ", 10).unwrap();
        h.flush().unwrap();
        let mut buf = vec![0; 5];
        assert_eq!(h.read_at(&mut buf, 9).unwrap(), 5);
        assert_eq!(buf, [9, b'X', b'Y', b'Z', 13]);
        let mut tail = vec![0; 64];
        assert_eq!(h.read_at(&mut tail, 99_990).unwrap(), 10);
        assert_eq!(h.read_at(&mut tail, 1 << 40).unwrap(), 0);
        assert_eq!(
            h.read_at(&mut tail, u64::MAX).unwrap_err(),
            FsError::FileTooLarge
        );
        let st = h.stat().unwrap();
        assert_eq!(st.size, 100_000);
        assert_eq!(st.attributes(), driver_smol::fs::FILE_ATTRIBUTE_NORMAL);
        assert!(st.file_index != 0);
        assert!(st.last_write_time.0 > 116_444_736_000_000_000);
        assert_eq!(root.stat(&f).unwrap().file_index, st.file_index);

        // end of file and times
        h.set_len(10).unwrap();
        assert_eq!(h.stat().unwrap().size, 10);
        let when = driver_smol::fs::FileTime::from_unix(1_000_000_000, 500);
        h.set_times(SetTimes {
            last_access: None,
            last_write: Some(when),
        })
        .unwrap();
        assert_eq!(h.stat().unwrap().last_write_time, when);
        drop(h);

        // dispositions
        assert_eq!(root.open_file(&f, &create).unwrap_err(), FsError::Collision);
        let (h, action) = root
            .open_file(&f, &rw().disposition(Disposition::OpenIf))
            .unwrap();
        assert_eq!((action, h.stat().unwrap().size), (CreateAction::Opened, 10));
        let (h, action) = root
            .open_file(&f, &rw().disposition(Disposition::Overwrite))
            .unwrap();
        assert_eq!(
            (action, h.stat().unwrap().size),
            (CreateAction::Overwritten, 0)
        );
        let (_, action) = root
            .open_file(&f, &rw().disposition(Disposition::Supersede))
            .unwrap();
        assert_eq!(action, CreateAction::Superseded);
        let g = d("a\\g.txt");
        let (_, action) = root
            .open_file(&g, &rw().disposition(Disposition::OverwriteIf))
            .unwrap();
        assert_eq!(action, CreateAction::Created);
        assert_eq!(
            root.open_file(&d("a\\none"), &rw().disposition(Disposition::Overwrite))
                .unwrap_err(),
            FsError::NotFound
        );
        assert_eq!(
            root.open_file(&d("nodir\\none"), &OpenOptions::open_existing())
                .unwrap_err(),
            FsError::PathNotFound
        );
        assert_eq!(
            root.open_file(&d("a\\g.txt\\x"), &OpenOptions::open_existing())
                .unwrap_err(),
            FsError::PathNotFound
        );

        // directory and non-directory options
        let dir_opts = OpenOptions::open_existing().kind(KindRequired::Directory);
        let file_opts = OpenOptions::open_existing().kind(KindRequired::NonDirectory);
        assert_eq!(
            root.open_file(&g, &dir_opts).unwrap_err(),
            FsError::NotADirectory
        );
        assert_eq!(
            root.open_file(&d("a"), &file_opts).unwrap_err(),
            FsError::IsADirectory
        );
        assert_eq!(
            root.open_file(&d("a"), &rw().disposition(Disposition::Overwrite))
                .unwrap_err(),
            FsError::IsADirectory
        );
        assert_eq!(
            root.open_file(&d("a"), &dir_opts.disposition(Disposition::OverwriteIf))
                .unwrap_err(),
            FsError::InvalidParameter
        );
        let (dh, _) = root.open_file(&d("a"), &rw()).unwrap();
        assert!(dh.is_dir());
        assert_eq!(
            dh.read_at(&mut [0; 4], 0).unwrap_err(),
            FsError::IsADirectory
        );
        let (_, action) = root
            .open_file(&d("newdir"), &dir_opts.disposition(Disposition::Create))
            .unwrap();
        assert_eq!(action, CreateAction::Created);
        let (_, action) = root
            .open_file(&d("newdir"), &dir_opts.disposition(Disposition::OpenIf))
            .unwrap();
        assert_eq!(action, CreateAction::Opened);
        assert!(root.stat(&d("newdir")).unwrap().is_dir());
        assert_eq!(
            root.stat(&d("newdir")).unwrap().attributes(),
            driver_smol::fs::FILE_ATTRIBUTE_DIRECTORY
        );

        // listing with resume, in name order
        for n in 0..25 {
            let name = d(&format!("a\\f{n:02}"));
            root.open_file(&name, &create).unwrap();
        }
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = dh.read_dir(cursor.as_deref(), 7).unwrap();
            if page.is_empty() {
                break;
            }
            assert!(page.len() <= 7);
            cursor = page.last().map(|e| e.name.clone());
            seen.extend(page.into_iter().map(|e| (e.name, e.stat.kind)));
        }
        assert_eq!(seen.len(), 27);
        assert_eq!(seen[0], ("b".to_owned(), FileKind::Directory));
        assert_eq!(seen[1].0, "f00");
        assert_eq!(seen[26].0, "g.txt");
        assert!(seen.windows(2).all(|w| w[0].0 < w[1].0));

        // rename: no replace, replace, across directories, directory over directory
        let h2 = d("a\\f00");
        assert_eq!(
            root.rename(&h2, &d("a\\f01"), false).unwrap_err(),
            FsError::Collision
        );
        root.rename(&h2, &d("a\\f01"), true).unwrap();
        assert_eq!(root.stat(&h2).unwrap_err(), FsError::NotFound);
        root.rename(&d("a\\f01"), &d("moved.txt"), false).unwrap();
        assert!(root.stat(&d("moved.txt")).is_ok());
        assert_eq!(
            root.rename(&d("moved.txt"), &d("a\\b"), true).unwrap_err(),
            FsError::AccessDenied
        );
        assert_eq!(
            root.rename(&d("a"), &d("a\\b\\inside"), false).unwrap_err(),
            FsError::InvalidParameter
        );
        root.rename(&d("newdir"), &d("renamed_dir"), false).unwrap();
        assert_eq!(
            root.rename(&d("ghost"), &d("x"), false).unwrap_err(),
            FsError::NotFound
        );

        // delete
        assert_eq!(root.rmdir(&d("a")).unwrap_err(), FsError::DirectoryNotEmpty);
        assert_eq!(root.unlink(&d("a")).unwrap_err(), FsError::IsADirectory);
        assert_eq!(
            root.rmdir(&d("moved.txt")).unwrap_err(),
            FsError::NotADirectory
        );
        root.unlink(&d("moved.txt")).unwrap();
        root.remove(&d("renamed_dir")).unwrap();
        assert_eq!(root.unlink(&d("moved.txt")).unwrap_err(), FsError::NotFound);
        assert_eq!(
            root.unlink(&SmbPath::root()).unwrap_err(),
            FsError::AccessDenied
        );

        // volume sizes
        let vfs = root.statvfs().unwrap();
        assert!(vfs.total_units > 0 && vfs.bytes_per_sector > 0 && vfs.sectors_per_unit > 0);
        assert!(vfs.caller_available_units <= vfs.total_units);
        // Free space moves with other processes' writes; the geometry does not.
        let again = dh.statvfs().unwrap();
        assert_eq!(
            (vfs.total_units, vfs.sectors_per_unit, vfs.bytes_per_sector),
            (
                again.total_units,
                again.sectors_per_unit,
                again.bytes_per_sector
            )
        );
    }
    fx.assert_outside_untouched();
}

#[test]
fn listings_hide_what_cannot_be_opened() {
    let fx = Fixture::new();
    for bad in ["trail.", "trail ", "a:b", "CON", "star*", "ctl\u{1}"] {
        fs::write(fx.share.join("dir").join(bad), b"x").unwrap();
    }
    rustix::fs::mkfifoat(
        rustix::fs::CWD,
        fx.share.join("dir").join("fifo").as_path(),
        rustix::fs::Mode::from_raw_mode(0o644),
    )
    .unwrap();
    for root in fx.roots() {
        let (d, _) = root
            .open_file(&p("dir"), &OpenOptions::open_existing())
            .unwrap();
        let names: Vec<String> = d
            .read_dir(None, 100)
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(names, ["inner.txt"]);
        // Opening a FIFO neither blocks nor succeeds.
        let err = root
            .open_file(&p("dir\\fifo"), &OpenOptions::open_existing())
            .unwrap_err();
        assert_eq!(err, FsError::UnsupportedFileType);
        assert_eq!(
            root.stat(&p("dir\\fifo")).unwrap_err(),
            FsError::UnsupportedFileType
        );
    }
}

#[test]
fn both_strategies_resolve_to_the_same_objects() {
    let fx = Fixture::new();
    let roots = fx.roots();
    // Informational: the kernel this runs on decides which one `Root::open` picks.
    eprintln!("default strategy on this kernel: {:?}", roots[0].strategy());
    for name in ["", "dir", "dir\\inner.txt"] {
        let ids: Vec<u64> = roots
            .iter()
            .map(|r| r.stat(&p(name)).unwrap().file_index)
            .collect();
        assert_eq!(ids[0], ids[1], "{name:?}");
    }
    for name in ["abs_link", "dir\\nothing", "nodir\\x", "dir\\inner.txt\\x"] {
        let errs: Vec<FsError> = roots
            .iter()
            .map(|r| r.stat(&p(name)).unwrap_err())
            .collect();
        assert_eq!(errs[0], errs[1], "{name:?}");
    }
    assert_eq!(
        FsError::from(PathError::StreamsNotSupported).nt_status(),
        status::OBJECT_NAME_INVALID
    );
}

#[test]
fn case_insensitive_option_matches_names_and_stays_confined() {
    let fx = Fixture::new();
    fs::create_dir(fx.share.join("Docs")).unwrap();
    fs::write(fx.share.join("Docs").join("ReadMe.TXT"), b"hello").unwrap();
    let exact = Root::open(&fx.share).unwrap();
    assert_eq!(
        exact.stat(&p("docs\\readme.txt")).unwrap_err(),
        FsError::PathNotFound
    );
    for force_walk in [false, true] {
        let root = Root::open_with(
            &fx.share,
            RootOptions {
                force_walk,
                case_insensitive: true,
            },
        )
        .unwrap();
        assert_eq!(read_all(&root, "docs\\readme.txt"), b"hello");
        assert_eq!(read_all(&root, "DOCS\\README.TXT"), b"hello");
        let create = rw().disposition(Disposition::Create);
        assert_eq!(
            root.open_file(&p("DOCS\\readme.Txt"), &create).unwrap_err(),
            FsError::Collision
        );
        let (_, action) = root
            .open_file(
                &p("docs\\README.txt"),
                &rw().disposition(Disposition::OpenIf),
            )
            .unwrap();
        assert_eq!(action, CreateAction::Opened);
        // A new name is created as spelled, inside the existing directory's spelling.
        root.open_file(&p("docs\\New.txt"), &create).unwrap();
        assert!(fx.share.join("Docs").join("New.txt").is_file());
        // A case-only rename changes the spelling; a rename onto another case variant collides.
        root.rename(&p("docs\\new.txt"), &p("DOCS\\NEW.TXT"), false)
            .unwrap();
        assert!(fx.share.join("Docs").join("NEW.TXT").is_file());
        assert_eq!(
            root.rename(&p("docs\\new.txt"), &p("docs\\readme.txt"), false)
                .unwrap_err(),
            FsError::Collision
        );
        root.unlink(&p("DOCS\\new.TXT")).unwrap();
        assert!(!fx.share.join("Docs").join("NEW.TXT").exists());
        root.mkdir(&p("docs\\Sub"), 0o755).unwrap();
        assert_eq!(
            root.mkdir(&p("DOCS\\SUB"), 0o755).unwrap_err(),
            FsError::Collision
        );
        root.rmdir(&p("docs\\sub")).unwrap();
        // Links stay refused whatever their spelling.
        for name in [
            "ABS_LINK\\secret.txt",
            "Abs_File_Link",
            "DIR\\DEEP_LINK\\secret.txt",
        ] {
            assert_eq!(
                root.open_file(&p(name), &OpenOptions::open_existing())
                    .unwrap_err(),
                FsError::SymlinkRefused,
                "{name}"
            );
        }
        fx.assert_outside_untouched();
    }
}

mod random_paths {
    use super::*;
    use proptest::prelude::*;
    use proptest::strategy::Strategy as _;

    /// Pieces that are hostile on their own or next to each other.
    const PIECES: &[&str] = &[
        "..",
        ".",
        "",
        "abs_link",
        "rel_link",
        "etc_link",
        "inside_link",
        "dir",
        "deep_link",
        "secret.txt",
        "a",
        "/",
        ":",
        "\0",
        " ",
        "x.",
        "\\",
        "C:",
        "?",
        "new",
    ];

    fn hostile_path() -> impl proptest::strategy::Strategy<Value = String> {
        prop::collection::vec(
            (
                prop::sample::select(PIECES),
                prop::sample::select(&["\\", "", "/"][..]),
            ),
            1..6,
        )
        .prop_map(|parts| {
            parts
                .into_iter()
                .map(|(piece, sep)| format!("{piece}{sep}"))
                .collect::<String>()
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]
        /// Whatever the name, every operation either fails or stays inside the share, and
        /// nothing outside ever changes.
        #[test]
        fn any_operation_on_any_name_stays_inside(names in prop::collection::vec(hostile_path(), 1..4)) {
            let fx = Fixture::new();
            for root in fx.roots() {
                for name in &names {
                    let Ok(path) = SmbPath::parse(name) else { continue };
                    let opts = rw().disposition(Disposition::OpenIf);
                    if let Ok((h, _)) = root.open_file(&path, &opts) {
                        if !h.is_dir() {
                            prop_assert!(h.write_at(b"w", 0).is_ok());
                        }
                        let st = h.stat().unwrap();
                        let outside_ino = fs::metadata(fx.outside.join("secret.txt")).unwrap();
                        prop_assert_ne!(st.file_index, std::os::unix::fs::MetadataExt::ino(&outside_ino));
                    }
                    let _ = root.mkdir(&path, 0o755);
                    let _ = root.stat(&path);
                    let _ = root.rename(&path, &p("renamed"), false);
                    let _ = root.rename(&p("dir\\inner.txt"), &path, true);
                    let _ = root.remove(&path);
                    fx.assert_outside_untouched();
                }
            }
        }
    }
}
