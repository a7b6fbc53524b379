#!/usr/bin/env bash
# Builds sct for Windows (x86_64-pc-windows-gnu) on Debian and packs the zips an administrator
# copies to a server:
#   dist/sct-<version>-x86_64-pc-windows-gnu.zip       the production tools (no demo code), the
#                                                      administrator's guide, PowerShell
#                                                      completions, a commented sct.toml, SHA256SUMS
#   dist/sct-demo-<version>-x86_64-pc-windows-gnu.zip  sct-demo.exe alone, for trying sct out
# No installer: unzip into a folder and run. Every .exe carries a version resource and an
# application manifest (build.rs) and, given a certificate, an Authenticode signature:
#   SCT_SIGN_PFX=FILE.pfx              the code-signing certificate and key
#   SCT_SIGN_PASSWORD_FILE=FILE        a file holding the .pfx password (never on the command line)
#   SCT_SIGN_TIMESTAMP_URL=URL         optional: an RFC 3161 timestamp server, so the signatures
#                                      stay valid after the certificate expires
# scripts/check-windows-zip.sh checks the result.
#
# The Windows standard library is built from source with Debian's second Rust toolchain (rustc-web,
# cargo-web, rust-web-src) and linked with mingw-w64; see docs/windows.md. It installs what it needs
# when it is missing (as root, or through sudo).
#
#   scripts/build-windows.sh            release build + zips
#   scripts/build-windows.sh --debug    debug build, no zip: fault points and the test clock for
#                                       the crash tests under Wine (scripts/test-windows.sh)
#   scripts/build-windows.sh --lib-tests  the library's unit tests for Windows; prints the .exe
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

profile=release
[ "${1:-}" = "--debug" ] && profile=debug
lib_tests=""
[ "${1:-}" = "--lib-tests" ] && { profile=debug; lib_tests=1; }
target=x86_64-pc-windows-gnu

say() { printf 'build-windows: %s\n' "$*" >&2; }

# tool or file -> Debian package
declare -A packages=(
  [/usr/bin/rustc]=rustc-web
  [/usr/bin/cargo]=cargo-web
  [/usr/lib/rustlib/src/rust/library/Cargo.lock]=rust-web-src
  [/usr/bin/x86_64-w64-mingw32-gcc]=mingw-w64
  [/usr/bin/zip]=zip
)
[ -z "${SCT_SIGN_PFX:-}" ] || packages[/usr/bin/osslsigncode]=osslsigncode
missing=()
for file in "${!packages[@]}"; do
  [ -e "$file" ] || missing+=("${packages[$file]}")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if [ -n "${SCT_SIGN_PFX:-}" ]; then
  [ -r "$SCT_SIGN_PFX" ] || { say "SCT_SIGN_PFX: cannot read $SCT_SIGN_PFX"; exit 2; }
  [ -r "${SCT_SIGN_PASSWORD_FILE:-}" ] ||
    { say "SCT_SIGN_PASSWORD_FILE must name a readable file holding the .pfx password"; exit 2; }
fi

# Debian's toolchain, its own cargo home and target folder: the two toolchains never share
# compiled artifacts. RUSTC_BOOTSTRAP lets the stable compiler take -Zbuild-std. Neither build
# carries debug info: with it, each .exe was 100 MB and mingw's linker took minutes.
# -Zfunction-sections: rustc's windows-gnu target puts each object's code in one section, so the
# linker's --gc-sections can only keep or drop whole objects. Needed for any dead-code removal at
# link time, but not enough with GNU ld, whose PE script keeps every .pdata/.xdata section and so
# every function: each .exe is still 17.5 MB (docs/windows.md, "Size", says what remains).
windows_target_dir="${SCT_WINDOWS_TARGET_DIR:-$root/target/windows}"
windows_cargo() {
  env -u RUSTUP_TOOLCHAIN -u CARGO_BUILD_TARGET \
    CARGO_HOME="${SCT_WINDOWS_CARGO_HOME:-$HOME/.cargo-windows}" \
    CARGO_TARGET_DIR="$windows_target_dir" \
    RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 \
    CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc \
    CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUSTFLAGS="-Zfunction-sections=yes" \
    CARGO_PROFILE_RELEASE_DEBUG=false CARGO_PROFILE_RELEASE_STRIP=symbols CARGO_PROFILE_DEV_DEBUG=false \
    /usr/bin/cargo "$@" --locked -Zbuild-std --target "$target"
}
release=()
[ "$profile" = release ] && release=(--release)

