//! Processes: fork, exec, wait, signals.

use crate::prelude::*;

use super::{cvt, cvt_long, errno, owned, SysResult};
use core::ffi::{c_char, c_int};
use rustix::fd::{AsRawFd, OwnedFd, RawFd};

pub enum Fork {
    Parent(i32),
    Child,
}

/// fork(2). mote calls it only while single-threaded, so the child may use any function.
pub fn fork() -> SysResult<Fork> {
    // SAFETY: mote is single-threaded whenever it forks (the CLI and the supervisor fork from
    // their only thread), so the child starts with consistent allocator and libc state.
    let pid = cvt(unsafe { libc::fork() })?;
    Ok(if pid == 0 { Fork::Child } else { Fork::Parent(pid) })
}

/// clone3(2) with CLONE_INTO_CGROUP: a fork(2) whose child starts in the cgroup v2 directory
/// `cgroup` is open on, instead of being moved there afterwards (a move waits for an RCU grace
/// period: about 10 ms in the arm64 guest). Linux 5.7 or later; older kernels, QEMU user-mode
/// and seccomp filters that refuse clone3 fail it (ENOSYS, E2BIG, EINVAL, EPERM), and the caller
/// forks and moves the child instead. mote calls it only while single-threaded. Unlike musl's
/// fork, a raw clone3 leaves the child's cached thread id at its parent's: the child must not
/// call what reads it (raise, abort); mote's panic path does not (sys::alloc::panic).
pub fn fork_into_cgroup(cgroup: RawFd) -> SysResult<Fork> {
    // struct clone_args (linux/sched.h), up to `cgroup` (CLONE_ARGS_SIZE_VER2).
    #[repr(C)]
    #[derive(Default)]
    struct CloneArgs {
        flags: u64,
        pidfd: u64,
        child_tid: u64,
        parent_tid: u64,
        exit_signal: u64,
        stack: u64,
        stack_size: u64,
        tls: u64,
        set_tid: u64,
        set_tid_size: u64,
        cgroup: u64,
    }
    const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;
    let args = CloneArgs {
        flags: CLONE_INTO_CGROUP,
        exit_signal: libc::SIGCHLD as u64,
        cgroup: cgroup as u64,
        ..Default::default()
    };
    // SAFETY: args is a valid clone_args of the size given; without CLONE_VM the child runs on
    // a copy of our memory and stack, as after fork(2), and mote is single-threaded here.
    let pid = cvt_long(unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &args as *const CloneArgs,
            core::mem::size_of::<CloneArgs>(),
        )
    })?;
    Ok(if pid == 0 {
        Fork::Child
    } else {
        Fork::Parent(pid as i32)
    })
}

/// Leave the process now, without running destructors or flushing (for forked children).
pub fn exit_now(code: c_int) -> ! {
    // SAFETY: _exit never returns and needs no invariant.
    unsafe { libc::_exit(code) }
}

/// A NULL-terminated array of C strings for execve (argv or envp), owning the strings, so the
/// pointers stay valid as long as it lives. Built before a fork; nothing allocates after.
pub struct CArray {
    strings: Vec<alloc::ffi::CString>,
    ptrs: Vec<*const c_char>,
}

impl CArray {
    pub fn new(strings: Vec<alloc::ffi::CString>) -> Self {
        let mut ptrs: Vec<*const c_char> = strings.iter().map(|c| c.as_ptr()).collect();
        ptrs.push(core::ptr::null());
        CArray { strings, ptrs }
    }

    pub fn strings(&self) -> &[alloc::ffi::CString] {
        &self.strings
    }
}

/// execve(2). Only returns on failure, with the errno.
pub fn execve(path: &core::ffi::CStr, argv: &CArray, envp: &CArray) -> i32 {
    // SAFETY: `path` is NUL-terminated; a CArray's pointers are NULL-terminated and point into
    // the CStrings it owns, which live until the call (which replaces the process on success).
    unsafe { libc::execve(path.as_ptr(), argv.ptrs.as_ptr(), envp.ptrs.as_ptr()) };
    errno()
}

