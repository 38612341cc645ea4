//! `mote check`: what the running kernel and system offer mote, feature by feature, with what
//! to change when something is missing. Exit code 1 when a required feature is missing.

use crate::prelude::*;

use crate::error::Result;
use crate::spec::out::JsonStr;
use crate::sys::{self, fs};
use core::fmt::Write as _;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Level {
    Ok,
    Warn,
    Missing,
}

struct Item {
    feature: String,
    level: Level,
    required: bool,
    detail: String,
    fix: String,
}

fn read(path: &str) -> Option<String> {
    let mut buf = vec![0u8; 64 * 1024];
    let n = fs::read_path(path, &mut buf).ok()?;
    Some(String::from_utf8_lossy(&buf[..n]).into_owned())
}

fn has_syscall(nr: libc::c_long, a: [libc::c_long; 4]) -> bool {
    sys::syscall_exists(nr, a)
}

fn items() -> Vec<Item> {
    let mut v = Vec::new();
    let mut add = |feature: &str, level: Level, required: bool, detail: String, fix: &str| {
        v.push(Item {
            feature: feature.into(),
            level,
            required,
            detail,
            fix: fix.into(),
        })
    };
    let ok_if = |b: bool| if b { Level::Ok } else { Level::Missing };

    let release = read("/proc/sys/kernel/osrelease").unwrap_or_default();
    let cmdline = read("/proc/cmdline").unwrap_or_default();
    add("kernel", Level::Ok, false, format!("Linux {}", release.trim()), "");

    for n in crate::spec::namespaces::ALL {
        let (ns, proc_name, required, cfg) = (format!("{} namespace", n.name), n.proc_name, n.required, n.kconfig);
        let present = fs::exists_at(fs::AT_FDCWD, &format!("/proc/self/ns/{proc_name}"));
        let fix = format!("enable {cfg} in the kernel configuration");
        let level = if present {
            Level::Ok
        } else if required {
            Level::Missing
        } else {
            Level::Warn
        };
        add(
            &ns,
            level,
            required,
            if present {
                "available".into()
            } else {
                "not in this kernel".into()
            },
            &fix,
        );
    }
    let max_userns = read("/proc/sys/user/max_user_namespaces").and_then(|s| s.trim().parse::<u64>().ok());
    match max_userns {
        Some(0) => add(
            "user namespace limit",
            Level::Warn,
            false,
            "user.max_user_namespaces is 0".into(),
            "sysctl -w user.max_user_namespaces=15000",
        ),
        Some(n) => add(
            "user namespace limit",
            Level::Ok,
            false,
            format!("user.max_user_namespaces = {n}"),
            "",
        ),
        None => {}
    }

    // cgroups
    match crate::cgroup::mode() {
        Some(m) => {
            let mut detail = format!("{} ", m.as_str());
            let ctrls = match m {
                crate::cgroup::Mode::V2 => read("/sys/fs/cgroup/cgroup.controllers")
                    .unwrap_or_default()
                    .trim()
                    .to_string(),
                _ => crate::cgroup::V1_CONTROLLERS
                    .iter()
                    .filter(|c| fs::exists_at(fs::AT_FDCWD, &format!("/sys/fs/cgroup/{c}/cgroup.procs")))
                    .copied()
                    .collect::<Vec<_>>()
                    .join(" "),
            };
            let _ = write!(detail, "(controllers: {ctrls})");
            add("cgroups", Level::Ok, true, detail, "");
            let memory_on = read("/proc/cgroups")
                .map(|t| {
                    t.lines().any(|l| {
                        let f: Vec<&str> = l.split_whitespace().collect();
                        f.first() == Some(&"memory") && f.get(3) == Some(&"1")
                    })
                })
                .unwrap_or(false)
                || ctrls.split_whitespace().any(|c| c == "memory");
            let disabled_on_cmdline = cmdline.contains("cgroup_disable=memory");
            add(
                "memory cgroup",
                if memory_on { Level::Ok } else { Level::Warn },
                false,
                if memory_on { "enabled".into() } else if disabled_on_cmdline { "disabled on the kernel command line (cgroup_disable=memory)".into() } else { "not enabled".into() },
                "add cgroup_enable=memory cgroup_memory=1 to the kernel command line (Raspberry Pi: /boot/firmware/cmdline.txt)",
            );
            if m == crate::cgroup::Mode::V2 {
                // Device rules on v2 are an eBPF program: try loading the smallest one.
                let e = crate::cgroup::devices::Emulator::new();
                let prog = crate::cgroup::devices::program(&e);
                let mut log = [0u8; 0];
                let r = sys::bpf_load_cgroup_device(&prog, c"Apache", &mut log);
                add(
                    "cgroup v2 device filter (eBPF)",
                    ok_if(r.is_ok()),
                    false,
                    match r {
                        Ok(_) => "BPF_PROG_TYPE_CGROUP_DEVICE loads".into(),
                        Err(e) => format!("cannot load: {}", crate::error::errno_name(e)),
                    },
                    "enable CONFIG_BPF_SYSCALL and CONFIG_CGROUP_BPF (device rules on cgroup v2 need them)",
                );
            }
        }
        None => add(
            "cgroups",
            Level::Missing,
            true,
            "no cgroup filesystem at /sys/fs/cgroup".into(),
            "mount cgroup2 on /sys/fs/cgroup (or the v1 hierarchies)",
        ),
    }

    // Filesystems
    let filesystems = read("/proc/filesystems").unwrap_or_default();
    let overlay = filesystems.contains("\toverlay");
    let overlay_module = fs::exists_at(
        fs::AT_FDCWD,
        &format!("/lib/modules/{}/kernel/fs/overlayfs", release.trim()),
    );
    add(
        "overlayfs",
        if overlay { Level::Ok } else { Level::Warn },
        false,
        if overlay {
            "available".into()
        } else if overlay_module {
            "a module, not loaded".into()
        } else {
            "not available".into()
        },
        "modprobe overlay (CONFIG_OVERLAY_FS); OTA workload images use it",
    );

    // Seccomp
    let status = read("/proc/self/status").unwrap_or_default();
    let seccomp = status.lines().any(|l| l.starts_with("Seccomp:"));
    let actions = read("/proc/sys/kernel/seccomp/actions_avail").unwrap_or_default();
    add(
        "seccomp",
        if seccomp { Level::Ok } else { Level::Warn },
        false,
        if seccomp {
            format!("filter actions: {}", actions.trim())
        } else {
            "not in this kernel".into()
        },
        "enable CONFIG_SECCOMP and CONFIG_SECCOMP_FILTER",
    );

    // System calls mote prefers, with their fallbacks.
    add(
        "openat2",
        if has_syscall(libc::SYS_openat2, [-1, 0, 0, 0]) {
            Level::Ok
        } else {
            Level::Warn
        },
        false,
        "RESOLVE_IN_ROOT for mount destinations (fallback: a component-by-component walk)".into(),
        "Linux 5.6 or later",
    );
    add(
        "mount_setattr",
        if has_syscall(libc::SYS_mount_setattr, [-1, 0, 0, 0]) {
            Level::Ok
        } else {
            Level::Warn
        },
        false,
        "recursive mount options (rro, rnosuid...) and idmapped mounts".into(),
        "Linux 5.12 or later",
    );
    add(
        "clone3",
        if has_syscall(libc::SYS_clone3, [0, 0, 0, 0]) {
            Level::Ok
        } else {
            Level::Warn
        },
        false,
        "a container's init starts in its cgroup v2 (CLONE_INTO_CGROUP; fallback: fork, then a move)".into(),
        "Linux 5.7 or later",
    );
    add(
        "pidfd",
        if has_syscall(libc::SYS_pidfd_open, [0, 0, 0, 0]) {
            Level::Ok
        } else {
            Level::Warn
        },
        false,
        "race-free kill and wait (fallback: pid plus start time)".into(),
        "Linux 5.3 or later",
    );

    // Watchdog
    let wd = ["/dev/watchdog0", "/dev/watchdog"]
        .into_iter()
        .find(|p| fs::exists_at(fs::AT_FDCWD, p));
    let ident = read("/sys/class/watchdog/watchdog0/identity").unwrap_or_default();
    add(
        "watchdog",
        if wd.is_some() { Level::Ok } else { Level::Warn },
        false,
        match wd {
            Some(p) => format!("{p} ({})", ident.trim()),
            None => "no watchdog device".into(),
        },
        "load the board's watchdog driver (bcm2835_wdt, omap_wdt, i6300esb) or softdog",
    );
    drop(add);
    v
}

