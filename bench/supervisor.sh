#!/bin/bash
# The supervisor's numbers (a benchmark, not a test): run as root.
#
#   bench/supervisor.sh [rss] [idle] [churn]     (default: all three)
#
# rss    resident memory of what keeps N containers (busybox `sleep`) running, N = 1, 10, 100,
#        side by side in one run: `mote supervise` (one process), podman + conmon (one conmon
#        per container; podman itself exits), containerd + its runc shim (the daemon and one
#        shim per container). The same runtime (this mote) under all three, so only the
#        monitors differ. Prints each RSS and the growth per container.
# idle   context switches of `mote supervise` over 60 s with 10 running workloads and nothing
#        due (no health checks): asleep unless a timer needs it.
# churn  RSS, fds, cgroups, mounts and state dirs of the supervisor across 10 000 restarts of a
#        crash-looping workload and 1 000 SIGHUP reloads (one workload file changed every 10th).
#
# Environment: MOTE_BIN (default target/x86_64-unknown-linux-musl/release/mote), RESTARTS
# (default 10000), RELOADS (default 1000), IDLE_SECONDS (default 60), COUNTS (default "1 10 100").
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
# shellcheck source=../scripts/progress.sh
. "$top/scripts/progress.sh"
MOTE=${MOTE_BIN:-$top/target/x86_64-unknown-linux-musl/release/mote}
RESTARTS=${RESTARTS:-10000}
RELOADS=${RELOADS:-1000}
IDLE_SECONDS=${IDLE_SECONDS:-60}
COUNTS=${COUNTS:-1 10 100}
parts=${*:-rss idle churn}
[ "$(id -u)" = 0 ] || { echo "bench/supervisor.sh: run as root" >&2; exit 2; }
[ -x "$MOTE" ] || { echo "bench/supervisor.sh: no mote at $MOTE (scripts/build.sh x86_64-unknown-linux-musl)" >&2; exit 2; }
T=$(mktemp -d /tmp/mote-bench-sup.XXXXXX)
# The cgroup parents podman (libpod_parent) and containerd (its namespace, bench) make: those
# that appear during the run are removed at the end when empty.
client_cgroups() { find /sys/fs/cgroup/*/libpod_parent /sys/fs/cgroup/*/bench -type d 2>/dev/null | sort; }
client_cgroups >"$T.cgroups"
SUPPID=
CTRPID=
cleanup() {
	[ -n "$SUPPID" ] && kill -TERM "$SUPPID" 2>/dev/null && wait "$SUPPID" 2>/dev/null
	[ -n "$CTRPID" ] && kill -TERM "$CTRPID" 2>/dev/null && wait "$CTRPID" 2>/dev/null
	# Containers a client left: by their state roots, through the runtime.
	for r in "$T"/sup/supervisor/containers "$T"/podman-state "$T"/ctr-runc/*; do
		[ -d "$r" ] || continue
		for c in $(ls "$r" 2>/dev/null); do "$MOTE" --root "$r" delete --force "$c" >/dev/null 2>&1; done
	done
	# Shims of our containerd, by pid (found by our socket on their command line).
	for p in /proc/[0-9]*; do
		grep -qa "$T/containerd.sock" "$p/cmdline" 2>/dev/null && kill -KILL "${p#/proc/}" 2>/dev/null
	done
	for d in $(find /sys/fs/cgroup -maxdepth 3 -type d -name 'mote-bench-sup*' 2>/dev/null | sort -r); do
		find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
	done
	client_cgroups | comm -13 "$T.cgroups" - | sort -r | while read -r d; do rmdir "$d" 2>/dev/null || echo "bench/supervisor.sh: cgroup $d left" >&2; done
	rm -rf "$T" "$T.cgroups"
}
trap cleanup EXIT INT TERM

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
ctxt() { awk '/ctxt_switches/ { s += $2 } END { print s }' "/proc/$1/status"; }
say() { printf '%s\n' "$*"; }

# A busybox rootfs shared by every bundle.
mkdir -p "$T/rootfs/bin" "$T/rootfs/proc" "$T/rootfs/dev" "$T/rootfs/sys" "$T/rootfs/tmp"
cp /bin/busybox "$T/rootfs/bin/"
for a in sh sleep true; do ln -s busybox "$T/rootfs/bin/$a"; done

# A bundle running ARGS (a JSON array), with the rootfs above.
bundle() { # DIR ARGS-JSON
	mkdir -p "$1"
	(cd "$1" && "$MOTE" spec)
	sed -i -e "s|\"path\": \"rootfs\"|\"path\": \"$T/rootfs\"|" -e 's|"terminal": true|"terminal": false|' \
		"$1/config.json"
	python3 - "$1/config.json" "$2" <<-'EOF'
		import json, sys
		p, args = sys.argv[1], json.loads(sys.argv[2])
		c = json.load(open(p))
		c["process"]["args"] = args
		json.dump(c, open(p, "w"), indent=1)
	EOF
}

# Start `mote supervise` on workload directory $1; sets SUPPID.
sup_start() {
	echo '{}' >"$T/sup.json"
	"$MOTE" --root "$T/sup" supervise --config-dir "$1" --config "$T/sup.json" \
		--cgroup-parent /mote-bench-sup 2>>"$T/supervisor.log" &
	SUPPID=$!
	for _ in $(seq 100); do "$MOTE" --root "$T/sup" status >/dev/null 2>&1 && return 0; sleep 0.1; done
	echo "the supervisor did not start:"; tail "$T/supervisor.log"; exit 1
}
sup_stop() { kill -TERM "$SUPPID"; wait "$SUPPID" 2>/dev/null; SUPPID=; }
# Wait until N workloads are ready.
sup_wait_ready() {
	for _ in $(seq 600); do
		n=$("$MOTE" --root "$T/sup" status --format json 2>/dev/null | grep -o '"state":"ready"' | wc -l)
		[ "$n" -ge "$1" ] && return 0
		sleep 0.1
	done
	echo "only $n of $1 workloads ready"; exit 1
}

part_rss() {
	bundle "$T/b-sleep" '["sleep", "1000000"]'
	say "== RSS of what keeps N containers running (KiB); the runtime is mote under all three"
	printf '%-28s' "monitor"; for n in $COUNTS; do printf '%12s' "N=$n"; done; printf '%16s\n' "per container"
	# mote supervise.
	line="mote supervise (1 process)"
	first= last= firstn= lastn=
	vals=
	for n in $COUNTS; do
		rm -rf "$T/w"; mkdir -p "$T/w"
		for i in $(seq "$n"); do
			echo "{\"name\":\"s$i\",\"bundle\":\"$T/b-sleep\",\"stop\":{\"timeout\":\"1s\"}}" >"$T/w/s$i.json"
		done
		progress "mote supervise: $n containers"
		sup_start "$T/w"
		sup_wait_ready "$n"
		sleep 1
		progress_done
		r=$(rss_kib "$SUPPID")
		vals="$vals $r"
		[ -z "$first" ] && { first=$r; firstn=$n; }
		last=$r; lastn=$n
		sup_stop
	done
	printf '%-28s' "$line"; for v in $vals; do printf '%12s' "$v"; done
	printf '%16s\n' "$(( (last - first) / (lastn - firstn > 0 ? lastn - firstn : 1) ))"
	echo "$vals" >"$T/mote-rss"

	# podman + conmon.
	if command -v podman >/dev/null && command -v conmon >/dev/null; then
		P="podman --root $T/pm --runroot $T/pmrun --tmpdir $T/pmtmp --cgroup-manager cgroupfs --events-backend file --runtime $MOTE"
		tar -C "$T/rootfs" -c . | $P import - localhost/bb:latest >/dev/null 2>&1
		vals= first= last= firstn= lastn=
		for n in $COUNTS; do
			for i in $(seq "$n"); do
				progress "podman: container $i/$n"
				$P run -d --network none --ulimit nofile=1024:1024 --ulimit nproc=4096:4096 \
					--name "c$i" localhost/bb:latest sleep 1000000 >/dev/null 2>&1 || echo "podman run c$i failed"
			done
			progress_done
			sleep 1
			r=0
			for i in $(seq "$n"); do
				cp=$($P inspect --format '{{.State.ConmonPid}}' "c$i" 2>/dev/null)
				[ -n "$cp" ] && r=$((r + $(rss_kib "$cp")))
			done
			vals="$vals $r"
			[ -z "$first" ] && { first=$r; firstn=$n; }
			last=$r; lastn=$n
			$P rm -f -t 0 -a >/dev/null 2>&1
		done
		printf '%-28s' "podman: conmon per container"; for v in $vals; do printf '%12s' "$v"; done
		printf '%16s\n' "$(( (last - first) / (lastn - firstn > 0 ? lastn - firstn : 1) ))"
		$P save --format oci-archive -o "$T/bb.tar" localhost/bb:latest >/dev/null 2>&1
		$P rmi -a -f >/dev/null 2>&1
	else
		say "podman + conmon: not installed"
	fi

	# containerd + runc shim.
	if command -v containerd >/dev/null && command -v ctr >/dev/null && [ -f "$T/bb.tar" ]; then
		cat >"$T/containerd.toml" <<-EOF
			version = 2
			root = "$T/ctr-root"
			state = "$T/ctr-state"
			disabled_plugins = ["io.containerd.grpc.v1.cri"]
			[grpc]
			  address = "$T/containerd.sock"
			[ttrpc]
			  address = "$T/containerd.sock.ttrpc"
			[debug]
			  address = ""
			[plugins."io.containerd.internal.v1.opt"]
			  path = "$T/ctr-opt"
		EOF
		containerd --config "$T/containerd.toml" >"$T/containerd.log" 2>&1 &
		CTRPID=$!
		C="ctr -a $T/containerd.sock -n bench"
		for _ in $(seq 100); do $C version >/dev/null 2>&1 && break; sleep 0.1; done
		$C images import --base-name localhost/bb "$T/bb.tar" >/dev/null 2>&1
		img=$($C images ls -q | grep localhost/bb | head -n 1)
		vals= first= last= firstn= lastn=
		for n in $COUNTS; do
			for i in $(seq "$n"); do
				progress "containerd: container $i/$n"
				$C run -d --runc-binary "$MOTE" "$img" "k$i" sleep 1000000 >/dev/null 2>&1 || echo "ctr run k$i failed"
			done
			sleep 1
			r=$(rss_kib "$CTRPID")
			for p in /proc/[0-9]*; do
				grep -qa "containerd-shim" "$p/comm" 2>/dev/null || grep -qa "containerd-shim" "$p/cmdline" 2>/dev/null || continue
				grep -qa "$T/containerd.sock" "$p/cmdline" 2>/dev/null || continue
				r=$((r + $(rss_kib "${p#/proc/}")))
			done
			vals="$vals $r"
			[ -z "$first" ] && { first=$r; firstn=$n; }
			last=$r; lastn=$n
			for i in $(seq "$n"); do
				$C task kill -s KILL "k$i" >/dev/null 2>&1
			done
			sleep 1
			for i in $(seq "$n"); do
				$C task delete "k$i" >/dev/null 2>&1; $C container delete "k$i" >/dev/null 2>&1
			done
		done
		printf '%-28s' "containerd + a shim each"; for v in $vals; do printf '%12s' "$v"; done
		printf '%16s\n' "$(( (last - first) / (lastn - firstn > 0 ? lastn - firstn : 1) ))"
		kill -TERM "$CTRPID"; wait "$CTRPID" 2>/dev/null; CTRPID=
	else
		say "containerd + shim: not installed (or no image)"
	fi
}

part_idle() {
	bundle "$T/b-idle" '["sleep", "1000000"]'
	rm -rf "$T/w"; mkdir -p "$T/w"
	for i in $(seq 10); do
		echo "{\"name\":\"i$i\",\"bundle\":\"$T/b-idle\",\"stop\":{\"timeout\":\"1s\"}}" >"$T/w/i$i.json"
	done
	sup_start "$T/w"
	sup_wait_ready 10
	sleep 2
	a=$(ctxt "$SUPPID")
	sleep "$IDLE_SECONDS"
	b=$(ctxt "$SUPPID")
	say "== idle: 10 workloads running, no health checks: $((b - a)) context switches of mote supervise in $IDLE_SECONDS s"
	sup_stop
}

part_churn() {
	bundle "$T/b-crash" '["sh", "-c", "exit 1"]'
	bundle "$T/b-calm" '["sleep", "1000000"]'
	rm -rf "$T/w"; mkdir -p "$T/w"
	echo "{\"name\":\"crash\",\"bundle\":\"$T/b-crash\",\"restart\":{\"backoff\":{\"initial\":\"1ms\",\"max\":\"1ms\"}},\"startLimit\":{\"burst\":100,\"interval\":\"1ms\"}}" >"$T/w/crash.json"
	echo "{\"name\":\"calm\",\"bundle\":\"$T/b-calm\",\"stop\":{\"timeout\":\"1s\"}}" >"$T/w/calm.json"
	sup_start "$T/w"
	restarts() { "$MOTE" --root "$T/sup" status --format json 2>/dev/null | tr '{' '\n' | grep '"name":"crash"' | sed 's/.*"restarts":\([0-9]*\).*/\1/'; }
	fds() { ls "/proc/$SUPPID/fd" | wc -l; }
	cgs() { find /sys/fs/cgroup -type d -path '*mote-bench-sup*' 2>/dev/null | wc -l; }
	mnts() { wc -l <"/proc/$SUPPID/mountinfo"; }
	dirs() { ls "$T/sup/supervisor/containers" | wc -l; }
	while [ "$(restarts)" -lt 200 ]; do sleep 0.5; done
	r0=$(rss_kib "$SUPPID"); f0=$(fds); c0=$(cgs); m0=$(mnts); d0=$(dirs)
	t0=$(date +%s)
	while [ "$(restarts)" -lt "$RESTARTS" ]; do progress "churn: $(restarts)/$RESTARTS restarts"; sleep 1; done
	progress_done
	t1=$(date +%s)
	r1=$(rss_kib "$SUPPID"); f1=$(fds); c1=$(cgs); m1=$(mnts); d1=$(dirs)
	say "== churn: restarts 200 -> $(restarts) in $((t1 - t0)) s: RSS $r0 -> $r1 KiB ($((r1 - r0)) KiB); fds $f0 -> $f1; cgroup dirs $c0 -> $c1; mounts $m0 -> $m1; state dirs $d0 -> $d1"
	# Reloads: every 10th changes calm's file (it restarts).
	r0=$(rss_kib "$SUPPID"); f0=$(fds)
	for i in $(seq "$RELOADS"); do
		if [ $((i % 10)) = 0 ]; then
			echo "{\"name\":\"calm\",\"bundle\":\"$T/b-calm\",\"stop\":{\"timeout\":\"1s\"},\"env\":[\"ROUND=$i\"]}" >"$T/w/calm.json"
		fi
		kill -HUP "$SUPPID"
		progress "reloads: $i/$RELOADS"
		sleep 0.02
	done
	progress_done
	sleep 2
	r1=$(rss_kib "$SUPPID"); f1=$(fds)
	say "== reloads: $RELOADS SIGHUPs: RSS $r0 -> $r1 KiB ($((r1 - r0)) KiB); fds $f0 -> $f1; cgroup dirs $(cgs); state dirs $(dirs)"
	sup_stop
}

say "mote: $MOTE ($("$MOTE" --version | head -n 1)); $(nproc) CPUs; $(uname -r); $(date -u +%Y-%m-%dT%H:%MZ)"
for p in $parts; do "part_$p"; done
