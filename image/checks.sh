# mote's checks in the qemu-system guest. Sourced by /init (image/init.sh), busybox sh.
#
# A check is one shell function named ck_NAME, written on one line where it fits; checks run
# in the order of this file, once with / on the initramfs (mote must fall back to
# MS_MOVE + chroot) and once after switch_root into a tmpfs (pivot_root). Adding a check is
# adding a line:
#
#   ck_hello() { ctr echo hi; expect_rc 0; expect_out hi; }
#
# Each runs in a subshell in a fresh directory $T. What it can use:
#   ctr ARGS...          run ARGS in a new container (`mote run`) from the bundle $B (made from
#                        the base config on first use): output in $T/out, mote's stderr in
#                        $T/err, exit code in $RC. $RUN_OPTS go to `mote run`, $STDIN is its stdin.
#   bundle [CONFIG]      start $B afresh from CONFIG (default $BASE_CFG: `mote spec`'s config
#                        with the rootfs path made absolute and linux.resources removed)
#   cfg_sed SED-ARGS     edit the bundle's config (pretty-printed JSON, one key a line)
#   cfg_get KEY          the string value of "KEY": "value"
#   cfg_capmask SET      a capability set of the config as the 16-hex-digit mask of /proc/*/status
#   mote_do ARGS...      `mote --root $MROOT ARGS` (stdout $T/out, stderr $T/err, exit code $RC)
#   mote_ok ARGS...      the same, failing the check unless it exits 0
#   expect_rc N, expect_out TEXT, mi_has MOUNTINFO DIR TYPE [OPTION], wait_status ID STATUS
#   fail DETAIL          end the check with `FAIL DETAIL`
#   skip DETAIL          end it with `skip (not implemented: DETAIL)`
# Containers get the ids "$ID" or "$ID-<n>" ($ID is PHASE-NAME). A mote command that exits 4
# with "not supported"/"not implemented" on stderr skips the check (unless NI_OK=1).

MOTE=${MOTE:-/bin/mote}
MROOT=${MROOT:-/run/mote}
CHECKS_FILE=${CHECKS_FILE:-/etc/mote-checks.sh}
WORK=/run/mote-checks
RESULTS=/run/mote-results
BASE_CFG=$WORK/base.json
SPEC_CFG=$WORK/spec.json
ROOTFS=/bundles/base/rootfs
TMO=${TMO:-30}

# --- helpers ---------------------------------------------------------------------------------

fail() { echo "$*" >"$T/detail"; exit 1; }
skip() { echo "$*" >"$T/ni"; exit 1; }
errtail() { tail -n 2 "$T/err" 2>/dev/null | tr '\n' ' '; }
outtext() { head -c 300 "$T/out" | tr '\n\0' '|.'; }

mote_raw() {
	timeout "$TMO" "$MOTE" "$@" <"${STDIN:-/dev/null}" >"$T/out" 2>"$T/err"
	RC=$?
	if [ "$RC" = 4 ] && [ -z "${NI_OK:-}" ] && grep -qiE 'not (supported|implemented)' "$T/err"; then
		skip "$(tail -n 1 "$T/err")"
	fi
	return 0
}
mote_do() { mote_raw --root "$MROOT" "$@"; }
mote_ok() { mote_do "$@"; [ "$RC" = 0 ] || fail "mote $*: exit $RC: $(errtail)"; }

bundle() {
	B=$T/bundle
	rm -rf "$B"
	mkdir -p "$B"
	cp "${1:-$BASE_CFG}" "$B/config.in" 2>/dev/null || fail "no base config (did mote spec fail?)"
}
cfg_sed() { [ -n "${B:-}" ] || bundle; sed -i "$@" "$B/config.in" || fail "sed $* failed"; }
cfg_get() { [ -n "${B:-}" ] || bundle; sed -n "s/.*\"$1\": *\"\\([^\"]*\\)\".*/\\1/p" "$B/config.in" | head -n 1; }

