//! CPU time of processes, split into user and system time as Linux accounts it, and the
//! ceiling it puts on a transfer.
//!
//! On loopback the kernel charges the socket copies, TCP processing and page-cache work to
//! the process that makes the system call, so a transfer that costs the client `c` and the
//! server `s` CPU seconds per GiB cannot move faster than `cores / (c + s)` GiB/s, however
//! the two overlap. [`ceiling_mib_s`] computes that bound and [`print_ceilings`] prints it next
//! to the measured rates, and with our side's system time alone, the part no user-space change
//! can remove. [`run_observed`] runs a peer process and splits its wall-clock time as the
//! scheduler saw it.
//! Must not: decide what a figure means (the benches' READMEs do).

use std::collections::BTreeSet;
use std::io::Read;
use std::ops::{Add, Sub};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// CPU seconds, user and system.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CpuTime {
    pub user: f64,
    pub system: f64,
}

impl CpuTime {
    pub fn total(self) -> f64 {
        self.user + self.system
    }

    /// Seconds per GiB moved, for `bytes` moved.
    pub fn per_gib(self, bytes: u64) -> CpuTime {
        let gib = bytes as f64 / f64::from(1u32 << 30);
        CpuTime {
            user: self.user / gib,
            system: self.system / gib,
        }
    }

    /// The median of each part (see [`crate::median`]).
    pub fn median(v: &[CpuTime]) -> CpuTime {
        let part = |f: fn(&CpuTime) -> f64| crate::median(&v.iter().map(f).collect::<Vec<_>>());
        CpuTime {
            user: part(|c| c.user),
            system: part(|c| c.system),
        }
    }
}

impl Add for CpuTime {
    type Output = CpuTime;
    fn add(self, o: CpuTime) -> CpuTime {
        CpuTime {
            user: self.user + o.user,
            system: self.system + o.system,
        }
    }
}

impl Sub for CpuTime {
    type Output = CpuTime;
    fn sub(self, o: CpuTime) -> CpuTime {
        CpuTime {
            user: self.user - o.user,
            system: self.system - o.system,
        }
    }
}

impl std::fmt::Display for CpuTime {
    /// `total (user u + system s)`, two decimals.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:.2} ({:.2} u + {:.2} s)",
            self.total(),
            self.user,
            self.system
        )
    }
}

/// The fastest a transfer can run, in MiB/s, when all its processes together spend
/// `seconds_per_gib` CPU seconds per GiB on a machine with `cores` cores.
pub fn ceiling_mib_s(cores: usize, seconds_per_gib: f64) -> f64 {
    if seconds_per_gib <= 0.0 {
        return f64::INFINITY;
    }
    cores as f64 * 1024.0 / seconds_per_gib
}

/// One row of a ceiling table: a reference transfer and ours, each with its measured rate and
/// the CPU seconds per GiB both of its processes spent.
#[derive(Debug, Clone, Copy)]
pub struct CeilingRow<'a> {
    pub mode: &'a str,
    pub direction: &'a str,
    pub theirs_mib_s: f64,
    pub theirs_cpu: f64,
    pub ours_mib_s: f64,
    pub ours_cpu: f64,
    /// As `ours_cpu`, counting only the system time of our side.
    pub ours_cpu_system_only: f64,
}

/// Prints the ceilings table: `reference` is the peer we are compared with (`smbclient`,
/// `smbd`), `pair` names the two processes of a transfer, `ours` our side, `target` the ratio
/// the issue asks for.
pub fn print_ceilings(
    rows: &[CeilingRow<'_>],
    reference: &str,
    pair: &str,
    ours: &str,
    target: f64,
) {
    let n = cores();
    println!();
    println!(
        "CPU ceilings on {n} cores, MiB/s: {n} / ({pair} CPU s/GiB); the last column counts only \
         our {ours}'s system time (the kernel's socket and page-cache work), the bound if our \
         {ours}'s own code cost nothing"
    );
    println!(
        "| mode | direction | {reference} | its ceiling | ours | our ceiling | {target} x \
         {reference} | our ceiling, system time only |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        println!(
            "| {} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} |",
            r.mode,
            r.direction,
            r.theirs_mib_s,
            ceiling_mib_s(n, r.theirs_cpu),
            r.ours_mib_s,
            ceiling_mib_s(n, r.ours_cpu),
            target * r.theirs_mib_s,
            ceiling_mib_s(n, r.ours_cpu_system_only),
        );
    }
}

