//! `exec`: run one more process in a created or running container, as runc does.
//!
//! The parent (`mote exec`) reads the container's state and config, works out the process
//! (process.json from `--process`, or config.json's process with the command line's args and
//! overrides), compiles the container's seccomp profile, opens the init's namespaces
//! (/proc/PID/ns/*), joins the pid and time ones for its next child, and forks once. The child
//! joins the other namespaces (user first, mount last) and sets the process up as the init
//! does: LSM labels, rlimits, cwd, seccomp, user and capabilities, no_new_privs; it reports
//! READY (or ERROR, which `mote exec` prints) and waits for IN_CGROUP, which the parent sends once it
//! has put the child into the container's cgroup; then it executes the program. The parent
//! writes --pid-file, then returns (`--detach`) or waits, forwarding signals, and exits with
//! the process's status.

use crate::prelude::*;

use super::state::{self, StateRoot, Status};
use super::{load_config, Handle};
use crate::error::{Error, Result, Step};
use crate::process::{self, setup, sync, sync::Tag, CapMasks, ProcessPlan};
use crate::security::caps;
use crate::security::seccomp::Program;
use crate::spec::namespaces;
use crate::spec::Config;
use crate::sys::{self, fs, proc};
use alloc::ffi::CString;
use rustix::fd::{AsRawFd, OwnedFd};

/// What the command line asks of `exec`.
#[derive(Default, Clone, Copy)]
pub struct ExecOpts<'o> {
    pub id: &'o str,
    /// A process.json replacing config.json's process.
    pub process: Option<&'o str>,
    /// The command and its arguments (without --process).
    pub args: &'o [String],
    pub env: &'o [String],
    pub cwd: Option<&'o str>,
    /// UID[:GID].
    pub user: Option<&'o str>,
    pub additional_gids: &'o [u32],
    pub caps: &'o [String],
    pub no_new_privs: bool,
    pub apparmor: Option<&'o str>,
    pub process_label: Option<&'o str>,
    pub detach: bool,
    pub pid_file: Option<&'o str>,
    pub preserve_fds: u32,
    pub ignore_paused: bool,
    pub tty: bool,
    pub console_socket: Option<&'o str>,
    /// `--cgroup` values (`[controller[,controller...]:]path`).
    pub cgroup: &'o [String],
    /// The process's open files: fd i is `fds[i]` (see `CreateOpts::fds`); empty: ours and
    /// `preserve_fds` more.
    pub fds: &'o [i32],
    pub pidfd_socket: Option<&'o str>,
}

/// The process to start, worked out in the parent and inherited by the child.
struct ExecPlan<'c> {
    /// The process (process.json's, or config.json's with the command line's overrides).
    proc: ProcessPlan<'c>,
    apparmor: Option<String>,
    selinux: Option<String>,
    /// Namespaces of the init the child joins, in join order.
    join: Vec<(&'static namespaces::Ns, OwnedFd)>,
    /// A container without a mount namespace (its init chrooted into the rootfs): the init's
    /// root, which the child chroots into.
    root: Option<OwnedFd>,
    /// The --console-socket connection (or the child's end of our pair), when the process
    /// gets a terminal.
    console: Option<OwnedFd>,
    /// Our end of the pair, when we relay the terminal.
    relay: Option<OwnedFd>,
    console_size: Option<(u32, u32)>,
    /// The container's seccomp profile notifies a listener: where its fd goes.
    notify: Option<Notify<'c>>,
}

/// The connection to linux.seccomp.listenerPath and what the state sent with the exec'd
/// process's listener fd says (runtime-spec "Seccomp notify"; the container's config, not
/// process.json, holds the metadata and annotations).
struct Notify<'c> {
    sock: OwnedFd,
    cfg: &'c Config<'c>,
    id: String,
    bundle: String,
    status: &'static str,
}

/// How an `exec` ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The process exited with this code (128+N for signal N).
    Exited(i32),
    /// `detach`: the process runs, a child of the caller, with this pid (the caller reaps it).
    Detached(i32),
}

