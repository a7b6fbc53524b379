#!/usr/bin/env bash
# Fetch and verify benchmark (on demand; never run by the tests).
#
#   fetch+verify: PACKS × MIB MiB packs from a local nginx into a folder on disk:
#     sct-fetch (hashes while streaming), sct-fetch + sct-verify,
#     curl + sha256sum -c, aria2c with sha-256 checksums
#   verify: sct-verify vs sha256sum -c vs openssl dgst -sha256, on one core (taskset) and on all
#     cores, over one file and over PACKS files
#
# Cases run round-robin RUNS times (so outside load falls on all alike; scripts/bench-lib.sh); the
# best wall time and the peak RSS of that run are kept. Prints a Markdown report; docs/benchmarks.md
# holds one.
#
# Usage: scripts/bench-fetch.sh            (PACKS=4 MIB=256 RUNS=3 BENCH_DIR=/tmp/... to change)
set -euo pipefail

PACKS=${PACKS:-4}
MIB=${MIB:-256}
RUNS=${RUNS:-3}
JOBS=${JOBS:-4}
BENCH=bench-fetch
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${BENCH_DIR:-$(mktemp -d /var/tmp/sct-bench.XXXXXX)}
mkdir -p "$WORK"
# shellcheck source=scripts/bench-lib.sh
. "$ROOT/scripts/bench-lib.sh"
require_tools "apt-get install nginx curl aria2 coreutils openssl util-linux time python3" \
  nginx curl aria2c sha256sum openssl taskset python3 /usr/bin/time

build_release --bin sct-fetch --bin sct-verify --example bench_fixture
FIXTURE="$BIN/examples/bench_fixture"

PORT=$(free_port)
BASE="http://127.0.0.1:$PORT"
rm -rf "$WORK/service" && mkdir -p "$WORK/service"
say "writing $PACKS x $MIB MiB packs to $WORK/service"
"$FIXTURE" "$WORK/service" "$BASE" "$PACKS" "$MIB"
start_nginx "$WORK/nginx" "$PORT" "$WORK/service/www" /catalog.json 1 256 off
cat "$WORK"/service/www/packs/*/* >/dev/null   # the served files start in the page cache

export SCT_TRUSTED_KEYS="$WORK/service/trusted.key"
export SCT_CONFIG="$WORK/empty.toml"
: >"$SCT_CONFIG"
OFFERS="$WORK/service/offers.jsonl"
SUMS="$WORK/service/SHA256SUMS"
D="$WORK/dest"
fresh="rm -rf $D && mkdir -p $D"
CURL_ARGS=$(awk -v base="$BASE" '{print "-o " $2 " " base "/packs/" $2}' "$SUMS" | tr '\n' ' ')

case_ sct-fetch "$fresh" \
  "$BIN/sct-fetch --offers $OFFERS --dest $D/sct --mode all --jobs $JOBS --quiet"
case_ sct-fetch+verify "$fresh" \
  "$BIN/sct-fetch --offers $OFFERS --dest $D/sct --mode all --jobs $JOBS --quiet && $BIN/sct-verify $D/sct"
case_ curl+sha256sum "$fresh; mkdir -p $D/curl" \
  "cd $D/curl && curl -fsS --create-dirs $CURL_ARGS && sha256sum -c --quiet $SUMS"
case_ aria2c "$fresh" \
  "aria2c -q -i $WORK/service/aria2.txt -d $D/aria2 -j $JOBS --check-integrity=true --file-allocation=none --allow-overwrite=true --auto-file-renaming=false"

# Verify: one folder with every pack, one with a single pack (--mode latest selects one).
V="$WORK/verify"
rm -rf "$V" && mkdir -p "$V"
"$BIN/sct-fetch" --offers "$OFFERS" --dest "$V/all" --mode all --quiet >/dev/null 2>&1
"$BIN/sct-fetch" --offers "$OFFERS" --dest "$V/one" --mode latest --quiet >/dev/null 2>&1
ONE_PATH=$(cd "$V/one" && ls -d */ | head -1)
ONE_FILE="${ONE_PATH}payload.cab"
grep -F "$ONE_FILE" "$SUMS" >"$WORK/one.sums"
ALL_FILES=$(awk '{print $2}' "$SUMS" | tr '\n' ' ')
warm="cat $V/all/*/* $V/one/*/* >/dev/null"

for cores in 1 all; do
  pin=""; [ "$cores" = 1 ] && pin="taskset -c 0"
  case_ "sct-verify/1 file/$cores" "$warm" "$pin $BIN/sct-verify $V/one"
  case_ "sha256sum/1 file/$cores" "$warm" "cd $V/one && $pin sha256sum -c --quiet $WORK/one.sums"
  case_ "openssl/1 file/$cores" "$warm" "cd $V/one && $pin openssl dgst -sha256 $ONE_FILE"
  case_ "sct-verify/$PACKS files/$cores" "$warm" "$pin $BIN/sct-verify $V/all"
  case_ "sha256sum/$PACKS files/$cores" "$warm" "cd $V/all && $pin sha256sum -c --quiet $SUMS"
  case_ "openssl/$PACKS files/$cores" "$warm" "cd $V/all && $pin openssl dgst -sha256 $ALL_FILES"
done

run_rounds "$RUNS"

echo "## Results ($(date -u +%Y-%m-%dT%H:%MZ), $PACKS × $MIB MiB, best of $RUNS)"
echo
echo "Machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM; $(nginx -v 2>&1 | sed 's/.*: //'), $(curl --version | head -1 | cut -d' ' -f1,2), $(aria2c --version | head -1), $(openssl version | cut -d' ' -f1,2)"
echo
echo "### Fetch + verify ($PACKS × $MIB MiB from nginx on 127.0.0.1 to disk)"
table_head "speed-up of sct-fetch"
row sct-fetch "—"
row sct-fetch+verify "—"
row curl+sha256sum "$(ratio curl+sha256sum sct-fetch)× (target ≥ 2.0×)"
row aria2c "$(ratio aria2c sct-fetch)× (target ≥ 1.2×)"
echo
echo "### Verify (files in the page cache)"
table_head "speed-up of sct-verify"
for cores in 1 all; do
  for n in "1 file" "$PACKS files"; do
    row "sct-verify/$n/$cores" "—"
    row "sha256sum/$n/$cores" "$(ratio "sha256sum/$n/$cores" "sct-verify/$n/$cores")×"
    row "openssl/$n/$cores" "$(ratio "openssl/$n/$cores" "sct-verify/$n/$cores")×"
  done
done
loads
echo
echo "Targets: verify ≥ 1.3× sha256sum on one core, ≥ 2.4× on two cores (≥ 2 files); peak RSS ≤ 32 MiB."
echo "Work folder: $WORK (remove it when done)"
