//! Container lifecycle operations: the library the CLI and the supervisor call.
//!
//! `create` is the only one that forks; it owns the rule that a failure leaves nothing behind
//! (see [`Undo`]).

use crate::prelude::*;

pub mod console;
pub mod exec;
pub mod hooks;
pub mod idmap;
pub mod state;

use crate::cgroup::Cgroup;
use crate::error::{Error, Kind, Result, Step};
use crate::process::{self, sync, sync::Tag, Launch};
use crate::spec::{self, Config};
use crate::sys::{self, fs, proc};
use rustix::fd::{AsRawFd, OwnedFd};
use state::{Root, Status};

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
}

/// A created container.
pub struct Created {
    pub pid: i32,
    pub start_time: u64,
    pub cgroup: Option<Cgroup>,
    /// The state directory.
    pub dir: OwnedFd,
    /// Its config (for the poststart hooks of `run`).
    pub cfg: &'static Config<'static>,
    /// Our end of the console pair ([`CreateOpts::relay_terminal`]).
    pub console: Option<OwnedFd>,
}

/// What `create` has made so far, undone in reverse on failure.
struct Undo<'r> {
    root: &'r Root,
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

/// Load config.json from a bundle directory, with the error a user can act on.
pub fn load_config(bundle: &str) -> Result<&'static Config<'static>> {
    let path = format!("{bundle}/config.json");
    spec::load_config_static(&path).map_err(|e| match e {
        spec::LoadError::Io(errno) => Error::sys("open config.json", errno).ctx(format_args!("in bundle {bundle}")),
        spec::LoadError::Json(j) => Error::new(Kind::Input, "config.json:").ctx(format_args!("{j}")),
    })
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
    }
    let Some(l) = cfg.spec.linux.as_ref() else {
        return Err(crate::spec::validate::at(
            format_args!("linux.namespaces"),
            format_args!("a mount namespace is required"),
        ));
    };
    if !cfg.has_ns("mount") {
        return Err(crate::spec::validate::at(
            format_args!("linux.namespaces"),
            format_args!("a \"mount\" namespace is required: mote will not change the host's mounts"),
        ));
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
        process::write_proc(&format!("/proc/{pid}/{file}"), text.as_bytes()).map_err(|e| {
            e.ctx(format_args!(
                " (linux.{}Mappings)",
                if file == "uid_map" { "uid" } else { "gid" }
            ))
        })?;
    }
    Ok(())
}