/// `exec`: run the process, and unless detached wait for it.
pub fn exec(root: &StateRoot, o: &ExecOpts<'_>, warn: &mut dyn FnMut(core::fmt::Arguments<'_>)) -> Result<Outcome> {
    // What mote cannot do yet is refused before anything happens.
    let subs = crate::cgroup::SubCgroup::parse_all(o.cgroup)?;
    let h = Handle::open(root, o.id)?;
    match h.status() {
        Status::Created | Status::Running => {}
        Status::Paused if o.ignore_paused => {}
        Status::Paused => {
            return Err(Error::failed("exec").ctx(format_args!(
                "container {:?} is paused: resume it first, or pass --ignore-paused",
                o.id
            )))
        }
        s => {
            return Err(Error::failed("exec").ctx(format_args!(
                "container {:?} is {}: exec needs a created or running container",
                o.id,
                s.as_str()
            )))
        }
    }
    let st = h.state.as_ref().ok_or_else(|| state::not_found(o.id))?.st();
    let init_pid = h.pid();
    let cfg_doc = load_config(st.bundle.0)?;
    let cfg = cfg_doc.config();
    let pdoc = match o.process {
        Some(path) => Some(load_process(path)?),
        None => None,
    };
    let pcfg = pdoc.as_ref().map_or(cfg, |d| d.config());
    // The container's seccomp profile applies to every process in it.
    let seccomp = match cfg.spec.linux.as_ref().and_then(|l| l.seccomp.as_ref()) {
        Some(sc) => {
            let arch = crate::security::seccomp::Arch::native().ok_or_else(|| {
                Error::not_implemented("seccomp:").ctx(format_args!("no syscall table for this architecture"))
            })?;
            Some(crate::security::seccomp::compile(cfg, sc, arch, warn)?)
        }
        None => None,
    };
    let mut plan = make_plan(pcfg, o, seccomp.as_ref())?;
    // SCMP_ACT_NOTIFY: the exec'd process's filter gets its own listener fd, sent to the
    // container's listenerPath with the process's state (connected now: a listener that is
    // gone fails the exec before anything runs).
    if seccomp.as_ref().is_some_and(|p| p.has_listener()) {
        let path = cfg
            .spec
            .linux
            .as_ref()
            .and_then(|l| l.seccomp.as_ref())
            .and_then(|s| s.listener_path)
            .map(|p| p.0)
            .ok_or_else(|| {
                crate::spec::validate::at(
                    format_args!("linux.seccomp.listenerPath"),
                    format_args!("is required with SCMP_ACT_NOTIFY"),
                )
            })?;
        plan.notify = Some(Notify {
            sock: process::connect_unix(path, "connect to linux.seccomp.listenerPath")?,
            cfg,
            id: o.id.to_string(),
            bundle: st.bundle.0.to_string(),
            status: h.status().as_str(),
        });
    }

    // The init's namespaces, opened now (pid reuse: checked against the state's start time).
    plan.join = open_namespaces(cfg, init_pid)?;
    if !cfg.has_ns("mount") {
        let root = format!("/proc/{init_pid}/root");
        plan.root = Some(
            fs::open(&root, libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC, 0)
                .step_ctx("open the init's root", format_args!("{root}"))?,
        );
    }
    if !state::init_alive(init_pid, st.start_time) {
        return Err(Error::failed("exec").ctx(format_args!("container {:?} is not running", o.id)));
    }
    let cgroup = h.cgroup();
    if !subs.is_empty() {
        match &cgroup {
            Some(cg) if !cg.dirs.is_empty() => cg.check_subs(&subs)?,
            _ => return Err(Error::failed("exec --cgroup").ctx(format_args!("container {:?} has no cgroup", o.id))),
        }
    }
    // --pidfd-socket: connected before the fork (a bad path fails before anything runs).
    let mut pidfd_sock = match o.pidfd_socket {
        Some(path) => Some(process::connect_unix(path, "connect to --pidfd-socket")?),
        None => None,
    };

    // Signals arriving while we wait go to the process: blocked from now on (until this
    // returns), so none is lost.
    let mut set = proc::SigSet::empty();
    for s in super::FORWARDED {
        set.add(*s);
    }
    set.add(libc::SIGCHLD);
    let _blocked = if o.detach {
        None
    } else {
        Some(proc::block_signals(&set).step("sigprocmask")?)
    };

    // pid and time namespaces apply to the next child: joined here, by the parent, and left
    // again once the child is forked (or when `child_ns` drops, on an error).
    let mut child_ns = process::ChildNs::new();
    let mut join = Vec::new();
    for (kind, fd) in plan.join.drain(..) {
        if kind.for_children {
            child_ns.join(&fd, kind, format_args!("{} namespace of pid {init_pid}", kind.name))?;
        } else {
            join.push((kind, fd));
        }
    }
    plan.join = join;

    let (parent_sock, child_sock) = sys::seqpacket_pair().step("socketpair")?;
    sync::bound_waits(&parent_sock, crate::spec::limits::SETUP_TIMEOUT_SECS as u64)?;
    let child = match proc::fork().step("fork")? {
        proc::Fork::Child => {
            drop(parent_sock);
            child_main(plan, &child_sock)
        }
        proc::Fork::Parent(pid) => pid,
    };
    drop(child_sock);
    if let Err(e) = child_ns.leave() {
        let _ = proc::kill(child, libc::SIGKILL);
        let _ = proc::waitpid(child, 0);
        return Err(e);
    }
    // The terminal's master goes from the child to the socket: our copy of the connection goes.
    plan.console = None;
    let relay = plan.relay.take();
    let kill_child = |e: Error| {
        let _ = proc::kill(child, libc::SIGKILL);
        let _ = proc::waitpid(child, 0);
        e
    };
    // With a seccomp listener the child needs its host pid for the state it sends; our copy
    // of the listener connection goes.
    if plan.notify.take().is_some() {
        sync::send(&parent_sock, Tag::Pid, child).map_err(kill_child)?;
    }
    sync::expect_warn(&parent_sock, Tag::Ready, "the exec'd process", warn).map_err(kill_child)?;
    let master = match &relay {
        Some(ours) => Some(super::console::receive_master(ours).map_err(kill_child)?),
        None => None,
    };
    // Into the container's cgroup once set up, before it executes: in a paused container
    // (--ignore-paused) it freezes here, and runs after `resume`.
    if let Some(cg) = &cgroup {
        if subs.is_empty() {
            cg.join(child)
        } else {
            cg.join_sub(child, &subs)
        }
        .map_err(kill_child)?;
    }
    // The pidfd before the process runs its program (as runc sends it); then the connection
    // goes, so a receiver waiting for it to close is not held for the process's lifetime.
    if let Some(sock) = pidfd_sock.take() {
        super::send_pidfd(&sock, child, b"setns", o.pidfd_socket.unwrap_or("")).map_err(kill_child)?;
    }
    sync::send(&parent_sock, Tag::InCgroup, child).map_err(kill_child)?;
    if let Some(pf) = o.pid_file {
        super::write_pid_file(pf, child).map_err(kill_child)?;
    }
    if o.detach {
        return Ok(Outcome::Detached(child));
    }
    let code = match master {
        Some(m) => super::console::relay(m, child, &set)?,
        None => super::run::wait_forwarding(child, &set)?,
    };
    Ok(Outcome::Exited(code))
}

