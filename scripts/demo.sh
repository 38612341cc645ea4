#!/bin/sh
# The demo: build the static mote for this machine and run a container from a bundle that
# mote makes from itself (its rootfs holds only the static binary; nothing is downloaded).
# Run as root.
set -eu
cd "$(dirname "$0")/.."
arch=$(uname -m)
case "$arch" in
  x86_64) target=x86_64-unknown-linux-musl ;;
  aarch64) target=aarch64-unknown-linux-musl ;;
  armv7l|armv8l) target=armv7-unknown-linux-musleabihf ;;
  *) echo "demo: no static target for $arch" >&2; exit 2 ;;
esac
rustup target list --installed 2>/dev/null | grep -qx "$target" || rustup target add "$target" >&2 || true
bin=$(scripts/build.sh "$target")
exec "$bin" demo "$@"
