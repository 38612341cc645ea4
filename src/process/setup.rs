//! The setup a process goes through between mote's fork and the exec of its program, shared by
//! the container's init (`process::init`, `process::stage1`) and by `mote exec`'s child
//! (`container::exec`): one named step each, in the order the kernel needs them.
//!
//! ```text
//! begin            close every inherited fd but those kept (CVE-2024-21626), not dumpable
//!                  (CVE-2019-5736), die with the parent while being set up
//!   ... the caller's own steps: the init makes its namespaces, hostname, sysctls and rootfs;
//!       an exec'd process joins the init's namespaces; both may get a terminal ...
//! become_process   1. rlimits, I/O priority, scheduler          (process.rlimits, ...)
//!                  2. personality                                (the init only)
//!                  3. cwd, checked to be inside the container
//!                  4. seccomp, when it must come before the capabilities go
//!                  5. groups, uid/gid, the capability sets
//!                  6. umask, no_new_privs
//!                  7. the program looked up on the container's PATH
//!                  8. every fd but stdio and the preserved ones close-on-exec
//!                  9. READY to the parent; wait for the go (the exec fifo, or IN_CGROUP)
//!                 10. signals reset, the caller's chosen fds installed
//!                 11. seccomp, when no_new_privs lets it come last
//!                 12. exec
//! ```
//! A failure up to step 9 goes to the parent as ERROR (it undoes what it made); after it, the
//! parent has gone on, and the process says why on its stderr and exits 1 (as runc does).

use crate::prelude::*;

use super::sync::{self, Tag};
use crate::error::{Error, Kind, Result, Step};
use crate::security::caps;
use crate::security::seccomp::Program;
use crate::spec::{Config, Process};
use crate::sys::kernel::{Kernel, Live};
use crate::sys::{self, fs, proc};
use alloc::ffi::CString;
use rustix::fd::{AsRawFd, OwnedFd};

/// The process to become, worked out by the parent before it forks: the container's process
/// for the init, process.json or the command line's for `exec`.
pub struct ProcessPlan<'p> {
    /// The config whose pools hold `process`'s lists.
    pub cfg: &'p Config<'p>,
    pub process: &'p Process<'p>,
    pub args: proc::CArray,
    pub env: proc::CArray,
    /// The working directory (none: stay where the setup left us, the container's `/`).
    pub cwd: Option<String>,
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    pub caps: Option<CapMasks>,
    pub no_new_privs: bool,
    pub umask: u32,
    /// linux.personality (the init only).
    pub personality: Option<libc::c_ulong>,
    pub seccomp: Option<&'p Program>,
    /// The caller's chosen fds (fd i is `fds[i]`); empty: stdio and `preserve_fds` more.
    pub fds: &'p [i32],
    pub preserve_fds: u32,
    /// The process has a terminal (its stdio then; only `fds` from 3 up are installed).
    pub terminal: bool,
    /// PR_SET_PDEATHSIG was set in `begin` and is cleared before READY.
    pub dies_with_parent: bool,
}

impl<'p> ProcessPlan<'p> {
    /// The container's process as config.json gives it, with `env` (KEY=VALUE) over its
    /// environment.
    pub fn for_init(
        cfg: &'p Config<'p>,
        p: &'p Process<'p>,
        env: &[&str],
        seccomp: Option<&'p Program>,
        fds: &'p [i32],
        preserve_fds: u32,
    ) -> Result<Self> {
        let args = cfg.strs(p.args);
        if args.is_empty() {
            return Err(crate::spec::validate::at(
                format_args!("process.args"),
                format_args!("must name the program to run"),
            ));
        }
        let env = merge_env(cfg.strs(p.env).iter().map(|e| e.0), env);
        let cstr = |s: &str| CString::new(s).ok();
        Ok(ProcessPlan {
            cfg,
            process: p,
            args: proc::CArray::new(args.iter().filter_map(|a| cstr(a)).collect()),
            env: proc::CArray::new(env.iter().filter_map(|e| cstr(e)).collect()),
            cwd: (!p.cwd.is_empty()).then(|| p.cwd.to_string()),
            uid: p.user.uid,
            gid: p.user.gid,
            groups: p.user.additional_gids.to_vec(),
            caps: p.capabilities.as_ref().map(|c| CapMasks::of(cfg, c)),
            no_new_privs: p.no_new_privileges,
            umask: p.user.umask.unwrap_or(0o022),
            personality: cfg
                .spec
                .linux
                .as_ref()
                .and_then(|l| l.personality.as_ref())
                .map(|pers| if pers.domain.0 == "LINUX32" { 0x0008 } else { 0 }),
            seccomp,
            fds,
            preserve_fds,
            terminal: p.terminal,
            dies_with_parent: false,
        })
    }
}

