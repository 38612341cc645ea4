//! linux.resources applied to a container's cgroup, on v1 (and hybrid) and on v2.
//!
//! Every field of the spec maps to a cgroup file here. A value the host cannot apply (the
//! file is missing: the controller is not enabled, the kernel is too old or too new, the
//! layout has no equivalent) is an error naming the field, never a silent skip. Units
//! follow runc: cpu shares to cpu.weight `1 + (shares - 2) * 9999 / 262142`, blkio weight to
//! io.weight `1 + (weight - 10) * 9999 / 990`, v2 memory.swap.max = swap - limit.

use crate::prelude::*;

use super::{Cgroup, Mode};
use crate::error::{Error, Result, Step};
use crate::spec::{Config, Resources};
use crate::sys::fs;

/// A resource-field error: the JSON path, the problem.
fn field_err(path: &str, why: core::fmt::Arguments<'_>) -> Error {
    crate::spec::validate::at(format_args!("linux.resources.{path}"), why)
}

/// The v1 controllers (besides freezer) the config's resources need; on v2 the same names
/// decide which controllers are enabled for the container.
pub fn controllers_needed(cfg: &Config<'_>) -> Vec<&'static str> {
    match cfg.spec.linux.as_ref().and_then(|l| l.resources.as_ref()) {
        Some(r) => controllers_for(r),
        None => Vec::new(),
    }
}

/// The controllers a set of resources needs.
pub fn controllers_for(r: &Resources<'_>) -> Vec<&'static str> {
    let mut v = Vec::new();
    if !r.devices.is_empty() {
        v.push("devices");
    }
    if r.memory.is_some() {
        v.push("memory");
    }
    if let Some(c) = &r.cpu {
        if c.shares.is_some()
            || c.quota.is_some()
            || c.period.is_some()
            || c.burst.is_some()
            || c.realtime_runtime.is_some()
            || c.realtime_period.is_some()
            || c.idle.is_some()
        {
            v.push("cpu");
        }
        if c.cpus.is_some() || c.mems.is_some() {
            v.push("cpuset");
        }
    }
    if r.pids.is_some() {
        v.push("pids");
    }
    if r.block_io.is_some() {
        v.push("blkio");
    }
    if !r.hugepage_limits.is_empty() {
        v.push("hugetlb");
    }
    if let Some(n) = &r.network {
        if n.class_id.is_some() {
            v.push("net_cls");
        }
        if !n.priorities.is_empty() {
            v.push("net_prio");
        }
    }
    if !r.rdma.entries.is_empty() {
        v.push("rdma");
    }
    v
}

/// The v2 controller for a v1 controller name (None: no controller is needed or exists).
pub fn v2_name(v1: &str) -> Option<&'static str> {
    Some(match v1 {
        "memory" => "memory",
        "cpu" => "cpu",
        "cpuset" => "cpuset",
        "pids" => "pids",
        "blkio" => "io",
        "hugetlb" => "hugetlb",
        "rdma" => "rdma",
        "misc" => "misc",
        _ => return None,
    })
}

/// Refuse, before anything is made, what no cgroup layout of this host can apply.
pub fn check_supported(cfg: &Config<'_>, r: &Resources<'_>) -> Result<()> {
    let mode = super::mode();
    let v2 = mode == Some(Mode::V2);
    if let Some(m) = &r.memory {
        // memory.kernel and kernelTCP: ignored with a warning by create (as runc: the kernel
        // dropped kernel memory limits).
        if v2 && m.swappiness.is_some() {
            return Err(field_err(
                "memory.swappiness",
                format_args!("cgroup v2 has no per-cgroup swappiness: remove the field"),
            ));
        }
        if v2 && m.disable_oom_killer == Some(true) {
            return Err(field_err(
                "memory.disableOOMKiller",
                format_args!("cgroup v2 cannot disable the OOM killer: remove the field"),
            ));
        }
    }
    if let Some(c) = &r.cpu {
        if v2 && (c.realtime_runtime.is_some() || c.realtime_period.is_some()) {
            return Err(field_err(
                "cpu.realtimeRuntime",
                format_args!("cgroup v2 has no realtime CPU bandwidth: remove realtimeRuntime and realtimePeriod"),
            ));
        }
    }
    if let Some(b) = &r.block_io {
        if v2 && b.leaf_weight.is_some() {
            return Err(field_err(
                "blockIO.leafWeight",
                format_args!("cgroup v2 has no leaf weight: remove the field"),
            ));
        }
        if cfg.items(b.weight_device).iter().any(|d| d.leaf_weight.is_some()) && v2 {
            return Err(field_err(
                "blockIO.weightDevice",
                format_args!("cgroup v2 has no leaf weight: remove leafWeight"),
            ));
        }
    }
    if let Some(n) = &r.network {
        if v2 && (n.class_id.is_some() || !n.priorities.is_empty()) {
            return Err(field_err(
                "network",
                format_args!(
                    "cgroup v2 has no net_cls/net_prio controllers: use eBPF-based tools, or remove the field"
                ),
            ));
        }
    }
    if !r.unified.is_empty() && mode == Some(Mode::V1) {
        return Err(field_err(
            "unified",
            format_args!("this host has no cgroup v2 hierarchy (it is cgroup v1)"),
        ));
    }
    for (k, _) in cfg.map(r.unified) {
        if k.is_empty() || k.contains('/') || k.starts_with('.') || !k.contains('.') {
            return Err(field_err(
                "unified",
                format_args!("{k:?} is not a cgroup v2 interface file name"),
            ));
        }
        if k.starts_with("cgroup.") && !matches!(k.0, "cgroup.max.depth" | "cgroup.max.descendants") {
            return Err(field_err(
                "unified",
                format_args!("{k:?} may not be set through unified"),
            ));
        }
    }
    Ok(())
}

fn write(dir: &str, file: &str, value: &str, field: &str) -> Result<()> {
    let p = format!("{dir}/{file}");
    match fs::write_at(fs::AT_FDCWD, &p, value.as_bytes()) {
        Ok(()) => Ok(()),
        Err(libc::ENOENT) | Err(libc::EACCES) if !fs::exists_at(fs::AT_FDCWD, &p) => Err(field_err(
            field,
            format_args!(
                "this host cannot apply it: {p} does not exist (controller not enabled, or not in this kernel)"
            ),
        )),
        Err(e) => {
            Err(Error::sys("write cgroup file", e).ctx(format_args!("{p} = {value:?} (linux.resources.{field})")))
        }
    }
}

fn read(dir: &str, file: &str) -> Option<String> {
    let mut buf = [0u8; 4096];
    let n = fs::read_path(&format!("{dir}/{file}"), &mut buf).ok()?;
    Some(String::from_utf8_lossy(&buf[..n]).trim().to_string())
}

fn dir<'c>(cg: &'c Cgroup, ctrl: &str, field: &str) -> Result<&'c str> {
    cg.dir_of(ctrl).ok_or_else(|| {
        field_err(
            field,
            format_args!("the {ctrl} cgroup controller is not available on this host"),
        )
    })
}

