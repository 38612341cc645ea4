//! `create`: set a container up from its bundle and leave its init waiting for `start`.
//!
//! The parent side of the create sequence (README "How create works"): validate, make the
//! state directory and the cgroup, fork the stages, answer their requests over the sync
//! socket, and write state.json. Everything made is recorded in [`Undo`], so a failure at any
//! step leaves nothing behind.

use crate::prelude::*;

use super::state::{self, StateRoot};
use super::{bundle_path, idmap, load_config, send_pidfd, write_pid_file};
use crate::cgroup::Cgroup;
use crate::error::{Error, Result, Step};
use crate::process::hooks;
use crate::process::{self, sync, sync::Tag, Launch};
use crate::spec::{self, Config};
use crate::sys::{self, fs, proc};
use rustix::fd::{AsRawFd, OwnedFd};

/// Where the cgroup record is written before it is renamed to state::CREATING_CGROUP.
const CREATING_TMP: &str = ".creating.cgroup.tmp";

/// Options of `create` (and `run`).
#[derive(Default, Clone, Copy)]
pub struct CreateOpts<'o> {
    pub id: &'o str,
    pub bundle: Option<&'o str>,
    pub pid_file: Option<&'o str>,
    pub console_socket: Option<&'o str>,
    /// Where to send a pidfd of the init once it exists (runc 1.2's --pidfd-socket).
    pub pidfd_socket: Option<&'o str>,
    pub no_pivot: bool,
    pub preserve_fds: u32,
    pub systemd_cgroup: bool,
    /// With process.terminal and no --console-socket, make a socket pair and keep our end in
    /// [`Created::console`] (`run` in the foreground relays the terminal).
    pub relay_terminal: bool,
    /// The process's open files: fd i of the process is `fds[i]` (with a terminal, only from 3
    /// up: the terminal is its stdio). Empty: the caller's own stdio, and `preserve_fds` more.
    /// How a supervisor gives a workload pipes for its logs and a readiness fd.
    pub fds: &'o [i32],
    /// KEY=VALUE entries set over process.env (an entry replaces the one with its KEY).
    pub env: &'o [&'o str],
    /// Host paths bind-mounted into the container after the config's mounts (source,
    /// destination).
    pub binds: &'o [(&'o str, &'o str)],
    /// The container's cgroup, over linux.cgroupsPath (the supervisor puts each workload under
    /// its own parent).
    pub cgroup_path: Option<&'o str>,
}

/// A created container.
pub struct Created {
    pub pid: i32,
    pub start_time: u64,
    pub cgroup: Option<Cgroup>,
    /// The state directory.
    pub dir: OwnedFd,
    /// Its config (for the poststart hooks of `run`).
    pub cfg: spec::ConfigDoc,
    /// Our end of the console pair ([`CreateOpts::relay_terminal`]).
    pub console: Option<OwnedFd>,
}

/// What `create` has made so far, undone in reverse on failure.
struct Undo<'r> {
    root: &'r StateRoot,
    id: &'r str,
    dir: bool,
    cgroup: Option<Cgroup>,
    pids: heapless::Vec<i32, 2>,
    armed: bool,
}

impl Drop for Undo<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        for &pid in self.pids.iter().rev() {
            let _ = proc::kill(pid, libc::SIGKILL);
            let _ = proc::waitpid(pid, 0);
        }
        if let Some(cg) = &self.cgroup {
            // Anything that slipped into the cgroup goes too.
            if let Ok(pids) = cg.procs() {
                for p in pids {
                    let _ = proc::kill(p, libc::SIGKILL);
                }
            }
            let _ = cg.destroy();
        }
        if self.dir {
            let _ = self.root.remove_container_dir(self.id);
        }
    }
}

