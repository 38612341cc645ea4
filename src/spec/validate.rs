//! Checks of config.json beyond its types: enumerated values, required fields, ranges.
//! Every error names the JSON path, what is wrong and what is allowed.

use super::json::{Bounded, Str};
use super::Config;
use crate::error::{Error, Kind};
use core::fmt;

pub const PROPAGATIONS: &[&str] = &[
    "private",
    "rprivate",
    "shared",
    "rshared",
    "slave",
    "rslave",
    "unbindable",
    "runbindable",
];
pub const RLIMITS: &[&str] = &[
    "RLIMIT_CPU",
    "RLIMIT_FSIZE",
    "RLIMIT_DATA",
    "RLIMIT_STACK",
    "RLIMIT_CORE",
    "RLIMIT_RSS",
    "RLIMIT_NPROC",
    "RLIMIT_NOFILE",
    "RLIMIT_MEMLOCK",
    "RLIMIT_AS",
    "RLIMIT_LOCKS",
    "RLIMIT_SIGPENDING",
    "RLIMIT_MSGQUEUE",
    "RLIMIT_NICE",
    "RLIMIT_RTPRIO",
    "RLIMIT_RTTIME",
];
pub const SECCOMP_ACTIONS: &[&str] = &[
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_TRAP",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_TRACE",
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_LOG",
    "SCMP_ACT_NOTIFY",
];
pub const SECCOMP_OPS: &[&str] = &[
    "SCMP_CMP_NE",
    "SCMP_CMP_LT",
    "SCMP_CMP_LE",
    "SCMP_CMP_EQ",
    "SCMP_CMP_GE",
    "SCMP_CMP_GT",
    "SCMP_CMP_MASKED_EQ",
];
pub const SECCOMP_ARCHES: &[&str] = &[
    "SCMP_ARCH_X86",
    "SCMP_ARCH_X86_64",
    "SCMP_ARCH_X32",
    "SCMP_ARCH_ARM",
    "SCMP_ARCH_AARCH64",
    "SCMP_ARCH_MIPS",
    "SCMP_ARCH_MIPS64",
    "SCMP_ARCH_MIPS64N32",
    "SCMP_ARCH_MIPSEL",
    "SCMP_ARCH_MIPSEL64",
    "SCMP_ARCH_MIPSEL64N32",
    "SCMP_ARCH_PPC",
    "SCMP_ARCH_PPC64",
    "SCMP_ARCH_PPC64LE",
    "SCMP_ARCH_S390",
    "SCMP_ARCH_S390X",
    "SCMP_ARCH_PARISC",
    "SCMP_ARCH_PARISC64",
    "SCMP_ARCH_RISCV64",
    "SCMP_ARCH_LOONGARCH64",
    "SCMP_ARCH_M68K",
    "SCMP_ARCH_SH",
    "SCMP_ARCH_SHEB",
];
pub const SECCOMP_FLAGS: &[&str] = &[
    "SECCOMP_FILTER_FLAG_TSYNC",
    "SECCOMP_FILTER_FLAG_LOG",
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
];
pub const DEVICE_TYPES: &[&str] = &["c", "b", "u", "p"];
pub const IOPRIO_CLASSES: &[&str] = &["IOPRIO_CLASS_RT", "IOPRIO_CLASS_BE", "IOPRIO_CLASS_IDLE"];
pub const SCHED_POLICIES: &[&str] = &[
    "SCHED_OTHER",
    "SCHED_FIFO",
    "SCHED_RR",
    "SCHED_BATCH",
    "SCHED_ISO",
    "SCHED_IDLE",
    "SCHED_DEADLINE",
];
pub const SCHED_FLAGS: &[&str] = &[
    "SCHED_FLAG_RESET_ON_FORK",
    "SCHED_FLAG_RECLAIM",
    "SCHED_FLAG_DL_OVERRUN",
    "SCHED_FLAG_KEEP_POLICY",
    "SCHED_FLAG_KEEP_PARAMS",
    "SCHED_FLAG_UTIL_CLAMP_MIN",
    "SCHED_FLAG_UTIL_CLAMP_MAX",
];
pub const PERSONALITY_DOMAINS: &[&str] = &["LINUX", "LINUX32"];
pub const TIME_CLOCKS: &[&str] = &["monotonic", "boottime"];