/// The bundle's absolute path.
pub fn bundle_path(b: Option<&str>) -> Result<String> {
    let b = b.unwrap_or(".");
    fs::realpath(b).step_ctx("bundle", format_args!("{b}"))
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

/// Write a pid file atomically.
pub fn write_pid_file(path: &str, pid: i32) -> Result<()> {
    let abs = if path.starts_with('/') {
        path.to_string()
    } else {
        let mut buf = [0u8; libc::PATH_MAX as usize];
        let cwd = crate::sys::getcwd(&mut buf).map_err(|e| Error::sys("getcwd", e))?;
        format!("{cwd}/{path}")
    };
    let (dir, name) = abs.rsplit_once('/').unwrap_or(("/", &abs));
    let dir = if dir.is_empty() { "/" } else { dir };
    let dfd = fs::open(dir, libc::O_RDONLY | libc::O_DIRECTORY, 0)
        .step_ctx("open pid file directory", format_args!("{dir}"))?;
    let mut s: heapless::String<16> = heapless::String::new();
    let _ = core::fmt::write(&mut s, format_args!("{pid}"));
    fs::write_atomic(dfd.as_raw_fd(), name, s.as_bytes(), 0o644).step_ctx("write pid file", format_args!("{abs}"))
}

/// Send a pidfd of `pid` over a connected --pidfd-socket (SCM_RIGHTS, with `msg` as the body:
/// "standard" for an init, "setns" for an exec'd process, as runc sends them).
pub(crate) fn send_pidfd(sock: &OwnedFd, pid: i32, msg: &[u8], path: &str) -> Result<()> {
    let pfd = proc::pidfd_open(pid).map_err(|e| {
        let why = if e == libc::ENOSYS {
            ": pidfds need Linux 5.3; drop --pidfd-socket"
        } else {
            ""
        };
        Error::sys("pidfd_open for --pidfd-socket", e).ctx(format_args!("pid {pid}{why}"))
    })?;
    sys::send_fd(sock.as_raw_fd(), msg, pfd.as_raw_fd())
        .step_ctx("send the pidfd to --pidfd-socket", format_args!("{path}"))
}

/// `create`: set the container up and leave its init waiting for `start`.
pub fn create(root: &Root, o: &CreateOpts<'_>, warn: &mut dyn FnMut(core::fmt::Arguments<'_>)) -> Result<Created> {
    state::validate_id(o.id)?;
    let bundle = bundle_path(o.bundle)?;
    let cfg = load_config(&bundle)?;
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

    let cg_path = Cgroup::path_for(o.id, linux.and_then(|l| l.cgroups_path).map(|p| p.0), o.systemd_cgroup)?;
    let need = crate::cgroup::resources::controllers_needed(cfg);
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
    let single_stage = !cfg.has_ns("user");
    let launch = Launch {
        cfg,
        rootfs: &rootfs,
        bundle: &bundle,
        fifo: &fifo_path,
        no_pivot: o.no_pivot,
        preserve_fds: o.preserve_fds,
        cgroup: Some(&cg),
        single_stage,
        id: o.id,
        seccomp: seccomp.as_ref(),
        console: console.as_ref().map(|c| c.as_raw_fd()),
    };
    let init = if single_stage {
        // One fork: the init is our child, in the pid (and time) namespace made for it here.
        let ns = process::enter_child_namespaces(cfg)?;
        let forked = proc::fork();
        if let Ok(proc::Fork::Child) = forked {
            drop(parent_sock);
            process::init(&launch, &child_sock)
        }
        process::leave_child_namespaces(ns)?;
        let init = match forked.step("fork the container init")? {
            proc::Fork::Parent(pid) => pid,
            proc::Fork::Child => unreachable_child(),
        };
        drop(child_sock);
        let _ = undo.pids.push(init);
        cg.join(init)?;
        for (i, tree) in idmap::prepare(cfg, &bundle, None)? {
            sync::send_mount_fd(&parent_sock, i, &tree)?;
        }
        sync::send(&parent_sock, Tag::Go, init)?;
        init
    } else {
        // A user namespace: stage 1 makes it, then the pid namespace inside it, and forks the
        // init, which comes back to us (child subreaper) when stage 1 exits.
        sys::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0).step("prctl(PR_SET_CHILD_SUBREAPER)")?;
        let stage1 = match proc::fork().step("fork")? {
            proc::Fork::Child => {
                drop(parent_sock);
                process::stage1(&launch, &child_sock)
            }
            proc::Fork::Parent(pid) => pid,
        };
        drop(child_sock);
        let _ = undo.pids.push(stage1);
        cg.join(stage1)?;
        sync::send(&parent_sock, Tag::Go, 0)?;
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
        sync::send(&parent_sock, Tag::Go, init)?;
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
                let st = hooks::state_json(o.id, "creating", init, &bundle, cfg.map(cfg.spec.annotations));
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
        &state::NewState {
            id: o.id,
            pid: init,
            start_time,
            bundle: &bundle,
            rootfs: &rootfs,
            annotations: cfg.map(cfg.spec.annotations),
            cgroup: Some(&cg.path),
            cgroup_dirs: &cg.dirs,
            systemd_cgroup: o.systemd_cgroup,
            created: &created,
            hooks: hooks::any(cfg, hooks::Kind::Poststart) || hooks::any(cfg, hooks::Kind::Poststop),
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
        cfg,
        console: relay_end,
    })
}

