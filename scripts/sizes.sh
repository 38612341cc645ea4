#!/bin/sh
# Build the static release binary for each target, check it is static, and print its size.
# With --check, fail when a binary is larger than its limit in scripts/size-limits.
set -eu
cd "$(dirname "$0")/.."
check=no; [ "${1:-}" = --check ] && check=yes
fail=0
printf '%-34s %10s %10s  %s\n' target bytes limit linkage
while read -r target limit; do
  case "$target" in ''|'#'*) continue ;; esac
  bin=$(scripts/build.sh "$target")
  size=$(stat -c %s "$bin")
  link=$(file -b "$bin" | grep -oE 'static-pie linked|statically linked|dynamically linked' || echo unknown)
  printf '%-34s %10s %10s  %s\n' "$target" "$size" "$limit" "$link"
  case "$link" in static*|statically*) ;; *) echo "  $target: not a static binary" >&2; fail=1 ;; esac
  if [ "$check" = yes ] && [ "$size" -gt "$limit" ]; then
    echo "  $target: $size bytes is over the limit of $limit (scripts/size-limits)" >&2
    fail=1
  fi
done < scripts/size-limits
exit $fail