/// Read a process.json (`--process`) into a config holding only that process.
fn load_process(path: &str) -> Result<crate::spec::ConfigDoc> {
    let buf =
        crate::spec::read_input(path).map_err(|e| Error::sys("open process.json", e).ctx(format_args!("{path}")))?;
    if buf.len() > crate::spec::limits::MAX_INPUT_BYTES {
        return Err(Error::input("process.json:").ctx(format_args!(
            "{path}: larger than {} bytes (MAX_INPUT_BYTES in src/spec/limits.rs)",
            crate::spec::limits::MAX_INPUT_BYTES
        )));
    }
    crate::spec::parse_process(buf).map_err(|j| Error::input("process.json:").ctx(format_args!("{j}")))
}

/// The process: `pcfg`'s (config.json's or process.json's), with the command line's overrides.
fn make_plan<'c>(pcfg: &'c Config<'c>, o: &ExecOpts<'c>, seccomp: Option<&'c Program>) -> Result<ExecPlan<'c>> {
    let p = pcfg.spec.process.as_ref().ok_or_else(|| {
        crate::spec::validate::at(
            format_args!("process"),
            format_args!("is required to exec (give --process)"),
        )
    })?;
    // A terminal (-t, or process.terminal): its master goes to --console-socket.
    // In the foreground without a socket, mote relays the terminal itself (a socket pair).
    let (console, relay_end) = match (o.tty || p.terminal, o.console_socket) {
        (true, Some(path)) => (Some(process::connect_unix(path, "connect to --console-socket")?), None),
        (true, None) if !o.detach => {
            let (ours, theirs) = sys::stream_pair().step("socketpair for the terminal")?;
            (Some(theirs), Some(ours))
        }
        (true, None) => {
            return Err(
                Error::usage("exec --tty:").ctx(format_args!("a detached process's terminal needs --console-socket"))
            )
        }
        (false, _) => (None, None),
    };
    let cstr = |what: &'static str, s: &str| {
        CString::new(s).map_err(|_| Error::usage(what).ctx(format_args!("{s:?} holds a NUL byte")))
    };
    // args: the command line's (required without --process), or process.json's.
    let mut args = Vec::new();
    if o.process.is_some() {
        for a in pcfg.strs(p.args) {
            args.push(cstr("process.args", a)?);
        }
    } else {
        for a in o.args {
            args.push(cstr("exec", a)?);
        }
    }
    if args.is_empty() {
        return Err(Error::usage("no command:").ctx(format_args!(
            "mote exec [OPTIONS] ID COMMAND [ARG...], or --process FILE"
        )));
    }
    // env: the process's, then --env, a later KEY replacing an earlier one.
    let mut env: Vec<String> = pcfg.strs(p.env).iter().map(|e| e.0.to_string()).collect();
    for e in o.env {
        if !e.contains('=') {
            return Err(Error::usage("exec --env").ctx(format_args!("{e:?}: use KEY=VALUE")));
        }
        let key = &e[..=e.find('=').unwrap_or(0)];
        env.retain(|x| !x.starts_with(key));
        env.push(e.clone());
    }
    let env = env.iter().map(|e| cstr("exec --env", e)).collect::<Result<Vec<_>>>()?;
    // user: --user UID[:GID] and --additional-gids replace the process's.
    let (mut uid, mut gid) = (p.user.uid, p.user.gid);
    let mut groups: Vec<u32> = p.user.additional_gids.to_vec();
    if let Some(u) = o.user {
        let bad = || Error::usage("exec --user").ctx(format_args!("{u:?}: use UID or UID:GID (numbers)"));
        let (a, b) = u.split_once(':').map_or((u, None), |(a, b)| (a, Some(b)));
        uid = a.parse().map_err(|_| bad())?;
        if let Some(b) = b {
            gid = b.parse().map_err(|_| bad())?;
        }
    }
    if !o.additional_gids.is_empty() {
        groups = o.additional_gids.to_vec();
    }
    // capabilities: --cap adds to bounding, effective and permitted (and ambient where the
    // process already has inheritable ones), as runc does.
    let mut masks = p.capabilities.as_ref().map(|c| CapMasks::of(pcfg, c));
    for name in o.caps {
        let cap = caps::by_name(name).ok_or_else(|| {
            Error::usage("exec --cap").ctx(format_args!("{name:?} is not a capability (CAP_NET_ADMIN, ...)"))
        })?;
        let m = masks.get_or_insert_with(CapMasks::default);
        let bit = 1u64 << cap;
        m.bounding |= bit;
        m.effective |= bit;
        m.permitted |= bit;
        if m.inheritable != 0 {
            m.ambient |= bit;
        }
    }
    let cwd = match o.cwd {
        Some(c) => c.to_string(),
        None if p.cwd.is_empty() => "/".to_string(),
        None => p.cwd.to_string(),
    };
    if !cwd.starts_with('/') {
        return Err(Error::usage("exec --cwd").ctx(format_args!("{cwd:?} must be an absolute path")));
    }
    Ok(ExecPlan {
        proc: ProcessPlan {
            cfg: pcfg,
            process: p,
            args: proc::CArray::new(args),
            env: proc::CArray::new(env),
            cwd: Some(cwd),
            uid,
            gid,
            groups,
            caps: masks,
            no_new_privs: p.no_new_privileges || o.no_new_privs,
            umask: p.user.umask.unwrap_or(0o022),
            personality: None,
            seccomp,
            fds: o.fds,
            preserve_fds: o.preserve_fds,
            terminal: console.is_some(),
            dies_with_parent: true,
        },
        apparmor: o.apparmor.or(p.apparmor_profile.map(|a| a.0)).map(str::to_string),
        selinux: o.process_label.or(p.selinux_label.map(|a| a.0)).map(str::to_string),
        join: Vec::new(),
        root: None,
        console,
        relay: relay_end,
        notify: None,
        console_size: p.console_size.as_ref().map(|c| (c.height, c.width)),
    })
}

