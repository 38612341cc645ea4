#!/bin/sh
# Every test of mote, as CI runs it. Run as root on Debian bookworm (x86_64); installs what
# it needs first. Stages (all run by default; name some to run only those):
#   deps     apt packages and rustup targets (scripts/install-deps.sh)
#   fmt      cargo fmt --check
#   native   cargo test: unit tests, the real-config corpus, hostile configs, CLI and
#            lifecycle integration tests against the host kernel (root)
#   static   static release builds for the three targets, with the size check
# A stage that fails stops the run with a non-zero exit.
set -eu
cd "$(dirname "$0")/.."
stages=${*:-deps fmt native static}
export CARGO_TERM_COLOR=never
step() { printf '\n==== %s ====\n' "$*"; }
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
      cargo test --all-targets ;;
    static)
      step "static builds and sizes"
      scripts/sizes.sh --check ;;
    *) echo "unknown stage $s" >&2; exit 2 ;;
  esac
done
step "all stages passed: $stages"
