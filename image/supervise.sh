# The supervisor phase of the qemu-system guest. Sourced by /init (image/init.sh) after the
# checks of the tmpfs stage; busybox sh.
#
# /init prepares two workloads and a driver, then `exec`s `mote supervise`: mote becomes PID 1
# (as on a board whose initramfs starts it) with the guest's watchdog (i6300esb on arm64,
# softdog on armhf with soft_noboot=1, which logs instead of resetting). The driver, a
# background shell that mote reaps like any orphan, checks from outside through the control
# socket:
#
#   supervise/up            both workloads run (web: ready through sd_notify), and how long
#                           after mote started the first one ran
#   supervise/restart       `mote restart web` from the control socket: a new process, ready
#   supervise/healthy       two watchdog periods pass with everything well (no reset; on armhf
#                           no softdog message; on arm64 boot.sh checks QEMU printed nothing)
#   supervise/stops_petting the critical workload is broken (it exits at once from then on):
#                           past its start limit it fails and mote stops petting
#   supervise/fires         armhf: softdog's "Triggered" in the kernel log (arm64: boot.sh finds
#                           QEMU's "watchdog: timer fired" after the SUPERVISE-MARK line)
#
# Then the RESULT line, and SIGUSR2 to PID 1: mote stops the workloads and powers off.

SUP=/run/sup
WD_TIMEOUT=4

sup_check() { # NAME STATUS...
	_n=$1
	shift
	echo "CHECK supervise/$_n: $*"
	case "$1" in ok*) echo "ok supervise/$_n" >>"$RESULTS" ;; *) echo "FAIL supervise/$_n" >>"$RESULTS" ;; esac
}

sv() { timeout 20 "$MOTE" --root "$MROOT" "$@"; }

# The JSON status's field of one workload: sv_field NAME FIELD
sv_field() {
	sv status --format json "$1" 2>/dev/null | tr ',' '\n' | sed -n "s/^.*\"$2\":\"\{0,1\}\([^\"}]*\)\"\{0,1\}.*$/\1/p" | head -n 1
}

# Wait up to $2 seconds for the shell condition $1.
sv_wait() {
	_i=0
	while [ $_i -lt $(($2 * 10)) ]; do
		eval "$1" && return 0
		sleep 0.1
		_i=$((_i + 1))
	done
	return 1
}

sup_bundle() { # NAME SCRIPT
	_b=$SUP/bundles/$1
	mkdir -p "$_b"
	sed -e "s|^\([[:space:]]*\)\"sh\"\$|\1\"sh\", \"-c\", \"$2\"|" \
		-e "s|^\([[:space:]]*\)\"mounts\": \[\$|&\n\1\t{\"destination\": \"/ctl\", \"type\": \"bind\", \"source\": \"$SUP/ctl\", \"options\": [\"rbind\"]},|" \
		"$BASE_CFG" >"$_b/config.json"
}

supervise_driver() {
	# No poll in mote's first second: the guest has one CPU, and each `mote status` started
	# here would take it from the supervisor while the first workload's start is timed.
	sleep 1
	sv_wait 'sv status >/dev/null 2>&1' 15 || { sup_check up "FAIL the control socket does not answer"; }
	if sv_wait '[ "$(sv_field web state)" = ready ] && [ "$(sv_field app state)" = ready ]' 15; then
		_first=$(sv status | sed -n 's/^first workload running \([0-9]*\) ms.*/\1/p')
		sup_check up "ok (first workload running ${_first:-?} ms after mote started)"
	else
		sup_check up "FAIL web=$(sv_field web state) app=$(sv_field app state)"
	fi
	_pid=$(sv_field web pid)
	if sv restart web >/dev/null 2>&1 &&
		sv_wait '[ "$(sv_field web state)" = ready ] && [ "$(sv_field web pid)" != "$_pid" ]' 15; then
		sup_check restart "ok (pid $_pid -> $(sv_field web pid))"
	else
		sup_check restart "FAIL web=$(sv_field web state) pid $_pid -> $(sv_field web pid)"
	fi
	# Two watchdog periods and more, everything well.
	sleep $((2 * WD_TIMEOUT + 2))
	if dmesg | grep -q 'softdog: Triggered'; then
		sup_check healthy "FAIL the softdog fired while every workload was well"
	elif sv status | grep -q 'NOT petting'; then
		sup_check healthy "FAIL mote stopped petting: $(sv status | head -n 1)"
	else
		sup_check healthy "ok ($((2 * WD_TIMEOUT + 2)) s, watchdog petted)"
	fi
	echo "SUPERVISE-MARK: breaking the critical workload; the watchdog must fire from here on"
	touch "$SUP/ctl/break"
	if sv_wait '[ "$(sv_field app state)" = failed ] && sv status | grep -q "NOT petting"' 20; then
		sup_check stops_petting "ok (app failed after $(sv_field app restarts) restarts; petting stopped)"
	else
		sup_check stops_petting "FAIL app=$(sv_field app state): $(sv status | head -n 1)"
	fi
	if [ "$(cat /etc/mote-arch)" = armhf ]; then
		if sv_wait 'dmesg | grep -q "softdog: Triggered"' 25; then
			sup_check fires "ok (softdog: Triggered)"
		else
			sup_check fires "FAIL no softdog message 25 s after petting stopped"
		fi
	else
		# i6300esb: its two stages take up to two timeouts; QEMU reports the reset on the host.
		sleep $((3 * WD_TIMEOUT + 2))
		echo "SUPERVISE-MARK: end of the watchdog wait"
	fi
	finish
	kill -USR2 1
}

supervise_phase() {
	mkdir -p "$SUP/ctl" "$SUP/workloads"
	echo '{}' >"$SUP/supervisor.json"
	cp "$MOTE" "$ROOTFS/bin/mote"
	# The guest's watchdog: i6300esb on arm64 (softdog out of its way), softdog that logs
	# instead of resetting on armhf.
	rmmod softdog 2>/dev/null
	if [ "$(cat /etc/mote-arch)" = armhf ]; then
		modprobe softdog soft_noboot=1 || echo "INFO: modprobe softdog soft_noboot=1 failed"
	fi
	sup_bundle app "while [ ! -e /ctl/break ]; do sleep 1; done; exit 1"
	sup_bundle web "/bin/mote notify --ready; exec sleep 100000"
	cat >"$SUP/workloads/app.json" <<-EOF
		{"bundle": "$SUP/bundles/app", "critical": true, "stop": {"timeout": "1s"},
		 "restart": {"backoff": {"initial": "100ms", "max": "200ms"}},
		 "startLimit": {"burst": 3, "interval": "60s", "action": "watchdog"}}
	EOF
	cat >"$SUP/workloads/web.json" <<-EOF
		{"bundle": "$SUP/bundles/web", "readiness": {"type": "notify"}, "stop": {"timeout": "1s"},
		 "dependsOn": [{"name": "app", "condition": "started"}]}
	EOF
	echo "init: exec mote supervise as PID 1 (watchdog /dev/watchdog0, $WD_TIMEOUT s)"
	supervise_driver &
	exec "$MOTE" --root "$MROOT" supervise --config-dir "$SUP/workloads" --config "$SUP/supervisor.json" \
		--watchdog /dev/watchdog0 --watchdog-timeout "${WD_TIMEOUT}s"
}
