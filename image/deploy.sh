# The deploy phase of the arm64 guest (image/boot.sh boots it twice more, with the revision
# store on a virtio disk, /dev/vda, ext4). Sourced by /init (image/init.sh) when the kernel
# command line says mote.phase=deploy1 or deploy2; busybox sh. mote supervise is PID 1, with
# a workload `web` taking its revisions from the store; a background driver does what an OTA
# agent would, through mote deploy:
#
# boot 1 (deploy1):
#   deploy/first      revision 1 staged, activated, healthy, committed
#   deploy/commit     revision 2 staged, activated (hand-over), healthy, committed
#   deploy/rollback   revision 3 never becomes healthy: rolled back by itself; revision 2
#                     served throughout (same pid)
#   deploy/fsck       the store verifies
#   deploy/testing    revision 4 staged and activated, healthy, not committed: then the guest
#                     reboots (SIGTERM to mote, PID 1: everything stopped, reboot(2))
# boot 2 (deploy2):
#   deploy/reboot     the test did not survive the reboot: rolled back ("the device restarted
#                     during the test"), revision 2, the committed one, runs
#   deploy/fsck2      the store verifies
# Each boot prints its RESULT line.

DEP=/run/dep
STORE=/var/lib/mote

dep_check() { # NAME STATUS...
	_n=$1
	shift
	echo "CHECK deploy/$_n: $*"
	case "$1" in ok*) echo "ok deploy/$_n" >>"$RESULTS" ;; *) echo "FAIL deploy/$_n" >>"$RESULTS" ;; esac
}

dv() { timeout 60 "$MOTE" --root "$MROOT" "$@"; }
dd_() { # VERB ARGS...
	_v=$1
	shift
	dv deploy "$_v" --store "$STORE" "$@" 2>&1
}

# A field of the deploy status: dep_field FIELD
dep_field() {
	dv deploy status --store "$STORE" --format json web 2>/dev/null | tr ',' '\n' | sed -n "s/^.*\"$1\":\"\{0,1\}\([^\"}]*\)\"\{0,1\}.*$/\1/p" | head -n 1
}
# A field of the supervisor's status of web (the revision it runs, its pid, its state).
sup_field() {
	dv status --format json web 2>/dev/null | tr ',' '\n' | sed -n "s/^.*\"$1\":\"\{0,1\}\([^\"}]*\)\"\{0,1\}.*$/\1/p" | head -n 1
}

dep_wait() { # CONDITION SECONDS
	_i=0
	while [ $_i -lt $(($2 * 10)) ]; do
		eval "$1" && return 0
		sleep 0.1
		_i=$((_i + 1))
	done
	return 1
}

# A revision: a bundle directory (busybox rootfs, `mote spec`'s config) running SCRIPT, with
# /tmp a tmpfs and a file of its own.
dep_bundle() { # NAME SCRIPT
	_b=$DEP/src/$1
	mkdir -p "$_b"
	cp -a "$ROOTFS" "$_b/rootfs"
	echo "$1" >"$_b/rootfs/etc/revision"
	mkdir -p "$DEP/spec-$1"
	"$MOTE" spec -b "$DEP/spec-$1" >/dev/null 2>&1
	sed -e "s|^\([[:space:]]*\)\"sh\"\$|\1\"sh\", \"-c\", \"$2\"|" \
		-e "s|^\([[:space:]]*\)\"mounts\": \[\$|&\n\1\t{\"destination\": \"/tmp\", \"type\": \"tmpfs\", \"source\": \"tmpfs\"},|" \
		"$DEP/spec-$1/config.json" >"$_b/config.json"
}

# stage NAME -> the revision id
dep_stage() {
	dd_ stage --format json web "$DEP/src/$1" | sed -n 's/.*"revision":"\([0-9a-f]*\)".*/\1/p'
}

dep_mount() {
	mkdir -p "$STORE"
	# The disk appears once virtio probes it.
	dep_wait '[ -b /dev/vda ]' 10 || echo "init: no /dev/vda: $(ls /sys/block | tr '\n' ' ')"
	mount -t ext4 /dev/vda "$STORE" || echo "init: mount /dev/vda on $STORE failed"
	mkdir -p "$DEP/workloads"
	echo '{}' >"$DEP/supervisor.json"
	cat >"$DEP/workloads/web.json" <<-EOF
		{"store": "$STORE", "stop": {"timeout": "1s"},
		 "health": {"exec": ["test", "-e", "/tmp/ok"], "interval": "500ms", "retries": 2},
		 "deploy": {"commitAfter": "1h", "timeout": "30s"}}
	EOF
}

