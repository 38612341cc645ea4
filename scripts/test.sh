#!/bin/sh
# Every test of mote, as CI runs it. Run as root on Debian bookworm (x86_64); installs what
# it needs first. Stages (all run by default; name some to run only those):
#   deps     apt packages and rustup targets (scripts/install-deps.sh)
#   fmt      cargo fmt --check
#   native   cargo test: unit tests, the real-config corpus, hostile configs, CLI and
#            lifecycle integration tests against the host kernel (root); then the
#            integration tests again against the static release binary (the one that ships:
#            no std, its own entry point, allocator and panic handler), and the runtime-only
#            build (no supervisor, no deploy) against the runtime's suites
#   static   static release builds for the three targets, with the size check, and what the
#            supervisor and deploy cost on aarch64 (scripts/feature-sizes.sh)
#   packages the Debian packages for arm64, armhf and amd64: lintian, then the amd64 one
#            installed, used (a container, systemd-analyze verify of its unit, its man page
#            and completions), removed and purged (scripts/test-packages.sh); the progress
#            lines of the guests and benchmarks drawn only on a terminal (check-progress.sh)
#   fuzz     the fuzz targets (fuzz/): config.json, then workload files and the supervisor's
#            documents, each for a fixed time (MOTE_FUZZ_SECONDS, default 60), seeded with the
#            real configs and tests/fixtures/workloads; a crash fails the stage
#   qemu-user   the whole cargo test suite for aarch64 and armv7 under QEMU user-mode
#   qemu-system boot Debian's arm64 and armhf kernels under qemu-system with mote in the
#               initramfs and run the guest checks (image/checks.sh): cgroup v2 with all
#               controllers, pivot_root from an initramfs, the real ARM kernels
# A stage that fails stops the run with a non-zero exit.
set -eu
# Root is needed; a user with sudo is asked for it (a fresh image's root often has no sudo).
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "$0: run as root (there is no sudo here)" >&2; exit 1; }
  exec sudo -E env "PATH=$PATH" "$0" "$@"
fi
cd "$(dirname "$0")/.."
stages=${*:-deps fmt native static packages fuzz qemu-user qemu-system}
export CARGO_TERM_COLOR=never
step() { printf '\n==== %s ====\n' "$*"; }
# The integration tests that run the mote binary (all of tests/ but library.rs, which drives
# the library in-process and has run once already), as cargo test arguments.
binary_tests() { for f in tests/*.rs; do n=$(basename "$f" .rs); [ "$n" = library ] || printf -- '--test %s ' "$n"; done; }
for s in $stages; do
  case "$s" in
    deps)
      step "dependencies"
      scripts/install-deps.sh ;;
    fmt)
      step "cargo fmt --check"
      cargo fmt --all -- --check ;;
    native)
      step "cargo test (native, as root)"
      [ "$(id -u)" = 0 ] || { echo "the integration tests need root" >&2; exit 1; }
      # The static binary first: the supervisor's tests put it in their containers
      # (`mote notify` in a busybox rootfs).
      bin=$(scripts/build.sh x86_64-unknown-linux-musl)
      MOTE_TEST_STATIC="$PWD/$bin" cargo test --all-targets
      step "integration tests against the static release binary"
      # shellcheck disable=SC2046
      MOTE_TEST_BIN="$PWD/$bin" cargo test $(binary_tests)
      step "the runtime-only build (cargo --no-default-features) against the runtime's suites"
      rt=$(CARGO_TARGET_DIR=target/features cargo build -q --release --target x86_64-unknown-linux-musl \
        --no-default-features --message-format=json | sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1)
      [ -x "$rt" ] || { echo "no runtime-only binary was built" >&2; exit 1; }
      "$rt" --version | grep -q '^features: runtime .*idmap$' || { echo "the runtime-only build lists features it should not have: $("$rt" --version)" >&2; exit 1; }
      for verb in supervise status deploy; do
        if "$rt" "$verb" --help >/dev/null 2>&1; then echo "the runtime-only build has '$verb'" >&2; exit 1; fi
      done
      MOTE_TEST_BIN="$rt" cargo test --test lifecycle --test failures --test security --test cgroups --test escapes ;;
    static)
      step "static builds and sizes"
      scripts/sizes.sh --check --tiny
      step "what the supervisor and deploy cost (aarch64 release)"
      scripts/feature-sizes.sh --check aarch64-unknown-linux-musl ;;
    packages)
      step "Debian packages"
      scripts/test-packages.sh
      scripts/check-progress.sh ;;
    fuzz)
      command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
      # libFuzzer exits non-zero on a crash, a leak or a timeout and leaves the input in
      # fuzz/artifacts/.
      for t in parse_config:configs parse_workload:workloads; do
        step "fuzz: ${t%%:*} for ${MOTE_FUZZ_SECONDS:-60} s"
        corpus=$(mktemp -d)
        cp tests/fixtures/"${t#*:}"/*.json "$corpus"/
        if ! cargo +nightly fuzz run "${t%%:*}" "$corpus" -- -max_total_time="${MOTE_FUZZ_SECONDS:-60}" \
            -print_final_stats=1 > "$corpus.log" 2>&1; then
          tail -40 "$corpus.log"; rm -rf "$corpus" "$corpus.log"; exit 1
        fi
        grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss)' "$corpus.log" || tail -5 "$corpus.log"
        rm -rf "$corpus" "$corpus.log"
      done ;;
    qemu-user)
      step "QEMU user-mode: cargo test for aarch64 and armv7"
      scripts/qemu-user-tests.sh ;;
    qemu-system)
      step "qemu-system: arm64 and armhf guests"
      MOTE_BIN=$(scripts/build.sh aarch64-unknown-linux-musl) image/boot.sh arm64
      MOTE_BIN=$(scripts/build.sh armv7-unknown-linux-musleabihf) image/boot.sh armhf ;;
    *) echo "unknown stage $s" >&2; exit 2 ;;
  esac
done
step "all stages passed: $stages"