# Write $B/config.json: config.in with process.args replaced by the arguments.
cfg_args() {
	[ -n "${B:-}" ] || bundle
	_n=0
	for _a in "$@"; do
		_n=$((_n + 1))
		export "ARG$_n=$_a"
	done
	NARGS=$_n awk '
	function esc(s,   o, i, c) {
		o = ""
		for (i = 1; i <= length(s); i++) {
			c = substr(s, i, 1)
			if (c == "\\" || c == "\"") o = o "\\" c
			else if (c == "\n") o = o "\\n"
			else if (c == "\t") o = o "\\t"
			else o = o c
		}
		return "\"" o "\""
	}
	BEGIN {
		a = ""
		for (i = 1; i <= ENVIRON["NARGS"]; i++) a = a (i > 1 ? ", " : "") esc(ENVIRON["ARG" i])
		a = "[" a "]"
	}
	skipping { if (index($0, "]")) { skipping = 0; print pre a substr($0, index($0, "]") + 1) }; next }
	!done && /"args"[ \t]*:[ \t]*\[/ {
		done = 1
		pre = substr($0, 1, index($0, "\"args\"") - 1) "\"args\": "
		rest = substr($0, index($0, "[") + 1)
		if (index(rest, "]")) print pre a substr(rest, index(rest, "]") + 1)
		else skipping = 1
		next
	}
	{ print }' "$B/config.in" >"$B/config.json" || fail "cannot write config.json"
}

# ctr ARGS...: run ARGS in a new container.
N=0
ctr() {
	cfg_args "$@"
	N=$((N + 1))
	# shellcheck disable=SC2086
	mote_do run ${RUN_OPTS:-} -b "$B" "$ID-$N"
}

expect_rc() { [ "$RC" = "$1" ] || fail "exit code $RC, expected $1; stderr: $(errtail); out: $(outtext)"; }
expect_out() { [ "$(cat "$T/out")" = "$1" ] || fail "output '$(outtext)', expected '$1'; stderr: $(errtail)"; }

# mi_has MOUNTINFO DIR TYPE [OPTION]: the top mount on DIR has filesystem TYPE (any if empty)
# and the per-mount OPTION (ro, nosuid...).
mi_has() {
	awk -v mp="$2" -v t="$3" -v o="${4:-}" '
	{ for (i = 7; i <= NF; i++) if ($i == "-") break
	  if ($5 == mp) { ty = $(i + 1); opts = "," $6 "," ; seen = 1 } }
	END { exit !(seen && (t == "" || ty == t) && (o == "" || index(opts, "," o ","))) }' "$1"
}

# The mask of capability set SET ("effective", ...) of the bundle's config; with several sets
# ("ambient inheritable"), the capabilities in all of them.
cfg_capmask() {
	[ -n "${B:-}" ] || bundle
	awk -v sets="$*" '
	BEGIN {
		n = split("CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP " \
			"LINUX_IMMUTABLE NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK IPC_OWNER " \
			"SYS_MODULE SYS_RAWIO SYS_CHROOT SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE " \
			"SYS_RESOURCE SYS_TIME SYS_TTY_CONFIG MKNOD LEASE AUDIT_WRITE AUDIT_CONTROL SETFCAP " \
			"MAC_OVERRIDE MAC_ADMIN SYSLOG WAKE_ALARM BLOCK_SUSPEND AUDIT_READ PERFMON BPF " \
			"CHECKPOINT_RESTORE", names, " ")
		for (i = 1; i <= n; i++) num["CAP_" names[i]] = i - 1
		nsets = split(sets, want, " ")
	}
	!inset {
		for (k = 1; k <= nsets; k++) if ($0 ~ "\"" want[k] "\"[ \t]*:") inset = k
	}
	inset {
		line = $0
		while (match(line, /"CAP_[A-Z_]+"/)) {
			c = substr(line, RSTART + 1, RLENGTH - 2)
			if (c in num && !((inset, num[c]) in seen)) { seen[inset, num[c]] = 1; cnt[num[c]]++ }
			line = substr(line, RSTART + RLENGTH)
		}
		if (index($0, "]")) inset = 0
	}
	END {
		s = ""
		for (nib = 15; nib >= 0; nib--) {
			v = 0; w = 1
			for (b = 0; b < 4; b++) { if (cnt[nib * 4 + b] == nsets) v += w; w *= 2 }
			s = s substr("0123456789abcdef", v + 1, 1)
		}
		print s
	}' "$B/config.in"
}

# wait_status ID STATUS: poll `mote state` (5 s at most).
wait_status() {
	_i=0
	while [ $_i -lt 50 ]; do
		mote_do state "$1"
		grep -qE "\"status\": *\"$2\"" "$T/out" && return 0
		sleep 0.1
		_i=$((_i + 1))
	done
	fail "state of $1 is not $2 after 5 s: $(outtext) $(errtail)"
}
status_is() { mote_ok state "$1"; grep -qE "\"status\": *\"$2\"" "$T/out" || fail "state of $1: expected $2, got $(grep status "$T/out" | tr -d ' \t')"; }
cg_of() { sed -n 's/^0:://p' "/proc/$1/cgroup"; }
host_ns() { readlink "/proc/self/ns/$1"; }

# --- the checks, in order ------------------------------------------------------------------------

# (a) version, (b) spec
ck_version() { mote_raw --version; expect_rc 0; grep -qE '[0-9]+\.[0-9]+' "$T/out" || fail "no version number in: $(outtext)"; }
ck_spec() { mkdir d && cd d && mote_ok spec && [ -s config.json ] && grep -q '"ociVersion"' config.json || fail "mote spec wrote no config.json with ociVersion"; mote_ok spec -b "$T"; [ -s "$T/config.json" ] || fail "mote spec -b wrote no config.json"; }
ck_features() { mote_ok features; grep -q '"ociVersionMax"' "$T/out" || fail "no ociVersionMax in: $(outtext)"; }
# The unmodified `mote spec` config (it asks for a device cgroup: needs eBPF on cgroup v2).
ck_default_spec() { bundle "$SPEC_CFG"; ctr true; expect_rc 0; }
# (c) run and exit codes
ck_run_true() { ctr /bin/true; expect_rc 0; }
# mote's own config runs without a warning.
ck_run_quiet() { ctr /bin/true; expect_rc 0; [ ! -s "$T/err" ] || fail "mote run printed: $(tr '\n' ' ' <"$T/err")"; }
ck_run_exit3() { ctr sh -c 'exit 3'; expect_rc 3; }
# A pid namespace's init ignores SIGKILL from inside: kill it from the host, as `mote kill` does.
ck_run_signal_exit() { bundle; cfg_args sleep 30; timeout "$TMO" "$MOTE" --root "$MROOT" run -b "$B" "$ID" </dev/null >o 2>e & p=$!; wait_status "$ID" running; mote_ok kill "$ID" KILL; wait $p; RC=$?; [ $RC = 137 ] || fail "mote run exited $RC when its container was SIGKILLed, expected 137 (128+9); stderr: $(tr '\n' ' ' <e)"; }
ck_run_stdio() { echo hello >in; STDIN=$T/in ctr sh -c 'cat; echo to-stderr >&2'; expect_rc 0; expect_out hello; grep -q to-stderr "$T/err" || fail "container stderr not passed through: $(errtail)"; }
ck_no_pivot() { RUN_OPTS=--no-pivot ctr sh -c 'exit 5'; expect_rc 5; }
# (d) namespaces
ck_hostname() { want=$(cfg_get hostname); [ -n "$want" ] || fail "no hostname in config"; ctr hostname; expect_rc 0; expect_out "$want"; }
# A new network namespace has lo up (IFF_UP, bit 0 of its flags), as runc leaves it.
ck_loopback_up() { ctr cat /sys/class/net/lo/flags; expect_rc 0; [ $(( $(cat "$T/out") & 1 )) = 1 ] || fail "lo is down: flags $(outtext)"; }
# HOME, when process.env has none: the user's from the container's /etc/passwd (root: /root).
# No mount namespace in the config: run chrooted into the rootfs (as runc), no mount made.
ck_no_mount_namespace() { bundle; printf '{"ociVersion": "1.2.0", "process": {"user": {"uid": 0, "gid": 0}, "args": ["ls", "/"], "env": ["PATH=/bin:/sbin:/usr/bin"], "cwd": "/"}, "root": {"path": "%s"}, "linux": {"namespaces": [{"type": "pid"}, {"type": "ipc"}]}}\n' "$ROOTFS" >"$B/config.json"; _m0=$(wc -l </proc/self/mountinfo); mote_do run -b "$B" "$ID-nm"; expect_rc 0; ls "$ROOTFS" >"$T/want"; cmp -s "$T/out" "$T/want" || fail "not chrooted into the rootfs: $(outtext)"; [ "$(wc -l </proc/self/mountinfo)" = "$_m0" ] || fail "mounts changed"; }
ck_home_from_passwd() { ctr sh -c 'echo $HOME'; expect_rc 0; expect_out /root; }
ck_pid1() { ctr cat /proc/1/cmdline; expect_rc 0; [ "$(tr '\0' ' ' <"$T/out")" = "cat /proc/1/cmdline " ] || fail "/proc/1/cmdline is '$(outtext)'"; }
ck_pidns_procs() { ctr sh -c 'ls -d /proc/[0-9]*'; expect_rc 0; n=$(wc -l <"$T/out"); grep -qx /proc/1 "$T/out" && [ "$n" -le 3 ] || fail "processes seen: $(outtext)"; }
ck_namespaces() { ctr sh -c 'for n in cgroup ipc mnt net pid time uts user; do echo "$n $(readlink /proc/self/ns/$n)"; done'; expect_rc 0; for n in cgroup ipc mnt net pid uts time user; do t=$n; [ $n = net ] && t=network; [ $n = mnt ] && t=mount; inside=$(sed -n "s/^$n //p" "$T/out"); if sed -n '/"namespaces"/,/\]/p' "$B/config.in" | grep -q "\"type\": *\"$t\""; then [ "$inside" != "$(host_ns $n)" ] || fail "$n namespace is the host's ($inside)"; else [ "$inside" = "$(host_ns $n)" ] || fail "$n namespace is not the host's ($inside) though the config has none"; fi; done; }
# (e) mounts
ck_mounts() { ctr cat /proc/self/mountinfo; expect_rc 0; cp "$T/out" mi; for m in "/proc proc" "/dev tmpfs" "/dev/pts devpts" "/dev/shm tmpfs" "/dev/mqueue mqueue" "/sys sysfs ro" "/sys/fs/cgroup cgroup2 ro" "/ '' ro"; do eval "set -- $m"; mi_has mi "$1" "$2" "${3:-}" || fail "no $2 mount on $1 ${3:+($3)}; mountinfo: $(awk '{ for (i = 7; $i != "-"; i++); printf "%s %s %s; ", $5, $(i+1), $6 }' mi)"; done; }
ck_mount_options() { ctr cat /proc/self/mountinfo; expect_rc 0; cp "$T/out" mi; for m in "/dev/shm nodev" "/dev/shm noexec" "/dev/pts noexec" "/sys nosuid" "/proc/sys ro"; do set -- $m; mi_has mi "$1" "" "$2" || fail "$1 is not $2: $(grep " $1 " mi | head -n 1)"; done; }
# (f) devices
ck_devices() { ctr sh -c 'for d in null zero urandom; do [ -c /dev/$d ] || echo "no /dev/$d"; done; echo x >/dev/null || echo "cannot write /dev/null"; echo "urandom $(head -c 4 /dev/urandom | wc -c)"; echo "zero $(head -c 4 /dev/zero | tr "\0" z)"'; expect_rc 0; expect_out "urandom 4
zero zzzz"; }
ck_devices_default() { ctr sh -c 'for d in null zero full random urandom tty; do [ -c /dev/$d ] || echo "no /dev/$d"; done; [ -e /dev/ptmx ] || echo "no /dev/ptmx"; for l in fd stdin stdout stderr; do [ -L /dev/$l ] || echo "no /dev/$l link"; done; echo x >/dev/full 2>/dev/null && echo "/dev/full accepts writes"; true'; expect_rc 0; expect_out ""; }
# (g) capabilities, no_new_privs, rlimits
ck_cap_eff() { want=$(cfg_capmask effective); [ "$want" = 0000000020000420 ] || fail "harness: effective mask of mote spec is $want, not 0000000020000420"; ctr grep CapEff /proc/self/status; expect_rc 0; got=$(awk '{ print $2 }' "$T/out"); [ "$got" = "$want" ] || fail "CapEff $got, config says $want"; }
ck_cap_sets() { ctr grep ^Cap /proc/self/status; expect_rc 0; for s in Prm:permitted Bnd:bounding Inh:inheritable "Amb:ambient inheritable permitted"; do want=$(cfg_capmask ${s#*:}); got=$(sed -n "s/^Cap${s%:*}:[ \t]*//p" "$T/out"); [ "$got" = "$want" ] || fail "Cap${s%:*} $got, config's ${s#*:} set is $want"; done; }
ck_no_new_privs() { ctr grep NoNewPrivs /proc/self/status; expect_rc 0; [ "$(awk '{ print $2 }' "$T/out")" = 1 ] || fail "$(outtext)"; }
ck_rlimits() { ctr sh -c 'ulimit -n; ulimit -Hn'; expect_rc 0; expect_out "1024
1024"; }
# (h) read-only root, masked and read-only paths
ck_readonly_root() { ctr sh -c 'touch /x 2>/dev/null && echo writable || echo read-only'; expect_rc 0; expect_out read-only; }
ck_writable_root() { cfg_sed 's/"readonly": true/"readonly": false/'; ctr sh -c 'touch /x.$$ && rm /x.$$ && echo writable'; expect_rc 0; expect_out writable; }
ck_masked_paths() { ctr sh -c 'for p in /proc/kcore /proc/keys /proc/timer_list /proc/sched_debug /sys/firmware; do if [ -d $p ]; then [ -z "$(ls -A $p)" ] && echo "$p masked" || echo "$p visible"; elif [ -e $p ]; then [ "$(head -c 1 $p | wc -c)" = 0 ] && echo "$p masked" || echo "$p visible"; fi; done'; expect_rc 0; ! grep visible "$T/out" && grep -q masked "$T/out" || fail "$(outtext)"; }
ck_readonly_paths() { ctr sh -c 'echo x 2>/dev/null >/proc/sys/kernel/hostname && echo "/proc/sys writable"; echo x 2>/dev/null >/proc/sysrq-trigger && echo "/proc/sysrq-trigger writable"; true'; expect_rc 0; expect_out ""; }
# process settings
ck_env_cwd() { cfg_sed -e 's|"cwd": "/"|"cwd": "/tmp"|' -e 's|"TERM=xterm"|"TERM=xterm", "FOO=bar baz"|'; ctr sh -c 'echo "$(pwd) $FOO $TERM"'; expect_rc 0; expect_out "/tmp bar baz xterm"; }
ck_user() { cfg_sed -e 's/"uid": 0/"uid": 1000/' -e 's/"gid": 0/"gid": 1000, "additionalGids": [ 2000 ]/'; ctr sh -c 'echo $(id -u) $(id -g) $(id -G)'; expect_rc 0; set -- $(cat "$T/out"); [ "$1 $2" = "1000 1000" ] && echo " $* " | grep -q " 2000 " || fail "uid gid groups: $(outtext)"; }
# (i) lifecycle
ck_lifecycle() {
	bundle; cfg_args sleep 30
	mote_ok create -b "$B" --pid-file "$T/pid" "$ID"
	status_is "$ID" created
	pid=$(cat "$T/pid" 2>/dev/null); [ -n "$pid" ] && [ -d "/proc/$pid" ] || fail "pid file '$pid': no such process"
	grep -q "\"pid\": *$pid," "$T/out" || fail "state pid is not $pid: $(outtext)"
	mote_ok start "$ID"
	status_is "$ID" running
	[ "$(tr '\0' ' ' <"/proc/$pid/cmdline")" = "sleep 30 " ] || fail "container process runs '$(tr '\0' ' ' <"/proc/$pid/cmdline")', not sleep 30"
	mote_ok kill "$ID" KILL
	wait_status "$ID" stopped
	mote_ok delete "$ID"
	mote_ok list -q
	! grep -qx "$ID" "$T/out" || fail "$ID still listed after delete"
	[ ! -s "$T/out" ] || echo "note: other containers listed: $(outtext)"
	NI_OK=1 mote_do state "$ID"; [ "$RC" != 0 ] || fail "mote state succeeds after delete"
}
ck_kill_term() { bundle; cfg_args sh -c 'trap "exit 0" TERM; while :; do sleep 1; done'; mote_ok create -b "$B" "$ID"; mote_ok start "$ID"; status_is "$ID" running; mote_ok kill "$ID"; wait_status "$ID" stopped; mote_ok delete "$ID"; }
ck_run_detach() { bundle; cfg_args sleep 30; mote_ok run -d -b "$B" "$ID"; status_is "$ID" running; mote_ok kill "$ID" 9; wait_status "$ID" stopped; mote_ok delete "$ID"; }
ck_hooks() { cfg_sed "s|\"linux\": {|\"hooks\": { \"createRuntime\": [ { \"path\": \"/bin/sh\", \"args\": [ \"sh\", \"-c\", \"cat > $T/cr\" ] } ], \"poststop\": [ { \"path\": \"/bin/sh\", \"args\": [ \"sh\", \"-c\", \"echo gone > $T/ps\" ] } ] }, \"linux\": {|"; ctr true; expect_rc 0; grep -q '"status":"creating"' "$T/cr" || fail "createRuntime: $(cat "$T/cr" 2>&1)"; [ -s "$T/ps" ] || fail "poststop did not run"; }
ck_exec() { bundle; cfg_args sleep 30; mote_ok run -d -b "$B" "$ID"; mote_do exec --env X=7 "$ID" sh -c 'echo $X; cat /proc/1/cmdline; exit 3'; expect_rc 3; grep -q '^7' "$T/out" && grep -q 'sleep' "$T/out" || fail "exec: $(outtext) $(errtail)"; mote_ok pause "$ID"; mote_do exec "$ID" true; [ "$RC" != 0 ] || fail "exec into a paused container"; mote_ok resume "$ID"; mote_ok delete -f "$ID"; }
ck_delete_force() { bundle; cfg_args sleep 30; mote_ok create -b "$B" --pid-file "$T/pid" "$ID"; mote_ok start "$ID"; pid=$(cat "$T/pid"); mote_ok delete -f "$ID"; sleep 0.2; ! grep -qs '^State:.*[RSD]' "/proc/$pid/status" || fail "process $pid still alive after delete -f"; NI_OK=1 mote_do state "$ID"; [ "$RC" != 0 ] || fail "state works after delete -f"; }
ck_state_unknown() { NI_OK=1 mote_do state no-such-container; [ "$RC" != 0 ] && [ -s "$T/err" ] || fail "mote state of an unknown id: exit $RC, stderr '$(errtail)'"; }
ck_orphans_killed() { ctr sh -c 'sleep 1234 & echo started'; expect_rc 0; i=0; while ps -o args | grep -q '^sleep 1234'; do i=$((i + 1)); [ $i -lt 20 ] || fail "a container process outlived its init: $(ps -o pid,stat,args | grep 'sleep 1234' | head -n 1)"; sleep 0.1; done; }
# (j) cgroups
ck_cgroup_mount() { ctr sh -c 'cat /sys/fs/cgroup/cgroup.controllers && echo "cgroup $(cat /proc/self/cgroup)"'; expect_rc 0; echo "controllers: $(head -n 1 "$T/out")"; grep -qx 'cgroup 0::/' "$T/out" || fail "/sys/fs/cgroup/cgroup.controllers unreadable, or /proc/self/cgroup is not 0::/ : $(outtext) $(errtail)"; }
# runc and crun give a container every controller its parent cgroup can: at least memory and pids.
ck_cgroup_controllers() { ctr cat /sys/fs/cgroup/cgroup.controllers; expect_rc 0; for c in memory pids; do grep -qw $c "$T/out" || fail "no $c controller in the container's cgroup (cgroup.controllers: '$(outtext)'; subtree_control of the host's cgroups: $(for d in /sys/fs/cgroup /sys/fs/cgroup/*/; do [ -f $d/cgroup.subtree_control ] && echo "${d%/}: '$(cat $d/cgroup.subtree_control)'"; done | tr '\n' ' '))"; done; }
ck_cgroup_host() { bundle; cfg_args sleep 30; mote_ok create -b "$B" --pid-file "$T/pid" "$ID"; pid=$(cat "$T/pid"); cg=$(cg_of "$pid"); [ -n "$cg" ] && [ "$cg" != / ] || fail "container process is in cgroup '$cg'"; grep -qx "$pid" "/sys/fs/cgroup$cg/cgroup.procs" || fail "$pid not in /sys/fs/cgroup$cg/cgroup.procs"; mote_ok delete -f "$ID"; i=0; while [ -d "/sys/fs/cgroup$cg" ]; do i=$((i + 1)); [ $i -lt 20 ] || fail "cgroup $cg left after delete"; sleep 0.1; done; }
ck_cgroup_limits() { cfg_sed 's|"linux": {|"linux": { "resources": { "memory": { "limit": 67108864 }, "pids": { "limit": 32 } },|'; ctr sh -c 'echo $(cat /sys/fs/cgroup/memory.max) $(cat /sys/fs/cgroup/pids.max)'; expect_rc 0; expect_out "67108864 32"; }
# cgroup v2 with controllers (issue: cgroups): each resource seen in the container's own cgroup
# files (the container has a cgroup namespace), and by its effect.
res() { cfg_sed "s|\"linux\": {|\"linux\": { \"resources\": $1,|"; }
ck_cgroup_cpu() { res '{ "cpu": { "shares": 1024, "quota": 20000, "period": 100000, "cpus": "0" } }'; ctr sh -c 'echo $(cat /sys/fs/cgroup/cpu.weight) $(cat /sys/fs/cgroup/cpu.max) $(cat /sys/fs/cgroup/cpuset.cpus)'; expect_rc 0; expect_out "39 20000 100000 0"; }
ck_cgroup_swap_io() { res '{ "memory": { "limit": 33554432, "swap": 67108864, "reservation": 16777216 }, "blockIO": { "weight": 500 } }'; ctr sh -c 'echo $(cat /sys/fs/cgroup/memory.swap.max) $(cat /sys/fs/cgroup/memory.low) $(cat /sys/fs/cgroup/io.weight 2>/dev/null || cat /sys/fs/cgroup/io.bfq.weight)'; [ "$RC" = 0 ] || grep -q 'io.weight\|io.bfq.weight' "$T/err" || fail "exit $RC: $(errtail)"; [ "$RC" != 0 ] || grep -q '^33554432 16777216' "$T/out" || fail "got $(outtext)"; }
ck_cgroup_pids_effect() { res '{ "pids": { "limit": 4 } }'; ctr sh -c 'for i in 1 2 3 4 5 6; do sleep 2 & done; echo all'; grep -q "can't fork" "$T/err" "$T/out" || fail "no fork failure: $(outtext) $(errtail)"; }
ck_cgroup_oom() { res '{ "memory": { "limit": 8388608, "swap": 8388608 } }'; ctr sh -c 'dd if=/dev/zero of=/dev/null bs=32M count=1; echo dd=$?'; expect_rc 0; grep -q 'dd=137' "$T/out" || fail "dd was not OOM-killed: $(outtext)"; }
ck_cgroup_hugetlb() { grep -qw hugetlb /sys/fs/cgroup/cgroup.controllers && [ -d /sys/kernel/mm/hugepages/hugepages-2048kB ] || skip "no hugetlb controller or 2MB huge pages"; res '{ "hugepageLimits": [ { "pageSize": "2MB", "limit": 4194304 } ] }'; ctr cat /sys/fs/cgroup/hugetlb.2MB.max; expect_rc 0; expect_out 4194304; }
ck_cgroup_1mib() { res '{ "memory": { "limit": 1048576 } }'; ctr /bin/true; expect_rc 0; }
ck_cgroup_devices_bpf() { bundle "$SPEC_CFG"; cfg_sed 's|"readonly": true|"readonly": false|; s|"CAP_KILL",|"CAP_KILL", "CAP_MKNOD",|g'; ctr sh -c 'echo x >/dev/null && echo null-ok; rm -f /tmp/sda; mknod /tmp/sda b 8 0 && (head -c1 /tmp/sda >/dev/null 2>&1 || echo blk-denied)'; expect_rc 0; grep -q null-ok "$T/out" && grep -q blk-denied "$T/out" || fail "device rules not enforced: $(outtext) $(errtail)"; }
ck_cgroup_update_pause() { bundle; cfg_args sleep 30; mote_ok run -d -b "$B" "$ID"; mote_ok update --memory 32m --pids-limit 9 "$ID"; mote_ok state "$ID"; pid=$(sed -n 's/.*"pid": *\([0-9]*\).*/\1/p' "$T/out"); cg=/sys/fs/cgroup$(cg_of "$pid"); [ "$(cat $cg/memory.max) $(cat $cg/pids.max)" = "33554432 9" ] || fail "update: $(cat $cg/memory.max) $(cat $cg/pids.max)"; mote_ok pause "$ID"; status_is "$ID" paused; [ "$(cat $cg/cgroup.freeze)" = 1 ] || fail "cgroup.freeze not 1"; mote_ok resume "$ID"; status_is "$ID" running; mote_ok events --stats "$ID"; grep -q '"pids":{"current":1' "$T/out" || fail "events: $(outtext)"; mote_ok delete -f "$ID"; }
# exec --cgroup on v2: the process joins an existing sub-cgroup; a controller prefix is refused
# (one hierarchy); delete removes the sub-cgroup with the container's.
ck_exec_cgroup() { bundle; cfg_args sleep 30; mote_ok run -d -b "$B" --pid-file "$T/pid" "$ID"; cg=/sys/fs/cgroup$(cg_of "$(cat "$T/pid")"); mkdir "$cg/sub" || fail "mkdir $cg/sub"; mote_do exec --cgroup sub "$ID" cat /proc/self/cgroup; expect_rc 0; expect_out "0::/sub"; mote_do exec --cgroup memory:sub "$ID" true; expect_rc 255; grep -q 'controller prefix' "$T/err" || fail "controller prefix on v2: $(errtail)"; mote_do exec --cgroup nosuch "$ID" true; expect_rc 255; grep -q 'no such sub-cgroup' "$T/err" || fail "missing sub-cgroup: $(errtail)"; mote_ok delete -f "$ID"; [ ! -d "$cg" ] || fail "$cg left after delete"; }
# seccomp with mote's BPF compiler, on the real ARM kernel.
ck_seccomp_errno() { cfg_sed 's|"linux": {|"linux": { "seccomp": { "defaultAction": "SCMP_ACT_ALLOW", "syscalls": [ { "names": [ "mkdir", "mkdirat" ], "action": "SCMP_ACT_ERRNO", "errnoRet": 42 } ] },|'; ctr sh -c 'mkdir /dev/shm/x 2>&1; grep Seccomp: /proc/self/status'; expect_rc 0; grep -q 'No message of desired type' "$T/out" && grep -q 'Seccomp:.2' "$T/out" || fail "errno rule not enforced: $(outtext)"; }
ck_seccomp_kill() { cfg_sed 's|"linux": {|"linux": { "seccomp": { "defaultAction": "SCMP_ACT_ALLOW", "syscalls": [ { "names": [ "mknod", "mknodat" ], "action": "SCMP_ACT_KILL" } ] },|'; ctr sh -c '(mknod /dev/shm/p p); echo rc=$?'; expect_rc 0; expect_out rc=159; }
ck_seccomp_default_errno() { cfg_sed 's|"linux": {|"linux": { "seccomp": { "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38, "syscalls": [ { "names": [ "read", "write", "openat", "close", "execve", "exit_group", "exit", "brk", "mmap", "munmap", "mprotect", "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "fstat", "newfstatat", "statx", "fcntl", "fcntl64", "ioctl", "getpid", "getppid", "getuid", "getuid32", "geteuid", "geteuid32", "set_tid_address", "uname", "getcwd", "wait4", "clone", "dup2", "dup3", "sigreturn", "set_robust_list", "prlimit64", "futex", "lseek", "_llseek", "readlinkat", "access", "faccessat", "faccessat2", "getdents64", "stat64", "fstat64", "fstatat64", "lstat64", "stat", "lstat", "ugetrlimit", "getrlimit", "pipe2", "getpgid", "setpgid", "getpgrp", "set_tls" ], "action": "SCMP_ACT_ALLOW" } ] },|'; ctr sh -c 'echo ok; mkdir /dev/shm/y 2>&1; true'; expect_rc 0; grep -q '^ok' "$T/out" && grep -q 'not implemented' "$T/out" || fail "default ERRNO(ENOSYS) not applied: $(outtext) $(errtail)"; }
# User namespaces (the guests' kernels allow them; QEMU user-mode does not).
ck_userns() { cfg_sed 's|"namespaces": \[|"uidMappings": [ { "containerID": 0, "hostID": 100000, "size": 65536 } ], "gidMappings": [ { "containerID": 0, "hostID": 100000, "size": 65536 } ], "namespaces": [ { "type": "user" },|'; ctr sh -c 'cat /proc/self/uid_map; id -u; echo x >/dev/null && echo null-ok'; expect_rc 0; grep -q '^ *0 *100000 *65536' "$T/out" && grep -q null-ok "$T/out" || fail "user namespace: $(outtext) $(errtail)"; }
# AppArmor (enabled in Debian's kernels): the profile is applied at exec; an unknown one fails create.
ck_apparmor() { [ -d /sys/kernel/security/apparmor ] || skip "AppArmor is not enabled in this kernel"; cfg_sed 's|"noNewPrivileges"|"apparmorProfile": "unconfined", "noNewPrivileges"|'; ctr cat /proc/self/attr/current; expect_rc 0; grep -q unconfined "$T/out" || fail "attr/current: $(outtext) $(errtail)"; cfg_sed 's|"apparmorProfile": "unconfined"|"apparmorProfile": "mote-no-such-profile"|'; ctr true; [ "$RC" != 0 ] && grep -q apparmorProfile "$T/err" || fail "an unknown profile was not refused: rc $RC $(errtail)"; }
# mote supervise under systemd with Delegate=yes (INVOCATION_ID set, in a cgroup of its own): it
# moves into a leaf of that cgroup and puts the workloads beside it; nothing is left after but
# its own leaf (it cannot remove the cgroup it is in; systemd removes the unit's cgroup).
ck_supervise_delegated() { _cg=/sys/fs/cgroup/svc-$PHASE; mkdir -p "$_cg" "$T/w" "$T/b"; sed 's|^\([[:space:]]*\)"sh"$|\1"sleep", "100000"|' "$BASE_CFG" >"$T/b/config.json"; echo "{\"name\":\"d\",\"bundle\":\"$T/b\",\"stop\":{\"timeout\":\"1s\"}}" >"$T/w/d.json"; echo '{}' >"$T/s.json"; sh -c "echo 0 >$_cg/cgroup.procs && INVOCATION_ID=check exec $MOTE --root $T/r supervise --config-dir $T/w --config $T/s.json" >"$T/sup.log" 2>&1 & _p=$!; _i=0; until timeout 5 "$MOTE" --root "$T/r" status 2>/dev/null | grep -q '^d  *ready'; do _i=$((_i + 1)); [ $_i -gt 100 ] && { kill -TERM $_p; fail "not ready: $(tail -n 3 "$T/sup.log" | tr '\n' ' ')"; }; sleep 0.1; done; _own=$(cat /proc/$_p/cgroup); _procs=$(cat "$_cg/d/cgroup.procs" 2>/dev/null | wc -l); kill -TERM $_p; wait $_p; _left=$(find "$_cg" -mindepth 1 -type d ! -path "$_cg/supervisor" | tr '\n' ' '); rmdir "$_cg/supervisor" "$_cg" 2>/dev/null; [ "$_own" = "0::/svc-$PHASE/supervisor" ] || fail "supervisor in $_own"; [ "$_procs" -ge 1 ] || fail "no process in $_cg/d"; [ -z "$_left" ] || fail "left: $_left"; }
ck_mote_check() { mote_do check --format json; expect_rc 0; for f in '"feature":"cgroups","status":"ok"' '"detail":"v2 ' '"feature":"watchdog","status":"ok"' '"feature":"seccomp","status":"ok"' '"feature":"cgroup v2 device filter (eBPF)","status":"ok"'; do grep -qF "$f" "$T/out" || fail "mote check lacks $f: $(outtext)"; done; }
# Last: nothing left behind by the checks above.
ck_no_leftover_containers() { mote_ok list -q; [ ! -s "$T/out" ] || fail "containers left: $(outtext)"; }
ck_host_mounts_clean() { awk '{ print $5 }' /proc/self/mountinfo | sort >now; diff "$WORK/mounts.before" now >d || fail "host mounts changed: $(grep '^[-+][^-+]' d | tr '\n' ' ')"; }
# (mote's parent cgroup, made on first use, may stay: only the containers' own are leftovers.)
ck_host_cgroups_clean() { find /sys/fs/cgroup -mindepth 1 -type d | sort >now; diff "$WORK/cgroups.before" now >d; echo "cgroup changes: $(grep '^[-+][^-+]' d | tr '\n' ' ')"; ! grep "^+.*$PHASE-" d >left || fail "cgroups left: $(tr '\n' ' ' <left)"; }

# --- the runner ------------------------------------------------------------------------------

# prepare: the base config from `mote spec` and snapshots of the host's mounts and cgroups.
prepare() {
	rm -rf "$WORK"
	mkdir -p "$WORK/spec"
	if "$MOTE" spec -b "$WORK/spec" >"$WORK/spec.out" 2>&1 && [ -s "$WORK/spec/config.json" ]; then
		sed "s|\"path\": *\"rootfs\"|\"path\": \"$ROOTFS\"|" "$WORK/spec/config.json" >"$SPEC_CFG"
		# Drop the "resources" object (pretty-printed: count braces to its end).
		awk '
		!drop && /^[ \t]*"resources"[ \t]*:[ \t]*\{/ { drop = 1; depth = 0 }
		drop {
			t = $0; depth += gsub(/\{/, "", t); t = $0; depth -= gsub(/\}/, "", t)
			if (depth <= 0) drop = 0
			next
		}
		{ print }' "$SPEC_CFG" >"$BASE_CFG"
	else
		echo "INFO: mote spec failed: $(cat "$WORK/spec.out")"
	fi
	awk '{ print $5 }' /proc/self/mountinfo | sort >"$WORK/mounts.before"
	find /sys/fs/cgroup -mindepth 1 -type d | sort >"$WORK/cgroups.before"
}

run_check() { # NAME
	_name=$1
	T=$WORK/t/$_name
	mkdir -p "$T"
	(
		ID=$PHASE-$_name
		B=
		cd "$T" || exit 1
		"ck_$_name"
	) >"$T/log" 2>&1
	_rc=$?
	if [ $_rc = 0 ]; then
		_st=ok
		_word=ok
	elif [ -s "$T/ni" ]; then
		_st="skip (not implemented: $(cat "$T/ni"))"
		_word=skip
	else
		_st="FAIL $(cat "$T/detail" 2>/dev/null || echo "exit $_rc: $(tail -n 3 "$T/log" | tr '\n' ' ')")"
		_word=FAIL
	fi
	echo "CHECK $PHASE/$_name: $_st"
	echo "$_word $PHASE/$_name" >>"$RESULTS"
	if [ "$_word" = FAIL ]; then
		[ -s "$T/log" ] && sed 's/^/    log: /' "$T/log" | head -n 20
		# Remove what the failed check left (containers named after it), so the next run clean.
		for _c in $(timeout 10 "$MOTE" --root "$MROOT" list -q 2>/dev/null); do
			case "$_c" in "$PHASE-$_name" | "$PHASE-$_name"-*) timeout 10 "$MOTE" --root "$MROOT" delete -f "$_c" >/dev/null 2>&1 ;; esac
		done
	fi
}

run_phase() { # PHASE
	PHASE=$1
	prepare
	_t0=$(date +%s)
	_n=0
	for _name in $(sed -n 's/^ck_\([A-Za-z0-9_]*\)().*/\1/p' "$CHECKS_FILE"); do
		run_check "$_name"
		_n=$((_n + 1))
	done
	echo "INFO: phase $PHASE: $_n checks in $(($(date +%s) - _t0)) s"
}

finish() {
	_f=$(grep -c '^FAIL ' "$RESULTS")
	_s=$(grep '^skip ' "$RESULTS" | cut -d' ' -f2 | tr '\n' ' ' | sed 's/ $//')
	_ok=$(grep -c '^ok ' "$RESULTS")
	_skip=${_s:+; skipped: $_s}
	if [ "$_f" = 0 ] && [ "$_ok" -gt 0 ]; then
		echo "RESULT: ok ($_ok passed$_skip)"
	else
		echo "RESULT: fail ($_f failed, $_ok passed$_skip)"
	fi
}