/// The child side of a fork that is handled above it: never reached.
fn unreachable_child() -> ! {
    proc::exit_now(1)
}

/// A container's state directory and parsed state.
pub struct Handle {
    pub id: String,
    pub dir: OwnedFd,
    pub state: Option<state::Loaded>,
}

impl Handle {
    pub fn open(root: &Root, id: &str) -> Result<Handle> {
        state::validate_id(id)?;
        let dir = root.container_dir(id)?;
        let state = state::read(&dir, id)?;
        Ok(Handle {
            id: id.to_string(),
            dir,
            state,
        })
    }
    pub fn status(&self) -> Status {
        state::status(&self.dir, self.state.as_ref().map(|s| &s.st))
    }
    pub fn pid(&self) -> i32 {
        self.state.as_ref().map_or(0, |s| s.st.pid)
    }
    pub fn cgroup(&self) -> Option<Cgroup> {
        let s = self.state.as_ref()?;
        let path = s.st.cgroup?;
        let dirs = s.cgroup_dirs();
        if dirs.is_empty() {
            return Cgroup::load(&path);
        }
        Some(Cgroup {
            mode: crate::cgroup::mode()?,
            path: path.to_string(),
            dirs: dirs.iter().map(|d| d.to_string()).collect(),
        })
    }
}

/// `start`: let the created container's init execute its process.
pub fn start(root: &Root, id: &str) -> Result<()> {
    let h = Handle::open(root, id)?;
    match h.status() {
        Status::Created => {}
        Status::Stopped => {
            return Err(Error::failed("start").ctx(format_args!("cannot start a container that has stopped")))
        }
        Status::Creating => {
            return Err(Error::failed("start").ctx(format_args!("container {id:?} is still being created")))
        }
        s => return Err(Error::failed("start").ctx(format_args!("cannot start an already {} container", s.as_str()))),
    }
    release(&h.dir)?;
    if let Some(st) = h.state.as_ref().filter(|s| s.st.hooks) {
        let cfg = load_config(&st.st.bundle)?;
        poststart(cfg, id, h.pid(), &st.st.bundle)?;
    }
    Ok(())
}

/// The poststart hooks, once the program has been let go; a failure kills the container
/// (as runc) and is the error.
fn poststart(cfg: &Config<'_>, id: &str, pid: i32, bundle: &str) -> Result<()> {
    if !hooks::any(cfg, hooks::Kind::Poststart) {
        return Ok(());
    }
    let st = hooks::state_json(id, "running", pid, bundle, cfg.map(cfg.spec.annotations));
    hooks::run(cfg, hooks::Kind::Poststart, &st).inspect_err(|_| {
        let _ = proc::kill(pid, libc::SIGKILL);
    })
}

/// Let a created init go: write the exec fifo it waits on, then remove the fifo.
fn release(dir: &OwnedFd) -> Result<()> {
    let fifo = match fs::openat(dir.as_raw_fd(), state::FIFO, libc::O_WRONLY | libc::O_NONBLOCK, 0) {
        Ok(f) => f,
        Err(libc::ENXIO) => {
            return Err(Error::failed("start").ctx(format_args!(
                "the container's init is no longer waiting (it has exited)"
            )))
        }
        Err(libc::ENOENT) => {
            return Err(Error::failed("start").ctx(format_args!("cannot start an already running container")))
        }
        Err(e) => return Err(Error::sys("open exec fifo", e)),
    };
    fs::write_all(fifo.as_raw_fd(), b"0").step("write exec fifo")?;
    drop(fifo);
    fs::unlinkat(dir.as_raw_fd(), state::FIFO, 0).step("remove exec fifo")?;
    Ok(())
}

