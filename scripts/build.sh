#!/bin/sh
# Build the static release binary for one target: scripts/build.sh TARGET [PROFILE]
#   TARGET  x86_64-unknown-linux-musl | aarch64-unknown-linux-musl | armv7-unknown-linux-musleabihf
#   PROFILE release (default) or tiny (build-std: core and alloc compiled for size, immediate
#           abort on panic)
# Prints the path of the binary. mote is no_std: it needs only core and alloc, which armv7
# builds with build-std when rustup does not serve them.
set -eu
target=$1
profile=${2:-release}
cd "$(dirname "$0")/.."
has_std() { rustup target list --installed 2>/dev/null | grep -qx "$1"; }
extra=""
if [ "$profile" = tiny ]; then
  export RUSTC_BOOTSTRAP=1
  export RUSTFLAGS="${RUSTFLAGS:-} -Zunstable-options -Cpanic=immediate-abort -Cforce-unwind-tables=no"
  # Keep the target's own rustflags (linker settings) too.
  case "$target" in
    armv7-*) RUSTFLAGS="$RUSTFLAGS -C target-feature=+crt-static -C link-self-contained=no" ;;
    *) RUSTFLAGS="$RUSTFLAGS -C target-feature=+crt-static" ;;
  esac
  extra="-Zbuild-std=core,alloc -Zbuild-std-features=optimize_for_size"
  profile_flag="--profile tiny"
elif [ "$target" = armv7-unknown-linux-musleabihf ] && ! has_std "$target"; then
  export RUSTC_BOOTSTRAP=1
  extra="-Zbuild-std=core,alloc"
  profile_flag="--release"
else
  profile_flag="--release"
fi
# shellcheck disable=SC2086
cargo build -q $profile_flag --target "$target" $extra >&2
dir=$profile; [ "$profile" = release ] || dir=$profile
echo "${CARGO_TARGET_DIR:-target}/$target/$dir/mote"