/// The namespace a sysctl belongs to (None: not namespaced).
pub fn sysctl_namespace(key: &str) -> Option<&'static str> {
    const IPC: &[&str] = &[
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    if IPC.contains(&key) || key.starts_with("fs.mqueue.") {
        Some("ipc")
    } else if key.starts_with("net.") {
        Some("network")
    } else if key == "kernel.domainname" || key == "kernel.hostname" {
        Some("uts")
    } else {
        None
    }
}

/// The smallest SCHED_DEADLINE runtime the kernel takes, in ns (1 << DL_SCALE).
pub const DL_MIN_RUNTIME_NS: u64 = 1 << 10;

/// process.scheduler as sched_setattr(2) would judge it, refused before anything is made: the
/// real-time policies need a priority from 1 to 99 and the others none; SCHED_DEADLINE needs
/// runtime <= deadline <= period, all given, the runtime at least the kernel's 1024 ns (the
/// period's bounds are the host's sysctls: `create` checks those); SCHED_ISO is not in Linux.
fn validate_scheduler(sc: &super::Scheduler<'_>) -> Result<(), Error> {
    let policy = sc.policy.0;
    if policy == "SCHED_ISO" {
        return Err(at(
            format_args!("process.scheduler.policy"),
            format_args!("SCHED_ISO is not in the Linux kernel (sched_setattr refuses it): use SCHED_OTHER, SCHED_BATCH or SCHED_IDLE"),
        ));
    }
    let rt = matches!(policy, "SCHED_FIFO" | "SCHED_RR");
    let prio = sc.priority.unwrap_or(0);
    if rt && !(1..=99).contains(&prio) {
        return Err(at(
            format_args!("process.scheduler.priority"),
            format_args!("{policy} needs a priority from 1 to 99, not {prio}"),
        ));
    }
    if !rt && prio != 0 {
        return Err(at(
            format_args!("process.scheduler.priority"),
            format_args!("{policy} takes no priority (only SCHED_FIFO and SCHED_RR do): remove it or set 0"),
        ));
    }
    if policy != "SCHED_DEADLINE" {
        if sc.runtime.is_some() || sc.deadline.is_some() || sc.period.is_some() {
            return Err(at(
                format_args!("process.scheduler"),
                format_args!("runtime, deadline and period are for SCHED_DEADLINE only, not {policy}"),
            ));
        }
        return Ok(());
    }
    let (Some(r), Some(d), Some(p)) = (sc.runtime, sc.deadline, sc.period) else {
        return Err(at(
            format_args!("process.scheduler"),
            format_args!("SCHED_DEADLINE needs runtime, deadline and period (ns), with runtime <= deadline <= period"),
        ));
    };
    if r < DL_MIN_RUNTIME_NS {
        return Err(at(
            format_args!("process.scheduler.runtime"),
            format_args!("{r} ns is below the kernel's minimum of {DL_MIN_RUNTIME_NS} ns"),
        ));
    }
    if r > d || d > p {
        return Err(at(
            format_args!("process.scheduler"),
            format_args!("SCHED_DEADLINE needs runtime <= deadline <= period: {r} <= {d} <= {p} does not hold"),
        ));
    }
    Ok(())
}

/// A config error at a JSON path.
pub fn at(path: fmt::Arguments<'_>, msg: fmt::Arguments<'_>) -> Error {
    Error::new(Kind::Input, "config.json:").ctx(format_args!("{path}: {msg}"))
}

struct OneOf(&'static [&'static str]);
impl fmt::Display for OneOf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("expected one of: ")?;
        for (i, v) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(v)?;
        }
        Ok(())
    }
}

