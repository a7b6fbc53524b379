#!/usr/bin/env bash
# Scale benchmark (issue 15; on demand, never run by the tests): how the cost of the whole job grows,
# as ratios against the tools an administrator would use, with peak RSS.
#
#   import  sct-import of IMPORT_PACKS × IMPORT_MIB MiB and of one IMPORT_BIG_MIB MiB pack into the
#           inbox vs cp -r + sha256sum -c + sync of the same files
#   hier    ServiceConnectionTool -connect over HIER_SMALL and HIER_LARGE usage cabs (distinct
#           hierarchies, three site versions) against sct-serve, then one sct-import of the folder
#   files   a pack of FILES_SMALL and of FILES_LARGE files (FILE_KIB KiB each), and catalogs of
#           CATALOG_SMALL and CATALOG_LARGE one-file packs, through publish, fetch, verify, import
#   large   one LARGE_MIB MiB pack file through fetch, verify, import; the largest usage cab the
#           service accepts (a USAGE_MIB MiB usage document) uploaded, alone and LARGE_UPLOADS at
#           once; peak RSS of both sides
#   serve   wrk against sct-serve and nginx on the same root (catalog and a pack file,
#           WRK_CONNECTIONS connections for WRK_SECONDS s), then UPLOADS concurrent uploads
#   pack    sct-pack create of a USAGE_MIB MiB usage document vs gcab -cz of the same members
#
# CASES (default "import hier files large serve pack") picks groups. Inside a group, cases run
# round-robin RUNS times (so outside load falls on all alike); the best wall time and the peak RSS
# of that run are kept (/usr/bin/time). Groups run one after another and delete their data when
# done. Prints a Markdown report on stdout; progress on stderr. docs/benchmarks.md holds one run.
#
# A quick run:  CASES=all SMALL=1 scripts/bench-scale.sh   (every size divided down; see below)
set -euo pipefail

CASES=${CASES:-import hier files large serve pack}
[ "$CASES" = all ] && CASES="import hier files large serve pack"
if [ -n "${SMALL:-}" ]; then  # a quick run of every case, to check the script, not to measure
  : "${IMPORT_MIB:=16}" "${IMPORT_BIG_MIB:=64}" "${HIER_SMALL:=10}" "${HIER_LARGE:=100}"
  : "${FILES_SMALL:=100}" "${FILES_LARGE:=1000}" "${CATALOG_SMALL:=10}" "${CATALOG_LARGE:=100}"
  : "${LARGE_MIB:=256}" "${USAGE_MIB:=8}" "${WRK_SECONDS:=3}" "${UPLOADS:=20}" "${RUNS:=1}"
fi
RUNS=${RUNS:-3}
IMPORT_PACKS=${IMPORT_PACKS:-4}
IMPORT_MIB=${IMPORT_MIB:-256}
IMPORT_BIG_MIB=${IMPORT_BIG_MIB:-4096}
HIER_SMALL=${HIER_SMALL:-100}
HIER_LARGE=${HIER_LARGE:-1000}
FILES_SMALL=${FILES_SMALL:-1000}
FILES_LARGE=${FILES_LARGE:-10000}
FILE_KIB=${FILE_KIB:-16}
CATALOG_SMALL=${CATALOG_SMALL:-100}
CATALOG_LARGE=${CATALOG_LARGE:-1000}
LARGE_MIB=${LARGE_MIB:-8192}
LARGE_RUNS=${LARGE_RUNS:-1}
LARGE_UPLOADS=${LARGE_UPLOADS:-8}
USAGE_MIB=${USAGE_MIB:-63}
WRK_SECONDS=${WRK_SECONDS:-10}
WRK_CONNECTIONS=${WRK_CONNECTIONS:-64}
UPLOADS=${UPLOADS:-100}

BENCH=bench-scale
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${BENCH_DIR:-$(mktemp -d /var/tmp/sct-scale.XXXXXX)}
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
# shellcheck source=scripts/bench-lib.sh
. "$ROOT/scripts/bench-lib.sh"
require_tools "apt-get install nginx wrk gcab curl coreutils python3 jq time" \
  nginx wrk gcab curl sha256sum python3 jq sync /usr/bin/time

