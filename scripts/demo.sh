#!/usr/bin/env bash
# The whole job on the embedded default, as an administrator would run it:
#   demo site -> prepare (usage cab onto the "USB drive") -> export (CSV for review)
#   -> local update service -> connect -> import, then the site's update packages.
# With SCT_DEMO_DIR=DIR everything stays in DIR, and DIR/demo.env holds the SCT_* settings used,
# so `source DIR/demo.env` lets you rerun any stage or wrapper phase by hand.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

say() { printf '\n== %s\n' "$*" >&2; }

say "Building sct"
(cd "$root" && cargo build --quiet --bins)
bin="$root/target/debug"
export PATH="$bin:$PATH"

demo="${SCT_DEMO_DIR:-$(mktemp -d -t sct-demo.XXXXXX)}"
mkdir -p "$demo/usb" "$demo/site/install" "$demo/logs"
demo=$(cd "$demo" && pwd)

site_db="$demo/site/site.db"
if [ ! -f "$site_db" ]; then
  say "Creating the demo site (site code PS1, Configuration Manager 2403, Enhanced)"
  sct-demo site --db "$site_db" --site-code PS1 --site-name "Contoso Primary Site" \
    --version 5.00.9128.1000 --level Enhanced --install-dir "$demo/site/install" >/dev/null
fi

cat > "$demo/demo.env" <<ENV
# Settings of the sct demo in $demo: source this file, then run any stage by hand.
export PATH="$bin:\$PATH"
export SCT_SITE="sqlite:$site_db"
export SCT_DEMO_DIR="$demo"
# ServiceConnectionTool.log and ConfigMgrSetup.log stay in the demo folder, not beside the binaries.
export SCT_LOG_DIR="$demo/logs"
ENV
# shellcheck disable=SC1091
source "$demo/demo.env"

say "Prepare: ServiceConnectionTool -prepare -usagedatadest $demo/usb/UsageData.cab"
ServiceConnectionTool -prepare -usagedatadest "$demo/usb/UsageData.cab" >"$demo/usb/UsageData.cab.json"

say "Export: ServiceConnectionTool -export -dest $demo/usb/usagedata.csv"
ServiceConnectionTool -export -dest "$demo/usb/usagedata.csv"

say "What the cab holds (sct-pack inspect)"
sct-pack inspect --human "$demo/usb/UsageData.cab" >&2

say "Done. Files are in $demo (source $demo/demo.env to rerun a stage)"
ls -l "$demo/usb" >&2
say "CMTrace logs in $demo/logs (open them in CMTrace or OneTrace, or grep INFO: / ERROR:)"
ls -l "$demo/logs" >&2
