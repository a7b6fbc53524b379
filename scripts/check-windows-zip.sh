#!/usr/bin/env bash
# Checks the Windows zips scripts/build-windows.sh wrote, as an administrator's first look would,
# and fails on the first problem:
#   - every .exe is signed and its signature verifies against the CA given (--ca), or is unsigned
#     when none is given (--unsigned);
#   - every .exe carries a version resource (type 16) naming this tool, the product and the
#     version, and an application manifest (type 24) with asInvoker and longPathAware;
#   - SHA256SUMS lists every other file of the folder, and each hash matches;
#   - sizes: no .exe above 12 MB, sct-pack.exe and sct-verify.exe under 5 MB, the zip at most 30 MB;
#   - the production zip holds the administrator's guide, not the developers' README, and no demo
#     code: no sct-demo.exe, and none of the demo's data in any binary; the demo zip holds
#     sct-demo.exe.
#
#   scripts/check-windows-zip.sh --ca CA.pem [DIST]    (DIST defaults to dist/)
#   scripts/check-windows-zip.sh --unsigned [DIST]
#   ... --sizes-report-only ...   prints the sizes against the targets without failing on them
#                                 (CI, until the Windows link drops unused code: docs/windows.md, Size)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

ca=""
sizes_enforced=1
case "${1:-}" in
  --ca) ca=${2:?--ca needs the CA certificate file}; shift 2 ;;
  --unsigned) shift ;;
  *) echo "usage: check-windows-zip.sh --ca CA.pem | --unsigned [--sizes-report-only] [DIST]" >&2; exit 2 ;;
esac
[ "${1:-}" = --sizes-report-only ] && { sizes_enforced=""; shift; }
dist=${1:-$root/dist}
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/Cargo.toml" | head -n 1)
target=x86_64-pc-windows-gnu
name="sct-$version-$target"
demo_name="sct-demo-$version-$target"
mb=$((1024 * 1024))

# tool -> Debian package
declare -A packages=([/usr/bin/osslsigncode]=osslsigncode [/usr/bin/unzip]=unzip
  [/usr/bin/x86_64-w64-mingw32-objdump]=binutils-mingw-w64-x86-64 [/usr/bin/strings]=binutils)
missing=()
for file in "${!packages[@]}"; do
  [ -e "$file" ] || missing+=("${packages[$file]}")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

