#!/usr/bin/env bash
# Bounded fuzzing of every cargo-fuzz target in fuzz/ (see docs/reliability.md).
#
#   scripts/fuzz.sh [SECONDS]          each target for SECONDS (default 60), one after the other
#   FUZZ_TARGETS="cab catalog" scripts/fuzz.sh 600      only some targets
#   FUZZ_SANITIZER=address scripts/fuzz.sh 3600          with AddressSanitizer (slower build and runs)
#
# Installs cargo-fuzz when missing (it needs the nightly toolchain). Seeds come from fuzz/seeds/<target>/
# (committed: real documents, a demo usage cab, a signed catalog); what the fuzzer learns goes to
# fuzz/corpus/<target>/ (not committed). A crash leaves its input in fuzz/artifacts/<target>/ and
# makes the script exit 1 after the other targets ran; a summary line per target gives executions.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

seconds=${1:-60}
sanitizer=${FUZZ_SANITIZER:-none}
targets=${FUZZ_TARGETS:-cab catalog documents wrapper_args safe_relative}

# The cab target writes each input to a temp file: keep those in memory when we can.
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
  export TMPDIR=/dev/shm
fi

if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "fuzz.sh: installing cargo-fuzz" >&2
  cargo install cargo-fuzz --locked
fi

# Build every target once, so the time budget below is spent fuzzing.
cargo +nightly fuzz build -O -s "$sanitizer" >&2

mkdir -p logs
failed=()
printf '%-14s %12s %8s %s\n' target executions seconds result
for target in $targets; do
  mkdir -p "corpus/$target" "artifacts/$target"
  log="logs/$target.log"
  status=0
  # -timeout: one input taking over 10 s is a hang; -rss_limit_mb: a bomb that allocates is a crash.
  cargo +nightly fuzz run -O -s "$sanitizer" "$target" "corpus/$target" "seeds/$target" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -print_final_stats=1 >"$log" 2>&1 || status=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  took=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
  if [ "$status" -eq 0 ]; then
    result=ok
  else
    result="CRASH (exit $status; see fuzz/$log and fuzz/artifacts/$target/)"
    failed+=("$target")
  fi
  printf '%-14s %12s %8s %s\n' "$target" "${runs:-?}" "${took:-?}" "$result"
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: crashes in: ${failed[*]}" >&2
  exit 1
fi
