//! `mote spec` (a default config.json) and `mote features` (what mote supports, truthfully).

use crate::prelude::*;

use crate::spec::out::JsonStr;
use core::fmt::Write as _;

/// The default config.json: a busybox-style shell in every namespace but user and time,
/// three capabilities, read-only root, runc's masked and read-only paths. Unlike runc's
/// template it has no ambient set: without an inheritable set the kernel refuses it, and a
/// root process gets its bounding set on exec anyway.
pub const DEFAULT_SPEC: &str = r#"{
	"ociVersion": "1.2.0",
	"process": {
		"terminal": false,
		"user": {
			"uid": 0,
			"gid": 0
		},
		"args": [
			"sh"
		],
		"env": [
			"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
			"TERM=xterm"
		],
		"cwd": "/",
		"capabilities": {
			"bounding": [
				"CAP_AUDIT_WRITE",
				"CAP_KILL",
				"CAP_NET_BIND_SERVICE"
			],
			"effective": [
				"CAP_AUDIT_WRITE",
				"CAP_KILL",
				"CAP_NET_BIND_SERVICE"
			],
			"permitted": [
				"CAP_AUDIT_WRITE",
				"CAP_KILL",
				"CAP_NET_BIND_SERVICE"
			]
		},
		"rlimits": [
			{
				"type": "RLIMIT_NOFILE",
				"hard": 1024,
				"soft": 1024
			}
		],
		"noNewPrivileges": true
	},
	"root": {
		"path": "rootfs",
		"readonly": true
	},
	"hostname": "mote",
	"mounts": [
		{
			"destination": "/proc",
			"type": "proc",
			"source": "proc"
		},
		{
			"destination": "/dev",
			"type": "tmpfs",
			"source": "tmpfs",
			"options": [
				"nosuid",
				"strictatime",
				"mode=755",
				"size=65536k"
			]
		},
		{
			"destination": "/dev/pts",
			"type": "devpts",
			"source": "devpts",
			"options": [
				"nosuid",
				"noexec",
				"newinstance",
				"ptmxmode=0666",
				"mode=0620",
				"gid=5"
			]
		},
		{
			"destination": "/dev/shm",
			"type": "tmpfs",
			"source": "shm",
			"options": [
				"nosuid",
				"noexec",
				"nodev",
				"mode=1777",
				"size=65536k"
			]
		},
		{
			"destination": "/dev/mqueue",
			"type": "mqueue",
			"source": "mqueue",
			"options": [
				"nosuid",
				"noexec",
				"nodev"
			]
		},
		{
			"destination": "/sys",
			"type": "sysfs",
			"source": "sysfs",
			"options": [
				"nosuid",
				"noexec",
				"nodev",
				"ro"
			]
		},
		{
			"destination": "/sys/fs/cgroup",
			"type": "cgroup",
			"source": "cgroup",
			"options": [
				"nosuid",
				"noexec",
				"nodev",
				"relatime",
				"ro"
			]
		}
	],
	"linux": {
		"resources": {
			"devices": [
				{
					"allow": false,
					"access": "rwm"
				}
			]
		},
		"namespaces": [
			{
				"type": "pid"
			},
			{
				"type": "network"
			},
			{
				"type": "ipc"
			},
			{
				"type": "uts"
			},
			{
				"type": "mount"
			},
			{
				"type": "cgroup"
			}
		],
		"maskedPaths": [
			"/proc/acpi",
			"/proc/asound",
			"/proc/kcore",
			"/proc/keys",
			"/proc/latency_stats",
			"/proc/timer_list",
			"/proc/timer_stats",
			"/proc/sched_debug",
			"/sys/firmware",
			"/proc/scsi"
		],
		"readonlyPaths": [
			"/proc/bus",
			"/proc/fs",
			"/proc/irq",
			"/proc/sys",
			"/proc/sysrq-trigger"
		]
	}
}
"#;