/// Where a seccomp listener's fd goes (linux.seccomp.listenerPath, connected by the parent or
/// by stage 1) and the message that goes with it.
pub struct Listener {
    pub conn: OwnedFd,
    pub message: String,
}

/// The first steps after the fork: only stdio, the preserved fds, `keep` (the sync socket and
/// what the caller opened for the setup) and the caller's chosen fds stay open; not dumpable
/// until exec; with `dies_with_parent`, killed if the parent dies while it sets us up.
pub fn begin(plan: &ProcessPlan<'_>, keep: &[i32]) -> Result<()> {
    // mote's state directories are host directories, and an open one could become the
    // container's cwd through /proc/self/fd (CVE-2024-21626).
    let mut k: heapless::Vec<u32, 16> = heapless::Vec::new();
    for &fd in keep.iter().chain(plan.fds) {
        k.push(fd as u32)
            .map_err(|_| Error::failed("close inherited fds").ctx(format_args!("too many fds to keep")))?;
    }
    close_inherited(3 + plan.preserve_fds, &k)?;
    // No other process (a container process in a shared or joined pid namespace) may open
    // /proc/PID/exe, mem or fd of a process still running mote (CVE-2019-5736). exec resets it
    // for the container's program.
    sys::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0).step("prctl(PR_SET_DUMPABLE)")?;
    if plan.dies_with_parent {
        sys::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0, 0, 0).step("prctl(PR_SET_PDEATHSIG)")?;
    }
    Ok(())
}

/// What `become_process` needs that was read before the process left the host's /proc.
pub struct HostView {
    /// The highest capability this kernel knows.
    pub last_cap: u32,
    /// The signals mote ignores (they must not stay ignored in the program).
    pub ignored_signals: u64,
}

impl HostView {
    pub fn read() -> HostView {
        HostView {
            last_cap: caps::last_cap(),
            ignored_signals: proc::ignored_signals(),
        }
    }
}