/// The init's namespaces that the config lists and that differ from ours, opened, in the order
/// they are joined: user first (it grants the rights to join the others), mount last.
fn open_namespaces(cfg: &Config<'_>, pid: i32) -> Result<Vec<(&'static namespaces::Ns, OwnedFd)>> {
    let mut out = Vec::new();
    for kind in namespaces::ALL {
        if !cfg.has_ns(kind.name) {
            continue;
        }
        let name = kind.proc_name;
        let theirs = format!("/proc/{pid}/ns/{name}");
        let fd = match fs::open(&theirs, libc::O_RDONLY | libc::O_CLOEXEC, 0) {
            Ok(fd) => fd,
            Err(libc::ENOENT) | Err(libc::ESRCH) => {
                return Err(
                    Error::failed("exec").ctx(format_args!("the container is not running (its init {pid} has exited)"))
                )
            }
            Err(e) => return Err(Error::sys("open namespace", e).ctx(format_args!("{theirs}"))),
        };
        // Already ours (a namespace shared with the host): nothing to join (and joining our
        // own user namespace is an error).
        let ours = format!("/proc/self/ns/{name}");
        let same = match (
            fs::fstatat(fd.as_raw_fd(), "", libc::AT_EMPTY_PATH),
            fs::fstatat(fs::AT_FDCWD, &ours, 0),
        ) {
            (Ok(a), Ok(b)) => a.st_dev == b.st_dev && a.st_ino == b.st_ino,
            _ => false,
        };
        if !same {
            out.push((kind, fd));
        }
    }
    Ok(out)
}

