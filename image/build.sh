#!/bin/sh
# Build the qemu-system test image for one architecture:
#
#   image/build.sh arm64|armhf
#
# Downloads (once, into image/cache/ARCH/) the Debian kernel package and busybox-static for
# ARCH, and assembles image/out/ARCH/{kernel,initrd.gz}. The initramfs holds busybox and its
# applet links, the mote binary at /bin/mote (from $MOTE_BIN), the kernel modules the checks
# want (with their dependencies and a modules.dep), a test bundle rootfs at
# /bundles/base/rootfs, /init (image/init.sh) and /etc/mote-checks.sh (image/checks.sh).
# config.json is not built here: the guest makes it with `mote spec`.
#
# Environment:
#   MOTE_BIN      the static mote binary for ARCH (default: target/<rust target>/release/mote)
#   KERNEL_PKG    a kernel package to use instead of the one linux-image-<flavour> depends on
#   EXTRA_MODULES more kernel modules to put in the image (names, space separated)
#
# Needs on the host: apt-get and dpkg-deb (for foreign-architecture downloads), busybox
# (busybox-static: cpio, depmod), gzip. Everything else runs in the guest.
set -eu

arch=${1:-}
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)

case "$arch" in
arm64)
	rust_target=aarch64-unknown-linux-musl
	flavour_meta=linux-image-arm64
	# virtio_blk and ext4: the deploy boots keep the revision store on a disk.
	modules="overlay i6300esb softdog virtio_pci virtio_mmio virtio_blk ext4 crc32c_generic"
	;;
armhf)
	rust_target=armv7-unknown-linux-musleabihf
	flavour_meta=linux-image-armmp-lpae
	modules="overlay softdog"
	;;
*)
	echo "usage: $0 arm64|armhf" >&2
	exit 2
	;;
esac
modules="$modules ${EXTRA_MODULES:-}"

MOTE_BIN=${MOTE_BIN:-$top/target/$rust_target/release/mote}
cache=$here/cache/$arch
out=$here/out/$arch
mkdir -p "$cache" "$out"

log() { echo "build.sh[$arch]: $*" >&2; }
die() { echo "build.sh[$arch]: error: $*" >&2; exit 1; }

[ -f "$MOTE_BIN" ] || die "no mote binary at $MOTE_BIN (set MOTE_BIN)"
command -v busybox >/dev/null || die "busybox not found on the host (apt-get install busybox-static)"
command -v dpkg-deb >/dev/null || die "dpkg-deb not found"

# --- apt helpers --------------------------------------------------------------------------

# apt-get update, retried: mirrors in sync make it fail now and then; never fatal.
apt_update() {
	for _ in 1 2 3; do
		apt-get update -q >/dev/null 2>&1 && return 0
		sleep 2
	done
	log "apt-get update reported errors (ignored)"
}

# Make sure apt knows the foreign architecture (needed once per machine).
ensure_arch() {
	[ "$(dpkg --print-architecture)" = "$arch" ] && return 0
	if ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
		log "dpkg --add-architecture $arch"
		dpkg --add-architecture "$arch"
		apt_update
	fi
}

# The cached .deb of package $1 (name without :arch), if any: newest version first.
cached_deb() {
	ls "$cache"/"$1"_*_"$arch".deb 2>/dev/null | sort -V | tail -n 1
}

# Download package $1 (no :arch) into the cache unless a copy is there; print its path.
fetch_deb() {
	f=$(cached_deb "$1")
	if [ -z "$f" ]; then
		ensure_arch
		log "apt-get download $1:$arch"
		if ! (cd "$cache" && apt-get download -q "$1:$arch" >/dev/null 2>"$cache/.apt.err"); then
			apt_update
			(cd "$cache" && apt-get download -q "$1:$arch" >/dev/null 2>"$cache/.apt.err") ||
				{ cat "$cache/.apt.err" >&2; die "cannot download $1:$arch"; }
		fi
		# apt names the file with an escaped epoch (1%3a1.35...): keep that, it is unique.
		f=$(cached_deb "$1")
		[ -n "$f" ] || die "apt-get download $1:$arch left no .deb in $cache"
	fi
	echo "$f"
}

