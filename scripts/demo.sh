#!/bin/sh
# The demo: build the static mote for this machine and let `mote supervise` run four workloads
# for 30 seconds from bundles mote makes from itself (their rootfs holds only the static binary;
# nothing is downloaded). Arguments go to `mote demo` (--runtime: the one-container demo).
set -eu
# Root is needed; a user with sudo is asked for it (a fresh image's root often has no sudo).
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "$0: run as root (there is no sudo here)" >&2; exit 1; }
  exec sudo -E env "PATH=$PATH" "$0" "$@"
fi
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
