#!/usr/bin/env bash
# Bounded, coverage-guided fuzzing of every target in fuzz/ with libFuzzer (see docs/reliability.md).
#
#   scripts/fuzz.sh [SECONDS]          each target for SECONDS (default 60), FUZZ_JOBS at a time
#   FUZZ_TARGETS="cab catalog" scripts/fuzz.sh 600      only some targets
#   FUZZ_JOBS=1 scripts/fuzz.sh                           one target at a time (default: one per core)
#   FUZZ_SANITIZER=address scripts/fuzz.sh 3600          with AddressSanitizer (nightly toolchain)
#   FUZZ_SEED=2409 scripts/fuzz.sh                        libFuzzer's random seed fixed, as in CI
#
# Needs only the stable toolchain: the targets are built with the same coverage instrumentation
# cargo-fuzz uses (stable rustc flags) and libfuzzer-sys links libFuzzer in, so CI installs nothing.
# cargo-fuzz still works on fuzz/ for what this script does not do (cmin, coverage, tmin).
# Seeds come from fuzz/seeds/<target>/ (committed: real documents, a demo usage cab, a signed
# catalog); what the fuzzer learns goes to fuzz/corpus/<target>/ (not committed). A crash leaves its
# input in fuzz/artifacts/<target>/, is printed in hex (CI keeps only the log), and makes the
# script exit 1 after the other targets ran. One summary line per target gives executions.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

seconds=${1:-60}
sanitizer=${FUZZ_SANITIZER:-none}
targets=${FUZZ_TARGETS:-cab catalog documents wrapper_args safe_relative}
jobs=${FUZZ_JOBS:-$(nproc)}
# A fixed seed makes a run repeat the same mutations (CI: a red run reproduces, a green one stays
# green until the code changes); without one libFuzzer picks a new seed each run and explores more.
seed_flag=()
if [ -n "${FUZZ_SEED:-}" ]; then
  seed_flag=(-seed="$FUZZ_SEED")
fi
host=$(rustc -vV | sed -n 's/^host: //p')

# The flags cargo-fuzz 0.13 passes for libFuzzer's coverage feedback (all stable rustc options),
# plus debug assertions and overflow checks so an arithmetic slip is a crash, not a wrong answer.
rustflags="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4"
rustflags+=" -Cllvm-args=-sanitizer-coverage-inline-8bit-counters"
rustflags+=" -Cllvm-args=-sanitizer-coverage-pc-table -Cllvm-args=-sanitizer-coverage-trace-compares"
rustflags+=" -Cllvm-args=-sanitizer-coverage-stack-depth -Cllvm-args=-simplifycfg-branch-fold-threshold=0"
rustflags+=" --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
# One codegen unit, as cargo-fuzz has it: on two cores, busy with other crates, the cold build was
# faster so (3 min 50 s against 4 min 11 s).
rustflags+=" -Ccodegen-units=1"
toolchain=()
if [ "$sanitizer" != none ]; then
  rustflags+=" -Zsanitizer=$sanitizer"
  toolchain=(+nightly)
fi

# The cab target writes each input to a temp file: keep those in memory when we can.
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
  export TMPDIR=/dev/shm
fi

# --target keeps RUSTFLAGS off build scripts and proc macros, as cargo-fuzz does.
echo "fuzz.sh: building the targets (sanitizer: $sanitizer)" >&2
RUSTFLAGS="$rustflags" cargo "${toolchain[@]}" build --quiet --release --bins --target "$host" \
  --target-dir target/sct-fuzz-$sanitizer
bin="target/sct-fuzz-$sanitizer/$host/release"

# One target's run, its log in logs/TARGET.log; its exit status is libFuzzer's.
run_target() {
  local target=$1
  mkdir -p "corpus/$target" "artifacts/$target"
  # -timeout: one input taking over 10 s is a hang; -rss_limit_mb: a bomb that allocates is a crash.
  "$bin/$target" "corpus/$target" "seeds/$target" -artifact_prefix="artifacts/$target/" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -print_final_stats=1 "${seed_flag[@]}" >"logs/$target.log" 2>&1
}

# One summary line for a finished target; a crash also prints its input, so a CI log reproduces it.
report() {
  local target=$1 status=$2 log="logs/$1.log" runs took result
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  took=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
  if [ "$status" -eq 0 ]; then
    result=ok
  else
    result="CRASH (exit $status; see fuzz/$log and fuzz/artifacts/$target/)"
  fi
  printf '%-14s %12s %8s %s\n' "$target" "${runs:-?}" "${took:-?}" "$result"
  if [ "$status" -ne 0 ]; then
    grep -E '^(==|SUMMARY|thread|panicked|.*ERROR)' "$log" | head -20 >&2 || true
    find "artifacts/$target" -type f -newer logs/.started | while read -r input; do
      echo "fuzz.sh: $target input fuzz/$input:" >&2
      od -A x -t x1z -v "$input" | head -64 >&2
    done
  fi
}

mkdir -p logs
touch logs/.started
printf '%-14s %12s %8s %s\n' target executions seconds result
declare -A running=()
failed=()
# Waits for any one running target and reports it.
reap() {
  local pid status=0
  wait -n -p pid "${!running[@]}" || status=$?
  report "${running[$pid]}" "$status"
  [ "$status" -eq 0 ] || failed+=("${running[$pid]}")
  unset "running[$pid]"
}
for target in $targets; do
  while [ ${#running[@]} -ge "$jobs" ]; do reap; done
  run_target "$target" &
  running[$!]=$target
done
while [ ${#running[@]} -gt 0 ]; do reap; done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: crashes in: ${failed[*]}" >&2
  exit 1
fi