/// Run a program found on $PATH (execvp) with `args` (args[0] is the program), its standard
/// output captured; stdin and stderr are this process's. Returns the exit status (127: could
/// not execute) and the output. For short-lived host tools (ps).
pub fn run_capture(args: &[&str]) -> SysResult<(c_int, Vec<u8>)> {
    let cargs: Vec<alloc::ffi::CString> = args
        .iter()
        .map(|a| alloc::ffi::CString::new(*a))
        .collect::<Result<_, _>>()
        .map_err(|_| libc::EINVAL)?;
    let Some(prog) = cargs.first() else {
        return Err(libc::EINVAL);
    };
    let argv: Vec<*const c_char> = cargs
        .iter()
        .map(|c| c.as_ptr())
        .chain(core::iter::once(core::ptr::null()))
        .collect();
    let (r, w) = super::pipe()?;
    let pid = match fork()? {
        Fork::Child => {
            if super::dup2(w.as_raw_fd(), 1).is_ok() {
                // SAFETY: argv is a null-terminated array of C strings that outlive the call.
                unsafe { libc::execvp(prog.as_ptr(), argv.as_ptr()) };
            }
            exit_now(127)
        }
        Fork::Parent(pid) => pid,
    };
    drop(w);
    let out = super::fs::read_fd_to_end(r.as_raw_fd(), usize::MAX);
    let (_, status) = waitpid(pid, 0)?;
    Ok((exit_code(status), out?))
}

/// Is this process's binary safe from a container: a sealed memfd copy (see
/// [`reexec_sealed`]), or a file on a read-only mount ([`reexec_read_only`])?
pub fn running_sealed() -> bool {
    let mut buf = [0u8; 64];
    if matches!(super::fs::readlinkat(libc::AT_FDCWD, "/proc/self/exe", &mut buf), Ok(p) if p.starts_with("/memfd:mote"))
    {
        return true;
    }
    matches!(super::fs::statvfs_flags(c"/proc/self/exe"), Ok(f) if f & libc::ST_RDONLY as u64 != 0)
}

/// Execute this program again from a read-only bind mount of its own binary, in a private
/// mount namespace of this process: a container that gets hold of the file through
/// /proc/PID/exe gets it on a read-only mount, and writing fails with EROFS (CVE-2019-5736).
/// Cheaper than a copy (crun's approach). Returns only on failure.
pub fn reexec_read_only() -> SysResult<core::convert::Infallible> {
    let mut buf = [0u8; libc::PATH_MAX as usize];
    let exe = super::fs::readlinkat(libc::AT_FDCWD, "/proc/self/exe", &mut buf)?;
    if !exe.starts_with('/') {
        return Err(libc::ENOENT);
    }
    let mut exe_b = super::CBuf::uninit();
    let exe_c = exe_b.set(exe)?;
    let root = c"/";
    // The host's mount namespace, kept open across the exec (its number in REEXEC_MARK): the
    // hooks that run in the runtime's namespaces go back to it (see host_mount_ns).
    // Not close-on-exec (one syscall): the init and exec'd processes close it with the rest
    // of mote's fds, and a hook's child closes it after joining.
    // SAFETY: the path is a NUL-terminated literal.
    let raw = unsafe { libc::open(c"/proc/self/ns/mnt".as_ptr(), libc::O_RDONLY) };
    if raw < 0 {
        return Err(super::errno());
    }
    let host_ns = owned(raw);
    super::unshare(libc::CLONE_NEWNS)?;
    // Nothing done in this namespace may propagate back to the host's; what the host mounts
    // later still reaches it (and the containers made from it, as their rootfsPropagation
    // says): a supervisor lives for years, and a disk mounted after it started must be there
    // for a container's bind mount.
    super::mount(None, root, None, libc::MS_REC | libc::MS_SLAVE, None)?;
    super::mount_c(exe_c, exe_c, None, libc::MS_BIND, None)?;
    super::mount(
        None,
        exe_c,
        None,
        libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY,
        None,
    )?;
    let mark = format!("ns{}", rustix::fd::AsRawFd::as_raw_fd(&host_ns));
    exec_self(&mark, |argv, envp| {
        // SAFETY: the path is NUL-terminated; argv and envp are null-terminated arrays of
        // NUL-terminated strings that live until the call.
        unsafe { libc::execve(exe_c.as_ptr(), argv.as_ptr(), envp.as_ptr()) };
    })
}

