#!/bin/bash
# The side-by-side report (a benchmark, not a test; run as root on an idle machine):
#
#   bench/report.sh [-n N] [OUTDIR]      (default N=30, OUTDIR=bench/reports/latest)
#
# One run measures mote, crun and runc together: the runtime figures of bench/bench.sh (CPU,
# wall, peak RSS and syscalls of `run`, create/start/delete; again for the runtime-only build), `podman run --rm` and `ctr run
# --rm` with each as the runtime and 100 containers created and deleted (bench/clients.py), the
# supervisor's RSS at 1/10/100 containers against podman+conmon and containerd+shims
# (bench/supervisor.sh rss), and the installed size of mote's packages against Debian's crun
# and runc for amd64, arm64 and armhf. bench/report.py then writes OUTDIR/report.md with SVG
# charts (median bars, min-max lines) and says on which machine and when.
# Environment: COUNTS for the supervisor part (default "1 10 100"), CLIENT_N (default min(N, 10)),
# REUSE_RUNTIME=1 keeps OUTDIR/runtime.json of an earlier run (when a later part failed).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(dirname "$here")
N=30
while [ $# -gt 0 ]; do
    case "$1" in
        -n) N=$2; shift 2 ;;
        -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "bench/report.sh: unknown option $1" >&2; exit 2 ;;
        *) break ;;
    esac
done
out=${1:-$top/bench/reports/latest}
[ "$(id -u)" = 0 ] || { echo "bench/report.sh: run as root" >&2; exit 2; }
case "$N" in ''|*[!0-9]*|0) echo "bench/report.sh: -n needs a positive integer" >&2; exit 2 ;; esac
CLIENT_N=${CLIENT_N:-$(( N < 10 ? N : 10 ))}
mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$top"
step=0
say() { step=$((step + 1)); printf '\n==== [%d/6] %s ====\n' "$step" "$*"; }
tmp=$(mktemp -d /tmp/mote-report.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

say "build the static mote for each target"
mote=$PWD/$(scripts/build.sh x86_64-unknown-linux-musl)
cgmode=v2
[ -d /sys/fs/cgroup/memory ] && cgmode=hybrid
[ -d /sys/fs/cgroup/memory ] && [ ! -d /sys/fs/cgroup/unified ] && cgmode=v1
python3 - "$out/machine.json" <<EOF
import json, os, platform, subprocess, sys, time
def first(cmd):
    try:
        return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True).stdout.splitlines()[0]
    except Exception:
        return cmd[0] + " (not installed)"
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.machine())
mem = next(int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal"))
osr = dict(l.strip().split("=", 1) for l in open("/etc/os-release") if "=" in l)
json.dump({
    "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    "host": f"{platform.machine()} {osr.get('PRETTY_NAME', 'Linux').strip(chr(34))}",
    "cpu": cpu, "cpus": os.cpu_count(), "mem": f"{mem / 1048576:.0f} GiB",
    "kernel": os.uname().release, "cgroup": "$cgmode",
    "mote": " ".join(first(["$mote", "--version"]).split()[1:] + ["(" + subprocess.run(["$mote", "--version"], stdout=subprocess.PIPE, text=True).stdout.split("commit: ")[1].split()[0] + ")"]),
    "crun": first(["crun", "--version"]), "runc": first(["runc", "--version"]),
    "podman": first(["podman", "--version"]), "containerd": " ".join(first(["containerd", "--version"]).split()[:3]),
}, open(sys.argv[1], "w"), indent=1)
EOF

say "the runtime: bench/bench.sh -n $N"
if [ -n "${REUSE_RUNTIME:-}" ] && [ -s "$out/runtime.json" ]; then
    echo "(REUSE_RUNTIME: keeping $out/runtime.json from the last run)"
else
    bench/bench.sh -n "$N" --json "$out/runtime.json" | tee "$out/runtime.txt"
fi

say "the runtime-only build (cargo --no-default-features): bench/bench.sh -n $N"
rt_only=$(CARGO_TARGET_DIR=target/features cargo build -q --release --target x86_64-unknown-linux-musl \
    --no-default-features --message-format=json | sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1)
MOTE_BIN=$rt_only bench/bench.sh -n "$N" --json "$out/runtime-only.json" | tee "$out/runtime-only.txt"

say "the clients: podman and containerd with each runtime (x$CLIENT_N), 100 containers"
python3 bench/clients.py -n "$CLIENT_N" --json "$out/clients.json" "$mote" "$(command -v crun)" "$(command -v runc)" |
    tee "$out/clients.txt"

say "the supervisor's RSS at ${COUNTS:-1 10 100} containers"
MOTE_BIN=$mote COUNTS=${COUNTS:-1 10 100} bench/supervisor.sh rss | tee "$out/supervisor.txt"

say "installed sizes: mote's packages, Debian's crun and runc"
image/debian/build-debs.sh "$tmp/debs" >/dev/null
(cd "$tmp" && for a in amd64 arm64 armhf; do apt-get download -q "crun:$a" "runc:$a" >/dev/null 2>&1 || true; done)
python3 - "$tmp" "$out/sizes.json" <<'EOF'
import glob, json, subprocess, sys
t, dest = sys.argv[1], sys.argv[2]
def kib(deb):
    return int(subprocess.run(["dpkg-deb", "-f", deb, "Installed-Size"], stdout=subprocess.PIPE, text=True).stdout) * 1024
z = {"mote": {"what": "static, all of mote"}, "crun": {"what": "Debian package"}, "runc": {"what": "Debian package"}}
for a in ("amd64", "arm64", "armhf"):
    for name, pat in (("mote", f"{t}/debs/mote_*_{a}.deb"), ("crun", f"{t}/crun_*_{a}.deb"), ("runc", f"{t}/runc_*_{a}.deb")):
        f = glob.glob(pat)
        if f:
            z[name][a] = kib(f[0])
json.dump(z, open(dest, "w"), indent=1)
print(json.dumps(z))
EOF

python3 bench/report.py "$out"
