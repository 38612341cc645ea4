#!/usr/bin/env bash
# bench.sh: measure mote side by side with crun and runc in one run and print ratios.
#
#   sudo bench/bench.sh [-n N] [--build] [--tmpfs-roots] [--save DIR] [--json FILE]
#
# -n N           paired runs per figure (default 30)
# --build        run `cargo build --release --target x86_64-unknown-linux-musl` in the checkout first
# --tmpfs-roots  keep the three state roots on a tmpfs (as /run is on most systems) instead of the
#                filesystem of /tmp (as /run is on this build host)
# --save DIR     copy the strace -c tables and the runtimes' logs to DIR before cleaning up
# --json FILE    also write every figure and its samples to FILE (bench/report.sh reads it)
# MOTE_BIN       the mote binary (default: target/x86_64-unknown-linux-musl/release/mote here)
#
# See bench/README.md for what each figure means. This is a benchmark, not a test: it exits
# non-zero only when a runtime cannot run the bundle at all (or on a setup error), never on a FAIL
# against a target.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$HERE")
N=30
BUILD=0
TMPFS_ROOTS=0
SAVE=
JSON=

usage() { sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
    case "$1" in
        -n) [ $# -ge 2 ] || { usage >&2; exit 2; }; N=$2; shift 2 ;;
        -n*) N=${1#-n}; shift ;;
        --build) BUILD=1; shift ;;
        --tmpfs-roots) TMPFS_ROOTS=1; shift ;;
        --save) [ $# -ge 2 ] || { usage >&2; exit 2; }; SAVE=$2; shift 2 ;;
        --json) [ $# -ge 2 ] || { usage >&2; exit 2; }; JSON=$2; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "bench: unknown argument: $1" >&2; usage >&2; exit 2 ;;
    esac
done
case "$N" in ''|*[!0-9]*|0) echo "bench: -n needs a positive integer" >&2; exit 2 ;; esac

[ "$(id -u)" = 0 ] || { echo "bench: run as root" >&2; exit 2; }

if [ "$BUILD" = 1 ]; then
    (cd "$REPO" && cargo build --release --target x86_64-unknown-linux-musl)
fi
MOTE_BIN=${MOTE_BIN:-$REPO/target/x86_64-unknown-linux-musl/release/mote}
[ -x "$MOTE_BIN" ] || { echo "bench: no mote binary at $MOTE_BIN (set MOTE_BIN or use --build)" >&2; exit 2; }

need() { command -v "$1" >/dev/null 2>&1 || { echo "bench: $1 is required ($2)" >&2; exit 2; }; }
need crun "apt-get install crun"
need runc "apt-get install runc"
need strace "apt-get install strace"
need unshare "util-linux"
need ldd "libc-bin"
need gcc "apt-get install gcc (builds the small launcher)"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3) || { echo "bench: python3 is required" >&2; exit 2; }
BUSYBOX=
for b in /bin/busybox /usr/bin/busybox; do # static: ldd fails or says so
    [ -x "$b" ] || continue
    if ! out=$(ldd "$b" 2>&1) || [[ $out == *"statically linked"* ]]; then BUSYBOX=$b; break; fi
done
[ -n "$BUSYBOX" ] || { echo "bench: a static busybox is required (apt-get install busybox-static)" >&2; exit 2; }

CRUN=$(command -v crun)
RUNC=$(command -v runc)
STRACE=$(command -v strace)