/// In a mote re-executed by [`reexec_read_only`]: the fd of the host's mount namespace.
pub fn host_mount_ns() -> Option<c_int> {
    let v = super::env::var(REEXEC_MARK)?;
    let fd: c_int = v.strip_prefix("ns")?.parse().ok()?;
    (fd > 2).then_some(fd)
}

/// Set in the environment of a re-executed mote, so that it never re-executes again (under
/// QEMU user-mode /proc/self/exe is the emulator's, and the checks above cannot see a copy).
pub const REEXEC_MARK: &str = "MOTE_REEXECUTED";

/// Has this process been re-executed already?
pub fn reexecuted() -> bool {
    super::env::var_set(REEXEC_MARK)
}

/// Run `exec` with this process's argv and environment as C arrays (plus [`REEXEC_MARK`]);
/// returns the errno.
fn exec_self(
    mark: &str,
    exec: impl FnOnce(&[*const c_char], &[*const c_char]),
) -> SysResult<core::convert::Infallible> {
    let argv: Vec<*const c_char> = super::env::args()
        .map(|a| a.as_ptr())
        .chain(core::iter::once(core::ptr::null()))
        .collect();
    let entry = format!("{REEXEC_MARK}={mark}\0");
    let mut envp: Vec<*const c_char> = super::env::vars()
        .filter(|kv| !kv.to_bytes().starts_with(REEXEC_MARK.as_bytes()))
        .map(|kv| kv.as_ptr())
        .collect();
    envp.push(entry.as_ptr().cast());
    envp.push(core::ptr::null());
    exec(&argv, &envp);
    Err(super::errno())
}

/// Execute this program again from a sealed memfd copy of its binary, with the same argv and
/// environment. A container's process then never has a path to mote's file on the host:
/// `/proc/PID/exe` of mote (and an interpreter `#!/proc/self/exe` in the container) names the
/// sealed copy, which cannot be written (CVE-2019-5736). Returns only on failure.
pub fn reexec_sealed() -> SysResult<core::convert::Infallible> {
    const MFD_ALLOW_SEALING: u32 = 2;
    const F_SEAL_SEAL: c_int = 1;
    const F_SEAL_SHRINK: c_int = 2;
    const F_SEAL_GROW: c_int = 4;
    const F_SEAL_WRITE: c_int = 8;
    let src = super::fs::open("/proc/self/exe", libc::O_RDONLY, 0)?;
    let st = super::fs::fstat(rustix::fd::AsRawFd::as_raw_fd(&src))?;
    // Not close-on-exec: under a binfmt_misc interpreter (QEMU user-mode) the binary is
    // reopened through /dev/fd/N after exec.
    let mfd = super::fs::memfd_create(c"mote", MFD_ALLOW_SEALING)?;
    let (s, d) = (
        rustix::fd::AsRawFd::as_raw_fd(&src),
        rustix::fd::AsRawFd::as_raw_fd(&mfd),
    );
    let len = st.st_size as usize;
    // One copy: map the binary, write the mapping into the memfd.
    // SAFETY: a private read-only mapping of a file we opened, of its size; unmapped below.
    let map = unsafe { libc::mmap(core::ptr::null_mut(), len, libc::PROT_READ, libc::MAP_PRIVATE, s, 0) };
    if map == libc::MAP_FAILED {
        return Err(super::errno());
    }
    // SAFETY: the mapping is `len` readable bytes until munmap.
    let data = unsafe { core::slice::from_raw_parts(map as *const u8, len) };
    let w = super::fs::write_all(d, data);
    // SAFETY: unmapping the mapping made above, no longer used.
    unsafe { libc::munmap(map, len) };
    w?;
    // SAFETY: F_ADD_SEALS on our memfd with a valid seal mask.
    cvt(unsafe {
        libc::fcntl(
            d,
            libc::F_ADD_SEALS,
            F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE,
        )
    })?;
    let _ = super::set_cloexec(d, false);
    exec_self("1", |argv, envp| {
        // SAFETY: execveat with AT_EMPTY_PATH on the memfd; argv and envp are null-terminated
        // arrays of NUL-terminated strings that live until the call.
        unsafe {
            libc::syscall(
                libc::SYS_execveat,
                d,
                c"".as_ptr(),
                argv.as_ptr(),
                envp.as_ptr(),
                libc::AT_EMPTY_PATH,
            )
        };
    })
}

