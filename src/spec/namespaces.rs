//! The namespace types: everything mote knows of each, in one table. Adding a type is one row.

/// One namespace type.
pub struct Ns {
    /// Its name in config.json (`linux.namespaces[].type`).
    pub name: &'static str,
    /// Its clone/unshare/setns flag.
    pub flag: i32,
    /// Its name under /proc/PID/ns.
    pub proc_name: &'static str,
    /// It applies to the children of the process that enters it, not to the process itself
    /// (pid, time): entered by the parent before it forks the init.
    pub for_children: bool,
    /// What `mote check` tells to enable when the kernel lacks it, and whether mote needs it.
    pub kconfig: &'static str,
    pub required: bool,
}

/// Every type, in the order they are joined: user first (it grants the rights to join the
/// others), mount last (paths of the others are opened before it changes what they name).
pub const ALL: &[Ns] = &[
    Ns {
        name: "user",
        flag: libc::CLONE_NEWUSER,
        proc_name: "user",
        for_children: false,
        kconfig: "CONFIG_USER_NS",
        required: false,
    },
    Ns {
        name: "pid",
        flag: libc::CLONE_NEWPID,
        proc_name: "pid",
        for_children: true,
        kconfig: "CONFIG_PID_NS",
        required: true,
    },
    Ns {
        name: "time",
        flag: libc::CLONE_NEWTIME,
        proc_name: "time",
        for_children: true,
        kconfig: "CONFIG_TIME_NS (Linux 5.6+)",
        required: false,
    },
    Ns {
        name: "ipc",
        flag: libc::CLONE_NEWIPC,
        proc_name: "ipc",
        for_children: false,
        kconfig: "CONFIG_IPC_NS",
        required: false,
    },
    Ns {
        name: "uts",
        flag: libc::CLONE_NEWUTS,
        proc_name: "uts",
        for_children: false,
        kconfig: "CONFIG_UTS_NS",
        required: false,
    },
    Ns {
        name: "network",
        flag: libc::CLONE_NEWNET,
        proc_name: "net",
        for_children: false,
        kconfig: "CONFIG_NET_NS",
        required: false,
    },
    Ns {
        name: "cgroup",
        flag: libc::CLONE_NEWCGROUP,
        proc_name: "cgroup",
        for_children: false,
        kconfig: "CONFIG_CGROUPS",
        required: false,
    },
    Ns {
        name: "mount",
        flag: libc::CLONE_NEWNS,
        proc_name: "mnt",
        for_children: false,
        kconfig: "CONFIG_NAMESPACES",
        required: true,
    },
];

/// The config.json names, in [`ALL`]'s order (what `linux.namespaces[].type` may be).
pub const NAMES: [&str; ALL.len()] = {
    let mut a = [""; ALL.len()];
    let mut i = 0;
    while i < ALL.len() {
        a[i] = ALL[i].name;
        i += 1;
    }
    a
};

/// The row of a config.json name.
pub fn by_name(name: &str) -> Option<&'static Ns> {
    ALL.iter().find(|n| n.name == name)
}