# The versioned kernel package the flavour's meta package depends on.
kernel_pkg() {
	if [ -n "${KERNEL_PKG:-}" ]; then
		echo "$KERNEL_PKG"
		return
	fi
	ensure_arch
	p=$(apt-cache depends "$flavour_meta:$arch" 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-image-[0-9][^:]*\).*/\1/p' | head -n 1)
	if [ -z "$p" ]; then
		apt_update
		p=$(apt-cache depends "$flavour_meta:$arch" 2>/dev/null |
			sed -n 's/^ *Depends: \(linux-image-[0-9][^:]*\).*/\1/p' | head -n 1)
	fi
	if [ -z "$p" ]; then
		# Offline with a cache: use the kernel we have.
		f=$(ls "$cache"/linux-image-[0-9]*_"$arch".deb 2>/dev/null | sort -V | tail -n 1)
		[ -n "$f" ] || die "cannot resolve $flavour_meta:$arch (apt-cache depends) and nothing cached"
		p=$(basename "$f" | cut -d_ -f1)
	fi
	echo "$p"
}

# --- kernel and modules -------------------------------------------------------------------

kpkg=$(kernel_pkg)
kdeb=$(fetch_deb "$kpkg")
bbdeb=$(fetch_deb busybox-static)

# The kernel image and the chosen modules (with dependencies) are kept in $kdir; the full
# package (350 MB unpacked) is only unpacked to a temporary directory when the module
# selection or the package changes.
kdir=$cache/kernel
want="$(basename "$kdeb") modules: $(echo $modules | tr ' ' '\n' | sort -u | tr '\n' ' ')"
if [ "$(cat "$kdir/.stamp" 2>/dev/null)" != "$want" ]; then
	log "unpacking $(basename "$kdeb")"
	tmp=$(mktemp -d /tmp/mote-image-kernel.XXXXXX)
	trap 'rm -rf "$tmp"' EXIT
	dpkg-deb -x "$kdeb" "$tmp"
	kver=$(ls "$tmp/lib/modules" | head -n 1)
	[ -n "$kver" ] || die "no lib/modules in $kdeb"
	rm -rf "$kdir"
	mkdir -p "$kdir/lib/modules/$kver"
	cp "$tmp/boot/vmlinuz-$kver" "$kdir/kernel"
	cp "$tmp/boot/config-$kver" "$kdir/config"
	for f in modules.order modules.builtin modules.builtin.modinfo; do
		[ -f "$tmp/lib/modules/$kver/$f" ] && cp "$tmp/lib/modules/$kver/$f" "$kdir/lib/modules/$kver/"
	done
	# Copy each module and, transitively, what its modinfo "depends=" names.
	todo=$modules
	done_list=" "
	while [ -n "$(echo $todo)" ]; do
		next=""
		for m in $todo; do
			case "$done_list" in *" $m "*) continue ;; esac
			done_list="$done_list$m "
			# Module file names use - or _ interchangeably.
			alt=$(echo "$m" | tr _- -_)
			ko=$(find "$tmp/lib/modules/$kver/kernel" \( -name "$m.ko*" -o -name "$alt.ko*" \) | head -n 1)
			if [ -z "$ko" ]; then
				if grep -qE "/($m|$alt)\.ko" "$kdir/lib/modules/$kver/modules.builtin" 2>/dev/null; then
					log "module $m is built into the kernel"
				else
					log "warning: module $m not found in $kver (skipped)"
				fi
				continue
			fi
			rel=${ko#"$tmp/"}
			mkdir -p "$kdir/$(dirname "$rel")"
			cp "$ko" "$kdir/$rel"
			case "$ko" in
			*.xz) xz -d -f "$kdir/$rel" ;;
			*.zst) zstd -q -d --rm -f "$kdir/$rel" ;;
			*.gz) gzip -d -f "$kdir/$rel" ;;
			esac
			deps=$(tr '\0' '\n' <"$kdir/${rel%.ko*}.ko" | sed -n 's/^depends=//p' | head -n 1 | tr , ' ')
			next="$next $deps"
		done
		todo=$next
	done
	echo "$kver" >"$kdir/.kver"
	echo "$want" >"$kdir/.stamp"
	rm -rf "$tmp"
	trap - EXIT