/// waitpid(2), retrying on EINTR. Returns (pid, raw status).
pub fn waitpid(pid: i32, flags: c_int) -> SysResult<(i32, c_int)> {
    let mut status: c_int = 0;
    loop {
        // SAFETY: `status` is a valid out pointer.
        let r = unsafe { libc::waitpid(pid, &mut status, flags) };
        if r >= 0 {
            return Ok((r, status));
        }
        let e = errno();
        if e != libc::EINTR {
            return Err(e);
        }
    }
}

/// The shell-style exit code of a wait status: the exit code, or 128+signal.
pub fn exit_code(status: c_int) -> c_int {
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else if libc::WIFSIGNALED(status) {
        128 + libc::WTERMSIG(status)
    } else {
        255
    }
}

/// setpgid(2): move process `pid` (0: this one) into process group `pgid` (0: its own).
pub fn setpgid(pid: i32, pgid: i32) -> SysResult<()> {
    // SAFETY: integer arguments only.
    cvt(unsafe { libc::setpgid(pid, pgid) }).map(drop)
}

pub fn kill(pid: i32, sig: c_int) -> SysResult<()> {
    // SAFETY: integer arguments only.
    cvt(unsafe { libc::kill(pid, sig) }).map(drop)
}

pub fn getpid() -> i32 {
    // SAFETY: getpid cannot fail.
    unsafe { libc::getpid() }
}

pub fn setsid() -> SysResult<()> {
    // SAFETY: no arguments.
    cvt(unsafe { libc::setsid() }).map(drop)
}

/// Make `fd` (a terminal) the controlling terminal of this session.
pub fn set_controlling_tty(fd: RawFd) -> SysResult<()> {
    // SAFETY: TIOCSCTTY takes an integer argument.
    cvt(unsafe { libc::ioctl(fd, libc::TIOCSCTTY as _, 0) }).map(drop)
}

pub fn pidfd_open(pid: i32) -> SysResult<OwnedFd> {
    // SAFETY: integer arguments only.
    let r = cvt_long(unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) })?;
    Ok(owned(r as c_int))
}

pub fn pidfd_send_signal(pidfd: RawFd, sig: c_int) -> SysResult<()> {
    // SAFETY: a null siginfo is allowed.
    cvt_long(unsafe { libc::syscall(libc::SYS_pidfd_send_signal, pidfd, sig, core::ptr::null::<u8>(), 0) }).map(drop)
}

/// A set of signals.
#[derive(Clone, Copy)]
pub struct SigSet(libc::sigset_t);

impl SigSet {
    pub fn empty() -> SigSet {
        // SAFETY: sigemptyset initializes the zeroed set.
        unsafe {
            let mut s: libc::sigset_t = core::mem::zeroed();
            libc::sigemptyset(&mut s);
            SigSet(s)
        }
    }
    pub fn full() -> SigSet {
        // SAFETY: sigfillset initializes the set.
        unsafe {
            let mut s: libc::sigset_t = core::mem::zeroed();
            libc::sigfillset(&mut s);
            SigSet(s)
        }
    }
    pub fn add(&mut self, sig: c_int) {
        // SAFETY: the set is initialized; an invalid signal number gives EINVAL, ignored.
        unsafe { libc::sigaddset(&mut self.0, sig) };
    }
    pub fn as_ptr(&self) -> *const libc::sigset_t {
        &self.0
    }
    pub fn remove(&mut self, sig: c_int) {
        // SAFETY: as above.
        unsafe { libc::sigdelset(&mut self.0, sig) };
    }
}