if [ -n "$lib_tests" ]; then
  say "building the unit tests of the library ($profile) into $windows_target_dir"
  # cargo's JSON messages name the test executable it built.
  windows_cargo test --lib --no-run --message-format=json |
    sed -n 's/.*"executable":"\([^"]*\)".*/\1/p'
  exit 0
fi
out="$windows_target_dir/$target/$profile"
if [ "$profile" != release ]; then
  # The debug build is for the crash tests only and ships nowhere: one build, demo included.
  say "building every binary ($profile, for the tests) into $windows_target_dir"
  windows_cargo build --bins
  say "binaries in $out"
  exit 0
fi
# The production binaries without the demo feature, then sct-demo alone with it (the tests
# under Wine use it to make demo sites); the two builds keep separate copies of the library.
say "building every binary without the demo ($profile) into $windows_target_dir"
windows_cargo build --bins --no-default-features "${release[@]}"
# sct-docgen ships nowhere either; built with the demo it documents every tool, sct-demo too.
say "building sct-demo and sct-docgen ($profile)"
windows_cargo build --bin sct-demo --bin sct-docgen --features demo "${release[@]}"

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
name="sct-$version-$target"
demo_name="sct-demo-$version-$target"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/$name/completions" "$stage/$demo_name/completions"

# Signs one .exe in place (Authenticode, SHA-256), when a certificate is given.
sign() {
  local exe=$1 description
  [ -n "${SCT_SIGN_PFX:-}" ] || return 0
  description="sct $(basename "$exe" .exe)"
  osslsigncode sign -pkcs12 "$SCT_SIGN_PFX" -readpass "$SCT_SIGN_PASSWORD_FILE" -h sha256 \
    -n "$description" ${SCT_SIGN_TIMESTAMP_URL:+-ts "$SCT_SIGN_TIMESTAMP_URL"} \
    -in "$exe" -out "$exe.signed" >/dev/null
  mv "$exe.signed" "$exe"
}

# The binaries an administrator runs; sct-docgen is a build tool, sct-demo goes to its own zip.
for exe in "$out"/*.exe; do
  case "$(basename "$exe")" in
    sct-docgen.exe) ;;
    sct-demo.exe) cp "$exe" "$stage/$demo_name/" ;;
    *) cp "$exe" "$stage/$name/" ;;
  esac
done
# PowerShell completions come from the same clap definitions, generated by the host build
# (the machine's own toolchain and target folder).
docs=$(mktemp -d)
cargo run --quiet --bin sct-docgen -- --out "$docs" >/dev/null
for script in "$docs"/completions/powershell/*.ps1; do
  case "$(basename "$script")" in
    sct-demo.*) cp "$script" "$stage/$demo_name/completions/" ;;
    *) cp "$script" "$stage/$name/completions/" ;;
  esac
done
rm -rf "$docs"
cp packaging/sct.toml packaging/INSTALL.txt packaging/ADMIN-GUIDE.md LICENSE-MIT LICENSE-APACHE \
  "$stage/$name/"
cp packaging/DEMO.txt LICENSE-MIT LICENSE-APACHE "$stage/$demo_name/"

mkdir -p dist
for folder in "$name" "$demo_name"; do
  # Windows tools (Notepad before Windows 10 1809, CMTrace) expect CRLF in text files.
  for text in "$stage/$folder"/*.txt "$stage/$folder"/*.md "$stage/$folder"/*.toml "$stage/$folder"/LICENSE-*; do
    [ ! -e "$text" ] || sed -i 's/\r\?$/\r/' "$text"
  done
  for exe in "$stage/$folder"/*.exe; do
    sign "$exe"
  done
  # SHA256SUMS last, over the signed files: `sha256sum -c SHA256SUMS` on Linux, Get-FileHash on
  # Windows (ADMIN-GUIDE.md).
  (cd "$stage/$folder" && find . -type f ! -name SHA256SUMS | sed 's|^\./||' | LC_ALL=C sort |
    xargs -d '\n' sha256sum >SHA256SUMS)
  zip_path="$root/dist/$folder.zip"
  rm -f "$zip_path"
  (cd "$stage" && zip -q -r -X "$zip_path" "$folder")
  say "wrote dist/$folder.zip ($(du -h "$zip_path" | cut -f 1))"
done
[ -n "${SCT_SIGN_PFX:-}" ] || say "not signed: set SCT_SIGN_PFX and SCT_SIGN_PASSWORD_FILE to sign the .exe files"
echo "$root/dist/$name.zip"