/// Turn the default into the rootless variant: a user namespace mapping the caller, no
/// network namespace, /sys bound from the host, no cgroup resources.
pub fn rootless_spec(uid: u32, gid: u32) -> String {
    let s = DEFAULT_SPEC
        .replace(
            "\t\t\t{\n\t\t\t\t\"type\": \"network\"\n\t\t\t},\n",
            "",
        )
        .replace(
            "\t\t\t{\n\t\t\t\t\"type\": \"cgroup\"\n\t\t\t}\n",
            "\t\t\t{\n\t\t\t\t\"type\": \"cgroup\"\n\t\t\t},\n\t\t\t{\n\t\t\t\t\"type\": \"user\"\n\t\t\t}\n",
        )
        .replace(
            "\t\t\"resources\": {\n\t\t\t\"devices\": [\n\t\t\t\t{\n\t\t\t\t\t\"allow\": false,\n\t\t\t\t\t\"access\": \"rwm\"\n\t\t\t\t}\n\t\t\t]\n\t\t},\n",
            &format!(
                "\t\t\"uidMappings\": [\n\t\t\t{{\n\t\t\t\t\"containerID\": 0,\n\t\t\t\t\"hostID\": {uid},\n\t\t\t\t\"size\": 1\n\t\t\t}}\n\t\t],\n\t\t\"gidMappings\": [\n\t\t\t{{\n\t\t\t\t\"containerID\": 0,\n\t\t\t\t\"hostID\": {gid},\n\t\t\t\t\"size\": 1\n\t\t\t}}\n\t\t],\n"
            ),
        )
        .replace(
            "\t\t\t\"type\": \"sysfs\",\n\t\t\t\"source\": \"sysfs\",\n\t\t\t\"options\": [\n\t\t\t\t\"nosuid\",\n\t\t\t\t\"noexec\",\n\t\t\t\t\"nodev\",\n\t\t\t\t\"ro\"\n\t\t\t]",
            "\t\t\t\"type\": \"none\",\n\t\t\t\"source\": \"/sys\",\n\t\t\t\"options\": [\n\t\t\t\t\"rbind\",\n\t\t\t\t\"nosuid\",\n\t\t\t\t\"noexec\",\n\t\t\t\t\"nodev\",\n\t\t\t\t\"ro\"\n\t\t\t]",
        );
    // The devpts gid option needs the group mapped: drop it.
    s.replace("\t\t\t\t\"mode=0620\",\n\t\t\t\t\"gid=5\"\n", "\t\t\t\t\"mode=0620\"\n")
}

/// Mount options mote understands (each is in `rootfs::options`'s table; a test checks).
pub const FEATURE_MOUNT_OPTIONS: &[&str] = &[
    "async",
    "atime",
    "bind",
    "defaults",
    "dev",
    "diratime",
    "dirsync",
    "exec",
    "lazytime",
    "loud",
    "mand",
    "noatime",
    "nodev",
    "nodiratime",
    "noexec",
    "nolazytime",
    "nomand",
    "norelatime",
    "nostrictatime",
    "nosuid",
    "nosymfollow",
    "private",
    "ratime",
    "rbind",
    "rdev",
    "rdiratime",
    "relatime",
    "remount",
    "rexec",
    "rnoatime",
    "rnodev",
    "rnodiratime",
    "rnoexec",
    "rnorelatime",
    "rnostrictatime",
    "rnosuid",
    "rnosymfollow",
    "ro",
    "rprivate",
    "rrelatime",
    "rro",
    "rrw",
    "rshared",
    "rslave",
    "rstrictatime",
    "rsuid",
    "rsymfollow",
    "runbindable",
    "rw",
    "shared",
    "silent",
    "slave",
    "strictatime",
    "suid",
    "symfollow",
    "sync",
    "unbindable",
];