/// Parse a signal given as a name (`KILL`, `SIGKILL`) or a number (`9`).
pub fn parse_signal(s: &str) -> Result<i32> {
    if let Ok(n) = s.parse::<i32>() {
        if (1..=64).contains(&n) {
            return Ok(n);
        }
    }
    let name = s.strip_prefix("SIG").unwrap_or(s).to_ascii_uppercase();
    let n = match name.as_str() {
        "HUP" => libc::SIGHUP,
        "INT" => libc::SIGINT,
        "QUIT" => libc::SIGQUIT,
        "ILL" => libc::SIGILL,
        "TRAP" => libc::SIGTRAP,
        "ABRT" | "IOT" => libc::SIGABRT,
        "BUS" => libc::SIGBUS,
        "FPE" => libc::SIGFPE,
        "KILL" => libc::SIGKILL,
        "USR1" => libc::SIGUSR1,
        "SEGV" => libc::SIGSEGV,
        "USR2" => libc::SIGUSR2,
        "PIPE" => libc::SIGPIPE,
        "ALRM" => libc::SIGALRM,
        "TERM" => libc::SIGTERM,
        "STKFLT" => libc::SIGSTKFLT,
        "CHLD" | "CLD" => libc::SIGCHLD,
        "CONT" => libc::SIGCONT,
        "STOP" => libc::SIGSTOP,
        "TSTP" => libc::SIGTSTP,
        "TTIN" => libc::SIGTTIN,
        "TTOU" => libc::SIGTTOU,
        "URG" => libc::SIGURG,
        "XCPU" => libc::SIGXCPU,
        "XFSZ" => libc::SIGXFSZ,
        "VTALRM" => libc::SIGVTALRM,
        "PROF" => libc::SIGPROF,
        "WINCH" => libc::SIGWINCH,
        "IO" | "POLL" => libc::SIGIO,
        "PWR" => libc::SIGPWR,
        "SYS" => libc::SIGSYS,
        _ => {
            if let Some(off) = name.strip_prefix("RTMIN+").and_then(|v| v.parse::<i32>().ok()) {
                return Ok(34 + off).and_then(|n| if n <= 64 { Ok(n) } else { Err(bad_signal(s)) });
            }
            if name == "RTMIN" {
                34
            } else if name == "RTMAX" {
                64
            } else {
                return Err(bad_signal(s));
            }
        }
    };
    Ok(n)
}

fn bad_signal(s: &str) -> Error {
    Error::usage("kill").ctx(format_args!(
        "{s:?} is not a signal: give a name (TERM, SIGKILL) or a number from 1 to 64"
    ))
}

/// `kill`: signal the init, or with `all` every process of the container.
pub fn kill(root: &Root, id: &str, sig: i32, all: bool) -> Result<()> {
    let h = Handle::open(root, id)?;
    let status = h.status();
    if all {
        if let Some(cg) = h.cgroup() {
            let pids = cg.procs()?;
            if !pids.is_empty() {
                for p in pids {
                    let _ = proc::kill(p, sig);
                }
                return Ok(());
            }
        }
    }
    if matches!(status, Status::Stopped | Status::Creating) {
        return Err(Error::failed("kill").ctx(format_args!("container {id:?} is not running")));
    }
    let pid = h.pid();
    // A pidfd makes sure the signal reaches the init, not a process that reused its pid.
    match proc::pidfd_open(pid) {
        Ok(pfd) => {
            if !state::init_alive(pid, h.state.as_ref().map_or(0, |s| s.st.start_time)) {
                return Err(Error::failed("kill").ctx(format_args!("container {id:?} is not running")));
            }
            proc::pidfd_send_signal(pfd.as_raw_fd(), sig).step_ctx("kill", format_args!("pid {pid}"))
        }
        Err(libc::ENOSYS) => proc::kill(pid, sig).step_ctx("kill", format_args!("pid {pid}")),
        Err(e) => Err(Error::sys("pidfd_open", e).ctx(format_args!("pid {pid}"))),
    }
}