/// Steps 1 to 12 (see the module's table). `wait` is step 9's wait for the go-ahead (the exec
/// fifo and the startContainer hooks for the init; IN_CGROUP for an exec'd process).
pub fn become_process(
    plan: &ProcessPlan<'_>,
    sock: &OwnedFd,
    host: &HostView,
    listener: Option<Listener>,
    wait: impl FnOnce() -> Result<()>,
) -> Result<core::convert::Infallible> {
    let p = plan.process;
    // 1. Limits.
    apply_process_limits(plan.cfg, p)?;
    // 2. Personality.
    if let Some(v) = plan.personality {
        sys::personality(v).step_ctx("personality", format_args!("{v:#x}"))?;
    }
    // 3. The working directory, which must be inside the container.
    let cwd = plan.cwd.as_deref().unwrap_or("");
    if let Some(c) = &plan.cwd {
        let mut b = sys::CBuf::uninit();
        let cs = b.set(c).map_err(|e| Error::sys("chdir", e))?;
        sys::chdir(cs).step_ctx("chdir to the process's cwd", format_args!("{c}"))?;
    }
    check_cwd_inside(cwd)?;
    // HOME, when the environment has none: the user's from the container's /etc/passwd, else
    // "/" (as runc; read while we may still read any file of the container).
    let with_home = home_env(&plan.env, plan.uid);
    let env = with_home.as_ref().unwrap_or(&plan.env);
    // 4. Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: before the capabilities
    //    go (as runc). With it, last (step 11).
    let mut listener = listener;
    if let (Some(prog), false) = (plan.seccomp, plan.no_new_privs) {
        load_seccomp(prog, listener.as_ref())?;
    }
    // 5. Credentials; first the stdio the process gets is made its user's, as runc does, so
    //    that a non-root user can use its console and pipes.
    fix_stdio_owner(plan.uid);
    apply_user_and_caps(&Live, plan.uid, plan.gid, &plan.groups, plan.caps, host.last_cap, sock)?;
    // 6. umask, no_new_privs.
    sys::umask(plan.umask);
    if plan.no_new_privs {
        sys::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0).step("prctl(PR_SET_NO_NEW_PRIVS)")?;
    }
    // 7. The program, looked up now so that a missing one fails before READY.
    let arg0 = plan.args.strings().first().and_then(|a| a.to_str().ok()).unwrap_or("");
    let path = find_executable(arg0, env.strings().iter().filter_map(|e| e.to_str().ok()))?;
    let c_path = CString::new(path.as_bytes())
        .map_err(|_| Error::input("exec").ctx(format_args!("{path:?} holds a NUL byte")))?;
    // 8. Only stdio and the preserved (or chosen) fds reach the program.
    let first = 3 + plan.preserve_fds;
    sys::cloexec_from(first)
        .or_else(|e| {
            if e == libc::ENOSYS || e == libc::EINVAL {
                mark_cloexec_slow(first)
            } else {
                Err(e)
            }
        })
        .step("close_range(CLOSE_RANGE_CLOEXEC)")?;
    // 9. Ready; from here on the parent does not wait for us (or is gone).
    if plan.dies_with_parent {
        sys::prctl(libc::PR_SET_PDEATHSIG, 0, 0, 0, 0).step("prctl(PR_SET_PDEATHSIG)")?;
    }
    sync::send(sock, Tag::Ready, 0)?;
    let after_ready = |r: Result<()>| {
        if let Err(e) = r {
            let msg = format!("mote: {e}\n");
            let _ = fs::write_all(2, msg.as_bytes());
            proc::exit_now(1);
        }
    };
    after_ready(wait());
    // 10. Signals as a new program expects them; the caller's fds (the listener's connection,
    //     still needed, moved out of their way).
    proc::reset_signals(host.ignored_signals);
    if let Some(l) = listener.take() {
        match install_fds(plan.fds, plan.terminal, Some(l.conn)) {
            Ok(conn) => {
                listener = conn.map(|conn| Listener {
                    conn,
                    message: l.message,
                })
            }
            Err(e) => after_ready(Err(e)),
        }
    } else {
        after_ready(install_fds(plan.fds, plan.terminal, None).map(drop));
    }
    // 11. The filter, last.
    if let (Some(prog), true) = (plan.seccomp, plan.no_new_privs) {
        after_ready(load_seccomp(prog, listener.as_ref()));
    }
    drop(listener);
    // 12.
    exec_or_exit(&c_path, &path, &plan.args, env)
}

/// `env` with HOME added when it has none: the home directory of `uid` in /etc/passwd (of the
/// root we are in), or "/". None when HOME is set already.
fn home_env(env: &proc::CArray, uid: u32) -> Option<proc::CArray> {
    if env.strings().iter().any(|e| e.to_bytes().starts_with(b"HOME=")) {
        return None;
    }
    let passwd = fs::open("/etc/passwd", libc::O_RDONLY | libc::O_CLOEXEC, 0)
        .and_then(|f| fs::read_fd_to_end(f.as_raw_fd(), 1 << 20))
        .unwrap_or_default();
    let home = home_of(&passwd, uid).unwrap_or(b"/");
    let mut v: Vec<CString> = env.strings().to_vec();
    let mut h = b"HOME=".to_vec();
    h.extend_from_slice(home);
    v.push(CString::new(h).ok()?);
    Some(proc::CArray::new(v))
}

