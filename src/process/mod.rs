//! The forked stages of `create` (see `sync.rs` for the protocol):
//!
//! - stage 1 enters or creates the namespaces (unshare, then setns for joined ones), forks
//!   stage 2 (which becomes PID 1 of a new PID namespace), reports its pid and exits;
//! - stage 2, the container init, sets up the rootfs and the process, reports READY, waits on
//!   the exec fifo until `start`, and executes the container's process.
//!
//! Both run in the forked copy of `mote create`, with the parsed config inherited from the
//! parent: no re-exec, no re-parse.

use crate::prelude::*;

pub mod hooks;
pub mod setup;
pub mod sync;

pub use setup::{CapMasks, ProcessPlan};

use crate::error::{Error, Result, Step};
use crate::spec::namespaces::{self, Ns};
use crate::spec::Config;
use crate::sys::{self, fs, proc};
use rustix::fd::{AsRawFd, OwnedFd};
use sync::Tag;

/// Everything the stages need, prepared by the parent before the first fork.
pub struct Launch<'l> {
    pub cfg: &'l Config<'l>,
    pub rootfs: &'l str,
    pub bundle: &'l str,
    /// The exec fifo's path in the state directory.
    pub fifo: &'l str,
    pub no_pivot: bool,
    pub cgroup: Option<&'l crate::cgroup::Cgroup>,
    /// The init was forked by the parent directly (no user namespace): it joins and creates
    /// its namespaces itself, but for pid and time, which the parent set up for it.
    pub single_stage: bool,
    /// The container id (for the seccomp listener's state).
    pub id: &'l str,
    /// The compiled seccomp filter, if the config has one.
    pub seccomp: Option<&'l crate::security::seccomp::Program>,
    /// The connection to --console-socket (process.terminal), made by the parent.
    pub console: Option<i32>,
    /// The process the init becomes.
    pub plan: &'l ProcessPlan<'l>,
    /// Host paths bind-mounted into the container after the config's mounts (source,
    /// destination).
    pub binds: &'l [(&'l str, &'l str)],
    /// runtime-spec's state of the container for a status and the init's host pid (what the
    /// hooks and a seccomp listener get), written by `container::state`.
    pub state: &'l dyn Fn(&str, i32) -> String,
}

/// The namespaces for children (pid, time) this process has entered, and its own ones to go
/// back to. Leaving is explicit ([`ChildNs::leave`], which reports an error), and also happens
/// when the guard drops: on every path, the caller's later children are forked in its own
/// namespaces, never in a previous container's.
pub struct ChildNs {
    saved: heapless::Vec<(OwnedFd, i32), 2>,
}

impl ChildNs {
    pub fn new() -> ChildNs {
        ChildNs {
            saved: heapless::Vec::new(),
        }
    }

    /// Keep a handle on our own namespace of `kind` (flag `flag`) before leaving it.
    fn save(&mut self, flag: i32, own: &str) -> Result<()> {
        let mine = fs::open(own, libc::O_RDONLY | libc::O_CLOEXEC, 0).step_ctx("open", format_args!("{own}"))?;
        self.saved
            .push((mine, flag))
            .map_err(|_| Error::failed("setns").ctx(format_args!("more than two namespaces for children")))
    }

    /// Join the namespace of type `kind` (pid or time) open as `fd` for our next children.
    pub fn join(&mut self, fd: &OwnedFd, kind: &Ns, what: core::fmt::Arguments<'_>) -> Result<()> {
        let flag = kind.flag;
        self.save(flag, &ns_path(kind))?;
        sys::setns(fd.as_raw_fd(), flag)
            .step_ctx("setns", what)
            .inspect_err(|_| {
                self.saved.pop();
            })
    }

    /// Go back to our own namespaces.
    pub fn leave(mut self) -> Result<()> {
        self.restore()
    }

