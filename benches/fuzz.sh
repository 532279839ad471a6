#!/usr/bin/env bash
# Long fuzzing pass: runs every property of tests/it/fuzz.rs for FUZZ_SECONDS
# seconds each (instead of the 256 cases `cargo test` runs), built with the
# `fuzz` profile (optimised, with overflow checks and debug assertions, so
# arithmetic slips panic), one target at a time. Prints a Markdown table of
# executions and findings per target; exits non-zero if any target failed.
# A failure is shrunk, printed above the table, and its seed saved in
# proptest-regressions/fuzz.txt: commit that file with the fix.
#
#   bash benches/fuzz.sh                    # 60 s per target, about 22 minutes
#   FUZZ_SECONDS=20 bash benches/fuzz.sh    # a shorter pass
#   bash benches/fuzz.sh forwarded_for      # only the targets whose name holds this
set -euo pipefail
cd "$(dirname "$0")/.."
export FUZZ_SECONDS=${FUZZ_SECONDS:-60}
export CARGO_TERM_COLOR=never

# The targets are the tests of the `fuzz` module of the integration-test
# binary, `it`. libtest's name filters select any test that matches one of
# them, so the arguments choose among the listed targets here, and the
# chosen ones run by their exact names.
cargo test --locked --profile fuzz --test it --no-run
patterns=()
for word in "${@:-fuzz::}"; do patterns+=(-e "$word"); done
mapfile -t targets < <(cargo test --locked --profile fuzz --test it -- --list fuzz:: 2>/dev/null \
  | sed -n 's/: test$//p' | grep -F "${patterns[@]}")
if [ ${#targets[@]} -eq 0 ]; then
  echo "no fuzz target's name holds any of: $*" >&2
  exit 2
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
cargo test --locked --profile fuzz --test it -- --exact --test-threads 1 --nocapture "${targets[@]}" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e

echo
echo "| target | executions | findings | seconds |"
echo "|---|---:|---:|---:|"
# Lines as tests/it/fuzz.rs prints them: "fuzz NAME: N executions, K findings, S s".
# With --nocapture they may follow libtest's "test NAME ... " on the same line.
grep -o 'fuzz [a-z_]*: [0-9]* executions, [0-9]* findings, [0-9.]* s' "$log" \
  | awk '{ sub(":", "", $2); printf "| %s | %d | %d | %s |\n", $2, $3, $5, $7; runs += $3; found += $5 }
      END { printf "| **all** | %d | %d | |\n", runs, found }'
exit "$status"
