//! linux.resources applied to a container's cgroup.

use super::{Cgroup, Mode};
use crate::error::{Error, Result, Step};
use crate::spec::{Config, DeviceRule, Resources};
use crate::sys::fs;

/// Device rules every container gets after its own (as runc and crun add them): mknod of any
/// device, and the default devices plus /dev/pts and /dev/ptmx.
const DEFAULT_ALLOWED: &[&str] = &[
    "c *:* m",
    "b *:* m",
    "c 1:3 rwm",
    "c 1:5 rwm",
    "c 1:7 rwm",
    "c 1:8 rwm",
    "c 1:9 rwm",
    "c 5:0 rwm",
    "c 5:1 rwm",
    "c 5:2 rwm",
    "c 136:* rwm",
];

/// Refuse the resources mote cannot apply on this host yet.
pub fn check_supported(_cfg: &Config<'_>, r: &Resources<'_>) -> Result<()> {
    let ni = |what: &str| {
        Err(Error::not_implemented("create:").ctx(format_args!("linux.resources.{what} is not supported yet")))
    };
    if r.cpu.is_some() {
        return ni("cpu");
    }
    if r.block_io.is_some() {
        return ni("blockIO");
    }
    if !r.hugepage_limits.is_empty() {
        return ni("hugepageLimits");
    }
    if r.network.is_some() {
        return ni("network");
    }
    if !r.rdma.entries.is_empty() {
        return ni("rdma");
    }
    if !r.unified.is_empty() {
        return ni("unified");
    }
    if let Some(m) = &r.memory {
        if m.reservation.is_some()
            || m.swap.is_some()
            || m.kernel.is_some()
            || m.kernel_tcp.is_some()
            || m.swappiness.is_some()
            || m.disable_oom_killer.is_some()
        {
            return ni("memory (only memory.limit is supported)");
        }
    }
    if !r.devices.is_empty() && super::mode() == Some(Mode::V2) {
        return ni("devices on a cgroup v2 host (the eBPF device filter)");
    }
    Ok(())
}

/// The v1 controllers (besides freezer) the config's resources need.
pub fn controllers_needed(cfg: &Config<'_>) -> Vec<&'static str> {
    let mut v = Vec::new();
    let Some(r) = cfg.spec.linux.as_ref().and_then(|l| l.resources.as_ref()) else {
        return v;
    };
    if !r.devices.is_empty() {
        v.push("devices");
    }
    if r.memory.as_ref().is_some_and(|m| m.limit.is_some()) {
        v.push("memory");
    }
    if r.pids.is_some() {
        v.push("pids");
    }
    v
}

fn write(dir: &str, file: &str, value: &str) -> Result<()> {
    let p = format!("{dir}/{file}");
    fs::write_at(fs::AT_FDCWD, &p, value.as_bytes()).step_ctx("write cgroup file", format_args!("{p} = {value:?}"))
}

fn rule_text(r: &DeviceRule<'_>) -> String {
    let t = r.kind.map(|k| k.0).unwrap_or("a");
    if t == "a" {
        return "a".into();
    }
    let num = |n: Option<i64>| n.filter(|v| *v >= 0).map_or("*".to_string(), |v| v.to_string());
    format!(
        "{t} {}:{} {}",
        num(r.major),
        num(r.minor),
        r.access.map(|a| a.0).unwrap_or("rwm")
    )
}

/// Apply resources to a new cgroup.
pub fn apply(cg: &Cgroup, cfg: &Config<'_>, r: &Resources<'_>) -> Result<()> {
    if let Some(m) = r.memory.as_ref().and_then(|m| m.limit) {
        let v = if m < 0 { "-1".to_string() } else { m.to_string() };
        match cg.mode {
            Mode::V2 => write(
                cg.dir_of("memory").unwrap_or(""),
                "memory.max",
                if m < 0 { "max" } else { &v },
            )?,
            _ => write(cg.dir_of("memory").unwrap_or(""), "memory.limit_in_bytes", &v)?,
        }
    }
    if let Some(p) = &r.pids {
        let v = if p.limit <= 0 {
            "max".to_string()
        } else {
            p.limit.to_string()
        };
        write(cg.dir_of("pids").unwrap_or(""), "pids.max", &v)?;
    }
    if !r.devices.is_empty() {
        let dir = cg.dir_of("devices").unwrap_or("");
        for d in cfg.items(r.devices) {
            let f = if d.allow { "devices.allow" } else { "devices.deny" };
            write(dir, f, &rule_text(d))?;
        }
        for d in DEFAULT_ALLOWED {
            write(dir, "devices.allow", d)?;
        }
        if let Some(l) = cfg.spec.linux.as_ref() {
            for d in cfg.items(l.devices) {
                let t = if d.kind.0 == "b" { "b" } else { "c" };
                if d.kind.0 == "p" {
                    continue;
                }
                write(dir, "devices.allow", &format!("{t} {}:{} rwm", d.major, d.minor))?;
            }
        }
    }
    Ok(())
}

/// Freeze or thaw the cgroup (pause/resume).
pub fn freeze(cg: &Cgroup, on: bool) -> Result<()> {
    match cg.mode {
        Mode::V2 => write(
            cg.dirs.first().map(|s| s.as_str()).unwrap_or(""),
            "cgroup.freeze",
            if on { "1" } else { "0" },
        ),
        _ => {
            let dir = cg
                .dir_of("freezer")
                .ok_or_else(|| Error::failed("freeze").ctx(format_args!("no freezer cgroup")))?;
            write(dir, "freezer.state", if on { "FROZEN" } else { "THAWED" })
        }
    }
}