/// runc's cpu shares to cpu.weight.
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    1 + (shares.saturating_sub(2)) * 9999 / 262142
}

/// runc's blkio weight to io.weight.
pub fn blkio_to_io_weight(w: u16) -> u64 {
    if w == 0 {
        return 0;
    }
    1 + (w.saturating_sub(10) as u64) * 9999 / 990
}

/// runc's v2 swap value: swap is memory+swap in the spec, swap alone in memory.swap.max.
pub fn swap_v2(swap: i64, limit: Option<i64>) -> Result<Option<String>> {
    if swap == -1 {
        return Ok(Some("max".into()));
    }
    if swap == 0 {
        return Ok(None);
    }
    match limit {
        None | Some(0) | Some(-1) => Err(field_err(
            "memory.swap",
            format_args!("a swap limit needs a memory limit (swap is memory plus swap)"),
        )),
        Some(l) if swap < l => Err(field_err(
            "memory.swap",
            format_args!("{swap} is below memory.limit {l}: swap counts memory plus swap"),
        )),
        Some(l) => Ok(Some((swap - l).to_string())),
    }
}

/// The controllers, in the order `apply` writes them: each a function of the container's
/// cgroup, the config (its lists' pools) and linux.resources. A controller the resources do not
/// mention writes nothing.
const CONTROLLERS: &[(&str, Apply)] = &[
    ("memory", memory),
    ("cpu", cpu),
    ("pids", pids),
    ("blkio", block_io),
    ("hugetlb", hugetlb),
    ("network", network),
    ("rdma", rdma),
    ("unified", unified),
    ("devices", devices),
];