/// The cores this process may run on.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// CPU time used so far by this process (all threads) and by its waited-for children, from
/// `/proc/self/stat`; zeros where unavailable.
pub fn cpu_seconds() -> (CpuTime, CpuTime) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let (_, own, children) = proc_stat_times(&stat);
    (own, children)
}

/// From one `/proc/<pid>/stat` line: (ppid, own CPU time, waited-for children's CPU time),
/// from fields 14-17 in clock ticks of 1/100 s (Linux's USER_HZ); zeros where a field is
/// missing.
fn proc_stat_times(stat: &str) -> (u32, CpuTime, CpuTime) {
    // The command name (field 2) may hold spaces; the fields after it follow its last ')'.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    // `rest` starts at field 3 (state): ppid is field 4 (index 1), utime field 14 (index 11).
    let at = |i: usize| f.get(i).copied().unwrap_or(0.0) / 100.0;
    let ppid = f.get(1).copied().unwrap_or(0.0) as u32;
    let own = CpuTime {
        user: at(11),
        system: at(12),
    };
    let children = CpuTime {
        user: at(13),
        system: at(14),
    };
    (ppid, own, children)
}

/// CPU time used so far by process `pid` and every process below it: each live (or not yet
/// reaped) descendant's own time, plus the reaped children's time each parent has
/// accumulated. For a forking server such as smbd, the difference over a transfer is what the
/// server spent on it, whether its per-connection child is still alive or already reaped.
/// Zero when `/proc` is unavailable.
pub fn process_tree_cpu_seconds(pid: u32) -> CpuTime {
    // (pid, ppid, own, reaped children) of every process.
    let mut procs: Vec<(u32, u32, CpuTime, CpuTime)> = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return CpuTime::default();
    };
    for entry in dir.flatten() {
        let Some(p) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        let (ppid, own, reaped) = proc_stat_times(&stat);
        procs.push((p, ppid, own, reaped));
    }
    let mut total = CpuTime::default();
    let mut frontier = vec![pid];
    let mut seen = BTreeSet::new();
    while let Some(p) = frontier.pop() {
        if !seen.insert(p) {
            continue;
        }
        for &(q, ppid, own, reaped) in &procs {
            if q == p {
                total = total + own + reaped;
            }
            if ppid == p {
                frontier.push(q);
            }
        }
    }
    total
}

/// Where a process's threads spent their time, in seconds, from the scheduler's own
/// accounting (`/proc/<pid>/task/*/schedstat`): running, and runnable but waiting for a core.
/// What is left of its wall-clock time it slept: waiting on a peer, a timer or I/O.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SchedTimes {
    pub on_cpu: f64,
    pub waiting_for_cpu: f64,
}

/// The summed [`SchedTimes`] of every thread of `pid`; `None` once it is gone (or without
/// `/proc`). Readable until the process is reaped, so a zombie still gives its final figures.
pub fn sched_times(pid: u32) -> Option<SchedTimes> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    let mut t = SchedTimes::default();
    let mut any = false;
    for task in tasks.flatten() {
        let Ok(line) = std::fs::read_to_string(task.path().join("schedstat")) else {
            continue;
        };
        let mut f = line
            .split_whitespace()
            .map(|x| x.parse::<f64>().unwrap_or(0.0));
        t.on_cpu += f.next().unwrap_or(0.0) / 1e9;
        t.waiting_for_cpu += f.next().unwrap_or(0.0) / 1e9;
        any = true;
    }
    any.then_some(t)
}

/// A child process run to its end while watching its scheduling.
#[derive(Debug)]
pub struct Observed {
    pub output: Output,
    /// From spawn until its exit was seen (polled every 2 ms).
    pub wall: Duration,
    /// Its threads' [`SchedTimes`], sampled last just before it was reaped.
    pub sched: SchedTimes,
}

impl Observed {
    /// Wall-clock seconds it neither ran nor waited for a core.
    pub fn sleeping(&self) -> f64 {
        (self.wall.as_secs_f64() - self.sched.on_cpu - self.sched.waiting_for_cpu).max(0.0)
    }
}