    fn restore(&mut self) -> Result<()> {
        let mut r = Ok(());
        while let Some((fd, flag)) = self.saved.pop() {
            if let Err(e) = sys::setns(fd.as_raw_fd(), flag) {
                r = r.and(Err(Error::sys("setns back to mote's own namespace", e)));
            }
        }
        r
    }
}

impl Default for ChildNs {
    fn default() -> Self {
        ChildNs::new()
    }
}

impl Drop for ChildNs {
    fn drop(&mut self) {
        let _ = self.restore();
    }
}

/// /proc/self/ns/NAME of a namespace type.
fn ns_path(kind: &Ns) -> heapless::String<32> {
    let mut s = heapless::String::new();
    let _ = core::fmt::write(&mut s, format_args!("/proc/self/ns/{}", kind.proc_name));
    s
}

/// In the parent, just before forking the init: join (setns) or make (unshare) the pid and
/// time namespaces the config asks for. They apply to the next child only; the parent
/// returns to its own when the guard is left or dropped. This is how a container without a
/// user namespace gets its init as a direct child (one fork, no subreaper, and it works under
/// QEMU user-mode, which cannot emulate clone with namespace flags).
pub fn enter_child_namespaces(cfg: &Config<'_>) -> Result<ChildNs> {
    let mut out = ChildNs::new();
    for kind in namespaces::ALL.iter().filter(|n| n.for_children) {
        let (ns_kind, flag, own) = (kind, kind.flag, ns_path(kind));
        let kind = kind.name;
        let Some(ns) = cfg.namespaces().iter().find(|n| n.kind.0 == kind) else {
            continue;
        };
        match ns.path {
            Some(p) => {
                let fd = fs::open(&p, libc::O_RDONLY | libc::O_CLOEXEC, 0)
                    .step_ctx("open namespace", format_args!("{p}"))?;
                out.join(&fd, ns_kind, format_args!("{kind} namespace {p}"))?;
            }
            None => {
                out.save(flag, &own)?;
                if let Err(e) = sys::unshare(flag) {
                    out.saved.pop();
                    return Err(Error::sys("unshare", e).ctx(format_args!("{kind} namespace")));
                }
                if flag == libc::CLONE_NEWTIME {
                    write_time_offsets(cfg)?;
                }
            }
        }
    }
    Ok(out)
}

/// The single-stage init: forked by the parent inside the new pid namespace. Never returns.
pub fn init(l: &Launch<'_>, sock: &OwnedFd) -> ! {
    stage2(l, sock, HostFds::default())
}

/// Join (by path) or create the namespaces the init makes itself: all but user and those the
/// parent entered for it (pid, time).
fn init_namespaces(cfg: &Config<'_>) -> Result<()> {
    enter_namespaces(cfg, |n| n.name != "user" && !n.for_children).map(drop)
}

/// Join (setns, by path, in the table's order: mount last) or create (one unshare) the
/// config's namespaces that `which` selects; returns the flags of the created ones.
fn enter_namespaces(cfg: &Config<'_>, which: impl Fn(&Ns) -> bool) -> Result<i32> {
    let mut new_flags = 0;
    for kind in namespaces::ALL.iter().filter(|n| which(n)) {
        let Some(ns) = cfg.namespaces().iter().find(|n| n.kind.0 == kind.name) else {
            continue;
        };
        match ns.path {
            Some(p) => {
                let fd = fs::open(&p, libc::O_RDONLY, 0).step_ctx("open namespace", format_args!("{p}"))?;
                sys::setns(fd.as_raw_fd(), kind.flag).step_ctx("setns", format_args!("{} namespace {p}", kind.name))?;
            }
            None => new_flags |= kind.flag,
        }
    }
    if new_flags != 0 {
        sys::unshare(new_flags).step("unshare namespaces")?;
    }
    Ok(new_flags)
}

