#!/bin/sh
# Runs every fuzz target (or the ones named) for SECONDS each (default 60), one after the
# other, and prints one line per target: name, seconds, executions, result. Logs go to
# $LOGDIR (default /tmp/smb-fuzz-logs), crashes to fuzz/artifacts/<target>/.
#   fuzz/run_all.sh                 # every target, 60 s each
#   SECONDS_PER_TARGET=600 fuzz/run_all.sh message negotiate_contexts create_contexts
set -u
cd "$(dirname "$0")"
secs=${SECONDS_PER_TARGET:-60}
logdir=${LOGDIR:-/tmp/smb-fuzz-logs}
mkdir -p "$logdir"
targets=${*:-$(cargo fuzz list)}
for t in $targets; do
    mkdir -p "corpus/$t"
    RUSTC_BOOTSTRAP=1 cargo fuzz run "$t" -- -max_total_time="$secs" -print_final_stats=1 \
        >"$logdir/$t.log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$logdir/$t.log" | tail -1)
    took=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$logdir/$t.log" | tail -1)
    if [ "$rc" -eq 0 ]; then verdict=ok; else verdict="CRASH (exit $rc, see $logdir/$t.log)"; fi
    printf '%s\t%s\t%s\t%s\n' "$t" "${took:-?}" "${execs:-?}" "$verdict"
done
