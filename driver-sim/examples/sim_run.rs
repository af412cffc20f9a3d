//! Runs a scenario: `cargo run -p driver-sim --example sim_run -- NAME SEED|FROM..TO [FAULTS]`.
//! One seed prints the summary, ending with `trace_hash=HEX`; a range prints one line per
//! failing seed and a tally (the soak mode). Exits 1 when an invariant broke.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let name = args.first().map_or("basic", String::as_str);
    if name == "--list" {
        for n in driver_sim::scenarios::list() {
            println!("{n}");
        }
        return;
    }
    let seeds = args.get(1).map_or("0", String::as_str);
    let (from, to, single) = match seeds.split_once("..") {
        Some((a, b)) => (a.parse().unwrap_or(0), b.parse().unwrap_or(0), false),
        None => {
            let s = seeds.parse().unwrap_or(0);
            (s, s + 1, true)
        }
    };
    let faults = match driver_sim::scenarios::Faults::parse(args.get(2).map_or("", String::as_str))
    {
        Ok(f) => f,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let mut failed = 0u64;
    let start = std::time::Instant::now();
    for seed in from..to {
        match driver_sim::scenarios::run(name, seed, &faults) {
            Ok(s) if single => {
                println!("{s}");
                if !s.passed() {
                    eprintln!("failed with seed {seed}");
                    failed += 1;
                }
            }
            Ok(s) => {
                if !s.passed() {
                    failed += 1;
                    println!("seed {seed} FAILED: {}", s.violations.join(" | "));
                }
            }
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(2);
            }
        }
    }
    if !single {
        println!(
            "{name}: {} seeds, {failed} failed, {:?}",
            to.saturating_sub(from),
            start.elapsed()
        );
    }
    if failed > 0 {
        std::process::exit(1);
    }
}
