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
pub mod sync;

use crate::error::{Error, Kind, Result, Step};
use crate::security::caps;
use crate::spec::namespaces::{self, Ns};
use crate::spec::{Config, Process};
use crate::sys::{self, fs, proc};
use alloc::ffi::CString;
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
    pub preserve_fds: u32,
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
    /// The process's open files, chosen by the caller (fd i is `fds[i]`; see
    /// `CreateOpts::fds`); empty: the caller's stdio and `preserve_fds`.
    pub fds: &'l [i32],
    /// KEY=VALUE entries set over process.env.
    pub env: &'l [&'l str],
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
    // First, let go of every fd inherited from `mote create` but stdio, the preserved fds, the
    // sync socket and what stage 1 opened for us: mote's state directories are host
    // directories, and an open one could become the container's cwd through /proc/self/fd
    // (CVE-2024-21626).
    let mut keep: heapless::Vec<u32, 16> = heapless::Vec::new();
    let _ = keep.push(sock.as_raw_fd() as u32);
    if let Some(c) = l.console {
        let _ = keep.push(c as u32);
    }
    for fd in [host.fifo.as_ref(), host.listener.as_ref()].into_iter().flatten() {
        let _ = keep.push(fd.as_raw_fd() as u32);
    }
    // The files the caller chose for the process, installed just before exec.
    for &fd in l.fds {
        keep.push(fd as u32)
            .map_err(|_| Error::failed("close inherited fds").ctx(format_args!("too many fds for the process")))?;
    }
    close_inherited(3 + l.preserve_fds, &keep)?;
    // Not dumpable until exec: no other process (a container process in a shared or joined
    // pid namespace) may open /proc/PID/exe, mem or fd of a process still running mote
    // (CVE-2019-5736). exec resets it for the container's program.
    sys::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0).step("prctl(PR_SET_DUMPABLE)")?;
    if l.single_stage {
        // Die with the parent while being set up; cleared before READY, after which the init
        // must outlive `mote create`.
        sys::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0, 0, 0).step("prctl(PR_SET_PDEATHSIG)")?;
    }
    // SET_UP carries the init's pid as the host sees it (for the seccomp listener).
    let (go, trees) = sync::recv_setup(sock)?;
    let host_pid = go.value;
    if l.single_stage {
        init_namespaces(l.cfg)?;
    }
    // The exec fifo and the seccomp listener: from stage 1 (user namespace) or opened now.
    let host = if host.fifo.is_some() { host } else { open_host_fds(l)? };
    let listener = host.listener;
    let fifo = host
        .fifo
        .ok_or_else(|| Error::failed("exec fifo").ctx(format_args!("not open")))?;
    let nnp = l.cfg.spec.process.as_ref().is_some_and(|p| p.no_new_privileges);
    let cfg = l.cfg;
    let p = cfg.spec.process.as_ref().ok_or_else(|| {
        crate::spec::validate::at(
            format_args!("process"),
            format_args!("is required to create a container"),
        )
    })?;
    let linux = cfg.spec.linux.as_ref();
    let has_new_ns = |k: &str| cfg.namespaces().iter().any(|n| n.kind.0 == k && n.path.is_none());

    proc::setsid().step("setsid")?;
    // Read while the host's /proc is reachable.
    let last_cap = caps::last_cap();
    let ignored = proc::ignored_signals();

    // Kernel-object settings, made through the host's /proc while it is still reachable.
    if let Some(h) = cfg.spec.hostname {
        sys::sethostname(&h).step_ctx("sethostname", format_args!("{h:?}"))?;
    }
    if let Some(d) = cfg.spec.domainname {
        sys::setdomainname(&d).step_ctx("setdomainname", format_args!("{d:?}"))?;
    }
    if let Some(l) = linux {
        for (k, v) in cfg.map(l.sysctl) {
            write_sysctl(k, v)?;
        }
    }
    if let Some(adj) = p.oom_score_adj {
        let mut s: heapless::String<16> = heapless::String::new();
        let _ = core::fmt::write(&mut s, format_args!("{adj}"));
        fs::write_proc("/proc/self/oom_score_adj", s.as_bytes())?;
    }

    // The hooks: prestart and createRuntime run by the parent (asked for with HOOKS),
    // createContainer here, all after the mounts and devices and before pivot_root.
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

    // The filesystem.
    let plan = crate::rootfs::RootfsPlan {
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
    // LSM labels for the exec, through the host's /proc while it is reachable.
    crate::security::lsm::set_exec_labels(p)?;
    sys::umask(0);
    crate::rootfs::setup(cfg, &plan)?;
    // The terminal: made from the container's /dev/ptmx, once its /dev/pts is mounted.
    if let (Some(console), true) = (l.console, p.terminal) {
        let size = p.console_size.as_ref().map(|c| (c.height, c.width));
        setup_console(console, size, p.user.uid, p.user.gid)?;
    }

    // The process.
    apply_process_limits(cfg, p)?;
    if let Some(pers) = linux.and_then(|l| l.personality.as_ref()) {
        let v = if pers.domain.0 == "LINUX32" { 0x0008 } else { 0 };
        sys::personality(v).step_ctx("personality", format_args!("{}", pers.domain))?;
    }
    if !p.cwd.is_empty() {
        let mut b = sys::CBuf::uninit();
        let c = b.set(&p.cwd).map_err(|e| Error::sys("chdir", e))?;
        sys::chdir(c).step_ctx("chdir to process.cwd", format_args!("{}", p.cwd))?;
    }
    check_cwd_inside(&p.cwd)?;
    // Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: load it before the
    // capabilities go (as runc). With it, load it last, just before exec.
    if let (Some(prog), false) = (l.seccomp, nnp) {
        load_seccomp(l, prog, listener.as_ref(), host_pid)?;
    }
    set_user_and_caps(cfg, p, last_cap, sock)?;
    sys::umask(p.user.umask.unwrap_or(0o022));
    if p.no_new_privileges {
        sys::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0).step("prctl(PR_SET_NO_NEW_PRIVS)")?;
    }

    // The executable, looked up now so that a missing one fails `create`, not `start`.
    let args = cfg.strs(p.args);
    if args.is_empty() {
        return Err(crate::spec::validate::at(
            format_args!("process.args"),
            format_args!("must name the program to run"),
        ));
    }
    let env = merge_env(cfg.strs(p.env).iter().map(|e| e.0), l.env);
    let path = find_executable(&args[0], env.iter().copied())?;
    let c_path = CString::new(path.as_bytes())
        .map_err(|_| Error::input("exec").ctx(format_args!("{path:?} holds a NUL byte")))?;
    let c_args: Vec<CString> = args.iter().filter_map(|a| CString::new(a.0).ok()).collect();
    let c_env: Vec<CString> = env.iter().filter_map(|a| CString::new(*a).ok()).collect();
    let (argv, envp) = (proc::CArray::new(c_args), proc::CArray::new(c_env));

    // Only stdio and the preserved fds reach the container.
    sys::cloexec_from(3 + l.preserve_fds)
        .or_else(|e| {
            if e == libc::ENOSYS || e == libc::EINVAL {
                mark_cloexec_slow(3 + l.preserve_fds)
            } else {
                Err(e)
            }
        })
        .step("close_range(CLOSE_RANGE_CLOEXEC)")?;

    if l.single_stage {
        sys::prctl(libc::PR_SET_PDEATHSIG, 0, 0, 0, 0).step("prctl(PR_SET_PDEATHSIG)")?;
    }
    sync::send(sock, Tag::Ready, 0)?;

    // Wait for `start`.
    let mut b = [0u8; 1];
    match fs::read(fifo.as_raw_fd(), &mut b) {
        Ok(1) => {}
        _ => proc::exit_now(1),
    }
    drop(fifo);
    // startContainer hooks: in the container, just before its program.
    if let Err(e) = if has_hooks {
        hooks::run(cfg, Hk::StartContainer, &state("created"))
    } else {
        Ok(())
    } {
        // Too late to tell `create`: say it on the container's stderr and stop.
        let msg = format!("mote: {e}\n");
        let _ = fs::write_all(2, msg.as_bytes());
        proc::exit_now(1);
    }
    proc::reset_signals(ignored);
    // The open files the caller chose (the listener, still needed, moved out of their way).
    let listener = match install_fds(l.fds, p.terminal, listener) {
        Ok(l) => l,
        Err(e) => {
            let msg = format!("mote: {e}\n");
            let _ = fs::write_all(2, msg.as_bytes());
            proc::exit_now(1);
        }
    };
    if let (Some(prog), true) = (l.seccomp, nnp) {
        if let Err(e) = load_seccomp(l, prog, listener.as_ref(), host_pid) {
            // Too late to tell `create`: say it on the container's stderr and stop.
            let msg = format!("mote: {e}\n");
            let _ = fs::write_all(2, msg.as_bytes());
            proc::exit_now(1);
        }
    }
    drop(listener);
    exec_or_exit(&c_path, &path, &argv, &envp)
}