/// The forked child: never returns.
fn child_main(plan: ExecPlan<'_>, sock: &OwnedFd) -> ! {
    match child_setup(plan, sock) {
        Ok(never) => match never {},
        Err(e) => {
            sync::send_error(sock, &e);
            proc::exit_now(1)
        }
    }
}

/// The exec'd process's setup (see `process::setup` for the shared steps).
fn child_setup(mut plan: ExecPlan<'_>, sock: &OwnedFd) -> Result<core::convert::Infallible> {
    let mut keep: heapless::Vec<i32, 16> = heapless::Vec::new();
    let _ = keep.push(sock.as_raw_fd());
    for (_, fd) in &plan.join {
        let _ = keep.push(fd.as_raw_fd());
    }
    if let Some(r) = &plan.root {
        let _ = keep.push(r.as_raw_fd());
    }
    for fd in [plan.console.as_ref(), plan.notify.as_ref().map(|n| &n.sock)]
        .into_iter()
        .flatten()
    {
        let _ = keep.push(fd.as_raw_fd());
    }
    setup::begin(&plan.proc, &keep)?;
    // With a seccomp listener, the state sent with its fd names our host pid.
    let listener = match plan.notify.take() {
        Some(n) => {
            let pid = sync::expect(sock, Tag::Pid, "the exec'd process's pid")?.value;
            let st = state::spec_state(&n.id, n.status, pid, &n.bundle, n.cfg.map(n.cfg.spec.annotations));
            Some(setup::Listener {
                message: setup::listener_message(n.cfg, &st, pid),
                conn: n.sock,
            })
        }
        None => None,
    };
    // Read through the host's /proc while it is ours: the labels for the exec, the last
    // capability, the ignored signals.
    crate::security::lsm::set_exec_labels_to(plan.apparmor.as_deref(), plan.selinux.as_deref())?;
    let host = setup::HostView::read();
    // The init's namespaces (pid and time: the parent joined them for us), mount last.
    for (kind, fd) in &plan.join {
        sys::setns(fd.as_raw_fd(), kind.flag).step_ctx("setns", format_args!("{} namespace", kind.name))?;
    }
    // No mount namespace to join: the init's root, by chroot, as the init got it.
    if let Some(r) = plan.root.take() {
        use crate::sys::kernel::Kernel;
        let k = crate::sys::kernel::Live;
        k.fchdir(r.as_raw_fd()).step("chdir into the init's root")?;
        k.chroot(c".").map_err(|e| Error::sys("chroot", e))?;
        k.chdir(c"/").map_err(|e| Error::sys("chdir /", e))?;
    }
    // A session (and process group) of our own, as runc gives it: the caller's would be
    // group 0 inside the pid namespace. The terminal, from the container's /dev/ptmx.
    proc::setsid().step("setsid")?;
    if let Some(c) = &plan.console {
        setup::setup_console(c.as_raw_fd(), plan.console_size, plan.proc.uid, plan.proc.gid)?;
    }
    // The process; its go-ahead is IN_CGROUP, once the parent has put us into the cgroup.
    setup::become_process(&plan.proc, sock, &host, listener, || {
        sync::expect(sock, Tag::InCgroup, "the container's cgroup").map(drop)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> crate::spec::ConfigDoc {
        let json = r#"{"ociVersion":"1.2.0","process":{"args":["sh"],"cwd":"/srv","env":["PATH=/bin","A=1"],
            "user":{"uid":5,"gid":6,"additionalGids":[7],"umask":63},
            "capabilities":{"bounding":["CAP_CHOWN"],"effective":["CAP_CHOWN"],"permitted":["CAP_CHOWN"],"inheritable":["CAP_CHOWN"]}}}"#;
        let buf = json.as_bytes().to_vec();
        let n = buf.len();
        crate::spec::ConfigDoc::parse(buf, n, |i, a| crate::spec::parse_config(i, a)).unwrap()
    }

    fn strings(a: &proc::CArray) -> Vec<String> {
        a.strings().iter().map(|c| c.to_str().unwrap().to_string()).collect()
    }

    /// The command line's overrides over the container's process, as runc applies them.
    #[test]
    fn the_command_line_overrides_the_process() {
        let doc = config();
        let args = ["ls".to_string(), "-l".to_string()];
        let env = ["A=2".to_string(), "B=3".to_string()];
        let caps = ["CAP_NET_ADMIN".to_string()];
        let o = ExecOpts {
            id: "c",
            args: &args,
            env: &env,
            user: Some("10:20"),
            caps: &caps,
            ..Default::default()
        };
        let p = make_plan(doc.config(), &o, None).unwrap().proc;
        assert_eq!(strings(&p.args), ["ls", "-l"]);
        assert_eq!(strings(&p.env), ["PATH=/bin", "A=2", "B=3"]);
        assert_eq!((p.uid, p.gid, p.groups.as_slice()), (10, 20, &[7][..]));
        assert_eq!(p.cwd.as_deref(), Some("/srv"));
        assert_eq!(p.umask, 63);
        let c = p.caps.unwrap();
        let net_admin = 1 << caps::by_name("CAP_NET_ADMIN").unwrap();
        assert!(c.bounding & c.effective & c.permitted & net_admin != 0);
        // The process has inheritable capabilities: an added one is also ambient.
        assert!(c.ambient & net_admin != 0);
        assert!(p.dies_with_parent && !p.terminal);
    }

    #[test]
    fn bad_overrides_are_refused() {
        let doc = config();
        let args = ["ls".to_string()];
        let base = ExecOpts {
            id: "c",
            args: &args,
            ..Default::default()
        };
        let err = |o: &ExecOpts<'_>| format!("{}", make_plan(doc.config(), o, None).err().unwrap());
        assert!(err(&ExecOpts {
            user: Some("root"),
            ..base
        })
        .contains("use UID or UID:GID"));
        assert!(err(&ExecOpts {
            cwd: Some("relative"),
            ..base
        })
        .contains("must be an absolute path"));
        let bad_env = ["NOEQUALS".to_string()];
        assert!(err(&ExecOpts { env: &bad_env, ..base }).contains("use KEY=VALUE"));
        let bad_cap = ["CAP_NOPE".to_string()];
        assert!(err(&ExecOpts { caps: &bad_cap, ..base }).contains("is not a capability"));
        assert!(err(&ExecOpts { args: &[], ..base }).contains("no command"));
        assert!(err(&ExecOpts {
            tty: true,
            detach: true,
            ..base
        })
        .contains("needs --console-socket"));
    }
}
