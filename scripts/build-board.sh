#!/bin/sh
# Build the static mote for a board profile of boards/: scripts/build-board.sh BOARD [PROFILE]
# (PROFILE: release, the default, or tiny). Prints the binary's path. The CPU-tuned build
# goes to its own target directory (target/boards/BOARD).
set -eu
cd "$(dirname "$0")/.."
if [ "${1:-}" = --list ] || [ $# -eq 0 ]; then
  for f in boards/*.board; do printf '%-20s %s\n' "$(basename "$f" .board)" "$(sed -n 's/^name = //p' "$f")"; done
  [ $# -eq 0 ] && exit 2 || exit 0
fi
f="boards/$1.board"
[ -f "$f" ] || { echo "no board profile $f (scripts/build-board.sh --list)" >&2; exit 2; }
get() { sed -n "s/^$1 = *//p" "$f" | head -n 1; }
target=$(get target)
cpu=$(get cpu)
base="-C target-feature=+crt-static"
case "$target" in
  aarch64-*) base="$base -C link-arg=-zmax-page-size=65536" ;;
  armv7-*) base="$base -C link-self-contained=no" ;;
esac
[ -n "$cpu" ] && [ "$cpu" != generic ] && base="$base -C target-cpu=$cpu"
export RUSTFLAGS="$base"
export CARGO_TARGET_DIR="target/boards/$1"
bin=$(scripts/build.sh "$target" "${2:-release}")
echo "$bin"
