#!/usr/bin/env bash
# Runs every fuzz target (or those named) for a bounded time each, on one core:
#   Tests/Fuzz/run.sh [seconds-per-target] [target...]
# Seeds: Tests/ProbesTests/Fixtures/fuzz-seeds/<target> and fuzz-regressions/<target>; what the
# fuzzer learns goes to Tests/Fuzz/.corpus/<target> (not committed). A finding is written to
# Tests/Fuzz/findings/<target>/ and makes the script fail; keep it as a regression case
# (Tests/ProbesTests/Fixtures/fuzz-regressions/<target>/) once the parser is fixed.
set -uo pipefail
cd "$(dirname "$0")"
# Swift's own crash handler gets in ASan's way (it reads memory ASan reports): leave crashes to ASan.
export SWIFT_BACKTRACE=enable=no
seconds=${1:-60}
shift || true
./build.sh >build.log 2>&1 || { cat build.log; echo "fuzz build failed" >&2; exit 2; }
bin=$(swift build -c release --show-bin-path)/PortdoctorFuzz
fixtures=../ProbesTests/Fixtures
targets=("$@")
[ ${#targets[@]} -gt 0 ] || read -ra targets <<<"$("$bin" --list)"
failed=()
for t in "${targets[@]}"; do
    mkdir -p ".corpus/$t" "findings/$t" "$fixtures/fuzz-seeds/$t"
    seeds=("$fixtures/fuzz-seeds/$t")
    [ -d "$fixtures/fuzz-regressions/$t" ] && seeds+=("$fixtures/fuzz-regressions/$t")
    # Bounded per input: 5 s (a hang is a finding) and 1 GB (ASan included); inputs up to 64 KB.
    "$bin" "$t" -max_total_time="$seconds" -timeout=5 -rss_limit_mb=1024 -malloc_limit_mb=512 -max_len=65536 \
        -print_final_stats=1 -artifact_prefix="findings/$t/" ".corpus/$t" "${seeds[@]}" >"findings/$t.log" 2>&1
    status=$?
    stats=$(grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' "findings/$t.log" | sed 's/stat:://' | tr '\n' ' ')
    cov=$(grep -E '#[0-9]+.*(DONE|cov:)' "findings/$t.log" | tail -1 | grep -oE 'cov: [0-9]+ ft: [0-9]+')
    echo "$t: exit $status, $cov, $stats"
    [ $status -eq 0 ] || { failed+=("$t"); grep -E 'ERROR|Fatal error|SUMMARY|artifact' "findings/$t.log" | head -5; }
done
[ ${#failed[@]} -eq 0 ] || { echo "findings in: ${failed[*]} (see Tests/Fuzz/findings/)" >&2; exit 1; }
