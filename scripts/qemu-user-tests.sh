#!/bin/sh
# The test suite for the ARM targets under QEMU user-mode, on this x86_64 host (as root):
# unit tests and the integration tests (containers run ARM busybox through a binfmt_misc
# handler registered with the F flag, so it works after pivot_root too). Tests that need
# what user-mode emulation cannot do say so and skip; the qemu-system guests (image/) run
# them on real ARM kernels. The integration tests then run a second time against the static
# release binary (no std). The binfmt entries this script enables are disabled again, and
# binfmt_misc unmounted if it mounted it, whatever the outcome.
#
# Each test binary runs on its own, one test at a time, under a time limit (SUITE_LIMIT
# seconds). A process that forks while another of its threads runs emulated code can leave
# the child stuck on a lock of the emulator's (seen once in CI: a child of the deploy suite
# waited on a futex before its exec, and the run would have waited out CI's 90 minutes). One
# test at a time leaves no other thread running when a test forks; the limit turns a hang
# that still happens into a failure named after its suite, and what the killed suite left
# (containers, mounts, test directories) is then removed by sweep.
#   scripts/qemu-user-tests.sh [aarch64|armv7 ...]   (default: both)
set -eu
cd "$(dirname "$0")/.."
targets=${*:-aarch64 armv7}
cache=image/cache
mkdir -p "$cache"

busybox_for() { # ARCH(deb) -> path of a static busybox for it
  arch=$1
  out="$cache/$arch/busybox/bin/busybox"
  if [ ! -x "$out" ]; then
    mkdir -p "$cache/$arch"
    dpkg --print-foreign-architectures | grep -qx "$arch" || { dpkg --add-architecture "$arch"; apt-get update -q || true; }
    (cd "$cache/$arch" && apt-get download -q "busybox-static:$arch" >&2)
    rm -rf "$cache/$arch/busybox.x" && dpkg-deb -x "$cache/$arch"/busybox-static_*_"$arch".deb "$cache/$arch/busybox.x"
    mkdir -p "$cache/$arch/busybox/bin" && cp "$cache/$arch/busybox.x/bin/busybox" "$out"
    rm -rf "$cache/$arch/busybox.x"
  fi
  echo "$PWD/$out"
}

mounted_binfmt=no
enabled=""
cleanup() {
  for e in $enabled; do update-binfmts --disable "$e" >/dev/null 2>&1 || true; done
  if [ "$mounted_binfmt" = yes ]; then umount /proc/sys/fs/binfmt_misc 2>/dev/null || true; fi
}
trap cleanup EXIT INT TERM
mountpoint -q /proc/sys/fs/binfmt_misc || mounted_binfmt=yes
enable() { # binfmt name
  if [ ! -e "/proc/sys/fs/binfmt_misc/$1" ] || ! grep -q '^enabled' "/proc/sys/fs/binfmt_misc/$1"; then
    update-binfmts --enable "$1"
    enabled="$enabled $1"
  fi
  grep -q '^flags:.*F' "/proc/sys/fs/binfmt_misc/$1" || { echo "binfmt $1 lacks the F flag" >&2; exit 1; }
}

