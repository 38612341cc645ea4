#!/bin/sh
# Install what building and testing mote needs on Debian bookworm (as root): compilers and
# linkers for the three static targets, busybox for test rootfs, crun and runc for the
# benchmark, QEMU for the ARM tests, podman/containerd for the client tests. Idempotent:
# quick when everything is there. Non-interactive.
set -eu
export DEBIAN_FRONTEND=noninteractive
need=""
have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
dpkg --print-foreign-architectures | grep -qx armhf || { dpkg --add-architecture armhf; updated=no; }
dpkg --print-foreign-architectures | grep -qx arm64 || { dpkg --add-architecture arm64; updated=no; }
for p in musl-tools gcc-aarch64-linux-gnu gcc-arm-linux-gnueabihf musl-dev:armhf busybox-static \
         qemu-user-static binfmt-support qemu-system-arm strace file crun runc python3 gcc time \
         podman conmon containerd zstd openssl e2fsprogs mender-client mender-artifact \
         lintian systemd man-db make; do
  have "$p" || need="$need $p"
done
if [ -n "$need" ]; then
  # A mirror in mid-sync can fail one index: retry, and go on if the packages resolve anyway.
  for i in 1 2 3; do apt-get update -q && break || sleep 5; done
  # Package scripts must not start services (containerd's) on this machine.
  policy=no
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && policy=yes
  fi
  # shellcheck disable=SC2086
  apt-get install -y -q --no-install-recommends $need || { [ $policy = yes ] && rm -f /usr/sbin/policy-rc.d; exit 1; }
  [ $policy = yes ] && rm -f /usr/sbin/policy-rc.d
fi
# Rust targets: x86_64 and aarch64 musl from rustup; armv7 musl too where served (elsewhere
# scripts/build.sh uses build-std, which needs rust-src).
installed=$(rustup target list --installed 2>/dev/null || true)
for t in x86_64-unknown-linux-musl aarch64-unknown-linux-musl; do
  echo "$installed" | grep -qx "$t" || rustup target add "$t"
done
echo "$installed" | grep -qx armv7-unknown-linux-musleabihf || rustup target add armv7-unknown-linux-musleabihf 2>/dev/null || true
rustup component list --installed 2>/dev/null | grep -q '^rust-src' || rustup component add rust-src
command -v cargo-fmt >/dev/null 2>&1 || rustup component add rustfmt || true
