//! `smb sim`: lists and runs the simulator's named scenarios (`driver_sim::scenarios`).
//!
//! Owns: turning the fault flags into `Faults`, printing the summary (its last line is
//! `trace_hash=HEX`) and, when an invariant breaks, the line that reproduces the run.
//! Must not: simulate anything itself.

use std::io::Write;

use driver_sim::scenarios::{self, Faults};

use crate::args::SimArgs;
use crate::error::CliError;

/// The faults the flags ask for: `--faults LIST` first, then the single flags on top.
pub fn faults(args: &SimArgs) -> Result<Faults, CliError> {
    let mut f = match &args.faults {
        Some(spec) => Faults::parse(spec).map_err(|e| CliError::Usage(format!("--faults: {e}")))?,
        None => Faults::none(),
    };
    f.rough_link |= args.rough;
    if let Some(n) = args.resets {
        f.resets = n;
    }
    if let Some(n) = args.partitions {
        f.partitions = n;
    }
    if let Some(n) = args.crashes {
        f.crashes = n;
    }
    if let Some(p) = args.adversary {
        if !(0.0..=1.0).contains(&p) {
            return Err(CliError::Usage(format!(
                "--adversary {p}: a probability from 0 to 1"
            )));
        }
        f.adversary = p;
    }
    Ok(f)
}

/// Runs `smb sim`.
pub fn run(args: &SimArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let w = |out: &mut dyn Write, s: String| {
        out.write_all(s.as_bytes())
            .map_err(|e| CliError::local("write", "standard output", e))
    };
    if args.list {
        let mut text = String::new();
        for name in scenarios::list() {
            let d = scenarios::describe(name).unwrap_or("");
            text.push_str(&format!("{name:<22} {d}\n"));
        }
        return w(out, text);
    }
    let Some(name) = args.scenario.as_deref() else {
        return Err(CliError::Usage(
            "give --scenario NAME (see smb sim --list)".into(),
        ));
    };
    let f = faults(args)?;
    let summary =
        scenarios::run(name, args.seed, &f).map_err(|e| CliError::Usage(format!("{e}")))?;
    w(out, format!("{summary}\n"))?;
    if summary.passed() {
        Ok(())
    } else {
        Err(CliError::Invariant(format!(
            "{} invariant violation(s) in scenario {name}; reproduce with: smb sim --scenario {name} --seed {}{}",
            summary.violations.len(),
            summary.seed,
            args.faults
                .as_deref()
                .map(|f| format!(" --faults {f}"))
                .unwrap_or_default()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_flags_combine() {
        let a = SimArgs {
            faults: Some("rough,reset=2".into()),
            crashes: Some(1),
            ..SimArgs::default()
        };
        let f = faults(&a).expect("faults");
        assert!(f.rough_link);
        assert_eq!((f.resets, f.crashes), (2, 1));
        let bad = SimArgs {
            faults: Some("meteor".into()),
            ..SimArgs::default()
        };
        assert!(matches!(faults(&bad), Err(CliError::Usage(_))));
        let bad = SimArgs {
            adversary: Some(2.0),
            ..SimArgs::default()
        };
        assert!(matches!(faults(&bad), Err(CliError::Usage(_))));
    }

    #[test]
    fn a_scenario_ends_with_its_trace_hash() {
        let a = SimArgs {
            scenario: Some("basic".into()),
            seed: 3,
            ..SimArgs::default()
        };
        let mut out = Vec::new();
        run(&a, &mut out).expect("basic passes");
        let text = String::from_utf8(out).expect("utf8");
        let last = text.trim_end().lines().last().unwrap_or("");
        assert!(last.starts_with("trace_hash="), "{text}");
        assert_eq!(last.len(), "trace_hash=".len() + 64);
    }
}