fn one_of(v: Str<'_>, allowed: &'static [&'static str], path: fmt::Arguments<'_>) -> Result<(), Error> {
    if allowed.contains(&v.0) {
        Ok(())
    } else {
        Err(at(
            path,
            format_args!("{:?} is not allowed ({})", Bounded(&v, 64), OneOf(allowed)),
        ))
    }
}

/// Check a parsed config. `warn` receives non-fatal findings (unknown capability names, as
/// runc warns and skips them).
pub fn validate(cfg: &Config<'_>, warn: &mut dyn FnMut(fmt::Arguments<'_>)) -> Result<(), Error> {
    let s = &cfg.spec;
    let v = s.oci_version.0;
    if !(v.starts_with("1.") || v == "1") {
        return Err(at(
            format_args!("ociVersion"),
            format_args!(
                "{:?} is not supported: mote implements runtime-spec 1.x (any 1.x version is accepted)",
                Bounded(v, 32)
            ),
        ));
    }
    if let Some(root) = &s.root {
        if root.path.is_empty() {
            return Err(at(format_args!("root.path"), format_args!("must not be empty")));
        }
    }
    if let Some(p) = &s.process {
        validate_process(cfg, p, warn)?;
    }
    for (i, m) in cfg.items(s.mounts).iter().enumerate() {
        if m.destination.is_empty() {
            return Err(at(
                format_args!("mounts[{i}].destination"),
                format_args!("must not be empty"),
            ));
        }
        if m.destination.contains('\0') {
            return Err(at(
                format_args!("mounts[{i}].destination"),
                format_args!("contains a NUL byte"),
            ));
        }
    }
    if let Some(h) = &s.hooks {
        for (kind, list) in [
            ("prestart", &h.prestart),
            ("createRuntime", &h.create_runtime),
            ("createContainer", &h.create_container),
            ("startContainer", &h.start_container),
            ("poststart", &h.poststart),
            ("poststop", &h.poststop),
        ] {
            for (i, hook) in cfg.items(*list).iter().enumerate() {
                if !hook.path.starts_with('/') {
                    return Err(at(
                        format_args!("hooks.{kind}[{i}].path"),
                        format_args!("{:?} must be an absolute path", Bounded(&hook.path, 64)),
                    ));
                }
                if let Some(t) = hook.timeout {
                    if t <= 0 {
                        return Err(at(
                            format_args!("hooks.{kind}[{i}].timeout"),
                            format_args!("must be greater than zero, got {t}"),
                        ));
                    }
                }
            }
        }
    }
    if let Some(l) = &s.linux {
        validate_linux(cfg, l)?;
    } else if s.process.is_some() || s.root.is_some() {
        // A Linux container without a `linux` object is allowed (runc treats it as empty).
    }
    Ok(())
}