deploy1_driver() {
	dep_wait 'dv status >/dev/null 2>&1' 20 || dep_check first "FAIL the control socket does not answer"
	dep_bundle r1 "touch /tmp/ok; exec sleep 100000"
	dep_bundle r2 "touch /tmp/ok; exec sleep 100000"
	dep_bundle r3 "exec sleep 100000"
	dep_bundle r4 "touch /tmp/ok; exec sleep 100000"
	r1=$(dep_stage r1)
	if [ -n "$r1" ] && dd_ activate --wait-healthy web >/dev/null && dd_ commit web >/dev/null &&
		dep_wait '[ "$(dep_field phase)" = committed ] && [ "$(sup_field revision)" = "$r1" ] && [ "$(sup_field state)" = healthy ]' 20; then
		dep_check first "ok (revision $r1 committed, running)"
	else
		dep_check first "FAIL r1=$r1 phase=$(dep_field phase) running=$(sup_field revision) $(sup_field state)"
	fi
	r2=$(dep_stage r2)
	if [ -n "$r2" ] && dd_ activate --wait-healthy web >/dev/null && dd_ commit web >/dev/null &&
		dep_wait '[ "$(dep_field current)" = "$r2" ] && [ "$(sup_field revision)" = "$r2" ] && [ "$(sup_field state)" = healthy ]' 20; then
		dep_check commit "ok (revision $r2 committed after a hand-over; previous $(dep_field previous))"
	else
		dep_check commit "FAIL r2=$r2 phase=$(dep_field phase) current=$(dep_field current) running=$(sup_field revision)"
	fi
	pid=$(sup_field pid)
	r3=$(dep_stage r3)
	dd_ activate --wait-healthy web >/dev/null
	rc=$?
	if [ "$rc" = 5 ] && [ "$(dep_field phase)" = rolled-back ] && [ "$(dep_field current)" = "$r2" ] &&
		[ "$(sup_field revision)" = "$r2" ] && [ "$(sup_field pid)" = "$pid" ]; then
		dep_check rollback "ok (revision $r3 rolled back: $(dep_field reason); $r2 served throughout, pid $pid)"
	else
		dep_check rollback "FAIL activate exit $rc, phase $(dep_field phase), current $(dep_field current), running $(sup_field revision) pid $pid -> $(sup_field pid)"
	fi
	if out=$(dd_ fsck); then
		dep_check fsck "ok ($out)"
	else
		dep_check fsck "FAIL $out"
	fi
	r4=$(dep_stage r4)
	if dd_ activate --wait-healthy web >/dev/null && [ "$(dep_field phase)" = testing ]; then
		dep_check testing "ok (revision $r4 under test, healthy; rebooting now)"
	else
		dep_check testing "FAIL phase $(dep_field phase)"
	fi
	echo "$r2" >"$STORE/expect-after-reboot"
	sync
	finish
	echo "DEPLOY-MARK: rebooting during the test of $r4"
	kill -TERM 1
}

deploy2_driver() {
	want=$(cat "$STORE/expect-after-reboot" 2>/dev/null)
	if dep_wait '[ "$(sup_field revision)" = "$want" ] && [ "$(sup_field state)" = healthy ]' 30 &&
		[ "$(dep_field phase)" = rolled-back ] && dep_field reason | grep -q 'device restarted'; then
		dep_check reboot "ok (after the reboot: $(dep_field reason); revision $want, the committed one, runs)"
	else
		dep_check reboot "FAIL want $want: running $(sup_field revision) $(sup_field state), phase $(dep_field phase), reason $(dep_field reason)"
	fi
	if out=$(dd_ fsck); then
		dep_check fsck2 "ok ($out)"
	else
		dep_check fsck2 "FAIL $out"
	fi
	rm -f "$STORE/expect-after-reboot"
	finish
	kill -USR2 1
}

deploy_phase() { # deploy1|deploy2
	dep_mount
	echo "init: $1: exec mote supervise as PID 1 (store $STORE on /dev/vda)"
	"${1}_driver" &
	exec "$MOTE" --root "$MROOT" supervise --config-dir "$DEP/workloads" --config "$DEP/supervisor.json"
}