# The integration tests as cargo test arguments, but the one named $1: `suites library` are
# those that run the binary (library.rs drives the library in-process; see scripts/test.sh).
suites() { for f in tests/*.rs; do n=$(basename "$f" .rs); [ "$n" = "${1:-}" ] || printf -- '--test=%s ' "$n"; done; }

# Seconds one test binary may take, emulated and one test at a time (the slowest, the unit
# tests on armv7, take under two minutes).
SUITE_LIMIT=${SUITE_LIMIT:-900}
# suite TRIPLE CARGO-TEST-SELECTOR: run one test binary (built already), one test at a time,
# within SUITE_LIMIT seconds; past it, timeout(1) ends it, the suite fails, and sweep removes
# what it left.
#
# A suite that fails runs once more, and the second run decides, both said in the output.
# QEMU user-mode (7.2, Debian bookworm's) now and then deadlocks a forked child inside the
# emulator, before the child runs any of mote's code: seen once in ten CI runs, a hook's child
# of a unit test stuck in a futex wait in qemu's fork handling with every signal blocked. The
# native runs, which run the same tests, are never retried.
suite() {
  for try in 1 2; do
    suite_once "$@" && return 0
    [ "$try" = 2 ] && break
    printf '\nRETRY: %s %s failed under QEMU user-mode (exit %s); running it once more\n' "$1" "$2" "$rc" >&2
    sweep
  done
  return 1
}
suite_once() {
  rc=0
  # timeout makes a process group of its own: what is left of it when the suite ends (an
  # emulator deadlocked after a fork, say, with SIGTERM blocked) is ended by that group's id.
  # shellcheck disable=SC2086
  timeout -k 10 "$SUITE_LIMIT" cargo test --no-fail-fast --target "$1" $extra "$2" -- --test-threads=1 &
  group=$!
  wait "$group" || rc=$?
  kill -KILL -- "-$group" 2>/dev/null || true
  if [ $rc = 124 ] || [ $rc = 137 ]; then
    printf '\nFAILED: %s %s did not finish within %s s under QEMU user-mode (a hang): ended; what it left is removed\n' "$1" "$2" "$SUITE_LIMIT" >&2
    sweep
  fi
  return $rc
}
# After a suite was ended: delete the containers of the test state roots (the release binary,
# which is what the tests ran), unmount what is still mounted below the test directories, and
# remove them.
sweep() {
  for root in /tmp/mote-it/*/state /tmp/mote-it/*/state/supervisor/containers; do
    [ -d "$root" ] || continue
    for id in $("$PWD/$rel" --root "$root" list -q 2>/dev/null); do
      "$PWD/$rel" --root "$root" delete --force "$id" >/dev/null 2>&1 || true
    done
  done
  findmnt -rn -o TARGET | grep '^/tmp/mote-it/' | sort -r | while read -r m; do umount -l "$m" || true; done
  rm -rf /tmp/mote-it/*
}
# Emulated, a container lifecycle is about ten times slower, and the RSS is the emulator's: a few
# cycles of the library's memory test, for function only (the native run measures it).
export MOTE_LIBRARY_CYCLES=300
status=0
for t in $targets; do
  case "$t" in
    aarch64) triple=aarch64-unknown-linux-musl; deb=arm64; fmt=qemu-aarch64; extra="" ;;
    armv7) triple=armv7-unknown-linux-musleabihf; deb=armhf; fmt=qemu-arm
           extra=""
           rustup target list --installed 2>/dev/null | grep -qx "$triple" || { export RUSTC_BOOTSTRAP=1; extra="-Zbuild-std=std,panic_abort"; } ;;
    *) echo "unknown target $t" >&2; exit 2 ;;
  esac
  enable "$fmt"
  bb=$(busybox_for "$deb")
  # The static release binary: in the supervisor tests' containers, and the second pass.
  rel=$(scripts/build.sh "$triple")
  printf '\n==== cargo test --target %s (QEMU user-mode) ====\n' "$triple"
  # shellcheck disable=SC2086
  cargo test --no-run --target "$triple" $extra
  export MOTE_TEST_QEMU_USER=1 MOTE_TEST_BUSYBOX="$bb"
  for s in --lib $(suites); do
    MOTE_TEST_STATIC="$PWD/$rel" suite "$triple" "$s" || status=1
  done
  # Again, the integration tests only, against the static release binary that ships (no std).
  printf '\n==== integration tests against the %s release binary (QEMU user-mode) ====\n' "$triple"
  for s in $(suites library); do
    MOTE_TEST_BIN="$PWD/$rel" suite "$triple" "$s" || status=1
  done
  unset MOTE_TEST_QEMU_USER MOTE_TEST_BUSYBOX
done
exit $status