fn validate_process(
    cfg: &Config<'_>,
    p: &super::Process<'_>,
    warn: &mut dyn FnMut(fmt::Arguments<'_>),
) -> Result<(), Error> {
    if !p.cwd.is_empty() && !p.cwd.starts_with('/') {
        return Err(at(
            format_args!("process.cwd"),
            format_args!("{:?} must be an absolute path", Bounded(&p.cwd, 64)),
        ));
    }
    for (i, e) in cfg.strs(p.env).iter().enumerate() {
        if !e.contains('=') || e.starts_with('=') {
            return Err(at(
                format_args!("process.env[{i}]"),
                format_args!("{:?} is not of the form KEY=value", Bounded(e, 64)),
            ));
        }
    }
    if let Some(c) = &p.capabilities {
        for (set, list) in [
            ("bounding", c.bounding),
            ("effective", c.effective),
            ("inheritable", c.inheritable),
            ("permitted", c.permitted),
            ("ambient", c.ambient),
        ] {
            for (i, name) in cfg.opt_strs(list).iter().enumerate() {
                if crate::security::caps::by_name(name).is_none() {
                    warn(format_args!(
                        "process.capabilities.{set}[{i}]: unknown capability {:?}, ignored",
                        Bounded(name, 64)
                    ));
                }
            }
        }
    }
    let rlimits = cfg.items(p.rlimits);
    for (i, r) in rlimits.iter().enumerate() {
        one_of(r.kind, RLIMITS, format_args!("process.rlimits[{i}].type"))?;
        if r.soft > r.hard {
            return Err(at(
                format_args!("process.rlimits[{i}]"),
                format_args!("soft limit {} is above the hard limit {}", r.soft, r.hard),
            ));
        }
        if rlimits[..i].iter().any(|o| o.kind == r.kind) {
            return Err(at(
                format_args!("process.rlimits[{i}].type"),
                format_args!("{} is given twice", r.kind),
            ));
        }
    }
    if let Some(io) = &p.io_priority {
        one_of(io.class, IOPRIO_CLASSES, format_args!("process.ioPriority.class"))?;
        if !(0..=7).contains(&io.priority) {
            return Err(at(
                format_args!("process.ioPriority.priority"),
                format_args!("{} is out of range (0 to 7)", io.priority),
            ));
        }
    }
    if let Some(sc) = &p.scheduler {
        one_of(sc.policy, SCHED_POLICIES, format_args!("process.scheduler.policy"))?;
        if let Some(n) = sc.nice {
            if !(-20..=19).contains(&n) {
                return Err(at(
                    format_args!("process.scheduler.nice"),
                    format_args!("{n} is out of range (-20 to 19)"),
                ));
            }
        }
        for (i, f) in cfg.strs(sc.flags).iter().enumerate() {
            one_of(*f, SCHED_FLAGS, format_args!("process.scheduler.flags[{i}]"))?;
        }
        validate_scheduler(sc)?;
    }
    if let Some(o) = p.oom_score_adj {
        if !(-1000..=1000).contains(&o) {
            return Err(at(
                format_args!("process.oomScoreAdj"),
                format_args!("{o} is out of range (-1000 to 1000)"),
            ));
        }
    }
    if let Some(u) = p.user.umask {
        if u > 0o777 {
            return Err(at(
                format_args!("process.user.umask"),
                format_args!("{u:#o} is not a file mode mask (0 to 0777)"),
            ));
        }
    }
    Ok(())
}

fn validate_linux(cfg: &Config<'_>, l: &super::Linux<'_>) -> Result<(), Error> {
    let namespaces = cfg.items(l.namespaces);
    for (i, ns) in namespaces.iter().enumerate() {
        one_of(
            ns.kind,
            &super::namespaces::NAMES,
            format_args!("linux.namespaces[{i}].type"),
        )?;
        if namespaces[..i].iter().any(|o| o.kind == ns.kind) {
            return Err(at(
                format_args!("linux.namespaces[{i}].type"),
                format_args!("namespace {:?} is given twice", ns.kind.0),
            ));
        }
        if let Some(p) = ns.path {
            if !p.starts_with('/') {
                return Err(at(
                    format_args!("linux.namespaces[{i}].path"),
                    format_args!("{:?} must be an absolute path", Bounded(&p, 64)),
                ));
            }
        }
    }
    let has_ns = |k: &str| namespaces.iter().any(|n| n.kind.0 == k);
    if (!l.uid_mappings.is_empty() || !l.gid_mappings.is_empty()) && !has_ns("user") {
        return Err(at(
            format_args!("linux.uidMappings"),
            format_args!("mappings are given but linux.namespaces has no \"user\" namespace"),
        ));
    }
    for (i, (k, _)) in l.time_offsets.entries.iter().enumerate() {
        one_of(*k, TIME_CLOCKS, format_args!("linux.timeOffsets (key {i})"))?;
    }
    for (i, d) in cfg.items(l.devices).iter().enumerate() {
        one_of(d.kind, DEVICE_TYPES, format_args!("linux.devices[{i}].type"))?;
        if !d.path.starts_with('/') {
            return Err(at(
                format_args!("linux.devices[{i}].path"),
                format_args!("{:?} must be an absolute path", Bounded(&d.path, 64)),
            ));
        }
        if d.kind.0 != "p" && (d.major < 0 || d.minor < 0 || d.major > 0xfff || d.minor > 0xfffff) {
            return Err(at(
                format_args!("linux.devices[{i}]"),
                format_args!("major {} / minor {} out of range", d.major, d.minor),
            ));
        }
        if let Some(m) = d.file_mode {
            // podman includes the file-type bits (0o20644 for a character device): allowed,
            // as runc does; only the permission bits are used.
            if m > 0o177777 {
                return Err(at(
                    format_args!("linux.devices[{i}].fileMode"),
                    format_args!("{m:#o} is not a file mode"),
                ));
            }
        }
    }
    if let Some(p) = l.rootfs_propagation {
        one_of(p, PROPAGATIONS, format_args!("linux.rootfsPropagation"))?;
    }
    if let Some(sc) = &l.seccomp {
        one_of(
            sc.default_action,
            SECCOMP_ACTIONS,
            format_args!("linux.seccomp.defaultAction"),
        )?;
        for (i, a) in cfg.strs(sc.architectures).iter().enumerate() {
            one_of(*a, SECCOMP_ARCHES, format_args!("linux.seccomp.architectures[{i}]"))?;
        }
        for (i, f) in cfg.strs(sc.flags).iter().enumerate() {
            one_of(*f, SECCOMP_FLAGS, format_args!("linux.seccomp.flags[{i}]"))?;
        }
        for (i, r) in cfg.items(sc.syscalls).iter().enumerate() {
            one_of(
                r.action,
                SECCOMP_ACTIONS,
                format_args!("linux.seccomp.syscalls[{i}].action"),
            )?;
            if r.names.is_empty() {
                return Err(at(
                    format_args!("linux.seccomp.syscalls[{i}].names"),
                    format_args!("must name at least one system call"),
                ));
            }
            for (j, n) in cfg.strs(r.names).iter().enumerate() {
                if n.is_empty() || n.len() > 64 || !n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                    return Err(at(
                        format_args!("linux.seccomp.syscalls[{i}].names[{j}]"),
                        format_args!("{:?} is not a system call name", Bounded(n, 64)),
                    ));
                }
            }
            for (j, a) in cfg.args(r.args).iter().enumerate() {
                one_of(
                    a.op,
                    SECCOMP_OPS,
                    format_args!("linux.seccomp.syscalls[{i}].args[{j}].op"),
                )?;
                if a.index > 5 {
                    return Err(at(
                        format_args!("linux.seccomp.syscalls[{i}].args[{j}].index"),
                        format_args!("{} is out of range (system calls have arguments 0 to 5)", a.index),
                    ));
                }
            }
        }
    }
    if let Some(p) = &l.personality {
        one_of(p.domain, PERSONALITY_DOMAINS, format_args!("linux.personality.domain"))?;
        if !p.flags.is_empty() {
            return Err(at(
                format_args!("linux.personality.flags"),
                format_args!("no personality flags are defined by the spec; remove them"),
            ));
        }
    }
    for (k, _) in cfg.map(l.sysctl) {
        let path = format_args!("linux.sysctl.{}", Bounded(k, 64));
        if k.is_empty() || k.contains("..") || k.starts_with('/') || k.starts_with('.') {
            return Err(at(path, format_args!("{:?} is not a sysctl name", Bounded(k, 64))));
        }
        // Only sysctls of a namespace the container has of its own (runc's rules): anything
        // else would change the host.
        let key = k.replace('/', ".");
        // The name the hostname (domainname) field sets too: which one wins is undefined.
        for (sysctl, field, v) in [
            ("kernel.hostname", "hostname", cfg.spec.hostname),
            ("kernel.domainname", "domainname", cfg.spec.domainname),
        ] {
            if key == sysctl && v.is_some_and(|v| !v.0.is_empty()) {
                return Err(at(
                    path,
                    format_args!("conflicts with the config's {field}: set one of them, not both"),
                ));
            }
        }
        let ns = sysctl_namespace(&key);
        match ns {
            Some(kind) if has_ns(kind) => {}
            Some(kind) => {
                return Err(at(path, format_args!("needs the container's own {kind} namespace (add it to linux.namespaces)")))
            }
            None => {
                return Err(at(
                    path,
                    format_args!(
                        "is not in a kernel namespace: setting it would change the host (allowed: kernel.msg*, kernel.sem, kernel.shm*, fs.mqueue.*, net.*, kernel.domainname)"
                    ),
                ))
            }
        }
    }
    Ok(())
}