/// What the init needs from the host's filesystem, opened before it enters a user namespace
/// whose root cannot reach mote's state directory or the listener socket.
#[derive(Default)]
pub struct HostFds {
    pub fifo: Option<OwnedFd>,
    pub listener: Option<OwnedFd>,
}

/// Open the exec fifo and connect the seccomp listener.
fn open_host_fds(l: &Launch<'_>) -> Result<HostFds> {
    // The exec fifo, opened read-write: the open does not block, and `start` can open it for
    // writing only while the init holds it (ENXIO otherwise: the init is gone).
    let fifo = fs::open(l.fifo, libc::O_RDWR, 0).step_ctx("open exec fifo", format_args!("{}", l.fifo))?;
    let listener = match (l.seccomp, l.cfg.spec.linux.as_ref().and_then(|x| x.seccomp.as_ref())) {
        (Some(prog), Some(sc)) if prog.has_listener() => {
            let path = sc.listener_path.ok_or_else(|| {
                crate::spec::validate::at(
                    format_args!("linux.seccomp.listenerPath"),
                    format_args!("a SCMP_ACT_NOTIFY action needs a listener socket path"),
                )
            })?;
            Some(connect_unix(&path, "connect to the seccomp listener")?)
        }
        _ => None,
    };
    Ok(HostFds {
        fifo: Some(fifo),
        listener,
    })
}

/// uid_map/gid_map text for mappings.
pub fn map_text(maps: &[crate::spec::IdMapping<'_>]) -> String {
    let mut t = String::new();
    for m in maps {
        t.push_str(&format!("{} {} {}\n", m.container_id, m.host_id, m.size));
    }
    t
}

/// Stage 1: never returns.
pub fn stage1(l: &Launch<'_>, sock: &OwnedFd) -> ! {
    match stage1_inner(l, sock) {
        Ok(()) => proc::exit_now(0),
        Err(e) => {
            sync::send_error(sock, &e);
            proc::exit_now(1)
        }
    }
}

fn stage1_inner(l: &Launch<'_>, sock: &OwnedFd) -> Result<()> {
    // Die with the parent: a half-made container must not outlive `mote create`.
    sys::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0, 0, 0).step("prctl(PR_SET_PDEATHSIG)")?;
    sync::expect(sock, Tag::InCgroup, "the go-ahead from mote create")?;
    let namespaces = l.cfg.namespaces();
    // Host paths first: after the user namespace they may be out of reach.
    let host = open_host_fds(l)?;

    // The user namespace first: the others are then made or joined with its credentials
    // (and, when new, are owned by it).
    if let Some(ns) = namespaces.iter().find(|n| n.kind.0 == "user") {
        match ns.path {
            Some(p) => {
                let fd = fs::open(&p, libc::O_RDONLY, 0).step_ctx("open namespace", format_args!("{p}"))?;
                sys::setns(fd.as_raw_fd(), libc::CLONE_NEWUSER)
                    .step_ctx("setns", format_args!("user namespace {p}"))?;
            }
            None => {
                sys::unshare(libc::CLONE_NEWUSER).step("unshare user namespace")?;
                // The parent writes uid_map and gid_map from outside.
                sync::send(sock, Tag::Maps, 0)?;
                sync::expect(sock, Tag::MapsDone, "the user namespace mappings")?;
            }
        }
        // Root of the user namespace (container uid/gid 0 must be mapped).
        sys::setresgid(0, 0, 0).step("setresgid 0 in the user namespace (is container gid 0 mapped?)")?;
        sys::setresuid(0, 0, 0).step("setresuid 0 in the user namespace (is container uid 0 mapped?)")?;
    }
    let new_flags = enter_namespaces(l.cfg, |n| n.name != "user")?;
    if new_flags & libc::CLONE_NEWTIME != 0 {
        write_time_offsets(l.cfg)?;
    }
    match proc::fork().step("fork container init")? {
        proc::Fork::Child => stage2(l, sock, host),
        proc::Fork::Parent(pid) => sync::send(sock, Tag::Pid, pid),
    }
}