/// process.env with `extra` (KEY=VALUE) set over it: an entry of `extra` replaces the one with
/// the same KEY, or is added at the end.
pub fn merge_env<'e>(env: impl Iterator<Item = &'e str>, extra: &[&'e str]) -> Vec<&'e str> {
    let key = |e: &'e str| e.split_once('=').map_or(e, |(k, _)| k);
    let mut out: Vec<&str> = env.filter(|e| !extra.iter().any(|x| key(x) == key(e))).collect();
    out.extend_from_slice(extra);
    out
}

/// Make the caller's chosen files (`fds`) the process's fds 0, 1, 2... just before exec: all of
/// them, or only those from 3 up when the process has a terminal (which is its stdio). `keep`
/// (an fd still needed: the seccomp listener connection) is first moved above them.
pub fn install_fds(fds: &[i32], terminal: bool, keep: Option<OwnedFd>) -> Result<Option<OwnedFd>> {
    if fds.is_empty() {
        return Ok(keep);
    }
    let keep = match keep {
        Some(k) if (k.as_raw_fd() as usize) < fds.len() => {
            Some(sys::dup_above(k.as_raw_fd(), fds.len() as i32).step("move the listener connection")?)
        }
        k => k,
    };
    sys::install_fds(fds, if terminal { 3 } else { 0 }).step("install the process's fds")?;
    Ok(keep)
}

/// Execute the container's program; if that fails, say so on its stderr (too late to tell
/// `create` or `exec`, as with runc) and exit 127 (not found) or 126.
pub fn exec_or_exit(c_path: &CString, path: &str, argv: &proc::CArray, envp: &proc::CArray) -> ! {
    let e = proc::execve(c_path, argv, envp);
    let msg = format!(
        "mote: exec {:?}: {} ({})\n",
        path,
        crate::error::errno_name(e),
        crate::error::errno_text(e)
    );
    let _ = fs::write_all(2, msg.as_bytes());
    proc::exit_now(if e == libc::ENOENT { 127 } else { 126 })
}

/// Connect to a unix stream socket (the seccomp listener).
pub(crate) fn connect_unix(path: &str, what: &'static str) -> Result<OwnedFd> {
    use rustix::net::{connect, socket_with, AddressFamily, SocketAddrUnix, SocketFlags, SocketType};
    let fd = socket_with(AddressFamily::UNIX, SocketType::STREAM, SocketFlags::CLOEXEC, None).step("socket")?;
    let addr = SocketAddrUnix::new(path).step_ctx(what, format_args!("{path}: not a usable unix socket path"))?;
    connect(&fd, &addr).step_ctx(what, format_args!("{path}"))?;
    Ok(fd)
}

/// Load the filter; with a listener, send its fd and the container process state to
/// linux.seccomp.listenerPath (runtime-spec "Seccomp notify").
pub(crate) fn load_seccomp(
    l: &Launch<'_>,
    prog: &crate::security::seccomp::Program,
    sock: Option<&OwnedFd>,
    pid: i32,
) -> Result<()> {
    let fd = crate::security::seccomp::install(prog)?;
    let (Some(fd), Some(sock)) = (fd, sock) else {
        return Ok(());
    };
    let state = listener_message(l.cfg, &(l.state)("creating", pid), pid);
    sys::send_fd(sock.as_raw_fd(), state.as_bytes(), fd.as_raw_fd()).step("send the seccomp listener fd")
}

/// The message sent with a seccomp listener fd to linux.seccomp.listenerPath: runtime-spec's
/// container process state (the fd's name, the process's pid, listenerMetadata, and the
/// container's `state`).
pub(crate) fn listener_message(cfg: &crate::spec::Config<'_>, state: &str, pid: i32) -> String {
    let sc = cfg.spec.linux.as_ref().and_then(|x| x.seccomp.as_ref());
    let meta = sc.and_then(|s| s.listener_metadata).map(|m| m.0).unwrap_or("");
    format!(
        "{{\"ociVersion\":\"{}\",\"fds\":[\"seccompFd\"],\"pid\":{pid},\"metadata\":{},\"state\":{state}}}",
        crate::SPEC_VERSION,
        crate::spec::out::JsonStr(meta),
    )
}

/// Close every fd from `first` up, but those in `keep`.
pub(crate) fn close_inherited(first: u32, keep: &[u32]) -> Result<()> {
    let mut ks: heapless::Vec<u32, 16> = heapless::Vec::new();
    for k in keep.iter().copied().filter(|k| *k >= first) {
        ks.push(k)
            .map_err(|_| Error::failed("close inherited fds").ctx(format_args!("more than 16 fds to keep")))?;
    }
    ks.sort_unstable();
    let mut from = first;
    let mut r = Ok(());
    for &k in &ks {
        if k > from {
            r = r.and(sys::close_range(from, k - 1));
        }
        from = k + 1;
    }
    r = r.and(sys::close_range(from, u32::MAX));
    match r {
        Ok(()) => Ok(()),
        Err(libc::ENOSYS) | Err(libc::EINVAL) => {
            // Before Linux 5.9: close them one by one from /proc/self/fd.
            let d = fs::open("/proc/self/fd", libc::O_RDONLY | libc::O_DIRECTORY, 0).step("open /proc/self/fd")?;
            let me = d.as_raw_fd();
            let names = fs::list_dir(me).step("list /proc/self/fd")?;
            for n in names {
                if let Ok(fd) = n.parse::<u32>() {
                    if fd >= first && !keep.contains(&fd) && fd as i32 != me {
                        sys::close_raw(fd as i32);
                    }
                }
            }
            Ok(())
        }
        Err(e) => Err(Error::sys("close inherited fds", e)),
    }
}

pub(crate) fn mark_cloexec_slow(first: u32) -> sys::SysResult<()> {
    let d = fs::open("/proc/self/fd", libc::O_RDONLY | libc::O_DIRECTORY, 0)?;
    for n in fs::list_dir(d.as_raw_fd())? {
        if let Ok(fd) = n.parse::<i32>() {
            if fd >= first as i32 && fd != d.as_raw_fd() {
                let _ = sys::set_cloexec(fd, true);
            }
        }
    }
    Ok(())
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

pub fn rlimit_number(name: &str) -> Option<i32> {
    Some(match name {
        "RLIMIT_CPU" => 0,
        "RLIMIT_FSIZE" => 1,
        "RLIMIT_DATA" => 2,
        "RLIMIT_STACK" => 3,
        "RLIMIT_CORE" => 4,
        "RLIMIT_RSS" => 5,
        "RLIMIT_NPROC" => 6,
        "RLIMIT_NOFILE" => 7,
        "RLIMIT_MEMLOCK" => 8,
        "RLIMIT_AS" => 9,
        "RLIMIT_LOCKS" => 10,
        "RLIMIT_SIGPENDING" => 11,
        "RLIMIT_MSGQUEUE" => 12,
        "RLIMIT_NICE" => 13,
        "RLIMIT_RTPRIO" => 14,
        "RLIMIT_RTTIME" => 15,
        _ => return None,
    })
}

fn apply_scheduler(cfg: &Config<'_>, sc: &crate::spec::Scheduler<'_>) -> Result<()> {
    let policy = match sc.policy.0 {
        "SCHED_OTHER" => 0,
        "SCHED_FIFO" => 1,
        "SCHED_RR" => 2,
        "SCHED_BATCH" => 3,
        "SCHED_ISO" => 4,
        "SCHED_IDLE" => 5,
        _ => 6,
    };
    let mut flags = 0u64;
    for f in cfg.strs(sc.flags) {
        flags |= match f.0 {
            "SCHED_FLAG_RESET_ON_FORK" => 0x01,
            "SCHED_FLAG_RECLAIM" => 0x02,
            "SCHED_FLAG_DL_OVERRUN" => 0x04,
            "SCHED_FLAG_KEEP_POLICY" => 0x08,
            "SCHED_FLAG_KEEP_PARAMS" => 0x10,
            "SCHED_FLAG_UTIL_CLAMP_MIN" => 0x20,
            _ => 0x40,
        };
    }
    sys::sched_setattr(
        policy,
        flags,
        sc.nice.unwrap_or(0),
        sc.priority.unwrap_or(0) as u32,
        sc.runtime.unwrap_or(0),
        sc.deadline.unwrap_or(0),
        sc.period.unwrap_or(0),
    )
    .step_ctx("sched_setattr", format_args!("{}", sc.policy))
}

/// process.terminal: a new pseudo-terminal whose master goes to the --console-socket
/// connection `console` (as runc sends it: SCM_RIGHTS, the name "/dev/ptmx" as the message)
/// and whose slave becomes this process's controlling terminal and stdio, owned by the
/// process's user. Needs a session of our own (setsid) and the container's /dev.
pub fn setup_console(console: i32, size: Option<(u32, u32)>, uid: u32, gid: u32) -> Result<()> {
    let (master, slave) = sys::open_pty().step("open a pseudo-terminal (/dev/ptmx)")?;
    if let Some((rows, cols)) = size {
        let clamp = |v: u32| v.min(u32::from(u16::MAX)) as u16;
        sys::set_winsize(slave.as_raw_fd(), clamp(rows), clamp(cols)).step_ctx(
            "set the terminal size",
            format_args!("process.consoleSize {rows}x{cols}"),
        )?;
    }
    fs::fchown(slave.as_raw_fd(), uid, gid).step("chown the terminal to the process's user")?;
    sys::send_fd(console, b"/dev/ptmx", master.as_raw_fd()).step("send the terminal to --console-socket")?;
    drop(master);
    sys::close_raw(console);
    proc::set_controlling_tty(slave.as_raw_fd()).step("make the terminal the controlling one (TIOCSCTTY)")?;
    for fd in 0..=2 {
        sys::dup2(slave.as_raw_fd(), fd).step("dup2 the terminal onto stdio")?;
    }
    Ok(())
}

/// process.rlimits, ioPriority and scheduler (the init's and `exec`'s).
pub fn apply_process_limits(cfg: &Config<'_>, p: &Process<'_>) -> Result<()> {
    for r in cfg.items(p.rlimits) {
        let res = rlimit_number(&r.kind).ok_or_else(|| Error::input("rlimit").ctx(format_args!("{}", r.kind)))?;
        sys::setrlimit(res, r.soft, r.hard)
            .step_ctx("setrlimit", format_args!("{} soft {} hard {}", r.kind, r.soft, r.hard))?;
    }
    if let Some(io) = &p.io_priority {
        let class = match io.class.0 {
            "IOPRIO_CLASS_RT" => 1,
            "IOPRIO_CLASS_BE" => 2,
            _ => 3,
        };
        sys::ioprio_set(1 /* IOPRIO_WHO_PROCESS */, 0, (class << 13) | io.priority)
            .step_ctx("ioprio_set", format_args!("{} {}", io.class, io.priority))?;
    }
    if let Some(sc) = &p.scheduler {
        apply_scheduler(cfg, sc)?;
    }
    Ok(())
}

/// The cwd must be inside the container: a path that led outside (through a leaked fd or a
/// mount) is named "(unreachable)..." by the kernel.
pub fn check_cwd_inside(cwd: &str) -> Result<()> {
    let mut cwdbuf = [0u8; libc::PATH_MAX as usize];
    match sys::getcwd(&mut cwdbuf) {
        Ok(c) if c.starts_with('/') => Ok(()),
        Ok(c) => Err(Error::failed("process.cwd").ctx(format_args!(
            "{cwd:?} resolves outside the container ({c}): refusing to run there"
        ))),
        Err(e) => Err(Error::sys("getcwd", e).ctx(format_args!("after chdir to {cwd:?}"))),
    }
}

/// The capability sets of a process, as masks (bit N for capability N).
#[derive(Clone, Copy, Default)]
pub struct CapMasks {
    pub bounding: u64,
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
    pub ambient: u64,
}

impl CapMasks {
    /// The masks of process.capabilities.
    pub fn of(cfg: &Config<'_>, c: &crate::spec::Capabilities<'_>) -> CapMasks {
        let m = |l| caps::mask(cfg.opt_strs(l).iter().map(|s| s.0));
        CapMasks {
            bounding: m(c.bounding),
            effective: m(c.effective),
            permitted: m(c.permitted),
            inheritable: m(c.inheritable),
            ambient: m(c.ambient),
        }
    }
}

/// Groups, uid/gid and the five capability sets, in the order the kernel needs: bounding set
/// first (needs CAP_SETPCAP), ids with KEEPCAPS, then the sets, then ambient.
fn set_user_and_caps(cfg: &Config<'_>, p: &Process<'_>, last_cap: u32, sock: &OwnedFd) -> Result<()> {
    let u = &p.user;
    let masks = p.capabilities.as_ref().map(|c| CapMasks::of(cfg, c));
    apply_user_and_caps(u.uid, u.gid, &u.additional_gids, masks, last_cap, sock)
}

/// [`set_user_and_caps`] from plain values (also used by `exec`).
pub fn apply_user_and_caps(
    uid: u32,
    gid: u32,
    groups: &[u32],
    masks: Option<CapMasks>,
    last_cap: u32,
    sock: &OwnedFd,
) -> Result<()> {
    if let Some(c) = masks {
        for cap in 0..=last_cap.min(63) {
            if c.bounding & (1 << cap) == 0 {
                sys::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0).step_ctx(
                    "drop capability from the bounding set",
                    format_args!("{}", caps::NAMES.get(cap as usize).unwrap_or(&"?")),
                )?;
            }
        }
        sys::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0).step("prctl(PR_SET_KEEPCAPS)")?;
    }
    sys::setgroups(groups).step("setgroups")?;
    sys::setresgid(gid, gid, gid).step_ctx("setresgid", format_args!("{gid}"))?;
    sys::setresuid(uid, uid, uid).step_ctx("setresuid", format_args!("{uid}"))?;
    if let Some(c) = masks {
        sys::prctl(libc::PR_SET_KEEPCAPS, 0, 0, 0, 0).step("prctl(PR_SET_KEEPCAPS)")?;
        let sets = sys::CapSets {
            effective: c.effective,
            permitted: c.permitted,
            inheritable: c.inheritable,
        };
        sys::capset(sets).step("capset")?;
        sys::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
            0,
            0,
            0,
        )
        .step("clear ambient capabilities")?;
        for cap in 0..64u32 {
            if c.ambient & (1 << cap) == 0 {
                continue;
            }
            // As runc: a capability that is not also permitted and inheritable cannot be
            // ambient; the process gets less, never more, so warn and go on.
            if let Err(e) = sys::prctl(
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_RAISE as libc::c_ulong,
                cap as libc::c_ulong,
                0,
                0,
            ) {
                sync::send_warning(
                    sock,
                    format_args!(
                        "cannot raise ambient capability {} (it must also be permitted and inheritable): {}",
                        caps::NAMES.get(cap as usize).unwrap_or(&"?"),
                        crate::error::errno_name(e)
                    ),
                );
            }
        }
    }
    Ok(())
}

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