/// Runs `cmd` (stdout and stderr captured) and reports its [`Observed`] times.
pub fn run_observed(cmd: &mut Command) -> std::io::Result<Observed> {
    fn drain<R: Read + Send + 'static>(r: Option<R>) -> std::thread::JoinHandle<Vec<u8>> {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut v);
            }
            v
        })
    }
    let start = Instant::now();
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
    let (out, err) = (drain(child.stdout.take()), drain(child.stderr.take()));
    let mut sched = SchedTimes::default();
    let status = loop {
        // Sample before the reap: after it the figures are gone.
        if let Some(s) = sched_times(child.id()) {
            sched = s;
        }
        if let Some(status) = child.try_wait()? {
            break status;
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let wall = start.elapsed();
    let output = Output {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    };
    Ok(Observed {
        output,
        wall,
        sched,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A command name with spaces and a ')' does not shift the fields after it.
    #[test]
    fn stat_fields_follow_the_last_parenthesis() {
        let line = "42 (smbd: a) b) S 7 42 42 0 -1 4194560 100 0 0 0 250 50 30 20 20 0 1";
        let (ppid, own, kids) = proc_stat_times(line);
        assert_eq!(ppid, 7);
        assert_eq!(
            own,
            CpuTime {
                user: 2.5,
                system: 0.5
            }
        );
        assert_eq!(
            kids,
            CpuTime {
                user: 0.3,
                system: 0.2
            }
        );
        assert_eq!(
            proc_stat_times("garbage"),
            (0, CpuTime::default(), CpuTime::default())
        );
    }

    #[test]
    fn cpu_seconds_grows_while_this_process_computes() {
        let start = cpu_seconds().0.total();
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut x = 0u64;
        // Spin until the 10 ms tick moves (bounded): the parser reads a live counter.
        while cpu_seconds().0.total() <= start && Instant::now() < deadline {
            for i in 0..100_000u64 {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
            }
        }
        assert!(cpu_seconds().0.total() > start, "utime+stime did not move");
    }

    #[test]
    fn process_tree_cpu_counts_this_process() {
        let me = std::process::id();
        let (own, kids) = cpu_seconds();
        let tree = process_tree_cpu_seconds(me);
        assert!(
            tree.total() + 0.011 >= own.total() + kids.total(),
            "tree {tree} < own {own} + children {kids}"
        );
        assert_eq!(
            process_tree_cpu_seconds(u32::MAX),
            CpuTime::default(),
            "no such process"
        );
    }

    #[test]
    fn per_gib_median_and_ceiling() {
        let c = CpuTime {
            user: 1.0,
            system: 3.0,
        };
        assert_eq!(
            c.per_gib(2 << 30),
            CpuTime {
                user: 0.5,
                system: 1.5
            }
        );
        assert_eq!(c.to_string(), "4.00 (1.00 u + 3.00 s)");
        let m = CpuTime::median(&[
            c,
            CpuTime::default(),
            CpuTime {
                user: 2.0,
                system: 1.0,
            },
        ]);
        assert_eq!(
            m,
            CpuTime {
                user: 1.0,
                system: 1.0
            }
        );
        assert_eq!(ceiling_mib_s(2, 1.0), 2048.0);
        assert_eq!(ceiling_mib_s(2, 0.0), f64::INFINITY);
    }

    /// A child that sleeps shows as sleeping; one that spins shows as on CPU.
    #[test]
    fn observed_child_splits_running_from_sleeping() {
        let slept = run_observed(Command::new("sleep").arg("0.3")).expect("run sleep");
        assert!(slept.output.status.success());
        assert!(slept.wall >= Duration::from_millis(300));
        assert!(slept.sleeping() > 0.25, "sleep slept {}", slept.sleeping());
        assert!(slept.sched.on_cpu < 0.1, "sleep ran {}", slept.sched.on_cpu);
        let spun = run_observed(Command::new("sh").args([
            "-c",
            "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; echo done",
        ]))
        .expect("run sh");
        assert_eq!(spun.output.stdout, b"done\n");
        assert!(
            spun.sched.on_cpu + spun.sched.waiting_for_cpu > 0.5 * spun.wall.as_secs_f64(),
            "a busy loop mostly ran: {:?} of {:?}",
            spun.sched,
            spun.wall
        );
        assert_eq!(sched_times(u32::MAX), None);
    }
}