/// The home directory field of `uid`'s line in a passwd file (name:x:uid:gid:gecos:home:shell).
fn home_of(passwd: &[u8], uid: u32) -> Option<&[u8]> {
    passwd.split(|b| *b == b'\n').find_map(|l| {
        let mut f = l.split(|b| *b == b':');
        let _name = f.next()?;
        let _pw = f.next()?;
        let u: u32 = core::str::from_utf8(f.next()?).ok()?.parse().ok()?;
        let home = f.nth(2)?;
        (u == uid && !home.is_empty()).then_some(home)
    })
}

/// Load the filter; with a listener, send it the filter's fd and the container process state
/// (runtime-spec "Seccomp notify").
fn load_seccomp(prog: &Program, listener: Option<&Listener>) -> Result<()> {
    let fd = crate::security::seccomp::install(prog)?;
    let (Some(fd), Some(l)) = (fd, listener) else {
        return Ok(());
    };
    sys::send_fd(l.conn.as_raw_fd(), l.message.as_bytes(), fd.as_raw_fd()).step("send the seccomp listener fd")
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

/// stdin, stdout and stderr owned by `uid` (their group kept) unless they are /dev/null or
/// already its; an fd whose owner or group the user namespace does not map (EINVAL, EPERM)
/// or on a read-only mount is left as it is (as runc).
fn fix_stdio_owner(uid: u32) {
    // /dev/null's device number, looked up only when an fd is another's character device
    // (usually none: root's fds are root's).
    let mut null: Option<Option<libc::dev_t>> = None;
    for fd in 0..3 {
        let Ok(st) = fs::fstat(fd) else { continue };
        if st.st_uid == uid {
            continue;
        }
        if st.st_mode & libc::S_IFMT == libc::S_IFCHR {
            let n = *null.get_or_insert_with(|| fs::fstatat(libc::AT_FDCWD, "/dev/null", 0).ok().map(|s| s.st_rdev));
            if Some(st.st_rdev) == n {
                continue;
            }
        }
        let _ = fs::fchown(fd, uid, st.st_gid);
    }
}

/// [`set_user_and_caps`] from plain values (also used by `exec`).
pub fn apply_user_and_caps<K: Kernel>(
    k: &K,
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
                k.prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0).step_ctx(
                    "drop capability from the bounding set",
                    format_args!("{}", caps::NAMES.get(cap as usize).unwrap_or(&"?")),
                )?;
            }
        }
        k.prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0)
            .step("prctl(PR_SET_KEEPCAPS)")?;
    }
    k.setgroups(groups).step("setgroups")?;
    k.setresgid(gid, gid, gid)
        .step_ctx("setresgid", format_args!("{gid}"))?;
    k.setresuid(uid, uid, uid)
        .step_ctx("setresuid", format_args!("{uid}"))?;
    if let Some(c) = masks {
        k.prctl(libc::PR_SET_KEEPCAPS, 0, 0, 0, 0)
            .step("prctl(PR_SET_KEEPCAPS)")?;
        let sets = sys::CapSets {
            effective: c.effective,
            permitted: c.permitted,
            inheritable: c.inheritable,
        };
        k.capset(sets).step("capset")?;
        k.prctl(
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
            if let Err(e) = k.prctl(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::kernel::recorder::Recorder;

    /// The credentials step in the order the kernel needs: the bounding set first (it needs
    /// CAP_SETPCAP), the ids with KEEPCAPS so the permitted set survives them, then the sets,
    /// then ambient (cleared, then raised).
    #[test]
    fn credentials_in_the_kernels_order() {
        let rec = Recorder::new("/nonexistent");
        let (a, _b) = sys::seqpacket_pair().unwrap();
        let bit = |c: &str| 1u64 << caps::by_name(c).unwrap();
        let keep = bit("CAP_CHOWN") | bit("CAP_NET_BIND_SERVICE");
        let masks = CapMasks {
            bounding: keep,
            effective: keep,
            permitted: keep,
            inheritable: bit("CAP_NET_BIND_SERVICE"),
            ambient: bit("CAP_NET_BIND_SERVICE"),
        };
        apply_user_and_caps(&rec, 1000, 100, &[5, 6], Some(masks), 3, &a).unwrap();
        assert_eq!(
            rec.lines(),
            [
                // Capabilities 0..=3 but CAP_CHOWN (0): 1, 2, 3 dropped.
                "prctl CAPBSET_DROP 1 0",
                "prctl CAPBSET_DROP 2 0",
                "prctl CAPBSET_DROP 3 0",
                "prctl SET_KEEPCAPS 1 0",
                "setgroups [5, 6]",
                "setresgid 100 100 100",
                "setresuid 1000 1000 1000",
                "prctl SET_KEEPCAPS 0 0",
                "capset eff 0x401 perm 0x401 inh 0x400",
                "prctl CAP_AMBIENT 4 0",
                "prctl CAP_AMBIENT 2 10",
            ]
        );
        // Without capabilities in the config: ids only.
        let rec = Recorder::new("/nonexistent");
        apply_user_and_caps(&rec, 0, 0, &[], None, 40, &a).unwrap();
        assert_eq!(rec.lines(), ["setgroups []", "setresgid 0 0 0", "setresuid 0 0 0"]);
    }

    #[test]
    fn home_comes_from_the_users_passwd_line() {
        let pw = b"root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/data:/bin/sh\nnohome:x:7:7:::/bin/sh\n";
        assert_eq!(home_of(pw, 0), Some(&b"/root"[..]));
        assert_eq!(home_of(pw, 1000), Some(&b"/data"[..]));
        assert_eq!(home_of(pw, 7), None);
        assert_eq!(home_of(pw, 42), None);
        assert_eq!(home_of(b"garbage", 0), None);
    }

    #[test]
    fn environment_entries_replace_by_key() {
        let env = ["PATH=/bin", "HOME=/root", "A=1", "NOTIFY_SOCKET=/old"];
        let out = merge_env(env.iter().copied(), &["A=2", "NOTIFY_SOCKET=/run/notify.sock", "NEW=x"]);
        assert_eq!(
            out,
            [
                "PATH=/bin",
                "HOME=/root",
                "A=2",
                "NOTIFY_SOCKET=/run/notify.sock",
                "NEW=x"
            ]
        );
        assert_eq!(merge_env(env.iter().copied(), &[]), env);
    }

    #[test]
    fn programs_are_found_as_execvp_finds_them() {
        let path = ["PATH=/nonexistent:/bin:/usr/bin"];
        assert_eq!(find_executable("sh", path.iter().copied()).unwrap(), "/bin/sh");
        // A later PATH wins, as execvp reads the environment it is given.
        let later = ["PATH=/nonexistent", "PATH=/usr/bin:/bin"];
        assert!(find_executable("sh", later.iter().copied()).unwrap().ends_with("/sh"));
        let e = find_executable("no-such-program", path.iter().copied()).unwrap_err();
        assert!(format!("{e}").contains("executable file not found in $PATH"), "{e}");
        let e = find_executable("/no/such/file", path.iter().copied()).unwrap_err();
        assert!(format!("{e}").contains("no such file or directory"), "{e}");
        let e = find_executable("/etc", path.iter().copied()).unwrap_err();
        assert!(format!("{e}").contains("permission denied"), "{e}");
    }

    /// The caller's fds land on 0, 1, 2...; a source numbered like a target is not lost.
    #[test]
    fn chosen_fds_are_installed_in_a_child() {
        // In a child: it rearranges its own fds.
        match proc::fork().unwrap() {
            proc::Fork::Child => {
                let (r, w) = sys::pipe().unwrap();
                // fds [w, r, w]: fd 0 becomes the write end, 1 the read end.
                let fds = [w.as_raw_fd(), r.as_raw_fd(), w.as_raw_fd()];
                let ok = sys::install_fds(&fds, 0).is_ok()
                    && fs::write_all(0, b"x").is_ok()
                    && fs::read(1, &mut [0u8; 1]).is_ok_and(|n| n == 1);
                proc::exit_now(if ok { 0 } else { 1 })
            }
            proc::Fork::Parent(pid) => {
                let (_, st) = proc::waitpid(pid, 0).unwrap();
                assert_eq!(proc::exit_code(st), 0);
            }
        }
    }
}