# ---- everything this script makes lives under $TMP or is named after $PREFIX ----------------------
TMP=$(mktemp -d /tmp/mote-bench.XXXXXX)
PREFIX="bench$(printf '%x' $$)$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')"
HOLDER=
HARNESS=
# cgroup parents that exist before we start are not ours to remove
PRE_PARENTS=$(ls -d /sys/fs/cgroup/*/mote /sys/fs/cgroup/*/crun /sys/fs/cgroup/*/runc 2>/dev/null || true)

SCRATCH=$TMP/scratch # a tmpfs: logs, pid files and strace tables never touch the disk
ROOTS=$TMP/roots      # state roots (on $SCRATCH with --tmpfs-roots)

rt_cmd() { # rt_cmd RUNTIME ARGS...: run one runtime command (crun inside its namespace)
    local rt=$1; shift
    case "$rt" in
        mote) "$TMP/mote" --root "$ROOTS/mote" "$@" ;;
        runc) "$RUNC" --root "$ROOTS/runc" "$@" ;;
        crun) [ -n "$HOLDER" ] && [ -e "/proc/$HOLDER/ns/mnt" ] &&
            nsenter --mount="/proc/$HOLDER/ns/mnt" "$CRUN" --root "$ROOTS/crun" "$@" ;;
    esac
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    set +e
    if [ -n "$HARNESS" ] && kill -0 "$HARNESS" 2>/dev/null; then
        kill -TERM "$HARNESS" 2>/dev/null
        wait "$HARNESS" 2>/dev/null
    fi
    if [ -n "$SAVE" ] && [ -d "$SCRATCH" ]; then
        mkdir -p "$SAVE" && cp "$SCRATCH"/*.log "$SCRATCH"/strace-*.txt "$SAVE"/ 2>/dev/null &&
            echo "bench: logs and strace tables saved in $SAVE" >&2
    fi
    # containers still recorded in our state roots (normally none: the harness deletes them)
    for rt in mote crun runc; do
        [ -d "$ROOTS/$rt" ] || continue
        for d in "$ROOTS/$rt"/*/; do
            [ -d "$d" ] || continue
            id=$(basename "$d")
            echo "bench: cleanup: deleting leftover $rt container $id" >&2
            rt_cmd "$rt" delete --force "$id" >/dev/null 2>&1 || echo "bench: cleanup: $rt delete --force $id failed" >&2
        done
    done
    if [ -n "$HOLDER" ]; then
        kill "$HOLDER" 2>/dev/null
        wait "$HOLDER" 2>/dev/null
    fi
    # cgroups named after our container ids (mote: <hier>/mote/ID, crun: <hier>/ID,
    # runc: <own cgroup>/ID); deepest first
    local d
    while IFS= read -r d; do
        [ -n "$d" ] || continue
        rmdir "$d" 2>/dev/null || { sleep 0.2; rmdir "$d" 2>/dev/null; } ||
            echo "bench: cleanup: could not remove cgroup $d" >&2
    done < <(find /sys/fs/cgroup -depth -type d -name "${PREFIX}*" 2>/dev/null)
    for d in /sys/fs/cgroup/*/mote /sys/fs/cgroup/*/crun /sys/fs/cgroup/*/runc; do
        [ -d "$d" ] || continue
        printf '%s\n' "$PRE_PARENTS" | grep -qxF "$d" && continue
        if rmdir "$d" 2>/dev/null; then
            echo "bench: cleanup: removed empty cgroup parent $d (it appeared during the run)" >&2
        else
            echo "bench: cleanup: $d appeared during the run and is not empty; left" >&2
        fi
    done
    # the scratch tmpfs (and anything else mounted under $TMP): never rm -rf through a mount
    while IFS= read -r d; do
        umount "$d" 2>/dev/null || umount -l "$d"
    done < <(awk -v t="$TMP" 'index($5, t) == 1 {print $5}' /proc/self/mountinfo | sort -r)
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- helpers: the launcher and the tiny payload -------------------------------------------------
if command -v musl-gcc >/dev/null 2>&1 && musl-gcc -static -Os -o "$TMP/spawn" "$HERE/spawn.c" 2>/dev/null; then :
elif gcc -static -O2 -o "$TMP/spawn" "$HERE/spawn.c" 2>/dev/null; then :
else gcc -O2 -o "$TMP/spawn" "$HERE/spawn.c"; fi
TINY=1
gcc -static -nostdlib -Os -o "$TMP/tinytrue" "$HERE/tinytrue.c" 2>/dev/null || TINY=0

# ---- the bundle ---------------------------------------------------------------------------------
mkdir -p "$TMP/bundle/rootfs/bin" "$TMP/bundle/rootfs/proc" "$TMP/bundle/rootfs/dev" \
    "$TMP/bundle/rootfs/sys" "$TMP/bundle/rootfs/tmp" "$TMP/bundle-tiny" "$TMP/bundle-exit7" "$SCRATCH"
# before the crun namespace is made, so crun sees the same tmpfs
mount -t tmpfs -o size=64m,mode=700 bench-scratch "$SCRATCH"
[ "$TMPFS_ROOTS" = 1 ] && ROOTS=$SCRATCH/roots
mkdir -p "$ROOTS"
cp "$BUSYBOX" "$TMP/bundle/rootfs/bin/busybox"
for l in sh true false echo ls cat sleep; do ln -s busybox "$TMP/bundle/rootfs/bin/$l"; done
[ "$TINY" = 1 ] && cp "$TMP/tinytrue" "$TMP/bundle/rootfs/bin/tinytrue"

# write_config DIR ROOT_PATH ARGS_JSON: runc's `runc spec` output with terminal false, no cgroup
# mount, no linux.resources, no seccomp; ociVersion 1.0.2-dev (crun 1.8.1 wants "1.0" in it).
write_config() {
    cat >"$1/config.json" <<EOF
{
  "ociVersion": "1.0.2-dev",
  "process": {
    "terminal": false,
    "user": { "uid": 0, "gid": 0 },
    "args": $3,
    "env": [
      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      "TERM=xterm"
    ],
    "cwd": "/",
    "capabilities": {
      "bounding": [ "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE" ],
      "effective": [ "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE" ],
      "permitted": [ "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE" ],
      "ambient": [ "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE" ]
    },
    "rlimits": [ { "type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024 } ],
    "noNewPrivileges": true
  },
  "root": { "path": "$2", "readonly": true },
  "hostname": "bench",
  "mounts": [
    { "destination": "/proc", "type": "proc", "source": "proc" },
    { "destination": "/dev", "type": "tmpfs", "source": "tmpfs",
      "options": [ "nosuid", "strictatime", "mode=755", "size=65536k" ] },
    { "destination": "/dev/pts", "type": "devpts", "source": "devpts",
      "options": [ "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5" ] },
    { "destination": "/dev/shm", "type": "tmpfs", "source": "shm",
      "options": [ "nosuid", "noexec", "nodev", "mode=1777", "size=65536k" ] },
    { "destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
      "options": [ "nosuid", "noexec", "nodev" ] },
    { "destination": "/sys", "type": "sysfs", "source": "sysfs",
      "options": [ "nosuid", "noexec", "nodev", "ro" ] }
  ],
  "linux": {
    "namespaces": [
      { "type": "pid" }, { "type": "network" }, { "type": "ipc" }, { "type": "uts" }, { "type": "mount" }
    ],
    "maskedPaths": [
      "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
      "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"
    ],
    "readonlyPaths": [
      "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"
    ]
  }
}
EOF
}
write_config "$TMP/bundle" rootfs '[ "/bin/true" ]'
write_config "$TMP/bundle-exit7" "$TMP/bundle/rootfs" '[ "/bin/sh", "-c", "exit 7" ]'
if [ "$TINY" = 1 ]; then
    write_config "$TMP/bundle-tiny" "$TMP/bundle/rootfs" '[ "/bin/tinytrue" ]'
else
    echo "bench: could not build the tiny payload; the runtime-only RSS row uses busybox true" >&2
    write_config "$TMP/bundle-tiny" "$TMP/bundle/rootfs" '[ "/bin/true" ]'
fi

# a snapshot of mote, so a rebuild during the run does not change the binary under test
cp "$MOTE_BIN" "$TMP/mote"

# ---- crun's mount namespace: cgroup2 hidden (crun 1.8.1 refuses hybrid hosts) --------------------
# One long-lived holder; the launcher setns()es into it before starting crun, so neither the
# unshare/umount/mount nor a shell is charged to crun. mote and runc run in the host namespace.
unshare -m --propagation private sh -c \
    'umount /sys/fs/cgroup/unified 2>/dev/null; mount -t tmpfs none /sys/fs/cgroup/unified && : >"$1" &&
     if command -v setpriv >/dev/null; then exec setpriv --pdeathsig KILL sleep infinity; fi; exec sleep infinity' \
    sh "$TMP/ns.ready" &
HOLDER=$!
for _ in $(seq 100); do [ -e "$TMP/ns.ready" ] && break; sleep 0.05; done
[ -e "$TMP/ns.ready" ] || { echo "bench: could not set up crun's mount namespace" >&2; exit 1; }

# ---- measure --------------------------------------------------------------------------------------
set +e
"$PY" "$HERE/harness.py" -n "$N" --tmp "$TMP" --prefix "$PREFIX" --spawn "$TMP/spawn" \
    --scratch "$SCRATCH" --roots "$ROOTS" --roots-fs "$(findmnt -n -o FSTYPE -T "$ROOTS" 2>/dev/null || stat -f -c %T "$ROOTS")" \
    --ns "/proc/$HOLDER/ns/mnt" --mote "$TMP/mote" --mote-orig "$MOTE_BIN" --crun "$CRUN" --runc "$RUNC" \
    --strace "$STRACE" --bundle "$TMP/bundle" --bundle-tiny "$TMP/bundle-tiny" \
    --bundle-exit7 "$TMP/bundle-exit7" --bbtrue "$BUSYBOX" ${JSON:+--json "$JSON"} &
HARNESS=$!
wait "$HARNESS"
rc=$?
HARNESS=
set -e
exit "$rc"