/// The features document (runtime-spec features.md).
pub fn features_json() -> String {
    let mut o = String::with_capacity(4096);
    let list = |o: &mut String, items: &[&str], indent: &str| {
        o.push('[');
        for (i, it) in items.iter().enumerate() {
            let _ = write!(o, "{}\n{indent}\t{}", if i > 0 { "," } else { "" }, JsonStr(it));
        }
        let _ = write!(o, "\n{indent}]");
    };
    let _ = write!(
        o,
        "{{\n\t\"ociVersionMin\": \"1.0.0\",\n\t\"ociVersionMax\": \"{}\",\n\t\"hooks\": [\"prestart\", \"createRuntime\", \"createContainer\", \"startContainer\", \"poststart\", \"poststop\"],\n\t\"mountOptions\": ",
        crate::SPEC_VERSION
    );
    list(&mut o, FEATURE_MOUNT_OPTIONS, "\t");
    o.push_str(",\n\t\"linux\": {\n\t\t\"namespaces\": ");
    list(&mut o, &crate::spec::namespaces::NAMES, "\t\t");
    o.push_str(",\n\t\t\"capabilities\": ");
    list(&mut o, &crate::security::caps::NAMES, "\t\t");
    o.push_str(
        ",\n\t\t\"cgroup\": {\n\t\t\t\"v1\": true,\n\t\t\t\"v2\": true,\n\t\t\t\"systemd\": false,\n\t\t\t\"systemdUser\": false,\n\t\t\t\"rdma\": false\n\t\t},\n",
    );
    o.push_str("\t\t\"seccomp\": {\n\t\t\t\"enabled\": true,\n\t\t\t\"actions\": ");
    list(&mut o, crate::spec::validate::SECCOMP_ACTIONS, "\t\t\t");
    o.push_str(",\n\t\t\t\"operators\": ");
    list(&mut o, crate::spec::validate::SECCOMP_OPS, "\t\t\t");
    o.push_str(",\n\t\t\t\"archs\": ");
    list(
        &mut o,
        &[
            "SCMP_ARCH_AARCH64",
            "SCMP_ARCH_ARM",
            "SCMP_ARCH_X32",
            "SCMP_ARCH_X86",
            "SCMP_ARCH_X86_64",
        ],
        "\t\t\t",
    );
    o.push_str(",\n\t\t\t\"knownFlags\": ");
    list(&mut o, crate::spec::validate::SECCOMP_FLAGS, "\t\t\t");
    o.push_str(",\n\t\t\t\"supportedFlags\": ");
    list(&mut o, crate::spec::validate::SECCOMP_FLAGS, "\t\t\t");
    o.push_str("\n\t\t},\n");
    o.push_str("\t\t\"apparmor\": {\n\t\t\t\"enabled\": true\n\t\t},\n");
    o.push_str("\t\t\"selinux\": {\n\t\t\t\"enabled\": true\n\t\t},\n");
    o.push_str("\t\t\"intelRdt\": {\n\t\t\t\"enabled\": false\n\t\t},\n");
    o.push_str("\t\t\"mountExtensions\": {\n\t\t\t\"idmap\": {\n\t\t\t\t\"enabled\": true\n\t\t\t}\n\t\t}\n\t},\n");
    let _ = write!(
        o,
        "\t\"annotations\": {{\n\t\t\"org.opencontainers.runc.checkpoint.enabled\": \"false\",\n\t\t\"io.github.mote.scheduler.policies\": \"SCHED_OTHER,SCHED_FIFO,SCHED_RR,SCHED_BATCH,SCHED_IDLE,SCHED_DEADLINE\",\n\t\t\"io.github.mote.scheduler.flags\": \"SCHED_FLAG_RESET_ON_FORK,SCHED_FLAG_RECLAIM,SCHED_FLAG_DL_OVERRUN,SCHED_FLAG_KEEP_POLICY,SCHED_FLAG_KEEP_PARAMS,SCHED_FLAG_UTIL_CLAMP_MIN,SCHED_FLAG_UTIL_CLAMP_MAX\",\n\t\t\"io.github.mote.version\": {},\n\t\t\"io.github.mote.commit\": {}\n\t}}\n}}\n",
        JsonStr(crate::VERSION),
        JsonStr(crate::COMMIT)
    );
    o
}
