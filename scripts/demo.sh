#!/usr/bin/env bash
# The whole job on the embedded default, as an administrator would run it:
#   demo site + local update service -> prepare -> connect -> import -> the site's update packages.
# With SCT_DEMO_DIR=DIR everything stays in DIR: the site database and install folder (site/),
# the update service (service/), the transfer medium (usb/), the CMTrace logs (logs/), and
# DIR/demo.env with the SCT_* settings used, so `source DIR/demo.env` lets you rerun any stage.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

say() { printf '\n== %s\n' "$*" >&2; }

say "Building sct"
(cd "$root" && cargo build --quiet --bins)
# Where cargo put them: CARGO_TARGET_DIR (relative to the repository, as cargo reads it) or target/.
target="${CARGO_TARGET_DIR:-target}"
case "$target" in /*) ;; *) target="$root/$target" ;; esac
bin="$target/debug"
[ -x "$bin/sct-demo" ] || { echo "demo.sh: no sct-demo in $bin after the build" >&2; exit 3; }
export PATH="$bin:$PATH"

demo="${SCT_DEMO_DIR:-$(mktemp -d -t sct-demo.XXXXXX)}"
mkdir -p "$demo/usb" "$demo/site/install" "$demo/service" "$demo/logs"
demo=$(cd "$demo" && pwd)
site_db="$demo/site/site.db"
service="$demo/service"

if [ ! -f "$site_db" ]; then
  say "Creating the demo site: PS1, Configuration Manager 2403 (5.00.9128.1000), Enhanced"
  sct-demo site --db "$site_db" --site-code PS1 --site-name "Contoso Primary Site" \
    --version 5.00.9128.1000 --level Enhanced --install-dir "$demo/site/install" >/dev/null
fi

if [ ! -f "$service/signing-key.json" ]; then
  say "Setting up the local update service: signing key, sample update packs, signed catalog"
  sct-serve keygen --out "$service/signing-key.json" >"$service/public-key.json"
  sct-demo packs --root "$service" >/dev/null
  sct-serve publish --root "$service" --key "$service/signing-key.json" >/dev/null
fi
public_key=$(sed -n 's/.*"\(ed25519:[^"]*\)".*/\1/p' "$service/public-key.json" | head -n 1)
if [ ! -s "$service/upload-token" ]; then
  # Uploads are authenticated: the service and the connect stage share this token.
  (umask 077 && head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$service/upload-token")
fi

say "Starting the update service on a free loopback port"
sct-serve run --root "$service" --bind 127.0.0.1:0 --token-file "$service/upload-token" \
  >"$service/listening.json" 2>"$demo/logs/sct-serve.stderr" &
serve_pid=$!
trap 'kill "$serve_pid" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  [ -s "$service/listening.json" ] && break
  sleep 0.1
done
service_url=$(sed -n 's/.*"url": *"\([^"]*\)".*/\1/p' "$service/listening.json" | head -n 1)
[ -n "$service_url" ] || { echo "demo.sh: the update service did not start; see $demo/logs/sct-serve.stderr" >&2; exit 3; }

cat > "$demo/demo.env" <<ENV
# Settings of the sct demo in $demo: source this file, then run any stage by hand.
# The update service runs only while demo.sh runs; for -connect, sct-upload and sct-fetch start
# it again with \`sct_demo_service\` (same address, in the background; stop it with
# \`kill \$SCT_DEMO_SERVICE_PID\`).
sct_demo_service() {
  sct-serve run --root "$service" --bind "${service_url#*://}" --token-file "$service/upload-token" \\
    >"$service/listening.json" 2>>"$demo/logs/sct-serve.stderr" &
  SCT_DEMO_SERVICE_PID=\$!
  for _ in \$(seq 100); do
    [ -s "$service/listening.json" ] && { echo "update service at \$SCT_SERVICE_URL (pid \$SCT_DEMO_SERVICE_PID)" >&2; return 0; }
    kill -0 "\$SCT_DEMO_SERVICE_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "sct_demo_service: the update service did not start; see $demo/logs/sct-serve.stderr" >&2
  return 3
}
export PATH="$bin:\$PATH"
export SCT_SITE="sqlite:$site_db"
export SCT_SERVICE_URL="$service_url"
export SCT_TRUSTED_KEYS="$public_key"
# The upload token is read from its file when this is sourced, never written here.
export SCT_SERVICE_TOKEN="\$(cat "$service/upload-token")"
# ServiceConnectionTool.log and ConfigMgrSetup.log stay in the demo folder, not beside the binaries.
export SCT_LOG_DIR="$demo/logs"
export SCT_DEMO_DIR="$demo"
ENV
# shellcheck disable=SC1091
source "$demo/demo.env"

say "Prepare (on the site): ServiceConnectionTool -prepare -usagedatadest usb/UsageData.cab"
ServiceConnectionTool -prepare -usagedatadest "$demo/usb/UsageData.cab" >"$demo/usb/UsageData.cab.json"
ServiceConnectionTool -export -dest "$demo/usb/usagedata.csv"
sct-pack inspect --human "$demo/usb/UsageData.cab" >&2

say "Connect (on the internet-connected machine): upload usage data, download update packs"
ServiceConnectionTool -connect -usagedatasrc "$demo/usb" -updatepackdest "$demo/usb/UpdatePacks" \
  >"$demo/usb/connect.jsonl"

say "Verify what came back on the USB drive: sct-verify usb/UpdatePacks"
sct-verify "$demo/usb/UpdatePacks" >"$demo/usb/verify.json"

say "Import (on the site): ServiceConnectionTool -import -updatepacksrc usb/UpdatePacks"
ServiceConnectionTool -import -updatepacksrc "$demo/usb/UpdatePacks" >"$demo/usb/import.jsonl"

say "The site's update packages (Administration > Updates and Servicing)"
sct-import --list --human >&2

say "Done. Everything is in $demo; source $demo/demo.env to rerun any stage by hand."
say "CMTrace logs in $demo/logs (open them in CMTrace or OneTrace, or grep INFO: / ERROR:)"
ls -l "$demo/logs" >&2