fn write_time_offsets(cfg: &Config<'_>) -> Result<()> {
    let Some(l) = cfg.spec.linux.as_ref() else {
        return Ok(());
    };
    let mut text: heapless::String<128> = heapless::String::new();
    for (k, off) in &l.time_offsets.entries {
        let _ = core::fmt::write(&mut text, format_args!("{} {} {}\n", k, off.secs, off.nanosecs));
    }
    if text.is_empty() {
        return Ok(());
    }
    fs::write_at(fs::AT_FDCWD, "/proc/self/timens_offsets", text.as_bytes()).step("write /proc/self/timens_offsets")
}

/// Stage 2, the container init: never returns.
fn stage2(l: &Launch<'_>, sock: &OwnedFd, host: HostFds) -> ! {
    match stage2_inner(l, sock, host) {
        Ok(never) => match never {},
        Err(e) => {
            sync::send_error(sock, &e);
            proc::exit_now(1)
        }
    }
}

fn stage2_inner(l: &Launch<'_>, sock: &OwnedFd, host: HostFds) -> Result<core::convert::Infallible> {
    let cfg = l.cfg;
    let plan = l.plan;
    let p = plan.process;

    // Only what the setup needs stays open; not dumpable; dies with `mote create` until READY.
    let mut keep: heapless::Vec<i32, 4> = heapless::Vec::new();
    let _ = keep.push(sock.as_raw_fd());
    for fd in [
        l.console,
        host.fifo.as_ref().map(|f| f.as_raw_fd()),
        host.listener.as_ref().map(|f| f.as_raw_fd()),
    ]
    .into_iter()
    .flatten()
    {
        let _ = keep.push(fd);
    }
    setup::begin(plan, &keep)?;

    // SET_UP carries the init's pid as the host sees it (for the hooks and the seccomp
    // listener), after the prepared (idmapped) mounts.
    let (go, trees) = sync::recv_setup(sock)?;
    let host_pid = go.value;

    // Namespaces: all but user, pid and time (the parent made those for us) when we were forked
    // by the parent directly; stage 1 made them all otherwise.
    if l.single_stage {
        init_namespaces(cfg)?;
    }
    // The exec fifo and the seccomp listener: from stage 1 (user namespace) or opened now.
    let host = if host.fifo.is_some() { host } else { open_host_fds(l)? };
    let fifo = host
        .fifo
        .ok_or_else(|| Error::failed("exec fifo").ctx(format_args!("not open")))?;
    let listener = host.listener.map(|conn| setup::Listener {
        conn,
        message: setup::listener_message(cfg, &(l.state)("creating", host_pid), host_pid),
    });
    proc::setsid().step("setsid")?;
    // Read while the host's /proc is reachable.
    let hostview = setup::HostView::read();

    // Kernel objects of the new namespaces, through the host's /proc while it is reachable.
    if let Some(h) = cfg.spec.hostname {
        sys::sethostname(&h).step_ctx("sethostname", format_args!("{h:?}"))?;
    }
    if let Some(d) = cfg.spec.domainname {
        sys::setdomainname(&d).step_ctx("setdomainname", format_args!("{d:?}"))?;
    }
    // A new network namespace starts with `lo` down: up, as runc brings it up.
    if cfg
        .namespaces()
        .iter()
        .any(|n| n.kind.0 == "network" && n.path.is_none())
    {
        sys::loopback_up().step("bring lo up in the new network namespace")?;
    }
    if let Some(linux) = cfg.spec.linux.as_ref() {
        for (k, v) in cfg.map(linux.sysctl) {
            write_sysctl(k, v)?;
        }
    }
    if let Some(adj) = p.oom_score_adj {
        let mut s: heapless::String<16> = heapless::String::new();
        let _ = core::fmt::write(&mut s, format_args!("{adj}"));
        fs::write_proc("/proc/self/oom_score_adj", s.as_bytes())?;
    }
    // LSM labels for the exec, through the host's /proc while it is reachable.
    crate::security::lsm::set_exec_labels(p)?;

    // The filesystem. The hooks that see the container's mounts from the host's paths run
    // once the mounts and devices exist, before masking and pivot_root: prestart and
    // createRuntime by the parent (asked for with HOOKS), createContainer here.
    use hooks::Kind as Hk;
    let state = |status: &str| (l.state)(status, host_pid);
    let has_hooks = cfg.spec.hooks.as_ref().is_some_and(|h| !h.is_empty());
    let run_hooks = || -> Result<()> {
        if hooks::any(cfg, Hk::Prestart) || hooks::any(cfg, Hk::CreateRuntime) {
            sync::send(sock, Tag::Hooks, 0)?;
            sync::expect(sock, Tag::HooksDone, "the prestart and createRuntime hooks")?;
        }
        hooks::run(cfg, Hk::CreateContainer, &state("creating"))
    };
    let has_new_ns = |k: &str| cfg.namespaces().iter().any(|n| n.kind.0 == k && n.path.is_none());
    let rootfs = crate::rootfs::RootfsPlan {
        rootfs: l.rootfs,
        bundle: l.bundle,
        no_pivot: l.no_pivot,
        userns: has_new_ns("user"),
        cgroupns: has_new_ns("cgroup"),
        cgroup: l.cgroup,
        idmapped: &trees,
        binds: l.binds,
        hooks: if has_hooks { Some(&run_hooks) } else { None },
    };
    sys::umask(0);
    if cfg.has_ns("mount") {
        crate::rootfs::setup(&sys::kernel::Live, cfg, &rootfs)?;
    } else {
        crate::rootfs::enter_without_mounts(&sys::kernel::Live, &rootfs)?;
    }
    // The terminal: made from the container's /dev/ptmx, once its /dev/pts is mounted.
    if let (Some(console), true) = (l.console, p.terminal) {
        let size = p.console_size.as_ref().map(|c| (c.height, c.width));
        setup::setup_console(console, size, p.user.uid, p.user.gid)?;
    }

    // The process. Its go-ahead is `start` writing the exec fifo; then the startContainer
    // hooks run, in the container, just before its program.
    setup::become_process(plan, sock, &hostview, listener, || {
        let mut b = [0u8; 1];
        match fs::read(fifo.as_raw_fd(), &mut b) {
            Ok(1) => {}
            _ => proc::exit_now(1),
        }
        drop(fifo);
        if has_hooks {
            hooks::run(cfg, Hk::StartContainer, &state("created"))?;
        }
        Ok(())
    })
}

/// Connect to a unix stream socket (the seccomp listener).
pub(crate) fn connect_unix(path: &str, what: &'static str) -> Result<OwnedFd> {
    use rustix::net::{connect, socket_with, AddressFamily, SocketAddrUnix, SocketFlags, SocketType};
    let fd = socket_with(AddressFamily::UNIX, SocketType::STREAM, SocketFlags::CLOEXEC, None).step("socket")?;
    let addr = SocketAddrUnix::new(path).step_ctx(what, format_args!("{path}: not a usable unix socket path"))?;
    connect(&fd, &addr).step_ctx(what, format_args!("{path}"))?;
    Ok(fd)
}

fn write_sysctl(key: &str, value: &str) -> Result<()> {
    let mut path: heapless::String<256> = heapless::String::new();
    let _ = path.push_str("/proc/sys/");
    for c in key.chars() {
        if path.push(if c == '.' { '/' } else { c }).is_err() {
            return Err(Error::input("sysctl").ctx(format_args!("{key:?}: name too long")));
        }
    }
    fs::write_proc(&path, value.as_bytes()).map_err(|e| e.ctx(format_args!(" (linux.sysctl {key:?})")))
}
