//! Processes: fork, exec, wait, signals.

use super::{cvt, cvt_long, errno, owned, SysResult};
use core::ffi::{c_char, c_int};
use std::os::fd::{OwnedFd, RawFd};

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

/// Leave the process now, without running destructors or flushing (for forked children).
pub fn exit_now(code: c_int) -> ! {
    // SAFETY: _exit never returns and needs no invariant.
    unsafe { libc::_exit(code) }
}

/// execve(2). Only returns on failure, with the errno.
pub fn execve(path: *const c_char, argv: &[*const c_char], envp: &[*const c_char]) -> i32 {
    // SAFETY: the callers build `argv` and `envp` as null-terminated arrays of pointers to
    // NUL-terminated strings that live until the call (which replaces the process on success).
    unsafe { libc::execve(path, argv.as_ptr(), envp.as_ptr()) };
    errno()
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
/// themselves at exec; ignored ones would survive it (Rust's runtime ignores SIGPIPE, and the
/// caller may ignore others).
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

/// Ignore a signal (used for SIGPIPE-like cases in the runtime itself).
pub fn ignore_signal(sig: c_int) {
    // SAFETY: installing SIG_IGN is always valid.
    unsafe { libc::signal(sig, libc::SIG_IGN) };
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
