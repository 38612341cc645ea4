#!/bin/sh
# Boot the test image of one architecture in qemu-system and report mote's checks:
#
#   image/boot.sh arm64|armhf
#
# Builds (or refreshes: downloads are cached) image/out/ARCH with build.sh, boots it, writes
# the serial console to image/out/ARCH/console.log (\r stripped), prints the CHECK and RESULT
# lines, and exits 0 only if the guest printed `RESULT: ok`.
#
# Environment: MOTE_BIN (see build.sh), BOOT_TIMEOUT (seconds, default 240), QEMU_SMP
# (guest CPUs, default 1), QEMU_MEM (MiB, default 512), NO_BUILD=1 to boot the existing image.
set -u

arch=${1:-}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../scripts/progress.sh
. "$here/../scripts/progress.sh"
out=$here/out/$arch
timeout_s=${BOOT_TIMEOUT:-240}

case "$arch" in
arm64)
	qemu=qemu-system-aarch64
	# i6300esb: a watchdog for the guest; "debug" makes QEMU print "watchdog: timer fired"
	# instead of resetting, so a test can assert on it.
	machine="-M virt -cpu cortex-a53 -device i6300esb -action watchdog=debug"
	;;
armhf)
	qemu=qemu-system-arm
	machine="-M virt -cpu cortex-a15"
	;;
*)
	echo "usage: $0 arm64|armhf" >&2
	exit 2
	;;
esac
command -v "$qemu" >/dev/null || { echo "boot.sh: $qemu not found (apt-get install qemu-system-arm)" >&2; exit 1; }

t0=$(date +%s)
if [ "${NO_BUILD:-}" != 1 ] || [ ! -f "$out/initrd.gz" ]; then
	"$here/build.sh" "$arch" || exit 1
fi
t1=$(date +%s)

# Boot once: boot_once LOG EXTRA-APPEND [QEMU ARGS...]; the console goes to LOG (\r stripped),
# $qrc is QEMU's exit code, $timed_out 1 if it had to be killed.
boot_once() {
	log=$1
	extra=$2
	shift 2
	raw=$log.raw
	rm -f "$raw" "$log"
	tb=$(date +%s)
	# shellcheck disable=SC2086
	$qemu $machine -m "${QEMU_MEM:-512}" -smp "${QEMU_SMP:-1}" -nographic -no-reboot -nic none \
		-kernel "$out/kernel" -initrd "$out/initrd.gz" \
		-append "console=ttyAMA0 rdinit=/init panic=-1 quiet $extra" "$@" \
		</dev/null >"$raw" 2>&1 &
	qpid=$!
	trap 'stop_qemu; wait "$qpid" 2>/dev/null; exit 130' INT TERM HUP
	timed_out=0
	while qemu_alive; do
		if [ $(($(date +%s) - tb)) -ge "$timeout_s" ]; then
			timed_out=1
			stop_qemu
			break
		fi
		progress "boot.sh: $arch: $(($(date +%s) - tb)) s, $(grep -c '^CHECK' "$raw" 2>/dev/null) checks done"
		sleep 0.5
	done
	progress_done
	wait "$qpid" 2>/dev/null
	qrc=$?
	trap - INT TERM HUP
	tr -d '\r' <"$raw" >"$log"
	rm -f "$raw"
	[ $timed_out = 1 ] && echo "boot.sh: TIMEOUT: QEMU killed after ${timeout_s} s ($log)"
	return 0
}

# Only this QEMU, by its pid, is ever signalled.
stop_qemu() {
	kill -TERM "$qpid" 2>/dev/null
	i=0
	while [ $i -lt 10 ] && qemu_alive; do sleep 0.5; i=$((i + 1)); done
	kill -KILL "$qpid" 2>/dev/null
}
qemu_alive() {
	st=$(sed 's/^.*) //' "/proc/$qpid/stat" 2>/dev/null | cut -d' ' -f1)
	[ -n "$st" ] && [ "$st" != Z ]
}

boot_once "$out/console.log" ""
log=$out/console.log
t2=$(date +%s)

grep -E '^(CHECK|RESULT)' "$log"
grep -F 'watchdog: timer fired' "$log" | sed 's/^/qemu: /'
# arm64: the guest's i6300esb, with QEMU's watchdog action "debug", makes QEMU print
# "watchdog: timer fired" instead of resetting. It must not fire while the supervisor's
# workloads are well, and must fire once it stops petting (after SUPERVISE-MARK).
wd_ok=1
if [ "$arch" = arm64 ] && grep -q '^SUPERVISE-MARK: breaking' "$log"; then
	mark=$(grep -n '^SUPERVISE-MARK: breaking' "$log" | head -n 1 | cut -d: -f1)
	first=$(grep -n 'watchdog: timer fired' "$log" | head -n 1 | cut -d: -f1)
	if [ -z "$first" ]; then
		echo "CHECK supervise/fires: FAIL QEMU never reported the watchdog firing after petting stopped"
		wd_ok=0
	elif [ "$first" -lt "$mark" ]; then
		echo "CHECK supervise/fires: FAIL the watchdog fired while the workloads were well (console line $first, mark $mark)"
		wd_ok=0
	else
		echo "CHECK supervise/fires: ok (QEMU: watchdog: timer fired, only after petting stopped)"
	fi
fi
echo "boot.sh: $arch: build $((t1 - t0)) s, boot+checks $((t2 - t1)) s (QEMU exit $qrc); console: $log"
ok=1
grep -q '^RESULT: ok' "$log" && [ $wd_ok = 1 ] || ok=0
if ! grep -q '^RESULT:' "$log"; then
	echo "boot.sh: no RESULT line; console tail:"
	tail -n 15 "$log" | sed 's/^/  | /'
fi

# arm64: two more boots with the revision store on a disk (image/deploy.sh): deploy, commit,
# an automatic rollback, then a reboot during a test; the second boot must come back on the
# committed revision.
if [ "$arch" = arm64 ] && [ "${NO_DEPLOY:-}" != 1 ]; then
	disk=$out/store.img
	rm -f "$disk"
	truncate -s 128M "$disk" && mkfs.ext4 -q -F "$disk" || { echo "boot.sh: cannot make $disk (mkfs.ext4)"; exit 1; }
	for p in deploy1 deploy2; do
		boot_once "$out/console-$p.log" "mote.phase=$p" -drive "file=$disk,format=raw,if=virtio"
		grep -E '^(CHECK|RESULT)' "$out/console-$p.log"
		echo "boot.sh: $arch: $p: QEMU exit $qrc; console: $out/console-$p.log"
		if ! grep -q '^RESULT: ok' "$out/console-$p.log"; then
			ok=0
			grep -q '^RESULT:' "$out/console-$p.log" || tail -n 15 "$out/console-$p.log" | sed 's/^/  | /'
		fi
	done
	rm -f "$disk"
fi
[ $ok = 1 ] && exit 0
exit 1