/// Set the blocked-signal mask; returns the previous one.
pub fn sigprocmask(how: c_int, set: &SigSet) -> SysResult<SigSet> {
    let mut old = SigSet::empty();
    // SAFETY: both sets are initialized sigset_t values.
    let r = unsafe { libc::sigprocmask(how, &set.0, &mut old.0) };
    if r != 0 {
        return Err(errno());
    }
    Ok(old)
}

/// Signals blocked for as long as the guard lives: the old mask comes back when it drops, on
/// every path (a library call must not leave its caller's signal mask changed).
pub struct BlockedSignals {
    old: SigSet,
}

/// Block the signals of `set` (adding them to the mask) until the returned guard drops.
pub fn block_signals(set: &SigSet) -> SysResult<BlockedSignals> {
    Ok(BlockedSignals {
        old: sigprocmask(libc::SIG_BLOCK, set)?,
    })
}

impl Drop for BlockedSignals {
    fn drop(&mut self) {
        let _ = sigprocmask(libc::SIG_SETMASK, &self.old);
    }
}

/// This process made a child subreaper for as long as the guard lives (orphaned descendants
/// come to it, not to PID 1); the previous setting comes back when it drops.
pub struct Subreaper {
    was: bool,
}

/// Become a child subreaper until the returned guard drops (nothing changes if it already is).
pub fn subreaper() -> SysResult<Subreaper> {
    let mut was: c_int = 0;
    // SAFETY: PR_GET_CHILD_SUBREAPER writes an int through the pointer, which is valid.
    // Not answered (QEMU user-mode does not emulate the query): set it, and leave it set when
    // the guard drops rather than clear what the caller may have set.
    let known = cvt(unsafe { libc::prctl(libc::PR_GET_CHILD_SUBREAPER, &mut was as *mut c_int) }).is_ok();
    if !known || was == 0 {
        super::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)?;
    }
    Ok(Subreaper {
        was: !known || was != 0,
    })
}

impl Drop for Subreaper {
    fn drop(&mut self) {
        if !self.was {
            let _ = super::prctl(libc::PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0);
        }
    }
}

/// Wait for one of the blocked signals in `set`; returns its number.
pub fn sigwait(set: &SigSet) -> SysResult<c_int> {
    loop {
        // SAFETY: `set` is initialized; the siginfo out pointer may be null.
        let r = unsafe { libc::sigwaitinfo(&set.0, core::ptr::null_mut()) };
        if r >= 0 {
            return Ok(r);
        }
        let e = errno();
        if e != libc::EINTR {
            return Err(e);
        }
    }
}

/// The signals this process ignores (SigIgn of /proc/self/status), as a bit mask (bit N-1
/// for signal N).
pub fn ignored_signals() -> u64 {
    let mut buf = [0u8; 2048];
    let Ok(n) = super::fs::read_path("/proc/self/status", &mut buf) else {
        // Without /proc, assume everything may be ignored.
        return u64::MAX;
    };
    core::str::from_utf8(&buf[..n])
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("SigIgn:")))
        .and_then(|h| u64::from_str_radix(h.trim(), 16).ok())
        .unwrap_or(u64::MAX)
}

/// Give the signals in `ignored` (a mask from [`ignored_signals`]) their default disposition
/// and unblock all signals: what a container process must start with. Handled signals reset
/// themselves at exec; ignored ones would survive it (mote ignores SIGPIPE, see
/// env::init_process, and the caller may ignore others).
pub fn reset_signals(ignored: u64) {
    for sig in 1..=64 {
        if ignored & (1u64 << (sig - 1)) == 0 || sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: installing SIG_DFL is always valid; numbers libc reserves give EINVAL,
        // which is ignored.
        unsafe { libc::signal(sig, libc::SIG_DFL) };
    }
    let _ = sigprocmask(libc::SIG_SETMASK, &SigSet::empty());
}

