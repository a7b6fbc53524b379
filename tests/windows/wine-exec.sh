#!/bin/sh
# Test harness only: starts a Windows .exe under Wine the way an administrator would call it.
#
#   wine-exec.sh EXE [ARG...]
#
# The suite's scratch folders and fixtures are Linux paths (/tmp/.tmpXYZ/usb). Each argument that
# names one — alone, after `--flag=` or after `sqlite:` — is handed to the .exe as Windows shows
# it, on drive Z: (Wine maps Z: to /): Z:\tmp\.tmpXYZ\usb. Any other argument passes unchanged, so
# a test can still give a Linux-only path (/media/usb) to see the Windows build refuse it.
# SCT_TEST_WINE_ROOTS lists the folders whose paths are translated (colon-separated).
# `exec` keeps this process's ID, so a test that kills the child kills the .exe.
exe=$1
shift
windows() {
  printf 'Z:%s' "$1" | tr / '\\'
}
translate() {
  old_ifs=$IFS
  IFS=:
  for root in $SCT_TEST_WINE_ROOTS; do
    case $1 in
      "$root"|"$root"/*) IFS=$old_ifs; windows "$1"; return ;;
    esac
  done
  IFS=$old_ifs
  printf '%s' "$1"
}
count=$#
while [ "$count" -gt 0 ]; do
  arg=$1
  shift
  case $arg in
    --*=/*) arg="${arg%%=*}=$(translate "${arg#*=}")" ;;
    sqlite:/*) arg="sqlite:$(translate "${arg#sqlite:}")" ;;
    /*) arg=$(translate "$arg") ;;
  esac
  set -- "$@" "$arg"
  count=$((count - 1))
done
exec "${SCT_TEST_WINE_LOADER:-/usr/lib/wine/wine64}" "$exe" "$@"