build_release --bins --example bench_scale
FIXTURE="$BIN/examples/bench_scale"
export PATH="$BIN:$PATH"

# One signing key and upload token for every service; clients pin the key, send the token.
KEYS="$WORK/keys"
rm -rf "$KEYS" && mkdir -p "$KEYS"
sct-serve keygen --out "$KEYS/signing-key.json" >"$KEYS/public.json"
export SCT_TRUSTED_KEYS
SCT_TRUSTED_KEYS=$(jq -r '.. | strings | select(startswith("ed25519:"))' "$KEYS/public.json" | head -1)
(umask 077 && head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$KEYS/token")
export SCT_SERVICE_TOKEN
SCT_SERVICE_TOKEN=$(cat "$KEYS/token")
export SCT_CONFIG="$WORK/empty.toml" SCT_LOG_DIR="$WORK/logs"
: >"$SCT_CONFIG"
mkdir -p "$SCT_LOG_DIR"

# Starts sct-serve on ROOT (a free loopback port); sets SERVE_URL and SERVE_PID.
start_serve() { # ROOT [flags...]
  local root=$1
  shift
  rm -f "$root.listening"
  sct-serve run --root "$root" --bind 127.0.0.1:0 --token-file "$KEYS/token" "$@" \
    >"$root.listening" 2>"$root.serve.log" &
  SERVE_PID=$!
  PIDS+=("$SERVE_PID")
  for _ in $(seq 200); do [ -s "$root.listening" ] && break; sleep 0.05; done
  SERVE_URL=$(jq -r .url "$root.listening")
}

# Peak RSS of a running process in KiB (VmHWM).
peak_kib() { awk '/VmHWM/{print $2}' "/proc/$1/status"; }

# A service root: PACKS packs of FILES files of BYTES bytes, published.
make_service() { # ROOT PACKS FILES BYTES
  rm -rf "$1" && mkdir -p "$1"
  "$FIXTURE" packs "$1" "$2" "$3" "$4"
  sct-serve publish --root "$1" --key "$KEYS/signing-key.json" >/dev/null
}

# A demo site, its usage cab and the offer sct-upload gets for it from SERVICE_URL.
make_site_offer() { # DIR SERVICE_URL
  rm -rf "$1" && mkdir -p "$1/cab"
  "$FIXTURE" usage "$1/cab" 1 "$1/site.db"
  sct-upload "$1/cab/00000.cab" --service-url "$2" --quiet >"$1/offers.jsonl"
}

# Folders a case replaces are moved aside, not deleted, until the group ends: on ext4 without a
# journal (as on the machine of docs/benchmarks.md), creating inodes within 60-300 s of deleting
# thousands costs time that grows with the number deleted (ext4 skips recently deleted inodes),
# which made importing 1,000 packs look quadratic. No site deletes its inbox before an import.
TRASH="$WORK/trash"
discard() { mkdir -p "$TRASH" && if [ -e "$1" ]; then mv "$1" "$TRASH/$(date +%s%N)"; fi; }
empty_trash() { rm -rf "$TRASH"; }

# A fresh inbox and site database for an import case: SCT_SITE and SCT_INSTALL_DIR point at them.
fresh_site() { # SITE_DB_TEMPLATE
  echo "discard $WORK/inbox; rm -f $WORK/site.db; mkdir -p $WORK/inbox; cp $1 $WORK/site.db"
}
IMPORT_ENV="SCT_SITE=sqlite:$WORK/site.db SCT_INSTALL_DIR=$WORK/inbox"

echo "# Scale benchmark ($(date -u +%Y-%m-%dT%H:%MZ), best of $RUNS)"
echo
echo "Machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM, $(df -h --output=fstype "$WORK" | tail -1 | tr -d ' ') on $(df --output=source "$WORK" | tail -1); $(nginx -v 2>&1 | sed 's/.*: //'), $(wrk -v 2>&1 | head -1 | cut -d' ' -f1,2), gcab $(gcab --version 2>&1 | awk '{print $NF}'), $(sha256sum --version | head -1). Work folder: $WORK."

# ---------------------------------------------------------------- import
group_import() {
  say "import: writing $IMPORT_PACKS × $IMPORT_MIB MiB and 1 × $IMPORT_BIG_MIB MiB"
  local g="$WORK/import"
  rm -rf "$g" && mkdir -p "$g"
  reset_cases
  for variant in "$IMPORT_PACKS $IMPORT_MIB" "1 $IMPORT_BIG_MIB"; do
    set -- $variant
    local label="$1 × $2 MiB" svc="$g/svc-$1x$2"
    make_service "$svc" "$1" 1 $(($2 * 1024 * 1024))
    start_serve "$svc"
    make_site_offer "$g/site-$1x$2" "$SERVE_URL"
    sct-fetch --offers "$g/site-$1x$2/offers.jsonl" --dest "$g/packs-$1x$2" --mode all --quiet >/dev/null
    kill "$SERVE_PID"
    (cd "$g/packs-$1x$2" && find . -type f -name '*.cab' -printf '%P\n' | sort | xargs sha256sum) >"$g/sums-$1x$2"
    rm -rf "$svc"  # the served copy is no longer needed: the pack folder is the import's source
    case_ "sct-import/$label" "$(fresh_site "$g/site-$1x$2/site.db"); rm -rf $g/cp" \
      "$IMPORT_ENV sct-import $g/packs-$1x$2 --quiet"
    case_ "cp+sha256sum+sync/$label" "rm -rf $WORK/inbox $g/cp" \
      "cp -r $g/packs-$1x$2 $g/cp && cd $g/cp && sha256sum -c --quiet $g/sums-$1x$2 && sync"
  done
  run_rounds "$RUNS"
  empty_trash
  rm -rf "$WORK/inbox" "$g/cp"
  echo
  echo "## Import throughput (pack folder → inbox: copy, hash, durable write, database)"
  table_head "speed-up of sct-import (target ≥ 1.5×, RSS ≤ 32 MiB)"
  for variant in "$IMPORT_PACKS × $IMPORT_MIB MiB" "1 × $IMPORT_BIG_MIB MiB"; do
    row "sct-import/$variant" "—"
    row "cp+sha256sum+sync/$variant" "**$(ratio "cp+sha256sum+sync/$variant" "sct-import/$variant")×**"
  done
  loads
  rm -rf "$g"
}

# ---------------------------------------------------------------- many hierarchies
group_hier() {
  local g="$WORK/hier"
  rm -rf "$g" && mkdir -p "$g"
  say "hier: the sample packs, $HIER_SMALL and $HIER_LARGE usage cabs"
  mkdir -p "$g/svc"
  sct-demo packs --root "$g/svc" >/dev/null 2>&1
  sct-serve publish --root "$g/svc" --key "$KEYS/signing-key.json" >/dev/null
  start_serve "$g/svc"
  local serve_pid=$SERVE_PID
  export SCT_SERVICE_URL=$SERVE_URL
  reset_cases
  for n in "$HIER_SMALL" "$HIER_LARGE"; do
    "$FIXTURE" usage "$g/usb-$n" "$n" "$g/site-$n.db"
    case_ "connect/$n" "discard $g/usb-$n/UpdatePacks" \
      "ServiceConnectionTool -connect -usagedatasrc $g/usb-$n -updatepackdest $g/usb-$n/UpdatePacks -downloadsiteversion > $g/connect-$n.jsonl"
    case_ "import/$n" "$(fresh_site "$g/site-$n.db")" \
      "$IMPORT_ENV sct-import $g/usb-$n/UpdatePacks --quiet"
  done
  run_rounds "$RUNS"
  empty_trash
  local serve_kib
  serve_kib=$(peak_kib "$serve_pid")
  echo
  echo "## Many hierarchies (-connect of N usage cabs against sct-serve, then one sct-import)"
  table_head "note"
  for n in "$HIER_SMALL" "$HIER_LARGE"; do
    local summary
    summary=$(jq -c 'select(.type == "summary" and .transferred != null)' "$g/connect-$n.jsonl" | tail -1)
    local once
    once=$(jq -s '([.[] | select(.type == "pack") | .bytes] | add) as $packs | ([.[] | select(.type == "summary" and .transferred != null)] | last | .transferred) == $packs' "$g/connect-$n.jsonl")
    row "connect/$n" "$(jq -r '"\(.hierarchies | length) hierarchies, \(.packs) packs, \(.transferred) bytes transferred"' <<<"$summary"); each pack downloaded once: $once"
    row "import/$n" "—"
  done
  echo
  echo "Growth from $HIER_SMALL to $HIER_LARGE cabs ($((HIER_LARGE / HIER_SMALL))× the cabs): connect **$(ratio "connect/$HIER_LARGE" "connect/$HIER_SMALL")×** the time (target ≤ 12×) and $(cpu_ratio "connect/$HIER_LARGE" "connect/$HIER_SMALL")× the CPU time of -connect, import $(ratio "import/$HIER_LARGE" "import/$HIER_SMALL")×. sct-serve peak RSS over the whole group: $((serve_kib / 1024)) MiB."
  loads
  kill "$serve_pid"
  unset SCT_SERVICE_URL
  rm -rf "$g"
}

# ---------------------------------------------------------------- many files
group_files() {
  local g="$WORK/files"
  rm -rf "$g" && mkdir -p "$g"
  reset_cases
  local variants=("1 $FILES_SMALL" "1 $FILES_LARGE" "$CATALOG_SMALL 1" "$CATALOG_LARGE 1")
  for variant in "${variants[@]}"; do
    set -- $variant
    local v="$1x$2" svc="$g/svc-$1x$2"
    say "files: $1 pack(s) of $2 file(s) of $FILE_KIB KiB"
    make_service "$svc" "$1" "$2" $((FILE_KIB * 1024))
    start_serve "$svc"
    make_site_offer "$g/site-$v" "$SERVE_URL"
    case_ "publish/$v" "" "sct-serve publish --root $svc --key $KEYS/signing-key.json"
    case_ "fetch/$v" "discard $g/packs-$v" \
      "sct-fetch --offers $g/site-$v/offers.jsonl --dest $g/packs-$v --mode all --quiet"
    case_ "verify/$v" "" "sct-verify $g/packs-$v"
    case_ "import/$v" "$(fresh_site "$g/site-$v/site.db")" "$IMPORT_ENV sct-import $g/packs-$v --quiet"
  done
  run_rounds "$RUNS"
  empty_trash
  echo
  echo "## Many files ($FILE_KIB KiB each): publish, fetch, verify, import"
  table_head "growth"
  local pairs=("1x$FILES_SMALL 1x$FILES_LARGE" "${CATALOG_SMALL}x1 ${CATALOG_LARGE}x1")
  for pair in "${pairs[@]}"; do
    set -- $pair
    for step in publish fetch verify import; do
      row "$step/$1" "—"
      row "$step/$2" "$(ratio "$step/$2" "$step/$1")× the time, $(cpu_ratio "$step/$2" "$step/$1")× the CPU time ($(secs_cpu "$step/$1") s → $(secs_cpu "$step/$2") s) for $(awk "BEGIN{split(\"$1\",a,\"x\"); split(\"$2\",b,\"x\"); print (b[1]*b[2])/(a[1]*a[2])}")× the files"
    done
  done
  echo
  echo "(\`1xN\`: one pack of N files; \`Nx1\`: a catalog of N one-file packs.)"
  loads
  rm -rf "$g"
}

# ---------------------------------------------------------------- large files
group_large() {
  local g="$WORK/large"
  rm -rf "$g" && mkdir -p "$g"
  say "large: one $LARGE_MIB MiB pack file, a $USAGE_MIB MiB usage document"
  make_service "$g/svc" 1 1 $((LARGE_MIB * 1024 * 1024))
  start_serve "$g/svc"
  local serve_pid=$SERVE_PID
  make_site_offer "$g/site" "$SERVE_URL"
  make_usage_document "$g/usage.json" "$USAGE_MIB"
  sct-pack create "$g/usage.json" -o "$g/big/00000.cab" >/dev/null
  reset_cases
  case_ "fetch/$LARGE_MIB MiB" "rm -rf $g/packs $WORK/inbox" \
    "sct-fetch --offers $g/site/offers.jsonl --dest $g/packs --mode all --quiet"
  case_ "verify/$LARGE_MIB MiB" "" "sct-verify $g/packs"
  case_ "import/$LARGE_MIB MiB" "$(fresh_site "$g/site/site.db")" "$IMPORT_ENV sct-import $g/packs --quiet"
  case_ "upload/usage cab" "" "sct-upload $g/big/00000.cab --service-url $SERVE_URL --quiet"
  run_rounds "$LARGE_RUNS"
  empty_trash
  local serve_kib cab_bytes
  serve_kib=$(peak_kib "$serve_pid")
  cab_bytes=$(stat -c %s "$g/big/00000.cab")
  # The worst case for the server's memory: as many of the largest cabs at once as it receives.
  say "large: $LARGE_UPLOADS uploads of the largest cab at once"
  local upids=() failed=0 started elapsed
  started=$(date +%s%N)
  for n in $(seq "$LARGE_UPLOADS"); do
    sct-upload "$g/big/00000.cab" --service-url "$SERVE_URL" --quiet >/dev/null 2>"$g/big/$n.err" &
    upids+=($!)
  done
  for pid in "${upids[@]}"; do wait "$pid" || failed=$((failed + 1)); done
  elapsed=$(awk "BEGIN{printf \"%.2f\", ($(date +%s%N) - $started) / 1e9}")
  local serve_kib_all
  serve_kib_all=$(peak_kib "$serve_pid")
  echo
  echo "## Large files (one $LARGE_MIB MiB pack file; the largest usage cab)"
  table_head "throughput"
  for step in fetch verify import; do
    row "$step/$LARGE_MIB MiB" "$(awk "BEGIN{printf \"%.0f MiB/s\", $LARGE_MIB / $(secs "$step/$LARGE_MIB MiB")}")"
  done
  row "upload/usage cab" "a $cab_bytes-byte cab carrying a $(stat -c %s "$g/usage.json")-byte usage document"
  echo
  echo "sct-serve peak RSS over the group (serving the $LARGE_MIB MiB file, receiving the cab): $((serve_kib / 1024)) MiB; after $LARGE_UPLOADS uploads of that cab at once ($failed failed, $elapsed s in all): $((serve_kib_all / 1024)) MiB."
  loads
  kill "$serve_pid"
  rm -rf "$g" "$WORK/inbox"
}

# A usage document of about MIB MiB: a demo site with enough extra usage rows, collected.
make_usage_document() { # FILE MIB
  local dir
  dir=$(dirname "$1")
  mkdir -p "$dir/big"
  rm -f "$dir/probe.db" "$dir/big.db"
  sct-demo site --db "$dir/probe.db" --extra-rows 10000 >/dev/null
  local probe rows
  probe=$(sct-collect --site "sqlite:$dir/probe.db" | wc -c)
  rows=$(awk "BEGIN{printf \"%d\", $2 * 1048576 / ($probe / 10000) * 0.995}")
  sct-demo site --db "$dir/big.db" --extra-rows "$rows" >/dev/null
  sct-collect --site "sqlite:$dir/big.db" >"$1"
  rm -f "$dir/probe.db" "$dir/big.db"
}

# ---------------------------------------------------------------- serve under load
group_serve() {
  local g="$WORK/serve"
  rm -rf "$g" && mkdir -p "$g"
  say "serve: the sample packs behind sct-serve and nginx"
  mkdir -p "$g/svc"
  sct-demo packs --root "$g/svc" >/dev/null 2>&1
  sct-serve publish --root "$g/svc" --key "$KEYS/signing-key.json" >/dev/null
  start_serve "$g/svc"
  local serve_pid=$SERVE_PID sct_url=$SERVE_URL
  local port
  port=$(free_port)
  start_nginx "$g/nginx" "$port" "$g/svc" /catalog/catalog.json auto 1024 "$g/nginx/access.log" \
    "location /catalog/ { add_header Cache-Control no-cache; } location /uploads/ { deny all; }"
  local nginx_url="http://127.0.0.1:$port"
  local pack
  pack=$(cd "$g/svc" && find packs -name '*.cab' | sort | head -1)
  declare -A RPS MBS
  local load_before
  load_before=$(cut -d' ' -f1-3 /proc/loadavg)
  for run in $(seq "$RUNS"); do
    for server in sct-serve nginx; do
      local base=$sct_url
      [ "$server" = nginx ] && base=$nginx_url
      for what in catalog pack; do
        local path=/catalog/catalog.json
        [ "$what" = pack ] && path=/$pack
        wrk -t2 -c"$WRK_CONNECTIONS" -d"${WRK_SECONDS}s" --latency "$base$path" >"$g/wrk.out" 2>&1
        local rps mbs
        rps=$(awk '/^Requests\/sec/{print $2}' "$g/wrk.out")
        mbs=$(awk '/^Transfer\/sec/{v=$2; if (v ~ /GB/) v*=1024; else if (v ~ /KB/) v/=1024; else v+=0; printf "%.0f", v}' "$g/wrk.out")
        grep -q "Non-2xx" "$g/wrk.out" && { say "$server $what: non-2xx answers"; cat "$g/wrk.out" >&2; exit 1; }
        say "$server $what: $rps requests/s, $mbs MiB/s"
        local key="$server/$what"
        if [ -z "${RPS[$key]:-}" ] || awk "BEGIN{exit !($rps > ${RPS[$key]})}"; then RPS[$key]=$rps; MBS[$key]=$mbs; fi
      done
    done
  done
  LOADS="$load_before → $(cut -d' ' -f1-3 /proc/loadavg)"
  local serve_kib_get
  serve_kib_get=$(peak_kib "$serve_pid")
  echo
  echo "## sct-serve under load (wrk -t2 -c$WRK_CONNECTIONS -d${WRK_SECONDS}s on 127.0.0.1, best of $RUNS)"
  echo
  echo "| GET | sct-serve requests/s | nginx requests/s | sct-serve / nginx (target ≥ 0.8×) | sct-serve MiB/s | nginx MiB/s |"
  echo "|---|---:|---:|---|---:|---:|"
  for what in catalog pack; do
    local size
    if [ "$what" = catalog ]; then size=$(stat -c %s "$g/svc/catalog/catalog.json"); else size=$(stat -c %s "$g/svc/$pack"); fi
    printf '| %s (%s bytes) | %s | %s | **%s×** | %s | %s |\n' "$what" "$size" "${RPS[sct-serve/$what]}" "${RPS[nginx/$what]}" \
      "$(awk "BEGIN{printf \"%.2f\", ${RPS[sct-serve/$what]} / ${RPS[nginx/$what]}}")" "${MBS[sct-serve/$what]}" "${MBS[nginx/$what]}"
  done
  echo
  echo "sct-serve peak RSS after the GETs: $((serve_kib_get / 1024)) MiB. nginx: worker_processes auto, sendfile on, access log to a file (sct-serve logs every request too)."
  loads

  say "serve: $UPLOADS concurrent uploads"
  "$FIXTURE" usage "$g/cabs" "$UPLOADS" "$g/cabs-site.db"
  local before after started
  before=$(find "$g/svc/uploads" -name '*.cab' 2>/dev/null | wc -l)
  started=$(date +%s.%N)
  local upids=() failed=0
  for cab in "$g"/cabs/*.cab; do
    sct-upload "$cab" --service-url "$sct_url" --quiet >"$cab.offer" 2>"$cab.err" &
    upids+=($!)
  done
  for pid in "${upids[@]}"; do wait "$pid" || failed=$((failed + 1)); done
  local elapsed
  elapsed=$(awk "BEGIN{printf \"%.2f\", $(date +%s.%N) - $started}")
  after=$(find "$g/svc/uploads" -name '*.cab' | wc -l)
  local busy
  busy=$(grep -c 'POST /api/v1/usage 503' "$g/svc.serve.log" || true)
  echo
  echo "$UPLOADS sct-upload processes started at once against sct-serve (--max-concurrent-uploads 8, the default): $((after - before)) cabs stored, $failed uploads failed, ${elapsed} s in all; sct-serve peak RSS $(($(peak_kib "$serve_pid") / 1024)) MiB (after the GETs: $((serve_kib_get / 1024)) MiB); $busy requests answered 503 busy and retried."
  kill "$serve_pid"
  rm -rf "$g"
}

# ---------------------------------------------------------------- usage cab writing
group_pack() {
  local g="$WORK/pack"
  rm -rf "$g" && mkdir -p "$g"
  say "pack: a $USAGE_MIB MiB usage document"
  make_usage_document "$g/usage.json" "$USAGE_MIB"
  # The same members sct writes, for gcab: extract one cab sct made.
  sct-pack create "$g/usage.json" -o "$g/probe.cab" >/dev/null
  mkdir -p "$g/members"
  sct-pack extract "$g/probe.cab" --dest "$g/members" >/dev/null
  local members
  members=$(cd "$g/members" && ls | tr '\n' ' ')
  reset_cases
  case_ "sct-pack create" "rm -f $g/sct.cab" "sct-pack create $g/usage.json -o $g/sct.cab"
  case_ "gcab -cz" "rm -f $g/gcab.cab" "cd $g/members && gcab -cz $g/gcab.cab $members"
  run_rounds "$RUNS"
  local sct_size gcab_size
  sct_size=$(stat -c %s "$g/sct.cab")
  gcab_size=$(stat -c %s "$g/gcab.cab")
  echo
  echo "## Usage cab writing ($(stat -c %s "$g/usage.json")-byte usage document; members: $members)"
  table_head "cab bytes"
  row "sct-pack create" "$sct_size (**$(awk "BEGIN{printf \"%.3f\", $sct_size / $gcab_size}")×** gcab's, target ≤ 1.02×)"
  row "gcab -cz" "$gcab_size; sct-pack is **$(ratio "gcab -cz" "sct-pack create")×** as fast (target ≥ 1.0×)"
  loads
  rm -rf "$g"
}

for group in $CASES; do
  case "$group" in
    import | hier | files | large | serve | pack) "group_$group" ;;
    *) say "unknown case group '$group' (import hier files large serve pack)"; exit 2 ;;
  esac
done
echo
echo "Sizes: IMPORT_PACKS=$IMPORT_PACKS IMPORT_MIB=$IMPORT_MIB IMPORT_BIG_MIB=$IMPORT_BIG_MIB HIER_SMALL=$HIER_SMALL HIER_LARGE=$HIER_LARGE FILES_SMALL=$FILES_SMALL FILES_LARGE=$FILES_LARGE FILE_KIB=$FILE_KIB CATALOG_SMALL=$CATALOG_SMALL CATALOG_LARGE=$CATALOG_LARGE LARGE_MIB=$LARGE_MIB LARGE_UPLOADS=$LARGE_UPLOADS USAGE_MIB=$USAGE_MIB WRK_CONNECTIONS=$WRK_CONNECTIONS WRK_SECONDS=$WRK_SECONDS UPLOADS=$UPLOADS RUNS=$RUNS LARGE_RUNS=$LARGE_RUNS."
rmdir "$WORK/logs" 2>/dev/null || true
say "done; remove $WORK when finished"
