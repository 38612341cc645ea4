#!/bin/bash
# Staging a 100 MB image (a benchmark, not a test): run as root.
#
#   bench/deploy.sh
#
# Makes an oci-archive of about 100 MB (a busybox layer, and a gzip layer of 100 MB of files of
# random bytes, 25 of 4 MB) and a zstd variant, then measures, side by side in one run:
#   - `mote deploy stage` of each into a fresh store: peak RSS (GNU time's %M), time;
#   - `podman load` of the same oci-archive into a fresh vfs store (when podman is installed),
#     the usual way an image gets onto a device.
# Then stages the same image again into the same store (nothing new: the idempotent path).
#
# Environment: MOTE_BIN (default target/x86_64-unknown-linux-musl/release/mote), RUNS (3).
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
MOTE=${MOTE_BIN:-$top/target/x86_64-unknown-linux-musl/release/mote}
RUNS=${RUNS:-3}
[ "$(id -u)" = 0 ] || { echo "bench/deploy.sh: run as root" >&2; exit 2; }
command -v /usr/bin/time >/dev/null || { echo "bench/deploy.sh: needs GNU time (apt-get install time)" >&2; exit 2; }
[ -x "$MOTE" ] || { echo "bench/deploy.sh: no mote at $MOTE (scripts/build.sh x86_64-unknown-linux-musl)" >&2; exit 2; }
T=$(mktemp -d /tmp/mote-bench-deploy.XXXXXX)
trap 'rm -rf "$T"' EXIT

# Run a command; print "peak_rss_kib seconds" of it. GNU time reports the program's own peak
# (a fork of the small `time` before the exec), where a Python wrapper's rusage would count the
# fork of the interpreter.
measure() {
	local out
	out=$(/usr/bin/time -f "%M %e" "$@" 2>&1 >/dev/null) || { echo "failed: $out" >&2; return 1; }
	echo "$out" | tail -n 1
}

sha() { sha256sum "$1" | cut -d' ' -f1; }
blob() { # FILE -> digest, copied into the layout
	local d; d=$(sha "$1"); cp "$1" "$T/oci/blobs/sha256/$d"; echo "$d"
}
arch=$(case "$(uname -m)" in x86_64) echo amd64 ;; aarch64) echo arm64 ;; armv7l) echo arm ;; esac)

echo "== making a ~100 MB image"
mkdir -p "$T/l1/bin" "$T/l2/data" "$T/oci/blobs/sha256"
cp /bin/busybox "$T/l1/bin/"
for a in sh sleep true; do ln -s busybox "$T/l1/bin/$a"; done
for i in $(seq 1 25); do head -c $((4 << 20)) /dev/urandom >"$T/l2/data/f$i"; done
tar -C "$T/l1" -cf "$T/l1.tar" . && tar -C "$T/l2" -cf "$T/l2.tar" .
gzip -n -c "$T/l1.tar" >"$T/l1.tar.gz" && gzip -n -1 -c "$T/l2.tar" >"$T/l2.tar.gz"
make_layout() { # compression suffix, media type suffix
	rm -rf "$T/oci" && mkdir -p "$T/oci/blobs/sha256"
	local c1 c2 cfg m
	if [ "$1" = zst ]; then
		zstd -q -f -o "$T/l1.tar.zst" "$T/l1.tar" && zstd -q -f -o "$T/l2.tar.zst" "$T/l2.tar"
	fi
	c1=$(blob "$T/l1.tar.$1"); c2=$(blob "$T/l2.tar.$1")
	printf '{"architecture":"%s","os":"linux","config":{"Cmd":["sleep","1000"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s","sha256:%s"]}}' \
		"$arch" "$(sha "$T/l1.tar")" "$(sha "$T/l2.tar")" >"$T/config.json"
	cfg=$(blob "$T/config.json")
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+%s","digest":"sha256:%s","size":%s},{"mediaType":"application/vnd.oci.image.layer.v1.tar+%s","digest":"sha256:%s","size":%s}]}' \
		"$cfg" "$(stat -c %s "$T/config.json")" "$2" "$c1" "$(stat -c %s "$T/l1.tar.$1")" "$2" "$c2" "$(stat -c %s "$T/l2.tar.$1")" >"$T/manifest.json"
	m=$(blob "$T/manifest.json")
	printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"bench"}}]}' \
		"$m" "$(stat -c %s "$T/manifest.json")" >"$T/oci/index.json"
	echo '{"imageLayoutVersion":"1.0.0"}' >"$T/oci/oci-layout"
	tar -C "$T/oci" -cf "$T/image-$1.tar" .
}
make_layout gz gzip
make_layout zst zstd
ls -l "$T"/image-*.tar | awk '{ printf "%s %d MB\n", $9, $5 / 1000000 }'

for c in gz zst; do
	echo "== mote deploy stage (tar+$c), $RUNS runs: peak RSS KiB, seconds"
	for r in $(seq 1 "$RUNS"); do
		rm -rf "$T/store"
		echo "  $(measure "$MOTE" deploy stage --store "$T/store" --keys "$T/nokeys" --config-dir "$T/nowl" bench "$T/image-$c.tar")"
	done
	echo "   again, already staged: $(measure "$MOTE" deploy stage --store "$T/store" --keys "$T/nokeys" --config-dir "$T/nowl" bench "$T/image-$c.tar")"
done
if command -v podman >/dev/null; then
	echo "== podman load (oci-archive, vfs store), $RUNS runs: peak RSS KiB, seconds"
	for r in $(seq 1 "$RUNS"); do
		rm -rf "$T/pm"
		echo "  $(measure podman --root "$T/pm/root" --runroot "$T/pm/run" --tmpdir "$T/pm/tmp" --storage-driver vfs load -q -i "$T/image-gz.tar")"
	done
	rm -rf "$T/pm"
fi
