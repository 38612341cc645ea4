#!/bin/busybox sh
# /init of the mote qemu-system test image (built by image/build.sh, booted by image/boot.sh).
#
# Stage "initramfs" (PID 1, / is the initramfs): mount proc, sysfs, devtmpfs, cgroup2 (all
# controllers enabled for children), load the modules, print what the kernel offers, run the
# checks of /etc/mote-checks.sh. pivot_root cannot work here, so mote has to fall back to
# MS_MOVE + chroot. Then copy the initramfs into a tmpfs, move the mounts over and
# `exec switch_root` into it.
# Stage "tmpfs" (still PID 1, / is a tmpfs): run the same checks again (pivot_root works
# now), print the RESULT line and power off.
#
# The console lines the harness reads: `CHECK <phase>/<name>: ok|FAIL ...|skip (...)` and one
# `RESULT: ok ...` or `RESULT: fail (...)`.

export PATH=/bin:/sbin:/usr/bin:/usr/sbin
stage=${1:-initramfs}

mnt() { # TYPE SOURCE DIR [OPTIONS]
	mkdir -p "$3"
	# Mounted already (stage tmpfs, after mount --move)? busybox here has no mountpoint(1).
	[ -r /proc/mounts ] && awk -v d="$3" '$2 == d { f = 1 } END { exit !f }' /proc/mounts && return 0
	if [ -n "${4:-}" ]; then
		mount -t "$1" -o "$4" "$2" "$3"
	else
		mount -t "$1" "$2" "$3"
	fi || echo "init: mount -t $1 $2 $3 failed"
}

info() { echo "INFO: $*"; }

if [ "$stage" = initramfs ]; then
	/bin/busybox --install -s 2>/dev/null
	mnt devtmpfs devtmpfs /dev
	# The console the kernel gave us may be missing (no /dev/console in the archive).
	[ -c /dev/console ] && exec </dev/console >/dev/console 2>&1
	mnt proc proc /proc
	mnt sysfs sysfs /sys
	mnt securityfs securityfs /sys/kernel/security 2>/dev/null || true
	mnt devpts devpts /dev/pts
	mnt tmpfs shm /dev/shm mode=1777
	mnt tmpfs tmpfs /run mode=755
	mnt tmpfs tmpfs /tmp mode=1777
	mnt cgroup2 cgroup2 /sys/fs/cgroup nsdelegate
	# Children of the root cgroup get every controller.
	for c in $(cat /sys/fs/cgroup/cgroup.controllers); do
		echo "+$c" >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null ||
			echo "init: cannot enable controller $c"
	done
	hostname guest
	echo "init: stage initramfs, $(uname -srm)"
	kver=$(uname -r)
	if [ -f "/lib/modules/$kver/modules.dep" ]; then
		for m in $(sed 's/:.*//' "/lib/modules/$kver/modules.dep"); do
			m=${m##*/}
			m=${m%%.ko*}
			modprobe "$m" 2>/dev/null && info "modprobe $m: ok" || info "modprobe $m: failed"
		done
	fi
	info "kernel $(uname -a)"
	info "cmdline $(cat /proc/cmdline)"
	info "cpus $(grep -c ^processor /proc/cpuinfo), $(grep MemTotal /proc/meminfo | tr -s ' ')"
	info "cgroup2 controllers: $(cat /sys/fs/cgroup/cgroup.controllers)"
	info "cgroup2 subtree_control: $(cat /sys/fs/cgroup/cgroup.subtree_control)"
	info "filesystems: $(grep -oE '(overlay|cgroup2?|tmpfs|devpts|mqueue|9p)$' /proc/filesystems | tr '\n' ' ')"
	info "watchdogs: $(ls /dev/watchdog* 2>/dev/null | tr '\n' ' ')"
	info "namespaces: $(ls /proc/self/ns | tr '\n' ' ')"
	info "mote: $(/bin/mote --version 2>&1 | tr '\n' ' ')"
else
	echo "init: stage $stage, / is $(stat -f -c %T /)"
fi

. /etc/mote-checks.sh

# The deploy boots of the arm64 guest (image/deploy.sh): mote supervise as PID 1 at once.
case " $(cat /proc/cmdline) " in
*" mote.phase=deploy1 "* | *" mote.phase=deploy2 "*)
	. /etc/mote-deploy.sh
	_p=$(tr ' ' '\n' </proc/cmdline | sed -n 's/^mote.phase=//p')
	deploy_phase "$_p"
	echo "init: exec mote supervise failed"
	finish
	poweroff -f
	;;
esac

run_phase "$stage"

if [ "$stage" = initramfs ]; then
	# Into a tmpfs root, so that pivot_root works. Copy everything but the mount points,
	# move the mounts, and let busybox switch_root empty the initramfs and exec us again.
	mkdir -p /newroot
	mount -t tmpfs -o mode=755 rootfs /newroot
	for e in /*; do
		case "$e" in
		/proc | /sys | /dev | /run | /tmp | /newroot) mkdir -p "/newroot$e" ;;
		*) cp -a "$e" /newroot/ ;;
		esac
	done
	for m in /dev /proc /sys /run /tmp; do
		mount --move "$m" "/newroot$m" || echo "init: mount --move $m failed"
	done
	echo "init: switch_root into a tmpfs"
	exec switch_root /newroot /init tmpfs
	echo "init: switch_root failed"
	echo "RESULT: fail (switch_root failed)"
	poweroff -f
fi

# The supervisor phase (image/supervise.sh): mote supervise becomes PID 1 and ends the run.
if [ -f /etc/mote-supervise.sh ]; then
	. /etc/mote-supervise.sh
	supervise_phase
	echo "init: exec mote supervise failed"
fi
finish
echo "init: kernel messages since /init started:"
dmesg | sed -n '/Run \/init as init process/,$s/^/dmesg: /p'
sync
poweroff -f