pub fn check(format: Option<&str>) -> Result<i32> {
    let items = items();
    let missing = items.iter().any(|i| i.required && i.level == Level::Missing);
    let lvl = |l: Level| match l {
        Level::Ok => "ok",
        Level::Warn => "warn",
        Level::Missing => "missing",
    };
    match format {
        Some("json") => {
            let mut o = String::from("[");
            for (n, i) in items.iter().enumerate() {
                let _ = write!(
                    o,
                    "{}\n  {{\"feature\":{},\"status\":\"{}\",\"required\":{},\"detail\":{},\"fix\":{}}}",
                    if n > 0 { "," } else { "" },
                    JsonStr(&i.feature),
                    lvl(i.level),
                    i.required,
                    JsonStr(&i.detail),
                    JsonStr(&i.fix)
                );
            }
            o.push_str("\n]\n");
            out!("{o}");
        }
        None | Some("text") => {
            let mut o = String::new();
            for i in &items {
                let mark = match i.level {
                    Level::Ok => "ok     ",
                    Level::Warn => "warn   ",
                    Level::Missing => "MISSING",
                };
                let _ = writeln!(o, "{mark} {:<32} {}", i.feature, i.detail);
                if i.level != Level::Ok && !i.fix.is_empty() {
                    let _ = writeln!(o, "        {:<32} fix: {}", "", i.fix);
                }
            }
            let _ = writeln!(
                o,
                "\n{}",
                if missing {
                    "mote cannot run containers here: see MISSING above"
                } else {
                    "mote can run containers here"
                }
            );
            out!("{o}");
        }
        Some(f) => {
            return Err(crate::error::Error::usage("check").ctx(format_args!("--format {f:?}: use text or json")))
        }
    }
    Ok(if missing { 1 } else { 0 })
}
