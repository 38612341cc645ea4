#!/bin/sh
# Debian (and Raspberry Pi OS) packages of mote for arm64, armhf and amd64, made from the static
# release binaries with dpkg-deb. Not cargo-deb: the binaries are static and already built by
# scripts/build.sh for every target (cargo-deb would build again, per target, and is one more
# tool to install); what a package holds is a short list, written out below.
#   image/debian/build-debs.sh [OUTDIR]     (default image/out/deb; prints the .deb paths)
# Each holds /usr/bin/mote, mote(1) (scripts/manpage.sh), bash/zsh/fish completions
# (`mote completion`), mote.service, /etc/mote with an example workload and empty workloads and
# keys directories, README.Debian, copyright and changelog. The version is Cargo.toml's.
set -eu
cd "$(dirname "$0")/../.."
out=${1:-image/out/deb}
mkdir -p "$out"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
when=$(git log -1 --format=%cD 2>/dev/null || date -R)
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM

# The page and the completions come from the host's (x86_64) binary: the same definitions.
host=$(scripts/build.sh x86_64-unknown-linux-musl)
scripts/manpage.sh "$host" >"$work/mote.1"
for sh in bash zsh fish; do "$host" completion "$sh" >"$work/completion.$sh"; done

for deb in arm64 armhf amd64; do
  case $deb in
    arm64) triple=aarch64-unknown-linux-musl ;;
    armhf) triple=armv7-unknown-linux-musleabihf ;;
    amd64) triple=x86_64-unknown-linux-musl ;;
  esac
  bin=$(scripts/build.sh "$triple")
  r="$work/$deb"
  install -d "$r/DEBIAN" "$r/usr/bin" "$r/usr/share/man/man1" "$r/usr/share/doc/mote" \
    "$r/lib/systemd/system" "$r/etc/mote/workloads" "$r/etc/mote/keys" \
    "$r/usr/share/bash-completion/completions" "$r/usr/share/zsh/vendor-completions" \
    "$r/usr/share/fish/vendor_completions.d" "$r/usr/share/lintian/overrides"
  install -m 0755 "$bin" "$r/usr/bin/mote"
  gzip -9n <"$work/mote.1" >"$r/usr/share/man/man1/mote.1.gz"
  install -m 0644 "$work/completion.bash" "$r/usr/share/bash-completion/completions/mote"
  install -m 0644 "$work/completion.zsh" "$r/usr/share/zsh/vendor-completions/_mote"
  install -m 0644 "$work/completion.fish" "$r/usr/share/fish/vendor_completions.d/mote.fish"
  install -m 0644 image/init/mote.service "$r/lib/systemd/system/mote.service"
  install -m 0644 image/debian/example-workload.json "$r/etc/mote/example-workload.json"
  install -m 0644 image/debian/README.Debian image/debian/copyright "$r/usr/share/doc/mote/"
  printf 'mote (%s) unstable; urgency=medium\n\n  * Built from commit %s.\n\n -- mote maintainers <maintainers@mote.invalid>  %s\n' \
    "$version" "$commit" "$when" | gzip -9n >"$r/usr/share/doc/mote/changelog.gz"
  # A static binary is the point of this package: it runs on any Debian release, and in an
  # initramfs or a container without a libc. x86_64's is static-pie, which lintian reads as a
  # shared library without a libc.
  if [ $deb = amd64 ]; then
    printf 'mote: shared-library-lacks-prerequisites [usr/bin/mote]\n' >"$r/usr/share/lintian/overrides/mote"
  else
    printf 'mote: statically-linked-binary [usr/bin/mote]\n' >"$r/usr/share/lintian/overrides/mote"
  fi
  chmod 0644 "$r/usr/share/lintian/overrides/mote"
  printf '/etc/mote/example-workload.json\n' >"$r/DEBIAN/conffiles"
  size=$(du -sk --exclude=DEBIAN "$r" | cut -f1)
  cat >"$r/DEBIAN/control" <<EOF
Package: mote
Version: $version
Architecture: $deb
Maintainer: mote maintainers <maintainers@mote.invalid>
Installed-Size: $size
Section: admin
Priority: optional
Description: small OCI container runtime and workload supervisor for edge boards
 mote runs OCI bundles with runc's command line, so podman, containerd's runc
 shim and CRI-O can use it as they use runc. It is one static binary.
 .
 mote supervise runs a directory of workloads with restart policies, health
 checks, bounded logs and a hardware watchdog; mote deploy stages, activates,
 commits and rolls back workload revisions delivered over the air.
EOF
  (cd "$r" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum) >"$r/DEBIAN/md5sums"
  chmod 0644 "$r/DEBIAN/control" "$r/DEBIAN/conffiles" "$r/DEBIAN/md5sums"
  f="$out/mote_${version}_${deb}.deb"
  dpkg-deb --root-owner-group -Zxz --build "$r" "$f" >/dev/null
  echo "$f"
done
