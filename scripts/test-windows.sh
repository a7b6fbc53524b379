#!/usr/bin/env bash
# Runs the CLI test suite against the Windows build under Wine: every sct binary is the .exe from
# scripts/build-windows.sh, started as `wine64 NAME.exe`; the peers (nginx, squid, the TDS mock,
# cabextract, gcab) stay Linux processes on loopback. Tests that inherently need Linux are skipped
# with their reason; the run/skip counts are printed at the end and kept in docs/windows.md.
# Tests that need the debug build's fault points or test clock (the crash matrix) skip in the
# release pass and then run by name in a second pass against a debug build.
#
#   scripts/test-windows.sh                 build the release zip and the debug .exe files, then
#                                           run the whole CLI suite
#   scripts/test-windows.sh wrapper::       only the tests whose names match (cargo test filter)
#   SCT_WINDOWS_SKIP_BUILD=1 scripts/...    reuse the .exe files already built
#   SCT_WINDOWS_LIB_TESTS=1 scripts/...     also build and run the library's unit tests for
#                                           Windows (the cfg(windows) code: locks, no-follow
#                                           opens, names, registry); about 8 CPU-minutes cold,
#                                           so not in CI
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

say() { printf 'test-windows: %s\n' "$*" >&2; }

if [ ! -x /usr/lib/wine/wine64 ]; then
  say "installing wine64"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq wine64 >/dev/null
fi
[ "${SCT_WINDOWS_SKIP_BUILD:-}" = 1 ] || ./scripts/build-windows.sh >/dev/null
bins="${SCT_WINDOWS_TARGET_DIR:-$root/target/windows}/x86_64-pc-windows-gnu/release"
[ -x "$bins/ServiceConnectionTool.exe" ] || { say "no Windows build in $bins"; exit 3; }

# A Wine prefix of the suite's own (created once, a few seconds), never the user's ~/.wine.
export WINEPREFIX="${SCT_TEST_WINEPREFIX:-$root/target/windows/wineprefix}"
export WINEDEBUG=-all
# No Mono or Gecko install prompts: sct needs neither.
export WINEDLLOVERRIDES="mscoree=;mshtml="
wine=/usr/lib/wine/wine64
if [ ! -f "$WINEPREFIX/system.reg" ]; then
  say "creating the Wine prefix $WINEPREFIX"
  mkdir -p "$WINEPREFIX"
  "$wine" wineboot --init >/dev/null 2>&1
  wineserver_bin=$(dirname "$wine")/wineserver
  "$wineserver_bin" -w
fi
# Wine 8.0 lacks bcryptprimitives.dll, which Rust's std imports (docs/windows.md): the test-only
# stand-in goes into this prefix, never into the zip.
shim="$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll"
if [ ! -f "$shim" ] || [ tests/windows/bcryptprimitives.c -nt "$shim" ]; then
  x86_64-w64-mingw32-gcc -shared -O2 -o "$shim" \
    tests/windows/bcryptprimitives.c tests/windows/bcryptprimitives.def -ladvapi32
fi
# One wineserver for the whole run, so each process start does not pay for a new one (one left
# running for this prefix is reused).
/usr/lib/wine/wineserver -p 2>/dev/null || true
# Start Wine's own background processes (services.exe, winedevice.exe, ...) now, detached from any
# test: started by a test's .exe they would inherit its stdout and stderr, and a test reading
# them to the end would wait for ever.
"$wine" wineboot </dev/null >/dev/null 2>&1
trap '/usr/lib/wine/wineserver -k 2>/dev/null || true' EXIT

skips=$(mktemp)
log=$(mktemp)
export PATH="$PATH:/usr/sbin:/sbin"
export SCT_TEST_WINE=1 SCT_TEST_SKIP_LOG="$skips"
flaky=$(mktemp)

# Runs the CLI suite (cargo test filter arguments) against the .exe files in $1, bounded in time
# so a test that hangs under Wine cannot hold CI. A test that fails is run once more on its own
# (`--exact`): a failure that repeats fails the run; one that does not is named at the end as
# flaky, never hidden (Wine 8.0 now and then ends a process it has just started with exit code 1
# and nothing on stdout or stderr, docs/windows.md). Prints the count of tests passed.
suite() {
  local bins=$1 status=0 failed
  shift
  SCT_TEST_WINE_BINS="$bins" timeout --kill-after=30s "${SCT_WINDOWS_TEST_TIMEOUT:-30m}" \
    cargo test --test cli -- "$@" 2>&1 | tee "$log" >&2 || status=$?
  failed=$(sed -n '/^failures:$/,/^test result:/s/^    \([a-z_:0-9]*\)$/\1/p' "$log" | sort -u)
  if [ "$status" -ne 0 ] && [ -n "$failed" ]; then
    say "running again on its own each test that failed: $(echo $failed)"
    # shellcheck disable=SC2086 # one argument per test name
    SCT_TEST_WINE_BINS="$bins" timeout --kill-after=30s 10m \
      cargo test --test cli -- --exact $failed >&2 || return 1
    echo "$failed" >>"$flaky"
    status=0
  fi
  sed -n 's/^test result: .* \([0-9]*\) passed.*/\1/p' "$log" | head -n 1
  return "$status"
}

status=0
passed=$(suite "$bins" "$@") || status=$?

# Second pass: the tests that need the debug build's fault points or test clock (the crash
# matrix, expiry under the test clock) run against the debug .exe files, by name.
needs_debug=$(grep "needs the debug build" "$skips" | cut -f 1 | sort -u || true)
debug_passed=0
if [ "$status" -eq 0 ] && [ -n "$needs_debug" ]; then
  [ "${SCT_WINDOWS_SKIP_BUILD:-}" = 1 ] || ./scripts/build-windows.sh --debug
  debug_bins="${SCT_WINDOWS_TARGET_DIR:-$root/target/windows}/x86_64-pc-windows-gnu/debug"
  say "second pass, against the debug build in $debug_bins: $(echo $needs_debug)"
  sed -i '/needs the debug build/d' "$skips"
  # shellcheck disable=SC2086 # one argument per test name
  debug_passed=$(SCT_TEST_WINE_DEBUG=1 suite "$debug_bins" --exact $needs_debug) || status=$?
fi

# On demand: the library's unit tests, built for Windows and run under Wine.
lib_passed=""
if [ "$status" -eq 0 ] && [ "${SCT_WINDOWS_LIB_TESTS:-}" = 1 ]; then
  lib_exe=$(./scripts/build-windows.sh --lib-tests)
  say "the library's unit tests under Wine: $lib_exe"
  (cd "$(mktemp -d)" && timeout 10m "$wine" "$lib_exe" --test-threads 2) 2>&1 | tee "$log" >&2 || status=$?
  lib_passed=$(sed -n 's/^test result: .* \([0-9]*\) passed.*/\1/p' "$log" | tail -n 1)
fi

skipped=$(sort -u "$skips" | wc -l)
say "under Wine: ${passed:-0} tests passed against the release .exe files, ${debug_passed:-0} of them run in full against the debug build; $skipped cases skipped as inherently Linux (docs/windows.md):"
sort -u "$skips" | sed 's/^/  /' >&2
[ -z "$lib_passed" ] || say "unit tests of the library for Windows: $lib_passed passed under Wine"
[ ! -s "$flaky" ] || say "FLAKY under Wine (failed, then passed when run again on its own): $(echo $(cat "$flaky"))"
rm -f "$skips" "$log" "$flaky"
exit "$status"
