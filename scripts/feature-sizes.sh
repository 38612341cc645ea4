#!/bin/sh
# What each part of mote costs in the release binary: the runtime alone (cargo
# --no-default-features), with the supervisor (--features supervise), and the default build
# (supervise and deploy), for TARGET (default aarch64-unknown-linux-musl, the boards'):
#
#   scripts/feature-sizes.sh [--check] [TARGET]
#
# With --check, fails when a part costs more than its line in scripts/size-limits
# ("cost supervise TARGET BYTES", "cost deploy TARGET BYTES"). Builds go to target/features/
# so that the default build in target/ stays as it is.
set -eu
cd "$(dirname "$0")/.."
check=no
[ "${1:-}" = --check ] && { check=yes; shift; }
target=${1:-aarch64-unknown-linux-musl}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}/features
size_of() { # FEATURE-FLAGS...
	cargo build -q --release --target "$target" "$@" >&2
	stat -c %s "$CARGO_TARGET_DIR/$target/release/mote"
}
runtime=$(size_of --no-default-features)
supervise=$(size_of --no-default-features --features supervise)
full=$(size_of)
printf '%-10s %10s %10s\n' part bytes cost
printf '%-10s %10s %10s\n' runtime "$runtime" "$runtime"
printf '%-10s %10s %10s\n' supervise "$supervise" "$((supervise - runtime))"
printf '%-10s %10s %10s\n' deploy "$full" "$((full - supervise))"
fail=0
if [ $check = yes ]; then
	for part in supervise deploy; do
		limit=$(awk -v p="$part" -v t="$target" '$1 == "cost" && $2 == p && $3 == t { print $4 }' scripts/size-limits)
		[ -n "$limit" ] || continue
		if [ $part = supervise ]; then cost=$((supervise - runtime)); else cost=$((full - supervise)); fi
		if [ "$cost" -gt "$limit" ]; then
			echo "  $target: $part costs $cost bytes, over its limit of $limit (scripts/size-limits)" >&2
			fail=1
		fi
	done
fi
exit $fail