/// The state letter (R, S, Z...) and the kernel's start time (field 22, in clock ticks) of a
/// process, from one read of /proc/PID/stat. The start time tells a container's init from a
/// later process that reused its pid.
pub fn stat(pid: i32) -> SysResult<(u8, u64)> {
    let mut path: heapless::String<32> = heapless::String::new();
    let _ = core::fmt::write(&mut path, format_args!("/proc/{pid}/stat"));
    let mut buf = [0u8; 1024];
    let n = super::fs::read_path(&path, &mut buf)?;
    let s = core::str::from_utf8(&buf[..n]).map_err(|_| libc::EINVAL)?;
    // The command name (field 2) is in parentheses and may contain spaces: skip past the last ')'.
    let rest = &s[s.rfind(')').ok_or(libc::EINVAL)? + 1..];
    // Fields after ')' start at field 3 (state); start time is field 22.
    let mut f = rest.split_ascii_whitespace();
    let state = f.next().and_then(|v| v.bytes().next()).ok_or(libc::EINVAL)?;
    let start = f.nth(18).and_then(|v| v.parse().ok()).ok_or(libc::EINVAL)?;
    Ok((state, start))
}

/// The start time alone (see [`stat`]).
pub fn start_time(pid: i32) -> SysResult<u64> {
    stat(pid).map(|(_, t)| t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroup::{mode, Mode};

    /// A child forked by clone3 into a cgroup v2 directory starts there (on this host's v2
    /// hierarchy: /sys/fs/cgroup, or /sys/fs/cgroup/unified on a hybrid host).
    #[test]
    fn a_child_forked_into_a_cgroup_starts_there() {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            assert!(std::env::var_os("CI").is_none(), "CI runs the unit tests as root");
            eprintln!("SKIP: not root: making a cgroup needs root");
            return;
        }
        let v2 = match mode() {
            Some(Mode::V2) => "/sys/fs/cgroup",
            Some(Mode::Hybrid) => "/sys/fs/cgroup/unified",
            m => panic!("no cgroup v2 hierarchy here ({m:?})"),
        };
        let name = format!("mote-unit-clone3-{}", std::process::id());
        let dir = format!("{v2}/{name}");
        std::fs::create_dir(&dir).unwrap();
        let fd = crate::sys::fs::open(&dir, libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC, 0).unwrap();
        // The expected line of /proc/self/cgroup, built before forking: the child (of a
        // multi-threaded test process) makes only system calls.
        let want = format!("0::/{name}\n");
        let r = fork_into_cgroup(fd.as_raw_fd());
        if let Ok(Fork::Child) = r {
            let mut buf = [0u8; 4096];
            // SAFETY: a NUL-terminated path; buf is valid for its length.
            let n = unsafe {
                let f = libc::open(c"/proc/self/cgroup".as_ptr(), libc::O_RDONLY);
                libc::read(f, buf.as_mut_ptr().cast(), buf.len())
            };
            let seen = &buf[..n.max(0) as usize];
            let ok = seen.windows(want.len()).any(|w| w == want.as_bytes());
            exit_now(if ok { 0 } else { 1 })
        }
        let outcome = match r {
            Ok(Fork::Parent(pid)) => waitpid(pid, 0).map(|(_, st)| exit_code(st)),
            Ok(Fork::Child) => unreachable!(),
            Err(e) => Err(e),
        };
        std::fs::remove_dir(&dir).unwrap();
        match outcome {
            Ok(code) => assert_eq!(code, 0, "the child did not start in {dir}"),
            Err(e) if std::env::var_os("MOTE_TEST_QEMU_USER").is_some() => {
                eprintln!("SKIP under QEMU user-mode: clone3 failed ({e:?}); create falls back to fork")
            }
            Err(e) => panic!("clone3 into {dir}: {e:?}"),
        }
    }
}