/// Refuse what mote cannot do yet, before anything is made: never a container that silently
/// runs without something its config asks for.
pub fn check_supported(cfg: &Config<'_>, warn: &mut dyn FnMut(core::fmt::Arguments<'_>)) -> Result<()> {
    let ni = |what: &str| Err(Error::not_implemented("create:").ctx(format_args!("{what} is not supported yet")));
    let p = cfg.spec.process.as_ref();
    if let Some(pr) = p {
        // Applied by the init when the LSM is enabled (security::lsm); otherwise ignored as
        // runc does, with a warning.
        if let Some(a) = pr.apparmor_profile.filter(|a| !a.is_empty()) {
            if !crate::security::lsm::enabled("apparmor") {
                warn(format_args!(
                    "process.apparmorProfile {a:?} ignored: AppArmor is not enabled on this host (runc does the same)"
                ));
            }
        }
        if let Some(l) = pr.selinux_label.filter(|a| !a.is_empty()) {
            if !crate::security::lsm::enabled("selinux") {
                warn(format_args!(
                    "process.selinuxLabel {l:?} ignored: SELinux is not enabled on this host (runc does the same)"
                ));
            }
        }
        if pr.exec_cpu_affinity.is_some() {
            return ni("process.execCPUAffinity");
        }
        // SCHED_DEADLINE's period within this host's bounds (sysctls, in microseconds).
        if let Some(p) = pr
            .scheduler
            .as_ref()
            .filter(|s| s.policy.0 == "SCHED_DEADLINE")
            .and_then(|s| s.period)
        {
            let read = |f: &str, default: u64| {
                let mut b = [0u8; 24];
                crate::sys::fs::read_path(f, &mut b)
                    .ok()
                    .and_then(|n| core::str::from_utf8(&b[..n]).ok()?.trim().parse::<u64>().ok())
                    .unwrap_or(default)
            };
            let min = read("/proc/sys/kernel/sched_deadline_period_min_us", 100).saturating_mul(1000);
            let max = read("/proc/sys/kernel/sched_deadline_period_max_us", 1 << 22).saturating_mul(1000);
            if p < min || p > max {
                return Err(crate::spec::validate::at(
                    format_args!("process.scheduler.period"),
                    format_args!(
                        "{p} ns is outside this kernel's bounds, {min} to {max} ns (kernel.sched_deadline_period_min_us and _max_us)"
                    ),
                ));
            }
        }
    }
    let Some(l) = cfg.spec.linux.as_ref() else {
        return Err(crate::spec::validate::at(
            format_args!("linux.namespaces"),
            format_args!("a mount namespace is required"),
        ));
    };
    if !cfg.has_ns("mount") {
        // runc runs these with chroot. mote does too, but makes no mount at all: each would be
        // made in the namespace mote runs in (runc's land in the host's). What needs one is
        // refused, naming the field.
        let needs_mounts = [
            ("mounts", !cfg.spec.mounts.is_empty()),
            ("root.readonly", cfg.spec.root.as_ref().is_some_and(|r| r.readonly)),
            ("linux.devices", !l.devices.is_empty()),
            ("linux.maskedPaths", !l.masked_paths.is_empty()),
            ("linux.readonlyPaths", !l.readonly_paths.is_empty()),
            ("linux.rootfsPropagation", l.rootfs_propagation.is_some()),
            ("linux.mountLabel", l.mount_label.is_some()),
            (
                "process.terminal",
                cfg.spec.process.as_ref().is_some_and(|p| p.terminal),
            ),
            ("linux.namespaces", cfg.has_ns("user")),
        ];
        // A chroot is no wall for a process that may call chroot(2) itself.
        let chroot_cap = cfg
            .spec
            .process
            .as_ref()
            .and_then(|p| p.capabilities.as_ref())
            .and_then(|c| c.bounding)
            .is_some_and(|b| cfg.strs(b).iter().any(|c| c.0 == "CAP_SYS_CHROOT"));
        if chroot_cap {
            return Err(crate::spec::validate::at(
                format_args!("process.capabilities.bounding"),
                format_args!(
                    "CAP_SYS_CHROOT lets a process leave the chroot that stands for the root without a \"mount\" namespace: drop it, or add {{\"type\": \"mount\"}} to linux.namespaces"
                ),
            ));
        }
        if let Some((field, _)) = needs_mounts.iter().find(|(_, set)| *set) {
            return Err(crate::spec::validate::at(
                format_args!("{field}"),
                format_args!(
                    "needs a \"mount\" namespace (without one mote makes no mounts, a new user namespace could not chroot, and a terminal has no /dev/pts of its own): add {{\"type\": \"mount\"}} to linux.namespaces or remove {field}"
                ),
            ));
        }
    }
    if let Some(ns) = cfg.namespaces().iter().find(|n| n.kind.0 == "user") {
        if ns.path.is_none() && (l.uid_mappings.is_empty() || l.gid_mappings.is_empty()) {
            return Err(crate::spec::validate::at(
                format_args!("linux.uidMappings"),
                format_args!("a new user namespace needs linux.uidMappings and linux.gidMappings"),
            ));
        }
    }

    if l.intel_rdt.is_some() {
        return ni("linux.intelRdt");
    }
    if l.memory_policy.is_some() {
        return ni("linux.memoryPolicy (runtime-spec 1.3)");
    }
    if l.net_devices.is_some() {
        return ni("linux.netDevices (runtime-spec 1.3)");
    }
    if let Some(m) = l.mount_label.filter(|m| !m.is_empty()) {
        if !crate::security::lsm::enabled("selinux") {
            warn(format_args!(
                "linux.mountLabel {m:?} ignored: SELinux is not enabled on this host (runc does the same)"
            ));
        }
    }
    if !l.time_offsets.entries.is_empty() && !cfg.has_ns("time") {
        return Err(crate::spec::validate::at(
            format_args!("linux.timeOffsets"),
            format_args!("needs a \"time\" namespace"),
        ));
    }
    if cfg.spec.hostname.is_some_and(|h| !h.is_empty()) && !cfg.has_ns("uts") {
        return Err(crate::spec::validate::at(
            format_args!("hostname"),
            format_args!("needs a \"uts\" namespace"),
        ));
    }
    if let Some(r) = &l.resources {
        if r.memory
            .as_ref()
            .is_some_and(|m| m.kernel.is_some() || m.kernel_tcp.is_some())
        {
            warn(format_args!(
                "linux.resources.memory.kernel and kernelTCP are ignored: kernel memory limits are gone from the kernel (runc ignores them too)"
            ));
        }
        crate::cgroup::resources::check_supported(cfg, r)?;
    }
    Ok(())
}