/// Wait until `pid` has exited (not reaped: it may not be our child). Returns false on timeout.
fn wait_gone(pid: i32, start_time: u64, timeout_ms: i32) -> bool {
    if let Ok(pfd) = proc::pidfd_open(pid) {
        if !state::init_alive(pid, start_time) {
            return true;
        }
        return matches!(sys::poll1(pfd.as_raw_fd(), libc::POLLIN, timeout_ms), Ok(r) if r != 0);
    }
    let mut waited = 0;
    while state::init_alive(pid, start_time) {
        if waited >= timeout_ms {
            return false;
        }
        crate::sys::env::sleep(core::time::Duration::from_millis(2));
        waited += 2;
    }
    true
}

/// `delete`: remove a stopped (or created) container; with `force`, kill it first.
pub fn delete(root: &Root, id: &str, force: bool, warn: &mut dyn FnMut(core::fmt::Arguments<'_>)) -> Result<()> {
    let h = match Handle::open(root, id) {
        Ok(h) => h,
        Err(e) if force && e.context.contains("does not exist") => return Ok(()),
        Err(e) => return Err(e),
    };
    let status = h.status();
    match status {
        Status::Stopped | Status::Created | Status::Creating => {}
        Status::Running | Status::Paused if force => {}
        s => {
            return Err(Error::failed("delete").ctx(format_args!(
                "cannot delete container {id:?} that is not stopped: {} (use --force)",
                s.as_str()
            )))
        }
    }
    let pid = h.pid();
    let start_time = h.state.as_ref().map_or(0, |s| s.st.start_time);
    destroy(root, id, status, pid, start_time, h.cgroup().as_ref())?;
    // The poststop hooks, once the container is gone.
    if let Some(st) = h.state.as_ref().filter(|s| s.st.hooks) {
        match load_config(&st.st.bundle) {
            Ok(cfg) => poststop(cfg, id, pid, &st.st.bundle, warn),
            Err(e) => warn(format_args!("poststop hooks not run: {e}")),
        }
    }
    Ok(())
}

/// The poststop hooks (by `delete`, and by `run` once its container is gone): a failure is a
/// warning, as the spec says.
fn poststop(cfg: &Config<'_>, id: &str, pid: i32, bundle: &str, warn: &mut dyn FnMut(core::fmt::Arguments<'_>)) {
    let st = hooks::state_json(id, "stopped", pid, bundle, cfg.map(cfg.spec.annotations));
    if let Err(e) = hooks::run(cfg, hooks::Kind::Poststop, &st) {
        warn(format_args!("{e}"));
    }
}

/// Remove a container: kill what runs (init and everything in its cgroup), wait for the init
/// to exit, remove the cgroup and the state directory.
fn destroy(root: &Root, id: &str, status: Status, pid: i32, start_time: u64, cg: Option<&Cgroup>) -> Result<()> {
    if status == Status::Paused {
        if let Some(cg) = cg {
            let _ = crate::cgroup::resources::freeze(cg, false);
        }
    }
    let alive = !matches!(status, Status::Stopped | Status::Creating);
    if alive {
        let _ = proc::kill(pid, libc::SIGKILL);
    }
    if let Some(cg) = cg {
        // cgroup v2: one write kills them all; the loop below then only confirms.
        let _ = cg.kill_all();
        for _ in 0..50 {
            let pids = cg.procs().unwrap_or_default();
            if pids.is_empty() {
                break;
            }
            for p in pids {
                let _ = proc::kill(p, libc::SIGKILL);
            }
            crate::sys::env::sleep(core::time::Duration::from_millis(2));
        }
    }
    if alive && !wait_gone(pid, start_time, 5000) {
        return Err(Error::failed("delete").ctx(format_args!(
            "container {id:?}: the init (pid {pid}) did not exit after SIGKILL"
        )));
    }
    if let Some(cg) = cg {
        cg.destroy()?;
    }
    root.remove_container_dir(id)
}