failures=0
# A size over its target: a failure, or only a note with --sizes-report-only.
oversize() {
  if [ -n "$sizes_enforced" ]; then fail "$*"; else printf 'check-windows-zip: OVER TARGET (not enforced): %s\n' "$*" >&2; fi
}
fail() { printf 'check-windows-zip: FAIL: %s\n' "$*" >&2; failures=$((failures + 1)); }
ok() { printf 'check-windows-zip: ok: %s\n' "$*" >&2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for zip in "$name" "$demo_name"; do
  [ -f "$dist/$zip.zip" ] || { fail "$dist/$zip.zip is missing"; exit 1; }
  unzip -q "$dist/$zip.zip" -d "$work"
done

# The tools each zip must hold, and nothing else.
production=(ServiceConnectionTool sct-collect sct-pack sct-upload sct-fetch sct-span sct-verify sct-import sct-check sct-serve)
expected=$(printf '%s.exe\n' "${production[@]}" | LC_ALL=C sort)
actual=$(cd "$work/$name" && ls -- *.exe | LC_ALL=C sort)
[ "$actual" = "$expected" ] && ok "the production zip holds exactly the ${#production[@]} tools" ||
  fail "the production zip's .exe files: $(echo $actual), expected $(echo $expected)"
[ -f "$work/$demo_name/sct-demo.exe" ] && ok "the demo zip holds sct-demo.exe" ||
  fail "the demo zip has no sct-demo.exe"

# Signature, resources and size of one .exe.
check_exe() {
  local exe=$1 tool size resources strings ascii
  tool=$(basename "$exe" .exe)
  if [ -n "$ca" ]; then
    osslsigncode verify -CAfile "$ca" -in "$exe" >"$work/verify.txt" 2>&1 &&
      grep -q "^Signature verification: ok" "$work/verify.txt" &&
      ok "$tool.exe: signature verifies" || fail "$tool.exe: no valid signature ($(tail -n 1 "$work/verify.txt"))"
  elif osslsigncode verify -in "$exe" >"$work/verify.txt" 2>&1 || true; grep -q "Signer's certificate" "$work/verify.txt"; then
    fail "$tool.exe is signed, but no --ca was given to check it"
  fi
  # objdump lists the resource directory: top-level types 0x10 (RT_VERSION), 0x18 (RT_MANIFEST).
  resources=$(x86_64-w64-mingw32-objdump -p "$exe" | sed -n '/Resource Directory section/,/Resources start/p' |
    sed -n 's/^0[0-9a-f]*   Entry: ID: 0x0000\(..\).*/\1/p' | tr '\n' ' ')
  # Captured first: `strings | grep -q` would end strings with SIGPIPE, a failure under pipefail.
  strings=$(strings -e l "$exe")
  ascii=$(strings "$exe")
  case " $resources" in
    *" 10 "*) grep -qx "sct service connection tool" <<<"$strings" && grep -qx "$version" <<<"$strings" &&
      grep -qx "$tool.exe" <<<"$strings" && ok "$tool.exe: version resource ($(grep -m1 '^sct' <<<"$strings" | head -n 1))" ||
      fail "$tool.exe: the version resource does not name the product, $version and $tool.exe" ;;
    *) fail "$tool.exe: no version resource (resource types: $resources)" ;;
  esac
  case " $resources" in
    *" 18 "*) grep -q 'level="asInvoker"' <<<"$ascii" && grep -q 'longPathAware' <<<"$ascii" &&
      ok "$tool.exe: manifest (asInvoker, longPathAware)" || fail "$tool.exe: the manifest lacks asInvoker or longPathAware" ;;
    *) fail "$tool.exe: no application manifest" ;;
  esac
  size=$(stat -c %s "$exe")
  local limit=$((12 * mb))
  case "$tool" in sct-pack | sct-verify) limit=$((5 * mb)) ;; esac
  [ "$size" -le "$limit" ] && ok "$tool.exe: $((size / 1024)) KiB (limit $((limit / 1024)) KiB)" ||
    oversize "$tool.exe: $((size / 1024)) KiB, over the limit of $((limit / 1024)) KiB"
}
for exe in "$work/$name"/*.exe "$work/$demo_name"/*.exe; do
  check_exe "$exe"
done

# SHA256SUMS: every file but itself listed once, every hash right.
for folder in "$name" "$demo_name"; do
  listed=$(sed 's/^[0-9a-f]\{64\}  //' "$work/$folder/SHA256SUMS" | LC_ALL=C sort)
  present=$(cd "$work/$folder" && find . -type f ! -name SHA256SUMS | sed 's|^\./||' | LC_ALL=C sort)
  [ "$listed" = "$present" ] || fail "$folder/SHA256SUMS does not list exactly the folder's files"
  (cd "$work/$folder" && sha256sum --quiet --strict -c SHA256SUMS) && ok "$folder/SHA256SUMS matches" ||
    fail "$folder/SHA256SUMS does not match"
done

# What an administrator reads, and no demo in production.
[ -f "$work/$name/ADMIN-GUIDE.md" ] && ok "the administrator's guide is there" || fail "no ADMIN-GUIDE.md"
[ ! -e "$work/$name/README.md" ] || fail "the developers' README.md is in the zip"
! grep -q "docs/[a-z-]*\.md" "$work/$name/ADMIN-GUIDE.md" "$work/$name/INSTALL.txt" ||
  fail "the guide links to docs/*.md, which the zip does not hold"
# A demo site's usage table ID (TEL_ClientCounts) and a sample pack's GUID (src/site/demo.rs,
# src/service/samples.rs): data only the demo feature compiles in.
demo_marks=(9b2e4d31-1c5a-4e7f-b3c6-2a8d7f0e1f04 5B8886C7-F967-4F8A-92AA-009E28368853)
for mark in "${demo_marks[@]}"; do
  grep -q "$mark" "$root/src/site/demo.rs" "$root/src/service/samples.rs" ||
    fail "the demo mark $mark is no longer in the demo's sources: update this script"
  grep -l -F "$mark" "$work/$name"/*.exe >"$work/demo-hits.txt" &&
    fail "demo data ($mark) in $(cat "$work/demo-hits.txt" | xargs -n 1 basename | tr '\n' ' ')" || true
  grep -q -F "$mark" "$work/$demo_name/sct-demo.exe" ||
    fail "sct-demo.exe lacks the demo mark $mark: the check would prove nothing"
done
[ "$failures" -eq 0 ] && ok "no demo data in the production binaries"

zip_size=$(stat -c %s "$dist/$name.zip")
[ "$zip_size" -le $((30 * mb)) ] && ok "$name.zip: $((zip_size / mb)) MB (limit 30 MB)" ||
  oversize "$name.zip: $((zip_size / mb)) MB, over 30 MB"

[ "$failures" -eq 0 ] || { echo "check-windows-zip: $failures problem(s)" >&2; exit 1; }
echo "check-windows-zip: both zips pass" >&2
