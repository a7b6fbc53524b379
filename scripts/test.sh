#!/usr/bin/env bash
# Runs every test. Installs the peer tools the tests use (cabextract, gcab, nginx, squid, htpasswd,
# and exfatprogs with exfat-fuse for a USB drive's file system) when they are missing, so a fresh
# machine needs nothing else.
set -euo pipefail
cd "$(dirname "$0")/.."

# tool -> Debian package
declare -A packages=(
  [cabextract]=cabextract
  [gcab]=gcab
  [nginx]=nginx
  [squid]=squid
  [htpasswd]=apache2-utils
  [curl]=curl
  [openssl]=openssl
  [script]=bsdutils
  [mkfs.exfat]=exfatprogs
  [mount.exfat-fuse]=exfat-fuse
  [losetup]=mount
)
missing=()
for tool in "${!packages[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || missing+=("${packages[$tool]}")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "test.sh: installing ${missing[*]}" >&2
  if [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    sudo apt-get update -qq
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
fi
# nginx and squid live in /usr/sbin, which a non-login shell may not have on PATH.
export PATH="$PATH:/usr/sbin:/sbin"

# --workspace: the test kit (testkit/) has tests of its own.
cargo test --workspace --all-targets "$@"