/// `run`: create, start, and (unless detached) wait and return the exit code.
pub fn run(
    root: &Root,
    o: &CreateOpts<'_>,
    detach: bool,
    keep: bool,
    warn: &mut dyn FnMut(core::fmt::Arguments<'_>),
) -> Result<i32> {
    // Signals arriving while we wait are forwarded to the container: block them now so none
    // is lost between `start` and the wait loop. The init unblocks all before exec.
    let mut set = proc::SigSet::empty();
    for s in FORWARDED {
        set.add(*s);
    }
    set.add(libc::SIGCHLD);
    let old = if detach {
        None
    } else {
        Some(proc::sigprocmask(libc::SIG_BLOCK, &set).step("sigprocmask")?)
    };
    let o = &CreateOpts {
        relay_terminal: !detach && o.console_socket.is_none(),
        ..*o
    };
    let mut c = create(root, o, warn)?;
    // A terminal relayed by us: its master came over the pair before READY.
    let master = match c.console.take().map(|ours| console::receive_master(&ours)) {
        Some(Err(e)) => {
            let _ = destroy(root, o.id, Status::Created, c.pid, c.start_time, c.cgroup.as_ref());
            return Err(e);
        }
        Some(Ok(m)) => Some(m),
        None => None,
    };
    if let Err(e) = release(&c.dir) {
        let _ = destroy(root, o.id, Status::Created, c.pid, c.start_time, c.cgroup.as_ref());
        return Err(e);
    }
    if let Some(b) = c.cfg.spec.hooks.as_ref().map(|_| bundle_path(o.bundle)).transpose()? {
        poststart(c.cfg, o.id, c.pid, &b)?;
    }
    if detach {
        return Ok(0);
    }
    let code = match master {
        Some(m) => console::relay(m, c.pid, &set)?,
        None => wait_forwarding(c.pid, &set)?,
    };
    if let Some(old) = old {
        let _ = proc::sigprocmask(libc::SIG_SETMASK, &old);
    }
    if !keep {
        // The init is reaped: only what it left in its cgroup, the cgroup and the state go.
        destroy(root, o.id, Status::Stopped, c.pid, c.start_time, c.cgroup.as_ref())?;
        if hooks::any(c.cfg, hooks::Kind::Poststop) {
            poststop(c.cfg, o.id, c.pid, &bundle_path(o.bundle)?, warn);
        }
    }
    Ok(code)
}

/// Wait for our child `pid` to end, forwarding the signals of `set` (blocked by the caller) but
/// SIGCHLD to it; reaps every child that ends meanwhile. Returns its exit code (128+N for a
/// signal).
fn wait_forwarding(pid: i32, set: &proc::SigSet) -> Result<i32> {
    loop {
        let sig = proc::sigwait(set).step("sigwaitinfo")?;
        if sig == libc::SIGCHLD {
            let mut done = None;
            loop {
                match proc::waitpid(-1, libc::WNOHANG) {
                    Ok((0, _)) | Err(_) => break,
                    Ok((p, st)) if p == pid => done = Some(proc::exit_code(st)),
                    Ok(_) => {}
                }
            }
            if let Some(code) = done {
                return Ok(code);
            }
        } else {
            let _ = proc::kill(pid, sig);
        }
    }
}

/// Signals `run` and `exec` forward to the container's process.
const FORWARDED: &[i32] = &[
    libc::SIGHUP,
    libc::SIGINT,
    libc::SIGQUIT,
    libc::SIGTERM,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGWINCH,
    libc::SIGCONT,
    libc::SIGALRM,
    libc::SIGPIPE,
];

/// `update`: apply linux.resources documents (a `--resources` file, then the flags turned into
/// one) to a running container's cgroup.
pub fn update(root: &Root, id: &str, inputs: &[(&str, Vec<u8>)]) -> Result<()> {
    let h = Handle::open(root, id)?;
    if matches!(h.status(), Status::Stopped | Status::Creating) {
        return Err(Error::failed("update").ctx(format_args!("container {id:?} is not running")));
    }
    let mut cg = h
        .cgroup()
        .ok_or_else(|| Error::failed("update").ctx(format_args!("container {id:?} has no cgroup")))?;
    for (what, input) in inputs {
        let mut arena = vec![0u8; input.len()];
        let mut cfg = Config {
            spec: spec::Spec::default(),
            pools: Default::default(),
        };
        let r = spec::parse_doc::<spec::Resources<'_>>(input, &mut arena, &mut cfg.pools)
            .map_err(|e| Error::input("resources:").ctx(format_args!("{what}: {e}")))?;
        crate::cgroup::resources::check_supported(&cfg, &r)?;
        let need = crate::cgroup::resources::controllers_for(&r);
        if cg.add_controllers(&need)? {
            rewrite_cgroup_dirs(&h, &cg)?;
        }
        crate::cgroup::resources::apply(&cg, &cfg, &r)?;
    }
    Ok(())
}

/// Record a cgroup's directories in state.json again (after `update` added some).
fn rewrite_cgroup_dirs(h: &Handle, cg: &Cgroup) -> Result<()> {
    let Some(s) = h.state.as_ref() else { return Ok(()) };
    state::write(
        &h.dir,
        &state::NewState {
            id: &s.st.id,
            pid: s.st.pid,
            start_time: s.st.start_time,
            bundle: &s.st.bundle,
            rootfs: &s.st.rootfs,
            annotations: s.annotations(),
            cgroup: Some(&cg.path),
            cgroup_dirs: &cg.dirs,
            systemd_cgroup: s.st.systemd_cgroup,
            created: &s.st.created,
            hooks: s.st.hooks,
        },
    )
}

/// `events`: with `once`, print the container's resource statistics and return; else print
/// them every `interval`, and an `oom` event whenever the OOM killer acts, until the
/// container stops.
pub fn events(
    root: &Root,
    id: &str,
    interval: core::time::Duration,
    once: bool,
    out: &mut crate::sys::env::FdWriter,
) -> Result<()> {
    let h = Handle::open(root, id)?;
    let cg = h
        .cgroup()
        .ok_or_else(|| Error::failed("events").ctx(format_args!("container {id:?} has no cgroup")))?;
    let io = |e| Error::sys("events: write", e);
    if once {
        out.write_bytes(crate::cgroup::stats::stats_json(id, &cg).as_bytes());
        return out.flush().map_err(io);
    }
    let mut ooms = crate::cgroup::stats::oom_kills(&cg);
    loop {
        if h.status() == Status::Stopped {
            return Ok(());
        }
        let now = crate::cgroup::stats::oom_kills(&cg);
        if now > ooms {
            ooms = now;
            let line = format!("{{\"type\":\"oom\",\"id\":{}}}\n", crate::spec::out::Esc(id));
            out.write_bytes(line.as_bytes());
        }
        out.write_bytes(crate::cgroup::stats::stats_json(id, &cg).as_bytes());
        out.flush().map_err(io)?;
        crate::sys::env::sleep(interval);
    }
}

/// A decimal number `123` or `1.25`, times `unit`, in integers (no floating point: the float
/// parser and its tables cost 15 KB of binary). The fraction is truncated to whole units.
/// None when the text is not such a number or the result exceeds `max`.
fn scaled_decimal(num: &str, unit: u128, max: u128) -> Option<u128> {
    let (int, frac) = num.split_once('.').unwrap_or((num, ""));
    let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !digits(int) || !digits(frac) || frac.len() > 18 {
        return None;
    }
    let mut v: u128 = 0;
    for b in int.bytes() {
        v = v.checked_mul(10)?.checked_add(u128::from(b - b'0'))?;
        if v > max {
            return None;
        }
    }
    v = v.checked_mul(unit)?;
    let (mut f, mut scale) = (0u128, 1u128);
    for b in frac.bytes() {
        f = f * 10 + u128::from(b - b'0');
        scale *= 10;
    }
    v = v.checked_add(f * unit / scale)?;
    (v <= max).then_some(v)
}

/// A Go-style duration: `5s`, `100ms`, `1m30s`, `1.5s`, or a whole number of seconds.
pub fn parse_duration(s: &str) -> Result<core::time::Duration> {
    let bad = || Error::usage("duration").ctx(format_args!("{s:?}: use a number with a unit, as 5s, 250ms or 1m"));
    if let Ok(n) = s.parse::<u64>() {
        return Ok(core::time::Duration::from_secs(n));
    }
    // At most 10^9 seconds, in nanoseconds.
    const MAX_NS: u128 = 1_000_000_000 * 1_000_000_000;
    let mut total: u128 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let n_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).ok_or_else(bad)?;
        let num = &rest[..n_end];
        rest = &rest[n_end..];
        let u_end = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let unit_ns: u128 = match &rest[..u_end] {
            "ns" => 1,
            "us" | "µs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return Err(bad()),
        };
        total += scaled_decimal(num, unit_ns, MAX_NS).ok_or_else(bad)?;
        rest = &rest[u_end..];
    }
    if total == 0 || total > MAX_NS {
        return Err(bad());
    }
    Ok(core::time::Duration::from_nanos(total as u64))
}