/// Write the user namespace's uid_map and gid_map for `pid` (from outside, as root).
fn write_id_maps(cfg: &Config<'_>, pid: i32) -> Result<()> {
    let Some(l) = cfg.spec.linux.as_ref() else {
        return Ok(());
    };
    for (file, maps) in [("uid_map", l.uid_mappings), ("gid_map", l.gid_mappings)] {
        let text = process::map_text(cfg.items(maps));
        fs::write_proc(&format!("/proc/{pid}/{file}"), text.as_bytes()).map_err(|e| {
            e.ctx(format_args!(
                " (linux.{}Mappings)",
                if file == "uid_map" { "uid" } else { "gid" }
            ))
        })?;
    }
    Ok(())
}

/// The rootfs's absolute path (root.path is relative to the bundle unless absolute).
fn rootfs_path(cfg: &Config<'_>, bundle: &str) -> Result<String> {
    let r = cfg.spec.root.as_ref().ok_or_else(|| {
        crate::spec::validate::at(
            format_args!("root"),
            format_args!("is required: it names the container's root filesystem"),
        )
    })?;
    let p = if r.path.starts_with('/') {
        r.path.to_string()
    } else {
        format!("{bundle}/{}", r.path)
    };
    let real = fs::realpath(&p).step_ctx("rootfs", format_args!("{p} (root.path {:?})", r.path.0))?;
    if !fs::is_dir(&real) {
        return Err(Error::sys("rootfs", libc::ENOTDIR).ctx(format_args!("{p} (root.path {:?})", r.path.0)));
    }
    Ok(real)
}

