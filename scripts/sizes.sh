#!/bin/sh
# The size report: build the static binary of each target in the release profile (and, with
# --tiny, the tiny profile: build-std, size-optimized core and alloc, immediate abort on panic), check it
# is static, print the sizes. With --check, fail when a binary is over its limit in
# scripts/size-limits (release, and with --tiny the tiny one too).
set -eu
cd "$(dirname "$0")/.."
check=no; tiny=no
for a in "$@"; do
  case "$a" in --check) check=yes ;; --tiny) tiny=yes ;; *) echo "usage: $0 [--check] [--tiny]" >&2; exit 2 ;; esac
done
fail=0
printf '%-34s %10s %10s %10s %10s  %s\n' target release limit tiny limit linkage
while read -r target limit tiny_limit; do
  case "$target" in ''|'#'*|cost) continue ;; esac
  bin=$(scripts/build.sh "$target")
  size=$(stat -c %s "$bin")
  link=$(file -b "$bin" | grep -oE 'static-pie linked|statically linked|dynamically linked' || echo unknown)
  t=-
  if [ "$tiny" = yes ]; then
    tbin=$(scripts/build.sh "$target" tiny)
    t=$(stat -c %s "$tbin")
    case "$(file -b "$tbin")" in *static-pie*|*statically*) ;; *) echo "  $target: tiny is not static" >&2; fail=1 ;; esac
    if [ "$check" = yes ] && [ "$t" -gt "$tiny_limit" ]; then
      echo "  $target: tiny $t bytes is over the limit of $tiny_limit (scripts/size-limits)" >&2
      fail=1
    fi
  fi
  printf '%-34s %10s %10s %10s %10s  %s\n' "$target" "$size" "$limit" "$t" "$tiny_limit" "$link"
  case "$link" in static*|statically*) ;; *) echo "  $target: not a static binary" >&2; fail=1 ;; esac
  if [ "$check" = yes ] && [ "$size" -gt "$limit" ]; then
    echo "  $target: $size bytes is over the limit of $limit (scripts/size-limits)" >&2
    fail=1
  fi
done < scripts/size-limits
exit $fail
