# Shell helpers the benchmarks share (scripts/bench-fetch.sh, scripts/bench-scale.sh): sourced,
# never run. The caller sets BENCH (its name, for messages), ROOT (the repository) and WORK (its
# work folder) first.
#
# Cases are registered first (case_ NAME SETUP COMMAND), then run round-robin RUNS times, so that
# load from other work on the machine falls on every case alike; per case the best wall time is
# kept with that run's peak RSS, and apart from it the least CPU time (user + system), which other
# I/O disturbs less.

say() { echo "$BENCH: $*" >&2; }

# Exits 2 naming every tool of the list that is not installed, and how to install them.
require_tools() { # INSTALL_HINT TOOL...
  local hint=$1 missing=()
  shift
  for tool in "$@"; do
    command -v "$tool" >/dev/null || missing+=("$tool")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    say "missing: ${missing[*]}; install them with: $hint"
    exit 2
  fi
}

# Builds release binaries with the given cargo arguments; sets BIN to where cargo put them:
# CARGO_TARGET_DIR (relative to the repository, as cargo reads it) or target/.
build_release() { # CARGO_ARGS...
  say "building release binaries"
  (cd "$ROOT" && cargo build --release --quiet "$@")
  local target="${CARGO_TARGET_DIR:-target}"
  case "$target" in /*) ;; *) target="$ROOT/$target" ;; esac
  BIN="$target/release"
}

# Processes started in the background, stopped when the script exits.
PIDS=()
stop_background() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap stop_background EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Starts nginx serving SERVE_ROOT on 127.0.0.1:PORT with its files under DIR, and waits until it
# answers for PROBE (a path under SERVE_ROOT). EXTRA goes inside the server block.
start_nginx() { # DIR PORT SERVE_ROOT PROBE WORKERS CONNECTIONS ACCESS_LOG [EXTRA]
  local dir=$1 port=$2 root=$3 probe=$4 workers=$5 connections=$6 access=$7 extra=${8:-}
  mkdir -p "$dir/tmp"
  cat >"$dir/nginx.conf" <<EOF
daemon off;
worker_processes $workers;
pid $dir/nginx.pid;
error_log $dir/error.log;
$( [ "$(id -u)" = 0 ] && echo "user root;" )
events { worker_connections $connections; }
http {
  access_log $access;
  sendfile on;
  default_type application/octet-stream;
  client_body_temp_path $dir/tmp/body;
  proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fastcgi;
  uwsgi_temp_path $dir/tmp/uwsgi;
  scgi_temp_path $dir/tmp/scgi;
  server {
    listen 127.0.0.1:$port;
    root $root;
    $extra
  }
}
EOF
  nginx -p "$dir" -c "$dir/nginx.conf" </dev/null >/dev/null 2>&1 &
  PIDS+=($!)
  for _ in $(seq 100); do curl -fsS -o /dev/null "http://127.0.0.1:$port$probe" 2>/dev/null && break; sleep 0.1; done
}

# ---- the round-robin runner
declare -A SECONDS_OF RSS_OF CPU_OF
NAMES=(); SETUPS=(); COMMANDS=()
case_() { NAMES+=("$1"); SETUPS+=("$2"); COMMANDS+=("$3"); }
reset_cases() { NAMES=(); SETUPS=(); COMMANDS=(); }

run_case() { # index
  local i=$1 secs kib name=${NAMES[$1]}
  eval "${SETUPS[$i]}"
  sync
  local start end
  start=$(date +%s%N)
  /usr/bin/time -f "%M %U %S" -o "$WORK/time.out" bash -c "${COMMANDS[$i]}" >"$WORK/last.out" 2>"$WORK/last.err" \
    || { say "'$name' failed:"; tail -20 "$WORK/last.err" >&2; exit 1; }
  end=$(date +%s%N)
  secs=$(awk "BEGIN{printf \"%.3f\", ($end - $start) / 1e9}")
  local user sys cpu
  read -r kib user sys <"$WORK/time.out"
  cpu=$(awk "BEGIN{printf \"%.2f\", $user + $sys}")
  if [ -z "${SECONDS_OF[$name]:-}" ] || awk "BEGIN{exit !($secs < ${SECONDS_OF[$name]})}"; then
    SECONDS_OF[$name]=$secs
    RSS_OF[$name]=$kib
  fi
  if [ -z "${CPU_OF[$name]:-}" ] || awk "BEGIN{exit !($cpu < ${CPU_OF[$name]})}"; then
    CPU_OF[$name]=$cpu
  fi
  say "$name: ${secs}s (CPU ${cpu}s), peak RSS $((kib / 1024)) MiB"
}

# Runs every registered case ROUNDS times; LOADS is the load average before → after.
run_rounds() { # ROUNDS
  local load_before
  load_before=$(cut -d' ' -f1-3 /proc/loadavg)
  for run in $(seq "$1"); do
    say "round $run of $1"
    for i in "${!NAMES[@]}"; do run_case "$i"; done
  done
  LOADS="$load_before → $(cut -d' ' -f1-3 /proc/loadavg)"
}

# ---- the report
secs() { echo "${SECONDS_OF[$1]}"; }
secs_cpu() { echo "${CPU_OF[$1]}"; }
cpu_ratio() { awk "BEGIN{d = ${CPU_OF[$2]}; if (d > 0) printf \"%.2f\", ${CPU_OF[$1]} / d; else print \"n/a\"}"; }
mib() { awk "BEGIN{printf \"%.0f\", ${RSS_OF[$1]} / 1024}"; }
ratio() { awk "BEGIN{d = ${SECONDS_OF[$2]}; if (d > 0) printf \"%.2f\", ${SECONDS_OF[$1]} / d; else print \"n/a\"}"; }
row() { printf '| %s | %s | %s | %s |\n' "$1" "$(secs "$1")" "$(mib "$1")" "$2"; }
table_head() { echo; echo "| case | seconds | peak RSS MiB | $1 |"; echo "|---|---:|---:|---|"; }
loads() { echo; echo "Load average (1/5/15 min), before → after: $LOADS."; }