fn is_executable(path: &str) -> Result<(), i32> {
    let st = fs::fstatat(fs::AT_FDCWD, path, 0)?;
    if st.st_mode & libc::S_IFMT != libc::S_IFREG {
        return Err(libc::EACCES);
    }
    let mut b = sys::CBuf::uninit();
    sys::access_effective(b.set(path)?, libc::X_OK)
}

/// Find the program as execvp would, with the container's PATH. Error texts follow runc's,
/// which podman maps to exit codes 127 (not found) and 126 (not executable).
pub fn find_executable<'e>(arg0: &str, env: impl DoubleEndedIterator<Item = &'e str>) -> Result<String> {
    if arg0.contains('/') {
        return match is_executable(arg0) {
            Ok(()) => Ok(arg0.to_string()),
            Err(libc::ENOENT) => {
                Err(Error::new(Kind::Failed, "exec:").ctx(format_args!("{arg0:?}: no such file or directory")))
            }
            Err(e) => Err(Error::new(Kind::Failed, "exec:")
                .ctx(format_args!("{arg0:?}: permission denied"))
                .with_errno(e)),
        };
    }
    let path = env.rev().find_map(|e| e.strip_prefix("PATH=")).unwrap_or(DEFAULT_PATH);
    let mut denied = false;
    for dir in path.split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let cand = format!("{dir}/{arg0}");
        match is_executable(&cand) {
            Ok(()) => return Ok(cand),
            Err(libc::EACCES) => denied = true,
            Err(_) => {}
        }
    }
    if denied {
        return Err(Error::new(Kind::Failed, "exec:").ctx(format_args!("{arg0:?}: permission denied")));
    }
    Err(Error::new(Kind::Failed, "exec:").ctx(format_args!("{arg0:?}: executable file not found in $PATH")))
}