fi
kver=$(cat "$kdir/.kver")

bbdir=$cache/busybox
if [ "$(cat "$bbdir/.stamp" 2>/dev/null)" != "$(basename "$bbdeb")" ]; then
	rm -rf "$bbdir"
	mkdir -p "$bbdir"
	dpkg-deb --fsys-tarfile "$bbdeb" | tar -x -C "$bbdir" ./bin/busybox
	basename "$bbdeb" >"$bbdir/.stamp"
fi

# --- the initramfs ------------------------------------------------------------------------

root=$out/root
rm -rf "$root"
mkdir -p "$root"

# busybox and a link for each applet (the host's busybox-static is the same Debian build, so
# its applet list is the guest's; the guest runs `busybox --install -s` too, for any gap).
populate_busybox() { # DIR
	mkdir -p "$1/bin" "$1/sbin" "$1/usr/bin" "$1/usr/sbin"
	cp "$bbdir/bin/busybox" "$1/bin/busybox"
	for a in $(busybox --list-full); do
		case "$a" in bin/busybox) continue ;; esac
		[ -e "$1/$a" ] || [ -L "$1/$a" ] || ln -s /bin/busybox "$1/$a"
	done
}

populate_busybox "$root"
mkdir -p "$root/dev" "$root/proc" "$root/sys" "$root/run" "$root/tmp" "$root/etc" \
	"$root/root" "$root/var" "$root/mnt"
# The kernel opens /dev/console before /init runs; its built-in initramfs has the node, but
# make sure (mknod needs root; harmless if it fails).
mknod -m 600 "$root/dev/console" c 5 1 2>/dev/null || true
mknod -m 666 "$root/dev/null" c 1 3 2>/dev/null || true

install -m 755 "$MOTE_BIN" "$root/bin/mote"
install -m 755 "$here/init.sh" "$root/init"
install -m 644 "$here/checks.sh" "$root/etc/mote-checks.sh"
install -m 644 "$here/supervise.sh" "$root/etc/mote-supervise.sh"
install -m 644 "$here/deploy.sh" "$root/etc/mote-deploy.sh"
echo "$arch" >"$root/etc/mote-arch"

cp -a "$kdir/lib" "$root/"
busybox depmod -b "$root" "$kver" 2>/dev/null || true

# The test bundle: a busybox rootfs for the same architecture. config.json is written in the
# guest by `mote spec`.
b=$root/bundles/base/rootfs
populate_busybox "$b"
mkdir -p "$b/dev" "$b/proc" "$b/sys" "$b/tmp" "$b/etc" "$b/root" "$b/run" "$b/var"
echo "root:x:0:0:root:/root:/bin/sh" >"$b/etc/passwd"
echo "nobody:x:65534:65534:nobody:/:/bin/false" >>"$b/etc/passwd"
echo "root:x:0:" >"$b/etc/group"
echo "nogroup:x:65534:" >>"$b/etc/group"

(cd "$root" && find . | busybox cpio -o -H newc -R root:root 2>/dev/null) | gzip -6 >"$out/initrd.gz.tmp"
mv "$out/initrd.gz.tmp" "$out/initrd.gz"
ln -f "$kdir/kernel" "$out/kernel" 2>/dev/null || cp "$kdir/kernel" "$out/kernel"
rm -rf "$root"
log "kernel $kver, $(du -k "$out/initrd.gz" | cut -f1) KiB initrd, mote $(du -k "$MOTE_BIN" | cut -f1) KiB: $out"