/// A byte size as runc's `update` reads it: `1024`, `512k`, `1.5g` (binary units), or -1.
pub fn parse_bytes(s: &str) -> Result<i64> {
    let bad = || {
        Error::usage("size").ctx(format_args!(
            "{s:?}: use bytes or a number with k, m, g or t (-1: unlimited)"
        ))
    };
    if s == "-1" {
        return Ok(-1);
    }
    let t = s.trim().to_ascii_lowercase();
    let t = t.strip_suffix('b').unwrap_or(&t);
    let (num, mul) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1u128 << 10),
        Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('g') => (&t[..t.len() - 1], 1 << 30),
        Some('t') => (&t[..t.len() - 1], 1 << 40),
        _ => (t, 1),
    };
    let v = scaled_decimal(num, mul, i64::MAX as u128).ok_or_else(bad)?;
    Ok(v as i64)
}

#[cfg(test)]
mod tests {
    use super::{parse_bytes, parse_duration};
    use core::time::Duration;

    #[test]
    fn durations() {
        let d = |s| parse_duration(s).ok();
        assert_eq!(d("5"), Some(Duration::from_secs(5)));
        assert_eq!(d("5s"), Some(Duration::from_secs(5)));
        assert_eq!(d("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(d("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(d("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(d(".5h"), Some(Duration::from_secs(1800)));
        assert_eq!(d("2h3m4s5ms6us7ns"), Some(Duration::new(7384, 5_006_007)));
        assert_eq!(d("10µs"), Some(Duration::from_micros(10)));
        for bad in [
            "",
            "s",
            "0s",
            "-1s",
            "1x",
            "1..2s",
            "1.s5",
            ".s",
            "1e3s",
            "1000000001s",
            "99999999999999999999999h",
        ] {
            assert_eq!(d(bad), None, "{bad}");
        }
    }

    #[test]
    fn byte_sizes() {
        let b = |s| parse_bytes(s).ok();
        assert_eq!(b("-1"), Some(-1));
        assert_eq!(b("1024"), Some(1024));
        assert_eq!(b("512k"), Some(512 << 10));
        assert_eq!(b("64M"), Some(64 << 20));
        assert_eq!(b("64mb"), Some(64 << 20));
        assert_eq!(b("1.5g"), Some(3 << 29));
        assert_eq!(b("2t"), Some(2 << 40));
        assert_eq!(b("8388607t"), Some(8388607 << 40));
        for bad in ["", "k", "-2", "1.2.3m", "12x", "8388608t", "99999999999999999999"] {
            assert_eq!(b(bad), None, "{bad}");
        }
    }
}