/// Fork, the child born in the cgroup `dir` is open on where the kernel can
/// ([`proc::fork_into_cgroup`]); the bool says whether it was (if not, the caller moves it).
fn fork_in(dir: Option<&OwnedFd>) -> (sys::SysResult<proc::Fork>, bool) {
    if let Some(Ok(f)) = dir.map(|d| proc::fork_into_cgroup(d.as_raw_fd())) {
        return (Ok(f), true);
    }
    (proc::fork(), false)
}

/// `create`: set the container up and leave its init waiting for `start`.
pub fn create(root: &StateRoot, o: &CreateOpts<'_>, warn: &mut dyn FnMut(core::fmt::Arguments<'_>)) -> Result<Created> {
    state::validate_id(o.id)?;
    if !o.fds.is_empty() && o.preserve_fds > 0 {
        return Err(Error::usage("create").ctx(format_args!(
            "give either the process's fds or --preserve-fds, not both"
        )));
    }
    let bundle = bundle_path(o.bundle)?;
    let doc = load_config(&bundle)?;
    let cfg = doc.config();
    spec::validate::validate(cfg, warn)?;
    check_supported(cfg, warn)?;
    if o.console_socket.is_some() && !cfg.spec.process.as_ref().is_some_and(|p| p.terminal) {
        warn(format_args!(
            "--console-socket given but process.terminal is false: the socket is not used"
        ));
    }
    let rootfs = rootfs_path(cfg, &bundle)?;
    let linux = cfg.spec.linux.as_ref();
    // process.terminal: the terminal's master goes to --console-socket, connected now (a bad
    // path fails before anything is made).
    let (console, relay_end) = match (cfg.spec.process.as_ref().is_some_and(|p| p.terminal), o.console_socket) {
        (true, Some(path)) => (Some(process::connect_unix(path, "connect to --console-socket")?), None),
        (true, None) if o.relay_terminal => {
            let (ours, theirs) = sys::stream_pair().step("socketpair for the terminal")?;
            (Some(theirs), Some(ours))
        }
        (true, None) => {
            return Err(Error::usage("process.terminal:").ctx(format_args!(
                "a terminal needs --console-socket, or `mote run` in the foreground (which relays it); or set \"terminal\": false"
            )))
        }
        (false, _) => (None, None),
    };
    // --pidfd-socket: connected now too; the pidfd goes once the init exists.
    let pidfd_sock = match o.pidfd_socket {
        Some(path) => Some(process::connect_unix(path, "connect to --pidfd-socket")?),
        None => None,
    };

    // From here on, everything made is recorded in `undo`.
    let dir = root.make_container_dir(o.id)?;
    let mut undo = Undo {
        root,
        id: o.id,
        dir: true,
        cgroup: None,
        pids: heapless::Vec::new(),
        armed: true,
    };
    fs::mkfifoat(dir.as_raw_fd(), state::FIFO, 0o600).step("create exec fifo")?;
    let fifo_path = format!("{}/{}", root.dir_path(o.id), state::FIFO);

    let cg_path = match o.cgroup_path {
        Some(p) => Cgroup::path_for(o.id, Some(p), false)?,
        None => Cgroup::path_for(o.id, linux.and_then(|l| l.cgroups_path).map(|p| p.0), o.systemd_cgroup)?,
    };
    // A `cgroup` mount on v1 or hybrid shows the container its own cgroup of every hierarchy
    // the host has (as runc), so that what reads cpu.shares, cpu.cfs_quota_us,
    // memory.limit_in_bytes or pids.max from inside finds them.
    let all = if cfg
        .items(cfg.spec.mounts)
        .iter()
        .any(|m| m.kind.is_some_and(|t| t.0 == "cgroup"))
        && crate::cgroup::mode().is_some_and(|m| m != crate::cgroup::Mode::V2)
    {
        crate::cgroup::v1_hierarchies()
    } else {
        Vec::new()
    };
    let mut need: Vec<&str> = crate::cgroup::resources::controllers_needed(cfg);
    for h in &all {
        if !need.contains(&h.as_str()) {
            need.push(h.as_str());
        }
    }
    // The cgroup's path is recorded before its first directory is made (see
    // state::CREATING_CGROUP): if mote is killed while it makes them, `delete --force` (or a
    // supervisor restarted after SIGKILL) finds and removes the ones it made. Written to a
    // temporary name and renamed, so the record is never seen empty or torn.
    fs::openat(
        dir.as_raw_fd(),
        CREATING_TMP,
        libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC | libc::O_CLOEXEC,
        0o600,
    )
    .and_then(|f| fs::write_all(f.as_raw_fd(), cg_path.as_bytes()))
    .and_then(|_| fs::renameat(dir.as_raw_fd(), CREATING_TMP, dir.as_raw_fd(), state::CREATING_CGROUP))
    .step("record the cgroup path (creating.cgroup)")?;
    let cg = Cgroup::create(&cg_path, &need)?;
    undo.cgroup = Some(cg.clone());
    if let Some(r) = linux.and_then(|l| l.resources.as_ref()) {
        crate::cgroup::resources::apply(&cg, cfg, r)?;
    }

    // seccomp: compiled here, so a bad profile fails before anything is forked.
    let seccomp = match linux.and_then(|l| l.seccomp.as_ref()) {
        Some(sc) => {
            let arch = crate::security::seccomp::Arch::native().ok_or_else(|| {
                Error::not_implemented("seccomp:").ctx(format_args!("no syscall table for this architecture"))
            })?;
            Some(crate::security::seccomp::compile(cfg, sc, arch, warn)?)
        }
        None => None,
    };
    let (parent_sock, child_sock) = sys::seqpacket_pair().step("socketpair")?;
    // Every wait for the stages is bounded; the init runs the createContainer hooks while we
    // wait for READY, so their timeouts count too.
    let bound = spec::limits::SETUP_TIMEOUT_SECS as u64 + hooks::time_bound(cfg, hooks::Kind::CreateContainer);
    sync::bound_waits(&parent_sock, bound)?;
    let single_stage = !cfg.has_ns("user");
    // The process the init becomes, worked out now: nothing is parsed or looked up after the
    // fork but what only the container's root can answer (the program's path).
    let process = cfg.spec.process.as_ref().ok_or_else(|| {
        crate::spec::validate::at(
            format_args!("process"),
            format_args!("is required to create a container"),
        )
    })?;
    let mut plan = process::ProcessPlan::for_init(cfg, process, o.env, seccomp.as_ref(), o.fds, o.preserve_fds)?;
    // Die with `mote create` while being set up (stage 1 does, in the two-stage case).
    plan.dies_with_parent = single_stage;
    let launch = Launch {
        cfg,
        rootfs: &rootfs,
        bundle: &bundle,
        fifo: &fifo_path,
        no_pivot: o.no_pivot,
        cgroup: Some(&cg),
        single_stage,
        id: o.id,
        seccomp: seccomp.as_ref(),
        console: console.as_ref().map(|c| c.as_raw_fd()),
        plan: &plan,
        binds: o.binds,
        state: &|status, pid| state::spec_state(o.id, status, pid, &bundle, cfg.map(cfg.spec.annotations)),
    };
    let init = if single_stage {
        // One fork: the init is our child, in the pid (and time) namespace made for it here,
        // born in its cgroup where the kernel can (else moved there below).
        let cg_dir = cg.v2_dir();
        let ns = process::enter_child_namespaces(cfg)?;
        let (forked, born_in_cgroup) = fork_in(cg_dir.as_ref());
        if let Ok(proc::Fork::Child) = forked {
            drop(parent_sock);
            process::init(&launch, &child_sock)
        }
        let left = ns.leave();
        let init = match forked.step("fork the container init")? {
            proc::Fork::Parent(pid) => pid,
            proc::Fork::Child => unreachable_child(),
        };
        drop(child_sock);
        let _ = undo.pids.push(init);
        left?;
        if !born_in_cgroup {
            cg.join(init)?;
        }
        for (i, tree) in idmap::prepare(cfg, &bundle, None)? {
            sync::send_mount_fd(&parent_sock, i, &tree)?;
        }
        sync::send(&parent_sock, Tag::SetUp, init)?;
        init
    } else {
        // A user namespace: stage 1 makes it, then the pid namespace inside it, and forks the
        // init, which comes back to us (child subreaper) when stage 1 exits.
        // A subreaper only until stage 1 is reaped: the init is ours by then.
        let _subreaper = proc::subreaper().step("prctl(PR_SET_CHILD_SUBREAPER)")?;
        let cg_dir = cg.v2_dir();
        let (forked, born_in_cgroup) = fork_in(cg_dir.as_ref());
        let stage1 = match forked.step("fork")? {
            proc::Fork::Child => {
                drop(parent_sock);
                process::stage1(&launch, &child_sock)
            }
            proc::Fork::Parent(pid) => pid,
        };
        drop(child_sock);
        let _ = undo.pids.push(stage1);
        if !born_in_cgroup {
            cg.join(stage1)?;
        }
        sync::send(&parent_sock, Tag::InCgroup, 0)?;
        let mut m = sync::recv(&parent_sock, "the container init's pid")?;
        if m.tag == Tag::Maps {
            write_id_maps(cfg, stage1)?;
            sync::send(&parent_sock, Tag::MapsDone, 0)?;
            m = sync::recv(&parent_sock, "the container init's pid")?;
        }
        if m.tag != Tag::Pid {
            return Err(sync::into_error(m, "the container init's pid"));
        }
        let init = m.value;
        undo.pids.clear();
        let _ = undo.pids.push(init);
        let (_, st) = proc::waitpid(stage1, 0).step("wait for stage 1")?;
        if proc::exit_code(st) != 0 {
            return Err(Error::failed("create").ctx(format_args!("stage 1 exited with status {}", proc::exit_code(st))));
        }
        for (i, tree) in idmap::prepare(cfg, &bundle, Some(init))? {
            sync::send_mount_fd(&parent_sock, i, &tree)?;
        }
        sync::send(&parent_sock, Tag::SetUp, init)?;
        init
    };
    // READY, or first HOOKS: the init has made its mounts and devices and waits for the
    // prestart and createRuntime hooks, run here in the host's namespaces.
    loop {
        let m = sync::recv(&parent_sock, "the container to be ready")?;
        match m.tag {
            Tag::Ready => break,
            Tag::Warning => warn(format_args!("{}", m.ctx)),
            Tag::Hooks => {
                let st = state::spec_state(o.id, "creating", init, &bundle, cfg.map(cfg.spec.annotations));
                hooks::run(cfg, hooks::Kind::Prestart, &st)?;
                hooks::run(cfg, hooks::Kind::CreateRuntime, &st)?;
                sync::send(&parent_sock, Tag::HooksDone, 0)?;
            }
            _ => return Err(sync::into_error(m, "the container to be ready")),
        }
    }

    let start_time = proc::start_time(init).step("read the init's start time")?;
    let created = crate::spec::out::Rfc3339::now().to_string();
    state::write(
        &dir,
        &state::Doc {
            id: o.id,
            status: "created",
            pid: init,
            bundle: &bundle,
            annotations: cfg.map(cfg.spec.annotations),
            runc: Some(state::RuncFields {
                rootfs: &rootfs,
                created: &created,
                owner: "",
            }),
            kept: Some(state::Kept {
                start_time,
                cgroup: Some(&cg.path),
                cgroup_dirs: &cg.dirs,
                systemd_cgroup: o.systemd_cgroup,
                hooks: hooks::any(cfg, hooks::Kind::Poststart) || hooks::any(cfg, hooks::Kind::Poststop),
            }),
        },
    )?;
    if let Some(sock) = &pidfd_sock {
        send_pidfd(sock, init, b"standard", o.pidfd_socket.unwrap_or(""))?;
    }
    if let Some(p) = o.pid_file {
        write_pid_file(p, init)?;
    }
    undo.armed = false;
    Ok(Created {
        pid: init,
        start_time,
        cgroup: Some(cg),
        dir,
        cfg: doc,
        console: relay_end,
    })
}

/// The child side of a fork that is handled above it: never reached.
fn unreachable_child() -> ! {
    proc::exit_now(1)
}