type Apply = fn(&Cgroup, &Config<'_>, &Resources<'_>) -> Result<()>;

/// Write linux.resources into the container's cgroup, controller by controller.
pub fn apply(cg: &Cgroup, cfg: &Config<'_>, r: &Resources<'_>) -> Result<()> {
    for (_, write_controller) in CONTROLLERS {
        write_controller(cg, cfg, r)?;
    }
    Ok(())
}

/// memory: limit, swap, reservation (v1: also swappiness, the OOM killer, the hierarchy)
fn memory(cg: &Cgroup, _cfg: &Config<'_>, r: &Resources<'_>) -> Result<()> {
    let v2 = cg.mode == Mode::V2;
    if let Some(m) = &r.memory {
        let d = dir(cg, "memory", "memory")?;
        let lim = |v: i64| {
            if v < 0 {
                if v2 {
                    "max".to_string()
                } else {
                    "-1".to_string()
                }
            } else {
                v.to_string()
            }
        };
        if m.check_before_update == Some(true) {
            if let Some(l) = m.limit.filter(|l| *l > 0) {
                let usage = read(d, if v2 { "memory.current" } else { "memory.usage_in_bytes" })
                    .and_then(|u| u.parse::<i64>().ok());
                if let Some(u) = usage.filter(|u| *u > l) {
                    return Err(field_err(
                        "memory.limit",
                        format_args!("{l} is below the current usage {u} (checkBeforeUpdate)"),
                    ));
                }
            }
        }
        if v2 {
            if let Some(l) = m.limit {
                write(d, "memory.max", &lim(l), "memory.limit")?;
            }
            if let Some(s) = m.swap {
                if let Some(v) = swap_v2(s, m.limit)? {
                    write(d, "memory.swap.max", &v, "memory.swap")?;
                }
            }
            if let Some(res) = m.reservation {
                write(d, "memory.low", &lim(res), "memory.reservation")?;
            }
        } else {
            // memory+swap must stay >= memory: when raising, set memsw first.
            let cur_memsw = read(d, "memory.memsw.limit_in_bytes").and_then(|v| v.parse::<i64>().ok());
            let raise_first = matches!((m.limit, cur_memsw), (Some(l), Some(c)) if l < 0 || l > c);
            if let (true, Some(s)) = (raise_first, m.swap) {
                write(d, "memory.memsw.limit_in_bytes", &lim(s), "memory.swap")?;
            }
            if let Some(l) = m.limit {
                write(d, "memory.limit_in_bytes", &lim(l), "memory.limit")?;
            }
            if let (false, Some(s)) = (raise_first, m.swap) {
                write(d, "memory.memsw.limit_in_bytes", &lim(s), "memory.swap")?;
            }
            if let Some(res) = m.reservation {
                write(d, "memory.soft_limit_in_bytes", &lim(res), "memory.reservation")?;
            }
            if let Some(s) = m.swappiness {
                if s > 100 {
                    return Err(field_err(
                        "memory.swappiness",
                        format_args!("{s} is out of range (0 to 100)"),
                    ));
                }
                write(d, "memory.swappiness", &s.to_string(), "memory.swappiness")?;
            }
            if let Some(off) = m.disable_oom_killer {
                write(
                    d,
                    "memory.oom_control",
                    if off { "1" } else { "0" },
                    "memory.disableOOMKiller",
                )?;
            }
            if m.use_hierarchy == Some(false) {
                if read(d, "memory.use_hierarchy").as_deref() == Some("1") {
                    return Err(field_err(
                        "memory.useHierarchy",
                        format_args!("this kernel always uses the hierarchy"),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// A v1 cpu cgroup may have realtime runtime only out of its parent's, and a new one (mote's
/// parent `/mote` too) starts with none: the container's cpu.realtimeRuntime would fail with
/// EINVAL. Each ancestor below the hierarchy's root that has none gets its parent's, top down
/// (as crun does); one that has some keeps it.
fn give_parents_rt_runtime(container_dir: &str, path: &str) -> Result<()> {
    let Some(root) = container_dir.strip_suffix(path) else {
        return Ok(());
    };
    let mut parent = root.to_string();
    let comps: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
    for comp in comps.iter().take(comps.len().saturating_sub(1)) {
        let here = format!("{parent}/{comp}");
        if read(&here, "cpu.rt_runtime_us").is_some_and(|v| v == "0") {
            if let Some(theirs) = read(&parent, "cpu.rt_runtime_us") {
                write(&here, "cpu.rt_runtime_us", &theirs, "cpu.realtimeRuntime")?;
            }
        }
        parent = here;
    }
    Ok(())
}

/// cpu and cpuset: shares/weight, quota and period, burst, realtime (v1), idle, cpus and mems
fn cpu(cg: &Cgroup, _cfg: &Config<'_>, r: &Resources<'_>) -> Result<()> {
    let v2 = cg.mode == Mode::V2;
    if let Some(c) = &r.cpu {
        if let Some(s) = c.shares {
            let d = dir(cg, "cpu", "cpu.shares")?;
            if v2 {
                write(d, "cpu.weight", &shares_to_weight(s).to_string(), "cpu.shares")?;
            } else {
                write(d, "cpu.shares", &s.to_string(), "cpu.shares")?;
            }
        }
        if c.quota.is_some() || c.period.is_some() {
            let d = dir(cg, "cpu", "cpu.quota")?;
            if v2 {
                let q = match c.quota {
                    Some(q) if q > 0 => q.to_string(),
                    _ => "max".to_string(),
                };
                let p = c.period.filter(|p| *p > 0).unwrap_or(100_000);
                write(d, "cpu.max", &format!("{q} {p}"), "cpu.quota")?;
            } else {
                if let Some(p) = c.period.filter(|p| *p > 0) {
                    write(d, "cpu.cfs_period_us", &p.to_string(), "cpu.period")?;
                }
                if let Some(q) = c.quota {
                    write(
                        d,
                        "cpu.cfs_quota_us",
                        &(if q > 0 { q } else { -1 }).to_string(),
                        "cpu.quota",
                    )?;
                }
            }
        }
        if let Some(b) = c.burst {
            let d = dir(cg, "cpu", "cpu.burst")?;
            write(
                d,
                if v2 { "cpu.max.burst" } else { "cpu.cfs_burst_us" },
                &b.to_string(),
                "cpu.burst",
            )?;
        }
        if !v2 {
            if let Some(p) = c.realtime_period {
                write(
                    dir(cg, "cpu", "cpu.realtimePeriod")?,
                    "cpu.rt_period_us",
                    &p.to_string(),
                    "cpu.realtimePeriod",
                )?;
            }
            if let Some(rt) = c.realtime_runtime {
                if rt > 0 {
                    give_parents_rt_runtime(dir(cg, "cpu", "cpu.realtimeRuntime")?, &cg.path)?;
                }
                write(
                    dir(cg, "cpu", "cpu.realtimeRuntime")?,
                    "cpu.rt_runtime_us",
                    &rt.to_string(),
                    "cpu.realtimeRuntime",
                )?;
            }
        }
        if let Some(i) = c.idle {
            write(dir(cg, "cpu", "cpu.idle")?, "cpu.idle", &i.to_string(), "cpu.idle")?;
        }
        if let Some(cpus) = c.cpus.filter(|s| !s.is_empty()) {
            write(dir(cg, "cpuset", "cpu.cpus")?, "cpuset.cpus", &cpus, "cpu.cpus")?;
        }
        if let Some(mems) = c.mems.filter(|s| !s.is_empty()) {
            write(dir(cg, "cpuset", "cpu.mems")?, "cpuset.mems", &mems, "cpu.mems")?;
        }
    }
    Ok(())
}

/// pids: the process limit
fn pids(cg: &Cgroup, _cfg: &Config<'_>, r: &Resources<'_>) -> Result<()> {
    if let Some(p) = &r.pids {
        let v = if p.limit <= 0 {
            "max".to_string()
        } else {
            p.limit.to_string()
        };
        write(dir(cg, "pids", "pids.limit")?, "pids.max", &v, "pids.limit")?;
    }
    Ok(())
}

/// blkio / io: weights and throttles
fn block_io(cg: &Cgroup, cfg: &Config<'_>, r: &Resources<'_>) -> Result<()> {
    let v2 = cg.mode == Mode::V2;
    if let Some(b) = &r.block_io {
        let d = dir(cg, "blkio", "blockIO")?;
        if let Some(w) = b.weight {
            if !(10..=1000).contains(&w) {
                return Err(field_err(
                    "blockIO.weight",
                    format_args!("{w} is out of range (10 to 1000)"),
                ));
            }
            if v2 {
                let bfq = format!("{d}/io.bfq.weight");
                if fs::exists_at(fs::AT_FDCWD, &bfq) {
                    write(d, "io.bfq.weight", &w.to_string(), "blockIO.weight")?;
                } else {
                    write(
                        d,
                        "io.weight",
                        &format!("default {}", blkio_to_io_weight(w)),
                        "blockIO.weight",
                    )?;
                }
            } else {
                let f = if fs::exists_at(fs::AT_FDCWD, &format!("{d}/blkio.weight")) {
                    "blkio.weight"
                } else {
                    "blkio.bfq.weight"
                };
                write(d, f, &w.to_string(), "blockIO.weight")?;
            }
        }
        if let Some(w) = b.leaf_weight {
            write(d, "blkio.leaf_weight", &w.to_string(), "blockIO.leafWeight")?;
        }
        for wd in cfg.items(b.weight_device) {
            if let Some(w) = wd.weight {
                let (f, v) = if v2 {
                    (
                        "io.weight",
                        format!("{}:{} {}", wd.major, wd.minor, blkio_to_io_weight(w)),
                    )
                } else {
                    ("blkio.weight_device", format!("{}:{} {}", wd.major, wd.minor, w))
                };
                write(d, f, &v, "blockIO.weightDevice")?;
            }
            if let Some(w) = wd.leaf_weight {
                write(
                    d,
                    "blkio.leaf_weight_device",
                    &format!("{}:{} {}", wd.major, wd.minor, w),
                    "blockIO.weightDevice",
                )?;
            }
        }
        for (list, v1file, v2key, field) in [
            (
                b.throttle_read_bps,
                "blkio.throttle.read_bps_device",
                "rbps",
                "blockIO.throttleReadBpsDevice",
            ),
            (
                b.throttle_write_bps,
                "blkio.throttle.write_bps_device",
                "wbps",
                "blockIO.throttleWriteBpsDevice",
            ),
            (
                b.throttle_read_iops,
                "blkio.throttle.read_iops_device",
                "riops",
                "blockIO.throttleReadIOPSDevice",
            ),
            (
                b.throttle_write_iops,
                "blkio.throttle.write_iops_device",
                "wiops",
                "blockIO.throttleWriteIOPSDevice",
            ),
        ] {
            for t in cfg.items(list) {
                if v2 {
                    let rate = if t.rate == 0 {
                        "max".to_string()
                    } else {
                        t.rate.to_string()
                    };
                    write(d, "io.max", &format!("{}:{} {v2key}={rate}", t.major, t.minor), field)?;
                } else {
                    write(d, v1file, &format!("{}:{} {}", t.major, t.minor, t.rate), field)?;
                }
            }
        }
    }
    Ok(())
}

/// hugetlb: a limit per page size
fn hugetlb(cg: &Cgroup, cfg: &Config<'_>, r: &Resources<'_>) -> Result<()> {
    let v2 = cg.mode == Mode::V2;
    for h in cfg.items(r.hugepage_limits) {
        if h.page_size.is_empty() || !h.page_size.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(field_err(
                "hugepageLimits",
                format_args!("{:?} is not a page size such as 2MB", h.page_size.0),
            ));
        }
        let d = dir(cg, "hugetlb", "hugepageLimits")?;
        let f = if v2 {
            format!("hugetlb.{}.max", h.page_size)
        } else {
            format!("hugetlb.{}.limit_in_bytes", h.page_size)
        };
        write(d, &f, &h.limit.to_string(), "hugepageLimits")?;
    }
    Ok(())
}

/// net_cls and net_prio (v1)
fn network(cg: &Cgroup, cfg: &Config<'_>, r: &Resources<'_>) -> Result<()> {
    if let Some(n) = &r.network {
        if let Some(id) = n.class_id {
            write(
                dir(cg, "net_cls", "network.classID")?,
                "net_cls.classid",
                &id.to_string(),
                "network.classID",
            )?;
        }
        for p in cfg.items(n.priorities) {
            write(
                dir(cg, "net_prio", "network.priorities")?,
                "net_prio.ifpriomap",
                &format!("{} {}", p.name, p.priority),
                "network.priorities",
            )?;
        }
    }
    Ok(())
}

/// rdma: HCA handles and objects
fn rdma(cg: &Cgroup, _cfg: &Config<'_>, r: &Resources<'_>) -> Result<()> {
    for (dev, l) in &r.rdma.entries {
        let mut v = dev.to_string();
        if let Some(h) = l.hca_handles {
            v.push_str(&format!(" hca_handle={h}"));
        }
        if let Some(o) = l.hca_objects {
            v.push_str(&format!(" hca_object={o}"));
        }
        write(dir(cg, "rdma", "rdma")?, "rdma.max", &v, "rdma")?;
    }
    Ok(())
}

/// linux.resources.unified: cgroup v2 files written as given
fn unified(cg: &Cgroup, cfg: &Config<'_>, r: &Resources<'_>) -> Result<()> {
    if !r.unified.is_empty() {
        let d = match cg.mode {
            Mode::V2 => cg.dirs.first().map(|s| s.as_str()),
            _ => cg
                .dirs
                .iter()
                .find(|d| d.starts_with("/sys/fs/cgroup/unified/"))
                .map(|s| s.as_str()),
        }
        .ok_or_else(|| field_err("unified", format_args!("the container has no cgroup v2 directory")))?;
        for (k, v) in cfg.map(r.unified) {
            write(d, k, v, "unified")?;
        }
    }
    Ok(())
}

/// devices: the v1 controller's allow/deny lists, or on v2 an eBPF program mote generates
fn devices(cg: &Cgroup, cfg: &Config<'_>, r: &Resources<'_>) -> Result<()> {
    if !r.devices.is_empty() {
        let rules = super::devices::rules(cfg, r)?;
        match cg.mode {
            Mode::V2 => {
                let d = cg.dirs.first().map(|s| s.as_str()).unwrap_or("");
                super::devices::attach(d, &super::devices::Emulator::from_rules(&rules))?;
            }
            _ => {
                let d = dir(cg, "devices", "devices")?;
                for rule in &rules {
                    write(
                        d,
                        if rule.allow { "devices.allow" } else { "devices.deny" },
                        &rule.v1_text(),
                        "devices",
                    )?;
                }
            }
        }
    }
    Ok(())
}

/// Freeze or thaw the cgroup (pause/resume), waiting until the kernel reports it done.
pub fn freeze(cg: &Cgroup, on: bool) -> Result<()> {
    match cg.mode {
        Mode::V2 => {
            let d = cg.dirs.first().map(|s| s.as_str()).unwrap_or("");
            write(d, "cgroup.freeze", if on { "1" } else { "0" }, "freeze")?;
            for _ in 0..1000 {
                let ev = read(d, "cgroup.events").unwrap_or_default();
                if ev.lines().any(|l| l == if on { "frozen 1" } else { "frozen 0" }) {
                    return Ok(());
                }
                crate::sys::env::sleep(core::time::Duration::from_millis(1));
            }
            Err(Error::failed("freeze").ctx(format_args!("{d}: the cgroup did not reach the state")))
        }
        _ => {
            let d = cg
                .dir_of("freezer")
                .ok_or_else(|| Error::failed("freeze").ctx(format_args!("no freezer cgroup")))?;
            let want = if on { "FROZEN" } else { "THAWED" };
            let p = format!("{d}/freezer.state");
            fs::write_at(fs::AT_FDCWD, &p, want.as_bytes()).step_ctx("write", format_args!("{p}"))?;
            for _ in 0..1000 {
                if read(d, "freezer.state").as_deref() == Some(want) {
                    return Ok(());
                }
                crate::sys::env::sleep(core::time::Duration::from_millis(1));
            }
            Err(Error::failed("freeze").ctx(format_args!("{d}: freezer.state did not reach {want}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_match_runc() {
        assert_eq!(shares_to_weight(0), 0);
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(262144), 10000);
        assert_eq!(blkio_to_io_weight(10), 1);
        assert_eq!(blkio_to_io_weight(500), 4950);
        assert_eq!(blkio_to_io_weight(1000), 10000);
        assert_eq!(swap_v2(-1, Some(100)).unwrap().as_deref(), Some("max"));
        assert_eq!(swap_v2(300, Some(100)).unwrap().as_deref(), Some("200"));
        assert_eq!(swap_v2(0, Some(100)).unwrap(), None);
        assert!(swap_v2(50, Some(100)).is_err());
        assert!(swap_v2(50, None).is_err());
    }
}
